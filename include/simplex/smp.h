/* SMP client: queues on SimpleX messaging routers, from a program.
 *
 * An SMP queue is a one-way mailbox on a router. Its recipient creates it
 * and holds the recipient side (keys to receive, acknowledge and delete,
 * and the secret that opens the router's encryption of each message); the
 * sender side (the sender id and, once the queue is secured, the sender's
 * key) is handed to whoever will send. Both sides can be kept in small text
 * files, the queue files of the `smp` tool.
 *
 *     sx_smp_conn *c;  sx_smp_queue *rq, *sq;  sx_smp_event ev;
 *     sx_smp_connect("smp://<fingerprint>:<password>@host", NULL, &c);
 *     sx_smp_queue_create(c, &rq);              // recipient side
 *     sx_smp_queue_sender(rq, &sq);             // sender side, to hand over
 *     sx_smp_queue_secure(c, sq);               // sender: key the queue
 *     sx_smp_send(c, sq, "hello", 5);
 *     sx_smp_subscribe(c, rq);
 *     sx_smp_receive(c, 5000, &ev);             // ev.kind == SX_SMP_EVENT_MESSAGE
 *     sx_smp_ack(c, rq, &ev);  sx_smp_event_clear(&ev);
 *
 * The sx_smp_conn calls block until the router answered or the
 * connection's timeout passed. The event-loop flavour (sx_smp_aconn, at the
 * end of this file) does the same operations without blocking, on a loop of
 * simplex/loop.h, with the same queues and events. Errors: the status class (include/simplex/status.h), with
 * sx_error_message() naming the cause and sx_error_code() the router's
 * error ("AUTH", "QUOTA", "NO_MSG", "CMD SYNTAX", ...). Router errors map
 * to classes: AUTH -> SX_E_AUTH, QUOTA and LARGE_MSG -> SX_E_LIMIT, others
 * SX_E_PROTOCOL; network failures and timeouts are SX_E_IO, a connection
 * the router closed SX_E_CLOSED.
 *
 * Threads: a connection and the queues used with it belong to one thread at
 * a time; different connections may be used on different threads at once.
 * No call changes process-wide state (signals included: writes to a closed
 * connection do not raise SIGPIPE).
 *
 * Ownership: objects returned through `**out` belong to the caller and are
 * released with their _free / _close function; pointer arguments are
 * borrowed for the call unless a function says it keeps them. */
#ifndef SIMPLEX_SMP_H
#define SIMPLEX_SMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/loop.h"
#include "simplex/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sx_smp_conn sx_smp_conn;   /* a connection to one router */
typedef struct sx_smp_queue sx_smp_queue; /* one side of one queue */

typedef enum sx_smp_role {
    SX_SMP_ROLE_RECIPIENT = 1,
    SX_SMP_ROLE_SENDER = 2,
} sx_smp_role;

/* ---- connections ---- */

/* A messaging service's credentials: its TLS client certificate chain (1 to
 * 4 certificates) and the leaf's private key (Ed25519 or Ed448), PEM files.
 * The router knows the service by the SHA-256 fingerprint of the chain's
 * identity certificate (the second, or the only one) and gives it a
 * ServiceId that stays the same across connections and router restarts. */
typedef struct sx_smp_service_creds {
    const char *cert_file; /* the leaf certificate */
    const char *ca_file;   /* the rest of the chain; NULL: the leaf alone */
    const char *key_file;  /* the leaf's private key */
    /* In memory instead of files (used when cert_file is NULL; the pool's
     * per-router credentials, sx_smp_pool_opts.service_creds): the one
     * self-signed certificate (DER) and its private key (PKCS#8 DER). */
    const uint8_t *cert_der;
    size_t cert_der_len;
    const uint8_t *key_der;
    size_t key_der_len;
} sx_smp_service_creds;

typedef enum sx_smp_socks_mode {
    SX_SMP_SOCKS_ALWAYS = 0,
    SX_SMP_SOCKS_ONION = 1,
} sx_smp_socks_mode;

/* Which of a router's hosts to connect to, when its address lists several
 * (the reference's host modes): the first .onion host when a socks_proxy
 * is set and the first other (public) host when not (the default, the
 * reference's "onion" setting); always the first .onion host; always the
 * first public host. */
typedef enum sx_smp_host_mode {
    SX_SMP_HOSTS_ONION_VIA_SOCKS = 0,
    SX_SMP_HOSTS_ONION = 1,
    SX_SMP_HOSTS_PUBLIC = 2,
} sx_smp_host_mode;

typedef struct sx_smp_conn_opts {
    int timeout_ms;        /* each network step (connect, handshake, each answer); 0: 15000 */
    unsigned keepalive_ms; /* PING after this much silence while waiting in receive; 0: 600000 */
    /* NULL: an ordinary client. Set: the connection is a messaging service
     * (from SMP v19; with an older router it stays an ordinary connection,
     * see sx_smp_conn_service_id): the queues it creates or subscribes to
     * are associated with the service, and sx_smp_service_subscribe
     * resubscribes all of them with one command. A router that refuses the
     * service fails the connect with SX_E_AUTH. All three flavours: the
     * blocking one, sx_smp_aconn and the pool (sx_smp_pool_opts.conn). */
    const sx_smp_service_creds *service;
    /* NULL: connect directly. Set: through this SOCKS5 proxy (Tor, for
     * one), written as the reference's socks proxy setting:
     * "[user:password@|@]host[:port]" with a numeric host (IPv4, or IPv6 in
     * brackets; 127.0.0.1 and 9050 when left out). The router's host goes to
     * the proxy by name, so a .onion host is resolved there. Without
     * "user:password@" each router's connections get a username of their
     * own (the reference's isolation by authentication: Tor then gives them
     * separate circuits); "@" offers no authentication. Copied at connect
     * (the pool: at sx_smp_pool_new). A malformed one: SX_E_USAGE. */
    const char *socks_proxy;
    /* With socks_proxy: every connection through it (SX_SMP_SOCKS_ALWAYS,
     * the default) or only those to .onion hosts (SX_SMP_SOCKS_ONION). */
    sx_smp_socks_mode socks_mode;
    /* The host chosen by host_mode; when the address has no host of that
     * kind: its first host (required_host_mode false, the default) or the
     * connect fails with SX_E_USAGE, code "HOST" (the reference's
     * incompatible host). */
    sx_smp_host_mode host_mode;
    bool required_host_mode;
} sx_smp_conn_opts;

/* Connects to the router at `server` ("smp://<fingerprint>[:<password>]@<host>[,<host>...][:<port>]";
 * with several hosts, the one opts->host_mode chooses; with several ports, the first), checks that its identity
 * certificate has the fingerprint, and runs the SMP handshake. The password,
 * if any, is kept for sx_smp_queue_create. opts may be NULL.
 * Errors: SX_E_USAGE (the address does not parse), SX_E_IO (cannot connect,
 * timeout), SX_E_AUTH (the router's identity does not match the
 * fingerprint), SX_E_PROTOCOL (not an SMP router, no common version). */
SX_API SX_MUST_CHECK sx_status sx_smp_connect(const char *server, const sx_smp_conn_opts *opts,
                                              sx_smp_conn **out);
