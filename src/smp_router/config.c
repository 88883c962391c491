/* smp-server configuration: its file names (PROTOCOL-NOTES H1, H4, H12), the
 * INI file read into sx_router_config with the reference's defaults
 * (PROTOCOL-NOTES H7, H8, H11) and the start-up lines (PROTOCOL-NOTES H10). */
#include "smp_router/config.h"
#include "smp_router/pgschema.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"

#define DAY 86400
#define HOUR 3600

static const sx_kit_file_names smp_names = {
    .ini = SX_ROUTER_INI_NAME,
    .store_log = "smp-server-store.log",
    .messages_log = "smp-server-messages.log",
    .ntfs_log = "smp-server-ntfs.log",
    .messages_dir = "messages",
    .stats_daily = "smp-server-stats.daily.log",
    .stats_backup = "smp-server-stats.log",
    .metrics = "smp-server-metrics.txt",
};

sx_status sx_router_paths_init(sx_kit_paths *p, const char *cfg_dir, const char *log_dir)
{
    return sx_kit_paths_init(p, cfg_dir, log_dir, &smp_names);
}

sx_status sx_router_paths_from_env(sx_kit_paths *p)
{
    return sx_kit_paths_from_env(p, SX_ROUTER_CFG_ENV, SX_ROUTER_DEFAULT_CFG_DIR, SX_ROUTER_LOG_ENV,
                                 SX_ROUTER_DEFAULT_LOG_DIR, &smp_names);
}

/* ---- INI ----------------------------------------------------------------- */

