/* What the SMP command handlers share among themselves: the context of the
 * command being handled, the replies, the authorization checks, the store-log
 * helpers, and the steps by which a handler finds, locks and changes a queue.
 * Not a public header; server.c sees the handlers only through
 * smp_router/server_int.h. */
#ifndef SX_ROUTER_COMMANDS_INT_H
#define SX_ROUTER_COMMANDS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bytes.h"
#include "crypto/keys.h"
#include "smp/command.h"
#include "smp/encoding.h"
#include "smp/error.h"
#include "smp/response.h"
#include "smp_router/server_int.h"
#include "smp_router/slrec.h"
#include "smp_router/store.h"

/* One decoded command of a batch, on the worker that owns c. */
typedef struct sx_cmd_ctx {
    sx_conn *c;
    sx_router *r;
    const sx_smp_request *req;
    sx_slice corr;
    sx_slice entity;
    uint16_t v; /* the session's protocol version */
} sx_cmd_ctx;

/* The wall clock in whole seconds. */
int64_t sx_cmd_now(void);

/* ---- replies ---- */

/* Encode one response into c's batch (an encoding failure is printed and
 * nothing is sent). */
void sx_cmd_reply(sx_conn *c, sx_slice corr_id, sx_slice entity, const sx_smp_resp *m);
void sx_cmd_reply_err(sx_conn *c, sx_slice corr_id, sx_slice entity, sx_smp_error e);
void sx_cmd_reply_tag(sx_conn *c, sx_slice corr_id, sx_slice entity, sx_smp_resp_tag tag);
/* The empty corrId or entity of an event. */
sx_slice sx_cmd_empty(void);

/* Answers to the command in x: ERR of a type, ERR CMD, OK, and the blocked
 * error with the queue's blocking info (the queue lock held). */
void sx_cmd_err(sx_cmd_ctx *x, sx_smp_err_type t);
void sx_cmd_err_cmd(sx_cmd_ctx *x, sx_smp_cmd_err e);
void sx_cmd_ok(sx_cmd_ctx *x);
/* ERR STORE: a change refused because its record cannot be logged (what
 * the reference answers when its store log or message store fails). */
void sx_cmd_err_store(sx_cmd_ctx *x, bool journal);
sx_smp_error sx_cmd_blocked_error(const sx_queue *q);
void sx_cmd_err_blocked(sx_cmd_ctx *x, sx_queue *q);

/* ---- authorization (commands_auth.c) ---- */

/* Whether the request's authorization verifies with key (NULL: none, a dummy
 * verification still runs). */
bool sx_cmd_verify_one(sx_conn *c, const sx_smp_request *req, const sx_qkey *key);
/* Around the commands of one received batch (items[0..n) as decoded from
 * the block): verifies their Ed25519 signatures together, for the handlers'
 * verifications to find (commands_auth.c); the answers stay those of one
 * verification each. SX_SMP_ED25519_BATCH=0 in the environment turns it off
 * (for comparison). end takes what begin returned (NULL: nothing kept);
 * both on the connection's worker. */
void *sx_cmd_preverify_begin(sx_conn *c, const sx_slice *items, size_t n);
void sx_cmd_preverify_end(void *token);
/* Whether it verifies with one of q's recipient keys (copied under q's lock,
 * checked without it). */
bool sx_cmd_verify_recipient(sx_conn *c, const sx_smp_request *req, sx_queue *q);
/* The compact form of a public key of the command. */
sx_status sx_cmd_qkey_of_pubkey(const sx_smp_pubkey *pk, sx_qkey *out);
/* A DH agreement with the peer's X25519 key and a fresh key of ours; pub
 * points into pub_der. */
sx_status sx_cmd_dh_agree(const sx_smp_pubkey *peer, uint8_t secret[32], uint8_t pub_der[SX_KEY_SPKI_MAX],
                          sx_smp_pubkey *pub);

/* ---- store log ---- */

/* Submits rec for the store log and holds the connection's replies until it
 * is written; wipes rec. False when it cannot be logged. */
