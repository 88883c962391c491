/* XRCP multicast announcement (PROTOCOL-NOTES X6): the signed invitation of
 * a later session, encrypted for a host that is already paired.
 *
 *   shortString(X25519 DER of the invitation's dh key) || nonce (24)
 *   || crypto_box(pad(signed URI, 900))                     = 985 bytes
 *
 * The box key is the X25519 secret of the controller's new session DH key
 * and the host's DH key of the previous session. */
#ifndef SX_XRCP_ANNOUNCE_H
#define SX_XRCP_ANNOUNCE_H
#include "crypto/box.h"
#include "crypto/keys.h"
#include "xrcp/invitation.h"

/* the padded URI inside the box */
#define SX_XRCP_ANNOUNCE_PAD 900
/* the whole packet: 985 bytes */
#define SX_XRCP_ANNOUNCE_LEN (1 + 44 + SX_CB_NONCE_LEN + SX_XRCP_ANNOUNCE_PAD + SX_CB_TAG_LEN)

/* Builds the packet for s (whose inv.dh must be the public half of
 * ctrl_dh, a private X25519 key) to the host whose last DH public key is
 * host_dh (raw). nonce may be NULL for a random one. out receives exactly
 * SX_XRCP_ANNOUNCE_LEN bytes. SX_E_LIMIT when the signed URI is longer than
 * 898 bytes, SX_E_USAGE for keys that do not fit, SX_E_AUTH for a
 * small-order host key. */
SX_MUST_CHECK sx_status sx_xrcp_announce_encode(const sx_xrcp_signed_invitation *s, const sx_key *ctrl_dh,
                                                const uint8_t host_dh[SX_XRCP_KEY_LEN],
                                                const uint8_t nonce[SX_CB_NONCE_LEN],
                                                uint8_t out[SX_XRCP_ANNOUNCE_LEN]);

/* Reads a packet with the host's private DH keys of its pairings (for each
 * pairing its current key, then its previous one; NULL entries are skipped)
 * and returns the invitation of the first key that opens it, in *which its
 * index. The invitation's signatures are checked and its dh key must be the
 * packet's. SX_E_PROTOCOL for a malformed packet or URI, SX_E_AUTH when no
 * key opens it (the reference's CTRL_NOT_FOUND) or the invitation does not
 * verify or name the packet's key (INVITATION). */
SX_MUST_CHECK sx_status sx_xrcp_announce_decode(sx_slice packet, const sx_key *const *host_dh, size_t n,
                                                sx_xrcp_signed_invitation *out, size_t *which);

#endif
