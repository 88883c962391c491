/* DEL racing other changes of the same queue on other connections, then a
 * restart from the store log (PROTOCOL-NOTES E25, E26): the log must hold
 * the changes in the order they were applied, so that a restart restores
 * exactly what the clients were told.
 *
 * An in-process router with several workers; four client connections, one
 * per worker and each on its own thread, send one command each to the same
 * queue at once (a barrier per queue): DEL against DEL, KEY, SKEY, NKEY,
 * OFF, NDEL, LSET and LDEL, and some queues without DEL. Every answer is
 * recorded. Then the router stops and the test checks
 *   - the answers: of the DELs of a queue exactly one is OK, the others
 *     AUTH; nothing else is answered but OK / NID / AUTH;
 *   - the store log, line by line: CREATE first, DELETE once for a deleted
 *     queue and nothing after it, and one record for each change a client
 *     was told OK for (none for one it was told AUTH for);
 *   - the replay of that log into a fresh store: no warning (such as
 *     "unknown or deleted queue"), and the restored queues as told;
 *   - a new router started on the same log: no replay warning on stderr, a
 *     deleted queue answers AUTH by recipient, sender and notifier id, a
 *     live one has the sender key, notifier, link and status it was told.
 *
 * SX_DEL_RACE_QUEUES overrides the number of queues (a multiple of 6). */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "smp_client/smp_client.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp_router/server.h"
#include "smp_router/store.h"
#include "smp_router/storelog.h"

#define RACERS 4
#define DEFAULT_QUEUES 240

typedef enum role {
    R_DEL,
    R_KEY,
    R_SKEY,
    R_NKEY,
    R_OFF,
    R_NDEL,
    R_LSET,
    R_LDEL,
} role;

static const char *role_name(role r)
{
    static const char *names[] = {"DEL", "KEY", "SKEY", "NKEY", "OFF", "NDEL", "LSET", "LDEL"};
    return names[r];
}

/* What the four connections send to one queue. Kinds 2 and 4 start with a
 * notifier (NEW with notifier credentials), kind 5 with link data (LSET
 * before the race); kinds 3 and 4 have no DEL, so their queues survive. */
#define KINDS 6
static const role kinds[KINDS][RACERS] = {
    {R_DEL, R_DEL, R_KEY, R_SKEY},
    {R_DEL, R_DEL, R_NKEY, R_OFF},
    {R_DEL, R_NDEL, R_LSET, R_SKEY},
    {R_KEY, R_SKEY, R_NKEY, R_OFF},
    {R_KEY, R_SKEY, R_LSET, R_NDEL},
    {R_DEL, R_KEY, R_LDEL, R_NKEY},
};

static bool kind_pre_notifier(int k) { return k == 2 || k == 4; }
static bool kind_pre_link(int k) { return k == 5; }

/* One answer as the racer saw it. */
typedef struct answer {
    sx_status st; /* of the call */
    bool decoded;
    sx_smp_resp_tag tag;
    sx_smp_err_type err;
    uint8_t nid[24]; /* NID */
} answer;

/* A queue and what was done to it. */
typedef struct rq {
    int kind;
    role roles[RACERS]; /* by racer */
    answer ans[RACERS];
    sx_key *rkey, *rdh;
    uint8_t rid[24], sid[24];
    sx_key *k1;         /* KEY's sender key */
    sx_key *k2;         /* SKEY's sender key */
    sx_key *nkey, *ndh; /* NKEY's notifier keys */
    sx_key *pre_nkey, *pre_ndh;
    uint8_t pre_nid[24];
    uint8_t pre_link_id[24];
    uint8_t race_link_id[24];
} rq;

static const char link_fixed[] = "fixed link data";
static const char link_user[] = "user link data";

static rq *g_q;
static size_t g_n;
static pthread_barrier_t g_bar;

typedef struct env {
    sx_router_opts o;
    char dir[64];
    char slog[128];
    char crt[1024], ca[1024], key[1024];
    uint8_t fp[SX_FINGERPRINT_LEN];
} env;

static sx_smp_client *connect_to(env *e, sx_router *r)
{
    sx_smp_client_opts o = {.timeout_ms = 20000};
    sx_smp_client *cl = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", sx_router_port(r, 0), e->fp, &o, &cl));
    return cl;
}

static sx_smp_pubkey pub_of(const sx_key *k, uint8_t *buf)
{
    sx_smp_pubkey p;
    assert_ok(sx_smp_pubkey_of(k, buf, &p));
    return p;
}

static sx_key *gen(sx_key_alg alg)
{
    sx_key *k;
    assert_ok(sx_key_generate(alg, &k));
    return k;
}

