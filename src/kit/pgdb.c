/* PostgreSQL connections, pool and migrations of the routers' database
 * stores (see pgdb.h). */
#include "kit/pgdb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit/say.h"

struct sx_pgdb {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;
    sx_pgconn *conns;
    bool *busy;
    char *conninfo;
    char *schema;
};

/* The last line of libpq's message, without its newline. */
static void pg_err(PGconn *pg, const char *what, char *err, size_t errlen)
{
    const char *m = pg ? PQerrorMessage(pg) : "out of memory";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == '\r'))
        n--;
    snprintf(err, errlen, "%s: %.*s", what, (int)(n > 400 ? 400 : n), m);
}

static void say_pg(PGconn *pg, const char *what)
{
    char err[512];
    pg_err(pg, what, err, sizeof err);
    SX_SAY(SX_SAY_ERROR, "STORE: database: %s", err);
}

bool sx_pgdb_ok(const PGresult *r)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_SINGLE_TUPLE;
}

static sx_status exec_plain(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);
    bool ok = sx_pgdb_ok(r);
    if (!ok)
        pg_err(pg, what, err, errlen);
    PQclear(r);
    return ok ? SX_OK : SX_E_IO;
}

sx_status sx_pgdb_exec(sx_pgconn *c, const char *sql, const char *what)
{
    char err[512];
    sx_status st = exec_plain(c->pg, sql, what, err, sizeof err);
    if (st != SX_OK)
        SX_SAY(SX_SAY_ERROR, "STORE: database: %s", err);
    return st;
}

static PGconn *connect_db(const char *conninfo, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        pg_err(pg, "cannot connect to the database", err, errlen);
        PQfinish(pg);
        return NULL;
    }
    /* notices (such as "schema exists, skipping") are not for the log */
    PGresult *r = PQexec(pg, "SET client_min_messages TO WARNING");
    PQclear(r);
    return pg;
}

static sx_status schema_exists(PGconn *pg, const char *schema, bool *exists, char *err, size_t errlen)
{
    const char *vals[1] = {schema};
    PGresult *r = PQexecParams(pg, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", 1,
                               NULL, vals, NULL, NULL, 0);
    bool ok = sx_pgdb_ok(r) && PQntuples(r) == 1 && PQnfields(r) == 1;
    if (ok)
        *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    else
        pg_err(pg, "cannot read the database's schemas", err, errlen);
    PQclear(r);
    return ok ? SX_OK : SX_E_IO;
}

sx_status sx_pgdb_schema_exists(const char *conninfo, const char *schema, bool *exists, char *err, size_t errlen)
{
    *exists = false;
    PGconn *pg = connect_db(conninfo, err, errlen);
    if (!pg)
        return SX_E_IO;
    sx_status st = schema_exists(pg, schema, exists, err, errlen);
    PQfinish(pg);
    return st;
}

/* "<sql prefix> <quoted schema><suffix>" run on pg. */
static sx_status exec_with_schema(PGconn *pg, const char *prefix, const char *schema, const char *suffix,
                                  const char *what, char *err, size_t errlen)
{
    char *q = PQescapeIdentifier(pg, schema, strlen(schema));
    if (!q) {
        pg_err(pg, what, err, errlen);
        return SX_E_IO;
    }
    size_t n = strlen(prefix) + strlen(q) + strlen(suffix) + 2;
    char *sql = malloc(n);
    sx_status st = SX_E_NOMEM;
    if (sql) {
        snprintf(sql, n, "%s %s%s", prefix, q, suffix);
        st = exec_plain(pg, sql, what, err, errlen);
        free(sql);
    }
    PQfreemem(q);
    return st;
}

sx_status sx_pgdb_drop_schema(const char *conninfo, const char *schema, char *err, size_t errlen)
{
    PGconn *pg = connect_db(conninfo, err, errlen);
    if (!pg)
        return SX_E_IO;
    sx_status st = exec_with_schema(pg, "DROP SCHEMA", schema, " CASCADE", "cannot drop the schema", err, errlen);
    PQfinish(pg);
    return st;
}

/* A connection of the pool: search_path names the schema alone, as the
 * reference sets it (pgcrypto's digest is called as public.digest). */
static PGconn *pool_connect(const char *conninfo, const char *schema, char *err, size_t errlen)
{
    PGconn *pg = connect_db(conninfo, err, errlen);
    if (pg && exec_with_schema(pg, "SET search_path TO", schema, "", "cannot use the schema", err, errlen) != SX_OK) {
        PQfinish(pg);
        pg = NULL;
    }
    return pg;
}

