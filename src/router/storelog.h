/* SMP router persistence in the reference's text formats (PROTOCOL-NOTES
 * E25-E28), so that an operator can move a router's files between the
 * reference and us: store-log records (encode/parse), replay into an sx_store,
 * the queue store as the owner of a router kit log (start-up, compaction
 * and backups in src/kit/logstart.h; appends through src/kit/logfile.h and
 * the writer thread of src/kit/logwriter.h), and the files of undelivered
 * messages and pending notifications written at shutdown.
 *
 * Text forms (PROTOCOL-NOTES A23-A27): ids, secrets and data are padded
 * base64url, keys are base64url of their DER SubjectPublicKeyInfo, numbers are
 * decimal, tuples are space-separated and lists comma-separated. Some values
 * contain spaces (queue_data=, notifier=), so lines are parsed by the grammar
 * (PROTOCOL-NOTES P15).
 *
 * Services (NEW_SERVICE, QUEUE_SERVICE, rsrv=, nsrv=): the queue store has no
 * service support yet, so this module keeps them in its own table
 * (sx_slservices) and writes them back at compaction, services first. */
#ifndef SX_ROUTER_STORELOG_H
#define SX_ROUTER_STORELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "kit/lines.h"
#include "kit/logfile.h"
#include "kit/logwriter.h"
#include "kit/report.h"
#include "router/store.h"
#include "simplex/status.h"

#define SX_STORELOG_FILE "smp-server-store.log"  /* PROTOCOL-NOTES E25 */
#define SX_MSGLOG_FILE "smp-server-messages.log" /* PROTOCOL-NOTES E27 */
#define SX_NTFLOG_FILE "smp-server-ntfs.log"     /* PROTOCOL-NOTES E28 */

#define SX_SL_SERVICE_ID_MAX 64      /* service ids (EntityId) we accept */
#define SX_SL_CERTS_MAX 8            /* certificates in a NEW_SERVICE chain */
#define SX_SL_DH_LEN 32              /* X25519 shared secrets (rdh=, notifier) */
#define SX_MSG_BODY_MAX 16088        /* MaxMessageLen: longest stored body */
#define SX_NTF_NONCE_LEN 24
#define SX_NTF_META_MAX 4096         /* encrypted notification metadata (144 in practice) */

/* Services and their queues, kept beside the store (see below). */
typedef struct sx_slservices sx_slservices;

/* ---------------------------------------------------------------------------
 * Store-log records (PROTOCOL-NOTES E25)
 * ------------------------------------------------------------------------ */

typedef enum sx_slrec_type {
    SX_SLREC_CREATE,        /* CREATE rid=<rid> <QueueRec> */
    SX_SLREC_LINK,          /* LINK <rid> <linkId> <fixed> <user> */
    SX_SLREC_LDELETE,       /* LDELETE <rid> */
    SX_SLREC_SECURE,        /* SECURE <rid> <key> */
    SX_SLREC_KEYS,          /* KEYS <rid> <key>[,<key>...] */
    SX_SLREC_NOTIFIER,      /* NOTIFIER <rid> <nId> <nKey> <dh>[ nsrv=<id>] */
    SX_SLREC_SUSPEND,       /* SUSPEND <rid> */
    SX_SLREC_BLOCK,         /* BLOCK <rid> reason=spam|content[,notice=<json>] */
    SX_SLREC_UNBLOCK,       /* UNBLOCK <rid> */
    SX_SLREC_DELETE,        /* DELETE <rid> */
    SX_SLREC_NDELETE,       /* NDELETE <rid> */
    SX_SLREC_TIME,          /* TIME <rid> <seconds> */
    SX_SLREC_NEW_SERVICE,   /* NEW_SERVICE service_id=... role=... cert=... cert_hash=... created_at=... */
    SX_SLREC_QUEUE_SERVICE, /* QUEUE_SERVICE <rid> R|N [<serviceId>] */
} sx_slrec_type;

typedef struct sx_slnotifier {
    uint8_t id[SX_ID_LEN];
    sx_qkey key;
    uint8_t dh_secret[SX_SL_DH_LEN];
    sx_slice service; /* nsrv=; len 0 = none */
} sx_slnotifier;

