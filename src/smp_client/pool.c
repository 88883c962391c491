/* The SMP connection pool (the sx_smp_pool_* part of simplex/smp.h): one
 * event-loop client (smp_client_loop.h) per router, the subscribed queues
 * of each router in a hash table keyed by recipient id, and a FIFO of the
 * queues waiting for a SUB (new ones, and all of a router's after its
 * connection dropped).
 *
 * Per router: IDLE (no connection, nothing waits) -> CONNECTING -> UP; a
 * failed connect or a dropped connection goes to RETRY while queues or
 * sends wait, and the router's timer connects again after retry_ms
 * (doubling up to retry_max_ms, back to retry_min_ms once connected). The
 * same timer, armed with 0 ms, runs work that must not run inside a
 * program's call (connecting, sending the next SUBs), so that the
 * program's callback never runs from inside a pool call.
 *
 * Sessions: every aclient callback checks that it comes from the router's
 * current client; replies carry the record of their command. The
 * event-loop client fails every waiting command before its final callback,
 * so a SUB in flight is back in the FIFO before the DISCONNECTED event.
 *
 * Proxied sends (pool_proxy.h decides when): the send waits on the proxy
 * router's connection like any other, then runs as sx_smpapi_proxy_op on
 * that connection's client with the sessions kept on the proxy's record
 * (forgotten when its connection ends); a destination keeps the proxy
 * chosen for it until a send through it fails. A host error of the proxy
 * puts the send back as a direct one when proxy_fallback allows.
 *
 * Lifetime: sx_smp_pool_free closes the clients and frees the pool once
 * the last one has made its final callback (they run from loop tasks). */
#include "simplex/smp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smp_client/pool_int.h"
#include "smp_client/pool_proxy.h"
#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client_loop.h"
#include "core/error.h"
#include "crypto/util.h"
#include "smp/version.h"

#define DEFAULT_RETRY_MIN_MS 1000u
#define DEFAULT_RETRY_MAX_MS 10000u
#define DEFAULT_WINDOW 1360u
#define DEFAULT_TIMEOUT_MS 15000
#define FIRST_BUCKETS 64u
#define NOMEM_RETRY_MS 100u

/* ---- the table and the FIFO ---- */

