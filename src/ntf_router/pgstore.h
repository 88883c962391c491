/* The NTF router's PostgreSQL store: tokens, SMP routers and subscriptions
 * in the reference's tables (pgschema.h) in place of the store log. At
 * start every row is read into the memory records (tokens.h, subs.h); after
 * that each record the router would have written to its store log is
 * written to the database instead, committed before the command's answer. */
#ifndef SX_NTF_ROUTER_PGSTORE_H
#define SX_NTF_ROUTER_PGSTORE_H

#include <stddef.h>

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

#endif
