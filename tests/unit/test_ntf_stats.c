/* Unit tests of the NTF router's statistics (src/ntf_router/stats.h): the
 * backup file as the reference writes it (round trip byte for byte, the
 * per-router lines kept), the older forms without the optional lines,
 * truncated, malformed and trailing input, the daily line's columns and
 * what it restarts, save / load through a file, the own-domain match
 * (the reference's: the host itself or a name under it) and the per-router
 * lines counted, saved, restored and written as Prometheus series. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prom_check.h"
#include "testutil.h"
#include "ntf_router/metrics.h"
#include "ntf_router/stats.h"

#define T_2023_12_31 1703980800 /* a Sunday */
#define T_2024_01_01 1704067200 /* a Monday and the 1st */

/* A backup as the reference writes it (every line present). */
static const char *const reference_text = "fromTime=2023-12-31T01:02:03Z\n"
                                          "tknCreated=1\n"
                                          "tknVerified=2\n"
                                          "tknDeleted=3\n"
                                          "tknReplaced=4\n"
                                          "subCreated=5\n"
                                          "subDeleted=6\n"
                                          "ntfReceived=7\n"
                                          "ntfReceivedAuth=8\n"
                                          "ntfDelivered=9\n"
                                          "ntfFailed=10\n"
                                          "ntfReceivedOwn=smp1.example.com 3,smp2.example.com 4\n"
                                          "ntfReceivedAuthOwn=\n"
                                          "ntfDeliveredOwn=smp1.example.com 2\n"
                                          "ntfFailedOwn=\n"
                                          "ntfCronDelivered=11\n"
                                          "ntfCronFailed=12\n"
                                          "ntfVrfQueued=13\n"
                                          "ntfVrfDelivered=14\n"
                                          "ntfVrfFailed=15\n"
                                          "ntfVrfInvalidTkn=16\n"
                                          "activeTokens:\n"
                                          "dayHashes=-5,7\n"
                                          "weekHashes=-5,7,9\n"
                                          "monthHashes=-5,7,9,11\n"
                                          "activeSubs:\n"
                                          "dayHashes=\n"
                                          "weekHashes=7\n"
                                          "monthHashes=7\n";

/* An older file: none of the optional lines. */
static const char *const older_text = "fromTime=2023-12-31T01:02:03Z\n"
                                      "tknCreated=1\n"
                                      "tknVerified=2\n"
                                      "tknDeleted=3\n"
                                      "subCreated=5\n"
                                      "subDeleted=6\n"
                                      "ntfReceived=7\n"
                                      "ntfDelivered=9\n"
                                      "activeTokens:\n"
                                      "dayHashes=1\n"
                                      "weekHashes=1\n"
                                      "monthHashes=1\n"
                                      "activeSubs:\n"
                                      "dayHashes=\n"
                                      "weekHashes=\n"
                                      "monthHashes=\n";

static sx_ntf_stats_data *parse_ok(const char *text)
{
    sx_ntf_stats_data *d = calloc(1, sizeof *d);
    assert_non_null(d);
    size_t line = 99;
    assert_ok(sx_ntf_stats_parse(text, strlen(text), d, &line));
    assert_int_equal(line, 0);
    return d;
}

static void data_free(sx_ntf_stats_data *d)
{
    sx_ntf_stats_data_cleanup(d);
    free(d);
}

static void test_spec(void **state)
{
    (void)state;
    assert_true(sx_kit_stats_spec_valid(sx_ntf_stats_spec()));
    assert_string_equal(sx_ntf_stat_name(SX_NTF_STAT_TKN_CREATED), "tknCreated");
    assert_string_equal(sx_ntf_stat_name(SX_NTF_STAT_NTF_RECEIVED_AUTH), "ntfReceivedAuth");
    assert_string_equal(sx_ntf_stat_name(SX_NTF_STAT_NTF_VRF_INVALID_TKN), "ntfVrfInvalidTkn");
}

