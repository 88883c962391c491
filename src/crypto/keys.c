/* Ed25519/Ed448/X25519/X448 keys as OpenSSL EVP_PKEYs. The DER forms are
 * fixed byte prefixes followed by the raw key (PROTOCOL-NOTES A16, A17), so we
 * build and check them byte for byte through the writer and the reader instead
 * of letting the ASN.1 library accept variants the reference would not send. */
#include "crypto/keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "core/base64.h"

struct sx_key {
    sx_key_alg alg;
    bool priv;
    EVP_PKEY *pkey;
};

#define SPKI_PREFIX_LEN 12
#define PKCS8_PREFIX_LEN 16
#define ALG_COUNT 4

typedef struct alg_info {
    int evp_id;
    const char *name;
    size_t raw_len;
    size_t sig_len;
    uint8_t spki_prefix[SPKI_PREFIX_LEN];   /* SEQUENCE{AlgId, BIT STRING hdr} */
    uint8_t pkcs8_prefix[PKCS8_PREFIX_LEN]; /* SEQUENCE{0, AlgId, OCTET STRING{OCTET STRING hdr}} */
} alg_info;

/* RFC 8410 encodings; the OIDs are 1.3.101.110 (X25519) .. 113 (Ed448). */
static const alg_info ALGS[ALG_COUNT] = {
    [SX_KEY_ED25519] = {EVP_PKEY_ED25519, "Ed25519", 32, SX_SIG_ED25519_LEN,
                        {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00},
                        {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                         0x04, 0x22, 0x04, 0x20}},
    [SX_KEY_ED448] = {EVP_PKEY_ED448, "Ed448", 57, SX_SIG_ED448_LEN,
                      {0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x3a, 0x00},
                      {0x30, 0x47, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71,
                       0x04, 0x3b, 0x04, 0x39}},
    [SX_KEY_X25519] = {EVP_PKEY_X25519, "X25519", 32, 0,
                       {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00},
                       {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e,
                        0x04, 0x22, 0x04, 0x20}},
    [SX_KEY_X448] = {EVP_PKEY_X448, "X448", 56, 0,
                     {0x30, 0x42, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6f, 0x03, 0x39, 0x00},
                     {0x30, 0x46, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6f,
                      0x04, 0x3a, 0x04, 0x38}},
};

static const alg_info *info_of(sx_key_alg alg)
{
    switch (alg) {
    case SX_KEY_ED25519:
    case SX_KEY_ED448:
    case SX_KEY_X25519:
    case SX_KEY_X448:
        return &ALGS[alg];
    default:
        return NULL;
    }
}

size_t sx_key_raw_len(sx_key_alg alg)
{
    const alg_info *a = info_of(alg);
    return a ? a->raw_len : 0;
}

size_t sx_key_sig_len(sx_key_alg alg)
{
    const alg_info *a = info_of(alg);
    return a ? a->sig_len : 0;
}

size_t sx_key_spki_len(sx_key_alg alg)
{
    const alg_info *a = info_of(alg);
    return a ? SPKI_PREFIX_LEN + a->raw_len : 0;
}

size_t sx_key_pkcs8_len(sx_key_alg alg)
{
    const alg_info *a = info_of(alg);
    return a ? PKCS8_PREFIX_LEN + a->raw_len : 0;
}

const char *sx_key_alg_name(sx_key_alg alg)
{
    const alg_info *a = info_of(alg);
    return a ? a->name : "?";
}

/* Takes ownership of pkey (freed on failure too). */
static sx_status wrap(sx_key_alg alg, bool priv, EVP_PKEY *pkey, sx_key **out)
{
    sx_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return SX_E_NOMEM;
    }
    k->alg = alg;
    k->priv = priv;
    k->pkey = pkey;
    *out = k;
    return SX_OK;
}

sx_status sx_key_generate(sx_key_alg alg, sx_key **out)
{
    *out = NULL;
    const alg_info *a = info_of(alg);
    SX_ENSURE(a, SX_E_USAGE);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(a->evp_id, NULL);
    SX_ENSURE(ctx, SX_E_INTERNAL);
    EVP_PKEY *pkey = NULL;
    int ok = EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &pkey) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return SX_E_INTERNAL;
    }
    return wrap(alg, true, pkey, out);
}

sx_status sx_key_from_raw_public(sx_key_alg alg, sx_slice raw, sx_key **out)
{
    *out = NULL;
    const alg_info *a = info_of(alg);
    SX_ENSURE(a && raw.ptr && raw.len == a->raw_len, SX_E_USAGE);
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(a->evp_id, NULL, raw.ptr, raw.len);
    SX_ENSURE(pkey, SX_E_INTERNAL);
    return wrap(alg, false, pkey, out);
}

