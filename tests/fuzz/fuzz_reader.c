/* Fuzz target: the reader primitives in sequences driven by the input, and
 * the padding decoders. Nothing may read out of bounds or crash. */
#include <stdint.h>
#include <stddef.h>

#include "core/pad.h"
#include "core/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_slice s;
    /* Results are not needed: only the absence of faults is checked. */
    if (sx_unpad(sx_slice_of(data, size), &s) == SX_OK && s.len > size)
        __builtin_trap();
    if (sx_unpad_lazy(sx_slice_of(data, size), &s) == SX_OK && s.len > size)
        __builtin_trap();

    /* The first byte chooses the read sequence; the rest is the input. */
    if (size == 0)
        return 0;
    uint8_t prog = data[0];
    sx_reader r;
    sx_reader_init(&r, data + 1, size - 1);
    for (int step = 0; step < 64 && sx_reader_ok(&r); step++) {
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        int64_t i64;
        bool b;
        char c;
        sx_version_range vr;
        switch ((prog + step * 7) % 14) {
        case 0: sx_read_u8(&r, &u8); break;
        case 1: sx_read_u16(&r, &u16); break;
        case 2: sx_read_u32(&r, &u32); break;
        case 3: sx_read_i64(&r, &i64); break;
        case 4: sx_read_short(&r, &s); break;
        case 5: sx_read_large(&r, &s); break;
        case 6: if (sx_read_maybe(&r, &b) && b) sx_read_short(&r, &s); break;
        case 7: sx_read_bool(&r, &b); break;
        case 8: sx_read_char(&r, &c); break;
        case 9: if (sx_read_nonempty_count(&r, &u8)) for (int i = 0; i < u8; i++) sx_read_large(&r, &s); break;
        case 10: sx_read_version_range(&r, &vr); break;
        case 11: sx_read_word(&r, &s); sx_read_expect_str(&r, " "); break;
        case 12: sx_read_short_len(&r, 24, 24, &s); break;
        default: sx_read_tail(&r, &s); break;
        }
        /* Every slice must lie inside the input. */
        if (s.len && (s.ptr < data + 1 || s.ptr + s.len > data + size))
            __builtin_trap();
    }
    if (sx_reader_finish(&r) == SX_OK && sx_reader_remaining(&r) != 0)
        __builtin_trap();
    return 0;
}
