/* The agent store's delivery receipts (docs/AGENT-STORE.md, "Receipts"): a
 * sent A_MSG is kept after its delivery (body and message key cleared)
 * until the peer's receipt for it is acknowledged; the receipt's outcome
 * is written to the sent message's row (rcpt_internal_id: the received
 * A_RCVD message, rcpt_status: 1 ok, 2 bad message hash). See store.h. */
#include "agent/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

sx_status sx_store_snd_msg_settle(sx_agent_store *s, const sx_agent_id *conn, int64_t internal_id,
                                  bool keep)
{
    sx_status st;
    /* Nothing to do while another queue still has a delivery of it. */
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT sm.rcpt_status FROM snd_messages sm WHERE sm.conn_id = ?1 AND "
           "sm.internal_id = ?2 AND NOT EXISTS (SELECT 1 FROM snd_message_deliveries "
           "WHERE conn_id = ?1 AND internal_id = ?2 AND failed = 0)",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_id);
    int rc = sqlite3_step(q);
    bool settle = rc == SQLITE_ROW;
    bool rcpt_ok = settle && sqlite3_column_int(q, 0) == SX_AGENT_RCPT_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "read a sent message");
    sx_store_fin(s, q);
    if (st != SX_OK || !settle)
        return st;
    if (keep && !rcpt_ok) {
        q = sx_store_prep(s, "UPDATE messages SET body = x'' WHERE conn_id = ? AND internal_id = ?",
                          &st);
        if (q == NULL)
            return st;
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int64(q, 2, internal_id);
        SX_TRY(sx_store_done(s, q, "clear a sent message"));
        q = sx_store_prep(
            s, "UPDATE snd_messages SET msg_encrypt_key = x'' WHERE conn_id = ? AND internal_id = ?",
            &st);
        if (q == NULL)
            return st;
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int64(q, 2, internal_id);
        return sx_store_done(s, q, "clear a sent message's key");
    }
    q = sx_store_prep(s, "DELETE FROM messages WHERE conn_id = ? AND internal_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_id);
    return sx_store_done(s, q, "delete a sent message");
}

sx_status sx_agent_store_rcv_msg_get(sx_agent_store *s, const sx_agent_id *conn,
                                     int64_t internal_id, sx_agent_rcv_info *out)
{
    SX_ENSURE(s != NULL && conn != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT r.external_snd_id, r.internal_hash, r.user_ack, m.body "
           "FROM rcv_messages r JOIN messages m ON m.conn_id = r.conn_id AND "
           "m.internal_id = r.internal_id WHERE r.conn_id = ? AND r.internal_id = ?",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->external_snd_id = sqlite3_column_int64(q, 0);
        out->user_ack = sqlite3_column_int(q, 2) != 0;
        if (!sx_store_col_fixed(q, 1, out->internal_hash, SX_AGENT_HASH_LEN))
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a stored hash is not 32 bytes");
        if (st == SX_OK)
            st = sx_store_col_blob(q, 3, &out->body);
    } else if (rc == SQLITE_DONE) {
        st = sx_error_set(SX_E_USAGE, NULL, "agent store: no such received message");
    } else {
        st = sx_store_err(s, rc, "read a received message");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_snd_msg_for_rcpt(sx_agent_store *s, const sx_agent_id *conn,
                                          int64_t internal_snd_id, sx_agent_snd_rcpt *out,
                                          bool *found)
{
    SX_ENSURE(s != NULL && conn != NULL && out != NULL && found != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT sm.internal_id, sm.internal_hash, sm.rcpt_internal_id, sm.rcpt_status, m.body "
           "FROM snd_messages sm JOIN messages m ON m.conn_id = sm.conn_id AND "
           "m.internal_id = sm.internal_id WHERE sm.conn_id = ? AND sm.internal_snd_id = ?",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_snd_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->internal_id = sqlite3_column_int64(q, 0);
        out->rcpt_internal_id = sqlite3_column_int64(q, 2);
        int status = sqlite3_column_int(q, 3);
        out->status = status == SX_AGENT_RCPT_OK         ? SX_AGENT_RCPT_OK
                      : status == SX_AGENT_RCPT_BAD_HASH ? SX_AGENT_RCPT_BAD_HASH
                                                         : SX_AGENT_RCPT_NONE;
        if (!sx_store_col_fixed(q, 1, out->internal_hash, SX_AGENT_HASH_LEN))
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a stored hash is not 32 bytes");
        if (st == SX_OK)
            st = sx_store_col_blob(q, 4, &out->body);
        *found = st == SX_OK;
    } else if (rc != SQLITE_DONE) {
        st = sx_store_err(s, rc, "read a sent message");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_snd_msg_rcpt_set(sx_agent_store *s, const sx_agent_id *conn,
                                          int64_t internal_snd_id, int64_t rcpt_internal_id,
                                          sx_agent_rcpt_status status)
{
    SX_ENSURE(s != NULL && conn != NULL &&
                  (status == SX_AGENT_RCPT_OK || status == SX_AGENT_RCPT_BAD_HASH),
              SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "UPDATE snd_messages SET rcpt_internal_id = ?, rcpt_status = ? "
                                    "WHERE conn_id = ? AND internal_snd_id = ?",
                                    &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, rcpt_internal_id);
    sqlite3_bind_int(q, 2, (int)status);
    sx_store_bind_id(q, 3, conn);
    sqlite3_bind_int64(q, 4, internal_snd_id);
    st = sx_store_done(s, q, "record a receipt");
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = sx_error_set(SX_E_USAGE, NULL, "agent store: no such sent message");
    return st;
}

sx_status sx_agent_store_rcpt_acked(sx_agent_store *s, const sx_agent_id *conn,
                                    int64_t rcpt_internal_id, size_t *deleted)
{
    SX_ENSURE(s != NULL && conn != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "DELETE FROM messages WHERE conn_id = ?1 AND internal_id IN (SELECT sm.internal_id "
           "FROM snd_messages sm WHERE sm.conn_id = ?1 AND sm.rcpt_internal_id = ?2 AND "
           "sm.rcpt_status = 1 AND NOT EXISTS (SELECT 1 FROM snd_message_deliveries d "
           "WHERE d.conn_id = ?1 AND d.internal_id = sm.internal_id))",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, rcpt_internal_id);
    st = sx_store_done(s, q, "delete confirmed messages");
    if (st == SX_OK && deleted)
        *deleted = (size_t)sqlite3_changes(s->db);
    return st;
}

sx_status sx_agent_store_msg_exists(sx_agent_store *s, const sx_agent_id *conn,
                                    int64_t internal_id, bool *exists)
{
    SX_ENSURE(s != NULL && conn != NULL && exists != NULL, SX_E_USAGE);
    *exists = false;
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "SELECT 1 FROM messages WHERE conn_id = ? AND internal_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *exists = true;
    else if (rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "look up a message");
    sx_store_fin(s, q);
    return st;
}