static void test_reference_round_trip(void **state)
{
    (void)state;
    sx_ntf_stats_data *d = parse_ok(reference_text);
    assert_int_equal(d->from_time, T_2023_12_31 + 3723);
    for (int k = 0; k < SX_NTF_STAT_COUNT; k++)
        assert_int_equal(d->c[k], k + 1);
    assert_int_equal(d->active_tokens.day.n, 2);
    assert_int_equal(d->active_tokens.month.n, 4);
    assert_int_equal(d->active_subs.week.n, 1);
    assert_string_equal(d->own[0], "smp1.example.com 3,smp2.example.com 4");
    assert_string_equal(d->own[2], "smp1.example.com 2");
    char *out = NULL;
    size_t n = 0;
    assert_ok(sx_ntf_stats_encode(d, &out, &n));
    assert_int_equal(n, strlen(reference_text));
    assert_string_equal(out, reference_text);
    free(out);
    data_free(d);
}

static void test_older_form(void **state)
{
    (void)state;
    sx_ntf_stats_data *d = parse_ok(older_text);
    assert_int_equal(d->c[SX_NTF_STAT_TKN_REPLACED], 0);
    assert_int_equal(d->c[SX_NTF_STAT_NTF_DELIVERED], 9);
    assert_int_equal(d->c[SX_NTF_STAT_NTF_VRF_QUEUED], 0);
    assert_int_equal(d->active_tokens.day.n, 1);
    assert_string_equal(d->own[0], "");
    /* written back in the current form: every line present */
    char *out = NULL;
    assert_ok(sx_ntf_stats_encode(d, &out, NULL));
    assert_non_null(strstr(out, "\ntknReplaced=0\nsubCreated=5\n"));
    assert_non_null(strstr(out, "\nntfFailed=0\nntfReceivedOwn=\nntfReceivedAuthOwn=\nntfDeliveredOwn=\n"
                                "ntfFailedOwn=\nntfCronDelivered=0\n"));
    sx_ntf_stats_data *again = parse_ok(out);
    assert_int_equal(again->c[SX_NTF_STAT_SUB_DELETED], 6);
    data_free(again);
    free(out);
    data_free(d);
}

static void expect_bad(const char *text, size_t len, size_t want_line)
{
    sx_ntf_stats_data *d = calloc(1, sizeof *d);
    assert_non_null(d);
    size_t line = 0;
    assert_int_not_equal(sx_ntf_stats_parse(text, len, d, &line), SX_OK);
    if (want_line)
        assert_int_equal(line, want_line);
    assert_int_equal(d->c[SX_NTF_STAT_TKN_CREATED], 0);
    assert_string_equal(d->own[0], "");
    data_free(d);
}

static void test_bad_input(void **state)
{
    (void)state;
    size_t len = strlen(reference_text);
    /* truncated at every byte: never accepted except complete */
    for (size_t n = 0; n + 1 < len; n++)
        expect_bad(reference_text, n, 0);
    /* trailing input */
    char *t = malloc(len + 16);
    assert_non_null(t);
    memcpy(t, reference_text, len);
    memcpy(t + len, "extra=1\n", 9);
    expect_bad(t, len + 8, 0);
    /* a malformed per-router line (line 12), a bad number (line 2) */
    char *m = strdup(reference_text);
    assert_non_null(m);
    char *p = strstr(m, "smp1.example.com 3");
    p[16] = 'x'; /* "smp1.example.comx3" */
    expect_bad(m, len, 12);
    /* over a record that held a parsed file: nothing of it is left */
    sx_ntf_stats_data *d = parse_ok(reference_text);
    sx_ntf_stats_data_cleanup(d);
    size_t bad_line = 0;
    assert_int_not_equal(sx_ntf_stats_parse(m, len, d, &bad_line), SX_OK);
    assert_int_equal(bad_line, 12);
    assert_int_equal(d->c[SX_NTF_STAT_TKN_CREATED], 0);
    assert_int_equal(d->from_time, 0);
    assert_string_equal(d->own[0], "");
    data_free(d);
    free(m);
    m = strdup(reference_text);
    assert_non_null(m);
    m[strlen("fromTime=2023-12-31T01:02:03Z\ntknCreated=")] = 'z';
    expect_bad(m, len, 2);
    free(m);
    /* a NUL or a control byte inside a per-router host (found by fuzzing:
     * it was kept and written back cut short) */
    for (int bad = 0; bad < 2; bad++) {
        m = malloc(len);
        assert_non_null(m);
        memcpy(m, reference_text, len);
        p = strstr(reference_text, "smp2.example.com 4");
        assert_non_null(p);
        m[p - reference_text + 2] = bad ? '\x08' : '\0';
        expect_bad(m, len, 12);
        free(m);
    }
    free(t);
    /* an oversized per-router line */
    size_t big = SX_NTF_STATS_OWN_MAX + 100;
    char *b = malloc(len + big * 8);
    assert_non_null(b);
    const char *at = strstr(reference_text, "ntfReceivedAuthOwn=");
    size_t head = (size_t)(at - reference_text) + strlen("ntfReceivedAuthOwn=");
    memcpy(b, reference_text, head);
    size_t bn = head;
    while (bn - head < big) {
        memcpy(b + bn, "a 1,", 4);
        bn += 4;
    }
    memcpy(b + bn, "a 1", 3);
    bn += 3;
    memcpy(b + bn, reference_text + head, len - head);
    bn += len - head;
    expect_bad(b, bn, 13);
    free(b);
}

