/* smp-server configuration (PROTOCOL-NOTES H1, H7, H8, H10-H12): where its
 * files live (the paths are the router kit's, kit/paths.h), the INI file
 * turned into a validated sx_router_config and the lines `start` prints
 * before serving.
 * Nothing here touches the network; src/smp_router/server.c consumes the result. */
#ifndef SX_ROUTER_CONFIG_H
#define SX_ROUTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/ini.h"
#include "crypto/x509.h"
#include "kit/paths.h"
#include "kit/values.h"
#include "transport/socks.h"
#include "simplex/status.h"

/* PROTOCOL-NOTES H1: default folders and the environment variables that move
 * them (an empty variable means the default). */
#define SX_ROUTER_DEFAULT_CFG_DIR "/etc/opt/simplex"
#define SX_ROUTER_DEFAULT_LOG_DIR "/var/opt/simplex"
#define SX_ROUTER_CFG_ENV "SMP_SERVER_CFG_PATH"
#define SX_ROUTER_LOG_ENV "SMP_SERVER_LOG_PATH"
#define SX_ROUTER_INI_NAME "smp-server.ini"

#define SX_ROUTER_MAX_PORTS 8 /* [TRANSPORT] port list */
#define SX_ROUTER_MAX_WORKERS 256

/* smp-server's files (PROTOCOL-NOTES H1, H12) in the two folders; SX_E_LIMIT
 * when a path would not fit. */
SX_MUST_CHECK sx_status sx_router_paths_init(sx_kit_paths *p, const char *cfg_dir,
                                             const char *log_dir);
/* PROTOCOL-NOTES H1: folders from SMP_SERVER_CFG_PATH / SMP_SERVER_LOG_PATH or
 * the defaults. */
SX_MUST_CHECK sx_status sx_router_paths_from_env(sx_kit_paths *p);

typedef enum sx_router_log_level {
    SX_ROUTER_LOG_TRACE,
    SX_ROUTER_LOG_DEBUG,
    SX_ROUTER_LOG_INFO,
    SX_ROUTER_LOG_NOTE,
    SX_ROUTER_LOG_WARN,
    SX_ROUTER_LOG_ERROR,
} sx_router_log_level;

/* PROTOCOL-NOTES H11: options of `start` (command line, not INI). */
typedef struct sx_router_start_options {
    bool maintenance;   /* --maintenance: start-up and shut-down tasks only */
    bool compact_log;   /* --compact-log (always done with memory queues) */
    bool skip_warnings; /* --skip-warnings */
    sx_router_log_level log_level; /* --log-level, default info */
} sx_router_start_options;

/* The validated INI. Strings are NUL-terminated copies; durations are in
 * seconds. Plain data: it may be copied and shared read-only by threads. */
typedef struct sx_router_config {
    sx_kit_paths paths;

    /* [STORE_LOG]. Storage is memory queues + memory messages (the only
     * combination supported so far); the loader refuses the others. */
    bool store_log;           /* enable (absent: off) */
    bool restore_messages;    /* absent: follows enable */
    bool store_log_fsync;     /* ours: fdatasync each store-log batch (absent: off) */
    bool msgs_journal;        /* store_messages: journal (messages in <log>/messages) */
    bool journal_fsync;       /* ours: fsync each journal write (absent: off) */
    bool queues_db;           /* store_queues: database (then no store log) */
    bool msgs_db;             /* store_messages: database */
    char db_connection[SX_KIT_TEXT_MAX + 1]; /* db_connection (absent: the reference's default) */
    char db_schema[256];      /* db_schema (absent: smp_server) */
    int db_pool_size;         /* db_pool_size (absent: 10) */
    int64_t db_deleted_ttl;   /* seconds: db_deleted_ttl (absent: 21 days) */
    int64_t msg_ttl;          /* 86400 * expire_messages_days (21) */
    int64_t msg_check_interval; /* 7200, not configurable */
    bool expire_on_start;     /* expire_messages_on_start (absent: on) */
    bool expire_on_send;      /* expire_messages_on_send (absent: on) */
    int64_t ntf_ttl;          /* 3600 * expire_ntfs_hours (24) */
    int64_t ntf_check_interval; /* 3600, not configurable */
    bool log_stats;           /* log_stats (absent: off) */
    int64_t prometheus_interval; /* seconds, 0 = no metrics file */

    /* [AUTH] */
    bool new_queues;          /* absent: on */
    bool has_create_password;
    char create_password[SX_KIT_PASSWORD_MAX + 1];
    bool has_control_admin_password;
    char control_admin_password[SX_KIT_PASSWORD_MAX + 1];
    bool has_control_user_password;
    char control_user_password[SX_KIT_PASSWORD_MAX + 1];
    int64_t daily_block_queue_quota; /* absent: 20; 0 = no limit; -1 = no blocking */

    /* [TRANSPORT] */
    char host[SX_KIT_HOST_MAX + 1];      /* absent: "<hostnames>"; only printed */
    char port_text[SX_KIT_HOST_MAX + 1]; /* the port value as written */
    size_t n_ports;           /* 1..SX_ROUTER_MAX_PORTS, distinct */
    uint16_t ports[SX_ROUTER_MAX_PORTS];
    bool log_tls_errors;      /* absent: off */
    uint16_t control_port;    /* 0 = no control port */
    unsigned workers;         /* ours: [TRANSPORT] workers, absent: CPU cores */

    /* [PROXY] (PROTOCOL-NOTES D30-D38). No SOCKS client: socks_proxy is
     * refused, so host_mode onion chooses as public does (the reference
     * prefers onion hosts only through a SOCKS proxy). */
    int64_t proxy_client_concurrency; /* client_concurrency (absent: 32) */
    bool proxy_host_mode_onion;       /* host_mode: public (absent) | onion */
    bool proxy_required_host_mode;    /* required_host_mode (absent: off) */
    bool proxy_socks_always;          /* socks_mode: onion (absent) | always */
    bool proxy_has_socks;             /* socks_proxy is set */
    sx_socks_proxy proxy_socks;       /* socks_proxy, parsed (transport/socks.h) */
    char own_server_domains[SX_KIT_HOST_MAX + 1]; /* as written; "" when absent */
    int64_t proxy_forward_timeout;    /* ours: forward_timeout, seconds (absent: 30) */

    /* [INACTIVE_CLIENTS] */
    bool expire_inactive;     /* disconnect (absent: off) */
    int64_t inactive_ttl;     /* ttl, mandatory when disconnect is on */
    int64_t inactive_check_interval; /* check_interval, likewise */

    /* [INFORMATION]: other fields are only validated, as the reference
     * ignores them all when source_code is absent. */
    bool has_source_code;
    char source_code[SX_KIT_TEXT_MAX + 1];

    /* [WEB] (kit/web.h, smp_router/website.h): the site is generated into
     * static_path at start and served on http (plain) and https (the web
     * certificate); an https port that is also an SMP port is shared. */
    char web_static_path[SX_KIT_PATH_MAX]; /* "" = absent: no site */
    uint16_t web_http_port;   /* 0 = absent */
    uint16_t web_https_port;  /* 0 = absent */
    char web_cert[SX_KIT_PATH_MAX]; /* "" = absent */
    char web_key[SX_KIT_PATH_MAX];  /* "" = absent */

    sx_router_start_options start; /* set by the caller, defaults from the loader */
} sx_router_config;

