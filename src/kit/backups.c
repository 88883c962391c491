/* Router kit: backup names and their pruning (see backups.h). */
#include "kit/backups.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400
#define BACKUP_KEEP_NEWER (1 * DAY) /* PROTOCOL-NOTES E26: backups newer than 24 h stay */
#define BACKUP_MIN_OLD 3            /* PROTOCOL-NOTES E26: of the older ones, 3 stay */
#define BACKUP_TTL (21 * DAY)       /* PROTOCOL-NOTES E26: the rest older than 21 days go */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* iso8601Show of a UTCTime: "YYYY-MM-DDTHH:MM:SS[.fraction]Z", the fraction
 * without trailing zeros and absent when zero. */
static void iso_time(int64_t sec, int32_t nsec, char out[48])
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (nsec > 0 && nsec < 1000000000) {
        char frac[16];
        snprintf(frac, sizeof frac, "%09d", (int)nsec);
        size_t k = strlen(frac);
        while (k > 0 && frac[k - 1] == '0')
            frac[--k] = 0;
        n += snprintf(out + n, 48 - (size_t)n, ".%s", frac);
    }
    snprintf(out + n, 48 - (size_t)n, "Z");
}

static bool digits_at(const char *s, size_t n, unsigned *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

/* Parses what iso_time writes (fraction up to 12 digits). */
static bool iso_parse(const char *s, int64_t *sec, int64_t *psec)
{
    unsigned y, mo, d, h, mi, se;
    size_t n = strlen(s);
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return false;
    if (!digits_at(s, 4, &y) || !digits_at(s + 5, 2, &mo) || !digits_at(s + 8, 2, &d) ||
        !digits_at(s + 11, 2, &h) || !digits_at(s + 14, 2, &mi) || !digits_at(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return false;
    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        size_t k = 0;
        i++;
        while (s[i] >= '0' && s[i] <= '9') {
            if (++k > 12)
                return false;
            frac = frac * 10 + (s[i++] - '0');
        }
        if (k == 0)
            return false;
        for (; k < 12; k++)
            frac *= 10;
    }
    if (s[i] != 'Z' || s[i + 1] != 0)
        return false;
    *sec = days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + se;
    *psec = frac;
    return true;
}

sx_status sx_kit_backup_name(const char *path, int64_t sec, int32_t nsec, char *out, size_t cap)
{
    char t[48];
    iso_time(sec, nsec, t);
    int n = snprintf(out, cap, "%s.%s", path, t);
    return n > 0 && (size_t)n < cap ? SX_OK : SX_E_LIMIT;
}

typedef struct backup {
    int64_t sec, psec;
    char *name;
} backup;

static int backup_cmp(const void *a, const void *b)
{
    const backup *x = a, *y = b;
    if (x->sec != y->sec)
        return x->sec < y->sec ? -1 : 1;
    return x->psec < y->psec ? -1 : x->psec > y->psec;
}

static bool before(const backup *b, int64_t sec, int64_t psec)
{
    return b->sec < sec || (b->sec == sec && b->psec < psec);
}

sx_status sx_kit_prune_backups(const char *path, int64_t now_sec, int32_t now_nsec,
                               const sx_kit_log_opts *o, size_t *removed)
{
    if (removed)
        *removed = 0;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    size_t blen = strlen(base);

    DIR *dh = opendir(dir);
    if (!dh)
        return SX_E_IO;
    backup *list = NULL;
    size_t n = 0, cap = 0;
    sx_status res = SX_OK;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        int64_t sec, psec;
        if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] != '.' ||
            !iso_parse(de->d_name + blen + 1, &sec, &psec))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            backup *nl = realloc(list, nc * sizeof *nl);
            if (!nl) {
                res = SX_E_NOMEM;
                break;
            }
            list = nl;
            cap = nc;
        }
        list[n].sec = sec;
        list[n].psec = psec;
        list[n].name = strdup(de->d_name);
        if (!list[n].name) {
            res = SX_E_NOMEM;
            break;
        }
        n++;
    }
    closedir(dh);
    if (res == SX_OK && n) {
        qsort(list, n, sizeof *list, backup_cmp);
        int64_t psec_now = (int64_t)now_nsec * 1000;
        size_t older = 0; /* sorted: the ones older than 24 h come first */
        while (older < n && before(&list[older], now_sec - BACKUP_KEEP_NEWER, psec_now))
            older++;
        size_t candidates = older > BACKUP_MIN_OLD ? older - BACKUP_MIN_OLD : 0;
        for (size_t i = 0; i < candidates; i++) {
            if (!before(&list[i], now_sec - BACKUP_TTL, psec_now))
                continue;
            char full[4096 + 256];
            snprintf(full, sizeof full, "%s/%s", dir, list[i].name);
            if (unlink(full) != 0) {
                res = SX_E_IO;
                continue;
            }
            sx_kit_log_report(o, SX_SAY_NOTE, "Removed backup %s", full);
            if (removed)
                (*removed)++;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(list[i].name);
    free(list);
    return res;
}
