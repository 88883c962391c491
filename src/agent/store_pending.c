/* The agent store's pending work: confirmations waiting for
 * allowConnection, contact requests waiting for accept, and the persisted
 * asynchronous commands (docs/AGENT-STORE.md, rule 5). See store.h. */
#include "agent/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

static sx_status no_row(const char *what)
{
    return sx_error_set(SX_E_USAGE, NULL, "agent store: no such %s", what);
}

/* Copies the blob columns cols[0..n) of q into one allocation, slices
 * pointing into it. */
static sx_status copy_cols(sqlite3_stmt *q, const int *cols, sx_slice **outs, size_t n,
                           sx_agent_blob *storage)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (size_t)sqlite3_column_bytes(q, cols[i]);
    storage->ptr = malloc(total > 0 ? total : 1);
    storage->len = total;
    if (storage->ptr == NULL)
        return SX_E_NOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)sqlite3_column_bytes(q, cols[i]);
        const void *p = sqlite3_column_blob(q, cols[i]);
        if (len > 0 && p == NULL)
            return SX_E_NOMEM;
        if (len > 0)
            memcpy(storage->ptr + off, p, len);
        *outs[i] = sx_slice_of(storage->ptr + off, len);
        off += len;
    }
    return SX_OK;
}

static sx_status set_accepted(sx_agent_store *s, const char *sql, const sx_agent_id *id,
                              sx_slice own, const char *what)
{
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, sql, &st);
    if (q == NULL)
        return st;
    sx_store_bind_bytes(q, 1, own.ptr, own.len);
    sx_store_bind_id(q, 2, id);
    st = sx_store_done(s, q, what);
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = no_row(what);
    return st;
}

/* ---- confirmations --------------------------------------------------------- */

