/* PostgreSQL for the routers' database stores (the SMP router's
 * store_queues/store_messages: database, the NTF router's store): a pool of
 * libpq connections to one schema, the router's migrations (given in the
 * settings) applied at open as the reference applies them (its migrations
 * table, one transaction per migration), and
 * prepared statements with binary parameters and results only: no value is
 * ever put into SQL text (the schema name, an identifier, is quoted).
 *
 * Thread-safe: a thread takes a connection with sx_pgdb_acquire (waiting
 * while all db_pool_size are in use) and gives it back. A connection found
 * broken is reset before it is handed out again. */
#ifndef SX_KIT_PGDB_H
#define SX_KIT_PGDB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "simplex/status.h"

typedef struct sx_pgdb sx_pgdb;

/* One migration of a router's schema. */
typedef struct sx_pg_migration {
    const char *name; /* as recorded in the migrations table */
    const char *up;
    const char *down; /* NULL: none (recorded as NULL) */
} sx_pg_migration;

typedef struct sx_pgdb_cfg {
    const char *conninfo;              /* db_connection (a libpq URI or key=value string) */
    const char *schema;                /* db_schema */
    int pool_size;                     /* db_pool_size, >= 1 */
    bool create_schema;                /* create it when absent (import); else absent is an error */
    bool migrate;                      /* apply missing migrations (else: refuse a schema that needs them) */
    const sx_pg_migration *migrations; /* the router's, ascending by name */
    size_t n_migrations;
    const char *pgcrypto_at; /* the migration before which pgcrypto must exist, or NULL */
    const char *absent_hint; /* what an absent schema's error begins with, or NULL */
} sx_pgdb_cfg;

/* One connection of the pool, with the statements prepared on it. */
typedef struct sx_pgconn {
    PGconn *pg;
    uint64_t prepared; /* bit i: statement id i */
} sx_pgconn;

/* A statement, prepared on a connection the first time it runs there.
 * ids are unique in the process and < 64 (each router numbers its own). */
typedef struct sx_pgstmt {
    int id;
    const char *sql;
} sx_pgstmt;

/* Whether the schema exists in the database conninfo names. SX_E_IO (err
 * says why) when the database cannot be reached. */
SX_MUST_CHECK sx_status sx_pgdb_schema_exists(const char *conninfo, const char *schema, bool *exists, char *err,
                                              size_t errlen);
/* Connects the pool, creates the schema when asked and applies the
 * migrations. SX_E_IO: cannot connect or a statement failed; SX_E_USAGE:
 * the schema is absent (and not to be created), or has migrations this
 * router does not know (a newer server's); err says which. */
SX_MUST_CHECK sx_status sx_pgdb_open(const sx_pgdb_cfg *c, sx_pgdb **out, char *err, size_t errlen);
void sx_pgdb_close(sx_pgdb *db);
/* Drops the schema with everything in it (database delete). */
SX_MUST_CHECK sx_status sx_pgdb_drop_schema(const char *conninfo, const char *schema, char *err, size_t errlen);

sx_pgconn *sx_pgdb_acquire(sx_pgdb *db);
void sx_pgdb_release(sx_pgdb *db, sx_pgconn *c);

/* Runs s with n binary parameters (vals[i] NULL = SQL NULL) and binary
 * results. NULL on failure (said through the router's log with what); the
 * caller PQclear()s a result. */
PGresult *sx_pgdb_run(sx_pgconn *c, const sx_pgstmt *s, int n, const char *const *vals, const int *lens,
                      const char *what);
/* Runs plain SQL (no parameters), e.g. BEGIN/COMMIT. */
SX_MUST_CHECK sx_status sx_pgdb_exec(sx_pgconn *c, const char *sql, const char *what);
/* Whether r is a success (command or rows). */
bool sx_pgdb_ok(const PGresult *r);

/* Binary values. A column value of row r, column col, as bytes (NULL
 * column: len 0 and ptr NULL); as a big-endian 8-byte integer or a 1-byte
 * boolean, false when the value is NULL or not of that size. */
sx_slice sx_pgdb_bytes(const PGresult *r, int row, int col);
bool sx_pgdb_i64(const PGresult *r, int row, int col, int64_t *out);
bool sx_pgdb_bool(const PGresult *r, int row, int col, bool *out);
void sx_pgdb_put_i64(uint8_t out[8], int64_t v);

#endif /* SX_KIT_PGDB_H */
