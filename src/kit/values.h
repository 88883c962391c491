/* Router kit: INI values every router reads or prints alike: the bounds of
 * text values, BasicAuth passwords, countries and hosting types of
 * [INFORMATION], and the reference's way of printing a duration. */
#ifndef SX_KIT_VALUES_H
#define SX_KIT_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SX_KIT_PASSWORD_MAX 255 /* BasicAuth travels as a short string */
#define SX_KIT_HOST_MAX 512     /* [TRANSPORT] host, printed only */
#define SX_KIT_TEXT_MAX 1024    /* URIs and other free text values */

/* The reference's showTTL: the largest whole unit, "N seconds" / "N minutes"
 * / "N hours" / "N days" (floor division as Haskell's divMod). */
void sx_kit_show_ttl(int64_t s, char *out, size_t cap);
/* A BasicAuth password: 1..255 printable ASCII characters other than space,
 * '@', ':' and '/'. */
bool sx_kit_password_valid(const char *s);
/* Whether s (NULL: no) holds a control character or DEL: INI values that
 * init writes must not (a newline would start another line). */
bool sx_kit_has_control_char(const char *s);
/* Two ASCII letters (an ISO 3166 code, either case). */
bool sx_kit_country_valid(const char *s);
/* `virtual`, `dedicated`, `colocation` or `owned`. */
bool sx_kit_hosting_type_valid(const char *s);

#endif
