/* The data behind a short link (docs/AGENT.md, "Short links"): what the
 * router stores for the link is two encrypted blobs, the fixed data (written
 * once) and the user data (which the owner may replace).
 *
 *   fixed data = agentVRange shortString(root key, Ed25519 DER) connReq [shortString(entity id)]
 *   link key   = SHA3-256(fixed data)
 *   user data  = 'I' agentVRange userLinkData
 *              | 'C' agentVRange direct(Bool) list(owner) list(relay short link) userLinkData
 *   userLinkData = shortString (up to 254 bytes) | 0xFF Large
 *   owner      = shortString(shortString(owner id) shortString(owner key DER) shortString(signature))
 *   signed(x)  = shortString(Ed25519 signature of x) x
 *   blob       = nonce(24) secret_box(key, nonce, pad(signed(x), 2008 fixed / 13784 user))
 *   keys       = contact: HKDF-SHA512("", link key, "SimpleXContactLink", 56) = link id(24) key(32)
 *                invitation: HKDF-SHA512("", link key, "SimpleXInvLink", 32); the router picks the link id
 *
 * Decoders of the plaintexts ignore bytes after the known fields (the
 * reference keeps them for later versions). */
#ifndef SX_AGENT_SHORTLINK_DATA_H
#define SX_AGENT_SHORTLINK_DATA_H

#include "agent/connreq.h"
#include "agent/shortlink.h"
#include "crypto/box.h"
#include "crypto/keys.h"

#define SX_SL_FIXED_PADDED 2008
#define SX_SL_USER_PADDED 13784
#define SX_SL_LINK_KEY_LEN 32
#define SX_SL_LINK_ID_LEN 24
#define SX_ED25519_SPKI_LEN 44
#define SX_SL_OWNERS_MAX 32 /* owners in one link (the reference allows 255; SX_E_LIMIT beyond) */
#define SX_SL_RELAYS_MAX 8
/* An encrypted blob: nonce, tag and the padded text. */
#define SX_SL_FIXED_BLOB_LEN (SX_CB_NONCE_LEN + SX_CB_TAG_LEN + SX_SL_FIXED_PADDED)
#define SX_SL_USER_BLOB_LEN (SX_CB_NONCE_LEN + SX_CB_TAG_LEN + SX_SL_USER_PADDED)

typedef struct sx_sl_fixed {
    sx_version_range agent_vr;
    uint8_t root_key[SX_ED25519_SPKI_LEN]; /* DER */
    sx_agent_connreq conn_req;             /* owns its data: sx_sl_fixed_free */
    bool has_entity_id;
    sx_slice entity_id;
} sx_sl_fixed;

typedef struct sx_sl_owner {
    sx_slice owner_id;
    uint8_t key[SX_ED25519_SPKI_LEN]; /* DER */
    uint8_t sig[SX_SIG_ED25519_LEN];  /* by the root key or an earlier owner, of owner_id || key DER */
} sx_sl_owner;

typedef struct sx_sl_user {
    sx_conn_mode mode;
    sx_version_range agent_vr;
    /* contact links only */
    bool direct;
    size_t owner_count;
    sx_sl_owner owners[SX_SL_OWNERS_MAX];
    size_t relay_count;
    sx_short_link relays[SX_SL_RELAYS_MAX];
    /* both */
    sx_slice data;
} sx_sl_user;

void sx_sl_fixed_free(sx_sl_fixed *f);

/* ---- keys ---- */

SX_MUST_CHECK sx_status sx_sl_contact_kdf(const uint8_t link_key[SX_SL_LINK_KEY_LEN],
                                          uint8_t link_id[SX_SL_LINK_ID_LEN], uint8_t sb_key[SX_CB_KEY_LEN]);
SX_MUST_CHECK sx_status sx_sl_inv_kdf(const uint8_t link_key[SX_SL_LINK_KEY_LEN], uint8_t sb_key[SX_CB_KEY_LEN]);

