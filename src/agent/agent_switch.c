/* Queue rotation (docs/AGENT.md, "Queue rotation"): the receiver moves its
 * receiving queue to a new one (QADD), the sender answers with its key for
 * it (QKEY), the receiver secures it (KEY) and says to use it (QUSE), the
 * sender tests it (QTEST) and drops the old one; the receiver's first
 * message on the new queue ends its side and the old queue is deleted on
 * its router. The switch status lives on the queue being replaced
 * (store.h); the network steps of the receiver (KEY, DEL) are persisted
 * commands run by the sender thread, so a restart resumes them. */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/keys.h"
#include "crypto/util.h"

#define CMD_SECURE "QSEC" /* body: new queue id (8), the sender's key (DER) */
#define CMD_DELETE "QDEL" /* body: old queue id (8) */

static void emit_switch(sx_agent *a, const sx_agent_id *conn, const char *dir, const char *phase)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_SWITCH;
    sx_agent_id_text(conn, ev.conn);
    snprintf(ev.switch_dir, sizeof ev.switch_dir, "%s", dir);
    snprintf(ev.switch_phase, sizeof ev.switch_phase, "%s", phase);
    sx_agent_emit_ev(a, &ev);
}

static void queue_error(sx_agent *a, const sx_agent_id *conn, const char *what)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_ERR;
    sx_agent_id_text(conn, ev.conn);
    ev.status = SX_E_PROTOCOL;
    snprintf(ev.detail, sizeof ev.detail, "A_QUEUE %s", what);
    sx_agent_emit_ev(a, &ev);
}

static void put_id(uint8_t b[8], int64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
}

static int64_t get_id(const uint8_t b[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return (int64_t)v;
}

/* The stored router of server_id as an address value. */
static sx_status server_of(sx_agent *a, int64_t server_id, sx_agent_server *out)
{
    char text[SX_SMP_SERVER_TEXT_MAX];
    SX_TRY(sx_agent_server_text(a, server_id, text, sizeof text));
    return sx_agent_server_parse(text, strlen(text), out);
}

/* The connection must be established and allowed to send. */
static sx_status check_conn(sx_agent *a, const sx_agent_id *conn)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, conn, &cn));
    if (cn.state != SX_AGENT_CONN_DUPLEX)
        return sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: the connection is not established");
    if (sx_agent_rsync_send_prohibited(cn.rsync))
        return sx_error_set(SX_E_USAGE, "PROHIBITED",
                            "agent: the ratchet is not synchronised: send prohibited");
    return SX_OK;
}

/* ---- the receiver ---- */

static sx_status switch_locked(sx_agent *a, const sx_agent_id *conn, const char *server)
{
    SX_TRY(check_conn(a, conn));
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, conn, &rqs, &nr));
    sx_status st = SX_OK;
    for (size_t i = 0; i < nr && st == SX_OK; i++)
        if (rqs[i].switch_status != SX_AGENT_RSW_NONE || rqs[i].replace_queue_id != 0)
            st = sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: the connection is switching already");
    if (st == SX_OK && nr == 0)
        st = sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: the connection has no receiving queue");
    sx_agent_rcv_queue old;
    if (st == SX_OK)
        old = rqs[0];
    free(rqs);
    SX_TRY(st);
    char own[SX_SMP_SERVER_TEXT_MAX];
    if (!server) {
        SX_TRY(sx_agent_server_text(a, old.server_id, own, sizeof own));
        server = own;
    }
    sx_amessage *qadd = calloc(1, sizeof *qadd);
    sx_agent_msg *m = calloc(1, sizeof *m);
    if (!qadd || !m) {
        free(qadd);
        free(m);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    /* The status first: a failure from here on leaves a switch the user can abort. */
    st = sx_agent_store_rcv_queue_set_switch(a->store, old.queue_id, SX_AGENT_RSW_STARTED);
    int64_t new_id = 0;
    if (st == SX_OK)
        st = sx_agent_new_rcv_queue(a, conn, server, 'M', old.queue_id, &new_id, &m->msg.u.qadd[0].uri.q);
    if (st == SX_OK)
        st = server_of(a, old.server_id, &m->msg.u.qadd[0].replaced.server);
    if (st == SX_OK) {
        m->kind = SX_AGENT_MSG_MESSAGE;
        m->msg.type = SX_AMSG_QADD;
        m->msg.count = 1;
        m->msg.u.qadd[0].uri.vr = sx_smpc_vrange();
        m->msg.u.qadd[0].has_replaced = true;
        memcpy(m->msg.u.qadd[0].replaced.sender_id, old.snd_id, old.snd_id_len);
        m->msg.u.qadd[0].replaced.sender_id_len = old.snd_id_len;
        st = sx_agent_store_begin(a->store);
        if (st == SX_OK) {
            int64_t iid = 0;
            st = sx_agent_enqueue(a, conn, m, NULL, false, &iid);
            if (st == SX_OK)
                st = sx_agent_store_rcv_queue_set_switch(a->store, old.queue_id,
                                                         SX_AGENT_RSW_SENDING_QADD);
            if (st == SX_OK)
                st = sx_agent_store_commit(a->store);
            else
                sx_agent_store_rollback(a->store);
        }
    }
    free(qadd);
    free(m);
    sx_wipe(&old, sizeof old);
    if (st == SX_OK)
        emit_switch(a, conn, "rcv", "started");
    return st;
}

