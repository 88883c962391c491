/* The public SMP client API (include/simplex/smp.h), blocking flavour: typed
 * queue operations over the blocking client (client/smp_client.h). What it
 * shares with the event-loop flavour is in smp_api_common.c. Every public
 * function clears the per-thread error detail when it starts and sets it
 * when it fails (core/error.h). */
#include "simplex/smp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smp_client/smp_api_int.h"
#include "core/error.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "smp/msgcrypt.h"
#include "smp/version.h"

#define DEFAULT_TIMEOUT_MS 15000

/* A reply that arrived as the answer to an ACK (the queue's next message)
 * and waits to be returned by sx_smp_receive. */
typedef struct pending {
    struct pending *next;
    sx_smp_client_reply r;
} pending;

struct sx_smp_conn {
    sx_smp_client *cl;
    sx_smp_address addr; /* with the password, for NEW */
    char server[SX_QUEUE_ADDR_MAX]; /* the address as given */
    sx_smpapi_subs subs;
    pending *head, *tail;
    sx_smpapi_proxied *proxied; /* proxy sessions through this router (smp_api_proxy.c) */
    sx_key *svc_key; /* a service connection's session key (Ed25519) */
};

sx_smp_client *sx_smpapi_conn_client(sx_smp_conn *c)
{
    return c->cl;
}

const sx_smp_address *sx_smpapi_conn_address(const sx_smp_conn *c)
{
    return &c->addr;
}

sx_smpapi_proxied **sx_smpapi_conn_proxied(sx_smp_conn *c)
{
    return &c->proxied;
}

/* One command and its response (*r to be freed by the caller). */
static sx_status call(sx_smp_conn *c, const char *what, sx_slice entity, const sx_smp_cmd *cmd,
                      const sx_key *key, sx_smp_client_reply *r)
{
    memset(r, 0, sizeof *r);
    sx_status st = sx_smp_client_call(c->cl, entity, cmd, key, r);
    return st == SX_OK ? SX_OK : sx_smpapi_net_error(what, st);
}

/* ---- connections ---- */

sx_status sx_smp_connect(const char *server, const sx_smp_conn_opts *opts, sx_smp_conn **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "connect: no place for the connection");
    *out = NULL;
    if (!server)
        return sx_error_set(SX_E_USAGE, NULL, "connect: no server address");
    if (sx_crypto_init() != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot initialise the crypto libraries");
    sx_smp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    sx_status st = sx_smpapi_parse_server(server, &c->addr, c->server);
    if (st != SX_OK) {
        free(c);
        return st;
    }
    sx_smp_client_opts o = {
        .timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
        .ping_interval_ms = opts ? opts->keepalive_ms : 0,
    };
    /* A service signs its hello and commands with a fresh key per
     * connection, which its certificate's leaf signs (PROTOCOL-NOTES B21). */
    sx_smp_client_service_opts so = {.role = SX_SMP_SERVICE_MESSAGING};
    if (opts && opts->service) {
        so.creds.cert_file = opts->service->cert_file;
        so.creds.ca_file = opts->service->ca_file;
        so.creds.key_file = opts->service->key_file;
        st = sx_key_generate(SX_KEY_ED25519, &c->svc_key);
        if (st != SX_OK) {
            free(c);
            return sx_error_set(st, NULL, "connect: cannot make the service key");
        }
        so.service_key = c->svc_key;
        o.service = &so;
    }
    sx_socks_route route;
    bool via_socks = false;
    const char *host = c->addr.host;
    st = sx_smpapi_route(opts, &c->addr, sx_smpapi_now_ns(), &host, &route, &via_socks);
    if (via_socks)
        o.socks = &route;
    sx_transport_error te = SX_TE_NONE;
    bool socks_ok = st == SX_OK; /* else the proxy string or the host, said by sx_smpapi_route */
    if (st == SX_OK)
        st = sx_smp_client_connect_ex(host, c->addr.port, c->addr.key_hash, &o, &c->cl, &te);
    if (st != SX_OK) {
        if (!socks_ok) {
        } else if (te == SX_TE_HANDSHAKE_BAD_SERVICE || te == SX_TE_HANDSHAKE_BAD_AUTH)
            sx_error_set(st, NULL, "connect: the router refused the service (HANDSHAKE %s)",
                         te == SX_TE_HANDSHAKE_BAD_SERVICE ? "BAD_SERVICE" : "BAD_AUTH");
        else
            sx_smpapi_connect_error(&c->addr, host, st);
        sx_wipe(&c->addr, sizeof c->addr);
        sx_key_free(c->svc_key);
        free(c);
        return st;
    }
    *out = c;
    return SX_OK;
}

