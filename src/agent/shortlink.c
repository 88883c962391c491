/* Short link text and binary forms, preset routers (docs/AGENT.md, "Short
 * links"). */
#include "agent/shortlink.h"

#include <string.h>

#include "agent/link_text.h"
#include "smp/encoding.h"

static bool type_valid(sx_sl_type t)
{
    return t == SX_SL_INVITATION || t == SX_SL_CONTACT || t == SX_SL_CHANNEL || t == SX_SL_GROUP || t == SX_SL_RELAY;
}

/* ---- text ---- */

bool sx_short_link_write_text(sx_writer *w, const sx_short_link *l)
{
    const sx_agent_server *s = &l->server;
    if (!type_valid(l->type) || s->host_count == 0 || (l->type == SX_SL_INVITATION) != (l->link_id_len > 0))
        return sx_writer_fail(w, SX_E_USAGE);
    size_t first_param_host = 0;
    if (l->web) {
        if (!sx_write_str(w, "https://") || !sx_write_str(w, s->host[0]))
            return false;
        first_param_host = 1;
    } else if (!sx_write_str(w, "simplex:")) {
        return false;
    }
    uint8_t t[3] = {'/', (uint8_t)l->type, '#'};
    if (!sx_write_bytes(w, t, 3))
        return false;
    if (l->link_id_len > 0 &&
        (!sx_write_b64(w, sx_slice_of(l->link_id, l->link_id_len), SX_B64_URL_NOPAD) || !sx_write_str(w, "/")))
        return false;
    if (!sx_write_b64(w, sx_slice_of(l->key, l->key_len), SX_B64_URL_NOPAD))
        return false;
    const char *sep = "?";
    if (s->host_count > first_param_host) {
        if (!sx_write_str(w, sep) || !sx_write_str(w, "h="))
            return false;
        for (size_t i = first_param_host; i < s->host_count; i++)
            if ((i > first_param_host && !sx_write_str(w, "%2C")) ||
                !sx_write_url_escaped(w, sx_slice_str(s->host[i])))
                return false;
        sep = "&";
    }
    if (s->port[0] != '\0') {
        if (!sx_write_str(w, sep) || !sx_write_str(w, "p=") || !sx_write_url_escaped(w, sx_slice_str(s->port)))
            return false;
        sep = "&";
    }
    if (s->key_hash_len > 0 && (!sx_write_str(w, sep) || !sx_write_str(w, "c=") ||
                                !sx_write_b64(w, sx_slice_of(s->key_hash, s->key_hash_len), SX_B64_URL_NOPAD)))
        return false;
    return true;
}

/* A base64url field (padding optional) into out. */
static sx_status read_b64_field(sx_reader *r, uint8_t *out, size_t cap, size_t *len)
{
    sx_slice t;
    if (!sx_read_b64url_text(r, &t))
        return SX_E_PROTOCOL;
    return sx_b64url_decode_slice(t, out, cap, len);
}

