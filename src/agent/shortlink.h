/* Short links (docs/AGENT.md, "Short links"): the link text
 *   simplex:/<t>#[<link id>/]<link key>[?h=<hosts>&p=<port>&c=<key hash>]
 *   https://<host>/<t>#[<link id>/]<link key>[?h=<other hosts>&p=<port>&c=<key hash>]
 * (t = i invitation, the only type with a link ID; a contact, c channel,
 * g group, r relay; IDs, keys and the key hash in unpadded base64url), its
 * binary form, shortening for preset routers, and the data behind the link
 * (see shortlink_data.h). */
#ifndef SX_AGENT_SHORTLINK_H
#define SX_AGENT_SHORTLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/queue_uri.h"

#define SX_SL_KEY_MAX 64 /* link keys are 32 bytes; longer ones are refused */
#define SX_SL_TEXT_MAX 4096

typedef enum sx_sl_type {
    SX_SL_INVITATION = 'i',
    SX_SL_CONTACT = 'a',
    SX_SL_CHANNEL = 'c',
    SX_SL_GROUP = 'g',
    SX_SL_RELAY = 'r',
} sx_sl_type;

typedef struct sx_short_link {
    sx_sl_type type;
    bool web; /* https://<first host>/... rather than simplex:/... */
    /* The router; port "" and an empty key hash when the link leaves them
     * out (a preset router, sx_short_link_restore fills them in). */
    sx_agent_server server;
    uint8_t link_id[SX_AGENT_ENTITY_ID_MAX]; /* invitations only */
    size_t link_id_len;
    uint8_t key[SX_SL_KEY_MAX];
    size_t key_len;
} sx_short_link;

/* Text form as above. SX_E_USAGE in w for a bad type or no host. */
bool sx_short_link_write_text(sx_writer *w, const sx_short_link *l);
/* Parses exactly len bytes. The type letter may be upper case for contact
 * types (as the reference reads it); p= is a decimal up to 65535 kept
 * without leading zeros; without a query an https:// link names its host
 * alone. SX_E_PROTOCOL, SX_E_LIMIT. */
SX_MUST_CHECK sx_status sx_short_link_parse(const char *text, size_t len, sx_short_link *out);

/* Binary: 'I' server shortString(link id) shortString(key) or
 * 'C' ('A'|'C'|'G'|'R') server shortString(key). Read links are web links. */
bool sx_short_link_write(sx_writer *w, const sx_short_link *l);
bool sx_short_link_read(sx_reader *r, sx_short_link *out);

/* The preset router of s: the first in presets with the same first host. */
const sx_agent_server *sx_short_link_find_preset(const sx_agent_server *s, const sx_agent_server *presets,
                                                 size_t n);
/* Whether s is that preset router: all its hosts among the preset's, the
 * same port (or none in the preset and 443 / 5223 in s), the same key hash. */
bool sx_short_link_is_preset(const sx_agent_server *s, const sx_agent_server *presets, size_t n);
/* shortenShortLink: a link to a preset router keeps only its first host. */
void sx_short_link_shorten(sx_short_link *l, const sx_agent_server *presets, size_t n);
/* restoreShortLink: a link with only a host (no port, no key hash) gets the
 * preset router with that first host, if there is one. */
void sx_short_link_restore(sx_short_link *l, const sx_agent_server *presets, size_t n);

#endif
