/* The agent store's messages (docs/AGENT-STORE.md, rules 3, 4, 6, 7): sent messages
 * with their message encryption key and deliveries, received messages with
 * the connection's counters and chain hash, each written in one transaction
 * with the ratchet state it advanced. See store.h. */
#include "agent/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

/* Longer than an encoded message key (its header is at most
 * SX_RATCHET_ENC_HEADER_MAX). */
#define MEK_BUF 4096

static sx_status no_row(const char *what)
{
    return sx_error_set(SX_E_USAGE, NULL, "agent store: no such %s", what);
}

/* ---- sending --------------------------------------------------------------- */

sx_status sx_agent_store_snd_ids_next(sx_agent_store *s, const sx_agent_id *conn,
                                      sx_agent_snd_ids *ids)
{
    SX_ENSURE(s != NULL && conn != NULL && ids != NULL, SX_E_USAGE);
    memset(ids, 0, sizeof *ids);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "UPDATE connections SET last_internal_msg_id = last_internal_msg_id + 1, "
           "last_internal_snd_msg_id = last_internal_snd_msg_id + 1 WHERE conn_id = ? "
           "RETURNING last_internal_msg_id, last_internal_snd_msg_id, last_snd_msg_hash",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        ids->internal_id = sqlite3_column_int64(q, 0);
        ids->internal_snd_id = sqlite3_column_int64(q, 1);
        if (!sx_store_col_var(q, 2, ids->prev_hash, SX_AGENT_HASH_LEN, &ids->prev_hash_len))
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a stored hash is too long");
    } else if (rc == SQLITE_DONE) {
        st = no_row("connection");
    } else {
        st = sx_store_err(s, rc, "reserve message ids");
    }
    /* Step to the end so the UPDATE is complete before finalize. */
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(q);
    sx_store_fin(s, q);
    return st;
}

