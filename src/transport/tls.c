/* TLS contexts and connections over OpenSSL (PROTOCOL-NOTES B.1, B.2).
 * Certificate checks replace OpenSSL's default verification through
 * SSL_CTX_set_cert_verify_callback: the client checks the server identity
 * (chain length, fingerprint of the 2nd certificate, path to the last one),
 * the server checks an optional client chain against its own last cert. */
#include "transport/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include "core/reader.h"
#include "core/writer.h"
#include "crypto/x509.h"
#include "transport/block.h"
#include "transport/net.h"

/* TLS 1.3 suites: the reference offers and accepts only ChaCha20-Poly1305
 * (PROTOCOL-NOTES B2), so it is always there; AES-GCM is accepted from our
 * own peers. ChaCha20 goes first unless the CPU has AES instructions, where
 * AES-128-GCM costs less per 16 KiB block (a server's order decides). */
#define SX_TLS_CIPHERSUITES "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
#define SX_TLS_CIPHERSUITES_AES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"
/* With read-ahead, one recv takes whole records and what follows them (up to
 * this many bytes, about four 16 KiB records) instead of a header and then a
 * body per record. The buffer exists only while it holds data
 * (SSL_MODE_RELEASE_BUFFERS). */
#define SX_TLS_READ_BUFFER (4 * (16384 + 512))
#define SX_TLS_GROUPS "X448:X25519"
#define SX_TLS_SIGALGS "ed448:ed25519"
#define SX_TLS_ALPN_WIRE_MAX 512

bool sx_tls_cpu_has_aes(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_AES) != 0 && (getauxval(AT_HWCAP) & HWCAP_PMULL) != 0;
#else
    return false;
#endif
}

static const char *const default_server_alpn[] = {"smp/1", "h2", "http/1.1", NULL};

typedef struct der_cert {
    uint8_t *der;
    size_t len;
} der_cert;

struct sx_tls_ctx {
    SSL_CTX *ssl;
    bool is_server;
    /* Server: accepted protocols; client: offered list. ALPN wire format
     * (a sequence of 1-byte length + name). */
    uint8_t alpn[SX_TLS_ALPN_WIRE_MAX];
    size_t alpn_len;
    der_cert chain[SX_TLS_MAX_CHAIN];
    size_t chain_len;
    struct sx_tls_ctx *sni_ctx; /* server: credential chosen when SNI is sent */
};

struct sx_tls_conn {
    sx_tls_ctx *ctx;
    SSL *ssl;
    int fd;
    bool is_server;
    bool established;
    bool auth_failed;  /* our certificate check rejected the peer */
    bool alpn_refused; /* the peer's no_application_protocol alert */
    sx_tls_want want;
    uint8_t key_hash[SX_TLS_KEY_HASH_LEN];
    uint8_t unique[SX_TLS_UNIQUE_MAX];
    size_t unique_len;
    uint8_t alpn[256];
    size_t alpn_len;
    der_cert peer[SX_TLS_MAX_CHAIN];
    size_t peer_len;
    bool sni_used; /* the client sent SNI and the SNI context was selected */
    char err[160];
};

/* ---- the socket BIO ----
 * OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the
 * peer has gone; a library must not ask its programs to ignore that signal.
 * This BIO does the same reads and writes with recv/send and MSG_NOSIGNAL,
 * so a closed peer is an EPIPE error like any other. */

static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = send(BIO_get_fd(b, NULL), buf, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_write(b);
    return (int)n;
}

static int nosig_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = recv(BIO_get_fd(b, NULL), buf, (size_t)len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_read(b);
    return (int)n;
}

static int nosig_puts(BIO *b, const char *s)
{
    return nosig_write(b, s, (int)strlen(s));
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_C_SET_FD:
        BIO_set_data(b, (void *)(intptr_t) * (int *)ptr);
        BIO_set_shutdown(b, (int)num);
        BIO_set_init(b, 1);
        return 1;
    case BIO_C_GET_FD:
        if (!BIO_get_init(b))
            return -1;
        if (ptr)
            *(int *)ptr = (int)(intptr_t)BIO_get_data(b);
        return (long)(intptr_t)BIO_get_data(b);
    case BIO_CTRL_GET_CLOSE: return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE: BIO_set_shutdown(b, (int)num); return 1;
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DUP: return 1;
    default: return 0;
    }
}

