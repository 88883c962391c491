/* The SimpleX agent: duplex, end-to-end encrypted connections between two
 * programs over pairs of SMP queues, with messages delivered in order, once,
 * with an integrity chain, across reconnects and restarts (docs/AGENT.md,
 * "The agent core").
 *
 *     sx_agent *a;  char conn[SX_AGENT_CONN_ID_TEXT];  char *link;
 *     sx_agent_open("alice.db", NULL, &a);
 *     sx_agent_create_invitation(a, "smp://<fp>@host", conn, &link);  // give link to the peer
 *     ... sx_agent_next(a, -1, &ev): CONF -> sx_agent_allow(a, ev.conn, ev.conf_id, "info", 4)
 *     ... CON, then sx_agent_send(a, conn, "hi", 2, &id) -> SENT id; MSG -> sx_agent_ack
 *
 * A contact address (sx_agent_create_contact) takes requests from anyone
 * who joins its link: each comes as REQ, answered with
 * sx_agent_accept_contact (then INFO, CON) or sx_agent_reject_contact.
 *
 * State: one SQLite file per agent (created on first use). Keys are
 * committed before the command that sends them, the ratchet advances in
 * the same transaction as the message it encrypts, so a crash at any point
 * loses nothing and sends nothing twice. Connections, queues and pending
 * messages are resumed by sx_agent_open.
 *
 * Threads: every function may be called from any thread, except that
 * sx_agent_close must be the last call (no other call on the agent may run
 * or follow it). The agent has two threads of its own (one receives, one
 * makes the deliveries with their retries) and a thread-safe SMP
 * connection pool (sx_smp_tpool_*). Calls into one agent are serialised
 * (one lock for the agent; a call that waits on the network holds it).
 * No application code runs on the agent's threads: there are no callbacks.
 *
 * Events: one queue per agent, in the order they happen, so in order per
 * connection (a connection's MSG events in the order of its messages, SENT
 * in the order they were sent on each queue). It is pollable:
 * sx_agent_next takes the next event, waiting up to a timeout (0: just
 * look), and sx_agent_event_fd gives a descriptor that poll(2)/select(2)
 * see readable while an event waits, for an application's own event loop.
 * Events can be taken from any thread; each is given to one caller.
 * Events are only reported, never waited for: the queue grows while the
 * application does not take them (the agent never blocks on it).
 *
 * Ownership: the link text and event bodies returned belong to the caller
 * (sx_agent_free_text, sx_agent_event_clear). Arguments are borrowed for
 * the call (sx_agent_open copies its options and the routers' texts).
 * Errors: the status classes of simplex/status.h with sx_error_message()
 * (per thread) saying why.
 *
 * Users: a store holds users, each owning its connections (the reference's
 * userId). The calls without a user act for the store's default user
 * (made on first open); sx_agent_user_create adds users, the *_for_user
 * calls make connections for one, sx_agent_user_delete removes one with
 * its connections.
 *
 * Versus the reference's API (docs/AGENT-CHECKLIST.md): creating, joining,
 * allowing and accepting are synchronous calls (their result is returned)
 * with asynchronous variants (*_async: they return once the command is
 * stored, and an INV, JOINED, OK or ERR event carrying the caller's
 * correlation id reports its end, also after a restart); sx_agent_open
 * subscribes every receiving queue unless no_subscribe (then
 * sx_agent_subscribe picks connections). */
#ifndef SIMPLEX_AGENT_H
#define SIMPLEX_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sx_agent sx_agent;

/* Connection and confirmation ids as text (base64url of 12 bytes), with the
 * NUL. */
#define SX_AGENT_CONN_ID_TEXT 17

/* When the agent's sends (messages, confirmations, and SKEY in the
 * handshake) go through a proxy router, 2-hop private message routing
 * (the reference's SMPProxyMode): the destination router then sees the
 * proxy's address, never this program's. */
typedef enum sx_agent_proxy_mode {
    SX_AGENT_PROXY_NEVER = 0,   /* always directly (the default, as the reference's) */
    SX_AGENT_PROXY_ALWAYS,      /* always through one of `routers` */
    SX_AGENT_PROXY_UNKNOWN,     /* through a proxy to routers not among `routers` */
    SX_AGENT_PROXY_UNPROTECTED, /* as UNKNOWN, but directly when address_protected */
} sx_agent_proxy_mode;

/* Whether a send the proxy cannot forward because it cannot use the
 * destination's hosts or versions (PROXY BROKER HOST, PROXY BROKER
 * TRANSPORT VERSION) is then made directly (the reference's
 * SMPProxyFallback). A proxy that is down, or cannot reach the destination,
 * is never a reason to send directly: the message waits and is retried. */
typedef enum sx_agent_proxy_fallback {
    SX_AGENT_FALLBACK_ALLOW = 0,       /* directly (the default) */
    SX_AGENT_FALLBACK_ALLOW_PROTECTED, /* directly only when address_protected */
    SX_AGENT_FALLBACK_PROHIBIT,        /* never: MWARN, and the message waits */
} sx_agent_proxy_fallback;

