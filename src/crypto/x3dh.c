/* E2E ratchet parameters and the PQ X3DH (see x3dh.h). Byte layouts and the
 * links' text form follow the reference's Ratchet.hs encoders; the KEM half
 * follows reference protocol/pqdr.md. X448 keys are kept raw in memory and
 * wrapped into OpenSSL keys only for a DH or to print one. */
#include "crypto/x3dh.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "crypto/hash.h"
#include "crypto/util.h"

#define X3DH_INFO "SimpleXX3DH"
#define X3DH_SALT_LEN 64
#define PRIVATE_FORMAT 1

/* ---- small crypto helpers ------------------------------------------------ */

void sx_x3dh_random(const sx_sntrup761_rng *rng, uint8_t *out, size_t n)
{
    if (rng != NULL && rng->fill_cb != NULL)
        rng->fill_cb(rng->ctx, out, n);
    else
        sx_random_bytes(out, n);
}

sx_status sx_x448_public(const uint8_t priv[SX_X448_LEN], uint8_t pub[SX_X448_LEN])
{
    SX_ENSURE(priv != NULL && pub != NULL, SX_E_USAGE);
    sx_key *k = NULL;
    size_t n = 0;
    sx_status st = sx_key_from_raw_private(SX_KEY_X448, sx_slice_of(priv, SX_X448_LEN), &k);
    if (st == SX_OK)
        st = sx_key_raw_public(k, pub, SX_X448_LEN, &n);
    sx_key_free(k);
    if (st == SX_OK && n != SX_X448_LEN)
        st = SX_E_INTERNAL;
    return st;
}

sx_status sx_x448_generate(const sx_sntrup761_rng *rng, uint8_t priv[SX_X448_LEN],
                           uint8_t pub[SX_X448_LEN])
{
    SX_ENSURE(priv != NULL && pub != NULL, SX_E_USAGE);
    /* Every 56-byte string is an X448 private key (clamped when used). */
    sx_x3dh_random(rng, priv, SX_X448_LEN);
    sx_status st = sx_x448_public(priv, pub);
    if (st != SX_OK)
        sx_wipe(priv, SX_X448_LEN);
    return st;
}

sx_status sx_x448_dh(const uint8_t priv[SX_X448_LEN], const uint8_t pub[SX_X448_LEN],
                     uint8_t out[SX_X448_LEN])
{
    SX_ENSURE(priv != NULL && pub != NULL && out != NULL, SX_E_USAGE);
    sx_key *k = NULL, *p = NULL;
    size_t n = 0;
    sx_status st = sx_key_from_raw_private(SX_KEY_X448, sx_slice_of(priv, SX_X448_LEN), &k);
    if (st == SX_OK)
        st = sx_key_from_raw_public(SX_KEY_X448, sx_slice_of(pub, SX_X448_LEN), &p);
    if (st == SX_OK)
        st = sx_key_dh(k, p, out, SX_X448_LEN, &n);
    if (st == SX_OK && n != SX_X448_LEN)
        st = SX_E_INTERNAL;
    if (st != SX_OK)
        sx_wipe(out, SX_X448_LEN);
    sx_key_free(p);
    sx_key_free(k);
    return st;
}

/* ---- encodings ----------------------------------------------------------- */

bool sx_x448_write_public_short(sx_writer *w, const uint8_t raw[SX_X448_LEN])
{
    sx_key *k = NULL;
    sx_status st = sx_key_from_raw_public(SX_KEY_X448, sx_slice_of(raw, SX_X448_LEN), &k);
    if (st != SX_OK)
        return sx_writer_fail(w, st);
    bool ok = sx_key_write_public_short(w, k);
    sx_key_free(k);
    return ok;
}

/* The raw key of an X448 SubjectPublicKeyInfo, checked strictly. */
static sx_status x448_from_der(sx_slice der, uint8_t raw[SX_X448_LEN])
{
    sx_key_alg alg;
    sx_status st = sx_key_check_public(der, SX_KEY_BIT(SX_KEY_X448), &alg);
    if (st != SX_OK)
        return st;
    /* The checked DER is a fixed prefix followed by the raw key. */
    sx_reader kr;
    sx_reader_init_slice(&kr, der);
    sx_slice prefix;
    if (!sx_read_bytes(&kr, der.len - SX_X448_LEN, &prefix) || !sx_read_copy(&kr, raw, SX_X448_LEN))
        return SX_E_PROTOCOL;
    return SX_OK;
}

