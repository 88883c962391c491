/* Router kit: files of '\n'-terminated text lines, the form of every log a
 * router keeps (PROTOCOL-NOTES E25, E27, E28, F27): reading them line by line
 * with a bound on the line length, writing them through a buffer, and
 * replacing a whole file at once (through "<path>.tmp"). */
#ifndef SX_KIT_LINES_H
#define SX_KIT_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "kit/report.h"
#include "simplex/status.h"

#define SX_KIT_LINE_MAX (1u << 20) /* longer lines are reported and skipped */
#define SX_KIT_EXCERPT_SIZE 104    /* sx_kit_line_excerpt's buffer */

/* ---- reading ---- */

/* '\n'-separated lines; the last one may lack its '\n'. The current line is
 * line[0..len) until the next call; fd may be used for fstat. */
typedef struct sx_kit_linereader {
    int fd;
    uint8_t *buf;
    size_t pos, end;
    bool eof;
    uint8_t *line;
    size_t len, cap;
    /* sx_kit_linereader_open_log: the log's checksums (kit/logsum.h; NULL
     * when it has none) and where reports go */
    struct sx_kit_logsum_check *sum;
    bool checked, reported;
    char *path;
    sx_kit_warn_cb warn;
    void *warn_arg;
    uint64_t off;       /* offset of the next line */
    size_t lineno;      /* the current line's number, from 1 */
    size_t n_damaged;   /* lines skipped as damaged */
    size_t n_unchecked; /* lines returned without a checksum */
    size_t first_unchecked;
} sx_kit_linereader;

/* Opens path. SX_E_IO (*missing set when the file does not exist; nothing to
 * close then), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_linereader_open(sx_kit_linereader *lr, const char *path, bool *missing);
/* Opens a store log with its checksums ("<path>.sum", kit/logsum.h) as
 * sx_kit_linereader_open does: sx_kit_linereader_next then skips every
 * damaged line, reporting it with its line number through warn (NULL:
 * stderr), and at the end of the file reports the lines it returned
 * unchecked (no checksum for them) and the count of damaged ones. A log
 * without a sum file, or with one of another file, is read unchecked, and
 * that is reported. */
SX_MUST_CHECK sx_status sx_kit_linereader_open_log(sx_kit_linereader *lr, const char *path, sx_kit_warn_cb warn,
                                                   void *warn_arg, bool *missing);
/* Next line into lr->line/len. *got false at the end of the file; *too_long
 * when the line was over SX_KIT_LINE_MAX (its start is kept). SX_E_IO,
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_linereader_next(sx_kit_linereader *lr, bool *got, bool *too_long);
/* Whether another line follows the current one. */
SX_MUST_CHECK sx_status sx_kit_linereader_more(sx_kit_linereader *lr, bool *more);
/* Closes the file and wipes the line buffer. */
void sx_kit_linereader_close(sx_kit_linereader *lr);

/* Printable start of a line for a report (at most 100 bytes, other bytes
 * shown as '?'); returns out. */
const char *sx_kit_line_excerpt(sx_slice line, char out[SX_KIT_EXCERPT_SIZE]);

/* ---- writing ---- */

/* Lines encoded into a dynamic writer and written to fd in large chunks. The
 * first failure is kept in err and stops the writing; count is the number of
 * lines ended. */
typedef struct sx_kit_linebuf {
    int fd;
    sx_writer w;
    sx_status err;
    size_t count;
    /* -1 (the default), or a store log's sum file (kit/logsum.h) that gets
     * the entries of the lines written, which start at offset off of fd;
     * set to -1 again when writing it failed (sum_failed) */
    int sum_fd;
    uint64_t off;
    bool sum_failed;
} sx_kit_linebuf;

void sx_kit_linebuf_init(sx_kit_linebuf *b, int fd);
/* Ends the line encoded into b->w from line_start (adds its '\n'), or, when
 * ok is false, the encoding failed or the line is over SX_KIT_LINE_MAX,
 * records the failure. Writes out when enough is buffered. */
void sx_kit_linebuf_end_line(sx_kit_linebuf *b, size_t line_start, bool ok);
/* Writes out what is buffered, frees the buffer and returns b->err. */
SX_MUST_CHECK sx_status sx_kit_linebuf_finish(sx_kit_linebuf *b);

/* Fills b with lines (sets b->err to stop with an error). */
typedef void (*sx_kit_fill_fn)(sx_kit_linebuf *b, void *arg);

/* Writes a whole file: fill's lines into "<path>.tmp", synced, renamed to
 * path, the folder synced; on failure the .tmp file is removed. *count (may
 * be NULL) receives the number of lines. SX_E_IO, SX_E_NOMEM, or fill's
 * error. */
SX_MUST_CHECK sx_status sx_kit_save_lines(const char *path, sx_kit_fill_fn fill, void *arg, size_t *count);

#endif
