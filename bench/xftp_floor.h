/* The XFTP router's floor per GiB moved, measured in the bench process (CPU
 * time of the threads doing the work, user + system): what a router cannot
 * avoid for the bytes of a chunk.
 *   up:   TLS record decryption (the suite our ends negotiate), SHA-256 of the
 *         chunk, the kernel receiving it from a loopback TCP socket and
 *         storing it as the router does, a file of its own per 4 MiB chunk
 *         in the router's folder (created, written, closed, renamed);
 *   down: reading the files back (opened, read, closed), the XFTP stream encryption of the chunk
 *         (PROTOCOL-NOTES F21/A36, XSalsa20-Poly1305), TLS record
 *         encryption, the kernel sending it on a loopback TCP socket.
 * The stream encryption is what sx_xftp_sb does (OpenSSL's Poly1305 where
 * OpenSSL has it); the same with libsodium's Poly1305 is measured beside it.
 * Ed25519 verifications and HTTP/2 framing are per chunk or per frame and
 * left out (under 1 % of these at 4 MiB chunks). */
#ifndef SX_BENCH_XFTP_FLOOR_H
#define SX_BENCH_XFTP_FLOOR_H

#include <stddef.h>

typedef struct xftp_floor {
    double tls_dec, sha256, sock_recv, file_write;  /* CPU s per GiB, up */
    double file_read, stream_enc, tls_enc, sock_send; /* CPU s per GiB, down */
    double up, down;                                /* the sums */
    double stream_enc_sodium; /* the stream with libsodium's Poly1305: reference only */
} xftp_floor;

/* Measures over mib MiB, with a scratch file in dir. 0 on success. */
int xftp_floor_measure(const char *dir, size_t mib, xftp_floor *out);

/* Each part's median over n measures (the sums recomputed from them), so
 * that one measure slowed by another process's burst does not move the
 * floor. */
void xftp_floor_median(const xftp_floor *runs, size_t n, xftp_floor *out);

#endif