static sx_qkey qkey(const sx_key *k)
{
    sx_qkey q;
    assert_ok(sx_qkey_from_key(k, &q));
    return q;
}

static const char *answer_text(const answer *a)
{
    static char buf[64];
    if (a->st != SX_OK)
        snprintf(buf, sizeof buf, "call failed: %s", sx_status_str(a->st));
    else if (!a->decoded)
        snprintf(buf, sizeof buf, "undecodable reply");
    else if (a->tag == SX_SMP_R_ERR)
        snprintf(buf, sizeof buf, "ERR %s", sx_smp_err_name(a->err));
    else
        snprintf(buf, sizeof buf, "%s", sx_smp_resp_name(a->tag));
    return buf;
}

static bool is_ok(const answer *a)
{
    return a->st == SX_OK && a->decoded && (a->tag == SX_SMP_R_OK || a->tag == SX_SMP_R_NID);
}

static bool is_auth(const answer *a)
{
    return a->st == SX_OK && a->decoded && a->tag == SX_SMP_R_ERR && a->err == SX_SMP_ERR_AUTH;
}

/* The answer of the racer with role ro, NULL when the kind has none. */
static const answer *answer_of(const rq *q, role ro)
{
    for (int t = 0; t < RACERS; t++)
        if (q->roles[t] == ro)
            return &q->ans[t];
    return NULL;
}

static bool told_ok(const rq *q, role ro)
{
    const answer *a = answer_of(q, ro);
    return a && is_ok(a);
}

static int count_role(const rq *q, role ro, bool only_ok)
{
    int n = 0;
    for (int t = 0; t < RACERS; t++)
        if (q->roles[t] == ro && (!only_ok || is_ok(&q->ans[t])))
            n++;
    return n;
}

static bool deleted(const rq *q) { return count_role(q, R_DEL, true) > 0; }

/* The sender key the clients were told was set (KEY's or SKEY's), NULL when
 * neither was OK. */
static const sx_key *told_skey(const rq *q)
{
    if (told_ok(q, R_KEY))
        return q->k1;
    if (told_ok(q, R_SKEY))
        return q->k2;
    return NULL;
}

/* ---- setup ---- */

static void create(sx_smp_client *cl, size_t i, rq *q)
{
    memset(q, 0, sizeof *q);
    q->kind = (int)(i % KINDS);
    int rot = (int)((i / KINDS) % RACERS); /* every racer takes every role */
    for (int t = 0; t < RACERS; t++)
        q->roles[t] = kinds[q->kind][(t + rot) % RACERS];
    static const sx_key_alg ralg[3] = {SX_KEY_ED25519, SX_KEY_ED448, SX_KEY_X25519};
    q->rkey = gen(ralg[(i / KINDS) % 3]);
    q->rdh = gen(SX_KEY_X25519);
    q->k1 = gen(SX_KEY_ED25519);
    q->k2 = gen(i % 2 ? SX_KEY_X25519 : SX_KEY_ED25519);
    q->nkey = gen(SX_KEY_ED25519);
    q->ndh = gen(SX_KEY_X25519);
    sx_random_bytes(q->race_link_id, 24);
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX], b3[SX_KEY_SPKI_MAX], b4[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    c.new_queue.rcv_auth_key = pub_of(q->rkey, b1);
    c.new_queue.rcv_dh_key = pub_of(q->rdh, b2);
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    if (kind_pre_notifier(q->kind)) {
        q->pre_nkey = gen(SX_KEY_ED25519);
        q->pre_ndh = gen(SX_KEY_X25519);
        c.new_queue.has_ntf_creds = true;
        c.new_queue.ntf_auth_key = pub_of(q->pre_nkey, b3);
        c.new_queue.ntf_dh_key = pub_of(q->pre_ndh, b4);
    }
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q->rkey, &r));
    assert_true(r.ok);
    assert_int_equal(r.reply.resp.tag, SX_SMP_R_IDS);
    const sx_smp_ids *ids = &r.reply.resp.ids;
    assert_int_equal(ids->rcv_id.len, 24);
    assert_int_equal(ids->snd_id.len, 24);
    memcpy(q->rid, ids->rcv_id.ptr, 24);
    memcpy(q->sid, ids->snd_id.ptr, 24);
    if (kind_pre_notifier(q->kind)) {
        assert_true(ids->has_ntf);
        assert_int_equal(ids->ntf_id.len, 24);
        memcpy(q->pre_nid, ids->ntf_id.ptr, 24);
    }
    sx_smp_client_reply_free(&r);
    if (kind_pre_link(q->kind)) {
        sx_random_bytes(q->pre_link_id, 24);
        sx_smp_cmd l = {.tag = SX_SMP_C_LSET};
        l.lset.link_id = sx_slice_of(q->pre_link_id, 24);
        l.lset.data.fixed = sx_slice_str(link_fixed);
        l.lset.data.user = sx_slice_str(link_user);
        assert_ok(sx_smp_client_call(cl, sx_slice_of(q->rid, 24), &l, q->rkey, &r));
        assert_true(r.ok);
        assert_int_equal(r.reply.resp.tag, SX_SMP_R_OK);
        sx_smp_client_reply_free(&r);
    }
}

