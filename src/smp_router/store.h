/* SMP router queue and message store, in memory (PROTOCOL-NOTES E.1-E.5).
 *
 * Queues are found by recipient, sender, notifier or link id (PROTOCOL-NOTES
 * E2). The maps are guarded by one read-write lock; a queue's mutable state
 * (keys, status, messages, subscriber) by its lock, sx_queue_lock(). Queue
 * locks are striped (a fixed array of mutexes picked by the queue's address) to
 * keep an idle queue small: never hold two queue locks at once, and take a
 * queue lock before the map lock, never after. A queue found through
 * the store carries a reference: release it with sx_queue_release. A deleted
 * queue is removed from every map at once, so no later lookup finds it, and
 * freed when its last reference goes.
 *
 * Keys are kept compact (algorithm + raw public bytes), not as OpenSSL
 * objects, so that an idle queue costs a few hundred bytes. */
#ifndef SX_ROUTER_STORE_H
#define SX_ROUTER_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "crypto/keys.h"
#include "simplex/status.h"

#define SX_ID_LEN 24            /* PROTOCOL-NOTES E24: queue and message ids */
#define SX_QUEUE_QUOTA 128      /* PROTOCOL-NOTES E11: msgQueueQuota */
#define SX_MAX_RCV_KEYS 8       /* RKEY list bound (protects memory) */
#define SX_LINK_DATA_MAX 16384  /* encrypted link data: fixed + user */

typedef struct sx_qkey {
    uint8_t alg; /* sx_key_alg */
    uint8_t len; /* raw length; 0 = no key */
    uint8_t raw[SX_KEY_RAW_MAX];
} sx_qkey;

typedef enum sx_party {
    SX_PARTY_RECIPIENT,
    SX_PARTY_SENDER,
    SX_PARTY_NOTIFIER,
    SX_PARTY_LINK,
} sx_party;

typedef enum sx_queue_status {
    SX_QUEUE_ACTIVE,
    SX_QUEUE_OFF,
    SX_QUEUE_BLOCKED,
} sx_queue_status;

typedef struct sx_msg {
    struct sx_msg *next;
    uint8_t id[SX_ID_LEN];
    int64_t ts;
    bool quota;  /* the QUOTA marker (PROTOCOL-NOTES E11) */
    bool notify; /* SEND flag 'T' */
    uint16_t len;
    uint8_t body[];
} sx_msg;

#define SX_NTF_META_LEN 144    /* PROTOCOL-NOTES D26: encrypted NMSG metadata */
#define SX_NTF_PENDING_MAX 128 /* pending notifications kept per notifier */

/* A notification waiting for its notifier subscriber (PROTOCOL-NOTES E14). */
typedef struct sx_pending_ntf {
    struct sx_pending_ntf *next;
    int64_t ts;
    uint8_t msg_id[SX_ID_LEN];
    uint8_t nonce[24];
    uint8_t meta[SX_NTF_META_LEN];
} sx_pending_ntf;

typedef struct sx_notifier {
    uint8_t id[SX_ID_LEN];
    sx_qkey key;
    uint8_t dh_secret[32]; /* rcvNtfDhSecret */
} sx_notifier;

typedef struct sx_link {
    uint8_t id[SX_ID_LEN];
    uint8_t *data; /* fixed || user, one allocation */
    uint16_t fixed_len;
    uint16_t user_len;
} sx_link;

/* A recipient or sender key inside the queue record: alg and len as in
 * sx_qkey, the raw bytes of a key of up to SX_QKEY_INLINE bytes (Ed25519,
 * X25519) in place; a longer one (Ed448) is in an allocation of its own whose
 * address the first bytes of raw hold. Read and write them through
 * sx_queue_rkey, sx_queue_skey and their setters. */
#define SX_QKEY_INLINE 32
typedef struct sx_qkey_in {
    uint8_t alg;
    uint8_t len; /* 0 = no key */
    uint8_t raw[SX_QKEY_INLINE];
} sx_qkey_in;

/* What only some queues have, in a side record allocated the first time one
 * of these is set (sx_queue_side) and kept until the queue is freed: an idle
 * queue without them carries one pointer instead of seven. */
typedef struct sx_queue_side {
    sx_qkey *extra_rkeys; /* n_rkeys - 1 more (RKEY) */
    sx_notifier *notifier;
    sx_link *link;
    char *block_info; /* "reason=...[,notice=...]" when blocked */
    /* Notifications for the notifier subscriber, oldest first (PROTOCOL-NOTES
     * E14). */
    sx_pending_ntf *ntf_head, *ntf_tail;
    void *nsub; /* the notifier subscriber (NSUB; guarded by the queue lock) */
} sx_queue_side;

