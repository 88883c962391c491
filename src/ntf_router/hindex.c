/* The NTF router's intrusive hash index (see hindex.h). */
#include "ntf_router/hindex.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"

void sx_hindex_init(sx_hindex *ix)
{
    memset(ix, 0, sizeof *ix);
    sx_random_bytes(&ix->seed, sizeof ix->seed);
}

void sx_hindex_free(sx_hindex *ix)
{
    free(ix->buckets);
    ix->buckets = NULL;
    ix->cap = ix->count = 0;
}

static uint64_t mix_part(uint64_t h, sx_slice p)
{
    size_t i = 0;
    for (; i + 8 <= p.len; i += 8) {
        uint64_t v;
        memcpy(&v, p.ptr + i, 8);
        h = sx_mix64(h ^ v);
    }
    uint64_t tail = 0;
    if (i < p.len)
        memcpy(&tail, p.ptr + i, p.len - i);
    /* the length ends each part, so that ("ab","c") and ("a","bc") differ */
    return sx_mix64(h ^ tail ^ ((uint64_t)p.len << 56));
}

uint64_t sx_hindex_hash(const sx_hindex *ix, sx_slice a, sx_slice b)
{
    uint64_t h = mix_part(ix->seed, a);
    return mix_part(h + 0x9e3779b97f4a7c15ULL, b);
}

static void grow(sx_hindex *ix, size_t cap)
{
    sx_hnode **nb = calloc(cap, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < ix->cap; i++) {
        sx_hnode *n = ix->buckets[i];
        while (n) {
            sx_hnode *next = n->next;
            size_t j = (size_t)n->hash & (cap - 1);
            n->next = nb[j];
            nb[j] = n;
            n = next;
        }
    }
    free(ix->buckets);
    ix->buckets = nb;
    ix->cap = cap;
}

sx_status sx_hindex_add(sx_hindex *ix, sx_hnode *n, uint64_t h)
{
    if (ix->count + 1 > ix->cap)
        grow(ix, ix->cap ? ix->cap * 2 : 64);
    SX_ENSURE(ix->cap > 0, SX_E_NOMEM);
    n->hash = h;
    size_t j = (size_t)h & (ix->cap - 1);
    n->next = ix->buckets[j];
    ix->buckets[j] = n;
    ix->count++;
    return SX_OK;
}

void sx_hindex_remove(sx_hindex *ix, sx_hnode *n)
{
    if (!ix->cap)
        return;
    for (sx_hnode **p = &ix->buckets[(size_t)n->hash & (ix->cap - 1)]; *p; p = &(*p)->next)
        if (*p == n) {
            *p = n->next;
            n->next = NULL;
            ix->count--;
            return;
        }
}

static sx_hnode *same_hash(sx_hnode *n, uint64_t h)
{
    while (n && n->hash != h)
        n = n->next;
    return n;
}

sx_hnode *sx_hindex_first(const sx_hindex *ix, uint64_t h)
{
    return ix->cap ? same_hash(ix->buckets[(size_t)h & (ix->cap - 1)], h) : NULL;
}

sx_hnode *sx_hindex_next(const sx_hnode *n)
{
    return same_hash(n->next, n->hash);
}

sx_hnode *sx_hindex_bucket(const sx_hindex *ix, size_t i)
{
    return i < ix->cap ? ix->buckets[i] : NULL;
}
