/* xftp-server setup and configuration: init's files (certificates through
 * the router kit, src/kit/identity.h), file-server.ini text and loader, the
 * start lines. The INI keys, defaults and messages follow FileTransfer/Server/Main.hs. */
#include "xftp_router/srvconfig.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/ini.h"
#include "kit/identity.h"
#include "kit/values.h"
#include "xftp/description.h"

static const sx_kit_file_names xftp_names = {
    .ini = SX_XFTP_INI_NAME,
    .store_log = "file-server-store.log",
    .stats_daily = "file-server-stats.daily.log",
    .stats_backup = "file-server-stats.log",
    .metrics = "xftp-server-metrics.txt",
};

sx_status sx_xftp_paths_init(sx_kit_paths *p, const char *cfg_dir, const char *log_dir)
{
    return sx_kit_paths_init(p, cfg_dir, log_dir, &xftp_names);
}

sx_status sx_xftp_paths_from_env(sx_kit_paths *p)
{
    return sx_kit_paths_from_env(p, SX_XFTP_CFG_ENV, SX_XFTP_DEFAULT_CFG_DIR, SX_XFTP_LOG_ENV,
                                 SX_XFTP_DEFAULT_LOG_DIR, &xftp_names);
}

void sx_xftp_init_options_default(sx_xftp_init_options *o)
{
    memset(o, 0, sizeof *o);
    o->store_log = true;
    o->sign_alg = SX_KEY_ED448;
    o->ip = "127.0.0.1";
}

sx_status sx_xftp_init_check(const sx_xftp_init_options *o, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    if (!o->files_path || !o->files_path[0]) {
        snprintf(err, errlen, "Missing: --path PATH");
        return SX_E_USAGE;
    }
    if (!o->quota || !o->quota[0]) {
        snprintf(err, errlen, "Missing: --quota QUOTA");
        return SX_E_USAGE;
    }
    int64_t q;
    if (sx_xftp_size_from_text(o->quota, strlen(o->quota), INT64_MAX, &q) != SX_OK) {
        snprintf(err, errlen, "option --quota: cannot parse value `%s' (e.g. 100gb)", o->quota);
        return SX_E_USAGE;
    }
    const char *vals[] = {o->ip, o->fqdn, o->files_path, o->web_path};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        if (sx_kit_has_control_char(vals[i])) {
            snprintf(err, errlen, "option values must not contain control characters");
            return SX_E_USAGE;
        }
    }
    if (!o->ip || !o->ip[0] || strlen(o->ip) > 255 || (o->fqdn && (!o->fqdn[0] || strlen(o->fqdn) > 255))) {
        snprintf(err, errlen, "--ip / --fqdn must be 1 to 255 characters");
        return SX_E_USAGE;
    }
    if (strlen(o->files_path) >= SX_KIT_PATH_MAX || (o->web_path && strlen(o->web_path) >= SX_KIT_PATH_MAX)) {
        snprintf(err, errlen, "path is too long");
        return SX_E_USAGE;
    }
    return SX_OK;
}

