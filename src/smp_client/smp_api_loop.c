/* The public SMP client API (include/simplex/smp.h), event-loop flavour:
 * the same queue operations as smp_api.c over the event-loop client
 * (client/smp_client_loop.h). Each operation is a small heap record that
 * travels with its command and comes back with the answer; what the two
 * flavours share is in smp_api_common.c.
 *
 * Lifetime: the aconn lives until the event-loop client's final callback
 * (connected with an error, or closed); it calls the program's callback
 * and then frees the aconn. The client calls every waiting reply callback
 * before that, so no operation outlives its connection. */
#include "simplex/smp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client_loop.h"
#include "core/error.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "smp/version.h"

#define DEFAULT_TIMEOUT_MS 15000

struct sx_smp_aconn {
    sx_smp_aclient *cl;
    sx_smp_address addr;            /* with the password, for NEW */
    const char *host;               /* the one of addr connected to (sx_smpapi_route) */
    char server[SX_QUEUE_ADDR_MAX]; /* the address as given */
    sx_smp_aconn_callbacks cbs;
    sx_smpapi_subs subs;
    bool ready;                 /* connected(SX_OK) was delivered */
    bool closing;               /* sx_smp_aconn_close was called */
    sx_smpapi_proxied *proxied; /* proxy sessions through this router (smp_api_loop_proxy.c) */
    /* A service connection: the key it presented (signs SUBS and, with
     * the certificate's, NEW and SUB) and the options the client borrows. */
    sx_key *svc_key;
    sx_smp_client_service_opts so;
};

sx_smp_aclient *sx_smpapi_aconn_client(sx_smp_aconn *c)
{
    return c->cl;
}

const sx_smp_address *sx_smpapi_aconn_address(const sx_smp_aconn *c)
{
    return &c->addr;
}

sx_smpapi_proxied **sx_smpapi_aconn_proxied(sx_smp_aconn *c)
{
    return &c->proxied;
}

bool sx_smpapi_aconn_usable(const sx_smp_aconn *c)
{
    return c && c->ready && !c->closing;
}

typedef enum op_kind { OP_CREATE,
                       OP_SECURE,
                       OP_SEND,
                       OP_SUBSCRIBE,
                       OP_ACK,
                       OP_DELETE } op_kind;

static const char *const op_names[] = {"create", "secure", "send", "subscribe", "acknowledge", "delete"};

/* One operation waiting for its answer. */
typedef struct op {
    sx_smp_aconn *c;
    op_kind kind;
    sx_smp_done_fn done;
    sx_smp_created_fn created;
    void *arg;
    sx_smp_queue *q; /* the queue it concerns (borrowed) */
    bool key_flag;   /* secure: the side had its key; send: the side has one */
    sx_smpapi_new n; /* create */
} op;

/* ---- events ---- */

/* Hands a transmission that is an event of a subscribed queue to the
 * program (nothing when it is none, or the connection is closing). */
static void deliver(sx_smp_aconn *c, const sx_smp_client_reply *r)
{
    if (c->closing || !c->cbs.event)
        return;
    sx_smp_event ev = {0};
    bool used = false;
    if (sx_smpapi_reply_event(&c->subs, r, &ev, &used) == SX_OK && used)
        c->cbs.event(c, &ev, c->cbs.arg);
    sx_smp_event_clear(&ev);
}

static void event_cb(sx_smp_aclient *cl, sx_smp_client_reply *r, void *arg)
{
    (void)cl;
    deliver(arg, r);
}

/* ---- operations ---- */

static void finish(op *o, sx_status st, sx_smp_queue *created)
{
    if (o->kind == OP_CREATE) {
        o->created(o->c, st, created, o->arg);
        sx_smpapi_new_cleanup(&o->n);
    } else if (o->done) {
        o->done(o->c, st, o->arg);
    }
    free(o);
}

