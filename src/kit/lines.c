/* Router kit: reading and writing files of text lines (see lines.h). */
#include "kit/lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "crypto/util.h"
#include "kit/logsum.h"
#include "kit/paths.h"

#define LR_BUF (64u * 1024)
#define FLUSH_AT (256u * 1024) /* buffered file output */

/* ---- reading ---- */

sx_status sx_kit_linereader_open(sx_kit_linereader *lr, const char *path, bool *missing)
{
    memset(lr, 0, sizeof *lr);
    *missing = false;
    lr->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (lr->fd < 0) {
        *missing = errno == ENOENT;
        return SX_E_IO;
    }
    lr->buf = malloc(LR_BUF);
    if (!lr->buf) {
        close(lr->fd);
        return SX_E_NOMEM;
    }
    return SX_OK;
}

sx_status sx_kit_linereader_open_log(sx_kit_linereader *lr, const char *path, sx_kit_warn_cb warn,
                                     void *warn_arg, bool *missing)
{
    SX_TRY(sx_kit_linereader_open(lr, path, missing));
    lr->checked = true;
    lr->warn = warn;
    lr->warn_arg = warn_arg;
    lr->path = strdup(path);
    sx_status st = lr->path ? sx_kit_logsum_load(path, lr->fd, warn, warn_arg, &lr->sum) : SX_E_NOMEM;
    if (st != SX_OK)
        sx_kit_linereader_close(lr);
    return st;
}

void sx_kit_linereader_close(sx_kit_linereader *lr)
{
    if (lr->fd >= 0)
        close(lr->fd);
    if (lr->line)
        sx_wipe(lr->line, lr->cap);
    free(lr->line);
    free(lr->buf);
    sx_kit_logsum_free(lr->sum);
    free(lr->path);
    lr->sum = NULL;
    lr->path = NULL;
    lr->line = lr->buf = NULL;
    lr->fd = -1;
}

static sx_status lr_fill(sx_kit_linereader *lr)
{
    while (lr->pos == lr->end && !lr->eof) {
        ssize_t n = read(lr->fd, lr->buf, LR_BUF);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return SX_E_IO;
        }
        if (n == 0)
            lr->eof = true;
        lr->pos = 0;
        lr->end = (size_t)n;
    }
    return SX_OK;
}

/* One line; *total is its whole length without the '\n' (more than len
 * when too long), *crc its CRC-32C when the log has checksums. */
static sx_status raw_next(sx_kit_linereader *lr, bool *got, bool *too_long, size_t *total, bool *has_nl,
                          uint32_t *crc)
{
    lr->len = 0;
    *got = *too_long = *has_nl = false;
    *total = 0;
    *crc = 0;
    for (;;) {
        SX_TRY(lr_fill(lr));
        if (lr->pos == lr->end)
            return SX_OK; /* end of file: *got tells whether a last line was read */
        *got = true;
        uint8_t *start = lr->buf + lr->pos;
        uint8_t *nl = memchr(start, '\n', lr->end - lr->pos);
        size_t chunk = nl ? (size_t)(nl - start) : lr->end - lr->pos;
        if (lr->sum)
            *crc = sx_kit_crc32c(*crc, start, chunk);
        *total += chunk;
        size_t keep = chunk;
        if (lr->len + keep > SX_KIT_LINE_MAX) {
            keep = SX_KIT_LINE_MAX - lr->len;
            *too_long = true;
        }
        if (lr->len + keep > lr->cap) {
            size_t cap = lr->cap ? lr->cap : 4096;
            while (cap < lr->len + keep)
                cap *= 2;
            uint8_t *n = realloc(lr->line, cap);
            if (!n)
                return SX_E_NOMEM;
            lr->line = n;
            lr->cap = cap;
        }
        if (keep)
            memcpy(lr->line + lr->len, start, keep);
        lr->len += keep;
        lr->pos += chunk;
        if (nl) {
            lr->pos++;
            *has_nl = true;
            return SX_OK;
        }
    }
}

/* At the end of a checked log: what was skipped and what was not checked. */
static void report_end(sx_kit_linereader *lr)
{
    if (!lr->checked || lr->reported)
        return;
    lr->reported = true;
    if (lr->n_unchecked && lr->sum)
        sx_kit_report(lr->warn, lr->warn_arg,
                      "store log %s: %zu lines from line %zu have no checksum (written last before a crash or a "
                      "power cut?): restored unchecked",
                      lr->path, lr->n_unchecked, lr->first_unchecked);
    if (lr->n_damaged)
        sx_kit_report(lr->warn, lr->warn_arg, "store log %s: %zu damaged lines skipped", lr->path, lr->n_damaged);
}

