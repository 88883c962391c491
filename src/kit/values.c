/* Router kit: checks and printed forms of shared INI values (see
 * values.h). */
#include "kit/values.h"

#include <stdio.h>
#include <string.h>

bool sx_kit_has_control_char(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

bool sx_kit_password_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SX_KIT_PASSWORD_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '@' || c == ':' || c == '/')
            return false;
    }
    return true;
}

static bool is_ascii_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool sx_kit_country_valid(const char *s)
{
    return strlen(s) == 2 && is_ascii_alpha(s[0]) && is_ascii_alpha(s[1]);
}

bool sx_kit_hosting_type_valid(const char *s)
{
    return strcmp(s, "virtual") == 0 || strcmp(s, "dedicated") == 0 ||
           strcmp(s, "colocation") == 0 || strcmp(s, "owned") == 0;
}

void sx_kit_show_ttl(int64_t s, char *out, size_t cap)
{
    /* Floor division as Haskell's divMod. */
    int64_t ms = s / 60 - (s % 60 < 0), s1 = s - ms * 60;
    int64_t hs = ms / 60 - (ms % 60 < 0), ms1 = ms - hs * 60;
    int64_t ds = hs / 24 - (hs % 24 < 0), hs1 = hs - ds * 24;
    if (s1 != 0)
        snprintf(out, cap, "%lld seconds", (long long)s);
    else if (ms1 != 0)
        snprintf(out, cap, "%lld minutes", (long long)ms);
    else if (hs1 != 0)
        snprintf(out, cap, "%lld hours", (long long)hs);
    else
        snprintf(out, cap, "%lld days", (long long)ds);
}
