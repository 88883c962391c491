/* The data behind short links: encodings, signatures, keys and the checks
 * of decryption (docs/AGENT.md, "Short links"). */
#include "agent/shortlink_data.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/util.h"

void sx_sl_fixed_free(sx_sl_fixed *f)
{
    if (f == NULL)
        return;
    sx_agent_connreq_free(&f->conn_req);
    memset(f, 0, sizeof *f);
}

/* ---- keys ---- */

sx_status sx_sl_contact_kdf(const uint8_t link_key[SX_SL_LINK_KEY_LEN], uint8_t link_id[SX_SL_LINK_ID_LEN],
                            uint8_t sb_key[SX_CB_KEY_LEN])
{
    uint8_t okm[SX_SL_LINK_ID_LEN + SX_CB_KEY_LEN];
    sx_status st = sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(link_key, SX_SL_LINK_KEY_LEN),
                                  sx_slice_str("SimpleXContactLink"), okm, sizeof okm);
    if (st == SX_OK) {
        memcpy(link_id, okm, SX_SL_LINK_ID_LEN);
        memcpy(sb_key, okm + SX_SL_LINK_ID_LEN, SX_CB_KEY_LEN);
    }
    sx_wipe(okm, sizeof okm);
    return st;
}

sx_status sx_sl_inv_kdf(const uint8_t link_key[SX_SL_LINK_KEY_LEN], uint8_t sb_key[SX_CB_KEY_LEN])
{
    return sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(link_key, SX_SL_LINK_KEY_LEN),
                          sx_slice_str("SimpleXInvLink"), sb_key, SX_CB_KEY_LEN);
}

/* ---- fields ---- */

