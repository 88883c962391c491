/* SMP messages and subscriptions (PROTOCOL-NOTES D.2-D.5, E.2, E.3): SUB,
 * GET, ACK, SEND and NSUB, and the work a subscription does on the worker of
 * its connection when another connection or the control port concerns it:
 * the next message (MSG), END, DELD, ERR BLOCKED and notifications (NMSG).
 *
 * A queue's messages and its subscribers change only under its lock; a
 * subscriber on another worker is reached by posting to it (sx_sub_post). */
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "smp_router/commands_int.h"
#include "smp_router/msgjournal.h"
#include "smp/msgcrypt.h"
#include "smp/version.h"

/* Sends the queue's head message on subscription s and marks it delivered
 * (PROTOCOL-NOTES E6). corr_id is empty for an event, or the command's (GET,
 * ACK). Called with the queue lock held. Returns false when there is nothing to
 * send. */
static bool send_head(sx_conn *c, sx_sub *s, sx_slice corr_id)
{
    sx_queue *q = s->q;
    sx_msg *m = sx_queue_head(c->w->r->store, q);
    if (!m)
        return false;
    static __thread uint8_t enc[SX_SMP_ENC_MSG_LEN];
    sx_slice id = sx_slice_of(m->id, SX_ID_LEN);
    sx_status st = m->quota ? sx_smp_msg_encrypt_quota(q->dh_secret, id, m->ts, enc)
                            : sx_smp_msg_encrypt(q->dh_secret, id, m->ts, m->notify,
                                                 sx_slice_of(m->body, m->len), enc);
    if (st != SX_OK) {
        sx_cmd_reply_err(c, corr_id, sx_slice_of(q->rid, SX_ID_LEN), sx_smp_error_of(SX_SMP_ERR_INTERNAL));
        return false;
    }
    s->delivered = true;
    s->implicit = false;
    s->delivered_at = sx_loop_now_ms() / 1000;
    memcpy(s->delivered_id, m->id, SX_ID_LEN);
    sx_smp_resp r = {.tag = SX_SMP_R_MSG};
    r.msg.msg_id = id;
    r.msg.body = sx_slice_of(enc, sizeof enc);
    sx_cmd_reply(c, corr_id, sx_slice_of(q->rid, SX_ID_LEN), &r);
    return true;
}

/* Makes s the queue's subscriber (the queue lock held); returns the previous one,
 * whose reference passes to the caller. */
sx_sub *sx_cmd_take_subscription(sx_queue *q, sx_sub *s)
{
    sx_sub *old = q->sub;
    sx_sub_retain(s);
    q->sub = s;
    return old;
}

void sx_router_sub_closed(sx_conn *c, sx_sub *s)
{
    (void)c;
    (void)s;
}

