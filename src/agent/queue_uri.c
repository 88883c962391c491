/* SMP queue addresses of the agent: text and binary forms (docs/AGENT.md,
 * "Queue addresses"). */
#include "agent/queue_uri.h"

#include <string.h>

#include "agent/link_text.h"
#include "crypto/keys.h"
#include "smp/address.h"
#include "smp/encoding.h"

/* The old preset routers whose links predate host lists, and their onion
 * hosts (the reference's extraSMPServerHosts). */
static const char *const preset_onion[][2] = {
    {"smp4.simplex.im", "o5vmywmrnaxalvz6wi3zicyftgio6psuvyniis6gco6bp6ekl4cqj4id.onion"},
    {"smp5.simplex.im", "jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"},
    {"smp6.simplex.im", "bylepyau3ty4czmn77q4fglvperknl4bi2eb2fdy2bh4jxtf32kf73yd.onion"},
    {"smp8.simplex.im", "beccx4yfxxbvyhqypaavemqurytl6hozr47wfc7uuecacjqdvwpw2xid.onion"},
    {"smp9.simplex.im", "jssqzccmrcws6bhmn77vgmhfjmhwlyr3u7puw4erkyoosywgl67slqqd.onion"},
    {"smp10.simplex.im", "rb2pbttocvnbrngnwziclp2f4ckjq65kebafws6g4hy22cdaiv5dwjqd.onion"},
};

/* ---- routers ---- */

sx_status sx_agent_server_add_host(sx_agent_server *s, sx_slice host)
{
    if (s->host_count == SX_AGENT_HOSTS_MAX || host.len > SX_AGENT_HOST_MAX)
        return SX_E_LIMIT;
    /* empty hosts and NUL bytes (which a C string cannot hold) are refused */
    if (host.len == 0 || memchr(host.ptr, 0, host.len) != NULL || !sx_smp_host_valid(host))
        return SX_E_PROTOCOL;
    sx_reader r;
    sx_reader_init_slice(&r, host);
    char *dst = s->host[s->host_count];
    if (!sx_read_copy(&r, dst, host.len))
        return SX_E_PROTOCOL;
    dst[host.len] = '\0';
    s->host_count++;
    return SX_OK;
}

void sx_agent_server_add_preset_onion(sx_agent_server *s)
{
    if (s->host_count != 1)
        return;
    for (size_t i = 0; i < sizeof preset_onion / sizeof preset_onion[0]; i++)
        if (strcmp(s->host[0], preset_onion[i][0]) == 0) {
            sx_status st = sx_agent_server_add_host(s, sx_slice_str(preset_onion[i][1]));
            (void)st; /* one host of room is always there */
            return;
        }
}

bool sx_agent_server_equal(const sx_agent_server *a, const sx_agent_server *b)
{
    if (a->host_count != b->host_count || strcmp(a->port, b->port) != 0 ||
        !sx_slice_eq(sx_slice_of(a->key_hash, a->key_hash_len), sx_slice_of(b->key_hash, b->key_hash_len)))
        return false;
    for (size_t i = 0; i < a->host_count; i++)
        if (strcmp(a->host[i], b->host[i]) != 0)
            return false;
    return true;
}

bool sx_agent_server_write(sx_writer *w, const sx_agent_server *s)
{
    if (!sx_write_nonempty_count(w, s->host_count))
        return false;
    for (size_t i = 0; i < s->host_count; i++)
        if (!sx_write_short(w, sx_slice_str(s->host[i])))
            return false;
    return sx_write_short(w, sx_slice_str(s->port)) &&
           sx_write_short(w, sx_slice_of(s->key_hash, s->key_hash_len));
}

static bool read_port(sx_reader *r, sx_slice port, sx_agent_server *out)
{
    if (memchr(port.ptr, 0, port.len) != NULL)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader pr;
    sx_reader_init_slice(&pr, port);
    if (!sx_read_copy(&pr, out->port, port.len))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    out->port[port.len] = '\0';
    return true;
}

