/* Concurrent APNS streams (apns_client.h, push.h) against the APNS stand-in
 * as a process (tests/apns_standin):
 *  - one batch of 60 pushes to 20 tokens goes out as concurrent streams
 *    (the stand-in saw more than one stream open while answering), every
 *    answer is matched to its own push (the tokens the stand-in answers 400
 *    BadDeviceToken and 410 Unregistered get those; the others 200 with
 *    their own body), and the stand-in recorded each push once;
 *  - a batch in which one push's answer is followed by GOAWAY: the pushes
 *    the connection lost come back RETRY, and are never recorded twice;
 *  - both again with the stand-in holding each answer back 30 ms;
 *  - the push thread with 400 verification pushes queued for 20 tokens: each
 *    recorded once, and each token's pushes in the order they were queued
 *    (the sealed registration code carries the sequence number). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"
#include "ntf_router/apns_client.h"
#include "ntf_router/push.h"
#include "ntf_router/tokens.h"

#include "ntf_env.h"

#define NTOK 20

static sx_ntf_apns_client *new_client(env *e)
{
    char ca[160];
    snprintf(ca, sizeof ca, "%s/ca.crt", e->sdir);
    sx_ntf_apns_client_opts ao = {0};
    ao.key_file = e->key;
    ao.key_id = KID;
    ao.host = "localhost";
    ao.port = e->apns_port;
    ao.ca_file = ca;
    ao.timeout_ms = TIMEOUT_MS;
    sx_ntf_apns_client *c = NULL;
    assert_ok(sx_ntf_apns_client_new(&ao, &c));
    return c;
}

/* The recorded lines (all of them, in the order recorded). */
static char **read_lines(env *e, size_t *n)
{
    FILE *f = fopen(e->reqs, "r");
    *n = 0;
    if (!f)
        return NULL;
    static char buf[16384];
    char **v = NULL;
    size_t cap = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
            assert_non_null(v);
        }
        v[(*n)++] = strdup(buf);
    }
    fclose(f);
    return v;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static size_t count_with(char **v, size_t n, const char *what)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strstr(v[i], what))
            k++;
    return k;
}

static void token_hex(char out[24], const char *prefix, int i)
{
    snprintf(out, 24, "%s%04x", prefix, (unsigned)i);
}

static void batch_streams(void)
{
    env e;
    env_init(&e, 0);
    sx_ntf_apns_client *c = new_client(&e);
    write_text(e.failures, "c0de0003 400 BadDeviceToken\nc0de0007 410 Unregistered\n");
    enum { N = 60 };
    static sx_ntf_apns_req reqs[N];
    static sx_ntf_apns_result res[N];
    static char hex[N][24], body[N][64];
    for (int i = 0; i < N; i++) {
        token_hex(hex[i], "c0de", i % NTOK);
        snprintf(body[i], sizeof body[i], "{\"seq\":%d}", i);
        reqs[i].token_hex = hex[i];
        reqs[i].background = true;
        reqs[i].body = sx_slice_str(body[i]);
    }
    assert_ok(sx_ntf_apns_client_push_batch(c, SX_NTF_PP_APNS_TEST, reqs, N, res));
    for (int i = 0; i < N; i++) {
        int t = i % NTOK;
        if (t == 3) {
            assert_int_equal(res[i].status, 400);
            assert_string_equal(res[i].reason, "BadDeviceToken");
            assert_int_equal(res[i].outcome, SX_NTF_APNS_TOKEN_INVALID);
        } else if (t == 7) {
            assert_int_equal(res[i].status, 410);
            assert_int_equal(res[i].outcome, SX_NTF_APNS_TOKEN_INVALID);
            assert_int_equal(res[i].invalid, SX_NTF_INVALID_UNREGISTERED);
        } else {
            assert_int_equal(res[i].status, 200);
            assert_int_equal(res[i].outcome, SX_NTF_APNS_DELIVERED);
        }
    }
    assert_int_equal(sx_ntf_apns_client_connects(c), 1);
    size_t n = 0;
    char **v = read_lines(&e, &n);
    assert_int_equal(n, N);
    size_t most_open = 0;
    for (int i = 0; i < N; i++) {
        /* each push once, under its own token, with its answer */
        char want[64], tok[48];
        snprintf(want, sizeof want, "{\\\"seq\\\":%d}\"", i);
        assert_int_equal(count_with(v, n, want), 1);
        for (size_t j = 0; j < n; j++)
            if (strstr(v[j], want)) {
                snprintf(tok, sizeof tok, "\"token\":\"%.23s\"", hex[i]);
                assert_non_null(strstr(v[j], tok));
                int t = i % NTOK;
                assert_non_null(strstr(v[j], t == 3 ? "\"status\":400" : t == 7 ? "\"status\":410"
                                                                                : "\"status\":200"));
                const char *o = strstr(v[j], "\"open\":");
                assert_non_null(o);
                size_t k = (size_t)strtoul(o + 7, NULL, 10);
                most_open = k > most_open ? k : most_open;
            }
    }
    /* the client sends every stream's HEADERS before the DATA that ends the
     * first one, so the stand-in had several open at its first answer */
    assert_true(most_open > 1);
    free_lines(v, n);

    /* GOAWAY after one answer: the streams it lost are RETRY, none is
     * recorded twice; sent again on a new connection, all arrive once */
    write_text(e.failures, "c0de0005 goaway\n");
    for (int i = 0; i < N; i++) {
        snprintf(body[i], sizeof body[i], "{\"again\":%d}", i);
        reqs[i].body = sx_slice_str(body[i]);
    }
    assert_ok(sx_ntf_apns_client_push_batch(c, SX_NTF_PP_APNS_TEST, reqs, N, res));
    write_text(e.failures, "");
    static sx_ntf_apns_req again[N];
    static sx_ntf_apns_result res2[N];
    size_t r = 0, ok = 0;
    for (int i = 0; i < N; i++) {
        if (res[i].outcome == SX_NTF_APNS_RETRY) {
            assert_int_equal(res[i].status, 0);
            again[r++] = reqs[i];
        } else {
            ok++;
        }
    }
    assert_true(ok >= 1); /* at least the GOAWAY's own stream was answered */
    if (r) {
        sx_ntf_apns_client_disconnect(c, SX_NTF_PP_APNS_TEST);
        assert_ok(sx_ntf_apns_client_push_batch(c, SX_NTF_PP_APNS_TEST, again, r, res2));
        for (size_t i = 0; i < r; i++)
            assert_int_not_equal(res2[i].outcome, SX_NTF_APNS_RETRY);
    }
    v = read_lines(&e, &n);
    assert_int_equal(n, 2 * N);
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\\\"again\\\":%d}\"", i);
        assert_int_equal(count_with(v, n, want), 1);
    }
    free_lines(v, n);
    sx_ntf_apns_client_free(c);
    env_free(&e);
}

