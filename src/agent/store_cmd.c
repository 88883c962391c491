/* Asynchronous commands held by one process (docs/AGENT-STORE.md, rule 5):
 * marking a command taken, pending again or parked (a join that failed for
 * good, kept for the application's retry of the same link) by its id,
 * storing its retry interval, finding a connection's command, and the
 * connection of a send queue. The rest of the commands' store is in
 * store_pending.c. */
#include "agent/store_int.h"

#include <string.h>

#include "core/error.h"

sx_status sx_agent_store_cmd_set_taken(sx_agent_store *s, int64_t command_id, bool taken)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "UPDATE commands SET taken = ?2 WHERE command_id = ?1", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, command_id);
    sqlite3_bind_int(q, 2, taken ? 1 : 0);
    return sx_store_done(s, q, "mark a command");
}

sx_status sx_agent_store_cmd_retry_set(sx_agent_store *s, int64_t command_id, uint32_t retry_ms)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "UPDATE commands SET retry_int_fast = ?2 WHERE command_id = ?1", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, command_id);
    sqlite3_bind_int64(q, 2, retry_ms);
    return sx_store_done(s, q, "store a command's retry interval");
}

sx_status sx_agent_store_cmd_park(sx_agent_store *s, int64_t command_id)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "UPDATE commands SET taken = 2 WHERE command_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, command_id);
    return sx_store_done(s, q, "park a command");
}

sx_status sx_agent_store_cmd_find(sx_agent_store *s, const sx_agent_id *conn, const char *tag,
                                  sx_agent_command *c, int *taken, bool *found)
{
    SX_ENSURE(s != NULL && conn != NULL && tag != NULL && c != NULL && taken != NULL &&
                  found != NULL,
              SX_E_USAGE);
    memset(c, 0, sizeof *c);
    *found = false;
    *taken = 0;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT command_id, coalesce(server_id, 0), taken, body FROM commands "
           "WHERE conn_id = ?1 AND tag = ?2 ORDER BY command_id LIMIT 1",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_text(q, 2, tag, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        c->command_id = sqlite3_column_int64(q, 0);
        c->server_id = sqlite3_column_int64(q, 1);
        *taken = sqlite3_column_int(q, 2);
        c->conn_id = *conn;
        size_t tl = strlen(tag);
        if (tl >= sizeof c->tag)
            st = SX_E_USAGE;
        else
            memcpy(c->tag, tag, tl);
        if (st == SX_OK)
            st = sx_store_col_blob(q, 3, &c->body);
        *found = st == SX_OK;
    } else if (rc != SQLITE_DONE) {
        st = sx_store_err(s, rc, "find a command");
    }
    sx_store_fin(s, q);
    if (st != SX_OK)
        sx_agent_command_cleanup(c);
    return st;
}

sx_status sx_agent_store_cmd_body_set(sx_agent_store *s, int64_t command_id, sx_slice body)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "UPDATE commands SET body = ?2 WHERE command_id = ?1", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, command_id);
    sx_store_bind_bytes(q, 2, body.ptr, body.len);
    return sx_store_done(s, q, "replace a command's body");
}

sx_status sx_agent_store_cmd_each(sx_agent_store *s, const char *tag,
                                  bool (*fn)(void *ctx, const sx_agent_id *conn, sx_slice body),
                                  void *ctx)
{
    SX_ENSURE(s != NULL && tag != NULL && fn != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT conn_id, body FROM commands WHERE tag = ? ORDER BY command_id", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_text(q, 1, tag, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        sx_agent_id conn;
        if (!sx_store_col_fixed(q, 0, conn.b, SX_AGENT_ID_LEN))
            continue;
        const void *p = sqlite3_column_blob(q, 1);
        int n = sqlite3_column_bytes(q, 1);
        if (fn(ctx, &conn, sx_slice_of(p, n > 0 ? (size_t)n : 0))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "list commands");
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_snd_queue_conn(sx_agent_store *s, int64_t server_id, const uint8_t *snd_id,
                                        size_t snd_id_len, sx_agent_id *conn, bool *found)
{
    SX_ENSURE(s != NULL && snd_id != NULL && conn != NULL && found != NULL, SX_E_USAGE);
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT conn_id FROM snd_queues WHERE server_id = ?1 AND snd_id = ?2", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, server_id);
    sx_store_bind_bytes(q, 2, snd_id, snd_id_len);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *found = sx_store_col_fixed(q, 0, conn->b, SX_AGENT_ID_LEN);
    else if (rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "find a send queue");
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_cmd_corr_set(sx_agent_store *s, int64_t command_id, const char *corr_id)
{
    SX_ENSURE(s != NULL && corr_id != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "UPDATE commands SET corr_id = ?2 WHERE command_id = ?1", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, command_id);
    sqlite3_bind_text(q, 2, corr_id, -1, SQLITE_TRANSIENT);
    return sx_store_done(s, q, "store a command's correlation id");
}
