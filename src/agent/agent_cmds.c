/* Persisted asynchronous commands (agent_cmds.h; docs/AGENT.md, "Commands
 * and crashes"). The joiner's and the initiator's network steps of the
 * handshake (also a contact requester's, agent_contact.c, and a legacy
 * joiner's KEY and HELLO) run from a `commands` row stored with their keys, so a crash
 * between two steps is taken up at the next open instead of asking the
 * application to join again (which would make new keys). Each step looks at
 * the store first and is skipped when it was done (a queue already secured,
 * a reply queue already made); a repeated SKEY or KEY with the same key is
 * accepted by the router. The last step stores the message and deletes the
 * command in one transaction, so the confirmation is queued exactly once. */
#include "agent/agent_cmds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "crypto/util.h"

/* Command bodies start with their format's version. */
#define CMD_BODY_V 1

/* A command this process holds (taken in the store). */
typedef struct held_cmd {
    sx_agent_command c;
    int64_t next_try_ms;
    unsigned delay_ms;
    int64_t first_fail_ms;
} held_cmd;

struct sx_agent_cmdq {
    held_cmd *v;
    size_t n, cap;
};

void sx_agent_crash_point(const char *name)
{
    const char *at = getenv("SX_AGENT_CRASH_AT");
    if (at != NULL && strcmp(at, name) == 0)
        _exit(86);
}

static bool retryable(sx_status st)
{
    return st == SX_E_IO || st == SX_E_CLOSED || st == SX_E_WOULD_BLOCK;
}

/* ---- the held list ---- */

static sx_status hold(sx_agent *a, sx_agent_command *c)
{
    if (a->cmdq == NULL && (a->cmdq = calloc(1, sizeof *a->cmdq)) == NULL)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    struct sx_agent_cmdq *q = a->cmdq;
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 4;
        held_cmd *v = realloc(q->v, nc * sizeof *v);
        if (v == NULL)
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        q->v = v;
        q->cap = nc;
    }
    held_cmd *h = &q->v[q->n++];
    memset(h, 0, sizeof *h);
    h->c = *c;
    memset(c, 0, sizeof *c);
    return SX_OK;
}

static held_cmd *held_by_id(sx_agent *a, int64_t id, size_t *at)
{
    for (size_t i = 0; a->cmdq && i < a->cmdq->n; i++)
        if (a->cmdq->v[i].c.command_id == id) {
            *at = i;
            return &a->cmdq->v[i];
        }
    return NULL;
}

static void unhold(sx_agent *a, size_t i)
{
    struct sx_agent_cmdq *q = a->cmdq;
    sx_wipe(q->v[i].c.body.ptr, q->v[i].c.body.len);
    sx_agent_command_cleanup(&q->v[i].c);
    q->v[i] = q->v[--q->n];
}

/* ---- storing ---- */

