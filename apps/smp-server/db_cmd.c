/* `smp-server database import|export|delete [--table queues|messages|all]
 * [-d|--database DB_CONN] [--schema DB_SCHEMA] [--pool-size N]`: the store
 * log and the messages log moved into a PostgreSQL schema and back, with
 * the reference's checks, questions and messages. As in the reference, the
 * connection comes from the options (their defaults are the reference's),
 * not from the INI file; `delete` prints how to drop the schema. */
#include "db_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/router_cli.h"
#include "smp_router/config.h"
#include "smp_router/pgmigrate.h"

typedef enum table { T_ALL,
                     T_QUEUES,
                     T_MESSAGES } table;

typedef struct db_args {
    const char *sub;
    table t;
    const char *conn;
    const char *schema;
    int pool;
} db_args;

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void warn_line(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s\n", msg);
}

/* The reference's readStoreType hints after an import or export. */
typedef enum hint { H_IMPORT_ALL,
                    H_IMPORT_QUEUES,
                    H_EXPORT_QUEUES } hint;

static void print_hint(const sx_kit_paths *p, hint h)
{
    static sx_router_config cfg;
    char err[512] = "";
    if (sx_router_config_load(p, &cfg, err, sizeof err) != SX_OK) {
        printf("%s, configure storage correctly\n", err);
        return;
    }
    bool mem_msgs = !cfg.msgs_journal && !cfg.msgs_db;
    switch (h) {
    case H_IMPORT_ALL:
        puts(cfg.queues_db && cfg.msgs_db ? "store_queues and store_messages set to `database`, start the server."
                                          : "set store_queues and store_messages to `database` in INI file");
        break;
    case H_IMPORT_QUEUES:
        if (cfg.queues_db)
            puts("store_queues set to `database`, start the server.");
        else if (mem_msgs)
            puts("store_queues set to `memory`, update it to `database` in INI file\n"
                 "store_messages set to `memory`, import messages to journal to use PostgreSQL database for queues "
                 "(`smp-server journal import`)");
        else
            puts("store_queues set to `memory`, update it to `database` in INI file");
        break;
    case H_EXPORT_QUEUES:
        puts(cfg.queues_db ? "store_queues or store_messages set to `database`, update it to `memory` in INI file."
                           : "store_queues set to `memory`, start the server");
        break;
    }
}

static sx_pgdb *open_db(const db_args *a, bool create)
{
    sx_pgdb_cfg c = {.conninfo = a->conn, .schema = a->schema, .pool_size = 1, .create_schema = create, .migrate = true};
    sx_pg_smp_cfg(&c);
    char err[700];
    sx_pgdb *db = NULL;
    if (sx_pgdb_open(&c, &db, err, sizeof err) != SX_OK) {
        printf("Error: %s\n", err);
        return NULL;
    }
    return db;
}

static void no_schema(const db_args *a)
{
    printf("Schema %s does not exist in PostrgreSQL database: %s\n", a->schema, a->conn);
}

static int both_present(const sx_kit_paths *p, const db_args *a)
{
    printf("Error: both %s file and %s schema are present (database: %s).\nConfigure queue storage.\n", p->store_log,
           a->schema, a->conn);
    return 1;
}

static int import_queues(const sx_kit_paths *p, sx_pgdb *db, const char *done)
{
    sx_kit_log_opts o = {.warn = warn_line};
    sx_pgq_stats s = {0};
    sx_status st = sx_pgmigrate_import_queues(p->store_log, db, &o, &s);
    if (st != SX_OK) {
        printf("Error: import failed (%s)\n", sx_status_str(st));
        return 1;
    }
    char bak[SX_KIT_PATH_MAX + 8];
    snprintf(bak, sizeof bak, "%s.bak", p->store_log);
    if (rename(p->store_log, bak) != 0)
        printf("Warning: cannot rename %s to %s\n", p->store_log, bak);
    printf("%s: %zu services, %zu queues\n", done, s.services, s.queues);
    return 0;
}