static void rq_free(rq *q)
{
    sx_key_free(q->rkey);
    sx_key_free(q->rdh);
    sx_key_free(q->k1);
    sx_key_free(q->k2);
    sx_key_free(q->nkey);
    sx_key_free(q->ndh);
    sx_key_free(q->pre_nkey);
    sx_key_free(q->pre_ndh);
}

/* ---- the race ---- */

typedef struct racer {
    int t;
    sx_smp_client *cl;
    pthread_t th;
} racer;

/* No cmocka assertions on this thread: everything goes into the answers. */
static void *race_main(void *arg)
{
    racer *rc = arg;
    for (size_t i = 0; i < g_n; i++) {
        rq *q = &g_q[i];
        answer *a = &q->ans[rc->t];
        uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
        sx_smp_cmd c;
        memset(&c, 0, sizeof c);
        const uint8_t *entity = q->rid;
        const sx_key *auth = q->rkey;
        sx_status st = SX_OK;
        switch (q->roles[rc->t]) {
        case R_DEL: c.tag = SX_SMP_C_DEL; break;
        case R_OFF: c.tag = SX_SMP_C_OFF; break;
        case R_NDEL: c.tag = SX_SMP_C_NDEL; break;
        case R_LDEL: c.tag = SX_SMP_C_LDEL; break;
        case R_KEY:
            c.tag = SX_SMP_C_KEY;
            st = sx_smp_pubkey_of(q->k1, b1, &c.key);
            break;
        case R_SKEY:
            c.tag = SX_SMP_C_SKEY;
            st = sx_smp_pubkey_of(q->k2, b1, &c.key);
            entity = q->sid;
            auth = q->k2;
            break;
        case R_NKEY:
            c.tag = SX_SMP_C_NKEY;
            st = sx_smp_pubkey_of(q->nkey, b1, &c.nkey.auth_key);
            if (st == SX_OK)
                st = sx_smp_pubkey_of(q->ndh, b2, &c.nkey.dh_key);
            break;
        case R_LSET:
            c.tag = SX_SMP_C_LSET;
            c.lset.link_id = sx_slice_of(q->race_link_id, 24);
            c.lset.data.fixed = sx_slice_str(link_fixed);
            c.lset.data.user = sx_slice_str(link_user);
            break;
        }
        /* Everyone ready: fire together. */
        pthread_barrier_wait(&g_bar);
        sx_smp_client_reply r;
        memset(&r, 0, sizeof r);
        if (st == SX_OK)
            st = sx_smp_client_call(rc->cl, sx_slice_of(entity, 24), &c, auth, &r);
        a->st = st;
        if (st != SX_OK)
            continue;
        a->decoded = r.ok;
        if (r.ok) {
            a->tag = r.reply.resp.tag;
            if (a->tag == SX_SMP_R_ERR)
                a->err = r.reply.resp.err.type;
            if (a->tag == SX_SMP_R_NID && r.reply.resp.nid.notifier_id.len == 24)
                memcpy(a->nid, r.reply.resp.nid.notifier_id.ptr, 24);
        }
        sx_smp_client_reply_free(&r);
    }
    return NULL;
}

/* ---- problems: counted by phase and shown (the first few), so that one
 * run tells every kind of problem it met ---- */

enum {
    PH_ANSWERS,
    PH_LOG,
    PH_REPLAY,
    PH_RESTART,
    PHASES,
};
static const char *phase_names[PHASES] = {"answers", "store log", "replay", "restart"};
static int g_phase;
static int g_problems[PHASES];

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void problem(const char *fmt, ...)
{
    if (g_problems[g_phase]++ >= 5)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("%s: %s\n", phase_names[g_phase], msg);
}

/* ---- checks of the answers ---- */

