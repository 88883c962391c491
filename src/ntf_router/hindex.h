/* An intrusive hash index with chaining, for the NTF router's stores
 * (subscriptions by id, by SMP queue and by token; the SMP side's notifiers
 * by pointer and by subscription id): a record embeds one sx_hnode per index
 * it is in, the index keeps only bucket heads. Several nodes may share a key
 * (a token's subscriptions): a lookup walks the nodes of one hash and the
 * caller compares keys. Hashes are keyed by a per-index random seed, so that
 * keys chosen by clients (notifier ids) cannot aim at one bucket. The index
 * grows (doubling) when it holds more nodes than buckets. Not thread-safe:
 * the owner's mutex guards it. */
#ifndef SX_NTF_ROUTER_HINDEX_H
#define SX_NTF_ROUTER_HINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "simplex/status.h"

typedef struct sx_hnode {
    struct sx_hnode *next;
    uint64_t hash;
} sx_hnode;

typedef struct sx_hindex {
    sx_hnode **buckets;
    size_t cap; /* a power of two, or 0 */
    size_t count;
    uint64_t seed;
} sx_hindex;

/* An empty index with a fresh random seed. */
void sx_hindex_init(sx_hindex *ix);
/* Frees the buckets (not the records) and empties the index. */
void sx_hindex_free(sx_hindex *ix);

/* The keyed hash of parts a and b (b may be empty): a lookup and an insert
 * of the same key must hash the same parts. */
uint64_t sx_hindex_hash(const sx_hindex *ix, sx_slice a, sx_slice b);

/* Adds node n with hash h (n must not be in the index). SX_E_NOMEM only
 * when the index has no buckets yet and none can be had. */
SX_MUST_CHECK sx_status sx_hindex_add(sx_hindex *ix, sx_hnode *n, uint64_t h);
/* Removes node n (it must be in the index). */
void sx_hindex_remove(sx_hindex *ix, sx_hnode *n);
/* The first node of hash h, and the next one of the same hash after n:
 * candidates whose keys the caller compares. NULL at the end. */
sx_hnode *sx_hindex_first(const sx_hindex *ix, uint64_t h);
sx_hnode *sx_hindex_next(const sx_hnode *n);
/* Bucket walks (stable while the index is not changed): the nodes of
 * bucket i, 0 <= i < cap, are bucket_head(i), then ->next. */
sx_hnode *sx_hindex_bucket(const sx_hindex *ix, size_t i);

/* The record holding node member m of type T. */
#define SX_HNODE_OWNER(node, T, m) ((T *)(void *)((char *)(node)-offsetof(T, m)))

#endif
