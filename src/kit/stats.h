/* Router kit: a router's statistics files (PROTOCOL-NOTES E30 for SMP; the
 * XFTP and NTF routers keep the same two files): the backup of the counters
 * in the reference's text format ("key=value" lines, written at stop and read
 * back at start) and the daily CSV line appended to the *.daily.log file.
 *
 * A router keeps its statistics in a plain struct of its own and describes
 * it with a spec: the fields in the backup file's order (each a key, a kind
 * and the offset of its value in the struct) and the columns of the daily
 * line. The kit encodes, parses, copies, saves and loads such a struct and
 * makes the daily line from the spec alone; it knows no router's counters.
 *
 * Also here: bounded sets of 64-bit hashes, and the period sets built on
 * them, which count distinct ids per day, week and month. */
#ifndef SX_KIT_STATS_H
#define SX_KIT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

/* ---- hash sets ---- */

/* At most this many members per set; further distinct values are not
 * counted (the reference's sets are unbounded). */
#define SX_KIT_HSET_MAX (1u << 20)

/* A set of 64-bit values (open addressing; 0 is kept by a flag). Zeroed
 * memory is an empty set. */
typedef struct sx_kit_hset {
    uint64_t *slots;
    size_t cap; /* 0 or a power of two */
    size_t n;   /* members, including 0 */
    bool has_zero;
} sx_kit_hset;

/* Inserts v unless present or the set is full (SX_KIT_HSET_MAX).
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_hset_add(sx_kit_hset *h, uint64_t v);
bool sx_kit_hset_has(const sx_kit_hset *h, uint64_t v);
/* Frees the members; h is an empty set again. */
void sx_kit_hset_clear(sx_kit_hset *h);
/* to becomes a copy of from (to is overwritten, not freed). SX_E_NOMEM
 * (to is empty then). */
SX_MUST_CHECK sx_status sx_kit_hset_copy(const sx_kit_hset *from, sx_kit_hset *to);

/* ---- period sets ---- */

/* The reference's PeriodStats: the distinct ids seen this day, week and
 * month, as hashes. Zeroed memory is empty. */
typedef struct sx_kit_period {
    sx_kit_hset day, week, month;
} sx_kit_period;

/* The 64-bit hash under which an id is counted. */
uint64_t sx_kit_period_hash(const uint8_t *id, size_t len);
/* Adds the hash h to the three sets. SX_E_NOMEM (then h is missing from
 * the sets after the one that failed). */
SX_MUST_CHECK sx_status sx_kit_period_add(sx_kit_period *p, uint64_t h);
void sx_kit_period_clear(sx_kit_period *p);

/* ---- the spec of a router's statistics ---- */

typedef enum sx_kit_stat_kind {
    SX_KIT_STAT_TIME,   /* int64_t unix seconds; "key=2024-01-02T03:04:05Z" */
    SX_KIT_STAT_INT,    /* int64_t; "key=-12"; other threads update it with
                         * sx_kit_stat_add (atomic) */
    SX_KIT_STAT_PERIOD, /* sx_kit_period; a "key:" line, then "dayHashes=",
                         * "weekHashes=" and "monthHashes=" lines, each the
                         * set's members ascending as signed numbers, joined
                         * by commas */
    SX_KIT_STAT_HEADER, /* no value (off unused): a "key:" line heading the
                         * next `group` fields (a section); an OPTIONAL
                         * header missing from the text means its section
                         * is missing too (its fields are 0) */
} sx_kit_stat_kind;

/* Field flags. */
#define SX_KIT_STAT_OPTIONAL 1u /* the parser takes a missing line as 0 / empty */
#define SX_KIT_STAT_KEEP 2u     /* INT: the daily line does not restart it */

typedef struct sx_kit_stat_field {
    const char *key; /* letters and digits */
    sx_kit_stat_kind kind;
    unsigned flags;
    size_t off;     /* offset of the value in the router's struct */
    unsigned group; /* HEADER: how many of the next fields it heads */
} sx_kit_stat_field;

typedef enum sx_kit_stat_col_kind {
    SX_KIT_COL_DATE,  /* a TIME field's date, YYYY-MM-DD, before the line */
    SX_KIT_COL_VALUE, /* an INT field's value before the line */
    SX_KIT_COL_DAY,   /* a PERIOD field's count of the day */
    SX_KIT_COL_WEEK,  /* ... of the week: only on Mondays, else empty */
    SX_KIT_COL_MONTH, /* ... of the month: only on the 1st, else empty */
    SX_KIT_COL_ZERO,  /* "0": a column the reference keeps but no longer fills */
    SX_KIT_COL_EXTRA, /* an int64_t at off that is no field (a count the
                       * router sets before the line); never restarted */
} sx_kit_stat_col_kind;