/* Closes the connection and frees it; subscriptions end. Accepts NULL. */
SX_API void sx_smp_close(sx_smp_conn *c);
/* The SMP version agreed with the router. */
SX_API unsigned sx_smp_conn_version(const sx_smp_conn *c);
/* The longest message body sx_smp_send accepts on this connection. */
SX_API size_t sx_smp_conn_max_body(const sx_smp_conn *c);

/* ---- queues ---- */

/* Creates a queue on the connection's router (keys made here: Ed25519 to
 * authorize, X25519 for the secret that opens messages) and returns its
 * recipient side. The queue is not subscribed, except on a service
 * connection: a service's queues are created subscribed and associated
 * with the service, and the connection holds the queue as sx_smp_subscribe
 * does. The router's password from
 * the address is sent when there is one; a router that requires one
 * answers AUTH without it (SX_E_AUTH, code "AUTH"). */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_create(sx_smp_conn *c, sx_smp_queue **out);

/* The sender side of a recipient's queue: the router's address without its
 * password, the sender id, no key yet. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_sender(const sx_smp_queue *rcv, sx_smp_queue **out);

/* Sender side: makes the sender's key if it has none (*created tells; may be
 * NULL). A program that keeps queues in files saves the queue after this and
 * before sx_smp_queue_secure, so that a secure whose answer is lost can be
 * repeated with the same key. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_make_sender_key(sx_smp_queue *snd, bool *created);

/* Sender side: secures the queue with the sender's key (made first if
 * missing), after which only that key can send (SKEY; routers of SMP v9 and
 * later). Repeating it with the same key succeeds. SX_E_PROTOCOL with an
 * older router, SX_E_AUTH when the queue is secured with another key or
 * gone. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_secure(sx_smp_conn *c, sx_smp_queue *snd);

/* Sender side: sends `len` bytes (at most sx_smp_conn_max_body). SX_E_LIMIT
 * for a body too long (code "LARGE_MSG" when the router said so) or a full
 * queue (code "QUOTA": the recipient must receive first); SX_E_AUTH when
 * the queue is secured and this side has no key or another one, or is gone. */
SX_API SX_MUST_CHECK sx_status sx_smp_send(sx_smp_conn *c, const sx_smp_queue *snd, const void *body,
                                           size_t len);
/* The same with the notification flag: the router tells the queue's
 * notifier subscriber (NMSG) that a message came. */
SX_API SX_MUST_CHECK sx_status sx_smp_send_notify(sx_smp_conn *c, const sx_smp_queue *snd, const void *body,
                                                  size_t len);

/* ---- sending through a proxy (2-hop routing) ---- */

/* Sender side, through another router: the router of `proxy` (any SMP router
 * this program is connected to, v8 or later) forwards the command to the
 * queue's router, so the queue's router never learns this program's network
 * address and the proxy never sees the queue, the command or the answer,
 * only which router they go to. The first use for a destination router asks
 * the proxy to connect to it and checks that router's identity (the chain of
 * certificates and the signed session key the proxy relays) against the
 * fingerprint in the queue's address; the proxy session is kept on `proxy`
 * for later sends to that router, and opened again once if the proxy has
 * forgotten it. The proxy's password, if its address has one, is sent with
 * the request. Answers and errors are those of sx_smp_send and
 * sx_smp_queue_secure, plus the proxy's own: code "PROXY BROKER NETWORK" or
 * "PROXY BROKER TIMEOUT" (SX_E_IO: it cannot reach the destination),
 * "PROXY BASIC_AUTH" (its password is needed), other "PROXY ..." codes
 * (SX_E_PROTOCOL); SX_E_AUTH when the destination's identity does not
 * match. */
SX_API SX_MUST_CHECK sx_status sx_smp_send_proxied(sx_smp_conn *proxy, const sx_smp_queue *snd, const void *body,
                                                   size_t len);
SX_API SX_MUST_CHECK sx_status sx_smp_queue_secure_proxied(sx_smp_conn *proxy, sx_smp_queue *snd);

/* Recipient side: deletes the queue and its messages on the router; a
 * subscription of it on this connection ends (the queue may be freed). */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_delete(sx_smp_conn *c, sx_smp_queue *rcv);

/* Frees a queue side, wiping its keys. Accepts NULL. A queue still
 * subscribed on a connection (see sx_smp_subscribe) must not be freed. */
SX_API void sx_smp_queue_free(sx_smp_queue *q);

SX_API sx_smp_role sx_smp_queue_role(const sx_smp_queue *q);
/* The router's address as stored (with the password on the recipient side). */
SX_API const char *sx_smp_queue_server(const sx_smp_queue *q);
/* Sender side: whether it has its key (made, or secured with). */
SX_API bool sx_smp_queue_has_sender_key(const sx_smp_queue *q);

/* ---- receiving ---- */

typedef enum sx_smp_event_kind {
    SX_SMP_EVENT_NONE = 0,   /* nothing arrived in time (receive) / the queue is empty (get) */
    SX_SMP_EVENT_MESSAGE,    /* a message: body, id, timestamp; acknowledge it */
    SX_SMP_EVENT_QUOTA,      /* the router's mark that the queue was full; acknowledge it */
    SX_SMP_EVENT_UNREADABLE, /* a message that did not decrypt; acknowledge it to go on */
    SX_SMP_EVENT_END,        /* another connection subscribed to the queue: this one no longer receives */
    SX_SMP_EVENT_DELETED,    /* the queue was deleted */
    /* Service connections (queue NULL): the messages waiting when
     * sx_smp_service_subscribe was answered have all been sent ... */
    SX_SMP_EVENT_SERVICE_ALL,
    /* ... and another connection of the same service took its queues: this
     * one no longer receives for them (service_count of them). */
    SX_SMP_EVENT_SERVICE_END,
} sx_smp_event_kind;

#define SX_SMP_MSG_ID_MAX 32

typedef struct sx_smp_event {
    sx_smp_event_kind kind;
    /* The subscribed queue it concerns (borrowed). */
    sx_smp_queue *queue;
    /* Message kinds: the router's message id, and when the router received
     * the message (seconds since 1970). */
    uint8_t msg_id[SX_SMP_MSG_ID_MAX];
    size_t msg_id_len;
    int64_t timestamp;
    /* The sender asked for a push notification. */
    bool notification;
    /* SX_SMP_EVENT_MESSAGE: the message, owned by the event. */
    uint8_t *body;
    size_t body_len;
    /* SX_SMP_EVENT_SERVICE_END: how many queues moved. */
    int64_t service_count;
} sx_smp_event;

/* Recipient side: subscribes to the queue on this connection, so that its
 * messages arrive through sx_smp_receive. The connection keeps a pointer
 * to rcv while it is subscribed: until the queue is deleted, an END or
 * DELETED event of it was returned, or the connection is closed (a
 * subscribe that fails keeps none). A message already waiting arrives as
 * the next event. */
SX_API SX_MUST_CHECK sx_status sx_smp_subscribe(sx_smp_conn *c, sx_smp_queue *rcv);

