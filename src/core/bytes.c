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
