/* Unit tests of the router kit's statistics files (src/kit/stats.h), over a
 * made-up router's spec that has every kind of field: the backup text (round
 * trip, optional fields, truncated, oversized and trailing input, bad
 * numbers, times and sets, a set of the largest size), the daily line and
 * its restarts, copies, and the files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "kit/prom.h"
#include "kit/stats.h"

#define T_2023_12_31 1703980800 /* a Sunday */
#define T_2024_01_01 1704067200 /* a Monday and the 1st */
#define DAY 86400

/* A router's statistics as a router keeps them. */
typedef struct tstats {
    int64_t since;
    int64_t alpha, beta, gamma, delta, eps;
    sx_kit_period seen, heard;
} tstats;

#define OFF(m) offsetof(tstats, m)

static const sx_kit_stat_field fields[] = {
    {"fromTime", SX_KIT_STAT_TIME, 0, OFF(since), 0},
    {"alpha", SX_KIT_STAT_INT, 0, OFF(alpha), 0},
    {"beta", SX_KIT_STAT_INT, SX_KIT_STAT_OPTIONAL, OFF(beta), 0},
    {"seen", SX_KIT_STAT_PERIOD, 0, OFF(seen), 0},
    {"gamma", SX_KIT_STAT_INT, SX_KIT_STAT_KEEP, OFF(gamma), 0},
    {"heard", SX_KIT_STAT_PERIOD, SX_KIT_STAT_OPTIONAL, OFF(heard), 0},
    {"eps", SX_KIT_STAT_INT, 0, OFF(eps), 0},
    {"delta", SX_KIT_STAT_INT, SX_KIT_STAT_OPTIONAL | SX_KIT_STAT_KEEP, OFF(delta), 0},
};

static const sx_kit_stat_col cols[] = {
    {SX_KIT_COL_DATE, OFF(since)},  {SX_KIT_COL_VALUE, OFF(alpha)}, {SX_KIT_COL_VALUE, OFF(gamma)},
    {SX_KIT_COL_DAY, OFF(seen)},    {SX_KIT_COL_WEEK, OFF(seen)},   {SX_KIT_COL_MONTH, OFF(seen)},
    {SX_KIT_COL_DAY, OFF(heard)},   {SX_KIT_COL_VALUE, OFF(eps)},   {SX_KIT_COL_VALUE, OFF(delta)},
};

#define FILE_MAX ((size_t)64 << 20)

static const sx_kit_stats_spec spec = {fields, sizeof fields / sizeof fields[0], cols, sizeof cols / sizeof cols[0],
                                       FILE_MAX};

static void fill(tstats *d)
{
    memset(d, 0, sizeof *d);
    d->since = T_2023_12_31 + 3723; /* 01:02:03 */
    d->alpha = 1;
    d->beta = -2;
    d->gamma = 3;
    d->eps = INT64_MIN;
    d->delta = INT64_MAX;
    assert_ok(sx_kit_hset_add(&d->seen.day, 5));
    assert_ok(sx_kit_hset_add(&d->seen.day, (uint64_t)-7));
    assert_ok(sx_kit_hset_add(&d->seen.week, 0));
    assert_ok(sx_kit_hset_add(&d->seen.week, 5));
    assert_ok(sx_kit_hset_add(&d->heard.month, 42));
}

static const char *const expected_text = "fromTime=2023-12-31T01:02:03Z\n"
                                         "alpha=1\n"
                                         "beta=-2\n"
                                         "seen:\n"
                                         "dayHashes=-7,5\n"
                                         "weekHashes=0,5\n"
                                         "monthHashes=\n"
                                         "gamma=3\n"
                                         "heard:\n"
                                         "dayHashes=\n"
                                         "weekHashes=\n"
                                         "monthHashes=42\n"
                                         "eps=-9223372036854775808\n"
                                         "delta=9223372036854775807\n";

static void parse_ok(const char *text, tstats *d)
{
    size_t line = 99;
    assert_ok(sx_kit_stats_parse(&spec, text, strlen(text), d, &line));
    assert_int_equal(line, 0);
}

/* The parse fails with SX_E_PROTOCOL at line want_line (0: any line); every
 * field is left zero or empty. */
