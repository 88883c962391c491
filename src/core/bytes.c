/* Borrowed byte ranges. */
#include "core/bytes.h"

#include <string.h>

sx_slice sx_slice_str(const char *s)
{
    return sx_slice_of(s, strlen(s));
}

bool sx_slice_eq(sx_slice a, sx_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool sx_str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

int sx_hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t sx_url_decode(sx_slice s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < s.len) {
            int hi = sx_hex_digit(s.ptr[i + 1]), lo = sx_hex_digit(s.ptr[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (uint8_t)(hi * 16 + lo);
                i += 2;
            }
        }
        if (n == cap)
            return (size_t)-1;
        out[n++] = c;
    }
    return n;
}
