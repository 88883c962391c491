/* Names and messages of status codes, and the per-thread error detail of the
 * public API. */
#include "simplex/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

const char *sx_status_str(sx_status st)
{
    switch (st) {
    case SX_OK: return "OK";
    case SX_E_IO: return "IO";
    case SX_E_CLOSED: return "CLOSED";
    case SX_E_WOULD_BLOCK: return "WOULD_BLOCK";
    case SX_E_PROTOCOL: return "PROTOCOL";
    case SX_E_AUTH: return "AUTH";
    case SX_E_LIMIT: return "LIMIT";
    case SX_E_NOMEM: return "NOMEM";
    case SX_E_INTERNAL: return "INTERNAL";
    case SX_E_USAGE: return "USAGE";
    default: return "UNKNOWN";
    }
}

const char *sx_strerror(sx_status st)
{
    switch (st) {
    case SX_OK: return "success";
    case SX_E_IO: return "input/output or network failure, or a timeout";
    case SX_E_CLOSED: return "the connection was closed by the peer";
    case SX_E_WOULD_BLOCK: return "the operation would block; try again later";
    case SX_E_PROTOCOL: return "malformed or unexpected data from the peer";
    case SX_E_AUTH: return "authentication failed or was refused";
    case SX_E_LIMIT: return "a size, count or quota limit was exceeded";
    case SX_E_NOMEM: return "out of memory";
    case SX_E_INTERNAL: return "internal library failure";
    case SX_E_USAGE: return "invalid arguments";
    default: return "unknown status";
    }
}

static _Thread_local struct {
    sx_status st;
    char code[SX_ERROR_CODE_MAX];
    char msg[SX_ERROR_MSG_MAX];
} last;

sx_status sx_error_set(sx_status st, const char *code, const char *fmt, ...)
{
    last.st = st;
    snprintf(last.code, sizeof last.code, "%s", code ? code : "");
    last.msg[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(last.msg, sizeof last.msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

sx_status sx_error_keep(sx_status st)
{
    if (last.st == SX_OK || last.msg[0] == '\0')
        last.st = st;
    return st;
}

void sx_error_clear(void)
{
    last.st = SX_OK;
    last.code[0] = '\0';
    last.msg[0] = '\0';
}

const char *sx_error_message(void)
{
    if (last.msg[0])
        return last.msg;
    return last.st == SX_OK ? "" : sx_strerror(last.st);
}

const char *sx_error_code(void)
{
    return last.code;
}
