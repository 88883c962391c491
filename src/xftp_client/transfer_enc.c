/* Whole-file XFTP transfers: a file to encrypted chunks and back, streamed
 * through fixed buffers (transfer.h: sx_xftp_encrypt_file, sx_xftp_decrypt_chunks). */
#define _GNU_SOURCE
#include "xftp_client/transfer_int.h"

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
                                uint8_t *obuf, const volatile sig_atomic_t *cancel)
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
        if (xt_cancel_set(cancel)) {
            st = SX_E_IO;
            break;
        }
        size_t n = 0;
        st = xt_read_some(in, buf, left < XT_BUF_LEN ? (size_t)left : XT_BUF_LEN, &n);
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
            st = sx_xftp_file_encrypt_pad(&enc, obuf, XT_BUF_LEN, &n);
        if (st != SX_OK || n == 0)
            break;
        st = sink_put(s, obuf, n);
    }
    uint8_t tag[SX_XFTP_SB_TAG_LEN];
    if (st == SX_OK)
        st = sx_xftp_file_encrypt_final(&enc, tag);
    if (st == SX_OK)
        st = sink_put(s, tag, sizeof tag);
    sx_xftp_sb_cleanup(&enc.sb); /* frees it when an error came first */
    sx_wipe(&enc, sizeof enc);
    return st;
}

sx_status sx_xftp_encrypt_file(const char *src, const char *file_name, const char *enc_path,
                               sx_xftp_encrypted *out)
{
    return xt_encrypt_file(src, file_name, enc_path, out, NULL);
}

sx_status xt_encrypt_file(const char *src, const char *file_name, const char *enc_path, sx_xftp_encrypted *out,
                          const volatile sig_atomic_t *cancel)
{
    return xt_encrypt_file_with(src, file_name, enc_path, out, cancel, NULL, NULL);
}

sx_status xt_encrypt_file_with(const char *src, const char *file_name, const char *enc_path,
                               sx_xftp_encrypted *out, const volatile sig_atomic_t *cancel, const uint8_t *key,
                               const uint8_t *nonce)
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
    uint8_t *buf = malloc(XT_BUF_LEN), *obuf = malloc(XT_BUF_LEN);
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
    if (key && nonce) {
        memcpy(out->key, key, sizeof out->key);
        memcpy(out->nonce, nonce, sizeof out->nonce);
    } else {
        sx_random_bytes(out->key, sizeof out->key);
        sx_random_bytes(out->nonce, sizeof out->nonce);
    }
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
        st = encrypt_stream(in, sb.st_size, sx_writer_slice(&w), &s, buf, obuf, cancel);
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
        sx_wipe(obuf, XT_BUF_LEN);
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
    uint8_t hdr[XT_HEADER_WINDOW];
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
        int64_t need64 = d->content_len < XT_HEADER_WINDOW ? d->content_len : XT_HEADER_WINDOW;
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
    return xt_decrypt_chunks(chunk_paths, n, enc_size, key, nonce, dest, out_path, cap, NULL);
}

sx_status xt_decrypt_chunks(const char *const *chunk_paths, size_t n, int64_t enc_size, const uint8_t *key,
                            const uint8_t *nonce, const char *dest, char *out_path, size_t cap,
                            const volatile sig_atomic_t *cancel)
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
    uint8_t *buf = malloc(XT_BUF_LEN);
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
            if (xt_cancel_set(cancel)) {
                st = SX_E_IO;
                break;
            }
            st = xt_read_some(fd, buf, XT_BUF_LEN, &got);
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
    else {
        sx_xftp_sb_cleanup(&d.sb);
        sx_wipe(&d, sizeof d);
    }
    if (o.fd >= 0 && close(o.fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    if (st != SX_OK && o.fd >= 0)
        unlink(out_path);
    if (buf)
        sx_wipe(buf, XT_BUF_LEN);
    free(buf);
    return st;
}