sx_status sx_agent_switch_connection(sx_agent *a, const char *conn_id, const char *server)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = switch_locked(a, &id, server);
    pthread_mutex_unlock(&a->mu);
    return st;
}

static sx_status abort_locked(sx_agent *a, const sx_agent_id *conn)
{
    SX_TRY(check_conn(a, conn));
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, conn, &rqs, &nr));
    sx_status st = SX_OK;
    size_t old = nr;
    for (size_t i = 0; i < nr; i++)
        if (rqs[i].switch_status != SX_AGENT_RSW_NONE)
            old = i;
    if (old == nr || (rqs[old].switch_status != SX_AGENT_RSW_STARTED &&
                      rqs[old].switch_status != SX_AGENT_RSW_SENDING_QADD))
        st = sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: no switch that can be aborted");
    /* The new queue goes (on its router as well as it can), the old stays. */
    for (size_t i = 0; i < nr && st == SX_OK; i++)
        if (rqs[i].replace_queue_id == rqs[old].queue_id) {
            sx_status dst = sx_agent_rq_del_router(a, &rqs[i]);
            (void)dst; /* an orphan queue at worst */
            st = sx_agent_store_rcv_queue_delete(a->store, rqs[i].queue_id);
        }
    if (st == SX_OK)
        st = sx_agent_store_rcv_queue_set_switch(a->store, rqs[old].queue_id, SX_AGENT_RSW_NONE);
    sx_wipe(rqs, nr * sizeof *rqs);
    free(rqs);
    return st;
}

sx_status sx_agent_abort_switch(sx_agent *a, const char *conn_id)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = abort_locked(a, &id);
    pthread_mutex_unlock(&a->mu);
    return st;
}

/* The receiver gets the sender's key for the new queue. */
static void on_qkey(sx_agent *a, const sx_agent_id *conn, const sx_amsg_qkey *k)
{
    if (check_conn(a, conn) != SX_OK) {
        queue_error(a, conn, "ratchet is not synchronized");
        return;
    }
    int64_t server_id = 0;
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    if (sx_agent_server_id(a, &k->info.q.server, &server_id) != SX_OK ||
        sx_agent_store_rcv_queue_list(a->store, conn, &rqs, &nr) != SX_OK) {
        queue_error(a, conn, "QKEY: cannot read the connection");
        return;
    }
    size_t nq = nr, oq = nr;
    for (size_t i = 0; i < nr; i++)
        if (rqs[i].server_id == server_id && rqs[i].snd_id_len == k->info.q.sender_id_len &&
            memcmp(rqs[i].snd_id, k->info.q.sender_id, rqs[i].snd_id_len) == 0)
            nq = i;
    if (nq < nr)
        for (size_t i = 0; i < nr; i++)
            if (rqs[i].queue_id == rqs[nq].replace_queue_id)
                oq = i;
    const char *err = NULL;
    if (nq == nr || rqs[nq].replace_queue_id == 0)
        err = "QKEY: queue address not found in connection";
    else if (rqs[nq].status != SX_AGENT_Q_NEW && rqs[nq].status != SX_AGENT_Q_CONFIRMED)
        err = "QKEY: queue already secured";
    else if (oq == nr || rqs[oq].switch_status != SX_AGENT_RSW_SENDING_QADD)
        err = "QKEY: the switch is not waiting for a key";
    uint8_t secret[32];
    sx_status st = SX_OK;
    if (!err) {
        uint8_t body[8 + 255];
        put_id(body, rqs[nq].queue_id);
        memcpy(body + 8, k->sender_key.der.ptr, k->sender_key.der.len);
        st = sx_agent_e2e_dh(rqs[nq].e2e_priv_key, k->info.q.dh, secret);
        if (st == SX_OK)
            st = sx_agent_store_begin(a->store);
        if (st == SX_OK) {
            int64_t cmd = 0;
            st = sx_agent_store_rcv_queue_set_e2e(a->store, rqs[nq].queue_id, secret);
            if (st == SX_OK)
                st = sx_agent_store_rcv_queue_set_status(a->store, rqs[nq].queue_id,
                                                         SX_AGENT_Q_CONFIRMED);
            if (st == SX_OK)
                st = sx_agent_store_cmd_enqueue(a->store, conn, 0, CMD_SECURE,
                                                sx_slice_of(body, 8 + k->sender_key.der.len), &cmd);
            if (st == SX_OK)
                st = sx_agent_store_commit(a->store);
            else
                sx_agent_store_rollback(a->store);
        }
        sx_wipe(secret, sizeof secret);
    }
    sx_wipe(rqs, nr * sizeof *rqs);
    free(rqs);
    if (err) {
        queue_error(a, conn, err);
    } else if (st != SX_OK) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, conn, 0, st, "QKEY");
    } else {
        emit_switch(a, conn, "rcv", "confirmed");
        a->cmd_pending = true;
        pthread_cond_signal(&a->wake);
    }
}

