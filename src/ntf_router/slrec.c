/* NTF store log lines in the reference's text format (see slrec.h). */
#include "ntf_router/slrec.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"

sx_status sx_ntf_sl_bytes_set(sx_ntf_sl_bytes *b, sx_slice s)
{
    SX_ENSURE(s.len <= SX_NTF_SL_BYTES_MAX, SX_E_LIMIT);
    if (s.len)
        memcpy(b->b, s.ptr, s.len);
    b->len = s.len;
    return SX_OK;
}

/* ---- field readers: each reads one field and fails r on error ---- */

static bool fail(sx_reader *r, sx_status st)
{
    return sx_reader_fail(r, st);
}

/* base64url text up to the next space (or the end) into buf. */
static bool read_b64(sx_reader *r, uint8_t *buf, size_t cap, size_t *len)
{
    sx_slice t;
    if (!sx_read_until(r, " ", &t))
        return false;
    if (t.len == 0)
        return fail(r, SX_E_PROTOCOL);
    sx_status st = sx_b64_decode((const char *)t.ptr, t.len, SX_B64_URL, buf, cap, len);
    return st == SX_OK || fail(r, st == SX_E_LIMIT ? SX_E_LIMIT : SX_E_PROTOCOL);
}

static bool read_b64_bytes(sx_reader *r, sx_ntf_sl_bytes *b)
{
    return read_b64(r, b->b, sizeof b->b, &b->len);
}

static bool read_key(sx_reader *r, unsigned allowed, bool priv, uint8_t *buf, size_t cap, size_t *len)
{
    if (!read_b64(r, buf, cap, len))
        return false;
    sx_key_alg alg;
    if (!priv)
        return sx_key_check_public(sx_slice_of(buf, *len), allowed, &alg) == SX_OK || fail(r, SX_E_PROTOCOL);
    sx_key *k = NULL;
    sx_status st = sx_key_decode_private(sx_slice_of(buf, *len), allowed, &k);
    sx_key_free(k);
    return st == SX_OK || fail(r, st == SX_E_NOMEM ? SX_E_NOMEM : SX_E_PROTOCOL);
}

