/* Router kit: a router's listening sockets and worker threads
 * (docs/THREADS.md). N workers each run an event loop on a thread of their
 * own; worker 0's loop also watches the listening sockets, accepts, and
 * hands each new socket to the next worker in turn by posting to its loop.
 * There the router adopts it: from then on the socket, its TLS and its
 * protocol belong to the router's code on that one thread. The kit counts
 * sockets accepted and closed per port (the control port's `sockets`), and
 * owns the start and stop sequences, so every router starts and stops its
 * threads the same way. */
#ifndef SX_KIT_WORKERS_H
#define SX_KIT_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "simplex/status.h"
#include "transport/tls.h"

#define SX_KIT_MAX_PORTS 8
/* Sockets of one address that have not finished their handshake, at most
 * (the default of sx_kit_workers_opts.max_pending_per_addr). */
#define SX_KIT_DEFAULT_MAX_PENDING 64
/* How long the listeners are not watched after accept failed for want of
 * descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
#define SX_KIT_ACCEPT_PAUSE_MS 200

typedef struct sx_kit_workers sx_kit_workers;

/* Where an adopted socket came from. The router keeps its copy with the
 * connection and calls sx_kit_workers_handshake_done on it once the
 * connection's handshake (TLS and the protocol's) is done, and again when
 * the connection closes (a no-op after the first): until then it counts
 * among its address's unfinished handshakes. */
typedef struct sx_kit_peer {
    uint8_t addr[16]; /* IPv6, or IPv4 in its IPv4-mapped form */
    bool pending;     /* counted among its address's unfinished handshakes */
} sx_kit_peer;

typedef struct sx_kit_workers_opts {
    unsigned n_workers; /* 0: one per online core */
    unsigned tick_ms;   /* each worker's periodic tick; 0: none */
    const char *host;   /* numeric listening address; NULL: "0.0.0.0" */
    const uint16_t *ports;
    size_t n_ports; /* 1..SX_KIT_MAX_PORTS; a port 0 is an ephemeral one */
    int backlog;    /* 0: 1024 */
    /* A socket from an address with this many unfinished handshakes is
     * closed at accept (0: SX_KIT_DEFAULT_MAX_PENDING). Loopback addresses
     * are not limited unless limit_loopback: a proxy on the same host (a
     * Tor onion service) brings every client from there. */
    unsigned max_pending_per_addr;
    bool limit_loopback;
    /* On worker `worker`'s thread: a new socket (non-blocking, TCP_NODELAY)
     * that came in on ports[port_index] from *peer (see sx_kit_peer: the
     * callee copies it). The callee owns fd, and reports its close with
     * sx_kit_workers_socket_closed. Not called once stopping. */
    void (*adopt)(void *arg, unsigned worker, int fd, unsigned port_index, const sx_kit_peer *peer);
    /* On each worker's thread, every tick_ms. */
    void (*tick)(void *arg, unsigned worker);
    /* On each worker's thread: before its loop runs, and after it stopped
     * (close what is left). Both optional. */
    void (*thread_start)(void *arg, unsigned worker);
    void (*thread_end)(void *arg, unsigned worker);
    void *arg;
} sx_kit_workers_opts;

/* Creates the loops and binds the ports; no thread runs yet, so the router
 * can finish its own per-worker state. SX_E_USAGE, SX_E_NOMEM, SX_E_IO (a
 * port cannot be bound). */
SX_MUST_CHECK sx_status sx_kit_workers_new(const sx_kit_workers_opts *o, sx_kit_workers **out);
/* Starts the threads; when one cannot start, those started are stopped
 * again and SX_E_INTERNAL is returned (the set can then only be freed). */
SX_MUST_CHECK sx_status sx_kit_workers_start(sx_kit_workers *ws);