static sx_status get_text(const sx_ini *ini, const char *section, const char *key, char *dst,
                          size_t cap, bool *present, char *err, size_t errlen)
{
    const char *v = sx_ini_get(ini, section, key);
    *present = v != NULL;
    if (!v)
        return SX_OK;
    if (!v[0]) {
        snprintf(err, errlen, "[%s] %s: empty value", section, key);
        return SX_E_PROTOCOL;
    }
    if (!sx_str_copy(dst, cap, v)) {
        snprintf(err, errlen, "[%s] %s: value longer than %zu characters", section, key, cap - 1);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

static sx_status get_password(const sx_ini *ini, const char *key, char *dst, bool *present,
                              char *err, size_t errlen)
{
    const char *v = sx_ini_get(ini, "AUTH", key);
    *present = v != NULL;
    if (!v)
        return SX_OK;
    if (!sx_kit_password_valid(v)) {
        snprintf(err, errlen,
                 "[AUTH] %s: use 1 to %d printable ASCII characters without spaces, '@', ':' "
                 "or '/'",
                 key, SX_KIT_PASSWORD_MAX);
        return SX_E_PROTOCOL;
    }
    memcpy(dst, v, strlen(v) + 1);
    return SX_OK;
}

static sx_status get_port(const sx_ini *ini, const char *section, const char *key, uint16_t *out,
                          char *err, size_t errlen)
{
    int64_t v;
    SX_TRY(sx_ini_int(ini, section, key, 1, 65535, 0, &v, err, errlen));
    *out = (uint16_t)v;
    return SX_OK;
}

/* PROTOCOL-NOTES H8/H10: `port` is a comma-separated list of port numbers. */
static sx_status parse_ports(const char *text, sx_router_config *cfg, char *err, size_t errlen)
{
    cfg->n_ports = 0;
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        unsigned long v = 0;
        bool ok = n > 0 && n <= 5;
        for (size_t i = 0; ok && i < n; i++) {
            ok = p[i] >= '0' && p[i] <= '9';
            v = v * 10 + (unsigned long)(p[i] - '0');
        }
        if (!ok || v == 0 || v > 65535) {
            snprintf(err, errlen, "[TRANSPORT] port: expected comma-separated port numbers, got '%s'",
                     text);
            return SX_E_PROTOCOL;
        }
        for (size_t i = 0; i < cfg->n_ports; i++) {
            if (cfg->ports[i] == v) {
                snprintf(err, errlen, "[TRANSPORT] port: port %lu is listed twice", v);
                return SX_E_PROTOCOL;
            }
        }
        if (cfg->n_ports == SX_ROUTER_MAX_PORTS) {
            snprintf(err, errlen, "[TRANSPORT] port: at most %d ports", SX_ROUTER_MAX_PORTS);
            return SX_E_PROTOCOL;
        }
        cfg->ports[cfg->n_ports++] = (uint16_t)v;
        if (!end)
            break;
        p = end + 1;
    }
    return SX_OK;
}

/* PROTOCOL-NOTES H11: which queue and message stores the INI asks for; the
 * pairs and the errors of the reference's readStoreType. */
static sx_status check_store_type(const sx_ini *ini, char *err, size_t errlen)
{
    const char *q = sx_ini_get(ini, "STORE_LOG", "store_queues");
    const char *m = sx_ini_get(ini, "STORE_LOG", "store_messages");
    q = q ? q : "memory";
    m = m ? m : "memory";
    bool q_mem = strcmp(q, "memory") == 0, q_db = strcmp(q, "database") == 0;
    bool m_mem = strcmp(m, "memory") == 0, m_db = strcmp(m, "database") == 0;
    bool m_journal = strcmp(m, "journal") == 0;
    if ((q_mem && (m_mem || m_journal)) || (q_db && (m_journal || m_db)))
        return SX_OK;
    if ((q_mem && m_db) || (q_db && m_mem)) {
        snprintf(err, errlen,
                 "[STORE_LOG] store_queues: %s, store_messages: %s: Database and memory storage are not "
                 "compatible.",
                 q, m);
        return SX_E_PROTOCOL;
    }
    snprintf(err, errlen, "[STORE_LOG] Invalid storage settings: store_queues: %s, store_messages: %s", q, m);
    return SX_E_PROTOCOL;
}

/* [STORE_LOG] db_* keys (the reference's iniDBOptions and deleted TTL). */
static sx_status read_db(const sx_ini *ini, sx_router_config *cfg, char *err, size_t errlen)
{
    const char *s = "STORE_LOG";
    const char *conn = sx_ini_get(ini, s, "db_connection");
    const char *schema = sx_ini_get(ini, s, "db_schema");
    conn = conn ? conn : SX_PGDB_DEFAULT_CONNECTION;
    schema = schema ? schema : SX_PGDB_DEFAULT_SCHEMA;
    if (strlen(conn) >= sizeof cfg->db_connection || !schema[0] || strlen(schema) >= sizeof cfg->db_schema) {
        snprintf(err, errlen, "[STORE_LOG] db_connection or db_schema: too long or empty");
        return SX_E_PROTOCOL;
    }
    snprintf(cfg->db_connection, sizeof cfg->db_connection, "%s", conn);
    snprintf(cfg->db_schema, sizeof cfg->db_schema, "%s", schema);
    int64_t v;
    SX_TRY(sx_ini_int(ini, s, "db_pool_size", 1, 1000, SX_PGDB_DEFAULT_POOL, &v, err, errlen));
    cfg->db_pool_size = (int)v;
    /* seconds, as the reference reads it (its init comment says days) */
    SX_TRY(sx_ini_int(ini, s, "db_deleted_ttl", 0, INT64_MAX / 2, 21 * DAY, &v, err, errlen));
    cfg->db_deleted_ttl = v;
    bool db_log = false;
    SX_TRY(sx_ini_bool(ini, s, "db_store_log", false, &db_log, err, errlen));
    if (db_log && cfg->queues_db) {
        snprintf(err, errlen,
                 "[STORE_LOG] db_store_log: on is not supported by this server (the database alone keeps the "
                 "queues); set it off");
        return SX_E_USAGE;
    }
    return SX_OK;
}

static sx_status read_store_log(const sx_ini *ini, sx_router_config *cfg, char *err, size_t errlen)
{
    const char *s = "STORE_LOG";
    int64_t v;
    SX_TRY(check_store_type(ini, err, errlen));
    SX_TRY(sx_ini_bool(ini, s, "enable", false, &cfg->store_log, err, errlen));
    SX_TRY(sx_ini_bool(ini, s, "restore_messages", cfg->store_log, &cfg->restore_messages, err,
                       errlen));
    SX_TRY(sx_ini_bool(ini, s, "fsync", false, &cfg->store_log_fsync, err, errlen));
    const char *m = sx_ini_get(ini, s, "store_messages");
    const char *q = sx_ini_get(ini, s, "store_queues");
    cfg->msgs_journal = m && strcmp(m, "journal") == 0;
    cfg->msgs_db = m && strcmp(m, "database") == 0;
    cfg->queues_db = q && strcmp(q, "database") == 0;
    SX_TRY(read_db(ini, cfg, err, errlen));
    SX_TRY(sx_ini_bool(ini, s, "journal_fsync", false, &cfg->journal_fsync, err, errlen));
    if (cfg->queues_db) {
        /* the database keeps the queues (and with msgs_db the messages):
         * no store log, no saved messages */
        cfg->store_log = false;
        cfg->restore_messages = false;
    } else if (cfg->msgs_journal && !cfg->store_log) {
        snprintf(err, errlen, "[STORE_LOG] store_messages: journal needs the store log (enable: on)");
        return SX_E_USAGE;
    }
    SX_TRY(sx_ini_int(ini, s, "expire_messages_days", 0, 100000, 21, &v, err, errlen));
    cfg->msg_ttl = v * DAY;
    cfg->msg_check_interval = 2 * HOUR;
    SX_TRY(sx_ini_bool(ini, s, "expire_messages_on_start", true, &cfg->expire_on_start, err,
                       errlen));
    /* The reference's own default is on, although init writes off. */
    SX_TRY(sx_ini_bool(ini, s, "expire_messages_on_send", true, &cfg->expire_on_send, err, errlen));
    SX_TRY(sx_ini_int(ini, s, "expire_ntfs_hours", 0, 100000 * 24, 24, &v, err, errlen));
    cfg->ntf_ttl = v * HOUR;
    cfg->ntf_check_interval = HOUR;
    SX_TRY(sx_ini_bool(ini, s, "log_stats", false, &cfg->log_stats, err, errlen));
    SX_TRY(sx_ini_int(ini, s, "prometheus_interval", 0, INT32_MAX, 0, &cfg->prometheus_interval,
                      err, errlen));
    return SX_OK;
}

static sx_status read_auth(const sx_ini *ini, sx_router_config *cfg, char *err, size_t errlen)
{
    SX_TRY(sx_ini_bool(ini, "AUTH", "new_queues", true, &cfg->new_queues, err, errlen));
    SX_TRY(get_password(ini, "create_password", cfg->create_password, &cfg->has_create_password,
                        err, errlen));
    SX_TRY(get_password(ini, "control_port_admin_password", cfg->control_admin_password,
                        &cfg->has_control_admin_password, err, errlen));
    SX_TRY(get_password(ini, "control_port_user_password", cfg->control_user_password,
                        &cfg->has_control_user_password, err, errlen));
    SX_TRY(sx_ini_int(ini, "AUTH", "daily_block_queue_quota", -1, INT32_MAX, 20,
                      &cfg->daily_block_queue_quota, err, errlen));
    return SX_OK;
}

static unsigned default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > SX_ROUTER_MAX_WORKERS ? SX_ROUTER_MAX_WORKERS : (unsigned)n;
}

