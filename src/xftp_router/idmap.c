/* Open-addressing map of 16-byte ids (see idmap.h). */
#include "xftp_router/idmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "crypto/util.h"

static char tomb_mark;
#define TOMB ((void *)&tomb_mark)

static size_t id_hash(const sx_idmap *m, const uint8_t *k)
{
    uint64_t a, b;
    memcpy(&a, k, 8);
    memcpy(&b, k + 8, 8);
    return (size_t)sx_mix64(a ^ m->seed ^ sx_mix64(b + m->seed));
}

static sx_idmap_slot *find_slot(const sx_idmap *m, const uint8_t *k)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = id_hash(m, k) & mask, n = 0; n < m->cap; i = (i + 1) & mask, n++) {
        sx_idmap_slot *s = &m->slots[i];
        if (!s->val)
            return NULL;
        if (s->val != TOMB && memcmp(s->key, k, SX_IDMAP_KEY_LEN) == 0)
            return s;
    }
    return NULL;
}

void *sx_idmap_get(const sx_idmap *m, const uint8_t k[SX_IDMAP_KEY_LEN])
{
    sx_idmap_slot *s = find_slot(m, k);
    return s ? s->val : NULL;
}

static sx_status rehash(sx_idmap *m, size_t cap)
{
    sx_idmap_slot *ns = calloc(cap, sizeof *ns);
    if (!ns)
        return SX_E_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        sx_idmap_slot *s = &m->slots[i];
        if (!s->val || s->val == TOMB)
            continue;
        size_t j = id_hash(m, s->key) & (cap - 1);
        while (ns[j].val)
            j = (j + 1) & (cap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = cap;
    m->tombs = 0;
    return SX_OK;
}

/* Inserts k -> v; k must not be present. */
sx_status sx_idmap_put(sx_idmap *m, const uint8_t k[SX_IDMAP_KEY_LEN], void *v)
{
    if ((m->count + m->tombs + 1) * 4 >= m->cap * 3) {
        size_t cap = m->cap ? m->cap : 64;
        while ((m->count + 1) * 2 >= cap)
            cap *= 2;
        sx_status st = rehash(m, cap);
        if (st != SX_OK)
            return st;
    }
    size_t mask = m->cap - 1;
    size_t i = id_hash(m, k) & mask;
    while (m->slots[i].val && m->slots[i].val != TOMB)
        i = (i + 1) & mask;
    if (m->slots[i].val == TOMB)
        m->tombs--;
    memcpy(m->slots[i].key, k, SX_IDMAP_KEY_LEN);
    m->slots[i].val = v;
    m->count++;
    return SX_OK;
}

void *sx_idmap_del(sx_idmap *m, const uint8_t k[SX_IDMAP_KEY_LEN])
{
    sx_idmap_slot *s = find_slot(m, k);
    if (!s)
        return NULL;
    void *v = s->val;
    s->val = TOMB;
    m->count--;
    m->tombs++;
    return v;
}

void sx_idmap_free(sx_idmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

void sx_idmap_init(sx_idmap *m)
{
    memset(m, 0, sizeof *m);
    sx_random_bytes(&m->seed, sizeof m->seed);
}

void *sx_idmap_at(const sx_idmap *m, size_t i)
{
    if (i >= m->cap)
        return NULL;
    void *v = m->slots[i].val;
    return v == TOMB ? NULL : v;
}
