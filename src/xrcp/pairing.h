/* XRCP long-term identities and pairings (PROTOCOL-NOTES X9, X10): what each
 * side keeps between sessions to recognise the other and to open the next
 * announcement, and the reference's error kinds (RCErrorType) that the
 * controller and host objects report.
 *
 * Every structure here is plain memory owned by the caller; the keys inside
 * are owned by the structure and freed by its _clear function. */
#ifndef SX_XRCP_PAIRING_H
#define SX_XRCP_PAIRING_H
#include "crypto/keys.h"
#include "transport/tls.h"
#include "xrcp/invitation.h"

/* The reference's error kinds, shown by sx_xrcp_err_text as it writes them. */
typedef enum sx_xrcp_err {
    SX_XRCP_ERR_NONE = 0,
    SX_XRCP_ERR_INTERNAL,       /* INTERNAL */
    SX_XRCP_ERR_IDENTITY,       /* IDENTITY: a fingerprint or identity key is not the paired one */
    SX_XRCP_ERR_NEW_CONTROLLER, /* NEW_CONTROLLER: announcing needs a paired host */
    SX_XRCP_ERR_NOT_DISCOVERED, /* NOT_DISCOVERED: no announcement in time */
    SX_XRCP_ERR_TLS_START,      /* CTRL_TLS_START */
    SX_XRCP_ERR_EXCEPTION,      /* EXCEPTION: network or system failure, timeout */
    SX_XRCP_ERR_CTRL_AUTH,      /* CTRL_AUTH: a command signature does not verify */
    SX_XRCP_ERR_CTRL_NOT_FOUND, /* CTRL_NOT_FOUND: no pairing opens the announcement */
    SX_XRCP_ERR_CTRL_ERROR,     /* CTRL_ERROR: the controller answered the HELLO with ERROR */
    SX_XRCP_ERR_INVITATION,     /* INVITATION: bad signature, time, address or key */
    SX_XRCP_ERR_VERSION,        /* VERSION */
    SX_XRCP_ERR_ENCRYPT,        /* ENCRYPT */
    SX_XRCP_ERR_DECRYPT,        /* DECRYPT */
    SX_XRCP_ERR_BLOCK_SIZE,     /* BLOCK_SIZE */
    SX_XRCP_ERR_SYNTAX,         /* SYNTAX */
} sx_xrcp_err;

const char *sx_xrcp_err_text(sx_xrcp_err e);

/* A long-term TLS identity: a self-signed Ed25519 CA whose SHA-256
 * fingerprint the other side stores. Each session signs a fresh leaf with it
 * (the reference does so on both sides). */
typedef struct sx_xrcp_ca {
    sx_key *key;  /* Ed25519 private */
    uint8_t *der; /* CA certificate (heap) */
    size_t der_len;
    uint8_t fp[SX_XRCP_FP_LEN];
} sx_xrcp_ca;

SX_MUST_CHECK sx_status sx_xrcp_ca_new(sx_xrcp_ca *ca);
/* From a stored key and certificate (copied); the key must be the
 * certificate's (SX_E_AUTH otherwise). */
SX_MUST_CHECK sx_status sx_xrcp_ca_from(const sx_key *key, sx_slice der, sx_xrcp_ca *ca);
void sx_xrcp_ca_clear(sx_xrcp_ca *ca);

/* A TLS context presenting [fresh leaf, CA]: a server (asking for the
 * client's certificate) for the controller, a client for the host. */
SX_MUST_CHECK sx_status sx_xrcp_tls_ctx(const sx_xrcp_ca *ca, bool server, sx_tls_ctx **out);

/* The controller's side (the reference's RCHostPairing): its CA and identity
 * key, and once a host has connected, that host's CA fingerprint and the DH
 * key of its last HELLO (the next announcement is boxed to it). */
typedef struct sx_xrcp_ctrl_pairing {
    sx_xrcp_ca ca;
    sx_key *id_key; /* Ed25519 private */
    bool paired;
    uint8_t host_fp[SX_XRCP_FP_LEN];
    uint8_t host_dh[SX_XRCP_KEY_LEN];
} sx_xrcp_ctrl_pairing;

SX_MUST_CHECK sx_status sx_xrcp_ctrl_pairing_new(sx_xrcp_ctrl_pairing *p);
void sx_xrcp_ctrl_pairing_clear(sx_xrcp_ctrl_pairing *p);

/* The host's side for one controller (the reference's RCCtrlPairing): its
 * own CA, and once paired the controller's CA fingerprint and identity key,
 * and its HELLO DH keys of the last two sessions (the controller may not
 * have stored the newest). */
typedef struct sx_xrcp_host_pairing {
    sx_xrcp_ca ca;
    bool paired;
    uint8_t ctrl_fp[SX_XRCP_FP_LEN];
    uint8_t ctrl_idkey[SX_XRCP_KEY_LEN];
    sx_key *dh, *prev_dh; /* X25519 private; prev_dh may be NULL */
} sx_xrcp_host_pairing;

SX_MUST_CHECK sx_status sx_xrcp_host_pairing_new(sx_xrcp_host_pairing *p);
void sx_xrcp_host_pairing_clear(sx_xrcp_host_pairing *p);

#endif
