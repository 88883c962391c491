/* The little JSON that XRCP carries (PROTOCOL-NOTES X: the invitation's app
 * value, the HELLO objects): a strict syntax check (RFC 8259, one value,
 * whitespace around it allowed, nesting depth bounded) and the raw text of a
 * top-level member of an object. No values are converted here. */
#ifndef SX_XRCP_JSON_H
#define SX_XRCP_JSON_H
#include "core/bytes.h"

#define SX_XRCP_JSON_DEPTH 64

/* True when text is exactly one JSON value. */
bool sx_xrcp_json_valid(sx_slice text);

/* True when text is exactly one JSON value and that value is an object. */
bool sx_xrcp_json_is_object(sx_slice text);

/* For text holding one JSON object: the first member whose name is key
 * (compared with the name as written, escapes not expanded). *value is the
 * member's value as written, without surrounding whitespace. False when text
 * is not a valid object or has no such member. */
bool sx_xrcp_json_member(sx_slice text, const char *key, sx_slice *value);

/* For a JSON string value as written ("..."): its contents when they hold
 * no escapes (the base64url texts of the HELLO objects never do). False
 * otherwise. */
bool sx_xrcp_json_plain_string(sx_slice value, sx_slice *contents);

#endif
