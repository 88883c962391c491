/* XRCP multicast discovery (PROTOCOL-NOTES X6): the UDP sockets that carry
 * the announcement of a later session. The reference uses the group
 * 224.0.0.251 and port 5227, joins the group on any interface, sends once a
 * second for a minute, and the host accepts a packet only from the IPv4
 * address that the invitation inside names. Blocking calls with timeouts;
 * IPv4 only, as in the reference. */
#ifndef SX_XRCP_DISCOVERY_H
#define SX_XRCP_DISCOVERY_H
#include "core/bytes.h"
#include "simplex/status.h"
#include "xrcp/invitation.h"

#define SX_XRCP_MCAST_GROUP "224.0.0.251"
#define SX_XRCP_MCAST_PORT 5227
#define SX_XRCP_MCAST_MAX 2048 /* the largest datagram a listener takes */

/* A listener bound to group:port (port 0: the system picks one, returned
 * in *bound) that has joined the group on the interface with IPv4 address
 * iface ("127.0.0.1"), or on any interface when iface is NULL. SX_E_USAGE
 * for an address that is not dotted IPv4, SX_E_IO for socket errors. */
SX_MUST_CHECK sx_status sx_xrcp_mcast_listen(const char *group, uint16_t port, const char *iface, int *fd,
                                             uint16_t *bound);

/* Waits up to timeout_ms for one datagram: its bytes into buf (cap; longer
 * datagrams are cut, which the announcement reader then refuses), its
 * source IPv4 address as text ("192.168.1.10") into src (16 bytes).
 * SX_E_IO on timeout or error. */
SX_MUST_CHECK sx_status sx_xrcp_mcast_recv(int fd, int timeout_ms, uint8_t *buf, size_t cap, size_t *len,
                                           char src[16]);

/* A sender socket whose multicast packets leave by the interface with IPv4
 * address iface (NULL: the system's choice), looped back to listeners on
 * this host too. */
SX_MUST_CHECK sx_status sx_xrcp_mcast_sender(const char *iface, int *fd);

/* Sends one datagram to group:port. */
SX_MUST_CHECK sx_status sx_xrcp_mcast_send(int fd, const char *group, uint16_t port, sx_slice packet);

/* Leaves the group (when the listener joined one) and closes fd. */
void sx_xrcp_mcast_close(int fd);

/* The host's check on a received announcement: the invitation's host must
 * be the packet's source address (the reference's INVITATION error
 * otherwise). */
bool sx_xrcp_announce_from_host(const sx_xrcp_invitation *inv, const char *src);

#endif
