/* NTF router statistics (see stats.h). */
#define _GNU_SOURCE /* pthread_setname_np */
#include "ntf_router/stats.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/reader.h"
#include "core/writer.h"

#define C(k) offsetof(sx_ntf_stats_data, c[SX_NTF_STAT_##k])
#define OPT SX_KIT_STAT_OPTIONAL
#define KEEP SX_KIT_STAT_KEEP
#define FILE_MAX ((size_t)64 << 20)

#define INT(key, k, fl)                   \
    {                                     \
        key, SX_KIT_STAT_INT, fl, C(k), 0 \
    }

/* ntf-server-stats.log line by line, less the four per-router lines that
 * follow ntfFailed (see own_keys). ntfReceivedAuth is not in the daily
 * line, nor restarted by it, as in the reference. */
static const sx_kit_stat_field fields[] = {
    {"fromTime", SX_KIT_STAT_TIME, 0, offsetof(sx_ntf_stats_data, from_time), 0},
    INT("tknCreated", TKN_CREATED, 0),
    INT("tknVerified", TKN_VERIFIED, 0),
    INT("tknDeleted", TKN_DELETED, 0),
    INT("tknReplaced", TKN_REPLACED, OPT),
    INT("subCreated", SUB_CREATED, 0),
    INT("subDeleted", SUB_DELETED, 0),
    INT("ntfReceived", NTF_RECEIVED, 0),
    INT("ntfReceivedAuth", NTF_RECEIVED_AUTH, OPT | KEEP),
    INT("ntfDelivered", NTF_DELIVERED, 0),
    INT("ntfFailed", NTF_FAILED, OPT),
    INT("ntfCronDelivered", NTF_CRON_DELIVERED, OPT),
    INT("ntfCronFailed", NTF_CRON_FAILED, OPT),
    INT("ntfVrfQueued", NTF_VRF_QUEUED, OPT),
    INT("ntfVrfDelivered", NTF_VRF_DELIVERED, OPT),
    INT("ntfVrfFailed", NTF_VRF_FAILED, OPT),
    INT("ntfVrfInvalidTkn", NTF_VRF_INVALID_TKN, OPT),
    {"activeTokens", SX_KIT_STAT_PERIOD, 0, offsetof(sx_ntf_stats_data, active_tokens), 0},
    {"activeSubs", SX_KIT_STAT_PERIOD, 0, offsetof(sx_ntf_stats_data, active_subs), 0},
};

#define V(k)                   \
    {                          \
        SX_KIT_COL_VALUE, C(k) \
    }
#define TKNS offsetof(sx_ntf_stats_data, active_tokens)
#define SUBS offsetof(sx_ntf_stats_data, active_subs)

/* ntf-server-stats.daily.log, column by column. */
static const sx_kit_stat_col cols[] = {
    {SX_KIT_COL_DATE, offsetof(sx_ntf_stats_data, from_time)},
    V(TKN_CREATED),
    V(TKN_VERIFIED),
    V(TKN_DELETED),
    V(SUB_CREATED),
    V(SUB_DELETED),
    V(NTF_RECEIVED),
    V(NTF_DELIVERED),
    {SX_KIT_COL_DAY, TKNS},
    {SX_KIT_COL_WEEK, TKNS},
    {SX_KIT_COL_MONTH, TKNS},
    {SX_KIT_COL_DAY, SUBS},
    {SX_KIT_COL_WEEK, SUBS},
    {SX_KIT_COL_MONTH, SUBS},
    V(TKN_REPLACED),
    V(NTF_FAILED),
    V(NTF_CRON_DELIVERED),
    V(NTF_CRON_FAILED),
    V(NTF_VRF_QUEUED),
    V(NTF_VRF_DELIVERED),
    V(NTF_VRF_FAILED),
    V(NTF_VRF_INVALID_TKN),
};

static const sx_kit_stats_spec spec = {
    .fields = fields,
    .n_fields = sizeof fields / sizeof fields[0],
    .cols = cols,
    .n_cols = sizeof cols / sizeof cols[0],
    .file_max = FILE_MAX,
};

/* The per-router lines, written after the line of AFTER. */
static const char *const own_keys[SX_NTF_STATS_OWN] = {"ntfReceivedOwn=", "ntfReceivedAuthOwn=", "ntfDeliveredOwn=",
                                                       "ntfFailedOwn="};
#define AFTER "ntfFailed="

