/* Benchmark: our TLS block transport over loopback against raw TCP, all in one
 * process (the server side runs in a thread). For 16384-byte blocks it times
 * ping-pong (one block in flight, echoed back) and a one-way stream (acknowledged
 * by one block back) over raw TCP, sx_tls with plain blocks, and sx_tls with
 * blocks encrypted by sx_sbchain chains; then connect + close per second over
 * TCP and with a full TLS 1.3 handshake. Usage: bench_tls [blocks] [handshakes].
 * Every wait has a timeout; any failure exits non-zero. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/sbchain.h"
#include "crypto/util.h"
#include "transport/block.h"
#include "transport/net.h"
#include "transport/tls.h"

#define WAIT_MS 10000
#define BLK SX_BLOCK_SIZE

typedef enum { K_RAW, K_PLAIN, K_ENC } kind;
static const char *const kind_name[] = {"raw TCP", "sx_tls plain", "sx_tls + sbchain"};
static const char *const alpn_smp[] = {"smp/1", NULL};
/* Stands in for the session secret of the SMP handshake (PROTOCOL-NOTES B30). */
static const uint8_t fixed_secret[SX_SBCHAIN_KEY_LEN] = "bench_tls fixed 32-byte secret!";

/* One end of a connection: the socket, the TLS session (NULL for raw TCP) and
 * the chains when blocks are encrypted. */
typedef struct side {
    int fd;
    sx_tls_conn *c;
    bool enc;
    sx_sbchain snd, rcv;
    uint8_t in[BLK], out[BLK];
} side;

/* Server-side work for one measurement, run in a thread. */
typedef struct job {
    kind k;
    bool handshakes; /* accept n connections instead of exchanging blocks */
    int n;
    int lfd;
    uint16_t port;
    pthread_t thread;
    sx_status st;
    const char *where;
} job;

static sx_tls_ctx *server_ctx, *client_ctx;
static uint8_t key_hash[SX_TLS_KEY_HASH_LEN];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads (wbuf NULL) or writes len bytes on a non-blocking socket. */
static sx_status raw_io(int fd, const uint8_t *wbuf, uint8_t *rbuf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = wbuf ? send(fd, wbuf + done, len - done, MSG_NOSIGNAL)
                         : recv(fd, rbuf + done, len - done, 0);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == 0) {
            return SX_E_CLOSED;
        } else if (errno != EINTR) {
            SX_ENSURE(errno == EAGAIN || errno == EWOULDBLOCK, SX_E_IO);
            /* A timeout (SX_E_WOULD_BLOCK) is a failure here. */
            SX_ENSURE(sx_net_wait(fd, wbuf != NULL, WAIT_MS) == SX_OK, SX_E_IO);
        }
    }
    return SX_OK;
}

/* Sends content: as the whole block over raw TCP (content is BLK bytes),
 * else as one block made by sx_block_write, sealed when the side encrypts. */
static sx_status side_send(side *l, sx_slice content)
{
    if (!l->c)
        return raw_io(l->fd, content.ptr, NULL, content.len);
    SX_TRY(sx_block_write(l->enc ? &l->snd : NULL, content, l->out));
    return sx_tls_write_block(l->c, l->out, WAIT_MS);
}

/* Receives one block; *content is a slice of l->in. */
static sx_status side_recv(side *l, sx_slice *content)
{
    if (!l->c) {
        SX_TRY(raw_io(l->fd, NULL, l->in, BLK));
        *content = sx_slice_of(l->in, BLK);
        return SX_OK;
    }
    SX_TRY(sx_tls_read_block(l->c, l->in, WAIT_MS));
    return sx_block_read(l->enc ? &l->rcv : NULL, l->in, content);
}

/* After the TCP connection is up: TLS handshake (ALPN smp/1) and, for
 * encrypted blocks, both chains from tls-unique (PROTOCOL-NOTES B31: the server sends with
 * ck1, the client with ck2). */
static sx_status side_start(side *l, kind k, bool server)
{
    l->c = NULL;
    l->enc = k == K_ENC;
    if (k == K_RAW)
        return SX_OK;
    SX_TRY(server ? sx_tls_conn_new_server(server_ctx, l->fd, &l->c)
                  : sx_tls_conn_new_client(client_ctx, l->fd, key_hash, &l->c));
    SX_TRY(sx_tls_handshake_blocking(l->c, WAIT_MS));
    SX_ENSURE(sx_slice_eq(sx_tls_alpn(l->c), sx_slice_str("smp/1")), SX_E_PROTOCOL);
    if (!l->enc)
        return SX_OK;
    return sx_sbchain_init(sx_tls_unique(l->c), fixed_secret, server ? &l->snd : &l->rcv,
                           server ? &l->rcv : &l->snd);
}

