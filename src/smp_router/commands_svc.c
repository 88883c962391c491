/* Commands in a service session and the service's own subscription
 * (PROTOCOL-NOTES C9-C11, D29); declared in commands_int.h. The services and
 * their queues are in the router's service table (services.h), whose lock is
 * taken after a queue lock, never before one. */
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "smp/transmission.h"
#include "smp_router/commands_int.h"
#include "smp_router/services.h"
#include "smp_router/slservices.h"

#define AUTH_BYTES_MAX (SX_BLOCK_SIZE + 512)

/* ---- commands in a service session ---- */

static uint8_t party_role(sx_smp_party p)
{
    switch (p) {
    case SX_SMP_PARTY_CREATOR:
    case SX_SMP_PARTY_RECIPIENT:
    case SX_SMP_PARTY_RECIPIENT_SERVICE:
    case SX_SMP_PARTY_SENDER:
    case SX_SMP_PARTY_LINK_CLIENT:
    case SX_SMP_PARTY_PROXIED_CLIENT: return SX_SMP_SERVICE_MESSAGING;
    case SX_SMP_PARTY_NOTIFIER:
    case SX_SMP_PARTY_NOTIFIER_SERVICE: return SX_SMP_SERVICE_NOTIFIER;
    case SX_SMP_PARTY_PROXY_SERVICE: return SX_SMP_SERVICE_PROXY;
    case SX_SMP_PARTY_IDLE_CLIENT:
    default: return 0;
    }
}

/* PROTOCOL-NOTES C9: the commands that carry a service signature in a
 * service session. */
static bool uses_service_sig(sx_smp_cmd_tag t)
{
    return t == SX_SMP_C_NEW || t == SX_SMP_C_SUB || t == SX_SMP_C_NSUB;
}

static bool is_service_cmd(sx_smp_cmd_tag t)
{
    return t == SX_SMP_C_SUBS || t == SX_SMP_C_NSUBS;
}

/* Whether sig verifies with the session's service key over the bytes the
 * request's authorization covers (without a prefix). */
