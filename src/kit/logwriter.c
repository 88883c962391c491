/* Router kit: the store-log writer thread (see logwriter.h): a double buffer
 * of encoded lines under a mutex; submitters append and signal, the thread
 * swaps buffers and writes the whole batch with one call. */
#include "kit/logwriter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"

struct sx_kit_logwriter {
    sx_kit_log *log;
    sx_kit_logwriter_cb cb;
    void *arg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    sx_writer buf; /* lines waiting for the thread */
    size_t buf_lines;
    uint64_t next_seq; /* last sequence number handed out */
    uint64_t durable;  /* atomic */
    bool failed;       /* atomic */
    bool stop;
};

static void *writer_main(void *arg)
{
    sx_kit_logwriter *w = arg;
    sx_writer batch;
    sx_writer_init_dynamic(&batch, SIZE_MAX / 2);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->buf.len == 0 && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->buf.len == 0 && w->stop)
            break;
        /* Swap: the thread writes while submitters fill a fresh buffer. */
        sx_writer tmp = batch;
        batch = w->buf;
        w->buf = tmp;
        w->buf.len = 0;
        size_t lines = w->buf_lines;
        w->buf_lines = 0;
        uint64_t seq = w->next_seq;
        pthread_mutex_unlock(&w->lock);

        bool ok = !__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE) &&
                  sx_kit_log_append_lines(w->log, sx_writer_slice(&batch), lines) == SX_OK;
        sx_wipe(batch.buf, batch.len); /* lines may hold DH secrets */
        batch.len = 0;
        if (ok) {
            __atomic_store_n(&w->durable, seq, __ATOMIC_RELEASE);
        } else if (!__atomic_exchange_n(&w->failed, true, __ATOMIC_ACQ_REL)) {
            fprintf(stderr, "router: the store log cannot be written; changes are refused from now on\n");
        }
        if (w->cb)
            w->cb(w->arg, seq, ok);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    sx_writer_cleanup(&batch);
    return NULL;
}

sx_status sx_kit_logwriter_start(sx_kit_log *log, sx_kit_logwriter_cb cb, void *arg, sx_kit_logwriter **out)
{
    *out = NULL;
    sx_kit_logwriter *w = calloc(1, sizeof *w);
    if (!w)
        return SX_E_NOMEM;
    w->log = log;
    w->cb = cb;
    w->arg = arg;
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
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return SX_E_INTERNAL;
    }
    *out = w;
    return SX_OK;
}

uint64_t sx_kit_logwriter_submit(sx_kit_logwriter *w, sx_kit_encode_fn encode, const void *rec)
{
    if (__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE))
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

uint64_t sx_kit_logwriter_durable(const sx_kit_logwriter *w)
{
    return __atomic_load_n(&w->durable, __ATOMIC_ACQUIRE);
}

bool sx_kit_logwriter_failed(const sx_kit_logwriter *w)
{
    return __atomic_load_n(&w->failed, __ATOMIC_ACQUIRE);
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
    sx_writer_cleanup(&w->buf);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
