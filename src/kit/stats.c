/* Router kit: statistics files from a router's spec (see stats.h): bounded
 * hash sets and period sets, the backup text and its parser, the daily line,
 * and the files. */
#include "kit/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/writer.h"
#include "kit/paths.h"

/* ---- hash sets ---- */

static void hset_put(uint64_t *slots, size_t cap, uint64_t v)
{
    size_t i = (size_t)sx_mix64(v) & (cap - 1);
    while (slots[i] != 0 && slots[i] != v)
        i = (i + 1) & (cap - 1);
    slots[i] = v;
}

bool sx_kit_hset_has(const sx_kit_hset *h, uint64_t v)
{
    if (v == 0)
        return h->has_zero;
    if (h->cap == 0)
        return false;
    size_t i = (size_t)sx_mix64(v) & (h->cap - 1);
    while (h->slots[i] != 0) {
        if (h->slots[i] == v)
            return true;
        i = (i + 1) & (h->cap - 1);
    }
    return false;
}

sx_status sx_kit_hset_add(sx_kit_hset *h, uint64_t v)
{
    if (h->n >= SX_KIT_HSET_MAX || sx_kit_hset_has(h, v))
        return SX_OK;
    if (v == 0) {
        h->has_zero = true;
        h->n++;
        return SX_OK;
    }
    /* at most half full, so that probes stay short and end */
    if ((h->n + 1) * 2 > h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        uint64_t *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return SX_E_NOMEM;
        for (size_t i = 0; i < h->cap; i++)
            if (h->slots[i] != 0)
                hset_put(ns, ncap, h->slots[i]);
        free(h->slots);
        h->slots = ns;
        h->cap = ncap;
    }
    hset_put(h->slots, h->cap, v);
    h->n++;
    return SX_OK;
}

void sx_kit_hset_clear(sx_kit_hset *h)
{
    free(h->slots);
    memset(h, 0, sizeof *h);
}

sx_status sx_kit_hset_copy(const sx_kit_hset *from, sx_kit_hset *to)
{
    memset(to, 0, sizeof *to);
    if (from->cap) {
        to->slots = malloc(from->cap * sizeof *to->slots);
        if (!to->slots)
            return SX_E_NOMEM;
        memcpy(to->slots, from->slots, from->cap * sizeof *to->slots);
    }
    to->cap = from->cap;
    to->n = from->n;
    to->has_zero = from->has_zero;
    return SX_OK;
}

/* ---- period sets ---- */

