/* The pool's choice between a direct and a proxied send (the reference's
 * shouldUseProxy, directAllowed and choice of a proxy router in
 * Agent/Client.hs at 152c30ca68), apart from the pool's connections. */
#ifndef SX_CLIENT_POOL_PROXY_H
#define SX_CLIENT_POOL_PROXY_H

#include "simplex/smp.h"
#include "smp/address.h"
#include "smp_client/smp_client.h"

typedef struct sx_pool_proxy_cfg {
    sx_smp_proxy_mode mode;
    sx_smp_proxy_fallback fallback;
    bool protected_addr;
    sx_smp_address *proxies;     /* with their passwords */
    char **proxy_text;           /* as given */
    sx_server_address *proxy_id; /* their hosts (parsed without the password) */
    size_t n_proxies;
    sx_server_address *known; /* the known routers' hosts (a bare host: one) */
    size_t n_known;
} sx_pool_proxy_cfg;

/* Copies and checks the options. SX_E_USAGE (an address that does not
 * parse, no proxy for a mode that needs one, an unknown mode), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_pool_proxy_cfg_init(sx_pool_proxy_cfg *c, const sx_smp_pool_opts *o);
void sx_pool_proxy_cfg_cleanup(sx_pool_proxy_cfg *c);
/* Whether a send to dest goes through a proxy. As the reference's
 * unknownServer: dest is known when any of its hosts is a host of a known
 * router (sx_server_address_host_eq). */
bool sx_pool_proxy_use(const sx_pool_proxy_cfg *c, const sx_server_address *dest);
/* Whether a send the proxy could not forward to dest (a host error) is
 * made directly. */
bool sx_pool_proxy_fallback_ok(const sx_pool_proxy_cfg *c);
/* The index of a proxy for dest: at random among those that share no host
 * with dest (any when there is none), as the reference's getNextServer with
 * the destination as the used server. */
size_t sx_pool_proxy_pick(const sx_pool_proxy_cfg *c, const sx_server_address *dest);

#endif
