/* The public SMP API's 2-hop routing on the event loop
 * (sx_smp_aconn_send_proxied, sx_smp_aconn_secure_proxied): the steps of
 * smp_api_proxy.c as callbacks. An operation asks the proxy for a session
 * to its queue's router when the connection has none (PRXY -> PKEY,
 * checked), then sends the sealed command (PFWD -> PRES); PROXY NO_SESSION
 * makes it open a new session once. Each operation keeps a copy of the
 * session it uses, so that another operation forgetting it does no harm.
 * The core (sx_smpapi_proxy_op) works on any event-loop client with its
 * list of sessions: an sx_smp_aconn's, or a pool's connection to a proxy
 * router (pool_proxy.c); sx_smpapi_proxy_link_op forwards LKEY and LGET the
 * same way (the pool's pool_queue.c). */
#include "simplex/smp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"
#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client_loop.h"
#include "smp_client/smp_proxy.h"
#include "smp/version.h"

enum { LINK_KEY = 1, LINK_GET = 2 };

typedef struct pop {
    sx_smp_aconn *c; /* the public API's connection, or NULL (pool) */
    struct sx_smp_aclient *cl;
    sx_smpapi_proxied **list;
    const sx_smp_address *paddr; /* the proxy's address (its password) */
    sx_smpapi_proxy_done_fn gdone;
    bool host_error;
    bool secure;
    bool notify; /* send: with the notification flag */
    int link; /* LINK_KEY, LINK_GET, or 0 */
    uint8_t link_id[SX_QUEUE_ID_LEN];
    sx_smp_link *link_out;
    const char *what;
    sx_smp_queue *q;
    sx_smp_done_fn done;
    void *arg;
    uint8_t *body; /* send: a copy */
    size_t len;
    bool had_key; /* secure: the side had its key before */
    bool retried; /* a new session was opened after NO_SESSION */
    sx_smp_address dest;
    sx_smp_relay_session rs;
    sx_smp_pfwd p;
} pop;

static void pop_end(pop *o, sx_status st)
{
    if (o->gdone)
        o->gdone(st, o->host_error, o->arg);
    else if (o->done)
        o->done(o->c, st, o->arg);
    if (o->body) {
        sx_wipe(o->body, o->len);
        free(o->body);
    }
    sx_smp_relay_session_cleanup(&o->rs);
    sx_wipe(&o->p, sizeof o->p);
    free(o);
}

static sx_status copy_session(const sx_smp_relay_session *from, sx_smp_relay_session *to)
{
    sx_smp_relay_session_cleanup(to);
    *to = *from;
    to->relay_key = NULL;
    return sx_key_public_copy(from->relay_key, &to->relay_key);
}

static sx_status send_prxy(pop *o);

/* The reference's serverHostError, of a proxy's answer: the proxy cannot
 * use any of the destination's hosts (BROKER HOST) or their versions do not
 * match (BROKER TRANSPORT VERSION). */
static bool is_host_error(const sx_smp_client_reply *r)
{
    const sx_smp_resp *m = &r->reply.resp;
    if (!r->ok || m->tag != SX_SMP_R_ERR || m->err.type != SX_SMP_ERR_PROXY ||
        m->err.proxy.kind != SX_SMP_PROXY_BROKER)
        return false;
    return m->err.proxy.broker == SX_SMP_BROKER_HOST ||
           (m->err.proxy.broker == SX_SMP_BROKER_TRANSPORT && m->err.proxy.transport == SX_SMP_TE_VERSION);
}

static void pfwd_reply(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    (void)cl;
    pop *o = arg;
    sx_error_clear();
    if (status != SX_OK) {
        pop_end(o, sx_smpapi_net_error(o->what, status));
        return;
    }
    if (!r->ok || r->reply.resp.tag != SX_SMP_R_PRES) {
        if (sx_smpapi_is_no_session(r) && !o->retried) {
            o->retried = true;
            sx_smpapi_proxied_forget(o->list, &o->dest);
            sx_status st = send_prxy(o);
            if (st != SX_OK)
                pop_end(o, st);
            return;
        }
        o->host_error = is_host_error(r);
        pop_end(o, sx_smpapi_expect(o->what, r, SX_SMP_R_PRES));
        return;
    }
    sx_smp_client_reply inner;
    sx_status st = sx_smp_pres_open(&o->rs, &o->p, r->reply.resp.enc, &inner);
    if (st != SX_OK) {
        pop_end(o, sx_error_set(SX_E_PROTOCOL, NULL, "%s: the destination's answer could not be opened", o->what));
        return;
    }
    if (o->link)
        st = sx_smpapi_link_of(o->what, &inner, o->link_out);
    else if (o->secure)
        st = sx_smpapi_secure_answer(&inner, o->had_key);
    else
        st = sx_smpapi_send_answer(&inner, o->q);
    sx_smp_client_reply_free(&inner);
    pop_end(o, st);
}

