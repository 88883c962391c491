/* Store log, message log and notification log of the SMP router in the
 * reference's text formats (PROTOCOL-NOTES E25-E28). Parsers follow the
 * reference's grammar with backtracking done by copying the reader; encoders
 * produce its exact bytes. The files themselves (reading lines, appending,
 * backups, start-up) are the router kit's (src/kit/). */
#include "router/storelog.h"

#include <inttypes.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base64.h"
#include "core/reader.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "kit/logstart.h"
#include "kit/paths.h"

#define JSON_DEPTH_MAX 32

/* ===========================================================================
 * Reports
 * ======================================================================== */

static void report(const sx_kit_log_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(const sx_kit_log_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sx_kit_vreport(o ? o->warn : NULL, o ? o->warn_arg : NULL, fmt, ap);
    va_end(ap);
}

static void mreport(const sx_msglog_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mreport(const sx_msglog_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sx_kit_vreport(o ? o->warn : NULL, o ? o->warn_arg : NULL, fmt, ap);
    va_end(ap);
}

/* base64url text of an id for reports. */
static const char *id_text(const uint8_t *id, size_t len, char out[SX_SL_SERVICE_ID_MAX * 2])
{
    if (sx_b64_encode(sx_slice_of(id, len), SX_B64_URL, out, SX_SL_SERVICE_ID_MAX * 2) != SX_OK)
        snprintf(out, SX_SL_SERVICE_ID_MAX * 2, "?");
    return out;
}

/* ===========================================================================
 * Text grammar primitives (PROTOCOL-NOTES A23-A27) over the bounds-checked
 * reader ======================================================================== */

typedef struct parser {
    sx_reader r;
    uint8_t *arena; /* decoded data; never larger than the line */
    size_t used, cap;
} parser;

static bool is_b64(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
static bool is_pad(uint8_t c) { return c == '='; }
static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
/* A list item runs to the next ',', ' ' or end of line (the reference's listItem). */
static bool is_item(uint8_t c) { return c != ',' && c != ' ' && c != '\n'; }
static bool is_not_space(uint8_t c) { return c != ' '; }

static bool peek(const sx_reader *r, uint8_t *c)
{
    sx_reader probe = *r;
    return sx_read_u8(&probe, c);
}

static bool at_end(const sx_reader *r) { return sx_reader_ok(r) && sx_reader_remaining(r) == 0; }

/* The longest run (possibly empty) of bytes satisfying pred. */
static bool take_while(sx_reader *r, bool (*pred)(uint8_t), sx_slice *out)
{
    sx_reader probe = *r;
    size_t n = 0;
    uint8_t c;
    while (sx_read_u8(&probe, &c) && pred(c))
        n++;
    return sx_read_bytes(r, n, out);
}

/* Consumes lit if it is next; otherwise nothing happens (no error). */
static bool try_lit(sx_reader *r, const char *lit)
{
    sx_reader probe = *r;
    if (!sx_read_expect_str(&probe, lit))
        return false;
    *r = probe;
    return true;
}

static bool expect(sx_reader *r, const char *lit) { return sx_read_expect_str(r, lit); }

/* base64urlP: one or more of the alphabet, then any '=' padding. */
static bool b64_token(sx_reader *r, sx_slice *tok)
{
    sx_reader probe = *r;
    sx_slice a, pad;
    take_while(&probe, is_b64, &a);
    take_while(&probe, is_pad, &pad);
    if (!sx_reader_ok(&probe) || a.len == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_read_bytes(r, a.len + pad.len, tok);
}

static bool decode_to(sx_reader *r, sx_slice tok, uint8_t *out, size_t cap, size_t *n)
{
    *n = 0;
    if (!sx_reader_ok(r))
        return false;
    sx_status st = sx_b64_decode((const char *)tok.ptr, tok.len, SX_B64_URL, out, cap, n);
    return st == SX_OK ? true : sx_reader_fail(r, st);
}

/* Exactly len bytes (ids, DH secrets). */
static bool read_fixed(sx_reader *r, uint8_t *out, size_t len)
{
    sx_slice tok;
    size_t n;
    if (!b64_token(r, &tok) || !decode_to(r, tok, out, len, &n))
        return false;
    return n == len ? true : sx_reader_fail(r, SX_E_PROTOCOL);
}

/* Decodes tok into the arena: 1..max bytes. */
static bool decode_arena(parser *p, sx_slice tok, size_t max, sx_slice *out)
{
    *out = sx_slice_of(NULL, 0);
    size_t n;
    uint8_t *dst = p->arena + p->used;
    if (!decode_to(&p->r, tok, dst, p->cap - p->used, &n))
        return false;
    if (n > max)
        return sx_reader_fail(&p->r, SX_E_LIMIT);
    *out = sx_slice_of(dst, n);
    p->used += n;
    return true;
}

static bool read_data(parser *p, size_t max, sx_slice *out)
{
    sx_slice tok;
    return b64_token(&p->r, &tok) && decode_arena(p, tok, max, out);
}

/* A copy of already-consumed text in the arena. */
static bool copy_arena(parser *p, sx_slice text, sx_slice *out)
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

/* PROTOCOL-NOTES A16: the 12 bytes of SubjectPublicKeyInfo in front of the raw
 * key. */
static const uint8_t *spki_prefix(sx_key_alg alg)
{
    static const uint8_t ed25519[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    static const uint8_t ed448[12] = {0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x3a, 0x00};
    static const uint8_t x25519[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};
    static const uint8_t x448[12] = {0x30, 0x42, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6f, 0x03, 0x39, 0x00};
    switch (alg) {
    case SX_KEY_ED25519: return ed25519;
    case SX_KEY_ED448: return ed448;
    case SX_KEY_X25519: return x25519;
    case SX_KEY_X448: return x448;
    default: return NULL;
    }
}

/* An APublicAuthKey from its base64url DER text (PROTOCOL-NOTES A24). */
static bool key_from_text(sx_reader *r, sx_slice tok, sx_qkey *k)
{
    memset(k, 0, sizeof *k);
    uint8_t der[SX_KEY_SPKI_MAX];
    size_t n;
    if (!decode_to(r, tok, der, sizeof der, &n))
        return false;
    sx_key_alg alg;
    if (sx_key_check_public(sx_slice_of(der, n), SX_KEY_AUTH_ALGS, &alg) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    size_t raw = sx_key_raw_len(alg);
    k->alg = (uint8_t)alg;
    k->len = (uint8_t)raw;
    memcpy(k->raw, der + (n - raw), raw);
    return true;
}

static bool read_key(sx_reader *r, sx_qkey *k)
{
    sx_slice tok;
    return b64_token(r, &tok) && key_from_text(r, tok, k);
}

/* NonEmpty list of keys, comma-separated. */
static bool read_key_list(sx_reader *r, sx_qkey *keys, uint8_t *n)
{
    *n = 0;
    do {
        sx_slice item;
        take_while(r, is_item, &item);
        if (*n == SX_MAX_RCV_KEYS)
            return sx_reader_fail(r, SX_E_LIMIT);
        if (!key_from_text(r, item, &keys[*n]))
            return false;
        (*n)++;
    } while (try_lit(r, ","));
    return sx_reader_ok(r);
}

/* Int64 / SystemTime text: optional sign, then decimal digits (PROTOCOL-NOTES
 * A25). */
static bool read_int(sx_reader *r, int64_t *v)
{
    *v = 0;
    bool neg = try_lit(r, "-");
    if (!neg)
        try_lit(r, "+");
    sx_slice d;
    if (!take_while(r, is_digit, &d))
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

static bool read_char_of(sx_reader *r, const char *set, uint8_t *out)
{
    uint8_t c = 0;
    if (!sx_read_u8(r, &c))
        return false;
    if (c == 0 || !strchr(set, c))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    *out = c;
    return true;
}

static bool read_service_id(parser *p, sx_slice *out)
{
    return read_data(p, SX_SL_SERVICE_ID_MAX, out);
}

/* ---- JSON, only to find where a BlockingInfo notice ends ---- */

static void json_ws(sx_reader *r)
{
    uint8_t c;
    while (peek(r, &c) && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
        sx_read_u8(r, &c);
}

static bool json_digits(sx_reader *r)
{
    sx_slice d;
    return take_while(r, is_digit, &d) && (d.len > 0 || sx_reader_fail(r, SX_E_PROTOCOL));
}

static bool json_string(sx_reader *r)
{
    if (!expect(r, "\""))
        return false;
    for (;;) {
        uint8_t c;
        if (!sx_read_u8(r, &c))
            return false;
        if (c == '"')
            return true;
        if (c < 0x20)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        if (c != '\\')
            continue;
        if (!sx_read_u8(r, &c))
            return false;
        if (c == 'u') {
            for (int i = 0; i < 4; i++) {
                uint8_t h;
                if (!sx_read_u8(r, &h))
                    return false;
                if (!strchr("0123456789abcdefABCDEF", h) || h == 0)
                    return sx_reader_fail(r, SX_E_PROTOCOL);
            }
        } else if (c == 0 || !strchr("\"\\/bfnrt", c)) {
            return sx_reader_fail(r, SX_E_PROTOCOL);
        }
    }
}

static bool json_number(sx_reader *r)
{
    try_lit(r, "-");
    if (!try_lit(r, "0") && !json_digits(r))
        return false;
    if (try_lit(r, ".") && !json_digits(r))
        return false;
    if (try_lit(r, "e") || try_lit(r, "E")) {
        if (!try_lit(r, "+"))
            try_lit(r, "-");
        return json_digits(r);
    }
    return sx_reader_ok(r);
}

static bool json_value(sx_reader *r, int depth);

static bool json_members(sx_reader *r, int depth, bool object)
{
    const char *close = object ? "}" : "]";
    json_ws(r);
    if (try_lit(r, close))
        return true;
    for (;;) {
        json_ws(r);
        if (object) {
            if (!json_string(r))
                return false;
            json_ws(r);
            if (!expect(r, ":"))
                return false;
        }
        if (!json_value(r, depth + 1))
            return false;
        json_ws(r);
        if (try_lit(r, close))
            return true;
        if (!expect(r, ","))
            return false;
    }
}

static bool json_value(sx_reader *r, int depth)
{
    if (depth > JSON_DEPTH_MAX)
        return sx_reader_fail(r, SX_E_LIMIT);
    json_ws(r);
    uint8_t c = 0;
    if (!peek(r, &c))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (try_lit(r, "{"))
        return json_members(r, depth, true);
    if (try_lit(r, "["))
        return json_members(r, depth, false);
    if (c == '"')
        return json_string(r);
    if (try_lit(r, "true") || try_lit(r, "false") || try_lit(r, "null"))
        return true;
    if (c == '-' || is_digit(c))
        return json_number(r);
    return sx_reader_fail(r, SX_E_PROTOCOL);
}

/* BlockingInfo: "reason=" spam|content [",notice=" <JSON object>]. The
 * reference lets the notice run to the end of the input; we end it where its
 * JSON ends (trailing JSON whitespace at the end of the line is allowed). */
static bool read_block_info(parser *p, sx_slice *out)
{
    sx_reader *r = &p->r;
    sx_reader start = *r;
    if (!expect(r, "reason="))
        return false;
    if (!try_lit(r, "spam") && !try_lit(r, "content"))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (try_lit(r, ",notice=")) {
        uint8_t c = 0;
        if (!peek(r, &c) || c != '{')
            return sx_reader_fail(r, SX_E_PROTOCOL);
        if (!json_value(r, 0))
            return false;
    }
    if (!sx_reader_ok(r))
        return false;
    sx_slice text;
    sx_read_bytes(&start, sx_reader_remaining(&start) - sx_reader_remaining(r), &text);
    if (!copy_arena(p, text, out))
        return false;
    sx_reader probe = *r;
    json_ws(&probe);
    if (at_end(&probe) && out->len > 0 && out->ptr[out->len - 1] == '}')
        *r = probe;
    return true;
}

/* ===========================================================================
 * Store-log records: parse
 * ======================================================================== */

/* NtfCreds: <nId> <nKey> <dh>[ nsrv=<serviceId>] */
static bool parse_ntf_creds(parser *p, sx_slnotifier *n)
{
    sx_reader *r = &p->r;
    read_fixed(r, n->id, SX_ID_LEN);
    expect(r, " ");
    read_key(r, &n->key);
    expect(r, " ");
    read_fixed(r, n->dh_secret, SX_SL_DH_LEN);
    if (try_lit(r, " nsrv="))
        read_service_id(p, &n->service);
    return sx_reader_ok(r);
}

/* ServerEntityStatus: active | off | blocked,<BlockingInfo> */
static bool parse_status(parser *p, sx_slqueue *q)
{
    sx_reader *r = &p->r;
    if (try_lit(r, "active"))
        q->status = SX_QUEUE_ACTIVE;
    else if (try_lit(r, "off"))
        q->status = SX_QUEUE_OFF;
    else if (try_lit(r, "blocked,")) {
        q->status = SX_QUEUE_BLOCKED;
        read_block_info(p, &q->block_info);
    } else
        sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_reader_ok(r);
}

/* QueueRec, fields in the reference's order; optional fields may be absent. */
static bool parse_queue_rec(parser *p, sx_slqueue *q)
{
    sx_reader *r = &p->r;
    expect(r, "rk=");
    read_key_list(r, q->rkeys, &q->n_rkeys);
    expect(r, " rdh=");
    read_fixed(r, q->dh_secret, SX_SL_DH_LEN);
    expect(r, " sid=");
    read_fixed(r, q->sid, SX_ID_LEN);
    expect(r, " sk=");
    uint8_t c = 0;
    if (peek(r, &c) && is_b64(c))
        read_key(r, &q->skey);
    if (try_lit(r, " sndSecure=")) { /* legacy: T = messaging, F = contact */
        uint8_t b = 0;
        read_char_of(r, "TF", &b);
        q->mode = b == 'T' ? 'M' : 'C';
    } else if (try_lit(r, " queue_mode=")) {
        read_char_of(r, "MC", &q->mode);
    }
    if (try_lit(r, " link_id=")) {
        q->has_link = true;
        read_fixed(r, q->link_id, SX_ID_LEN);
        expect(r, " queue_data=");
        read_data(p, SIZE_MAX, &q->link_fixed);
        expect(r, " ");
        read_data(p, SIZE_MAX, &q->link_user);
    }
    if (try_lit(r, " notifier=")) {
        q->has_notifier = true;
        parse_ntf_creds(p, &q->ntf);
    }
    if (try_lit(r, " updated_at=")) {
        q->has_updated_at = true;
        read_int(r, &q->updated_at);
    }
    q->status = SX_QUEUE_ACTIVE;
    if (try_lit(r, " status="))
        parse_status(p, q);
    if (try_lit(r, " rsrv="))
        read_service_id(p, &q->rcv_service);
    return sx_reader_ok(r);
}

/* ServiceRec */
static bool parse_service(parser *p, sx_slservice *s)
{
    sx_reader *r = &p->r;
    expect(r, "service_id=");
    read_service_id(p, &s->id);
    expect(r, " role=");
    read_char_of(r, "MNP", &s->role);
    expect(r, " cert=");
    uint8_t c = 0;
    if (peek(r, &c) && c != ' ') {
        do {
            sx_slice item;
            take_while(r, is_item, &item);
            if (s->n_certs == SX_SL_CERTS_MAX)
                return sx_reader_fail(r, SX_E_LIMIT);
            if (!decode_arena(p, item, SIZE_MAX, &s->certs[s->n_certs]))
                return false;
            X509 *x = NULL;
            if (sx_x509_from_der(s->certs[s->n_certs], &x) != SX_OK)
                return sx_reader_fail(r, SX_E_PROTOCOL);
            X509_free(x);
            s->n_certs++;
        } while (try_lit(r, ","));
    }
    expect(r, " cert_hash=");
    read_data(p, SIZE_MAX, &s->cert_hash);
    expect(r, " created_at=");
    read_int(r, &s->created_at);
    return sx_reader_ok(r);
}

static const struct {
    const char *tag;
    sx_slrec_type type;
} REC_TAGS[] = {
    {"CREATE", SX_SLREC_CREATE},   {"LINK", SX_SLREC_LINK},
    {"LDELETE", SX_SLREC_LDELETE}, {"SECURE", SX_SLREC_SECURE},
    {"KEYS", SX_SLREC_KEYS},       {"NOTIFIER", SX_SLREC_NOTIFIER},
    {"SUSPEND", SX_SLREC_SUSPEND}, {"BLOCK", SX_SLREC_BLOCK},
    {"UNBLOCK", SX_SLREC_UNBLOCK}, {"DELETE", SX_SLREC_DELETE},
    {"NDELETE", SX_SLREC_NDELETE}, {"TIME", SX_SLREC_TIME},
    {"NEW_SERVICE", SX_SLREC_NEW_SERVICE}, {"QUEUE_SERVICE", SX_SLREC_QUEUE_SERVICE},
};

static const char *rec_tag(sx_slrec_type t)
{
    for (size_t i = 0; i < sizeof REC_TAGS / sizeof REC_TAGS[0]; i++)
        if (REC_TAGS[i].type == t)
            return REC_TAGS[i].tag;
    return NULL;
}

static bool parse_record(parser *p, sx_slrec *rec)
{
    sx_reader *r = &p->r;
    sx_slice word;
    take_while(r, is_not_space, &word);
    bool known = false;
    for (size_t i = 0; i < sizeof REC_TAGS / sizeof REC_TAGS[0]; i++) {
        if (sx_slice_eq(word, sx_slice_str(REC_TAGS[i].tag))) {
            rec->type = REC_TAGS[i].type;
            known = true;
        }
    }
    if (!known)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    expect(r, " ");
    switch (rec->type) {
    case SX_SLREC_CREATE:
        expect(r, "rid=");
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        parse_queue_rec(p, &rec->q);
        break;
    case SX_SLREC_LINK:
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        read_fixed(r, rec->q.link_id, SX_ID_LEN);
        expect(r, " ");
        read_data(p, SIZE_MAX, &rec->q.link_fixed);
        expect(r, " ");
        read_data(p, SIZE_MAX, &rec->q.link_user);
        rec->q.has_link = true;
        break;
    case SX_SLREC_SECURE:
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        read_key(r, &rec->q.skey);
        break;
    case SX_SLREC_KEYS:
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        read_key_list(r, rec->q.rkeys, &rec->q.n_rkeys);
        break;
    case SX_SLREC_NOTIFIER:
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        parse_ntf_creds(p, &rec->q.ntf);
        rec->q.has_notifier = true;
        break;
    case SX_SLREC_BLOCK:
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        read_block_info(p, &rec->q.block_info);
        rec->q.status = SX_QUEUE_BLOCKED;
        break;
    case SX_SLREC_TIME:
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        read_int(r, &rec->q.updated_at);
        rec->q.has_updated_at = true;
        break;
    case SX_SLREC_NEW_SERVICE:
        parse_service(p, &rec->svc);
        break;
    case SX_SLREC_QUEUE_SERVICE: {
        read_fixed(r, rec->rid, SX_ID_LEN);
        expect(r, " ");
        read_char_of(r, "RN", &rec->party);
        expect(r, " ");
        uint8_t c = 0;
        if (peek(r, &c))
            read_service_id(p, &rec->service);
        break;
    }
    case SX_SLREC_LDELETE:
    case SX_SLREC_SUSPEND:
    case SX_SLREC_UNBLOCK:
    case SX_SLREC_DELETE:
    case SX_SLREC_NDELETE:
    default:
        read_fixed(r, rec->rid, SX_ID_LEN);
        break;
    }
    return sx_reader_ok(r);
}

static sx_status parser_init(parser *p, sx_slice line)
{
    sx_reader_init_slice(&p->r, line);
    p->used = 0;
    p->cap = line.len;
    p->arena = malloc(line.len + 1);
    return p->arena ? SX_OK : SX_E_NOMEM;
}

/* Checks the whole line was consumed; frees the arena on failure. */
static sx_status parser_finish(parser *p, bool ok)
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

sx_status sx_slrec_parse(sx_slice line, sx_slrec *out)
{
    memset(out, 0, sizeof *out);
    parser p;
    SX_TRY(parser_init(&p, line));
    bool ok = parse_record(&p, out);
    sx_status st = parser_finish(&p, ok);
    if (st != SX_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    out->arena = p.arena;
    return SX_OK;
}

void sx_slrec_cleanup(sx_slrec *r)
{
    if (!r)
        return;
    free(r->arena);
    sx_wipe(r, sizeof *r);
}

/* ===========================================================================
 * Encoders (the reference's strEncode, byte for byte)
 * ======================================================================== */

/* Padded base64url, encoded in chunks of whole 3-byte groups. */
static bool put_b64(sx_writer *w, sx_slice s)
{
    char buf[1024 + 1];
    size_t off = 0;
    while (off < s.len) {
        size_t n = s.len - off > 768 ? 768 : s.len - off;
        if (sx_b64_encode(sx_slice_of(s.ptr + off, n), SX_B64_URL, buf, sizeof buf) != SX_OK)
            return sx_writer_fail(w, SX_E_INTERNAL);
        if (!sx_write_str(w, buf))
            return false;
        off += n;
    }
    return sx_writer_status(w) == SX_OK;
}

static bool put_id(sx_writer *w, const uint8_t *id) { return put_b64(w, sx_slice_of(id, SX_ID_LEN)); }

static bool put_key(sx_writer *w, const sx_qkey *k)
{
    const uint8_t *prefix = spki_prefix((sx_key_alg)k->alg);
    if (!prefix || k->len != sx_key_raw_len((sx_key_alg)k->alg))
        return sx_writer_fail(w, SX_E_USAGE);
    uint8_t der[SX_KEY_SPKI_MAX];
    memcpy(der, prefix, 12);
    memcpy(der + 12, k->raw, k->len);
    return put_b64(w, sx_slice_of(der, 12 + (size_t)k->len));
}

static bool put_keys(sx_writer *w, const sx_qkey *keys, size_t n)
{
    if (n == 0 || n > SX_MAX_RCV_KEYS)
        return sx_writer_fail(w, SX_E_USAGE);
    for (size_t i = 0; i < n; i++)
        if ((i && !sx_write_str(w, ",")) || !put_key(w, &keys[i]))
            return false;
    return true;
}

static bool put_int(sx_writer *w, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return sx_write_str(w, buf);
}

static bool put_char(sx_writer *w, uint8_t c) { return sx_write_u8(w, c); }

static bool put_block_info(sx_writer *w, sx_slice info)
{
    if (info.len == 0)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_slice(w, info);
}

static bool put_ntf_creds(sx_writer *w, const sx_slnotifier *n)
{
    put_id(w, n->id);
    sx_write_str(w, " ");
    put_key(w, &n->key);
    sx_write_str(w, " ");
    put_b64(w, sx_slice_of(n->dh_secret, SX_SL_DH_LEN));
    if (n->service.len) {
        sx_write_str(w, " nsrv=");
        put_b64(w, n->service);
    }
    return sx_writer_status(w) == SX_OK;
}

static bool put_queue_rec(sx_writer *w, const sx_slqueue *q)
{
    sx_write_str(w, "rk=");
    put_keys(w, q->rkeys, q->n_rkeys);
    sx_write_str(w, " rdh=");
    put_b64(w, sx_slice_of(q->dh_secret, SX_SL_DH_LEN));
    sx_write_str(w, " sid=");
    put_id(w, q->sid);
    sx_write_str(w, " sk=");
    if (q->skey.len)
        put_key(w, &q->skey);
    if (q->mode == 'M' || q->mode == 'C') {
        sx_write_str(w, " queue_mode=");
        put_char(w, q->mode);
    } else if (q->mode != 0) {
        return sx_writer_fail(w, SX_E_USAGE);
    }
    if (q->has_link) {
        sx_write_str(w, " link_id=");
        put_id(w, q->link_id);
        sx_write_str(w, " queue_data=");
        put_b64(w, q->link_fixed);
        sx_write_str(w, " ");
        put_b64(w, q->link_user);
    }
    if (q->has_notifier) {
        sx_write_str(w, " notifier=");
        put_ntf_creds(w, &q->ntf);
    }
    if (q->has_updated_at) {
        sx_write_str(w, " updated_at=");
        put_int(w, q->updated_at);
    }
    switch (q->status) {
    case SX_QUEUE_ACTIVE: break;
    case SX_QUEUE_OFF: sx_write_str(w, " status=off"); break;
    case SX_QUEUE_BLOCKED:
        sx_write_str(w, " status=blocked,");
        put_block_info(w, q->block_info);
        break;
    default: return sx_writer_fail(w, SX_E_USAGE);
    }
    if (q->rcv_service.len) {
        sx_write_str(w, " rsrv=");
        put_b64(w, q->rcv_service);
    }
    return sx_writer_status(w) == SX_OK;
}

static bool put_service(sx_writer *w, const sx_slservice *s)
{
    if (s->n_certs > SX_SL_CERTS_MAX || !s->role || !strchr("MNP", s->role))
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(w, "service_id=");
    put_b64(w, s->id);
    sx_write_str(w, " role=");
    put_char(w, s->role);
    sx_write_str(w, " cert=");
    for (size_t i = 0; i < s->n_certs; i++) {
        if (i)
            sx_write_str(w, ",");
        put_b64(w, s->certs[i]);
    }
    sx_write_str(w, " cert_hash=");
    put_b64(w, s->cert_hash);
    sx_write_str(w, " created_at=");
    put_int(w, s->created_at);
    return sx_writer_status(w) == SX_OK;
}

bool sx_slrec_encode(sx_writer *w, const sx_slrec *r)
{
    const char *tag = rec_tag(r->type);
    if (!tag)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(w, tag);
    sx_write_str(w, " ");
    switch (r->type) {
    case SX_SLREC_CREATE:
        sx_write_str(w, "rid=");
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_queue_rec(w, &r->q);
        break;
    case SX_SLREC_LINK:
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_id(w, r->q.link_id);
        sx_write_str(w, " ");
        put_b64(w, r->q.link_fixed);
        sx_write_str(w, " ");
        put_b64(w, r->q.link_user);
        break;
    case SX_SLREC_SECURE:
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_key(w, &r->q.skey);
        break;
    case SX_SLREC_KEYS:
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_keys(w, r->q.rkeys, r->q.n_rkeys);
        break;
    case SX_SLREC_NOTIFIER:
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_ntf_creds(w, &r->q.ntf);
        break;
    case SX_SLREC_BLOCK:
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_block_info(w, r->q.block_info);
        break;
    case SX_SLREC_TIME:
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_int(w, r->q.updated_at);
        break;
    case SX_SLREC_NEW_SERVICE:
        put_service(w, &r->svc);
        break;
    case SX_SLREC_QUEUE_SERVICE:
        if (r->party != 'R' && r->party != 'N')
            return sx_writer_fail(w, SX_E_USAGE);
        put_id(w, r->rid);
        sx_write_str(w, " ");
        put_char(w, r->party);
        sx_write_str(w, " ");
        put_b64(w, r->service);
        break;
    case SX_SLREC_LDELETE:
    case SX_SLREC_SUSPEND:
    case SX_SLREC_UNBLOCK:
    case SX_SLREC_DELETE:
    case SX_SLREC_NDELETE:
    default:
        put_id(w, r->rid);
        break;
    }
    return sx_writer_status(w) == SX_OK;
}

void sx_slrec_from_queue(const sx_queue *q, const sx_slservices *svc, sx_slrec *out)
{
    memset(out, 0, sizeof *out);
    out->type = SX_SLREC_CREATE;
    memcpy(out->rid, q->rid, SX_ID_LEN);
    sx_slqueue *rq = &out->q;
    rq->n_rkeys = q->n_rkeys;
    for (size_t i = 0; i < q->n_rkeys && i < SX_MAX_RCV_KEYS; i++)
        rq->rkeys[i] = *sx_queue_rkey(q, i);
    memcpy(rq->dh_secret, q->dh_secret, SX_SL_DH_LEN);
    memcpy(rq->sid, q->sid, SX_ID_LEN);
    rq->skey = q->skey;
    rq->mode = q->mode;
    if (q->link) {
        rq->has_link = true;
        memcpy(rq->link_id, q->link->id, SX_ID_LEN);
        rq->link_fixed = sx_slice_of(q->link->data, q->link->fixed_len);
        rq->link_user = sx_slice_of(q->link->data + q->link->fixed_len, q->link->user_len);
    }
    sx_slice rsrv = {0}, nsrv = {0};
    if (svc)
        sx_slservices_queue(svc, q->rid, &rsrv, &nsrv);
    if (q->notifier) {
        rq->has_notifier = true;
        memcpy(rq->ntf.id, q->notifier->id, SX_ID_LEN);
        rq->ntf.key = q->notifier->key;
        memcpy(rq->ntf.dh_secret, q->notifier->dh_secret, SX_SL_DH_LEN);
        rq->ntf.service = nsrv;
    }
    /* The store rounds updated_at to the day; 0 means never set. */
    rq->has_updated_at = q->updated_at != 0;
    rq->updated_at = q->updated_at;
    rq->status = q->status;
    if (q->status == SX_QUEUE_BLOCKED)
        rq->block_info = q->block_info ? sx_slice_str(q->block_info) : sx_slice_str("reason=spam");
    rq->rcv_service = rsrv;
}

/* ===========================================================================
 * Services beside the store
 * ======================================================================== */

typedef struct svc_entry {
    sx_slservice svc;
    uint8_t *mem;
} svc_entry;

typedef struct queue_svc {
    uint8_t rid[SX_ID_LEN];
    uint8_t rlen, nlen;
    uint8_t rsrv[SX_SL_SERVICE_ID_MAX];
    uint8_t nsrv[SX_SL_SERVICE_ID_MAX];
} queue_svc;

struct sx_slservices {
    svc_entry *svcs;
    size_t n, cap;
    queue_svc *qs; /* sorted by rid */
    size_t nq, qcap;
};

sx_status sx_slservices_new(sx_slservices **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? SX_OK : SX_E_NOMEM;
}

void sx_slservices_free(sx_slservices *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->svcs[i].mem);
    free(s->svcs);
    free(s->qs);
    free(s);
}

size_t sx_slservices_count(const sx_slservices *s) { return s ? s->n : 0; }

const sx_slservice *sx_slservices_at(const sx_slservices *s, size_t i)
{
    return i < s->n ? &s->svcs[i].svc : NULL;
}

static sx_slice copy_into(uint8_t **dst, sx_slice src)
{
    sx_slice out = sx_slice_of(*dst, src.len);
    if (src.len)
        memcpy(*dst, src.ptr, src.len);
    *dst += src.len;
    return out;
}

sx_status sx_slservices_add(sx_slservices *s, const sx_slservice *svc, sx_slice *existing_id)
{
    if (existing_id)
        *existing_id = sx_slice_of(NULL, 0);
    SX_ENSURE(svc->id.len > 0 && svc->n_certs <= SX_SL_CERTS_MAX, SX_E_USAGE);
    SX_ENSURE(svc->id.len <= SX_SL_SERVICE_ID_MAX, SX_E_LIMIT);
    for (size_t i = 0; i < s->n; i++) {
        const sx_slservice *e = &s->svcs[i].svc;
        if (sx_slice_eq(e->cert_hash, svc->cert_hash)) {
            if (e->role != svc->role)
                return SX_E_AUTH;
            if (existing_id)
                *existing_id = e->id;
            return SX_OK;
        }
    }
    for (size_t i = 0; i < s->n; i++)
        if (sx_slice_eq(s->svcs[i].svc.id, svc->id))
            return SX_E_AUTH;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        svc_entry *n = realloc(s->svcs, cap * sizeof *n);
        if (!n)
            return SX_E_NOMEM;
        s->svcs = n;
        s->cap = cap;
    }
    size_t total = svc->id.len + svc->cert_hash.len;
    for (size_t i = 0; i < svc->n_certs; i++)
        total += svc->certs[i].len;
    uint8_t *mem = malloc(total ? total : 1), *p = mem;
    if (!mem)
        return SX_E_NOMEM;
    svc_entry *e = &s->svcs[s->n++];
    e->mem = mem;
    e->svc = *svc;
    e->svc.id = copy_into(&p, svc->id);
    for (size_t i = 0; i < svc->n_certs; i++)
        e->svc.certs[i] = copy_into(&p, svc->certs[i]);
    e->svc.cert_hash = copy_into(&p, svc->cert_hash);
    return SX_OK;
}

/* Index of rid in s->qs, or where it would go (*found false). */
static size_t qs_find(const sx_slservices *s, const uint8_t rid[SX_ID_LEN], bool *found)
{
    size_t lo = 0, hi = s->nq;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->qs[mid].rid, rid, SX_ID_LEN);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void qs_remove(sx_slservices *s, size_t i)
{
    memmove(&s->qs[i], &s->qs[i + 1], (s->nq - i - 1) * sizeof s->qs[0]);
    s->nq--;
}

sx_status sx_slservices_set_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN], uint8_t party, sx_slice service)
{
    SX_ENSURE(party == 'R' || party == 'N', SX_E_USAGE);
    SX_ENSURE(service.len <= SX_SL_SERVICE_ID_MAX, SX_E_LIMIT);
    bool found;
    size_t i = qs_find(s, rid, &found);
    if (!found) {
        if (service.len == 0)
            return SX_OK;
        if (s->nq == s->qcap) {
            size_t cap = s->qcap ? s->qcap * 2 : 16;
            queue_svc *n = realloc(s->qs, cap * sizeof *n);
            if (!n)
                return SX_E_NOMEM;
            s->qs = n;
            s->qcap = cap;
        }
        memmove(&s->qs[i + 1], &s->qs[i], (s->nq - i) * sizeof s->qs[0]);
        s->nq++;
        memset(&s->qs[i], 0, sizeof s->qs[i]);
        memcpy(s->qs[i].rid, rid, SX_ID_LEN);
    }
    queue_svc *e = &s->qs[i];
    if (party == 'R') {
        e->rlen = (uint8_t)service.len;
        if (service.len)
            memcpy(e->rsrv, service.ptr, service.len);
    } else {
        e->nlen = (uint8_t)service.len;
        if (service.len)
            memcpy(e->nsrv, service.ptr, service.len);
    }
    if (!e->rlen && !e->nlen)
        qs_remove(s, i);
    return SX_OK;
}

void sx_slservices_queue(const sx_slservices *s, const uint8_t rid[SX_ID_LEN], sx_slice *rsrv, sx_slice *nsrv)
{
    *rsrv = *nsrv = sx_slice_of(NULL, 0);
    bool found;
    size_t i = qs_find(s, rid, &found);
    if (!found)
        return;
    *rsrv = sx_slice_of(s->qs[i].rsrv, s->qs[i].rlen);
    *nsrv = sx_slice_of(s->qs[i].nsrv, s->qs[i].nlen);
}

void sx_slservices_forget_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN])
{
    bool found;
    size_t i = qs_find(s, rid, &found);
    if (found)
        qs_remove(s, i);
}

/* ===========================================================================
 * Replay into the store (PROTOCOL-NOTES E26)
 * ======================================================================== */

static void queue_discard(sx_queue *q)
{
    free(q->extra_rkeys);
    if (q->notifier) {
        sx_wipe(q->notifier, sizeof *q->notifier);
        free(q->notifier);
    }
    if (q->link) {
        free(q->link->data);
        free(q->link);
    }
    free(q->block_info);
    sx_wipe(q->dh_secret, sizeof q->dh_secret);
    free(q);
}

static char *dup_text(sx_slice s)
{
    char *t = malloc(s.len + 1);
    if (t) {
        if (s.len)
            memcpy(t, s.ptr, s.len);
        t[s.len] = 0;
    }
    return t;
}

static sx_link *link_copy(const uint8_t id[SX_ID_LEN], sx_slice fixed, sx_slice user)
{
    sx_link *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->data = malloc(fixed.len + user.len + 1);
    if (!l->data) {
        free(l);
        return NULL;
    }
    memcpy(l->id, id, SX_ID_LEN);
    if (fixed.len)
        memcpy(l->data, fixed.ptr, fixed.len);
    if (user.len)
        memcpy(l->data + fixed.len, user.ptr, user.len);
    l->fixed_len = (uint16_t)fixed.len;
    l->user_len = (uint16_t)user.len;
    return l;
}

static sx_status queue_from_rec(const sx_slrec *r, sx_queue **out)
{
    *out = NULL;
    const sx_slqueue *rq = &r->q;
    SX_ENSURE(rq->n_rkeys >= 1 && rq->n_rkeys <= SX_MAX_RCV_KEYS, SX_E_USAGE);
    SX_ENSURE(!rq->has_link || (rq->link_fixed.len <= SX_LINK_DATA_MAX && rq->link_user.len <= SX_LINK_DATA_MAX),
              SX_E_LIMIT);
    sx_queue *q = calloc(1, sizeof *q);
    if (!q)
        return SX_E_NOMEM;
    memcpy(q->rid, r->rid, SX_ID_LEN);
    memcpy(q->sid, rq->sid, SX_ID_LEN);
    memcpy(q->dh_secret, rq->dh_secret, SX_SL_DH_LEN);
    q->mode = rq->mode;
    q->status = rq->status;
    q->n_rkeys = rq->n_rkeys;
    q->rkeys[0] = rq->rkeys[0];
    q->skey = rq->skey;
    q->updated_at = rq->has_updated_at ? rq->updated_at : 0;
    if (rq->n_rkeys > 1) {
        q->extra_rkeys = malloc((rq->n_rkeys - 1u) * sizeof *q->extra_rkeys);
        if (!q->extra_rkeys)
            goto nomem;
        memcpy(q->extra_rkeys, rq->rkeys + 1, (rq->n_rkeys - 1u) * sizeof *q->extra_rkeys);
    }
    if (rq->has_notifier) {
        q->notifier = calloc(1, sizeof *q->notifier);
        if (!q->notifier)
            goto nomem;
        memcpy(q->notifier->id, rq->ntf.id, SX_ID_LEN);
        q->notifier->key = rq->ntf.key;
        memcpy(q->notifier->dh_secret, rq->ntf.dh_secret, SX_SL_DH_LEN);
    }
    if (rq->has_link && !(q->link = link_copy(rq->link_id, rq->link_fixed, rq->link_user)))
        goto nomem;
    if (rq->status == SX_QUEUE_BLOCKED && !(q->block_info = dup_text(rq->block_info)))
        goto nomem;
    *out = q;
    return SX_OK;
nomem:
    queue_discard(q);
    return SX_E_NOMEM;
}

static void set_status(sx_queue *q, uint8_t status, sx_slice info, sx_status *st)
{
    char *text = NULL;
    if (status == SX_QUEUE_BLOCKED && !(text = dup_text(info))) {
        *st = SX_E_NOMEM;
        return;
    }
    free(q->block_info);
    q->block_info = text;
    q->status = status;
}

/* One update of an existing queue; the queue lock held. */
static sx_status apply_update(sx_store *st, sx_slservices *svc, sx_queue *q, const sx_slrec *r)
{
    const sx_slqueue *rq = &r->q;
    sx_status res = SX_OK;
    switch (r->type) {
    case SX_SLREC_LINK: {
        /* New link data, or new user data under the same link id and fixed data. */
        if (q->link && !(memcmp(q->link->id, rq->link_id, SX_ID_LEN) == 0 &&
                         sx_slice_eq(sx_slice_of(q->link->data, q->link->fixed_len), rq->link_fixed)))
            return SX_E_AUTH;
        if (rq->link_fixed.len > SX_LINK_DATA_MAX || rq->link_user.len > SX_LINK_DATA_MAX)
            return SX_E_LIMIT;
        return sx_store_set_link(st, q, sx_slice_of(rq->link_id, SX_ID_LEN), rq->link_fixed, rq->link_user);
    }
    case SX_SLREC_LDELETE:
        sx_store_delete_link(st, q);
        return SX_OK;
    case SX_SLREC_SECURE:
        if (q->skey.len)
            return sx_qkey_equal(&q->skey, &rq->skey) ? SX_OK : SX_E_AUTH;
        q->skey = rq->skey;
        return SX_OK;
    case SX_SLREC_KEYS:
        return sx_queue_set_rkeys(q, rq->rkeys, rq->n_rkeys);
    case SX_SLREC_NOTIFIER: {
        sx_notifier n;
        memcpy(n.id, rq->ntf.id, SX_ID_LEN);
        n.key = rq->ntf.key;
        memcpy(n.dh_secret, rq->ntf.dh_secret, SX_SL_DH_LEN);
        res = sx_store_set_notifier(st, q, &n);
        sx_wipe(&n, sizeof n);
        if (res == SX_OK && svc)
            res = sx_slservices_set_queue(svc, q->rid, 'N', rq->ntf.service);
        return res;
    }
    case SX_SLREC_SUSPEND:
        set_status(q, SX_QUEUE_OFF, rq->block_info, &res);
        return res;
    case SX_SLREC_BLOCK:
        set_status(q, SX_QUEUE_BLOCKED, rq->block_info, &res);
        return res;
    case SX_SLREC_UNBLOCK:
        set_status(q, SX_QUEUE_ACTIVE, rq->block_info, &res);
        return res;
    case SX_SLREC_DELETE:
        sx_store_delete(st, q);
        if (svc)
            sx_slservices_forget_queue(svc, q->rid);
        return SX_OK;
    case SX_SLREC_NDELETE:
        sx_store_delete_notifier(st, q);
        if (svc)
            res = sx_slservices_set_queue(svc, q->rid, 'N', sx_slice_of(NULL, 0));
        return res;
    case SX_SLREC_TIME:
        q->updated_at = rq->updated_at;
        return SX_OK;
    case SX_SLREC_QUEUE_SERVICE:
        if (r->party == 'N' && !q->notifier)
            return SX_E_AUTH;
        return svc ? sx_slservices_set_queue(svc, q->rid, r->party, r->service) : SX_OK;
    case SX_SLREC_CREATE:
    case SX_SLREC_NEW_SERVICE:
    default:
        return SX_E_USAGE;
    }
}

sx_status sx_storelog_apply(sx_store *st, sx_slservices *svc, const sx_slrec *r, const sx_kit_log_opts *o)
{
    char idt[SX_SL_SERVICE_ID_MAX * 2];
    const char *tag = rec_tag(r->type);
    if (!tag)
        return SX_E_USAGE;
    if (r->type == SX_SLREC_NEW_SERVICE) {
        if (!svc)
            return SX_OK;
        sx_slice existing;
        sx_status res = sx_slservices_add(svc, &r->svc, &existing);
        if (res != SX_OK)
            report(o, "STORE: NEW_SERVICE, stored service %s, %s", id_text(r->svc.id.ptr, r->svc.id.len, idt),
                   sx_status_str(res));
        else if (existing.len && !sx_slice_eq(existing, r->svc.id))
            report(o, "STORE: NEW_SERVICE, stored service %s, created with the wrong ID",
                   id_text(r->svc.id.ptr, r->svc.id.len, idt));
        return res;
    }
    if (r->type == SX_SLREC_CREATE) {
        sx_queue *q;
        sx_status res = queue_from_rec(r, &q);
        if (res == SX_OK)
            res = sx_store_insert(st, q); /* takes q; SX_E_PROTOCOL on an id clash */
        if (res == SX_OK && svc) {
            if (r->q.rcv_service.len)
                res = sx_slservices_set_queue(svc, r->rid, 'R', r->q.rcv_service);
            if (res == SX_OK && r->q.has_notifier && r->q.ntf.service.len)
                res = sx_slservices_set_queue(svc, r->rid, 'N', r->q.ntf.service);
        }
        if (res != SX_OK) {
            report(o, "STORE: %s, stored queue %s, %s", tag, id_text(r->rid, SX_ID_LEN, idt),
                   res == SX_E_PROTOCOL ? "duplicate id" : sx_status_str(res));
            return res == SX_E_PROTOCOL ? SX_E_AUTH : res;
        }
        return SX_OK;
    }
    sx_queue *q = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(r->rid, SX_ID_LEN));
    if (!q) {
        report(o, "STORE: %s, stored queue %s, unknown or deleted queue", tag, id_text(r->rid, SX_ID_LEN, idt));
        return SX_E_AUTH;
    }
    sx_queue_lock(q);
    sx_status res = apply_update(st, svc, q, r);
    sx_queue_unlock(q);
    sx_queue_release(st, q);
    if (res != SX_OK)
        report(o, "STORE: %s, stored queue %s, %s", tag, id_text(r->rid, SX_ID_LEN, idt), sx_status_str(res));
    return res;
}

sx_status sx_storelog_replay(const char *path, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *o,
                             sx_slreplay_stats *stats)
{
    sx_slreplay_stats s = {0};
    if (stats)
        *stats = s;
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open(&lr, path, &missing);
    if (res != SX_OK)
        return missing ? SX_OK : res;
    /* A CREATE line takes about 230 bytes (200 at the least): size the maps
     * once, for no more queues than the log can hold. */
    struct stat sb;
    if (fstat(lr.fd, &sb) == 0 && sb.st_size > 0 && sx_store_reserve(st, (size_t)sb.st_size / 200) != SX_OK) {
    }
    for (;;) {
        bool got, too_long;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        s.lines++;
        sx_slice line = sx_slice_of(lr.line, lr.len);
        char ex[SX_KIT_EXCERPT_SIZE];
        sx_slrec rec;
        sx_status pst = too_long ? SX_E_LIMIT : sx_slrec_parse(line, &rec);
        if (pst == SX_E_NOMEM) {
            res = pst;
            break;
        }
        if (pst != SX_OK) {
            report(o, "Error parsing log: %s - %s", sx_status_str(pst), sx_kit_line_excerpt(line, ex));
            s.bad_lines++;
            continue;
        }
        sx_status ast = sx_storelog_apply(st, svc, &rec, o);
        sx_slrec_cleanup(&rec);
        if (ast == SX_E_NOMEM) {
            res = ast;
            break;
        }
        if (ast == SX_OK)
            s.applied++;
        else
            s.skipped++;
    }
    sx_kit_linereader_close(&lr);
    if (stats)
        *stats = s;
    return res;
}

/* ---- appends ---- */

sx_status sx_storelog_append(sx_kit_log *log, const sx_slrec *r)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_KIT_LINE_MAX);
    sx_status st = sx_slrec_encode(&w, r) ? SX_OK : sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_kit_log_append_line(log, sx_writer_slice(&w));
    sx_writer_cleanup(&w);
    return st;
}

