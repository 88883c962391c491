/* Router kit: the timestamped backups a store log leaves at each start-up
 * (PROTOCOL-NOTES E26): their names, "<path>.<ISO 8601 UTC>" in the
 * reference's time format, and the pruning of old ones. */
#ifndef SX_KIT_BACKUPS_H
#define SX_KIT_BACKUPS_H

#include <stddef.h>
#include <stdint.h>

#include "kit/logfile.h"
#include "simplex/status.h"

/* The backup name of path at time sec.nsec: seconds, then '.' and up to 9
 * fraction digits without trailing zeros (none when zero), then 'Z'. Writes
 * the name into out (cap >= strlen(path) + 40); SX_E_LIMIT when it does not
 * fit. */
SX_MUST_CHECK sx_status sx_kit_backup_name(const char *path, int64_t sec, int32_t nsec, char *out, size_t cap);
/* PROTOCOL-NOTES E26 pruning of path's backups at time now: keep those newer
 * than 24 h; of the older ones keep the 3 newest; delete the rest that are
 * older than 21 days, each reported through opts. *removed (may be NULL)
 * counts deleted files. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_prune_backups(const char *path, int64_t now_sec, int32_t now_nsec,
                                             const sx_kit_log_opts *opts, size_t *removed);

#endif