static sx_status parse_query(sx_slice qtext, sx_short_link *out)
{
    sx_query q;
    sx_status st = sx_query_parse(qtext, &q);
    if (st != SX_OK)
        return st;
    uint8_t buf[SX_SL_TEXT_MAX];
    sx_slice v;
    if (sx_query_get(&q, "h", buf, sizeof buf, &v, NULL) && v.len > 0) {
        sx_reader r;
        sx_reader_init_slice(&r, v);
        for (;;) {
            sx_slice h;
            if (!sx_read_until(&r, ",", &h))
                return SX_E_PROTOCOL;
            st = sx_agent_server_add_host(&out->server, h);
            if (st != SX_OK)
                return st;
            if (!sx_read_accept(&r, ","))
                break;
        }
    }
    if (out->server.host_count == 0)
        return SX_E_PROTOCOL; /* a link without a router */
    if (sx_query_get(&q, "p", buf, sizeof buf, &v, NULL)) {
        sx_reader r;
        sx_reader_init_slice(&r, v);
        uint32_t port;
        if (!sx_read_decimal(&r, 65535, &port) || sx_reader_finish(&r) != SX_OK)
            return SX_E_PROTOCOL;
        /* written back as a plain decimal, as the reference does */
        char d[8];
        size_t n = 0;
        do {
            d[n++] = (char)('0' + port % 10);
            port /= 10;
        } while (port > 0);
        for (size_t i = 0; i < n; i++)
            out->server.port[i] = d[n - 1 - i];
        out->server.port[n] = '\0';
    }
    if (sx_query_get(&q, "c", buf, sizeof buf, &v, NULL)) {
        sx_reader r;
        sx_reader_init_slice(&r, v);
        st = read_b64_field(&r, out->server.key_hash, sizeof out->server.key_hash, &out->server.key_hash_len);
        if (st != SX_OK)
            return st;
        if (sx_reader_finish(&r) != SX_OK)
            return SX_E_PROTOCOL;
    }
    return SX_OK;
}

static sx_status parse_link(sx_reader *r, sx_short_link *out)
{
    if (sx_read_accept(r, "simplex:")) {
        out->web = false;
    } else if (sx_read_accept(r, "https://")) {
        out->web = true;
        sx_slice rest = sx_reader_rest(r);
        sx_smp_host_kind kind;
        size_t n = sx_smp_host_match(rest, &kind);
        sx_slice host;
        if (n == 0 || !sx_read_bytes(r, n, &host))
            return SX_E_PROTOCOL;
        sx_status st = sx_agent_server_add_host(&out->server, host);
        if (st != SX_OK)
            return st;
    } else {
        return SX_E_PROTOCOL;
    }
    char c;
    if (!sx_read_accept(r, "/") || !sx_read_char(r, &c))
        return SX_E_PROTOCOL;
    switch (c) {
    case 'i':
        out->type = SX_SL_INVITATION;
        break;
    case 'a':
    case 'A':
        out->type = SX_SL_CONTACT;
        break;
    case 'c':
    case 'C':
        out->type = SX_SL_CHANNEL;
        break;
    case 'g':
    case 'G':
        out->type = SX_SL_GROUP;
        break;
    case 'r':
    case 'R':
        out->type = SX_SL_RELAY;
        break;
    default:
        return SX_E_PROTOCOL;
    }
    (void)sx_read_accept(r, "/");
    if (!sx_read_accept(r, "#"))
        return SX_E_PROTOCOL;
    sx_status st;
    if (out->type == SX_SL_INVITATION) {
        st = read_b64_field(r, out->link_id, sizeof out->link_id, &out->link_id_len);
        if (st != SX_OK)
            return st;
        if (!sx_read_accept(r, "/"))
            return SX_E_PROTOCOL;
    }
    st = read_b64_field(r, out->key, sizeof out->key, &out->key_len);
    if (st != SX_OK)
        return st;
    if (sx_read_accept(r, "?")) {
        sx_slice q = sx_reader_rest(r);
        if (memchr(q.ptr, ' ', q.len) != NULL || memchr(q.ptr, '\n', q.len) != NULL)
            return SX_E_PROTOCOL;
        return parse_query(q, out);
    }
    if (sx_reader_remaining(r) != 0)
        return SX_E_PROTOCOL;
    return out->web ? SX_OK : SX_E_PROTOCOL; /* simplex: needs h= */
}

sx_status sx_short_link_parse(const char *text, size_t len, sx_short_link *out)
{
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return SX_E_USAGE;
    if (len > SX_SL_TEXT_MAX)
        return SX_E_LIMIT;
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)text, len);
    sx_status st = parse_link(&r, out);
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---- binary ---- */

