/* XRCP invitation URI (invitation.h, PROTOCOL-NOTES X1-X5). */
#include "xrcp/invitation.h"

#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "crypto/util.h"
#include "xrcp/json.h"

/* PROTOCOL-NOTES A16: DER SubjectPublicKeyInfo prefixes. */
static const uint8_t ED25519_SPKI[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
static const uint8_t X25519_SPKI[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};

#define SPKI_LEN 44
#define SPKI_TEXT 61 /* base64url of 44 bytes, '=' and NUL included */
#define SIG_TEXT 89  /* base64 of 64 bytes with NUL */

static const char HOST_FORBIDDEN[] = ":#,;/ \t\r\n%+&";

/* ---- escaping (PROTOCOL-NOTES X2) ---------------------------------------- */

static bool unreserved(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_' ||
           b == '.' || b == '~';
}

static bool write_escaped(sx_writer *w, sx_slice s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        uint8_t b = s.ptr[i];
        if (unreserved(b)) {
            if (!sx_write_u8(w, b))
                return false;
        } else {
            uint8_t e[3] = {'%', (uint8_t)hex[b >> 4], (uint8_t)hex[b & 15]};
            if (!sx_write_bytes(w, e, 3))
                return false;
        }
    }
    return true;
}

/* ---- writing -------------------------------------------------------------- */

