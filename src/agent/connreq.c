/* Full connection links: text and binary (docs/AGENT.md, "Full links"). */
#include "agent/connreq.h"

#include <stdlib.h>
#include <string.h>

#include "agent/link_text.h"

void sx_agent_connreq_free(sx_agent_connreq *c)
{
    if (c == NULL)
        return;
    free(c->data);
    memset(c, 0, sizeof *c);
}

sx_status sx_agent_connreq_set_data(sx_agent_connreq *c, sx_slice data)
{
    if (data.len > SX_AGENT_CLIENT_DATA_MAX)
        return SX_E_LIMIT;
    uint8_t *p = malloc(data.len ? data.len : 1);
    if (p == NULL)
        return SX_E_NOMEM;
    sx_reader r;
    sx_reader_init_slice(&r, data);
    if (!sx_read_copy(&r, p, data.len)) {
        free(p);
        return SX_E_INTERNAL;
    }
    free(c->data);
    c->data = p;
    c->data_len = data.len;
    c->has_data = true;
    return SX_OK;
}

static bool check_value(sx_writer *w, const sx_agent_connreq *c)
{
    if (c->queue_count == 0 || c->queue_count > SX_AGENT_CONNREQ_QUEUES_MAX || c->agent_vr.min > c->agent_vr.max ||
        (c->mode != SX_CONN_INVITATION && c->mode != SX_CONN_CONTACT) ||
        (c->mode == SX_CONN_INVITATION && c->e2e.kem.state == SX_KEM_ACCEPTED))
        return sx_writer_fail(w, SX_E_USAGE);
    return true;
}

/* ---- text ---- */

bool sx_agent_connreq_write_text(sx_writer *w, const sx_agent_connreq *c)
{
    if (!check_value(w, c))
        return false;
    bool inv = c->mode == SX_CONN_INVITATION;
    if (!sx_write_str(w, inv ? "simplex:/invitation#/?v=" : "simplex:/contact#/?v=") ||
        !sx_write_vrange_text(w, c->agent_vr) || !sx_write_str(w, "&smp="))
        return false;
    for (size_t i = 0; i < c->queue_count; i++) {
        sx_writer qw;
        uint8_t buf[SX_AGENT_QUEUE_URI_TEXT_MAX];
        sx_writer_init_fixed(&qw, buf, sizeof buf);
        if (!sx_agent_queue_uri_write_text(&qw, &c->queues[i]))
            return sx_writer_fail(w, sx_writer_status(&qw));
        if ((i > 0 && !sx_write_str(w, "%3B")) || !sx_write_url_escaped(w, sx_writer_slice(&qw)))
            return false;
    }
    if (inv) {
        sx_writer ew;
        sx_writer_init_dynamic(&ew, SX_E2E_PARAMS_TEXT_MAX);
        bool ok = sx_e2e_params_write_text(&ew, &c->e2e);
        if (!ok) {
            sx_status st = sx_writer_status(&ew);
            sx_writer_cleanup(&ew);
            return sx_writer_fail(w, st);
        }
        ok = sx_write_str(w, "&e2e=") && sx_write_url_escaped(w, sx_writer_slice(&ew));
        sx_writer_cleanup(&ew);
        if (!ok)
            return false;
    }
    if (c->has_data &&
        (!sx_write_str(w, "&data=") || !sx_write_url_escaped(w, sx_slice_of(c->data, c->data_len))))
        return false;
    return true;
}

/* scheme: "simplex:" or "https://" host [":" digits] (the reference's
 * SrvLoc; the location itself is not kept). */
