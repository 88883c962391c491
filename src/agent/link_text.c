/* Query strings, version ranges and base64url fields of the agent's links. */
#include "agent/link_text.h"

#include <string.h>

sx_status sx_query_parse(sx_slice text, sx_query *q)
{
    memset(q, 0, sizeof *q);
    sx_reader r;
    sx_reader_init_slice(&r, text);
    (void)sx_read_accept(&r, "?");
    while (sx_reader_remaining(&r) > 0) {
        sx_slice pair, key, value = sx_slice_of(NULL, 0);
        if (!sx_read_until(&r, "&;", &pair))
            return SX_E_PROTOCOL;
        if (sx_reader_remaining(&r) > 0)
            (void)sx_read_bytes(&r, 1, &key); /* the separator */
        if (q->count == SX_QUERY_PARAMS_MAX)
            return SX_E_LIMIT;
        sx_reader pr;
        sx_reader_init_slice(&pr, pair);
        if (!sx_read_until(&pr, "=", &key))
            return SX_E_PROTOCOL;
        if (sx_read_accept(&pr, "=") && !sx_read_tail(&pr, &value))
            return SX_E_PROTOCOL;
        q->key[q->count] = key;
        q->value[q->count] = value;
        q->count++;
    }
    return SX_OK;
}

bool sx_query_get(const sx_query *q, const char *name, uint8_t *buf, size_t cap, sx_slice *value,
                  sx_status *st)
{
    if (st)
        *st = SX_OK;
    *value = sx_slice_of(NULL, 0);
    size_t name_len = strlen(name);
    for (size_t i = 0; i < q->count; i++) {
        uint8_t kbuf[64];
        if (q->key[i].len > sizeof kbuf)
            continue;
        size_t kn = sx_url_decode(q->key[i], kbuf, sizeof kbuf);
        if (kn != name_len || memcmp(kbuf, name, kn) != 0)
            continue;
        size_t vn = sx_url_decode(q->value[i], buf, cap);
        if (vn == (size_t)-1) {
            if (st)
                *st = SX_E_LIMIT;
            return false;
        }
        *value = sx_slice_of(buf, vn);
        return true;
    }
    return false;
}

static bool unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

bool sx_write_url_escaped(sx_writer *w, sx_slice s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (unreserved(c)) {
            if (!sx_write_u8(w, c))
                return false;
        } else {
            uint8_t e[3] = {'%', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
            if (!sx_write_bytes(w, e, 3))
                return false;
        }
    }
    return true;
}

static bool write_dec(sx_writer *w, unsigned v)
{
    char d[8];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        if (!sx_write_u8(w, (uint8_t)d[--n]))
            return false;
    return true;
}

bool sx_write_vrange_text(sx_writer *w, sx_version_range vr)
{
    if (vr.min > vr.max)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!write_dec(w, vr.min))
        return false;
    if (vr.min == vr.max)
        return true;
    return sx_write_u8(w, '-') && write_dec(w, vr.max);
}

bool sx_vrange_from_text(sx_slice s, sx_version_range *out)
{
    sx_reader r;
    sx_reader_init_slice(&r, s);
    uint32_t a = 0, b = 0;
    if (!sx_read_decimal(&r, 65535, &a))
        return false;
    b = a;
    if (sx_read_accept(&r, "-") && !sx_read_decimal(&r, 65535, &b))
        return false;
    if (sx_reader_finish(&r) != SX_OK || a > b)
        return false;
    out->min = (uint16_t)a;
    out->max = (uint16_t)b;
    return true;
}

bool sx_write_b64(sx_writer *w, sx_slice in, sx_b64_variant v)
{
    size_t n = sx_b64_encoded_size(in.len, v);
    char stack[2048];
    char *buf = stack;
    uint8_t *dst;
    if (n > sizeof stack)
        return sx_writer_fail(w, SX_E_LIMIT);
    if (sx_b64_encode(in, v, buf, n) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    dst = sx_write_reserve(w, n - 1);
    if (dst == NULL)
        return false;
    memcpy(dst, buf, n - 1);
    return true;
}

static bool b64url_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool sx_read_b64url_text(sx_reader *r, sx_slice *text)
{
    sx_slice rest = sx_reader_rest(r);
    size_t n = 0;
    while (n < rest.len && b64url_char(rest.ptr[n]))
        n++;
    if (n == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    while (n < rest.len && rest.ptr[n] == '=')
        n++;
    return sx_read_bytes(r, n, text);
}

sx_status sx_b64url_decode_slice(sx_slice text, uint8_t *out, size_t cap, size_t *out_len)
{
    if (text.len == 0)
        return SX_E_PROTOCOL;
    return sx_b64_decode((const char *)text.ptr, text.len, SX_B64_URL, out, cap, out_len);
}
