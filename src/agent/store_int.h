/* What the agent store's files share (private to store*.c): the handle,
 * the statement and transaction helpers and the error mapping. */
#ifndef SX_AGENT_STORE_INT_H
#define SX_AGENT_STORE_INT_H

#include <sqlite3.h>

#include "agent/store.h"

typedef struct sx_agent_migration {
    int version;
    const char *name;
    const char *sql;
} sx_agent_migration;

/* The migrations in order, versions 1..n. */
const sx_agent_migration *sx_agent_store_migrations(size_t *n);

/* Prepared statements kept for reuse, by the address of their SQL text
 * (every statement of the store is a literal). */
#define SX_STORE_CACHE 80

typedef struct sx_store_cached {
    const char *sql;
    sqlite3_stmt *q;
    bool busy; /* handed out and not yet given back */
} sx_store_cached;

struct sx_agent_store {
    sqlite3 *db;
    sx_store_cached cache[SX_STORE_CACHE];
    size_t n_cache;
    int depth;      /* nesting of the store's own transaction frames */
    bool own_outer; /* the outermost frame began the transaction */
};

/* Maps a SQLite result to a status with a detail naming what failed. */
sx_status sx_store_err(sx_agent_store *s, int rc, const char *what);

/* A statement for sql (a literal: kept for reuse by its address), with no
 * bindings; on failure sets the detail and returns NULL with *st. Give it
 * back with sx_store_fin. */
sqlite3_stmt *sx_store_prep(sx_agent_store *s, const char *sql, sx_status *st);
/* Gives a statement back: reset for reuse when cached, else finalized.
 * Accepts NULL. */
void sx_store_fin(sx_agent_store *s, sqlite3_stmt *q);
/* Runs a statement that returns no rows to completion and finalizes it. */
sx_status sx_store_done(sx_agent_store *s, sqlite3_stmt *q, const char *what);
/* Runs SQL text without parameters (several statements allowed). */
sx_status sx_store_exec(sx_agent_store *s, const char *sql);
/* Runs one statement without parameters through the cache. */
sx_status sx_store_run(sx_agent_store *s, const char *sql);

/* The store's functions wrap their writes in tx_enter/tx_leave: a
 * transaction of their own (BEGIN IMMEDIATE) outside the caller's, a
 * savepoint inside it, so that a failure undoes only their part. */
sx_status sx_store_tx_enter(sx_agent_store *s);
sx_status sx_store_tx_leave(sx_agent_store *s, sx_status st);

/* Binding helpers: return the SQLite code. */
int sx_store_bind_id(sqlite3_stmt *q, int i, const sx_agent_id *id);
int sx_store_bind_bytes(sqlite3_stmt *q, int i, const void *p, size_t n);
/* Copies a blob column of exactly n bytes (or up to max with *len):
 * false when the stored length is wrong. */
bool sx_store_col_fixed(sqlite3_stmt *q, int col, uint8_t *out, size_t n);
bool sx_store_col_var(sqlite3_stmt *q, int col, uint8_t *out, size_t max, size_t *len);
/* A malloc'd copy of a blob column (NULL for an empty one). */
sx_status sx_store_col_blob(sqlite3_stmt *q, int col, sx_agent_blob *out);

/* After a delivery of a sent message: when none is left, deletes it, or
 * (keep, no ok receipt yet) clears its body and key (store_rcpt.c). */
sx_status sx_store_snd_msg_settle(sx_agent_store *s, const sx_agent_id *conn, int64_t internal_id,
                                  bool keep);

int64_t sx_store_now(void);
void sx_store_new_id(sx_agent_id *id);

#endif
