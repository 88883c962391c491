/* Router kit: the store-log writer thread (see logwriter.h): a double buffer
 * of encoded lines under a mutex; submitters append and signal, the thread
 * swaps buffers and writes the whole batch with one call. A batch whose
 * write failed is kept (a retrying writer) and written again later with
 * what was queued after it appended, so the file gets the records in
 * order or not at all. */
#include "kit/logwriter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>

#include "core/deadline.h"
#include "crypto/util.h"
#include "kit/say.h"

struct sx_kit_logwriter {
    sx_kit_log *log;
    sx_kit_logwriter_cb cb;
    void *arg;
    int retry_ms;
    sx_status (*sink)(void *arg, sx_slice lines, size_t n);
    void *sink_arg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t switched;
    sx_writer buf; /* lines waiting for the thread */
    size_t buf_lines;
    uint64_t next_seq; /* last sequence number handed out */
    uint64_t durable;  /* atomic */
    bool failed;       /* atomic: refusing records */
    bool dead;         /* atomic: for good */
    bool stop;
    sx_kit_log *switch_to; /* sx_kit_logwriter_switch: the next log */
};

/* Waits ms on the writer's condition (the lock held), or less when told to
 * stop or switch; records submitted meanwhile do not cut it short. */
static void wait_ms(sx_kit_logwriter *w, int ms)
{
    struct timespec ts = sx_deadline_after_ms(ms);
    while (!w->stop && !w->switch_to && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0) {
    }
}

/* Appends the submitters' buffer to the batch (the lock held): a kept
 * batch is followed by what was queued after it. */
static bool take_buffer(sx_kit_logwriter *w, sx_writer *batch, size_t *lines)
{
    if (batch->len == 0) {
        sx_writer tmp = *batch;
        *batch = w->buf;
        w->buf = tmp;
        w->buf.len = 0;
    } else if (w->buf.len) {
        if (!sx_write_bytes(batch, w->buf.buf, w->buf.len))
            return false;
        sx_wipe(w->buf.buf, w->buf.len);
        w->buf.len = 0;
    }
    *lines += w->buf_lines;
    w->buf_lines = 0;
    return true;
}

static void *writer_main(void *arg)
{
    sx_kit_logwriter *w = arg;
    prctl(PR_SET_NAME, "log writer", 0, 0, 0);
    sx_writer batch;
    sx_writer_init_dynamic(&batch, SIZE_MAX / 2);
    size_t lines = 0; /* in batch */
    bool reported = false;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        if (w->switch_to) {
            /* Between two batches: what is not written yet goes to the new
             * log (a kept batch too: it was cut from the old one). */
            w->log = w->switch_to;
            w->switch_to = NULL;
            pthread_cond_broadcast(&w->switched);
        }
        if (batch.len) {
            /* A kept batch: try again after a while, or at once to stop. */
            if (!w->stop)
                wait_ms(w, w->retry_ms);
            if (w->switch_to)
                continue;
        } else {
            while (w->buf.len == 0 && !w->stop && !w->switch_to)
                pthread_cond_wait(&w->cond, &w->lock);
            if (w->switch_to)
                continue;
            if (w->buf.len == 0 && w->stop)
                break;
        }
        /* Swap (or append): the thread writes while submitters fill a
         * fresh buffer. */
        bool taken = take_buffer(w, &batch, &lines);
        uint64_t seq = w->next_seq;
        bool stopping = w->stop;
        sx_kit_log *log = w->log;
        pthread_mutex_unlock(&w->lock);

        bool dead = __atomic_load_n(&w->dead, __ATOMIC_ACQUIRE);
        errno = 0;
        bool ok = !dead && taken &&
                  (w->sink ? w->sink(w->sink_arg, sx_writer_slice(&batch), lines)
                           : sx_kit_log_append_lines(log, sx_writer_slice(&batch), lines)) == SX_OK;
        int write_errno = errno;
        if (ok) {
            __atomic_store_n(&w->durable, seq, __ATOMIC_RELEASE);
            if (__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE)) {
                __atomic_store_n(&w->failed, false, __ATOMIC_RELEASE);
                SX_SAY(SX_SAY_WARN, "the log can be written again; changes are accepted again");
            }
            reported = false;
        } else if (!dead && taken && w->retry_ms > 0 && !stopping && (!log || !sx_kit_log_broken(log))) {
            __atomic_store_n(&w->failed, true, __ATOMIC_RELEASE);
            if (!reported) {
                SX_SAY(SX_SAY_ERROR,
                       "log write failed: %s; changes are refused until the log can be written again (retried "
                       "every %d ms)",
                       write_errno ? strerror(write_errno) : "I/O error", w->retry_ms);
            }
            reported = true;
        } else if (!dead) {
            __atomic_store_n(&w->failed, true, __ATOMIC_RELEASE);
            __atomic_store_n(&w->dead, true, __ATOMIC_RELEASE);
            SX_SAY(SX_SAY_ERROR, "log write failed: %s; changes are refused from now on",
                   !taken ? "out of memory" : write_errno ? strerror(write_errno)
                                                          : "I/O error");
        }
        if (ok || __atomic_load_n(&w->dead, __ATOMIC_ACQUIRE)) {
            sx_wipe(batch.buf, batch.len); /* lines may hold DH secrets */
            batch.len = 0;
            batch.err = SX_OK;
            lines = 0;
        }
        if (w->cb)
            w->cb(w->arg, seq, ok);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    sx_wipe(batch.buf, batch.len);
    sx_writer_cleanup(&batch);
    return NULL;
}