typedef struct sx_agent_opts {
    /* Post-quantum ratchet (sntrup761, e2e version 3) for connections this
     * agent creates or joins, when the peer supports it. Default (zeroed
     * opts or NULL): on; set pq_off to turn it off. */
    bool pq_off;
    /* Per network step of the pool's connections; 0: 15000. */
    int timeout_ms;
    /* The pool's reconnect wait (first and longest), 0: 1000 / 10000. */
    unsigned retry_min_ms, retry_max_ms;
    /* First wait of a message's retry after a network error (doubled by
     * half each time up to retry_max_ms of 120000, the reference's fast
     * interval); 0: 2000. */
    unsigned send_retry_ms;
    /* Subscribe no receiving queue, neither the store's at open nor those
     * this agent creates: for a program that creates, joins or sends while
     * another process on the same store receives (a subscription here
     * would end that one's with END, or take its messages); that process
     * picks up the new queues with sx_agent_subscribe_all. */
    bool no_subscribe;
    /* The queues this agent makes for invitations (its own, and the reply
     * queues of those it joins) cannot be secured by their sender: the
     * legacy handshake (the recipient's KEY, then HELLO both ways), as with
     * a router older than SMP v9. Joining a link whose queue is such a queue
     * takes that handshake whatever this says. */
    bool legacy_handshake;
    /* First wait of a send queue's retry after the router answered QUOTA
     * (the peer's queue is full; the reference's slow interval: raised by
     * half after a minute up to 6 hours); the peer's QCONT ends the wait
     * at once. 0: 300000. */
    unsigned quota_retry_ms;
    /* A message that could not be delivered for this long fails (MERR,
     * and MERRS for the older ones waiting on the same queue): seconds
     * after a network error (0: 2 days, the reference's messageTimeout),
     * and while the peer's queue stays full (0: 7 days, its
     * quotaExceededTimeout). */
    unsigned message_timeout_s, quota_timeout_s;
    /* The same for a HELLO of the legacy handshake (0: 2 days, the
     * reference's helloTimeout): past it, MERR with the HELLO's message id,
     * and the connection stays unfinished. */
    unsigned hello_timeout_s;
    /* The periodic cleanup (docs/AGENT.md, "Cleanup"): sent messages kept
     * for their receipts, and the hashes of received messages and of the
     * peer's ratchet keys, are deleted once older than stored_msg_ttl_s
     * (0: 21 days, the reference's storedMsgDataTTL); a pass every
     * cleanup_interval_ms (0: 5 minutes), the first 30 s after opening (or
     * after one interval when that is shorter). */
    unsigned stored_msg_ttl_s;
    unsigned cleanup_interval_ms;
    /* Private message routing (docs/AGENT.md "Private routing"). */
    sx_agent_proxy_mode proxy_mode;
    sx_agent_proxy_fallback proxy_fallback;
    /* The user's own routers (smp:// addresses, with the password a router
     * needs for proxying; copied by sx_agent_open): the proxies are chosen
     * among them (one at random, on another host than the destination's
     * when there is one), and they are the "known" routers of
     * SX_AGENT_PROXY_UNKNOWN. Required unless proxy_mode is NEVER. */
    const char *const *routers;
    size_t n_routers;
    /* This program's connections already hide its network address (Tor or
     * another SOCKS proxy set up outside the library). */
    bool address_protected;
    /* For tests and compatibility checks only: the highest agent protocol
     * version (2..7) and end-to-end ratchet version (2..3) this agent
     * offers in its links, accepts from peers and announces in its
     * messages, as an older agent would (the reference's smpAgentVRange and
     * e2eEncryptVRange in its test configurations). 0: the current ones.
     * e2e_version_max 2 means no post-quantum ratchet. Outside these
     * ranges sx_agent_open fails with SX_E_USAGE. */
    uint16_t agent_version_max, e2e_version_max;
    /* Preset routers (smp:// addresses; parsed by sx_agent_open, not kept):
     * a short link this agent creates on one of them names it by its first
     * host alone, and a short link naming a router by host only is read as
     * the preset router with that first host (the reference's
     * shortenShortLink / restoreShortLink). */
    const char *const *preset_routers;
    size_t n_preset_routers;
    /* How long sx_agent_delete_wait waits for a connection's pending
     * deliveries, in seconds (0: 2 days, the reference's
     * connDeleteDeliveryTimeout). */
    unsigned delete_wait_s;
    /* How many failed attempts to DEL a receiving queue whose router cannot
     * be reached (sx_agent_delete, sx_agent_delete_wait) before the queue
     * is forgotten (0: 10, the reference's deleteErrorCount; 1: at once).
     * Until then it is kept and tried again with back-off, also after a
     * restart. */
    unsigned delete_error_count;
} sx_agent_opts;