static sx_status insert_message(sx_agent_store *s, const sx_agent_id *conn, int64_t internal_id,
                                int64_t rcv_id, int64_t snd_id, uint8_t type, bool notification,
                                bool pq, sx_slice body)
{
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO messages(conn_id, internal_id, created_at, internal_rcv_id, "
           "internal_snd_id, msg_type, notification, pq_encryption, body) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_id);
    sqlite3_bind_int64(q, 3, sx_store_now());
    if (rcv_id != 0)
        sqlite3_bind_int64(q, 4, rcv_id);
    if (snd_id != 0)
        sqlite3_bind_int64(q, 5, snd_id);
    sqlite3_bind_int(q, 6, type);
    sqlite3_bind_int(q, 7, notification);
    sqlite3_bind_int(q, 8, pq);
    sx_store_bind_bytes(q, 9, body.ptr, body.len);
    return sx_store_done(s, q, "store a message");
}

static sx_status add_deliveries(sx_agent_store *s, const sx_agent_id *conn, int64_t internal_id,
                                const int64_t *queues, size_t n)
{
    if (n == 0)
        return SX_OK;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "INSERT INTO snd_message_deliveries(conn_id, snd_queue_id, "
                                    "internal_id) SELECT ?1, queue_id, ?2 FROM snd_queues "
                                    "WHERE queue_id = ?3 AND conn_id = ?1",
                                    &st);
    if (q == NULL)
        return st;
    for (size_t i = 0; st == SX_OK && i < n; i++) {
        sqlite3_reset(q);
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int64(q, 2, internal_id);
        sqlite3_bind_int64(q, 3, queues[i]);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_DONE)
            st = sx_store_err(s, rc, "store a delivery");
        else if (sqlite3_changes(s->db) != 1)
            st = no_row("send queue of this connection");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_snd_msg_insert(sx_agent_store *s, const sx_agent_id *conn,
                                        const sx_agent_snd_ids *ids, const sx_agent_snd_msg *msg,
                                        const sx_ratchet *r, const int64_t *snd_queue_ids,
                                        size_t n_queues)
{
    SX_ENSURE(s != NULL && conn != NULL && ids != NULL && msg != NULL, SX_E_USAGE);
    SX_ENSURE(n_queues == 0 || snd_queue_ids != NULL, SX_E_USAGE);
    SX_ENSURE(ids->prev_hash_len <= SX_AGENT_HASH_LEN, SX_E_USAGE);
    uint8_t *mek = malloc(MEK_BUF);
    if (mek == NULL)
        return SX_E_NOMEM;
    sx_writer w;
    sx_writer_init_fixed(&w, mek, MEK_BUF);
    sx_ratchet_msg_key_write(&w, &msg->mek);
    sx_status st = sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_store_tx_enter(s);
    if (st != SX_OK) {
        sx_wipe(mek, MEK_BUF);
        free(mek);
        return st;
    }
    st = insert_message(s, conn, ids->internal_id, 0, ids->internal_snd_id, msg->msg_type,
                        msg->notification, msg->pq_encryption, msg->body);
    sqlite3_stmt *q = NULL;
    if (st == SX_OK)
        q = sx_store_prep(s,
                          "INSERT INTO snd_messages(conn_id, internal_snd_id, internal_id, "
                          "internal_hash, previous_msg_hash, msg_encrypt_key, padded_msg_len) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)",
                          &st);
    if (q != NULL) {
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int64(q, 2, ids->internal_snd_id);
        sqlite3_bind_int64(q, 3, ids->internal_id);
        sx_store_bind_bytes(q, 4, msg->internal_hash, SX_AGENT_HASH_LEN);
        sx_store_bind_bytes(q, 5, ids->prev_hash, ids->prev_hash_len);
        sx_store_bind_bytes(q, 6, mek, w.len);
        sqlite3_bind_int64(q, 7, msg->padded_len);
        st = sx_store_done(s, q, "store a sent message");
        q = NULL;
    }
    sx_wipe(mek, MEK_BUF);
    free(mek);
    /* The chain hash moves only from the message whose ids were reserved
     * last (docs/AGENT-STORE.md, rule 7). */
    if (st == SX_OK)
        q = sx_store_prep(s,
                          "UPDATE connections SET last_snd_msg_hash = ? WHERE conn_id = ? "
                          "AND last_internal_snd_msg_id = ?",
                          &st);
    if (q != NULL) {
        sx_store_bind_bytes(q, 1, msg->internal_hash, SX_AGENT_HASH_LEN);
        sx_store_bind_id(q, 2, conn);
        sqlite3_bind_int64(q, 3, ids->internal_snd_id);
        st = sx_store_done(s, q, "update the sent hash");
        if (st == SX_OK && sqlite3_changes(s->db) != 1)
            st = sx_error_set(SX_E_USAGE, NULL,
                              "agent store: the message ids are not the last reserved");
    }
    if (st == SX_OK && r != NULL)
        st = sx_agent_store_ratchet_save(s, conn, r);
    if (st == SX_OK)
        st = add_deliveries(s, conn, ids->internal_id, snd_queue_ids, n_queues);
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_snd_msg_create(sx_agent_store *s, const sx_agent_id *conn,
                                        const int64_t *snd_queue_ids, size_t n_queues,
                                        sx_agent_store_snd_cb cb, void *ctx, sx_agent_snd_ids *ids)
{
    SX_ENSURE(s != NULL && conn != NULL && cb != NULL, SX_E_USAGE);
    SX_TRY(sx_store_tx_enter(s));
    sx_agent_snd_ids got;
    sx_ratchet r;
    memset(&r, 0, sizeof r);
    sx_agent_snd_msg *msg = calloc(1, sizeof *msg);
    sx_status st = msg == NULL ? SX_E_NOMEM : SX_OK;
    if (st == SX_OK)
        st = sx_agent_store_snd_ids_next(s, conn, &got);
    if (st == SX_OK)
        st = sx_agent_store_ratchet_get(s, conn, &r);
    if (st == SX_OK)
        st = cb(ctx, &got, &r, msg);
    if (st == SX_OK)
        st = sx_agent_store_snd_msg_insert(s, conn, &got, msg, &r, snd_queue_ids, n_queues);
    if (st == SX_OK && ids != NULL)
        *ids = got;
    sx_ratchet_cleanup(&r);
    if (msg != NULL) {
        sx_wipe(msg, sizeof *msg);
        free(msg);
    }
    return sx_store_tx_leave(s, st);
}

/* ---- deliveries ------------------------------------------------------------ */

void sx_agent_delivery_cleanup(sx_agent_delivery *d)
{
    if (d == NULL)
        return;
    sx_agent_blob_free(&d->body);
    sx_wipe(d, sizeof *d);
}

sx_status sx_agent_store_delivery_next(sx_agent_store *s, int64_t snd_queue_id,
                                       sx_agent_delivery *d, bool *found)
{
    SX_ENSURE(s != NULL && d != NULL && found != NULL, SX_E_USAGE);
    memset(d, 0, sizeof *d);
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT d.conn_id, d.internal_id, m.internal_snd_id, m.msg_type, m.notification, "
           "m.pq_encryption, m.body, sm.msg_encrypt_key, sm.padded_msg_len, m.created_at, "
           "sm.retry_int_slow, sm.retry_int_fast "
           "FROM snd_message_deliveries d "
           "JOIN messages m ON m.conn_id = d.conn_id AND m.internal_id = d.internal_id "
           "JOIN snd_messages sm ON sm.conn_id = d.conn_id AND sm.internal_snd_id = m.internal_snd_id "
           "WHERE d.snd_queue_id = ? AND d.failed = 0 ORDER BY d.delivery_id LIMIT 1",
        &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, snd_queue_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        int64_t padded = sqlite3_column_int64(q, 8);
        int type = sqlite3_column_int(q, 3);
        d->snd_queue_id = snd_queue_id;
        d->internal_id = sqlite3_column_int64(q, 1);
        d->internal_snd_id = sqlite3_column_int64(q, 2);
        d->msg_type = (uint8_t)type;
        d->notification = sqlite3_column_int(q, 4) != 0;
        d->pq_encryption = sqlite3_column_int(q, 5) != 0;
        d->padded_len = (uint32_t)padded;
        d->created_at = sqlite3_column_int64(q, 9);
        int64_t slow = sqlite3_column_int64(q, 10), fast = sqlite3_column_int64(q, 11);
        d->retry_slow_ms = slow > 0 && slow <= UINT32_MAX ? (uint32_t)slow : 0;
        d->retry_fast_ms = fast > 0 && fast <= UINT32_MAX ? (uint32_t)fast : 0;
        sx_slice mek = sx_slice_of(sqlite3_column_blob(q, 7), (size_t)sqlite3_column_bytes(q, 7));
        if (!sx_store_col_fixed(q, 0, d->conn_id.b, SX_AGENT_ID_LEN) || type < 0 || type > 255 ||
            padded < 0 || padded > UINT32_MAX || sx_ratchet_msg_key_decode(mek, &d->mek) != SX_OK)
            st = sx_error_set(SX_E_PROTOCOL, NULL,
                              "agent store: a stored message to send does not decode");
        if (st == SX_OK)
            st = sx_store_col_blob(q, 6, &d->body);
        if (st == SX_OK)
            *found = true;
        else
            sx_agent_delivery_cleanup(d);
    } else if (rc != SQLITE_DONE) {
        st = sx_store_err(s, rc, "read a delivery");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_delivery_retry_set(sx_agent_store *s, const sx_agent_id *conn,
                                            int64_t internal_id, uint32_t slow_ms, uint32_t fast_ms)
{
    SX_ENSURE(s != NULL && conn != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "UPDATE snd_messages SET retry_int_slow = ?, retry_int_fast = ? "
                                    "WHERE conn_id = ? AND internal_id = ?",
                                    &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, slow_ms);
    sqlite3_bind_int64(q, 2, fast_ms);
    sx_store_bind_id(q, 3, conn);
    sqlite3_bind_int64(q, 4, internal_id);
    return sx_store_done(s, q, "store a retry interval");
}

sx_status sx_agent_store_delivery_done(sx_agent_store *s, const sx_agent_id *conn,
                                       int64_t snd_queue_id, int64_t internal_id, bool keep)
{
    SX_ENSURE(s != NULL && conn != NULL, SX_E_USAGE);
    SX_TRY(sx_store_tx_enter(s));
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "DELETE FROM snd_message_deliveries WHERE conn_id = ? AND "
                                    "snd_queue_id = ? AND internal_id = ?",
                                    &st);
    if (q != NULL) {
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int64(q, 2, snd_queue_id);
        sqlite3_bind_int64(q, 3, internal_id);
        st = sx_store_done(s, q, "delete a delivery");
        if (st == SX_OK && sqlite3_changes(s->db) == 0)
            st = no_row("delivery");
    }
    if (st == SX_OK)
        st = sx_store_snd_msg_settle(s, conn, internal_id, keep);
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_delivery_expired(sx_agent_store *s, int64_t snd_queue_id,
                                          int64_t before_ts, int64_t **ids, size_t *n)
{
    SX_ENSURE(s != NULL && ids != NULL && n != NULL, SX_E_USAGE);
    *ids = NULL;
    *n = 0;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT d.internal_id FROM snd_message_deliveries d JOIN messages m ON "
           "m.conn_id = d.conn_id AND m.internal_id = d.internal_id WHERE d.snd_queue_id = ? AND "
           "d.failed = 0 AND m.created_at < ? ORDER BY d.delivery_id",
        &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, snd_queue_id);
    sqlite3_bind_int64(q, 2, before_ts);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            int64_t *g = realloc(*ids, nc * sizeof *g);
            if (g == NULL) {
                st = sx_error_set(SX_E_NOMEM, NULL, NULL);
                break;
            }
            *ids = g;
            cap = nc;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(q, 0);
    }
    if (st == SX_OK && rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "read expired deliveries");
    sx_store_fin(s, q);
    if (st != SX_OK) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return st;
}

sx_status sx_agent_store_delivery_count(sx_agent_store *s, const sx_agent_id *conn, size_t *n)
{
    SX_ENSURE(s != NULL && conn != NULL && n != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT count(*) FROM snd_message_deliveries WHERE conn_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(q, 0);
    else
        st = sx_store_err(s, rc, "count deliveries");
    sx_store_fin(s, q);
    return st;
}

/* ---- receiving ------------------------------------------------------------- */

sx_status sx_agent_store_rcv_prev(sx_agent_store *s, const sx_agent_id *conn,
                                  sx_agent_rcv_prev *prev)
{
    SX_ENSURE(s != NULL && conn != NULL && prev != NULL, SX_E_USAGE);
    memset(prev, 0, sizeof *prev);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT last_external_snd_msg_id, last_rcv_msg_hash FROM connections WHERE conn_id = ?",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        prev->last_external_snd_id = sqlite3_column_int64(q, 0);
        if (!sx_store_col_var(q, 1, prev->last_rcv_hash, SX_AGENT_HASH_LEN,
                              &prev->last_rcv_hash_len))
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a stored hash is too long");
    } else if (rc == SQLITE_DONE) {
        st = no_row("connection");
    } else {
        st = sx_store_err(s, rc, "read the receive counters");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_rcv_msg_insert(sx_agent_store *s, const sx_agent_id *conn,
                                        const sx_agent_rcv_msg *msg, const sx_ratchet *r,
                                        int64_t *internal_id)
{
    SX_ENSURE(s != NULL && conn != NULL && msg != NULL && internal_id != NULL, SX_E_USAGE);
    SX_ENSURE(msg->broker_id_len <= SX_AGENT_QID_MAX && msg->prev_hash_len <= SX_AGENT_HASH_LEN,
              SX_E_USAGE);
    SX_TRY(sx_store_tx_enter(s));
    int64_t id = 0, rcv_id = 0;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "UPDATE connections SET last_internal_msg_id = last_internal_msg_id + 1, "
           "last_internal_rcv_msg_id = last_internal_rcv_msg_id + 1, "
           "last_external_snd_msg_id = ?, last_rcv_msg_hash = ? WHERE conn_id = ? "
           "RETURNING last_internal_msg_id, last_internal_rcv_msg_id",
        &st);
    if (q != NULL) {
        sqlite3_bind_int64(q, 1, msg->external_snd_id);
        sx_store_bind_bytes(q, 2, msg->internal_hash, SX_AGENT_HASH_LEN);
        sx_store_bind_id(q, 3, conn);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            id = sqlite3_column_int64(q, 0);
            rcv_id = sqlite3_column_int64(q, 1);
        } else if (rc == SQLITE_DONE) {
            st = no_row("connection");
        } else {
            st = sx_store_err(s, rc, "advance the receive counters");
        }
        while (rc == SQLITE_ROW)
            rc = sqlite3_step(q);
        sx_store_fin(s, q);
    }
    if (st == SX_OK)
        st = insert_message(s, conn, id, rcv_id, 0, msg->msg_type, msg->notification,
                            msg->pq_encryption, msg->body);
    q = NULL;
    if (st == SX_OK)
        q = sx_store_prep(s,
                          "INSERT INTO rcv_messages(conn_id, internal_rcv_id, internal_id, "
                          "rcv_queue_id, external_snd_id, broker_id, broker_ts, internal_hash, "
                          "external_prev_snd_hash, integrity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          &st);
    if (q != NULL) {
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int64(q, 2, rcv_id);
        sqlite3_bind_int64(q, 3, id);
        sqlite3_bind_int64(q, 4, msg->rcv_queue_id);
        sqlite3_bind_int64(q, 5, msg->external_snd_id);
        sx_store_bind_bytes(q, 6, msg->broker_id, msg->broker_id_len);
        sqlite3_bind_int64(q, 7, msg->broker_ts);
        sx_store_bind_bytes(q, 8, msg->internal_hash, SX_AGENT_HASH_LEN);
        sx_store_bind_bytes(q, 9, msg->prev_hash, msg->prev_hash_len);
        sx_store_bind_bytes(q, 10, msg->integrity.ptr, msg->integrity.len);
        st = sx_store_done(s, q, "store a received message");
        q = NULL;
    }
    if (st == SX_OK)
        q = sx_store_prep(s,
                          "INSERT OR IGNORE INTO encrypted_rcv_message_hashes(conn_id, hash, "
                          "created_at) VALUES (?, ?, ?)",
                          &st);
    if (q != NULL) {
        sx_store_bind_id(q, 1, conn);
        sx_store_bind_bytes(q, 2, msg->encrypted_hash, SX_AGENT_HASH_LEN);
        sqlite3_bind_int64(q, 3, sx_store_now());
        st = sx_store_done(s, q, "store a message hash");
    }
    if (st == SX_OK && r != NULL)
        st = sx_agent_store_ratchet_save(s, conn, r);
    if (st == SX_OK)
        *internal_id = id;
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_rcv_msg_record(sx_agent_store *s, const sx_agent_id *conn,
                                        sx_agent_store_rcv_cb cb, void *ctx, int64_t *internal_id)
{
    SX_ENSURE(s != NULL && conn != NULL && cb != NULL && internal_id != NULL, SX_E_USAGE);
    SX_TRY(sx_store_tx_enter(s));
    sx_agent_rcv_prev prev;
    sx_ratchet r;
    memset(&r, 0, sizeof r);
    sx_agent_rcv_msg *msg = calloc(1, sizeof *msg);
    sx_status st = msg == NULL ? SX_E_NOMEM : SX_OK;
    if (st == SX_OK)
        st = sx_agent_store_rcv_prev(s, conn, &prev);
    if (st == SX_OK)
        st = sx_agent_store_ratchet_get(s, conn, &r);
    if (st == SX_OK)
        st = cb(ctx, &prev, &r, msg);
    if (st == SX_OK)
        st = sx_agent_store_rcv_msg_insert(s, conn, msg, &r, internal_id);
    sx_ratchet_cleanup(&r);
    if (msg != NULL) {
        sx_wipe(msg, sizeof *msg);
        free(msg);
    }
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_rcv_msg_find(sx_agent_store *s, const sx_agent_id *conn,
                                      sx_slice broker_id, sx_agent_rcv_stored *out, bool *found)
{
    SX_ENSURE(s != NULL && conn != NULL && out != NULL && found != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT r.internal_id, r.external_snd_id, m.msg_type, r.user_ack, m.body "
           "FROM rcv_messages r JOIN messages m ON m.conn_id = r.conn_id AND "
           "m.internal_id = r.internal_id WHERE r.conn_id = ? AND r.broker_id = ? "
           "ORDER BY r.internal_rcv_id DESC LIMIT 1",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sx_store_bind_bytes(q, 2, broker_id.ptr, broker_id.len);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->internal_id = sqlite3_column_int64(q, 0);
        out->external_snd_id = sqlite3_column_int64(q, 1);
        out->msg_type = (uint8_t)sqlite3_column_int(q, 2);
        out->user_ack = sqlite3_column_int(q, 3) != 0;
        st = sx_store_col_blob(q, 4, &out->body);
        *found = st == SX_OK;
    } else if (rc != SQLITE_DONE) {
        st = sx_store_err(s, rc, "find a received message");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_rcv_msg_ack(sx_agent_store *s, const sx_agent_id *conn,
                                     int64_t internal_id)
{
    SX_ENSURE(s != NULL && conn != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "UPDATE rcv_messages SET user_ack = 1 WHERE conn_id = ? AND internal_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_id);
    st = sx_store_done(s, q, "acknowledge a message");
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = no_row("received message");
    return st;
}

sx_status sx_agent_store_rcv_hash_seen(sx_agent_store *s, const sx_agent_id *conn,
                                       const uint8_t hash[SX_AGENT_HASH_LEN], bool *seen)
{
    SX_ENSURE(s != NULL && conn != NULL && hash != NULL && seen != NULL, SX_E_USAGE);
    *seen = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT 1 FROM encrypted_rcv_message_hashes WHERE conn_id = ? AND hash = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sx_store_bind_bytes(q, 2, hash, SX_AGENT_HASH_LEN);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *seen = true;
    else if (rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "look up a message hash");
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_msg_delete(sx_agent_store *s, const sx_agent_id *conn,
                                    int64_t internal_id)
{
    SX_ENSURE(s != NULL && conn != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "DELETE FROM messages WHERE conn_id = ? AND internal_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int64(q, 2, internal_id);
    st = sx_store_done(s, q, "delete a message");
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = no_row("message");
    return st;
}

sx_status sx_agent_store_rcv_prev_set(sx_agent_store *s, const sx_agent_id *conn,
                                      int64_t external_snd_id,
                                      const uint8_t hash[SX_AGENT_HASH_LEN])
{
    SX_ENSURE(s != NULL && conn != NULL && hash != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "UPDATE connections SET last_external_snd_msg_id = ?, "
                                    "last_rcv_msg_hash = ? WHERE conn_id = ?",
                                    &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, external_snd_id);
    sx_store_bind_bytes(q, 2, hash, SX_AGENT_HASH_LEN);
    sx_store_bind_id(q, 3, conn);
    return sx_store_done(s, q, "set the last received message");
}