void sx_agent_switch_on_rcv(sx_agent *a, sx_agent_rq *rq)
{
    sx_agent_rcv_queue row, old;
    if (sx_agent_store_rcv_queue_get(a->store, rq->queue_id, &row) != SX_OK)
        return;
    int64_t replaces = row.replace_queue_id;
    sx_wipe(&row, sizeof row);
    if (replaces == 0)
        return;
    if (sx_agent_store_rcv_queue_get(a->store, replaces, &old) != SX_OK) {
        queue_error(a, &rq->conn, "replaced receive queue not found in connection");
        return;
    }
    sx_agent_rcv_switch sw = old.switch_status;
    sx_wipe(&old, sizeof old);
    if (sw != SX_AGENT_RSW_SENDING_QUSE)
        return; /* a message before we said to use it: nothing to complete */
    uint8_t body[8];
    put_id(body, replaces);
    sx_status st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        int64_t cmd = 0;
        st = sx_agent_store_rcv_queue_set_status(a->store, rq->queue_id, SX_AGENT_Q_ACTIVE);
        if (st == SX_OK)
            st = sx_agent_store_rcv_queue_set_primary(a->store, rq->queue_id);
        if (st == SX_OK)
            st = sx_agent_store_rcv_queue_set_switch(a->store, replaces, SX_AGENT_RSW_RECEIVED_MSG);
        if (st == SX_OK)
            st = sx_agent_store_cmd_enqueue(a->store, &rq->conn, 0, CMD_DELETE,
                                            sx_slice_of(body, sizeof body), &cmd);
        if (st == SX_OK)
            st = sx_agent_store_commit(a->store);
        else
            sx_agent_store_rollback(a->store);
    }
    if (st != SX_OK) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, st, "switch");
        return;
    }
    a->cmd_pending = true;
    pthread_cond_signal(&a->wake);
}

