/* NTF wire codecs (PROTOCOL-NOTES G.1, G.2; reference Notifications/Protocol.hs
 * and Notifications/Transport.hs at 152c30ca68): 512-byte blocks, batches
 * (v >= 2) or single transmissions (v1), the transmission layout (the SMP one
 * without the service slot), the commands and responses of versions 1..3 with
 * their credential rules, token and subscription statuses and the two hello
 * messages.
 *
 * Decoders never allocate except to check a private key's DER: decoded
 * structs hold views into the caller's buffer. Field types shared with SMP
 * (public keys, server addresses, ErrorType) come from src/smp. */
#ifndef SX_NTF_PROTOCOL_H
#define SX_NTF_PROTOCOL_H

#include "core/reader.h"
#include "core/writer.h"
#include "smp/encoding.h"
#include "smp/error.h"
#include "smp/transmission.h"

/* Versions (supportedServerNTFVRange / supportedClientNTFVRange). */
#define SX_NTF_VERSION_MIN 1
#define SX_NTF_V_AUTH_BATCH 2     /* hello key, authenticators, batches, implied session id */
#define SX_NTF_V_INVALID_REASON 3 /* TKN INVALID,<reason> */
#define SX_NTF_VERSION_MAX 3

#define SX_NTF_ALPN "ntf/1"
#define SX_NTF_BLOCK_SIZE 512 /* PROTOCOL-NOTES G2: ntfBlockSize */
#define SX_NTF_MAX_CONTENT (SX_NTF_BLOCK_SIZE - 2)
#define SX_NTF_ID_LEN 24       /* token and subscription ids the router creates */
#define SX_NTF_REG_CODE_LEN 32 /* registration code the router creates */
#define SX_NTF_CRON_MIN 20     /* TCRN: 1..19 minutes is ERR QUOTA */

static inline sx_version_range sx_ntf_vrange(void)
{
    sx_version_range vr = {SX_NTF_VERSION_MIN, SX_NTF_VERSION_MAX};
    return vr;
}

/* ---- Blocks and batches (PROTOCOL-NOTES G2, G5) ---------------------------- */

/* pad(content, 512) into block. SX_E_LIMIT when content is over 510 bytes. */
SX_MUST_CHECK sx_status sx_ntf_block_encode(sx_slice content, uint8_t block[SX_NTF_BLOCK_SIZE]);
/* The content of a block (a slice of it). The block must be exactly 512
 * bytes and unpad must succeed; SX_E_PROTOCOL otherwise. */
SX_MUST_CHECK sx_status sx_ntf_block_decode(sx_slice block, sx_slice *content);

#define SX_NTF_BATCH_MAX 255
/* The transmissions in block content for version v: v1 carries exactly one
 * (the whole content); v >= 2 a count byte 1..255 then as many
 * Large(transmission) with nothing after them. Up to max items are stored in
 * items; SX_E_PROTOCOL for a malformed batch, SX_E_LIMIT for more than max. */
SX_MUST_CHECK sx_status sx_ntf_batch_split(sx_slice content, uint16_t v, sx_slice *items,
                                           size_t max, size_t *count);
/* Appends block content carrying the n transmissions for version v (v1:
 * exactly one, written as is). SX_E_USAGE for n = 0, n > 1 at v1 or n > 255;
 * the caller checks the result fits SX_NTF_MAX_CONTENT. */
bool sx_ntf_batch_write(sx_writer *w, uint16_t v, const sx_slice *items, size_t n);

/* ---- Transmissions (PROTOCOL-NOTES G5, G6) --------------------------------- */

/* shortString(auth) [v1: shortString(sessionId)] shortString(corrId)
 * shortString(entityId) command: the SMP layout without a service slot. The
 * struct is the SMP one; has_service_sig is never set. */
SX_MUST_CHECK sx_status sx_ntf_transmission_parse(sx_slice bytes, uint16_t v,
                                                  sx_smp_transmission *out);
bool sx_ntf_transmission_write(sx_writer *w, uint16_t v, const sx_smp_transmission *t);
/* What an authorization covers: shortString(session id) || shortString(corrId) ||
 * shortString(entityId) || command, for every version. */
