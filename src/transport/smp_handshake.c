/* SMP transport handshake (PROTOCOL-NOTES B16-B26) and the session it yields.
 * Decoders follow the reference's parsers, including the untagged optional
 * parts that are tried and dropped when they do not parse; negotiation is
 * pure (blocks in, blocks and a session out); the blocking helpers at the end
 * only add tls.h's block I/O. */
#include "transport/smp_handshake.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "crypto/util.h"

/* ---- Transport errors (PROTOCOL-NOTES C20) ------------------------------- */

static const struct {
    sx_transport_error e;
    const char *word;      /* first word */
    const char *handshake; /* second word after "HANDSHAKE", or NULL */
    const char *text;
} te_names[] = {
    {SX_TE_BLOCK, "BLOCK", NULL, "BLOCK"},
    {SX_TE_VERSION, "VERSION", NULL, "VERSION"},
    {SX_TE_LARGE_MSG, "LARGE_MSG", NULL, "LARGE_MSG"},
    {SX_TE_SESSION, "SESSION", NULL, "SESSION"},
    {SX_TE_NO_AUTH, "NO_AUTH", NULL, "NO_AUTH"},
    {SX_TE_HANDSHAKE_PARSE, "HANDSHAKE", "PARSE", "HANDSHAKE PARSE"},
    {SX_TE_HANDSHAKE_IDENTITY, "HANDSHAKE", "IDENTITY", "HANDSHAKE IDENTITY"},
    {SX_TE_HANDSHAKE_BAD_AUTH, "HANDSHAKE", "BAD_AUTH", "HANDSHAKE BAD_AUTH"},
    {SX_TE_HANDSHAKE_BAD_SERVICE, "HANDSHAKE", "BAD_SERVICE", "HANDSHAKE BAD_SERVICE"},
};
#define TE_COUNT (sizeof te_names / sizeof te_names[0])

const char *sx_transport_error_str(sx_transport_error e)
{
    for (size_t i = 0; i < TE_COUNT; i++)
        if (te_names[i].e == e)
            return te_names[i].text;
    return "";
}

bool sx_transport_error_write(sx_writer *w, sx_transport_error e)
{
    const char *t = sx_transport_error_str(e);
    if (!*t)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, t);
}

bool sx_transport_error_read(sx_reader *r, sx_transport_error *out)
{
    *out = SX_TE_NONE;
    sx_slice word, second = sx_slice_of(NULL, 0);
    if (!sx_read_word(r, &word))
        return false;
    bool handshake = sx_slice_eq(word, sx_slice_str("HANDSHAKE"));
    if (handshake && !(sx_read_expect_str(r, " ") && sx_read_word(r, &second)))
        return false;
    for (size_t i = 0; i < TE_COUNT; i++) {
        if (!sx_slice_eq(word, sx_slice_str(te_names[i].word)))
            continue;
        if (handshake && !sx_slice_eq(second, sx_slice_str(te_names[i].handshake)))
            continue;
        *out = te_names[i].e;
        return true;
    }
    return sx_reader_fail(r, SX_E_PROTOCOL);
}

/* ---- CertChainPubKey (PROTOCOL-NOTES A20) -------------------------------- */

static bool write_cert_key(sx_writer *w, const sx_smp_cert_key *ck)
{
    if (ck->chain_len == 0 || ck->chain_len > SX_X509_CHAIN_MAX)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_list_count(w, ck->chain_len))
        return false;
    for (size_t i = 0; i < ck->chain_len; i++)
        if (!sx_write_large(w, ck->chain[i]))
            return false;
    return sx_write_large(w, ck->signed_key);
}

/* Every certificate must parse and the signed key must have the
 * PROTOCOL-NOTES A20 shape; the X509 objects are only a check here, the DER
 * slices are kept. */
static bool read_cert_key(sx_reader *r, sx_smp_cert_key *out)
{
    memset(out, 0, sizeof *out);
    sx_x509_chain ch;
    if (!sx_x509_read_chain(r, &ch))
        return false;
    out->chain_len = ch.n;
    for (size_t i = 0; i < ch.n; i++)
        out->chain[i] = ch.der[i];
    sx_x509_chain_cleanup(&ch);

    sx_slice der;
    if (!sx_read_large(r, &der))
        return false;
    sx_signed_key parsed;
    sx_status st = sx_x509_signed_key_parse(der, &parsed);
    if (st != SX_OK)
        return sx_reader_fail(r, st);
    out->signed_key = der;
    return true;
}

/* ---- Server hello (PROTOCOL-NOTES B16) ----------------------------------- */

bool sx_smp_server_hello_write(sx_writer *w, const sx_smp_server_hello *h)
{
    if (!sx_write_version_range(w, h->range) || !sx_write_short(w, h->session_id))
        return false;
    /* Untagged: present only when the range reaches v7 and we have it. */
    if (h->range.max >= SX_SMP_V_AUTH_CMDS && h->has_cert_key)
        return write_cert_key(w, &h->cert_key);
    return true;
}

