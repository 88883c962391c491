/* Unit tests of the XFTP router's statistics: the backup file's text in the
 * reference's format (round trip, a hand-written file, truncated and
 * garbage input), the daily CSV line, and the bounded id sets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "xftp_router/stats.h"

#define T_2023_12_31 1703980800 /* a Sunday */
#define T_2024_01_01 1704067200 /* a Monday and the 1st */

static void fill(sx_xftp_stats_data *d)
{
    memset(d, 0, sizeof *d);
    d->from_time = T_2023_12_31 + 3723; /* 01:02:03 */
    for (int k = 0; k < SX_XFTP_STAT_COUNT; k++)
        d->c[k] = 10 + k;
    d->c[SX_XFTP_STAT_FILES_SIZE] = 5000000000LL;
    assert_ok(sx_kit_hset_add(&d->downloaded.day, 5));
    assert_ok(sx_kit_hset_add(&d->downloaded.day, (uint64_t)-7));
    assert_ok(sx_kit_hset_add(&d->downloaded.week, 0));
    assert_ok(sx_kit_hset_add(&d->downloaded.week, 5));
}

static const char *const expected_text =
    "fromTime=2023-12-31T01:02:03Z\n"
    "filesCreated=10\n"
    "fileRecipients=11\n"
    "filesUploaded=12\n"
    "filesExpired=13\n"
    "filesDeleted=14\n"
    "filesBlocked=15\n"
    "filesCount=18\n"
    "filesSize=5000000000\n"
    "filesDownloaded:\n"
    "dayHashes=-7,5\n"
    "weekHashes=0,5\n"
    "monthHashes=\n"
    "fileDownloads=16\n"
    "fileDownloadAcks=17\n";

static void test_encode_roundtrip(void **state)
{
    (void)state;
    sx_xftp_stats_data d, e;
    fill(&d);
    char *text = NULL;
    size_t len = 0;
    assert_ok(sx_xftp_stats_encode(&d, &text, &len));
    assert_string_equal(text, expected_text);
    assert_int_equal(len, strlen(expected_text));
    size_t line = 99;
    assert_ok(sx_xftp_stats_parse(text, len, &e, &line));
    assert_int_equal(line, 0);
    assert_int_equal(e.from_time, d.from_time);
    assert_memory_equal(e.c, d.c, sizeof d.c);
    assert_int_equal(e.downloaded.day.n, 2);
    assert_true(sx_kit_hset_has(&e.downloaded.day, 5));
    assert_true(sx_kit_hset_has(&e.downloaded.day, (uint64_t)-7));
    assert_false(sx_kit_hset_has(&e.downloaded.day, 0));
    assert_int_equal(e.downloaded.week.n, 2);
    assert_true(sx_kit_hset_has(&e.downloaded.week, 0));
    assert_int_equal(e.downloaded.month.n, 0);
    char *again = NULL;
    assert_ok(sx_xftp_stats_encode(&e, &again, NULL));
    assert_string_equal(again, text);
    free(again);
    free(text);
    sx_xftp_stats_data_cleanup(&d);
    sx_xftp_stats_data_cleanup(&e);
}

/* As an older reference release writes it: no filesExpired, filesBlocked,
 * filesCount or filesSize, a fractional time, CRLF line ends. */
static void test_parse_reference_text(void **state)
{
    (void)state;
    const char *text = "fromTime=2024-05-06T07:08:09.123456789Z\n"
                       "filesCreated=3\n"
                       "fileRecipients=+6\r\n"
                       "filesUploaded=3\n"
                       "filesDeleted=1\n"
                       "filesDownloaded:\n"
                       "dayHashes=-9223372036854775808,9223372036854775807\n"
                       "weekHashes=42\n"
                       "monthHashes=-1,42,43\n"
                       "fileDownloads=4\n"
                       "fileDownloadAcks=2\n";
    sx_xftp_stats_data d;
    assert_ok(sx_xftp_stats_parse(text, strlen(text), &d, NULL));
    assert_int_equal(d.from_time, 1714979289);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_CREATED], 3);
    assert_int_equal(d.c[SX_XFTP_STAT_FILE_RECIPIENTS], 6);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_UPLOADED], 3);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_EXPIRED], 0);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_DELETED], 1);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_BLOCKED], 0);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_COUNT], 0);
    assert_int_equal(d.c[SX_XFTP_STAT_FILE_DOWNLOADS], 4);
    assert_int_equal(d.c[SX_XFTP_STAT_FILE_DOWNLOAD_ACKS], 2);
    assert_int_equal(d.downloaded.day.n, 2);
    assert_true(sx_kit_hset_has(&d.downloaded.day, (uint64_t)INT64_MIN));
    assert_true(sx_kit_hset_has(&d.downloaded.day, (uint64_t)INT64_MAX));
    assert_int_equal(d.downloaded.week.n, 1);
    assert_int_equal(d.downloaded.month.n, 3);
    sx_xftp_stats_data_cleanup(&d);

    /* only filesBlocked and filesSize present */
    const char *t2 = "fromTime=2024-05-06T07:08:09Z\nfilesCreated=1\nfileRecipients=1\nfilesUploaded=1\n"
                     "filesDeleted=0\nfilesBlocked=2\nfilesSize=77\nfilesDownloaded:\ndayHashes=\n"
                     "weekHashes=\nmonthHashes=\nfileDownloads=0\nfileDownloadAcks=0\n";
    assert_ok(sx_xftp_stats_parse(t2, strlen(t2), &d, NULL));
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_BLOCKED], 2);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_SIZE], 77);
    assert_int_equal(d.c[SX_XFTP_STAT_FILES_COUNT], 0);
    sx_xftp_stats_data_cleanup(&d);
}

