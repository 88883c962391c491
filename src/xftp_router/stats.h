/* The XFTP router's statistics (reference FileTransfer/Server/Stats.hs and
 * the period stats of Messaging/Server/Stats.hs at 152c30ca68): counters
 * bumped by the workers, "files downloaded" per day/week/month as sets of
 * sender-id hashes, the backup file in the reference's text format
 * (file-server-stats.log) and the daily CSV line (file-server-stats.daily.log).
 * This file names the counters, their keys and the line's columns; the
 * router kit does the rest (src/kit/stats.h). */
#ifndef SX_XFTP_STATS_H
#define SX_XFTP_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit/stats.h"
#include "simplex/status.h"

/* The backup file is refused when larger. */
#define SX_XFTP_STATS_FILE_MAX ((size_t)128 << 20)

typedef enum sx_xftp_stat {
    SX_XFTP_STAT_FILES_CREATED = 0,
    SX_XFTP_STAT_FILE_RECIPIENTS,
    SX_XFTP_STAT_FILES_UPLOADED,
    SX_XFTP_STAT_FILES_EXPIRED,
    SX_XFTP_STAT_FILES_DELETED,
    SX_XFTP_STAT_FILES_BLOCKED,
    SX_XFTP_STAT_FILE_DOWNLOADS,
    SX_XFTP_STAT_FILE_DOWNLOAD_ACKS,
    SX_XFTP_STAT_FILES_COUNT,
    SX_XFTP_STAT_FILES_SIZE,
    SX_XFTP_STAT_COUNT
} sx_xftp_stat;

/* A plain copy of the statistics (what the backup file holds). */
typedef struct sx_xftp_stats_data {
    int64_t from_time; /* unix seconds */
    int64_t c[SX_XFTP_STAT_COUNT];
    sx_kit_period downloaded; /* sender-id hashes */
} sx_xftp_stats_data;

/* The spec of the two files (src/kit/stats.h). */
const sx_kit_stats_spec *sx_xftp_stats_spec(void);

void sx_xftp_stats_data_cleanup(sx_xftp_stats_data *d);

/* The backup text: fromTime=..., the counters, "filesDownloaded:" and the
 * dayHashes / weekHashes / monthHashes lines, fileDownloads, fileDownloadAcks
 * (the reference's order). *out is NUL-terminated, the caller frees it.
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_stats_encode(const sx_xftp_stats_data *d, char **out, size_t *out_len);
/* Parses the backup text as the reference does (filesExpired, filesBlocked,
 * filesCount and filesSize optional; every line ends in a newline; nothing
 * after fileDownloadAcks). The legacy day=/week=/month= id lists are not
 * read. On success *d is filled (clean it up); SX_E_PROTOCOL with the
 * offending line's number in *line (when not NULL), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_stats_parse(const char *text, size_t len, sx_xftp_stats_data *d, size_t *line);

/* The live statistics. Counters are atomic; the sets are under mu. */
typedef struct sx_xftp_stats {
    pthread_mutex_t mu;
    sx_xftp_stats_data d;
} sx_xftp_stats;

void sx_xftp_stats_init(sx_xftp_stats *s, int64_t now);
void sx_xftp_stats_cleanup(sx_xftp_stats *s);
/* Adds n (may be negative) to a counter; any thread. */
void sx_xftp_stats_add(sx_xftp_stats *s, sx_xftp_stat k, int64_t n);
int64_t sx_xftp_stats_get(sx_xftp_stats *s, sx_xftp_stat k);
/* FGET: remembers the sender id in the day, week and month sets. */
void sx_xftp_stats_downloaded(sx_xftp_stats *s, const uint8_t *sender_id, size_t len);
/* A copy of everything (clean it up). SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_stats_snapshot(sx_xftp_stats *s, sx_xftp_stats_data *out);
/* Replaces everything with d, whose sets are taken (d's are left empty).
 * Not for use while other threads update s. */
void sx_xftp_stats_restore(sx_xftp_stats *s, sx_xftp_stats_data *d);

/* The daily CSV line at time now, newline-terminated: date of fromTime,
 * filesCreated, fileRecipients, filesUploaded, filesDeleted, then the
 * downloaded-files counts for the day, the week (only on Mondays, else
 * empty) and the month (only on the 1st, else empty), fileDownloads,
 * fileDownloadAcks, filesCount, filesSize, filesExpired. As the reference,
 * the reported counters restart from 0 and fromTime becomes now (filesCount
 * and filesSize are kept, and so is filesBlocked, which is not reported; the
 * period sets reported are emptied). SX_E_LIMIT when cap is too small
 * (nothing is reset then). */
SX_MUST_CHECK sx_status sx_xftp_stats_daily_line(sx_xftp_stats *s, int64_t now, char *out, size_t cap);

/* Writes the backup text to path (through a temporary file). SX_E_IO,
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_stats_save(sx_xftp_stats *s, const char *path);
/* Reads and parses a backup file. SX_E_IO (cannot read), SX_E_LIMIT (larger
 * than SX_XFTP_STATS_FILE_MAX), SX_E_PROTOCOL (see sx_xftp_stats_parse),
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_stats_load(const char *path, sx_xftp_stats_data *d, size_t *line);

#endif