void sx_smp_close(sx_smp_conn *c)
{
    if (!c)
        return;
    sx_smp_client_close(c->cl);
    for (pending *p = c->head, *n; p; p = n) {
        n = p->next;
        sx_smp_client_reply_free(&p->r);
        free(p);
    }
    sx_smpapi_subs_cleanup(&c->subs);
    sx_smpapi_proxied_free(c->proxied);
    sx_key_free(c->svc_key);
    sx_wipe(c, sizeof *c);
    free(c);
}

unsigned sx_smp_conn_version(const sx_smp_conn *c)
{
    return c ? sx_smp_client_session(c->cl)->version : 0;
}

size_t sx_smp_conn_max_body(const sx_smp_conn *c)
{
    return c ? sx_smp_max_message_length(sx_smp_client_session(c->cl)->version) : 0;
}

/* ---- queues ---- */

/* Deletes a queue that was created but cannot be handed to the caller. */
static void delete_quietly(sx_smp_conn *c, const sx_smp_queue *q)
{
    sx_smp_client_reply r = {0};
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    if (sx_smp_client_call(c->cl, sx_smpapi_rcv_id(q), &del, q->f.rcv_key, &r) == SX_OK)
        sx_smp_client_reply_free(&r);
}

sx_status sx_smp_queue_create(sx_smp_conn *c, sx_smp_queue **out)
{
    sx_error_clear();
    if (!c || !out)
        return sx_error_set(SX_E_USAGE, NULL, "create: no connection or no place for the queue");
    *out = NULL;
    sx_smpapi_new n;
    sx_smp_client_reply r = {0};
    bool created = false;
    sx_status st = sx_smpapi_new_begin(&c->addr, &n);
    /* A service creates only queues it subscribes to (PROTOCOL-NOTES D8). */
    bool service = sx_smp_conn_service_id(c, NULL) != NULL;
    if (st == SX_OK)
        n.cmd.new_queue.subscribe = service;
    if (st == SX_OK)
        st = call(c, "create", sx_slice_of(NULL, 0), &n.cmd, n.q->f.rcv_key, &r);
    if (st == SX_OK)
        st = sx_smpapi_new_finish(&n, &r, c->server, &created);
    if (st == SX_OK && service)
        st = sx_smpapi_subs_add(&c->subs, n.q);
    if (st == SX_OK)
        *out = sx_smpapi_new_take(&n);
    else if (created)
        delete_quietly(c, n.q);
    sx_smp_client_reply_free(&r);
    sx_smpapi_new_cleanup(&n);
    return st;
}

sx_status sx_smp_queue_secure(sx_smp_conn *c, sx_smp_queue *snd)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "secure: no connection");
    SX_TRY(sx_smpapi_need_role(snd, SX_QUEUE_SENDER, "secure"));
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd;
    bool had_key;
    SX_TRY(sx_smpapi_secure_begin(snd, sx_smp_conn_version(c), b, &cmd, &had_key));
    sx_smp_client_reply r;
    SX_TRY(call(c, "secure", sx_slice_of(snd->f.snd_id, SX_QUEUE_ID_LEN), &cmd, snd->f.snd_key, &r));
    sx_status st = sx_smpapi_secure_answer(&r, had_key);
    sx_smp_client_reply_free(&r);
    return st;
}