typedef struct sx_queue {
    /* Fields ordered by size so that an idle queue carries no padding. */
    sx_queue_side *side;   /* NULL: none of its fields set */
    int64_t updated_at;    /* PROTOCOL-NOTES E5: day, seconds */
    /* Messages (FIFO, PROTOCOL-NOTES E13). */
    sx_msg *head, *tail;
    /* The recipient connection subscribed with SUB (PROTOCOL-NOTES E12): the
     * router's opaque handle (guarded by the queue lock). */
    void *sub;
    int refs;   /* atomic */
    uint16_t n_msgs;       /* stored messages, the quota marker included */
    uint8_t n_ntfs;        /* pending notifications, at most SX_NTF_PENDING_MAX */
    bool deleted;
    uint8_t mode;          /* 0 legacy, 'M' messaging, 'C' contact */
    uint8_t status : 4;    /* sx_queue_status */
    uint8_t n_rkeys : 4;   /* 1 .. SX_MAX_RCV_KEYS */
    uint8_t rid[SX_ID_LEN];
    uint8_t sid[SX_ID_LEN];
    uint8_t dh_secret[32]; /* rcvDhSecret for MSG encryption (PROTOCOL-NOTES D24) */
    sx_qkey_in rkey;       /* first recipient key; more in side->extra_rkeys */
    sx_qkey_in skey;       /* sender key, len 0 = unsecured */
} sx_queue;

/* An idle queue is one allocation: 200 bytes fill a 208-byte malloc chunk
 * (8 bytes of header, 16-byte steps). It was 296 bytes (a 304-byte chunk)
 * before the rare fields moved to the side record and the keys to their
 * real size. */
_Static_assert(sizeof(sx_queue) <= 200, "sx_queue grew past its malloc chunk");
_Static_assert(SX_NTF_PENDING_MAX <= 255 && SX_MAX_RCV_KEYS <= 15 && SX_QUEUE_BLOCKED <= 15,
               "sx_queue counters fit their fields");
_Static_assert(SX_QKEY_INLINE >= sizeof(uint8_t *) && SX_KEY_RAW_MAX <= 255, "sx_qkey_in holds a pointer");

/* q's side record, allocated (zeroed) when q has none; NULL when memory is
 * short. The queue lock must be held, or q must be in no store yet. */
sx_queue_side *sx_queue_side_get(sx_queue *q);
static inline sx_notifier *sx_queue_notifier(const sx_queue *q)
{
    return q->side ? q->side->notifier : NULL;
}
static inline sx_link *sx_queue_link(const sx_queue *q)
{
    return q->side ? q->side->link : NULL;
}
static inline const char *sx_queue_block_info(const sx_queue *q)
{
    return q->side ? q->side->block_info : NULL;
}
static inline void *sx_queue_nsub(const sx_queue *q)
{
    return q->side ? q->side->nsub : NULL;
}
static inline bool sx_queue_has_ntfs(const sx_queue *q)
{
    return q->side && q->side->ntf_head;
}
/* Sets the notifier subscriber; a queue with a notifier has its side record,
 * so a non-NULL sub is only set on such a queue (returns false otherwise). */
bool sx_queue_set_nsub(sx_queue *q, void *sub);
/* Replaces the blocking text (owned by q from now on; NULL clears it).
 * SX_E_NOMEM (text freed) when the side record cannot be allocated. */
SX_MUST_CHECK sx_status sx_queue_set_block_info(sx_queue *q, char *text);

typedef struct sx_store sx_store;

typedef struct sx_new_queue {
    sx_qkey rkey;
    uint8_t dh_secret[32];
    uint8_t mode;                     /* 0, 'M' or 'C' */
    bool has_sid;                     /* client-chosen sender id (PROTOCOL-NOTES D4) */
    uint8_t sid[SX_ID_LEN];
    bool has_link;
    bool client_link_id;              /* contact queues: the client chose it */
    uint8_t link_id[SX_ID_LEN];
    sx_slice link_fixed, link_user;
    bool has_notifier;
    sx_qkey nkey;
    uint8_t ndh_secret[32];
    int64_t now;
} sx_new_queue;

SX_MUST_CHECK sx_status sx_store_new(sx_store **out);
/* Frees every queue and message. No other thread may use the store. */
void sx_store_free(sx_store *s);
size_t sx_store_queue_count(sx_store *s);

/* Creates a queue with fresh random ids (retried on collision,
 * PROTOCOL-NOTES E19/D5); a client-chosen sender or link id that is taken gives
 * SX_E_AUTH (PROTOCOL-NOTES D4). The new queue is returned with a reference. */
