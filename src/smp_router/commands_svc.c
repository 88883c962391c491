/* Commands in a service session and the service's own subscription
 * (PROTOCOL-NOTES C9-C11, D27, D29); declared in commands_int.h. The services
 * and their queues are in the router's service table (services.h), whose
 * lock is taken after a queue lock, never before one; the same lock guards
 * which connection holds each service. */
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

/* The store map a command's entity is looked up in, for the parties whose
 * commands name a queue (the reference's queueParty); false for the others. */
static bool queue_party(sx_smp_party p, sx_party *out)
{
    switch (p) {
    case SX_SMP_PARTY_RECIPIENT: *out = SX_PARTY_RECIPIENT; return true;
    case SX_SMP_PARTY_SENDER: *out = SX_PARTY_SENDER; return true;
    case SX_SMP_PARTY_NOTIFIER: *out = SX_PARTY_NOTIFIER; return true;
    case SX_SMP_PARTY_LINK_CLIENT: *out = SX_PARTY_LINK; return true;
    default: return false;
    }
}

/* A command the checks below refuse: when it names a queue that does not
 * exist, AUTH (after a dummy verification) comes first, as the reference
 * looks the queue up before it checks the role or the service signature
 * (PROTOCOL-NOTES C11). True when it answered AUTH. */
static bool missing_queue(sx_cmd_ctx *x)
{
    sx_party party;
    if (!queue_party(sx_smp_cmd_party(x->req->cmd.tag), &party))
        return false;
    sx_queue *q = sx_cmd_find(x, party);
    if (!q)
        return true;
    sx_queue_release(x->r->store, q);
    return false;
}

bool sx_svc_precheck(sx_cmd_ctx *x)
{
    const sx_smp_session *s = &x->c->sess;
    const sx_smp_request *req = x->req;
    sx_smp_cmd_tag tag = req->cmd.tag;
    /* PROTOCOL-NOTES C11: the party of the command must be the service's role. */
    uint8_t role = party_role(sx_smp_cmd_party(tag));
    if (s->has_service && role && role != (uint8_t)s->service_role) {
        if (!missing_queue(x))
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
    if (!ok && !missing_queue(x))
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

static void xor_into(uint8_t *dst, const uint8_t *src)
{
    for (size_t i = 0; i < SX_MD5_LEN; i++)
        dst[i] ^= src[i];
}

/* The session's own count and hash (server_int.h svc_subs_n): one queue id
 * in (add) or out. Out as the reference's subtractServiceSubs: only from a
 * count above one; otherwise the count and hash become zero, so a late
 * DELD or END (one already on its way when ENDS zeroed them, PROTOCOL-NOTES
 * D29d) never takes them below zero. */
static void session_count(sx_conn *c, const uint8_t id[SX_ID_LEN], bool add)
{
    uint8_t md[SX_MD5_LEN];
    if (sx_md5(sx_slice_of(id, SX_ID_LEN), md) != SX_OK)
        return;
    if (!add && c->svc_subs_n <= 1) {
        c->svc_subs_n = 0;
        memset(c->svc_subs_hash, 0, sizeof c->svc_subs_hash);
        return;
    }
    c->svc_subs_n += add ? 1 : -1;
    xor_into(c->svc_subs_hash, md);
}

void sx_svc_session_remove(sx_conn *c, const uint8_t id[SX_ID_LEN])
{
    if (c->sess.has_service)
        session_count(c, id, false);
}

/* The reference's statistics of one association (Server.hs
 * sharedSubscribeQueue): a service subscribing a queue it holds already is a
 * duplicate association, and counts the session's subscription only when
 * the session held none; another's or no service's queue is an updated or
 * a new association; an ordinary client taking a queue back removes one.
 * The session's count goes up as the reference's does; takes: the session
 * takes its service's subscription (PROTOCOL-NOTES D27). */
static void count_association(sx_cmd_ctx *x, uint8_t party, const uint8_t id[SX_ID_LEN], bool have, bool same,
                              bool want, sx_svc_assoc *out)
{
    sx_conn *c = x->c;
    if (!want) {
        if (have)
            svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_ASSOC_REMOVED, 1);
        return;
    }
    bool had_subs = c->svc_subs_n != 0;
    out->had_subs = had_subs;
    if (same) {
        if (!had_subs) {
            session_count(c, id, true);
            out->takes = true;
            svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_COUNT, 1);
            svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_QUEUES, 1);
        }
        svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_ASSOC_DUPLICATE, 1);
        return;
    }
    session_count(c, id, true);
    out->takes = true;
    if (!had_subs)
        svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_COUNT, 1);
    svc_stat(x->r, party, SX_SMP_STAT_RCV_SRV_SUB_QUEUES, 1);
    svc_stat(x->r, party, have ? SX_SMP_STAT_RCV_SRV_ASSOC_UPDATED : SX_SMP_STAT_RCV_SRV_ASSOC_NEW, 1);
}

