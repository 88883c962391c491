/* The journal message store: the queues held in memory and the message
 * operations (see jstore.h). The files of one queue are in jstore_files.c. */
#include "smp_router/jstore_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_BUCKETS 4096

void sx_jstore_cfg_default(sx_jstore_cfg *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->path_parts = 5;
    c->quota = SX_QUEUE_QUOTA;
    c->max_msg_count = 256;
    c->max_state_lines = 16;
    c->state_tail_size = 512;
    c->idle_interval = 14400; /* the reference's default expiry check interval */
    c->expire_backups_after = 14 * 86400;
    c->keep_min_backups = 2;
    c->max_open = 8192; /* 3 files each at most: within a raised descriptor limit */
    c->sync = SX_JSYNC_WRITE;
}

static int64_t now_sec(void) { return (int64_t)time(NULL); }

sx_status sx_jstore_open(const sx_jstore_cfg *c, sx_jstore **out)
{
    *out = NULL;
    if (!c || !c->path || !c->path[0] || c->quota < 1 || c->max_msg_count < 1)
        return SX_E_USAGE;
    sx_jstore *js = calloc(1, sizeof *js);
    if (!js)
        return SX_E_NOMEM;
    js->cfg = *c;
    int n = snprintf(js->path, sizeof js->path, "%s", c->path);
    while (n > 1 && js->path[n - 1] == '/')
        js->path[--n] = 0;
    js->cfg.path = js->path;
    js->n_buckets = N_BUCKETS;
    js->buckets = calloc(js->n_buckets, sizeof *js->buckets);
    if (!js->buckets || (size_t)n >= sizeof js->path) {
        sx_status res = js->buckets ? SX_E_LIMIT : SX_E_NOMEM;
        free(js->buckets);
        free(js);
        return res;
    }
    if (mkdir(js->path, 0700) != 0 && errno != EEXIST) {
        free(js->buckets);
        free(js);
        return SX_E_IO;
    }
    js->expire_backups_before = now_sec() - c->expire_backups_after;
    pthread_mutex_init(&js->mu, NULL);
    *out = js;
    return SX_OK;
}

static size_t bucket_of(const sx_jstore *js, const uint8_t *rid)
{
    uint64_t h = 0;
    memcpy(&h, rid, sizeof h); /* ids are random */
    return (size_t)(h % js->n_buckets);
}

static sx_jq *find(sx_jstore *js, const uint8_t *rid)
{
    for (sx_jq *q = js->buckets[bucket_of(js, rid)]; q; q = q->next)
        if (memcmp(q->rid, rid, SX_ID_LEN) == 0)
            return q;
    return NULL;
}

static void unload(sx_jstore *js, sx_jq *q)
{
    sx_jq **pp = &js->buckets[bucket_of(js, q->rid)];
    while (*pp && *pp != q)
        pp = &(*pp)->next;
    if (*pp)
        *pp = q->next;
    sx_jq_close_files(js, q);
    js->loaded--;
    free(q);
}

void sx_jstore_close(sx_jstore *js)
{
    if (!js)
        return;
    for (size_t i = 0; i < js->n_buckets; i++)
        while (js->buckets[i])
            unload(js, js->buckets[i]);
    pthread_mutex_destroy(&js->mu);
    free(js->buckets);
    free(js);
}

/* The queue in memory, loaded from its folder if needed (*was_loaded). */
static sx_status get_queue(sx_jstore *js, const uint8_t *rid, bool for_write, bool *was_loaded, sx_jq **out)
{
    sx_jq *q = find(js, rid);
    *was_loaded = q != NULL;
    if (!q) {
        if (js->cfg.max_open && js->loaded >= js->cfg.max_open) {
            /* bounded memory and descriptors: all others are closed (their
             * state is on disk; busy ones open again when next used) */
            for (size_t i = 0; i < js->n_buckets; i++)
                while (js->buckets[i])
                    unload(js, js->buckets[i]);
        }
        q = calloc(1, sizeof *q);
        if (!q)
            return SX_E_NOMEM;
        memcpy(q->rid, rid, SX_ID_LEN);
        sx_status res = sx_jq_load(js, q, for_write);
        if (res != SX_OK) {
            free(q);
            return res;
        }
        q->active_at = now_sec();
        size_t b = bucket_of(js, rid);
        q->next = js->buckets[b];
        js->buckets[b] = q;
        js->loaded++;
    }
    *out = q;
    return SX_OK;
}

