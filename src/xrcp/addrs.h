/* The controller's own addresses (PROTOCOL-NOTES X6): which IPv4 address of
 * this machine an invitation names, in the reference's order. Its rules:
 * every interface's IPv4 address except 0.0.0.0, 255.255.255.255 and the
 * link-local 169.254/16; the 127/8 ones after all others (a phone cannot
 * reach them, so they must not come first); then the address the
 * application used last, when given, is moved to the front: the first one
 * with the same address, else the first one on the same interface, else
 * the order stays. The rest keep their order. */
#ifndef SX_XRCP_ADDRS_H
#define SX_XRCP_ADDRS_H
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

#define SX_XRCP_IFACE_MAX 32 /* an interface name and its NUL (IFNAMSIZ is 16) */

typedef struct sx_xrcp_addr {
    uint8_t ip[4];
    char iface[SX_XRCP_IFACE_MAX];
} sx_xrcp_addr;

/* The 127/8 addresses moved after the others, both groups in their order. */
void sx_xrcp_addrs_localhost_last(sx_xrcp_addr *a, size_t n);

/* The first address equal to p's, else the first on p's interface, moved
 * to the front; nothing moves when neither is found. */
void sx_xrcp_addrs_prefer(const sx_xrcp_addr *p, sx_xrcp_addr *a, size_t n);

/* This machine's addresses in that order (prefer NULL: none), at most cap
 * into out; *n is how many there are (may exceed cap). SX_E_IO when the
 * interfaces cannot be listed. */
SX_MUST_CHECK sx_status sx_xrcp_local_addrs(const sx_xrcp_addr *prefer, sx_xrcp_addr *out, size_t cap, size_t *n);

#endif
