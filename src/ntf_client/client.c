/* The NTF client (see client.h). */
#include "ntf_client/client.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "crypto/box.h"
#include "crypto/util.h"
#include "smp/encoding.h"
#include "transport/net.h"
#include "transport/tls.h"

struct sx_ntf_client {
    int fd;
    sx_tls_ctx *ctx;
    sx_tls_conn *tls;
    int timeout_ms;
    uint16_t v;
    uint8_t session[SX_TLS_UNIQUE_MAX];
    size_t session_len;
    sx_key *srv_dh; /* the hello's X25519 key (v >= 2) */
};

static sx_status read_block(sx_ntf_client *c, uint8_t block[SX_NTF_BLOCK_SIZE])
{
    return sx_tls_read_full(c->tls, block, SX_NTF_BLOCK_SIZE, c->timeout_ms);
}

/* The server hello's key, signed by the TLS leaf certificate's key. */
static sx_status hello_key(sx_ntf_client *c, sx_slice signed_key)
{
    SX_ENSURE(sx_tls_peer_chain_len(c->tls) >= 1, SX_E_AUTH);
    X509 *leaf = NULL;
    SX_TRY(sx_x509_from_der(sx_tls_peer_cert(c->tls, 0), &leaf));
    sx_key *signer = NULL;
    sx_status st = sx_x509_public_key(leaf, &signer);
    X509_free(leaf);
    SX_TRY(st);
    st = sx_x509_signed_key_verify(signed_key, signer, SX_KEY_BIT(SX_KEY_X25519), &c->srv_dh);
    sx_key_free(signer);
    return st == SX_OK ? SX_OK : SX_E_AUTH;
}

static sx_status handshake(sx_ntf_client *c, const uint8_t key_hash[SX_FINGERPRINT_LEN])
{
    uint8_t block[SX_NTF_BLOCK_SIZE];
    SX_TRY(read_block(c, block));
    sx_slice content;
    sx_ntf_server_hello h;
    if (sx_ntf_block_decode(sx_slice_of(block, sizeof block), &content) != SX_OK ||
        sx_ntf_server_hello_decode(content, &h) != SX_OK)
        return SX_E_PROTOCOL;
    SX_ENSURE(sx_slice_eq(h.session_id, sx_tls_unique(c->tls)) && h.session_id.len <= sizeof c->session,
              SX_E_PROTOCOL);
    SX_ENSURE(h.range.min <= SX_NTF_VERSION_MAX && h.range.max >= SX_NTF_VERSION_MIN, SX_E_PROTOCOL);
    memcpy(c->session, h.session_id.ptr, h.session_id.len);
    c->session_len = h.session_id.len;
    c->v = h.range.max < SX_NTF_VERSION_MAX ? h.range.max : SX_NTF_VERSION_MAX;
    if (c->v >= SX_NTF_V_AUTH_BATCH) {
        SX_ENSURE(h.has_signed_key, SX_E_PROTOCOL);
        SX_TRY(hello_key(c, h.signed_key));
    }
    uint8_t hb[SX_NTF_MAX_CONTENT];
    sx_writer w;
    sx_writer_init_fixed(&w, hb, sizeof hb);
    sx_ntf_client_hello ch = {c->v, sx_slice_of(key_hash, SX_FINGERPRINT_LEN)};
    if (!sx_ntf_client_hello_write(&w, &ch))
        return SX_E_INTERNAL;
    SX_TRY(sx_ntf_block_encode(sx_writer_slice(&w), block));
    return sx_tls_write_full(c->tls, block, sizeof block, c->timeout_ms);
}

sx_status sx_ntf_client_connect(const char *host, uint16_t port, const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                int timeout_ms, sx_ntf_client **out)
{
    SX_ENSURE(host != NULL && key_hash != NULL && out != NULL, SX_E_USAGE);
    *out = NULL;
    sx_ntf_client *c = calloc(1, sizeof *c);
    SX_ENSURE(c != NULL, SX_E_NOMEM);
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    static const char *const alpn[] = {SX_NTF_ALPN, NULL};
    sx_tls_client_config cfg = {0};
    cfg.alpn = alpn;
    sx_status st = sx_tls_client_ctx_new(&cfg, &c->ctx);
    if (st == SX_OK)
        st = sx_net_connect(host, port, c->timeout_ms, &c->fd);
    if (st == SX_OK)
        st = sx_tls_conn_new_client(c->ctx, c->fd, key_hash, &c->tls);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(c->tls, c->timeout_ms);
    if (st == SX_OK)
        st = handshake(c, key_hash);
    if (st != SX_OK) {
        sx_ntf_client_close(c);
        return st;
    }
    *out = c;
    return SX_OK;
}

