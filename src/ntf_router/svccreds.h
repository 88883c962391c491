/* The notifier service's credentials, one certificate per SMP router
 * (PROTOCOL-NOTES G18; [SUBSCRIBER] use_service_credentials: on), as the
 * reference's NTF router keeps them: a self-signed Ed25519 certificate made
 * the first time the router connects to that SMP router and kept from then
 * on, so that each SMP router knows the NTF router as its own service (its
 * own ServiceId) and knows it again after either restarts.
 *  - With the PostgreSQL store: in that router's smp_servers row
 *    (pgstore.h sx_ntf_pg_service_creds), and the ServiceId each handshake
 *    gave recorded there too (sx_ntf_pg_service_id).
 *  - With the store log (a mode the reference no longer has at 152c30ca68):
 *    two PEM files per SMP router in a folder beside the store log,
 *    ntf-service-<key hash>@<hosts>_<port>.crt and .key; the ServiceId is
 *    not recorded (the pool keeps it while it runs). */
#ifndef SX_NTF_ROUTER_SVCCREDS_H
#define SX_NTF_ROUTER_SVCCREDS_H

#include "core/bytes.h"
#include "kit/pgdb.h"
#include "simplex/smp.h"
#include "simplex/status.h"

typedef struct sx_ntf_svccreds sx_ntf_svccreds;

/* db: the database store, or NULL for files in dir (made when missing).
 * SX_E_USAGE (neither), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_svccreds_new(sx_pgdb *db, const char *dir, sx_ntf_svccreds **out);
void sx_ntf_svccreds_free(sx_ntf_svccreds *x);
/* The pool's per-router callback (sx_smp_pool_opts.service_creds, arg the
 * sx_ntf_svccreds): the credentials of server, made and kept the first
 * time. Thread-safe; *out is valid until the next call. */
SX_MUST_CHECK sx_status sx_ntf_svccreds_get(void *arg, const char *server, sx_smp_service_creds *out);
/* The ServiceId a handshake with server gave (len 0: none), recorded with
 * the database store; a change is said in the router's log. */
void sx_ntf_svccreds_service_id(sx_ntf_svccreds *x, const char *server, sx_slice id);
/* Credentials made so far by this process (tests, the start message). */
size_t sx_ntf_svccreds_made(sx_ntf_svccreds *x);

#endif
