/* The XFTP router's file store (PROTOCOL-NOTES F.5; reference
 * FileTransfer/Server/Store.hs and StoreLog.hs at 152c30ca68): file records
 * by sender id, recipient ids pointing at them, the storage in use against
 * the quota, the chunk files in the files folder, and the store log in the
 * reference's text format, replayed and compacted on open.
 *
 * Thread-safe: one mutex guards the maps. A call that changes a record hands
 * its store-log line to the log's writer thread (src/kit/logwriter.h) under
 * that mutex, together with the change, so the log has the changes in the
 * order they were made; it does not wait for the disk. It tells its caller
 * the record's sequence number (seq, 0 when nothing was logged), and the
 * caller answers only once sx_xftp_fstore_log_status says the record is in
 * the file: a loop thread holds the answer until the callback of
 * sx_xftp_fstore_set_durable_cb, a thread that may block calls
 * sx_xftp_fstore_wait_durable.
 *
 * A log that is failing refuses the change (SX_E_IO, nothing changed). A
 * batch that cannot be written (a full disk) is kept and tried again every
 * SX_XFTP_LOG_RETRY_MS: its records' answers wait meanwhile (the changes
 * are made in memory), every new change is refused and the router serves
 * what it has; once a write succeeds the held answers go out and changes
 * are taken again. A failure the log cannot recover from (a failed sync, a
 * file it could not cut back, a failed last write at close) is final: the
 * held answers become errors and a restart replays only what was written.
 * Records are copied out, never returned by reference. */
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
#define SX_XFTP_LOG_RETRY_MS 1000        /* a failed store-log write is tried again after this */

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
    /* The store log's start-up notes (created, compacted, backed up); NULL:
     * they go to warn too. Called with warn_arg. */
    sx_xftp_fstore_warn_cb note;
} sx_xftp_fstore_opts;

/* Creates the files folder if missing, replays and compacts the store log
 * (the reference's procedure: backup of the old log, snapshot written), and
 * recomputes the storage in use from the records. Errors: SX_E_IO (folder
 * or log cannot be used), SX_E_NOMEM, SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_xftp_fstore_open(const sx_xftp_fstore_opts *opts, sx_xftp_fstore **out);
/* Stops the writer thread once it has written every queued record, closes
 * the log and frees the store (chunk files stay on disk). No call may be
 * running; the durable callback is not called after the writer stopped. */
void sx_xftp_fstore_close(sx_xftp_fstore *st);

/* Every call below that logs a record takes seq (NULL when the caller does
 * not care): on success the sequence number of the last record it logged,
 * which the answer depends on; 0 on failure or when nothing was logged
 * (no store log). */

/* FNEW: a new record with a fresh random sender id and one fresh recipient
 * id per key (ids unique across the store), created_at = now rounded down;
 * logs FNEW and FADD. rcv_ids must hold n_rcv ids. Errors: SX_E_LIMIT (too
 * many recipients), SX_E_IO (log), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_fstore_create(sx_xftp_fstore *st, const sx_xftp_file_info *info,
                                              const sx_smp_pubkey *rcv_keys, size_t n_rcv,
                                              int64_t now,
                                              uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                              uint8_t (*rcv_ids)[SX_XFTP_FILE_ID_LEN], uint64_t *seq);
/* FADD: more recipients of an existing file; logs FADD. SX_E_AUTH when the
 * sender id is unknown; otherwise as create. */
SX_MUST_CHECK sx_status sx_xftp_fstore_add_recipients(sx_xftp_fstore *st,
                                                      const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                                      const sx_smp_pubkey *rcv_keys, size_t n_rcv,
                                                      uint8_t (*rcv_ids)[SX_XFTP_FILE_ID_LEN],
                                                      uint64_t *seq);

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
                                                    const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                                    uint64_t *seq);
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
                                              const uint8_t sender_id[SX_XFTP_FILE_ID_LEN], uint64_t *seq);
/* Control-port block: logs FBLK, removes the chunk file, keeps the record
 * as BLOCKED with info. SX_E_AUTH when unknown. */
SX_MUST_CHECK sx_status sx_xftp_fstore_block(sx_xftp_fstore *st,
                                             const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                             const sx_smp_blocking_info *info, uint64_t *seq);
/* FACK: logs FACK and removes that recipient id only. SX_E_AUTH when unknown. */
SX_MUST_CHECK sx_status sx_xftp_fstore_ack(sx_xftp_fstore *st, sx_slice rcv_id, uint64_t *seq);

/* Deletes (as sx_xftp_fstore_delete) every file with
 * created_at + SX_XFTP_FILE_TIME_PRECISION < now - ttl; *n_deleted counts
 * them and *seq is the highest sequence number logged. Holds the lock for
 * at most a bounded batch at a time. */
SX_MUST_CHECK sx_status sx_xftp_fstore_expire(sx_xftp_fstore *st, int64_t now, int64_t ttl,
                                              size_t *n_deleted, uint64_t *seq);

/* Whether the record with sequence number seq is in the log file: SX_OK
 * (also for seq 0 and without a log), SX_E_WOULD_BLOCK (still queued, or
 * kept by a writer that is trying again) or SX_E_IO (the log failed for
 * good before it was written: it never will be). Never blocks; any thread. */
SX_MUST_CHECK sx_status sx_xftp_fstore_log_status(const sx_xftp_fstore *st, uint64_t seq);
/* Blocks until sx_xftp_fstore_log_status(st, seq) is not SX_E_WOULD_BLOCK
 * and returns it; SX_E_IO at once while the log cannot be written (the
 * record stays queued and is written once it can). Not for event-loop
 * threads. */
SX_MUST_CHECK sx_status sx_xftp_fstore_wait_durable(sx_xftp_fstore *st, uint64_t seq);

/* Called on the log's writer thread after each batch it wrote (or failed to
 * write), so that answers held for their records can go out. It must not
 * block or call into the store; posting a loop task is what it is for. */
typedef void (*sx_xftp_fstore_durable_cb)(void *arg);
/* Sets the callback (NULL: none). Returns only when a call in progress on
 * the writer thread has ended, so clearing it before freeing what arg
 * points to is safe. */
void sx_xftp_fstore_set_durable_cb(sx_xftp_fstore *st, sx_xftp_fstore_durable_cb cb, void *arg);

typedef struct sx_xftp_fstore_stats {
    size_t files;      /* records */
    size_t uploaded;   /* records with data */
    size_t recipients; /* recipient ids */
    int64_t used;      /* stored chunks and uploads under way, against the quota */
    int64_t quota;     /* <= 0: none */
} sx_xftp_fstore_stats;

void sx_xftp_fstore_stats_get(sx_xftp_fstore *st, sx_xftp_fstore_stats *out);

#endif