static int import_msgs(const sx_kit_paths *p, sx_pgdb *db)
{
    int64_t have = 0;
    if (sx_pgmigrate_count_msgs(db, &have) != SX_OK) {
        printf("Error: cannot count the messages in the database\n");
        return 1;
    }
    if (have > 0 && !rcli_confirm("WARNING: the database contains messages, they will be deleted.",
                                  "Message records not imported"))
        return 1;
    sx_msglog_opts o = {.warn = warn_line};
    sx_msglog_stats s = {0};
    size_t n = 0;
    sx_status st = sx_pgmigrate_import_msgs(p->messages_log, db, have > 0, &o, &s, &n);
    if (st != SX_OK) {
        printf("Error: import failed (%s)\n", sx_status_str(st));
        return 1;
    }
    printf("Import completed: %zu messages\n", n);
    return 0;
}

static int export_queues(const sx_kit_paths *p, sx_pgdb *db, const char *done)
{
    sx_pgq_stats s = {0};
    sx_status st = sx_pgmigrate_export_queues(db, p->store_log, &s);
    if (st != SX_OK) {
        printf("Error: export failed (%s)\n", sx_status_str(st));
        return 1;
    }
    printf("%s: %zu services, %zu queues\n", done, s.services, s.queues);
    return 0;
}

static int export_msgs(const sx_kit_paths *p, sx_pgdb *db)
{
    size_t saved = 0, bad = 0;
    sx_status st = sx_pgmigrate_export_msgs(db, p->messages_log, &saved, &bad);
    if (st != SX_OK) {
        printf("Error exporting messages: %s\n", sx_status_str(st));
        return 1;
    }
    printf("Export completed: %zu messages\n", saved);
    if (bad)
        printf("Warning: %zu message rows could not be read\n", bad);
    return 0;
}

static int run(const sx_kit_paths *p, const db_args *a)
{
    bool schema = false;
    char err[700];
    if (sx_pgdb_schema_exists(a->conn, a->schema, &schema, err, sizeof err) != SX_OK) {
        printf("Error: %s\n", err);
        return 1;
    }
    bool log = is_file(p->store_log), msgs = is_file(p->messages_log);
    char w[3 * SX_KIT_PATH_MAX + 256];
    sx_pgdb *db = NULL;
    int rc = 1;
    if (strcmp(a->sub, "import") == 0 && a->t == T_ALL) {
        if (schema || !log || !msgs) {
            if (schema)
                printf("Schema %s already exists in PostrgreSQL database: %s\n", a->schema, a->conn);
            if (!log)
                printf("%s file does not exist.\n", p->store_log);
            if (!msgs)
                printf("%s file does not exist.\n", p->messages_log);
            return 1;
        }
        snprintf(w, sizeof w,
                 "WARNING: store log file %s and message log file %s will be imported to PostrgreSQL database: %s, "
                 "schema: %s",
                 p->store_log, p->messages_log, a->conn, a->schema);
        if (!rcli_confirm(w, "Store logs not imported") || !(db = open_db(a, true)))
            return 1;
        rc = import_queues(p, db, "Imported");
        if (rc == 0) {
            puts("Importing messages...");
            rc = import_msgs(p, db);
        }
        if (rc == 0)
            print_hint(p, H_IMPORT_ALL);
    } else if (strcmp(a->sub, "import") == 0 && a->t == T_QUEUES) {
        if (schema && log)
            return both_present(p, a);
        if (schema) {
            printf("Schema %s already exists in PostrgreSQL database: %s\n", a->schema, a->conn);
            return 1;
        }
        if (!log) {
            printf("%s file does not exist.\n", p->store_log);
            return 1;
        }
        snprintf(w, sizeof w, "WARNING: store log file %s will be compacted and imported to PostrgreSQL database: %s, "
                              "schema: %s",
                 p->store_log, a->conn, a->schema);
        if (!rcli_confirm(w, "Queue records not imported") || !(db = open_db(a, true)))
            return 1;
        rc = import_queues(p, db, "Import completed");
        if (rc == 0)
            print_hint(p, H_IMPORT_QUEUES);
    } else if (strcmp(a->sub, "import") == 0) {
        if (!schema) {
            no_schema(a);
            return 1;
        }
        if (!msgs) {
            printf("%s file does not exist.\n", p->messages_log);
            return 1;
        }
        snprintf(w, sizeof w, "WARNING: message log file %s will be imported to PostrgreSQL database %s, schema: %s",
                 p->messages_log, a->conn, a->schema);
        if (!rcli_confirm(w, "Message records not imported") || !(db = open_db(a, false)))
            return 1;
        rc = import_msgs(p, db);
        if (rc == 0)
            print_hint(p, H_IMPORT_ALL);
    } else if (strcmp(a->sub, "export") == 0 && a->t == T_ALL) {
        if (!schema || log || msgs) {
            if (!schema)
                no_schema(a);
            if (log)
                printf("%s file already exists.\n", p->store_log);
            if (msgs)
                printf("%s file already exists.\n", p->messages_log);
            return 1;
        }
        snprintf(w, sizeof w,
                 "WARNING: PostrgreSQL schema %s (database: %s) will be exported to store log file %s and to message "
                 "log file %s",
                 a->schema, a->conn, p->store_log, p->messages_log);
        if (!rcli_confirm(w, "Database store not exported") || !(db = open_db(a, false)))
            return 1;
        rc = export_queues(p, db, "Exported");
        if (rc == 0) {
            puts("Exporting messages...");
            rc = export_msgs(p, db);
        }
    } else if (strcmp(a->sub, "export") == 0 && a->t == T_QUEUES) {
        if (schema && log)
            return both_present(p, a);
        if (!schema) {
            no_schema(a);
            return 1;
        }
        if (log) {
            printf("%s file already exists.\n", p->store_log);
            return 1;
        }
        snprintf(w, sizeof w, "WARNING: PostrgreSQL schema %s (database: %s) will be exported to store log file %s",
                 a->schema, a->conn, p->store_log);
        if (!rcli_confirm(w, "Queue records not exported") || !(db = open_db(a, false)))
            return 1;
        rc = export_queues(p, db, "Export completed");
        if (rc == 0)
            print_hint(p, H_EXPORT_QUEUES);
    } else if (strcmp(a->sub, "export") == 0) {
        if (!schema) {
            no_schema(a);
            return 1;
        }
        if (msgs) {
            printf("%s file already exists.\n", p->messages_log);
            return 1;
        }
        snprintf(w, sizeof w,
                 "WARNING: Messages from PostrgreSQL schema %s (database: %s) will be exported to message log file %s",
                 a->schema, a->conn, p->messages_log);
        if (!rcli_confirm(w, "Message records not exported") || !(db = open_db(a, false)))
            return 1;
        rc = export_msgs(p, db);
        if (rc == 0)
            puts("Export queues with `smp-server database export --table queues`");
    } else { /* delete: as the reference, the operator drops the schema */
        if (!schema) {
            no_schema(a);
            return 1;
        }
        printf("Open database: psql %s\nDelete schema: DROP SCHEMA %s CASCADE;\n", a->conn, a->schema);
        return 0;
    }
    sx_pgdb_close(db);
    return rc;
}