sx_status sx_smp_server_hello_decode(sx_slice content, sx_smp_server_hello *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_version_range(&r, &out->range);
    sx_read_short(&r, &out->session_id);
    SX_TRY(sx_reader_status(&r));

    if (out->range.max >= SX_SMP_V_AUTH_CMDS) {
        sx_reader trial = r;
        if (read_cert_key(&trial, &out->cert_key)) {
            out->has_cert_key = true;
            r = trial;
        } else {
            memset(&out->cert_key, 0, sizeof out->cert_key);
            if (trial.err == SX_E_NOMEM)
                return SX_E_NOMEM;
        }
    }
    return sx_reader_status(&r); /* the rest is ignored (PROTOCOL-NOTES B22) */
}

/* ---- Client hello (PROTOCOL-NOTES B17) ----------------------------------- */

static bool valid_role(int c)
{
    return c == SX_SMP_SERVICE_MESSAGING || c == SX_SMP_SERVICE_NOTIFIER ||
           c == SX_SMP_SERVICE_PROXY;
}

static bool write_dh_key(sx_writer *w, const uint8_t raw[SX_SMP_DH_KEY_LEN])
{
    sx_key *k = NULL;
    sx_status st = sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(raw, SX_SMP_DH_KEY_LEN), &k);
    if (st != SX_OK)
        return sx_writer_fail(w, st);
    bool ok = sx_key_write_public_short(w, k);
    sx_key_free(k);
    return ok;
}

bool sx_smp_client_hello_write(sx_writer *w, const sx_smp_client_hello *h)
{
    uint16_t v = h->version;
    if (!sx_write_version(w, v) || !sx_write_short(w, h->key_hash))
        return false;
    if (v >= SX_SMP_V_AUTH_CMDS && h->has_dh_key && !write_dh_key(w, h->dh_key))
        return false;
    if (v >= SX_SMP_V_PROXY_SERVER_HANDSHAKE && !sx_write_bool(w, h->proxy_server))
        return false;
    if (v >= SX_SMP_V_SERVICE_CERTS) {
        if (!sx_write_maybe(w, h->has_service))
            return false;
        if (h->has_service) {
            if (!valid_role(h->service_role))
                return sx_writer_fail(w, SX_E_USAGE);
            if (!sx_write_u8(w, (uint8_t)h->service_role) || !write_cert_key(w, &h->service))
                return false;
        }
    }
    return true;
}

/* The key is untagged: a shortString that decodes as an X25519 SPKI, else
 * absent and nothing consumed. */
static bool read_dh_key_optional(sx_reader *r, sx_smp_client_hello *out)
{
    sx_reader trial = *r;
    sx_key *k = NULL;
    if (!sx_key_read_public_short(&trial, SX_KEY_BIT(SX_KEY_X25519), &k)) {
        if (trial.err == SX_E_NOMEM)
            return sx_reader_fail(r, SX_E_NOMEM);
        return true;
    }
    size_t len = 0;
    sx_status st = sx_key_raw_public(k, out->dh_key, sizeof out->dh_key, &len);
    sx_key_free(k);
    if (st != SX_OK || len != SX_SMP_DH_KEY_LEN)
        return sx_reader_fail(r, st != SX_OK ? st : SX_E_INTERNAL);
    out->has_dh_key = true;
    *r = trial;
    return true;
}

