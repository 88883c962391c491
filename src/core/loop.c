/* epoll-based event loop with an eventfd for cross-thread wake-ups. The
 * epoll data pointer is the watcher itself; a watcher stopped during an
 * iteration is remembered so that pending events for it are skipped.
 * Timers sit in an intrusive list sorted by due time; the first one bounds
 * the epoll wait. */
#include "core/loop.h"

#include "core/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define SX_LOOP_MAX_EVENTS 256

struct sx_loop {
    int epfd;
    int wakefd;
    sx_loop_io wake_io;
    pthread_mutex_t lock; /* guards the posted list and stop flag */
    sx_loop_task *head, *tail;
    bool stop;
    /* Watchers stopped while events are being dispatched. */
    struct epoll_event *batch;
    int batch_n;
    int batch_i;
    /* Armed timers, earliest first. */
    sx_loop_timer *timers_head, *timers_tail;
    uint64_t pass; /* counts timer passes */
    sx_loop_timer tick; /* the built-in tick (sx_loop_set_tick) */
    sx_loop_tick_cb tick_cb;
    void *tick_data;
};

int64_t sx_loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_posted(sx_loop *loop)
{
    pthread_mutex_lock(&loop->lock);
    sx_loop_task *t = loop->head;
    loop->head = loop->tail = NULL;
    pthread_mutex_unlock(&loop->lock);
    while (t) {
        sx_loop_task *next = t->next; /* the callback may free or re-post t */
        t->next = NULL;
        t->cb(loop, t);
        t = next;
    }
}

void sx_loop_drain(sx_loop *loop)
{
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&loop->lock);
        bool empty = loop->head == NULL;
        pthread_mutex_unlock(&loop->lock);
        if (empty)
            return;
        run_posted(loop);
    }
}

static void wake_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)events;
    uint64_t v;
    while (read(io->fd, &v, sizeof v) > 0) {
    }
    run_posted(loop);
}

sx_status sx_loop_new(sx_loop **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "event loop: no place for the loop");
    *out = NULL;
    sx_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || loop->wakefd < 0 || pthread_mutex_init(&loop->lock, NULL) != 0) {
        if (loop->epfd >= 0)
            close(loop->epfd);
        if (loop->wakefd >= 0)
            close(loop->wakefd);
        free(loop);
        return sx_error_set(SX_E_IO, NULL, "event loop: cannot create it: %s", strerror(errno));
    }
    sx_loop_timer_init(&loop->tick, NULL, NULL);
    sx_loop_io_init(&loop->wake_io, loop->wakefd, wake_cb, NULL);
    if (sx_loop_io_start(loop, &loop->wake_io, SX_EV_READ) != SX_OK) {
        sx_loop_free(loop);
        return sx_error_set(SX_E_IO, NULL, "event loop: cannot watch its wake-up descriptor");
    }
    *out = loop;
    return SX_OK;
}

void sx_loop_free(sx_loop *loop)
{
    if (!loop)
        return;
    sx_loop_drain(loop);
    close(loop->epfd);
    close(loop->wakefd);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

void sx_loop_io_init(sx_loop_io *io, int fd, sx_loop_io_cb cb, void *data)
{
    io->fd = fd;
    io->events = 0;
    io->active = false;
    io->cb = cb;
    io->data = data;
}

sx_status sx_loop_io_start(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    struct epoll_event ev = {0};
    ev.events = (events & SX_EV_READ ? EPOLLIN : 0) | (events & SX_EV_WRITE ? EPOLLOUT : 0) | EPOLLRDHUP;
    ev.data.ptr = io;
    int op = io->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (io->active && io->events == events)
        return SX_OK;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) != 0)
        return errno == ENOMEM ? SX_E_NOMEM : SX_E_IO;
    io->active = true;
    io->events = events;
    return SX_OK;
}

void sx_loop_io_stop(sx_loop *loop, sx_loop_io *io)
{
    if (!io->active)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->active = false;
    io->events = 0;
    /* Drop events for this watcher still waiting in the current batch, so a
     * freed connection is never called back. */
    for (int i = loop->batch_i + 1; i < loop->batch_n; i++)
        if (loop->batch[i].data.ptr == io)
            loop->batch[i].data.ptr = NULL;
}

/* ---- timers ---- */

void sx_loop_timer_init(sx_loop_timer *t, sx_loop_timer_cb cb, void *data)
{
    t->prev = t->next = NULL;
    t->due_ms = 0;
    t->repeat_ms = 0;
    t->pass = 0;
    t->active = false;
    t->cb = cb;
    t->data = data;
}

static void timer_unlink(sx_loop *loop, sx_loop_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        loop->timers_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        loop->timers_tail = t->prev;
    t->prev = t->next = NULL;
    t->active = false;
}

