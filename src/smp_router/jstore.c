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

#include "core/base64.h"

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

static void lru_unlink(sx_jstore *js, sx_jq *q)
{
    if (q->lru_prev)
        q->lru_prev->lru_next = q->lru_next;
    else
        js->lru_head = q->lru_next;
    if (q->lru_next)
        q->lru_next->lru_prev = q->lru_prev;
    else
        js->lru_tail = q->lru_prev;
    q->lru_prev = q->lru_next = NULL;
}

static void lru_front(sx_jstore *js, sx_jq *q)
{
    q->lru_next = js->lru_head;
    if (js->lru_head)
        js->lru_head->lru_prev = q;
    else
        js->lru_tail = q;
    js->lru_head = q;
}

/* Takes q out of the map and the LRU list; the store's lock held. */
static void map_remove(sx_jstore *js, sx_jq *q)
{
    sx_jq **pp = &js->buckets[bucket_of(js, q->rid)];
    while (*pp && *pp != q)
        pp = &(*pp)->next;
    if (*pp)
        *pp = q->next;
    q->next = NULL;
    lru_unlink(js, q);
    js->loaded--;
}

/* Frees an entry no other thread can reach (out of the map, refs 0). */
static void jq_free(sx_jstore *js, sx_jq *q)
{
    sx_jq_close_files(js, q);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static void active(sx_jq *q) { __atomic_store_n(&q->active_at, now_sec(), __ATOMIC_RELAXED); }

void sx_jstore_close(sx_jstore *js)
{
    if (!js)
        return;
    while (js->lru_head) {
        sx_jq *q = js->lru_head;
        map_remove(js, q);
        jq_free(js, q);
    }
    pthread_mutex_destroy(&js->mu);
    free(js->buckets);
    free(js);
}

/* rid's entry, created (not loaded) if absent, made the most recently used and
 * pinned (refs) so that nothing frees it. Making room for a new entry takes
 * the least recently used entries not in use out of the map (bounded memory
 * and descriptors: their state is on disk, and they load again when next
 * used); their files are closed after the store's lock is let go. When every
 * entry is in use the store holds more than max_open for a while. NULL: no
 * memory. */
static sx_jq *pin(sx_jstore *js, const uint8_t *rid)
{
    sx_jq *victims = NULL;
    pthread_mutex_lock(&js->mu);
    sx_jq *q = find(js, rid);
    if (q) {
        lru_unlink(js, q);
        lru_front(js, q);
    } else {
        for (sx_jq *v = js->lru_tail; v && js->cfg.max_open && js->loaded >= js->cfg.max_open;) {
            sx_jq *prev = v->lru_prev;
            if (v->refs == 0) {
                map_remove(js, v);
                v->next = victims;
                victims = v;
            }
            v = prev;
        }
        q = calloc(1, sizeof *q);
        if (q) {
            memcpy(q->rid, rid, SX_ID_LEN);
            q->sfd = q->rfd = q->wfd = -1;
            pthread_mutex_init(&q->mu, NULL);
            size_t b = bucket_of(js, rid);
            q->next = js->buckets[b];
            js->buckets[b] = q;
            lru_front(js, q);
            js->loaded++;
        }
    }
    if (q)
        q->refs++;
    pthread_mutex_unlock(&js->mu);
    while (victims) {
        sx_jq *next = victims->next;
        jq_free(js, victims);
        victims = next;
    }
    return q;
}

/* Lets go of a pinned entry; with drop (or once deleted) the last user takes
 * it out of the map and frees it. */
static void unpin(sx_jstore *js, sx_jq *q, bool drop)
{
    bool gone = false;
    pthread_mutex_lock(&js->mu);
    if (--q->refs == 0 && (drop || q->dead)) {
        if (!q->dead)
            map_remove(js, q);
        gone = true;
    }
    pthread_mutex_unlock(&js->mu);
    if (gone)
        jq_free(js, q);
}

/* Pins and locks rid's entry; with load, its state is read from the folder
 * if it is not in memory yet. *was_loaded: it was. */
static sx_status enter(sx_jstore *js, const uint8_t *rid, bool for_write, bool load, bool *was_loaded, sx_jq **out)
{
    for (;;) {
        sx_jq *q = pin(js, rid);
        if (!q)
            return SX_E_NOMEM;
        pthread_mutex_lock(&q->mu);
        if (q->dead) { /* deleted while this thread waited: a new entry */
            pthread_mutex_unlock(&q->mu);
            unpin(js, q, false);
            continue;
        }
        *was_loaded = q->ready;
        if (!q->ready && load) {
            sx_status res = sx_jq_load(js, q, for_write);
            if (res != SX_OK) {
                sx_jq_close_files(js, q);
                pthread_mutex_unlock(&q->mu);
                unpin(js, q, true);
                return res;
            }
            q->ready = true;
            active(q);
        }
        *out = q;
        return SX_OK;
    }
}

/* Ends a call on q (from enter). After an error, or with drop, the queue's
 * files are closed and its entry goes once no other thread uses it: the next
 * use reads its files again. */
static sx_status leave(sx_jstore *js, sx_jq *q, sx_status res, bool drop)
{
    drop = drop || res != SX_OK;
    if (drop) {
        sx_jq_close_files(js, q);
        q->ready = false;
    }
    pthread_mutex_unlock(&q->mu);
    unpin(js, q, drop);
    return res;
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

static bool has_stored(const sx_jq *q)
{
    return q->st.size > 0 || q->st.read.msg_count > 0 || q->st.write.msg_count > 0;
}

sx_status sx_jstore_write(sx_jstore *js, const uint8_t rid[SX_ID_LEN], const sx_jmsg *m, sx_jwrite *res_out,
                          bool *was_empty)
{
    sx_jq *q;
    bool loaded;
    sx_status res = enter(js, rid, true, true, &loaded, &q);
    if (res != SX_OK)
        return res;
    sx_jstate st = q->st;
    bool empty = st.size == 0;
    if (was_empty)
        *was_empty = empty;
    if (!st.can_write && !empty) {
        *res_out = SX_JW_FULL;
        return leave(js, q, SX_OK, false);
    }
    bool can = js->cfg.quota > st.size && !m->quota; /* import writes a marker as it is */
    if (m->len > SX_MSG_BODY_MAX)
        return leave(js, q, SX_E_LIMIT, false);
    sx_slmsg rec = {0};
    memcpy(rec.msg_id, m->id, SX_ID_LEN);
    rec.ts = m->ts;
    rec.quota = !can;
    rec.notify = m->notify;
    rec.body = sx_slice_of(m->body, m->len);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_JMSG_LINE_MAX + 1);
    /* the whole line at once: id, time and flags take under 64 bytes */
    size_t line = sx_b64_encoded_size(m->len, SX_B64_URL) + 64;
    if (!sx_writer_presize(&w, line < SX_JMSG_LINE_MAX + 1 ? line : SX_JMSG_LINE_MAX + 1) ||
        !sx_slmsg_encode_msg(&w, &rec) || !sx_write_str(&w, "\n")) {
        sx_writer_cleanup(&w);
        return leave(js, q, SX_E_NOMEM, false);
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
        return leave(js, q, res, false);
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
    active(q);
    *res_out = can ? SX_JW_STORED : SX_JW_QUOTA;
    return leave(js, q, res, false);
}

sx_status sx_jstore_peek(sx_jstore *js, const uint8_t rid[SX_ID_LEN], sx_jmsg *out, bool *found)
{
    *found = false;
    sx_jq *q;
    bool loaded;
    sx_status res = enter(js, rid, false, true, &loaded, &q);
    if (res != SX_OK)
        return res;
    res = peek_q(js, q, out, found);
    /* a queue opened only to learn it is empty is closed again */
    return leave(js, q, res, res == SX_OK && !loaded && !*found);
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
    sx_jq *q;
    bool loaded, found = false;
    sx_status res = enter(js, rid, false, true, &loaded, &q);
    if (res != SX_OK) {
        free(m);
        return res;
    }
    res = peek_q(js, q, m, &found);
    if (res == SX_OK && found && memcmp(m->id, msg_id, SX_ID_LEN) == 0) {
        res = update_read_pos(js, q, true);
        active(q);
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
    return leave(js, q, res, res == SX_OK && !loaded && q->st.size == 0);
}

sx_status sx_jstore_size(sx_jstore *js, const uint8_t rid[SX_ID_LEN], int64_t *size)
{
    sx_jq *q;
    bool loaded;
    sx_status res = enter(js, rid, false, true, &loaded, &q);
    if (res != SX_OK)
        return res;
    *size = q->st.size;
    return leave(js, q, SX_OK, !loaded && q->st.size == 0);
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
    sx_jq *q;
    bool loaded;
    sx_status res = enter(js, rid, false, false, &loaded, &q);
    if (res != SX_OK)
        return res;
    bool drop = false;
    if (!loaded) { /* not in memory: opened for this and closed after */
        res = sx_jq_load(js, q, false);
        if (res == SX_OK && has_stored(q))
            res = expire_q(js, q, old, &n);
        drop = true;
    } else if (now - __atomic_load_n(&q->active_at, __ATOMIC_RELAXED) >= js->cfg.idle_interval) {
        res = expire_q(js, q, old, &n);
        drop = true;
    }
    sz = q->st.size;
    if (expired)
        *expired = n;
    if (stored)
        *stored = sz;
    return leave(js, q, res, drop);
}

sx_status sx_jstore_delete_queue(sx_jstore *js, const uint8_t rid[SX_ID_LEN])
{
    /* The entry stays in the map, locked, until the folder is gone, so that
     * another call on the queue waits and then starts afresh (dead). */
    sx_jq *q;
    bool loaded;
    sx_status res = enter(js, rid, false, false, &loaded, &q);
    if (res != SX_OK)
        return res;
    sx_jq_close_files(js, q);
    q->ready = false;
    sx_jq_paths p;
    res = sx_jq_paths_of(js, rid, &p);
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
    pthread_mutex_lock(&js->mu);
    map_remove(js, q);
    q->dead = true;
    pthread_mutex_unlock(&js->mu);
    pthread_mutex_unlock(&q->mu);
    unpin(js, q, false);
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
    sx_jq *q;
    bool loaded;
    sx_status res = enter(js, rid, false, false, &loaded, &q);
    if (res != SX_OK)
        return res;
    sx_jq_close_files(js, q); /* the files say it all */
    q->ready = false;
    sx_jq_paths p;
    res = sx_jq_paths_of(js, rid, &p);
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
    return leave(js, q, res, true);
}

size_t sx_jstore_close_idle(sx_jstore *js, int64_t now)
{
    size_t n = 0;
    sx_jq *victims = NULL;
    pthread_mutex_lock(&js->mu);
    for (sx_jq *q = js->lru_tail; q;) {
        sx_jq *prev = q->lru_prev;
        if (q->refs == 0 && now - __atomic_load_n(&q->active_at, __ATOMIC_RELAXED) >= js->cfg.idle_interval) {
            map_remove(js, q);
            q->next = victims;
            victims = q;
            n++;
        }
        q = prev;
    }
    pthread_mutex_unlock(&js->mu);
    while (victims) {
        sx_jq *next = victims->next;
        jq_free(js, victims);
        victims = next;
    }
    return n;
}

size_t sx_jstore_loaded(sx_jstore *js)
{
    pthread_mutex_lock(&js->mu);
    size_t n = js->loaded;
    pthread_mutex_unlock(&js->mu);
    return n;
}

bool sx_jstore_is_loaded(sx_jstore *js, const uint8_t rid[SX_ID_LEN])
{
    pthread_mutex_lock(&js->mu);
    bool in = find(js, rid) != NULL;
    pthread_mutex_unlock(&js->mu);
    return in;
}

size_t sx_jstore_open_files(sx_jstore *js) { return __atomic_load_n(&js->open_files, __ATOMIC_RELAXED); }
