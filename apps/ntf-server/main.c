/* ntf-server: the NTF router program (PROTOCOL-NOTES H20-H23): init
 * (src/ntf_router/setup.h), cert and delete (the router kit's,
 * src/kit/identity.h), and start (src/ntf_router/server.h: token commands
 * over the store log; no subscriptions or pushes yet). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/router_cli.h"
#include "kit/identity.h"
#include "core/ini.h"
#include "kit/values.h"
#include "kit/workers.h"
#include "ntf_router/server.h"
#include "ntf_router/setup.h"

#ifndef SX_VERSION
#define SX_VERSION "0.0.0"
#endif
#ifndef SX_GIT_COMMIT
#define SX_GIT_COMMIT "unknown"
#endif

static const char version_line[] = "SMP notifications server v" SX_VERSION " / " SX_GIT_COMMIT;

#define ERRLEN 1024
#define EXE "ntf-server"

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: ntf-server COMMAND [OPTIONS]\n\n"
            "Commands:\n"
            "  init     create the configuration (%s) and log (%s) folders, keys and INI\n"
            "  cert     new online TLS certificate signed by the CA key (fingerprint unchanged)\n"
            "  start    start the server (token commands only so far: no subscriptions, no pushes)\n"
            "  delete   delete the configuration and log folders\n\n"
            "Global options: -v, --version   -h, --help\n"
            "Folders come from %s and %s when set.\n\n"
            "init options:\n"
            "  --disable-store-log        do not persist tokens and subscriptions (on by default)\n"
            "  -l, --store-log            (deprecated, the default)\n"
            "  -a, --sign-algorithm ALG   ED448 (default) or ED25519\n"
            "  --ip IP                    server IP, certificate CN without --fqdn (127.0.0.1)\n"
            "  -n, --fqdn FQDN            server host name, certificate CN\n"
            "  -d, --database CONN        PostgreSQL connection (" SX_NTF_DEFAULT_DB_CONNECTION ")\n"
            "  --schema NAME              PostgreSQL schema (" SX_NTF_DEFAULT_DB_SCHEMA ")\n"
            "  --pool-size N              PostgreSQL connections (10)\n\n"
            "cert options:\n"
            "  -a, --sign-algorithm ALG   ED25519 or ED448 (default: that of server.crt)\n"
            "  --cn FQDN                  certificate CN (default: that of server.crt)\n",
            version_line, SX_NTF_DEFAULT_CFG_DIR, SX_NTF_DEFAULT_LOG_DIR, SX_NTF_CFG_ENV, SX_NTF_LOG_ENV);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static int not_initialized(const sx_kit_paths *paths)
{
    printf("Error: server is not initialized (%s does not exist).\nRun `" EXE " init`.\n", paths->ini);
    return 1;
}

/* ---- init ---------------------------------------------------------------- */

enum {
    OPT_DISABLE_STORE_LOG = 256,
    OPT_IP,
    OPT_SCHEMA,
    OPT_POOL_SIZE,
};

