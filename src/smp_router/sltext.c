/* The text grammar primitives of the SMP router's log files (see
 * sltext.h). */
#include "smp_router/sltext.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "smp_router/store.h"

/* base64urlP: one or more of the alphabet, then any '=' padding. */
bool sx_slt_b64_token(sx_reader *r, sx_slice *tok)
{
    sx_reader probe = *r;
    sx_slice a, pad;
    sx_slt_take_while(&probe, sx_slt_is_b64, &a);
    sx_slt_take_while(&probe, sx_slt_is_pad, &pad);
    if (!sx_reader_ok(&probe) || a.len == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_read_bytes(r, a.len + pad.len, tok);
}

bool sx_slt_decode_to(sx_reader *r, sx_slice tok, uint8_t *out, size_t cap, size_t *n)
{
    *n = 0;
    if (!sx_reader_ok(r))
        return false;
    sx_status st = sx_b64_decode((const char *)tok.ptr, tok.len, SX_B64_URL, out, cap, n);
    return st == SX_OK ? true : sx_reader_fail(r, st);
}

/* Exactly len bytes (ids, DH secrets). */
bool sx_slt_read_fixed(sx_reader *r, uint8_t *out, size_t len)
{
    sx_slice tok;
    size_t n;
    if (!sx_slt_b64_token(r, &tok) || !sx_slt_decode_to(r, tok, out, len, &n))
        return false;
    return n == len ? true : sx_reader_fail(r, SX_E_PROTOCOL);
}

/* Decodes tok into the arena: 1..max bytes. */
bool sx_slt_decode_arena(sx_slt_parser *p, sx_slice tok, size_t max, sx_slice *out)
{
    *out = sx_slice_of(NULL, 0);
    size_t n;
    uint8_t *dst = p->arena + p->used;
    if (!sx_slt_decode_to(&p->r, tok, dst, p->cap - p->used, &n))
        return false;
    if (n > max)
        return sx_reader_fail(&p->r, SX_E_LIMIT);
    *out = sx_slice_of(dst, n);
    p->used += n;
    return true;
}

bool sx_slt_read_data(sx_slt_parser *p, size_t max, sx_slice *out)
{
    sx_slice tok;
    return sx_slt_b64_token(&p->r, &tok) && sx_slt_decode_arena(p, tok, max, out);
}

/* A copy of already-consumed text in the arena. */
bool sx_slt_copy_arena(sx_slt_parser *p, sx_slice text, sx_slice *out)
{
    if (p->cap - p->used < text.len)
        return sx_reader_fail(&p->r, SX_E_INTERNAL);
    uint8_t *dst = p->arena + p->used;
    if (text.len)
        memcpy(dst, text.ptr, text.len);
    p->used += text.len;
    *out = sx_slice_of(dst, text.len);
    return true;
}

/* Int64 / SystemTime text: optional sign, then decimal digits (PROTOCOL-NOTES
 * A25). */
bool sx_slt_read_int(sx_reader *r, int64_t *v)
{
    *v = 0;
    bool neg = sx_slt_try_lit(r, "-");
    if (!neg)
        sx_slt_try_lit(r, "+");
    sx_slice d;
    if (!sx_slt_take_while(r, sx_slt_is_digit, &d))
        return false;
    if (d.len == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, acc = 0;
    for (size_t i = 0; i < d.len; i++) {
        uint64_t dig = (uint64_t)(d.ptr[i] - '0');
        if (acc > (limit - dig) / 10)
            return sx_reader_fail(r, SX_E_LIMIT);
        acc = acc * 10 + dig;
    }
    if (!neg)
        *v = (int64_t)acc;
    else
        *v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    return true;
}

bool sx_slt_read_char_of(sx_reader *r, const char *set, uint8_t *out)
{
    uint8_t c = 0;
    if (!sx_read_u8(r, &c))
        return false;
    if (c == 0 || !strchr(set, c))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    *out = c;
    return true;
}

sx_status sx_slt_init(sx_slt_parser *p, sx_slice line)
{
    sx_reader_init_slice(&p->r, line);
    p->used = 0;
    p->cap = line.len;
    p->arena = malloc(line.len + 1);
    return p->arena ? SX_OK : SX_E_NOMEM;
}

/* Checks the whole line was consumed; frees the arena on failure. */
sx_status sx_slt_finish(sx_slt_parser *p, bool ok)
{
    sx_status st = ok ? sx_reader_finish(&p->r) : sx_reader_status(&p->r);
    if (ok && st == SX_OK)
        return SX_OK;
    if (st == SX_OK)
        st = SX_E_PROTOCOL;
    free(p->arena);
    p->arena = NULL;
    return st;
}

sx_status sx_slt_parse_line(sx_slice line, sx_slt_record_fn parse, void *rec, size_t rec_size, uint8_t **arena)
{
    memset(rec, 0, rec_size);
    sx_slt_parser p;
    SX_TRY(sx_slt_init(&p, line));
    sx_status st = sx_slt_finish(&p, parse(&p, rec));
    if (st != SX_OK) {
        memset(rec, 0, rec_size);
        return st;
    }
    *arena = p.arena;
    return SX_OK;
}

/* Padded base64url, encoded straight into the writer's buffer. */
bool sx_slt_put_b64(sx_writer *w, sx_slice s)
{
    if (s.len == 0)
        return sx_writer_status(w) == SX_OK;
    if (s.len > (SIZE_MAX / 4) * 3 - 3)
        return sx_writer_fail(w, SX_E_LIMIT);
    size_t n = sx_b64_encoded_size(s.len, SX_B64_URL) - 1;
    char *dst = (char *)sx_write_reserve(w, n);
    if (!dst)
        return false;
    if (sx_b64_encode_text(s, SX_B64_URL, dst) != n)
        return sx_writer_fail(w, SX_E_INTERNAL);
    return sx_writer_status(w) == SX_OK;
}

bool sx_slt_put_id(sx_writer *w, const uint8_t *id) { return sx_slt_put_b64(w, sx_slice_of(id, SX_ID_LEN)); }

bool sx_slt_put_int(sx_writer *w, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return sx_write_str(w, buf);
}

/* base64url text of an id for reports. */
const char *sx_slt_id_text(const uint8_t *id, size_t len, char out[SX_SLT_ID_TEXT_SIZE])
{
    if (sx_b64_encode(sx_slice_of(id, len), SX_B64_URL, out, SX_SLT_ID_TEXT_SIZE) != SX_OK)
        snprintf(out, SX_SLT_ID_TEXT_SIZE, "?");
    return out;
}
