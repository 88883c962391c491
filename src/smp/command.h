/* SMP client commands (client -> router; PROTOCOL-NOTES C.3, D.0-D.6,
 * reference encodeProtocol / protocolP for Command and checkCredentials at
 * 152c30ca68), with every version-dependent layout of v6..v19. A decoded
 * command holds views into the caller's buffer; every key field has been
 * checked strictly (algorithm and DER) during decoding. Encoding is the same
 * function the client library uses to build commands. */
#ifndef SX_SMP_COMMAND_H
#define SX_SMP_COMMAND_H

#include "smp/encoding.h"
#include "smp/error.h"
#include "smp/transmission.h"

#define SX_SMP_IDS_HASH_LEN 16 /* IdsHash: XOR of MD5 hashes of queue ids */

typedef enum sx_smp_cmd_tag {
    SX_SMP_C_NEW = 1,
    SX_SMP_C_SUB,
    SX_SMP_C_SUBS,
    SX_SMP_C_KEY,
    SX_SMP_C_RKEY,
    SX_SMP_C_LSET,
    SX_SMP_C_LDEL,
    SX_SMP_C_NKEY,
    SX_SMP_C_NDEL,
    SX_SMP_C_GET,
    SX_SMP_C_ACK,
    SX_SMP_C_OFF,
    SX_SMP_C_DEL,
    SX_SMP_C_QUE,
    SX_SMP_C_SKEY,
    SX_SMP_C_SEND,
    SX_SMP_C_PING,
    SX_SMP_C_LKEY,
    SX_SMP_C_LGET,
    SX_SMP_C_NSUB,
    SX_SMP_C_NSUBS,
    SX_SMP_C_PRXY,
    SX_SMP_C_PFWD,
    SX_SMP_C_RFWD,
} sx_smp_cmd_tag;

/* Who sends a command (PROTOCOL-NOTES D.0); decides which id table its entity
 * is looked up in and, in a service session, which service role may send it. */
typedef enum sx_smp_party {
    SX_SMP_PARTY_CREATOR = 1,
    SX_SMP_PARTY_RECIPIENT,
    SX_SMP_PARTY_RECIPIENT_SERVICE,
    SX_SMP_PARTY_SENDER,
    SX_SMP_PARTY_IDLE_CLIENT,
    SX_SMP_PARTY_NOTIFIER,
    SX_SMP_PARTY_NOTIFIER_SERVICE,
    SX_SMP_PARTY_LINK_CLIENT,
    SX_SMP_PARTY_PROXIED_CLIENT,
    SX_SMP_PARTY_PROXY_SERVICE,
} sx_smp_party;

typedef enum sx_smp_queue_mode {
    SX_SMP_QUEUE_MESSAGING = 'M',
    SX_SMP_QUEUE_CONTACT = 'C',
} sx_smp_queue_mode;

/* PROTOCOL-NOTES D2 QueueReqData: 'M' Maybe(senderId, link data) | 'C'
 * Maybe(linkId, senderId, link data). Before v15 only the mode travels (as a
 * Bool), and decodes with has_link = false. */
typedef struct sx_smp_queue_req {
    sx_smp_queue_mode mode;
    bool has_link;
    sx_slice link_id; /* contact queues with link data only */
    sx_slice sender_id;
    sx_smp_link_data link;
} sx_smp_queue_req;

/* PROTOCOL-NOTES D1 NEW. */
typedef struct sx_smp_new {
    sx_smp_pubkey rcv_auth_key; /* Ed25519 / Ed448 / X25519 */
    sx_smp_pubkey rcv_dh_key;   /* X25519 */
    bool has_basic_auth;
    sx_slice basic_auth;
    bool subscribe;             /* subMode 'S'; false = 'C' (only create) */
    bool has_queue_req;         /* v >= 9 (a Bool before v15) */
    sx_smp_queue_req queue_req;
    bool has_ntf_creds;         /* v >= 17 */
    sx_smp_pubkey ntf_auth_key; /* Ed25519 / Ed448 / X25519 */
    sx_smp_pubkey ntf_dh_key;   /* X25519 */
} sx_smp_new;

