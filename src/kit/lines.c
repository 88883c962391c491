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

void sx_kit_linereader_close(sx_kit_linereader *lr)
{
    if (lr->fd >= 0)
        close(lr->fd);
    if (lr->line)
        sx_wipe(lr->line, lr->cap);
    free(lr->line);
    free(lr->buf);
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

sx_status sx_kit_linereader_next(sx_kit_linereader *lr, bool *got, bool *too_long)
{
    lr->len = 0;
    *got = *too_long = false;
    for (;;) {
        SX_TRY(lr_fill(lr));
        if (lr->pos == lr->end)
            return SX_OK; /* end of file: *got tells whether a last line was read */
        *got = true;
        uint8_t *start = lr->buf + lr->pos;
        uint8_t *nl = memchr(start, '\n', lr->end - lr->pos);
        size_t chunk = nl ? (size_t)(nl - start) : lr->end - lr->pos;
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
            return SX_OK;
        }
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
    sx_writer_init_dynamic(&b->w, FLUSH_AT + SX_KIT_LINE_MAX + 2);
}

static void flush(sx_kit_linebuf *b)
{
    if (b->err == SX_OK && b->w.len)
        b->err = sx_fd_write_all(b->fd, b->w.buf, b->w.len);
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
