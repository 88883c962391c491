/* SMP relay protocol versions (PROTOCOL-NOTES section 0, B.5; reference
 * Transport.hs at 152c30ca68) and the limits that depend on them. Each
 * milestone is the first version with the named wire change; code compares
 * the agreed version against these names, never against bare numbers.
 * Lives in the transport layer because the handshake needs it; smp/version.h
 * re-exports it for the layers above. */
#ifndef SX_TRANSPORT_SMP_VERSION_H
#define SX_TRANSPORT_SMP_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/reader.h" /* sx_version_range */

enum {
    SX_SMP_V_SUB_MODE = 6,             /* NEW carries a subscription mode (lowest supported) */
    SX_SMP_V_AUTH_CMDS = 7,            /* X25519 authenticators; session id implied (PROTOCOL-NOTES B23) */
    SX_SMP_V_SENDING_PROXY = 8,        /* PRXY / PFWD / RFWD */
    SX_SMP_V_SND_AUTH_KEY = 9,         /* SKEY; senderCanSecure in NEW / IDS */
    SX_SMP_V_DELETED_EVENT = 10,       /* DELD (END before) */
    SX_SMP_V_ENCRYPTED_BLOCK = 11,     /* per-block transport encryption */
    SX_SMP_V_BLOCKED_ENTITY = 12,      /* ERR BLOCKED (AUTH before) */
    SX_SMP_V_PROXY_SERVER_HANDSHAKE = 14, /* proxyServer flag in the client hello (13 unused) */
    SX_SMP_V_SHORT_LINKS = 15,         /* LSET/LDEL/LKEY/LGET/LNK, queue mode in NEW/IDS */
    SX_SMP_V_SERVICE_CERTS = 16,       /* service signature slot, SOK, service id in IDS */
    SX_SMP_V_NEW_NTF_CREDS = 17,       /* notifier credentials in NEW / IDS */
    SX_SMP_V_CLIENT_NOTICES = 18,      /* notice inside BLOCKED */
    SX_SMP_V_RCV_SERVICE = 19,         /* SUBS/NSUBS count + ids hash, SOKS/ENDS hash, ALLS */
};

#define SX_SMP_VERSION_MIN SX_SMP_V_SUB_MODE
#define SX_SMP_VERSION_CURRENT SX_SMP_V_RCV_SERVICE
/* Offered to a client that negotiated no ALPN (PROTOCOL-NOTES B16). */
#define SX_SMP_VERSION_LEGACY 6
/* Highest version a proxy lets a client use with a destination relay
 * (proxiedSMPRelayVersion); the proxied range starts at SX_SMP_V_SENDING_PROXY. */
#define SX_SMP_VERSION_PROXIED_MAX 18

static inline sx_version_range sx_smp_server_vrange(void)
{
    sx_version_range r = {SX_SMP_VERSION_MIN, SX_SMP_VERSION_CURRENT};
    return r;
}

static inline sx_version_range sx_smp_legacy_vrange(void)
{
    sx_version_range r = {SX_SMP_VERSION_MIN, SX_SMP_VERSION_LEGACY};
    return r;
}

static inline sx_version_range sx_smp_proxied_vrange(void)
{
    sx_version_range r = {SX_SMP_V_SENDING_PROXY, SX_SMP_VERSION_PROXIED_MAX};
    return r;
}

/* PROTOCOL-NOTES D21: the largest SEND body the router accepts at version v
 * (longer is ERR LARGE_MSG): 16048 from v11, 16064 for v8-10, 16088 before. */
static inline size_t sx_smp_max_message_length(uint16_t v)
{
    if (v >= SX_SMP_V_ENCRYPTED_BLOCK)
        return 16048;
    if (v >= SX_SMP_V_SENDING_PROXY)
        return 16064;
    return 16088;
}

#endif
