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

typedef struct queue_svc {
    uint8_t rid[SX_ID_LEN];
    uint8_t rlen, nlen;
    uint8_t rsrv[SX_SL_SERVICE_ID_MAX];
    uint8_t nsrv[SX_SL_SERVICE_ID_MAX];
} queue_svc;

struct sx_slservices {
    svc_entry *svcs;
    size_t n, cap;
    queue_svc *qs; /* sorted by rid */
    size_t nq, qcap;
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

/* Index of rid in s->qs, or where it would go (*found false). */
static size_t qs_find(const sx_slservices *s, const uint8_t rid[SX_ID_LEN], bool *found)
{
    size_t lo = 0, hi = s->nq;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->qs[mid].rid, rid, SX_ID_LEN);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void qs_remove(sx_slservices *s, size_t i)
{
    memmove(&s->qs[i], &s->qs[i + 1], (s->nq - i - 1) * sizeof s->qs[0]);
    s->nq--;
}

sx_status sx_slservices_set_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN], uint8_t party, sx_slice service)
{
    SX_ENSURE(party == 'R' || party == 'N', SX_E_USAGE);
    SX_ENSURE(service.len <= SX_SL_SERVICE_ID_MAX, SX_E_LIMIT);
    bool found;
    size_t i = qs_find(s, rid, &found);
    if (!found) {
        if (service.len == 0)
            return SX_OK;
        if (s->nq == s->qcap) {
            size_t cap = s->qcap ? s->qcap * 2 : 16;
            queue_svc *n = realloc(s->qs, cap * sizeof *n);
            if (!n)
                return SX_E_NOMEM;
            s->qs = n;
            s->qcap = cap;
        }
        memmove(&s->qs[i + 1], &s->qs[i], (s->nq - i) * sizeof s->qs[0]);
        s->nq++;
        memset(&s->qs[i], 0, sizeof s->qs[i]);
        memcpy(s->qs[i].rid, rid, SX_ID_LEN);
    }
    queue_svc *e = &s->qs[i];
    if (party == 'R') {
        e->rlen = (uint8_t)service.len;
        if (service.len)
            memcpy(e->rsrv, service.ptr, service.len);
    } else {
        e->nlen = (uint8_t)service.len;
        if (service.len)
            memcpy(e->nsrv, service.ptr, service.len);
    }
    if (!e->rlen && !e->nlen)
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
    *rsrv = sx_slice_of(s->qs[i].rsrv, s->qs[i].rlen);
    *nsrv = sx_slice_of(s->qs[i].nsrv, s->qs[i].nlen);
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
    for (size_t i = 0; s && i < s->nq; i++) {
        const queue_svc *e = &s->qs[i];
        sx_slice have = party == 'R' ? sx_slice_of(e->rsrv, e->rlen) : sx_slice_of(e->nsrv, e->nlen);
        if (have.len && sx_slice_eq(have, service_id))
            fn(arg, e->rid);
    }
}
