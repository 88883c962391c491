/* The agent store: opening the SQLite file (WAL, busy timeout, foreign
 * keys, full sync), migrations, transactions, the error mapping and the
 * small tables (settings, users, servers). See store.h. */
#include "agent/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "crypto/util.h"

#define BUSY_TIMEOUT_MS 10000

/* ---- errors and statements ----------------------------------------------- */

sx_status sx_store_err(sx_agent_store *s, int rc, const char *what)
{
    sx_status st;
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return SX_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        st = SX_E_WOULD_BLOCK;
        break;
    case SQLITE_NOMEM:
        st = SX_E_NOMEM;
        break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        st = SX_E_USAGE;
        break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
        st = SX_E_PROTOCOL;
        break;
    case SQLITE_ERROR:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_SCHEMA:
        st = SX_E_INTERNAL;
        break;
    default: /* IOERR, FULL, CANTOPEN, READONLY, PERM, PROTOCOL, ... */
        st = SX_E_IO;
        break;
    }
    const char *msg = s != NULL && s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    return sx_error_set(st, NULL, "agent store: %s: %s", what, msg);
}

sqlite3_stmt *sx_store_prep(sx_agent_store *s, const char *sql, sx_status *st)
{
    sx_store_cached *slot = NULL;
    for (size_t i = 0; i < s->n_cache; i++)
        if (s->cache[i].sql == sql) {
            if (s->cache[i].busy)
                break; /* in use higher up: a fresh one, not kept */
            s->cache[i].busy = true;
            *st = SX_OK;
            return s->cache[i].q;
        }
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(q);
        *st = sx_store_err(s, rc, "prepare");
        return NULL;
    }
    bool known = false;
    for (size_t i = 0; i < s->n_cache && !known; i++)
        known = s->cache[i].sql == sql;
    if (!known && s->n_cache < SX_STORE_CACHE) {
        slot = &s->cache[s->n_cache++];
        slot->sql = sql;
        slot->q = q;
        slot->busy = true;
    }
    *st = SX_OK;
    return q;
}

void sx_store_fin(sx_agent_store *s, sqlite3_stmt *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < s->n_cache; i++)
        if (s->cache[i].q == q) {
            sqlite3_reset(q);
            sqlite3_clear_bindings(q);
            s->cache[i].busy = false;
            return;
        }
    sqlite3_finalize(q);
}

sx_status sx_store_run(sx_agent_store *s, const char *sql)
{
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, sql, &st);
    if (q == NULL)
        return st;
    return sx_store_done(s, q, sql);
}

sx_status sx_store_done(sx_agent_store *s, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step(q);
    sx_status st = rc == SQLITE_DONE || rc == SQLITE_ROW ? SX_OK : sx_store_err(s, rc, what);
    sx_store_fin(s, q);
    return st;
}

sx_status sx_store_exec(sx_agent_store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? SX_OK : sx_store_err(s, rc, "exec");
}

int sx_store_bind_id(sqlite3_stmt *q, int i, const sx_agent_id *id)
{
    return sqlite3_bind_blob(q, i, id->b, SX_AGENT_ID_LEN, SQLITE_TRANSIENT);
}

int sx_store_bind_bytes(sqlite3_stmt *q, int i, const void *p, size_t n)
{
    /* An empty blob, not NULL, for columns declared NOT NULL. */
    static const uint8_t empty[1];
    return sqlite3_bind_blob(q, i, n > 0 ? p : empty, (int)n, SQLITE_TRANSIENT);
}

bool sx_store_col_fixed(sqlite3_stmt *q, int col, uint8_t *out, size_t n)
{
    const void *p = sqlite3_column_blob(q, col);
    if ((size_t)sqlite3_column_bytes(q, col) != n || (n > 0 && p == NULL))
        return false;
    memcpy(out, p, n);
    return true;
}

bool sx_store_col_var(sqlite3_stmt *q, int col, uint8_t *out, size_t max, size_t *len)
{
    const void *p = sqlite3_column_blob(q, col);
    size_t n = (size_t)sqlite3_column_bytes(q, col);
    if (n > max || (n > 0 && p == NULL))
        return false;
    if (n > 0)
        memcpy(out, p, n);
    *len = n;
    return true;
}