static void reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    op *o = arg;
    sx_smp_aconn *c = o->c;
    const char *what = op_names[o->kind];
    sx_error_clear();
    if (status != SX_OK) {
        /* After sx_smp_aconn_close the cause is the program's close, not
         * the router. */
        sx_status st = c->closing && status == SX_E_CLOSED
                           ? sx_error_set(status, NULL, "%s: the connection was closed (sx_smp_aconn_close) "
                                                        "before the answer came",
                                          what)
                           : sx_smpapi_net_error(what, status);
        finish(o, st, NULL);
        return;
    }
    sx_status st = SX_OK;
    bool next_msg = false; /* the answer is the queue's next message */
    switch (o->kind) {
    case OP_CREATE: {
        bool created = false;
        st = sx_smpapi_new_finish(&o->n, r, c->server, &created);
        /* A service's new queue is subscribed: held as sx_smp_aconn_subscribe does. */
        if (st == SX_OK && o->n.cmd.new_queue.subscribe)
            st = sx_smpapi_subs_add(&c->subs, o->n.q);
        if (st == SX_OK) {
            finish(o, SX_OK, sx_smpapi_new_take(&o->n));
            return;
        }
        if (created) {
            /* Nobody could use the queue: remove it, no answer awaited. */
            sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
            if (sx_smp_aclient_send(cl, sx_smpapi_rcv_id(o->n.q), &del, o->n.q->f.rcv_key, NULL, NULL) != SX_OK) {
                /* the connection is ending: the router keeps an unused queue until it expires */
            }
        }
        break;
    }
    case OP_SECURE: st = sx_smpapi_secure_answer(r, o->key_flag); break;
    case OP_SEND: st = sx_smpapi_send_answer(r, o->q); break;
    case OP_SUBSCRIBE:
        next_msg = r->ok && r->reply.resp.tag == SX_SMP_R_MSG;
        /* SOK from SMP v16 on, OK before. */
        if (!next_msg && !(r->ok && r->reply.resp.tag == SX_SMP_R_OK))
            st = sx_smpapi_expect(what, r, SX_SMP_R_SOK);
        if (st != SX_OK)
            sx_smpapi_subs_remove(&c->subs, o->q);
        break;
    case OP_ACK:
        next_msg = r->ok && r->reply.resp.tag == SX_SMP_R_MSG;
        if (!next_msg)
            st = sx_smpapi_expect(what, r, SX_SMP_R_OK);
        break;
    case OP_DELETE:
        st = sx_smpapi_expect(what, r, SX_SMP_R_OK);
        if (st == SX_OK)
            sx_smpapi_subs_remove(&c->subs, o->q);
        break;
    default: st = sx_error_set(SX_E_INTERNAL, NULL, "unknown operation"); break;
    }
    finish(o, st, NULL);
    if (next_msg)
        deliver(c, r);
}

/* Checks what every operation needs and makes its record. */
static sx_status op_new(sx_smp_aconn *c, op_kind kind, sx_smp_queue *q, sx_queue_role role, op **out)
{
    *out = NULL;
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "%s: no connection", op_names[kind]);
    if (!c->ready || c->closing)
        return sx_error_set(SX_E_USAGE, NULL, "%s: the connection is %s", op_names[kind],
                            c->closing ? "closing" : "not connected yet");
    if (kind != OP_CREATE)
        SX_TRY(sx_smpapi_need_role(q, role, op_names[kind]));
    op *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->c = c;
    o->kind = kind;
    o->q = q;
    *out = o;
    return SX_OK;
}

/* Queues the command; on failure the record is freed and no callback runs. */
static sx_status op_send(op *o, sx_slice entity, const sx_smp_cmd *cmd, const sx_key *key)
{
    sx_status st = sx_smp_aclient_send(o->c->cl, entity, cmd, key, reply_cb, o);
    if (st != SX_OK) {
        const char *what = op_names[o->kind];
        if (o->kind == OP_CREATE)
            sx_smpapi_new_cleanup(&o->n);
        free(o);
        return sx_error_set(st, NULL, "%s: %s", what,
                            st == SX_E_LIMIT ? "the command does not fit in a block" : sx_strerror(st));
    }
    return SX_OK;
}

