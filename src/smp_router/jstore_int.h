/* Internals of the journal message store shared by jstore.c (the open
 * queues and the message operations) and jstore_files.c (the files of one
 * queue: reading its state back, recovery, backups). */
#ifndef SX_ROUTER_JSTORE_INT_H
#define SX_ROUTER_JSTORE_INT_H

#include <pthread.h>

#include "kit/paths.h"
#include "smp_router/jstore.h"

/* One queue held in memory. sfd < 0: no files open (a queue without
 * messages, or not yet written); rfd is then -1 too.
 *
 * Locks (jstore.c): the store's mu guards the map (next), the
 * least-recently-used list (lru_prev, lru_next), refs and the store's loaded
 * count, and is held only for those, never during file I/O. The queue's own
 * mu guards everything else (state, files, ready, dead) and is held through
 * the queue's file I/O. Order: a queue's mu, then the store's mu; never the
 * other way. An entry with refs 0 is not in use: only the store's mu is needed
 * to take it out of the map and free it. active_at is read and written with
 * __atomic builtins (the idle sweep reads it under the store's mu only). */
typedef struct sx_jq {
    struct sx_jq *next;                /* hash chain */
    struct sx_jq *lru_prev, *lru_next; /* lru_prev: more recently used */
    unsigned refs;
    bool ready; /* st and files are loaded from the folder */
    bool dead;  /* the queue was deleted: out of the map */
    pthread_mutex_t mu;
    uint8_t rid[SX_ID_LEN];
    sx_jstate st;
    int sfd, rfd, wfd; /* state file (append), read journal, write journal (-1: the read one) */
    bool tip_known;    /* tip_len is the length (with '\n') of the first message's line */
    int64_t tip_len;
    int64_t active_at; /* seconds */
} sx_jq;

struct sx_jstore {
    sx_jstore_cfg cfg;
    char path[SX_KIT_PATH_MAX];
    pthread_mutex_t mu; /* the map and the LRU list (see sx_jq) */
    sx_jq **buckets;
    size_t n_buckets;
    sx_jq *lru_head, *lru_tail; /* most and least recently used */
    size_t loaded;
    size_t open_files;             /* atomic */
    int64_t expire_backups_before; /* state backups older than this may go */
};

typedef struct sx_jq_paths {
    char dir[SX_KIT_PATH_MAX];
    char state[SX_KIT_PATH_MAX];
} sx_jq_paths;

void sx_jreport(sx_jstore *js, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
SX_MUST_CHECK sx_status sx_jq_paths_of(sx_jstore *js, const uint8_t rid[SX_ID_LEN], sx_jq_paths *p);
/* The path of a message file. */
SX_MUST_CHECK sx_status sx_journal_path(const char *dir, const char *jid, char *out, size_t cap);
/* A new random journal id (16 characters). */
void sx_new_jid(char out[SX_JID_MAX + 1]);

/* Loads the queue's state from its folder, recovering as the reference
 * does; opens its files if it has messages, or if for_write. q->rid is set,
 * the rest is filled. SX_E_IO, SX_E_PROTOCOL (state unusable). */
SX_MUST_CHECK sx_status sx_jq_load(sx_jstore *js, sx_jq *q, bool for_write);
/* Reads the last usable state line (readQueueState): *have false when there
 * is none; *backup when the file should be compacted. */
SX_MUST_CHECK sx_status sx_jq_read_state(sx_jstore *js, const char *state_path, sx_jstate *st, bool *have,
                                         bool *backup);
/* Creates the folder and opens the state file and the read journal. */
SX_MUST_CHECK sx_status sx_jq_create_files(sx_jstore *js, sx_jq *q);
/* Appends st's line to the state file (checked valid first), synced per policy. */
SX_MUST_CHECK sx_status sx_jq_append_state(sx_jstore *js, int sfd, const sx_jstate *st);
/* Opens (creates) the message file jid in dir for reading and writing. */
SX_MUST_CHECK sx_status sx_journal_create(sx_jstore *js, const char *dir, const char *jid, int *fd);
void sx_journal_remove(sx_jstore *js, const char *dir, const char *jid);
/* Cuts the file back to pos if longer; SX_E_PROTOCOL if shorter. */
SX_MUST_CHECK sx_status sx_journal_fix_size(sx_jstore *js, int fd, int64_t pos);
/* Reads the line at pos (without '\n') into buf (cap bytes); *len its
 * length. SX_E_PROTOCOL when there is no '\n' within cap or before the end. */
SX_MUST_CHECK sx_status sx_journal_read_line(int fd, int64_t pos, uint8_t *buf, size_t cap, size_t *len);
void sx_jq_close_files(sx_jstore *js, sx_jq *q);
/* Writes all of buf at the file's end, synced per policy. */
SX_MUST_CHECK sx_status sx_jwrite_all(sx_jstore *js, int fd, const uint8_t *buf, size_t len, int64_t at);

#endif