static int nosig_destroy(BIO *b)
{
    /* The socket is the caller's (BIO_NOCLOSE): nothing to release. */
    BIO_set_data(b, NULL);
    BIO_set_init(b, 0);
    return 1;
}

static void nosig_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "socket without SIGPIPE");
    if (m && BIO_meth_set_write(m, nosig_write) && BIO_meth_set_read(m, nosig_read) &&
        BIO_meth_set_puts(m, nosig_puts) && BIO_meth_set_ctrl(m, nosig_ctrl) &&
        BIO_meth_set_destroy(m, nosig_destroy)) {
        nosig_method = m;
        return;
    }
    BIO_meth_free(m);
}

/* A BIO over fd (not closed with the BIO) that never raises SIGPIPE. */
static BIO *nosig_bio(int fd)
{
    pthread_once(&nosig_once, nosig_make);
    if (!nosig_method)
        return NULL;
    BIO *b = BIO_new(nosig_method);
    if (b)
        BIO_set_fd(b, fd, BIO_NOCLOSE);
    return b;
}

sx_status sx_tls_ssl_set_fd(SSL *ssl, int fd)
{
    SX_ENSURE(ssl != NULL && fd >= 0, SX_E_USAGE);
    BIO *b = nosig_bio(fd);
    SX_ENSURE(b != NULL, SX_E_NOMEM);
    SSL_set_bio(ssl, b, b);
    return SX_OK;
}

/* ---- helpers ---- */

static void free_chain(der_cert *chain, size_t *len)
{
    for (size_t i = 0; i < *len; i++) {
        free(chain[i].der);
        chain[i].der = NULL;
        chain[i].len = 0;
    }
    *len = 0;
}

/* Appends the DER of x to chain (room checked by the caller). */
static sx_status push_der(der_cert *chain, size_t *len, X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    if (n <= 0)
        return SX_E_INTERNAL;
    uint8_t *copy = malloc((size_t)n);
    if (!copy) {
        OPENSSL_free(der);
        return SX_E_NOMEM;
    }
    memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    chain[*len].der = copy;
    chain[*len].len = (size_t)n;
    (*len)++;
    return SX_OK;
}

/* Builds an ALPN wire list from a NULL-terminated list of names. */
static sx_status build_alpn(const char *const *list, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    if (!list)
        return SX_OK;
    sx_writer w;
    sx_writer_init_fixed(&w, out, cap);
    size_t n = 0;
    for (; list[n] != NULL; n++) {
        size_t l = strlen(list[n]);
        SX_ENSURE(n < SX_TLS_MAX_ALPN && l > 0 && l <= 255, SX_E_USAGE);
        sx_write_short(&w, sx_slice_of(list[n], l));
    }
    if (sx_writer_status(&w) != SX_OK)
        return SX_E_USAGE;
    *len = w.len;
    return SX_OK;
}

static sx_status read_certs(const char *path, STACK_OF(X509) * out)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio)
        return SX_E_IO;
    sx_status st = SX_OK;
    size_t n = 0;
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x)
            break;
        if (sk_X509_num(out) >= SX_TLS_MAX_CHAIN) {
            X509_free(x);
            st = SX_E_LIMIT;
            break;
        }
        if (!sk_X509_push(out, x)) {
            X509_free(x);
            st = SX_E_NOMEM;
            break;
        }
        n++;
    }
    /* The loop ends on a PEM "no start line" error at end of file. */
    ERR_clear_error();
    BIO_free(bio);
    if (st == SX_OK && n == 0)
        st = SX_E_PROTOCOL;
    return st;
}

/* The in-memory form of the credentials: DER certificates and a key. */
static sx_status load_memory(const sx_tls_credentials *creds, STACK_OF(X509) * certs, EVP_PKEY **key)
{
    SX_ENSURE(creds->der_chain != NULL && creds->der_chain_len > 0 && creds->key != NULL, SX_E_USAGE);
    if (creds->der_chain_len > SX_TLS_MAX_CHAIN)
        return SX_E_LIMIT;
    for (size_t i = 0; i < creds->der_chain_len; i++) {
        const unsigned char *p = creds->der_chain[i].ptr;
        X509 *x = d2i_X509(NULL, &p, (long)creds->der_chain[i].len);
        if (!x || p != creds->der_chain[i].ptr + creds->der_chain[i].len) {
            X509_free(x);
            return SX_E_PROTOCOL;
        }
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            return SX_E_NOMEM;
        }
    }
    EVP_PKEY *k = sx_key_evp(creds->key);
    if (!k || !sx_key_is_private(creds->key) || EVP_PKEY_up_ref(k) != 1)
        return SX_E_USAGE;
    *key = k;
    return SX_OK;
}