sx_status sx_smp_aconn_create(sx_smp_aconn *c, sx_smp_created_fn cb, void *arg)
{
    sx_error_clear();
    if (!cb)
        return sx_error_set(SX_E_USAGE, NULL, "create: no callback for the new queue");
    op *o;
    SX_TRY(op_new(c, OP_CREATE, NULL, SX_QUEUE_RECIPIENT, &o));
    o->created = cb;
    o->arg = arg;
    sx_status st = sx_smpapi_new_begin(&c->addr, &o->n);
    if (st != SX_OK) {
        sx_smpapi_new_cleanup(&o->n);
        free(o);
        return st;
    }
    /* A service creates only queues it subscribes to (PROTOCOL-NOTES D8). */
    o->n.cmd.new_queue.subscribe = sx_smp_aconn_service_id(c, NULL) != NULL;
    return op_send(o, sx_slice_of(NULL, 0), &o->n.cmd, o->n.q->f.rcv_key);
}

sx_status sx_smp_aconn_secure(sx_smp_aconn *c, sx_smp_queue *snd, sx_smp_done_fn cb, void *arg)
{
    sx_error_clear();
    op *o;
    SX_TRY(op_new(c, OP_SECURE, snd, SX_QUEUE_SENDER, &o));
    o->done = cb;
    o->arg = arg;
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd;
    sx_status st = sx_smpapi_secure_begin(snd, sx_smp_aconn_version(c), b, &cmd, &o->key_flag);
    if (st != SX_OK) {
        free(o);
        return st;
    }
    return op_send(o, sx_slice_of(snd->f.snd_id, SX_QUEUE_ID_LEN), &cmd, snd->f.snd_key);
}

sx_status sx_smp_aconn_send(sx_smp_aconn *c, const sx_smp_queue *snd, const void *body, size_t len,
                            sx_smp_done_fn cb, void *arg)
{
    sx_error_clear();
    if (!body && len)
        return sx_error_set(SX_E_USAGE, NULL, "send: no body");
    op *o;
    SX_TRY(op_new(c, OP_SEND, (sx_smp_queue *)snd, SX_QUEUE_SENDER, &o));
    o->done = cb;
    o->arg = arg;
    sx_smp_cmd cmd;
    sx_status st = sx_smpapi_send_begin(sx_smp_aconn_version(c), body, len, &cmd);
    if (st != SX_OK) {
        free(o);
        return st;
    }
    return op_send(o, sx_slice_of(snd->f.snd_id, SX_QUEUE_ID_LEN), &cmd, snd->f.snd_key);
}

sx_status sx_smp_aconn_subscribe(sx_smp_aconn *c, sx_smp_queue *rcv, sx_smp_done_fn cb, void *arg)
{
    sx_error_clear();
    op *o;
    SX_TRY(op_new(c, OP_SUBSCRIBE, rcv, SX_QUEUE_RECIPIENT, &o));
    o->done = cb;
    o->arg = arg;
    bool known = sx_smpapi_subs_find(&c->subs, sx_smpapi_rcv_id(rcv)) != NULL;
    sx_status st = sx_smpapi_subs_add(&c->subs, rcv);
    if (st != SX_OK) {
        free(o);
        return st;
    }
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    st = op_send(o, sx_smpapi_rcv_id(rcv), &sub, rcv->f.rcv_key);
    if (st != SX_OK && !known)
        sx_smpapi_subs_remove(&c->subs, rcv);
    return st;
}

sx_status sx_smp_aconn_ack(sx_smp_aconn *c, sx_smp_queue *rcv, const sx_smp_event *ev, sx_smp_done_fn cb, void *arg)
{
    sx_error_clear();
    if (!ev || (ev->kind != SX_SMP_EVENT_MESSAGE && ev->kind != SX_SMP_EVENT_QUOTA &&
                ev->kind != SX_SMP_EVENT_UNREADABLE))
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: the event is not a message");
    op *o;
    SX_TRY(op_new(c, OP_ACK, rcv, SX_QUEUE_RECIPIENT, &o));
    o->done = cb;
    o->arg = arg;
    sx_smp_cmd ack = {.tag = SX_SMP_C_ACK};
    ack.msg_id = sx_slice_of(ev->msg_id, ev->msg_id_len);
    return op_send(o, sx_smpapi_rcv_id(rcv), &ack, rcv->f.rcv_key);
}

