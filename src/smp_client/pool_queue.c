/* Queue operations through the SMP connection pool (the "queue operations
 * through the pool" part of simplex/smp.h): NEW in its every form (sender
 * can secure, queue mode and link data with the client's sender id,
 * notifier credentials), KEY, SKEY (in pool.c, with its proxy routing),
 * NKEY / NDEL, OFF, DEL, GET and its ACK, and the short-link commands LSET,
 * LDEL, LKEY and LGET; then the same on the pool's thread.
 *
 * Each operation is a heap record that pool.c holds until its router's
 * connection is up (sx_pool_qop_submit); start then queues the command on
 * that connection with this file's reply callback, which reads the answer
 * and calls the program. Answers were decoded and bounds-checked by the
 * SMP codec (smp/response.c); here only their lengths and keys are checked
 * again before use. */
#include "simplex/smp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smp_client/pool_int.h"
#include "smp_client/pool_thread.h"
#include "smp_client/smp_api_int.h"
#include "core/error.h"
#include "crypto/util.h"
#include "smp/version.h"

typedef enum qkind {
    K_NEW,
    K_KEY,
    K_NKEY,
    K_NDEL,
    K_OFF,
    K_DEL,
    K_GET,
    K_ACK,
    K_LSET,
    K_LDEL,
    K_LKEY,
    K_LGET,
} qkind;

static const char *const names[] = {"create", "secure", "notify on", "notify off",
                                    "suspend", "delete", "get", "acknowledge",
                                    "link set", "link delete", "link secure", "link get"};

/* One operation, from the program's call to its callback. */
typedef struct qrec {
    sx_pool_qop op; /* first: pool.c hands it back */
    sx_smp_pool *p;
    qkind kind;
    sx_smp_queue *q; /* the queue side it concerns (borrowed) */
    char server[SX_QUEUE_ADDR_MAX];
    sx_smp_address addr; /* NEW: with the password */
    uint8_t link_id[SX_QUEUE_ID_LEN];
    uint8_t *fixed, *user; /* NEW, LSET: copies */
    size_t fixed_len, user_len;
    uint8_t key[SX_KEY_SPKI_MAX]; /* KEY: the sender's key */
    sx_smp_pubkey pk;
    uint8_t msg_id[SX_SMP_MSG_ID_MAX]; /* ACK */
    size_t msg_id_len;
    sx_smp_queue *tmp; /* LGET: a sender side that names the router, for a proxy */
    sx_smp_link plink; /* LKEY, LGET through a proxy: the answer */
    sx_smpapi_new n;   /* NEW */
    sx_smpapi_new_x x; /* NEW's options; NKEY: the notifier's keys */
    sx_smp_pool_done_fn done;
    sx_smp_pool_created_fn created;
    sx_smp_pool_ntf_fn ntf;
    sx_smp_pool_got_fn got;
    sx_smp_pool_link_fn link;
    void *arg;
} qrec;

static void rec_free(qrec *o)
{
    if (o->fixed) {
        sx_wipe(o->fixed, o->fixed_len);
        free(o->fixed);
    }
    if (o->user) {
        sx_wipe(o->user, o->user_len);
        free(o->user);
    }
    sx_smpapi_new_x_cleanup(&o->x);
    sx_smpapi_new_cleanup(&o->n);
    sx_smp_queue_free(o->tmp);
    sx_smp_link_clear(&o->plink);
    sx_wipe(o, sizeof *o);
    free(o);
}

/* The program's callback with the outcome (results NULL on failure), then
 * the record goes. */
static void finish(qrec *o, sx_status st, sx_smp_created *c, const sx_smp_ntf_creds *n, sx_smp_event *ev,
                   sx_smp_link *l)
{
    sx_smp_event none = {0};
    switch (o->kind) {
    case K_NEW: o->created(o->p, st, st == SX_OK ? c : NULL, o->arg); break;
    case K_NKEY: o->ntf(o->p, st, st == SX_OK ? n : NULL, o->arg); break;
    case K_GET:
        if (st == SX_OK && !ev)
            ev = &none;
        o->got(o->p, st, st == SX_OK ? ev : NULL, o->arg);
        break;
    case K_LKEY:
    case K_LGET: o->link(o->p, st, st == SX_OK ? l : NULL, o->arg); break;
    default:
        if (o->done)
            o->done(o->p, st, o->arg);
        break;
    }
    rec_free(o);
}