void sx_router_sub_work(sx_conn *c, sx_sub *s, unsigned what)
{
    if (what & SX_SUB_SVC_MOVED) {
        sx_svc_sub_moved(c, s);
        what &= ~(unsigned)SX_SUB_SVC_MOVED;
        if (!what || c->fd < 0)
            return;
    }
    sx_queue *q = s->q;
    sx_slice entity = sx_slice_of(s->entity, SX_ID_LEN);
    if (what & SX_SUB_BLOCKED) {
        /* PROTOCOL-NOTES E32: the control port blocked the queue; its
         * subscriber is told with ERR BLOCKED and stays subscribed. */
        sx_queue_lock(q);
        bool blocked = q->sub == s && !q->deleted && q->status == SX_QUEUE_BLOCKED;
        sx_smp_error e = blocked ? sx_cmd_blocked_error(q) : sx_smp_error_of(SX_SMP_ERR_BLOCKED);
        sx_queue_unlock(q);
        if (blocked) {
            sx_cmd_reply_err(c, sx_cmd_empty(), entity, e);
            sx_conn_flush(c);
            if (c->fd < 0)
                return;
        }
    }
    if (what & (SX_SUB_DELD | SX_SUB_END)) {
        sx_queue_lock(q);
        bool still = s->notifier ? sx_queue_nsub(q) == s : q->sub == s;
        sx_queue_unlock(q);
        /* In a service session the queue leaves the session's count too
         * (the reference's CSAEndServiceSub). */
        if (what & SX_SUB_DELD) {
            if (!s->get_mode)
                sx_svc_session_remove(c, s->entity);
            sx_cmd_reply_tag(c, sx_cmd_empty(), entity, SX_SMP_R_DELD);
            sx_conn_sub_remove(c, q, s->notifier);
        } else if (!still) {
            if (!s->get_mode)
                sx_svc_session_remove(c, s->entity);
            sx_smp_stats_inc(&c->w->r->stats, SX_SMP_STAT_Q_SUB_END);
            sx_smp_stats_inc(&c->w->r->stats, SX_SMP_STAT_Q_SUB_END_B);
            sx_cmd_reply_tag(c, sx_cmd_empty(), entity, SX_SMP_R_END);
            sx_conn_sub_remove(c, q, s->notifier);
        }
        sx_conn_flush(c);
        return;
    }
    if (what & SX_SUB_NTF) {
        sx_queue_lock(q);
        sx_pending_ntf *list = sx_queue_nsub(q) == s && !q->deleted ? sx_queue_take_ntfs(q) : NULL;
        sx_queue_unlock(q);
        int64_t sent = 0;
        for (sx_pending_ntf *e = list; e; e = e->next)
            sent++;
        if (sent) {
            sx_smp_stats *ss = &c->w->r->stats;
            sx_smp_stats_add(ss, SX_SMP_STAT_MSG_NTFS, sent);
            sx_smp_stats_add(ss, SX_SMP_STAT_MSG_NTFS_B, sent / 80 + 1);
            sx_smp_stats_add(ss, SX_SMP_STAT_NTF_COUNT, -sent);
        }
        while (list) {
            sx_pending_ntf *next = list->next;
            sx_smp_resp m = {.tag = SX_SMP_R_NMSG};
            m.nmsg.nonce = sx_slice_of(list->nonce, sizeof list->nonce);
            m.nmsg.enc_meta = sx_slice_of(list->meta, sizeof list->meta);
            sx_cmd_reply(c, sx_cmd_empty(), entity, &m);
            free(list);
            list = next;
        }
        sx_conn_flush(c);
    }
    if (what & SX_SUB_DELIVER) {
        sx_queue_lock(q);
        if (q->sub == s && !s->delivered && !q->deleted)
            send_head(c, s, sx_cmd_empty());
        sx_queue_unlock(q);
        sx_conn_flush(c);
    }
}

void sx_cmd_sub(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    sx_sub *s = sx_conn_sub(x->c, q, false);
    if (s && s->get_mode) {
        sx_queue_unlock(q);
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_Q_SUB_PROHIBITED);
        sx_cmd_err_cmd(x, SX_SMP_CMD_PROHIBITED); /* PROTOCOL-NOTES E9 */
        sx_queue_release(x->r->store, q);
        return;
    }
    /* PROTOCOL-NOTES D8: a messaging service takes the queue, an ordinary
     * client takes it back. A subscription made when the connection took
     * its service's queues counts as none (the reference has none). */
    bool implicit = s && s->implicit;
    if (implicit) {
        s->implicit = false;
        s = NULL;
    }
    sx_svc_assoc as;
    if (!sx_svc_associate(x, q, 'R', s == NULL, &as)) {
        sx_queue_unlock(q);
        sx_cmd_err_store(x, false);
        sx_queue_release(x->r->store, q);
        return;
    }
    sx_sub *old = NULL;
    /* statistics: a repeated SUB is a duplicate; a new one counts when it
     * delivers a message, as the reference counts them */
    bool had = s != NULL;
    if (had)
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_Q_SUB_DUPLICATE);
    if (implicit)
        s = sx_conn_sub(x->c, q, false);
    if (!s) {
        /* The connection's own map: no other lock is taken. */
        s = sx_conn_sub_add(x->c, q, false, false);
        if (!s) {
            sx_queue_unlock(q);
            sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
            sx_queue_release(x->r->store, q);
            return;
        }
        memcpy(s->entity, q->rid, SX_ID_LEN);
    }
    if (q->sub != s)
        old = sx_cmd_take_subscription(q, s);
    /* PROTOCOL-NOTES E8: a repeated SUB re-delivers the head. */
    s->delivered = false;
    sx_svc_reply_sok(x);
    /* qSub: as the reference, in a service session only while the session
     * held no service queue */
    bool first = x->c->sess.has_service ? !as.had_subs : !had;
    if (send_head(x->c, s, sx_cmd_empty()) && first)
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_Q_SUB);
    sx_queue_unlock(q);
    /* PROTOCOL-NOTES E10: the previous subscriber is told END, unless it is
     * a connection of the same service (it is told ENDS, PROTOCOL-NOTES D27). */
    sx_sub_post_release(x->r, old, as.same ? SX_SUB_SVC_MOVED : SX_SUB_END, NULL);
    if (as.takes)
        sx_svc_take(x, 'R');
    sx_queue_release(x->r->store, q);
}

