/* Unit tests of the SMP router's statistics: the backup file in the
 * reference's format (round trip, a file as the reference writes it, the
 * older forms it still reads, truncated and trailing input), the daily
 * line's columns, the ACK-time buckets, the sharded active-queue sets,
 * and the metrics text as Prometheus text format. */
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
#include "core/base64.h"
#include "smp_router/metrics.h"
#include "smp_router/stats.h"

#define T_2023_12_31 1703980800 /* a Sunday */
#define T_2024_01_01 1704067200 /* a Monday and the 1st */

/* A backup as the reference writes it (every section present). */
static const char *const reference_text =
    "fromTime=2023-12-31T01:02:03Z\n"
    "qCreated=11\n"
    "qSecured=12\n"
    "qDeletedAll=13\n"
    "qDeletedNew=14\n"
    "qDeletedSecured=15\n"
    "qDeletedAllB=16\n"
    "qBlocked=17\n"
    "qCount=18\n"
    "qSub=19\n"
    "qSubAllB=20\n"
    "qSubAuth=21\n"
    "qSubDuplicate=22\n"
    "qSubProhibited=23\n"
    "qSubEnd=24\n"
    "qSubEndB=25\n"
    "ntfCreated=26\n"
    "ntfNewCreated=27\n"
    "ntfDeleted=28\n"
    "ntfDeletedB=29\n"
    "ntfSub=30\n"
    "ntfSubB=31\n"
    "ntfSubAuth=32\n"
    "ntfSubDuplicate=33\n"
    "msgSent=34\n"
    "msgSentAuth=35\n"
    "msgSentQuota=36\n"
    "msgSentLarge=37\n"
    "msgSentBlock=38\n"
    "msgRecv=39\n"
    "msgRecvGet=40\n"
    "msgGet=41\n"
    "msgGetNoMsg=42\n"
    "msgGetAuth=43\n"
    "msgGetDuplicate=44\n"
    "msgGetProhibited=45\n"
    "msgExpired=46\n"
    "msgSentNtf=47\n"
    "msgRecvNtf=48\n"
    "msgNtfs=49\n"
    "msgNtfsB=50\n"
    "msgNtfNoSub=51\n"
    "msgNtfLost=52\n"
    "msgNtfExpired=53\n"
    "activeQueues:\n"
    "dayHashes=-5,7\n"
    "weekHashes=-5,7,9\n"
    "monthHashes=-5,7,9,11\n"
    "activeQueuesNtf:\n"
    "dayHashes=\n"
    "weekHashes=7\n"
    "monthHashes=7\n"
    "pRelays:\n"
    "requests=60\n"
    "successes=61\n"
    "errorsConnect=62\n"
    "errorsCompat=63\n"
    "errorsOther=64\n"
    "pRelaysOwn:\n"
    "requests=65\n"
    "successes=66\n"
    "errorsConnect=67\n"
    "errorsCompat=68\n"
    "errorsOther=69\n"
    "pMsgFwds:\n"
    "requests=70\n"
    "successes=71\n"
    "errorsConnect=72\n"
    "errorsCompat=73\n"
    "errorsOther=74\n"
    "pMsgFwdsOwn:\n"
    "requests=75\n"
    "successes=76\n"
    "errorsConnect=77\n"
    "errorsCompat=78\n"
    "errorsOther=79\n"
    "pMsgFwdsRecv=80\n"
    "rcvServices:\n"
    "assocNew=81\n"
    "assocDuplicate=82\n"
    "assocUpdatedt=83\n"
    "assocRemoved=84\n"
    "subCount=85\n"
    "subDuplicate=86\n"
    "subQueues=87\n"
    "subEnd=88\n"
    "ntfServices:\n"
    "assocNew=89\n"
    "assocDuplicate=90\n"
    "assocUpdatedt=91\n"
    "assocRemoved=92\n"
    "subCount=93\n"
    "subDuplicate=94\n"
    "subQueues=95\n"
    "subEnd=96\n";

static void test_spec(void **state)
{
    (void)state;
    assert_true(sx_kit_stats_spec_valid(sx_smp_stats_spec()));
    assert_string_equal(sx_smp_stat_key(SX_SMP_STAT_MSG_SENT), "msgSent");
    assert_string_equal(sx_smp_stat_key(SX_SMP_STAT_Q_DELETED_ALL_B), "qDeletedAllB");
    assert_string_equal(sx_smp_stat_key(SX_SMP_STAT_MSG_COUNT), "msgCount");
}

