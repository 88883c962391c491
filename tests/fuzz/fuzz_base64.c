/* Fuzz target: base64 decoding of arbitrary text in every variant, and the
 * encode/decode round trip of whatever decodes. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "core/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[4096];
    static char text[8192];
    if (size > 4096)
        return 0;
    for (int v = SX_B64_URL; v <= SX_B64_STD; v++) {
        size_t n;
        if (sx_b64_decode((const char *)data, size, (sx_b64_variant)v, out, sizeof out, &n) != SX_OK)
            continue;
        if (sx_b64_encode(sx_slice_of(out, n), (sx_b64_variant)v, text, sizeof text) != SX_OK)
            __builtin_trap();
        uint8_t again[4096];
        size_t m;
        if (sx_b64_decode(text, strlen(text), (sx_b64_variant)v, again, sizeof again, &m) != SX_OK ||
            m != n || memcmp(again, out, n) != 0)
            __builtin_trap();
    }
    return 0;
}
