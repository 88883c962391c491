/* Router kit: the start-up sequence of a store log (PROTOCOL-NOTES E26, F27),
 * the same for every store: recover from an interrupted compaction, replay
 * the log, write the compacted log, keep a timestamped backup and prune old
 * ones. The store behind the log replays and snapshots its own records. */
#ifndef SX_KIT_LOGSTART_H
#define SX_KIT_LOGSTART_H

#include "kit/logfile.h"
#include "simplex/status.h"

/* The store behind a log. */
typedef struct sx_kit_log_owner {
    void *ctx;
    /* Replays the existing file at path into the store. */
    sx_status (*replay)(void *ctx, const char *path);
    /* Writes one record per live entity into log (just created, empty) and
     * syncs it (sx_kit_log_write_snapshot, or appends and sx_kit_log_sync). */
    sx_status (*snapshot)(void *ctx, sx_kit_log *log);
    /* Optional, asked after replay: true when the file just replayed is
     * already compact, that is, replaying what snapshot would write gives
     * the same store, line for line the same records in another order,
     * and every line of it was checked good against its sum file. */
    bool (*compact)(void *ctx);
} sx_kit_log_owner;

/* Recovers from "<path>.start" if a compaction was interrupted (the current
 * file is kept as "<path>.bak"), replays, renames to .start, writes the
 * compacted log and syncs it, renames .start to "<path>.<ISO 8601 UTC time>",
 * prunes old backups, and returns the new log open for appending. With no
 * log yet, a new one is created (and snapshot writes the empty store).
 * A log the owner finds compact is kept as it is instead (no rewrite and no
 * new backup: the file is what the rewrite would give, but for the order of
 * its lines), and old backups are pruned all the same.
 * opts is copied into the log. Errors: SX_E_IO, SX_E_NOMEM, or the owner's. */
SX_MUST_CHECK sx_status sx_kit_log_start(const char *path, const sx_kit_log_opts *opts,
                                         const sx_kit_log_owner *owner, sx_kit_log **out);

#endif