bool sx_cmd_log_rec(sx_cmd_ctx *x, sx_slrec *rec);
/* A zeroed record of type t for the queue rid. */
void sx_cmd_rec_init(sx_slrec *rec, sx_slrec_type t, const uint8_t rid[SX_ID_LEN]);
/* Moves q's date to today, logging it when it changes (the queue lock held);
 * false when the log cannot be written. */
bool sx_cmd_touch(sx_cmd_ctx *x, sx_queue *q);

/* ---- finding and locking a queue (the order is explained in commands.c) ---- */

/* The queue of party with x's entity id, retained; NULL after answering AUTH. */
sx_queue *sx_cmd_find(sx_cmd_ctx *x, sx_party party);
/* Locks q unless it has left the store; then answers AUTH, releases q and
 * returns false. */
bool sx_cmd_lock_live(sx_cmd_ctx *x, sx_queue *q);
/* The recipient's queue, authorized, locked, retained and touched; NULL when
 * an answer was sent already. */
sx_queue *sx_cmd_locked_recipient(sx_cmd_ctx *x, bool allow_blocked);
/* The queue of party, locked and retained, not yet authorized. */
sx_queue *sx_cmd_locked_party(sx_cmd_ctx *x, sx_party party);
/* Unlocks q, answers OK, AUTH (not good) or STORE (not logged), releases q. */
void sx_cmd_unlock_answer(sx_cmd_ctx *x, sx_queue *q, bool logged, bool good);

/* ---- subscriptions (commands_msg.c) ---- */

/* Makes s q's subscriber (the queue lock held); the previous one is returned
 * with its reference. */
sx_sub *sx_cmd_take_subscription(sx_queue *q, sx_sub *s);

/* ---- services (commands_svc.c) ---- */

/* Before a command is dispatched: the role check (PROTOCOL-NOTES C11) and the
 * service signature rules (PROTOCOL-NOTES C9; C10 for the service's own
 * commands). False when it answered (ERR CMD PROHIBITED or ERR SERVICE). */
bool sx_svc_precheck(sx_cmd_ctx *x);
/* The certificate fingerprint that prefixes the bytes the entity key signs
 * (PROTOCOL-NOTES C9): set in a service session for a command that carries
 * a service signature, empty otherwise. */
sx_slice sx_svc_auth_prefix(const sx_conn *c, const sx_smp_request *req);
/* What an association did (sx_svc_associate). */
typedef struct sx_svc_assoc {
    bool same;     /* the queue was associated with the session's service already */
    bool takes;    /* the session takes its service (call sx_svc_take, unlocked) */
    bool had_subs; /* the session held service queues before (its count was not 0) */
} sx_svc_assoc;
/* SUB (party 'R') and NSUB ('N'), the queue lock held and the command
 * verified: associates the queue's recipient or notifier with the session's
 * service, or removes the association when an ordinary client subscribes
 * (logged as QUEUE_SERVICE). False when the record cannot be logged.
 * counted: the command makes the session's subscription (not a repeated
 * SUB), so the service statistics and the session's count take it as the
 * reference does. */
bool sx_svc_associate(sx_cmd_ctx *x, sx_queue *q, uint8_t party, bool counted, sx_svc_assoc *out);
/* No lock held: the session becomes the connection of its service
 * (PROTOCOL-NOTES D27); if it was not, the previous one is told ENDS and
 * this one subscribes every queue of party ('R', 'N') associated with the
 * service, the other connections' subscriptions forgotten without END. */
void sx_svc_take(sx_cmd_ctx *x, uint8_t party);
/* NEW made queue rid in a service session: counted in the session, which
 * takes its service (no lock held). */
void sx_svc_created(sx_cmd_ctx *x, const uint8_t rid[SX_ID_LEN]);
/* On the connection's worker: a service queue with that recipient or
 * notifier id left the session (END, DELD, DEL): out of its count. */