unsigned sx_kit_workers_count(const sx_kit_workers *ws);
sx_loop *sx_kit_workers_loop(const sx_kit_workers *ws, unsigned worker);
size_t sx_kit_workers_n_ports(const sx_kit_workers *ws);
/* The port actually bound for ports[i] (0 past the end). */
uint16_t sx_kit_workers_port(const sx_kit_workers *ws, size_t i);
/* Set from sx_kit_workers_stop on; any thread. */
bool sx_kit_workers_stopping(const sx_kit_workers *ws);

/* Sockets of ports[i] accepted and reported closed so far (any thread). */
uint64_t sx_kit_workers_accepted(const sx_kit_workers *ws, size_t i);
uint64_t sx_kit_workers_closed(const sx_kit_workers *ws, size_t i);
/* An adopted socket of ports[port_index] was closed (any thread). */
void sx_kit_workers_socket_closed(sx_kit_workers *ws, unsigned port_index);

/* The handshake of the connection from *peer is done, or the connection
 * closed before: it no longer counts against its address (any thread; a
 * no-op when peer->pending is already false). */
void sx_kit_workers_handshake_done(sx_kit_workers *ws, sx_kit_peer *peer);
/* The stop signals (SIGINT, SIGTERM) blocked in the calling thread, before
 * the router's threads exist so that they inherit the mask and only
 * sx_kit_wait_stop_signal sees them. */
void sx_kit_block_stop_signals(void);
/* Waits for a stop signal, says which at NOTE level ("Received SIGINT,
 * stopping the server...") and returns it. */
int sx_kit_wait_stop_signal(void);
/* A socket handed to adopt that the router cannot take (no memory): closed,
 * and counted as closed and as a finished handshake of its address. */
void sx_kit_workers_refuse(sx_kit_workers *ws, int fd, unsigned port_index, const sx_kit_peer *peer);
/* Sockets closed at accept because their address had too many unfinished
 * handshakes, and the times accept failed and the listeners paused (any
 * thread). */
uint64_t sx_kit_workers_refused(const sx_kit_workers *ws);
uint64_t sx_kit_workers_accept_pauses(const sx_kit_workers *ws);

/* Raises the soft limit of open files to the hard one, so that idle
 * connections do not run a router out of descriptors under a low default
 * (1024 on many systems). *before and *after get the soft limit (either
 * may be NULL); SX_E_IO when it cannot be read or raised. */
SX_MUST_CHECK sx_status sx_kit_raise_nofile(uint64_t *before, uint64_t *after);

/* Stops: sets stopping, stops every loop and joins its thread (each runs
 * thread_end), runs twice every task posted to the stopped loops (a socket
 * handed over meanwhile is closed, not adopted; other tasks drop what they
 * hold), and closes the listening sockets. The loops stay until
 * sx_kit_workers_free, so late posts still land somewhere. */
void sx_kit_workers_stop(sx_kit_workers *ws);
/* Frees the loops (running what was posted to them) and ws. NULL ok. */
void sx_kit_workers_free(sx_kit_workers *ws);

/* One step of a server-side TLS handshake on a worker: SX_OK when done,
 * SX_E_WOULD_BLOCK to wait for the socket (sx_tls_conn_want says which
 * way), or the failure, printed as "TLS error: ..." when log_errors.
 * *tls starts NULL: the TLS object (some 45 KB with OpenSSL's buffers) is
 * made only once the client's first record, its hello, is whole in the
 * socket's receive queue, so a socket that sends nothing, or dribbles its
 * hello, holds none. Until then the socket's receive low-water mark is the
 * length of that record, so that it is not reported readable before (a
 * level-triggered loop would spin on a partial record), and
 * sx_tls_conn_want(NULL) is SX_TLS_WANT_NONE: watch for reading. */
SX_MUST_CHECK sx_status sx_kit_tls_step(sx_tls_ctx *ctx, int fd, sx_tls_conn **tls, bool log_errors);

/* Why a connection ends after a failed TLS read, write or handshake step
 * st, in the words of the routers' log lines: "peer closed", "socket
 * error" or "TLS error". */
const char *sx_kit_io_why(sx_status st);

#endif