static sx_status send_flagged(sx_smp_conn *c, const sx_smp_queue *snd, const void *body, size_t len, bool notify);

sx_status sx_smp_send(sx_smp_conn *c, const sx_smp_queue *snd, const void *body, size_t len)
{
    return send_flagged(c, snd, body, len, false);
}

sx_status sx_smp_send_notify(sx_smp_conn *c, const sx_smp_queue *snd, const void *body, size_t len)
{
    return send_flagged(c, snd, body, len, true);
}

static sx_status send_flagged(sx_smp_conn *c, const sx_smp_queue *snd, const void *body, size_t len, bool notify)
{
    sx_error_clear();
    if (!c || (!body && len))
        return sx_error_set(SX_E_USAGE, NULL, "send: no connection or no body");
    SX_TRY(sx_smpapi_need_role(snd, SX_QUEUE_SENDER, "send"));
    sx_smp_cmd cmd;
    SX_TRY(sx_smpapi_send_begin(sx_smp_conn_version(c), body, len, &cmd));
    cmd.send.notification = notify;
    sx_smp_client_reply r;
    SX_TRY(call(c, "send", sx_slice_of(snd->f.snd_id, SX_QUEUE_ID_LEN), &cmd, snd->f.snd_key, &r));
    sx_status st = sx_smpapi_send_answer(&r, snd);
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_queue_delete(sx_smp_conn *c, sx_smp_queue *rcv)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "delete: no connection");
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, "delete"));
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    sx_smp_client_reply r;
    SX_TRY(call(c, "delete", sx_smpapi_rcv_id(rcv), &del, rcv->f.rcv_key, &r));
    sx_status st = sx_smpapi_expect("delete", &r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    if (st == SX_OK)
        sx_smpapi_subs_remove(&c->subs, rcv); /* the caller may free it now */
    return st;
}

/* ---- receiving ---- */

/* Keeps a MSG that came as the answer to a command, for sx_smp_receive
 * (takes *r). */
static sx_status keep_pending(sx_smp_conn *c, sx_smp_client_reply *r)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) {
        sx_smp_client_reply_free(r);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    p->r = *r;
    if (c->tail)
        c->tail->next = p;
    else
        c->head = p;
    c->tail = p;
    return SX_OK;
}

sx_status sx_smp_subscribe(sx_smp_conn *c, sx_smp_queue *rcv)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "subscribe: no connection");
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, "subscribe"));
    bool known = sx_smpapi_subs_find(&c->subs, sx_smpapi_rcv_id(rcv)) != NULL;
    SX_TRY(sx_smpapi_subs_add(&c->subs, rcv));
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    sx_smp_client_reply r;
    sx_status st = call(c, "subscribe", sx_smpapi_rcv_id(rcv), &sub, rcv->f.rcv_key, &r);
    if (st != SX_OK) {
        /* not subscribed by this call: the caller may free a queue that
         * was not subscribed before (as the event-loop flavour) */
        if (!known)
            sx_smpapi_subs_remove(&c->subs, rcv);
        return st;
    }
    if (r.ok && r.reply.resp.tag == SX_SMP_R_MSG)
        return keep_pending(c, &r); /* a waiting message answers SUB */
    /* SOK from SMP v16 on, OK before. */
    if (!(r.ok && r.reply.resp.tag == SX_SMP_R_OK))
        st = sx_smpapi_expect("subscribe", &r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    if (st != SX_OK)
        sx_smpapi_subs_remove(&c->subs, rcv); /* refused: not subscribed, the caller may free it */
    return st;
}

