/* The controller's own addresses (addrs.h). */
#include "xrcp/addrs.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "core/bytes.h"

static bool localhost(const sx_xrcp_addr *a)
{
    return a->ip[0] == 127;
}

void sx_xrcp_addrs_localhost_last(sx_xrcp_addr *a, size_t n)
{
    /* a stable partition by insertion: few addresses */
    size_t others = 0;
    for (size_t i = 0; i < n; i++) {
        if (localhost(&a[i]))
            continue;
        sx_xrcp_addr keep = a[i];
        for (size_t j = i; j > others; j--)
            a[j] = a[j - 1];
        a[others++] = keep;
    }
}

static void to_front(sx_xrcp_addr *a, size_t at)
{
    sx_xrcp_addr keep = a[at];
    for (size_t j = at; j > 0; j--)
        a[j] = a[j - 1];
    a[0] = keep;
}

void sx_xrcp_addrs_prefer(const sx_xrcp_addr *p, sx_xrcp_addr *a, size_t n)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(a[i].ip, p->ip, 4) == 0) {
            to_front(a, i);
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].iface, p->iface) == 0) {
            to_front(a, i);
            return;
        }
    }
}

static bool usable(const uint8_t ip[4])
{
    static const uint8_t none[4] = {0, 0, 0, 0}, broadcast[4] = {255, 255, 255, 255};
    return memcmp(ip, none, 4) != 0 && memcmp(ip, broadcast, 4) != 0 && !(ip[0] == 169 && ip[1] == 254);
}

#define LOCAL_MAX 64 /* addresses considered; a machine has a handful */

sx_status sx_xrcp_local_addrs(const sx_xrcp_addr *prefer, sx_xrcp_addr *out, size_t cap, size_t *n)
{
    if (n == NULL || (out == NULL && cap > 0))
        return SX_E_USAGE;
    *n = 0;
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return SX_E_IO;
    sx_xrcp_addr all[LOCAL_MAX];
    size_t k = 0;
    for (struct ifaddrs *i = list; i != NULL && k < LOCAL_MAX; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || i->ifa_name == NULL)
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
        sx_xrcp_addr a;
        memset(&a, 0, sizeof a);
        memcpy(a.ip, &sin->sin_addr.s_addr, 4); /* network order: the dotted bytes */
        if (!usable(a.ip) || !sx_str_copy(a.iface, sizeof a.iface, i->ifa_name))
            continue;
        all[k++] = a;
    }
    freeifaddrs(list);
    sx_xrcp_addrs_localhost_last(all, k);
    sx_xrcp_addrs_prefer(prefer, all, k);
    for (size_t i = 0; i < k && i < cap; i++)
        out[i] = all[i];
    *n = k;
    return SX_OK;
}