static sx_status load_credentials(sx_tls_ctx *ctx, const sx_tls_credentials *creds)
{
    SX_ENSURE(creds->cert_file != NULL ? creds->key_file != NULL : creds->der_chain != NULL, SX_E_USAGE);
    sx_status st;
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (!certs)
        return SX_E_NOMEM;

    if (creds->cert_file == NULL) {
        st = load_memory(creds, certs, &key);
        if (st != SX_OK)
            goto cleanup;
    } else {
        st = read_certs(creds->cert_file, certs);
        if (st != SX_OK)
            goto cleanup;
        if (creds->ca_file) {
            st = read_certs(creds->ca_file, certs);
            if (st != SX_OK)
                goto cleanup;
        }
        if (sk_X509_num(certs) > SX_TLS_MAX_CHAIN) {
            st = SX_E_LIMIT;
            goto cleanup;
        }

        BIO *bio = BIO_new_file(creds->key_file, "r");
        if (!bio) {
            st = SX_E_IO;
            goto cleanup;
        }
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!key) {
            st = SX_E_PROTOCOL;
            goto cleanup;
        }
    }

    X509 *leaf = sk_X509_value(certs, 0);
    if (SSL_CTX_use_certificate(ctx->ssl, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx->ssl, key) != 1 ||
        SSL_CTX_check_private_key(ctx->ssl) != 1) {
        st = SX_E_PROTOCOL;
        goto cleanup;
    }
    /* The rest of the chain is sent exactly as loaded, CA included
     * (PROTOCOL-NOTES B9). */
    for (int i = 1; i < sk_X509_num(certs); i++) {
        if (SSL_CTX_add1_chain_cert(ctx->ssl, sk_X509_value(certs, i)) != 1) {
            st = SX_E_INTERNAL;
            goto cleanup;
        }
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        st = push_der(ctx->chain, &ctx->chain_len, sk_X509_value(certs, i));
        if (st != SX_OK)
            goto cleanup;
    }
    st = SX_OK;

cleanup:
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    return st;
}

/* Replaces OpenSSL's verification of the peer chain (called once per
 * handshake when the peer sent at least one certificate). */
static int verify_cb(X509_STORE_CTX *xs, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    sx_tls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!c) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    /* OpenSSL passes the whole received chain, leaf first, as untrusted. */
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(xs);
    int n = chain ? sk_X509_num(chain) : 0;
    int err = X509_V_ERR_UNSPECIFIED;

    free_chain(c->peer, &c->peer_len);
    if (!leaf || n < 1 || sk_X509_value(chain, 0) != leaf) {
        err = X509_V_ERR_UNSPECIFIED;
        goto reject;
    }
    if (n > SX_TLS_MAX_CHAIN) {
        err = X509_V_ERR_CERT_CHAIN_TOO_LONG;
        goto reject;
    }
    for (int i = 0; i < n; i++) {
        if (push_der(c->peer, &c->peer_len, sk_X509_value(chain, i)) != SX_OK) {
            err = X509_V_ERR_OUT_OF_MEM;
            goto reject;
        }
    }

    X509 *anchor = sk_X509_value(chain, n - 1);
    if (!c->is_server) {
        /* PROTOCOL-NOTES B10: 2..4 certificates; the identity is always the 2nd
         * one. */
        if (n < 2) {
            err = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
            goto reject;
        }
        uint8_t fp[SX_FINGERPRINT_LEN];
        if (sx_x509_fingerprint(sk_X509_value(chain, 1), fp) != SX_OK) {
            err = X509_V_ERR_UNSPECIFIED;
            goto reject;
        }
        /* PROTOCOL-NOTES B11: a wrong identity aborts as "unknown CA", like the
         * reference. */
        if (CRYPTO_memcmp(fp, c->key_hash, SX_TLS_KEY_HASH_LEN) != 0) {
            err = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
            goto reject;
        }
    }
    /* PROTOCOL-NOTES B11 (server chain) and PROTOCOL-NOTES B6 (client chain of
     * 1..4, a single certificate validated against itself). */
    X509 *certs[SX_TLS_MAX_CHAIN];
    for (int i = 0; i < n; i++)
        certs[i] = sk_X509_value(chain, i);
    if (sx_x509_validate_chain(certs, (size_t)n, anchor, &err) != SX_OK)
        goto reject;
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    return 1;