/* A queue record (the reference's QueueRec). */
typedef struct sx_slqueue {
    uint8_t n_rkeys;                  /* 1..SX_MAX_RCV_KEYS */
    sx_qkey rkeys[SX_MAX_RCV_KEYS];
    uint8_t dh_secret[SX_SL_DH_LEN];
    uint8_t sid[SX_ID_LEN];
    sx_qkey skey;                     /* len 0: not secured */
    uint8_t mode;                     /* 0 (absent), 'M' or 'C' */
    bool has_link;
    uint8_t link_id[SX_ID_LEN];
    sx_slice link_fixed, link_user;   /* both non-empty to be parseable */
    bool has_notifier;
    sx_slnotifier ntf;
    bool has_updated_at;
    int64_t updated_at;               /* seconds, a whole day */
    uint8_t status;                   /* sx_queue_status */
    sx_slice block_info;              /* BLOCKED: "reason=spam|content[,notice=<json>]" */
    sx_slice rcv_service;             /* rsrv=; len 0 = none */
} sx_slqueue;

typedef struct sx_slservice {
    sx_slice id;
    uint8_t role;                     /* 'M' messaging, 'N' notifier, 'P' proxy */
    uint8_t n_certs;
    sx_slice certs[SX_SL_CERTS_MAX];  /* DER, each a parseable X.509 certificate */
    sx_slice cert_hash;
    int64_t created_at;
} sx_slservice;

/* One record. Which fields a type uses:
 *   every type but NEW_SERVICE: rid
 *   CREATE: q (all of it)      LINK: q.link_id, q.link_fixed, q.link_user
 *   SECURE: q.skey             KEYS: q.n_rkeys, q.rkeys
 *   NOTIFIER: q.ntf            BLOCK: q.block_info
 *   TIME: q.updated_at         NEW_SERVICE: svc
 *   QUEUE_SERVICE: party ('R' or 'N') and service (len 0 = none)
 * Slices of a parsed record point into its arena; a record built by a caller
 * for encoding points wherever the caller likes and has arena NULL. */
typedef struct sx_slrec {
    sx_slrec_type type;
    uint8_t rid[SX_ID_LEN];
    sx_slqueue q;
    sx_slservice svc;
    uint8_t party;
    sx_slice service;
    uint8_t *arena;
} sx_slrec;

/* Parses one line (without its '\n') by the grammar of the reference's
 * parser. Ids must be SX_ID_LEN bytes, keys Ed25519/Ed448/X25519 SPKI,
 * secrets 32 bytes; at most SX_MAX_RCV_KEYS keys. On success the caller
 * releases out with sx_slrec_cleanup; on failure out needs no cleanup.
 * Errors: SX_E_PROTOCOL (malformed), SX_E_LIMIT (over one of our bounds),
 * SX_E_NOMEM. Never reads outside line. */
SX_MUST_CHECK sx_status sx_slrec_parse(sx_slice line, sx_slrec *out);
void sx_slrec_cleanup(sx_slrec *r);
/* Appends the exact text the reference's encoder produces for r (no '\n').
 * Writer style: false with the writer failed (SX_E_USAGE for a record that
 * cannot be encoded, such as n_rkeys 0). */
bool sx_slrec_encode(sx_writer *w, const sx_slrec *r);

/* The CREATE record of a live queue's current state; the caller holds
 * the queue lock and keeps q locked while out is used (its slices point into q and
 * svc). svc may be NULL. */
void sx_slrec_from_queue(const sx_queue *q, const sx_slservices *svc, sx_slrec *out);

/* ---------------------------------------------------------------------------
 * Services kept beside the store (not thread-safe: the owner serialises)
 * ------------------------------------------------------------------------ */

SX_MUST_CHECK sx_status sx_slservices_new(sx_slservices **out);
void sx_slservices_free(sx_slservices *s);
size_t sx_slservices_count(const sx_slservices *s);
/* Service i in the order added; valid until the table changes. */
const sx_slservice *sx_slservices_at(const sx_slservices *s, size_t i);
/* Registers a service as the reference's replay does: a known certificate
 * hash with the same role keeps the existing service (SX_OK, *existing_id
 * set to its id, which may differ); with another role SX_E_AUTH; a new
 * hash whose id is taken SX_E_AUTH; otherwise the service is copied in.
 * existing_id may be NULL. SX_E_NOMEM, SX_E_LIMIT (id too long). */