bool sx_svc_associate(sx_cmd_ctx *x, sx_queue *q, uint8_t party, bool counted, sx_svc_assoc *out)
{
    memset(out, 0, sizeof *out);
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
    out->same = same && want.len != 0;
    if (ok && counted) {
        const sx_notifier *n = party == 'N' ? sx_queue_notifier(q) : NULL;
        const uint8_t *id = n ? n->id : q->rid;
        count_association(x, party, id, had, same, want.len != 0, out);
    }
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

bool sx_svc_forget(sx_router *r, const uint8_t rid[SX_ID_LEN], bool whole_queue)
{
    sx_router_services_lock();
    sx_slice rsrv = sx_slice_of(NULL, 0), nsrv = sx_slice_of(NULL, 0);
    if (r->svc)
        sx_slservices_queue(r->svc, rid, &rsrv, &nsrv);
    bool had_rsrv = rsrv.len != 0;
    if (whole_queue && (rsrv.len || nsrv.len))
        sx_slservices_forget_queue(r->svc, rid);
    else if (nsrv.len && sx_slservices_set_queue(r->svc, rid, 'N', sx_slice_of(NULL, 0)) != SX_OK)
        sx_slservices_forget_queue(r->svc, rid); /* cannot happen: clearing allocates nothing */
    sx_router_services_unlock();
    return had_rsrv;
}

void sx_svc_sub_moved(sx_conn *c, sx_sub *s)
{
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

/* ---- the connection that holds a service ---- */

/* PROTOCOL-NOTES D27: as the reference's serviceSubscribers, one connection
 * per service receives what its queues carry; any service subscription by
 * another connection of the service (SUBS, NSUBS, and SUB, NSUB or NEW that
 * makes the session's subscription) takes it over. */
struct sx_svc_holder {
    uint8_t id[SX_SMP_SERVICE_ID_MAX];
    size_t id_len;
    uint64_t conn_id;
    sx_worker *w;
};

typedef struct ends_task {
    sx_loop_task t;
    sx_worker *w;
    uint64_t conn_id;
} ends_task;

/* On the previous holder's worker: ENDS with the session's counts, which
 * then start again from zero (the reference swaps them for zero). */
static void ends_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    ends_task *e = t->data;
    for (sx_conn *c = e->w->conns; c; c = c->next) {
        if (c->id != e->conn_id)
            continue;
        if (c->fd >= 0 && !c->failing && c->state == SX_CONN_ACTIVE && c->sess.has_service) {
            sx_smp_resp m = {.tag = SX_SMP_R_ENDS};
            m.subs.count = c->svc_subs_n;
            m.subs.ids_hash = sx_slice_of(c->svc_subs_hash, SX_MD5_LEN);
            sx_cmd_reply(c, sx_slice_of(NULL, 0), session_service(c), &m);
            c->svc_subs_n = 0;
            memset(c->svc_subs_hash, 0, sizeof c->svc_subs_hash);
            sx_conn_flush(c);
        }
        break;
    }
    free(e);
}

/* Makes the session the holder of its service; true when it was not. The
 * previous holder, if any, is told ENDS. */
static bool become_holder(sx_cmd_ctx *x)
{
    sx_router *r = x->r;
    sx_conn *c = x->c;
    sx_slice service = session_service(c);
    uint64_t prev = 0;
    sx_worker *pw = NULL;
    sx_router_services_lock();
    size_t i = 0;
    while (i < r->n_holders && !sx_slice_eq(sx_slice_of(r->holders[i].id, r->holders[i].id_len), service))
        i++;
    if (i < r->n_holders) {
        prev = r->holders[i].conn_id;
        pw = r->holders[i].w;
    } else if (service.len <= SX_SMP_SERVICE_ID_MAX) {
        if (r->n_holders == r->cap_holders) {
            size_t cap = r->cap_holders ? r->cap_holders * 2 : 8;
            void *p = realloc(r->holders, cap * sizeof *r->holders);
            if (p) {
                r->holders = p;
                r->cap_holders = cap;
            }
        }
        if (r->n_holders < r->cap_holders) {
            memcpy(r->holders[i].id, service.ptr, service.len);
            r->holders[i].id_len = service.len;
            r->n_holders++;
        }
    }
    if (i < r->n_holders) {
        r->holders[i].conn_id = c->id;
        r->holders[i].w = c->w;
    }
    sx_router_services_unlock();
    if (prev == c->id)
        return false;
    if (prev && pw) {
        ends_task *e = calloc(1, sizeof *e);
        if (e) { /* out of memory: that connection is not told */
            e->w = pw;
            e->conn_id = prev;
            e->t.cb = ends_cb;
            e->t.data = e;
            sx_loop_post(pw->loop, &e->t);
        }
    }
    return true;
}

void sx_svc_conn_closed(sx_conn *c)
{
    if (!c->sess.has_service)
        return;
    sx_router *r = c->w->r;
    sx_slice service = session_service(c);
    sx_router_services_lock();
    for (size_t i = 0; i < r->n_holders; i++)
        if (r->holders[i].conn_id == c->id &&
            sx_slice_eq(sx_slice_of(r->holders[i].id, r->holders[i].id_len), service)) {
            r->holders[i] = r->holders[--r->n_holders];
            break;
        }
    sx_router_services_unlock();
}

/* ---- SUBS, NSUBS and taking the service's queues ---- */

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

/* SUBS: the messages it sent, and those of queues the session had
 * subscribed already (rcvServicesSubMsg / rcvServicesSubDuplicate). */
typedef struct sub_counts {
    int64_t sub_msg, sub_dup;
} sub_counts;

/* Makes c the subscriber of q's party ('R' recipient, 'N' notifier) if it
 * is still associated with the service; adds the MD5 of the party's id to
 * hash. With subs (SUBS) a recipient's waiting message is sent when the
 * connection had no subscription to the queue yet; without (the service
 * taken by another command) nothing is sent and a new subscription is
 * implicit. Another connection's subscription is forgotten without END.
 * True when counted. */
static bool subscribe_one(sx_cmd_ctx *x, sub_counts *m, sx_queue *q, uint8_t party, sx_slice service,
                          uint8_t hash[SX_MD5_LEN], bool subs)
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
    bool fresh = !s, deliver = subs && (!s || s->implicit);
    if (s && s->get_mode)
        return false; /* this connection used GET on it (PROTOCOL-NOTES E9) */
    if (!s) {
        s = sx_conn_sub_add(x->c, q, false, ntf);
        if (!s)
            return false;
        memcpy(s->entity, id, SX_ID_LEN);
        s->implicit = !subs;
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
    if (ok && !ntf && deliver) {
        s->delivered = false;
        if (sx_cmd_send_head(x->c, s))
            m->sub_msg++;
    } else if (ok && !ntf && subs && sx_queue_head(x->r->store, q)) {
        m->sub_dup++; /* a message the session's own subscription delivers */
    }
    sx_queue_unlock(q);
    if (!ok) {
        if (fresh)
            sx_conn_sub_remove(x->c, q, ntf);
        return false;
    }
    sx_sub_post_release(x->r, old, SX_SUB_SVC_MOVED, x->c);
    if (pending)
        sx_sub_post(s, SX_SUB_NTF);
    uint8_t md[SX_MD5_LEN];
    if (sx_md5(sx_slice_of(id, SX_ID_LEN), md) != SX_OK)
        return false;
    xor_into(hash, md);
    return true;
}

/* The queues (by recipient id) of party associated with the session's
 * service; false when out of memory. */
static bool collect(sx_cmd_ctx *x, uint8_t party, rid_list *l)
{
    sx_router_services_lock();
    if (x->r->svc)
        sx_slservices_each_queue(x->r->svc, party, session_service(x->c), collect_rid, l);
    sx_router_services_unlock();
    if (!l->failed)
        return true;
    free(l->rids);
    return false;
}

void sx_svc_take(sx_cmd_ctx *x, uint8_t party)
{
    if (!x->c->sess.has_service || !become_holder(x))
        return;
    rid_list l = {0};
    if (!collect(x, party, &l))
        return;
    sx_slice service = session_service(x->c);
    uint8_t scratch[SX_MD5_LEN] = {0};
    sub_counts m = {0};
    for (size_t i = 0; i < l.n && x->c->fd >= 0; i++) {
        sx_queue *q = sx_store_find(x->r->store, SX_PARTY_RECIPIENT, sx_slice_of(l.rids[i], SX_ID_LEN));
        if (!q)
            continue;
        (void)subscribe_one(x, &m, q, party, service, scratch, false);
        sx_queue_release(x->r->store, q);
    }
    free(l.rids);
}

void sx_svc_created(sx_cmd_ctx *x, const uint8_t rid[SX_ID_LEN])
{
    if (!x->c->sess.has_service)
        return;
    session_count(x->c, rid, true);
    sx_svc_take(x, 'R');
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

/* A repeated SUBS / NSUBS on the session: the session's own counts, as the
 * reference answers (PROTOCOL-NOTES D27); nothing is taken or sent again.
 * True when it answered so. */
static bool repeated(sx_cmd_ctx *x)
{
    if (!x->c->svc_subscribed)
        return false;
    reply_counts(x, SX_SMP_R_SOKS, x->c->svc_subs_n, x->c->svc_subs_hash);
    return true;
}

/* The first SUBS / NSUBS: the session's counts become the store's. */
static void first_counts(sx_cmd_ctx *x, uint8_t party, int64_t count, const uint8_t hash[SX_MD5_LEN])
{
    x->c->svc_subscribed = true;
    x->c->svc_subs_n = count;
    memcpy(x->c->svc_subs_hash, hash, SX_MD5_LEN);
    count_service_sub(x, party, count, hash);
    (void)become_holder(x);
}

void sx_cmd_subs(sx_cmd_ctx *x)
{
    if (repeated(x))
        return;
    rid_list l = {0};
    if (!collect(x, 'R', &l)) {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
        return;
    }
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
    first_counts(x, 'R', count, hash);
    sx_slice service = session_service(x->c);
    uint8_t scratch[SX_MD5_LEN] = {0};
    sub_counts m = {0};
    for (size_t i = 0; i < l.n && x->c->fd >= 0; i++) {
        sx_queue *q = sx_store_find(x->r->store, SX_PARTY_RECIPIENT, sx_slice_of(l.rids[i], SX_ID_LEN));
        if (!q)
            continue;
        (void)subscribe_one(x, &m, q, 'R', service, scratch, true);
        sx_queue_release(x->r->store, q);
    }
    free(l.rids);
    sx_smp_stats_add(&x->r->stats, SX_SMP_STAT_RCV_SERVICES_SUB_MSG, m.sub_msg);
    sx_smp_stats_add(&x->r->stats, SX_SMP_STAT_RCV_SERVICES_SUB_DUPLICATE, m.sub_dup);
    sx_cmd_reply_tag(x->c, sx_cmd_empty(), sx_cmd_empty(), SX_SMP_R_ALLS);
}

void sx_cmd_nsubs(sx_cmd_ctx *x)
{
    if (repeated(x))
        return;
    rid_list l = {0};
    if (!collect(x, 'N', &l)) {
        sx_cmd_err(x, SX_SMP_ERR_INTERNAL);
        return;
    }
    sx_slice service = session_service(x->c);
    int64_t count = 0;
    uint8_t hash[SX_MD5_LEN] = {0};
    sub_counts m = {0};
    for (size_t i = 0; i < l.n; i++) {
        sx_queue *q = sx_store_find(x->r->store, SX_PARTY_RECIPIENT, sx_slice_of(l.rids[i], SX_ID_LEN));
        if (!q)
            continue;
        count += subscribe_one(x, &m, q, 'N', service, hash, true);
        sx_queue_release(x->r->store, q);
    }
    free(l.rids);
    first_counts(x, 'N', count, hash);
    reply_counts(x, SX_SMP_R_SOKS, count, hash);
}