bool sx_agent_server_read(sx_reader *r, sx_agent_server *out)
{
    memset(out, 0, sizeof *out);
    sx_smp_server s;
    if (!sx_smp_read_server(r, &s))
        return false;
    for (size_t i = 0; i < s.hosts.count; i++) {
        sx_slice h;
        sx_status st = sx_smp_list_get(&s.hosts, SX_SMP_ITEM_HOST, i, &h);
        if (st == SX_OK)
            st = sx_agent_server_add_host(out, h);
        if (st != SX_OK)
            return sx_reader_fail(r, st);
    }
    if (!read_port(r, s.port, out))
        return false;
    sx_reader kr;
    sx_reader_init_slice(&kr, s.key_hash);
    out->key_hash_len = s.key_hash.len;
    return sx_read_copy(&kr, out->key_hash, s.key_hash.len) || sx_reader_fail(r, SX_E_PROTOCOL);
}

/* The old router encoding of SMPQueueInfo version 1: one host. */
static bool read_legacy_server(sx_reader *r, sx_agent_server *out)
{
    memset(out, 0, sizeof *out);
    sx_slice host, port, kh;
    if (!sx_read_short(r, &host) || !sx_read_short(r, &port) || !sx_read_short(r, &kh))
        return false;
    sx_status st = sx_agent_server_add_host(out, host);
    if (st != SX_OK)
        return sx_reader_fail(r, st);
    if (!read_port(r, port, out))
        return false;
    sx_reader kr;
    sx_reader_init_slice(&kr, kh);
    out->key_hash_len = kh.len;
    if (!sx_read_copy(&kr, out->key_hash, kh.len))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_agent_server_add_preset_onion(out);
    return true;
}

static bool write_legacy_server(sx_writer *w, const sx_agent_server *s)
{
    if (s->host_count == 0)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_short(w, sx_slice_str(s->host[0])) && sx_write_short(w, sx_slice_str(s->port)) &&
           sx_write_short(w, sx_slice_of(s->key_hash, s->key_hash_len));
}

bool sx_agent_server_write_text(sx_writer *w, const sx_agent_server *s, bool first_host_only)
{
    if (s->host_count == 0)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_str(w, "smp://") || !sx_write_b64(w, sx_slice_of(s->key_hash, s->key_hash_len), SX_B64_URL) ||
        !sx_write_str(w, "@"))
        return false;
    size_t n = first_host_only ? 1 : s->host_count;
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && !sx_write_str(w, ",")) || !sx_write_str(w, s->host[i]))
            return false;
    if (s->port[0] != '\0' && (!sx_write_str(w, ":") || !sx_write_str(w, s->port)))
        return false;
    return true;
}

sx_status sx_agent_server_parse(const char *text, size_t len, sx_agent_server *out)
{
    memset(out, 0, sizeof *out);
    sx_server_address local;
    sx_server_address *ap = &local;
    sx_status st = sx_server_address_parse(text, len, ap);
    if (st != SX_OK)
        return st;
    if (ap->scheme != SX_SERVER_SMP || ap->has_auth)
        return SX_E_PROTOCOL;
    for (size_t i = 0; i < ap->host_count; i++) {
        st = sx_agent_server_add_host(out, sx_slice_of(ap->text + ap->host_off[i], ap->host_len[i]));
        if (st != SX_OK)
            return st;
    }
    if (ap->port_len > SX_AGENT_PORT_MAX)
        return SX_E_LIMIT;
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)ap->text + ap->port_off, ap->port_len);
    if (!sx_read_copy(&r, out->port, ap->port_len))
        return SX_E_PROTOCOL;
    sx_reader_init(&r, ap->key_hash, ap->key_hash_len);
    if (!sx_read_copy(&r, out->key_hash, ap->key_hash_len))
        return SX_E_PROTOCOL;
    out->key_hash_len = ap->key_hash_len;
    return SX_OK;
}

/* ---- addresses ---- */