static void expect_bad(const char *text, size_t len, size_t want_line)
{
    sx_xftp_stats_data d;
    size_t line = 0;
    assert_int_equal(sx_xftp_stats_parse(text, len, &d, &line), SX_E_PROTOCOL);
    if (want_line)
        assert_int_equal(line, want_line);
}

static char *with_line(int no, const char *replacement)
{
    /* expected_text with line no (1-based) replaced */
    static char buf[1024];
    const char *p = expected_text;
    size_t o = 0;
    for (int i = 1; *p; i++) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p) + 1;
        if (i == no) {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", replacement);
        } else {
            memcpy(buf + o, p, n);
            o += n;
        }
        p += n;
    }
    buf[o] = 0;
    return buf;
}

static void test_parse_bad(void **state)
{
    (void)state;
    size_t full = strlen(expected_text);
    /* every truncation fails */
    for (size_t n = 0; n < full; n++)
        expect_bad(expected_text, n, 0);
    /* trailing bytes */
    char more[1024];
    snprintf(more, sizeof more, "%sx\n", expected_text);
    expect_bad(more, strlen(more), 16);
    snprintf(more, sizeof more, "%s\n", expected_text);
    expect_bad(more, strlen(more), 16);
    const char *t;
    t = with_line(1, "fromTime=2023-12-31 01:02:03Z\n");
    expect_bad(t, strlen(t), 1);
    t = with_line(1, "fromTime=2023-02-31T01:02:03Z\n");
    expect_bad(t, strlen(t), 1);
    t = with_line(1, "fromTime=2023-12-31T01:02:03.Z\n");
    expect_bad(t, strlen(t), 1);
    t = with_line(2, "filesCreated=1x\n");
    expect_bad(t, strlen(t), 2);
    t = with_line(2, "filesCreated=\n");
    expect_bad(t, strlen(t), 2);
    t = with_line(2, "filesCreated=99999999999999999999\n");
    expect_bad(t, strlen(t), 2);
    t = with_line(2, "filesCreated =1\n");
    expect_bad(t, strlen(t), 2);
    t = with_line(3, "");
    expect_bad(t, strlen(t), 0);
    t = with_line(11, "dayHashes=1,\n");
    expect_bad(t, strlen(t), 11);
    t = with_line(11, "dayHashes=,1\n");
    expect_bad(t, strlen(t), 11);
    t = with_line(11, "dayHashes=1,,2\n");
    expect_bad(t, strlen(t), 11);
    t = with_line(11, "day=AQID\n"); /* the legacy id list is not read */
    expect_bad(t, strlen(t), 11);
    t = with_line(10, "filesDownloaded:x\n");
    expect_bad(t, strlen(t), 10);
    t = with_line(14, "fileDownloads=1 \n");
    expect_bad(t, strlen(t), 14);
    /* garbage */
    const char g[] = "\x00\xff\n\n=\n";
    expect_bad(g, sizeof g - 1, 1);
    expect_bad("", 0, 0);
}