sx_status sx_agent_cmd_store(sx_agent *a, const sx_agent_id *conn, const char *tag, sx_writer *w,
                             int64_t *command_id)
{
    sx_status st = sx_writer_status(w);
    if (st == SX_OK)
        st = sx_agent_store_cmd_enqueue(a->store, conn, 0, tag, sx_writer_slice(w), command_id);
    if (st == SX_OK && *command_id == 0)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: the connection is gone");
    if (st == SX_OK)
        st = sx_agent_store_cmd_set_taken(a->store, *command_id, true);
    if (st == SX_OK && a->async_corr != NULL)
        st = sx_agent_store_cmd_corr_set(a->store, *command_id, a->async_corr);
    sx_agent_command c;
    memset(&c, 0, sizeof c);
    if (st == SX_OK) {
        if (a->async_corr != NULL)
            snprintf(c.corr_id, sizeof c.corr_id, "%s", a->async_corr);
        c.command_id = *command_id;
        c.conn_id = *conn;
        memcpy(c.tag, tag, strlen(tag));
        size_t n = 0;
        c.body.ptr = sx_writer_take(w, &n);
        c.body.len = n;
        if (c.body.ptr == NULL)
            st = sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    /* Held in memory now; a caller whose transaction fails drops it
     * (sx_agent_cmd_drop). */
    if (st == SX_OK)
        st = hold(a, &c);
    sx_agent_command_cleanup(&c);
    sx_writer_cleanup(w);
    return st;
}

sx_status sx_agent_cmd_join_store(sx_agent *a, const sx_agent_id *conn, int64_t sqid,
                                  uint16_t smpc_v, bool fast, const char *server,
                                  const sx_e2e_params *pub, sx_slice info, int64_t *command_id)
{
    uint8_t e2eb[4096];
    sx_writer ew;
    sx_writer_init_fixed(&ew, e2eb, sizeof e2eb);
    if (!sx_e2e_params_write(&ew, pub))
        return sx_writer_status(&ew);
    size_t slen = strlen(server);
    SX_ENSURE(slen <= 0xFFFF, sx_error_set(SX_E_LIMIT, NULL, "agent: router address too long"));
    sx_writer w;
    sx_writer_init_dynamic(&w, 70000);
    if (sx_write_u8(&w, CMD_BODY_V) && sx_write_i64(&w, sqid) && sx_write_u16(&w, smpc_v) &&
        sx_write_u8(&w, fast ? 1 : 0) &&
        sx_write_large(&w, sx_slice_of((const uint8_t *)server, slen)) &&
        sx_write_large(&w, sx_writer_slice(&ew)))
        (void)sx_write_large(&w, info);
    return sx_agent_cmd_store(a, conn, SX_AGENT_CMD_JOIN, &w, command_id);
}

sx_status sx_agent_cmd_allow_store(sx_agent *a, const sx_agent_id *conn, int64_t sqid, bool fast,
                                   sx_slice sender_key, sx_slice info, int64_t *command_id)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 70000);
    if (sx_write_u8(&w, CMD_BODY_V) && sx_write_i64(&w, sqid) && sx_write_u8(&w, fast ? 1 : 0) &&
        sx_write_large(&w, sender_key))
        (void)sx_write_large(&w, info);
    return sx_agent_cmd_store(a, conn, SX_AGENT_CMD_ALLOW, &w, command_id);
}

sx_status sx_agent_cmd_hello_store(sx_agent *a, const sx_agent_id *conn, int64_t rqid,
                                   sx_slice sender_key, int64_t *command_id)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 1024);
    if (sx_write_u8(&w, CMD_BODY_V) && sx_write_i64(&w, rqid))
        (void)sx_write_large(&w, sender_key);
    return sx_agent_cmd_store(a, conn, SX_AGENT_CMD_HELLO, &w, command_id);
}

/* ---- the steps ---- */

static sx_status bad_body(void)
{
    return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored command does not decode");
}

/* SKEY of send queue sqid unless it is secured already. */
static sx_status secure_snd(sx_agent *a, int64_t sqid, const char *point)
{
    sx_agent_snd_queue row;
    SX_TRY(sx_agent_store_snd_queue_get(a->store, sqid, &row));
    sx_status st = SX_OK;
    if (row.status == SX_AGENT_Q_NEW) {
        sx_smp_queue *q = NULL;
        st = sx_agent_sq_object(a, &row, true, &q);
        if (st == SX_OK)
            st = sx_smp_tpool_secure_sender(a->pool, q);
        sx_smp_queue_free(q);
        if (st == SX_OK) {
            sx_agent_crash_point(point);
            st = sx_agent_store_snd_queue_set_status(a->store, sqid, SX_AGENT_Q_SECURED);
        }
    }
    sx_wipe(&row, sizeof row);
    return st;
}

