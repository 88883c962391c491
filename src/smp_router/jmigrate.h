/* Moving undelivered messages between the memory store's
 * smp-server-messages.log (msglog.h) and the journal folder (jstore.h):
 * `smp-server journal import|export|delete`, as the reference's commands.
 * Both need the queues of the store log loaded into st: messages of queues
 * that are not there are dropped (reported) as at a start. */
#ifndef SX_ROUTER_JMIGRATE_H
#define SX_ROUTER_JMIGRATE_H

#include <stddef.h>

#include "smp_router/jstore.h"
#include "smp_router/msglog.h"
#include "smp_router/store.h"
#include "simplex/status.h"

/* Reads msgs_log with the restore rules of a start (no expiry: the
 * reference imports old messages too), writes every queue's messages to
 * js in order (a quota marker included) and renames the file to
 * "<msgs_log>.bak". The queues' messages do not stay in st. SX_E_PROTOCOL
 * as sx_msglog_restore, SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_jmigrate_import(const char *msgs_log, sx_store *st, sx_jstore *js,
                                           const sx_msglog_opts *opts, sx_msglog_stats *stats);
/* Writes the messages of every queue in st from js to msgs_log (through
 * "<msgs_log>.tmp", synced, renamed), in the format of a clean stop.
 * *saved and *bad (unreadable journal lines, skipped) may be NULL. The
 * journal folder is left as it is. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_jmigrate_export(sx_store *st, sx_jstore *js, const char *msgs_log, size_t *saved,
                                           size_t *bad);
/* Removes the journal folder and everything in it. SX_E_IO. */
SX_MUST_CHECK sx_status sx_jmigrate_delete(const char *dir);

#endif