/* The next event of any queue subscribed on this connection, waiting up to
 * timeout_ms (negative: no limit; the connection is kept alive meanwhile).
 * SX_OK with ev->kind SX_SMP_EVENT_NONE when nothing came in time. The
 * router sends a queue's next message only after the last one was
 * acknowledged. *ev is overwritten: clear it first if it held a message. */
SX_API SX_MUST_CHECK sx_status sx_smp_receive(sx_smp_conn *c, int timeout_ms, sx_smp_event *ev);

/* Service connections: the ServiceId the router gave (*len bytes), or NULL
 * with *len 0 for an ordinary connection. */
SX_API const uint8_t *sx_smp_conn_service_id(const sx_smp_conn *c, size_t *len);

/* Service connections: subscribes to every queue associated with the
 * service at once (SUBS), e.g. after a reconnect. rcvs[0..n) are the
 * service's recipient queues the program knows: they are registered with
 * the connection as sx_smp_subscribe does (same lifetime rules), and their
 * count and ids hash are sent. *count: how many queues the router has for
 * the service. Their waiting messages then arrive through sx_smp_receive,
 * followed by an SX_SMP_EVENT_SERVICE_ALL event. SX_E_USAGE on an ordinary
 * connection. */
SX_API SX_MUST_CHECK sx_status sx_smp_service_subscribe(sx_smp_conn *c, sx_smp_queue *const *rcvs, size_t n,
                                                        int64_t *count);

/* Recipient side, without subscribing: takes the queue's next message if
 * there is one (SX_SMP_EVENT_NONE when it is empty). Cannot be mixed with a
 * subscription of the same queue on the same connection. */
SX_API SX_MUST_CHECK sx_status sx_smp_get(sx_smp_conn *c, sx_smp_queue *rcv, sx_smp_event *ev);

/* Acknowledges a message-kind event of rcv (MESSAGE, QUOTA, UNREADABLE):
 * the router deletes it and may send the next one. SX_E_PROTOCOL with code
 * "NO_MSG" when the router has no such message. */
SX_API SX_MUST_CHECK sx_status sx_smp_ack(sx_smp_conn *c, sx_smp_queue *rcv, const sx_smp_event *ev);

/* Wipes and frees the body of ev and zeroes it. Accepts NULL. */
SX_API void sx_smp_event_clear(sx_smp_event *ev);

/* ---- queue files ----
 * The text format of the `smp` tool (mode 0600, `key: value` lines, read
 * strictly: a truncated or altered file is refused). */

/* Reads a queue side from path. SX_E_IO when the file cannot be read,
 * SX_E_PROTOCOL when it is not a valid queue file (the message names the
 * line), SX_E_LIMIT when it is too large. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_load(const char *path, sx_smp_queue **out);

/* Writes q to path with mode 0600. Without replace the file must not exist
 * (SX_E_USAGE when it does); with replace the new file takes the old one's
 * place atomically. SX_E_IO when it cannot be written. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_save(const sx_smp_queue *q, const char *path, bool replace);

/* The text of q into a new buffer (*text, NUL-terminated, *len bytes); it may
 * hold private keys: release it with sx_smp_text_free. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_format(const sx_smp_queue *q, char **text, size_t *len);
/* Parses the text of a queue file. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_parse(const char *text, size_t len, sx_smp_queue **out);
/* Wipes and frees a buffer from sx_smp_queue_format. Accepts NULL. */
SX_API void sx_smp_text_free(char *text, size_t len);

/* ---- event-loop flavour ----
 * The same operations on a connection driven by an sx_loop: each returns at
 * once and its outcome comes to a callback from the loop, never from inside
 * the call that started it. Everything here belongs to the loop's thread.
 * A call that returns an error has no callback. Queues passed to an
 * operation must stay valid until its callback ran; a subscribed queue
 * until it is deleted, its END or DELETED event was delivered, or the
 * connection has ended. During a callback that
 * reports a failure, sx_error_message() and sx_error_code() describe it. */

typedef struct sx_smp_aconn sx_smp_aconn;

typedef struct sx_smp_aconn_callbacks {
    /* Required. The handshakes finished: SX_OK, or why not (the connection
     * is then gone). */
    void (*connected)(sx_smp_aconn *c, sx_status status, void *arg);
    /* An event of a queue subscribed on this connection (any kind but
     * NONE). ev is the library's during the call: to keep the body, take
     * ev->body (free it with free(3)) and set it to NULL. May be NULL. */
    void (*event)(sx_smp_aconn *c, sx_smp_event *ev, void *arg);
    /* The connection ended after connected(SX_OK): SX_OK after
     * sx_smp_aconn_close, otherwise why (SX_E_CLOSED, SX_E_IO, ...). Every
     * operation still waiting got its callback with an error before. May
     * be NULL. */
    void (*closed)(sx_smp_aconn *c, sx_status status, void *arg);
    void *arg;
} sx_smp_aconn_callbacks;

/* The outcome of an operation, called exactly once. */
typedef void (*sx_smp_done_fn)(sx_smp_aconn *c, sx_status status, void *arg);
/* The outcome of sx_smp_aconn_create: with SX_OK, q is the new recipient
 * side and belongs to the callee (sx_smp_queue_free); NULL otherwise. */
typedef void (*sx_smp_created_fn)(sx_smp_aconn *c, sx_status status, sx_smp_queue *q, void *arg);

/* Starts connecting (name resolution, TCP, TLS and SMP handshakes without
 * blocking the loop); the outcome comes to cbs->connected. After a connect
 * that returned SX_OK, exactly one of connected(error) or closed() ends the
 * connection, and c must not be used after that callback returned. cbs is
 * copied; opts may be NULL (timeout_ms bounds the whole connect). Errors
 * (no callback): SX_E_USAGE (bad address, no connected callback),
 * SX_E_NOMEM, SX_E_INTERNAL. */
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_connect(sx_loop *loop, const char *server, const sx_smp_conn_opts *opts,
                                                    const sx_smp_aconn_callbacks *cbs, sx_smp_aconn **out);
/* Ends the connection from the loop: waiting operations get SX_E_CLOSED,
 * then closed(SX_OK) (or connected(SX_E_CLOSED) while still connecting).
 * Does nothing when it is already ending. */
SX_API void sx_smp_aconn_close(sx_smp_aconn *c);
/* The SMP version agreed, once connected (0 before). */
SX_API unsigned sx_smp_aconn_version(const sx_smp_aconn *c);
/* The longest body sx_smp_aconn_send accepts, once connected (0 before). */
SX_API size_t sx_smp_aconn_max_body(const sx_smp_aconn *c);