static bool encode_rec(sx_writer *w, const void *rec) { return sx_slrec_encode(w, rec); }

uint64_t sx_storelog_submit(sx_kit_logwriter *lw, const sx_slrec *r)
{
    return sx_kit_logwriter_submit(lw, encode_rec, r);
}

/* ---- snapshot (compaction) ---- */

typedef struct snap_ctx {
    sx_store *st;
    const sx_slservices *svc;
    sx_kit_linebuf *b;
} snap_ctx;

static void snap_queue(sx_queue *q, void *arg)
{
    snap_ctx *c = arg;
    if (c->b->err != SX_OK)
        return;
    sx_queue_lock(q);
    sx_slrec rec;
    sx_slrec_from_queue(q, c->svc, &rec);
    size_t start = c->b->w.len;
    bool ok = sx_slrec_encode(&c->b->w, &rec);
    sx_queue_unlock(q);
    sx_wipe(&rec, sizeof rec);
    sx_kit_linebuf_end_line(c->b, start, ok);
}

/* The services' records, then one CREATE per live queue. */
static void fill_snapshot(sx_kit_linebuf *b, void *arg)
{
    snap_ctx *c = arg;
    c->b = b;
    for (size_t i = 0; i < sx_slservices_count(c->svc) && b->err == SX_OK; i++) {
        sx_slrec rec;
        memset(&rec, 0, sizeof rec);
        rec.type = SX_SLREC_NEW_SERVICE;
        rec.svc = *sx_slservices_at(c->svc, i);
        size_t start = b->w.len;
        sx_kit_linebuf_end_line(b, start, sx_slrec_encode(&b->w, &rec));
    }
    if (b->err == SX_OK && sx_store_each(c->st, snap_queue, c) != SX_OK)
        b->err = SX_E_NOMEM;
}