static sx_status read_transport(const sx_ini *ini, sx_router_config *cfg, char *err, size_t errlen)
{
    const char *s = "TRANSPORT";
    bool present;
    SX_TRY(get_text(ini, s, "host", cfg->host, sizeof cfg->host, &present, err, errlen));
    if (!present)
        memcpy(cfg->host, "<hostnames>", sizeof "<hostnames>");

    const char *port = sx_ini_get(ini, s, "port");
    if (!port) {
        snprintf(err, errlen, "[TRANSPORT] port: missing (this key is required)");
        return SX_E_PROTOCOL;
    }
    if (!sx_str_copy(cfg->port_text, sizeof cfg->port_text, port)) {
        snprintf(err, errlen, "[TRANSPORT] port: value too long");
        return SX_E_PROTOCOL;
    }
    SX_TRY(parse_ports(port, cfg, err, errlen));

    const char *ws = sx_ini_get(ini, s, "websockets");
    if (!ws) {
        snprintf(err, errlen, "[TRANSPORT] websockets: missing (this key is required, use off)");
        return SX_E_PROTOCOL;
    }
    if (strcmp(ws, "off") != 0) {
        snprintf(err, errlen,
                 "[TRANSPORT] websockets: '%s' is not supported by this server, use off", ws);
        return SX_E_USAGE;
    }
    SX_TRY(sx_ini_bool(ini, s, "log_tls_errors", false, &cfg->log_tls_errors, err, errlen));
    SX_TRY(get_port(ini, s, "control_port", &cfg->control_port, err, errlen));
    int64_t w;
    SX_TRY(sx_ini_int(ini, s, "workers", 1, SX_ROUTER_MAX_WORKERS, default_workers(), &w, err,
                      errlen));
    cfg->workers = (unsigned)w;
    return SX_OK;
}

