/* What the NTF router sends to APNS (PROTOCOL-NOTES G19-G21; reference
 * Notifications/Server/Push/APNS.hs at 152c30ca68): the provider token (a
 * JWT signed with ES256, whose signature the reference encodes as DER
 * SEQUENCE { r, s }, not the 64 bytes of RFC 7518, in unpadded base64url),
 * and the JSON bodies of the three pushes, with the payload encrypted to the
 * token's DH secret and padded to 3072 bytes. The HTTP/2 client is
 * apns_client.h. */
#ifndef SX_NTF_ROUTER_APNS_MSG_H
#define SX_NTF_ROUTER_APNS_MSG_H

#include <stdint.h>

#include "core/writer.h"
#include "simplex/status.h"

#define SX_NTF_APNS_TEAM_ID "5NN7GUYB6T" /* the JWT's iss */
#define SX_NTF_APNS_TOPIC "chat.simplex.app"
#define SX_NTF_APNS_PADDED_LEN 3072
#define SX_NTF_APNS_TOKEN_TTL 1800 /* seconds before the JWT is made again */

typedef struct sx_ntf_apns_key sx_ntf_apns_key;

/* Reads the P-256 private key of an APNS .p8 file (PKCS#8 PEM).
 * SX_E_IO (unreadable), SX_E_PROTOCOL (not a P-256 private key). */
SX_MUST_CHECK sx_status sx_ntf_apns_key_load(const char *path, sx_ntf_apns_key **out);
/* The same for the checking side (the APNS stand-in): a public key PEM
 * (SubjectPublicKeyInfo) or a private one, of P-256. */
SX_MUST_CHECK sx_status sx_ntf_apns_key_load_public(const char *path, sx_ntf_apns_key **out);
void sx_ntf_apns_key_free(sx_ntf_apns_key *k);
/* Whether sig (DER SEQUENCE { r, s }) is an ES256 signature of data by k. */
bool sx_ntf_apns_es256_verify(const sx_ntf_apns_key *k, sx_slice data, sx_slice sig);

/* Appends the signed JWT: b64u({"alg":"ES256","kid":<kid>}) "."
 * b64u({"iss":<team>,"iat":<iat>}) "." b64u(DER signature), unpadded
 * base64url. kid and team are JSON-escaped. */
bool sx_ntf_apns_jwt(sx_writer *w, const sx_ntf_apns_key *k, const char *kid, const char *team, int64_t iat);

/* The bodies (PROTOCOL-NOTES G21), nonce = 24 random bytes:
 *   {"aps":{"content-available":1},"notificationData":{"nonce":N,"verification":V}}
 *   {"aps":{"mutable-content":1,"alert":"Encrypted message or another app event",
 *    "category":"NTF_CAT_CHECK_MESSAGE"},"notificationData":{"message":M,"nonce":N}}
 *   {"aps":{"content-available":1},"notificationData":{"checkMessages":true}}
 * N, V, M padded base64url; V and M = crypto_box(secret, nonce,
 * pad(plaintext, 3072)). The data keys are in the order the reference's JSON
 * library writes object keys (sorted). SX_E_LIMIT in w for a plaintext over
 * the padded length. */
bool sx_ntf_apns_verification_body(sx_writer *w, const uint8_t secret[32], const uint8_t nonce[24],
                                   const uint8_t *code, size_t code_len);
bool sx_ntf_apns_message_body(sx_writer *w, const uint8_t secret[32], const uint8_t nonce[24],
                              const uint8_t *msg, size_t msg_len);
bool sx_ntf_apns_check_body(sx_writer *w);

#endif