SX_MUST_CHECK sx_status sx_store_create(sx_store *s, const sx_new_queue *nq, sx_queue **out);
/* Inserts a queue restored from a store log, with its ids as given;
 * takes ownership of q (freed on failure). SX_E_PROTOCOL on an id clash. */
SX_MUST_CHECK sx_status sx_store_insert(sx_store *s, sx_queue *q);
/* Sizes the recipient and sender maps for n queues in all, so that loading
 * a large store log does not rehash them again and again. A hint: SX_OK
 * also when memory is short (the maps then grow as usual). */
SX_MUST_CHECK sx_status sx_store_reserve(sx_store *s, size_t n);
/* Looks id up in the map of party; in a lazy store (below) a miss reads the
 * queue from where the queues live and keeps it. NULL when absent. The
 * caller releases. */
sx_queue *sx_store_find(sx_store *s, sx_party party, sx_slice id);
/* Looks in memory only. */
sx_queue *sx_store_find_cached(sx_store *s, sx_party party, sx_slice id);

/* Queues read on demand (store_queues: database, as the reference): once a
 * loader is set, the store holds the queues used since the start (created,
 * or found by one of their ids), not all of them, and a lookup that misses
 * calls load, with no lock held, for the live queue whose party id is id:
 * *out a new queue, not in any store (NULL: none). The queue read is kept
 * (the one kept first when two threads read it at once). A queue deleted
 * from a lazy store is remembered for two minutes so that it is not read
 * back before the deletion reaches the database. sx_store_each, snapshot
 * and queue_count then cover the queues held in memory only. */
typedef struct sx_queue_loader {
    sx_status (*load)(void *ctx, sx_party party, const uint8_t id[SX_ID_LEN], sx_queue **out);
    void *ctx;
} sx_queue_loader;
/* l is copied; NULL: every queue is in memory again (the default). */
void sx_store_set_loader(sx_store *s, const sx_queue_loader *l);
bool sx_store_lazy(sx_store *s);
/* Frees a queue that is in no store (from a loader). */
void sx_queue_discard(sx_queue *q);
void sx_queue_retain(sx_store *s, sx_queue *q);
void sx_queue_release(sx_store *s, sx_queue *q);
/* Removes q from every map (PROTOCOL-NOTES E17); q stays valid until released.
 * Idempotent. */
void sx_store_delete(sx_store *s, sx_queue *q);
/* Calls fn for every live queue (for compaction and saving). fn runs
 * without the map lock and may lock the queue or use the store. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_store_each(sx_store *s, void (*fn)(sx_queue *q, void *arg), void *arg);

/* All live queues, each retained, in a new array (free it and release each
 * queue). Unlike sx_store_each, the caller may then lock queues, so this is
 * what code running beside the workers uses. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_store_snapshot(sx_store *s, sx_queue ***out, size_t *n);

/* Map maintenance for notifier and link ids; the queue lock must be held.
 * Setting replaces any previous notifier/link (old id leaves the map).
 * SX_E_AUTH if a new id is taken by another queue. */
SX_MUST_CHECK sx_status sx_store_set_notifier(sx_store *s, sx_queue *q, const sx_notifier *n);
void sx_store_delete_notifier(sx_store *s, sx_queue *q);
SX_MUST_CHECK sx_status sx_store_set_link(sx_store *s, sx_queue *q, sx_slice id, sx_slice fixed,
                                          sx_slice user);
void sx_store_delete_link(sx_store *s, sx_queue *q);
/* A link record: a 24-byte id and its fixed and user data, each at most
 * SX_LINK_DATA_MAX bytes (NULL when a length is wrong or memory is short). */
sx_link *sx_link_new(sx_slice id, sx_slice fixed, sx_slice user);

/* ---- queue state; the caller holds the queue lock ----
 *
 * Push, head, remove_head and expire take the queue's store s and go to its
 * message back-end when it has one; with s NULL (or no back-end) they work on
 * the queue's own message list, which is what restoring into memory uses. */

/* The lock guarding q's mutable state (striped: see the top of this file). */
void sx_queue_lock(sx_queue *q);
void sx_queue_unlock(sx_queue *q);