/* KEY on the new queue, then QUSE to the sender. 1 done, 0 retry later. */
static int run_secure(sx_agent *a, const sx_agent_command *c)
{
    if (c->body.len <= 8)
        return 1;
    sx_agent_rcv_queue row;
    if (sx_agent_store_rcv_queue_get(a->store, get_id(c->body.ptr), &row) != SX_OK)
        return 1; /* aborted or the connection is gone */
    sx_agent_rcv_queue old;
    bool go = row.status == SX_AGENT_Q_CONFIRMED && row.replace_queue_id != 0 &&
              sx_agent_store_rcv_queue_get(a->store, row.replace_queue_id, &old) == SX_OK;
    if (go) {
        go = old.switch_status == SX_AGENT_RSW_SENDING_QADD;
        sx_wipe(&old, sizeof old);
    }
    if (!go) {
        sx_wipe(&row, sizeof row);
        return 1;
    }
    sx_smp_queue *q = NULL;
    sx_status st = sx_agent_rq_object(a, &row, &q);
    if (st == SX_OK)
        st = sx_smp_tpool_secure(a->pool, q, c->body.ptr + 8, c->body.len - 8);
    sx_smp_queue_free(q);
    if (st == SX_E_IO || st == SX_E_CLOSED || st == SX_E_WOULD_BLOCK) {
        sx_wipe(&row, sizeof row);
        return 0;
    }
    sx_agent_msg *m = calloc(1, sizeof *m);
    if (st == SX_OK && !m)
        st = SX_E_NOMEM;
    if (st == SX_OK) {
        m->kind = SX_AGENT_MSG_MESSAGE;
        m->msg.type = SX_AMSG_QUSE;
        m->msg.count = 1;
        m->msg.u.quse[0].primary = true;
        memcpy(m->msg.u.quse[0].addr.sender_id, row.snd_id, row.snd_id_len);
        m->msg.u.quse[0].addr.sender_id_len = row.snd_id_len;
        st = server_of(a, row.server_id, &m->msg.u.quse[0].addr.server);
    }
    if (st == SX_OK)
        st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        int64_t iid = 0;
        st = sx_agent_store_rcv_queue_set_status(a->store, row.queue_id, SX_AGENT_Q_SECURED);
        if (st == SX_OK)
            st = sx_agent_enqueue(a, &c->conn_id, m, NULL, false, &iid);
        if (st == SX_OK)
            st = sx_agent_store_rcv_queue_set_switch(a->store, row.replace_queue_id,
                                                     SX_AGENT_RSW_SENDING_QUSE);
        if (st == SX_OK)
            st = sx_agent_store_commit(a->store);
        else
            sx_agent_store_rollback(a->store);
    }
    free(m);
    sx_wipe(&row, sizeof row);
    if (st == SX_OK)
        emit_switch(a, &c->conn_id, "rcv", "secured");
    else
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &c->conn_id, 0, st, "switch: secure the new queue");
    return 1;
}

/* DEL of the old queue, then it goes from the store. */
static int run_delete(sx_agent *a, const sx_agent_command *c)
{
    if (c->body.len != 8)
        return 1;
    sx_agent_rcv_queue row;
    if (sx_agent_store_rcv_queue_get(a->store, get_id(c->body.ptr), &row) != SX_OK)
        return 1;
    if (row.switch_status != SX_AGENT_RSW_RECEIVED_MSG) {
        sx_wipe(&row, sizeof row);
        return 1;
    }
    sx_status st = sx_agent_rq_del_router(a, &row);
    if (st == SX_E_IO || st == SX_E_CLOSED || st == SX_E_WOULD_BLOCK) {
        /* The record left the pool; a retry builds a new object. */
        sx_wipe(&row, sizeof row);
        return 0;
    }
    /* Another error (the router has no such queue): it is gone either way. */
    sx_status dst = sx_agent_store_rcv_queue_delete(a->store, row.queue_id);
    sx_wipe(&row, sizeof row);
    if (dst == SX_OK)
        emit_switch(a, &c->conn_id, "rcv", "completed");
    else
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &c->conn_id, 0, dst, "switch: delete the old queue");
    return 1;
}

int sx_agent_switch_cmd(sx_agent *a, const sx_agent_command *c)
{
    if (strcmp(c->tag, CMD_SECURE) == 0)
        return run_secure(a, c);
    if (strcmp(c->tag, CMD_DELETE) == 0)
        return run_delete(a, c);
    return -1;
}

/* ---- the sender ---- */

/* The DER of our raw X25519 public key. */
static sx_status e2e_pub_der(const uint8_t raw[32], uint8_t der[SX_X25519_SPKI_LEN])
{
    sx_key *k = NULL;
    SX_TRY(sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(raw, 32), &k));
    sx_writer w;
    sx_writer_init_fixed(&w, der, SX_X25519_SPKI_LEN);
    bool ok = sx_key_write_public(&w, k) && w.len == SX_X25519_SPKI_LEN;
    sx_key_free(k);
    return ok ? SX_OK : sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot encode a queue key");
}

/* Finds the send queue of conn at addr: its index in sqs or ns. */
static size_t find_sq(sx_agent *a, const sx_agent_snd_queue *sqs, size_t ns,
                      const sx_agent_qaddr *addr)
{
    int64_t server_id = 0;
    if (sx_agent_server_id(a, &addr->server, &server_id) != SX_OK)
        return ns;
    for (size_t i = 0; i < ns; i++)
        if (sqs[i].server_id == server_id && sqs[i].snd_id_len == addr->sender_id_len &&
            memcmp(sqs[i].snd_id, addr->sender_id, addr->sender_id_len) == 0)
            return i;
    return ns;
}

