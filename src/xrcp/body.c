/* XRCP session payloads (body.h, PROTOCOL-NOTES X11). */
#include "xrcp/body.h"

#include <stdlib.h>
#include <string.h>

#include "core/reader.h"
#include "crypto/box.h"
#include "crypto/hash.h"
#include "crypto/util.h"

const char *sx_xrcp_body_err_text(sx_xrcp_body_err e)
{
    switch (e) {
    case SX_XRCP_BODY_OK: return "OK";
    case SX_XRCP_BODY_INVALID: return "invalid body";
    case SX_XRCP_BODY_CTRL_AUTH: return "CTRL_AUTH";
    case SX_XRCP_BODY_DUPLICATE: return "duplicate counter";
    case SX_XRCP_BODY_EARLIER: return "earlier counter";
    case SX_XRCP_BODY_MANY_SKIPPED: return "too many skipped counters";
    case SX_XRCP_BODY_DECRYPT: return "DECRYPT";
    case SX_XRCP_BODY_SESSION_CODE: return "session code";
    case SX_XRCP_BODY_NO_FILE: return "no attachment";
    }
    return "invalid body";
}

sx_status sx_xrcp_crypto_init(sx_xrcp_crypto *c, sx_slice code, sx_sbchain *snd, sx_sbchain *rcv,
                              const sx_key *sess_priv, const sx_key *id_priv, const sx_xrcp_invitation *verify_inv)
{
    if (c == NULL || snd == NULL || rcv == NULL || code.len == 0 || code.len > SX_TLS_UNIQUE_MAX ||
        (sess_priv == NULL) != (id_priv == NULL) || (sess_priv != NULL) == (verify_inv != NULL))
        return SX_E_USAGE;
    memset(c, 0, sizeof *c);
    memcpy(c->code, code.ptr, code.len);
    c->code_len = code.len;
    c->snd = *snd;
    c->rcv = *rcv;
    sx_sbchain_cleanup(snd);
    sx_sbchain_cleanup(rcv);
    c->sess_priv = sess_priv;
    c->id_priv = id_priv;
    if (verify_inv != NULL) {
        c->verify = true;
        memcpy(c->sess_pub, verify_inv->skey, SX_XRCP_KEY_LEN);
        memcpy(c->id_pub, verify_inv->idkey, SX_XRCP_KEY_LEN);
    }
    return SX_OK;
}

void sx_xrcp_crypto_cleanup(sx_xrcp_crypto *c)
{
    if (c != NULL)
        sx_wipe(c, sizeof *c);
}

static sx_status step(sx_sbchain *ch, sx_xrcp_kn *kn)
{
    return sx_sbchain_step(ch, kn->key, kn->nonce);
}

/* secret_box with the tag moved to the end: msg.len + 16 bytes at out */
static sx_status seal_tail(const sx_xrcp_kn *kn, sx_slice msg, uint8_t *out)
{
    uint8_t *tmp = malloc(msg.len + SX_CB_TAG_LEN);
    if (tmp == NULL)
        return SX_E_NOMEM;
    sx_status st = sx_sb_encrypt(kn->key, kn->nonce, msg, tmp, msg.len + SX_CB_TAG_LEN);
    if (st == SX_OK) {
        memcpy(out, tmp + SX_CB_TAG_LEN, msg.len);
        memcpy(out + msg.len, tmp, SX_CB_TAG_LEN);
    }
    free(tmp);
    return st;
}

/* opens box (tag at the end) into out (box.len - 16 bytes) */
static sx_status open_tail(const sx_xrcp_kn *kn, sx_slice box, uint8_t *out)
{
    if (box.len < SX_CB_TAG_LEN)
        return SX_E_AUTH;
    size_t n = box.len - SX_CB_TAG_LEN;
    uint8_t *tmp = malloc(box.len);
    if (tmp == NULL)
        return SX_E_NOMEM;
    memcpy(tmp, box.ptr + n, SX_CB_TAG_LEN);
    memcpy(tmp + SX_CB_TAG_LEN, box.ptr, n);
    sx_slice msg;
    sx_status st = sx_sb_decrypt(kn->key, kn->nonce, sx_slice_of(tmp, box.len), out, n, &msg);
    free(tmp);
    return st;
}