sx_status sx_xftp_ini_text(const sx_kit_paths *paths, const sx_xftp_init_options *o, const char *host,
                           char **out)
{
    *out = NULL;
    int64_t q;
    char quota[32];
    if (!o->quota || sx_xftp_size_from_text(o->quota, strlen(o->quota), INT64_MAX, &q) != SX_OK ||
        sx_xftp_size_to_text(q, quota, sizeof quota) != SX_OK)
        return SX_E_USAGE;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return SX_E_NOMEM;
    fputs("[INFORMATION]\n"
          "# AGPLv3 license requires that you make any source code modifications\n"
          "# available to the end users of the server.\n"
          "# LICENSE: https://github.com/simplex-chat/simplexmq/blob/stable/LICENSE\n"
          "# Include correct source code URI in case the server source code is modified in any way.\n"
          "# source_code: https://github.com/simplex-chat/simplexmq\n"
          "\n"
          "# Declaring all below information is optional, any of these fields can be omitted.\n"
          "# server_country: ISO-3166 2-letter code\n"
          "# operator: entity (organization or person name)\n"
          "# operator_country: ISO-3166 2-letter code\n"
          "# website:\n"
          "# admin_simplex: SimpleX address\n"
          "# admin_email:\n"
          "# complaints_simplex: SimpleX address\n"
          "# complaints_email:\n"
          "# hosting: entity (organization or person name)\n"
          "# hosting_country: ISO-3166 2-letter code\n"
          "# hosting_type: virtual\n"
          "\n"
          "[STORE_LOG]\n"
          "# The server uses STM memory for persistence,\n"
          "# that will be lost on restart (e.g., as with redis).\n"
          "# This option enables saving memory to append only log,\n"
          "# and restoring it when the server is started.\n"
          "# Log is compacted on start (deleted objects are removed).\n",
          f);
    fprintf(f, "enable: %s\n\n", o->store_log ? "on" : "off");
    fputs("# Expire files after the specified number of hours.\n", f);
    fprintf(f, "expire_files_hours: %d\n\n", SX_XFTP_DEFAULT_EXPIRE_HOURS);
    fputs("log_stats: off\n"
          "\n"
          "# Log interval for real-time Prometheus metrics\n"
          "# prometheus_interval: 60\n"
          "\n"
          "[AUTH]\n"
          "# Set new_files option to off to completely prohibit uploading new files.\n"
          "# This can be useful when you want to decommission the server, but still allow downloading the "
          "existing files.\n"
          "new_files: on\n"
          "\n"
          "# Use create_password option to enable basic auth to upload new files.\n"
          "# The password should be used as part of server address in client configuration:\n"
          "# xftp://fingerprint:password@host1,host2\n"
          "# The password will not be shared with file recipients, you must share it only\n"
          "# with the users who you want to allow uploading files to your server.\n"
          "# create_password: password to upload files (any printable ASCII characters without whitespace, "
          "'@', ':' and '/')\n"
          "\n"
          "# control_port_admin_password:\n"
          "# control_port_user_password:\n"
          "\n"
          "[TRANSPORT]\n"
          "# host is only used to print server address on start\n",
          f);
    fprintf(f, "host: %s\n", host);
    fputs("port: 443\n"
          "log_tls_errors: off\n"
          "# control_port: 5226\n"
          "\n"
          "[FILES]\n",
          f);
    fprintf(f, "path: %s\n", o->files_path);
    fprintf(f, "storage_quota: %s\n", quota);
    fputs("\n"
          "[INACTIVE_CLIENTS]\n"
          "# TTL and interval to check inactive clients\n"
          "disconnect: off\n"
          "# ttl: 21600\n"
          "# check_interval: 3600\n"
          "\n"
          "[WEB]\n"
          "# Set path to generate static mini-site for server information\n",
          f);
    if (o->web_path)
        fprintf(f, "static_path: %s\n\n", o->web_path);
    else
        fprintf(f, "static_path: %s/www\n\n", paths->log_dir);
    fputs("# Run an embedded HTTP server on this port.\n"
          "# http: 8000\n\n"
          "# TLS credentials for HTTPS web server on the same port as XFTP.\n",
          f);
    fprintf(f, "# cert: %s/web.crt\n", paths->cfg_dir);
    fprintf(f, "# key: %s/web.key\n", paths->cfg_dir);
    if (fclose(f) != 0) {
        free(buf);
        return SX_E_NOMEM;
    }
    *out = buf;
    return SX_OK;
}

sx_status sx_xftp_setup_init(const sx_kit_paths *paths, const sx_xftp_init_options *o,
                             uint8_t fp[SX_FINGERPRINT_LEN], char *host, size_t host_cap, char *err,
                             size_t errlen)
{
    if (errlen)
        err[0] = 0;
    if (access(paths->ini, F_OK) == 0) {
        snprintf(err, errlen, "server is already initialized (%s exists)", paths->ini);
        return SX_E_USAGE;
    }
    SX_TRY(sx_xftp_init_check(o, err, errlen));
    const char *h = o->fqdn                                               ? o->fqdn
                    : !o->ip_given && strcmp(o->ip, "127.0.0.1") == 0 ? "<hostnames>"
                                                                        : o->ip;
    if (!sx_str_copy(host, host_cap, h)) {
        snprintf(err, errlen, "host name is too long");
        return SX_E_USAGE;
    }
    SX_TRY(sx_kit_setup_identity(paths, o->sign_alg, o->fqdn ? o->fqdn : o->ip, fp, err, errlen));
    char *text = NULL;
    sx_status st = sx_xftp_ini_text(paths, o, host, &text);
    if (st != SX_OK) {
        snprintf(err, errlen, "cannot make the INI text");
        return st;
    }
    st = sx_kit_write_secret_text(paths->ini, text, err, errlen);
    free(text);
    return st;
}

