/* Certificates and signed keys. Creation, files and path validation are thin
 * OpenSSL wrappers; the PROTOCOL-NOTES A20 signed key is small and fixed, so it
 * is encoded with the writer and parsed with a minimal DER reader built on
 * sx_reader (definite lengths only, at most 2 length bytes, minimal form). */
#include "crypto/x509.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/base64.h"

#define DER_SEQUENCE 0x30
#define DER_BIT_STRING 0x03
#define DER_OID 0x06

/* Contents of the OIDs 1.3.101.112 (Ed25519) and 1.3.101.113 (Ed448). */
static const uint8_t OID_ED25519[] = {0x2b, 0x65, 0x70};
static const uint8_t OID_ED448[] = {0x2b, 0x65, 0x71};

/* ---- minimal DER on top of the reader and the writer --------------------- */

/* Reads one TLV with the given tag; *content is its value. */
static bool der_read(sx_reader *r, uint8_t tag, sx_slice *content)
{
    *content = sx_slice_of(NULL, 0);
    uint8_t t, l0;
    if (!sx_read_u8(r, &t) || !sx_read_u8(r, &l0))
        return false;
    if (t != tag)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    size_t len;
    if (l0 < 0x80) {
        len = l0;
    } else if (l0 == 0x81) {
        uint8_t b;
        if (!sx_read_u8(r, &b))
            return false;
        if (b < 0x80) /* DER: the short form was required */
            return sx_reader_fail(r, SX_E_PROTOCOL);
        len = b;
    } else if (l0 == 0x82) {
        uint16_t v;
        if (!sx_read_u16(r, &v))
            return false;
        if (v < 0x100)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        len = v;
    } else {
        /* 0x80 is the indefinite form; longer forms exceed any field here. */
        return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return sx_read_bytes(r, len, content);
}

/* Like der_read, and also returns the whole TLV (tag and length included). */
static bool der_read_tlv(sx_reader *r, uint8_t tag, sx_slice *content, sx_slice *whole)
{
    *whole = sx_slice_of(NULL, 0);
    sx_reader start = *r;
    if (!der_read(r, tag, content))
        return false;
    size_t used = sx_reader_remaining(&start) - sx_reader_remaining(r);
    return sx_read_bytes(&start, used, whole);
}

static size_t der_len_size(size_t n)
{
    return n < 0x80 ? 1 : n <= 0xff ? 2 : 3;
}

static bool der_write_len(sx_writer *w, size_t n)
{
    if (n < 0x80)
        return sx_write_u8(w, (uint8_t)n);
    if (n <= 0xff)
        return sx_write_u8(w, 0x81) && sx_write_u8(w, (uint8_t)n);
    if (n <= 0xffff)
        return sx_write_u8(w, 0x82) && sx_write_u16(w, (uint16_t)n);
    return sx_writer_fail(w, SX_E_LIMIT);
}

/* ---- certificates -------------------------------------------------------- */

static bool is_sign_key(const sx_key *k)
{
    return k && (SX_KEY_SIGN_ALGS & SX_KEY_BIT(sx_key_alg_of(k)));
}

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    if (!e)
        return false;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1;
}

/* Positive random serial of 159 bits, as `openssl req -x509` makes. */
static bool set_random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    bool ok = bn && BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
              BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

/* Everything but the extensions and the signature. */
static X509 *new_cert(const sx_key *subject_key, const X509_NAME *subject, const X509_NAME *issuer)
{
    /* The certificate keeps a reference to the key object it is given, so
     * give it a public-only copy rather than the private key. */
    sx_key *pub = NULL;
    if (sx_key_public_copy(subject_key, &pub) != SX_OK)
        return NULL;
    X509 *x = X509_new();
    if (x && (X509_set_version(x, X509_VERSION_3) != 1 || !set_random_serial(x) ||
              !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
              !X509_time_adj_ex(X509_getm_notAfter(x), SX_X509_VALIDITY_DAYS, 0, NULL) ||
              X509_set_subject_name(x, subject) != 1 || X509_set_issuer_name(x, issuer) != 1 ||
              X509_set_pubkey(x, sx_key_evp(pub)) != 1)) {
        X509_free(x);
        x = NULL;
    }
    sx_key_free(pub);
    return x;
}

