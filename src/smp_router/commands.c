/* SMP commands on the router (PROTOCOL-NOTES D.0, D.7): a received batch
 * decoded and each command passed to its handler, and what the handlers
 * share: replies and errors, store-log records, and the way a queue is found
 * and locked. The handlers are in commands_queue.c (queue management) and
 * commands_msg.c (messages and subscriptions), authorization in
 * commands_auth.c; commands_int.h declares what they share.
 *
 * Handlers run on the worker that owns the connection. A queue's mutable
 * state is touched only under its lock; events for a subscriber on another
 * worker are posted to that worker (sx_sub_post). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"
#include "smp_router/commands_int.h"
#include "smp/command.h"
#include "smp/response.h"
#include "kit/say.h"

int64_t sx_cmd_now(void)
{
    return (int64_t)time(NULL);
}

/* ---- sending ---- */

void sx_cmd_reply(sx_conn *c, sx_slice corr_id, sx_slice entity, const sx_smp_resp *m)
{
    static __thread uint8_t buf[SX_BLOCK_SIZE];
    sx_writer w;
    sx_fwd_capture *cap = c->capture;
    if (cap && !cap->done) {
        /* The answer to a forwarded command (commands_fwd.c): kept for the
         * relay's sealed response, encoded for the client's version. */
        sx_writer_init_fixed(&w, cap->buf, sizeof cap->buf);
        cap->done = true;
        if (!sx_smp_resp_transmission_write(&w, cap->version, sx_smp_session_id(&c->sess), corr_id, entity, m)) {
            sx_smp_error e = sx_smp_error_of(SX_SMP_ERR_INTERNAL);
            sx_smp_resp em = {.tag = SX_SMP_R_ERR};
            em.err = e;
            sx_writer_init_fixed(&w, cap->buf, sizeof cap->buf);
            (void)sx_smp_resp_transmission_write(&w, cap->version, sx_smp_session_id(&c->sess), corr_id, entity,
                                                 &em);
        }
        cap->len = sx_writer_slice(&w).len;
        return;
    }
    sx_writer_init_fixed(&w, buf, sizeof buf);
    if (!sx_smp_resp_transmission_write(&w, c->sess.version, sx_smp_session_id(&c->sess), corr_id, entity,
                                        m)) {
        SX_SAY(SX_SAY_ERROR, "cannot encode %s: %s", sx_smp_resp_name(m->tag), sx_status_str(sx_writer_status(&w)));
        return;
    }
    sx_conn_send(c, sx_writer_slice(&w));
}

void sx_cmd_reply_err(sx_conn *c, sx_slice corr_id, sx_slice entity, sx_smp_error e)
{
    sx_smp_resp m = {.tag = SX_SMP_R_ERR};
    m.err = e;
    sx_cmd_reply(c, corr_id, entity, &m);
}

void sx_cmd_reply_tag(sx_conn *c, sx_slice corr_id, sx_slice entity, sx_smp_resp_tag tag)
{
    sx_smp_resp m = {.tag = tag};
    sx_cmd_reply(c, corr_id, entity, &m);
}

sx_slice sx_cmd_empty(void)
{
    return sx_slice_of(NULL, 0);
}

/* ---- answers to a command, store-log records ---- */

void sx_cmd_err(sx_cmd_ctx *x, sx_smp_err_type t)
{
    sx_cmd_reply_err(x->c, x->corr, x->entity, sx_smp_error_of(t));
}

void sx_cmd_err_cmd(sx_cmd_ctx *x, sx_smp_cmd_err e)
{
    sx_cmd_reply_err(x->c, x->corr, x->entity, sx_smp_error_cmd(e));
}

void sx_cmd_ok(sx_cmd_ctx *x)
{
    sx_cmd_reply_tag(x->c, x->corr, x->entity, SX_SMP_R_OK);
}

/* The reference answers STORE with its store's error text when the store
 * log (reference Server/QueueStore/STM.hs at 152c30ca68, withLog') or the
 * journal message store (Server/MsgStore/Journal.hs, storeError) cannot be
 * written; its agent takes STORE for a temporary error and retries. The
 * text is free: ours names the file, not the system's error. */