/* Decimal digits up to max (an optional '-' when negative is allowed). */
static bool read_int(sx_reader *r, bool negative, uint64_t max, int64_t *out)
{
    bool neg = negative && sx_read_accept(r, "-");
    sx_slice d;
    if (!sx_read_until(r, " ", &d))
        return false;
    if (d.len == 0 || d.len > 19)
        return fail(r, SX_E_PROTOCOL);
    uint64_t v = 0;
    for (size_t i = 0; i < d.len; i++) {
        if (d.ptr[i] < '0' || d.ptr[i] > '9')
            return fail(r, SX_E_PROTOCOL);
        v = v * 10 + (uint64_t)(d.ptr[i] - '0');
    }
    if (v > max)
        return fail(r, SX_E_PROTOCOL);
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static bool is_hex_lower(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool read_token(sx_reader *r, sx_ntf_sl_token *t)
{
    memset(t, 0, sizeof *t);
    if (sx_read_accept(r, "apns_null test_ntf_token")) {
        t->provider = SX_NTF_PP_APNS_NULL;
        return sx_ntf_sl_bytes_set(&t->token, sx_slice_str("test_ntf_token")) == SX_OK;
    }
    sx_slice word;
    if (!sx_read_until(r, " ", &word) || !sx_read_expect_str(r, " "))
        return false;
    t->provider = sx_ntf_provider_from_text(word);
    if (!t->provider)
        return fail(r, SX_E_PROTOCOL);
    sx_slice rest = sx_reader_rest(r);
    size_t n = 0;
    while (n < rest.len && is_hex_lower(rest.ptr[n]))
        n++;
    if (n % 2)
        return fail(r, SX_E_PROTOCOL);
    sx_slice hex;
    if (!sx_read_bytes(r, n, &hex))
        return false;
    sx_status st = sx_ntf_sl_bytes_set(&t->token, hex);
    return st == SX_OK || fail(r, st);
}

static bool read_tkn_state(sx_reader *r, sx_ntf_tkn_state *s)
{
    sx_slice word;
    if (!sx_read_until(r, " ", &word))
        return false;
    sx_reader wr;
    sx_reader_init_slice(&wr, word);
    return sx_ntf_tkn_state_read(&wr, s) || fail(r, SX_E_PROTOCOL);
}

/* A subscription status; ERR takes the rest of the line. */
static bool read_sub_state(sx_reader *r, sx_ntf_sub_status *status, sx_ntf_sl_bytes *err)
{
    sx_slice word;
    if (!sx_read_until(r, " ", &word))
        return false;
    sx_ntf_sub_state s;
    sx_reader wr;
    sx_reader_init_slice(&wr, word);
    if (sx_slice_eq(word, sx_slice_str("ERR"))) {
        sx_slice text;
        if (!sx_read_expect_str(r, " ") || !sx_read_tail(r, &text))
            return false;
        *status = SX_NTF_SUB_ERR;
        sx_status st = sx_ntf_sl_bytes_set(err, text);
        return st == SX_OK || fail(r, st);
    }
    if (!sx_ntf_sub_state_read(&wr, &s))
        return fail(r, SX_E_PROTOCOL);
    *status = s.status;
    err->len = 0;
    return true;
}

/* An smp:// address ending where `stop` is (after the scheme). */
static bool read_smp_address(sx_reader *r, char stop, sx_server_address *a)
{
    sx_slice rest = sx_reader_rest(r);
    size_t pre = strlen("smp://"), n = pre;
    if (rest.len < pre || memcmp(rest.ptr, "smp://", pre) != 0)
        return fail(r, SX_E_PROTOCOL);
    while (n < rest.len && rest.ptr[n] != stop)
        n++;
    sx_slice text;
    if (!sx_read_bytes(r, n, &text))
        return false;
    sx_status st = sx_server_address_parse((const char *)text.ptr, text.len, a);
    if (st != SX_OK)
        return fail(r, st == SX_E_LIMIT ? SX_E_LIMIT : SX_E_PROTOCOL);
    return (a->scheme == SX_SERVER_SMP && !a->has_auth) || fail(r, SX_E_PROTOCOL);
}

static bool read_bool(sx_reader *r, bool *out)
{
    char c;
    if (!sx_read_char(r, &c))
        return false;
    if (c != 'T' && c != 'F')
        return fail(r, SX_E_PROTOCOL);
    *out = c == 'T';
    return true;
}

static bool sp(sx_reader *r)
{
    return sx_read_expect_str(r, " ");
}

static bool key_eq(sx_reader *r, const char *name)
{
    return sx_read_expect_str(r, name);
}

static void read_tkn_rec(sx_reader *r, sx_ntf_tkn_rec *t)
{
    int64_t n = 0;
    (void)(key_eq(r, "tknId=") && read_b64_bytes(r, &t->id) && sp(r) && key_eq(r, "token=") &&
           read_token(r, &t->token) && sp(r) && key_eq(r, "tokenStatus=") && read_tkn_state(r, &t->status) &&
           sp(r) && key_eq(r, "verifyKey=") &&
           read_key(r, SX_KEY_AUTH_ALGS, false, t->verify_key, sizeof t->verify_key, &t->verify_key_len) &&
           sp(r) && key_eq(r, "dhKeys=") &&
           read_key(r, SX_KEY_BIT(SX_KEY_X25519), false, t->dh_pub, sizeof t->dh_pub, &t->dh_pub_len) && sp(r) &&
           read_key(r, SX_KEY_BIT(SX_KEY_X25519), true, t->dh_priv, sizeof t->dh_priv, &t->dh_priv_len) &&
           sp(r) && key_eq(r, "dhSecret="));
    size_t slen = 0;
    if (sx_reader_ok(r) && read_b64(r, t->dh_secret, sizeof t->dh_secret, &slen) &&
        slen != SX_NTF_SL_DH_SECRET_LEN)
        fail(r, SX_E_PROTOCOL);
    (void)(sp(r) && key_eq(r, "regCode=") && read_b64_bytes(r, &t->reg_code) && sp(r) && key_eq(r, "cron=") &&
           read_int(r, false, UINT16_MAX, &n));
    t->cron = (uint16_t)n;
    if (sx_reader_ok(r) && sx_read_accept(r, " updatedAt=")) {
        t->has_updated_at = read_int(r, true, INT64_MAX, &t->updated_at);
    }
}

static void read_sub_rec(sx_reader *r, sx_ntf_sub_rec *s)
{
    (void)(key_eq(r, "subId=") && read_b64_bytes(r, &s->id) && sp(r) && key_eq(r, "smpQueue=") &&
           read_smp_address(r, '/', &s->server) && sx_read_expect_str(r, "/") &&
           read_b64_bytes(r, &s->notifier_id) && sp(r) && key_eq(r, "notifierKey=") &&
           read_key(r, SX_KEY_AUTH_ALGS, true, s->notifier_key, sizeof s->notifier_key, &s->notifier_key_len) &&
           sp(r) && key_eq(r, "tknId=") && read_b64_bytes(r, &s->token_id) && sp(r) && key_eq(r, "subStatus=") &&
           read_sub_state(r, &s->status, &s->status_err));
    if (sx_reader_ok(r) && sx_read_accept(r, " serviceAssoc="))
        read_bool(r, &s->service_assoc);
}

sx_status sx_ntf_sl_parse(sx_slice line, sx_ntf_sl_rec *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, line);
    sx_slice tag;
    int64_t n = 0;
    if (!sx_read_until(&r, " ", &tag) || !sp(&r))
        return SX_E_PROTOCOL;
    if (sx_slice_eq(tag, sx_slice_str("TCREATE"))) {
        out->kind = SX_NTF_SL_TCREATE;
        read_tkn_rec(&r, &out->tkn);
    } else if (sx_slice_eq(tag, sx_slice_str("TSTATUS"))) {
        out->kind = SX_NTF_SL_TSTATUS;
        (void)(read_b64_bytes(&r, &out->id) && sp(&r) && read_tkn_state(&r, &out->tkn_status));
    } else if (sx_slice_eq(tag, sx_slice_str("TUPDATE"))) {
        out->kind = SX_NTF_SL_TUPDATE;
        (void)(read_b64_bytes(&r, &out->id) && sp(&r) && read_token(&r, &out->update.token) && sp(&r) &&
               read_b64_bytes(&r, &out->update.reg_code));
    } else if (sx_slice_eq(tag, sx_slice_str("TCRON"))) {
        out->kind = SX_NTF_SL_TCRON;
        (void)(read_b64_bytes(&r, &out->id) && sp(&r) && read_int(&r, false, UINT16_MAX, &n));
        out->cron = (uint16_t)n;
    } else if (sx_slice_eq(tag, sx_slice_str("TDELETE"))) {
        out->kind = SX_NTF_SL_TDELETE;
        read_b64_bytes(&r, &out->id);
    } else if (sx_slice_eq(tag, sx_slice_str("TTIME"))) {
        out->kind = SX_NTF_SL_TTIME;
        (void)(read_b64_bytes(&r, &out->id) && sp(&r) && read_int(&r, true, INT64_MAX, &out->time));
    } else if (sx_slice_eq(tag, sx_slice_str("SCREATE"))) {
        out->kind = SX_NTF_SL_SCREATE;
        read_sub_rec(&r, &out->sub);
    } else if (sx_slice_eq(tag, sx_slice_str("SSTATUS"))) {
        out->kind = SX_NTF_SL_SSTATUS;
        (void)(read_b64_bytes(&r, &out->id) && sp(&r) &&
               read_sub_state(&r, &out->sub_status.status, &out->sub_status.err));
        if (sx_reader_ok(&r) && sx_read_accept(&r, " service="))
            read_bool(&r, &out->sub_status.service_assoc);
    } else if (sx_slice_eq(tag, sx_slice_str("SDELETE"))) {
        out->kind = SX_NTF_SL_SDELETE;
        read_b64_bytes(&r, &out->id);
    } else if (sx_slice_eq(tag, sx_slice_str("SERVICE"))) {
        out->kind = SX_NTF_SL_SERVICE;
        if (read_smp_address(&r, ' ', &out->service.server) && sx_read_expect_str(&r, " service=") &&
            !sx_read_accept(&r, "off")) {
            out->service.has_service_id = true;
            read_b64_bytes(&r, &out->service.service_id);
        }
    } else {
        return SX_E_PROTOCOL;
    }
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK) {
        memset(out, 0, sizeof *out);
        return st == SX_E_LIMIT || st == SX_E_NOMEM ? st : SX_E_PROTOCOL;
    }
    return SX_OK;
}