/* ---- migrations ---------------------------------------------------------- */

static sx_status ensure_pgcrypto(PGconn *pg, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pgcrypto'");
    bool have = sx_pgdb_ok(r) && PQntuples(r) == 1;
    PQclear(r);
    if (have)
        return SX_OK;
    sx_status st = exec_plain(pg, "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public",
                              "the schema needs the pgcrypto extension (CREATE EXTENSION pgcrypto as a superuser)",
                              err, errlen);
    return st;
}

static sx_status apply_migration(PGconn *pg, const sx_pg_migration *m, char *err, size_t errlen)
{
    char what[128];
    snprintf(what, sizeof what, "migration %s", m->name);
    SX_TRY(exec_plain(pg, "BEGIN", what, err, errlen));
    const char *vals[2] = {m->name, m->down};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO migrations (name, down, ts) VALUES ($1, $2, now() AT TIME ZONE 'UTC')",
                               2, NULL, vals, NULL, NULL, 0);
    bool ok = sx_pgdb_ok(r);
    PQclear(r);
    sx_status st = ok ? exec_plain(pg, m->up, what, err, errlen) : SX_E_IO;
    if (!ok)
        pg_err(pg, what, err, errlen);
    if (st == SX_OK)
        st = exec_plain(pg, "COMMIT", what, err, errlen);
    if (st != SX_OK) {
        PGresult *rb = PQexec(pg, "ROLLBACK");
        PQclear(rb);
    }
    return st;
}

static sx_status migrate(PGconn *pg, const sx_pgdb_cfg *c, char *err, size_t errlen)
{
    SX_TRY(exec_plain(pg,
                      "CREATE TABLE IF NOT EXISTS migrations "
                      "(name TEXT NOT NULL PRIMARY KEY, ts TIMESTAMP NOT NULL, down TEXT)",
                      "cannot create the migrations table", err, errlen));
    PGresult *r = PQexec(pg, "SELECT name FROM migrations ORDER BY name ASC");
    if (!sx_pgdb_ok(r)) {
        pg_err(pg, "cannot read the migrations table", err, errlen);
        PQclear(r);
        return SX_E_IO;
    }
    size_t n = c->n_migrations;
    const sx_pg_migration *ms = c->migrations;
    size_t done = (size_t)PQntuples(r);
    /* applied must be a prefix of ours: anything else is another server's */
    for (size_t i = 0; i < done; i++) {
        const char *name = PQgetvalue(r, (int)i, 0);
        if (i >= n || strcmp(name, ms[i].name) != 0) {
            snprintf(err, errlen,
                     "the database schema has migration %s that this server does not know: it was used by a newer "
                     "server",
                     name);
            PQclear(r);
            return SX_E_USAGE;
        }
    }
    PQclear(r);
    if (done < n && !c->migrate) {
        snprintf(err, errlen, "the database schema needs migration %s", ms[done].name);
        return SX_E_USAGE;
    }
    for (size_t i = done; i < n; i++) {
        if (c->pgcrypto_at && strcmp(ms[i].name, c->pgcrypto_at) == 0)
            SX_TRY(ensure_pgcrypto(pg, err, errlen));
        SX_TRY(apply_migration(pg, &ms[i], err, errlen));
        SX_SAY(SX_SAY_NOTE, "Database: migration %s applied", ms[i].name);
    }
    return SX_OK;
}

/* ---- pool ---------------------------------------------------------------- */

void sx_pgdb_close(sx_pgdb *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n; i++)
        PQfinish(db->conns[i].pg);
    free(db->conns);
    free(db->busy);
    free(db->conninfo);
    free(db->schema);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