sx_status sx_store_col_blob(sqlite3_stmt *q, int col, sx_agent_blob *out)
{
    out->ptr = NULL;
    out->len = 0;
    const void *p = sqlite3_column_blob(q, col);
    size_t n = (size_t)sqlite3_column_bytes(q, col);
    if (n == 0)
        return SX_OK;
    if (p == NULL || (out->ptr = malloc(n)) == NULL)
        return SX_E_NOMEM;
    memcpy(out->ptr, p, n);
    out->len = n;
    return SX_OK;
}

void sx_agent_blob_free(sx_agent_blob *b)
{
    if (b == NULL)
        return;
    if (b->ptr != NULL) {
        sx_wipe(b->ptr, b->len);
        free(b->ptr);
    }
    b->ptr = NULL;
    b->len = 0;
}

int64_t sx_store_now(void)
{
    return (int64_t)time(NULL);
}

/* ---- transactions --------------------------------------------------------- */

sx_status sx_store_tx_enter(sx_agent_store *s)
{
    sx_status st;
    bool own = s->depth == 0 && sqlite3_get_autocommit(s->db);
    st = sx_store_run(s, own ? "BEGIN IMMEDIATE" : "SAVEPOINT sx_store");
    if (st != SX_OK)
        return st;
    if (s->depth == 0)
        s->own_outer = own;
    s->depth++;
    return SX_OK;
}