sx_status sx_kit_linereader_next(sx_kit_linereader *lr, bool *got, bool *too_long)
{
    for (;;) {
        size_t total;
        bool has_nl;
        uint32_t crc;
        uint64_t at = lr->off;
        SX_TRY(raw_next(lr, got, too_long, &total, &has_nl, &crc));
        if (!*got) {
            report_end(lr);
            return SX_OK;
        }
        lr->lineno++;
        lr->off += total + (has_nl ? 1 : 0);
        if (!lr->sum)
            return SX_OK;
        sx_kit_logsum_verdict v = sx_kit_logsum_verify(lr->sum, at, total, has_nl, crc);
        if (v == SX_KIT_LOGSUM_GOOD)
            return SX_OK;
        if (v == SX_KIT_LOGSUM_UNCHECKED) {
            if (lr->n_unchecked++ == 0)
                lr->first_unchecked = lr->lineno;
            return SX_OK;
        }
        lr->n_damaged++;
        sx_kit_report(lr->warn, lr->warn_arg,
                      "store log %s, line %zu: damaged (%s), skipped", lr->path, lr->lineno,
                      has_nl ? "its checksum does not match" : "cut short");
    }
}

sx_status sx_kit_linereader_more(sx_kit_linereader *lr, bool *more)
{
    SX_TRY(lr_fill(lr));
    *more = lr->pos < lr->end;
    return SX_OK;
}

const char *sx_kit_line_excerpt(sx_slice line, char out[SX_KIT_EXCERPT_SIZE])
{
    size_t n = line.len < 100 ? line.len : 100;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = line.ptr[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = 0;
    return out;
}

/* ---- writing ---- */

void sx_kit_linebuf_init(sx_kit_linebuf *b, int fd)
{
    memset(b, 0, sizeof *b);
    b->fd = fd;
    b->sum_fd = -1;
    sx_writer_init_dynamic(&b->w, FLUSH_AT + SX_KIT_LINE_MAX + 2);
}

static void flush(sx_kit_linebuf *b)
{
    if (b->err == SX_OK && b->w.len && b->sum_fd >= 0 &&
        sx_kit_logsum_append(b->sum_fd, b->off, b->w.buf, b->w.len) != SX_OK) {
        b->sum_fd = -1;
        b->sum_failed = true;
    }
    if (b->err == SX_OK && b->w.len) {
        b->err = sx_fd_write_all(b->fd, b->w.buf, b->w.len);
        b->off += b->w.len;
    }
    sx_writer_cleanup(&b->w);
    sx_writer_init_dynamic(&b->w, FLUSH_AT + SX_KIT_LINE_MAX + 2);
}

void sx_kit_linebuf_end_line(sx_kit_linebuf *b, size_t line_start, bool ok)
{
    if (!ok || sx_writer_status(&b->w) != SX_OK || b->w.len - line_start > SX_KIT_LINE_MAX) {
        if (b->err == SX_OK)
            b->err = sx_writer_status(&b->w) != SX_OK ? sx_writer_status(&b->w) : SX_E_LIMIT;
        return;
    }
    sx_write_str(&b->w, "\n");
    b->count++;
    if (b->w.len >= FLUSH_AT)
        flush(b);
}

sx_status sx_kit_linebuf_finish(sx_kit_linebuf *b)
{
    flush(b);
    sx_writer_cleanup(&b->w);
    return b->err;
}

sx_status sx_kit_save_lines(const char *path, sx_kit_fill_fn fill, void *arg, size_t *count)
{
    if (count)
        *count = 0;
    char *tmp = sx_kit_path_with(path, ".tmp");
    if (!tmp)
        return SX_E_NOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    /* a .tmp left with a wider mode keeps it through O_CREAT: the lines
     * hold secrets (message bodies, keys) */
    if (fd >= 0 && fchmod(fd, 0600) != 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        free(tmp);
        return SX_E_IO;
    }
    sx_kit_linebuf b;
    sx_kit_linebuf_init(&b, fd);
    fill(&b, arg);
    sx_status res = sx_kit_linebuf_finish(&b);
    if (res == SX_OK && fsync(fd) != 0)
        res = SX_E_IO;
    if (close(fd) != 0 && res == SX_OK)
        res = SX_E_IO;
    if (res == SX_OK && rename(tmp, path) != 0)
        res = SX_E_IO;
    if (res == SX_OK)
        sx_fs_sync_parent(path);
    else
        unlink(tmp);
    free(tmp);
    if (count && res == SX_OK)
        *count = b.count;
    return res;
}