static sx_status read_inactive(const sx_ini *ini, sx_router_config *cfg, char *err, size_t errlen)
{
    const char *s = "INACTIVE_CLIENTS";
    SX_TRY(sx_ini_bool(ini, s, "disconnect", false, &cfg->expire_inactive, err, errlen));
    if (!cfg->expire_inactive)
        return SX_OK;
    static const char *const keys[] = {"ttl", "check_interval"};
    int64_t *vals[] = {&cfg->inactive_ttl, &cfg->inactive_check_interval};
    for (size_t i = 0; i < 2; i++) {
        if (!sx_ini_get(ini, s, keys[i])) {
            snprintf(err, errlen, "[%s] %s: missing (required when disconnect is on)", s, keys[i]);
            return SX_E_PROTOCOL;
        }
        SX_TRY(sx_ini_int(ini, s, keys[i], 1, INT32_MAX, 0, vals[i], err, errlen));
    }
    return SX_OK;
}

/* [PROXY]: how the router reaches destination routers when it forwards
 * (reference Server/Main.hs and chooseTransportHost at 152c30ca68). */
static sx_status read_proxy(const sx_ini *ini, sx_router_config *cfg, char *err, size_t errlen)
{
    const char *s = "PROXY";
    SX_TRY(sx_ini_int(ini, s, "client_concurrency", 1, INT32_MAX, 32, &cfg->proxy_client_concurrency, err,
                      errlen));
    const char *hm = sx_ini_get(ini, s, "host_mode");
    if (hm && strcmp(hm, "public") != 0 && strcmp(hm, "onion") != 0) {
        snprintf(err, errlen, "[%s] host_mode: expected public or onion, got '%s'", s, hm);
        return SX_E_PROTOCOL;
    }
    cfg->proxy_host_mode_onion = hm && strcmp(hm, "onion") == 0;
    SX_TRY(sx_ini_bool(ini, s, "required_host_mode", false, &cfg->proxy_required_host_mode, err, errlen));
    const char *sm = sx_ini_get(ini, s, "socks_mode");
    if (sm && strcmp(sm, "onion") != 0 && strcmp(sm, "always") != 0) {
        snprintf(err, errlen, "[%s] socks_mode: expected onion or always, got '%s'", s, sm);
        return SX_E_PROTOCOL;
    }
    cfg->proxy_socks_always = sm && strcmp(sm, "always") == 0;
    /* socks_proxy: the reference's SocksProxyWithAuth ("[user:pass@|@]
     * host:port", the host numeric); its relay connections go through it
     * always, or with socks_mode onion for .onion hosts only. */
    const char *sp = sx_ini_get(ini, s, "socks_proxy");
    cfg->proxy_has_socks = sp != NULL;
    if (sp && sx_socks_proxy_parse(sp, &cfg->proxy_socks) != SX_OK) {
        snprintf(err, errlen,
                 "[%s] socks_proxy: expected [user:password@]host:port with a numeric IPv4 or [IPv6] host, "
                 "got '%s'",
                 s, sp);
        return SX_E_PROTOCOL;
    }
    bool present;
    SX_TRY(get_text(ini, s, "own_server_domains", cfg->own_server_domains, sizeof cfg->own_server_domains,
                    &present, err, errlen));
    /* Ours: how long a destination may take to answer a forwarded command. */
    SX_TRY(sx_ini_int(ini, s, "forward_timeout", 1, 3600, 30, &cfg->proxy_forward_timeout, err, errlen));
    return SX_OK;
}

