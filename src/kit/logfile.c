/* Router kit: the append-only log file (see logfile.h). Every write(2) and
 * its sync happen under the log's mutex, so writes never interleave: one
 * line per write from sx_kit_log_append_line, one batch per write from the
 * writer thread (kit/logwriter.h), which does the group commit. */
#include "kit/logfile.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "kit/logsum.h"

void sx_kit_log_report(const sx_kit_log_opts *o, sx_say_level level, const char *fmt, ...)
{
    if ((!o || (!o->warn && !o->report)) && !sx_say_on(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    if (o && o->report) {
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        o->report(o->warn_arg, level, msg);
    } else if (o && o->warn) {
        sx_kit_vreport(o->warn, o->warn_arg, fmt, ap);
    } else {
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        sx_say_write(level, __FILE__, __LINE__, "%s", msg);
    }
    va_end(ap);
}

struct sx_kit_log {
    int fd;
    sx_kit_log_opts o;
    pthread_mutex_t lock;
    bool broken; /* an unrecoverable failure: refuse everything */
    off_t size;  /* length of the file's whole lines */
    char *path;
    int sum_fd;     /* the sum file (kit/logsum.h), -1 when there is none */
    off_t sum_size; /* its length after the last whole batch of entries */
    uint8_t *pend;  /* the line being appended, with its '\n' */
    size_t pend_cap;
    uint64_t n_records, n_writes, n_syncs;
};

/* keep_sum: the existing file with its sum file as they are (sx_kit_log_reopen) */
static sx_status log_open(const char *path, bool truncate, bool keep_sum, const sx_kit_log_opts *opts,
                          sx_kit_log **out)
{
    *out = NULL;
    sx_kit_log *log = calloc(1, sizeof *log);
    if (!log)
        return SX_E_NOMEM;
    if (opts)
        log->o = *opts;
    log->sum_fd = -1;
    if (pthread_mutex_init(&log->lock, NULL) != 0) {
        free(log);
        return SX_E_INTERNAL;
    }
    log->path = strdup(path);
    if (!log->path) {
        log->fd = -1;
        sx_kit_log_close(log);
        return SX_E_NOMEM;
    }
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    log->fd = open(path, flags, 0600);
    struct stat sb;
    if (log->fd < 0 || fstat(log->fd, &sb) != 0) {
        sx_kit_log_close(log);
        return SX_E_IO;
    }
    /* The records hold queue keys and DH secrets: a file that existed with
     * a wider mode (an older version's, the reference's) is made 0600. */
    if ((sb.st_mode & 077) != 0) {
        if (fchmod(log->fd, sb.st_mode & 0700) != 0) {
            sx_kit_log_close(log);
            return SX_E_IO;
        }
        sx_kit_log_report(&log->o, SX_SAY_WARN,
                          "Warning: %s holds secrets and others could read it (mode %04o): changed to %04o",
                          path, (unsigned)(sb.st_mode & 07777), (unsigned)(sb.st_mode & 0700));
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
        if (last != '\n' && keep_sum) {
            sx_kit_log_close(log);
            return SX_E_IO;
        }
        if (last != '\n') {
            if (sx_fd_write_all(log->fd, (const uint8_t *)"\n", 1) != SX_OK) {
                sx_kit_log_close(log);
                return SX_E_IO;
            }
            log->size++;
        }
    }
    if (keep_sum) {
        sx_status st = sx_kit_logsum_reopen(path, (uint64_t)log->size, &log->sum_fd);
        if (st != SX_OK) {
            log->sum_fd = -1;
            sx_kit_log_close(log);
            return st;
        }
        struct stat ss;
        log->sum_size = fstat(log->sum_fd, &ss) == 0 ? ss.st_size : 0;
        *out = log;
        return SX_OK;
    }
    /* Lines already in an existing file stay unchecked; new ones get their
     * entries. */
    if (sx_kit_logsum_create(path, log->fd, (uint64_t)log->size, &log->sum_fd) != SX_OK) {
        log->sum_fd = -1;
        sx_kit_log_report(&log->o, SX_SAY_WARN,
                          "Warning: cannot create the checksum file of %s: its new lines will not be checked",
                          path);
    } else {
        struct stat ss;
        log->sum_size = fstat(log->sum_fd, &ss) == 0 ? ss.st_size : 0;
    }
    *out = log;
    return SX_OK;
}

sx_status sx_kit_log_open(const char *path, bool truncate, const sx_kit_log_opts *opts, sx_kit_log **out)
{
    return log_open(path, truncate, false, opts, out);
}

sx_status sx_kit_log_reopen(const char *path, const sx_kit_log_opts *opts, sx_kit_log **out)
{
    return log_open(path, false, true, opts, out);
}

/* After the sum file could not be written: it is cut back to its last whole
 * entry and no longer written (the lines after it are restored unchecked at
 * the next start, and reported then). The lock held, or no other user. */
static void sum_failed(sx_kit_log *log)
{
    if (log->sum_fd < 0)
        return;
    if (ftruncate(log->sum_fd, log->sum_size) != 0) {
    }
    close(log->sum_fd);
    log->sum_fd = -1;
    sx_kit_log_report(&log->o, SX_SAY_WARN,
                      "Warning: writing the checksum file of %s failed: its next lines are not checked",
                      log->path);
}

void sx_kit_log_close(sx_kit_log *log)
{
    if (!log)
        return;
    if (log->fd >= 0)
        close(log->fd);
    if (log->sum_fd >= 0)
        close(log->sum_fd);
    free(log->path);
    free(log->pend);
    pthread_mutex_destroy(&log->lock);
    free(log);
}

/* Writes buf as one write (retried only if the kernel wrote part of it) and
 * syncs per the policy; the lock held. On a failed
 * write the file is cut back to its last whole line; *broken when even
 * that, or a sync, failed. */
static sx_status write_batch(sx_kit_log *log, const uint8_t *buf, size_t len, bool *broken, bool *synced)
{
    *broken = *synced = false;
    /* the entries first: a line in the log always has one, unless the sum
     * file failed */
    if (log->sum_fd >= 0 && sx_kit_logsum_append(log->sum_fd, (uint64_t)log->size, buf, len) != SX_OK)
        sum_failed(log);
    sx_status st = sx_fd_write_all(log->fd, buf, len);
    if (st != SX_OK) {
        if (ftruncate(log->fd, log->size) != 0)
            *broken = true;
        if (log->sum_fd >= 0 && ftruncate(log->sum_fd, log->sum_size) != 0)
            sum_failed(log);
        return st;
    }
    log->size += (off_t)len;
    if (log->sum_fd >= 0)
        log->sum_size += (off_t)(sx_kit_logsum_lines(buf, len) * SX_KIT_LOGSUM_ENTRY_LEN);
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

/* Copies line and its '\n' into log->pend. */
static sx_status pend_set(sx_kit_log *log, sx_slice line)
{
    size_t need = line.len + 1;
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
        memcpy(log->pend, line.ptr, line.len);
    log->pend[line.len] = '\n';
    return SX_OK;
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
    sx_status st = pend_set(log, line);
    if (st != SX_OK) {
        pthread_mutex_unlock(&log->lock);
        return st;
    }
    log->n_records++;
    bool broken, synced;
    st = write_batch(log, log->pend, line.len + 1, &broken, &synced);
    log->broken = log->broken || broken;
    log->n_writes++;
    log->n_syncs += synced;
    pthread_mutex_unlock(&log->lock);
    return st;
}

sx_status sx_kit_log_append_lines(sx_kit_log *log, sx_slice lines, size_t n_lines)
{
    SX_ENSURE(lines.len > 0 && lines.ptr[lines.len - 1] == '\n', SX_E_USAGE);
    pthread_mutex_lock(&log->lock);
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
    b.sum_fd = log->sum_fd;
    b.off = (uint64_t)log->size;
    fill(&b, arg);
    sx_status res = sx_kit_linebuf_finish(&b);
    if (b.sum_failed)
        sum_failed(log);
    struct stat sb, ss;
    if (res == SX_OK && (fdatasync(log->fd) != 0 || fstat(log->fd, &sb) != 0))
        res = SX_E_IO;
    if (res == SX_OK && log->sum_fd >= 0) {
        if (fdatasync(log->sum_fd) != 0 || fstat(log->sum_fd, &ss) != 0)
            sum_failed(log);
        else
            log->sum_size = ss.st_size;
    }
    if (res == SX_OK) {
        pthread_mutex_lock(&log->lock);
        log->size = sb.st_size;
        log->n_records += b.count;
        pthread_mutex_unlock(&log->lock);
    }
    return res;
}

bool sx_kit_log_broken(sx_kit_log *log)
{
    pthread_mutex_lock(&log->lock);
    bool b = log->broken;
    pthread_mutex_unlock(&log->lock);
    return b;
}

uint64_t sx_kit_log_size(sx_kit_log *log)
{
    pthread_mutex_lock(&log->lock);
    uint64_t n = (uint64_t)log->size;
    pthread_mutex_unlock(&log->lock);
    return n;
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
