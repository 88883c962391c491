/* Internal structures of the XFTP router's network server (server.c,
 * server_http.c and server_cmd.c): the server, its workers, connections (one TLS session and
 * one nghttp2 server session each) and HTTP/2 request streams. */
#ifndef SX_XFTP_SERVER_INT_H
#define SX_XFTP_SERVER_INT_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "kit/workers.h"
#include "transport/tls.h"
#include "xftp/filecrypt.h"
#include "xftp_router/fstore.h"
#include "xftp/protocol.h"
#include "xftp_router/server.h"
#include "xftp_router/stats.h"

#define XS_PATH_MAX 4096
/* Uploads are written to "<files>/.part/<chunk name>.<pid>.<n>" and renamed
 * into <files> when done; that folder is emptied at start (leftovers of a
 * crash), without scanning the chunk files. */
#define XS_PART_DIR ".part"

typedef struct sx_xftp_server xs_server;
typedef struct xs_worker xs_worker;
typedef struct xs_conn xs_conn;
typedef struct xs_stream xs_stream;
typedef struct xs_upjob xs_upjob;
typedef struct xs_upbuf xs_upbuf;

/* A worker's file I/O thread: FPUT body buffers are written to the chunk
 * file and hashed there, in order, and each buffer is posted back to the
 * worker's loop when done (server_cmd.c). */
typedef struct xs_io {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    xs_upbuf *head, *tail; /* queued buffers */
    bool stop;
    bool running; /* false: buffers are processed inline */
    pthread_t thread;
} xs_io;

struct xs_worker {
    xs_server *s;
    unsigned index;
    sx_loop *loop; /* the kit's (sx_kit_workers_loop) */
    xs_conn *conns;
    xs_io io;
    /* Streams whose response waits for its store-log record (server.c),
     * oldest first; retried by log_task, which the file store's durable
     * callback posts at most once at a time (log_task_posted, atomic). */
    xs_stream *held_head, *held_tail;
    sx_loop_task log_task;
    bool log_task_posted;
};

struct sx_xftp_server {
    sx_xftp_server_opts opts;
    sx_tls_ctx *tls;
    sx_tls_ctx *web_tls; /* NULL without a web credential */
    sx_key *sign_key;    /* the online (server.key) key: signs session keys */
    uint8_t identity[32]; /* SHA-256 of ca.crt */
    sx_xftp_fstore *store;
    struct xs_control *control; /* NULL without a control port (router.c) */
    char web_root[XS_PATH_MAX]; /* canonical web_static_path, "" when none */
    /* The listening socket and worker threads (kit/workers.h). */
    sx_kit_workers *ws;
    uint64_t next_conn_id; /* atomic */
    xs_worker *workers;
    unsigned n_workers;
    int64_t next_expire_ms;
    int64_t file_ttl;        /* seconds, < 0 never */
    int64_t expire_interval; /* seconds */
    int64_t file_timeout_ms;
    sx_xftp_stats stats;
    int64_t next_stats_log; /* unix seconds; worker 0 only */
};

typedef enum xs_hs {
    XS_HS_NONE = 0,
    XS_HS_SENT,     /* server hello sent, session key made */
    XS_HS_ACCEPTED, /* client handshake accepted */
} xs_hs;

typedef enum xs_conn_state { XS_CONN_TLS = 0, XS_CONN_H2 } xs_conn_state;

struct xs_conn {
    xs_worker *w;
    xs_conn *prev, *next;
    int fd;
    sx_kit_peer peer; /* counted by the kit until the handshake is done */
    sx_loop_io io;
    sx_loop_task task; /* adoption, then deferred free */
    sx_tls_conn *tls;
    xs_conn_state state;
    int64_t accepted_ms, last_active_ms;
    int64_t next_idle_check_ms; /* [INACTIVE_CLIENTS] check_interval after the last */
    nghttp2_session *h2;
    const uint8_t *wpend; /* bytes from nghttp2 not yet written to TLS */
    size_t wpend_len, wdone;
    xs_stream *streams;
    /* Session (PROTOCOL-NOTES F3): tls-unique, ALPN kind, handshake state. */
    uint8_t sid[SX_TLS_UNIQUE_MAX];
    size_t sid_len;
    bool alpn_none;   /* no ALPN: version 1 without handshake */
    bool alpn_xftp;   /* xftp/1 or http/1.1 (or h2 with SNI): handshake */
    bool sni_used;
    xs_hs hs;
    sx_key *hs_key;   /* X25519 session key pair (private) */
    uint8_t hs_priv[32];
    uint16_t version;
    bool closing;
    uint64_t id;     /* for log lines: the router's count of connections */
    const char *why; /* the first reason it is being closed, for the log */
    xs_conn *flush_next; /* log_task's list of connections to flush */
    bool flush_listed;
};

typedef enum xs_phase {
    XS_HEAD = 0,  /* collecting the first 16384 bytes */
    XS_UPLOAD,    /* FPUT body into the chunk file */
    XS_DRAIN,     /* FPUT of an uploaded chunk: count and discard */
    XS_DISCARD,   /* answered: ignore whatever else comes */
} xs_phase;

