/* The agent object (include/simplex/agent.h): the store, the thread-safe
 * SMP pool, a worker thread that takes the pool's notes, a sender thread
 * that makes the deliveries, and the queue of events for the application. */
#include "agent/agent_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/error.h"
#include "crypto/util.h"
#include "smp_client/queue_file.h"

int64_t sx_agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sx_agent_id_text(const sx_agent_id *id, char out[SX_AGENT_CONN_ID_TEXT])
{
    if (sx_b64_encode(sx_slice_of(id->b, sizeof id->b), SX_B64_URL, out, SX_AGENT_CONN_ID_TEXT) !=
        SX_OK)
        out[0] = '\0';
}

sx_status sx_agent_id_parse(const char *text, sx_agent_id *id)
{
    size_t n = 0;
    if (!text || strlen(text) != SX_AGENT_CONN_ID_TEXT - 1 ||
        sx_b64_decode(text, strlen(text), SX_B64_URL, id->b, sizeof id->b, &n) != SX_OK ||
        n != sizeof id->b)
        return sx_error_set(SX_E_USAGE, NULL, "agent: '%s' is not a connection id",
                            text ? text : "");
    return SX_OK;
}

/* ---- events ---- */

void sx_agent_emit_ev(sx_agent *a, sx_agent_event *ev)
{
    sx_agent_evnode *n = calloc(1, sizeof *n);
    if (!n) {
        free(ev->body);
        free(ev->receipts);
        free(ev->msg_ids);
        return;
    }
    n->ev = *ev;
    pthread_mutex_lock(&a->ev_mu);
    if (a->ev_tail) {
        a->ev_tail->next = n;
    } else {
        a->ev_head = n;
        /* The queue was empty: the event descriptor becomes readable. */
        if (a->ev_pipe[1] >= 0) {
            ssize_t w = write(a->ev_pipe[1], "e", 1);
            (void)w; /* a full pipe already holds a byte */
        }
    }
    a->ev_tail = n;
    pthread_cond_broadcast(&a->ev_cond);
    pthread_mutex_unlock(&a->ev_mu);
}

void sx_agent_emit(sx_agent *a, sx_agent_event_kind kind, const sx_agent_id *conn, int64_t msg_id,
                   sx_slice body)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    if (conn)
        sx_agent_id_text(conn, ev.conn);
    ev.msg_id = msg_id;
    if (body.len > 0) {
        ev.body = malloc(body.len);
        if (!ev.body)
            return;
        memcpy(ev.body, body.ptr, body.len);
        ev.body_len = body.len;
    }
    sx_agent_emit_ev(a, &ev);
}

void sx_agent_emit_err(sx_agent *a, sx_agent_event_kind kind, const sx_agent_id *conn,
                       int64_t msg_id, sx_status st, const char *what)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    if (conn)
        sx_agent_id_text(conn, ev.conn);
    ev.msg_id = msg_id;
    ev.status = st;
    snprintf(ev.detail, sizeof ev.detail, "%s: %s", what, sx_error_message());
    sx_agent_emit_ev(a, &ev);
}