sx_status sx_storelog_write_snapshot(sx_kit_log *log, sx_store *st, const sx_slservices *svc)
{
    snap_ctx c = {.st = st, .svc = svc};
    return sx_kit_log_write_snapshot(log, fill_snapshot, &c);
}

/* The queue store as a log owner. */
typedef struct queue_owner {
    sx_store *st;
    sx_slservices *svc;
    const sx_kit_log_opts *o;
    sx_slreplay_stats *stats;
} queue_owner;

static sx_status queue_replay(void *ctx, const char *path)
{
    queue_owner *q = ctx;
    return sx_storelog_replay(path, q->st, q->svc, q->o, q->stats);
}

static sx_status queue_snapshot(void *ctx, sx_kit_log *log)
{
    queue_owner *q = ctx;
    return sx_storelog_write_snapshot(log, q->st, q->svc);
}

sx_status sx_storelog_start(const char *path, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *o,
                            sx_slreplay_stats *stats, sx_kit_log **out)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    queue_owner q = {.st = st, .svc = svc, .o = o, .stats = stats};
    sx_kit_log_owner owner = {.ctx = &q, .replay = queue_replay, .snapshot = queue_snapshot};
    return sx_kit_log_start(path, o, &owner, out);
}

/* ===========================================================================
 * Message lines (PROTOCOL-NOTES E27)
 * ======================================================================== */