typedef enum sx_agent_event_kind {
    SX_AGENT_EV_NONE = 0, /* nothing came in time */
    SX_AGENT_EV_CONF,     /* the joiner's confirmation: conf_id, body = its info; call sx_agent_allow */
    SX_AGENT_EV_INFO,     /* the initiator's info (body) reached the joiner */
    SX_AGENT_EV_CON,      /* the connection is established (pq: post-quantum on) */
    SX_AGENT_EV_MSG,      /* a message: msg_id, body, integrity, pq; call sx_agent_ack */
    SX_AGENT_EV_SENT,     /* the router took message msg_id */
    SX_AGENT_EV_MERR,     /* message msg_id failed for good (status, detail) */
    SX_AGENT_EV_END,      /* another client subscribed to the connection's queue */
    SX_AGENT_EV_DOWN,     /* the connection to router `server` dropped; its queues wait */
    SX_AGENT_EV_UP,       /* it is back and its queues are subscribed again */
    SX_AGENT_EV_OK,       /* an asynchronous call (corr_id) ended: sx_agent_allow_async */
    SX_AGENT_EV_ERR,      /* an error of a connection (status, detail) */
    SX_AGENT_EV_RSYNC,    /* the ratchet's re-synchronisation state changed: rsync, and in
                           * detail the decryption error that caused it ("" when none) */
    SX_AGENT_EV_REQ,      /* a contact request on address conn: inv_id, body = the requester's
                             info, pq: the requester can do post-quantum; call
                             sx_agent_accept_contact or sx_agent_reject_contact */
    SX_AGENT_EV_RCVD,     /* delivery receipts (receipts) came in message msg_id: call sx_agent_ack */
    SX_AGENT_EV_MWARN,    /* message msg_id was not delivered yet and is retried (status,
                           * detail): the peer's queue is full (QUOTA), or the proxy cannot
                           * use the destination's hosts and the fallback forbids sending
                           * directly */
    SX_AGENT_EV_QCONT,    /* the peer drained its full queue: sending resumes */
    SX_AGENT_EV_MERRS,    /* messages msg_ids expired with message msg_id's MERR (status, detail) */
    /* sx_agent_suspend is done: nothing is sent or received until sx_agent_foreground */
    SX_AGENT_EV_SUSPENDED,
    SX_AGENT_EV_SWITCH, /* queue rotation moved on: switch_dir and switch_phase */
    /* sx_agent_delete_wait: a receiving queue of conn was deleted on router
     * `server` (status SX_OK), or could not be (status, detail: the router
     * may keep it; ours is gone either way) */
    SX_AGENT_EV_DEL_RCVQ,
    SX_AGENT_EV_DEL_CONN, /* sx_agent_delete_wait: conn is gone from the store */
    SX_AGENT_EV_DEL_USER, /* sx_agent_user_delete removed user_id with its connections */
    /* sx_agent_create_invitation_async (corr_id) made the queue: body = the
     * link's text (body_len bytes, NUL after them) */
    SX_AGENT_EV_INV,
    /* sx_agent_join_async / sx_agent_accept_contact_async (corr_id): the
     * peer's queue is secured and our confirmation is queued (SENT is not
     * reported for it; INFO and CON follow) */
    SX_AGENT_EV_JOINED,
} sx_agent_event_kind;

/* The longest correlation id of an asynchronous call, in bytes. */
#define SX_AGENT_CORR_ID_MAX 64

/* One delivery receipt of a RCVD event. */
typedef struct sx_agent_receipt {
    int64_t msg_id; /* the id of our sent message (its SENT) */
    bool ok;        /* the peer's hash of it matched ("ok"); false: "badMsgHash" */
} sx_agent_receipt;

typedef struct sx_agent_event {
    sx_agent_event_kind kind;
    char conn[SX_AGENT_CONN_ID_TEXT];    /* the connection ("" for DOWN/UP) */
    char conf_id[SX_AGENT_CONN_ID_TEXT]; /* CONF */
    char inv_id[SX_AGENT_CONN_ID_TEXT];  /* REQ: the request (kept in the store until accepted
                                            or rejected, also across a restart) */
    int64_t msg_id;                      /* MSG, SENT, MERR: the agent's message id */
    int64_t broker_ts;                   /* MSG: when the router got it (Unix seconds) */
    bool pq;                             /* CON: the handshake went with post-quantum
                                          * encryption (both sides had it on); CONF, INFO:
                                          * PQ support; MSG: this message was encrypted
                                          * with PQ */
    char integrity[64];                  /* MSG: "OK", or "ERR ..." (the message is given anyway) */
    uint8_t *body;                       /* CONF, INFO, MSG, REQ: owned by the event */
    size_t body_len;
    char server[256];           /* DOWN, UP */
    sx_status status;           /* MERR, MWARN, ERR */
    char detail[256];           /* MERR, MWARN, ERR, RSYNC */
    sx_agent_receipt *receipts; /* RCVD: owned by the event */
    size_t n_receipts;
    int64_t *msg_ids; /* MERRS: owned by the event */
    size_t n_msg_ids;
    /* RSYNC: "ok", "allowed" (a message failed to decrypt: the application
     * may call sx_agent_synchronize_ratchet), "required" (the ratchet is
     * out of step: sending is refused until it is synchronised),
     * "started" (our new keys were sent), "agreed" (both sides have the
     * new ratchet; "ok" comes with the first message on it). */
    char rsync[12];
    /* SWITCH: "rcv" (our receiving queue moves: sx_agent_switch_connection)
     * or "snd" (the peer moves the queue we send to); the phase: "started",
     * "confirmed" (the new queue's sender key was sent / arrived),
     * "secured" (the new queue is secured), "completed" (the old queue is
     * gone and the new one is in use). */
    char switch_dir[4];
    char switch_phase[12];
    int64_t user_id; /* DEL_USER */
    /* INV, JOINED, OK, and an ERR ending an asynchronous call: the caller's
     * correlation id ("" otherwise) */
    char corr_id[SX_AGENT_CORR_ID_MAX + 1];
} sx_agent_event;

/* Opens (creating) the store at db_path and starts the agent: the pool,
 * the worker, the subscriptions of every receiving queue, the deliveries
 * still pending. opts may be NULL. Errors: those of the store (SX_E_IO,
 * SX_E_PROTOCOL: not an agent store or a newer one), SX_E_NOMEM,
 * SX_E_INTERNAL. */
SX_API SX_MUST_CHECK sx_status sx_agent_open(const char *db_path, const sx_agent_opts *opts,
                                             sx_agent **out);
/* Stops the worker and the pool and closes the store. Queued events not
 * taken are dropped (what they report is in the store: messages not acked
 * come again after the next open). Accepts NULL. */
SX_API void sx_agent_close(sx_agent *a);