void sx_cmd_get(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    sx_sub *s = sx_conn_sub(x->c, q, false);
    if (s && !s->get_mode) {
        sx_queue_unlock(q);
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_MSG_GET_PROHIBITED);
        sx_cmd_err_cmd(x, SX_SMP_CMD_PROHIBITED); /* PROTOCOL-NOTES E9 */
        sx_queue_release(x->r->store, q);
        return;
    }
    if (!s) {
        s = sx_conn_sub_add(x->c, q, true, false);
        if (!s) {
            sx_queue_unlock(q);
            sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
            sx_queue_release(x->r->store, q);
            return;
        }
        memcpy(s->entity, q->rid, SX_ID_LEN);
    }
    bool again = s->delivered;
    if (send_head(x->c, s, x->corr)) {
        sx_smp_stats_inc(&x->r->stats, again ? SX_SMP_STAT_MSG_GET_DUPLICATE : SX_SMP_STAT_MSG_GET);
    } else {
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_MSG_GET_NO_MSG);
        sx_cmd_ok(x);
    }
    sx_queue_unlock(q);
    sx_queue_release(x->r->store, q);
}

void sx_cmd_ack(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    sx_slice id = x->req->cmd.msg_id;
    sx_sub *s = sx_conn_sub(x->c, q, false);
    /* PROTOCOL-NOTES E7: ACK only what this connection was given. */
    if (!s || !s->delivered ||
        (id.len > 0 && (id.len != SX_ID_LEN || memcmp(id.ptr, s->delivered_id, SX_ID_LEN) != 0))) {
        sx_queue_unlock(q);
        sx_cmd_err(x, SX_SMP_ERR_NO_MSG);
        sx_queue_release(x->r->store, q);
        return;
    }
    const sx_msg *head = id.len > 0 ? sx_queue_head(x->r->store, q) : NULL;
    bool real = head && !head->quota && memcmp(head->id, s->delivered_id, SX_ID_LEN) == 0;
    bool ntf_flag = real && head->notify;
    bool removed = id.len > 0 && sx_queue_remove_head(x->r->store, q, s->delivered_id);
    if (removed) {
        sx_smp_stats *ss = &x->r->stats;
        if (real) {
            sx_smp_stats_add(ss, SX_SMP_STAT_MSG_COUNT, -1);
            sx_smp_stats_inc(ss, SX_SMP_STAT_MSG_RECV);
            if (s->get_mode)
                sx_smp_stats_inc(ss, SX_SMP_STAT_MSG_RECV_GET);
            if (ntf_flag)
                sx_smp_stats_inc(ss, SX_SMP_STAT_MSG_RECV_NTF);
            sx_smp_stats_active(ss, q->rid, SX_ID_LEN, ntf_flag);
            sx_smp_stats_ack_time(ss, sx_loop_now_ms() / 1000 - s->delivered_at);
        }
    }
    if (removed && x->r->mw) {
        /* The journal learns it, but the answer does not wait: a lost
         * removal only delivers the message again after a crash. */
        sx_mjrec rec = {.type = SX_MJ_ACK};
        memcpy(rec.msg.rid, q->rid, SX_ID_LEN);
        memcpy(rec.msg.msg_id, s->delivered_id, SX_ID_LEN);
        (void)sx_msgjournal_submit(x->r->mw, &rec);
    }
    s->delivered = false;
    /* SUB mode: the next message is the ACK's response (PROTOCOL-NOTES P11). */
    if (s->get_mode || q->sub != s || !send_head(x->c, s, x->corr))
        sx_cmd_ok(x);
    sx_queue_unlock(q);
    sx_queue_release(x->r->store, q);
}

