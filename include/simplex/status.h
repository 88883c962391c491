/* Status codes shared by every layer of the project, and the error detail
 * of the public API.
 *
 * A fallible function returns sx_status and is declared SX_MUST_CHECK, so the
 * compiler refuses a caller that ignores the result. The status is a class a
 * program can branch on; what exactly went wrong (a router's error, a file
 * that could not be written, a fingerprint that did not match) is kept per
 * thread by the library's public calls: sx_error_message() and
 * sx_error_code() after a call that failed. */
#ifndef SIMPLEX_STATUS_H
#define SIMPLEX_STATUS_H

#include <stddef.h>

#define SX_MUST_CHECK __attribute__((warn_unused_result))

/* Marks a function of the public API: the library is built with hidden
 * visibility, so only these are exported from libsimplex.so. */
#define SX_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sx_status {
    SX_OK = 0,
    SX_E_IO,          /* operating system I/O failure, network failure or timeout */
    SX_E_CLOSED,      /* peer closed the connection */
    SX_E_WOULD_BLOCK, /* non-blocking operation must be retried later */
    SX_E_PROTOCOL,    /* malformed or unexpected bytes from a peer */
    SX_E_AUTH,        /* signature, MAC, certificate or identity check failed; refused by a router */
    SX_E_LIMIT,       /* a length or count is over a protocol or buffer limit; quota */
    SX_E_NOMEM,       /* allocation failed */
    SX_E_INTERNAL,    /* library failure or broken invariant */
    SX_E_USAGE,       /* caller passed invalid arguments */
} sx_status;

/* Short constant name of a status ("AUTH"), for logs and test messages. */
SX_API const char *sx_status_str(sx_status st);

/* A sentence for a status class ("authentication failed or refused"). */
SX_API const char *sx_strerror(sx_status st);

/* What the last failed public call of this thread said about its failure:
 * a sentence naming the cause ("the router refused the command: AUTH ..."),
 * or sx_strerror() of its status when it had nothing more to say; "" when
 * no public call of this thread has failed since the last success. The
 * string stays valid until the next public call on this thread. */
SX_API const char *sx_error_message(void);

/* The peer's error behind the last failure of this thread, as the protocol
 * names it ("AUTH", "QUOTA", "CMD SYNTAX", "NO_MSG", "DIGEST"), or "" when
 * the failure was local (a file, a timeout, bad arguments). */
SX_API const char *sx_error_code(void);

/* What a router's error means for the person who got it: one table for
 * the SMP and XFTP tools and for the library's error messages. The step
 * matters, as one code means different things: AUTH to a queue creation
 * is a missing password, to a download a file that was received already. */
typedef enum sx_error_step {
    SX_STEP_ANY = 0,     /* no step known: the entries that hold for every step */
    SX_STEP_SMP_CREATE,  /* creating an SMP queue */
    SX_STEP_SMP,         /* any other SMP command */
    SX_STEP_XFTP_SEND,   /* creating a file on an XFTP router, uploading its chunks */
    SX_STEP_XFTP_RECV,   /* downloading or acknowledging a file's chunks */
    SX_STEP_XFTP_DELETE, /* deleting a file's chunks */
} sx_error_step;

typedef struct sx_error_hint {
    const char *code;  /* the protocol's name: "QUOTA"; "CMD" stands for every "CMD ..." */
    const char *cause; /* what happened: "the queue is full" */
    const char *next;  /* what to do next, or "" when there is nothing to say */
} sx_error_hint;

/* The table's entry for a router's error `code` ("AUTH", "CMD SYNTAX") met
 * in `step`, or NULL when the table has none. The entry is static. */
SX_API const sx_error_hint *sx_error_hint_find(sx_error_step step, const char *code);

/* The entry as one sentence, "cause (CODE): next step", written into out
 * (cap bytes, always terminated) and returned; for a code the table does
 * not know, "the router answered CODE". */
SX_API const char *sx_error_explain(sx_error_step step, const char *code, char *out, size_t cap);

/* Guard macros: evaluate once, return early on failure. */
#define SX_TRY(expr)                   \
    do {                               \
        sx_status sx_try_st_ = (expr); \
        if (sx_try_st_ != SX_OK)       \
            return sx_try_st_;         \
    } while (0)

#define SX_ENSURE(cond, st) \
    do {                    \
        if (!(cond))        \
            return (st);    \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
