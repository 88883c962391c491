/* smp-server configuration (PROTOCOL-NOTES H1, H6-H8, H10-H12): where the
 * files live, the INI file turned into a validated sx_router_config, the
 * stored-fingerprint check and the lines `start` prints before serving.
 * Nothing here touches the network; src/router/server.c consumes the result. */
#ifndef SX_ROUTER_CONFIG_H
#define SX_ROUTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/ini.h"
#include "crypto/x509.h"
#include "simplex/status.h"

/* PROTOCOL-NOTES H1: default folders and the environment variables that move
 * them (an empty variable means the default). */
#define SX_ROUTER_DEFAULT_CFG_DIR "/etc/opt/simplex"
#define SX_ROUTER_DEFAULT_LOG_DIR "/var/opt/simplex"
#define SX_ROUTER_CFG_ENV "SMP_SERVER_CFG_PATH"
#define SX_ROUTER_LOG_ENV "SMP_SERVER_LOG_PATH"
#define SX_ROUTER_INI_NAME "smp-server.ini"

#define SX_ROUTER_PATH_MAX 1024   /* longest accepted path, including the NUL */
#define SX_ROUTER_MAX_PORTS 8     /* [TRANSPORT] port list */
#define SX_ROUTER_PASSWORD_MAX 255 /* BasicAuth travels as a short string */
#define SX_ROUTER_HOST_MAX 512    /* [TRANSPORT] host, printed only */
#define SX_ROUTER_TEXT_MAX 1024   /* URIs and other free text values */
#define SX_ROUTER_MAX_WORKERS 256

/* Every file the router reads or writes, derived from the two folders. */
typedef struct sx_router_paths {
    char cfg_dir[SX_ROUTER_PATH_MAX];
    char log_dir[SX_ROUTER_PATH_MAX];
    char ini[SX_ROUTER_PATH_MAX];          /* <cfg>/smp-server.ini */
    char ca_key[SX_ROUTER_PATH_MAX];       /* <cfg>/ca.key (offline identity key) */
    char ca_crt[SX_ROUTER_PATH_MAX];       /* <cfg>/ca.crt (identity, fingerprinted) */
    char server_key[SX_ROUTER_PATH_MAX];   /* <cfg>/server.key */
    char server_crt[SX_ROUTER_PATH_MAX];   /* <cfg>/server.crt */
    char fingerprint[SX_ROUTER_PATH_MAX];  /* <cfg>/fingerprint */
    char store_log[SX_ROUTER_PATH_MAX];    /* <log>/smp-server-store.log */
    char messages_log[SX_ROUTER_PATH_MAX]; /* <log>/smp-server-messages.log */
    char ntfs_log[SX_ROUTER_PATH_MAX];     /* <log>/smp-server-ntfs.log */
    char messages_dir[SX_ROUTER_PATH_MAX]; /* <log>/messages (journal store) */
    char stats_daily[SX_ROUTER_PATH_MAX];  /* <log>/smp-server-stats.daily.log */
    char stats_backup[SX_ROUTER_PATH_MAX]; /* <log>/smp-server-stats.log */
    char metrics[SX_ROUTER_PATH_MAX];      /* <log>/smp-server-metrics.txt */
} sx_router_paths;

/* The file names of one kind of router (smp-server, xftp-server); the
 * certificates and fingerprint are named alike for all. NULL: no such file
 * (its path stays empty). */
typedef struct sx_router_file_names {
    const char *ini, *store_log, *messages_log, *ntfs_log, *messages_dir;
    const char *stats_daily, *stats_backup, *metrics;
} sx_router_file_names;

/* Fills p from the two folders with names' files. SX_E_LIMIT when a path
 * would not fit. */
SX_MUST_CHECK sx_status sx_router_paths_init_named(sx_router_paths *p, const char *cfg_dir,
                                                   const char *log_dir, const sx_router_file_names *names);
/* The folders from the environment variables when set and not empty,
 * otherwise the defaults. */
SX_MUST_CHECK sx_status sx_router_paths_from_env_named(sx_router_paths *p, const char *cfg_env,
                                                       const char *cfg_default, const char *log_env,
                                                       const char *log_default,
                                                       const sx_router_file_names *names);
/* smp-server's files. */
SX_MUST_CHECK sx_status sx_router_paths_init(sx_router_paths *p, const char *cfg_dir,
                                             const char *log_dir);
/* PROTOCOL-NOTES H1: folders from SMP_SERVER_CFG_PATH / SMP_SERVER_LOG_PATH or
 * the defaults. */