sx_status sx_smp_client_hello_decode(sx_slice content, sx_smp_client_hello *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_version(&r, &out->version);
    sx_read_short(&r, &out->key_hash);
    SX_TRY(sx_reader_status(&r));
    uint16_t v = out->version;

    if (v >= SX_SMP_V_AUTH_CMDS)
        read_dh_key_optional(&r, out);
    if (v >= SX_SMP_V_PROXY_SERVER_HANDSHAKE)
        sx_read_bool(&r, &out->proxy_server);
    if (v >= SX_SMP_V_SERVICE_CERTS && sx_read_maybe(&r, &out->has_service) &&
        out->has_service) {
        uint8_t role = 0;
        if (sx_read_u8(&r, &role) && !valid_role(role))
            sx_reader_fail(&r, SX_E_PROTOCOL);
        out->service_role = (sx_smp_service_role)role;
        read_cert_key(&r, &out->service);
    }
    sx_status st = sx_reader_status(&r); /* the rest is ignored (PROTOCOL-NOTES B22) */
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---- Service reply (PROTOCOL-NOTES B21) ---------------------------------- */

bool sx_smp_service_reply_write(sx_writer *w, const sx_smp_service_reply *rep)
{
    if (rep->ok)
        return sx_write_u8(w, 'R') && sx_write_short(w, rep->service_id);
    return sx_write_u8(w, 'E') && sx_transport_error_write(w, rep->error);
}

sx_status sx_smp_service_reply_decode(sx_slice content, sx_smp_service_reply *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    uint8_t tag = 0;
    if (sx_read_u8(&r, &tag)) {
        if (tag == 'R') {
            out->ok = sx_read_short(&r, &out->service_id);
        } else if (tag == 'E') {
            sx_transport_error_read(&r, &out->error);
        } else {
            sx_reader_fail(&r, SX_E_PROTOCOL);
        }
    }
    sx_status st = sx_reader_status(&r);
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* Content built by a dynamic writer, padded into a handshake block
 * (PROTOCOL-NOTES B13). */
static sx_status finish_block(sx_writer *w, uint8_t block[SX_BLOCK_SIZE])
{
    sx_status st = sx_writer_status(w);
    if (st == SX_OK)
        st = sx_block_encode(sx_writer_slice(w), block);
    sx_writer_cleanup(w);
    return st;
}

sx_status sx_smp_service_reply_block(const sx_smp_service_reply *rep, uint8_t block[SX_BLOCK_SIZE])
{
    SX_ENSURE(rep != NULL && block != NULL, SX_E_USAGE);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_BLOCK_MAX_CONTENT);
    sx_smp_service_reply_write(&w, rep);
    return finish_block(&w, block);
}

/* ---- Session ------------------------------------------------------------- */

void sx_smp_session_cleanup(sx_smp_session *s)
{
    if (!s)
        return;
    sx_key_free(s->server_dh_priv);
    sx_key_free(s->server_dh_pub);
    sx_key_free(s->service_key);
    free(s->peer_chain_buf);
    sx_wipe(s, sizeof *s);
}

sx_status sx_smp_session_start_encryption(sx_smp_session *s,
                                          const uint8_t secret[SX_SMP_SESSION_SECRET_LEN])
{
    SX_ENSURE(s != NULL && secret != NULL && s->session_id_len > 0, SX_E_USAGE);
    sx_sbchain ck1, ck2;
    SX_TRY(sx_sbchain_init(sx_smp_session_id(s), secret, &ck1, &ck2));
    /* PROTOCOL-NOTES B31: the server sends on ck1, the client on ck2. */
    s->snd = s->is_server ? ck1 : ck2;
    s->rcv = s->is_server ? ck2 : ck1;
    sx_sbchain_cleanup(&ck1);
    sx_sbchain_cleanup(&ck2);
    s->encrypted = true;
    return SX_OK;
}

sx_status sx_smp_session_write_block(sx_smp_session *s, sx_slice content,
                                     uint8_t block[SX_BLOCK_SIZE])
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    return sx_block_write(s->encrypted ? &s->snd : NULL, content, block);
}

sx_status sx_smp_session_read_block(sx_smp_session *s, uint8_t block[SX_BLOCK_SIZE],
                                    sx_slice *content)
{
    SX_ENSURE(s != NULL, SX_E_USAGE);
    return sx_block_read(s->encrypted ? &s->rcv : NULL, block, content);
}

/* Copies a chain into one heap buffer owned by the session. */
static sx_status session_set_peer_chain(sx_smp_session *s, const sx_slice *chain, size_t n, sx_slice signed_key)
{
    size_t total = signed_key.len;
    for (size_t i = 0; i < n; i++)
        total += chain[i].len;
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        return SX_E_NOMEM;
    sx_writer w;
    sx_writer_init_fixed(&w, buf, total);
    for (size_t i = 0; i < n; i++) {
        s->peer_chain[i] = sx_slice_of(buf + w.len, chain[i].len);
        sx_write_slice(&w, chain[i]);
    }
    s->peer_signed_key = sx_slice_of(buf + w.len, signed_key.len);
    sx_write_slice(&w, signed_key);
    sx_status st = sx_writer_status(&w);
    if (st != SX_OK) {
        free(buf);
        memset(s->peer_chain, 0, sizeof s->peer_chain);
        s->peer_signed_key = sx_slice_of(NULL, 0);
        return st;
    }
    free(s->peer_chain_buf);
    s->peer_chain_buf = buf;
    s->peer_chain_len = n;
    return SX_OK;
}

static void session_init(sx_smp_session *s, bool is_server, sx_slice session_id)
{
    memset(s, 0, sizeof *s);
    s->is_server = is_server;
    /* Callers checked the length against SX_TLS_UNIQUE_MAX. */
    memcpy(s->session_id, session_id.ptr, session_id.len);
    s->session_id_len = session_id.len;
}

/* PROTOCOL-NOTES B25/B26: the shared secret when both keys exist, and block
 * encryption from v11 on unless the client is a proxy. */
static sx_status session_keys(sx_smp_session *s, const sx_key *priv, const sx_key *peer)
{
    if (!priv || !peer)
        return SX_OK;
    size_t len = 0;
    sx_status st = sx_key_dh(priv, peer, s->secret, sizeof s->secret, &len);
    if (st != SX_OK || len != SX_SMP_SESSION_SECRET_LEN) {
        sx_wipe(s->secret, sizeof s->secret);
        return st == SX_OK ? SX_E_INTERNAL : st;
    }
    s->has_secret = true;
    if (s->version >= SX_SMP_V_ENCRYPTED_BLOCK && !s->proxy_server)
        return sx_smp_session_start_encryption(s, s->secret);
    return SX_OK;
}

