/* Server addresses (PROTOCOL-NOTES A28, A29). The input is copied into the
 * struct through a reader, then parsed from that copy with the reader's
 * text primitives, so every offset kept in the struct indexes out->text and
 * no byte outside [text, text+len) is ever touched. Host syntax comes from
 * sx_smp_host_match, the matcher behind the binary host checks. */
#include "smp/address.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/base64.h"
#include "core/reader.h"
#include "core/writer.h"
#include "crypto/util.h"

static const struct {
    const char *prefix;
    sx_server_scheme scheme;
    uint16_t port;
} SCHEMES[] = {
    {"smp://", SX_SERVER_SMP, SX_SERVER_PORT_SMP},
    {"xftp://", SX_SERVER_XFTP, SX_SERVER_PORT_XFTP},
    {"ntf://", SX_SERVER_NTF, SX_SERVER_PORT_NTF},
};

/* A view of part of a->text. */
static sx_slice text_part(const sx_server_address *a, size_t off, size_t len)
{
    sx_reader r;
    sx_slice s;
    sx_reader_init(&r, (const uint8_t *)a->text, a->text_len);
    if (!sx_read_bytes(&r, off, &s) || !sx_read_bytes(&r, len, &s))
        return sx_slice_of(NULL, 0);
    return s;
}

static sx_slice host_text(const sx_server_address *a, size_t i)
{
    return text_part(a, a->host_off[i], a->host_len[i]);
}

/* An IPv6 host without its brackets. */
static sx_slice ipv6_inner(sx_slice h)
{
    sx_reader r;
    sx_slice s;
    sx_reader_init_slice(&r, h);
    if (sx_read_accept(&r, "[")) {
        sx_read_until(&r, "]", &s);
        return sx_read_expect_str(&r, "]") ? s : sx_slice_of(NULL, 0);
    }
    sx_read_tail(&r, &s);
    return s;
}

/* The numeric form of an IP host the matcher accepted. The matcher does not
 * bound the last IPv4 number (the reference reads it as a wrapping Word8);
 * here it must be 0..255 too, and the IPv6 text must be one inet_pton
 * takes, else the address is refused. */