bool sx_ntf_auth_bytes(sx_writer *w, sx_slice session_id, sx_slice corr_id, sx_slice entity_id,
                       sx_slice command);

/* ---- Fields (PROTOCOL-NOTES G7, G13) --------------------------------------- */

typedef enum sx_ntf_provider {
    SX_NTF_PP_APNS_DEV = 1, /* "AD", text apns_dev */
    SX_NTF_PP_APNS_PROD,    /* "AP", text apns_prod */
    SX_NTF_PP_APNS_TEST,    /* "AT", text apns_test */
    SX_NTF_PP_APNS_NULL,    /* "AN", text apns_null: never pushed */
} sx_ntf_provider;

/* 2-letter wire code / store text; NULL for an unknown value. */
const char *sx_ntf_provider_code(sx_ntf_provider p);
const char *sx_ntf_provider_text(sx_ntf_provider p);
/* From the store text ("apns_dev", ...); 0 when unknown. */
sx_ntf_provider sx_ntf_provider_from_text(sx_slice s);

/* DeviceToken: 2-char provider || shortString(token). The wire form does not
 * restrict the token's bytes; devices send lower-case hex. */
typedef struct sx_ntf_device_token {
    sx_ntf_provider provider;
    sx_slice token;
} sx_ntf_device_token;

bool sx_ntf_read_device_token(sx_reader *r, sx_ntf_device_token *out);
bool sx_ntf_write_device_token(sx_writer *w, const sx_ntf_device_token *t);

/* SMPQueueNtf: ProtocolServer || shortString(notifierId). */
typedef struct sx_ntf_queue {
    sx_smp_server server;
    sx_slice notifier_id;
} sx_ntf_queue;

bool sx_ntf_read_queue(sx_reader *r, sx_ntf_queue *out);
bool sx_ntf_write_queue(sx_writer *w, const sx_ntf_queue *q);

/* ---- Statuses (PROTOCOL-NOTES G9, G14) ------------------------------------- */

typedef enum sx_ntf_tkn_status {
    SX_NTF_TKN_NEW = 1,
    SX_NTF_TKN_REGISTERED,
    SX_NTF_TKN_INVALID,
    SX_NTF_TKN_CONFIRMED,
    SX_NTF_TKN_ACTIVE,
    SX_NTF_TKN_EXPIRED,
} sx_ntf_tkn_status;

typedef enum sx_ntf_invalid_reason {
    SX_NTF_INVALID_NONE = 0,
    SX_NTF_INVALID_BAD,          /* "BAD" */
    SX_NTF_INVALID_TOPIC,        /* "TOPIC" */
    SX_NTF_INVALID_EXPIRED,      /* "EXPIRED" */
    SX_NTF_INVALID_UNREGISTERED, /* "UNREGISTERED" */
} sx_ntf_invalid_reason;

typedef struct sx_ntf_tkn_state {
    sx_ntf_tkn_status status;
    sx_ntf_invalid_reason reason; /* INVALID only */
} sx_ntf_tkn_state;

/* The text ("REGISTERED", "INVALID,BAD", ...), also the store log form. */
bool sx_ntf_tkn_state_write(sx_writer *w, const sx_ntf_tkn_state *s);
/* Reads a state extending to the end of r's data. */
bool sx_ntf_tkn_state_read(sx_reader *r, sx_ntf_tkn_state *out);
/* TVFY is allowed in REGISTERED, CONFIRMED, ACTIVE (allowTokenVerification). */
bool sx_ntf_tkn_allows_verify(sx_ntf_tkn_status s);
/* SNEW / SCHK / SDEL are allowed in INVALID, ACTIVE, EXPIRED (allowNtfSubCommands). */
bool sx_ntf_tkn_allows_subs(sx_ntf_tkn_status s);

typedef enum sx_ntf_sub_status {
    SX_NTF_SUB_NEW = 1,
    SX_NTF_SUB_PENDING,
    SX_NTF_SUB_ACTIVE,
    SX_NTF_SUB_INACTIVE,
    SX_NTF_SUB_END,
    SX_NTF_SUB_DELETED,
    SX_NTF_SUB_AUTH,
    SX_NTF_SUB_SERVICE,
    SX_NTF_SUB_ERR, /* "ERR " text */
} sx_ntf_sub_status;