const uint8_t *sx_smp_conn_service_id(const sx_smp_conn *c, size_t *len)
{
    const sx_smp_session *s = c ? sx_smp_client_session(c->cl) : NULL;
    bool has = s && s->has_service;
    if (len)
        *len = has ? s->service_id_len : 0;
    return has ? s->service_id : NULL;
}

sx_status sx_smp_service_subscribe(sx_smp_conn *c, sx_smp_queue *const *rcvs, size_t n, int64_t *count)
{
    sx_error_clear();
    size_t id_len = 0;
    const uint8_t *id = sx_smp_conn_service_id(c, &id_len);
    if (!id || !count || (n && !rcvs))
        return sx_error_set(SX_E_USAGE, NULL, "service subscribe: not a service connection, or no queues");
    bool *added = calloc(n ? n : 1, sizeof *added);
    if (!added)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    uint8_t hash[SX_MD5_LEN] = {0};
    sx_status st = SX_OK;
    size_t i = 0;
    for (; i < n && st == SX_OK; i++) {
        st = sx_smpapi_need_role(rcvs[i], SX_QUEUE_RECIPIENT, "service subscribe");
        uint8_t md[SX_MD5_LEN];
        if (st == SX_OK && (st = sx_md5(sx_smpapi_rcv_id(rcvs[i]), md)) == SX_OK) {
            for (size_t j = 0; j < SX_MD5_LEN; j++)
                hash[j] ^= md[j];
            added[i] = !sx_smpapi_subs_find(&c->subs, sx_smpapi_rcv_id(rcvs[i]));
            st = sx_smpapi_subs_add(&c->subs, rcvs[i]);
            if (st != SX_OK)
                added[i] = false;
        }
    }
    if (st == SX_OK) {
        /* PROTOCOL-NOTES D8, C10: for the service's id, signed by its key. */
        sx_smp_cmd cmd = {.tag = SX_SMP_C_SUBS};
        cmd.subs.count = (int64_t)n;
        cmd.subs.ids_hash = sx_slice_of(hash, sizeof hash);
        sx_smp_client_reply r;
        st = call(c, "service subscribe", sx_slice_of(id, id_len), &cmd, c->svc_key, &r);
        if (st == SX_OK) {
            st = sx_smpapi_expect("service subscribe", &r, SX_SMP_R_SOKS);
            if (st == SX_OK)
                *count = r.reply.resp.subs.count;
            sx_smp_client_reply_free(&r);
        }
    }
    for (size_t j = 0; st != SX_OK && j < i; j++)
        if (added[j])
            sx_smpapi_subs_remove(&c->subs, rcvs[j]);
    free(added);
    return st;
}

sx_status sx_smp_receive(sx_smp_conn *c, int timeout_ms, sx_smp_event *ev)
{
    sx_error_clear();
    if (!c || !ev)
        return sx_error_set(SX_E_USAGE, NULL, "receive: no connection or no event");
    memset(ev, 0, sizeof *ev);
    while (c->head) {
        pending *p = c->head;
        c->head = p->next;
        if (!c->head)
            c->tail = NULL;
        bool used;
        sx_status st = sx_smpapi_reply_event(&c->subs, &p->r, ev, &used);
        sx_smp_client_reply_free(&p->r);
        free(p);
        if (st != SX_OK || used)
            return st;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t start = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* The first round looks at what arrived even when the time is up
     * already: a timeout of 0 polls. */
    for (bool first = true;; first = false) {
        int wait = timeout_ms;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t spent = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - start;
            if (spent >= timeout_ms && !first)
                return SX_OK; /* SX_SMP_EVENT_NONE */
            wait = spent >= timeout_ms ? 0 : (int)(timeout_ms - spent);
        }
        sx_smp_client_reply r;
        sx_status st = sx_smp_client_next_event(c->cl, wait, &r);
        if (st == SX_E_WOULD_BLOCK)
            return SX_OK;
        if (st != SX_OK)
            return sx_smpapi_net_error("receive", st);
        if (r.ok && r.reply.resp.tag == SX_SMP_R_ERR && sx_smpapi_subs_find(&c->subs, r.reply.t.entity_id)) {
            st = sx_smpapi_router_error("receive", &r.reply.resp.err);
            sx_smp_client_reply_free(&r);
            return st;
        }
        bool used;
        st = sx_smpapi_reply_event(&c->subs, &r, ev, &used);
        sx_smp_client_reply_free(&r);
        if (st != SX_OK || used)
            return st;
    }
}