/* ---- Negotiation --------------------------------------------------------- */

void sx_smp_tls_info_from_conn(const sx_tls_conn *c, sx_smp_tls_info *info)
{
    memset(info, 0, sizeof *info);
    info->tls_unique = sx_tls_unique(c);
    info->alpn = sx_tls_alpn(c).len > 0;
    size_t n = sx_tls_peer_chain_len(c);
    if (n > SX_TLS_MAX_CHAIN)
        n = SX_TLS_MAX_CHAIN;
    for (size_t i = 0; i < n; i++)
        info->peer_chain[i] = sx_tls_peer_cert(c, i);
    info->peer_chain_len = n;
}

/* The status for a transport error: the caller branches on AUTH for
 * identity and signature failures, PROTOCOL for the rest. */
static sx_status fail_te(sx_transport_error *te, sx_transport_error e)
{
    if (te)
        *te = e;
    switch (e) {
    case SX_TE_HANDSHAKE_IDENTITY:
    case SX_TE_HANDSHAKE_BAD_AUTH:
    case SX_TE_HANDSHAKE_BAD_SERVICE:
        return SX_E_AUTH;
    default:
        return SX_E_PROTOCOL;
    }
}

/* The public key of a DER certificate. */
static sx_status cert_key_of(sx_slice der, sx_key **out)
{
    *out = NULL;
    X509 *x = NULL;
    SX_TRY(sx_x509_from_der(der, &x));
    sx_status st = sx_x509_public_key(x, out);
    X509_free(x);
    return st;
}

/* Verifies a signed key with the leaf certificate's key: SX_E_AUTH for any
 * failure but memory. */
static sx_status verify_signed_by_cert(sx_slice signed_key, sx_slice leaf_der, unsigned allowed,
                                       sx_key **out)
{
    *out = NULL;
    sx_key *leaf = NULL;
    sx_status st = cert_key_of(leaf_der, &leaf);
    /* A DH leaf key fails here: the signature algorithm must be the key's. */
    if (st == SX_OK)
        st = sx_x509_signed_key_verify(signed_key, leaf, allowed, out);
    sx_key_free(leaf);
    if (st == SX_E_NOMEM)
        return st;
    return st == SX_OK ? SX_OK : SX_E_AUTH;
}

sx_status sx_smp_server_config_init(sx_smp_server_config *cfg, const sx_tls_ctx *ctx)
{
    SX_ENSURE(cfg != NULL, SX_E_USAGE);
    memset(cfg, 0, sizeof *cfg);
    SX_ENSURE(ctx != NULL, SX_E_USAGE);
    size_t n = sx_tls_ctx_chain_len(ctx);
    SX_ENSURE(n >= 2 && n <= SX_TLS_MAX_CHAIN, SX_E_USAGE);
    for (size_t i = 0; i < n; i++)
        cfg->chain[i] = sx_tls_ctx_cert(ctx, i);
    cfg->chain_len = n;
    SX_TRY(sx_tls_ctx_private_key(ctx, &cfg->sign_key));
    sx_status st = SX_OK;
    if (!(SX_KEY_SIGN_ALGS & SX_KEY_BIT(sx_key_alg_of(cfg->sign_key))))
        st = SX_E_USAGE;
    if (st == SX_OK)
        st = sx_x509_fingerprint_der(cfg->chain[1], cfg->key_hash);
    if (st != SX_OK) {
        sx_smp_server_config_cleanup(cfg);
        return st;
    }
    cfg->range = sx_smp_server_vrange();
    return SX_OK;
}

void sx_smp_server_config_cleanup(sx_smp_server_config *cfg)
{
    if (!cfg)
        return;
    sx_key_free(cfg->sign_key);
    memset(cfg, 0, sizeof *cfg);
}