static size_t id_hash(const uint8_t id[SX_QUEUE_ID_LEN])
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < SX_QUEUE_ID_LEN; i++)
        h = (h ^ id[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* Recipient and notifier ids are separate name spaces on a router. */
static pq *tab_find(const psrv *s, const uint8_t *id, size_t len, bool ntf)
{
    if (!s->tab_cap || len != SX_QUEUE_ID_LEN)
        return NULL;
    for (pq *e = s->tab[id_hash(id) & (s->tab_cap - 1)]; e; e = e->hnext)
        if (e->ntf == ntf && memcmp(e->id, id, SX_QUEUE_ID_LEN) == 0)
            return e;
    return NULL;
}

static bool tab_grow(psrv *s)
{
    size_t cap = s->tab_cap ? s->tab_cap * 2 : FIRST_BUCKETS;
    pq **t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    for (size_t i = 0; i < s->tab_cap; i++) {
        for (pq *e = s->tab[i], *n; e; e = n) {
            n = e->hnext;
            size_t b = id_hash(e->id) & (cap - 1);
            e->hnext = t[b];
            t[b] = e;
        }
    }
    free(s->tab);
    s->tab = t;
    s->tab_cap = cap;
    return true;
}

/* A new record in the table (not in the FIFO yet). */
static sx_status tab_insert(psrv *s, const uint8_t id[SX_QUEUE_ID_LEN], sx_smp_queue *q, sx_smp_notifier *nt,
                            pq **out)
{
    if (s->count >= s->tab_cap && !tab_grow(s))
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    pq *e = calloc(1, sizeof *e);
    if (!e)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    e->srv = s;
    e->q = q;
    e->nt = nt;
    e->ntf = nt != NULL;
    memcpy(e->id, id, SX_QUEUE_ID_LEN);
    size_t b = id_hash(e->id) & (s->tab_cap - 1);
    e->hnext = s->tab[b];
    s->tab[b] = e;
    s->count++;
    *out = e;
    return SX_OK;
}

static void tab_remove(psrv *s, pq *e)
{
    for (pq **pp = &s->tab[id_hash(e->id) & (s->tab_cap - 1)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == e) {
            *pp = e->hnext;
            s->count--;
            return;
        }
    }
}

static void fifo_push(psrv *s, pq *e)
{
    e->st = Q_PENDING;
    e->next = NULL;
    e->prev = s->fifo_tail;
    if (s->fifo_tail)
        s->fifo_tail->next = e;
    else
        s->fifo_head = e;
    s->fifo_tail = e;
}

static void fifo_unlink(psrv *s, pq *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->fifo_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->fifo_tail = e->prev;
    e->prev = e->next = NULL;
}

/* Lets go of a queue: out of the table (and the FIFO); a queue whose SUB
 * is in flight stays as a record without queue until the answer. */
static void pq_drop(psrv *s, pq *e)
{
    tab_remove(s, e);
    sx_pool_svc_forget(s, e);
    if (e->st == Q_PENDING)
        fifo_unlink(s, e);
    else if (e->st == Q_ACTIVE)
        s->active--;
    if (e->st == Q_SENT && !e->in_subs) {
        e->q = NULL;
        e->nt = NULL;
        return;
    }
    free(e);
}

/* ---- events ---- */

static void emit_event(psrv *s, sx_smp_pool_event *e)
{
    e->server = s->shown;
    s->pool->fn(s->pool, e, s->pool->arg);
}

static void emit(psrv *s, sx_smp_pool_event_kind kind, uint64_t session, sx_status st, sx_smp_queue *q,
                 sx_smp_event *ev)
{
    sx_smp_pool_event e = {.kind = kind, .session = session, .status = st, .queue = q, .ev = ev};
    emit_event(s, &e);
}

/* SUBSCRIBED or SUB_FAILED of a subscription of either kind. */
static void emit_sub(psrv *s, sx_smp_pool_event_kind kind, sx_status st, sx_smp_queue *q, sx_smp_notifier *nt)
{
    sx_smp_pool_event e = {.kind = kind, .session = s->session, .status = st, .queue = q, .notifier = nt};
    emit_event(s, &e);
}

/* A transmission from the router about a notifier subscription (NMSG,
 * END, DELD). */
static void deliver_ntf(psrv *s, pq *e, const sx_smp_client_reply *r)
{
    sx_smp_pool_event pe = {.session = s->session, .notifier = e->nt};
    sx_smp_event ev = {0};
    if (r->reply.resp.tag == SX_SMP_R_NMSG) {
        if (r->reply.resp.nmsg.nonce.len != SX_SMP_NONCE_LEN)
            return;
        pe.kind = SX_SMP_POOL_NOTIFICATION;
        pe.nonce = r->reply.resp.nmsg.nonce.ptr;
        pe.meta = r->reply.resp.nmsg.enc_meta.ptr;
        pe.meta_len = r->reply.resp.nmsg.enc_meta.len;
    } else if (r->reply.resp.tag == SX_SMP_R_END || r->reply.resp.tag == SX_SMP_R_DELD) {
        pe.kind = SX_SMP_POOL_MESSAGE;
        ev.kind = r->reply.resp.tag == SX_SMP_R_END ? SX_SMP_EVENT_END : SX_SMP_EVENT_DELETED;
        pe.ev = &ev;
        pq_drop(s, e);
    } else {
        return;
    }
    sx_error_clear();
    emit_event(s, &pe);
}

/* A transmission from the router about queue e (MSG, END, DELD). */
static void deliver(psrv *s, pq *e, const sx_smp_client_reply *r)
{
    if (e->ntf) {
        deliver_ntf(s, e, r);
        return;
    }
    sx_smp_event ev = {0};
    sx_smp_queue *q = e->q;
    uint64_t session = s->session;
    switch (r->reply.resp.tag) {
    case SX_SMP_R_MSG:
        if (sx_smpapi_msg_event(q, r, &ev) != SX_OK)
            return;
        break;
    case SX_SMP_R_END:
    case SX_SMP_R_DELD:
        ev.kind = r->reply.resp.tag == SX_SMP_R_END ? SX_SMP_EVENT_END : SX_SMP_EVENT_DELETED;
        ev.queue = q;
        pq_drop(s, e); /* the program may free the queue now */
        break;
    default: return;
    }
    sx_error_clear();
    emit(s, SX_SMP_POOL_MESSAGE, session, SX_OK, q, &ev);
    sx_smp_event_clear(&ev);
}

/* ---- per router ---- */

static void kick(psrv *s)
{
    if (s->pool->o.hold)
        return; /* sx_smp_pool_release kicks it */
    sx_loop_timer_start(s->pool->loop, &s->timer, 0, 0);
}

static bool wanted(const psrv *s)
{
    return s->count > 0 || s->wait_head;
}

static const char *op_name(const pop *o)
{
    if (o->qop)
        return "command";
    if (o->is_ack)
        return "acknowledge";
    return o->secure ? "secure" : "send";
}

static void fail_waiting(psrv *s, sx_status st)
{
    pop *o;
    while ((o = s->wait_head) != NULL) {
        s->wait_head = o->next;
        if (!s->wait_head)
            s->wait_tail = NULL;
        sx_error_set(st, NULL, "%s: cannot connect to %s", op_name(o), s->shown);
        if (o->dest)
            o->dest->via = NULL; /* the proxy is chosen again next time */
        if (o->qop) {
            o->qop->fail(o->qop, st, s->pool->freeing);
            free(o);
            continue;
        }
        if (o->cb && !s->pool->freeing)
            o->cb(s->pool, st, o->arg);
        if (o->body) {
            sx_wipe(o->body, o->len);
            free(o->body);
        }
        free(o);
    }
}

/* After a failed attempt or a drop: wait and connect again while anything
 * needs the router. */
static void schedule_retry(psrv *s)
{
    if (!wanted(s)) {
        s->st = S_IDLE;
        return;
    }
    s->st = S_RETRY;
    sx_loop_timer_start(s->pool->loop, &s->timer, s->retry_ms, 0);
    unsigned next = s->retry_ms * 2;
    s->retry_ms = next > s->pool->o.retry_max_ms || next < s->retry_ms ? s->pool->o.retry_max_ms : next;
}

static void sub_reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg);
static void op_reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg);

/* Sends the next SUBs of the FIFO, up to the window. */
static void pump(psrv *s)
{
    while (s->st == S_UP && s->inflight < s->pool->o.sub_window && s->fifo_head) {
        pq *e = s->fifo_head;
        fifo_unlink(s, e);
        sx_smp_cmd sub = {.tag = e->ntf ? SX_SMP_C_NSUB : SX_SMP_C_SUB};
        const sx_key *key = e->ntf ? e->nt->key : e->q->f.rcv_key;
        sx_status st = sx_smp_aclient_send(s->cl, sx_slice_of(e->id, SX_QUEUE_ID_LEN), &sub, key, sub_reply_cb, e);
        if (st == SX_E_CLOSED || st == SX_E_NOMEM) {
            /* The connection is ending (its DISCONNECTED follows), or no
             * memory now: try again a little later. */
            fifo_push(s, e);
            if (st == SX_E_NOMEM)
                sx_loop_timer_start(s->pool->loop, &s->timer, NOMEM_RETRY_MS, 0);
            return;
        }
        if (st != SX_OK) {
            sx_smp_queue *q = e->q;
            sx_smp_notifier *nt = e->nt;
            tab_remove(s, e);
            sx_pool_svc_forget(s, e);
            free(e);
            sx_error_set(st, NULL, "subscribe: the command cannot be made (%s)", sx_strerror(st));
            emit_sub(s, SX_SMP_POOL_SUB_FAILED, st, q, nt);
            continue;
        }
        e->st = Q_SENT;
        s->inflight++;
        s->pool->stats.sub_sent++;
    }
}