static bool service_key_signed(const sx_conn *c, const sx_smp_request *req, sx_slice sig)
{
    if (!c->sess.service_key)
        return false;
    static __thread uint8_t buf[AUTH_BYTES_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    if (!sx_smp_transmission_auth_bytes(&w, &req->t, c->sess.version, sx_smp_session_id(&c->sess),
                                        sx_slice_of(NULL, 0)))
        return false;
    return sx_key_verify(c->sess.service_key, sx_writer_slice(&w), sig) == SX_OK;
}

bool sx_svc_precheck(sx_cmd_ctx *x)
{
    const sx_smp_session *s = &x->c->sess;
    const sx_smp_request *req = x->req;
    sx_smp_cmd_tag tag = req->cmd.tag;
    /* PROTOCOL-NOTES C11: the party of the command must be the service's role. */
    uint8_t role = party_role(sx_smp_cmd_party(tag));
    if (s->has_service && role && role != (uint8_t)s->service_role) {
        sx_cmd_err_cmd(x, SX_SMP_CMD_PROHIBITED);
        return false;
    }
    bool ok;
    if (uses_service_sig(tag))
        /* In a service session both signatures, in an ordinary one none. */
        ok = s->has_service ? req->t.has_service_sig && service_key_signed(x->c, req, req->t.service_sig)
                            : !req->t.has_service_sig;
    else
        ok = !req->t.has_service_sig;
    /* PROTOCOL-NOTES C10: the service's own commands, for its own id, signed by its key. */
    if (ok && is_service_cmd(tag))
        ok = s->has_service && req->auth_kind == SX_SMP_AUTH_ED25519 &&
             sx_slice_eq(x->entity, sx_slice_of(s->service_id, s->service_id_len)) &&
             service_key_signed(x->c, req, req->t.auth);
    if (!ok)
        sx_cmd_err(x, SX_SMP_ERR_SERVICE);
    return ok;
}

sx_slice sx_svc_auth_prefix(const sx_conn *c, const sx_smp_request *req)
{
    if (c->sess.has_service && req->t.has_service_sig)
        return sx_slice_of(c->sess.service_cert_hash, SX_FINGERPRINT_LEN);
    return sx_slice_of(NULL, 0);
}

/* ---- SUB, NSUB, NEW ---- */

static sx_slice session_service(const sx_conn *c)
{
    return c->sess.has_service ? sx_slice_of(c->sess.service_id, c->sess.service_id_len) : sx_slice_of(NULL, 0);
}

static sx_slice queue_service(sx_router *r, const uint8_t rid[SX_ID_LEN], uint8_t party)
{
    sx_slice rsrv = sx_slice_of(NULL, 0), nsrv = sx_slice_of(NULL, 0);
    if (r->svc)
        sx_slservices_queue(r->svc, rid, &rsrv, &nsrv);
    return party == 'R' ? rsrv : nsrv;
}

/* One of the service statistics of party ('R' receiving, 'N' notification)
 * by the receiving one's name. */
static void svc_stat(sx_router *r, uint8_t party, sx_smp_stat rcv_stat, int64_t n)
{
    sx_smp_stat k = party == 'N' ? (sx_smp_stat)(rcv_stat - SX_SMP_STAT_RCV_SRV_ASSOC_NEW + SX_SMP_STAT_NTF_SRV_ASSOC_NEW)
                                 : rcv_stat;
    sx_smp_stats_add(&r->stats, k, n);
}

/* The reference's statistics of one association (Server.hs
 * sharedSubscribeQueue): a service subscribing a queue it holds already is a
 * duplicate association, and counts the session's subscription only when
 * the session held none; another's or no service's queue is an updated or
 * a new association; an ordinary client taking a queue back removes one. */
static void count_association(sx_cmd_ctx *x, uint8_t party, bool have, bool same, bool want)
{
    sx_conn *c = x->c;
    if (!want) {
        if (have)
            svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_ASSOC_REMOVED, 1);
        return;
    }
    bool had_subs = c->svc_subs_n != 0;
    if (same) {
        if (!had_subs) {
            c->svc_subs_n++;
            svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_COUNT, 1);
            svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_QUEUES, 1);
        }
        svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_ASSOC_DUPLICATE, 1);
        return;
    }
    c->svc_subs_n++;
    if (!had_subs)
        svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_COUNT, 1);
    svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_QUEUES, 1);
    svc_stat(x->r, party, have ? SX_SMP_STAT_RCV_SRV_ASSOC_UPDATED : SX_SMP_STAT_RCV_SRV_ASSOC_NEW, 1);
}

bool sx_svc_associate(sx_cmd_ctx *x, sx_queue *q, uint8_t party, bool counted)
{
    sx_slice want = session_service(x->c);
    bool ok = true;
    sx_router_services_lock();
    sx_slice have = queue_service(x->r, q->rid, party);
    bool same = sx_slice_eq(have, want), had = have.len != 0;
    bool changed = !same && (want.len || have.len);
    if (changed) {
        sx_status st = sx_router_services_init(&x->r->svc);
        if (st == SX_OK && x->r->lw) {
            sx_slrec rec;
            sx_cmd_rec_init(&rec, SX_SLREC_QUEUE_SERVICE, q->rid);
            rec.party = party;
            rec.service = want;
            ok = sx_cmd_log_rec(x, &rec);
        }
        if (ok)
            ok = st == SX_OK && sx_slservices_set_queue(x->r->svc, q->rid, party, want) == SX_OK;
    }
    sx_router_services_unlock();
    if (ok && counted)
        count_association(x, party, had, same, want.len != 0);
    return ok;
}

