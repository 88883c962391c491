/* The SMP router's queue records in PostgreSQL (store_queues: database),
 * in the reference's tables (msg_queues, services) and column encodings:
 * ids, secrets, link data and certificate hashes as bytea; keys as the DER
 * SubjectPublicKeyInfo, recipient_keys as a count byte then each key with
 * a length byte; service_cert as a count byte then each DER certificate
 * with a 2-byte length; status as the text "active", "off" or
 * "blocked,<info>"; queue_mode "M" or "C"; times in seconds. A deleted
 * queue keeps its row with deleted_at set, as the reference's, until it is
 * older than db_deleted_ttl.
 *
 * The router reads its queues on demand (pglazy.h); database export reads
 * them all (sx_pgq_load). Every change the router would write to
 * the store log is applied to the database instead, through the store-log
 * writer thread (kit/logwriter.h, sink): the records' lines of one batch
 * in one transaction, so that a reply held for its record is sent once the
 * change is committed. */
#ifndef SX_ROUTER_PGQUEUES_H
#define SX_ROUTER_PGQUEUES_H

#include <stddef.h>
#include <stdint.h>

#include "kit/logfile.h"
#include "smp_router/pgschema.h"
#include "smp_router/slrec.h"
#include "smp_router/slservices.h"
#include "smp_router/store.h"

typedef struct sx_pgq_stats {
    size_t queues; /* loaded or written */
    size_t services;
    size_t bad_rows; /* rows that did not decode or apply, reported and skipped */
} sx_pgq_stats;

/* The logwriter sink (arg: the sx_pgdb): parses each store-log line of the
 * batch (n lines, each ending in '\n') and applies it, in one transaction.
 * SX_E_IO when the database cannot be reached (the batch is retried); a
 * record the database refuses is reported and skipped. */
sx_status sx_pgq_sink(void *arg, sx_slice lines, size_t n);
/* Applies one record on c (outside or inside a transaction). SX_E_IO. */
SX_MUST_CHECK sx_status sx_pgq_apply(sx_pgconn *c, const sx_slrec *r);

/* Reads every service and every live queue into st and svc (as a store
 * log's records would be applied; opts as for sx_slrec_apply). Rows that
 * do not decode are reported through opts and counted. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_pgq_load(sx_pgdb *db, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *opts,
                                    sx_pgq_stats *stats);
/* For pglazy.c: a row of "SELECT " QUEUE_COLS as a CREATE record (slices
 * into res; false when a value does not decode), a skipped row reported,
 * and every service read into svc. */
bool sx_pgq_row_to_rec(const PGresult *res, int i, sx_slrec *r);
void sx_pgq_row_warn(const sx_kit_log_opts *opts, const char *what, sx_slice rid);
SX_MUST_CHECK sx_status sx_pgq_load_services(sx_pgconn *c, sx_slservices *svc, const sx_kit_log_opts *opts,
                                             sx_pgq_stats *stats);
/* The columns sx_pgq_row_to_rec reads, in its order. */
#define SX_PGQ_QUEUE_COLS                                                                                         \
    "recipient_id, recipient_keys, rcv_dh_secret, sender_id, sender_key, queue_mode, notifier_id, notifier_key, " \
    "rcv_ntf_dh_secret, ntf_service_id, status, updated_at, link_id, rcv_service_id, fixed_data, user_data"

/* Writes every service of svc and every live queue of st (database
 * import), in one transaction. No other thread may use st. */
SX_MUST_CHECK sx_status sx_pgq_write_all(sx_pgdb *db, sx_store *st, const sx_slservices *svc, sx_pgq_stats *stats);
/* Removes the rows of queues deleted before `before` (seconds). */
SX_MUST_CHECK sx_status sx_pgq_purge_deleted(sx_pgdb *db, int64_t before, int64_t *removed);

/* The decoders of the column encodings above, for rows from the database
 * (trusted but checked: every length is verified, trailing bytes refused).
 * SX_E_PROTOCOL on a malformed value, SX_E_LIMIT over our bounds. */
SX_MUST_CHECK sx_status sx_pgq_decode_rkeys(sx_slice b, sx_qkey keys[SX_MAX_RCV_KEYS], uint8_t *n);
SX_MUST_CHECK sx_status sx_pgq_decode_certs(sx_slice b, sx_slice certs[SX_SL_CERTS_MAX], uint8_t *n);
/* And the encoders (out must hold 1 + n * (1 + SX_KEY_SPKI_MAX) bytes /
 * the certificates' sizes + 1 + 2n). */
SX_MUST_CHECK sx_status sx_pgq_encode_rkeys(const sx_qkey *keys, size_t n, uint8_t *out, size_t cap,
                                            size_t *len);
SX_MUST_CHECK sx_status sx_pgq_encode_certs(const sx_slice *certs, size_t n, uint8_t *out, size_t cap,
                                            size_t *len);

#endif
