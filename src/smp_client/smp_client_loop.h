/* SMP client library, event-loop flavour: one TLS connection to an SMP
 * router driven by an sx_loop (core/loop.h). Nothing blocks the loop: a
 * host name is resolved on a short-lived thread (a numeric address needs
 * none), the TCP connect, TLS and SMP handshakes are non-blocking, and each
 * client keeps its timeouts on a timer of its own, so any number of
 * clients and the program's own timers share one loop; commands are encoded when queued and sent
 * batched into as few blocks as fit when the loop flushes; replies go to
 * each command's callback (matched by corrId), router events (MSG, END,
 * DELD, NMSG, ...) to the event callback; a PING keeps a silent connection
 * alive.
 *
 * Threading: a client and all its callbacks belong to the loop's thread.
 * Every function here must be called on that thread (from a loop callback,
 * or before sx_loop_run starts); none is thread-safe. Callbacks never run
 * inside sx_smp_aclient_connect / _send / _close: they run from the loop.
 *
 * Lifetime: after a successful connect, exactly one of these ends the
 * client: connected(cl, error) when the handshakes fail, or closed(cl,
 * status) after connected(cl, SX_OK). Before that final callback, every
 * pending reply callback is called with an error. The memory is freed from
 * a loop task right after it: cl must not be used once the final callback
 * has returned, and the loop must run (or be drained, sx_loop_drain) once
 * more before it is freed. */
#ifndef SX_CLIENT_SMP_CLIENT_LOOP_H
#define SX_CLIENT_SMP_CLIENT_LOOP_H

#include "smp_client/smp_client.h"
#include "core/loop.h"
#include "transport/socks.h"

typedef struct sx_smp_aclient sx_smp_aclient;

typedef struct sx_smp_aclient_callbacks {
    /* The handshakes finished: SX_OK, or an error (then the client is gone:
     * SX_E_AUTH identity or signature, SX_E_PROTOCOL handshake, SX_E_CLOSED
     * or SX_E_IO connection lost or handshake timeout). */
    void (*connected)(sx_smp_aclient *cl, sx_status status, void *arg);
    /* A transmission that answers no pending command: MSG, END, DELD, NMSG,
     * ... (or one that did not decode: ev->ok false). ev is borrowed for the
     * call; to keep it, copy the struct and set ev->buf to NULL. May be NULL. */
    void (*event)(sx_smp_aclient *cl, sx_smp_client_reply *ev, void *arg);
    /* The connection ended after a successful connect: SX_OK after
     * sx_smp_aclient_close, else why (SX_E_CLOSED the router closed it,
     * SX_E_IO socket error or keep-alive failure, SX_E_PROTOCOL bad block,
     * SX_E_NOMEM). May be NULL. */
    void (*closed)(sx_smp_aclient *cl, sx_status status, void *arg);
    void *arg;
} sx_smp_aclient_callbacks;

typedef struct sx_smp_aclient_opts {
    sx_version_range range;        /* {0,0}: the default 6..19 */
    bool no_alpn;                  /* offer no ALPN (the router then speaks v6) */
    /* Name resolution, TCP connect and both handshakes; 0: 15000. */
    int connect_timeout_ms;
    unsigned ping_interval_ms;     /* PING after this much silence; 0: 600000 */
    /* Keep-alive and the connect timeout run from the client's own loop
     * timer (sx_loop_timer). Set no_tick only to drive them yourself: the
     * client then starts no timer and the program must call
     * sx_smp_aclient_tick for it every second or more often. */
    bool no_tick;
    /* Say in the hello that this client is a router acting as a proxy
     * (PROTOCOL-NOTES B17, B20: its blocks then stay unencrypted). */
    bool proxy_server;
    /* NULL: an ordinary client. Set (borrowed: it and its key must outlive
     * the client): the service is presented as sx_smp_client_opts.service
     * does, and the session's commands of the service's role (NEW and SUB
     * for messaging, NSUB for a notifier) are signed by the service key
     * too (PROTOCOL-NOTES C9). A refused service fails the connect with
     * SX_E_AUTH. */
    const sx_smp_client_service_opts *service;
    /* NULL: connect directly. Set (copied): connect to this SOCKS5 proxy
     * and have it reach host:port by name (transport/socks.h). */
    const sx_socks_route *socks;
} sx_smp_aclient_opts;

