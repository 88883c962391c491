/* The agent's durable store (docs/AGENT-STORE.md): one SQLite file per agent,
 * opened in WAL mode with a busy timeout so that several processes (a
 * `listen` and a `send`) can use it at once. The schema is applied by
 * numbered migrations (store_schema.c). Every function maps SQLite's
 * failures to an sx_status and sets the error detail (core/error.h); SQL
 * takes its inputs only as bound parameters.
 *
 * Ordering rules ("rule N" below and in store*.c is rule N of
 * docs/AGENT-STORE.md, quoted titles its sections): keys are committed before the
 * command that sends them (commit, then send); a ratchet advance and the
 * message row it belongs to are written in one transaction
 * (sx_agent_store_snd_msg_create, sx_agent_store_rcv_msg_record); async
 * commands are persisted first and resumed at start
 * (sx_agent_store_cmd_*). A store handle is used by one thread at a time. */
#ifndef SX_AGENT_STORE_H
#define SX_AGENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "crypto/ratchet.h"
#include "crypto/x3dh.h"
#include "simplex/status.h"

/* The schema version this code writes; a file with a higher one is refused. */
#define SX_AGENT_STORE_SCHEMA 9

#define SX_AGENT_ID_LEN 12   /* connection, confirmation and invitation ids */
#define SX_AGENT_QID_MAX 32  /* SMP entity ids (24 bytes in practice) */
#define SX_AGENT_KEY_MAX 128 /* an encoded private or public key */
#define SX_AGENT_HASH_LEN 32 /* SHA-256 */

/* An asynchronous call's correlation id, in bytes. */
#define SX_AGENT_STORE_CORR_MAX 64

typedef struct sx_agent_store sx_agent_store;

/* Random ids made by the store (12 bytes, as the reference's). */
typedef struct sx_agent_id {
    uint8_t b[SX_AGENT_ID_LEN];
} sx_agent_id;

/* A byte string owned by whoever received it (free with sx_agent_blob_free). */
typedef struct sx_agent_blob {
    uint8_t *ptr;
    size_t len;
} sx_agent_blob;
void sx_agent_blob_free(sx_agent_blob *b);

/* ---- opening, migrations, transactions ---------------------------------- */

/* Opens (creating when missing) the store at path and brings its schema up
 * to target (0: SX_AGENT_STORE_SCHEMA; tests use lower values). Each
 * migration runs in one transaction. Errors: SX_E_PROTOCOL (not a
 * database, or its schema is newer than this code: the detail says which),
 * SX_E_IO, SX_E_WOULD_BLOCK (locked past the busy timeout), SX_E_NOMEM,
 * SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_agent_store_open(const char *path, int target, sx_agent_store **out);
/* Accepts NULL. Rolls back an open transaction. */
void sx_agent_store_close(sx_agent_store *s);
/* The schema version of the open file. */
SX_MUST_CHECK sx_status sx_agent_store_schema(sx_agent_store *s, int *version);
/* Milliseconds a statement waits for another process's lock (default 10 s). */
void sx_agent_store_set_busy_timeout(sx_agent_store *s, int ms);

/* An explicit transaction: BEGIN IMMEDIATE takes the write lock at once (a
 * busy store makes it wait, then SX_E_WOULD_BLOCK). The store's functions
 * called inside it join it; called outside, each runs in its own. */
SX_MUST_CHECK sx_status sx_agent_store_begin(sx_agent_store *s);
SX_MUST_CHECK sx_status sx_agent_store_commit(sx_agent_store *s);
/* Undoes everything since begin; harmless without a transaction. */
void sx_agent_store_rollback(sx_agent_store *s);
bool sx_agent_store_in_tx(const sx_agent_store *s);

/* ---- settings, users, servers ------------------------------------------- */

SX_MUST_CHECK sx_status sx_agent_store_setting_set(sx_agent_store *s, const char *key,
                                                   sx_slice value);
/* *found false (and value empty) when key is not set. */
SX_MUST_CHECK sx_status sx_agent_store_setting_get(sx_agent_store *s, const char *key,
                                                   sx_agent_blob *value, bool *found);

SX_MUST_CHECK sx_status sx_agent_store_user_create(sx_agent_store *s, int64_t *user_id);
/* Deletes the user and (cascade) its connections. SX_E_USAGE: no such user. */
SX_MUST_CHECK sx_status sx_agent_store_user_delete(sx_agent_store *s, int64_t user_id);

/* The row of an SMP router (host list as text, port, key hash), created or
 * updated to key_hash. */
SX_MUST_CHECK sx_status sx_agent_store_server_get_or_create(sx_agent_store *s, const char *host,
                                                            const char *port, sx_slice key_hash,
                                                            int64_t *server_id);
/* The row of server_id: host list text and port (NUL-terminated, cut to
 * their caps) and the key hash (*key_hash_len bytes, at most 64).
 * SX_E_USAGE: no such server. */