static bool add_name_entry(X509_NAME *name, const char *field, const char *value)
{
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value, -1,
                                      -1, 0) == 1;
}

sx_status sx_x509_create_ca(const sx_key *ca_key, X509 **out)
{
    *out = NULL;
    SX_ENSURE(is_sign_key(ca_key) && sx_key_is_private(ca_key), SX_E_USAGE);
    EVP_PKEY *pkey = sx_key_evp(ca_key);
    sx_status st = SX_E_INTERNAL;
    X509 *x = NULL;
    X509_NAME *name = X509_NAME_new();
    if (!name || !add_name_entry(name, "CN", "SMP server CA") || !add_name_entry(name, "O", "SimpleX"))
        goto done;
    x = new_cert(ca_key, name, name);
    if (!x)
        goto done;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    /* The key identifier must exist before the authority one refers to it. */
    if (!add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
        !add_ext(x, &ctx, NID_basic_constraints, "critical,CA:true"))
        goto done;
    if (X509_sign(x, pkey, NULL) <= 0)
        goto done;
    *out = x;
    x = NULL;
    st = SX_OK;
done:
    X509_free(x);
    X509_NAME_free(name);
    ERR_clear_error();
    return st;
}

sx_status sx_x509_create_server(const sx_key *ca_key, const X509 *ca_cert, const sx_key *server_key,
                                const char *cn, X509 **out)
{
    *out = NULL;
    SX_ENSURE(is_sign_key(ca_key) && sx_key_is_private(ca_key) && ca_cert, SX_E_USAGE);
    SX_ENSURE(is_sign_key(server_key) && cn && cn[0], SX_E_USAGE);
    EVP_PKEY *ca_pkey = sx_key_evp(ca_key);
    SX_ENSURE(X509_check_private_key(ca_cert, ca_pkey) == 1, SX_E_USAGE);
    sx_status st = SX_E_INTERNAL;
    X509 *x = NULL;
    X509_NAME *name = X509_NAME_new();
    if (!name)
        goto done;
    if (!add_name_entry(name, "CN", cn)) {
        st = SX_E_USAGE; /* e.g. longer than the 64 characters X.520 allows */
        goto done;
    }
    x = new_cert(server_key, name, X509_get_subject_name(ca_cert));
    if (!x)
        goto done;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    /* OpenSSL only reads the issuer certificate here. */
    X509V3_set_ctx(&ctx, (X509 *)ca_cert, x, NULL, NULL, 0);
    if (!add_ext(x, &ctx, NID_basic_constraints, "CA:FALSE") ||
        !add_ext(x, &ctx, NID_key_usage, "digitalSignature,nonRepudiation,keyAgreement") ||
        !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
        goto done;
    if (X509_sign(x, ca_pkey, NULL) <= 0)
        goto done;
    *out = x;
    x = NULL;
    st = SX_OK;
done:
    X509_free(x);
    X509_NAME_free(name);
    ERR_clear_error();
    return st;
}

/* ---- files --------------------------------------------------------------- */

static sx_status write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return SX_E_IO;
    sx_status st = SX_OK;
    /* An existing file keeps its old mode through O_CREAT: force ours. */
    if (fchmod(fd, mode) != 0)
        st = SX_E_IO;
    const uint8_t *p = data;
    size_t left = len;
    while (st == SX_OK && left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = SX_E_IO;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (st == SX_OK && fsync(fd) != 0)
        st = SX_E_IO;
    if (close(fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    return st;
}

/* Writes what a memory BIO holds to path. */
static sx_status write_bio_file(const char *path, BIO *bio, mode_t mode)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || !data)
        return SX_E_INTERNAL;
    return write_file(path, data, (size_t)n, mode);
}

sx_status sx_x509_write_cert_file(const char *path, const X509 *cert)
{
    SX_ENSURE(path && cert, SX_E_USAGE);
    BIO *bio = BIO_new(BIO_s_mem());
    SX_ENSURE(bio, SX_E_NOMEM);
    sx_status st = PEM_write_bio_X509(bio, cert) == 1 ? write_bio_file(path, bio, 0644)
                                                      : SX_E_INTERNAL;
    BIO_free(bio);
    return st;
}

sx_status sx_x509_write_key_file(const char *path, const sx_key *key)
{
    SX_ENSURE(path && key && sx_key_is_private(key), SX_E_USAGE);
    uint8_t der[SX_KEY_PKCS8_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, der, sizeof der);
    sx_key_write_private(&w, key);
    sx_status st = sx_writer_status(&w);
    if (st != SX_OK)
        goto done;
    /* Secure-memory BIO: its buffer is wiped when freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    if (!bio) {
        st = SX_E_NOMEM;
        goto done;
    }
    if (PEM_write_bio(bio, PEM_STRING_PKCS8INF, "", der, (long)w.len) > 0)
        st = write_bio_file(path, bio, 0600);
    else
        st = SX_E_INTERNAL;
    BIO_free(bio);
done:
    OPENSSL_cleanse(der, sizeof der);
    return st;
}

sx_status sx_x509_read_cert_file(const char *path, X509 **out)
{
    *out = NULL;
    SX_ENSURE(path, SX_E_USAGE);
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) {
        ERR_clear_error();
        return SX_E_IO;
    }
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!x) {
        ERR_clear_error();
        return SX_E_PROTOCOL;
    }
    *out = x;
    return SX_OK;
}

sx_status sx_x509_read_key_file(const char *path, unsigned allowed, sx_key **out)
{
    *out = NULL;
    SX_ENSURE(path, SX_E_USAGE);
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) {
        ERR_clear_error();
        return SX_E_IO;
    }
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    sx_status st = SX_E_PROTOCOL;
    if (PEM_read_bio(bio, &name, &header, &data, &len) == 1 &&
        strcmp(name, PEM_STRING_PKCS8INF) == 0 && header[0] == '\0' && len > 0)
        st = sx_key_decode_private(sx_slice_of(data, (size_t)len), allowed, out);
    BIO_free(bio);
    OPENSSL_free(name);
    OPENSSL_free(header);
    if (data)
        OPENSSL_clear_free(data, len > 0 ? (size_t)len : 0);
    ERR_clear_error();
    return st;
}

/* ---- DER, keys and fingerprints ------------------------------------------ */

sx_status sx_x509_from_der(sx_slice der, X509 **out)
{
    *out = NULL;
    SX_ENSURE(der.ptr && der.len > 0 && der.len <= LONG_MAX, SX_E_PROTOCOL);
    const unsigned char *p = der.ptr;
    X509 *x = d2i_X509(NULL, &p, (long)der.len);
    if (!x) {
        ERR_clear_error();
        return SX_E_PROTOCOL;
    }
    /* The certificate must fill the field exactly. */
    if ((size_t)(p - der.ptr) != der.len) {
        X509_free(x);
        return SX_E_PROTOCOL;
    }
    *out = x;
    return SX_OK;
}

sx_status sx_x509_to_der(const X509 *cert, uint8_t **der, size_t *len)
{
    *der = NULL;
    *len = 0;
    SX_ENSURE(cert, SX_E_USAGE);
    int n = i2d_X509(cert, NULL);
    SX_ENSURE(n > 0, SX_E_INTERNAL);
    uint8_t *buf = malloc((size_t)n);
    SX_ENSURE(buf, SX_E_NOMEM);
    unsigned char *p = buf;
    if (i2d_X509(cert, &p) != n) {
        free(buf);
        return SX_E_INTERNAL;
    }
    *der = buf;
    *len = (size_t)n;
    return SX_OK;
}

sx_status sx_x509_public_key(const X509 *cert, sx_key **out)
{
    *out = NULL;
    SX_ENSURE(cert, SX_E_USAGE);
    EVP_PKEY *pkey = X509_get0_pubkey(cert);
    if (!pkey) {
        ERR_clear_error();
        return SX_E_PROTOCOL;
    }
    /* A certificate we created in this process may still hold the private
     * key object it was made from: hand out a public-only copy. */
    sx_key *k;
    SX_TRY(sx_key_from_evp(pkey, false, &k));
    sx_status st = sx_key_public_copy(k, out);
    sx_key_free(k);
    return st;
}

sx_status sx_x509_fingerprint(const X509 *cert, uint8_t out[SX_FINGERPRINT_LEN])
{
    SX_ENSURE(cert, SX_E_USAGE);
    unsigned int n = 0;
    SX_ENSURE(X509_digest(cert, EVP_sha256(), out, &n) == 1 && n == SX_FINGERPRINT_LEN,
              SX_E_INTERNAL);
    return SX_OK;
}

sx_status sx_x509_fingerprint_der(sx_slice der, uint8_t out[SX_FINGERPRINT_LEN])
{
    SX_ENSURE(der.ptr || der.len == 0, SX_E_USAGE);
    unsigned int n = 0;
    SX_ENSURE(EVP_Digest(der.len ? der.ptr : (const uint8_t *)"", der.len, out, &n, EVP_sha256(),
                         NULL) == 1 &&
                  n == SX_FINGERPRINT_LEN,
              SX_E_INTERNAL);
    return SX_OK;
}

sx_status sx_x509_fingerprint_text(const uint8_t fp[SX_FINGERPRINT_LEN], char *out, size_t cap)
{
    SX_ENSURE(fp && out, SX_E_USAGE);
    return sx_b64_encode(sx_slice_of(fp, SX_FINGERPRINT_LEN), SX_B64_URL, out, cap);
}

/* ---- verification -------------------------------------------------------- */

sx_status sx_x509_verify_signed_by(const X509 *cert, const X509 *issuer)
{
    SX_ENSURE(cert && issuer, SX_E_USAGE);
    EVP_PKEY *pkey = X509_get0_pubkey(issuer);
    /* X509_verify only reads the certificate despite its prototype. */
    int ok = pkey && X509_verify((X509 *)cert, pkey) == 1;
    ERR_clear_error();
    return ok ? SX_OK : SX_E_AUTH;
}

sx_status sx_x509_validate_chain(X509 *const *chain, size_t n, X509 *anchor, int *verify_error)
{
    int err = X509_V_ERR_UNSPECIFIED;
    SX_ENSURE(chain && n >= 1 && chain[0] && anchor, SX_E_USAGE);
    X509 *leaf = chain[0];
    sx_status st = SX_E_NOMEM;
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!store || !untrusted || !ctx)
        goto done;
    st = SX_E_AUTH;
    /* The reference looks the leaf's issuer up among the anchors, so a leaf
     * anchors itself only when it is self-issued. */
    if (X509_cmp(leaf, anchor) == 0 && X509_check_issued(leaf, leaf) != X509_V_OK) {
        err = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
        goto done;
    }
    st = SX_E_INTERNAL;
    for (size_t i = 1; i < n; i++)
        if (!chain[i] || sk_X509_push(untrusted, chain[i]) <= 0)
            goto done;
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_CHECK_SS_SIGNATURE);
    if (X509_STORE_add_cert(store, anchor) != 1 ||
        X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
        goto done;
    int rc = X509_verify_cert(ctx);
    err = X509_STORE_CTX_get_error(ctx);
    st = rc == 1 ? SX_OK : SX_E_AUTH;
    /* The reference also insists on a version 3 leaf (x509 default checks). */
    if (st == SX_OK && X509_get_version(leaf) != X509_VERSION_3) {
        err = X509_V_ERR_INVALID_EXTENSION;
        st = SX_E_AUTH;
    }
done:
    if (verify_error)
        *verify_error = st == SX_OK ? X509_V_OK : err;
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted); /* borrowed certificates: no pop_free */
    X509_STORE_free(store);
    ERR_clear_error();
    return st;
}