static void op_fail(sx_pool_qop *op, sx_status st, bool freeing)
{
    qrec *o = (qrec *)op;
    if (freeing) {
        rec_free(o);
        return;
    }
    /* SX_OK: the end of LKEY or LGET through a proxy */
    if (st == SX_OK && o->kind == K_LKEY)
        memcpy(o->q->f.snd_id, o->plink.sender_id, SX_QUEUE_ID_LEN);
    finish(o, st, NULL, NULL, NULL, st == SX_OK ? &o->plink : NULL);
}

static sx_status op_start_proxied(sx_pool_qop *op, sx_smp_aclient *cl, sx_smpapi_proxied **list,
                                  const sx_smp_address *proxy, sx_smpapi_proxy_done_fn done, void *done_arg)
{
    qrec *o = (qrec *)op;
    sx_smp_link_clear(&o->plink);
    return sx_smpapi_proxy_link_op(cl, list, proxy, o->kind == K_LKEY ? o->q : o->tmp, o->kind == K_LKEY, o->link_id,
                                   &o->plink, done, done_arg);
}

/* ---- answers ---- */

/* IDS: the new queue and what came with it. */
static sx_status new_answer(qrec *o, sx_smp_aclient *cl, const sx_smp_client_reply *r, sx_smp_created *c)
{
    bool made = false;
    memset(c, 0, sizeof *c);
    sx_status st = sx_smpapi_new_finish(&o->n, r, o->server, &made);
    if (st == SX_OK)
        st = sx_smpapi_new_created(&o->x, &r->reply.resp.ids, c);
    if (st == SX_OK && o->x.subscribe)
        st = sx_pool_adopt(o->p, cl, o->n.q); /* the pool keeps the queue the program is given */
    if (st != SX_OK) {
        if (made) {
            /* Nobody could use the queue: remove it, no answer awaited. */
            sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
            if (sx_smp_aclient_send(cl, sx_smpapi_rcv_id(o->n.q), &del, o->n.q->f.rcv_key, NULL, NULL) != SX_OK) {
                /* the connection is ending: the router keeps an unused queue until it expires */
            }
        }
        sx_wipe(c, sizeof *c);
        return st;
    }
    c->queue = sx_smpapi_new_take(&o->n);
    return SX_OK;
}

static void reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    qrec *o = arg;
    const char *what = names[o->kind];
    if (sx_pool_freeing(o->p)) {
        rec_free(o);
        return;
    }
    sx_error_clear();
    if (status != SX_OK) {
        finish(o, sx_smpapi_net_error(what, status), NULL, NULL, NULL, NULL);
        return;
    }
    sx_status st;
    switch (o->kind) {
    case K_NEW: {
        sx_smp_created c;
        st = new_answer(o, cl, r, &c);
        if (st == SX_OK)
            sx_error_clear();
        finish(o, st, &c, NULL, NULL, NULL);
        if (st == SX_OK)
            sx_smp_queue_free(c.queue); /* unless the program took it */
        sx_wipe(&c, sizeof c);
        return;
    }
    case K_NKEY: {
        sx_smp_ntf_creds n = {0};
        st = sx_smpapi_expect(what, r, SX_SMP_R_NID);
        if (st == SX_OK)
            st = sx_smpapi_ntf_creds(what, o->x.nkey, o->x.ndh, r->reply.resp.nid.notifier_id,
                                     &r->reply.resp.nid.srv_dh_key, &n);
        finish(o, st, NULL, &n, NULL, NULL);
        sx_wipe(&n, sizeof n);
        return;
    }
    case K_GET: {
        sx_smp_event ev = {0};
        if (r->ok && r->reply.resp.tag == SX_SMP_R_OK)
            st = SX_OK; /* the queue is empty */
        else if (r->ok && r->reply.resp.tag == SX_SMP_R_MSG)
            st = sx_smpapi_msg_event(o->q, r, &ev);
        else
            st = sx_smpapi_expect(what, r, SX_SMP_R_MSG);
        finish(o, st, NULL, NULL, &ev, NULL);
        sx_smp_event_clear(&ev);
        return;
    }
    case K_LKEY:
    case K_LGET: {
        sx_smp_link l;
        st = sx_smpapi_link_of(what, r, &l);
        if (st == SX_OK && o->kind == K_LKEY)
            memcpy(o->q->f.snd_id, l.sender_id, SX_QUEUE_ID_LEN);
        finish(o, st, NULL, NULL, NULL, &l);
        sx_smp_link_clear(&l);
        return;
    }
    case K_ACK:
        /* A subscribed queue's next message may answer it; this one's come
         * with the next GET. */
        st = r->ok && r->reply.resp.tag == SX_SMP_R_MSG ? SX_OK : sx_smpapi_expect(what, r, SX_SMP_R_OK);
        break;
    default: st = sx_smpapi_expect(what, r, SX_SMP_R_OK); break;
    }
    if (st == SX_OK && o->kind == K_DEL)
        sx_pool_forget(o->p, o->q); /* the program may free the queue now */
    finish(o, st, NULL, NULL, NULL, NULL);
}