/* The address for the peer of our receiving queue row. */
sx_status sx_agent_rq_address(sx_agent *a, const sx_agent_rcv_queue *row, sx_agent_queue *qa)
{
    memset(qa, 0, sizeof *qa);
    SX_TRY(sx_agent_server_of(a, row->server_id, &qa->server));
    SX_ENSURE(row->snd_id_len == SX_SMP_QUEUE_ID_LEN,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored queue id has a bad length"));
    memcpy(qa->sender_id, row->snd_id, SX_SMP_QUEUE_ID_LEN);
    qa->sender_id_len = SX_SMP_QUEUE_ID_LEN;
    SX_TRY(sx_agent_e2e_pub_der(row->e2e_priv_key, qa->dh));
    qa->mode = row->queue_mode == 'M'   ? SX_QUEUE_MODE_MESSAGING
               : row->queue_mode == 'C' ? SX_QUEUE_MODE_CONTACT
                                        : SX_QUEUE_MODE_NONE;
    return SX_OK;
}

/* Stores message m (and the state, when not 0) and deletes the command in
 * one transaction: the message is queued once, whoever runs the command. */
static sx_status finish(sx_agent *a, const sx_agent_command *c, const sx_agent_msg *m,
                        const sx_e2e_params *e2e, int state)
{
    SX_TRY(sx_agent_store_begin(a->store));
    sx_status st = SX_OK;
    if (state != 0)
        st = sx_agent_store_conn_set_state(a->store, &c->conn_id, (sx_agent_conn_state)state);
    int64_t iid = 0;
    if (st == SX_OK)
        st = sx_agent_enqueue(a, &c->conn_id, m, e2e, true, &iid);
    if (st == SX_OK)
        st = sx_agent_store_cmd_complete(a->store, c->command_id);
    if (st == SX_OK)
        st = sx_agent_store_commit(a->store);
    else
        sx_agent_store_rollback(a->store);
    return st;
}

static sx_status run_join(sx_agent *a, const sx_agent_command *c)
{
    sx_reader rd;
    sx_reader_init(&rd, c->body.ptr, c->body.len);
    uint8_t v = 0, fast = 0;
    int64_t sqid = 0;
    uint16_t smpc_v = 0;
    sx_slice server = {0}, e2eb = {0}, info = {0};
    if (!sx_read_u8(&rd, &v) || v != CMD_BODY_V || !sx_read_i64(&rd, &sqid) ||
        !sx_read_u16(&rd, &smpc_v) || !sx_read_u8(&rd, &fast) || !sx_read_large(&rd, &server) ||
        !sx_read_large(&rd, &e2eb) || !sx_read_large(&rd, &info) || rd.off != rd.len ||
        server.len == 0 || server.len >= SX_SMP_SERVER_TEXT_MAX)
        return bad_body();
    sx_e2e_params pub;
    SX_TRY(sx_e2e_params_decode(e2eb, &pub));
    char srv[SX_SMP_SERVER_TEXT_MAX];
    memcpy(srv, server.ptr, server.len);
    srv[server.len] = '\0';

    if (fast)
        SX_TRY(secure_snd(a, sqid, "join-skey"));
    sx_agent_crash_point("join-secured");

    /* The reply queue: made once (a crash after NEW's answer was stored
     * finds it; one whose answer was lost is an orphan on the router). */
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, &c->conn_id, &rqs, &nr));
    sx_status st = SX_OK;
    if (nr == 0) {
        free(rqs);
        rqs = NULL;
        int64_t rqid = 0;
        st = sx_agent_new_rcv_queue(a, &c->conn_id, srv, sx_agent_inv_queue_mode(a), 0, &rqid,
                                    NULL);
        if (st == SX_OK)
            sx_agent_crash_point("join-reply");
        if (st == SX_OK)
            st = sx_agent_store_rcv_queue_list(a->store, &c->conn_id, &rqs, &nr);
        if (st == SX_OK && nr == 0)
            st = sx_error_set(SX_E_INTERNAL, NULL, "agent: the reply queue is not stored");
    }
    sx_agent_msg m;
    memset(&m, 0, sizeof m);
    m.kind = SX_AGENT_MSG_CONN_INFO_REPLY;
    m.reply_count = 1;
    m.reply[0].version = smpc_v;
    if (st == SX_OK)
        st = sx_agent_rq_address(a, &rqs[0], &m.reply[0].q);
    if (rqs)
        sx_wipe(rqs, nr * sizeof *rqs);
    free(rqs);
    SX_TRY(st);
    m.info = info;
    SX_TRY(finish(a, c, &m, &pub, SX_AGENT_CONN_SND));
    sx_agent_crash_point("join-done");
    return SX_OK;
}