sx_status sx_smp_get(sx_smp_conn *c, sx_smp_queue *rcv, sx_smp_event *ev)
{
    sx_error_clear();
    if (!c || !ev)
        return sx_error_set(SX_E_USAGE, NULL, "get: no connection or no event");
    memset(ev, 0, sizeof *ev);
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, "get"));
    sx_smp_cmd get = {.tag = SX_SMP_C_GET};
    sx_smp_client_reply r;
    SX_TRY(call(c, "get", sx_smpapi_rcv_id(rcv), &get, rcv->f.rcv_key, &r));
    sx_status st;
    if (r.ok && r.reply.resp.tag == SX_SMP_R_OK)
        st = SX_OK; /* empty */
    else if (r.ok && r.reply.resp.tag == SX_SMP_R_MSG)
        st = sx_smpapi_msg_event(rcv, &r, ev);
    else
        st = sx_smpapi_expect("get", &r, SX_SMP_R_MSG);
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_ack(sx_smp_conn *c, sx_smp_queue *rcv, const sx_smp_event *ev)
{
    sx_error_clear();
    if (!c || !ev)
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: no connection or no event");
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, "acknowledge"));
    if (ev->kind != SX_SMP_EVENT_MESSAGE && ev->kind != SX_SMP_EVENT_QUOTA && ev->kind != SX_SMP_EVENT_UNREADABLE)
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: the event is not a message");
    sx_smp_cmd ack = {.tag = SX_SMP_C_ACK};
    ack.msg_id = sx_slice_of(ev->msg_id, ev->msg_id_len);
    sx_smp_client_reply r;
    SX_TRY(call(c, "acknowledge", sx_smpapi_rcv_id(rcv), &ack, rcv->f.rcv_key, &r));
    if (r.ok && r.reply.resp.tag == SX_SMP_R_MSG)
        return keep_pending(c, &r); /* the queue's next message answers the ACK */
    sx_status st = sx_smpapi_expect("acknowledge", &r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    return st;
}

/* ---- NEW with options, KEY, NKEY, NDEL, OFF, link data ---- */

/* A command on rcv's recipient id answered by OK. */
static sx_status rcv_ok(sx_smp_conn *c, sx_smp_queue *rcv, const char *what, const sx_smp_cmd *cmd)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "%s: no connection", what);
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, what));
    sx_smp_client_reply r;
    SX_TRY(call(c, what, sx_smpapi_rcv_id(rcv), cmd, rcv->f.rcv_key, &r));
    sx_status st = sx_smpapi_expect(what, &r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    return st;
}

static sx_status need_version(sx_smp_conn *c, const char *what, unsigned min)
{
    unsigned v = sx_smp_conn_version(c);
    if (v >= min)
        return SX_OK;
    return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router speaks SMP v%u; this needs v%u", what, v, min);
}

