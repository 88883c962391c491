/* XRCP multicast discovery (discovery.h, PROTOCOL-NOTES X6). */
#include "xrcp/discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool ipv4(const char *text, struct in_addr *out)
{
    return text != NULL && inet_pton(AF_INET, text, out) == 1;
}

sx_status sx_xrcp_mcast_listen(const char *group, uint16_t port, const char *iface, int *fd, uint16_t *bound)
{
    struct in_addr g, i = {.s_addr = htonl(INADDR_ANY)};
    if (fd == NULL || !ipv4(group, &g) || (iface != NULL && !ipv4(iface, &i)))
        return SX_E_USAGE;
    *fd = -1;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (s < 0)
        return SX_E_IO;
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = g};
    struct ip_mreq m = {.imr_multiaddr = g, .imr_interface = i};
    socklen_t alen = sizeof a;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
        close(s);
        return SX_E_IO;
    }
    if (bound != NULL)
        *bound = ntohs(a.sin_port);
    *fd = s;
    return SX_OK;
}

sx_status sx_xrcp_mcast_recv(int fd, int timeout_ms, uint8_t *buf, size_t cap, size_t *len, char src[16])
{
    if (fd < 0 || buf == NULL || len == NULL || src == NULL)
        return SX_E_USAGE;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r <= 0)
        return SX_E_IO;
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &flen);
    if (n < 0 || from.sin_family != AF_INET || inet_ntop(AF_INET, &from.sin_addr, src, 16) == NULL)
        return SX_E_IO;
    *len = (size_t)n;
    return SX_OK;
}

sx_status sx_xrcp_mcast_sender(const char *iface, int *fd)
{
    struct in_addr i;
    if (fd == NULL || (iface != NULL && !ipv4(iface, &i)))
        return SX_E_USAGE;
    *fd = -1;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (s < 0)
        return SX_E_IO;
    unsigned char loop = 1;
    if (setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0 ||
        (iface != NULL && setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &i, sizeof i) != 0)) {
        close(s);
        return SX_E_IO;
    }
    *fd = s;
    return SX_OK;
}

sx_status sx_xrcp_mcast_send(int fd, const char *group, uint16_t port, sx_slice packet)
{
    struct in_addr g;
    if (fd < 0 || !ipv4(group, &g) || (packet.ptr == NULL && packet.len != 0))
        return SX_E_USAGE;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = g};
    ssize_t n = sendto(fd, packet.ptr, packet.len, 0, (struct sockaddr *)&a, sizeof a);
    return n == (ssize_t)packet.len ? SX_OK : SX_E_IO;
}

void sx_xrcp_mcast_close(int fd)
{
    /* closing the socket drops its memberships */
    if (fd >= 0)
        close(fd);
}

bool sx_xrcp_announce_from_host(const sx_xrcp_invitation *inv, const char *src)
{
    struct in_addr a, b;
    return inv != NULL && src != NULL && ipv4(inv->host, &a) && ipv4(src, &b) && a.s_addr == b.s_addr;
}