/* A one-time invitation: a messaging queue on `server` (smp:// address,
 * with its password if it needs one) and the link text to hand to the
 * peer (*link, free with sx_agent_free_text). conn_id gets the new
 * connection's id. */
SX_API SX_MUST_CHECK sx_status sx_agent_create_invitation(sx_agent *a, const char *server,
                                                          char conn_id[SX_AGENT_CONN_ID_TEXT],
                                                          char **link);
/* A contact address: a contact queue on `server` that anyone holding the
 * link may send requests to, and its link text (simplex:/contact#/?...,
 * *link, free with sx_agent_free_text). conn_id gets the address's
 * connection id; each request comes as a REQ event of it. Delete the
 * address with sx_agent_delete. */
SX_API SX_MUST_CHECK sx_status sx_agent_create_contact(sx_agent *a, const char *server,
                                                       char conn_id[SX_AGENT_CONN_ID_TEXT],
                                                       char **link);
/* ---- short links (SMP routers v15+; docs/AGENT.md, "Short links") ----
 * The link's data (the connection's full link, signed, and the
 * application's user data, e.g. a profile) is kept encrypted on the
 * router; the short link carries its key: https://<host>/i#<id>/<key>?...
 * (invitation) or https://<host>/a#<key>?... (contact address), with the
 * router's hosts, port and key hash. */

/* The most user data a short link holds, in bytes. */
#define SX_AGENT_LINK_DATA_MAX 13600

/* As sx_agent_create_invitation / sx_agent_create_contact, with a short
 * link: data (data_len bytes, may be 0) is the link's user data.
 * *short_link gets the short link's text, *link (may be NULL) the full
 * link's; free both with sx_agent_free_text. An invitation's user data can
 * be replaced until it is joined; an address's at any time. SX_E_PROTOCOL
 * when the router has no short links; SX_E_USAGE with legacy_handshake. */
SX_API SX_MUST_CHECK sx_status sx_agent_create_invitation_short(sx_agent *a, const char *server,
                                                                const void *data, size_t data_len,
                                                                char conn_id[SX_AGENT_CONN_ID_TEXT],
                                                                char **link, char **short_link);
SX_API SX_MUST_CHECK sx_status sx_agent_create_contact_short(sx_agent *a, const char *server,
                                                             const void *data, size_t data_len,
                                                             char conn_id[SX_AGENT_CONN_ID_TEXT],
                                                             char **link, char **short_link);
/* Replaces the user data of conn_id's short link (LSET; the link itself
 * stays as it is). SX_E_USAGE when it has none; the router's AUTH for an
 * invitation already joined. */
SX_API SX_MUST_CHECK sx_status sx_agent_set_short_link_data(sx_agent *a, const char *conn_id,
                                                            const void *data, size_t data_len);
/* Gives the contact address conn_id a short link (the reference's
 * setConnShortLink on an address): for an address made without one
 * (sx_agent_create_contact) the link's keys are made and stored and its
 * data set on the address's queue (LSET: the address and its full link
 * stay as they are); for one that has a link only its user data is
 * replaced. data (data_len bytes, may be 0) is the user data; *short_link
 * gets the link's text, the same every time (sx_agent_free_text).
 * SX_E_USAGE when conn_id is not a contact address. */
SX_API SX_MUST_CHECK sx_status sx_agent_set_contact_short_link(sx_agent *a, const char *conn_id,
                                                               const void *data, size_t data_len,
                                                               char **short_link);
/* Removes conn_id's short link from its router (LDEL); the full link
 * still works. SX_E_USAGE when it has none. */
SX_API SX_MUST_CHECK sx_status sx_agent_delete_short_link(sx_agent *a, const char *conn_id);
/* Reads a contact address's short link without joining it: its user data
 * (*data, NUL-terminated beside *data_len bytes) and the full link (*link,
 * may be NULL); free both with sx_agent_free_text. An invitation's data is
 * only read by joining it (SX_E_USAGE). Errors: the router's (AUTH: the
 * link is unknown or deleted); SX_E_PROTOCOL or SX_E_AUTH, code "A_LINK",
 * when the data does not verify against the link's key. */
SX_API SX_MUST_CHECK sx_status sx_agent_short_link_data(sx_agent *a, const char *short_link,
                                                        char **link, char **data, size_t *data_len);
/* As sx_agent_short_link_data, with the link's entity id (*entity_id,
 * NUL-terminated beside *entity_id_len bytes, NULL when the link has none;
 * entity_id may be NULL). */
SX_API SX_MUST_CHECK sx_status sx_agent_short_link_info(sx_agent *a, const char *short_link,
                                                        char **link, char **data, size_t *data_len,
                                                        char **entity_id, size_t *entity_id_len);

/* A contact address's short link made in two steps (the reference's
 * prepareConnectionLink / createConnectionForLink): the link is known
 * before its queue exists. sx_agent_prepare_contact_link touches neither
 * the network nor the store: it makes the keys, the queue's address (its
 * sender id derived from the NEW command's correlation id, which the
 * router checks) and the signed fixed data, with entity_id (at most
 * SX_AGENT_LINK_ENTITY_MAX bytes; NULL: none) among them, and gives both
 * links' texts (*link may be NULL; free with sx_agent_free_text) and the
 * prepared state (*out, in memory only, free with
 * sx_agent_prepared_link_free). sx_agent_create_contact_for_link then
 * makes the connection and its queue with the link's data on the router
 * (data: the user data, as sx_agent_create_contact_short's) in one network
 * step; the address behaves as one made by sx_agent_create_contact_short.
 * Creating twice from one prepared state is refused by the router (AUTH:
 * the sender id is taken) and leaves no connection. */