/* ---- loading -------------------------------------------------------------- */

static sx_status bad(char *err, size_t errlen, const char *section, const char *key, const char *why)
{
    snprintf(err, errlen, "[%s] %s: %s", section, key, why);
    return SX_E_PROTOCOL;
}

static sx_status get_str(const sx_ini *ini, const char *section, const char *key, bool required, char *dst,
                         size_t cap, bool *present, char *err, size_t errlen)
{
    const char *v = sx_ini_get(ini, section, key);
    if (present)
        *present = v != NULL;
    if (!v) {
        if (required)
            return bad(err, errlen, section, key, "required value is missing");
        if (cap)
            dst[0] = 0;
        return SX_OK;
    }
    if (!sx_str_copy(dst, cap, v))
        return bad(err, errlen, section, key, "value is too long");
    return SX_OK;
}

static sx_status get_port(const sx_ini *ini, const char *section, const char *key, bool required, char *text,
                          size_t cap, uint16_t *port, bool *present, char *err, size_t errlen)
{
    SX_TRY(get_str(ini, section, key, required, text, cap, present, err, errlen));
    if (present && !*present)
        return SX_OK;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (!text[0] || *end || v < 0 || v > 65535 || text[0] == '-' || text[0] == '+')
        return bad(err, errlen, section, key, "not a port number");
    *port = (uint16_t)v;
    return SX_OK;
}

static sx_status get_password(const sx_ini *ini, const char *section, const char *key, char *dst, size_t cap,
                              bool *present, char *err, size_t errlen)
{
    SX_TRY(get_str(ini, section, key, false, dst, cap, present, err, errlen));
    if (*present && !sx_kit_password_valid(dst))
        return bad(err, errlen, section, key,
                   "invalid password (printable ASCII without spaces, '@', ':' or '/')");
    return SX_OK;
}