static sx_status read_information(const sx_ini *ini, sx_router_config *cfg, char *err,
                                  size_t errlen)
{
    const char *s = "INFORMATION";
    SX_TRY(get_text(ini, s, "source_code", cfg->source_code, sizeof cfg->source_code,
                    &cfg->has_source_code, err, errlen));
    /* Without source_code the reference disregards this whole section. */
    if (!cfg->has_source_code)
        return SX_OK;
    static const char *const countries[] = {"server_country", "operator_country",
                                            "hosting_country"};
    for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++) {
        const char *v = sx_ini_get(ini, s, countries[i]);
        if (v && !sx_kit_country_valid(v)) {
            snprintf(err, errlen, "[%s] %s: use an ISO 3166 two-letter country code, got '%s'", s,
                     countries[i], v);
            return SX_E_PROTOCOL;
        }
    }
    const char *ht = sx_ini_get(ini, s, "hosting_type");
    if (ht && !sx_kit_hosting_type_valid(ht)) {
        snprintf(err, errlen,
                 "[%s] hosting_type: expected virtual, dedicated, colocation or owned, got '%s'", s,
                 ht);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

static sx_status read_web(const sx_ini *ini, sx_router_config *cfg, char *err, size_t errlen)
{
    bool present;
    SX_TRY(get_text(ini, "WEB", "static_path", cfg->web_static_path, sizeof cfg->web_static_path,
                    &present, err, errlen));
    SX_TRY(get_port(ini, "WEB", "http", &cfg->web_http_port, err, errlen));
    SX_TRY(get_port(ini, "WEB", "https", &cfg->web_https_port, err, errlen));
    SX_TRY(get_text(ini, "WEB", "cert", cfg->web_cert, sizeof cfg->web_cert, &present, err, errlen));
    SX_TRY(get_text(ini, "WEB", "key", cfg->web_key, sizeof cfg->web_key, &present, err, errlen));
    return SX_OK;
}

sx_status sx_router_config_from_ini(const sx_ini *ini, const sx_kit_paths *paths,
                                    sx_router_config *cfg, char *err, size_t errlen)
{
    SX_ENSURE(ini && paths && cfg && (err || errlen == 0), SX_E_USAGE);
    if (errlen)
        err[0] = 0;
    memset(cfg, 0, sizeof *cfg);
    cfg->paths = *paths;
    cfg->start.log_level = SX_ROUTER_LOG_INFO;
    SX_TRY(read_information(ini, cfg, err, errlen));
    SX_TRY(read_store_log(ini, cfg, err, errlen));
    SX_TRY(read_auth(ini, cfg, err, errlen));
    SX_TRY(read_transport(ini, cfg, err, errlen));
    SX_TRY(read_proxy(ini, cfg, err, errlen));
    SX_TRY(read_inactive(ini, cfg, err, errlen));
    SX_TRY(read_web(ini, cfg, err, errlen));
    return SX_OK;
}

sx_status sx_router_config_parse(const char *text, size_t len, const sx_kit_paths *paths,
                                 sx_router_config *cfg, char *err, size_t errlen)
{
    sx_ini *ini = NULL;
    SX_TRY(sx_ini_parse(text, len, &ini, err, errlen));
    sx_status st = sx_router_config_from_ini(ini, paths, cfg, err, errlen);
    sx_ini_free(ini);
    return st;
}

sx_status sx_router_config_load(const sx_kit_paths *paths, sx_router_config *cfg, char *err,
                                size_t errlen)
{
    SX_ENSURE(paths, SX_E_USAGE);
    sx_ini *ini = NULL;
    SX_TRY(sx_ini_load(paths->ini, &ini, err, errlen));
    sx_status st = sx_router_config_from_ini(ini, paths, cfg, err, errlen);
    sx_ini_free(ini);
    return st;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

sx_status sx_router_config_check_storage(const sx_router_config *cfg, char *err, size_t errlen)
{
    const sx_kit_paths *p = &cfg->paths;
    if (cfg->queues_db && is_file(p->store_log)) {
        snprintf(err, errlen,
                 "store_queues is `database` with %s file present; set store_queues to `memory` or use "
                 "`smp-server database import` to migrate",
                 p->store_log);
        return SX_E_USAGE;
    }
    if (cfg->msgs_db) {
        if (!is_file(p->messages_log))
            return SX_OK;
        snprintf(err, errlen,
                 "store_messages is `database` with %s file present; use `smp-server database import messages` "
                 "to migrate",
                 p->messages_log);
        return SX_E_USAGE;
    }
    if (cfg->msgs_journal) {
        if (!is_file(p->messages_log))
            return SX_OK;
        snprintf(err, errlen,
                 "store_messages is `journal` with %s file present; set store_messages to `memory` or "
                 "use `smp-server journal import` to migrate",
                 p->messages_log);
        return SX_E_USAGE;
    }
    if (!is_dir(p->messages_dir))
        return SX_OK;
    if (is_file(p->messages_log))
        snprintf(err, errlen, "both %s file and %s directory are present; keep only one of them",
                 p->messages_log, p->messages_dir);
    else
        snprintf(err, errlen,
                 "store_messages is `memory` with %s directory present; set store_messages to "
                 "`journal` or use `smp-server journal export` to migrate",
                 p->messages_dir);
    return SX_E_USAGE;
}

/* ---- printing ------------------------------------------------------------ */

sx_status sx_router_format_address(const uint8_t fp[SX_FINGERPRINT_LEN], const char *password,
                                   const char *host, const char *port, char *out, size_t cap)
{
    char text[SX_FINGERPRINT_TEXT_SIZE];
    SX_TRY(sx_x509_fingerprint_text(fp, text, sizeof text));
    bool pw = password && password[0], pt = port && port[0];
    int n = snprintf(out, cap, "smp://%s%s%s@%s%s%s", text, pw ? ":" : "", pw ? password : "", host,
                     pt ? ":" : "", pt ? port : "");
    return n >= 0 && (size_t)n < cap ? SX_OK : SX_E_LIMIT;
}

void sx_router_print_service(FILE *out, const char *version_line,
                             const uint8_t fp[SX_FINGERPRINT_LEN], const char *password,
                             const char *host, const char *port, const char *source_code)
{
    char text[SX_FINGERPRINT_TEXT_SIZE] = "";
    char addr[SX_KIT_HOST_MAX * 2 + SX_KIT_PASSWORD_MAX + 64];
    if (sx_x509_fingerprint_text(fp, text, sizeof text) != SX_OK ||
        sx_router_format_address(fp, password, host, port, addr, sizeof addr) != SX_OK)
        addr[0] = 0;
    fprintf(out, "%s\n", version_line);
    fprintf(out, "Fingerprint: %s\n", text);
    fprintf(out, "Server address: %s\n", addr);
    if (source_code) {
        fprintf(out, "Server source code: %s\n", source_code);
    } else {
        fprintf(out, "Warning: server source code is not specified.\n");
        fprintf(out, "Add 'source_code' property to [INFORMATION] section of INI file.\n");
    }
}

void sx_router_config_print_service(const sx_router_config *cfg, FILE *out,
                                    const char *version_line, const uint8_t fp[SX_FINGERPRINT_LEN])
{
    /* PROTOCOL-NOTES H10: the configured port text is shown unless it is the
     * default 5223. */
    const char *port = strcmp(cfg->port_text, "5223") == 0 ? NULL : cfg->port_text;
    sx_router_print_service(out, version_line, fp,
                            cfg->has_create_password ? cfg->create_password : NULL, cfg->host,
                            port, cfg->has_source_code ? cfg->source_code : NULL);
}

void sx_router_config_print_start(const sx_router_config *cfg, FILE *out,
                                  const char *version_line, const uint8_t fp[SX_FINGERPRINT_LEN])
{
    sx_router_config_print_service(cfg, out, version_line, fp);
    if (cfg->queues_db)
        fprintf(out, "Queue store: PostgreSQL database %s, schema %s\n", cfg->db_connection, cfg->db_schema);
    else if (cfg->store_log)
        fprintf(out, "Store log: %s\n", cfg->paths.store_log);
    else
        fprintf(out, "Store log disabled.\n");
}

void sx_router_config_print_serving(const sx_router_config *cfg, FILE *out)
{
    bool has443 = false;
    for (size_t i = 0; i < cfg->n_ports; i++) {
        fprintf(out, "Serving SMP protocol on port %u (TLS)...\n", (unsigned)cfg->ports[i]);
        /* As the reference: [WEB] https on an SMP port shares it. */
        if (cfg->ports[i] == cfg->web_https_port)
            fprintf(out, "Serving static site on port %u (TLS)...\n", (unsigned)cfg->ports[i]);
        has443 = has443 || cfg->ports[i] == 443;
    }
    if (!has443)
        fprintf(out, "\nWARNING: the clients will use port 443 by default soon.\n"
                     "Set `port` in smp-server.ini section [TRANSPORT] to `5223,443`\n\n");
}

void sx_router_config_print_limits(const sx_router_config *cfg, FILE *out)
{
    char ttl[64];
    sx_kit_show_ttl(cfg->msg_ttl, ttl, sizeof ttl);
    fprintf(out, "expiring messages after %s\n", ttl);
    if (cfg->expire_inactive)
        fprintf(out, "expiring clients inactive for %lld seconds every %lld seconds\n",
                (long long)cfg->inactive_ttl, (long long)cfg->inactive_check_interval);
    else
        fprintf(out, "not expiring inactive clients\n");
    fprintf(out, "creating new queues %s\n",
            !cfg->new_queues ? "NOT allowed"
                             : cfg->has_create_password ? "requires password" : "allowed");
}
