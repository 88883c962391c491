/* NTF router statistics (reference Notifications/Server/Stats.hs and the
 * stats parts of Notifications/Server.hs at 152c30ca68): the counters, the
 * daily active tokens and subscriptions (period sets), the backup file
 * ntf-server-stats.log in the reference's text format (written at stop,
 * read at start) and the daily CSV line of ntf-server-stats.daily.log. The
 * router kit (src/kit/stats.h) encodes, parses and formats.
 *
 * The reference's four per-router lines (ntfReceivedOwn ... ntfFailedOwn)
 * count notifications from the SMP routers of the operator's own domains
 * ([SUBSCRIBER] own_server_domains): each line is the reference's list of
 * "host count" pairs joined by commas, in the order of the hosts' bytes,
 * kept as text and counted in place (an operator has a few own routers).
 * A restored file's lines are checked against that grammar. */
#ifndef SX_NTF_ROUTER_STATS_H
#define SX_NTF_ROUTER_STATS_H

#include <pthread.h>
#include <stdbool.h>
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

#define SX_NTF_STATS_OWN 4
#define SX_NTF_STATS_OWN_MAX 4096 /* bytes of one line's value */
#define SX_NTF_OWN_HOST_MAX 256   /* bytes of a counted host, with its NUL */

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
    char *own_domains; /* set before counting starts; NULL: none */
} sx_ntf_stats;

/* The per-router lines, in the file's order. */
typedef enum sx_ntf_own_stat {
    SX_NTF_OWN_RECEIVED,
    SX_NTF_OWN_RECEIVED_AUTH,
    SX_NTF_OWN_DELIVERED,
    SX_NTF_OWN_FAILED,
} sx_ntf_own_stat;

/* Whether host is one of the operator's domains (words separated by
 * spaces or tabs, the INI value) or a name under one ("x.<domain>"), as
 * the reference matches an SMP router's first host. */
bool sx_ntf_own_domain(const char *domains, const char *host);
/* The first host of an SMP router's address text (smp://<fp>@<host>[,...]
 * [:port]) into out; false when there is none or it does not fit. */
bool sx_ntf_server_host(const char *server, char *out, size_t cap);
/* Adds 1 to host's count in a per-router line (a new host gets 1, in its
 * place). false, line unchanged: a malformed line, a host with spaces or
 * commas, or a result of cap bytes or more. */
bool sx_ntf_own_line_inc(char *line, size_t cap, const char *host);
/* The next "host n" pair of a valid per-router line at *p (host not
 * NUL-terminated), *p moved past it and its comma; false at the end (or at
 * what is not a pair). */
bool sx_ntf_own_next(const char **p, const char **host, size_t *host_len, int64_t *v);
/* The own domains of s (copied; NULL or blank: none). SX_E_NOMEM. Call it
 * before any counting thread starts. */
SX_MUST_CHECK sx_status sx_ntf_stats_set_own_domains(sx_ntf_stats *s, const char *domains);
/* The host SMP router server is counted under when it is an own one (into
 * out), else false. s may be NULL. */
bool sx_ntf_stats_own_server(const sx_ntf_stats *s, const char *server, char *out, size_t cap);
/* Counts one under host in line k. s may be NULL, host NULL or "". */
void sx_ntf_stats_inc_own(sx_ntf_stats *s, sx_ntf_own_stat k, const char *host);
/* A copy of line k (cap SX_NTF_STATS_OWN_MAX). */
void sx_ntf_stats_own_line(sx_ntf_stats *s, sx_ntf_own_stat k, char *out, size_t cap);

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