bool sx_x448_read_public_short(sx_reader *r, uint8_t raw[SX_X448_LEN])
{
    sx_slice der;
    if (!sx_read_short(r, &der))
        return false;
    sx_status st = x448_from_der(der, raw);
    return st == SX_OK || sx_reader_fail(r, st);
}

/* large(bytes) of exactly n bytes, copied to dst. */
static bool read_large_exact(sx_reader *r, size_t n, uint8_t *dst)
{
    uint16_t len;
    if (!sx_read_u16(r, &len))
        return false;
    if (len != n)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_read_copy(r, dst, n);
}

bool sx_kem_params_write_maybe(sx_writer *w, const sx_kem_params *p)
{
    switch (p->state) {
    case SX_KEM_NONE: return sx_write_maybe(w, false);
    case SX_KEM_PROPOSED:
        return sx_write_maybe(w, true) && sx_write_u8(w, 'P') &&
               sx_write_large(w, sx_slice_of(p->pk, sizeof p->pk));
    case SX_KEM_ACCEPTED:
        return sx_write_maybe(w, true) && sx_write_u8(w, 'A') &&
               sx_write_large(w, sx_slice_of(p->ct, sizeof p->ct)) &&
               sx_write_large(w, sx_slice_of(p->pk, sizeof p->pk));
    default: return sx_writer_fail(w, SX_E_USAGE);
    }
}

bool sx_kem_params_read_maybe(sx_reader *r, sx_kem_params *out)
{
    bool present = false;
    char tag = 0;
    out->state = SX_KEM_NONE;
    if (!sx_read_maybe(r, &present))
        return false;
    if (!present)
        return true;
    if (!sx_read_char(r, &tag))
        return false;
    switch (tag) {
    case 'P':
        out->state = SX_KEM_PROPOSED;
        return read_large_exact(r, sizeof out->pk, out->pk);
    case 'A':
        out->state = SX_KEM_ACCEPTED;
        return read_large_exact(r, sizeof out->ct, out->ct) &&
               read_large_exact(r, sizeof out->pk, out->pk);
    default: out->state = SX_KEM_NONE; return sx_reader_fail(r, SX_E_PROTOCOL);
    }
}

bool sx_e2e_params_write(sx_writer *w, const sx_e2e_params *p)
{
    return sx_write_version(w, p->version) && sx_x448_write_public_short(w, p->k1) &&
           sx_x448_write_public_short(w, p->k2) &&
           (p->version < SX_E2E_VERSION_PQ || sx_kem_params_write_maybe(w, &p->kem));
}

bool sx_e2e_params_read(sx_reader *r, sx_e2e_params *out)
{
    out->kem.state = SX_KEM_NONE;
    if (!sx_read_version(r, &out->version) || !sx_x448_read_public_short(r, out->k1) ||
        !sx_x448_read_public_short(r, out->k2))
        return false;
    out->range.min = out->range.max = out->version;
    return out->version < SX_E2E_VERSION_PQ || sx_kem_params_read_maybe(r, &out->kem);
}

bool sx_e2e_params_write_uri(sx_writer *w, const sx_e2e_params *p)
{
    return sx_write_version_range(w, p->range) && sx_x448_write_public_short(w, p->k1) &&
           sx_x448_write_public_short(w, p->k2) && sx_kem_params_write_maybe(w, &p->kem);
}

bool sx_e2e_params_read_uri(sx_reader *r, sx_e2e_params *out)
{
    out->kem.state = SX_KEM_NONE;
    if (!sx_read_version_range(r, &out->range) || !sx_x448_read_public_short(r, out->k1) ||
        !sx_x448_read_public_short(r, out->k2) || !sx_kem_params_read_maybe(r, &out->kem))
        return false;
    out->version = out->range.max;
    return true;
}