bool sx_svc_log_create(sx_cmd_ctx *x, sx_queue *q)
{
    sx_slice want = session_service(x->c);
    sx_router_services_lock();
    bool ok = true;
    if (want.len)
        ok = sx_router_services_init(&x->r->svc) == SX_OK &&
             sx_slservices_set_queue(x->r->svc, q->rid, 'R', want) == SX_OK;
    if (ok) {
        sx_slrec rec;
        sx_slrec_from_queue(q, x->r->svc, &rec);
        ok = sx_cmd_log_rec(x, &rec);
    }
    if (!ok && want.len && x->r->svc)
        sx_slservices_forget_queue(x->r->svc, q->rid);
    sx_router_services_unlock();
    return ok;
}

void sx_svc_ids(const sx_cmd_ctx *x, sx_smp_ids *ids)
{
    ids->has_service_id = x->c->sess.has_service;
    ids->service_id = session_service(x->c);
}

void sx_svc_forget(sx_router *r, const uint8_t rid[SX_ID_LEN], bool whole_queue)
{
    sx_router_services_lock();
    sx_slice rsrv = sx_slice_of(NULL, 0), nsrv = sx_slice_of(NULL, 0);
    if (r->svc)
        sx_slservices_queue(r->svc, rid, &rsrv, &nsrv);
    if (whole_queue && (rsrv.len || nsrv.len))
        sx_slservices_forget_queue(r->svc, rid);
    else if (nsrv.len && sx_slservices_set_queue(r->svc, rid, 'N', sx_slice_of(NULL, 0)) != SX_OK)
        sx_slservices_forget_queue(r->svc, rid); /* cannot happen: clearing allocates nothing */
    sx_router_services_unlock();
}

void sx_svc_sub_moved(sx_conn *c, sx_sub *s, unsigned what)
{
    if (what & SX_SUB_SVC_ENDS) {
        sx_smp_resp m = {.tag = SX_SMP_R_ENDS};
        m.subs.count = s->ends_n;
        m.subs.ids_hash = sx_slice_of(s->ends_hash, SX_MD5_LEN);
        sx_cmd_reply(c, sx_slice_of(NULL, 0), session_service(c), &m);
        sx_conn_flush(c);
        if (c->fd < 0)
            return;
    }
    sx_queue *q = s->q;
    sx_queue_lock(q);
    bool still = s->notifier ? sx_queue_nsub(q) == s : q->sub == s;
    sx_queue_unlock(q);
    if (!still)
        sx_conn_sub_remove(c, q, s->notifier);
}

void sx_svc_reply_sok(sx_cmd_ctx *x)
{
    sx_smp_resp m = {.tag = SX_SMP_R_SOK};
    m.sok.has_service_id = x->c->sess.has_service;
    m.sok.service_id = session_service(x->c);
    sx_cmd_reply(x->c, x->corr, x->entity, &m);
}

/* ---- SUBS, NSUBS ---- */

typedef struct rid_list {
    uint8_t (*rids)[SX_ID_LEN];
    size_t n, cap;
    bool failed;
} rid_list;

static void collect_rid(void *arg, const uint8_t rid[SX_ID_LEN])
{
    rid_list *l = arg;
    if (l->failed)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *p = realloc(l->rids, cap * sizeof *l->rids);
        if (!p) {
            l->failed = true;
            return;
        }
        l->rids = p;
        l->cap = cap;
    }
    memcpy(l->rids[l->n++], rid, SX_ID_LEN);
}

/* The connections SUBS / NSUBS took queues from (PROTOCOL-NOTES D27): one
 * subscription of each is kept to carry the ENDS, with the count and hash. */
typedef struct moved {
    sx_sub **reps;
    size_t n, cap;
    sx_router *r;
    /* SUBS: the messages it sent, and those of queues the session had
     * subscribed already (rcvServicesSubMsg / rcvServicesSubDuplicate) */
    int64_t sub_msg, sub_dup;
} moved;

static void xor_into(uint8_t *dst, const uint8_t *src)
{
    for (size_t i = 0; i < SX_MD5_LEN; i++)
        dst[i] ^= src[i];
}

