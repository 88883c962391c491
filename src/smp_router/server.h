/* The SMP router's network server: worker threads with one event loop each,
 * TLS and SMP handshakes, command processing against the queue store, and
 * message delivery to subscribers (PROTOCOL-NOTES B, C, D, E).
 *
 * Embedding API for tests and the smp-server program: start a router on
 * loopback or configured ports in background threads, learn its bound
 * ports and identity, stop it. */
#ifndef SX_ROUTER_SERVER_H
#define SX_ROUTER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "smp_router/config.h"
#include "transport/socks.h"
#include "simplex/status.h"

/* What the server needs; filled from sx_router_config by the program, or by
 * hand in tests. Strings are borrowed for the router's lifetime. */
typedef struct sx_router_opts {
    const char *cert_file; /* server.crt */
    const char *ca_file;   /* ca.crt */
    const char *key_file;  /* server.key */
    const char *host;      /* address to bind, e.g. "0.0.0.0" or "127.0.0.1" */
    uint16_t ports[SX_ROUTER_MAX_PORTS]; /* 0 = ephemeral (tests) */
    size_t n_ports;
    unsigned workers;      /* 0 = number of cores */
    bool new_queues;       /* [AUTH] new_queues */
    const char *create_password; /* [AUTH] create_password, NULL = none */
    const char *store_log_path;  /* NULL = no store log */
    const char *msgs_log_path;   /* NULL = do not save/restore messages */
    const char *ntfs_log_path;   /* NULL = do not save/restore notifications */
    /* The message journal (smp_router/msgjournal.h), with msgs_log_path:
     * NULL = messages are kept only at a clean stop, as the reference does. */
    const char *msgs_journal_path;
    /* store_messages: journal (smp_router/store_journal.h): the messages
     * folder; msgs_log_path and msgs_journal_path are then NULL. */
    const char *msgs_dir_path;
    bool msgs_dir_fsync;
    /* store_queues: database (smp_router/pgqueues.h): the queues in this
     * PostgreSQL database and schema instead of a store log
     * (store_log_path is then NULL); db_messages: the messages too
     * (store_messages: database, smp_router/pgmsgs.h). */
    const char *db_connection;
    const char *db_schema;
    int db_pool_size;          /* 0 = 10 */
    int64_t db_deleted_ttl;    /* seconds a deleted queue's row is kept, 0 = 21 days */
    bool db_messages;
    /* start --maintenance (as the reference): sx_router_start restores the
     * state and returns a router that serves nothing (no port, no thread);
     * sx_router_stop then saves the state as at any stop. */
    bool maintenance;
    uint64_t journal_compact_bytes; /* compact the journal above this, 0 = 64 MiB */
    int journal_check_ms;           /* how often its size is checked, 0 = 1 s */
    int log_retry_ms;               /* a failed log write retried after, 0 = 1 s */
    int64_t msg_ttl_seconds;     /* PROTOCOL-NOTES E20, 0 = never expire */
    int64_t msg_check_interval;  /* seconds between expiry sweeps, 0 = 7200 */
    int64_t ntf_ttl_seconds;     /* PROTOCOL-NOTES E21, 0 = 24 h */
    bool inactive_disconnect;    /* PROTOCOL-NOTES B37 */
    int64_t inactive_ttl;
    int64_t inactive_check_interval;
    bool log_tls_errors;
    bool store_log_sync;   /* fdatasync every store-log batch (power loss) */
    bool skip_warnings;    /* --skip-warnings when restoring messages */
    bool quiet;            /* no progress lines on stdout (tests) */
    int64_t handshake_timeout_ms; /* PROTOCOL-NOTES B7: 0 = 120 s (TLS: half of it) */
    /* PROTOCOL-NOTES B7a: a block begun after the handshake must be whole
     * within this; 0 = 40 s */
    int64_t block_timeout_ms;
    /* Connections of one address with the handshake not done, at most (0:
     * the kit's default, 64); loopback counts only with limit_loopback
     * (tests), see sx_kit_workers_opts. */
    unsigned max_pending_per_addr;
    bool limit_loopback;
    /* PROTOCOL-NOTES E32: the control port on 127.0.0.1, when
     * has_control_port. */
    bool has_control_port;
    uint16_t control_port;                /* 0 = ephemeral (tests) */
    const char *control_admin_password;   /* NULL = no admin role */
    const char *control_user_password;    /* NULL = no user role */
    int64_t daily_block_queue_quota;      /* 0 = no limit, < 0 = no blocking */
    /* Statistics (smp_router/stats.h, ops.c): the backup restored at start
     * and saved at stop (NULL = none; the reference keeps it only with
     * log_stats), the daily CSV line (NULL = none), and the Prometheus
     * metrics file written every metrics_interval seconds (NULL or 0 =
     * none). */
    const char *stats_backup_path;
    const char *stats_daily_path;
    const char *metrics_path;
    int64_t metrics_interval;
    /* [WEB] on a shared port (kit/web.h; PROTOCOL-NOTES B3): when web is set
     * with a certificate, connections to ports[web_port_index] whose client
     * sends a server name (SNI) get the web certificate and are handed to
     * web; the others stay SMP. web is the caller's and outlives the router. */
    struct sx_kit_web *web;
    bool web_shared;
    size_t web_port_index;
    /* Seconds after 00:00 UTC of the daily line (the reference's
     * logStatsStartTime, 0); and, for tests, its interval (0 = a day). */
    int64_t stats_start_time;
    int64_t stats_interval;
    /* 2-hop routing as a proxy ([PROXY], PROTOCOL-NOTES D30-D38). */
    unsigned proxy_client_concurrency;   /* proxied commands of one client at once; 0 = 32 */
    bool proxy_required_host_mode;       /* no public host: BROKER HOST, not the first host */
    int proxy_timeout_ms;                /* a relay's answer, at most; 0 = 30 s */
    /* own_server_domains: destinations whose first host is one of these
     * domains or under one are counted also as "own" in the proxy
     * statistics (separated by spaces or commas; NULL = none). */
    const char *proxy_own_domains;
    /* host_mode: onion with a socks_proxy: a destination's first onion
     * host is used (the reference's choice through its SOCKS proxy). */
    bool proxy_onion_hosts;
    /* [PROXY] socks_proxy (NULL: none; copied at start): the relay
     * connections go through it, all of them or (socks_onion_only) those
     * to .onion hosts (socks_mode always / onion). */
    const sx_socks_proxy *proxy_socks;
    bool proxy_socks_onion_only;
} sx_router_opts;