static size_t count_cols(const char *line)
{
    size_t n = 1;
    for (const char *p = line; *p && *p != '\n'; p++)
        n += *p == ',';
    return n;
}

static void col(const char *line, size_t i, char *out, size_t cap)
{
    const char *p = line;
    while (i-- && (p = strchr(p, ',')))
        p++;
    assert_non_null(p);
    size_t n = strcspn(p, ",\n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = 0;
}

static void test_daily_line(void **state)
{
    (void)state;
    sx_ntf_stats *s = calloc(1, sizeof *s);
    assert_non_null(s);
    sx_ntf_stats_init(s, T_2023_12_31);
    sx_ntf_stats_data *d = parse_ok(reference_text);
    char path[] = "/tmp/sx_ntf_stats_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, reference_text, strlen(reference_text)), (ssize_t)strlen(reference_text));
    close(fd);
    size_t line = 0;
    assert_ok(sx_ntf_stats_load(s, path, &line));
    unlink(path);
    data_free(d);
    uint8_t tok[16] = {1}, sub[16] = {2};
    sx_ntf_stats_active_token(s, tok, sizeof tok);
    sx_ntf_stats_active_sub(s, sub, sizeof sub);
    sx_ntf_stats_active_sub(s, sub, sizeof sub); /* counted once */
    size_t at = 0, as = 0;
    sx_ntf_stats_daily_active(s, &at, &as);
    assert_int_equal(at, 3);
    assert_int_equal(as, 1);
    char out[1024];
    assert_ok(sx_ntf_stats_daily_line(s, T_2024_01_01, out, sizeof out));
    assert_int_equal(count_cols(out), 22);
    static const char *const want[] = {"2023-12-31", "1", "2", "3", "5", "6", "7", "9", "3", "4", "5",
                                       "1", "2", "2", "4", "10", "11", "12", "13", "14", "15", "16"};
    char v[64];
    for (size_t i = 0; i < 22; i++) {
        col(out, i, v, sizeof v);
        assert_string_equal(v, want[i]);
    }
    /* restarted, except ntfReceivedAuth (not in the line) */
    assert_int_equal(sx_ntf_stats_get(s, SX_NTF_STAT_TKN_CREATED), 0);
    assert_int_equal(sx_ntf_stats_get(s, SX_NTF_STAT_NTF_VRF_INVALID_TKN), 0);
    assert_int_equal(sx_ntf_stats_get(s, SX_NTF_STAT_NTF_RECEIVED_AUTH), 8);
    assert_int_equal(sx_ntf_stats_from_time(s), T_2024_01_01);
    /* a Tuesday: the week's and month's columns empty */
    sx_ntf_stats_inc(s, SX_NTF_STAT_SUB_CREATED);
    sx_ntf_stats_active_token(s, tok, sizeof tok);
    assert_ok(sx_ntf_stats_daily_line(s, T_2024_01_01 + 86400, out, sizeof out));
    col(out, 0, v, sizeof v);
    assert_string_equal(v, "2024-01-01");
    col(out, 4, v, sizeof v);
    assert_string_equal(v, "1");
    col(out, 8, v, sizeof v);
    assert_string_equal(v, "1");
    col(out, 9, v, sizeof v);
    assert_string_equal(v, "");
    col(out, 10, v, sizeof v);
    assert_string_equal(v, "");
    sx_ntf_stats_destroy(s);
    free(s);
}

static void test_save_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_ntf_stats_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/ntf-server-stats.log", dir);
    sx_ntf_stats *s = calloc(1, sizeof *s), *r = calloc(1, sizeof *r);
    assert_non_null(s);
    assert_non_null(r);
    sx_ntf_stats_init(s, T_2023_12_31);
    sx_ntf_stats_init(r, T_2024_01_01);
    for (int i = 0; i < 1000; i++) {
        uint8_t id[24] = {0};
        memcpy(id, &i, sizeof i);
        sx_ntf_stats_active_sub(s, id, sizeof id);
        if (i % 2)
            sx_ntf_stats_active_token(s, id, sizeof id);
        sx_ntf_stats_inc(s, SX_NTF_STAT_NTF_DELIVERED);
    }
    assert_ok(sx_ntf_stats_save(s, path));
    size_t line = 0;
    assert_ok(sx_ntf_stats_load(r, path, &line));
    assert_int_equal(sx_ntf_stats_get(r, SX_NTF_STAT_NTF_DELIVERED), 1000);
    assert_int_equal(sx_ntf_stats_from_time(r), T_2023_12_31);
    size_t at = 0, as = 0;
    sx_ntf_stats_daily_active(r, &at, &as);
    assert_int_equal(at, 500);
    assert_int_equal(as, 1000);
    /* a file that does not parse leaves the statistics as they were */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("fromTime=2023-12-31T01:02:03Z\ntknCreated=x\n", f);
    fclose(f);
    assert_int_not_equal(sx_ntf_stats_load(r, path, &line), SX_OK);
    assert_int_equal(line, 2);
    assert_int_equal(sx_ntf_stats_get(r, SX_NTF_STAT_NTF_DELIVERED), 1000);
    sx_ntf_stats_destroy(s);
    sx_ntf_stats_destroy(r);
    free(s);
    free(r);
    unlink(path);
    rmdir(dir);
}

