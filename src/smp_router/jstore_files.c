/* The files of one queue of the journal message store (see jstore.h):
 * reading the state back after any stop, recovery of the journals, state
 * backups, and the small file primitives the operations use. */
#define _GNU_SOURCE
#include "smp_router/jstore_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "crypto/util.h"

#define STATE_LINE_MAX 512

void sx_jreport(sx_jstore *js, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sx_kit_vreport(js->cfg.warn, js->cfg.warn_arg, fmt, ap);
    va_end(ap);
}

sx_status sx_jstore_queue_dir(const sx_jstore_cfg *c, const uint8_t rid[SX_ID_LEN], char *out, size_t cap)
{
    char b64[64];
    if (sx_b64_encode(sx_slice_of(rid, SX_ID_LEN), SX_B64_URL, b64, sizeof b64) != SX_OK)
        return SX_E_INTERNAL;
    size_t n = strlen(b64), at = 0;
    int used = snprintf(out, cap, "%s", c->path);
    if (used < 0 || (size_t)used >= cap)
        return SX_E_LIMIT;
    size_t o = (size_t)used;
    int parts = c->path_parts < 1 ? 1 : c->path_parts;
    for (int i = 0; i < parts && at < n; i++) {
        size_t seg = i == parts - 1 ? n - at : (n - at < 2 ? n - at : 2);
        if (o + 1 + seg >= cap)
            return SX_E_LIMIT;
        out[o++] = '/';
        memcpy(out + o, b64 + at, seg);
        o += seg;
        at += seg;
    }
    out[o] = 0;
    return SX_OK;
}

sx_status sx_jq_paths_of(sx_jstore *js, const uint8_t rid[SX_ID_LEN], sx_jq_paths *p)
{
    sx_status st = sx_jstore_queue_dir(&js->cfg, rid, p->dir, sizeof p->dir);
    if (st != SX_OK)
        return st;
    char b64[64];
    if (sx_b64_encode(sx_slice_of(rid, SX_ID_LEN), SX_B64_URL, b64, sizeof b64) != SX_OK)
        return SX_E_INTERNAL;
    int n = snprintf(p->state, sizeof p->state, "%s/queue_state.%s.log", p->dir, b64);
    return n < 0 || (size_t)n >= sizeof p->state ? SX_E_LIMIT : SX_OK;
}

sx_status sx_journal_path(const char *dir, const char *jid, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/messages.%s.log", dir, jid);
    return n < 0 || (size_t)n >= cap ? SX_E_LIMIT : SX_OK;
}

void sx_new_jid(char out[SX_JID_MAX + 1])
{
    uint8_t raw[SX_JID_RANDOM_BYTES];
    sx_random_bytes(raw, sizeof raw);
    if (sx_b64_encode(sx_slice_of(raw, sizeof raw), SX_B64_URL, out, SX_JID_MAX + 1) != SX_OK)
        out[0] = 0; /* cannot happen: 16 characters fit */
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static sx_status sync_fd(sx_jstore *js, int fd)
{
    if (js->cfg.sync == SX_JSYNC_FSYNC && fsync(fd) != 0)
        return SX_E_IO;
    return SX_OK;
}

sx_status sx_jwrite_all(sx_jstore *js, int fd, const uint8_t *buf, size_t len, int64_t at)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = at >= 0 ? pwrite(fd, buf + done, len - done, (off_t)(at + (int64_t)done))
                            : write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SX_E_IO;
        done += (size_t)n;
    }
    return sync_fd(js, fd);
}

