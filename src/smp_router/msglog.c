/* Undelivered messages of the SMP router (PROTOCOL-NOTES E27): the line
 * parser and encoder, saving at shutdown and restoring at start (see
 * msglog.h). */
#include "smp_router/msglog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "kit/lines.h"
#include "kit/paths.h"
#include "smp_router/sltext.h"

static void mreport(const sx_msglog_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mreport(const sx_msglog_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sx_kit_vreport(o ? o->warn : NULL, o ? o->warn_arg : NULL, fmt, ap);
    va_end(ap);
}

/* "<msgId> <ts> ..." : the message itself, shared with the journal files. */
static bool parse_msg_part(sx_slt_parser *p, sx_slmsg *m)
{
    sx_reader *r = &p->r;
    sx_slt_read_fixed(r, m->msg_id, SX_ID_LEN);
    sx_slt_expect(r, " ");
    sx_slt_read_int(r, &m->ts);
    sx_slt_expect(r, " ");
    if (sx_slt_try_lit(r, "quota")) {
        m->quota = true;
        return sx_reader_ok(r);
    }
    if (sx_slt_try_lit(r, "flags=")) {
        uint8_t f = 0;
        sx_slice rest;
        sx_slt_read_char_of(r, "TF", &f);
        sx_slt_take_while(r, sx_slt_is_not_space, &rest); /* room for more flags */
        sx_slt_expect(r, " ");
        m->notify = f == 'T';
        if (sx_slt_at_end(r))
            return true; /* empty body */
    }
    sx_slt_read_data(p, SX_MSG_BODY_MAX, &m->body);
    return sx_reader_ok(r);
}

static bool parse_msg(sx_slt_parser *p, void *rec_)
{
    sx_slmsg *m = rec_;
    sx_reader *r = &p->r;
    sx_slt_expect(r, "v3 ");
    sx_slt_read_fixed(r, m->rid, SX_ID_LEN);
    sx_slt_expect(r, " ");
    return parse_msg_part(p, m);
}

static bool parse_msg_only(sx_slt_parser *p, void *rec_) { return parse_msg_part(p, rec_); }

sx_status sx_slmsg_parse(sx_slice line, sx_slmsg *out)
{
    return sx_slt_parse_line(line, parse_msg, out, sizeof *out, &out->arena);
}

sx_status sx_slmsg_parse_msg(sx_slice line, sx_slmsg *out)
{
    return sx_slt_parse_line(line, parse_msg_only, out, sizeof *out, &out->arena);
}

void sx_slmsg_cleanup(sx_slmsg *m)
{
    if (!m)
        return;
    if (m->arena) {
        sx_wipe(m->arena, m->body.len);
        free(m->arena);
    }
    memset(m, 0, sizeof *m);
}

bool sx_slmsg_encode(sx_writer *w, const sx_slmsg *m)
{
    sx_write_str(w, "v3 ");
    sx_slt_put_id(w, m->rid);
    sx_write_str(w, " ");
    return sx_slmsg_encode_msg(w, m);
}

bool sx_slmsg_encode_msg(sx_writer *w, const sx_slmsg *m)
{
    sx_slt_put_id(w, m->msg_id);
    sx_write_str(w, " ");
    sx_slt_put_int(w, m->ts);
    if (m->quota)
        return sx_write_str(w, " quota");
    sx_write_str(w, m->notify ? " flags=T " : " flags=F ");
    if (m->body.len > SX_MSG_BODY_MAX)
        return sx_writer_fail(w, SX_E_LIMIT);
    return sx_slt_put_b64(w, m->body);
}

static void save_queue_msgs(sx_queue *q, void *arg)
{
    sx_kit_linebuf *ob = arg;
    if (ob->err != SX_OK)
        return;
    sx_queue_lock(q);
    for (const sx_msg *m = q->head; m && ob->err == SX_OK; m = m->next) {
        sx_slmsg rec = {0};
        memcpy(rec.rid, q->rid, SX_ID_LEN);
        memcpy(rec.msg_id, m->id, SX_ID_LEN);
        rec.ts = m->ts;
        rec.quota = m->quota;
        rec.notify = m->notify;
        rec.body = sx_slice_of(m->body, m->len);
        size_t start = ob->w.len;
        sx_kit_linebuf_end_line(ob, start, sx_slmsg_encode(&ob->w, &rec));
    }
    sx_queue_unlock(q);
}

static void fill_msgs(sx_kit_linebuf *ob, void *arg)
{
    if (sx_store_each((sx_store *)arg, save_queue_msgs, ob) != SX_OK && ob->err == SX_OK)
        ob->err = SX_E_NOMEM;
}

sx_status sx_msglog_save(const char *path, sx_store *st, size_t *saved)
{
    return sx_kit_save_lines(path, fill_msgs, st, saved);
}

/* PROTOCOL-NOTES E27 restore rules for one message; the queue lock held. Returns
 * false when the message was not restored (reported). */
bool sx_msglog_restore_one(sx_queue *q, const sx_slmsg *m, const sx_msglog_opts *o, sx_msglog_stats *s,
                           sx_status *err)
{
    char idt[SX_SLT_ID_TEXT_SIZE];
    *err = SX_OK;
    if (m->quota) {
        /* A marker at the head is replaced by this one. */
        if (q->head && q->head->quota) {
            uint8_t id[SX_ID_LEN];
            memcpy(id, q->head->id, SX_ID_LEN);
            sx_queue_remove_head(NULL, q, id);
        }
        if (q->tail && q->tail->quota) {
            mreport(o, "message queue %s is full, quota marker not restored", sx_slt_id_text(q->rid, SX_ID_LEN, idt));
            s->dropped++;
            return false;
        }
        *err = sx_queue_append_restored(q, m->msg_id, m->ts, false, true, sx_slice_of(NULL, 0));
        return *err == SX_OK;
    }
    if (o && o->expire && m->ts < o->expire_before) {
        s->expired++;
        return false;
    }
    if ((q->tail && q->tail->quota) || q->n_msgs >= SX_QUEUE_QUOTA) {
        /* Over quota: the reference stores a marker (once) instead. */
        if (!(q->tail && q->tail->quota))
            *err = sx_queue_append_restored(q, m->msg_id, m->ts, false, true, sx_slice_of(NULL, 0));
        mreport(o, "message queue %s is full, message not restored", sx_slt_id_text(q->rid, SX_ID_LEN, idt));
        s->dropped++;
        return false;
    }
    *err = sx_queue_append_restored(q, m->msg_id, m->ts, m->notify, false, m->body);
    if (*err == SX_OK)
        s->stored++;
    return *err == SX_OK;
}

/* A warning stops the restore unless skip_warnings (the reference's warnOrExit). */
static bool warn_or_stop(const sx_msglog_opts *o, const char *what, sx_slice line)
{
    char ex[SX_KIT_EXCERPT_SIZE];
    if (o && o->skip_warnings) {
        mreport(o, "warning restoring messages: %s: %s", what, sx_kit_line_excerpt(line, ex));
        return false;
    }
    mreport(o, "warning restoring messages: %s: %s, start with --skip-warnings option to ignore this error", what,
            sx_kit_line_excerpt(line, ex));
    return true;
}

sx_status sx_msglog_restore(const char *path, sx_store *st, const sx_msglog_opts *o, sx_msglog_stats *stats)
{
    sx_msglog_stats s = {0};
    if (stats)
        *stats = s;
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open(&lr, path, &missing);
    if (res != SX_OK)
        return missing ? SX_OK : res;
    sx_queue *q = NULL; /* the queue of the previous line, usually the same */
    for (;;) {
        bool got, too_long, more;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        if ((res = sx_kit_linereader_more(&lr, &more)) != SX_OK)
            break;
        sx_slice line = sx_slice_of(lr.line, lr.len);
        char ex[SX_KIT_EXCERPT_SIZE];
        sx_slmsg m;
        sx_status pst = too_long ? SX_E_LIMIT : sx_slmsg_parse(line, &m);
        if (pst == SX_E_NOMEM) {
            res = pst;
            break;
        }
        if (pst != SX_OK) {
            if (!more) {
                if (warn_or_stop(o, "parsing error", line)) {
                    res = SX_E_PROTOCOL;
                    break;
                }
                continue;
            }
            mreport(o, "error restoring messages: parsing error (%s): %s", sx_status_str(pst),
                    sx_kit_line_excerpt(line, ex));
            res = SX_E_PROTOCOL;
            break;
        }
        if (!q || memcmp(q->rid, m.rid, SX_ID_LEN) != 0) {
            sx_queue_release(st, q);
            q = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(m.rid, SX_ID_LEN));
        }
        if (!q) {
            s.dropped++;
            sx_slmsg_cleanup(&m);
            if (warn_or_stop(o, "queue does not exist", line)) {
                res = SX_E_PROTOCOL;
                break;
            }
            continue;
        }
        sx_status err;
        sx_queue_lock(q);
        sx_msglog_restore_one(q, &m, o, &s, &err);
        sx_queue_unlock(q);
        sx_slmsg_cleanup(&m);
        if (err != SX_OK) {
            mreport(o, "error restoring messages: %s: %s", sx_status_str(err), sx_kit_line_excerpt(line, ex));
            res = err;
            break;
        }
    }
    sx_queue_release(st, q);
    sx_kit_linereader_close(&lr);
    if (res == SX_OK && !(o && o->keep)) {
        char *bak = sx_kit_path_with(path, ".bak");
        if (!bak)
            res = SX_E_NOMEM;
        else if (rename(path, bak) != 0)
            res = SX_E_IO;
        free(bak);
    }
    if (stats)
        *stats = s;
    return res;
}