typedef struct sx_ntf_sub_state {
    sx_ntf_sub_status status;
    sx_slice err; /* ERR only: the text after "ERR ", may be empty */
} sx_ntf_sub_state;

bool sx_ntf_sub_state_write(sx_writer *w, const sx_ntf_sub_state *s);
/* Reads a state extending to the end of r's data. */
bool sx_ntf_sub_state_read(sx_reader *r, sx_ntf_sub_state *out);

/* ---- Commands (PROTOCOL-NOTES G7-G15) -------------------------------------- */

typedef enum sx_ntf_cmd_tag {
    SX_NTF_C_TNEW = 1,
    SX_NTF_C_TVFY,
    SX_NTF_C_TCHK,
    SX_NTF_C_TRPL,
    SX_NTF_C_TDEL,
    SX_NTF_C_TCRN,
    SX_NTF_C_SNEW,
    SX_NTF_C_SCHK,
    SX_NTF_C_SDEL,
    SX_NTF_C_PING,
} sx_ntf_cmd_tag;

typedef struct sx_ntf_cmd {
    sx_ntf_cmd_tag tag;
    union {
        struct { /* TNEW: " T" token key(verify key) key(X25519 DH key) */
            sx_ntf_device_token token;
            sx_smp_pubkey verify_key; /* Ed25519 / Ed448 / X25519 */
            sx_smp_pubkey dh_key;     /* X25519 */
        } tnew;
        sx_slice reg_code;         /* TVFY: shortString */
        sx_ntf_device_token token; /* TRPL */
        uint16_t cron_minutes;     /* TCRN: Word16 */
        struct {                   /* SNEW: " S" shortString(tokenId) SMPQueueNtf shortString(PKCS#8) */
            sx_slice token_id;
            sx_ntf_queue queue;
            sx_slice notifier_key; /* PKCS#8 DER of an Ed25519 / Ed448 / X25519 private key */
        } snew;
    };
} sx_ntf_cmd;

/* "TNEW", ...; "?" for an unknown value. */
const char *sx_ntf_cmd_name(sx_ntf_cmd_tag tag);
/* True for the token commands (TNEW..TCRN), false for SNEW..PING. */
bool sx_ntf_cmd_is_token(sx_ntf_cmd_tag tag);

/* Decodes a command (tag up to the first space, then the parameters).
 * SX_E_PROTOCOL with *err = SX_SMP_CMD_UNKNOWN (unknown tag) or
 * SX_SMP_CMD_SYNTAX (bad parameters, keys of the wrong algorithm or bad DER,
 * a TNEW with 'S' or an SNEW with 'T', trailing bytes). */
SX_MUST_CHECK sx_status sx_ntf_cmd_decode(sx_slice bytes, uint16_t v, sx_ntf_cmd *out,
                                          sx_smp_cmd_err *err);
/* Appends c; SX_E_USAGE in w for an invalid value. */
bool sx_ntf_cmd_write(sx_writer *w, uint16_t v, const sx_ntf_cmd *c);

/* PROTOCOL-NOTES G15: TNEW and SNEW need auth and an empty entity (NO_AUTH /
 * HAS_AUTH), PING neither (HAS_AUTH), all others both (NO_AUTH). */
SX_MUST_CHECK sx_status sx_ntf_check_credentials(sx_ntf_cmd_tag tag, bool has_auth,
                                                 bool entity_empty, sx_smp_cmd_err *err);

/* A transmission as the router receives it (tDecodeServer). */
typedef struct sx_ntf_request {
    sx_smp_transmission t;
    sx_smp_auth_kind auth_kind;
    sx_ntf_cmd cmd;
    /* On failure: the error to answer and the corrId / entity it carries. */
    sx_smp_error err;
    sx_slice reply_corr_id;
    sx_slice reply_entity_id;
} sx_ntf_request;

