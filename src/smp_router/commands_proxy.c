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
#include "kit/say.h"
#include "smp/proxy.h"
#include "smp_router/commands_int.h"
#include "smp_router/relays.h"

#define SMP_DEFAULT_PORT 5223
#define SX_PROXY_TIMEOUT_MS 30000

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
/* ---- statistics (reference: pRelays, pMsgFwds and their "own" twins) ---- */

/* The five counters of a group, in stats.h order. */
enum { PS_REQUESTS,
       PS_SUCCESSES,
       PS_ERR_CONNECT,
       PS_ERR_COMPAT,
       PS_ERR_OTHER };

/* One request of a group counted with its outcome, in the "own" group too
 * when own. */
static void count(sx_router *r, sx_smp_stat group, sx_smp_stat own_group, bool own, int outcome)
{
    sx_smp_stats_inc(&r->stats, group + PS_REQUESTS);
    sx_smp_stats_inc(&r->stats, group + outcome);
    if (own) {
        sx_smp_stats_inc(&r->stats, own_group + PS_REQUESTS);
        sx_smp_stats_inc(&r->stats, own_group + outcome);
    }
}

static void count_relay(sx_router *r, bool own, int outcome)
{
    count(r, SX_SMP_STAT_P_RELAYS_REQUESTS, SX_SMP_STAT_P_RELAYS_OWN_REQUESTS, own, outcome);
}

static void count_fwd(sx_router *r, bool own, int outcome)
{
    count(r, SX_SMP_STAT_P_MSG_FWDS_REQUESTS, SX_SMP_STAT_P_MSG_FWDS_OWN_REQUESTS, own, outcome);
}

/* A failed connection: the reference counts network failures and timeouts
 * as connection errors, the rest (handshake, identity) as other errors. */
static int connect_outcome(sx_status st)
{
    return st == SX_E_IO || st == SX_E_CLOSED ? PS_ERR_CONNECT : PS_ERR_OTHER;
}

/* The reference's isOwnServer: the first host of the destination's address
 * is one of own_server_domains or a subdomain of one. */
static bool is_own(const sx_router *r, sx_slice host)
{
    const char *d = r->opts.proxy_own_domains;
    if (!d || host.len == 0)
        return false;
    while (*d) {
        size_t skip = strspn(d, " \t,");
        d += skip;
        size_t n = strcspn(d, " \t,");
        if (n == 0)
            break;
        if (host.len == n && memcmp(host.ptr, d, n) == 0)
            return true;
        if (host.len > n && host.ptr[host.len - n - 1] == '.' && memcmp(host.ptr + host.len - n, d, n) == 0)
            return true;
        d += n;
    }
    return false;
}

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

/* A proxied command of a client: waiting for its turn (client_concurrency,
 * PROTOCOL-NOTES D38) or for the relay. The relay's callbacks get &req. */
struct sx_pcmd {
    sx_relay_req req; /* first */
    bool is_pfwd;
    int64_t deadline_ms;    /* PFWD sent: answered TIMEOUT after it */
    struct sx_pcmd *wnext;  /* the connection's waiting commands */
    sx_server_address dest; /* PRXY: the destination (the relay's identity) */
    char host[256];         /* the host of dest connected to */
    uint16_t port;
    uint8_t key_hash[SX_FINGERPRINT_LEN];
    uint8_t *plain; /* PFWD: the RFWD plaintext (PROTOCOL-NOTES D34) */
    size_t plain_len;
    bool timed_out; /* PFWD: answered TIMEOUT and counted already */
    sx_router *router;
};

static sx_pcmd *pcmd_new(sx_cmd_ctx *x, sx_relay_done_fn done)
{
    sx_pcmd *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    sx_relay_req *req = &p->req;
    p->router = x->r;
    req->done = done;
    req->corr_len = x->corr.len <= sizeof req->corr ? x->corr.len : sizeof req->corr;
    memcpy(req->corr, x->corr.ptr, req->corr_len);
    req->entity_len = x->entity.len <= sizeof req->entity ? x->entity.len : sizeof req->entity;
    if (req->entity_len)
        memcpy(req->entity, x->entity.ptr, req->entity_len);
    return p;
}