SX_MUST_CHECK sx_status sx_agent_store_server_get(sx_agent_store *s, int64_t server_id, char *host,
                                                  size_t host_cap, char *port, size_t port_cap,
                                                  uint8_t key_hash[64], size_t *key_hash_len);

/* ---- connections --------------------------------------------------------- */

typedef enum sx_agent_conn_mode {
    SX_AGENT_MODE_INVITATION = 1, /* one-time link */
    SX_AGENT_MODE_CONTACT = 2,    /* contact address */
} sx_agent_conn_mode;

/* Where a connection is in its life (chosen by the agent core). */
typedef enum sx_agent_conn_state {
    SX_AGENT_CONN_NEW = 0,     /* record only, before any network call (rule 2) */
    SX_AGENT_CONN_RCV = 1,     /* our receive queue exists */
    SX_AGENT_CONN_SND = 2,     /* joined: our send queue exists */
    SX_AGENT_CONN_DUPLEX = 3,  /* both queues: messages flow */
    SX_AGENT_CONN_CONTACT = 4, /* a contact address taking requests */
    SX_AGENT_CONN_DELETED = 5, /* deleted, waiting for deliveries (rule 9) */
} sx_agent_conn_state;

/* Ratchet re-synchronisation ("The ratchet"). */
typedef enum sx_agent_rsync {
    SX_AGENT_RSYNC_OK = 0,
    SX_AGENT_RSYNC_ALLOWED = 1,
    SX_AGENT_RSYNC_REQUIRED = 2,
    SX_AGENT_RSYNC_STARTED = 3,
    SX_AGENT_RSYNC_AGREED = 4,
} sx_agent_rsync;

typedef struct sx_agent_conn {
    sx_agent_id id;
    int64_t user_id;
    sx_agent_conn_mode mode;
    sx_agent_conn_state state;
    uint16_t agent_version;
    bool pq_support;
    bool duplex_handshake;
    bool enable_ntfs;
    sx_agent_rsync rsync;
    /* Message counters and chain hashes ("Messages"): changed only by the
     * message functions. A hash length is 0 before the first message. */
    int64_t last_internal_msg_id;
    int64_t last_internal_rcv_msg_id;
    int64_t last_internal_snd_msg_id;
    int64_t last_external_snd_msg_id;
    uint8_t last_rcv_hash[SX_AGENT_HASH_LEN];
    size_t last_rcv_hash_len;
    uint8_t last_snd_hash[SX_AGENT_HASH_LEN];
    size_t last_snd_hash_len;
} sx_agent_conn;

/* Creates a connection from c (its id and counters are ignored) with a new
 * random id. SX_E_USAGE: no such user, or a field out of range. */
SX_MUST_CHECK sx_status sx_agent_store_conn_create(sx_agent_store *s, const sx_agent_conn *c,
                                                   sx_agent_id *id);
/* SX_E_USAGE when there is no such connection (also for the others). */
SX_MUST_CHECK sx_status sx_agent_store_conn_get(sx_agent_store *s, const sx_agent_id *id,
                                                sx_agent_conn *out);
/* Writes state, agent_version, pq_support, duplex_handshake, enable_ntfs
 * and rsync of c to its row (not the counters). */
SX_MUST_CHECK sx_status sx_agent_store_conn_update(sx_agent_store *s, const sx_agent_conn *c);
SX_MUST_CHECK sx_status sx_agent_store_conn_set_state(sx_agent_store *s, const sx_agent_id *id,
                                                      sx_agent_conn_state state);
/* Raises the connection's agent_version to version when it is lower
 * (*raised then true); never lowers it. */
SX_MUST_CHECK sx_status sx_agent_store_conn_raise_version(sx_agent_store *s, const sx_agent_id *id,
                                                          uint16_t version, bool *raised);
/* Deletes the connection and everything that hangs off it (queues,
 * ratchet, skipped keys, messages, deliveries, confirmations, commands). */
SX_MUST_CHECK sx_status sx_agent_store_conn_delete(sx_agent_store *s, const sx_agent_id *id);
/* All connections of a user (user_id 0: of every user), oldest first, in a
 * malloc'd array (*out NULL when none). */
SX_MUST_CHECK sx_status sx_agent_store_conn_list(sx_agent_store *s, int64_t user_id,
                                                 sx_agent_conn **out, size_t *n);

/* ---- queues -------------------------------------------------------------- */

typedef enum sx_agent_queue_status {
    SX_AGENT_Q_NEW = 0,       /* created on the router */
    SX_AGENT_Q_CONFIRMED = 1, /* the sender's key arrived (or was sent) */
    SX_AGENT_Q_SECURED = 2,   /* KEY / SKEY done */
    SX_AGENT_Q_ACTIVE = 3,    /* in use */
    SX_AGENT_Q_DISABLED = 4,  /* no longer used */
} sx_agent_queue_status;

/* Queue rotation: where a switch stands, kept on the queue being replaced
 * (the reference's RcvSwitchStatus / SndSwitchStatus); the next queue
 * names that one in replace_queue_id. 0: none runs. */
