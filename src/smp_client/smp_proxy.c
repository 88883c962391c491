/* The sending client's side of 2-hop routing (see smp_proxy.h). */
#include "smp_client/smp_proxy.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp_client/smp_client_int.h"

void sx_smp_relay_session_cleanup(sx_smp_relay_session *rs)
{
    if (!rs)
        return;
    sx_key_free(rs->relay_key);
    memset(rs, 0, sizeof *rs);
}

/* X.509 validation of the chain to its last certificate, and the leaf's
 * signature over the relay's key. */
static sx_status check_chain(const sx_slice *der, size_t n, sx_slice signed_key, sx_key **relay_key)
{
    X509 *certs[SX_X509_CHAIN_MAX] = {0};
    sx_key *leaf = NULL;
    sx_status st = SX_OK;
    for (size_t i = 0; i < n && st == SX_OK; i++)
        st = sx_x509_from_der(der[i], &certs[i]);
    if (st == SX_OK)
        st = sx_x509_validate_chain(certs, n, certs[n - 1], NULL);
    if (st == SX_OK)
        st = sx_x509_public_key(certs[0], &leaf);
    if (st == SX_OK)
        st = sx_x509_signed_key_verify(signed_key, leaf, SX_KEY_BIT(SX_KEY_X25519), relay_key);
    sx_key_free(leaf);
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
    return st == SX_OK || st == SX_E_NOMEM ? st : SX_E_AUTH;
}

sx_status sx_smp_pkey_check(const sx_smp_resp *pkey, const uint8_t key_hash[SX_FINGERPRINT_LEN], sx_version_range own,
                            sx_smp_relay_session *out)
{
    memset(out, 0, sizeof *out);
    SX_ENSURE(pkey->tag == SX_SMP_R_PKEY, SX_E_PROTOCOL);
    size_t n = pkey->pkey.chain.count;
    if (n < 2 || n > SX_X509_CHAIN_MAX)
        return SX_E_AUTH;
    sx_slice der[SX_X509_CHAIN_MAX];
    for (size_t i = 0; i < n; i++)
        if (sx_smp_list_get(&pkey->pkey.chain, SX_SMP_ITEM_LARGE, i, &der[i]) != SX_OK)
            return SX_E_PROTOCOL;
    uint8_t fp[SX_FINGERPRINT_LEN];
    if (sx_x509_fingerprint_der(der[1], fp) != SX_OK ||
        !sx_ct_equal(sx_slice_of(fp, sizeof fp), sx_slice_of(key_hash, SX_FINGERPRINT_LEN)))
        return SX_E_AUTH;
    sx_version_range vr = pkey->pkey.vrange;
    uint16_t lo = vr.min > own.min ? vr.min : own.min, hi = vr.max < own.max ? vr.max : own.max;
    if (lo > hi || hi < SX_SMP_V_SENDING_PROXY)
        return SX_E_PROTOCOL;
    sx_slice sid = pkey->pkey.session_id;
    if (sid.len == 0 || sid.len > sizeof out->session_id)
        return SX_E_PROTOCOL;
    SX_TRY(check_chain(der, n, pkey->pkey.signed_key, &out->relay_key));
    memcpy(out->session_id, sid.ptr, sid.len);
    out->session_id_len = sid.len;
    out->version = hi;
    return SX_OK;
}

/* The relay's session as the inner transmission sees it: its id, the
 * version and its key (for authenticators). */
static void inner_session(const sx_smp_relay_session *rs, sx_smp_session *s)
{
    memset(s, 0, sizeof *s);
    s->version = rs->version;
    memcpy(s->session_id, rs->session_id, rs->session_id_len);
    s->session_id_len = rs->session_id_len;
    s->server_dh_pub = rs->relay_key;
}

