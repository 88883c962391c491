/* TCP socket helpers over POSIX sockets. Connects are non-blocking with a
 * deadline so that an unreachable host cannot hang the caller; all sockets
 * handed out are non-blocking for use with the TLS layer. */
#define _GNU_SOURCE /* accept4 */
#include "transport/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1 = none), never negative otherwise. */
static int remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static void set_nodelay(int fd)
{
    int one = 1;
    /* Best effort: blocks are written whole, Nagle would only add latency. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

sx_status sx_net_wait(int fd, bool want_write, int timeout_ms)
{
    SX_ENSURE(fd >= 0, SX_E_USAGE);
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = want_write ? POLLOUT : POLLIN};
        int n = poll(&p, 1, remaining_ms(deadline));
        if (n > 0)
            return SX_OK;
        if (n == 0)
            return SX_E_WOULD_BLOCK;
        if (errno != EINTR)
            return SX_E_IO;
    }
}

/* One connect attempt to addr, bounded by deadline. */
static sx_status connect_one(const struct addrinfo *ai, int64_t deadline, int *out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return SX_E_IO;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS && errno != EINTR)
            goto fail;
        sx_status st = sx_net_wait(fd, true, remaining_ms(deadline));
        if (st != SX_OK)
            goto fail;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
            goto fail;
    }
    set_nodelay(fd);
    *out = fd;
    return SX_OK;
fail:
    close(fd);
    return SX_E_IO;
}

sx_status sx_net_connect(const char *host, uint16_t port, int timeout_ms, int *fd)
{
    SX_ENSURE(fd != NULL, SX_E_USAGE);
    *fd = -1;
    SX_ENSURE(host != NULL && *host != '\0' && port != 0, SX_E_USAGE);

    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return SX_E_IO;

    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    sx_status st = SX_E_IO;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        st = connect_one(ai, deadline, fd);
        if (st == SX_OK || (deadline >= 0 && remaining_ms(deadline) == 0))
            break;
    }
    freeaddrinfo(res);
    return st == SX_OK ? SX_OK : SX_E_IO;
}

sx_status sx_net_addr_numeric(const char *host, uint16_t port, sx_net_addr *out)
{
    memset(out, 0, sizeof *out);
    SX_ENSURE(host != NULL && port != 0, SX_E_USAGE);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out->len = sizeof *v4;
        return SX_OK;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out->len = sizeof *v6;
        return SX_OK;
    }
    return SX_E_USAGE;
}

sx_status sx_net_resolve(const char *host, uint16_t port, sx_net_addr *out, size_t max, size_t *n)
{
    *n = 0;
    SX_ENSURE(host != NULL && *host != '\0' && port != 0 && max > 0, SX_E_USAGE);
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return SX_E_IO;
    for (const struct addrinfo *ai = res; ai != NULL && *n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out[*n].ss)
            continue;
        memset(&out[*n], 0, sizeof out[*n]);
        memcpy(&out[*n].ss, ai->ai_addr, ai->ai_addrlen);
        out[*n].len = ai->ai_addrlen;
        (*n)++;
    }
    freeaddrinfo(res);
    return *n > 0 ? SX_OK : SX_E_IO;
}

sx_status sx_net_connect_start(const sx_net_addr *a, int *fd)
{
    *fd = -1;
    int s = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return SX_E_IO;
    if (connect(s, (const struct sockaddr *)&a->ss, a->len) != 0 && errno != EINPROGRESS && errno != EINTR) {
        close(s);
        return SX_E_IO;
    }
    *fd = s;
    return SX_OK;
}

sx_status sx_net_connect_finish(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        return SX_E_IO;
    /* Writable with no error can still mean "not yet" after EINTR: make
     * sure there is a peer. */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return SX_E_IO;
    set_nodelay(fd);
    return SX_OK;
}

static _Thread_local int last_listen_errno;

int sx_net_listen_errno(void)
{
    return last_listen_errno;
}

sx_status sx_net_listen(const char *host, uint16_t port, int backlog, int *fd, uint16_t *bound_port)
{
    SX_ENSURE(fd != NULL, SX_E_USAGE);
    *fd = -1;
    SX_ENSURE(host != NULL && backlog > 0, SX_E_USAGE);
    last_listen_errno = 0;

    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return SX_E_USAGE;

    int s = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
    if (s < 0)
        goto fail;
    int one = 1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail;
    if (bind(s, res->ai_addr, res->ai_addrlen) != 0 || listen(s, backlog) != 0) {
        /* The cause an operator acts on (a port in use, a port below 1024
         * without the capability): kept for sx_net_listen_errno() and the
         * error detail. */
        int e = errno;
        char why[128];
        const char *w = strerror_r(e, why, sizeof why);
        close(s);
        freeaddrinfo(res);
        last_listen_errno = e;
        return sx_error_set(SX_E_IO, NULL, "cannot listen on port %u: %s", (unsigned)port, w);
    }
    if (bound_port) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
            goto fail;
        if (ss.ss_family == AF_INET)
            *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        else
            goto fail;
    }
    freeaddrinfo(res);
    *fd = s;
    return SX_OK;
fail:
    if (s >= 0)
        close(s);
    freeaddrinfo(res);
    return SX_E_IO;
}

sx_status sx_net_accept(int listen_fd, int timeout_ms, int *fd)
{
    SX_ENSURE(fd != NULL, SX_E_USAGE);
    *fd = -1;
    SX_ENSURE(listen_fd >= 0, SX_E_USAGE);
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int s = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s >= 0) {
            set_nodelay(s);
            *fd = s;
            return SX_OK;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return SX_E_IO;
        int left = remaining_ms(deadline);
        if (left == 0)
            return SX_E_WOULD_BLOCK;
        SX_TRY(sx_net_wait(listen_fd, false, left));
    }
}

sx_status sx_net_accept_peer(int listen_fd, int *fd, uint8_t peer[16], int *err)
{
    SX_ENSURE(fd != NULL && peer != NULL && err != NULL, SX_E_USAGE);
    *fd = -1;
    *err = 0;
    memset(peer, 0, 16);
    SX_ENSURE(listen_fd >= 0, SX_E_USAGE);
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int s = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s >= 0) {
            set_nodelay(s);
            if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
                peer[10] = peer[11] = 0xff;
                memcpy(peer + 12, &a->sin_addr, 4);
            } else if (ss.ss_family == AF_INET6) {
                memcpy(peer, &((const struct sockaddr_in6 *)&ss)->sin6_addr, 16);
            }
            *fd = s;
            return SX_OK;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return SX_E_WOULD_BLOCK;
        *err = errno;
        return SX_E_IO;
    }
}

void sx_net_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