static void test_metrics_text(void **state)
{
    (void)state;
    sx_ntf_stats *s = calloc(1, sizeof *s);
    assert_non_null(s);
    sx_ntf_stats_init(s, T_2023_12_31);
    for (int i = 0; i < 3; i++)
        sx_ntf_stats_inc(s, SX_NTF_STAT_TKN_CREATED);
    sx_ntf_stats_inc(s, SX_NTF_STAT_NTF_RECEIVED_AUTH);
    uint8_t id[8] = {7};
    sx_ntf_stats_active_sub(s, id, sizeof id);
    sx_ntf_metrics_in in = {0};
    sx_ntf_metrics_from_stats(s, &in);
    in.token_count = 5;
    in.sub_count = 9;
    in.last_ntf_count = 4;
    sx_ntf_router_fig rf[2] = {{.host = "a.example", .connected = true, .active = 6},
                               {.host = "b.example", .pending = 3}};
    in.routers = rf;
    in.n_routers = 2;
    in.smp_sessions = 1;
    in.push_queue = 1;
    in.version = "6.4.5.1";
    in.now_ms = (int64_t)T_2024_01_01 * 1000;
    char *text = NULL;
    size_t len = 0;
    assert_ok(sx_ntf_metrics_text(&in, &text, &len));
    assert_int_equal(strlen(text), len);
    char err[256];
    size_t samples = 0;
    if (!prom_check(text, &samples, err, sizeof err))
        fail_msg("%s", err);
    assert_true(samples >= 30);
    assert_memory_equal(text, "# Recorded at: 2024-01-01T00:00:00Z\n# Stats from: 2023-12-31T00:00:00Z\n", 71);
    double v = 0;
    assert_true(prom_value(text, "simplex_ntf_tokens_created", &v));
    assert_true(v == 3);
    assert_true(prom_value(text, "simplex_ntf_notifications_received_auth", &v));
    assert_true(v == 1);
    assert_true(prom_value(text, "simplex_ntf_subscriptions_count_daily", &v));
    assert_true(v == 1);
    assert_true(prom_value(text, "simplex_ntf_tokens_total", &v));
    assert_true(v == 5);
    assert_true(prom_value(text, "simplex_ntf_subscriptions_approx_total", &v));
    assert_true(v == 9);
    assert_true(prom_value(text, "simplex_ntf_notifications_total", &v));
    assert_true(v == 4);
    assert_true(prom_value(text, "simplex_ntf_smp_subscription_active_sub_count_other", &v));
    assert_true(v == 6);
    assert_true(prom_value(text, "simplex_ntf_smp_subscription_pending_sub_count_other", &v));
    assert_true(v == 3);
    assert_true(prom_value(text, "simplex_ntf_smp_sessions_count", &v));
    assert_true(v == 1);
    assert_true(prom_value(text, "simplex_ntf_info{version=\"6.4.5.1\",rts_options=\"\"}", &v));
    assert_true(v == 1);
    assert_non_null(strstr(text, "simplex_ntf_tokens_created 3 1704067200000\n# tknCreated\n"));
    free(text);
    sx_ntf_stats_destroy(s);
    free(s);
}

