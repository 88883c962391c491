/* XFTP wire codecs (PROTOCOL-NOTES F.2-F.4, W9, W10; reference
 * FileTransfer/Protocol.hs and FileTransfer/Transport.hs at 152c30ca68):
 * the 16384-byte command block (a padded batch of exactly one
 * transmission), the transmission layout with the session id inside it,
 * every command and response of versions 1..3 with the XFTP error list, the
 * credential rules, and the three hello messages of the handshake.
 *
 * Decoders never allocate: decoded structs hold views into the caller's
 * buffer. Field types shared with SMP (public keys, counted key lists, basic
 * auth, CMD errors, BlockingInfo) come from src/smp. */
#ifndef SX_XFTP_PROTOCOL_H
#define SX_XFTP_PROTOCOL_H

#include "core/reader.h"
#include "core/writer.h"
#include "smp/encoding.h"
#include "smp/error.h"
#include "smp/transmission.h"
#include "transport/smp_handshake.h"

/* Versions (supportedFileServerVRange). */
#define SX_XFTP_VERSION_MIN 1
#define SX_XFTP_V_AUTH_CMDS 2      /* authenticators with the hello's X25519 key (PROTOCOL-NOTES F14) */
#define SX_XFTP_V_BLOCKED_FILES 3  /* ERR BLOCKED; sent as AUTH before (PROTOCOL-NOTES F25) */
#define SX_XFTP_VERSION_MAX 3

#define SX_XFTP_BLOCK_SIZE 16384   /* PROTOCOL-NOTES F4: xftpBlockSize */
/* Longest transmission one block carries: pad length (2) + count (1) + Large length (2). */
#define SX_XFTP_MAX_TRANSMISSION (SX_XFTP_BLOCK_SIZE - 5)
#define SX_XFTP_FILE_ID_LEN 16     /* PROTOCOL-NOTES F16: ids the router creates */
#define SX_XFTP_NONCE_LEN 24       /* FILE nonce (raw CbNonce) */
#define SX_XFTP_WEB_CHALLENGE_LEN 32

/* PROTOCOL-NOTES F16: the chunk sizes a router accepts (serverChunkSizes). */
#define SX_XFTP_CHUNK_64K (64u * 1024u)
#define SX_XFTP_CHUNK_256K (256u * 1024u)
#define SX_XFTP_CHUNK_1M (1024u * 1024u)
#define SX_XFTP_CHUNK_4M (4u * 1024u * 1024u)

/* True when size is one of the four allowed chunk sizes. */
bool sx_xftp_chunk_size_allowed(uint32_t size);

static inline sx_version_range sx_xftp_vrange(void)
{
    sx_version_range vr = {SX_XFTP_VERSION_MIN, SX_XFTP_VERSION_MAX};
    return vr;
}

/* ---- Errors (PROTOCOL-NOTES F25) ------------------------------------------- */

typedef enum sx_xftp_err_type {
    SX_XFTP_ERR_BLOCK = 1,
    SX_XFTP_ERR_SESSION,
    SX_XFTP_ERR_HANDSHAKE,
    SX_XFTP_ERR_CMD,
    SX_XFTP_ERR_AUTH,
    SX_XFTP_ERR_BLOCKED,
    SX_XFTP_ERR_SIZE,
    SX_XFTP_ERR_QUOTA,
    SX_XFTP_ERR_DIGEST,
    SX_XFTP_ERR_CRYPTO,
    SX_XFTP_ERR_NO_FILE,
    SX_XFTP_ERR_HAS_FILE,
    SX_XFTP_ERR_FILE_IO,
    SX_XFTP_ERR_TIMEOUT,
    SX_XFTP_ERR_INTERNAL,
    SX_XFTP_ERR_DUPLICATE, /* "DUPLICATE_": in the type, never sent by routers */
} sx_xftp_err_type;

typedef struct sx_xftp_error {
    sx_xftp_err_type type;
    sx_smp_cmd_err cmd;           /* CMD */
    sx_smp_blocking_info blocked; /* BLOCKED */
} sx_xftp_error;

