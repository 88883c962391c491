/* Shared SMP field codecs. Keys are checked with the strict DER shape test of
 * crypto/keys.h without building OpenSSL objects, so a decoded command costs
 * no allocation; lists stay in their wire form and are re-walked on access. */
#include "smp/encoding.h"

#include <string.h>

bool sx_smp_read_pubkey(sx_reader *r, unsigned allowed, sx_smp_pubkey *out)
{
    memset(out, 0, sizeof *out);
    sx_slice der;
    if (!sx_read_short(r, &der))
        return false;
    sx_key_alg alg;
    if (sx_key_check_public(der, allowed, &alg) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    out->der = der;
    out->alg = alg;
    return true;
}

bool sx_smp_write_pubkey(sx_writer *w, unsigned allowed, const sx_smp_pubkey *k)
{
    sx_key_alg alg;
    if (!k || sx_key_check_public(k->der, allowed, &alg) != SX_OK || alg != k->alg)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_short(w, k->der);
}

sx_status sx_smp_pubkey_of(const sx_key *k, uint8_t buf[SX_KEY_SPKI_MAX], sx_smp_pubkey *out)
{
    SX_ENSURE(k && buf && out, SX_E_USAGE);
    sx_writer w;
    sx_writer_init_fixed(&w, buf, SX_KEY_SPKI_MAX);
    sx_key_write_public(&w, k);
    SX_TRY(sx_writer_status(&w));
    out->der = sx_writer_slice(&w);
    out->alg = sx_key_alg_of(k);
    return SX_OK;
}

/* ---- lists ---- */

static bool read_item(sx_reader *r, sx_smp_item kind, sx_slice *out)
{
    switch (kind) {
    case SX_SMP_ITEM_AUTH_KEY: {
        sx_smp_pubkey k;
        if (!sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &k))
            return false;
        *out = k.der;
        return true;
    }
    case SX_SMP_ITEM_HOST:
        if (!sx_read_short(r, out))
            return false;
        return sx_smp_host_valid(*out) ? true : sx_reader_fail(r, SX_E_PROTOCOL);
    case SX_SMP_ITEM_LARGE:
        return sx_read_large(r, out);
    default:
        return sx_reader_fail(r, SX_E_USAGE);
    }
}

bool sx_smp_read_list(sx_reader *r, sx_smp_item kind, size_t max, sx_smp_list *out)
{
    memset(out, 0, sizeof *out);
    uint8_t n;
    if (!sx_read_nonempty_count(r, &n))
        return false;
    if (n > max)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader start = *r;
    for (size_t i = 0; i < n; i++) {
        sx_slice item;
        if (!read_item(r, kind, &item))
            return false;
    }
    /* Re-read the span just checked from a copy taken before it. */
    out->count = n;
    return sx_read_bytes(&start, r->off - start.off, &out->items);
}

/* Walks a list view: SX_OK with item i in *out, after checking every item
 * up to and including i (and, with `whole`, that exactly count items fill it). */
static sx_status walk_list(const sx_smp_list *l, sx_smp_item kind, size_t want, bool whole,
                           sx_slice *out)
{
    SX_ENSURE(l != NULL, SX_E_USAGE);
    sx_reader r;
    sx_reader_init_slice(&r, l->items);
    size_t last = whole ? l->count : want + 1;
    for (size_t i = 0; i < last; i++) {
        sx_slice item;
        if (!read_item(&r, kind, &item))
            return SX_E_PROTOCOL;
        if (i == want && out)
            *out = item;
    }
    return whole ? sx_reader_finish(&r) : SX_OK;
}

