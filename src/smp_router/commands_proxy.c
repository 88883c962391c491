/* The proxy's side of 2-hop routing (PROTOCOL-NOTES D30-D31, D33-D34, D37;
 * reference Server.hs processProxiedCmd at 152c30ca68): PRXY connects this
 * router, as an SMP client, to the destination router a client names and
 * answers PKEY with that router's certificate chain and signed session key;
 * PFWD wraps the client's sealed transmission in RFWD for that router and
 * answers PRES with what comes back, which only the client can open. The
 * answers come later, from the relay connection's callbacks on the same
 * worker (relays.c); a client that left by then is not answered. */
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/util.h"
#include "smp/proxy.h"
#include "smp_router/commands_int.h"
#include "smp_router/relays.h"

#define SMP_DEFAULT_PORT 5223

static sx_smp_error proxy_error(sx_smp_proxy_err kind)
{
    sx_smp_error e = sx_smp_error_of(SX_SMP_ERR_PROXY);
    e.proxy.kind = kind;
    return e;
}

static sx_smp_error broker_error(sx_smp_broker_err b)
{
    sx_smp_error e = proxy_error(SX_SMP_PROXY_BROKER);
    e.proxy.broker = b;
    if (b == SX_SMP_BROKER_NETWORK)
        e.proxy.network = SX_SMP_NET_FAILED;
    return e;
}

static sx_smp_error transport_error(sx_smp_transport_err te)
{
    sx_smp_error e = broker_error(SX_SMP_BROKER_TRANSPORT);
    e.proxy.transport = te;
    return e;
}

/* An answer that comes after the command's batch: sent at once. */
static bool req_alive(const sx_relay_req *req)
{
    return req->c && req->c->fd >= 0 && !req->c->failing && req->c->state == SX_CONN_ACTIVE;
}

static void req_answer(sx_relay_req *req, const sx_smp_resp *m)
{
    sx_conn *c = req->c;
    sx_cmd_reply(c, sx_slice_of(req->corr, req->corr_len), sx_slice_of(req->entity, req->entity_len), m);
    sx_conn_flush(c);
}

static void req_answer_err(sx_relay_req *req, sx_smp_error e)
{
    sx_smp_resp m = {.tag = SX_SMP_R_ERR};
    m.err = e;
    req_answer(req, &m);
}

static sx_relay_req *req_new(sx_cmd_ctx *x, sx_relay_done_fn done)
{
    sx_relay_req *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->done = done;
    req->corr_len = x->corr.len <= sizeof req->corr ? x->corr.len : sizeof req->corr;
    memcpy(req->corr, x->corr.ptr, req->corr_len);
    req->entity_len = x->entity.len <= sizeof req->entity ? x->entity.len : sizeof req->entity;
    if (req->entity_len)
        memcpy(req->entity, x->entity.ptr, req->entity_len);
    return req;
}

/* ---- PRXY -> PKEY ---- */

/* PROTOCOL-NOTES D31: the relay's session id, its range capped to 8..18 and
 * its chain and signed key as it sent them in its hello (the reference code
 * caps at 18, proxiedSMPRelayVersion, not 17 as the notes said). */
static void send_pkey(sx_conn *c, sx_slice corr, sx_slice entity, sx_relay *rl)
{
    static __thread uint8_t chain[SX_BLOCK_SIZE];
    const sx_smp_session *s = sx_relay_session(rl);
    sx_version_range vr = {
        .min = s->peer_range.min > SX_SMP_V_SENDING_PROXY ? s->peer_range.min : SX_SMP_V_SENDING_PROXY,
        .max = s->peer_range.max < SX_SMP_VERSION_PROXIED_MAX ? s->peer_range.max : SX_SMP_VERSION_PROXIED_MAX,
    };
    if (vr.min > vr.max || s->version < SX_SMP_V_SENDING_PROXY) {
        sx_cmd_reply_err(c, corr, entity, transport_error(SX_SMP_TE_VERSION));
        return;
    }
    if (!s->server_dh_pub || s->peer_chain_len == 0 || s->peer_signed_key.len == 0) {
        sx_cmd_reply_err(c, corr, entity, transport_error(SX_SMP_TE_NO_AUTH));
        return;
    }
    sx_writer w;
    sx_writer_init_fixed(&w, chain, sizeof chain);
    for (size_t i = 0; i < s->peer_chain_len; i++)
        sx_write_large(&w, s->peer_chain[i]);
    sx_smp_resp m = {.tag = SX_SMP_R_PKEY};
    m.pkey.session_id = sx_smp_session_id(s);
    m.pkey.vrange = vr;
    m.pkey.chain.count = s->peer_chain_len;
    m.pkey.chain.items = sx_writer_slice(&w);
    m.pkey.signed_key = s->peer_signed_key;
    sx_cmd_reply(c, corr, entity, &m);
}

