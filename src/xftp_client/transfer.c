/* Whole-file XFTP send / receive / delete / info on top of the client
 * connection. Files are streamed through fixed buffers: the encrypted
 * temporary file is written and hashed in one pass, chunks are uploaded
 * from it by offset, downloaded chunks go to a temporary folder and are
 * decrypted from there into the destination. Chunks move on a few threads,
 * one per router group (see par_run_items). */
#define _GNU_SOURCE
#include "xftp_client/transfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/base64.h"
#include "core/fileio.h"
#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"

#define BUF_LEN 65536
#define HEADER_WINDOW 1024 /* the header must be in the first 1024 content bytes */

static void set_err(const sx_xftp_transfer_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(const sx_xftp_transfer_opts *o, const char *fmt, ...)
{
    if (!o || !o->errbuf || o->errbuf_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->errbuf, o->errbuf_len, fmt, ap);
    va_end(ap);
}

static void set_code(const sx_xftp_transfer_opts *o, const char *code)
{
    if (o && o->errcode && o->errcode_len > 0)
        snprintf(o->errcode, o->errcode_len, "%s", code);
}

static void progress(const sx_xftp_transfer_opts *o, const char *phase, int64_t done,
                     int64_t total)
{
    if (o && o->progress)
        o->progress(o->progress_ud, phase, done, total);
}

static int retries(const sx_xftp_transfer_opts *o)
{
    return o && o->retry > 0 ? o->retry : SX_XFTP_DEFAULT_RETRY;
}

static const char *tmp_dir(const sx_xftp_transfer_opts *o)
{
    if (o && o->tmp_dir)
        return o->tmp_dir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static sx_status read_some(int fd, uint8_t *p, size_t cap, size_t *n)
{
    ssize_t k;
    do
        k = read(fd, p, cap);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return SX_E_IO;
    *n = (size_t)k;
    return SX_OK;
}

sx_status sx_xftp_unique_path(const char *dir, const char *name, char *out, size_t cap)
{
    SX_ENSURE(dir && name && out, SX_E_USAGE);
    const char *dot = strchr(name, '.');
    size_t stem = dot ? (size_t)(dot - name) : strlen(name);
    const char *ext = dot ? dot : "";
    for (unsigned n = 0; n < 100000; n++) {
        int k = n == 0 ? snprintf(out, cap, "%s/%s", dir, name)
                       : snprintf(out, cap, "%s/%.*s_%u%s", dir, (int)stem, name, n, ext);
        if (k < 0 || (size_t)k >= cap)
            return SX_E_LIMIT;
        struct stat st;
        if (lstat(out, &st) != 0 && errno == ENOENT)
            return SX_OK;
    }
    return SX_E_LIMIT;
}

/* A fresh name in the temporary folder: random, so that several xftp
 * processes sharing the folder never race for the same name between the
 * existence check and the exclusive create. */
static sx_status temp_path(const sx_xftp_transfer_opts *o, char *out, size_t cap)
{
    uint8_t r[8];
    sx_random_bytes(r, sizeof r);
    char name[64];
    snprintf(name, sizeof name, "xftp_%02x%02x%02x%02x%02x%02x%02x%02x.encrypted", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7]);
    return sx_xftp_unique_path(tmp_dir(o), name, out, cap);
}

/* ---- encryption ---------------------------------------------------------- */

/* The encrypted stream's sink: file, SHA-512 of all, SHA-256 per chunk. */
typedef struct enc_sink {
    int fd;
    sx_hash_ctx all, chunk;
    sx_xftp_encrypted *e;
    size_t idx;      /* current chunk */
    uint32_t in_chunk;
} enc_sink;

static sx_status sink_put(enc_sink *s, const uint8_t *p, size_t n)
{
    SX_TRY(sx_fd_write_all(s->fd, p, n));
    SX_TRY(sx_hash_update(&s->all, sx_slice_of(p, n)));
    while (n > 0) {
        if (s->idx >= s->e->chunk_count)
            return SX_E_INTERNAL;
        uint32_t room = s->e->chunk_sizes[s->idx] - s->in_chunk;
        size_t take = n < room ? n : room;
        SX_TRY(sx_hash_update(&s->chunk, sx_slice_of(p, take)));
        s->in_chunk += (uint32_t)take;
        p += take;
        n -= take;
        if (s->in_chunk == s->e->chunk_sizes[s->idx]) {
            SX_TRY(sx_hash_final(&s->chunk, s->e->chunk_digests[s->idx], 32));
            s->idx++;
            s->in_chunk = 0;
            if (s->idx < s->e->chunk_count)
                SX_TRY(sx_hash_init(&s->chunk, SX_HASH_SHA256));
        }
    }
    return SX_OK;
}

void sx_xftp_encrypted_cleanup(sx_xftp_encrypted *e)
{
    if (!e)
        return;
    free(e->chunk_sizes);
    free(e->chunk_digests);
    sx_wipe(e, sizeof *e);
}

static sx_status encrypt_stream(int in, int64_t size, sx_slice hdr, enc_sink *s, uint8_t *buf,
                                uint8_t *obuf)
{
    sx_xftp_encrypted *e = s->e;
    sx_xftp_file_enc enc;
    uint8_t len8[SX_XFTP_FILE_LEN_HEADER];
    SX_TRY(sx_xftp_file_encrypt_init(&enc, e->key, e->nonce, (int64_t)hdr.len + size, e->enc_size,
                                     len8));
    sx_status st = sink_put(s, len8, sizeof len8);
    if (st == SX_OK)
        st = sx_xftp_file_encrypt_update(&enc, hdr, obuf);
    if (st == SX_OK)
        st = sink_put(s, obuf, hdr.len);
    int64_t left = size;
    while (st == SX_OK && left > 0) {
        size_t n = 0;
        st = read_some(in, buf, left < BUF_LEN ? (size_t)left : BUF_LEN, &n);
        if (st == SX_OK && n == 0)
            st = SX_E_IO; /* the file shrank while reading */
        if (st == SX_OK)
            st = sx_xftp_file_encrypt_update(&enc, sx_slice_of(buf, n), obuf);
        if (st == SX_OK)
            st = sink_put(s, obuf, n);
        left -= (int64_t)n;
    }
    for (;;) {
        size_t n = 0;
        if (st == SX_OK)
            st = sx_xftp_file_encrypt_pad(&enc, obuf, BUF_LEN, &n);
        if (st != SX_OK || n == 0)
            break;
        st = sink_put(s, obuf, n);
    }
    uint8_t tag[SX_XFTP_SB_TAG_LEN];
    if (st == SX_OK)
        st = sx_xftp_file_encrypt_final(&enc, tag);
    if (st == SX_OK)
        st = sink_put(s, tag, sizeof tag);
    sx_wipe(&enc, sizeof enc);
    return st;
}

sx_status sx_xftp_encrypt_file(const char *src, const char *file_name, const char *enc_path,
                               sx_xftp_encrypted *out)
{
    SX_ENSURE(src && file_name && enc_path && out, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    uint8_t hbuf[600];
    sx_writer w;
    sx_writer_init_fixed(&w, hbuf, sizeof hbuf);
    sx_xftp_file_header fh = {.name = sx_slice_str(file_name)};
    (void)sx_xftp_file_header_write(&w, &fh);
    SX_TRY(sx_writer_status(&w));
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return SX_E_IO;
    struct stat sb;
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(in);
        return SX_E_IO;
    }
    if (sb.st_size > SX_XFTP_MAX_FILE_SIZE) {
        close(in);
        return SX_E_LIMIT;
    }
    sx_status st = SX_OK;
    int outfd = -1;
    uint8_t *buf = malloc(BUF_LEN), *obuf = malloc(BUF_LEN);
    out->chunk_sizes = calloc(SX_XFTP_MAX_CHUNKS, sizeof *out->chunk_sizes);
    if (!buf || !obuf || !out->chunk_sizes)
        st = SX_E_NOMEM;
    int64_t content = (int64_t)w.len + sb.st_size;
    if (st == SX_OK)
        st = sx_xftp_chunk_sizes(sx_xftp_payload_size(content), out->chunk_sizes,
                                 SX_XFTP_MAX_CHUNKS, &out->chunk_count);
    if (st == SX_OK) {
        out->chunk_digests = calloc(out->chunk_count, sizeof *out->chunk_digests);
        if (!out->chunk_digests)
            st = SX_E_NOMEM;
    }
    for (size_t i = 0; st == SX_OK && i < out->chunk_count; i++)
        out->enc_size += out->chunk_sizes[i];
    sx_random_bytes(out->key, sizeof out->key);
    sx_random_bytes(out->nonce, sizeof out->nonce);
    enc_sink s;
    memset(&s, 0, sizeof s);
    s.e = out;
    if (st == SX_OK) {
        outfd = open(enc_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (outfd < 0)
            st = SX_E_IO;
    }
    s.fd = outfd;
    if (st == SX_OK)
        st = sx_hash_init(&s.all, SX_HASH_SHA512);
    if (st == SX_OK)
        st = sx_hash_init(&s.chunk, SX_HASH_SHA256);
    if (st == SX_OK)
        st = encrypt_stream(in, sb.st_size, sx_writer_slice(&w), &s, buf, obuf);
    if (st == SX_OK && s.idx != out->chunk_count)
        st = SX_E_INTERNAL;
    if (st == SX_OK)
        st = sx_hash_final(&s.all, out->digest, sizeof out->digest);
    sx_hash_cleanup(&s.all);
    sx_hash_cleanup(&s.chunk);
    if (outfd >= 0 && close(outfd) != 0 && st == SX_OK)
        st = SX_E_IO;
    close(in);
    free(buf);
    if (obuf)
        sx_wipe(obuf, BUF_LEN);
    free(obuf);
    if (st != SX_OK) {
        if (outfd >= 0)
            unlink(enc_path);
        sx_xftp_encrypted_cleanup(out);
    }
    return st;
}

/* ---- decryption ---------------------------------------------------------- */

typedef struct dec_out {
    const char *dest;
    char *path;
    size_t cap;
    int fd;
    uint8_t hdr[HEADER_WINDOW];
    size_t hdr_len;
    bool hdr_done;
} dec_out;

/* The file name of a header must name a file inside the destination. */
static bool name_ok(sx_slice n)
{
    if (n.len == 0 || memchr(n.ptr, '/', n.len) || memchr(n.ptr, '\0', n.len))
        return false;
    if ((n.len == 1 && n.ptr[0] == '.') || (n.len == 2 && n.ptr[0] == '.' && n.ptr[1] == '.'))
        return false;
    return true;
}

/* The header's name matters only when the destination is a folder: a fixed
 * destination path (the redirect description) ignores it, as the reference
 * does, so an empty name there (xftp-web's redirects) is fine. */
static sx_status open_dest(dec_out *o, sx_slice name)
{
    struct stat st;
    if (stat(o->dest, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return SX_E_USAGE; /* "File already exists" */
        if (!name_ok(name) || name.len > 255)
            return SX_E_PROTOCOL;
        char nm[256];
        memcpy(nm, name.ptr, name.len);
        nm[name.len] = '\0';
        SX_TRY(sx_xftp_unique_path(o->dest, nm, o->path, o->cap));
    } else {
        int k = snprintf(o->path, o->cap, "%s", o->dest);
        if (k < 0 || (size_t)k >= o->cap)
            return SX_E_LIMIT;
    }
    o->fd = open(o->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    return o->fd < 0 ? SX_E_IO : SX_OK;
}

static sx_status dec_content(dec_out *o, const sx_xftp_file_dec *d, sx_slice c)
{
    if (!o->hdr_done) {
        int64_t need64 = d->content_len < HEADER_WINDOW ? d->content_len : HEADER_WINDOW;
        size_t need = (size_t)need64;
        size_t take = need - o->hdr_len;
        if (take > c.len)
            take = c.len;
        memcpy(o->hdr + o->hdr_len, c.ptr, take);
        o->hdr_len += take;
        c.ptr += take;
        c.len -= take;
        if (o->hdr_len < need)
            return SX_OK;
        sx_xftp_file_header h;
        size_t used = 0;
        SX_TRY(sx_xftp_file_header_decode(sx_slice_of(o->hdr, o->hdr_len), &h, &used));
        SX_TRY(open_dest(o, h.name));
        o->hdr_done = true;
        SX_TRY(sx_fd_write_all(o->fd, o->hdr + used, o->hdr_len - used));
    }
    return sx_fd_write_all(o->fd, c.ptr, c.len);
}

sx_status sx_xftp_decrypt_chunks(const char *const *chunk_paths, size_t n, int64_t enc_size,
                                 const uint8_t *key, const uint8_t *nonce, const char *dest,
                                 char *out_path, size_t cap)
{
    SX_ENSURE(chunk_paths && n > 0 && key && nonce && dest && out_path && cap > 0, SX_E_USAGE);
    SX_ENSURE(enc_size > SX_XFTP_SB_TAG_LEN, SX_E_PROTOCOL);
    out_path[0] = '\0';
    sx_xftp_file_dec d;
    SX_TRY(sx_xftp_file_decrypt_init(&d, key, nonce, enc_size));
    dec_out o;
    memset(&o, 0, sizeof o);
    o.dest = dest;
    o.path = out_path;
    o.cap = cap;
    o.fd = -1;
    uint8_t *buf = malloc(BUF_LEN);
    uint8_t tag[SX_XFTP_SB_TAG_LEN];
    size_t tag_len = 0;
    int64_t body = enc_size - SX_XFTP_SB_TAG_LEN, pos = 0;
    sx_status st = buf ? SX_OK : SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < n; i++) {
        int fd = open(chunk_paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            st = SX_E_IO;
            break;
        }
        for (;;) {
            size_t got = 0;
            st = read_some(fd, buf, BUF_LEN, &got);
            if (st != SX_OK || got == 0)
                break;
            size_t off = 0;
            if (pos < body) {
                size_t take = body - pos < (int64_t)got ? (size_t)(body - pos) : got;
                sx_slice content;
                st = sx_xftp_file_decrypt_update(&d, sx_slice_of(buf, take), buf, &content);
                if (st == SX_OK)
                    st = dec_content(&o, &d, content);
                if (st != SX_OK)
                    break;
                pos += (int64_t)take;
                off = take;
            }
            if (off < got) {
                if (tag_len + (got - off) > sizeof tag) {
                    st = SX_E_PROTOCOL; /* more than enc_size bytes */
                    break;
                }
                memcpy(tag + tag_len, buf + off, got - off);
                tag_len += got - off;
                pos += (int64_t)(got - off);
            }
        }
        close(fd);
    }
    int64_t content_len = 0;
    if (st == SX_OK && (pos != enc_size || tag_len != sizeof tag))
        st = SX_E_PROTOCOL;
    if (st == SX_OK && !o.hdr_done)
        st = SX_E_PROTOCOL;
    if (st == SX_OK)
        st = sx_xftp_file_decrypt_final(&d, sx_slice_of(tag, tag_len), &content_len);
    else
        sx_wipe(&d, sizeof d);
    if (o.fd >= 0 && close(o.fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    if (st != SX_OK && o.fd >= 0)
        unlink(out_path);
    if (buf)
        sx_wipe(buf, BUF_LEN);
    free(buf);
    return st;
}

/* ---- descriptions -------------------------------------------------------- */

static const char WEB_PREFIX[] = "https://";

/* Raw DEFLATE (zlib, window bits -15) of in into a heap buffer. */
static sx_status deflate_raw(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return SX_E_NOMEM;
    size_t cap = deflateBound(&z, (uLong)len);
    uint8_t *b = malloc(cap);
    if (!b) {
        deflateEnd(&z);
        return SX_E_NOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = b;
    z.avail_out = (uInt)cap;
    int rv = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rv != Z_STREAM_END) {
        free(b);
        return SX_E_INTERNAL;
    }
    *out = b;
    return SX_OK;
}

static sx_status inflate_raw(const uint8_t *in, size_t len, char **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK)
        return SX_E_NOMEM;
    size_t cap = SX_XFTP_FD_TEXT_MAX;
    char *b = malloc(cap + 1);
    if (!b) {
        inflateEnd(&z);
        return SX_E_NOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)b;
    z.avail_out = (uInt)cap;
    int rv = inflate(&z, Z_FINISH);
    *out_len = z.total_out;
    inflateEnd(&z);
    if (rv != Z_STREAM_END) {
        free(b);
        return rv == Z_BUF_ERROR && *out_len == cap ? SX_E_LIMIT : SX_E_PROTOCOL;
    }
    b[*out_len] = '\0';
    *out = b;
    return SX_OK;
}

static sx_status read_text_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SX_E_IO;
    char *b = malloc(SX_XFTP_FD_TEXT_MAX + 1);
    size_t n = 0;
    sx_status st = b ? SX_OK : SX_E_NOMEM;
    while (st == SX_OK) {
        size_t got = 0;
        if (n == SX_XFTP_FD_TEXT_MAX + 1) {
            st = SX_E_LIMIT;
            break;
        }
        st = read_some(fd, (uint8_t *)b + n, SX_XFTP_FD_TEXT_MAX + 1 - n, &got);
        if (got == 0)
            break;
        n += got;
    }
    close(fd);
    if (st == SX_OK && n > SX_XFTP_FD_TEXT_MAX)
        st = SX_E_LIMIT;
    if (st != SX_OK) {
        free(b);
        return st;
    }
    *out = b;
    *len = n;
    return SX_OK;
}

sx_status sx_xftp_read_description(const char *src, sx_xftp_fd *out, char *errbuf, size_t errlen)
{
    SX_ENSURE(src && out, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    sx_status st;
    bool web = strncmp(src, WEB_PREFIX, sizeof WEB_PREFIX - 1) == 0 ||
               strncmp(src, "http://", 7) == 0;
    if (web) {
        const char *h = strchr(src, '#');
        if (!h || !h[1]) {
            if (errbuf)
                snprintf(errbuf, errlen, "Invalid URL: no fragment");
            return SX_E_PROTOCOL;
        }
        size_t flen = strlen(h + 1);
        uint8_t *raw = malloc(flen + 4);
        size_t rl = 0;
        st = raw ? sx_b64_decode(h + 1, flen, SX_B64_URL, raw, flen + 4, &rl) : SX_E_NOMEM;
        if (st == SX_OK)
            st = inflate_raw(raw, rl, &text, &len);
        free(raw);
        if (st != SX_OK && errbuf)
            snprintf(errbuf, errlen, "Invalid web link: %s", sx_status_str(st));
    } else {
        st = read_text_file(src, &text, &len);
        if (st != SX_OK && errbuf)
            snprintf(errbuf, errlen, "Failed to read file description %s: %s", src,
                     strerror(errno));
    }
    if (st == SX_OK) {
        st = sx_xftp_fd_parse(text, len, out);
        if (st != SX_OK && errbuf)
            snprintf(errbuf, errlen, "Failed to parse file description: %s", sx_status_str(st));
    }
    if (text) {
        sx_wipe(text, len);
        free(text);
    }
    return st;
}

/* ---- connections ----------------------------------------------------------- */

typedef struct conn_pool {
    size_t n;
    sx_xftp_fd_server *servers; /* borrowed */
    sx_xftp_client **c;
} conn_pool;

static void pool_cleanup(conn_pool *p)
{
    for (size_t i = 0; p->c && i < p->n; i++)
        sx_xftp_client_free(p->c[i]);
    free(p->c);
    memset(p, 0, sizeof *p);
}

/* A usable connection to server i, connecting when needed. */
static sx_status pool_get(conn_pool *p, size_t i, const sx_xftp_transfer_opts *o,
                          sx_xftp_client **out)
{
    if (p->c[i] && !sx_xftp_client_usable(p->c[i])) {
        sx_xftp_client_free(p->c[i]);
        p->c[i] = NULL;
    }
    if (!p->c[i])
        SX_TRY(sx_xftp_client_connect(&p->servers[i], o ? &o->client : NULL, &p->c[i]));
    *out = p->c[i];
    return SX_OK;
}

/* Whether a failed step is worth another attempt: not when the router
 * answered with an error (it would answer the same), except TIMEOUT. */
static bool retryable(sx_xftp_client *c, sx_status st)
{
    if (st == SX_E_NOMEM || st == SX_E_USAGE)
        return false;
    if (!c)
        return true;
    sx_xftp_error e = sx_xftp_client_error(c);
    return e.type == 0 || e.type == SX_XFTP_ERR_TIMEOUT || !sx_xftp_client_usable(c);
}

/* The name of what failed: the router's (or the client's check's) XFTP
 * error, recorded in o->errcode too, or the status. */
static const char *err_text(const sx_xftp_transfer_opts *o, sx_xftp_client *c, sx_status st)
{
    if (c && sx_xftp_client_error(c).type != 0) {
        const char *name = sx_xftp_err_name(sx_xftp_client_error(c).type);
        if (o && o->errcode && o->errcode_len > 0)
            snprintf(o->errcode, o->errcode_len, "%s", name);
        return name;
    }
    return sx_status_str(st);
}

/* ---- parallel chunk work ------------------------------------------------------ */

/* As the reference CLI (Client/Main.hs uploadFile / receive): chunks are
 * grouped by router, each group runs in order on one connection, and up to
 * PAR_MAX groups run at once (pooledForConcurrentlyN 16). Here every group
 * is taken by one of min(PAR_MAX, groups) threads (the caller is one of
 * them); a thread keeps its own connections. The first failure is kept and
 * the other threads start no further chunk; progress is reported under the
 * lock as the sum of the chunks done. */
#define PAR_MAX 16
#define PAR_ERR_LEN 512

typedef struct par_run par_run;
/* Moves item i using the worker's connections; messages go to wo->errbuf. */
typedef sx_status (*par_item_fn)(par_run *r, conn_pool *pool, const sx_xftp_transfer_opts *wo,
                                 size_t i);

struct par_run {
    pthread_mutex_t mu;
    const sx_xftp_transfer_opts *o;
    par_item_fn fn;
    void *ctx;
    size_t n_servers;
    sx_xftp_fd_server *servers;
    size_t *order;       /* items sorted by group */
    size_t *group_start; /* n_groups + 1 offsets into order */
    size_t n_groups;
    size_t next_group;   /* under mu */
    bool failed;         /* under mu */
    sx_status st;        /* the first failure */
    char err[PAR_ERR_LEN];
    char code[32];
    const char *phase;
    int64_t done, total;
    const uint32_t *sizes; /* bytes each item adds to progress */
    conn_pool keep;        /* connections handed back by the workers */
};

static bool par_stopped(par_run *r)
{
    pthread_mutex_lock(&r->mu);
    bool f = r->failed;
    pthread_mutex_unlock(&r->mu);
    return f;
}

static void *par_worker(void *arg)
{
    par_run *r = arg;
    char err[PAR_ERR_LEN], code[sizeof r->code];
    err[0] = '\0';
    code[0] = '\0';
    sx_xftp_transfer_opts wo = *r->o;
    wo.progress = NULL;
    wo.errbuf = err;
    wo.errbuf_len = sizeof err;
    wo.errcode = code;
    wo.errcode_len = sizeof code;
    conn_pool pool = {.n = r->n_servers, .servers = r->servers};
    pool.c = calloc(r->n_servers ? r->n_servers : 1, sizeof *pool.c);
    sx_status st = pool.c ? SX_OK : SX_E_NOMEM;
    while (st == SX_OK) {
        pthread_mutex_lock(&r->mu);
        size_t g = r->next_group;
        bool stop = r->failed || g >= r->n_groups;
        if (!stop)
            r->next_group++;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        for (size_t k = r->group_start[g]; k < r->group_start[g + 1] && st == SX_OK; k++) {
            if (par_stopped(r))
                break;
            size_t i = r->order[k];
            st = r->fn(r, &pool, &wo, i);
            if (st != SX_OK)
                break;
            pthread_mutex_lock(&r->mu);
            r->done += r->sizes[i];
            progress(r->o, r->phase, r->done, r->total);
            pthread_mutex_unlock(&r->mu);
        }
    }
    pthread_mutex_lock(&r->mu);
    if (st != SX_OK && !r->failed) {
        r->failed = true;
        r->st = st;
        memcpy(r->err, err, sizeof err);
        memcpy(r->code, code, sizeof code);
    }
    /* usable connections go back to the caller (acknowledgements follow) */
    for (size_t i = 0; pool.c && i < pool.n; i++)
        if (pool.c[i] && r->keep.c && !r->keep.c[i] && sx_xftp_client_usable(pool.c[i])) {
            r->keep.c[i] = pool.c[i];
            pool.c[i] = NULL;
        }
    pthread_mutex_unlock(&r->mu);
    pool_cleanup(&pool);
    return NULL;
}

/* Runs fn over items 0..n, item i belonging to group key[i] (a server index,
 * or SIZE_MAX for its own group). On return keep (if not NULL, with n_servers
 * slots) holds connections the workers left open. */
static sx_status par_run_items(const sx_xftp_transfer_opts *o, par_item_fn fn, void *ctx,
                               size_t n, const size_t *key, const uint32_t *sizes,
                               const char *phase, int64_t total, sx_xftp_fd_server *servers,
                               size_t n_servers, conn_pool *keep)
{
    par_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.fn = fn;
    r.ctx = ctx;
    r.servers = servers;
    r.n_servers = n_servers;
    r.sizes = sizes;
    r.phase = phase;
    r.total = total;
    if (keep)
        r.keep = *keep;
    r.order = calloc(n ? n : 1, sizeof *r.order);
    r.group_start = calloc(n + 1, sizeof *r.group_start);
    if (!r.order || !r.group_start) {
        free(r.order);
        free(r.group_start);
        return SX_E_NOMEM;
    }
    /* stable insertion sort by key (groupAllOn: groups in key order) */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && key[r.order[j - 1]] > key[i]) {
            r.order[j] = r.order[j - 1];
            j--;
        }
        r.order[j] = i;
    }
    for (size_t k = 0; k < n; k++)
        if (k == 0 || key[r.order[k]] != key[r.order[k - 1]] || key[r.order[k]] == SIZE_MAX)
            r.group_start[r.n_groups++] = k;
    r.group_start[r.n_groups] = n;
    size_t nthreads = r.n_groups < PAR_MAX ? r.n_groups : PAR_MAX;
    pthread_t tid[PAR_MAX];
    size_t started = 0;
    if (pthread_mutex_init(&r.mu, NULL) != 0) {
        free(r.order);
        free(r.group_start);
        return SX_E_INTERNAL;
    }
    progress(o, phase, 0, total);
    /* the caller is the last worker; a thread that cannot start is not needed */
    for (size_t t = 1; t < nthreads; t++)
        if (pthread_create(&tid[started], NULL, par_worker, &r) == 0)
            started++;
    par_worker(&r);
    for (size_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&r.mu);
    free(r.order);
    free(r.group_start);
    if (r.failed) {
        set_err(o, "%s", r.err);
        if (o->errcode && o->errcode_len > 0)
            snprintf(o->errcode, o->errcode_len, "%s", r.code);
    }
    return r.failed ? r.st : SX_OK;
}

/* ---- send ------------------------------------------------------------------ */

typedef sx_xftp_sent_chunk sent_chunk;

static sx_status key_der(const sx_key *k, sx_xftp_fd_replica *r)
{
    sx_writer w;
    sx_writer_init_fixed(&w, r->key, sizeof r->key);
    (void)sx_key_write_private(&w, k);
    SX_TRY(sx_writer_status(&w));
    r->key_len = w.len;
    r->key_alg = sx_key_alg_of(k);
    return SX_OK;
}

/* Description of one party: recipient rcv (0-based) or the sender (rcv < 0). */
sx_status sx_xftp_make_description(const sx_xftp_encrypted *e, const sx_xftp_fd_server *servers,
                                   size_t server_count, const sent_chunk *sc, int rcv,
                                   sx_xftp_fd *fd)
{
    SX_ENSURE(fd, SX_E_USAGE);
    memset(fd, 0, sizeof *fd);
    SX_ENSURE(e && servers && sc && server_count > 0 && e->chunk_count > 0, SX_E_USAGE);
    fd->party = rcv < 0 ? SX_XFTP_PARTY_SENDER : SX_XFTP_PARTY_RECIPIENT;
    fd->size = e->enc_size;
    memcpy(fd->digest, e->digest, sizeof e->digest);
    fd->digest_len = sizeof e->digest;
    memcpy(fd->key, e->key, sizeof fd->key);
    memcpy(fd->nonce, e->nonce, sizeof fd->nonce);
    fd->chunk_size = e->chunk_sizes[0];
    fd->servers = calloc(server_count, sizeof *fd->servers);
    fd->chunks = calloc(e->chunk_count, sizeof *fd->chunks);
    if (!fd->servers || !fd->chunks) {
        sx_xftp_fd_cleanup(fd);
        return SX_E_NOMEM;
    }
    memcpy(fd->servers, servers, server_count * sizeof *servers);
    fd->server_count = server_count;
    fd->chunk_count = e->chunk_count;
    sx_status st = SX_OK;
    for (size_t i = 0; i < e->chunk_count && st == SX_OK; i++) {
        sx_xftp_fd_chunk *ch = &fd->chunks[i];
        ch->number = (uint32_t)(i + 1);
        ch->size = e->chunk_sizes[i];
        memcpy(ch->digest, e->chunk_digests[i], 32);
        ch->digest_len = 32;
        ch->replicas = calloc(1, sizeof *ch->replicas);
        if (!ch->replicas) {
            st = SX_E_NOMEM;
            break;
        }
        ch->replica_count = 1;
        sx_xftp_fd_replica *r = &ch->replicas[0];
        if (sc[i].server >= server_count) {
            st = SX_E_USAGE;
            break;
        }
        r->server = sc[i].server;
        const sx_xftp_id *id = rcv < 0 ? &sc[i].snd_id : &sc[i].rcv_ids[rcv];
        memcpy(r->id, id->bytes, id->len);
        r->id_len = id->len;
        st = key_der(rcv < 0 ? sc[i].snd_key : sc[i].rcv_keys[rcv], r);
    }
    if (st != SX_OK)
        sx_xftp_fd_cleanup(fd);
    return st;
}

static sx_status write_text(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return SX_E_IO;
    sx_status st = sx_fd_write_all(fd, (const uint8_t *)text, len);
    if (close(fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    return st;
}

static sx_status write_fd_file(const sx_xftp_fd *fd, const char *path, mode_t mode)
{
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_xftp_fd_print(fd, &text, &len));
    sx_status st = write_text(path, text, len, mode);
    sx_wipe(text, len);
    free(text);
    return st;
}

/* fileWebLink: https://<first host of the first chunk's server>/#<fragment>. */
sx_status sx_xftp_web_link(const sx_xftp_fd *fd, char **out)
{
    SX_ENSURE(fd && out, SX_E_USAGE);
    *out = NULL;
    if (fd->chunk_count == 0 || fd->chunks[0].replica_count == 0)
        return SX_OK;
    const sx_xftp_fd_server *s = &fd->servers[fd->chunks[0].replicas[0].server];
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_xftp_fd_print(fd, &text, &len));
    uint8_t *z = NULL;
    size_t zl = 0;
    sx_status st = deflate_raw((const uint8_t *)text, len, &z, &zl);
    sx_wipe(text, len);
    free(text);
    SX_TRY(st);
    size_t cap = sizeof WEB_PREFIX + s->host_len[0] + 2 + sx_b64_encoded_size(zl, SX_B64_URL);
    char *b = malloc(cap);
    if (!b) {
        free(z);
        return SX_E_NOMEM;
    }
    int k = snprintf(b, cap, "%s%.*s/#", WEB_PREFIX, (int)s->host_len[0],
                     s->text + s->host_off[0]);
    st = k > 0 ? sx_b64_encode(sx_slice_of(z, zl), SX_B64_URL, b + k, cap - (size_t)k)
               : SX_E_INTERNAL;
    free(z);
    if (st != SX_OK) {
        free(b);
        return st;
    }
    *out = b;
    return SX_OK;
}

void sx_xftp_send_result_cleanup(sx_xftp_send_result *res)
{
    if (!res)
        return;
    free(res->rcv_paths);
    free(res->web_link);
    memset(res, 0, sizeof *res);
}

static void sent_cleanup(sent_chunk *sc, size_t n, int nrcv)
{
    for (size_t i = 0; sc && i < n; i++) {
        sx_key_free(sc[i].snd_key);
        for (int j = 0; sc[i].rcv_keys && j < nrcv; j++)
            sx_key_free(sc[i].rcv_keys[j]);
        free(sc[i].rcv_keys);
        free(sc[i].rcv_ids);
    }
    free(sc);
}

static sx_status upload_chunk(conn_pool *pool, sent_chunk *sc, int nrcv, int encfd,
                              int64_t offset, uint32_t size, const uint8_t *digest,
                              const sx_xftp_transfer_opts *o)
{
    SX_TRY(sx_key_generate(SX_KEY_ED25519, &sc->snd_key));
    sc->rcv_keys = calloc((size_t)nrcv, sizeof *sc->rcv_keys);
    sc->rcv_ids = calloc((size_t)nrcv, sizeof *sc->rcv_ids);
    if (!sc->rcv_keys || !sc->rcv_ids)
        return SX_E_NOMEM;
    for (int j = 0; j < nrcv; j++)
        SX_TRY(sx_key_generate(SX_KEY_ED25519, &sc->rcv_keys[j]));
    sx_status st = SX_E_IO;
    sx_xftp_client *c = NULL;
    bool created = false;
    for (int a = 0; a < retries(o); a++) {
        c = NULL;
        st = pool_get(pool, sc->server, o, &c);
        if (st == SX_OK && !created) {
            st = sx_xftp_client_fnew(c, sc->snd_key, size, sx_slice_of(digest, 32),
                                     (const sx_key *const *)sc->rcv_keys, (size_t)nrcv, NULL,
                                     &sc->snd_id, sc->rcv_ids);
            created = st == SX_OK;
        }
        if (st == SX_OK)
            st = sx_xftp_client_fput(c, sc->snd_key, sx_slice_of(sc->snd_id.bytes, sc->snd_id.len),
                                     encfd, offset, size);
        if (st == SX_OK || !retryable(c, st))
            break;
    }
    if (st != SX_OK)
        set_err(o, "Error uploading chunk to %s: %s", pool->servers[sc->server].text,
                err_text(o, c, st));
    return st;
}

typedef struct upload_ctx {
    sent_chunk *sc;
    int nrcv;
    int encfd; /* shared: the client reads it with pread */
    const sx_xftp_encrypted *e;
    int64_t *offsets;
} upload_ctx;

static sx_status upload_item(par_run *r, conn_pool *pool, const sx_xftp_transfer_opts *wo,
                             size_t i)
{
    upload_ctx *u = r->ctx;
    return upload_chunk(pool, &u->sc[i], u->nrcv, u->encfd, u->offsets[i], u->e->chunk_sizes[i],
                        u->e->chunk_digests[i], wo);
}

sx_status sx_xftp_send(const char *path, const char *out_dir, const sx_xftp_transfer_opts *o,
                       sx_xftp_send_result *res)
{
    SX_ENSURE(path && o && res && o->servers && o->server_count > 0, SX_E_USAGE);
    memset(res, 0, sizeof *res);
    int nrcv = o->recipients > 0 ? o->recipients : 1;
    SX_ENSURE(nrcv <= SX_XFTP_CLIENT_MAX_RECIPIENTS, SX_E_USAGE);
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (!*name || strlen(name) > 255) {
        set_err(o, "Invalid file name");
        return SX_E_USAGE;
    }
    sx_xftp_fd_server *servers = calloc(o->server_count, sizeof *servers);
    if (!servers)
        return SX_E_NOMEM;
    sx_status st = SX_OK;
    for (size_t i = 0; i < o->server_count && st == SX_OK; i++) {
        st = sx_xftp_fd_server_parse(o->servers[i], strlen(o->servers[i]), &servers[i]);
        if (st != SX_OK)
            set_err(o, "Invalid server address: %s", o->servers[i]);
    }
    struct stat sbuf;
    if (st == SX_OK && stat(path, &sbuf) == 0 && sbuf.st_size > SX_XFTP_MAX_FILE_SIZE) {
        set_err(o, "Files bigger than 1gb are not supported");
        st = SX_E_LIMIT;
    }
    char enc_path[SX_XFTP_PATH_MAX];
    bool have_enc = false;
    sx_xftp_encrypted e;
    memset(&e, 0, sizeof e);
    if (st == SX_OK)
        st = temp_path(o, enc_path, sizeof enc_path);
    if (st == SX_OK) {
        progress(o, "Encrypting", 0, 0);
        st = sx_xftp_encrypt_file(path, name, enc_path, &e);
        have_enc = st == SX_OK;
        if (st != SX_OK)
            set_err(o, "Error encrypting file %s: %s", path, sx_status_str(st));
    }
    sent_chunk *sc = NULL;
    int encfd = -1;
    if (st == SX_OK) {
        sc = calloc(e.chunk_count, sizeof *sc);
        encfd = open(enc_path, O_RDONLY | O_CLOEXEC);
        if (!sc)
            st = SX_E_NOMEM;
        else if (encfd < 0)
            st = SX_E_IO;
    }
    /* getXFTPServer: a uniformly random server per chunk */
    for (size_t i = 0; st == SX_OK && i < e.chunk_count; i++) {
        uint32_t r = 0;
        sx_random_bytes(&r, sizeof r);
        sc[i].server = o->server_count == 1 ? 0 : r % o->server_count;
    }
    upload_ctx uc = {.sc = sc, .nrcv = nrcv, .encfd = encfd, .e = &e};
    size_t *keys = NULL;
    if (st == SX_OK) {
        uc.offsets = calloc(e.chunk_count, sizeof *uc.offsets);
        keys = calloc(e.chunk_count, sizeof *keys);
        if (!uc.offsets || !keys)
            st = SX_E_NOMEM;
    }
    for (size_t i = 0, off = 0; st == SX_OK && i < e.chunk_count; i++) {
        uc.offsets[i] = (int64_t)off;
        off += e.chunk_sizes[i];
        keys[i] = sc[i].server;
    }
    if (st == SX_OK)
        st = par_run_items(o, upload_item, &uc, e.chunk_count, keys, e.chunk_sizes, "Uploaded",
                           e.enc_size, servers, o->server_count, NULL);
    free(uc.offsets);
    free(keys);
    if (encfd >= 0)
        close(encfd);
    if (have_enc)
        unlink(enc_path);
    /* descriptions */
    if (st == SX_OK) {
        char fname[300];
        snprintf(fname, sizeof fname, "%s.xftp", name);
        st = sx_xftp_unique_path(out_dir ? out_dir : ".", fname, res->dir, sizeof res->dir);
        if (st == SX_OK && mkdir(res->dir, 0700) != 0)
            st = SX_E_IO;
        if (st != SX_OK)
            set_err(o, "Error creating %s", res->dir);
    }
    if (st == SX_OK) {
        res->rcv_paths = calloc((size_t)nrcv, sizeof *res->rcv_paths);
        if (!res->rcv_paths)
            st = SX_E_NOMEM;
    }
    for (int j = 0; st == SX_OK && j < nrcv; j++) {
        sx_xftp_fd fd;
        st = sx_xftp_make_description(&e, servers, o->server_count, sc, j, &fd);
        if (st != SX_OK)
            break;
        int k = snprintf(res->rcv_paths[j], SX_XFTP_PATH_MAX, "%s/rcv%d.xftp", res->dir, j + 1);
        st = k > 0 && k < SX_XFTP_PATH_MAX ? write_fd_file(&fd, res->rcv_paths[j], 0644) : SX_E_LIMIT;
        if (st == SX_OK && j == 0)
            st = sx_xftp_web_link(&fd, &res->web_link);
        sx_xftp_fd_cleanup(&fd);
        res->rcv_count = (size_t)j + 1;
    }
    if (st == SX_OK) {
        sx_xftp_fd fd;
        st = sx_xftp_make_description(&e, servers, o->server_count, sc, -1, &fd);
        if (st == SX_OK) {
            int k = snprintf(res->snd_path, sizeof res->snd_path, "%s/snd.xftp.private", res->dir);
            st = k > 0 && (size_t)k < sizeof res->snd_path ? write_fd_file(&fd, res->snd_path, 0600)
                                                          : SX_E_LIMIT;
            sx_xftp_fd_cleanup(&fd);
        }
    }
    sent_cleanup(sc, e.chunk_count, nrcv);
    sx_xftp_encrypted_cleanup(&e);
    free(servers);
    if (st != SX_OK)
        sx_xftp_send_result_cleanup(res);
    return st;
}

/* ---- receive ----------------------------------------------------------------- */

static sx_status rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? SX_OK : SX_E_IO;
    struct dirent *ent;
    char p[SX_XFTP_PATH_MAX];
    while ((ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        int k = snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
        if (k > 0 && (size_t)k < sizeof p)
            unlink(p);
    }
    closedir(d);
    return rmdir(dir) == 0 ? SX_OK : SX_E_IO;
}

static sx_status download_chunk(conn_pool *pool, const sx_xftp_fd_chunk *ch, const char *path,
                                const sx_xftp_transfer_opts *o)
{
    sx_status st = SX_E_PROTOCOL;
    sx_xftp_client *c = NULL;
    /* any replica: the next one when a router fails */
    for (size_t ri = 0; ri < ch->replica_count; ri++) {
        const sx_xftp_fd_replica *r = &ch->replicas[ri];
        sx_key *k = NULL;
        st = sx_key_decode_private(sx_slice_of(r->key, r->key_len), SX_KEY_SIGN_ALGS, &k);
        if (st != SX_OK)
            continue;
        for (int a = 0; a < retries(o); a++) {
            c = NULL;
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0) {
                st = SX_E_IO;
                break;
            }
            st = pool_get(pool, r->server, o, &c);
            if (st == SX_OK)
                st = sx_xftp_client_fget(c, k, sx_slice_of(r->id, r->id_len), ch->size,
                                         sx_slice_of(ch->digest, ch->digest_len), fd);
            if (close(fd) != 0 && st == SX_OK)
                st = SX_E_IO;
            if (st == SX_OK || !retryable(c, st))
                break;
        }
        sx_key_free(k);
        if (st == SX_OK)
            return SX_OK;
        unlink(path);
    }
    set_err(o, "Error downloading chunk %u: %s", ch->number, err_text(o, c, st));
    return st;
}

typedef struct download_ctx {
    const sx_xftp_fd *fd;
    const char **paths;
} download_ctx;

static sx_status download_item(par_run *r, conn_pool *pool, const sx_xftp_transfer_opts *wo,
                               size_t i)
{
    download_ctx *d = r->ctx;
    return download_chunk(pool, &d->fd->chunks[i], d->paths[i], wo);
}

static sx_status ack_chunks(conn_pool *pool, const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o)
{
    for (size_t i = 0; i < fd->chunk_count; i++) {
        const sx_xftp_fd_chunk *ch = &fd->chunks[i];
        if (ch->replica_count == 0)
            return SX_E_PROTOCOL;
        const sx_xftp_fd_replica *r = &ch->replicas[0];
        sx_key *k = NULL;
        SX_TRY(sx_key_decode_private(sx_slice_of(r->key, r->key_len), SX_KEY_SIGN_ALGS, &k));
        sx_status st = SX_E_IO;
        sx_xftp_client *c = NULL;
        for (int a = 0; a < retries(o); a++) {
            c = NULL;
            st = pool_get(pool, r->server, o, &c);
            if (st == SX_OK)
                st = sx_xftp_client_fack(c, k, sx_slice_of(r->id, r->id_len));
            if (st == SX_OK || !retryable(c, st))
                break;
        }
        sx_key_free(k);
        if (st != SX_OK) {
            set_err(o, "Error acknowledging chunk %u: %s", ch->number, err_text(o, c, st));
            return st;
        }
    }
    return SX_OK;
}

static sx_status recv_depth(const sx_xftp_fd *fd, const char *dest, const sx_xftp_transfer_opts *o,
                            char *out_path, size_t cap, int depth)
{
    if (fd->party != SX_XFTP_PARTY_RECIPIENT) {
        set_err(o, "file description is not for recipient");
        return SX_E_USAGE;
    }
    char enc_dir[SX_XFTP_PATH_MAX];
    SX_TRY(temp_path(o, enc_dir, sizeof enc_dir));
    if (mkdir(enc_dir, 0700) != 0) {
        set_err(o, "Error creating %s", enc_dir);
        return SX_E_IO;
    }
    conn_pool pool = {.n = fd->server_count, .servers = fd->servers};
    pool.c = calloc(fd->server_count ? fd->server_count : 1, sizeof *pool.c);
    char(*paths)[SX_XFTP_PATH_MAX] = calloc(fd->chunk_count, sizeof *paths);
    const char **pp = calloc(fd->chunk_count, sizeof *pp);
    sx_status st = pool.c && paths && pp ? SX_OK : SX_E_NOMEM;
    size_t *keys = calloc(fd->chunk_count ? fd->chunk_count : 1, sizeof *keys);
    uint32_t *sizes = calloc(fd->chunk_count ? fd->chunk_count : 1, sizeof *sizes);
    if (!keys || !sizes)
        st = SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++) {
        int k = snprintf(paths[i], SX_XFTP_PATH_MAX, "%s/%u", enc_dir, fd->chunks[i].number);
        pp[i] = paths[i];
        if (k <= 0 || k >= SX_XFTP_PATH_MAX)
            st = SX_E_LIMIT;
        const sx_xftp_fd_chunk *ch = &fd->chunks[i];
        keys[i] = ch->replica_count > 0 && ch->replicas[0].server < fd->server_count
                      ? ch->replicas[0].server
                      : SIZE_MAX;
        sizes[i] = ch->size;
    }
    download_ctx dc = {.fd = fd, .paths = pp};
    if (st == SX_OK)
        st = par_run_items(o, download_item, &dc, fd->chunk_count, keys, sizes, "Downloaded",
                           fd->size, fd->servers, fd->server_count, &pool);
    free(keys);
    free(sizes);
    /* the whole encrypted file: SHA-512 and size */
    if (st == SX_OK) {
        sx_hash_ctx h;
        uint8_t *buf = malloc(BUF_LEN);
        int64_t total = 0;
        st = buf ? sx_hash_init(&h, SX_HASH_SHA512) : SX_E_NOMEM;
        for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++) {
            int cfd = open(paths[i], O_RDONLY | O_CLOEXEC);
            if (cfd < 0) {
                st = SX_E_IO;
                break;
            }
            for (;;) {
                size_t n = 0;
                st = read_some(cfd, buf, BUF_LEN, &n);
                if (st != SX_OK || n == 0)
                    break;
                total += (int64_t)n;
                st = sx_hash_update(&h, sx_slice_of(buf, n));
                if (st != SX_OK)
                    break;
            }
            close(cfd);
        }
        uint8_t dg[SX_SHA512_LEN];
        if (st == SX_OK)
            st = sx_hash_final(&h, dg, sizeof dg);
        if (buf)
            sx_hash_cleanup(&h);
        free(buf);
        if (st == SX_OK && !sx_slice_eq(sx_slice_of(dg, sizeof dg),
                                        sx_slice_of(fd->digest, fd->digest_len))) {
            set_err(o, "File digest mismatch");
            set_code(o, "DIGEST");
            st = SX_E_AUTH;
        }
        if (st == SX_OK && total != fd->size) {
            set_err(o, "File size mismatch");
            st = SX_E_PROTOCOL;
        }
    }
    sx_xftp_fd inner;
    memset(&inner, 0, sizeof inner);
    bool follow = false;
    if (st == SX_OK && fd->has_redirect) {
        if (depth <= 0) {
            set_err(o, "Redirect chain too long");
            st = SX_E_PROTOCOL;
        }
        char ypath[SX_XFTP_PATH_MAX];
        if (st == SX_OK)
            st = sx_xftp_unique_path(enc_dir, "redirect.yaml", ypath, sizeof ypath);
        /* the redirect file carries its own header; write it under enc_dir */
        char got[SX_XFTP_PATH_MAX];
        if (st == SX_OK)
            st = sx_xftp_decrypt_chunks(pp, fd->chunk_count, fd->size, fd->key, fd->nonce, ypath,
                                        got, sizeof got);
        if (st == SX_OK)
            st = ack_chunks(&pool, fd, o);
        char *text = NULL;
        size_t tl = 0;
        if (st == SX_OK)
            st = read_text_file(got, &text, &tl);
        if (st == SX_OK) {
            st = sx_xftp_fd_parse(text, tl, &inner);
            if (st != SX_OK)
                set_err(o, "Redirect: invalid file description");
            follow = st == SX_OK;
        }
        free(text);
    } else if (st == SX_OK) {
        progress(o, "Decrypting", 0, 0);
        st = sx_xftp_decrypt_chunks(pp, fd->chunk_count, fd->size, fd->key, fd->nonce, dest,
                                    out_path, cap);
        if (st == SX_E_AUTH) {
            set_err(o, "Error decrypting file: incorrect auth tag");
            set_code(o, "CRYPTO");
        } else if (st == SX_E_USAGE)
            set_err(o, "File already exists");
        else if (st != SX_OK)
            set_err(o, "Error decrypting file: %s", sx_status_str(st));
        if (st == SX_OK)
            st = ack_chunks(&pool, fd, o);
    }
    pool_cleanup(&pool);
    if (rm_tree(enc_dir) != SX_OK) {
        /* a leftover temporary folder is not a failure of the transfer */
    }
    free(paths);
    free(pp);
    if (follow) {
        st = recv_depth(&inner, dest, o, out_path, cap, depth - 1);
        sx_xftp_fd_cleanup(&inner);
    }
    return st;
}