/* ---- commands ---- */

static sx_status need_version(const qrec *o, unsigned v, unsigned min)
{
    if (v >= min)
        return SX_OK;
    return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router speaks SMP v%u; this needs v%u", names[o->kind], v, min);
}

static sx_status op_start(sx_pool_qop *op, sx_smp_aclient *cl)
{
    qrec *o = (qrec *)op;
    unsigned v = sx_smp_aclient_session(cl)->version;
    sx_smp_cmd cmd = {0};
    sx_slice entity = o->q && o->q->f.role == SX_QUEUE_RECIPIENT ? sx_smpapi_rcv_id(o->q) : sx_slice_of(NULL, 0);
    const sx_key *key = o->q && o->q->f.role == SX_QUEUE_RECIPIENT ? o->q->f.rcv_key : NULL;
    const uint8_t *corr = NULL;
    sx_status st = SX_OK;
    switch (o->kind) {
    case K_NEW:
        SX_TRY(need_version(o, v, sx_smpapi_new_min_version(&o->x)));
        cmd = o->n.cmd;
        key = o->n.q->f.rcv_key;
        if (o->x.has_link)
            corr = o->x.corr; /* the sender id is made from it */
        break;
    case K_KEY:
        cmd.tag = SX_SMP_C_KEY;
        cmd.key = o->pk;
        break;
    case K_NKEY:
        cmd.tag = SX_SMP_C_NKEY;
        st = sx_smp_pubkey_of(o->x.nkey, o->x.nb1, &cmd.nkey.auth_key);
        if (st == SX_OK)
            st = sx_smp_pubkey_of(o->x.ndh, o->x.nb2, &cmd.nkey.dh_key);
        if (st != SX_OK)
            return sx_error_set(SX_E_INTERNAL, NULL, "notify on: cannot encode the keys");
        break;
    case K_NDEL: cmd.tag = SX_SMP_C_NDEL; break;
    case K_OFF: cmd.tag = SX_SMP_C_OFF; break;
    case K_DEL: cmd.tag = SX_SMP_C_DEL; break;
    case K_GET: cmd.tag = SX_SMP_C_GET; break;
    case K_ACK:
        cmd.tag = SX_SMP_C_ACK;
        cmd.msg_id = sx_slice_of(o->msg_id, o->msg_id_len);
        break;
    case K_LSET:
    case K_LDEL:
    case K_LKEY:
    case K_LGET:
        SX_TRY(need_version(o, v, SX_SMP_V_SHORT_LINKS));
        if (o->kind == K_LSET) {
            cmd.tag = SX_SMP_C_LSET;
            cmd.lset.link_id = sx_slice_of(o->link_id, SX_QUEUE_ID_LEN);
            cmd.lset.data.fixed = sx_slice_of(o->fixed, o->fixed_len);
            cmd.lset.data.user = sx_slice_of(o->user, o->user_len);
        } else if (o->kind == K_LDEL) {
            cmd.tag = SX_SMP_C_LDEL;
        } else {
            /* LKEY is signed with the key it sets; LGET with none. */
            entity = sx_slice_of(o->link_id, SX_QUEUE_ID_LEN);
            cmd.tag = o->kind == K_LKEY ? SX_SMP_C_LKEY : SX_SMP_C_LGET;
            key = o->kind == K_LKEY ? o->q->f.snd_key : NULL;
            if (o->kind == K_LKEY)
                cmd.key = o->pk;
        }
        break;
    }
    st = sx_smp_aclient_send_corr(cl, corr, entity, &cmd, key, reply_cb, o);
    if (st != SX_OK)
        return sx_error_set(st, NULL, "%s: %s", names[o->kind],
                            st == SX_E_LIMIT ? "the command does not fit in a block" : sx_strerror(st));
    return SX_OK;
}

