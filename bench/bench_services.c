/* Benchmark: resubscribing a notifier service's queues (PROTOCOL-NOTES D29).
 * An in-process router with a store log, over loopback TLS; N queues with
 * notifiers (default 20000; argv[1]) are associated with one service. Then,
 * side by side in one run, a reconnected service resubscribes all of them
 *   - baseline: per-queue NSUB, 100 commands per call (as many blocks as they
 *     fill), as a client without NSUBS does;
 *   - one NSUBS (count and ids hash answered in SOKS);
 *   - one NSUBS again after a router restart (store log replayed).
 * Also the router's resident memory per association (VmRSS of this process
 * before and after the associating NSUBs; the router shares the process).
 * Prints the figures; asserts nothing about time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp_client/smp_client.h"
#include "smp_router/server.h"
#include "smp_router/storelog.h"

#ifndef SX_TEST_DATA_DIR
#define SX_TEST_DATA_DIR "tests/data"
#endif

#define WAIT_MS 60000
#define CHUNK 100

static void die(const char *what, sx_status st)
{
    fprintf(stderr, "bench_services: %s: %s\n", what, sx_status_str(st));
    exit(1);
}

#define CHECK(what, expr)                                                                                              \
    do {                                                                                                               \
        sx_status st_ = (expr);                                                                                        \
        if (st_ != SX_OK)                                                                                              \
            die(what, st_);                                                                                            \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

typedef struct bq {
    sx_key *rkey, *nkey;
    uint8_t nid[24];
} bq;

typedef struct env {
    sx_router_opts o;
    sx_router *r;
    char dir[64], slog[128], crt[512], ca[512], key[512];
    char scrt[160], sca[160], skey[160];
    uint8_t fp[SX_FINGERPRINT_LEN];
} env;

static sx_smp_client *connect_as(env *e, const sx_key *svc_key)
{
    sx_smp_client_service_opts so = {.role = SX_SMP_SERVICE_NOTIFIER, .service_key = svc_key};
    so.creds.cert_file = e->scrt;
    so.creds.ca_file = e->sca;
    so.creds.key_file = e->skey;
    sx_smp_client_opts o = {.timeout_ms = WAIT_MS, .service = svc_key ? &so : NULL};
    sx_smp_client *cl;
    CHECK("connect", sx_smp_client_connect("127.0.0.1", sx_router_port(e->r, 0), e->fp, &o, &cl));
    if (svc_key && !sx_smp_client_session(cl)->has_service)
        die("service", SX_E_AUTH);
    return cl;
}

static void make_service_chain(env *e)
{
    snprintf(e->scrt, sizeof e->scrt, "%s/svc.crt", e->dir);
    snprintf(e->sca, sizeof e->sca, "%s/svc-ca.crt", e->dir);
    snprintf(e->skey, sizeof e->skey, "%s/svc.key", e->dir);
    sx_key *ca_key, *leaf_key;
    X509 *ca, *leaf;
    CHECK("key", sx_key_generate(SX_KEY_ED25519, &ca_key));
    CHECK("key", sx_key_generate(SX_KEY_ED25519, &leaf_key));
    CHECK("ca", sx_x509_create_ca(ca_key, &ca));
    CHECK("leaf", sx_x509_create_server(ca_key, ca, leaf_key, "service", &leaf));
    CHECK("write", sx_x509_write_cert_file(e->scrt, leaf));
    CHECK("write", sx_x509_write_cert_file(e->sca, ca));
    CHECK("write", sx_x509_write_key_file(e->skey, leaf_key));
    X509_free(ca);
    X509_free(leaf);
    sx_key_free(ca_key);
    sx_key_free(leaf_key);
}

static void create_queues(sx_smp_client *cl, bq *qs, size_t n)
{
    static sx_smp_client_cmd cmds[CHUNK];
    static sx_smp_cmd cs[CHUNK];
    static sx_smp_client_reply rs[CHUNK];
    static uint8_t bufs[CHUNK][4][SX_KEY_SPKI_MAX];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        sx_key *dh[CHUNK][2];
        for (size_t j = 0; j < k; j++) {
            bq *q = &qs[i + j];
            CHECK("key", sx_key_generate(SX_KEY_ED25519, &q->rkey));
            CHECK("key", sx_key_generate(SX_KEY_ED25519, &q->nkey));
            CHECK("key", sx_key_generate(SX_KEY_X25519, &dh[j][0]));
            CHECK("key", sx_key_generate(SX_KEY_X25519, &dh[j][1]));
            sx_smp_cmd *c = &cs[j];
            memset(c, 0, sizeof *c);
            c->tag = SX_SMP_C_NEW;
            CHECK("pub", sx_smp_pubkey_of(q->rkey, bufs[j][0], &c->new_queue.rcv_auth_key));
            CHECK("pub", sx_smp_pubkey_of(dh[j][0], bufs[j][1], &c->new_queue.rcv_dh_key));
            c->new_queue.subscribe = true;
            c->new_queue.has_queue_req = true;
            c->new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
            c->new_queue.has_ntf_creds = true;
            CHECK("pub", sx_smp_pubkey_of(q->nkey, bufs[j][2], &c->new_queue.ntf_auth_key));
            CHECK("pub", sx_smp_pubkey_of(dh[j][1], bufs[j][3], &c->new_queue.ntf_dh_key));
            cmds[j] = (sx_smp_client_cmd){.entity = sx_slice_of(NULL, 0), .cmd = c, .auth_key = q->rkey};
        }
        CHECK("NEW", sx_smp_client_call_many(cl, cmds, k, rs));
        for (size_t j = 0; j < k; j++) {
            if (!rs[j].ok || rs[j].reply.resp.tag != SX_SMP_R_IDS || !rs[j].reply.resp.ids.has_ntf)
                die("NEW answer", SX_E_PROTOCOL);
            memcpy(qs[i + j].nid, rs[j].reply.resp.ids.ntf_id.ptr, 24);
            sx_smp_client_reply_free(&rs[j]);
            sx_key_free(dh[j][0]);
            sx_key_free(dh[j][1]);
        }
    }
}

/* NSUB for every queue, CHUNK per call. */
static void nsub_all(sx_smp_client *cl, bq *qs, size_t n)
{
    static sx_smp_client_cmd cmds[CHUNK];
    static sx_smp_client_reply rs[CHUNK];
    sx_smp_cmd c = {.tag = SX_SMP_C_NSUB};
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < k; j++)
            cmds[j] = (sx_smp_client_cmd){.entity = sx_slice_of(qs[i + j].nid, 24), .cmd = &c, .auth_key = qs[i + j].nkey};
        CHECK("NSUB", sx_smp_client_call_many(cl, cmds, k, rs));
        for (size_t j = 0; j < k; j++) {
            if (!rs[j].ok || rs[j].reply.resp.tag != SX_SMP_R_SOK)
                die("NSUB answer", SX_E_PROTOCOL);
            sx_smp_client_reply_free(&rs[j]);
        }
    }
}