typedef enum sx_agent_rcv_switch {
    SX_AGENT_RSW_NONE = 0,
    SX_AGENT_RSW_STARTED = 1,      /* the new queue is being made */
    SX_AGENT_RSW_SENDING_QADD = 2, /* QADD sent over the old send queues */
    SX_AGENT_RSW_SENDING_QUSE = 3, /* the sender's key is set (KEY); QUSE sent */
    SX_AGENT_RSW_RECEIVED_MSG = 4, /* a message came on the new queue */
} sx_agent_rcv_switch;

typedef enum sx_agent_snd_switch {
    SX_AGENT_SSW_NONE = 0,
    SX_AGENT_SSW_SENDING_QKEY = 1,  /* QKEY sent over the old queue */
    SX_AGENT_SSW_SENDING_QTEST = 2, /* QUSE came; QTEST sent on the new queue */
} sx_agent_snd_switch;

typedef struct sx_agent_rcv_queue {
    int64_t queue_id; /* kept across retries (rule 8); set by create */
    sx_agent_id conn_id;
    int64_t server_id;
    uint8_t rcv_id[SX_AGENT_QID_MAX];
    size_t rcv_id_len;
    uint8_t snd_id[SX_AGENT_QID_MAX];
    size_t snd_id_len;
    uint8_t rcv_priv_key[SX_AGENT_KEY_MAX]; /* encoded recipient auth key */
    size_t rcv_priv_key_len;
    uint8_t rcv_dh_secret[32]; /* with the router: message bodies */
    uint8_t e2e_priv_key[32];  /* X25519, per-queue end-to-end */
    bool has_e2e_dh_secret;    /* once the sender's key is known */
    uint8_t e2e_dh_secret[32];
    sx_agent_queue_status status;
    uint16_t smp_client_version;
    bool primary;
    int64_t replace_queue_id; /* 0: none; else the queue this one replaces */
    uint8_t queue_mode;       /* 0, 'M' or 'C' */
    sx_agent_rcv_switch switch_status;
} sx_agent_rcv_queue;

typedef struct sx_agent_snd_queue {
    int64_t queue_id;
    sx_agent_id conn_id;
    int64_t server_id;
    uint8_t snd_id[SX_AGENT_QID_MAX];
    size_t snd_id_len;
    uint8_t snd_priv_key[SX_AGENT_KEY_MAX]; /* encoded sender auth key */
    size_t snd_priv_key_len;
    uint8_t e2e_pub_key[32]; /* ours, X25519, sent in the confirmation */
    uint8_t e2e_dh_secret[32];
    sx_agent_queue_status status;
    uint16_t smp_client_version;
    bool primary;
    int64_t replace_queue_id;
    uint8_t queue_mode;
    sx_agent_snd_switch switch_status;
} sx_agent_snd_queue;

/* Inserts q (q->queue_id ignored) and sets *queue_id. SX_E_USAGE: a length
 * over its maximum, no such connection or server, or the same router and
 * queue id stored already. */
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_create(sx_agent_store *s,
                                                        const sx_agent_rcv_queue *q,
                                                        int64_t *queue_id);
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_get(sx_agent_store *s, int64_t queue_id,
                                                     sx_agent_rcv_queue *out);
/* The receive queue a router's message arrived on. */
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_find(sx_agent_store *s, int64_t server_id,
                                                      sx_slice rcv_id, sx_agent_rcv_queue *out);
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_set_status(sx_agent_store *s, int64_t queue_id,
                                                            sx_agent_queue_status st);
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_set_e2e(sx_agent_store *s, int64_t queue_id,
                                                         const uint8_t secret[32]);
/* The receive queues of a connection, primary first (malloc'd array). */
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_list(sx_agent_store *s, const sx_agent_id *conn,
                                                      sx_agent_rcv_queue **out, size_t *n);

/* As above for send queues. create refuses (SX_E_USAGE) to overwrite a send
 * queue of the same router and id that is already past NEW (rule 8). */
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_create(sx_agent_store *s,
                                                        const sx_agent_snd_queue *q,
                                                        int64_t *queue_id);
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_get(sx_agent_store *s, int64_t queue_id,
                                                     sx_agent_snd_queue *out);
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_set_status(sx_agent_store *s, int64_t queue_id,
                                                            sx_agent_queue_status st);
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_list(sx_agent_store *s, const sx_agent_id *conn,
                                                      sx_agent_snd_queue **out, size_t *n);

/* ---- queue rotation (store_switch.c) ------------------------------------- */

/* Sets (or clears, with NONE) a queue's switch status. SX_E_USAGE: no such
 * queue, a status out of range. */
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_set_switch(sx_agent_store *s, int64_t queue_id,
                                                            sx_agent_rcv_switch sw);
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_set_switch(sx_agent_store *s, int64_t queue_id,
                                                            sx_agent_snd_switch sw);