static size_t find_sq_by_id(const sx_agent_snd_queue *sqs, size_t ns, int64_t id)
{
    for (size_t i = 0; i < ns; i++)
        if (sqs[i].queue_id == id)
            return i;
    return ns;
}

/* QADD: a send queue to the new address, and QKEY with its keys over the
 * old queue. */
static const char *qadd_locked(sx_agent *a, const sx_agent_id *conn, const sx_amsg_qadd *qa,
                               sx_agent_snd_queue *sqs, size_t ns, sx_status *st)
{
    if (!qa->has_replaced)
        return "adding queue without switching is not supported";
    uint16_t smpc_v = 0;
    if (!sx_vrange_common_max(qa->uri.vr, sx_smpc_vrange(), &smpc_v))
        return "QADD: the queue's versions are not ours";
    sx_agent_qaddr naddr;
    memset(&naddr, 0, sizeof naddr);
    naddr.server = qa->uri.q.server;
    memcpy(naddr.sender_id, qa->uri.q.sender_id, qa->uri.q.sender_id_len);
    naddr.sender_id_len = qa->uri.q.sender_id_len;
    if (find_sq(a, sqs, ns, &naddr) < ns)
        return "QADD: queue address is already used in connection";
    size_t old = find_sq(a, sqs, ns, &qa->replaced);
    if (old == ns)
        return "QADD: replaced queue address is not found in connection";
    sx_agent_msg *m = calloc(1, sizeof *m);
    if (!m) {
        *st = SX_E_NOMEM;
        return NULL;
    }
    *st = sx_agent_store_begin(a->store);
    if (*st != SX_OK) {
        free(m);
        return NULL;
    }
    /* An earlier switch of the same queue that did not finish: its queue goes. */
    for (size_t i = 0; i < ns && *st == SX_OK; i++)
        if (sqs[i].replace_queue_id == sqs[old].queue_id)
            *st = sx_agent_store_snd_queue_delete(a->store, sqs[i].queue_id);
    int64_t nid = 0;
    sx_smp_queue *q = NULL;
    if (*st == SX_OK)
        *st = sx_agent_new_snd_queue(a, conn, &qa->uri.q, smpc_v, sqs[old].queue_id, &nid, &q);
    sx_agent_snd_queue row;
    if (*st == SX_OK)
        *st = sx_agent_store_snd_queue_get(a->store, nid, &row);
    uint8_t key[SX_SMP_DH_KEY_MAX];
    size_t key_len = 0;
    if (*st == SX_OK)
        *st = sx_smp_queue_sender_public_key(q, key, sizeof key, &key_len);
    sx_smp_queue_free(q);
    if (*st == SX_OK) {
        m->kind = SX_AGENT_MSG_MESSAGE;
        m->msg.type = SX_AMSG_QKEY;
        m->msg.count = 1;
        sx_amsg_qkey *k = &m->msg.u.qkey[0];
        k->info.version = smpc_v;
        k->info.q = qa->uri.q;
        *st = e2e_pub_der(row.e2e_pub_key, k->info.q.dh);
        k->sender_key.der = sx_slice_of(key, key_len);
        if (*st == SX_OK)
            *st = sx_key_check_public(k->sender_key.der, SX_KEY_AUTH_ALGS, &k->sender_key.alg);
        sx_wipe(&row, sizeof row);
    }
    /* QKEY goes over the queues in use (not the new one: it waits for QUSE). */
    int64_t ids[8];
    size_t n = 0;
    for (size_t i = 0; i < ns && n < 8; i++)
        if (sqs[i].replace_queue_id != sqs[old].queue_id)
            ids[n++] = sqs[i].queue_id;
    int64_t iid = 0;
    if (*st == SX_OK)
        *st = sx_agent_enqueue_on(a, conn, m, ids, n, &iid);
    if (*st == SX_OK)
        *st = sx_agent_store_snd_queue_set_switch(a->store, sqs[old].queue_id,
                                                  SX_AGENT_SSW_SENDING_QKEY);
    if (*st == SX_OK)
        *st = sx_agent_store_commit(a->store);
    else
        sx_agent_store_rollback(a->store);
    free(m);
    if (*st == SX_OK)
        emit_switch(a, conn, "snd", "started");
    return NULL;
}