sx_status sx_jq_append_state(sx_jstore *js, int sfd, const sx_jstate *st)
{
    if (!sx_jstate_valid(st))
        return SX_E_PROTOCOL;
    uint8_t buf[STATE_LINE_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    if (!sx_jstate_encode(&w, st) || !sx_write_str(&w, "\n"))
        return SX_E_INTERNAL;
    return sx_jwrite_all(js, sfd, w.buf, w.len, -1);
}

sx_status sx_journal_create(sx_jstore *js, const char *dir, const char *jid, int *fd)
{
    (void)js;
    char path[SX_KIT_PATH_MAX];
    sx_status st = sx_journal_path(dir, jid, path, sizeof path);
    if (st != SX_OK)
        return st;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    return *fd < 0 ? SX_E_IO : SX_OK;
}

/* SX_OK with *fd -1 when the file does not exist. */
static sx_status journal_open(const char *dir, const char *jid, int *fd)
{
    char path[SX_KIT_PATH_MAX];
    sx_status st = sx_journal_path(dir, jid, path, sizeof path);
    if (st != SX_OK)
        return st;
    *fd = open(path, O_RDWR | O_CLOEXEC);
    if (*fd < 0)
        return errno == ENOENT ? SX_OK : SX_E_IO;
    return SX_OK;
}

void sx_journal_remove(sx_jstore *js, const char *dir, const char *jid)
{
    char path[SX_KIT_PATH_MAX];
    if (sx_journal_path(dir, jid, path, sizeof path) == SX_OK && unlink(path) != 0 && errno != ENOENT)
        sx_jreport(js, "journal store: cannot remove %s: %s", path, strerror(errno));
}

sx_status sx_journal_fix_size(sx_jstore *js, int fd, int64_t pos)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return SX_E_IO;
    if ((int64_t)sb.st_size > pos) {
        sx_jreport(js, "journal store: message file of %lld bytes cut back to %lld (written after its state)",
                   (long long)sb.st_size, (long long)pos);
        return ftruncate(fd, (off_t)pos) == 0 ? sync_fd(js, fd) : SX_E_IO;
    }
    if ((int64_t)sb.st_size < pos) {
        sx_jreport(js, "journal store: message file of %lld bytes is shorter than its state (%lld)",
                   (long long)sb.st_size, (long long)pos);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

sx_status sx_journal_read_line(int fd, int64_t pos, uint8_t *buf, size_t cap, size_t *len)
{
    size_t have = 0;
    size_t want = cap < 4096 ? cap : 4096;
    while (have < cap) {
        ssize_t n = pread(fd, buf + have, want - have, (off_t)(pos + (int64_t)have));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SX_E_IO;
        uint8_t *nl = memchr(buf + have, '\n', (size_t)n);
        if (nl) {
            *len = (size_t)(nl - buf);
            return SX_OK;
        }
        have += (size_t)n;
        if (n == 0 || have < want)
            return SX_E_PROTOCOL; /* the end of the file before '\n' */
        want = cap - want < want ? cap : 2 * want;
    }
    return SX_E_PROTOCOL;
}

void sx_jq_close_files(sx_jstore *js, sx_jq *q)
{
    if (q->sfd >= 0) {
        close(q->sfd);
        __atomic_sub_fetch(&js->open_files, 1, __ATOMIC_RELAXED);
    }
    if (q->rfd >= 0)
        close(q->rfd);
    if (q->wfd >= 0)
        close(q->wfd);
    q->sfd = q->rfd = q->wfd = -1;
    q->tip_known = false;
}

/* ---- state backups ---- */

/* "<ISO 8601 UTC time with as many fraction digits as needed>" */
static void iso_now(char out[64])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts.tv_nsec) {
        char frac[16];
        snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
        size_t f = strlen(frac);
        while (frac[f - 1] == '0')
            frac[--f] = 0;
        snprintf(out + n, 64 - n, "%s", frac);
        n += f;
    }
    snprintf(out + n, 64 - n, "Z");
}

typedef struct backup_time {
    int64_t sec, nsec;
    char name[256];
} backup_time;

/* Parses "<time>.bak" after the state file's name and '.'. */
static bool parse_backup_time(const char *s, backup_time *bt)
{
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return false;
    int64_t ns = 0;
    if (*rest == '.') {
        rest++;
        int digits = 0;
        while (*rest >= '0' && *rest <= '9') {
            if (digits < 9) {
                ns = ns * 10 + (*rest - '0');
                digits++;
            }
            rest++;
        }
        if (digits == 0)
            return false;
        while (digits++ < 9)
            ns *= 10;
    }
    if (strcmp(rest, "Z.bak") != 0)
        return false;
    bt->sec = (int64_t)timegm(&tm);
    bt->nsec = ns;
    return true;
}

