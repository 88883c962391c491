/* The connection pool's records (pool.c), shared with the parts of the pool
 * kept in files of their own: acting as a service (pool_service.c) and the
 * queue operations (pool_queue.c: a command that waits for its router's
 * connection like a send, and the sender-side operations with their proxy
 * routing). Loop thread only. */
#ifndef SX_CLIENT_POOL_INT_H
#define SX_CLIENT_POOL_INT_H

#include "simplex/smp.h"

#include "smp_client/pool_proxy.h"
#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client_loop.h"
#include "crypto/hash.h"

/* The pool as a service (pool_service.c): the credentials of the options,
 * copied. */
typedef struct pool_svc_cfg {
    bool on;
    sx_smp_service_role role; /* messaging (SUB, SUBS) or notifier (NSUB, NSUBS) */
    char *cert_file, *ca_file, *key_file;
    /* per-router credentials (sx_smp_pool_opts.service_creds), or NULL */
    sx_status (*creds_fn)(void *arg, const char *server, sx_smp_service_creds *out);
    void *creds_arg;
} pool_svc_cfg;

/* Per router: the service key of the current connection, the ServiceId
 * the router gave last, and the associated queues the pool holds (their
 * count and the XOR of the MD5 of their ids: what SUBS / NSUBS expects). */
typedef struct pool_svc_srv {
    sx_key *key;
    sx_smp_client_service_opts so;
    /* the router's own credentials (pool_svc_cfg.creds_fn), copied for the
     * connection being made: files, or a DER certificate and its key */
    char *cert_file, *ca_file, *key_file;
    uint8_t *cert_der;
    sx_slice der_chain;
    sx_key *cert_key;
    uint8_t id[SX_SMP_SERVICE_ID_MAX];
    size_t id_len;
    size_t n_assoc;
    uint8_t hash[SX_MD5_LEN];
    int64_t exp_count; /* what the last SUBS / NSUBS sent */
    uint8_t exp_hash[SX_MD5_LEN];
} pool_svc_srv;

typedef enum qstate {
    Q_PENDING,
    Q_SENT,
    Q_ACTIVE,
    Q_PARKED, /* a service's queue after ENDS: held, not subscribed on this session */
} qstate;

typedef struct psrv psrv;
typedef struct sx_pool_qop sx_pool_qop;

/* The notifier side of a queue (sx_smp_notifier_new). */
struct sx_smp_notifier {
    char server[SX_QUEUE_ADDR_MAX];
    uint8_t id[SX_QUEUE_ID_LEN];
    sx_key *key;
    bool assoc; /* sx_smp_notifier_set_associated */
};

/* A subscription in the pool: a recipient's (SUB) or a notifier's (NSUB). */
typedef struct pq {
    struct pq *hnext;       /* hash chain */
    struct pq *prev, *next; /* the FIFO, while Q_PENDING */
    psrv *srv;
    sx_smp_queue *q;     /* SUB; NULL (and nt NULL): let go of while in flight */
    sx_smp_notifier *nt; /* NSUB */
    bool ntf;
    uint8_t id[SX_QUEUE_ID_LEN];
    qstate st;
    /* Associated with the pool's service on this router (the router said
     * so with SOK and the service's id); in_subs: subscribed by the
     * service's SUBS/NSUBS in flight or done on this session. */
    bool assoc, in_subs;
} pq;

/* A send, a secure (SKEY), an acknowledgement, or a queue operation of
 * pool_queue.c (qop). */
typedef struct pop {
    struct pop *next;
    psrv *srv;
    bool is_ack;
    bool secure, had_key; /* SKEY; the side had its key before */
    bool notify;          /* SEND with the notification flag */
    sx_pool_qop *qop;
    const sx_smp_queue *q; /* send: the sender side (borrowed until cb) */
    psrv *dest;            /* proxied send: the destination (srv is the proxy) */
    uint8_t *body;
    size_t len;
    sx_smp_pool_done_fn cb;
    void *arg;
} pop;

typedef enum sstate {
    S_IDLE,
    S_CONNECTING,
    S_UP,
    S_RETRY,
} sstate;

struct psrv {
    psrv *next;
    sx_smp_pool *pool;
    sx_smp_address addr;
    const char *host;              /* the one of addr the last connect chose (sx_smpapi_route), or NULL */
    char shown[SX_QUEUE_ADDR_MAX]; /* without password */
    sx_server_address id;          /* the router's identity (srv_of), without password */
    sx_smp_aclient *cl;            /* the current client, NULL in IDLE and RETRY */
    sstate st;
    uint64_t session; /* of the client while UP */
    unsigned retry_ms;
    sx_loop_timer timer;
    pq **tab;
    size_t tab_cap, count; /* queues in the table */
    pq *fifo_head, *fifo_tail;
    size_t inflight, active;
    pop *wait_head, *wait_tail; /* sends waiting for the connection */
    /* 2-hop routing: as a proxy, the sessions opened through the current
     * connection and the index of its address in the options (for its
     * password); as a destination, the proxy it uses (NULL: none yet). */
    sx_smpapi_proxied *proxied;
    size_t proxy_idx;
    psrv *via;
    pool_svc_srv svc; /* pool_service.c */
};

