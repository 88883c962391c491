/* ntf-server setup: folders, init's files, ntf-server.ini text, the printed
 * address (PROTOCOL-NOTES H20-H23). */
#include "ntf_router/setup.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "core/bytes.h"
#include "kit/identity.h"
#include "kit/values.h"

static const sx_kit_file_names ntf_names = {
    .ini = SX_NTF_INI_NAME,
    .store_log = "ntf-server-store.log",
    .stats_daily = "ntf-server-stats.daily.log",
    .stats_backup = "ntf-server-stats.log",
    .metrics = "ntf-server-metrics.txt",
};

sx_status sx_ntf_paths_init(sx_kit_paths *p, const char *cfg_dir, const char *log_dir)
{
    return sx_kit_paths_init(p, cfg_dir, log_dir, &ntf_names);
}

sx_status sx_ntf_paths_from_env(sx_kit_paths *p)
{
    return sx_kit_paths_from_env(p, SX_NTF_CFG_ENV, SX_NTF_DEFAULT_CFG_DIR, SX_NTF_LOG_ENV,
                                 SX_NTF_DEFAULT_LOG_DIR, &ntf_names);
}

void sx_ntf_init_options_default(sx_ntf_init_options *o)
{
    memset(o, 0, sizeof *o);
    o->store_log = true;
    o->sign_alg = SX_KEY_ED448;
    o->ip = "127.0.0.1";
}

sx_status sx_ntf_init_check(const sx_ntf_init_options *o, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    const char *vals[] = {o->ip, o->fqdn, o->db_conn, o->db_schema};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        if (sx_kit_has_control_char(vals[i]) || (vals[i] && strlen(vals[i]) > 1000)) {
            snprintf(err, errlen, "option values must be shorter than 1000 characters, without control characters");
            return SX_E_USAGE;
        }
    }
    if (!o->ip || !o->ip[0] || strlen(o->ip) > 255 || (o->fqdn && (!o->fqdn[0] || strlen(o->fqdn) > 255))) {
        snprintf(err, errlen, "--ip / --fqdn must be 1 to 255 characters");
        return SX_E_USAGE;
    }
    if ((o->db_conn && !o->db_conn[0]) || (o->db_schema && !o->db_schema[0])) {
        snprintf(err, errlen, "--database / --schema must not be empty");
        return SX_E_USAGE;
    }
    return SX_OK;
}

const char *sx_ntf_init_host(const sx_ntf_init_options *o)
{
    if (o->fqdn)
        return o->fqdn;
    return strcmp(o->ip, "127.0.0.1") == 0 ? "<hostnames>" : o->ip;
}

/* A database line, commented out when it holds the default (iniDbOpts). */
static void db_line(FILE *f, const char *key, const char *value, const char *def)
{
    const char *v = value ? value : def;
    fprintf(f, "%s%s: %s\n", strcmp(v, def) == 0 ? "# " : "", key, v);
}

