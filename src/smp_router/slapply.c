/* SMP store-log records and the queue store (see slapply.h): a record
 * applied as the reference's replay applies it (PROTOCOL-NOTES E26), and the
 * CREATE record of a live queue. */
#include "smp_router/slapply.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "smp_router/sltext.h"

static char *dup_text(sx_slice s)
{
    char *t = malloc(s.len + 1);
    if (t) {
        if (s.len)
            memcpy(t, s.ptr, s.len);
        t[s.len] = 0;
    }
    return t;
}

sx_status sx_slrec_new_queue(const sx_slrec *r, sx_queue **out)
{
    *out = NULL;
    const sx_slqueue *rq = &r->q;
    SX_ENSURE(rq->n_rkeys >= 1 && rq->n_rkeys <= SX_MAX_RCV_KEYS, SX_E_USAGE);
    SX_ENSURE(!rq->has_link || (rq->link_fixed.len <= SX_LINK_DATA_MAX && rq->link_user.len <= SX_LINK_DATA_MAX),
              SX_E_LIMIT);
    sx_queue *q = calloc(1, sizeof *q);
    if (!q)
        return SX_E_NOMEM;
    memcpy(q->rid, r->rid, SX_ID_LEN);
    memcpy(q->sid, rq->sid, SX_ID_LEN);
    memcpy(q->dh_secret, rq->dh_secret, SX_SL_DH_LEN);
    q->mode = rq->mode;
    q->status = rq->status;
    q->updated_at = rq->has_updated_at ? rq->updated_at : 0;
    sx_status st = sx_queue_set_rkeys(q, rq->rkeys, rq->n_rkeys);
    if (st == SX_OK)
        st = sx_queue_set_skey(q, &rq->skey);
    if (st != SX_OK)
        goto fail;
    if ((rq->has_notifier || rq->has_link) && !sx_queue_side_get(q))
        goto nomem;
    if (rq->has_notifier) {
        sx_notifier *n = calloc(1, sizeof *n);
        if (!n)
            goto nomem;
        memcpy(n->id, rq->ntf.id, SX_ID_LEN);
        n->key = rq->ntf.key;
        memcpy(n->dh_secret, rq->ntf.dh_secret, SX_SL_DH_LEN);
        q->side->notifier = n;
    }
    if (rq->has_link &&
        !(q->side->link = sx_link_new(sx_slice_of(rq->link_id, SX_ID_LEN), rq->link_fixed, rq->link_user)))
        goto nomem;
    if (rq->status == SX_QUEUE_BLOCKED) {
        char *text = dup_text(rq->block_info);
        if (!text || sx_queue_set_block_info(q, text) != SX_OK)
            goto nomem;
    }
    *out = q;
    return SX_OK;
nomem:
    st = SX_E_NOMEM;
fail:
    sx_queue_discard(q);
    return st;
}

static void set_status(sx_queue *q, uint8_t status, sx_slice info, sx_status *st)
{
    char *text = NULL;
    if (status == SX_QUEUE_BLOCKED && !(text = dup_text(info))) {
        *st = SX_E_NOMEM;
        return;
    }
    if (sx_queue_set_block_info(q, text) != SX_OK) {
        *st = SX_E_NOMEM;
        return;
    }
    q->status = status;
}

