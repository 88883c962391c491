/* Per-queue envelopes and agent envelopes (docs/AGENT.md, "Message
 * envelopes"). */
#include "agent/envelope.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"

size_t sx_agent_conn_info_padded_len(uint16_t agent_version, bool pq_support)
{
    return pq_support && agent_version >= 5 ? SX_AGENT_CONN_INFO_PADDED_PQ : SX_AGENT_CONN_INFO_PADDED;
}

size_t sx_agent_msg_padded_len(uint16_t agent_version, bool pq_support)
{
    return pq_support && agent_version >= 5 ? SX_AGENT_MSG_PADDED_PQ : SX_AGENT_MSG_PADDED;
}

/* ---- ClientMsgEnvelope ---- */

bool sx_client_env_write(sx_writer *w, const sx_client_env *e)
{
    if (!sx_write_version(w, e->version) || !sx_write_maybe(w, e->has_dh) ||
        (e->has_dh && !sx_write_short(w, sx_slice_of(e->dh, SX_X25519_SPKI_LEN))))
        return false;
    return sx_write_bytes(w, e->nonce, SX_CB_NONCE_LEN) && sx_write_slice(w, e->enc_body);
}

static bool read_x25519(sx_reader *r, uint8_t dh[SX_X25519_SPKI_LEN])
{
    sx_slice der;
    sx_key_alg alg;
    if (!sx_read_short(r, &der))
        return false;
    if (der.len != SX_X25519_SPKI_LEN || sx_key_check_public(der, SX_KEY_BIT(SX_KEY_X25519), &alg) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    sx_reader kr;
    sx_reader_init_slice(&kr, der);
    return sx_read_copy(&kr, dh, der.len) || sx_reader_fail(r, SX_E_PROTOCOL);
}

sx_status sx_client_env_decode(sx_slice in, sx_client_env *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    if (sx_read_version(&r, &out->version) && sx_read_maybe(&r, &out->has_dh) &&
        (!out->has_dh || read_x25519(&r, out->dh)))
        (void)(sx_read_copy(&r, out->nonce, SX_CB_NONCE_LEN) && sx_read_tail(&r, &out->enc_body));
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---- ClientMessage ---- */

bool sx_client_msg_write(sx_writer *w, const sx_client_msg *m)
{
    if (m->confirmation) {
        if (!sx_write_u8(w, 'K') || !sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &m->auth_key))
            return false;
    } else if (!sx_write_u8(w, '_')) {
        return false;
    }
    return sx_write_slice(w, m->body);
}

sx_status sx_client_msg_decode(sx_slice in, sx_client_msg *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    char h;
    if (sx_read_char(&r, &h)) {
        if (h == 'K') {
            out->confirmation = true;
            (void)sx_smp_read_pubkey(&r, SX_KEY_AUTH_ALGS, &out->auth_key);
        } else if (h != '_') {
            (void)sx_reader_fail(&r, SX_E_PROTOCOL);
        }
    }
    (void)sx_read_tail(&r, &out->body);
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---- per-queue encryption ---- */

sx_status sx_agent_e2e_secret(const sx_key *own_priv, const uint8_t peer_dh[SX_X25519_SPKI_LEN],
                              uint8_t secret[SX_CB_KEY_LEN])
{
    sx_key *peer = NULL;
    if (own_priv == NULL || peer_dh == NULL || sx_key_alg_of(own_priv) != SX_KEY_X25519)
        return SX_E_USAGE;
    sx_status st = sx_key_decode_public(sx_slice_of(peer_dh, SX_X25519_SPKI_LEN), SX_KEY_BIT(SX_KEY_X25519), &peer);
    if (st != SX_OK)
        return st;
    size_t n = 0;
    st = sx_key_dh(own_priv, peer, secret, SX_CB_KEY_LEN, &n);
    sx_key_free(peer);
    if (st == SX_OK && n != SX_CB_KEY_LEN)
        st = SX_E_INTERNAL;
    return st;
}

bool sx_agent_cb_encrypt(sx_writer *w, const uint8_t secret[SX_CB_KEY_LEN], uint16_t smp_client_version,
                         const uint8_t *own_dh, const uint8_t *nonce, sx_slice client_msg)
{
    size_t padded = own_dh ? SX_AGENT_E2E_CONF_PADDED : SX_AGENT_E2E_MSG_PADDED;
    sx_client_env e;
    memset(&e, 0, sizeof e);
    e.version = smp_client_version;
    e.has_dh = own_dh != NULL;
    if (own_dh)
        memcpy(e.dh, own_dh, SX_X25519_SPKI_LEN);
    if (nonce)
        memcpy(e.nonce, nonce, SX_CB_NONCE_LEN);
    else
        sx_random_bytes(e.nonce, SX_CB_NONCE_LEN);
    uint8_t *body = malloc(padded + SX_CB_TAG_LEN);
    if (body == NULL)
        return sx_writer_fail(w, SX_E_NOMEM);
    sx_status st = sx_cb_encrypt_padded(secret, e.nonce, client_msg, padded, body, padded + SX_CB_TAG_LEN);
    bool ok = st == SX_OK;
    if (ok) {
        e.enc_body = sx_slice_of(body, padded + SX_CB_TAG_LEN);
        ok = sx_client_env_write(w, &e);
    } else {
        (void)sx_writer_fail(w, st);
    }
    free(body);
    return ok;
}

bool sx_agent_cb_encrypt_once(sx_writer *w, uint16_t smp_client_version, const uint8_t rcv_dh[SX_X25519_SPKI_LEN],
                              sx_slice client_msg)
{
    sx_key *eph = NULL;
    uint8_t secret[SX_CB_KEY_LEN], pub[SX_X25519_SPKI_LEN];
    sx_status st = sx_key_generate(SX_KEY_X25519, &eph);
    if (st == SX_OK)
        st = sx_agent_e2e_secret(eph, rcv_dh, secret);
    if (st == SX_OK) {
        sx_writer kw;
        sx_writer_init_fixed(&kw, pub, sizeof pub);
        if (!sx_key_write_public(&kw, eph) || kw.len != SX_X25519_SPKI_LEN)
            st = SX_E_INTERNAL;
    }
    sx_key_free(eph);
    bool ok = st == SX_OK ? sx_agent_cb_encrypt(w, secret, smp_client_version, pub, NULL, client_msg)
                          : sx_writer_fail(w, st);
    sx_wipe(secret, sizeof secret);
    return ok;
}

sx_status sx_agent_cb_decrypt(const uint8_t secret[SX_CB_KEY_LEN], const sx_client_env *env, uint8_t *buf,
                              size_t cap, sx_slice *client_msg)
{
    return sx_cb_decrypt_padded(secret, env->nonce, env->enc_body, buf, cap, client_msg);
}

/* ---- agent envelopes ---- */

bool sx_agent_env_write(sx_writer *w, const sx_agent_env *e)
{
    if (!sx_write_version(w, e->agent_version))
        return false;
    switch (e->type) {
    case SX_AGENT_ENV_CONFIRMATION:
        return sx_write_u8(w, 'C') && sx_write_maybe(w, e->has_e2e) &&
               (!e->has_e2e || sx_e2e_params_write(w, &e->e2e)) &&
               sx_write_slice(w, e->body);
    case SX_AGENT_ENV_MESSAGE:
        return sx_write_u8(w, 'M') && sx_write_slice(w, e->body);
    case SX_AGENT_ENV_INVITATION:
        if (e->conn_req.len == 0)
            return sx_writer_fail(w, SX_E_USAGE);
        return sx_write_u8(w, 'I') && sx_write_large(w, e->conn_req) && sx_write_slice(w, e->body);
    case SX_AGENT_ENV_RATCHET_KEY:
        if (!e->has_e2e || e->e2e.kem.state == SX_KEM_ACCEPTED)
            return sx_writer_fail(w, SX_E_USAGE);
        return sx_write_u8(w, 'R') && sx_e2e_params_write(w, &e->e2e) && sx_write_slice(w, e->body);
    }
    return sx_writer_fail(w, SX_E_USAGE);
}

static sx_status read_env(sx_reader *r, sx_agent_env *out, sx_agent_connreq *inv)
{
    char t;
    if (!sx_read_version(r, &out->agent_version) || !sx_read_char(r, &t))
        return sx_reader_status(r);
    switch (t) {
    case 'C':
        out->type = SX_AGENT_ENV_CONFIRMATION;
        if (sx_read_maybe(r, &out->has_e2e) && out->has_e2e)
            (void)sx_e2e_params_read(r, &out->e2e);
        break;
    case 'M':
        out->type = SX_AGENT_ENV_MESSAGE;
        break;
    case 'I': {
        out->type = SX_AGENT_ENV_INVITATION;
        if (!sx_read_large(r, &out->conn_req))
            break;
        sx_agent_connreq *c = inv;
        sx_agent_connreq *tmp = NULL;
        if (c == NULL) {
            tmp = calloc(1, sizeof *tmp);
            if (tmp == NULL)
                return SX_E_NOMEM;
            c = tmp;
        }
        sx_status st = sx_agent_connreq_parse((const char *)out->conn_req.ptr, out->conn_req.len, c);
        if (st == SX_OK && c->mode != SX_CONN_INVITATION)
            st = SX_E_PROTOCOL;
        if (tmp) {
            sx_agent_connreq_free(tmp);
            free(tmp);
        }
        if (st != SX_OK)
            return st;
        break;
    }
    case 'R':
        out->type = SX_AGENT_ENV_RATCHET_KEY;
        out->has_e2e = true;
        if (sx_e2e_params_read(r, &out->e2e) && out->e2e.kem.state == SX_KEM_ACCEPTED)
            (void)sx_reader_fail(r, SX_E_PROTOCOL);
        break;
    default:
        return SX_E_PROTOCOL;
    }
    (void)sx_read_tail(r, &out->body);
    return sx_reader_finish(r);
}

sx_status sx_agent_env_decode(sx_slice in, sx_agent_env *out, sx_agent_connreq *inv)
{
    memset(out, 0, sizeof *out);
    if (inv)
        memset(inv, 0, sizeof *inv);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    sx_status st = read_env(&r, out, inv);
    if (st != SX_OK) {
        memset(out, 0, sizeof *out);
        if (inv)
            sx_agent_connreq_free(inv);
    }
    return st;
}
