/* The XFTP router's network server (PROTOCOL-NOTES F.1-F.5; reference
 * FileTransfer/Server.hs, Transport/HTTP2/Server.hs at 152c30ca68): HTTP/2
 * (nghttp2) over non-blocking TLS 1.3 on event-loop worker threads, the
 * xftp/1 three-request handshake and the browser (h2 + SNI) handshake,
 * commands against the file store, chunk bodies streamed between socket
 * and disk under HTTP/2 flow control, quota, expiry, the optional control
 * port, CORS and the static web page.
 *
 * Embedding API for tests and the xftp-server program. */
#ifndef SX_XFTP_SERVER_H
#define SX_XFTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

#define SX_XFTP_DEFAULT_PORT 443
#define SX_XFTP_DEFAULT_CONTROL_PORT 5226
#define SX_XFTP_DEFAULT_FILE_TTL (48 * 3600)       /* expire_files_hours = 48 */
#define SX_XFTP_DEFAULT_EXPIRE_INTERVAL (2 * 3600) /* checked every 2 hours */
#define SX_XFTP_DEFAULT_FILE_TIMEOUT_MS (5 * 60 * 1000) /* receiving one chunk */

/* What the server needs; strings are borrowed for the server's lifetime. */
typedef struct sx_xftp_server_opts {
    const char *cert_file;   /* server.crt */
    const char *ca_file;     /* ca.crt (its SHA-256 is the identity) */
    const char *key_file;    /* server.key */
    const char *host;        /* address to bind; NULL = all interfaces */
    uint16_t port;           /* 0 = ephemeral (tests) */
    unsigned workers;        /* event-loop threads; 0 = number of cores */
    const char *files_dir;   /* [FILES] path */
    int64_t quota;           /* [FILES] storage_quota in bytes; <= 0: none */
    const char *store_log_path; /* NULL = [STORE_LOG] enable = off */
    bool new_files;          /* [AUTH] new_files */
    const char *create_password; /* [AUTH] create_password; NULL = none */
    int64_t file_ttl;        /* seconds; 0 = SX_XFTP_DEFAULT_FILE_TTL, < 0 = never */
    int64_t expire_interval; /* seconds between sweeps; 0 = default */
    int64_t file_timeout_ms; /* FPUT body deadline; 0 = default */
    bool inactive_disconnect;     /* [INACTIVE_CLIENTS] */
    int64_t inactive_ttl;         /* seconds */
    int64_t inactive_check_interval;
    bool log_tls_errors;
    /* Connections of one address with the handshake not done, at most (0:
     * the kit's default, 64); loopback counts only with limit_loopback
     * (tests), see sx_kit_workers_opts. */
    unsigned max_pending_per_addr;
    bool limit_loopback;
    /* [WEB]: the HTTPS credential browsers get (chosen by SNI), and the
     * folder of the static page served on GET. NULL = none. */
    const char *web_cert_file;
    const char *web_key_file;
    const char *web_static_path;
    /* PROTOCOL-NOTES F29a control port on 127.0.0.1. */
    bool has_control_port;
    uint16_t control_port;   /* 0 = ephemeral (tests) */
    const char *control_admin_password;
    const char *control_user_password;
    /* [STORE_LOG] log_stats: the daily CSV file (file-server-stats.daily.log,
     * a line at 00:00 UTC every day) and the backup file
     * (file-server-stats.log: restored at start and renamed to .bak, written
     * at stop). NULL = none. */
    const char *stats_log_path;
    const char *stats_backup_path;
    bool quiet;              /* no progress lines on stdout (tests) */
} sx_xftp_server_opts;

typedef struct sx_xftp_server sx_xftp_server;

/* Opens the store (replaying the log), restores the statistics backup, binds and serves in background
 * threads. SX_E_IO when the port cannot be bound or the store cannot be
 * opened, SX_E_PROTOCOL for unusable certificates or a statistics backup
 * that cannot be parsed (as the reference, which exits then). */
SX_MUST_CHECK sx_status sx_xftp_server_start(const sx_xftp_server_opts *opts,
                                             sx_xftp_server **out);
/* The port actually bound. */
uint16_t sx_xftp_server_port(const sx_xftp_server *s);
/* The control port actually bound, 0 when there is none. */
uint16_t sx_xftp_server_control_port(const sx_xftp_server *s);
/* Runs one expiry sweep now with the given clock (tests); *n_deleted files. */
SX_MUST_CHECK sx_status sx_xftp_server_expire_now(sx_xftp_server *s, int64_t now,
                                                  size_t *n_deleted);
/* Appends the daily statistics line for time now to stats_log_path now
 * (tests; resets the counters as the daily log does). SX_E_USAGE without
 * a stats log, SX_E_IO. */
SX_MUST_CHECK sx_status sx_xftp_server_log_stats_now(sx_xftp_server *s, int64_t now);
/* Stops, closes every connection and the store, frees. Accepts NULL. */
void sx_xftp_server_stop(sx_xftp_server *s);

#endif