/* Inserts t after every timer due at the same time or earlier, walking from
 * the latest: new timers are usually due last. */
static void timer_insert(sx_loop *loop, sx_loop_timer *t)
{
    sx_loop_timer *after = loop->timers_tail;
    while (after && after->due_ms > t->due_ms)
        after = after->prev;
    t->prev = after;
    t->next = after ? after->next : loop->timers_head;
    if (t->next)
        t->next->prev = t;
    else
        loop->timers_tail = t;
    if (after)
        after->next = t;
    else
        loop->timers_head = t;
    t->active = true;
    t->pass = loop->pass;
}

void sx_loop_timer_start(sx_loop *loop, sx_loop_timer *t, unsigned timeout_ms, unsigned repeat_ms)
{
    if (t->active)
        timer_unlink(loop, t);
    t->due_ms = sx_loop_now_ms() + timeout_ms;
    t->repeat_ms = repeat_ms;
    timer_insert(loop, t);
}

void sx_loop_timer_stop(sx_loop *loop, sx_loop_timer *t)
{
    if (t->active)
        timer_unlink(loop, t);
}

/* Runs the timers due by now that were armed before this pass. Every timer
 * armed during the pass is tagged with the new pass number, and because
 * equal due times keep start order it queues behind the older ones: the
 * first such timer ends the pass. */
static void run_timers(sx_loop *loop)
{
    if (!loop->timers_head)
        return;
    int64_t now = sx_loop_now_ms();
    uint64_t pass = ++loop->pass;
    sx_loop_timer *t;
    while ((t = loop->timers_head) != NULL && t->due_ms <= now && t->pass != pass) {
        timer_unlink(loop, t);
        if (t->repeat_ms) {
            t->due_ms = now + t->repeat_ms;
            timer_insert(loop, t);
        }
        t->cb(loop, t);
    }
}

/* Milliseconds until the first timer (-1: none). */
static int timers_wait_ms(sx_loop *loop)
{
    if (!loop->timers_head)
        return -1;
    int64_t left = loop->timers_head->due_ms - sx_loop_now_ms();
    if (left <= 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static void tick_timer_cb(sx_loop *loop, sx_loop_timer *t)
{
    (void)t;
    loop->tick_cb(loop, loop->tick_data);
}

void sx_loop_set_tick(sx_loop *loop, unsigned interval_ms, sx_loop_tick_cb cb, void *data)
{
    sx_loop_timer_stop(loop, &loop->tick);
    loop->tick_cb = cb;
    loop->tick_data = data;
    if (cb && interval_ms) {
        sx_loop_timer_init(&loop->tick, tick_timer_cb, NULL);
        sx_loop_timer_start(loop, &loop->tick, interval_ms, interval_ms);
    }
}

sx_status sx_loop_run(sx_loop *loop)
{
    struct epoll_event events[SX_LOOP_MAX_EVENTS];
    for (;;) {
        pthread_mutex_lock(&loop->lock);
        bool stop = loop->stop;
        loop->stop = false;
        pthread_mutex_unlock(&loop->lock);
        if (stop)
            return SX_OK;

        int n = epoll_wait(loop->epfd, events, SX_LOOP_MAX_EVENTS, timers_wait_ms(loop));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sx_error_set(SX_E_IO, NULL, "event loop: epoll_wait failed: %s", strerror(errno));
        }
        loop->batch = events;
        loop->batch_n = n;
        for (loop->batch_i = 0; loop->batch_i < n; loop->batch_i++) {
            sx_loop_io *io = events[loop->batch_i].data.ptr;
            if (!io)
                continue;
            uint32_t e = events[loop->batch_i].events;
            unsigned got = (e & EPOLLIN ? SX_EV_READ : 0) | (e & EPOLLOUT ? SX_EV_WRITE : 0) |
                           (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP) ? SX_EV_ERROR : 0);
            io->cb(loop, io, got);
        }
        loop->batch = NULL;
        loop->batch_n = loop->batch_i = 0;

        run_timers(loop);
    }
}

static void wake(sx_loop *loop)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the loop will wake. */
    if (write(loop->wakefd, &one, sizeof one) < 0) {
    }
}

void sx_loop_stop(sx_loop *loop)
{
    pthread_mutex_lock(&loop->lock);
    loop->stop = true;
    pthread_mutex_unlock(&loop->lock);
    wake(loop);
}

void sx_loop_post(sx_loop *loop, sx_loop_task *task)
{
    task->next = NULL;
    pthread_mutex_lock(&loop->lock);
    bool was_empty = loop->head == NULL;
    if (loop->tail)
        loop->tail->next = task;
    else
        loop->head = task;
    loop->tail = task;
    pthread_mutex_unlock(&loop->lock);
    if (was_empty)
        wake(loop);
}