sx_status sx_kit_logwriter_start(sx_kit_log *log, sx_kit_logwriter_cb cb, void *arg, sx_kit_logwriter **out)
{
    sx_kit_logwriter_opts o = {.cb = cb, .arg = arg};
    return sx_kit_logwriter_start_opts(log, &o, out);
}

sx_status sx_kit_logwriter_start_opts(sx_kit_log *log, const sx_kit_logwriter_opts *opts, sx_kit_logwriter **out)
{
    *out = NULL;
    sx_kit_logwriter *w = calloc(1, sizeof *w);
    if (!w)
        return SX_E_NOMEM;
    w->log = log;
    w->cb = opts->cb;
    w->arg = opts->arg;
    w->retry_ms = opts->retry_ms;
    w->sink = opts->sink;
    w->sink_arg = opts->sink_arg;
    sx_writer_init_dynamic(&w->buf, SIZE_MAX / 2);
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        return SX_E_INTERNAL;
    }
    if (pthread_cond_init(&w->cond, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w);
        return SX_E_INTERNAL;
    }
    if (pthread_cond_init(&w->switched, NULL) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return SX_E_INTERNAL;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->switched);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return SX_E_INTERNAL;
    }
    *out = w;
    return SX_OK;
}

static uint64_t submit(sx_kit_logwriter *w, sx_kit_encode_fn encode, const void *rec, bool always)
{
    if (__atomic_load_n(always ? &w->dead : &w->failed, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t start = w->buf.len;
    uint64_t seq = 0;
    if (encode(&w->buf, rec) && sx_write_u8(&w->buf, '\n')) {
        seq = ++w->next_seq;
        w->buf_lines++;
        pthread_cond_signal(&w->cond);
    } else {
        /* Drop the partial line; the writer's error is reset with it. */
        w->buf.len = start;
        w->buf.err = SX_OK;
    }
    pthread_mutex_unlock(&w->lock);
    return seq;
}

uint64_t sx_kit_logwriter_submit(sx_kit_logwriter *w, sx_kit_encode_fn encode, const void *rec)
{
    return submit(w, encode, rec, false);
}

uint64_t sx_kit_logwriter_submit_always(sx_kit_logwriter *w, sx_kit_encode_fn encode, const void *rec)
{
    return submit(w, encode, rec, true);
}

uint64_t sx_kit_logwriter_durable(const sx_kit_logwriter *w)
{
    return __atomic_load_n(&w->durable, __ATOMIC_ACQUIRE);
}

bool sx_kit_logwriter_failed(const sx_kit_logwriter *w)
{
    return __atomic_load_n(&w->failed, __ATOMIC_ACQUIRE);
}

bool sx_kit_logwriter_dead(const sx_kit_logwriter *w)
{
    return __atomic_load_n(&w->dead, __ATOMIC_ACQUIRE);
}

sx_kit_log *sx_kit_logwriter_switch(sx_kit_logwriter *w, sx_kit_log *log)
{
    pthread_mutex_lock(&w->lock);
    sx_kit_log *old = w->log;
    w->switch_to = log;
    pthread_cond_signal(&w->cond);
    while (w->switch_to)
        pthread_cond_wait(&w->switched, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return old;
}

void sx_kit_logwriter_stop(sx_kit_logwriter *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    sx_wipe(w->buf.buf, w->buf.len);
    sx_writer_cleanup(&w->buf);
    pthread_cond_destroy(&w->switched);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
