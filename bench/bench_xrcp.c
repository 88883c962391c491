/* Benchmark: XRCP attachments streamed between two processes on loopback,
 * beside two floors measured in the same run.
 *
 * XRCP: a controller (this process) and a host (a child), paired through
 * the public API (include/simplex/xrcp.h) with pairing files in a temporary
 * folder. Up: one command carrying an N MiB attachment from a source, the
 * host's sink counts it and answers {}; down: one command asking for N MiB,
 * answered with an attachment the controller's sink counts. Bytes are made
 * on the fly (no disk). Both processes print their peak RSS (VmHWM).
 * Baselines: a plain TLS copy of the same N MiB from this process to a child
 * (sx_tls over loopback with the test certificates: the transport with no
 * XRCP layer), and the crypto floor: the attachment's secret box sealed and
 * opened in memory in one thread (the XRCP sender seals and the receiver
 * opens, in two processes).
 *
 * Usage: bench_xrcp [--mb N] (default 256). Timings are printed, never
 * checked. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/util.h"
#include "simplex/xrcp.h"
#include "transport/net.h"
#include "transport/tls.h"
#include "xrcp/tailbox.h"

#define WAIT_MS 120000
#define PIECE 65536

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kb;
}

/* ---- bytes made on the fly, and counted ---- */

typedef struct gen {
    uint64_t off;
} gen;

static sx_status gen_read(void *arg, void *buf, size_t cap, size_t *got)
{
    gen *g = arg;
    uint8_t *b = buf;
    for (size_t i = 0; i < cap; i++)
        b[i] = (uint8_t)((g->off + i) * 167 + ((g->off + i) >> 11));
    g->off += cap;
    *got = cap;
    return SX_OK;
}

static sx_status count_write(void *arg, const void *data, size_t len)
{
    (void)data;
    *(uint64_t *)arg += len;
    return SX_OK;
}

/* ---- XRCP ---- */

/* The host: joins, then answers each command; {"down":N} is answered with
 * N bytes. Exits 0 when the controller ends the session. */
static int host_main(const char *dir, const char *link)
{
    char path[512], code[SX_RC_CODE_TEXT];
    snprintf(path, sizeof path, "%s/host.pair", dir);
    sx_rc_host *h = NULL;
    if (sx_rc_host_join(path, link, NULL, WAIT_MS, code, &h) != SX_OK || sx_rc_host_confirm(h, WAIT_MS) != SX_OK) {
        fprintf(stderr, "bench_xrcp host: %s\n", sx_error_message());
        return 1;
    }
    int rc = 0;
    for (;;) {
        uint64_t got = 0;
        sx_rc_sink sink = {.write = count_write, .arg = &got};
        sx_rc_message *cmd = NULL;
        sx_status st = sx_rc_host_next_stream(h, WAIT_MS, &sink, &cmd);
        if (st == SX_E_CLOSED)
            break;
        if (st != SX_OK) {
            fprintf(stderr, "bench_xrcp host: %s\n", sx_error_message());
            rc = 1;
            break;
        }
        const char *d = strstr(cmd->json, "\"down\":");
        gen g = {0};
        sx_rc_source src = {.len = d != NULL ? strtoull(d + 7, NULL, 10) : 0, .read = gen_read, .arg = &g};
        char reply[64];
        snprintf(reply, sizeof reply, "{\"got\":%llu}", (unsigned long long)got);
        st = sx_rc_host_reply_stream(h, cmd, reply, d != NULL ? &src : NULL, WAIT_MS);
        sx_rc_message_free(cmd);
        if (st != SX_OK) {
            rc = 1;
            break;
        }
    }
    printf("  host peak RSS (VmHWM): %ld kB\n", peak_rss_kb());
    fflush(stdout);
    sx_rc_host_free(h);
    return rc;
}

