/* The SMP router's statistics (the reference's ServerStats, Server/Stats.hs
 * at 152c30ca68): the counters the command handlers bump (atomic, no lock),
 * the queues active per day/week/month as sets of recipient-id hashes
 * (sharded, so that a message takes one of many small locks, never one
 * for the whole router), the delivery-to-ACK times, the backup file
 * smp-server-stats.log in the reference's text format (also the older forms
 * it still reads) and the daily CSV line of smp-server-stats.daily.log.
 * This file names the counters, their keys and the line's columns; the
 * router kit does the encoding (src/kit/stats.h). */
#ifndef SX_SMP_ROUTER_STATS_H
#define SX_SMP_ROUTER_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit/stats.h"
#include "simplex/status.h"

/* The backup file is refused when larger. */
#define SX_SMP_STATS_FILE_MAX ((size_t)256 << 20)

/* The proxy counters (ProxyStats), five per group, in file order. */
#define SX_SMP_PROXY_STATS(P) P##_REQUESTS, P##_SUCCESSES, P##_ERR_CONNECT, P##_ERR_COMPAT, P##_ERR_OTHER
/* The service counters (ServiceStats): the eight the file keeps, then six
 * the reference counts only while running. */
#define SX_SMP_SERVICE_STATS(P)                                                                                 \
    P##_ASSOC_NEW, P##_ASSOC_DUPLICATE, P##_ASSOC_UPDATED, P##_ASSOC_REMOVED, P##_SUB_COUNT, P##_SUB_DUPLICATE, \
        P##_SUB_QUEUES, P##_SUB_END, P##_SUB_OK, P##_SUB_MORE, P##_SUB_FEWER, P##_SUB_DIFF, P##_SUB_MORE_TOTAL, \
        P##_SUB_FEWER_TOTAL

typedef enum sx_smp_stat {
    SX_SMP_STAT_Q_CREATED = 0,
    SX_SMP_STAT_Q_SECURED,
    SX_SMP_STAT_Q_DELETED_ALL,
    SX_SMP_STAT_Q_DELETED_NEW,
    SX_SMP_STAT_Q_DELETED_SECURED,
    SX_SMP_STAT_Q_DELETED_ALL_B,
    SX_SMP_STAT_Q_BLOCKED,
    SX_SMP_STAT_Q_COUNT,
    SX_SMP_STAT_Q_SUB,
    SX_SMP_STAT_Q_SUB_ALL_B,
    SX_SMP_STAT_Q_SUB_AUTH,
    SX_SMP_STAT_Q_SUB_DUPLICATE,
    SX_SMP_STAT_Q_SUB_PROHIBITED,
    SX_SMP_STAT_Q_SUB_END,
    SX_SMP_STAT_Q_SUB_END_B,
    SX_SMP_STAT_NTF_CREATED,
    SX_SMP_STAT_NTF_NEW_CREATED,
    SX_SMP_STAT_NTF_DELETED,
    SX_SMP_STAT_NTF_DELETED_B,
    SX_SMP_STAT_NTF_SUB,
    SX_SMP_STAT_NTF_SUB_B,
    SX_SMP_STAT_NTF_SUB_AUTH,
    SX_SMP_STAT_NTF_SUB_DUPLICATE,
    SX_SMP_STAT_MSG_SENT,
    SX_SMP_STAT_MSG_SENT_AUTH,
    SX_SMP_STAT_MSG_SENT_QUOTA,
    SX_SMP_STAT_MSG_SENT_LARGE,
    SX_SMP_STAT_MSG_SENT_BLOCK,
    SX_SMP_STAT_MSG_RECV,
    SX_SMP_STAT_MSG_RECV_GET,
    SX_SMP_STAT_MSG_GET,
    SX_SMP_STAT_MSG_GET_NO_MSG,
    SX_SMP_STAT_MSG_GET_AUTH,
    SX_SMP_STAT_MSG_GET_DUPLICATE,
    SX_SMP_STAT_MSG_GET_PROHIBITED,
    SX_SMP_STAT_MSG_EXPIRED,
    SX_SMP_STAT_MSG_SENT_NTF,
    SX_SMP_STAT_MSG_RECV_NTF,
    SX_SMP_STAT_MSG_NTFS,
    SX_SMP_STAT_MSG_NTFS_B,
    SX_SMP_STAT_MSG_NTF_NO_SUB,
    SX_SMP_STAT_MSG_NTF_LOST,
    SX_SMP_STAT_MSG_NTF_EXPIRED,
    SX_SMP_PROXY_STATS(SX_SMP_STAT_P_RELAYS),
    SX_SMP_PROXY_STATS(SX_SMP_STAT_P_RELAYS_OWN),
    SX_SMP_PROXY_STATS(SX_SMP_STAT_P_MSG_FWDS),
    SX_SMP_PROXY_STATS(SX_SMP_STAT_P_MSG_FWDS_OWN),
    SX_SMP_STAT_P_MSG_FWDS_RECV,
    SX_SMP_SERVICE_STATS(SX_SMP_STAT_RCV_SRV),
    SX_SMP_SERVICE_STATS(SX_SMP_STAT_NTF_SRV),
    /* not in the backup file (the reference recounts them at start) */
    SX_SMP_STAT_RCV_SERVICES_SUB_MSG,
    SX_SMP_STAT_RCV_SERVICES_SUB_DUPLICATE,
    SX_SMP_STAT_MSG_COUNT, /* messages stored */
    SX_SMP_STAT_NTF_COUNT, /* notifications stored */
    SX_SMP_STAT_COUNT
} sx_smp_stat;

