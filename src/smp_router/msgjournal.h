/* The SMP router's message journal, smp-server-messages.wal: ours, not the
 * reference's. The reference keeps undelivered messages in memory and
 * writes them to smp-server-messages.log only at a clean stop
 * (PROTOCOL-NOTES E27), so a crash loses them all. We also append every
 * stored message to this journal while running, through a writer thread
 * with group commit (src/kit/logwriter.h), and hold a SEND's OK until its
 * record is written; after a crash the journal is replayed. At a clean stop
 * smp-server-messages.log is written as before and the journal removed, so
 * the reference can take the files over.
 *
 * Lines (text, one record each, the grammar of PROTOCOL-NOTES A23-A27):
 *   v3 <rid> <msgId> <ts> flags=<T|F> <body>   a message stored at the tail
 *   v3 <rid> <msgId> <ts> quota                the quota marker stored
 *       (both exactly the message lines of smp-server-messages.log)
 *   ack <rid> <msgId>    the head message, if it has this id, was removed
 *   reset <rid>          the queue's messages are dropped (a compaction's
 *                        copy of the queue follows)
 *   snapshot             every message before this line is dropped (the
 *                        first line of a journal compacted at start)
 * Messages expired by age get no record: replay drops them by the same
 * rule. Records of a queue that no longer exists are skipped. */
#ifndef SX_ROUTER_MSGJOURNAL_H
#define SX_ROUTER_MSGJOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "kit/logfile.h"
#include "kit/logwriter.h"
#include "smp_router/msglog.h"
#include "smp_router/store.h"
#include "simplex/status.h"

#define SX_MSGJOURNAL_FILE "smp-server-messages.wal"

typedef enum sx_mjrec_type {
    SX_MJ_MSG,      /* msg: a message line (quota marker included) */
    SX_MJ_ACK,      /* msg.rid, msg.msg_id */
    SX_MJ_RESET,    /* msg.rid */
    SX_MJ_SNAPSHOT, /* no fields */
} sx_mjrec_type;

typedef struct sx_mjrec {
    sx_mjrec_type type;
    sx_slmsg msg;
} sx_mjrec;

/* Parses one journal line (no '\n'). SX_E_PROTOCOL for anything else,
 * trailing bytes included; SX_E_LIMIT for a body over SX_MSG_BODY_MAX.
 * Release with sx_mjrec_cleanup on success. */
SX_MUST_CHECK sx_status sx_mjrec_parse(sx_slice line, sx_mjrec *out);
void sx_mjrec_cleanup(sx_mjrec *r);
/* Appends the record's line without '\n' (writer style). */
bool sx_mjrec_encode(sx_writer *w, const sx_mjrec *r);

typedef struct sx_msgjournal_stats {
    size_t lines;
    size_t bad_lines; /* unparseable: reported and skipped */
    size_t stored;    /* messages appended (before later acks) */
    size_t acked;
    size_t expired;
    size_t unknown; /* records of queues that no longer exist */
    size_t dropped; /* not stored: queue full */
} sx_msgjournal_stats;

/* Applies the journal at path to st (after the store log and any
 * smp-server-messages.log). Unparseable lines are reported and skipped: a
 * line cut by a crash is the usual one. A missing file applies nothing.
 * opts gives expiry and where reports go. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_msgjournal_replay(const char *path, sx_store *st, const sx_msglog_opts *opts,
                                             sx_msgjournal_stats *stats);

typedef struct sx_msgjournal_paths {
    const char *journal;  /* smp-server-messages.wal */
    const char *msgs_log; /* smp-server-messages.log (PROTOCOL-NOTES E27) */
} sx_msgjournal_paths;

/* The start-up sequence. When smp-server-messages.log exists (a clean
 * stop), it holds every message and the journal is stale: it is restored
 * (the rules of PROTOCOL-NOTES E27) and the journal files are kept as "<journal>.bak". Otherwise
 * the journal, and "<journal>.next" left by a compaction that did not
 * finish, are replayed. Then the messages now stored are written as a new
 * journal (a "snapshot" line first) to "<journal>.next", which is renamed
 * over the journal, and only then is smp-server-messages.log renamed to
 * .bak: a crash at any step leaves files that the next start reads to the
 * same messages. Returns the journal open for appending. log_opts is
 * copied (its sync policy is the journal's). A warning of that restore
 * without skip_warnings stops the start (SX_E_PROTOCOL), as it does
 * without the journal. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_msgjournal_start(const sx_msgjournal_paths *paths, sx_store *st,
                                            const sx_msglog_opts *mopts, const sx_kit_log_opts *log_opts,
                                            sx_msglog_stats *restored, sx_msgjournal_stats *replayed,
                                            sx_kit_log **out);

/* After smp-server-messages.log was written at a clean stop: removes the
 * journal and "<journal>.next" (the journal log closed first). */
void sx_msgjournal_remove(const char *journal);

/* Queues a record on the journal's writer: sequence number, or 0 when it is
 * refused (sx_kit_logwriter_submit; for ACK, sx_kit_logwriter_submit_always:
 * nobody waits for it, and losing it would only deliver the message again). */
uint64_t sx_msgjournal_submit(sx_kit_logwriter *w, const sx_mjrec *r);

/* ---- compaction while running ---- */

typedef struct sx_msgjournal_compactor sx_msgjournal_compactor;

typedef struct sx_msgjournal_compact_opts {
    const char *journal;
    sx_kit_log_opts log_opts; /* for the new file */
    uint64_t min_bytes;       /* compact once the journal is over this... */
    unsigned growth;          /* ...and over growth times its size after the last compaction */
    int check_ms;             /* how often the size is checked */
} sx_msgjournal_compact_opts;

/* Starts a thread that compacts the journal while the router runs: when it
 * is too large, the writer is switched to "<journal>.next", every queue with
 * messages is copied there (a reset record, then its messages, under the
 * queue's lock, so that the copy and the changes around it are in order),
 * and once that is written the new file is renamed over the journal. A
 * crash meanwhile leaves the journal and .next, which replay one after the
 * other. *log is the journal's log (the router's pointer: replaced by the
 * new file, whose old log the thread closes). */
SX_MUST_CHECK sx_status sx_msgjournal_compactor_start(const sx_msgjournal_compact_opts *opts, sx_store *st,
                                                      sx_kit_logwriter *w, sx_kit_log **log,
                                                      sx_msgjournal_compactor **out);
/* Stops and joins the thread (a compaction under way is finished first). NULL ok. */
void sx_msgjournal_compactor_stop(sx_msgjournal_compactor *c);
/* Compactions done (tests). */
uint64_t sx_msgjournal_compactions(const sx_msgjournal_compactor *c);
/* The journal's size when the last compaction finished (or when the thread
 * started): the next compaction waits for growth times it (tests). */
uint64_t sx_msgjournal_compacted_size(const sx_msgjournal_compactor *c);

#endif