bool sx_smp_write_list(sx_writer *w, sx_smp_item kind, const sx_smp_list *l)
{
    if (!l || l->count < 1 || l->count > 255 || walk_list(l, kind, 0, true, NULL) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_nonempty_count(w, l->count) && sx_write_slice(w, l->items);
}

sx_status sx_smp_list_get(const sx_smp_list *l, sx_smp_item kind, size_t i, sx_slice *out)
{
    SX_ENSURE(l && out && i < l->count, SX_E_USAGE);
    return walk_list(l, kind, i, false, out);
}

sx_status sx_smp_list_key(const sx_smp_list *l, size_t i, sx_smp_pubkey *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_slice der;
    SX_TRY(sx_smp_list_get(l, SX_SMP_ITEM_AUTH_KEY, i, &der));
    out->der = der;
    return sx_key_check_public(der, SX_KEY_AUTH_ALGS, &out->alg);
}

/* ---- hosts (PROTOCOL-NOTES A28) ----
 * The reference tries four alternatives in order; the first one that
 * matches a prefix decides, and the host is valid only when that prefix is
 * the whole text. Each helper returns the matched prefix length, 0 for no
 * match. */

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_hex(uint8_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Decimal digits at p[off..n); *val saturates above 65535. */
static size_t decimal(const uint8_t *p, size_t n, size_t off, unsigned *val)
{
    size_t k = 0;
    unsigned v = 0;
    while (off + k < n && is_digit(p[off + k])) {
        v = v > 65535 ? v : v * 10 + (unsigned)(p[off + k] - '0');
        k++;
    }
    *val = v;
    return k;
}

/* Three "octet." groups with octets 0..255, then a number (unchecked). */
static size_t match_ipv4(const uint8_t *p, size_t n)
{
    size_t off = 0;
    unsigned v;
    for (int i = 0; i < 3; i++) {
        size_t k = decimal(p, n, off, &v);
        if (k == 0 || v > 255 || off + k >= n || p[off + k] != '.')
            return 0;
        off += k + 1;
    }
    size_t k = decimal(p, n, off, &v);
    return k ? off + k : 0;
}

/* An IPv4 address that must fill p[off..n) exactly (embedded in IPv6). */
static bool exact_ipv4(const uint8_t *p, size_t n, size_t off)
{
    unsigned v;
    for (int i = 0; i < 4; i++) {
        size_t k = decimal(p, n, off, &v);
        if (k == 0 || v > 255)
            return false;
        off += k;
        if (i < 3) {
            if (off >= n || p[off] != '.')
                return false;
            off++;
        }
    }
    return off == n;
}

/* RFC 4291 text form in p[off..n): up to 8 hex groups of 1..4 digits, one
 * "::" at most, optionally ending in a dotted IPv4 address worth two groups. */
static bool ipv6_text_valid(const uint8_t *p, size_t n, size_t off)
{
    size_t groups = 0;
    bool gap = false;
    if (off >= n)
        return false;
    if (n - off >= 2 && p[off] == ':' && p[off + 1] == ':') {
        gap = true;
        off += 2;
        if (off == n)
            return true;
    } else if (p[off] == ':') {
        return false;
    }
    while (off < n) {
        size_t k = 0;
        while (off + k < n && is_hex(p[off + k]))
            k++;
        if (off + k < n && p[off + k] == '.') {
            /* the last piece is an IPv4 address */
            if (!exact_ipv4(p, n, off))
                return false;
            groups += 2;
            off = n;
            break;
        }
        if (k == 0 || k > 4)
            return false;
        groups++;
        off += k;
        if (off == n)
            break;
        if (p[off] != ':')
            return false;
        off++;
        if (off < n && p[off] == ':') {
            if (gap)
                return false;
            gap = true;
            off++;
            if (off == n)
                break;
        } else if (off == n) {
            return false; /* a single trailing ':' */
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

static size_t match_ipv6(const uint8_t *p, size_t n)
{
    if (n >= 1 && p[0] == '[') {
        size_t k = 1;
        while (k < n && p[k] != ']')
            k++;
        if (k > 1 && k < n && ipv6_text_valid(p, k, 1))
            return k + 1;
    }
    size_t k = 0;
    while (k < n && (is_hex(p[k]) || p[k] == ':'))
        k++;
    return k > 0 && ipv6_text_valid(p, k, 0) ? k : 0;
}

static size_t match_onion(const uint8_t *p, size_t n)
{
    size_t k = 0;
    while (k < n && ((p[k] >= 'a' && p[k] <= 'z') || is_digit(p[k])))
        k++;
    static const char suffix[] = ".onion";
    size_t sl = sizeof suffix - 1;
    for (size_t i = 0; i < sl; i++)
        if (k + i >= n || p[k + i] != (uint8_t)suffix[i])
            return 0;
    return k + sl;
}

static bool domain_char(uint8_t c)
{
    return c == 0 || strchr(":#,;/ \n\r\t", c) == NULL;
}

static size_t match_domain(const uint8_t *p, size_t n)
{
    size_t k = 0;
    while (k < n && domain_char(p[k]))
        k++;
    static const char suffix[] = ".onion";
    size_t sl = sizeof suffix - 1;
    if (k == 0)
        return 0;
    bool onion = k >= sl;
    for (size_t i = 0; onion && i < sl; i++)
        onion = p[k - sl + i] == (uint8_t)suffix[i];
    return onion ? 0 : k;
}

size_t sx_smp_host_match(sx_slice text, sx_smp_host_kind *kind)
{
    *kind = (sx_smp_host_kind)0;
    const uint8_t *p = text.ptr;
    size_t n = text.len;
    if (n == 0 || p == NULL)
        return 0;
    static const struct {
        size_t (*match)(const uint8_t *, size_t);
        sx_smp_host_kind kind;
    } alts[] = {{match_ipv4, SX_SMP_HOST_IPV4},
                {match_ipv6, SX_SMP_HOST_IPV6},
                {match_onion, SX_SMP_HOST_ONION},
                {match_domain, SX_SMP_HOST_DOMAIN}};
    for (size_t i = 0; i < sizeof alts / sizeof alts[0]; i++) {
        size_t k = alts[i].match(p, n);
        if (k > 0) {
            *kind = alts[i].kind;
            return k;
        }
    }
    return 0;
}

bool sx_smp_host_valid(sx_slice text)
{
    sx_smp_host_kind kind;
    size_t k = sx_smp_host_match(text, &kind);
    return k > 0 && k == text.len;
}

/* ---- basic auth (PROTOCOL-NOTES A22) ---- */

bool sx_smp_basic_auth_valid(sx_slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        /* Printable non-space Latin-1, as the reference's Char8 test sees it. */
        bool printable = (c > 0x20 && c < 0x7f) || (c > 0xa0 && c != 0xad);
        if (!printable || c == '@' || c == ':' || c == '/')
            return false;
    }
    return true;
}

bool sx_smp_read_basic_auth(sx_reader *r, sx_slice *out)
{
    if (!sx_read_short(r, out))
        return false;
    return sx_smp_basic_auth_valid(*out) ? true : sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_smp_write_basic_auth(sx_writer *w, sx_slice auth)
{
    if (!sx_smp_basic_auth_valid(auth))
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_short(w, auth);
}

/* ---- server, link data, Maybe ---- */

bool sx_smp_read_server(sx_reader *r, sx_smp_server *out)
{
    memset(out, 0, sizeof *out);
    sx_smp_read_list(r, SX_SMP_ITEM_HOST, 255, &out->hosts);
    sx_read_short(r, &out->port);
    sx_read_short(r, &out->key_hash);
    return sx_reader_ok(r);
}

bool sx_smp_write_server(sx_writer *w, const sx_smp_server *s)
{
    return sx_smp_write_list(w, SX_SMP_ITEM_HOST, &s->hosts) && sx_write_short(w, s->port) &&
           sx_write_short(w, s->key_hash);
}

bool sx_smp_read_link_data(sx_reader *r, sx_smp_link_data *out)
{
    sx_read_large(r, &out->fixed);
    sx_read_large(r, &out->user);
    return sx_reader_ok(r);
}

bool sx_smp_write_link_data(sx_writer *w, const sx_smp_link_data *d)
{
    return sx_write_large(w, d->fixed) && sx_write_large(w, d->user);
}

bool sx_smp_read_maybe_short(sx_reader *r, bool *present, sx_slice *out)
{
    *out = sx_slice_of(NULL, 0);
    if (!sx_read_maybe(r, present))
        return false;
    return *present ? sx_read_short(r, out) : true;
}

bool sx_smp_write_maybe_short(sx_writer *w, bool present, sx_slice s)
{
    return sx_write_maybe(w, present) && (!present || sx_write_short(w, s));
}