static int usage_error(void)
{
    fprintf(stderr, "Usage: smp-server database import|export|delete [--table queues|messages|all]\n"
                    "         [-d|--database DB_CONN] [--schema DB_SCHEMA] [--pool-size N]\n");
    return 1;
}

int smp_cmd_database(const sx_kit_paths *paths, int argc, char **argv)
{
    db_args a = {.sub = argc > 1 ? argv[1] : "",
                 .t = T_ALL,
                 .conn = SX_PGDB_DEFAULT_CONNECTION,
                 .schema = SX_PGDB_DEFAULT_SCHEMA,
                 .pool = SX_PGDB_DEFAULT_POOL};
    if (strcmp(a.sub, "import") != 0 && strcmp(a.sub, "export") != 0 && strcmp(a.sub, "delete") != 0)
        return usage_error();
    for (int i = 2; i < argc; i += 2) { /* each option takes a value */
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage_error();
        if (strcmp(o, "--table") == 0) {
            if (strcmp(v, "queues") == 0)
                a.t = T_QUEUES;
            else if (strcmp(v, "messages") == 0)
                a.t = T_MESSAGES;
            else if (strcmp(v, "all") == 0)
                a.t = T_ALL;
            else
                return usage_error();
        } else if (strcmp(o, "-d") == 0 || strcmp(o, "--database") == 0) {
            a.conn = v;
        } else if (strcmp(o, "--schema") == 0) {
            a.schema = v;
        } else if (strcmp(o, "--pool-size") == 0) {
            a.pool = atoi(v);
            if (a.pool < 1)
                return usage_error();
        } else {
            return usage_error();
        }
    }
    if (!is_file(paths->ini)) {
        printf("Error: server is not initialized (%s does not exist).\nRun `smp-server init`.\n", paths->ini);
        return 1;
    }
    return run(paths, &a);
}
