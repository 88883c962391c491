/* In-memory queue store: four open-addressing maps from 24-byte ids to
 * queues, one read-write lock over them, reference-counted queues, and the
 * per-queue message list with the PROTOCOL-NOTES E11 quota rules. Ids are
 * random, so their first 8 bytes are already a good hash. */
#include "smp_router/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"

#define TOMB ((sx_queue *)(uintptr_t)1)

typedef struct qmap {
    sx_queue **slots;
    /* 16 bits of each slot's id: a probe compares these, contiguous in
     * memory, and reads the queue only when they match, so an insert into a
     * large map does not take a cache miss per probe. */
    uint16_t *tags;
    size_t cap; /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
    sx_party party;
} qmap;

struct sx_store {
    pthread_rwlock_t lock;
    qmap maps[4];
    /* This store's message back-end, when one is set (store.h); has_backend
     * is read and written with __atomic builtins. */
    sx_msg_backend backend;
    bool has_backend;
    /* Queues read on demand (store.h, sx_store_set_loader). A queue deleted
     * while lazy stays in gone (by recipient id, retained) for GONE_SECONDS,
     * oldest first in the gone_head list, so that a lookup meanwhile does not
     * read it back from a database whose row the writer thread has not
     * marked deleted yet. All under lock. */
    sx_queue_loader loader;
    bool lazy;
    qmap gone;
    struct gone_node *gone_head, *gone_tail;
};

#define GONE_SECONDS 120

typedef struct gone_node {
    struct gone_node *next;
    sx_queue *q;
    int64_t at;
} gone_node;

/* s's message back-end, or NULL: messages in the queues' lists (also when s
 * is NULL). */
static const sx_msg_backend *msgs_backend(const sx_store *s)
{
    return s && __atomic_load_n(&s->has_backend, __ATOMIC_ACQUIRE) ? &s->backend : NULL;
}

void sx_store_set_msg_backend(sx_store *s, const sx_msg_backend *b)
{
    __atomic_store_n(&s->has_backend, false, __ATOMIC_RELEASE);
    if (b) {
        s->backend = *b;
        __atomic_store_n(&s->has_backend, true, __ATOMIC_RELEASE);
    }
}

static const uint8_t *key_of(const sx_queue *q, sx_party p)
{
    switch (p) {
    case SX_PARTY_RECIPIENT: return q->rid;
    case SX_PARTY_SENDER: return q->sid;
    case SX_PARTY_NOTIFIER: return sx_queue_notifier(q) ? q->side->notifier->id : NULL;
    case SX_PARTY_LINK: return sx_queue_link(q) ? q->side->link->id : NULL;
    default: return NULL;
    }
}

static uint64_t hash_id(const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return h * 0x9E3779B97F4A7C15ull;
}

/* Bytes 8..9 of the id: independent of the bytes that pick the slot. */
static uint16_t tag_of(const uint8_t *id)
{
    return (uint16_t)(id[8] | id[9] << 8);
}

static sx_queue **map_lookup(qmap *m, const uint8_t *id, bool for_insert)
{
    if (!m->cap)
        return NULL;
    /* The slot from the hash's high bits scaled to cap, so that cap need not
     * be a power of two (a map sized for a store log holds no more slots than
     * its queues need). */
    size_t i = (size_t)(((unsigned __int128)hash_id(id) * m->cap) >> 64);
    uint16_t tag = tag_of(id);
    sx_queue **tomb = NULL;
    for (;;) {
        sx_queue **slot = &m->slots[i];
        if (*slot == NULL)
            return for_insert ? (tomb ? tomb : slot) : NULL;
        if (*slot == TOMB) {
            if (!tomb)
                tomb = slot;
        } else if (m->tags[i] == tag && memcmp(key_of(*slot, m->party), id, SX_ID_LEN) == 0) {
            return slot;
        }
        if (++i == m->cap)
            i = 0;
    }
}

/* Fills slot (from map_lookup) with q, whose id for m's party is id. */
static void map_set(qmap *m, sx_queue **slot, sx_queue *q, const uint8_t *id)
{
    *slot = q;
    m->tags[slot - m->slots] = tag_of(id);
}

static sx_status map_grow_to(qmap *m, size_t cap);

static sx_status map_grow(qmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    /* Rehash in place of tombstones when they are most of the load. */
    if (m->cap && m->live * 4 < m->cap)
        cap = m->cap;
    return map_grow_to(m, cap);
}