/* ---- PROTOCOL-NOTES A20 chain -------------------------------------------- */

bool sx_x509_write_chain(sx_writer *w, X509 *const *certs, size_t n)
{
    if (!certs || n == 0 || n > SX_X509_CHAIN_MAX)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_list_count(w, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t *der;
        size_t len;
        sx_status st = sx_x509_to_der(certs[i], &der, &len);
        if (st != SX_OK)
            return sx_writer_fail(w, st);
        bool ok = sx_write_large(w, sx_slice_of(der, len));
        free(der);
        if (!ok)
            return false;
    }
    return true;
}

bool sx_x509_read_chain(sx_reader *r, sx_x509_chain *out)
{
    memset(out, 0, sizeof *out);
    uint8_t count;
    if (!sx_read_list_count(r, &count))
        return false;
    if (count == 0 || count > SX_X509_CHAIN_MAX)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    for (size_t i = 0; i < count; i++) {
        sx_slice der;
        if (!sx_read_large(r, &der))
            goto fail;
        sx_status st = sx_x509_from_der(der, &out->certs[i]);
        if (st != SX_OK) {
            sx_reader_fail(r, st);
            goto fail;
        }
        out->der[i] = der;
        out->n = i + 1;
    }
    return true;
fail:
    sx_x509_chain_cleanup(out);
    return false;
}