static bool parse_msg(parser *p, sx_slmsg *m)
{
    sx_reader *r = &p->r;
    expect(r, "v3 ");
    read_fixed(r, m->rid, SX_ID_LEN);
    expect(r, " ");
    read_fixed(r, m->msg_id, SX_ID_LEN);
    expect(r, " ");
    read_int(r, &m->ts);
    expect(r, " ");
    if (try_lit(r, "quota")) {
        m->quota = true;
        return sx_reader_ok(r);
    }
    if (try_lit(r, "flags=")) {
        uint8_t f = 0;
        sx_slice rest;
        read_char_of(r, "TF", &f);
        take_while(r, is_not_space, &rest); /* room for more flags */
        expect(r, " ");
        m->notify = f == 'T';
        if (at_end(r))
            return true; /* empty body */
    }
    read_data(p, SX_MSG_BODY_MAX, &m->body);
    return sx_reader_ok(r);
}

sx_status sx_slmsg_parse(sx_slice line, sx_slmsg *out)
{
    memset(out, 0, sizeof *out);
    parser p;
    SX_TRY(parser_init(&p, line));
    bool ok = parse_msg(&p, out);
    sx_status st = parser_finish(&p, ok);
    if (st != SX_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    out->arena = p.arena;
    return SX_OK;
}

void sx_slmsg_cleanup(sx_slmsg *m)
{
    if (!m)
        return;
    if (m->arena) {
        sx_wipe(m->arena, m->body.len);
        free(m->arena);
    }
    memset(m, 0, sizeof *m);
}

bool sx_slmsg_encode(sx_writer *w, const sx_slmsg *m)
{
    sx_write_str(w, "v3 ");
    put_id(w, m->rid);
    sx_write_str(w, " ");
    put_id(w, m->msg_id);
    sx_write_str(w, " ");
    put_int(w, m->ts);
    if (m->quota)
        return sx_write_str(w, " quota");
    sx_write_str(w, m->notify ? " flags=T " : " flags=F ");
    if (m->body.len > SX_MSG_BODY_MAX)
        return sx_writer_fail(w, SX_E_LIMIT);
    return put_b64(w, m->body);
}

static void save_queue_msgs(sx_queue *q, void *arg)
{
    sx_kit_linebuf *ob = arg;
    if (ob->err != SX_OK)
        return;
    sx_queue_lock(q);
    for (const sx_msg *m = q->head; m && ob->err == SX_OK; m = m->next) {
        sx_slmsg rec = {0};
        memcpy(rec.rid, q->rid, SX_ID_LEN);
        memcpy(rec.msg_id, m->id, SX_ID_LEN);
        rec.ts = m->ts;
        rec.quota = m->quota;
        rec.notify = m->notify;
        rec.body = sx_slice_of(m->body, m->len);
        size_t start = ob->w.len;
        sx_kit_linebuf_end_line(ob, start, sx_slmsg_encode(&ob->w, &rec));
    }
    sx_queue_unlock(q);
}

static void fill_msgs(sx_kit_linebuf *ob, void *arg)
{
    if (sx_store_each((sx_store *)arg, save_queue_msgs, ob) != SX_OK && ob->err == SX_OK)
        ob->err = SX_E_NOMEM;
}

sx_status sx_msglog_save(const char *path, sx_store *st, size_t *saved)
{
    return sx_kit_save_lines(path, fill_msgs, st, saved);
}

/* PROTOCOL-NOTES E27 restore rules for one message; the queue lock held. Returns
 * false when the message was not restored (reported). */
static bool restore_one(sx_queue *q, const sx_slmsg *m, const sx_msglog_opts *o, sx_msglog_stats *s,
                        sx_status *err)
{
    char idt[SX_SL_SERVICE_ID_MAX * 2];
    *err = SX_OK;
    if (m->quota) {
        /* A marker at the head is replaced by this one. */
        if (q->head && q->head->quota) {
            uint8_t id[SX_ID_LEN];
            memcpy(id, q->head->id, SX_ID_LEN);
            sx_queue_remove_head(q, id);
        }
        if (q->tail && q->tail->quota) {
            mreport(o, "message queue %s is full, quota marker not restored", id_text(q->rid, SX_ID_LEN, idt));
            s->dropped++;
            return false;
        }
        *err = sx_queue_append_restored(q, m->msg_id, m->ts, false, true, sx_slice_of(NULL, 0));
        return *err == SX_OK;
    }
    if (o && o->expire && m->ts < o->expire_before) {
        s->expired++;
        return false;
    }
    if ((q->tail && q->tail->quota) || q->n_msgs >= SX_QUEUE_QUOTA) {
        /* Over quota: the reference stores a marker (once) instead. */
        if (!(q->tail && q->tail->quota))
            *err = sx_queue_append_restored(q, m->msg_id, m->ts, false, true, sx_slice_of(NULL, 0));
        mreport(o, "message queue %s is full, message not restored", id_text(q->rid, SX_ID_LEN, idt));
        s->dropped++;
        return false;
    }
    *err = sx_queue_append_restored(q, m->msg_id, m->ts, m->notify, false, m->body);
    if (*err == SX_OK)
        s->stored++;
    return *err == SX_OK;
}

/* A warning stops the restore unless skip_warnings (the reference's warnOrExit). */
static bool warn_or_stop(const sx_msglog_opts *o, const char *what, sx_slice line)
{
    char ex[SX_KIT_EXCERPT_SIZE];
    if (o && o->skip_warnings) {
        mreport(o, "warning restoring messages: %s: %s", what, sx_kit_line_excerpt(line, ex));
        return false;
    }
    mreport(o, "warning restoring messages: %s: %s, start with --skip-warnings option to ignore this error", what,
            sx_kit_line_excerpt(line, ex));
    return true;
}

sx_status sx_msglog_restore(const char *path, sx_store *st, const sx_msglog_opts *o, sx_msglog_stats *stats)
{
    sx_msglog_stats s = {0};
    if (stats)
        *stats = s;
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open(&lr, path, &missing);
    if (res != SX_OK)
        return missing ? SX_OK : res;
    sx_queue *q = NULL; /* the queue of the previous line, usually the same */
    for (;;) {
        bool got, too_long, more;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        if ((res = sx_kit_linereader_more(&lr, &more)) != SX_OK)
            break;
        sx_slice line = sx_slice_of(lr.line, lr.len);
        char ex[SX_KIT_EXCERPT_SIZE];
        sx_slmsg m;
        sx_status pst = too_long ? SX_E_LIMIT : sx_slmsg_parse(line, &m);
        if (pst == SX_E_NOMEM) {
            res = pst;
            break;
        }
        if (pst != SX_OK) {
            if (!more) {
                if (warn_or_stop(o, "parsing error", line)) {
                    res = SX_E_PROTOCOL;
                    break;
                }
                continue;
            }
            mreport(o, "error restoring messages: parsing error (%s): %s", sx_status_str(pst),
                    sx_kit_line_excerpt(line, ex));
            res = SX_E_PROTOCOL;
            break;
        }
        if (!q || memcmp(q->rid, m.rid, SX_ID_LEN) != 0) {
            sx_queue_release(st, q);
            q = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(m.rid, SX_ID_LEN));
        }
        if (!q) {
            s.dropped++;
            sx_slmsg_cleanup(&m);
            if (warn_or_stop(o, "queue does not exist", line)) {
                res = SX_E_PROTOCOL;
                break;
            }
            continue;
        }
        sx_status err;
        sx_queue_lock(q);
        restore_one(q, &m, o, &s, &err);
        sx_queue_unlock(q);
        sx_slmsg_cleanup(&m);
        if (err != SX_OK) {
            mreport(o, "error restoring messages: %s: %s", sx_status_str(err), sx_kit_line_excerpt(line, ex));
            res = err;
            break;
        }
    }
    sx_queue_release(st, q);
    sx_kit_linereader_close(&lr);
    if (res == SX_OK) {
        char *bak = sx_kit_path_with(path, ".bak");
        if (!bak)
            res = SX_E_NOMEM;
        else if (rename(path, bak) != 0)
            res = SX_E_IO;
        free(bak);
    }
    if (stats)
        *stats = s;
    return res;
}

