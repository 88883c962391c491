/* Authorization of SMP commands (PROTOCOL-NOTES C.2): the signature or
 * authenticator of a transmission checked against the queue's keys, with a
 * dummy verification when there is no key to check (PROTOCOL-NOTES C12), and
 * the keys and DH agreements a command brings.
 *
 * Called on the worker that owns the connection; sx_cmd_verify_recipient
 * takes the queue lock only to copy the keys, and checks them after. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/ed25519_batch.h"
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

/* ---- the Ed25519 signatures of one received batch, verified together ----
 * Before the commands of a batch run, sx_cmd_preverify_begin finds the key
 * each Ed25519-signed command will be checked against (the queue's recipient
 * keys, its sender key for SEND, its notifier key for NSUB), and verifies
 * all these signatures at once (crypto/ed25519_batch.h: one multi-scalar
 * multiplication; when it fails, each one alone with libsodium). The
 * handlers then verify as before, and verify_with takes the answer from
 * here when the signed bytes, the signature and the key are exactly those
 * pre-verified; any other verification (a key changed by an earlier command
 * of the batch, a queue that was not there, the dummy key of PROTOCOL-NOTES
 * C12) runs alone as before. So every answer stays what one-by-one
 * verification gives (docs/PERFORMANCE.md says where the batch equation can
 * differ). */

#define PV_MAX_ITEMS 512
#define PV_BYTES (4 * SX_BLOCK_SIZE)

typedef struct pv_entry {
    const uint8_t *sig; /* the signature in the received block */
    uint32_t off, len;  /* the signed bytes in pv_state.bytes */
    uint8_t pk[32];
    uint8_t ok;
} pv_entry;

typedef struct pv_state {
    size_t n, used;
    pv_entry e[PV_MAX_ITEMS];
    sx_ed25519_item items[PV_MAX_ITEMS];
    uint8_t ok[PV_MAX_ITEMS];
    uint8_t bytes[PV_BYTES];
} pv_state;

static __thread pv_state *pv_cur; /* set only during sx_router_handle_batch */
static pthread_once_t pv_once = PTHREAD_ONCE_INIT;
static bool pv_enabled = true;

static void pv_read_env(void)
{
    /* SX_SMP_ED25519_BATCH=0: one verification per command, for comparison */
    const char *e = getenv("SX_SMP_ED25519_BATCH");
    pv_enabled = !(e && strcmp(e, "0") == 0);
}

/* The bytes the authorization covers (PROTOCOL-NOTES C4, C9). */
static bool auth_bytes(sx_writer *w, sx_conn *c, const sx_smp_request *req)
{
    return sx_smp_transmission_auth_bytes(w, &req->t, c->sess.version, sx_smp_session_id(&c->sess),
                                          sx_svc_auth_prefix(c, req));
}

/* The pre-verified answer for (signed bytes, signature, key): 1 or 0, or -1
 * when this triple was not pre-verified. */
static int pv_lookup(const sx_smp_request *req, sx_slice signed_bytes, const sx_qkey *key)
{
    pv_state *s = pv_cur;
    if (!s || key->alg != SX_KEY_ED25519 || key->len != 32 || req->t.auth.len != 64)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        const pv_entry *e = &s->e[i];
        if (e->sig == req->t.auth.ptr && e->len == signed_bytes.len && memcmp(e->pk, key->raw, 32) == 0 &&
            memcmp(s->bytes + e->off, signed_bytes.ptr, e->len) == 0)
            return e->ok;
    }
    return -1;
}

