/* The agent store's ratchets: the X3DH private keys kept until the ratchet
 * exists, then the ratchet's state (crypto/ratchet.h's storage encoding,
 * without the skipped keys) and its skipped message keys, one row each. The
 * bytes read back go through the decoders as untrusted input. */
#include "agent/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

/* Larger than the longest state (both KEM key pairs and a ciphertext) and
 * the longest X3DH private half. */
#define STATE_BUF 8192

static sx_status bad(const char *what)
{
    return sx_error_set(SX_E_PROTOCOL, NULL, "agent store: the stored %s does not decode", what);
}

/* The handshake's keys go in x3dh_private (with the version), a
 * re-synchronisation's in sync_x3dh_private (the version first in the
 * blob): message steps clear the first, not the second. */
static sx_status keys_save(sx_agent_store *s, const sx_agent_id *conn, uint16_t e2e_version,
                           const sx_e2e_private *priv, bool sync)
{
    SX_ENSURE(s != NULL && conn != NULL && priv != NULL, SX_E_USAGE);
    uint8_t *buf = malloc(STATE_BUF);
    if (buf == NULL)
        return SX_E_NOMEM;
    sx_writer w;
    sx_writer_init_fixed(&w, buf, STATE_BUF);
    if (sync)
        sx_write_u16(&w, e2e_version);
    sx_e2e_private_write(&w, priv);
    sx_status st = sx_writer_status(&w);
    sqlite3_stmt *q = NULL;
    if (st == SX_OK && sync)
        q = sx_store_prep(s, "UPDATE ratchets SET sync_x3dh_private = ? WHERE conn_id = ?", &st);
    else if (st == SX_OK)
        q = sx_store_prep(s,
                          "INSERT INTO ratchets(conn_id, e2e_version, x3dh_private) VALUES (?, ?, ?) "
                          "ON CONFLICT(conn_id) DO UPDATE SET e2e_version = excluded.e2e_version, "
                          "x3dh_private = excluded.x3dh_private",
                          &st);
    if (q != NULL && sync) {
        sx_store_bind_bytes(q, 1, buf, w.len);
        sx_store_bind_id(q, 2, conn);
        st = sx_store_done(s, q, "store X3DH keys");
        if (st == SX_OK && sqlite3_changes(s->db) != 1)
            st = sx_error_set(SX_E_USAGE, NULL, "agent store: no ratchet for this connection");
    } else if (q != NULL) {
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int(q, 2, e2e_version);
        sx_store_bind_bytes(q, 3, buf, w.len);
        st = sx_store_done(s, q, "store X3DH keys");
    }
    sx_wipe(buf, STATE_BUF);
    free(buf);
    return st;
}