static void test_daily_line(void **state)
{
    (void)state;
    sx_xftp_stats s;
    sx_xftp_stats_init(&s, T_2023_12_31 + 100);
    for (int k = 0; k < SX_XFTP_STAT_COUNT; k++)
        sx_xftp_stats_add(&s, (sx_xftp_stat)k, k + 1);
    sx_xftp_stats_add(&s, SX_XFTP_STAT_FILES_SIZE, 1000);
    const uint8_t a[16] = {1}, b[16] = {2};
    sx_xftp_stats_downloaded(&s, a, sizeof a);
    sx_xftp_stats_downloaded(&s, a, sizeof a);
    sx_xftp_stats_downloaded(&s, b, sizeof b);
    char line[512];
    assert_int_equal(sx_xftp_stats_daily_line(&s, T_2024_01_01, line, 100), SX_E_LIMIT);
    /* Monday the 1st: all three periods are reported and emptied.
     * date, created, recipients, uploaded, deleted, day, week, month,
     * downloads, acks, count, size, expired */
    assert_ok(sx_xftp_stats_daily_line(&s, T_2024_01_01, line, sizeof line));
    assert_string_equal(line, "2023-12-31,1,2,3,5,2,2,2,7,8,9,1010,4\n");
    /* filesBlocked is not in the line and, as in the reference, goes on */
    assert_int_equal(sx_xftp_stats_get(&s, SX_XFTP_STAT_FILES_BLOCKED), 6);
    assert_int_equal(sx_xftp_stats_get(&s, SX_XFTP_STAT_FILES_DELETED), 0);
    /* Tuesday: week and month stay empty in the line, but keep counting */
    sx_xftp_stats_add(&s, SX_XFTP_STAT_FILES_CREATED, 3);
    sx_xftp_stats_downloaded(&s, a, sizeof a);
    assert_ok(sx_xftp_stats_daily_line(&s, T_2024_01_01 + 86400, line, sizeof line));
    assert_string_equal(line, "2024-01-01,3,0,0,0,1,,,0,0,9,1010,0\n");
    assert_int_equal(s.d.downloaded.day.n, 0);
    assert_int_equal(s.d.downloaded.week.n, 1);
    assert_int_equal(s.d.downloaded.month.n, 1);
    assert_int_equal(s.d.from_time, T_2024_01_01 + 86400);
    sx_xftp_stats_cleanup(&s);
}

static void test_save_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_xftp_stats_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/file-server-stats.log", dir);
    sx_xftp_stats s;
    sx_xftp_stats_init(&s, 0);
    sx_xftp_stats_data d;
    fill(&d);
    sx_xftp_stats_restore(&s, &d);
    assert_int_equal(d.downloaded.day.n, 0);
    assert_ok(sx_xftp_stats_save(&s, path));
    sx_xftp_stats_data e;
    assert_ok(sx_xftp_stats_load(path, &e, NULL));
    char *text = NULL;
    assert_ok(sx_xftp_stats_encode(&e, &text, NULL));
    assert_string_equal(text, expected_text);
    free(text);
    sx_xftp_stats_data_cleanup(&e);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("junk\n", f);
    fclose(f);
    size_t line = 0;
    assert_int_equal(sx_xftp_stats_load(path, &e, &line), SX_E_PROTOCOL);
    assert_int_equal(line, 16);
    unlink(path);
    assert_int_equal(sx_xftp_stats_load(path, &e, NULL), SX_E_IO);
    sx_xftp_stats_cleanup(&s);
    rmdir(dir);
}

/* The counters' table is one the kit accepts. */
static void test_spec(void **state)
{
    (void)state;
    const sx_kit_stats_spec *spec = sx_xftp_stats_spec();
    assert_true(sx_kit_stats_spec_valid(spec));
    assert_int_equal(spec->n_cols, 13);
}

static void test_set_bound(void **state)
{
    (void)state;
    sx_kit_hset h = {0};
    for (uint64_t i = 0; i < SX_KIT_HSET_MAX + 10; i++)
        assert_ok(sx_kit_hset_add(&h, i * 0x9e3779b97f4a7c15ULL));
    assert_int_equal(h.n, SX_KIT_HSET_MAX);
    assert_true(sx_kit_hset_has(&h, 0));
    assert_true(sx_kit_hset_has(&h, 0x9e3779b97f4a7c15ULL));
    assert_false(sx_kit_hset_has(&h, (uint64_t)(SX_KIT_HSET_MAX + 5) * 0x9e3779b97f4a7c15ULL));
    assert_true(h.cap <= 2 * (size_t)SX_KIT_HSET_MAX);
    sx_kit_hset_clear(&h);
    assert_int_equal(h.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_roundtrip), cmocka_unit_test(test_parse_reference_text),
        cmocka_unit_test(test_parse_bad),        cmocka_unit_test(test_daily_line),
        cmocka_unit_test(test_save_load),        cmocka_unit_test(test_set_bound),
        cmocka_unit_test(test_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