static bool write_key_text(sx_writer *w, const uint8_t prefix[12], const uint8_t raw[SX_XRCP_KEY_LEN], bool escaped)
{
    uint8_t der[SPKI_LEN];
    char text[SPKI_TEXT];
    for (size_t i = 0; i < 12; i++)
        der[i] = prefix[i];
    for (size_t i = 0; i < SX_XRCP_KEY_LEN; i++)
        der[12 + i] = raw[i];
    if (sx_b64_encode(sx_slice_of(der, sizeof der), SX_B64_URL, text, sizeof text) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    return escaped ? write_escaped(w, sx_slice_str(text)) : sx_write_str(w, text);
}

static bool write_decimal(sx_writer *w, int64_t v)
{
    char buf[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        buf[sizeof buf - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        buf[sizeof buf - 1 - n++] = '-';
    return sx_write_bytes(w, buf + sizeof buf - n, n);
}

static bool host_ok(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > SX_XRCP_HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr(HOST_FORBIDDEN, host[i]) != NULL || (uint8_t)host[i] < 0x20)
            return false;
    return true;
}

static bool app_ok(sx_slice app)
{
    if (app.len == 0 || app.len > SX_XRCP_APP_MAX || !sx_xrcp_json_valid(app))
        return false;
    for (size_t i = 0; i < app.len; i++)
        if (app.ptr[i] == '+' || app.ptr[i] == '%')
            return false;
    return true;
}

bool sx_xrcp_invitation_write(sx_writer *w, const sx_xrcp_invitation *inv)
{
    if (inv == NULL || !host_ok(inv->host) || inv->app == NULL || !app_ok(sx_slice_of(inv->app, inv->app_len)) ||
        inv->v.min > inv->v.max)
        return sx_writer_fail(w, SX_E_USAGE);
    char ca[64];
    if (sx_b64_encode(sx_slice_of(inv->ca, SX_XRCP_FP_LEN), SX_B64_URL, ca, sizeof ca) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    sx_write_str(w, "xrcp:/");
    sx_write_str(w, ca);
    sx_write_str(w, "@");
    sx_write_str(w, inv->host);
    sx_write_str(w, ":");
    write_decimal(w, inv->port);
    sx_write_str(w, "#/?v=");
    write_decimal(w, inv->v.min);
    if (inv->v.max != inv->v.min) {
        sx_write_str(w, "-");
        write_decimal(w, inv->v.max);
    }
    sx_write_str(w, "&app=");
    write_escaped(w, sx_slice_of(inv->app, inv->app_len));
    sx_write_str(w, "&ts=");
    write_decimal(w, inv->ts);
    sx_write_str(w, "&skey=");
    write_key_text(w, ED25519_SPKI, inv->skey, true);
    sx_write_str(w, "&idkey=");
    write_key_text(w, ED25519_SPKI, inv->idkey, true);
    sx_write_str(w, "&dh=");
    write_key_text(w, X25519_SPKI, inv->dh, true);
    return sx_writer_status(w) == SX_OK;
}

/* The text the identity key signs: unsigned URI, "&ssig=", standard base64
 * of the session signature (PROTOCOL-NOTES X3). */
static bool write_idsig_text(sx_writer *w, const sx_xrcp_invitation *inv, const uint8_t ssig[SX_XRCP_SIG_LEN])
{
    char text[SIG_TEXT];
    if (!sx_xrcp_invitation_write(w, inv))
        return false;
    if (sx_b64_encode(sx_slice_of(ssig, SX_XRCP_SIG_LEN), SX_B64_STD, text, sizeof text) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    sx_write_str(w, "&ssig=");
    return sx_write_str(w, text);
}

bool sx_xrcp_signed_invitation_write(sx_writer *w, const sx_xrcp_signed_invitation *s)
{
    char text[SIG_TEXT];
    if (!sx_xrcp_invitation_write(w, &s->inv))
        return false;
    if (sx_b64_encode(sx_slice_of(s->ssig, SX_XRCP_SIG_LEN), SX_B64_URL, text, sizeof text) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    sx_write_str(w, "&ssig=");
    sx_write_str(w, text);
    if (sx_b64_encode(sx_slice_of(s->idsig, SX_XRCP_SIG_LEN), SX_B64_URL, text, sizeof text) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    sx_write_str(w, "&idsig=");
    return sx_write_str(w, text);
}

sx_status sx_xrcp_invitation_set_app(sx_xrcp_invitation *inv, sx_slice json)
{
    if (inv == NULL)
        return SX_E_USAGE;
    if (json.len > SX_XRCP_APP_MAX)
        return SX_E_LIMIT;
    if (!app_ok(json))
        return SX_E_USAGE;
    uint8_t *copy = malloc(json.len);
    if (copy == NULL)
        return SX_E_NOMEM;
    sx_writer w;
    sx_writer_init_fixed(&w, copy, json.len);
    if (!sx_write_slice(&w, json)) {
        free(copy);
        return SX_E_INTERNAL;
    }
    free(inv->app);
    inv->app = copy;
    inv->app_len = json.len;
    return SX_OK;
}

void sx_xrcp_invitation_clear(sx_xrcp_invitation *inv)
{
    if (inv == NULL)
        return;
    free(inv->app);
    sx_wipe(inv, sizeof *inv);
}

void sx_xrcp_signed_invitation_clear(sx_xrcp_signed_invitation *s)
{
    if (s == NULL)
        return;
    sx_xrcp_invitation_clear(&s->inv);
    sx_wipe(s, sizeof *s);
}

static bool same_public(const sx_key *k, const uint8_t raw[SX_XRCP_KEY_LEN])
{
    uint8_t got[SX_KEY_RAW_MAX];
    size_t len = 0;
    if (k == NULL || sx_key_alg_of(k) != SX_KEY_ED25519 || !sx_key_is_private(k) ||
        sx_key_raw_public(k, got, sizeof got, &len) != SX_OK || len != SX_XRCP_KEY_LEN)
        return false;
    return sx_ct_equal(sx_slice_of(got, len), sx_slice_of(raw, SX_XRCP_KEY_LEN));
}

static sx_status sign_text(const sx_key *k, sx_writer *w, uint8_t sig[SX_XRCP_SIG_LEN])
{
    size_t len = 0;
    sx_status st = sx_writer_status(w);
    if (st == SX_OK)
        st = sx_key_sign(k, sx_writer_slice(w), sig, SX_XRCP_SIG_LEN, &len);
    if (st == SX_OK && len != SX_XRCP_SIG_LEN)
        st = SX_E_INTERNAL;
    return st;
}

sx_status sx_xrcp_invitation_sign(const sx_xrcp_invitation *inv, const sx_key *skey, const sx_key *idkey,
                                  sx_xrcp_signed_invitation *out)
{
    if (inv == NULL || out == NULL || !same_public(skey, inv->skey) || !same_public(idkey, inv->idkey))
        return SX_E_USAGE;
    memset(out, 0, sizeof *out);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    sx_xrcp_invitation_write(&w, inv);
    sx_status st = sign_text(skey, &w, out->ssig);
    sx_writer_cleanup(&w);
    if (st == SX_OK) {
        sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
        write_idsig_text(&w, inv, out->ssig);
        st = sign_text(idkey, &w, out->idsig);
        sx_writer_cleanup(&w);
    }
    if (st == SX_OK) {
        out->inv = *inv;
        out->inv.app = NULL;
        out->inv.app_len = 0;
        st = sx_xrcp_invitation_set_app(&out->inv, sx_slice_of(inv->app, inv->app_len));
    }
    if (st != SX_OK)
        sx_xrcp_signed_invitation_clear(out);
    return st;
}

sx_status sx_xrcp_invitation_verify(const sx_xrcp_signed_invitation *s)
{
    if (s == NULL)
        return SX_E_USAGE;
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    sx_status st = sx_xrcp_invitation_write(&w, &s->inv) ? SX_OK : SX_E_AUTH;
    if (st == SX_OK)
        st = sx_key_verify_raw(SX_KEY_ED25519, sx_slice_of(s->inv.skey, SX_XRCP_KEY_LEN), sx_writer_slice(&w),
                               sx_slice_of(s->ssig, SX_XRCP_SIG_LEN));
    sx_writer_cleanup(&w);
    if (st != SX_OK)
        return SX_E_AUTH;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    st = write_idsig_text(&w, &s->inv, s->ssig) ? SX_OK : SX_E_AUTH;
    if (st == SX_OK)
        st = sx_key_verify_raw(SX_KEY_ED25519, sx_slice_of(s->inv.idkey, SX_XRCP_KEY_LEN), sx_writer_slice(&w),
                               sx_slice_of(s->idsig, SX_XRCP_SIG_LEN));
    sx_writer_cleanup(&w);
    return st == SX_OK ? SX_OK : SX_E_AUTH;
}

/* ---- parsing -------------------------------------------------------------- */

bool sx_xrcp_b64_exact(sx_slice text, uint8_t *out, size_t want)
{
    size_t i = 0;
    while (i < text.len && (unreserved(text.ptr[i]) && text.ptr[i] != '.' && text.ptr[i] != '~'))
        i++;
    if (i == 0)
        return false;
    while (i < text.len && text.ptr[i] == '=')
        i++;
    if (i != text.len)
        return false;
    size_t len = 0;
    return sx_b64_decode((const char *)text.ptr, text.len, SX_B64_URL, out, want, &len) == SX_OK && len == want;
}

static bool parse_key(sx_slice text, sx_key_alg alg, uint8_t raw[SX_XRCP_KEY_LEN])
{
    uint8_t der[SPKI_LEN];
    if (!sx_xrcp_b64_exact(text, der, SPKI_LEN))
        return false;
    const uint8_t *prefix = alg == SX_KEY_ED25519 ? ED25519_SPKI : X25519_SPKI;
    sx_reader r;
    sx_reader_init(&r, der, sizeof der);
    sx_read_expect(&r, sx_slice_of(prefix, 12));
    sx_read_copy(&r, raw, SX_XRCP_KEY_LEN);
    return sx_reader_finish(&r) == SX_OK;
}

/* Decimal digits only, value <= max. */
static bool parse_uint(sx_slice t, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (t.len == 0)
        return false;
    for (size_t i = 0; i < t.len; i++) {
        if (t.ptr[i] < '0' || t.ptr[i] > '9')
            return false;
        uint64_t d = (uint64_t)(t.ptr[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_version_range(sx_slice t, sx_version_range *out)
{
    size_t dash = 0;
    while (dash < t.len && t.ptr[dash] != '-')
        dash++;
    uint64_t lo = 0, hi = 0;
    if (!parse_uint(sx_slice_of(t.ptr, dash), 65535, &lo))
        return false;
    if (dash == t.len)
        hi = lo;
    else if (!parse_uint(sx_slice_of(t.ptr + dash + 1, t.len - dash - 1), 65535, &hi))
        return false;
    if (lo > hi)
        return false;
    out->min = (uint16_t)lo;
    out->max = (uint16_t)hi;
    return true;
}

static bool parse_ts(sx_slice t, int64_t *out)
{
    bool neg = t.len > 0 && t.ptr[0] == '-';
    uint64_t v = 0;
    if (!parse_uint(neg ? sx_slice_of(t.ptr + 1, t.len - 1) : t, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &v))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool host_valid(sx_slice h)
{
    if (h.len == 0 || h.len > SX_XRCP_HOST_MAX)
        return false;
    for (size_t i = 0; i < h.len; i++)
        if (strchr(":#,;/ \t\r\n", h.ptr[i]) != NULL || h.ptr[i] == 0)
            return false;
    /* a name ending in .onion must be an onion address: lower-case letters and digits */
    static const char onion[] = ".onion";
    size_t ol = sizeof onion - 1;
    if (h.len >= ol && memcmp(h.ptr + h.len - ol, onion, ol) == 0) {
        for (size_t i = 0; i + ol < h.len; i++)
            if (!((h.ptr[i] >= 'a' && h.ptr[i] <= 'z') || (h.ptr[i] >= '0' && h.ptr[i] <= '9')))
                return false;
    }
    return true;
}

/* The query's items one by one (PROTOCOL-NOTES X2): split at '&' and ';',
 * the name before the first '='. */
typedef struct qiter {
    sx_slice q;
    size_t off;
} qiter;

static bool qnext(qiter *it, sx_slice *name, sx_slice *value)
{
    if (it->off >= it->q.len)
        return false;
    size_t start = it->off, end = start;
    while (end < it->q.len && it->q.ptr[end] != '&' && it->q.ptr[end] != ';')
        end++;
    it->off = end + 1;
    size_t eq = start;
    while (eq < end && it->q.ptr[eq] != '=')
        eq++;
    *name = sx_slice_of(it->q.ptr + start, eq - start);
    *value = eq < end ? sx_slice_of(it->q.ptr + eq + 1, end - eq - 1) : sx_slice_of(it->q.ptr + end, 0);
    return true;
}

/* The first item named key (after unescaping) of q, unescaped into buf
 * (q.len bytes at least). The name is unescaped into buf first, and the
 * value after it overwrites it. */
static bool qlookup(sx_slice q, const char *key, uint8_t *buf, sx_slice *value)
{
    qiter it = {q, 0};
    sx_slice n, v;
    size_t klen = strlen(key);
    while (qnext(&it, &n, &v)) {
        size_t nl = sx_url_decode(n, buf, n.len);
        if (nl == klen && memcmp(buf, key, klen) == 0) {
            *value = sx_slice_of(buf, sx_url_decode(v, buf, v.len));
            return true;
        }
    }
    return false;
}

/* q and sigs lie inside a URI of uri_len bytes, which bounds every value. */
static sx_status parse_query(sx_slice q, sx_slice sigs, size_t uri_len, sx_xrcp_signed_invitation *out)
{
    uint8_t *buf = malloc(uri_len + 1);
    uint8_t *buf2 = malloc(uri_len + 1);
    sx_status st = SX_E_PROTOCOL;
    sx_slice v;
    if (buf == NULL || buf2 == NULL) {
        st = SX_E_NOMEM;
        goto done;
    }
    if (!qlookup(q, "v", buf, &v) || !parse_version_range(v, &out->inv.v))
        goto done;
    if (!qlookup(q, "ts", buf, &v) || !parse_ts(sx_slice_of(buf2, sx_url_decode(v, buf2, v.len)), &out->inv.ts))
        goto done;
    if (!qlookup(q, "skey", buf, &v) || !parse_key(v, SX_KEY_ED25519, out->inv.skey))
        goto done;
    if (!qlookup(q, "idkey", buf, &v) || !parse_key(v, SX_KEY_ED25519, out->inv.idkey))
        goto done;
    if (!qlookup(q, "dh", buf, &v) || !parse_key(v, SX_KEY_X25519, out->inv.dh))
        goto done;
    if (!qlookup(sigs, "ssig", buf, &v) || !sx_xrcp_b64_exact(v, out->ssig, SX_XRCP_SIG_LEN))
        goto done;
    if (!qlookup(sigs, "idsig", buf, &v) || !sx_xrcp_b64_exact(v, out->idsig, SX_XRCP_SIG_LEN))
        goto done;
    /* the app value is unescaped a second time (PROTOCOL-NOTES X4) */
    if (!qlookup(q, "app", buf, &v))
        goto done;
    size_t alen = sx_url_decode(v, buf2, v.len);
    if (alen > SX_XRCP_APP_MAX) {
        st = SX_E_LIMIT;
        goto done;
    }
    if (!sx_xrcp_json_valid(sx_slice_of(buf2, alen)))
        goto done;
    out->inv.app = buf2;
    out->inv.app_len = alen;
    buf2 = NULL;
    st = SX_OK;
done:
    free(buf);
    free(buf2);
    return st;
}

/* Where "&ssig=" first occurs in s, or s.len. */
static size_t find_ssig(sx_slice s)
{
    static const char pat[] = "&ssig=";
    size_t pl = sizeof pat - 1;
    for (size_t i = 0; i + pl <= s.len; i++)
        if (memcmp(s.ptr + i, pat, pl) == 0)
            return i;
    return s.len;
}

sx_status sx_xrcp_invitation_decode(sx_slice uri, sx_xrcp_signed_invitation *out)
{
    if (out == NULL || (uri.ptr == NULL && uri.len != 0))
        return SX_E_USAGE;
    memset(out, 0, sizeof *out);
    if (uri.len > SX_XRCP_URI_MAX)
        return SX_E_LIMIT;
    sx_reader r;
    sx_slice ca, host, port, q;
    sx_reader_init_slice(&r, uri);
    sx_read_expect_str(&r, "xrcp:/");
    sx_read_until(&r, "@", &ca);
    sx_read_expect_str(&r, "@");
    sx_read_until(&r, ":", &host);
    sx_read_expect_str(&r, ":");
    sx_read_until(&r, "#", &port);
    sx_read_expect_str(&r, "#/?");
    sx_read_tail(&r, &q);
    if (sx_reader_finish(&r) != SX_OK)
        return SX_E_PROTOCOL;
    uint64_t p = 0;
    uint8_t hbuf[SX_XRCP_HOST_MAX * 3 + 1];
    if (!sx_xrcp_b64_exact(ca, out->inv.ca, SX_XRCP_FP_LEN) || !parse_uint(port, 65535, &p) ||
        host.len > sizeof hbuf - 1)
        return SX_E_PROTOCOL;
    sx_slice h = sx_slice_of(hbuf, sx_url_decode(host, hbuf, host.len));
    if (!host_valid(h))
        return SX_E_PROTOCOL;
    sx_reader_init_slice(&r, h);
    sx_read_copy(&r, out->inv.host, h.len);
    out->inv.port = (uint16_t)p;
    /* the query runs to the first space; a space means trailing input */
    for (size_t i = 0; i < q.len; i++)
        if (q.ptr[i] == ' ')
            return SX_E_PROTOCOL;
    if (q.len > 0 && q.ptr[0] == '?') /* the query parser drops one leading '?' */
        q = sx_slice_of(q.ptr + 1, q.len - 1);
    size_t at = find_ssig(uri);
    if (at == uri.len)
        return SX_E_PROTOCOL;
    sx_slice sigs = sx_slice_of(uri.ptr + at + 1, uri.len - at - 1);
    sx_status st = parse_query(q, sigs, uri.len, out);
    if (st != SX_OK)
        sx_xrcp_signed_invitation_clear(out);
    return st;
}

sx_status sx_xrcp_invitation_decode_verified(sx_slice uri, sx_xrcp_signed_invitation *out)
{
    sx_status st = sx_xrcp_invitation_decode(uri, out);
    if (st == SX_OK)
        st = sx_xrcp_invitation_verify(out);
    if (st != SX_OK)
        sx_xrcp_signed_invitation_clear(out);
    return st;
}