static sx_status run_allow(sx_agent *a, const sx_agent_command *c)
{
    sx_reader rd;
    sx_reader_init(&rd, c->body.ptr, c->body.len);
    uint8_t v = 0, fast = 0;
    int64_t sqid = 0;
    sx_slice skey = {0}, info = {0};
    if (!sx_read_u8(&rd, &v) || v != CMD_BODY_V || !sx_read_i64(&rd, &sqid) ||
        !sx_read_u8(&rd, &fast) || !sx_read_large(&rd, &skey) || !sx_read_large(&rd, &info) ||
        rd.off != rd.len)
        return bad_body();
    if (skey.len > 0) {
        /* The legacy handshake: KEY on our queue with the joiner's key. */
        sx_agent_rcv_queue *rqs = NULL;
        size_t nr = 0;
        SX_TRY(sx_agent_store_rcv_queue_list(a->store, &c->conn_id, &rqs, &nr));
        int64_t rqid = nr > 0 ? rqs[0].queue_id : 0;
        bool secured = nr > 0 && rqs[0].status >= SX_AGENT_Q_SECURED;
        sx_wipe(rqs, nr * sizeof *rqs);
        free(rqs);
        SX_ENSURE(nr > 0, sx_error_set(SX_E_INTERNAL, NULL, "agent: no receiving queue"));
        if (!secured)
            SX_TRY(sx_agent_rq_secure(a, rqid, skey));
        sx_agent_crash_point("allow-key");
    }
    if (fast)
        SX_TRY(secure_snd(a, sqid, "allow-skey"));
    sx_agent_crash_point("allow-secured");
    sx_agent_msg m;
    memset(&m, 0, sizeof m);
    m.kind = SX_AGENT_MSG_CONN_INFO;
    m.info = info;
    SX_TRY(finish(a, c, &m, NULL, 0));
    sx_agent_crash_point("allow-done");
    return SX_OK;
}

/* The legacy joiner, after the inviter's confirmation: KEY on our queue
 * with the inviter's key (unless done), then HELLO queued with the
 * command's deletion. CON follows the inviter's HELLO (agent_msgflow.c). */
static sx_status run_hello(sx_agent *a, const sx_agent_command *c)
{
    sx_reader rd;
    sx_reader_init(&rd, c->body.ptr, c->body.len);
    uint8_t v = 0;
    int64_t rqid = 0;
    sx_slice skey = {0};
    if (!sx_read_u8(&rd, &v) || v != CMD_BODY_V || !sx_read_i64(&rd, &rqid) ||
        !sx_read_large(&rd, &skey) || rd.off != rd.len || skey.len == 0)
        return bad_body();
    sx_agent_rcv_queue row;
    SX_TRY(sx_agent_store_rcv_queue_get(a->store, rqid, &row));
    bool secured = row.status >= SX_AGENT_Q_SECURED;
    sx_wipe(&row, sizeof row);
    if (!secured)
        SX_TRY(sx_agent_rq_secure(a, rqid, skey));
    sx_agent_crash_point("hello-key");
    sx_agent_msg m;
    memset(&m, 0, sizeof m);
    m.kind = SX_AGENT_MSG_MESSAGE;
    m.msg.type = SX_AMSG_HELLO;
    SX_TRY(finish(a, c, &m, NULL, 0));
    sx_agent_crash_point("hello-done");
    return SX_OK;
}

static sx_status run(sx_agent *a, const sx_agent_command *c)
{
    if (strcmp(c->tag, SX_AGENT_CMD_HELLO) == 0)
        return run_hello(a, c);
    if (strcmp(c->tag, SX_AGENT_CMD_CONTACT) == 0)
        return sx_agent_contact_run(a, c);
    if (strcmp(c->tag, SX_AGENT_CMD_JOIN) == 0)
        return run_join(a, c);
    if (strcmp(c->tag, SX_AGENT_CMD_ALLOW) == 0)
        return run_allow(a, c);
    if (strcmp(c->tag, SX_AGENT_CMD_NEW) == 0)
        return sx_agent_async_run_new(a, c);
    if (strcmp(c->tag, SX_AGENT_CMD_ACK) == 0)
        return sx_agent_async_run_ack(a, c);
    if (strcmp(c->tag, SX_AGENT_CMD_QDEL) == 0)
        return sx_agent_qdel_run(a, c);
    int sw = sx_agent_switch_cmd(a, c);
    if (sw == 1)
        return SX_OK;
    if (sw == 0)
        return sx_error_set(SX_E_IO, NULL, "agent: the router of a queue switch step cannot be reached");
    return sx_error_set(SX_E_PROTOCOL, NULL, "agent: an unknown stored command '%s'", c->tag);
}