void sx_cmd_err_store(sx_cmd_ctx *x, bool journal)
{
    sx_smp_error e = sx_smp_error_of(SX_SMP_ERR_STORE);
    e.store = sx_slice_str(journal ? "withLog, message journal cannot be written"
                                   : "withLog, store log cannot be written");
    sx_cmd_reply_err(x->c, x->corr, x->entity, e);
}

/* PROTOCOL-NOTES E25: every change reaches the store log before the client is
 * told; the record is wiped afterwards (it may hold DH secrets). */
bool sx_cmd_log_rec(sx_cmd_ctx *x, sx_slrec *rec)
{
    if (!x->r->lw)
        return true;
    /* Queued for the writer thread; the reply waits for it (server.c). */
    uint64_t seq = sx_storelog_submit(x->r->lw, rec);
    sx_wipe(rec, sizeof *rec);
    if (seq > x->c->hold_seq)
        x->c->hold_seq = seq;
    return seq != 0;
}

void sx_cmd_rec_init(sx_slrec *rec, sx_slrec_type t, const uint8_t rid[SX_ID_LEN])
{
    memset(rec, 0, sizeof *rec);
    rec->type = t;
    memcpy(rec->rid, rid, SX_ID_LEN);
}

/* PROTOCOL-NOTES E5: an accepted command moves the queue's date to today, with
 * one TIME record a day at most. the queue lock held. False if the log cannot be
 * written. */
bool sx_cmd_touch(sx_cmd_ctx *x, sx_queue *q)
{
    int64_t now = sx_cmd_now();
    int64_t day = now - now % 86400;
    if (q->updated_at == day)
        return true;
    sx_slrec rec;
    sx_cmd_rec_init(&rec, SX_SLREC_TIME, q->rid);
    rec.q.updated_at = day;
    rec.q.has_updated_at = true;
    if (!sx_cmd_log_rec(x, &rec))
        return false;
    q->updated_at = day;
    return true;
}

/* The blocked-queue error (PROTOCOL-NOTES E3) with the queue's blocking info;
 * the queue lock held. */
sx_smp_error sx_cmd_blocked_error(const sx_queue *q)
{
    sx_smp_error e = sx_smp_error_of(SX_SMP_ERR_BLOCKED);
    e.blocked.reason = SX_SMP_BLOCK_SPAM;
    const char *info = sx_queue_block_info(q);
    if (info) {
        sx_reader rd;
        sx_reader_init(&rd, (const uint8_t *)info, strlen(info));
        if (!sx_smp_blocking_info_read(&rd, &e.blocked))
            e.blocked.reason = SX_SMP_BLOCK_SPAM;
    }
    return e;
}

void sx_cmd_err_blocked(sx_cmd_ctx *x, sx_queue *q)
{
    sx_cmd_reply_err(x->c, x->corr, x->entity, sx_cmd_blocked_error(q));
}

/* The answer to a recipient's change (KEY, RKEY, LSET): STORE when its
 * record could not be logged, else OK or AUTH; releases q. */
static void answer_change(sx_cmd_ctx *x, sx_queue *q, bool logged, bool good)
{
    if (!logged)
        sx_cmd_err_store(x, false);
    else if (good)
        sx_cmd_ok(x);
    else
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
    sx_queue_release(x->r->store, q);
}

/* ---- finding and locking a queue ----
 * Every handler that reads or changes a queue goes the same way: find it
 * (AUTH after a dummy verification when it is not there, PROTOCOL-NOTES
 * C12), verify the command's authorization without the queue lock (the
 * signature check is the costly part), take the queue lock and check that
 * the queue is still in the store, then decide, log (sx_cmd_log_rec), apply,
 * unlock and answer. The check under the lock is what keeps the store log
 * in the order the changes were applied: a queue deleted by another
 * connection after this one found it is answered AUTH, as a missing one,
 * and nothing more is logged for it after its DELETE. */

/* Statistics: a command refused AUTH (the reference counts SEND, SUB,
 * NSUB and GET). */