reject:
    c->auth_failed = true;
    X509_STORE_CTX_set_error(xs, err);
    return 0;
}

/* PROTOCOL-NOTES B5: choose the first protocol of the client's list that we
 * accept. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const sx_tls_ctx *ctx = arg;
    sx_reader theirs;
    sx_reader_init(&theirs, in, inlen);
    while (sx_reader_remaining(&theirs) > 0) {
        sx_slice p;
        if (!sx_read_short(&theirs, &p))
            break;
        sx_reader ours;
        sx_reader_init(&ours, ctx->alpn, ctx->alpn_len);
        while (sx_reader_remaining(&ours) > 0) {
            sx_slice q;
            if (!sx_read_short(&ours, &q))
                break;
            if (p.len > 0 && sx_slice_eq(p, q)) {
                *out = p.ptr;
                *outlen = (unsigned char)p.len;
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    /* PROTOCOL-NOTES B5a: a list with nothing in common ends the handshake
     * with the no_application_protocol alert, as the reference's TLS library
     * does (a client that sends no list at all gets the legacy version,
     * PROTOCOL-NOTES B16). */
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static sx_status ctx_new_common(bool is_server, sx_tls_ctx **out)
{
    sx_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return SX_E_NOMEM;
    ctx->is_server = is_server;
    ctx->ssl = SSL_CTX_new(is_server ? TLS_server_method() : TLS_client_method());
    if (!ctx->ssl) {
        free(ctx);
        ERR_clear_error();
        return SX_E_NOMEM;
    }
    SSL_CTX *s = ctx->ssl;
    bool ok = SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) == 1 &&
              SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) == 1 &&
              SSL_CTX_set_ciphersuites(s, sx_tls_cpu_has_aes() ? SX_TLS_CIPHERSUITES_AES
                                                               : SX_TLS_CIPHERSUITES) == 1 &&
              SSL_CTX_set1_groups_list(s, SX_TLS_GROUPS) == 1 &&
              SSL_CTX_set1_sigalgs_list(s, SX_TLS_SIGALGS) == 1 &&
              SSL_CTX_set1_client_sigalgs_list(s, SX_TLS_SIGALGS) == 1 &&
              SSL_CTX_set_num_tickets(s, 0) == 1;
    if (!ok) {
        sx_tls_ctx_free(ctx);
        ERR_clear_error();
        return SX_E_INTERNAL;
    }
    /* PROTOCOL-NOTES B2: no resumption of any kind, no renegotiation. */
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               (is_server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    /* RELEASE_BUFFERS: an idle connection keeps no 16 KiB record buffers,
     * which is most of what a connection costs. */
    SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(s, 1);
    SSL_CTX_set_default_read_buffer_len(s, SX_TLS_READ_BUFFER);
    SSL_CTX_set_cert_verify_callback(s, verify_cb, NULL);
    *out = ctx;
    return SX_OK;
}

/* PROTOCOL-NOTES B3: what a port shared with an HTTPS site accepts, for
 * browsers. */
static sx_status set_https_compat(SSL_CTX *s)
{
    bool ok = SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) == 1 &&
              SSL_CTX_set_cipher_list(s, "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                                         "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                         "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256") == 1 &&
              SSL_CTX_set1_groups_list(s, "X25519:X448:P-256:P-384:P-521:ffdhe2048:ffdhe3072") == 1 &&
              SSL_CTX_set1_sigalgs_list(s, "ed25519:ed448:ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:"
                                           "ecdsa_secp521r1_sha512:rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:"
                                           "rsa_pss_rsae_sha512:rsa_pkcs1_sha256:rsa_pkcs1_sha384:"
                                           "rsa_pkcs1_sha512") == 1;
    if (!ok) {
        ERR_clear_error();
        return SX_E_INTERNAL;
    }
    return SX_OK;
}

