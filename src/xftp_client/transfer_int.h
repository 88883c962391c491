/* Internal to the whole-file XFTP transfers (transfer.h), which live in
 * several files of one concern each: transfer.c (send, receive, delete,
 * info), transfer_enc.c (a file to encrypted chunks and back),
 * transfer_fd.c (descriptions: files, links, making them), transfer_par.c
 * (connections and the parallel chunk runner), transfer_err.c (what a
 * failure means, in words), transfer_keep.c (the folders receives keep
 * their chunks in) and transfer_common.c (the small helpers below). */
#ifndef SX_XFTP_CLIENT_TRANSFER_INT_H
#define SX_XFTP_CLIENT_TRANSFER_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "xftp_client/transfer.h"

#define XT_BUF_LEN 65536
#define XT_HEADER_WINDOW 1024 /* the header must be in the first 1024 content bytes */

/* ---- helpers (transfer_common.c) ---- */

/* Whether the program asked to stop (cancel may be NULL). */
bool xt_cancel_set(const volatile sig_atomic_t *cancel);
/* The same for a transfer's options (o->client.cancel). */
bool xt_cancelled(const sx_xftp_transfer_opts *o);
/* A message for the user into o->errbuf (when there is one). */
void xt_set_err(const sx_xftp_transfer_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The XFTP error name behind a failure into o->errcode. */
void xt_set_code(const sx_xftp_transfer_opts *o, const char *code);
void xt_progress(const sx_xftp_transfer_opts *o, const char *phase, int64_t done, int64_t total);
/* A line for o->log (verbose), when there is one; one call at a time. */
void xt_log(const sx_xftp_transfer_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether o has a log: to skip work for lines nobody reads. */
bool xt_logging(const sx_xftp_transfer_opts *o);
/* Attempts per network step. */
int xt_retries(const sx_xftp_transfer_opts *o);
/* The temporary folder: o->tmp_dir, $TMPDIR or /tmp. */
const char *xt_tmp_dir(const sx_xftp_transfer_opts *o);
/* read(2) retried on EINTR: SX_E_IO on failure, *n = 0 at the end. */
sx_status xt_read_some(int fd, uint8_t *p, size_t cap, size_t *n);
/* An address for a message: as written, with "***" for its password. */
void xt_address_shown(const char *text, char *out, size_t cap);
/* A fresh random name in the temporary folder. */
sx_status xt_temp_path(const sx_xftp_transfer_opts *o, char *out, size_t cap);

/* ---- the folders receives keep their chunks in (transfer_keep.c) ---- */

/* Opens <dir>/lock (0600, made when missing; lp gets its path) and takes an
 * exclusive flock without waiting, held in *lock_fd until closed.
 * SX_E_USAGE with nothing said when another run holds it (the caller says
 * what it is), SX_E_IO with the error said, SX_E_LIMIT for a long path. */
sx_status xt_dir_lock(const char *dir, const sx_xftp_transfer_opts *o, char *lp, size_t cap, int *lock_fd);

/* Removes the files of dir, then dir (no sub-folders); SX_OK when it is gone. */
sx_status xt_rm_tree(const char *dir);
/* The folder of the temporary folder the chunks of fd are received into:
 * "<tmp>/xftp_recv_<uid>_<32 hex digits of the description's SHA-256>". */
sx_status xt_recv_dir_name(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, char *out, size_t cap);
/* Makes the folder of xt_recv_dir_name (0700; refused when it is someone
 * else's or open to others) and locks it for this receive: the name to
 * out, the lock to *lock_fd (SX_E_USAGE when another receive holds it). */
sx_status xt_recv_dir_open(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, char *out, size_t cap,
                           int *lock_fd);
/* Whether a chunk file left by an earlier run is whole: the size and
 * SHA-256 of the description's chunk ch. */
bool xt_chunk_file_ok(const char *path, const sx_xftp_fd_chunk *ch);

/* ---- encryption (transfer_enc.c) ---- */

/* sx_xftp_encrypt_file and sx_xftp_decrypt_chunks that stop with SX_E_IO
 * (their output removed) once *cancel is set. */
sx_status xt_encrypt_file(const char *src, const char *file_name, const char *enc_path, sx_xftp_encrypted *out,
                          const volatile sig_atomic_t *cancel);
/* The same with a given key and nonce (both NULL: fresh ones), so that a
 * resumed send makes the very file it began uploading. */
sx_status xt_encrypt_file_with(const char *src, const char *file_name, const char *enc_path,
                               sx_xftp_encrypted *out, const volatile sig_atomic_t *cancel, const uint8_t *key,
                               const uint8_t *nonce);
sx_status xt_decrypt_chunks(const char *const *chunk_paths, size_t n, int64_t enc_size, const uint8_t *key,
                            const uint8_t *nonce, const char *dest, char *out_path, size_t cap,
                            const volatile sig_atomic_t *cancel);

/* ---- descriptions (transfer_fd.c) ---- */

/* Reads a whole (small) text file into a new NUL-terminated buffer. */
sx_status xt_read_text_file(const char *path, char **out, size_t *len);
/* Writes text to path (created exclusively with mode). */
sx_status xt_write_text(const char *path, const char *text, size_t len, mode_t mode);
/* Writes fd as YAML to path (created exclusively with mode). */
sx_status xt_write_fd_file(const sx_xftp_fd *fd, const char *path, mode_t mode);

/* ---- connections and the parallel runner (transfer_par.c) ---- */

/* One connection per router of a list, made when first needed. */
typedef struct conn_pool {
    size_t n;
    sx_xftp_fd_server *servers; /* borrowed */
    sx_xftp_client **c;
    bool connect_failed;       /* the last xt_pool_get could not connect... */
    sx_xftp_connect_fail fail; /* ...and why */
} conn_pool;

void xt_pool_cleanup(conn_pool *p);
/* A usable connection to server i, connecting when needed. */
sx_status xt_pool_get(conn_pool *p, size_t i, const sx_xftp_transfer_opts *o, sx_xftp_client **out);
/* Whether a failed step is worth another attempt. */
bool xt_retryable(const conn_pool *p, sx_xftp_client *c, sx_status st);
/* After attempt a (from 0) of a network step with router `server` of pool
 * failed (c and st as for xt_fail_reason) in a way worth another try: says
 * so in o's log with the reason, then waits before the next one, 1 s and
 * then twice as long each time (at most 8 s), so that a router restarting
 * meanwhile is found again; returns at once after the last attempt or
 * when the program cancels. */
void xt_retry_pause(const sx_xftp_transfer_opts *o, int a, const conn_pool *pool, size_t server,
                    sx_xftp_client *c, sx_status st);

/* ---- messages (transfer_err.c) ---- */

/* The steps of a transfer that talk to a router. */
typedef enum xt_op {
    XT_OP_UPLOAD,   /* FNEW, FPUT */
    XT_OP_DOWNLOAD, /* FGET */
    XT_OP_ACK,      /* FACK */
    XT_OP_DELETE,   /* FDEL */
} xt_op;

/* Why a connection to host:port failed, as a sentence, into out. */
void xt_connect_reason(const sx_xftp_connect_fail *f, const char *host, unsigned port, char *out, size_t cap);
/* Why step op with router `server` of pool failed: the connection attempt
 * (c NULL after a failed xt_pool_get), the router's XFTP error (recorded in
 * o->errcode) or the status, as a sentence into out. */
void xt_fail_reason(const sx_xftp_transfer_opts *o, const conn_pool *pool, size_t server, xt_op op,
                    sx_xftp_client *c, sx_status st, char *out, size_t cap);
/* Why one attempt with router `server` of pool failed, as a few words for
 * a log line (nothing recorded in o). */
void xt_retry_reason(const conn_pool *pool, size_t server, sx_xftp_client *c, sx_status st, char *out, size_t cap);
/* A local failure (files, memory) as a few words. */
const char *xt_local_reason(sx_status st);

#define XT_REASON_LEN 400

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

/* Runs fn over items 0..n, item i belonging to group key[i] (a server index,
 * or SIZE_MAX for its own group), up to PAR_MAX groups at once; see
 * transfer_par.c. On return keep (if not NULL, with n_servers slots) holds
 * connections the workers left open. */
sx_status xt_par_run_items(const sx_xftp_transfer_opts *o, par_item_fn fn, void *ctx, size_t n, const size_t *key,
                           const uint32_t *sizes, const char *phase, int64_t total, sx_xftp_fd_server *servers,
                           size_t n_servers, conn_pool *keep);

#endif