/* Makes queue_id the connection's only primary queue, in one transaction:
 * the others lose the flag; this one's replace_queue_id and switch status
 * are cleared. */
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_set_primary(sx_agent_store *s, int64_t queue_id);
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_set_primary(sx_agent_store *s, int64_t queue_id);
/* Deletes a queue row (a send queue's pending deliveries go with it); the
 * queues that pointed at it as the one they replace no longer do. The
 * received messages keep their rows. SX_E_USAGE: no such queue. */
SX_MUST_CHECK sx_status sx_agent_store_rcv_queue_delete(sx_agent_store *s, int64_t queue_id);
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_delete(sx_agent_store *s, int64_t queue_id);

/* ---- ratchets ------------------------------------------------------------ */

/* Our X3DH private keys, kept until the ratchet exists (the initiator's
 * side). Replaces earlier ones. */
SX_MUST_CHECK sx_status sx_agent_store_x3dh_save(sx_agent_store *s, const sx_agent_id *conn,
                                                 uint16_t e2e_version,
                                                 const sx_e2e_private *priv);
/* SX_E_USAGE when none stored; SX_E_PROTOCOL when the stored bytes do not
 * decode. Wipe *priv after use. */
SX_MUST_CHECK sx_status sx_agent_store_x3dh_get(sx_agent_store *s, const sx_agent_id *conn,
                                                uint16_t *e2e_version, sx_e2e_private *priv);
/* The X3DH keys of a ratchet re-synchronisation we started, kept beside
 * the ratchet in use (which needs to exist) until the new one replaces it:
 * message steps (sx_agent_store_ratchet_save) keep them. get: SX_E_USAGE
 * when none, SX_E_PROTOCOL when they do not decode. */
SX_MUST_CHECK sx_status sx_agent_store_sync_keys_save(sx_agent_store *s, const sx_agent_id *conn,
                                                      uint16_t e2e_version,
                                                      const sx_e2e_private *priv);
SX_MUST_CHECK sx_status sx_agent_store_sync_keys_get(sx_agent_store *s, const sx_agent_id *conn,
                                                     uint16_t *e2e_version, sx_e2e_private *priv);
SX_MUST_CHECK sx_status sx_agent_store_sync_keys_clear(sx_agent_store *s, const sx_agent_id *conn);
/* Stores the ratchet state (without the skipped keys) and replaces the
 * connection's skipped keys with r's; forgets the X3DH keys. */
SX_MUST_CHECK sx_status sx_agent_store_ratchet_save(sx_agent_store *s, const sx_agent_id *conn,
                                                    const sx_ratchet *r);
/* Reads the state back as untrusted bytes: SX_E_PROTOCOL when the state or
 * a skipped key row does not decode, SX_E_USAGE when there is none yet.
 * Release *r with sx_ratchet_cleanup (also after a failure). */
SX_MUST_CHECK sx_status sx_agent_store_ratchet_get(sx_agent_store *s, const sx_agent_id *conn,
                                                   sx_ratchet *r);

/* Ratchet re-synchronisation: records the hash of a ratchet key message
 * received; *seen tells whether it was recorded already (then nothing
 * changes). */
SX_MUST_CHECK sx_status sx_agent_store_rkey_hash_add(sx_agent_store *s, const sx_agent_id *conn,
                                                     const uint8_t hash[SX_AGENT_HASH_LEN],
                                                     bool *seen);

/* ---- messages ------------------------------------------------------------ */

/* What the sender reserves for its next message: the internal ids and
 * the hash of the previous message sent (empty before the first). */
typedef struct sx_agent_snd_ids {
    int64_t internal_id;
    int64_t internal_snd_id;
    uint8_t prev_hash[SX_AGENT_HASH_LEN];
    size_t prev_hash_len;
} sx_agent_snd_ids;

/* A message to send, as the caller built it under the reserved ids. */
typedef struct sx_agent_snd_msg {
    uint8_t msg_type;  /* the agent message's tag */
    bool notification; /* MsgFlags */
    bool pq_encryption;
    sx_slice body;                            /* the encoded agent message (borrowed) */
    uint8_t internal_hash[SX_AGENT_HASH_LEN]; /* sha256 of body */
    sx_ratchet_msg_key mek;                   /* from sx_ratchet_encrypt_header */
    uint32_t padded_len;
} sx_agent_snd_msg;

/* Called inside the transaction with the reserved ids and the connection's
 * ratchet as stored: encode the message, advance r (encrypt its header) and
 * fill msg. A failure rolls everything back. */
typedef sx_status (*sx_agent_store_snd_cb)(void *ctx, const sx_agent_snd_ids *ids, sx_ratchet *r,
                                           sx_agent_snd_msg *msg);

/* In one transaction (rule 3): reserve the ids, load the ratchet, run cb,
 * store the advanced ratchet, the message and one delivery per queue id.
 * *ids (may be NULL) gets the ids used. */
SX_MUST_CHECK sx_status sx_agent_store_snd_msg_create(sx_agent_store *s, const sx_agent_id *conn,
                                                      const int64_t *snd_queue_ids, size_t n_queues,
                                                      sx_agent_store_snd_cb cb, void *ctx,
                                                      sx_agent_snd_ids *ids);
