/* XFTP router statistics: atomic counters, bounded hash sets for the
 * per-period "files downloaded" counts, the backup file's text format and
 * the daily CSV line (see stats.h for the formats). */
#include "xftp_router/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- hash sets ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static void hset_put(uint64_t *slots, size_t cap, uint64_t v)
{
    size_t i = (size_t)mix64(v) & (cap - 1);
    while (slots[i] != 0 && slots[i] != v)
        i = (i + 1) & (cap - 1);
    slots[i] = v;
}

bool sx_xftp_hset_has(const sx_xftp_hset *h, uint64_t v)
{
    if (v == 0)
        return h->has_zero;
    if (h->cap == 0)
        return false;
    size_t i = (size_t)mix64(v) & (h->cap - 1);
    while (h->slots[i] != 0) {
        if (h->slots[i] == v)
            return true;
        i = (i + 1) & (h->cap - 1);
    }
    return false;
}

sx_status sx_xftp_hset_add(sx_xftp_hset *h, uint64_t v)
{
    if (sx_xftp_hset_has(h, v) || h->n >= SX_XFTP_PERIOD_MAX)
        return SX_OK;
    if (v == 0) {
        h->has_zero = true;
        h->n++;
        return SX_OK;
    }
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

void sx_xftp_hset_clear(sx_xftp_hset *h)
{
    free(h->slots);
    memset(h, 0, sizeof *h);
}

static sx_status hset_copy(const sx_xftp_hset *from, sx_xftp_hset *to)
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

void sx_xftp_stats_data_cleanup(sx_xftp_stats_data *d)
{
    sx_xftp_hset_clear(&d->day);
    sx_xftp_hset_clear(&d->week);
    sx_xftp_hset_clear(&d->month);
}

/* ---- encoding ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->cap - b->len < n + 1) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_int(sbuf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    sb_put(b, t, n > 0 ? (size_t)n : 0);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Members as the reference's IntSet: ascending signed, comma-separated. */
static void sb_set(sbuf *b, const sx_xftp_hset *h)
{
    if (h->n == 0)
        return;
    int64_t *v = malloc(h->n * sizeof *v);
    if (!v) {
        b->failed = true;
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
            sb_put(b, ",", 1);
        sb_int(b, v[i]);
    }
    free(v);
}

static const char *const stat_key[SX_XFTP_STAT_COUNT] = {
    [SX_XFTP_STAT_FILES_CREATED] = "filesCreated",
    [SX_XFTP_STAT_FILE_RECIPIENTS] = "fileRecipients",
    [SX_XFTP_STAT_FILES_UPLOADED] = "filesUploaded",
    [SX_XFTP_STAT_FILES_EXPIRED] = "filesExpired",
    [SX_XFTP_STAT_FILES_DELETED] = "filesDeleted",
    [SX_XFTP_STAT_FILES_BLOCKED] = "filesBlocked",
    [SX_XFTP_STAT_FILE_DOWNLOADS] = "fileDownloads",
    [SX_XFTP_STAT_FILE_DOWNLOAD_ACKS] = "fileDownloadAcks",
    [SX_XFTP_STAT_FILES_COUNT] = "filesCount",
    [SX_XFTP_STAT_FILES_SIZE] = "filesSize",
};

/* The counter lines before "filesDownloaded:", in the reference's order,
 * and whether the parser may find them missing (then 0). */
static const struct {
    sx_xftp_stat k;
    bool optional;
} head_keys[] = {
    {SX_XFTP_STAT_FILES_CREATED, false}, {SX_XFTP_STAT_FILE_RECIPIENTS, false},
    {SX_XFTP_STAT_FILES_UPLOADED, false}, {SX_XFTP_STAT_FILES_EXPIRED, true},
    {SX_XFTP_STAT_FILES_DELETED, false}, {SX_XFTP_STAT_FILES_BLOCKED, true},
    {SX_XFTP_STAT_FILES_COUNT, true},    {SX_XFTP_STAT_FILES_SIZE, true},
};

static void format_time(int64_t t, char *out, size_t cap, bool date_only)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm))
        memset(&tm, 0, sizeof tm);
    strftime(out, cap, date_only ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

sx_status sx_xftp_stats_encode(const sx_xftp_stats_data *d, char **out, size_t *out_len)
{
    SX_ENSURE(d && out, SX_E_USAGE);
    *out = NULL;
    sbuf b = {0};
    char t[40];
    format_time(d->from_time, t, sizeof t, false);
    sb_str(&b, "fromTime=");
    sb_str(&b, t);
    sb_str(&b, "\n");
    for (size_t i = 0; i < sizeof head_keys / sizeof head_keys[0]; i++) {
        sb_str(&b, stat_key[head_keys[i].k]);
        sb_str(&b, "=");
        sb_int(&b, d->c[head_keys[i].k]);
        sb_str(&b, "\n");
    }
    sb_str(&b, "filesDownloaded:\ndayHashes=");
    sb_set(&b, &d->day);
    sb_str(&b, "\nweekHashes=");
    sb_set(&b, &d->week);
    sb_str(&b, "\nmonthHashes=");
    sb_set(&b, &d->month);
    sb_str(&b, "\nfileDownloads=");
    sb_int(&b, d->c[SX_XFTP_STAT_FILE_DOWNLOADS]);
    sb_str(&b, "\nfileDownloadAcks=");
    sb_int(&b, d->c[SX_XFTP_STAT_FILE_DOWNLOAD_ACKS]);
    sb_str(&b, "\n");
    if (b.failed) {
        free(b.p);
        return SX_E_NOMEM;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return SX_OK;
}

/* ---- parsing ---- */

typedef struct lines {
    const char *p, *end;
    size_t no; /* number of the line last taken */
} lines;

/* The next newline-terminated line (without "\n" or "\r\n"); false at the
 * end or when the last line has no newline. */
static bool next_line(lines *ls, const char **s, size_t *n)
{
    if (ls->p >= ls->end)
        return false;
    const char *nl = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
    ls->no++;
    if (!nl)
        return false;
    *s = ls->p;
    *n = (size_t)(nl - ls->p);
    if (*n > 0 && (*s)[*n - 1] == '\r')
        (*n)--;
    ls->p = nl + 1;
    return true;
}

static bool has_prefix(const char *s, size_t n, const char *pre)
{
    size_t k = strlen(pre);
    return n >= k && memcmp(s, pre, k) == 0;
}

/* Haskell's signed decimal: [+-]digits, the whole of s..s+n. */
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

static bool parse_2(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

/* YYYY-MM-DDTHH:MM:SS[.fraction]Z as the reference writes UTC times; the
 * fraction is dropped. */
static bool parse_time(const char *s, size_t n, int64_t *out)
{
    int y1, y2, mo, d, h, mi, se;
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
        return false;
    if (!parse_2(s, &y1) || !parse_2(s + 2, &y2) || !parse_2(s + 5, &mo) || !parse_2(s + 8, &d) ||
        !parse_2(s + 11, &h) || !parse_2(s + 14, &mi) || !parse_2(s + 17, &se))
        return false;
    size_t i = 19;
    if (i < n - 1) {
        if (s[i] != '.' || i + 1 == n - 1)
            return false;
        for (i++; i < n - 1; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    struct tm tm = {0};
    tm.tm_year = y1 * 100 + y2 - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (tm.tm_mday != d) /* e.g. 31 February */
        return false;
    *out = (int64_t)t;
    return true;
}

static bool key_value(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    size_t k = strlen(key);
    if (n < k + 1 || memcmp(s, key, k) != 0 || s[k] != '=')
        return false;
    *v = s + k + 1;
    *vn = n - k - 1;
    return true;
}

static sx_status parse_set(const char *s, size_t n, const char *key, sx_xftp_hset *h)
{
    const char *v;
    size_t vn;
    if (!key_value(s, n, key, &v, &vn))
        return SX_E_PROTOCOL;
    size_t i = 0;
    while (i < vn) {
        size_t j = i;
        while (j < vn && v[j] != ',')
            j++;
        int64_t x;
        if (!parse_int(v + i, j - i, &x))
            return SX_E_PROTOCOL;
        SX_TRY(sx_xftp_hset_add(h, (uint64_t)x));
        if (j < vn && j + 1 == vn)
            return SX_E_PROTOCOL; /* trailing comma */
        i = j + 1;
    }
    return SX_OK;
}

static sx_status parse_counter(lines *ls, const char *key, int64_t *out)
{
    const char *s, *v;
    size_t n, vn;
    if (!next_line(ls, &s, &n) || !key_value(s, n, key, &v, &vn) || !parse_int(v, vn, out))
        return SX_E_PROTOCOL;
    return SX_OK;
}

static sx_status parse_all(lines *ls, sx_xftp_stats_data *d)
{
    const char *s, *v;
    size_t n, vn;
    if (!next_line(ls, &s, &n) || !key_value(s, n, "fromTime", &v, &vn) || !parse_time(v, vn, &d->from_time))
        return SX_E_PROTOCOL;
    bool have = next_line(ls, &s, &n);
    for (size_t i = 0; i < sizeof head_keys / sizeof head_keys[0]; i++) {
        const char *key = stat_key[head_keys[i].k];
        if (!have)
            return SX_E_PROTOCOL;
        if (!key_value(s, n, key, &v, &vn)) {
            if (!head_keys[i].optional)
                return SX_E_PROTOCOL;
            continue; /* same line, next key */
        }
        if (!parse_int(v, vn, &d->c[head_keys[i].k]))
            return SX_E_PROTOCOL;
        have = next_line(ls, &s, &n);
    }
    if (!have || n != strlen("filesDownloaded:") || !has_prefix(s, n, "filesDownloaded:"))
        return SX_E_PROTOCOL;
    if (!next_line(ls, &s, &n))
        return SX_E_PROTOCOL;
    SX_TRY(parse_set(s, n, "dayHashes", &d->day));
    if (!next_line(ls, &s, &n))
        return SX_E_PROTOCOL;
    SX_TRY(parse_set(s, n, "weekHashes", &d->week));
    if (!next_line(ls, &s, &n))
        return SX_E_PROTOCOL;
    SX_TRY(parse_set(s, n, "monthHashes", &d->month));
    SX_TRY(parse_counter(ls, "fileDownloads", &d->c[SX_XFTP_STAT_FILE_DOWNLOADS]));
    SX_TRY(parse_counter(ls, "fileDownloadAcks", &d->c[SX_XFTP_STAT_FILE_DOWNLOAD_ACKS]));
    if (ls->p != ls->end) {
        ls->no++;
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

sx_status sx_xftp_stats_parse(const char *text, size_t len, sx_xftp_stats_data *d, size_t *line)
{
    SX_ENSURE(d && (text || len == 0), SX_E_USAGE);
    memset(d, 0, sizeof *d);
    lines ls = {text, text + len, 0};
    sx_status st = parse_all(&ls, d);
    if (line)
        *line = st == SX_OK ? 0 : ls.no;
    if (st != SX_OK)
        sx_xftp_stats_data_cleanup(d);
    return st;
}

/* ---- live statistics ---- */

void sx_xftp_stats_init(sx_xftp_stats *s, int64_t now)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->d.from_time = now;
}

void sx_xftp_stats_cleanup(sx_xftp_stats *s)
{
    sx_xftp_stats_data_cleanup(&s->d);
    pthread_mutex_destroy(&s->mu);
}

void sx_xftp_stats_add(sx_xftp_stats *s, sx_xftp_stat k, int64_t n)
{
    __atomic_fetch_add(&s->d.c[k], n, __ATOMIC_RELAXED);
}

int64_t sx_xftp_stats_get(sx_xftp_stats *s, sx_xftp_stat k)
{
    return __atomic_load_n(&s->d.c[k], __ATOMIC_RELAXED);
}

/* 64-bit FNV-1a: any fixed hash serves, the sets only count distinct ids. */
static uint64_t id_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void sx_xftp_stats_downloaded(sx_xftp_stats *s, const uint8_t *sender_id, size_t len)
{
    uint64_t h = id_hash(sender_id, len);
    pthread_mutex_lock(&s->mu);
    /* out of memory: this download is not counted in the later periods */
    sx_status st = sx_xftp_hset_add(&s->d.day, h);
    if (st == SX_OK)
        st = sx_xftp_hset_add(&s->d.week, h);
    if (st == SX_OK)
        st = sx_xftp_hset_add(&s->d.month, h);
    pthread_mutex_unlock(&s->mu);
}

sx_status sx_xftp_stats_snapshot(sx_xftp_stats *s, sx_xftp_stats_data *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    out->from_time = s->d.from_time;
    for (int k = 0; k < SX_XFTP_STAT_COUNT; k++)
        out->c[k] = __atomic_load_n(&s->d.c[k], __ATOMIC_RELAXED);
    sx_status st = hset_copy(&s->d.day, &out->day);
    if (st == SX_OK)
        st = hset_copy(&s->d.week, &out->week);
    if (st == SX_OK)
        st = hset_copy(&s->d.month, &out->month);
    pthread_mutex_unlock(&s->mu);
    if (st != SX_OK)
        sx_xftp_stats_data_cleanup(out);
    return st;
}

void sx_xftp_stats_restore(sx_xftp_stats *s, sx_xftp_stats_data *d)
{
    pthread_mutex_lock(&s->mu);
    sx_xftp_stats_data_cleanup(&s->d);
    s->d = *d;
    memset(&d->day, 0, sizeof d->day);
    memset(&d->week, 0, sizeof d->week);
    memset(&d->month, 0, sizeof d->month);
    pthread_mutex_unlock(&s->mu);
}

sx_status sx_xftp_stats_daily_line(sx_xftp_stats *s, int64_t now, char *out, size_t cap)
{
    SX_ENSURE(s && out, SX_E_USAGE);
    struct tm tm;
    time_t tt = (time_t)now;
    if (!gmtime_r(&tt, &tm))
        return SX_E_USAGE;
    bool monday = tm.tm_wday == 1, first = tm.tm_mday == 1;
    /* Longest line: 12 numbers of 20 characters, a date, 12 commas. */
    SX_ENSURE(cap >= 300, SX_E_LIMIT);
    int64_t v[SX_XFTP_STAT_COUNT];
    for (int k = 0; k < SX_XFTP_STAT_COUNT; k++)
        v[k] = k == SX_XFTP_STAT_FILES_COUNT || k == SX_XFTP_STAT_FILES_SIZE
                   ? __atomic_load_n(&s->d.c[k], __ATOMIC_RELAXED)
                   : __atomic_exchange_n(&s->d.c[k], 0, __ATOMIC_RELAXED);
    char date[32], wk[24] = "", mo[24] = "";
    pthread_mutex_lock(&s->mu);
    int64_t from = s->d.from_time;
    s->d.from_time = now;
    size_t day = s->d.day.n;
    sx_xftp_hset_clear(&s->d.day);
    if (monday) {
        snprintf(wk, sizeof wk, "%zu", s->d.week.n);
        sx_xftp_hset_clear(&s->d.week);
    }
    if (first) {
        snprintf(mo, sizeof mo, "%zu", s->d.month.n);
        sx_xftp_hset_clear(&s->d.month);
    }
    pthread_mutex_unlock(&s->mu);
    format_time(from, date, sizeof date, true);
    int n = snprintf(out, cap,
                     "%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%zu,%s,%s,%" PRId64 ",%" PRId64 ",%" PRId64
                     ",%" PRId64 ",%" PRId64 "\n",
                     date, v[SX_XFTP_STAT_FILES_CREATED], v[SX_XFTP_STAT_FILE_RECIPIENTS],
                     v[SX_XFTP_STAT_FILES_UPLOADED], v[SX_XFTP_STAT_FILES_DELETED], day, wk, mo,
                     v[SX_XFTP_STAT_FILE_DOWNLOADS], v[SX_XFTP_STAT_FILE_DOWNLOAD_ACKS],
                     v[SX_XFTP_STAT_FILES_COUNT], v[SX_XFTP_STAT_FILES_SIZE], v[SX_XFTP_STAT_FILES_EXPIRED]);
    return n < 0 || (size_t)n >= cap ? SX_E_INTERNAL : SX_OK;
}

/* ---- files ---- */

sx_status sx_xftp_stats_save(sx_xftp_stats *s, const char *path)
{
    SX_ENSURE(s && path, SX_E_USAGE);
    sx_xftp_stats_data d;
    SX_TRY(sx_xftp_stats_snapshot(s, &d));
    char *text = NULL;
    size_t len = 0;
    sx_status st = sx_xftp_stats_encode(&d, &text, &len);
    sx_xftp_stats_data_cleanup(&d);
    if (st != SX_OK)
        return st;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(text);
        return SX_E_NOMEM;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    st = SX_E_IO;
    FILE *f = fopen(tmp, "wb");
    if (f) {
        bool ok = fwrite(text, 1, len, f) == len;
        ok = fflush(f) == 0 && ok;
        ok = fsync(fileno(f)) == 0 && ok;
        ok = fclose(f) == 0 && ok;
        if (ok && rename(tmp, path) == 0)
            st = SX_OK;
        else
            unlink(tmp);
    }
    free(tmp);
    free(text);
    return st;
}

sx_status sx_xftp_stats_load(const char *path, sx_xftp_stats_data *d, size_t *line)
{
    SX_ENSURE(path && d, SX_E_USAGE);
    memset(d, 0, sizeof *d);
    if (line)
        *line = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return SX_E_IO;
    sbuf b = {0};
    char buf[65536];
    size_t n;
    sx_status st = SX_OK;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (b.len + n > SX_XFTP_STATS_FILE_MAX) {
            st = SX_E_IO;
            break;
        }
        sb_put(&b, buf, n);
    }
    if (st == SX_OK && ferror(f))
        st = SX_E_IO;
    fclose(f);
    if (st == SX_OK && b.failed)
        st = SX_E_NOMEM;
    if (st == SX_OK)
        st = sx_xftp_stats_parse(b.p ? b.p : "", b.len, d, line);
    free(b.p);
    return st;
}
