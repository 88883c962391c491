/* xftp-server: the XFTP router program (PROTOCOL-NOTES H16-H19). It parses
 * the command line and calls src/xftp: srvconfig.h for init / the INI and
 * server.h to serve until SIGINT or SIGTERM; cert and delete are the router
 * kit's (src/kit/identity.h). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/router_cli.h"
#include "kit/identity.h"
#include "kit/say.h"
#include "kit/web.h"
#include "kit/workers.h"
#include "xftp_router/server.h"
#include "xftp_router/srvconfig.h"
#include "xftp_router/website.h"

#ifndef SX_VERSION
#define SX_VERSION "0.0.0"
#endif
#ifndef SX_GIT_COMMIT
#define SX_GIT_COMMIT "unknown"
#endif

static const char version_line[] = "SimpleX XFTP server v" SX_VERSION " / " SX_GIT_COMMIT;

#define ERRLEN 1024
#define EXE "xftp-server" /* the reference calls itself file-server in its messages */

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: xftp-server COMMAND [OPTIONS]\n\n"
            "Commands:\n"
            "  init     create the configuration (%s) and log (%s) folders, keys and INI\n"
            "  cert     new online TLS certificate signed by the CA key (fingerprint unchanged)\n"
            "  start    start the server\n"
            "  delete   delete the configuration and log folders\n\n"
            "Global options: -v, --version   -h, --help\n"
            "Folders come from %s and %s when set.\n\n"
            "init options:\n"
            "  -p, --path PATH            folder for the stored file chunks (required)\n"
            "  -q, --quota QUOTA          storage quota, e.g. 100gb (required)\n"
            "  --disable-store-log        do not persist files (store log is on by default)\n"
            "  -l, --store-log            (deprecated, the default)\n"
            "  -a, --sign-algorithm ALG   ED448 (default) or ED25519\n"
            "  --ip IP                    server IP, certificate CN without --fqdn (127.0.0.1)\n"
            "  -n, --fqdn FQDN            server host name, certificate CN\n"
            "  --web-path PATH            folder for the generated server pages\n\n"
            "start options:\n"
            "  --log-level trace|debug|info|note|warn|error   lines on stderr from this level up\n"
            "                             (default: info; debug adds each connection)\n"
            "  +RTS ... -RTS              (the reference's runtime options: ignored)\n\n"
            "cert options:\n"
            "  -a, --sign-algorithm ALG   ED25519 or ED448 (default: that of server.crt)\n"
            "  --cn FQDN                  certificate CN (default: that of server.crt)\n",
            version_line, SX_XFTP_DEFAULT_CFG_DIR, SX_XFTP_DEFAULT_LOG_DIR, SX_XFTP_CFG_ENV, SX_XFTP_LOG_ENV);
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
    OPT_WEB_PATH,
    OPT_CN,
};

