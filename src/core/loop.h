/* Event loop: one per thread, epoll underneath (the only file that knows).
 *
 * Watchers (sx_loop_io for file descriptors, sx_loop_timer for timers) are
 * embedded in the caller's object, so the loop allocates nothing per
 * connection or timer. Only sx_loop_post and sx_loop_stop may be
 * called from another thread: they queue work and wake the loop through an
 * eventfd. Everything else belongs to the loop's own thread. */
#ifndef SX_CORE_LOOP_H
#define SX_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "simplex/loop.h"
#include "simplex/status.h"

#define SX_EV_READ 1u
#define SX_EV_WRITE 2u
#define SX_EV_ERROR 4u /* hang-up or error; delivered whatever was asked */

/* sx_loop_new, sx_loop_free, sx_loop_run, sx_loop_stop, sx_loop_call and
 * the sx_timer functions are public (simplex/loop.h); the rest is the
 * library's own. */
typedef struct sx_loop_io sx_loop_io;
typedef void (*sx_loop_io_cb)(sx_loop *loop, sx_loop_io *io, unsigned events);

struct sx_loop_io {
    int fd;
    unsigned events; /* currently watched */
    bool active;
    sx_loop_io_cb cb;
    void *data; /* caller's */
};

/* A unit of work posted from any thread; embedded in the caller's object or
 * heap-allocated by the poster. The loop does not free it. */
typedef struct sx_loop_task sx_loop_task;
typedef void (*sx_loop_task_cb)(sx_loop *loop, sx_loop_task *task);
struct sx_loop_task {
    sx_loop_task *next;
    sx_loop_task_cb cb;
    void *data;
};

/* A timer: embedded in the caller's object, any number per loop. Armed
 * timers are kept in a list sorted by due time (ties in the order they were
 * started); starting one costs a walk from the latest due time backwards,
 * which is constant when timers are armed with similar intervals. The
 * fields are the loop's; set cb/data through sx_loop_timer_init. */
typedef struct sx_loop_timer sx_loop_timer;
typedef void (*sx_loop_timer_cb)(sx_loop *loop, sx_loop_timer *timer);
struct sx_loop_timer {
    sx_loop_timer *prev, *next;
    int64_t due_ms;
    unsigned repeat_ms;
    uint64_t pass; /* the loop pass it was armed in */
    bool active;
    sx_loop_timer_cb cb;
    void *data; /* caller's */
};

/* Periodic tick, run on the loop thread every interval_ms. */
typedef void (*sx_loop_tick_cb)(sx_loop *loop, void *data);

/* sx_loop_new / sx_loop_free: see simplex/loop.h (free runs the tasks
 * posted and not yet run, as sx_loop_drain; watchers and timers must have
 * been stopped). */

void sx_loop_io_init(sx_loop_io *io, int fd, sx_loop_io_cb cb, void *data);
/* Starts watching, or changes the watched events of an active watcher. */
SX_MUST_CHECK sx_status sx_loop_io_start(sx_loop *loop, sx_loop_io *io, unsigned events);
/* Stops watching; safe to call on an inactive watcher and from its own
 * callback. After it returns, the callback is not called for this watcher in
 * the current iteration either. */
void sx_loop_io_stop(sx_loop *loop, sx_loop_io *io);

void sx_loop_timer_init(sx_loop_timer *t, sx_loop_timer_cb cb, void *data);
/* Arms t to fire after timeout_ms, then every repeat_ms (0: once). Starting
 * an active timer re-arms it. A timer that fires is re-armed for its
 * repeat before its callback runs, so the callback may stop it or start it
 * again with other times. A timer armed from a timer callback with a zero
 * timeout fires on the next loop iteration, not in the same one. */
void sx_loop_timer_start(sx_loop *loop, sx_loop_timer *t, unsigned timeout_ms, unsigned repeat_ms);
/* Disarms t; safe on an inactive timer and from any callback (its own
 * included): after it returns, t's callback does not run until it is
 * started again. */
void sx_loop_timer_stop(sx_loop *loop, sx_loop_timer *t);
static inline bool sx_loop_timer_active(const sx_loop_timer *t)
{
    return t->active;
}

/* Sets the loop's built-in periodic tick (0 disables it): a timer owned by
 * the loop, for programs that need just one. Independent of the timers
 * started with sx_loop_timer_start. */
void sx_loop_set_tick(sx_loop *loop, unsigned interval_ms, sx_loop_tick_cb cb, void *data);

/* sx_loop_run (until sx_loop_stop; SX_E_IO if epoll fails) and the
 * thread-safe sx_loop_stop: see simplex/loop.h. */
/* Thread-safe: runs task->cb on the loop thread, in posting order. */
void sx_loop_post(sx_loop *loop, sx_loop_task *task);
/* Runs the tasks posted so far on the calling thread; for shutdown, after
 * the loop's thread has returned from sx_loop_run. */
void sx_loop_drain(sx_loop *loop);
/* Milliseconds of a monotonic clock. */
int64_t sx_loop_now_ms(void);

#endif