sx_status sx_smp_server_hs_start_with_key(sx_smp_server_hs *hs, const sx_smp_server_config *cfg,
                                          const sx_smp_tls_info *tls, sx_key *dh_key,
                                          uint8_t block[SX_BLOCK_SIZE])
{
    if (!hs || !cfg || !tls || !dh_key || !block || !cfg->sign_key || cfg->chain_len == 0 ||
        cfg->chain_len > SX_X509_CHAIN_MAX || tls->tls_unique.len == 0 ||
        tls->tls_unique.len > SX_TLS_UNIQUE_MAX || cfg->range.min > cfg->range.max ||
        sx_key_alg_of(dh_key) != SX_KEY_X25519) {
        sx_key_free(dh_key);
        if (hs)
            memset(hs, 0, sizeof *hs);
        return SX_E_USAGE;
    }
    memset(hs, 0, sizeof *hs);
    hs->cfg = cfg;
    hs->dh_key = dh_key;
    hs->range = tls->alpn ? cfg->range : sx_smp_legacy_vrange();
    memcpy(hs->session_id, tls->tls_unique.ptr, tls->tls_unique.len);
    hs->session_id_len = tls->tls_unique.len;

    /* The session key signed by the TLS key for this connection (PROTOCOL-NOTES
     * A20). */
    uint8_t signed_buf[SX_SIGNED_KEY_MAX];
    sx_writer sw;
    sx_writer_init_fixed(&sw, signed_buf, sizeof signed_buf);
    sx_x509_write_signed_key(&sw, cfg->sign_key, dh_key);
    sx_status st = sx_writer_status(&sw);
    if (st != SX_OK) {
        sx_smp_server_hs_cleanup(hs);
        return st;
    }

    sx_smp_server_hello h = {
        .range = hs->range,
        .session_id = tls->tls_unique,
        .has_cert_key = true,
    };
    h.cert_key.chain_len = cfg->chain_len;
    for (size_t i = 0; i < cfg->chain_len; i++)
        h.cert_key.chain[i] = cfg->chain[i];
    h.cert_key.signed_key = sx_writer_slice(&sw);

    sx_writer w;
    sx_writer_init_dynamic(&w, SX_BLOCK_MAX_CONTENT);
    sx_smp_server_hello_write(&w, &h);
    st = finish_block(&w, block);
    if (st != SX_OK)
        sx_smp_server_hs_cleanup(hs);
    return st;
}

sx_status sx_smp_server_hs_start(sx_smp_server_hs *hs, const sx_smp_server_config *cfg,
                                 const sx_smp_tls_info *tls, uint8_t block[SX_BLOCK_SIZE])
{
    SX_ENSURE(hs != NULL, SX_E_USAGE);
    memset(hs, 0, sizeof *hs);
    sx_key *k = NULL;
    SX_TRY(sx_key_generate(SX_KEY_X25519, &k)); /* fresh for every connection (PROTOCOL-NOTES B16) */
    return sx_smp_server_hs_start_with_key(hs, cfg, tls, k, block);
}

void sx_smp_server_hs_cleanup(sx_smp_server_hs *hs)
{
    if (!hs)
        return;
    sx_key_free(hs->dh_key);
    memset(hs, 0, sizeof *hs);
}

/* PROTOCOL-NOTES B21: the service the client claims must be its TLS chain, and
 * its key must be an Ed25519 key signed by that chain's leaf. */
static sx_status check_service(const sx_smp_tls_info *tls, const sx_smp_cert_key *svc,
                               sx_smp_session *s)
{
    if (tls->peer_chain_len != svc->chain_len)
        return SX_E_AUTH;
    for (size_t i = 0; i < svc->chain_len; i++)
        if (!sx_slice_eq(tls->peer_chain[i], svc->chain[i]))
            return SX_E_AUTH;
    /* A single certificate is its own identity; otherwise the 2nd is. */
    size_t id = svc->chain_len == 1 ? 0 : 1;
    SX_TRY(verify_signed_by_cert(svc->signed_key, svc->chain[0], SX_KEY_BIT(SX_KEY_ED25519),
                                 &s->service_key));
    SX_TRY(sx_x509_fingerprint_der(svc->chain[id], s->service_cert_hash));
    return session_set_peer_chain(s, svc->chain, svc->chain_len, sx_slice_of(NULL, 0));
}

sx_status sx_smp_server_hs_finish(sx_smp_server_hs *hs, const sx_smp_tls_info *tls,
                                  const uint8_t block[SX_BLOCK_SIZE], sx_smp_session *out,
                                  sx_transport_error *te)
{
    if (te)
        *te = SX_TE_NONE;
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    SX_ENSURE(hs != NULL && hs->cfg != NULL && hs->dh_key != NULL && tls != NULL && block != NULL,
              SX_E_USAGE);
    hs->reply_error = false;

    sx_slice content;
    sx_smp_client_hello h;
    if (sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &content) != SX_OK)
        return fail_te(te, SX_TE_HANDSHAKE_PARSE);
    sx_status st = sx_smp_client_hello_decode(content, &h);
    if (st == SX_E_NOMEM)
        return st;
    if (st != SX_OK)
        return fail_te(te, SX_TE_HANDSHAKE_PARSE);
    /* PROTOCOL-NOTES B19: no error block for these two; the connection is just
     * closed. */
    if (!sx_slice_eq(h.key_hash, sx_slice_of(hs->cfg->key_hash, SX_FINGERPRINT_LEN)))
        return fail_te(te, SX_TE_HANDSHAKE_IDENTITY);
    if (h.version < hs->range.min || h.version > hs->range.max)
        return fail_te(te, SX_TE_VERSION);

    sx_smp_session *s = out;
    session_init(s, true, sx_slice_of(hs->session_id, hs->session_id_len));
    s->version = h.version;
    s->range = (sx_version_range){hs->range.min, h.version};
    s->proxy_server = h.proxy_server;

    sx_key *client_key = NULL;
    if (h.has_dh_key) {
        st = sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(h.dh_key, SX_SMP_DH_KEY_LEN),
                                    &client_key);
        if (st != SX_OK)
            goto fail;
    }
    st = session_keys(s, hs->dh_key, client_key);
    sx_key_free(client_key);
    if (st != SX_OK)
        goto fail;

    if (h.has_service) {
        st = check_service(tls, &h.service, s);
        if (st != SX_OK) {
            hs->reply_error = st != SX_E_NOMEM;
            goto fail;
        }
        s->has_service = true;
        s->service_role = h.service_role;
    }
    s->server_dh_priv = hs->dh_key; /* moves into the session */
    hs->dh_key = NULL;
    return SX_OK;

