/* Double ratchet with header encryption and PQ KEM (see ratchet.h). The
 * decrypt path works on a copy of the state and commits it, with the skipped
 * key changes, only once the message has decrypted; the wire layouts follow
 * reference protocol/pqdr.md, section "Ratchet message wire format", and the
 * reference's encoders. */
#include "crypto/ratchet.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/util.h"

#define ROOT_INFO "SimpleXRootRatchet"
#define CHAIN_INFO "SimpleXChainRatchet"
/* Storage format of the state: 2 keeps our ratchet public key beside the
 * private one (deriving it is an X448 multiplication per load); 1, without
 * it, is still read. */
#define STATE_FORMAT 2
#define STATE_FORMAT_NO_PUB 1
/* A length prefix whose first byte is below this is 2 bytes long (largeP):
 * an encrypted header is never shorter than 32 bytes. */
#define LARGE_PEEK 32
#define MAX_PAD_MSG 65533u

/* ---- key derivation ------------------------------------------------------ */

/* chainKdf: HKDF(no salt, ck, "SimpleXChainRatchet", 96) = ck' mk iv1 iv2.
 * ck_out may be ck. */
static sx_status chain_kdf(const uint8_t ck[SX_RATCHET_KEY_LEN], uint8_t ck_out[SX_RATCHET_KEY_LEN],
                           uint8_t mk[SX_RATCHET_KEY_LEN], uint8_t iv1[SX_RATCHET_IV_LEN],
                           uint8_t iv2[SX_RATCHET_IV_LEN])
{
    uint8_t okm[2 * SX_RATCHET_KEY_LEN + 2 * SX_RATCHET_IV_LEN];
    sx_status st = sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(ck, SX_RATCHET_KEY_LEN),
                                  sx_slice_str(CHAIN_INFO), okm, sizeof okm);
    if (st == SX_OK) {
        memcpy(ck_out, okm, SX_RATCHET_KEY_LEN);
        memcpy(mk, okm + 32, SX_RATCHET_KEY_LEN);
        memcpy(iv1, okm + 64, SX_RATCHET_IV_LEN);
        memcpy(iv2, okm + 80, SX_RATCHET_IV_LEN);
    }
    sx_wipe(okm, sizeof okm);
    return st;
}

/* rootKdf: HKDF(rk, DH(pub, priv) [|| kem ss], "SimpleXRootRatchet", 96)
 * = rk' ck nhk. */
static sx_status root_kdf(const uint8_t rk[SX_RATCHET_KEY_LEN], const uint8_t pub[SX_X448_LEN],
                          const uint8_t priv[SX_X448_LEN], const uint8_t *ss,
                          uint8_t rk_out[SX_RATCHET_KEY_LEN], uint8_t ck[SX_RATCHET_KEY_LEN],
                          uint8_t nhk[SX_RATCHET_KEY_LEN])
{
    uint8_t ikm[SX_X448_LEN + SX_SNTRUP761_SS_LEN];
    uint8_t okm[3 * SX_RATCHET_KEY_LEN];
    size_t n = SX_X448_LEN;
    sx_status st = sx_x448_dh(priv, pub, ikm);
    if (st == SX_OK && ss != NULL) {
        memcpy(ikm + n, ss, SX_SNTRUP761_SS_LEN);
        n += SX_SNTRUP761_SS_LEN;
    }
    if (st == SX_OK)
        st = sx_hkdf_sha512(sx_slice_of(rk, SX_RATCHET_KEY_LEN), sx_slice_of(ikm, n),
                            sx_slice_str(ROOT_INFO), okm, sizeof okm);
    if (st == SX_OK) {
        memcpy(rk_out, okm, SX_RATCHET_KEY_LEN);
        memcpy(ck, okm + 32, SX_RATCHET_KEY_LEN);
        memcpy(nhk, okm + 64, SX_RATCHET_KEY_LEN);
    }
    sx_wipe(ikm, sizeof ikm);
    sx_wipe(okm, sizeof okm);
    return st;
}

/* ---- initialisation ------------------------------------------------------ */

static sx_status set_own_dh(sx_ratchet *r, const uint8_t *own_dh)
{
    if (own_dh == NULL)
        return sx_x448_generate(r->rng, r->dhrs, r->dhrs_pub);
    memcpy(r->dhrs, own_dh, SX_X448_LEN);
    return sx_x448_public(r->dhrs, r->dhrs_pub);
}

static void kem_from_init(sx_ratchet_kem *k, const sx_x3dh_result *init)
{
    if (!init->kem_keys)
        return;
    k->present = true;
    memcpy(k->pk, init->kem_pk, sizeof k->pk);
    memcpy(k->sk, init->kem_sk, sizeof k->sk);
    k->accepted = init->kem_accepted;
    if (k->accepted) {
        memcpy(k->pqrr, init->pqrr, sizeof k->pqrr);
        memcpy(k->ss, init->pqrss, sizeof k->ss);
        memcpy(k->ct, init->pqrct, sizeof k->ct);
    }
}