/* 64-bit FNV-1a: any fixed hash serves, the sets only count distinct ids. */
uint64_t sx_kit_period_hash(const uint8_t *id, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= id[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

sx_status sx_kit_period_add(sx_kit_period *p, uint64_t h)
{
    SX_TRY(sx_kit_hset_add(&p->day, h));
    SX_TRY(sx_kit_hset_add(&p->week, h));
    return sx_kit_hset_add(&p->month, h);
}

void sx_kit_period_clear(sx_kit_period *p)
{
    sx_kit_hset_clear(&p->day);
    sx_kit_hset_clear(&p->week);
    sx_kit_hset_clear(&p->month);
}

static sx_status period_copy(const sx_kit_period *from, sx_kit_period *to)
{
    memset(to, 0, sizeof *to);
    sx_status st = sx_kit_hset_copy(&from->day, &to->day);
    if (st == SX_OK)
        st = sx_kit_hset_copy(&from->week, &to->week);
    if (st == SX_OK)
        st = sx_kit_hset_copy(&from->month, &to->month);
    if (st != SX_OK)
        sx_kit_period_clear(to);
    return st;
}

/* ---- the spec ---- */

/* The value of field f in the router's struct. */
static int64_t *int_at(void *data, const sx_kit_stat_field *f)
{
    return (int64_t *)((char *)data + f->off);
}

static const int64_t *cint_at(const void *data, const sx_kit_stat_field *f)
{
    return (const int64_t *)((const char *)data + f->off);
}

static sx_kit_period *period_at(void *data, const sx_kit_stat_field *f)
{
    return (sx_kit_period *)((char *)data + f->off);
}

static const sx_kit_period *cperiod_at(const void *data, const sx_kit_stat_field *f)
{
    return (const sx_kit_period *)((const char *)data + f->off);
}

static size_t field_size(const sx_kit_stat_field *f)
{
    return f->kind == SX_KIT_STAT_PERIOD   ? sizeof(sx_kit_period)
           : f->kind == SX_KIT_STAT_HEADER ? 0
                                           : sizeof(int64_t);
}

/* The index of the field a column shows, or n_fields when none fits. */
static size_t col_field(const sx_kit_stats_spec *spec, const sx_kit_stat_col *c)
{
    for (size_t i = 0; i < spec->n_fields; i++) {
        const sx_kit_stat_field *f = &spec->fields[i];
        if (f->kind == SX_KIT_STAT_HEADER || f->off != c->off)
            continue;
        bool fits = c->kind == SX_KIT_COL_DATE    ? f->kind == SX_KIT_STAT_TIME
                    : c->kind == SX_KIT_COL_VALUE ? f->kind == SX_KIT_STAT_INT
                                                  : f->kind == SX_KIT_STAT_PERIOD;
        return fits ? i : spec->n_fields;
    }
    return spec->n_fields;
}

static bool key_valid(const char *k)
{
    if (!k || !*k)
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9')))
            return false;
    return true;
}

bool sx_kit_stats_spec_valid(const sx_kit_stats_spec *spec)
{
    if (!spec || (spec->n_fields && !spec->fields) || (spec->n_cols && !spec->cols))
        return false;
    for (size_t i = 0; i < spec->n_fields; i++) {
        const sx_kit_stat_field *f = &spec->fields[i];
        if (!key_valid(f->key) || f->kind > SX_KIT_STAT_HEADER || (f->off % sizeof(int64_t)) != 0)
            return false;
        if (f->kind == SX_KIT_STAT_HEADER) {
            if (f->group == 0 || f->group > spec->n_fields - i - 1)
                return false;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const sx_kit_stat_field *g = &spec->fields[j];
            if (f->off < g->off + field_size(g) && g->off < f->off + field_size(f))
                return false; /* overlapping values */
        }
    }
    for (size_t i = 0; i < spec->n_cols; i++) {
        const sx_kit_stat_col *c = &spec->cols[i];
        if (c->kind == SX_KIT_COL_ZERO)
            continue;
        if (c->kind == SX_KIT_COL_EXTRA) {
            /* a value of its own, outside every field */
            if (c->off % sizeof(int64_t) != 0)
                return false;
            for (size_t j = 0; j < spec->n_fields; j++) {
                const sx_kit_stat_field *g = &spec->fields[j];
                if (c->off < g->off + field_size(g) && g->off < c->off + sizeof(int64_t))
                    return false;
            }
            continue;
        }
        if (c->kind > SX_KIT_COL_EXTRA || col_field(spec, c) == spec->n_fields)
            return false;
    }
    return true;
}

/* ---- data ---- */

void sx_kit_stats_cleanup(const sx_kit_stats_spec *spec, void *data)
{
    for (size_t i = 0; i < spec->n_fields; i++)
        if (spec->fields[i].kind == SX_KIT_STAT_PERIOD)
            sx_kit_period_clear(period_at(data, &spec->fields[i]));
}

/* Zero values and empty sets, without freeing anything. */
static void zero_fields(const sx_kit_stats_spec *spec, void *data)
{
    for (size_t i = 0; i < spec->n_fields; i++) {
        const sx_kit_stat_field *f = &spec->fields[i];
        if (f->kind == SX_KIT_STAT_PERIOD)
            memset(period_at(data, f), 0, sizeof(sx_kit_period));
        else if (f->kind != SX_KIT_STAT_HEADER)
            *int_at(data, f) = 0;
    }
}

sx_status sx_kit_stats_copy(const sx_kit_stats_spec *spec, const void *from, void *to)
{
    zero_fields(spec, to);
    for (size_t i = 0; i < spec->n_fields; i++) {
        const sx_kit_stat_field *f = &spec->fields[i];
        if (f->kind == SX_KIT_STAT_PERIOD) {
            sx_status st = period_copy(cperiod_at(from, f), period_at(to, f));
            if (st != SX_OK) {
                sx_kit_stats_cleanup(spec, to);
                return st;
            }
        } else if (f->kind != SX_KIT_STAT_HEADER) {
            *int_at(to, f) = sx_kit_stat_get(cint_at(from, f));
        }
    }
    return SX_OK;
}

void sx_kit_stats_move(const sx_kit_stats_spec *spec, void *to, void *from)
{
    for (size_t i = 0; i < spec->n_fields; i++) {
        const sx_kit_stat_field *f = &spec->fields[i];
        if (f->kind == SX_KIT_STAT_PERIOD) {
            sx_kit_period *p = period_at(to, f), *q = period_at(from, f);
            sx_kit_period_clear(p);
            *p = *q;
            memset(q, 0, sizeof *q);
        } else if (f->kind != SX_KIT_STAT_HEADER) {
            __atomic_store_n(int_at(to, f), *int_at(from, f), __ATOMIC_RELAXED);
        }
    }
}

/* ---- times ---- */

#define DAY 86400
#define TIME_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d, for years 0 to 9999 (year 0 is a leap
 * year in the proleptic Gregorian calendar). */
static int64_t days_since_epoch(int64_t y, int m, int d)
{
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    /* leap years in [0, y): multiples of 4, less those of 100, plus those of 400 */
    int64_t leaps = (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
    int64_t days = y * 365 + leaps + before[m - 1] + (m > 2 && leap_year(y)) + d - 1;
    return days - 719528; /* the same count for 1970-01-01 */
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : dm[m - 1];
}

#define TIME_TEXT 80 /* format_time's buffer: more than it writes, as the compiler counts */

/* "YYYY-MM-DDTHH:MM:SSZ", or the date alone; t is held to years 0-9999. */
static void format_time(int64_t t, char out[TIME_TEXT], bool date_only)
{
    if (t < TIME_MIN)
        t = TIME_MIN;
    if (t > TIME_MAX)
        t = TIME_MAX;
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        memset(&tm, 0, sizeof tm);
    if (date_only)
        snprintf(out, TIME_TEXT, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else
        snprintf(out, TIME_TEXT, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* YYYY-MM-DDTHH:MM:SS[.digits]Z, as the reference writes a UTCTime; the
 * fraction is dropped, a leap second counts as the next second. */
static bool parse_time(const char *s, size_t n, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    if (n > 20 && (s[19] != '.' || n == 21))
        return false;
    for (size_t i = 20; i + 1 < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
        return false;
    int64_t t = days_since_epoch(y, mo, d) * DAY + h * 3600 + mi * 60 + se;
    if (t > TIME_MAX)
        return false;
    *out = t;
    return true;
}

/* ---- encoding ---- */

static void put_str(sx_writer *w, const char *s) { (void)sx_write_str(w, s); }

static void put_int(sx_writer *w, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    (void)sx_write_bytes(w, t, n > 0 ? (size_t)n : 0);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Members as the reference's IntSet: ascending as signed numbers, joined by
 * commas. */
static void put_set(sx_writer *w, const sx_kit_hset *h)
{
    if (h->n == 0 || sx_writer_status(w) != SX_OK)
        return;
    int64_t *v = malloc(h->n * sizeof *v);
    if (!v) {
        sx_writer_fail(w, SX_E_NOMEM);
        return;
    }
    size_t k = 0;
    if (h->has_zero)
        v[k++] = 0;
    for (size_t i = 0; i < h->cap && k < h->n; i++)
        if (h->slots[i] != 0)
            v[k++] = (int64_t)h->slots[i];
    qsort(v, k, sizeof *v, cmp_i64);
    for (size_t i = 0; i < k; i++) {
        if (i)
            put_str(w, ",");
        put_int(w, v[i]);
    }
    free(v);
}

static void put_field(sx_writer *w, const sx_kit_stat_field *f, const void *data)
{
    char t[TIME_TEXT];
    put_str(w, f->key);
    switch (f->kind) {
    case SX_KIT_STAT_TIME:
        format_time(*cint_at(data, f), t, false);
        put_str(w, "=");
        put_str(w, t);
        break;
    case SX_KIT_STAT_INT:
        put_str(w, "=");
        put_int(w, sx_kit_stat_get(cint_at(data, f)));
        break;
    case SX_KIT_STAT_PERIOD: {
        const sx_kit_period *p = cperiod_at(data, f);
        put_str(w, ":\ndayHashes=");
        put_set(w, &p->day);
        put_str(w, "\nweekHashes=");
        put_set(w, &p->week);
        put_str(w, "\nmonthHashes=");
        put_set(w, &p->month);
        break;
    }
    case SX_KIT_STAT_HEADER:
        put_str(w, ":");
        break;
    }
    put_str(w, "\n");
}

sx_status sx_kit_stats_encode(const sx_kit_stats_spec *spec, const void *data, char **out, size_t *out_len)
{
    SX_ENSURE(spec && data && out, SX_E_USAGE);
    *out = NULL;
    sx_writer w;
    /* room for the text and its NUL */
    sx_writer_init_dynamic(&w, spec->file_max < SIZE_MAX ? spec->file_max + 1 : SIZE_MAX);
    for (size_t i = 0; i < spec->n_fields; i++)
        put_field(&w, &spec->fields[i], data);
    (void)sx_write_u8(&w, 0);
    sx_status st = sx_writer_status(&w);
    if (st != SX_OK) {
        sx_writer_cleanup(&w);
        return st;
    }
    size_t len = 0;
    uint8_t *p = sx_writer_take(&w, &len);
    if (!p)
        return SX_E_NOMEM;
    *out = (char *)p;
    if (out_len)
        *out_len = len - 1;
    return SX_OK;
}

/* ---- parsing ---- */

/* The text as lines; the current one is s[0..n) (without "\n" or "\r\n"),
 * number no (1-based). have is false at the end, or when the rest of the
 * text has no "\n" (then partial is set). */
typedef struct cursor {
    const char *p, *end;
    const char *s;
    size_t n, no;
    bool have, partial;
} cursor;

static void advance(cursor *c)
{
    c->no++;
    c->have = false;
    if (c->p >= c->end)
        return;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    if (!nl) {
        c->partial = true;
        return;
    }
    c->s = c->p;
    c->n = (size_t)(nl - c->p);
    if (c->n > 0 && c->s[c->n - 1] == '\r')
        c->n--;
    c->p = nl + 1;
    c->have = true;
}

/* Whether the current line is "<key><sep>..."; *v is what follows. */
static bool keyed(const cursor *c, const char *key, char sep, const char **v, size_t *vn)
{
    size_t k = strlen(key);
    if (!c->have || c->n < k + 1 || memcmp(c->s, key, k) != 0 || c->s[k] != sep)
        return false;
    *v = c->s + k + 1;
    *vn = c->n - k - 1;
    return true;
}

/* Haskell's signed decimal: [+-]digits, the whole of s[0..n), in range. */
static bool parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (lim - dgt) / 10)
            return false;
        v = v * 10 + dgt;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* "<key>=" and signed numbers joined by commas (none: empty). */
static sx_status parse_set(const cursor *c, const char *key, sx_kit_hset *h)
{
    const char *v;
    size_t vn;
    if (!keyed(c, key, '=', &v, &vn))
        return SX_E_PROTOCOL;
    size_t i = 0;
    while (i < vn) {
        size_t j = i;
        while (j < vn && v[j] != ',')
            j++;
        int64_t x;
        if (!parse_int(v + i, j - i, &x))
            return SX_E_PROTOCOL;
        SX_TRY(sx_kit_hset_add(h, (uint64_t)x));
        if (j + 1 == vn)
            return SX_E_PROTOCOL; /* a trailing comma */
        i = j + 1;
    }
    return SX_OK;
}

static sx_status parse_period(cursor *c, sx_kit_period *p)
{
    advance(c);
    SX_TRY(parse_set(c, "dayHashes", &p->day));
    advance(c);
    SX_TRY(parse_set(c, "weekHashes", &p->week));
    advance(c);
    return parse_set(c, "monthHashes", &p->month);
}

/* Parses the current line (and those a period takes) as field f. *absent
 * when the line is not f's and f is optional (nothing is taken then). */
static sx_status parse_field(cursor *c, const sx_kit_stat_field *f, void *data, bool *absent)
{
    const char *v;
    size_t vn;
    bool mine = f->kind == SX_KIT_STAT_PERIOD || f->kind == SX_KIT_STAT_HEADER
                    ? keyed(c, f->key, ':', &v, &vn) && vn == 0
                    : keyed(c, f->key, '=', &v, &vn);
    *absent = !mine && (f->flags & SX_KIT_STAT_OPTIONAL);
    if (*absent)
        return SX_OK;
    if (!mine)
        return SX_E_PROTOCOL;
    switch (f->kind) {
    case SX_KIT_STAT_TIME:
        return parse_time(v, vn, int_at(data, f)) ? SX_OK : SX_E_PROTOCOL;
    case SX_KIT_STAT_INT:
        return parse_int(v, vn, int_at(data, f)) ? SX_OK : SX_E_PROTOCOL;
    case SX_KIT_STAT_PERIOD:
        return parse_period(c, period_at(data, f));
    case SX_KIT_STAT_HEADER:
        return SX_OK;
    }
    return SX_E_INTERNAL;
}

sx_status sx_kit_stats_parse(const sx_kit_stats_spec *spec, const char *text, size_t len, void *data, size_t *line)
{
    SX_ENSURE(spec && data && (text || len == 0), SX_E_USAGE);
    if (line)
        *line = 0;
    zero_fields(spec, data);
    SX_ENSURE(len <= spec->file_max, SX_E_LIMIT);
    cursor c = {.p = text, .end = text + len};
    advance(&c);
    sx_status st = SX_OK;
    for (size_t i = 0; i < spec->n_fields && st == SX_OK; i++) {
        bool absent = false;
        st = parse_field(&c, &spec->fields[i], data, &absent);
        if (st == SX_OK && !absent)
            advance(&c);
        else if (st == SX_OK && spec->fields[i].kind == SX_KIT_STAT_HEADER)
            i += spec->fields[i].group; /* the section is missing: its fields stay 0 */
    }
    if (st == SX_OK && (c.have || c.partial))
        st = SX_E_PROTOCOL; /* more after the last field */
    if (st != SX_OK) {
        sx_kit_stats_cleanup(spec, data);
        zero_fields(spec, data);
        if (line)
            *line = c.no;
    }
    return st;
}

/* ---- the daily line ---- */

#define COL_MAX 21 /* a column and its comma: 20 characters of a number */

sx_status sx_kit_stats_daily_line(const sx_kit_stats_spec *spec, void *data, int64_t now, char *out, size_t cap)
{
    SX_ENSURE(spec && data && out, SX_E_USAGE);
    SX_ENSURE(spec->n_cols < (SIZE_MAX - 2) / COL_MAX && cap >= spec->n_cols * COL_MAX + 2, SX_E_LIMIT);
    time_t tt = (time_t)now;
    struct tm tm;
    SX_ENSURE(gmtime_r(&tt, &tm), SX_E_USAGE);
    bool monday = tm.tm_wday == 1, first = tm.tm_mday == 1;
    /* what each field held before the line: a value, or a period's three
     * counts (-1: not reported) */
    int64_t(*was)[3] = calloc(spec->n_fields ? spec->n_fields : 1, sizeof *was);
    SX_ENSURE(was, SX_E_NOMEM);
    for (size_t i = 0; i < spec->n_fields; i++) {
        const sx_kit_stat_field *f = &spec->fields[i];
        if (f->kind == SX_KIT_STAT_TIME) {
            was[i][0] = *int_at(data, f);
            *int_at(data, f) = now;
        } else if (f->kind == SX_KIT_STAT_HEADER) {
            continue;
        } else if (f->kind == SX_KIT_STAT_INT) {
            was[i][0] = f->flags & SX_KIT_STAT_KEEP ? sx_kit_stat_get(int_at(data, f))
                                                    : __atomic_exchange_n(int_at(data, f), 0, __ATOMIC_RELAXED);
        } else {
            sx_kit_period *p = period_at(data, f);
            was[i][0] = (int64_t)p->day.n;
            sx_kit_hset_clear(&p->day);
            was[i][1] = monday ? (int64_t)p->week.n : -1;
            if (monday)
                sx_kit_hset_clear(&p->week);
            was[i][2] = first ? (int64_t)p->month.n : -1;
            if (first)
                sx_kit_hset_clear(&p->month);
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < spec->n_cols; i++) {
        const sx_kit_stat_col *col = &spec->cols[i];
        size_t k = col_field(spec, col);
        char t[TIME_TEXT] = "";
        if (col->kind == SX_KIT_COL_ZERO)
            snprintf(t, sizeof t, "0");
        else if (col->kind == SX_KIT_COL_EXTRA)
            snprintf(t, sizeof t, "%" PRId64, sx_kit_stat_get((const int64_t *)((const char *)data + col->off)));
        else if (k == spec->n_fields)
            ; /* not a sound spec: an empty column */
        else if (col->kind == SX_KIT_COL_DATE)
            format_time(was[k][0], t, true);
        else if (col->kind == SX_KIT_COL_VALUE || col->kind == SX_KIT_COL_DAY)
            snprintf(t, sizeof t, "%" PRId64, was[k][0]);
        else if (was[k][col->kind == SX_KIT_COL_WEEK ? 1 : 2] >= 0)
            snprintf(t, sizeof t, "%" PRId64, was[k][col->kind == SX_KIT_COL_WEEK ? 1 : 2]);
        int n = snprintf(out + o, cap - o, "%s%s", i ? "," : "", t);
        if (n > 0)
            o += (size_t)n;
    }
    snprintf(out + o, cap - o, "\n");
    free(was);
    return SX_OK;
}

sx_status sx_kit_stats_append_line(const char *path, const char *line)
{
    SX_ENSURE(path && line, SX_E_USAGE);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return SX_E_IO;
    sx_status st = sx_fd_write_all(fd, line, strlen(line));
    if (close(fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    return st;
}

/* ---- files ---- */

sx_status sx_kit_stats_save(const sx_kit_stats_spec *spec, const void *data, const char *path)
{
    SX_ENSURE(spec && data && path, SX_E_USAGE);
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_kit_stats_encode(spec, data, &text, &len));
    char *tmp = sx_kit_path_with(path, ".tmp");
    if (!tmp) {
        free(text);
        return SX_E_NOMEM;
    }
    sx_status st = SX_E_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0) {
        st = sx_fd_write_all(fd, text, len);
        if (st == SX_OK && fsync(fd) != 0)
            st = SX_E_IO;
        if (close(fd) != 0 && st == SX_OK)
            st = SX_E_IO;
        if (st == SX_OK && rename(tmp, path) != 0)
            st = SX_E_IO;
        if (st == SX_OK)
            sx_fs_sync_parent(path);
        else
            unlink(tmp);
    }
    free(tmp);
    free(text);
    return st;
}

/* The whole file into *out (NUL-terminated; free it) when it has at most
 * max bytes. SX_E_IO, SX_E_LIMIT, SX_E_NOMEM. */
static sx_status slurp(const char *path, size_t max, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    SX_ENSURE(max < SIZE_MAX - 2, SX_E_USAGE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SX_E_IO;
    /* read up to max + 1 bytes: getting them all means too large */
    size_t want = max + 1, cap = 4096, len = 0;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0 && (uint64_t)sb.st_size < want)
        cap = (size_t)sb.st_size + 1; /* + 1 to see the end in one read */
    if (cap > want)
        cap = want;
    char *buf = malloc(cap + 1);
    sx_status st = buf ? SX_OK : SX_E_NOMEM;
    while (st == SX_OK) {
        if (len == cap) {
            if (cap == want) {
                st = SX_E_LIMIT;
                break;
            }
            size_t ncap = cap > want / 2 ? want : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                st = SX_E_NOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            st = SX_E_IO;
        else if (r == 0)
            break;
        else
            len += (size_t)r;
    }
    close(fd);
    if (st != SX_OK) {
        free(buf);
        return st;
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    return SX_OK;
}

sx_status sx_kit_stats_load(const sx_kit_stats_spec *spec, const char *path, void *data, size_t *line)
{
    SX_ENSURE(spec && path && data, SX_E_USAGE);
    if (line)
        *line = 0;
    zero_fields(spec, data);
    char *text = NULL;
    size_t len = 0;
    SX_TRY(slurp(path, spec->file_max, &text, &len));
    sx_status st = sx_kit_stats_parse(spec, text, len, data, line);
    free(text);
    return st;
}

sx_status sx_kit_stats_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    SX_ENSURE(path && out && out_len, SX_E_USAGE);
    return slurp(path, max, out, out_len);
}