sx_status sx_agent_next(sx_agent *a, int timeout_ms, sx_agent_event *ev)
{
    SX_ENSURE(a && ev, SX_E_USAGE);
    memset(ev, 0, sizeof *ev);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_ms > 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&a->ev_mu);
    while (!a->ev_head && timeout_ms != 0) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&a->ev_cond, &a->ev_mu);
        } else if (pthread_cond_timedwait(&a->ev_cond, &a->ev_mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    sx_agent_evnode *n = a->ev_head;
    if (n) {
        a->ev_head = n->next;
        if (!a->ev_head) {
            a->ev_tail = NULL;
            /* Empty now: the event descriptor stops being readable. */
            uint8_t b[8];
            while (a->ev_pipe[0] >= 0 && read(a->ev_pipe[0], b, sizeof b) > 0) {
            }
        }
    }
    pthread_mutex_unlock(&a->ev_mu);
    if (n) {
        *ev = n->ev;
        free(n);
    }
    return SX_OK;
}

void sx_agent_event_clear(sx_agent_event *ev)
{
    if (!ev)
        return;
    free(ev->body);
    free(ev->receipts);
    free(ev->msg_ids);
    memset(ev, 0, sizeof *ev);
}

int sx_agent_event_fd(const sx_agent *a) { return a ? a->ev_pipe[0] : -1; }

static sx_status open_ev_pipe(sx_agent *a)
{
    if (pipe(a->ev_pipe) != 0) {
        a->ev_pipe[0] = a->ev_pipe[1] = -1;
        return sx_error_set(SX_E_IO, NULL, "agent: event pipe: %s", strerror(errno));
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(a->ev_pipe[i], F_GETFL);
        if (fl < 0 || fcntl(a->ev_pipe[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(a->ev_pipe[i], F_SETFD, FD_CLOEXEC) != 0)
            return sx_error_set(SX_E_IO, NULL, "agent: event pipe: %s", strerror(errno));
    }
    return SX_OK;
}

const char *sx_agent_event_name(sx_agent_event_kind kind)
{
    static const char *const names[] = {"NONE", "CONF", "INFO", "CON", "MSG", "SENT",
                                        "MERR", "END", "DOWN", "UP", "OK", "ERR", "RSYNC",
                                        "REQ", "RCVD", "MWARN", "QCONT", "MERRS", "SUSPENDED",
                                        "SWITCH", "DEL_RCVQ", "DEL_CONN", "DEL_USER", "INV",
                                        "JOINED"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

void sx_agent_free_text(char *text)
{
    free(text);
}

/* ---- the worker ---- */

static void on_note(sx_agent *a, sx_smp_pool_note *n)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    switch (n->kind) {
    case SX_SMP_POOL_CONNECTED:
    case SX_SMP_POOL_DISCONNECTED:
        ev.kind = n->kind == SX_SMP_POOL_CONNECTED ? SX_AGENT_EV_UP : SX_AGENT_EV_DOWN;
        snprintf(ev.server, sizeof ev.server, "%.250s", n->server);
        sx_agent_emit_ev(a, &ev);
        if (n->kind == SX_SMP_POOL_DISCONNECTED)
            /* A message shown and not acked comes again on the next session. */
            for (size_t i = 0; i < a->n_rqs; i++)
                if (a->rqs[i].has_pending && a->rqs[i].pending.session == n->session)
                    a->rqs[i].has_pending = false;
        return;
    case SX_SMP_POOL_SUB_FAILED: {
        sx_agent_rq *rq = sx_agent_rq_by_queue(a, n->queue);
        if (rq) {
            rq->gone = true;
            ev.kind = SX_AGENT_EV_ERR;
            sx_agent_id_text(&rq->conn, ev.conn);
            ev.status = n->status;
            snprintf(ev.detail, sizeof ev.detail, "subscription refused: %.200s", n->detail);
            sx_agent_emit_ev(a, &ev);
        }
        return;
    }
    case SX_SMP_POOL_MESSAGE: {
        sx_agent_rq *rq = sx_agent_rq_by_queue(a, n->queue);
        if (rq)
            sx_agent_on_rq_note(a, rq, n);
        return;
    }
    default:
        return;
    }
}

void sx_agent_on_rq_note(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n)
{
    if (n->ev.kind == SX_SMP_EVENT_END || n->ev.kind == SX_SMP_EVENT_DELETED) {
        sx_agent_event ev;
        memset(&ev, 0, sizeof ev);
        rq->gone = true;
        ev.kind = n->ev.kind == SX_SMP_EVENT_END ? SX_AGENT_EV_END : SX_AGENT_EV_ERR;
        sx_agent_id_text(&rq->conn, ev.conn);
        if (ev.kind == SX_AGENT_EV_ERR)
            snprintf(ev.detail, sizeof ev.detail, "the router deleted the queue");
        sx_agent_emit_ev(a, &ev);
        return;
    }
    if (n->ev.kind == SX_SMP_EVENT_QUOTA) {
        sx_agent_on_quota_marker(a, rq, n);
        return;
    }
    if (n->ev.kind != SX_SMP_EVENT_MESSAGE) {
        sx_agent_ack_router(a, rq, n);
        return;
    }
    sx_agent_on_message(a, rq, n);
}

/* Waits (a->mu held) while the agent is suspended or suspending; false
 * when it is closing. */
static bool wait_foreground(sx_agent *a)
{
    while (!a->stop && !sx_agent_receiving_allowed(a))
        pthread_cond_wait(&a->resume, &a->mu);
    return !a->stop;
}

static void *worker_main(void *arg)
{
    sx_agent *a = arg;
    sx_smp_pool_note n;
    memset(&n, 0, sizeof n);
    for (;;) {
        pthread_mutex_lock(&a->mu);
        bool run = wait_foreground(a);
        pthread_mutex_unlock(&a->mu);
        if (!run)
            break;
        if (sx_smp_tpool_next(a->pool, 100, &n) == SX_OK && n.kind != 0) {
            pthread_mutex_lock(&a->mu);
            /* A note taken just before a suspension waits for the
             * foreground (the router keeps the message unacknowledged). */
            if (wait_foreground(a))
                on_note(a, &n);
            pthread_mutex_unlock(&a->mu);
            sx_smp_pool_note_clear(&n);
        }
    }
    return NULL;
}

/* The deliveries: woken by new ones (a->wake), else when a retry is due. */
void sx_agent_emit_corr(sx_agent *a, sx_agent_event_kind kind, const sx_agent_id *conn,
                        const char *corr_id, sx_slice body, sx_status st)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    if (conn)
        sx_agent_id_text(conn, ev.conn);
    snprintf(ev.corr_id, sizeof ev.corr_id, "%s", corr_id);
    if (st != SX_OK) {
        ev.status = st;
        snprintf(ev.detail, sizeof ev.detail, "command: %s", sx_error_message());
    }
    if (body.len > 0) {
        ev.body = malloc(body.len + 1);
        if (!ev.body)
            return;
        memcpy(ev.body, body.ptr, body.len);
        ev.body[body.len] = 0;
        ev.body_len = body.len;
    }
    sx_agent_emit_ev(a, &ev);
}

static void *sender_main(void *arg)
{
    sx_agent *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        if (a->cmd_pending) {
            /* a command stored since (queue rotation): the runner takes it */
            a->cmd_pending = false;
            if (sx_agent_cmds_resume(a, false) != SX_OK)
                a->cmd_pending = true;
        }
        int next = sx_agent_sending_allowed(a) ? sx_agent_deliver_due(a) : -1;
        int cnext = sx_agent_cmds_due(a);
        if (cnext >= 0 && (next < 0 || cnext < next))
            next = cnext;
        int knext = sx_agent_cleanup_due(a);
        if (next < 0 || knext < next)
            next = knext;
        int dnext = a->n_delw > 0 ? sx_agent_delwait_due(a) : -1;
        if (dnext >= 0 && (next < 0 || dnext < next))
            next = dnext;
        if (next == 0 || (a->run_state == SX_AGENT_RUN_SUSPENDING && a->n_sqs == 0))
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int ms = sx_agent_suspend_wait_ms(a, next < 0 || next > 1000 ? 1000 : next);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->wake, &a->mu, &until);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- opening ---- */

static sx_status default_user(sx_agent *a)
{
    sx_agent_blob v = {0};
    bool found = false;
    SX_TRY(sx_agent_store_setting_get(a->store, "default_user", &v, &found));
    if (found && v.len == 8) {
        int64_t id = 0;
        for (size_t i = 0; i < 8; i++)
            id = (id << 8) | v.ptr[i];
        a->user_id = id;
        sx_agent_blob_free(&v);
        return SX_OK;
    }
    sx_agent_blob_free(&v);
    SX_TRY(sx_agent_store_user_create(a->store, &a->user_id));
    uint8_t b[8];
    for (size_t i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)a->user_id >> (56 - 8 * i));
    return sx_agent_store_setting_set(a->store, "default_user", sx_slice_of(b, 8));
}

/* Subscribes every receiving queue and notes the send queues with
 * deliveries (a restart resumes both). */
/* Whether the queue has an entry; a queue read with GET until now (a
 * polled entry, agent_get.c) is subscribed when subscribe is asked. */
static bool rq_known(sx_agent *a, int64_t queue_id, bool subscribe, sx_status *st)
{
    size_t i;
    if (!sx_agent_idmap_get(&a->rq_by_id, (uint64_t)queue_id, &i))
        return false;
    for (size_t j = i; subscribe && j < a->n_rqs; j++) {
        sx_agent_rq *rq = &a->rqs[j];
        if (rq->queue_id != queue_id || rq->gone || !rq->polled)
            continue;
        if (rq->has_pending)
            rq->sub_wanted = true; /* its message is acknowledged on GET's connection first */
        else
            *st = sx_agent_rq_subscribe_polled(a, rq);
    }
    return true;
}

sx_status sx_agent_pool_new(sx_agent *a, sx_smp_tpool **out)
{
    sx_smp_pool_opts po;
    memset(&po, 0, sizeof po);
    po.conn.timeout_ms = a->opts.timeout_ms;
    po.retry_min_ms = a->opts.retry_min_ms;
    po.retry_max_ms = a->opts.retry_max_ms;
    SX_TRY(sx_agent_proxy_pool_opts(&a->opts, &po));
    return sx_smp_tpool_new(&po, out);
}

static sx_status resume(sx_agent *a, bool subscribe)
{
    sx_agent_conn *conns = NULL;
    size_t nc = 0;
    SX_TRY(sx_agent_store_conn_list(a->store, 0, &conns, &nc));
    sx_status st = SX_OK;
    for (size_t i = 0; i < nc && st == SX_OK; i++) {
        sx_agent_rcv_queue *rqs = NULL;
        size_t nr = 0;
        st = sx_agent_store_rcv_queue_list(a->store, &conns[i].id, &rqs, &nr);
        /* a deleted connection's queues are only deleted (agent_qdel.c) */
        bool live = conns[i].state != SX_AGENT_CONN_DELETED;
        for (size_t j = 0; j < nr && st == SX_OK && subscribe && live; j++) {
            if (rq_known(a, rqs[j].queue_id, subscribe, &st))
                continue;
            sx_smp_queue *q = NULL;
            st = sx_agent_rq_object(a, &rqs[j], &q);
            if (st == SX_OK)
                st = sx_agent_rq_add(a, rqs[j].queue_id, &conns[i].id, q);
        }
        free(rqs);
        sx_agent_snd_queue *sqs = NULL;
        size_t ns = 0;
        if (st == SX_OK)
            st = sx_agent_store_snd_queue_list(a->store, &conns[i].id, &sqs, &ns);
        for (size_t j = 0; j < ns && st == SX_OK; j++)
            st = sx_agent_sq_add(a, sqs[j].queue_id, &conns[i].id);
        free(sqs);
    }
    free(conns);
    return st;
}

/* The preset routers of short links, parsed once; the options' pointers
 * are not kept. */
static sx_status presets_parse(sx_agent *a)
{
    const char *const *list = a->opts.preset_routers;
    size_t n = a->opts.n_preset_routers;
    a->opts.preset_routers = NULL;
    a->opts.n_preset_routers = 0;
    if (n == 0)
        return SX_OK;
    SX_ENSURE(list, sx_error_set(SX_E_USAGE, NULL, "agent: n_preset_routers without preset_routers"));
    a->presets = calloc(n, sizeof *a->presets);
    if (!a->presets)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        SX_ENSURE(list[i], sx_error_set(SX_E_USAGE, NULL, "agent: a NULL preset router"));
        char pub[SX_QUEUE_ADDR_MAX];
        sx_status st = sx_queue_address_public(list[i], pub, sizeof pub);
        if (st == SX_OK)
            st = sx_agent_server_parse(pub, strlen(pub), &a->presets[i]);
        if (st != SX_OK)
            return sx_error_set(st, NULL, "agent: preset router %zu is not an smp:// address", i + 1);
        a->n_presets = i + 1;
    }
    return SX_OK;
}

sx_status sx_agent_open(const char *db_path, const sx_agent_opts *opts, sx_agent **out)
{
    SX_ENSURE(db_path && out, SX_E_USAGE);
    *out = NULL;
    sx_agent *a = calloc(1, sizeof *a);
    if (!a)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    a->ev_pipe[0] = a->ev_pipe[1] = -1;
    if (opts)
        a->opts = *opts;
    if (a->opts.send_retry_ms == 0)
        a->opts.send_retry_ms = 2000;
    if (a->opts.quota_retry_ms == 0)
        a->opts.quota_retry_ms = 300000;
    if (a->opts.message_timeout_s == 0)
        a->opts.message_timeout_s = 2 * 86400;
    if (a->opts.quota_timeout_s == 0)
        a->opts.quota_timeout_s = 7 * 86400;
    if (a->opts.hello_timeout_s == 0)
        a->opts.hello_timeout_s = 2 * 86400;
    if (a->opts.stored_msg_ttl_s == 0)
        a->opts.stored_msg_ttl_s = 21 * 86400;
    if (a->opts.cleanup_interval_ms == 0)
        a->opts.cleanup_interval_ms = 300000;
    a->next_cleanup_ms = sx_agent_now_ms() +
                         (a->opts.cleanup_interval_ms < 30000 ? a->opts.cleanup_interval_ms : 30000);
    if (a->opts.delete_wait_s == 0)
        a->opts.delete_wait_s = 2 * 86400;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->resume, NULL);
    pthread_mutex_init(&a->ev_mu, NULL);
    pthread_cond_init(&a->ev_cond, NULL);
    sx_status st = sx_agent_versions_init(a);
    if (st == SX_OK)
        st = open_ev_pipe(a);
    if (st == SX_OK)
        st = presets_parse(a);
    if (st == SX_OK)
        st = sx_agent_store_open(db_path, 0, &a->store);
    if (st == SX_OK)
        st = default_user(a);
    if (st == SX_OK)
        st = sx_agent_pool_new(a, &a->pool);
    if (st == SX_OK) {
        pthread_mutex_lock(&a->mu);
        st = resume(a, !a->opts.no_subscribe);
        if (st == SX_OK)
            st = sx_agent_delwait_load(a);
        /* The commands a crashed process left: only an agent that
         * subscribes takes them up (no_subscribe programs run their own). */
        if (st == SX_OK && !a->opts.no_subscribe)
            st = sx_agent_cmds_resume(a, true);
        pthread_mutex_unlock(&a->mu);
    }
    if (st == SX_OK) {
        if (pthread_create(&a->worker, NULL, worker_main, a) != 0) {
            st = sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot start its thread");
        } else {
            a->worker_started = true;
            if (pthread_create(&a->sender, NULL, sender_main, a) != 0)
                st = sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot start its thread");
            else
                a->sender_started = true;
        }
    }
    if (st != SX_OK) {
        sx_agent_close(a);
        return st;
    }
    *out = a;
    return SX_OK;
}

