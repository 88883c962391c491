/* The agent store's short links (docs/AGENT.md, "Short links"): one row
 * per connection with a short link, what updating its user data needs. */
#include "agent/store_int.h"

#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

void sx_agent_short_link_row_free(sx_agent_short_link_row *r)
{
    if (!r)
        return;
    if (r->root_priv.ptr)
        sx_wipe(r->root_priv.ptr, r->root_priv.len);
    sx_agent_blob_free(&r->root_priv);
    sx_agent_blob_free(&r->enc_fixed);
    sx_wipe(r, sizeof *r);
}

sx_status sx_agent_store_short_link_set(sx_agent_store *s, const sx_agent_id *conn,
                                        const sx_agent_short_link_row *r)
{
    SX_ENSURE(s && conn && r && r->root_priv.len > 0 && r->enc_fixed.len > 0, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "INSERT OR REPLACE INTO short_links(conn_id, link_mode, link_id, "
                                    "link_key, root_private_key, enc_fixed_data, created_at) "
                                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int(q, 2, r->mode);
    sx_store_bind_bytes(q, 3, r->link_id, sizeof r->link_id);
    sx_store_bind_bytes(q, 4, r->link_key, sizeof r->link_key);
    sx_store_bind_bytes(q, 5, r->root_priv.ptr, r->root_priv.len);
    sx_store_bind_bytes(q, 6, r->enc_fixed.ptr, r->enc_fixed.len);
    sqlite3_bind_int64(q, 7, sx_store_now());
    return sx_store_done(s, q, "store a short link");
}

sx_status sx_agent_store_short_link_get(sx_agent_store *s, const sx_agent_id *conn,
                                        sx_agent_short_link_row *out, bool *found)
{
    SX_ENSURE(s && conn && out && found, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "SELECT link_mode, link_id, link_key, root_private_key, "
                                    "enc_fixed_data FROM short_links WHERE conn_id = ?",
                                    &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->mode = (uint8_t)sqlite3_column_int(q, 0);
        if (!sx_store_col_fixed(q, 1, out->link_id, sizeof out->link_id) ||
            !sx_store_col_fixed(q, 2, out->link_key, sizeof out->link_key))
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a short link row is damaged");
        if (st == SX_OK)
            st = sx_store_col_blob(q, 3, &out->root_priv);
        if (st == SX_OK)
            st = sx_store_col_blob(q, 4, &out->enc_fixed);
        if (st == SX_OK)
            *found = true;
        else
            sx_agent_short_link_row_free(out);
    } else if (rc != SQLITE_DONE) {
        st = sx_store_err(s, rc, "read a short link");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_short_link_delete(sx_agent_store *s, const sx_agent_id *conn)
{
    SX_ENSURE(s && conn, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "DELETE FROM short_links WHERE conn_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    return sx_store_done(s, q, "delete a short link");
}

sx_status sx_agent_store_inv_short_link_set(sx_agent_store *s, int64_t server_id, sx_slice link_id,
                                            sx_slice key)
{
    SX_ENSURE(s && link_id.len > 0 && key.len > 0, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "INSERT OR IGNORE INTO inv_short_links(server_id, link_id, "
                                    "snd_private_key, created_at) VALUES (?, ?, ?, ?)",
                                    &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, server_id);
    sx_store_bind_bytes(q, 2, link_id.ptr, link_id.len);
    sx_store_bind_bytes(q, 3, key.ptr, key.len);
    sqlite3_bind_int64(q, 4, sx_store_now());
    return sx_store_done(s, q, "store a short link's sender key");
}

sx_status sx_agent_store_inv_short_link_get(sx_agent_store *s, int64_t server_id, sx_slice link_id,
                                            sx_agent_blob *key, bool *found)
{
    SX_ENSURE(s && key && found, SX_E_USAGE);
    key->ptr = NULL;
    key->len = 0;
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "SELECT snd_private_key FROM inv_short_links "
                                    "WHERE server_id = ? AND link_id = ?",
                                    &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, server_id);
    sx_store_bind_bytes(q, 2, link_id.ptr, link_id.len);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        st = sx_store_col_blob(q, 0, key);
        *found = st == SX_OK;
    } else if (rc != SQLITE_DONE) {
        st = sx_store_err(s, rc, "read a short link's sender key");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_inv_short_link_delete(sx_agent_store *s, int64_t server_id, sx_slice link_id)
{
    SX_ENSURE(s, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "DELETE FROM inv_short_links WHERE server_id = ? AND link_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, server_id);
    sx_store_bind_bytes(q, 2, link_id.ptr, link_id.len);
    return sx_store_done(s, q, "delete a short link's sender key");
}
