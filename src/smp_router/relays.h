/* The proxy router's connections to destination routers (relays) for 2-hop
 * routing (PROTOCOL-NOTES D31, D37): one SMP client connection per relay
 * and worker, made on the first PRXY that names it and shared by every
 * client of that worker that proxies to it; PFWDs find it by its session
 * id. Kept small on purpose: a general client pool in the client library
 * can take its place later. Everything here runs on the worker's thread. */
#ifndef SX_ROUTER_RELAYS_H
#define SX_ROUTER_RELAYS_H

#include "smp/address.h"
#include "smp_client/smp_client_loop.h"
#include "smp_router/server_int.h"

typedef struct sx_relay sx_relay;
typedef struct sx_relay_req sx_relay_req;

/* How a proxied command ends: rl is the relay (NULL when it could not be
 * reached), st SX_OK with reply (a forwarded command's answer, NULL for a
 * connect) or the failure. req->c is NULL when the client has gone. The
 * callee frees req. */
typedef void (*sx_relay_done_fn)(sx_relay_req *req, sx_relay *rl, sx_status st, sx_smp_client_reply *reply);

/* One proxied command waiting for a relay, owned by its handler
 * (commands_proxy.c) and listed with its client connection. */
struct sx_relay_req {
    sx_relay_req *next;          /* in the relay's list of PRXYs waiting */
    sx_relay_req *cprev, *cnext; /* in the connection's list */
    sx_conn *c;                  /* NULL once the connection closed */
    sx_relay_done_fn done;
    sx_relay *relay; /* the relay a forwarded command went to */
    bool own;        /* PRXY: the destination is one of ours (statistics) */
    uint8_t corr[SX_SMP_CORR_ID_LEN];
    size_t corr_len;
    uint8_t entity[SX_TLS_UNIQUE_MAX];
    size_t entity_len;
    uint8_t nonce[SX_SMP_CORR_ID_LEN]; /* the RFWD corrId (PROTOCOL-NOTES D34) */
};

/* The relay of the destination id (the PRXY's whole address, without a
 * password: every host in order, the port as sent, the key hash, compared as
 * the reference's proxy agent keys its clients, sx_server_address_compare),
 * connected at host:port (the host chosen from id) with identity key_hash:
 * SX_OK with *out when it is connected (a new relay takes req->own);
 * SX_E_WOULD_BLOCK when a connection is being made, and req will be told;
 * other errors of sx_smp_aclient_connect. */
SX_MUST_CHECK sx_status sx_relays_get(sx_worker *w, const sx_server_address *id, const char *host, uint16_t port,
                                      const uint8_t key_hash[SX_FINGERPRINT_LEN], sx_relay_req *req,
                                      sx_relay **out);
/* The connected relay of this worker whose session id is sid, or NULL. */
sx_relay *sx_relays_by_session(sx_worker *w, sx_slice sid);
const sx_smp_session *sx_relay_session(const sx_relay *rl);
/* Whether the relay is one of the router's own (own_server_domains, as
 * decided by the PRXY that made the connection). */
bool sx_relay_own(const sx_relay *rl);
/* Sends cmd to the relay with corrId req->nonce; req is told the answer.
 * Errors of sx_smp_aclient_send_corr (req is not told then). */
SX_MUST_CHECK sx_status sx_relay_send(sx_relay *rl, const sx_smp_cmd *cmd, sx_relay_req *req);

/* Lists req with its connection / takes it off. */
void sx_relays_req_attach(sx_conn *c, sx_relay_req *req);
void sx_relays_req_detach(sx_relay_req *req);
/* The connection closes: its waiting commands will find req->c NULL. */
void sx_relays_conn_closed(sx_conn *c);
/* sx_relays_stop is declared in server_int.h (server.c calls it). */

#endif