/* What the store holds, counted when the daily line or the metrics are
 * made (the reference's EntityCounts); columns of the daily line. */
typedef struct sx_smp_entity_counts {
    int64_t queues, notifiers;
    int64_t rcv_services, ntf_services, rcv_service_queues, ntf_service_queues;
} sx_smp_entity_counts;

/* A plain copy of the statistics (what the backup file holds, and more). */
typedef struct sx_smp_stats_data {
    int64_t from_time; /* unix seconds */
    int64_t c[SX_SMP_STAT_COUNT];
    sx_kit_period active;     /* recipient-id hashes of queues with messages sent or received */
    sx_kit_period active_ntf; /* ... of such messages with the notification flag */
    sx_smp_entity_counts ent; /* set before a daily line */
} sx_smp_stats_data;

/* The spec of the two files (src/kit/stats.h). */
const sx_kit_stats_spec *sx_smp_stats_spec(void);
/* The key of a counter in the backup file and the control port's `stats`
 * ("qCreated", ...; a proxy or service counter's key within its section). */
const char *sx_smp_stat_key(sx_smp_stat k);

void sx_smp_stats_data_cleanup(sx_smp_stats_data *d);

/* The backup text in the reference's order. *out is NUL-terminated, the
 * caller frees it. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_stats_encode(const sx_smp_stats_data *d, char **out, size_t *out_len);
/* Parses a backup text as the reference does, with the older forms it
 * accepts: "qDeleted=" for the three deletion counters, a "qSubNoMsg="
 * line, the activeQueues sets as dayMsgQueues=/weekMsgQueues=/
 * monthMsgQueues= lines, a "subscribedQueues:" section (skipped), and
 * sets of base64url ids ("day=", "week=", "month=") instead of hashes
 * (hashed here). Sections of proxy and service counters may be missing.
 * On success *d is filled (clean it up); SX_E_PROTOCOL with the number of
 * the line that did not parse in *line (when not NULL; counted in the text
 * after the older forms are rewritten), SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_stats_parse(const char *text, size_t len, sx_smp_stats_data *d, size_t *line);

/* ---- live statistics ---- */