sx_status sx_e2e_params_decode(sx_slice in, sx_e2e_params *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    (void)sx_e2e_params_read(&r, out);
    return sx_reader_finish(&r);
}

sx_status sx_e2e_params_decode_uri(sx_slice in, sx_e2e_params *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    (void)sx_e2e_params_read_uri(&r, out);
    return sx_reader_finish(&r);
}

/* ---- text form ------------------------------------------------------------ */

/* Lengths of padded base64url: the SPKI of an X448 key (68 bytes), a KEM
 * ciphertext and a KEM public key. */
#define B64_LEN(n) (((n) + 2) / 3 * 4)
#define X448_SPKI_LEN (12 + SX_X448_LEN)
#define X448_TEXT_LEN B64_LEN(X448_SPKI_LEN)
#define KEM_CT_TEXT_LEN B64_LEN(SX_SNTRUP761_CT_LEN)
#define KEM_PK_TEXT_LEN B64_LEN(SX_SNTRUP761_PK_LEN)

_Static_assert(SX_E2E_PARAMS_TEXT_MAX == sizeof "v=65534-65535&x3dh=," - 1 + 2 * X448_TEXT_LEN +
                                             sizeof "&kem_ct=&kem_key=" - 1 + KEM_CT_TEXT_LEN +
                                             KEM_PK_TEXT_LEN,
               "longest text form");

static bool write_text_b64(sx_writer *w, const uint8_t *p, size_t n)
{
    char buf[KEM_PK_TEXT_LEN + 1];
    sx_status st = sx_b64_encode(sx_slice_of(p, n), SX_B64_URL, buf, sizeof buf);
    return st == SX_OK ? sx_write_str(w, buf) : sx_writer_fail(w, st);
}

static bool write_text_x448(sx_writer *w, const uint8_t raw[SX_X448_LEN])
{
    char buf[SX_KEY_TEXT_MAX];
    sx_key *k = NULL;
    sx_status st = sx_key_from_raw_public(SX_KEY_X448, sx_slice_of(raw, SX_X448_LEN), &k);
    if (st == SX_OK)
        st = sx_key_public_to_text(k, buf, sizeof buf);
    sx_key_free(k);
    return st == SX_OK ? sx_write_str(w, buf) : sx_writer_fail(w, st);
}

static bool write_text_range(sx_writer *w, sx_version_range vr)
{
    char buf[sizeof "65535-65535"];
    if (vr.min > vr.max)
        return sx_writer_fail(w, SX_E_USAGE);
    if (vr.min == vr.max)
        snprintf(buf, sizeof buf, "%u", (unsigned)vr.min);
    else
        snprintf(buf, sizeof buf, "%u-%u", (unsigned)vr.min, (unsigned)vr.max);
    return sx_write_str(w, buf);
}

bool sx_e2e_params_write_text(sx_writer *w, const sx_e2e_params *p)
{
    if (!(sx_write_str(w, "v=") && write_text_range(w, p->range) && sx_write_str(w, "&x3dh=") &&
          write_text_x448(w, p->k1) && sx_write_str(w, ",") && write_text_x448(w, p->k2)))
        return false;
    if (p->range.max < SX_E2E_VERSION_PQ)
        return true;
    switch (p->kem.state) {
    case SX_KEM_NONE: return true;
    case SX_KEM_PROPOSED:
        return sx_write_str(w, "&kem_key=") && write_text_b64(w, p->kem.pk, sizeof p->kem.pk);
    case SX_KEM_ACCEPTED:
        return sx_write_str(w, "&kem_ct=") && write_text_b64(w, p->kem.ct, sizeof p->kem.ct) &&
               sx_write_str(w, "&kem_key=") && write_text_b64(w, p->kem.pk, sizeof p->kem.pk);
    default: return sx_writer_fail(w, SX_E_USAGE);
    }
}

/* The text up to (not including) the next delim or the end. */
static bool read_text_field(sx_reader *r, char delim, sx_slice *out)
{
    sx_reader ahead = *r;
    sx_slice rest;
    if (!sx_read_tail(&ahead, &rest))
        return sx_reader_fail(r, ahead.err);
    const uint8_t *end = rest.len > 0 ? memchr(rest.ptr, delim, rest.len) : NULL;
    return sx_read_bytes(r, end != NULL ? (size_t)(end - rest.ptr) : rest.len, out);
}