/* The queue keys a command's handler checks its signature against. */
static size_t pv_keys_of(sx_router *r, const sx_smp_request *req, sx_qkey *keys)
{
    sx_party party;
    switch (req->cmd.tag) {
    case SX_SMP_C_SEND: party = SX_PARTY_SENDER; break;
    case SX_SMP_C_NSUB: party = SX_PARTY_NOTIFIER; break;
    case SX_SMP_C_SUB:
    case SX_SMP_C_GET:
    case SX_SMP_C_ACK:
    case SX_SMP_C_KEY:
    case SX_SMP_C_RKEY:
    case SX_SMP_C_LSET:
    case SX_SMP_C_LDEL:
    case SX_SMP_C_NKEY:
    case SX_SMP_C_NDEL:
    case SX_SMP_C_OFF:
    case SX_SMP_C_DEL:
    case SX_SMP_C_QUE: party = SX_PARTY_RECIPIENT; break;
    default: return 0;
    }
    sx_queue *q = sx_store_find(r->store, party, req->t.entity_id);
    if (!q)
        return 0;
    size_t n = 0;
    sx_queue_lock(q);
    if (party == SX_PARTY_SENDER)
        keys[n++] = sx_queue_skey(q);
    else if (party == SX_PARTY_NOTIFIER)
        keys[n++] = sx_queue_notifier(q) ? sx_queue_notifier(q)->key : (sx_qkey){0};
    else
        for (size_t i = 0; i < q->n_rkeys && i < SX_MAX_RCV_KEYS; i++)
            keys[n++] = sx_queue_rkey(q, i);
    sx_queue_unlock(q);
    sx_queue_release(r->store, q);
    return n;
}

static void pv_add(pv_state *s, sx_conn *c, const sx_smp_request *req)
{
    if (req->auth_kind != SX_SMP_AUTH_ED25519 || req->t.auth.len != 64)
        return;
    sx_qkey keys[SX_MAX_RCV_KEYS];
    size_t nk = pv_keys_of(c->w->r, req, keys);
    if (nk == 0)
        return;
    sx_writer w;
    sx_writer_init_fixed(&w, s->bytes + s->used, PV_BYTES - s->used);
    if (!auth_bytes(&w, c, req))
        return; /* no room: verified alone later */
    sx_slice b = sx_writer_slice(&w);
    bool used = false;
    for (size_t k = 0; k < nk && s->n < PV_MAX_ITEMS; k++) {
        if (keys[k].alg != SX_KEY_ED25519 || keys[k].len != 32)
            continue;
        pv_entry *e = &s->e[s->n++];
        e->sig = req->t.auth.ptr;
        e->off = (uint32_t)s->used;
        e->len = (uint32_t)b.len;
        memcpy(e->pk, keys[k].raw, 32);
        e->ok = 0;
        used = true;
    }
    if (used)
        s->used += b.len;
}

void *sx_cmd_preverify_begin(sx_conn *c, const sx_slice *items, size_t n)
{
    pthread_once(&pv_once, pv_read_env);
    if (!pv_enabled || n < 2 || pv_cur)
        return NULL;
    pv_state *s = malloc(sizeof *s);
    if (!s)
        return NULL; /* each verified alone */
    s->n = s->used = 0;
    for (size_t i = 0; i < n; i++) {
        sx_smp_request req;
        if (sx_smp_request_decode(items[i], c->sess.version, sx_smp_session_id(&c->sess), &req) == SX_OK)
            pv_add(s, c, &req);
    }
    if (s->n < 2) {
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++)
        s->items[i] = (sx_ed25519_item){s->bytes + s->e[i].off, s->e[i].len, s->e[i].sig, s->e[i].pk};
    (void)sx_ed25519_verify_batch(s->items, s->n, s->ok);
    for (size_t i = 0; i < s->n; i++)
        s->e[i].ok = s->ok[i];
    pv_cur = s;
    return s;
}

void sx_cmd_preverify_end(void *token)
{
    if (!token)
        return;
    if (pv_cur == token)
        pv_cur = NULL;
    free(token);
}

/* Verifies with a compact key; no OpenSSL key object on the hot path. */
static bool verify_with(sx_conn *c, const sx_smp_request *req, sx_slice signed_bytes, const sx_qkey *key)
{
    switch (req->auth_kind) {
    case SX_SMP_AUTH_ED25519: {
        int known = pv_lookup(req, signed_bytes, key);
        if (known >= 0)
            return known == 1;
        return sx_key_verify_raw((sx_key_alg)key->alg, sx_slice_of(key->raw, key->len), signed_bytes,
                                 req->t.auth) == SX_OK;
    }
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
    if (!auth_bytes(&w, c, req))
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
        keys[i] = sx_queue_rkey(q, i);
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