sx_status sx_ratchet_init_snd(sx_ratchet *r, uint16_t current, uint16_t max_supported,
                              const uint8_t peer_dh[SX_X448_LEN], const uint8_t *own_dh,
                              const sx_x3dh_result *init, const sx_sntrup761_rng *rng)
{
    SX_ENSURE(r != NULL && peer_dh != NULL && init != NULL, SX_E_USAGE);
    memset(r, 0, sizeof *r);
    SX_ENSURE(current <= max_supported, SX_E_USAGE);
    r->rng = rng;
    r->current = current;
    r->max_supported = max_supported;
    memcpy(r->ad, init->ad, sizeof r->ad);
    sx_status st = set_own_dh(r, own_dh);
    if (st == SX_OK)
        st = root_kdf(init->rk, peer_dh, r->dhrs, init->kem_accepted ? init->pqrss : NULL, r->rk,
                      r->cks, r->nhks);
    if (st != SX_OK) {
        sx_ratchet_cleanup(r);
        return st;
    }
    kem_from_init(&r->kem, init);
    r->support_kem = r->enable_kem = init->kem_keys;
    r->snd_kem = init->kem_accepted;
    r->has_snd = true;
    memcpy(r->dhrr, peer_dh, SX_X448_LEN);
    memcpy(r->hks, init->snd_hk, SX_RATCHET_KEY_LEN);
    memcpy(r->nhkr, init->rcv_next_hk, SX_RATCHET_KEY_LEN);
    return SX_OK;
}

sx_status sx_ratchet_init_rcv(sx_ratchet *r, uint16_t current, uint16_t max_supported,
                              const uint8_t own_dh[SX_X448_LEN], const sx_x3dh_result *init,
                              bool pq_support, const sx_sntrup761_rng *rng)
{
    SX_ENSURE(r != NULL && own_dh != NULL && init != NULL, SX_E_USAGE);
    memset(r, 0, sizeof *r);
    SX_ENSURE(current <= max_supported, SX_E_USAGE);
    r->rng = rng;
    r->current = current;
    r->max_supported = max_supported;
    memcpy(r->ad, init->ad, sizeof r->ad);
    sx_status st = set_own_dh(r, own_dh);
    if (st != SX_OK) {
        sx_ratchet_cleanup(r);
        return st;
    }
    kem_from_init(&r->kem, init);
    r->support_kem = r->enable_kem = pq_support;
    memcpy(r->rk, init->rk, SX_RATCHET_KEY_LEN);
    memcpy(r->nhks, init->rcv_next_hk, SX_RATCHET_KEY_LEN);
    memcpy(r->nhkr, init->snd_hk, SX_RATCHET_KEY_LEN);
    return SX_OK;
}

static void free_skipped(sx_ratchet_skipped *s, size_t n)
{
    if (s == NULL)
        return;
    sx_wipe(s, n * sizeof *s);
    free(s);
}

void sx_ratchet_cleanup(sx_ratchet *r)
{
    if (r == NULL)
        return;
    free_skipped(r->skipped, r->n_skipped);
    sx_wipe(r, sizeof *r);
}

/* ---- wire pieces --------------------------------------------------------- */

bool sx_ratchet_header_write(sx_writer *w, uint16_t v, const sx_ratchet_header *h)
{
    return sx_write_version(w, h->max_version) && sx_x448_write_public_short(w, h->dh) &&
           (v < SX_E2E_VERSION_PQ || sx_kem_params_write_maybe(w, &h->kem)) &&
           sx_write_u32(w, h->pn) && sx_write_u32(w, h->ns);
}

bool sx_ratchet_header_read(sx_reader *r, uint16_t v, sx_ratchet_header *h)
{
    h->kem.state = SX_KEM_NONE;
    return sx_read_version(r, &h->max_version) && sx_x448_read_public_short(r, h->dh) &&
           (v < SX_E2E_VERSION_PQ || sx_kem_params_read_maybe(r, &h->kem)) &&
           sx_read_u32(r, &h->pn) && sx_read_u32(r, &h->ns);
}

/* encodeLarge: 2-byte length from version 3, 1-byte before. */
static bool write_versioned(sx_writer *w, uint16_t v, sx_slice s)
{
    return v >= SX_E2E_VERSION_PQ ? sx_write_large(w, s) : sx_write_short(w, s);
}

/* largeP: the length width is told by the first byte. */
static bool read_versioned(sx_reader *r, sx_slice *out)
{
    sx_reader peek = *r;
    uint8_t first;
    if (!sx_read_u8(&peek, &first))
        return sx_read_u8(r, &first); /* fails r the same way */
    return first < LARGE_PEEK ? sx_read_large(r, out) : sx_read_short(r, out);
}

sx_status sx_ratchet_enc_header_decode(sx_slice in, sx_ratchet_enc_header *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    sx_read_version(&r, &out->version);
    sx_read_bytes(&r, SX_RATCHET_IV_LEN, &out->iv);
    sx_read_bytes(&r, SX_RATCHET_TAG_LEN, &out->tag);
    read_versioned(&r, &out->body);
    return sx_reader_finish(&r);
}

sx_status sx_ratchet_enc_msg_decode(sx_slice in, sx_ratchet_enc_msg *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    read_versioned(&r, &out->header);
    sx_read_bytes(&r, SX_RATCHET_TAG_LEN, &out->tag);
    sx_read_tail(&r, &out->body);
    return sx_reader_finish(&r);
}

/* ---- encryption ---------------------------------------------------------- */

bool sx_ratchet_can_pad(size_t msg_len, size_t padded_len)
{
    return msg_len <= MAX_PAD_MSG && padded_len >= 2 && padded_len - 2 >= msg_len;
}

static void header_kem(const sx_ratchet_kem *k, sx_kem_params *out)
{
    out->state = SX_KEM_NONE;
    if (!k->present)
        return;
    memcpy(out->pk, k->pk, sizeof out->pk);
    out->state = SX_KEM_PROPOSED;
    if (k->accepted) {
        memcpy(out->ct, k->ct, sizeof out->ct);
        out->state = SX_KEM_ACCEPTED;
    }
}

