/* End-to-end key agreement before the double ratchet (reference
 * protocol/pqdr.md; reference protocol/agent-protocol.md, "end-to-end
 * encryption"): the E2E ratchet parameters both parties exchange (two X448
 * keys and, from version 3, sntrup761 KEM parameters), their binary
 * encodings, and the PQ X3DH that turns them into the ratchet's first keys.
 * Also the hybrid DH+KEM secret SHA3-256(dh || ss) used outside the ratchet. */
#ifndef SX_CRYPTO_X3DH_H
#define SX_CRYPTO_X3DH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/reader.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "crypto/sntrup761.h"
#include "simplex/status.h"

/* E2E encryption versions: 2 = HKDF in X3DH, 3 = PQ ratchet (KEM in params
 * and headers, 2-byte lengths). Version 1 is not supported. */
#define SX_E2E_VERSION_KDF_X3DH 2
#define SX_E2E_VERSION_PQ 3
#define SX_E2E_VERSION_MIN 2
#define SX_E2E_VERSION_CURRENT 3

#define SX_X448_LEN 56          /* raw X448 public / private key and DH output */
#define SX_E2E_AD_LEN 112       /* associated data: raw key || raw key */
#define SX_RATCHET_KEY_LEN 32   /* root, chain, header and message keys */

/* KEM parameters as they travel in E2E params and message headers
 * (RKEMParams): nothing, a proposal (our encapsulation key), or an
 * acceptance (a ciphertext to the peer's key and our next key). */
typedef enum sx_kem_state {
    SX_KEM_NONE = 0,
    SX_KEM_PROPOSED = 1,
    SX_KEM_ACCEPTED = 2,
} sx_kem_state;

typedef struct sx_kem_params {
    sx_kem_state state;
    uint8_t ct[SX_SNTRUP761_CT_LEN]; /* ACCEPTED only */
    uint8_t pk[SX_SNTRUP761_PK_LEN]; /* PROPOSED and ACCEPTED */
} sx_kem_params;

/* Optional KEM parameters: '0', or '1' then 'P' large(pk) / 'A' large(ct)
 * large(pk). The decoder requires the exact sntrup761 lengths (1158 / 1039;
 * the reference takes any length and would read past a short key) and fails
 * r with SX_E_PROTOCOL otherwise. */
bool sx_kem_params_write_maybe(sx_writer *w, const sx_kem_params *p);
bool sx_kem_params_read_maybe(sx_reader *r, sx_kem_params *out);

/* An X448 public key as shortString(SubjectPublicKeyInfo DER), raw 56 bytes
 * in memory. The reader accepts only X448 (SX_E_PROTOCOL otherwise). */
bool sx_x448_write_public_short(sx_writer *w, const uint8_t raw[SX_X448_LEN]);
bool sx_x448_read_public_short(sx_reader *r, uint8_t raw[SX_X448_LEN]);

/* E2E ratchet parameters. The plain form (E2ERatchetParams, in confirmations
 * and ratchet-key messages) carries one version; the link form
 * (E2ERatchetParamsUri binary encoding, in short-link data) a version range.
 * Only X448 keys are accepted, as the reference's agent does. */
typedef struct sx_e2e_params {
    uint16_t version;       /* plain form */
    sx_version_range range; /* link form */
    uint8_t k1[SX_X448_LEN];
    uint8_t k2[SX_X448_LEN];
    sx_kem_params kem;      /* NONE for versions below 3 */
} sx_e2e_params;

/* Plain form: version k1 k2, then maybe(kem) only when version >= 3 (a KEM
 * given with a lower version is left out, as the reference does). */
bool sx_e2e_params_write(sx_writer *w, const sx_e2e_params *p);
bool sx_e2e_params_read(sx_reader *r, sx_e2e_params *out);
/* Link form: range k1 k2 maybe(kem), the KEM field always present. */
bool sx_e2e_params_write_uri(sx_writer *w, const sx_e2e_params *p);
bool sx_e2e_params_read_uri(sx_reader *r, sx_e2e_params *out);
/* Whole-buffer decoders (trailing bytes are SX_E_PROTOCOL). */
SX_MUST_CHECK sx_status sx_e2e_params_decode(sx_slice in, sx_e2e_params *out);
SX_MUST_CHECK sx_status sx_e2e_params_decode_uri(sx_slice in, sx_e2e_params *out);

