/* Undelivered messages of the SMP router (PROTOCOL-NOTES E27),
 * smp-server-messages.log: written at shutdown, read back at the next start.
 * Lines are "v3 <rid> <msgId> <ts> flags=<T|F> <body>" or
 * "v3 <rid> <msgId> <ts> quota". */
#ifndef SX_ROUTER_MSGLOG_H
#define SX_ROUTER_MSGLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "kit/report.h"
#include "smp_router/store.h"
#include "simplex/status.h"

#define SX_MSGLOG_FILE "smp-server-messages.log" /* PROTOCOL-NOTES E27 */
#define SX_MSG_BODY_MAX 16088                    /* MaxMessageLen: longest stored body */

typedef struct sx_slmsg {
    uint8_t rid[SX_ID_LEN];
    uint8_t msg_id[SX_ID_LEN];
    int64_t ts;
    bool quota; /* the quota marker (no flags, no body) */
    bool notify;
    sx_slice body;
    uint8_t *arena;
} sx_slmsg;

/* Parses a message line. Also accepts the older line without "flags="
 * (notify false). Body over SX_MSG_BODY_MAX: SX_E_LIMIT. An empty body is
 * accepted after "flags=X " (the reference writes it but cannot read it).
 * Release with sx_slmsg_cleanup on success. */
SX_MUST_CHECK sx_status sx_slmsg_parse(sx_slice line, sx_slmsg *out);
void sx_slmsg_cleanup(sx_slmsg *m);
bool sx_slmsg_encode(sx_writer *w, const sx_slmsg *m);
/* The same without "v3 <rid> ": the line of a journal message file
 * ("<msgId> <ts> flags=<T|F> <body>" or "<msgId> <ts> quota"); rid is left
 * zero. */
SX_MUST_CHECK sx_status sx_slmsg_parse_msg(sx_slice line, sx_slmsg *out);
bool sx_slmsg_encode_msg(sx_writer *w, const sx_slmsg *m);

typedef struct sx_msglog_opts {
    bool expire;           /* drop messages older than expire_before */
    int64_t expire_before; /* seconds */
    bool skip_warnings;    /* --skip-warnings: warnings do not stop restore */
    bool keep;             /* restore leaves the file in place (not renamed to .bak) */
    sx_kit_warn_cb warn;
    void *warn_arg;
} sx_msglog_opts;

typedef struct sx_msglog_stats {
    size_t stored;
    size_t expired;
    size_t dropped; /* not restored: queue full or unknown queue (skip_warnings) */
} sx_msglog_stats;

/* Writes every stored message of every live queue, queue by queue in FIFO
 * order, to path (through "<path>.tmp", synced, renamed). Messages stay in
 * the store. For shutdown: nothing else may change the store meanwhile.
 * *saved may be NULL. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_msglog_save(const char *path, sx_store *st, size_t *saved);
/* Restores path into st (PROTOCOL-NOTES E27) and renames it to "<path>.bak".
 * Messages older than expire_before are dropped when expire is set; a quota
 * line restores the quota marker. A parse error on a line that is not the last,
 * or a warning (bad last line, unknown queue) without skip_warnings, stops
 * the restore with SX_E_PROTOCOL and the file is not renamed (the caller
 * should not start). A missing file is SX_OK with nothing restored. */
SX_MUST_CHECK sx_status sx_msglog_restore(const char *path, sx_store *st, const sx_msglog_opts *opts,
                                          sx_msglog_stats *stats);
/* The restore rules of PROTOCOL-NOTES E27 for one parsed message line
 * (expiry, the quota marker, a full queue), applied to q with its lock held;
 * counted in s and reported through o. False when it was not stored; *err
 * is set only when the store failed (SX_E_NOMEM). */
bool sx_msglog_restore_one(sx_queue *q, const sx_slmsg *m, const sx_msglog_opts *o, sx_msglog_stats *s,
                           sx_status *err);

#endif