/* One attempt of held command i: done (dropped), or failed for good
 * (dropped, *err when the caller reports it), or kept with a back-off as
 * the deliveries' (the first retry after send_retry_ms, then x1.5 once
 * failing for 10 s, at most 120 s; the interval is stored with the row and
 * an agent opened again goes on from it). Returns the attempt's status. */
static sx_status attempt(sx_agent *a, size_t i)
{
    held_cmd *h = &a->cmdq->v[i];
    sx_status st = run(a, &h->c);
    if (st == SX_OK) {
        /* an asynchronous call's end (NEW reports INV itself) */
        if (h->c.corr_id[0] != '\0' && strcmp(h->c.tag, SX_AGENT_CMD_NEW) != 0) {
            bool joined = strcmp(h->c.tag, SX_AGENT_CMD_JOIN) == 0 ||
                          strcmp(h->c.tag, SX_AGENT_CMD_CONTACT) == 0;
            sx_agent_emit_corr(a, joined ? SX_AGENT_EV_JOINED : SX_AGENT_EV_OK, &h->c.conn_id,
                               h->c.corr_id, sx_slice_of(NULL, 0), SX_OK);
        }
        unhold(a, i);
        return SX_OK;
    }
    if (retryable(st)) {
        int64_t now = sx_agent_now_ms();
        if (h->delay_ms == 0 && h->c.retry_ms > 0) {
            /* stored by an earlier process: go on from it, growing now */
            h->delay_ms = h->c.retry_ms > 120000 ? 120000 : h->c.retry_ms;
            h->first_fail_ms = now - 10000;
        } else if (h->delay_ms == 0) {
            h->delay_ms = a->opts.send_retry_ms;
            h->first_fail_ms = now;
        } else if (now - h->first_fail_ms >= 10000) {
            unsigned d = h->delay_ms + h->delay_ms / 2;
            h->delay_ms = d > 120000 ? 120000 : d;
        }
        h->next_try_ms = now + h->delay_ms;
        /* kept for the next process (migration 7) */
        sx_status rst = sx_agent_store_cmd_retry_set(a->store, h->c.command_id, h->delay_ms);
        (void)rst;
        return st;
    }
    /* For good: the command goes (if its row is still there); a join's
     * (of an invitation or a contact address) is parked instead, with the
     * e2e parameters its keys need, for the application's retry of the
     * same link (sx_agent_cmd_join_again, sx_agent_cmd_contact_again). */
    bool park = strcmp(h->c.tag, SX_AGENT_CMD_JOIN) == 0 ||
                strcmp(h->c.tag, SX_AGENT_CMD_CONTACT) == 0;
    sx_status dst = park ? sx_agent_store_cmd_park(a->store, h->c.command_id)
                         : sx_agent_store_cmd_complete(a->store, h->c.command_id);
    (void)dst;
    unhold(a, i);
    return st;
}

/* A parked JOIN's body with the router of the reply queue (server, NULL:
 * the stored one) and the info replaced; the keys' parts kept. */