/* Text form of the link form (StrEncoding of E2ERatchetParamsUri): the e2e=
 * value of an invitation link, before the link's own percent-escaping.
 *   v=<range>&x3dh=<k1>,<k2>                            no KEM
 *   v=<range>&x3dh=<k1>,<k2>&kem_key=<pk>               PROPOSED
 *   v=<range>&x3dh=<k1>,<k2>&kem_ct=<ct>&kem_key=<pk>   ACCEPTED
 * <range> is "<min>" when min == max, else "<min>-<max>" (decimal); k1, k2
 * are padded base64url of the X448 SubjectPublicKeyInfo DER; pk and ct are
 * padded base64url of the raw sntrup761 bytes. As in the reference, the KEM
 * part is written only when range.max >= 3 (it is dropped below that). The
 * writer uses range, not version; it fails w with SX_E_USAGE for min > max
 * or an unknown KEM state. SX_E2E_PARAMS_TEXT_MAX is the longest text
 * (range 65534-65535 with ACCEPTED), without a terminating NUL. */
#define SX_E2E_PARAMS_TEXT_MAX 3153
bool sx_e2e_params_write_text(sx_writer *w, const sx_e2e_params *p);
/* Strict decoder of exactly len chars (no NUL needed): only the form above,
 * exactly as the reference's encoder writes it. Parameters in that order,
 * none missing, repeated or unknown; canonical decimals (no sign or leading
 * zero, at most 65535; "a-b" only for a < b); canonical padded base64url;
 * X448 keys only; the exact sntrup761 lengths; no KEM part when
 * range.max < 3. The reference's parser is looser (any order, unknown or
 * repeated parameters, percent-escapes, unpadded base64, "3-3", X25519
 * keys, KEM fields ignored below version 3); none of that comes out of its
 * encoder. On success version = range.max. Errors: SX_E_PROTOCOL (*out is
 * then zeroed), SX_E_USAGE for NULL pointers. */
SX_MUST_CHECK sx_status sx_e2e_params_decode_text(const char *text, size_t len,
                                                  sx_e2e_params *out);

/* Our private half of the parameters we sent: the two X448 private keys and
 * our KEM state (a proposal keeps our key pair; an acceptance also keeps the
 * ciphertext we sent and the shared secret it carries). Wipe with
 * sx_e2e_private_wipe. */
typedef struct sx_e2e_private {
    uint8_t k1[SX_X448_LEN];
    uint8_t k2[SX_X448_LEN];
    sx_kem_state kem;
    uint8_t kem_pk[SX_SNTRUP761_PK_LEN];
    uint8_t kem_sk[SX_SNTRUP761_SK_LEN];
    uint8_t kem_ct[SX_SNTRUP761_CT_LEN]; /* ACCEPTED only */
    uint8_t kem_ss[SX_SNTRUP761_SS_LEN]; /* ACCEPTED only */
} sx_e2e_private;

void sx_e2e_private_wipe(sx_e2e_private *p);
/* Storage encoding of the private half (our own format, for the agent's
 * store): format byte 1, both keys raw, KEM state byte and its fields. */
bool sx_e2e_private_write(sx_writer *w, const sx_e2e_private *p);
bool sx_e2e_private_read(sx_reader *r, sx_e2e_private *out);

/* What to do with the KEM when generating parameters (UseKEM). */
typedef enum sx_use_kem {
    SX_USE_KEM_NO = 0,
    SX_USE_KEM_PROPOSE = 1,
    SX_USE_KEM_ACCEPT = 2,
} sx_use_kem;

/* replyKEM_: the KEM use of the joining party answering params of version v
 * whose KEM is peer (NULL = none): none without PQ support or below
 * version 3; otherwise accept a proposal, or propose when there is none. */
sx_use_kem sx_e2e_reply_kem(uint16_t v, const sx_kem_params *peer, bool pq_support);

/* New parameters of version v: two fresh X448 key pairs and, when v >= 3 and
 * use is not NO, a fresh sntrup761 key pair (plus an encapsulation to
 * peer_kem_pk for ACCEPT). The initiating party uses PROPOSE or NO; the
 * joining party what sx_e2e_reply_kem says. rng: NULL for the system CSPRNG,
 * or a deterministic source for tests (it also makes the X448 keys).
 * Errors: SX_E_USAGE (NULL outputs, ACCEPT without peer_kem_pk),
 * SX_E_INTERNAL. Outputs are wiped on failure. */