static void side_close(side *l)
{
    sx_tls_conn_free(l->c);
    l->c = NULL;
    sx_net_close(l->fd);
    l->fd = -1;
    sx_sbchain_cleanup(&l->snd);
    sx_sbchain_cleanup(&l->rcv);
}

/* Server: echo n blocks, then read n blocks and answer the last one. */
static sx_status serve_blocks(job *j, side *l)
{
    sx_slice content = {0};
    j->where = "server echo";
    for (int i = 0; i < j->n; i++) {
        SX_TRY(side_recv(l, &content));
        SX_TRY(side_send(l, content));
    }
    j->where = "server stream";
    for (int i = 0; i < j->n; i++)
        SX_TRY(side_recv(l, &content));
    return side_send(l, content);
}

/* Server: accept n connections, with a TLS handshake unless raw, and close
 * each; the client waits for that close, so the two sides stay in step. */
static sx_status serve_handshakes(job *j, side *l)
{
    j->where = "server handshakes";
    for (int i = 0; i < j->n; i++) {
        SX_TRY(sx_net_accept(j->lfd, WAIT_MS, &l->fd));
        sx_status st = side_start(l, j->k, true);
        side_close(l);
        SX_TRY(st);
    }
    return SX_OK;
}

static void *server_main(void *arg)
{
    job *j = arg;
    static side srv; /* one server thread at a time */
    side *l = &srv;
    l->fd = -1;
    if (j->handshakes) {
        j->st = serve_handshakes(j, l);
    } else {
        j->where = "server accept/handshake";
        j->st = sx_net_accept(j->lfd, WAIT_MS, &l->fd);
        if (j->st == SX_OK)
            j->st = side_start(l, j->k, true);
        if (j->st == SX_OK)
            j->st = serve_blocks(j, l);
    }
    side_close(l);
    return NULL;
}

static sx_status job_start(job *j)
{
    j->st = SX_E_INTERNAL;
    j->where = "server start";
    SX_TRY(sx_net_listen("127.0.0.1", 0, 64, &j->lfd, &j->port));
    if (pthread_create(&j->thread, NULL, server_main, j) != 0) {
        sx_net_close(j->lfd);
        return SX_E_INTERNAL;
    }
    return SX_OK;
}

/* The server thread ends on its own: each of its waits has a timeout. */
static sx_status job_join(job *j)
{
    pthread_join(j->thread, NULL);
    sx_net_close(j->lfd);
    if (j->st != SX_OK)
        fprintf(stderr, "bench_tls: %s (%s): %s\n", j->where, kind_name[j->k], sx_status_str(j->st));
    return j->st;
}

static sx_status fail(const char *what, kind k, sx_status st)
{
    fprintf(stderr, "bench_tls: client %s (%s): %s\n", what, kind_name[k], sx_status_str(st));
    return st;
}

/* Ping-pong then stream of n blocks; secs[0], secs[1] receive the times. */
static sx_status run_blocks(kind k, int n, const uint8_t *msg_buf, double secs[2])
{
    job j = {.k = k, .n = n};
    SX_TRY(job_start(&j));
    static side l;
    sx_slice msg = sx_slice_of(msg_buf, k == K_RAW ? BLK : SX_BLOCK_ENC_MAX_CONTENT), got;
    const char *what = "connect/handshake";
    sx_status st = sx_net_connect("127.0.0.1", j.port, WAIT_MS, &l.fd);
    if (st == SX_OK)
        st = side_start(&l, k, false);
    double t0 = now();
    for (int i = 0; i < n && st == SX_OK; i++) {
        what = "ping-pong";
        st = side_send(&l, msg);
        if (st == SX_OK)
            st = side_recv(&l, &got);
        if (st == SX_OK && (got.len != msg.len || memcmp(got.ptr, msg.ptr, msg.len) != 0))
            st = SX_E_PROTOCOL;
    }
    secs[0] = now() - t0;
    t0 = now();
    for (int i = 0; i < n && st == SX_OK; i++) {
        what = "stream";
        st = side_send(&l, msg);
    }
    if (st == SX_OK)
        st = side_recv(&l, &got);
    if (st == SX_OK && got.len != msg.len)
        st = SX_E_PROTOCOL;
    secs[1] = now() - t0;
    side_close(&l); /* first, so that a waiting server sees the close at once */
    sx_status jst = job_join(&j);
    return st != SX_OK ? fail(what, k, st) : jst;
}

/* n connections, each: connect, TLS handshake unless raw, wait for the
 * server's close, close. The time includes the server finishing the last. */
