/* Router kit: the append-only log file (see logfile.h). Lines are appended
 * with one write(2) each, or one write per group of queued lines (group
 * commit, leader/follower). */
#include "kit/logfile.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"

void sx_kit_log_report(const sx_kit_log_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sx_kit_vreport(o ? o->warn : NULL, o ? o->warn_arg : NULL, fmt, ap);
    va_end(ap);
}

typedef struct waiter {
    struct waiter *next;
    sx_status st;
    bool done;
} waiter;

struct sx_kit_log {
    int fd;
    sx_kit_log_opts o;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool writing; /* a leader is writing a batch outside the lock */
    bool broken;  /* an unrecoverable failure: refuse everything */
    off_t size;   /* length of the file's whole lines */
    uint8_t *pend, *spare;
    size_t pend_len, pend_cap, spare_cap;
    waiter *head, **tail;
    uint64_t n_records, n_writes, n_syncs;
};

sx_status sx_kit_log_open(const char *path, bool truncate, const sx_kit_log_opts *opts, sx_kit_log **out)
{
    *out = NULL;
    sx_kit_log *log = calloc(1, sizeof *log);
    if (!log)
        return SX_E_NOMEM;
    if (opts)
        log->o = *opts;
    log->tail = &log->head;
    if (pthread_mutex_init(&log->lock, NULL) != 0) {
        free(log);
        return SX_E_INTERNAL;
    }
    if (pthread_cond_init(&log->cond, NULL) != 0) {
        pthread_mutex_destroy(&log->lock);
        free(log);
        return SX_E_INTERNAL;
    }
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    log->fd = open(path, flags, 0600);
    struct stat sb;
    if (log->fd < 0 || fstat(log->fd, &sb) != 0) {
        sx_kit_log_close(log);
        return SX_E_IO;
    }
    log->size = sb.st_size;
    /* A last line cut short by a crash stays its own (unparseable) line
     * instead of swallowing the next record. */
    if (sb.st_size > 0) {
        int rfd = open(path, O_RDONLY | O_CLOEXEC);
        uint8_t last = '\n';
        if (rfd < 0 || pread(rfd, &last, 1, sb.st_size - 1) != 1) {
            if (rfd >= 0)
                close(rfd);
            sx_kit_log_close(log);
            return SX_E_IO;
        }
        close(rfd);
        if (last != '\n') {
            if (sx_fd_write_all(log->fd, (const uint8_t *)"\n", 1) != SX_OK) {
                sx_kit_log_close(log);
                return SX_E_IO;
            }
            log->size++;
        }
    }
    *out = log;
    return SX_OK;
}

void sx_kit_log_close(sx_kit_log *log)
{
    if (!log)
        return;
    if (log->fd >= 0)
        close(log->fd);
    free(log->pend);
    free(log->spare);
    pthread_cond_destroy(&log->cond);
    pthread_mutex_destroy(&log->lock);
    free(log);
}

/* Writes buf as one write (retried only if the kernel wrote part of it) and
 * syncs per the policy. Only the current writer calls this. On a failed
 * write the file is cut back to its last whole line; *broken when even
 * that, or a sync, failed. */
static sx_status write_batch(sx_kit_log *log, const uint8_t *buf, size_t len, bool *broken, bool *synced)
{
    *broken = *synced = false;
    sx_status st = sx_fd_write_all(log->fd, buf, len);
    if (st != SX_OK) {
        if (ftruncate(log->fd, log->size) != 0)
            *broken = true;
        return st;
    }
    log->size += (off_t)len;
    if (log->o.sync == SX_KIT_SYNC_BATCH) {
        /* After a failed fdatasync the kernel may have dropped the dirty
         * pages: nothing later can be trusted, so the log stops. */
        if (fdatasync(log->fd) != 0) {
            *broken = true;
            return SX_E_IO;
        }
        *synced = true;
    }
    return SX_OK;
}

static sx_status pend_add(sx_kit_log *log, sx_slice line)
{
    size_t need = log->pend_len + line.len + 1;
    if (need > log->pend_cap) {
        size_t cap = log->pend_cap ? log->pend_cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *n = realloc(log->pend, cap);
        if (!n)
            return SX_E_NOMEM;
        log->pend = n;
        log->pend_cap = cap;
    }
    if (line.len)
        memcpy(log->pend + log->pend_len, line.ptr, line.len);
    log->pend[log->pend_len + line.len] = '\n';
    log->pend_len = need;
    return SX_OK;
}

/* Group commit: the caller (lock held, nobody writing) takes every queued
 * line, writes them with the lock released, and wakes their owners. */