static void test_reference_file_round_trip(void **state)
{
    (void)state;
    sx_smp_stats_data d;
    size_t line = 99;
    assert_ok(sx_smp_stats_parse(reference_text, strlen(reference_text), &d, &line));
    assert_int_equal(line, 0);
    assert_int_equal(d.from_time, T_2023_12_31 + 3723);
    assert_int_equal(d.c[SX_SMP_STAT_Q_CREATED], 11);
    assert_int_equal(d.c[SX_SMP_STAT_Q_COUNT], 18);
    assert_int_equal(d.c[SX_SMP_STAT_MSG_NTF_EXPIRED], 53);
    assert_int_equal(d.c[SX_SMP_STAT_P_RELAYS_REQUESTS], 60);
    assert_int_equal(d.c[SX_SMP_STAT_P_MSG_FWDS_OWN_ERR_OTHER], 79);
    assert_int_equal(d.c[SX_SMP_STAT_P_MSG_FWDS_RECV], 80);
    assert_int_equal(d.c[SX_SMP_STAT_RCV_SRV_ASSOC_UPDATED], 83);
    assert_int_equal(d.c[SX_SMP_STAT_NTF_SRV_SUB_END], 96);
    assert_int_equal(d.active.day.n, 2);
    assert_int_equal(d.active.month.n, 4);
    assert_true(sx_kit_hset_has(&d.active.week, (uint64_t)-5));
    assert_int_equal(d.active_ntf.day.n, 0);
    assert_int_equal(d.active_ntf.week.n, 1);
    /* written back byte for byte */
    char *text = NULL;
    size_t len = 0;
    assert_ok(sx_smp_stats_encode(&d, &text, &len));
    assert_int_equal(len, strlen(reference_text));
    assert_string_equal(text, reference_text);
    free(text);
    sx_smp_stats_data_cleanup(&d);
}

/* Replaces the first occurrence of what in text (a fresh string). */
static char *edit(const char *text, const char *what, const char *with)
{
    const char *at = strstr(text, what);
    assert_non_null(at);
    size_t n = strlen(text) - strlen(what) + strlen(with) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, with, at + strlen(what));
    return out;
}