/* The two halves, for callers holding an explicit transaction. */
SX_MUST_CHECK sx_status sx_agent_store_snd_ids_next(sx_agent_store *s, const sx_agent_id *conn,
                                                    sx_agent_snd_ids *ids);
SX_MUST_CHECK sx_status sx_agent_store_snd_msg_insert(sx_agent_store *s, const sx_agent_id *conn,
                                                      const sx_agent_snd_ids *ids,
                                                      const sx_agent_snd_msg *msg,
                                                      const sx_ratchet *r,
                                                      const int64_t *snd_queue_ids,
                                                      size_t n_queues);

/* A pending delivery with what the worker needs to re-encrypt the message
 * without touching the ratchet (rule 3). body is owned. */
typedef struct sx_agent_delivery {
    sx_agent_id conn_id;
    int64_t snd_queue_id;
    int64_t internal_id;
    int64_t internal_snd_id;
    uint8_t msg_type;
    bool notification;
    bool pq_encryption;
    sx_agent_blob body;
    sx_ratchet_msg_key mek;
    uint32_t padded_len;
    int64_t created_at; /* when the message was stored (Unix seconds) */
    /* The retry intervals stored at its last network failure, in ms (0:
     * none): the back-off a restart goes on with. */
    uint32_t retry_slow_ms, retry_fast_ms;
} sx_agent_delivery;
/* Wipes the key and frees the body. */
void sx_agent_delivery_cleanup(sx_agent_delivery *d);

/* The oldest pending delivery of a send queue; *found false when none. */
SX_MUST_CHECK sx_status sx_agent_store_delivery_next(sx_agent_store *s, int64_t snd_queue_id,
                                                     sx_agent_delivery *d, bool *found);
/* The delivery is done (OK, or a permanent error reported): its row goes;
 * once no delivery is left the message goes too, unless keep (an A_MSG
 * waiting for its receipt: its body and key are cleared instead; one whose
 * ok receipt came already goes). */
SX_MUST_CHECK sx_status sx_agent_store_delivery_done(sx_agent_store *s, const sx_agent_id *conn,
                                                     int64_t snd_queue_id, int64_t internal_id,
                                                     bool keep);
/* Stores the back-off intervals (ms) of a message whose delivery failed
 * on the network, for the next process (the reference's
 * updatePendingMsgRIState). */
SX_MUST_CHECK sx_status sx_agent_store_delivery_retry_set(sx_agent_store *s,
                                                          const sx_agent_id *conn,
                                                          int64_t internal_id, uint32_t slow_ms,
                                                          uint32_t fast_ms);
/* The messages with a delivery pending on a send queue stored before
 * before_ts (Unix seconds), oldest first, in a malloc'd array (*ids NULL
 * when none): the expired ones. */
SX_MUST_CHECK sx_status sx_agent_store_delivery_expired(sx_agent_store *s, int64_t snd_queue_id,
                                                        int64_t before_ts, int64_t **ids,
                                                        size_t *n);
/* Pending deliveries of a connection (rule 9). */
SX_MUST_CHECK sx_status sx_agent_store_delivery_count(sx_agent_store *s, const sx_agent_id *conn,
                                                      size_t *n);

/* What the receiver knew before this message (for the integrity check). */
typedef struct sx_agent_rcv_prev {
    int64_t last_external_snd_id;
    uint8_t last_rcv_hash[SX_AGENT_HASH_LEN];
    size_t last_rcv_hash_len;
} sx_agent_rcv_prev;

typedef struct sx_agent_rcv_msg {
    int64_t rcv_queue_id;
    uint8_t broker_id[SX_AGENT_QID_MAX];
    size_t broker_id_len;
    int64_t broker_ts;
    int64_t external_snd_id;
    uint8_t msg_type;
    bool notification;
    bool pq_encryption;
    sx_slice body;                            /* the decrypted agent message (borrowed) */
    uint8_t internal_hash[SX_AGENT_HASH_LEN]; /* sha256 of body */
    uint8_t prev_hash[SX_AGENT_HASH_LEN];     /* the sender's prevMsgHash */
    size_t prev_hash_len;
    uint8_t encrypted_hash[SX_AGENT_HASH_LEN]; /* sha256 of the encrypted message */
    sx_slice integrity;                        /* the encoded integrity result (borrowed) */
} sx_agent_rcv_msg;

/* Called inside the transaction with the ratchet as stored: decrypt into
 * msg (advancing r). A failure rolls back: nothing is stored. */
typedef sx_status (*sx_agent_store_rcv_cb)(void *ctx, const sx_agent_rcv_prev *prev, sx_ratchet *r,
                                           sx_agent_rcv_msg *msg);

/* In one transaction (rule 4): load the ratchet, run cb, store the message,
 * the new counters and hash, the encrypted hash and the advanced ratchet.
 * *internal_id gets the message's id. */