static sx_status host_number(sx_smp_host_kind kind, sx_slice h, uint8_t addr[16])
{
    memset(addr, 0, 16);
    sx_reader r;
    if (kind == SX_SMP_HOST_IPV4) {
        sx_reader_init_slice(&r, h);
        for (int i = 0; i < 4; i++) {
            uint32_t v;
            if (i > 0)
                sx_read_expect_str(&r, ".");
            sx_read_decimal(&r, 255, &v);
            addr[i] = (uint8_t)v;
        }
        return sx_reader_finish(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
    }
    if (kind == SX_SMP_HOST_IPV6) {
        char buf[64];
        sx_slice in = ipv6_inner(h);
        if (in.len == 0 || in.len >= sizeof buf)
            return SX_E_PROTOCOL;
        sx_reader_init_slice(&r, in);
        if (!sx_read_copy(&r, buf, in.len))
            return SX_E_PROTOCOL;
        buf[in.len] = '\0';
        return inet_pton(AF_INET6, buf, addr) == 1 ? SX_OK : SX_E_PROTOCOL;
    }
    return SX_OK;
}

static sx_status parse_port(sx_reader *r, sx_server_address *out)
{
    out->port_off = r->off;
    uint32_t p = 0;
    if (!sx_read_decimal(r, 65535, &p) || p == 0)
        return SX_E_PROTOCOL;
    out->port = (uint16_t)p;
    /* The port list a router prints for smp:// ("5223,443"). */
    while (out->scheme == SX_SERVER_SMP && sx_read_accept(r, ",")) {
        uint32_t q = 0;
        if (!sx_read_decimal(r, 65535, &q) || q == 0)
            return SX_E_PROTOCOL;
    }
    out->port_len = r->off - out->port_off;
    return SX_OK;
}

static sx_status parse_text(sx_server_address *out)
{
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)out->text, out->text_len);

    uint16_t default_port = 0;
    for (size_t i = 0; i < sizeof SCHEMES / sizeof SCHEMES[0] && !default_port; i++)
        if (sx_read_accept(&r, SCHEMES[i].prefix)) {
            out->scheme = SCHEMES[i].scheme;
            default_port = SCHEMES[i].port;
        }
    if (!default_port)
        return SX_E_PROTOCOL;

    /* key hash, base64url (PROTOCOL-NOTES A23) */
    sx_slice kh;
    out->key_hash_off = r.off;
    sx_read_until(&r, ":@", &kh);
    out->key_hash_text_len = kh.len;
    sx_status st = sx_b64_decode((const char *)kh.ptr, kh.len, SX_B64_URL, out->key_hash,
                                 sizeof out->key_hash, &out->key_hash_len);
    if (st != SX_OK || out->key_hash_len == 0)
        return st == SX_E_LIMIT ? SX_E_LIMIT : SX_E_PROTOCOL;

    /* basic auth (PROTOCOL-NOTES A22) */
    if (sx_read_accept(&r, ":")) {
        sx_slice auth;
        out->auth_off = r.off;
        sx_read_until(&r, "@", &auth);
        if (auth.len > SX_SERVER_AUTH_MAX)
            return SX_E_LIMIT;
        if (auth.len == 0 || !sx_smp_basic_auth_valid(auth))
            return SX_E_PROTOCOL;
        out->has_auth = true;
        out->auth_len = auth.len;
    }
    if (!sx_read_expect_str(&r, "@"))
        return SX_E_PROTOCOL;

    /* hosts (PROTOCOL-NOTES A28) */
    do {
        if (out->host_count == SX_SERVER_HOSTS_MAX)
            return SX_E_LIMIT;
        sx_smp_host_kind kind;
        size_t n = sx_smp_host_match(sx_reader_rest(&r), &kind);
        size_t k = out->host_count;
        sx_slice h;
        out->host_off[k] = r.off;
        if (n == 0 || !sx_read_bytes(&r, n, &h))
            return SX_E_PROTOCOL;
        SX_TRY(host_number(kind, h, out->host_addr[k]));
        out->host_kind[k] = (uint8_t)kind;
        out->host_len[k] = n;
        out->host_count++;
    } while (sx_read_accept(&r, ","));

    if (sx_read_accept(&r, ":"))
        SX_TRY(parse_port(&r, out));
    else
        out->port = default_port;
    return sx_reader_finish(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

sx_status sx_server_address_parse(const char *text, size_t len, sx_server_address *out)
{
    SX_ENSURE(text != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    if (len > SX_SERVER_ADDRESS_MAX)
        return SX_E_LIMIT;
    sx_reader in;
    sx_reader_init(&in, (const uint8_t *)text, len);
    if (!sx_read_copy(&in, out->text, len))
        return SX_E_PROTOCOL;
    out->text[len] = '\0';
    out->text_len = len;
    /* The text must be a C string too (hosts are handed to the resolver). */
    sx_status st = memchr(out->text, '\0', len) ? SX_E_PROTOCOL : parse_text(out);
    if (st != SX_OK)
        sx_wipe(out, sizeof *out); /* may hold a password */
    return st;
}

/* The bytes of s as a NUL-terminated string in out. */
static sx_status copy_out(sx_slice s, char *out, size_t cap)
{
    SX_ENSURE(out != NULL && cap > 0, SX_E_USAGE);
    out[0] = '\0';
    if (s.len >= cap)
        return SX_E_LIMIT;
    sx_reader r;
    sx_reader_init_slice(&r, s);
    if (!sx_read_copy(&r, out, s.len))
        return SX_E_INTERNAL;
    out[s.len] = '\0';
    return SX_OK;
}

sx_status sx_server_address_host(const sx_server_address *a, size_t i, char *out, size_t cap)
{
    SX_ENSURE(a != NULL && out != NULL && cap > 0, SX_E_USAGE);
    out[0] = '\0';
    SX_ENSURE(i < a->host_count && i < SX_SERVER_HOSTS_MAX, SX_E_USAGE);
    sx_slice h = host_text(a, i);
    return copy_out(a->host_kind[i] == SX_SMP_HOST_IPV6 ? ipv6_inner(h) : h, out, cap);
}

sx_status sx_server_address_auth(const sx_server_address *a, char *out, size_t cap)
{
    SX_ENSURE(a != NULL && out != NULL && cap > 0, SX_E_USAGE);
    out[0] = '\0';
    return a->has_auth ? copy_out(text_part(a, a->auth_off, a->auth_len), out, cap) : SX_OK;
}

sx_status sx_server_address_format(const sx_server_address *a, bool with_auth, char *out,
                                   size_t cap, size_t *out_len)
{
    SX_ENSURE(a != NULL && out != NULL && cap > 0, SX_E_USAGE);
    out[0] = '\0';
    if (out_len)
        *out_len = 0;
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)out, cap - 1);
    if (with_auth || !a->has_auth) {
        sx_write_slice(&w, text_part(a, 0, a->text_len));
    } else {
        /* everything but ":<auth>" */
        size_t colon = a->auth_off - 1, after = a->auth_off + a->auth_len;
        sx_write_slice(&w, text_part(a, 0, colon));
        sx_write_slice(&w, text_part(a, after, a->text_len - after));
    }
    sx_status st = sx_writer_status(&w);
    if (st != SX_OK) {
        out[0] = '\0';
        return st;
    }
    out[w.len] = '\0';
    if (out_len)
        *out_len = w.len;
    return SX_OK;
}