sx_status sx_key_from_raw_private(sx_key_alg alg, sx_slice raw, sx_key **out)
{
    *out = NULL;
    const alg_info *a = info_of(alg);
    SX_ENSURE(a && raw.ptr && raw.len == a->raw_len, SX_E_USAGE);
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(a->evp_id, NULL, raw.ptr, raw.len);
    SX_ENSURE(pkey, SX_E_INTERNAL);
    return wrap(alg, true, pkey, out);
}

static bool alg_of_evp(const EVP_PKEY *pkey, sx_key_alg *alg)
{
    int id = EVP_PKEY_get_id(pkey);
    for (int i = 0; i < ALG_COUNT; i++) {
        if (ALGS[i].evp_id == id) {
            *alg = (sx_key_alg)i;
            return true;
        }
    }
    return false;
}

sx_status sx_key_from_evp(EVP_PKEY *pkey, bool want_private, sx_key **out)
{
    *out = NULL;
    SX_ENSURE(pkey, SX_E_USAGE);
    sx_key_alg alg;
    SX_ENSURE(alg_of_evp(pkey, &alg), SX_E_PROTOCOL);
    size_t n = 0;
    bool has_priv = EVP_PKEY_get_raw_private_key(pkey, NULL, &n) == 1;
    SX_ENSURE(has_priv || !want_private, SX_E_PROTOCOL);
    SX_ENSURE(EVP_PKEY_up_ref(pkey) == 1, SX_E_INTERNAL);
    return wrap(alg, has_priv, pkey, out);
}

sx_status sx_key_public_copy(const sx_key *k, sx_key **out)
{
    *out = NULL;
    SX_ENSURE(k, SX_E_USAGE);
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n;
    SX_TRY(sx_key_raw_public(k, raw, sizeof raw, &n));
    return sx_key_from_raw_public(k->alg, sx_slice_of(raw, n), out);
}