/* Own routers (two on one host, one on another) and others (two on one
 * host, one without a connection). */
static const sx_ntf_router_fig split_figs[] = {
    {.host = "smp.own.im", .own = true, .connected = true, .active = 5, .service = 2},
    {.host = "smp.own.im", .own = true, .connected = true, .active = 3, .pending = 1},
    {.host = "smp2.own.im", .own = true, .pending = 4},
    {.host = "a.example", .connected = true, .active = 7},
    {.host = "a.example", .connected = true},
    {.host = "b.example", .pending = 2},
};
#define N_SPLIT (sizeof split_figs / sizeof split_figs[0])

static void expect_split(sx_ntf_gauge_group g, int64_t own_entries, int64_t own_count, int64_t other_servers,
                         int64_t other_count)
{
    sx_ntf_gauge_split sp;
    sx_ntf_gauge_split_of(split_figs, N_SPLIT, g, &sp);
    assert_int_equal(sp.own_entries, own_entries);
    assert_int_equal(sp.own_count, own_count);
    assert_int_equal(sp.other_servers, other_servers);
    assert_int_equal(sp.other_count, other_count);
}

static void test_gauge_split(void **state)
{
    (void)state;
    /* one host's routers merged; another's routers with nothing not counted */
    expect_split(SX_NTF_G_QUEUE_ACTIVE, 1, 3 + 3, 1, 7);
    expect_split(SX_NTF_G_SERVICE_ACTIVE, 1, 2, 0, 0);
    expect_split(SX_NTF_G_SERVICE_PENDING, 0, 0, 0, 0);
    expect_split(SX_NTF_G_QUEUE_PENDING, 2, 5, 1, 2);
    /* connections: one entry per router */
    expect_split(SX_NTF_G_SUBSCRIBERS, 3, 3, 3, 0);
    expect_split(SX_NTF_G_CLIENTS, 2, 2, 2, 0);
    size_t i = 0;
    const char *h = NULL;
    int64_t c = 0;
    assert_true(sx_ntf_gauge_own_next(split_figs, N_SPLIT, SX_NTF_G_QUEUE_PENDING, &i, &h, &c));
    assert_string_equal(h, "smp.own.im");
    assert_int_equal(c, 1);
    assert_true(sx_ntf_gauge_own_next(split_figs, N_SPLIT, SX_NTF_G_QUEUE_PENDING, &i, &h, &c));
    assert_string_equal(h, "smp2.own.im");
    assert_int_equal(c, 4);
    assert_false(sx_ntf_gauge_own_next(split_figs, N_SPLIT, SX_NTF_G_QUEUE_PENDING, &i, &h, &c));
    /* no routers, and none own */
    sx_ntf_gauge_split sp;
    sx_ntf_gauge_split_of(NULL, 0, SX_NTF_G_QUEUE_ACTIVE, &sp);
    assert_int_equal(sp.own_entries + sp.own_count + sp.other_servers + sp.other_count, 0);
    sx_ntf_gauge_split_of(split_figs + 3, 3, SX_NTF_G_SUBSCRIBERS, &sp);
    assert_int_equal(sp.own_entries, 0);
    assert_int_equal(sp.other_servers, 3);
}

