/* SMP queue management (PROTOCOL-NOTES D.1-D.3, E.1, E.4): creating a
 * queue (NEW), its keys (KEY, RKEY, SKEY), its link data (LKEY, LGET, LSET,
 * LDEL), its notifier (NKEY, NDEL), suspending and deleting it (OFF, DEL) and
 * the QUE report.
 *
 * Each change is decided and logged under the queue lock (see the order in
 * commands.c); subscribers that lose the queue or its notifier are told on
 * their own workers (sx_sub_post_release). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "smp_router/commands_int.h"

void sx_cmd_new(sx_cmd_ctx *x)
{
    const sx_smp_new *n = &x->req->cmd.new_queue;
    sx_router *r = x->r;
    /* PROTOCOL-NOTES D6: creation switched off or password mismatch. */
    if (!r->opts.new_queues) {
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        return;
    }
    if (r->has_password &&
        (!n->has_basic_auth ||
         !sx_ct_equal(n->basic_auth, sx_slice_of(r->create_password, r->create_password_len)))) {
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        return;
    }
    sx_new_queue nq = {0};
    if (sx_cmd_qkey_of_pubkey(&n->rcv_auth_key, &nq.rkey) != SX_OK) {
        sx_cmd_err_cmd(x, SX_SMP_CMD_SYNTAX);
        return;
    }
    /* NEW is authorized by the key it creates the queue with. */
    if (!sx_cmd_verify_one(x->c, x->req, &nq.rkey)) {
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        return;
    }
    /* A service creates only queues it subscribes to (the reference's
     * createQueue). */
    if (x->c->sess.has_service && !n->subscribe) {
        sx_cmd_err_cmd(x, SX_SMP_CMD_PROHIBITED);
        return;
    }
    nq.now = sx_cmd_now();
    if (n->has_queue_req) {
        const sx_smp_queue_req *qr = &n->queue_req;
        nq.mode = (uint8_t)qr->mode;
        if (qr->has_link) {
            /* PROTOCOL-NOTES D4: the client's sender id is
             * SHA3-384(corrId)[0..24). */
            uint8_t h[48];
            if (sx_sha3_384(x->corr, h) != SX_OK || qr->sender_id.len != SX_ID_LEN ||
                memcmp(h, qr->sender_id.ptr, SX_ID_LEN) != 0) {
                sx_cmd_err_cmd(x, SX_SMP_CMD_PROHIBITED);
                return;
            }
            nq.has_sid = true;
            memcpy(nq.sid, qr->sender_id.ptr, SX_ID_LEN);
            nq.has_link = true;
            nq.link_fixed = qr->link.fixed;
            nq.link_user = qr->link.user;
            if (qr->mode == SX_SMP_QUEUE_CONTACT) {
                if (qr->link_id.len != SX_ID_LEN) {
                    sx_cmd_err_cmd(x, SX_SMP_CMD_SYNTAX);
                    return;
                }
                nq.client_link_id = true;
                memcpy(nq.link_id, qr->link_id.ptr, SX_ID_LEN);
            }
        }
    }
    uint8_t srv_der[SX_KEY_SPKI_MAX], ntf_der[SX_KEY_SPKI_MAX];
    sx_smp_resp m = {.tag = SX_SMP_R_IDS};
    if (sx_cmd_dh_agree(&n->rcv_dh_key, nq.dh_secret, srv_der, &m.ids.srv_dh_key) != SX_OK) {
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        return;
    }
    if (n->has_ntf_creds) {
        if (sx_cmd_qkey_of_pubkey(&n->ntf_auth_key, &nq.nkey) != SX_OK ||
            sx_cmd_dh_agree(&n->ntf_dh_key, nq.ndh_secret, ntf_der, &m.ids.srv_ntf_dh_key) != SX_OK) {
            sx_wipe(&nq, sizeof nq);
            sx_cmd_err(x, SX_SMP_ERR_AUTH);
            return;
        }
        nq.has_notifier = true;
    }
    sx_queue *q;
    sx_status st = sx_store_create(r->store, &nq, &q);
    sx_wipe(nq.dh_secret, sizeof nq.dh_secret);
    sx_wipe(nq.ndh_secret, sizeof nq.ndh_secret);
    if (st != SX_OK) {
        sx_cmd_err(x, st == SX_E_AUTH ? SX_SMP_ERR_AUTH : SX_SMP_ERR_INTERNAL);
        return;
    }
    sx_queue_lock(q);
    bool logged = sx_svc_log_create(x, q);
    sx_queue_unlock(q);
    if (!logged) {
        sx_store_delete(r->store, q);
        sx_queue_release(r->store, q);
        sx_cmd_err_store(x, false);
        return;
    }
    sx_smp_stats_inc(&r->stats, SX_SMP_STAT_Q_CREATED);
    sx_smp_stats_inc(&r->stats, SX_SMP_STAT_Q_COUNT);
    if (sx_queue_notifier(q)) {
        sx_smp_stats_inc(&r->stats, SX_SMP_STAT_NTF_NEW_CREATED);
    }
    m.ids.rcv_id = sx_slice_of(q->rid, SX_ID_LEN);
    m.ids.snd_id = sx_slice_of(q->sid, SX_ID_LEN);
    if (q->mode) {
        m.ids.has_queue_mode = true;
        m.ids.queue_mode = (sx_smp_queue_mode)q->mode;
    }
    if (sx_queue_link(q)) {
        m.ids.has_link_id = true;
        m.ids.link_id = sx_slice_of(sx_queue_link(q)->id, SX_ID_LEN);
    }
    if (sx_queue_notifier(q)) {
        m.ids.has_ntf = true;
        m.ids.ntf_id = sx_slice_of(sx_queue_notifier(q)->id, SX_ID_LEN);
    }
    sx_svc_ids(x, &m.ids);
    if (n->subscribe) {
        sx_sub *s = sx_conn_sub_add(x->c, q, false, false);
        if (s) {
            memcpy(s->entity, q->rid, SX_ID_LEN);
            sx_queue_lock(q);
            sx_sub *old = sx_cmd_take_subscription(q, s);
            sx_queue_unlock(q);
            if (old)
                sx_sub_release(x->r, old);
        }
    }
    sx_cmd_reply(x->c, x->corr, x->entity, &m);
    /* PROTOCOL-NOTES D27: a service's NEW makes its subscription. */
    if (n->subscribe)
        sx_svc_created(x, q->rid);
    sx_queue_release(r->store, q);
}

