#include "kit/prom.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void iso_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        memset(&tm, 0, sizeof tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sx_kit_prom_begin(sx_kit_prom *o, size_t cap, int64_t now_ms, int64_t from_time)
{
    sx_writer_init_dynamic(&o->w, cap);
    snprintf(o->ts, sizeof o->ts, " %" PRId64, now_ms);
    char rec[32], from[32];
    iso_time(now_ms / 1000, rec, sizeof rec);
    iso_time(from_time, from, sizeof from);
    sx_kit_prom_put(o, "# Recorded at: %s\n# Stats from: %s\n\n", rec, from);
}

void sx_kit_prom_put(sx_kit_prom *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)sx_write_bytes(&o->w, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void sx_kit_prom_head(sx_kit_prom *o, const char *name, const char *type, const char *help)
{
    sx_kit_prom_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sx_kit_prom_sample(sx_kit_prom *o, const char *name, const char *labels, int64_t v, const char *comment)
{
    sx_kit_prom_put(o, "%s%s %" PRId64 "%s\n", name, labels ? labels : "", v, o->ts);
    if (comment)
        sx_kit_prom_put(o, "# %s\n", comment);
}

void sx_kit_prom_one(sx_kit_prom *o, const char *name, const char *type, const char *help, int64_t v,
                     const char *comment)
{
    sx_kit_prom_head(o, name, type, help);
    sx_kit_prom_sample(o, name, NULL, v, comment);
    sx_kit_prom_put(o, "\n");
}

sx_status sx_kit_prom_finish(sx_kit_prom *o, char **text, size_t *text_len)
{
    (void)sx_write_bytes(&o->w, "", 1);
    sx_status st = sx_writer_status(&o->w);
    if (st != SX_OK) {
        sx_writer_cleanup(&o->w);
        return st;
    }
    size_t n = 0;
    uint8_t *p = sx_writer_take(&o->w, &n);
    if (!p)
        return SX_E_NOMEM;
    *text = (char *)p;
    if (text_len)
        *text_len = n - 1;
    return SX_OK;
}

int64_t sx_kit_proc_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    int64_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Threads:", 8) != 0)
            continue;
        const char *p = line + 8;
        while (*p == ' ' || *p == '\t')
            p++;
        for (; *p >= '0' && *p <= '9' && n < 1000000000; p++)
            n = n * 10 + (*p - '0');
        break;
    }
    fclose(f);
    return n;
}
