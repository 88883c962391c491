/* Router kit: the append-only log file of a router's store (PROTOCOL-NOTES
 * E25, F27). Records are whole lines, each appended with one write(2), or
 * with one write per batch of lines (the writer thread of kit/logwriter.h
 * batches them: group commit); after a failed write the file is cut back to
 * its last whole line. The fsync policy says when an appended line is
 * durable. The lines themselves belong to the router that owns the log. */
#ifndef SX_KIT_LOGFILE_H
#define SX_KIT_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "kit/lines.h"
#include "kit/report.h"
#include "kit/say.h"
#include "simplex/status.h"

/* Durability of appended records:
 *   SX_KIT_SYNC_NEVER - append returns once write(2) has put the whole line in
 *     the file, i.e. in the kernel's page cache. The record survives the
 *     router's crash or kill -9, but not a power loss or kernel crash. This is
 *     what the reference does (write + hFlush, no fsync).
 *   SX_KIT_SYNC_BATCH - append returns only after fdatasync(2) of the write
 *     that carried the record, so an acknowledged change survives power loss.
 *     Each sync costs a disk flush (milliseconds on many disks); through the
 *     writer thread (kit/logwriter.h) the flush is shared by every record
 *     queued meanwhile (group commit), so the cost per record falls as
 *     concurrency rises, at the price of latency. */
typedef enum sx_kit_sync {
    SX_KIT_SYNC_NEVER,
    SX_KIT_SYNC_BATCH,
} sx_kit_sync;

typedef struct sx_kit_log_opts {
    sx_kit_sync sync;
    /* Warnings and notes (skipped lines, backups); NULL: lines through
     * SX_SAY at their level. */
    sx_kit_warn_cb warn;
    void *warn_arg;
    /* Optional, before warn: each report with its level (arg: warn_arg). */
    void (*report)(void *arg, sx_say_level level, const char *msg);
    /* Clock override for backup names and pruning (tests); 0 = real time. */
    int64_t now_sec;
    int32_t now_nsec;
} sx_kit_log_opts;

/* A report through opts' report or warn callback, or without one (opts NULL too) a line
 * at `level` through SX_SAY (kit/say.h), so that --log-level silences the
 * notes. */
void sx_kit_log_report(const sx_kit_log_opts *opts, sx_say_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct sx_kit_log sx_kit_log;

/* Opens path for appending (created if missing, mode 0600; truncated if
 * truncate; an existing file loses its group and other bits, reported). A
 * last line cut short by a crash gets its '\n', so that it stays its own
 * (unparseable) line. opts is copied (NULL: defaults, no sync). SX_E_IO,
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_log_open(const char *path, bool truncate, const sx_kit_log_opts *opts,
                                        sx_kit_log **out);
/* Opens an existing log for appending with its sum file kept as it is (new
 * entries follow the old ones), for a log read at start that needs no
 * rewrite: the file must end with a whole line, and its sum file's last
 * entry must end where the file ends (kit/logsum.h,
 * sx_kit_logsum_reopen). SX_E_IO otherwise, nothing changed: the caller
 * then rewrites the log. */
SX_MUST_CHECK sx_status sx_kit_log_reopen(const char *path, const sx_kit_log_opts *opts, sx_kit_log **out);
/* Appends one line (no '\n'; it must not contain one: SX_E_USAGE; over
 * SX_KIT_LINE_MAX: SX_E_LIMIT) with one write(2) under the log's mutex;
 * returns only once the line is in the file (and synced, per the policy).
 * Callable from any thread; concurrent appends wait for each other (the
 * writer thread of kit/logwriter.h batches many threads' records). After a
 * failed write the file is truncated back to its last whole line and the
 * error returned (SX_E_IO); if that is impossible, or a sync fails, the log
 * refuses every later append with SX_E_IO. */
SX_MUST_CHECK sx_status sx_kit_log_append_line(sx_kit_log *log, sx_slice line);
/* Appends complete lines (each ending in '\n', none over SX_KIT_LINE_MAX)
 * with one write (and one sync under SX_KIT_SYNC_BATCH); for a writer that
 * batches records itself. Same failure rules as sx_kit_log_append_line. */
SX_MUST_CHECK sx_status sx_kit_log_append_lines(sx_kit_log *log, sx_slice lines, size_t n_lines);
/* fdatasync of everything appended so far. SX_E_IO (the log then stops). */
SX_MUST_CHECK sx_status sx_kit_log_sync(sx_kit_log *log);
/* Writes fill's lines as one buffered stream straight to the file, then
 * syncs it: the compacted log at start-up. No concurrent appends.
 * SX_E_IO, SX_E_NOMEM, or fill's error. */
SX_MUST_CHECK sx_status sx_kit_log_write_snapshot(sx_kit_log *log, sx_kit_fill_fn fill, void *arg);
/* The log refuses every append for good (a failed sync, or a failed write
 * it could not cut back). Any thread. */
bool sx_kit_log_broken(sx_kit_log *log);
/* Bytes of whole lines in the file. Any thread. */
uint64_t sx_kit_log_size(sx_kit_log *log);
/* Counters: records appended, write(2) batches, syncs. Any thread. */
void sx_kit_log_counters(sx_kit_log *log, uint64_t *records, uint64_t *writes, uint64_t *syncs);
/* Closes the file. No append may be running or start afterwards. NULL ok. */
void sx_kit_log_close(sx_kit_log *log);

#endif
