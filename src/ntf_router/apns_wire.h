/* The bytes the NTF router and an APNS endpoint read from each other
 * (PROTOCOL-NOTES G20, G23; reference Notifications/Server/Push/APNS.hs at
 * 152c30ca68):
 *  - the JSON error body of an APNS answer, {"reason":"BadDeviceToken"} or
 *    {"reason":"Unregistered","timestamp":...}, and what the router does
 *    with each status and reason;
 *  - the provider token (JWT) the router sends, taken apart and its ES256
 *    signature checked: what the local APNS stand-in (tests/apns_standin)
 *    does with it, and what our unit tests use to check our own JWTs.
 * Both parsers accept a flat JSON object only (members whose values are
 * strings, numbers, true, false or null), bounds-checked with sx_reader. */
#ifndef SX_NTF_ROUTER_APNS_WIRE_H
#define SX_NTF_ROUTER_APNS_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bytes.h"
#include "ntf/protocol.h"
#include "ntf_router/apns_msg.h"
#include "simplex/status.h"

#define SX_NTF_APNS_REASON_MAX 64 /* Apple's reasons are short identifiers */
#define SX_NTF_APNS_JWT_MAX 1024  /* a provider token is about 250 bytes */
#define SX_NTF_APNS_JWT_TEXT_MAX 64

/* The "reason" of an APNS error body into reason (NUL-terminated, cap
 * bytes): printable ASCII without escapes, at most
 * SX_NTF_APNS_REASON_MAX - 1 characters. An empty body, or an object with no
 * reason, gives "". SX_E_PROTOCOL for anything but a flat JSON object
 * (nesting, trailing bytes, a truncated body), SX_E_LIMIT for a reason over
 * cap or SX_NTF_APNS_REASON_MAX. */
SX_MUST_CHECK sx_status sx_ntf_apns_reason_parse(sx_slice body, char *reason, size_t cap);

/* What the router does with an APNS answer (the reference's
 * apnsPushProviderClient result): */
typedef enum sx_ntf_apns_outcome {
    SX_NTF_APNS_DELIVERED = 1, /* 200 */
    SX_NTF_APNS_TOKEN_INVALID, /* the token becomes INVALID,<reason> */
    SX_NTF_APNS_RETRY,         /* reconnect and push once more */
    SX_NTF_APNS_PERMANENT,     /* give up (topic disallowed, provider token refused) */
    SX_NTF_APNS_FAILED,        /* any other answer: give up, reported */
} sx_ntf_apns_outcome;

/* 400 BadDeviceToken -> INVALID,BAD; 400 DeviceTokenNotForTopic ->
 * INVALID,TOPIC; 400 TopicDisallowed and 403 ExpiredProviderToken /
 * InvalidProviderToken -> PERMANENT; 410 ExpiredToken -> INVALID,EXPIRED;
 * 410 Unregistered -> INVALID,UNREGISTERED; another 410 and 503 -> RETRY
 * (503 also drops the connection); everything else FAILED. *inv gets the
 * reason of TOKEN_INVALID. */
sx_ntf_apns_outcome sx_ntf_apns_outcome_of(int status, const char *reason, sx_ntf_invalid_reason *inv);

/* A provider token taken apart: the two JSON parts' members the router
 * writes, and the views of what the signature covers and of the DER
 * signature (decoded into sig). */
typedef struct sx_ntf_apns_jwt_parts {
    char alg[SX_NTF_APNS_JWT_TEXT_MAX];
    char kid[SX_NTF_APNS_JWT_TEXT_MAX];
    char iss[SX_NTF_APNS_JWT_TEXT_MAX];
    int64_t iat;
    sx_slice signed_part; /* "header.claims", a view into the input */
    uint8_t sig[128];
    size_t sig_len;
} sx_ntf_apns_jwt_parts;

/* Splits "b64u(header).b64u(claims).b64u(signature)" (unpadded base64url)
 * and reads header {"alg":..,"kid":..} and claims {"iss":..,"iat":<n>}:
 * all four members present, strings without escapes of at most 63
 * characters, iat a non-negative decimal below 10^15. SX_E_PROTOCOL for
 * anything else, SX_E_LIMIT for an input over SX_NTF_APNS_JWT_MAX. */
SX_MUST_CHECK sx_status sx_ntf_apns_jwt_parse(sx_slice jwt, sx_ntf_apns_jwt_parts *out);
/* Whether the signature is a valid ES256 signature (DER SEQUENCE { r, s },
 * as the reference sends it) of signed_part by k's public key. */
bool sx_ntf_apns_jwt_verify(const sx_ntf_apns_jwt_parts *p, const sx_ntf_apns_key *k);

#endif
