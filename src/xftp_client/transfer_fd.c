/* Whole-file XFTP transfers: descriptions: reading one from a file or a web
 * link, making them after an upload, writing them, web links. */
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

sx_status xt_read_text_file(const char *path, char **out, size_t *len)
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
        st = xt_read_some(fd, (uint8_t *)b + n, SX_XFTP_FD_TEXT_MAX + 1 - n, &got);
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
        st = xt_read_text_file(src, &text, &len);
        if (st != SX_OK && errbuf)
            snprintf(errbuf, errlen, "Failed to read file description %s: %s", src,
                     strerror(errno));
    }
    if (st == SX_OK) {
        st = sx_xftp_fd_parse(text, len, out);
        if (st != SX_OK && errbuf)
            snprintf(errbuf, errlen,
                     "Failed to parse file description%s%s: it is not an XFTP file description, or it is damaged",
                     web ? "" : " ", web ? "" : src);
    }
    if (text) {
        sx_wipe(text, len);
        free(text);
    }
    return st;
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

sx_status xt_write_text(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return SX_E_IO;
    sx_status st = sx_fd_write_all(fd, (const uint8_t *)text, len);
    if (close(fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    return st;
}

sx_status xt_write_fd_file(const sx_xftp_fd *fd, const char *path, mode_t mode)
{
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_xftp_fd_print(fd, &text, &len));
    sx_status st = xt_write_text(path, text, len, mode);
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