static sx_status sign(const sx_key *k, const uint8_t *msg, size_t len, uint8_t sig[SX_XRCP_SIG_LEN])
{
    uint8_t h[SX_SHA512_LEN];
    size_t n = 0;
    sx_status st = sx_sha512(sx_slice_of(msg, len), h);
    if (st == SX_OK)
        st = sx_key_sign(k, sx_slice_of(h, sizeof h), sig, SX_XRCP_SIG_LEN, &n);
    if (st == SX_OK && n != SX_XRCP_SIG_LEN)
        st = SX_E_INTERNAL;
    return st;
}

static bool verify(const uint8_t pub[SX_XRCP_KEY_LEN], const uint8_t *msg, size_t len, sx_slice sig)
{
    uint8_t h[SX_SHA512_LEN];
    return sx_sha512(sx_slice_of(msg, len), h) == SX_OK &&
           sx_key_verify_raw(SX_KEY_ED25519, sx_slice_of(pub, SX_XRCP_KEY_LEN), sx_slice_of(h, sizeof h), sig) ==
               SX_OK;
}

bool sx_xrcp_body_write_head(sx_writer *w, sx_xrcp_crypto *c, sx_slice json, bool has_att, uint64_t att_len,
                             sx_xrcp_tailbox *att)
{
    if (c == NULL || (json.ptr == NULL && json.len != 0))
        return sx_writer_fail(w, SX_E_USAGE);
    if (has_att && att == NULL)
        return sx_writer_fail(w, SX_E_USAGE);
    if (json.len > SX_XRCP_JSON_MAX || (has_att && att_len > SX_XRCP_STREAM_MAX))
        return sx_writer_fail(w, SX_E_LIMIT);
    sx_xrcp_kn body, file;
    sx_status st = step(&c->snd, &body);
    if (st == SX_OK)
        st = step(&c->snd, &file);
    if (st != SX_OK)
        return sx_writer_fail(w, st);
    c->snd_counter++;
    size_t plain_len = 1 + c->code_len + json.len;
    size_t start = w->len;
    uint8_t *plain = malloc(plain_len);
    bool ok = plain != NULL;
    if (ok) {
        plain[0] = (uint8_t)c->code_len;
        memcpy(plain + 1, c->code, c->code_len);
        if (json.len > 0)
            memcpy(plain + 1 + c->code_len, json.ptr, json.len);
        ok = sx_write_u32(w, c->snd_counter) && sx_write_u32(w, (uint32_t)(plain_len + SX_CB_TAG_LEN));
    }
    uint8_t *ct = ok ? sx_write_reserve(w, plain_len + SX_CB_TAG_LEN) : NULL;
    if (ok && ct == NULL)
        ok = false;
    if (ok && (st = seal_tail(&body, sx_slice_of(plain, plain_len), ct)) != SX_OK)
        ok = sx_writer_fail(w, st);
    if (ok && c->sess_priv != NULL) {
        uint8_t sigs[2][SX_XRCP_SIG_LEN];
        st = sign(c->sess_priv, w->buf + start, w->len - start, sigs[0]);
        if (st == SX_OK) {
            /* the identity signature covers the signed part and ssig */
            size_t n = w->len - start;
            uint8_t *both = malloc(n + SX_XRCP_SIG_LEN);
            st = both != NULL ? SX_OK : SX_E_NOMEM;
            if (st == SX_OK) {
                memcpy(both, w->buf + start, n);
                memcpy(both + n, sigs[0], SX_XRCP_SIG_LEN);
                st = sign(c->id_priv, both, n + SX_XRCP_SIG_LEN, sigs[1]);
                free(both);
            }
        }
        ok = st == SX_OK ? sx_write_short(w, sx_slice_of(sigs[0], SX_XRCP_SIG_LEN)) &&
                               sx_write_short(w, sx_slice_of(sigs[1], SX_XRCP_SIG_LEN))
                         : sx_writer_fail(w, st);
    }
    if (ok && has_att) {
        ok = sx_write_u8(w, 1) && sx_write_u32(w, (uint32_t)(att_len + SX_CB_TAG_LEN));
        if (ok && (st = sx_xrcp_tailbox_init(att, file.key, file.nonce)) != SX_OK)
            ok = sx_writer_fail(w, st);
    }
    if (plain != NULL)
        sx_wipe(plain, plain_len);
    free(plain);
    if (!ok && plain == NULL)
        sx_writer_fail(w, SX_E_NOMEM);
    sx_wipe(&body, sizeof body);
    sx_wipe(&file, sizeof file);
    return ok;
}