/* ---- contexts ---- */

sx_status sx_tls_server_ctx_new(const sx_tls_server_config *cfg, sx_tls_ctx **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    SX_ENSURE(cfg != NULL, SX_E_USAGE);
    sx_tls_ctx *ctx = NULL;
    SX_TRY(ctx_new_common(true, &ctx));
    sx_status st = build_alpn(cfg->alpn ? cfg->alpn : default_server_alpn, ctx->alpn,
                              sizeof ctx->alpn, &ctx->alpn_len);
    if (st == SX_OK && cfg->https_compat)
        st = set_https_compat(ctx->ssl);
    if (st == SX_OK)
        st = load_credentials(ctx, &cfg->creds);
    if (st != SX_OK) {
        sx_tls_ctx_free(ctx);
        return st;
    }
    SSL_CTX_set_alpn_select_cb(ctx->ssl, alpn_select_cb, ctx);
    /* PROTOCOL-NOTES B6: ask for a client certificate; a client without one is
     * accepted. */
    SSL_CTX_set_verify(ctx->ssl, cfg->no_client_cert_request ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                       NULL);
    *out = ctx;
    return SX_OK;
}

sx_status sx_tls_client_ctx_new(const sx_tls_client_config *cfg, sx_tls_ctx **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    SX_ENSURE(cfg != NULL, SX_E_USAGE);
    sx_tls_ctx *ctx = NULL;
    SX_TRY(ctx_new_common(false, &ctx));
    sx_status st = build_alpn(cfg->alpn, ctx->alpn, sizeof ctx->alpn, &ctx->alpn_len);
    if (st == SX_OK && cfg->creds)
        st = load_credentials(ctx, cfg->creds);
    if (st != SX_OK) {
        sx_tls_ctx_free(ctx);
        return st;
    }
    SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
    *out = ctx;
    return SX_OK;
}

void sx_tls_ctx_free(sx_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free_chain(ctx->chain, &ctx->chain_len);
    free(ctx);
}

size_t sx_tls_ctx_chain_len(const sx_tls_ctx *ctx)
{
    return ctx ? ctx->chain_len : 0;
}

sx_slice sx_tls_ctx_cert(const sx_tls_ctx *ctx, size_t i)
{
    if (!ctx || i >= ctx->chain_len)
        return sx_slice_of(NULL, 0);
    return sx_slice_of(ctx->chain[i].der, ctx->chain[i].len);
}

sx_status sx_tls_ctx_private_key(const sx_tls_ctx *ctx, sx_key **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    SX_ENSURE(ctx != NULL, SX_E_USAGE);
    EVP_PKEY *pk = SSL_CTX_get0_privatekey(ctx->ssl);
    SX_ENSURE(pk != NULL, SX_E_USAGE);
    return sx_key_from_evp(pk, true, out);
}

/* ---- connections ---- */

/* Switches a connection whose client sent a server name to the SNI context
 * (its certificate chain and ALPN settings). */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    const sx_tls_ctx *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!ctx->sni_ctx || !name || !*name)
        return SSL_TLSEXT_ERR_OK;
    sx_tls_conn *c = SSL_get_app_data(ssl);
    if (!SSL_set_SSL_CTX(ssl, ctx->sni_ctx->ssl))
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    if (c)
        c->sni_used = true;
    return SSL_TLSEXT_ERR_OK;
}

sx_status sx_tls_server_ctx_set_sni(sx_tls_ctx *ctx, sx_tls_ctx *sni_ctx)
{
    SX_ENSURE(ctx && sni_ctx && ctx->is_server && sni_ctx->is_server && ctx != sni_ctx, SX_E_USAGE);
    ctx->sni_ctx = sni_ctx;
    SSL_CTX_set_tlsext_servername_callback(ctx->ssl, servername_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx->ssl, ctx);
    return SX_OK;
}

bool sx_tls_sni_used(const sx_tls_conn *c)
{
    return c && c->sni_used;
}

bool sx_tls_alpn_refused(const sx_tls_conn *c)
{
    return c && c->alpn_refused;
}

