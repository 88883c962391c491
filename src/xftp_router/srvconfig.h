/* xftp-server configuration and setup (PROTOCOL-NOTES H16-H19; reference
 * FileTransfer/Server/Main.hs at 152c30ca68): the two folders, `init`
 * (certificates through src/kit/identity.h, file-server.ini in the
 * reference's layout), file-server.ini turned into a validated config and
 * into sx_xftp_server_opts, and the lines `start` prints. No network here. */
#ifndef SX_XFTP_SRVCONFIG_H
#define SX_XFTP_SRVCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/keys.h"
#include "crypto/x509.h"
#include "kit/paths.h"
#include "kit/values.h"
#include "simplex/status.h"
#include "xftp_router/server.h"

#define SX_XFTP_DEFAULT_CFG_DIR "/etc/opt/simplex-xftp"
#define SX_XFTP_DEFAULT_LOG_DIR "/var/opt/simplex-xftp"
#define SX_XFTP_CFG_ENV "XFTP_SERVER_CFG_PATH"
#define SX_XFTP_LOG_ENV "XFTP_SERVER_LOG_PATH"
#define SX_XFTP_INI_NAME "file-server.ini"
#define SX_XFTP_DEFAULT_EXPIRE_HOURS 48

/* The files of an XFTP router in sx_kit_paths: ini = file-server.ini,
 * store_log = file-server-store.log, stats_daily / stats_backup =
 * file-server-stats{.daily,}.log, metrics = xftp-server-metrics.txt;
 * the certificate, key and fingerprint names are those of every router. The
 * message / notification entries are left empty. SX_E_LIMIT when too long. */
SX_MUST_CHECK sx_status sx_xftp_paths_init(sx_kit_paths *p, const char *cfg_dir, const char *log_dir);
/* PROTOCOL-NOTES H16: folders from XFTP_SERVER_CFG_PATH / XFTP_SERVER_LOG_PATH
 * (empty = unset) or the defaults. */
SX_MUST_CHECK sx_status sx_xftp_paths_from_env(sx_kit_paths *p);

/* PROTOCOL-NOTES H17 options of `init`; strings borrowed, NULL = not given. */
typedef struct sx_xftp_init_options {
    bool store_log;        /* default on; --disable-store-log */
    sx_key_alg sign_alg;   /* default SX_KEY_ED448 */
    const char *ip;        /* default "127.0.0.1" */
    bool ip_given;         /* --ip was given: the host even when 127.0.0.1 */
    const char *fqdn;
    const char *files_path; /* required --path */
    const char *quota;      /* required --quota, FileSize text ("100gb") */
    const char *web_path;   /* default <log>/www */
} sx_xftp_init_options;

void sx_xftp_init_options_default(sx_xftp_init_options *o);

/* Checks init's options: path and quota given, quota parses, no control
 * characters. SX_E_USAGE with the reason in err. */
SX_MUST_CHECK sx_status sx_xftp_init_check(const sx_xftp_init_options *o, char *err, size_t errlen);

/* PROTOCOL-NOTES H18: the INI text init writes (the reference's layout, `key:
 * value`). *out is a new string the caller frees. SX_E_USAGE (quota),
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_ini_text(const sx_kit_paths *paths, const sx_xftp_init_options *o,
                                         const char *host, char **out);

/* `init`: refuses (SX_E_USAGE) when the INI exists or the options fail the
 * check; otherwise empties and creates both folders, creates the CA and
 * server certificates (CN = fqdn or ip), the fingerprint file and the INI.
 * fp gets the fingerprint, host (cap >= SX_KIT_HOST_MAX + 1) the host
 * printed in the address: fqdn, else ip unless it is the default
 * 127.0.0.1 (not given), else "<hostnames>". Errors: SX_E_USAGE, SX_E_IO, SX_E_INTERNAL; err says what. */
SX_MUST_CHECK sx_status sx_xftp_setup_init(const sx_kit_paths *paths, const sx_xftp_init_options *o,
                                           uint8_t fp[SX_FINGERPRINT_LEN], char *host, size_t host_cap,
                                           char *err, size_t errlen);

/* The validated file-server.ini. */
typedef struct sx_xftp_config {
    sx_kit_paths paths;
    char host[SX_KIT_HOST_MAX + 1];        /* [TRANSPORT] host, "<hostnames>" when absent */
    char port_text[16];                    /* [TRANSPORT] port (required) */
    uint16_t port;
    bool log_tls_errors;
    bool has_control_port;
    uint16_t control_port;
    bool store_log;                        /* [STORE_LOG] enable */
    int64_t expire_hours;                  /* [STORE_LOG] expire_files_hours, default 48 */
    bool log_stats;
    char files_path[SX_KIT_PATH_MAX]; /* [FILES] path (required) */
    bool has_quota;
    int64_t quota;                         /* [FILES] storage_quota */
    bool new_files;                        /* [AUTH] new_files, default on */
    bool has_create_password;
    char create_password[SX_KIT_PASSWORD_MAX + 1];
    bool has_admin_password, has_user_password;
    char admin_password[SX_KIT_PASSWORD_MAX + 1];
    char user_password[SX_KIT_PASSWORD_MAX + 1];
    bool inactive_disconnect;              /* [INACTIVE_CLIENTS] */
    int64_t inactive_ttl, inactive_check_interval;
    bool has_static_path;
    char static_path[SX_KIT_PATH_MAX];     /* [WEB] static_path */
    bool has_web_cert;                     /* [WEB] cert and key both given */
    uint16_t web_http_port, web_https_port; /* [WEB] http / https, 0 = absent */
    char web_cert[SX_KIT_PATH_MAX], web_key[SX_KIT_PATH_MAX];
    bool has_source_code;
    char source_code[SX_KIT_TEXT_MAX]; /* [INFORMATION] source_code */
} sx_xftp_config;

/* Reads paths->ini into cfg. Errors name section and key: SX_E_IO (cannot
 * read), SX_E_PROTOCOL (syntax, a missing required key, a bad value). */
SX_MUST_CHECK sx_status sx_xftp_config_load(const sx_kit_paths *paths, sx_xftp_config *cfg, char *err,
                                            size_t errlen);
/* The same from INI text (tests). */
SX_MUST_CHECK sx_status sx_xftp_config_parse(const sx_kit_paths *paths, const char *text, size_t len,
                                             sx_xftp_config *cfg, char *err, size_t errlen);

/* Server options pointing into cfg (which must outlive them). */
void sx_xftp_config_to_opts(const sx_xftp_config *cfg, sx_xftp_server_opts *opts);

/* `xftp://<fp>@<host>[:<port>]` (port omitted when NULL, empty or "443"). */
SX_MUST_CHECK sx_status sx_xftp_format_address(const uint8_t fp[SX_FINGERPRINT_LEN], const char *host,
                                               const char *port, char *out, size_t cap);
/* The version line, "Fingerprint: ..." and "Server address: ..." (init and
 * start). */
void sx_xftp_print_service(FILE *out, const char *version_line, const uint8_t fp[SX_FINGERPRINT_LEN],
                           const char *host, const char *port);
/* What start prints before serving: service lines, source code, store log,
 * file expiry, inactive clients, upload policy. */
void sx_xftp_config_print_start(const sx_xftp_config *cfg, FILE *out, const char *version_line,
                                const uint8_t fp[SX_FINGERPRINT_LEN]);
/* "Listening on port ...": the reference prints it with the lines above;
 * we print it once the port is bound, so a script that waits for it can
 * connect at once. */
void sx_xftp_config_print_listening(const sx_xftp_config *cfg, FILE *out);

#endif