static bool read_address(sx_reader *r, sx_agent_queue *q)
{
    sx_slice sid, dh;
    if (!sx_read_short(r, &sid) || !sx_read_short(r, &dh))
        return false;
    sx_key_alg alg;
    if (dh.len != SX_X25519_SPKI_LEN || sx_key_check_public(dh, SX_KEY_BIT(SX_KEY_X25519), &alg) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader sr;
    sx_reader_init_slice(&sr, sid);
    q->sender_id_len = sid.len;
    if (!sx_read_copy(&sr, q->sender_id, sid.len))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader_init_slice(&sr, dh);
    return sx_read_copy(&sr, q->dh, dh.len) || sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_agent_queue_read_mode(sx_reader *r, sx_queue_mode *out)
{
    *out = SX_QUEUE_MODE_NONE;
    if (!sx_reader_ok(r))
        return false;
    if (sx_read_accept(r, "M") || sx_read_accept(r, "T"))
        *out = SX_QUEUE_MODE_MESSAGING;
    else if (sx_read_accept(r, "C") || sx_read_accept(r, "F"))
        *out = SX_QUEUE_MODE_CONTACT;
    return true;
}

static bool write_address(sx_writer *w, const sx_agent_queue *q)
{
    return sx_write_short(w, sx_slice_of(q->sender_id, q->sender_id_len)) &&
           sx_write_short(w, sx_slice_of(q->dh, SX_X25519_SPKI_LEN));
}

static bool write_mode_char(sx_writer *w, sx_queue_mode m)
{
    switch (m) {
    case SX_QUEUE_MODE_NONE:
        return true;
    case SX_QUEUE_MODE_MESSAGING:
        return sx_write_u8(w, 'M');
    case SX_QUEUE_MODE_CONTACT:
        return sx_write_u8(w, 'C');
    }
    return sx_writer_fail(w, SX_E_USAGE);
}

/* ---- queue URI, binary ---- */

bool sx_agent_queue_uri_write(sx_writer *w, const sx_agent_queue_uri *u)
{
    if (!sx_write_version_range(w, u->vr) || !sx_agent_server_write(w, &u->q.server) || !write_address(w, &u->q))
        return false;
    bool snd_secure = u->q.mode == SX_QUEUE_MODE_MESSAGING;
    if (u->vr.min >= 4)
        return write_mode_char(w, u->q.mode);
    if (u->vr.min >= 3 || (u->vr.max >= 3 && snd_secure))
        return sx_write_bool(w, snd_secure);
    return true;
}

bool sx_agent_queue_uri_read(sx_reader *r, sx_agent_queue_uri *out)
{
    memset(out, 0, sizeof *out);
    return sx_read_version_range(r, &out->vr) && sx_agent_server_read(r, &out->q.server) &&
           read_address(r, &out->q) && sx_agent_queue_read_mode(r, &out->q.mode);
}

sx_status sx_agent_queue_uri_decode(sx_slice in, sx_agent_queue_uri *out)
{
    sx_reader r;
    sx_reader_init_slice(&r, in);
    (void)sx_agent_queue_uri_read(&r, out);
    return sx_reader_finish(&r);
}

/* ---- queue info ---- */

bool sx_agent_queue_info_write(sx_writer *w, const sx_agent_queue_info *qi)
{
    if (!sx_write_version(w, qi->version))
        return false;
    if (qi->version <= 1)
        return write_legacy_server(w, &qi->q.server) && write_address(w, &qi->q);
    if (!sx_agent_server_write(w, &qi->q.server) || !write_address(w, &qi->q))
        return false;
    if (qi->version >= 4)
        return write_mode_char(w, qi->q.mode);
    if (qi->version == 3 && qi->q.mode == SX_QUEUE_MODE_MESSAGING)
        return sx_write_bool(w, true);
    return true;
}

bool sx_agent_queue_info_read(sx_reader *r, sx_agent_queue_info *out)
{
    memset(out, 0, sizeof *out);
    if (!sx_read_version(r, &out->version))
        return false;
    bool ok = out->version > 1 ? sx_agent_server_read(r, &out->q.server) : read_legacy_server(r, &out->q.server);
    return ok && read_address(r, &out->q) && sx_agent_queue_read_mode(r, &out->q.mode);
}

sx_status sx_agent_queue_info_decode(sx_slice in, sx_agent_queue_info *out)
{
    sx_reader r;
    sx_reader_init_slice(&r, in);
    (void)sx_agent_queue_info_read(&r, out);
    return sx_reader_finish(&r);
}

/* ---- queue URI, text ---- */

bool sx_agent_queue_uri_write_text(sx_writer *w, const sx_agent_queue_uri *u)
{
    const sx_agent_queue *q = &u->q;
    bool legacy = u->vr.min < 2;
    if (!sx_agent_server_write_text(w, &q->server, legacy) || !sx_write_str(w, "/") ||
        !sx_write_b64(w, sx_slice_of(q->sender_id, q->sender_id_len), SX_B64_URL) ||
        !sx_write_str(w, "#/?v=") || !sx_write_vrange_text(w, u->vr) || !sx_write_str(w, "&dh="))
        return false;
    /* the key's base64 goes through the query escaping ('=' becomes %3D) */
    sx_writer kw;
    uint8_t kbuf[128];
    sx_writer_init_fixed(&kw, kbuf, sizeof kbuf);
    if (!sx_write_b64(&kw, sx_slice_of(q->dh, SX_X25519_SPKI_LEN), SX_B64_URL) ||
        !sx_write_url_escaped(w, sx_writer_slice(&kw)))
        return sx_writer_fail(w, sx_writer_status(&kw) != SX_OK ? sx_writer_status(&kw) : sx_writer_status(w));
    if (q->mode == SX_QUEUE_MODE_MESSAGING && !sx_write_str(w, "&q=m"))
        return false;
    if (q->mode == SX_QUEUE_MODE_CONTACT && !sx_write_str(w, "&q=c"))
        return false;
    if (q->mode == SX_QUEUE_MODE_MESSAGING && u->vr.min < 4 && !sx_write_str(w, "&k=s"))
        return false;
    if (legacy && q->server.host_count > 1) {
        if (!sx_write_str(w, "&srv="))
            return false;
        for (size_t i = 1; i < q->server.host_count; i++)
            if ((i > 1 && !sx_write_str(w, "%2C")) || !sx_write_url_escaped(w, sx_slice_str(q->server.host[i])))
                return false;
    }
    return true;
}

/* The dh key from base64url text: an X25519 SubjectPublicKeyInfo. */
static sx_status dh_from_text(sx_slice text, uint8_t dh[SX_X25519_SPKI_LEN])
{
    uint8_t buf[SX_KEY_SPKI_MAX];
    size_t n = 0;
    sx_status st = sx_b64url_decode_slice(text, buf, sizeof buf, &n);
    if (st != SX_OK)
        return SX_E_PROTOCOL;
    sx_key_alg alg;
    if (n != SX_X25519_SPKI_LEN || sx_key_check_public(sx_slice_of(buf, n), SX_KEY_BIT(SX_KEY_X25519), &alg) != SX_OK)
        return SX_E_PROTOCOL;
    sx_reader r;
    sx_reader_init(&r, buf, n);
    return sx_read_copy(&r, dh, n) ? SX_OK : SX_E_PROTOCOL;
}

/* Whole of text is a base64url field (padding optional). */
static bool whole_b64(sx_slice text)
{
    sx_reader r;
    sx_reader_init_slice(&r, text);
    sx_slice t;
    return sx_read_b64url_text(&r, &t) && sx_reader_finish(&r) == SX_OK;
}

/* Hosts of a srv= value: comma-separated, possibly none. */
static sx_status add_hosts(sx_agent_server *s, sx_slice v)
{
    sx_reader r;
    sx_reader_init_slice(&r, v);
    if (v.len == 0)
        return SX_OK;
    for (;;) {
        sx_slice h;
        if (!sx_read_until(&r, ",", &h))
            return SX_E_PROTOCOL;
        sx_status st = sx_agent_server_add_host(s, h);
        if (st != SX_OK)
            return st;
        if (!sx_read_accept(&r, ","))
            return SX_OK;
    }
}

static sx_status parse_query(sx_slice qtext, bool have_dh, sx_agent_queue_uri *out)
{
    sx_query qs;
    sx_status st = sx_query_parse(qtext, &qs);
    if (st != SX_OK)
        return st;
    uint8_t buf[SX_AGENT_QUEUE_URI_TEXT_MAX];
    sx_slice v;
    if (!sx_query_get(&qs, "v", buf, sizeof buf, &v, NULL) || !sx_vrange_from_text(v, &out->vr))
        return SX_E_PROTOCOL;
    if (!have_dh) {
        if (!sx_query_get(&qs, "dh", buf, sizeof buf, &v, NULL) || !whole_b64(v))
            return SX_E_PROTOCOL;
        st = dh_from_text(v, out->q.dh);
        if (st != SX_OK)
            return st;
    }
    if (sx_query_get(&qs, "srv", buf, sizeof buf, &v, NULL)) {
        st = add_hosts(&out->q.server, v);
        if (st != SX_OK)
            return st;
    }
    out->q.mode = SX_QUEUE_MODE_NONE;
    if (sx_query_get(&qs, "q", buf, sizeof buf, &v, NULL) && sx_slice_eq(v, sx_slice_str("m")))
        out->q.mode = SX_QUEUE_MODE_MESSAGING;
    else if (sx_query_get(&qs, "q", buf, sizeof buf, &v, NULL) && sx_slice_eq(v, sx_slice_str("c")))
        out->q.mode = SX_QUEUE_MODE_CONTACT;
    else if (sx_query_get(&qs, "k", buf, sizeof buf, &v, NULL) && sx_slice_eq(v, sx_slice_str("s")))
        out->q.mode = SX_QUEUE_MODE_MESSAGING;
    return SX_OK;
}

sx_status sx_agent_queue_uri_parse(const char *text, size_t len, sx_agent_queue_uri *out)
{
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return SX_E_USAGE;
    if (len > SX_AGENT_QUEUE_URI_TEXT_MAX)
        return SX_E_LIMIT;
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)text, len);
    sx_slice srv, sid_text, rest;
    if (!sx_read_accept(&r, "smp://") || !sx_read_until(&r, "/", &srv) || !sx_read_accept(&r, "/"))
        return SX_E_PROTOCOL;
    /* the router's text with its scheme: the 6 bytes before srv */
    sx_status st = sx_agent_server_parse(text, 6 + srv.len, &out->q.server);
    if (st != SX_OK)
        goto fail;
    if (!sx_read_b64url_text(&r, &sid_text))
        goto bad;
    st = sx_b64url_decode_slice(sid_text, out->q.sender_id, sizeof out->q.sender_id, &out->q.sender_id_len);
    if (st != SX_OK)
        goto fail;
    (void)sx_read_accept(&r, "/");
    if (!sx_read_accept(&r, "#"))
        goto bad;
    rest = sx_reader_rest(&r);
    if (memchr(rest.ptr, ' ', rest.len) != NULL || memchr(rest.ptr, '\n', rest.len) != NULL)
        goto bad;
    bool have_dh = false;
    if (rest.len > 0 && rest.ptr[0] != '/' && rest.ptr[0] != '?') {
        sx_slice key;
        if (!sx_read_b64url_text(&r, &key))
            goto bad;
        st = dh_from_text(key, out->q.dh);
        if (st != SX_OK)
            goto fail;
        have_dh = true;
        if (sx_reader_remaining(&r) == 0) { /* the unversioned form */
            out->vr = (sx_version_range){1, 1};
            sx_agent_server_add_preset_onion(&out->q.server);
            return SX_OK;
        }
    }
    (void)sx_read_accept(&r, "/");
    if (!sx_read_accept(&r, "?"))
        goto bad;
    sx_slice qtext;
    (void)sx_read_tail(&r, &qtext);
    st = parse_query(qtext, have_dh, out);
    if (st != SX_OK)
        goto fail;
    if (out->vr.max < 2)
        sx_agent_server_add_preset_onion(&out->q.server);
    return SX_OK;
bad:
    st = SX_E_PROTOCOL;
fail:
    memset(out, 0, sizeof *out);
    return st;
}