static sx_status load_ini(const sx_kit_paths *paths, const sx_ini *ini, sx_xftp_config *c, char *err,
                          size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->paths = *paths;
    bool present;
    /* [TRANSPORT] */
    SX_TRY(get_str(ini, "TRANSPORT", "host", false, c->host, sizeof c->host, &present, err, errlen));
    if (!present)
        memcpy(c->host, "<hostnames>", sizeof "<hostnames>");
    SX_TRY(get_port(ini, "TRANSPORT", "port", true, c->port_text, sizeof c->port_text, &c->port, NULL, err,
                    errlen));
    SX_TRY(sx_ini_bool(ini, "TRANSPORT", "log_tls_errors", false, &c->log_tls_errors, err, errlen));
    char ctl[16];
    SX_TRY(get_port(ini, "TRANSPORT", "control_port", false, ctl, sizeof ctl, &c->control_port,
                    &c->has_control_port, err, errlen));
    /* [STORE_LOG] */
    SX_TRY(sx_ini_bool(ini, "STORE_LOG", "enable", false, &c->store_log, err, errlen));
    SX_TRY(sx_ini_int(ini, "STORE_LOG", "expire_files_hours", 0, INT64_MAX / 3600, SX_XFTP_DEFAULT_EXPIRE_HOURS,
                      &c->expire_hours, err, errlen));
    SX_TRY(sx_ini_bool(ini, "STORE_LOG", "log_stats", false, &c->log_stats, err, errlen));
    const char *sf = sx_ini_get(ini, "STORE_LOG", "store_files");
    if (sf && strcmp(sf, "memory") != 0)
        return bad(err, errlen, "STORE_LOG", "store_files", "only `memory` is supported by this server");
    /* [FILES] */
    SX_TRY(get_str(ini, "FILES", "path", true, c->files_path, sizeof c->files_path, NULL, err, errlen));
    if (!c->files_path[0])
        return bad(err, errlen, "FILES", "path", "empty");
    const char *q = sx_ini_get(ini, "FILES", "storage_quota");
    if (q) {
        if (sx_xftp_size_from_text(q, strlen(q), INT64_MAX, &c->quota) != SX_OK)
            return bad(err, errlen, "FILES", "storage_quota", "not a size (e.g. 100gb)");
        c->has_quota = true;
    }
    /* [AUTH] */
    SX_TRY(sx_ini_bool(ini, "AUTH", "new_files", true, &c->new_files, err, errlen));
    SX_TRY(get_password(ini, "AUTH", "create_password", c->create_password, sizeof c->create_password,
                        &c->has_create_password, err, errlen));
    SX_TRY(get_password(ini, "AUTH", "control_port_admin_password", c->admin_password, sizeof c->admin_password,
                        &c->has_admin_password, err, errlen));
    SX_TRY(get_password(ini, "AUTH", "control_port_user_password", c->user_password, sizeof c->user_password,
                        &c->has_user_password, err, errlen));
    /* [INACTIVE_CLIENTS]: ttl and check_interval are required when on. */
    SX_TRY(sx_ini_bool(ini, "INACTIVE_CLIENTS", "disconnect", false, &c->inactive_disconnect, err, errlen));
    if (c->inactive_disconnect) {
        if (!sx_ini_get(ini, "INACTIVE_CLIENTS", "ttl"))
            return bad(err, errlen, "INACTIVE_CLIENTS", "ttl", "required value is missing");
        if (!sx_ini_get(ini, "INACTIVE_CLIENTS", "check_interval"))
            return bad(err, errlen, "INACTIVE_CLIENTS", "check_interval", "required value is missing");
        SX_TRY(sx_ini_int(ini, "INACTIVE_CLIENTS", "ttl", 0, INT64_MAX / 1000, 0, &c->inactive_ttl, err, errlen));
        SX_TRY(sx_ini_int(ini, "INACTIVE_CLIENTS", "check_interval", 1, INT64_MAX / 1000, 1,
                          &c->inactive_check_interval, err, errlen));
    }
    /* [WEB] */
    SX_TRY(get_str(ini, "WEB", "static_path", false, c->static_path, sizeof c->static_path, &c->has_static_path,
                   err, errlen));
    bool has_cert, has_key;
    SX_TRY(get_str(ini, "WEB", "cert", false, c->web_cert, sizeof c->web_cert, &has_cert, err, errlen));
    SX_TRY(get_str(ini, "WEB", "key", false, c->web_key, sizeof c->web_key, &has_key, err, errlen));
    c->has_web_cert = has_cert && has_key;
    char wport[16];
    bool has_port;
    SX_TRY(get_port(ini, "WEB", "http", false, wport, sizeof wport, &c->web_http_port, &has_port, err, errlen));
    SX_TRY(get_port(ini, "WEB", "https", false, wport, sizeof wport, &c->web_https_port, &has_port, err, errlen));
    /* [INFORMATION] */
    SX_TRY(get_str(ini, "INFORMATION", "source_code", false, c->source_code, sizeof c->source_code,
                   &c->has_source_code, err, errlen));
    return SX_OK;
}

sx_status sx_xftp_config_parse(const sx_kit_paths *paths, const char *text, size_t len, sx_xftp_config *cfg,
                               char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    sx_ini *ini = NULL;
    SX_TRY(sx_ini_parse(text, len, &ini, err, errlen));
    sx_status st = load_ini(paths, ini, cfg, err, errlen);
    sx_ini_free(ini);
    return st;
}

sx_status sx_xftp_config_load(const sx_kit_paths *paths, sx_xftp_config *cfg, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    sx_ini *ini = NULL;
    SX_TRY(sx_ini_load(paths->ini, &ini, err, errlen));
    sx_status st = load_ini(paths, ini, cfg, err, errlen);
    sx_ini_free(ini);
    return st;
}

