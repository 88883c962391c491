/* A small open-addressing hash map from a 64-bit key to an index, for the
 * agent's in-memory queue tables (receiving queues by store id and by
 * their client object): lookups that are linear scans otherwise, once per
 * received message and once per queue when an agent opens. Linear probing
 * in a power-of-two table kept at most half full; removal shifts the
 * following entries back (no tombstones). Keys are the agent's own (store
 * row ids, pointers), not a peer's, so the hash is unkeyed. Not
 * thread-safe: the agent's mutex guards it. */
#ifndef SX_AGENT_IDMAP_H
#define SX_AGENT_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

typedef struct sx_agent_idmap {
    uint64_t *keys;
    size_t *vals; /* the index + 1; 0: an empty slot */
    size_t cap;   /* a power of two, or 0 */
    size_t count;
} sx_agent_idmap;

/* Frees the table; the map is empty (all zero is empty too). */
void sx_agent_idmap_free(sx_agent_idmap *m);
/* Room for n entries in all, so that puts up to n cannot fail. */
SX_MUST_CHECK sx_status sx_agent_idmap_reserve(sx_agent_idmap *m, size_t n);
/* Sets key to val (replacing a value it had). SX_E_NOMEM when the table
 * had to grow and could not. */
SX_MUST_CHECK sx_status sx_agent_idmap_put(sx_agent_idmap *m, uint64_t key, size_t val);
/* The same in room made by sx_agent_idmap_reserve (so it cannot fail);
 * without the room it does nothing. */
void sx_agent_idmap_put_reserved(sx_agent_idmap *m, uint64_t key, size_t val);
/* The value of key into *val; false when the key is absent. */
bool sx_agent_idmap_get(const sx_agent_idmap *m, uint64_t key, size_t *val);
/* Removes key; false when it was absent. */
bool sx_agent_idmap_remove(sx_agent_idmap *m, uint64_t key);

#endif