sx_status sx_ntf_sl_last_parse(sx_slice line, sx_ntf_sl_last *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, line);
    size_t nonce_len = 0;
    (void)(sx_read_expect_str(&r, "v1 ") && read_b64_bytes(&r, &out->token_id) && sp(&r) &&
           read_smp_address(&r, '/', &out->server) && sx_read_expect_str(&r, "/") &&
           read_b64_bytes(&r, &out->notifier_id) && sp(&r) && read_int(&r, true, INT64_MAX, &out->ts) && sp(&r) &&
           read_b64(&r, out->nonce, sizeof out->nonce, &nonce_len) &&
           (nonce_len == sizeof out->nonce || fail(&r, SX_E_PROTOCOL)) && sp(&r) &&
           read_b64(&r, out->meta, sizeof out->meta, &out->meta_len));
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK || out->token_id.len == 0 || out->notifier_id.len == 0) {
        memset(out, 0, sizeof *out);
        return st == SX_E_LIMIT || st == SX_E_NOMEM ? st : SX_E_PROTOCOL;
    }
    return SX_OK;
}

/* ---- writing ----
 * After an ERR status nothing is written: the reference writes the service
 * flag there too, and its reader takes it into the error text, so each
 * rewrite of its log would grow the text; without it a written line reads
 * back as the same record. */

