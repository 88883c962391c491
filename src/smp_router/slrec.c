/* SMP store-log records (PROTOCOL-NOTES E25): parser and encoder (see
 * slrec.h). */
#include "smp_router/slrec.h"

#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp_router/json.h"
#include "smp_router/sltext.h"

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

sx_status sx_qkey_from_spki(sx_slice der, sx_qkey *k)
{
    memset(k, 0, sizeof *k);
    sx_key_alg alg;
    if (der.len > SX_KEY_SPKI_MAX || sx_key_check_public(der, SX_KEY_AUTH_ALGS, &alg) != SX_OK)
        return SX_E_PROTOCOL;
    size_t raw = sx_key_raw_len(alg);
    if (raw > der.len || raw > sizeof k->raw)
        return SX_E_PROTOCOL;
    k->alg = (uint8_t)alg;
    k->len = (uint8_t)raw;
    memcpy(k->raw, der.ptr + (der.len - raw), raw);
    return SX_OK;
}

sx_status sx_qkey_to_spki(const sx_qkey *k, uint8_t der[SX_KEY_SPKI_MAX], size_t *n)
{
    const uint8_t *prefix = spki_prefix((sx_key_alg)k->alg);
    if (!prefix || k->len != sx_key_raw_len((sx_key_alg)k->alg) || 12 + (size_t)k->len > SX_KEY_SPKI_MAX)
        return SX_E_USAGE;
    memcpy(der, prefix, 12);
    memcpy(der + 12, k->raw, k->len);
    *n = 12 + (size_t)k->len;
    return SX_OK;
}