sx_status sx_xftp_recv(const sx_xftp_fd *fd, const char *dest, const sx_xftp_transfer_opts *o,
                       char *out_path, size_t cap)
{
    SX_ENSURE(fd && dest && out_path && cap > 0, SX_E_USAGE);
    return recv_depth(fd, dest, o, out_path, cap, 1);
}

/* ---- delete and info ----------------------------------------------------------- */

sx_status sx_xftp_delete(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o)
{
    SX_ENSURE(fd, SX_E_USAGE);
    if (fd->party != SX_XFTP_PARTY_SENDER) {
        set_err(o, "file description is not for sender");
        return SX_E_USAGE;
    }
    conn_pool pool = {.n = fd->server_count, .servers = fd->servers};
    pool.c = calloc(fd->server_count ? fd->server_count : 1, sizeof *pool.c);
    sx_status st = pool.c ? SX_OK : SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++) {
        const sx_xftp_fd_chunk *ch = &fd->chunks[i];
        if (ch->replica_count == 0) {
            st = SX_E_PROTOCOL;
            break;
        }
        const sx_xftp_fd_replica *r = &ch->replicas[0];
        sx_key *k = NULL;
        st = sx_key_decode_private(sx_slice_of(r->key, r->key_len), SX_KEY_SIGN_ALGS, &k);
        sx_xftp_client *c = NULL;
        for (int a = 0; st == SX_OK && a < retries(o); a++) {
            c = NULL;
            st = pool_get(&pool, r->server, o, &c);
            if (st == SX_OK)
                st = sx_xftp_client_fdel(c, k, sx_slice_of(r->id, r->id_len));
            if (st == SX_OK || !retryable(c, st))
                break;
        }
        sx_key_free(k);
        if (st != SX_OK)
            set_err(o, "Error deleting chunk %u: %s", ch->number, err_text(o, c, st));
    }
    pool_cleanup(&pool);
    return st;
}