struct xs_stream {
    xs_conn *c;
    xs_stream *prev, *next;
    int32_t id;
    char method[16];
    char path[1024];
    bool path_long;
    bool web_hello, web_handshake;
    uint8_t *head;
    size_t head_len;
    xs_phase phase;
    uint16_t v; /* version of the deferred FPUT answer */
    bool responded;
    /* FPUT */
    xs_upjob *up; /* chunk file being written (phase XS_UPLOAD), else NULL */
    uint32_t up_size;
    uint64_t up_got;
    uint8_t up_digest[SX_XFTP_DIGEST_MAX];
    size_t up_digest_len;
    uint8_t sender_id[SX_XFTP_FILE_ID_LEN];
    int64_t deadline_ms;
    /* reply echo for a deferred FPUT answer */
    uint8_t corr[255];
    size_t corr_len;
    uint8_t ent[255];
    size_t ent_len;
    /* PROTOCOL-NOTES F27, with the rule PROTOCOL-NOTES E25 states for SMP:
     * a response confirming a change is not sent before the change's record
     * is in the store log file. hold_seq is that record (0: nothing to wait
     * for); a response made before then is kept in held (on the worker's
     * list) and sent by log_task; if the log fails first, ERR hold_err is
     * sent instead (version v, corr and ent above). */
    uint64_t hold_seq;
    sx_xftp_err_type hold_err;
    uint8_t *held;
    size_t held_len;
    bool holding;
    xs_stream *held_prev, *held_next;
    /* response body: out[out_pos..out_len), then file bytes */
    uint8_t *out;
    size_t out_len, out_pos;
    int file_fd;
    uint64_t file_off, file_left;
    bool encrypt;
    sx_xftp_sb sb;
    uint8_t tag[SX_XFTP_SB_TAG_LEN];
    size_t tag_pos;
    bool tag_done;
};

/* server_cmd.c: a complete request head (the handshake already passed) for
 * version v; answers now or sets up the FPUT body phase. */
void xs_process_request(xs_stream *st, uint16_t v);
/* FPUT body bytes, and the end of the request body. Returns how many of the
 * bytes were taken by the upload: those are given back to HTTP/2 flow control
 * (nghttp2_session_consume) once written; the caller consumes the rest. */
size_t xs_upload_data(xs_stream *st, const uint8_t *data, size_t len);
void xs_upload_end(xs_stream *st);
/* Hands the partly filled body buffer to the I/O thread. */
void xs_upload_flush(xs_stream *st);
/* Bytes in the stream's partly filled body buffer (taken from HTTP/2, not yet
 * queued to the I/O thread, so not yet given back to flow control). */
size_t xs_upload_held(const xs_stream *st);
/* After a read pass that found no more input, a connection's partly filled
 * body buffers are queued only once they hold this much together: each
 * buffer queued costs a wake-up of the I/O thread and one of the worker
 * when it comes back, so small read passes are batched. The bound keeps the
 * peer able to send: what is held (< 128 KiB) plus what nghttp2 has
 * consumed but not yet announced (< half of XS_WINDOW) stays well below
 * XS_WINDOW, so the peer always has window left to send the bytes that
 * fill the buffers, and the end of a body queues its buffer at once. */
#define XS_UPLOAD_HOLD_MAX (128 * 1024)
/* Detaches a partial upload from the stream (stream gone, timeout, error):
 * its bytes are consumed at once, and the file is removed and the quota
 * released once the I/O thread is done with it. */
void xs_upload_abort(xs_stream *st);
/* Likewise for a stream being closed (connection-level consume only). */
void xs_upload_gone(xs_stream *st);
/* Starts / stops a worker's I/O thread (stop: on the worker thread after its
 * connections are closed; queued buffers still post back to the loop). */
void xs_io_start(xs_worker *w);
void xs_io_stop(xs_worker *w);
/* A file deleted (FDEL, control-port delete) or blocked: counts k and, when
 * its chunk was uploaded, takes it off filesCount / filesSize. */
void xs_stats_removed(xs_server *s, const sx_xftp_frec *rec, sx_xftp_stat k);
/* server.c: writes what nghttp2 has to send (after a posted completion). */
void xs_conn_flush(xs_conn *c);
/* Closes c now (server.c); c itself is freed by a later loop task. */
void xs_conn_close(xs_conn *c);
/* Records why c is closed (the first reason given wins), for its log line. */
void xs_conn_why(xs_conn *c, const char *why);

/* ---- server_http.c: the HTTP/2 side of a connection ---- */

/* After the TLS handshake: the connection's nghttp2 server session, its
 * settings, and what the handshake told (session id, ALPN, SNI). */
void xs_conn_start_h2(xs_conn *c);
/* Frees a stream and what it holds (its upload, its held response). */
void xs_stream_free(xs_stream *st);
/* On the writer thread after each store-log batch: posts one task per
 * worker, which sends the held responses now written. arg: the server. */
void xs_log_durable_cb(void *arg);
/* Sends a 200 response: body (heap, taken) and, when file_fd >= 0, file_len
 * bytes of that file (encrypted with st->sb when st->encrypt). */
void xs_respond(xs_stream *st, uint8_t *body, size_t len, const char *content_type);
/* Answers an XFTP transmission (ERR when resp->tag is ERR) with the given
 * corrId and entity. */
void xs_respond_resp(xs_stream *st, uint16_t v, sx_slice corr, sx_slice ent, const sx_xftp_resp *r);
void xs_respond_err(xs_stream *st, uint16_t v, sx_slice corr, sx_slice ent, sx_xftp_err_type e);

/* The router without its control port (router.c composes the two): start
 * opens the store, the port and the workers; stop ends them, saves the
 * statistics and frees s (the control port must be stopped first). */
SX_MUST_CHECK sx_status xs_server_start(const sx_xftp_server_opts *opts, sx_xftp_server **out);
void xs_server_stop(sx_xftp_server *s);

#endif
