/* Full connection links of the agent (docs/AGENT.md,
 * "Full links"): the one-time
 * invitation and the contact address, in text
 *   simplex:/invitation#/?v=<agent range>&smp=<queue URIs, ';'-joined, escaped>
 *       &e2e=<ratchet params, escaped>[&data=<escaped>]
 *   simplex:/contact#/?v=<agent range>&smp=<...>[&data=<...>]
 * (https://<host>[:port]/... is read as well and written as simplex:/), and
 * in binary, the form short-link data carries:
 *   'I' agentVRange NonEmpty(queue URI) Maybe(Large data) e2eParamsUri
 *   'C' agentVRange NonEmpty(queue URI) Maybe(Large data)
 * The E2E ratchet parameters are crypto/x3dh's sx_e2e_params (link form). */
#ifndef SX_AGENT_CONNREQ_H
#define SX_AGENT_CONNREQ_H

#include "agent/queue_uri.h"
#include "crypto/x3dh.h"

#define SX_AGENT_CONNREQ_QUEUES_MAX 8  /* queues in one link (SX_E_LIMIT beyond) */
#define SX_AGENT_LINK_TEXT_MAX 65536   /* longest link text read */
#define SX_AGENT_CLIENT_DATA_MAX 65535 /* a Large on the wire */

typedef enum sx_conn_mode {
    SX_CONN_INVITATION = 1,
    SX_CONN_CONTACT = 2,
} sx_conn_mode;

typedef struct sx_agent_connreq {
    sx_conn_mode mode;
    sx_version_range agent_vr;
    size_t queue_count;
    sx_agent_queue_uri queues[SX_AGENT_CONNREQ_QUEUES_MAX];
    /* The application's data (UTF-8 text in the reference), heap, owned;
     * NULL with has_data false when absent. */
    bool has_data;
    uint8_t *data;
    size_t data_len;
    /* Invitations only: the initiator's ratchet parameters (range set; the
     * KEM may be NONE or PROPOSED, never ACCEPTED). */
    sx_e2e_params e2e;
} sx_agent_connreq;

/* Releases data and zeroes the struct; accepts a zeroed struct. */
void sx_agent_connreq_free(sx_agent_connreq *c);
/* Sets (copies) the application data; SX_E_NOMEM / SX_E_LIMIT. */
SX_MUST_CHECK sx_status sx_agent_connreq_set_data(sx_agent_connreq *c, sx_slice data);

/* Text form as above, always with the simplex:/ scheme. SX_E_USAGE in w for
 * no queues, bad ranges or an ACCEPTED KEM. */
bool sx_agent_connreq_write_text(sx_writer *w, const sx_agent_connreq *c);
/* Parses exactly len bytes into a fresh *out (free it with
 * sx_agent_connreq_free, also after an error). Contact links have their
 * agent range raised to start at 2 at least. Parameters as the reference
 * reads them (first wins, unknown ignored); the e2e value is read by
 * sx_e2e_params_decode_text, which takes only the canonical text the
 * reference writes. Errors: SX_E_PROTOCOL, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_agent_connreq_parse(const char *text, size_t len, sx_agent_connreq *out);

/* Binary form. The reader gives every queue without a mode the contact
 * mode, as the reference does; *out must be freed as above. */
bool sx_agent_connreq_write(sx_writer *w, const sx_agent_connreq *c);
bool sx_agent_connreq_read(sx_reader *r, sx_agent_connreq *out);
/* Whole buffer; trailing bytes are SX_E_PROTOCOL. */
SX_MUST_CHECK sx_status sx_agent_connreq_decode(sx_slice in, sx_agent_connreq *out);

#endif