sx_status sx_smp_aconn_delete(sx_smp_aconn *c, sx_smp_queue *rcv, sx_smp_done_fn cb, void *arg)
{
    sx_error_clear();
    op *o;
    SX_TRY(op_new(c, OP_DELETE, rcv, SX_QUEUE_RECIPIENT, &o));
    o->done = cb;
    o->arg = arg;
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    return op_send(o, sx_smpapi_rcv_id(rcv), &del, rcv->f.rcv_key);
}

/* ---- the connection ---- */

static void aconn_free(sx_smp_aconn *c)
{
    sx_key_free(c->svc_key);
    sx_smpapi_subs_cleanup(&c->subs);
    sx_smpapi_proxied_free(c->proxied);
    sx_wipe(c, sizeof *c);
    free(c);
}

static void connected_cb(sx_smp_aclient *cl, sx_status status, void *arg)
{
    sx_smp_aconn *c = arg;
    sx_error_clear();
    /* After sx_smp_aconn_close the event-loop client never reports SX_OK
     * here: a close while connecting ends with connected(SX_E_CLOSED). */
    if (status == SX_OK) {
        c->ready = true;
        c->cbs.connected(c, SX_OK, c->cbs.arg);
        return;
    }
    sx_smpapi_connect_error(&c->addr, c->host, status);
    (void)cl;
    c->cbs.connected(c, status, c->cbs.arg);
    aconn_free(c);
}

static void closed_cb(sx_smp_aclient *cl, sx_status status, void *arg)
{
    (void)cl;
    sx_smp_aconn *c = arg;
    sx_error_clear();
    if (status != SX_OK)
        sx_smpapi_net_error("connection", status);
    if (c->cbs.closed)
        c->cbs.closed(c, status, c->cbs.arg);
    aconn_free(c);
}

sx_status sx_smp_aconn_connect(sx_loop *loop, const char *server, const sx_smp_conn_opts *opts,
                               const sx_smp_aconn_callbacks *cbs, sx_smp_aconn **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "connect: no place for the connection");
    *out = NULL;
    if (!loop || !server || !cbs || !cbs->connected)
        return sx_error_set(SX_E_USAGE, NULL, "connect: no loop, address or connected callback");
    if (sx_crypto_init() != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot initialise the crypto libraries");
    sx_smp_aconn *c = calloc(1, sizeof *c);
    if (!c)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    sx_status st = sx_smpapi_parse_server(server, &c->addr, c->server);
    if (st != SX_OK) {
        free(c);
        return st;
    }
    c->cbs = *cbs;
    sx_smp_aclient_opts o = {
        .connect_timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
        .ping_interval_ms = opts ? opts->keepalive_ms : 0,
    };
    if (opts && opts->service) {
        /* A fresh key per connection, as the blocking flavour. */
        st = sx_key_generate(SX_KEY_ED25519, &c->svc_key);
        if (st != SX_OK) {
            aconn_free(c);
            return sx_error_set(st, NULL, "connect: cannot make the service key");
        }
        c->so = (sx_smp_client_service_opts){
            .creds = {.cert_file = opts->service->cert_file,
                      .ca_file = opts->service->ca_file,
                      .key_file = opts->service->key_file},
            .role = SX_SMP_SERVICE_MESSAGING,
            .service_key = c->svc_key,
        };
        o.service = &c->so;
    }
    sx_smp_aclient_callbacks acb = {.connected = connected_cb, .event = event_cb, .closed = closed_cb, .arg = c};
    sx_socks_route route;
    bool via_socks = false;
    const char *host = c->addr.host;
    st = sx_smpapi_route(opts, &c->addr, sx_smpapi_now_ns(), &host, &route, &via_socks);
    if (st != SX_OK) {
        aconn_free(c);
        return st;
    }
    if (via_socks)
        o.socks = &route;
    c->host = host;
    st = sx_smp_aclient_connect(loop, host, c->addr.port, c->addr.key_hash, &o, &acb, &c->cl);
    if (st != SX_OK) {
        aconn_free(c);
        return sx_error_set(st, NULL, "connect: %s", sx_strerror(st));
    }
    *out = c;
    return SX_OK;
}

void sx_smp_aconn_close(sx_smp_aconn *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    sx_smp_aclient_close(c->cl);
}

