/* The SMP router's store log (PROTOCOL-NOTES E25, E26), smp-server-store.log:
 * records (router/slrec.h) applied to the queue store and its services
 * (router/slapply.h, router/slservices.h), replay, the queue store as the owner of a router kit
 * log (start-up, compaction and backups in src/kit/logstart.h), and appends,
 * direct (src/kit/logfile.h) or through the writer thread
 * (src/kit/logwriter.h). The messages and notifications saved at shutdown
 * are router/msglog.h and router/ntflog.h. */
#ifndef SX_ROUTER_STORELOG_H
#define SX_ROUTER_STORELOG_H

#include <stddef.h>
#include <stdint.h>

#include "kit/logfile.h"
#include "kit/logwriter.h"
#include "smp_router/slapply.h"
#include "smp_router/slrec.h"
#include "smp_router/slservices.h"
#include "smp_router/store.h"
#include "simplex/status.h"

#define SX_STORELOG_FILE "smp-server-store.log" /* PROTOCOL-NOTES E25 */

typedef struct sx_slreplay_stats {
    size_t lines;
    size_t applied;
    size_t bad_lines; /* unparseable, reported and skipped */
    size_t skipped;   /* parsed but not applicable (unknown queue, clash...) */
} sx_slreplay_stats;

/* Replays the file at path into st and svc (sx_slrec_apply of each line).
 * Unparseable lines and records that do not apply are reported and skipped (PROTOCOL-NOTES E26). A missing
 * file is an empty log. Errors: SX_E_IO reading, SX_E_NOMEM. stats may be
 * NULL. */
SX_MUST_CHECK sx_status sx_storelog_replay(const char *path, sx_store *st, sx_slservices *svc,
                                           const sx_kit_log_opts *opts, sx_slreplay_stats *stats);
/* The whole start-up sequence of PROTOCOL-NOTES E26 (sx_kit_log_start) with
 * the queue store as the log's owner: the compacted log holds the
 * NEW_SERVICE records, then one CREATE per live queue. With no log yet, a
 * new one is created. opts is copied. Errors: SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_storelog_start(const char *path, sx_store *st, sx_slservices *svc,
                                          const sx_kit_log_opts *opts, sx_slreplay_stats *stats,
                                          sx_kit_log **out);
/* Writes a CREATE record for every live queue after the services' records,
 * as one buffered stream, then syncs the file. Startup only: no concurrent
 * appends and no other thread using the store. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_storelog_write_snapshot(sx_kit_log *log, sx_store *st, const sx_slservices *svc);
/* Encodes r and appends it as one line (sx_kit_log_append_line): returns
 * only once the line is in the file. SX_E_USAGE if r cannot be encoded,
 * SX_E_LIMIT if over SX_KIT_LINE_MAX, SX_E_IO. */
SX_MUST_CHECK sx_status sx_storelog_append(sx_kit_log *log, const sx_slrec *r);
/* Queues r on the writer thread (sx_kit_logwriter_submit with the record
 * encoder): its sequence number, or 0 when r cannot be encoded or the log
 * has failed. Thread-safe, never blocks on the disk. */
uint64_t sx_storelog_submit(sx_kit_logwriter *lw, const sx_slrec *r);

#endif
