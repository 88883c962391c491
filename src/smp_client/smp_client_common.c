/* Shared by both SMP client flavours: command transmissions with their
 * authorization (PROTOCOL-NOTES C7, C8) and decoding of received batch
 * items. */
#include "smp_client/smp_client_int.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/util.h"

#define CMD_BUF (SX_BLOCK_SIZE + 1024)

/* PROTOCOL-NOTES C8: authenticator over the signed bytes with the router's
 * session key. */
static sx_status authenticate_x25519(const sx_smp_session *s, const sx_key *k, sx_slice corr, sx_slice signed_bytes,
                                     uint8_t *auth, size_t *auth_len)
{
    SX_ENSURE(s->server_dh_pub, SX_E_AUTH);
    uint8_t secret[64];
    size_t n = 0;
    sx_status st = sx_key_dh(k, s->server_dh_pub, secret, sizeof secret, &n);
    if (st == SX_OK) {
        uint8_t nonce[SX_CB_NONCE_LEN];
        sx_cb_nonce(corr, nonce);
        st = sx_cb_authenticate(secret, nonce, signed_bytes, auth);
        *auth_len = SX_CB_AUTH_LEN;
    }
    sx_wipe(secret, sizeof secret);
    return st;
}

/* PROTOCOL-NOTES C9: in a service session the commands that associate a
 * queue with the service carry the service's signature too. */
static bool uses_service_sig(const sx_smp_cmd *cmd)
{
    return cmd->tag == SX_SMP_C_NEW || cmd->tag == SX_SMP_C_SUB || cmd->tag == SX_SMP_C_NSUB;
}

static sx_status encode_with(const sx_smp_session *s, const sx_key *service_key, sx_slice entity,
                             const sx_smp_cmd *cmd, const sx_key *auth_key,
                             const uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_writer *w);

sx_status sx_smp_client_encode(const sx_smp_session *s, sx_slice entity, const sx_smp_cmd *cmd,
                               const sx_key *auth_key, uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_writer *w)
{
    return sx_smp_client_encode_svc(s, NULL, entity, cmd, auth_key, corr_id, w);
}

sx_status sx_smp_client_encode_svc(const sx_smp_session *s, const sx_key *service_key, sx_slice entity,
                                   const sx_smp_cmd *cmd, const sx_key *auth_key,
                                   uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_writer *w)
{
    sx_random_bytes(corr_id, SX_SMP_CORR_ID_LEN);
    return encode_with(s, service_key, entity, cmd, auth_key, corr_id, w);
}

sx_status sx_smp_client_encode_corr(const sx_smp_session *s, sx_slice entity, const sx_smp_cmd *cmd,
                                    const sx_key *auth_key, const uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_writer *w)
{
    return encode_with(s, NULL, entity, cmd, auth_key, corr_id, w);
}

static sx_status encode_with(const sx_smp_session *s, const sx_key *service_key, sx_slice entity,
                             const sx_smp_cmd *cmd, const sx_key *auth_key,
                             const uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_writer *w)
{
    uint16_t v = s->version;
    uint8_t *cmdbuf = malloc(CMD_BUF);
    uint8_t *authbuf = malloc(SX_SMP_CLIENT_TBUF);
    sx_status st = SX_E_NOMEM;
    if (!cmdbuf || !authbuf)
        goto done;
    sx_writer cw;
    sx_writer_init_fixed(&cw, cmdbuf, CMD_BUF);
    if (!sx_smp_cmd_write(&cw, v, cmd)) {
        st = sx_writer_status(&cw);
        goto done;
    }
    sx_slice corr = sx_slice_of(corr_id, SX_SMP_CORR_ID_LEN);
    uint8_t auth[128];
    size_t auth_len = 0;
    uint8_t ssig[128];
    size_t ssig_len = 0;
    bool svc_sig = auth_key && service_key && s->has_service && v >= SX_SMP_V_SERVICE_CERTS && uses_service_sig(cmd);
    if (auth_key) {
        sx_writer aw;
        sx_writer_init_fixed(&aw, authbuf, SX_SMP_CLIENT_TBUF);
        /* The entity key signs fingerprint || bytes, the service key the bytes. */
        sx_slice fp = svc_sig ? sx_slice_of(s->service_cert_hash, SX_FINGERPRINT_LEN) : sx_slice_of(NULL, 0);
        if (!sx_smp_write_auth_bytes(&aw, fp, sx_smp_session_id(s), corr, entity, sx_writer_slice(&cw))) {
            st = sx_writer_status(&aw);
            goto done;
        }
        if (svc_sig) {
            sx_slice all = sx_writer_slice(&aw);
            st = sx_key_sign(service_key, sx_slice_of(all.ptr + fp.len, all.len - fp.len), ssig, sizeof ssig,
                             &ssig_len);
            if (st != SX_OK)
                goto done;
        }
        if (sx_key_alg_of(auth_key) == SX_KEY_X25519)
            st = authenticate_x25519(s, auth_key, corr, sx_writer_slice(&aw), auth, &auth_len);
        else
            st = sx_key_sign(auth_key, sx_writer_slice(&aw), auth, sizeof auth, &auth_len);
        if (st != SX_OK)
            goto done;
    }
    sx_smp_transmission t = {0};
    t.auth = sx_slice_of(auth, auth_len);
    t.has_service_sig = svc_sig;
    t.service_sig = sx_slice_of(ssig, ssig_len);
    t.session_id = sx_smp_session_id(s);
    t.corr_id = corr;
    t.entity_id = entity;
    t.command = sx_writer_slice(&cw);
    st = sx_smp_transmission_write(w, v, &t) ? SX_OK : sx_writer_status(w);
done:
    free(cmdbuf);
    free(authbuf);
    return st;
}

sx_status sx_smp_client_reply_from(const sx_smp_session *s, sx_slice item, sx_smp_client_reply *r)
{
    memset(r, 0, sizeof *r);
    r->buf = malloc(item.len ? item.len : 1);
    if (!r->buf)
        return SX_E_NOMEM;
    if (item.len)
        memcpy(r->buf, item.ptr, item.len);
    r->len = item.len;
    r->ok = sx_smp_reply_decode(sx_slice_of(r->buf, r->len), s->version, sx_smp_session_id(s), &r->reply) == SX_OK;
    return SX_OK;
}
