/* The double ratchet with header encryption and the PQ KEM augmentation of
 * pqdr.md (X448 + sntrup761, AES-256-GCM with 16-byte IVs, HKDF-SHA512),
 * byte-compatible with the reference's Ratchet.hs for E2E versions 2..3;
 * plus a storage encoding of the whole state so the agent can resume.
 *
 * Roles follow the reference: the party that joins a connection initialises
 * a sending ratchet (sx_ratchet_init_snd) and speaks first; the party that
 * created the invitation initialises a receiving ratchet (sx_ratchet_init_rcv).
 * A ratchet is used by one thread at a time. Unlike the reference, a decrypt
 * that fails leaves the state untouched (the reference persists a ratchet
 * step whose message body then fails to authenticate). */
#ifndef SX_CRYPTO_RATCHET_H
#define SX_CRYPTO_RATCHET_H

#include "crypto/x3dh.h"

#define SX_RATCHET_IV_LEN 16
#define SX_RATCHET_TAG_LEN 16
/* Messages one chain may skip in one go (maxSkip); beyond it: TOO_MANY_SKIPPED. */
#define SX_RATCHET_MAX_SKIP 512u
/* Skipped message keys kept in all (our bound; the reference has none): when
 * more are added, the oldest are dropped. */
#define SX_RATCHET_MAX_SKIPPED_KEYS 2048u
/* Padded plaintext header: 88 bytes, 2310 once PQ is supported (v3). */
#define SX_RATCHET_HEADER_PAD 88u
#define SX_RATCHET_HEADER_PAD_PQ 2310u
/* Longest encrypted header we produce: version, IV, tag, 2-byte length, body. */
#define SX_RATCHET_ENC_HEADER_MAX (2 + 16 + 16 + 2 + SX_RATCHET_HEADER_PAD_PQ)

/* Per-message PQ choice (Maybe PQEncryption): keep, switch on, switch off. */
typedef enum sx_pq_enc {
    SX_PQ_KEEP = 0,
    SX_PQ_ON = 1,
    SX_PQ_OFF = 2,
} sx_pq_enc;

typedef struct sx_ratchet_skipped {
    uint8_t hk[SX_RATCHET_KEY_LEN]; /* header key of the chain */
    uint32_t n;                     /* message number in that chain */
    uint8_t mk[SX_RATCHET_KEY_LEN];
    uint8_t iv[SX_RATCHET_IV_LEN];
} sx_ratchet_skipped;

/* Our sntrup761 state (RatchetKEM): the key pair we advertise and, once we
 * accepted the peer's key, what we encapsulated to it. */
typedef struct sx_ratchet_kem {
    bool present;
    uint8_t pk[SX_SNTRUP761_PK_LEN];
    uint8_t sk[SX_SNTRUP761_SK_LEN];
    bool accepted;
    uint8_t pqrr[SX_SNTRUP761_PK_LEN]; /* the peer's key we encapsulated to */
    uint8_t ss[SX_SNTRUP761_SS_LEN];
    uint8_t ct[SX_SNTRUP761_CT_LEN];   /* sent in our headers */
} sx_ratchet_kem;

/* The whole state. Fields mirror the reference's Ratchet record; treat them
 * as read-only outside this module (tests and the agent read the flags). */
typedef struct sx_ratchet {
    uint16_t current;       /* version used for our messages */
    uint16_t max_supported; /* announced in our headers */
    uint8_t ad[SX_E2E_AD_LEN];
    uint8_t dhrs[SX_X448_LEN];     /* our ratchet private key */
    uint8_t dhrs_pub[SX_X448_LEN];
    sx_ratchet_kem kem;
    bool support_kem; /* PQ header size; once on, stays on */
    bool enable_kem;  /* use KEM from the next ratchet step */
    bool snd_kem;     /* the sending chain has a KEM secret */
    bool rcv_kem;     /* the receiving chain has a KEM secret */
    uint8_t rk[SX_RATCHET_KEY_LEN];
    bool has_snd;
    uint8_t dhrr[SX_X448_LEN];
    uint8_t cks[SX_RATCHET_KEY_LEN];
    uint8_t hks[SX_RATCHET_KEY_LEN];
    bool has_rcv;
    uint8_t ckr[SX_RATCHET_KEY_LEN];
    uint8_t hkr[SX_RATCHET_KEY_LEN];
    uint32_t ns, nr, pn;
    uint8_t nhks[SX_RATCHET_KEY_LEN];
    uint8_t nhkr[SX_RATCHET_KEY_LEN];
    sx_ratchet_skipped *skipped; /* heap, oldest first */
    size_t n_skipped;
    /* Randomness for new DH and KEM keys; NULL = system CSPRNG. Borrowed,
     * not serialised. */
    const sx_sntrup761_rng *rng;
} sx_ratchet;

