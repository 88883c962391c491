/* Names of status codes. */
#include "simplex/status.h"

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