/* ---- plaintexts ---- */

bool sx_sl_fixed_write(sx_writer *w, const sx_sl_fixed *f);
/* The connection request must have the mode `mode`. *out is freed on error. */
SX_MUST_CHECK sx_status sx_sl_fixed_decode(sx_slice in, sx_conn_mode mode, sx_sl_fixed *out);
bool sx_sl_user_write(sx_writer *w, const sx_sl_user *u);
SX_MUST_CHECK sx_status sx_sl_user_decode(sx_slice in, sx_conn_mode mode, sx_sl_user *out);

/* signed(x) of the encoded value with an Ed25519 private key. */
bool sx_sl_write_signed(sx_writer *w, const sx_key *priv, sx_slice x);
/* The fixed data, signed, and its link key. */
SX_MUST_CHECK sx_status sx_sl_sign_fixed(const sx_key *root_priv, const sx_sl_fixed *f, sx_writer *signed_out,
                                         uint8_t link_key[SX_SL_LINK_KEY_LEN]);
/* The owner's signature by signer: of owner_id || DER of owner_key. */
SX_MUST_CHECK sx_status sx_sl_owner_sign(const sx_key *signer, sx_slice owner_id,
                                         const uint8_t owner_key[SX_ED25519_SPKI_LEN],
                                         uint8_t sig[SX_SIG_ED25519_LEN]);

/* ---- blobs ---- */

/* nonce || secret_box(sb_key, nonce, pad(plain, padded_len)), appended to w;
 * nonce NULL for a random one. SX_E_LIMIT in w when plain does not fit. */
bool sx_sl_encrypt(sx_writer *w, const uint8_t sb_key[SX_CB_KEY_LEN], size_t padded_len, const uint8_t *nonce,
                   sx_slice plain);

/* Why decryption refused the data, in the reference's order of checks. */
typedef enum sx_sl_check {
    SX_SL_OK = 0,
    SX_SL_BAD_MESSAGE,        /* a blob does not open, or a plaintext does not parse */
    SX_SL_BAD_HASH,           /* SHA3-256 of the fixed data is not the link key */
    SX_SL_BAD_SIGNATURE,      /* the fixed data is not signed by its root key */
    SX_SL_BAD_OWNERS,         /* contact: an owner matches the root key, repeats, or is not authorised */
    SX_SL_BAD_USER_SIGNATURE, /* user data not signed by the root key (or, for contacts, an owner) */
} sx_sl_check;

/* Where decrypted plaintexts live; decoded slices point into it. */
typedef struct sx_sl_plain {
    uint8_t fixed[SX_SL_FIXED_PADDED + 64];
    uint8_t user[SX_SL_USER_PADDED + 64];
} sx_sl_plain;

/* decryptLinkData: opens both blobs with sb_key, decodes both (the user data
 * of the given mode, the fixed data's connection request of that mode), then
 * checks the hash, the root signature, the owners (contact links) and the
 * user data signature. SX_OK with *check SX_SL_OK, or SX_E_PROTOCOL /
 * SX_E_AUTH with *check saying which check failed (SX_E_LIMIT for more
 * owners or relays than we hold, SX_E_NOMEM). *fixed is freed on error. */
SX_MUST_CHECK sx_status sx_sl_decrypt(const uint8_t link_key[SX_SL_LINK_KEY_LEN], const uint8_t sb_key[SX_CB_KEY_LEN],
                                      sx_slice enc_fixed, sx_slice enc_user, sx_conn_mode mode, sx_sl_plain *buf,
                                      sx_sl_fixed *fixed, sx_sl_user *user, sx_sl_check *check);

/* validateLinkOwners: SX_SL_OK, or SX_SL_BAD_OWNERS with *bad the index of
 * the first owner refused (may be NULL). */
sx_sl_check sx_sl_validate_owners(const uint8_t root_key[SX_ED25519_SPKI_LEN], const sx_sl_owner *owners,
                                  size_t count, size_t *bad);

#endif
