/* The agent store's part of queue rotation (store.h, "queue rotation";
 * docs/AGENT.md, "Queue rotation"): the switch status of the new queue,
 * moving the primary flag to it, and deleting the queue it replaced. */
#include "agent/store_int.h"

#include "core/error.h"

static sx_status one_row(sx_agent_store *s, sqlite3_stmt *q, const char *what)
{
    sx_status st = sx_store_done(s, q, what);
    if (st == SX_OK && sqlite3_changes(s->db) != 1)
        st = sx_error_set(SX_E_USAGE, NULL, "agent store: no such %s", what);
    return st;
}

static sx_status set_switch(sx_agent_store *s, const char *sql, int64_t queue_id, int sw,
                            const char *what)
{
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, sql, &st);
    if (q == NULL)
        return st;
    if (sw != 0)
        sqlite3_bind_int(q, 1, sw);
    sqlite3_bind_int64(q, 2, queue_id);
    return one_row(s, q, what);
}

sx_status sx_agent_store_rcv_queue_set_switch(sx_agent_store *s, int64_t queue_id,
                                              sx_agent_rcv_switch sw)
{
    SX_ENSURE(s != NULL && (unsigned)sw <= SX_AGENT_RSW_RECEIVED_MSG, SX_E_USAGE);
    return set_switch(s, "UPDATE rcv_queues SET switch_status = ?1 WHERE queue_id = ?2", queue_id,
                      (int)sw, "receive queue");
}

sx_status sx_agent_store_snd_queue_set_switch(sx_agent_store *s, int64_t queue_id,
                                              sx_agent_snd_switch sw)
{
    SX_ENSURE(s != NULL && (unsigned)sw <= SX_AGENT_SSW_SENDING_QTEST, SX_E_USAGE);
    return set_switch(s, "UPDATE snd_queues SET switch_status = ?1 WHERE queue_id = ?2", queue_id,
                      (int)sw, "send queue");
}

/* Runs the two statements of a primary move (or of a delete) on queue_id
 * in one transaction: first (all queues of the connection, or the pointers
 * at the queue), then second (the queue itself, which must exist). */
static sx_status two_steps(sx_agent_store *s, const char *first, const char *second,
                           int64_t queue_id, const char *what)
{
    SX_TRY(sx_store_tx_enter(s));
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, first, &st);
    if (q != NULL) {
        sqlite3_bind_int64(q, 1, queue_id);
        st = sx_store_done(s, q, what);
    }
    if (st == SX_OK && (q = sx_store_prep(s, second, &st)) != NULL) {
        sqlite3_bind_int64(q, 1, queue_id);
        st = one_row(s, q, what);
    }
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_rcv_queue_set_primary(sx_agent_store *s, int64_t queue_id)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    return two_steps(s,
                     "UPDATE rcv_queues SET is_primary = 0 WHERE conn_id = "
                     "(SELECT conn_id FROM rcv_queues WHERE queue_id = ?1) AND queue_id != ?1",
                     "UPDATE rcv_queues SET is_primary = 1, replace_queue_id = NULL, "
                     "switch_status = NULL WHERE queue_id = ?1",
                     queue_id, "receive queue");
}

sx_status sx_agent_store_snd_queue_set_primary(sx_agent_store *s, int64_t queue_id)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    return two_steps(s,
                     "UPDATE snd_queues SET is_primary = 0 WHERE conn_id = "
                     "(SELECT conn_id FROM snd_queues WHERE queue_id = ?1) AND queue_id != ?1",
                     "UPDATE snd_queues SET is_primary = 1, replace_queue_id = NULL, "
                     "switch_status = NULL WHERE queue_id = ?1",
                     queue_id, "send queue");
}

sx_status sx_agent_store_rcv_queue_delete(sx_agent_store *s, int64_t queue_id)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    return two_steps(s,
                     "UPDATE rcv_queues SET replace_queue_id = NULL WHERE replace_queue_id = ?1",
                     "DELETE FROM rcv_queues WHERE queue_id = ?1", queue_id, "receive queue");
}

sx_status sx_agent_store_snd_queue_delete(sx_agent_store *s, int64_t queue_id)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    return two_steps(s,
                     "UPDATE snd_queues SET replace_queue_id = NULL WHERE replace_queue_id = ?1",
                     "DELETE FROM snd_queues WHERE queue_id = ?1", queue_id, "send queue");
}