static sx_status keys_get(sx_agent_store *s, const sx_agent_id *conn, uint16_t *e2e_version,
                          sx_e2e_private *priv, bool sync)
{
    SX_ENSURE(s != NULL && conn != NULL && e2e_version != NULL && priv != NULL, SX_E_USAGE);
    memset(priv, 0, sizeof *priv);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s,
        sync ? "SELECT 0, sync_x3dh_private FROM ratchets WHERE conn_id = ?"
             : "SELECT e2e_version, x3dh_private FROM ratchets WHERE conn_id = ?",
        &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW && sqlite3_column_type(q, 1) != SQLITE_NULL) {
        int v = sqlite3_column_int(q, 0);
        sx_reader r;
        sx_reader_init(&r, sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1));
        uint16_t sv = 0;
        if (sync && sx_read_u16(&r, &sv))
            v = sv;
        sx_e2e_private_read(&r, priv);
        if (v < 0 || v > UINT16_MAX || sx_reader_finish(&r) != SX_OK) {
            sx_e2e_private_wipe(priv);
            st = bad("X3DH keys");
        } else {
            *e2e_version = (uint16_t)v;
        }
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        st = sx_error_set(SX_E_USAGE, NULL, "agent store: no X3DH keys for this connection");
    } else {
        st = sx_store_err(s, rc, "read X3DH keys");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_x3dh_save(sx_agent_store *s, const sx_agent_id *conn, uint16_t e2e_version,
                                   const sx_e2e_private *priv)
{
    return keys_save(s, conn, e2e_version, priv, false);
}

sx_status sx_agent_store_x3dh_get(sx_agent_store *s, const sx_agent_id *conn,
                                  uint16_t *e2e_version, sx_e2e_private *priv)
{
    return keys_get(s, conn, e2e_version, priv, false);
}

sx_status sx_agent_store_sync_keys_save(sx_agent_store *s, const sx_agent_id *conn,
                                        uint16_t e2e_version, const sx_e2e_private *priv)
{
    return keys_save(s, conn, e2e_version, priv, true);
}

sx_status sx_agent_store_sync_keys_get(sx_agent_store *s, const sx_agent_id *conn,
                                       uint16_t *e2e_version, sx_e2e_private *priv)
{
    return keys_get(s, conn, e2e_version, priv, true);
}

sx_status sx_agent_store_sync_keys_clear(sx_agent_store *s, const sx_agent_id *conn)
{
    SX_ENSURE(s != NULL && conn != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "UPDATE ratchets SET sync_x3dh_private = NULL WHERE conn_id = ?", &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    return sx_store_done(s, q, "clear X3DH keys");
}

/* Brings the connection's skipped-key rows to r's list. The ratchet only
 * removes keys and appends new ones, so the rows are walked in order beside
 * the list: a row equal to the next key stays, any other row goes, and the
 * keys left over are appended. The result is r's list in r's order for any
 * list; in the usual case only the changed rows are written. */
static sx_status save_skipped(sx_agent_store *s, const sx_agent_id *conn, const sx_ratchet *r)
{
    sx_status st;
    sqlite3_stmt *rows = sx_store_prep(s,
                                       "SELECT ord, header_key, msg_n, msg_key, msg_iv FROM "
                                       "skipped_keys WHERE conn_id = ? ORDER BY ord",
                                       &st);
    if (rows == NULL)
        return st;
    sqlite3_stmt *del = sx_store_prep(s, "DELETE FROM skipped_keys WHERE conn_id = ? AND ord = ?",
                                      &st);
    sqlite3_stmt *ins = NULL;
    if (del != NULL)
        ins = sx_store_prep(s,
                            "INSERT INTO skipped_keys(conn_id, ord, header_key, msg_n, msg_key, "
                            "msg_iv) VALUES (?, ?, ?, ?, ?, ?)",
                            &st);
    sx_store_bind_id(rows, 1, conn);
    /* First the walk (rows to drop noted), then the writes: no row of the
     * table changes under the open SELECT. */
    size_t j = 0, n_drop = 0, cap = 0;
    int64_t next_ord = 0, *drop = NULL;
    int rc = SQLITE_DONE;
    while (st == SX_OK && ins != NULL && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        int64_t ord = sqlite3_column_int64(rows, 0);
        if (ord >= next_ord)
            next_ord = ord + 1;
        const sx_ratchet_skipped *k = j < r->n_skipped ? &r->skipped[j] : NULL;
        if (k != NULL && sqlite3_column_int64(rows, 2) == (int64_t)k->n &&
            sqlite3_column_bytes(rows, 1) == (int)sizeof k->hk &&
            memcmp(sqlite3_column_blob(rows, 1), k->hk, sizeof k->hk) == 0 &&
            sqlite3_column_bytes(rows, 3) == (int)sizeof k->mk &&
            memcmp(sqlite3_column_blob(rows, 3), k->mk, sizeof k->mk) == 0 &&
            sqlite3_column_bytes(rows, 4) == (int)sizeof k->iv &&
            memcmp(sqlite3_column_blob(rows, 4), k->iv, sizeof k->iv) == 0) {
            j++;
            continue;
        }
        if (n_drop == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *grown = realloc(drop, cap * sizeof *drop);
            if (grown == NULL) {
                st = SX_E_NOMEM;
                break;
            }
            drop = grown;
        }
        drop[n_drop++] = ord;
    }
    if (st == SX_OK && ins != NULL && rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "read skipped keys");
    sx_store_fin(s, rows);
    for (size_t i = 0; st == SX_OK && i < n_drop; i++) {
        sqlite3_reset(del);
        sx_store_bind_id(del, 1, conn);
        sqlite3_bind_int64(del, 2, drop[i]);
        int drc = sqlite3_step(del);
        if (drc != SQLITE_DONE)
            st = sx_store_err(s, drc, "drop a skipped key");
    }
    free(drop);
    for (; st == SX_OK && ins != NULL && j < r->n_skipped; j++) {
        const sx_ratchet_skipped *k = &r->skipped[j];
        sqlite3_reset(ins);
        sx_store_bind_id(ins, 1, conn);
        sqlite3_bind_int64(ins, 2, next_ord++);
        sx_store_bind_bytes(ins, 3, k->hk, sizeof k->hk);
        sqlite3_bind_int64(ins, 4, k->n);
        sx_store_bind_bytes(ins, 5, k->mk, sizeof k->mk);
        sx_store_bind_bytes(ins, 6, k->iv, sizeof k->iv);
        int irc = sqlite3_step(ins);
        if (irc != SQLITE_DONE)
            st = sx_store_err(s, irc, "store a skipped key");
    }
    sx_store_fin(s, del);
    sx_store_fin(s, ins);
    return st;
}

sx_status sx_agent_store_ratchet_save(sx_agent_store *s, const sx_agent_id *conn,
                                      const sx_ratchet *r)
{
    SX_ENSURE(s != NULL && conn != NULL && r != NULL, SX_E_USAGE);
    SX_ENSURE(r->n_skipped <= SX_RATCHET_MAX_SKIPPED_KEYS, SX_E_USAGE);
    uint8_t *buf = malloc(STATE_BUF);
    if (buf == NULL)
        return SX_E_NOMEM;
    /* The state without its skipped keys: those go to their own rows. */
    sx_ratchet core = *r;
    core.skipped = NULL;
    core.n_skipped = 0;
    sx_writer w;
    sx_writer_init_fixed(&w, buf, STATE_BUF);
    sx_ratchet_write(&w, &core);
    sx_wipe(&core, sizeof core);
    sx_status st = sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_store_tx_enter(s);
    if (st != SX_OK) {
        sx_wipe(buf, STATE_BUF);
        free(buf);
        return st;
    }
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO ratchets(conn_id, e2e_version, x3dh_private, ratchet_state) "
           "VALUES (?, ?, NULL, ?) ON CONFLICT(conn_id) DO UPDATE SET "
           "e2e_version = excluded.e2e_version, x3dh_private = NULL, "
           "ratchet_state = excluded.ratchet_state",
        &st);
    if (q != NULL) {
        sx_store_bind_id(q, 1, conn);
        sqlite3_bind_int(q, 2, r->current);
        sx_store_bind_bytes(q, 3, buf, w.len);
        st = sx_store_done(s, q, "store the ratchet");
    }
    sx_wipe(buf, STATE_BUF);
    free(buf);
    if (st == SX_OK)
        st = save_skipped(s, conn, r);
    return sx_store_tx_leave(s, st);
}

static sx_status load_skipped(sx_agent_store *s, const sx_agent_id *conn, sx_ratchet *r)
{
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "SELECT header_key, msg_n, msg_key, msg_iv FROM skipped_keys "
                                    "WHERE conn_id = ? ORDER BY ord LIMIT ?",
                                    &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sqlite3_bind_int(q, 2, SX_RATCHET_MAX_SKIPPED_KEYS + 1);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (r->n_skipped == SX_RATCHET_MAX_SKIPPED_KEYS) {
            st = bad("skipped keys (too many)");
            break;
        }
        if (r->n_skipped == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            sx_ratchet_skipped *grown = calloc(ncap, sizeof *grown);
            if (grown == NULL) {
                st = SX_E_NOMEM;
                break;
            }
            if (r->skipped != NULL) {
                memcpy(grown, r->skipped, r->n_skipped * sizeof *grown);
                sx_wipe(r->skipped, cap * sizeof *grown);
                free(r->skipped);
            }
            r->skipped = grown;
            cap = ncap;
        }
        sx_ratchet_skipped *k = &r->skipped[r->n_skipped];
        int64_t n = sqlite3_column_int64(q, 1);
        if (n < 0 || n > UINT32_MAX || !sx_store_col_fixed(q, 0, k->hk, sizeof k->hk) ||
            !sx_store_col_fixed(q, 2, k->mk, sizeof k->mk) ||
            !sx_store_col_fixed(q, 3, k->iv, sizeof k->iv)) {
            st = bad("skipped key");
            break;
        }
        k->n = (uint32_t)n;
        r->n_skipped++;
    }
    if (st == SX_OK && rc != SQLITE_DONE)
        st = sx_store_err(s, rc, "read skipped keys");
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_ratchet_get(sx_agent_store *s, const sx_agent_id *conn, sx_ratchet *r)
{
    SX_ENSURE(s != NULL && conn != NULL && r != NULL, SX_E_USAGE);
    memset(r, 0, sizeof *r);
    /* Both reads in one transaction: another process may be writing. */
    SX_TRY(sx_store_tx_enter(s));
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "SELECT ratchet_state FROM ratchets WHERE conn_id = ?", &st);
    if (q == NULL)
        return sx_store_tx_leave(s, st);
    sx_store_bind_id(q, 1, conn);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
        sx_slice in = sx_slice_of(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0));
        st = sx_ratchet_read(in, r);
        if (st == SX_OK && r->n_skipped != 0)
            st = SX_E_PROTOCOL; /* the store keeps them in their own rows */
        if (st == SX_E_PROTOCOL)
            st = bad("ratchet");
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        st = sx_error_set(SX_E_USAGE, NULL, "agent store: no ratchet for this connection yet");
    } else {
        st = sx_store_err(s, rc, "read the ratchet");
    }
    sx_store_fin(s, q);
    if (st == SX_OK)
        st = load_skipped(s, conn, r);
    if (st != SX_OK)
        sx_ratchet_cleanup(r);
    return sx_store_tx_leave(s, st);
}

sx_status sx_agent_store_rkey_hash_add(sx_agent_store *s, const sx_agent_id *conn,
                                       const uint8_t hash[SX_AGENT_HASH_LEN], bool *seen)
{
    SX_ENSURE(s != NULL && conn != NULL && hash != NULL && seen != NULL, SX_E_USAGE);
    *seen = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s,
                                    "INSERT OR IGNORE INTO processed_ratchet_key_hashes(conn_id, "
                                    "hash, created_at) VALUES (?, ?, ?)",
                                    &st);
    if (q == NULL)
        return st;
    sx_store_bind_id(q, 1, conn);
    sx_store_bind_bytes(q, 2, hash, SX_AGENT_HASH_LEN);
    sqlite3_bind_int64(q, 3, sx_store_now());
    st = sx_store_done(s, q, "record a ratchet key hash");
    if (st == SX_OK)
        *seen = sqlite3_changes(s->db) == 0;
    return st;
}
