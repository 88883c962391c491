/* Status codes shared by every layer of the project.
 * A fallible function returns sx_status and is declared SX_MUST_CHECK, so the
 * compiler refuses a caller that ignores the result. */
#ifndef SIMPLEX_STATUS_H
#define SIMPLEX_STATUS_H

#define SX_MUST_CHECK __attribute__((warn_unused_result))

typedef enum sx_status {
    SX_OK = 0,
    SX_E_IO,          /* operating system I/O failure */
    SX_E_CLOSED,      /* peer closed the connection */
    SX_E_WOULD_BLOCK, /* non-blocking operation must be retried later */
    SX_E_PROTOCOL,    /* malformed or unexpected bytes from a peer */
    SX_E_AUTH,        /* signature, MAC, certificate or identity check failed */
    SX_E_LIMIT,       /* a length or count is over a protocol or buffer limit */
    SX_E_NOMEM,       /* allocation failed */
    SX_E_INTERNAL,    /* library failure or broken invariant */
    SX_E_USAGE,       /* caller passed invalid arguments */
} sx_status;

/* Short constant name of a status, for logs and test messages. */
const char *sx_status_str(sx_status st);

/* Guard macros: evaluate once, return early on failure. */
#define SX_TRY(expr)                        \
    do {                                    \
        sx_status sx_try_st_ = (expr);      \
        if (sx_try_st_ != SX_OK)            \
            return sx_try_st_;              \
    } while (0)

#define SX_ENSURE(cond, st)                 \
    do {                                    \
        if (!(cond))                        \
            return (st);                    \
    } while (0)

#endif