static void prxy_done(sx_relay_req *req, sx_relay *rl, sx_status st, sx_smp_client_reply *reply)
{
    (void)reply;
    if (req_alive(req)) {
        sx_conn *c = req->c;
        sx_slice corr = sx_slice_of(req->corr, req->corr_len);
        sx_slice entity = sx_slice_of(req->entity, req->entity_len);
        if (st == SX_OK && rl) {
            send_pkey(c, corr, entity, rl);
        } else {
            /* PROTOCOL-NOTES D31: the relay could not be reached or refused
             * the handshake. */
            sx_smp_error e = broker_error(SX_SMP_BROKER_NETWORK);
            if (st == SX_E_AUTH)
                e = transport_error(SX_SMP_TE_HANDSHAKE), e.proxy.handshake = SX_SMP_HS_IDENTITY;
            else if (st == SX_E_PROTOCOL)
                e = transport_error(SX_SMP_TE_VERSION);
            sx_cmd_reply_err(c, corr, entity, e);
        }
        sx_conn_flush(c);
    }
    sx_relays_req_detach(req);
    free(req);
}

/* The first host that is not an onion address (this router has no SOCKS
 * proxy to reach those: [PROXY] host_mode public), without IPv6 brackets. */
static bool pick_host(const sx_smp_server *srv, char *host, size_t cap)
{
    for (size_t i = 0; i < srv->hosts.count; i++) {
        sx_slice h;
        sx_smp_host_kind kind;
        if (sx_smp_list_get(&srv->hosts, SX_SMP_ITEM_HOST, i, &h) != SX_OK)
            return false;
        if (sx_smp_host_match(h, &kind) != h.len || kind == SX_SMP_HOST_ONION)
            continue;
        if (h.len >= 2 && h.ptr[0] == '[' && h.ptr[h.len - 1] == ']')
            h = sx_slice_of(h.ptr + 1, h.len - 2);
        if (h.len == 0 || h.len >= cap)
            continue;
        memcpy(host, h.ptr, h.len);
        host[h.len] = 0;
        return true;
    }
    return false;
}