bool sx_xrcp_body_write(sx_writer *w, sx_xrcp_crypto *c, sx_slice json, sx_slice attachment)
{
    bool has = attachment.ptr != NULL;
    if (has && attachment.len > SX_XRCP_ATTACH_MAX)
        return sx_writer_fail(w, SX_E_LIMIT);
    sx_xrcp_tailbox box;
    if (!sx_xrcp_body_write_head(w, c, json, has, attachment.len, &box))
        return false;
    if (!has)
        return true;
    uint8_t *a = sx_write_reserve(w, attachment.len + SX_CB_TAG_LEN);
    sx_status st = a != NULL ? sx_xrcp_tailbox_seal(&box, attachment, a) : SX_OK;
    if (a != NULL && st == SX_OK)
        sx_xrcp_tailbox_tag(&box, a + attachment.len);
    sx_xrcp_tailbox_cleanup(&box);
    return a != NULL && (st == SX_OK || sx_writer_fail(w, st));
}

/* The keys for counter id (the reference application's getRemoteRcvKeys). */
static sx_xrcp_body_err rcv_keys(sx_xrcp_crypto *c, uint32_t id, sx_xrcp_kn *body, sx_xrcp_kn *file)
{
    if (id < c->rcv_counter) {
        for (size_t i = 0; i < c->n_skipped; i++) {
            if (c->skipped[i].id == id) {
                *body = c->skipped[i].body;
                *file = c->skipped[i].file;
                c->skipped[i] = c->skipped[--c->n_skipped];
                sx_wipe(&c->skipped[c->n_skipped], sizeof c->skipped[0]);
                return SX_XRCP_BODY_OK;
            }
        }
        return SX_XRCP_BODY_EARLIER;
    }
    if (id == c->rcv_counter)
        return SX_XRCP_BODY_DUPLICATE;
    if ((uint64_t)id > (uint64_t)c->rcv_counter + SX_XRCP_MAX_SKIP)
        return SX_XRCP_BODY_MANY_SKIPPED;
    for (uint32_t k = c->rcv_counter + 1; k < id; k++) {
        sx_xrcp_kn b, f;
        if (step(&c->rcv, &b) != SX_OK || step(&c->rcv, &f) != SX_OK)
            return SX_XRCP_BODY_DECRYPT;
        if (c->n_skipped < SX_XRCP_MAX_SKIP) {
            c->skipped[c->n_skipped].id = k;
            c->skipped[c->n_skipped].body = b;
            c->skipped[c->n_skipped].file = f;
            c->n_skipped++;
        }
        sx_wipe(&b, sizeof b);
        sx_wipe(&f, sizeof f);
    }
    c->rcv_counter = id;
    if (step(&c->rcv, body) != SX_OK || step(&c->rcv, file) != SX_OK)
        return SX_XRCP_BODY_DECRYPT;
    return SX_XRCP_BODY_OK;
}

static sx_status refuse(sx_xrcp_body_err e, sx_xrcp_body_err *why)
{
    if (why != NULL)
        *why = e;
    switch (e) {
    case SX_XRCP_BODY_CTRL_AUTH:
    case SX_XRCP_BODY_DECRYPT:
    case SX_XRCP_BODY_SESSION_CODE: return SX_E_AUTH;
    default: return SX_E_PROTOCOL;
    }
}