void sx_ntf_client_close(sx_ntf_client *c)
{
    if (!c)
        return;
    sx_key_free(c->srv_dh);
    sx_tls_conn_free(c->tls);
    if (c->fd >= 0)
        sx_net_close(c->fd);
    sx_tls_ctx_free(c->ctx);
    free(c);
}

uint16_t sx_ntf_client_version(const sx_ntf_client *c)
{
    return c ? c->v : 0;
}

/* ---- transmissions ---- */

/* Writes call i's transmission (corrId = 24 random bytes into corr). */
static sx_status write_call(sx_ntf_client *c, const sx_ntf_call *k, uint8_t corr[24], sx_writer *tw)
{
    uint8_t cbuf[SX_NTF_MAX_CONTENT], ab[SX_NTF_BLOCK_SIZE + 64], auth[SX_CB_AUTH_LEN + 64];
    sx_random_bytes(corr, 24);
    sx_writer w;
    sx_writer_init_fixed(&w, cbuf, sizeof cbuf);
    if (!sx_ntf_cmd_write(&w, c->v, &k->cmd))
        return sx_writer_status(&w) == SX_E_LIMIT ? SX_E_LIMIT : SX_E_USAGE;
    sx_slice command = sx_writer_slice(&w);
    sx_slice session = sx_slice_of(c->session, c->session_len);
    sx_smp_transmission t = {0};
    t.session_id = session;
    t.corr_id = sx_slice_of(corr, 24);
    t.entity_id = k->entity;
    t.command = command;
    if (k->key) {
        sx_writer aw;
        sx_writer_init_fixed(&aw, ab, sizeof ab);
        if (!sx_ntf_auth_bytes(&aw, session, t.corr_id, k->entity, command))
            return SX_E_LIMIT;
        if (sx_key_alg_of(k->key) == SX_KEY_X25519) {
            SX_ENSURE(c->srv_dh != NULL, SX_E_USAGE); /* v1 has no authenticators */
            uint8_t secret[32];
            size_t n = 0;
            sx_status st = sx_key_dh(k->key, c->srv_dh, secret, sizeof secret, &n);
            if (st == SX_OK)
                st = sx_cb_authenticate(secret, corr, sx_writer_slice(&aw), auth);
            sx_wipe(secret, sizeof secret);
            SX_TRY(st);
            t.auth = sx_slice_of(auth, SX_CB_AUTH_LEN);
        } else {
            size_t n = 0;
            SX_TRY(sx_key_sign(k->key, sx_writer_slice(&aw), auth, sizeof auth, &n));
            t.auth = sx_slice_of(auth, n);
        }
    }
    return sx_ntf_transmission_write(tw, c->v, &t) ? SX_OK : SX_E_LIMIT;
}

/* Reads blocks until every call in [from, to) has its answer. */
static sx_status collect_answers(sx_ntf_client *c, sx_ntf_call *calls, uint8_t (*corrs)[24], size_t from, size_t to)
{
    size_t left = to - from;
    sx_slice session = sx_slice_of(c->session, c->session_len);
    while (left > 0) {
        uint8_t block[SX_NTF_BLOCK_SIZE];
        SX_TRY(read_block(c, block));
        sx_slice content, items[SX_NTF_BATCH_MAX];
        size_t n = 0;
        if (sx_ntf_block_decode(sx_slice_of(block, sizeof block), &content) != SX_OK ||
            sx_ntf_batch_split(content, c->v, items, SX_NTF_BATCH_MAX, &n) != SX_OK)
            return SX_E_PROTOCOL;
        for (size_t j = 0; j < n; j++) {
            sx_ntf_reply rep;
            if (sx_ntf_reply_decode(items[j], c->v, session, &rep) != SX_OK)
                return SX_E_PROTOCOL;
            size_t i = from;
            while (i < to && !(calls[i].status == SX_E_WOULD_BLOCK &&
                               sx_slice_eq(rep.t.corr_id, sx_slice_of(corrs[i], 24))))
                i++;
            if (i == to)
                continue; /* not an answer to us (an uncorrelated error) */
            /* keep the answer: decoded again from the item's own copy */
            memcpy(calls[i].buf, block, sizeof block);
            size_t off = (size_t)(items[j].ptr - block);
            if (sx_ntf_reply_decode(sx_slice_of(calls[i].buf + off, items[j].len), c->v, session, &rep) != SX_OK)
                return SX_E_PROTOCOL;
            calls[i].resp = rep.resp;
            calls[i].status = SX_OK;
            left--;
        }
    }
    return SX_OK;
}