sx_status sx_smp_pfwd_make(const sx_smp_relay_session *rs, sx_slice entity, const sx_smp_cmd *cmd,
                           const sx_key *auth_key, sx_smp_pfwd *p)
{
    memset(p, 0, sizeof *p);
    sx_smp_session s;
    inner_session(rs, &s);
    sx_random_bytes(p->corr_id, sizeof p->corr_id);
    uint8_t *tbuf = malloc(SX_SMP_CLIENT_TBUF);
    sx_key *ck = NULL;
    sx_status st = tbuf ? SX_OK : SX_E_NOMEM;
    sx_writer w;
    if (st == SX_OK) {
        sx_writer_init_fixed(&w, tbuf, SX_SMP_CLIENT_TBUF);
        st = sx_smp_client_encode_corr(&s, entity, cmd, auth_key, p->corr_id, &w);
    }
    size_t n = 0;
    if (st == SX_OK)
        st = sx_key_generate(SX_KEY_X25519, &ck);
    if (st == SX_OK)
        st = sx_key_dh(ck, rs->relay_key, p->secret, sizeof p->secret, &n);
    if (st == SX_OK)
        st = sx_smp_proxied_seal(p->secret, p->corr_id, sx_writer_slice(&w), p->enc, sizeof p->enc);
    if (st == SX_OK)
        st = sx_smp_pubkey_of(ck, p->key_der, &p->cmd.pfwd.dh_key);
    if (st == SX_OK) {
        p->cmd.tag = SX_SMP_C_PFWD;
        p->cmd.pfwd.version = rs->version;
        p->cmd.pfwd.enc = sx_slice_of(p->enc, SX_SMP_PROXIED_BOX_LEN);
    }
    sx_key_free(ck);
    if (tbuf) {
        sx_wipe(tbuf, SX_SMP_CLIENT_TBUF);
        free(tbuf);
    }
    if (st != SX_OK)
        sx_wipe(p, sizeof *p);
    return st;
}

sx_status sx_smp_pres_open(const sx_smp_relay_session *rs, const sx_smp_pfwd *p, sx_slice enc, sx_smp_client_reply *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf = malloc(SX_SMP_PROXIED_BOX_LEN);
    if (!buf)
        return SX_E_NOMEM;
    uint8_t rev[SX_CB_NONCE_LEN];
    sx_cb_nonce_reverse(p->corr_id, rev);
    sx_slice t;
    sx_status st = sx_smp_proxied_open(p->secret, rev, enc, buf, SX_SMP_PROXIED_BOX_LEN, &t);
    if (st == SX_OK) {
        sx_smp_session s;
        inner_session(rs, &s);
        st = sx_smp_client_reply_from(&s, t, out);
    }
    sx_wipe(buf, SX_SMP_PROXIED_BOX_LEN);
    free(buf);
    return st;
}

sx_status sx_smp_client_proxy_session(sx_smp_client *cl, const sx_smp_address *dest, sx_slice basic_auth,
                                      sx_smp_relay_session *out, sx_smp_client_reply *reply)
{
    memset(out, 0, sizeof *out);
    memset(reply, 0, sizeof *reply);
    uint8_t hosts[258], port[8];
    size_t hl = strlen(dest->host);
    SX_ENSURE(hl > 0 && hl < 256, SX_E_USAGE);
    hosts[0] = 1;
    hosts[1] = (uint8_t)hl;
    memcpy(hosts + 2, dest->host, hl);
    int pl = snprintf((char *)port, sizeof port, "%u", (unsigned)dest->port);
    sx_smp_cmd c = {.tag = SX_SMP_C_PRXY};
    c.prxy.server.hosts.count = 1;
    c.prxy.server.hosts.items = sx_slice_of(hosts + 1, hl + 1);
    c.prxy.server.port = sx_slice_of(port, (size_t)pl);
    c.prxy.server.key_hash = sx_slice_of(dest->key_hash, SX_FINGERPRINT_LEN);
    c.prxy.has_basic_auth = basic_auth.len > 0;
    c.prxy.basic_auth = basic_auth;
    sx_smp_client_reply r;
    SX_TRY(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, NULL, &r));
    if (!r.ok || r.reply.resp.tag != SX_SMP_R_PKEY) {
        *reply = r;
        return SX_E_PROTOCOL;
    }
    sx_status st = sx_smp_pkey_check(&r.reply.resp, dest->key_hash, sx_smp_server_vrange(), out);
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_client_proxy_call(sx_smp_client *cl, const sx_smp_relay_session *rs, sx_slice entity,
                                   const sx_smp_cmd *cmd, const sx_key *auth_key, sx_smp_client_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    sx_smp_pfwd *p = malloc(sizeof *p);
    if (!p)
        return SX_E_NOMEM;
    sx_status st = sx_smp_pfwd_make(rs, entity, cmd, auth_key, p);
    sx_smp_client_reply r;
    if (st == SX_OK) {
        sx_smp_client_cmd cc = {.entity = sx_slice_of(rs->session_id, rs->session_id_len), .cmd = &p->cmd};
        cc.corr_given = true;
        memcpy(cc.corr_id, p->corr_id, sizeof cc.corr_id);
        st = sx_smp_client_call_many(cl, &cc, 1, &r);
    }
    if (st == SX_OK) {
        if (r.ok && r.reply.resp.tag == SX_SMP_R_PRES) {
            st = sx_smp_pres_open(rs, p, r.reply.resp.enc, reply);
            sx_smp_client_reply_free(&r);
        } else {
            *reply = r;
            st = SX_E_PROTOCOL;
        }
    }
    sx_wipe(p, sizeof *p);
    free(p);
    return st;
}
