/* Own / other split of the NTF router's SMP gauges (see gauges.h). */
#include "ntf_router/gauges.h"

#include <string.h>

bool sx_ntf_gauge_is_workers(sx_ntf_gauge_group g)
{
    return g >= SX_NTF_G_SUBSCRIBERS;
}

bool sx_ntf_gauge_of(const sx_ntf_router_fig *r, sx_ntf_gauge_group g, int64_t *count)
{
    int64_t c = 0;
    bool in = false;
    switch (g) {
    case SX_NTF_G_SERVICE_ACTIVE:
        in = r->connected && r->service > 0;
        c = r->service;
        break;
    case SX_NTF_G_QUEUE_ACTIVE:
        in = r->connected;
        c = r->active > r->service ? r->active - r->service : 0;
        break;
    case SX_NTF_G_SERVICE_PENDING: break;
    case SX_NTF_G_QUEUE_PENDING:
        in = r->pending > 0;
        c = r->pending;
        break;
    case SX_NTF_G_SUBSCRIBERS:
    case SX_NTF_G_SUB_WORKERS:
        in = true;
        c = 1;
        break;
    case SX_NTF_G_CLIENTS:
        in = r->connected;
        c = 1;
        break;
    case SX_NTF_G_COUNT: break;
    }
    if (count)
        *count = in ? c : 0;
    return in;
}

/* Whether an own router before i in group g has i's host. */
static bool own_seen(const sx_ntf_router_fig *f, size_t i, sx_ntf_gauge_group g)
{
    for (size_t j = 0; j < i; j++)
        if (f[j].own && sx_ntf_gauge_of(&f[j], g, NULL) && strcmp(f[j].host, f[i].host) == 0)
            return true;
    return false;
}

bool sx_ntf_gauge_own_next(const sx_ntf_router_fig *f, size_t n, sx_ntf_gauge_group g, size_t *i,
                           const char **host, int64_t *count)
{
    bool workers = sx_ntf_gauge_is_workers(g);
    for (; *i < n; (*i)++) {
        const sx_ntf_router_fig *r = &f[*i];
        int64_t c;
        if (!r->own || !sx_ntf_gauge_of(r, g, &c) || (!workers && own_seen(f, *i, g)))
            continue;
        if (!workers)
            for (size_t j = *i + 1; j < n; j++) {
                int64_t cj;
                if (f[j].own && sx_ntf_gauge_of(&f[j], g, &cj) && strcmp(f[j].host, r->host) == 0)
                    c += cj;
            }
        *host = r->host;
        *count = c;
        (*i)++;
        return true;
    }
    return false;
}

void sx_ntf_gauge_split_of(const sx_ntf_router_fig *f, size_t n, sx_ntf_gauge_group g, sx_ntf_gauge_split *out)
{
    memset(out, 0, sizeof *out);
    bool workers = sx_ntf_gauge_is_workers(g);
    size_t i = 0;
    const char *h;
    int64_t c;
    while (sx_ntf_gauge_own_next(f, n, g, &i, &h, &c)) {
        out->own_entries++;
        out->own_count += c;
    }
    for (size_t k = 0; k < n; k++) {
        if (f[k].own || !sx_ntf_gauge_of(&f[k], g, &c))
            continue;
        if (workers) {
            out->other_servers++;
            continue;
        }
        if (c == 0)
            continue;
        out->other_count += c;
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++) {
            int64_t cj;
            seen = !f[j].own && sx_ntf_gauge_of(&f[j], g, &cj) && cj > 0 && strcmp(f[j].host, f[k].host) == 0;
        }
        out->other_servers += !seen;
    }
}
