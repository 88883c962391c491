/* Fuzz target: the text forms of the agent's full links (agent/queue_uri,
 * agent/connreq): SMP queue URIs and invitation / contact links. The first
 * byte picks the parser. Whatever parses must write back to text that
 * parses to a value that writes the same text again (the parsers are
 * lenient, the writers canonical). */
#include <stdlib.h>
#include <string.h>

#include "agent/connreq.h"

static sx_agent_queue_uri qa, qb;
static sx_agent_connreq ca, cb;

static void queue_case(const char *t, size_t n)
{
    if (sx_agent_queue_uri_parse(t, n, &qa) != SX_OK)
        return;
    uint8_t b1[2 * SX_AGENT_QUEUE_URI_TEXT_MAX], b2[2 * SX_AGENT_QUEUE_URI_TEXT_MAX];
    sx_writer w1, w2;
    sx_writer_init_fixed(&w1, b1, sizeof b1);
    if (!sx_agent_queue_uri_write_text(&w1, &qa))
        return;
    if (sx_agent_queue_uri_parse((const char *)b1, w1.len, &qb) != SX_OK)
        abort();
    sx_writer_init_fixed(&w2, b2, sizeof b2);
    if (!sx_agent_queue_uri_write_text(&w2, &qb) || w1.len != w2.len || memcmp(b1, b2, w1.len) != 0)
        abort();
}

static void connreq_case(const char *t, size_t n)
{
    if (sx_agent_connreq_parse(t, n, &ca) != SX_OK) {
        sx_agent_connreq_free(&ca);
        return;
    }
    sx_writer w1, w2;
    sx_writer_init_dynamic(&w1, 4 * SX_AGENT_LINK_TEXT_MAX);
    sx_writer_init_dynamic(&w2, 4 * SX_AGENT_LINK_TEXT_MAX);
    if (sx_agent_connreq_write_text(&w1, &ca) && w1.len <= SX_AGENT_LINK_TEXT_MAX) {
        if (sx_agent_connreq_parse((const char *)w1.buf, w1.len, &cb) != SX_OK)
            abort();
        if (!sx_agent_connreq_write_text(&w2, &cb) || w1.len != w2.len || memcmp(w1.buf, w2.buf, w1.len) != 0)
            abort();
        sx_agent_connreq_free(&cb);
    }
    sx_writer_cleanup(&w1);
    sx_writer_cleanup(&w2);
    sx_agent_connreq_free(&ca);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *t = (const char *)data + 1;
    if (data[0] == 'q')
        queue_case(t, size - 1);
    else
        connreq_case(t, size - 1);
    return 0;
}
