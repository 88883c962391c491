/* Users and per-connection subscriptions (include/simplex/agent.h, "Users"):
 * a store holds any number of users, each owning its connections; the
 * calls that make a connection for a chosen user run the ordinary ones
 * with that user noted for the calling thread, so that the connection row
 * (sx_agent_conn_new) takes it. Subscribing chosen connections is the
 * reference's subscribeConnections: their receiving queues join the pool,
 * their pending deliveries resume. */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

/* The user of connections made by this thread's current call on agent
 * tls_agent (0: the agent's default user). */
static _Thread_local const sx_agent *tls_agent;
static _Thread_local int64_t tls_user;

int64_t sx_agent_conn_user(const sx_agent *a)
{
    return tls_agent == a && tls_user != 0 ? tls_user : a->user_id;
}

static void for_user_begin(const sx_agent *a, int64_t user_id)
{
    tls_agent = a;
    tls_user = user_id;
}

static void for_user_end(void)
{
    tls_agent = NULL;
    tls_user = 0;
}

int64_t sx_agent_default_user(const sx_agent *a) { return a ? a->user_id : 0; }

sx_status sx_agent_user_create(sx_agent *a, int64_t *user_id)
{
    SX_ENSURE(a && user_id, SX_E_USAGE);
    pthread_mutex_lock(&a->mu);
    sx_status st = sx_agent_store_user_create(a->store, user_id);
    pthread_mutex_unlock(&a->mu);
    return st;
}

/* DEL of every receiving queue stored for the connection on its router,
 * held by this agent or not (a->mu held). SX_E_IO when a router did not
 * confirm a deletion. */
static sx_status conn_del_queues(sx_agent *a, const sx_agent_id *id)
{
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, id, &rqs, &nr));
    sx_status st = SX_OK;
    for (size_t j = 0; j < nr; j++)
        if (sx_agent_rq_del_router(a, &rqs[j]) != SX_OK && st == SX_OK)
            st = SX_E_IO;
    if (rqs)
        sx_wipe(rqs, nr * sizeof *rqs); /* the queues' keys */
    free(rqs);
    return st;
}

sx_status sx_agent_user_delete(sx_agent *a, int64_t user_id, bool del_queues)
{
    SX_ENSURE(a && user_id > 0, SX_E_USAGE);
    SX_ENSURE(user_id != a->user_id,
              sx_error_set(SX_E_USAGE, NULL, "agent: the default user cannot be deleted"));
    pthread_mutex_lock(&a->mu);
    sx_agent_conn *conns = NULL;
    size_t nc = 0;
    sx_status st = sx_agent_store_conn_list(a->store, user_id, &conns, &nc);
    sx_status net = SX_OK;
    for (size_t i = 0; i < nc && st == SX_OK; i++) {
        sx_status r = SX_OK;
        if (del_queues)
            r = conn_del_queues(a, &conns[i].id);
        else
            sx_agent_conn_rqs_leave(a, &conns[i].id, true);
        sx_agent_conn_forget(a, &conns[i].id);
        if (r != SX_OK && net == SX_OK)
            net = r;
        st = sx_agent_store_conn_delete(a->store, &conns[i].id);
    }
    free(conns);
    if (st == SX_OK)
        st = sx_agent_store_user_delete(a->store, user_id);
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK && del_queues) {
        sx_agent_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = SX_AGENT_EV_DEL_USER;
        ev.user_id = user_id;
        sx_agent_emit_ev(a, &ev);
    }
    (void)net; /* as sx_agent_delete: a router that kept a queue does not keep the user */
    return st;
}

/* ---- connections made for a user ---- */

sx_status sx_agent_create_invitation_for_user(sx_agent *a, int64_t user_id, const char *server,
                                              char conn_id[SX_AGENT_CONN_ID_TEXT], char **link)
{
    SX_ENSURE(a && user_id > 0, SX_E_USAGE);
    for_user_begin(a, user_id);
    sx_status st = sx_agent_create_invitation(a, server, conn_id, link);
    for_user_end();
    return st;
}