/* A record for an operation of kind on q (of the role, unless q is NULL). */
static sx_status rec_new(sx_smp_pool *p, qkind kind, sx_smp_queue *q, sx_queue_role role, qrec **out)
{
    *out = NULL;
    sx_error_clear();
    if (!p || sx_pool_freeing(p))
        return sx_error_set(SX_E_USAGE, NULL, "%s: no pool", names[kind]);
    if (kind != K_NEW && kind != K_LGET)
        SX_TRY(sx_smpapi_need_role(q, role, names[kind]));
    qrec *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->op.start = op_start;
    o->op.fail = op_fail;
    o->p = p;
    o->kind = kind;
    o->q = q;
    if (q)
        snprintf(o->server, sizeof o->server, "%s", q->f.server);
    *out = o;
    return SX_OK;
}

static sx_status submit(qrec *o)
{
    sx_status st = o->op.start_proxied ? sx_pool_qop_submit_sender(o->p, o->server, &o->op)
                                       : sx_pool_qop_submit(o->p, o->server, &o->op);
    if (st != SX_OK)
        rec_free(o);
    return st;
}

static sx_status copy_blob(const uint8_t *b, size_t len, uint8_t **out, size_t *out_len)
{
    if (!b && len)
        return sx_error_set(SX_E_USAGE, NULL, "link data: no bytes");
    *out = malloc(len ? len : 1);
    if (!*out)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (len)
        memcpy(*out, b, len);
    *out_len = len;
    return SX_OK;
}

sx_status sx_smp_pool_create(sx_smp_pool *p, const char *server, const sx_smp_new_opts *opts,
                             sx_smp_pool_created_fn cb, void *arg)
{
    qrec *o;
    if (!cb || !server)
        return sx_error_set(SX_E_USAGE, NULL, "create: no router address or no callback");
    SX_TRY(rec_new(p, K_NEW, NULL, SX_QUEUE_RECIPIENT, &o));
    o->created = cb;
    o->arg = arg;
    sx_status st = sx_smpapi_parse_server(server, &o->addr, o->server);
    if (st == SX_OK)
        st = sx_smpapi_new_begin(&o->addr, &o->n);
    if (st == SX_OK && opts && opts->has_link) {
        st = copy_blob(opts->fixed, opts->fixed_len, &o->fixed, &o->fixed_len);
        if (st == SX_OK)
            st = copy_blob(opts->user, opts->user_len, &o->user, &o->user_len);
    }
    if (st == SX_OK)
        st = sx_smpapi_new_ext(&o->n, opts, sx_slice_of(o->fixed, o->fixed_len), sx_slice_of(o->user, o->user_len),
                               &o->x);
    if (st != SX_OK) {
        rec_free(o);
        return st;
    }
    return submit(o);
}

/* The operations on a recipient side that answer OK. */
static sx_status rcv_op(sx_smp_pool *p, qkind kind, sx_smp_queue *rcv, sx_smp_pool_done_fn cb, void *arg,
                        qrec **out)
{
    qrec *o;
    SX_TRY(rec_new(p, kind, rcv, SX_QUEUE_RECIPIENT, &o));
    o->done = cb;
    o->arg = arg;
    if (out) {
        *out = o;
        return SX_OK;
    }
    return submit(o);
}

sx_status sx_smp_pool_secure(sx_smp_pool *p, sx_smp_queue *rcv, const uint8_t *snd_key, size_t len,
                             sx_smp_pool_done_fn cb, void *arg)
{
    qrec *o;
    SX_TRY(rcv_op(p, K_KEY, rcv, cb, arg, &o));
    sx_key_alg alg;
    if (!snd_key || len > sizeof o->key ||
        sx_key_check_public(sx_slice_of(snd_key, len), SX_KEY_AUTH_ALGS, &alg) != SX_OK) {
        rec_free(o);
        return sx_error_set(SX_E_USAGE, NULL, "secure: the sender's key is not an Ed25519, Ed448 or X25519 key");
    }
    memcpy(o->key, snd_key, len);
    o->pk.der = sx_slice_of(o->key, len);
    o->pk.alg = alg;
    return submit(o);
}