/* A column of the daily line: a value of the field at offset off (ZERO:
 * off unused; EXTRA: off of a value outside the fields). */
typedef struct sx_kit_stat_col {
    sx_kit_stat_col_kind kind;
    size_t off;
} sx_kit_stat_col;

typedef struct sx_kit_stats_spec {
    const sx_kit_stat_field *fields; /* in the backup file's order */
    size_t n_fields;
    const sx_kit_stat_col *cols; /* in the daily line's order */
    size_t n_cols;
    size_t file_max; /* the backup text is never written nor read larger */
} sx_kit_stats_spec;

/* Whether the spec is sound: keys are letters and digits, offsets are
 * distinct, every column names a field of a kind it can show. Every other
 * call assumes it (the unit tests of each router check their spec). */
bool sx_kit_stats_spec_valid(const sx_kit_stats_spec *spec);

/* Adds n (may be negative) to an INT field; any thread. */
static inline void sx_kit_stat_add(int64_t *v, int64_t n) { __atomic_fetch_add(v, n, __ATOMIC_RELAXED); }
static inline int64_t sx_kit_stat_get(const int64_t *v) { return __atomic_load_n(v, __ATOMIC_RELAXED); }

/* ---- the router's struct ("data"), described by a spec ----
 * TIME and PERIOD fields are the caller's to guard (a lock of the router's);
 * INT fields are read and written atomically. */

/* Empties the PERIOD fields (frees their members). */
void sx_kit_stats_cleanup(const sx_kit_stats_spec *spec, void *data);
/* Copies the fields of from into to, whose PERIOD fields are overwritten
 * (not freed). SX_E_NOMEM (to's PERIOD fields are empty then). */
SX_MUST_CHECK sx_status sx_kit_stats_copy(const sx_kit_stats_spec *spec, const void *from, void *to);
/* Replaces the fields of to with those of from; to's period sets are freed,
 * from's are moved into to (from's are left empty). */
void sx_kit_stats_move(const sx_kit_stats_spec *spec, void *to, void *from);

/* The backup text: one line per field in the spec's order, each ended by
 * "\n". *out is NUL-terminated; the caller frees it. SX_E_LIMIT (longer than
 * file_max), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_stats_encode(const sx_kit_stats_spec *spec, const void *data, char **out,
                                            size_t *out_len);
/* Parses the backup text as the reference does: the fields in order, an
 * OPTIONAL one may be missing, every line ends in "\n" (or "\r\n"), nothing
 * follows the last field. Sets every field of data (PERIOD fields are
 * overwritten, not freed; clean them up). On failure every field is 0 or
 * empty and *line (may be NULL) is the 1-based number of the line that did
 * not parse (or of the line missing at the end); 0 on success. SX_E_PROTOCOL,
 * SX_E_LIMIT (longer than file_max), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_stats_parse(const sx_kit_stats_spec *spec, const char *text, size_t len, void *data,
                                           size_t *line);

/* The daily line at time now, ended by "\n": the spec's columns joined by
 * commas. As the reference, the TIME fields become now, the INT fields
 * restart from 0 (except KEEP ones), and the period sets reported are
 * emptied: the day's always, the week's on Mondays, the month's on the 1st
 * (UTC). SX_E_LIMIT when cap is too small, SX_E_NOMEM; nothing is changed
 * then. */
SX_MUST_CHECK sx_status sx_kit_stats_daily_line(const sx_kit_stats_spec *spec, void *data, int64_t now, char *out,
                                                size_t cap);
/* Appends a line (its own "\n" included) to the daily file at path, created
 * when missing. SX_E_IO. */
SX_MUST_CHECK sx_status sx_kit_stats_append_line(const char *path, const char *line);

/* Writes the backup text of data to path through "<path>.tmp" (synced, then
 * renamed). SX_E_IO, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_stats_save(const sx_kit_stats_spec *spec, const void *data, const char *path);
/* Reads and parses the backup file at path into data (see
 * sx_kit_stats_parse; *line is 0 when the failure is not a line's).
 * SX_E_IO (cannot read), SX_E_LIMIT (larger than file_max), SX_E_PROTOCOL,
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_stats_load(const sx_kit_stats_spec *spec, const char *path, void *data, size_t *line);
/* The whole file at path when it has at most max bytes: *out is
 * NUL-terminated, the caller frees it (for a router that rewrites older
 * forms before sx_kit_stats_parse). SX_E_IO, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_stats_read_file(const char *path, size_t max, char **out, size_t *out_len);

#endif