void sx_cmd_send(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_find(x, SX_PARTY_SENDER);
    if (!q)
        return;
    sx_slice body = x->req->cmd.send.body;
    sx_queue_lock(q);
    sx_qkey skey = sx_queue_skey(q);
    uint8_t status = q->status;
    sx_queue_unlock(q);
    /* PROTOCOL-NOTES D21: a secured queue takes only SENDs signed by its sender
     * key; an unsecured one only unsigned SENDs. */
    bool authorized = skey.len ? sx_cmd_verify_one(x->c, x->req, &skey) : x->req->auth_kind == SX_SMP_AUTH_NONE;
    if (!authorized || status == SX_QUEUE_OFF) {
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_MSG_SENT_AUTH);
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        sx_queue_release(x->r->store, q);
        return;
    }
    if (body.len > sx_smp_max_message_length(x->v)) {
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_MSG_SENT_LARGE);
        sx_cmd_err(x, SX_SMP_ERR_LARGE_MSG);
        sx_queue_release(x->r->store, q);
        return;
    }
    uint8_t id[SX_ID_LEN];
    sx_random_bytes(id, sizeof id);
    sx_push_result res;
    bool was_empty;
    sx_sub *deliver = NULL, *notify = NULL;
    if (!sx_cmd_lock_live(x, q))
        return;
    if (q->status == SX_QUEUE_BLOCKED || !sx_cmd_touch(x, q)) {
        if (q->status == SX_QUEUE_BLOCKED) {
            sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_MSG_SENT_BLOCK);
            sx_cmd_err_blocked(x, q);
        } else
            sx_cmd_err_store(x, false);
        sx_queue_unlock(q);
        sx_queue_release(x->r->store, q);
        return;
    }
    sx_status st =
        sx_queue_push(x->r->store, q, id, sx_cmd_now(), x->req->cmd.send.notification, body, &res, &was_empty);
    if (st == SX_OK && x->r->mw && q->tail && memcmp(q->tail->id, id, SX_ID_LEN) == 0) {
        /* The message (or the quota marker) goes to the journal with the
         * change, and the answer waits until it is written (server.c
         * write_out). A journal that refuses it takes the message back: the
         * sender hears STORE and tries again later. */
        sx_mjrec rec = {.type = SX_MJ_MSG};
        const sx_msg *m = q->tail;
        memcpy(rec.msg.rid, q->rid, SX_ID_LEN);
        memcpy(rec.msg.msg_id, m->id, SX_ID_LEN);
        rec.msg.ts = m->ts;
        rec.msg.quota = m->quota;
        rec.msg.notify = m->notify;
        rec.msg.body = sx_slice_of(m->body, m->len);
        uint64_t seq = sx_msgjournal_submit(x->r->mw, &rec);
        if (!seq) {
            sx_queue_remove_tail(q, id);
            sx_queue_unlock(q);
            sx_cmd_err_store(x, true);
            sx_queue_release(x->r->store, q);
            return;
        }
        if (seq > x->c->hold_mseq)
            x->c->hold_mseq = seq;
    }
    if (st == SX_OK && res == SX_PUSH_OK) {
        sx_sub *s = q->sub;
        /* PROTOCOL-NOTES E6: push only into an idle subscription of a queue
         * that was empty. */
        if (was_empty && s && !s->delivered) {
            deliver = s;
            sx_sub_retain(s);
        }
        /* PROTOCOL-NOTES E14: a message flagged for notification leaves an NMSG
         * for the notifier subscriber, now or when it subscribes. */
        if (x->req->cmd.send.notification && sx_queue_notifier(q)) {
            sx_pending_ntf n;
            n.ts = sx_cmd_now();
            memcpy(n.msg_id, id, SX_ID_LEN);
            sx_random_bytes(n.nonce, sizeof n.nonce);
            bool full = q->n_ntfs >= SX_NTF_PENDING_MAX;
            if (sx_smp_nmsg_encrypt(sx_queue_notifier(q)->dh_secret, n.nonce, sx_slice_of(id, SX_ID_LEN), n.ts,
                                    n.meta) == SX_OK &&
                sx_queue_add_ntf(q, &n) == SX_OK) {
                /* statistics: the oldest one goes when the list is full */
                sx_smp_stats_inc(&x->r->stats, full ? SX_SMP_STAT_MSG_NTF_LOST : SX_SMP_STAT_NTF_COUNT);
                if (!sx_queue_nsub(q))
                    sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_MSG_NTF_NO_SUB);
                if (sx_queue_nsub(q)) {
                    notify = sx_queue_nsub(q);
                    sx_sub_retain(notify);
                }
            }
        }
        /* PROTOCOL-NOTES E4: the first message after securing removes the link
         * data of a messaging queue. */
        if (q->mode == SX_SMP_QUEUE_MESSAGING && sx_queue_secured(q) && sx_queue_link(q)) {
            sx_slrec rec;
            sx_cmd_rec_init(&rec, SX_SLREC_LDELETE, q->rid);
            if (sx_cmd_log_rec(x, &rec))
                sx_store_delete_link(x->r->store, q);
        }
    }
    sx_queue_unlock(q);
    if (st == SX_OK) {
        sx_smp_stats *ss = &x->r->stats;
        bool ntf = x->req->cmd.send.notification;
        if (res == SX_PUSH_QUOTA) {
            sx_smp_stats_inc(ss, SX_SMP_STAT_MSG_SENT_QUOTA);
        } else {
            sx_smp_stats_inc(ss, SX_SMP_STAT_MSG_SENT);
            sx_smp_stats_inc(ss, SX_SMP_STAT_MSG_COUNT);
            if (ntf)
                sx_smp_stats_inc(ss, SX_SMP_STAT_MSG_SENT_NTF);
            sx_smp_stats_active(ss, q->rid, SX_ID_LEN, ntf);
        }
    }
    if (st != SX_OK)
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
    else if (res == SX_PUSH_QUOTA)
        sx_cmd_err(x, SX_SMP_ERR_QUOTA);
    else
        sx_cmd_ok(x);
    if (deliver) {
        if (deliver->worker == x->c->w && deliver->active) {
            /* Same worker: deliver now, after this OK. */
            sx_router_sub_work(deliver->conn, deliver, SX_SUB_DELIVER);
        } else {
            sx_sub_post(deliver, SX_SUB_DELIVER);
        }
        sx_sub_release(x->r, deliver);
    }
    sx_sub_post_release(x->r, notify, SX_SUB_NTF, NULL);
    sx_queue_release(x->r->store, q);
}