static void test_older_forms(void **state)
{
    (void)state;
    /* qDeleted= for the three, qSubNoMsg= skipped, no ntf counters at all,
     * activeQueues as three lines, a subscribedQueues section, ids as
     * base64url sets, no proxy or service sections. */
    uint8_t id1[24], id2[24];
    memset(id1, 1, sizeof id1);
    memset(id2, 2, sizeof id2);
    char b1[64], b2[64];
    assert_ok(sx_b64_encode(sx_slice_of(id1, 24), SX_B64_URL, b1, sizeof b1));
    assert_ok(sx_b64_encode(sx_slice_of(id2, 24), SX_B64_URL, b2, sizeof b2));
    char text[2048];
    snprintf(text, sizeof text,
             "fromTime=2023-12-31T00:00:00Z\r\n"
             "qCreated=5\n"
             "qSecured=4\n"
             "qDeleted=3\n"
             "qSub=2\n"
             "qSubNoMsg=77\n"
             "msgSent=9\n"
             "msgRecv=8\n"
             "dayMsgQueues=1,2\n"
             "weekMsgQueues=1,2,3\n"
             "monthMsgQueues=1,2,3,4\n"
             "subscribedQueues:\n"
             "dayHashes=1\n"
             "weekHashes=1\n"
             "monthHashes=1\n"
             "activeQueuesNtf:\n"
             "day=%s,%s\n"
             "week=%s\n"
             "month=\n",
             b1, b2, b1);
    sx_smp_stats_data d;
    size_t line = 0;
    assert_ok(sx_smp_stats_parse(text, strlen(text), &d, &line));
    assert_int_equal(d.c[SX_SMP_STAT_Q_DELETED_ALL], 3);
    assert_int_equal(d.c[SX_SMP_STAT_Q_DELETED_NEW], 0);
    assert_int_equal(d.c[SX_SMP_STAT_Q_SUB], 2);
    assert_int_equal(d.c[SX_SMP_STAT_MSG_SENT], 9);
    assert_int_equal(d.c[SX_SMP_STAT_MSG_RECV], 8);
    assert_int_equal(d.active.day.n, 2);
    assert_int_equal(d.active.month.n, 4);
    assert_int_equal(d.active_ntf.day.n, 2);
    assert_true(sx_kit_hset_has(&d.active_ntf.week, sx_kit_period_hash(id1, 24)));
    assert_int_equal(d.active_ntf.month.n, 0);
    assert_int_equal(d.c[SX_SMP_STAT_P_RELAYS_REQUESTS], 0);
    sx_smp_stats_data_cleanup(&d);

    /* a bad id in a set, a missing required counter, a section cut short */
    char *bad = edit(text, "week=", "week=!!,");
    assert_int_equal(sx_smp_stats_parse(bad, strlen(bad), &d, &line), SX_E_PROTOCOL);
    free(bad);
    bad = edit(reference_text, "msgSent=34\n", "");
    assert_int_equal(sx_smp_stats_parse(bad, strlen(bad), &d, &line), SX_E_PROTOCOL);
    assert_true(line > 0);
    free(bad);
    bad = edit(reference_text, "errorsOther=64\n", "");
    assert_int_equal(sx_smp_stats_parse(bad, strlen(bad), &d, &line), SX_E_PROTOCOL);
    free(bad);
    /* without the proxy and service sections it loads */
    const char *cut = strstr(reference_text, "pRelays:\n");
    assert_ok(sx_smp_stats_parse(reference_text, (size_t)(cut - reference_text), &d, &line));
    sx_smp_stats_data_cleanup(&d);
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    size_t len = strlen(reference_text);
    sx_smp_stats_data d;
    size_t line;
    for (size_t n = 0; n < len; n++) {
        sx_status st = sx_smp_stats_parse(reference_text, n, &d, &line);
        if (st == SX_OK)
            sx_smp_stats_data_cleanup(&d); /* cut just before an optional section */
        else
            assert_int_equal(st, SX_E_PROTOCOL);
    }
    char *more = malloc(len + 16);
    assert_non_null(more);
    snprintf(more, len + 16, "%sextra=1\n", reference_text);
    assert_int_equal(sx_smp_stats_parse(more, strlen(more), &d, &line), SX_E_PROTOCOL);
    free(more);
}

static size_t count_cols(const char *line)
{
    size_t n = 1;
    for (; *line; line++)
        n += *line == ',';
    return n;
}