bool sx_short_link_write(sx_writer *w, const sx_short_link *l)
{
    if (!type_valid(l->type))
        return sx_writer_fail(w, SX_E_USAGE);
    if (l->type == SX_SL_INVITATION)
        return sx_write_u8(w, 'I') && sx_agent_server_write(w, &l->server) &&
               sx_write_short(w, sx_slice_of(l->link_id, l->link_id_len)) &&
               sx_write_short(w, sx_slice_of(l->key, l->key_len));
    uint8_t t[2] = {'C', (uint8_t)(l->type - 'a' + 'A')};
    return sx_write_bytes(w, t, 2) && sx_agent_server_write(w, &l->server) &&
           sx_write_short(w, sx_slice_of(l->key, l->key_len));
}

static bool read_into(sx_reader *r, uint8_t *dst, size_t cap, size_t *len)
{
    sx_slice s;
    if (!sx_read_short(r, &s))
        return false;
    if (s.len > cap)
        return sx_reader_fail(r, SX_E_LIMIT);
    sx_reader sr;
    sx_reader_init_slice(&sr, s);
    *len = s.len;
    return sx_read_copy(&sr, dst, s.len) || sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_short_link_read(sx_reader *r, sx_short_link *out)
{
    memset(out, 0, sizeof *out);
    out->web = true;
    char m, t;
    if (!sx_read_char(r, &m))
        return false;
    if (m == 'I') {
        out->type = SX_SL_INVITATION;
        return sx_agent_server_read(r, &out->server) &&
               read_into(r, out->link_id, sizeof out->link_id, &out->link_id_len) &&
               read_into(r, out->key, sizeof out->key, &out->key_len);
    }
    if (m != 'C' || !sx_read_char(r, &t))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    switch (t) {
    case 'A':
        out->type = SX_SL_CONTACT;
        break;
    case 'C':
        out->type = SX_SL_CHANNEL;
        break;
    case 'G':
        out->type = SX_SL_GROUP;
        break;
    case 'R':
        out->type = SX_SL_RELAY;
        break;
    default:
        return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return sx_agent_server_read(r, &out->server) && read_into(r, out->key, sizeof out->key, &out->key_len);
}

/* ---- preset routers ---- */

const sx_agent_server *sx_short_link_find_preset(const sx_agent_server *s, const sx_agent_server *presets,
                                                 size_t n)
{
    if (s->host_count == 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (presets[i].host_count > 0 && strcmp(presets[i].host[0], s->host[0]) == 0)
            return &presets[i];
    return NULL;
}

bool sx_short_link_is_preset(const sx_agent_server *s, const sx_agent_server *presets, size_t n)
{
    const sx_agent_server *p = sx_short_link_find_preset(s, presets, n);
    if (p == NULL)
        return false;
    for (size_t i = 0; i < s->host_count; i++) {
        bool found = false;
        for (size_t j = 0; j < p->host_count && !found; j++)
            found = strcmp(s->host[i], p->host[j]) == 0;
        if (!found)
            return false;
    }
    bool port_ok = strcmp(s->port, p->port) == 0 ||
                   (p->port[0] == '\0' && (strcmp(s->port, "443") == 0 || strcmp(s->port, "5223") == 0));
    return port_ok &&
           sx_slice_eq(sx_slice_of(s->key_hash, s->key_hash_len), sx_slice_of(p->key_hash, p->key_hash_len));
}

void sx_short_link_shorten(sx_short_link *l, const sx_agent_server *presets, size_t n)
{
    if (!sx_short_link_is_preset(&l->server, presets, n))
        return;
    l->server.host_count = 1;
    l->server.port[0] = '\0';
    l->server.key_hash_len = 0;
}

void sx_short_link_restore(sx_short_link *l, const sx_agent_server *presets, size_t n)
{
    const sx_agent_server *s = &l->server;
    if (s->host_count != 1 || s->port[0] != '\0' || s->key_hash_len != 0)
        return;
    const sx_agent_server *p = sx_short_link_find_preset(s, presets, n);
    if (p != NULL)
        l->server = *p;
}
