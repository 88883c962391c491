/* The journal message store (store_messages: journal): the messages of each
 * queue in files under <log dir>/messages, in the reference's layout and
 * formats (jstate.h), so that an operator's existing folder opens as it is.
 *
 * Layout: the queue's recipient id in base64url (32 characters) is cut
 * into path_parts folders, two characters each but the last, which takes
 * the rest: with 5 parts, messages/ab/cd/ef/gh/<24 chars>/. The folder
 * holds queue_state.<rid>.log and messages.<jid>.log files; a state file
 * grown over max_state_lines is moved aside as
 * queue_state.<rid>.log.<ISO 8601 time>.bak (through a temporary
 * queue_state.<rid>.log.bak, taken back if a crash left it), and backups
 * older than expire_backups_after are removed, keeping keep_min_backups.
 *
 * A queue is opened when one of its messages is needed and closed when it
 * turns out empty or has been idle for idle_interval (sx_jstore_close_idle,
 * sx_jstore_expire), so memory follows the busy queues, not all of them.
 *
 * Writing a message appends its line to the write journal, then a state
 * line. A crash between the two leaves a journal longer than its state
 * says: the next open cuts it back (the message was never acknowledged to
 * its sender). Durability (sync): SX_JSYNC_WRITE hands both lines to the
 * kernel before the call returns (a killed process loses nothing, as the
 * reference); SX_JSYNC_FSYNC also fsyncs both files (power loss too).
 *
 * Thread-safe, with two kinds of lock (jstore_int.h): the store's lock
 * guards the map of queues in memory and their least-recently-used order and
 * is held only for a lookup, an insertion or a removal, never during file
 * I/O; each queue has its own lock, held through that queue's file I/O. A
 * write takes the store's lock briefly (to find and pin the queue, and again
 * to unpin it) and the queue's lock around its journal and state appends, so
 * writers to different queues write in parallel and calls on one queue run
 * one at a time. */
#ifndef SX_ROUTER_JSTORE_H
#define SX_ROUTER_JSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit/report.h"
#include "smp_router/jstate.h"
#include "smp_router/msglog.h"
#include "smp_router/store.h"
#include "simplex/status.h"

#define SX_JSTORE_DIR "messages" /* under the log folder */
/* A message line: id, time, flags and the base64url of the longest body. */
#define SX_JMSG_LINE_MAX (64 + 4 * ((SX_MSG_BODY_MAX + 2) / 3))

typedef enum sx_jsync {
    SX_JSYNC_WRITE, /* write(2) before returning: survives kill -9 */
    SX_JSYNC_FSYNC, /* and fsync(2): survives power loss */
} sx_jsync;

typedef struct sx_jstore_cfg {
    const char *path;             /* the messages folder */
    int path_parts;               /* 5 in the reference */
    int64_t quota;                /* messages per queue (then the quota marker) */
    int64_t max_msg_count;        /* messages per journal file before a new one (256) */
    int64_t max_state_lines;      /* state lines before the file is compacted at open (16) */
    size_t state_tail_size;       /* bytes read from the end of a state file (512) */
    int64_t idle_interval;        /* seconds without writes before an open queue is closed */
    int64_t expire_backups_after; /* seconds (14 days) */
    int keep_min_backups;         /* 2 */
    size_t max_open;              /* ours: queues held at once (0: no limit); when reached,
                                     the least recently used queue not in use by another
                                     thread is closed before one more is opened */
    sx_jsync sync;
    sx_kit_warn_cb warn; /* recoveries and dropped files are reported here */
    void *warn_arg;
} sx_jstore_cfg;

/* The reference's values, for the folder path. */
void sx_jstore_cfg_default(sx_jstore_cfg *c, const char *path);

typedef struct sx_jstore sx_jstore;

/* A message as stored (body up to SX_MSG_BODY_MAX). */
typedef struct sx_jmsg {
    uint8_t id[SX_ID_LEN];
    int64_t ts;
    bool quota, notify;
    uint16_t len;
    uint8_t body[SX_MSG_BODY_MAX];
} sx_jmsg;

