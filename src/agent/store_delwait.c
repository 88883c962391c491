/* Connections deleted while messages wait for delivery (docs/AGENT.md,
 * "Deleting after delivery"; AGENT-STORE.md rule 9): the deletion mark with
 * its time, the connections waiting, and how many deliveries each has left. */
#include "agent/store_int.h"

#include <stdlib.h>

#include "core/error.h"

sx_status sx_agent_store_conn_set_deleted(sx_agent_store *s, const sx_agent_id *id, int64_t at)
{
    SX_ENSURE(s != NULL && id != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "UPDATE connections SET state = ?2, deleted_at = ?3 WHERE conn_id = ?1", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, id);
    sqlite3_bind_int(q, 2, SX_AGENT_CONN_DELETED);
    sqlite3_bind_int64(q, 3, at);
    return sx_store_done(s, q, "mark a connection deleted");
}

sx_status sx_agent_store_conn_deleted_list(sx_agent_store *s, sx_agent_id **ids, int64_t **ats,
                                           size_t *n)
{
    SX_ENSURE(s != NULL && ids != NULL && ats != NULL && n != NULL, SX_E_USAGE);
    *ids = NULL;
    *ats = NULL;
    *n = 0;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT conn_id, coalesce(deleted_at, created_at) FROM connections WHERE state = ?1",
        &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int(q, 1, SX_AGENT_CONN_DELETED);
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (st == SX_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            sx_agent_id *ni = realloc(*ids, nc * sizeof **ids);
            if (ni != NULL)
                *ids = ni;
            int64_t *na = ni ? realloc(*ats, nc * sizeof **ats) : NULL;
            if (na != NULL)
                *ats = na;
            if (ni == NULL || na == NULL) {
                st = sx_error_set(SX_E_NOMEM, NULL, NULL);
                break;
            }
            cap = nc;
        }
        if (!sx_store_col_fixed(q, 0, (*ids)[*n].b, SX_AGENT_ID_LEN)) {
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a connection id does not decode");
            break;
        }
        (*ats)[*n] = sqlite3_column_int64(q, 1);
        (*n)++;
    }
    if (st == SX_OK && rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "list deleted connections");
    sx_store_fin(s, q);
    if (st != SX_OK) {
        free(*ids);
        free(*ats);
        *ids = NULL;
        *ats = NULL;
        *n = 0;
    }
    return st;
}

sx_status sx_agent_store_conn_deliveries(sx_agent_store *s, const sx_agent_id *id, size_t *n)
{
    SX_ENSURE(s != NULL && id != NULL && n != NULL, SX_E_USAGE);
    *n = 0;
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "SELECT count(*) FROM snd_message_deliveries WHERE conn_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(q, 0);
    else
        st = sx_store_err(s, rc, "count a connection's deliveries");
    sx_store_fin(s, q);
    return st;
}