static int cmp_backup(const void *a, const void *b)
{
    const backup_time *x = a, *y = b;
    if (x->sec != y->sec)
        return x->sec < y->sec ? -1 : 1;
    return x->nsec < y->nsec ? -1 : x->nsec > y->nsec;
}

/* Moves from to "<state>.<time>.bak", then removes the backups older than
 * the store's limit beyond the keep_min_backups newest. */
static sx_status backup_state(sx_jstore *js, const char *dir, const char *state_path, const char *from)
{
    char ts[64], to[SX_KIT_PATH_MAX];
    iso_now(ts);
    int n = snprintf(to, sizeof to, "%s.%s.bak", state_path, ts);
    if (n < 0 || (size_t)n >= sizeof to)
        return SX_E_LIMIT;
    if (rename(from, to) != 0)
        return SX_E_IO;
    const char *base = strrchr(state_path, '/');
    base = base ? base + 1 : state_path;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return SX_OK;
    backup_time *list = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' || strlen(e->d_name) >= 256)
            continue;
        backup_time bt;
        if (!parse_backup_time(e->d_name + blen + 1, &bt))
            continue;
        if (count == cap) {
            size_t nc = cap ? 2 * cap : 8;
            backup_time *nl = realloc(list, nc * sizeof *nl);
            if (!nl)
                break;
            list = nl;
            cap = nc;
        }
        snprintf(bt.name, sizeof bt.name, "%s", e->d_name);
        list[count++] = bt;
    }
    closedir(d);
    if (count > 1)
        qsort(list, count, sizeof *list, cmp_backup);
    size_t keep = js->cfg.keep_min_backups > 0 ? (size_t)js->cfg.keep_min_backups : 0;
    for (size_t i = 0; i + keep < count; i++) {
        if (list[i].sec >= js->expire_backups_before)
            continue;
        char path[SX_KIT_PATH_MAX];
        n = snprintf(path, sizeof path, "%s/%s", dir, list[i].name);
        if (n > 0 && (size_t)n < sizeof path && unlink(path) != 0)
            sx_jreport(js, "journal store: cannot remove backup %s", path);
    }
    free(list);
    return SX_OK;
}

/* Opens the state file for appending; when should_backup, through a fresh
 * file holding st, the old one kept as a timed backup. */
