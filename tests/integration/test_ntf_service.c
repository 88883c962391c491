/* The NTF router as a notifier service (PROTOCOL-NOTES G18; reference
 * Notifications/Server.hs receiveAgent and Env.hs at 152c30ca68): the
 * smp-server (metrics every second), ntf-server (use_service_credentials:
 * on) and APNS stand-in programs as processes, with two SMP routers:
 *  - N subscriptions of one token on the first SMP router and M on the
 *    second reach ACTIVE, each with its own NSUB (signed as the service,
 *    which associates the queue);
 *  - one service certificate per SMP router (svccreds.h; without a
 *    database: two files each in the log folder): each SMP router's store
 *    log registers one notifier service, with the fingerprint of its own
 *    certificate, the two different;
 *  - the NTF router stopped and started again: the same certificate per
 *    SMP router, so the same service (no new NEW_SERVICE, same ServiceId),
 *    and the associations kept in its store log: one NSUBS at each SMP
 *    router with the count it has, no per-queue NSUB;
 *  - the SMP router killed (SIGKILL) and started again: every subscription
 *    is INACTIVE, then ACTIVE again after one NSUBS (the router's service
 *    subscription counters sum to 1, its association counters stay 0);
 *  - messages sent to two of the queues are pushed to the device. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>

#include <openssl/x509.h>

#include "core/base64.h"
#include "crypto/x509.h"
#include "ntf_env.h"
#include "pool_router.h"
#include "simplex/smp.h"

#define N 24
#define M 6 /* on the second SMP router */

static struct {
    sx_smp_queue *rcv, *snd;
    uint8_t sid[SX_NTF_CLIENT_ID_MAX];
    size_t sid_len;
} Q[N + M];

/* The fingerprints (base64url) of the per-router service certificates in
 * the NTF router's log folder; each has its key beside it. */
static int cert_files(const env *e, char fps[][64], int cap)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/var", e->dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, "ntf-service-", 12) != 0 || l < 4 || strcmp(de->d_name + l - 4, ".crt") != 0)
            continue;
        assert_true(n < cap);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        X509 *x = NULL;
        assert_ok(sx_x509_read_cert_file(path, &x));
        uint8_t fp[SX_FINGERPRINT_LEN];
        assert_ok(sx_x509_fingerprint(x, fp));
        X509_free(x);
        assert_ok(sx_x509_fingerprint_text(fp, fps[n], 64));
        memcpy(path + strlen(path) - 4, ".key", 4);
        assert_int_equal(access(path, R_OK), 0);
        n++;
    }
    closedir(d);
    return n;
}