sx_status sx_ratchet_encrypt_header(sx_ratchet *r, sx_pq_enc pq, uint16_t supported,
                                    sx_ratchet_msg_key *key)
{
    SX_ENSURE(r != NULL && key != NULL, SX_E_USAGE);
    SX_ENSURE(pq == SX_PQ_KEEP || pq == SX_PQ_ON || pq == SX_PQ_OFF, SX_E_USAGE);
    SX_ENSURE(r->has_snd, SX_E_USAGE);
    memset(key, 0, sizeof *key);

    sx_ratchet_header hdr;
    sx_ratchet_header *hp = &hdr;
    uint8_t ck[SX_RATCHET_KEY_LEN], ehiv[SX_RATCHET_IV_LEN], tag[SX_RATCHET_TAG_LEN];
    uint8_t plain[SX_RATCHET_HEADER_PAD_PQ], body[SX_RATCHET_HEADER_PAD_PQ];

    uint16_t v = r->current;
    bool enable = pq == SX_PQ_KEEP ? r->enable_kem : pq == SX_PQ_ON;
    bool support = r->support_kem || (v >= SX_E2E_VERSION_PQ && enable);
    uint16_t max_v = pq == SX_PQ_ON ? SX_E2E_VERSION_PQ : v;
    if (supported > max_v)
        max_v = supported;
    size_t padded = support && v >= SX_E2E_VERSION_PQ ? SX_RATCHET_HEADER_PAD_PQ
                                                      : SX_RATCHET_HEADER_PAD;

    sx_status st = chain_kdf(r->cks, ck, key->mk, key->iv, ehiv);
    if (st != SX_OK)
        goto done;
    hp->max_version = max_v;
    memcpy(hp->dh, r->dhrs_pub, SX_X448_LEN);
    header_kem(&r->kem, &hp->kem);
    hp->pn = r->pn;
    hp->ns = r->ns;
    sx_writer w;
    sx_writer_init_fixed(&w, plain, sizeof plain);
    sx_ratchet_header_write(&w, v, hp);
    if ((st = sx_writer_status(&w)) != SX_OK)
        goto done;
    st = sx_aead_encrypt_padded(r->hks, sx_slice_of(ehiv, sizeof ehiv),
                                sx_slice_of(r->ad, sizeof r->ad), sx_writer_slice(&w), padded,
                                body, sizeof body, tag);
    if (st != SX_OK)
        goto done;
    sx_writer_init_fixed(&w, key->header, sizeof key->header);
    sx_write_version(&w, v);
    sx_write_bytes(&w, ehiv, sizeof ehiv);
    sx_write_bytes(&w, tag, sizeof tag);
    write_versioned(&w, v, sx_slice_of(body, padded));
    if ((st = sx_writer_status(&w)) != SX_OK)
        goto done;
    key->header_len = w.len;
    key->version = v;
    memcpy(key->ad, r->ad, sizeof key->ad);

    memcpy(r->cks, ck, sizeof ck);
    r->ns++;
    r->support_kem = support;
    r->enable_kem = enable;
    r->max_supported = max_v;
    if (pq == SX_PQ_OFF && r->kem.present && r->kem.accepted) {
        r->kem.accepted = false;
        sx_wipe(r->kem.pqrr, sizeof r->kem.pqrr);
        sx_wipe(r->kem.ss, sizeof r->kem.ss);
        sx_wipe(r->kem.ct, sizeof r->kem.ct);
    }
done:
    if (st != SX_OK)
        sx_wipe(key, sizeof *key);
    sx_wipe(ck, sizeof ck);
    sx_wipe(plain, sizeof plain);
    return st;
}

size_t sx_ratchet_msg_len(const sx_ratchet_msg_key *key, size_t padded_len)
{
    size_t prefix = key->version >= SX_E2E_VERSION_PQ ? 2 : 1;
    return prefix + key->header_len + SX_RATCHET_TAG_LEN + padded_len;
}

sx_status sx_ratchet_encrypt_msg(const sx_ratchet_msg_key *key, size_t padded_len, sx_slice msg,
                                 uint8_t *out, size_t cap, size_t *out_len)
{
    SX_ENSURE(key != NULL && out != NULL && out_len != NULL, SX_E_USAGE);
    SX_ENSURE(key->header_len <= sizeof key->header, SX_E_USAGE);
    *out_len = 0;
    SX_ENSURE(sx_ratchet_can_pad(msg.len, padded_len), SX_E_LIMIT);
    SX_ENSURE(cap >= sx_ratchet_msg_len(key, padded_len), SX_E_USAGE);
    uint8_t aad[SX_E2E_AD_LEN + SX_RATCHET_ENC_HEADER_MAX];
    memcpy(aad, key->ad, SX_E2E_AD_LEN);
    memcpy(aad + SX_E2E_AD_LEN, key->header, key->header_len);

    sx_writer w;
    sx_writer_init_fixed(&w, out, cap);
    write_versioned(&w, key->version, sx_slice_of(key->header, key->header_len));
    uint8_t *tag = sx_write_reserve(&w, SX_RATCHET_TAG_LEN);
    uint8_t *body = sx_write_reserve(&w, padded_len);
    SX_TRY(sx_writer_status(&w));
    sx_status st = sx_aead_encrypt_padded(key->mk, sx_slice_of(key->iv, SX_RATCHET_IV_LEN),
                                          sx_slice_of(aad, SX_E2E_AD_LEN + key->header_len), msg,
                                          padded_len, body, padded_len, tag);
    if (st == SX_OK)
        *out_len = w.len;
    return st;
}