const sx_kit_stats_spec *sx_ntf_stats_spec(void)
{
    return &spec;
}

const char *sx_ntf_stat_name(sx_ntf_stat k)
{
    for (size_t i = 0; i < spec.n_fields; i++)
        if (fields[i].kind == SX_KIT_STAT_INT && fields[i].off == C(TKN_CREATED) + (size_t)k * sizeof(int64_t))
            return fields[i].key;
    return "";
}

void sx_ntf_stats_data_cleanup(sx_ntf_stats_data *d)
{
    if (d)
        sx_kit_stats_cleanup(&spec, d);
}

static bool starts(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && memcmp(s, p, k) == 0;
}

/* "host n" items joined by commas (the reference's list of pairs), or
 * nothing. A host is printable ASCII without spaces or commas (the value
 * is kept as a C string and written back as it was read). */
static bool own_valid(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t h = i;
        while (i < n && (unsigned char)v[i] > ' ' && (unsigned char)v[i] < 0x7f && v[i] != ',')
            i++;
        if (i == h || i == n || v[i] != ' ')
            return false;
        size_t d = ++i;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++;
        if (i == d || i - d > 18)
            return false;
        if (i < n && (v[i] != ',' || ++i == n))
            return false;
    }
    return true;
}

sx_status sx_ntf_stats_encode(const sx_ntf_stats_data *d, char **out, size_t *out_len)
{
    SX_ENSURE(d && out, SX_E_USAGE);
    char *base = NULL;
    size_t blen = 0;
    SX_TRY(sx_kit_stats_encode(&spec, d, &base, &blen));
    size_t extra = 0;
    for (size_t k = 0; k < SX_NTF_STATS_OWN; k++)
        extra += strlen(own_keys[k]) + strnlen(d->own[k], SX_NTF_STATS_OWN_MAX - 1) + 1;
    char *o = malloc(blen + extra + 1);
    if (!o) {
        free(base);
        return SX_E_NOMEM;
    }
    const char *at = strstr(base, "\n" AFTER);
    size_t cut = at ? (size_t)(strchr(at + 1, '\n') - base) + 1 : blen;
    size_t n = 0;
    memcpy(o, base, cut);
    n = cut;
    for (size_t k = 0; k < SX_NTF_STATS_OWN; k++) {
        size_t kl = strlen(own_keys[k]), vl = strnlen(d->own[k], SX_NTF_STATS_OWN_MAX - 1);
        memcpy(o + n, own_keys[k], kl);
        memcpy(o + n + kl, d->own[k], vl);
        n += kl + vl;
        o[n++] = '\n';
    }
    memcpy(o + n, base + cut, blen - cut);
    n += blen - cut;
    o[n] = 0;
    free(base);
    *out = o;
    if (out_len)
        *out_len = n;
    return SX_OK;
}

sx_status sx_ntf_stats_parse(const char *text, size_t len, sx_ntf_stats_data *d, size_t *line)
{
    SX_ENSURE(text && d, SX_E_USAGE);
    memset(d->own, 0, sizeof d->own);
    if (line)
        *line = 0;
    if (len > FILE_MAX)
        return SX_E_LIMIT;
    /* the text less the per-router lines, which are kept aside; a line
     * number in the reduced text is mapped back through map */
    size_t *map = calloc(len + 2, sizeof *map);
    if (!map)
        return SX_E_NOMEM;
    sx_writer rest;
    sx_writer_init_dynamic(&rest, len + 1);
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)text, len);
    size_t in_line = 0, out_line = 0, next_own = 0;
    sx_status st = SX_OK;
    while (st == SX_OK && sx_reader_remaining(&r) > 0) {
        sx_slice avail = sx_reader_rest(&r);
        const uint8_t *nlp = memchr(avail.ptr, '\n', avail.len);
        size_t n = nlp ? (size_t)(nlp - avail.ptr) : avail.len, nl = nlp ? 1 : 0;
        sx_slice ln;
        if (!sx_read_bytes(&r, n + nl, &ln)) {
            st = SX_E_PROTOCOL;
            break;
        }
        in_line++;
        const char *l = (const char *)ln.ptr;
        size_t k = next_own;
        while (k < SX_NTF_STATS_OWN && !starts(l, n, own_keys[k]))
            k++;
        if (k < SX_NTF_STATS_OWN) {
            size_t kl = strlen(own_keys[k]), vl = n - kl;
            if (vl && l[n - 1] == '\r')
                vl--;
            sx_reader v;
            sx_reader_init(&v, ln.ptr + kl, vl);
            if (!own_valid(l + kl, vl) || vl >= SX_NTF_STATS_OWN_MAX || !sx_read_copy(&v, d->own[k], vl)) {
                st = SX_E_PROTOCOL;
                if (line)
                    *line = in_line;
                break;
            }
            next_own = k + 1;
        } else {
            (void)sx_write_slice(&rest, ln);
            map[++out_line] = in_line;
        }
    }
    (void)sx_write_u8(&rest, 0);
    if (st == SX_OK)
        st = sx_writer_status(&rest);
    if (st != SX_OK)
        memset(d, 0, sizeof *d); /* as the kit leaves a text that does not parse */
    if (st == SX_OK) {
        size_t bad = 0;
        sx_slice t = sx_writer_slice(&rest);
        st = sx_kit_stats_parse(&spec, (const char *)t.ptr, t.len - 1, d, &bad);
        if (line && st != SX_OK)
            *line = bad <= out_line ? map[bad] : in_line + 1;
    }
    if (st != SX_OK)
        memset(d->own, 0, sizeof d->own);
    sx_writer_cleanup(&rest);
    free(map);
    return st;
}