/* One update of an existing queue; the queue lock held. */
static sx_status apply_update(sx_store *st, sx_slservices *svc, sx_queue *q, const sx_slrec *r)
{
    const sx_slqueue *rq = &r->q;
    sx_status res = SX_OK;
    switch (r->type) {
    case SX_SLREC_LINK: {
        /* New link data, or new user data under the same link id and fixed data. */
        const sx_link *l = sx_queue_link(q);
        if (l && !(memcmp(l->id, rq->link_id, SX_ID_LEN) == 0 &&
                   sx_slice_eq(sx_slice_of(l->data, l->fixed_len), rq->link_fixed)))
            return SX_E_AUTH;
        if (rq->link_fixed.len > SX_LINK_DATA_MAX || rq->link_user.len > SX_LINK_DATA_MAX)
            return SX_E_LIMIT;
        return sx_store_set_link(st, q, sx_slice_of(rq->link_id, SX_ID_LEN), rq->link_fixed, rq->link_user);
    }
    case SX_SLREC_LDELETE:
        sx_store_delete_link(st, q);
        return SX_OK;
    case SX_SLREC_SECURE:
        if (sx_queue_secured(q)) {
            sx_qkey k = sx_queue_skey(q);
            return sx_qkey_equal(&k, &rq->skey) ? SX_OK : SX_E_AUTH;
        }
        return sx_queue_set_skey(q, &rq->skey);
    case SX_SLREC_KEYS:
        return sx_queue_set_rkeys(q, rq->rkeys, rq->n_rkeys);
    case SX_SLREC_NOTIFIER: {
        sx_notifier n;
        memcpy(n.id, rq->ntf.id, SX_ID_LEN);
        n.key = rq->ntf.key;
        memcpy(n.dh_secret, rq->ntf.dh_secret, SX_SL_DH_LEN);
        res = sx_store_set_notifier(st, q, &n);
        sx_wipe(&n, sizeof n);
        if (res == SX_OK && svc)
            res = sx_slservices_set_queue(svc, q->rid, 'N', rq->ntf.service);
        return res;
    }
    case SX_SLREC_SUSPEND:
        set_status(q, SX_QUEUE_OFF, rq->block_info, &res);
        return res;
    case SX_SLREC_BLOCK:
        set_status(q, SX_QUEUE_BLOCKED, rq->block_info, &res);
        return res;
    case SX_SLREC_UNBLOCK:
        set_status(q, SX_QUEUE_ACTIVE, rq->block_info, &res);
        return res;
    case SX_SLREC_DELETE:
        sx_store_delete(st, q);
        if (svc)
            sx_slservices_forget_queue(svc, q->rid);
        return SX_OK;
    case SX_SLREC_NDELETE:
        sx_store_delete_notifier(st, q);
        if (svc)
            res = sx_slservices_set_queue(svc, q->rid, 'N', sx_slice_of(NULL, 0));
        return res;
    case SX_SLREC_TIME:
        q->updated_at = rq->updated_at;
        return SX_OK;
    case SX_SLREC_QUEUE_SERVICE:
        if (r->party == 'N' && !sx_queue_notifier(q))
            return SX_E_AUTH;
        return svc ? sx_slservices_set_queue(svc, q->rid, r->party, r->service) : SX_OK;
    case SX_SLREC_CREATE:
    case SX_SLREC_NEW_SERVICE:
    default:
        return SX_E_USAGE;
    }
}