static const struct option init_longopts[] = {
    {"disable-store-log", no_argument, NULL, OPT_DISABLE_STORE_LOG},
    {"store-log", no_argument, NULL, 'l'},
    {"sign-algorithm", required_argument, NULL, 'a'},
    {"ip", required_argument, NULL, OPT_IP},
    {"fqdn", required_argument, NULL, 'n'},
    {"path", required_argument, NULL, 'p'},
    {"quota", required_argument, NULL, 'q'},
    {"web-path", required_argument, NULL, OPT_WEB_PATH},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int cmd_init(const sx_kit_paths *paths, int argc, char **argv)
{
    sx_xftp_init_options o;
    sx_xftp_init_options_default(&o);
    int c;
    while ((c = getopt_long(argc, argv, "+la:n:p:q:h", init_longopts, NULL)) != -1) {
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
        case 'p': o.files_path = optarg; break;
        case 'q': o.quota = optarg; break;
        case OPT_WEB_PATH: o.web_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    if (!o.files_path || !o.quota) {
        fprintf(stderr, "Missing:%s%s\n\n", o.files_path ? "" : " (-p|--path PATH)",
                o.quota ? "" : " (-q|--quota QUOTA)");
        usage(stderr);
        return 1;
    }
    if (file_exists(paths->ini)) {
        printf("Error: server is already initialized (%s exists).\nRun `" EXE " start`.\n", paths->ini);
        return 1;
    }
    char err[ERRLEN] = "", host[SX_KIT_HOST_MAX + 1];
    uint8_t fp[SX_FINGERPRINT_LEN];
    if (sx_xftp_setup_init(paths, &o, fp, host, sizeof host, err, sizeof err) != SX_OK) {
        printf("Error: %s\n", err);
        return 1;
    }
    printf("Server initialized, you can modify configuration in %s.\nRun `" EXE " start` to start server.\n",
           paths->ini);
    rcli_print_ca_key_warning(paths);
    sx_xftp_print_service(stdout, version_line, fp, host, NULL);
    rcli_print_hostnames_note(host, paths->ini);
    return 0;
}

/* ---- start --------------------------------------------------------------- */

static int cmd_start(const sx_kit_paths *paths, int argc, char **argv)
{
    sx_say_level level = SX_SAY_INFO;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        /* not in the reference's xftp-server (its smp-server has it) */
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if (!rcli_parse_log_level(argv[++i], &level))
                return 1;
            continue;
        }
        if (strncmp(argv[i], "--log-level=", 12) == 0) {
            if (!rcli_parse_log_level(argv[i] + 12, &level))
                return 1;
            continue;
        }
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[i]);
        return 1;
    }
    sx_say_set_level(level);
    if (!file_exists(paths->ini))
        return not_initialized(paths);
    static sx_xftp_config cfg; /* large; lives for the whole run */
    char err[ERRLEN] = "";
    if (sx_xftp_config_load(paths, &cfg, err, sizeof err) != SX_OK) {
        printf("Error: %s: %s\n", paths->ini, err);
        return 1;
    }
    uint8_t fp[SX_FINGERPRINT_LEN];
    sx_status st = sx_kit_check_fingerprint(paths, fp, err, sizeof err);
    if (st != SX_OK) {
        printf(st == SX_E_AUTH ? "%s\n" : "Error: %s\n", err);
        return 1;
    }
    /* files of an older version or of the reference may be readable by
     * others: said on stderr */
    (void)sx_kit_secure_files(paths, NULL, NULL);
    sx_xftp_config_print_start(&cfg, stdout, version_line, fp);
    rcli_raise_nofile(stdout);
    fflush(stdout);
    if (cfg.has_static_path) {
        /* the page browsers get on GET /; the server still starts without it */
        char addr[SX_KIT_HOST_MAX + 128];
        err[0] = 0;
        if (sx_xftp_format_address(fp, cfg.host, cfg.port_text, addr, sizeof addr) != SX_OK ||
            sx_xftp_site_generate(paths->ini, cfg.static_path, addr, version_line, err, sizeof err) != SX_OK)
            fprintf(stderr, "Warning: cannot generate the web page in %s: %s\n", cfg.static_path, err);
    }

    sx_kit_block_stop_signals(); /* before the server's threads exist */
    signal(SIGPIPE, SIG_IGN);

    /* [WEB] http and https: the site on ports of its own (kit/web.h), as the
     * reference; a failure there is said and the router runs without them. */
    sx_kit_web *web = NULL;
    if (cfg.has_static_path && (cfg.web_http_port || (cfg.web_https_port && cfg.has_web_cert))) {
        sx_kit_web_opts wo = {
            .root = cfg.static_path,
            .http = cfg.web_http_port != 0,
            .http_port = cfg.web_http_port,
            .https = cfg.web_https_port != 0 && cfg.has_web_cert,
            .https_port = cfg.web_https_port,
            .cert_file = cfg.has_web_cert ? cfg.web_cert : NULL,
            .key_file = cfg.has_web_cert ? cfg.web_key : NULL,
        };
        if (sx_kit_web_start(&wo, &web, err, sizeof err) != SX_OK) {
            SX_SAY(SX_SAY_ERROR, "HTTP server crashed: %s", err);
        } else {
            if (wo.http)
                SX_SAY(SX_SAY_INFO, "Serving static site on port %u", (unsigned)sx_kit_web_http_port(web));
            if (wo.https)
                SX_SAY(SX_SAY_INFO, "Serving static site on port %u (TLS)", (unsigned)sx_kit_web_https_port(web));
        }
    }

    sx_xftp_server_opts opts;
    sx_xftp_config_to_opts(&cfg, &opts);
    sx_xftp_server *srv = NULL;
    st = sx_xftp_server_start(&opts, &srv);
    if (st != SX_OK) {
        fflush(stdout);
        rcli_print_start_error(stderr, st, paths->ini);
        sx_kit_web_stop(web);
        return 1;
    }
    sx_xftp_config_print_listening(&cfg, stdout);
    fflush(stdout);
    (void)sx_kit_wait_stop_signal();
    sx_xftp_server_stop(srv);
    sx_kit_web_stop(web);
    SX_SAY(SX_SAY_NOTE, "Server stopped");
    return 0;
}

/* ---- delete / cert ------------------------------------------------------- */

static int cmd_delete(const sx_kit_paths *paths, int argc, char **argv)
{
    return rcli_delete(paths, argc, argv, "every file stored on it becomes unreachable");
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
    if (sx_xftp_paths_from_env(&paths) != SX_OK) {
        fprintf(stderr, "Error: %s or %s is too long\n", SX_XFTP_CFG_ENV, SX_XFTP_LOG_ENV);
        return 1;
    }
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
    if (strcmp(cmd, "database") == 0) {
        fprintf(stderr, "Error: `xftp-server database` is not supported by this implementation yet\n");
        return 1;
    }
    fprintf(stderr, "Error: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 1;
}