static bool read_scheme(sx_reader *r)
{
    if (sx_read_accept(r, "simplex:"))
        return true;
    if (!sx_read_accept(r, "https://"))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_slice host;
    if (!sx_read_until(r, ":#,;/ ", &host) || host.len == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    uint32_t port;
    if (sx_read_accept(r, ":") && !sx_read_decimal(r, UINT32_MAX, &port))
        return false;
    return true;
}

static sx_status parse_queues(sx_slice v, sx_agent_connreq *out)
{
    sx_reader r;
    sx_reader_init_slice(&r, v);
    for (;;) {
        sx_slice q;
        if (!sx_read_until(&r, ";", &q))
            return SX_E_PROTOCOL;
        if (out->queue_count == SX_AGENT_CONNREQ_QUEUES_MAX)
            return SX_E_LIMIT;
        sx_status st = sx_agent_queue_uri_parse((const char *)q.ptr, q.len, &out->queues[out->queue_count]);
        if (st != SX_OK)
            return st;
        out->queue_count++;
        if (!sx_read_accept(&r, ";"))
            return SX_OK;
    }
}

static sx_status parse_text(const char *text, size_t len, sx_agent_connreq *out, uint8_t *buf, size_t cap)
{
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)text, len);
    if (!read_scheme(&r) || !sx_read_accept(&r, "/"))
        return SX_E_PROTOCOL;
    if (sx_read_accept(&r, "invitation"))
        out->mode = SX_CONN_INVITATION;
    else if (sx_read_accept(&r, "contact"))
        out->mode = SX_CONN_CONTACT;
    else
        return SX_E_PROTOCOL;
    (void)sx_read_accept(&r, "/");
    if (!sx_read_accept(&r, "#/?"))
        return SX_E_PROTOCOL;
    sx_slice qtext = sx_reader_rest(&r);
    if (memchr(qtext.ptr, ' ', qtext.len) != NULL || memchr(qtext.ptr, '\n', qtext.len) != NULL)
        return SX_E_PROTOCOL;
    sx_query qs;
    sx_status st = sx_query_parse(qtext, &qs);
    if (st != SX_OK)
        return st;
    sx_slice v;
    if (!sx_query_get(&qs, "v", buf, cap, &v, NULL) || !sx_vrange_from_text(v, &out->agent_vr))
        return SX_E_PROTOCOL;
    if (!sx_query_get(&qs, "smp", buf, cap, &v, NULL))
        return SX_E_PROTOCOL;
    st = parse_queues(v, out);
    if (st != SX_OK)
        return st;
    if (sx_query_get(&qs, "data", buf, cap, &v, NULL)) {
        st = sx_agent_connreq_set_data(out, v);
        if (st != SX_OK)
            return st;
    }
    if (out->mode == SX_CONN_INVITATION) {
        if (!sx_query_get(&qs, "e2e", buf, cap, &v, NULL))
            return SX_E_PROTOCOL;
        st = sx_e2e_params_decode_text((const char *)v.ptr, v.len, &out->e2e);
        if (st != SX_OK)
            return st;
        if (out->e2e.kem.state == SX_KEM_ACCEPTED)
            return SX_E_PROTOCOL;
    } else {
        /* contact links: the range raised to start at the lowest agent
         * version there is (2), as old published addresses say v=1 */
        uint16_t lo = out->agent_vr.min < 2 ? 2 : out->agent_vr.min;
        uint16_t hi = out->agent_vr.max < lo ? lo : out->agent_vr.max;
        out->agent_vr = (sx_version_range){lo, hi};
    }
    return SX_OK;
}

sx_status sx_agent_connreq_parse(const char *text, size_t len, sx_agent_connreq *out)
{
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return SX_E_USAGE;
    if (len > SX_AGENT_LINK_TEXT_MAX)
        return SX_E_LIMIT;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return SX_E_NOMEM;
    sx_status st = parse_text(text, len, out, buf, len);
    free(buf);
    if (st != SX_OK)
        sx_agent_connreq_free(out);
    return st;
}

/* ---- binary ---- */

bool sx_agent_connreq_write(sx_writer *w, const sx_agent_connreq *c)
{
    if (!check_value(w, c))
        return false;
    bool inv = c->mode == SX_CONN_INVITATION;
    if (!sx_write_u8(w, inv ? 'I' : 'C') || !sx_write_version_range(w, c->agent_vr) ||
        !sx_write_nonempty_count(w, c->queue_count))
        return false;
    for (size_t i = 0; i < c->queue_count; i++)
        if (!sx_agent_queue_uri_write(w, &c->queues[i]))
            return false;
    if (!sx_write_maybe(w, c->has_data) ||
        (c->has_data && !sx_write_large(w, sx_slice_of(c->data, c->data_len))))
        return false;
    return !inv || sx_e2e_params_write_uri(w, &c->e2e);
}

bool sx_agent_connreq_read(sx_reader *r, sx_agent_connreq *out)
{
    memset(out, 0, sizeof *out);
    char m;
    uint8_t n;
    if (!sx_read_char(r, &m))
        return false;
    if (m == 'I')
        out->mode = SX_CONN_INVITATION;
    else if (m == 'C')
        out->mode = SX_CONN_CONTACT;
    else
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (!sx_read_version_range(r, &out->agent_vr) || !sx_read_nonempty_count(r, &n))
        return false;
    if (n > SX_AGENT_CONNREQ_QUEUES_MAX)
        return sx_reader_fail(r, SX_E_LIMIT);
    for (size_t i = 0; i < n; i++) {
        if (!sx_agent_queue_uri_read(r, &out->queues[i]))
            return false;
        if (out->queues[i].q.mode == SX_QUEUE_MODE_NONE)
            out->queues[i].q.mode = SX_QUEUE_MODE_CONTACT;
    }
    out->queue_count = n;
    bool present;
    if (!sx_read_maybe(r, &present))
        return false;
    if (present) {
        sx_slice d;
        if (!sx_read_large(r, &d))
            return false;
        sx_status st = sx_agent_connreq_set_data(out, d);
        if (st != SX_OK)
            return sx_reader_fail(r, st);
    }
    if (out->mode == SX_CONN_INVITATION) {
        if (!sx_e2e_params_read_uri(r, &out->e2e))
            return false;
        if (out->e2e.kem.state == SX_KEM_ACCEPTED)
            return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return true;
}

sx_status sx_agent_connreq_decode(sx_slice in, sx_agent_connreq *out)
{
    sx_reader r;
    sx_reader_init_slice(&r, in);
    (void)sx_agent_connreq_read(&r, out);
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK)
        sx_agent_connreq_free(out);
    return st;
}
