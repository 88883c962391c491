/* The NTF router's PostgreSQL store: tokens, SMP routers and subscriptions
 * in the reference's tables (pgschema.h) in place of the store log. At
 * start every row is read into the memory records (tokens.h, subs.h); after
 * that each record the router would have written to its store log is
 * written to the database instead, committed before the command's answer. */
#ifndef SX_NTF_ROUTER_PGSTORE_H
#define SX_NTF_ROUTER_PGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "kit/pgdb.h"
#include "ntf_router/slrec.h"
#include "ntf_router/subs.h"
#include "ntf_router/tokens.h"
#include "simplex/status.h"

/* Writes r (any store log record) to db. SX_E_IO: a statement failed (the
 * router's log says which); SX_E_USAGE: a value the tables cannot hold. */
SX_MUST_CHECK sx_status sx_ntf_pg_apply(sx_pgdb *db, const sx_ntf_sl_rec *r);
/* A store log line hook (sx_ntf_log_fn) with arg the sx_pgdb: parses the
 * line and writes its record; a failure is said in the router's log. */
void sx_ntf_pg_log_line(void *arg, sx_slice line);
/* Reads every token, subscription and notifier service of db into t and s.
 * *tokens and *subs (may be NULL) count what was read; a row that does
 * not decode is reported and skipped. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_pg_load(sx_pgdb *db, sx_ntf_tokens *t, sx_ntf_subs *s, size_t *tokens,
                                       size_t *subs);

/* The last notifications (subs.h sx_ntf_subs_write_last) in the
 * last_notifications table: save replaces the table's rows with s's, in one
 * transaction; load gives each row back to its subscription (at
 * start), *n counting those taken. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_pg_save_last(sx_pgdb *db, sx_ntf_subs *s, size_t *n);
/* One new last notification, as the reference writes each as it comes:
 * the row of its subscription inserted or replaced, then the token's rows
 * older than its newest SX_NTF_LAST_NTFS_MAX deleted. Nothing is written
 * when the subscription has no row. SX_E_IO, SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_ntf_pg_add_last(sx_pgdb *db, const sx_ntf_sl_last *l);
/* sx_ntf_pg_add_last as a subs.h last-notification hook (arg: the
 * sx_pgdb); a failure is said in the router's log. */
void sx_ntf_pg_last_hook(void *arg, const sx_ntf_sl_last *l);
SX_MUST_CHECK sx_status sx_ntf_pg_load_last(sx_pgdb *db, sx_ntf_subs *s, size_t *n);

/* The notifier service's credentials for one SMP router, in its
 * smp_servers row as the reference keeps them (PROTOCOL-NOTES G18):
 * ntf_service_cert (the chain as a count byte and each DER certificate
 * with a 2-byte length), ntf_service_cert_hash (the base64url text of the
 * certificate's SHA-256 fingerprint), ntf_service_priv_key (PKCS#8 DER).
 * Owned copies (sx_ntf_pg_creds_free). */
typedef struct sx_ntf_pg_creds {
    uint8_t *cert, *cert_hash, *key;
    size_t cert_len, cert_hash_len, key_len;
    bool made; /* made by this call */
} sx_ntf_pg_creds;
/* Makes new credentials into out (all three columns, malloc'ed). */
typedef sx_status (*sx_ntf_pg_make_creds_fn)(void *arg, sx_ntf_pg_creds *out);
/* The router's credentials, in one transaction: read (the row locked), or,
 * when the row has none, made by make and saved (the row added when the
 * store has none for that router). SX_E_IO, SX_E_USAGE, or make's. */
SX_MUST_CHECK sx_status sx_ntf_pg_service_creds(sx_pgdb *db, const sx_server_address *a,
                                                sx_ntf_pg_make_creds_fn make, void *arg, sx_ntf_pg_creds *out);
void sx_ntf_pg_creds_free(sx_ntf_pg_creds *c);
/* Records the ServiceId the router gave (id.len 0: it took the connection
 * as an ordinary client's), as the reference does after each handshake:
 * when it differs from the recorded one, that router's subscriptions lose
 * their associations (INACTIVE) if one was recorded, the service count and
 * ids hash restart, and without an id the credentials are dropped too (new
 * ones are made for the next connection). *changed (may be NULL): the
 * associations were ended. A router without a row: nothing. SX_E_IO. */
SX_MUST_CHECK sx_status sx_ntf_pg_service_id(sx_pgdb *db, const sx_server_address *a, sx_slice id, bool *changed);

#endif