/* A command's answer: SX_OK with the decoded reply (borrowed for the call,
 * kept by copying the struct and setting reply->buf to NULL; reply->ok false
 * when it did not decode), or an error with reply NULL when the connection
 * ended before the answer came (SX_E_CLOSED after sx_smp_aclient_close or a
 * closed connection, else the closed status). */
typedef void (*sx_smp_aclient_reply_cb)(sx_smp_aclient *cl, sx_status status,
                                        sx_smp_client_reply *reply, void *arg);

/* Starts connecting to host:port with key_hash as the router identity
 * (PROTOCOL-NOTES B10), without blocking: a numeric IPv4/IPv6 host is used as
 * it is, a name is resolved on a detached thread whose result comes back as a
 * loop task (closing the client meanwhile abandons it; the thread then exits
 * on its own and touches neither client nor loop). The addresses are tried
 * in turn, all within the connect timeout. opts may be NULL; cbs is
 * copied. On SX_OK the outcome arrives through cbs->connected (SX_E_IO
 * when the name did not resolve or no address accepted the connection).
 * Errors (no callback then): SX_E_USAGE (no connected callback, no host,
 * port 0), SX_E_NOMEM, SX_E_INTERNAL (TLS context, thread). */
SX_MUST_CHECK sx_status sx_smp_aclient_connect(sx_loop *loop, const char *host, uint16_t port,
                                               const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                               const sx_smp_aclient_opts *opts,
                                               const sx_smp_aclient_callbacks *cbs,
                                               sx_smp_aclient **out);

/* Encodes and queues one command (entity, cmd and auth_key are used before
 * it returns and not kept; auth_key as in sx_smp_client_cmd). Queued
 * commands are sent from a loop task, batched. reply_cb (may be NULL) is
 * called exactly once later. Errors (reply_cb is then not called):
 * SX_E_USAGE before connected(SX_OK), SX_E_CLOSED once closing, SX_E_LIMIT
 * for a command too large for a block, SX_E_AUTH, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_aclient_send(sx_smp_aclient *cl, sx_slice entity, const sx_smp_cmd *cmd,
                                            const sx_key *auth_key, sx_smp_aclient_reply_cb reply_cb,
                                            void *arg);

/* The same with the corrId given (24 bytes; NULL: a random one), for the
 * commands whose corrId is also a nonce (PFWD, RFWD: PROTOCOL-NOTES D33,
 * D34). */
SX_MUST_CHECK sx_status sx_smp_aclient_send_corr(sx_smp_aclient *cl, const uint8_t corr_id[SX_SMP_CORR_ID_LEN],
                                                 sx_slice entity, const sx_smp_cmd *cmd, const sx_key *auth_key,
                                                 sx_smp_aclient_reply_cb reply_cb, void *arg);

/* Asynchronous close: from a loop task, pending reply callbacks get
 * SX_E_CLOSED, close_notify is sent if possible and closed(cl, SX_OK) (or
 * connected(cl, SX_E_CLOSED) while still connecting) is called. Does
 * nothing when the client is already ending. */
void sx_smp_aclient_close(sx_smp_aclient *cl);

/* Keep-alive and timeouts, for a program that set no_tick: call it from
 * one of its timers (every second or more often). */
void sx_smp_aclient_tick(sx_smp_aclient *cl);

/* The session once connected (agreed version, ...). */
const sx_smp_session *sx_smp_aclient_session(const sx_smp_aclient *cl);

typedef struct sx_smp_aclient_stats {
    uint64_t blocks_sent, blocks_received;
    uint64_t pings_sent, pongs_received;
} sx_smp_aclient_stats;
void sx_smp_aclient_get_stats(const sx_smp_aclient *cl, sx_smp_aclient_stats *out);

#endif
