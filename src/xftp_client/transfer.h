/* Whole-file XFTP transfers as the reference CLI does them (reference
 * FileTransfer/Client/Main.hs, Crypto.hs, Description.hs at 152c30ca68):
 * send = encrypt the file with its header into a temporary file (SHA-512
 * of it, SHA-256 per chunk), create and upload each chunk on a router
 * picked at random from the list, then write one description per recipient
 * and one for the sender; recv = download every chunk of a recipient
 * description, check digests, decrypt into a directory under the header's
 * file name, acknowledge the chunks; del = delete every chunk with the
 * sender description; info = the description summary.
 *
 * The offline halves (encrypt to chunks, decrypt chunks) are exported for
 * tests. All calls block; a progress callback reports bytes moved.
 *
 * send and recv move chunks as the reference CLI: grouped by router, one
 * group after another on one connection, up to 16 groups at once on their
 * own threads and connections. The first failure is the one reported; the
 * other threads start no further chunk and the whole call fails. */
#ifndef SX_XFTP_TRANSFER_H
#define SX_XFTP_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "simplex/status.h"
#include "xftp_client/client.h"
#include "xftp/description.h"
#include "xftp/filecrypt.h"

#define SX_XFTP_MAX_FILE_SIZE (1024LL * 1024 * 1024) /* maxFileSize: 1gb */
#define SX_XFTP_DEFAULT_RETRY 3
#define SX_XFTP_PATH_MAX 4096

/* done / total bytes of the current phase ("Uploaded", "Downloaded"). May be
 * called from the transfer's worker threads, one call at a time, with done
 * growing by a whole chunk each time. */
typedef void (*sx_xftp_progress_cb)(void *ud, const char *phase, int64_t done, int64_t total);
/* A line of what the transfer does (verbose), without a newline. */
typedef void (*sx_xftp_log_cb)(void *ud, const char *line);

typedef struct sx_xftp_transfer_opts {
    const char *const *servers; /* send: router addresses "xftp://hash[:password]@host[:port]" */
    size_t server_count;
    int recipients;             /* send: 1..255 (0: 1) */
    const char *tmp_dir;        /* NULL: $TMPDIR or /tmp */
    int retry;                  /* attempts per network step (0: 3) */
    sx_xftp_client_opts client; /* timeouts */
    sx_xftp_progress_cb progress;
    void *progress_ud;
    sx_xftp_log_cb log; /* may be NULL */
    void *log_ud;
    char *errbuf;               /* optional: a message for the user on failure */
    size_t errbuf_len;
    char *errcode;              /* optional: the router's error behind it ("AUTH"), "" when local */
    size_t errcode_len;
} sx_xftp_transfer_opts;

/* ---- offline parts ---- */

/* What encrypting a file produced. Release with sx_xftp_encrypted_cleanup. */
typedef struct sx_xftp_encrypted {
    uint8_t key[SX_XFTP_SB_KEY_LEN];
    uint8_t nonce[SX_XFTP_SB_NONCE_LEN];
    int64_t enc_size;
    uint8_t digest[64]; /* SHA-512 of the encrypted file */
    size_t chunk_count;
    uint32_t *chunk_sizes;
    uint8_t (*chunk_digests)[32]; /* SHA-256 of each chunk */
} sx_xftp_encrypted;

/* Encrypts src (streamed) with header {file_name} into a new file enc_path
 * (created exclusively) with a fresh key and nonce. Errors: SX_E_IO (files),
 * SX_E_LIMIT (over 1gb), SX_E_USAGE, SX_E_NOMEM. enc_path is removed on error. */
SX_MUST_CHECK sx_status sx_xftp_encrypt_file(const char *src, const char *file_name,
                                             const char *enc_path, sx_xftp_encrypted *out);
void sx_xftp_encrypted_cleanup(sx_xftp_encrypted *e);

/* Decrypts n chunk files (in order, enc_size bytes in all) with key/nonce.
 * The output is placed by `dest`: an existing directory gets the header's
 * file name made unique ("name_1.ext", ...); a path that does not exist is
 * used as is; an existing file is refused (SX_E_USAGE). The chosen path goes
 * to out_path (cap bytes). A wrong tag is SX_E_AUTH (nothing is left behind),
 * a bad header or size SX_E_PROTOCOL, file errors SX_E_IO. */
SX_MUST_CHECK sx_status sx_xftp_decrypt_chunks(const char *const *chunk_paths, size_t n,
                                               int64_t enc_size, const uint8_t *key,
                                               const uint8_t *nonce, const char *dest,
                                               char *out_path, size_t cap);