void sx_x509_chain_cleanup(sx_x509_chain *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < SX_X509_CHAIN_MAX; i++)
        X509_free(c->certs[i]);
    memset(c, 0, sizeof *c);
}

/* ---- PROTOCOL-NOTES A20 signed key --------------------------------------- */

bool sx_x509_write_signed_key(sx_writer *w, const sx_key *signer, const sx_key *key)
{
    if (!is_sign_key(signer) || !sx_key_is_private(signer) || !key)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_key_alg alg = sx_key_alg_of(signer);
    size_t spki_len = sx_key_spki_len(sx_key_alg_of(key));

    /* The signed part: SEQUENCE { SPKI }. */
    uint8_t tbs[3 + SX_KEY_SPKI_MAX];
    sx_writer tw;
    sx_writer_init_fixed(&tw, tbs, sizeof tbs);
    sx_write_u8(&tw, DER_SEQUENCE);
    der_write_len(&tw, spki_len);
    sx_key_write_public(&tw, key);
    sx_status st = sx_writer_status(&tw);
    if (st != SX_OK)
        return sx_writer_fail(w, st);

    uint8_t sig[SX_SIG_MAX];
    size_t sig_len;
    st = sx_key_sign(signer, sx_writer_slice(&tw), sig, sizeof sig, &sig_len);
    if (st != SX_OK)
        return sx_writer_fail(w, st);

    const uint8_t *oid = alg == SX_KEY_ED25519 ? OID_ED25519 : OID_ED448;
    size_t alg_len = 2 + sizeof OID_ED25519;             /* OID TLV */
    size_t bits_len = 1 + sig_len;                        /* unused-bits byte + signature */
    size_t content = tw.len + (2 + alg_len) + (1 + der_len_size(bits_len) + bits_len);
    return sx_write_u8(w, DER_SEQUENCE) && der_write_len(w, content) &&
           sx_write_slice(w, sx_writer_slice(&tw)) &&
           sx_write_u8(w, DER_SEQUENCE) && der_write_len(w, alg_len) &&
           sx_write_u8(w, DER_OID) && der_write_len(w, sizeof OID_ED25519) &&
           sx_write_bytes(w, oid, sizeof OID_ED25519) &&
           sx_write_u8(w, DER_BIT_STRING) && der_write_len(w, bits_len) && sx_write_u8(w, 0) &&
           sx_write_bytes(w, sig, sig_len);
}