typedef struct sx_router sx_router;

/* Starts listening and serving in background threads. SX_E_IO when a port
 * cannot be bound, SX_E_PROTOCOL for unusable certificates. */
SX_MUST_CHECK sx_status sx_router_start(const sx_router_opts *opts, sx_router **out);
/* The port actually bound for opts->ports[i]. */
uint16_t sx_router_port(const sx_router *r, size_t i);
/* The control port actually bound, 0 when there is none. */
uint16_t sx_router_control_port(const sx_router *r);
/* Stops accepting, closes every connection, saves what must be saved and
 * frees the router. Accepts NULL. SX_E_IO when the undelivered messages or
 * notifications could not be saved (the message journal, if any, is then
 * kept for the next start). */
sx_status sx_router_stop(sx_router *r);

/* `smp-server start` in two steps, so that the program can say which ports
 * it serves once they are bound: sx_router_run_start blocks SIGINT and
 * SIGTERM in the calling thread (the router's threads inherit the mask) and
 * starts the router configured by cfg (errors as sx_router_start; a port
 * that cannot be bound leaves its cause in sx_error_message() and
 * sx_net_listen_errno()); sx_router_run_wait waits for one of those signals
 * and stops r, returning the process exit code. */
SX_MUST_CHECK sx_status sx_router_run_start(const sx_router_config *cfg, sx_router **out);
int sx_router_run_wait(sx_router *r);
/* As the reference at start: with [WEB] https, cert and key all set, the
 * two files must exist and the certificate's key must be RSA of 4096 bits
 * or more, or the router does not start. Prints the error (stdout, as the
 * reference) and returns false. */
bool sx_router_check_https(const sx_router_config *cfg, FILE *out);

#endif