static sx_status conn_new(sx_tls_ctx *ctx, int fd, bool is_server, sx_tls_conn **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    SX_ENSURE(ctx != NULL && fd >= 0 && ctx->is_server == is_server, SX_E_USAGE);
    sx_tls_conn *c = calloc(1, sizeof *c);
    if (!c)
        return SX_E_NOMEM;
    c->ctx = ctx;
    c->is_server = is_server;
    c->fd = fd;
    c->ssl = SSL_new(ctx->ssl);
    BIO *bio = c->ssl ? nosig_bio(fd) : NULL;
    if (!bio) {
        sx_tls_conn_free(c);
        ERR_clear_error();
        return SX_E_NOMEM;
    }
    SSL_set_bio(c->ssl, bio, bio); /* the SSL owns the BIO from here */
    SSL_set_app_data(c->ssl, c);
    if (is_server)
        SSL_set_accept_state(c->ssl);
    else
        SSL_set_connect_state(c->ssl);
    *out = c;
    return SX_OK;
}

sx_status sx_tls_conn_new_server(sx_tls_ctx *ctx, int fd, sx_tls_conn **out)
{
    return conn_new(ctx, fd, true, out);
}

sx_status sx_tls_conn_new_client(sx_tls_ctx *ctx, int fd, const uint8_t key_hash[SX_TLS_KEY_HASH_LEN],
                                 sx_tls_conn **out)
{
    SX_ENSURE(key_hash != NULL, SX_E_USAGE);
    SX_TRY(conn_new(ctx, fd, false, out));
    sx_tls_conn *c = *out;
    memcpy(c->key_hash, key_hash, SX_TLS_KEY_HASH_LEN);
    /* PROTOCOL-NOTES B4: no SNI, so the server presents its protocol
     * credential. Note that SSL_set_alpn_protos returns 0 on success. */
    if (ctx->alpn_len > 0 && SSL_set_alpn_protos(c->ssl, ctx->alpn, (unsigned)ctx->alpn_len) != 0) {
        sx_tls_conn_free(c);
        *out = NULL;
        ERR_clear_error();
        return SX_E_NOMEM;
    }
    return SX_OK;
}

sx_status sx_tls_conn_set_alpn(sx_tls_conn *c, const char *const *alpn)
{
    SX_ENSURE(c != NULL && !c->is_server && !c->established, SX_E_USAGE);
    uint8_t wire[SX_TLS_ALPN_WIRE_MAX];
    size_t len = 0;
    SX_TRY(build_alpn(alpn, wire, sizeof wire, &len));
    /* An empty list clears the extension. */
    if (SSL_set_alpn_protos(c->ssl, len ? wire : NULL, (unsigned)len) != 0) {
        ERR_clear_error();
        return SX_E_NOMEM;
    }
    return SX_OK;
}

void sx_tls_conn_free(sx_tls_conn *c)
{
    if (!c)
        return;
    SSL_free(c->ssl);
    free_chain(c->peer, &c->peer_len);
    OPENSSL_cleanse(c->unique, sizeof c->unique);
    free(c);
}

sx_tls_want sx_tls_conn_want(const sx_tls_conn *c)
{
    return c ? c->want : SX_TLS_WANT_NONE;
}

static void record_error(sx_tls_conn *c, const char *what)
{
    unsigned long e = ERR_peek_error();
    if (e != 0) {
        char buf[120];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(c->err, sizeof c->err, "%s: %s", what, buf);
    } else {
        snprintf(c->err, sizeof c->err, "%s", what);
    }
}

/* Maps the result of an SSL_* call that failed (ret <= 0). */
static sx_status ssl_failure(sx_tls_conn *c, int ret)
{
    int saved_errno = errno;
    int e = SSL_get_error(c->ssl, ret);
    sx_status st;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        c->want = SX_TLS_WANT_READ;
        return SX_E_WOULD_BLOCK;
    case SSL_ERROR_WANT_WRITE:
        c->want = SX_TLS_WANT_WRITE;
        return SX_E_WOULD_BLOCK;
    case SSL_ERROR_ZERO_RETURN:
        record_error(c, "closed by peer");
        st = SX_E_CLOSED;
        break;
    case SSL_ERROR_SYSCALL:
        /* errno was cleared before the call: 0 here means end of file. */
        if (ERR_peek_error() == 0 &&
            (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE)) {
            record_error(c, "connection closed");
            st = SX_E_CLOSED;
        } else {
            snprintf(c->err, sizeof c->err, "socket error: %s", strerror(saved_errno));
            st = SX_E_IO;
        }
        break;
    case SSL_ERROR_SSL:
        record_error(c, c->auth_failed ? "peer certificate rejected" : "TLS failure");
        c->alpn_refused = ERR_GET_REASON(ERR_peek_error()) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL;
        if (c->auth_failed)
            st = SX_E_AUTH;
        else if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            st = SX_E_CLOSED;
        else
            st = SX_E_PROTOCOL;
        break;
    default:
        record_error(c, "TLS failure");
        st = SX_E_PROTOCOL;
        break;
    }
    c->want = SX_TLS_WANT_NONE;
    ERR_clear_error();
    return st;
}