/* ---- own SMP routers ---- */

bool sx_ntf_own_domain(const char *domains, const char *host)
{
    if (!domains || !host)
        return false;
    size_t hl = strlen(host);
    const char *p = domains;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t dl = strcspn(p, " \t");
        if (dl && (dl == hl ? memcmp(p, host, hl) == 0
                            : hl > dl && host[hl - dl - 1] == '.' && memcmp(host + hl - dl, p, dl) == 0))
            return true;
        p += dl;
    }
    return false;
}

bool sx_ntf_server_host(const char *server, char *out, size_t cap)
{
    if (!server || !out || !cap)
        return false;
    const char *p = strstr(server, "://");
    p = p ? p + 3 : server;
    const char *at = strchr(p, '@');
    if (at)
        p = at + 1;
    size_t n = *p == '[' ? strcspn(p, "]") + 1 : strcspn(p, ",:/");
    if (*p == '[' && p[n - 1] != ']')
        return false;
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

bool sx_ntf_own_next(const char **p, const char **host, size_t *host_len, int64_t *v)
{
    const char *s = *p;
    size_t l = strcspn(s, " ,");
    if (!l || s[l] != ' ')
        return false;
    int64_t n = 0;
    size_t i = l + 1, d = i;
    while (s[i] >= '0' && s[i] <= '9' && i - d < 18)
        n = n * 10 + (s[i++] - '0');
    if (i == d || (s[i] && s[i] != ','))
        return false;
    *host = s;
    *host_len = l;
    *v = n;
    *p = s[i] ? s + i + 1 : s + i;
    return true;
}

static bool put_item(char *o, size_t cap, size_t *n, const char *h, size_t hl, int64_t v)
{
    int k = snprintf(o + *n, cap - *n, "%s%.*s %lld", *n ? "," : "", (int)hl, h, (long long)v);
    if (k < 0 || (size_t)k >= cap - *n)
        return false;
    *n += (size_t)k;
    return true;
}

/* A host as a per-router line holds it (see own_valid). */
static bool host_ok(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f || h[i] == ',')
            return false;
    return n > 0;
}

bool sx_ntf_own_line_inc(char *line, size_t cap, const char *host)
{
    size_t hl = host ? strlen(host) : 0, len = line ? strnlen(line, cap) : cap;
    if (!hl || len >= cap || !host_ok(host, hl) || !own_valid(line, len))
        return false;
    char out[SX_NTF_STATS_OWN_MAX];
    size_t n = 0, ocap = cap < sizeof out ? cap : sizeof out;
    bool done = false;
    const char *p = line;
    const char *h;
    size_t l;
    int64_t v;
    while (sx_ntf_own_next(&p, &h, &l, &v)) {
        int c = memcmp(h, host, l < hl ? l : hl);
        if (c == 0)
            c = l < hl ? -1 : l > hl ? 1
                                     : 0;
        if (!done && c > 0) {
            if (!put_item(out, ocap, &n, host, hl, 1))
                return false;
            done = true;
        } else if (c == 0) {
            if (v >= INT64_C(999999999999999999)) /* the grammar's 18 digits */
                return false;
            v++;
            done = true;
        }
        if (!put_item(out, ocap, &n, h, l, v))
            return false;
    }
    if (!done && !put_item(out, ocap, &n, host, hl, 1))
        return false;
    memcpy(line, out, n + 1);
    return true;
}

