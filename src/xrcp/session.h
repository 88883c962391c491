/* XRCP session set-up (PROTOCOL-NOTES X7, X8): the HELLO blocks that follow
 * the TLS handshake, the hybrid X25519 + sntrup761 secret and the two chain
 * keys every later command and response is sealed with.
 *
 * Blocks are 16384 bytes (pad, PROTOCOL-NOTES A30). The host sends its HELLO
 * first, boxed under the X25519 secret of a fresh host key and the
 * invitation's dh key; the controller answers with the KEM ciphertext and a
 * box under the first key of its sending chain, or with an error. */
#ifndef SX_XRCP_SESSION_H
#define SX_XRCP_SESSION_H
#include "crypto/box.h"
#include "crypto/keys.h"
#include "crypto/sbchain.h"
#include "crypto/sntrup761.h"
#include "xrcp/invitation.h"

#define SX_XRCP_BLOCK_LEN 16384 /* every block inside TLS */
#define SX_XRCP_HELLO_PAD 12288 /* the boxed JSON of a HELLO, padded */
#define SX_XRCP_ERROR_MAX 1024  /* controller error text we keep */

/* The host's choice of version (the reference's compatibleVersion): the
 * highest version both the invitation's range and ours (1..SX_XRCP_VERSION)
 * hold. SX_E_PROTOCOL when they share none (VERSION). */
SX_MUST_CHECK sx_status sx_xrcp_version_choose(sx_version_range offered, uint16_t *v);

/* The controller's check of the version a HELLO chose: inside our range. */
bool sx_xrcp_version_ok(uint16_t v);

/* SHA3-256(X25519(priv, peer) || kem_ss): the session's hybrid secret
 * (PROTOCOL-NOTES X8). priv is a private X25519 key, peer a raw public one.
 * SX_E_AUTH for a small-order peer key. */
SX_MUST_CHECK sx_status sx_xrcp_hybrid_secret(const sx_key *priv, const uint8_t peer[SX_XRCP_KEY_LEN],
                                              const uint8_t kem_ss[SX_SNTRUP761_SS_LEN], uint8_t out[32]);

/* The two chains of a session from its hybrid secret (PROTOCOL-NOTES X8):
 * the controller sends with the first and receives with the second, the
 * host the reverse. */
SX_MUST_CHECK sx_status sx_xrcp_chains_init(const uint8_t hybrid[32], bool controller, sx_sbchain *snd,
                                            sx_sbchain *rcv);

/* What the host's HELLO carries. */
typedef struct sx_xrcp_host_hello {
    uint16_t v;                          /* chosen version */
    uint8_t ca[SX_XRCP_FP_LEN];          /* host CA fingerprint */
    uint8_t kem_pk[SX_SNTRUP761_PK_LEN]; /* host KEM public key */
    uint8_t dh[SX_XRCP_KEY_LEN];         /* host session DH key (plain part), raw */
    uint8_t *app;                        /* app JSON text (heap, owned), "null" when absent */
    size_t app_len;
} sx_xrcp_host_hello;

void sx_xrcp_host_hello_clear(sx_xrcp_host_hello *h);

/* Host side: seals hello (whose dh must be the public half of host_dh) for
 * the controller's invitation key ctrl_dh into block (SX_XRCP_BLOCK_LEN
 * bytes). app must be one JSON value (SX_E_USAGE otherwise); SX_E_LIMIT
 * when the JSON does not fit 12286 bytes. nonce NULL: random. */
SX_MUST_CHECK sx_status sx_xrcp_host_hello_encode(const sx_xrcp_host_hello *hello, const sx_key *host_dh,
                                                  const uint8_t ctrl_dh[SX_XRCP_KEY_LEN],
                                                  const uint8_t nonce[SX_CB_NONCE_LEN], uint8_t *block);

/* Controller side: opens a host HELLO block with the invitation's private
 * DH key. Fills out (app copied), and dh_secret with the X25519 secret of
 * the two keys (for an ERROR reply). SX_E_PROTOCOL for a malformed block or
 * JSON (the reference's SYNTAX), SX_E_AUTH when the box does not open
 * (DECRYPT). The version and the fingerprint are the caller's to check. */
SX_MUST_CHECK sx_status sx_xrcp_host_hello_decode(sx_slice block, const sx_key *ctrl_dh, sx_xrcp_host_hello *out,
                                                  uint8_t dh_secret[SX_CB_KEY_LEN]);

/* Controller side: the reply block: "HELLO " || Large(kem_ct) || the box of
 * "{}" under the next key of snd (which advances). */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_hello_encode(const uint8_t kem_ct[SX_SNTRUP761_CT_LEN], sx_sbchain *snd,
                                                  uint8_t *block);

/* Controller side: the error reply: "ERROR " || nonce || box of the UTF-8
 * message under the HELLO's DH secret. nonce NULL: random. */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_error_encode(const uint8_t dh_secret[SX_CB_KEY_LEN], const char *message,
                                                  const uint8_t nonce[SX_CB_NONCE_LEN], uint8_t *block);

/* Host side, step 1: reads the controller's reply. For HELLO: *is_error
 * false and kem_ct filled. For ERROR: *is_error true and the decrypted
 * message (under dh_secret) in message (NUL-terminated, cut to cap - 1).
 * SX_E_PROTOCOL for a malformed block, SX_E_AUTH for an error box that does
 * not open. */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_reply_decode(sx_slice block, const uint8_t dh_secret[SX_CB_KEY_LEN],
                                                  bool *is_error, uint8_t kem_ct[SX_SNTRUP761_CT_LEN],
                                                  char *message, size_t cap);

/* Host side, step 2: with the chains derived from the KEM secret, opens the
 * HELLO's box with the next key of rcv (which advances) and checks that it
 * holds a JSON object. SX_E_AUTH (DECRYPT), SX_E_PROTOCOL (SYNTAX). */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_hello_open(sx_slice block, sx_sbchain *rcv);

/* Session payloads (PROTOCOL-NOTES X8, the reference's rcEncryptBody): the
 * message secret_boxed with the next key and nonce of the chain, tag at the
 * END, no padding: msg.len + 16 bytes into out (cap). Each call advances the
 * chain. */
SX_MUST_CHECK sx_status sx_xrcp_body_seal(sx_sbchain *snd, sx_slice msg, uint8_t *out, size_t cap);

/* Opens a payload sealed as above (out: cap >= box.len - 16; *msg points
 * into out). The chain advances whatever the outcome. SX_E_AUTH for a box
 * shorter than the tag or that does not open. */
SX_MUST_CHECK sx_status sx_xrcp_body_open(sx_sbchain *rcv, sx_slice box, uint8_t *out, size_t cap, sx_slice *msg);

/* The session code as the reference application shows it: the bytes of
 * tls-unique read as one unsigned big-endian number, written in decimal
 * (no leading zeros, "0" for zero) in groups of five digits separated by
 * spaces, the last group possibly shorter. code at most SX_TLS_UNIQUE_MAX
 * bytes (longer is cut there); out gets at most cap - 1 characters and the
 * NUL (SX_XRCP_CODE_TEXT_MAX is always enough). */
#define SX_XRCP_CODE_TEXT_MAX 192
void sx_xrcp_code_text(sx_slice code, char *out, size_t cap);

#endif