/* The column at index i (0-based) of a daily line. */
static void col(const char *line, size_t i, char *out, size_t cap)
{
    const char *p = line;
    for (size_t k = 0; k < i; k++) {
        p = strchr(p, ',');
        assert_non_null(p);
        p++;
    }
    size_t n = strcspn(p, ",\n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void test_daily_line(void **state)
{
    (void)state;
    sx_smp_stats *s = calloc(1, sizeof *s);
    assert_non_null(s);
    sx_smp_stats_init(s, T_2023_12_31);
    sx_smp_stats_data d;
    assert_ok(sx_smp_stats_parse(reference_text, strlen(reference_text), &d, NULL));
    sx_smp_stats_restore(s, &d);
    sx_smp_stats_data_cleanup(&d);
    sx_smp_stats_add(s, SX_SMP_STAT_MSG_COUNT, 123);
    uint8_t rid[24] = {9};
    sx_smp_stats_active(s, rid, sizeof rid, true);
    sx_smp_entity_counts ent = {.queues = 1000, .notifiers = 500, .rcv_services = 2};
    char line[4096];
    assert_ok(sx_smp_stats_daily_line(s, &ent, T_2024_01_01, line, sizeof line));
    /* 19 + 4 x 5 proxy + 41 more + 2 x 8 services */
    assert_int_equal(count_cols(line), 19 + 20 + 41 + 16);
    char v[64];
    col(line, 0, v, sizeof v);
    assert_string_equal(v, "2023-12-31");
    col(line, 1, v, sizeof v);
    assert_string_equal(v, "11"); /* qCreated */
    col(line, 6, v, sizeof v);
    assert_string_equal(v, "3"); /* active today: the restored two and one more */
    col(line, 7, v, sizeof v);
    assert_string_equal(v, "4"); /* the week, on a Monday */
    col(line, 8, v, sizeof v);
    assert_string_equal(v, "5"); /* the month, on the 1st */
    col(line, 14, v, sizeof v);
    assert_string_equal(v, "18"); /* qCount */
    col(line, 15, v, sizeof v);
    assert_string_equal(v, "123"); /* msgCount */
    col(line, 19, v, sizeof v);
    assert_string_equal(v, "60"); /* pRelays requests */
    col(line, 50, v, sizeof v);
    assert_string_equal(v, "0"); /* qSubNoMsg, no longer counted */
    col(line, 60, v, sizeof v);
    assert_string_equal(v, "1000"); /* queues in the store */
    col(line, 66, v, sizeof v);
    assert_string_equal(v, "500"); /* notifiers */
    col(line, 76, v, sizeof v);
    assert_string_equal(v, "2"); /* receiving services */
    col(line, 80, v, sizeof v);
    assert_string_equal(v, "81"); /* rcvServices assocNew */
    /* restarted: counters, except qCount and the services; not msgCount */
    assert_int_equal(sx_smp_stats_get(s, SX_SMP_STAT_Q_CREATED), 0);
    assert_int_equal(sx_smp_stats_get(s, SX_SMP_STAT_Q_BLOCKED), 0);
    assert_int_equal(sx_smp_stats_get(s, SX_SMP_STAT_Q_COUNT), 18);
    assert_int_equal(sx_smp_stats_get(s, SX_SMP_STAT_MSG_SENT_BLOCK), 38);
    assert_int_equal(sx_smp_stats_get(s, SX_SMP_STAT_RCV_SRV_ASSOC_NEW), 81);
    assert_int_equal(sx_smp_stats_get(s, SX_SMP_STAT_MSG_COUNT), 123);
    size_t a[3], an[3];
    sx_smp_stats_period_counts(s, a, an);
    assert_int_equal(a[0], 0);
    assert_int_equal(a[1], 0);
    assert_int_equal(a[2], 0);
    /* a Tuesday: week and month columns empty, week kept */
    sx_smp_stats_active(s, rid, sizeof rid, false);
    assert_ok(sx_smp_stats_daily_line(s, &ent, T_2024_01_01 + 86400, line, sizeof line));
    col(line, 0, v, sizeof v);
    assert_string_equal(v, "2024-01-01");
    col(line, 6, v, sizeof v);
    assert_string_equal(v, "1");
    col(line, 7, v, sizeof v);
    assert_string_equal(v, "");
    col(line, 8, v, sizeof v);
    assert_string_equal(v, "");
    sx_smp_stats_period_counts(s, a, an);
    assert_int_equal(a[1], 1);
    sx_smp_stats_cleanup(s);
    free(s);
}

static void test_save_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_smp_stats_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/smp-server-stats.log", dir);
    sx_smp_stats *s = calloc(1, sizeof *s);
    assert_non_null(s);
    sx_smp_stats_init(s, T_2023_12_31);
    for (int i = 0; i < 1000; i++) {
        uint8_t rid[24] = {0};
        memcpy(rid, &i, sizeof i);
        sx_smp_stats_active(s, rid, sizeof rid, i % 2 == 0);
        sx_smp_stats_inc(s, SX_SMP_STAT_MSG_SENT);
    }
    assert_ok(sx_smp_stats_save(s, path));
    sx_smp_stats_data d;
    size_t line;
    assert_ok(sx_smp_stats_load(path, &d, &line));
    assert_int_equal(d.c[SX_SMP_STAT_MSG_SENT], 1000);
    assert_int_equal(d.active.day.n, 1000);
    assert_int_equal(d.active_ntf.month.n, 500);
    sx_smp_stats_data_cleanup(&d);
    sx_smp_stats_cleanup(s);
    free(s);
    unlink(path);
    rmdir(dir);
}

static void test_ack_buckets(void **state)
{
    (void)state;
    /* each time falls in the bucket whose bound is the next of the
     * reference's steps at or above it */
    static const int64_t t[] = {0, 1, 5, 6, 10, 11, 30, 31, 40, 60, 61, 90, 180, 181, 240, 241, 86400, 999999};
    static const int64_t b[] = {0, 1, 5, 10, 10, 15, 30, 40, 40, 60, 90, 90, 180, 240, 240, 300, 86400, 86400};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(sx_smp_ack_bucket_seconds(sx_smp_ack_bucket(t[i])), b[i]);
    for (size_t i = 1; i < SX_SMP_ACK_BUCKETS; i++)
        assert_true(sx_smp_ack_bucket_seconds(i) > sx_smp_ack_bucket_seconds(i - 1));
    assert_int_equal(sx_smp_ack_bucket(SX_SMP_ACK_MAX_SECONDS), SX_SMP_ACK_BUCKETS - 1);
}

static void test_metrics_text(void **state)
{
    (void)state;
    sx_smp_stats_data d;
    assert_ok(sx_smp_stats_parse(reference_text, strlen(reference_text), &d, NULL));
    int64_t *ack = calloc(SX_SMP_ACK_BUCKETS, sizeof *ack);
    assert_non_null(ack);
    ack[sx_smp_ack_bucket(2)] = 3;
    ack[sx_smp_ack_bucket(500)] = 1;
    sx_smp_metrics_in in = {.d = &d, .ack = ack, .ack_sum = 506, .version = "1.2.3", .now_ms = 1704067200123LL};
    in.active[0] = 2;
    in.ent.queues = 7;
    in.rt.n_ports = 2;
    in.rt.port[0] = 5223;
    in.rt.port[1] = 443;
    in.rt.accepted[0] = 4;
    in.rt.threads = 6;
    char *text = NULL;
    assert_ok(sx_smp_metrics_text(&in, &text, NULL));
    char err[256] = "";
    size_t samples = 0;
    if (!prom_check(text, &samples, err, sizeof err))
        fail_msg("%s", err);
    assert_true(samples > 120);
    double v;
    assert_true(prom_value(text, "simplex_smp_messages_sent", &v));
    assert_true(v == 34);
    assert_true(prom_value(text, "simplex_smp_queues_deleted{type=\"secured\"}", &v));
    assert_true(v == 15);
    assert_true(prom_value(text, "simplex_smp_queues_total2", &v));
    assert_true(v == 7);
    assert_true(prom_value(text, "simplex_smp_sockets_accepted{port=\"5223\"}", &v));
    assert_true(v == 4);
    assert_true(prom_value(text, "simplex_smp_relay_messages_errors{source=\"own\",type=\"other\"}", &v));
    assert_true(v == 79);
    assert_true(prom_value(text, "simplex_smp_delivery_ack_confirmed_time_bucket{le=\"2\"}", &v));
    assert_true(v == 3);
    /* a gap of more than a minute gets a bucket 60 s before the next */
    assert_true(prom_value(text, "simplex_smp_delivery_ack_confirmed_time_bucket{le=\"480\"}", &v));
    assert_true(v == 3);
    assert_true(prom_value(text, "simplex_smp_delivery_ack_confirmed_count{period=\"300-1200\"}", &v));
    assert_true(v == 1);
    assert_non_null(strstr(text, "simplex_smp_info{version=\"1.2.3\",rts_options=\"\"} 1\n"));
    assert_non_null(strstr(text, "\nsimplex_smp_messages_sent 34 1704067200123\n# msgSent\n"));
    assert_non_null(strstr(text, "# Stats from: 2023-12-31T01:02:03Z\n"));
    /* the checker itself refuses broken text */
    assert_false(prom_check("# TYPE x counter\nx{a=\"b} 1\n", NULL, err, sizeof err));
    assert_false(prom_check("# TYPE x counter\nx 1\n# TYPE y gauge\ny 2\nx 3\n", NULL, err, sizeof err));
    assert_false(prom_check("# TYPE x countr\nx 1\n", NULL, err, sizeof err));
    assert_false(prom_check("x one\n", NULL, err, sizeof err));
    assert_true(prom_check("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n", NULL, err, sizeof err));
    free(text);
    free(ack);
    sx_smp_stats_data_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_reference_file_round_trip),
        cmocka_unit_test(test_older_forms),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_daily_line),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_ack_buckets),
        cmocka_unit_test(test_metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