SX_MUST_CHECK sx_status sx_router_paths_from_env(sx_router_paths *p);

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
    sx_router_paths paths;

    /* [STORE_LOG]. Storage is memory queues + memory messages (the only
     * combination supported so far); the loader refuses the others. */
    bool store_log;           /* enable (absent: off) */
    bool restore_messages;    /* absent: follows enable */
    bool store_log_fsync;     /* ours: fdatasync each store-log batch (absent: off) */
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
    char create_password[SX_ROUTER_PASSWORD_MAX + 1];
    bool has_control_admin_password;
    char control_admin_password[SX_ROUTER_PASSWORD_MAX + 1];
    bool has_control_user_password;
    char control_user_password[SX_ROUTER_PASSWORD_MAX + 1];
    int64_t daily_block_queue_quota; /* absent: 20; 0 = no limit; -1 = no blocking */

    /* [TRANSPORT] */
    char host[SX_ROUTER_HOST_MAX + 1]; /* absent: "<hostnames>"; only printed */
    char port_text[SX_ROUTER_HOST_MAX + 1]; /* the port value as written */
    size_t n_ports;           /* 1..SX_ROUTER_MAX_PORTS, distinct */
    uint16_t ports[SX_ROUTER_MAX_PORTS];
    bool log_tls_errors;      /* absent: off */
    uint16_t control_port;    /* 0 = no control port */
    unsigned workers;         /* ours: [TRANSPORT] workers, absent: CPU cores */

    /* [PROXY] */
    int64_t proxy_client_concurrency; /* client_concurrency (absent: 32) */

    /* [INACTIVE_CLIENTS] */
    bool expire_inactive;     /* disconnect (absent: off) */
    int64_t inactive_ttl;     /* ttl, mandatory when disconnect is on */
    int64_t inactive_check_interval; /* check_interval, likewise */

    /* [INFORMATION]: other fields are only validated, as the reference
     * ignores them all when source_code is absent. */
    bool has_source_code;
    char source_code[SX_ROUTER_TEXT_MAX + 1];

    /* [WEB]: read but not served yet (the lines `start` prints say so). */
    char web_static_path[SX_ROUTER_PATH_MAX];
    uint16_t web_http_port;   /* 0 = absent */
    uint16_t web_https_port;  /* 0 = absent */

    sx_router_start_options start; /* set by the caller, defaults from the loader */
} sx_router_config;

/* Fills cfg from a parsed INI. paths are copied into cfg->paths. On a bad or
 * missing value returns SX_E_PROTOCOL with err naming the section and key
 * (booleans are exactly on/off, PROTOCOL-NOTES H8); unsupported storage or
 * transport settings are SX_E_USAGE with an explanation. */
SX_MUST_CHECK sx_status sx_router_config_from_ini(const sx_ini *ini, const sx_router_paths *paths,
                                                  sx_router_config *cfg, char *err,
                                                  size_t errlen);
/* Same from INI text (len bytes). */
SX_MUST_CHECK sx_status sx_router_config_parse(const char *text, size_t len,
                                               const sx_router_paths *paths,
                                               sx_router_config *cfg, char *err, size_t errlen);
/* Reads paths->ini; SX_E_IO when it cannot be read. */
SX_MUST_CHECK sx_status sx_router_config_load(const sx_router_paths *paths,
                                              sx_router_config *cfg, char *err, size_t errlen);

/* PROTOCOL-NOTES H11 presence checks for the memory message store: refuses to
 * start when a journal folder (<log>/messages) exists. SX_E_USAGE with the
 * reason. */
SX_MUST_CHECK sx_status sx_router_config_check_storage(const sx_router_config *cfg, char *err,
                                                       size_t errlen);

/* PROTOCOL-NOTES H6: reads the first line of the fingerprint file and compares
 * it with the fingerprint of ca.crt. SX_E_IO if either file cannot be read,
 * SX_E_AUTH with "Stored fingerprint is invalid." on a mismatch. fp receives
 * the computed fingerprint. */
SX_MUST_CHECK sx_status sx_router_check_fingerprint(const sx_router_paths *paths,
                                                    uint8_t fp[SX_FINGERPRINT_LEN], char *err,
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

/* PROTOCOL-NOTES H10, what `start` prints before serving, in two parts as the
 * reference does (storage checks run between them): _start prints the service
 * lines, the store log line, one line per port and the port-443
 * warning; _limits prints message and client expiry and the queue-creation
 * policy, plus a note for settings that are read but not acted upon yet. */
void sx_router_config_print_start(const sx_router_config *cfg, FILE *out,
                                  const char *version_line,
                                  const uint8_t fp[SX_FINGERPRINT_LEN]);
void sx_router_config_print_limits(const sx_router_config *cfg, FILE *out);

/* Shared value checks (also used by init). A BasicAuth password is 1..255
 * printable ASCII characters other than space, '@', ':' and '/'. A country
 * is two ASCII letters. */
/* The reference's showTTL: the largest whole unit, "N seconds" / "N minutes"
 * / "N hours" / "N days" (floor division as Haskell's divMod). */
void sx_router_show_ttl(int64_t s, char *out, size_t cap);
bool sx_router_password_valid(const char *s);
bool sx_router_country_valid(const char *s);
/* `virtual`, `dedicated`, `colocation` or `owned`. */
bool sx_router_hosting_type_valid(const char *s);

#endif
