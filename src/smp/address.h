/* Server addresses in text form (PROTOCOL-NOTES A28, A29):
 *
 *   <scheme>://<base64url key hash>[:<basic auth>]@<host>[,<host>...][:<port>]
 *
 * with scheme smp, xftp or ntf. One parser for every place an address is
 * read (SMP client and queue files, XFTP descriptions and CLI servers); it
 * runs over the bounds-checked reader and keeps the text as written, so the
 * parsed address can be printed back byte for byte.
 *
 * Hosts (PROTOCOL-NOTES A28) are matched by sx_smp_host_match: IPv4 dotted
 * decimal, IPv6 bare or in [brackets], `*.onion`, otherwise a domain name.
 * The port is 1..65535 (default SMP 5223, XFTP 443, NTF 443); an smp://
 * address may carry the port list a router prints ("host:5223,443"), of
 * which the first port is used. */
#ifndef SX_SMP_ADDRESS_H
#define SX_SMP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smp/encoding.h"
#include "simplex/status.h"

#define SX_SERVER_ADDRESS_MAX 1024 /* longest address text, without its NUL */
#define SX_SERVER_HOSTS_MAX 8
#define SX_SERVER_KEY_HASH_MAX 255 /* a shortString on the wire (PROTOCOL-NOTES A19, A21) */
#define SX_SERVER_AUTH_MAX 255     /* BasicAuth is a shortString (PROTOCOL-NOTES A22) */

#define SX_SERVER_PORT_SMP 5223
#define SX_SERVER_PORT_XFTP 443
#define SX_SERVER_PORT_NTF 443

typedef enum sx_server_scheme {
    SX_SERVER_SMP = 1,
    SX_SERVER_XFTP,
    SX_SERVER_NTF,
} sx_server_scheme;

/* A parsed address. All offsets index text, so the struct can be copied
 * by value. Host kinds are sx_smp_host_kind values (SX_SMP_HOST_IPV4 <
 * IPV6 < ONION < DOMAIN, the reference's constructor order). */
typedef struct sx_server_address {
    sx_server_scheme scheme;
    char text[SX_SERVER_ADDRESS_MAX + 1]; /* as written, NUL-terminated */
    size_t text_len;
    /* Key hash: decoded bytes (1..255: the reference does not fix the
     * length; an SMP client needs 32) and where its text is. */
    uint8_t key_hash[SX_SERVER_KEY_HASH_MAX];
    size_t key_hash_len;
    size_t key_hash_off, key_hash_text_len;
    /* Basic auth (1..255 bytes, PROTOCOL-NOTES A22 characters), if any. */
    bool has_auth;
    size_t auth_off, auth_len;
    /* Hosts (1..SX_SERVER_HOSTS_MAX) as written; host_addr holds the
     * numeric address of IPv4 (first 4 bytes) and IPv6 hosts, zeros for
     * the others; it orders IP hosts as the reference does. */
    size_t host_count;
    uint8_t host_kind[SX_SERVER_HOSTS_MAX];
    size_t host_off[SX_SERVER_HOSTS_MAX], host_len[SX_SERVER_HOSTS_MAX];
    uint8_t host_addr[SX_SERVER_HOSTS_MAX][16];
    /* The port to connect to (the scheme's default when none is written),
     * and the port text as written (port_len 0: none; for smp:// it may be a
     * list "5223,443", whose first entry is `port`). */
    uint16_t port;
    size_t port_off, port_len;
} sx_server_address;

/* Parses exactly len bytes of text (no NUL needed; a NUL byte inside is
 * refused). On error *out is zeroed. Errors: SX_E_USAGE (NULL text or out),
 * SX_E_LIMIT (longer than SX_SERVER_ADDRESS_MAX, more than
 * SX_SERVER_HOSTS_MAX hosts, a key hash over 255 bytes), SX_E_PROTOCOL
 * (anything malformed: unknown scheme, bad base64, bad basic auth characters,
 * empty or invalid host, a port of 0, over 65535 or not decimal, a port list
 * outside smp://, trailing bytes). Basic auth is accepted for every scheme;
 * callers that must not see one (XFTP descriptions) check has_auth. */
SX_MUST_CHECK sx_status sx_server_address_parse(const char *text, size_t len,
                                                sx_server_address *out);

/* Host i as a NUL-terminated string to connect to (an IPv6 host without its
 * brackets). SX_E_USAGE if i >= host_count, SX_E_LIMIT if cap is too small. */
SX_MUST_CHECK sx_status sx_server_address_host(const sx_server_address *a, size_t i, char *out,
                                               size_t cap);

/* The basic auth as a NUL-terminated string ("" when there is none).
 * SX_E_LIMIT if cap is too small. */
SX_MUST_CHECK sx_status sx_server_address_auth(const sx_server_address *a, char *out, size_t cap);

/* Writes the address as written into out (cap bytes, NUL-terminated), with
 * its basic auth or without it (the public form). *out_len (may be NULL) gets
 * the length without the NUL. SX_E_LIMIT if cap is too small. */
SX_MUST_CHECK sx_status sx_server_address_format(const sx_server_address *a, bool with_auth,
                                                 char *out, size_t cap, size_t *out_len);

/* The reference's derived order of servers: hosts element by element (kind,
 * then the numeric address of IP hosts or the bytes of the others), then the
 * host count, then the port text, then the key hash bytes; the scheme last.
 * The basic auth is not compared. Returns <0, 0 or >0. */
int sx_server_address_compare(const sx_server_address *a, const sx_server_address *b);

/* Whether host i of a and host j of b are the same host as the reference's
 * TransportHost equality has it: the same kind, and the same numeric address
 * (IPv4, IPv6 however written) or the same bytes (onion, domain). False for
 * an index out of range. */
bool sx_server_address_host_eq(const sx_server_address *a, size_t i, const sx_server_address *b, size_t j);
/* Whether a and b have a host in common (any of either's hosts). */
bool sx_server_address_share_host(const sx_server_address *a, const sx_server_address *b);

/* The smp:// address of a server as it travels in a command (PRXY, SNEW:
 * hosts, port text, key hash), through sx_server_address_parse: every host
 * in order and the port as sent. Errors: SX_E_PROTOCOL (no host, an empty
 * or over-long key hash, a host or port the parser refuses), SX_E_LIMIT
 * (over SX_SERVER_ADDRESS_MAX bytes or SX_SERVER_HOSTS_MAX hosts). */
SX_MUST_CHECK sx_status sx_server_address_from_wire(const sx_smp_server *srv, sx_server_address *out);

#endif