/* Fills cfg from a parsed INI. paths are copied into cfg->paths. On a bad or
 * missing value returns SX_E_PROTOCOL with err naming the section and key
 * (booleans are exactly on/off, PROTOCOL-NOTES H8); unsupported storage or
 * transport settings are SX_E_USAGE with an explanation. */
SX_MUST_CHECK sx_status sx_router_config_from_ini(const sx_ini *ini, const sx_kit_paths *paths,
                                                  sx_router_config *cfg, char *err,
                                                  size_t errlen);
/* Same from INI text (len bytes). */
SX_MUST_CHECK sx_status sx_router_config_parse(const char *text, size_t len,
                                               const sx_kit_paths *paths,
                                               sx_router_config *cfg, char *err, size_t errlen);
/* Reads paths->ini; SX_E_IO when it cannot be read. */
SX_MUST_CHECK sx_status sx_router_config_load(const sx_kit_paths *paths,
                                              sx_router_config *cfg, char *err, size_t errlen);

/* PROTOCOL-NOTES H11 presence checks for the memory message store: refuses to
 * start when a journal folder (<log>/messages) exists. SX_E_USAGE with the
 * reason. */
SX_MUST_CHECK sx_status sx_router_config_check_storage(const sx_router_config *cfg, char *err,
                                                       size_t errlen);

/* PROTOCOL-NOTES H9/H10: `smp://<fp>[:<password>]@<host>[:<port>]` (port
 * omitted when NULL or empty). SX_E_LIMIT when it does not fit in cap bytes. */
SX_MUST_CHECK sx_status sx_router_format_address(const uint8_t fp[SX_FINGERPRINT_LEN],
                                                 const char *password, const char *host,
                                                 const char *port, char *out, size_t cap);

/* PROTOCOL-NOTES H9/H10 first lines: version line, `Fingerprint: ...`, `Server
 * address: ...`, then the source code line or its two-line warning. */
void sx_router_print_service(FILE *out, const char *version_line,
                             const uint8_t fp[SX_FINGERPRINT_LEN], const char *password,
                             const char *host, const char *port, const char *source_code);

/* The service lines (sx_router_print_service) of the router cfg configures:
 * the address with its [TRANSPORT] host and port as `start` prints it (our
 * `init` prints the same, where the reference's has no port). */
void sx_router_config_print_service(const sx_router_config *cfg, FILE *out,
                                    const char *version_line,
                                    const uint8_t fp[SX_FINGERPRINT_LEN]);

/* PROTOCOL-NOTES H10, what `start` prints, in three parts: _start prints the
 * service lines and the store log line; _limits (after the storage checks)
 * message and client expiry and the queue-creation policy, plus a note for
 * settings that are read but not acted upon yet; _serving, once the ports
 * are bound, one line per port and the port-443 warning. The reference
 * prints the port lines before it binds, so a port in use shows as served;
 * ours follow the bind. */
void sx_router_config_print_start(const sx_router_config *cfg, FILE *out,
                                  const char *version_line,
                                  const uint8_t fp[SX_FINGERPRINT_LEN]);
void sx_router_config_print_limits(const sx_router_config *cfg, FILE *out);
void sx_router_config_print_serving(const sx_router_config *cfg, FILE *out);

#endif