long sx_xrcp_body_head_want(const sx_xrcp_crypto *c, sx_slice prefix)
{
    if (prefix.len < 8)
        return 8;
    const uint8_t *b = prefix.ptr + 4;
    uint32_t ct_len = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if (ct_len > SX_XRCP_JSON_MAX + 256 + SX_CB_TAG_LEN || ct_len < SX_CB_TAG_LEN + 1)
        return -1;
    size_t n = 8 + (size_t)ct_len;
    if (!c->verify)
        return (long)n;
    if (prefix.len < n + 1)
        return (long)(n + 1);
    size_t l1 = prefix.ptr[n];
    if (prefix.len < n + 2 + l1)
        return (long)(n + 2 + l1);
    return (long)(n + 2 + l1 + prefix.ptr[n + 1 + l1]);
}

sx_status sx_xrcp_body_read_head(sx_xrcp_crypto *c, sx_slice head, bool has_att, uint8_t **json_buf, sx_slice *json,
                                 sx_xrcp_tailbox *att, sx_xrcp_body_err *why)
{
    if (c == NULL || json_buf == NULL || json == NULL || (has_att && att == NULL) ||
        (head.ptr == NULL && head.len != 0))
        return SX_E_USAGE;
    *json_buf = NULL;
    *json = sx_slice_of(NULL, 0);
    if (why != NULL)
        *why = SX_XRCP_BODY_OK;
    sx_reader r;
    sx_reader_init_slice(&r, head);
    uint32_t id = 0, ct_len = 0;
    sx_slice ct, ssig, idsig;
    if (!sx_read_u32(&r, &id) || !sx_read_u32(&r, &ct_len) || ct_len > SX_XRCP_JSON_MAX + 256 + SX_CB_TAG_LEN ||
        ct_len < SX_CB_TAG_LEN + 1 || !sx_read_bytes(&r, ct_len, &ct))
        return refuse(SX_XRCP_BODY_INVALID, why);
    size_t signed_len = 8 + ct_len;
    if (c->verify) {
        if (!sx_read_short(&r, &ssig) || !sx_read_short(&r, &idsig) || ssig.len != SX_XRCP_SIG_LEN ||
            idsig.len != SX_XRCP_SIG_LEN)
            return refuse(SX_XRCP_BODY_INVALID, why);
        /* the identity signature covers the signed part and ssig, which
         * follows it on the wire after its length byte: rebuild */
        uint8_t *both = malloc(signed_len + SX_XRCP_SIG_LEN);
        if (both == NULL)
            return SX_E_NOMEM;
        sx_writer bw;
        sx_writer_init_fixed(&bw, both, signed_len + SX_XRCP_SIG_LEN);
        sx_write_slice(&bw, sx_slice_of(head.ptr, signed_len));
        sx_write_slice(&bw, ssig);
        bool good = verify(c->sess_pub, head.ptr, signed_len, ssig) &&
                    verify(c->id_pub, both, signed_len + SX_XRCP_SIG_LEN, idsig);
        free(both);
        if (!good)
            return refuse(SX_XRCP_BODY_CTRL_AUTH, why);
    }
    if (sx_reader_remaining(&r) != 0)
        return refuse(SX_XRCP_BODY_INVALID, why);
    sx_xrcp_kn kb, kf;
    sx_xrcp_body_err e = rcv_keys(c, id, &kb, &kf);
    if (e != SX_XRCP_BODY_OK)
        return refuse(e, why);
    size_t plain_len = ct_len - SX_CB_TAG_LEN;
    uint8_t *buf = malloc(plain_len + 1);
    sx_status st = buf != NULL ? SX_OK : SX_E_NOMEM;
    if (st == SX_OK && open_tail(&kb, ct, buf) != SX_OK)
        st = refuse(SX_XRCP_BODY_DECRYPT, why);
    if (st == SX_OK && (buf[0] != c->code_len || plain_len < 1u + c->code_len ||
                        !sx_ct_equal(sx_slice_of(buf + 1, c->code_len), sx_slice_of(c->code, c->code_len))))
        st = refuse(SX_XRCP_BODY_SESSION_CODE, why);
    if (st == SX_OK && has_att)
        st = sx_xrcp_tailbox_init(att, kf.key, kf.nonce);
    sx_wipe(&kb, sizeof kb);
    sx_wipe(&kf, sizeof kf);
    if (st != SX_OK) {
        free(buf);
        return st;
    }
    *json_buf = buf;
    *json = sx_slice_of(buf + 1 + c->code_len, plain_len - 1 - c->code_len);
    return SX_OK;
}