/* The sealed command through the session in o->rs. */
static sx_status send_pfwd(pop *o)
{
    sx_smp_cmd cmd;
    uint8_t b[SX_KEY_SPKI_MAX];
    bool had_key = false;
    sx_slice entity = sx_slice_of(o->q->f.snd_id, SX_QUEUE_ID_LEN);
    const sx_key *key = NULL;
    if (o->link) {
        /* LKEY is signed with the key it sets, LGET with none. */
        if (o->rs.version < SX_SMP_V_SHORT_LINKS)
            return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the destination speaks SMP v%u; this needs v%d", o->what,
                                (unsigned)o->rs.version, SX_SMP_V_SHORT_LINKS);
        memset(&cmd, 0, sizeof cmd);
        cmd.tag = o->link == LINK_KEY ? SX_SMP_C_LKEY : SX_SMP_C_LGET;
        entity = sx_slice_of(o->link_id, SX_QUEUE_ID_LEN);
        key = NULL;
        if (o->link == LINK_KEY) {
            SX_TRY(sx_smp_queue_make_sender_key(o->q, NULL));
            key = o->q->f.snd_key;
            if (sx_smp_pubkey_of(key, b, &cmd.key) != SX_OK)
                return sx_error_set(SX_E_INTERNAL, NULL, "%s: cannot encode the key", o->what);
        }
    } else if (o->secure) {
        SX_TRY(sx_smpapi_secure_begin(o->q, o->rs.version, b, &cmd, &had_key));
        key = o->q->f.snd_key; /* made by secure_begin when missing */
    } else {
        SX_TRY(sx_smpapi_send_begin(o->rs.version, o->body, o->len, &cmd));
        cmd.send.notification = o->notify;
        key = o->q->f.snd_key;
    }
    if (o->secure && !o->retried)
        o->had_key = had_key;
    sx_status st = sx_smp_pfwd_make(&o->rs, entity, &cmd, key, &o->p);
    if (st != SX_OK)
        return sx_error_set(st, NULL, "%s: %s", o->what, sx_strerror(st));
    st = sx_smp_aclient_send_corr(o->cl, o->p.corr_id,
                                  sx_slice_of(o->rs.session_id, o->rs.session_id_len), &o->p.cmd, NULL, pfwd_reply, o);
    return st == SX_OK ? SX_OK : sx_error_set(st, NULL, "%s: %s", o->what, sx_strerror(st));
}

static void prxy_reply(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    (void)cl;
    pop *o = arg;
    sx_error_clear();
    if (status != SX_OK) {
        pop_end(o, sx_smpapi_net_error(o->what, status));
        return;
    }
    if (!r->ok || r->reply.resp.tag != SX_SMP_R_PKEY) {
        o->host_error = is_host_error(r);
        pop_end(o, sx_smpapi_expect(o->what, r, SX_SMP_R_PKEY));
        return;
    }
    sx_smp_relay_session rs;
    sx_status st = sx_smp_pkey_check(&r->reply.resp, o->dest.key_hash, sx_smp_server_vrange(), &rs);
    if (st != SX_OK) {
        pop_end(o, sx_smpapi_pkey_error(o->what, st));
        return;
    }
    st = copy_session(&rs, &o->rs);
    sx_smpapi_proxied **list = o->list;
    if (st == SX_OK && !sx_smpapi_proxied_find(*list, &o->dest))
        st = sx_smpapi_proxied_add(list, &o->dest, &rs);
    sx_smp_relay_session_cleanup(&rs);
    if (st == SX_OK)
        st = send_pfwd(o);
    if (st != SX_OK)
        pop_end(o, st);
}

/* PRXY for o's destination, with the proxy's password. */
static sx_status send_prxy(pop *o)
{
    const sx_smp_address *pa = o->paddr;
    uint8_t hosts[257], port[8];
    size_t hl = strlen(o->dest.host);
    hosts[0] = (uint8_t)hl;
    memcpy(hosts + 1, o->dest.host, hl);
    int pl = snprintf((char *)port, sizeof port, "%u", (unsigned)o->dest.port);
    sx_smp_cmd c = {.tag = SX_SMP_C_PRXY};
    c.prxy.server.hosts.count = 1;
    c.prxy.server.hosts.items = sx_slice_of(hosts, hl + 1);
    c.prxy.server.port = sx_slice_of(port, (size_t)pl);
    c.prxy.server.key_hash = sx_slice_of(o->dest.key_hash, SX_FINGERPRINT_LEN);
    c.prxy.has_basic_auth = pa->has_password;
    c.prxy.basic_auth = pa->has_password ? sx_slice_str(pa->password) : sx_slice_of(NULL, 0);
    sx_status st = sx_smp_aclient_send(o->cl, sx_slice_of(NULL, 0), &c, NULL, prxy_reply, o);
    return st == SX_OK ? SX_OK : sx_error_set(st, NULL, "%s: %s", o->what, sx_strerror(st));
}

