/* INI files as the reference's routers read and write them (PROTOCOL-NOTES
 * H7, H8): `[SECTION]` headers, `key: value` or `key = value` entries, `#`
 * and `;` comment lines. Values are trimmed; a key outside any section, or a
 * line that is none of these, is an error naming the line. */
#ifndef SX_CORE_INI_H
#define SX_CORE_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

typedef struct sx_ini sx_ini;

/* Parses text (len bytes, need not be NUL-terminated). On a syntax error
 * returns SX_E_PROTOCOL and writes a message naming the line into err. */
SX_MUST_CHECK sx_status sx_ini_parse(const char *text, size_t len, sx_ini **out, char *err, size_t errlen);
/* Reads and parses a file; SX_E_IO when it cannot be read. */
SX_MUST_CHECK sx_status sx_ini_load(const char *path, sx_ini **out, char *err, size_t errlen);
void sx_ini_free(sx_ini *ini);

/* The value of key in section, or NULL when absent. The last entry wins when
 * a key repeats. The string lives as long as the ini. */
const char *sx_ini_get(const sx_ini *ini, const char *section, const char *key);

/* Typed getters: absent keys give the default (and SX_OK); a present value
 * that does not parse is SX_E_PROTOCOL with a message naming section and key.
 * Booleans are exactly "on" / "off" (PROTOCOL-NOTES H8). */
SX_MUST_CHECK sx_status sx_ini_bool(const sx_ini *ini, const char *section, const char *key, bool dflt,
                                    bool *out, char *err, size_t errlen);
SX_MUST_CHECK sx_status sx_ini_int(const sx_ini *ini, const char *section, const char *key, int64_t min,
                                   int64_t max, int64_t dflt, int64_t *out, char *err, size_t errlen);

#endif
