/* The agent store's connections, queues and ratchets (see store.h). What
 * comes back from the file is checked like peer bytes: lengths and enum
 * ranges, the ratchet through its own decoder. */
#include "agent/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

static sx_status bad_row(const char *what)
{
    return sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a stored %s does not decode", what);
}

static sx_status no_row(const char *what)
{
    return sx_error_set(SX_E_USAGE, NULL, "agent store: no such %s", what);
}

/* ---- connections ---------------------------------------------------------- */

#define CONN_COLS                                                                  \
    "conn_id, user_id, mode, state, agent_version, pq_support, duplex_handshake, " \
    "enable_ntfs, ratchet_sync, last_internal_msg_id, last_internal_rcv_msg_id, "  \
    "last_internal_snd_msg_id, last_external_snd_msg_id, last_rcv_msg_hash, last_snd_msg_hash"

static bool read_conn(sqlite3_stmt *q, sx_agent_conn *c)
{
    memset(c, 0, sizeof *c);
    int mode = sqlite3_column_int(q, 2), state = sqlite3_column_int(q, 3);
    int version = sqlite3_column_int(q, 4), rsync = sqlite3_column_int(q, 8);
    if (!sx_store_col_fixed(q, 0, c->id.b, SX_AGENT_ID_LEN) || mode < 1 || mode > 2 ||
        state < 0 || state > SX_AGENT_CONN_DELETED || version < 0 || version > UINT16_MAX ||
        rsync < 0 || rsync > SX_AGENT_RSYNC_AGREED)
        return false;
    c->user_id = sqlite3_column_int64(q, 1);
    c->mode = (sx_agent_conn_mode)mode;
    c->state = (sx_agent_conn_state)state;
    c->agent_version = (uint16_t)version;
    c->pq_support = sqlite3_column_int(q, 5) != 0;
    c->duplex_handshake = sqlite3_column_int(q, 6) != 0;
    c->enable_ntfs = sqlite3_column_int(q, 7) != 0;
    c->rsync = (sx_agent_rsync)rsync;
    c->last_internal_msg_id = sqlite3_column_int64(q, 9);
    c->last_internal_rcv_msg_id = sqlite3_column_int64(q, 10);
    c->last_internal_snd_msg_id = sqlite3_column_int64(q, 11);
    c->last_external_snd_msg_id = sqlite3_column_int64(q, 12);
    return sx_store_col_var(q, 13, c->last_rcv_hash, SX_AGENT_HASH_LEN, &c->last_rcv_hash_len) &&
           sx_store_col_var(q, 14, c->last_snd_hash, SX_AGENT_HASH_LEN, &c->last_snd_hash_len);
}

static bool conn_fields_ok(const sx_agent_conn *c)
{
    return (c->mode == SX_AGENT_MODE_INVITATION || c->mode == SX_AGENT_MODE_CONTACT) &&
           (unsigned)c->state <= SX_AGENT_CONN_DELETED && (unsigned)c->rsync <= SX_AGENT_RSYNC_AGREED;
}

