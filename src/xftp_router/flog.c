/* XFTP store-log lines (PROTOCOL-NOTES F27): a flat grammar over sx_reader for
 * the parser (the reference's attoparsec grammar, including its optional FNEW
 * status and the ',' / ' ' item boundaries of lists) and sx_writer for the
 * encoder. */
#include "xftp_router/flog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/reader.h"

static bool is_b64(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
static bool is_pad(uint8_t c) { return c == '='; }
static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_item(uint8_t c) { return c != ',' && c != ' ' && c != '\n'; }

static size_t run_len(const sx_reader *r, bool (*pred)(uint8_t))
{
    sx_reader probe = *r;
    size_t n = 0;
    uint8_t c;
    while (sx_read_u8(&probe, &c) && pred(c))
        n++;
    return n;
}

static bool try_lit(sx_reader *r, const char *lit)
{
    sx_reader probe = *r;
    if (!sx_read_expect_str(&probe, lit))
        return false;
    *r = probe;
    return true;
}

/* base64urlP: one or more alphabet characters, then any '=' padding. */
static bool b64_token(sx_reader *r, sx_slice *tok)
{
    size_t a = run_len(r, is_b64);
    if (!sx_reader_ok(r))
        return false;
    if (a == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader probe = *r;
    sx_slice skip;
    if (!sx_read_bytes(&probe, a, &skip))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    size_t pad = run_len(&probe, is_pad);
    return sx_read_bytes(r, a + pad, tok);
}

static bool decode_to(sx_reader *r, sx_slice tok, uint8_t *out, size_t cap, size_t *n)
{
    *n = 0;
    if (!sx_reader_ok(r))
        return false;
    sx_status st = sx_b64_decode((const char *)tok.ptr, tok.len, SX_B64_URL, out, cap, n);
    return st == SX_OK ? true : sx_reader_fail(r, st == SX_E_LIMIT ? SX_E_LIMIT : SX_E_PROTOCOL);
}

static bool read_id(sx_reader *r, uint8_t id[SX_XFTP_FILE_ID_LEN])
{
    sx_slice tok;
    size_t n;
    uint8_t buf[64];
    if (!b64_token(r, &tok) || !decode_to(r, tok, buf, sizeof buf, &n))
        return false;
    if (n != SX_XFTP_FILE_ID_LEN)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    memcpy(id, buf, n);
    return true;
}

/* An APublicAuthKey: base64url of its DER SubjectPublicKeyInfo. */
static bool key_of_token(sx_reader *r, sx_slice tok, uint8_t *der, size_t *der_len, sx_key_alg *alg)
{
    if (!decode_to(r, tok, der, SX_KEY_SPKI_MAX, der_len))
        return false;
    if (sx_key_check_public(sx_slice_of(der, *der_len), SX_KEY_AUTH_ALGS, alg) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
}

static bool read_key(sx_reader *r, uint8_t *der, size_t *der_len, sx_key_alg *alg)
{
    sx_slice tok;
    return b64_token(r, &tok) && key_of_token(r, tok, der, der_len, alg);
}

/* Decimal digits, no sign (Word32 / Int64 as written; a leading sign is
 * accepted for Int64 as the reference's signed parser does). */
static bool read_uint(sx_reader *r, uint64_t max, uint64_t *v)
{
    *v = 0;
    size_t n = run_len(r, is_digit);
    sx_slice d;
    if (!sx_reader_ok(r))
        return false;
    if (n == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (!sx_read_bytes(r, n, &d))
        return false;
    uint64_t acc = 0;
    for (size_t i = 0; i < d.len; i++) {
        uint64_t dig = (uint64_t)(d.ptr[i] - '0');
        if (acc > (max - dig) / 10)
            return sx_reader_fail(r, SX_E_LIMIT);
        acc = acc * 10 + dig;
    }
    *v = acc;
    return true;
}

static bool read_int64(sx_reader *r, int64_t *v)
{
    *v = 0;
    bool neg = try_lit(r, "-");
    if (!neg)
        (void)try_lit(r, "+");
    uint64_t u;
    if (!read_uint(r, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &u))
        return false;
    if (!neg)
        *v = (int64_t)u;
    else
        *v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    return true;
}

static bool read_status(sx_reader *r, sx_xftp_flog_rec *rec)
{
    if (try_lit(r, "active")) {
        rec->status = SX_XFTP_FILE_ACTIVE;
        return true;
    }
    if (try_lit(r, "off")) {
        rec->status = SX_XFTP_FILE_OFF;
        return true;
    }
    if (!sx_read_expect_str(r, "blocked,"))
        return false;
    rec->status = SX_XFTP_FILE_BLOCKED;
    return sx_smp_blocking_info_read(r, &rec->blocked);
}

static bool parse_fnew(sx_reader *r, sx_xftp_flog_rec *rec)
{
    uint64_t size;
    sx_slice tok;
    if (!read_id(r, rec->id) || !sx_read_expect_str(r, " ") ||
        !read_key(r, rec->snd_key, &rec->snd_key_len, &rec->snd_alg) || !sx_read_expect_str(r, " ") ||
        !read_uint(r, UINT32_MAX, &size) || !sx_read_expect_str(r, " ") || !b64_token(r, &tok) ||
        !decode_to(r, tok, rec->digest, sizeof rec->digest, &rec->digest_len) ||
        !sx_read_expect_str(r, " ") || !read_int64(r, &rec->created_at))
        return false;
    rec->size = (uint32_t)size;
    rec->status = SX_XFTP_FILE_ACTIVE;
    /* "_strP <|> pure EntityActive": a status only after a space; whatever
     * does not parse as one is left for the end-of-line check to refuse. */
    if (sx_reader_remaining(r) > 0) {
        sx_reader probe = *r;
        if (sx_read_expect_str(&probe, " ") && read_status(&probe, rec))
            *r = probe;
    }
    return sx_reader_ok(r);
}

static bool parse_fput(sx_reader *r, sx_xftp_flog_rec *rec)
{
    sx_slice tok;
    if (!read_id(r, rec->id) || !sx_read_expect_str(r, " ") || !b64_token(r, &tok))
        return false;
    rec->path = malloc(SX_XFTP_FLOG_PATH_MAX + 1);
    if (!rec->path)
        return sx_reader_fail(r, SX_E_NOMEM);
    size_t n;
    if (!decode_to(r, tok, (uint8_t *)rec->path, SX_XFTP_FLOG_PATH_MAX, &n))
        return false;
    if (memchr(rec->path, 0, n))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    rec->path[n] = '\0';
    return true;
}

static bool parse_fadd(sx_reader *r, sx_xftp_flog_rec *rec)
{
    if (!read_id(r, rec->id) || !sx_read_expect_str(r, " "))
        return false;
    size_t cap = 0;
    do {
        size_t len = run_len(r, is_item);
        sx_slice item;
        if (!sx_read_bytes(r, len, &item))
            return false;
        if (rec->n_rcps == SX_XFTP_MAX_RECIPIENTS)
            return sx_reader_fail(r, SX_E_LIMIT);
        if (rec->n_rcps == cap) {
            size_t nc = cap ? cap * 2 : 4;
            sx_xftp_flog_rcp *nr = realloc(rec->rcps, nc * sizeof *nr);
            if (!nr)
                return sx_reader_fail(r, SX_E_NOMEM);
            rec->rcps = nr;
            cap = nc;
        }
        /* FileRecipient inside the item: <rId>:<key>, nothing after. */
        sx_xftp_flog_rcp *rc = &rec->rcps[rec->n_rcps];
        memset(rc, 0, sizeof *rc);
        sx_reader ir;
        sx_reader_init_slice(&ir, item);
        bool ok = read_id(&ir, rc->id) && sx_read_expect_str(&ir, ":") &&
                  read_key(&ir, rc->key.key, &rc->key.key_len, &rc->key.alg);
        if (ok && sx_reader_remaining(&ir) != 0)
            ok = sx_reader_fail(&ir, SX_E_PROTOCOL);
        if (!ok) {
            sx_status st = sx_reader_status(&ir);
            return sx_reader_fail(r, st == SX_OK ? SX_E_PROTOCOL : st);
        }
        rec->n_rcps++;
    } while (try_lit(r, ","));
    return sx_reader_ok(r);
}

sx_status sx_xftp_flog_parse(sx_slice line, sx_xftp_flog_rec *out)
{
    memset(out, 0, sizeof *out);
    out->owned = true;
    sx_reader r;
    sx_reader_init_slice(&r, line);
    bool ok;
    if (try_lit(&r, "FNEW ")) {
        out->type = SX_XFTP_FLOG_FNEW;
        ok = parse_fnew(&r, out);
    } else if (try_lit(&r, "FPUT ")) {
        out->type = SX_XFTP_FLOG_FPUT;
        ok = parse_fput(&r, out);
    } else if (try_lit(&r, "FADD ")) {
        out->type = SX_XFTP_FLOG_FADD;
        ok = parse_fadd(&r, out);
    } else if (try_lit(&r, "FDEL ")) {
        out->type = SX_XFTP_FLOG_FDEL;
        ok = read_id(&r, out->id);
    } else if (try_lit(&r, "FBLK ")) {
        out->type = SX_XFTP_FLOG_FBLK;
        ok = read_id(&r, out->id) && sx_read_expect_str(&r, " ") && sx_smp_blocking_info_read(&r, &out->blocked);
    } else if (try_lit(&r, "FACK ")) {
        out->type = SX_XFTP_FLOG_FACK;
        ok = read_id(&r, out->id);
    } else {
        ok = sx_reader_fail(&r, SX_E_PROTOCOL);
    }
    sx_status st = sx_reader_status(&r);
    if (ok && st == SX_OK && sx_reader_remaining(&r) != 0)
        st = SX_E_PROTOCOL;
    if (st == SX_OK && !ok)
        st = SX_E_PROTOCOL;
    if (st != SX_OK)
        sx_xftp_flog_cleanup(out);
    return st;
}

void sx_xftp_flog_cleanup(sx_xftp_flog_rec *r)
{
    if (!r)
        return;
    if (r->owned) {
        free(r->path);
        free(r->rcps);
    }
    r->path = NULL;
    r->rcps = NULL;
    r->n_rcps = 0;
}

static bool put_b64(sx_writer *w, const void *p, size_t n)
{
    if (n == 0)
        return sx_writer_fail(w, SX_E_USAGE);
    size_t need = sx_b64_encoded_size(n, SX_B64_URL);
    char *dst = (char *)sx_write_reserve(w, need);
    if (!dst)
        return false;
    /* The reservation includes the NUL the encoder writes; drop it. */
    if (sx_b64_encode(sx_slice_of(p, n), SX_B64_URL, dst, need) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    w->len -= need - strlen(dst);
    return true;
}

static bool put_key(sx_writer *w, const uint8_t *der, size_t len, sx_key_alg alg)
{
    sx_key_alg got;
    if (sx_key_check_public(sx_slice_of(der, len), SX_KEY_AUTH_ALGS, &got) != SX_OK || got != alg)
        return sx_writer_fail(w, SX_E_USAGE);
    return put_b64(w, der, len);
}

static bool put_dec(sx_writer *w, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    return n > 0 && sx_write_bytes(w, buf, (size_t)n);
}

static bool put_status(sx_writer *w, const sx_xftp_flog_rec *r)
{
    switch (r->status) {
    case SX_XFTP_FILE_ACTIVE: return sx_write_str(w, "active");
    case SX_XFTP_FILE_OFF: return sx_write_str(w, "off");
    case SX_XFTP_FILE_BLOCKED: return sx_write_str(w, "blocked,") && sx_smp_blocking_info_write(w, &r->blocked);
    default: return sx_writer_fail(w, SX_E_USAGE);
    }
}

bool sx_xftp_flog_encode(sx_writer *w, const sx_xftp_flog_rec *r)
{
    switch (r->type) {
    case SX_XFTP_FLOG_FNEW:
        return sx_write_str(w, "FNEW ") && put_b64(w, r->id, SX_XFTP_FILE_ID_LEN) && sx_write_str(w, " ") &&
               put_key(w, r->snd_key, r->snd_key_len, r->snd_alg) && sx_write_str(w, " ") &&
               put_dec(w, (int64_t)r->size) && sx_write_str(w, " ") && put_b64(w, r->digest, r->digest_len) &&
               sx_write_str(w, " ") && put_dec(w, r->created_at) && sx_write_str(w, " ") && put_status(w, r);
    case SX_XFTP_FLOG_FPUT:
        if (!r->path || !r->path[0])
            return sx_writer_fail(w, SX_E_USAGE);
        return sx_write_str(w, "FPUT ") && put_b64(w, r->id, SX_XFTP_FILE_ID_LEN) && sx_write_str(w, " ") &&
               put_b64(w, r->path, strlen(r->path));
    case SX_XFTP_FLOG_FADD:
        if (r->n_rcps == 0)
            return sx_writer_fail(w, SX_E_USAGE);
        if (!sx_write_str(w, "FADD ") || !put_b64(w, r->id, SX_XFTP_FILE_ID_LEN) || !sx_write_str(w, " "))
            return false;
        for (size_t i = 0; i < r->n_rcps; i++) {
            const sx_xftp_flog_rcp *rc = &r->rcps[i];
            if ((i > 0 && !sx_write_str(w, ",")) || !put_b64(w, rc->id, SX_XFTP_FILE_ID_LEN) ||
                !sx_write_str(w, ":") || !put_key(w, rc->key.key, rc->key.key_len, rc->key.alg))
                return false;
        }
        return true;
    case SX_XFTP_FLOG_FDEL:
        return sx_write_str(w, "FDEL ") && put_b64(w, r->id, SX_XFTP_FILE_ID_LEN);
    case SX_XFTP_FLOG_FBLK:
        return sx_write_str(w, "FBLK ") && put_b64(w, r->id, SX_XFTP_FILE_ID_LEN) && sx_write_str(w, " ") &&
               sx_smp_blocking_info_write(w, &r->blocked);
    case SX_XFTP_FLOG_FACK:
        return sx_write_str(w, "FACK ") && put_b64(w, r->id, SX_XFTP_FILE_ID_LEN);
    default:
        return sx_writer_fail(w, SX_E_USAGE);
    }
}