sx_status sx_xrcp_body_read(sx_xrcp_crypto *c, sx_slice body, uint8_t **json_buf, sx_slice *json,
                            bool *has_attachment, sx_slice *attachment, sx_xrcp_body_err *why)
{
    if (c == NULL || json_buf == NULL || json == NULL || has_attachment == NULL || attachment == NULL ||
        (body.ptr == NULL && body.len != 0))
        return SX_E_USAGE;
    *json_buf = NULL;
    *json = sx_slice_of(NULL, 0);
    *attachment = sx_slice_of(NULL, 0);
    *has_attachment = false;
    if (why != NULL)
        *why = SX_XRCP_BODY_OK;
    /* with the whole body at hand, the head's length comes in one call */
    long want = sx_xrcp_body_head_want(c, body);
    if (want < 8 || (size_t)want > body.len)
        return refuse(SX_XRCP_BODY_INVALID, why);
    size_t head_len = (size_t)want;
    sx_reader r;
    sx_reader_init_slice(&r, sx_slice_of(body.ptr + head_len, body.len - head_len));
    sx_slice att = {0};
    if (sx_reader_remaining(&r) > 0) {
        uint8_t tag = 0;
        uint32_t n = 0;
        if (!sx_read_u8(&r, &tag) || tag != 1 || !sx_read_u32(&r, &n) || n < SX_CB_TAG_LEN ||
            n > SX_XRCP_ATTACH_MAX + SX_CB_TAG_LEN || !sx_read_bytes(&r, n, &att) || sx_reader_remaining(&r) != 0)
            return refuse(SX_XRCP_BODY_INVALID, why);
    }
    bool has = att.ptr != NULL;
    sx_xrcp_tailbox box;
    uint8_t *head_buf = NULL;
    sx_slice j;
    sx_status st = sx_xrcp_body_read_head(c, sx_slice_of(body.ptr, head_len), has, &head_buf, &j, &box, why);
    if (st != SX_OK)
        return st;
    size_t att_len = has ? att.len - SX_CB_TAG_LEN : 0;
    uint8_t *buf = malloc(j.len + att_len + 1);
    if (buf == NULL) {
        st = SX_E_NOMEM;
    } else {
        sx_writer bw;
        sx_writer_init_fixed(&bw, buf, j.len + att_len + 1);
        sx_write_slice(&bw, j);
        if (has) {
            st = sx_xrcp_tailbox_open(&box, sx_slice_of(att.ptr, att_len), buf + j.len);
            if (st == SX_OK && !sx_xrcp_tailbox_verify(&box, att.ptr + att_len))
                st = refuse(SX_XRCP_BODY_DECRYPT, why);
        }
    }
    sx_xrcp_tailbox_cleanup(&box);
    sx_wipe(head_buf, j.len);
    free(head_buf);
    if (st != SX_OK) {
        if (buf != NULL)
            sx_wipe(buf, j.len + att_len);
        free(buf);
        return st;
    }
    *json_buf = buf;
    *json = sx_slice_of(buf, j.len);
    *has_attachment = has;
    if (has)
        *attachment = sx_slice_of(buf + j.len, att_len);
    return SX_OK;
}
