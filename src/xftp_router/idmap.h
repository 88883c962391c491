/* An open-addressing hash map from 16-byte ids (XFTP sender and recipient
 * ids) to pointers, for the file store (fstore.c): linear probing with
 * deletion marks, a per-map random seed so that ids chosen by clients cannot
 * aim at one chain; it grows when three quarters of its slots are taken
 * (live or marked), to at least twice the live count. Not
 * thread-safe: the store's mutex guards it. */
#ifndef SX_XFTP_IDMAP_H
#define SX_XFTP_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

#define SX_IDMAP_KEY_LEN 16

typedef struct sx_idmap_slot {
    uint8_t key[SX_IDMAP_KEY_LEN];
    void *val; /* NULL: empty; the map's mark: deleted */
} sx_idmap_slot;

typedef struct sx_idmap {
    sx_idmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t count, tombs;
    uint64_t seed;
} sx_idmap;

/* An empty map with a fresh random seed. */
void sx_idmap_init(sx_idmap *m);
/* The value stored for k, or NULL. */
void *sx_idmap_get(const sx_idmap *m, const uint8_t k[SX_IDMAP_KEY_LEN]);
/* Inserts k -> v (v not NULL); k must not be present. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_idmap_put(sx_idmap *m, const uint8_t k[SX_IDMAP_KEY_LEN], void *v);
/* Removes k; returns its value, or NULL when absent. */
void *sx_idmap_del(sx_idmap *m, const uint8_t k[SX_IDMAP_KEY_LEN]);
/* For walks over slots 0..cap-1 (stable while the map is not changed): the
 * value in slot i, NULL when it is empty or deleted. */
void *sx_idmap_at(const sx_idmap *m, size_t i);
/* Frees the slots (not the values) and empties the map. */
void sx_idmap_free(sx_idmap *m);

#endif
