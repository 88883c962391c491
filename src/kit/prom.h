/* Router kit: the pieces of the routers' metrics files in the Prometheus
 * text format as the reference writes them: the two header lines, HELP and
 * TYPE, samples stamped with the time they were made followed by the
 * reference's comment naming their source; and the process's thread count
 * the files report. Each router lists its own metrics with these. */
#ifndef SX_KIT_PROM_H
#define SX_KIT_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "core/writer.h"
#include "simplex/status.h"

typedef struct sx_kit_prom {
    sx_writer w;
    char ts[24]; /* " <unix ms>" after each sample */
} sx_kit_prom;

/* Starts a text of at most cap bytes with "# Recorded at:" now_ms and
 * "# Stats from:" from_time (seconds), then an empty line. */
void sx_kit_prom_begin(sx_kit_prom *o, size_t cap, int64_t now_ms, int64_t from_time);
/* Appends formatted text (one piece cut at 511 bytes). */
void sx_kit_prom_put(sx_kit_prom *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "# HELP name help" and "# TYPE name type". */
void sx_kit_prom_head(sx_kit_prom *o, const char *name, const char *type, const char *help);
/* "name{labels} v <time>" (labels may be NULL), then "# comment" if any. */
void sx_kit_prom_sample(sx_kit_prom *o, const char *name, const char *labels, int64_t v, const char *comment);
/* A metric of one sample: head, sample, an empty line. */
void sx_kit_prom_one(sx_kit_prom *o, const char *name, const char *type, const char *help, int64_t v,
                     const char *comment);
/* Ends the text: *text (NUL-terminated, the caller frees it) and its length
 * without the NUL; the writer's error otherwise (nothing to free). */
SX_MUST_CHECK sx_status sx_kit_prom_finish(sx_kit_prom *o, char **text, size_t *text_len);

/* The process's threads ("Threads:" of /proc/self/status), 0 if unknown. */
int64_t sx_kit_proc_threads(void);

#endif