static void expect_bad(const char *text, size_t len, size_t want_line)
{
    tstats d;
    memset(&d, 0x5a, sizeof d);
    size_t line = 0;
    assert_int_equal(sx_kit_stats_parse(&spec, text, len, &d, &line), SX_E_PROTOCOL);
    assert_true(line >= 1);
    if (want_line)
        assert_int_equal(line, want_line);
    assert_int_equal(d.since, 0);
    assert_int_equal(d.alpha, 0);
    assert_int_equal(d.eps, 0);
    assert_int_equal(d.delta, 0);
    assert_null(d.seen.day.slots);
    assert_int_equal(d.seen.day.n, 0);
    assert_int_equal(d.heard.month.n, 0);
}

static void expect_bad_str(const char *text, size_t want_line)
{
    expect_bad(text, strlen(text), want_line);
}

/* expected_text with line no (1-based) replaced (the replacement carries its
 * own "\n", or is "" to drop the line). */
static const char *with_line(int no, const char *replacement)
{
    static char buf[1024];
    const char *p = expected_text;
    size_t o = 0;
    for (int i = 1; *p; i++) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p) + 1;
        if (i == no)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", replacement);
        else {
            memcpy(buf + o, p, n);
            o += n;
        }
        p += n;
    }
    buf[o] = 0;
    return buf;
}

static void test_spec_valid(void **state)
{
    (void)state;
    assert_true(sx_kit_stats_spec_valid(&spec));
    sx_kit_stat_field f[2] = {{"fromTime", SX_KIT_STAT_TIME, 0, OFF(since), 0}, {"alpha", SX_KIT_STAT_INT, 0, OFF(alpha), 0}};
    sx_kit_stat_col c[1] = {{SX_KIT_COL_VALUE, OFF(alpha)}};
    sx_kit_stats_spec s = {f, 2, c, 1, 100};
    assert_true(sx_kit_stats_spec_valid(&s));
    f[1].key = "al=pha"; /* keys are letters and digits */
    assert_false(sx_kit_stats_spec_valid(&s));
    f[1].key = "";
    assert_false(sx_kit_stats_spec_valid(&s));
    f[1].key = NULL;
    assert_false(sx_kit_stats_spec_valid(&s));
    f[1].key = "alpha";
    f[1].off = OFF(since); /* the same value twice */
    assert_false(sx_kit_stats_spec_valid(&s));
    f[1].off = OFF(since) + 4; /* overlapping, misaligned */
    assert_false(sx_kit_stats_spec_valid(&s));
    f[1].off = OFF(delta);
    f[1].kind = SX_KIT_STAT_PERIOD; /* a period over the next values */
    assert_false(sx_kit_stats_spec_valid(&s));
    f[1].kind = SX_KIT_STAT_INT;
    f[1].off = OFF(alpha);
    c[0].kind = SX_KIT_COL_DATE; /* a date of a counter */
    assert_false(sx_kit_stats_spec_valid(&s));
    c[0].kind = SX_KIT_COL_WEEK;
    assert_false(sx_kit_stats_spec_valid(&s));
    c[0].kind = SX_KIT_COL_VALUE;
    c[0].off = OFF(beta); /* not a field */
    assert_false(sx_kit_stats_spec_valid(&s));
    c[0].off = OFF(alpha);
    assert_true(sx_kit_stats_spec_valid(&s));
    assert_false(sx_kit_stats_spec_valid(NULL));
}

static void test_roundtrip(void **state)
{
    (void)state;
    tstats d, e;
    fill(&d);
    char *text = NULL;
    size_t len = 0;
    assert_ok(sx_kit_stats_encode(&spec, &d, &text, &len));
    assert_string_equal(text, expected_text);
    assert_int_equal(len, strlen(expected_text));
    parse_ok(text, &e);
    assert_int_equal(e.since, d.since);
    assert_int_equal(e.alpha, 1);
    assert_int_equal(e.beta, -2);
    assert_int_equal(e.gamma, 3);
    assert_int_equal(e.eps, INT64_MIN);
    assert_int_equal(e.delta, INT64_MAX);
    assert_int_equal(e.seen.day.n, 2);
    assert_true(sx_kit_hset_has(&e.seen.day, 5));
    assert_true(sx_kit_hset_has(&e.seen.day, (uint64_t)-7));
    assert_false(sx_kit_hset_has(&e.seen.day, 0));
    assert_int_equal(e.seen.week.n, 2);
    assert_true(sx_kit_hset_has(&e.seen.week, 0));
    assert_int_equal(e.seen.month.n, 0);
    assert_int_equal(e.heard.month.n, 1);
    char *again = NULL;
    assert_ok(sx_kit_stats_encode(&spec, &e, &again, NULL));
    assert_string_equal(again, text);
    free(again);
    free(text);

    /* copy, then move into a struct that had sets of its own */
    tstats f;
    assert_ok(sx_kit_stats_copy(&spec, &e, &f));
    assert_int_equal(f.delta, INT64_MAX);
    assert_int_equal(f.seen.week.n, 2);
    assert_ptr_not_equal(f.seen.week.slots, e.seen.week.slots);
    sx_kit_stats_cleanup(&spec, &e);
    assert_int_equal(e.seen.week.n, 0);
    assert_ok(sx_kit_hset_add(&e.heard.day, 77));
    sx_kit_stats_move(&spec, &e, &f);
    assert_int_equal(e.heard.day.n, 0);
    assert_int_equal(e.seen.week.n, 2);
    assert_int_equal(e.eps, INT64_MIN);
    assert_null(f.seen.week.slots);
    assert_int_equal(f.seen.week.n, 0);
    assert_ok(sx_kit_stats_encode(&spec, &e, &again, NULL));
    assert_string_equal(again, expected_text);
    free(again);
    sx_kit_stats_cleanup(&spec, &d);
    sx_kit_stats_cleanup(&spec, &e);
    sx_kit_stats_cleanup(&spec, &f);
}