/* The metrics file with own routers: their _own series by host first. */
static void test_metrics_own(void **state)
{
    (void)state;
    sx_ntf_metrics_in *in = calloc(1, sizeof *in);
    assert_non_null(in);
    in->routers = split_figs;
    in->n_routers = N_SPLIT;
    in->version = "6.4.5.1";
    char *text = NULL;
    size_t len = 0;
    assert_ok(sx_ntf_metrics_text(in, &text, &len));
    char err[256];
    size_t samples = 0;
    if (!prom_check(text, &samples, err, sizeof err))
        fail_msg("%s", err);
    double v = 0;
    assert_true(prom_value(text, "simplex_ntf_smp_subscription_active_sub_count_own{server=\"smp.own.im\"}", &v));
    assert_true(v == 6);
    assert_true(prom_value(text, "simplex_ntf_smp_subscription_active_server_count_own{server=\"smp.own.im\"}", &v));
    assert_true(v == 1);
    assert_true(prom_value(text, "simplex_ntf_smp_subscription_active_sub_count_other", &v));
    assert_true(v == 7);
    assert_true(prom_value(text, "simplex_ntf_smp_subscription_pending_sub_count_own{server=\"smp2.own.im\"}", &v));
    assert_true(v == 4);
    assert_true(prom_value(text,
                           "simplex_ntf_smp_service_subscription_active_sub_count_own"
                           "{server=\"smp.own.im\"}",
                           &v));
    assert_true(v == 2);
    assert_true(prom_value(text, "simplex_ntf_smp_agent_clients_count_other", &v));
    assert_true(v == 2);
    assert_true(prom_value(text, "simplex_ntf_smp_subscribers_count_own{server=\"smp2.own.im\"}", &v));
    assert_true(v == 1);
    assert_non_null(strstr(text, "# TYPE simplex_ntf_smp_agent_sub_workers_count_own gauge\n"));
    assert_non_null(strstr(text, "\n# ownSrvSubs count\n"));
    /* no pending service subscriptions: no _own series for them */
    assert_null(strstr(text, "simplex_ntf_smp_service_subscription_pending_sub_count_own"));
    assert_non_null(strstr(text, "simplex_ntf_smp_service_subscription_pending_sub_count_other 0"));
    free(text);
    free(in);
}