void sx_cmd_key(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    sx_qkey k;
    if (sx_cmd_qkey_of_pubkey(&x->req->cmd.key, &k) != SX_OK) {
        sx_queue_unlock(q);
        sx_cmd_err_cmd(x, SX_SMP_CMD_SYNTAX);
        sx_queue_release(x->r->store, q);
        return;
    }
    sx_qkey cur = sx_queue_skey(q);
    bool good = cur.len == 0 || sx_qkey_equal(&cur, &k); /* PROTOCOL-NOTES E12b */
    bool logged = true;
    if (good && cur.len == 0) {
        sx_slrec rec;
        sx_cmd_rec_init(&rec, SX_SLREC_SECURE, q->rid);
        rec.q.skey = k;
        /* (an Ed448 key is kept apart: its room is made before logging) */
        logged = sx_queue_set_skey(q, &k) == SX_OK;
        if (logged && !sx_cmd_log_rec(x, &rec)) {
            logged = false;
            sx_queue_clear_skey(q);
        }
        if (logged) {
            sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_Q_SECURED);
        }
    }
    sx_cmd_unlock_answer(x, q, logged, good);
}

void sx_cmd_rkey(sx_cmd_ctx *x)
{
    const sx_smp_list *l = &x->req->cmd.keys;
    sx_qkey keys[SX_MAX_RCV_KEYS];
    size_t n = l->count;
    bool good = n >= 1 && n <= SX_MAX_RCV_KEYS;
    for (size_t i = 0; good && i < n; i++) {
        sx_smp_pubkey pk;
        good = sx_smp_list_key(l, i, &pk) == SX_OK && sx_cmd_qkey_of_pubkey(&pk, &keys[i]) == SX_OK;
    }
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    /* PROTOCOL-NOTES D10: only contact queues. */
    good = good && q->mode == SX_SMP_QUEUE_CONTACT;
    bool logged = true;
    if (good) {
        sx_slrec rec;
        sx_cmd_rec_init(&rec, SX_SLREC_KEYS, q->rid);
        rec.q.n_rkeys = (uint8_t)n;
        memcpy(rec.q.rkeys, keys, n * sizeof keys[0]);
        logged = sx_cmd_log_rec(x, &rec);
        good = logged && sx_queue_set_rkeys(q, keys, n) == SX_OK;
    }
    sx_cmd_unlock_answer(x, q, logged, good);
}