/* Sending ratchet of the joining party (initSndRatchet): peer_dh = the
 * initiator's k2, own_dh = a fresh private key (NULL: generated from rng).
 * Receiving ratchet of the initiator (initRcvRatchet): own_dh = its k2
 * private key. current <= max_supported are the versions to use.
 * init is borrowed. Errors: SX_E_USAGE, SX_E_AUTH (small-order key),
 * SX_E_INTERNAL; *r is left zeroed then. Release with sx_ratchet_cleanup. */
SX_MUST_CHECK sx_status sx_ratchet_init_snd(sx_ratchet *r, uint16_t current, uint16_t max_supported,
                                            const uint8_t peer_dh[SX_X448_LEN],
                                            const uint8_t *own_dh, const sx_x3dh_result *init,
                                            const sx_sntrup761_rng *rng);
SX_MUST_CHECK sx_status sx_ratchet_init_rcv(sx_ratchet *r, uint16_t current, uint16_t max_supported,
                                            const uint8_t own_dh[SX_X448_LEN],
                                            const sx_x3dh_result *init, bool pq_support,
                                            const sx_sntrup761_rng *rng);
/* Frees the skipped keys and wipes the state. Accepts NULL and zeroed states. */
void sx_ratchet_cleanup(sx_ratchet *r);

/* ---- encryption ---------------------------------------------------------- */

/* What rcEncryptHeader hands to rcEncryptMsg: the message key and the
 * encrypted header, so that the advanced state can be stored before the
 * message body is encrypted. Contains secrets: wipe after use. */
typedef struct sx_ratchet_msg_key {
    uint16_t version;
    uint8_t mk[SX_RATCHET_KEY_LEN];
    uint8_t iv[SX_RATCHET_IV_LEN];
    uint8_t ad[SX_E2E_AD_LEN];
    uint8_t header[SX_RATCHET_ENC_HEADER_MAX];
    size_t header_len;
} sx_ratchet_msg_key;

/* True when a message of msg_len bytes fits padded_len (PROTOCOL-NOTES A30
 * rules). */
bool sx_ratchet_can_pad(size_t msg_len, size_t padded_len);

/* Advances the sending chain and encrypts the next header (rcEncryptHeader).
 * pq switches PQ on or off for the following ratchet steps; supported is the
 * highest E2E version we speak (SX_E2E_VERSION_CURRENT). Errors: SX_E_USAGE
 * (no sending chain yet: a receiving ratchet before its first message),
 * SX_E_LIMIT (header does not fit its padding), SX_E_INTERNAL. The state
 * changes only on success. */
SX_MUST_CHECK sx_status sx_ratchet_encrypt_header(sx_ratchet *r, sx_pq_enc pq, uint16_t supported,
                                                  sx_ratchet_msg_key *key);
/* Length of the message sx_ratchet_encrypt_msg writes for padded_len. */
size_t sx_ratchet_msg_len(const sx_ratchet_msg_key *key, size_t padded_len);
/* Encrypts msg padded to padded_len under key (rcEncryptMsg) into out
 * (cap >= sx_ratchet_msg_len). SX_E_LIMIT when msg does not fit. */
SX_MUST_CHECK sx_status sx_ratchet_encrypt_msg(const sx_ratchet_msg_key *key, size_t padded_len,
                                               sx_slice msg, uint8_t *out, size_t cap,
                                               size_t *out_len);
/* Both steps; checks that msg fits before advancing the state. */
SX_MUST_CHECK sx_status sx_ratchet_encrypt(sx_ratchet *r, sx_pq_enc pq, uint16_t supported,
                                           size_t padded_len, sx_slice msg, uint8_t *out,
                                           size_t cap, size_t *out_len);
/* Storage encoding of a message key, as the reference's MsgEncryptKey:
 * version, shortString(ad), shortString(mk), iv, large(header). */
bool sx_ratchet_msg_key_write(sx_writer *w, const sx_ratchet_msg_key *key);
SX_MUST_CHECK sx_status sx_ratchet_msg_key_decode(sx_slice in, sx_ratchet_msg_key *key);