/* Takes the reference to old (a subscription of another connection). */
static void moved_from(moved *m, sx_sub *old, const uint8_t md[SX_MD5_LEN])
{
    for (size_t i = 0; i < m->n; i++)
        if (m->reps[i]->conn == old->conn) {
            m->reps[i]->ends_n++;
            xor_into(m->reps[i]->ends_hash, md);
            sx_sub_post_release(m->r, old, SX_SUB_SVC_MOVED, NULL);
            return;
        }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        void *p = realloc(m->reps, cap * sizeof *m->reps);
        if (!p) { /* the old connection is told END for this queue instead */
            sx_sub_post_release(m->r, old, SX_SUB_END, NULL);
            return;
        }
        m->reps = p;
        m->cap = cap;
    }
    /* The count is only this worker's until the post: no one else writes it. */
    old->ends_n = 1;
    memcpy(old->ends_hash, md, SX_MD5_LEN);
    m->reps[m->n++] = old;
}

/* Makes c the subscriber of q's party ('R' recipient, 'N' notifier) if it
 * is still associated with the service; adds the MD5 of the party's id to
 * hash. A recipient's waiting message is sent when the connection had no
 * subscription to the queue yet. True when counted. */
static bool subscribe_one(sx_cmd_ctx *x, moved *m, sx_queue *q, uint8_t party, sx_slice service,
                          uint8_t hash[SX_MD5_LEN])
{
    bool ntf = party == 'N';
    sx_queue_lock(q);
    bool live = !q->deleted && (!ntf || sx_queue_notifier(q));
    uint8_t id[SX_ID_LEN];
    if (live)
        memcpy(id, ntf ? sx_queue_notifier(q)->id : q->rid, SX_ID_LEN);
    sx_queue_unlock(q);
    if (!live)
        return false;
    sx_sub *s = sx_conn_sub(x->c, q, ntf);
    bool fresh = !s;
    if (s && s->get_mode)
        return false; /* this connection used GET on it (PROTOCOL-NOTES E9) */
    if (!s) {
        s = sx_conn_sub_add(x->c, q, false, ntf);
        if (!s)
            return false;
        memcpy(s->entity, id, SX_ID_LEN);
    }
    sx_router_services_lock();
    bool assoc = sx_slice_eq(queue_service(x->r, q->rid, party), service);
    sx_router_services_unlock();
    sx_queue_lock(q);
    sx_sub *old = NULL;
    const sx_notifier *n = sx_queue_notifier(q);
    bool ok = assoc && !q->deleted && (!ntf || (n && memcmp(n->id, id, SX_ID_LEN) == 0));
    /* (a queue with a notifier has its side record, where nsub is) */
    sx_sub **slot = ntf ? (ok ? (sx_sub **)&q->side->nsub : NULL) : (sx_sub **)&q->sub;
    if (ok && *slot != s) {
        old = *slot;
        sx_sub_retain(s);
        *slot = s;
    }
    bool pending = ok && ntf && sx_queue_has_ntfs(q);
    if (ok && !ntf && fresh) {
        s->delivered = false;
        if (sx_cmd_send_head(x->c, s))
            m->sub_msg++;
    } else if (ok && !ntf && sx_queue_head(x->r->store, q)) {
        m->sub_dup++; /* a message the session's own subscription delivers */
    }
    sx_queue_unlock(q);
    if (!ok) {
        if (fresh)
            sx_conn_sub_remove(x->c, q, ntf);
        return false;
    }
    uint8_t md[SX_MD5_LEN];
    bool hashed = sx_md5(sx_slice_of(id, SX_ID_LEN), md) == SX_OK;
    if (old && old->conn != x->c)
        moved_from(m, old, md);
    else
        sx_sub_release(x->r, old);
    if (pending)
        sx_sub_post(s, SX_SUB_NTF);
    if (!hashed)
        return false;
    xor_into(hash, md);
    return true;
}