static void test_own_domain(void **state)
{
    (void)state;
    const char *d = "simplex.im  example.com\t127.0.0.1";
    assert_true(sx_ntf_own_domain(d, "simplex.im"));
    assert_true(sx_ntf_own_domain(d, "smp4.simplex.im"));
    assert_true(sx_ntf_own_domain(d, "a.b.example.com"));
    assert_true(sx_ntf_own_domain(d, "127.0.0.1"));
    assert_false(sx_ntf_own_domain(d, "xsimplex.im"));     /* not under it: no dot */
    assert_false(sx_ntf_own_domain(d, "simplex.im.evil")); /* a suffix, not a prefix */
    assert_false(sx_ntf_own_domain(d, "im"));
    assert_false(sx_ntf_own_domain(d, "localhost"));
    assert_false(sx_ntf_own_domain(d, "0.0.1"));
    assert_false(sx_ntf_own_domain("", "simplex.im"));
    assert_false(sx_ntf_own_domain(NULL, "simplex.im"));
    char h[64];
    assert_true(sx_ntf_server_host("smp://AAEC=@smp.example.com,abc.onion:5001", h, sizeof h));
    assert_string_equal(h, "smp.example.com");
    assert_true(sx_ntf_server_host("smp://AAEC=@127.0.0.1:5223", h, sizeof h));
    assert_string_equal(h, "127.0.0.1");
    assert_true(sx_ntf_server_host("smp://AAEC=@localhost", h, sizeof h));
    assert_string_equal(h, "localhost");
    assert_true(sx_ntf_server_host("smp://AAEC=@[::1]:5223", h, sizeof h));
    assert_string_equal(h, "[::1]");
    assert_false(sx_ntf_server_host("smp://AAEC=@:5223", h, sizeof h));
    assert_false(sx_ntf_server_host("smp://AAEC=@a-very-long-host.example.com", h, 8));
    sx_ntf_stats s;
    sx_ntf_stats_init(&s, T_2023_12_31);
    assert_false(sx_ntf_stats_own_server(&s, "smp://AAEC=@smp.simplex.im", h, sizeof h)); /* no domains */
    assert_ok(sx_ntf_stats_set_own_domains(&s, "  "));
    assert_false(sx_ntf_stats_own_server(&s, "smp://AAEC=@smp.simplex.im", h, sizeof h));
    assert_ok(sx_ntf_stats_set_own_domains(&s, "simplex.im"));
    assert_true(sx_ntf_stats_own_server(&s, "smp://AAEC=@smp.simplex.im:443", h, sizeof h));
    assert_string_equal(h, "smp.simplex.im");
    assert_false(sx_ntf_stats_own_server(&s, "smp://AAEC=@smp.example.com", h, sizeof h));
    assert_false(sx_ntf_stats_own_server(NULL, "smp://AAEC=@smp.simplex.im", h, sizeof h));
    sx_ntf_stats_destroy(&s);
}

static void test_own_line(void **state)
{
    (void)state;
    char l[64] = "";
    assert_true(sx_ntf_own_line_inc(l, sizeof l, "b.example"));
    assert_string_equal(l, "b.example 1");
    assert_true(sx_ntf_own_line_inc(l, sizeof l, "b.example"));
    assert_true(sx_ntf_own_line_inc(l, sizeof l, "a.example")); /* in byte order */
    assert_true(sx_ntf_own_line_inc(l, sizeof l, "c.example"));
    assert_true(sx_ntf_own_line_inc(l, sizeof l, "b"));
    assert_string_equal(l, "a.example 1,b 1,b.example 2,c.example 1");
    assert_false(sx_ntf_own_line_inc(l, sizeof l, "x y"));
    assert_false(sx_ntf_own_line_inc(l, sizeof l, "x,y"));
    assert_false(sx_ntf_own_line_inc(l, sizeof l, ""));
    assert_false(sx_ntf_own_line_inc(l, sizeof l, "a-host-that-does-not-fit.example.com"));
    assert_string_equal(l, "a.example 1,b 1,b.example 2,c.example 1");
    char small[7] = "h 1";
    assert_true(sx_ntf_own_line_inc(small, sizeof small, "h"));
    assert_false(sx_ntf_own_line_inc(small, sizeof small, "g")); /* "g 1,h 2" and its NUL need 8 bytes */
    assert_string_equal(small, "h 2");
    char bad[16] = "h x";
    assert_false(sx_ntf_own_line_inc(bad, sizeof bad, "h"));
    char top[32] = "h 999999999999999998";
    assert_true(sx_ntf_own_line_inc(top, sizeof top, "h"));
    assert_false(sx_ntf_own_line_inc(top, sizeof top, "h")); /* 19 digits would not read back */
    assert_string_equal(top, "h 999999999999999999");
    assert_string_equal(bad, "h x");
}