sx_status sx_agent_store_conn_create(sx_agent_store *s, const sx_agent_conn *c, sx_agent_id *id)
{
    SX_ENSURE(s != NULL && c != NULL && id != NULL, SX_E_USAGE);
    if (!conn_fields_ok(c))
        return sx_error_set(SX_E_USAGE, NULL, "agent store: connection fields out of range");
    sx_status st = SX_OK;
    /* A collision of 96 random bits is not expected; retry once anyway. */
    for (int attempt = 0; attempt < 2; attempt++) {
        sqlite3_stmt *q = sx_store_prep(
            s, "INSERT INTO connections(conn_id, user_id, mode, state, agent_version, pq_support, "
               "duplex_handshake, enable_ntfs, ratchet_sync, created_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &st);
        if (q == NULL)
            return st;
        sx_store_new_id(id);
        sx_store_bind_id(q, 1, id);
        sqlite3_bind_int64(q, 2, c->user_id);
        sqlite3_bind_int(q, 3, (int)c->mode);
        sqlite3_bind_int(q, 4, (int)c->state);
        sqlite3_bind_int(q, 5, c->agent_version);
        sqlite3_bind_int(q, 6, c->pq_support);
        sqlite3_bind_int(q, 7, c->duplex_handshake);
        sqlite3_bind_int(q, 8, c->enable_ntfs);
        sqlite3_bind_int(q, 9, (int)c->rsync);
        sqlite3_bind_int64(q, 10, sx_store_now());
        int rc = sqlite3_step(q);
        sx_store_fin(s, q);
        if (rc == SQLITE_DONE)
            return SX_OK;
        st = sx_store_err(s, rc, "create a connection");
        if (rc != SQLITE_CONSTRAINT_PRIMARYKEY && rc != SQLITE_CONSTRAINT_UNIQUE)
            break;
    }
    return st;
}

sx_status sx_agent_store_conn_get(sx_agent_store *s, const sx_agent_id *id, sx_agent_conn *out)
{
    SX_ENSURE(s != NULL && id != NULL && out != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "SELECT " CONN_COLS " FROM connections WHERE conn_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        st = read_conn(q, out) ? SX_OK : bad_row("connection");
    else if (rc == SQLITE_DONE)
        st = no_row("connection");
    else
        st = sx_store_err(s, rc, "read a connection");
    sx_store_fin(s, q);
    return st;
}

static sx_status one_change(sx_agent_store *s, sqlite3_stmt *q, const char *what)
{
    sx_status st = sx_store_done(s, q, what);
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = no_row(what);
    return st;
}

sx_status sx_agent_store_conn_update(sx_agent_store *s, const sx_agent_conn *c)
{
    SX_ENSURE(s != NULL && c != NULL, SX_E_USAGE);
    if (!conn_fields_ok(c))
        return sx_error_set(SX_E_USAGE, NULL, "agent store: connection fields out of range");
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "UPDATE connections SET state = ?, agent_version = ?, pq_support = ?, "
           "duplex_handshake = ?, enable_ntfs = ?, ratchet_sync = ? WHERE conn_id = ?",
        &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int(q, 1, (int)c->state);
    sqlite3_bind_int(q, 2, c->agent_version);
    sqlite3_bind_int(q, 3, c->pq_support);
    sqlite3_bind_int(q, 4, c->duplex_handshake);
    sqlite3_bind_int(q, 5, c->enable_ntfs);
    sqlite3_bind_int(q, 6, (int)c->rsync);
    sx_store_bind_id(q, 7, &c->id);
    return one_change(s, q, "connection");
}

sx_status sx_agent_store_conn_set_state(sx_agent_store *s, const sx_agent_id *id,
                                        sx_agent_conn_state state)
{
    SX_ENSURE(s != NULL && id != NULL && (unsigned)state <= SX_AGENT_CONN_DELETED, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "UPDATE connections SET state = ? WHERE conn_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int(q, 1, (int)state);
    sx_store_bind_id(q, 2, id);
    return one_change(s, q, "connection");
}

sx_status sx_agent_store_conn_raise_version(sx_agent_store *s, const sx_agent_id *id,
                                            uint16_t version, bool *raised)
{
    SX_ENSURE(s != NULL && id != NULL && raised != NULL, SX_E_USAGE);
    *raised = false;
    sx_status st;
    /* The condition in the statement: a version only rises, whatever
     * another writer did since the caller read the row. */
    sqlite3_stmt *q = sx_store_prep(
        s, "UPDATE connections SET agent_version = ? WHERE conn_id = ? AND agent_version < ?",
        &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int(q, 1, version);
    sx_store_bind_id(q, 2, id);
    sqlite3_bind_int(q, 3, version);
    SX_TRY(sx_store_done(s, q, "connection version"));
    *raised = sqlite3_changes(s->db) > 0;
    return SX_OK;
}

sx_status sx_agent_store_conn_delete(sx_agent_store *s, const sx_agent_id *id)
{
    SX_ENSURE(s != NULL && id != NULL, SX_E_USAGE);
    SX_TRY(sx_store_tx_enter(s));
    sx_status st;
    /* Deliveries hang off the messages and queues; invitations keep their
     * row (the request) with the address forgotten. The rest cascades. */
    sqlite3_stmt *q = sx_store_prep(s, "DELETE FROM connections WHERE conn_id = ?", &st);
    if (q != NULL) {
        sx_store_bind_id(q, 1, id);
        st = one_change(s, q, "connection");
    }
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_conn_list(sx_agent_store *s, int64_t user_id, sx_agent_conn **out,
                                   size_t *n)
{
    SX_ENSURE(s != NULL && out != NULL && n != NULL, SX_E_USAGE);
    *out = NULL;
    *n = 0;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT " CONN_COLS " FROM connections WHERE ?1 = 0 OR user_id = ?1 ORDER BY rowid", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, user_id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            sx_agent_conn *grown = realloc(*out, cap * sizeof **out);
            if (grown == NULL) {
                st = SX_E_NOMEM;
                break;
            }
            *out = grown;
        }
        if (!read_conn(q, &(*out)[*n])) {
            st = bad_row("connection");
            break;
        }
        (*n)++;
    }
    if (st == SX_OK && rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "list connections");
    sx_store_fin(s, q);
    if (st != SX_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

/* ---- queues --------------------------------------------------------------- */

#define RQ_COLS                                                                      \
    "queue_id, conn_id, server_id, rcv_id, snd_id, rcv_private_key, rcv_dh_secret, " \
    "e2e_priv_key, e2e_dh_secret, status, smp_client_version, is_primary, "          \
    "coalesce(replace_queue_id, 0), queue_mode, coalesce(switch_status, 0)"

static bool read_rq(sqlite3_stmt *q, sx_agent_rcv_queue *r)
{
    memset(r, 0, sizeof *r);
    int status = sqlite3_column_int(q, 9), ver = sqlite3_column_int(q, 10);
    int mode = sqlite3_column_int(q, 13), sw = sqlite3_column_int(q, 14);
    r->switch_status = (sx_agent_rcv_switch)sw;
    r->queue_id = sqlite3_column_int64(q, 0);
    r->server_id = sqlite3_column_int64(q, 2);
    r->has_e2e_dh_secret = sqlite3_column_type(q, 8) != SQLITE_NULL;
    r->primary = sqlite3_column_int(q, 11) != 0;
    r->replace_queue_id = sqlite3_column_int64(q, 12);
    r->status = (sx_agent_queue_status)status;
    r->smp_client_version = (uint16_t)ver;
    r->queue_mode = (uint8_t)mode;
    return status >= 0 && status <= SX_AGENT_Q_DISABLED && ver >= 0 && ver <= UINT16_MAX &&
           mode >= 0 && mode <= 255 && sw >= 0 && sw <= SX_AGENT_RSW_RECEIVED_MSG &&
           sx_store_col_fixed(q, 1, r->conn_id.b, SX_AGENT_ID_LEN) &&
           sx_store_col_var(q, 3, r->rcv_id, SX_AGENT_QID_MAX, &r->rcv_id_len) &&
           sx_store_col_var(q, 4, r->snd_id, SX_AGENT_QID_MAX, &r->snd_id_len) &&
           sx_store_col_var(q, 5, r->rcv_priv_key, SX_AGENT_KEY_MAX, &r->rcv_priv_key_len) &&
           sx_store_col_fixed(q, 6, r->rcv_dh_secret, 32) &&
           sx_store_col_fixed(q, 7, r->e2e_priv_key, 32) &&
           (!r->has_e2e_dh_secret || sx_store_col_fixed(q, 8, r->e2e_dh_secret, 32));
}

sx_status sx_agent_store_rcv_queue_create(sx_agent_store *s, const sx_agent_rcv_queue *r,
                                          int64_t *queue_id)
{
    SX_ENSURE(s != NULL && r != NULL && queue_id != NULL, SX_E_USAGE);
    if (r->rcv_id_len > SX_AGENT_QID_MAX || r->snd_id_len > SX_AGENT_QID_MAX ||
        r->rcv_priv_key_len > SX_AGENT_KEY_MAX || (unsigned)r->status > SX_AGENT_Q_DISABLED ||
        (unsigned)r->switch_status > SX_AGENT_RSW_RECEIVED_MSG)
        return sx_error_set(SX_E_USAGE, NULL, "agent store: receive queue fields out of range");
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO rcv_queues(conn_id, server_id, rcv_id, snd_id, rcv_private_key, "
           "rcv_dh_secret, e2e_priv_key, e2e_dh_secret, status, smp_client_version, is_primary, "
           "replace_queue_id, queue_mode, switch_status) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, &r->conn_id);
    sqlite3_bind_int64(q, 2, r->server_id);
    sx_store_bind_bytes(q, 3, r->rcv_id, r->rcv_id_len);
    sx_store_bind_bytes(q, 4, r->snd_id, r->snd_id_len);
    sx_store_bind_bytes(q, 5, r->rcv_priv_key, r->rcv_priv_key_len);
    sx_store_bind_bytes(q, 6, r->rcv_dh_secret, 32);
    sx_store_bind_bytes(q, 7, r->e2e_priv_key, 32);
    if (r->has_e2e_dh_secret)
        sx_store_bind_bytes(q, 8, r->e2e_dh_secret, 32);
    sqlite3_bind_int(q, 9, (int)r->status);
    sqlite3_bind_int(q, 10, r->smp_client_version);
    sqlite3_bind_int(q, 11, r->primary);
    if (r->replace_queue_id != 0)
        sqlite3_bind_int64(q, 12, r->replace_queue_id);
    sqlite3_bind_int(q, 13, r->queue_mode);
    if (r->switch_status != SX_AGENT_RSW_NONE)
        sqlite3_bind_int(q, 14, (int)r->switch_status);
    st = sx_store_done(s, q, "create a receive queue");
    if (st == SX_OK)
        *queue_id = sqlite3_last_insert_rowid(s->db);
    return st;
}

static sx_status get_rq(sx_agent_store *s, sqlite3_stmt *q, sx_agent_rcv_queue *out)
{
    sx_status st;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        st = read_rq(q, out) ? SX_OK : bad_row("receive queue");
    else if (rc == SQLITE_DONE)
        st = no_row("receive queue");
    else
        st = sx_store_err(s, rc, "read a receive queue");
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_rcv_queue_get(sx_agent_store *s, int64_t queue_id,
                                       sx_agent_rcv_queue *out)
{
    SX_ENSURE(s != NULL && out != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "SELECT " RQ_COLS " FROM rcv_queues WHERE queue_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, queue_id);
    return get_rq(s, q, out);
}

sx_status sx_agent_store_rcv_queue_find(sx_agent_store *s, int64_t server_id, sx_slice rcv_id,
                                        sx_agent_rcv_queue *out)
{
    SX_ENSURE(s != NULL && out != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT " RQ_COLS " FROM rcv_queues WHERE server_id = ? AND rcv_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, server_id);
    sx_store_bind_bytes(q, 2, rcv_id.ptr, rcv_id.len);
    return get_rq(s, q, out);
}

static sx_status set_queue_status(sx_agent_store *s, const char *sql, int64_t queue_id,
                                  sx_agent_queue_status status)
{
    SX_ENSURE(s != NULL && (unsigned)status <= SX_AGENT_Q_DISABLED, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, sql, &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int(q, 1, (int)status);
    sqlite3_bind_int64(q, 2, queue_id);
    return one_change(s, q, "queue");
}

sx_status sx_agent_store_rcv_queue_set_status(sx_agent_store *s, int64_t queue_id,
                                              sx_agent_queue_status st)
{
    return set_queue_status(s, "UPDATE rcv_queues SET status = ? WHERE queue_id = ?", queue_id, st);
}

sx_status sx_agent_store_rcv_queue_set_e2e(sx_agent_store *s, int64_t queue_id,
                                           const uint8_t secret[32])
{
    SX_ENSURE(s != NULL && secret != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "UPDATE rcv_queues SET e2e_dh_secret = ? WHERE queue_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_bytes(q, 1, secret, 32);
    sqlite3_bind_int64(q, 2, queue_id);
    return one_change(s, q, "receive queue");
}

/* Collects rows of q read by rd into a malloc'd array of elements of size sz. */
static sx_status list_rows(sx_agent_store *s, sqlite3_stmt *q, size_t sz,
                           bool (*rd)(sqlite3_stmt *, void *), const char *what, void **out,
                           size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    sx_status st = SX_OK;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            void *grown = realloc(*out, cap * sz);
            if (grown == NULL) {
                st = SX_E_NOMEM;
                break;
            }
            *out = grown;
        }
        if (!rd(q, (uint8_t *)*out + *n * sz)) {
            st = bad_row(what);
            break;
        }
        (*n)++;
    }
    if (st == SX_OK && rc != SQLITE_DONE)
        st = sx_store_err(s, rc, what);
    sx_store_fin(s, q);
    if (st != SX_OK) {
        if (*out != NULL)
            sx_wipe(*out, cap * sz);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

static bool read_rq_v(sqlite3_stmt *q, void *p)
{
    return read_rq(q, p);
}

sx_status sx_agent_store_rcv_queue_list(sx_agent_store *s, const sx_agent_id *conn,
                                        sx_agent_rcv_queue **out, size_t *n)
{
    SX_ENSURE(s != NULL && conn != NULL && out != NULL && n != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "SELECT " RQ_COLS " FROM rcv_queues WHERE conn_id = ? "
                                    "ORDER BY is_primary DESC, queue_id",
                                    &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    return list_rows(s, q, sizeof **out, read_rq_v, "receive queue", (void **)out, n);
}

#define SQ_COLS                                                                           \
    "queue_id, conn_id, server_id, snd_id, snd_private_key, e2e_pub_key, e2e_dh_secret, " \
    "status, smp_client_version, is_primary, coalesce(replace_queue_id, 0), queue_mode, " \
    "coalesce(switch_status, 0)"

static bool read_sq(sqlite3_stmt *q, sx_agent_snd_queue *r)
{
    memset(r, 0, sizeof *r);
    int status = sqlite3_column_int(q, 7), ver = sqlite3_column_int(q, 8);
    int mode = sqlite3_column_int(q, 11), sw = sqlite3_column_int(q, 12);
    r->switch_status = (sx_agent_snd_switch)sw;
    r->queue_id = sqlite3_column_int64(q, 0);
    r->server_id = sqlite3_column_int64(q, 2);
    r->status = (sx_agent_queue_status)status;
    r->smp_client_version = (uint16_t)ver;
    r->primary = sqlite3_column_int(q, 9) != 0;
    r->replace_queue_id = sqlite3_column_int64(q, 10);
    r->queue_mode = (uint8_t)mode;
    return status >= 0 && status <= SX_AGENT_Q_DISABLED && ver >= 0 && ver <= UINT16_MAX &&
           mode >= 0 && mode <= 255 && sw >= 0 && sw <= SX_AGENT_SSW_SENDING_QTEST &&
           sx_store_col_fixed(q, 1, r->conn_id.b, SX_AGENT_ID_LEN) &&
           sx_store_col_var(q, 3, r->snd_id, SX_AGENT_QID_MAX, &r->snd_id_len) &&
           sx_store_col_var(q, 4, r->snd_priv_key, SX_AGENT_KEY_MAX, &r->snd_priv_key_len) &&
           sx_store_col_fixed(q, 5, r->e2e_pub_key, 32) &&
           sx_store_col_fixed(q, 6, r->e2e_dh_secret, 32);
}

static bool read_sq_v(sqlite3_stmt *q, void *p)
{
    return read_sq(q, p);
}

sx_status sx_agent_store_snd_queue_create(sx_agent_store *s, const sx_agent_snd_queue *r,
                                          int64_t *queue_id)
{
    SX_ENSURE(s != NULL && r != NULL && queue_id != NULL, SX_E_USAGE);
    if (r->snd_id_len > SX_AGENT_QID_MAX || r->snd_priv_key_len > SX_AGENT_KEY_MAX ||
        (unsigned)r->status > SX_AGENT_Q_DISABLED ||
        (unsigned)r->switch_status > SX_AGENT_SSW_SENDING_QTEST)
        return sx_error_set(SX_E_USAGE, NULL, "agent store: send queue fields out of range");
    SX_TRY(sx_store_tx_enter(s));
    sx_status st;
    /* A retry of the same queue keeps its row and id while it is still NEW
     * (docs/AGENT-STORE.md, rule 8); one that is already confirmed is never overwritten. */
    int64_t existing = 0;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT queue_id, status, conn_id = ? FROM snd_queues WHERE server_id = ? AND snd_id = ?",
        &st);
    if (q != NULL) {
        sx_store_bind_id(q, 1, &r->conn_id);
        sqlite3_bind_int64(q, 2, r->server_id);
        sx_store_bind_bytes(q, 3, r->snd_id, r->snd_id_len);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            if (sqlite3_column_int(q, 1) != SX_AGENT_Q_NEW || sqlite3_column_int(q, 2) == 0)
                st = sx_error_set(SX_E_USAGE, NULL,
                                  "agent store: that send queue is stored and in use already");
            else
                existing = sqlite3_column_int64(q, 0);
        } else if (rc != SQLITE_DONE) {
            st = sx_store_err(s, rc, "find a send queue");
        }
        sx_store_fin(s, q);
    }
    if (st == SX_OK && existing != 0)
        q = sx_store_prep(s,
                          "UPDATE snd_queues SET conn_id = ?1, server_id = ?2, snd_id = ?3, "
                          "snd_private_key = ?4, e2e_pub_key = ?5, e2e_dh_secret = ?6, status = ?7, "
                          "smp_client_version = ?8, is_primary = ?9, replace_queue_id = ?10, "
                          "queue_mode = ?11, switch_status = ?13 WHERE queue_id = ?12",
                          &st);
    else if (st == SX_OK)
        q = sx_store_prep(s,
                          "INSERT INTO snd_queues(conn_id, server_id, snd_id, snd_private_key, "
                          "e2e_pub_key, e2e_dh_secret, status, smp_client_version, is_primary, "
                          "replace_queue_id, queue_mode, switch_status) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?13)",
                          &st);
    if (st == SX_OK && q != NULL) {
        sx_store_bind_id(q, 1, &r->conn_id);
        sqlite3_bind_int64(q, 2, r->server_id);
        sx_store_bind_bytes(q, 3, r->snd_id, r->snd_id_len);
        sx_store_bind_bytes(q, 4, r->snd_priv_key, r->snd_priv_key_len);
        sx_store_bind_bytes(q, 5, r->e2e_pub_key, 32);
        sx_store_bind_bytes(q, 6, r->e2e_dh_secret, 32);
        sqlite3_bind_int(q, 7, (int)r->status);
        sqlite3_bind_int(q, 8, r->smp_client_version);
        sqlite3_bind_int(q, 9, r->primary);
        if (r->replace_queue_id != 0)
            sqlite3_bind_int64(q, 10, r->replace_queue_id);
        sqlite3_bind_int(q, 11, r->queue_mode);
        if (existing != 0)
            sqlite3_bind_int64(q, 12, existing);
        if (r->switch_status != SX_AGENT_SSW_NONE)
            sqlite3_bind_int(q, 13, (int)r->switch_status);
        st = sx_store_done(s, q, "store a send queue");
        if (st == SX_OK)
            *queue_id = existing != 0 ? existing : sqlite3_last_insert_rowid(s->db);
    }
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_snd_queue_get(sx_agent_store *s, int64_t queue_id,
                                       sx_agent_snd_queue *out)
{
    SX_ENSURE(s != NULL && out != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "SELECT " SQ_COLS " FROM snd_queues WHERE queue_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, queue_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        st = read_sq(q, out) ? SX_OK : bad_row("send queue");
    else if (rc == SQLITE_DONE)
        st = no_row("send queue");
    else
        st = sx_store_err(s, rc, "read a send queue");
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_snd_queue_set_status(sx_agent_store *s, int64_t queue_id,
                                              sx_agent_queue_status st)
{
    return set_queue_status(s, "UPDATE snd_queues SET status = ? WHERE queue_id = ?", queue_id, st);
}

sx_status sx_agent_store_snd_queue_list(sx_agent_store *s, const sx_agent_id *conn,
                                        sx_agent_snd_queue **out, size_t *n)
{
    SX_ENSURE(s != NULL && conn != NULL && out != NULL && n != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "SELECT " SQ_COLS " FROM snd_queues WHERE conn_id = ? "
                                    "ORDER BY is_primary DESC, queue_id",
                                    &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    return list_rows(s, q, sizeof **out, read_sq_v, "send queue", (void **)out, n);
}