/* Optional fields missing anywhere (the last one too), CRLF line ends, a
 * fractional time, '+' signs, a leap day and a leap second. */
static void test_optional_and_forms(void **state)
{
    (void)state;
    tstats d;
    parse_ok("fromTime=2024-02-29T23:59:60.5Z\r\n"
             "alpha=+7\r\n"
             "seen:\r\n"
             "dayHashes=3,-3,3\r\n"
             "weekHashes=\n"
             "monthHashes=-9223372036854775808,9223372036854775807\n"
             "gamma=0\n"
             "eps=-0\n",
             &d);
    assert_int_equal(d.since, 1709251200); /* 2024-03-01T00:00:00Z */
    assert_int_equal(d.alpha, 7);
    assert_int_equal(d.beta, 0);
    assert_int_equal(d.seen.day.n, 2);
    assert_int_equal(d.seen.month.n, 2);
    assert_true(sx_kit_hset_has(&d.seen.month, (uint64_t)INT64_MIN));
    assert_int_equal(d.heard.day.n + d.heard.week.n + d.heard.month.n, 0);
    assert_int_equal(d.eps, 0);
    assert_int_equal(d.delta, 0);
    sx_kit_stats_cleanup(&spec, &d);

    /* an optional period present, beta and delta present */
    parse_ok("fromTime=0000-01-01T00:00:00Z\nalpha=0\nbeta=1\nseen:\ndayHashes=\nweekHashes=\nmonthHashes=\n"
             "gamma=2\nheard:\ndayHashes=1\nweekHashes=1\nmonthHashes=1\neps=3\ndelta=4\n",
             &d);
    assert_int_equal(d.since, -62167219200LL);
    assert_int_equal(d.beta, 1);
    assert_int_equal(d.heard.week.n, 1);
    assert_int_equal(d.delta, 4);
    char *text = NULL;
    assert_ok(sx_kit_stats_encode(&spec, &d, &text, NULL));
    assert_non_null(strstr(text, "fromTime=0000-01-01T00:00:00Z\n"));
    free(text);
    sx_kit_stats_cleanup(&spec, &d);

    parse_ok("fromTime=9999-12-31T23:59:59.999999999999Z\nalpha=0\nseen:\ndayHashes=\nweekHashes=\nmonthHashes=\n"
             "gamma=2\neps=3\n",
             &d);
    assert_int_equal(d.since, 253402300799LL);
    sx_kit_stats_cleanup(&spec, &d);
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    size_t full = strlen(expected_text);
    /* every cut fails but the one after the last required line (eps):
     * delta is optional */
    size_t eps_end = (size_t)(strstr(expected_text, "delta=") - expected_text);
    for (size_t n = 0; n < full; n++) {
        if (n == eps_end) {
            tstats d;
            assert_ok(sx_kit_stats_parse(&spec, expected_text, n, &d, NULL));
            assert_int_equal(d.delta, 0);
            sx_kit_stats_cleanup(&spec, &d);
            continue;
        }
        expect_bad(expected_text, n, 0);
    }
    /* the line reported for a cut is the one cut short or missing */
    expect_bad(expected_text, 5, 1);
    expect_bad(expected_text, (size_t)(strstr(expected_text, "alpha") - expected_text), 2);
    expect_bad(expected_text, (size_t)(strstr(expected_text, "seen:") - expected_text) + 5, 4);
    expect_bad(expected_text, (size_t)(strstr(expected_text, "gamma") - expected_text), 8);
    expect_bad("", 0, 1);

    char more[1024];
    snprintf(more, sizeof more, "%sx\n", expected_text);
    expect_bad_str(more, 15);
    snprintf(more, sizeof more, "%s\n", expected_text);
    expect_bad_str(more, 15);
    snprintf(more, sizeof more, "%sdelta=1\n", expected_text); /* a field twice */
    expect_bad_str(more, 15);
    snprintf(more, sizeof more, "%sjunk", expected_text); /* without its newline */
    expect_bad_str(more, 15);
    /* a NUL inside a line */
    char nul[1024];
    size_t n = strlen(expected_text);
    memcpy(nul, expected_text, n);
    nul[8] = 0;
    expect_bad(nul, n, 1);
    const char g[] = "\x00\xff\n\n=\n";
    expect_bad(g, sizeof g - 1, 1);
    expect_bad_str("\n", 1);
}

