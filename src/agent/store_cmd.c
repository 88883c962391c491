/* Asynchronous commands held by one process (docs/AGENT-STORE.md, rule 5):
 * marking a command taken or pending again by its id, and storing its retry
 * interval. The rest of the commands' store is in store_pending.c. */
#include "agent/store_int.h"

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