/* SKEY and LKEY: the sender secures a messaging queue with the key that
 * authorizes this very command (PROTOCOL-NOTES D20, D22). the queue lock held.
 * Answers nothing on success; on failure sends AUTH (or INTERNAL when the log
 * cannot be written) and returns false. */
static bool skey_is(const sx_queue *q, const sx_qkey *k)
{
    sx_qkey cur = sx_queue_skey(q);
    return sx_qkey_equal(&cur, k);
}

static bool secure_by_sender(sx_cmd_ctx *x, sx_queue *q, const sx_smp_pubkey *pk)
{
    sx_qkey k;
    if (sx_cmd_qkey_of_pubkey(pk, &k) != SX_OK || q->mode != SX_SMP_QUEUE_MESSAGING ||
        (sx_queue_secured(q) && !skey_is(q, &k)) || !sx_cmd_verify_one(x->c, x->req, &k)) {
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        return false;
    }
    if (sx_queue_secured(q))
        return true; /* PROTOCOL-NOTES E12b: the same key again */
    sx_slrec rec;
    sx_cmd_rec_init(&rec, SX_SLREC_SECURE, q->rid);
    rec.q.skey = k;
    if (sx_queue_set_skey(q, &k) != SX_OK) {
        sx_cmd_err_store(x, false);
        return false;
    }
    if (!sx_cmd_log_rec(x, &rec)) {
        sx_queue_clear_skey(q);
        sx_cmd_err_store(x, false);
        return false;
    }
    sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_Q_SECURED);
    return true;
}

void sx_cmd_skey(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_party(x, SX_PARTY_SENDER);
    if (!q)
        return;
    if (q->status == SX_QUEUE_BLOCKED)
        sx_cmd_err_blocked(x, q);
    else if (secure_by_sender(x, q, &x->req->cmd.key))
        sx_cmd_ok(x);
    sx_queue_unlock(q);
    sx_queue_release(x->r->store, q);
}

static void reply_lnk(sx_cmd_ctx *x, sx_queue *q)
{
    sx_smp_resp m = {.tag = SX_SMP_R_LNK};
    m.lnk.sender_id = sx_slice_of(q->sid, SX_ID_LEN);
    const sx_link *l = sx_queue_link(q);
    m.lnk.data.fixed = sx_slice_of(l->data, l->fixed_len);
    m.lnk.data.user = sx_slice_of(l->data + l->fixed_len, l->user_len);
    sx_cmd_reply(x->c, x->corr, x->entity, &m);
}

void sx_cmd_lkey(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_party(x, SX_PARTY_LINK);
    if (!q)
        return;
    if (q->status == SX_QUEUE_BLOCKED)
        sx_cmd_err_blocked(x, q);
    else if (!sx_queue_link(q))
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
    else if (secure_by_sender(x, q, &x->req->cmd.key))
        reply_lnk(x, q);
    sx_queue_unlock(q);
    sx_queue_release(x->r->store, q);
}

void sx_cmd_lget(sx_cmd_ctx *x)
{
    /* Unauthorized (PROTOCOL-NOTES D23): no dummy verification either. */
    sx_queue *q = sx_store_find(x->r->store, SX_PARTY_LINK, x->entity);
    if (!q) {
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        return;
    }
    if (!sx_cmd_lock_live(x, q))
        return;
    /* PROTOCOL-NOTES D23: contact queues, or legacy queues without a sender
     * key. */
    bool contact = q->mode == SX_SMP_QUEUE_CONTACT || (q->mode == 0 && !sx_queue_secured(q));
    if (q->status == SX_QUEUE_BLOCKED)
        sx_cmd_err_blocked(x, q);
    else if (contact && sx_queue_link(q))
        reply_lnk(x, q);
    else
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
    sx_queue_unlock(q);
    sx_queue_release(x->r->store, q);
}

void sx_cmd_lset(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    sx_slice lid = x->req->cmd.lset.link_id;
    const sx_smp_link_data *d = &x->req->cmd.lset.data;
    /* PROTOCOL-NOTES D11: not for a secured messaging queue; the link id and
     * the fixed part cannot change. */
    bool good = !(q->mode == SX_SMP_QUEUE_MESSAGING && sx_queue_secured(q)) && lid.len == SX_ID_LEN;
    const sx_link *l = sx_queue_link(q);
    if (good && l)
        good = memcmp(l->id, lid.ptr, SX_ID_LEN) == 0 && sx_slice_eq(sx_slice_of(l->data, l->fixed_len), d->fixed);
    bool logged = true;
    if (good) {
        sx_slrec rec;
        sx_cmd_rec_init(&rec, SX_SLREC_LINK, q->rid);
        memcpy(rec.q.link_id, lid.ptr, SX_ID_LEN);
        rec.q.link_fixed = d->fixed;
        rec.q.link_user = d->user;
        logged = sx_cmd_log_rec(x, &rec);
        good = logged && sx_store_set_link(x->r->store, q, lid, d->fixed, d->user) == SX_OK;
    }
    sx_cmd_unlock_answer(x, q, logged, good);
}