static void test_bad_values(void **state)
{
    (void)state;
    /* numbers */
    static const char *const bad_ints[] = {
        "alpha=\n",    "alpha=+\n",    "alpha=-\n",     "alpha=1x\n",   "alpha= 1\n",
        "alpha=1 \n",  "alpha=0x10\n", "alpha=1e3\n",   "alpha=1.0\n",  "alpha=--1\n",
        "alpha=+-1\n", "alpha =1\n",   "Alpha=1\n",     "alpha:1\n",    "alpha=9223372036854775808\n",
        "alpha=-9223372036854775809\n", "alpha=99999999999999999999999\n",
    };
    for (size_t i = 0; i < sizeof bad_ints / sizeof bad_ints[0]; i++)
        expect_bad_str(with_line(2, bad_ints[i]), 2);
    /* a bad optional field is an error, not a missing one */
    expect_bad_str(with_line(3, "beta=x\n"), 3);
    expect_bad_str(with_line(14, "delta=\n"), 14);
    /* sets */
    static const char *const bad_sets[] = {
        "dayHashes=1,\n", "dayHashes=,1\n", "dayHashes=1,,2\n", "dayHashes=,\n",
        "dayHashes=1;2\n", "dayHashes=a\n", "day=AQID\n", "dayHashes 1\n",
        "dayHashes=18446744073709551615\n",
    };
    for (size_t i = 0; i < sizeof bad_sets / sizeof bad_sets[0]; i++)
        expect_bad_str(with_line(5, bad_sets[i]), 5);
    expect_bad_str(with_line(6, "monthHashes=\n"), 6); /* out of order */
    expect_bad_str(with_line(4, "seen:x\n"), 4);
    expect_bad_str(with_line(4, "seen\n"), 4);
    expect_bad_str(with_line(4, "seen=\n"), 4);
    /* an optional period whose header is wrong is taken as missing, and
     * then its lines do not parse as what follows */
    expect_bad_str(with_line(9, "heard: \n"), 9);
    /* times */
    static const char *const bad_times[] = {
        "fromTime=2023-12-31 01:02:03Z\n", "fromTime=2023-02-31T01:02:03Z\n", "fromTime=2023-02-29T01:02:03Z\n",
        "fromTime=2100-02-29T01:02:03Z\n", "fromTime=2023-13-01T01:02:03Z\n", "fromTime=2023-00-01T01:02:03Z\n",
        "fromTime=2023-12-00T01:02:03Z\n", "fromTime=2023-12-31T24:00:00Z\n", "fromTime=2023-12-31T23:60:00Z\n",
        "fromTime=2023-12-31T23:59:61Z\n", "fromTime=2023-12-31T01:02:03.Z\n", "fromTime=2023-12-31T01:02:03.1x\n",
        "fromTime=2023-12-31T01:02:03.aZ\n", "fromTime=2023-12-31T01:02:03\n", "fromTime=2023-12-31T01:02:03z\n",
        "fromTime=2023-12-31\n", "fromTime=\n", "fromTime=+023-12-31T01:02:03Z\n",
        "fromTime=9999-12-31T23:59:60Z\n", "fromTime=12023-12-31T01:02:03Z\n", "fromTime=1703980800\n",
    };
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++)
        expect_bad_str(with_line(1, bad_times[i]), 1);
    /* what is valid next to those */
    tstats d;
    parse_ok(with_line(1, "fromTime=2000-02-29T00:00:00Z\n"), &d);
    assert_int_equal(d.since, 951782400);
    sx_kit_stats_cleanup(&spec, &d);
}