static bool read_ed25519(sx_reader *r, uint8_t der[SX_ED25519_SPKI_LEN])
{
    sx_slice s;
    sx_key_alg alg;
    if (!sx_read_short(r, &s))
        return false;
    if (s.len != SX_ED25519_SPKI_LEN || sx_key_check_public(s, SX_KEY_BIT(SX_KEY_ED25519), &alg) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader kr;
    sx_reader_init_slice(&kr, s);
    return sx_read_copy(&kr, der, s.len) || sx_reader_fail(r, SX_E_PROTOCOL);
}

static bool write_user_link_data(sx_writer *w, sx_slice d)
{
    if (d.len <= 254)
        return sx_write_short(w, d);
    return sx_write_u8(w, 0xFF) && sx_write_large(w, d);
}

static bool read_user_link_data(sx_reader *r, sx_slice *d)
{
    sx_slice rest = sx_reader_rest(r);
    if (rest.len > 0 && rest.ptr[0] == 0xFF) {
        uint8_t tag;
        return sx_read_u8(r, &tag) && sx_read_large(r, d);
    }
    return sx_read_short(r, d);
}

static bool write_mode(sx_writer *w, sx_conn_mode m)
{
    if (m != SX_CONN_INVITATION && m != SX_CONN_CONTACT)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_u8(w, m == SX_CONN_INVITATION ? 'I' : 'C');
}

static bool read_mode(sx_reader *r, sx_conn_mode want)
{
    char c;
    if (!sx_read_char(r, &c))
        return false;
    if (c != (want == SX_CONN_INVITATION ? 'I' : 'C'))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
}

/* ---- fixed data ---- */

bool sx_sl_fixed_write(sx_writer *w, const sx_sl_fixed *f)
{
    return sx_write_version_range(w, f->agent_vr) &&
           sx_write_short(w, sx_slice_of(f->root_key, SX_ED25519_SPKI_LEN)) &&
           sx_agent_connreq_write(w, &f->conn_req) && (!f->has_entity_id || sx_write_short(w, f->entity_id));
}

sx_status sx_sl_fixed_decode(sx_slice in, sx_conn_mode mode, sx_sl_fixed *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    if (sx_read_version_range(&r, &out->agent_vr) && read_ed25519(&r, out->root_key) &&
        sx_agent_connreq_read(&r, &out->conn_req) && out->conn_req.mode != mode)
        (void)sx_reader_fail(&r, SX_E_PROTOCOL);
    /* an entity ID when a whole shortString follows; the rest is ignored */
    sx_slice rest = sx_reader_rest(&r);
    if (rest.len > 0 && rest.len - 1 >= rest.ptr[0]) {
        out->has_entity_id = true;
        (void)sx_read_short(&r, &out->entity_id);
    }
    sx_status st = sx_reader_status(&r);
    if (st != SX_OK)
        sx_sl_fixed_free(out);
    return st;
}

/* ---- user data ---- */

static bool write_owner(sx_writer *w, const sx_sl_owner *o)
{
    uint8_t buf[1 + 255 + 1 + SX_ED25519_SPKI_LEN + 1 + SX_SIG_ED25519_LEN];
    sx_writer iw;
    sx_writer_init_fixed(&iw, buf, sizeof buf);
    if (!sx_write_short(&iw, o->owner_id) || !sx_write_short(&iw, sx_slice_of(o->key, SX_ED25519_SPKI_LEN)) ||
        !sx_write_short(&iw, sx_slice_of(o->sig, SX_SIG_ED25519_LEN)))
        return sx_writer_fail(w, sx_writer_status(&iw));
    return sx_write_short(w, sx_writer_slice(&iw));
}

static bool read_owner(sx_reader *r, sx_sl_owner *o)
{
    sx_slice s, sig;
    if (!sx_read_short(r, &s))
        return false;
    sx_reader ir; /* the inner fields; bytes after them are ignored */
    sx_reader_init_slice(&ir, s);
    if (!sx_read_short(&ir, &o->owner_id) || !read_ed25519(&ir, o->key) || !sx_read_short(&ir, &sig) ||
        sig.len != SX_SIG_ED25519_LEN)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader_init_slice(&ir, sig);
    return sx_read_copy(&ir, o->sig, sig.len) || sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_sl_user_write(sx_writer *w, const sx_sl_user *u)
{
    if (!write_mode(w, u->mode) || !sx_write_version_range(w, u->agent_vr))
        return false;
    if (u->mode == SX_CONN_CONTACT) {
        if (u->owner_count > SX_SL_OWNERS_MAX || u->relay_count > SX_SL_RELAYS_MAX)
            return sx_writer_fail(w, SX_E_USAGE);
        if (!sx_write_bool(w, u->direct) || !sx_write_list_count(w, u->owner_count))
            return false;
        for (size_t i = 0; i < u->owner_count; i++)
            if (!write_owner(w, &u->owners[i]))
                return false;
        if (!sx_write_list_count(w, u->relay_count))
            return false;
        for (size_t i = 0; i < u->relay_count; i++) {
            if (u->relays[i].type == SX_SL_INVITATION)
                return sx_writer_fail(w, SX_E_USAGE);
            if (!sx_short_link_write(w, &u->relays[i]))
                return false;
        }
    }
    return write_user_link_data(w, u->data);
}

static bool read_user(sx_reader *r, sx_conn_mode mode, sx_sl_user *out)
{
    out->mode = mode;
    if (!read_mode(r, mode) || !sx_read_version_range(r, &out->agent_vr))
        return false;
    if (mode == SX_CONN_CONTACT) {
        uint8_t n;
        if (!sx_read_bool(r, &out->direct) || !sx_read_list_count(r, &n))
            return false;
        if (n > SX_SL_OWNERS_MAX)
            return sx_reader_fail(r, SX_E_LIMIT);
        for (size_t i = 0; i < n; i++)
            if (!read_owner(r, &out->owners[i]))
                return false;
        out->owner_count = n;
        if (!sx_read_list_count(r, &n))
            return false;
        if (n > SX_SL_RELAYS_MAX)
            return sx_reader_fail(r, SX_E_LIMIT);
        for (size_t i = 0; i < n; i++) {
            if (!sx_short_link_read(r, &out->relays[i]))
                return false;
            if (out->relays[i].type == SX_SL_INVITATION)
                return sx_reader_fail(r, SX_E_PROTOCOL);
        }
        out->relay_count = n;
    }
    return read_user_link_data(r, &out->data);
}

sx_status sx_sl_user_decode(sx_slice in, sx_conn_mode mode, sx_sl_user *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    (void)read_user(&r, mode, out);
    sx_status st = sx_reader_status(&r); /* later fields are ignored */
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---- signatures ---- */

bool sx_sl_write_signed(sx_writer *w, const sx_key *priv, sx_slice x)
{
    uint8_t sig[SX_SIG_MAX];
    size_t n = 0;
    if (priv == NULL || sx_key_alg_of(priv) != SX_KEY_ED25519)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_status st = sx_key_sign(priv, x, sig, sizeof sig, &n);
    if (st != SX_OK)
        return sx_writer_fail(w, st);
    return sx_write_short(w, sx_slice_of(sig, n)) && sx_write_slice(w, x);
}

sx_status sx_sl_sign_fixed(const sx_key *root_priv, const sx_sl_fixed *f, sx_writer *signed_out,
                           uint8_t link_key[SX_SL_LINK_KEY_LEN])
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_SL_FIXED_PADDED);
    sx_status st = sx_sl_fixed_write(&w, f) ? SX_OK : sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_sha3_256(sx_writer_slice(&w), link_key);
    if (st == SX_OK && !sx_sl_write_signed(signed_out, root_priv, sx_writer_slice(&w)))
        st = sx_writer_status(signed_out);
    sx_writer_cleanup(&w);
    return st;
}

static bool owner_message(sx_slice owner_id, const uint8_t key[SX_ED25519_SPKI_LEN], sx_writer *w)
{
    return sx_write_slice(w, owner_id) && sx_write_bytes(w, key, SX_ED25519_SPKI_LEN);
}

sx_status sx_sl_owner_sign(const sx_key *signer, sx_slice owner_id, const uint8_t owner_key[SX_ED25519_SPKI_LEN],
                           uint8_t sig[SX_SIG_ED25519_LEN])
{
    uint8_t buf[255 + SX_ED25519_SPKI_LEN];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    if (signer == NULL || sx_key_alg_of(signer) != SX_KEY_ED25519 || !owner_message(owner_id, owner_key, &w))
        return SX_E_USAGE;
    size_t n = 0;
    return sx_key_sign(signer, sx_writer_slice(&w), sig, SX_SIG_ED25519_LEN, &n);
}

/* Whether sig over msg verifies with the Ed25519 key of DER der. */
static bool verify_der(const uint8_t der[SX_ED25519_SPKI_LEN], sx_slice msg, sx_slice sig)
{
    sx_key *k = NULL;
    if (sx_key_decode_public(sx_slice_of(der, SX_ED25519_SPKI_LEN), SX_KEY_BIT(SX_KEY_ED25519), &k) != SX_OK)
        return false;
    bool ok = sx_key_verify(k, msg, sig) == SX_OK;
    sx_key_free(k);
    return ok;
}

sx_sl_check sx_sl_validate_owners(const uint8_t root_key[SX_ED25519_SPKI_LEN], const sx_sl_owner *owners,
                                  size_t count, size_t *bad)
{
    for (size_t i = 0; i < count; i++) {
        const sx_sl_owner *o = &owners[i];
        bool ok = memcmp(o->key, root_key, SX_ED25519_SPKI_LEN) != 0;
        for (size_t j = 0; ok && j < i; j++)
            ok = !sx_slice_eq(o->owner_id, owners[j].owner_id) &&
                 memcmp(o->key, owners[j].key, SX_ED25519_SPKI_LEN) != 0;
        if (ok) {
            uint8_t buf[255 + SX_ED25519_SPKI_LEN];
            sx_writer w;
            sx_writer_init_fixed(&w, buf, sizeof buf);
            ok = owner_message(o->owner_id, o->key, &w);
            sx_slice msg = sx_writer_slice(&w), sig = sx_slice_of(o->sig, SX_SIG_ED25519_LEN);
            bool signed_ok = ok && verify_der(root_key, msg, sig);
            for (size_t j = 0; ok && !signed_ok && j < i; j++)
                signed_ok = verify_der(owners[j].key, msg, sig);
            ok = signed_ok;
        }
        if (!ok) {
            if (bad)
                *bad = i;
            return SX_SL_BAD_OWNERS;
        }
    }
    return SX_SL_OK;
}

/* ---- blobs ---- */

bool sx_sl_encrypt(sx_writer *w, const uint8_t sb_key[SX_CB_KEY_LEN], size_t padded_len, const uint8_t *nonce,
                   sx_slice plain)
{
    uint8_t n[SX_CB_NONCE_LEN];
    if (nonce)
        memcpy(n, nonce, sizeof n);
    else
        sx_random_bytes(n, sizeof n);
    if (!sx_write_bytes(w, n, sizeof n))
        return false;
    uint8_t *out = sx_write_reserve(w, padded_len + SX_CB_TAG_LEN);
    if (out == NULL)
        return false;
    sx_status st = sx_sb_encrypt_padded(sb_key, n, plain, padded_len, out, padded_len + SX_CB_TAG_LEN);
    return st == SX_OK || sx_writer_fail(w, st);
}

/* Opens a blob into buf and splits signed(x): *sig and *x point into buf. */
static sx_status open_blob(const uint8_t sb_key[SX_CB_KEY_LEN], sx_slice blob, uint8_t *buf, size_t cap,
                           sx_slice *sig, sx_slice *x)
{
    sx_reader r;
    sx_reader_init_slice(&r, blob);
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_slice ct, plain;
    if (!sx_read_copy(&r, nonce, sizeof nonce) || !sx_read_tail(&r, &ct))
        return SX_E_PROTOCOL;
    if (ct.len > cap + SX_CB_TAG_LEN)
        return SX_E_LIMIT;
    sx_status st = sx_sb_decrypt_padded(sb_key, nonce, ct, buf, cap, &plain);
    if (st != SX_OK)
        return st;
    sx_reader_init_slice(&r, plain);
    if (!sx_read_short(&r, sig) || sig->len != SX_SIG_ED25519_LEN || !sx_read_tail(&r, x))
        return SX_E_PROTOCOL;
    return SX_OK;
}

static sx_status decrypt_checks(const uint8_t link_key[SX_SL_LINK_KEY_LEN], const uint8_t sb_key[SX_CB_KEY_LEN],
                                sx_slice enc_fixed, sx_slice enc_user, sx_conn_mode mode, sx_sl_plain *buf,
                                sx_sl_fixed *fixed, sx_sl_user *user, sx_sl_check *check)
{
    sx_slice sig1, fd, sig2, ud;
    *check = SX_SL_BAD_MESSAGE;
    sx_status st = open_blob(sb_key, enc_fixed, buf->fixed, sizeof buf->fixed, &sig1, &fd);
    if (st == SX_OK)
        st = open_blob(sb_key, enc_user, buf->user, sizeof buf->user, &sig2, &ud);
    if (st == SX_OK)
        st = sx_sl_fixed_decode(fd, mode, fixed);
    if (st == SX_OK)
        st = sx_sl_user_decode(ud, mode, user);
    if (st != SX_OK)
        return st;
    uint8_t h[SX_SL_LINK_KEY_LEN];
    st = sx_sha3_256(fd, h);
    if (st != SX_OK)
        return st;
    *check = SX_SL_BAD_HASH;
    if (!sx_ct_equal(sx_slice_of(h, sizeof h), sx_slice_of(link_key, SX_SL_LINK_KEY_LEN)))
        return SX_E_AUTH;
    *check = SX_SL_BAD_SIGNATURE;
    if (!verify_der(fixed->root_key, fd, sig1))
        return SX_E_AUTH;
    if (mode == SX_CONN_CONTACT) {
        *check = sx_sl_validate_owners(fixed->root_key, user->owners, user->owner_count, NULL);
        if (*check != SX_SL_OK)
            return SX_E_AUTH;
    }
    *check = SX_SL_BAD_USER_SIGNATURE;
    bool ok = verify_der(fixed->root_key, ud, sig2);
    for (size_t i = 0; !ok && mode == SX_CONN_CONTACT && i < user->owner_count; i++)
        ok = verify_der(user->owners[i].key, ud, sig2);
    if (!ok)
        return SX_E_AUTH;
    *check = SX_SL_OK;
    return SX_OK;
}

sx_status sx_sl_decrypt(const uint8_t link_key[SX_SL_LINK_KEY_LEN], const uint8_t sb_key[SX_CB_KEY_LEN],
                        sx_slice enc_fixed, sx_slice enc_user, sx_conn_mode mode, sx_sl_plain *buf,
                        sx_sl_fixed *fixed, sx_sl_user *user, sx_sl_check *check)
{
    sx_sl_check c;
    if (check == NULL)
        check = &c;
    memset(fixed, 0, sizeof *fixed);
    memset(user, 0, sizeof *user);
    sx_status st = decrypt_checks(link_key, sb_key, enc_fixed, enc_user, mode, buf, fixed, user, check);
    if (st != SX_OK)
        sx_sl_fixed_free(fixed);
    return st;
}