/* Sends one send or acknowledgement on the connection; cb gets the error
 * when it cannot be sent (from a loop callback only). */
static void proxy_done(sx_status st, bool host_error, void *arg);

static sx_status op_start(psrv *s, pop *o, const uint8_t *msg_id, size_t msg_id_len)
{
    sx_smp_cmd cmd;
    sx_status st;
    uint8_t kb[SX_KEY_SPKI_MAX];
    if (o->qop && o->dest) {
        /* o stays until proxy_done */
        st = o->qop->start_proxied(o->qop, s->cl, &s->proxied, &s->pool->px.proxies[s->proxy_idx], proxy_done, o);
    } else if (o->qop) {
        st = o->qop->start(o->qop, s->cl);
        if (st == SX_OK)
            free(o); /* the operation goes on with its own record */
    } else if (o->dest) {
        st = sx_smpapi_proxy_op(s->cl, &s->proxied, &s->pool->px.proxies[s->proxy_idx], o->secure, o->notify,
                                (sx_smp_queue *)o->q, o->body, o->len, proxy_done, o);
    } else if (o->secure) {
        st = sx_smpapi_secure_begin((sx_smp_queue *)o->q, sx_smp_aclient_session(s->cl)->version, kb, &cmd,
                                    &o->had_key);
        if (st == SX_OK)
            st = sx_smp_aclient_send(s->cl, sx_slice_of(o->q->f.snd_id, SX_QUEUE_ID_LEN), &cmd, o->q->f.snd_key,
                                     op_reply_cb, o);
    } else if (o->is_ack) {
        memset(&cmd, 0, sizeof cmd);
        cmd.tag = SX_SMP_C_ACK;
        cmd.msg_id = sx_slice_of(msg_id, msg_id_len);
        st = sx_smp_aclient_send(s->cl, sx_smpapi_rcv_id(o->q), &cmd, o->q->f.rcv_key, op_reply_cb, o);
    } else {
        st = sx_smpapi_send_begin(sx_smp_aclient_session(s->cl)->version, o->body, o->len, &cmd);
        cmd.send.notification = o->notify;
        if (st == SX_OK)
            st = sx_smp_aclient_send(s->cl, sx_slice_of(o->q->f.snd_id, SX_QUEUE_ID_LEN), &cmd, o->q->f.snd_key,
                                     op_reply_cb, o);
    }
    return st;
}

static void op_free(pop *o)
{
    if (o->body) {
        sx_wipe(o->body, o->len);
        free(o->body);
    }
    free(o);
}

static void start_waiting(psrv *s)
{
    pop *o;
    while (s->st == S_UP && (o = s->wait_head) != NULL) {
        s->wait_head = o->next;
        if (!s->wait_head)
            s->wait_tail = NULL;
        sx_status st = op_start(s, o, NULL, 0);
        if (st != SX_OK && o->qop) {
            o->qop->fail(o->qop, st, false);
            free(o);
        } else if (st != SX_OK) {
            if (o->cb)
                o->cb(s->pool, st, o->arg);
            op_free(o);
        }
    }
}

static void connected_cb(sx_smp_aclient *cl, sx_status status, void *arg);
static void closed_cb(sx_smp_aclient *cl, sx_status status, void *arg);
static void event_cb(sx_smp_aclient *cl, sx_smp_client_reply *r, void *arg);

static void connect_srv(psrv *s)
{
    sx_smp_pool *p = s->pool;
    sx_smp_aclient_opts o = {
        .connect_timeout_ms = p->o.conn.timeout_ms > 0 ? p->o.conn.timeout_ms : DEFAULT_TIMEOUT_MS,
        .ping_interval_ms = p->o.conn.keepalive_ms,
    };
    if (p->o.max_version)
        o.range = (sx_version_range){SX_SMP_VERSION_MIN, (uint16_t)p->o.max_version};
    sx_smp_aclient_callbacks cbs = {.connected = connected_cb, .event = event_cb, .closed = closed_cb, .arg = s};
    sx_status st = sx_pool_svc_connect_opts(s, &o);
    sx_socks_route route;
    bool via_socks = false;
    const char *host = s->addr.host;
    bool host_ok = true;
    if (st == SX_OK) {
        st = sx_smpapi_route(&p->o.conn, &s->addr, p->created_ns, &host, &route, &via_socks);
        host_ok = st == SX_OK;
        s->host = host;
    }
    if (via_socks)
        o.socks = &route;
    if (st == SX_OK)
        st = sx_smp_aclient_connect(p->loop, host, s->addr.port, s->addr.key_hash, &o, &cbs, &s->cl);
    if (st != SX_OK) {
        s->cl = NULL;
        if (host_ok) /* else the proxy string or the host, said by sx_smpapi_route */
            sx_smpapi_connect_error(&s->addr, host, st);
        emit(s, SX_SMP_POOL_CONNECT_FAILED, 0, st, NULL, NULL);
        fail_waiting(s, st);
        schedule_retry(s);
        return;
    }
    p->live++;
    s->st = S_CONNECTING;
}