fail:
    sx_smp_session_cleanup(s);
    if (st == SX_E_NOMEM || st == SX_E_INTERNAL)
        return st;
    return fail_te(te, SX_TE_HANDSHAKE_BAD_AUTH);
}

/* Reference rule for the service to send: v16, and v19 for a messaging one. */
static bool service_allowed(const sx_smp_client_service *svc, uint16_t v)
{
    if (!svc || v < SX_SMP_V_SERVICE_CERTS)
        return false;
    return svc->role != SX_SMP_SERVICE_MESSAGING || v >= SX_SMP_V_RCV_SERVICE;
}

/* PROTOCOL-NOTES B18: the server's chain and signed key. On success *server_key
 * is the X25519 session key of the server. */
static sx_status check_server_cert_key(const sx_smp_client_config *cfg, const sx_smp_tls_info *tls,
                                       const sx_smp_cert_key *ck, sx_key **server_key)
{
    *server_key = NULL;
    if (ck->chain_len < 2 || ck->chain_len > SX_X509_CHAIN_MAX || tls->peer_chain_len == 0)
        return SX_E_AUTH;
    uint8_t fp[SX_FINGERPRINT_LEN];
    SX_TRY(sx_x509_fingerprint_der(ck->chain[1], fp));
    if (!sx_slice_eq(sx_slice_of(fp, sizeof fp), sx_slice_of(cfg->key_hash, SX_FINGERPRINT_LEN)))
        return SX_E_AUTH;
    /* The key is signed by the TLS leaf, not by the hello's copy of it. */
    return verify_signed_by_cert(ck->signed_key, tls->peer_chain[0], SX_KEY_BIT(SX_KEY_X25519),
                                 server_key);
}

sx_status sx_smp_client_hs_process_with_key(const sx_smp_client_config *cfg,
                                            const sx_smp_tls_info *tls,
                                            const uint8_t server_block[SX_BLOCK_SIZE],
                                            const sx_key *dh_key, uint8_t reply[SX_BLOCK_SIZE],
                                            sx_smp_session *out, sx_transport_error *te)
{
    if (te)
        *te = SX_TE_NONE;
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    SX_ENSURE(cfg != NULL && tls != NULL && server_block != NULL && reply != NULL &&
                  dh_key != NULL && sx_key_alg_of(dh_key) == SX_KEY_X25519 &&
                  sx_key_is_private(dh_key) && cfg->range.min <= cfg->range.max &&
                  tls->tls_unique.len > 0 && tls->tls_unique.len <= SX_TLS_UNIQUE_MAX,
              SX_E_USAGE);

    sx_slice content;
    sx_smp_server_hello h;
    if (sx_block_decode(sx_slice_of(server_block, SX_BLOCK_SIZE), &content) != SX_OK)
        return fail_te(te, SX_TE_HANDSHAKE_PARSE);
    sx_status st = sx_smp_server_hello_decode(content, &h);
    if (st == SX_E_NOMEM)
        return st;
    if (st != SX_OK)
        return fail_te(te, SX_TE_HANDSHAKE_PARSE);
    if (!sx_slice_eq(h.session_id, tls->tls_unique))
        return fail_te(te, SX_TE_SESSION);

    /* PROTOCOL-NOTES B20: a proxy keeps an old relay (no proxyServer flag yet)
     * below block encryption. */
    sx_version_range own = cfg->range;
    if (cfg->proxy_server && h.range.max < SX_SMP_V_PROXY_SERVER_HANDSHAKE)
        own.max = own.min > SX_SMP_V_DELETED_EVENT ? own.min : SX_SMP_V_DELETED_EVENT;
    sx_version_range vr = {
        .min = h.range.min > own.min ? h.range.min : own.min,
        .max = h.range.max < own.max ? h.range.max : own.max,
    };
    if (vr.min > vr.max)
        return fail_te(te, SX_TE_VERSION);

    sx_smp_session *s = out;
    session_init(s, false, tls->tls_unique);
    s->version = vr.max;
    s->range = vr;
    s->proxy_server = cfg->proxy_server;
    s->peer_range = h.range;

    if (h.has_cert_key) {
        st = check_server_cert_key(cfg, tls, &h.cert_key, &s->server_dh_pub);
        if (st == SX_OK)
            st = session_set_peer_chain(s, h.cert_key.chain, h.cert_key.chain_len, h.cert_key.signed_key);
    } else if (h.range.max >= SX_SMP_V_AUTH_CMDS) {
        st = SX_E_AUTH;
    }
    if (st == SX_OK)
        st = session_keys(s, dh_key, s->server_dh_pub);
    if (st != SX_OK)
        goto fail;

    sx_smp_client_hello ch = {
        .version = s->version,
        .key_hash = sx_slice_of(cfg->key_hash, SX_FINGERPRINT_LEN),
        .has_dh_key = true,
        .proxy_server = cfg->proxy_server,
    };
    size_t len = 0;
    st = sx_key_raw_public(dh_key, ch.dh_key, sizeof ch.dh_key, &len);
    if (st != SX_OK)
        goto fail;

    uint8_t signed_buf[SX_SIGNED_KEY_MAX];
    const sx_smp_client_service *svc = cfg->service;
    if (service_allowed(svc, s->version)) {
        if (svc->chain_len < 1 || svc->chain_len > SX_X509_CHAIN_MAX || !valid_role(svc->role)) {
            st = SX_E_USAGE;
            goto fail_local;
        }
        sx_writer sw;
        sx_writer_init_fixed(&sw, signed_buf, sizeof signed_buf);
        sx_x509_write_signed_key(&sw, svc->leaf_key, svc->service_key);
        st = sx_writer_status(&sw);
        if (st == SX_OK)
            st = sx_x509_fingerprint_der(svc->chain[svc->chain_len == 1 ? 0 : 1],
                                         s->service_cert_hash);
        if (st != SX_OK)
            goto fail_local;
        ch.has_service = true;
        ch.service_role = svc->role;
        ch.service.chain_len = svc->chain_len;
        for (size_t i = 0; i < svc->chain_len; i++)
            ch.service.chain[i] = svc->chain[i];
        ch.service.signed_key = sx_writer_slice(&sw);
        s->service_role = svc->role;
        s->service_pending = true;
    }

    sx_writer w;
    sx_writer_init_dynamic(&w, SX_BLOCK_MAX_CONTENT);
    sx_smp_client_hello_write(&w, &ch);
    st = finish_block(&w, reply);
    if (st != SX_OK)
        goto fail_local;
    return SX_OK;

fail:
    sx_smp_session_cleanup(s);
    if (st == SX_E_NOMEM || st == SX_E_INTERNAL)
        return st;
    return fail_te(te, SX_TE_HANDSHAKE_BAD_AUTH);
fail_local:
    sx_smp_session_cleanup(s);
    return st;
}

