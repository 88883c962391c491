/* SMP queue addresses as the agent passes them to its peers (docs/AGENT.md,
 * "Queue addresses"): the router, the sender's queue ID, the recipient's X25519 key for
 * the per-queue encryption and the queue mode, with
 *   - the text form inside connection links (SMPQueueUri),
 *       smp://<key hash>@<host>[,<host>...][:<port>]/<sender id>#/?v=<range>&dh=<key>[&q=m|c][&k=s][&srv=<hosts>]
 *     and its older spellings (the unversioned "...#<key>", a key before
 *     "/?", "/" after the sender ID, srv= for version 1);
 *   - the binary form with a version range (inside short-link data, QADD);
 *   - the binary form with one version (SMPQueueInfo: confirmations, QKEY).
 * Decoded values own their bytes (fixed-size fields, no allocation). */
#ifndef SX_AGENT_QUEUE_URI_H
#define SX_AGENT_QUEUE_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/reader.h"
#include "core/writer.h"

#define SX_AGENT_HOSTS_MAX 8  /* hosts of one router (SX_E_LIMIT beyond) */
#define SX_AGENT_HOST_MAX 255 /* a host is a shortString on the wire */
#define SX_AGENT_PORT_MAX 255
#define SX_AGENT_KEY_HASH_MAX 255
#define SX_AGENT_ENTITY_ID_MAX 255 /* queue / link IDs: shortStrings (24 bytes in practice) */
#define SX_X25519_SPKI_LEN 44      /* DER SubjectPublicKeyInfo of an X25519 key */
/* Longest text of one queue URI we write or read. */
#define SX_AGENT_QUEUE_URI_TEXT_MAX 4096

/* A router address (ProtocolServer): hosts as text, the port as text ("" for
 * the default) and the key hash bytes (may be empty only in short links). */
typedef struct sx_agent_server {
    size_t host_count;
    char host[SX_AGENT_HOSTS_MAX][SX_AGENT_HOST_MAX + 1];
    char port[SX_AGENT_PORT_MAX + 1];
    uint8_t key_hash[SX_AGENT_KEY_HASH_MAX];
    size_t key_hash_len;
} sx_agent_server;

typedef enum sx_queue_mode {
    SX_QUEUE_MODE_NONE = 0,  /* not given (old links) */
    SX_QUEUE_MODE_MESSAGING, /* 'M' / q=m: the sender secures the queue (SKEY) */
    SX_QUEUE_MODE_CONTACT,   /* 'C' / q=c: a contact address queue */
} sx_queue_mode;

/* SMPQueueAddress. */
typedef struct sx_agent_queue {
    sx_agent_server server;
    uint8_t sender_id[SX_AGENT_ENTITY_ID_MAX];
    size_t sender_id_len;
    uint8_t dh[SX_X25519_SPKI_LEN]; /* the recipient's X25519 key, DER */
    sx_queue_mode mode;
} sx_agent_queue;

/* SMPQueueUri: the SMP client version range and the address. */
typedef struct sx_agent_queue_uri {
    sx_version_range vr;
    sx_agent_queue q;
} sx_agent_queue_uri;

/* SMPQueueInfo: one agreed SMP client version and the address. */
typedef struct sx_agent_queue_info {
    uint16_t version;
    sx_agent_queue q;
} sx_agent_queue_info;

/* ---- routers ---- */

/* Binary: NonEmpty(shortString host) shortString(port) shortString(key hash). */
bool sx_agent_server_write(sx_writer *w, const sx_agent_server *s);
bool sx_agent_server_read(sx_reader *r, sx_agent_server *out);
/* "smp://<key hash b64url>@<hosts joined by ','>[:<port>]"; with
 * first_host_only, the first host alone (the legacy form). */
bool sx_agent_server_write_text(sx_writer *w, const sx_agent_server *s, bool first_host_only);
/* An smp:// address without basic auth (through sx_server_address_parse).
 * SX_E_PROTOCOL / SX_E_LIMIT. */
SX_MUST_CHECK sx_status sx_agent_server_parse(const char *text, size_t len, sx_agent_server *out);
/* Same hosts, port text and key hash. */
bool sx_agent_server_equal(const sx_agent_server *a, const sx_agent_server *b);
/* Appends a host (SX_E_LIMIT when full, SX_E_PROTOCOL for an invalid or
 * empty host or one with a NUL byte). */
SX_MUST_CHECK sx_status sx_agent_server_add_host(sx_agent_server *s, sx_slice host);
/* The reference's updateSMPServerHosts: a router with one host that is one
 * of the old preset routers gets its .onion host added. */
void sx_agent_server_add_preset_onion(sx_agent_server *s);

/* ---- queue URIs ---- */

/* Text form. The writer uses the authority with every host when vr.min >= 2,
 * else the first host and srv= for the others; k=s is written for a
 * messaging queue when vr.min < 4. SX_E_USAGE in w for a bad range. */
bool sx_agent_queue_uri_write_text(sx_writer *w, const sx_agent_queue_uri *u);
/* Parses exactly len bytes. The mode is q=m / q=c, else k=s (messaging),
 * else none; unknown parameters are ignored, the first of repeated ones
 * wins. With vr.max < 2 the old preset routers get their .onion host.
 * Errors: SX_E_PROTOCOL, SX_E_LIMIT (over SX_AGENT_QUEUE_URI_TEXT_MAX, more
 * hosts or longer fields than the struct holds). */
SX_MUST_CHECK sx_status sx_agent_queue_uri_parse(const char *text, size_t len,
                                                 sx_agent_queue_uri *out);

/* Binary: vrange server shortString(sender id) shortString(dh DER), then
 * 'M' / 'C' when vr.min >= 4 (nothing for no mode), else 'T' / 'F' when
 * vr.min >= 3 or (vr.max >= 3 and messaging), else nothing. The reader
 * takes an 'M' / 'C' / 'T' / 'F' byte when one follows ('T' messaging,
 * 'F' contact), as the reference does: a following field that starts with
 * one of those bytes is read as the mode. */
bool sx_agent_queue_uri_write(sx_writer *w, const sx_agent_queue_uri *u);
bool sx_agent_queue_uri_read(sx_reader *r, sx_agent_queue_uri *out);
/* Whole buffer; trailing bytes are SX_E_PROTOCOL. */
SX_MUST_CHECK sx_status sx_agent_queue_uri_decode(sx_slice in, sx_agent_queue_uri *out);

/* ---- queue info (one version) ---- */

/* version server sender_id dh, then 'M' / 'C' for v >= 4 (nothing for no
 * mode), 'T' for v == 3 and messaging; version 1 uses the old router
 * encoding (one host). The reader takes the mode as
 * sx_agent_queue_uri_read does, at every version. */
bool sx_agent_queue_info_write(sx_writer *w, const sx_agent_queue_info *qi);
bool sx_agent_queue_info_read(sx_reader *r, sx_agent_queue_info *out);
SX_MUST_CHECK sx_status sx_agent_queue_info_decode(sx_slice in, sx_agent_queue_info *out);

/* Both reads share the address reader: server sender_id dh mode. */
bool sx_agent_queue_read_mode(sx_reader *r, sx_queue_mode *out);

#endif