SX_MUST_CHECK sx_status sx_agent_store_rcv_msg_record(sx_agent_store *s, const sx_agent_id *conn,
                                                      sx_agent_store_rcv_cb cb, void *ctx,
                                                      int64_t *internal_id);
SX_MUST_CHECK sx_status sx_agent_store_rcv_prev(sx_agent_store *s, const sx_agent_id *conn,
                                                sx_agent_rcv_prev *prev);
/* What a confirmation leaves for the integrity check (it counts as the
 * sender's message 1 but takes no message row): sets the last external id
 * and hash of the connection. */
SX_MUST_CHECK sx_status sx_agent_store_rcv_prev_set(sx_agent_store *s, const sx_agent_id *conn,
                                                    int64_t external_snd_id,
                                                    const uint8_t hash[SX_AGENT_HASH_LEN]);
SX_MUST_CHECK sx_status sx_agent_store_rcv_msg_insert(sx_agent_store *s, const sx_agent_id *conn,
                                                      const sx_agent_rcv_msg *msg,
                                                      const sx_ratchet *r, int64_t *internal_id);

/* A stored received message, found by the router's message id ("Duplicates"). */
typedef struct sx_agent_rcv_stored {
    int64_t internal_id;
    int64_t external_snd_id;
    uint8_t msg_type;
    bool user_ack;
    sx_agent_blob body;
} sx_agent_rcv_stored;
SX_MUST_CHECK sx_status sx_agent_store_rcv_msg_find(sx_agent_store *s, const sx_agent_id *conn,
                                                    sx_slice broker_id, sx_agent_rcv_stored *out,
                                                    bool *found);
/* The user acknowledged the message: set before the router's ACK (rule 4). */
SX_MUST_CHECK sx_status sx_agent_store_rcv_msg_ack(sx_agent_store *s, const sx_agent_id *conn,
                                                   int64_t internal_id);
/* Whether an encrypted message with this hash was received ("Duplicates"). */
SX_MUST_CHECK sx_status sx_agent_store_rcv_hash_seen(sx_agent_store *s, const sx_agent_id *conn,
                                                     const uint8_t hash[SX_AGENT_HASH_LEN],
                                                     bool *seen);
/* Deletes a message of either direction. */
SX_MUST_CHECK sx_status sx_agent_store_msg_delete(sx_agent_store *s, const sx_agent_id *conn,
                                                  int64_t internal_id);

/* ---- receipts ------------------------------------------------------------ */

/* The outcome of a delivery receipt, in snd_messages.rcpt_status. */
typedef enum sx_agent_rcpt_status {
    SX_AGENT_RCPT_NONE = 0,     /* no receipt yet */
    SX_AGENT_RCPT_OK = 1,       /* the peer's hash of the message matched */
    SX_AGENT_RCPT_BAD_HASH = 2, /* it did not */
} sx_agent_rcpt_status;

/* A received message by its id, for a receipt of it. body owned. */
typedef struct sx_agent_rcv_info {
    int64_t external_snd_id;
    uint8_t internal_hash[SX_AGENT_HASH_LEN];
    bool user_ack;
    sx_agent_blob body; /* the decrypted agent message */
} sx_agent_rcv_info;
SX_MUST_CHECK sx_status sx_agent_store_rcv_msg_get(sx_agent_store *s, const sx_agent_id *conn,
                                                   int64_t internal_id, sx_agent_rcv_info *out);

/* A sent message a receipt names (by the sender's id of it). body owned:
 * the agent message while it waits for delivery, empty once delivered and
 * kept for its receipt. */
typedef struct sx_agent_snd_rcpt {
    int64_t internal_id;
    uint8_t internal_hash[SX_AGENT_HASH_LEN];
    int64_t rcpt_internal_id;
    sx_agent_rcpt_status status;
    sx_agent_blob body;
} sx_agent_snd_rcpt;
SX_MUST_CHECK sx_status sx_agent_store_snd_msg_for_rcpt(sx_agent_store *s, const sx_agent_id *conn,
                                                        int64_t internal_snd_id,
                                                        sx_agent_snd_rcpt *out, bool *found);
/* Records the receipt (the received A_RCVD message's id and the outcome). */
SX_MUST_CHECK sx_status sx_agent_store_snd_msg_rcpt_set(sx_agent_store *s, const sx_agent_id *conn,
                                                        int64_t internal_snd_id,
                                                        int64_t rcpt_internal_id,
                                                        sx_agent_rcpt_status status);
/* The application acknowledged the receipt message rcpt_internal_id: the
 * sent messages it confirmed (status ok, no delivery left) go; *deleted
 * (may be NULL) how many. */
SX_MUST_CHECK sx_status sx_agent_store_rcpt_acked(sx_agent_store *s, const sx_agent_id *conn,
                                                  int64_t rcpt_internal_id, size_t *deleted);
/* Whether a message of either direction is stored. */
SX_MUST_CHECK sx_status sx_agent_store_msg_exists(sx_agent_store *s, const sx_agent_id *conn,
                                                  int64_t internal_id, bool *exists);

