/* The XFTP router's file store (PROTOCOL-NOTES F.5; reference
 * FileTransfer/Server/Store.hs and StoreLog.hs at 152c30ca68): file records
 * by sender id, recipient ids pointing at them, the storage in use against
 * the quota, the chunk files in the files folder, and the store log in the
 * reference's text format, replayed and compacted on open.
 *
 * Thread-safe: one mutex guards the maps; every call that changes a record
 * appends its store-log line before it returns (so the caller answers the
 * client after the change is in the log). Records are copied out, never
 * returned by reference. */
#ifndef SX_XFTP_FSTORE_H
#define SX_XFTP_FSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "simplex/status.h"
#include "smp/error.h"
#include "xftp/protocol.h"
#include "xftp_router/flog.h"

#define SX_XFTP_STORE_LOG_FILE "file-server-store.log"
#define SX_XFTP_FILE_TIME_PRECISION 3600 /* createdAt is rounded down to the hour */

typedef struct sx_xftp_fstore sx_xftp_fstore;


/* A copy of one file record. */
typedef struct sx_xftp_frec {
    uint8_t sender_id[SX_XFTP_FILE_ID_LEN];
    uint8_t snd_key[SX_KEY_SPKI_MAX]; /* SubjectPublicKeyInfo DER */
    size_t snd_key_len;
    sx_key_alg snd_alg;
    uint32_t size; /* chunk size from FNEW (an allowed size) */
    uint8_t digest[SX_XFTP_DIGEST_MAX];
    size_t digest_len;
    bool uploaded;      /* FPUT completed: the chunk file exists (filePath set) */
    int64_t created_at; /* seconds, rounded down to SX_XFTP_FILE_TIME_PRECISION */
    sx_xftp_fstatus status;
    sx_smp_blocking_info blocked; /* when status is BLOCKED */
    size_t n_recipients;
} sx_xftp_frec;


typedef void (*sx_xftp_fstore_warn_cb)(void *arg, const char *msg);

typedef struct sx_xftp_fstore_opts {
    const char *files_dir; /* required: chunk files are <files_dir>/<base64url(senderId)> */
    const char *log_path;  /* store log, or NULL for none ([STORE_LOG] enable = off) */
    int64_t quota;         /* storage_quota in bytes; <= 0: no limit */
    sx_xftp_fstore_warn_cb warn; /* skipped log lines, missing files...; may be NULL */
    void *warn_arg;
} sx_xftp_fstore_opts;

/* Creates the files folder if missing, replays and compacts the store log
 * (the reference's procedure: backup of the old log, snapshot written), and
 * recomputes the storage in use from the records. Errors: SX_E_IO (folder
 * or log cannot be used), SX_E_NOMEM, SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_xftp_fstore_open(const sx_xftp_fstore_opts *opts, sx_xftp_fstore **out);
/* Closes the log and frees the store (chunk files stay on disk). */
void sx_xftp_fstore_close(sx_xftp_fstore *st);

/* FNEW: a new record with a fresh random sender id and one fresh recipient
 * id per key (ids unique across the store), created_at = now rounded down;
 * logs FNEW and FADD. rcv_ids must hold n_rcv ids. Errors: SX_E_LIMIT (too
 * many recipients), SX_E_IO (log), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_fstore_create(sx_xftp_fstore *st, const sx_xftp_file_info *info,
                                              const sx_smp_pubkey *rcv_keys, size_t n_rcv,
                                              int64_t now,
                                              uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                              uint8_t (*rcv_ids)[SX_XFTP_FILE_ID_LEN]);
/* FADD: more recipients of an existing file; logs FADD. SX_E_AUTH when the
 * sender id is unknown; otherwise as create. */
SX_MUST_CHECK sx_status sx_xftp_fstore_add_recipients(sx_xftp_fstore *st,
                                                      const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                                      const sx_smp_pubkey *rcv_keys, size_t n_rcv,
                                                      uint8_t (*rcv_ids)[SX_XFTP_FILE_ID_LEN]);

/* Lookups (copies). SX_E_AUTH when the id is unknown. The caller checks
 * status (BLOCKED) itself. */
SX_MUST_CHECK sx_status sx_xftp_fstore_get_sender(sx_xftp_fstore *st, sx_slice sender_id,
                                                  sx_xftp_frec *out);
SX_MUST_CHECK sx_status sx_xftp_fstore_get_recipient(sx_xftp_fstore *st, sx_slice rcv_id,
                                                     sx_xftp_frec *out, sx_xftp_rkey *key);

/* FPUT, before receiving: reserves size bytes of the quota (SX_E_LIMIT =
 * ERR QUOTA, nothing reserved). */
SX_MUST_CHECK sx_status sx_xftp_fstore_reserve(sx_xftp_fstore *st, uint32_t size);
/* Gives back a reservation after a failed upload. */
void sx_xftp_fstore_unreserve(sx_xftp_fstore *st, uint32_t size);
/* FPUT, after the body was received into the chunk file and its digest
 * checked: logs FPUT with the file's path and marks the record uploaded.
 * SX_E_AUTH if the record is gone (deleted meanwhile: the caller removes
 * the file and unreserves). */
SX_MUST_CHECK sx_status sx_xftp_fstore_set_uploaded(sx_xftp_fstore *st,
                                                    const uint8_t sender_id[SX_XFTP_FILE_ID_LEN]);
/* The chunk file path of a sender id: <files_dir>/<base64url(id)>, NUL-
 * terminated. SX_E_LIMIT if cap is too small. */
SX_MUST_CHECK sx_status sx_xftp_fstore_path(const sx_xftp_fstore *st,
                                            const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                            char *out, size_t cap);

/* FDEL (and expiry, control-port delete): logs FDEL, removes the chunk file,
 * the record and its recipient ids, and gives its storage back. SX_E_AUTH
 * when unknown; SX_E_IO (ERR FILE_IO) when the file cannot be removed (the
 * record then stays). */
SX_MUST_CHECK sx_status sx_xftp_fstore_delete(sx_xftp_fstore *st,
                                              const uint8_t sender_id[SX_XFTP_FILE_ID_LEN]);
/* Control-port block: logs FBLK, removes the chunk file, keeps the record
 * as BLOCKED with info. SX_E_AUTH when unknown. */
SX_MUST_CHECK sx_status sx_xftp_fstore_block(sx_xftp_fstore *st,
                                             const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                             const sx_smp_blocking_info *info);
/* FACK: logs FACK and removes that recipient id only. SX_E_AUTH when unknown. */
SX_MUST_CHECK sx_status sx_xftp_fstore_ack(sx_xftp_fstore *st, sx_slice rcv_id);

/* Deletes (as sx_xftp_fstore_delete) every file with
 * created_at + SX_XFTP_FILE_TIME_PRECISION < now - ttl; *n_deleted counts
 * them. Holds the lock for at most a bounded batch at a time. */
SX_MUST_CHECK sx_status sx_xftp_fstore_expire(sx_xftp_fstore *st, int64_t now, int64_t ttl,
                                              size_t *n_deleted);

typedef struct sx_xftp_fstore_stats {
    size_t files;      /* records */
    size_t uploaded;   /* records with data */
    size_t recipients; /* recipient ids */
    int64_t used;      /* storage counted against the quota */
    int64_t quota;     /* <= 0: none */
} sx_xftp_fstore_stats;

void sx_xftp_fstore_stats_get(sx_xftp_fstore *st, sx_xftp_fstore_stats *out);

#endif
