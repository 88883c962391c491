/* The services of the SMP store log, kept beside the queue store (see
 * slservices.h). */
#include "smp_router/slservices.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct svc_entry {
    sx_slservice svc;
    uint8_t *mem;
} svc_entry;

/* A queue's services as 1-based indexes into the id pool (0: none). */
typedef struct queue_svc {
    uint8_t rid[SX_ID_LEN];
    uint16_t r, n;
    bool used;
} queue_svc;

/* The service ids queues refer to, each kept once (they need not be
 * registered services: a log may name others). */
typedef struct pool_id {
    uint8_t len;
    uint8_t b[SX_SL_SERVICE_ID_MAX];
} pool_id;

#define POOL_MAX 65535

struct sx_slservices {
    svc_entry *svcs;
    size_t n, cap;
    /* Queues with a service: open addressing, linear probing, keyed by
     * rid. */
    queue_svc *qs;
    size_t nq, qcap; /* used, slots (a power of two, or 0) */
    pool_id *ids;
    size_t nids, idcap;
};

sx_status sx_slservices_new(sx_slservices **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? SX_OK : SX_E_NOMEM;
}

void sx_slservices_free(sx_slservices *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->svcs[i].mem);
    free(s->svcs);
    free(s->qs);
    free(s->ids);
    free(s);
}

size_t sx_slservices_count(const sx_slservices *s) { return s ? s->n : 0; }

const sx_slservice *sx_slservices_at(const sx_slservices *s, size_t i)
{
    return i < s->n ? &s->svcs[i].svc : NULL;
}

static sx_slice copy_into(uint8_t **dst, sx_slice src)
{
    sx_slice out = sx_slice_of(*dst, src.len);
    if (src.len)
        memcpy(*dst, src.ptr, src.len);
    *dst += src.len;
    return out;
}

sx_status sx_slservices_add(sx_slservices *s, const sx_slservice *svc, sx_slice *existing_id)
{
    if (existing_id)
        *existing_id = sx_slice_of(NULL, 0);
    SX_ENSURE(svc->id.len > 0 && svc->n_certs <= SX_SL_CERTS_MAX, SX_E_USAGE);
    SX_ENSURE(svc->id.len <= SX_SL_SERVICE_ID_MAX, SX_E_LIMIT);
    for (size_t i = 0; i < s->n; i++) {
        const sx_slservice *e = &s->svcs[i].svc;
        if (sx_slice_eq(e->cert_hash, svc->cert_hash)) {
            if (e->role != svc->role)
                return SX_E_AUTH;
            if (existing_id)
                *existing_id = e->id;
            return SX_OK;
        }
    }
    for (size_t i = 0; i < s->n; i++)
        if (sx_slice_eq(s->svcs[i].svc.id, svc->id))
            return SX_E_AUTH;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        svc_entry *n = realloc(s->svcs, cap * sizeof *n);
        if (!n)
            return SX_E_NOMEM;
        s->svcs = n;
        s->cap = cap;
    }
    size_t total = svc->id.len + svc->cert_hash.len;
    for (size_t i = 0; i < svc->n_certs; i++)
        total += svc->certs[i].len;
    uint8_t *mem = malloc(total ? total : 1), *p = mem;
    if (!mem)
        return SX_E_NOMEM;
    svc_entry *e = &s->svcs[s->n++];
    e->mem = mem;
    e->svc = *svc;
    e->svc.id = copy_into(&p, svc->id);
    for (size_t i = 0; i < svc->n_certs; i++)
        e->svc.certs[i] = copy_into(&p, svc->certs[i]);
    e->svc.cert_hash = copy_into(&p, svc->cert_hash);
    return SX_OK;
}

static size_t rid_hash(const uint8_t rid[SX_ID_LEN])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < SX_ID_LEN; i++)
        h = (h ^ rid[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The slot of rid, or the empty slot where it would go (*found false). */
static size_t qs_find(const sx_slservices *s, const uint8_t rid[SX_ID_LEN], bool *found)
{
    *found = false;
    if (!s->qcap)
        return 0;
    size_t mask = s->qcap - 1;
    for (size_t i = rid_hash(rid) & mask;; i = (i + 1) & mask) {
        if (!s->qs[i].used)
            return i;
        if (memcmp(s->qs[i].rid, rid, SX_ID_LEN) == 0) {
            *found = true;
            return i;
        }
    }
}

/* Empties slot i and moves later entries of its run back (no tombstones). */
static void qs_remove(sx_slservices *s, size_t i)
{
    size_t mask = s->qcap - 1;
    memset(&s->qs[i], 0, sizeof s->qs[i]);
    s->nq--;
    for (size_t j = (i + 1) & mask; s->qs[j].used; j = (j + 1) & mask) {
        size_t home = rid_hash(s->qs[j].rid) & mask;
        /* j's entry may move to i when i lies between its home and j */
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            s->qs[i] = s->qs[j];
            memset(&s->qs[j], 0, sizeof s->qs[j]);
            i = j;
        }
    }
}

static sx_status qs_grow(sx_slservices *s)
{
    size_t cap = s->qcap ? s->qcap * 2 : 64;
    queue_svc *n = calloc(cap, sizeof *n);
    if (!n)
        return SX_E_NOMEM;
    queue_svc *old = s->qs;
    size_t old_cap = s->qcap;
    s->qs = n;
    s->qcap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].used)
            continue;
        bool found;
        s->qs[qs_find(s, old[i].rid, &found)] = old[i];
    }
    free(old);
    return SX_OK;
}

