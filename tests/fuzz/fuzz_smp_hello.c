/* Fuzz target: the SMP hello decoders (server hello PROTOCOL-NOTES B16, client
 * hello PROTOCOL-NOTES B17, service reply PROTOCOL-NOTES B21) and the
 * negotiation on both sides fed with the input as the peer's hello block. To
 * reach the certificate and signature checks, the peer's TLS chain and the
 * expected identity are taken from the hello itself. Nothing may crash or leak,
 * slices stay inside the input, and a session that comes out obeys the version
 * and encryption rules (PROTOCOL-NOTES B18-B25). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include <openssl/x509.h>

#include "transport/smp_handshake.h"

static uint8_t sid[32]; /* tls-unique of every run: bytes(32, 1), as in the seeds */
static sx_smp_server_config srv_cfg;

static void trap_unless(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void inside(sx_slice s, const uint8_t *data, size_t size)
{
    if (s.len && (s.ptr < data || s.ptr + s.len > data + size))
        __builtin_trap();
}

static void inside_cert_key(const sx_smp_cert_key *ck, const uint8_t *data, size_t size)
{
    trap_unless(ck->chain_len >= 1 && ck->chain_len <= SX_X509_CHAIN_MAX);
    for (size_t i = 0; i < ck->chain_len; i++)
        inside(ck->chain[i], data, size);
    inside(ck->signed_key, data, size);
}

/* A server identity of our own (Ed25519 CA and server certificates), made
 * once; its key signs the server hellos of the server-side run. */
static void init_server(void)
{
    if (srv_cfg.sign_key)
        return;
    for (int i = 0; i < 32; i++)
        sid[i] = (uint8_t)(1 + i);
    sx_key *ca_key = NULL, *srv_key = NULL;
    X509 *ca = NULL, *srv = NULL;
    trap_unless(sx_key_generate(SX_KEY_ED25519, &ca_key) == SX_OK);
    trap_unless(sx_key_generate(SX_KEY_ED25519, &srv_key) == SX_OK);
    trap_unless(sx_x509_create_ca(ca_key, &ca) == SX_OK);
    trap_unless(sx_x509_create_server(ca_key, ca, srv_key, "localhost", &srv) == SX_OK);
    /* Build the config by hand: no files, no TLS context needed. */
    static uint8_t *der[2];
    size_t len[2];
    trap_unless(sx_x509_to_der(srv, &der[0], &len[0]) == SX_OK);
    trap_unless(sx_x509_to_der(ca, &der[1], &len[1]) == SX_OK);
    srv_cfg.chain_len = 2;
    srv_cfg.chain[0] = sx_slice_of(der[0], len[0]);
    srv_cfg.chain[1] = sx_slice_of(der[1], len[1]);
    trap_unless(sx_x509_fingerprint_der(srv_cfg.chain[1], srv_cfg.key_hash) == SX_OK);
    srv_cfg.range = sx_smp_server_vrange();
    srv_cfg.sign_key = srv_key;
    X509_free(srv);
    X509_free(ca);
    sx_key_free(ca_key);
}

static void check_session(const sx_smp_session *s, sx_version_range own, bool proxy)
{
    trap_unless(s->version >= own.min && s->version <= own.max);
    trap_unless(s->range.max == s->version && s->range.min <= s->version);
    if (s->encrypted)
        trap_unless(s->version >= SX_SMP_V_ENCRYPTED_BLOCK && !proxy && s->has_secret);
    trap_unless(sx_slice_eq(sx_smp_session_id(s), sx_slice_of(sid, sizeof sid)));
}

/* Client side: the input is the server hello content. */
static void run_client(const uint8_t *data, size_t size, const sx_smp_server_hello *sh, bool sh_ok)
{
    static uint8_t in[SX_BLOCK_SIZE], out[SX_BLOCK_SIZE];
    if (sx_block_encode(sx_slice_of(data, size), in) != SX_OK)
        return;
    sx_smp_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.range = sx_smp_server_vrange();
    cfg.proxy_server = size % 2 == 1;
    sx_smp_tls_info tls;
    memset(&tls, 0, sizeof tls);
    tls.tls_unique = sx_slice_of(sid, sizeof sid);
    if (sh_ok && sh->has_cert_key) {
        tls.peer_chain_len = sh->cert_key.chain_len;
        for (size_t i = 0; i < sh->cert_key.chain_len; i++)
            tls.peer_chain[i] = sh->cert_key.chain[i];
        if (sh->cert_key.chain_len >= 2 &&
            sx_x509_fingerprint_der(sh->cert_key.chain[1], cfg.key_hash) != SX_OK)
            __builtin_trap();
    }
    sx_smp_session s;
    sx_transport_error te = SX_TE_NONE;
    sx_status st = sx_smp_client_hs_process(&cfg, &tls, in, out, &s, &te);
    if (st == SX_OK) {
        trap_unless(sh_ok && te == SX_TE_NONE);
        sx_version_range own = cfg.range;
        check_session(&s, own, cfg.proxy_server);
        trap_unless(s.version < SX_SMP_V_AUTH_CMDS || s.server_dh_pub != NULL);
        /* Our reply must parse back as what we meant. */
        sx_slice c;
        sx_smp_client_hello ch;
        trap_unless(sx_block_decode(sx_slice_of(out, SX_BLOCK_SIZE), &c) == SX_OK);
        trap_unless(sx_smp_client_hello_decode(c, &ch) == SX_OK);
        trap_unless(ch.version == s.version && ch.has_dh_key == (s.version >= 7));
        uint8_t blk[SX_BLOCK_SIZE];
        const uint8_t ping[] = {1, 0, 4, 'P', 'I', 'N', 'G'};
        trap_unless(sx_smp_session_write_block(&s, sx_slice_of(ping, sizeof ping), blk) == SX_OK);
    } else {
        trap_unless(s.server_dh_pub == NULL && s.peer_chain_buf == NULL);
        if (st == SX_E_PROTOCOL || st == SX_E_AUTH)
            trap_unless(te != SX_TE_NONE);
    }
    sx_smp_session_cleanup(&s);
}

/* Server side: the input is the client hello content. */
static void run_server(const uint8_t *data, size_t size, const sx_smp_client_hello *ch, bool ch_ok)
{
    static uint8_t hello[SX_BLOCK_SIZE], in[SX_BLOCK_SIZE];
    if (sx_block_encode(sx_slice_of(data, size), in) != SX_OK)
        return;
    sx_smp_server_config cfg = srv_cfg;
    if (ch_ok && ch->key_hash.len == SX_FINGERPRINT_LEN)
        memcpy(cfg.key_hash, ch->key_hash.ptr, SX_FINGERPRINT_LEN);
    sx_smp_tls_info tls;
    memset(&tls, 0, sizeof tls);
    tls.tls_unique = sx_slice_of(sid, sizeof sid);
    tls.alpn = size % 3 != 0;
    if (ch_ok && ch->has_service) {
        tls.peer_chain_len = ch->service.chain_len;
        for (size_t i = 0; i < ch->service.chain_len; i++)
            tls.peer_chain[i] = ch->service.chain[i];
    }
    sx_smp_server_hs hs;
    trap_unless(sx_smp_server_hs_start(&hs, &cfg, &tls, hello) == SX_OK);
    sx_smp_session s;
    sx_transport_error te = SX_TE_NONE;
    sx_status st = sx_smp_server_hs_finish(&hs, &tls, in, &s, &te);
    if (st == SX_OK) {
        trap_unless(ch_ok);
        check_session(&s, hs.range, s.proxy_server);
        trap_unless(s.server_dh_priv != NULL && hs.dh_key == NULL);
        trap_unless(s.has_service == ch->has_service);
    } else {
        trap_unless(s.server_dh_priv == NULL && s.service_key == NULL);
        trap_unless(!hs.reply_error || te == SX_TE_HANDSHAKE_BAD_AUTH);
    }
    sx_smp_session_cleanup(&s);
    sx_smp_server_hs_cleanup(&hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_server();

    sx_smp_server_hello sh;
    bool sh_ok = sx_smp_server_hello_decode(sx_slice_of(data, size), &sh) == SX_OK;
    if (sh_ok) {
        trap_unless(sh.range.min <= sh.range.max);
        inside(sh.session_id, data, size);
        if (sh.has_cert_key) {
            trap_unless(sh.range.max >= SX_SMP_V_AUTH_CMDS);
            inside_cert_key(&sh.cert_key, data, size);
        }
    }

    sx_smp_client_hello ch;
    bool ch_ok = sx_smp_client_hello_decode(sx_slice_of(data, size), &ch) == SX_OK;
    if (ch_ok) {
        inside(ch.key_hash, data, size);
        trap_unless(!ch.has_dh_key || ch.version >= SX_SMP_V_AUTH_CMDS);
        trap_unless(!ch.proxy_server || ch.version >= SX_SMP_V_PROXY_SERVER_HANDSHAKE);
        if (ch.has_service) {
            trap_unless(ch.version >= SX_SMP_V_SERVICE_CERTS);
            inside_cert_key(&ch.service, data, size);
        }
    }

    sx_smp_service_reply rep;
    if (sx_smp_service_reply_decode(sx_slice_of(data, size), &rep) == SX_OK) {
        inside(rep.service_id, data, size);
        trap_unless(rep.ok || rep.error != SX_TE_NONE);
    }

    run_client(data, size, &sh, sh_ok);
    run_server(data, size, &ch, ch_ok);
    return 0;
}
