/* Router kit: diagnostic lines with a level (see say.h). */
#include "kit/say.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sx_say_min_level = SX_SAY_INFO;
static int say_fd = 2;

static const char *const level_words[] = {"trace", "debug", "info", "note", "warn", "error"};
static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "NOTE", "WARN", "ERROR"};

void sx_say_set_level(sx_say_level l)
{
    __atomic_store_n(&sx_say_min_level, (int)l, __ATOMIC_RELAXED);
}

sx_say_level sx_say_level_get(void)
{
    return (sx_say_level)__atomic_load_n(&sx_say_min_level, __ATOMIC_RELAXED);
}

bool sx_say_parse_level(const char *word, sx_say_level *out)
{
    for (size_t i = 0; i < sizeof level_words / sizeof level_words[0]; i++)
        if (strcmp(word, level_words[i]) == 0) {
            *out = (sx_say_level)i;
            return true;
        }
    return false;
}

const char *sx_say_level_name(sx_say_level l)
{
    return (unsigned)l < sizeof level_names / sizeof level_names[0] ? level_names[l] : "?";
}

void sx_say_set_fd(int fd)
{
    __atomic_store_n(&say_fd, fd, __ATOMIC_RELAXED);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

size_t sx_say_format(char *buf, size_t cap, sx_say_level l, time_t t, const char *file, int line, const char *msg)
{
    if (cap < 2) {
        if (cap)
            buf[0] = 0;
        return 0;
    }
    struct tm tm;
    char when[64] = "";
    if (localtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);
    int n = snprintf(buf, cap - 1, "[%s %s %s:%d] %s", sx_say_level_name(l), when, base_name(file), line, msg);
    size_t len = n < 0 ? 0 : (size_t)n < cap - 1 ? (size_t)n
                                                 : cap - 2;
    buf[len++] = '\n';
    buf[len] = 0;
    return len;
}

void sx_say_write(sx_say_level l, const char *file, int line, const char *fmt, ...)
{
    char msg[SX_SAY_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char out[SX_SAY_LINE_MAX + 128];
    size_t len = sx_say_format(out, sizeof out, l, time(NULL), file, line, msg);
    int fd = __atomic_load_n(&say_fd, __ATOMIC_RELAXED);
    const char *p = out;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to say it */
        p += w;
        len -= (size_t)w;
    }
}