static int run_xrcp(uint64_t n, double *up, double *down)
{
    char dir[] = "/tmp/sx_bench_xrcp.XXXXXX", path[512];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/ctrl.pair", dir);
    sx_rc_ctrl_opts o = {.address = "127.0.0.1"};
    sx_rc_ctrl *c = NULL;
    if (sx_rc_ctrl_start(path, &o, &c) != SX_OK) {
        fprintf(stderr, "bench_xrcp: %s\n", sx_error_message());
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(host_main(dir, sx_rc_ctrl_invitation(c)));
    char code[SX_RC_CODE_TEXT];
    int rc = 1;
    if (pid > 0 && sx_rc_ctrl_accept(c, WAIT_MS, code) == SX_OK && sx_rc_ctrl_confirm(c, WAIT_MS) == SX_OK) {
        gen g = {0};
        sx_rc_source src = {.len = n, .read = gen_read, .arg = &g};
        uint64_t got = 0;
        sx_rc_sink sink = {.write = count_write, .arg = &got};
        sx_rc_message *resp = NULL;
        double t0 = now();
        sx_status st = sx_rc_ctrl_command_stream(c, "{\"up\":1}", &src, &sink, WAIT_MS, &resp);
        *up = now() - t0;
        sx_rc_message_free(resp);
        char json[64];
        snprintf(json, sizeof json, "{\"down\":%llu}", (unsigned long long)n);
        t0 = now();
        if (st == SX_OK)
            st = sx_rc_ctrl_command_stream(c, json, NULL, &sink, WAIT_MS, &resp);
        *down = now() - t0;
        if (st == SX_OK && resp->has_attachment && got == n)
            rc = 0;
        sx_rc_message_free(resp);
    }
    if (rc != 0)
        fprintf(stderr, "bench_xrcp: %s\n", sx_error_message());
    sx_rc_ctrl_free(c);
    int ws = 0;
    if (pid > 0 && (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0))
        rc = 1;
    printf("  controller peak RSS (VmHWM): %ld kB\n", peak_rss_kb());
    snprintf(path, sizeof path, "%s/ctrl.pair", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/host.pair", dir);
    unlink(path);
    rmdir(dir);
    return rc;
}

/* ---- plain TLS copy ---- */

static sx_status data_file(const char *rel, char *out, size_t size)
{
    const char *dir = getenv("SX_TEST_DATA_DIR");
    snprintf(out, size, "%s/%s", dir != NULL && *dir ? dir : SX_TEST_DATA_DIR, rel);
    return access(out, R_OK) == 0 ? SX_OK : SX_E_IO;
}

static sx_status key_hash_of(const char *ca_path, uint8_t out[SX_TLS_KEY_HASH_LEN])
{
    FILE *f = fopen(ca_path, "r");
    SX_ENSURE(f != NULL, SX_E_IO);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    SX_ENSURE(x != NULL, SX_E_PROTOCOL);
    unsigned len = 0;
    int ok = X509_digest(x, EVP_sha256(), out, &len);
    X509_free(x);
    return ok == 1 && len == SX_TLS_KEY_HASH_LEN ? SX_OK : SX_E_INTERNAL;
}

/* The child reads n bytes and answers one byte; this process writes them. */
static sx_status run_tls(uint64_t n, double *secs)
{
    static const char *const alpn[] = {"xrcp-bench", NULL};
    static char crt[4096], ca[4096], key[4096];
    uint8_t kh[SX_TLS_KEY_HASH_LEN];
    SX_TRY(data_file("fixtures/server.crt", crt, sizeof crt));
    SX_TRY(data_file("fixtures/ca.crt", ca, sizeof ca));
    SX_TRY(data_file("fixtures/server.key", key, sizeof key));
    SX_TRY(key_hash_of(ca, kh));
    int lfd = -1;
    uint16_t port = 0;
    SX_TRY(sx_net_listen("127.0.0.1", 0, 4, &lfd, &port));
    static uint8_t buf[PIECE];
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        sx_tls_server_config scfg = {.creds = {.cert_file = crt, .ca_file = ca, .key_file = key}, .alpn = alpn};
        sx_tls_ctx *sctx = NULL;
        sx_tls_conn *sc = NULL;
        int fd = -1;
        sx_status st = sx_tls_server_ctx_new(&scfg, &sctx);
        if (st == SX_OK)
            st = sx_net_accept(lfd, WAIT_MS, &fd);
        if (st == SX_OK)
            st = sx_tls_conn_new_server(sctx, fd, &sc);
        if (st == SX_OK)
            st = sx_tls_handshake_blocking(sc, WAIT_MS);
        for (uint64_t left = n; st == SX_OK && left > 0;) {
            size_t k = left < PIECE ? (size_t)left : PIECE;
            st = sx_tls_read_full(sc, buf, k, WAIT_MS);
            left -= k;
        }
        if (st == SX_OK)
            st = sx_tls_write_full(sc, buf, 1, WAIT_MS);
        _exit(st == SX_OK ? 0 : 1);
    }
    sx_net_close(lfd);
    SX_ENSURE(pid > 0, SX_E_INTERNAL);
    sx_tls_client_config ccfg = {.alpn = alpn};
    sx_tls_ctx *cctx = NULL;
    sx_tls_conn *cc = NULL;
    int fd = -1;
    sx_status st = sx_tls_client_ctx_new(&ccfg, &cctx);
    if (st == SX_OK)
        st = sx_net_connect("127.0.0.1", port, WAIT_MS, &fd);
    if (st == SX_OK)
        st = sx_tls_conn_new_client(cctx, fd, kh, &cc);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(cc, WAIT_MS);
    gen g = {0};
    double t0 = now();
    for (uint64_t left = n; st == SX_OK && left > 0;) {
        size_t k = left < PIECE ? (size_t)left : PIECE, got = 0;
        st = gen_read(&g, buf, k, &got);
        if (st == SX_OK)
            st = sx_tls_write_full(cc, buf, k, WAIT_MS);
        left -= k;
    }
    if (st == SX_OK)
        st = sx_tls_read_full(cc, buf, 1, WAIT_MS);
    *secs = now() - t0;
    sx_tls_conn_free(cc);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        st = st == SX_OK ? SX_E_IO : st;
    return st;
}

/* ---- the crypto floor ---- */

static sx_status run_floor(uint64_t n, double *seal, double *open)
{
    static uint8_t buf[PIECE];
    uint8_t k[32], nonce[24], tag[SX_XRCP_TAILBOX_TAG_LEN];
    sx_random_bytes(k, sizeof k);
    sx_random_bytes(nonce, sizeof nonce);
    sx_xrcp_tailbox b;
    gen g = {0};
    SX_TRY(sx_xrcp_tailbox_init(&b, k, nonce));
    double t0 = now();
    for (uint64_t left = n; left > 0;) {
        size_t m = left < PIECE ? (size_t)left : PIECE, got = 0;
        SX_TRY(gen_read(&g, buf, m, &got));
        SX_TRY(sx_xrcp_tailbox_seal(&b, sx_slice_of(buf, m), buf));
        left -= m;
    }
    sx_xrcp_tailbox_tag(&b, tag);
    *seal = now() - t0;
    SX_TRY(sx_xrcp_tailbox_init(&b, k, nonce));
    t0 = now();
    for (uint64_t left = n; left > 0;) {
        size_t m = left < PIECE ? (size_t)left : PIECE;
        SX_TRY(sx_xrcp_tailbox_open(&b, sx_slice_of(buf, m), buf));
        left -= m;
    }
    (void)sx_xrcp_tailbox_verify(&b, tag); /* the bytes opened are not the sealed ones: speed only */
    *open = now() - t0;
    return SX_OK;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    long mb = 256;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
            mb = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: bench_xrcp [--mb N]\n");
            return 2;
        }
    }
    if (mb <= 0 || mb > 4095) {
        fprintf(stderr, "bench_xrcp: --mb between 1 and 4095\n");
        return 2;
    }
    if (sx_crypto_init() != SX_OK)
        return 1;
    uint64_t n = (uint64_t)mb << 20;
    double mib = (double)mb, up = 0, down = 0, tls = 0, seal = 0, open = 0;
    printf("bench_xrcp: %ld MiB each way\n", mb);
    if (run_xrcp(n, &up, &down) != 0)
        return 1;
    sx_status st = run_tls(n, &tls);
    if (st != SX_OK) {
        fprintf(stderr, "bench_xrcp: TLS baseline: %s\n", sx_status_str(st));
        return 1;
    }
    if (run_floor(n, &seal, &open) != SX_OK)
        return 1;
    printf("%-44s %9s %10s\n", "", "seconds", "MiB/s");
    printf("%-44s %9.3f %10.1f\n", "XRCP up (ctrl -> host, attachment)", up, mib / up);
    printf("%-44s %9.3f %10.1f\n", "XRCP down (host -> ctrl, attachment)", down, mib / down);
    printf("%-44s %9.3f %10.1f\n", "baseline: plain TLS copy, one way", tls, mib / tls);
    printf("%-44s %9.3f %10.1f\n", "floor: secret box seal, one thread", seal, mib / seal);
    printf("%-44s %9.3f %10.1f\n", "floor: secret box open, one thread", open, mib / open);
    printf("XRCP / plain TLS time: up %.2fx, down %.2fx\n", up / tls, down / tls);
    return 0;
}