sx_status sx_store_tx_leave(sx_agent_store *s, sx_status st)
{
    s->depth--;
    if (s->depth == 0 && s->own_outer) {
        s->own_outer = false;
        if (st == SX_OK) {
            st = sx_store_run(s, "COMMIT");
            if (st == SX_OK)
                return SX_OK;
        }
        if (!sqlite3_get_autocommit(s->db))
            (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    if (st != SX_OK) {
        (void)sqlite3_exec(s->db, "ROLLBACK TO sx_store", NULL, NULL, NULL);
        (void)sqlite3_exec(s->db, "RELEASE sx_store", NULL, NULL, NULL);
        return st;
    }
    return sx_store_run(s, "RELEASE sx_store");
}

sx_status sx_agent_store_begin(sx_agent_store *s)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    if (!sqlite3_get_autocommit(s->db))
        return sx_error_set(SX_E_USAGE, NULL, "agent store: a transaction is open already");
    return sx_store_run(s, "BEGIN IMMEDIATE");
}

sx_status sx_agent_store_commit(sx_agent_store *s)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    if (sqlite3_get_autocommit(s->db))
        return sx_error_set(SX_E_USAGE, NULL, "agent store: no transaction to commit");
    sx_status st = sx_store_run(s, "COMMIT");
    if (st != SX_OK && !sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

void sx_agent_store_rollback(sx_agent_store *s)
{
    if (s != NULL && s->db != NULL && !sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

bool sx_agent_store_in_tx(const sx_agent_store *s)
{
    return s != NULL && s->db != NULL && !sqlite3_get_autocommit(s->db);
}

/* ---- opening and migrations ----------------------------------------------- */

static sx_status current_version(sx_agent_store *s, int *v)
{
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "SELECT coalesce(max(version), 0) FROM schema_migrations", &st);
    if (q == NULL)
        return st;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int(q, 0);
    else
        st = sx_store_err(s, rc, "read the schema version");
    sx_store_fin(s, q);
    return st;
}

static sx_status migrate_one(sx_agent_store *s, const sx_agent_migration *m, size_t known)
{
    SX_TRY(sx_store_exec(s, "BEGIN IMMEDIATE"));
    int v = 0;
    sx_status st = current_version(s, &v);
    if (st == SX_OK && v > (int)known)
        st = sx_error_set(SX_E_PROTOCOL, NULL,
                          "agent store: the database has schema version %d, newer than the %d "
                          "this program knows; use a newer program",
                          v, (int)known);
    if (st == SX_OK && v < m->version) {
        if (v != m->version - 1)
            st = sx_error_set(SX_E_INTERNAL, NULL, "agent store: migration %d after %d", m->version,
                              v);
        if (st == SX_OK)
            st = sx_store_exec(s, m->sql);
        sqlite3_stmt *q = NULL;
        if (st == SX_OK)
            q = sx_store_prep(
                s, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                &st);
        if (q != NULL) {
            sqlite3_bind_int(q, 1, m->version);
            sqlite3_bind_text(q, 2, m->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, sx_store_now());
            st = sx_store_done(s, q, "record the migration");
        }
    }
    if (st == SX_OK)
        st = sx_store_exec(s, "COMMIT");
    if (st != SX_OK)
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

static sx_status migrate(sx_agent_store *s, int target)
{
    size_t n;
    const sx_agent_migration *m = sx_agent_store_migrations(&n);
    SX_TRY(sx_store_exec(s, "CREATE TABLE IF NOT EXISTS schema_migrations(\n"
                            "  version INTEGER PRIMARY KEY,\n"
                            "  name TEXT NOT NULL,\n"
                            "  applied_at INTEGER NOT NULL\n"
                            ") STRICT"));
    int v = 0;
    SX_TRY(current_version(s, &v));
    if (v > (int)n)
        return sx_error_set(SX_E_PROTOCOL, NULL,
                            "agent store: the database has schema version %d, newer than the %d "
                            "this program knows; use a newer program",
                            v, (int)n);
    for (size_t i = 0; i < n && m[i].version <= target; i++)
        SX_TRY(migrate_one(s, &m[i], n));
    return SX_OK;
}

sx_status sx_agent_store_open(const char *path, int target, sx_agent_store **out)
{
    SX_ENSURE(path != NULL && out != NULL, SX_E_USAGE);
    *out = NULL;
    if (target == 0)
        target = SX_AGENT_STORE_SCHEMA;
    SX_ENSURE(target > 0 && target <= SX_AGENT_STORE_SCHEMA, SX_E_USAGE);
    sx_agent_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SX_E_NOMEM;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    sx_status st = SX_OK;
    if (rc != SQLITE_OK) {
        st = s->db != NULL ? sx_store_err(s, rc, path)
                           : sx_error_set(SX_E_NOMEM, NULL, "agent store: %s", path);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* WAL lets readers run beside one writer (a listen beside a send); a
     * full sync makes a commit survive power loss: a ratchet advance that
     * was sent must not be forgotten. */
    st = sx_store_exec(s, "PRAGMA journal_mode=WAL");
    if (st == SX_OK)
        st = sx_store_exec(s, "PRAGMA synchronous=FULL");
    if (st == SX_OK)
        st = sx_store_exec(s, "PRAGMA foreign_keys=ON");
    if (st == SX_OK)
        st = migrate(s, target);
    if (st != SX_OK)
        goto fail;
    *out = s;
    return SX_OK;
fail:
    for (size_t i = 0; i < s->n_cache; i++)
        sqlite3_finalize(s->cache[i].q);
    sqlite3_close(s->db);
    free(s);
    return st;
}

void sx_agent_store_close(sx_agent_store *s)
{
    if (s == NULL)
        return;
    sx_agent_store_rollback(s);
    for (size_t i = 0; i < s->n_cache; i++)
        sqlite3_finalize(s->cache[i].q);
    sqlite3_close(s->db);
    free(s);
}

sx_status sx_agent_store_schema(sx_agent_store *s, int *version)
{
    SX_ENSURE(s != NULL && version != NULL, SX_E_USAGE);
    return current_version(s, version);
}

void sx_agent_store_set_busy_timeout(sx_agent_store *s, int ms)
{
    if (s != NULL)
        sqlite3_busy_timeout(s->db, ms);
}

/* ---- settings, users, servers --------------------------------------------- */

sx_status sx_agent_store_setting_set(sx_agent_store *s, const char *key, sx_slice value)
{
    SX_ENSURE(s != NULL && key != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO settings(key, value) VALUES (?, ?) "
           "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        &st);
    if (q == NULL)
        return st;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
    sx_store_bind_bytes(q, 2, value.ptr, value.len);
    return sx_store_done(s, q, "set a setting");
}

sx_status sx_agent_store_setting_get(sx_agent_store *s, const char *key, sx_agent_blob *value,
                                     bool *found)
{
    SX_ENSURE(s != NULL && key != NULL && value != NULL && found != NULL, SX_E_USAGE);
    value->ptr = NULL;
    value->len = 0;
    *found = false;
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "SELECT value FROM settings WHERE key = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *found = true;
        st = sx_store_col_blob(q, 0, value);
    } else if (rc != SQLITE_DONE) {
        st = sx_store_err(s, rc, "read a setting");
    }
    sx_store_fin(s, q);
    return st;
}

sx_status sx_agent_store_user_create(sx_agent_store *s, int64_t *user_id)
{
    SX_ENSURE(s != NULL && user_id != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "INSERT INTO users(deleted) VALUES (0)", &st);
    if (q == NULL)
        return st;
    st = sx_store_done(s, q, "create a user");
    if (st == SX_OK)
        *user_id = sqlite3_last_insert_rowid(s->db);
    return st;
}

sx_status sx_agent_store_user_delete(sx_agent_store *s, int64_t user_id)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(s, "DELETE FROM users WHERE user_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, user_id);
    st = sx_store_done(s, q, "delete a user");
    if (st == SX_OK && sqlite3_changes(s->db) == 0)
        st = sx_error_set(SX_E_USAGE, NULL, "agent store: no user %lld", (long long)user_id);
    return st;
}

sx_status sx_agent_store_server_get_or_create(sx_agent_store *s, const char *host,
                                              const char *port, sx_slice key_hash,
                                              int64_t *server_id)
{
    SX_ENSURE(s != NULL && host != NULL && port != NULL && server_id != NULL, SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q = sx_store_prep(
        s, "INSERT INTO servers(host, port, key_hash) VALUES (?, ?, ?) "
           "ON CONFLICT(host, port) DO UPDATE SET key_hash = excluded.key_hash "
           "RETURNING server_id",
        &st);
    if (q == NULL)
        return st;
    sqlite3_bind_text(q, 1, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, port, -1, SQLITE_TRANSIENT);
    sx_store_bind_bytes(q, 3, key_hash.ptr, key_hash.len);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *server_id = sqlite3_column_int64(q, 0);
    else
        st = sx_store_err(s, rc, "store a server");
    sx_store_fin(s, q);
    return st;
}

/* Random ids for connections, confirmations and invitations. */
void sx_store_new_id(sx_agent_id *id)
{
    sx_random_bytes(id->b, sizeof id->b);
}

sx_status sx_agent_store_server_get(sx_agent_store *s, int64_t server_id, char *host,
                                    size_t host_cap, char *port, size_t port_cap,
                                    uint8_t key_hash[64], size_t *key_hash_len)
{
    SX_ENSURE(s != NULL && host != NULL && port != NULL && key_hash != NULL &&
                  key_hash_len != NULL && host_cap > 0 && port_cap > 0,
              SX_E_USAGE);
    sx_status st;
    sqlite3_stmt *q =
        sx_store_prep(s, "SELECT host, port, key_hash FROM servers WHERE server_id = ?", &st);
    if (q == NULL)
        return st;
    sqlite3_bind_int64(q, 1, server_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(q, 0);
        const unsigned char *p = sqlite3_column_text(q, 1);
        if (!sx_str_copy(host, host_cap, h ? (const char *)h : "") ||
            !sx_str_copy(port, port_cap, p ? (const char *)p : "") ||
            !sx_store_col_var(q, 2, key_hash, 64, key_hash_len))
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent store: a server row does not fit");
    } else if (rc == SQLITE_DONE) {
        st = sx_error_set(SX_E_USAGE, NULL, "agent store: no such server");
    } else {
        st = sx_store_err(s, rc, "read a server");
    }
    sx_store_fin(s, q);
    return st;
}