unsigned sx_smp_aconn_version(const sx_smp_aconn *c)
{
    return c && c->ready ? sx_smp_aclient_session(c->cl)->version : 0;
}

size_t sx_smp_aconn_max_body(const sx_smp_aconn *c)
{
    return c && c->ready ? sx_smp_max_message_length((uint16_t)sx_smp_aconn_version(c)) : 0;
}

/* ---- services ---- */

const uint8_t *sx_smp_aconn_service_id(const sx_smp_aconn *c, size_t *len)
{
    const sx_smp_session *s = c && c->ready ? sx_smp_aclient_session(c->cl) : NULL;
    bool has = s && s->has_service;
    if (len)
        *len = has ? s->service_id_len : 0;
    return has ? s->service_id : NULL;
}

/* A SUBS waiting for its SOKS: the queues it registered (to let go of them
 * when it fails). */
typedef struct svc_op {
    sx_smp_aconn *c;
    sx_smp_service_subscribed_fn cb;
    void *arg;
    size_t n;
    sx_smp_queue **added;
} svc_op;

static void svc_op_undo(svc_op *o)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->added[i])
            sx_smpapi_subs_remove(&o->c->subs, o->added[i]);
}

static void svc_reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    (void)cl;
    svc_op *o = arg;
    sx_error_clear();
    int64_t count = 0;
    sx_status st;
    if (status != SX_OK)
        st = sx_smpapi_net_error("service subscribe", status);
    else if ((st = sx_smpapi_expect("service subscribe", r, SX_SMP_R_SOKS)) == SX_OK)
        count = r->reply.resp.subs.count;
    if (st != SX_OK)
        svc_op_undo(o);
    o->cb(o->c, st, count, o->arg);
    free(o->added);
    free(o);
}

sx_status sx_smp_aconn_service_subscribe(sx_smp_aconn *c, sx_smp_queue *const *rcvs, size_t n,
                                         sx_smp_service_subscribed_fn cb, void *arg)
{
    sx_error_clear();
    size_t id_len = 0;
    const uint8_t *id = sx_smp_aconn_service_id(c, &id_len);
    if (!id || !cb || (n && !rcvs) || c->closing)
        return sx_error_set(SX_E_USAGE, NULL,
                            "service subscribe: not a service connection (or closing), no callback or no queues");
    svc_op *o = calloc(1, sizeof *o);
    if (o)
        o->added = calloc(n ? n : 1, sizeof *o->added);
    if (!o || !o->added) {
        free(o);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    o->c = c;
    o->cb = cb;
    o->arg = arg;
    uint8_t hash[SX_MD5_LEN] = {0};
    sx_status st = SX_OK;
    for (size_t i = 0; i < n && st == SX_OK; i++) {
        st = sx_smpapi_need_role(rcvs[i], SX_QUEUE_RECIPIENT, "service subscribe");
        uint8_t md[SX_MD5_LEN];
        if (st == SX_OK && (st = sx_md5(sx_smpapi_rcv_id(rcvs[i]), md)) == SX_OK) {
            for (size_t j = 0; j < SX_MD5_LEN; j++)
                hash[j] ^= md[j];
            bool known = sx_smpapi_subs_find(&c->subs, sx_smpapi_rcv_id(rcvs[i])) != NULL;
            st = sx_smpapi_subs_add(&c->subs, rcvs[i]);
            if (st == SX_OK && !known)
                o->added[o->n++] = rcvs[i];
        }
    }
    if (st == SX_OK) {
        /* PROTOCOL-NOTES D8, C10: for the service's id, signed by its key. */
        sx_smp_cmd cmd = {.tag = SX_SMP_C_SUBS};
        cmd.subs.count = (int64_t)n;
        cmd.subs.ids_hash = sx_slice_of(hash, sizeof hash);
        st = sx_smp_aclient_send(c->cl, sx_slice_of(id, id_len), &cmd, c->svc_key, svc_reply_cb, o);
        if (st != SX_OK)
            sx_error_set(st, NULL, "service subscribe: %s", sx_strerror(st));
    }
    if (st != SX_OK) {
        svc_op_undo(o);
        free(o->added);
        free(o);
        return st;
    }
    return SX_OK;
}