static sx_status map_grow_to(qmap *m, size_t cap)
{
    sx_queue **slots = calloc(cap, sizeof *slots);
    uint16_t *tags = malloc(cap * sizeof *tags);
    if (!slots || !tags) {
        free(slots);
        free(tags);
        return SX_E_NOMEM;
    }
    sx_queue **old = m->slots;
    uint16_t *old_tags = m->tags;
    size_t oldcap = m->cap;
    m->slots = slots;
    m->tags = tags;
    m->cap = cap;
    m->used = m->live = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i] && old[i] != TOMB) {
            const uint8_t *id = key_of(old[i], m->party);
            map_set(m, map_lookup(m, id, true), old[i], id);
            m->used++;
            m->live++;
        }
    }
    free(old);
    free(old_tags);
    return SX_OK;
}

/* Inserts q under its id for m's party; SX_E_AUTH if the id is taken. */
static sx_status map_insert(qmap *m, sx_queue *q)
{
    if ((m->used + 1) * 4 > m->cap * 3)
        SX_TRY(map_grow(m));
    const uint8_t *id = key_of(q, m->party);
    /* One probe sequence finds a clash or the slot to fill. */
    sx_queue **slot = map_lookup(m, id, true);
    if (*slot != NULL && *slot != TOMB)
        return SX_E_AUTH;
    if (*slot == NULL)
        m->used++;
    map_set(m, slot, q, id);
    m->live++;
    return SX_OK;
}

static void map_remove(qmap *m, const uint8_t *id, sx_queue *q)
{
    sx_queue **slot = id ? map_lookup(m, id, false) : NULL;
    if (slot && *slot == q) {
        *slot = TOMB;
        m->live--;
    }
}

sx_status sx_store_new(sx_store **out)
{
    *out = NULL;
    sx_store *s = calloc(1, sizeof *s);
    if (!s)
        return SX_E_NOMEM;
    if (pthread_rwlock_init(&s->lock, NULL) != 0) {
        free(s);
        return SX_E_INTERNAL;
    }
    for (int i = 0; i < 4; i++)
        s->maps[i].party = (sx_party)i;
    s->gone.party = SX_PARTY_RECIPIENT;
    *out = s;
    return SX_OK;
}

static void free_msgs(sx_queue *q)
{
    sx_msg *m = q->head;
    while (m) {
        sx_msg *next = m->next;
        sx_wipe(m, sizeof *m + m->len);
        free(m);
        m = next;
    }
    q->head = q->tail = NULL;
    q->n_msgs = 0;
}

static void free_link(sx_link *l)
{
    if (l) {
        free(l->data);
        free(l);
    }
}

/* A key of the queue record: the bytes of a long key live apart. */
static uint8_t *qkey_in_long(const sx_qkey_in *k)
{
    uint8_t *p = NULL;
    if (k->len > SX_QKEY_INLINE)
        memcpy(&p, k->raw, sizeof p);
    return p;
}

static sx_qkey qkey_in_get(const sx_qkey_in *k)
{
    sx_qkey out = {.alg = k->alg, .len = k->len};
    const uint8_t *p = qkey_in_long(k);
    memcpy(out.raw, p ? p : k->raw, k->len);
    return out;
}

static sx_status qkey_in_set(sx_qkey_in *k, const sx_qkey *v)
{
    SX_ENSURE(v->len <= SX_KEY_RAW_MAX, SX_E_USAGE);
    uint8_t *p = NULL;
    if (v->len > SX_QKEY_INLINE) {
        p = malloc(v->len);
        if (!p)
            return SX_E_NOMEM;
        memcpy(p, v->raw, v->len);
    }
    free(qkey_in_long(k));
    memset(k, 0, sizeof *k);
    k->alg = v->alg;
    k->len = v->len;
    if (p)
        memcpy(k->raw, &p, sizeof p);
    else
        memcpy(k->raw, v->raw, v->len);
    return SX_OK;
}

static void queue_free(sx_queue *q)
{
    free_msgs(q);
    sx_queue_drop_ntfs(q);
    sx_queue_side *x = q->side;
    if (x) {
        free(x->extra_rkeys);
        if (x->notifier) {
            sx_wipe(x->notifier, sizeof *x->notifier);
            free(x->notifier);
        }
        free_link(x->link);
        free(x->block_info);
        free(x);
    }
    free(qkey_in_long(&q->rkey));
    free(qkey_in_long(&q->skey));
    sx_wipe(q->dh_secret, sizeof q->dh_secret);
    free(q);
}

sx_queue_side *sx_queue_side_get(sx_queue *q)
{
    if (!q->side)
        q->side = calloc(1, sizeof *q->side);
    return q->side;
}

