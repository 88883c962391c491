/* Router kit: the store log's writer thread (group commit). Event-loop
 * threads hand it records and go on; it writes them in batches (one write,
 * and one fdatasync when the policy asks) and reports how far the log is
 * durable. A router holds every reply that depends on a record until the
 * record is written, so no loop thread ever waits for the disk
 * (docs/ARCHITECTURE.md, "Runtime model"). Records are opaque here: the
 * router's encoder turns each into one line. */
#ifndef SX_KIT_LOGWRITER_H
#define SX_KIT_LOGWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/writer.h"
#include "kit/logfile.h"

typedef struct sx_kit_logwriter sx_kit_logwriter;

/* Called on the writer thread after each batch: every record with a
 * sequence number <= seq is now in the file (ok), or the log failed (ok
 * false: later records will never be written). */
typedef void (*sx_kit_logwriter_cb)(void *arg, uint64_t seq, bool ok);

/* Appends one record's line to w, without its '\n' (writer style: false
 * with w failed when the record cannot be encoded). */
typedef bool (*sx_kit_encode_fn)(sx_writer *w, const void *rec);

typedef struct sx_kit_logwriter_opts {
    sx_kit_logwriter_cb cb; /* NULL: none */
    void *arg;
    /* 0: the first failed write is final: its batch is dropped and every
     * later record refused. > 0: a failed batch is kept and written again
     * every retry_ms, followed by what was queued meanwhile, so the order
     * of the records stays the order they were submitted in; new records
     * are refused meanwhile (sx_kit_logwriter_submit_always excepted), and
     * once a write succeeds the log takes records again (a full disk that
     * gets space back). A failure the log file cannot recover from (a failed
     * sync, or a file it could not cut back to its last whole line:
     * sx_kit_log_broken) is final either way, and so is a failed last
     * attempt at stop. */
    int retry_ms;
    /* Where the batches go instead of a log file (a database): each batch
     * of encoded lines, each ending in '\n', n of them, on the writer
     * thread; SX_OK means they are durable. A failure is a failed write
     * (retried as above). With a sink, the log passed to start is NULL. */
    sx_status (*sink)(void *arg, sx_slice lines, size_t n);
    void *sink_arg;
} sx_kit_logwriter_opts;

/* Starts the thread; log stays the caller's and must outlive the writer
 * (or its switch, sx_kit_logwriter_switch). No retry. */
SX_MUST_CHECK sx_status sx_kit_logwriter_start(sx_kit_log *log, sx_kit_logwriter_cb cb, void *arg,
                                               sx_kit_logwriter **out);
SX_MUST_CHECK sx_status sx_kit_logwriter_start_opts(sx_kit_log *log, const sx_kit_logwriter_opts *opts,
                                                    sx_kit_logwriter **out);
/* Encodes rec with encode (under the writer's lock, straight into its
 * buffer) and queues the line; returns its sequence number (1, 2, ...) or 0
 * when it cannot be encoded or the log is failing (sx_kit_logwriter_failed).
 * Thread-safe, never blocks on the disk. */
uint64_t sx_kit_logwriter_submit(sx_kit_logwriter *w, sx_kit_encode_fn encode, const void *rec);
/* The same, but queued also while a retrying writer is failing (0 only
 * when it cannot be encoded or the failure is final): for records that
 * nobody waits for and that are few, such as the removal of something
 * already stored, whose loss would only bring it back. */
uint64_t sx_kit_logwriter_submit_always(sx_kit_logwriter *w, sx_kit_encode_fn encode, const void *rec);
/* Highest sequence number known to be written (thread-safe). */
uint64_t sx_kit_logwriter_durable(const sx_kit_logwriter *w);
/* The last write failed: records are refused until one succeeds again (a
 * retrying writer), or for good (sx_kit_logwriter_dead). */
bool sx_kit_logwriter_failed(const sx_kit_logwriter *w);
/* The failure is final: what is queued and not durable never will be. */
bool sx_kit_logwriter_dead(const sx_kit_logwriter *w);
/* From the next batch on, writes go to log instead (a compaction's new
 * file): every record not yet written when it returns is written to log,
 * every earlier one was written to the old log, which is idle from then
 * on. Waits for the thread (between two batches); not from a loop thread.
 * Returns the old log. */
sx_kit_log *sx_kit_logwriter_switch(sx_kit_logwriter *w, sx_kit_log *log);
/* Writes what is queued, stops the thread and frees the writer. NULL ok. */
void sx_kit_logwriter_stop(sx_kit_logwriter *w);

#endif