bool sx_x509_write_signed_key_large(sx_writer *w, const sx_key *signer, const sx_key *key)
{
    uint8_t buf[SX_SIGNED_KEY_MAX];
    sx_writer kw;
    sx_writer_init_fixed(&kw, buf, sizeof buf);
    sx_x509_write_signed_key(&kw, signer, key);
    sx_status st = sx_writer_status(&kw);
    if (st != SX_OK)
        return sx_writer_fail(w, st);
    return sx_write_large(w, sx_writer_slice(&kw));
}

sx_status sx_x509_signed_key_parse(sx_slice der, sx_signed_key *out)
{
    memset(out, 0, sizeof *out);
    sx_slice outer, tbs_content, tbs, spki_content, spki, alg, bits, oid, sig;

    sx_reader r;
    sx_reader_init_slice(&r, der);
    der_read(&r, DER_SEQUENCE, &outer);
    SX_TRY(sx_reader_finish(&r));

    sx_reader o;
    sx_reader_init_slice(&o, outer);
    der_read_tlv(&o, DER_SEQUENCE, &tbs_content, &tbs);
    der_read(&o, DER_SEQUENCE, &alg);
    der_read(&o, DER_BIT_STRING, &bits);
    SX_TRY(sx_reader_finish(&o));

    /* tbs holds exactly one SEQUENCE: the SPKI, decoded later by the caller. */
    sx_reader t;
    sx_reader_init_slice(&t, tbs_content);
    der_read_tlv(&t, DER_SEQUENCE, &spki_content, &spki);
    SX_TRY(sx_reader_finish(&t));

    /* AlgorithmIdentifier with the bare OID, no parameters. */
    sx_reader a;
    sx_reader_init_slice(&a, alg);
    der_read(&a, DER_OID, &oid);
    SX_TRY(sx_reader_finish(&a));
    sx_key_alg sig_alg;
    if (sx_slice_eq(oid, sx_slice_of(OID_ED25519, sizeof OID_ED25519)))
        sig_alg = SX_KEY_ED25519;
    else if (sx_slice_eq(oid, sx_slice_of(OID_ED448, sizeof OID_ED448)))
        sig_alg = SX_KEY_ED448;
    else
        return SX_E_PROTOCOL;

    sx_reader b;
    sx_reader_init_slice(&b, bits);
    uint8_t unused;
    if (sx_read_u8(&b, &unused) && unused != 0)
        sx_reader_fail(&b, SX_E_PROTOCOL);
    sx_read_bytes(&b, sx_key_sig_len(sig_alg), &sig);
    SX_TRY(sx_reader_finish(&b));

    out->tbs = tbs;
    out->spki = spki;
    out->sig_alg = sig_alg;
    out->signature = sig;
    return SX_OK;
}

sx_status sx_x509_signed_key_verify(sx_slice der, const sx_key *signer, unsigned allowed,
                                    sx_key **key_out)
{
    *key_out = NULL;
    SX_ENSURE(signer, SX_E_USAGE);
    sx_signed_key sk;
    SX_TRY(sx_x509_signed_key_parse(der, &sk));
    /* A signature made with another algorithm than the signer's key cannot
     * be the signer's. */
    SX_ENSURE(sx_key_alg_of(signer) == sk.sig_alg, SX_E_AUTH);
    SX_TRY(sx_key_verify(signer, sk.tbs, sk.signature));
    return sx_key_decode_public(sk.spki, allowed, key_out);
}
