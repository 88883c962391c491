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

/* Starts the thread; log stays the caller's and must outlive the writer. */
SX_MUST_CHECK sx_status sx_kit_logwriter_start(sx_kit_log *log, sx_kit_logwriter_cb cb, void *arg,
                                               sx_kit_logwriter **out);
/* Encodes rec with encode (under the writer's lock, straight into its
 * buffer) and queues the line; returns its sequence number (1, 2, ...) or 0
 * when it cannot be encoded or the log has failed. Thread-safe, never blocks
 * on the disk. */
uint64_t sx_kit_logwriter_submit(sx_kit_logwriter *w, sx_kit_encode_fn encode, const void *rec);
/* Highest sequence number known to be written (thread-safe). */
uint64_t sx_kit_logwriter_durable(const sx_kit_logwriter *w);
bool sx_kit_logwriter_failed(const sx_kit_logwriter *w);
/* Writes what is queued, stops the thread and frees the writer. NULL ok. */
void sx_kit_logwriter_stop(sx_kit_logwriter *w);

#endif