static sx_status run_handshakes(kind k, int n, double *secs)
{
    job j = {.k = k, .n = n, .handshakes = true};
    double t0 = now();
    SX_TRY(job_start(&j));
    static side l;
    sx_status st = SX_OK;
    for (int i = 0; i < n && st == SX_OK; i++) {
        st = sx_net_connect("127.0.0.1", j.port, WAIT_MS, &l.fd);
        if (st == SX_OK)
            st = side_start(&l, k, false);
        if (st == SX_OK)
            st = sx_net_wait(l.fd, false, WAIT_MS) == SX_OK ? SX_OK : SX_E_IO;
        side_close(&l);
    }
    sx_status jst = job_join(&j);
    *secs = now() - t0;
    return st != SX_OK ? fail("handshakes", k, st) : jst;
}

/* Identity of the fixture server (PROTOCOL-NOTES B10): SHA-256 of the DER of ca.crt. */
static sx_status load_key_hash(const char *ca_path)
{
    FILE *f = fopen(ca_path, "r");
    SX_ENSURE(f != NULL, SX_E_IO);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    SX_ENSURE(x != NULL, SX_E_PROTOCOL);
    unsigned len = 0;
    int ok = X509_digest(x, EVP_sha256(), key_hash, &len);
    X509_free(x);
    return ok == 1 && len == sizeof key_hash ? SX_OK : SX_E_INTERNAL;
}

/* Full path of a test data file (tests/data, or the folder the environment
 * variable SX_TEST_DATA_DIR names); says which file is missing. */
static sx_status data_file(const char *rel, char *out, size_t size)
{
    const char *dir = getenv("SX_TEST_DATA_DIR");
    if (!dir || !*dir)
        dir = SX_TEST_DATA_DIR;
    snprintf(out, size, "%s/%s", dir, rel);
    if (access(out, R_OK) != 0) {
        fprintf(stderr, "bench_tls: test data file %s: %s\n", out, strerror(errno));
        return SX_E_IO;
    }
    return SX_OK;
}

static sx_status setup(void)
{
    static char crt[4096], ca[4096], key[4096];
    SX_TRY(data_file("fixtures/server.crt", crt, sizeof crt));
    SX_TRY(data_file("fixtures/ca.crt", ca, sizeof ca));
    SX_TRY(data_file("fixtures/server.key", key, sizeof key));
    SX_TRY(sx_crypto_init());
    SX_TRY(load_key_hash(ca));
    sx_tls_server_config scfg = {.creds = {.cert_file = crt, .ca_file = ca, .key_file = key},
                                 .alpn = alpn_smp};
    SX_TRY(sx_tls_server_ctx_new(&scfg, &server_ctx));
    sx_tls_client_config ccfg = {.alpn = alpn_smp};
    return sx_tls_client_ctx_new(&ccfg, &client_ctx);
}

int main(int argc, char **argv)
{
    /* Writes to a socket the peer closed must fail, not kill the program. */
    signal(SIGPIPE, SIG_IGN);
    int blocks = argc > 1 ? atoi(argv[1]) : 20000;
    int handshakes = argc > 2 ? atoi(argv[2]) : 300;
    if (blocks <= 0 || handshakes <= 0) {
        fprintf(stderr, "usage: bench_tls [blocks] [handshakes]\n");
        return 2;
    }
    sx_status st = setup();
    if (st != SX_OK) {
        fprintf(stderr, "bench_tls: setup (TLS fixtures): %s\n", sx_status_str(st));
        return 1;
    }
    static uint8_t msg[BLK];
    sx_random_bytes(msg, sizeof msg);

    double secs[3][2], hs[2];
    for (int k = K_RAW; k <= K_ENC && st == SX_OK; k++)
        st = run_blocks((kind)k, blocks, msg, secs[k]);
    for (int k = K_RAW; k <= K_PLAIN && st == SX_OK; k++) /* K_PLAIN: with TLS */
        st = run_handshakes((kind)k, handshakes, &hs[k]);
    sx_tls_ctx_free(client_ctx);
    sx_tls_ctx_free(server_ctx);
    if (st != SX_OK)
        return 1;

    double mib = (double)blocks * BLK / (1024.0 * 1024.0);
    static const char *const rows[] = {"ping-pong blocks/s", "ping-pong MiB/s", "stream blocks/s",
                                       "stream MiB/s"};
    printf("loopback 127.0.0.1, %d blocks of %d bytes, %d connections\n", blocks, BLK, handshakes);
    printf("%-22s %18s %18s %18s\n", "", kind_name[0], kind_name[1], kind_name[2]);
    for (int r = 0; r < 4; r++) {
        printf("%-22s", rows[r]);
        for (int k = 0; k < 3; k++)
            printf(" %18.1f", (r % 2 ? mib : blocks) / secs[k][r / 2]);
        printf("\n");
    }
    printf("%-22s %18.1f %18.1f\n", "connections/s", handshakes / hs[0], handshakes / hs[1]);
    printf("(MiB/s counts each block once; connections: TCP connect+accept+close vs. the same\n"
           " with a full TLS 1.3 handshake, ALPN smp/1)\n");
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("peak RSS: %ld KiB\n", ru.ru_maxrss);
    return 0;
}