static void lead(sx_kit_log *log)
{
    uint8_t *buf = log->pend;
    size_t len = log->pend_len, cap = log->pend_cap;
    waiter *batch = log->head;
    log->pend = log->spare;
    log->pend_cap = log->spare_cap;
    log->pend_len = 0;
    log->spare = NULL;
    log->spare_cap = 0;
    log->head = NULL;
    log->tail = &log->head;
    log->writing = true;
    pthread_mutex_unlock(&log->lock);

    bool broken, synced;
    sx_status st = write_batch(log, buf, len, &broken, &synced);

    pthread_mutex_lock(&log->lock);
    log->writing = false;
    log->broken = log->broken || broken;
    log->n_writes++;
    log->n_syncs += synced;
    log->spare = buf;
    log->spare_cap = cap;
    for (waiter *w = batch; w; w = w->next) {
        w->st = st;
        w->done = true;
    }
    pthread_cond_broadcast(&log->cond);
}

sx_status sx_kit_log_append_line(sx_kit_log *log, sx_slice line)
{
    SX_ENSURE(line.len < SX_KIT_LINE_MAX, SX_E_LIMIT);
    SX_ENSURE(!line.len || !memchr(line.ptr, '\n', line.len), SX_E_USAGE);
    pthread_mutex_lock(&log->lock);
    if (log->broken) {
        pthread_mutex_unlock(&log->lock);
        return SX_E_IO;
    }
    sx_status st = pend_add(log, line);
    if (st != SX_OK) {
        pthread_mutex_unlock(&log->lock);
        return st;
    }
    log->n_records++;
    if (!log->o.group_commit) {
        /* One record per write, under the lock. */
        bool broken, synced;
        st = write_batch(log, log->pend, log->pend_len, &broken, &synced);
        log->pend_len = 0;
        log->broken = log->broken || broken;
        log->n_writes++;
        log->n_syncs += synced;
        pthread_mutex_unlock(&log->lock);
        return st;
    }
    waiter me = {0};
    *log->tail = &me;
    log->tail = &me.next;
    while (!me.done) {
        if (!log->writing)
            lead(log);
        else
            pthread_cond_wait(&log->cond, &log->lock);
    }
    pthread_mutex_unlock(&log->lock);
    return me.st;
}

sx_status sx_kit_log_append_lines(sx_kit_log *log, sx_slice lines, size_t n_lines)
{
    SX_ENSURE(lines.len > 0 && lines.ptr[lines.len - 1] == '\n', SX_E_USAGE);
    pthread_mutex_lock(&log->lock);
    /* Wait for a group-commit leader to finish, so writes never interleave. */
    while (log->writing)
        pthread_cond_wait(&log->cond, &log->lock);
    if (log->broken) {
        pthread_mutex_unlock(&log->lock);
        return SX_E_IO;
    }
    bool broken, synced;
    sx_status st = write_batch(log, lines.ptr, lines.len, &broken, &synced);
    log->broken = log->broken || broken;
    log->n_records += n_lines;
    log->n_writes++;
    log->n_syncs += synced;
    pthread_mutex_unlock(&log->lock);
    return st;
}

sx_status sx_kit_log_sync(sx_kit_log *log)
{
    pthread_mutex_lock(&log->lock);
    sx_status st = SX_OK;
    if (log->broken || fdatasync(log->fd) != 0) {
        log->broken = true;
        st = SX_E_IO;
    } else {
        log->n_syncs++;
    }
    pthread_mutex_unlock(&log->lock);
    return st;
}

sx_status sx_kit_log_write_snapshot(sx_kit_log *log, sx_kit_fill_fn fill, void *arg)
{
    sx_kit_linebuf b;
    sx_kit_linebuf_init(&b, log->fd);
    fill(&b, arg);
    sx_status res = sx_kit_linebuf_finish(&b);
    struct stat sb;
    if (res == SX_OK && (fdatasync(log->fd) != 0 || fstat(log->fd, &sb) != 0))
        res = SX_E_IO;
    if (res == SX_OK) {
        pthread_mutex_lock(&log->lock);
        log->size = sb.st_size;
        log->n_records += b.count;
        pthread_mutex_unlock(&log->lock);
    }
    return res;
}

void sx_kit_log_counters(sx_kit_log *log, uint64_t *records, uint64_t *writes, uint64_t *syncs)
{
    pthread_mutex_lock(&log->lock);
    if (records)
        *records = log->n_records;
    if (writes)
        *writes = log->n_writes;
    if (syncs)
        *syncs = log->n_syncs;
    pthread_mutex_unlock(&log->lock);
}