SX_MUST_CHECK sx_status sx_slservices_add(sx_slservices *s, const sx_slservice *svc, sx_slice *existing_id);
/* Sets (len > 0) or clears (len 0) the recipient ('R') or notifier ('N')
 * service of queue rid. SX_E_USAGE for another party, SX_E_LIMIT for an id
 * over SX_SL_SERVICE_ID_MAX, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_slservices_set_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN], uint8_t party,
                                                sx_slice service);
/* The services of queue rid (len 0 when none); valid until the table changes. */
void sx_slservices_queue(const sx_slservices *s, const uint8_t rid[SX_ID_LEN], sx_slice *rsrv, sx_slice *nsrv);
/* Forgets both services of rid (queue deleted). */
void sx_slservices_forget_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN]);

/* ---------------------------------------------------------------------------
 * Replay, start-up and appends of the queue store log
 * ------------------------------------------------------------------------ */

typedef struct sx_slreplay_stats {
    size_t lines;
    size_t applied;
    size_t bad_lines;  /* unparseable, reported and skipped */
    size_t skipped;    /* parsed but not applicable (unknown queue, clash...) */
} sx_slreplay_stats;

/* Applies one record to st/svc as the reference's replay does (PROTOCOL-NOTES
 * E26). A record that does not apply is reported through opts and changes
 * nothing: SX_E_AUTH for an unknown or deleted queue, an id clash or a refused
 * change (another sender key, other fixed link data, a taken notifier id, a
 * service conflict), SX_E_LIMIT over our bounds; SX_E_NOMEM. svc may be
 * NULL (services ignored). Single-threaded use (startup). */
SX_MUST_CHECK sx_status sx_storelog_apply(sx_store *st, sx_slservices *svc, const sx_slrec *r,
                                          const sx_kit_log_opts *opts);
/* Replays the file at path into st and svc. Unparseable lines and records
 * that do not apply are reported and skipped (PROTOCOL-NOTES E26). A missing
 * file is an empty log. Errors: SX_E_IO reading, SX_E_NOMEM. stats may be
 * NULL. */
SX_MUST_CHECK sx_status sx_storelog_replay(const char *path, sx_store *st, sx_slservices *svc,
                                           const sx_kit_log_opts *opts, sx_slreplay_stats *stats);
/* The whole start-up sequence of PROTOCOL-NOTES E26 (sx_kit_log_start) with
 * the queue store as the log's owner: the compacted log holds the
 * NEW_SERVICE records, then one CREATE per live queue. With no log yet, a
 * new one is created. opts is copied. Errors: SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_storelog_start(const char *path, sx_store *st, sx_slservices *svc,
                                          const sx_kit_log_opts *opts, sx_slreplay_stats *stats,
                                          sx_kit_log **out);
/* Writes a CREATE record for every live queue after the services' records,
 * as one buffered stream, then syncs the file. Startup only: no concurrent
 * appends and no other thread using the store. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_storelog_write_snapshot(sx_kit_log *log, sx_store *st, const sx_slservices *svc);
/* Encodes r and appends it as one line (sx_kit_log_append_line): returns
 * only once the line is in the file. SX_E_USAGE if r cannot be encoded,
 * SX_E_LIMIT if over SX_KIT_LINE_MAX, SX_E_IO. */
SX_MUST_CHECK sx_status sx_storelog_append(sx_kit_log *log, const sx_slrec *r);
/* Queues r on the writer thread (sx_kit_logwriter_submit with the record
 * encoder): its sequence number, or 0 when r cannot be encoded or the log
 * has failed. Thread-safe, never blocks on the disk. */
uint64_t sx_storelog_submit(sx_kit_logwriter *lw, const sx_slrec *r);

/* ---------------------------------------------------------------------------
 * Undelivered messages (PROTOCOL-NOTES E27): "v3 <rid> <msgId> <ts>
 * flags=<T|F> <body>" or "v3 <rid> <msgId> <ts> quota"
 * ------------------------------------------------------------------------ */

typedef struct sx_slmsg {
    uint8_t rid[SX_ID_LEN];
    uint8_t msg_id[SX_ID_LEN];
    int64_t ts;
    bool quota;   /* the quota marker (no flags, no body) */
    bool notify;
    sx_slice body;
    uint8_t *arena;
} sx_slmsg;

