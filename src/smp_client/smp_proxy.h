/* The sending client's side of 2-hop routing (PROTOCOL-NOTES D30-D33,
 * D37; reference Client.hs createSMPProxySession / proxySMPCommand at
 * 152c30ca68): checking a proxy's PKEY against the destination router's
 * address, sealing a command for the destination inside PFWD, and opening
 * the destination's answer from PRES. Pure pieces (no I/O); the blocking
 * client's calls are at the end. */
#ifndef SX_CLIENT_SMP_PROXY_H
#define SX_CLIENT_SMP_PROXY_H

#include "smp/proxy.h"
#include "smp_client/smp_client.h"

/* A proxy session to one destination router (a ProxiedRelay): the proxy's
 * session id with it, the version to encode for and its session key. */
typedef struct sx_smp_relay_session {
    uint8_t session_id[SX_TLS_UNIQUE_MAX];
    size_t session_id_len;
    uint16_t version;
    sx_key *relay_key; /* X25519 public */
} sx_smp_relay_session;

void sx_smp_relay_session_cleanup(sx_smp_relay_session *rs);

/* PROTOCOL-NOTES D32: checks a PKEY: 2..4 certificates, SHA-256 of the 2nd
 * == key_hash, X.509 validation to the last one, the signed key an X25519
 * key verified by the leaf; the version is the highest both the PKEY range
 * and own allow. SX_E_AUTH (identity, chain or signature), SX_E_PROTOCOL
 * (no common version, not a PKEY), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_pkey_check(const sx_smp_resp *pkey, const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                          sx_version_range own, sx_smp_relay_session *out);

/* One command on its way through a proxy: its nonce (the PFWD corrId), the
 * one-command secret, and the PFWD parameters (views into this struct). */
typedef struct sx_smp_pfwd {
    uint8_t corr_id[SX_SMP_CORR_ID_LEN];
    uint8_t secret[32];
    uint8_t key_der[SX_KEY_SPKI_MAX];
    uint8_t enc[SX_SMP_PROXIED_BOX_LEN];
    sx_smp_cmd cmd; /* PFWD, to send with entity = the session id and corr_id */
} sx_smp_pfwd;

/* PROTOCOL-NOTES D33: the transmission of cmd for entity, authorized with
 * auth_key (NULL: none; X25519: authenticator with the relay's key), as the
 * destination router will read it, sealed into p->cmd. SX_E_LIMIT for a
 * command that does not fit, SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_smp_pfwd_make(const sx_smp_relay_session *rs, sx_slice entity, const sx_smp_cmd *cmd,
                                         const sx_key *auth_key, sx_smp_pfwd *p);

/* PROTOCOL-NOTES D37: opens PRES's payload into *out (a reply as
 * sx_smp_client_reply_from makes, for the relay's session and version).
 * SX_E_AUTH when it does not open, SX_E_PROTOCOL when it is not one
 * transmission, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_pres_open(const sx_smp_relay_session *rs, const sx_smp_pfwd *p, sx_slice enc,
                                         sx_smp_client_reply *out);

/* ---- blocking client ---- */

/* PRXY for the destination dest (its address; the password is for the
 * proxy router: basic_auth, may be empty) and the PKEY check. SX_OK with
 * *out; SX_E_PROTOCOL with *reply holding the proxy's answer when it
 * answered something else (ERR PROXY ...; free it with
 * sx_smp_client_reply_free; zeroed otherwise); errors of the call. */
SX_MUST_CHECK sx_status sx_smp_client_proxy_session(sx_smp_client *cl, const sx_smp_address *dest,
                                                    sx_slice basic_auth, sx_smp_relay_session *out,
                                                    sx_smp_client_reply *reply);
/* Sends cmd for entity through the proxy session and returns the
 * destination's answer in *reply (SX_OK); or the proxy's own answer when it
 * was not PRES (SX_E_PROTOCOL, e.g. ERR PROXY NO_SESSION), SX_E_AUTH /
 * SX_E_PROTOCOL when PRES does not open, errors of the call. */
SX_MUST_CHECK sx_status sx_smp_client_proxy_call(sx_smp_client *cl, const sx_smp_relay_session *rs, sx_slice entity,
                                                 const sx_smp_cmd *cmd, const sx_key *auth_key,
                                                 sx_smp_client_reply *reply);

#endif