sx_status sx_xftp_print_info(const sx_xftp_fd *fd, FILE *out)
{
    SX_ENSURE(fd && out, SX_E_USAGE);
    char sz[32];
    SX_TRY(sx_xftp_size_to_text(fd->size, sz, sizeof sz));
    fprintf(out, "%s\n", fd->party == SX_XFTP_PARTY_SENDER ? "Sender file description"
                                                           : "Recipient file description");
    fprintf(out, "File download size: %s\n", sz);
    fprintf(out, "File server(s):\n");
    /* servers in the reference's order, each with the sum of its replicas' sizes */
    size_t n = fd->server_count;
    size_t *order = calloc(n ? n : 1, sizeof *order);
    int64_t *sum = calloc(n ? n : 1, sizeof *sum);
    bool *used = calloc(n ? n : 1, sizeof *used);
    sx_status st = order && sum && used ? SX_OK : SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++)
        for (size_t r = 0; r < fd->chunks[i].replica_count; r++) {
            size_t s = fd->chunks[i].replicas[r].server;
            if (s < n) {
                sum[s] += fd->chunks[i].size;
                used[s] = true;
            }
        }
    for (size_t i = 0; st == SX_OK && i < n; i++) {
        order[i] = i;
        for (size_t j = i; j > 0 && sx_xftp_fd_server_compare(&fd->servers[order[j - 1]],
                                                              &fd->servers[order[j]]) > 0;
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    for (size_t i = 0; st == SX_OK && i < n; i++) {
        size_t s = order[i];
        if (!used[s])
            continue;
        st = sx_xftp_size_to_text(sum[s], sz, sizeof sz);
        if (st == SX_OK)
            fprintf(out, "%s: %s\n", fd->servers[s].text, sz);
    }
    free(order);
    free(sum);
    free(used);
    return st;
}