#define SX_SMP_STATS_SHARDS 64
/* Delivery-to-ACK times: the reference's buckets (each second up to 5,
 * then by 5 s to 30, 10 s to 60, 30 s to 180, then by minute) up to one
 * day; longer times count in the last bucket. */
#define SX_SMP_ACK_MAX_SECONDS 86400
#define SX_SMP_ACK_BUCKETS (6 + 5 + 3 + 4 + (SX_SMP_ACK_MAX_SECONDS - 180) / 60)

typedef struct sx_smp_stats_shard {
    pthread_mutex_t mu;
    sx_kit_hset active, active_ntf; /* hashes not yet moved into the periods */
    char pad[64];
} sx_smp_stats_shard;

typedef struct sx_smp_stats {
    pthread_mutex_t mu; /* from_time and the period sets of d */
    sx_smp_stats_data d;
    sx_smp_stats_shard shards[SX_SMP_STATS_SHARDS];
    int64_t ack_sum, ack_max;        /* seconds; atomic */
    int64_t ack[SX_SMP_ACK_BUCKETS]; /* atomic */
} sx_smp_stats;

void sx_smp_stats_init(sx_smp_stats *s, int64_t now);
void sx_smp_stats_cleanup(sx_smp_stats *s);

/* Adds n (may be negative) to a counter; any thread, no lock. */
static inline void sx_smp_stats_add(sx_smp_stats *s, sx_smp_stat k, int64_t n)
{
    sx_kit_stat_add(&s->d.c[k], n);
}
static inline void sx_smp_stats_inc(sx_smp_stats *s, sx_smp_stat k)
{
    sx_kit_stat_add(&s->d.c[k], 1);
}
static inline int64_t sx_smp_stats_get(sx_smp_stats *s, sx_smp_stat k)
{
    return sx_kit_stat_get(&s->d.c[k]);
}
/* A message sent to or received from the queue with this recipient id
 * (ntf: with the notification flag): the queue is active today, this week
 * and this month. One shard's lock. */
void sx_smp_stats_active(sx_smp_stats *s, const uint8_t *rid, size_t len, bool ntf);
/* A message acknowledged `seconds` after it was delivered. */
void sx_smp_stats_ack_time(sx_smp_stats *s, int64_t seconds);
/* The bucket of a time (its upper bound in seconds) and back. */
size_t sx_smp_ack_bucket(int64_t seconds);
int64_t sx_smp_ack_bucket_seconds(size_t i);

/* A copy of everything (clean it up). SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_stats_snapshot(sx_smp_stats *s, sx_smp_stats_data *out);
/* The counters and fromTime without the period sets (out's sets are left
 * empty): what the metrics need, without copying the sets. */
void sx_smp_stats_counters(sx_smp_stats *s, sx_smp_stats_data *out);
/* The day's, week's and month's counts of active queues (and with
 * notifications), without resetting them. */
void sx_smp_stats_period_counts(sx_smp_stats *s, size_t active[3], size_t active_ntf[3]);
/* Replaces the restored counters and sets with d's (d's sets are taken).
 * At start, before other threads use s. */
void sx_smp_stats_restore(sx_smp_stats *s, sx_smp_stats_data *d);

/* The daily CSV line at time now, newline-terminated, in the reference's
 * columns (smp-server-stats.daily.log); restarts the counters it reports
 * and empties the period sets reported, as the reference. SX_E_LIMIT when
 * cap is too small, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_stats_daily_line(sx_smp_stats *s, const sx_smp_entity_counts *ent, int64_t now,
                                                char *out, size_t cap);

/* Writes the backup text to path (through a temporary file). SX_E_IO,
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_stats_save(sx_smp_stats *s, const char *path);
/* Reads and parses a backup file (see sx_smp_stats_parse). SX_E_IO (cannot
 * read), SX_E_LIMIT, SX_E_PROTOCOL, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_stats_load(const char *path, sx_smp_stats_data *d, size_t *line);

#endif
