/* Base64 text forms, our own code without tables or branches on the bytes'
 * values (keys and secrets pass through it, e.g. a million of each when the
 * SMP router replays and compacts its store log). The output is libsodium's
 * sodium_bin2base64 byte for byte; the decoder accepts and refuses exactly
 * what libsodium's sodium_base642bin does after our strict alphabet check
 * (both libsodium paths are kept, as *_sodium, for the differential tests). Input padding is
 * optional (the reference decodes leniently); output follows the variant. */
#include "core/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

static int sodium_variant(sx_b64_variant v, bool padded)
{
    switch (v) {
    case SX_B64_URL:
    case SX_B64_URL_NOPAD:
        return padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    case SX_B64_STD:
    default:
        return padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    }
}

size_t sx_b64_encoded_size(size_t n, sx_b64_variant v)
{
    return sodium_base64_encoded_len(n, sodium_variant(v, v != SX_B64_URL_NOPAD));
}

/* The character of a 6-bit value, without a branch or a table: the offset
 * from v to its character is selected by masks of "v > 25", "v > 51", ...
 * computed in unsigned arithmetic (everything modulo 2^32; the result is a
 * byte). c62 and c63 are the variant's last two characters. */
static inline char value_char(unsigned v, unsigned c62, unsigned c63)
{
    unsigned m26 = 0u - ((25u - v) >> 31), m52 = 0u - ((51u - v) >> 31);
    unsigned m62 = 0u - ((61u - v) >> 31), m63 = 0u - ((62u - v) >> 31);
    unsigned c = v + 'A' + (m26 & 6u) - (m52 & 75u) + (m62 & (c62 - 58u)) + (m63 & (c63 - 63u - (c62 - 62u)));
    return (char)(c & 0xffu);
}

/* Eight 6-bit values at once, one in each byte of x, to their characters:
 * value_char's offsets, selected bytewise by masks and XOR (no carry
 * crosses a byte: every value is under 64 and every sum under 256), still
 * without a branch or a table. o62 and o63 are the offsets of the
 * variant's last two characters, mod 256. */
static inline uint64_t value_chars8(uint64_t x, uint64_t o62, uint64_t o63)
{
    const uint64_t one = 0x0101010101010101ull, high = one * 0x80u;
    /* 0xff in each byte whose value is at least k */
#define SX_B64_AT_LEAST(k) ((((x + one * (128u - (k))) & high) >> 7) * 0xffu)
    uint64_t m26 = SX_B64_AT_LEAST(26), m52 = SX_B64_AT_LEAST(52);
    uint64_t m62 = SX_B64_AT_LEAST(62), m63 = SX_B64_AT_LEAST(63);
#undef SX_B64_AT_LEAST
    uint64_t off = one * 65u ^ (m26 & one * (65u ^ 71u)) ^ (m52 & one * (71u ^ 252u)) ^ (m62 & one * (252u ^ o62)) ^
                   (m63 & one * (o62 ^ o63));
    return ((x & ~high) + (off & ~high)) ^ ((x ^ off) & high);
}

/* The four 6-bit values of a 3-byte group, first in the lowest byte. */
static inline uint64_t group_values(const uint8_t *p)
{
    uint64_t w = (uint64_t)p[0] << 16 | (uint64_t)p[1] << 8 | p[2];
    return (w >> 18) | (w >> 12 & 63u) << 8 | (w >> 6 & 63u) << 16 | (w & 63u) << 24;
}

size_t sx_b64_encode_text(sx_slice in, sx_b64_variant v, char *out)
{
    unsigned c62 = v == SX_B64_STD ? '+' : '-', c63 = v == SX_B64_STD ? '/' : '_';
    const uint8_t *p = in.ptr;
    size_t full = in.len / 3, rest = in.len % 3, o = 0, g = 0;
    uint64_t o62 = (c62 - 62u) & 0xffu, o63 = (c63 - 63u) & 0xffu;
    for (; g + 2 <= full; g += 2, p += 6) {
        uint64_t c = value_chars8(group_values(p) | group_values(p + 3) << 32, o62, o63);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(out + o, &c, 8); /* the first character in the lowest byte */
        o += 8;
#else
        for (int i = 0; i < 8; i++)
            out[o++] = (char)(c >> (8 * i) & 0xffu);
#endif
    }
    for (; g < full; g++, p += 3) {
        uint32_t w = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        out[o++] = value_char(w >> 18, c62, c63);
        out[o++] = value_char(w >> 12 & 63u, c62, c63);
        out[o++] = value_char(w >> 6 & 63u, c62, c63);
        out[o++] = value_char(w & 63u, c62, c63);
    }
    if (rest) {
        uint32_t w = (uint32_t)p[0] << 16 | (rest == 2 ? (uint32_t)p[1] << 8 : 0u);
        out[o++] = value_char(w >> 18, c62, c63);
        out[o++] = value_char(w >> 12 & 63u, c62, c63);
        if (rest == 2)
            out[o++] = value_char(w >> 6 & 63u, c62, c63);
        if (v != SX_B64_URL_NOPAD) {
            out[o++] = '=';
            if (rest == 1)
                out[o++] = '=';
        }
    }
    return o;
}

