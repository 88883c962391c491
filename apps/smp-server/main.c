/* smp-server: the SMP router program (PROTOCOL-NOTES H1-H15). It parses the
 * command line, asks `init`'s questions on the terminal and calls
 * src/router (setup.h for init, config.h and server.h for start) and the
 * router kit (src/kit/identity.h) for delete and the fingerprint check. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/router_cli.h"
#include "db_cmd.h"
#include "journal_cmd.h"
#include "crypto/util.h"
#include "kit/identity.h"
#include "kit/say.h"
#include "smp_router/config.h"
#include "smp_router/server.h"
#include "smp_router/setup.h"
#include "smp_router/website.h"

#ifndef SX_VERSION
#define SX_VERSION "0.0.0"
#endif
#ifndef SX_GIT_COMMIT
#define SX_GIT_COMMIT "unknown"
#endif

static const char version_line[] = "SMP server v" SX_VERSION " / " SX_GIT_COMMIT;

#define ERRLEN 1024
#define LINE_MAX_LEN 1024

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: smp-server COMMAND [OPTIONS]\n\n"
            "Commands:\n"
            "  init     create the configuration (%s) and log (%s) folders, keys and INI\n"
            "  start    start the server\n"
            "  cert     new online certificate signed by the CA key (fingerprint unchanged)\n"
            "  delete   delete the configuration and log folders\n"
            "  journal import [--skip-warnings] | export | delete\n"
            "           move undelivered messages from %s into the journal folder\n"
            "           %s and back, or delete that folder\n"
            "  database import | export | delete [--table queues|messages|all]\n"
            "           [-d|--database DB_CONN] [--schema DB_SCHEMA] [--pool-size N]\n"
            "           move queues (the store log) and messages (the messages log)\n"
            "           into a PostgreSQL schema and back\n\n"
            "Global options: -v, --version   -h, --help\n"
            "Folders come from %s and %s when set.\n\n"
            "init options:\n"
            "  --disable-store-log        do not persist queues (store log is on by default)\n"
            "  -l, --store-log            (deprecated, the default)\n"
            "  -s, --daily-stats          log daily statistics\n"
            "  -a, --sign-algorithm ALG   ED25519 (default) or ED448\n"
            "  --ip IP                    server IP, certificate CN without --fqdn (127.0.0.1)\n"
            "  -n, --fqdn FQDN            server host name, certificate CN\n"
            "  --password PWD | --no-password   password to create queues (default: random)\n"
            "  --control-port[=PORT]      enable the control port (5224)\n"
            "  --socks-proxy[=HOST:PORT]  SOCKS proxy for forwarding (127.0.0.1:9050)\n"
            "  --own-domains D1,D2        domains of your own servers\n"
            "  --source-code[=URI]        source code URI (%s)\n"
            "  --operator NAME, --operator-country CC, --operator-website URL\n"
            "  --hosting NAME, --hosting-country CC, --hosting-type TYPE, --server-country CC\n"
            "  --web-path PATH            folder for the generated web pages\n"
            "  --disable-web              comment out [WEB] https, cert and key (otherwise active:\n"
            "                             provide web.crt and web.key before `start`)\n"
            "  -d, --database CONN, --schema NAME, --pool-size N\n"
            "                             PostgreSQL settings written to the INI (db_connection,\n"
            "                             db_schema, db_pool_size; used with store_queues: database)\n"
            "  -y, --yes                  do not ask questions\n\n"
            "cert options:\n"
            "  -a, --sign-algorithm ALG   ED25519 or ED448 (default: that of server.crt)\n"
            "  --cn FQDN                  certificate CN (default: that of server.crt)\n\n"
            "start options:\n"
            "  --compact-log              (no effect: the store log is compacted at start unless\n"
            "                             it is already compact)\n"
            "  --skip-warnings            start even if restoring messages gave warnings\n"
            "  --log-level trace|debug|info|note|warn|error   lines on stderr from this level up\n"
            "                             (default: info; debug adds each connection)\n"
            "  --confirm-migrations up|down   (database store only: ignored)\n"
            "  -m, --maintenance          restore and save the state (logs compacted, messages\n"
            "                             expired), then exit without serving\n"
            "  +RTS ... -RTS              (the reference's runtime options: ignored)\n",
            version_line, SX_ROUTER_DEFAULT_CFG_DIR, SX_ROUTER_DEFAULT_LOG_DIR, "smp-server-messages.log",
            "messages", SX_ROUTER_CFG_ENV,
            SX_ROUTER_LOG_ENV, SX_ROUTER_DEFAULT_SOURCE_CODE);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* One line of standard input without its newline; false at end of input. */
