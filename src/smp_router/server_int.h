/* Internals shared by the router's server (connections, workers, delivery)
 * and its command handlers. Not a public header. */
#ifndef SX_ROUTER_SERVER_INT_H
#define SX_ROUTER_SERVER_INT_H

#include <pthread.h>

#include "core/loop.h"
#include "smp_router/server.h"
#include "smp_router/store.h"
#include "kit/logwriter.h"
#include "kit/workers.h"
#include "smp_router/stats.h"
#include "smp_router/storelog.h"
#include "transport/block.h"
#include "transport/smp_handshake.h"
#include "transport/tls.h"

typedef struct sx_worker sx_worker;
typedef struct sx_conn sx_conn;
typedef struct sx_router sx_router;

/* Pending work for a subscription, posted to its connection's worker. */
enum {
    SX_SUB_DELIVER = 1,  /* a message may be waiting for this subscriber */
    SX_SUB_END = 2,      /* another connection took the subscription (PROTOCOL-NOTES E10) */
    SX_SUB_DELD = 4,     /* the queue was deleted by another connection (PROTOCOL-NOTES E17) */
    SX_SUB_NTF = 8,      /* notifications wait for this notifier subscriber (PROTOCOL-NOTES E15) */
    SX_SUB_BLOCKED = 16, /* the queue was blocked by the control port (PROTOCOL-NOTES E32) */
    /* Another connection of the same service took the whole service
     * (PROTOCOL-NOTES D27): the subscription is forgotten without END (the
     * connection is told ENDS once, by a task of its own). */
    SX_SUB_SVC_MOVED = 32,
};

/* One connection's relation to one queue: a SUB (the queue's subscriber),
 * a GET-mode claim (PROTOCOL-NOTES E9), or a notifier subscription.
 * Reference-counted: the connection's map, the queue's sub field and posted
 * tasks each hold one. conn is used only on the owning worker's thread, and
 * only while active. */
typedef struct sx_sub {
    int refs;
    bool active;   /* owning connection alive and this sub in its map */
    bool get_mode; /* created by GET: not the queue's subscriber */
    bool notifier; /* NSUB */
    /* Made when the connection took its service's queues (PROTOCOL-NOTES
     * D27) and nothing delivered on it yet: SUB and SUBS treat it as absent,
     * as the reference has no subscription for such a queue until it
     * delivers on it. Cleared by the first delivery. */
    bool implicit;
    sx_conn *conn;
    sx_worker *worker;
    sx_queue *q;               /* retained */
    uint8_t entity[SX_ID_LEN]; /* recipient or notifier id it was made for */
    /* PROTOCOL-NOTES E6: the message delivered on this subscription and not yet
     * acknowledged; guarded by the queue lock. */
    bool delivered;
    uint8_t delivered_id[SX_ID_LEN];
    int64_t delivered_at; /* sx_loop_now_ms() / 1000 when delivered (statistics) */
    unsigned pending;     /* SX_SUB_* bits, atomic */
    bool posted;          /* task queued on the worker, atomic */
    sx_loop_task task;
} sx_sub;

typedef struct sx_outblk {
    struct sx_outblk *next;
    uint64_t log_seq;  /* not sent before the store log is written this far */
    uint64_t mlog_seq; /* nor before the message journal is */
    uint8_t data[SX_BLOCK_SIZE];
} sx_outblk;

/* The answer to a forwarded command, kept instead of sent (commands_fwd.c):
 * the first reply made while a connection's capture is set. */
typedef struct sx_fwd_capture {
    uint16_t version; /* encoded for the client's version */
    bool done;
    size_t len;
    uint8_t buf[SX_BLOCK_SIZE];
} sx_fwd_capture;

typedef enum sx_conn_state {
    SX_CONN_TLS,
    SX_CONN_HELLO, /* our hello is queued; waiting for the client's */
    SX_CONN_ACTIVE,
    SX_CONN_CLOSING, /* flushing the last blocks, then close */
} sx_conn_state;