/* uniqueCombine: dir/name if free, else dir/<stem>_N<ext> (ext from the first
 * dot), the first N >= 1 that does not exist. SX_E_LIMIT if it does not fit. */
SX_MUST_CHECK sx_status sx_xftp_unique_path(const char *dir, const char *name, char *out,
                                            size_t cap);

/* Reads a description file, or a recipient link "https://host/#<fragment>"
 * (base64url raw-DEFLATE YAML, as the reference prints). */
SX_MUST_CHECK sx_status sx_xftp_read_description(const char *path_or_link, sx_xftp_fd *out,
                                                 char *errbuf, size_t errlen);

/* One uploaded chunk, as sending records it (keys are borrowed). */
typedef struct sx_xftp_sent_chunk {
    size_t server;         /* index into the server list */
    sx_key *snd_key;       /* private */
    sx_xftp_id snd_id;
    sx_key **rcv_keys;     /* private, one per recipient */
    sx_xftp_id *rcv_ids;
} sx_xftp_sent_chunk;

/* The description of recipient rcv (0-based), or of the sender (rcv < 0),
 * for file e uploaded as chunks[0..e->chunk_count). *fd is owned by the
 * caller (sx_xftp_fd_cleanup). SX_E_NOMEM, SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_xftp_make_description(const sx_xftp_encrypted *e,
                                                 const sx_xftp_fd_server *servers,
                                                 size_t server_count,
                                                 const sx_xftp_sent_chunk *chunks, int rcv,
                                                 sx_xftp_fd *fd);
/* fileWebLink: "https://<first host of chunk 1's server>/#<base64url(raw
 * DEFLATE(YAML))>" into a new heap string (*out NULL for a description
 * without chunks). */
SX_MUST_CHECK sx_status sx_xftp_web_link(const sx_xftp_fd *fd, char **out);

/* ---- network ---- */

typedef struct sx_xftp_send_result {
    char dir[SX_XFTP_PATH_MAX];             /* <out_dir>/<file name>.xftp */
    char snd_path[SX_XFTP_PATH_MAX];        /* dir/snd.xftp.private */
    size_t rcv_count;
    char (*rcv_paths)[SX_XFTP_PATH_MAX];    /* dir/rcv<i>.xftp, heap */
    char *web_link;                         /* "https://host/#...", heap, or NULL */
} sx_xftp_send_result;

/* Sends the file at path; descriptions go under out_dir (NULL: "."). */
SX_MUST_CHECK sx_status sx_xftp_send(const char *path, const char *out_dir,
                                     const sx_xftp_transfer_opts *o, sx_xftp_send_result *res);
void sx_xftp_send_result_cleanup(sx_xftp_send_result *res);

/* Receives the file of a recipient description (already parsed; redirects
 * are followed once) into dest (see sx_xftp_decrypt_chunks); the path
 * written goes to out_path. Chunks are acknowledged after the file checks
 * out. Errors: as the client calls; SX_E_AUTH for a digest or tag mismatch
 * (message in errbuf). */
SX_MUST_CHECK sx_status sx_xftp_recv(const sx_xftp_fd *fd, const char *dest,
                                     const sx_xftp_transfer_opts *o, char *out_path, size_t cap);

/* A receive that stops keeps its chunks for a later run of the same
 * description this many days after it last ran (sx_xftp_recv_prune). */
#define SX_XFTP_RECV_KEEP_DAYS 7

/* The bytes of whole chunks of fd a stopped receive kept in its folder
 * (the room a new run does not need again); 0 without a folder. */
SX_MUST_CHECK sx_status sx_xftp_recv_kept(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, int64_t *kept);
/* Removes this user's folders of stopped receives in the temporary folder
 * that were last used max_age_sec or more ago, except fd's (NULL: none
 * spared) and any a receive holds (its lock); returns how many. */
size_t sx_xftp_recv_prune(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, int64_t max_age_sec);

/* Deletes every chunk of a sender description. */
SX_MUST_CHECK sx_status sx_xftp_delete(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o);

/* Deletes from the routers every chunk an unfinished send recorded in its
 * folder <out>/<name>.xftp.part as created, then removes the folder. */
SX_MUST_CHECK sx_status sx_xftp_delete_part(const char *part, const sx_xftp_transfer_opts *o);

/* Prints the reference's `info` text for fd to out. */
SX_MUST_CHECK sx_status sx_xftp_print_info(const sx_xftp_fd *fd, FILE *out);

#endif
