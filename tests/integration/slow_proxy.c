/* A TCP proxy for the shell tests that slows a link down: it listens on a
 * free loopback port, prints "port N" on standard output, and forwards each
 * connection to 127.0.0.1:TARGET, the bytes from the client at most UP bytes
 * per second and those to the client at most DOWN (0: as fast as they come).
 * With it a test sees, on loopback, what a slow network shows: a transfer
 * that is still going when it is interrupted, or a client that waits for a
 * body the router never needed. When a direction of a connection ends it
 * prints "up N" (bytes from the client) or "down N" (to the client), so a
 * test can tell how much a transfer moved. It runs until it is killed.
 *
 * Usage: slow_proxy TARGET_PORT UP_BYTES_PER_S DOWN_BYTES_PER_S */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct pair {
    int fd[2];    /* client, router */
    long rate[2]; /* bytes per second read from fd[i] (0: no limit) */
    pthread_mutex_t mu;
    int live; /* directions still copying */
} pair;

static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;

typedef struct dir {
    pair *p;
    int from;
} dir;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Copies one direction; a slow one reads in pieces of a fiftieth of its
 * rate and sleeps until its average is back under the rate. */
static void *copy_dir(void *arg)
{
    dir *d = arg;
    pair *p = d->p;
    int in = p->fd[d->from], out = p->fd[1 - d->from];
    long rate = p->rate[d->from];
    size_t piece = 65536;
    if (rate > 0 && (size_t)(rate / 50) < piece)
        piece = rate / 50 > 0 ? (size_t)(rate / 50) : 1;
    char *buf = malloc(65536);
    int64_t start = now_ns();
    int64_t moved = 0;
    while (buf) {
        ssize_t n = read(in, buf, piece);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                goto done;
            off += w;
        }
        moved += n;
        if (rate > 0) {
            int64_t due = start + moved * 1000000000 / rate;
            int64_t now = now_ns();
            if (due > now)
                sleep_ns(due - now);
        }
    }
done:
    free(buf);
    pthread_mutex_lock(&g_out);
    printf("%s %lld\n", d->from == 0 ? "up" : "down", (long long)moved);
    fflush(stdout);
    pthread_mutex_unlock(&g_out);
    shutdown(out, SHUT_WR);
    shutdown(in, SHUT_RD);
    pthread_mutex_lock(&p->mu);
    bool last = --p->live == 0;
    pthread_mutex_unlock(&p->mu);
    free(d);
    if (last) {
        close(p->fd[0]);
        close(p->fd[1]);
        pthread_mutex_destroy(&p->mu);
        free(p);
    }
    return NULL;
}

static long parse_num(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || end == s || *end || v < 0) {
        fprintf(stderr, "slow_proxy: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: slow_proxy TARGET_PORT UP_BYTES_PER_S DOWN_BYTES_PER_S\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    long target = parse_num(argv[1]), up = parse_num(argv[2]), down = parse_num(argv[3]);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0) {
        perror("slow_proxy: listen");
        return 1;
    }
    printf("port %u\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("slow_proxy: accept");
            return 1;
        }
        struct sockaddr_in t = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)target),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&t, sizeof t) != 0) {
            if (s >= 0)
                close(s);
            close(c);
            continue;
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pair *p = calloc(1, sizeof *p);
        dir *d0 = malloc(sizeof *d0), *d1 = malloc(sizeof *d1);
        if (!p || !d0 || !d1) {
            close(c);
            close(s);
            free(p);
            free(d0);
            free(d1);
            continue;
        }
        p->fd[0] = c;
        p->fd[1] = s;
        p->rate[0] = up;
        p->rate[1] = down;
        p->live = 2;
        pthread_mutex_init(&p->mu, NULL);
        *d0 = (dir){.p = p, .from = 0};
        *d1 = (dir){.p = p, .from = 1};
        pthread_t tid;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&tid, &at, copy_dir, d0) != 0)
            abort();
        if (pthread_create(&tid, &at, copy_dir, d1) != 0)
            abort();
        pthread_attr_destroy(&at);
    }
}