sx_status sx_ntf_stats_set_own_domains(sx_ntf_stats *s, const char *domains)
{
    SX_ENSURE(s, SX_E_USAGE);
    free(s->own_domains);
    s->own_domains = NULL;
    if (domains && domains[strspn(domains, " \t")] && !(s->own_domains = strdup(domains)))
        return SX_E_NOMEM;
    return SX_OK;
}

bool sx_ntf_stats_own_server(const sx_ntf_stats *s, const char *server, char *out, size_t cap)
{
    return s && s->own_domains && sx_ntf_server_host(server, out, cap) && sx_ntf_own_domain(s->own_domains, out);
}

void sx_ntf_stats_inc_own(sx_ntf_stats *s, sx_ntf_own_stat k, const char *host)
{
    if (!s || !host || !*host || (unsigned)k >= SX_NTF_STATS_OWN)
        return;
    pthread_mutex_lock(&s->mu);
    bool ok = sx_ntf_own_line_inc(s->d.own[k], SX_NTF_STATS_OWN_MAX, host);
    pthread_mutex_unlock(&s->mu);
    if (!ok)
        fprintf(stderr, "%s%s: not counted (the line is full or the host is not valid)\n", own_keys[k], host);
}

void sx_ntf_stats_own_line(sx_ntf_stats *s, sx_ntf_own_stat k, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = 0;
    if (!s || (unsigned)k >= SX_NTF_STATS_OWN)
        return;
    pthread_mutex_lock(&s->mu);
    snprintf(out, cap, "%s", s->d.own[k]);
    pthread_mutex_unlock(&s->mu);
}

/* ---- live statistics ---- */

void sx_ntf_stats_init(sx_ntf_stats *s, int64_t now)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->d.from_time = now;
}

void sx_ntf_stats_destroy(sx_ntf_stats *s)
{
    if (!s)
        return;
    sx_ntf_stats_data_cleanup(&s->d);
    free(s->own_domains);
    s->own_domains = NULL;
    pthread_mutex_destroy(&s->mu);
}

void sx_ntf_stats_inc(sx_ntf_stats *s, sx_ntf_stat k)
{
    if (s && k < SX_NTF_STAT_COUNT)
        sx_kit_stat_add(&s->d.c[k], 1);
}

uint64_t sx_ntf_stats_get(const sx_ntf_stats *s, sx_ntf_stat k)
{
    return s && k < SX_NTF_STAT_COUNT ? (uint64_t)sx_kit_stat_get(&s->d.c[k]) : 0;
}

static void period_add(sx_ntf_stats *s, sx_kit_period *p, const uint8_t *id, size_t len)
{
    uint64_t h = sx_kit_period_hash(id, len);
    pthread_mutex_lock(&s->mu);
    if (sx_kit_period_add(p, h) != SX_OK) {
        /* out of memory: the id is not counted */
    }
    pthread_mutex_unlock(&s->mu);
}

void sx_ntf_stats_active_token(sx_ntf_stats *s, const uint8_t *id, size_t len)
{
    if (s)
        period_add(s, &s->d.active_tokens, id, len);
}

void sx_ntf_stats_active_sub(sx_ntf_stats *s, const uint8_t *id, size_t len)
{
    if (s)
        period_add(s, &s->d.active_subs, id, len);
}

void sx_ntf_stats_daily_active(sx_ntf_stats *s, size_t *tokens, size_t *subs)
{
    pthread_mutex_lock(&s->mu);
    *tokens = s->d.active_tokens.day.n;
    *subs = s->d.active_subs.day.n;
    pthread_mutex_unlock(&s->mu);
}

int64_t sx_ntf_stats_from_time(sx_ntf_stats *s)
{
    pthread_mutex_lock(&s->mu);
    int64_t t = s->d.from_time;
    pthread_mutex_unlock(&s->mu);
    return t;
}

static sx_status write_file(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return SX_E_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return SX_E_IO;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    bool ok = done == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        (void)unlink(tmp);
        return SX_E_IO;
    }
    return SX_OK;
}