static void timer_cb(sx_loop *loop, sx_loop_timer *t)
{
    (void)loop;
    psrv *s = t->data;
    if (s->pool->freeing)
        return;
    if (s->st == S_UP)
        pump(s);
    else if (s->st == S_IDLE || s->st == S_RETRY) {
        if (wanted(s))
            connect_srv(s);
        else
            s->st = S_IDLE;
    }
}

/* ---- client callbacks ---- */

static void pool_destroy(sx_smp_pool *p);

/* The client's final callback: true when the pool is being freed (and
 * maybe is now). */
static bool client_ended(psrv *s)
{
    sx_smp_pool *p = s->pool;
    sx_smp_aclient_stats cs;
    sx_smp_aclient_get_stats(s->cl, &cs);
    p->stats.blocks_sent += cs.blocks_sent;
    p->stats.blocks_received += cs.blocks_received;
    s->cl = NULL;
    p->live--;
    if (!p->freeing)
        return false;
    if (p->live == 0)
        pool_destroy(p);
    return true;
}

static void connected_cb(sx_smp_aclient *cl, sx_status status, void *arg)
{
    psrv *s = arg;
    sx_smp_pool *p = s->pool;
    if (cl != s->cl)
        return;
    if (status != SX_OK) {
        if (client_ended(s))
            return;
        sx_smpapi_connect_error(&s->addr, s->host, status);
        emit(s, SX_SMP_POOL_CONNECT_FAILED, 0, status, NULL, NULL);
        fail_waiting(s, status);
        schedule_retry(s);
        return;
    }
    if (p->freeing)
        return;
    s->st = S_UP;
    s->session = ++p->stats.sessions;
    s->retry_ms = p->o.retry_min_ms;
    sx_error_clear();
    sx_smp_pool_event ce = {.kind = SX_SMP_POOL_CONNECTED, .session = s->session, .status = SX_OK};
    const sx_smp_session *ss = sx_smp_aclient_session(cl);
    if (p->svc.on && ss->has_service) {
        ce.service_id = ss->service_id;
        ce.service_id_len = ss->service_id_len;
    }
    emit_event(s, &ce);
    sx_pool_svc_connected(s);
    start_waiting(s);
    pump(s);
}

static void closed_cb(sx_smp_aclient *cl, sx_status status, void *arg)
{
    psrv *s = arg;
    if (cl != s->cl)
        return;
    uint64_t session = s->session;
    /* Proxy sessions live on the connection (operations in flight have
     * ended and hold copies). */
    sx_smpapi_proxied_free(s->proxied);
    s->proxied = NULL;
    if (client_ended(s))
        return;
    /* Every subscription of the session is pending again (those in flight
     * were put back by their failed answers). */
    for (size_t i = 0; i < s->tab_cap; i++)
        for (pq *e = s->tab[i]; e; e = e->hnext)
            if (e->st == Q_ACTIVE || e->st == Q_PARKED) {
                e->in_subs = false;
                fifo_push(s, e);
            }
    s->active = 0;
    s->session = 0;
    s->st = S_RETRY;
    sx_smpapi_net_error("connection", status == SX_OK ? SX_E_CLOSED : status);
    emit(s, SX_SMP_POOL_DISCONNECTED, session, status == SX_OK ? SX_E_CLOSED : status, NULL, NULL);
    if (s->st == S_RETRY && !s->cl)
        schedule_retry(s);
}

static void event_cb(sx_smp_aclient *cl, sx_smp_client_reply *r, void *arg)
{
    psrv *s = arg;
    if (s->pool->freeing || cl != s->cl || s->st != S_UP || !r->ok)
        return;
    if (sx_pool_svc_event(s, r))
        return;
    sx_slice id = r->reply.t.entity_id;
    sx_smp_resp_tag tag = r->reply.resp.tag;
    /* MSG is a recipient's, NMSG a notifier's; END and DELD either. */
    pq *e = tag == SX_SMP_R_NMSG ? NULL : tab_find(s, id.ptr, id.len, false);
    if (!e && tag != SX_SMP_R_MSG)
        e = tab_find(s, id.ptr, id.len, true);
    if (e && e->st != Q_PENDING && e->st != Q_PARKED)
        deliver(s, e, r);
}

static void sub_reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    pq *e = arg;
    psrv *s = e->srv;
    sx_smp_pool *p = s->pool;
    s->inflight--;
    if (!e->q && !e->nt) { /* let go of while in flight */
        free(e);
        if (!p->freeing && cl == s->cl)
            pump(s);
        return;
    }
    if (p->freeing)
        return;
    if (status != SX_OK || cl != s->cl) {
        fifo_push(s, e); /* the session ended: again on the next one */
        return;
    }
    bool next_msg = r->ok && r->reply.resp.tag == SX_SMP_R_MSG;
    sx_error_clear();
    if (next_msg || (r->ok && (r->reply.resp.tag == SX_SMP_R_OK || r->reply.resp.tag == SX_SMP_R_SOK))) {
        e->st = Q_ACTIVE;
        s->active++;
        p->stats.sub_ok++;
        sx_pool_svc_sub_ok(s, e, r);
        sx_smp_pool_event se = {.kind = SX_SMP_POOL_SUBSCRIBED, .session = s->session, .status = SX_OK};
        se.queue = e->q;
        se.notifier = e->nt;
        se.service_assoc = e->assoc;
        emit_event(s, &se);
        /* The program may have let go of it in the callback. */
        pq *again = next_msg ? tab_find(s, r->reply.t.entity_id.ptr, r->reply.t.entity_id.len, false) : NULL;
        if (again && again->st == Q_ACTIVE && cl == s->cl)
            deliver(s, again, r);
    } else {
        sx_status st = sx_smpapi_expect(e->ntf ? "notifier subscribe" : "subscribe", r, SX_SMP_R_SOK);
        sx_smp_queue *q = e->q;
        sx_smp_notifier *nt = e->nt;
        tab_remove(s, e);
        sx_pool_svc_forget(s, e);
        free(e);
        emit_sub(s, SX_SMP_POOL_SUB_FAILED, st, q, nt);
    }
    if (cl == s->cl)
        pump(s);
}