static bool write_b64(sx_writer *w, sx_slice s)
{
    char text[SX_NTF_SL_BYTES_MAX * 2];
    if (s.len == 0 || sx_b64_encode(s, SX_B64_URL, text, sizeof text) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, text);
}

static bool write_token(sx_writer *w, const sx_ntf_sl_token *t)
{
    const char *p = sx_ntf_provider_text(t->provider);
    if (!p)
        return sx_writer_fail(w, SX_E_USAGE);
    for (size_t i = 0; i < t->token.len; i++)
        if (t->provider != SX_NTF_PP_APNS_NULL && !is_hex_lower(t->token.b[i]))
            return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, p) && sx_write_str(w, " ") && sx_write_slice(w, sx_ntf_sl_slice(&t->token));
}

static bool write_sub_state(sx_writer *w, sx_ntf_sub_status status, const sx_ntf_sl_bytes *err)
{
    sx_ntf_sub_state s = {status, sx_ntf_sl_slice(err)};
    return sx_ntf_sub_state_write(w, &s);
}

static bool write_int(sx_writer *w, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return sx_write_str(w, buf);
}

static bool write_address(sx_writer *w, const sx_server_address *a)
{
    if (a->scheme != SX_SERVER_SMP || a->has_auth)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_bytes(w, a->text, a->text_len);
}

static bool write_tkn_rec(sx_writer *w, const sx_ntf_tkn_rec *t)
{
    return sx_write_str(w, "tknId=") && write_b64(w, sx_ntf_sl_slice(&t->id)) && sx_write_str(w, " token=") &&
           write_token(w, &t->token) && sx_write_str(w, " tokenStatus=") &&
           sx_ntf_tkn_state_write(w, &t->status) && sx_write_str(w, " verifyKey=") &&
           write_b64(w, sx_slice_of(t->verify_key, t->verify_key_len)) && sx_write_str(w, " dhKeys=") &&
           write_b64(w, sx_slice_of(t->dh_pub, t->dh_pub_len)) && sx_write_str(w, " ") &&
           write_b64(w, sx_slice_of(t->dh_priv, t->dh_priv_len)) && sx_write_str(w, " dhSecret=") &&
           write_b64(w, sx_slice_of(t->dh_secret, sizeof t->dh_secret)) && sx_write_str(w, " regCode=") &&
           write_b64(w, sx_ntf_sl_slice(&t->reg_code)) && sx_write_str(w, " cron=") && write_int(w, t->cron) &&
           (!t->has_updated_at || (sx_write_str(w, " updatedAt=") && write_int(w, t->updated_at)));
}

