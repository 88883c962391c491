/* Agent messages: the plaintext of the double ratchet (and of the ratchet
 * re-synchronisation envelope) between two agents (docs/AGENT.md, "Agent
 * messages"):
 *
 *   'I' connInfo                                   the initiator's confirmation
 *   'D' NonEmpty(queue info) connInfo               the joiner's confirmation, with reply queues
 *   'R' info                                       ratchet re-synchronisation
 *   'M' sndMsgId(Int64) shortString(prevMsgHash) AMessage
 *
 *   AMessage = "H"                                         HELLO
 *            | "M" body                                    A_MSG
 *            | "V" NonEmpty(Int64 shortString(hash) Large(info))   A_RCVD
 *            | "QC" server shortString(senderId)           A_QCONT
 *            | "QA" NonEmpty(queue URI, Maybe(server senderId))    QADD
 *            | "QK" NonEmpty(queue info, shortString(sender key DER))   QKEY
 *            | "QU" NonEmpty(server senderId, Bool primary)        QUSE
 *            | "QT" NonEmpty(server senderId)              QTEST
 *            | "E" Int64                                   EREADY
 *   (connInfo, info and body are the rest of the bytes)
 *
 * Decoders take the whole buffer: trailing bytes are refused, as the
 * reference parses these messages to their end. Slices point into the
 * input; queue values are copied. */
#ifndef SX_AGENT_AGENT_MSG_H
#define SX_AGENT_AGENT_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/queue_uri.h"
#include "smp/encoding.h"

/* Queues one message may name (QADD, QKEY, QUSE, QTEST, reply queues): the
 * reference allows 255, its agent sends one or two. SX_E_LIMIT beyond. */
#define SX_AGENT_MSG_QUEUES_MAX 4
#define SX_AGENT_MSG_RECEIPTS_MAX 255

#define SX_AGENT_MSG_HASH_LEN 32 /* SHA-256 */

/* A queue's sending address (SndQAddr): router and sender ID. */
typedef struct sx_agent_qaddr {
    sx_agent_server server;
    uint8_t sender_id[SX_AGENT_ENTITY_ID_MAX];
    size_t sender_id_len;
} sx_agent_qaddr;

typedef enum sx_amsg_type {
    SX_AMSG_HELLO = 1,
    SX_AMSG_A_MSG,
    SX_AMSG_A_RCVD,
    SX_AMSG_A_QCONT,
    SX_AMSG_QADD,
    SX_AMSG_QKEY,
    SX_AMSG_QUSE,
    SX_AMSG_QTEST,
    SX_AMSG_EREADY,
} sx_amsg_type;

typedef struct sx_amsg_receipt {
    int64_t agent_msg_id;
    sx_slice msg_hash;
    sx_slice rcpt_info;
} sx_amsg_receipt;

typedef struct sx_amsg_qadd {
    sx_agent_queue_uri uri;
    bool has_replaced;
    sx_agent_qaddr replaced;
} sx_amsg_qadd;

typedef struct sx_amsg_qkey {
    sx_agent_queue_info info;
    sx_smp_pubkey sender_key; /* Ed25519, Ed448 or X25519; a view */
} sx_amsg_qkey;

typedef struct sx_amsg_quse {
    sx_agent_qaddr addr;
    bool primary;
} sx_amsg_quse;

typedef struct sx_amessage {
    sx_amsg_type type;
    sx_slice body;       /* A_MSG */
    int64_t last_snd_id; /* EREADY */
    size_t count;        /* items of the list of this type; 1 for A_QCONT */
    union {
        sx_amsg_receipt rcvd[SX_AGENT_MSG_RECEIPTS_MAX];
        sx_agent_qaddr qcont;
        sx_amsg_qadd qadd[SX_AGENT_MSG_QUEUES_MAX];
        sx_amsg_qkey qkey[SX_AGENT_MSG_QUEUES_MAX];
        sx_amsg_quse quse[SX_AGENT_MSG_QUEUES_MAX];
        sx_agent_qaddr qtest[SX_AGENT_MSG_QUEUES_MAX];
    } u;
} sx_amessage;

typedef enum sx_agent_msg_kind {
    SX_AGENT_MSG_CONN_INFO = 'I',
    SX_AGENT_MSG_CONN_INFO_REPLY = 'D',
    SX_AGENT_MSG_RATCHET_INFO = 'R',
    SX_AGENT_MSG_MESSAGE = 'M',
} sx_agent_msg_kind;

typedef struct sx_agent_msg {
    sx_agent_msg_kind kind;
    sx_slice info; /* I, D: conn info; R: info */
    size_t reply_count;
    sx_agent_queue_info reply[SX_AGENT_MSG_QUEUES_MAX]; /* D */
    int64_t snd_msg_id;                                 /* M */
    sx_slice prev_msg_hash;                             /* M */
    sx_amessage msg;                                    /* M */
} sx_agent_msg;

bool sx_amessage_write(sx_writer *w, const sx_amessage *m);
bool sx_amessage_read(sx_reader *r, sx_amessage *out);
bool sx_agent_msg_write(sx_writer *w, const sx_agent_msg *m);
/* Whole buffer. SX_E_PROTOCOL, SX_E_LIMIT. */
SX_MUST_CHECK sx_status sx_agent_msg_decode(sx_slice in, sx_agent_msg *out);

/* ---- integrity chain ---- */

/* The hash a message leaves for the next one: SHA-256 of the encoded agent
 * message (all of it: 'M', header and AMessage), on both sides. */
SX_MUST_CHECK sx_status sx_agent_msg_hash(sx_slice agent_msg, uint8_t out[SX_AGENT_MSG_HASH_LEN]);

typedef enum sx_msg_integrity {
    SX_MSG_OK = 0,
    SX_MSG_BAD_ID,    /* an ID below the last one */
    SX_MSG_DUPLICATE, /* the last ID again */
    SX_MSG_SKIPPED,   /* IDs from skipped_from to skipped_to are missing */
    SX_MSG_BAD_HASH,  /* the next ID, but the previous hash differs */
} sx_msg_integrity;

/* checkMsgIntegrity: prev_id and prev_hash are what the receiver stored for
 * the last message; id and their_prev_hash come with the new one. */
sx_msg_integrity sx_agent_msg_integrity(int64_t prev_id, int64_t id, sx_slice prev_hash, sx_slice their_prev_hash,
                                        int64_t *skipped_from, int64_t *skipped_to);

#endif