static void count_auth(sx_cmd_ctx *x)
{
    sx_smp_stats *s = &x->r->stats;
    switch (x->req->cmd.tag) {
    case SX_SMP_C_SEND: sx_smp_stats_inc(s, SX_SMP_STAT_MSG_SENT_AUTH); break;
    case SX_SMP_C_SUB: sx_smp_stats_inc(s, SX_SMP_STAT_Q_SUB_AUTH); break;
    case SX_SMP_C_NSUB: sx_smp_stats_inc(s, SX_SMP_STAT_NTF_SUB_AUTH); break;
    case SX_SMP_C_GET: sx_smp_stats_inc(s, SX_SMP_STAT_MSG_GET_AUTH); break;
    default: break;
    }
}

void sx_cmd_count_deleted(sx_router *r, const sx_queue *q)
{
    sx_smp_stats *s = &r->stats;
    sx_smp_stats_inc(s, SX_SMP_STAT_Q_DELETED_ALL);
    sx_smp_stats_inc(s, sx_queue_secured(q) ? SX_SMP_STAT_Q_DELETED_SECURED : SX_SMP_STAT_Q_DELETED_NEW);
    sx_smp_stats_add(s, SX_SMP_STAT_Q_COUNT, -1);
    sx_smp_stats_add(s, SX_SMP_STAT_MSG_COUNT, -(int64_t)q->n_msgs);
    sx_smp_stats_add(s, SX_SMP_STAT_NTF_COUNT, -(int64_t)q->n_ntfs);
}

/* Looks up the entity in the map of party; on failure answers AUTH after a
 * dummy verification (PROTOCOL-NOTES C12). The queue is retained. */
sx_queue *sx_cmd_find(sx_cmd_ctx *x, sx_party party)
{
    sx_queue *q = sx_store_find(x->r->store, party, x->entity);
    if (!q) {
        (void)sx_cmd_verify_one(x->c, x->req, NULL);
        count_auth(x);
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
    }
    return q;
}

/* Takes q's lock if q is still in the store. Otherwise answers AUTH and
 * releases q (the caller's reference), and returns false. */
bool sx_cmd_lock_live(sx_cmd_ctx *x, sx_queue *q)
{
    sx_queue_lock(q);
    if (!q->deleted)
        return true;
    sx_queue_unlock(q);
    sx_cmd_err(x, SX_SMP_ERR_AUTH);
    sx_queue_release(x->r->store, q);
    return false;
}

/* Finds the recipient's queue, verifies the authorization and returns it
 * locked and retained, with its date moved to today (PROTOCOL-NOTES E5);
 * a blocked queue is refused unless allow_blocked. NULL when it answered
 * already (the queue then released). */
sx_queue *sx_cmd_locked_recipient(sx_cmd_ctx *x, bool allow_blocked)
{
    sx_queue *q = sx_cmd_find(x, SX_PARTY_RECIPIENT);
    if (!q)
        return NULL;
    if (!sx_cmd_verify_recipient(x->c, x->req, q)) {
        count_auth(x);
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        sx_queue_release(x->r->store, q);
        return NULL;
    }
    if (!sx_cmd_lock_live(x, q))
        return NULL;
    if (!allow_blocked && q->status == SX_QUEUE_BLOCKED)
        sx_cmd_err_blocked(x, q);
    else if (!allow_blocked && !sx_cmd_touch(x, q))
        sx_cmd_err_store(x, false);
    else
        return q;
    sx_queue_unlock(q);
    sx_queue_release(x->r->store, q);
    return NULL;
}

/* Finds the queue of party and returns it locked and retained (no
 * verification: the caller does it, knowing the key). */
sx_queue *sx_cmd_locked_party(sx_cmd_ctx *x, sx_party party)
{
    sx_queue *q = sx_cmd_find(x, party);
    return q && sx_cmd_lock_live(x, q) ? q : NULL;
}

/* The end of a change of a locked queue: unlock, answer (STORE when its
 * record could not be logged, else OK or AUTH), release. */
void sx_cmd_unlock_answer(sx_cmd_ctx *x, sx_queue *q, bool logged, bool good)
{
    sx_queue_unlock(q);
    answer_change(x, q, logged, good);
}

/* ---- the dispatcher ---- */