/* A canonical decimal in [0, 65535]: 1 to 5 digits, no leading zero. */
static bool parse_text_u16(sx_slice s, uint16_t *out)
{
    uint32_t v = 0;
    if (s.len == 0 || s.len > 5 || (s.len > 1 && s.ptr[0] == '0'))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s.ptr[i] - '0');
    }
    if (v > UINT16_MAX)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* "<min>" or "<min>-<max>" with min < max, up to the next '&'. */
static bool read_text_range(sx_reader *r, sx_version_range *out)
{
    sx_slice field, lo, hi;
    if (!read_text_field(r, '&', &field))
        return false;
    sx_reader fr;
    sx_reader_init_slice(&fr, field);
    if (!read_text_field(&fr, '-', &lo) || !parse_text_u16(lo, &out->min))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    out->max = out->min;
    if (sx_reader_remaining(&fr) == 0)
        return true;
    if (!sx_read_expect_str(&fr, "-") || !sx_read_tail(&fr, &hi) ||
        !parse_text_u16(hi, &out->max) || out->min >= out->max)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
}

/* Only base64url digits, then at most two '='. Checked here because the
 * decoder underneath (libsodium 1.0.18) takes any byte >= 0x80 for a digit. */
static bool b64url_chars(sx_slice s)
{
    size_t digits = 0;
    while (digits < s.len && ((s.ptr[digits] >= 'A' && s.ptr[digits] <= 'Z') ||
                              (s.ptr[digits] >= 'a' && s.ptr[digits] <= 'z') ||
                              (s.ptr[digits] >= '0' && s.ptr[digits] <= '9') ||
                              s.ptr[digits] == '-' || s.ptr[digits] == '_'))
        digits++;
    for (size_t i = digits; i < s.len; i++)
        if (s.ptr[i] != '=' || i - digits >= 2)
            return false;
    return true;
}

/* Canonical padded base64url of exactly n bytes, up to the next delim. */
static bool read_text_b64(sx_reader *r, char delim, uint8_t *dst, size_t n)
{
    sx_slice field;
    size_t got = 0;
    if (!read_text_field(r, delim, &field))
        return false;
    /* The padded length rules out missing or extra '='; the decoder rejects
     * nonzero bits after the last byte. */
    if (field.len != B64_LEN(n) || !b64url_chars(field) ||
        sx_b64_decode((const char *)field.ptr, field.len, SX_B64_URL, dst, n, &got) != SX_OK ||
        got != n)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
}

static bool read_text_x448(sx_reader *r, char delim, uint8_t raw[SX_X448_LEN])
{
    uint8_t der[X448_SPKI_LEN];
    if (!read_text_b64(r, delim, der, sizeof der))
        return false;
    sx_status st = x448_from_der(sx_slice_of(der, sizeof der), raw);
    return st == SX_OK || sx_reader_fail(r, st);
}

/* Nothing, "&kem_key=<pk>" or "&kem_ct=<ct>&kem_key=<pk>"; the KEM part is
 * only read for max >= 3 (below, any text left fails as trailing). */
static bool read_text_kem(sx_reader *r, uint16_t max, sx_kem_params *out)
{
    out->state = SX_KEM_NONE;
    if (max < SX_E2E_VERSION_PQ || sx_reader_remaining(r) == 0)
        return true;
    sx_reader probe = *r;
    bool accepted = sx_read_expect_str(&probe, "&kem_ct=");
    if (accepted) {
        *r = probe;
        if (!read_text_b64(r, '&', out->ct, sizeof out->ct))
            return false;
    }
    if (!sx_read_expect_str(r, "&kem_key=") || !read_text_b64(r, '&', out->pk, sizeof out->pk))
        return false;
    out->state = accepted ? SX_KEM_ACCEPTED : SX_KEM_PROPOSED;
    return true;
}