/* Reads what the session offers once the handshake is done: tls-unique and ALPN. */
static sx_status on_established(sx_tls_conn *c)
{
    /* PROTOCOL-NOTES B8: the client's Finished on both sides. */
    size_t n = c->is_server ? SSL_get_peer_finished(c->ssl, c->unique, sizeof c->unique)
                            : SSL_get_finished(c->ssl, c->unique, sizeof c->unique);
    if (n == 0 || n > sizeof c->unique) {
        snprintf(c->err, sizeof c->err, "no tls-unique");
        return SX_E_PROTOCOL;
    }
    c->unique_len = n;
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(c->ssl, &proto, &plen);
    if (proto && plen > 0 && plen <= sizeof c->alpn) {
        memcpy(c->alpn, proto, plen);
        c->alpn_len = plen;
    }
    c->established = true;
    return SX_OK;
}

sx_status sx_tls_handshake(sx_tls_conn *c)
{
    SX_ENSURE(c != NULL, SX_E_USAGE);
    if (c->established)
        return SX_OK;
    ERR_clear_error();
    errno = 0;
    int ret = SSL_do_handshake(c->ssl);
    if (ret != 1)
        return ssl_failure(c, ret);
    c->want = SX_TLS_WANT_NONE;
    return on_established(c);
}

bool sx_tls_established(const sx_tls_conn *c)
{
    return c && c->established;
}

sx_slice sx_tls_unique(const sx_tls_conn *c)
{
    if (!c || !c->established)
        return sx_slice_of(NULL, 0);
    return sx_slice_of(c->unique, c->unique_len);
}

sx_slice sx_tls_alpn(const sx_tls_conn *c)
{
    if (!c || !c->established || c->alpn_len == 0)
        return sx_slice_of(NULL, 0);
    return sx_slice_of(c->alpn, c->alpn_len);
}

size_t sx_tls_peer_chain_len(const sx_tls_conn *c)
{
    return c ? c->peer_len : 0;
}

sx_slice sx_tls_peer_cert(const sx_tls_conn *c, size_t i)
{
    if (!c || i >= c->peer_len)
        return sx_slice_of(NULL, 0);
    return sx_slice_of(c->peer[i].der, c->peer[i].len);
}

sx_status sx_tls_read(sx_tls_conn *c, uint8_t *buf, size_t len, size_t *done)
{
    SX_ENSURE(c != NULL && done != NULL && *done <= len, SX_E_USAGE);
    SX_ENSURE(buf != NULL || len == 0, SX_E_USAGE);
    SX_ENSURE(c->established, SX_E_USAGE);
    /* SSL_get_error needs an empty error queue before the call that
     * failed: emptied once here, as a call that succeeds adds nothing to it
     * (per record it was ~3 % of a worker's time on an upload). */
    ERR_clear_error();
    while (*done < len) {
        size_t got = 0;
        errno = 0;
        int ret = SSL_read_ex(c->ssl, buf + *done, len - *done, &got);
        if (ret != 1)
            return ssl_failure(c, ret);
        *done += got;
    }
    c->want = SX_TLS_WANT_NONE;
    return SX_OK;
}

sx_status sx_tls_write(sx_tls_conn *c, const uint8_t *buf, size_t len, size_t *done)
{
    SX_ENSURE(c != NULL && done != NULL && *done <= len, SX_E_USAGE);
    SX_ENSURE(buf != NULL || len == 0, SX_E_USAGE);
    SX_ENSURE(c->established, SX_E_USAGE);
    ERR_clear_error(); /* once, as in sx_tls_read */
    while (*done < len) {
        size_t put = 0;
        errno = 0;
        int ret = SSL_write_ex(c->ssl, buf + *done, len - *done, &put);
        if (ret != 1)
            return ssl_failure(c, ret);
        *done += put;
    }
    c->want = SX_TLS_WANT_NONE;
    return SX_OK;
}