static inline sx_xftp_error sx_xftp_error_of(sx_xftp_err_type t)
{
    sx_xftp_error e = {0};
    e.type = t;
    return e;
}
static inline sx_xftp_error sx_xftp_error_cmd(sx_smp_cmd_err c)
{
    sx_xftp_error e = {0};
    e.type = SX_XFTP_ERR_CMD;
    e.cmd = c;
    return e;
}

/* "AUTH", "CMD", ...; "?" for an unknown value. */
const char *sx_xftp_err_name(sx_xftp_err_type t);
/* Appends e as a router of version v sends it: BLOCKED becomes AUTH before
 * v3. The same text is the body of a failed handshake (PROTOCOL-NOTES F7; pass
 * SX_XFTP_VERSION_MAX there). SX_E_USAGE in w for an invalid value. */
bool sx_xftp_error_write(sx_writer *w, uint16_t v, const sx_xftp_error *e);
/* Reads an error extending to the end of r's data (legacy "CMD NO_QUEUE"
 * reads as NO_ENTITY); fails r with SX_E_PROTOCOL otherwise. */
bool sx_xftp_error_read(sx_reader *r, sx_xftp_error *out);

/* ---- Blocks and transmissions (PROTOCOL-NOTES F4, F5, F11, F12) ------------ */

/* Writes pad(0x01 || Large(transmission), 16384) into block. SX_E_LIMIT when
 * the transmission is over SX_XFTP_MAX_TRANSMISSION bytes. */
SX_MUST_CHECK sx_status sx_xftp_block_encode(sx_slice transmission,
                                             uint8_t block[SX_XFTP_BLOCK_SIZE]);
/* The transmission inside a block (a slice of it). The block must be exactly
 * 16384 bytes, unpad must succeed and the content must be a batch of exactly
 * one item with nothing after it; SX_E_PROTOCOL (ERR BLOCK) otherwise. */
SX_MUST_CHECK sx_status sx_xftp_block_decode(sx_slice block, sx_slice *transmission);

/* shortString(auth) || shortString(sessionId) || shortString(corrId) ||
 * shortString(entityId) || command. No service-signature slot. */
typedef struct sx_xftp_transmission {
    sx_slice auth;       /* empty, 64/114-byte signature or 80-byte authenticator */
    sx_slice session_id; /* must equal the connection's tls-unique */
    sx_slice corr_id;    /* reference clients send it empty (PROTOCOL-NOTES F13) */
    sx_slice entity_id;
    sx_slice command;    /* tag and parameters, to the end */
    /* Parse only: the bytes after the authorization, which are exactly what
     * the authorization covers (session id included). */
    sx_slice signed_part;
} sx_xftp_transmission;

/* SX_E_PROTOCOL when a field is truncated (ERR BLOCK with an empty corrId).
 * Neither the auth length nor the session id is checked here. */
SX_MUST_CHECK sx_status sx_xftp_transmission_parse(sx_slice bytes, sx_xftp_transmission *out);
/* Appends t (signed_part is ignored). SX_E_LIMIT in w for a field over 255. */
bool sx_xftp_transmission_write(sx_writer *w, const sx_xftp_transmission *t);
/* Appends what an authorization covers:
 * shortString(session_id) || shortString(corr_id) || shortString(entity_id) || command. */
bool sx_xftp_write_auth_bytes(sx_writer *w, sx_slice session_id, sx_slice corr_id,
                              sx_slice entity_id, sx_slice command);

/* ---- Commands (PROTOCOL-NOTES F16-F23) ------------------------------------- */

typedef enum sx_xftp_cmd_tag {
    SX_XFTP_C_FNEW = 1,
    SX_XFTP_C_FADD,
    SX_XFTP_C_FPUT,
    SX_XFTP_C_FDEL,
    SX_XFTP_C_FGET,
    SX_XFTP_C_FACK,
    SX_XFTP_C_PING,
} sx_xftp_cmd_tag;

typedef enum sx_xftp_party {
    SX_XFTP_PARTY_SENDER = 1, /* FNEW FADD FPUT FDEL: entity = sender id */
    SX_XFTP_PARTY_RECIPIENT,  /* FGET FACK PING: entity = recipient id */
} sx_xftp_party;

/* FileInfo: key(sndKey) || Word32 size || shortString(digest). */
typedef struct sx_xftp_file_info {
    sx_smp_pubkey snd_key; /* Ed25519 / Ed448 / X25519 */
    uint32_t size;         /* chunk size; the router checks it is allowed */
    sx_slice digest;       /* SHA-256 of the chunk (length not checked, as in the reference) */
} sx_xftp_file_info;