/* Recipient key i (0 <= i < n_rkeys; a key of len 0 otherwise). */
sx_qkey sx_queue_rkey(const sx_queue *q, size_t i);
/* Replaces the recipient keys (RKEY, 1..SX_MAX_RCV_KEYS). */
SX_MUST_CHECK sx_status sx_queue_set_rkeys(sx_queue *q, const sx_qkey *keys, size_t n);
/* The sender key (len 0: the queue is not secured). */
sx_qkey sx_queue_skey(const sx_queue *q);
static inline bool sx_queue_secured(const sx_queue *q)
{
    return q->skey.len != 0;
}
/* Sets (or with len 0 clears) the sender key. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_queue_set_skey(sx_queue *q, const sx_qkey *k);
/* Removes the sender key (a SECURE that could not be logged). */
void sx_queue_clear_skey(sx_queue *q);

typedef enum sx_push_result {
    SX_PUSH_OK,        /* stored */
    SX_PUSH_QUOTA,     /* not stored: quota reached (ERR QUOTA) */
} sx_push_result;

/* PROTOCOL-NOTES E11: appends a message, or the quota marker when the 129th
 * arrives, or refuses while the marker is there. *was_empty tells whether the
 * queue was empty before (PROTOCOL-NOTES E6). SX_E_NOMEM on allocation
 * failure. */
SX_MUST_CHECK sx_status sx_queue_push(sx_store *s, sx_queue *q, const uint8_t id[SX_ID_LEN], int64_t ts,
                                      bool notify, sx_slice body, sx_push_result *res, bool *was_empty);
/* The message at the head, or NULL. With a message back-end (below) a
 * copy, valid until this thread's next call. */
sx_msg *sx_queue_head(sx_store *s, const sx_queue *q);
/* Removes the head message if its id is id; returns whether it did. */
bool sx_queue_remove_head(sx_store *s, sx_queue *q, const uint8_t id[SX_ID_LEN]);
/* Removes the tail message if its id is id (a SEND whose record could not
 * be logged is taken back); returns whether it did. */
bool sx_queue_remove_tail(sx_queue *q, const uint8_t id[SX_ID_LEN]);
/* Drops every stored message. */
void sx_queue_clear_msgs(sx_queue *q);
/* Appends a restored message (store of undelivered messages) as is. */
SX_MUST_CHECK sx_status sx_queue_append_restored(sx_queue *q, const uint8_t id[SX_ID_LEN], int64_t ts,
                                                 bool notify, bool quota, sx_slice body);
/* PROTOCOL-NOTES E20: drops head messages older than cutoff (seconds); stops at
 * a quota marker. Returns how many were dropped. */
size_t sx_queue_expire(sx_store *s, sx_queue *q, int64_t cutoff);

/* PROTOCOL-NOTES E14: appends a pending notification (copied); when
 * SX_NTF_PENDING_MAX are waiting the oldest is dropped. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_queue_add_ntf(sx_queue *q, const sx_pending_ntf *n);
/* Takes the whole pending list (oldest first); the caller frees each entry. */
sx_pending_ntf *sx_queue_take_ntfs(sx_queue *q);
/* Drops every pending notification (NDEL, NKEY: PROTOCOL-NOTES D14). */
void sx_queue_drop_ntfs(sx_queue *q);
/* PROTOCOL-NOTES E21: drops pending notifications older than cutoff; returns
 * how many. */
size_t sx_queue_expire_ntfs(sx_queue *q, int64_t cutoff);

/* Where s's messages live when not in the queues' lists: once set, push,
 * head, remove_head and expire with s go to it, and a queue deleted from s is
 * reported to it (smp_router/store_journal.h, pgmsgs.h). Each store has its
 * own: two stores in one process may use different back-ends. Set it before
 * other threads use s; sx_store_free calls close and unsets it. The queue lock
 * is held around each call but close. */
typedef struct sx_msg_backend {
    sx_status (*push)(void *ctx, sx_queue *q, const uint8_t id[SX_ID_LEN], int64_t ts, bool notify, sx_slice body,
                      sx_push_result *res, bool *was_empty);
    sx_msg *(*head)(void *ctx, const sx_queue *q);
    bool (*remove_head)(void *ctx, sx_queue *q, const uint8_t id[SX_ID_LEN]);
    size_t (*expire)(void *ctx, sx_queue *q, int64_t cutoff);
    void (*deleted)(void *ctx, sx_queue *q);
    void (*close)(void *ctx);
    void *ctx;
} sx_msg_backend;
/* b is copied; NULL: messages in memory again. */
void sx_store_set_msg_backend(sx_store *s, const sx_msg_backend *b);

/* Compact keys from and to sx_key objects. */
SX_MUST_CHECK sx_status sx_qkey_from_key(const sx_key *k, sx_qkey *out);
SX_MUST_CHECK sx_status sx_qkey_to_key(const sx_qkey *qk, sx_key **out);
bool sx_qkey_equal(const sx_qkey *a, const sx_qkey *b);

#endif