void sx_cmd_ldel(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    bool logged = true;
    if (sx_queue_link(q)) {
        sx_slrec rec;
        sx_cmd_rec_init(&rec, SX_SLREC_LDELETE, q->rid);
        logged = sx_cmd_log_rec(x, &rec);
        if (logged)
            sx_store_delete_link(x->r->store, q);
    }
    sx_cmd_unlock_answer(x, q, logged, true);
}

void sx_cmd_nkey(sx_cmd_ctx *x)
{
    sx_notifier n = {0};
    uint8_t der[SX_KEY_SPKI_MAX];
    sx_smp_resp m = {.tag = SX_SMP_R_NID};
    bool keys_ok = sx_cmd_qkey_of_pubkey(&x->req->cmd.nkey.auth_key, &n.key) == SX_OK &&
                   sx_cmd_dh_agree(&x->req->cmd.nkey.dh_key, n.dh_secret, der, &m.nid.srv_dh_key) == SX_OK;
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q) {
        sx_wipe(n.dh_secret, sizeof n.dh_secret);
        return;
    }
    if (!keys_ok) {
        sx_queue_unlock(q);
        sx_cmd_err(x, SX_SMP_ERR_AUTH);
        sx_queue_release(x->r->store, q);
        return;
    }
    sx_status st = SX_E_AUTH;
    for (int attempt = 0; attempt < 3 && st == SX_E_AUTH; attempt++) {
        sx_random_bytes(n.id, SX_ID_LEN);
        st = sx_store_set_notifier(x->r->store, q, &n);
    }
    if (st == SX_OK) {
        sx_slrec rec;
        sx_cmd_rec_init(&rec, SX_SLREC_NOTIFIER, q->rid);
        memcpy(rec.q.ntf.id, n.id, SX_ID_LEN);
        rec.q.ntf.key = n.key;
        memcpy(rec.q.ntf.dh_secret, n.dh_secret, sizeof n.dh_secret);
        if (!sx_cmd_log_rec(x, &rec)) {
            sx_store_delete_notifier(x->r->store, q);
            st = SX_E_IO;
        }
    }
    if (st == SX_OK) {
        sx_smp_stats_add(&x->r->stats, SX_SMP_STAT_NTF_COUNT, -(int64_t)q->n_ntfs);
        sx_queue_drop_ntfs(q); /* PROTOCOL-NOTES D14: they belonged to the old notifier */
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_NTF_CREATED);
        (void)sx_svc_forget(x->r, q->rid, false);
    }
    /* PROTOCOL-NOTES E18: the old notifier's subscriber learns it is gone. */
    sx_sub *old = st == SX_OK ? sx_queue_nsub(q) : NULL;
    if (old)
        sx_queue_set_nsub(q, NULL);
    sx_queue_unlock(q);
    sx_wipe(n.dh_secret, sizeof n.dh_secret);
    sx_sub_post_release(x->r, old, SX_SUB_DELD, x->c);
    if (st == SX_OK) {
        m.nid.notifier_id = sx_slice_of(n.id, SX_ID_LEN);
        sx_cmd_reply(x->c, x->corr, x->entity, &m);
    } else if (st == SX_E_IO) {
        sx_cmd_err_store(x, false);
    } else {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
    }
    sx_queue_release(x->r->store, q);
}

void sx_cmd_ndel(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    if (sx_queue_notifier(q)) {
        sx_slrec rec;
        sx_cmd_rec_init(&rec, SX_SLREC_NDELETE, q->rid);
        if (!sx_cmd_log_rec(x, &rec)) {
            sx_cmd_unlock_answer(x, q, false, false);
            return;
        }
    }
    if (sx_queue_notifier(q))
        sx_smp_stats_inc(&x->r->stats, SX_SMP_STAT_NTF_DELETED);
    sx_smp_stats_add(&x->r->stats, SX_SMP_STAT_NTF_COUNT, -(int64_t)q->n_ntfs);
    sx_store_delete_notifier(x->r->store, q);
    sx_queue_drop_ntfs(q);
    (void)sx_svc_forget(x->r, q->rid, false);
    sx_sub *old = sx_queue_nsub(q);
    sx_queue_set_nsub(q, NULL);
    sx_queue_unlock(q);
    sx_sub_post_release(x->r, old, SX_SUB_DELD, NULL);
    sx_cmd_ok(x);
    sx_queue_release(x->r->store, q);
}