static void test_own_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_ntf_own_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/ntf-server-stats.log", dir);
    sx_ntf_stats *s = calloc(1, sizeof *s), *r = calloc(1, sizeof *r);
    assert_non_null(s);
    assert_non_null(r);
    sx_ntf_stats_init(s, T_2023_12_31);
    sx_ntf_stats_init(r, T_2024_01_01);
    for (int i = 0; i < 5; i++)
        sx_ntf_stats_inc_own(s, SX_NTF_OWN_RECEIVED, i % 2 ? "smp2.example.com" : "smp1.example.com");
    sx_ntf_stats_inc_own(s, SX_NTF_OWN_DELIVERED, "smp1.example.com");
    sx_ntf_stats_inc_own(s, SX_NTF_OWN_FAILED, "smp2.example.com");
    sx_ntf_stats_inc_own(s, SX_NTF_OWN_RECEIVED_AUTH, ""); /* not an own router: nothing */
    sx_ntf_stats_inc_own(s, SX_NTF_OWN_RECEIVED_AUTH, NULL);
    char *text = NULL;
    assert_ok(sx_ntf_stats_encode(&s->d, &text, NULL));
    assert_non_null(strstr(text, "\nntfFailed=0\n"
                                 "ntfReceivedOwn=smp1.example.com 3,smp2.example.com 2\n"
                                 "ntfReceivedAuthOwn=\n"
                                 "ntfDeliveredOwn=smp1.example.com 1\n"
                                 "ntfFailedOwn=smp2.example.com 1\n"
                                 "ntfCronDelivered=0\n"));
    free(text);
    assert_ok(sx_ntf_stats_save(s, path));
    size_t line = 0;
    assert_ok(sx_ntf_stats_load(r, path, &line));
    /* counting goes on from the restored lines */
    sx_ntf_stats_inc_own(r, SX_NTF_OWN_RECEIVED, "smp2.example.com");
    char l[SX_NTF_STATS_OWN_MAX];
    sx_ntf_stats_own_line(r, SX_NTF_OWN_RECEIVED, l, sizeof l);
    assert_string_equal(l, "smp1.example.com 3,smp2.example.com 3");
    sx_ntf_stats_own_line(r, SX_NTF_OWN_FAILED, l, sizeof l);
    assert_string_equal(l, "smp2.example.com 1");
    /* the Prometheus series, one sample per router */
    sx_ntf_metrics_in *in = calloc(1, sizeof *in);
    assert_non_null(in);
    sx_ntf_metrics_from_stats(r, in);
    in->now_ms = (int64_t)T_2024_01_01 * 1000;
    size_t len = 0;
    assert_ok(sx_ntf_metrics_text(in, &text, &len));
    char err[256];
    size_t samples = 0;
    if (!prom_check(text, &samples, err, sizeof err))
        fail_msg("%s", err);
    assert_non_null(strstr(text, "# HELP simplex_ntf_notifications_received_own Received notifications\n"
                                 "# TYPE simplex_ntf_notifications_received_own counter\n"
                                 "simplex_ntf_notifications_received_own{server=\"smp1.example.com\"} 3 1704067200000\n"
                                 "simplex_ntf_notifications_received_own{server=\"smp2.example.com\"} 3 1704067200000\n"
                                 "# ntfReceivedOwn\n\n"));
    assert_non_null(strstr(text, "simplex_ntf_notifications_delivered_own{server=\"smp1.example.com\"} 1 "));
    assert_non_null(strstr(text, "simplex_ntf_notifications_failed_own{server=\"smp2.example.com\"} 1 "));
    assert_null(strstr(text, "received_auth_own")); /* no routers: no series */
    free(text);
    free(in);
    sx_ntf_stats_destroy(s);
    sx_ntf_stats_destroy(r);
    free(s);
    free(r);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_reference_round_trip),
        cmocka_unit_test(test_older_form),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_daily_line),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_gauge_split),
        cmocka_unit_test(test_metrics_own),
        cmocka_unit_test(test_own_domain),
        cmocka_unit_test(test_own_line),
        cmocka_unit_test(test_own_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