/* A whole file as a NUL-terminated string (NULL: cannot be read). */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    size_t n;
    while (b && (n = fread(b + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b)
        b[len] = 0;
    return b;
}

static void subscribe(env *e, const device *d, const pool_router *rp, int from, int to)
{
    sx_smp_conn *rc = NULL;
    assert_ok(sx_smp_connect(rp->addr, NULL, &rc));
    for (int i = from; i < to; i++) {
        assert_ok(sx_smp_queue_create(rc, &Q[i].rcv));
        assert_ok(sx_smp_queue_sender(Q[i].rcv, &Q[i].snd));
        sx_smp_ntf_creds nc;
        assert_ok(sx_smp_queue_notify_on(rc, Q[i].rcv, &nc));
        uint8_t nkey[128], qbuf[600];
        size_t nkey_len = 0;
        assert_ok(sx_b64_decode(nc.notifier_key, strlen(nc.notifier_key), SX_B64_URL, nkey, sizeof nkey, &nkey_len));
        sx_ntf_queue q;
        assert_ok(sx_ntf_queue_of(rp->addr, sx_slice_of(nc.notifier_id, sizeof nc.notifier_id), qbuf, sizeof qbuf, &q));
        assert_ok(sx_ntf_sub_create(e->c, dev_id(d), d->verify, &q, sx_slice_of(nkey, nkey_len), Q[i].sid,
                                    &Q[i].sid_len, NULL));
    }
    sx_smp_close(rc);
}

/* The value of the SMP router's metric (-1: not there). */
static long long metric(const pool_router *rp, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/smp-server-metrics.txt", rp->var);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    long long v = -1;
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
            v = atoll(line + nl + 1);
    fclose(f);
    return v;
}

/* NSUBS the router counted, however their figures compared. */
static long long nsubs(const pool_router *rp)
{
    static const char *const kinds[] = {"ok", "more", "fewer", "diff"};
    long long n = 0;
    for (size_t i = 0; i < 4; i++) {
        char name[96];
        snprintf(name, sizeof name, "simplex_smp_ntf_services_sub_%s", kinds[i]);
        long long v = metric(rp, name);
        if (v < 0)
            return -1;
        n += v;
    }
    return n;
}

static void wait_metric(const pool_router *rp, const char *name, long long want)
{
    long long v = -1;
    for (int i = 0; i < WAIT_S * 10 && (v = metric(rp, name)) != want; i++)
        ntf_sleep_ms(100);
    if (v != want)
        fail_msg("%s is %lld, expected %lld", name, v, want);
}

static void wait_range(env *e, const device *d, int from, int to, sx_ntf_sub_status want)
{
    for (int i = from; i < to; i++) {
        sx_ntf_sub_status st = 0;
        char text[128] = "";
        int k = 0;
        for (; k < WAIT_S * 20; k++) {
            assert_ok(sx_ntf_sub_check(e->c, sx_slice_of(Q[i].sid, Q[i].sid_len), d->verify, &st, text,
                                       sizeof text, NULL));
            if (st == want)
                break;
            ntf_sleep_ms(50);
        }
        if (st != want)
            fail_msg("subscription %d: status %d (%s), expected %d", i, st, text, want);
    }
}

static void test_service(void **state)
{
    (void)state;
    pool_router rp, rp2;
    assert_int_equal(pool_router_init(&rp, "prometheus_interval: 1\n"), 0);
    assert_int_equal(pool_router_init(&rp2, "prometheus_interval: 1\n"), 0);
    pool_router_start(&rp);
    pool_router_start(&rp2);
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "7777bbbb7777bbbb");

    /* N queues with notifiers on one SMP router, M on the other, each
     * subscribed on the NTF router */
    sx_smp_conn *sc = NULL;
    subscribe(&e, &d, &rp, 0, N);
    subscribe(&e, &d, &rp2, N, N + M);
    wait_range(&e, &d, 0, N + M, SX_NTF_SUB_ACTIVE);
    /* a per-queue NSUB each, associating the queue (the SMP router's
     * counter; as in the reference, a service's NSUB is not counted among
     * the ordinary ones), no NSUBS yet */
    wait_metric(&rp, "simplex_smp_ntf_services_assoc_new", N);
    wait_metric(&rp2, "simplex_smp_ntf_services_assoc_new", M);
    assert_int_equal(metric(&rp, "simplex_smp_subscription_ntf_requests"), 0);
    assert_int_equal(metric(&rp2, "simplex_smp_subscription_ntf_requests"), 0);
    assert_int_equal(nsubs(&rp), 0);

    /* one certificate per SMP router: each knows its own service */
    char id1[128], h1[128], id2[128], h2[128], fps[4][64];
    assert_int_equal(pool_router_wait_services(&rp, 'N', 1, id1, h1, sizeof id1), 1);
    assert_int_equal(pool_router_wait_services(&rp2, 'N', 1, id2, h2, sizeof id2), 1);
    assert_string_not_equal(h1, h2);
    assert_string_not_equal(id1, id2);
    assert_int_equal(cert_files(&e, fps, 4), 2);
    assert_true((strcmp(fps[0], h1) == 0 && strcmp(fps[1], h2) == 0) ||
                (strcmp(fps[0], h2) == 0 && strcmp(fps[1], h1) == 0));

    /* the NTF router again: the same certificate for each, so the same
     * service, and the associations it kept: one NSUBS at each SMP
     * router, whose count is the NTF router's, and no per-queue NSUB */
    env_router_stop(&e);
    env_router_start(&e);
    long long v = -1;
    for (int i = 0; i < WAIT_S * 10 && ((v = nsubs(&rp)) < 1 || nsubs(&rp2) < 1); i++)
        ntf_sleep_ms(100);
    assert_int_equal(v, 1);
    assert_int_equal(nsubs(&rp2), 1);
    wait_range(&e, &d, 0, N + M, SX_NTF_SUB_ACTIVE);
    assert_int_equal(metric(&rp, "simplex_smp_subscription_ntf_requests"), 0);
    assert_int_equal(metric(&rp2, "simplex_smp_subscription_ntf_requests"), 0);
    for (int i = 0; i < 2; i++) {
        const pool_router *r = i ? &rp2 : &rp;
        assert_int_equal(metric(r, "simplex_smp_ntf_services_sub_more"), 0);
        assert_int_equal(metric(r, "simplex_smp_ntf_services_sub_fewer"), 0);
    }
    char out[160], want[400];
    snprintf(out, sizeof out, "%s/ntf-server.out", e.dir);
    char *text = read_all(out);
    assert_non_null(text);
    snprintf(want, sizeof want, "%s: service subscribed, %d queues\n", rp.addr, N);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "%s: service subscribed, %d queues\n", rp2.addr, M);
    assert_non_null(strstr(text, want));
    assert_null(strstr(text, "queues expected"));
    free(text);
    assert_int_equal(metric(&rp, "simplex_smp_ntf_services_assoc_new"), N);
    assert_int_equal(metric(&rp2, "simplex_smp_ntf_services_assoc_new"), M);
    assert_int_equal(metric(&rp, "simplex_smp_ntf_services_assoc_updated"), 0);
    assert_int_equal(metric(&rp2, "simplex_smp_ntf_services_assoc_updated"), 0);
    char id1b[128], h1b[128], id2b[128], h2b[128], fpsb[4][64];
    assert_int_equal(pool_router_services(&rp, 'N', id1b, h1b, sizeof id1b), 1);
    assert_int_equal(pool_router_services(&rp2, 'N', id2b, h2b, sizeof id2b), 1);
    assert_string_equal(id1b, id1);
    assert_string_equal(id2b, id2);
    assert_int_equal(cert_files(&e, fpsb, 4), 2);
    assert_true((strcmp(fpsb[0], fps[0]) == 0 && strcmp(fpsb[1], fps[1]) == 0) ||
                (strcmp(fpsb[0], fps[1]) == 0 && strcmp(fpsb[1], fps[0]) == 0));

    /* the SMP router dies and comes back: one NSUBS, no per-queue NSUB */
    pool_router_kill9(&rp);
    wait_range(&e, &d, 0, N, SX_NTF_SUB_INACTIVE);
    pool_router_start(&rp);
    wait_range(&e, &d, 0, N + M, SX_NTF_SUB_ACTIVE);
    v = -1;
    for (int i = 0; i < WAIT_S * 10 && (v = nsubs(&rp)) < 1; i++)
        ntf_sleep_ms(100);
    assert_int_equal(v, 1);
    assert_int_equal(metric(&rp, "simplex_smp_ntf_services_assoc_new"), 0);
    assert_int_equal(metric(&rp, "simplex_smp_ntf_services_assoc_duplicate"), 0);

    /* pushes still arrive */
    assert_ok(sx_smp_connect(rp.addr, NULL, &sc));
    assert_ok(sx_smp_send_notify(sc, Q[3].snd, "after restart 1", 15));
    assert_ok(sx_smp_send_notify(sc, Q[N - 1].snd, "after restart 2", 15));
    static char line[16384];
    wait_lines(&e, d.hex, "\"apns-push-type\":\"alert\"", 2, line, sizeof line);
    assert_non_null(strstr(line, "\"status\":200"));
    /* the metrics file is rewritten every second: still one NSUBS */
    ntf_sleep_ms(1500);
    assert_int_equal(nsubs(&rp), 1);

    sx_smp_close(sc);
    for (int i = 0; i < N + M; i++) {
        sx_smp_queue_free(Q[i].snd);
        sx_smp_queue_free(Q[i].rcv);
    }
    device_free(&d);
    env_free(&e);
    pool_router_free(&rp);
    pool_router_free(&rp2);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <apns-standin> <ntf-server>\n", argv[0]);
        return 2;
    }
    g_standin = argv[1];
    g_ntf_server = argv[2];
    g_ntf_service = true;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