static void op_reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    pop *o = arg;
    psrv *s = o->srv;
    sx_smp_pool *p = s->pool;
    if (p->freeing) {
        op_free(o);
        return;
    }
    const char *what = op_name(o);
    sx_status st;
    bool next_msg = false;
    sx_error_clear();
    if (status != SX_OK)
        st = sx_smpapi_net_error(what, status);
    else if (o->is_ack) {
        next_msg = r->ok && r->reply.resp.tag == SX_SMP_R_MSG;
        st = next_msg ? SX_OK : sx_smpapi_expect(what, r, SX_SMP_R_OK);
    } else if (o->secure) {
        st = sx_smpapi_secure_answer(r, o->had_key);
    } else {
        st = sx_smpapi_send_answer(r, o->q);
        p->stats.sent_direct += st == SX_OK;
    }
    if (o->cb)
        o->cb(p, st, o->arg);
    op_free(o);
    if (next_msg && cl == s->cl && s->st == S_UP) {
        pq *e = tab_find(s, r->reply.t.entity_id.ptr, r->reply.t.entity_id.len, false);
        if (e && e->st == Q_ACTIVE)
            deliver(s, e, r);
    }
}

/* ---- API ---- */

/* The router of an address, made when new. Routers are told apart as the
 * reference's SMPClientAgent keys its clients (the whole ProtocolServer:
 * every host in order, the port as written, the key hash; not the
 * password): sx_server_address_compare of the address without its
 * password (the same identity the router's relays use). */