/* As sx_smp_queue_create, sx_smp_queue_secure, sx_smp_send, sx_smp_subscribe,
 * sx_smp_ack and sx_smp_queue_delete. Errors before anything is sent (no
 * callback): SX_E_USAGE (not connected yet, closing, wrong side of the
 * queue, no callback where one is required), SX_E_CLOSED (the connection is
 * ending), SX_E_LIMIT (a body too long), SX_E_NOMEM. cb may be NULL where it is an sx_smp_done_fn. Messages of a
 * subscribed queue arrive through cbs->event; the next one after
 * sx_smp_aconn_ack. */
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_create(sx_smp_aconn *c, sx_smp_created_fn cb, void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_secure(sx_smp_aconn *c, sx_smp_queue *snd, sx_smp_done_fn cb, void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_send(sx_smp_aconn *c, const sx_smp_queue *snd, const void *body,
                                                 size_t len, sx_smp_done_fn cb, void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_subscribe(sx_smp_aconn *c, sx_smp_queue *rcv, sx_smp_done_fn cb,
                                                      void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_ack(sx_smp_aconn *c, sx_smp_queue *rcv, const sx_smp_event *ev,
                                                sx_smp_done_fn cb, void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_delete(sx_smp_aconn *c, sx_smp_queue *rcv, sx_smp_done_fn cb,
                                                   void *arg);
/* Service connections (sx_smp_conn_opts.service, as for sx_smp_connect;
 * a fresh service key per connection): the ServiceId, NULL before
 * connected or on an ordinary connection. Queues created on a service
 * connection are subscribed and held as sx_smp_aconn_subscribe does. */
SX_API const uint8_t *sx_smp_aconn_service_id(const sx_smp_aconn *c, size_t *len);
/* The outcome of sx_smp_aconn_service_subscribe: with SX_OK, count is how
 * many queues the router has for the service. */
typedef void (*sx_smp_service_subscribed_fn)(sx_smp_aconn *c, sx_status status, int64_t count, void *arg);
/* As sx_smp_service_subscribe: rcvs[0..n) are registered (until the
 * callback reports a failure: then let go of again), one SUBS carries
 * their count and ids hash; the waiting messages then come through
 * cbs->event, then an SX_SMP_EVENT_SERVICE_ALL event (queue NULL);
 * SX_SMP_EVENT_SERVICE_END when another connection of the service takes
 * the queues. SX_E_USAGE on an ordinary connection or without cb. */
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_service_subscribe(sx_smp_aconn *c, sx_smp_queue *const *rcvs, size_t n,
                                                              sx_smp_service_subscribed_fn cb, void *arg);
/* As sx_smp_send_proxied and sx_smp_queue_secure_proxied, through the
 * router of `proxy`: proxy sessions are kept on that connection. `body` is
 * copied. The queue must stay valid until the callback ran. */
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_send_proxied(sx_smp_aconn *proxy, const sx_smp_queue *snd,
                                                         const void *body, size_t len, sx_smp_done_fn cb, void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_aconn_secure_proxied(sx_smp_aconn *proxy, sx_smp_queue *snd, sx_smp_done_fn cb,
                                                           void *arg);

/* ---- connection pool ----
 * Subscriptions of many queues on many routers over one shared connection
 * per router, on a loop of simplex/loop.h (everything here belongs to the
 * loop's thread). The pool connects to a router when a queue of it is first
 * subscribed or sent to, and keeps the connection while it has queues
 * subscribed. When a connection drops, its subscriptions become pending: the
 * pool reconnects after retry_min_ms, doubling the wait after each failed
 * attempt up to retry_max_ms, and subscribes them again, up to sub_window
 * SUB commands in flight at once, batched into as few 16 KiB blocks as fit.
 *
 * Each connection is a session with its own number; what the pool reports
 * carries it, and an acknowledgement of a message delivered on a session
 * that has ended is refused (SX_E_CLOSED: the router sends the message
 * again on the new session), so nothing of an old session acts on a new
 * one. Events reach the callback from the loop, never from inside a pool
 * call, in the order the router sent them (so in order per queue).
 *
 *     sx_smp_pool *p;
 *     sx_smp_pool_new(loop, NULL, on_event, ctx, &p);
 *     sx_smp_pool_subscribe(p, rq);   // rq: a recipient side, any router
 *     ... on_event: SX_SMP_POOL_MESSAGE -> sx_smp_pool_ack(p, e, NULL, NULL)
 */

typedef struct sx_smp_pool sx_smp_pool;

/* The longest router address text the pool reports, with its NUL. */
#define SX_SMP_SERVER_TEXT_MAX 1024

typedef enum sx_smp_pool_event_kind {
    SX_SMP_POOL_CONNECTED = 1,  /* a connection (session) to `server` is up */
    SX_SMP_POOL_DISCONNECTED,   /* it ended (status: why); its subscriptions are pending */
    SX_SMP_POOL_CONNECT_FAILED, /* an attempt failed (status); retried while queues wait */
    SX_SMP_POOL_SUBSCRIBED,     /* `queue` is subscribed on `session` */
    SX_SMP_POOL_SUB_FAILED,     /* the router refused the subscription (status, sx_error_code());
                                 * the pool has let go of `queue` */
    SX_SMP_POOL_MESSAGE,        /* ev of `queue`: MESSAGE, QUOTA or UNREADABLE (acknowledge it),
                                 * END or DELETED (the pool has let go of `queue`, or of
                                 * `notifier` for a notifier subscription) */
    SX_SMP_POOL_NOTIFICATION,   /* NMSG of `notifier`: nonce and encrypted metadata */
    /* The pool as a service (sx_smp_pool_opts.conn.service), no queue: */
    SX_SMP_POOL_SERVICE_SUBSCRIBED,  /* the router answered the pool's SUBS / NSUBS: service_count
                                      * queues, service_hash (its figures) against service_expected
                                      * and service_expected_hash (the pool's); they differ when
                                      * queues changed behind the pool's back (see docs/API.md) */
    SX_SMP_POOL_SERVICE_ALL,         /* every message waiting at that SUBS has been delivered */
    SX_SMP_POOL_SERVICE_END,         /* another connection of the service took its queues (ENDS,
                                      * service_count of them); the pool subscribes them again on
                                      * its next connection to that router */
    SX_SMP_POOL_SERVICE_UNAVAILABLE, /* the router has none of the queues the pool associated, gave
                                      * another ServiceId, or refused the SUBS (status): the pool
                                      * subscribes each queue again, associating it anew */
} sx_smp_pool_event_kind;

/* The notifier side of a queue, for a notification server: see
 * sx_smp_notifier_new. */
typedef struct sx_smp_notifier sx_smp_notifier;

typedef struct sx_smp_pool_event {
    sx_smp_pool_event_kind kind;
    const char *server;        /* the router, without password (borrowed for the call) */
    uint64_t session;          /* the connection it concerns: 1, 2, ... in the pool */
    sx_status status;          /* DISCONNECTED, CONNECT_FAILED, SUB_FAILED */
    sx_smp_queue *queue;       /* SUBSCRIBED, SUB_FAILED, MESSAGE (borrowed) */
    sx_smp_event *ev;          /* MESSAGE: as sx_smp_aconn_callbacks.event (take ev->body to keep it) */
    sx_smp_notifier *notifier; /* notifier subscriptions: SUBSCRIBED, SUB_FAILED, MESSAGE (END or
                                * DELETED), NOTIFICATION (borrowed); queue is then NULL */
    const uint8_t *nonce;      /* NOTIFICATION: 24 bytes (borrowed for the call) */
    const uint8_t *meta;       /* NOTIFICATION: the metadata as the router encrypted it */
    size_t meta_len;
    /* SERVICE_SUBSCRIBED, SERVICE_UNAVAILABLE: how many queues the pool
     * expected the router to have for the service, and the XOR of the MD5
     * of their ids (recipient ids; notifier ids for a notifier service);
     * SERVICE_SUBSCRIBED, SERVICE_END: the router's figures. */
    int64_t service_expected, service_count;
    uint8_t service_expected_hash[16], service_hash[16];
    /* CONNECTED of a service pool: the ServiceId the router gave in its
     * handshake (borrowed for the call); length 0 when the router took the
     * connection as an ordinary client's (a version without services). */
    const uint8_t *service_id;
    size_t service_id_len;
    /* SUBSCRIBED of a service pool: the router associated the queue with
     * the pool's service (SOK with its ServiceId). */
    bool service_assoc;
} sx_smp_pool_event;

typedef void (*sx_smp_pool_event_fn)(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg);
/* The outcome of sx_smp_pool_send / sx_smp_pool_ack, called exactly once. */
typedef void (*sx_smp_pool_done_fn)(sx_smp_pool *p, sx_status status, void *arg);

/* When sx_smp_pool_send goes through a proxy router (2-hop routing; the
 * reference's SMPProxyMode). */
typedef enum sx_smp_proxy_mode {
    SX_SMP_PROXY_NEVER = 0,   /* always directly (the default) */
    SX_SMP_PROXY_ALWAYS,      /* always through a proxy */
    SX_SMP_PROXY_UNKNOWN,     /* through a proxy to routers not in known_routers */
    SX_SMP_PROXY_UNPROTECTED, /* as UNKNOWN, but directly when address_protected */
} sx_smp_proxy_mode;

/* Whether a send that a proxy could not forward because it cannot use the
 * destination's hosts or versions (its answer PROXY BROKER HOST or PROXY
 * BROKER TRANSPORT VERSION; the reference's SMPProxyFallback) is then made
 * directly. Other failures (the proxy or the destination unreachable, ...)
 * are never retried directly, as in the reference. */
typedef enum sx_smp_proxy_fallback {
    SX_SMP_FALLBACK_ALLOW = 0,       /* directly (the default) */
    SX_SMP_FALLBACK_ALLOW_PROTECTED, /* directly only when address_protected */
    SX_SMP_FALLBACK_PROHIBIT,        /* never: the send fails with the proxy's error */
} sx_smp_proxy_fallback;

typedef struct sx_smp_pool_opts {
    sx_smp_conn_opts conn; /* per connection (timeout_ms bounds each connect) */
    unsigned retry_min_ms; /* first wait before reconnecting; 0: 1000 (as the reference) */
    unsigned retry_max_ms; /* longest wait; 0: 10000 (as the reference) */
    unsigned sub_window;   /* SUB commands in flight per connection; 0: 1360, the reference's batch
                            * (1: one per round trip) */
    /* 2-hop routing of sx_smp_pool_send (all copied by sx_smp_pool_new). */
    sx_smp_proxy_mode proxy_mode;
    sx_smp_proxy_fallback proxy_fallback;
    /* The proxy routers (smp:// addresses, with the password a router
     * needs for proxying): a destination gets one chosen at random among
     * those that share none of its hosts (any when there is none) and
     * keeps it while it works; required unless proxy_mode is NEVER. */
    const char *const *proxies;
    size_t n_proxies;
    /* The "known" routers of SX_SMP_PROXY_UNKNOWN and _UNPROTECTED: smp://
     * addresses or bare hosts; a destination with any host among all
     * their hosts is known. */
    const char *const *known_routers;
    size_t n_known_routers;
    /* This program's connections hide its network address (through Tor or
     * another SOCKS proxy set up outside the library): the reference's
     * ipAddressProtected. */
    bool address_protected;
    /* With conn.service: the pool is a notifier service (NSUB, NSUBS)
     * rather than a messaging one (SUB, SUBS). */
    bool notifier_service;
    /* A service with its own credentials for each router (the reference's
     * NTF router keeps one certificate per SMP router): set, the pool is a
     * service (conn.service is then not used) and calls service_creds on its
     * thread before each connection to a router, server being its address
     * (smp://..., without password). It fills *out (files, or a DER
     * certificate and key in memory), which must stay valid until it is
     * called again or the pool ends; the pool copies what it needs at once.
     * Another status than SX_OK fails that connection attempt (retried as
     * any other). */
    sx_status (*service_creds)(void *arg, const char *server, sx_smp_service_creds *out);
    void *service_creds_arg;
    /* No connection is made until sx_smp_pool_release (sx_smp_tpool_release):
     * e.g. until the subscriptions a program restores at its start are all
     * in, so that a service's first SUBS / NSUBS to each router counts them
     * all. */
    bool hold;
    /* The newest SMP version offered; 0: the newest this library speaks
     * (a lower one acts as an older client would, e.g. in tests). */
    unsigned max_version;
} sx_smp_pool_opts;

typedef struct sx_smp_pool_stats {
    size_t routers, connected;                   /* routers known, with a connection up */
    size_t active, pending;                      /* subscriptions: confirmed / waiting (or in flight) */
    uint64_t sessions;                           /* connections made (handshake done) */
    uint64_t sub_sent, sub_ok;                   /* SUB commands sent, confirmed */
    uint64_t stale_acks;                         /* acknowledgements refused as of an ended session */
    uint64_t blocks_sent, blocks_received;       /* 16 KiB blocks, handshakes included */
    uint64_t sent_direct, sent_proxied;          /* sends that succeeded, directly / through a proxy */
    uint64_t proxy_fallbacks;                    /* proxied sends made directly instead (proxy_fallback) */
    size_t service_assoc;                        /* queues associated with the pool's service */
    uint64_t service_subs_sent, service_subs_ok; /* SUBS / NSUBS sent, answered with SOKS */
} sx_smp_pool_stats;

/* A pool on loop; opts may be NULL; on_event is required. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_new(sx_loop *loop, const sx_smp_pool_opts *opts,
                                               sx_smp_pool_event_fn on_event, void *arg, sx_smp_pool **out);
/* Closes every connection and frees the pool; no callback runs after it
 * (waiting sends and acks are dropped without theirs). Not from inside a
 * callback of this pool. Run (or free) the loop once more afterwards, as
 * after sx_smp_aconn_close. Accepts NULL. */
SX_API void sx_smp_pool_free(sx_smp_pool *p);
/* Recipient side: subscribes the queue through its router's connection
 * (made when needed) and keeps it subscribed across reconnects. The pool
 * keeps the pointer until sx_smp_pool_unsubscribe, a SUB_FAILED event, an
 * END or DELETED event of the queue, or sx_smp_pool_free. Subscribing a
 * queue already in the pool does nothing. SX_E_USAGE (a sender side, a
 * queue id the pool has for that router through another queue side),
 * SX_E_NOMEM. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_subscribe(sx_smp_pool *p, sx_smp_queue *rcv);
/* Lets go of the queue (nothing is sent to the router; its messages are
 * no longer reported). SX_E_USAGE when the pool does not hold it. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_unsubscribe(sx_smp_pool *p, sx_smp_queue *rcv);
/* Acknowledges the message of a MESSAGE event (e as given to the callback;
 * its msg id is copied). The router's next message of the queue comes as
 * an event. SX_E_CLOSED when e's session has ended (the message comes
 * again), SX_E_USAGE when e is not a message of a queue in the pool. cb
 * may be NULL. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_ack(sx_smp_pool *p, const sx_smp_pool_event *e, sx_smp_pool_done_fn cb,
                                               void *arg);
/* Sender side: sends body through the router's connection, connecting
 * first when there is none (the send waits for it; a failed connect fails
 * it); or, as proxy_mode decides, through the pool's connection to a proxy
 * router, on a proxy session to the destination router kept on that
 * connection (PRXY once, checked against the queue's address; opened again
 * when the proxy says PROXY NO_SESSION), with proxy_fallback deciding
 * whether a send the proxy cannot forward is made directly. Errors are
 * those of sx_smp_send_proxied then. A send is not repeated after a
 * connection drop: cb gets the error.
 * SX_E_USAGE (a recipient side), SX_E_LIMIT (too long for the newest
 * version), SX_E_NOMEM. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_send(sx_smp_pool *p, const sx_smp_queue *snd, const void *body,
                                                size_t len, sx_smp_pool_done_fn cb, void *arg);
/* The same with the notification flag (as sx_smp_send_notify). */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_send_notify(sx_smp_pool *p, const sx_smp_queue *snd, const void *body,
                                                       size_t len, sx_smp_pool_done_fn cb, void *arg);
SX_API void sx_smp_pool_get_stats(const sx_smp_pool *p, sx_smp_pool_stats *out);
/* One SMP router the pool knows, as sx_smp_pool_routers shows it. server
 * is borrowed for the call only. */
typedef struct sx_smp_pool_router {
    const char *server;
    bool connected;       /* a connection up */
    size_t active;        /* subscriptions confirmed (service ones included) */
    size_t pending;       /* waiting or in flight */
    size_t service_assoc; /* queues associated with the pool's service */
} sx_smp_pool_router;
typedef void (*sx_smp_pool_router_fn)(void *arg, const sx_smp_pool_router *r);
/* Calls fn once for each router the pool knows (none for NULL p). fn must
 * not call the pool. */
SX_API void sx_smp_pool_routers(const sx_smp_pool *p, sx_smp_pool_router_fn fn, void *arg);
/* The pool as a service: the ServiceId the router at `server` gave the
 * pool's certificate (*len bytes; the same across connections), or NULL
 * (*len 0) before the first service connection to it. Borrowed until the
 * pool's next connection to it. */
SX_API const uint8_t *sx_smp_pool_service_id(const sx_smp_pool *p, const char *server, size_t *len);
/* Ends sx_smp_pool_opts.hold: the routers with something to do are
 * connected from now on. */
SX_API void sx_smp_pool_release(sx_smp_pool *p);

/* Notifier subscriptions (NSUB), for a notification server: the notifier
 * side of a queue, made from the router's address, the notifier id the
 * router gave (24 bytes) and the notifier's private key as base64url
 * PKCS#8 text (Ed25519, Ed448 or X25519, the form of the queue files).
 * SX_E_USAGE when one does not parse. */
SX_API SX_MUST_CHECK sx_status sx_smp_notifier_new(const char *server, const uint8_t *id, size_t id_len,
                                                   const char *key_text, sx_smp_notifier **out);
/* Wipes and frees it. Accepts NULL. */
SX_API void sx_smp_notifier_free(sx_smp_notifier *n);
/* A notifier the router associated with the pool's (notifier) service
 * before, as a notification server keeps that across its restarts: the
 * pool counts it for the NSUBS of its first service connection to that
 * router instead of sending its own NSUB (a router that no longer has it
 * makes the pool subscribe each queue again, see "The pool as a service").
 * Set before sx_smp_pool_subscribe_notifier. */
SX_API void sx_smp_notifier_set_associated(sx_smp_notifier *n, bool assoc);
/* As sx_smp_pool_subscribe / _unsubscribe, with NSUB: the router's NMSG
 * of the queue come as NOTIFICATION events (nothing to acknowledge). */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_subscribe_notifier(sx_smp_pool *p, sx_smp_notifier *n);
SX_API SX_MUST_CHECK sx_status sx_smp_pool_unsubscribe_notifier(sx_smp_pool *p, sx_smp_notifier *n);

/* ---- connection pool on a thread of its own ----
 * The same pool, run by a thread that sx_smp_tpool_new starts (with its own
 * loop). Every sx_smp_tpool_* call may be made from any thread: it hands
 * the work to the pool's thread and waits for it. What the pool reports is
 * copied into notes that any thread takes with sx_smp_tpool_next, in the
 * order the pool reported them. Queues passed in are used on the pool's
 * thread: do not use a subscribed queue elsewhere until it has left the
 * pool (a SUB_FAILED, END or DELETED note, sx_smp_tpool_unsubscribe). */

typedef struct sx_smp_tpool sx_smp_tpool;

/* A copy of a pool event for another thread. */
typedef struct sx_smp_pool_note {
    sx_smp_pool_event_kind kind; /* 0: nothing came in time */
    char server[SX_SMP_SERVER_TEXT_MAX];
    uint64_t session;
    sx_status status;
    char code[32];    /* sx_error_code() of a failure */
    char detail[256]; /* sx_error_message() of a failure */
    sx_smp_queue *queue;
    sx_smp_event ev; /* MESSAGE: a copy that owns its body */
    sx_smp_notifier *notifier;
    uint8_t nonce[24]; /* NOTIFICATION */
    uint8_t *meta;     /* NOTIFICATION: a copy owned by the note */
    size_t meta_len;
    int64_t service_expected, service_count; /* the service events' figures */
    uint8_t service_expected_hash[16], service_hash[16];
    uint8_t service_id[255]; /* CONNECTED of a service pool (the event's), or length 0 */
    size_t service_id_len;
    bool service_assoc; /* SUBSCRIBED (the event's) */
} sx_smp_pool_note;

/* Starts the pool's thread. opts as sx_smp_pool_new. SX_E_NOMEM,
 * SX_E_INTERNAL (no thread). */
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_new(const sx_smp_pool_opts *opts, sx_smp_tpool **out);
/* Closes every connection, stops and joins the thread, drops the notes
 * not taken. No other call of this pool may be in progress or follow.
 * Accepts NULL. */
SX_API void sx_smp_tpool_free(sx_smp_tpool *tp);
/* As sx_smp_pool_subscribe / _unsubscribe. */
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_subscribe(sx_smp_tpool *tp, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_unsubscribe(sx_smp_tpool *tp, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_subscribe_notifier(sx_smp_tpool *tp, sx_smp_notifier *n);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_unsubscribe_notifier(sx_smp_tpool *tp, sx_smp_notifier *n);
/* As sx_smp_pool_send and sx_smp_pool_ack, waiting for the router's answer
 * (or the failure). n: a MESSAGE note taken from this pool. */
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_send(sx_smp_tpool *tp, const sx_smp_queue *snd, const void *body,
                                                 size_t len);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_ack(sx_smp_tpool *tp, const sx_smp_pool_note *n);
/* The next note, waiting up to timeout_ms (negative: no limit): SX_OK with
 * n->kind 0 when none came in time. *n is overwritten: clear it first if
 * it held a message. */
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_next(sx_smp_tpool *tp, int timeout_ms, sx_smp_pool_note *n);
/* Wipes and frees the body of n's event and its metadata, and zeroes n.
 * Accepts NULL. */
SX_API void sx_smp_pool_note_clear(sx_smp_pool_note *n);
SX_API void sx_smp_tpool_get_stats(sx_smp_tpool *tp, sx_smp_pool_stats *out);
/* sx_smp_pool_routers on the pool's thread; fn runs there while the caller
 * waits (nothing when the call cannot reach the thread). */
SX_API void sx_smp_tpool_routers(sx_smp_tpool *tp, sx_smp_pool_router_fn fn, void *arg);
/* The longest ServiceId a router gives, in bytes. */
#define SX_SMP_SERVICE_ID_CAP 255
/* As sx_smp_pool_release. */
SX_API void sx_smp_tpool_release(sx_smp_tpool *tp);
/* As sx_smp_pool_service_id, copied into id: its length, 0 when none. */
SX_API size_t sx_smp_tpool_service_id(sx_smp_tpool *tp, const char *server, uint8_t id[SX_SMP_SERVICE_ID_CAP]);

/* ---- queue operations through the pool ----
 * Creating, securing and managing queues over the pool's connections (made
 * when needed, as for sx_smp_pool_send; a command is not repeated after a
 * connection drop: its callback gets the error). Each callback is called
 * exactly once, from the loop, never from inside the call; a call that
 * returns an error (SX_E_USAGE, SX_E_NOMEM, ...) has none. Errors are the
 * router's as in the blocking calls (sx_error_code() "AUTH", ...); SX_E_PROTOCOL
 * when the router's version lacks the command. Queues passed in must stay
 * valid until the callback ran. */

#define SX_SMP_QUEUE_ID_LEN 24
#define SX_SMP_KEY_TEXT_MAX 104 /* a private key as base64url PKCS#8 text, with its NUL */
#define SX_SMP_DH_KEY_MAX 69    /* a public key as DER SubjectPublicKeyInfo */

/* The sender id a client chooses for a queue with link data (SMP v15): the
 * first 24 bytes of SHA3-384 of the NEW command's corrId (24 bytes). The
 * router refuses NEW when they differ, so a retried NEW with the same
 * corrId cannot make a second queue (it is refused with AUTH). */
SX_API SX_MUST_CHECK sx_status sx_smp_link_sender_id(const uint8_t corr_id[24], uint8_t out[SX_SMP_QUEUE_ID_LEN]);

/* What sx_smp_pool_create makes. Zeroed: a messaging queue, no link data,
 * no notifier. */
typedef struct sx_smp_new_opts {
    /* A contact-address queue (SMP v15+: anyone with its sender id sends
     * without a key; its link data is read with LGET). false: a messaging
     * queue that its sender secures (SKEY, LKEY). */
    bool contact;
    /* Link data stored with the queue (SMP v15+; two blobs the caller
     * encrypted, opaque to the router): `fixed` never changes, `user` may be
     * replaced with sx_smp_pool_link_set. The sender id is then the
     * client's own: sx_smp_link_sender_id(corr_id). */
    bool has_link;
    const uint8_t *corr_id; /* 24 bytes; NULL: random (a retry must repeat it) */
    const uint8_t *link_id; /* contact queues: the link id, 24 bytes chosen by the caller */
    const uint8_t *fixed;
    size_t fixed_len;
    const uint8_t *user;
    size_t user_len;
    /* Create it with a notifier (SMP v17+, keys made here), as
     * sx_smp_pool_notify_on does afterwards. */
    bool notifier;
    /* Create it subscribed (NEW's subscription mode), saving a SUB: the
     * pool then holds the new queue as sx_smp_pool_subscribe does (and
     * reports SUBSCRIBED before the created callback), so the program keeps
     * it while subscribed; a blocking connection holds it as
     * sx_smp_subscribe does. */
    bool subscribe;
} sx_smp_new_opts;

/* A queue's notifier (NKEY's answer, or NEW's with opts.notifier). */
typedef struct sx_smp_ntf_creds {
    uint8_t notifier_id[SX_SMP_QUEUE_ID_LEN];
    /* The notifier's private key (Ed25519) as sx_smp_notifier_new takes
     * it, for the notification server. Wipe it when done. */
    char notifier_key[SX_SMP_KEY_TEXT_MAX];
    /* The router's X25519 key (DER) and the secret it makes with this
     * client's key: it opens the metadata of the queue's notifications. */
    uint8_t srv_dh_key[SX_SMP_DH_KEY_MAX];
    size_t srv_dh_key_len;
    uint8_t dh_secret[32];
} sx_smp_ntf_creds;

/* The router's IDS answer to NEW. */
typedef struct sx_smp_created {
    sx_smp_queue *queue; /* the recipient side (take it: see sx_smp_pool_created_fn) */
    uint8_t rcv_id[SX_SMP_QUEUE_ID_LEN], snd_id[SX_SMP_QUEUE_ID_LEN];
    char mode; /* 'M' messaging, 'C' contact; 0 when the router did not say */
    bool has_link_id;
    uint8_t link_id[SX_SMP_QUEUE_ID_LEN];
    bool has_ntf;
    sx_smp_ntf_creds ntf;
} sx_smp_created;

/* A queue's link data (LKEY and LGET answers), owned by the struct. */
typedef struct sx_smp_link {
    uint8_t sender_id[SX_SMP_QUEUE_ID_LEN];
    uint8_t *fixed;
    size_t fixed_len;
    uint8_t *user;
    size_t user_len;
} sx_smp_link;
/* Frees the blobs and zeroes l. Accepts NULL. */
SX_API void sx_smp_link_clear(sx_smp_link *l);

/* A sender side made from the router's address (no password needed) and
 * the sender id (NULL: zeros, for sx_smp_pool_link_secure to fill), without
 * a key yet. SX_E_USAGE when the address does not parse. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_sender_new(const char *server, const uint8_t *snd_id,
                                                       sx_smp_queue **out);
/* The queue's ids (either may be NULL; the recipient id of a sender side
 * is zeros). */
SX_API void sx_smp_queue_ids(const sx_smp_queue *q, uint8_t *rcv_id, uint8_t *snd_id);
/* Sender side: the sender's public key (DER), made first if missing, for
 * the recipient's sx_smp_pool_secure. SX_E_LIMIT when cap is too small
 * (SX_SMP_DH_KEY_MAX is enough). */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_sender_public_key(sx_smp_queue *snd, uint8_t *out, size_t cap,
                                                              size_t *len);

/* The outcomes with results: each is the library's during the call (take
 * c->queue, l->fixed, l->user, ev->body by setting them to NULL). */
typedef void (*sx_smp_pool_created_fn)(sx_smp_pool *p, sx_status st, sx_smp_created *c, void *arg);
typedef void (*sx_smp_pool_ntf_fn)(sx_smp_pool *p, sx_status st, const sx_smp_ntf_creds *n, void *arg);
typedef void (*sx_smp_pool_got_fn)(sx_smp_pool *p, sx_status st, sx_smp_event *ev, void *arg);
typedef void (*sx_smp_pool_link_fn)(sx_smp_pool *p, sx_status st, sx_smp_link *l, void *arg);

/* NEW on the router of `server` (with its password when the address has
 * one), not subscribed. opts may be NULL. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_create(sx_smp_pool *p, const char *server, const sx_smp_new_opts *opts,
                                                  sx_smp_pool_created_fn cb, void *arg);
/* Recipient: KEY, secures the queue with the sender's public key (DER, as
 * sx_smp_queue_sender_public_key gives). Repeating it with the same key
 * succeeds. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_secure(sx_smp_pool *p, sx_smp_queue *rcv, const uint8_t *snd_key,
                                                  size_t len, sx_smp_pool_done_fn cb, void *arg);
/* Sender: SKEY (v9+), as sx_smp_queue_secure, directly or through a proxy
 * as proxy_mode and proxy_fallback decide (as sx_smp_pool_send). */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_secure_sender(sx_smp_pool *p, sx_smp_queue *snd, sx_smp_pool_done_fn cb,
                                                         void *arg);
/* Recipient: NKEY, gives the queue a notifier (keys made here; a new one
 * replaces the old) / NDEL, removes it. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_notify_on(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_ntf_fn cb,
                                                     void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_pool_notify_off(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb,
                                                      void *arg);
/* Recipient: OFF, suspends the queue (no more sends; messages stay to be
 * received) / DEL, deletes it (a subscription of it in the pool ends). */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_suspend(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb,
                                                   void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_pool_delete(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb,
                                                  void *arg);
/* Recipient, a queue not subscribed in the pool: GET, its next message
 * (decrypted as subscribed messages are; kind SX_SMP_EVENT_NONE when the
 * queue is empty), then sx_smp_pool_ack_got for it. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_get(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_got_fn cb, void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_pool_ack_got(sx_smp_pool *p, sx_smp_queue *rcv, const sx_smp_event *ev,
                                                   sx_smp_pool_done_fn cb, void *arg);
/* Recipient (v15+): LSET, stores link data under link_id (the id NEW
 * gave, or a contact queue's own): only the user data may change (AUTH
 * when the fixed data or the id differ, or a messaging queue is secured) /
 * LDEL, removes the link data. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_link_set(sx_smp_pool *p, sx_smp_queue *rcv,
                                                    const uint8_t link_id[SX_SMP_QUEUE_ID_LEN], const uint8_t *fixed,
                                                    size_t fixed_len, const uint8_t *user, size_t user_len,
                                                    sx_smp_pool_done_fn cb, void *arg);
SX_API SX_MUST_CHECK sx_status sx_smp_pool_link_delete(sx_smp_pool *p, sx_smp_queue *rcv, sx_smp_pool_done_fn cb,
                                                       void *arg);
/* Sender of a messaging queue with link data (v15+): LKEY, secures the
 * queue with snd's key (made first if missing; signed with it) and gives
 * its link data; snd's sender id becomes the queue's. snd: from
 * sx_smp_queue_sender_new(server, NULL); repeating it with the same key
 * succeeds. LKEY and LGET go directly or through a proxy as proxy_mode and
 * proxy_fallback decide (as sx_smp_pool_send). */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_link_secure(sx_smp_pool *p, sx_smp_queue *snd,
                                                       const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                                                       sx_smp_pool_link_fn cb, void *arg);
/* Anyone (v15+): LGET, unsigned, the link data of a contact queue. */
SX_API SX_MUST_CHECK sx_status sx_smp_pool_link_get(sx_smp_pool *p, const char *server,
                                                    const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                                                    sx_smp_pool_link_fn cb, void *arg);

/* The same commands on one blocking connection (sx_smp_conn), where the
 * calls above it lack them: NEW with options, KEY, NKEY, NDEL, OFF and the
 * short-link commands. Results as for the pool's thread below. */
SX_API SX_MUST_CHECK sx_status sx_smp_queue_create_ex(sx_smp_conn *c, const sx_smp_new_opts *opts,
                                                      sx_smp_created *out);
SX_API SX_MUST_CHECK sx_status sx_smp_queue_secure_recipient(sx_smp_conn *c, sx_smp_queue *rcv,
                                                             const uint8_t *snd_key, size_t len);
SX_API SX_MUST_CHECK sx_status sx_smp_queue_notify_on(sx_smp_conn *c, sx_smp_queue *rcv, sx_smp_ntf_creds *out);
SX_API SX_MUST_CHECK sx_status sx_smp_queue_notify_off(sx_smp_conn *c, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_queue_suspend(sx_smp_conn *c, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_link_set(sx_smp_conn *c, sx_smp_queue *rcv,
                                               const uint8_t link_id[SX_SMP_QUEUE_ID_LEN], const uint8_t *fixed,
                                               size_t fixed_len, const uint8_t *user, size_t user_len);
SX_API SX_MUST_CHECK sx_status sx_smp_link_delete(sx_smp_conn *c, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_link_secure(sx_smp_conn *c, sx_smp_queue *snd,
                                                  const uint8_t link_id[SX_SMP_QUEUE_ID_LEN], sx_smp_link *out);
SX_API SX_MUST_CHECK sx_status sx_smp_link_get(sx_smp_conn *c, const uint8_t link_id[SX_SMP_QUEUE_ID_LEN],
                                               sx_smp_link *out);

/* The same on the pool's thread, waiting for the answer; results are
 * copied into the out arguments (a created queue and link blobs then
 * belong to the caller). */
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_create(sx_smp_tpool *tp, const char *server, const sx_smp_new_opts *opts,
                                                   sx_smp_created *out);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_secure(sx_smp_tpool *tp, sx_smp_queue *rcv, const uint8_t *snd_key,
                                                   size_t len);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_secure_sender(sx_smp_tpool *tp, sx_smp_queue *snd);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_send_notify(sx_smp_tpool *tp, const sx_smp_queue *snd, const void *body,
                                                        size_t len);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_notify_on(sx_smp_tpool *tp, sx_smp_queue *rcv, sx_smp_ntf_creds *out);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_notify_off(sx_smp_tpool *tp, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_suspend(sx_smp_tpool *tp, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_delete(sx_smp_tpool *tp, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_get(sx_smp_tpool *tp, sx_smp_queue *rcv, sx_smp_event *ev);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_ack_got(sx_smp_tpool *tp, sx_smp_queue *rcv, const sx_smp_event *ev);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_link_set(sx_smp_tpool *tp, sx_smp_queue *rcv,
                                                     const uint8_t link_id[SX_SMP_QUEUE_ID_LEN], const uint8_t *fixed,
                                                     size_t fixed_len, const uint8_t *user, size_t user_len);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_link_delete(sx_smp_tpool *tp, sx_smp_queue *rcv);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_link_secure(sx_smp_tpool *tp, sx_smp_queue *snd,
                                                        const uint8_t link_id[SX_SMP_QUEUE_ID_LEN], sx_smp_link *out);
SX_API SX_MUST_CHECK sx_status sx_smp_tpool_link_get(sx_smp_tpool *tp, const char *server,
                                                     const uint8_t link_id[SX_SMP_QUEUE_ID_LEN], sx_smp_link *out);

#ifdef __cplusplus
}
#endif

#endif
