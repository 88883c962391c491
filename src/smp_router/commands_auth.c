/* Authorization of SMP commands (PROTOCOL-NOTES C.2): the signature or
 * authenticator of a transmission checked against the queue's keys, with a
 * dummy verification when there is no key to check (PROTOCOL-NOTES C12), and
 * the keys and DH agreements a command brings.
 *
 * Called on the worker that owns the connection; sx_cmd_verify_recipient
 * takes the queue lock only to copy the keys, and checks them after. */
#include <pthread.h>

#include "crypto/box.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "smp_router/commands_int.h"
#include "smp/transmission.h"

#define AUTH_BYTES_MAX (SX_BLOCK_SIZE + 512)

/* Dummy keys for the PROTOCOL-NOTES C12 timing mitigation: a verification of
 * the same kind still runs when there is no key to check against. */
static sx_qkey dummy_keys[4];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_keys(void)
{
    for (int a = 0; a < 4; a++) {
        sx_key *k;
        if (sx_key_generate((sx_key_alg)a, &k) == SX_OK && sx_qkey_from_key(k, &dummy_keys[a]) != SX_OK)
            dummy_keys[a].len = 0;
        sx_key_free(k);
    }
}

/* Verifies with a compact key; no OpenSSL key object on the hot path. */
static bool verify_with(sx_conn *c, const sx_smp_request *req, sx_slice signed_bytes, const sx_qkey *key)
{
    switch (req->auth_kind) {
    case SX_SMP_AUTH_ED25519:
    case SX_SMP_AUTH_ED448:
        return sx_key_verify_raw((sx_key_alg)key->alg, sx_slice_of(key->raw, key->len), signed_bytes,
                                 req->t.auth) == SX_OK;
    case SX_SMP_AUTH_AUTHENTICATOR: {
        if (!c->has_dh_priv || req->t.corr_id.len != SX_SMP_CORR_ID_LEN || key->len != 32)
            return false;
        uint8_t secret[32];
        bool ok = false;
        if (sx_x25519_raw(c->dh_priv, key->raw, secret) == SX_OK) {
            uint8_t nonce[SX_CB_NONCE_LEN];
            sx_cb_nonce(req->t.corr_id, nonce);
            ok = sx_cb_verify(secret, nonce, req->t.auth, signed_bytes) == SX_OK;
        }
        sx_wipe(secret, sizeof secret);
        return ok;
    }
    case SX_SMP_AUTH_NONE:
    default:
        return false;
    }
}

static sx_key_alg alg_for(sx_smp_auth_kind k)
{
    switch (k) {
    case SX_SMP_AUTH_ED448: return SX_KEY_ED448;
    case SX_SMP_AUTH_AUTHENTICATOR: return SX_KEY_X25519;
    case SX_SMP_AUTH_ED25519:
    default: return SX_KEY_ED25519;
    }
}

/* True when the request's authorization verifies with one of keys[0..n).
 * With no key of the presented kind a dummy verification runs (PROTOCOL-NOTES
 * C12). */
static bool verify_keys(sx_conn *c, const sx_smp_request *req, const sx_qkey *keys, size_t n)
{
    if (req->auth_kind == SX_SMP_AUTH_NONE)
        return false;
    static __thread uint8_t buf[AUTH_BYTES_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    if (!sx_smp_transmission_auth_bytes(&w, &req->t, c->sess.version, sx_smp_session_id(&c->sess),
                                        sx_svc_auth_prefix(c, req)))
        return false;
    sx_slice signed_bytes = sx_writer_slice(&w);
    sx_key_alg want = alg_for(req->auth_kind);
    bool ok = false, tried = false;
    for (size_t i = 0; i < n && !ok; i++) {
        if (keys[i].len == 0 || keys[i].alg != want)
            continue;
        tried = true;
        ok = verify_with(c, req, signed_bytes, &keys[i]);
    }
    if (!tried) {
        pthread_once(&dummy_once, make_dummy_keys);
        if (dummy_keys[want].len)
            (void)verify_with(c, req, signed_bytes, &dummy_keys[want]);
    }
    return ok;
}

bool sx_cmd_verify_one(sx_conn *c, const sx_smp_request *req, const sx_qkey *key)
{
    return verify_keys(c, req, key, key ? 1 : 0);
}

bool sx_cmd_verify_recipient(sx_conn *c, const sx_smp_request *req, sx_queue *q)
{
    sx_qkey keys[SX_MAX_RCV_KEYS];
    sx_queue_lock(q);
    size_t n = q->n_rkeys;
    for (size_t i = 0; i < n; i++)
        keys[i] = *sx_queue_rkey(q, i);
    sx_queue_unlock(q);
    return verify_keys(c, req, keys, n);
}

sx_status sx_cmd_qkey_of_pubkey(const sx_smp_pubkey *pk, sx_qkey *out)
{
    sx_key *k;
    SX_TRY(sx_key_decode_public(pk->der, SX_KEY_ANY, &k));
    sx_status st = sx_qkey_from_key(k, out);
    sx_key_free(k);
    return st;
}

/* X25519(peer public DER, fresh private key): the secret and our public key
 * DER for the reply. */
sx_status sx_cmd_dh_agree(const sx_smp_pubkey *peer, uint8_t secret[32], uint8_t pub_der[SX_KEY_SPKI_MAX],
                          sx_smp_pubkey *pub)
{
    sx_key *priv = NULL, *peer_key = NULL;
    sx_status st = sx_key_generate(SX_KEY_X25519, &priv);
    if (st == SX_OK)
        st = sx_key_decode_public(peer->der, SX_KEY_BIT(SX_KEY_X25519), &peer_key);
    size_t n = 0;
    if (st == SX_OK)
        st = sx_key_dh(priv, peer_key, secret, 32, &n);
    if (st == SX_OK)
        st = sx_smp_pubkey_of(priv, pub_der, pub);
    sx_key_free(priv);
    sx_key_free(peer_key);
    return st;
}
