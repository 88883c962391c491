/* The store log's writer thread: event-loop threads hand it records and go
 * on; it writes them in batches (one write, and one fdatasync when the
 * policy asks) and reports how far the log is durable. The router holds
 * every reply that depends on a record until the record is written, so no
 * loop thread ever waits for the disk (docs/ARCHITECTURE.md, "Runtime model").
 */
#ifndef SX_ROUTER_LOGWRITER_H
#define SX_ROUTER_LOGWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "router/storelog.h"

typedef struct sx_logwriter sx_logwriter;

/* Called on the writer thread after each batch: every record with a
 * sequence number <= seq is now in the file (ok), or the log failed (ok
 * false: later records will never be written). */
typedef void (*sx_logwriter_cb)(void *arg, uint64_t seq, bool ok);

/* Starts the thread; log stays the caller's and must outlive the writer. */
SX_MUST_CHECK sx_status sx_logwriter_start(sx_storelog *log, sx_logwriter_cb cb, void *arg,
                                           sx_logwriter **out);
/* Encodes r and queues it; returns its sequence number (1, 2, ...) or 0 when
 * it cannot be encoded or the log has failed. Thread-safe, never blocks on
 * the disk. */
uint64_t sx_logwriter_submit(sx_logwriter *w, const sx_slrec *r);
/* Highest sequence number known to be written (thread-safe). */
uint64_t sx_logwriter_durable(const sx_logwriter *w);
bool sx_logwriter_failed(const sx_logwriter *w);
/* Writes what is queued, stops the thread and frees the writer. NULL ok. */
void sx_logwriter_stop(sx_logwriter *w);

#endif
