/* The NTF router's network server (PROTOCOL-NOTES G1-G6): TLS on the kit's
 * listener and workers (kit/workers.h), the NTF hellos, 512-byte blocks,
 * requests decoded and authorized (a signature by the entity's key, or from
 * v2 an authenticator with the connection's X25519 key), and the token
 * commands (tokens.h) over the store log (ntf-server-store.log, replayed
 * and compacted at start, then appended to).
 *
 * Pushes go through the push thread (push.h) and the APNS client
 * (apns_client.h) when APNS is configured; subscriptions (subs.h) are kept
 * in the same store log and subscribed on their SMP routers (smpsub.h). */
#ifndef SX_NTF_ROUTER_SERVER_H
#define SX_NTF_ROUTER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/x509.h"
#include "ntf_router/apns_client.h"
#include "ntf_router/push.h"
#include "simplex/smp.h"
#include "simplex/status.h"

typedef struct sx_ntf_server sx_ntf_server;

typedef struct sx_ntf_server_opts {
    const char *host; /* numeric listening address; NULL: all */
    uint16_t port;    /* 0: an ephemeral port (tests) */
    unsigned workers; /* 0: one per core */
    const char *cert_file, *ca_file, *key_file;
    uint8_t key_hash[SX_FINGERPRINT_LEN]; /* the CA fingerprint clients must send */
    const char *store_log_path;           /* NULL: tokens are not kept */
    /* Non-NULL: tokens and subscriptions are kept in this PostgreSQL
     * database (pgstore.h) in place of the store log, in schema db_schema
     * (NULL: ntf_server) with db_pool_size connections (0: 10); each last
     * notification then goes to its last_notifications table as it comes,
     * as the reference writes it, and they come back from it at start
     * (last_ntfs_path is not used). */
    const char *db_connection;
    const char *db_schema;
    int db_pool_size;
    /* [STORE_LOG] db_deleted_ttl in seconds (0: 21 days), kept as the
     * reference keeps it in its NTF store's settings. The reference's NTF
     * store uses it for nothing at 152c30ca68: its tables have no deleted_at
     * column, and TDEL, SDEL and a verification's removal of a device's
     * other registrations delete the rows at once (a token's subscriptions
     * and last notifications with it, ON DELETE CASCADE); so does ours. The
     * SMP router uses the same key for its deleted queues. */
    int64_t db_deleted_ttl;
    /* NULL: not kept. Else each subscription's last notification is
     * written there at stop and read back at start (then renamed .bak),
     * as the reference's ntf-server-last-notifications.log. */
    const char *last_ntfs_path;
    bool log_tls_errors;
    /* NULL: not kept. Else the statistics (stats.h) are written there at
     * stop and read back at start, then renamed .bak (the reference's
     * ntf-server-stats.log); a file that does not parse stops the start. */
    const char *stats_backup_path;
    /* NULL: none. Else the daily CSV line is appended there every day at
     * 00:00 UTC, or every stats_interval seconds when that is > 0 (tests). */
    const char *stats_daily_path;
    int64_t stats_interval;
    /* NULL: none. Else the Prometheus metrics (metrics.h) are written
     * there every metrics_interval seconds (the reference's
     * prometheus_interval, ntf-server-metrics.txt). */
    const char *metrics_path;
    int64_t metrics_interval;
    /* NULL: no APNS client; a push is then counted (pushes_pending) and
     * reported, not sent. */
    const sx_ntf_apns_client_opts *apns;
    unsigned periodic_s; /* between periodic-push rounds; 0: 300 s */
    /* [SUBSCRIBER] use_service_credentials (PROTOCOL-NOTES G18; smpsub.h,
     * svccreds.h): the router is a notifier service with one certificate
     * per SMP router, kept in the database, or without one as files in
     * service_dir (beside the store log). */
    bool use_service;
    const char *service_dir;
    /* [SUBSCRIBER] own_server_domains: the operator's SMP router domains,
     * separated by spaces (NULL: none); the notifications of the SMP routers
     * on them (a host equal to one, or under one) are also counted per
     * router (stats.h). */
    const char *own_server_domains;
    /* The control port (control.h) on 127.0.0.1: control_port, 0 for an
     * ephemeral one; the passwords NULL when not set. */
    bool control;
    uint16_t control_port;
    const char *control_user_password, *control_admin_password;
} sx_ntf_server_opts;

/* Replays the store log, binds the port and starts the workers. SX_E_IO (a
 * file or the port), SX_E_PROTOCOL (bad credentials), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_server_start(const sx_ntf_server_opts *o, sx_ntf_server **out);
uint16_t sx_ntf_server_port(const sx_ntf_server *s);
/* Verification pushes asked for while no APNS client is configured. */
uint64_t sx_ntf_server_pushes_pending(const sx_ntf_server *s);
/* NMSG received from SMP routers so far. */
uint64_t sx_ntf_server_notifications(sx_ntf_server *s);
/* The control port bound (0 without one). */
uint16_t sx_ntf_server_control_port(const sx_ntf_server *s);
/* NSUBS answered by SMP routers (the router as a notifier service). */
uint64_t sx_ntf_server_service_subs(sx_ntf_server *s);
/* What the push thread did (zeros without APNS). */
void sx_ntf_server_push_stats(sx_ntf_server *s, sx_ntf_push_stats *out);
void sx_ntf_server_stop(sx_ntf_server *s);

#endif