sx_status sx_slrec_apply(sx_store *st, sx_slservices *svc, const sx_slrec *r, const sx_kit_log_opts *o)
{
    char idt[SX_SLT_ID_TEXT_SIZE];
    const char *tag = sx_slrec_tag(r->type);
    if (!tag)
        return SX_E_USAGE;
    if (r->type == SX_SLREC_NEW_SERVICE) {
        if (!svc)
            return SX_OK;
        sx_slice existing;
        sx_status res = sx_slservices_add(svc, &r->svc, &existing);
        if (res != SX_OK)
            sx_kit_log_report(o, SX_SAY_ERROR,
                              "STORE: NEW_SERVICE, stored service %s, %s",
                              sx_slt_id_text(r->svc.id.ptr, r->svc.id.len, idt), sx_status_str(res));
        else if (existing.len && !sx_slice_eq(existing, r->svc.id))
            sx_kit_log_report(o, SX_SAY_ERROR,
                              "STORE: NEW_SERVICE, stored service %s, created with the wrong ID",
                              sx_slt_id_text(r->svc.id.ptr, r->svc.id.len, idt));
        return res;
    }
    if (r->type == SX_SLREC_CREATE) {
        sx_queue *q;
        sx_status res = sx_slrec_new_queue(r, &q);
        if (res == SX_OK)
            res = sx_store_insert(st, q); /* takes q; SX_E_PROTOCOL on an id clash */
        if (res == SX_OK && svc) {
            if (r->q.rcv_service.len)
                res = sx_slservices_set_queue(svc, r->rid, 'R', r->q.rcv_service);
            if (res == SX_OK && r->q.has_notifier && r->q.ntf.service.len)
                res = sx_slservices_set_queue(svc, r->rid, 'N', r->q.ntf.service);
        }
        if (res != SX_OK) {
            sx_kit_log_report(o, SX_SAY_ERROR,
                              "STORE: %s, stored queue %s, %s", tag, sx_slt_id_text(r->rid, SX_ID_LEN, idt),
                              res == SX_E_PROTOCOL ? "duplicate id" : sx_status_str(res));
            return res == SX_E_PROTOCOL ? SX_E_AUTH : res;
        }
        return SX_OK;
    }
    sx_queue *q = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(r->rid, SX_ID_LEN));
    if (!q) {
        sx_kit_log_report(o, SX_SAY_WARN,
                          "STORE: %s, stored queue %s, unknown or deleted queue", tag,
                          sx_slt_id_text(r->rid, SX_ID_LEN, idt));
        return SX_E_AUTH;
    }
    sx_queue_lock(q);
    sx_status res = apply_update(st, svc, q, r);
    sx_queue_unlock(q);
    sx_queue_release(st, q);
    if (res != SX_OK)
        sx_kit_log_report(o, SX_SAY_ERROR,
                          "STORE: %s, stored queue %s, %s", tag, sx_slt_id_text(r->rid, SX_ID_LEN, idt),
                          sx_status_str(res));
    return res;
}

void sx_slrec_from_queue(const sx_queue *q, const sx_slservices *svc, sx_slrec *out)
{
    memset(out, 0, sizeof *out);
    out->type = SX_SLREC_CREATE;
    memcpy(out->rid, q->rid, SX_ID_LEN);
    sx_slqueue *rq = &out->q;
    rq->n_rkeys = q->n_rkeys;
    for (size_t i = 0; i < q->n_rkeys && i < SX_MAX_RCV_KEYS; i++)
        rq->rkeys[i] = sx_queue_rkey(q, i);
    memcpy(rq->dh_secret, q->dh_secret, SX_SL_DH_LEN);
    memcpy(rq->sid, q->sid, SX_ID_LEN);
    rq->skey = sx_queue_skey(q);
    rq->mode = q->mode;
    const sx_link *l = sx_queue_link(q);
    if (l) {
        rq->has_link = true;
        memcpy(rq->link_id, l->id, SX_ID_LEN);
        rq->link_fixed = sx_slice_of(l->data, l->fixed_len);
        rq->link_user = sx_slice_of(l->data + l->fixed_len, l->user_len);
    }
    sx_slice rsrv = {0}, nsrv = {0};
    if (svc)
        sx_slservices_queue(svc, q->rid, &rsrv, &nsrv);
    const sx_notifier *n = sx_queue_notifier(q);
    if (n) {
        rq->has_notifier = true;
        memcpy(rq->ntf.id, n->id, SX_ID_LEN);
        rq->ntf.key = n->key;
        memcpy(rq->ntf.dh_secret, n->dh_secret, SX_SL_DH_LEN);
        rq->ntf.service = nsrv;
    }
    /* The store rounds updated_at to the day; 0 means never set. */
    rq->has_updated_at = q->updated_at != 0;
    rq->updated_at = q->updated_at;
    rq->status = q->status;
    if (q->status == SX_QUEUE_BLOCKED)
        rq->block_info = sx_queue_block_info(q) ? sx_slice_str(sx_queue_block_info(q)) : sx_slice_str("reason=spam");
    rq->rcv_service = rsrv;
}