/* QUSE: the new queue is secured; QTEST on it alone. */
static const char *quse_locked(sx_agent *a, const sx_agent_id *conn, const sx_amsg_quse *u,
                               sx_agent_snd_queue *sqs, size_t ns, sx_status *st)
{
    size_t nq = find_sq(a, sqs, ns, &u->addr);
    if (nq == ns || sqs[nq].replace_queue_id == 0)
        return "QUSE: switched queue address not found in connection";
    size_t old = find_sq_by_id(sqs, ns, sqs[nq].replace_queue_id);
    if (old == ns || sqs[old].switch_status != SX_AGENT_SSW_SENDING_QKEY)
        return "QUSE: switching SndQueue not found in connection";
    sx_agent_msg *m = calloc(1, sizeof *m);
    if (!m) {
        *st = SX_E_NOMEM;
        return NULL;
    }
    m->kind = SX_AGENT_MSG_MESSAGE;
    m->msg.type = SX_AMSG_QTEST;
    m->msg.count = 1;
    m->msg.u.qtest[0] = u->addr;
    *st = sx_agent_store_begin(a->store);
    if (*st == SX_OK) {
        int64_t iid = 0;
        *st = sx_agent_store_snd_queue_set_status(a->store, sqs[nq].queue_id, SX_AGENT_Q_SECURED);
        if (*st == SX_OK)
            *st = sx_agent_enqueue_on(a, conn, m, &sqs[nq].queue_id, 1, &iid);
        if (*st == SX_OK)
            *st = sx_agent_store_snd_queue_set_switch(a->store, sqs[old].queue_id,
                                                      SX_AGENT_SSW_SENDING_QTEST);
        if (*st == SX_OK)
            *st = sx_agent_store_commit(a->store);
        else
            sx_agent_store_rollback(a->store);
    }
    free(m);
    if (*st == SX_OK)
        emit_switch(a, conn, "snd", "secured");
    return NULL;
}

void sx_agent_switch_on_msg(sx_agent *a, sx_agent_rq *rq, const sx_amessage *m)
{
    const sx_agent_id *conn = &rq->conn;
    if (m->count == 0)
        return;
    if (m->type == SX_AMSG_QKEY) {
        on_qkey(a, conn, &m->u.qkey[0]);
        return;
    }
    if (check_conn(a, conn) != SX_OK) {
        queue_error(a, conn, "ratchet is not synchronized");
        return;
    }
    sx_agent_snd_queue *sqs = NULL;
    size_t ns = 0;
    if (sx_agent_store_snd_queue_list(a->store, conn, &sqs, &ns) != SX_OK) {
        queue_error(a, conn, "cannot read the connection");
        return;
    }
    sx_status st = SX_OK;
    const char *err = m->type == SX_AMSG_QADD ? qadd_locked(a, conn, &m->u.qadd[0], sqs, ns, &st)
                                              : quse_locked(a, conn, &m->u.quse[0], sqs, ns, &st);
    sx_wipe(sqs, ns * sizeof *sqs);
    free(sqs);
    if (err)
        queue_error(a, conn, err);
    else if (st != SX_OK)
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, conn, 0, st, "switch");
}

void sx_agent_switch_on_sent(sx_agent *a, const sx_agent_id *conn, int64_t queue_id,
                             uint8_t msg_type)
{
    if (msg_type == SX_AGENT_SND_QKEY) {
        emit_switch(a, conn, "snd", "confirmed");
        return;
    }
    /* QTEST reached the new queue: it takes the old one's place. */
    sx_agent_snd_queue row, old;
    if (sx_agent_store_snd_queue_get(a->store, queue_id, &row) != SX_OK)
        return;
    int64_t replaces = row.replace_queue_id;
    sx_wipe(&row, sizeof row);
    if (replaces == 0 || sx_agent_store_snd_queue_get(a->store, replaces, &old) != SX_OK)
        return;
    sx_agent_snd_switch sw = old.switch_status;
    sx_wipe(&old, sizeof old);
    if (sw != SX_AGENT_SSW_SENDING_QTEST)
        return;
    sx_status st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = sx_agent_store_snd_queue_set_primary(a->store, queue_id);
        if (st == SX_OK)
            st = sx_agent_store_snd_queue_delete(a->store, replaces);
        if (st == SX_OK)
            st = sx_agent_store_commit(a->store);
        else
            sx_agent_store_rollback(a->store);
    }
    if (st == SX_OK)
        emit_switch(a, conn, "snd", "completed");
    else
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, conn, 0, st, "switch: drop the old queue");
}