sx_status sx_agent_store_confirmation_create(sx_agent_store *s, const sx_agent_confirmation *c,
                                             sx_agent_id *id)
{
    SX_ENSURE(s != NULL && c != NULL && id != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO conn_confirmations(confirmation_id, conn_id, e2e_snd_pub_key, "
           "sender_key, ratchet_state, sender_conn_info, reply_queues, smp_client_version, "
           "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &st);
    if (q == NULL)
        return st;
    sx_store_new_id(id);
    sx_store_bind_id(q, 1, id);
    sx_store_bind_id(q, 2, &c->conn_id);
    sx_store_bind_bytes(q, 3, c->e2e_snd_pub_key, sizeof c->e2e_snd_pub_key);
    sx_store_bind_bytes(q, 4, c->sender_key.ptr, c->sender_key.len);
    sx_store_bind_bytes(q, 5, c->ratchet_state.ptr, c->ratchet_state.len);
    sx_store_bind_bytes(q, 6, c->sender_conn_info.ptr, c->sender_conn_info.len);
    sx_store_bind_bytes(q, 7, c->reply_queues.ptr, c->reply_queues.len);
    sqlite3_bind_int(q, 8, c->smp_client_version);
    sqlite3_bind_int64(q, 9, sx_store_now());
    return sx_store_done(s, q, "store a confirmation");
}

sx_status sx_agent_store_confirmation_get(sx_agent_store *s, const sx_agent_id *id,
                                          sx_agent_confirmation *out, bool *accepted,
                                          sx_agent_blob *storage)
{
    SX_ENSURE(s != NULL && id != NULL && out != NULL && accepted != NULL && storage != NULL,
              SX_E_USAGE);
    memset(out, 0, sizeof *out);
    storage->ptr = NULL;
    storage->len = 0;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT conn_id, e2e_snd_pub_key, sender_key, ratchet_state, sender_conn_info, "
           "reply_queues, smp_client_version, accepted FROM conn_confirmations "
           "WHERE confirmation_id = ?",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        static const int cols[] = {2, 3, 4, 5};
        sx_slice *outs[] = {&out->sender_key, &out->ratchet_state, &out->sender_conn_info,
                            &out->reply_queues};
        int v = sqlite3_column_int(q, 6);
        out->id = *id;
        *accepted = sqlite3_column_int(q, 7) != 0;
        out->smp_client_version = (uint16_t)v;
        if (!sx_store_col_fixed(q, 0, out->conn_id.b, SX_AGENT_ID_LEN) ||
            !sx_store_col_fixed(q, 1, out->e2e_snd_pub_key, 32) || v < 0 || v > UINT16_MAX)
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a stored confirmation does "
                                                   "not decode");
        if (st == SX_OK)
            st = copy_cols(q, cols, outs, 4, storage);
        if (st != SX_OK) {
            sx_agent_blob_free(storage);
            memset(out, 0, sizeof *out);
        }
    } else if (rc == SQLITE_DONE) {
        st = no_row("confirmation");
    } else {
        st = sx_store_err(s, rc, "read a confirmation");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_confirmation_accept(sx_agent_store *s, const sx_agent_id *id,
                                             sx_slice own_conn_info)
{
    SX_ENSURE(s != NULL && id != NULL, SX_E_USAGE);
    return set_accepted(s,
                        "UPDATE conn_confirmations SET accepted = 1, own_conn_info = ? "
                        "WHERE confirmation_id = ?",
                        id, own_conn_info, "confirmation");
}

/* ---- invitations ----------------------------------------------------------- */

sx_status sx_agent_store_invitation_create(sx_agent_store *s, const sx_agent_id *contact_conn,
                                           sx_slice invitation, sx_slice conn_info,
                                           sx_agent_id *id)
{
    SX_ENSURE(s != NULL && contact_conn != NULL && id != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO conn_invitations(invitation_id, contact_conn_id, invitation, "
           "recipient_conn_info, created_at) VALUES (?, ?, ?, ?, ?)",
        &st);
    if (q == NULL)
        return st;
    sx_store_new_id(id);
    sx_store_bind_id(q, 1, id);
    sx_store_bind_id(q, 2, contact_conn);
    sx_store_bind_bytes(q, 3, invitation.ptr, invitation.len);
    sx_store_bind_bytes(q, 4, conn_info.ptr, conn_info.len);
    sqlite3_bind_int64(q, 5, sx_store_now());
    return sx_store_done(s, q, "store an invitation");
}

sx_status sx_agent_store_invitation_get(sx_agent_store *s, const sx_agent_id *id,
                                        sx_slice *invitation, sx_slice *conn_info, bool *accepted,
                                        sx_agent_blob *storage)
{
    SX_ENSURE(s != NULL && id != NULL && invitation != NULL && conn_info != NULL &&
                  accepted != NULL && storage != NULL,
              SX_E_USAGE);
    storage->ptr = NULL;
    storage->len = 0;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "SELECT invitation, recipient_conn_info, accepted FROM "
                                    "conn_invitations WHERE invitation_id = ?",
                                    &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        static const int cols[] = {0, 1};
        sx_slice *outs[] = {invitation, conn_info};
        *accepted = sqlite3_column_int(q, 2) != 0;
        st = copy_cols(q, cols, outs, 2, storage);
        if (st != SX_OK)
            sx_agent_blob_free(storage);
    } else if (rc == SQLITE_DONE) {
        st = no_row("invitation");
    } else {
        st = sx_store_err(s, rc, "read an invitation");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_invitation_find(sx_agent_store *s, const sx_agent_id *contact_conn,
                                         sx_slice invitation, bool *found)
{
    SX_ENSURE(s != NULL && contact_conn != NULL && found != NULL, SX_E_USAGE);
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "SELECT 1 FROM conn_invitations WHERE contact_conn_id = ? "
                                    "AND invitation = ?",
                                    &st);
    if (q == NULL)
        return st;
    st = SX_OK;
    sx_store_bind_id(q, 1, contact_conn);
    sx_store_bind_bytes(q, 2, invitation.ptr, invitation.len);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *found = true;
    else if (rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "find an invitation");
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_invitation_accept(sx_agent_store *s, const sx_agent_id *id,
                                           sx_slice own_conn_info)
{
    SX_ENSURE(s != NULL && id != NULL, SX_E_USAGE);
    return set_accepted(s,
                        "UPDATE conn_invitations SET accepted = 1, own_conn_info = ? "
                        "WHERE invitation_id = ?",
                        id, own_conn_info, "invitation");
}

sx_status sx_agent_store_invitation_delete(sx_agent_store *s, const sx_agent_id *id)
{
    SX_ENSURE(s != NULL && id != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "DELETE FROM conn_invitations WHERE invitation_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, id);
    st = sx_store_done(s, q, "delete an invitation");
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = no_row("invitation");
    return st;
}

/* ---- commands -------------------------------------------------------------- */

void sx_agent_command_cleanup(sx_agent_command *c)
{
    if (c == NULL)
        return;
    sx_agent_blob_free(&c->body);
    memset(c, 0, sizeof *c);
}

sx_status sx_agent_store_cmd_enqueue(sx_agent_store *s, const sx_agent_id *conn,
                                     int64_t server_id, const char *tag, sx_slice body,
                                     int64_t *command_id)
{
    SX_ENSURE(s != NULL && conn != NULL && tag != NULL && command_id != NULL, SX_E_USAGE);
    SX_ENSURE(tag[0] != '\0' && strlen(tag) < sizeof((sx_agent_command *)0)->tag, SX_E_USAGE);
    *command_id = 0;
    sx_status st;
    /* Only for a live connection: one that is gone or being deleted drops
     * the command (the reference's createCommand does the same). */
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO commands(conn_id, server_id, tag, body, created_at) "
           "SELECT conn_id, ?2, ?3, ?4, ?5 FROM connections WHERE conn_id = ?1 AND state != ?6",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    if (server_id != 0)
        sqlite3_bind_int64(q, 2, server_id);
    sqlite3_bind_text(q, 3, tag, -1, SQLITE_TRANSIENT);
    sx_store_bind_bytes(q, 4, body.ptr, body.len);
    sqlite3_bind_int64(q, 5, sx_store_now());
    sqlite3_bind_int(q, 6, SX_AGENT_CONN_DELETED);
    st = sx_store_done(s, q, "store a command");
    if (st == SX_OK && sqlite3_changes(s->db) == 1)
        *command_id = sqlite3_last_insert_rowid(s->db);
    return st;
}

sx_status sx_agent_store_cmd_take(sx_agent_store *s, const sx_agent_id *conn, int64_t server_id,
                                  sx_agent_command *c, bool *found)
{
    SX_ENSURE(s != NULL && c != NULL && found != NULL, SX_E_USAGE);
    memset(c, 0, sizeof *c);
    *found = false;
    SX_TRY(sx_store_tx_enter(s));
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT command_id, conn_id, coalesce(server_id, 0), tag, body, "
           "coalesce(retry_int_fast, 0), coalesce(corr_id, '') FROM commands "
           "WHERE taken = 0 AND (?1 IS NULL OR (conn_id = ?1 AND coalesce(server_id, 0) = ?2)) "
           "ORDER BY command_id LIMIT 1",
        &st);
    if (q != NULL) {
        if (conn != NULL)
            sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int64(q, 2, server_id);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            const unsigned char *tag = sqlite3_column_text(q, 3);
            size_t tag_len = (size_t)sqlite3_column_bytes(q, 3);
            c->command_id = sqlite3_column_int64(q, 0);
            c->server_id = sqlite3_column_int64(q, 2);
            int64_t ri = sqlite3_column_int64(q, 5);
            c->retry_ms = ri > 0 && ri <= UINT32_MAX ? (uint32_t)ri : 0;
            if (tag == NULL || tag_len == 0 || tag_len >= sizeof c->tag ||
                !sx_store_col_fixed(q, 1, c->conn_id.b, SX_AGENT_ID_LEN))
                st = sx_error_set(SX_E_PROTOCOL, NULL,
                                  "agent store: a stored command does not decode");
            else
                memcpy(c->tag, tag, tag_len);
            const unsigned char *corr = sqlite3_column_text(q, 6);
            size_t corr_len = (size_t)sqlite3_column_bytes(q, 6);
            if (st == SX_OK && corr != NULL && corr_len > 0) {
                if (corr_len >= sizeof c->corr_id)
                    st = sx_error_set(SX_E_PROTOCOL, NULL,
                                      "agent store: a stored correlation id is too long");
                else
                    memcpy(c->corr_id, corr, corr_len);
            }
            if (st == SX_OK)
                st = sx_store_col_blob(q, 4, &c->body);
            *found = st == SX_OK;
        } else if (rc != SQLITE_DONE) {
            st = sx_store_err(s, rc, "take a command");
        }
        sx_store_fin(s, q);
    }
    if (st == SX_OK && *found) {
        q = sx_store_prep(s, "UPDATE commands SET taken = 1 WHERE command_id = ?", &st);
        if (q != NULL) {
            sqlite3_bind_int64(q, 1, c->command_id);
            st = sx_store_done(s, q, "mark a command taken");
        }
    }
    st = sx_store_tx_leave(s, st);
    if (st != SX_OK) {
        sx_agent_command_cleanup(c);
        *found = false;
    }
    return st;
}

sx_status sx_agent_store_cmd_complete(sx_agent_store *s, int64_t command_id)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "DELETE FROM commands WHERE command_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, command_id);
    st = sx_store_done(s, q, "complete a command");
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = no_row("command");
    return st;
}

sx_status sx_agent_store_cmd_resume(sx_agent_store *s, size_t *n)
{
    SX_ENSURE(s != NULL && n != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "UPDATE commands SET taken = 0 WHERE taken = 1", &st);
    if (q == NULL)
        return st;
    st = sx_store_done(s, q, "resume commands");
    *n = st == SX_OK ? (size_t)sqlite3_changes(s->db) : 0;
    return st;
}

sx_status sx_agent_store_cmd_count(sx_agent_store *s, size_t *pending, size_t *taken)
{
    SX_ENSURE(s != NULL && pending != NULL && taken != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "SELECT coalesce(sum(taken = 0), 0), coalesce(sum(taken = 1), 0) FROM commands", &st);
    if (q == NULL)
        return st;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *pending = (size_t)sqlite3_column_int64(q, 0);
        *taken = (size_t)sqlite3_column_int64(q, 1);
    } else {
        st = sx_store_err(s, rc, "count commands");
    }
    sx_store_fin(s, q);
    return st;
}