#define SX_AGENT_LINK_ENTITY_MAX 255
typedef struct sx_agent_prepared_link sx_agent_prepared_link;
SX_API SX_MUST_CHECK sx_status sx_agent_prepare_contact_link(sx_agent *a, const char *server,
                                                             const void *entity_id,
                                                             size_t entity_id_len, char **link,
                                                             char **short_link,
                                                             sx_agent_prepared_link **out);
SX_API SX_MUST_CHECK sx_status sx_agent_create_contact_for_link(sx_agent *a,
                                                                const sx_agent_prepared_link *p,
                                                                const void *data, size_t data_len,
                                                                char conn_id[SX_AGENT_CONN_ID_TEXT]);
SX_API void sx_agent_prepared_link_free(sx_agent_prepared_link *p);

/* Joins a link (info_len bytes of info, at most 8192, go to the peer).
 * An invitation: secures the inviter's queue (SKEY), creates the reply
 * queue on `server` (NULL: the link's router) and sends the confirmation.
 * A contact address: creates our own one-time invitation (its queue on
 * `server`, NULL: the address's router) and sends it with info to the
 * address; when the owner accepts, a CONF of conn_id follows, as for an
 * invitation we made (sx_agent_allow, then CON).
 * A short link: its data is fetched (an invitation's with LKEY, which
 * secures the inviter's queue with our key, so no SKEY follows), decrypted
 * and verified (code "A_LINK" when it does not), then the full link it
 * holds is joined as above.
 * SX_E_PROTOCOL for a link that does not parse or whose versions we do not
 * speak; the router's errors otherwise. For an invitation the steps after
 * the keys are stored are a stored command: when the router cannot be
 * reached the call returns SX_OK and the agent retries them (an ERR event
 * of conn_id if they fail for good); after a crash the next sx_agent_open
 * takes them up (docs/AGENT.md, "Commands and crashes"). */
SX_API SX_MUST_CHECK sx_status sx_agent_join(sx_agent *a, const char *link, const char *server,
                                             const void *info, size_t info_len,
                                             char conn_id[SX_AGENT_CONN_ID_TEXT]);
/* The inviter accepts the confirmation conf_id of a CONF event with its own
 * info: secures the joiner's reply queue (SKEY) and sends its info; CON
 * follows when the router took it. Like sx_agent_join, its network steps
 * are a stored command (retried, resumed after a crash); a confirmation
 * allowed already is SX_E_USAGE. */
SX_API SX_MUST_CHECK sx_status sx_agent_allow(sx_agent *a, const char *conn_id, const char *conf_id,
                                              const void *info, size_t info_len);
/* Accepts the contact request inv_id of a REQ event: joins the invitation
 * it carries with our info (the reply queue on `server`, NULL: the
 * requester's router); conn_id gets the new connection, which ends with
 * INFO and CON once the requester allowed it. SX_E_USAGE for a request
 * unknown, rejected or accepted already. */
SX_API SX_MUST_CHECK sx_status sx_agent_accept_contact(sx_agent *a, const char *inv_id,
                                                       const char *server, const void *info,
                                                       size_t info_len,
                                                       char conn_id[SX_AGENT_CONN_ID_TEXT]);
/* ---- asynchronous calls (docs/AGENT.md, "Asynchronous calls") ----
 * As the synchronous calls above, but they touch the store only: the
 * network steps are a stored command run by the agent's sending thread,
 * retried while the router cannot be reached and taken up again by the
 * next sx_agent_open after a close or a crash. The end is an event with
 * the caller's corr_id (1..SX_AGENT_CORR_ID_MAX bytes of text, the
 * caller's to choose; SX_E_USAGE otherwise): INV, JOINED or OK, or ERR
 * (status, detail) when the step failed for good. */

/* A one-time invitation whose queue on `server` is made later: conn_id
 * gets the connection's id now; INV (body: the link) follows. */
SX_API SX_MUST_CHECK sx_status sx_agent_create_invitation_async(sx_agent *a, const char *corr_id,
                                                                const char *server,
                                                                char conn_id[SX_AGENT_CONN_ID_TEXT]);
/* A connection id to join a link with, known before the join (the
 * reference's prepareConnectionToJoin): stored, with no queue and no keys
 * yet; give it to sx_agent_join_prepared or sx_agent_join_async, or delete
 * it with sx_agent_delete. */
SX_API SX_MUST_CHECK sx_status sx_agent_prepare_join(sx_agent *a,
                                                     char conn_id[SX_AGENT_CONN_ID_TEXT]);
/* sx_agent_join of an invitation link (full, not short) into the prepared
 * connection conn_id. SX_E_USAGE when conn_id is not a prepared connection
 * (or was joined already) or the link is not an invitation. */
SX_API SX_MUST_CHECK sx_status sx_agent_join_prepared(sx_agent *a, const char *conn_id,
                                                      const char *link, const char *server,
                                                      const void *info, size_t info_len);
/* The same, asynchronous: JOINED (or ERR) of conn_id with corr_id follows. */
SX_API SX_MUST_CHECK sx_status sx_agent_join_async(sx_agent *a, const char *corr_id,
                                                   const char *conn_id, const char *link,
                                                   const char *server, const void *info,
                                                   size_t info_len);
/* sx_agent_allow, asynchronous: OK (or ERR) of conn_id with corr_id. */
SX_API SX_MUST_CHECK sx_status sx_agent_allow_async(sx_agent *a, const char *corr_id,
                                                    const char *conn_id, const char *conf_id,
                                                    const void *info, size_t info_len);
