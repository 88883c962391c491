/* The text formats of the journal message store (store_messages: journal),
 * as the reference writes them, so that its folders open as they are.
 *
 * Queue state, one line per change appended to
 * <queue dir>/queue_state.<rid>.log (the last valid line wins):
 *   write=<jid>,<msgPos>,<msgCount>,<bytePos>,<byteCount> read=<same> canWrite=<T|F> size=<n>
 * <jid> names the message file <queue dir>/messages.<jid>.log; the reference
 * writes 12 random bytes in base64url (16 characters). Positions are
 * unsigned decimals, size a signed one.
 *
 * Message files hold one message per line, the message part of a
 * smp-server-messages.log line (see msglog.h):
 *   <msgId> <ts> flags=<T|F> <body>      or      <msgId> <ts> quota
 * A journal is read from (bytePos, msgPos) of its read state up to
 * (byteCount, msgCount); the write state's journal takes the new lines. */
#ifndef SX_ROUTER_JSTATE_H
#define SX_ROUTER_JSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "simplex/status.h"

#define SX_JID_MAX 64          /* longest journal id we accept (the reference writes 16 chars) */
#define SX_JID_RANDOM_BYTES 12 /* the reference's new journal ids: 12 random bytes */

typedef struct sx_jpos {
    char jid[SX_JID_MAX + 1]; /* NUL-terminated base64url text */
    int64_t msg_pos, msg_count, byte_pos, byte_count;
} sx_jpos;

typedef struct sx_jstate {
    sx_jpos write, read;
    bool can_write;
    int64_t size;
} sx_jstate;

/* Parses one state line (no '\n'); the whole line must be consumed.
 * Journal ids: 1..SX_JID_MAX base64url characters (the reference takes any
 * bytes up to ','; ids it did not write are refused here, as they would
 * become file names). SX_E_PROTOCOL, SX_E_LIMIT (a number over int64). */
SX_MUST_CHECK sx_status sx_jstate_parse(sx_slice line, sx_jstate *out);
/* Appends the line without '\n' (writer style). */
bool sx_jstate_encode(sx_writer *w, const sx_jstate *st);
/* The reference's consistency rules between the two positions and size. */
bool sx_jstate_valid(const sx_jstate *st);
/* A new empty state whose read and write journals are jid. */
void sx_jstate_init(sx_jstate *st, const char *jid);
/* The state of a journal just opened at jid: read and write at its start. */
void sx_jpos_init(sx_jpos *p, const char *jid);

#endif
