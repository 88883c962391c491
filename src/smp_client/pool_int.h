/* The connection pool's records (pool.c), shared with the parts of the pool
 * kept in files of their own: acting as a service (pool_service.c). */
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
} pool_svc_cfg;

/* Per router: the service key of the current connection, the ServiceId
 * the router gave last, and the associated queues the pool holds (their
 * count and the XOR of the MD5 of their ids: what SUBS / NSUBS expects). */
typedef struct pool_svc_srv {
    sx_key *key;
    sx_smp_client_service_opts so;
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

/* The notifier side of a queue (sx_smp_notifier_new). */
struct sx_smp_notifier {
    char server[SX_QUEUE_ADDR_MAX];
    uint8_t id[SX_QUEUE_ID_LEN];
    sx_key *key;
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

/* A send or an acknowledgement. */
typedef struct pop {
    struct pop *next;
    psrv *srv;
    bool is_ack;
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
    char shown[SX_QUEUE_ADDR_MAX]; /* without password */
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
/* A router event with no queue of its own (ALLS, ENDS): true when taken. */
bool sx_pool_svc_event(psrv *s, const sx_smp_client_reply *r);

#endif
