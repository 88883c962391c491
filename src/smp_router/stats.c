/* SMP router statistics: the counters, their keys in smp-server-stats.log
 * and the daily line's columns in the reference's order, the older forms
 * of the file rewritten into the current one, the sharded sets of active
 * queues and the ACK-time buckets. The router kit (src/kit/stats.h)
 * encodes, parses and formats. */
#include "smp_router/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/writer.h"

#define C(k) offsetof(sx_smp_stats_data, c[SX_SMP_STAT_##k])
#define FROM offsetof(sx_smp_stats_data, from_time)
#define ACTIVE offsetof(sx_smp_stats_data, active)
#define ACTIVE_NTF offsetof(sx_smp_stats_data, active_ntf)
#define ENT(f) offsetof(sx_smp_stats_data, ent.f)
#define OPT SX_KIT_STAT_OPTIONAL
#define KEEP SX_KIT_STAT_KEEP

#define INT(key, k, fl)                   \
    {                                     \
        key, SX_KIT_STAT_INT, fl, C(k), 0 \
    }
#define HEAD(key, n)                       \
    {                                      \
        key, SX_KIT_STAT_HEADER, OPT, 0, n \
    }
#define PROXY(P)                                                                                                    \
    INT("requests", P##_REQUESTS, 0), INT("successes", P##_SUCCESSES, 0), INT("errorsConnect", P##_ERR_CONNECT, 0), \
        INT("errorsCompat", P##_ERR_COMPAT, 0), INT("errorsOther", P##_ERR_OTHER, 0)
/* "assocUpdatedt" is the reference's spelling. Not restarted by the daily
 * line: the reference reports them without resetting. */
#define SERVICE(P)                                                                                   \
    INT("assocNew", P##_ASSOC_NEW, KEEP), INT("assocDuplicate", P##_ASSOC_DUPLICATE, KEEP),          \
        INT("assocUpdatedt", P##_ASSOC_UPDATED, KEEP), INT("assocRemoved", P##_ASSOC_REMOVED, KEEP), \
        INT("subCount", P##_SUB_COUNT, KEEP), INT("subDuplicate", P##_SUB_DUPLICATE, KEEP),          \
        INT("subQueues", P##_SUB_QUEUES, KEEP), INT("subEnd", P##_SUB_END, KEEP)

/* smp-server-stats.log, line by line (the older forms are rewritten into
 * these before parsing, see normalize). ntfNewCreated and msgSentBlock are
 * neither in the daily line nor restarted by it; qCount is shown, not
 * restarted; qBlocked is restarted without being shown. */
static const sx_kit_stat_field fields[] = {
    {"fromTime", SX_KIT_STAT_TIME, 0, FROM, 0},
    INT("qCreated", Q_CREATED, 0),
    INT("qSecured", Q_SECURED, 0),
    INT("qDeletedAll", Q_DELETED_ALL, 0),
    INT("qDeletedNew", Q_DELETED_NEW, 0),
    INT("qDeletedSecured", Q_DELETED_SECURED, 0),
    INT("qDeletedAllB", Q_DELETED_ALL_B, OPT),
    INT("qBlocked", Q_BLOCKED, OPT),
    INT("qCount", Q_COUNT, OPT | KEEP),
    INT("qSub", Q_SUB, OPT),
    INT("qSubAllB", Q_SUB_ALL_B, OPT),
    INT("qSubAuth", Q_SUB_AUTH, OPT),
    INT("qSubDuplicate", Q_SUB_DUPLICATE, OPT),
    INT("qSubProhibited", Q_SUB_PROHIBITED, OPT),
    INT("qSubEnd", Q_SUB_END, OPT),
    INT("qSubEndB", Q_SUB_END_B, OPT),
    INT("ntfCreated", NTF_CREATED, OPT),
    INT("ntfNewCreated", NTF_NEW_CREATED, OPT | KEEP),
    INT("ntfDeleted", NTF_DELETED, OPT),
    INT("ntfDeletedB", NTF_DELETED_B, OPT),
    INT("ntfSub", NTF_SUB, OPT),
    INT("ntfSubB", NTF_SUB_B, OPT),
    INT("ntfSubAuth", NTF_SUB_AUTH, OPT),
    INT("ntfSubDuplicate", NTF_SUB_DUPLICATE, OPT),
    INT("msgSent", MSG_SENT, 0),
    INT("msgSentAuth", MSG_SENT_AUTH, OPT),
    INT("msgSentQuota", MSG_SENT_QUOTA, OPT),
    INT("msgSentLarge", MSG_SENT_LARGE, OPT),
    INT("msgSentBlock", MSG_SENT_BLOCK, OPT | KEEP),
    INT("msgRecv", MSG_RECV, 0),
    INT("msgRecvGet", MSG_RECV_GET, OPT),
    INT("msgGet", MSG_GET, OPT),
    INT("msgGetNoMsg", MSG_GET_NO_MSG, OPT),
    INT("msgGetAuth", MSG_GET_AUTH, OPT),
    INT("msgGetDuplicate", MSG_GET_DUPLICATE, OPT),
    INT("msgGetProhibited", MSG_GET_PROHIBITED, OPT),
    INT("msgExpired", MSG_EXPIRED, OPT),
    INT("msgSentNtf", MSG_SENT_NTF, OPT),
    INT("msgRecvNtf", MSG_RECV_NTF, OPT),
    INT("msgNtfs", MSG_NTFS, OPT),
    INT("msgNtfsB", MSG_NTFS_B, OPT),
    INT("msgNtfNoSub", MSG_NTF_NO_SUB, OPT),
    INT("msgNtfLost", MSG_NTF_LOST, OPT),
    INT("msgNtfExpired", MSG_NTF_EXPIRED, OPT),
    {"activeQueues", SX_KIT_STAT_PERIOD, 0, ACTIVE, 0},
    {"activeQueuesNtf", SX_KIT_STAT_PERIOD, OPT, ACTIVE_NTF, 0},
    HEAD("pRelays", 5),
    PROXY(P_RELAYS),
    HEAD("pRelaysOwn", 5),
    PROXY(P_RELAYS_OWN),
    HEAD("pMsgFwds", 5),
    PROXY(P_MSG_FWDS),
    HEAD("pMsgFwdsOwn", 5),
    PROXY(P_MSG_FWDS_OWN),
    INT("pMsgFwdsRecv", P_MSG_FWDS_RECV, OPT),
    HEAD("rcvServices", 8),
    SERVICE(RCV_SRV),
    HEAD("ntfServices", 8),
    SERVICE(NTF_SRV),
};

#define V(k)                   \
    {                          \
        SX_KIT_COL_VALUE, C(k) \
    }
#define X(off)                \
    {                         \
        SX_KIT_COL_EXTRA, off \
    }
#define ZERO               \
    {                      \
        SX_KIT_COL_ZERO, 0 \
    }
#define PCOLS(P) V(P##_REQUESTS), V(P##_SUCCESSES), V(P##_ERR_CONNECT), V(P##_ERR_COMPAT), V(P##_ERR_OTHER)
#define SCOLS(P)                                                                                            \
    V(P##_ASSOC_NEW), V(P##_ASSOC_DUPLICATE), V(P##_ASSOC_UPDATED), V(P##_ASSOC_REMOVED), V(P##_SUB_COUNT), \
        V(P##_SUB_DUPLICATE), V(P##_SUB_QUEUES), V(P##_SUB_END)

/* smp-server-stats.daily.log, column by column. The zeros stand where the
 * reference keeps columns of counts it no longer makes (qSubNoMsg and the
 * subscribed queues per day, week and month). */
static const sx_kit_stat_col cols[] = {
    {SX_KIT_COL_DATE, FROM},
    V(Q_CREATED),
    V(Q_SECURED),
    V(Q_DELETED_ALL),
    V(MSG_SENT),
    V(MSG_RECV),
    {SX_KIT_COL_DAY, ACTIVE},
    {SX_KIT_COL_WEEK, ACTIVE},
    {SX_KIT_COL_MONTH, ACTIVE},
    V(MSG_SENT_NTF),
    V(MSG_RECV_NTF),
    {SX_KIT_COL_DAY, ACTIVE_NTF},
    {SX_KIT_COL_WEEK, ACTIVE_NTF},
    {SX_KIT_COL_MONTH, ACTIVE_NTF},
    V(Q_COUNT),
    X(C(MSG_COUNT)),
    V(MSG_EXPIRED),
    V(Q_DELETED_NEW),
    V(Q_DELETED_SECURED),
    PCOLS(P_RELAYS),
    PCOLS(P_RELAYS_OWN),
    PCOLS(P_MSG_FWDS),
    PCOLS(P_MSG_FWDS_OWN),
    V(P_MSG_FWDS_RECV),
    V(Q_SUB),
    V(Q_SUB_AUTH),
    V(Q_SUB_DUPLICATE),
    V(Q_SUB_PROHIBITED),
    V(MSG_SENT_AUTH),
    V(MSG_SENT_QUOTA),
    V(MSG_SENT_LARGE),
    V(MSG_NTFS),
    V(MSG_NTF_NO_SUB),
    V(MSG_NTF_LOST),
    ZERO,
    V(MSG_RECV_GET),
    V(MSG_GET),
    V(MSG_GET_NO_MSG),
    V(MSG_GET_AUTH),
    V(MSG_GET_DUPLICATE),
    V(MSG_GET_PROHIBITED),
    ZERO,
    ZERO,
    ZERO,
    X(ENT(queues)),
    V(NTF_CREATED),
    V(NTF_DELETED),
    V(NTF_SUB),
    V(NTF_SUB_AUTH),
    V(NTF_SUB_DUPLICATE),
    X(ENT(notifiers)),
    V(Q_DELETED_ALL_B),
    V(Q_SUB_ALL_B),
    V(Q_SUB_END),
    V(Q_SUB_END_B),
    V(NTF_DELETED_B),
    V(NTF_SUB_B),
    V(MSG_NTFS_B),
    V(MSG_NTF_EXPIRED),
    X(C(NTF_COUNT)),
    X(ENT(rcv_services)),
    X(ENT(ntf_services)),
    X(ENT(rcv_service_queues)),
    X(ENT(ntf_service_queues)),
    SCOLS(RCV_SRV),
    SCOLS(NTF_SRV),
};

static const sx_kit_stats_spec spec = {
    .fields = fields,
    .n_fields = sizeof fields / sizeof fields[0],
    .cols = cols,
    .n_cols = sizeof cols / sizeof cols[0],
    .file_max = SX_SMP_STATS_FILE_MAX,
};

const sx_kit_stats_spec *sx_smp_stats_spec(void)
{
    return &spec;
}

const char *sx_smp_stat_key(sx_smp_stat k)
{
    for (size_t i = 0; i < spec.n_fields; i++)
        if (fields[i].kind == SX_KIT_STAT_INT && fields[i].off == C(Q_CREATED) + (size_t)k * sizeof(int64_t))
            return fields[i].key;
    switch (k) {
    case SX_SMP_STAT_MSG_COUNT: return "msgCount";
    case SX_SMP_STAT_NTF_COUNT: return "ntfCount";
    case SX_SMP_STAT_RCV_SERVICES_SUB_MSG: return "rcvServicesSubMsg";
    case SX_SMP_STAT_RCV_SERVICES_SUB_DUPLICATE: return "rcvServicesSubDuplicate";
    default: return "";
    }
}

void sx_smp_stats_data_cleanup(sx_smp_stats_data *d)
{
    sx_kit_stats_cleanup(&spec, d);
}

sx_status sx_smp_stats_encode(const sx_smp_stats_data *d, char **out, size_t *out_len)
{
    SX_ENSURE(d && out, SX_E_USAGE);
    return sx_kit_stats_encode(&spec, d, out, out_len);
}

/* ---- the older forms of the file ---- */

static bool starts(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && memcmp(s, p, k) == 0;
}

/* "<key>=" and base64url ids joined by commas, as "<key>Hashes=" and the
 * ids' hashes (the reference hashed such ids when it read them). */
static bool put_id_set(sx_writer *w, const char *key, const char *v, size_t n)
{
    (void)sx_write_str(w, key);
    (void)sx_write_str(w, "Hashes=");
    size_t i = 0;
    bool first = true;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        uint8_t id[256];
        size_t idn = 0;
        if (j == i || sx_b64_decode(v + i, j - i, SX_B64_URL, id, sizeof id, &idn) != SX_OK)
            return false;
        char num[24];
        snprintf(num, sizeof num, "%s%" PRId64, first ? "" : ",", (int64_t)sx_kit_period_hash(id, idn));
        (void)sx_write_str(w, num);
        first = false;
        if (j + 1 == n)
            return false; /* a trailing comma */
        i = j + 1;
    }
    return true;
}

/* Rewrites the older forms the reference still reads into the current
 * ones (see sx_smp_stats_parse); other lines are kept. *out is
 * NUL-terminated. SX_E_PROTOCOL (a bad id set), SX_E_LIMIT, SX_E_NOMEM. */
static sx_status normalize(const char *text, size_t len, char **out, size_t *out_len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 2 * SX_SMP_STATS_FILE_MAX);
    size_t p = 0, skip = 0;
    bool ok = true;
    while (p < len && ok) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - p;
        const char *s = text + p;
        bool has_nl = nl != NULL;
        p = nl ? end + 1 : len;
        size_t body = n > 0 && s[n - 1] == '\r' ? n - 1 : n;
        if (skip > 0) {
            skip--;
            continue;
        }
        static const char *const legacy_sets[] = {"day", "week", "month"};
        bool done = false;
        if (starts(s, body, "qDeleted=")) {
            (void)sx_write_str(&w, "qDeletedAll=");
            (void)sx_write_bytes(&w, s + 9, body - 9);
            (void)sx_write_str(&w, "\nqDeletedNew=0\nqDeletedSecured=0");
            done = true;
        } else if (starts(s, body, "qSubNoMsg=")) {
            continue; /* no longer counted */
        } else if (body == strlen("subscribedQueues:") && starts(s, body, "subscribedQueues:")) {
            skip = 3; /* its three sets are dropped, as the reference does */
            continue;
        } else if (starts(s, body, "dayMsgQueues=")) {
            (void)sx_write_str(&w, "activeQueues:\ndayHashes=");
            (void)sx_write_bytes(&w, s + 13, body - 13);
            done = true;
        } else if (starts(s, body, "weekMsgQueues=")) {
            (void)sx_write_str(&w, "weekHashes=");
            (void)sx_write_bytes(&w, s + 14, body - 14);
            done = true;
        } else if (starts(s, body, "monthMsgQueues=")) {
            (void)sx_write_str(&w, "monthHashes=");
            (void)sx_write_bytes(&w, s + 15, body - 15);
            done = true;
        }
        for (size_t k = 0; k < 3 && !done; k++) {
            char key[8];
            snprintf(key, sizeof key, "%s=", legacy_sets[k]);
            if (starts(s, body, key)) {
                size_t kn = strlen(key);
                ok = put_id_set(&w, legacy_sets[k], s + kn, body - kn);
                done = true;
            }
        }
        if (!done)
            (void)sx_write_bytes(&w, s, body);
        if (has_nl)
            (void)sx_write_str(&w, "\n");
    }
    (void)sx_write_bytes(&w, "", 1);
    sx_status st = sx_writer_status(&w);
    if (!ok || st != SX_OK) {
        sx_writer_cleanup(&w);
        return !ok ? SX_E_PROTOCOL : st;
    }
    size_t n = 0;
    uint8_t *buf = sx_writer_take(&w, &n);
    if (!buf)
        return SX_E_NOMEM;
    *out = (char *)buf;
    *out_len = n - 1;
    return SX_OK;
}

sx_status sx_smp_stats_parse(const char *text, size_t len, sx_smp_stats_data *d, size_t *line)
{
    SX_ENSURE(d && (text || len == 0), SX_E_USAGE);
    memset(d, 0, sizeof *d);
    if (line)
        *line = 0;
    SX_ENSURE(len <= SX_SMP_STATS_FILE_MAX, SX_E_LIMIT);
    char *norm = NULL;
    size_t nlen = 0;
    SX_TRY(normalize(text ? text : "", len, &norm, &nlen));
    sx_status st = sx_kit_stats_parse(&spec, norm, nlen, d, line);
    free(norm);
    return st;
}

sx_status sx_smp_stats_load(const char *path, sx_smp_stats_data *d, size_t *line)
{
    SX_ENSURE(path && d, SX_E_USAGE);
    memset(d, 0, sizeof *d);
    if (line)
        *line = 0;
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_kit_stats_read_file(path, SX_SMP_STATS_FILE_MAX, &text, &len));
    sx_status st = sx_smp_stats_parse(text, len, d, line);
    free(text);
    return st;
}

/* ---- live statistics ---- */

void sx_smp_stats_init(sx_smp_stats *s, int64_t now)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    for (size_t i = 0; i < SX_SMP_STATS_SHARDS; i++)
        pthread_mutex_init(&s->shards[i].mu, NULL);
    s->d.from_time = now;
}

void sx_smp_stats_cleanup(sx_smp_stats *s)
{
    for (size_t i = 0; i < SX_SMP_STATS_SHARDS; i++) {
        sx_kit_hset_clear(&s->shards[i].active);
        sx_kit_hset_clear(&s->shards[i].active_ntf);
        pthread_mutex_destroy(&s->shards[i].mu);
    }
    sx_smp_stats_data_cleanup(&s->d);
    pthread_mutex_destroy(&s->mu);
}

void sx_smp_stats_active(sx_smp_stats *s, const uint8_t *rid, size_t len, bool ntf)
{
    uint64_t h = sx_kit_period_hash(rid, len);
    sx_smp_stats_shard *sh = &s->shards[(h >> 32) % SX_SMP_STATS_SHARDS];
    pthread_mutex_lock(&sh->mu);
    /* out of memory: this queue is not counted as active this time */
    sx_status st = sx_kit_hset_add(&sh->active, h);
    if (ntf && st == SX_OK)
        st = sx_kit_hset_add(&sh->active_ntf, h);
    pthread_mutex_unlock(&sh->mu);
    (void)st;
}

size_t sx_smp_ack_bucket(int64_t t)
{
    if (t < 0)
        t = 0;
    if (t > SX_SMP_ACK_MAX_SECONDS)
        t = SX_SMP_ACK_MAX_SECONDS;
    if (t <= 5)
        return (size_t)t;
    if (t <= 30)
        return 6 + (size_t)((t + 4) / 5 - 2); /* 10 .. 30 */
    if (t <= 60)
        return 11 + (size_t)((t + 9) / 10 - 4); /* 40 .. 60 */
    if (t <= 180)
        return 14 + (size_t)((t + 29) / 30 - 3); /* 90 .. 180 */
    return 18 + (size_t)((t + 59) / 60 - 4);     /* 240 .. */
}

int64_t sx_smp_ack_bucket_seconds(size_t i)
{
    if (i <= 5)
        return (int64_t)i;
    if (i <= 10)
        return (int64_t)(i - 6 + 2) * 5;
    if (i <= 13)
        return (int64_t)(i - 11 + 4) * 10;
    if (i <= 17)
        return (int64_t)(i - 14 + 3) * 30;
    return (int64_t)(i - 18 + 4) * 60;
}

void sx_smp_stats_ack_time(sx_smp_stats *s, int64_t seconds)
{
    if (seconds < 0)
        seconds = 0;
    sx_kit_stat_add(&s->ack_sum, seconds);
    int64_t m = sx_kit_stat_get(&s->ack_max);
    while (seconds > m && !__atomic_compare_exchange_n(&s->ack_max, &m, seconds, true, __ATOMIC_RELAXED,
                                                       __ATOMIC_RELAXED)) {
    }
    sx_kit_stat_add(&s->ack[sx_smp_ack_bucket(seconds)], 1);
}

/* Adds every member of h to the period p (out of memory: some are not
 * counted). */
static void add_members(sx_kit_period *p, const sx_kit_hset *h)
{
    sx_status st = SX_OK;
    for (size_t k = 0; k < h->cap && st == SX_OK; k++)
        if (h->slots[k])
            st = sx_kit_period_add(p, h->slots[k]);
    if (h->has_zero && st == SX_OK)
        st = sx_kit_period_add(p, 0);
    (void)st;
}

/* Moves the shards' hashes into the period sets; s->mu held. */
static void flush_shards(sx_smp_stats *s)
{
    for (size_t i = 0; i < SX_SMP_STATS_SHARDS; i++) {
        sx_smp_stats_shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->mu);
        sx_kit_hset a = sh->active, an = sh->active_ntf;
        memset(&sh->active, 0, sizeof sh->active);
        memset(&sh->active_ntf, 0, sizeof sh->active_ntf);
        pthread_mutex_unlock(&sh->mu);
        add_members(&s->d.active, &a);
        add_members(&s->d.active_ntf, &an);
        sx_kit_hset_clear(&a);
        sx_kit_hset_clear(&an);
    }
}

sx_status sx_smp_stats_snapshot(sx_smp_stats *s, sx_smp_stats_data *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    flush_shards(s);
    sx_status st = sx_kit_stats_copy(&spec, &s->d, out);
    pthread_mutex_unlock(&s->mu);
    /* the counters outside the file's fields */
    static const sx_smp_stat extra[] = {SX_SMP_STAT_RCV_SERVICES_SUB_MSG, SX_SMP_STAT_RCV_SERVICES_SUB_DUPLICATE,
                                        SX_SMP_STAT_MSG_COUNT, SX_SMP_STAT_NTF_COUNT};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        out->c[extra[i]] = sx_smp_stats_get(s, extra[i]);
    for (int k = 0; k < 6; k++) {
        out->c[SX_SMP_STAT_RCV_SRV_SUB_OK + k] = sx_smp_stats_get(s, (sx_smp_stat)(SX_SMP_STAT_RCV_SRV_SUB_OK + k));
        out->c[SX_SMP_STAT_NTF_SRV_SUB_OK + k] = sx_smp_stats_get(s, (sx_smp_stat)(SX_SMP_STAT_NTF_SRV_SUB_OK + k));
    }
    return st;
}

void sx_smp_stats_counters(sx_smp_stats *s, sx_smp_stats_data *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    out->from_time = s->d.from_time;
    pthread_mutex_unlock(&s->mu);
    for (int k = 0; k < SX_SMP_STAT_COUNT; k++)
        out->c[k] = sx_kit_stat_get(&s->d.c[k]);
}

void sx_smp_stats_period_counts(sx_smp_stats *s, size_t active[3], size_t active_ntf[3])
{
    pthread_mutex_lock(&s->mu);
    flush_shards(s);
    active[0] = s->d.active.day.n;
    active[1] = s->d.active.week.n;
    active[2] = s->d.active.month.n;
    active_ntf[0] = s->d.active_ntf.day.n;
    active_ntf[1] = s->d.active_ntf.week.n;
    active_ntf[2] = s->d.active_ntf.month.n;
    pthread_mutex_unlock(&s->mu);
}

void sx_smp_stats_restore(sx_smp_stats *s, sx_smp_stats_data *d)
{
    pthread_mutex_lock(&s->mu);
    sx_kit_stats_move(&spec, &s->d, d);
    pthread_mutex_unlock(&s->mu);
}

sx_status sx_smp_stats_daily_line(sx_smp_stats *s, const sx_smp_entity_counts *ent, int64_t now, char *out,
                                  size_t cap)
{
    SX_ENSURE(s && out, SX_E_USAGE);
    pthread_mutex_lock(&s->mu);
    flush_shards(s);
    if (ent)
        s->d.ent = *ent;
    sx_status st = sx_kit_stats_daily_line(&spec, &s->d, now, out, cap);
    pthread_mutex_unlock(&s->mu);
    return st;
}

sx_status sx_smp_stats_save(sx_smp_stats *s, const char *path)
{
    SX_ENSURE(s && path, SX_E_USAGE);
    sx_smp_stats_data d;
    SX_TRY(sx_smp_stats_snapshot(s, &d));
    sx_status st = sx_kit_stats_save(&spec, &d, path);
    sx_smp_stats_data_cleanup(&d);
    return st;
}
