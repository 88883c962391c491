/* The queue store's messages on the journal message store (see
 * store_journal.h). The queue lock is held by the callers of store.h; the
 * journal has its own lock and never calls back. */
#include "smp_router/store_journal.h"

#include <string.h>
#include <time.h>

#include "kit/say.h"

/* One message buffer per thread: the head a caller reads until its next
 * call, and the message being written. */
static _Thread_local sx_jmsg tl_msg;
static _Thread_local union {
    sx_msg m;
    uint8_t bytes[sizeof(sx_msg) + SX_MSG_BODY_MAX];
} tl_head;

static void say_error(const char *what, const sx_queue *q, sx_status st)
{
    (void)q;
    SX_SAY(SX_SAY_ERROR, "journal store: %s failed: %s", what, sx_status_str(st));
}

static sx_status sj_push(void *ctx, sx_queue *q, const uint8_t id[SX_ID_LEN], int64_t ts, bool notify, sx_slice body,
                         sx_push_result *res, bool *was_empty)
{
    sx_jstore *js = ctx;
    *res = SX_PUSH_QUOTA;
    *was_empty = false;
    if (body.len > SX_MSG_BODY_MAX)
        return SX_E_LIMIT;
    sx_jmsg *m = &tl_msg;
    memcpy(m->id, id, SX_ID_LEN);
    m->ts = ts;
    m->quota = false;
    m->notify = notify;
    m->len = (uint16_t)body.len;
    if (body.len)
        memcpy(m->body, body.ptr, body.len);
    sx_jwrite w;
    sx_status st = sx_jstore_write(js, q->rid, m, &w, was_empty);
    if (st != SX_OK) {
        say_error("write", q, st);
        return st;
    }
    if (w != SX_JW_FULL && q->n_msgs < UINT16_MAX)
        q->n_msgs++;
    *res = w == SX_JW_STORED ? SX_PUSH_OK : SX_PUSH_QUOTA;
    /* now and then, the queues idle for long are closed */
    static unsigned writes;
    if ((__atomic_fetch_add(&writes, 1, __ATOMIC_RELAXED) & 1023) == 1023)
        (void)sx_jstore_close_idle(js, (int64_t)time(NULL));
    return SX_OK;
}

static sx_msg *sj_head(void *ctx, const sx_queue *q)
{
    sx_jstore *js = ctx;
    bool found = false;
    sx_status st = sx_jstore_peek(js, q->rid, &tl_msg, &found);
    if (st != SX_OK) {
        say_error("read", q, st);
        return NULL;
    }
    /* the size is known once the queue is open: n_msgs follows it (the
     * caller holds the queue lock; q is const only in the interface) */
    int64_t size = 0;
    if (found && sx_jstore_size(js, q->rid, &size) != SX_OK)
        size = 0;
    ((sx_queue *)q)->n_msgs = size > UINT16_MAX ? UINT16_MAX : (uint16_t)size;
    if (!found)
        return NULL;
    sx_msg *h = &tl_head.m;
    h->next = NULL;
    memcpy(h->id, tl_msg.id, SX_ID_LEN);
    h->ts = tl_msg.ts;
    h->quota = tl_msg.quota;
    h->notify = tl_msg.notify;
    h->len = tl_msg.len;
    if (tl_msg.len)
        memcpy(h->body, tl_msg.body, tl_msg.len);
    return h;
}

static bool sj_remove_head(void *ctx, sx_queue *q, const uint8_t id[SX_ID_LEN])
{
    sx_jstore *js = ctx;
    bool deleted = false;
    sx_status st = sx_jstore_ack(js, q->rid, id, &deleted, NULL, NULL);
    if (st != SX_OK)
        say_error("acknowledgement", q, st);
    if (deleted && q->n_msgs)
        q->n_msgs--;
    return deleted;
}

static size_t sj_expire(void *ctx, sx_queue *q, int64_t cutoff)
{
    sx_jstore *js = ctx;
    size_t n = 0;
    int64_t stored = 0;
    sx_status st = sx_jstore_expire(js, q->rid, cutoff, (int64_t)time(NULL), &n, &stored);
    if (st != SX_OK) {
        say_error("expiry", q, st);
        return 0;
    }
    q->n_msgs = stored > UINT16_MAX ? UINT16_MAX : (uint16_t)stored;
    return n;
}

static void sj_deleted(void *ctx, sx_queue *q)
{
    sx_jstore *js = ctx;
    sx_status st = sx_jstore_delete_queue(js, q->rid);
    if (st != SX_OK)
        say_error("queue deletion", q, st);
    q->n_msgs = 0;
}

static void sj_close(void *ctx) { sx_jstore_close(ctx); }

void sx_store_use_journal(sx_store *s, sx_jstore *js)
{
    sx_msg_backend b = {
        .push = sj_push,
        .head = sj_head,
        .remove_head = sj_remove_head,
        .expire = sj_expire,
        .deleted = sj_deleted,
        .close = sj_close,
        .ctx = js,
    };
    sx_store_set_msg_backend(s, js ? &b : NULL);
}