sx_status sx_e2e_params_decode_text(const char *text, size_t len, sx_e2e_params *out)
{
    SX_ENSURE(out != NULL && (text != NULL || len == 0), SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)text, len);
    (void)(sx_read_expect_str(&r, "v=") && read_text_range(&r, &out->range) &&
           sx_read_expect_str(&r, "&x3dh=") && read_text_x448(&r, ',', out->k1) &&
           sx_read_expect_str(&r, ",") && read_text_x448(&r, '&', out->k2) &&
           read_text_kem(&r, out->range.max, &out->kem));
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    out->version = out->range.max;
    return SX_OK;
}

/* ---- private half -------------------------------------------------------- */

void sx_e2e_private_wipe(sx_e2e_private *p)
{
    if (p != NULL)
        sx_wipe(p, sizeof *p);
}

bool sx_e2e_private_write(sx_writer *w, const sx_e2e_private *p)
{
    bool ok = sx_write_u8(w, PRIVATE_FORMAT) && sx_write_bytes(w, p->k1, sizeof p->k1) &&
              sx_write_bytes(w, p->k2, sizeof p->k2) && sx_write_u8(w, (uint8_t)p->kem);
    if (!ok || p->kem == SX_KEM_NONE)
        return ok;
    if (p->kem != SX_KEM_PROPOSED && p->kem != SX_KEM_ACCEPTED)
        return sx_writer_fail(w, SX_E_USAGE);
    ok = sx_write_bytes(w, p->kem_pk, sizeof p->kem_pk) &&
         sx_write_bytes(w, p->kem_sk, sizeof p->kem_sk);
    if (ok && p->kem == SX_KEM_ACCEPTED)
        ok = sx_write_bytes(w, p->kem_ct, sizeof p->kem_ct) &&
             sx_write_bytes(w, p->kem_ss, sizeof p->kem_ss);
    return ok;
}

bool sx_e2e_private_read(sx_reader *r, sx_e2e_private *out)
{
    uint8_t format = 0, kem = 0;
    memset(out, 0, sizeof *out);
    if (!sx_read_u8(r, &format) || !sx_read_copy(r, out->k1, sizeof out->k1) ||
        !sx_read_copy(r, out->k2, sizeof out->k2) || !sx_read_u8(r, &kem))
        goto fail;
    if (format != PRIVATE_FORMAT || kem > SX_KEM_ACCEPTED) {
        sx_reader_fail(r, SX_E_PROTOCOL);
        goto fail;
    }
    out->kem = (sx_kem_state)kem;
    if (kem != SX_KEM_NONE &&
        (!sx_read_copy(r, out->kem_pk, sizeof out->kem_pk) ||
         !sx_read_copy(r, out->kem_sk, sizeof out->kem_sk)))
        goto fail;
    if (kem == SX_KEM_ACCEPTED && (!sx_read_copy(r, out->kem_ct, sizeof out->kem_ct) ||
                                   !sx_read_copy(r, out->kem_ss, sizeof out->kem_ss)))
        goto fail;
    return true;
fail:
    sx_e2e_private_wipe(out);
    return false;
}

/* ---- generation ---------------------------------------------------------- */

sx_use_kem sx_e2e_reply_kem(uint16_t v, const sx_kem_params *peer, bool pq_support)
{
    if (!pq_support || v < SX_E2E_VERSION_PQ)
        return SX_USE_KEM_NO;
    if (peer != NULL && peer->state == SX_KEM_PROPOSED)
        return SX_USE_KEM_ACCEPT;
    return SX_USE_KEM_PROPOSE;
}