/* Parses a message line. Also accepts the older line without "flags="
 * (notify false). Body over SX_MSG_BODY_MAX: SX_E_LIMIT. An empty body is
 * accepted after "flags=X " (the reference writes it but cannot read it).
 * Release with sx_slmsg_cleanup on success. */
SX_MUST_CHECK sx_status sx_slmsg_parse(sx_slice line, sx_slmsg *out);
void sx_slmsg_cleanup(sx_slmsg *m);
bool sx_slmsg_encode(sx_writer *w, const sx_slmsg *m);

typedef struct sx_msglog_opts {
    bool expire;            /* drop messages older than expire_before */
    int64_t expire_before;  /* seconds */
    bool skip_warnings;     /* --skip-warnings: warnings do not stop restore */
    sx_kit_warn_cb warn;
    void *warn_arg;
} sx_msglog_opts;

typedef struct sx_msglog_stats {
    size_t stored;
    size_t expired;
    size_t dropped;  /* not restored: queue full or unknown queue (skip_warnings) */
} sx_msglog_stats;

/* Writes every stored message of every live queue, queue by queue in FIFO
 * order, to path (through "<path>.tmp", synced, renamed). Messages stay in
 * the store. For shutdown: nothing else may change the store meanwhile.
 * *saved may be NULL. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_msglog_save(const char *path, sx_store *st, size_t *saved);
/* Restores path into st (PROTOCOL-NOTES E27) and renames it to "<path>.bak".
 * Messages older than expire_before are dropped when expire is set; a quota
 * line restores the quota marker. A parse error on a line that is not the last,
 * or a warning (bad last line, unknown queue) without skip_warnings, stops
 * the restore with SX_E_PROTOCOL and the file is not renamed (the caller
 * should not start). A missing file is SX_OK with nothing restored. */
SX_MUST_CHECK sx_status sx_msglog_restore(const char *path, sx_store *st, const sx_msglog_opts *opts,
                                          sx_msglog_stats *stats);

/* ---------------------------------------------------------------------------
 * Pending notifications (PROTOCOL-NOTES E28):
 * "v1 <nId> <msgId> <ts> <nonce> <encMeta>"
 * ------------------------------------------------------------------------ */

typedef struct sx_ntfrec {
    uint8_t nid[SX_ID_LEN];
    uint8_t msg_id[SX_ID_LEN];
    int64_t ts;
    uint8_t nonce[SX_NTF_NONCE_LEN];
    sx_slice meta;  /* encrypted metadata, 1..SX_NTF_META_MAX bytes */
    uint8_t *arena; /* parsed records and list entries: what meta points into */
} sx_ntfrec;

/* Parses a notification line. The nonce is padded with zeros or cut to 24
 * bytes, as the reference does. Release with sx_ntfrec_cleanup on success.
 * SX_E_PROTOCOL, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntfrec_parse(sx_slice line, sx_ntfrec *out);
void sx_ntfrec_cleanup(sx_ntfrec *n);
bool sx_ntfrec_encode(sx_writer *w, const sx_ntfrec *n);

/* A plain list of pending notifications in chronological order (the router
 * will own a proper store later). Not thread-safe. */
typedef struct sx_ntf_list {
    sx_ntfrec *items;
    size_t n, cap;
} sx_ntf_list;

void sx_ntf_list_init(sx_ntf_list *l);
void sx_ntf_list_cleanup(sx_ntf_list *l);
/* Appends a copy of n (its meta is copied into memory the list owns).
 * SX_E_LIMIT (meta empty or too long), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_list_add(sx_ntf_list *l, const sx_ntfrec *n);

/* Writes the list in its order (through "<path>.tmp", synced, renamed). */
SX_MUST_CHECK sx_status sx_ntflog_save(const char *path, const sx_ntf_list *l);
/* Appends the notifications of path to l, dropping those older than
 * opts->expire_before when opts->expire, then renames path to "<path>.bak".
 * Any parse error stops with SX_E_PROTOCOL and the file is kept (PROTOCOL-NOTES
 * E28). A missing file is SX_OK. stats (stored, expired) may be NULL. */
SX_MUST_CHECK sx_status sx_ntflog_restore(const char *path, const sx_msglog_opts *opts, sx_ntf_list *l,
                                          sx_msglog_stats *stats);

#endif