static bool parse_port(sx_slice p, uint16_t *port)
{
    if (p.len == 0) {
        *port = SMP_DEFAULT_PORT;
        return true;
    }
    unsigned v = 0;
    for (size_t i = 0; i < p.len; i++) {
        if (p.ptr[i] < '0' || p.ptr[i] > '9' || p.len > 5)
            return false;
        v = v * 10 + (unsigned)(p.ptr[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

void sx_cmd_prxy(sx_cmd_ctx *x)
{
    const sx_smp_cmd *cmd = &x->req->cmd;
    sx_router *r = x->r;
    /* PROTOCOL-NOTES D30: the router's create password, when it has one. */
    if (r->has_password &&
        (!cmd->prxy.has_basic_auth ||
         !sx_ct_equal(cmd->prxy.basic_auth, sx_slice_of(r->create_password, r->create_password_len)))) {
        sx_cmd_reply_err(x->c, x->corr, x->entity, proxy_error(SX_SMP_PROXY_BASIC_AUTH));
        return;
    }
    char host[256];
    uint16_t port;
    if (!pick_host(&cmd->prxy.server, host, sizeof host)) {
        sx_cmd_reply_err(x->c, x->corr, x->entity, broker_error(SX_SMP_BROKER_HOST));
        return;
    }
    if (!parse_port(cmd->prxy.server.port, &port) || cmd->prxy.server.key_hash.len != SX_FINGERPRINT_LEN) {
        sx_cmd_reply_err(x->c, x->corr, x->entity, broker_error(SX_SMP_BROKER_NETWORK));
        return;
    }
    sx_relay_req *req = req_new(x, prxy_done);
    if (!req) {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
        return;
    }
    sx_relay *rl = NULL;
    sx_status st = sx_relays_get(x->c->w, host, port, cmd->prxy.server.key_hash.ptr, req, &rl);
    if (st == SX_E_WOULD_BLOCK) {
        sx_relays_req_attach(x->c, req);
        return;
    }
    if (st == SX_OK)
        send_pkey(x->c, x->corr, x->entity, rl);
    else
        sx_cmd_reply_err(x->c, x->corr, x->entity, broker_error(SX_SMP_BROKER_NETWORK));
    free(req);
}

/* ---- PFWD -> RFWD -> RRES -> PRES ---- */

static void pfwd_done(sx_relay_req *req, sx_relay *rl, sx_status st, sx_smp_client_reply *reply)
{
    static __thread uint8_t plain[SX_BLOCK_SIZE];
    static __thread uint8_t ebuf[512];
    if (!req_alive(req))
        goto out;
    if (st != SX_OK || !rl) {
        req_answer_err(req, broker_error(st == SX_E_IO ? SX_SMP_BROKER_TIMEOUT : SX_SMP_BROKER_NETWORK));
        goto out;
    }
    if (!reply->ok) {
        /* PROTOCOL-NOTES D37: the relay's answer did not decode. */
        sx_smp_error e = broker_error(SX_SMP_BROKER_RESPONSE);
        e.proxy.text = sx_slice_str(sx_smp_err_name(reply->reply.err.type));
        req_answer_err(req, e);
        goto out;
    }
    const sx_smp_resp *m = &reply->reply.resp;
    if (m->tag == SX_SMP_R_ERR) {
        /* The relay refused RFWD itself: its error, nested. */
        sx_writer w;
        sx_writer_init_fixed(&w, ebuf, sizeof ebuf);
        sx_smp_error e = proxy_error(SX_SMP_PROXY_PROTOCOL);
        if (!sx_smp_error_write(&w, sx_relay_session(rl)->version, &m->err)) {
            req_answer_err(req, sx_smp_error_of(SX_SMP_ERR_INTERNAL));
            goto out;
        }
        e.proxy.inner = sx_writer_slice(&w);
        req_answer_err(req, e);
        goto out;
    }
    if (m->tag != SX_SMP_R_RRES) {
        sx_smp_error e = broker_error(SX_SMP_BROKER_UNEXPECTED);
        e.proxy.text = sx_slice_str(sx_smp_resp_name(m->tag));
        req_answer_err(req, e);
        goto out;
    }
    uint8_t rev[SX_CB_NONCE_LEN];
    sx_cb_nonce_reverse(req->nonce, rev);
    sx_slice fwd_bytes;
    if (sx_cb_decrypt(sx_relay_session(rl)->secret, rev, m->enc, plain, sizeof plain, &fwd_bytes) != SX_OK) {
        req_answer_err(req, sx_smp_error_of(SX_SMP_ERR_CRYPTO));
        goto out;
    }
    sx_smp_fwd_resp fr;
    if (sx_smp_fwd_resp_decode(fwd_bytes, &fr) != SX_OK) {
        sx_smp_error e = broker_error(SX_SMP_BROKER_RESPONSE);
        e.proxy.text = sx_slice_str("BLOCK");
        req_answer_err(req, e);
        goto out;
    }
    sx_smp_resp pres = {.tag = SX_SMP_R_PRES};
    pres.enc = fr.enc;
    req_answer(req, &pres);
out:
    sx_relays_req_detach(req);
    free(req);
}

void sx_cmd_pfwd(sx_cmd_ctx *x)
{
    static __thread uint8_t plain[SX_BLOCK_SIZE], box[SX_BLOCK_SIZE];
    const sx_smp_cmd *cmd = &x->req->cmd;
    sx_relay *rl = sx_relays_by_session(x->c->w, x->entity);
    if (!rl) {
        sx_cmd_reply_err(x->c, x->corr, x->entity, proxy_error(SX_SMP_PROXY_NO_SESSION));
        return;
    }
    const sx_smp_session *s = sx_relay_session(rl);
    if (s->version < SX_SMP_V_SENDING_PROXY) {
        sx_cmd_reply_err(x->c, x->corr, x->entity, transport_error(SX_SMP_TE_VERSION));
        return;
    }
    if (!s->has_secret) {
        sx_cmd_reply_err(x->c, x->corr, x->entity, transport_error(SX_SMP_TE_NO_AUTH));
        return;
    }
    sx_relay_req *req = req_new(x, pfwd_done);
    if (!req) {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
        return;
    }
    /* PROTOCOL-NOTES D34: the client's corrId, version, key and sealed
     * transmission, boxed for the relay with a fresh nonce (RFWD's corrId). */
    sx_smp_fwd_t f = {.corr_id = x->corr, .version = cmd->pfwd.version, .dh_key = cmd->pfwd.dh_key};
    f.enc = cmd->pfwd.enc;
    sx_writer w;
    sx_writer_init_fixed(&w, plain, sizeof plain);
    sx_random_bytes(req->nonce, sizeof req->nonce);
    sx_status st = SX_E_LIMIT;
    if (sx_smp_fwd_t_write(&w, &f))
        st = sx_cb_encrypt(s->secret, req->nonce, sx_writer_slice(&w), box, sizeof box);
    if (st == SX_OK) {
        sx_smp_cmd rfwd = {.tag = SX_SMP_C_RFWD};
        rfwd.enc = sx_slice_of(box, w.len + SX_CB_TAG_LEN);
        st = sx_relay_send(rl, &rfwd, req);
    }
    if (st != SX_OK) {
        sx_smp_error e = st == SX_E_LIMIT ? sx_smp_error_of(SX_SMP_ERR_LARGE_MSG) : broker_error(SX_SMP_BROKER_NETWORK);
        sx_cmd_reply_err(x->c, x->corr, x->entity, e);
        free(req);
        return;
    }
    sx_relays_req_attach(x->c, req);
}