static bool read_line(char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, stdin)) {
        fprintf(stderr, "\nError: unexpected end of input\n");
        return false;
    }
    buf[strcspn(buf, "\r\n")] = 0;
    return true;
}

static bool prompt(const char *text, char *buf, size_t cap)
{
    fputs(text, stdout);
    fflush(stdout);
    return read_line(buf, cap);
}

/* "(Yn)" / "(yN)" question; returns -1 at end of input. */
static int ask_yes_no(const char *question, bool dflt)
{
    char q[256], line[LINE_MAX_LEN];
    snprintf(q, sizeof q, "%s %s: ", question, dflt ? "(Yn)" : "(yN)");
    for (;;) {
        if (!prompt(q, line, sizeof line))
            return -1;
        if (!line[0])
            return dflt;
        if (strcmp(line, "y") == 0 || strcmp(line, "Y") == 0)
            return 1;
        if (strcmp(line, "n") == 0 || strcmp(line, "N") == 0)
            return 0;
        puts("Invalid input, please enter 'y' or 'n'");
    }
}

static bool is_digits(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* getopt only attaches an optional argument written as --opt=value; also
 * take the next word when it looks like this option's value. */
static const char *optional_value(int argc, char **argv, bool (*looks_right)(const char *))
{
    if (optarg)
        return optarg;
    if (optind < argc && looks_right(argv[optind]))
        return argv[optind++];
    return NULL;
}

static bool looks_like_port(const char *s)
{
    return is_digits(s);
}

static bool looks_like_uri(const char *s)
{
    return starts_with(s, "https://") || starts_with(s, "http://");
}

static bool looks_like_host_port(const char *s)
{
    return s[0] != '-' && strchr(s, ':') != NULL;
}

/* ---- init ---------------------------------------------------------------- */

enum {
    OPT_DISABLE_STORE_LOG = 256,
    OPT_IP,
    OPT_PASSWORD,
    OPT_NO_PASSWORD,
    OPT_CONTROL_PORT,
    OPT_SOCKS_PROXY,
    OPT_OWN_DOMAINS,
    OPT_SOURCE_CODE,
    OPT_OPERATOR,
    OPT_OPERATOR_COUNTRY,
    OPT_HOSTING,
    OPT_HOSTING_COUNTRY,
    OPT_HOSTING_TYPE,
    OPT_SERVER_COUNTRY,
    OPT_WEBSITE,
    OPT_WEB_PATH,
    OPT_DISABLE_WEB,
    OPT_SCHEMA,
    OPT_POOL_SIZE,
    OPT_COMPACT_LOG,
    OPT_LOG_LEVEL,
    OPT_SKIP_WARNINGS,
    OPT_CONFIRM_MIGRATIONS,
};

static const struct option init_longopts[] = {
    {"disable-store-log", no_argument, NULL, OPT_DISABLE_STORE_LOG},
    {"store-log", no_argument, NULL, 'l'},
    {"daily-stats", no_argument, NULL, 's'},
    {"sign-algorithm", required_argument, NULL, 'a'},
    {"ip", required_argument, NULL, OPT_IP},
    {"fqdn", required_argument, NULL, 'n'},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"no-password", no_argument, NULL, OPT_NO_PASSWORD},
    {"control-port", optional_argument, NULL, OPT_CONTROL_PORT},
    {"socks-proxy", optional_argument, NULL, OPT_SOCKS_PROXY},
    {"own-domains", required_argument, NULL, OPT_OWN_DOMAINS},
    {"source-code", optional_argument, NULL, OPT_SOURCE_CODE},
    {"operator", required_argument, NULL, OPT_OPERATOR},
    {"operator-country", required_argument, NULL, OPT_OPERATOR_COUNTRY},
    {"hosting", required_argument, NULL, OPT_HOSTING},
    {"hosting-country", required_argument, NULL, OPT_HOSTING_COUNTRY},
    {"hosting-type", required_argument, NULL, OPT_HOSTING_TYPE},
    {"server-country", required_argument, NULL, OPT_SERVER_COUNTRY},
    {"operator-website", required_argument, NULL, OPT_WEBSITE},
    {"web-path", required_argument, NULL, OPT_WEB_PATH},
    {"disable-web", no_argument, NULL, OPT_DISABLE_WEB},
    {"database", required_argument, NULL, 'd'},
    {"schema", required_argument, NULL, OPT_SCHEMA},
    {"pool-size", required_argument, NULL, OPT_POOL_SIZE},
    {"yes", no_argument, NULL, 'y'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses init's options into o; returns 0, or the exit code on error/help. */
static int parse_init(int argc, char **argv, sx_router_init_options *o, bool *scripted)
{
    sx_router_init_options_default(o);
    *scripted = false;
    int c;
    while ((c = getopt_long(argc, argv, "+lsa:n:d:yh", init_longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DISABLE_STORE_LOG: o->store_log = false; break;
        case 'l': break; /* deprecated: the store log is on by default */
        case 's': o->daily_stats = true; break;
        case 'a':
            if (!rcli_parse_alg(optarg, &o->sign_alg)) {
                fprintf(stderr, "Error: --sign-algorithm must be ED25519 or ED448\n");
                return 1;
            }
            break;
        case OPT_IP:
            o->ip = optarg;
            o->ip_given = true;
            break;
        case 'n': o->fqdn = optarg; break;
        case OPT_PASSWORD:
            o->password_mode = SX_ROUTER_PASSWORD_GIVEN;
            o->password = optarg;
            break;
        case OPT_NO_PASSWORD:
            o->password_mode = SX_ROUTER_PASSWORD_NONE;
            o->password = NULL;
            break;
        case OPT_CONTROL_PORT: {
            const char *v = optional_value(argc, argv, looks_like_port);
            long port = v ? (is_digits(v) && strlen(v) <= 5 ? strtol(v, NULL, 10) : 0)
                          : SX_ROUTER_DEFAULT_CONTROL_PORT;
            if (port < 1 || port > 65535) {
                fprintf(stderr, "Error: --control-port must be a port number\n");
                return 1;
            }
            o->control_port = (uint16_t)port;
            break;
        }
        case OPT_SOCKS_PROXY: {
            const char *v = optional_value(argc, argv, looks_like_host_port);
            o->socks_proxy = v ? v : SX_ROUTER_DEFAULT_SOCKS_PROXY;
            break;
        }
        case OPT_OWN_DOMAINS: o->own_domains = optarg; break;
        case OPT_SOURCE_CODE: {
            const char *v = optional_value(argc, argv, looks_like_uri);
            o->source_code = v ? v : SX_ROUTER_DEFAULT_SOURCE_CODE;
            break;
        }
        case OPT_OPERATOR: o->operator_name = optarg; break;
        case OPT_OPERATOR_COUNTRY: o->operator_country = optarg; break;
        case OPT_HOSTING: o->hosting_name = optarg; break;
        case OPT_HOSTING_COUNTRY: o->hosting_country = optarg; break;
        case OPT_HOSTING_TYPE: o->hosting_type = optarg; break;
        case OPT_SERVER_COUNTRY: o->server_country = optarg; break;
        case OPT_WEBSITE: o->website = optarg; break;
        case OPT_WEB_PATH: o->web_path = optarg; break;
        case OPT_DISABLE_WEB: o->disable_web = true; break;
        case 'd': o->db_connection = optarg; break;
        case OPT_SCHEMA: o->db_schema = optarg; break;
        case OPT_POOL_SIZE: {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!end || *end || v < 1 || v > 1000) {
                fprintf(stderr, "Error: --pool-size: a number from 1 to 1000\n");
                return 1;
            }
            o->db_pool_size = (int)v;
            break;
        }
        case 'y': *scripted = true; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    return 0;
}

/* PROTOCOL-NOTES H3: the questions init asks without -y. Answers are kept in
 * static buffers that o points into. */
static bool ask_init_questions(const sx_kit_paths *paths, sx_router_init_options *o)
{
    static char password[LINE_MAX_LEN], host[LINE_MAX_LEN], source[LINE_MAX_LEN],
        web_path[LINE_MAX_LEN];
    char line[LINE_MAX_LEN], q[2 * SX_KIT_PATH_MAX];

    if (!prompt("SMP server will be initialized (press Enter)", line, sizeof line))
        return false;
    int yn = ask_yes_no("Enable store log to restore queues and messages on server restart", true);
    if (yn < 0)
        return false;
    o->store_log = yn;
    if ((yn = ask_yes_no("Enable logging daily statistics", false)) < 0)
        return false;
    o->daily_stats = yn;

    puts("Require a password to create new messaging queues?");
    for (;;) {
        if (!prompt("'r' for random (default), 'n' - no password (recommended for public servers), "
                    "or enter password: ",
                    password, sizeof password))
            return false;
        if (!password[0] || strcmp(password, "r") == 0) {
            o->password_mode = SX_ROUTER_PASSWORD_RANDOM;
            break;
        }
        if (strcmp(password, "n") == 0) {
            o->password_mode = SX_ROUTER_PASSWORD_NONE;
            break;
        }
        if (sx_kit_password_valid(password)) {
            o->password_mode = SX_ROUTER_PASSWORD_GIVEN;
            o->password = password;
            break;
        }
        puts("Invalid password: use printable ASCII characters without spaces, '@', ':' or '/'");
    }

    snprintf(q, sizeof q, "Enter server FQDN or IP address for certificate (%s): ",
             o->fqdn ? o->fqdn : o->ip);
    if (!prompt(q, host, sizeof host))
        return false;
    if (host[0])
        o->fqdn = host;

    snprintf(q, sizeof q, "Enter server source code URI (%s): ",
             o->source_code ? o->source_code : SX_ROUTER_DEFAULT_SOURCE_CODE);
    fputs(q, stdout);
    fflush(stdout);
    for (;;) {
        if (!read_line(source, sizeof source))
            return false;
        if (!source[0]) {
            if (!o->source_code)
                o->source_code = SX_ROUTER_DEFAULT_SOURCE_CODE;
            break;
        }
        if (looks_like_uri(source)) {
            o->source_code = source;
            break;
        }
        puts("Invalid source code. URI should start from http:// or https://");
    }

    char dflt[SX_KIT_PATH_MAX + 8];
    snprintf(dflt, sizeof dflt, "%s/www", paths->log_dir);
    snprintf(q, sizeof q,
             "Enter path to store generated server pages to show connection links (%s): ",
             o->web_path ? o->web_path : dflt);
    if (!prompt(q, web_path, sizeof web_path))
        return false;
    if (web_path[0])
        o->web_path = web_path;
    return true;
}

static int cmd_init(const sx_kit_paths *paths, int argc, char **argv)
{
    sx_router_init_options o;
    bool scripted;
    int rc = parse_init(argc, argv, &o, &scripted);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (file_exists(paths->ini)) {
        printf("Error: server is already initialized (%s exists).\nRun `smp-server start`.\n",
               paths->ini);
        return 1;
    }
    char err[ERRLEN] = "";
    if (!scripted) {
        puts("Use `smp-server init -h` for available options.");
        if (sx_router_init_check(&o, err, sizeof err) != SX_OK) {
            printf("Error: %s\n", err);
            return 1;
        }
        if (!ask_init_questions(paths, &o))
            return 1;
    }
    sx_router_init_result res;
    if (sx_router_setup_init(paths, &o, &res, err, sizeof err) != SX_OK) {
        printf("Error: %s\n", err);
        return 1;
    }
    printf("Server initialized, please provide additional server information in %s.\n",
           paths->ini);
    printf("Run `smp-server start` to start server.\n");
    rcli_print_ca_key_warning(paths);
    /* the address `start` will print, port included (PROTOCOL-NOTES H9) */
    static sx_router_config cfg; /* large */
    if (sx_router_config_load(paths, &cfg, err, sizeof err) == SX_OK)
        sx_router_config_print_service(&cfg, stdout, version_line, res.fingerprint);
    else
        sx_router_print_service(stdout, version_line, res.fingerprint,
                                res.has_password ? res.password : NULL, res.host, NULL,
                                o.source_code);
    rcli_print_hostnames_note(res.host, paths->ini);
    sx_wipe(res.password, sizeof res.password);
    sx_wipe(&cfg, sizeof cfg);
    return 0;
}

/* ---- start --------------------------------------------------------------- */

static const struct option start_longopts[] = {
    {"maintenance", no_argument, NULL, 'm'},
    {"compact-log", no_argument, NULL, OPT_COMPACT_LOG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"skip-warnings", no_argument, NULL, OPT_SKIP_WARNINGS},
    {"confirm-migrations", required_argument, NULL, OPT_CONFIRM_MIGRATIONS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

_Static_assert((int)SX_ROUTER_LOG_TRACE == (int)SX_SAY_TRACE && (int)SX_ROUTER_LOG_ERROR == (int)SX_SAY_ERROR,
               "--log-level's two enums differ");

static int parse_start(int argc, char **argv, sx_router_start_options *so)
{
    memset(so, 0, sizeof *so);
    so->log_level = SX_ROUTER_LOG_INFO;
    int c;
    while ((c = getopt_long(argc, argv, "+mh", start_longopts, NULL)) != -1) {
        switch (c) {
        case 'm': so->maintenance = true; break;
        case OPT_COMPACT_LOG: so->compact_log = true; break;
        case OPT_SKIP_WARNINGS: so->skip_warnings = true; break;
        case OPT_LOG_LEVEL: {
            sx_say_level l;
            if (!rcli_parse_log_level(optarg, &l))
                return 1;
            so->log_level = (sx_router_log_level)l;
            break;
        }
        case OPT_CONFIRM_MIGRATIONS:
            /* Only meaningful with a database store, which we do not have;
             * accepted so that the reference's start commands keep working. */
            if (strcmp(optarg, "up") != 0 && strcmp(optarg, "down") != 0) {
                fprintf(stderr, "Error: invalid migration confirmation, pass 'up' or 'down'\n");
                return 1;
            }
            printf("Note: --confirm-migrations applies to a database store, which this server does "
                   "not have; ignored.\n");
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    return 0;
}

static int cmd_start(const sx_kit_paths *paths, int argc, char **argv)
{
    sx_router_start_options so;
    int rc = parse_start(argc, argv, &so);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (!file_exists(paths->ini)) {
        printf("Error: server is not initialized (%s does not exist).\nRun `smp-server init`.\n",
               paths->ini);
        return 1;
    }
    static sx_router_config cfg; /* large; lives for the whole run */
    char err[ERRLEN] = "";
    if (sx_router_config_load(paths, &cfg, err, sizeof err) != SX_OK) {
        printf("Error: %s: %s\n", paths->ini, err);
        return 1;
    }
    cfg.start = so;
    sx_say_set_level((sx_say_level)so.log_level);
    uint8_t fp[SX_FINGERPRINT_LEN];
    sx_status st = sx_kit_check_fingerprint(paths, fp, err, sizeof err);
    if (st != SX_OK) {
        printf(st == SX_E_AUTH ? "%s\n" : "Error: %s\n", err);
        return 1;
    }
    /* files of an older version or of the reference may be readable by
     * others: said on stderr */
    (void)sx_kit_secure_files(paths, NULL, NULL);
    sx_router_config_print_start(&cfg, stdout, version_line, fp);
    if (sx_router_config_check_storage(&cfg, err, sizeof err) != SX_OK) {
        printf("Error: %s\n", err);
        return 1;
    }
    sx_router_config_print_limits(&cfg, stdout);
    if (cfg.web_static_path[0]) {
        /* As the reference: the site is written at every start. */
        if (sx_router_site_generate(&cfg, cfg.web_static_path, version_line, err, sizeof err) != SX_OK) {
            printf("Error: the static site: %s\n", err);
            return 1;
        }
        printf("Generated static site contents at %s\n", cfg.web_static_path);
    }
    if (!sx_router_check_https(&cfg, stdout))
        return 1;
    rcli_raise_nofile(stdout);
    fflush(stdout);
    sx_router *r = NULL;
    st = sx_router_run_start(&cfg, &r);
    if (st != SX_OK) {
        fflush(stdout);
        rcli_print_start_error(stderr, st, paths->ini);
        return 1;
    }
    if (cfg.start.maintenance) {
        /* as the reference: the start-up work done, the state saved again */
        printf("Server started in 'maintenance' mode, exiting\n");
        fflush(stdout);
        st = sx_router_stop(r);
        if (st != SX_OK) {
            fprintf(stderr, "Error: the server stopped without saving everything: %s\n", sx_status_str(st));
            return 1;
        }
        return 0;
    }
    sx_router_config_print_serving(&cfg, stdout);
    fflush(stdout);
    return sx_router_run_wait(r);
}

/* ---- delete -------------------------------------------------------------- */

static int cmd_delete(const sx_kit_paths *paths, int argc, char **argv)
{
    return rcli_delete(paths, argc, argv, "every queue on it becomes unreachable");
}

/* PROTOCOL-NOTES H13: `smp-server cert [--sign-algorithm ALG] [--cn FQDN]`. */
static int cmd_cert(const sx_kit_paths *paths, int argc, char **argv)
{
    return rcli_cert(paths, argc, argv);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Connections write with MSG_NOSIGNAL; this keeps a closed standard
     * output (a log pipe that went away) from ending the router. */
    signal(SIGPIPE, SIG_IGN);
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
    if (sx_router_paths_from_env(&paths) != SX_OK) {
        fprintf(stderr, "Error: %s or %s is too long\n", SX_ROUTER_CFG_ENV, SX_ROUTER_LOG_ENV);
        return 1;
    }
    /* Subcommand options: getopt sees the subcommand as argv[0]. */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (strcmp(cmd, "init") == 0)
        return cmd_init(&paths, sub_argc, sub_argv);
    if (strcmp(cmd, "start") == 0)
        return cmd_start(&paths, rcli_drop_rts(sub_argc, sub_argv), sub_argv);
    if (strcmp(cmd, "delete") == 0)
        return cmd_delete(&paths, sub_argc, sub_argv);
    if (strcmp(cmd, "cert") == 0)
        return cmd_cert(&paths, sub_argc, sub_argv);
    if (strcmp(cmd, "journal") == 0)
        return smp_cmd_journal(&paths, sub_argc, sub_argv);
    if (strcmp(cmd, "database") == 0)
        return smp_cmd_database(&paths, sub_argc, sub_argv);
    fprintf(stderr, "Error: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 1;
}
