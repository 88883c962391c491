/* Moving queues and messages between the store log and messages log of the
 * memory store and the PostgreSQL store: `smp-server database
 * import|export`, as the reference's commands (the checks, questions and
 * renames are the program's, apps/smp-server/db_cmd.c). */
#ifndef SX_ROUTER_PGMIGRATE_H
#define SX_ROUTER_PGMIGRATE_H

#include <stddef.h>

#include "kit/logfile.h"
#include "smp_router/msglog.h"
#include "smp_router/pgschema.h"
#include "smp_router/pgqueues.h"
#include "simplex/status.h"

/* Replays store_log (compacting it in memory, as a start would) and writes
 * its services and live queues into db, in one transaction. The file stays.
 * SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_pgmigrate_import_queues(const char *store_log, sx_pgdb *db, const sx_kit_log_opts *o,
                                                   sx_pgq_stats *stats);
/* Reads msgs_log with a start's restore rules into the queues of db and
 * inserts the messages (after deleting those already in db when
 * replace is set), then sets the queues' message counters; the file is
 * renamed to "<msgs_log>.bak" (opts->keep: left). *inserted may be NULL. */
SX_MUST_CHECK sx_status sx_pgmigrate_import_msgs(const char *msgs_log, sx_pgdb *db, bool replace,
                                                 const sx_msglog_opts *opts, sx_msglog_stats *stats,
                                                 size_t *inserted);
/* Writes db's services and live queues to a new store log at store_log. */
SX_MUST_CHECK sx_status sx_pgmigrate_export_queues(sx_pgdb *db, const char *store_log, sx_pgq_stats *stats);
/* Writes db's messages of live queues to a new messages log at msgs_log;
 * *bad counts rows that did not decode. */
SX_MUST_CHECK sx_status sx_pgmigrate_export_msgs(sx_pgdb *db, const char *msgs_log, size_t *saved, size_t *bad);
/* Messages in db. */
SX_MUST_CHECK sx_status sx_pgmigrate_count_msgs(sx_pgdb *db, int64_t *n);

#endif