typedef struct sx_xftp_cmd {
    sx_xftp_cmd_tag tag;
    union {
        struct { /* FNEW */
            sx_xftp_file_info file;
            sx_smp_list rcv_keys; /* NonEmpty auth keys (SX_SMP_ITEM_AUTH_KEY) */
            bool has_basic_auth;
            sx_slice basic_auth;
        } fnew;
        sx_smp_list rcv_keys; /* FADD */
        sx_smp_pubkey dh_key; /* FGET: the recipient's X25519 key */
    };
} sx_xftp_cmd;

/* "FNEW", ...; "?" for an unknown value. */
const char *sx_xftp_cmd_name(sx_xftp_cmd_tag tag);
/* The party of a command; 0 for an unknown value. */
sx_xftp_party sx_xftp_cmd_party(sx_xftp_cmd_tag tag);

/* Decodes a command (tag up to the first space, then the parameters) for
 * version v. SX_E_PROTOCOL with *err = SX_SMP_CMD_UNKNOWN (unknown tag) or
 * SX_SMP_CMD_SYNTAX (bad parameters, keys of the wrong algorithm, invalid
 * basic auth, trailing bytes). */
SX_MUST_CHECK sx_status sx_xftp_cmd_decode(sx_slice bytes, uint16_t v, sx_xftp_cmd *out,
                                           sx_smp_cmd_err *err);
/* Appends c; SX_E_USAGE in w for an invalid value. */
bool sx_xftp_cmd_write(sx_writer *w, uint16_t v, const sx_xftp_cmd *c);

/* PROTOCOL-NOTES F15: FNEW needs auth and an empty entity (NO_AUTH / HAS_AUTH),
 * PING neither (HAS_AUTH), every other command both (NO_AUTH). SX_OK, or
 * SX_E_PROTOCOL with *err set. */
SX_MUST_CHECK sx_status sx_xftp_check_credentials(sx_xftp_cmd_tag tag, bool has_auth,
                                                  bool entity_empty, sx_smp_cmd_err *err);

/* A transmission as the router receives it (xftpDecodeTServer). */
typedef struct sx_xftp_request {
    sx_xftp_transmission t;
    sx_smp_auth_kind auth_kind;
    sx_xftp_cmd cmd;
    /* On failure: the error to answer and the corrId / entity it carries. */
    sx_xftp_error err;
    sx_slice reply_corr_id;
    sx_slice reply_entity_id;
} sx_xftp_request;

/* Decodes one transmission in the reference's order: layout (BLOCK, empty
 * corrId), session id (SESSION, with corrId), auth length (BLOCK, with
 * corrId), command (CMD UNKNOWN / SYNTAX, with corrId and entity),
 * credentials (CMD NO_AUTH / HAS_AUTH, with corrId and entity). SX_OK, or
 * SX_E_PROTOCOL with out->err and the reply ids set. */
SX_MUST_CHECK sx_status sx_xftp_request_decode(sx_slice transmission, uint16_t v,
                                               sx_slice session_id, sx_xftp_request *out);

/* ---- Responses (PROTOCOL-NOTES F24) ----------------------------------------- */

typedef enum sx_xftp_resp_tag {
    SX_XFTP_R_SIDS = 1,
    SX_XFTP_R_RIDS,
    SX_XFTP_R_FILE,
    SX_XFTP_R_OK,
    SX_XFTP_R_ERR,
    SX_XFTP_R_PONG,
} sx_xftp_resp_tag;

/* NonEmpty(shortString id), kept as a view of the encoded items. */
typedef struct sx_xftp_ids {
    size_t count;
    sx_slice items; /* the items without the count byte */
} sx_xftp_ids;

/* Id i (0-based) of a list the decoder checked (or one the caller built).
 * SX_E_USAGE if i >= count, SX_E_PROTOCOL if the items are malformed. */
SX_MUST_CHECK sx_status sx_xftp_ids_get(const sx_xftp_ids *ids, size_t i, sx_slice *out);