static void check_answers(const rq *q, size_t i)
{
    for (int t = 0; t < RACERS; t++) {
        const answer *a = &q->ans[t];
        if (!is_ok(a) && !is_auth(a))
            problem("queue %zu (kind %d): %s answered %s", i, q->kind, role_name(q->roles[t]), answer_text(a));
        if (a->tag == SX_SMP_R_NID && q->roles[t] != R_NKEY)
            problem("queue %zu: %s answered NID", i, role_name(q->roles[t]));
        if (q->roles[t] == R_NKEY && a->tag == SX_SMP_R_OK)
            problem("queue %zu: NKEY answered OK, not NID", i);
    }
    int dels = count_role(q, R_DEL, false), dels_ok = count_role(q, R_DEL, true);
    /* Only a DEL can make a DEL fail: of several, exactly one is OK. */
    if (dels > 0 && dels_ok != 1)
        problem("queue %zu (kind %d): %d of %d DELs answered OK", i, q->kind, dels_ok, dels);
    if (dels == 0) {
        /* Nothing deletes it: every change is OK but the second sender key
         * (and LSET once the queue is secured, PROTOCOL-NOTES D11). */
        int keys_ok = count_role(q, R_KEY, true) + count_role(q, R_SKEY, true);
        if (keys_ok != 1)
            problem("queue %zu (kind %d): %d of KEY and SKEY answered OK", i, q->kind, keys_ok);
        for (int t = 0; t < RACERS; t++) {
            role ro = q->roles[t];
            if (ro != R_KEY && ro != R_SKEY && ro != R_LSET && !is_ok(&q->ans[t]))
                problem("queue %zu (kind %d): %s answered %s on a live queue", i, q->kind, role_name(ro),
                        answer_text(&q->ans[t]));
        }
    }
}

/* ---- checks of the store log ---- */

typedef struct logstate {
    int creates, deletes, after_delete, first_not_create;
    char after_tag[16];
    int secures, notifiers, suspends, ndeletes, links, ldeletes;
    sx_qkey secure_key;
    uint8_t notifier_id[24];
    uint8_t link_ids[2][24];
} logstate;

static const char *slrec_name(sx_slrec_type t)
{
    switch (t) {
    case SX_SLREC_CREATE: return "CREATE";
    case SX_SLREC_LINK: return "LINK";
    case SX_SLREC_LDELETE: return "LDELETE";
    case SX_SLREC_SECURE: return "SECURE";
    case SX_SLREC_KEYS: return "KEYS";
    case SX_SLREC_NOTIFIER: return "NOTIFIER";
    case SX_SLREC_SUSPEND: return "SUSPEND";
    case SX_SLREC_BLOCK: return "BLOCK";
    case SX_SLREC_UNBLOCK: return "UNBLOCK";
    case SX_SLREC_DELETE: return "DELETE";
    case SX_SLREC_NDELETE: return "NDELETE";
    case SX_SLREC_TIME: return "TIME";
    case SX_SLREC_NEW_SERVICE: return "NEW_SERVICE";
    case SX_SLREC_QUEUE_SERVICE: return "QUEUE_SERVICE";
    }
    return "?";
}

static size_t find_rid(const uint8_t rid[24])
{
    for (size_t i = 0; i < g_n; i++)
        if (memcmp(g_q[i].rid, rid, 24) == 0)
            return i;
    return SIZE_MAX;
}

static void read_log(const char *path, logstate *ls)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 0;
    char *line = NULL;
    ssize_t len;
    size_t lineno = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] == '\n')
            len--;
        sx_slrec rec;
        sx_status st = sx_slrec_parse(sx_slice_of(line, (size_t)len), &rec);
        if (st != SX_OK) {
            problem("store log line %zu does not parse (%s): %.80s", lineno, sx_status_str(st), line);
            continue;
        }
        if (rec.type == SX_SLREC_NEW_SERVICE) {
            sx_slrec_cleanup(&rec);
            continue;
        }
        size_t i = find_rid(rec.rid);
        if (i == SIZE_MAX) {
            problem("store log line %zu: %s of a queue the test did not create", lineno, slrec_name(rec.type));
            sx_slrec_cleanup(&rec);
            continue;
        }
        logstate *s = &ls[i];
        if (s->deletes && !s->after_delete) {
            s->after_delete = (int)lineno;
            snprintf(s->after_tag, sizeof s->after_tag, "%s", slrec_name(rec.type));
        }
        if (s->creates == 0 && rec.type != SX_SLREC_CREATE)
            s->first_not_create = (int)lineno;
        switch (rec.type) {
        case SX_SLREC_CREATE: s->creates++; break;
        case SX_SLREC_DELETE: s->deletes++; break;
        case SX_SLREC_SECURE:
            s->secures++;
            s->secure_key = rec.q.skey;
            break;
        case SX_SLREC_NOTIFIER:
            s->notifiers++;
            memcpy(s->notifier_id, rec.q.ntf.id, 24);
            break;
        case SX_SLREC_SUSPEND: s->suspends++; break;
        case SX_SLREC_NDELETE: s->ndeletes++; break;
        case SX_SLREC_LINK:
            if (s->links < 2)
                memcpy(s->link_ids[s->links], rec.q.link_id, 24);
            s->links++;
            break;
        case SX_SLREC_LDELETE: s->ldeletes++; break;
        default: break; /* TIME: the day of the queue */
        }
        sx_slrec_cleanup(&rec);
    }
    free(line);
    fclose(f);
}

