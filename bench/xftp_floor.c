/* The XFTP floor (see xftp_floor.h): each part timed alone on one thread
 * with CLOCK_THREAD_CPUTIME_ID over the same buffer, scaled to a GiB. */
#define _GNU_SOURCE
#include "xftp_floor.h"

#include <fcntl.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "transport/net.h"
#include "transport/tls.h"
#include "xftp/filecrypt.h"

#define PIECE (64 * 1024) /* bytes per call, as the router's I/O moves them */
#define RECORD 16384      /* TLS record payload */
#define CHUNK_FILE ((size_t)4 * 1024 * 1024) /* bytes per chunk file (bench_xftp's chunks) */

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* TLS 1.3 record protection of n bytes in 16 KiB records with the AEAD our
 * ends negotiate: plain is sealed into sealed (timed as encryption), then
 * opened back into plain (timed as decryption, tags checked). */
static int tls_records(uint8_t *plain, uint8_t *sealed, size_t n, double *enc_secs, double *dec_secs)
{
    const EVP_CIPHER *c = sx_tls_cpu_has_aes() ? EVP_aes_128_gcm() : EVP_chacha20_poly1305();
    static const uint8_t hdr[5] = {0x17, 0x03, 0x03, 0x40, 0x11}; /* additional data */
    size_t nrec = (n + RECORD - 1) / RECORD;
    uint8_t key[32], iv[12];
    sx_random_bytes(key, sizeof key);
    sx_random_bytes(iv, sizeof iv);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t *tags = malloc(nrec * 16);
    int ok = ctx != NULL && tags != NULL;
    for (int sealing = 1; sealing >= 0 && ok; sealing--) {
        double t0 = thread_cpu();
        /* The key once per direction, as a TLS connection keeps it; each
         * record then sets only its nonce. */
        ok = EVP_CipherInit_ex(ctx, c, NULL, key, iv, sealing) == 1;
        for (size_t i = 0; i < nrec && ok; i++) {
            size_t off = i * RECORD, len = n - off < RECORD ? n - off : RECORD;
            const uint8_t *src = sealing ? plain + off : sealed + off;
            uint8_t *dst = sealing ? sealed + off : plain + off;
            int outl = 0, fin = 0;
            memcpy(iv + 4, &i, sizeof i < 8 ? sizeof i : 8);
            ok = EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, sealing) == 1 &&
                 EVP_CipherUpdate(ctx, NULL, &outl, hdr, sizeof hdr) == 1 &&
                 (sealing || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tags + i * 16) == 1) &&
                 EVP_CipherUpdate(ctx, dst, &outl, src, (int)len) == 1 &&
                 EVP_CipherFinal_ex(ctx, dst + outl, &fin) == 1 &&
                 (!sealing || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tags + i * 16) == 1);
        }
        *(sealing ? enc_secs : dec_secs) = thread_cpu() - t0;
    }
    free(tags);
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

typedef struct pump {
    int fd;
    size_t n;
    const uint8_t *buf;
    double secs;
    int err;
} pump;

static void *sender(void *arg)
{
    pump *p = arg;
    double t0 = thread_cpu();
    for (size_t off = 0; off < p->n && !p->err;) {
        size_t len = p->n - off < PIECE ? p->n - off : PIECE;
        ssize_t k = send(p->fd, p->buf + off, len, MSG_NOSIGNAL);
        if (k <= 0)
            p->err = 1;
        else
            off += (size_t)k;
    }
    p->secs = thread_cpu() - t0;
    shutdown(p->fd, SHUT_WR);
    return NULL;
}

/* n bytes over loopback TCP in 64 KiB calls: the sending and the receiving
 * thread's CPU. */