sx_status sx_smp_pool_secure_sender(sx_smp_pool *p, sx_smp_queue *snd, sx_smp_pool_done_fn cb, void *arg)
{
    sx_error_clear();
    if (!p || sx_pool_freeing(p))
        return sx_error_set(SX_E_USAGE, NULL, "secure: no pool");
    return sx_pool_sender_op(p, snd, SX_POOL_OP_SECURE, NULL, 0, cb, arg);
}

sx_status sx_smp_pool_notify_on(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_ntf_fn cb, void *arg)
{
    if (!cb)
        return sx_error_set(SX_E_USAGE, NULL, "notify on: no callback");
    qrec *o;
    SX_TRY(rcv_op(p, K_NKEY, rcv, NULL, arg, &o));
    o->ntf = cb;
    sx_status st = sx_smpapi_ntf_keys(names[K_NKEY], &o->x.nkey, &o->x.ndh);
    if (st != SX_OK) {
        rec_free(o);
        return st;
    }
    return submit(o);
}

sx_status sx_smp_pool_notify_off(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb, void *arg)
{
    return rcv_op(p, K_NDEL, rcv, cb, arg, NULL);
}

sx_status sx_smp_pool_suspend(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb, void *arg)
{
    return rcv_op(p, K_OFF, rcv, cb, arg, NULL);
}

sx_status sx_smp_pool_delete(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb, void *arg)
{
    return rcv_op(p, K_DEL, rcv, cb, arg, NULL);
}

sx_status sx_smp_pool_get(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_got_fn cb, void *arg)
{
    if (!cb)
        return sx_error_set(SX_E_USAGE, NULL, "get: no callback");
    qrec *o;
    SX_TRY(rcv_op(p, K_GET, rcv, NULL, arg, &o));
    o->got = cb;
    return submit(o);
}

sx_status sx_smp_pool_ack_got(sx_smp_pool *p, sx_smp_queue *rcv, const sx_smp_event *ev, sx_smp_pool_done_fn cb,
                              void *arg)
{
    if (!ev || ev->msg_id_len == 0 || ev->msg_id_len > SX_SMP_MSG_ID_MAX ||
        (ev->kind != SX_SMP_EVENT_MESSAGE && ev->kind != SX_SMP_EVENT_QUOTA && ev->kind != SX_SMP_EVENT_UNREADABLE))
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: the event is not a message");
    qrec *o;
    SX_TRY(rcv_op(p, K_ACK, rcv, cb, arg, &o));
    memcpy(o->msg_id, ev->msg_id, ev->msg_id_len);
    o->msg_id_len = ev->msg_id_len;
    return submit(o);
}

sx_status sx_smp_pool_link_set(sx_smp_pool *p, sx_smp_queue *rcv, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                               const uint8_t *fixed, size_t fixed_len, const uint8_t *user, size_t user_len,
                               sx_smp_pool_done_fn cb, void *arg)
{
    if (!link_id)
        return sx_error_set(SX_E_USAGE, NULL, "link set: no link id");
    qrec *o;
    SX_TRY(rcv_op(p, K_LSET, rcv, cb, arg, &o));
    memcpy(o->link_id, link_id, SX_QUEUE_ID_LEN);
    sx_status st = copy_blob(fixed, fixed_len, &o->fixed, &o->fixed_len);
    if (st == SX_OK)
        st = copy_blob(user, user_len, &o->user, &o->user_len);
    if (st != SX_OK) {
        rec_free(o);
        return st;
    }
    return submit(o);
}

sx_status sx_smp_pool_link_delete(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb, void *arg)
{
    return rcv_op(p, K_LDEL, rcv, cb, arg, NULL);
}

sx_status sx_smp_pool_link_secure(sx_smp_pool *p, sx_smp_queue *snd, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                                  sx_smp_pool_link_fn cb, void *arg)
{
    if (!cb || !link_id)
        return sx_error_set(SX_E_USAGE, NULL, "link secure: no link id or no callback");
    qrec *o;
    SX_TRY(rec_new(p, K_LKEY, snd, SX_QUEUE_SENDER, &o));
    o->link = cb;
    o->arg = arg;
    memcpy(o->link_id, link_id, SX_QUEUE_ID_LEN);
    sx_status st = sx_smp_queue_make_sender_key(snd, NULL);
    if (st == SX_OK && sx_smp_pubkey_of(snd->f.snd_key, o->key, &o->pk) != SX_OK)
        st = sx_error_set(SX_E_INTERNAL, NULL, "link secure: cannot encode the key");
    if (st != SX_OK) {
        rec_free(o);
        return st;
    }
    o->op.start_proxied = op_start_proxied; /* as the pool's proxy_mode decides */
    return submit(o);
}