void sx_agent_close(sx_agent *a)
{
    if (!a)
        return;
    if (a->worker_started) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        pthread_cond_broadcast(&a->wake);
        pthread_cond_broadcast(&a->resume);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->worker, NULL);
        if (a->sender_started)
            pthread_join(a->sender, NULL);
    }
    if (a->store)
        sx_agent_cmds_close(a);
    sx_smp_tpool_free(a->pool);
    sx_smp_tpool_free(a->gpool);
    for (size_t i = 0; i < a->n_rqs; i++)
        sx_smp_queue_free(a->rqs[i].q);
    free(a->rqs);
    free(a->sqs);
    free(a->presets);
    free(a->delw);
    sx_agent_idmap_free(&a->rq_by_id);
    sx_agent_idmap_free(&a->rq_by_q);
    sx_agent_idmap_free(&a->rq_by_conn);
    sx_agent_idmap_free(&a->sq_by_id);
    sx_agent_store_close(a->store);
    sx_agent_evnode *n = a->ev_head;
    while (n) {
        sx_agent_evnode *nx = n->next;
        free(n->ev.body);
        free(n->ev.receipts);
        free(n->ev.msg_ids);
        free(n);
        n = nx;
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->resume);
    pthread_mutex_destroy(&a->ev_mu);
    pthread_cond_destroy(&a->ev_cond);
    for (int i = 0; i < 2; i++)
        if (a->ev_pipe[i] >= 0)
            close(a->ev_pipe[i]);
    free(a);
}