sx_status sx_ratchet_encrypt(sx_ratchet *r, sx_pq_enc pq, uint16_t supported, size_t padded_len,
                             sx_slice msg, uint8_t *out, size_t cap, size_t *out_len)
{
    SX_ENSURE(out_len != NULL, SX_E_USAGE);
    *out_len = 0;
    SX_ENSURE(sx_ratchet_can_pad(msg.len, padded_len), SX_E_LIMIT);
    sx_ratchet_msg_key *key = malloc(sizeof *key);
    if (key == NULL)
        return SX_E_NOMEM;
    sx_status st = sx_ratchet_encrypt_header(r, pq, supported, key);
    if (st == SX_OK)
        st = sx_ratchet_encrypt_msg(key, padded_len, msg, out, cap, out_len);
    sx_wipe(key, sizeof *key);
    free(key);
    return st;
}

bool sx_ratchet_msg_key_write(sx_writer *w, const sx_ratchet_msg_key *key)
{
    if (key->header_len > sizeof key->header)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_version(w, key->version) &&
           sx_write_short(w, sx_slice_of(key->ad, sizeof key->ad)) &&
           sx_write_short(w, sx_slice_of(key->mk, sizeof key->mk)) &&
           sx_write_bytes(w, key->iv, sizeof key->iv) &&
           sx_write_large(w, sx_slice_of(key->header, key->header_len));
}

sx_status sx_ratchet_msg_key_decode(sx_slice in, sx_ratchet_msg_key *key)
{
    SX_ENSURE(key != NULL, SX_E_USAGE);
    memset(key, 0, sizeof *key);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    uint8_t n = 0;
    uint16_t len = 0;
    sx_read_version(&r, &key->version);
    sx_read_u8(&r, &n);
    if (sx_reader_ok(&r) && n != SX_E2E_AD_LEN)
        sx_reader_fail(&r, SX_E_PROTOCOL);
    sx_read_copy(&r, key->ad, SX_E2E_AD_LEN);
    sx_read_u8(&r, &n);
    if (sx_reader_ok(&r) && n != SX_RATCHET_KEY_LEN)
        sx_reader_fail(&r, SX_E_PROTOCOL);
    sx_read_copy(&r, key->mk, SX_RATCHET_KEY_LEN);
    sx_read_copy(&r, key->iv, SX_RATCHET_IV_LEN);
    sx_read_u16(&r, &len);
    /* Check the length before the copy: a failed read still clears len
     * bytes of its destination. */
    if (sx_reader_ok(&r) && len > sizeof key->header)
        sx_reader_fail(&r, SX_E_PROTOCOL);
    if (sx_reader_ok(&r)) {
        sx_read_copy(&r, key->header, len);
        key->header_len = len;
    }
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK)
        sx_wipe(key, sizeof *key);
    return st;
}

/* ---- decryption ---------------------------------------------------------- */

enum { STEP_NONE, STEP_SAME, STEP_ADVANCE };

/* Work area of one decrypt: the state copy, the header, and the changes to
 * the skipped keys that are applied only on success. */
typedef struct dec_ctx {
    sx_ratchet w;
    sx_ratchet_header hdr;
    sx_ratchet_kem new_kem;
    uint8_t kem_ss[SX_SNTRUP761_SS_LEN];
    sx_ratchet_skipped *add; /* up to 2 * SX_RATCHET_MAX_SKIP */
    size_t n_add;
    size_t remove; /* index of the skipped key used, or SIZE_MAX */
    uint8_t *hbuf; /* decrypted header */
    size_t hcap;
    sx_ratchet_enc_msg em;
    sx_ratchet_enc_header eh;
    sx_ratchet_error *err;
} dec_ctx;

static sx_status fail(dec_ctx *c, sx_ratchet_err code, uint32_t n, sx_status st)
{
    c->err->code = code;
    c->err->n = n;
    return st;
}

/* HDECRYPT with hk: SX_OK with c->hdr, SX_E_AUTH when hk does not open it
 * (including bad padding inside), SX_E_PROTOCOL when it opens but does not
 * parse. Bytes after the header are allowed (room for extensions). */