static sx_status update_state(sx_jstore *js, sx_jq *q, bool log, const sx_jstate *st)
{
    if (!sx_jstate_valid(st))
        return SX_E_PROTOCOL;
    if (log && q->sfd >= 0) {
        sx_status res = sx_jq_append_state(js, q->sfd, st);
        if (res != SX_OK)
            return res;
    }
    q->st = *st;
    return SX_OK;
}

/* chooseReadJournal in the reference: the journal the first message is in (*fd -1: none).
 * A read journal read to its end gives way to the write one. */
static sx_status pick_journal(sx_jstore *js, sx_jq *q, bool log, int *fd)
{
    *fd = -1;
    const sx_jpos *rs = &q->st.read, *ws = &q->st.write;
    bool same = strcmp(rs->jid, ws->jid) == 0;
    if (q->wfd >= 0 && rs->msg_pos >= rs->msg_count && !same) {
        char old[SX_JID_MAX + 1];
        memcpy(old, rs->jid, sizeof old);
        sx_jstate st = q->st;
        sx_jpos_init(&st.read, ws->jid);
        st.read.msg_count = ws->msg_count;
        st.read.byte_count = ws->byte_count;
        close(q->rfd);
        q->rfd = q->wfd;
        q->wfd = -1;
        q->tip_known = false;
        if (log) {
            sx_jq_paths p;
            if (sx_jq_paths_of(js, q->rid, &p) == SX_OK)
                sx_journal_remove(js, p.dir, old);
        }
        sx_status res = update_state(js, q, log, &st);
        if (res != SX_OK)
            return res;
        *fd = q->rfd;
        return SX_OK;
    }
    if (rs->msg_pos >= rs->msg_count && same)
        return SX_OK;
    *fd = q->rfd;
    return SX_OK;
}

/* A parsed line as a stored message (the body is within SX_MSG_BODY_MAX). */
static void to_jmsg(const sx_slmsg *s, sx_jmsg *m)
{
    memcpy(m->id, s->msg_id, SX_ID_LEN);
    m->ts = s->ts;
    m->quota = s->quota;
    m->notify = s->notify;
    m->len = (uint16_t)s->body.len;
    if (s->body.len)
        memcpy(m->body, s->body.ptr, s->body.len);
}

static sx_status peek_q(sx_jstore *js, sx_jq *q, sx_jmsg *out, bool *found)
{
    *found = false;
    if (q->sfd < 0)
        return SX_OK;
    int fd;
    sx_status res = pick_journal(js, q, true, &fd);
    if (res != SX_OK || fd < 0)
        return res;
    uint8_t *line = malloc(SX_JMSG_LINE_MAX + 1);
    if (!line)
        return SX_E_NOMEM;
    size_t len = 0;
    res = sx_journal_read_line(fd, q->st.read.byte_pos, line, SX_JMSG_LINE_MAX + 1, &len);
    sx_slmsg m;
    if (res == SX_OK)
        res = sx_slmsg_parse_msg(sx_slice_of(line, len), &m);
    free(line);
    if (res != SX_OK) {
        sx_jreport(js, "journal store: unreadable message at byte %lld", (long long)q->st.read.byte_pos);
        return res == SX_E_NOMEM || res == SX_E_IO ? res : SX_E_PROTOCOL;
    }
    to_jmsg(&m, out);
    sx_slmsg_cleanup(&m);
    q->tip_known = true;
    q->tip_len = (int64_t)len + 1;
    *found = true;
    return SX_OK;
}

static sx_status update_read_pos(sx_jstore *js, sx_jq *q, bool log)
{
    sx_jstate st = q->st;
    st.read.msg_pos++;
    st.read.byte_pos += q->tip_len;
    st.size--;
    sx_status res = update_state(js, q, log, &st);
    q->tip_known = false;
    return res;
}

