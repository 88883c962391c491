/* XRCP session invitation (PROTOCOL-NOTES X1-X6): the xrcp:/ URI that a
 * controller shows out of band (and later sends inside the multicast
 * announcement), with its two Ed25519 signatures.
 *
 *   xrcp:/<ca>@<host>:<port>#/?v=..&app=..&ts=..&skey=..&idkey=..&dh=..&ssig=..&idsig=..
 *
 * Parameters are written in that order, query-escaped as the reference's
 * HTTP query renderer does; the two signatures are appended unescaped. The
 * session signature covers the URI up to (not including) "&ssig="; the
 * identity signature covers that text followed by "&ssig=" and the session
 * signature in STANDARD base64 (not the base64url shown in the URI), as the
 * reference computes it. A verifier rebuilds the signed text from the decoded
 * fields, as the reference does, rather than signing the received bytes. */
#ifndef SX_XRCP_INVITATION_H
#define SX_XRCP_INVITATION_H
#include "core/bytes.h"
#include "core/reader.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "simplex/status.h"

#define SX_XRCP_KEY_LEN 32    /* raw Ed25519 / X25519 public key */
#define SX_XRCP_SIG_LEN 64    /* Ed25519 signature */
#define SX_XRCP_FP_LEN 32     /* CA certificate fingerprint, SHA-256 */
#define SX_XRCP_HOST_MAX 255  /* host text */
#define SX_XRCP_APP_MAX 16384 /* app JSON text */
#define SX_XRCP_URI_MAX 65536 /* whole URI, encoder's and decoder's bound */

/* The current and the supported protocol versions (Types.hs: 1..1). */
#define SX_XRCP_VERSION 1

typedef struct sx_xrcp_invitation {
    uint8_t ca[SX_XRCP_FP_LEN];      /* controller CA fingerprint */
    char host[SX_XRCP_HOST_MAX + 1]; /* IPv4 address or host name, NUL-terminated */
    uint16_t port;
    sx_version_range v; /* supported XRCP versions */
    uint8_t *app;       /* app JSON text (heap, owned), app_len bytes */
    size_t app_len;
    int64_t ts;                     /* session start, seconds since the epoch */
    uint8_t skey[SX_XRCP_KEY_LEN];  /* Ed25519 session key */
    uint8_t idkey[SX_XRCP_KEY_LEN]; /* Ed25519 long-term identity key */
    uint8_t dh[SX_XRCP_KEY_LEN];    /* X25519 session DH key */
} sx_xrcp_invitation;

typedef struct sx_xrcp_signed_invitation {
    sx_xrcp_invitation inv;
    uint8_t ssig[SX_XRCP_SIG_LEN];
    uint8_t idsig[SX_XRCP_SIG_LEN];
} sx_xrcp_signed_invitation;

/* Sets inv->app to a heap copy of json, which must be one valid JSON value
 * holding neither '+' nor '%' (the reference decodes the app value twice, so
 * those would not survive: PROTOCOL-NOTES X4). SX_E_USAGE otherwise,
 * SX_E_LIMIT over SX_XRCP_APP_MAX, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xrcp_invitation_set_app(sx_xrcp_invitation *inv, sx_slice json);

/* Frees the app text and wipes the structure. Accepts NULL. */
void sx_xrcp_invitation_clear(sx_xrcp_invitation *inv);

/* Appends the unsigned URI (what the session key signs). SX_E_USAGE in w
 * for a field that cannot be written so that the reference reads it back
 * (empty host or one with a character of ":#,;/ \t\r\n%+&", no app, v.min >
 * v.max). Writer style. */
bool sx_xrcp_invitation_write(sx_writer *w, const sx_xrcp_invitation *inv);

/* Signs the invitation with the private session and identity keys (whose
 * public halves must be inv->skey and inv->idkey: SX_E_USAGE otherwise) and
 * fills out (out->inv is a copy of *inv with its own app text). */
SX_MUST_CHECK sx_status sx_xrcp_invitation_sign(const sx_xrcp_invitation *inv, const sx_key *skey,
                                                const sx_key *idkey, sx_xrcp_signed_invitation *out);

/* Appends the signed URI. Writer style. */
bool sx_xrcp_signed_invitation_write(sx_writer *w, const sx_xrcp_signed_invitation *s);

/* Parses a signed URI (exactly uri.len bytes) as the reference does:
 * parameters in any order, the first of a repeated name counts, unknown ones
 * are ignored, and the signatures are read after the first "&ssig=".
 * Signatures are NOT checked here. SX_E_PROTOCOL for anything malformed,
 * SX_E_LIMIT over the bounds above, SX_E_NOMEM. out is cleared on failure. */
SX_MUST_CHECK sx_status sx_xrcp_invitation_decode(sx_slice uri, sx_xrcp_signed_invitation *out);

/* Checks both signatures over the text rebuilt from the fields. SX_E_AUTH
 * when either fails. */
SX_MUST_CHECK sx_status sx_xrcp_invitation_verify(const sx_xrcp_signed_invitation *s);

/* sx_xrcp_invitation_decode then sx_xrcp_invitation_verify. */
SX_MUST_CHECK sx_status sx_xrcp_invitation_decode_verified(sx_slice uri, sx_xrcp_signed_invitation *out);

void sx_xrcp_signed_invitation_clear(sx_xrcp_signed_invitation *s);

/* A base64url token as the reference reads one (PROTOCOL-NOTES A23: one or
 * more of the alphabet, then any '=' characters, nothing else) decoding to
 * exactly want bytes into out (which may be written to on failure). */
bool sx_xrcp_b64_exact(sx_slice text, uint8_t *out, size_t want);

#endif