SX_MUST_CHECK sx_status sx_e2e_generate(uint16_t v, sx_use_kem use,
                                        const uint8_t *peer_kem_pk,
                                        const sx_sntrup761_rng *rng, sx_e2e_private *priv,
                                        sx_e2e_params *pub);

/* Result of the X3DH (RatchetInitParams and the KEM key pair to keep). */
typedef struct sx_x3dh_result {
    uint8_t ad[SX_E2E_AD_LEN];
    uint8_t rk[SX_RATCHET_KEY_LEN];          /* root key (SK) */
    uint8_t snd_hk[SX_RATCHET_KEY_LEN];      /* shared header key of the joining party */
    uint8_t rcv_next_hk[SX_RATCHET_KEY_LEN]; /* shared next header key of the initiator */
    bool kem_accepted;                        /* a KEM secret went into rk */
    uint8_t pqrr[SX_SNTRUP761_PK_LEN];        /* the accepting party's key */
    uint8_t pqrss[SX_SNTRUP761_SS_LEN];
    uint8_t pqrct[SX_SNTRUP761_CT_LEN];
    bool kem_keys;                            /* our KEM pair, kept for the ratchet */
    uint8_t kem_pk[SX_SNTRUP761_PK_LEN];
    uint8_t kem_sk[SX_SNTRUP761_SK_LEN];
} sx_x3dh_result;

void sx_x3dh_result_wipe(sx_x3dh_result *res);

/* The joining party (pqX3dhSnd): own = the private half of the params it
 * replies with, peer = the initiator's params (their KEM may be NONE or
 * PROPOSED). The initiating party (pqX3dhRcv): own = the private half of the
 * params it sent first, peer = the reply. Both compute
 * HKDF-SHA512(salt 64 zero bytes, dh1 || dh2 || dh3 [|| kem ss],
 * "SimpleXX3DH", 96) = header key || next header key || root key, and the
 * associated data raw(joiner k1) || raw(initiator k1).
 * Errors: SX_E_PROTOCOL when the KEM states do not fit together
 * (CERatchetKEMState: an acceptance without a proposal, or peer params in
 * the wrong state), SX_E_AUTH for a DH with a small-order key,
 * SX_E_INTERNAL. *out is wiped on failure. */
SX_MUST_CHECK sx_status sx_x3dh_snd(const sx_e2e_private *own, const sx_e2e_params *peer,
                                    sx_x3dh_result *out);
SX_MUST_CHECK sx_status sx_x3dh_rcv(const sx_e2e_private *own, const sx_e2e_params *peer,
                                    sx_x3dh_result *out);

/* kemHybridSecret: SHA3-256(X25519(priv, peer) || ss), the secret_box key
 * (sx_sb_*) of the reference's hybrid crypto_box. X25519 keys only
 * (SX_E_USAGE otherwise); SX_E_AUTH for a small-order peer key. */
SX_MUST_CHECK sx_status sx_kem_hybrid_secret(const sx_key *priv, const sx_key *peer,
                                             const uint8_t ss[SX_SNTRUP761_SS_LEN],
                                             uint8_t out[32]);

/* Helpers shared with the ratchet. */
/* Random bytes from rng, or from the system CSPRNG when rng is NULL. */
void sx_x3dh_random(const sx_sntrup761_rng *rng, uint8_t *out, size_t n);
/* A new X448 private key (raw) and its public key. */
SX_MUST_CHECK sx_status sx_x448_generate(const sx_sntrup761_rng *rng, uint8_t priv[SX_X448_LEN],
                                         uint8_t pub[SX_X448_LEN]);
/* The public key of an X448 private key. */
SX_MUST_CHECK sx_status sx_x448_public(const uint8_t priv[SX_X448_LEN], uint8_t pub[SX_X448_LEN]);
/* X448(priv, pub) into out; SX_E_AUTH for a small-order pub. */
SX_MUST_CHECK sx_status sx_x448_dh(const uint8_t priv[SX_X448_LEN], const uint8_t pub[SX_X448_LEN],
                                   uint8_t out[SX_X448_LEN]);

#endif