/* Counts q for a repeated NSUBS: its notifier id's MD5 into hash. */
static bool count_one(sx_queue *q, uint8_t party, uint8_t hash[SX_MD5_LEN])
{
    sx_queue_lock(q);
    bool live = !q->deleted && (party == 'R' || sx_queue_notifier(q));
    uint8_t id[SX_ID_LEN];
    if (live)
        memcpy(id, party == 'N' ? sx_queue_notifier(q)->id : q->rid, SX_ID_LEN);
    sx_queue_unlock(q);
    uint8_t md[SX_MD5_LEN];
    if (!live || sx_md5(sx_slice_of(id, SX_ID_LEN), md) != SX_OK)
        return false;
    xor_into(hash, md);
    return true;
}

/* The queues (by recipient id) of party associated with the session's
 * service; false when out of memory (answered). */
static bool collect(sx_cmd_ctx *x, uint8_t party, rid_list *l)
{
    sx_router_services_lock();
    if (x->r->svc)
        sx_slservices_each_queue(x->r->svc, party, session_service(x->c), collect_rid, l);
    sx_router_services_unlock();
    if (!l->failed)
        return true;
    free(l->rids);
    sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
    return false;
}

static void reply_counts(sx_cmd_ctx *x, sx_smp_resp_tag tag, int64_t count, const uint8_t hash[SX_MD5_LEN])
{
    sx_smp_resp ans = {.tag = tag};
    ans.subs.count = count;
    ans.subs.ids_hash = sx_slice_of(hash, SX_MD5_LEN);
    sx_cmd_reply(x->c, x->corr, x->entity, &ans);
}

/* The first SUBS / NSUBS of a session, against what the client expected
 * (the reference's service statistics): the router having more or fewer
 * queues, else "ok" only for a client that sent no figures (count -1, an
 * older one) and the same hash, else "diff" (so, as in the reference, a
 * v19 client whose figures match is counted as diff). */
static void count_service_sub(sx_cmd_ctx *x, uint8_t party, int64_t count, const uint8_t hash[SX_MD5_LEN])
{
    sx_smp_stat base = party == 'N' ? SX_SMP_STAT_NTF_SRV_ASSOC_NEW : SX_SMP_STAT_RCV_SRV_ASSOC_NEW;
    sx_smp_stats *st = &x->r->stats;
    int64_t expected = x->req->cmd.subs.count;
    sx_slice eh = x->req->cmd.subs.ids_hash;
    bool same_hash = eh.len == SX_MD5_LEN && memcmp(eh.ptr, hash, SX_MD5_LEN) == 0;
    int64_t diff = count - expected;
    if (expected == -1 && diff == 0 && same_hash) {
        sx_smp_stats_inc(st, (sx_smp_stat)(base + (SX_SMP_STAT_RCV_SRV_SUB_OK - SX_SMP_STAT_RCV_SRV_ASSOC_NEW)));
    } else if (diff > 0) {
        sx_smp_stats_inc(st, (sx_smp_stat)(base + (SX_SMP_STAT_RCV_SRV_SUB_MORE - SX_SMP_STAT_RCV_SRV_ASSOC_NEW)));
        sx_smp_stats_add(st, (sx_smp_stat)(base + (SX_SMP_STAT_RCV_SRV_SUB_MORE_TOTAL - SX_SMP_STAT_RCV_SRV_ASSOC_NEW)),
                         diff);
    } else if (diff < 0) {
        sx_smp_stats_inc(st, (sx_smp_stat)(base + (SX_SMP_STAT_RCV_SRV_SUB_FEWER - SX_SMP_STAT_RCV_SRV_ASSOC_NEW)));
        sx_smp_stats_add(
            st, (sx_smp_stat)(base + (SX_SMP_STAT_RCV_SRV_SUB_FEWER_TOTAL - SX_SMP_STAT_RCV_SRV_ASSOC_NEW)), -diff);
    } else {
        sx_smp_stats_inc(st, (sx_smp_stat)(base + (SX_SMP_STAT_RCV_SRV_SUB_DIFF - SX_SMP_STAT_RCV_SRV_ASSOC_NEW)));
    }
}

