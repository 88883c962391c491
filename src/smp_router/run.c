/* The foreground router of `smp-server start`: configuration to server
 * options and start; then wait for SIGINT or SIGTERM and stop. The program
 * prints between the two, so that "Serving ..." follows the bound ports. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kit/paths.h"
#include "kit/web.h"
#include "smp_router/msgjournal.h"
#include "smp_router/server.h"
#include "kit/say.h"
#include "kit/workers.h"

/* The web server of this process's router (one router per process). */
static sx_kit_web *run_web;

/* [WEB] as the reference: the site is served when static_path is set; the
 * https port is a listener of its own unless it is also an SMP port, and
 * either needs the web certificate. */
static sx_status start_web(const sx_router_config *cfg, sx_router_opts *o)
{
    if (!cfg->web_static_path[0])
        return SX_OK;
    bool certs = cfg->web_cert[0] && cfg->web_key[0];
    bool shared = false;
    for (size_t i = 0; i < cfg->n_ports && cfg->web_https_port; i++)
        if (cfg->ports[i] == cfg->web_https_port) {
            shared = true;
            o->web_port_index = i;
        }
    sx_kit_web_opts wo = {
        .root = cfg->web_static_path,
        .http = cfg->web_http_port != 0,
        .http_port = cfg->web_http_port,
        .https = !shared && cfg->web_https_port != 0 && certs,
        .https_port = cfg->web_https_port,
        .cert_file = certs ? cfg->web_cert : NULL,
        .key_file = certs ? cfg->web_key : NULL,
    };
    if (!wo.http && !wo.https && !(shared && certs))
        return SX_OK;
    char err[512];
    sx_status st = sx_kit_web_start(&wo, &run_web, err, sizeof err);
    if (st != SX_OK && (wo.http || wo.https)) {
        /* As the reference, whose web listeners run apart from the router:
         * said, and the router starts without them. */
        SX_SAY(SX_SAY_ERROR, "HTTP server crashed: %s", err);
        wo.http = wo.https = false;
        st = shared && certs ? sx_kit_web_start(&wo, &run_web, err, sizeof err) : SX_OK;
        if (st == SX_OK && !run_web)
            return SX_OK;
    }
    if (st != SX_OK) {
        /* The shared port's certificate: fatal, as in the reference. */
        fprintf(stderr, "Error: web server: %s\n", err);
        return st;
    }
    o->web = run_web;
    o->web_shared = shared && certs;
    /* The shared port's line is printed with the SMP ports'. */
    if (wo.http)
        SX_SAY(SX_SAY_INFO, "Serving static site on port %u", (unsigned)sx_kit_web_http_port(run_web));
    if (wo.https)
        SX_SAY(SX_SAY_INFO, "Serving static site on port %u (TLS)", (unsigned)sx_kit_web_https_port(run_web));
    return SX_OK;
}

static bool regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

#define HTTPS_HINT                                                                                                  \
    "Use Let's Encrypt to generate: certbot certonly --standalone -d yourdomainname --key-type rsa --rsa-key-size " \
    "4096\n----------\n"