/* An APublicAuthKey from its base64url DER text (PROTOCOL-NOTES A24). */
static bool key_from_text(sx_reader *r, sx_slice tok, sx_qkey *k)
{
    memset(k, 0, sizeof *k);
    uint8_t der[SX_KEY_SPKI_MAX];
    size_t n;
    if (!sx_slt_decode_to(r, tok, der, sizeof der, &n))
        return false;
    if (sx_qkey_from_spki(sx_slice_of(der, n), k) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
}

static bool read_key(sx_reader *r, sx_qkey *k)
{
    sx_slice tok;
    return sx_slt_b64_token(r, &tok) && key_from_text(r, tok, k);
}

/* NonEmpty list of keys, comma-separated. */
static bool read_key_list(sx_reader *r, sx_qkey *keys, uint8_t *n)
{
    *n = 0;
    do {
        sx_slice item;
        sx_slt_take_while(r, sx_slt_is_item, &item);
        if (*n == SX_MAX_RCV_KEYS)
            return sx_reader_fail(r, SX_E_LIMIT);
        if (!key_from_text(r, item, &keys[*n]))
            return false;
        (*n)++;
    } while (sx_slt_try_lit(r, ","));
    return sx_reader_ok(r);
}

static bool read_service_id(sx_slt_parser *p, sx_slice *out)
{
    return sx_slt_read_data(p, SX_SL_SERVICE_ID_MAX, out);
}

/* BlockingInfo: "reason=" spam|content [",notice=" <JSON object>]. The
 * reference lets the notice run to the end of the input; we end it where its
 * JSON ends (trailing JSON whitespace at the end of the line is allowed). */
static bool read_block_info(sx_slt_parser *p, sx_slice *out)
{
    sx_reader *r = &p->r;
    sx_reader start = *r;
    if (!sx_slt_expect(r, "reason="))
        return false;
    if (!sx_slt_try_lit(r, "spam") && !sx_slt_try_lit(r, "content"))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (sx_slt_try_lit(r, ",notice=")) {
        uint8_t c = 0;
        if (!sx_slt_peek(r, &c) || c != '{')
            return sx_reader_fail(r, SX_E_PROTOCOL);
        if (!sx_json_value(r))
            return false;
    }
    if (!sx_reader_ok(r))
        return false;
    sx_slice text;
    sx_read_bytes(&start, sx_reader_remaining(&start) - sx_reader_remaining(r), &text);
    if (!sx_slt_copy_arena(p, text, out))
        return false;
    sx_reader probe = *r;
    sx_json_ws(&probe);
    if (sx_slt_at_end(&probe) && out->len > 0 && out->ptr[out->len - 1] == '}')
        *r = probe;
    return true;
}

/* ===========================================================================
 * Parse
 * ======================================================================== */

/* NtfCreds: <nId> <nKey> <dh>[ nsrv=<serviceId>] */
static bool parse_ntf_creds(sx_slt_parser *p, sx_slnotifier *n)
{
    sx_reader *r = &p->r;
    sx_slt_read_fixed(r, n->id, SX_ID_LEN);
    sx_slt_expect(r, " ");
    read_key(r, &n->key);
    sx_slt_expect(r, " ");
    sx_slt_read_fixed(r, n->dh_secret, SX_SL_DH_LEN);
    if (sx_slt_try_lit(r, " nsrv="))
        read_service_id(p, &n->service);
    return sx_reader_ok(r);
}

/* ServerEntityStatus: active | off | blocked,<BlockingInfo> */
static bool parse_status(sx_slt_parser *p, sx_slqueue *q)
{
    sx_reader *r = &p->r;
    if (sx_slt_try_lit(r, "active"))
        q->status = SX_QUEUE_ACTIVE;
    else if (sx_slt_try_lit(r, "off"))
        q->status = SX_QUEUE_OFF;
    else if (sx_slt_try_lit(r, "blocked,")) {
        q->status = SX_QUEUE_BLOCKED;
        read_block_info(p, &q->block_info);
    } else
        sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_reader_ok(r);
}

/* QueueRec, fields in the reference's order; optional fields may be absent. */
static bool parse_queue_rec(sx_slt_parser *p, sx_slqueue *q)
{
    sx_reader *r = &p->r;
    sx_slt_expect(r, "rk=");
    read_key_list(r, q->rkeys, &q->n_rkeys);
    sx_slt_expect(r, " rdh=");
    sx_slt_read_fixed(r, q->dh_secret, SX_SL_DH_LEN);
    sx_slt_expect(r, " sid=");
    sx_slt_read_fixed(r, q->sid, SX_ID_LEN);
    sx_slt_expect(r, " sk=");
    uint8_t c = 0;
    if (sx_slt_peek(r, &c) && sx_slt_is_b64(c))
        read_key(r, &q->skey);
    if (sx_slt_try_lit(r, " sndSecure=")) { /* legacy: T = messaging, F = contact */
        uint8_t b = 0;
        sx_slt_read_char_of(r, "TF", &b);
        q->mode = b == 'T' ? 'M' : 'C';
    } else if (sx_slt_try_lit(r, " queue_mode=")) {
        sx_slt_read_char_of(r, "MC", &q->mode);
    }
    if (sx_slt_try_lit(r, " link_id=")) {
        q->has_link = true;
        sx_slt_read_fixed(r, q->link_id, SX_ID_LEN);
        sx_slt_expect(r, " queue_data=");
        sx_slt_read_data(p, SIZE_MAX, &q->link_fixed);
        sx_slt_expect(r, " ");
        sx_slt_read_data(p, SIZE_MAX, &q->link_user);
    }
    if (sx_slt_try_lit(r, " notifier=")) {
        q->has_notifier = true;
        parse_ntf_creds(p, &q->ntf);
    }
    if (sx_slt_try_lit(r, " updated_at=")) {
        q->has_updated_at = true;
        sx_slt_read_int(r, &q->updated_at);
    }
    q->status = SX_QUEUE_ACTIVE;
    if (sx_slt_try_lit(r, " status="))
        parse_status(p, q);
    if (sx_slt_try_lit(r, " rsrv="))
        read_service_id(p, &q->rcv_service);
    return sx_reader_ok(r);
}

/* ServiceRec */
static bool parse_service(sx_slt_parser *p, sx_slservice *s)
{
    sx_reader *r = &p->r;
    sx_slt_expect(r, "service_id=");
    read_service_id(p, &s->id);
    sx_slt_expect(r, " role=");
    sx_slt_read_char_of(r, "MNP", &s->role);
    sx_slt_expect(r, " cert=");
    uint8_t c = 0;
    if (sx_slt_peek(r, &c) && c != ' ') {
        do {
            sx_slice item;
            sx_slt_take_while(r, sx_slt_is_item, &item);
            if (s->n_certs == SX_SL_CERTS_MAX)
                return sx_reader_fail(r, SX_E_LIMIT);
            if (!sx_slt_decode_arena(p, item, SIZE_MAX, &s->certs[s->n_certs]))
                return false;
            X509 *x = NULL;
            if (sx_x509_from_der(s->certs[s->n_certs], &x) != SX_OK)
                return sx_reader_fail(r, SX_E_PROTOCOL);
            X509_free(x);
            s->n_certs++;
        } while (sx_slt_try_lit(r, ","));
    }
    sx_slt_expect(r, " cert_hash=");
    sx_slt_read_data(p, SIZE_MAX, &s->cert_hash);
    sx_slt_expect(r, " created_at=");
    sx_slt_read_int(r, &s->created_at);
    return sx_reader_ok(r);
}

static const struct {
    const char *tag;
    sx_slrec_type type;
} REC_TAGS[] = {
    {"CREATE", SX_SLREC_CREATE},
    {"LINK", SX_SLREC_LINK},
    {"LDELETE", SX_SLREC_LDELETE},
    {"SECURE", SX_SLREC_SECURE},
    {"KEYS", SX_SLREC_KEYS},
    {"NOTIFIER", SX_SLREC_NOTIFIER},
    {"SUSPEND", SX_SLREC_SUSPEND},
    {"BLOCK", SX_SLREC_BLOCK},
    {"UNBLOCK", SX_SLREC_UNBLOCK},
    {"DELETE", SX_SLREC_DELETE},
    {"NDELETE", SX_SLREC_NDELETE},
    {"TIME", SX_SLREC_TIME},
    {"NEW_SERVICE", SX_SLREC_NEW_SERVICE},
    {"QUEUE_SERVICE", SX_SLREC_QUEUE_SERVICE},
};

const char *sx_slrec_tag(sx_slrec_type t)
{
    for (size_t i = 0; i < sizeof REC_TAGS / sizeof REC_TAGS[0]; i++)
        if (REC_TAGS[i].type == t)
            return REC_TAGS[i].tag;
    return NULL;
}

static bool parse_record(sx_slt_parser *p, void *rec_)
{
    sx_slrec *rec = rec_;
    sx_reader *r = &p->r;
    sx_slice word;
    sx_slt_take_while(r, sx_slt_is_not_space, &word);
    bool known = false;
    for (size_t i = 0; i < sizeof REC_TAGS / sizeof REC_TAGS[0]; i++) {
        if (sx_slice_eq(word, sx_slice_str(REC_TAGS[i].tag))) {
            rec->type = REC_TAGS[i].type;
            known = true;
        }
    }
    if (!known)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_slt_expect(r, " ");
    switch (rec->type) {
    case SX_SLREC_CREATE:
        sx_slt_expect(r, "rid=");
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        parse_queue_rec(p, &rec->q);
        break;
    case SX_SLREC_LINK:
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        sx_slt_read_fixed(r, rec->q.link_id, SX_ID_LEN);
        sx_slt_expect(r, " ");
        sx_slt_read_data(p, SIZE_MAX, &rec->q.link_fixed);
        sx_slt_expect(r, " ");
        sx_slt_read_data(p, SIZE_MAX, &rec->q.link_user);
        rec->q.has_link = true;
        break;
    case SX_SLREC_SECURE:
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        read_key(r, &rec->q.skey);
        break;
    case SX_SLREC_KEYS:
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        read_key_list(r, rec->q.rkeys, &rec->q.n_rkeys);
        break;
    case SX_SLREC_NOTIFIER:
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        parse_ntf_creds(p, &rec->q.ntf);
        rec->q.has_notifier = true;
        break;
    case SX_SLREC_BLOCK:
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        read_block_info(p, &rec->q.block_info);
        rec->q.status = SX_QUEUE_BLOCKED;
        break;
    case SX_SLREC_TIME:
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        sx_slt_read_int(r, &rec->q.updated_at);
        rec->q.has_updated_at = true;
        break;
    case SX_SLREC_NEW_SERVICE:
        parse_service(p, &rec->svc);
        break;
    case SX_SLREC_QUEUE_SERVICE: {
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        sx_slt_expect(r, " ");
        sx_slt_read_char_of(r, "RN", &rec->party);
        sx_slt_expect(r, " ");
        uint8_t c = 0;
        if (sx_slt_peek(r, &c))
            read_service_id(p, &rec->service);
        break;
    }
    case SX_SLREC_LDELETE:
    case SX_SLREC_SUSPEND:
    case SX_SLREC_UNBLOCK:
    case SX_SLREC_DELETE:
    case SX_SLREC_NDELETE:
    default:
        sx_slt_read_fixed(r, rec->rid, SX_ID_LEN);
        break;
    }
    return sx_reader_ok(r);
}

sx_status sx_slrec_parse(sx_slice line, sx_slrec *out)
{
    return sx_slt_parse_line(line, parse_record, out, sizeof *out, &out->arena);
}

void sx_slrec_cleanup(sx_slrec *r)
{
    if (!r)
        return;
    free(r->arena);
    sx_wipe(r, sizeof *r);
}

/* ===========================================================================
 * Encode (the reference's strEncode, byte for byte)
 * ======================================================================== */

static bool put_key(sx_writer *w, const sx_qkey *k)
{
    uint8_t der[SX_KEY_SPKI_MAX];
    size_t n;
    if (sx_qkey_to_spki(k, der, &n) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_slt_put_b64(w, sx_slice_of(der, n));
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

static bool put_char(sx_writer *w, uint8_t c) { return sx_write_u8(w, c); }

static bool put_block_info(sx_writer *w, sx_slice info)
{
    if (info.len == 0)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_slice(w, info);
}

static bool put_ntf_creds(sx_writer *w, const sx_slnotifier *n)
{
    sx_slt_put_id(w, n->id);
    sx_write_str(w, " ");
    put_key(w, &n->key);
    sx_write_str(w, " ");
    sx_slt_put_b64(w, sx_slice_of(n->dh_secret, SX_SL_DH_LEN));
    if (n->service.len) {
        sx_write_str(w, " nsrv=");
        sx_slt_put_b64(w, n->service);
    }
    return sx_writer_status(w) == SX_OK;
}

static bool put_queue_rec(sx_writer *w, const sx_slqueue *q)
{
    sx_write_str(w, "rk=");
    put_keys(w, q->rkeys, q->n_rkeys);
    sx_write_str(w, " rdh=");
    sx_slt_put_b64(w, sx_slice_of(q->dh_secret, SX_SL_DH_LEN));
    sx_write_str(w, " sid=");
    sx_slt_put_id(w, q->sid);
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
        sx_slt_put_id(w, q->link_id);
        sx_write_str(w, " queue_data=");
        sx_slt_put_b64(w, q->link_fixed);
        sx_write_str(w, " ");
        sx_slt_put_b64(w, q->link_user);
    }
    if (q->has_notifier) {
        sx_write_str(w, " notifier=");
        put_ntf_creds(w, &q->ntf);
    }
    if (q->has_updated_at) {
        sx_write_str(w, " updated_at=");
        sx_slt_put_int(w, q->updated_at);
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
        sx_slt_put_b64(w, q->rcv_service);
    }
    return sx_writer_status(w) == SX_OK;
}

static bool put_service(sx_writer *w, const sx_slservice *s)
{
    if (s->n_certs > SX_SL_CERTS_MAX || !s->role || !strchr("MNP", s->role))
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(w, "service_id=");
    sx_slt_put_b64(w, s->id);
    sx_write_str(w, " role=");
    put_char(w, s->role);
    sx_write_str(w, " cert=");
    for (size_t i = 0; i < s->n_certs; i++) {
        if (i)
            sx_write_str(w, ",");
        sx_slt_put_b64(w, s->certs[i]);
    }
    sx_write_str(w, " cert_hash=");
    sx_slt_put_b64(w, s->cert_hash);
    sx_write_str(w, " created_at=");
    sx_slt_put_int(w, s->created_at);
    return sx_writer_status(w) == SX_OK;
}

bool sx_slrec_encode(sx_writer *w, const sx_slrec *r)
{
    const char *tag = sx_slrec_tag(r->type);
    if (!tag)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(w, tag);
    sx_write_str(w, " ");
    switch (r->type) {
    case SX_SLREC_CREATE:
        sx_write_str(w, "rid=");
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        put_queue_rec(w, &r->q);
        break;
    case SX_SLREC_LINK:
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        sx_slt_put_id(w, r->q.link_id);
        sx_write_str(w, " ");
        sx_slt_put_b64(w, r->q.link_fixed);
        sx_write_str(w, " ");
        sx_slt_put_b64(w, r->q.link_user);
        break;
    case SX_SLREC_SECURE:
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        put_key(w, &r->q.skey);
        break;
    case SX_SLREC_KEYS:
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        put_keys(w, r->q.rkeys, r->q.n_rkeys);
        break;
    case SX_SLREC_NOTIFIER:
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        put_ntf_creds(w, &r->q.ntf);
        break;
    case SX_SLREC_BLOCK:
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        put_block_info(w, r->q.block_info);
        break;
    case SX_SLREC_TIME:
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        sx_slt_put_int(w, r->q.updated_at);
        break;
    case SX_SLREC_NEW_SERVICE:
        put_service(w, &r->svc);
        break;
    case SX_SLREC_QUEUE_SERVICE:
        if (r->party != 'R' && r->party != 'N')
            return sx_writer_fail(w, SX_E_USAGE);
        sx_slt_put_id(w, r->rid);
        sx_write_str(w, " ");
        put_char(w, r->party);
        sx_write_str(w, " ");
        sx_slt_put_b64(w, r->service);
        break;
    case SX_SLREC_LDELETE:
    case SX_SLREC_SUSPEND:
    case SX_SLREC_UNBLOCK:
    case SX_SLREC_DELETE:
    case SX_SLREC_NDELETE:
    default:
        sx_slt_put_id(w, r->rid);
        break;
    }
    return sx_writer_status(w) == SX_OK;
}