sx_status sx_pgdb_open(const sx_pgdb_cfg *c, sx_pgdb **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!c->conninfo || !c->schema || !c->schema[0] || c->pool_size < 1 || c->pool_size > 1000 || !c->migrations) {
        snprintf(err, errlen, "bad database settings");
        return SX_E_USAGE;
    }
    PGconn *pg = connect_db(c->conninfo, err, errlen);
    if (!pg)
        return SX_E_IO;
    bool exists = false;
    sx_status st = schema_exists(pg, c->schema, &exists, err, errlen);
    if (st == SX_OK && !exists) {
        if (c->create_schema)
            st = exec_with_schema(pg, "CREATE SCHEMA", c->schema, "", "cannot create the schema", err, errlen);
        else {
            snprintf(err, errlen, "%s%screate schema %s in PostgreSQL database %s",
                     c->absent_hint ? c->absent_hint : "", c->absent_hint ? ", " : "", c->schema, c->conninfo);
            st = SX_E_USAGE;
        }
    }
    if (st == SX_OK)
        st = exec_with_schema(pg, "SET search_path TO", c->schema, "", "cannot use the schema", err, errlen);
    if (st == SX_OK)
        st = migrate(pg, c, err, errlen);
    if (st != SX_OK) {
        PQfinish(pg);
        return st;
    }
    sx_pgdb *db = calloc(1, sizeof *db);
    if (!db) {
        PQfinish(pg);
        return SX_E_NOMEM;
    }
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    db->conns = calloc((size_t)c->pool_size, sizeof *db->conns);
    db->busy = calloc((size_t)c->pool_size, sizeof *db->busy);
    db->conninfo = strdup(c->conninfo);
    db->schema = strdup(c->schema);
    if (!db->conns || !db->busy || !db->conninfo || !db->schema) {
        PQfinish(pg);
        sx_pgdb_close(db);
        return SX_E_NOMEM;
    }
    db->conns[0].pg = pg;
    db->n = 1;
    for (int i = 1; i < c->pool_size; i++) {
        PGconn *more = pool_connect(c->conninfo, c->schema, err, errlen);
        if (!more) {
            sx_pgdb_close(db);
            return SX_E_IO;
        }
        db->conns[db->n++].pg = more;
    }
    *out = db;
    return SX_OK;
}

sx_pgconn *sx_pgdb_acquire(sx_pgdb *db)
{
    pthread_mutex_lock(&db->mu);
    for (;;) {
        for (size_t i = 0; i < db->n; i++) {
            if (!db->busy[i]) {
                db->busy[i] = true;
                pthread_mutex_unlock(&db->mu);
                sx_pgconn *c = &db->conns[i];
                if (PQstatus(c->pg) != CONNECTION_OK) {
                    /* the server went away: a new session, nothing prepared */
                    PQreset(c->pg);
                    c->prepared = 0;
                    if (PQstatus(c->pg) == CONNECTION_OK) {
                        char err[512];
                        PGresult *r = PQexec(c->pg, "SET client_min_messages TO WARNING");
                        PQclear(r);
                        if (exec_with_schema(c->pg, "SET search_path TO", db->schema, "", "cannot use the schema",
                                             err, sizeof err) != SX_OK)
                            SX_SAY(SX_SAY_ERROR, "STORE: database: %s", err);
                    }
                }
                return c;
            }
        }
        pthread_cond_wait(&db->cv, &db->mu);
    }
}

void sx_pgdb_release(sx_pgdb *db, sx_pgconn *c)
{
    pthread_mutex_lock(&db->mu);
    db->busy[c - db->conns] = false;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

PGresult *sx_pgdb_run(sx_pgconn *c, const sx_pgstmt *s, int n, const char *const *vals, const int *lens,
                      const char *what)
{
    char name[16];
    snprintf(name, sizeof name, "sx%d", s->id);
    uint64_t bit = (uint64_t)1 << s->id;
    if (!(c->prepared & bit)) {
        PGresult *p = PQprepare(c->pg, name, s->sql, n, NULL);
        bool ok = sx_pgdb_ok(p);
        PQclear(p);
        if (!ok) {
            say_pg(c->pg, what);
            return NULL;
        }
        c->prepared |= bit;
    }
    int fmts[16];
    for (int i = 0; i < n && i < 16; i++)
        fmts[i] = 1;
    if (n > 16)
        return NULL;
    PGresult *r = PQexecPrepared(c->pg, name, n, vals, lens, fmts, 1);
    if (!sx_pgdb_ok(r)) {
        say_pg(c->pg, what);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* ---- binary values ------------------------------------------------------- */

sx_slice sx_pgdb_bytes(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return sx_slice_of(NULL, 0);
    int len = PQgetlength(r, row, col);
    return sx_slice_of((const uint8_t *)PQgetvalue(r, row, col), len > 0 ? (size_t)len : 0);
}

bool sx_pgdb_i64(const PGresult *r, int row, int col, int64_t *out)
{
    sx_slice b = sx_pgdb_bytes(r, row, col);
    if (!b.ptr || b.len != 8)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | b.ptr[i];
    *out = (int64_t)v;
    return true;
}

bool sx_pgdb_bool(const PGresult *r, int row, int col, bool *out)
{
    sx_slice b = sx_pgdb_bytes(r, row, col);
    if (!b.ptr || b.len != 1)
        return false;
    *out = b.ptr[0] != 0;
    return true;
}

void sx_pgdb_put_i64(uint8_t out[8], int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)u;
        u >>= 8;
    }
}