static sx_status srv_of(sx_smp_pool *p, const char *server, psrv **out)
{
    sx_smp_address a;
    if (sx_smp_address_parse(server, &a) != SX_OK)
        return sx_error_set(SX_E_USAGE, NULL, "pool: the queue's router address does not parse");
    char shown[SX_QUEUE_ADDR_MAX];
    if (sx_queue_address_public(server, shown, sizeof shown) != SX_OK)
        snprintf(shown, sizeof shown, "%s:%u", a.host, (unsigned)a.port);
    /* the identity: parsed, then without its password, parsed again */
    sx_server_address id, full;
    char pub[SX_SERVER_ADDRESS_MAX + 1];
    size_t pub_len = 0;
    sx_status st = sx_server_address_parse(server, strlen(server), &full);
    if (st == SX_OK)
        st = sx_server_address_format(&full, false, pub, sizeof pub, &pub_len);
    if (st == SX_OK)
        st = sx_server_address_parse(pub, pub_len, &id);
    sx_wipe(&full, sizeof full);
    if (st != SX_OK) {
        sx_wipe(&a, sizeof a);
        return sx_error_set(SX_E_USAGE, NULL, "pool: the queue's router address does not parse");
    }
    for (psrv *s = p->srvs; s; s = s->next) {
        if (sx_server_address_compare(&s->id, &id) == 0) {
            sx_wipe(&a, sizeof a);
            *out = s;
            return SX_OK;
        }
    }
    psrv *s = calloc(1, sizeof *s);
    if (!s) {
        sx_wipe(&a, sizeof a);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    s->pool = p;
    s->addr = a;
    s->addr.has_password = false; /* subscribing and sending need none */
    sx_wipe(s->addr.password, sizeof s->addr.password);
    sx_wipe(&a, sizeof a);
    memcpy(s->shown, shown, sizeof s->shown);
    s->id = id;
    s->retry_ms = p->o.retry_min_ms;
    sx_loop_timer_init(&s->timer, timer_cb, s);
    s->next = p->srvs;
    p->srvs = s;
    p->stats.routers++;
    *out = s;
    return SX_OK;
}

sx_status sx_smp_pool_new(sx_loop *loop, const sx_smp_pool_opts *opts, sx_smp_pool_event_fn on_event, void *arg,
                          sx_smp_pool **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "pool: no place for the pool");
    *out = NULL;
    if (!loop || !on_event)
        return sx_error_set(SX_E_USAGE, NULL, "pool: no loop or no event callback");
    if (sx_crypto_init() != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot initialise the crypto libraries");
    sx_smp_pool *p = calloc(1, sizeof *p);
    if (!p)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    p->loop = loop;
    p->fn = on_event;
    p->arg = arg;
    if (opts)
        p->o = *opts;
    if (!p->o.retry_min_ms)
        p->o.retry_min_ms = DEFAULT_RETRY_MIN_MS;
    if (!p->o.retry_max_ms)
        p->o.retry_max_ms = DEFAULT_RETRY_MAX_MS;
    if (p->o.retry_max_ms < p->o.retry_min_ms)
        p->o.retry_max_ms = p->o.retry_min_ms;
    if (!p->o.sub_window)
        p->o.sub_window = DEFAULT_WINDOW;
    sx_status st = SX_OK;
    p->created_ns = sx_smpapi_now_ns();
    if (p->o.conn.socks_proxy) {
        sx_socks_proxy sp;
        int n = snprintf(p->socks_text, sizeof p->socks_text, "%s", p->o.conn.socks_proxy);
        if (n < 0 || (size_t)n >= sizeof p->socks_text || sx_socks_proxy_parse(p->socks_text, &sp) != SX_OK) {
            free(p);
            return sx_error_set(SX_E_USAGE, NULL,
                                "pool: invalid SOCKS proxy (expected [user:password@]host:port with a numeric host)");
        }
        p->o.conn.socks_proxy = p->socks_text;
    }
    st = sx_pool_proxy_cfg_init(&p->px, &p->o);
    if (st == SX_OK && (st = sx_pool_svc_init(p, &p->o)) != SX_OK)
        sx_pool_proxy_cfg_cleanup(&p->px);
    /* The options' pointers are not kept. */
    p->o.proxies = p->o.known_routers = NULL;
    p->o.n_proxies = p->o.n_known_routers = 0;
    p->o.conn.service = NULL;
    if (st != SX_OK) {
        free(p);
        return st;
    }
    *out = p;
    return SX_OK;
}

static void pool_destroy(sx_smp_pool *p)
{
    for (psrv *s = p->srvs, *n; s; s = n) {
        n = s->next;
        for (size_t i = 0; i < s->tab_cap; i++)
            for (pq *e = s->tab[i], *en; e; e = en) {
                en = e->hnext;
                free(e);
            }
        free(s->tab);
        sx_smpapi_proxied_free(s->proxied);
        sx_pool_svc_srv_cleanup(s);
        free(s);
    }
    sx_pool_proxy_cfg_cleanup(&p->px);
    sx_pool_svc_cleanup(p);
    free(p);
}

void sx_smp_pool_free(sx_smp_pool *p)
{
    if (!p || p->freeing)
        return;
    p->freeing = true;
    for (psrv *s = p->srvs; s; s = s->next) {
        sx_loop_timer_stop(p->loop, &s->timer);
        fail_waiting(s, SX_E_CLOSED);
        if (s->cl)
            sx_smp_aclient_close(s->cl);
    }
    if (p->live == 0)
        pool_destroy(p);
}

/* Adds a subscription of either kind (q or nt). */
static sx_status add_sub(sx_smp_pool *p, const char *server, const uint8_t id[SX_QUEUE_ID_LEN], sx_smp_queue *q,
                         sx_smp_notifier *nt)
{
    psrv *s;
    SX_TRY(srv_of(p, server, &s));
    pq *e = tab_find(s, id, SX_QUEUE_ID_LEN, nt != NULL);
    if (e && e->q == q && e->nt == nt)
        return SX_OK;
    if (e)
        return sx_error_set(SX_E_USAGE, NULL, "subscribe: the pool holds this queue through another side of it");
    SX_TRY(tab_insert(s, id, q, nt, &e));
    if (nt && nt->assoc)
        sx_pool_svc_preassoc(s, e);
    fifo_push(s, e);
    if (s->st == S_UP || s->st == S_IDLE)
        kick(s);
    return SX_OK;
}

sx_status sx_pool_adopt(sx_smp_pool *p, sx_smp_aclient *cl, sx_smp_queue *rcv)
{
    for (psrv *s = p->srvs; s; s = s->next) {
        if (s->cl != cl || s->st != S_UP)
            continue;
        if (tab_find(s, rcv->f.rcv_id, SX_QUEUE_ID_LEN, false))
            return sx_error_set(SX_E_USAGE, NULL, "create: the pool holds a queue with this id");
        pq *e;
        SX_TRY(tab_insert(s, rcv->f.rcv_id, rcv, NULL, &e));
        e->st = Q_ACTIVE;
        s->active++;
        emit_sub(s, SX_SMP_POOL_SUBSCRIBED, SX_OK, rcv, NULL);
        return SX_OK;
    }
    return sx_error_set(SX_E_CLOSED, NULL, "create: the connection ended before the queue could be subscribed");
}

sx_status sx_smp_pool_subscribe(sx_smp_pool *p, sx_smp_queue *rcv)
{
    sx_error_clear();
    if (!p || p->freeing)
        return sx_error_set(SX_E_USAGE, NULL, "subscribe: no pool");
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, "subscribe"));
    return add_sub(p, rcv->f.server, rcv->f.rcv_id, rcv, NULL);
}

sx_status sx_smp_pool_subscribe_notifier(sx_smp_pool *p, sx_smp_notifier *n)
{
    sx_error_clear();
    if (!p || p->freeing || !n)
        return sx_error_set(SX_E_USAGE, NULL, "notifier subscribe: no pool or no notifier");
    return add_sub(p, n->server, n->id, NULL, n);
}

/* Lets go of the subscription of q or nt. */
static sx_status drop_sub(sx_smp_pool *p, const uint8_t id[SX_QUEUE_ID_LEN], const sx_smp_queue *q,
                          const sx_smp_notifier *nt)
{
    for (psrv *s = p->srvs; s; s = s->next) {
        pq *e = tab_find(s, id, SX_QUEUE_ID_LEN, nt != NULL);
        if (e && e->q == q && e->nt == nt) {
            pq_drop(s, e);
            return SX_OK;
        }
    }
    return sx_error_set(SX_E_USAGE, NULL, "unsubscribe: the pool does not hold this queue");
}

sx_status sx_smp_pool_unsubscribe(sx_smp_pool *p, sx_smp_queue *rcv)
{
    sx_error_clear();
    if (!p || p->freeing || !rcv)
        return sx_error_set(SX_E_USAGE, NULL, "unsubscribe: no pool or no queue");
    return drop_sub(p, rcv->f.rcv_id, rcv, NULL);
}

void sx_smp_pool_release(sx_smp_pool *p)
{
    if (!p || !p->o.hold)
        return;
    p->o.hold = false;
    for (psrv *s = p->srvs; s; s = s->next)
        if (s->st == S_IDLE && wanted(s))
            kick(s);
}