void sx_key_free(sx_key *k)
{
    if (!k)
        return;
    /* OpenSSL clears the key bytes when the last reference goes. */
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

sx_key_alg sx_key_alg_of(const sx_key *k)
{
    return k->alg;
}

bool sx_key_is_private(const sx_key *k)
{
    return k->priv;
}

EVP_PKEY *sx_key_evp(const sx_key *k)
{
    return k->pkey;
}

bool sx_key_public_equal(const sx_key *a, const sx_key *b)
{
    if (!a || !b || a->alg != b->alg)
        return false;
    uint8_t ra[SX_KEY_RAW_MAX], rb[SX_KEY_RAW_MAX];
    size_t na, nb;
    if (sx_key_raw_public(a, ra, sizeof ra, &na) != SX_OK ||
        sx_key_raw_public(b, rb, sizeof rb, &nb) != SX_OK)
        return false;
    return sx_slice_eq(sx_slice_of(ra, na), sx_slice_of(rb, nb));
}

sx_status sx_key_raw_public(const sx_key *k, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    SX_ENSURE(k && out && cap >= ALGS[k->alg].raw_len, SX_E_USAGE);
    size_t n = cap;
    SX_ENSURE(EVP_PKEY_get_raw_public_key(k->pkey, out, &n) == 1, SX_E_INTERNAL);
    SX_ENSURE(n == ALGS[k->alg].raw_len, SX_E_INTERNAL);
    *len = n;
    return SX_OK;
}

sx_status sx_key_raw_private(const sx_key *k, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    SX_ENSURE(k && k->priv && out && cap >= ALGS[k->alg].raw_len, SX_E_USAGE);
    size_t n = cap;
    if (EVP_PKEY_get_raw_private_key(k->pkey, out, &n) != 1 || n != ALGS[k->alg].raw_len) {
        OPENSSL_cleanse(out, cap);
        return SX_E_INTERNAL;
    }
    *len = n;
    return SX_OK;
}

sx_status sx_key_sign(const sx_key *k, sx_slice msg, uint8_t *sig, size_t cap, size_t *sig_len)
{
    *sig_len = 0;
    SX_ENSURE(k && k->priv && sig, SX_E_USAGE);
    size_t want = ALGS[k->alg].sig_len;
    SX_ENSURE(want > 0 && cap >= want, SX_E_USAGE);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    SX_ENSURE(md, SX_E_NOMEM);
    size_t n = cap;
    /* No digest: EdDSA hashes internally (pure mode, empty context). */
    int ok = EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(md, sig, &n, msg.len ? msg.ptr : (const uint8_t *)"", msg.len) == 1 &&
             n == want;
    EVP_MD_CTX_free(md);
    SX_ENSURE(ok, SX_E_INTERNAL);
    *sig_len = n;
    return SX_OK;
}

sx_status sx_key_verify(const sx_key *k, sx_slice msg, sx_slice sig)
{
    SX_ENSURE(k, SX_E_USAGE);
    size_t want = ALGS[k->alg].sig_len;
    SX_ENSURE(want > 0, SX_E_USAGE);
    SX_ENSURE(sig.ptr && sig.len == want, SX_E_AUTH);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    SX_ENSURE(md, SX_E_NOMEM);
    int ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(md, sig.ptr, sig.len, msg.len ? msg.ptr : (const uint8_t *)"",
                              msg.len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        ERR_clear_error();
    return ok ? SX_OK : SX_E_AUTH;
}

sx_status sx_key_verify_raw(sx_key_alg alg, sx_slice raw_pub, sx_slice msg, sx_slice sig)
{
    SX_ENSURE(alg == SX_KEY_ED25519 || alg == SX_KEY_ED448, SX_E_USAGE);
    SX_ENSURE(raw_pub.ptr && raw_pub.len == ALGS[alg].raw_len, SX_E_USAGE);
    SX_ENSURE(sig.ptr && sig.len == ALGS[alg].sig_len, SX_E_AUTH);
    if (alg == SX_KEY_ED25519) {
        if (sodium_init() < 0)
            return SX_E_INTERNAL;
        return crypto_sign_verify_detached(sig.ptr, msg.len ? msg.ptr : (const uint8_t *)"", msg.len,
                                           raw_pub.ptr) == 0
                   ? SX_OK
                   : SX_E_AUTH;
    }
    sx_key *k;
    sx_status st = sx_key_from_raw_public(alg, raw_pub, &k);
    if (st != SX_OK)
        return SX_E_AUTH;
    st = sx_key_verify(k, msg, sig);
    sx_key_free(k);
    return st;
}

sx_status sx_x25519_raw(const uint8_t priv[32], const uint8_t pub[32], uint8_t out[32])
{
    if (sodium_init() < 0)
        return SX_E_INTERNAL;
    /* crypto_scalarmult fails on an all-zero result. */
    return crypto_scalarmult(out, priv, pub) == 0 ? SX_OK : SX_E_AUTH;
}

sx_status sx_key_dh(const sx_key *priv, const sx_key *peer, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    SX_ENSURE(priv && peer && out && priv->priv && priv->alg == peer->alg, SX_E_USAGE);
    SX_ENSURE(priv->alg == SX_KEY_X25519 || priv->alg == SX_KEY_X448, SX_E_USAGE);
    size_t want = ALGS[priv->alg].raw_len;
    SX_ENSURE(cap >= want, SX_E_USAGE);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(priv->pkey, NULL);
    SX_ENSURE(ctx, SX_E_NOMEM);
    sx_status st = SX_E_INTERNAL;
    size_t n = cap;
    if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer->pkey) != 1)
        goto done;
    /* OpenSSL refuses to return an all-zero secret (small-order peer point). */
    if (EVP_PKEY_derive(ctx, out, &n) != 1 || n != want) {
        OPENSSL_cleanse(out, cap);
        st = SX_E_AUTH;
        goto done;
    }
    *len = n;
    st = SX_OK;
done:
    EVP_PKEY_CTX_free(ctx);
    return st;
}