static int bytes_cmp(sx_slice a, sx_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

bool sx_server_address_host_eq(const sx_server_address *a, size_t i, const sx_server_address *b, size_t j)
{
    if (i >= a->host_count || j >= b->host_count || i >= SX_SERVER_HOSTS_MAX || j >= SX_SERVER_HOSTS_MAX ||
        a->host_kind[i] != b->host_kind[j])
        return false;
    if (a->host_kind[i] == SX_SMP_HOST_IPV4 || a->host_kind[i] == SX_SMP_HOST_IPV6)
        return memcmp(a->host_addr[i], b->host_addr[j], 16) == 0;
    return bytes_cmp(host_text(a, i), host_text(b, j)) == 0;
}

bool sx_server_address_share_host(const sx_server_address *a, const sx_server_address *b)
{
    for (size_t i = 0; i < a->host_count; i++)
        for (size_t j = 0; j < b->host_count; j++)
            if (sx_server_address_host_eq(a, i, b, j))
                return true;
    return false;
}

sx_status sx_server_address_from_wire(const sx_smp_server *srv, sx_server_address *out)
{
    SX_ENSURE(srv != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    SX_ENSURE(srv->key_hash.len > 0 && srv->key_hash.len <= SX_SERVER_KEY_HASH_MAX && srv->hosts.count > 0,
              SX_E_PROTOCOL);
    char text[SX_SERVER_ADDRESS_MAX + 1];
    char kh[2 * SX_SERVER_KEY_HASH_MAX];
    if (sx_b64_encode(srv->key_hash, SX_B64_URL, kh, sizeof kh) != SX_OK)
        return SX_E_PROTOCOL;
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)text, sizeof text - 1);
    sx_write_str(&w, "smp://");
    sx_write_str(&w, kh);
    sx_write_str(&w, "@");
    for (size_t i = 0; i < srv->hosts.count; i++) {
        sx_slice h;
        if (sx_smp_list_get(&srv->hosts, SX_SMP_ITEM_HOST, i, &h) != SX_OK)
            return SX_E_PROTOCOL;
        if (i)
            sx_write_str(&w, ",");
        sx_write_slice(&w, h);
    }
    if (srv->port.len) {
        sx_write_str(&w, ":");
        sx_write_slice(&w, srv->port);
    }
    if (sx_writer_status(&w) != SX_OK)
        return SX_E_LIMIT;
    sx_status st = sx_server_address_parse(text, w.len, out);
    return st == SX_OK || st == SX_E_LIMIT ? st : SX_E_PROTOCOL;
}

int sx_server_address_compare(const sx_server_address *a, const sx_server_address *b)
{
    /* NonEmpty hosts compare element-wise, then by length. */
    for (size_t i = 0; i < a->host_count && i < b->host_count && i < SX_SERVER_HOSTS_MAX; i++) {
        if (a->host_kind[i] != b->host_kind[i])
            return a->host_kind[i] < b->host_kind[i] ? -1 : 1;
        int c;
        if (a->host_kind[i] == SX_SMP_HOST_IPV4 || a->host_kind[i] == SX_SMP_HOST_IPV6)
            c = bytes_cmp(sx_slice_of(a->host_addr[i], 16), sx_slice_of(b->host_addr[i], 16));
        else
            c = bytes_cmp(host_text(a, i), host_text(b, i));
        if (c != 0)
            return c;
    }
    if (a->host_count != b->host_count)
        return a->host_count < b->host_count ? -1 : 1;
    int c = bytes_cmp(text_part(a, a->port_off, a->port_len), text_part(b, b->port_off, b->port_len));
    if (c == 0)
        c = bytes_cmp(sx_slice_of(a->key_hash, a->key_hash_len),
                      sx_slice_of(b->key_hash, b->key_hash_len));
    if (c == 0 && a->scheme != b->scheme)
        c = a->scheme < b->scheme ? -1 : 1;
    return c;
}