/* ===========================================================================
 * Notification lines (PROTOCOL-NOTES E28)
 * ======================================================================== */

static bool parse_ntf(parser *p, sx_ntfrec *n)
{
    sx_reader *r = &p->r;
    expect(r, "v1 ");
    read_fixed(r, n->nid, SX_ID_LEN);
    expect(r, " ");
    read_fixed(r, n->msg_id, SX_ID_LEN);
    expect(r, " ");
    read_int(r, &n->ts);
    expect(r, " ");
    /* CbNonce: whatever length is given is cut or zero-padded to 24. */
    sx_slice nonce;
    if (read_data(p, SIZE_MAX, &nonce)) {
        memset(n->nonce, 0, sizeof n->nonce);
        memcpy(n->nonce, nonce.ptr, nonce.len < SX_NTF_NONCE_LEN ? nonce.len : SX_NTF_NONCE_LEN);
    }
    expect(r, " ");
    read_data(p, SX_NTF_META_MAX, &n->meta);
    return sx_reader_ok(r);
}

sx_status sx_ntfrec_parse(sx_slice line, sx_ntfrec *out)
{
    memset(out, 0, sizeof *out);
    parser p;
    SX_TRY(parser_init(&p, line));
    bool ok = parse_ntf(&p, out);
    sx_status st = parser_finish(&p, ok);
    if (st != SX_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    out->arena = p.arena;
    return SX_OK;
}

void sx_ntfrec_cleanup(sx_ntfrec *n)
{
    if (!n)
        return;
    free(n->arena);
    memset(n, 0, sizeof *n);
}

bool sx_ntfrec_encode(sx_writer *w, const sx_ntfrec *n)
{
    if (n->meta.len == 0 || n->meta.len > SX_NTF_META_MAX)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(w, "v1 ");
    put_id(w, n->nid);
    sx_write_str(w, " ");
    put_id(w, n->msg_id);
    sx_write_str(w, " ");
    put_int(w, n->ts);
    sx_write_str(w, " ");
    put_b64(w, sx_slice_of(n->nonce, SX_NTF_NONCE_LEN));
    sx_write_str(w, " ");
    return put_b64(w, n->meta);
}

void sx_ntf_list_init(sx_ntf_list *l) { memset(l, 0, sizeof *l); }

void sx_ntf_list_cleanup(sx_ntf_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].arena);
    free(l->items);
    memset(l, 0, sizeof *l);
}