void sx_cmd_off(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, true);
    if (!q)
        return;
    bool logged = true;
    if (q->status == SX_QUEUE_ACTIVE) {
        sx_slrec rec;
        sx_cmd_rec_init(&rec, SX_SLREC_SUSPEND, q->rid);
        logged = sx_cmd_log_rec(x, &rec);
        if (logged)
            q->status = SX_QUEUE_OFF;
    }
    sx_cmd_unlock_answer(x, q, logged, true);
}

void sx_cmd_del(sx_cmd_ctx *x)
{
    /* Found, logged and removed under the queue's lock: of two DELs one
     * logs DELETE and the other answers AUTH, and no change of another
     * connection can be logged after the DELETE (see sx_cmd_locked_recipient). */
    sx_queue *q = sx_cmd_locked_recipient(x, true);
    if (!q)
        return;
    sx_slrec rec;
    sx_cmd_rec_init(&rec, SX_SLREC_DELETE, q->rid);
    if (!sx_cmd_log_rec(x, &rec)) {
        sx_cmd_unlock_answer(x, q, false, false);
        return;
    }
    /* Lock order: the queue lock, then the map lock inside. */
    sx_store_delete(x->r->store, q);
    sx_cmd_count_deleted(x->r, q);
    /* a queue of a service leaves the deleting session's count, as the
     * reference counts it (PROTOCOL-NOTES D27) */
    if (sx_svc_forget(x->r, q->rid, true))
        sx_svc_session_remove(x->c, q->rid);
    sx_sub *sub = q->sub, *nsub = sx_queue_nsub(q);
    q->sub = NULL;
    sx_queue_set_nsub(q, NULL);
    sx_queue_unlock(q);
    /* PROTOCOL-NOTES E17: other subscribers are told; this connection just
     * forgets. */
    sx_conn_sub_remove(x->c, q, false);
    sx_conn_sub_remove(x->c, q, true);
    sx_sub_post_release(x->r, sub, SX_SUB_DELD, x->c);
    sx_sub_post_release(x->r, nsub, SX_SUB_DELD, x->c);
    sx_cmd_ok(x);
    sx_queue_release(x->r->store, q);
}

void sx_cmd_que(sx_cmd_ctx *x)
{
    sx_queue *q = sx_cmd_locked_recipient(x, false);
    if (!q)
        return;
    char json[512];
    sx_sub *s = sx_conn_sub(x->c, q, false);
    const char *sub = !s ? "noSub" : s->get_mode ? "prohibitSub"
                                                 : "subThread";
    int n = snprintf(json, sizeof json, "{\"qiSnd\":%s,\"qiNtf\":%s,\"qiSub\":{\"qSubThread\":\"%s\"},\"qiSize\":%u",
                     sx_queue_secured(q) ? "true" : "false", sx_queue_notifier(q) ? "true" : "false", sub, q->n_msgs);
    sx_msg *h = sx_queue_head(x->r->store, q);
    if (h && n > 0 && (size_t)n < sizeof json) {
        char id[64];
        if (sx_b64_encode(sx_slice_of(h->id, SX_ID_LEN), SX_B64_STD, id, sizeof id) == SX_OK) {
            struct tm tm;
            time_t t = (time_t)h->ts;
            gmtime_r(&t, &tm);
            char ts[32];
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            n += snprintf(json + n, sizeof json - (size_t)n, ",\"qiMsg\":{\"msgId\":\"%s\",\"msgTs\":\"%s\",\"msgType\":\"%s\"}",
                          id, ts, h->quota ? "quota" : "message");
        }
    }
    sx_queue_unlock(q);
    if (n > 0 && (size_t)n < sizeof json - 1) {
        json[n++] = '}';
        sx_smp_resp m = {.tag = SX_SMP_R_INFO};
        m.info = sx_slice_of(json, (size_t)n);
        sx_cmd_reply(x->c, x->corr, x->entity, &m);
    } else {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
    }
    sx_queue_release(x->r->store, q);
}
