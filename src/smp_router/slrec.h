/* SMP store-log records (PROTOCOL-NOTES E25) in the reference's text form:
 * the record types, their parser (by the grammar of the reference's parser,
 * PROTOCOL-NOTES P15) and their encoder (its exact bytes), and the CREATE
 * record of a live queue.
 *
 * Text forms (PROTOCOL-NOTES A23-A27): ids, secrets and data are padded
 * base64url, keys are base64url of their DER SubjectPublicKeyInfo, numbers are
 * decimal, tuples are space-separated and lists comma-separated. Some values
 * contain spaces (queue_data=, notifier=), so lines are parsed by the grammar.
 * Between records and the queue store: router/slapply.h. */
#ifndef SX_ROUTER_SLREC_H
#define SX_ROUTER_SLREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "smp_router/store.h"
#include "simplex/status.h"

#define SX_SL_SERVICE_ID_MAX 64 /* service ids (EntityId) we accept */
#define SX_SL_CERTS_MAX 8       /* certificates in a NEW_SERVICE chain */
#define SX_SL_DH_LEN 32         /* X25519 shared secrets (rdh=, notifier) */

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
    uint8_t n_rkeys; /* 1..SX_MAX_RCV_KEYS */
    sx_qkey rkeys[SX_MAX_RCV_KEYS];
    uint8_t dh_secret[SX_SL_DH_LEN];
    uint8_t sid[SX_ID_LEN];
    sx_qkey skey; /* len 0: not secured */
    uint8_t mode; /* 0 (absent), 'M' or 'C' */
    bool has_link;
    uint8_t link_id[SX_ID_LEN];
    sx_slice link_fixed, link_user; /* both non-empty to be parseable */
    bool has_notifier;
    sx_slnotifier ntf;
    bool has_updated_at;
    int64_t updated_at;   /* seconds, a whole day */
    uint8_t status;       /* sx_queue_status */
    sx_slice block_info;  /* BLOCKED: "reason=spam|content[,notice=<json>]" */
    sx_slice rcv_service; /* rsrv=; len 0 = none */
} sx_slqueue;

typedef struct sx_slservice {
    sx_slice id;
    uint8_t role; /* 'M' messaging, 'N' notifier, 'P' proxy */
    uint8_t n_certs;
    sx_slice certs[SX_SL_CERTS_MAX]; /* DER, each a parseable X.509 certificate */
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

/* A compact key from its DER SubjectPublicKeyInfo (Ed25519, Ed448 or
 * X25519, as the records take them; SX_E_PROTOCOL otherwise), and back
 * (SX_E_USAGE for a key that has no such form). */
SX_MUST_CHECK sx_status sx_qkey_from_spki(sx_slice der, sx_qkey *k);
SX_MUST_CHECK sx_status sx_qkey_to_spki(const sx_qkey *k, uint8_t der[SX_KEY_SPKI_MAX], size_t *n);

/* The record's keyword ("CREATE", "LINK", ...); NULL for an unknown type. */
const char *sx_slrec_tag(sx_slrec_type t);

#endif