sx_status sx_b64_encode(sx_slice in, sx_b64_variant v, char *out, size_t cap)
{
    SX_ENSURE(out, SX_E_USAGE);
    /* Guard the size computation itself against overflow. */
    SX_ENSURE(in.len <= (SIZE_MAX / 4) * 3 - 3, SX_E_LIMIT);
    SX_ENSURE(cap >= sx_b64_encoded_size(in.len, v), SX_E_LIMIT);
    out[sx_b64_encode_text(in, v, out)] = 0;
    return SX_OK;
}

sx_status sx_b64_encode_sodium(sx_slice in, sx_b64_variant v, char *out, size_t cap)
{
    SX_ENSURE(out, SX_E_USAGE);
    SX_ENSURE(in.len <= (SIZE_MAX / 4) * 3 - 3, SX_E_LIMIT);
    SX_ENSURE(cap >= sx_b64_encoded_size(in.len, v), SX_E_LIMIT);
    sodium_bin2base64(out, cap, in.len ? in.ptr : (const unsigned char *)"", in.len,
                      sodium_variant(v, v != SX_B64_URL_NOPAD));
    return SX_OK;
}

/* Strips up to two '=' and checks the alphabet: the digits in *n. */
static sx_status digits_of(const char *text, size_t len, sx_b64_variant v, size_t *n_out)
{
    size_t n = len;
    while (n > 0 && len - n < 2 && text[n - 1] == '=')
        n--;
    SX_ENSURE(n > 0, SX_E_PROTOCOL);
    /* libsodium 1.0.18 decodes bytes >= 0x80 as digits: check the alphabet
     * here so that no stray byte is ever accepted. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        bool digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool extra = v == SX_B64_STD ? (c == '+' || c == '/') : (c == '-' || c == '_');
        SX_ENSURE(digit || extra, SX_E_PROTOCOL);
    }
    *n_out = n;
    return SX_OK;
}

/* All ones when lo <= c <= hi, else 0, without a branch. */
static inline unsigned in_range(unsigned c, unsigned lo, unsigned hi)
{
    return ((lo - 1u - c) & (c - hi - 1u)) >> 8 & 0xffu;
}

/* The 6-bit value of c; *bad gets nonzero bits when c is not a digit of the
 * alphabet. Every range is tested and the matching one selected by mask. */
static inline unsigned digit_value(unsigned c, unsigned c62, unsigned c63, unsigned *bad)
{
    unsigned up = in_range(c, 'A', 'Z'), lo = in_range(c, 'a', 'z'), dg = in_range(c, '0', '9');
    unsigned e62 = in_range(c, c62, c62), e63 = in_range(c, c63, c63);
    *bad |= ~(up | lo | dg | e62 | e63) & 0xffu;
    return ((up & (c - 'A')) | (lo & (c - 'a' + 26u)) | (dg & (c - '0' + 52u)) | (e62 & 62u) | (e63 & 63u)) & 63u;
}

/* Eight digits at once, one per byte of w (the first in the lowest byte):
 * the same masks as digit_value, byte by byte. A byte's "x >= k" is bit 7 of
 * (x | 0x80) - k, which never borrows from the next byte for x, k < 0x80;
 * bytes >= 0x80 are refused. The 6-bit values go to v. */
#define L8 0x0101010101010101ull
#define H8 0x8080808080808080ull
static inline uint64_t ge8(uint64_t x, unsigned k)
{
    return ((x | H8) - k * L8) & H8;
}
static inline uint64_t full8(uint64_t m)
{
    return (m >> 7) * 0xffu;
}
static inline uint64_t digits8(uint64_t w, unsigned c62, unsigned c63, uint64_t *bad)
{
    *bad |= w & H8;
    uint64_t x = w & ~H8;
    uint64_t up = ge8(x, 'A') & ~ge8(x, 'Z' + 1), lo = ge8(x, 'a') & ~ge8(x, 'z' + 1);
    uint64_t dg = ge8(x, '0') & ~ge8(x, '9' + 1);
    uint64_t e62 = ge8(x, c62) & ~ge8(x, c62 + 1), e63 = ge8(x, c63) & ~ge8(x, c63 + 1);
    *bad |= ~(up | lo | dg | e62 | e63) & H8;
    uint64_t sub_a = ((x | H8) - 'A' * L8) & ~H8, sub_l = ((x | H8) - ('a' - 26u) * L8) & ~H8;
    return (full8(up) & sub_a) | (full8(lo) & sub_l) | (full8(dg) & (x + 4u * L8)) | (full8(e62) & (62u * L8)) |
           (full8(e63) & (63u * L8));
}

sx_status sx_b64_decode(const char *text, size_t len, sx_b64_variant v, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    *out_len = 0;
    SX_ENSURE(text, SX_E_USAGE);
    size_t n = len;
    while (n > 0 && len - n < 2 && text[n - 1] == '=')
        n--;
    SX_ENSURE(n > 0, SX_E_PROTOCOL);
    /* n digits carry 6n bits: floor(6n / 8) bytes, the rest must be zero
     * bits, and one digit alone (6 bits) cannot end a group. */
    size_t full = n / 4, rest = n % 4;
    size_t need = full * 3 + (rest ? rest - 1 : 0);
    if (need > cap || rest == 1) {
        /* An error: a character outside the alphabet is reported first. */
        SX_TRY(digits_of(text, len, v, &n));
        return need > cap ? SX_E_LIMIT : SX_E_PROTOCOL;
    }
    unsigned c62 = v == SX_B64_STD ? '+' : '-', c63 = v == SX_B64_STD ? '/' : '_';
    const unsigned char *t = (const unsigned char *)text;
    unsigned bad = 0;
    size_t o = 0, g = 0;
    uint64_t bad8 = 0;
    for (; g + 2 <= full; g += 2, t += 8) {
        /* eight digits, the first in the lowest byte (one load on x86) */
        uint64_t w = 0;
        for (int b = 7; b >= 0; b--)
            w = w << 8 | t[b];
        uint64_t d = digits8(w, c62, c63, &bad8);
        for (int h = 0; h < 2; h++, d >>= 32) {
            uint32_t q = (uint32_t)((d & 63u) << 18 | (d >> 8 & 63u) << 12 | (d >> 16 & 63u) << 6 | (d >> 24 & 63u));
            out[o++] = (uint8_t)(q >> 16);
            out[o++] = (uint8_t)(q >> 8);
            out[o++] = (uint8_t)q;
        }
    }
    bad |= bad8 != 0;
    for (; g < full; g++, t += 4) {
        uint32_t w = digit_value(t[0], c62, c63, &bad) << 18 | digit_value(t[1], c62, c63, &bad) << 12 |
                     digit_value(t[2], c62, c63, &bad) << 6 | digit_value(t[3], c62, c63, &bad);
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    if (rest) {
        uint32_t w = 0;
        for (size_t i = 0; i < rest; i++)
            w = w << 6 | digit_value(t[i], c62, c63, &bad);
        /* rest 2: 12 bits, one byte and 4 zero bits; rest 3: 18 bits, two
         * bytes and 2 zero bits. */
        unsigned spare = rest == 2 ? 4u : 2u;
        bad |= w & ((1u << spare) - 1u);
        w >>= spare;
        if (rest == 3)
            out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    if (bad) {
        memset(out, 0, o); /* nothing of a refused text is left */
        return SX_E_PROTOCOL;
    }
    *out_len = o;
    return SX_OK;
}

sx_status sx_b64_decode_sodium(const char *text, size_t len, sx_b64_variant v, uint8_t *out,
                               size_t cap, size_t *out_len)
{
    *out_len = 0;
    SX_ENSURE(text, SX_E_USAGE);
    size_t n;
    SX_TRY(digits_of(text, len, v, &n));
    const char *end = NULL;
    size_t got = 0;
    uint8_t dummy;
    errno = 0;
    if (sodium_base642bin(cap ? out : &dummy, cap, text, n, NULL, &got, &end,
                          sodium_variant(v, false)) != 0)
        return errno == ERANGE ? SX_E_LIMIT : SX_E_PROTOCOL;
    SX_ENSURE(end == text + n, SX_E_PROTOCOL);
    *out_len = got;
    return SX_OK;
}
