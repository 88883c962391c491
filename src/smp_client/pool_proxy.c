/* The pool's proxy choices (see pool_proxy.h). */
#include "smp_client/pool_proxy.h"

#include <stdio.h>
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

/* An address's hosts, port and key hash, without its password. */
static sx_status public_id(const char *text, sx_server_address *out)
{
    sx_server_address full;
    char pub[SX_SERVER_ADDRESS_MAX + 1];
    size_t n = 0;
    sx_status st = sx_server_address_parse(text, strlen(text), &full);
    if (st == SX_OK)
        st = sx_server_address_format(&full, false, pub, sizeof pub, &n);
    if (st == SX_OK)
        st = sx_server_address_parse(pub, n, out);
    sx_wipe(&full, sizeof full);
    sx_wipe(pub, sizeof pub);
    return st;
}

/* A bare host name of known_routers as an address of that one host (the
 * key hash, a placeholder, is never compared here). */
static sx_status bare_host(const char *host, sx_server_address *out)
{
    char text[SX_SERVER_ADDRESS_MAX + 1];
    int n = snprintf(text, sizeof text, "smp://AAAA@%s", host);
    if (n < 0 || (size_t)n >= sizeof text)
        return SX_E_LIMIT;
    return sx_server_address_parse(text, (size_t)n, out);
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
        c->proxy_id = calloc(o->n_proxies, sizeof *c->proxy_id);
        if (!c->proxies || !c->proxy_text || !c->proxy_id)
            st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        for (size_t i = 0; st == SX_OK && i < o->n_proxies; i++, c->n_proxies++) {
            if (!o->proxies[i] || sx_smp_address_parse(o->proxies[i], &c->proxies[i]) != SX_OK)
                st = sx_error_set(SX_E_USAGE, NULL, "pool: proxy router %zu: the address does not parse", i + 1);
            else if (!(c->proxy_text[i] = dup_str(o->proxies[i], strlen(o->proxies[i]))))
                st = sx_error_set(SX_E_NOMEM, NULL, NULL);
            else if (public_id(o->proxies[i], &c->proxy_id[i]) != SX_OK)
                st = sx_error_set(SX_E_USAGE, NULL, "pool: proxy router %zu: the address does not parse", i + 1);
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
            sx_status kst = strstr(k, "://") ? public_id(k, &c->known[c->n_known]) : bare_host(k, &c->known[c->n_known]);
            if (kst != SX_OK)
                st = sx_error_set(SX_E_USAGE, NULL, "pool: known router %zu: the address does not parse", i + 1);
            else
                c->n_known++;
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
    free(c->proxy_id);
    free(c->known);
    memset(c, 0, sizeof *c);
}

/* The reference's unknownServer, negated: any host of dest is one of the
 * known routers' hosts. */
static bool known(const sx_pool_proxy_cfg *c, const sx_server_address *dest)
{
    for (size_t i = 0; i < c->n_known; i++)
        if (sx_server_address_share_host(&c->known[i], dest))
            return true;
    return false;
}

bool sx_pool_proxy_use(const sx_pool_proxy_cfg *c, const sx_server_address *dest)
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

/* The reference's getNextServer with dest as the used server: the proxies
 * with none of dest's hosts (isUnusedServer), else all of them. The
 * operators' filter before it changes nothing here: the pool's routers have
 * no operator. */
size_t sx_pool_proxy_pick(const sx_pool_proxy_cfg *c, const sx_server_address *dest)
{
    size_t other = 0;
    for (size_t i = 0; i < c->n_proxies; i++)
        other += !sx_server_address_share_host(&c->proxy_id[i], dest);
    uint32_t r = 0;
    sx_random_bytes((uint8_t *)&r, sizeof r);
    if (other == 0)
        return c->n_proxies ? r % c->n_proxies : 0;
    size_t k = r % other;
    for (size_t i = 0; i < c->n_proxies; i++)
        if (!sx_server_address_share_host(&c->proxy_id[i], dest) && k-- == 0)
            return i;
    return 0;
}