sx_status sx_smp_queue_create_ex(sx_smp_conn *c, const sx_smp_new_opts *opts, sx_smp_created *out)
{
    sx_error_clear();
    if (!c || !out)
        return sx_error_set(SX_E_USAGE, NULL, "create: no connection or no place for the queue");
    memset(out, 0, sizeof *out);
    sx_smpapi_new n;
    sx_smpapi_new_x x;
    memset(&x, 0, sizeof x);
    sx_smp_client_reply r = {0};
    bool created = false;
    sx_status st = sx_smpapi_new_begin(&c->addr, &n);
    if (st == SX_OK && opts)
        st = sx_smpapi_new_ext(&n, opts, sx_slice_of(opts->fixed, opts->fixed_len),
                               sx_slice_of(opts->user, opts->user_len), &x);
    if (st == SX_OK)
        st = need_version(c, "create", sx_smpapi_new_min_version(&x));
    if (st == SX_OK) {
        n.cmd.new_queue.subscribe = x.subscribe || sx_smp_conn_service_id(c, NULL) != NULL;
        sx_smp_client_cmd cc = {.entity = sx_slice_of(NULL, 0), .cmd = &n.cmd, .auth_key = n.q->f.rcv_key};
        if (x.has_link) {
            memcpy(cc.corr_id, x.corr, sizeof cc.corr_id); /* the sender id is made from it */
            cc.corr_given = true;
        }
        st = sx_smp_client_call_many(c->cl, &cc, 1, &r);
        if (st != SX_OK)
            st = sx_smpapi_net_error("create", st);
    }
    if (st == SX_OK)
        st = sx_smpapi_new_finish(&n, &r, c->server, &created);
    if (st == SX_OK)
        st = sx_smpapi_new_created(&x, &r.reply.resp.ids, out);
    if (st == SX_OK && n.cmd.new_queue.subscribe)
        st = sx_smpapi_subs_add(&c->subs, n.q);
    if (st == SX_OK) {
        out->queue = sx_smpapi_new_take(&n);
    } else {
        sx_wipe(out, sizeof *out);
        if (created)
            delete_quietly(c, n.q);
    }
    sx_smp_client_reply_free(&r);
    sx_smpapi_new_cleanup(&n);
    sx_smpapi_new_x_cleanup(&x);
    return st;
}

sx_status sx_smp_queue_secure_recipient(sx_smp_conn *c, sx_smp_queue *rcv, const uint8_t *snd_key, size_t len)
{
    sx_smp_cmd cmd = {.tag = SX_SMP_C_KEY};
    if (!snd_key || sx_key_check_public(sx_slice_of(snd_key, len), SX_KEY_AUTH_ALGS, &cmd.key.alg) != SX_OK)
        return sx_error_set(SX_E_USAGE, NULL, "secure: the sender's key is not an Ed25519, Ed448 or X25519 key");
    cmd.key.der = sx_slice_of(snd_key, len);
    return rcv_ok(c, rcv, "secure", &cmd);
}

sx_status sx_smp_queue_notify_on(sx_smp_conn *c, sx_smp_queue *rcv, sx_smp_ntf_creds *out)
{
    sx_error_clear();
    if (!c || !out)
        return sx_error_set(SX_E_USAGE, NULL, "notify on: no connection or no place for the credentials");
    memset(out, 0, sizeof *out);
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, "notify on"));
    sx_key *nkey = NULL, *ndh = NULL;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NKEY};
    sx_status st = sx_smpapi_ntf_keys("notify on", &nkey, &ndh);
    if (st == SX_OK && (sx_smp_pubkey_of(nkey, b1, &cmd.nkey.auth_key) != SX_OK ||
                        sx_smp_pubkey_of(ndh, b2, &cmd.nkey.dh_key) != SX_OK))
        st = sx_error_set(SX_E_INTERNAL, NULL, "notify on: cannot encode the keys");
    sx_smp_client_reply r = {0};
    if (st == SX_OK)
        st = call(c, "notify on", sx_smpapi_rcv_id(rcv), &cmd, rcv->f.rcv_key, &r);
    if (st == SX_OK) {
        st = sx_smpapi_expect("notify on", &r, SX_SMP_R_NID);
        if (st == SX_OK)
            st = sx_smpapi_ntf_creds("notify on", nkey, ndh, r.reply.resp.nid.notifier_id,
                                     &r.reply.resp.nid.srv_dh_key, out);
        sx_smp_client_reply_free(&r);
    }
    sx_key_free(nkey);
    sx_key_free(ndh);
    return st;
}