static sx_status join_body_again(sx_slice body, const char *server, sx_slice info, sx_writer *w)
{
    sx_reader rd;
    sx_reader_init(&rd, body.ptr, body.len);
    uint8_t v = 0, fast = 0;
    int64_t sqid = 0;
    uint16_t smpc_v = 0;
    sx_slice old_server = {0}, e2eb = {0}, old_info = {0};
    if (!sx_read_u8(&rd, &v) || v != CMD_BODY_V || !sx_read_i64(&rd, &sqid) ||
        !sx_read_u16(&rd, &smpc_v) || !sx_read_u8(&rd, &fast) ||
        !sx_read_large(&rd, &old_server) || !sx_read_large(&rd, &e2eb) ||
        !sx_read_large(&rd, &old_info) || rd.off != rd.len)
        return bad_body();
    sx_slice srv = server ? sx_slice_of((const uint8_t *)server, strlen(server)) : old_server;
    SX_ENSURE(srv.len > 0 && srv.len < SX_SMP_SERVER_TEXT_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: router address too long"));
    if (sx_write_u8(w, CMD_BODY_V) && sx_write_i64(w, sqid) && sx_write_u16(w, smpc_v) &&
        sx_write_u8(w, fast) && sx_write_large(w, srv) && sx_write_large(w, e2eb))
        (void)sx_write_large(w, info);
    return sx_writer_status(w);
}

/* The body of a parked command of conn with this call's router and info:
 * by its tag. */
static sx_status body_again(const char *tag, sx_slice body, const char *server, sx_slice info,
                            sx_writer *w)
{
    if (strcmp(tag, SX_AGENT_CMD_JOIN) == 0)
        return join_body_again(body, server, info, w);
    return sx_agent_contact_body_again(body, server, info, w);
}

static sx_status cmd_again(sx_agent *a, const sx_agent_id *conn, const char *tag,
                           const char *server, sx_slice info, bool *had);

sx_status sx_agent_cmd_join_again(sx_agent *a, const sx_agent_id *conn, const char *server,
                                  sx_slice info, bool *had)
{
    return cmd_again(a, conn, SX_AGENT_CMD_JOIN, server, info, had);
}

sx_status sx_agent_cmd_contact_again(sx_agent *a, const sx_agent_id *conn, const char *server,
                                     sx_slice info, bool *had)
{
    return cmd_again(a, conn, SX_AGENT_CMD_CONTACT, server, info, had);
}

static sx_status cmd_again(sx_agent *a, const sx_agent_id *conn, const char *tag,
                           const char *server, sx_slice info, bool *had)
{
    *had = false;
    /* Held by this process and waiting for its retry: try it now. */
    for (size_t i = 0; a->cmdq && i < a->cmdq->n; i++) {
        held_cmd *h = &a->cmdq->v[i];
        if (memcmp(h->c.conn_id.b, conn->b, sizeof conn->b) == 0 &&
            strcmp(h->c.tag, tag) == 0) {
            *had = true;
            h->next_try_ms = 0;
            return sx_agent_cmd_run_now(a, h->c.command_id);
        }
    }
    sx_agent_command c;
    int taken = 0;
    bool found = false;
    SX_TRY(sx_agent_store_cmd_find(a->store, conn, tag, &c, &taken, &found));
    if (!found)
        return SX_OK;
    *had = true;
    if (taken != 2) {
        /* pending or held by another process on the store: it goes on there */
        sx_agent_command_cleanup(&c);
        return SX_OK;
    }
    /* Parked after failing for good: stored again with this call's router
     * and info, the same keys and e2e parameters, and run. */
    sx_writer w;
    sx_writer_init_dynamic(&w, 70000);
    sx_status st = body_again(tag, sx_slice_of(c.body.ptr, c.body.len), server, info, &w);
    int64_t cmd = 0;
    if (st == SX_OK)
        st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = sx_agent_store_cmd_complete(a->store, c.command_id);
        if (st == SX_OK)
            st = sx_agent_cmd_store(a, conn, tag, &w, &cmd);
        st = sx_agent_cmd_tx_end(a, st, cmd);
    }
    sx_writer_cleanup(&w);
    sx_wipe(c.body.ptr, c.body.len);
    sx_agent_command_cleanup(&c);
    SX_TRY(st);
    return sx_agent_cmd_run_now(a, cmd);
}

void sx_agent_cmd_defer(sx_agent *a, int64_t command_id)
{
    size_t i = 0;
    held_cmd *h = held_by_id(a, command_id, &i);
    if (h == NULL)
        return;
    int64_t now = sx_agent_now_ms();
    h->delay_ms = a->opts.send_retry_ms;
    h->first_fail_ms = now;
    h->next_try_ms = now + h->delay_ms;
    pthread_cond_broadcast(&a->wake);
}