bool sx_tls_has_pending(const sx_tls_conn *c)
{
    return c && SSL_has_pending(c->ssl) == 1;
}

const char *sx_tls_conn_cipher(const sx_tls_conn *c)
{
    const SSL_CIPHER *ci = c && c->established ? SSL_get_current_cipher(c->ssl) : NULL;
    const char *name = ci ? SSL_CIPHER_get_name(ci) : NULL;
    return name ? name : "";
}

sx_status sx_tls_shutdown(sx_tls_conn *c)
{
    SX_ENSURE(c != NULL, SX_E_USAGE);
    ERR_clear_error();
    errno = 0;
    int ret = SSL_shutdown(c->ssl);
    /* 0: our close_notify is sent, the peer's has not arrived: enough. */
    if (ret >= 0) {
        c->want = SX_TLS_WANT_NONE;
        return SX_OK;
    }
    return ssl_failure(c, ret);
}

const char *sx_tls_conn_error(const sx_tls_conn *c)
{
    return c ? c->err : "";
}

struct ssl_st *sx_tls_conn_ssl(sx_tls_conn *c)
{
    return c ? c->ssl : NULL;
}

/* ---- blocking layer ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the direction the last call asked for, within deadline. */
static sx_status wait_for(sx_tls_conn *c, int64_t deadline)
{
    int left = -1;
    if (deadline >= 0) {
        int64_t l = deadline - now_ms();
        if (l <= 0) {
            snprintf(c->err, sizeof c->err, "timed out");
            return SX_E_IO;
        }
        left = l > 0x7fffffff ? 0x7fffffff : (int)l;
    }
    sx_status st = sx_net_wait(c->fd, c->want == SX_TLS_WANT_WRITE, left);
    if (st == SX_E_WOULD_BLOCK) {
        snprintf(c->err, sizeof c->err, "timed out");
        return SX_E_IO;
    }
    return st;
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

sx_status sx_tls_handshake_blocking(sx_tls_conn *c, int timeout_ms)
{
    SX_ENSURE(c != NULL, SX_E_USAGE);
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        sx_status st = sx_tls_handshake(c);
        if (st != SX_E_WOULD_BLOCK)
            return st;
        SX_TRY(wait_for(c, deadline));
    }
}

sx_status sx_tls_read_full(sx_tls_conn *c, uint8_t *buf, size_t len, int timeout_ms)
{
    SX_ENSURE(c != NULL, SX_E_USAGE);
    int64_t deadline = deadline_of(timeout_ms);
    size_t done = 0;
    for (;;) {
        sx_status st = sx_tls_read(c, buf, len, &done);
        if (st != SX_E_WOULD_BLOCK)
            return st;
        SX_TRY(wait_for(c, deadline));
    }
}

sx_status sx_tls_write_full(sx_tls_conn *c, const uint8_t *buf, size_t len, int timeout_ms)
{
    SX_ENSURE(c != NULL, SX_E_USAGE);
    int64_t deadline = deadline_of(timeout_ms);
    size_t done = 0;
    for (;;) {
        sx_status st = sx_tls_write(c, buf, len, &done);
        if (st != SX_E_WOULD_BLOCK)
            return st;
        SX_TRY(wait_for(c, deadline));
    }
}

sx_status sx_tls_read_block(sx_tls_conn *c, uint8_t *block, int timeout_ms)
{
    return sx_tls_read_full(c, block, SX_BLOCK_SIZE, timeout_ms);
}

sx_status sx_tls_write_block(sx_tls_conn *c, const uint8_t *block, int timeout_ms)
{
    return sx_tls_write_full(c, block, SX_BLOCK_SIZE, timeout_ms);
}

sx_status sx_tls_shutdown_blocking(sx_tls_conn *c, int timeout_ms)
{
    SX_ENSURE(c != NULL, SX_E_USAGE);
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        sx_status st = sx_tls_shutdown(c);
        if (st != SX_E_WOULD_BLOCK)
            return st;
        SX_TRY(wait_for(c, deadline));
    }
}