struct sx_conn {
    sx_worker *w;
    uint8_t port_index;   /* the listening port it came in on */
    sx_kit_peer peer;     /* counted by the kit until the handshake is done */
    sx_conn *prev, *next; /* worker's list */
    int fd;
    sx_loop_io io;
    sx_loop_task free_task; /* frees c after conn_close, from the loop */
    sx_loop_task read_task; /* more to read inside TLS: continue later */
    /* The connection is to be closed from a loop task (conn_fail in
     * server.c): nothing more is read or written meanwhile. */
    sx_loop_task close_task;
    bool failing;
    bool read_posted;
    sx_tls_conn *tls;
    sx_conn_state state;
    sx_smp_server_hs hs;
    sx_smp_session sess;
    /* The session's X25519 private key as raw bytes (PROTOCOL-NOTES C8
     * authenticators); the OpenSSL key object is freed after the handshake to
     * keep idle connections small. */
    uint8_t dh_priv[32];
    bool has_dh_priv;
    uint8_t *rbuf; /* SX_BLOCK_SIZE, allocated while a block is being read */
    size_t rdone;
    sx_outblk *out_head, *out_tail;
    size_t out_count;
    size_t wdone;
    /* Subscriptions by queue: open addressing on the queue pointer. */
    sx_sub **subs;
    size_t subs_cap, subs_n, subs_used;
    int64_t last_active_ms; /* last block received (monotonic) */
    int64_t last_sent_ms;   /* last block sent (monotonic), 0 = none */
    int64_t accepted_ms;
    int64_t rstart_ms; /* the first bytes of the block being read came (0: none) */
    uint64_t id;
    /* Store-log records made by this connection's commands: replies in the
     * block being built wait until the log is written up to hold_seq. */
    uint64_t hold_seq;
    uint64_t hold_mseq;             /* the same for the message journal */
    sx_conn *wait_prev, *wait_next; /* worker's list of connections waiting */
    bool waiting;
    /* SUBS / NSUBS was answered on this service session: a repeat only
     * answers the counts (PROTOCOL-NOTES D8, D29). */
    bool svc_subscribed;
    /* The queues this service session holds as the reference counts them
     * (PROTOCOL-NOTES D27, D29c): set by the first SUBS / NSUBS to the
     * store's count and ids hash, raised by each association SUB / NSUB / NEW
     * makes, lowered by END, DELD and DEL of an associated queue, zeroed by
     * ENDS. A repeated SUBS / NSUBS answers them; ENDS carries them. Only
     * the connection's worker touches them. */
    int64_t svc_subs_n;
    uint8_t svc_subs_hash[16];
    bool handed_over; /* the socket went to the web server: not closed here */
    /* Why it is closed, for the debug line of the close (the first reason
     * set wins; NULL: the router closed it). A static string. */
    const char *why;
    /* Set while a forwarded command runs (commands_fwd.c). */
    sx_fwd_capture *capture;
    /* Proxied commands of this connection waiting for a relay (relays.c,
     * proxied_n of them), and those waiting for their turn
     * (commands_proxy.c, PROTOCOL-NOTES D38). */
    struct sx_relay_req *proxied;
    unsigned proxied_n;
    struct sx_pcmd *pwait, *pwait_tail;
    unsigned pwait_n;
};

struct sx_worker {
    sx_router *r;
    unsigned index;
    sx_loop *loop; /* the kit's (sx_kit_workers_loop) */
    sx_conn *conns;
    size_t n_conns; /* atomic: the control port reads it */
    /* Connections whose next block waits for the store log. */
    sx_conn *waiting;
    sx_loop_task log_task; /* "the log advanced", posted by the writer */
    bool log_task_posted;  /* atomic */
    /* Scratch batch of responses being built for one connection at a time. */
    sx_batch batch;
    sx_conn *batch_conn;
    /* The connection whose blocks are being read (server.c conn_read) and
     * its own batch: the replies to all the blocks read in one pass share
     * blocks, whatever is sent to other connections meanwhile. */
    sx_conn *read_conn;
    bool rbatch_open;
    sx_batch rbatch;
    /* Connections to destination routers for proxied clients (relays.c). */
    struct sx_relay *relays;
};