static void post_ends(sx_cmd_ctx *x, moved *m)
{
    for (size_t i = 0; i < m->n; i++)
        sx_sub_post_release(x->r, m->reps[i], SX_SUB_SVC_MOVED | SX_SUB_SVC_ENDS, NULL);
    free(m->reps);
}

void sx_cmd_subs(sx_cmd_ctx *x)
{
    rid_list l = {0};
    if (!collect(x, 'R', &l))
        return;
    /* SOKS first, with the queues as they are now; then their messages and
     * ALLS (the reference answers, then delivers from another thread). */
    int64_t count = 0;
    uint8_t hash[SX_MD5_LEN] = {0};
    for (size_t i = 0; i < l.n; i++) {
        sx_queue *q = sx_store_find(x->r->store, SX_PARTY_RECIPIENT, sx_slice_of(l.rids[i], SX_ID_LEN));
        if (!q)
            continue;
        uint8_t md[SX_MD5_LEN];
        if (sx_md5(sx_slice_of(l.rids[i], SX_ID_LEN), md) == SX_OK) {
            xor_into(hash, md);
            count++;
        }
        sx_queue_release(x->r->store, q);
    }
    reply_counts(x, SX_SMP_R_SOKS, count, hash);
    if (x->c->svc_subscribed) { /* subscribed already: no second delivery, no ALLS */
        free(l.rids);
        return;
    }
    x->c->svc_subscribed = true;
    x->c->svc_subs_n = count;
    count_service_sub(x, 'R', count, hash);
    sx_slice service = session_service(x->c);
    uint8_t scratch[SX_MD5_LEN] = {0};
    moved m = {.r = x->r};
    for (size_t i = 0; i < l.n && x->c->fd >= 0; i++) {
        sx_queue *q = sx_store_find(x->r->store, SX_PARTY_RECIPIENT, sx_slice_of(l.rids[i], SX_ID_LEN));
        if (!q)
            continue;
        (void)subscribe_one(x, &m, q, 'R', service, scratch);
        sx_queue_release(x->r->store, q);
    }
    free(l.rids);
    post_ends(x, &m);
    sx_smp_stats_add(&x->r->stats, SX_SMP_STAT_RCV_SERVICES_SUB_MSG, m.sub_msg);
    sx_smp_stats_add(&x->r->stats, SX_SMP_STAT_RCV_SERVICES_SUB_DUPLICATE, m.sub_dup);
    sx_cmd_reply_tag(x->c, sx_cmd_empty(), sx_cmd_empty(), SX_SMP_R_ALLS);
}

void sx_cmd_nsubs(sx_cmd_ctx *x)
{
    rid_list l = {0};
    if (!collect(x, 'N', &l))
        return;
    sx_slice service = session_service(x->c);
    int64_t count = 0;
    uint8_t hash[SX_MD5_LEN] = {0};
    moved m = {.r = x->r};
    /* A repeat on the session counts again without taking the queues again. */
    bool again = x->c->svc_subscribed;
    x->c->svc_subscribed = true;
    for (size_t i = 0; i < l.n; i++) {
        sx_queue *q = sx_store_find(x->r->store, SX_PARTY_RECIPIENT, sx_slice_of(l.rids[i], SX_ID_LEN));
        if (!q)
            continue;
        if (again)
            count += count_one(q, 'N', hash);
        else
            count += subscribe_one(x, &m, q, 'N', service, hash);
        sx_queue_release(x->r->store, q);
    }
    free(l.rids);
    post_ends(x, &m);
    if (!again) {
        x->c->svc_subs_n = count;
        count_service_sub(x, 'N', count, hash);
    }
    reply_counts(x, SX_SMP_R_SOKS, count, hash);
}