bool sx_queue_set_nsub(sx_queue *q, void *sub)
{
    if (!q->side)
        return sub == NULL;
    q->side->nsub = sub;
    return true;
}

sx_status sx_queue_set_block_info(sx_queue *q, char *text)
{
    if (!q->side && !text)
        return SX_OK;
    if (!sx_queue_side_get(q)) {
        free(text);
        return SX_E_NOMEM;
    }
    free(q->side->block_info);
    q->side->block_info = text;
    return SX_OK;
}

void sx_store_free(sx_store *s)
{
    if (!s)
        return;
    const sx_msg_backend *mb = msgs_backend(s);
    if (mb) {
        sx_msg_backend b = *mb;
        sx_store_set_msg_backend(s, NULL);
        if (b.close)
            b.close(b.ctx);
    }
    qmap *rm = &s->maps[SX_PARTY_RECIPIENT];
    for (size_t i = 0; i < rm->cap; i++)
        if (rm->slots[i] && rm->slots[i] != TOMB)
            queue_free(rm->slots[i]);
    while (s->gone_head) {
        gone_node *g = s->gone_head;
        s->gone_head = g->next;
        sx_queue_release(s, g->q);
        free(g);
    }
    free(s->gone.slots);
    free(s->gone.tags);
    for (int i = 0; i < 4; i++) {
        free(s->maps[i].slots);
        free(s->maps[i].tags);
    }
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

size_t sx_store_queue_count(sx_store *s)
{
    pthread_rwlock_rdlock(&s->lock);
    size_t n = s->maps[SX_PARTY_RECIPIENT].live;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

static sx_queue *queue_alloc(void)
{
    sx_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->refs = 1; /* the maps' reference */
    return q;
}

/* Striped queue locks: 40 bytes of mutex per queue would be a tenth of what
 * an idle queue may cost. 4096 stripes keep contention negligible. */
#define LOCK_STRIPES 4096
static pthread_mutex_t stripes[LOCK_STRIPES] = {[0 ... LOCK_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t *stripe_of(const sx_queue *q)
{
    uintptr_t v = (uintptr_t)q;
    v ^= v >> 21;
    v *= 0x9E3779B97F4A7C15ull;
    return &stripes[(v >> 40) & (LOCK_STRIPES - 1)];
}

#ifndef NDEBUG
/* Debug builds check the rule "never two queue locks at once" (two queues
 * may share a stripe: a second lock could wait for the thread itself). */
static _Thread_local int queue_locks_held;
#endif

void sx_queue_lock(sx_queue *q)
{
#ifndef NDEBUG
    assert(queue_locks_held == 0 && "a thread holds two queue locks");
    queue_locks_held++;
#endif
    pthread_mutex_lock(stripe_of(q));
}

void sx_queue_unlock(sx_queue *q)
{
#ifndef NDEBUG
    assert(queue_locks_held == 1);
    queue_locks_held--;
#endif
    pthread_mutex_unlock(stripe_of(q));
}

sx_link *sx_link_new(sx_slice id, sx_slice fixed, sx_slice user)
{
    if (id.len != SX_ID_LEN || fixed.len > SX_LINK_DATA_MAX || user.len > SX_LINK_DATA_MAX)
        return NULL;
    sx_link *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->data = malloc(fixed.len + user.len + 1);
    if (!l->data) {
        free(l);
        return NULL;
    }
    memcpy(l->id, id.ptr, SX_ID_LEN);
    if (fixed.len)
        memcpy(l->data, fixed.ptr, fixed.len);
    if (user.len)
        memcpy(l->data + fixed.len, user.ptr, user.len);
    l->fixed_len = (uint16_t)fixed.len;
    l->user_len = (uint16_t)user.len;
    return l;
}

/* Inserts q into every map its ids belong to, all or nothing. */
static sx_status insert_all(sx_store *s, sx_queue *q)
{
    sx_party done[4];
    int nd = 0;
    sx_status st = SX_OK;
    for (int p = 0; p < 4; p++) {
        if (!key_of(q, (sx_party)p))
            continue;
        st = map_insert(&s->maps[p], q);
        if (st != SX_OK)
            break;
        done[nd++] = (sx_party)p;
    }
    if (st != SX_OK)
        for (int i = 0; i < nd; i++)
            map_remove(&s->maps[done[i]], key_of(q, done[i]), q);
    return st;
}

sx_status sx_store_create(sx_store *s, const sx_new_queue *nq, sx_queue **out)
{
    *out = NULL;
    SX_ENSURE(nq->rkey.len > 0, SX_E_USAGE);
    sx_queue *q = queue_alloc();
    if (!q)
        return SX_E_NOMEM;
    if (qkey_in_set(&q->rkey, &nq->rkey) != SX_OK)
        goto nomem;
    q->n_rkeys = 1;
    memcpy(q->dh_secret, nq->dh_secret, 32);
    q->mode = nq->mode;
    q->status = SX_QUEUE_ACTIVE;
    q->updated_at = nq->now - nq->now % 86400;
    if ((nq->has_notifier || nq->has_link) && !sx_queue_side_get(q))
        goto nomem;
    if (nq->has_notifier) {
        sx_notifier *n = calloc(1, sizeof *n);
        if (!n)
            goto nomem;
        n->key = nq->nkey;
        memcpy(n->dh_secret, nq->ndh_secret, 32);
        q->side->notifier = n;
    }
    if (nq->has_link) {
        uint8_t zero[SX_ID_LEN] = {0};
        q->side->link = sx_link_new(sx_slice_of(nq->client_link_id ? nq->link_id : zero, SX_ID_LEN),
                                    nq->link_fixed, nq->link_user);
        if (!q->side->link)
            goto nomem;
    }

    if (sx_store_lazy(s)) {
        /* Client-chosen ids are looked up where the queues live too (a miss
         * in memory reads the database). */
        sx_queue *e = nq->has_sid ? sx_store_find(s, SX_PARTY_SENDER, sx_slice_of(nq->sid, SX_ID_LEN)) : NULL;
        if (!e && nq->has_link && nq->client_link_id)
            e = sx_store_find(s, SX_PARTY_LINK, sx_slice_of(nq->link_id, SX_ID_LEN));
        if (e) {
            sx_queue_release(s, e);
            queue_free(q);
            return SX_E_AUTH;
        }
    }
    sx_status st = SX_E_INTERNAL;
    pthread_rwlock_wrlock(&s->lock);
    /* PROTOCOL-NOTES D4: a client-chosen id that is taken is an AUTH error, not
     * retried. */
    if ((nq->has_sid && map_lookup(&s->maps[SX_PARTY_SENDER], nq->sid, false)) ||
        (nq->has_link && nq->client_link_id && map_lookup(&s->maps[SX_PARTY_LINK], nq->link_id, false))) {
        pthread_rwlock_unlock(&s->lock);
        queue_free(q);
        return SX_E_AUTH;
    }
    /* PROTOCOL-NOTES D5: server-chosen ids are retried up to 3 times on
     * collision. */
    for (int attempt = 0; attempt < 3 && st != SX_OK; attempt++) {
        sx_random_bytes(q->rid, SX_ID_LEN);
        if (nq->has_sid)
            memcpy(q->sid, nq->sid, SX_ID_LEN);
        else
            sx_random_bytes(q->sid, SX_ID_LEN);
        if (nq->has_notifier)
            sx_random_bytes(q->side->notifier->id, SX_ID_LEN);
        if (nq->has_link && !nq->client_link_id)
            sx_random_bytes(q->side->link->id, SX_ID_LEN);
        st = insert_all(s, q);
    }
    if (st == SX_OK)
        q->refs++; /* the caller's reference */
    pthread_rwlock_unlock(&s->lock);
    if (st != SX_OK) {
        queue_free(q);
        return st == SX_E_NOMEM ? st : SX_E_INTERNAL;
    }
    *out = q;
    return SX_OK;
nomem:
    queue_free(q);
    return SX_E_NOMEM;
}

sx_status sx_store_insert(sx_store *s, sx_queue *q)
{
    if (!q->refs)
        q->refs = 1;
    pthread_rwlock_wrlock(&s->lock);
    sx_status st = insert_all(s, q);
    pthread_rwlock_unlock(&s->lock);
    if (st != SX_OK) {
        queue_free(q);
        return st == SX_E_AUTH ? SX_E_PROTOCOL : st;
    }
    return SX_OK;
}

sx_status sx_store_reserve(sx_store *s, size_t n)
{
    /* Load at most 3/4 after n inserts, as map_insert allows, in steps of
     * 1024 slots (the maps grow by doubling from there). */
    if (n > ((size_t)1 << 40))
        n = (size_t)1 << 40;
    size_t cap = (n + n / 3 + 2 + 1023) / 1024 * 1024;
    pthread_rwlock_wrlock(&s->lock);
    for (int p = SX_PARTY_RECIPIENT; p <= SX_PARTY_SENDER; p++)
        if (s->maps[p].cap < cap && map_grow_to(&s->maps[p], cap) != SX_OK)
            break; /* only a hint */
    pthread_rwlock_unlock(&s->lock);
    return SX_OK;
}

sx_queue *sx_store_find_cached(sx_store *s, sx_party party, sx_slice id)
{
    if (id.len != SX_ID_LEN || (unsigned)party > SX_PARTY_LINK)
        return NULL;
    pthread_rwlock_rdlock(&s->lock);
    sx_queue **slot = map_lookup(&s->maps[party], id.ptr, false);
    sx_queue *q = slot ? *slot : NULL;
    if (q)
        __atomic_fetch_add(&q->refs, 1, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&s->lock);
    return q;
}

void sx_store_set_loader(sx_store *s, const sx_queue_loader *l)
{
    pthread_rwlock_wrlock(&s->lock);
    s->lazy = l != NULL;
    if (l)
        s->loader = *l;
    pthread_rwlock_unlock(&s->lock);
}

bool sx_store_lazy(sx_store *s)
{
    pthread_rwlock_rdlock(&s->lock);
    bool lazy = s->lazy;
    pthread_rwlock_unlock(&s->lock);
    return lazy;
}

/* Adds a deleted queue to gone (the map lock held; takes the maps'
 * reference) and lets the ones older than GONE_SECONDS go. */
static void gone_add(sx_store *s, sx_queue *q, int64_t now)
{
    while (s->gone_head && now - s->gone_head->at >= GONE_SECONDS) {
        gone_node *g = s->gone_head;
        s->gone_head = g->next;
        if (!s->gone_head)
            s->gone_tail = NULL;
        map_remove(&s->gone, g->q->rid, g->q);
        if (s->gone.live == 0) { /* all gone: forget the tombstones */
            free(s->gone.slots);
            free(s->gone.tags);
            s->gone.slots = NULL;
            s->gone.tags = NULL;
            s->gone.cap = s->gone.used = 0;
        }
        sx_queue_release(s, g->q); /* frees it unless a caller still holds it */
        free(g);
    }
    gone_node *g = malloc(sizeof *g);
    if (!g || map_insert(&s->gone, q) != SX_OK) {
        free(g);
        sx_queue_release(s, q); /* not remembered: a later lookup may read it again */
        return;
    }
    g->q = q;
    g->at = now;
    g->next = NULL;
    if (s->gone_tail)
        s->gone_tail->next = g;
    else
        s->gone_head = g;
    s->gone_tail = g;
}

sx_queue *sx_store_find(sx_store *s, sx_party party, sx_slice id)
{
    sx_queue *q = sx_store_find_cached(s, party, id);
    if (q || id.len != SX_ID_LEN || (unsigned)party > SX_PARTY_LINK)
        return q;
    pthread_rwlock_rdlock(&s->lock);
    sx_queue_loader l = s->loader;
    bool lazy = s->lazy;
    pthread_rwlock_unlock(&s->lock);
    if (!lazy)
        return NULL;
    /* Read without any lock held; another thread may read the same queue
     * meanwhile: the first one in the maps is kept. */
    sx_queue *nq = NULL;
    if (l.load(l.ctx, party, id.ptr, &nq) != SX_OK || !nq)
        return NULL;
    nq->refs = 1; /* the maps' reference */
    pthread_rwlock_wrlock(&s->lock);
    sx_queue **slot = map_lookup(&s->maps[SX_PARTY_RECIPIENT], nq->rid, false);
    if (slot) {
        q = *slot; /* read by another thread first */
        if (key_of(q, party) && memcmp(key_of(q, party), id.ptr, SX_ID_LEN) == 0)
            __atomic_fetch_add(&q->refs, 1, __ATOMIC_RELAXED);
        else
            q = NULL;
    } else if (!map_lookup(&s->gone, nq->rid, false) && insert_all(s, nq) == SX_OK) {
        q = nq;
        nq = NULL;
        q->refs++; /* the caller's */
    }
    pthread_rwlock_unlock(&s->lock);
    if (nq)
        queue_free(nq);
    return q;
}

void sx_queue_discard(sx_queue *q)
{
    if (q)
        queue_free(q);
}

void sx_queue_retain(sx_store *s, sx_queue *q)
{
    (void)s;
    __atomic_fetch_add(&q->refs, 1, __ATOMIC_RELAXED);
}

void sx_queue_release(sx_store *s, sx_queue *q)
{
    (void)s;
    if (q && __atomic_sub_fetch(&q->refs, 1, __ATOMIC_ACQ_REL) == 0)
        queue_free(q);
}

void sx_store_delete(sx_store *s, sx_queue *q)
{
    pthread_rwlock_wrlock(&s->lock);
    bool was = q->deleted, lazy = s->lazy;
    if (!was) {
        for (int p = 0; p < 4; p++)
            map_remove(&s->maps[p], key_of(q, (sx_party)p), q);
        q->deleted = true;
    }
    pthread_rwlock_unlock(&s->lock);
    const sx_msg_backend *mb = msgs_backend(s);
    if (!was && mb)
        mb->deleted(mb->ctx, q);
    if (!was && lazy) {
        pthread_rwlock_wrlock(&s->lock);
        gone_add(s, q, (int64_t)time(NULL)); /* takes the maps' reference */
        pthread_rwlock_unlock(&s->lock);
    } else if (!was) {
        sx_queue_release(s, q); /* the maps' reference */
    }
}

sx_status sx_store_each(sx_store *s, void (*fn)(sx_queue *q, void *arg), void *arg)
{
    /* Over a retained snapshot, so that fn runs without the map lock and may
     * lock queues (the lock order is always queue, then map). */
    sx_queue **qs;
    size_t n;
    SX_TRY(sx_store_snapshot(s, &qs, &n));
    for (size_t i = 0; i < n; i++) {
        if (!qs[i]->deleted)
            fn(qs[i], arg);
        sx_queue_release(s, qs[i]);
    }
    free(qs);
    return SX_OK;
}

sx_status sx_store_set_notifier(sx_store *s, sx_queue *q, const sx_notifier *n)
{
    sx_notifier *nn = sx_queue_side_get(q) ? malloc(sizeof *nn) : NULL;
    if (!nn)
        return SX_E_NOMEM;
    *nn = *n;
    pthread_rwlock_wrlock(&s->lock);
    sx_status st = SX_E_AUTH;
    sx_queue **slot = map_lookup(&s->maps[SX_PARTY_NOTIFIER], nn->id, false);
    if (!slot && !q->deleted) {
        sx_notifier *old = q->side->notifier;
        if (old)
            map_remove(&s->maps[SX_PARTY_NOTIFIER], old->id, q);
        q->side->notifier = nn;
        st = map_insert(&s->maps[SX_PARTY_NOTIFIER], q);
        if (st != SX_OK) {
            q->side->notifier = old;
            if (old && map_insert(&s->maps[SX_PARTY_NOTIFIER], q) != SX_OK)
                q->side->notifier = NULL; /* cannot happen: its slot was just freed */
        } else if (old) {
            sx_wipe(old, sizeof *old);
            free(old);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    if (st != SX_OK) {
        sx_wipe(nn, sizeof *nn);
        free(nn);
    }
    return st;
}

void sx_store_delete_notifier(sx_store *s, sx_queue *q)
{
    pthread_rwlock_wrlock(&s->lock);
    sx_notifier *old = sx_queue_notifier(q);
    if (old) {
        map_remove(&s->maps[SX_PARTY_NOTIFIER], old->id, q);
        q->side->notifier = NULL;
    }
    pthread_rwlock_unlock(&s->lock);
    if (old) {
        sx_wipe(old, sizeof *old);
        free(old);
    }
}

sx_status sx_store_set_link(sx_store *s, sx_queue *q, sx_slice id, sx_slice fixed, sx_slice user)
{
    if (!sx_queue_side_get(q))
        return SX_E_NOMEM;
    sx_link *nl = sx_link_new(id, fixed, user);
    if (!nl)
        return id.len != SX_ID_LEN ? SX_E_USAGE : SX_E_NOMEM;
    pthread_rwlock_wrlock(&s->lock);
    sx_status st = SX_E_AUTH;
    sx_queue **slot = map_lookup(&s->maps[SX_PARTY_LINK], nl->id, false);
    if ((!slot || *slot == q) && !q->deleted) {
        sx_link *old = q->side->link;
        if (old)
            map_remove(&s->maps[SX_PARTY_LINK], old->id, q);
        q->side->link = nl;
        st = map_insert(&s->maps[SX_PARTY_LINK], q);
        if (st != SX_OK) {
            q->side->link = old;
            if (old && map_insert(&s->maps[SX_PARTY_LINK], q) != SX_OK)
                q->side->link = NULL;
        } else {
            free_link(old);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    if (st != SX_OK)
        free_link(nl);
    return st;
}

void sx_store_delete_link(sx_store *s, sx_queue *q)
{
    pthread_rwlock_wrlock(&s->lock);
    sx_link *old = sx_queue_link(q);
    if (old) {
        map_remove(&s->maps[SX_PARTY_LINK], old->id, q);
        q->side->link = NULL;
    }
    pthread_rwlock_unlock(&s->lock);
    free_link(old);
}

sx_qkey sx_queue_rkey(const sx_queue *q, size_t i)
{
    if (i >= q->n_rkeys)
        return (sx_qkey){0};
    return i == 0 ? qkey_in_get(&q->rkey) : q->side->extra_rkeys[i - 1];
}

sx_status sx_queue_set_rkeys(sx_queue *q, const sx_qkey *keys, size_t n)
{
    SX_ENSURE(n >= 1 && n <= SX_MAX_RCV_KEYS, SX_E_LIMIT);
    sx_qkey *extra = NULL;
    if (n > 1) {
        extra = sx_queue_side_get(q) ? malloc((n - 1) * sizeof *extra) : NULL;
        if (!extra)
            return SX_E_NOMEM;
        memcpy(extra, keys + 1, (n - 1) * sizeof *extra);
    }
    sx_status st = qkey_in_set(&q->rkey, &keys[0]);
    if (st != SX_OK) {
        free(extra);
        return st;
    }
    if (q->side) {
        free(q->side->extra_rkeys);
        q->side->extra_rkeys = extra;
    }
    q->n_rkeys = (uint8_t)n;
    return SX_OK;
}

sx_qkey sx_queue_skey(const sx_queue *q)
{
    return qkey_in_get(&q->skey);
}

sx_status sx_queue_set_skey(sx_queue *q, const sx_qkey *k)
{
    return qkey_in_set(&q->skey, k);
}

void sx_queue_clear_skey(sx_queue *q)
{
    free(qkey_in_long(&q->skey));
    memset(&q->skey, 0, sizeof q->skey);
}

static sx_msg *msg_new(const uint8_t id[SX_ID_LEN], int64_t ts, bool notify, bool quota, sx_slice body)
{
    if (body.len > UINT16_MAX)
        return NULL;
    sx_msg *m = malloc(sizeof *m + body.len);
    if (!m)
        return NULL;
    m->next = NULL;
    memcpy(m->id, id, SX_ID_LEN);
    m->ts = ts;
    m->notify = notify;
    m->quota = quota;
    m->len = (uint16_t)body.len;
    if (body.len)
        memcpy(m->body, body.ptr, body.len);
    return m;
}

static void append(sx_queue *q, sx_msg *m)
{
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->n_msgs++;
}

sx_status sx_queue_push(sx_store *s, sx_queue *q, const uint8_t id[SX_ID_LEN], int64_t ts, bool notify, sx_slice body,
                        sx_push_result *res, bool *was_empty)
{
    const sx_msg_backend *mb = msgs_backend(s);
    if (mb)
        return mb->push(mb->ctx, q, id, ts, notify, body, res, was_empty);
    *was_empty = q->head == NULL;
    *res = SX_PUSH_QUOTA;
    /* While the marker is stored, nothing more is accepted (PROTOCOL-NOTES
     * E11). */
    if (q->tail && q->tail->quota)
        return SX_OK;
    bool full = q->n_msgs >= SX_QUEUE_QUOTA;
    sx_msg *m = msg_new(id, ts, full ? false : notify, full, full ? sx_slice_of(NULL, 0) : body);
    if (!m)
        return SX_E_NOMEM;
    append(q, m);
    *res = full ? SX_PUSH_QUOTA : SX_PUSH_OK;
    return SX_OK;
}

sx_msg *sx_queue_head(sx_store *s, const sx_queue *q)
{
    const sx_msg_backend *mb = msgs_backend(s);
    return mb ? mb->head(mb->ctx, q) : q->head;
}

bool sx_queue_remove_head(sx_store *s, sx_queue *q, const uint8_t id[SX_ID_LEN])
{
    const sx_msg_backend *mb = msgs_backend(s);
    if (mb)
        return mb->remove_head(mb->ctx, q, id);
    sx_msg *m = q->head;
    if (!m || memcmp(m->id, id, SX_ID_LEN) != 0)
        return false;
    q->head = m->next;
    if (!q->head)
        q->tail = NULL;
    q->n_msgs--;
    sx_wipe(m, sizeof *m + m->len);
    free(m);
    return true;
}

bool sx_queue_remove_tail(sx_queue *q, const uint8_t id[SX_ID_LEN])
{
    sx_msg *m = q->tail;
    if (!m || memcmp(m->id, id, SX_ID_LEN) != 0)
        return false;
    sx_msg *prev = NULL;
    for (sx_msg *p = q->head; p != m; p = p->next)
        prev = p;
    if (prev)
        prev->next = NULL;
    else
        q->head = NULL;
    q->tail = prev;
    q->n_msgs--;
    sx_wipe(m, sizeof *m + m->len);
    free(m);
    return true;
}

void sx_queue_clear_msgs(sx_queue *q)
{
    free_msgs(q);
}

sx_status sx_queue_append_restored(sx_queue *q, const uint8_t id[SX_ID_LEN], int64_t ts, bool notify,
                                   bool quota, sx_slice body)
{
    SX_ENSURE(!(q->tail && q->tail->quota), SX_E_PROTOCOL);
    sx_msg *m = msg_new(id, ts, notify, quota, body);
    if (!m)
        return body.len > UINT16_MAX ? SX_E_LIMIT : SX_E_NOMEM;
    append(q, m);
    return SX_OK;
}

size_t sx_queue_expire(sx_store *s, sx_queue *q, int64_t cutoff)
{
    const sx_msg_backend *mb = msgs_backend(s);
    if (mb)
        return mb->expire(mb->ctx, q, cutoff);
    size_t n = 0;
    while (q->head && !q->head->quota && q->head->ts < cutoff) {
        uint8_t id[SX_ID_LEN];
        memcpy(id, q->head->id, SX_ID_LEN);
        sx_queue_remove_head(NULL, q, id);
        n++;
    }
    return n;
}

sx_status sx_qkey_from_key(const sx_key *k, sx_qkey *out)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    SX_TRY(sx_key_raw_public(k, out->raw, sizeof out->raw, &len));
    out->alg = (uint8_t)sx_key_alg_of(k);
    out->len = (uint8_t)len;
    return SX_OK;
}

sx_status sx_qkey_to_key(const sx_qkey *qk, sx_key **out)
{
    *out = NULL;
    SX_ENSURE(qk->len > 0, SX_E_USAGE);
    return sx_key_from_raw_public((sx_key_alg)qk->alg, sx_slice_of(qk->raw, qk->len), out);
}

bool sx_qkey_equal(const sx_qkey *a, const sx_qkey *b)
{
    return a->alg == b->alg && a->len == b->len && memcmp(a->raw, b->raw, a->len) == 0;
}

sx_status sx_queue_add_ntf(sx_queue *q, const sx_pending_ntf *n)
{
    sx_queue_side *x = sx_queue_side_get(q);
    sx_pending_ntf *e = x ? malloc(sizeof *e) : NULL;
    if (!e)
        return SX_E_NOMEM;
    *e = *n;
    e->next = NULL;
    if (q->n_ntfs >= SX_NTF_PENDING_MAX && x->ntf_head) {
        sx_pending_ntf *old = x->ntf_head;
        x->ntf_head = old->next;
        if (!x->ntf_head)
            x->ntf_tail = NULL;
        q->n_ntfs--;
        free(old);
    }
    if (x->ntf_tail)
        x->ntf_tail->next = e;
    else
        x->ntf_head = e;
    x->ntf_tail = e;
    q->n_ntfs++;
    return SX_OK;
}

sx_pending_ntf *sx_queue_take_ntfs(sx_queue *q)
{
    if (!q->side)
        return NULL;
    sx_pending_ntf *h = q->side->ntf_head;
    q->side->ntf_head = q->side->ntf_tail = NULL;
    q->n_ntfs = 0;
    return h;
}

void sx_queue_drop_ntfs(sx_queue *q)
{
    sx_pending_ntf *e = sx_queue_take_ntfs(q);
    while (e) {
        sx_pending_ntf *next = e->next;
        free(e);
        e = next;
    }
}

size_t sx_queue_expire_ntfs(sx_queue *q, int64_t cutoff)
{
    size_t n = 0;
    sx_queue_side *x = q->side;
    while (x && x->ntf_head && x->ntf_head->ts < cutoff) {
        sx_pending_ntf *e = x->ntf_head;
        x->ntf_head = e->next;
        if (!x->ntf_head)
            x->ntf_tail = NULL;
        q->n_ntfs--;
        free(e);
        n++;
    }
    return n;
}

sx_status sx_store_snapshot(sx_store *s, sx_queue ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&s->lock);
    qmap *m = &s->maps[SX_PARTY_RECIPIENT];
    sx_queue **arr = malloc((m->live ? m->live : 1) * sizeof *arr);
    if (!arr) {
        pthread_rwlock_unlock(&s->lock);
        return SX_E_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->cap && k < m->live; i++) {
        sx_queue *q = m->slots[i];
        if (q && q != TOMB) {
            __atomic_fetch_add(&q->refs, 1, __ATOMIC_RELAXED);
            arr[k++] = q;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    *out = arr;
    *n = k;
    return SX_OK;
}