sx_status sx_ntf_list_add(sx_ntf_list *l, const sx_ntfrec *n)
{
    SX_ENSURE(n->meta.len > 0 && n->meta.len <= SX_NTF_META_MAX, SX_E_LIMIT);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        sx_ntfrec *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return SX_E_NOMEM;
        l->items = items;
        l->cap = cap;
    }
    uint8_t *meta = malloc(n->meta.len);
    if (!meta)
        return SX_E_NOMEM;
    memcpy(meta, n->meta.ptr, n->meta.len);
    sx_ntfrec *e = &l->items[l->n++];
    *e = *n;
    e->meta = sx_slice_of(meta, n->meta.len);
    e->arena = meta;
    return SX_OK;
}

static void fill_ntfs(sx_kit_linebuf *ob, void *arg)
{
    const sx_ntf_list *l = arg;
    for (size_t i = 0; i < l->n && ob->err == SX_OK; i++) {
        size_t start = ob->w.len;
        sx_kit_linebuf_end_line(ob, start, sx_ntfrec_encode(&ob->w, &l->items[i]));
    }
}

sx_status sx_ntflog_save(const char *path, const sx_ntf_list *l)
{
    return sx_kit_save_lines(path, fill_ntfs, (void *)l, NULL);
}

sx_status sx_ntflog_restore(const char *path, const sx_msglog_opts *o, sx_ntf_list *l, sx_msglog_stats *stats)
{
    sx_msglog_stats s = {0};
    if (stats)
        *stats = s;
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open(&lr, path, &missing);
    if (res != SX_OK)
        return missing ? SX_OK : res;
    for (;;) {
        bool got, too_long;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        sx_slice line = sx_slice_of(lr.line, lr.len);
        sx_ntfrec n;
        sx_status pst = too_long ? SX_E_LIMIT : sx_ntfrec_parse(line, &n);
        if (pst != SX_OK) {
            char ex[SX_KIT_EXCERPT_SIZE];
            mreport(o, "error restoring notifications: parsing error (%s): %s", sx_status_str(pst),
                    sx_kit_line_excerpt(line, ex));
            res = pst == SX_E_NOMEM ? pst : SX_E_PROTOCOL;
            break;
        }
        if (o && o->expire && n.ts < o->expire_before) {
            s.expired++;
        } else {
            res = sx_ntf_list_add(l, &n);
            s.stored++;
        }
        sx_ntfrec_cleanup(&n);
        if (res != SX_OK)
            break;
    }
    sx_kit_linereader_close(&lr);
    if (res == SX_OK) {
        char *bak = sx_kit_path_with(path, ".bak");
        if (!bak)
            res = SX_E_NOMEM;
        else if (rename(path, bak) != 0)
            res = SX_E_IO;
        free(bak);
    }
    if (stats)
        *stats = s;
    return res;
}