/* The log holds the changes in the order they were applied and one record
 * for each change the clients were told OK for. */
static void check_log(const rq *q, size_t i, const logstate *s)
{
    if (s->creates != 1 || s->first_not_create)
        problem("queue %zu: %d CREATE records (another record first at line %d)", i, s->creates,
                s->first_not_create);
    if (s->deletes > 1)
        problem("queue %zu (kind %d): DELETE logged %d times", i, q->kind, s->deletes);
    if (s->after_delete)
        problem("queue %zu (kind %d): %s logged after its DELETE (line %d)", i, q->kind, s->after_tag,
                s->after_delete);
    if (s->deletes != (deleted(q) ? 1 : 0))
        problem("queue %zu (kind %d): %d DELETE records, DEL %s", i, q->kind, s->deletes,
                deleted(q) ? "answered OK" : "not OK");
    const sx_key *sk = told_skey(q);
    int keys_ok = count_role(q, R_KEY, true) + count_role(q, R_SKEY, true);
    if (s->secures != keys_ok || keys_ok > 1)
        problem("queue %zu (kind %d): %d SECURE records, %d of KEY/SKEY answered OK", i, q->kind, s->secures,
                keys_ok);
    if (sk) {
        sx_qkey k = qkey(sk);
        if (!sx_qkey_equal(&k, &s->secure_key))
            problem("queue %zu: the logged sender key is not the one the client was told", i);
    }
    const answer *nk = answer_of(q, R_NKEY);
    bool nkey_ok = nk && is_ok(nk);
    if (s->notifiers != (nkey_ok ? 1 : 0))
        problem("queue %zu (kind %d): %d NOTIFIER records, NKEY %s", i, q->kind, s->notifiers,
                nkey_ok ? "answered NID" : "not answered NID");
    if (nkey_ok && memcmp(s->notifier_id, nk->nid, 24) != 0)
        problem("queue %zu: the logged notifier id is not the one NKEY answered", i);
    if (s->suspends != (told_ok(q, R_OFF) ? 1 : 0))
        problem("queue %zu (kind %d): %d SUSPEND records, OFF %s", i, q->kind, s->suspends,
                answer_of(q, R_OFF) ? answer_text(answer_of(q, R_OFF)) : "not sent");
    if (s->ndeletes != (told_ok(q, R_NDEL) ? 1 : 0))
        problem("queue %zu (kind %d): %d NDELETE records, NDEL %s", i, q->kind, s->ndeletes,
                answer_of(q, R_NDEL) ? answer_text(answer_of(q, R_NDEL)) : "not sent");
    int links = (kind_pre_link(q->kind) ? 1 : 0) + (told_ok(q, R_LSET) ? 1 : 0);
    if (s->links != links)
        problem("queue %zu (kind %d): %d LINK records, %d told", i, q->kind, s->links, links);
    if (told_ok(q, R_LSET) && s->links == links && memcmp(s->link_ids[links - 1], q->race_link_id, 24) != 0)
        problem("queue %zu: the logged link id is not LSET's", i);
    if (s->ldeletes != (told_ok(q, R_LDEL) ? 1 : 0))
        problem("queue %zu (kind %d): %d LDELETE records, LDEL %s", i, q->kind, s->ldeletes,
                answer_of(q, R_LDEL) ? answer_text(answer_of(q, R_LDEL)) : "not sent");
}

/* ---- the replay into a fresh store ---- */

typedef struct warns {
    int n;
    char first[512];
} warns;

static void on_warn(void *arg, const char *msg)
{
    warns *w = arg;
    if (w->n++ == 0)
        snprintf(w->first, sizeof w->first, "%s", msg);
}