static sx_status run(pop *o, sx_smp_queue *snd, const void *body, size_t len);

static sx_status start(sx_smp_aconn *c, bool secure, sx_smp_queue *snd, const void *body, size_t len,
                       sx_smp_done_fn cb, void *arg)
{
    const char *what = secure ? "secure" : "send";
    sx_error_clear();
    if (!sx_smpapi_aconn_usable(c))
        return sx_error_set(SX_E_USAGE, NULL, "%s: the proxy connection is not connected or is closing", what);
    pop *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->c = c;
    o->cl = sx_smpapi_aconn_client(c);
    o->list = sx_smpapi_aconn_proxied(c);
    o->paddr = sx_smpapi_aconn_address(c);
    o->secure = secure;
    o->done = cb;
    o->arg = arg;
    return run(o, snd, body, len);
}

sx_status sx_smpapi_proxy_op(struct sx_smp_aclient *cl, sx_smpapi_proxied **list, const sx_smp_address *proxy,
                             bool secure, bool notify, sx_smp_queue *snd, const void *body, size_t len,
                             sx_smpapi_proxy_done_fn done, void *arg)
{
    sx_error_clear();
    pop *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->cl = cl;
    o->list = list;
    o->paddr = proxy;
    o->secure = secure;
    o->notify = notify;
    o->gdone = done;
    o->arg = arg;
    return run(o, snd, body, len);
}

sx_status sx_smpapi_proxy_link_op(struct sx_smp_aclient *cl, sx_smpapi_proxied **list, const sx_smp_address *proxy,
                                  sx_smp_queue *snd, bool lkey, const uint8_t link_id[SX_QUEUE_ID_LEN],
                                  sx_smp_link *out, sx_smpapi_proxy_done_fn done, void *arg)
{
    sx_error_clear();
    pop *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->cl = cl;
    o->list = list;
    o->paddr = proxy;
    o->link = lkey ? LINK_KEY : LINK_GET;
    memcpy(o->link_id, link_id, SX_QUEUE_ID_LEN);
    o->link_out = out;
    o->gdone = done;
    o->arg = arg;
    return run(o, snd, NULL, 0);
}

/* Checks the arguments and starts o: PFWD when its connection has a session
 * to the destination, PRXY first otherwise. An error returned here has no
 * callback (o is freed). */
static sx_status run(pop *o, sx_smp_queue *snd, const void *body, size_t len)
{
    const char *what = o->secure ? "secure" : "send";
    if (o->link)
        what = o->link == LINK_KEY ? "link secure" : "link get";
    sx_status st = SX_OK;
    if (!body && len)
        st = sx_error_set(SX_E_USAGE, NULL, "send: no body");
    else
        st = sx_smpapi_need_role(snd, SX_QUEUE_SENDER, what);
    if (st != SX_OK) {
        free(o);
        return st;
    }
    o->what = what;
    o->q = snd;
    st = sx_smpapi_dest_of(snd, what, &o->dest);
    if (st == SX_OK && len) {
        o->body = malloc(len);
        if (o->body) {
            memcpy(o->body, body, len);
            o->len = len;
        } else {
            st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
    }
    if (st == SX_OK) {
        const sx_smp_relay_session *rs = sx_smpapi_proxied_find(*o->list, &o->dest);
        if (rs) {
            st = copy_session(rs, &o->rs);
            if (st == SX_OK)
                st = send_pfwd(o);
        } else {
            st = send_prxy(o);
        }
    }
    if (st != SX_OK) {
        o->done = NULL; /* an error returned here has no callback */
        o->gdone = NULL;
        pop_end(o, st);
    }
    return st;
}

sx_status sx_smp_aconn_send_proxied(sx_smp_aconn *proxy, const sx_smp_queue *snd, const void *body, size_t len,
                                    sx_smp_done_fn cb, void *arg)
{
    return start(proxy, false, (sx_smp_queue *)snd, body, len, cb, arg);
}

sx_status sx_smp_aconn_secure_proxied(sx_smp_aconn *proxy, sx_smp_queue *snd, sx_smp_done_fn cb, void *arg)
{
    return start(proxy, true, snd, NULL, 0, cb, arg);
}
