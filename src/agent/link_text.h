/* Text pieces shared by the agent's link formats (connection links, queue
 * URIs, short links): the query strings the reference builds and reads with
 * the http-types library, version ranges as text, and base64url fields.
 *
 * Query strings as the reference reads them: an optional leading '?', then
 * pairs separated by '&' or ';'; each pair is split at its first '='; keys
 * and values are percent-decoded with '+' read as a space, and a '%' not
 * followed by two hex digits is kept as it is. The first pair with a name
 * wins; unknown names are ignored. Written: "k=v" pairs joined by '&', with
 * every byte other than A-Z a-z 0-9 - _ . ~ written as %XX (upper-case
 * hex). */
#ifndef SX_AGENT_LINK_TEXT_H
#define SX_AGENT_LINK_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base64.h"
#include "core/reader.h"
#include "core/writer.h"

/* Most pairs one query string may have (SX_E_LIMIT beyond). */
#define SX_QUERY_PARAMS_MAX 32

typedef struct sx_query {
    size_t count;
    sx_slice key[SX_QUERY_PARAMS_MAX];   /* as written (still escaped) */
    sx_slice value[SX_QUERY_PARAMS_MAX]; /* as written; empty when there is no '=' */
} sx_query;

/* Splits text into pairs; slices point into text. SX_E_LIMIT for more than
 * SX_QUERY_PARAMS_MAX pairs. */
SX_MUST_CHECK sx_status sx_query_parse(sx_slice text, sx_query *q);

/* The percent-decoded value of the first pair whose decoded key is name,
 * into buf (cap bytes; decoding never grows the text); *value points into
 * buf. false when there is no such pair; *st (may be NULL) is SX_E_LIMIT
 * when the value did not fit buf, else SX_OK. */
bool sx_query_get(const sx_query *q, const char *name, uint8_t *buf, size_t cap, sx_slice *value,
                  sx_status *st);

/* Percent-decoding: sx_url_decode (core/bytes.h). */
/* Writes s escaped as described above. */
bool sx_write_url_escaped(sx_writer *w, sx_slice s);

/* A version range as text: "<min>" when min == max, else "<min>-<max>". */
bool sx_write_vrange_text(sx_writer *w, sx_version_range vr);
/* Exactly the whole of s: decimals of at most 65535 (the reference's parser
 * would wrap larger numbers), min <= max. */
bool sx_vrange_from_text(sx_slice s, sx_version_range *out);

/* in as base64 of variant v (no NUL written). */
bool sx_write_b64(sx_writer *w, sx_slice in, sx_b64_variant v);
/* Reads a base64url field the way the reference's parser takes one: one or
 * more characters of A-Z a-z 0-9 - _, then any '=' padding. *text is the
 * field as written. */
bool sx_read_b64url_text(sx_reader *r, sx_slice *text);
/* Decodes the whole of text as base64url (padding optional) into out (cap
 * bytes). SX_E_PROTOCOL for bad text, SX_E_LIMIT for too long. */
SX_MUST_CHECK sx_status sx_b64url_decode_slice(sx_slice text, uint8_t *out, size_t cap,
                                               size_t *out_len);

#endif