static void check_replayed(const rq *q, size_t i, sx_store *st)
{
    sx_queue *r = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(q->rid, 24));
    sx_queue *s = sx_store_find(st, SX_PARTY_SENDER, sx_slice_of(q->sid, 24));
    if (deleted(q)) {
        if (r || s)
            problem("queue %zu (kind %d): deleted, but replayed", i, q->kind);
        return;
    }
    if (!r || r != s) {
        problem("queue %zu (kind %d): not replayed", i, q->kind);
        sx_queue_release(st, r);
        sx_queue_release(st, s);
        return;
    }
    sx_queue_release(st, s);
    const sx_key *sk = told_skey(q);
    sx_qkey k = sk ? qkey(sk) : (sx_qkey){0};
    sx_qkey rs = sx_queue_skey(r);
    if (!sx_qkey_equal(&rs, &k))
        problem("queue %zu: replayed with another sender key", i);
    if ((r->status == SX_QUEUE_OFF) != told_ok(q, R_OFF))
        problem("queue %zu: replayed with status %d", i, r->status);
    if (told_ok(q, R_NKEY)) {
        if (!sx_queue_notifier(r) || memcmp(sx_queue_notifier(r)->id, answer_of(q, R_NKEY)->nid, 24) != 0)
            problem("queue %zu: replayed without the notifier NKEY made", i);
    } else if (told_ok(q, R_NDEL) && sx_queue_notifier(r)) {
        problem("queue %zu: replayed with a notifier after NDEL", i);
    }
    if (told_ok(q, R_LSET) != (sx_queue_link(r) != NULL))
        problem("queue %zu: replayed %s link data, LSET %s", i, sx_queue_link(r) ? "with" : "without",
                answer_of(q, R_LSET) ? answer_text(answer_of(q, R_LSET)) : "not sent");
    sx_queue_release(st, r);
}

/* ---- stderr of the restarted router ---- */

static int stderr_to(const char *path)
{
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(dup2(fd, 2) == 2);
    close(fd);
    return saved;
}

static char *stderr_back(int saved, const char *path)
{
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = calloc(1, 65536);
    assert_non_null(text);
    size_t n = fread(text, 1, 65535, f);
    text[n] = 0;
    fclose(f);
    fputs(text, stderr); /* whatever it was, it is shown */
    return text;
}

/* ---- checks over the protocol after the restart ---- */

typedef struct probe {
    sx_smp_cmd c;
    const uint8_t *entity;
    const sx_key *key;
    sx_smp_resp_tag want;
    sx_smp_err_type want_err;
    const char *what;
    uint8_t b[SX_KEY_SPKI_MAX];
} probe;

static probe *add(probe *p, size_t *n, sx_smp_cmd_tag tag, const uint8_t *entity, const sx_key *key,
                  sx_smp_resp_tag want, const char *what)
{
    probe *x = &p[(*n)++];
    memset(x, 0, sizeof *x);
    x->c.tag = tag;
    x->entity = entity;
    x->key = key;
    x->want = want;
    x->want_err = SX_SMP_ERR_AUTH;
    x->what = what;
    return x;
}

static void add_send(probe *p, size_t *n, const rq *q, const sx_key *key, sx_smp_resp_tag want, const char *what)
{
    probe *x = add(p, n, SX_SMP_C_SEND, q->sid, key, want, what);
    x->c.send.body = sx_slice_str("probe");
}