sx_status sx_smp_client_hs_process(const sx_smp_client_config *cfg, const sx_smp_tls_info *tls,
                                   const uint8_t server_block[SX_BLOCK_SIZE],
                                   uint8_t reply[SX_BLOCK_SIZE], sx_smp_session *out,
                                   sx_transport_error *te)
{
    if (te)
        *te = SX_TE_NONE;
    sx_key *k = NULL;
    SX_TRY(sx_key_generate(SX_KEY_X25519, &k));
    sx_status st = sx_smp_client_hs_process_with_key(cfg, tls, server_block, k, reply, out, te);
    sx_key_free(k);
    return st;
}

sx_status sx_smp_client_hs_service_reply(sx_smp_session *s, const uint8_t block[SX_BLOCK_SIZE],
                                         sx_transport_error *te)
{
    if (te)
        *te = SX_TE_NONE;
    SX_ENSURE(s != NULL && block != NULL && s->service_pending && !s->is_server, SX_E_USAGE);
    s->service_pending = false;
    sx_slice content;
    sx_smp_service_reply rep;
    if (sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &content) != SX_OK ||
        sx_smp_service_reply_decode(content, &rep) != SX_OK)
        return fail_te(te, SX_TE_HANDSHAKE_PARSE);
    if (!rep.ok) {
        if (te)
            *te = rep.error;
        return SX_E_AUTH;
    }
    memcpy(s->service_id, rep.service_id.ptr, rep.service_id.len); /* shortString: <= 255 */
    s->service_id_len = rep.service_id.len;
    s->has_service = true;
    return SX_OK;
}

/* ---- Blocking helpers ---------------------------------------------------- */

sx_status sx_smp_handshake_client_blocking_ex(sx_tls_conn *c, const sx_smp_client_config *cfg,
                                              int timeout_ms, sx_smp_session *out,
                                              sx_transport_error *te)
{
    if (te)
        *te = SX_TE_NONE;
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    SX_ENSURE(c != NULL && cfg != NULL, SX_E_USAGE);
    uint8_t *in = malloc(SX_BLOCK_SIZE), *reply = malloc(SX_BLOCK_SIZE);
    sx_status st = in && reply ? SX_OK : SX_E_NOMEM;
    /* The timeout is applied per block: two reads and a write at most. */
    if (st == SX_OK)
        st = sx_tls_read_block(c, in, timeout_ms);
    if (st == SX_OK) {
        sx_smp_tls_info tls;
        sx_smp_tls_info_from_conn(c, &tls);
        st = sx_smp_client_hs_process(cfg, &tls, in, reply, out, te);
    }
    if (st == SX_OK)
        st = sx_tls_write_block(c, reply, timeout_ms);
    if (st == SX_OK && out->service_pending) {
        st = sx_tls_read_block(c, in, timeout_ms);
        if (st == SX_OK)
            st = sx_smp_client_hs_service_reply(out, in, te);
    }
    if (st != SX_OK)
        sx_smp_session_cleanup(out);
    free(in);
    free(reply);
    return st;
}

