/* An event loop for the event-loop flavour of the clients (simplex/smp.h,
 * sx_smp_aconn_*): one loop per thread, epoll underneath. Any number of
 * connections and timers share a loop; their callbacks run on the thread
 * that runs it. Only sx_loop_stop and sx_loop_call may be called from other
 * threads; everything else, including every sx_smp_aconn_* call, belongs to
 * the loop's thread (a loop callback, or before sx_loop_run starts). */
#ifndef SIMPLEX_LOOP_H
#define SIMPLEX_LOOP_H

#include "simplex/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sx_loop sx_loop;
typedef struct sx_timer sx_timer;
typedef void (*sx_loop_fn)(sx_loop *loop, void *arg);

SX_API SX_MUST_CHECK sx_status sx_loop_new(sx_loop **out);
/* Frees the loop, first running the calls posted to it that have not run
 * (connections end with a posted call: run or free the loop once more after
 * the last one closed). Timers must have been freed, connections closed.
 * Accepts NULL. */
SX_API void sx_loop_free(sx_loop *loop);
/* Runs callbacks until sx_loop_stop. SX_E_IO if the system's poll fails. */
SX_API SX_MUST_CHECK sx_status sx_loop_run(sx_loop *loop);
/* Any thread: makes sx_loop_run return after the callbacks in progress. */
SX_API void sx_loop_stop(sx_loop *loop);
/* Any thread: runs fn(loop, arg) on the loop's thread, calls in the order
 * they were made. SX_E_NOMEM. */
SX_API SX_MUST_CHECK sx_status sx_loop_call(sx_loop *loop, sx_loop_fn fn, void *arg);

/* A timer on a loop: fn(loop, arg) after timeout_ms, then every repeat_ms
 * (0: once). */
SX_API SX_MUST_CHECK sx_status sx_timer_new(sx_loop *loop, sx_loop_fn fn, void *arg, sx_timer **out);
/* Arms (or re-arms) the timer. */
SX_API void sx_timer_start(sx_timer *t, unsigned timeout_ms, unsigned repeat_ms);
/* Disarms it; from its own callback too. */
SX_API void sx_timer_stop(sx_timer *t);
/* Stops and frees it (from its own callback too). Accepts NULL. */
SX_API void sx_timer_free(sx_timer *t);

#ifdef __cplusplus
}
#endif

#endif