static void check_restored(sx_smp_client *cl, const rq *q, size_t i)
{
    probe p[12];
    size_t n = 0;
    const sx_key *sk = told_skey(q);
    if (deleted(q)) {
        add(p, &n, SX_SMP_C_QUE, q->rid, q->rkey, SX_SMP_R_ERR, "QUE by the recipient id");
        add_send(p, &n, q, NULL, SX_SMP_R_ERR, "unsigned SEND");
        add_send(p, &n, q, q->k1, SX_SMP_R_ERR, "SEND signed with KEY's key");
        add_send(p, &n, q, q->k2, SX_SMP_R_ERR, "SEND signed with SKEY's key");
        if (told_ok(q, R_NKEY))
            add(p, &n, SX_SMP_C_NSUB, answer_of(q, R_NKEY)->nid, q->nkey, SX_SMP_R_ERR, "NSUB of NKEY's notifier");
        if (kind_pre_notifier(q->kind))
            add(p, &n, SX_SMP_C_NSUB, q->pre_nid, q->pre_nkey, SX_SMP_R_ERR, "NSUB of the first notifier");
    } else if (!sk) {
        return; /* no sender key told: reported with the answers */
    } else {
        const sx_key *other = sk == q->k1 ? q->k2 : q->k1;
        add(p, &n, SX_SMP_C_QUE, q->rid, q->rkey, SX_SMP_R_INFO, "QUE by the recipient id");
        /* The sender key told: SKEY with it again is OK (PROTOCOL-NOTES
         * E12b), with the other AUTH. */
        probe *x = add(p, &n, SX_SMP_C_SKEY, q->sid, sk, SX_SMP_R_OK, "SKEY with the key told");
        x->c.key = pub_of(sk, x->b);
        x = add(p, &n, SX_SMP_C_SKEY, q->sid, other, SX_SMP_R_ERR, "SKEY with the other key");
        x->c.key = pub_of(other, x->b);
        if (answer_of(q, R_LSET)) {
            /* LKEY by the link id with the sender key: LNK while the link data
             * is there (before any SEND, PROTOCOL-NOTES E4). */
            x = add(p, &n, SX_SMP_C_LKEY, q->race_link_id, sk, told_ok(q, R_LSET) ? SX_SMP_R_LNK : SX_SMP_R_ERR,
                    "LKEY by LSET's link id");
            x->c.key = pub_of(sk, x->b);
        }
        if (told_ok(q, R_NKEY))
            add(p, &n, SX_SMP_C_NSUB, answer_of(q, R_NKEY)->nid, q->nkey, SX_SMP_R_SOK, "NSUB of NKEY's notifier");
        if (kind_pre_notifier(q->kind))
            add(p, &n, SX_SMP_C_NSUB, q->pre_nid, q->pre_nkey, told_ok(q, R_NDEL) ? SX_SMP_R_ERR : SX_SMP_R_SOK,
                "NSUB of the first notifier");
        add_send(p, &n, q, NULL, SX_SMP_R_ERR, "unsigned SEND");
        add_send(p, &n, q, other, SX_SMP_R_ERR, "SEND signed with the other key");
        /* A suspended queue refuses even the right key (PROTOCOL-NOTES D21). */
        add_send(p, &n, q, sk, told_ok(q, R_OFF) ? SX_SMP_R_ERR : SX_SMP_R_OK, "SEND signed with the key told");
    }
    sx_smp_client_cmd cmds[12];
    sx_smp_client_reply replies[12];
    for (size_t k = 0; k < n; k++) {
        memset(&cmds[k], 0, sizeof cmds[k]);
        cmds[k].entity = sx_slice_of(p[k].entity, 24);
        cmds[k].cmd = &p[k].c;
        cmds[k].auth_key = p[k].key;
    }
    assert_ok(sx_smp_client_call_many(cl, cmds, n, replies));
    for (size_t k = 0; k < n; k++) {
        sx_smp_client_reply *r = &replies[k];
        assert_true(r->ok);
        sx_smp_resp_tag tag = r->reply.resp.tag;
        bool good = tag == p[k].want && (tag != SX_SMP_R_ERR || r->reply.resp.err.type == p[k].want_err);
        if (!good)
            problem("queue %zu (kind %d, %s): after the restart %s answered %s %s, not %s", i, q->kind,
                    deleted(q) ? "deleted" : "live", p[k].what, sx_smp_resp_name(tag),
                    tag == SX_SMP_R_ERR ? sx_smp_err_name(r->reply.resp.err.type) : "",
                    sx_smp_resp_name(p[k].want));
        if (tag == SX_SMP_R_INFO) {
            char json[600];
            size_t len = r->reply.resp.info.len < sizeof json - 1 ? r->reply.resp.info.len : sizeof json - 1;
            memcpy(json, r->reply.resp.info.ptr, len);
            json[len] = 0;
            bool ntf = told_ok(q, R_NKEY) || (kind_pre_notifier(q->kind) && !told_ok(q, R_NDEL));
            if (!strstr(json, "\"qiSnd\":true") || !strstr(json, ntf ? "\"qiNtf\":true" : "\"qiNtf\":false"))
                problem("queue %zu: QUE after the restart: %s", i, json);
        }
        if (tag == SX_SMP_R_LNK) {
            assert_int_equal(r->reply.resp.lnk.sender_id.len, 24);
            assert_memory_equal(r->reply.resp.lnk.sender_id.ptr, q->sid, 24);
        }
        sx_smp_client_reply_free(r);
    }
}

/* ---- the test ---- */

