/* SMP router messages (router -> client: responses and events; BrokerMsg of
 * the reference at 152c30ca68, PROTOCOL-NOTES D.1-D.7) with every
 * version-dependent layout of v6..v19, and the client-side decoding of a
 * received transmission (tDecodeClient, PROTOCOL-NOTES C19). Decoded values
 * hold views into the caller's buffer. */
#ifndef SX_SMP_RESPONSE_H
#define SX_SMP_RESPONSE_H

#include "smp/command.h"
#include "smp/encoding.h"
#include "smp/error.h"
#include "smp/transmission.h"

#define SX_SMP_NONCE_LEN 24  /* NMSG nonce, raw (PROTOCOL-NOTES A15) */
#define SX_SMP_CHAIN_MAX 4   /* certificates kept from a PKEY chain (PROTOCOL-NOTES B10) */

typedef enum sx_smp_resp_tag {
    SX_SMP_R_IDS = 1,
    SX_SMP_R_LNK,
    SX_SMP_R_SOK,
    SX_SMP_R_SOKS,
    SX_SMP_R_MSG,
    SX_SMP_R_ALLS,
    SX_SMP_R_NID,
    SX_SMP_R_NMSG,
    SX_SMP_R_PKEY,
    SX_SMP_R_RRES,
    SX_SMP_R_PRES,
    SX_SMP_R_END,
    SX_SMP_R_ENDS,
    SX_SMP_R_DELD,
    SX_SMP_R_INFO,
    SX_SMP_R_OK,
    SX_SMP_R_ERR,
    SX_SMP_R_PONG,
} sx_smp_resp_tag;

/* PROTOCOL-NOTES D5 IDS. Before v9 only ids and key travel; v9-14 carry the
 * queue mode as a Bool (decoded as has_queue_mode with M for T and C for F);
 * the optional fields follow from v15 (mode, link id), v16 (service id), v17
 * (notifier). */
typedef struct sx_smp_ids {
    sx_slice rcv_id;
    sx_slice snd_id;
    sx_smp_pubkey srv_dh_key; /* X25519 */
    bool has_queue_mode;
    sx_smp_queue_mode queue_mode;
    bool has_link_id;
    sx_slice link_id;
    bool has_service_id;
    sx_slice service_id;
    bool has_ntf;
    sx_slice ntf_id;
    sx_smp_pubkey srv_ntf_dh_key; /* X25519 */
} sx_smp_ids;

typedef struct sx_smp_resp {
    sx_smp_resp_tag tag;
    union {
        sx_smp_ids ids; /* IDS */
        struct {        /* LNK */
            sx_slice sender_id;
            sx_smp_link_data data;
        } lnk;
        struct { /* SOK (v16+; sent as OK before) */
            bool has_service_id;
            sx_slice service_id;
        } sok;
        struct { /* SOKS, ENDS: count; ids hash from v19 (16 zero bytes before) */
            int64_t count;
            sx_slice ids_hash;
        } subs;
        struct { /* MSG */
            sx_slice msg_id;
            sx_slice body; /* encrypted body (Tail), 16122 bytes from a router */
        } msg;
        struct { /* NID */
            sx_slice notifier_id;
            sx_smp_pubkey srv_dh_key; /* X25519 */
        } nid;
        struct { /* NMSG */
            sx_slice nonce;    /* SX_SMP_NONCE_LEN raw bytes */
            sx_slice enc_meta; /* shortString */
        } nmsg;
        struct { /* PKEY */
            sx_slice session_id;
            sx_version_range vrange;
            /* CertChainPubKey: NonEmpty Large(DER certificate) || Large(DER
             * of the signed key). Kept as views: the client parses and
             * validates them (PROTOCOL-NOTES D32, x509.h). At most
             * SX_SMP_CHAIN_MAX. */
            sx_smp_list chain; /* SX_SMP_ITEM_LARGE */
            sx_slice signed_key;
        } pkey;
        sx_slice enc;  /* RRES, PRES: encrypted (Tail) */
        sx_slice info; /* INFO: the queue information JSON (Tail), not parsed */
        sx_smp_error err; /* ERR */
    };
} sx_smp_resp;

/* "IDS", "MSG", ...; "?" for an unknown value. */
const char *sx_smp_resp_name(sx_smp_resp_tag tag);

/* Appends m as a router at version v sends it: IDS in the version's layout,
 * SOK as OK before v16, DELD as END before v10, SOKS/ENDS without the hash
 * before v19, ERR downgraded per PROTOCOL-NOTES D41. SX_E_USAGE in w for
 * invalid values. */
bool sx_smp_resp_write(sx_writer *w, uint16_t v, const sx_smp_resp *m);

/* Decodes a router message for version v. SX_OK, or SX_E_PROTOCOL with
 * *err = SX_SMP_CMD_UNKNOWN (unknown tag) or SX_SMP_CMD_SYNTAX (bad
 * parameters, trailing bytes). */
SX_MUST_CHECK sx_status sx_smp_resp_decode(sx_slice bytes, uint16_t v, sx_smp_resp *out,
                                           sx_smp_cmd_err *err);

/* PROTOCOL-NOTES C19 (client side): IDS and ERR may carry any entity; PONG,
 * PKEY, RRES and ALLS must carry none (else CMD HAS_AUTH); all others need one
 * (else CMD NO_ENTITY). SX_OK or SX_E_PROTOCOL with *err. */
SX_MUST_CHECK sx_status sx_smp_resp_check_entity(sx_smp_resp_tag tag, bool entity_empty,
                                                 sx_smp_cmd_err *err);

/* Appends a whole router transmission: empty authorization, the session id
 * for v < 7, corrId, entity id and the message for version v. */
bool sx_smp_resp_transmission_write(sx_writer *w, uint16_t v, sx_slice session_id,
                                    sx_slice corr_id, sx_slice entity_id, const sx_smp_resp *m);

/* A router transmission as the client receives it (tDecodeClient). */
typedef struct sx_smp_reply {
    sx_smp_transmission t;
    sx_smp_resp resp;
    sx_smp_error err; /* when decoding failed: BLOCK, SESSION or CMD ... */
} sx_smp_reply;

/* Parses one batch item from the router: SX_OK with out->resp, or
 * SX_E_PROTOCOL with out->err (ERR BLOCK for a bad layout, SESSION for a v6
 * session id mismatch, CMD errors for the message and PROTOCOL-NOTES C19). */
SX_MUST_CHECK sx_status sx_smp_reply_decode(sx_slice bytes, uint16_t v, sx_slice session_id,
                                            sx_smp_reply *out);

#endif
