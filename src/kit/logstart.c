/* Router kit: the store-log start-up sequence (see logstart.h). */
#include "kit/logstart.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "kit/backups.h"
#include "kit/paths.h"

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void now_of(const sx_kit_log_opts *o, int64_t *sec, int32_t *nsec)
{
    if (o && (o->now_sec || o->now_nsec)) {
        *sec = o->now_sec;
        *nsec = o->now_nsec;
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (int32_t)ts.tv_nsec;
}

sx_status sx_kit_log_start(const char *path, const sx_kit_log_opts *o, const sx_kit_log_owner *owner,
                           sx_kit_log **out)
{
    *out = NULL;
    char *tmp = sx_kit_path_with(path, ".start"), *bak = sx_kit_path_with(path, ".bak");
    char *timed = malloc(strlen(path) + 64);
    sx_status res = SX_E_NOMEM;
    sx_kit_log *log = NULL;
    int64_t sec;
    int32_t nsec;
    if (!tmp || !bak || !timed)
        goto done;
    res = SX_E_IO;
    if (file_exists(tmp)) {
        /* A compaction was cut short: its source is in .start, and whatever
         * was written after it is kept aside as .bak. */
        sx_kit_log_report(o, SX_SAY_WARN, "Server terminated abnormally on last start, restoring state from %s", tmp);
        if (file_exists(path)) {
            if (rename(path, bak) != 0)
                goto done;
            sx_kit_log_report(o, SX_SAY_NOTE, "preserved incomplete state %s as %s", path, bak);
        }
        if (rename(tmp, path) != 0)
            goto done;
        /* the sum file was the interrupted new log's, not this one's
         * (kit/logsum.h) */
        char *sum = sx_kit_path_with(path, ".sum");
        if (!sum)
            goto done;
        if (unlink(sum) == 0)
            sx_kit_log_report(o, SX_SAY_NOTE, "removed %s, the checksums of the incomplete state", sum);
        free(sum);
    }
    if (!file_exists(path)) {
        sx_kit_log_report(o, SX_SAY_NOTE, "creating store log...");
        res = sx_kit_log_open(path, true, o, &log);
        if (res == SX_OK)
            res = owner->snapshot(owner->ctx, log);
        goto done;
    }
    res = owner->replay(owner->ctx, path);
    if (res != SX_OK)
        goto done;
    if (owner->compact && owner->compact(owner->ctx) && sx_kit_log_reopen(path, o, &log) == SX_OK) {
        sx_kit_log_report(o, SX_SAY_NOTE, "store log %s is compact: kept as it is", path);
        now_of(o, &sec, &nsec);
        goto prune;
    }
    res = SX_E_IO;
    if (rename(path, tmp) != 0)
        goto done;
    sx_fs_sync_parent(path);
    sx_kit_log_report(o, SX_SAY_NOTE, "compacting store log (do not terminate)...");
    res = sx_kit_log_open(path, true, o, &log);
    if (res == SX_OK)
        res = owner->snapshot(owner->ctx, log);
    if (res != SX_OK)
        goto done;
    now_of(o, &sec, &nsec);
    res = sx_kit_backup_name(path, sec, nsec, timed, strlen(path) + 64);
    if (res != SX_OK)
        goto done;
    if (rename(tmp, timed) != 0) {
        res = SX_E_IO;
        goto done;
    }
    sx_fs_sync_parent(path);
    sx_kit_log_report(o, SX_SAY_NOTE, "original state preserved as %s", timed);
prune:
    res = sx_kit_prune_backups(path, sec, nsec, o, NULL);
    if (res != SX_OK)
        sx_kit_log_report(o, SX_SAY_WARN, "removing old backups failed: %s", sx_status_str(res));
    res = SX_OK;
done:
    if (res != SX_OK) {
        sx_kit_log_close(log);
        log = NULL;
    }
    *out = log;
    free(tmp);
    free(bak);
    free(timed);
    return res;
}