/* After an error the queue is dropped from memory: the next use reads its
 * files again. */
static sx_status done(sx_jstore *js, sx_jq *q, sx_status res, bool drop)
{
    if (q && (res != SX_OK || drop))
        unload(js, q);
    pthread_mutex_unlock(&js->mu);
    return res;
}

static bool has_stored(const sx_jq *q)
{
    return q->st.size > 0 || q->st.read.msg_count > 0 || q->st.write.msg_count > 0;
}

sx_status sx_jstore_write(sx_jstore *js, const uint8_t rid[SX_ID_LEN], const sx_jmsg *m, sx_jwrite *res_out,
                          bool *was_empty)
{
    pthread_mutex_lock(&js->mu);
    sx_jq *q;
    bool loaded;
    sx_status res = get_queue(js, rid, true, &loaded, &q);
    if (res != SX_OK)
        return done(js, NULL, res, false);
    sx_jstate st = q->st;
    bool empty = st.size == 0;
    if (was_empty)
        *was_empty = empty;
    if (!st.can_write && !empty) {
        *res_out = SX_JW_FULL;
        return done(js, q, SX_OK, false);
    }
    bool can = js->cfg.quota > st.size && !m->quota; /* import writes a marker as it is */
    if (m->len > SX_MSG_BODY_MAX)
        return done(js, q, SX_E_LIMIT, false);
    sx_slmsg rec = {0};
    memcpy(rec.msg_id, m->id, SX_ID_LEN);
    rec.ts = m->ts;
    rec.quota = !can;
    rec.notify = m->notify;
    rec.body = sx_slice_of(m->body, m->len);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_JMSG_LINE_MAX + 1);
    if (!sx_slmsg_encode_msg(&w, &rec) || !sx_write_str(&w, "\n")) {
        sx_writer_cleanup(&w);
        return done(js, q, SX_E_NOMEM, false);
    }
    if (q->sfd < 0)
        res = sx_jq_create_files(js, q);
    sx_jpos ws = st.write;
    int fd = q->wfd >= 0 ? q->wfd : q->rfd;
    if (res == SX_OK && q->wfd < 0 && ws.msg_count >= js->cfg.max_msg_count) {
        /* a new write journal; reading goes on in the old one */
        char jid[SX_JID_MAX + 1];
        sx_new_jid(jid);
        sx_jq_paths p;
        res = sx_jq_paths_of(js, rid, &p);
        if (res == SX_OK)
            res = sx_journal_create(js, p.dir, jid, &q->wfd);
        sx_jpos_init(&ws, jid);
        fd = q->wfd;
    }
    if (res == SX_OK)
        res = sx_journal_fix_size(js, fd, ws.byte_pos);
    if (res == SX_OK)
        res = sx_jwrite_all(js, fd, w.buf, w.len, ws.byte_pos);
    int64_t len = (int64_t)w.len;
    sx_writer_cleanup(&w);
    if (res != SX_OK)
        return done(js, q, res, false);
    ws.msg_pos++;
    ws.msg_count = ws.msg_pos;
    ws.byte_pos += len;
    ws.byte_count = ws.byte_pos;
    if (strcmp(ws.jid, st.read.jid) == 0) {
        st.read.msg_count = ws.msg_pos;
        st.read.byte_count = ws.byte_pos;
    }
    st.write = ws;
    st.can_write = can;
    st.size++;
    res = update_state(js, q, true, &st);
    q->active_at = now_sec();
    *res_out = can ? SX_JW_STORED : SX_JW_QUOTA;
    return done(js, q, res, false);
}

sx_status sx_jstore_peek(sx_jstore *js, const uint8_t rid[SX_ID_LEN], sx_jmsg *out, bool *found)
{
    *found = false;
    pthread_mutex_lock(&js->mu);
    sx_jq *q;
    bool loaded;
    sx_status res = get_queue(js, rid, false, &loaded, &q);
    if (res != SX_OK)
        return done(js, NULL, res, false);
    res = peek_q(js, q, out, found);
    /* a queue opened only to learn it is empty is closed again */
    return done(js, q, res, res == SX_OK && !loaded && !*found);
}