sx_status sx_smp_handshake_client_blocking(sx_tls_conn *c,
                                           const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                           sx_version_range range, int timeout_ms,
                                           sx_smp_session *out)
{
    SX_ENSURE(key_hash != NULL, SX_E_USAGE);
    sx_smp_client_config cfg = {.range = range};
    memcpy(cfg.key_hash, key_hash, SX_FINGERPRINT_LEN);
    return sx_smp_handshake_client_blocking_ex(c, &cfg, timeout_ms, out, NULL);
}

/* Sends an 'E' block; the handshake has failed anyway, so a send failure
 * changes nothing. */
static void send_error_block(sx_tls_conn *c, uint8_t *block, sx_transport_error e, int timeout_ms)
{
    sx_smp_service_reply rep = {.ok = false, .error = e};
    if (sx_smp_service_reply_block(&rep, block) != SX_OK)
        return;
    if (sx_tls_write_block(c, block, timeout_ms) != SX_OK)
        return;
}

sx_status sx_smp_handshake_server_blocking(sx_tls_conn *c, const sx_smp_server_config *cfg,
                                           int timeout_ms, sx_smp_session *out,
                                           sx_transport_error *te)
{
    if (te)
        *te = SX_TE_NONE;
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    SX_ENSURE(c != NULL && cfg != NULL, SX_E_USAGE);
    sx_transport_error e = SX_TE_NONE;
    sx_smp_server_hs hs;
    memset(&hs, 0, sizeof hs);
    sx_smp_tls_info tls;
    sx_smp_tls_info_from_conn(c, &tls);
    uint8_t *block = malloc(SX_BLOCK_SIZE);
    sx_status st = block ? SX_OK : SX_E_NOMEM;
    if (st == SX_OK)
        st = sx_smp_server_hs_start(&hs, cfg, &tls, block);
    if (st == SX_OK)
        st = sx_tls_write_block(c, block, timeout_ms);
    if (st == SX_OK)
        st = sx_tls_read_block(c, block, timeout_ms);
    if (st == SX_OK) {
        st = sx_smp_server_hs_finish(&hs, &tls, block, out, &e);
        if (st != SX_OK && hs.reply_error)
            send_error_block(c, block, e, timeout_ms);
    }
    if (st == SX_OK && out->has_service) {
        uint8_t id[SX_SMP_SERVICE_ID_MAX];
        size_t id_len = 0;
        if (!cfg->service_cb || cfg->service_cb(cfg->service_arg, out, id, &id_len) != SX_OK ||
            id_len == 0 || id_len > sizeof id) {
            e = SX_TE_HANDSHAKE_BAD_SERVICE;
            send_error_block(c, block, e, timeout_ms);
            st = SX_E_AUTH;
        } else {
            memcpy(out->service_id, id, id_len);
            out->service_id_len = id_len;
            sx_smp_service_reply rep = {.ok = true, .service_id = sx_slice_of(id, id_len)};
            st = sx_smp_service_reply_block(&rep, block);
            if (st == SX_OK)
                st = sx_tls_write_block(c, block, timeout_ms);
        }
    }
    if (st != SX_OK)
        sx_smp_session_cleanup(out);
    if (te)
        *te = e;
    sx_smp_server_hs_cleanup(&hs);
    free(block);
    return st;
}

sx_status sx_smp_session_send_blocking(sx_smp_session *s, sx_tls_conn *c, sx_slice content,
                                       int timeout_ms)
{
    SX_ENSURE(s != NULL && c != NULL, SX_E_USAGE);
    uint8_t *block = malloc(SX_BLOCK_SIZE);
    if (!block)
        return SX_E_NOMEM;
    sx_status st = sx_smp_session_write_block(s, content, block);
    if (st == SX_OK)
        st = sx_tls_write_block(c, block, timeout_ms);
    sx_wipe(block, SX_BLOCK_SIZE);
    free(block);
    return st;
}

sx_status sx_smp_session_recv_blocking(sx_smp_session *s, sx_tls_conn *c,
                                       uint8_t block[SX_BLOCK_SIZE], sx_slice *content,
                                       int timeout_ms)
{
    SX_ENSURE(s != NULL && c != NULL && block != NULL && content != NULL, SX_E_USAGE);
    *content = sx_slice_of(NULL, 0);
    SX_TRY(sx_tls_read_block(c, block, timeout_ms));
    return sx_smp_session_read_block(s, block, content);
}
