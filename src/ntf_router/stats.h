/* NTF router statistics (reference Notifications/Server/Stats.hs and the
 * stats parts of Notifications/Server.hs at 152c30ca68): the counters, the
 * daily active tokens and subscriptions (period sets), the backup file
 * ntf-server-stats.log in the reference's text format (written at stop,
 * read at start) and the daily CSV line of ntf-server-stats.daily.log. The
 * router kit (src/kit/stats.h) encodes, parses and formats.
 *
 * The reference's four per-router lines (ntfReceivedOwn ... ntfFailedOwn)
 * count notifications from SMP routers of the operator's own domains; we
 * count none (no own domains are configured), but keep what a restored
 * file holds, checked against their grammar, and write it back. */
#ifndef SX_NTF_ROUTER_STATS_H
#define SX_NTF_ROUTER_STATS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kit/stats.h"
#include "simplex/status.h"

typedef enum sx_ntf_stat {
    SX_NTF_STAT_TKN_CREATED,
    SX_NTF_STAT_TKN_VERIFIED,
    SX_NTF_STAT_TKN_DELETED,
    SX_NTF_STAT_TKN_REPLACED,
    SX_NTF_STAT_SUB_CREATED,
    SX_NTF_STAT_SUB_DELETED,
    SX_NTF_STAT_NTF_RECEIVED,
    SX_NTF_STAT_NTF_RECEIVED_AUTH,
    SX_NTF_STAT_NTF_DELIVERED,
    SX_NTF_STAT_NTF_FAILED,
    SX_NTF_STAT_NTF_CRON_DELIVERED,
    SX_NTF_STAT_NTF_CRON_FAILED,
    SX_NTF_STAT_NTF_VRF_QUEUED,
    SX_NTF_STAT_NTF_VRF_DELIVERED,
    SX_NTF_STAT_NTF_VRF_FAILED,
    SX_NTF_STAT_NTF_VRF_INVALID_TKN,
    SX_NTF_STAT_COUNT
} sx_ntf_stat;

/* The per-router lines, in the file's order. */
#define SX_NTF_STATS_OWN 4
#define SX_NTF_STATS_OWN_MAX 4096 /* bytes of one line's value */

typedef struct sx_ntf_stats_data {
    int64_t from_time; /* unix seconds */
    int64_t c[SX_NTF_STAT_COUNT];
    sx_kit_period active_tokens, active_subs;
    char own[SX_NTF_STATS_OWN][SX_NTF_STATS_OWN_MAX]; /* values as read, "" when none */
} sx_ntf_stats_data;

/* The router's statistics: the counters any thread increments atomically,
 * the period sets and the rest under mu. */
typedef struct sx_ntf_stats {
    pthread_mutex_t mu;
    sx_ntf_stats_data d;
} sx_ntf_stats;

void sx_ntf_stats_init(sx_ntf_stats *s, int64_t now);
void sx_ntf_stats_destroy(sx_ntf_stats *s);
void sx_ntf_stats_inc(sx_ntf_stats *s, sx_ntf_stat k); /* s may be NULL */
uint64_t sx_ntf_stats_get(const sx_ntf_stats *s, sx_ntf_stat k);
/* The reference's key ("tknCreated", ...). */
const char *sx_ntf_stat_name(sx_ntf_stat k);
/* Counts a token that got a message push / a subscription that got a
 * notification today (this week, this month). s may be NULL. */
void sx_ntf_stats_active_token(sx_ntf_stats *s, const uint8_t *id, size_t len);
void sx_ntf_stats_active_sub(sx_ntf_stats *s, const uint8_t *id, size_t len);
/* The day's distinct tokens and subscriptions so far. */
void sx_ntf_stats_daily_active(sx_ntf_stats *s, size_t *tokens, size_t *subs);
int64_t sx_ntf_stats_from_time(sx_ntf_stats *s);

const sx_kit_stats_spec *sx_ntf_stats_spec(void);
void sx_ntf_stats_data_cleanup(sx_ntf_stats_data *d);
/* The backup text (*out NUL-terminated, the caller frees it). SX_E_LIMIT,
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_stats_encode(const sx_ntf_stats_data *d, char **out, size_t *out_len);
/* Parses a backup text as the reference does (the optional lines of older
 * files may be missing). d is overwritten (clean it up after). *line: see
 * sx_kit_stats_parse. SX_E_PROTOCOL, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_stats_parse(const char *text, size_t len, sx_ntf_stats_data *d, size_t *line);

/* Writes s to path (via "<path>.tmp"). SX_E_IO, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_stats_save(sx_ntf_stats *s, const char *path);
/* Reads path into s (replacing what it held). SX_E_IO, SX_E_PROTOCOL,
 * SX_E_LIMIT, SX_E_NOMEM; s is unchanged then. */
SX_MUST_CHECK sx_status sx_ntf_stats_load(sx_ntf_stats *s, const char *path, size_t *line);
/* The daily line at now (restarts what it reports, as the reference).
 * SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_stats_daily_line(sx_ntf_stats *s, int64_t now, char *out, size_t cap);

/* The thread that appends the daily line to daily_path (NULL: none):
 * every daily_interval seconds from now, or with daily_interval 0 every
 * day at start_time seconds after 00:00 UTC (the reference's log_stats);
 * and that calls tick every tick_interval seconds (0: never), for the
 * metrics file. */
typedef struct sx_ntf_stats_log_opts {
    const char *daily_path;
    int64_t daily_interval, start_time;
    int64_t tick_interval;
    void (*tick)(void *arg);
    void *tick_arg;
} sx_ntf_stats_log_opts;
typedef struct sx_ntf_stats_log sx_ntf_stats_log;
/* SX_E_NOMEM, SX_E_IO. */
SX_MUST_CHECK sx_status sx_ntf_stats_log_start(sx_ntf_stats *s, const sx_ntf_stats_log_opts *o,
                                               sx_ntf_stats_log **out);
void sx_ntf_stats_log_stop(sx_ntf_stats_log *l); /* l may be NULL */

#endif
