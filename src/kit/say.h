/* Router kit: the routers' diagnostic lines on stderr, with a process-wide
 * level (`start --log-level`). Not the store log (logfile.h, logwriter.h):
 * these lines are for the operator and are never read back.
 *
 * A line looks like the reference's (its logger prints the level, the local
 * time with its offset and the source place in brackets, then the text):
 *
 *     [DEBUG 2025-01-31 12:00:00 +0100 server.c:123] client 5: closed (timeout)
 *
 * without the reference's terminal colours. Each line is formatted into a
 * buffer of its own and written with one write(2), so lines of different
 * threads do not mix. SX_SAY checks the level before anything is formatted:
 * a line below the level costs one relaxed load and a compare. */
#ifndef SX_KIT_SAY_H
#define SX_KIT_SAY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef enum sx_say_level {
    SX_SAY_TRACE,
    SX_SAY_DEBUG,
    SX_SAY_INFO, /* the default */
    SX_SAY_NOTE,
    SX_SAY_WARN,
    SX_SAY_ERROR,
} sx_say_level;

/* Longest line written (longer text is cut, the newline kept). */
#define SX_SAY_LINE_MAX 1024

extern int sx_say_min_level; /* read through sx_say_on; set with sx_say_set_level */

static inline bool sx_say_on(sx_say_level l)
{
    return (int)l >= __atomic_load_n(&sx_say_min_level, __ATOMIC_RELAXED);
}

/* Any thread, any time; lines from then on use the new level. */
void sx_say_set_level(sx_say_level l);
sx_say_level sx_say_level_get(void);
/* "trace", "debug", "info", "note", "warn", "error" (the reference's
 * --log-level words); false for anything else. */
bool sx_say_parse_level(const char *word, sx_say_level *out);
const char *sx_say_level_name(sx_say_level l); /* "DEBUG", ... */

/* Where lines go: stderr (2) unless a test points them elsewhere. */
void sx_say_set_fd(int fd);

/* Writes one line at level l whatever the level is (SX_SAY checks it). */
void sx_say_write(sx_say_level l, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The line as sx_say_write writes it, for time t (local time), into buf:
 * its length without the NUL, the newline included, at most cap - 1. */
size_t sx_say_format(char *buf, size_t cap, sx_say_level l, time_t t, const char *file, int line, const char *msg);

#define SX_SAY(level, ...)                                          \
    do {                                                            \
        if (sx_say_on(level))                                       \
            sx_say_write((level), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#endif
