/* The pool's proxy choices (see pool_proxy.h). */
#include "smp_client/pool_proxy.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

static char *dup_str(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

sx_status sx_pool_proxy_cfg_init(sx_pool_proxy_cfg *c, const sx_smp_pool_opts *o)
{
    memset(c, 0, sizeof *c);
    c->mode = o->proxy_mode;
    c->fallback = o->proxy_fallback;
    c->protected_addr = o->address_protected;
    if ((unsigned)c->mode > SX_SMP_PROXY_UNPROTECTED || (unsigned)c->fallback > SX_SMP_FALLBACK_PROHIBIT)
        return sx_error_set(SX_E_USAGE, NULL, "pool: unknown proxy mode or fallback");
    if (c->mode != SX_SMP_PROXY_NEVER && (o->n_proxies == 0 || !o->proxies))
        return sx_error_set(SX_E_USAGE, NULL, "pool: a proxy mode without proxy routers");
    sx_status st = SX_OK;
    if (o->n_proxies && o->proxies) {
        c->proxies = calloc(o->n_proxies, sizeof *c->proxies);
        c->proxy_text = calloc(o->n_proxies, sizeof *c->proxy_text);
        if (!c->proxies || !c->proxy_text)
            st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        for (size_t i = 0; st == SX_OK && i < o->n_proxies; i++, c->n_proxies++) {
            if (!o->proxies[i] || sx_smp_address_parse(o->proxies[i], &c->proxies[i]) != SX_OK)
                st = sx_error_set(SX_E_USAGE, NULL, "pool: proxy router %zu: the address does not parse", i + 1);
            else if (!(c->proxy_text[i] = dup_str(o->proxies[i], strlen(o->proxies[i]))))
                st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
    }
    if (st == SX_OK && o->n_known_routers && o->known_routers) {
        c->known = calloc(o->n_known_routers, sizeof *c->known);
        if (!c->known)
            st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        for (size_t i = 0; st == SX_OK && i < o->n_known_routers; i++) {
            const char *k = o->known_routers[i];
            if (!k)
                continue;
            sx_smp_address a;
            if (strstr(k, "://")) {
                if (sx_smp_address_parse(k, &a) != SX_OK)
                    st = sx_error_set(SX_E_USAGE, NULL, "pool: known router %zu: the address does not parse",
                                      i + 1);
                else if (!(c->known[c->n_known++] = dup_str(a.host, strlen(a.host))))
                    st = sx_error_set(SX_E_NOMEM, NULL, NULL);
                sx_wipe(&a, sizeof a);
            } else if (!(c->known[c->n_known++] = dup_str(k, strlen(k)))) {
                st = sx_error_set(SX_E_NOMEM, NULL, NULL);
            }
        }
    }
    if (st != SX_OK)
        sx_pool_proxy_cfg_cleanup(c);
    return st;
}

void sx_pool_proxy_cfg_cleanup(sx_pool_proxy_cfg *c)
{
    if (c->proxies)
        sx_wipe(c->proxies, c->n_proxies * sizeof *c->proxies);
    free(c->proxies);
    for (size_t i = 0; c->proxy_text && i < c->n_proxies; i++) {
        if (c->proxy_text[i]) {
            sx_wipe(c->proxy_text[i], strlen(c->proxy_text[i]));
            free(c->proxy_text[i]);
        }
    }
    free(c->proxy_text);
    for (size_t i = 0; i < c->n_known; i++)
        free(c->known[i]);
    free(c->known);
    memset(c, 0, sizeof *c);
}

static bool known(const sx_pool_proxy_cfg *c, const sx_smp_address *dest)
{
    for (size_t i = 0; i < c->n_known; i++)
        if (c->known[i] && strcmp(c->known[i], dest->host) == 0)
            return true;
    return false;
}

bool sx_pool_proxy_use(const sx_pool_proxy_cfg *c, const sx_smp_address *dest)
{
    switch (c->mode) {
    case SX_SMP_PROXY_ALWAYS: return true;
    case SX_SMP_PROXY_UNKNOWN: return !known(c, dest);
    case SX_SMP_PROXY_UNPROTECTED: return !c->protected_addr && !known(c, dest);
    case SX_SMP_PROXY_NEVER: break;
    }
    return false;
}

bool sx_pool_proxy_fallback_ok(const sx_pool_proxy_cfg *c)
{
    switch (c->fallback) {
    case SX_SMP_FALLBACK_ALLOW: return true;
    case SX_SMP_FALLBACK_ALLOW_PROTECTED: return c->protected_addr;
    case SX_SMP_FALLBACK_PROHIBIT: break;
    }
    return false;
}

size_t sx_pool_proxy_pick(const sx_pool_proxy_cfg *c, const sx_smp_address *dest)
{
    size_t other = 0;
    for (size_t i = 0; i < c->n_proxies; i++)
        other += strcmp(c->proxies[i].host, dest->host) != 0;
    uint32_t r = 0;
    sx_random_bytes((uint8_t *)&r, sizeof r);
    if (other == 0)
        return c->n_proxies ? r % c->n_proxies : 0;
    size_t k = r % other;
    for (size_t i = 0; i < c->n_proxies; i++)
        if (strcmp(c->proxies[i].host, dest->host) != 0 && k-- == 0)
            return i;
    return 0;
}
