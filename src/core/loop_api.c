/* The public additions to the event loop (simplex/loop.h): calls posted
 * from any thread and heap timers, over the loop's embedded tasks and
 * timers (core/loop.h). */
#include <stdlib.h>

#include "core/error.h"
#include "core/loop.h"

typedef struct call {
    sx_loop_task task;
    sx_loop_fn fn;
    void *arg;
} call;

static void call_cb(sx_loop *loop, sx_loop_task *t)
{
    call *c = t->data;
    sx_loop_fn fn = c->fn;
    void *arg = c->arg;
    free(c);
    fn(loop, arg);
}

sx_status sx_loop_call(sx_loop *loop, sx_loop_fn fn, void *arg)
{
    sx_error_clear();
    if (!loop || !fn)
        return sx_error_set(SX_E_USAGE, NULL, "loop call: no loop or no function");
    call *c = calloc(1, sizeof *c);
    if (!c)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    c->task.cb = call_cb;
    c->task.data = c;
    c->fn = fn;
    c->arg = arg;
    sx_loop_post(loop, &c->task);
    return SX_OK;
}

struct sx_timer {
    sx_loop_timer t;
    sx_loop *loop;
    sx_loop_fn fn;
    void *arg;
    bool running; /* its callback is on the stack */
    bool freed;   /* sx_timer_free was called from the callback */
};

static void timer_cb(sx_loop *loop, sx_loop_timer *lt)
{
    sx_timer *t = lt->data;
    t->running = true;
    t->fn(loop, t->arg);
    t->running = false;
    if (t->freed)
        free(t);
}

sx_status sx_timer_new(sx_loop *loop, sx_loop_fn fn, void *arg, sx_timer **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "timer: no place for the timer");
    *out = NULL;
    if (!loop || !fn)
        return sx_error_set(SX_E_USAGE, NULL, "timer: no loop or no function");
    sx_timer *t = calloc(1, sizeof *t);
    if (!t)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    sx_loop_timer_init(&t->t, timer_cb, t);
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    *out = t;
    return SX_OK;
}

void sx_timer_start(sx_timer *t, unsigned timeout_ms, unsigned repeat_ms)
{
    if (t && !t->freed)
        sx_loop_timer_start(t->loop, &t->t, timeout_ms, repeat_ms);
}

void sx_timer_stop(sx_timer *t)
{
    if (t)
        sx_loop_timer_stop(t->loop, &t->t);
}

void sx_timer_free(sx_timer *t)
{
    if (!t)
        return;
    sx_loop_timer_stop(t->loop, &t->t);
    if (t->running)
        t->freed = true; /* freed when its callback returns */
    else
        free(t);
}