static void pcmd_free(sx_pcmd *p)
{
    if (p->plain) {
        sx_wipe(p->plain, p->plain_len);
        free(p->plain);
    }
    free(p);
}

static unsigned concurrency(const sx_conn *c)
{
    unsigned n = c->w->r->opts.proxy_client_concurrency;
    return n ? n : 32;
}

static void start(sx_conn *c, sx_pcmd *p, bool async);

/* Starts the waiting commands of c while it has room. */
static void drain(sx_conn *c)
{
    bool was_full = sx_proxy_conn_full(c);
    while (c->pwait && c->proxied_n < concurrency(c) && c->fd >= 0 && !c->failing) {
        sx_pcmd *p = c->pwait;
        c->pwait = p->wnext;
        if (!c->pwait)
            c->pwait_tail = NULL;
        p->wnext = NULL;
        c->pwait_n--;
        start(c, p, true);
    }
    if (was_full && !sx_proxy_conn_full(c))
        sx_conn_resume_reading(c);
}

bool sx_proxy_conn_full(const sx_conn *c)
{
    return c->pwait_n >= concurrency(c);
}

/* A relay callback is done with p: off its connection, freed, and the
 * connection's next waiting command started. */
static void finish(sx_pcmd *p)
{
    sx_conn *c = p->req.c;
    sx_relays_req_detach(&p->req);
    pcmd_free(p);
    if (c)
        drain(c);
}

static void submit(sx_conn *c, sx_pcmd *p)
{
    if (c->proxied_n < concurrency(c) && !c->pwait) {
        start(c, p, false);
        return;
    }
    SX_SAY(SX_SAY_DEBUG, "client %llu: proxied command waits (%u running)", (unsigned long long)c->id,
           c->proxied_n);
    if (c->pwait_tail)
        c->pwait_tail->wnext = p;
    else
        c->pwait = p;
    c->pwait_tail = p;
    c->pwait_n++;
    if (sx_proxy_conn_full(c))
        SX_SAY(SX_SAY_DEBUG, "client %llu: not read while %u proxied commands wait", (unsigned long long)c->id,
               c->pwait_n);
}

void sx_proxy_conn_closed(sx_conn *c)
{
    sx_relays_conn_closed(c);
    while (c->pwait) {
        sx_pcmd *p = c->pwait;
        c->pwait = p->wnext;
        pcmd_free(p);
    }
    c->pwait_tail = NULL;
    c->pwait_n = 0;
}

/* ---- PRXY -> PKEY ---- */

/* PROTOCOL-NOTES D31: the relay's session id, its range capped to 8..18 and
 * its chain and signed key as it sent them in its hello (the reference code
 * caps at 18, proxiedSMPRelayVersion, not 17 as the notes said). */