void sx_cmd_nsub(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_find(x, SX_PARTY_NOTIFIER);
    if (!q)
        return;
    sx_queue_lock(q);
    sx_qkey nkey = sx_queue_notifier(q) ? sx_queue_notifier(q)->key : (sx_qkey){0};
    sx_queue_unlock(q);
    if (!sx_cmd_verify_one(x->c, x->req, nkey.len ? &nkey : NULL)) {
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_NTF_SUB_AUTH);
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        sx_queue_release(x->r->store, q);
        return;
    }
    sx_sub *s = sx_conn_sub(x->c, q, true);
    sx_sub *old = NULL;
    /* the reference counts these for ordinary clients only */
    if (!x->c->sess.has_service)
        sx_smp_stats_inc(&x->r->stats, s ? SX_SMP_STAT_NTF_SUB_DUPLICATE : SX_SMP_STAT_NTF_SUB);
    if (!s) {
        s = sx_conn_sub_add(x->c, q, false, true);
        if (!s) {
            sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
            sx_queue_release(x->r->store, q);
            return;
        }
        memcpy(s->entity, x->entity.ptr, SX_ID_LEN);
    }
    if (!sx_cmd_lock_live(x, q)) {
        sx_conn_sub_remove(x->c, s->q, true);
        return;
    }
    /* The notifier verified above must still be the queue's: an NKEY or
     * NDEL between the check and the lock changed it. */
    const sx_notifier *n = sx_queue_notifier(q);
    if (!n || !sx_qkey_equal(&n->key, &nkey) || !sx_slice_eq(x->entity, sx_slice_of(n->id, SX_ID_LEN))) {
        sx_queue_unlock(q);
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        sx_conn_sub_remove(x->c, q, true);
        sx_queue_release(x->r->store, q);
        return;
    }
    /* PROTOCOL-NOTES D29: a service takes the queue's notifier, an ordinary
     * client takes it back. */
    sx_svc_assoc as;
    if (!sx_svc_associate(x, q, 'N', true, &as)) {
        sx_queue_unlock(q);
        sx_cmd_err_store(x, false);
        sx_conn_sub_remove(x->c, q, true);
        sx_queue_release(x->r->store, q);
        return;
    }
    if (sx_queue_nsub(q) != s) {
        old = sx_queue_nsub(q);
        sx_sub_retain(s);
        sx_queue_set_nsub(q, s);
    }
    s->implicit = false;
    sx_queue_unlock(q);
    /* PROTOCOL-NOTES E16, D27 */
    sx_sub_post_release(x->r, old, as.same ? SX_SUB_SVC_MOVED : SX_SUB_END, NULL);
    sx_svc_reply_sok(x);
    if (as.takes)
        sx_svc_take(x, 'N');
    sx_queue_lock(q);
    bool pending = sx_queue_has_ntfs(q);
    sx_queue_unlock(q);
    if (pending)
        sx_sub_post(s, SX_SUB_NTF);
    sx_queue_release(x->r->store, q);
}

bool sx_cmd_send_head(sx_conn *c, sx_sub *s)
{
    return send_head(c, s, sx_cmd_empty());
}