/* sx_agent_ack, asynchronous: OK (or ERR: an unknown message) of conn_id
 * with corr_id once the ack is stored and the router's ACK was sent. */
SX_API SX_MUST_CHECK sx_status sx_agent_ack_async(sx_agent *a, const char *corr_id,
                                                  const char *conn_id, int64_t msg_id);
/* sx_agent_accept_contact, asynchronous: conn_id gets the new
 * connection's id now; JOINED (or ERR) with corr_id follows. */
SX_API SX_MUST_CHECK sx_status sx_agent_accept_contact_async(sx_agent *a, const char *corr_id,
                                                             const char *inv_id,
                                                             const char *server, const void *info,
                                                             size_t info_len,
                                                             char conn_id[SX_AGENT_CONN_ID_TEXT]);

/* Forgets the contact request inv_id; the requester is not told.
 * SX_E_USAGE for a request unknown or gone. */
SX_API SX_MUST_CHECK sx_status sx_agent_reject_contact(sx_agent *a, const char *inv_id);
/* Queues a message (at most sx_agent_max_body bytes) for an established
 * connection; *msg_id (may be NULL) gets its id, SENT or MERR tells how it
 * went. Retried after network errors with back-off, also after a restart. */
SX_API SX_MUST_CHECK sx_status sx_agent_send(sx_agent *a, const char *conn_id, const void *body,
                                             size_t len, int64_t *msg_id);
/* A message of a batch for sx_agent_send_many: conn_id, body and len are
 * the caller's; msg_id and status are set by the call. */
typedef struct sx_agent_outmsg {
    const char *conn_id;
    const void *body;
    size_t len;
    int64_t msg_id;   /* its id (SENT / MERR tell how it went) */
    sx_status status; /* SX_OK when queued */
} sx_agent_outmsg;
/* Queues n messages (to one or several connections) in one store
 * transaction, in the array's order, which is their order of delivery on
 * each connection (the reference's sendMessages). Returns SX_OK when every
 * message was queued; otherwise the status of the first that was not
 * (each message's status says which were; the others are queued). */
SX_API SX_MUST_CHECK sx_status sx_agent_send_many(sx_agent *a, sx_agent_outmsg *msgs, size_t n);
/* Post-quantum encryption of one message (sx_agent_send_pq; the
 * reference's PQEncryption argument of sendMessage). */
typedef enum sx_agent_pq {
    SX_AGENT_PQ_KEEP = 0, /* as the connection's previous messages */
    SX_AGENT_PQ_ON,       /* turn PQ on: the connection takes the smaller PQ envelopes from
                           * this message on (for good), and the ratchet's KEM steps make
                           * the messages PQ once both sides asked for it */
    SX_AGENT_PQ_OFF,      /* turn PQ off from the next ratchet step (the envelope size stays) */
} sx_agent_pq;
/* sx_agent_send with a PQ choice; *pq_used (may be NULL) gets whether this
 * message is encrypted with PQ (the MSG event of the peer says the same).
 * SX_E_LIMIT when the body does not fit the connection's envelope (the
 * PQ one once PQ was asked for: at most sx_agent_max_body bytes). */
SX_API SX_MUST_CHECK sx_status sx_agent_send_pq(sx_agent *a, const char *conn_id, sx_agent_pq pq,
                                                const void *body, size_t len, int64_t *msg_id,
                                                bool *pq_used);
/* The longest message body. */
SX_API size_t sx_agent_max_body(void);
/* The application has the message msg_id of a MSG or RCVD event: the
 * router may delete it and send the queue's next one (for a RCVD, the sent
 * messages it confirmed ok are deleted from the store). */
SX_API SX_MUST_CHECK sx_status sx_agent_ack(sx_agent *a, const char *conn_id, int64_t msg_id);
/* Ratchet re-synchronisation (docs/AGENT.md): sends new ratchet keys to
 * the peer on every sending queue of the connection; the peer answers with
 * its own, both set up a new ratchet (RSYNC "agreed", then "ok" once a
 * message passes on it) and messages flow again. Allowed when the state is
 * "allowed" or "required", or with force in any state of an established
 * connection; SX_E_USAGE otherwise (also when the peer's agent is older
 * than version 3). The state becomes "started". */
SX_API SX_MUST_CHECK sx_status sx_agent_synchronize_ratchet(sx_agent *a, const char *conn_id,
                                                            bool force);

/* The versions of a connection (the reference's connAgentVersion of
 * ConnectionStats, and its ratchet's RatchetVersions). */
typedef struct sx_agent_conn_versions {
    /* The agent protocol version agreed in the handshake; each message of
     * the peer raises it to the highest version both agents now speak
     * (an agent upgraded on both sides), never lowers it. */
    uint16_t agent;
    /* The ratchet's e2e version (2, or 3: post-quantum capable), and the
     * highest our messages announce (the peer's announcement can raise
     * the current version up to ours); both 0 before the ratchet exists. */
    uint16_t e2e, e2e_max;
} sx_agent_conn_versions;
SX_API SX_MUST_CHECK sx_status sx_agent_connection_versions(sx_agent *a, const char *conn_id,
                                                            sx_agent_conn_versions *out);
/* SHA-256 of the connection's ratchet associated data (both parties'
 * identity keys from the handshake): the same on both ends of a
 * connection, so that two users can compare it out of band (the
 * reference's getConnectionRatchetAdHash). SX_E_USAGE before the ratchet
 * exists (an invitation not yet joined, a contact address). */
