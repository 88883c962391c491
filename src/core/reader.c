/* Bounds-checked reader over untrusted bytes. Every length check is written
 * as `remaining < n` so that no addition can overflow, and every failure is
 * sticky: the first error is kept and all later reads fail. */
#include "core/reader.h"

#include <string.h>

void sx_reader_init(sx_reader *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = buf ? len : 0;
    r->off = 0;
    r->err = SX_OK;
}

size_t sx_reader_remaining(const sx_reader *r)
{
    return r->err == SX_OK ? r->len - r->off : 0;
}

bool sx_reader_fail(sx_reader *r, sx_status st)
{
    if (r->err == SX_OK)
        r->err = st == SX_OK ? SX_E_PROTOCOL : st;
    return false;
}

sx_status sx_reader_finish(const sx_reader *r)
{
    if (r->err != SX_OK)
        return r->err;
    return r->off == r->len ? SX_OK : SX_E_PROTOCOL;
}

sx_status sx_reader_status(const sx_reader *r)
{
    return r->err;
}

/* Returns a pointer to the next n bytes and consumes them, or NULL. */
static const uint8_t *take(sx_reader *r, size_t n)
{
    if (r->err != SX_OK)
        return NULL;
    if (r->len - r->off < n) {
        sx_reader_fail(r, SX_E_PROTOCOL);
        return NULL;
    }
    const uint8_t *p = r->buf + r->off;
    r->off += n;
    return p;
}

bool sx_read_u8(sx_reader *r, uint8_t *out)
{
    const uint8_t *p = take(r, 1);
    *out = p ? p[0] : 0;
    return p != NULL;
}

bool sx_read_u16(sx_reader *r, uint16_t *out)
{
    const uint8_t *p = take(r, 2);
    *out = p ? (uint16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
    return p != NULL;
}

bool sx_read_u32(sx_reader *r, uint32_t *out)
{
    const uint8_t *p = take(r, 4);
    *out = p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
    return p != NULL;
}

bool sx_read_i64(sx_reader *r, int64_t *out)
{
    const uint8_t *p = take(r, 8);
    uint64_t v = 0;
    if (p)
        for (int i = 0; i < 8; i++)
            v = v << 8 | p[i];
    *out = (int64_t)v; /* two's complement, as the reference */
    return p != NULL;
}

bool sx_read_bytes(sx_reader *r, size_t n, sx_slice *out)
{
    const uint8_t *p = take(r, n);
    *out = p ? sx_slice_of(p, n) : sx_slice_of(NULL, 0);
    return p != NULL;
}

bool sx_read_copy(sx_reader *r, void *dst, size_t n)
{
    const uint8_t *p = take(r, n);
    if (!p) {
        if (n)
            memset(dst, 0, n);
        return false;
    }
    if (n)
        memcpy(dst, p, n);
    return true;
}

bool sx_read_short(sx_reader *r, sx_slice *out)
{
    uint8_t n;
    if (!sx_read_u8(r, &n)) {
        *out = sx_slice_of(NULL, 0);
        return false;
    }
    return sx_read_bytes(r, n, out);
}

bool sx_read_short_len(sx_reader *r, size_t min, size_t max, sx_slice *out)
{
    if (!sx_read_short(r, out))
        return false;
    if (out->len < min || out->len > max) {
        *out = sx_slice_of(NULL, 0);
        return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return true;
}

bool sx_read_large(sx_reader *r, sx_slice *out)
{
    uint16_t n;
    if (!sx_read_u16(r, &n)) {
        *out = sx_slice_of(NULL, 0);
        return false;
    }
    return sx_read_bytes(r, n, out);
}

bool sx_read_tail(sx_reader *r, sx_slice *out)
{
    return sx_read_bytes(r, sx_reader_remaining(r), out);
}

bool sx_read_maybe(sx_reader *r, bool *present)
{
    uint8_t c;
    *present = false;
    if (!sx_read_u8(r, &c))
        return false;
    if (c == '0')
        return true;
    if (c == '1') {
        *present = true;
        return true;
    }
    return sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_read_bool(sx_reader *r, bool *out)
{
    uint8_t c;
    *out = false;
    if (!sx_read_u8(r, &c))
        return false;
    if (c == 'T') {
        *out = true;
        return true;
    }
    if (c == 'F')
        return true;
    return sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_read_char(sx_reader *r, char *out)
{
    uint8_t c;
    bool ok = sx_read_u8(r, &c);
    *out = (char)c;
    return ok;
}

bool sx_read_list_count(sx_reader *r, uint8_t *count)
{
    return sx_read_u8(r, count);
}

bool sx_read_nonempty_count(sx_reader *r, uint8_t *count)
{
    if (!sx_read_u8(r, count))
        return false;
    if (*count == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
}

bool sx_read_version(sx_reader *r, uint16_t *out)
{
    return sx_read_u16(r, out);
}

bool sx_read_version_range(sx_reader *r, sx_version_range *out)
{
    out->min = out->max = 0;
    uint16_t lo, hi;
    if (!sx_read_u16(r, &lo) || !sx_read_u16(r, &hi))
        return false;
    if (lo > hi)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    out->min = lo;
    out->max = hi;
    return true;
}

bool sx_read_system_time(sx_reader *r, int64_t *seconds)
{
    return sx_read_i64(r, seconds);
}

bool sx_read_expect(sx_reader *r, sx_slice lit)
{
    if (r->err != SX_OK)
        return false;
    if (r->len - r->off < lit.len || (lit.len && memcmp(r->buf + r->off, lit.ptr, lit.len) != 0))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    r->off += lit.len;
    return true;
}

bool sx_read_expect_str(sx_reader *r, const char *lit)
{
    return sx_read_expect(r, sx_slice_str(lit));
}

bool sx_read_word(sx_reader *r, sx_slice *out)
{
    *out = sx_slice_of(NULL, 0);
    if (r->err != SX_OK)
        return false;
    size_t n = 0;
    while (n < r->len - r->off && r->buf[r->off + n] != ' ')
        n++;
    return sx_read_bytes(r, n, out);
}

sx_slice sx_reader_rest(const sx_reader *r)
{
    if (r->err != SX_OK || r->buf == NULL)
        return sx_slice_of(NULL, 0);
    return sx_slice_of(r->buf + r->off, r->len - r->off);
}

bool sx_read_accept(sx_reader *r, const char *lit)
{
    size_t n = strlen(lit);
    if (r->err != SX_OK || r->len - r->off < n || (n && memcmp(r->buf + r->off, lit, n) != 0))
        return false;
    r->off += n;
    return true;
}

bool sx_read_until(sx_reader *r, const char *stops, sx_slice *out)
{
    *out = sx_slice_of(NULL, 0);
    if (r->err != SX_OK)
        return false;
    size_t n = 0;
    while (n < r->len - r->off && (r->buf[r->off + n] == 0 || !strchr(stops, r->buf[r->off + n])))
        n++;
    return sx_read_bytes(r, n, out);
}

bool sx_read_decimal(sx_reader *r, uint32_t max, uint32_t *out)
{
    *out = 0;
    if (r->err != SX_OK)
        return false;
    size_t n = 0;
    uint32_t v = 0;
    while (n < r->len - r->off && r->buf[r->off + n] >= '0' && r->buf[r->off + n] <= '9') {
        uint32_t d = (uint32_t)(r->buf[r->off + n] - '0');
        if (d > max || v > (max - d) / 10)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        v = v * 10 + d;
        n++;
    }
    if (n == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    r->off += n;
    *out = v;
    return true;
}