/* ---- confirmations and invitations --------------------------------------- */

typedef struct sx_agent_confirmation {
    sx_agent_id id;
    sx_agent_id conn_id;
    uint8_t e2e_snd_pub_key[32];
    sx_slice sender_key;    /* may be empty */
    sx_slice ratchet_state; /* the peer's E2E params or a ratchet, as the core keeps it */
    sx_slice sender_conn_info;
    sx_slice reply_queues; /* may be empty */
    uint16_t smp_client_version;
} sx_agent_confirmation;

/* A confirmation received, waiting for allowConnection: slices borrowed on
 * create; on get they point into *storage (free it). */
SX_MUST_CHECK sx_status sx_agent_store_confirmation_create(sx_agent_store *s,
                                                           const sx_agent_confirmation *c,
                                                           sx_agent_id *id);
SX_MUST_CHECK sx_status sx_agent_store_confirmation_get(sx_agent_store *s, const sx_agent_id *id,
                                                        sx_agent_confirmation *out,
                                                        bool *accepted, sx_agent_blob *storage);
/* allowConnection: accepted with our own info. */
SX_MUST_CHECK sx_status sx_agent_store_confirmation_accept(sx_agent_store *s,
                                                           const sx_agent_id *id,
                                                           sx_slice own_conn_info);

/* A contact request received on an address (REQ). */
SX_MUST_CHECK sx_status sx_agent_store_invitation_create(sx_agent_store *s,
                                                         const sx_agent_id *contact_conn,
                                                         sx_slice invitation, sx_slice conn_info,
                                                         sx_agent_id *id);
/* Whether address contact_conn holds a request with this invitation
 * already (the same request sent again: the requester's command resent
 * it after a crash). */
SX_MUST_CHECK sx_status sx_agent_store_invitation_find(sx_agent_store *s,
                                                       const sx_agent_id *contact_conn,
                                                       sx_slice invitation, bool *found);
/* invitation and conn_info point into *storage. */
SX_MUST_CHECK sx_status sx_agent_store_invitation_get(sx_agent_store *s, const sx_agent_id *id,
                                                      sx_slice *invitation, sx_slice *conn_info,
                                                      bool *accepted, sx_agent_blob *storage);
SX_MUST_CHECK sx_status sx_agent_store_invitation_accept(sx_agent_store *s, const sx_agent_id *id,
                                                         sx_slice own_conn_info);
SX_MUST_CHECK sx_status sx_agent_store_invitation_delete(sx_agent_store *s, const sx_agent_id *id);

/* ---- commands ------------------------------------------------------------ */

/* A persisted asynchronous command (rule 5): written before it runs, taken by
 * a worker, deleted when complete; taken ones return to pending at start. */
typedef struct sx_agent_command {
    int64_t command_id;
    sx_agent_id conn_id;
    int64_t server_id; /* 0: none */
    char tag[16];      /* the command's name, e.g. "ACK" */
    sx_agent_blob body;
    uint32_t retry_ms; /* the back-off stored by an earlier attempt (0: none) */
    /* an asynchronous call's correlation id ("": none) */
    char corr_id[SX_AGENT_STORE_CORR_MAX + 1];
} sx_agent_command;
void sx_agent_command_cleanup(sx_agent_command *c);

/* Persists a command. A command for a connection that does not exist (or
 * is deleted) is dropped: SX_OK with *command_id 0. */
SX_MUST_CHECK sx_status sx_agent_store_cmd_enqueue(sx_agent_store *s, const sx_agent_id *conn,
                                                   int64_t server_id, const char *tag,
                                                   sx_slice body, int64_t *command_id);
/* Takes the oldest pending command of (conn, server) (conn NULL: of any
 * connection) and marks it taken; *found false when none. */
SX_MUST_CHECK sx_status sx_agent_store_cmd_take(sx_agent_store *s, const sx_agent_id *conn,
                                                int64_t server_id, sx_agent_command *c,
                                                bool *found);
SX_MUST_CHECK sx_status sx_agent_store_cmd_complete(sx_agent_store *s, int64_t command_id);
/* At start: every taken command becomes pending again; *n how many. */
SX_MUST_CHECK sx_status sx_agent_store_cmd_resume(sx_agent_store *s, size_t *n);
SX_MUST_CHECK sx_status sx_agent_store_cmd_count(sx_agent_store *s, size_t *pending,
                                                 size_t *taken);
/* Marks one command taken (held by this process: another process's open
 * does not resume it) or pending again (store_cmd.c). */
SX_MUST_CHECK sx_status sx_agent_store_cmd_set_taken(sx_agent_store *s, int64_t command_id,
                                                     bool taken);
/* Stores a command's retry interval (ms), read back by the next take. */
/* Sets the correlation id of an asynchronous call's command. */
SX_MUST_CHECK sx_status sx_agent_store_cmd_corr_set(sx_agent_store *s, int64_t command_id,
                                                    const char *corr_id);
SX_MUST_CHECK sx_status sx_agent_store_cmd_retry_set(sx_agent_store *s, int64_t command_id,
                                                     uint32_t retry_ms);

