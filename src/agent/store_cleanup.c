/* The periodic cleanup's deletions (docs/AGENT-STORE.md, "Cleanup"): sent
 * messages kept past the time their receipts may come, and the hashes kept
 * for telling re-deliveries apart, each pass bounded to a number of rows
 * per kind, the oldest first (the indexes of migration 7). */
#include "agent/store_int.h"

#include "core/error.h"

/* One bounded DELETE with (cutoff, limit) bound; *n the rows it deleted. */
static sx_status delete_older(sx_agent_store *s, const char *sql, int64_t cutoff, size_t limit,
                              const char *what, size_t *n)
{
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, sql, &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, cutoff);
    sqlite3_bind_int64(q, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    st = sx_store_done(s, q, what);
    if (st == SX_OK)
        *n = (size_t)sqlite3_changes(s->db);
    return st;
}

sx_status sx_agent_store_cleanup(sx_agent_store *s, int64_t cutoff, size_t limit,
                                 sx_agent_cleanup_counts *out)
{
    SX_ENSURE(s != NULL && out != NULL && limit > 0, SX_E_USAGE);
    sx_agent_cleanup_counts c = {0, 0, 0};
    /* The messages' rows take their snd_messages rows and deliveries with
     * them (ON DELETE CASCADE). */
    sx_status st = delete_older(
        s,
        "DELETE FROM messages WHERE (conn_id, internal_id) IN (SELECT conn_id, internal_id "
        "FROM messages WHERE internal_snd_id IS NOT NULL AND created_at < ?1 "
        "ORDER BY created_at LIMIT ?2)",
        cutoff, limit, "delete old sent messages", &c.snd_msgs);
    if (st == SX_OK)
        st = delete_older(s,
                          "DELETE FROM encrypted_rcv_message_hashes WHERE (conn_id, hash) IN "
                          "(SELECT conn_id, hash "
                          "FROM encrypted_rcv_message_hashes WHERE created_at < ?1 "
                          "ORDER BY created_at LIMIT ?2)",
                          cutoff, limit, "delete old message hashes", &c.rcv_hashes);
    if (st == SX_OK)
        st = delete_older(s,
                          "DELETE FROM processed_ratchet_key_hashes WHERE (conn_id, hash) IN "
                          "(SELECT conn_id, hash "
                          "FROM processed_ratchet_key_hashes WHERE created_at < ?1 "
                          "ORDER BY created_at LIMIT ?2)",
                          cutoff, limit, "delete old ratchet key hashes", &c.ratchet_key_hashes);
    *out = c;
    return st;
}