static sx_status decrypt_header(dec_ctx *c, const uint8_t hk[SX_RATCHET_KEY_LEN])
{
    sx_slice plain;
    if (sx_aead_decrypt_padded(hk, c->eh.iv, sx_slice_of(c->w.ad, sizeof c->w.ad), c->eh.body,
                               c->eh.tag.ptr, c->hbuf, c->hcap, &plain) != SX_OK)
        return SX_E_AUTH;
    sx_reader r;
    sx_reader_init_slice(&r, plain);
    sx_ratchet_header_read(&r, c->eh.version, &c->hdr);
    return sx_reader_status(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

/* DECRYPT(mk, body, ad || encrypted header) into out. */
static sx_status decrypt_body(dec_ctx *c, const uint8_t mk[SX_RATCHET_KEY_LEN],
                              const uint8_t iv[SX_RATCHET_IV_LEN], uint8_t *out, size_t cap,
                              sx_slice *plain)
{
    size_t n = SX_E2E_AD_LEN + c->em.header.len;
    uint8_t *aad = malloc(n);
    if (aad == NULL)
        return fail(c, SX_RATCHET_OK, 0, SX_E_NOMEM);
    memcpy(aad, c->w.ad, SX_E2E_AD_LEN);
    memcpy(aad + SX_E2E_AD_LEN, c->em.header.ptr, c->em.header.len);
    sx_status st = sx_aead_decrypt_padded(mk, sx_slice_of(iv, SX_RATCHET_IV_LEN),
                                          sx_slice_of(aad, n), c->em.body, c->em.tag.ptr, out, cap,
                                          plain);
    free(aad);
    if (st == SX_E_AUTH)
        return fail(c, SX_RATCHET_ERR_BODY, 0, SX_E_AUTH);
    if (st == SX_E_PROTOCOL)
        return fail(c, SX_RATCHET_ERR_BODY_PAD, 0, SX_E_PROTOCOL);
    return st;
}

/* SkipMessageKeysHE up to (not including) message number until. */
static sx_status skip_keys(dec_ctx *c, uint32_t until)
{
    sx_ratchet *w = &c->w;
    if (!w->has_rcv)
        return SX_OK;
    /* Word32 arithmetic, wrapping, as the reference computes it. */
    uint32_t nr = w->nr;
    uint32_t next = until + 1u;
    if (nr > next)
        return fail(c, SX_RATCHET_ERR_EARLIER, nr - until - 1u, SX_E_PROTOCOL);
    if (nr == next)
        return fail(c, SX_RATCHET_ERR_DUPLICATE, 0, SX_E_PROTOCOL);
    if ((uint32_t)(nr + SX_RATCHET_MAX_SKIP) < until)
        return fail(c, SX_RATCHET_ERR_TOO_MANY_SKIPPED, until + 1u - nr, SX_E_LIMIT);
    if (nr == until)
        return SX_OK;
    uint32_t count = until - nr;
    if (count > SX_RATCHET_MAX_SKIP || c->n_add + count > 2 * SX_RATCHET_MAX_SKIP)
        return fail(c, SX_RATCHET_ERR_TOO_MANY_SKIPPED, count, SX_E_LIMIT);
    if (c->add == NULL) {
        c->add = calloc(2 * SX_RATCHET_MAX_SKIP, sizeof *c->add);
        if (c->add == NULL)
            return SX_E_NOMEM;
    }
    uint8_t unused[SX_RATCHET_IV_LEN];
    for (uint32_t n = nr; n != until; n++) {
        sx_ratchet_skipped *s = &c->add[c->n_add++];
        memcpy(s->hk, w->hkr, sizeof s->hk);
        s->n = n;
        SX_TRY(chain_kdf(w->ckr, w->ckr, s->mk, s->iv, unused));
    }
    w->nr = until;
    return SX_OK;
}

/* DHRatchetPQ2HE: the DH step, with the KEM secrets folded in per reference
 * protocol/pqdr.md. */
static sx_status ratchet_step(dec_ctx *c)
{
    sx_ratchet *w = &c->w;
    const sx_ratchet_header *h = &c->hdr;
    sx_ratchet_kem *nk = &c->new_kem;
    const uint8_t *ss_rcv = NULL, *ss_snd = NULL;
    bool pq = w->enable_kem && w->current >= SX_E2E_VERSION_PQ;
    memset(nk, 0, sizeof *nk);

    if (h->kem.state == SX_KEM_NONE) {
        /* No KEM from the peer, but we want it: propose with a new key. */
        if (!w->kem.present && pq) {
            SX_TRY(sx_sntrup761_keypair(nk->pk, nk->sk, w->rng));
            nk->present = true;
        }
    } else {
        if (h->kem.state == SX_KEM_ACCEPTED) {
            if (!w->kem.present)
                return fail(c, SX_RATCHET_ERR_KEM_STATE, 0, SX_E_PROTOCOL);
            SX_TRY(sx_sntrup761_dec(c->kem_ss, h->kem.ct, w->kem.sk));
            ss_rcv = c->kem_ss;
        }
        if (pq) {
            SX_TRY(sx_sntrup761_enc(nk->ct, nk->ss, h->kem.pk, w->rng));
            SX_TRY(sx_sntrup761_keypair(nk->pk, nk->sk, w->rng));
            memcpy(nk->pqrr, h->kem.pk, sizeof nk->pqrr);
            nk->present = nk->accepted = true;
            ss_snd = nk->ss;
        }
    }

    uint8_t priv[SX_X448_LEN], pub[SX_X448_LEN];
    uint8_t rk1[SX_RATCHET_KEY_LEN], ckr[SX_RATCHET_KEY_LEN], nhkr[SX_RATCHET_KEY_LEN];
    uint8_t rk2[SX_RATCHET_KEY_LEN], cks[SX_RATCHET_KEY_LEN], nhks[SX_RATCHET_KEY_LEN];
    sx_status st = sx_x448_generate(w->rng, priv, pub);
    if (st == SX_OK)
        st = root_kdf(w->rk, h->dh, w->dhrs, ss_rcv, rk1, ckr, nhkr);
    if (st == SX_OK)
        st = root_kdf(rk1, h->dh, priv, ss_snd, rk2, cks, nhks);
    if (st == SX_OK) {
        bool snd = ss_snd != NULL, rcv = ss_rcv != NULL;
        bool enable = snd || rcv || nk->present;
        w->support_kem = w->support_kem || (w->current >= SX_E2E_VERSION_PQ && enable);
        w->enable_kem = enable;
        w->snd_kem = snd;
        w->rcv_kem = rcv;
        memcpy(w->dhrs, priv, sizeof priv);
        memcpy(w->dhrs_pub, pub, sizeof pub);
        w->kem = *nk;
        memcpy(w->rk, rk2, sizeof rk2);
        w->has_snd = true;
        memcpy(w->dhrr, h->dh, SX_X448_LEN);
        memcpy(w->cks, cks, sizeof cks);
        memcpy(w->hks, w->nhks, SX_RATCHET_KEY_LEN);
        w->has_rcv = true;
        memcpy(w->ckr, ckr, sizeof ckr);
        memcpy(w->hkr, w->nhkr, SX_RATCHET_KEY_LEN);
        w->pn = w->ns;
        w->ns = w->nr = 0;
        memcpy(w->nhks, nhks, sizeof nhks);
        memcpy(w->nhkr, nhkr, sizeof nhkr);
    }
    sx_wipe(priv, sizeof priv);
    sx_wipe(rk1, sizeof rk1);
    sx_wipe(ckr, sizeof ckr);
    sx_wipe(nhkr, sizeof nhkr);
    sx_wipe(rk2, sizeof rk2);
    sx_wipe(cks, sizeof cks);
    sx_wipe(nhks, sizeof nhks);
    return st;
}

static bool key_eq(const uint8_t *a, const uint8_t *b)
{
    return sx_ct_equal(sx_slice_of(a, SX_RATCHET_KEY_LEN), sx_slice_of(b, SX_RATCHET_KEY_LEN));
}

/* Applies the skipped-key changes of c to r: drop the used key, append the
 * new ones, keep at most SX_RATCHET_MAX_SKIPPED_KEYS (dropping the oldest). */
static sx_status commit_skipped(sx_ratchet *r, dec_ctx *c)
{
    if (c->remove == SIZE_MAX && c->n_add == 0)
        return SX_OK;
    size_t keep = r->n_skipped - (c->remove != SIZE_MAX ? 1 : 0);
    size_t total = keep + c->n_add;
    sx_ratchet_skipped *all = NULL;
    if (total > 0) {
        all = malloc(total * sizeof *all);
        if (all == NULL)
            return SX_E_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n_skipped; i++)
        if (i != c->remove)
            all[k++] = r->skipped[i];
    for (size_t i = 0; i < c->n_add; i++)
        all[k++] = c->add[i];
    if (total > SX_RATCHET_MAX_SKIPPED_KEYS) {
        size_t drop = total - SX_RATCHET_MAX_SKIPPED_KEYS;
        sx_wipe(all, drop * sizeof *all);
        memmove(all, all + drop, SX_RATCHET_MAX_SKIPPED_KEYS * sizeof *all);
        sx_wipe(all + SX_RATCHET_MAX_SKIPPED_KEYS, drop * sizeof *all);
        total = SX_RATCHET_MAX_SKIPPED_KEYS;
    }
    free_skipped(r->skipped, r->n_skipped);
    r->skipped = all;
    r->n_skipped = total;
    return SX_OK;
}

/* TrySkippedMessageKeysHE over each distinct stored header key. Returns
 * SX_OK with *step set (NONE when no stored key opens the header), or with
 * *hit set to the index of the matching skipped key. */
static sx_status try_skipped(dec_ctx *c, const sx_ratchet *r, int *step, size_t *hit)
{
    *step = STEP_NONE;
    *hit = SIZE_MAX;
    for (size_t i = 0; i < r->n_skipped; i++) {
        const uint8_t *hk = r->skipped[i].hk;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = memcmp(r->skipped[j].hk, hk, SX_RATCHET_KEY_LEN) == 0;
        if (seen)
            continue;
        sx_status st = decrypt_header(c, hk);
        if (st == SX_E_AUTH)
            continue;
        if (st != SX_OK)
            return fail(c, SX_RATCHET_ERR_HEADER_PARSE, 0, SX_E_PROTOCOL);
        for (size_t j = 0; j < r->n_skipped; j++)
            if (r->skipped[j].n == c->hdr.ns && key_eq(r->skipped[j].hk, hk)) {
                *hit = j;
                return SX_OK;
            }
        if (r->has_rcv && key_eq(hk, r->hkr))
            *step = STEP_SAME;
        else if (key_eq(hk, r->nhkr))
            *step = STEP_ADVANCE;
        else /* an old chain's message that was already received */
            return fail(c, SX_RATCHET_ERR_HEADER, 0, SX_E_AUTH);
        return SX_OK;
    }
    return SX_OK;
}

static sx_status decrypt_in(dec_ctx *c, sx_ratchet *r, uint8_t *out, size_t cap, sx_slice *plain)
{
    sx_ratchet *w = &c->w;
    int step;
    size_t hit;
    SX_TRY(try_skipped(c, r, &step, &hit));
    if (hit != SIZE_MAX) {
        /* A skipped message: its stored key, no other state change. */
        SX_TRY(decrypt_body(c, r->skipped[hit].mk, r->skipped[hit].iv, out, cap, plain));
        c->remove = hit;
        return SX_OK;
    }
    if (step == STEP_NONE && r->has_rcv) {
        sx_status st = decrypt_header(c, r->hkr);
        if (st == SX_OK)
            step = STEP_SAME;
        else if (st != SX_E_AUTH)
            return fail(c, SX_RATCHET_ERR_HEADER_PARSE, 0, SX_E_PROTOCOL);
    }
    if (step == STEP_NONE) {
        sx_status st = decrypt_header(c, r->nhkr);
        if (st == SX_E_AUTH)
            return fail(c, SX_RATCHET_ERR_HEADER, 0, SX_E_AUTH);
        if (st != SX_OK)
            return fail(c, SX_RATCHET_ERR_HEADER_PARSE, 0, SX_E_PROTOCOL);
        step = STEP_ADVANCE;
    }

    /* The peer's max version may raise ours, never above what we support. */
    if (c->hdr.max_version > w->current) {
        uint16_t v = c->hdr.max_version < w->max_supported ? c->hdr.max_version : w->max_supported;
        if (v > w->current)
            w->current = v;
    }
    if (step == STEP_ADVANCE) {
        SX_TRY(skip_keys(c, c->hdr.pn));
        SX_TRY(ratchet_step(c));
    }
    SX_TRY(skip_keys(c, c->hdr.ns));
    if (!w->has_rcv)
        return fail(c, SX_RATCHET_ERR_STATE, 0, SX_E_PROTOCOL);
    uint8_t mk[SX_RATCHET_KEY_LEN], iv[SX_RATCHET_IV_LEN], unused[SX_RATCHET_IV_LEN];
    sx_status st = chain_kdf(w->ckr, w->ckr, mk, iv, unused);
    if (st == SX_OK)
        st = decrypt_body(c, mk, iv, out, cap, plain);
    sx_wipe(mk, sizeof mk);
    if (st == SX_OK)
        w->nr++;
    return st;
}

sx_status sx_ratchet_decrypt(sx_ratchet *r, sx_slice msg, uint8_t *out, size_t cap,
                             sx_slice *plain, sx_ratchet_error *err)
{
    sx_ratchet_error ignored;
    if (err == NULL)
        err = &ignored;
    err->code = SX_RATCHET_OK;
    err->n = 0;
    SX_ENSURE(r != NULL && out != NULL && plain != NULL, SX_E_USAGE);
    SX_ENSURE(msg.ptr != NULL || msg.len == 0, SX_E_USAGE);
    *plain = sx_slice_of(NULL, 0);

    dec_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SX_E_NOMEM;
    c->err = err;
    c->remove = SIZE_MAX;
    sx_status st = SX_OK;
    if (sx_ratchet_enc_msg_decode(msg, &c->em) != SX_OK ||
        sx_ratchet_enc_header_decode(c->em.header, &c->eh) != SX_OK) {
        st = fail(c, SX_RATCHET_ERR_MESSAGE, 0, SX_E_PROTOCOL);
        goto done;
    }
    if (cap < c->em.body.len) {
        st = SX_E_USAGE;
        goto done;
    }
    c->hcap = c->eh.body.len > 0 ? c->eh.body.len : 1;
    c->hbuf = malloc(c->hcap);
    if (c->hbuf == NULL) {
        st = SX_E_NOMEM;
        goto done;
    }
    c->w = *r;
    st = decrypt_in(c, r, out, cap, plain);
    if (st == SX_OK)
        st = commit_skipped(r, c);
    if (st == SX_OK) {
        /* The skipped array now belongs to r as commit_skipped left it. */
        c->w.skipped = r->skipped;
        c->w.n_skipped = r->n_skipped;
        *r = c->w;
    } else {
        sx_wipe(out, cap < c->em.body.len ? cap : c->em.body.len);
        *plain = sx_slice_of(NULL, 0);
        /* A peer value the crypto refuses (a small-order DH key) or bytes
         * that fail below the parsers still get a code. */
        if (err->code == SX_RATCHET_OK && st == SX_E_AUTH)
            err->code = SX_RATCHET_ERR_HEADER;
        else if (err->code == SX_RATCHET_OK && st == SX_E_PROTOCOL)
            err->code = SX_RATCHET_ERR_MESSAGE;
    }
done:
    if (c->add != NULL)
        free_skipped(c->add, 2 * SX_RATCHET_MAX_SKIP);
    if (c->hbuf != NULL) {
        sx_wipe(c->hbuf, c->hcap);
        free(c->hbuf);
    }
    sx_wipe(c, sizeof *c);
    free(c);
    return st;
}

/* ---- storage ------------------------------------------------------------- */

enum {
    F_KEM = 1 << 0,
    F_KEM_ACCEPTED = 1 << 1,
    F_SUPPORT = 1 << 2,
    F_ENABLE = 1 << 3,
    F_SND_KEM = 1 << 4,
    F_RCV_KEM = 1 << 5,
    F_SND = 1 << 6,
    F_RCV = 1 << 7,
};

#define KEY(w, a) sx_write_bytes((w), (a), sizeof(a))

bool sx_ratchet_write(sx_writer *w, const sx_ratchet *r)
{
    if (r->n_skipped > SX_RATCHET_MAX_SKIPPED_KEYS)
        return sx_writer_fail(w, SX_E_USAGE);
    unsigned flags = (r->kem.present ? F_KEM : 0) |
                     (r->kem.present && r->kem.accepted ? F_KEM_ACCEPTED : 0) |
                     (r->support_kem ? F_SUPPORT : 0) | (r->enable_kem ? F_ENABLE : 0) |
                     (r->snd_kem ? F_SND_KEM : 0) | (r->rcv_kem ? F_RCV_KEM : 0) |
                     (r->has_snd ? F_SND : 0) | (r->has_rcv ? F_RCV : 0);
    bool ok = sx_write_u8(w, STATE_FORMAT) && sx_write_version(w, r->current) &&
              sx_write_version(w, r->max_supported) && KEY(w, r->ad) && KEY(w, r->dhrs) &&
              KEY(w, r->dhrs_pub) && sx_write_u8(w, (uint8_t)flags);
    if (ok && (flags & F_KEM))
        ok = KEY(w, r->kem.pk) && KEY(w, r->kem.sk);
    if (ok && (flags & F_KEM_ACCEPTED))
        ok = KEY(w, r->kem.pqrr) && KEY(w, r->kem.ss) && KEY(w, r->kem.ct);
    ok = ok && KEY(w, r->rk);
    if (ok && r->has_snd)
        ok = KEY(w, r->dhrr) && KEY(w, r->cks) && KEY(w, r->hks);
    if (ok && r->has_rcv)
        ok = KEY(w, r->ckr) && KEY(w, r->hkr);
    ok = ok && sx_write_u32(w, r->ns) && sx_write_u32(w, r->nr) && sx_write_u32(w, r->pn) &&
         KEY(w, r->nhks) && KEY(w, r->nhkr) && sx_write_u16(w, (uint16_t)r->n_skipped);
    for (size_t i = 0; ok && i < r->n_skipped; i++) {
        const sx_ratchet_skipped *s = &r->skipped[i];
        ok = KEY(w, s->hk) && sx_write_u32(w, s->n) && KEY(w, s->mk) && KEY(w, s->iv);
    }
    return ok;
}

#define RKEY(rd, a) sx_read_copy((rd), (a), sizeof(a))

sx_status sx_ratchet_read(sx_slice in, sx_ratchet *r)
{
    SX_ENSURE(r != NULL, SX_E_USAGE);
    memset(r, 0, sizeof *r);
    sx_reader rd;
    sx_reader_init_slice(&rd, in);
    uint8_t format = 0, flags = 0;
    uint16_t n_skipped = 0;
    sx_read_u8(&rd, &format);
    if (sx_reader_ok(&rd) && format != STATE_FORMAT && format != STATE_FORMAT_NO_PUB)
        sx_reader_fail(&rd, SX_E_PROTOCOL);
    sx_read_version(&rd, &r->current);
    sx_read_version(&rd, &r->max_supported);
    RKEY(&rd, r->ad);
    RKEY(&rd, r->dhrs);
    if (format == STATE_FORMAT)
        RKEY(&rd, r->dhrs_pub);
    sx_read_u8(&rd, &flags);
    if (sx_reader_ok(&rd) && (flags & F_KEM_ACCEPTED) && !(flags & F_KEM))
        sx_reader_fail(&rd, SX_E_PROTOCOL);
    r->kem.present = flags & F_KEM;
    r->kem.accepted = flags & F_KEM_ACCEPTED;
    r->support_kem = flags & F_SUPPORT;
    r->enable_kem = flags & F_ENABLE;
    r->snd_kem = flags & F_SND_KEM;
    r->rcv_kem = flags & F_RCV_KEM;
    r->has_snd = flags & F_SND;
    r->has_rcv = flags & F_RCV;
    if (r->kem.present) {
        RKEY(&rd, r->kem.pk);
        RKEY(&rd, r->kem.sk);
    }
    if (r->kem.accepted) {
        RKEY(&rd, r->kem.pqrr);
        RKEY(&rd, r->kem.ss);
        RKEY(&rd, r->kem.ct);
    }
    RKEY(&rd, r->rk);
    if (r->has_snd) {
        RKEY(&rd, r->dhrr);
        RKEY(&rd, r->cks);
        RKEY(&rd, r->hks);
    }
    if (r->has_rcv) {
        RKEY(&rd, r->ckr);
        RKEY(&rd, r->hkr);
    }
    sx_read_u32(&rd, &r->ns);
    sx_read_u32(&rd, &r->nr);
    sx_read_u32(&rd, &r->pn);
    RKEY(&rd, r->nhks);
    RKEY(&rd, r->nhkr);
    sx_read_u16(&rd, &n_skipped);
    if (sx_reader_ok(&rd) && n_skipped > SX_RATCHET_MAX_SKIPPED_KEYS)
        sx_reader_fail(&rd, SX_E_PROTOCOL);
    /* Each entry is 84 bytes: check the count against what is left before
     * allocating for it. */
    if (sx_reader_ok(&rd) && sx_reader_remaining(&rd) / 84 < n_skipped)
        sx_reader_fail(&rd, SX_E_PROTOCOL);
    if (sx_reader_ok(&rd) && n_skipped > 0) {
        r->skipped = calloc(n_skipped, sizeof *r->skipped);
        if (r->skipped == NULL)
            sx_reader_fail(&rd, SX_E_NOMEM);
        else
            r->n_skipped = n_skipped;
    }
    for (size_t i = 0; sx_reader_ok(&rd) && i < r->n_skipped; i++) {
        sx_ratchet_skipped *s = &r->skipped[i];
        RKEY(&rd, s->hk);
        sx_read_u32(&rd, &s->n);
        RKEY(&rd, s->mk);
        RKEY(&rd, s->iv);
    }
    sx_status st = sx_reader_finish(&rd);
    if (st == SX_OK && r->current > r->max_supported)
        st = SX_E_PROTOCOL;
    if (st == SX_OK && format == STATE_FORMAT_NO_PUB)
        st = sx_x448_public(r->dhrs, r->dhrs_pub);
    if (st != SX_OK)
        sx_ratchet_cleanup(r);
    return st;
}