#define SX_AGENT_AD_HASH_LEN 32
SX_API SX_MUST_CHECK sx_status sx_agent_ratchet_ad_hash(sx_agent *a, const char *conn_id,
                                                        uint8_t out[SX_AGENT_AD_HASH_LEN]);

/* As sx_agent_ack, and sends the peer a delivery receipt of the message
 * (with rcpt_info, at most sx_agent_max_rcpt_info bytes, which the peer's
 * agent does not show), so that its agent reports RCVD. Only for a MSG
 * (SX_E_USAGE otherwise); no receipt is sent when the connection's agent
 * version is below 4 (the peer would not understand it). */
SX_API SX_MUST_CHECK sx_status sx_agent_ack_receipt(sx_agent *a, const char *conn_id,
                                                    int64_t msg_id, const void *rcpt_info,
                                                    size_t rcpt_info_len);
SX_API size_t sx_agent_max_rcpt_info(void);
/* Queue rotation (docs/AGENT.md, "Queue rotation"): moves the receiving
 * queue of an established connection to a new queue on `server` (NULL:
 * the current queue's router, whose password the store does not keep: give
 * the address when the router needs one to create queues): NEW there, then the peer is told (QADD),
 * answers with its sender key (QKEY), we secure the queue (KEY) and tell
 * it to use it (QUSE); its test message (QTEST) on the new queue ends the
 * switch and the old queue is deleted on its router. Messages go on
 * flowing meanwhile. SWITCH events report each phase; a restart resumes.
 * SX_E_USAGE ("PROHIBITED"): not established, a switch already running,
 * or sending prohibited by ratchet re-synchronisation. */
SX_API SX_MUST_CHECK sx_status sx_agent_switch_connection(sx_agent *a, const char *conn_id,
                                                          const char *server);
/* Aborts the switch of the connection while the peer has not yet been
 * told to use the new queue (before SWITCH rcv "secured"): the new queue is
 * deleted, the old one stays. SX_E_USAGE ("PROHIBITED") otherwise. The
 * peer's key for the deleted queue, when it comes, gives an ERR. */
SX_API SX_MUST_CHECK sx_status sx_agent_abort_switch(sx_agent *a, const char *conn_id);
/* Deletes the connection: its receiving queues on the routers (DEL) and
 * everything stored of it. */
SX_API SX_MUST_CHECK sx_status sx_agent_delete(sx_agent *a, const char *conn_id);

/* Suspends the connection's receiving queues on their routers (OFF; the
 * reference's suspendConnection): the routers deliver nothing more from
 * them and refuse the peer's sends (its MERR, AUTH); nothing is stored and
 * the queues stay until sx_agent_delete. SX_E_USAGE ("PROHIBITED") for a
 * connection with no receiving queue yet, ("SIMPLEX") for one that only
 * sends. */
SX_API SX_MUST_CHECK sx_status sx_agent_suspend_connection(sx_agent *a, const char *conn_id);
/* Deletes the connection once the messages queued on it were delivered
 * (the reference's deleteConnectionsAsync with waitDelivery): its receiving
 * queues are deleted on their routers at once (a DEL_RCVQ event for each,
 * with the router's answer), nothing more is received, and nothing new can
 * be sent; the messages already queued are still delivered, with their SENT
 * or MERR events, for up to opts.delete_wait_s (also across a restart);
 * then, or at once when none is pending, the connection and whatever is
 * left of it (undelivered messages included) are deleted: DEL_CONN.
 * sx_agent_connections shows it as "deleted" meanwhile. SX_E_USAGE for a
 * connection deleted already. */
SX_API SX_MUST_CHECK sx_status sx_agent_delete_wait(sx_agent *a, const char *conn_id);

/* Suspends the agent (an application going to the background; the
 * reference's suspendAgent): no more messages are received (the routers
 * keep them), and the deliveries pending go on for up to max_delay_ms
 * (a message being processed or sent finishes); then sending stops as well
 * and SUSPENDED is reported. max_delay_ms 0 stops both at once, with no
 * event. API calls still work: a message sent while suspended is stored
 * and goes after sx_agent_foreground. */
SX_API SX_MUST_CHECK sx_status sx_agent_suspend(sx_agent *a, int max_delay_ms);
/* Receiving and sending again (the reference's foregroundAgent). */
SX_API SX_MUST_CHECK sx_status sx_agent_foreground(sx_agent *a);

/* Takes one message from the connection's receiving queue with GET (the
 * reference's getConnectionMessages, for queues made without subscribing,
 * its SMOnlyCreate): for an agent opened with no_subscribe. A message that
 * came is processed as a subscribed one: its events follow (CONF, INFO,
 * CON, MSG, ...; a MSG is acknowledged with sx_agent_ack as usual) and
 * *got is true; false when the queue was empty. SX_E_USAGE when the queue
 * is subscribed in this agent, or its last MSG is not acknowledged yet;
 * the router's errors otherwise. The queue stays unsubscribed (also after
 * sx_agent_subscribe_all) until the agent is opened again. */
SX_API SX_MUST_CHECK sx_status sx_agent_get_message(sx_agent *a, const char *conn_id, bool *got);

/* Subscribes the receiving queues of the store this agent does not hold
 * yet and takes up the deliveries pending in it: what another process on
 * the same store (an `invite`, a `join`, a `send`) added. */
