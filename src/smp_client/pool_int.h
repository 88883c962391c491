/* What pool.c offers pool_queue.c (the pool's queue operations): a command
 * that waits for its router's connection like a send, and the sender-side
 * operations (SEND, SKEY) with their proxy routing. Loop thread only. */
#ifndef SX_CLIENT_POOL_INT_H
#define SX_CLIENT_POOL_INT_H

#include "simplex/smp.h"

#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client_loop.h"

/* One operation of pool_queue.c, embedded in its own record. */
typedef struct sx_pool_qop sx_pool_qop;
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
