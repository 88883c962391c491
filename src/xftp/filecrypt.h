/* XFTP file encryption (PROTOCOL-NOTES A32, A34, A36, F21, F34; reference
 * Crypto/Lazy.hs, FileTransfer/Crypto.hs, prepareChunkSizes at 152c30ca68).
 *
 * The streaming secret box: k = HSalsa20(key, 0^16), then the XSalsa20
 * keystream of (k, nonce) whose first 32 bytes key Poly1305; data is XORed
 * with the keystream from byte 32 on, Poly1305 runs over the ciphertext and
 * the 16-byte tag comes after the ciphertext. It is the one-shot secret_box
 * of the same bytes with the tag moved to the end. The same state serves a
 * router's FGET stream (keyed by the DH secret) and whole-file encryption.
 *
 * A whole file is encrypted as Int64 length || content || '#' padding to
 * enc_size - 16, then the tag; content is the file header and the file.
 *
 * The Poly1305 tag comes from OpenSSL's EVP_MAC "POLY1305" (its vector code
 * is several times faster than libsodium's on CPUs with AVX2 or AVX-512),
 * libsodium's when this OpenSSL has none; the bytes are the same. The
 * OpenSSL context is allocated by init and freed by tag, verify or cleanup:
 * a state that was initialised must end with one of them.
 * Not thread-safe; one state per stream. */
#ifndef SX_XFTP_FILECRYPT_H
#define SX_XFTP_FILECRYPT_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "simplex/status.h"

#define SX_XFTP_SB_KEY_LEN 32
#define SX_XFTP_SB_NONCE_LEN 24
#define SX_XFTP_SB_TAG_LEN 16
#define SX_XFTP_FILE_LEN_HEADER 8 /* fileSizeLen: Int64 length in front */
#define SX_XFTP_MAX_CHUNKS 4096   /* chunks of one file we compute sizes for */

/* ---- streaming secret box (PROTOCOL-NOTES A36) ---- */

typedef struct sx_xftp_sb {
    uint8_t k[32];       /* HSalsa20(key, 0^16) */
    uint8_t nonce[SX_XFTP_SB_NONCE_LEN];
    uint64_t pos;        /* keystream offset of the next byte */
    uint8_t ks[64];      /* keystream block number pos / 64 */
    void *ossl;          /* EVP_MAC_CTX of OpenSSL's Poly1305, or NULL: then mac */
    crypto_onetimeauth_poly1305_state mac;
} sx_xftp_sb;

/* sbInit / cbInit: key is the 32-byte secret_box key or X25519 secret.
 * Errors: SX_E_USAGE, SX_E_INTERNAL (libsodium). */
SX_MUST_CHECK sx_status sx_xftp_sb_init(sx_xftp_sb *s, const uint8_t key[SX_XFTP_SB_KEY_LEN],
                                        const uint8_t nonce[SX_XFTP_SB_NONCE_LEN]);
/* The same with libsodium's Poly1305 whatever OpenSSL offers: for
 * differential tests and benchmarks. */
SX_MUST_CHECK sx_status sx_xftp_sb_init_sodium(sx_xftp_sb *s, const uint8_t key[SX_XFTP_SB_KEY_LEN],
                                               const uint8_t nonce[SX_XFTP_SB_NONCE_LEN]);
/* Processes the next in.len bytes of the stream into out (out == in.ptr is
 * allowed, other overlap is not). Encrypt authenticates its output,
 * decrypt its input. */
SX_MUST_CHECK sx_status sx_xftp_sb_encrypt(sx_xftp_sb *s, sx_slice in, uint8_t *out);
SX_MUST_CHECK sx_status sx_xftp_sb_decrypt(sx_xftp_sb *s, sx_slice in, uint8_t *out);
/* The tag over everything processed (sbAuth); the state is wiped after. */
void sx_xftp_sb_tag(sx_xftp_sb *s, uint8_t tag[SX_XFTP_SB_TAG_LEN]);
/* Compares the tag in constant time: SX_OK or SX_E_AUTH; state wiped. */
SX_MUST_CHECK sx_status sx_xftp_sb_verify(sx_xftp_sb *s, sx_slice tag);
/* Frees and wipes the state; safe on a zeroed or already finished one. */
void sx_xftp_sb_cleanup(sx_xftp_sb *s);

/* ---- sizes (PROTOCOL-NOTES F34) ---- */

/* prepareChunkSizes: the chunk sizes for a payload of `payload` bytes
 * (content + 8 + 16), into out (cap entries), count in *n. enc_size is
 * their sum. SX_E_LIMIT if more than cap chunks; SX_E_USAGE if payload < 0. */
SX_MUST_CHECK sx_status sx_xftp_chunk_sizes(int64_t payload, uint32_t *out, size_t cap,
                                            size_t *n);