static void test_oversized(void **state)
{
    (void)state;
    size_t full = strlen(expected_text);
    sx_kit_stats_spec small = spec;
    small.file_max = full;
    tstats d, e;
    fill(&d);
    char *text = NULL;
    size_t len = 0;
    /* exactly file_max: written and read */
    assert_ok(sx_kit_stats_encode(&small, &d, &text, &len));
    assert_int_equal(len, full);
    assert_ok(sx_kit_stats_parse(&small, text, len, &e, NULL));
    sx_kit_stats_cleanup(&spec, &e);
    free(text);
    /* one byte less: neither */
    small.file_max = full - 1;
    text = (char *)1;
    assert_int_equal(sx_kit_stats_encode(&small, &d, &text, &len), SX_E_LIMIT);
    assert_null(text);
    size_t line = 99;
    assert_int_equal(sx_kit_stats_parse(&small, expected_text, full, &e, &line), SX_E_LIMIT);
    assert_int_equal(line, 0);

    /* files: at file_max loads, over it does not (nor does a large file) */
    char dir[] = "/tmp/sx_kit_stats_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/stats.log", dir);
    small.file_max = full;
    assert_ok(sx_kit_stats_save(&small, &d, path));
    assert_ok(sx_kit_stats_load(&small, path, &e, NULL));
    sx_kit_stats_cleanup(&spec, &e);
    small.file_max = full - 1;
    line = 99;
    assert_int_equal(sx_kit_stats_load(&small, path, &e, &line), SX_E_LIMIT);
    assert_int_equal(line, 0);
    assert_int_equal(sx_kit_stats_save(&small, &d, path), SX_E_LIMIT);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 100000; i++)
        fputs("alpha=1234567890\n", f);
    fclose(f);
    small.file_max = 1 << 20;
    assert_int_equal(sx_kit_stats_load(&small, path, &e, &line), SX_E_LIMIT);
    assert_int_equal(sx_kit_stats_load(&spec, path, &e, &line), SX_E_PROTOCOL);
    assert_int_equal(line, 1);
    unlink(path);
    rmdir(dir);
    sx_kit_stats_cleanup(&spec, &d);
}

/* A set of SX_KIT_HSET_MAX members (0 and negatives among them) goes through
 * the text and back; members over the bound are not kept. */
static void test_max_set(void **state)
{
    (void)state;
    tstats d, e;
    memset(&d, 0, sizeof d);
    d.since = T_2024_01_01;
    for (uint64_t i = 0; i < SX_KIT_HSET_MAX + 10; i++)
        assert_ok(sx_kit_hset_add(&d.seen.month, i * 0x9e3779b97f4a7c15ULL));
    assert_int_equal(d.seen.month.n, SX_KIT_HSET_MAX);
    assert_true(d.seen.month.cap <= 2 * (size_t)SX_KIT_HSET_MAX);
    char *text = NULL;
    size_t len = 0;
    assert_ok(sx_kit_stats_encode(&spec, &d, &text, &len));
    assert_true(len > 10 * (size_t)SX_KIT_HSET_MAX);
    assert_ok(sx_kit_stats_parse(&spec, text, len, &e, NULL));
    assert_int_equal(e.seen.month.n, SX_KIT_HSET_MAX);
    assert_true(sx_kit_hset_has(&e.seen.month, 0));
    assert_true(sx_kit_hset_has(&e.seen.month, (SX_KIT_HSET_MAX - 1) * 0x9e3779b97f4a7c15ULL));
    assert_false(sx_kit_hset_has(&e.seen.month, (uint64_t)SX_KIT_HSET_MAX * 0x9e3779b97f4a7c15ULL));
    char *again = NULL;
    assert_ok(sx_kit_stats_encode(&spec, &e, &again, NULL));
    assert_string_equal(again, text);
    free(again);
    sx_kit_stats_cleanup(&spec, &e);

    /* the same text with more members than the bound: the first ones kept */
    char *p = strstr(text, "monthHashes=") + strlen("monthHashes=");
    size_t head = (size_t)(p - text);
    char *big = malloc(len + 64);
    assert_non_null(big);
    memcpy(big, text, head);
    size_t o = head + (size_t)sprintf(big + head, "1,2,3,");
    memcpy(big + o, p, len - head + 1);
    assert_ok(sx_kit_stats_parse(&spec, big, o + len - head, &e, NULL));
    assert_int_equal(e.seen.month.n, SX_KIT_HSET_MAX);
    assert_true(sx_kit_hset_has(&e.seen.month, 3));
    sx_kit_stats_cleanup(&spec, &e);
    free(big);
    free(text);
    sx_kit_stats_cleanup(&spec, &d);
}