typedef struct sx_smp_cmd {
    sx_smp_cmd_tag tag;
    union {
        sx_smp_new new_queue; /* NEW */
        struct {              /* SUBS, NSUBS */
            /* v >= 19; before, decoded as count -1 and 16 zero bytes
             * (a view of static memory) and encoded as the bare tag. */
            int64_t count;
            sx_slice ids_hash; /* shortString, any length as in the reference */
        } subs;
        sx_smp_pubkey key;  /* KEY, SKEY, LKEY: Ed25519 / Ed448 / X25519 */
        sx_smp_list keys;   /* RKEY: NonEmpty auth keys (SX_SMP_ITEM_AUTH_KEY) */
        struct {            /* LSET */
            sx_slice link_id;
            sx_smp_link_data data;
        } lset;
        struct { /* NKEY */
            sx_smp_pubkey auth_key;
            sx_smp_pubkey dh_key; /* X25519 */
        } nkey;
        sx_slice msg_id; /* ACK */
        struct {         /* SEND */
            bool notification;
            sx_slice body;
        } send;
        struct { /* PRXY */
            sx_smp_server server;
            bool has_basic_auth;
            sx_slice basic_auth;
        } prxy;
        struct { /* PFWD */
            uint16_t version;
            sx_smp_pubkey dh_key; /* X25519 */
            sx_slice enc;         /* encrypted transmission (Tail) */
        } pfwd;
        sx_slice enc; /* RFWD: encrypted forwarded transmission (Tail) */
    };
} sx_smp_cmd;

/* "NEW", "SUB", ...; "?" for an unknown value. */
const char *sx_smp_cmd_name(sx_smp_cmd_tag tag);
/* The party of a command; 0 for an unknown value. */
sx_smp_party sx_smp_cmd_party(sx_smp_cmd_tag tag);
/* True for NEW, SUB and NSUB, the commands that carry a service signature
 * in a service session (PROTOCOL-NOTES C9, useServiceAuth). */
bool sx_smp_cmd_uses_service_auth(sx_smp_cmd_tag tag);

/* Decodes the command part of a transmission (tag up to the first space,
 * then the parameters) for version v. SX_OK with *out filled, or
 * SX_E_PROTOCOL with *err = SX_SMP_CMD_UNKNOWN (unknown tag) or
 * SX_SMP_CMD_SYNTAX (bad or missing parameters, a key of the wrong
 * algorithm or shape, trailing bytes) - the router answers ERR CMD *err. */
SX_MUST_CHECK sx_status sx_smp_cmd_decode(sx_slice bytes, uint16_t v, sx_smp_cmd *out,
                                          sx_smp_cmd_err *err);

/* Appends c encoded for version v, dropping what the version cannot carry
 * as the reference does (queue request and notifier credentials of NEW,
 * SUBS/NSUBS parameters before v19). Fails w with SX_E_USAGE for invalid
 * values (unknown tag, key of the wrong algorithm, bad basic auth, empty
 * key or host list). */
bool sx_smp_cmd_write(sx_writer *w, uint16_t v, const sx_smp_cmd *c);

/* PROTOCOL-NOTES C.3 checkCredentials, applied before any lookup: SX_OK, or
 * SX_E_PROTOCOL with *err the CMD error to answer (NO_AUTH / HAS_AUTH /
 * NO_ENTITY). */
SX_MUST_CHECK sx_status sx_smp_check_credentials(sx_smp_cmd_tag tag, bool has_auth,
                                                 bool entity_empty, sx_smp_cmd_err *err);

/* A client transmission as the router receives it (tDecodeServer). */
typedef struct sx_smp_request {
    sx_smp_transmission t;
    sx_smp_auth_kind auth_kind;
    sx_smp_cmd cmd;
    /* When decoding failed: the error to answer, and the corrId / entity the
     * ERR must carry (empty, or as received, per the failing step). */
    sx_smp_error err;
    sx_slice reply_corr_id;
    sx_slice reply_entity_id;
} sx_smp_request;

/* Parses one batch item received on a session of version v with the given
 * session id, in the reference's order: layout (ERR BLOCK, empty corrId),
 * v6 session id (ERR SESSION), authorization length (ERR BLOCK), command
 * (ERR CMD UNKNOWN / SYNTAX, with corrId and entity), credentials (ERR CMD
 * NO_AUTH / HAS_AUTH / NO_ENTITY). SX_OK when the command can go on to
 * verification; SX_E_PROTOCOL with out->err and the reply ids set
 * otherwise. Authorization itself is not verified here. */
SX_MUST_CHECK sx_status sx_smp_request_decode(sx_slice bytes, uint16_t v, sx_slice session_id,
                                              sx_smp_request *out);

#endif
