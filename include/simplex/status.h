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