/* singleChunkSize: the smallest allowed chunk size >= payload, or
 * SX_E_LIMIT when payload is over 4 MiB (redirect descriptions). */
SX_MUST_CHECK sx_status sx_xftp_single_chunk_size(int64_t payload, uint32_t *out);
/* content + 8 (length) + 16 (tag): the payload the chunk sizes must hold. */
static inline int64_t sx_xftp_payload_size(int64_t content_len)
{
    return content_len + SX_XFTP_FILE_LEN_HEADER + SX_XFTP_SB_TAG_LEN;
}

/* ---- file header (FileHeader) ---- */

/* shortString(file name, UTF-8) || Maybe(shortString(extra, UTF-8)). */
typedef struct sx_xftp_file_header {
    sx_slice name;
    bool has_extra;
    sx_slice extra;
} sx_xftp_file_header;

bool sx_xftp_file_header_write(sx_writer *w, const sx_xftp_file_header *h);
/* Reads a header from the start of the decrypted content (the reference
 * looks at the first 1024 bytes); *used is its length. SX_E_PROTOCOL for a
 * truncated header or invalid UTF-8. */
SX_MUST_CHECK sx_status sx_xftp_file_header_decode(sx_slice content, sx_xftp_file_header *out,
                                                   size_t *used);

/* ---- whole files (encryptFile / decryptChunks) ---- */

typedef struct sx_xftp_file_enc {
    sx_xftp_sb sb;
    int64_t content_len; /* header + file bytes still to come, then padding */
    int64_t pad_len;
} sx_xftp_file_enc;

/* Starts a file of content_len bytes (header + file) padded to enc_size
 * (the sum of its chunk sizes, tag included) and writes the encrypted
 * 8-byte length into len_out. SX_E_USAGE when enc_size is smaller than
 * sx_xftp_payload_size(content_len) or content_len < 0. */
SX_MUST_CHECK sx_status sx_xftp_file_encrypt_init(sx_xftp_file_enc *e,
                                                  const uint8_t key[SX_XFTP_SB_KEY_LEN],
                                                  const uint8_t nonce[SX_XFTP_SB_NONCE_LEN],
                                                  int64_t content_len, int64_t enc_size,
                                                  uint8_t len_out[SX_XFTP_FILE_LEN_HEADER]);
/* Encrypts the next content bytes. SX_E_USAGE for more than content_len. */
SX_MUST_CHECK sx_status sx_xftp_file_encrypt_update(sx_xftp_file_enc *e, sx_slice in,
                                                    uint8_t *out);
/* After all content: writes up to cap bytes of encrypted padding; *n = 0
 * once all of it was written. SX_E_USAGE before the content is complete. */
SX_MUST_CHECK sx_status sx_xftp_file_encrypt_pad(sx_xftp_file_enc *e, uint8_t *out, size_t cap,
                                                 size_t *n);
/* The tag, after content and padding (SX_E_USAGE otherwise). Wipes e. */
SX_MUST_CHECK sx_status sx_xftp_file_encrypt_final(sx_xftp_file_enc *e,
                                                   uint8_t tag[SX_XFTP_SB_TAG_LEN]);

typedef struct sx_xftp_file_dec {
    sx_xftp_sb sb;
    int64_t body_len;  /* enc_size - 16: ciphertext before the tag */
    int64_t done;      /* ciphertext bytes processed */
    uint8_t len_buf[SX_XFTP_FILE_LEN_HEADER];
    int64_t content_len; /* from the header, once 8 bytes were seen */
} sx_xftp_file_dec;

SX_MUST_CHECK sx_status sx_xftp_file_decrypt_init(sx_xftp_file_dec *d,
                                                  const uint8_t key[SX_XFTP_SB_KEY_LEN],
                                                  const uint8_t nonce[SX_XFTP_SB_NONCE_LEN],
                                                  int64_t enc_size);
/* Decrypts the next ciphertext bytes (the tag excluded) into out (in.len
 * bytes, out == in.ptr allowed); *content is the part of out that is file
 * content (not the length header nor padding). Nothing is authentic until
 * final succeeds. SX_E_PROTOCOL for more than enc_size - 16 bytes or a
 * length header that is negative or does not fit. */
SX_MUST_CHECK sx_status sx_xftp_file_decrypt_update(sx_xftp_file_dec *d, sx_slice in,
                                                    uint8_t *out, sx_slice *content);
/* Checks the tag: SX_OK; SX_E_AUTH for a wrong tag; SX_E_PROTOCOL if fewer
 * than enc_size - 16 bytes were given. Wipes d. The caller discards all
 * output unless this returns SX_OK. *content_len is the content length. */
SX_MUST_CHECK sx_status sx_xftp_file_decrypt_final(sx_xftp_file_dec *d, sx_slice tag,
                                                   int64_t *content_len);

#endif