typedef struct sx_xftp_resp {
    sx_xftp_resp_tag tag;
    union {
        struct { /* SIDS */
            sx_slice sender_id;
            sx_xftp_ids rcv_ids;
        } sids;
        sx_xftp_ids rcv_ids; /* RIDS */
        struct {             /* FILE */
            sx_smp_pubkey dh_key; /* the router's one-time X25519 key */
            sx_slice nonce;       /* SX_XFTP_NONCE_LEN raw bytes */
        } file;
        sx_xftp_error err; /* ERR */
    };
} sx_xftp_resp;

const char *sx_xftp_resp_name(sx_xftp_resp_tag tag);
/* As sx_xftp_cmd_decode, for responses. */
SX_MUST_CHECK sx_status sx_xftp_resp_decode(sx_slice bytes, uint16_t v, sx_xftp_resp *out,
                                            sx_smp_cmd_err *err);
/* Appends r as sent at version v (ERR BLOCKED is AUTH before v3). */
bool sx_xftp_resp_write(sx_writer *w, uint16_t v, const sx_xftp_resp *r);
/* PROTOCOL-NOTES F24, client side: SIDS and PONG must have an empty entity
 * (HAS_AUTH), ERR may have any, the others need one (NO_ENTITY). */
SX_MUST_CHECK sx_status sx_xftp_resp_check_entity(sx_xftp_resp_tag tag, bool entity_empty,
                                                  sx_smp_cmd_err *err);

/* A response as the client receives it (xftpDecodeTClient): layout (BLOCK),
 * session id (SESSION), response (CMD ...), entity rules (CMD ...). On
 * SX_E_PROTOCOL out->err holds the error the client reports. */
typedef struct sx_xftp_reply {
    sx_xftp_transmission t;
    sx_xftp_resp resp;
    sx_xftp_error err;
} sx_xftp_reply;

SX_MUST_CHECK sx_status sx_xftp_reply_decode(sx_slice transmission, uint16_t v,
                                             sx_slice session_id, sx_xftp_reply *out);

/* ---- Handshake (PROTOCOL-NOTES F6, F7, F10) --------------------------------- */

/* Server hello: VersionRange || shortString(sessionId) || CertChainPubKey ||
 * shortString(web identity proof signature, empty when none) || ignored. */
typedef struct sx_xftp_server_hello {
    sx_version_range range;
    sx_slice session_id;
    sx_smp_cert_key cert_key; /* TLS chain and the signed X25519 session key */
    bool has_web_proof;
    sx_slice web_proof; /* 64 or 114 bytes */
} sx_xftp_server_hello;

/* Web client hello: Maybe(shortString(32-byte challenge)) || ignored. */
typedef struct sx_xftp_client_hello {
    bool has_web_challenge;
    sx_slice web_challenge;
} sx_xftp_client_hello;

/* Client handshake: Word16 version || shortString(key hash) || ignored. */
typedef struct sx_xftp_client_handshake {
    uint16_t version;
    sx_slice key_hash;
} sx_xftp_client_handshake;

/* Encoders append the unpadded content (pad with sx_block_encode). SX_E_USAGE
 * in w for a range with min > max, a chain of 0 or more than 4 certificates,
 * a web proof that is not 64/114 bytes or a challenge that is not 32. */
bool sx_xftp_server_hello_write(sx_writer *w, const sx_xftp_server_hello *h);
bool sx_xftp_client_hello_write(sx_writer *w, const sx_xftp_client_hello *h);
bool sx_xftp_client_handshake_write(sx_writer *w, const sx_xftp_client_handshake *h);

/* Decoders of unpadded content; trailing bytes are ignored. A truncated or
 * malformed field is SX_E_PROTOCOL (every certificate must parse, the signed
 * key must have the PROTOCOL-NOTES A20 shape, a challenge must be 32 bytes); a
 * web proof of another length is read as absent, as the reference does.
 * SX_E_NOMEM on allocation failure. */
SX_MUST_CHECK sx_status sx_xftp_server_hello_decode(sx_slice content, sx_xftp_server_hello *out);
SX_MUST_CHECK sx_status sx_xftp_client_hello_decode(sx_slice content, sx_xftp_client_hello *out);
SX_MUST_CHECK sx_status sx_xftp_client_handshake_decode(sx_slice content,
                                                        sx_xftp_client_handshake *out);

#endif