void sx_svc_session_remove(sx_conn *c, const uint8_t id[SX_ID_LEN]);
/* NEW: in a service session the queue is created associated with the
 * service (rsrv= in its CREATE record). Builds and logs the record, the queue
 * lock held; false when it cannot be logged (the association is undone). */
bool sx_svc_log_create(sx_cmd_ctx *x, sx_queue *q);
/* The service id in IDS (none for an ordinary client). */
void sx_svc_ids(const sx_cmd_ctx *x, sx_smp_ids *ids);
/* SUBS (PROTOCOL-NOTES D8, D27): the first of a session answers SOKS with the
 * count and ids hash of the queues whose recipient is associated with the
 * service, takes the service and sends their waiting messages, then ALLS; a
 * repeated one answers the session's counts. */
void sx_cmd_subs(sx_cmd_ctx *x);
/* The queue's head message on s as an event (commands_msg.c), the queue lock
 * held; false when there is none. */
bool sx_cmd_send_head(sx_conn *c, sx_sub *s);
/* The queue's notifier changed or went (NKEY, NDEL; whole_queue: DEL): its
 * association with a service goes too, as at replay. The queue lock held.
 * True when the queue's recipient was associated with a service. */
bool sx_svc_forget(sx_router *r, const uint8_t rid[SX_ID_LEN], bool whole_queue);
/* On the worker of s's connection (SX_SUB_SVC_MOVED): forgets s if its
 * queue went to another connection of the service. */
void sx_svc_sub_moved(sx_conn *c, sx_sub *s);
/* SOK with the session's service id (none for an ordinary client). */
void sx_svc_reply_sok(sx_cmd_ctx *x);
/* NSUBS (PROTOCOL-NOTES D29): the first of a session subscribes the
 * connection to the notifications of every queue associated with its
 * service (taking the service); SOKS with the count and the ids hash, the
 * session's own for a repeated one. */
void sx_cmd_nsubs(sx_cmd_ctx *x);

/* ---- the handlers, one per command, called by the dispatcher in commands.c ---- */

/* Queue management (commands_queue.c). */
void sx_cmd_new(sx_cmd_ctx *x);
void sx_cmd_key(sx_cmd_ctx *x);
void sx_cmd_rkey(sx_cmd_ctx *x);
void sx_cmd_skey(sx_cmd_ctx *x);
void sx_cmd_lkey(sx_cmd_ctx *x);
void sx_cmd_lget(sx_cmd_ctx *x);
void sx_cmd_lset(sx_cmd_ctx *x);
void sx_cmd_ldel(sx_cmd_ctx *x);
void sx_cmd_nkey(sx_cmd_ctx *x);
void sx_cmd_ndel(sx_cmd_ctx *x);
void sx_cmd_off(sx_cmd_ctx *x);
void sx_cmd_del(sx_cmd_ctx *x);
void sx_cmd_que(sx_cmd_ctx *x);

/* 2-hop routing: as the relay (commands_fwd.c) and as the proxy
 * (commands_proxy.c). */
void sx_cmd_rfwd(sx_cmd_ctx *x);
void sx_cmd_prxy(sx_cmd_ctx *x);
void sx_cmd_pfwd(sx_cmd_ctx *x);

/* Runs one decoded command (commands.c); the forwarded ones come here too. */
void sx_cmd_dispatch(sx_cmd_ctx *x);

/* Messages and subscriptions (commands_msg.c). */
void sx_cmd_sub(sx_cmd_ctx *x);
void sx_cmd_get(sx_cmd_ctx *x);
void sx_cmd_ack(sx_cmd_ctx *x);
void sx_cmd_send(sx_cmd_ctx *x);
void sx_cmd_nsub(sx_cmd_ctx *x);

/* Statistics of a queue deleted by DEL or the control port (the queue
 * lock held): deleted all / new (never secured) / secured, and the stored
 * counts (statistics, smp_router/stats.h). */
void sx_cmd_count_deleted(sx_router *r, const sx_queue *q);

#endif
