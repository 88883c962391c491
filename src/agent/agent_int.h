/* What the agent core's files share (private to agent*.c): the agent
 * object, its in-memory queue records, the event queue and the helpers
 * between the store's queue rows and the SMP client's queue objects. */
#ifndef SX_AGENT_AGENT_INT_H
#define SX_AGENT_AGENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_msg.h"
#include "agent/connreq.h"
#include "agent/envelope.h"
#include "agent/store.h"
#include "agent/version.h"
#include "simplex/agent.h"
#include "simplex/smp.h"

/* A receiving queue subscribed in the pool. */
typedef struct sx_agent_rq {
    int64_t queue_id;
    sx_agent_id conn;
    sx_smp_queue *q;
    bool has_pending;         /* a message delivered to the app, not acked yet */
    int64_t pending_msg_id;   /* its agent message id */
    sx_smp_pool_note pending; /* its note (without body), for the router's ACK */
    bool gone;                /* left the pool (END, DELETED, deleted) */
} sx_agent_rq;

/* A sending queue with deliveries to make. */
typedef struct sx_agent_sq {
    int64_t queue_id;
    sx_agent_id conn;
    int64_t next_try_ms; /* 0: now */
    unsigned delay_ms;   /* the back-off: 0 until a network error */
    int64_t first_fail_ms;
} sx_agent_sq;

typedef struct sx_agent_evnode {
    struct sx_agent_evnode *next;
    sx_agent_event ev;
} sx_agent_evnode;

struct sx_agent {
    sx_agent_store *store;
    sx_smp_tpool *pool;
    sx_agent_opts opts;
    int64_t user_id;
    pthread_mutex_t mu; /* the store and everything below */
    pthread_t worker;   /* the pool's notes */
    bool worker_started;
    pthread_t sender; /* the deliveries */
    bool sender_started;
    bool stop;
    pthread_cond_t wake; /* the worker: new deliveries */
    sx_agent_rq *rqs;
    size_t n_rqs, cap_rqs;
    sx_agent_sq *sqs;
    size_t n_sqs, cap_sqs;
    /* Events, in order. */
    pthread_mutex_t ev_mu;
    pthread_cond_t ev_cond;
    sx_agent_evnode *ev_head, *ev_tail;
    /* Queue rotation's persisted commands (agent_switch.c): when to try
     * again after a network error (0: now). */
    int64_t cmd_next_ms;
    bool cmd_pending; /* commands may wait (set at open and when one is stored) */
};

int64_t sx_agent_now_ms(void);

/* ---- ids ---- */
void sx_agent_id_text(const sx_agent_id *id, char out[SX_AGENT_CONN_ID_TEXT]);
SX_MUST_CHECK sx_status sx_agent_id_parse(const char *text, sx_agent_id *id);

/* ---- events (agent.c) ---- */
/* Queues an event (body copied). */
void sx_agent_emit(sx_agent *a, sx_agent_event_kind kind, const sx_agent_id *conn, int64_t msg_id,
                   sx_slice body);
/* Queues a fully built event (takes its body). */
void sx_agent_emit_ev(sx_agent *a, sx_agent_event *ev);
void sx_agent_emit_err(sx_agent *a, sx_agent_event_kind kind, const sx_agent_id *conn,
                       int64_t msg_id, sx_status st, const char *what);

/* ---- queues (agent_queue.c) ---- */
/* The router's address text of a store server row ("smp://kh@hosts[:port]"). */
SX_MUST_CHECK sx_status sx_agent_server_text(sx_agent *a, int64_t server_id, char *out, size_t cap);
/* The store's server row for an address. */
SX_MUST_CHECK sx_status sx_agent_server_id(sx_agent *a, const sx_agent_server *srv,
                                           int64_t *server_id);
/* An SMP client queue object from a stored row. */
SX_MUST_CHECK sx_status sx_agent_rq_object(sx_agent *a, const sx_agent_rcv_queue *row,
                                           sx_smp_queue **out);
SX_MUST_CHECK sx_status sx_agent_sq_object(sx_agent *a, const sx_agent_snd_queue *row,
                                           sx_smp_queue **out);
/* Fills the key fields of a row from a queue object. */
SX_MUST_CHECK sx_status sx_agent_rq_fill(const sx_smp_queue *q, sx_agent_rcv_queue *row);
SX_MUST_CHECK sx_status sx_agent_sq_fill(const sx_smp_queue *q, sx_agent_snd_queue *row);
/* Keeps q as a subscribed receiving queue (the record takes q) and
 * subscribes it in the pool. */
SX_MUST_CHECK sx_status sx_agent_rq_add(sx_agent *a, int64_t queue_id, const sx_agent_id *conn,
                                        sx_smp_queue *q);
sx_agent_rq *sx_agent_rq_by_queue(sx_agent *a, const sx_smp_queue *q);
/* Notes that a send queue has deliveries and wakes the worker. */
SX_MUST_CHECK sx_status sx_agent_sq_add(sx_agent *a, int64_t queue_id, const sx_agent_id *conn);
/* A new receiving queue on `server` (NEW), stored for conn with a fresh
 * per-queue e2e key; *qi (may be NULL) gets its address for the peer.
 * replaces: 0, or the queue it is to replace (queue rotation: then it is
 * not primary until the switch completes). */
SX_MUST_CHECK sx_status sx_agent_new_rcv_queue(sx_agent *a, const sx_agent_id *conn,
                                               const char *server, int64_t replaces,
                                               int64_t *queue_id, sx_agent_queue *qaddr);
/* A send queue to the peer's queue qa: our e2e key and the secret, the
 * sender key made and stored before it is used. replaces as above. */