static bool send_pkey(sx_conn *c, sx_slice corr, sx_slice entity, sx_relay *rl)
{
    static __thread uint8_t chain[SX_BLOCK_SIZE];
    const sx_smp_session *s = sx_relay_session(rl);
    sx_version_range vr = {
        .min = s->peer_range.min > SX_SMP_V_SENDING_PROXY ? s->peer_range.min : SX_SMP_V_SENDING_PROXY,
        .max = s->peer_range.max < SX_SMP_VERSION_PROXIED_MAX ? s->peer_range.max : SX_SMP_VERSION_PROXIED_MAX,
    };
    if (vr.min > vr.max || s->version < SX_SMP_V_SENDING_PROXY) {
        sx_cmd_reply_err(c, corr, entity, transport_error(SX_SMP_TE_VERSION));
        return false;
    }
    if (!s->server_dh_pub || s->peer_chain_len == 0 || s->peer_signed_key.len == 0) {
        sx_cmd_reply_err(c, corr, entity, transport_error(SX_SMP_TE_NO_AUTH));
        return false;
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
    return true;
}

/* Whether the relay's session allows a PKEY (send_pkey's checks), for a
 * client that left before its answer. */
static bool pkey_possible(sx_relay *rl)
{
    const sx_smp_session *s = sx_relay_session(rl);
    return s->version >= SX_SMP_V_SENDING_PROXY && s->peer_range.min <= SX_SMP_VERSION_PROXIED_MAX &&
           s->peer_range.max >= SX_SMP_V_SENDING_PROXY && s->server_dh_pub && s->peer_chain_len > 0 &&
           s->peer_signed_key.len > 0;
}

static void prxy_done(sx_relay_req *req, sx_relay *rl, sx_status st, sx_smp_client_reply *reply)
{
    (void)reply;
    sx_router *r = ((sx_pcmd *)req)->router;
    if (!req_alive(req)) {
        /* Counted as the reference does, whose answer is made anyway. */
        if (st == SX_OK && rl)
            count_relay(r, req->own, pkey_possible(rl) ? PS_SUCCESSES : PS_ERR_COMPAT);
        else
            count_relay(r, req->own, connect_outcome(st));
    } else {
        sx_conn *c = req->c;
        sx_slice corr = sx_slice_of(req->corr, req->corr_len);
        sx_slice entity = sx_slice_of(req->entity, req->entity_len);
        if (st == SX_OK && rl) {
            count_relay(r, req->own, send_pkey(c, corr, entity, rl) ? PS_SUCCESSES : PS_ERR_COMPAT);
        } else {
            count_relay(r, req->own, connect_outcome(st));
            /* PROTOCOL-NOTES D31: the relay could not be reached (its
             * identity is checked in TLS, a network error as in the
             * reference) or refused the handshake. */
            sx_smp_error e = broker_error(SX_SMP_BROKER_NETWORK);
            if (st == SX_E_PROTOCOL)
                e = transport_error(SX_SMP_TE_VERSION);
            sx_cmd_reply_err(c, corr, entity, e);
        }
        sx_conn_flush(c);
    }
    finish((sx_pcmd *)req);
}

/* PROTOCOL-NOTES D30, D38a, reference chooseTransportHost: the first host
 * that is not an onion address, or with onion (host_mode onion and a
 * socks_proxy) the first onion host; when there is none of the kind, the
 * first host, or none with [PROXY] required_host_mode. IPv6 without
 * brackets. */
static bool pick_host(const sx_smp_server *srv, bool required, bool onion, char *host, size_t cap)
{
    sx_slice first = sx_slice_of(NULL, 0), pick = sx_slice_of(NULL, 0), onion_host = sx_slice_of(NULL, 0);
    for (size_t i = 0; i < srv->hosts.count; i++) {
        sx_slice h;
        sx_smp_host_kind kind;
        if (sx_smp_list_get(&srv->hosts, SX_SMP_ITEM_HOST, i, &h) != SX_OK || sx_smp_host_match(h, &kind) != h.len)
            return false;
        if (i == 0)
            first = h;
        if (kind != SX_SMP_HOST_ONION && !pick.len)
            pick = h;
        if (kind == SX_SMP_HOST_ONION && !onion_host.len)
            onion_host = h;
    }
    /* host_mode: onion through a SOCKS proxy: the first onion host (the
     * reference's HMOnionViaSocks), else, unless required, the first host. */
    if (onion)
        pick = onion_host;
    if (!pick.len && !required)
        pick = first;
    if (pick.len >= 2 && pick.ptr[0] == '[' && pick.ptr[pick.len - 1] == ']')
        pick = sx_slice_of(pick.ptr + 1, pick.len - 2);
    if (pick.len == 0 || pick.len >= cap)
        return false;
    memcpy(host, pick.ptr, pick.len);
    host[pick.len] = 0;
    return true;
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

static void start_prxy(sx_conn *c, sx_pcmd *p, bool async)
{
    sx_relay_req *req = &p->req;
    sx_slice corr = sx_slice_of(req->corr, req->corr_len), entity = sx_slice_of(req->entity, req->entity_len);
    sx_relay *rl = NULL;
    sx_status st = sx_relays_get(c->w, &p->dest, p->host, p->port, p->key_hash, req, &rl);
    if (st == SX_E_WOULD_BLOCK) {
        sx_relays_req_attach(c, req);
        return;
    }
    if (st == SX_OK) {
        count_relay(c->w->r, req->own, send_pkey(c, corr, entity, rl) ? PS_SUCCESSES : PS_ERR_COMPAT);
    } else {
        count_relay(c->w->r, req->own, connect_outcome(st));
        sx_cmd_reply_err(c, corr, entity, broker_error(SX_SMP_BROKER_NETWORK));
    }
    if (async)
        sx_conn_flush(c);
    pcmd_free(p);
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
    sx_pcmd *p = pcmd_new(x, prxy_done);
    if (!p) {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
        return;
    }
    sx_slice first;
    p->req.own = cmd->prxy.server.hosts.count > 0 &&
                 sx_smp_list_get(&cmd->prxy.server.hosts, SX_SMP_ITEM_HOST, 0, &first) == SX_OK && is_own(r, first);
    if (!pick_host(&cmd->prxy.server, r->opts.proxy_required_host_mode, r->opts.proxy_onion_hosts, p->host,
                   sizeof p->host)) {
        count_relay(r, p->req.own, PS_ERR_OTHER);
        sx_cmd_reply_err(x->c, x->corr, x->entity, broker_error(SX_SMP_BROKER_HOST));
        pcmd_free(p);
        return;
    }
    if (!parse_port(cmd->prxy.server.port, &p->port) || cmd->prxy.server.key_hash.len != SX_FINGERPRINT_LEN) {
        count_relay(r, p->req.own, PS_ERR_OTHER);
        sx_cmd_reply_err(x->c, x->corr, x->entity, broker_error(SX_SMP_BROKER_NETWORK));
        pcmd_free(p);
        return;
    }
    memcpy(p->key_hash, cmd->prxy.server.key_hash.ptr, SX_FINGERPRINT_LEN);
    /* The relay is the whole address, as the reference's proxy agent keys
     * its connections (PROTOCOL-NOTES D31). */
    if (sx_server_address_from_wire(&cmd->prxy.server, &p->dest) != SX_OK) {
        count_relay(r, p->req.own, PS_ERR_OTHER);
        sx_cmd_reply_err(x->c, x->corr, x->entity, broker_error(SX_SMP_BROKER_NETWORK));
        pcmd_free(p);
        return;
    }
    submit(x->c, p);
}

/* ---- PFWD -> RFWD -> RRES -> PRES ---- */

static void pfwd_done(sx_relay_req *req, sx_relay *rl, sx_status st, sx_smp_client_reply *reply)
{
    static __thread uint8_t plain[SX_BLOCK_SIZE];
    static __thread uint8_t ebuf[512];
    sx_pcmd *p = (sx_pcmd *)req;
    /* As the reference: a forwarded command the destination answered
     * (RRES, or an error of its own) is a success, anything else an other
     * error; one that timed out was counted then. */
    if (!p->timed_out) {
        bool ok = st == SX_OK && rl && reply && reply->ok &&
                  (reply->reply.resp.tag == SX_SMP_R_RRES || reply->reply.resp.tag == SX_SMP_R_ERR);
        count_fwd(p->router, rl ? sx_relay_own(rl) : false, ok ? PS_SUCCESSES : PS_ERR_OTHER);
    }
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
    finish((sx_pcmd *)req);
}

static void start_pfwd(sx_conn *c, sx_pcmd *p, bool async)
{
    static __thread uint8_t box[SX_BLOCK_SIZE];
    sx_relay_req *req = &p->req;
    sx_slice corr = sx_slice_of(req->corr, req->corr_len), entity = sx_slice_of(req->entity, req->entity_len);
    sx_relay *rl = sx_relays_by_session(c->w, entity);
    const sx_smp_session *s = rl ? sx_relay_session(rl) : NULL;
    sx_smp_error e = sx_smp_error_of(SX_SMP_ERR_INTERNAL);
    sx_status st = SX_E_PROTOCOL;
    sx_router *r = c->w->r;
    /* The reference: no session is a connection error of no destination;
     * an old destination an incompatible one. */
    if (!rl) {
        e = proxy_error(SX_SMP_PROXY_NO_SESSION);
        count_fwd(r, false, PS_ERR_CONNECT);
    } else if (s->version < SX_SMP_V_SENDING_PROXY) {
        e = transport_error(SX_SMP_TE_VERSION);
        count_fwd(r, sx_relay_own(rl), PS_ERR_COMPAT);
    } else if (!s->has_secret) {
        e = transport_error(SX_SMP_TE_NO_AUTH);
        count_fwd(r, sx_relay_own(rl), PS_ERR_OTHER);
    } else {
        /* PROTOCOL-NOTES D34: boxed for the relay with a fresh nonce, which
         * is RFWD's corrId. */
        sx_random_bytes(req->nonce, sizeof req->nonce);
        st = sx_cb_encrypt(s->secret, req->nonce, sx_slice_of(p->plain, p->plain_len), box, sizeof box);
        if (st == SX_OK) {
            sx_smp_cmd rfwd = {.tag = SX_SMP_C_RFWD};
            rfwd.enc = sx_slice_of(box, p->plain_len + SX_CB_TAG_LEN);
            st = sx_relay_send(rl, &rfwd, req);
        }
        e = broker_error(SX_SMP_BROKER_NETWORK);
        if (st != SX_OK)
            count_fwd(r, sx_relay_own(rl), PS_ERR_OTHER);
    }
    if (st == SX_OK) {
        int t = c->w->r->opts.proxy_timeout_ms;
        p->deadline_ms = sx_loop_now_ms() + (t > 0 ? t : SX_PROXY_TIMEOUT_MS);
        sx_relays_req_attach(c, req);
        return;
    }
    sx_cmd_reply_err(c, corr, entity, e);
    if (async)
        sx_conn_flush(c);
    pcmd_free(p);
}

void sx_cmd_pfwd(sx_cmd_ctx *x)
{
    const sx_smp_cmd *cmd = &x->req->cmd;
    sx_pcmd *p = pcmd_new(x, pfwd_done);
    if (p) {
        p->is_pfwd = true;
        p->plain = malloc(SX_BLOCK_SIZE);
    }
    if (!p || !p->plain) {
        if (p)
            pcmd_free(p);
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
        return;
    }
    /* PROTOCOL-NOTES D34: the client's corrId, version, key and sealed
     * transmission. */
    sx_smp_fwd_t f = {.corr_id = x->corr, .version = cmd->pfwd.version, .dh_key = cmd->pfwd.dh_key};
    f.enc = cmd->pfwd.enc;
    sx_writer w;
    sx_writer_init_fixed(&w, p->plain, SX_BLOCK_SIZE - SX_CB_TAG_LEN);
    if (!sx_smp_fwd_t_write(&w, &f)) {
        sx_cmd_err(x, SX_SMP_ERR_LARGE_MSG);
        pcmd_free(p);
        return;
    }
    p->plain_len = w.len;
    submit(x->c, p);
}

static void start(sx_conn *c, sx_pcmd *p, bool async)
{
    if (p->is_pfwd)
        start_pfwd(c, p, async);
    else
        start_prxy(c, p, async);
}

/* PFWDs whose relay has not answered in time (reference: the proxy's
 * forwarding runs under a timeout): answered PROXY BROKER TIMEOUT and let go;
 * the relay's late answer then finds no client. */
void sx_proxy_tick(sx_worker *w, int64_t now_ms)
{
    for (sx_conn *c = w->conns; c; c = c->next) {
        bool freed = false;
        for (sx_relay_req *req = c->proxied, *next; req; req = next) {
            next = req->cnext;
            sx_pcmd *p = (sx_pcmd *)req;
            if (!p->is_pfwd || now_ms < p->deadline_ms)
                continue;
            if (req_alive(req))
                req_answer_err(req, broker_error(SX_SMP_BROKER_TIMEOUT));
            if (!p->timed_out && req->relay)
                count_fwd(w->r, sx_relay_own(req->relay), PS_ERR_OTHER);
            p->timed_out = true;
            sx_relays_req_detach(req);
            freed = true;
        }
        if (freed)
            drain(c);
    }
}
