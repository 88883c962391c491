/* Field encodings shared by SMP commands and router messages (PROTOCOL-NOTES
 * A.1, A16, A21, A22, A28, D2): public keys checked strictly but kept as
 * views, counted lists kept as views with indexed access, transport hosts,
 * server addresses, basic auth and short-link data. Nothing here allocates;
 * every decoded slice points into the reader's buffer. */
#ifndef SX_SMP_ENCODING_H
#define SX_SMP_ENCODING_H

#include "core/reader.h"
#include "core/writer.h"
#include "crypto/keys.h"

/* A public key field: shortString(SubjectPublicKeyInfo DER). */
typedef struct sx_smp_pubkey {
    sx_slice der; /* the DER without its length byte */
    sx_key_alg alg;
} sx_smp_pubkey;

/* Reads a key field whose algorithm must be in `allowed` (SX_KEY_BIT /
 * SX_KEY_*_ALGS); any other DER fails r with SX_E_PROTOCOL. */
bool sx_smp_read_pubkey(sx_reader *r, unsigned allowed, sx_smp_pubkey *out);
/* Writes the field after the same check (the writer fails with SX_E_USAGE
 * for a key outside `allowed` or malformed DER). */
bool sx_smp_write_pubkey(sx_writer *w, unsigned allowed, const sx_smp_pubkey *k);
/* The DER of k's public half into buf, and a view of it in *out. */
SX_MUST_CHECK sx_status sx_smp_pubkey_of(const sx_key *k, uint8_t buf[SX_KEY_SPKI_MAX],
                                         sx_smp_pubkey *out);

/* A NonEmpty list (PROTOCOL-NOTES A11: count byte 1..255, then the items back
 * to back), kept as a view. To encode one, write the items with a writer (for
 * example sx_smp_write_pubkey per key) and set count and items. */
typedef struct sx_smp_list {
    size_t count;
    sx_slice items; /* encoded items, without the count byte */
} sx_smp_list;

typedef enum sx_smp_item {
    SX_SMP_ITEM_AUTH_KEY = 1, /* key field, Ed25519 / Ed448 / X25519 (RKEY) */
    SX_SMP_ITEM_HOST,         /* shortString of a transport host text (PROTOCOL-NOTES A21, A28) */
    SX_SMP_ITEM_LARGE,        /* Large(bytes), e.g. a certificate (PROTOCOL-NOTES A20) */
} sx_smp_item;

/* Reads count (1..max) and the items, each checked as `kind`; fails r with
 * SX_E_PROTOCOL for 0, more than max, or a bad item. */
bool sx_smp_read_list(sx_reader *r, sx_smp_item kind, size_t max, sx_smp_list *out);
/* Writes count || items after checking that items holds exactly count
 * well-formed items of `kind` (SX_E_USAGE in w otherwise). */
bool sx_smp_write_list(sx_writer *w, sx_smp_item kind, const sx_smp_list *l);
/* Item i (0-based) of a checked list: the payload bytes (for hosts and
 * Large items) or the key DER (auth keys). SX_E_USAGE if i >= count,
 * SX_E_PROTOCOL if the list is malformed. */
SX_MUST_CHECK sx_status sx_smp_list_get(const sx_smp_list *l, sx_smp_item kind, size_t i,
                                        sx_slice *out);
SX_MUST_CHECK sx_status sx_smp_list_key(const sx_smp_list *l, size_t i, sx_smp_pubkey *out);

/* PROTOCOL-NOTES A28: the host grammar of the reference (IPv4, IPv6 bare or in
 * brackets, .onion names of lower-case letters and digits, other domain names
 * without `:#,;/` or whitespace that do not end in ".onion"). */
bool sx_smp_host_valid(sx_slice text);

/* The kinds of PROTOCOL-NOTES A28 hosts, in the reference's constructor order
 * (which orders servers). */
typedef enum sx_smp_host_kind {
    SX_SMP_HOST_IPV4 = 1,
    SX_SMP_HOST_IPV6,
    SX_SMP_HOST_ONION,
    SX_SMP_HOST_DOMAIN,
} sx_smp_host_kind;

/* The host at the start of text, as the reference's parser takes it: the
 * first of IPv4, IPv6, onion, domain that matches a prefix decides. Returns
 * the length of that prefix and sets *kind (0 if no alternative matches;
 * *kind then 0). sx_smp_host_valid(t) is: a match of all of t. */
size_t sx_smp_host_match(sx_slice text, sx_smp_host_kind *kind);

/* PROTOCOL-NOTES A22: a BasicAuth value has only printable, non-space ASCII
 * other than '@', ':' and '/'. */
bool sx_smp_basic_auth_valid(sx_slice s);
/* shortString(basic auth) with the PROTOCOL-NOTES A22 check (SX_E_PROTOCOL /
 * SX_E_USAGE). */
bool sx_smp_read_basic_auth(sx_reader *r, sx_slice *out);
bool sx_smp_write_basic_auth(sx_writer *w, sx_slice auth);

/* PROTOCOL-NOTES A21 ProtocolServer:
 * NonEmpty(host) || shortString(port) || shortString(key hash). The port is the
 * text of a number or empty for the default; the key hash is the identity
 * fingerprint (32 bytes in practice; not checked here, as in the reference). */
typedef struct sx_smp_server {
    sx_smp_list hosts; /* SX_SMP_ITEM_HOST items */
    sx_slice port;
    sx_slice key_hash;
} sx_smp_server;

bool sx_smp_read_server(sx_reader *r, sx_smp_server *out);
bool sx_smp_write_server(sx_writer *w, const sx_smp_server *s);

/* PROTOCOL-NOTES D2 QueueLinkData: Large(encrypted fixed
 * data) || Large(encrypted user data), both opaque to the router. */
typedef struct sx_smp_link_data {
    sx_slice fixed;
    sx_slice user;
} sx_smp_link_data;

bool sx_smp_read_link_data(sx_reader *r, sx_smp_link_data *out);
bool sx_smp_write_link_data(sx_writer *w, const sx_smp_link_data *d);

/* PROTOCOL-NOTES A7 Maybe(shortString). */
bool sx_smp_read_maybe_short(sx_reader *r, bool *present, sx_slice *out);
bool sx_smp_write_maybe_short(sx_writer *w, bool present, sx_slice s);

#endif