sx_status sx_agent_create_contact_for_user(sx_agent *a, int64_t user_id, const char *server,
                                           char conn_id[SX_AGENT_CONN_ID_TEXT], char **link)
{
    SX_ENSURE(a && user_id > 0, SX_E_USAGE);
    for_user_begin(a, user_id);
    sx_status st = sx_agent_create_contact(a, server, conn_id, link);
    for_user_end();
    return st;
}

sx_status sx_agent_join_for_user(sx_agent *a, int64_t user_id, const char *link,
                                 const char *server, const void *info, size_t info_len,
                                 char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_ENSURE(a && user_id > 0, SX_E_USAGE);
    for_user_begin(a, user_id);
    sx_status st = sx_agent_join(a, link, server, info, info_len, conn_id);
    for_user_end();
    return st;
}

sx_status sx_agent_accept_contact_for_user(sx_agent *a, int64_t user_id, const char *inv_id,
                                           const char *server, const void *info,
                                           size_t info_len, char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_ENSURE(a && user_id > 0, SX_E_USAGE);
    for_user_begin(a, user_id);
    sx_status st = sx_agent_accept_contact(a, inv_id, server, info, info_len, conn_id);
    for_user_end();
    return st;
}

/* ---- per-connection subscriptions ---- */

/* Subscribes the connection's receiving queues (a->mu held): those the
 * agent does not hold join the pool, those it let go (unsubscribed, END,
 * a refused subscription) are subscribed again; its send queues' pending
 * deliveries resume. */
static sx_status subscribe_conn(sx_agent *a, const sx_agent_id *id)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, id, &cn)); /* SX_E_USAGE: no such connection */
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, id, &rqs, &nr));
    sx_status st = SX_OK;
    for (size_t j = 0; j < nr && st == SX_OK; j++) {
        size_t at;
        if (sx_agent_idmap_get(&a->rq_by_id, (uint64_t)rqs[j].queue_id, &at)) {
            sx_agent_rq *rq = &a->rqs[at];
            if (rq->gone) {
                st = sx_smp_tpool_subscribe(a->pool, rq->q);
                if (st == SX_OK)
                    rq->gone = false;
            }
            continue;
        }
        sx_smp_queue *q = NULL;
        st = sx_agent_rq_object(a, &rqs[j], &q);
        if (st == SX_OK)
            st = sx_agent_rq_add(a, rqs[j].queue_id, id, q);
    }
    free(rqs);
    sx_agent_snd_queue *sqs = NULL;
    size_t ns = 0;
    if (st == SX_OK)
        st = sx_agent_store_snd_queue_list(a->store, id, &sqs, &ns);
    for (size_t j = 0; j < ns && st == SX_OK; j++)
        st = sx_agent_sq_add(a, sqs[j].queue_id, id);
    free(sqs);
    return st;
}

/* Unsubscribes the connection's receiving queues (a->mu held): the
 * routers keep their messages for a later subscription. */
static sx_status unsubscribe_conn(sx_agent *a, const sx_agent_id *id)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, id, &cn)); /* SX_E_USAGE: no such connection */
    sx_agent_conn_rqs_leave(a, id, true);
    return SX_OK;
}

static sx_status each_conn(sx_agent *a, const char *const *conn_ids, size_t n, sx_status *results,
                           sx_status (*fn)(sx_agent *, const sx_agent_id *))
{
    SX_ENSURE(a && (conn_ids || n == 0), SX_E_USAGE);
    sx_status first = SX_OK;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < n; i++) {
        sx_agent_id id;
        sx_status st = sx_agent_id_parse(conn_ids[i], &id);
        if (st == SX_OK)
            st = fn(a, &id);
        if (results)
            results[i] = st;
        if (st != SX_OK && first == SX_OK)
            first = st;
    }
    pthread_mutex_unlock(&a->mu);
    return first;
}

sx_status sx_agent_subscribe(sx_agent *a, const char *const *conn_ids, size_t n,
                             sx_status *results)
{
    return each_conn(a, conn_ids, n, results, subscribe_conn);
}

sx_status sx_agent_unsubscribe(sx_agent *a, const char *const *conn_ids, size_t n,
                               sx_status *results)
{
    return each_conn(a, conn_ids, n, results, unsubscribe_conn);
}
