/* The payloads of 2-hop message routing (PROTOCOL-NOTES D.6, reference
 * Protocol.hs at 152c30ca68: FwdTransmission, FwdResponse and the padded
 * proxied transmissions of PFWD / PRES): what a proxy wraps for the relay in
 * RFWD, what the relay wraps back in RRES, and the sealed one-transmission
 * batches that only the sending client and the relay can open. Decoded
 * values hold views into the caller's buffer. */
#ifndef SX_SMP_PROXY_H
#define SX_SMP_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "smp/encoding.h"
#include "smp/version.h"
#include "simplex/status.h"

/* PROTOCOL-NOTES D33: a proxied transmission is padded to this length before
 * it is boxed (paddedProxiedTLength), so that its size tells nothing. */
#define SX_SMP_PROXIED_T_LEN 16226
#define SX_SMP_PROXIED_BOX_LEN (SX_SMP_PROXIED_T_LEN + 16)
/* The relay versions a proxy reports in PKEY are sx_smp_proxied_vrange()
 * (smp/version.h). */

/* PROTOCOL-NOTES D34: the plaintext of RFWD, ss(corrId) || Word16(version)
 * || x25519(key) || Tail(encrypted transmission). */
typedef struct sx_smp_fwd_t {
    sx_slice corr_id;     /* the client's PFWD corrId (its box nonce) */
    uint16_t version;     /* the version the client encoded for */
    sx_smp_pubkey dh_key; /* the client's one-command X25519 key */
    sx_slice enc;         /* the client's sealed transmission */
} sx_smp_fwd_t;

/* PROTOCOL-NOTES D36: the plaintext of RRES, ss(corrId) || Tail(encrypted
 * response). */
typedef struct sx_smp_fwd_resp {
    sx_slice corr_id;
    sx_slice enc;
} sx_smp_fwd_resp;

bool sx_smp_fwd_t_write(sx_writer *w, const sx_smp_fwd_t *f);
/* SX_E_PROTOCOL for a truncated field or a key that is not X25519. */
SX_MUST_CHECK sx_status sx_smp_fwd_t_decode(sx_slice bytes, sx_smp_fwd_t *out);
bool sx_smp_fwd_resp_write(sx_writer *w, const sx_smp_fwd_resp *f);
SX_MUST_CHECK sx_status sx_smp_fwd_resp_decode(sx_slice bytes, sx_smp_fwd_resp *out);

/* Seals one transmission t for the other end: the batch 0x01 || Large(t),
 * padded to SX_SMP_PROXIED_T_LEN and boxed with secret and nonce; out
 * receives SX_SMP_PROXIED_BOX_LEN bytes (cap >= that). SX_E_LIMIT when t
 * does not fit. */
SX_MUST_CHECK sx_status sx_smp_proxied_seal(const uint8_t secret[32], const uint8_t nonce[24], sx_slice t,
                                            uint8_t *out, size_t cap);
/* Opens a sealed batch into buf (cap >= box.len) and returns its one
 * transmission in *t (a view of buf). SX_E_AUTH when the box does not open
 * (the relay answers CRYPTO), SX_E_PROTOCOL when its content is not a batch
 * of exactly one transmission (BLOCK). */
SX_MUST_CHECK sx_status sx_smp_proxied_open(const uint8_t secret[32], const uint8_t nonce[24], sx_slice box,
                                            uint8_t *buf, size_t cap, sx_slice *t);

#endif
