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
#include "agent/idmap.h"
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
    bool polled;              /* not subscribed: its messages are taken with GET
                                 (sx_agent_get_message), acknowledged as such */
    size_t conn_prev;         /* the connection's entry before this one (index + 1; 0: none) */
    bool sub_wanted;          /* polled, to be subscribed once the message it
                                 holds is acknowledged (sx_agent_subscribe_all) */
} sx_agent_rq;

/* A sending queue with deliveries to make. */
typedef struct sx_agent_sq {
    int64_t queue_id;
    sx_agent_id conn;
    int64_t next_try_ms; /* 0: now */
    unsigned delay_ms;   /* the back-off: 0 until a network error */
    int64_t first_fail_ms;
    bool quota;            /* the router answered QUOTA: waiting for QCONT or slow_ms */
    unsigned slow_ms;      /* the slow back-off after QUOTA (0: none yet) */
    int64_t slow_first_ms; /* when the first QUOTA of this run came */
} sx_agent_sq;

/* A connection deleted while its deliveries finish (agent_delwait.c). */
typedef struct sx_agent_delw {
    sx_agent_id conn;
    int64_t deadline_ms; /* wall clock: then it goes whatever is left */
} sx_agent_delw;

typedef struct sx_agent_evnode {
    struct sx_agent_evnode *next;
    sx_agent_event ev;
} sx_agent_evnode;