static void test_hset(void **state)
{
    (void)state;
    sx_kit_hset h = {0}, g;
    assert_false(sx_kit_hset_has(&h, 0));
    assert_false(sx_kit_hset_has(&h, 1));
    assert_ok(sx_kit_hset_add(&h, 0));
    assert_ok(sx_kit_hset_add(&h, 0));
    assert_int_equal(h.n, 1);
    for (uint64_t i = 1; i <= 1000; i++)
        assert_ok(sx_kit_hset_add(&h, i << 40));
    assert_ok(sx_kit_hset_add(&h, 1ULL << 40));
    assert_int_equal(h.n, 1001);
    assert_ok(sx_kit_hset_copy(&h, &g));
    assert_int_equal(g.n, 1001);
    assert_true(sx_kit_hset_has(&g, 0));
    assert_true(sx_kit_hset_has(&g, 1000ULL << 40));
    assert_false(sx_kit_hset_has(&g, 1001ULL << 40));
    sx_kit_hset_clear(&h);
    assert_int_equal(h.n, 0);
    assert_false(sx_kit_hset_has(&h, 0));
    assert_true(sx_kit_hset_has(&g, 1ULL << 40));
    sx_kit_hset_clear(&g);

    sx_kit_period p = {0};
    uint64_t a = sx_kit_period_hash((const uint8_t *)"abc", 3), b = sx_kit_period_hash((const uint8_t *)"abd", 3);
    assert_int_not_equal(a, b);
    assert_int_equal(a, sx_kit_period_hash((const uint8_t *)"abc", 3));
    assert_ok(sx_kit_period_add(&p, a));
    assert_ok(sx_kit_period_add(&p, a));
    assert_ok(sx_kit_period_add(&p, b));
    assert_int_equal(p.day.n, 2);
    assert_int_equal(p.week.n, 2);
    assert_int_equal(p.month.n, 2);
    sx_kit_period_clear(&p);
    assert_int_equal(p.month.n, 0);
}

static void test_daily_line(void **state)
{
    (void)state;
    tstats d;
    fill(&d);
    char line[512];
    /* 9 columns of at most 20 characters, commas, "\n" and the NUL */
    assert_int_equal(sx_kit_stats_daily_line(&spec, &d, T_2024_01_01, line, 9 * 21 + 1), SX_E_LIMIT);
    assert_int_equal(d.alpha, 1); /* nothing restarted */
    assert_int_equal(d.seen.day.n, 2);
    /* Monday the 1st: the three periods are reported and emptied; the
     * columns: date, alpha, gamma, seen day/week/month, heard day, eps,
     * delta */
    assert_ok(sx_kit_stats_daily_line(&spec, &d, T_2024_01_01, line, 9 * 21 + 2));
    assert_string_equal(line, "2023-12-31,1,3,2,2,0,0,-9223372036854775808,9223372036854775807\n");
    assert_int_equal(d.since, T_2024_01_01);
    assert_int_equal(d.alpha, 0);
    assert_int_equal(d.beta, 0); /* restarted, though not in the line */
    assert_int_equal(d.gamma, 3);
    assert_int_equal(d.eps, 0);
    assert_int_equal(d.delta, INT64_MAX);
    assert_int_equal(d.seen.day.n + d.seen.week.n + d.seen.month.n + d.heard.month.n, 0);

    /* Tuesday: week and month are empty columns, and keep counting */
    sx_kit_stat_add(&d.alpha, 5);
    sx_kit_stat_add(&d.alpha, -1);
    assert_int_equal(sx_kit_stat_get(&d.alpha), 4);
    assert_ok(sx_kit_period_add(&d.seen, 11));
    assert_ok(sx_kit_period_add(&d.heard, 11));
    assert_ok(sx_kit_stats_daily_line(&spec, &d, T_2024_01_01 + DAY, line, sizeof line));
    assert_string_equal(line, "2024-01-01,4,3,1,,,1,0,9223372036854775807\n");
    assert_int_equal(d.seen.day.n, 0);
    assert_int_equal(d.seen.week.n, 1);
    assert_int_equal(d.seen.month.n, 1);
    assert_int_equal(d.heard.week.n, 1);

    /* the next Monday (the 8th): the week, not the month */
    assert_ok(sx_kit_period_add(&d.seen, 12));
    assert_ok(sx_kit_stats_daily_line(&spec, &d, T_2024_01_01 + 7 * DAY, line, sizeof line));
    assert_string_equal(line, "2024-01-02,0,3,1,2,,0,0,9223372036854775807\n");
    assert_int_equal(d.seen.week.n, 0);
    assert_int_equal(d.seen.month.n, 2);

    /* Thursday 1 February: the month, not the week */
    assert_ok(sx_kit_period_add(&d.seen, 13));
    assert_ok(sx_kit_stats_daily_line(&spec, &d, T_2024_01_01 + 31 * DAY, line, sizeof line));
    assert_string_equal(line, "2024-01-08,0,3,1,,3,0,0,9223372036854775807\n");
    assert_int_equal(d.seen.week.n, 1);
    assert_int_equal(d.seen.month.n, 0);
    assert_int_equal(d.heard.month.n, 0);
    assert_int_equal(d.since, T_2024_01_01 + 31 * DAY);
    sx_kit_stats_cleanup(&spec, &d);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 4096);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Sections: an optional "key:" header over the next fields; a file without
 * it leaves them 0, a header with a field missing fails. Columns of a
 * constant 0 and of a value outside the fields. */