sx_status sx_smp_pool_link_get(sx_smp_pool *p, const char *server, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                               sx_smp_pool_link_fn cb, void *arg)
{
    if (!cb || !link_id || !server)
        return sx_error_set(SX_E_USAGE, NULL, "link get: no router address, link id or callback");
    if (strlen(server) >= SX_QUEUE_ADDR_MAX)
        return sx_error_set(SX_E_USAGE, NULL, "link get: the router address is too long");
    qrec *o;
    SX_TRY(rec_new(p, K_LGET, NULL, SX_QUEUE_SENDER, &o));
    o->link = cb;
    o->arg = arg;
    snprintf(o->server, sizeof o->server, "%s", server);
    memcpy(o->link_id, link_id, SX_QUEUE_ID_LEN);
    sx_status st = sx_smp_queue_sender_new(server, NULL, &o->tmp);
    if (st != SX_OK) {
        rec_free(o);
        return st;
    }
    o->op.start_proxied = op_start_proxied; /* as the pool's proxy_mode decides */
    return submit(o);
}

/* ---- on the pool's thread ---- */

/* One sx_smp_tpool_* call: its arguments and where its results go. */
typedef struct tcall {
    qkind kind;
    bool sender_secure, send_notify;
    sx_smp_queue *q;
    const char *server;
    const sx_smp_new_opts *opts;
    const uint8_t *bytes, *bytes2, *link_id;
    size_t len, len2;
    const sx_smp_event *ev;
    sx_smp_created *created;
    sx_smp_ntf_creds *ntf;
    sx_smp_event *got;
    sx_smp_link *link;
} tcall;

static void t_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    sx_tpool_call_done(arg, st);
}

static void t_created(sx_smp_pool *p, sx_status st, sx_smp_created *c, void *arg)
{
    (void)p;
    tcall *t = sx_tpool_call_arg(arg);
    if (c) {
        *t->created = *c;
        c->queue = NULL; /* the caller's now */
    }
    sx_tpool_call_done(arg, st);
}

static void t_ntf(sx_smp_pool *p, sx_status st, const sx_smp_ntf_creds *n, void *arg)
{
    (void)p;
    tcall *t = sx_tpool_call_arg(arg);
    if (n)
        *t->ntf = *n;
    sx_tpool_call_done(arg, st);
}

static void t_got(sx_smp_pool *p, sx_status st, sx_smp_event *ev, void *arg)
{
    (void)p;
    tcall *t = sx_tpool_call_arg(arg);
    if (ev) {
        *t->got = *ev;
        ev->body = NULL;
        ev->body_len = 0;
    }
    sx_tpool_call_done(arg, st);
}

static void t_link(sx_smp_pool *p, sx_status st, sx_smp_link *l, void *arg)
{
    (void)p;
    tcall *t = sx_tpool_call_arg(arg);
    if (l) {
        *t->link = *l;
        memset(l, 0, sizeof *l);
    }
    sx_tpool_call_done(arg, st);
}

static sx_status t_start(sx_smp_pool *p, sx_tpool_call *c, void *arg)
{
    tcall *t = arg;
    if (t->sender_secure)
        return sx_smp_pool_secure_sender(p, t->q, t_done, c);
    if (t->send_notify)
        return sx_smp_pool_send_notify(p, t->q, t->bytes, t->len, t_done, c);
    switch (t->kind) {
    case K_NEW: return sx_smp_pool_create(p, t->server, t->opts, t_created, c);
    case K_KEY: return sx_smp_pool_secure(p, t->q, t->bytes, t->len, t_done, c);
    case K_NKEY: return sx_smp_pool_notify_on(p, t->q, t_ntf, c);
    case K_NDEL: return sx_smp_pool_notify_off(p, t->q, t_done, c);
    case K_OFF: return sx_smp_pool_suspend(p, t->q, t_done, c);
    case K_DEL: return sx_smp_pool_delete(p, t->q, t_done, c);
    case K_GET: return sx_smp_pool_get(p, t->q, t_got, c);
    case K_ACK: return sx_smp_pool_ack_got(p, t->q, t->ev, t_done, c);
    case K_LSET:
        return sx_smp_pool_link_set(p, t->q, t->link_id, t->bytes, t->len, t->bytes2, t->len2, t_done, c);
    case K_LDEL: return sx_smp_pool_link_delete(p, t->q, t_done, c);
    case K_LKEY: return sx_smp_pool_link_secure(p, t->q, t->link_id, t_link, c);
    case K_LGET: return sx_smp_pool_link_get(p, t->server, t->link_id, t_link, c);
    }
    return sx_error_set(SX_E_INTERNAL, NULL, "pool: unknown operation");
}

