/* Borrowed byte ranges. A slice never owns its memory: it points into a
 * buffer that the caller keeps alive (usually the block being decoded). */
#ifndef SX_CORE_BYTES_H
#define SX_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct sx_slice {
    const uint8_t *ptr;
    size_t len;
} sx_slice;

static inline sx_slice sx_slice_of(const void *ptr, size_t len)
{
    sx_slice s = {(const uint8_t *)ptr, len};
    return s;
}

/* Slice of a NUL-terminated literal, without the NUL. */
sx_slice sx_slice_str(const char *s);

/* True when both slices hold the same bytes. Not constant time: use
 * sx_ct_equal (crypto/util.h) for secrets. */
bool sx_slice_eq(sx_slice a, sx_slice b);

/* Copies the string src into dst (cap bytes, the NUL included); false,
 * dst untouched, when it does not fit. */
bool sx_str_copy(char *dst, size_t cap, const char *src);

/* A 64-bit bit mixer (the finaliser of SplitMix64) for hash tables: every
 * input bit reaches every output bit, so nearby values do not share a probe
 * run. Not a cryptographic hash. */
static inline uint64_t sx_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The value of one hexadecimal digit (either case), -1 for any other byte. */
int sx_hex_digit(uint8_t c);

/* Percent-decoding as the reference's query strings use it: '+' is a
 * space, "%XX" with two hex digits is that byte, a '%' without them stays
 * as it is. cap >= s.len is always enough; returns the decoded length, or
 * (size_t)-1 when cap is too small. */
size_t sx_url_decode(sx_slice s, uint8_t *out, size_t cap);

#endif