/* ---- decryption ---------------------------------------------------------- */

typedef enum sx_ratchet_err {
    SX_RATCHET_OK = 0,
    SX_RATCHET_ERR_MESSAGE,      /* envelope does not parse (CryptoHeaderError) */
    SX_RATCHET_ERR_HEADER,       /* no key opens the header (CERatchetHeader) */
    SX_RATCHET_ERR_HEADER_PARSE, /* opened header does not parse (CryptoHeaderError) */
    SX_RATCHET_ERR_EARLIER,      /* n messages before the next expected */
    SX_RATCHET_ERR_DUPLICATE,    /* the last message received, again */
    SX_RATCHET_ERR_TOO_MANY_SKIPPED, /* n would be skipped, over the maximum */
    SX_RATCHET_ERR_KEM_STATE,    /* a KEM ciphertext without our KEM key */
    SX_RATCHET_ERR_STATE,        /* no receiving chain */
    SX_RATCHET_ERR_BODY,         /* body fails to authenticate (AESDecryptError) */
    SX_RATCHET_ERR_BODY_PAD,     /* decrypted body has a bad padding */
} sx_ratchet_err;

typedef struct sx_ratchet_error {
    sx_ratchet_err code;
    uint32_t n; /* EARLIER and TOO_MANY_SKIPPED */
} sx_ratchet_error;

/* Decrypts one ratchet message (rcDecrypt): tries the skipped keys, then
 * the current and next header keys, runs the DH (and KEM) ratchet step when
 * the peer has turned, stores keys of skipped messages and decrypts. The
 * plaintext goes to out (cap >= msg.len is always enough) and *plain points
 * into it. On success the state (including skipped keys) is updated; on any
 * error it is unchanged and err (may be NULL) says why. Errors:
 * SX_E_PROTOCOL (MESSAGE, HEADER_PARSE, EARLIER, DUPLICATE, KEM_STATE,
 * STATE, BODY_PAD), SX_E_AUTH (HEADER, BODY), SX_E_LIMIT (TOO_MANY_SKIPPED),
 * SX_E_USAGE, SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_ratchet_decrypt(sx_ratchet *r, sx_slice msg, uint8_t *out, size_t cap,
                                           sx_slice *plain, sx_ratchet_error *err);

/* ---- wire pieces (exposed for tests and fuzzing) ------------------------- */

/* Plaintext message header. */
typedef struct sx_ratchet_header {
    uint16_t max_version;
    uint8_t dh[SX_X448_LEN];
    sx_kem_params kem; /* only in v >= 3 encodings */
    uint32_t pn;
    uint32_t ns;
} sx_ratchet_header;

/* Header in the encoding of version v (the KEM field only when v >= 3). The
 * reader leaves bytes after the header unread (they are allowed). */
bool sx_ratchet_header_write(sx_writer *w, uint16_t v, const sx_ratchet_header *h);
bool sx_ratchet_header_read(sx_reader *r, uint16_t v, sx_ratchet_header *h);

/* Encrypted header: version iv tag body, body with a 2-byte length when the
 * first byte is below 32, else a 1-byte length. Slices point into in. */
typedef struct sx_ratchet_enc_header {
    uint16_t version;
    sx_slice iv, tag, body;
} sx_ratchet_enc_header;
SX_MUST_CHECK sx_status sx_ratchet_enc_header_decode(sx_slice in, sx_ratchet_enc_header *out);

/* Message envelope: header (length as above), tag, body (the rest). */
typedef struct sx_ratchet_enc_msg {
    sx_slice header, tag, body;
} sx_ratchet_enc_msg;
SX_MUST_CHECK sx_status sx_ratchet_enc_msg_decode(sx_slice in, sx_ratchet_enc_msg *out);

/* ---- storage ------------------------------------------------------------- */

/* Our storage encoding of the whole state including skipped keys (format
 * byte 2, fixed-size fields; not the reference's JSON). read also takes
 * format 1 (without our ratchet public key, derived then), validates flags
 * and counts (SX_E_PROTOCOL) and fills a fresh state that must be released
 * with sx_ratchet_cleanup (also after a failed read). The stored public key
 * is trusted as much as the private key beside it. */
bool sx_ratchet_write(sx_writer *w, const sx_ratchet *r);
SX_MUST_CHECK sx_status sx_ratchet_read(sx_slice in, sx_ratchet *r);

#endif