bool sx_router_check_https(const sx_router_config *cfg, FILE *out)
{
    if (!cfg->web_https_port || !cfg->web_cert[0] || !cfg->web_key[0])
        return true;
    bool has_cert = regular_file(cfg->web_cert), has_key = regular_file(cfg->web_key);
    if (!has_cert || !has_key) {
        fprintf(out, "----------\nError: no HTTPS credentials: %s%s%s\n", has_cert ? "" : cfg->web_cert,
                !has_cert && !has_key ? ", " : "", has_key ? "" : cfg->web_key);
        fprintf(out, "Server should serve static pages to show connection links in the browser.\n" HTTPS_HINT);
        return false;
    }
    /* the certificate and its key must load and belong together */
    FILE *f = fopen(cfg->web_cert, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    f = fopen(cfg->web_key, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    bool ok = false;
    if (!x)
        fprintf(out, "Error: HTTPS credentials: no certificate in %s\n", cfg->web_cert);
    else if (!key)
        fprintf(out, "Error: HTTPS credentials: no private key in %s\n", cfg->web_key);
    else if (X509_check_private_key(x, key) != 1)
        fprintf(out, "Error: HTTPS credentials: the key in %s is not the certificate's key\n", cfg->web_key);
    else {
        /* As the reference: a 4096-bit RSA key (a modulus of 512 bytes or
         * more), not the P-256 ECDSA that Let's Encrypt gives by default. */
        EVP_PKEY *pub = X509_get0_pubkey(x);
        ok = pub && EVP_PKEY_base_id(pub) == EVP_PKEY_RSA && EVP_PKEY_size(pub) >= 512;
        if (!ok)
            fprintf(out, "Error: unsupported HTTPS credentials, required 4096-bit RSA\n" HTTPS_HINT);
    }
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(x);
    return ok;
}

sx_status sx_router_run_start(const sx_router_config *cfg, sx_router **out)
{
    sx_router_opts o = {0};
    o.cert_file = cfg->paths.server_crt;
    o.ca_file = cfg->paths.ca_crt;
    o.key_file = cfg->paths.server_key;
    o.host = "0.0.0.0";
    o.n_ports = cfg->n_ports;
    for (size_t i = 0; i < cfg->n_ports && i < SX_ROUTER_MAX_PORTS; i++)
        o.ports[i] = cfg->ports[i];
    o.workers = cfg->workers;
    o.proxy_client_concurrency = (unsigned)cfg->proxy_client_concurrency;
    o.proxy_required_host_mode = cfg->proxy_required_host_mode;
    o.proxy_timeout_ms = (int)cfg->proxy_forward_timeout * 1000;
    o.proxy_onion_hosts = cfg->proxy_has_socks && cfg->proxy_host_mode_onion;
    o.proxy_socks = cfg->proxy_has_socks ? &cfg->proxy_socks : NULL;
    o.proxy_socks_onion_only = !cfg->proxy_socks_always;
    o.proxy_own_domains = cfg->own_server_domains[0] ? cfg->own_server_domains : NULL;
    o.new_queues = cfg->new_queues;
    o.create_password = cfg->has_create_password ? cfg->create_password : NULL;
    o.store_log_path = cfg->store_log ? cfg->paths.store_log : NULL;
    o.msgs_log_path = cfg->restore_messages ? cfg->paths.messages_log : NULL;
    o.ntfs_log_path = cfg->restore_messages ? cfg->paths.ntfs_log : NULL;
    /* Ours (smp_router/msgjournal.h): beside the messages the reference
     * saves at a clean stop, so that a crash loses none of them. */
    static char journal[SX_KIT_PATH_MAX];
    int jn = snprintf(journal, sizeof journal, "%s/%s", cfg->paths.log_dir, SX_MSGJOURNAL_FILE);
    if (jn <= 0 || (size_t)jn >= sizeof journal) {
        fprintf(stderr, "Error: the log folder's path is too long\n");
        return 1;
    }
    o.msgs_journal_path = cfg->restore_messages ? journal : NULL;
    if (cfg->msgs_journal) { /* the messages live in the journal folder */
        o.msgs_log_path = NULL;
        o.msgs_journal_path = NULL;
        o.msgs_dir_path = cfg->paths.messages_dir;
        o.msgs_dir_fsync = cfg->journal_fsync;
    }
    if (cfg->queues_db) { /* the database keeps the queues, no store log */
        o.store_log_path = NULL;
        o.msgs_log_path = NULL;
        o.ntfs_log_path = NULL;
        o.msgs_journal_path = NULL;
        o.db_connection = cfg->db_connection;
        o.db_schema = cfg->db_schema;
        o.db_pool_size = cfg->db_pool_size;
        o.db_deleted_ttl = cfg->db_deleted_ttl;
        o.db_messages = cfg->msgs_db;
    }
    o.msg_ttl_seconds = cfg->msg_ttl;
    o.msg_check_interval = cfg->msg_check_interval;
    o.ntf_ttl_seconds = cfg->ntf_ttl;
    o.inactive_disconnect = cfg->expire_inactive;
    o.inactive_ttl = cfg->inactive_ttl;
    o.inactive_check_interval = cfg->inactive_check_interval;
    o.log_tls_errors = cfg->log_tls_errors;
    o.skip_warnings = cfg->start.skip_warnings;
    o.store_log_sync = cfg->store_log_fsync;
    o.has_control_port = cfg->control_port != 0;
    o.control_port = cfg->control_port;
    o.control_admin_password = cfg->has_control_admin_password ? cfg->control_admin_password : NULL;
    o.control_user_password = cfg->has_control_user_password ? cfg->control_user_password : NULL;
    o.daily_block_queue_quota = cfg->daily_block_queue_quota;
    /* As the reference: the backup and the daily line with log_stats, the
     * metrics file with prometheus_interval. */
    o.stats_backup_path = cfg->log_stats ? cfg->paths.stats_backup : NULL;
    o.stats_daily_path = cfg->log_stats ? cfg->paths.stats_daily : NULL;
    o.metrics_path = cfg->prometheus_interval > 0 ? cfg->paths.metrics : NULL;
    o.metrics_interval = cfg->prometheus_interval;

    /* Blocked in every thread (the router's threads inherit the mask);
     * sx_router_run_wait waits for them. */
    sx_kit_block_stop_signals();
    /* A file over the size limit fails its write (EFBIG) like a full disk
     * instead of killing the router. */
    signal(SIGXFSZ, SIG_IGN);
    o.maintenance = cfg->start.maintenance;
    sx_status st = o.maintenance ? SX_OK : start_web(cfg, &o);
    if (st == SX_OK)
        st = sx_router_start(&o, out);
    if (st != SX_OK) {
        sx_kit_web_stop(run_web);
        run_web = NULL;
    }
    return st;
}

int sx_router_run_wait(sx_router *r)
{
    (void)sx_kit_wait_stop_signal();
    sx_status st = sx_router_stop(r);
    sx_kit_web_stop(run_web);
    run_web = NULL;
    if (st != SX_OK) {
        SX_SAY(SX_SAY_ERROR, "Error: the server stopped without saving everything: %s", sx_status_str(st));
        return 1;
    }
    SX_SAY(SX_SAY_NOTE, "Server stopped");
    return 0;
}