SX_MUST_CHECK sx_status sx_agent_new_snd_queue(sx_agent *a, const sx_agent_id *conn,
                                               const sx_agent_queue *qa, uint16_t smpc_v,
                                               int64_t replaces, int64_t *queue_id,
                                               sx_smp_queue **obj);
/* Our per-queue X25519 key pair from the raw private key: DER public. */
SX_MUST_CHECK sx_status sx_agent_e2e_pub_der(const uint8_t priv[32], uint8_t der[SX_X25519_SPKI_LEN]);
/* A fresh X25519 private key (raw), its DER public key, and the secret
 * with peer_der (may be NULL: no secret). */
SX_MUST_CHECK sx_status sx_agent_e2e_new(uint8_t priv[32], uint8_t der[SX_X25519_SPKI_LEN],
                                         const uint8_t *peer_der, uint8_t secret[32]);
SX_MUST_CHECK sx_status sx_agent_e2e_dh(const uint8_t priv[32],
                                        const uint8_t peer_der[SX_X25519_SPKI_LEN],
                                        uint8_t secret[32]);

/* ---- handshake (agent_handshake.c) ---- */
/* A message on a receiving queue with no e2e secret yet: a confirmation. */
void sx_agent_on_confirmation(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n,
                              const sx_client_env *env);

/* ---- messages (agent_msgflow.c) ---- */
/* A MESSAGE note of one of our queues. */
void sx_agent_on_message(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n);
/* Stores a message of agent message kind `kind` (I / D: connection info,
 * encoded with info and reply queue; M: an AMessage) for every send queue
 * of conn, advancing the ratchet in the same transaction; *internal_id its
 * id. For D, e2e is our ratchet parameters to send with it. */
SX_MUST_CHECK sx_status sx_agent_enqueue(sx_agent *a, const sx_agent_id *conn,
                                         const sx_agent_msg *m, const sx_e2e_params *e2e,
                                         bool notification, int64_t *internal_id);
/* As sx_agent_enqueue for an M message, on the given send queues only. */
SX_MUST_CHECK sx_status sx_agent_enqueue_on(sx_agent *a, const sx_agent_id *conn,
                                            const sx_agent_msg *m, const int64_t *queue_ids,
                                            size_t n, int64_t *internal_id);
/* One delivery attempt of every send queue that is due; returns the
 * milliseconds until the next one is (or -1: none waiting). */
int sx_agent_deliver_due(sx_agent *a);
/* ACKs the router's message of rq after the app (or the agent) is done. */
void sx_agent_ack_router(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n);

/* ---- queue rotation (agent_switch.c) ---- */
/* The stored types of sent rotation messages (each is an M message; these
 * give no SENT). */
#define SX_AGENT_SND_QADD 'a'
#define SX_AGENT_SND_QKEY 'k'
#define SX_AGENT_SND_QUSE 'u'
#define SX_AGENT_SND_QTEST 't'
/* QADD, QKEY or QUSE arrived on rq (QTEST needs nothing). The caller ACKs. */
void sx_agent_switch_on_msg(sx_agent *a, sx_agent_rq *rq, const sx_amessage *m);
/* A message decrypted on rq: the first one on a queue that replaces
 * another completes our side's switch. */
void sx_agent_switch_on_rcv(sx_agent *a, sx_agent_rq *rq);
/* The router took a rotation message (type above) on send queue queue_id. */
void sx_agent_switch_on_sent(sx_agent *a, const sx_agent_id *conn, int64_t queue_id,
                             uint8_t msg_type);
/* Runs the persisted rotation commands that are due (KEY on the new
 * queue, DEL of the old one); the milliseconds until a retry (-1: none). */
int sx_agent_switch_run(sx_agent *a);

/* ---- ratchet re-synchronisation (agent_sync.c) ---- */
/* The stored type of a sent EREADY (other M messages are stored as 'M';
 * only A_MSG gives SENT). */
#define SX_AGENT_SND_EREADY 'E'
/* "ok", "allowed", "required", "started", "agreed". */
const char *sx_agent_rsync_name(sx_agent_rsync s);
/* Sending messages is refused in these states (required, started, agreed). */
bool sx_agent_rsync_send_prohibited(sx_agent_rsync s);
/* A message on conn failed to decrypt with err (enc: the encrypted agent
 * message): true when err is one of the ratchet's errors that move the
 * re-synchronisation state (then handled: state stored, RSYNC), false when
 * the caller reports it otherwise. The caller ACKs. */
bool sx_agent_sync_on_decrypt_error(sx_agent *a, const sx_agent_id *conn,
                                    const sx_ratchet_error *err, sx_slice enc);
/* A message decrypted on conn: a state other than ok and started goes
 * back to ok (RSYNC ok). */
void sx_agent_sync_on_decrypted(sx_agent *a, const sx_agent_id *conn);
/* An EREADY arrived; prev_had_snd: the ratchet had a sending chain before
 * this message (if not, we answer with our own EREADY). */
void sx_agent_sync_on_eready(sx_agent *a, const sx_agent_id *conn, bool prev_had_snd);
/* The SEND body of a stored ratchet key message (its body is the whole
 * agent envelope, under the per-queue encryption only). */
SX_MUST_CHECK sx_status sx_agent_sync_key_body(const sx_agent_delivery *d,
                                               const sx_agent_snd_queue *row, sx_writer *out);
/* The peer's ratchet keys (an R envelope). The caller ACKs. */
void sx_agent_sync_on_key(sx_agent *a, const sx_agent_id *conn, const sx_agent_env *env);

#endif