/* ---- cleanup (store_cleanup.c) ----------------------------------------- */

/* What one cleanup pass deleted. */
typedef struct sx_agent_cleanup_counts {
    size_t snd_msgs, rcv_hashes, ratchet_key_hashes;
} sx_agent_cleanup_counts;
/* Deletes, at most limit rows of each kind, the oldest first: sent
 * messages (their rows, deliveries and receipt records) stored before
 * cutoff (seconds, the store's clock), and the hashes of received messages
 * and of the peer's ratchet keys recorded before it. */
SX_MUST_CHECK sx_status sx_agent_store_cleanup(sx_agent_store *s, int64_t cutoff, size_t limit,
                                               sx_agent_cleanup_counts *out);
/* Parks a command that failed for good (taken = 2): neither resumed nor
 * taken, kept for the application's retry (a repeated join of the same
 * link reuses its keys). */
SX_MUST_CHECK sx_status sx_agent_store_cmd_park(sx_agent_store *s, int64_t command_id);
/* The oldest command of conn with tag, whatever its state (*taken: 0
 * pending, 1 held, 2 parked); *found false when none. */
SX_MUST_CHECK sx_status sx_agent_store_cmd_find(sx_agent_store *s, const sx_agent_id *conn,
                                                const char *tag, sx_agent_command *c, int *taken,
                                                bool *found);
/* Replaces a command's body. */
SX_MUST_CHECK sx_status sx_agent_store_cmd_body_set(sx_agent_store *s, int64_t command_id,
                                                    sx_slice body);
/* Calls fn for each command with tag (any state), oldest first, with its
 * connection and body (valid during the call) until fn returns true. */
SX_MUST_CHECK sx_status sx_agent_store_cmd_each(sx_agent_store *s, const char *tag,
                                                bool (*fn)(void *ctx, const sx_agent_id *conn,
                                                           sx_slice body),
                                                void *ctx);
/* The connection of our send queue to (server_id, snd_id); *found false
 * when there is none. */
SX_MUST_CHECK sx_status sx_agent_store_snd_queue_conn(sx_agent_store *s, int64_t server_id,
                                                      const uint8_t *snd_id, size_t snd_id_len,
                                                      sx_agent_id *conn, bool *found);

/* ---- deleting after delivery (store_delwait.c) ------------------------- */

/* Marks the connection deleted (state deleted) at `at` (Unix seconds): no
 * more commands are stored for it; its deliveries stay. */
SX_MUST_CHECK sx_status sx_agent_store_conn_set_deleted(sx_agent_store *s, const sx_agent_id *id,
                                                        int64_t at);
/* The connections marked deleted and when (*ids, *ats malloc'd, n each). */
SX_MUST_CHECK sx_status sx_agent_store_conn_deleted_list(sx_agent_store *s, sx_agent_id **ids,
                                                         int64_t **ats, size_t *n);
/* How many deliveries the connection still has. */
SX_MUST_CHECK sx_status sx_agent_store_conn_deliveries(sx_agent_store *s, const sx_agent_id *id,
                                                       size_t *n);

/* ---- short links (store_shortlink.c) ----------------------------------- */

/* A short link of one of our connections: mode 'I' or 'C', the link id
 * and key, the root private key (DER) and the encrypted fixed data. */
typedef struct sx_agent_short_link_row {
    uint8_t mode;
    uint8_t link_id[24];
    uint8_t link_key[32];
    sx_agent_blob root_priv;
    sx_agent_blob enc_fixed;
} sx_agent_short_link_row;
void sx_agent_short_link_row_free(sx_agent_short_link_row *r);
/* Inserts or replaces the link of conn. */
SX_MUST_CHECK sx_status sx_agent_store_short_link_set(sx_agent_store *s, const sx_agent_id *conn,
                                                      const sx_agent_short_link_row *r);
/* *found false when conn has none. */
SX_MUST_CHECK sx_status sx_agent_store_short_link_get(sx_agent_store *s, const sx_agent_id *conn,
                                                      sx_agent_short_link_row *out, bool *found);
SX_MUST_CHECK sx_status sx_agent_store_short_link_delete(sx_agent_store *s, const sx_agent_id *conn);
/* The sender key (encoded as snd_queues.snd_priv_key) of an invitation's
 * short link being joined, by router and link id: set keeps an existing
 * one; get sets *found false when there is none. */
SX_MUST_CHECK sx_status sx_agent_store_inv_short_link_set(sx_agent_store *s, int64_t server_id,
                                                          sx_slice link_id, sx_slice key);
SX_MUST_CHECK sx_status sx_agent_store_inv_short_link_get(sx_agent_store *s, int64_t server_id,
                                                          sx_slice link_id, sx_agent_blob *key,
                                                          bool *found);
SX_MUST_CHECK sx_status sx_agent_store_inv_short_link_delete(sx_agent_store *s, int64_t server_id,
                                                             sx_slice link_id);

#endif