sx_status sx_ntf_client_batch(sx_ntf_client *c, sx_ntf_call *calls, size_t n)
{
    SX_ENSURE(c != NULL && (calls != NULL || n == 0), SX_E_USAGE);
    uint8_t(*corrs)[24] = n ? calloc(n, 24) : NULL;
    SX_ENSURE(n == 0 || corrs != NULL, SX_E_NOMEM);
    for (size_t i = 0; i < n; i++)
        calls[i].status = SX_E_WOULD_BLOCK; /* no answer yet */
    sx_status st = SX_OK;
    size_t i = 0;
    while (st == SX_OK && i < n) {
        /* as many transmissions as fit in one block */
        uint8_t tb[SX_NTF_BATCH_MAX][SX_NTF_MAX_CONTENT];
        sx_slice items[SX_NTF_BATCH_MAX];
        size_t k = 0, used = 1, from = i;
        while (i < n && k < SX_NTF_BATCH_MAX) {
            sx_writer tw;
            sx_writer_init_fixed(&tw, tb[k], sizeof tb[k]);
            sx_status wst = write_call(c, &calls[i], corrs[i], &tw);
            if (wst != SX_OK) {
                if (k > 0)
                    break; /* send what we have; this one starts the next block */
                calls[i].status = wst;
                i++;
                from = i;
                continue;
            }
            size_t len = sx_writer_slice(&tw).len;
            size_t need = c->v >= SX_NTF_V_AUTH_BATCH ? len + 2 : len;
            if (k > 0 && (c->v < SX_NTF_V_AUTH_BATCH || used + need > SX_NTF_MAX_CONTENT))
                break;
            items[k] = sx_slice_of(tb[k], len);
            k++;
            used += need;
            i++;
        }
        if (k == 0)
            continue;
        uint8_t content[SX_NTF_BLOCK_SIZE], block[SX_NTF_BLOCK_SIZE];
        sx_writer bw;
        sx_writer_init_fixed(&bw, content, sizeof content);
        if (!sx_ntf_batch_write(&bw, c->v, items, k) || sx_ntf_block_encode(sx_writer_slice(&bw), block) != SX_OK) {
            for (size_t j = from; j < i; j++)
                calls[j].status = SX_E_LIMIT; /* one command too long for a block */
            continue;
        }
        st = sx_tls_write_full(c->tls, block, sizeof block, c->timeout_ms);
        if (st == SX_OK)
            st = collect_answers(c, calls, corrs, from, i);
    }
    for (size_t j = 0; j < n; j++)
        if (calls[j].status == SX_E_WOULD_BLOCK)
            calls[j].status = st != SX_OK ? st : SX_E_PROTOCOL;
    free(corrs);
    return st;
}

sx_status sx_ntf_client_err_status(const sx_smp_error *e)
{
    if (!e)
        return SX_E_PROTOCOL;
    if (e->type == SX_SMP_ERR_AUTH)
        return SX_E_AUTH;
    if (e->type == SX_SMP_ERR_QUOTA)
        return SX_E_LIMIT;
    return SX_E_PROTOCOL;
}

/* One call; the answer must be `want` (or ERR). */
static sx_status call1(sx_ntf_client *c, sx_ntf_call *k, sx_ntf_resp_tag want, sx_smp_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    SX_TRY(sx_ntf_client_batch(c, k, 1));
    SX_TRY(k->status);
    if (k->resp.tag == SX_NTF_R_ERR) {
        if (err)
            *err = k->resp.err;
        return sx_ntf_client_err_status(&k->resp.err);
    }
    return k->resp.tag == want ? SX_OK : SX_E_PROTOCOL;
}

static sx_ntf_call *call_new(sx_slice entity, const sx_key *key, sx_ntf_cmd_tag tag)
{
    sx_ntf_call *k = calloc(1, sizeof *k);
    if (k) {
        k->entity = entity;
        k->key = key;
        k->cmd.tag = tag;
    }
    return k;
}

static sx_status token_of(sx_ntf_provider pp, const char *token, sx_ntf_device_token *out)
{
    SX_ENSURE(token != NULL && strlen(token) <= 255, SX_E_USAGE);
    out->provider = pp;
    out->token = sx_slice_str(token);
    return SX_OK;
}