struct sx_agent {
    sx_agent_store *store;
    sx_smp_tpool *pool;
    /* GET's own connections (agent_get.c, made at the first GET): a router
     * refuses SUB of a queue on the connection that took its messages with
     * GET, so sx_agent_subscribe_all subscribes polled queues on `pool`. */
    sx_smp_tpool *gpool;
    sx_agent_opts opts;
    int64_t user_id;
    pthread_mutex_t mu; /* the store and everything below */
    pthread_t worker;   /* the pool's notes */
    bool worker_started;
    pthread_t sender; /* the deliveries */
    bool sender_started;
    bool stop;
    pthread_cond_t wake; /* the worker: new deliveries */
    /* Suspension (agent_suspend.c): foreground, suspending (deliveries
     * finish until the deadline, nothing is received) or suspended. */
    int run_state;
    int64_t suspend_deadline_ms;
    pthread_cond_t resume; /* the receiving thread, back to foreground */
    sx_agent_rq *rqs;
    size_t n_rqs, cap_rqs;
    /* rqs' indexes by store id and by queue object (agent_queue.c) */
    sx_agent_idmap rq_by_id, rq_by_q;
    /* The last entry of each connection (key: its id folded to 64 bits),
     * the others chained through conn_prev: a connection's queues without
     * a scan of all (ack, delete). */
    sx_agent_idmap rq_by_conn;
    sx_agent_sq *sqs;
    size_t n_sqs, cap_sqs;
    sx_agent_idmap sq_by_id;    /* sqs' indexes by store id */
    struct sx_agent_cmdq *cmdq; /* commands this process holds (agent_cmds.c) */
    sx_agent_delw *delw;        /* deleted, waiting for deliveries (agent_delwait.c) */
    size_t n_delw, cap_delw;
    /* While an asynchronous call (agent_async.c) holds mu: its correlation
     * id, stored with the command it makes, which is then left to the
     * sending thread instead of run in the call. NULL otherwise. */
    const char *async_corr;
    /* Events, in order. */
    pthread_mutex_t ev_mu;
    pthread_cond_t ev_cond;
    sx_agent_evnode *ev_head, *ev_tail;
    /* A pipe whose read end (sx_agent_event_fd) holds one byte while the
     * queue above has events: written when it stops being empty, drained
     * when it becomes empty, both under ev_mu. -1 when not open. */
    int ev_pipe[2];
    /* Queue rotation's persisted commands (agent_switch.c): when to try
     * again after a network error (0: now). */
    bool cmd_pending; /* a command was stored for the runner (agent_cmds.c) to take */
    /* The agent protocol and e2e ranges this agent speaks: the supported
     * ones, capped by opts (agent_versions.c). */
    sx_version_range agent_vr, e2e_vr;
    int64_t next_cleanup_ms; /* the periodic cleanup's next pass (agent_expire.c) */
    /* The preset routers of short links (opts.preset_routers, parsed). */
    sx_agent_server *presets;
    size_t n_presets;
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
/* The end of an asynchronous call's command: kind (INV, JOINED, OK, or ERR
 * with st and the thread's error message) of conn with corr_id; body
 * copied (INV: the link, NUL added). */
void sx_agent_emit_corr(sx_agent *a, sx_agent_event_kind kind, const sx_agent_id *conn,
                        const char *corr_id, sx_slice body, sx_status st);

/* ---- users (agent_users.c) ---- */
/* The user of a connection the calling thread makes now: the one a
 * *_for_user call chose, else the agent's default user. */
int64_t sx_agent_conn_user(const sx_agent *a);

/* ---- versions (agent_versions.c) ---- */
/* a->agent_vr and a->e2e_vr from the opts: SX_E_USAGE when a cap is out
 * of the supported range. */
SX_MUST_CHECK sx_status sx_agent_versions_init(sx_agent *a);
/* A message of the peer announced agent version msg_v: the connection's
 * version rises to the highest both agents speak when that is higher
 * (the reference's updateConnVersion); never falls. */
void sx_agent_version_on_msg(sx_agent *a, const sx_agent_id *conn, uint16_t msg_v);

/* ---- per-message PQ (agent_pq.c) ---- */
/* The ratchet's switch for an API choice; SX_E_USAGE for an unknown one. */
SX_MUST_CHECK sx_status sx_agent_pq_choice(sx_agent_pq pq, sx_pq_enc *out);
/* PQ asked for on a connection without PQ support: the support is turned
 * on and stored (the smaller envelopes from now on, never turned off). */
SX_MUST_CHECK sx_status sx_agent_pq_support_on(sx_agent *a, sx_agent_conn *cn);

/* ---- deleting after delivery (agent_delwait.c), all under a->mu ---- */
/* The connections marked deleted in the store, at open. */
SX_MUST_CHECK sx_status sx_agent_delwait_load(sx_agent *a);
/* Deletes those with no delivery left or past their limit (DEL_CONN);
 * returns the ms until the next limit, -1 when none waits. */
int sx_agent_delwait_due(sx_agent *a);
/* Forgets conn (deleted at once by sx_agent_delete). */
void sx_agent_delwait_forget(sx_agent *a, const sx_agent_id *id);

/* ---- suspension (agent_suspend.c), all under a->mu ---- */
enum { SX_AGENT_RUN_FOREGROUND = 0,
       SX_AGENT_RUN_SUSPENDING,
       SX_AGENT_RUN_SUSPENDED };
/* DEL of our receiving queue row (agent_qdel.c): done (or refused for
 * good), the row dropped (a DEL_RCVQ event when event); the router not
 * reached, the row kept with an RDEL command that tries again (*kept): the
 * caller marks the connection deleted. */
SX_MUST_CHECK sx_status sx_agent_rq_delete(sx_agent *a, const sx_agent_rcv_queue *row, bool event,
                                           bool *kept);
/* sx_agent_rq_delete of every receiving queue stored for conn, until one
 * fails; *any_kept when one is kept for its retries. */
SX_MUST_CHECK sx_status sx_agent_conn_rqs_delete(sx_agent *a, const sx_agent_id *conn, bool event,
                                                 bool *any_kept);
/* DEL of the queue row on its router, once, through the entry the agent
 * holds for it (which then leaves the pool's queues) or through an object
 * of its own (agent_qdel.c). The router's answer is returned; the row
 * stays. */
SX_MUST_CHECK sx_status sx_agent_rq_del_router(sx_agent *a, const sx_agent_rcv_queue *row);
/* A pool for the agent's connections, with its options (agent.c). */
SX_MUST_CHECK sx_status sx_agent_pool_new(sx_agent *a, sx_smp_tpool **out);
/* Subscribes a polled queue on the agent's pool (its messages then come by
 * themselves; agent_get.c). */
SX_MUST_CHECK sx_status sx_agent_rq_subscribe_polled(sx_agent *a, sx_agent_rq *rq);
/* Whether the pool's notes may be taken and processed now. */
bool sx_agent_receiving_allowed(const sx_agent *a);
/* Whether deliveries may be made now; while suspending, moves to
 * suspended (with the SUSPENDED event) once none is pending or the
 * deadline has passed. */
bool sx_agent_sending_allowed(sx_agent *a);
/* How long the sending thread may sleep (at most `ms`): up to the
 * suspension's deadline while suspending. */
int sx_agent_suspend_wait_ms(const sx_agent *a, int ms);

/* ---- private routing (agent_proxy.c) ---- */
/* The pool's proxy options from the agent's (po keeps pointers into o). */
SX_MUST_CHECK sx_status sx_agent_proxy_pool_opts(const sx_agent_opts *o, sx_smp_pool_opts *po);
/* Whether an error code is a proxy's host error (retried with MWARN). */
bool sx_agent_proxy_host_error(const char *code);

/* ---- queues (agent_queue.c) ---- */
/* The router's address text of a store server row ("smp://kh@hosts[:port]"). */
SX_MUST_CHECK sx_status sx_agent_server_text(sx_agent *a, int64_t server_id, char *out, size_t cap);
/* The address of a store server row. */
SX_MUST_CHECK sx_status sx_agent_server_of(sx_agent *a, int64_t server_id, sx_agent_server *srv);
/* The store's server row for an address. */
SX_MUST_CHECK sx_status sx_agent_server_id(sx_agent *a, const sx_agent_server *srv,
                                           int64_t *server_id);
/* An SMP client queue object from a stored row. */
SX_MUST_CHECK sx_status sx_agent_rq_object(sx_agent *a, const sx_agent_rcv_queue *row,
                                           sx_smp_queue **out);
/* with_key false: without the sender key, for the unsigned confirmation of
 * the legacy handshake. */
SX_MUST_CHECK sx_status sx_agent_sq_object(sx_agent *a, const sx_agent_snd_queue *row,
                                           bool with_key, sx_smp_queue **out);
/* Fills the key fields of a row from a queue object. */
SX_MUST_CHECK sx_status sx_agent_rq_fill(const sx_smp_queue *q, sx_agent_rcv_queue *row);
SX_MUST_CHECK sx_status sx_agent_sq_fill(const sx_smp_queue *q, sx_agent_snd_queue *row);
/* Keeps q as a subscribed receiving queue (the record takes q) and
 * subscribes it in the pool. */
SX_MUST_CHECK sx_status sx_agent_rq_add(sx_agent *a, int64_t queue_id, const sx_agent_id *conn,
                                        sx_smp_queue *q);
sx_agent_rq *sx_agent_rq_by_queue(sx_agent *a, const sx_smp_queue *q);
/* As sx_agent_rq_add without subscribing: a queue read with GET. */
SX_MUST_CHECK sx_status sx_agent_rq_add_polled(sx_agent *a, int64_t queue_id,
                                               const sx_agent_id *conn, sx_smp_queue *q);
/* A message note of rq (subscribed or taken with GET): processed as its
 * kind says (agent.c). */
void sx_agent_on_rq_note(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n);
/* The link text of a connection request, NUL-terminated, malloc'd into
 * *out; what names it in the error (agent_handshake.c). */
SX_MUST_CHECK sx_status sx_agent_connreq_text(const sx_agent_connreq *c, const char *what, char **out);
/* The index + 1 of the last entry kept for a connection (0: none); the
 * entries before it follow conn_prev. Ids folding to the same key share a
 * chain: compare each entry's conn. */
size_t sx_agent_rq_conn_last(const sx_agent *a, const sx_agent_id *conn);
/* The entry held for the receiving queue with this store id of conn and
 * still in the pool, or NULL (the latest when there are several). */
sx_agent_rq *sx_agent_rq_held(sx_agent *a, const sx_agent_id *conn, int64_t queue_id);
/* The connection's receiving queues held in the pool leave it (each
 * unsubscribed on its router first when unsubscribe), so nothing more is
 * taken from them (agent_queue.c). */
void sx_agent_conn_rqs_leave(sx_agent *a, const sx_agent_id *conn, bool unsubscribe);
/* The connection leaves the agent's memory: its receiving queues as
 * above (not unsubscribed), its deliveries, a wait for them. */
void sx_agent_conn_forget(sx_agent *a, const sx_agent_id *conn);
/* Drops sqs[i] (the last one takes its place). */
void sx_agent_sq_remove_at(sx_agent *a, size_t i);
/* Notes that a send queue has deliveries and wakes the worker. */
SX_MUST_CHECK sx_status sx_agent_sq_add(sx_agent *a, int64_t queue_id, const sx_agent_id *conn);
/* A new receiving queue on `server` (NEW), stored for conn with a fresh
 * per-queue e2e key; mode 'M': a messaging queue its sender secures (SKEY),
 * 'C': a contact address's queue that anyone may send to, 0: a messaging
 * queue of the legacy handshake (we secure it with KEY). replaces: 0, or
 * the queue it is to replace (queue rotation: then it is not primary until
 * the switch completes). *qaddr (may be NULL) gets its address for the
 * peer. */
SX_MUST_CHECK sx_status sx_agent_new_rcv_queue(sx_agent *a, const sx_agent_id *conn,
                                               const char *server, uint8_t mode, int64_t replaces,
                                               int64_t *queue_id, sx_agent_queue *qaddr);
/* As sx_agent_new_rcv_queue, with our per-queue key e2e_priv (raw; NULL:
 * a fresh one) and NEW's link data (link: has_link, corr_id, link_id,
 * fixed, user; NULL: none); link_id (may be NULL) gets the link id the
 * router answered with (SX_E_PROTOCOL when it gave none). */
SX_MUST_CHECK sx_status sx_agent_new_rcv_queue_ex(sx_agent *a, const sx_agent_id *conn,
                                                  const char *server, uint8_t mode,
                                                  int64_t replaces, const uint8_t *e2e_priv,
                                                  const sx_smp_new_opts *link, uint8_t *link_id,
                                                  int64_t *queue_id, sx_agent_queue *qaddr);
/* The queue mode of our invitations' queues ('M', or 0 for the legacy
 * handshake). */
uint8_t sx_agent_inv_queue_mode(const sx_agent *a);
/* KEY: secures our receiving queue queue_id with the sender's key (DER),
 * then marks it secured. */
SX_MUST_CHECK sx_status sx_agent_rq_secure(sx_agent *a, int64_t queue_id, sx_slice sender_key);
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
/* The longest connection info an application may pass. */
#define SX_AGENT_INFO_MAX 8192
/* A new connection row (state new) of this agent's user. */
SX_MUST_CHECK sx_status sx_agent_conn_new(sx_agent *a, sx_agent_conn_mode mode, uint16_t agent_v,
                                          bool pq, sx_agent_id *id);
/* A one-time invitation: the connection, its X3DH keys (with a KEM key when
 * pq), its messaging queue on `server`, and the link text (*link, heap). */
SX_MUST_CHECK sx_status sx_agent_invitation_new(sx_agent *a, const char *server, bool pq,
                                                sx_agent_id *id, char **link);
/* The link text (*link, heap) of a one-time invitation with our queue q
 * and X3DH parameters pub. */
SX_MUST_CHECK sx_status sx_agent_invitation_link(const sx_agent *a, const sx_agent_queue *q, const sx_e2e_params *pub,
                                                 char **link);
/* Joins the invitation cr (fast handshake): SKEY, the reply queue on
 * `server` (NULL: the link's router) and the confirmation with info. */
SX_MUST_CHECK sx_status sx_agent_join_invitation(sx_agent *a, const sx_agent_connreq *cr,
                                                 const char *server, sx_slice info,
                                                 sx_agent_id *id);
/* As sx_agent_join_invitation; secured (may be NULL): our sender side of
 * the inviter's queue, already secured with its key by LKEY (a short
 * link): it is stored as the send queue, secured, and there is no SKEY.
 * It stays the caller's. */
SX_MUST_CHECK sx_status sx_agent_join_invitation_ex(sx_agent *a, const sx_agent_connreq *cr,
                                                    const char *server, sx_slice info,
                                                    const sx_smp_queue *secured, sx_agent_id *id);
/* sx_agent_join_invitation of the invitation of contact request inv_id,
 * marked accepted (with own info) in the transaction of the JOIN command. */
SX_MUST_CHECK sx_status sx_agent_accept_invitation(sx_agent *a, const sx_agent_connreq *cr,
                                                   const char *server, sx_slice info,
                                                   const sx_agent_id *inv_id, sx_agent_id *id);
/* A message on a receiving queue with no e2e secret yet: a confirmation. */
void sx_agent_on_confirmation(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n,
                              const sx_client_env *env);

/* ---- contact addresses (agent_contact.c) ---- */
/* Joins the contact address cr: our own invitation sent to its queue. */
SX_MUST_CHECK sx_status sx_agent_join_contact(sx_agent *a, const sx_agent_connreq *cr,
                                              const char *server, sx_slice info, sx_agent_id *id);
/* A message on a contact address's queue: a contact request (REQ). */
void sx_agent_on_invitation(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n,
                            const sx_client_env *env);

/* ---- short links (agent_shortlink.c) ---- */
/* Whether link is a short link's text (simplex:/i#..., https://host/a#...). */
bool sx_agent_is_short_link(const char *link);
/* sx_agent_join of a short link, with a->mu held. */
SX_MUST_CHECK sx_status sx_agent_join_short(sx_agent *a, const char *link, const char *server,
                                            sx_slice info, sx_agent_id *id);

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
/* The same with the ratchet's PQ switch for this message; *pq_used (may
 * be NULL): the message goes with PQ. */
SX_MUST_CHECK sx_status sx_agent_enqueue_pq(sx_agent *a, const sx_agent_id *conn,
                                            const sx_agent_msg *m, const sx_e2e_params *e2e,
                                            bool notification, sx_pq_enc pq, int64_t *internal_id,
                                            bool *pq_used);
/* As sx_agent_enqueue for an M message, on the given send queues only. */
SX_MUST_CHECK sx_status sx_agent_enqueue_on(sx_agent *a, const sx_agent_id *conn,
                                            const sx_agent_msg *m, const int64_t *queue_ids,
                                            size_t n, int64_t *internal_id);
/* One delivery attempt of every send queue that is due; returns the
 * milliseconds until the next one is (or -1: none waiting). */
int sx_agent_deliver_due(sx_agent *a);
/* ACKs the router's message of rq after the app (or the agent) is done. */
void sx_agent_ack_router(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n);
/* The message iid of rq is with the application (MSG, RCVD): the router's
 * ACK waits for sx_agent_ack. */
void sx_agent_rq_hold(sx_agent_rq *rq, sx_smp_pool_note *n, int64_t iid);
/* Whether a stored agent message (its encoding) is an A_MSG. */
bool sx_agent_is_a_msg(sx_slice agent_msg);
/* The agent message inside a stored body to send (after its e2e part);
 * empty when it does not decode. */
sx_slice sx_agent_stored_msg(sx_slice body);
/* sx_agent_ack with a->mu held. */
SX_MUST_CHECK sx_status sx_agent_ack_locked(sx_agent *a, const sx_agent_id *id, int64_t msg_id);

/* ---- receipts (agent_rcpt.c) ---- */
/* An A_RCVD message iid arrived on rq (m its decoded agent message): RCVD
 * for the app (which acks it) or the router's ACK. */
void sx_agent_on_rcvd(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n, int64_t iid,
                      const sx_amessage *m);

/* ---- queue full (agent_quota.c) ---- */
/* The router's quota marker on rq: the queue was full and is drained now:
 * A_QCONT to the peer, then the router's ACK. */
void sx_agent_on_quota_marker(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n);
/* A_QCONT message iid from the peer naming our send queue addr: its
 * deliveries resume at once; QCONT for the app. */
void sx_agent_on_qcont(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n, int64_t iid,
                       const sx_agent_qaddr *addr);
/* ---- expiry (agent_expire.c) ---- */
/* Whether delivery d has waited past timeout_s. */
bool sx_agent_expired(const sx_agent_delivery *d, unsigned timeout_s);
/* d failed with st (why: the error's text) past its timeout: MERR for
 * it, MERRS for the older ones of the queue; all their deliveries go. */
void sx_agent_expire(sx_agent *a, sx_agent_sq *sq, const sx_agent_delivery *d, unsigned timeout_s,
                     sx_status st, const char *why);
/* The periodic cleanup (the sending thread): a pass when due (ERR when
 * it fails); the ms until the next. */
int sx_agent_cleanup_due(sx_agent *a);

/* The router answered QUOTA to a delivery of sq: MWARN, slow retry. */
void sx_agent_quota_wait(sx_agent *a, sx_agent_sq *sq, const sx_agent_delivery *d);

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
/* Runs a stored command of queue rotation (the runner of agent_cmds.c
 * calls it): 1 done, 0 to retry later, -1 not a rotation command. */
int sx_agent_switch_cmd(sx_agent *a, const sx_agent_command *c);

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

/* ---- stored commands (agent_cmds.c; the rest in agent_cmds.h) ---- */
/* At open: every command a crashed process had taken is pending again,
 * and every pending one is taken into this process. */
SX_MUST_CHECK sx_status sx_agent_cmds_resume(sx_agent *a, bool after_crash);
/* One attempt of every held command that is due; the milliseconds until
 * the next one is (-1: none held). */
int sx_agent_cmds_due(sx_agent *a);
/* Whether commands are held that are not waiting for a retry. */
bool sx_agent_cmds_busy(const sx_agent *a);
/* At close: held commands become pending again (another process or the
 * next open takes them); frees the list. */
void sx_agent_cmds_close(sx_agent *a);

#endif