bool sx_key_write_public(sx_writer *w, const sx_key *k)
{
    if (!k)
        return sx_writer_fail(w, SX_E_USAGE);
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n;
    if (sx_key_raw_public(k, raw, sizeof raw, &n) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    return sx_write_bytes(w, ALGS[k->alg].spki_prefix, SPKI_PREFIX_LEN) && sx_write_bytes(w, raw, n);
}

bool sx_key_write_public_short(sx_writer *w, const sx_key *k)
{
    if (!k)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_u8(w, (uint8_t)sx_key_spki_len(k->alg)) && sx_key_write_public(w, k);
}

bool sx_key_write_private(sx_writer *w, const sx_key *k)
{
    if (!k || !k->priv)
        return sx_writer_fail(w, SX_E_USAGE);
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n;
    if (sx_key_raw_private(k, raw, sizeof raw, &n) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    bool ok = sx_write_bytes(w, ALGS[k->alg].pkcs8_prefix, PKCS8_PREFIX_LEN) &&
              sx_write_bytes(w, raw, n);
    OPENSSL_cleanse(raw, sizeof raw);
    return ok;
}

bool sx_key_write_private_short(sx_writer *w, const sx_key *k)
{
    if (!k || !k->priv)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_u8(w, (uint8_t)sx_key_pkcs8_len(k->alg)) && sx_key_write_private(w, k);
}

/* Strict shape check shared by the decoders: the exact prefix of an allowed
 * algorithm, then exactly its raw key length. *raw points into der. */
static sx_status match_der(sx_slice der, unsigned allowed, bool priv, sx_key_alg *alg_out,
                           sx_slice *raw)
{
    size_t plen = priv ? PKCS8_PREFIX_LEN : SPKI_PREFIX_LEN;
    sx_reader r;
    sx_reader_init_slice(&r, der);
    sx_slice prefix;
    if (!sx_read_bytes(&r, plen, &prefix))
        return SX_E_PROTOCOL;
    int found = -1;
    for (int i = 0; i < ALG_COUNT; i++) {
        const uint8_t *p = priv ? ALGS[i].pkcs8_prefix : ALGS[i].spki_prefix;
        if (sx_slice_eq(prefix, sx_slice_of(p, plen)))
            found = i;
    }
    /* Unknown algorithm and an algorithm the field does not allow are the
     * same parse error for the peer. */
    if (found < 0 || !(allowed & SX_KEY_BIT(found)))
        return SX_E_PROTOCOL;
    sx_key_alg alg = (sx_key_alg)found;
    sx_read_bytes(&r, ALGS[alg].raw_len, raw);
    SX_TRY(sx_reader_finish(&r));
    *alg_out = alg;
    return SX_OK;
}

/* Shared body of the two decoders: the shape check, then the constructor. */
static sx_status decode(sx_slice der, unsigned allowed, bool priv, sx_key **out)
{
    *out = NULL;
    sx_key_alg alg;
    sx_slice raw;
    SX_TRY(match_der(der, allowed, priv, &alg, &raw));
    sx_status st = priv ? sx_key_from_raw_private(alg, raw, out) : sx_key_from_raw_public(alg, raw, out);
    /* The bytes came from a peer: a key OpenSSL refuses is their fault. */
    return st == SX_E_INTERNAL ? SX_E_PROTOCOL : st;
}

sx_status sx_key_decode_public(sx_slice der, unsigned allowed, sx_key **out)
{
    return decode(der, allowed, false, out);
}

sx_status sx_key_decode_private(sx_slice der, unsigned allowed, sx_key **out)
{
    return decode(der, allowed, true, out);
}

sx_status sx_key_check_public(sx_slice der, unsigned allowed, sx_key_alg *alg)
{
    SX_ENSURE(alg != NULL, SX_E_USAGE);
    sx_slice raw;
    return match_der(der, allowed, false, alg, &raw);
}

static bool read_short_key(sx_reader *r, unsigned allowed, bool priv, sx_key **out)
{
    *out = NULL;
    sx_slice der;
    if (!sx_read_short(r, &der))
        return false;
    sx_status st = decode(der, allowed, priv, out);
    return st == SX_OK ? true : sx_reader_fail(r, st);
}

bool sx_key_read_public_short(sx_reader *r, unsigned allowed, sx_key **out)
{
    return read_short_key(r, allowed, false, out);
}

bool sx_key_read_private_short(sx_reader *r, unsigned allowed, sx_key **out)
{
    return read_short_key(r, allowed, true, out);
}

static sx_status to_text(const sx_key *k, bool priv, char *out, size_t cap)
{
    SX_ENSURE(k && out, SX_E_USAGE);
    uint8_t der[SX_KEY_PKCS8_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, der, sizeof der);
    if (priv)
        sx_key_write_private(&w, k);
    else
        sx_key_write_public(&w, k);
    sx_status st = sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_b64_encode(sx_writer_slice(&w), SX_B64_URL, out, cap);
    OPENSSL_cleanse(der, sizeof der);
    return st;
}

sx_status sx_key_public_to_text(const sx_key *k, char *out, size_t cap)
{
    return to_text(k, false, out, cap);
}

sx_status sx_key_private_to_text(const sx_key *k, char *out, size_t cap)
{
    return to_text(k, true, out, cap);
}

static sx_status from_text(const char *text, size_t len, unsigned allowed, bool priv, sx_key **out)
{
    *out = NULL;
    SX_ENSURE(text, SX_E_USAGE);
    uint8_t der[SX_KEY_PKCS8_MAX];
    size_t n = 0;
    sx_status st = sx_b64_decode(text, len, SX_B64_URL, der, sizeof der, &n);
    if (st == SX_OK)
        st = decode(sx_slice_of(der, n), allowed, priv, out);
    else
        st = SX_E_PROTOCOL; /* including too long for any key */
    OPENSSL_cleanse(der, sizeof der);
    return st;
}

sx_status sx_key_public_from_text(const char *text, size_t len, unsigned allowed, sx_key **out)
{
    return from_text(text, len, allowed, false, out);
}

sx_status sx_key_private_from_text(const char *text, size_t len, unsigned allowed, sx_key **out)
{
    return from_text(text, len, allowed, true, out);
}