sx_status sx_ntf_token_register(sx_ntf_client *c, sx_ntf_provider pp, const char *token, const sx_key *verify,
                                const sx_key *dh, sx_ntf_token_reg *out, sx_smp_error *err)
{
    SX_ENSURE(c != NULL && verify != NULL && dh != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_ntf_call *k = call_new(sx_slice_of(NULL, 0), verify, SX_NTF_C_TNEW);
    SX_ENSURE(k != NULL, SX_E_NOMEM);
    uint8_t vb[SX_KEY_SPKI_MAX], db[SX_KEY_SPKI_MAX];
    sx_status st = token_of(pp, token, &k->cmd.tnew.token);
    if (st == SX_OK)
        st = sx_smp_pubkey_of(verify, vb, &k->cmd.tnew.verify_key);
    if (st == SX_OK)
        st = sx_smp_pubkey_of(dh, db, &k->cmd.tnew.dh_key);
    if (st == SX_OK)
        st = call1(c, k, SX_NTF_R_IDTKN, err);
    if (st == SX_OK) {
        const sx_ntf_resp *r = &k->resp;
        sx_key *srv = NULL;
        size_t n = 0;
        if (r->idtkn.id.len == 0 || r->idtkn.id.len > sizeof out->id)
            st = SX_E_PROTOCOL;
        if (st == SX_OK)
            st = sx_key_decode_public(r->idtkn.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv);
        if (st == SX_OK)
            st = sx_key_dh(dh, srv, out->dh_secret, sizeof out->dh_secret, &n);
        sx_key_free(srv);
        if (st == SX_OK && n != sizeof out->dh_secret)
            st = SX_E_PROTOCOL;
        if (st == SX_OK) {
            memcpy(out->id, r->idtkn.id.ptr, r->idtkn.id.len);
            out->id_len = r->idtkn.id.len;
        }
    }
    sx_wipe(k, sizeof *k);
    free(k);
    return st;
}

static sx_status simple(sx_ntf_client *c, sx_slice id, const sx_key *verify, sx_ntf_cmd *cmd, sx_ntf_resp_tag want,
                        sx_ntf_resp *resp, sx_smp_error *err)
{
    SX_ENSURE(c != NULL && (verify != NULL || cmd->tag == SX_NTF_C_PING), SX_E_USAGE);
    sx_ntf_call *k = call_new(id, verify, cmd->tag);
    SX_ENSURE(k != NULL, SX_E_NOMEM);
    k->cmd = *cmd;
    sx_status st = call1(c, k, want, err);
    if (st == SX_OK && resp)
        *resp = k->resp; /* only for answers without views */
    free(k);
    return st;
}

sx_status sx_ntf_token_verify(sx_ntf_client *c, sx_slice id, const sx_key *verify, sx_slice code, sx_smp_error *err)
{
    sx_ntf_cmd cmd = {.tag = SX_NTF_C_TVFY};
    cmd.reg_code = code;
    return simple(c, id, verify, &cmd, SX_NTF_R_OK, NULL, err);
}

sx_status sx_ntf_token_check(sx_ntf_client *c, sx_slice id, const sx_key *verify, sx_ntf_tkn_state *out,
                             sx_smp_error *err)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_ntf_cmd cmd = {.tag = SX_NTF_C_TCHK};
    sx_ntf_resp r;
    SX_TRY(simple(c, id, verify, &cmd, SX_NTF_R_TKN, &r, err));
    *out = r.tkn;
    return SX_OK;
}

sx_status sx_ntf_token_replace(sx_ntf_client *c, sx_slice id, const sx_key *verify, sx_ntf_provider pp,
                               const char *token, sx_smp_error *err)
{
    sx_ntf_cmd cmd = {.tag = SX_NTF_C_TRPL};
    SX_TRY(token_of(pp, token, &cmd.token));
    return simple(c, id, verify, &cmd, SX_NTF_R_OK, NULL, err);
}

sx_status sx_ntf_token_delete(sx_ntf_client *c, sx_slice id, const sx_key *verify, sx_smp_error *err)
{
    sx_ntf_cmd cmd = {.tag = SX_NTF_C_TDEL};
    return simple(c, id, verify, &cmd, SX_NTF_R_OK, NULL, err);
}

sx_status sx_ntf_token_cron(sx_ntf_client *c, sx_slice id, const sx_key *verify, uint16_t minutes,
                            sx_smp_error *err)
{
    sx_ntf_cmd cmd = {.tag = SX_NTF_C_TCRN};
    cmd.cron_minutes = minutes;
    return simple(c, id, verify, &cmd, SX_NTF_R_OK, NULL, err);
}

sx_status sx_ntf_ping(sx_ntf_client *c)
{
    sx_ntf_cmd cmd = {.tag = SX_NTF_C_PING};
    return simple(c, sx_slice_of(NULL, 0), NULL, &cmd, SX_NTF_R_PONG, NULL, NULL);
}