struct sx_router {
    sx_router_opts opts;
    sx_tls_ctx *tls;
    sx_tls_ctx *tls_shared; /* the shared web port's (SNI to the web certificate), or NULL */
    sx_smp_server_config smp;
    sx_store *store;
    /* The listening sockets and worker threads (kit/workers.h); it also
     * counts sockets per port for the control port's `sockets`. */
    sx_kit_workers *ws;
    unsigned n_workers;
    sx_worker *workers;
    uint64_t next_conn_id; /* atomic */
    uint8_t create_password[256];
    size_t create_password_len;
    bool has_password;
    sx_kit_log *log;      /* NULL without a store log */
    sx_kit_logwriter *lw; /* its writer thread */
    sx_slservices *svc;   /* services restored from the store log */
    /* Which connection holds each service's subscription (PROTOCOL-NOTES
     * D27), under the services lock (commands_svc.c). */
    struct sx_svc_holder *holders;
    size_t n_holders, cap_holders;
    sx_kit_log *mlog;                    /* the message journal, NULL without one */
    struct sx_pgdb *db;                  /* store_queues: database (then log is NULL) */
    sx_kit_logwriter *mw;                /* its writer thread */
    struct sx_msgjournal_compactor *mjc; /* and its compaction */
    struct sx_expiry *expiry;            /* the expiry thread (expiry.c), NULL in maintenance */
    struct sx_control *control;          /* NULL without a control port */
    /* Statistics, bumped by the command handlers (smp_router/stats.h), and
     * the thread that writes their files (ops.c). */
    sx_smp_stats stats;
    struct sx_ops *ops;
    int64_t started_at; /* unix seconds */
    /* [PROXY] socks_proxy (has_socks), and the username that isolates this
     * router's relay connections at the proxy (the reference's
     * SocksIsolateByAuth: one per router run). */
    bool has_socks;
    sx_socks_proxy socks;
    char socks_isolation[64];
    /* messages and notifications expired while restored at start, added to
     * the restored statistics as the reference does */
    int64_t expired_at_start, ntfs_expired_at_start;
};

/* ---- statistics files (ops.c) ---- */

/* At start, after the store is restored: the counts of what the store
 * holds, then the backup file's counters (renamed to "<file>.bak", as the
 * reference). SX_E_PROTOCOL when the backup cannot be read (the router
 * does not start, as the reference). */
SX_MUST_CHECK sx_status sx_ops_restore_stats(sx_router *r);
/* At stop, after the workers: the backup file. */
void sx_ops_save_stats(sx_router *r);
/* The thread writing the daily line and the metrics file, when configured
 * (router.c starts it after the server and stops it first). */
SX_MUST_CHECK sx_status sx_ops_start(sx_router *r);
void sx_ops_stop(sx_router *r);
/* The thread that expires messages and notifications every
 * msg_check_interval (expiry.c; router.c starts it after the server and
 * stops it before the server). */
SX_MUST_CHECK sx_status sx_expiry_start(sx_router *r);
void sx_expiry_stop(sx_router *r);
/* What the store holds, counted under the queue locks. */
void sx_ops_entity_counts(sx_router *r, sx_smp_entity_counts *out);
/* The metrics text as the file holds it at time now (unix ms). *out is
 * NUL-terminated; the caller frees it. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ops_metrics_text(sx_router *r, int64_t now_ms, char **out);

/* ---- server.c services for command handlers ---- */

/* Appends one encoded transmission to c's response batch (starting a new
 * block when it is full). Errors close the connection. */
void sx_conn_send(sx_conn *c, sx_slice transmission);
/* Encodes the pending batch into a block and starts writing. */
void sx_conn_flush(sx_conn *c);
/* Closes the connection after what is queued has been written. */
void sx_conn_close_after_flush(sx_conn *c);
/* Reads again after a pause (sx_proxy_conn_full became false). */
void sx_conn_resume_reading(sx_conn *c);

