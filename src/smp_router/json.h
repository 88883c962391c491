/* The JSON subset the SMP store log needs: only to find where the JSON
 * notice of a BlockingInfo ends (PROTOCOL-NOTES E25); values are recognised
 * by the RFC 8259 grammar, never decoded. Internal to src/router. */
#ifndef SX_ROUTER_JSON_H
#define SX_ROUTER_JSON_H

#include <stdbool.h>

#include "core/reader.h"

/* Consumes one JSON value (leading whitespace allowed, nesting up to 32
 * levels). Reader style: false with the reader failed (SX_E_PROTOCOL, or
 * SX_E_LIMIT when nested too deeply). */
bool sx_json_value(sx_reader *r);
/* Consumes JSON whitespace. */
void sx_json_ws(sx_reader *r);

#endif