sx_status sx_agent_cmd_set_body(sx_agent *a, int64_t command_id, sx_slice body)
{
    size_t i = 0;
    held_cmd *h = held_by_id(a, command_id, &i);
    SX_ENSURE(h != NULL, sx_error_set(SX_E_INTERNAL, NULL, "agent: the command is not held"));
    SX_ENSURE(body.len <= h->c.body.len,
              sx_error_set(SX_E_INTERNAL, NULL, "agent: a command's body grows"));
    SX_TRY(sx_agent_store_cmd_body_set(a->store, command_id, body));
    memcpy(h->c.body.ptr, body.ptr, body.len);
    h->c.body.len = body.len;
    return SX_OK;
}

sx_status sx_agent_cmd_tx_end(sx_agent *a, sx_status st, int64_t cmd)
{
    if (st == SX_OK)
        st = sx_agent_store_commit(a->store);
    else
        sx_agent_store_rollback(a->store);
    if (st != SX_OK && cmd != 0)
        sx_agent_cmd_drop(a, cmd);
    return st;
}

void sx_agent_cmd_drop(sx_agent *a, int64_t command_id)
{
    size_t i = 0;
    if (held_by_id(a, command_id, &i) != NULL)
        unhold(a, i);
}

sx_status sx_agent_cmd_run_now(sx_agent *a, int64_t command_id)
{
    size_t i = 0;
    held_cmd *h = held_by_id(a, command_id, &i);
    if (h == NULL)
        return sx_error_set(SX_E_INTERNAL, NULL, "agent: the command is not held");
    if (h->c.corr_id[0] != '\0') {
        /* an asynchronous call's: the sending thread runs it */
        pthread_cond_broadcast(&a->wake);
        return SX_OK;
    }
    sx_status st = attempt(a, i);
    if (st != SX_OK && retryable(st)) {
        pthread_cond_broadcast(&a->wake); /* the sender thread retries it */
        return SX_OK;
    }
    return st;
}

sx_status sx_agent_cmds_resume(sx_agent *a, bool after_crash)
{
    if (after_crash) {
        size_t n = 0;
        SX_TRY(sx_agent_store_cmd_resume(a->store, &n));
    }
    for (;;) {
        sx_agent_command c;
        bool found = false;
        SX_TRY(sx_agent_store_cmd_take(a->store, NULL, 0, &c, &found));
        if (!found)
            return SX_OK;
        sx_status st = hold(a, &c);
        sx_agent_command_cleanup(&c);
        SX_TRY(st);
    }
}

int sx_agent_cmds_due(sx_agent *a)
{
    if (a->cmdq == NULL)
        return -1;
    int64_t next = -1;
    for (size_t i = 0; i < a->cmdq->n;) {
        held_cmd *h = &a->cmdq->v[i];
        int64_t now = sx_agent_now_ms();
        if (h->next_try_ms > now) {
            int64_t w = h->next_try_ms - now;
            if (next < 0 || w < next)
                next = w;
            i++;
            continue;
        }
        sx_agent_id conn = h->c.conn_id;
        char corr[sizeof h->c.corr_id];
        memcpy(corr, h->c.corr_id, sizeof corr);
        size_t before = a->cmdq->n;
        sx_status st = attempt(a, i);
        if (st != SX_OK && !retryable(st) && corr[0] != '\0')
            sx_agent_emit_corr(a, SX_AGENT_EV_ERR, &conn, corr, sx_slice_of(NULL, 0), st);
        else if (st != SX_OK && !retryable(st))
            sx_agent_emit_err(a, SX_AGENT_EV_ERR, &conn, 0, st, "command");
        if (a->cmdq->n == before)
            i++; /* kept for a retry; otherwise slot i holds another now */
    }
    return next > 1000000 ? 1000000 : (int)next;
}

bool sx_agent_cmds_busy(const sx_agent *a)
{
    if (a->cmdq == NULL)
        return false;
    for (size_t i = 0; i < a->cmdq->n; i++)
        if (a->cmdq->v[i].delay_ms == 0)
            return true;
    return false;
}

void sx_agent_cmds_close(sx_agent *a)
{
    if (a->cmdq == NULL)
        return;
    while (a->cmdq->n > 0) {
        sx_status st = sx_agent_store_cmd_set_taken(a->store, a->cmdq->v[0].c.command_id, false);
        (void)st; /* if it fails the next open after a crash takes it */
        unhold(a, 0);
    }
    free(a->cmdq->v);
    free(a->cmdq);
    a->cmdq = NULL;
}