sx_status sx_jstore_ack(sx_jstore *js, const uint8_t rid[SX_ID_LEN], const uint8_t msg_id[SX_ID_LEN], bool *deleted,
                        sx_jmsg *next, bool *next_found)
{
    *deleted = false;
    if (next_found)
        *next_found = false;
    sx_jmsg *m = malloc(sizeof *m);
    if (!m)
        return SX_E_NOMEM;
    pthread_mutex_lock(&js->mu);
    sx_jq *q;
    bool loaded, found = false;
    sx_status res = get_queue(js, rid, false, &loaded, &q);
    if (res != SX_OK) {
        free(m);
        return done(js, NULL, res, false);
    }
    res = peek_q(js, q, m, &found);
    if (res == SX_OK && found && memcmp(m->id, msg_id, SX_ID_LEN) == 0) {
        res = update_read_pos(js, q, true);
        q->active_at = now_sec();
        *deleted = res == SX_OK;
        found = false;
        if (res == SX_OK && next)
            res = peek_q(js, q, m, &found);
    }
    if (res == SX_OK && found && next) {
        memcpy(next, m, sizeof *next);
        *next_found = true;
    }
    free(m);
    return done(js, q, res, res == SX_OK && !loaded && q->st.size == 0);
}

sx_status sx_jstore_size(sx_jstore *js, const uint8_t rid[SX_ID_LEN], int64_t *size)
{
    pthread_mutex_lock(&js->mu);
    sx_jq *q;
    bool loaded;
    sx_status res = get_queue(js, rid, false, &loaded, &q);
    if (res != SX_OK)
        return done(js, NULL, res, false);
    *size = q->st.size;
    return done(js, q, SX_OK, !loaded && q->st.size == 0);
}

static sx_status expire_q(sx_jstore *js, sx_jq *q, int64_t old, size_t *n)
{
    sx_jmsg *m = malloc(sizeof *m);
    if (!m)
        return SX_E_NOMEM;
    sx_status res = SX_OK;
    for (;;) {
        bool found;
        res = peek_q(js, q, m, &found);
        if (res != SX_OK || !found || m->quota || m->ts >= old)
            break;
        res = update_read_pos(js, q, false);
        if (res != SX_OK)
            break;
        (*n)++;
    }
    free(m);
    if (res == SX_OK && q->sfd >= 0)
        res = sx_jq_append_state(js, q->sfd, &q->st); /* one line for the whole run */
    return res;
}

sx_status sx_jstore_expire(sx_jstore *js, const uint8_t rid[SX_ID_LEN], int64_t old, int64_t now, size_t *expired,
                           int64_t *stored)
{
    size_t n = 0;
    int64_t sz = 0;
    pthread_mutex_lock(&js->mu);
    sx_jq *q = find(js, rid);
    sx_status res = SX_OK;
    bool drop = false;
    if (!q) {
        bool loaded;
        res = get_queue(js, rid, false, &loaded, &q);
        if (res == SX_OK && has_stored(q))
            res = expire_q(js, q, old, &n);
        drop = true;
    } else if (now - q->active_at >= js->cfg.idle_interval) {
        res = expire_q(js, q, old, &n);
        drop = true;
    }
    if (q)
        sz = q->st.size;
    if (expired)
        *expired = n;
    if (stored)
        *stored = sz;
    return done(js, q, res, drop);
}

sx_status sx_jstore_delete_queue(sx_jstore *js, const uint8_t rid[SX_ID_LEN])
{
    pthread_mutex_lock(&js->mu);
    sx_jq *q = find(js, rid);
    if (q)
        unload(js, q);
    sx_jq_paths p;
    sx_status res = sx_jq_paths_of(js, rid, &p);
    if (res == SX_OK) {
        DIR *d = opendir(p.dir);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char path[SX_KIT_PATH_MAX];
                int n = snprintf(path, sizeof path, "%s/%s", p.dir, e->d_name);
                if (n > 0 && (size_t)n < sizeof path && unlink(path) != 0)
                    res = SX_E_IO;
            }
            closedir(d);
            if (rmdir(p.dir) != 0)
                res = SX_E_IO;
        }
    }
    pthread_mutex_unlock(&js->mu);
    return res;
}

