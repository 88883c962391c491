/* One SMP transmission (PROTOCOL-NOTES C.1, C.2, C9; reference transmissionP,
 * tEncodeAuth, encodeTransmissionForAuth at 152c30ca68):
 *
 *   shortString(auth) [v>=16 and auth non-empty: Maybe(shortString(service sig))]
 *   [v<7: shortString(session id)] shortString(corrId) shortString(entityId) command
 *
 * and the bytes an authorization covers. Parsing never allocates: the
 * parsed struct holds views into the caller's buffer. */
#ifndef SX_SMP_TRANSMISSION_H
#define SX_SMP_TRANSMISSION_H

#include "core/reader.h"
#include "core/writer.h"

#define SX_SMP_SERVICE_SIG_LEN 64 /* PROTOCOL-NOTES C3: Ed25519 signature by the service key */
#define SX_SMP_CERT_FP_LEN 32     /* PROTOCOL-NOTES C9: SHA-256 of the service's identity certificate */
#define SX_SMP_CORR_ID_LEN 24     /* PROTOCOL-NOTES C8: client corrIds are 24 random bytes (a nonce) */

/* PROTOCOL-NOTES C2: what the authorization field holds, decided by its
 * length. */
typedef enum sx_smp_auth_kind {
    SX_SMP_AUTH_NONE = 0,      /* empty */
    SX_SMP_AUTH_AUTHENTICATOR, /* 80 bytes: crypto_box authenticator (PROTOCOL-NOTES C8) */
    SX_SMP_AUTH_ED25519,       /* 64 bytes */
    SX_SMP_AUTH_ED448,         /* 114 bytes */
} sx_smp_auth_kind;

/* SX_OK with *out set, or SX_E_PROTOCOL for any other length (the router
 * answers ERR BLOCK, PROTOCOL-NOTES C2). */
SX_MUST_CHECK sx_status sx_smp_auth_kind_of(sx_slice auth, sx_smp_auth_kind *out);

typedef struct sx_smp_transmission {
    sx_slice auth;          /* empty when unauthorized */
    bool has_service_sig;   /* only possible for v >= 16 with a non-empty auth */
    sx_slice service_sig;   /* SX_SMP_SERVICE_SIG_LEN bytes when present */
    sx_slice session_id;    /* v < 7 only: the session id as sent */
    sx_slice corr_id;
    sx_slice entity_id;
    sx_slice command;       /* tag and parameters, to the end */
    /* Parse only: the sent bytes after the authorization fields (session id
     * for v < 7, corrId, entityId, command); the encoder ignores it. */
    sx_slice signed_part;
} sx_smp_transmission;

/* Parses the bytes of one batch item for version v. SX_E_PROTOCOL when the
 * layout does not parse (the router answers ERR BLOCK with an empty corrId
 * and entity, PROTOCOL-NOTES B15/tDecodeServer): a truncated field, a
 * service-signature tag other than '0'/'1', a service signature that is not 64
 * bytes. The auth length and the v6 session id are NOT checked here: see
 * sx_smp_auth_kind_of and the request decoder in smp/command.h. */
SX_MUST_CHECK sx_status sx_smp_transmission_parse(sx_slice bytes, uint16_t v,
                                                  sx_smp_transmission *out);

/* Appends t encoded for version v: the service-signature slot is written
 * for v >= 16 when auth is non-empty ('0' without has_service_sig) and the
 * session id only for v < 7. SX_E_USAGE in w when a service signature is set
 * where the layout has no slot or is not 64 bytes. */
bool sx_smp_transmission_write(sx_writer *w, uint16_t v, const sx_smp_transmission *t);

/* PROTOCOL-NOTES C4/C9: appends the bytes an authorization covers:
 *   [cert_fp] || shortString(session_id) || shortString(corr_id) ||
 *   shortString(entity_id) || command
 * cert_fp is empty, or the 32-byte service certificate fingerprint that
 * prefixes what the entity key signs when the transmission also carries a
 * service signature (the service key itself signs the bytes without it).
 * The same bytes for every version: for v < 7 they are also what is sent
 * after the authorization. */
bool sx_smp_write_auth_bytes(sx_writer *w, sx_slice cert_fp, sx_slice session_id,
                             sx_slice corr_id, sx_slice entity_id, sx_slice command);

/* The same for a parsed transmission, from the bytes as received:
 * [cert_fp] || (v >= 7: shortString(session_id)) || signed_part. For v < 7
 * the caller has checked t->session_id against its own. */
bool sx_smp_transmission_auth_bytes(sx_writer *w, const sx_smp_transmission *t, uint16_t v,
                                    sx_slice session_id, sx_slice cert_fp);

#endif