sx_status sx_smp_queue_notify_off(sx_smp_conn *c, sx_smp_queue *rcv)
{
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NDEL};
    return rcv_ok(c, rcv, "notify off", &cmd);
}

sx_status sx_smp_queue_suspend(sx_smp_conn *c, sx_smp_queue *rcv)
{
    sx_smp_cmd cmd = {.tag = SX_SMP_C_OFF};
    return rcv_ok(c, rcv, "suspend", &cmd);
}

sx_status sx_smp_link_set(sx_smp_conn *c, sx_smp_queue *rcv, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                          const uint8_t *fixed, size_t fixed_len, const uint8_t *user, size_t user_len)
{
    sx_error_clear();
    if (!c || !link_id || (!fixed && fixed_len) || (!user && user_len))
        return sx_error_set(SX_E_USAGE, NULL, "link set: no connection, link id or data");
    SX_TRY(need_version(c, "link set", SX_SMP_V_SHORT_LINKS));
    sx_smp_cmd cmd = {.tag = SX_SMP_C_LSET};
    cmd.lset.link_id = sx_slice_of(link_id, SX_QUEUE_ID_LEN);
    cmd.lset.data.fixed = sx_slice_of(fixed, fixed_len);
    cmd.lset.data.user = sx_slice_of(user, user_len);
    return rcv_ok(c, rcv, "link set", &cmd);
}

sx_status sx_smp_link_delete(sx_smp_conn *c, sx_smp_queue *rcv)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "link delete: no connection");
    SX_TRY(need_version(c, "link delete", SX_SMP_V_SHORT_LINKS));
    sx_smp_cmd cmd = {.tag = SX_SMP_C_LDEL};
    return rcv_ok(c, rcv, "link delete", &cmd);
}

/* LKEY (snd: signed with its key, made first if missing) or LGET (none). */
static sx_status link_call(sx_smp_conn *c, sx_smp_queue *snd, const uint8_t *link_id, sx_smp_link *out)
{
    const char *what = snd ? "link secure" : "link get";
    sx_error_clear();
    if (!c || !link_id || !out)
        return sx_error_set(SX_E_USAGE, NULL, "%s: no connection, link id or place for the data", what);
    memset(out, 0, sizeof *out);
    SX_TRY(need_version(c, what, SX_SMP_V_SHORT_LINKS));
    sx_smp_cmd cmd = {.tag = snd ? SX_SMP_C_LKEY : SX_SMP_C_LGET};
    uint8_t b[SX_KEY_SPKI_MAX];
    if (snd) {
        SX_TRY(sx_smpapi_need_role(snd, SX_QUEUE_SENDER, what));
        SX_TRY(sx_smp_queue_make_sender_key(snd, NULL));
        if (sx_smp_pubkey_of(snd->f.snd_key, b, &cmd.key) != SX_OK)
            return sx_error_set(SX_E_INTERNAL, NULL, "%s: cannot encode the key", what);
    }
    sx_smp_client_reply r;
    SX_TRY(call(c, what, sx_slice_of(link_id, SX_QUEUE_ID_LEN), &cmd, snd ? snd->f.snd_key : NULL, &r));
    sx_status st = sx_smpapi_link_of(what, &r, out);
    sx_smp_client_reply_free(&r);
    if (st == SX_OK && snd)
        memcpy(snd->f.snd_id, out->sender_id, SX_QUEUE_ID_LEN);
    return st;
}

sx_status sx_smp_link_secure(sx_smp_conn *c, sx_smp_queue *snd, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                             sx_smp_link *out)
{
    if (!snd)
        return sx_error_set(SX_E_USAGE, NULL, "link secure: no queue");
    return link_call(c, snd, link_id, out);
}

sx_status sx_smp_link_get(sx_smp_conn *c, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN], sx_smp_link *out)
{
    return link_call(c, NULL, link_id, out);
}