typedef struct sstats {
    int64_t since, a, in1, in2, b, extra;
} sstats;

#define SOFF(m) offsetof(sstats, m)

static void test_sections_and_extra_columns(void **state)
{
    (void)state;
    static const sx_kit_stat_field f[] = {
        {"fromTime", SX_KIT_STAT_TIME, 0, SOFF(since), 0},
        {"a", SX_KIT_STAT_INT, 0, SOFF(a), 0},
        {"sect", SX_KIT_STAT_HEADER, SX_KIT_STAT_OPTIONAL, 0, 2},
        {"one", SX_KIT_STAT_INT, 0, SOFF(in1), 0},
        {"two", SX_KIT_STAT_INT, 0, SOFF(in2), 0},
        {"b", SX_KIT_STAT_INT, SX_KIT_STAT_OPTIONAL, SOFF(b), 0},
    };
    static const sx_kit_stat_col c[] = {
        {SX_KIT_COL_DATE, SOFF(since)}, {SX_KIT_COL_VALUE, SOFF(in2)}, {SX_KIT_COL_ZERO, 0},
        {SX_KIT_COL_EXTRA, SOFF(extra)}, {SX_KIT_COL_VALUE, SOFF(b)},
    };
    sx_kit_stats_spec sp = {f, 6, c, 5, 1000};
    assert_true(sx_kit_stats_spec_valid(&sp));
    const char *full = "fromTime=2024-01-01T00:00:00Z\na=1\nsect:\none=2\ntwo=3\nb=4\n";
    sstats d;
    memset(&d, 0, sizeof d);
    size_t line = 0;
    assert_ok(sx_kit_stats_parse(&sp, full, strlen(full), &d, &line));
    assert_int_equal(d.in1, 2);
    assert_int_equal(d.in2, 3);
    assert_int_equal(d.b, 4);
    char *text = NULL;
    size_t len = 0;
    assert_ok(sx_kit_stats_encode(&sp, &d, &text, &len));
    assert_string_equal(text, full);
    free(text);
    const char *without = "fromTime=2024-01-01T00:00:00Z\na=1\nb=4\n";
    assert_ok(sx_kit_stats_parse(&sp, without, strlen(without), &d, &line));
    assert_int_equal(d.in1, 0);
    assert_int_equal(d.in2, 0);
    assert_int_equal(d.b, 4);
    const char *cut = "fromTime=2024-01-01T00:00:00Z\na=1\nsect:\none=2\nb=4\n";
    assert_int_equal(sx_kit_stats_parse(&sp, cut, strlen(cut), &d, &line), SX_E_PROTOCOL);
    assert_int_equal(line, 5);
    assert_ok(sx_kit_stats_parse(&sp, full, strlen(full), &d, &line));
    d.extra = 77;
    char out[256];
    assert_ok(sx_kit_stats_daily_line(&sp, &d, T_2024_01_01, out, sizeof out));
    assert_string_equal(out, "2024-01-01,3,0,77,4\n");
    assert_int_equal(d.extra, 77);
    assert_int_equal(d.in2, 0);
    /* unsound: a section longer than what follows, an extra column over a field */
    sx_kit_stat_field g[6];
    memcpy(g, f, sizeof g);
    g[2].group = 4;
    sx_kit_stats_spec bad = {g, 6, c, 5, 1000};
    assert_false(sx_kit_stats_spec_valid(&bad));
    sx_kit_stat_col c2[5];
    memcpy(c2, c, sizeof c2);
    c2[3].off = SOFF(a);
    sx_kit_stats_spec bad2 = {f, 6, c2, 5, 1000};
    assert_false(sx_kit_stats_spec_valid(&bad2));
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_kit_stats_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], tmp[140], daily[128];
    snprintf(path, sizeof path, "%s/router-stats.log", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(daily, sizeof daily, "%s/router-stats.daily.log", dir);
    tstats d, e;
    fill(&d);
    assert_ok(sx_kit_stats_save(&spec, &d, path));
    struct stat sb;
    assert_int_not_equal(stat(tmp, &sb), 0);
    char *text = read_file(path);
    assert_string_equal(text, expected_text);
    free(text);
    size_t line = 99;
    assert_ok(sx_kit_stats_load(&spec, path, &e, &line));
    assert_int_equal(line, 0);
    assert_int_equal(e.eps, INT64_MIN);
    assert_int_equal(e.seen.day.n, 2);
    sx_kit_stats_cleanup(&spec, &e);

    /* saving again replaces the file */
    d.alpha = 12;
    assert_ok(sx_kit_stats_save(&spec, &d, path));
    assert_ok(sx_kit_stats_load(&spec, path, &e, NULL));
    assert_int_equal(e.alpha, 12);
    sx_kit_stats_cleanup(&spec, &e);

    /* a line that does not parse: its number */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(strstr(expected_text, "gamma=") - expected_text) + 1, SEEK_SET), 0);
    fputc('?', f);
    fclose(f);
    assert_int_equal(sx_kit_stats_load(&spec, path, &e, &line), SX_E_PROTOCOL);
    assert_int_equal(line, 8);

    /* an empty file, a missing one, a folder, a missing folder */
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(sx_kit_stats_load(&spec, path, &e, &line), SX_E_PROTOCOL);
    assert_int_equal(line, 1);
    unlink(path);
    assert_int_equal(sx_kit_stats_load(&spec, path, &e, &line), SX_E_IO);
    assert_int_equal(line, 0);
    assert_int_not_equal(sx_kit_stats_load(&spec, dir, &e, &line), SX_OK);
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/missing/stats.log", dir);
    assert_int_equal(sx_kit_stats_save(&spec, &d, nodir), SX_E_IO);

    /* the daily file grows by lines */
    assert_ok(sx_kit_stats_append_line(daily, "a,1\n"));
    assert_ok(sx_kit_stats_append_line(daily, "b,2\n"));
    text = read_file(daily);
    assert_string_equal(text, "a,1\nb,2\n");
    free(text);
    assert_int_equal(sx_kit_stats_append_line(nodir, "c\n"), SX_E_IO);
    unlink(daily);
    rmdir(dir);
    sx_kit_stats_cleanup(&spec, &d);
}