typedef enum sx_jwrite {
    SX_JW_STORED, /* the message was stored */
    SX_JW_QUOTA,  /* the queue was full: the quota marker was stored instead */
    SX_JW_FULL,   /* the queue is full and marked: nothing stored */
} sx_jwrite;

/* Creates the folder if needed. SX_E_IO, SX_E_NOMEM, SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_jstore_open(const sx_jstore_cfg *c, sx_jstore **out);
/* Closes every open queue (their state is already on disk). */
void sx_jstore_close(sx_jstore *js);

/* Appends m to the queue rid (ts, notify, body); with m->quota set, the
 * quota marker with m's id and time (an import of a full queue).
 * *res says what was stored, *was_empty (may be NULL) whether the queue had
 * no message before. SX_E_IO (the queue is unchanged in memory; a partial
 * line on disk is cut at the next open), SX_E_PROTOCOL (inconsistent files). */
SX_MUST_CHECK sx_status sx_jstore_write(sx_jstore *js, const uint8_t rid[SX_ID_LEN], const sx_jmsg *m,
                                        sx_jwrite *res, bool *was_empty);
/* The first message, if any (*found). */
SX_MUST_CHECK sx_status sx_jstore_peek(sx_jstore *js, const uint8_t rid[SX_ID_LEN], sx_jmsg *out, bool *found);
/* Removes the first message if its id is msg_id (*deleted); then, if next is
 * not NULL, peeks the next one (*next_found). */
SX_MUST_CHECK sx_status sx_jstore_ack(sx_jstore *js, const uint8_t rid[SX_ID_LEN], const uint8_t msg_id[SX_ID_LEN],
                                      bool *deleted, sx_jmsg *next, bool *next_found);
/* Messages stored (the quota marker included). */
SX_MUST_CHECK sx_status sx_jstore_size(sx_jstore *js, const uint8_t rid[SX_ID_LEN], int64_t *size);
/* Removes the messages older than old (seconds) from the head, stopping at
 * the first newer one or the quota marker; one state line for all. A queue
 * not open is opened for this and closed after, an open one is closed when
 * idle since idle_interval before now. *expired and *stored may be NULL. */
SX_MUST_CHECK sx_status sx_jstore_expire(sx_jstore *js, const uint8_t rid[SX_ID_LEN], int64_t old, int64_t now,
                                         size_t *expired, int64_t *stored);
/* Removes the queue's folder. */
SX_MUST_CHECK sx_status sx_jstore_delete_queue(sx_jstore *js, const uint8_t rid[SX_ID_LEN]);

/* Every stored message of rid in order, read from the files without
 * changing them (export). Lines that do not parse are skipped and counted
 * in *bad (may be NULL). A callback returning false stops with SX_E_USAGE. */
typedef bool (*sx_jstore_msg_fn)(void *arg, const sx_jmsg *m);
SX_MUST_CHECK sx_status sx_jstore_read_all(sx_jstore *js, const uint8_t rid[SX_ID_LEN], sx_jstore_msg_fn fn,
                                           void *arg, size_t *bad);

/* Closes the queues idle since idle_interval before now. Returns how many. */
size_t sx_jstore_close_idle(sx_jstore *js, int64_t now);
/* Queues held in memory / with open files. */
size_t sx_jstore_loaded(sx_jstore *js);
size_t sx_jstore_open_files(sx_jstore *js);
/* Whether the queue rid is held in memory now (for tests and diagnostics). */
bool sx_jstore_is_loaded(sx_jstore *js, const uint8_t rid[SX_ID_LEN]);

/* The queue's folder (NUL-terminated into out, cap bytes). SX_E_LIMIT. */
SX_MUST_CHECK sx_status sx_jstore_queue_dir(const sx_jstore_cfg *c, const uint8_t rid[SX_ID_LEN], char *out,
                                            size_t cap);

#endif
