/* The relay's side of 2-hop routing (PROTOCOL-NOTES D34-D36, reference
 * Server.hs processForwardedCommand at 152c30ca68): a proxy router sends
 * RFWD with a client's sealed transmission; the relay opens it with the
 * proxy session's secret and its own per-connection key, runs the one
 * command it holds (SEND, SKEY, LKEY or LGET only, as the reference) as if
 * the client had sent it at the version it chose, and seals the answer back
 * for the client inside the proxy's envelope, both with the byte-reversed
 * nonces. The relay never learns the client's address; the proxy never sees
 * the command or its answer. */
#include <string.h>

#include "crypto/box.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "smp/proxy.h"
#include "smp_router/commands_int.h"

#define FWD_BUF (SX_BLOCK_SIZE + 512)

static bool forwardable(sx_smp_cmd_tag t)
{
    return t == SX_SMP_C_SEND || t == SX_SMP_C_SKEY || t == SX_SMP_C_LKEY || t == SX_SMP_C_LGET;
}

static void err_proxy_transport(sx_cmd_ctx *x, sx_smp_transport_err te)
{
    sx_smp_error e = sx_smp_error_of(SX_SMP_ERR_PROXY);
    e.proxy.kind = SX_SMP_PROXY_BROKER;
    e.proxy.broker = SX_SMP_BROKER_TRANSPORT;
    e.proxy.transport = te;
    sx_cmd_reply_err(x->c, x->corr, x->entity, e);
}

/* Runs the inner transmission t (version v) with its one answer captured
 * into cap; the answer to a request that does not decode or is not allowed
 * is made here. */
static void run_inner(sx_cmd_ctx *x, sx_slice t, uint16_t v, sx_fwd_capture *cap)
{
    sx_conn *c = x->c;
    sx_smp_request req;
    cap->version = v;
    cap->done = false;
    c->capture = cap;
    if (sx_smp_request_decode(t, v, sx_smp_session_id(&c->sess), &req) != SX_OK) {
        sx_cmd_reply_err(c, req.reply_corr_id, req.reply_entity_id, req.err);
    } else if (!forwardable(req.cmd.tag)) {
        sx_cmd_reply_err(c, req.t.corr_id, req.t.entity_id, sx_smp_error_cmd(SX_SMP_CMD_PROHIBITED));
    } else {
        sx_cmd_ctx ix = {.c = c, .r = x->r, .req = &req, .corr = req.t.corr_id, .entity = req.t.entity_id, .v = v};
        sx_cmd_dispatch(&ix);
        if (!cap->done)
            sx_cmd_reply_err(c, req.t.corr_id, req.t.entity_id, sx_smp_error_of(SX_SMP_ERR_INTERNAL));
    }
    c->capture = NULL;
}

void sx_cmd_rfwd(sx_cmd_ctx *x)
{
    static __thread uint8_t plain[FWD_BUF], inner[SX_SMP_PROXIED_BOX_LEN], sealed[SX_SMP_PROXIED_BOX_LEN];
    static __thread uint8_t env[FWD_BUF], box[FWD_BUF];
    static __thread sx_fwd_capture cap;
    sx_conn *c = x->c;
    if (!c->sess.has_secret || !c->has_dh_priv) {
        err_proxy_transport(x, SX_SMP_TE_NO_AUTH);
        return;
    }
    uint8_t proxy_nonce[SX_CB_NONCE_LEN], client_nonce[SX_CB_NONCE_LEN], rev[SX_CB_NONCE_LEN];
    uint8_t client_secret[32];
    sx_cb_nonce(x->corr, proxy_nonce);
    sx_slice fwd_bytes;
    if (sx_cb_decrypt(c->sess.secret, proxy_nonce, x->req->cmd.enc, plain, sizeof plain, &fwd_bytes) != SX_OK) {
        sx_cmd_err(x, SX_SMP_ERR_CRYPTO);
        return;
    }
    sx_smp_fwd_t fwd;
    sx_qkey ck;
    if (sx_smp_fwd_t_decode(fwd_bytes, &fwd) != SX_OK || sx_cmd_qkey_of_pubkey(&fwd.dh_key, &ck) != SX_OK ||
        ck.len != 32) {
        sx_cmd_err_cmd(x, SX_SMP_CMD_SYNTAX);
        return;
    }
    if (sx_x25519_raw(c->dh_priv, ck.raw, client_secret) != SX_OK) {
        sx_cmd_err(x, SX_SMP_ERR_CRYPTO);
        return;
    }
    sx_cb_nonce(fwd.corr_id, client_nonce);
    sx_slice t;
    sx_status st = sx_smp_proxied_open(client_secret, client_nonce, fwd.enc, inner, sizeof inner, &t);
    if (st != SX_OK) {
        sx_wipe(client_secret, sizeof client_secret);
        sx_cmd_err(x, st == SX_E_PROTOCOL ? SX_SMP_ERR_BLOCK : SX_SMP_ERR_CRYPTO);
        return;
    }
    run_inner(x, t, fwd.version, &cap);
    sx_wipe(inner, sizeof inner);
    /* The answer sealed for the client, then wrapped for the proxy. */
    sx_cb_nonce_reverse(client_nonce, rev);
    st = sx_smp_proxied_seal(client_secret, rev, sx_slice_of(cap.buf, cap.len), sealed, sizeof sealed);
    sx_wipe(client_secret, sizeof client_secret);
    sx_wipe(cap.buf, cap.len);
    if (st != SX_OK) {
        sx_cmd_err(x, SX_SMP_ERR_BLOCK);
        return;
    }
    sx_writer w;
    sx_writer_init_fixed(&w, env, sizeof env);
    sx_smp_fwd_resp fr = {.corr_id = fwd.corr_id, .enc = sx_slice_of(sealed, SX_SMP_PROXIED_BOX_LEN)};
    sx_cb_nonce_reverse(proxy_nonce, rev);
    if (!sx_smp_fwd_resp_write(&w, &fr) ||
        sx_cb_encrypt(c->sess.secret, rev, sx_writer_slice(&w), box, sizeof box) != SX_OK) {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
        return;
    }
    sx_smp_resp m = {.tag = SX_SMP_R_RRES};
    m.enc = sx_slice_of(box, w.len + SX_CB_TAG_LEN);
    sx_cmd_reply(c, x->corr, sx_cmd_empty(), &m);
    /* The reference counts a forwarded command once its answer is sealed. */
    sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_P_MSG_FWDS_RECV);
}