static sx_status t_run(sx_smp_tpool *tp, tcall *t)
{
    sx_error_clear();
    if (!tp)
        return sx_error_set(SX_E_USAGE, NULL, "%s: no pool", names[t->kind]);
    return sx_tpool_run(tp, t_start, t);
}

sx_status sx_smp_tpool_create(sx_smp_tpool *tp, const char *server, const sx_smp_new_opts *opts, sx_smp_created *out)
{
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "create: no place for the queue");
    memset(out, 0, sizeof *out);
    tcall t = {.kind = K_NEW, .server = server, .opts = opts, .created = out};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_secure(sx_smp_tpool *tp, sx_smp_queue *rcv, const uint8_t *snd_key, size_t len)
{
    tcall t = {.kind = K_KEY, .q = rcv, .bytes = snd_key, .len = len};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_secure_sender(sx_smp_tpool *tp, sx_smp_queue *snd)
{
    tcall t = {.kind = K_KEY, .sender_secure = true, .q = snd};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_send_notify(sx_smp_tpool *tp, const sx_smp_queue *snd, const void *body, size_t len)
{
    tcall t = {.kind = K_KEY, .send_notify = true, .q = (sx_smp_queue *)snd, .bytes = body, .len = len};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_notify_on(sx_smp_tpool *tp, sx_smp_queue *rcv, sx_smp_ntf_creds *out)
{
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "notify on: no place for the credentials");
    memset(out, 0, sizeof *out);
    tcall t = {.kind = K_NKEY, .q = rcv, .ntf = out};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_notify_off(sx_smp_tpool *tp, sx_smp_queue *rcv)
{
    tcall t = {.kind = K_NDEL, .q = rcv};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_suspend(sx_smp_tpool *tp, sx_smp_queue *rcv)
{
    tcall t = {.kind = K_OFF, .q = rcv};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_delete(sx_smp_tpool *tp, sx_smp_queue *rcv)
{
    tcall t = {.kind = K_DEL, .q = rcv};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_get(sx_smp_tpool *tp, sx_smp_queue *rcv, sx_smp_event *ev)
{
    if (!ev)
        return sx_error_set(SX_E_USAGE, NULL, "get: no place for the message");
    memset(ev, 0, sizeof *ev);
    tcall t = {.kind = K_GET, .q = rcv, .got = ev};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_ack_got(sx_smp_tpool *tp, sx_smp_queue *rcv, const sx_smp_event *ev)
{
    tcall t = {.kind = K_ACK, .q = rcv, .ev = ev};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_link_set(sx_smp_tpool *tp, sx_smp_queue *rcv, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                                const uint8_t *fixed, size_t fixed_len, const uint8_t *user, size_t user_len)
{
    tcall t = {.kind = K_LSET,
               .q = rcv,
               .link_id = link_id,
               .bytes = fixed,
               .len = fixed_len,
               .bytes2 = user,
               .len2 = user_len};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_link_delete(sx_smp_tpool *tp, sx_smp_queue *rcv)
{
    tcall t = {.kind = K_LDEL, .q = rcv};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_link_secure(sx_smp_tpool *tp, sx_smp_queue *snd, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                                   sx_smp_link *out)
{
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "link secure: no place for the link data");
    memset(out, 0, sizeof *out);
    tcall t = {.kind = K_LKEY, .q = snd, .link_id = link_id, .link = out};
    return t_run(tp, &t);
}

sx_status sx_smp_tpool_link_get(sx_smp_tpool *tp, const char *server, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                                sx_smp_link *out)
{
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "link get: no place for the link data");
    memset(out, 0, sizeof *out);
    tcall t = {.kind = K_LGET, .server = server, .link_id = link_id, .link = out};
    return t_run(tp, &t);
}