sx_status sx_agent_subscribe_all(sx_agent *a)
{
    SX_ENSURE(a, SX_E_USAGE);
    pthread_mutex_lock(&a->mu);
    sx_status st = resume(a, true);
    if (st == SX_OK)
        st = sx_agent_cmds_resume(a, false); /* those another process let go */
    pthread_mutex_unlock(&a->mu);
    return st;
}

sx_status sx_agent_flush(sx_agent *a, int timeout_ms)
{
    SX_ENSURE(a, SX_E_USAGE);
    int64_t until = sx_agent_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        bool busy = false;
        for (size_t i = 0; i < a->n_sqs; i++)
            if (a->sqs[i].delay_ms == 0 && !a->sqs[i].quota)
                busy = true;
        if (sx_agent_cmds_busy(a))
            busy = true;
        pthread_mutex_unlock(&a->mu);
        if (!busy)
            return SX_OK;
        if (sx_agent_now_ms() >= until)
            return sx_error_set(SX_E_WOULD_BLOCK, NULL, "agent: deliveries still pending");
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- connections ---- */

sx_status sx_agent_connections(sx_agent *a, sx_agent_conn_info **out, size_t *n)
{
    return sx_agent_user_connections(a, 0, out, n);
}

sx_status sx_agent_user_connections(sx_agent *a, int64_t user_id, sx_agent_conn_info **out,
                                    size_t *n)
{
    SX_ENSURE(a && out && n && user_id >= 0, SX_E_USAGE);
    static const char *const states[] = {"new", "rcv", "snd", "duplex", "contact", "deleted"};
    sx_agent_conn *conns = NULL;
    size_t nc = 0;
    pthread_mutex_lock(&a->mu);
    sx_status st = sx_agent_store_conn_list(a->store, user_id, &conns, &nc);
    pthread_mutex_unlock(&a->mu);
    SX_TRY(st);
    *out = NULL;
    *n = 0;
    if (nc == 0)
        return SX_OK;
    sx_agent_conn_info *r = calloc(nc, sizeof *r);
    if (!r) {
        free(conns);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    for (size_t i = 0; i < nc; i++) {
        sx_agent_id_text(&conns[i].id, r[i].id);
        r[i].state = (unsigned)conns[i].state < 6 ? states[conns[i].state] : "?";
        r[i].pq = conns[i].pq_support;
        r[i].rsync = sx_agent_rsync_name(conns[i].rsync);
        r[i].user_id = conns[i].user_id;
    }
    free(conns);
    *out = r;
    *n = nc;
    return SX_OK;
}

/* DEL of each receiving queue of the connection (its rows), then the
 * connection; a queue whose router cannot be reached is kept with the
 * connection marked deleted and tried again (agent_qdel.c). */
static sx_status delete_locked(sx_agent *a, const sx_agent_id *id)
{
    bool any_kept = false;
    sx_status st = sx_agent_conn_rqs_delete(a, id, false, &any_kept);
    sx_agent_conn_forget(a, id); /* entries left have no row: nothing to DEL */
    SX_TRY(st);
    if (!any_kept)
        return sx_agent_store_conn_delete(a->store, id);
    /* Kept for the retries: nothing more is sent or received on it. */
    sx_agent_snd_queue *sqs = NULL;
    size_t ns = 0;
    st = sx_agent_store_snd_queue_list(a->store, id, &sqs, &ns);
    for (size_t i = 0; i < ns && st == SX_OK; i++)
        st = sx_agent_store_snd_queue_delete(a->store, sqs[i].queue_id);
    if (sqs)
        sx_wipe(sqs, ns * sizeof *sqs);
    free(sqs);
    SX_TRY(st);
    return sx_agent_store_conn_set_deleted(a->store, id, (int64_t)time(NULL));
}

sx_status sx_agent_delete(sx_agent *a, const char *conn_id)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = delete_locked(a, &id);
    pthread_mutex_unlock(&a->mu);
    return st;
}