static int64_t nsubs(sx_smp_client *cl, const sx_key *svc_key, size_t n)
{
    static const uint8_t zero[16];
    const sx_smp_session *s = sx_smp_client_session(cl);
    sx_smp_cmd c = {.tag = SX_SMP_C_NSUBS};
    c.subs.count = (int64_t)n;
    c.subs.ids_hash = sx_slice_of(zero, 16);
    sx_smp_client_reply r;
    CHECK("NSUBS", sx_smp_client_call(cl, sx_slice_of(s->service_id, s->service_id_len), &c, svc_key, &r));
    if (!r.ok || r.reply.resp.tag != SX_SMP_R_SOKS)
        die("NSUBS answer", SX_E_PROTOCOL);
    int64_t count = r.reply.resp.subs.count;
    sx_smp_client_reply_free(&r);
    return count;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 && atol(argv[1]) > 0 ? (size_t)atol(argv[1]) : 20000;
    const char *data = getenv("SX_TEST_DATA_DIR") ? getenv("SX_TEST_DATA_DIR") : SX_TEST_DATA_DIR;
    env *e = calloc(1, sizeof *e);
    bq *qs = calloc(n, sizeof *qs);
    if (!e || !qs)
        die("memory", SX_E_NOMEM);
    snprintf(e->dir, sizeof e->dir, "/tmp/sx_bench_services_XXXXXX");
    if (!mkdtemp(e->dir))
        die("mkdtemp", SX_E_IO);
    snprintf(e->slog, sizeof e->slog, "%s/%s", e->dir, SX_STORELOG_FILE);
    snprintf(e->crt, sizeof e->crt, "%s/fixtures/server.crt", data);
    snprintf(e->ca, sizeof e->ca, "%s/fixtures/ca.crt", data);
    snprintf(e->key, sizeof e->key, "%s/fixtures/server.key", data);
    X509 *x;
    CHECK("fixture", sx_x509_read_cert_file(e->ca, &x));
    CHECK("fingerprint", sx_x509_fingerprint(x, e->fp));
    X509_free(x);
    make_service_chain(e);
    e->o.cert_file = e->crt;
    e->o.ca_file = e->ca;
    e->o.key_file = e->key;
    e->o.host = "127.0.0.1";
    e->o.n_ports = 1;
    e->o.workers = 2;
    e->o.new_queues = true;
    e->o.store_log_path = e->slog;
    e->o.quiet = true;
    e->o.handshake_timeout_ms = WAIT_MS;
    CHECK("router", sx_router_start(&e->o, &e->r));
    sx_key *svc_key;
    CHECK("key", sx_key_generate(SX_KEY_ED25519, &svc_key));

    sx_smp_client *pl = connect_as(e, NULL);
    create_queues(pl, qs, n);
    sx_smp_client_close(pl);

    sx_smp_client *sv = connect_as(e, svc_key);
    long rss0 = rss_kib();
    double t0 = now_s();
    nsub_all(sv, qs, n);
    double t_assoc = now_s() - t0;
    long rss1 = rss_kib();
    sx_smp_client_close(sv);

    /* baseline: a reconnected service that resubscribes queue by queue */
    sv = connect_as(e, svc_key);
    t0 = now_s();
    nsub_all(sv, qs, n);
    double t_nsub = now_s() - t0;
    sx_smp_client_close(sv);

    sv = connect_as(e, svc_key);
    t0 = now_s();
    int64_t c1 = nsubs(sv, svc_key, n);
    double t_nsubs = now_s() - t0;
    sx_smp_client_close(sv);

    sx_router_stop(e->r);
    t0 = now_s();
    CHECK("restart", sx_router_start(&e->o, &e->r));
    double t_restart = now_s() - t0;
    sv = connect_as(e, svc_key);
    t0 = now_s();
    int64_t c2 = nsubs(sv, svc_key, n);
    double t_nsubs2 = now_s() - t0;
    sx_smp_client_close(sv);
    sx_router_stop(e->r);
    if (c1 != (int64_t)n || c2 != (int64_t)n) {
        fprintf(stderr, "bench_services: NSUBS counted %lld and %lld of %zu\n", (long long)c1, (long long)c2, n);
        return 1;
    }

    printf("notifier service resubscription, %zu queues (one service, loopback, in-process router)\n", n);
    printf("  %-44s %10.3f s  %10.0f queues/s\n", "associate: NSUB per queue (first time, logged)", t_assoc,
           (double)n / t_assoc);
    printf("  %-44s %10.3f s  %10.0f queues/s   (baseline)\n", "resubscribe: NSUB per queue, 100 per call", t_nsub,
           (double)n / t_nsub);
    printf("  %-44s %10.3f s  %10.0f queues/s   %.1fx the baseline\n", "resubscribe: one NSUBS", t_nsubs,
           (double)n / t_nsubs, t_nsub / t_nsubs);
    printf("  %-44s %10.3f s  %10.0f queues/s   %.1fx the baseline\n", "resubscribe: one NSUBS after restart",
           t_nsubs2, (double)n / t_nsubs2, t_nsub / t_nsubs2);
    printf("  %-44s %10.3f s\n", "router restart (store log replay)", t_restart);
    if (rss0 > 0 && rss1 >= rss0)
        printf("  %-44s %10.0f B/queue (VmRSS %+ld KiB)\n", "memory per association", (double)(rss1 - rss0) * 1024 / n,
               rss1 - rss0);
    for (size_t i = 0; i < n; i++) {
        sx_key_free(qs[i].rkey);
        sx_key_free(qs[i].nkey);
    }
    sx_key_free(svc_key);
    free(qs);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_services: could not remove %s\n", e->dir);
    free(e);
    return 0;
}