void sx_smp_notifier_set_associated(sx_smp_notifier *n, bool assoc)
{
    if (n)
        n->assoc = assoc;
}

sx_status sx_smp_pool_unsubscribe_notifier(sx_smp_pool *p, sx_smp_notifier *n)
{
    sx_error_clear();
    if (!p || p->freeing || !n)
        return sx_error_set(SX_E_USAGE, NULL, "unsubscribe: no pool or no notifier");
    return drop_sub(p, n->id, NULL, n);
}

sx_status sx_smp_notifier_new(const char *server, const uint8_t *id, size_t id_len, const char *key_text,
                              sx_smp_notifier **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "notifier: no place for it");
    *out = NULL;
    if (!server || !id || !key_text)
        return sx_error_set(SX_E_USAGE, NULL, "notifier: no address, id or key");
    if (id_len != SX_QUEUE_ID_LEN)
        return sx_error_set(SX_E_USAGE, NULL, "notifier: the id has %zu bytes, not %d", id_len, SX_QUEUE_ID_LEN);
    sx_smp_address a;
    bool ok = strlen(server) < SX_QUEUE_ADDR_MAX && sx_smp_address_parse(server, &a) == SX_OK;
    sx_wipe(&a, sizeof a);
    if (!ok)
        return sx_error_set(SX_E_USAGE, NULL, "notifier: the router address does not parse");
    if (sx_crypto_init() != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot initialise the crypto libraries");
    sx_smp_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (sx_key_private_from_text(key_text, strlen(key_text), SX_KEY_AUTH_ALGS, &n->key) != SX_OK) {
        free(n);
        return sx_error_set(SX_E_USAGE, NULL,
                            "notifier: the key is not a base64url PKCS#8 Ed25519, Ed448 or X25519 private key");
    }
    snprintf(n->server, sizeof n->server, "%s", server);
    memcpy(n->id, id, SX_QUEUE_ID_LEN);
    *out = n;
    return SX_OK;
}

void sx_smp_notifier_free(sx_smp_notifier *n)
{
    if (!n)
        return;
    sx_key_free(n->key);
    sx_wipe(n, sizeof *n);
    free(n);
}

sx_status sx_smp_pool_ack(sx_smp_pool *p, const sx_smp_pool_event *e, sx_smp_pool_done_fn cb, void *arg)
{
    sx_error_clear();
    if (!p || p->freeing || !e || e->kind != SX_SMP_POOL_MESSAGE || !e->ev || !e->queue ||
        (e->ev->kind != SX_SMP_EVENT_MESSAGE && e->ev->kind != SX_SMP_EVENT_QUOTA &&
         e->ev->kind != SX_SMP_EVENT_UNREADABLE))
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: not a message event of this pool");
    psrv *s = p->srvs;
    while (s && !(s->st == S_UP && s->session == e->session))
        s = s->next;
    if (!s) {
        p->stats.stale_acks++;
        return sx_error_set(SX_E_CLOSED, NULL,
                            "acknowledge: the message came on a connection that has ended; the router sends "
                            "it again on the new one");
    }
    pq *q = tab_find(s, e->queue->f.rcv_id, SX_QUEUE_ID_LEN, false);
    if (!q || q->q != e->queue || q->st != Q_ACTIVE)
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: the queue is not subscribed in the pool");
    pop *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->srv = s;
    o->is_ack = true;
    o->q = e->queue;
    o->cb = cb;
    o->arg = arg;
    sx_status st = op_start(s, o, e->ev->msg_id, e->ev->msg_id_len);
    if (st != SX_OK) {
        op_free(o);
        return sx_error_set(st, NULL, "acknowledge: %s", sx_strerror(st));
    }
    return SX_OK;
}

/* Starts a send on its router's connection, or has it wait for one. */
static sx_status op_queue(psrv *s, pop *o)
{
    if (s->st == S_UP)
        return op_start(s, o, NULL, 0);
    o->next = NULL;
    if (s->wait_tail)
        s->wait_tail->next = o;
    else
        s->wait_head = o;
    s->wait_tail = o;
    if (s->st == S_IDLE)
        kick(s);
    return SX_OK;
}

/* The end of a proxied send: a host error becomes a direct send when the
 * fallback allows it; a failure lets the destination choose its proxy
 * again next time. */
static void proxy_done(sx_status st, bool host_error, void *arg)
{
    pop *o = arg;
    psrv *dest = o->dest;
    sx_smp_pool *p = dest->pool;
    if (p->freeing) {
        if (o->qop)
            o->qop->fail(o->qop, st, true);
        op_free(o);
        return;
    }
    if (st == SX_OK) {
        p->stats.sent_proxied += !o->secure && !o->qop;
    } else {
        dest->via = NULL;
        if (host_error && sx_pool_proxy_fallback_ok(&p->px)) {
            p->stats.proxy_fallbacks++;
            o->dest = NULL;
            o->srv = dest;
            /* From a loop callback: op_start's errors go to cb. */
            st = op_queue(dest, o);
            if (st == SX_OK)
                return;
        }
    }
    if (o->qop)
        o->qop->fail(o->qop, st, false); /* with SX_OK: the operation's end */
    else if (o->cb)
        o->cb(p, st, o->arg);
    op_free(o);
}

sx_status sx_smp_pool_send(sx_smp_pool *p, const sx_smp_queue *snd, const void *body, size_t len,
                           sx_smp_pool_done_fn cb, void *arg)
{
    sx_error_clear();
    if (!p || p->freeing)
        return sx_error_set(SX_E_USAGE, NULL, "send: no pool");
    if (!body && len)
        return sx_error_set(SX_E_USAGE, NULL, "send: no body");
    return sx_pool_sender_op(p, snd, SX_POOL_OP_SEND, body, len, cb, arg);
}

