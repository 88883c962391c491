/* XFTP router statistics: the counters, their keys in the backup file and
 * the daily line's columns, in the reference's order; the router kit
 * (src/kit/stats.h) encodes, parses and formats them. */
#include "xftp_router/stats.h"

#include <string.h>

#define C(k) offsetof(sx_xftp_stats_data, c[SX_XFTP_STAT_##k])
#define FROM offsetof(sx_xftp_stats_data, from_time)
#define DOWNLOADED offsetof(sx_xftp_stats_data, downloaded)
#define OPT SX_KIT_STAT_OPTIONAL

/* file-server-stats.log, line by line. The daily line leaves filesCount and
 * filesSize, which describe the store, and filesBlocked, which the
 * reference's logServerStats neither shows nor restarts. */
static const sx_kit_stat_field fields[] = {
    {"fromTime", SX_KIT_STAT_TIME, 0, FROM, 0},
    {"filesCreated", SX_KIT_STAT_INT, 0, C(FILES_CREATED), 0},
    {"fileRecipients", SX_KIT_STAT_INT, 0, C(FILE_RECIPIENTS), 0},
    {"filesUploaded", SX_KIT_STAT_INT, 0, C(FILES_UPLOADED), 0},
    {"filesExpired", SX_KIT_STAT_INT, OPT, C(FILES_EXPIRED), 0},
    {"filesDeleted", SX_KIT_STAT_INT, 0, C(FILES_DELETED), 0},
    {"filesBlocked", SX_KIT_STAT_INT, OPT | SX_KIT_STAT_KEEP, C(FILES_BLOCKED), 0},
    {"filesCount", SX_KIT_STAT_INT, OPT | SX_KIT_STAT_KEEP, C(FILES_COUNT), 0},
    {"filesSize", SX_KIT_STAT_INT, OPT | SX_KIT_STAT_KEEP, C(FILES_SIZE), 0},
    {"filesDownloaded", SX_KIT_STAT_PERIOD, 0, DOWNLOADED, 0},
    {"fileDownloads", SX_KIT_STAT_INT, 0, C(FILE_DOWNLOADS), 0},
    {"fileDownloadAcks", SX_KIT_STAT_INT, 0, C(FILE_DOWNLOAD_ACKS), 0},
};

/* file-server-stats.daily.log, column by column. */
static const sx_kit_stat_col cols[] = {
    {SX_KIT_COL_DATE, FROM},
    {SX_KIT_COL_VALUE, C(FILES_CREATED)},
    {SX_KIT_COL_VALUE, C(FILE_RECIPIENTS)},
    {SX_KIT_COL_VALUE, C(FILES_UPLOADED)},
    {SX_KIT_COL_VALUE, C(FILES_DELETED)},
    {SX_KIT_COL_DAY, DOWNLOADED},
    {SX_KIT_COL_WEEK, DOWNLOADED},
    {SX_KIT_COL_MONTH, DOWNLOADED},
    {SX_KIT_COL_VALUE, C(FILE_DOWNLOADS)},
    {SX_KIT_COL_VALUE, C(FILE_DOWNLOAD_ACKS)},
    {SX_KIT_COL_VALUE, C(FILES_COUNT)},
    {SX_KIT_COL_VALUE, C(FILES_SIZE)},
    {SX_KIT_COL_VALUE, C(FILES_EXPIRED)},
};

static const sx_kit_stats_spec spec = {
    .fields = fields,
    .n_fields = sizeof fields / sizeof fields[0],
    .cols = cols,
    .n_cols = sizeof cols / sizeof cols[0],
    .file_max = SX_XFTP_STATS_FILE_MAX,
};

const sx_kit_stats_spec *sx_xftp_stats_spec(void)
{
    return &spec;
}

void sx_xftp_stats_data_cleanup(sx_xftp_stats_data *d)
{
    sx_kit_stats_cleanup(&spec, d);
}

sx_status sx_xftp_stats_encode(const sx_xftp_stats_data *d, char **out, size_t *out_len)
{
    SX_ENSURE(d && out, SX_E_USAGE);
    return sx_kit_stats_encode(&spec, d, out, out_len);
}

sx_status sx_xftp_stats_parse(const char *text, size_t len, sx_xftp_stats_data *d, size_t *line)
{
    SX_ENSURE(d, SX_E_USAGE);
    memset(d, 0, sizeof *d);
    return sx_kit_stats_parse(&spec, text, len, d, line);
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
    sx_kit_stat_add(&s->d.c[k], n);
}

int64_t sx_xftp_stats_get(sx_xftp_stats *s, sx_xftp_stat k)
{
    return sx_kit_stat_get(&s->d.c[k]);
}

void sx_xftp_stats_downloaded(sx_xftp_stats *s, const uint8_t *sender_id, size_t len)
{
    uint64_t h = sx_kit_period_hash(sender_id, len);
    pthread_mutex_lock(&s->mu);
    /* out of memory: this download is not counted in the later periods */
    sx_status st = sx_kit_period_add(&s->d.downloaded, h);
    pthread_mutex_unlock(&s->mu);
    (void)st;
}

sx_status sx_xftp_stats_snapshot(sx_xftp_stats *s, sx_xftp_stats_data *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sx_status st = sx_kit_stats_copy(&spec, &s->d, out);
    pthread_mutex_unlock(&s->mu);
    return st;
}

void sx_xftp_stats_restore(sx_xftp_stats *s, sx_xftp_stats_data *d)
{
    pthread_mutex_lock(&s->mu);
    sx_kit_stats_move(&spec, &s->d, d);
    pthread_mutex_unlock(&s->mu);
}

sx_status sx_xftp_stats_daily_line(sx_xftp_stats *s, int64_t now, char *out, size_t cap)
{
    SX_ENSURE(s && out, SX_E_USAGE);
    pthread_mutex_lock(&s->mu);
    sx_status st = sx_kit_stats_daily_line(&spec, &s->d, now, out, cap);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- files ---- */

sx_status sx_xftp_stats_save(sx_xftp_stats *s, const char *path)
{
    SX_ENSURE(s && path, SX_E_USAGE);
    sx_xftp_stats_data d;
    SX_TRY(sx_xftp_stats_snapshot(s, &d));
    sx_status st = sx_kit_stats_save(&spec, &d, path);
    sx_xftp_stats_data_cleanup(&d);
    return st;
}

sx_status sx_xftp_stats_load(const char *path, sx_xftp_stats_data *d, size_t *line)
{
    SX_ENSURE(path && d, SX_E_USAGE);
    memset(d, 0, sizeof *d);
    return sx_kit_stats_load(&spec, path, d, line);
}