SX_API SX_MUST_CHECK sx_status sx_agent_subscribe_all(sx_agent *a);
/* Subscribes the receiving queues of n chosen connections (the reference's
 * subscribeConnections), for an agent opened with no_subscribe or after
 * sx_agent_unsubscribe, END or a refused subscription: those not held are
 * subscribed (a router's refusal comes later as an ERR of the connection),
 * and the connections' pending deliveries resume. results (may be NULL)
 * gets each connection's status (SX_E_USAGE: not a connection of the
 * store); the call returns the first that is not SX_OK. A connection
 * subscribed already is SX_OK. */
SX_API SX_MUST_CHECK sx_status sx_agent_subscribe(sx_agent *a, const char *const *conn_ids, size_t n,
                                                  sx_status *results);
/* Lets go of the receiving queues of n connections (nothing is sent to the
 * routers, which keep their messages until a subscription comes again);
 * results and the return value as sx_agent_subscribe. */
SX_API SX_MUST_CHECK sx_status sx_agent_unsubscribe(sx_agent *a, const char *const *conn_ids,
                                                    size_t n, sx_status *results);
/* Waits until no delivery is pending (or a send queue is waiting to retry
 * only), up to timeout_ms: SX_OK when done, SX_E_WOULD_BLOCK when not. */
SX_API SX_MUST_CHECK sx_status sx_agent_flush(sx_agent *a, int timeout_ms);

/* The next event, waiting up to timeout_ms (negative: no limit): SX_OK with
 * kind NONE when none came in time. *ev is overwritten: clear it first if
 * it held a body. */
SX_API SX_MUST_CHECK sx_status sx_agent_next(sx_agent *a, int timeout_ms, sx_agent_event *ev);
/* A descriptor that poll(2), select(2) or epoll see readable while an
 * event waits in the queue (it stops being readable when sx_agent_next has
 * taken the last one): wait on it beside the application's other
 * descriptors, then take the events with sx_agent_next(a, 0, &ev) until
 * kind is NONE. The agent owns it (closed by sx_agent_close): only poll it,
 * never read, write or close it. -1 for NULL. */
SX_API int sx_agent_event_fd(const sx_agent *a);
/* Frees the body, receipts and ids and zeroes ev. Accepts NULL. */
SX_API void sx_agent_event_clear(sx_agent_event *ev);
SX_API const char *sx_agent_event_name(sx_agent_event_kind kind);

/* One line per connection. */
typedef struct sx_agent_conn_info {
    char id[SX_AGENT_CONN_ID_TEXT];
    const char *state; /* "new", "rcv", "snd", "duplex", "contact", "deleted" */
    bool pq;
    const char *rsync; /* the ratchet re-synchronisation state, as in RSYNC events */
    int64_t user_id;   /* the user owning it */
} sx_agent_conn_info;
/* The connections of every user, oldest first (*out malloc'd, free(3) it). */
SX_API SX_MUST_CHECK sx_status sx_agent_connections(sx_agent *a, sx_agent_conn_info **out, size_t *n);
/* The same for one user (0: every user). */
SX_API SX_MUST_CHECK sx_status sx_agent_user_connections(sx_agent *a, int64_t user_id,
                                                         sx_agent_conn_info **out, size_t *n);

/* ---- users (the reference's createUser / deleteUser) ---- */
/* The store's default user: the one the calls without a user act for. */
SX_API int64_t sx_agent_default_user(const sx_agent *a);
/* A new user (*user_id: its id, kept in the store). */
SX_API SX_MUST_CHECK sx_status sx_agent_user_create(sx_agent *a, int64_t *user_id);
/* Deletes the user and every connection it owns. del_queues: their
 * receiving queues are deleted on their routers first (DEL; a router that
 * cannot be reached keeps its queue, the connection goes all the same),
 * then the DEL_USER event; false: the queues are only let go here (no
 * router is told, the peers' messages stay there). SX_E_USAGE for the
 * default user or an unknown one. */
SX_API SX_MUST_CHECK sx_status sx_agent_user_delete(sx_agent *a, int64_t user_id, bool del_queues);
/* As sx_agent_create_invitation, sx_agent_create_contact, sx_agent_join
 * and sx_agent_accept_contact, the new connection owned by user_id
 * (SX_E_USAGE for an unknown user). */
SX_API SX_MUST_CHECK sx_status sx_agent_create_invitation_for_user(
    sx_agent *a, int64_t user_id, const char *server, char conn_id[SX_AGENT_CONN_ID_TEXT],
    char **link);
SX_API SX_MUST_CHECK sx_status sx_agent_create_contact_for_user(
    sx_agent *a, int64_t user_id, const char *server, char conn_id[SX_AGENT_CONN_ID_TEXT],
    char **link);
SX_API SX_MUST_CHECK sx_status sx_agent_join_for_user(sx_agent *a, int64_t user_id,
                                                      const char *link, const char *server,
                                                      const void *info, size_t info_len,
                                                      char conn_id[SX_AGENT_CONN_ID_TEXT]);
SX_API SX_MUST_CHECK sx_status sx_agent_accept_contact_for_user(
    sx_agent *a, int64_t user_id, const char *inv_id, const char *server, const void *info,
    size_t info_len, char conn_id[SX_AGENT_CONN_ID_TEXT]);

/* The agent's sends so far (since sx_agent_open): made directly, through a
 * proxy, and made directly after the proxy could not use the
 * destination's hosts (the fallback). */
typedef struct sx_agent_stats {
    uint64_t sent_direct, sent_proxied, proxy_fallbacks;
} sx_agent_stats;
SX_API void sx_agent_get_stats(sx_agent *a, sx_agent_stats *out);

SX_API void sx_agent_free_text(char *text);

#ifdef __cplusplus
}
#endif

#endif