static void test_batch_streams(void **state)
{
    (void)state;
    batch_streams();
}

/* The same with the stand-in holding each answer back 30 ms, as a far
 * provider's round trip: the streams wait together. */
static void test_batch_streams_delayed(void **state)
{
    (void)state;
    g_standin_delay_ms = 30;
    batch_streams();
    g_standin_delay_ms = 0;
}

static void test_pusher_order(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    sx_ntf_tokens *tokens = NULL;
    assert_ok(sx_ntf_tokens_new(&tokens));
    sx_ntf_pusher *p = NULL;
    assert_ok(sx_ntf_pusher_start(tokens, new_client(&e), 3600, &p));
    enum { PER = 20,
           TOTAL = NTOK * PER };
    static sx_ntf_tkn_rec recs[NTOK];
    char hex[NTOK][24];
    for (int t = 0; t < NTOK; t++) {
        sx_ntf_tkn_rec *r = &recs[t];
        memset(r, 0, sizeof *r);
        r->id.len = 24;
        sx_random_bytes(r->id.b, r->id.len);
        r->token.provider = SX_NTF_PP_APNS_TEST;
        token_hex(hex[t], "beef", t);
        r->token.token.len = strlen(hex[t]);
        memcpy(r->token.token.b, hex[t], r->token.token.len);
        sx_random_bytes(r->dh_secret, sizeof r->dh_secret);
        r->status.status = SX_NTF_TKN_REGISTERED;
    }
    /* queued round-robin over the tokens: the registration code is the
     * token's number and the push's sequence number */
    for (int s = 0; s < PER; s++)
        for (int t = 0; t < NTOK; t++) {
            recs[t].reg_code.len = 2;
            recs[t].reg_code.b[0] = (uint8_t)t;
            recs[t].reg_code.b[1] = (uint8_t)s;
            assert_true(sx_ntf_pusher_verify(p, &recs[t]));
        }
    size_t n = 0;
    char **v = NULL;
    for (int i = 0; i < WAIT_S * 20; i++) {
        free_lines(v, n);
        v = read_lines(&e, &n);
        if (n >= TOTAL)
            break;
        ntf_sleep_ms(50);
    }
    assert_int_equal(n, TOTAL);
    int next[NTOK] = {0};
    size_t most_open = 0;
    for (size_t j = 0; j < n; j++) {
        int t = -1;
        for (int k = 0; k < NTOK && t < 0; k++) {
            char tok[48];
            snprintf(tok, sizeof tok, "\"token\":\"%.23s\"", hex[k]);
            if (strstr(v[j], tok))
                t = k;
        }
        assert_true(t >= 0);
        assert_non_null(strstr(v[j], "\"status\":200"));
        uint8_t code[64];
        size_t len = open_sealed(v[j], "verification", recs[t].dh_secret, code, sizeof code);
        assert_int_equal(len, 2);
        assert_int_equal(code[0], t);
        assert_int_equal(code[1], next[t]); /* in the order queued, each once */
        next[t]++;
        const char *o = strstr(v[j], "\"open\":");
        assert_non_null(o);
        size_t k = (size_t)strtoul(o + 7, NULL, 10);
        most_open = k > most_open ? k : most_open;
    }
    for (int t = 0; t < NTOK; t++)
        assert_int_equal(next[t], PER);
    /* the first batch may hold only the first push; the next ones several */
    assert_true(most_open > 1);
    sx_ntf_push_stats ps;
    sx_ntf_pusher_stats(p, &ps);
    assert_int_equal(ps.delivered, TOTAL);
    assert_int_equal(ps.failed, 0);
    free_lines(v, n);
    sx_ntf_pusher_stop(p);
    sx_ntf_tokens_free(tokens);
    env_free(&e);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <apns-standin>\n", argv[0]);
        return 2;
    }
    g_standin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_streams),
        cmocka_unit_test(test_batch_streams_delayed),
        cmocka_unit_test(test_pusher_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