static const struct option init_longopts[] = {
    {"disable-store-log", no_argument, NULL, OPT_DISABLE_STORE_LOG},
    {"store-log", no_argument, NULL, 'l'},
    {"sign-algorithm", required_argument, NULL, 'a'},
    {"ip", required_argument, NULL, OPT_IP},
    {"fqdn", required_argument, NULL, 'n'},
    {"database", required_argument, NULL, 'd'},
    {"schema", required_argument, NULL, OPT_SCHEMA},
    {"pool-size", required_argument, NULL, OPT_POOL_SIZE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int cmd_init(const sx_kit_paths *paths, int argc, char **argv)
{
    sx_ntf_init_options o;
    sx_ntf_init_options_default(&o);
    int c;
    while ((c = getopt_long(argc, argv, "+la:n:d:h", init_longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DISABLE_STORE_LOG: o.store_log = false; break;
        case 'l': break; /* deprecated: on by default */
        case 'a':
            if (!rcli_parse_alg(optarg, &o.sign_alg)) {
                fprintf(stderr, "Error: --sign-algorithm must be ED25519 or ED448\n");
                return 1;
            }
            break;
        case OPT_IP:
            o.ip = optarg;
            o.ip_given = true;
            break;
        case 'n': o.fqdn = optarg; break;
        case 'd': o.db_conn = optarg; break;
        case OPT_SCHEMA: o.db_schema = optarg; break;
        case OPT_POOL_SIZE: {
            char *end = NULL;
            unsigned long n = strtoul(optarg, &end, 10);
            if (!optarg[0] || *end || n == 0 || n > 10000) {
                fprintf(stderr, "Error: --pool-size must be a number from 1 to 10000\n");
                return 1;
            }
            o.db_pool_size = (unsigned)n;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    if (file_exists(paths->ini)) {
        printf("Error: server is already initialized (%s exists).\nRun `" EXE " start`.\n", paths->ini);
        return 1;
    }
    char err[ERRLEN] = "", host[SX_KIT_HOST_MAX + 1];
    uint8_t fp[SX_FINGERPRINT_LEN];
    if (sx_ntf_setup_init(paths, &o, fp, host, sizeof host, err, sizeof err) != SX_OK) {
        printf("Error: %s\n", err);
        return 1;
    }
    printf("Server initialized, you can modify configuration in %s.\nRun `" EXE " start` to start server.\n",
           paths->ini);
    rcli_print_ca_key_warning(paths);
    sx_ntf_print_service(stdout, version_line, fp, host, NULL);
    rcli_print_hostnames_note(host, paths->ini);
    return 0;
}

/* ---- start --------------------------------------------------------------- */

static int cmd_start(const sx_kit_paths *paths, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[i]);
        return 1;
    }
    if (!file_exists(paths->ini))
        return not_initialized(paths);
    char err[ERRLEN] = "";
    sx_ini *ini = NULL;
    if (sx_ini_load(paths->ini, &ini, err, sizeof err) != SX_OK) {
        printf("Error: %s: %s\n", paths->ini, err);
        return 1;
    }
    bool store_log = true, log_tls = false, use_service = false, log_stats = false;
    int64_t port = 0, ctl_port = 0, prom_interval = 0;
    const char *port_text = sx_ini_get(ini, "TRANSPORT", "port");
    const char *host = sx_ini_get(ini, "TRANSPORT", "host");
    char ierr[ERRLEN] = "";
    if (sx_ini_bool(ini, "STORE_LOG", "enable", true, &store_log, ierr, sizeof ierr) != SX_OK ||
        sx_ini_bool(ini, "TRANSPORT", "log_tls_errors", false, &log_tls, ierr, sizeof ierr) != SX_OK ||
        sx_ini_bool(ini, "STORE_LOG", "log_stats", false, &log_stats, ierr, sizeof ierr) != SX_OK ||
        sx_ini_bool(ini, "SUBSCRIBER", "use_service_credentials", false, &use_service, ierr, sizeof ierr) !=
            SX_OK ||
        sx_ini_int(ini, "TRANSPORT", "control_port", 1, 65535, 0, &ctl_port, ierr, sizeof ierr) != SX_OK ||
        sx_ini_int(ini, "STORE_LOG", "prometheus_interval", 1, 86400 * 365, 0, &prom_interval, ierr, sizeof ierr) !=
            SX_OK ||
        sx_ini_int(ini, "TRANSPORT", "port", 1, 65535, 0, &port, ierr, sizeof ierr) != SX_OK || !port_text) {
        /* a port list (the reference allows one) is not supported yet */
        printf("Error: %s: %s\n", paths->ini, ierr[0] ? ierr : "[TRANSPORT] port: a single port is required");
        sx_ini_free(ini);
        return 1;
    }
    /* APNS (PROTOCOL-NOTES H22): the key from the environment, as the
     * reference requires; [APNS] is ours, for tests and other endpoints. */
    const char *key_file = getenv(SX_NTF_APNS_KEY_FILE_ENV), *key_id = getenv(SX_NTF_APNS_KEY_ID_ENV);
    if (!key_file || !key_file[0] || !key_id || !key_id[0]) {
        printf("Error: the environment variables %s and %s must be set (the APNS key file and its key ID)\n",
               SX_NTF_APNS_KEY_FILE_ENV, SX_NTF_APNS_KEY_ID_ENV);
        sx_ini_free(ini);
        return 1;
    }
    sx_ntf_apns_client_opts ao = {0};
    ao.key_file = key_file;
    ao.key_id = key_id;
    ao.host = sx_ini_get(ini, "APNS", "host");
    ao.ca_file = sx_ini_get(ini, "APNS", "ca_file");
    ao.team_id = sx_ini_get(ini, "APNS", "team_id");
    ao.topic = sx_ini_get(ini, "APNS", "topic");
    int64_t apns_port = 0, periodic = 0;
    if (sx_ini_int(ini, "APNS", "port", 1, 65535, 443, &apns_port, ierr, sizeof ierr) != SX_OK ||
        sx_ini_int(ini, "APNS", "periodic_interval", 1, 86400, SX_NTF_PERIODIC_INTERVAL, &periodic, ierr,
                   sizeof ierr) != SX_OK) {
        printf("Error: %s: %s\n", paths->ini, ierr);
        sx_ini_free(ini);
        return 1;
    }
    ao.port = (uint16_t)apns_port;
    /* the PostgreSQL store: the reference keeps everything there; here it
     * is chosen by giving [STORE_LOG] db_connection (else the store log) */
    const char *db_conn = sx_ini_get(ini, "STORE_LOG", "db_connection");
    const char *db_schema = sx_ini_get(ini, "STORE_LOG", "db_schema");
    int64_t db_pool = 0, db_deleted_ttl = 0;
    /* db_deleted_ttl: seconds, read as the reference reads it (its comment
     * says days); see server.h for what it does in the NTF router */
    if (sx_ini_int(ini, "STORE_LOG", "db_pool_size", 1, 1000, SX_NTF_DEFAULT_DB_POOL_SIZE, &db_pool, ierr,
                   sizeof ierr) != SX_OK ||
        sx_ini_int(ini, "STORE_LOG", "db_deleted_ttl", 0, INT64_MAX / 2, SX_NTF_DEFAULT_DELETED_TTL_DAYS * 86400LL,
                   &db_deleted_ttl, ierr, sizeof ierr) != SX_OK) {
        printf("Error: %s: %s\n", paths->ini, ierr);
        sx_ini_free(ini);
        return 1;
    }
    if (db_conn && !db_conn[0])
        db_conn = NULL;
    uint8_t fp[SX_FINGERPRINT_LEN];
    sx_status st = sx_kit_check_fingerprint(paths, fp, err, sizeof err);
    if (st != SX_OK) {
        printf(st == SX_E_AUTH ? "%s\n" : "Error: %s\n", err);
        sx_ini_free(ini);
        return 1;
    }
    sx_ntf_print_service(stdout, version_line, fp, host ? host : "<hostnames>", port_text);
    if (db_conn)
        printf("Store: PostgreSQL database, schema %s\n",
               db_schema && db_schema[0] ? db_schema : SX_NTF_DEFAULT_DB_SCHEMA);
    else
        printf("Store log: %s\n", store_log ? paths->store_log : "off");
    /* the notifier service (PROTOCOL-NOTES G18): a certificate per SMP
     * router, made when the router first connects to it (svccreds.h) */
    if (use_service)
        printf("SMP subscriptions as a notifier service, a certificate per SMP router %s\n",
               db_conn ? "in the database" : "in the log folder");
    rcli_raise_nofile(stdout);
    fflush(stdout);

    sx_kit_block_stop_signals(); /* before the server's threads exist */
    signal(SIGPIPE, SIG_IGN);

    sx_ntf_server_opts o = {0};
    o.port = (uint16_t)port;
    o.cert_file = paths->server_crt;
    o.ca_file = paths->ca_crt;
    o.key_file = paths->server_key;
    memcpy(o.key_hash, fp, sizeof o.key_hash);
    o.store_log_path = store_log ? paths->store_log : NULL;
    o.db_connection = db_conn;
    o.db_schema = db_schema && db_schema[0] ? db_schema : NULL;
    o.db_pool_size = (int)db_pool;
    o.db_deleted_ttl = db_deleted_ttl;
    /* the reference's file, with the store log (it kept them with its STM
     * store, and keeps them in its database now) */
    char last_ntfs[SX_KIT_PATH_MAX + 40];
    snprintf(last_ntfs, sizeof last_ntfs, "%s/%s", paths->log_dir, SX_NTF_LAST_NTFS_NAME);
    o.last_ntfs_path = store_log ? last_ntfs : NULL;
    o.log_tls_errors = log_tls;
    /* [STORE_LOG] log_stats: the backup file and the daily line, as the
     * reference's (ntf-server-stats.log, ntf-server-stats.daily.log) */
    o.stats_backup_path = log_stats ? paths->stats_backup : NULL;
    o.stats_daily_path = log_stats ? paths->stats_daily : NULL;
    /* [STORE_LOG] prometheus_interval: ntf-server-metrics.txt */
    o.metrics_path = prom_interval > 0 ? paths->metrics : NULL;
    o.metrics_interval = prom_interval;
    o.apns = &ao;
    o.periodic_s = (unsigned)periodic;
    o.use_service = use_service;
    o.own_server_domains = sx_ini_get(ini, "SUBSCRIBER", "own_server_domains");
    o.service_dir = paths->log_dir;
    /* the control port ([TRANSPORT] control_port, [AUTH] passwords) */
    const char *ctl_user = sx_ini_get(ini, "AUTH", "control_port_user_password"),
               *ctl_admin = sx_ini_get(ini, "AUTH", "control_port_admin_password");
    o.control = ctl_port > 0;
    o.control_port = (uint16_t)ctl_port;
    o.control_user_password = ctl_user && ctl_user[0] ? ctl_user : NULL;
    o.control_admin_password = ctl_admin && ctl_admin[0] ? ctl_admin : NULL;
    sx_ntf_server *srv = NULL;
    st = sx_ntf_server_start(&o, &srv);
    sx_ini_free(ini); /* after start: ao points into it */
    if (st != SX_OK) {
        fflush(stdout);
        rcli_print_start_error(stderr, st, paths->ini);
        return 1;
    }
    if (o.control)
        printf("Control port: %u\n", (unsigned)sx_ntf_server_control_port(srv));
    printf("Serving NTF protocol on port %u (TLS)...\n", (unsigned)sx_ntf_server_port(srv));
    fflush(stdout);
    (void)sx_kit_wait_stop_signal();
    sx_ntf_server_stop(srv);
    SX_SAY(SX_SAY_NOTE, "Server stopped");
    return 0;
}

/* ---- delete / cert ------------------------------------------------------- */

static int cmd_delete(const sx_kit_paths *paths, int argc, char **argv)
{
    return rcli_delete(paths, argc, argv, "every token and subscription registered on it is lost");
}

static int cmd_cert(const sx_kit_paths *paths, int argc, char **argv)
{
    if (!file_exists(paths->ini))
        return not_initialized(paths);
    return rcli_cert(paths, argc, argv);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-v") == 0 || strcmp(cmd, "--version") == 0) {
        puts(version_line);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    sx_kit_paths paths;
    if (sx_ntf_paths_from_env(&paths) != SX_OK) {
        fprintf(stderr, "Error: %s or %s is too long\n", SX_NTF_CFG_ENV, SX_NTF_LOG_ENV);
        return 1;
    }
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (strcmp(cmd, "init") == 0)
        return cmd_init(&paths, sub_argc, sub_argv);
    if (strcmp(cmd, "delete") == 0)
        return cmd_delete(&paths, sub_argc, sub_argv);
    if (strcmp(cmd, "cert") == 0)
        return cmd_cert(&paths, sub_argc, sub_argv);
    if (strcmp(cmd, "start") == 0)
        return cmd_start(&paths, rcli_drop_rts(sub_argc, sub_argv), sub_argv);
    fprintf(stderr, "Error: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 1;
}