void sx_xftp_config_to_opts(const sx_xftp_config *c, sx_xftp_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cert_file = c->paths.server_crt;
    o->ca_file = c->paths.ca_crt;
    o->key_file = c->paths.server_key;
    o->host = NULL; /* [TRANSPORT] host only names the server in its address */
    o->port = c->port;
    o->files_dir = c->files_path;
    o->quota = c->has_quota ? c->quota : 0;
    o->store_log_path = c->store_log ? c->paths.store_log : NULL;
    o->new_files = c->new_files;
    o->create_password = c->has_create_password ? c->create_password : NULL;
    /* 0 hours is a TTL of 0 in the reference; server.h reads 0 as "default",
     * and one second is the same to the hour-rounded expiry check. */
    o->file_ttl = c->expire_hours > 0 ? c->expire_hours * 3600 : 1;
    o->expire_interval = SX_XFTP_DEFAULT_EXPIRE_INTERVAL;
    o->file_timeout_ms = SX_XFTP_DEFAULT_FILE_TIMEOUT_MS;
    o->inactive_disconnect = c->inactive_disconnect;
    o->inactive_ttl = c->inactive_ttl;
    o->inactive_check_interval = c->inactive_check_interval;
    o->log_tls_errors = c->log_tls_errors;
    if (c->has_web_cert) {
        o->web_cert_file = c->web_cert;
        o->web_key_file = c->web_key;
    }
    o->web_static_path = c->has_static_path ? c->static_path : NULL;
    o->has_control_port = c->has_control_port;
    o->control_port = c->control_port;
    o->control_admin_password = c->has_admin_password ? c->admin_password : NULL;
    o->control_user_password = c->has_user_password ? c->user_password : NULL;
    o->stats_log_path = c->log_stats ? c->paths.stats_daily : NULL;
    o->stats_backup_path = c->log_stats ? c->paths.stats_backup : NULL;
}

/* ---- printing --------------------------------------------------------------- */

sx_status sx_xftp_format_address(const uint8_t fp[SX_FINGERPRINT_LEN], const char *host, const char *port,
                                 char *out, size_t cap)
{
    char text[SX_FINGERPRINT_TEXT_SIZE];
    SX_TRY(sx_x509_fingerprint_text(fp, text, sizeof text));
    bool with_port = port && port[0] && strcmp(port, "443") != 0;
    int n = snprintf(out, cap, "xftp://%s@%s%s%s", text, host, with_port ? ":" : "", with_port ? port : "");
    return n < 0 || (size_t)n >= cap ? SX_E_LIMIT : SX_OK;
}

void sx_xftp_print_service(FILE *out, const char *version_line, const uint8_t fp[SX_FINGERPRINT_LEN],
                           const char *host, const char *port)
{
    char text[SX_FINGERPRINT_TEXT_SIZE] = "";
    char addr[SX_KIT_HOST_MAX + 128] = "";
    if (sx_x509_fingerprint_text(fp, text, sizeof text) != SX_OK ||
        sx_xftp_format_address(fp, host, port, addr, sizeof addr) != SX_OK)
        addr[0] = 0;
    fprintf(out, "%s\n", version_line);
    fprintf(out, "Fingerprint: %s\n", text);
    fprintf(out, "Server address: %s\n", addr);
}

void sx_xftp_config_print_start(const sx_xftp_config *c, FILE *out, const char *version_line,
                                const uint8_t fp[SX_FINGERPRINT_LEN])
{
    sx_xftp_print_service(out, version_line, fp, c->host, c->port_text);
    if (c->has_source_code) {
        fprintf(out, "Server source code: %s\n", c->source_code);
    } else {
        fprintf(out, "Warning: server source code is not specified.\n");
        fprintf(out, "Add 'source_code' property to [INFORMATION] section of INI file.\n");
    }
    if (c->store_log)
        fprintf(out, "Store log: %s\n", c->paths.store_log);
    else
        fprintf(out, "Store log disabled.\n");
    char ttl[64];
    sx_kit_show_ttl(c->expire_hours * 3600, ttl, sizeof ttl);
    fprintf(out, "expiring files after %s\n", ttl);
    if (c->inactive_disconnect)
        fprintf(out, "expiring clients inactive for %lld seconds every %lld seconds\n", (long long)c->inactive_ttl,
                (long long)c->inactive_check_interval);
    else
        fprintf(out, "not expiring inactive clients\n");
    fprintf(out, "Uploading new files %s\n",
            c->new_files ? (c->has_create_password ? "requires password." : "allowed.") : "NOT allowed.");
}

void sx_xftp_config_print_listening(const sx_xftp_config *c, FILE *out)
{
    fprintf(out, "Listening on port %s...\n", c->port_text);
}
