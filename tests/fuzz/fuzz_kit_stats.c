/* Fuzz target: a statistics backup file, as the router kit parses it at a
 * router's start (src/kit/stats.h). The spec is made up for the test: the
 * fields of the XFTP router's file-server-stats.log in its order, then an
 * optional period and an optional counter, so that files as the reference
 * writes them parse and every kind of field is reached.
 *
 * What parses must encode to a text that parses again and encodes the same
 * (the encoding is canonical), copy to the same text, and make a daily line;
 * what does not parse must name a line and leave every field empty. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kit/stats.h"

enum { N_INT = 11 };

typedef struct fstats {
    int64_t from;
    int64_t c[N_INT];
    sx_kit_period downloaded, active;
} fstats;

#define C(i) offsetof(fstats, c[i])
#define OPT SX_KIT_STAT_OPTIONAL
#define KEEP SX_KIT_STAT_KEEP

static const sx_kit_stat_field fields[] = {
    {"fromTime", SX_KIT_STAT_TIME, 0, offsetof(fstats, from), 0},
    {"filesCreated", SX_KIT_STAT_INT, 0, C(0), 0},
    {"fileRecipients", SX_KIT_STAT_INT, 0, C(1), 0},
    {"filesUploaded", SX_KIT_STAT_INT, 0, C(2), 0},
    {"filesExpired", SX_KIT_STAT_INT, OPT, C(3), 0},
    {"filesDeleted", SX_KIT_STAT_INT, 0, C(4), 0},
    {"filesBlocked", SX_KIT_STAT_INT, OPT | KEEP, C(5), 0},
    {"filesCount", SX_KIT_STAT_INT, OPT | KEEP, C(6), 0},
    {"filesSize", SX_KIT_STAT_INT, OPT | KEEP, C(7), 0},
    {"filesDownloaded", SX_KIT_STAT_PERIOD, 0, offsetof(fstats, downloaded), 0},
    {"fileDownloads", SX_KIT_STAT_INT, 0, C(8), 0},
    {"fileDownloadAcks", SX_KIT_STAT_INT, 0, C(9), 0},
    {"activeQueues", SX_KIT_STAT_PERIOD, OPT, offsetof(fstats, active), 0},
    {"lastCount", SX_KIT_STAT_INT, OPT, C(10), 0},
};

static const sx_kit_stat_col cols[] = {
    {SX_KIT_COL_DATE, offsetof(fstats, from)},
    {SX_KIT_COL_VALUE, C(0)},
    {SX_KIT_COL_DAY, offsetof(fstats, downloaded)},
    {SX_KIT_COL_WEEK, offsetof(fstats, downloaded)},
    {SX_KIT_COL_MONTH, offsetof(fstats, downloaded)},
    {SX_KIT_COL_DAY, offsetof(fstats, active)},
    {SX_KIT_COL_VALUE, C(7)},
    {SX_KIT_COL_VALUE, C(10)},
};

static const sx_kit_stats_spec spec = {
    .fields = fields,
    .n_fields = sizeof fields / sizeof fields[0],
    .cols = cols,
    .n_cols = sizeof cols / sizeof cols[0],
    .file_max = 1 << 20,
};

#define MONDAY_THE_1ST 1704067200 /* 2024-01-01 */

static bool all_empty(const fstats *d)
{
    fstats zero;
    memset(&zero, 0, sizeof zero);
    return memcmp(d, &zero, sizeof zero) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sx_kit_stats_spec_valid(&spec))
        __builtin_trap();
    fstats d;
    memset(&d, 0xa5, sizeof d);
    size_t line = 0;
    sx_status st = sx_kit_stats_parse(&spec, (const char *)data, size, &d, &line);
    if (st != SX_OK) {
        if (st == SX_E_NOMEM)
            return 0;
        if ((st == SX_E_PROTOCOL) != (line >= 1) || (st != SX_E_PROTOCOL && st != SX_E_LIMIT) || !all_empty(&d))
            __builtin_trap();
        return 0;
    }
    if (line != 0)
        __builtin_trap();
    char *t1 = NULL, *t2 = NULL, *t3 = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0;
    fstats e, f;
    memset(&e, 0, sizeof e);
    memset(&f, 0, sizeof f);
    st = sx_kit_stats_encode(&spec, &d, &t1, &n1);
    if (st == SX_E_LIMIT || st == SX_E_NOMEM)
        goto out; /* the text can be longer than the input: optional lines
                   * missing there are written */
    if (st != SX_OK)
        __builtin_trap();
    if (sx_kit_stats_parse(&spec, t1, n1, &e, &line) != SX_OK || sx_kit_stats_encode(&spec, &e, &t2, &n2) != SX_OK ||
        n1 != n2 || memcmp(t1, t2, n1) != 0)
        __builtin_trap();
    if (sx_kit_stats_copy(&spec, &d, &f) != SX_OK || sx_kit_stats_encode(&spec, &f, &t3, &n3) != SX_OK ||
        n3 != n1 || memcmp(t3, t1, n1) != 0)
        __builtin_trap();
    char out[512];
    if (sx_kit_stats_daily_line(&spec, &d, MONDAY_THE_1ST, out, sizeof out) != SX_OK ||
        out[strlen(out) - 1] != '\n' || d.from != MONDAY_THE_1ST || d.downloaded.month.n != 0)
        __builtin_trap();
out:
    free(t1);
    free(t2);
    free(t3);
    sx_kit_stats_cleanup(&spec, &d);
    sx_kit_stats_cleanup(&spec, &e);
    sx_kit_stats_cleanup(&spec, &f);
    return 0;
}