sx_status sx_ntf_sub_create(sx_ntf_client *c, sx_slice token_id, const sx_key *verify, const sx_ntf_queue *q,
                            sx_slice notifier_priv, uint8_t *sub_id, size_t *sub_id_len, sx_smp_error *err)
{
    SX_ENSURE(c != NULL && verify != NULL && q != NULL && sub_id != NULL && sub_id_len != NULL, SX_E_USAGE);
    sx_ntf_call *k = call_new(sx_slice_of(NULL, 0), verify, SX_NTF_C_SNEW);
    SX_ENSURE(k != NULL, SX_E_NOMEM);
    k->cmd.snew.token_id = token_id;
    k->cmd.snew.queue = *q;
    k->cmd.snew.notifier_key = notifier_priv;
    sx_status st = call1(c, k, SX_NTF_R_IDSUB, err);
    if (st == SX_OK && (k->resp.sub_id.len == 0 || k->resp.sub_id.len > SX_NTF_CLIENT_ID_MAX))
        st = SX_E_PROTOCOL;
    if (st == SX_OK) {
        memcpy(sub_id, k->resp.sub_id.ptr, k->resp.sub_id.len);
        *sub_id_len = k->resp.sub_id.len;
    }
    sx_wipe(k, sizeof *k);
    free(k);
    return st;
}

sx_status sx_ntf_queue_of(const char *server, sx_slice notifier_id, uint8_t *buf, size_t cap, sx_ntf_queue *out)
{
    SX_ENSURE(server != NULL && buf != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_server_address *a = malloc(sizeof *a);
    SX_ENSURE(a != NULL, SX_E_NOMEM);
    sx_status st = sx_server_address_parse(server, strlen(server), a);
    if (st == SX_OK && a->scheme != SX_SERVER_SMP)
        st = SX_E_USAGE;
    sx_writer w;
    sx_writer_init_fixed(&w, buf, cap);
    size_t hosts_off = 0;
    for (size_t i = 0; st == SX_OK && i < a->host_count; i++) {
        if (!sx_write_short(&w, sx_slice_of((const uint8_t *)a->text + a->host_off[i], a->host_len[i])))
            st = SX_E_LIMIT;
    }
    size_t port_off = w.len;
    if (st == SX_OK && a->port_len) {
        /* the first port of a list */
        size_t n = 0;
        while (n < a->port_len && a->text[a->port_off + n] != ',')
            n++;
        if (!sx_write_bytes(&w, a->text + a->port_off, n))
            st = SX_E_LIMIT;
    }
    size_t kh_off = w.len;
    if (st == SX_OK && !sx_write_bytes(&w, a->key_hash, a->key_hash_len))
        st = SX_E_LIMIT;
    if (st == SX_OK) {
        out->server.hosts.count = a->host_count;
        out->server.hosts.items = sx_slice_of(buf + hosts_off, port_off - hosts_off);
        out->server.port = sx_slice_of(buf + port_off, kh_off - port_off);
        out->server.key_hash = sx_slice_of(buf + kh_off, w.len - kh_off);
        out->notifier_id = notifier_id;
    }
    free(a);
    return st == SX_OK ? SX_OK : (st == SX_E_LIMIT || st == SX_E_NOMEM ? st : SX_E_USAGE);
}

sx_status sx_ntf_sub_check(sx_ntf_client *c, sx_slice sub_id, const sx_key *verify, sx_ntf_sub_status *out,
                           char *err_text, size_t cap, sx_smp_error *err)
{
    SX_ENSURE(c != NULL && verify != NULL && out != NULL, SX_E_USAGE);
    sx_ntf_call *k = call_new(sub_id, verify, SX_NTF_C_SCHK);
    SX_ENSURE(k != NULL, SX_E_NOMEM);
    sx_status st = call1(c, k, SX_NTF_R_SUB, err);
    if (st == SX_OK) {
        *out = k->resp.sub.status;
        if (err_text && cap > 0) {
            size_t n = k->resp.sub.status == SX_NTF_SUB_ERR ? k->resp.sub.err.len : 0;
            if (n >= cap)
                n = cap - 1;
            if (n)
                memcpy(err_text, k->resp.sub.err.ptr, n);
            err_text[n] = 0;
        }
    }
    free(k);
    return st;
}

sx_status sx_ntf_sub_delete(sx_ntf_client *c, sx_slice sub_id, const sx_key *verify, sx_smp_error *err)
{
    sx_ntf_cmd cmd = {.tag = SX_NTF_C_SDEL};
    return simple(c, sub_id, verify, &cmd, SX_NTF_R_OK, NULL, err);
}