sx_status sx_smp_pool_send_notify(sx_smp_pool *p, const sx_smp_queue *snd, const void *body, size_t len,
                                  sx_smp_pool_done_fn cb, void *arg)
{
    sx_error_clear();
    if (!p || p->freeing)
        return sx_error_set(SX_E_USAGE, NULL, "send: no pool");
    if (!body && len)
        return sx_error_set(SX_E_USAGE, NULL, "send: no body");
    return sx_pool_sender_op(p, snd, SX_POOL_OP_SEND_NOTIFY, body, len, cb, arg);
}

sx_status sx_pool_sender_op(sx_smp_pool *p, const sx_smp_queue *snd, sx_pool_sender_kind kind, const void *body,
                            size_t len, sx_smp_pool_done_fn cb, void *arg)
{
    bool secure = kind == SX_POOL_OP_SECURE;
    const char *what = secure ? "secure" : "send";
    SX_TRY(sx_smpapi_need_role(snd, SX_QUEUE_SENDER, what));
    sx_smp_cmd cmd;
    if (!secure)
        SX_TRY(sx_smpapi_send_begin(sx_smp_server_vrange().max, body, len, &cmd));
    psrv *s;
    SX_TRY(srv_of(p, snd->f.server, &s));
    pop *o = calloc(1, sizeof *o);
    if (o)
        o->body = malloc(len ? len : 1);
    if (!o || !o->body) {
        free(o);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    if (len)
        memcpy(o->body, body, len);
    o->len = len;
    o->secure = secure;
    o->notify = kind == SX_POOL_OP_SEND_NOTIFY;
    o->srv = s;
    o->q = snd;
    o->cb = cb;
    o->arg = arg;
    if (sx_pool_proxy_use(&p->px, &s->id)) {
        if (!s->via) {
            size_t i = sx_pool_proxy_pick(&p->px, &s->id);
            psrv *v;
            sx_status st = srv_of(p, p->px.proxy_text[i], &v);
            if (st != SX_OK) {
                op_free(o);
                return st;
            }
            v->proxy_idx = i;
            s->via = v;
        }
        o->dest = s;
        o->srv = s->via;
    }
    sx_status st = op_queue(o->srv, o);
    if (st != SX_OK) {
        op_free(o);
        return sx_error_set(st, NULL, "%s: %s", what, sx_strerror(st));
    }
    return SX_OK;
}

sx_status sx_pool_qop_submit(sx_smp_pool *p, const char *server, sx_pool_qop *op)
{
    psrv *s;
    SX_TRY(srv_of(p, server, &s));
    pop *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->srv = s;
    o->qop = op;
    /* When the connection is up the command is queued at once: its reply
     * comes from the loop, never from inside the program's call. */
    sx_status st = op_queue(s, o);
    if (st != SX_OK)
        free(o); /* start said why */
    return st;
}

sx_status sx_pool_qop_submit_sender(sx_smp_pool *p, const char *server, sx_pool_qop *op)
{
    psrv *s;
    SX_TRY(srv_of(p, server, &s));
    pop *o = calloc(1, sizeof *o);
    if (!o)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    o->srv = s;
    o->qop = op;
    if (op->start_proxied && sx_pool_proxy_use(&p->px, &s->id)) {
        if (!s->via) {
            size_t i = sx_pool_proxy_pick(&p->px, &s->id);
            psrv *v;
            sx_status st = srv_of(p, p->px.proxy_text[i], &v);
            if (st != SX_OK) {
                free(o);
                return st;
            }
            v->proxy_idx = i;
            s->via = v;
        }
        o->dest = s;
        o->srv = s->via;
    }
    sx_status st = op_queue(o->srv, o);
    if (st != SX_OK)
        free(o); /* start said why */
    return st;
}

bool sx_pool_freeing(const sx_smp_pool *p)
{
    return p->freeing;
}

void sx_pool_forget(sx_smp_pool *p, const sx_smp_queue *rcv)
{
    if (drop_sub(p, rcv->f.rcv_id, rcv, NULL) != SX_OK)
        sx_error_clear(); /* it was not subscribed */
}

void sx_smp_pool_get_stats(const sx_smp_pool *p, sx_smp_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    *out = p->stats;
    out->routers = 0;
    for (const psrv *s = p->srvs; s; s = s->next) {
        out->routers++;
        out->connected += s->st == S_UP;
        out->active += s->active;
        out->pending += s->count - s->active;
        out->service_assoc += s->svc.n_assoc;
        if (s->cl) {
            sx_smp_aclient_stats cs;
            sx_smp_aclient_get_stats(s->cl, &cs);
            out->blocks_sent += cs.blocks_sent;
            out->blocks_received += cs.blocks_received;
        }
    }
}

void sx_smp_pool_routers(const sx_smp_pool *p, sx_smp_pool_router_fn fn, void *arg)
{
    if (!p || !fn)
        return;
    for (const psrv *s = p->srvs; s; s = s->next) {
        sx_smp_pool_router r = {.server = s->shown,
                                .connected = s->st == S_UP,
                                .active = s->active,
                                .pending = s->count - s->active,
                                .service_assoc = s->svc.n_assoc};
        fn(arg, &r);
    }
}

/* ---- for pool_service.c ---- */

void sx_pool_emit(psrv *s, sx_smp_pool_event *e)
{
    emit_event(s, e);
}

void sx_pool_fifo_push(psrv *s, pq *e)
{
    fifo_push(s, e);
}

void sx_pool_fifo_unlink(psrv *s, pq *e)
{
    fifo_unlink(s, e);
}

void sx_pool_pump(psrv *s)
{
    pump(s);
}