/* The 1-based pool index of id (added when new); 0 with SX_E_NOMEM or
 * SX_E_LIMIT in *st. */
static uint16_t pool_intern(sx_slservices *s, sx_slice id, sx_status *st)
{
    for (size_t i = 0; i < s->nids; i++)
        if (s->ids[i].len == id.len && memcmp(s->ids[i].b, id.ptr, id.len) == 0)
            return (uint16_t)(i + 1);
    if (s->nids == POOL_MAX) {
        *st = SX_E_LIMIT;
        return 0;
    }
    if (s->nids == s->idcap) {
        size_t cap = s->idcap ? s->idcap * 2 : 4;
        pool_id *n = realloc(s->ids, cap * sizeof *n);
        if (!n) {
            *st = SX_E_NOMEM;
            return 0;
        }
        s->ids = n;
        s->idcap = cap;
    }
    pool_id *e = &s->ids[s->nids++];
    e->len = (uint8_t)id.len;
    memcpy(e->b, id.ptr, id.len);
    return (uint16_t)s->nids;
}

static sx_slice pool_get(const sx_slservices *s, uint16_t i)
{
    return i ? sx_slice_of(s->ids[i - 1].b, s->ids[i - 1].len) : sx_slice_of(NULL, 0);
}

sx_status sx_slservices_set_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN], uint8_t party, sx_slice service)
{
    SX_ENSURE(party == 'R' || party == 'N', SX_E_USAGE);
    SX_ENSURE(service.len <= SX_SL_SERVICE_ID_MAX, SX_E_LIMIT);
    bool found;
    size_t i = qs_find(s, rid, &found);
    if (!found && service.len == 0)
        return SX_OK;
    sx_status st = SX_OK;
    uint16_t idx = service.len ? pool_intern(s, service, &st) : 0;
    if (st != SX_OK)
        return st;
    if (!found) {
        if ((s->nq + 1) * 4 > s->qcap * 3) { /* at most 3/4 full */
            SX_TRY(qs_grow(s));
            i = qs_find(s, rid, &found);
        }
        memset(&s->qs[i], 0, sizeof s->qs[i]);
        memcpy(s->qs[i].rid, rid, SX_ID_LEN);
        s->qs[i].used = true;
        s->nq++;
    }
    queue_svc *e = &s->qs[i];
    if (party == 'R')
        e->r = idx;
    else
        e->n = idx;
    if (!e->r && !e->n)
        qs_remove(s, i);
    return SX_OK;
}

void sx_slservices_queue(const sx_slservices *s, const uint8_t rid[SX_ID_LEN], sx_slice *rsrv, sx_slice *nsrv)
{
    *rsrv = *nsrv = sx_slice_of(NULL, 0);
    bool found;
    size_t i = qs_find(s, rid, &found);
    if (!found)
        return;
    *rsrv = pool_get(s, s->qs[i].r);
    *nsrv = pool_get(s, s->qs[i].n);
}

void sx_slservices_forget_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN])
{
    bool found;
    size_t i = qs_find(s, rid, &found);
    if (found)
        qs_remove(s, i);
}

const sx_slservice *sx_slservices_by_cert(const sx_slservices *s, sx_slice cert_hash)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (sx_slice_eq(s->svcs[i].svc.cert_hash, cert_hash))
            return &s->svcs[i].svc;
    return NULL;
}

void sx_slservices_each_queue(const sx_slservices *s, uint8_t party, sx_slice service_id,
                              void (*fn)(void *arg, const uint8_t rid[SX_ID_LEN]), void *arg)
{
    for (size_t i = 0; s && i < s->qcap; i++) {
        const queue_svc *e = &s->qs[i];
        uint16_t idx = !e->used ? 0 : party == 'R' ? e->r
                                                   : e->n;
        if (idx && sx_slice_eq(pool_get(s, idx), service_id))
            fn(arg, e->rid);
    }
}