sx_status sx_ntf_ini_text(const sx_ntf_init_options *o, const char *host, char **out)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return SX_E_NOMEM;
    fputs("[STORE_LOG]\n"
          "# on: tokens and subscriptions are kept in the store log in the log folder\n"
          "# and read back when the server starts.\n",
          f);
    fprintf(f, "enable: %s\n\n", o->store_log ? "on" : "off");
    fputs("# PostgreSQL store (the reference's option).\n", f);
    db_line(f, "db_connection", o->db_conn, SX_NTF_DEFAULT_DB_CONNECTION);
    db_line(f, "db_schema", o->db_schema, SX_NTF_DEFAULT_DB_SCHEMA);
    char pool[16];
    snprintf(pool, sizeof pool, "%u", o->db_pool_size ? o->db_pool_size : SX_NTF_DEFAULT_DB_POOL_SIZE);
    fprintf(f, "%sdb_pool_size: %s\n\n", o->db_pool_size && o->db_pool_size != SX_NTF_DEFAULT_DB_POOL_SIZE ? "" : "# ",
            pool);
    fputs("# Seconds deleted entities would stay in the database (the reference reads\n"
          "# seconds, its comment says days). Not used by the NTF router: deleted\n"
          "# tokens and subscriptions leave the database at once, as the reference's.\n",
          f);
    fprintf(f, "# db_deleted_ttl: %d\n\n", SX_NTF_DEFAULT_DELETED_TTL_DAYS);
    fputs("log_stats: off\n"
          "\n"
          "# Seconds between writes of the Prometheus metrics file.\n"
          "# prometheus_interval: 60\n"
          "\n"
          "[AUTH]\n"
          "# control_port_admin_password:\n"
          "# control_port_user_password:\n"
          "\n"
          "[TRANSPORT]\n"
          "# host: only printed in the server address at start; ports: a comma-separated list.\n",
          f);
    fprintf(f, "host: %s\n", host);
    fprintf(f, "port: %s\n", SX_NTF_DEFAULT_PORT);
    fputs("log_tls_errors: off\n"
          "\n"
          "# websockets: a port to also serve websockets on, or off.\n"
          "websockets: off\n"
          "\n"
          "# control_port: 5227\n"
          "\n"
          "[SUBSCRIBER]\n"
          "# How this server connects to the SMP routers of the queues it subscribes to.\n"
          "# host_mode: public or onion (which host of a router with several to use).\n"
          "# host_mode: public\n"
          "# required_host_mode: off\n"
          "\n"
          "# SOCKS proxy for the SMP connections.\n"
          "# socks_proxy: localhost:9050\n"
          "\n"
          "# socks_mode: onion (proxy only .onion hosts) or always.\n"
          "# socks_mode: onion\n"
          "\n"
          "# Space-separated domain suffixes of the routers you operate, counted apart in statistics.\n"
          "# own_server_domains: \n"
          "\n"
          "# Subscribe as a service with a client certificate where the SMP router supports it.\n"
          "# use_service_credentials: off\n"
          "\n"
          "[INACTIVE_CLIENTS]\n"
          "# Disconnect clients that sent nothing for ttl seconds, checked every check_interval seconds.\n"
          "disconnect: off\n"
          "# ttl: 21600\n"
          "# check_interval: 3600\n",
          f);
    if (fclose(f) != 0) {
        free(buf);
        return SX_E_NOMEM;
    }
    *out = buf;
    return SX_OK;
}

sx_status sx_ntf_setup_init(const sx_kit_paths *paths, const sx_ntf_init_options *o,
                            uint8_t fp[SX_FINGERPRINT_LEN], char *host, size_t host_cap, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    if (access(paths->ini, F_OK) == 0) {
        snprintf(err, errlen, "server is already initialized (%s exists)", paths->ini);
        return SX_E_USAGE;
    }
    SX_TRY(sx_ntf_init_check(o, err, errlen));
    if (!sx_str_copy(host, host_cap, sx_ntf_init_host(o))) {
        snprintf(err, errlen, "host name is too long");
        return SX_E_USAGE;
    }
    SX_TRY(sx_kit_setup_identity(paths, o->sign_alg, o->fqdn ? o->fqdn : o->ip, fp, err, errlen));
    char *text = NULL;
    sx_status st = sx_ntf_ini_text(o, host, &text);
    if (st != SX_OK) {
        snprintf(err, errlen, "cannot make the INI text");
        return st;
    }
    st = sx_kit_write_secret_text(paths->ini, text, err, errlen);
    free(text);
    return st;
}

sx_status sx_ntf_format_address(const uint8_t fp[SX_FINGERPRINT_LEN], const char *host, const char *port,
                                char *out, size_t cap)
{
    char text[SX_FINGERPRINT_TEXT_SIZE];
    SX_TRY(sx_x509_fingerprint_text(fp, text, sizeof text));
    bool with_port = port && port[0] && strcmp(port, SX_NTF_DEFAULT_PORT) != 0;
    int n = snprintf(out, cap, "ntf://%s@%s%s%s", text, host, with_port ? ":" : "", with_port ? port : "");
    return n < 0 || (size_t)n >= cap ? SX_E_LIMIT : SX_OK;
}

void sx_ntf_print_service(FILE *out, const char *version_line, const uint8_t fp[SX_FINGERPRINT_LEN],
                          const char *host, const char *port)
{
    char text[SX_FINGERPRINT_TEXT_SIZE] = "";
    char addr[SX_KIT_HOST_MAX + 128] = "";
    if (sx_x509_fingerprint_text(fp, text, sizeof text) != SX_OK ||
        sx_ntf_format_address(fp, host, port, addr, sizeof addr) != SX_OK)
        addr[0] = 0;
    fprintf(out, "%s\n", version_line);
    fprintf(out, "Fingerprint: %s\n", text);
    fprintf(out, "Server address: %s\n", addr);
}