static sx_status open_backup_state(sx_jstore *js, const sx_jq_paths *p, const sx_jstate *st, bool should_backup,
                                   int *sfd)
{
    *sfd = -1;
    char temp[SX_KIT_PATH_MAX];
    if (should_backup) {
        int n = snprintf(temp, sizeof temp, "%s.bak", p->state);
        if (n < 0 || (size_t)n >= sizeof temp)
            return SX_E_LIMIT;
        if (rename(p->state, temp) != 0)
            return SX_E_IO;
    }
    *sfd = open(p->state, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (*sfd < 0)
        return SX_E_IO;
    sx_status res = SX_OK;
    if (should_backup) {
        res = sx_jq_append_state(js, *sfd, st);
        if (res == SX_OK)
            res = backup_state(js, p->dir, p->state, temp);
    }
    if (res != SX_OK) {
        close(*sfd);
        *sfd = -1;
    }
    return res;
}

/* ---- reading the state back ---- */

sx_status sx_jq_read_state(sx_jstore *js, const char *state_path, sx_jstate *st, bool *have, bool *backup)
{
    *have = false;
    *backup = false;
    char temp[SX_KIT_PATH_MAX];
    int n = snprintf(temp, sizeof temp, "%s.bak", state_path);
    if (n < 0 || (size_t)n >= sizeof temp)
        return SX_E_LIMIT;
    if (exists(temp)) { /* a crash while compacting: the old file is the one */
        sx_jreport(js, "journal store: restoring %s from its temporary backup", state_path);
        if (rename(temp, state_path) != 0)
            return SX_E_IO;
    }
    int fd = open(state_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SX_OK : SX_E_IO;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return SX_E_IO;
    }
    size_t tail = js->cfg.state_tail_size ? js->cfg.state_tail_size : 512;
    size_t len = (uint64_t)sb.st_size > tail ? tail : (size_t)sb.st_size;
    off_t from = (off_t)((size_t)sb.st_size - len);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return SX_E_NOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, from + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    /* lines as Haskell's lines: a final '\n' does not start another line */
    size_t n_lines = 0, last_start = 0, prev_start = 0, start = 0;
    for (size_t i = 0; i < got; i++) {
        if (buf[i] == '\n') {
            prev_start = last_start;
            last_start = start;
            n_lines++;
            start = i + 1;
        }
    }
    size_t last_end, prev_end;
    if (start < got) { /* an unterminated last line */
        prev_start = last_start;
        last_start = start;
        n_lines++;
        last_end = got;
    } else {
        last_end = got ? got - 1 : 0;
    }
    prev_end = last_start ? last_start - 1 : 0;
    sx_status res = SX_OK;
    if (n_lines == 0) {
        sx_jreport(js, "journal store: empty queue state %s", state_path);
    } else if (sx_jstate_parse(sx_slice_of(buf + last_start, last_end - last_start), st) == SX_OK) {
        *have = true;
        *backup = (int64_t)n_lines > js->cfg.max_state_lines;
    } else if (n_lines == 1) {
        sx_jreport(js, "journal store: invalid queue state %s, starting anew", state_path);
        *backup = true;
    } else if (sx_jstate_parse(sx_slice_of(buf + prev_start, prev_end - prev_start), st) == SX_OK) {
        sx_jreport(js, "journal store: invalid last line in %s, using the one before", state_path);
        *have = true;
        *backup = true;
    } else {
        sx_jreport(js, "journal store: invalid queue state %s", state_path);
        res = SX_E_PROTOCOL;
    }
    free(buf);
    if (res == SX_OK && *have && !sx_jstate_valid(st)) {
        sx_jreport(js, "journal store: inconsistent queue state %s", state_path);
        *have = false;
        res = SX_E_PROTOCOL;
    }
    return res;
}

/* ---- opening a queue ---- */

static sx_status new_read_journal(sx_jstore *js, sx_jq *q, const sx_jq_paths *p)
{
    char jid[SX_JID_MAX + 1];
    sx_new_jid(jid);
    sx_status res = sx_journal_create(js, p->dir, jid, &q->rfd);
    if (res != SX_OK)
        return res;
    sx_jstate_init(&q->st, jid);
    return sx_jq_append_state(js, q->sfd, &q->st);
}

/* openJournals: the journals named by q->st, cut back to their state. */
static sx_status open_journals(sx_jstore *js, sx_jq *q, const sx_jq_paths *p)
{
    sx_jstate *st = &q->st;
    bool same = strcmp(st->read.jid, st->write.jid) == 0;
    int rfd = -1, wfd = -1;
    sx_status res = journal_open(p->dir, st->read.jid, &rfd);
    if (res != SX_OK)
        return res;
    if (rfd < 0) {
        if (same) {
            sx_jreport(js, "journal store: no message file in %s, starting a new one", p->dir);
            return new_read_journal(js, q, p);
        }
        sx_jpos rs;
        sx_jpos_init(&rs, st->write.jid);
        rs.msg_count = st->write.msg_count;
        rs.byte_count = st->write.byte_count;
        res = journal_open(p->dir, rs.jid, &wfd);
        if (res != SX_OK)
            return res;
        if (wfd < 0) {
            sx_jreport(js, "journal store: no read or write message file in %s, starting a new one", p->dir);
            return new_read_journal(js, q, p);
        }
        sx_jreport(js, "journal store: no read message file in %s, reading the write one", p->dir);
        res = sx_journal_fix_size(js, wfd, st->write.byte_pos);
        if (res != SX_OK) {
            close(wfd);
            return res;
        }
        st->read = rs;
        st->size = st->write.msg_count;
        q->rfd = wfd;
        return SX_OK;
    }
    if (same) {
        res = sx_journal_fix_size(js, rfd, st->write.byte_pos);
        if (res != SX_OK) {
            close(rfd);
            return res;
        }
        q->rfd = rfd;
        return SX_OK;
    }
    res = sx_journal_fix_size(js, rfd, st->read.byte_count);
    if (res == SX_OK)
        res = journal_open(p->dir, st->write.jid, &wfd);
    if (res != SX_OK) {
        close(rfd);
        return res;
    }
    if (wfd < 0) {
        sx_jreport(js, "journal store: no write message file in %s", p->dir);
        int64_t msgs = st->read.msg_count, bytes = st->read.byte_count;
        sx_jpos_init(&st->write, st->read.jid);
        st->write.msg_pos = st->write.msg_count = msgs;
        st->write.byte_pos = st->write.byte_count = bytes;
        st->size = msgs - st->read.msg_pos; /* canWrite kept, as the reference */
        q->rfd = rfd;
        return SX_OK;
    }
    res = sx_journal_fix_size(js, wfd, st->write.byte_pos);
    if (res != SX_OK) {
        close(rfd);
        close(wfd);
        return res;
    }
    q->rfd = rfd;
    q->wfd = wfd;
    return SX_OK;
}

sx_status sx_jq_load(sx_jstore *js, sx_jq *q, bool for_write)
{
    q->sfd = q->rfd = q->wfd = -1;
    q->tip_known = false;
    sx_jq_paths p;
    sx_status res = sx_jq_paths_of(js, q->rid, &p);
    if (res != SX_OK)
        return res;
    char jid[SX_JID_MAX + 1];
    struct stat sb;
    if (stat(p.dir, &sb) != 0) { /* no folder: files are made at the first write */
        sx_new_jid(jid);
        sx_jstate_init(&q->st, jid);
        return SX_OK;
    }
    sx_jstate st;
    bool have, backup;
    res = sx_jq_read_state(js, p.state, &st, &have, &backup);
    if (res != SX_OK)
        return res;
    if (!have) {
        sx_new_jid(jid);
        sx_jstate_init(&q->st, jid);
        return backup ? backup_state(js, p.dir, p.state, p.state) : SX_OK;
    }
    if (st.size == 0) { /* an empty queue starts on a new journal */
        sx_new_jid(jid);
        sx_jstate_init(&q->st, jid);
        if (for_write) {
            res = open_backup_state(js, &p, &q->st, backup, &q->sfd);
            if (res == SX_OK)
                res = sx_jq_append_state(js, q->sfd, &q->st);
            if (res == SX_OK)
                res = sx_journal_create(js, p.dir, jid, &q->rfd);
            if (res == SX_OK) {
                __atomic_add_fetch(&js->open_files, 1, __ATOMIC_RELAXED);
            } else if (q->sfd >= 0) {
                close(q->sfd);
                q->sfd = -1;
            }
        } else {
            res = backup_state(js, p.dir, p.state, p.state);
        }
        if (res != SX_OK)
            return res;
        sx_journal_remove(js, p.dir, st.read.jid);
        if (strcmp(st.read.jid, st.write.jid) != 0)
            sx_journal_remove(js, p.dir, st.write.jid);
        return SX_OK;
    }
    q->st = st;
    res = open_backup_state(js, &p, &st, backup, &q->sfd);
    if (res != SX_OK)
        return res;
    res = open_journals(js, q, &p);
    if (res != SX_OK) {
        close(q->sfd);
        q->sfd = q->rfd = q->wfd = -1;
        return res;
    }
    __atomic_add_fetch(&js->open_files, 1, __ATOMIC_RELAXED);
    return SX_OK;
}

static sx_status mkdirs(const char *base, const char *dir)
{
    char buf[SX_KIT_PATH_MAX];
    size_t blen = strlen(base);
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *s = buf + blen + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return SX_E_IO;
        *s = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return SX_E_IO;
    return SX_OK;
}

sx_status sx_jq_create_files(sx_jstore *js, sx_jq *q)
{
    sx_jq_paths p;
    sx_status res = sx_jq_paths_of(js, q->rid, &p);
    if (res == SX_OK)
        res = mkdirs(js->path, p.dir);
    if (res != SX_OK)
        return res;
    q->sfd = open(p.state, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (q->sfd < 0)
        return SX_E_IO;
    res = sx_journal_create(js, p.dir, q->st.read.jid, &q->rfd);
    if (res != SX_OK) {
        close(q->sfd);
        q->sfd = -1;
        return res;
    }
    __atomic_add_fetch(&js->open_files, 1, __ATOMIC_RELAXED);
    if (js->cfg.sync == SX_JSYNC_FSYNC) { /* the new names */
        int dfd = open(p.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    return SX_OK;
}