static bool write_sub_rec(sx_writer *w, const sx_ntf_sub_rec *s)
{
    return sx_write_str(w, "subId=") && write_b64(w, sx_ntf_sl_slice(&s->id)) && sx_write_str(w, " smpQueue=") &&
           write_address(w, &s->server) && sx_write_str(w, "/") && write_b64(w, sx_ntf_sl_slice(&s->notifier_id)) &&
           sx_write_str(w, " notifierKey=") &&
           write_b64(w, sx_slice_of(s->notifier_key, s->notifier_key_len)) && sx_write_str(w, " tknId=") &&
           write_b64(w, sx_ntf_sl_slice(&s->token_id)) && sx_write_str(w, " subStatus=") &&
           write_sub_state(w, s->status, &s->status_err) &&
           (s->status == SX_NTF_SUB_ERR ||
            (sx_write_str(w, " serviceAssoc=") && sx_write_str(w, s->service_assoc ? "T" : "F")));
}

bool sx_ntf_sl_write(sx_writer *w, const sx_ntf_sl_rec *r)
{
    if (!r)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_slice id = sx_ntf_sl_slice(&r->id);
    switch (r->kind) {
    case SX_NTF_SL_TCREATE: return sx_write_str(w, "TCREATE ") && write_tkn_rec(w, &r->tkn);
    case SX_NTF_SL_TSTATUS:
        return sx_write_str(w, "TSTATUS ") && write_b64(w, id) && sx_write_str(w, " ") &&
               sx_ntf_tkn_state_write(w, &r->tkn_status);
    case SX_NTF_SL_TUPDATE:
        return sx_write_str(w, "TUPDATE ") && write_b64(w, id) && sx_write_str(w, " ") &&
               write_token(w, &r->update.token) && sx_write_str(w, " ") &&
               write_b64(w, sx_ntf_sl_slice(&r->update.reg_code));
    case SX_NTF_SL_TCRON:
        return sx_write_str(w, "TCRON ") && write_b64(w, id) && sx_write_str(w, " ") && write_int(w, r->cron);
    case SX_NTF_SL_TDELETE: return sx_write_str(w, "TDELETE ") && write_b64(w, id);
    case SX_NTF_SL_TTIME:
        return sx_write_str(w, "TTIME ") && write_b64(w, id) && sx_write_str(w, " ") && write_int(w, r->time);
    case SX_NTF_SL_SCREATE: return sx_write_str(w, "SCREATE ") && write_sub_rec(w, &r->sub);
    case SX_NTF_SL_SSTATUS:
        return sx_write_str(w, "SSTATUS ") && write_b64(w, id) && sx_write_str(w, " ") &&
               write_sub_state(w, r->sub_status.status, &r->sub_status.err) &&
               (!r->sub_status.service_assoc || r->sub_status.status == SX_NTF_SUB_ERR ||
                sx_write_str(w, " service=T"));
    case SX_NTF_SL_SDELETE: return sx_write_str(w, "SDELETE ") && write_b64(w, id);
    case SX_NTF_SL_SERVICE:
        return sx_write_str(w, "SERVICE ") && write_address(w, &r->service.server) &&
               sx_write_str(w, " service=") &&
               (r->service.has_service_id ? write_b64(w, sx_ntf_sl_slice(&r->service.service_id))
                                          : sx_write_str(w, "off"));
    default: return sx_writer_fail(w, SX_E_USAGE);
    }
}