/* The messages of one journal between two byte positions. */
static sx_status export_range(sx_jstore *js, const char *dir, const char *jid, int64_t from, int64_t to,
                              sx_jstore_msg_fn fn, void *arg, sx_jmsg *m, size_t *bad)
{
    if (to <= from)
        return SX_OK;
    char path[SX_KIT_PATH_MAX];
    sx_status res = sx_journal_path(dir, jid, path, sizeof path);
    if (res != SX_OK)
        return res;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sx_jreport(js, "journal store: cannot read %s", path);
        (*bad)++;
        return SX_OK;
    }
    uint8_t *line = malloc(SX_JMSG_LINE_MAX + 1);
    if (!line) {
        fclose(f);
        return SX_E_NOMEM;
    }
    int fd = fileno(f);
    int64_t pos = from;
    while (pos < to && res == SX_OK) {
        size_t len;
        size_t cap = (size_t)(to - pos) < SX_JMSG_LINE_MAX + 1 ? (size_t)(to - pos) : SX_JMSG_LINE_MAX + 1;
        if (sx_journal_read_line(fd, pos, line, cap, &len) != SX_OK) {
            (*bad)++;
            break;
        }
        pos += (int64_t)len + 1;
        sx_slmsg s;
        if (sx_slmsg_parse_msg(sx_slice_of(line, len), &s) != SX_OK) {
            (*bad)++;
            continue;
        }
        to_jmsg(&s, m);
        sx_slmsg_cleanup(&s);
        if (!fn(arg, m))
            res = SX_E_USAGE;
    }
    free(line);
    fclose(f);
    if (*bad)
        sx_jreport(js, "journal store: %zu unreadable messages in %s", *bad, path);
    return res;
}

sx_status sx_jstore_read_all(sx_jstore *js, const uint8_t rid[SX_ID_LEN], sx_jstore_msg_fn fn, void *arg,
                             size_t *bad)
{
    size_t nbad = 0;
    pthread_mutex_lock(&js->mu);
    sx_jq *q = find(js, rid);
    if (q)
        unload(js, q); /* the files say it all */
    sx_jq_paths p;
    sx_status res = sx_jq_paths_of(js, rid, &p);
    sx_jstate st;
    bool have = false, backup;
    struct stat sb;
    if (res == SX_OK && stat(p.dir, &sb) == 0)
        res = sx_jq_read_state(js, p.state, &st, &have, &backup);
    sx_jmsg *m = NULL;
    if (res == SX_OK && have && st.size > 0) {
        m = malloc(sizeof *m);
        res = m ? SX_OK : SX_E_NOMEM;
        if (res == SX_OK)
            res = export_range(js, p.dir, st.read.jid, st.read.byte_pos, st.read.byte_count, fn, arg, m, &nbad);
        if (res == SX_OK && strcmp(st.read.jid, st.write.jid) != 0)
            res = export_range(js, p.dir, st.write.jid, 0, st.write.byte_pos, fn, arg, m, &nbad);
    }
    free(m);
    if (bad)
        *bad = nbad;
    pthread_mutex_unlock(&js->mu);
    return res;
}

size_t sx_jstore_close_idle(sx_jstore *js, int64_t now)
{
    size_t n = 0;
    pthread_mutex_lock(&js->mu);
    for (size_t i = 0; i < js->n_buckets; i++) {
        sx_jq *q = js->buckets[i];
        while (q) {
            sx_jq *next = q->next;
            if (now - q->active_at >= js->cfg.idle_interval) {
                unload(js, q);
                n++;
            }
            q = next;
        }
    }
    pthread_mutex_unlock(&js->mu);
    return n;
}

size_t sx_jstore_loaded(sx_jstore *js)
{
    pthread_mutex_lock(&js->mu);
    size_t n = js->loaded;
    pthread_mutex_unlock(&js->mu);
    return n;
}

size_t sx_jstore_open_files(sx_jstore *js)
{
    pthread_mutex_lock(&js->mu);
    size_t n = js->open_files;
    pthread_mutex_unlock(&js->mu);
    return n;
}