sx_status sx_e2e_generate(uint16_t v, sx_use_kem use, const uint8_t *peer_kem_pk,
                          const sx_sntrup761_rng *rng, sx_e2e_private *priv, sx_e2e_params *pub)
{
    SX_ENSURE(priv != NULL && pub != NULL, SX_E_USAGE);
    SX_ENSURE(use != SX_USE_KEM_ACCEPT || peer_kem_pk != NULL, SX_E_USAGE);
    memset(priv, 0, sizeof *priv);
    memset(pub, 0, sizeof *pub);
    pub->version = v;
    pub->range.min = pub->range.max = v;
    sx_status st = sx_x448_generate(rng, priv->k1, pub->k1);
    if (st == SX_OK)
        st = sx_x448_generate(rng, priv->k2, pub->k2);
    if (st == SX_OK && v >= SX_E2E_VERSION_PQ && use != SX_USE_KEM_NO) {
        st = sx_sntrup761_keypair(priv->kem_pk, priv->kem_sk, rng);
        memcpy(pub->kem.pk, priv->kem_pk, sizeof pub->kem.pk);
        priv->kem = pub->kem.state = SX_KEM_PROPOSED;
        if (st == SX_OK && use == SX_USE_KEM_ACCEPT) {
            st = sx_sntrup761_enc(priv->kem_ct, priv->kem_ss, peer_kem_pk, rng);
            memcpy(pub->kem.ct, priv->kem_ct, sizeof pub->kem.ct);
            priv->kem = pub->kem.state = SX_KEM_ACCEPTED;
        }
    }
    if (st != SX_OK) {
        sx_e2e_private_wipe(priv);
        memset(pub, 0, sizeof *pub);
    }
    return st;
}

/* ---- X3DH ---------------------------------------------------------------- */

void sx_x3dh_result_wipe(sx_x3dh_result *res)
{
    if (res != NULL)
        sx_wipe(res, sizeof *res);
}

/* HKDF over dh1 || dh2 || dh3 [|| ss] into hk, nhk, rk; ad = a1 || a2. */
static sx_status x3dh_finish(const uint8_t a1[SX_X448_LEN], const uint8_t a2[SX_X448_LEN],
                             const uint8_t dhs[3][SX_X448_LEN], sx_x3dh_result *out)
{
    uint8_t ikm[3 * SX_X448_LEN + SX_SNTRUP761_SS_LEN];
    uint8_t okm[3 * SX_RATCHET_KEY_LEN];
    static const uint8_t salt[X3DH_SALT_LEN];
    size_t n = 3 * SX_X448_LEN;
    memcpy(ikm, dhs, n);
    if (out->kem_accepted) {
        memcpy(ikm + n, out->pqrss, SX_SNTRUP761_SS_LEN);
        n += SX_SNTRUP761_SS_LEN;
    }
    sx_status st = sx_hkdf_sha512(sx_slice_of(salt, sizeof salt), sx_slice_of(ikm, n),
                                  sx_slice_str(X3DH_INFO), okm, sizeof okm);
    if (st == SX_OK) {
        memcpy(out->snd_hk, okm, SX_RATCHET_KEY_LEN);
        memcpy(out->rcv_next_hk, okm + SX_RATCHET_KEY_LEN, SX_RATCHET_KEY_LEN);
        memcpy(out->rk, okm + 2 * SX_RATCHET_KEY_LEN, SX_RATCHET_KEY_LEN);
        memcpy(out->ad, a1, SX_X448_LEN);
        memcpy(out->ad + SX_X448_LEN, a2, SX_X448_LEN);
    }
    sx_wipe(ikm, sizeof ikm);
    sx_wipe(okm, sizeof okm);
    return st;
}

static void keep_kem_keys(const sx_e2e_private *own, sx_x3dh_result *out)
{
    out->kem_keys = true;
    memcpy(out->kem_pk, own->kem_pk, sizeof out->kem_pk);
    memcpy(out->kem_sk, own->kem_sk, sizeof out->kem_sk);
}

