/* The per-thread error detail behind sx_error_message() and sx_error_code()
 * (include/simplex/status.h). Public calls clear it when they start and set
 * it when they fail; internal code may set it where it knows the cause best
 * (the last setter before the public call returns wins). */
#ifndef SX_CORE_ERROR_H
#define SX_CORE_ERROR_H

#include "simplex/status.h"

#define SX_ERROR_MSG_MAX 512
#define SX_ERROR_CODE_MAX 48

/* Records st with a message (printf format; NULL: none) and the peer's
 * error code (NULL or "": local failure). Returns st, so that a failure
 * path can read `return sx_error_set(SX_E_IO, NULL, "cannot open %s", p);`. */
sx_status sx_error_set(sx_status st, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records st without a message unless one was set for it already since the
 * last clear (keeps the detail an inner call gave). Returns st. */
sx_status sx_error_keep(sx_status st);
/* Forgets the last error: called at the start of each public call. */
void sx_error_clear(void);

#endif