struct sx_smp_pool {
    sx_loop *loop;
    sx_smp_pool_opts o;
    sx_smp_pool_event_fn fn;
    void *arg;
    psrv *srvs;
    size_t live; /* clients that have not made their final callback */
    bool freeing;
    sx_smp_pool_stats stats;
    sx_pool_proxy_cfg px;
    pool_svc_cfg svc; /* pool_service.c */
    /* o.conn.socks_proxy points here (a copy); created_ns (ns since 1970)
     * names the pool's session at the SOCKS proxy (sx_smpapi_route) */
    char socks_text[2 * SX_SOCKS_NAME_MAX + 80];
    int64_t created_ns;
};

/* pool.c, for pool_service.c. */
void sx_pool_emit(psrv *s, sx_smp_pool_event *e);
void sx_pool_fifo_push(psrv *s, pq *e);
void sx_pool_fifo_unlink(psrv *s, pq *e);
void sx_pool_pump(psrv *s);

/* ---- pool_service.c: the hooks pool.c calls ---- */

/* sx_smp_pool_new: copies the service options (none: off). */
SX_MUST_CHECK sx_status sx_pool_svc_init(sx_smp_pool *p, const sx_smp_pool_opts *o);
void sx_pool_svc_cleanup(sx_smp_pool *p);
void sx_pool_svc_srv_cleanup(psrv *s);
/* Before a connect: a fresh service key, and o->service set. */
SX_MUST_CHECK sx_status sx_pool_svc_connect_opts(psrv *s, sx_smp_aclient_opts *o);
/* The connection is up (before the per-queue SUBs start): sends one
 * SUBS / NSUBS for the associated queues when the session is the service's
 * (v19 and later), taking them out of the FIFO. */
void sx_pool_svc_connected(psrv *s);
/* A per-queue SUB / NSUB was confirmed: the queue is associated or not as
 * the answer says. */
void sx_pool_svc_sub_ok(psrv *s, pq *e, const sx_smp_client_reply *r);
/* A queue leaves the pool, or is no longer associated. */
void sx_pool_svc_forget(psrv *s, pq *e);
/* A queue the program says is associated already (a notifier restored
 * with sx_smp_notifier_set_associated): counted for the next NSUBS. */
void sx_pool_svc_preassoc(psrv *s, pq *e);
/* A router event with no queue of its own (ALLS, ENDS): true when taken. */
bool sx_pool_svc_event(psrv *s, const sx_smp_client_reply *r);

/* ---- pool_queue.c: what pool.c offers it ---- */

/* One operation of pool_queue.c, embedded in its own record. */
struct sx_pool_qop {
    /* The router's connection is up: queue the command on cl (its reply
     * callback is the operation's own). An error returned here makes the
     * pool call fail next. */
    sx_status (*start)(sx_pool_qop *op, sx_smp_aclient *cl);
    /* It cannot run: no connection (st), or the pool is being freed
     * (freeing: no program callback then); or, after start_proxied, its
     * end (st SX_OK too). Frees the record. */
    void (*fail)(sx_pool_qop *op, sx_status st, bool freeing);
    /* A sender's command that may go through a proxy (NULL: never): runs
     * it on the proxy's connection cl with the sessions opened through it
     * and the proxy's address, and ends by calling done(st, host_error,
     * done_arg) (an error returned here has no done). The pool then calls
     * start for a fallback to a direct command, or fail. */
    sx_status (*start_proxied)(sx_pool_qop *op, sx_smp_aclient *cl, sx_smpapi_proxied **list,
                               const sx_smp_address *proxy, sx_smpapi_proxy_done_fn done, void *done_arg);
};

/* Runs op on the connection to server's router (made when needed; the
 * password of server is not used). An error returned here has no fail. */
sx_status sx_pool_qop_submit(sx_smp_pool *p, const char *server, sx_pool_qop *op);
/* The same for a command of a sender side to server's router, through a
 * proxy when the pool's proxy_mode says so (op->start_proxied), with its
 * proxy_fallback. */
sx_status sx_pool_qop_submit_sender(sx_smp_pool *p, const char *server, sx_pool_qop *op);
/* sx_smp_pool_free has been called (a reply that comes now is dropped). */
bool sx_pool_freeing(const sx_smp_pool *p);
/* NEW with the subscription mode answered on cl: the pool holds rcv as
 * subscribed on that session (SUBSCRIBED is reported). SX_E_CLOSED when
 * cl is no longer a router's current client. */
sx_status sx_pool_adopt(sx_smp_pool *p, sx_smp_aclient *cl, sx_smp_queue *rcv);
/* After DEL: the pool lets go of a subscription of rcv, if it holds one. */
void sx_pool_forget(sx_smp_pool *p, const sx_smp_queue *rcv);
/* SEND (body, len; with the notification flag or not) or SKEY of a sender
 * side, directly or through a proxy as the options decide. */
typedef enum sx_pool_sender_kind {
    SX_POOL_OP_SEND,
    SX_POOL_OP_SEND_NOTIFY,
    SX_POOL_OP_SECURE,
} sx_pool_sender_kind;
sx_status sx_pool_sender_op(sx_smp_pool *p, const sx_smp_queue *snd, sx_pool_sender_kind kind, const void *body,
                            size_t len, sx_smp_pool_done_fn cb, void *arg);

#endif
