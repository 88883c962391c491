/* What pool_thread.c offers the other files of the pool for their
 * sx_smp_tpool_* calls: run a function on the pool's thread and wait until
 * it says it is done. */
#ifndef SX_CLIENT_POOL_THREAD_H
#define SX_CLIENT_POOL_THREAD_H

#include "simplex/smp.h"

typedef struct call sx_tpool_call;

/* Runs on the pool's thread. SX_OK: the work goes on, and something calls
 * sx_tpool_call_done(c, ...) later on that thread (the caller waits until
 * then); an error ends the call at once (with the thread's error detail). */
typedef sx_status (*sx_tpool_start_fn)(sx_smp_pool *p, sx_tpool_call *c, void *arg);

/* Any thread: runs fn with arg on the pool's thread and waits for it; the
 * outcome's error detail becomes the calling thread's. */
sx_status sx_tpool_run(sx_smp_tpool *tp, sx_tpool_start_fn fn, void *arg);
/* The pool's thread: ends the call with st (and its error detail). */
void sx_tpool_call_done(sx_tpool_call *c, sx_status st);
void *sx_tpool_call_arg(const sx_tpool_call *c);

#endif
