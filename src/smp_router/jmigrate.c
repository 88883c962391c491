/* journal import / export / delete (see jmigrate.h). */
#define _XOPEN_SOURCE 700
#include "smp_router/jmigrate.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit/paths.h"

typedef struct import_ctx {
    sx_jstore *js;
    sx_jmsg *m;
    sx_status err;
} import_ctx;

/* One queue's restored messages into the journal, then out of memory. */
static void import_queue(sx_queue *q, void *arg)
{
    import_ctx *x = arg;
    if (x->err != SX_OK)
        return;
    sx_queue_lock(q);
    for (const sx_msg *m = q->head; m && x->err == SX_OK; m = m->next) {
        memcpy(x->m->id, m->id, SX_ID_LEN);
        x->m->ts = m->ts;
        x->m->quota = m->quota;
        x->m->notify = m->notify;
        x->m->len = m->len;
        if (m->len)
            memcpy(x->m->body, m->body, m->len);
        sx_jwrite res;
        x->err = sx_jstore_write(x->js, q->rid, x->m, &res, NULL);
    }
    sx_queue_clear_msgs(q);
    sx_queue_unlock(q);
}

sx_status sx_jmigrate_import(const char *msgs_log, sx_store *st, sx_jstore *js, const sx_msglog_opts *opts,
                             sx_msglog_stats *stats)
{
    sx_msglog_opts o = opts ? *opts : (sx_msglog_opts){0};
    o.expire = false;
    o.keep = true; /* renamed only once the journal has the messages */
    SX_TRY(sx_msglog_restore(msgs_log, st, &o, stats));
    import_ctx x = {.js = js, .m = malloc(sizeof(sx_jmsg))};
    if (!x.m)
        return SX_E_NOMEM;
    sx_status res = sx_store_each(st, import_queue, &x);
    free(x.m);
    if (res == SX_OK)
        res = x.err;
    if (res != SX_OK)
        return res;
    char bak[SX_KIT_PATH_MAX];
    int n = snprintf(bak, sizeof bak, "%s.bak", msgs_log);
    if (n < 0 || (size_t)n >= sizeof bak)
        return SX_E_LIMIT;
    return rename(msgs_log, bak) == 0 ? SX_OK : SX_E_IO;
}

typedef struct export_ctx {
    sx_jstore *js;
    FILE *f;
    const uint8_t *rid;
    sx_writer w;
    size_t saved, bad;
    sx_status err;
} export_ctx;

static bool export_msg(void *arg, const sx_jmsg *m)
{
    export_ctx *x = arg;
    sx_slmsg rec = {0};
    memcpy(rec.rid, x->rid, SX_ID_LEN);
    memcpy(rec.msg_id, m->id, SX_ID_LEN);
    rec.ts = m->ts;
    rec.quota = m->quota;
    rec.notify = m->notify;
    rec.body = sx_slice_of(m->body, m->len);
    x->w.len = 0;
    if (!sx_slmsg_encode(&x->w, &rec) || !sx_write_str(&x->w, "\n")) {
        x->err = SX_E_NOMEM;
        return false;
    }
    if (fwrite(x->w.buf, 1, x->w.len, x->f) != x->w.len) {
        x->err = SX_E_IO;
        return false;
    }
    x->saved++;
    return true;
}

static void export_queue(sx_queue *q, void *arg)
{
    export_ctx *x = arg;
    if (x->err != SX_OK)
        return;
    x->rid = q->rid;
    size_t bad = 0;
    sx_status res = sx_jstore_read_all(x->js, q->rid, export_msg, x, &bad);
    x->bad += bad;
    if (res != SX_OK && x->err == SX_OK)
        x->err = res;
}

sx_status sx_jmigrate_export(sx_store *st, sx_jstore *js, const char *msgs_log, size_t *saved, size_t *bad)
{
    char tmp[SX_KIT_PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", msgs_log);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return SX_E_LIMIT;
    export_ctx x = {.js = js};
    x.f = fopen(tmp, "wb");
    if (!x.f)
        return SX_E_IO;
    sx_writer_init_dynamic(&x.w, SX_JMSG_LINE_MAX + 128);
    sx_status res = sx_store_each(st, export_queue, &x);
    if (res == SX_OK)
        res = x.err;
    sx_writer_cleanup(&x.w);
    if (fflush(x.f) != 0 || fsync(fileno(x.f)) != 0)
        res = res == SX_OK ? SX_E_IO : res;
    if (fclose(x.f) != 0 && res == SX_OK)
        res = SX_E_IO;
    if (res == SX_OK && rename(tmp, msgs_log) != 0)
        res = SX_E_IO;
    if (res != SX_OK)
        unlink(tmp);
    if (saved)
        *saved = x.saved;
    if (bad)
        *bad = x.bad;
    return res;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

sx_status sx_jmigrate_delete(const char *dir)
{
    return nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS) == 0 ? SX_OK : SX_E_IO;
}
