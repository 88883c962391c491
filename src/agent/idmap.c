/* The agent's key -> index map (idmap.h). */
#include "agent/idmap.h"

#include <stdlib.h>

#include "core/error.h"

/* A 64-bit finaliser: consecutive row ids and aligned pointers spread
 * over the whole table. */
static size_t slot_of(const sx_agent_idmap *m, uint64_t key)
{
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & (m->cap - 1);
}

void sx_agent_idmap_free(sx_agent_idmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = 0;
    m->count = 0;
}

/* Puts into a table known to have room. */
static void put_room(sx_agent_idmap *m, uint64_t key, size_t val)
{
    size_t i = slot_of(m, key);
    while (m->vals[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->vals[i] == 0)
        m->count++;
    m->keys[i] = key;
    m->vals[i] = val + 1;
}

sx_status sx_agent_idmap_reserve(sx_agent_idmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 16;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4 / sizeof(uint64_t))
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        cap *= 2;
    }
    if (cap == m->cap)
        return SX_OK;
    sx_agent_idmap g = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(size_t)), cap, 0};
    if (!g.keys || !g.vals) {
        sx_agent_idmap_free(&g);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->vals[i] != 0)
            put_room(&g, m->keys[i], m->vals[i] - 1);
    sx_agent_idmap_free(m);
    *m = g;
    return SX_OK;
}

sx_status sx_agent_idmap_put(sx_agent_idmap *m, uint64_t key, size_t val)
{
    if (val == SIZE_MAX)
        return sx_error_set(SX_E_USAGE, NULL, "idmap: value out of range");
    SX_TRY(sx_agent_idmap_reserve(m, m->count + 1));
    put_room(m, key, val);
    return SX_OK;
}

void sx_agent_idmap_put_reserved(sx_agent_idmap *m, uint64_t key, size_t val)
{
    size_t old;
    if (val != SIZE_MAX && m->cap > 0 &&
        (m->count + 1 <= m->cap / 2 || sx_agent_idmap_get(m, key, &old)))
        put_room(m, key, val);
}

bool sx_agent_idmap_get(const sx_agent_idmap *m, uint64_t key, size_t *val)
{
    if (m->cap == 0)
        return false;
    for (size_t i = slot_of(m, key); m->vals[i] != 0; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key) {
            *val = m->vals[i] - 1;
            return true;
        }
    return false;
}

bool sx_agent_idmap_remove(sx_agent_idmap *m, uint64_t key)
{
    if (m->cap == 0)
        return false;
    size_t mask = m->cap - 1, i = slot_of(m, key);
    while (m->vals[i] != 0 && m->keys[i] != key)
        i = (i + 1) & mask;
    if (m->vals[i] == 0)
        return false;
    /* Shift back every following entry of the run whose home slot does
     * not lie cyclically in (i, j]. */
    for (size_t j = (i + 1) & mask; m->vals[j] != 0; j = (j + 1) & mask) {
        size_t h = slot_of(m, m->keys[j]);
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->vals[i] = 0;
    m->keys[i] = 0;
    m->count--;
    return true;
}
