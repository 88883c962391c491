/* Bounds-checked writer: appends wire encodings into a fixed buffer or a
 * bounded heap buffer. Every failure is sticky and writes nothing. */
#include "core/writer.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void sx_writer_init_fixed(sx_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->len = 0;
    w->cap = buf ? cap : 0;
    w->limit = w->cap;
    w->growable = false;
    w->err = SX_OK;
}

void sx_writer_init_dynamic(sx_writer *w, size_t limit)
{
    w->buf = NULL;
    w->len = 0;
    w->cap = 0;
    w->limit = limit;
    w->growable = true;
    w->err = SX_OK;
}

void sx_writer_cleanup(sx_writer *w)
{
    if (w->growable && w->buf) {
        sodium_memzero(w->buf, w->cap);
        free(w->buf);
    }
    w->buf = NULL;
    w->len = w->cap = 0;
}

uint8_t *sx_writer_take(sx_writer *w, size_t *len)
{
    if (!w->growable || w->err != SX_OK) {
        *len = 0;
        return NULL;
    }
    uint8_t *p = w->buf;
    *len = w->len;
    if (!p) /* nothing written yet: hand out a valid empty allocation */
        p = malloc(1);
    w->buf = NULL;
    w->len = w->cap = 0;
    return p;
}

sx_status sx_writer_status(const sx_writer *w)
{
    return w->err;
}

bool sx_writer_fail(sx_writer *w, sx_status st)
{
    if (w->err == SX_OK)
        w->err = st == SX_OK ? SX_E_INTERNAL : st;
    return false;
}

/* Makes room for n more bytes; false (and a sticky error) if impossible. */
static bool room(sx_writer *w, size_t n)
{
    if (w->err != SX_OK)
        return false;
    if (w->cap - w->len >= n)
        return true;
    if (!w->growable || w->limit - w->len < n)
        return sx_writer_fail(w, SX_E_LIMIT);
    size_t want = w->len + n;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < want)
        cap = cap > w->limit / 2 ? w->limit : cap * 2;
    if (cap > w->limit)
        cap = w->limit;
    /* Not realloc: the old buffer may hold secrets and must be wiped. */
    uint8_t *nb = malloc(cap);
    if (!nb)
        return sx_writer_fail(w, SX_E_NOMEM);
    if (w->buf) {
        memcpy(nb, w->buf, w->len);
        sodium_memzero(w->buf, w->cap);
        free(w->buf);
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

bool sx_writer_presize(sx_writer *w, size_t n) { return room(w, n); }

uint8_t *sx_write_reserve(sx_writer *w, size_t n)
{
    if (!room(w, n))
        return NULL;
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

bool sx_write_bytes(sx_writer *w, const void *p, size_t n)
{
    uint8_t *dst = sx_write_reserve(w, n);
    if (!dst)
        return false;
    if (n)
        memcpy(dst, p, n);
    return true;
}

bool sx_write_slice(sx_writer *w, sx_slice s)
{
    return sx_write_bytes(w, s.ptr, s.len);
}

bool sx_write_str(sx_writer *w, const char *s)
{
    return sx_write_bytes(w, s, strlen(s));
}

bool sx_write_u8(sx_writer *w, uint8_t v)
{
    return sx_write_bytes(w, &v, 1);
}

bool sx_write_u16(sx_writer *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return sx_write_bytes(w, b, 2);
}

bool sx_write_u32(sx_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return sx_write_bytes(w, b, 4);
}

bool sx_write_i64(sx_writer *w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    uint8_t b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)u;
        u >>= 8;
    }
    return sx_write_bytes(w, b, 8);
}

bool sx_write_short(sx_writer *w, sx_slice s)
{
    if (s.len > 255)
        return sx_writer_fail(w, SX_E_LIMIT);
    return room(w, 1 + s.len) && sx_write_u8(w, (uint8_t)s.len) && sx_write_slice(w, s);
}

bool sx_write_large(sx_writer *w, sx_slice s)
{
    if (s.len > 65535)
        return sx_writer_fail(w, SX_E_LIMIT);
    return room(w, 2 + s.len) && sx_write_u16(w, (uint16_t)s.len) && sx_write_slice(w, s);
}

bool sx_write_maybe(sx_writer *w, bool present)
{
    return sx_write_u8(w, present ? '1' : '0');
}

bool sx_write_bool(sx_writer *w, bool v)
{
    return sx_write_u8(w, v ? 'T' : 'F');
}

bool sx_write_list_count(sx_writer *w, size_t count)
{
    if (count > 255)
        return sx_writer_fail(w, SX_E_LIMIT);
    return sx_write_u8(w, (uint8_t)count);
}

bool sx_write_nonempty_count(sx_writer *w, size_t count)
{
    if (count == 0)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_list_count(w, count);
}

bool sx_write_version(sx_writer *w, uint16_t v)
{
    return sx_write_u16(w, v);
}

bool sx_write_version_range(sx_writer *w, sx_version_range vr)
{
    if (vr.min > vr.max)
        return sx_writer_fail(w, SX_E_USAGE);
    return room(w, 4) && sx_write_u16(w, vr.min) && sx_write_u16(w, vr.max);
}

bool sx_write_system_time(sx_writer *w, int64_t seconds)
{
    return sx_write_i64(w, seconds);
}
