/* E2E ratchet parameters and the PQ X3DH (see x3dh.h). Byte layouts follow
 * the reference's Ratchet.hs encoders; the KEM half follows pqdr.md. X448
 * keys are kept raw in memory and wrapped into OpenSSL keys only for a DH. */
#include "crypto/x3dh.h"

#include <string.h>

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

bool sx_x448_read_public_short(sx_reader *r, uint8_t raw[SX_X448_LEN])
{
    sx_slice der;
    sx_key_alg alg;
    if (!sx_read_short(r, &der))
        return false;
    sx_status st = sx_key_check_public(der, SX_KEY_BIT(SX_KEY_X448), &alg);
    if (st != SX_OK)
        return sx_reader_fail(r, st);
    /* The checked DER is a fixed prefix followed by the raw key. */
    sx_reader kr;
    sx_reader_init_slice(&kr, der);
    sx_slice prefix;
    if (!sx_read_bytes(&kr, der.len - SX_X448_LEN, &prefix) || !sx_read_copy(&kr, raw, SX_X448_LEN))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
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