void sx_cmd_dispatch(sx_cmd_ctx *x)
{
    const sx_smp_request *req = x->req;
    /* PROTOCOL-NOTES C9-C11 (services.c). */
    if (!sx_svc_precheck(x))
        return;
    switch (req->cmd.tag) {
    case SX_SMP_C_NEW: sx_cmd_new(x); break;
    case SX_SMP_C_SUB: sx_cmd_sub(x); break;
    case SX_SMP_C_GET: sx_cmd_get(x); break;
    case SX_SMP_C_ACK: sx_cmd_ack(x); break;
    case SX_SMP_C_KEY: sx_cmd_key(x); break;
    case SX_SMP_C_RKEY: sx_cmd_rkey(x); break;
    case SX_SMP_C_SKEY: sx_cmd_skey(x); break;
    case SX_SMP_C_LSET: sx_cmd_lset(x); break;
    case SX_SMP_C_LDEL: sx_cmd_ldel(x); break;
    case SX_SMP_C_LKEY: sx_cmd_lkey(x); break;
    case SX_SMP_C_LGET: sx_cmd_lget(x); break;
    case SX_SMP_C_NKEY: sx_cmd_nkey(x); break;
    case SX_SMP_C_NDEL: sx_cmd_ndel(x); break;
    case SX_SMP_C_OFF: sx_cmd_off(x); break;
    case SX_SMP_C_DEL: sx_cmd_del(x); break;
    case SX_SMP_C_QUE: sx_cmd_que(x); break;
    case SX_SMP_C_SEND: sx_cmd_send(x); break;
    case SX_SMP_C_NSUB: sx_cmd_nsub(x); break;
    case SX_SMP_C_PING: sx_cmd_reply_tag(x->c, x->corr, x->entity, SX_SMP_R_PONG); break;
    case SX_SMP_C_NSUBS: sx_cmd_nsubs(x); break;
    case SX_SMP_C_SUBS: sx_cmd_subs(x); break;
    case SX_SMP_C_PRXY: sx_cmd_prxy(x); break;
    case SX_SMP_C_PFWD: sx_cmd_pfwd(x); break;
    case SX_SMP_C_RFWD: sx_cmd_rfwd(x); break;
    default: sx_cmd_err_cmd(x, SX_SMP_CMD_UNKNOWN); break;
    }
}

/* Statistics: a batch of several transmissions starting with SUB, DEL,
 * NDEL or NSUB (the reference counts batches by their first command). */
static void count_batch(sx_router *r, sx_smp_cmd_tag tag)
{
    switch (tag) {
    case SX_SMP_C_SUB: sx_smp_stats_inc(&r->stats, SX_SMP_STAT_Q_SUB_ALL_B); break;
    case SX_SMP_C_DEL: sx_smp_stats_inc(&r->stats, SX_SMP_STAT_Q_DELETED_ALL_B); break;
    case SX_SMP_C_NDEL: sx_smp_stats_inc(&r->stats, SX_SMP_STAT_NTF_DELETED_B); break;
    case SX_SMP_C_NSUB: sx_smp_stats_inc(&r->stats, SX_SMP_STAT_NTF_SUB_B); break;
    default: break;
    }
}

void sx_router_handle_batch(sx_conn *c, sx_slice content)
{
    sx_slice items[SX_BATCH_MAX_ITEMS];
    size_t n = 0;
    if (content.len == 0 || sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &n) != SX_OK) {
        /* PROTOCOL-NOTES B15: one ERR BLOCK with empty corrId and entity. */
        sx_cmd_reply_err(c, sx_cmd_empty(), sx_cmd_empty(), sx_smp_error_of(SX_SMP_ERR_BLOCK));
        return;
    }
    void *pv = sx_cmd_preverify_begin(c, items, n);
    for (size_t i = 0; i < n && c->fd >= 0 && !c->failing; i++) {
        sx_smp_request req;
        if (sx_smp_request_decode(items[i], c->sess.version, sx_smp_session_id(&c->sess), &req) != SX_OK) {
            sx_cmd_reply_err(c, req.reply_corr_id, req.reply_entity_id, req.err);
            continue;
        }
        sx_cmd_ctx x = {.c = c, .r = c->w->r, .req = &req, .corr = req.t.corr_id, .entity = req.t.entity_id, .v = c->sess.version};
        if (i == 0 && n > 1)
            count_batch(x.r, req.cmd.tag);
        sx_cmd_dispatch(&x);
    }
    sx_cmd_preverify_end(pv);
}