sx_status sx_ntf_stats_save(sx_ntf_stats *s, const char *path)
{
    SX_ENSURE(s && path, SX_E_USAGE);
    char *text = NULL;
    size_t len = 0;
    pthread_mutex_lock(&s->mu);
    sx_status st = sx_ntf_stats_encode(&s->d, &text, &len);
    pthread_mutex_unlock(&s->mu);
    if (st == SX_OK)
        st = write_file(path, text, len);
    free(text);
    return st;
}

sx_status sx_ntf_stats_load(sx_ntf_stats *s, const char *path, size_t *line)
{
    SX_ENSURE(s && path, SX_E_USAGE);
    if (line)
        *line = 0;
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_kit_stats_read_file(path, FILE_MAX, &text, &len));
    sx_ntf_stats_data *d = calloc(1, sizeof *d);
    if (!d) {
        free(text);
        return SX_E_NOMEM;
    }
    sx_status st = sx_ntf_stats_parse(text, len, d, line);
    free(text);
    if (st == SX_OK) {
        pthread_mutex_lock(&s->mu);
        sx_kit_stats_move(&spec, &s->d, d);
        memcpy(s->d.own, d->own, sizeof d->own);
        pthread_mutex_unlock(&s->mu);
    }
    sx_ntf_stats_data_cleanup(d);
    free(d);
    return st;
}

sx_status sx_ntf_stats_daily_line(sx_ntf_stats *s, int64_t now, char *out, size_t cap)
{
    SX_ENSURE(s && out, SX_E_USAGE);
    pthread_mutex_lock(&s->mu);
    sx_status st = sx_kit_stats_daily_line(&spec, &s->d, now, out, cap);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- the daily line's thread ---- */

struct sx_ntf_stats_log {
    sx_ntf_stats *s;
    sx_ntf_stats_log_opts o;
    char *path;
    int64_t every, next; /* the daily line; next 0: none */
    int64_t next_tick;   /* 0: none */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void append_daily(sx_ntf_stats_log *l, int64_t now)
{
    char line[1024];
    sx_status st = sx_ntf_stats_daily_line(l->s, now, line, sizeof line);
    if (st == SX_OK)
        st = sx_kit_stats_append_line(l->path, line);
    if (st != SX_OK)
        fprintf(stderr, "cannot write server stats to %s: %s\n", l->path, sx_status_str(st));
}

static void *log_main(void *arg)
{
    sx_ntf_stats_log *l = arg;
    pthread_setname_np(pthread_self(), "ntf-stats");
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        int64_t now = (int64_t)time(NULL);
        bool daily = l->next && now >= l->next, tick = l->next_tick && now >= l->next_tick;
        if (daily || tick) {
            if (daily)
                l->next = now + l->every;
            if (tick)
                l->next_tick = now + l->o.tick_interval;
            pthread_mutex_unlock(&l->mu);
            if (daily)
                append_daily(l, now);
            if (tick)
                l->o.tick(l->o.tick_arg);
            pthread_mutex_lock(&l->mu);
            continue;
        }
        int64_t wake = l->next;
        if (l->next_tick && (!wake || l->next_tick < wake))
            wake = l->next_tick;
        struct timespec until = {.tv_sec = (time_t)(wake ? wake : now + 3600)};
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

sx_status sx_ntf_stats_log_start(sx_ntf_stats *s, const sx_ntf_stats_log_opts *o, sx_ntf_stats_log **out)
{
    SX_ENSURE(s && o && out, SX_E_USAGE);
    sx_ntf_stats_log *l = calloc(1, sizeof *l);
    if (!l || (o->daily_path && !(l->path = strdup(o->daily_path)))) {
        free(l);
        return SX_E_NOMEM;
    }
    l->s = s;
    l->o = *o;
    int64_t now = (int64_t)time(NULL);
    if (!o->daily_path) {
        l->next = 0;
    } else if (o->daily_interval > 0) {
        l->every = o->daily_interval;
        l->next = now + o->daily_interval;
    } else {
        l->every = 86400;
        int64_t delay = o->start_time - now % 86400;
        l->next = now + (delay <= 0 ? delay + 86400 : delay);
    }
    if (o->tick && o->tick_interval > 0)
        l->next_tick = now + o->tick_interval;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_REALTIME);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, log_main, l) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        free(l->path);
        free(l);
        return SX_E_IO;
    }
    *out = l;
    return SX_OK;
}

void sx_ntf_stats_log_stop(sx_ntf_stats_log *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}