static void test_del_race(void **state)
{
    (void)state;
    env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    snprintf(e->dir, sizeof e->dir, "/tmp/sx_del_race_XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->slog, sizeof e->slog, "%s/%s", e->dir, SX_STORELOG_FILE);
    snprintf(e->crt, sizeof e->crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(e->ca, sizeof e->ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(e->key, sizeof e->key, "%s", tu_data_path("fixtures/server.key"));
    X509 *x;
    assert_ok(sx_x509_read_cert_file(e->ca, &x));
    assert_ok(sx_x509_fingerprint(x, e->fp));
    X509_free(x);
    sx_router_opts *o = &e->o;
    o->cert_file = e->crt;
    o->ca_file = e->ca;
    o->key_file = e->key;
    o->host = "127.0.0.1";
    o->n_ports = 1;
    o->workers = RACERS; /* connections go to the workers in turn: one each */
    o->new_queues = true;
    o->store_log_path = e->slog;
    o->quiet = true;
    o->handshake_timeout_ms = 20000;

    g_n = DEFAULT_QUEUES;
    const char *env_n = getenv("SX_DEL_RACE_QUEUES");
    if (env_n && atoi(env_n) >= KINDS)
        g_n = (size_t)atoi(env_n) / KINDS * KINDS;
    g_q = calloc(g_n, sizeof *g_q);
    assert_non_null(g_q);

    sx_router *r;
    assert_ok(sx_router_start(o, &r));
    racer rc[RACERS];
    for (int t = 0; t < RACERS; t++) {
        rc[t].t = t;
        rc[t].cl = connect_to(e, r);
    }
    sx_smp_client *setup = connect_to(e, r);
    for (size_t i = 0; i < g_n; i++)
        create(setup, i, &g_q[i]);
    sx_smp_client_close(setup);

    assert_int_equal(pthread_barrier_init(&g_bar, NULL, RACERS), 0);
    for (int t = 0; t < RACERS; t++)
        assert_int_equal(pthread_create(&rc[t].th, NULL, race_main, &rc[t]), 0);
    for (int t = 0; t < RACERS; t++)
        assert_int_equal(pthread_join(rc[t].th, NULL), 0);
    pthread_barrier_destroy(&g_bar);
    for (int t = 0; t < RACERS; t++)
        sx_smp_client_close(rc[t].cl);
    sx_router_stop(r);

    size_t n_deleted = 0, contended = 0;
    g_phase = PH_ANSWERS;
    for (size_t i = 0; i < g_n; i++) {
        check_answers(&g_q[i], i);
        n_deleted += deleted(&g_q[i]);
        /* Changes that lost to the DEL: they came after it. */
        for (int t = 0; t < RACERS; t++)
            contended += g_q[i].roles[t] != R_DEL && deleted(&g_q[i]) && is_auth(&g_q[i].ans[t]);
    }
    print_message("%zu queues, %zu deleted; %zu changes answered AUTH after a DEL\n", g_n, n_deleted, contended);

    /* The log as the first router left it. */
    g_phase = PH_LOG;
    logstate *ls = calloc(g_n, sizeof *ls);
    assert_non_null(ls);
    read_log(e->slog, ls);
    for (size_t i = 0; i < g_n; i++)
        check_log(&g_q[i], i, &ls[i]);
    free(ls);

    /* Its replay, as a restart does it, with the warnings caught. */
    g_phase = PH_REPLAY;
    sx_store *st;
    assert_ok(sx_store_new(&st));
    warns w = {0};
    sx_kit_log_opts lo = {0};
    lo.warn = on_warn;
    lo.warn_arg = &w;
    sx_slreplay_stats stats = {0};
    assert_ok(sx_storelog_replay(e->slog, st, NULL, &lo, &stats));
    if (w.n || stats.skipped || stats.bad_lines)
        problem("%d warnings (the first: %s), %zu records skipped, %zu bad lines", w.n, w.first, stats.skipped,
                stats.bad_lines);
    if (sx_store_queue_count(st) != g_n - n_deleted)
        problem("%zu queues replayed, %zu live", sx_store_queue_count(st), g_n - n_deleted);
    for (size_t i = 0; i < g_n; i++)
        check_replayed(&g_q[i], i, st);
    sx_store_free(st);

    /* A new router on the same log. */
    g_phase = PH_RESTART;
    char errpath[160];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", e->dir);
    int saved = stderr_to(errpath);
    sx_status rst = sx_router_start(o, &r);
    char *errtext = stderr_back(saved, errpath);
    assert_ok(rst);
    if (strstr(errtext, "STORE:") || strstr(errtext, "unknown or deleted") || strstr(errtext, "Error parsing"))
        problem("the restarted router reported replay problems (above)");
    free(errtext);
    sx_smp_client *cl = connect_to(e, r);
    for (size_t i = 0; i < g_n; i++)
        check_restored(cl, &g_q[i], i);
    sx_smp_client_close(cl);
    sx_router_stop(r);

    int total = 0;
    for (int ph = 0; ph < PHASES; ph++) {
        if (g_problems[ph])
            print_error("%d problems found in the %s\n", g_problems[ph], phase_names[ph]);
        total += g_problems[ph];
    }
    for (size_t i = 0; i < g_n; i++)
        rq_free(&g_q[i]);
    free(g_q);
    g_q = NULL;
    tu_rm_rf(e->dir);
    free(e);
    if (total)
        fail_msg("the store log or the restored state differs from what the clients were told");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_del_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