/* The connection's subscription for q, or NULL: its recipient's (SUB, GET)
 * or its notifier's (NSUB), kept apart as the reference keeps them in two
 * maps, so that one connection may hold both. */
sx_sub *sx_conn_sub(sx_conn *c, sx_queue *q, bool notifier);
/* Creates and registers a subscription of c for q (retains q). */
sx_sub *sx_conn_sub_add(sx_conn *c, sx_queue *q, bool get_mode, bool notifier);
/* Removes c's subscription of that kind for q (if the queue still points
 * at it, the queue's pointer is cleared too). */
void sx_conn_sub_remove(sx_conn *c, sx_queue *q, bool notifier);

void sx_sub_retain(sx_sub *s);
void sx_sub_release(sx_router *r, sx_sub *s);
/* Asks the subscriber's worker to do `what` (SX_SUB_*) for s; callable from
 * any thread; takes no reference from the caller. */
void sx_sub_post(sx_sub *s, unsigned what);
/* Hands a subscription the caller holds a reference to (one taken from a
 * queue's sub/nsub field) over to its worker: posts `what` unless s belongs
 * to `except` (NULL: none), then drops the caller's reference. Accepts a
 * NULL s. Callable from any thread. */
void sx_sub_post_release(sx_router *r, sx_sub *s, unsigned what, const sx_conn *except);

/* ---- 2-hop routing as a proxy (commands_proxy.c, relays.c) ---- */

typedef struct sx_pcmd sx_pcmd;
/* The connection closes: its proxied commands are not answered. */
void sx_proxy_conn_closed(sx_conn *c);
/* As many of c's proxied commands wait for their turn as may run at once:
 * the connection is not read meanwhile. */
bool sx_proxy_conn_full(const sx_conn *c);
/* Every tick: forwarded commands the relay did not answer in time. */
void sx_proxy_tick(sx_worker *w, int64_t now_ms);
/* The worker stops: closes its relay connections (from loop tasks). */
void sx_relays_stop(sx_worker *w);

/* ---- the command handlers (commands.c, commands_msg.c; the others in commands_int.h) ---- */

/* Processes one received batch (block content) on an active connection. */
void sx_router_handle_batch(sx_conn *c, sx_slice content);
/* Runs the pending work of a subscription on its worker (SX_SUB_* bits). */
void sx_router_sub_work(sx_conn *c, sx_sub *s, unsigned what);
/* Called when the connection closes, for each of its subscriptions, with
 * the queue lock held. */
void sx_router_sub_closed(sx_conn *c, sx_sub *s);
/* The connection closes: it no longer holds its service (commands_svc.c). */
void sx_svc_conn_closed(sx_conn *c);

/* Control port `clients`: one CSV line per connection, as the reference
 * prints them (clientId,sessionId,connected,createdAt,rcvActiveAt,
 * sndActiveAt,age,subscriptions), gathered by each worker on its own thread.
 * *out is a heap string (free()); SX_E_IO when a worker did not answer
 * within timeout_ms, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_router_clients_csv(sx_router *r, int timeout_ms, char **out, size_t *len);

/* The router without its control port (router.c composes the two): start
 * restores the state, opens the ports and starts the workers; stop ends
 * them, saves the state and frees r (the control port must be stopped
 * first: it posts to the workers and uses the log writer). */
SX_MUST_CHECK sx_status sx_server_start(const sx_router_opts *opts, sx_router **out);
sx_status sx_server_stop(sx_router *r);

/* A removed entry of a connection's subscription map (subs.c): the slot
 * stays taken for the probe sequence. */
#define SUB_TOMB ((sx_sub *)(uintptr_t)1)

/* State across restarts (state.c): replay the store log and restore the
 * saved messages and notifications; save them at stop. */
SX_MUST_CHECK sx_status sx_server_restore_state(sx_router *r);
/* SX_E_IO when something could not be saved (reported on stderr). */
sx_status sx_server_save_state(sx_router *r);

#endif