sx_status sx_x3dh_snd(const sx_e2e_private *own, const sx_e2e_params *peer, sx_x3dh_result *out)
{
    SX_ENSURE(own != NULL && peer != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    /* The initiator's params can only propose. */
    SX_ENSURE(peer->kem.state != SX_KEM_ACCEPTED, SX_E_PROTOCOL);
    if (own->kem != SX_KEM_NONE && peer->version >= SX_E2E_VERSION_PQ) {
        if (own->kem == SX_KEM_ACCEPTED && peer->kem.state == SX_KEM_PROPOSED) {
            keep_kem_keys(own, out);
            out->kem_accepted = true;
            memcpy(out->pqrr, peer->kem.pk, sizeof out->pqrr);
            memcpy(out->pqrss, own->kem_ss, sizeof out->pqrss);
            memcpy(out->pqrct, own->kem_ct, sizeof out->pqrct);
        } else if (own->kem == SX_KEM_PROPOSED) {
            /* Both may propose (renegotiation): no secret yet. */
            keep_kem_keys(own, out);
        } else {
            return SX_E_PROTOCOL;
        }
    }
    uint8_t pub1[SX_X448_LEN];
    uint8_t dhs[3][SX_X448_LEN];
    sx_status st = sx_x448_public(own->k1, pub1);
    if (st == SX_OK)
        st = sx_x448_dh(own->k2, peer->k1, dhs[0]);
    if (st == SX_OK)
        st = sx_x448_dh(own->k1, peer->k2, dhs[1]);
    if (st == SX_OK)
        st = sx_x448_dh(own->k2, peer->k2, dhs[2]);
    if (st == SX_OK)
        st = x3dh_finish(pub1, peer->k1, (const uint8_t(*)[SX_X448_LEN])dhs, out);
    sx_wipe(dhs, sizeof dhs);
    if (st != SX_OK)
        sx_x3dh_result_wipe(out);
    return st;
}

sx_status sx_x3dh_rcv(const sx_e2e_private *own, const sx_e2e_params *peer, sx_x3dh_result *out)
{
    SX_ENSURE(own != NULL && peer != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    /* What we sent first can only have been a proposal. */
    SX_ENSURE(own->kem != SX_KEM_ACCEPTED, SX_E_PROTOCOL);
    sx_status st = SX_OK;
    if (peer->kem.state == SX_KEM_ACCEPTED && peer->version >= SX_E2E_VERSION_PQ) {
        if (own->kem != SX_KEM_PROPOSED)
            return SX_E_PROTOCOL;
        keep_kem_keys(own, out);
        out->kem_accepted = true;
        memcpy(out->pqrr, peer->kem.pk, sizeof out->pqrr);
        memcpy(out->pqrct, peer->kem.ct, sizeof out->pqrct);
        st = sx_sntrup761_dec(out->pqrss, peer->kem.ct, own->kem_sk);
    }
    /* A proposal in the reply leaves no secret, and our own proposal lapses. */
    uint8_t pub1[SX_X448_LEN];
    uint8_t dhs[3][SX_X448_LEN];
    if (st == SX_OK)
        st = sx_x448_public(own->k1, pub1);
    if (st == SX_OK)
        st = sx_x448_dh(own->k1, peer->k2, dhs[0]);
    if (st == SX_OK)
        st = sx_x448_dh(own->k2, peer->k1, dhs[1]);
    if (st == SX_OK)
        st = sx_x448_dh(own->k2, peer->k2, dhs[2]);
    if (st == SX_OK)
        st = x3dh_finish(peer->k1, pub1, (const uint8_t(*)[SX_X448_LEN])dhs, out);
    sx_wipe(dhs, sizeof dhs);
    if (st != SX_OK)
        sx_x3dh_result_wipe(out);
    return st;
}

/* ---- hybrid secret ------------------------------------------------------- */

sx_status sx_kem_hybrid_secret(const sx_key *priv, const sx_key *peer,
                               const uint8_t ss[SX_SNTRUP761_SS_LEN], uint8_t out[32])
{
    SX_ENSURE(priv != NULL && peer != NULL && ss != NULL && out != NULL, SX_E_USAGE);
    SX_ENSURE(sx_key_alg_of(priv) == SX_KEY_X25519 && sx_key_alg_of(peer) == SX_KEY_X25519,
              SX_E_USAGE);
    uint8_t buf[32 + SX_SNTRUP761_SS_LEN];
    size_t n = 0;
    sx_status st = sx_key_dh(priv, peer, buf, 32, &n);
    if (st == SX_OK && n != 32)
        st = SX_E_INTERNAL;
    if (st == SX_OK) {
        memcpy(buf + 32, ss, SX_SNTRUP761_SS_LEN);
        st = sx_sha3_256(sx_slice_of(buf, sizeof buf), out);
    }
    sx_wipe(buf, sizeof buf);
    return st;
}