static int socket_costs(const uint8_t *buf, size_t n, double *send_secs, double *recv_secs)
{
    int lfd, cfd, sfd;
    uint16_t port;
    if (sx_net_listen("127.0.0.1", 0, 1, &lfd, &port) != SX_OK)
        return -1;
    if (sx_net_connect("127.0.0.1", port, 5000, &cfd) != SX_OK || sx_net_accept(lfd, 5000, &sfd) != SX_OK) {
        sx_net_close(lfd);
        return -1;
    }
    sx_net_close(lfd);
    /* blocking sockets for this measure */
    fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) & ~O_NONBLOCK);
    fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) & ~O_NONBLOCK);
    pump p = {.fd = cfd, .n = n, .buf = buf};
    pthread_t th;
    if (pthread_create(&th, NULL, sender, &p) != 0)
        return -1;
    static uint8_t in[PIECE];
    double t0 = thread_cpu();
    size_t got = 0;
    for (;;) {
        ssize_t k = recv(sfd, in, sizeof in, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    *recv_secs = thread_cpu() - t0;
    pthread_join(th, NULL);
    *send_secs = p.secs;
    sx_net_close(cfd);
    sx_net_close(sfd);
    return got == n && !p.err ? 0 : -1;
}

/* The file work of n bytes stored as the router stores chunks: each
 * CHUNK_FILE bytes in a file of its own, created under a temporary name,
 * written in PIECE calls, closed and renamed (timed as the write); then each
 * opened, read back with pread and closed (timed as the read). Removing
 * them is not timed (the router does it on FDEL or expiry). */
static int chunk_files(const char *dir, const uint8_t *buf, uint8_t *tmp, size_t n, double *write_secs,
                       double *read_secs)
{
    size_t nf = (n + CHUNK_FILE - 1) / CHUNK_FILE;
    char path[1024], final[1040];
    int rc = 0;
    double t0 = thread_cpu();
    for (size_t f = 0; f < nf && !rc; f++) {
        snprintf(path, sizeof path, "%s/floor.XXXXXX", dir);
        int fd = mkstemp(path);
        if (fd < 0) {
            rc = -1;
            break;
        }
        for (size_t off = f * CHUNK_FILE; off < n && off < (f + 1) * CHUNK_FILE && !rc; off += PIECE)
            rc |= sx_fd_write_all(fd, buf + off, n - off < PIECE ? n - off : PIECE) != SX_OK;
        rc |= close(fd) != 0;
        snprintf(final, sizeof final, "%s/floor-%zu", dir, f);
        rc |= rename(path, final) != 0;
    }
    *write_secs = thread_cpu() - t0;
    t0 = thread_cpu();
    for (size_t f = 0; f < nf && !rc; f++) {
        snprintf(final, sizeof final, "%s/floor-%zu", dir, f);
        int fd = open(final, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -1;
            break;
        }
        for (size_t off = f * CHUNK_FILE; off < n && off < (f + 1) * CHUNK_FILE && !rc; off += PIECE) {
            size_t len = n - off < PIECE ? n - off : PIECE;
            rc |= pread(fd, tmp + off, len, (off_t)(off - f * CHUNK_FILE)) != (ssize_t)len;
        }
        close(fd);
    }
    *read_secs = thread_cpu() - t0;
    for (size_t f = 0; f < nf; f++) {
        snprintf(final, sizeof final, "%s/floor-%zu", dir, f);
        (void)unlink(final);
    }
    return rc ? -1 : 0;
}

int xftp_floor_measure(const char *dir, size_t mib, xftp_floor *out)
{
    memset(out, 0, sizeof *out);
    size_t n = mib * 1024 * 1024;
    double per_gib = 1024.0 / (double)mib;
    uint8_t *buf = malloc(n), *tmp = malloc(n);
    if (!buf || !tmp) {
        free(buf);
        free(tmp);
        return -1;
    }
    sx_random_bytes(buf, n);
    memset(tmp, 0, n);
    int rc = 0;

    double enc = 0, dec = 0;
    rc |= tls_records(buf, tmp, n, &enc, &dec);
    out->tls_enc = enc * per_gib;
    out->tls_dec = dec * per_gib;

    uint8_t digest[32];
    double t0 = thread_cpu();
    sx_hash_ctx h;
    rc |= sx_hash_init(&h, SX_HASH_SHA256) != SX_OK;
    for (size_t off = 0; off < n && !rc; off += PIECE)
        rc |= sx_hash_update(&h, sx_slice_of(buf + off, n - off < PIECE ? n - off : PIECE)) != SX_OK;
    rc |= sx_hash_final(&h, digest, sizeof digest) != SX_OK;
    out->sha256 = (thread_cpu() - t0) * per_gib;

    uint8_t key[32], nonce[24];
    sx_random_bytes(key, sizeof key);
    sx_random_bytes(nonce, sizeof nonce);
    sx_xftp_sb sb;
    t0 = thread_cpu();
    rc |= sx_xftp_sb_init(&sb, key, nonce) != SX_OK;
    for (size_t off = 0; off < n && !rc; off += PIECE)
        rc |= sx_xftp_sb_encrypt(&sb, sx_slice_of(buf + off, n - off < PIECE ? n - off : PIECE), tmp + off) != SX_OK;
    uint8_t tag[16];
    sx_xftp_sb_tag(&sb, tag);
    out->stream_enc = (thread_cpu() - t0) * per_gib;
    t0 = thread_cpu();
    rc |= sx_xftp_sb_init_sodium(&sb, key, nonce) != SX_OK;
    for (size_t off = 0; off < n && !rc; off += PIECE)
        rc |= sx_xftp_sb_encrypt(&sb, sx_slice_of(buf + off, n - off < PIECE ? n - off : PIECE), tmp + off) != SX_OK;
    uint8_t tag2[16];
    sx_xftp_sb_tag(&sb, tag2);
    out->stream_enc_sodium = (thread_cpu() - t0) * per_gib;
    rc |= sodium_memcmp(tag, tag2, sizeof tag) != 0; /* the same bytes */

    rc |= chunk_files(dir, buf, tmp, n, &out->file_write, &out->file_read);
    out->file_write *= per_gib;
    out->file_read *= per_gib;

    double snd = 0, rcv = 0;
    rc |= socket_costs(buf, n, &snd, &rcv);
    out->sock_send = snd * per_gib;
    out->sock_recv = rcv * per_gib;

    out->up = out->tls_dec + out->sha256 + out->sock_recv + out->file_write;
    out->down = out->file_read + out->stream_enc + out->tls_enc + out->sock_send;
    free(buf);
    free(tmp);
    return rc ? -1 : 0;
}

static double median_of(const xftp_floor *runs, size_t n, size_t off)
{
    double v[16];
    if (n > 16)
        n = 16;
    for (size_t i = 0; i < n; i++) {
        memcpy(&v[i], (const char *)&runs[i] + off, sizeof v[i]);
        for (size_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
            double t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    }
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void xftp_floor_median(const xftp_floor *runs, size_t n, xftp_floor *out)
{
    static const size_t parts[] = {
        offsetof(xftp_floor, tls_dec),   offsetof(xftp_floor, sha256),     offsetof(xftp_floor, sock_recv),
        offsetof(xftp_floor, file_write), offsetof(xftp_floor, file_read), offsetof(xftp_floor, stream_enc),
        offsetof(xftp_floor, tls_enc),   offsetof(xftp_floor, sock_send), offsetof(xftp_floor, stream_enc_sodium),
    };
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        double m = median_of(runs, n, parts[i]);
        memcpy((char *)out + parts[i], &m, sizeof m);
    }
    out->up = out->tls_dec + out->sha256 + out->sock_recv + out->file_write;
    out->down = out->file_read + out->stream_enc + out->tls_enc + out->sock_send;
}