/* The metrics text's pieces (kit/prom.h): header, metric, sample with
 * labels and without a comment, the end; and the thread count. */
static void test_prom_text(void **state)
{
    (void)state;
    sx_kit_prom o;
    sx_kit_prom_begin(&o, 4096, 1700000000123, 1699999000);
    sx_kit_prom_one(&o, "x_total", "counter", "All x", 7, "xCount");
    sx_kit_prom_head(&o, "y", "gauge", "Some y");
    sx_kit_prom_sample(&o, "y", "{a=\"b\"}", -2, NULL);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(sx_kit_prom_finish(&o, &text, &len), SX_OK);
    const char *want = "# Recorded at: 2023-11-14T22:13:20Z\n# Stats from: 2023-11-14T21:56:40Z\n\n"
                       "# HELP x_total All x\n# TYPE x_total counter\nx_total 7 1700000000123\n# xCount\n\n"
                       "# HELP y Some y\n# TYPE y gauge\ny{a=\"b\"} -2 1700000000123\n";
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));
    free(text);
    /* a text over its cap is an error, and nothing is left to free */
    sx_kit_prom_begin(&o, 16, 0, 0);
    text = NULL;
    assert_int_not_equal(sx_kit_prom_finish(&o, &text, &len), SX_OK);
    assert_null(text);
    assert_true(sx_kit_proc_threads() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_valid),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_optional_and_forms),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_max_set),
        cmocka_unit_test(test_hset),
        cmocka_unit_test(test_prom_text),
        cmocka_unit_test(test_daily_line),
        cmocka_unit_test(test_sections_and_extra_columns),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