/* In the reference's order: layout (BLOCK, empty corrId), v1 session id
 * (SESSION, with corrId), auth length (BLOCK, with corrId), command (CMD
 * UNKNOWN / SYNTAX, with corrId and entity), credentials (CMD NO_AUTH /
 * HAS_AUTH, with corrId and entity). SX_OK, or SX_E_PROTOCOL with out->err and
 * the reply ids set. */
SX_MUST_CHECK sx_status sx_ntf_request_decode(sx_slice transmission, uint16_t v,
                                              sx_slice session_id, sx_ntf_request *out);

/* ---- Responses (PROTOCOL-NOTES G7-G14) ------------------------------------- */

typedef enum sx_ntf_resp_tag {
    SX_NTF_R_IDTKN = 1,
    SX_NTF_R_IDSUB,
    SX_NTF_R_OK,
    SX_NTF_R_ERR,
    SX_NTF_R_TKN,
    SX_NTF_R_SUB,
    SX_NTF_R_PONG,
} sx_ntf_resp_tag;

typedef struct sx_ntf_resp {
    sx_ntf_resp_tag tag;
    union {
        struct { /* IDTKN: shortString(tokenId) key(X25519) */
            sx_slice id;
            sx_smp_pubkey dh_key;
        } idtkn;
        sx_slice sub_id;      /* IDSUB */
        sx_smp_error err;     /* ERR */
        sx_ntf_tkn_state tkn; /* TKN */
        sx_ntf_sub_state sub; /* SUB */
    };
} sx_ntf_resp;

const char *sx_ntf_resp_name(sx_ntf_resp_tag tag);
SX_MUST_CHECK sx_status sx_ntf_resp_decode(sx_slice bytes, uint16_t v, sx_ntf_resp *out,
                                           sx_smp_cmd_err *err);
/* Appends r as a router of version v sends it: before v3 a TKN INVALID loses
 * its reason. SX_E_USAGE in w for an invalid value. */
bool sx_ntf_resp_write(sx_writer *w, uint16_t v, const sx_ntf_resp *r);
/* The client's check: IDTKN, IDSUB and PONG must have an empty entity
 * (HAS_AUTH), ERR may have any, the others need one (NO_ENTITY). */
SX_MUST_CHECK sx_status sx_ntf_resp_check_entity(sx_ntf_resp_tag tag, bool entity_empty,
                                                 sx_smp_cmd_err *err);

/* A transmission as the client receives it (tDecodeClient). */
typedef struct sx_ntf_reply {
    sx_smp_transmission t;
    sx_ntf_resp resp;
    sx_smp_error err; /* when decoding failed */
} sx_ntf_reply;

SX_MUST_CHECK sx_status sx_ntf_reply_decode(sx_slice transmission, uint16_t v,
                                            sx_slice session_id, sx_ntf_reply *out);

/* ---- Handshake (PROTOCOL-NOTES G3, G4) ------------------------------------- */

/* VersionRange || shortString(sessionId) || [range.max >= 2: Large(DER of the
 * signed X25519 key)] || ignored. No certificate chain. */
typedef struct sx_ntf_server_hello {
    sx_version_range range;
    sx_slice session_id;
    bool has_signed_key; /* written and read only when range.max >= 2 */
    sx_slice signed_key; /* PROTOCOL-NOTES A20 shape */
} sx_ntf_server_hello;

/* Word16 version || shortString(key hash) || ignored. */
typedef struct sx_ntf_client_hello {
    uint16_t version;
    sx_slice key_hash;
} sx_ntf_client_hello;

/* SX_E_USAGE in w when range.max >= 2 without a signed key. */
bool sx_ntf_server_hello_write(sx_writer *w, const sx_ntf_server_hello *h);
bool sx_ntf_client_hello_write(sx_writer *w, const sx_ntf_client_hello *h);
/* Decoders of unpadded content; trailing bytes are ignored. SX_E_PROTOCOL for
 * a truncated field or a signed key without the PROTOCOL-NOTES A20 shape. */
SX_MUST_CHECK sx_status sx_ntf_server_hello_decode(sx_slice content, sx_ntf_server_hello *out);
SX_MUST_CHECK sx_status sx_ntf_client_hello_decode(sx_slice content, sx_ntf_client_hello *out);

#endif
