/* Unit tests of crypto/x509: the reference's fixture certificates and their
 * fingerprint, certificates we create (PROTOCOL-NOTES B11/H5), PEM files, chain
 * validation, the PROTOCOL-NOTES A20 chain encoding and the PROTOCOL-NOTES A20
 * signed key (smp-crypto.md section 4). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/keys.h"
#include "crypto/x509.h"

#define FIXTURE_FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="

/* smp-crypto.md section 4: X25519 session key of bytes(32, 0x80), signed by
 * Ed25519 / Ed448 keys whose private keys are bytes(32, 0x01) / bytes(57, 0x01). */
#define SESSION_PUB "493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d"
#define ED25519_SIGNER_PUB "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
#define ED448_SIGNER_PUB                                                                          \
    "da918ba3e57fdca0326f46c7ec843ba8fcb0d57fa15f2588a57bae9df558210351e7e15581b24459c0a7cde1e8" \
    "35582d717c0699ea72e8c900"
#define ED25519_SIGNED                                                                            \
    "3078302c302a300506032b656e032100493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b01" \
    "0d531d300506032b6570034100d5e5a81318bfcf47d028cde44d1d22ec150283dda08f9108e6f9604419f34280" \
    "bffbe5b2acbd48b64d924c92fc90936334b90a5b28c94f92d0fed1aa0e9a4302"
#define ED448_SIGNED                                                                              \
    "3081aa302c302a300506032b656e032100493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b" \
    "010d531d300506032b6571037300660d42bd1a750a1d62e0e512d2b2f1be6c6dfd12f29b3d09a1f7af1e7f2acc" \
    "f5e1f720780a1f30deca0da00afdfc4f3515f2a67553e8868e00fb7e3ef85c05415907651215eeb7885253391a" \
    "756e7f0607363c98e0394b2a7871fde8a9436c319b125f9cea38ac5992a510206aa5bf9a2400"

/* ---- helpers ---- */

static X509 *fixture_cert(const char *name)
{
    size_t len;
    uint8_t *pem = tu_read_data(name, &len);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    assert_non_null(bio);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(x);
    BIO_free(bio);
    free(pem);
    return x;
}

static sx_key *key_seq(sx_key_alg alg, uint8_t start)
{
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n = sx_key_raw_len(alg);
    tu_bytes_seq(raw, n, start);
    sx_key *k;
    assert_ok(sx_key_from_raw_private(alg, sx_slice_of(raw, n), &k));
    return k;
}

static sx_key *pub_hex(sx_key_alg alg, const char *hex)
{
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n = sx_key_raw_len(alg);
    tu_hex_to(hex, raw, n);
    sx_key *k;
    assert_ok(sx_key_from_raw_public(alg, sx_slice_of(raw, n), &k));
    return k;
}

static void assert_pub_hex(const sx_key *k, const char *hex)
{
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n;
    assert_ok(sx_key_raw_public(k, raw, sizeof raw, &n));
    assert_string_equal(tu_to_hex(raw, n), hex);
}

static size_t signed_key_der(const sx_key *signer, const sx_key *key, uint8_t *buf, size_t cap)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, cap);
    assert_true(sx_x509_write_signed_key(&w, signer, key));
    assert_ok(sx_writer_status(&w));
    return w.len;
}

/* A fresh CA and server certificate. */
typedef struct creds {
    sx_key *ca_key, *srv_key;
    X509 *ca, *srv;
} creds;

static void make_creds(creds *c, sx_key_alg alg, const char *cn)
{
    assert_ok(sx_key_generate(alg, &c->ca_key));
    assert_ok(sx_key_generate(alg, &c->srv_key));
    assert_ok(sx_x509_create_ca(c->ca_key, &c->ca));
    assert_ok(sx_x509_create_server(c->ca_key, c->ca, c->srv_key, cn, &c->srv));
}

static void free_creds(creds *c)
{
    X509_free(c->ca);
    X509_free(c->srv);
    sx_key_free(c->ca_key);
    sx_key_free(c->srv_key);
}

/* ---- fixtures from the reference ---- */

static void test_fixture_fingerprint(void **state)
{
    (void)state;
    X509 *ca = fixture_cert("fixtures/ca.crt");
    uint8_t fp[SX_FINGERPRINT_LEN];
    char text[SX_FINGERPRINT_TEXT_SIZE];
    assert_ok(sx_x509_fingerprint(ca, fp));
    assert_ok(sx_x509_fingerprint_text(fp, text, sizeof text));
    assert_string_equal(text, FIXTURE_FP);

    /* The same from the DER bytes and from the file reader. */
    uint8_t *der;
    size_t len;
    assert_ok(sx_x509_to_der(ca, &der, &len));
    uint8_t fp2[SX_FINGERPRINT_LEN];
    assert_ok(sx_x509_fingerprint_der(sx_slice_of(der, len), fp2));
    assert_memory_equal(fp, fp2, sizeof fp);
    free(der);

    X509 *ca2;
    assert_ok(sx_x509_read_cert_file(tu_data_path("fixtures/ca.crt"), &ca2));
    assert_ok(sx_x509_fingerprint(ca2, fp2));
    assert_memory_equal(fp, fp2, sizeof fp);
    /* The server certificate has another fingerprint. */
    X509 *srv = fixture_cert("fixtures/server.crt");
    assert_ok(sx_x509_fingerprint(srv, fp2));
    assert_memory_not_equal(fp, fp2, sizeof fp);
    assert_int_equal(sx_x509_fingerprint_text(fp, text, 44), SX_E_LIMIT);
    X509_free(srv);
    X509_free(ca2);
    X509_free(ca);
}

static void test_fixture_chain(void **state)
{
    (void)state;
    X509 *ca = fixture_cert("fixtures/ca.crt");
    X509 *srv = fixture_cert("fixtures/server.crt");
    assert_ok(sx_x509_verify_signed_by(srv, ca));
    assert_ok(sx_x509_verify_signed_by(ca, ca));
    assert_int_equal(sx_x509_verify_signed_by(ca, srv), SX_E_AUTH);
    assert_int_equal(sx_x509_verify_signed_by(srv, srv), SX_E_AUTH);

    X509 *chain[2] = {srv, ca};
    int err = -1;
    assert_ok(sx_x509_validate_chain(chain, 2, ca, &err));
    assert_int_equal(err, X509_V_OK);
    assert_ok(sx_x509_validate_chain(chain, 1, ca, NULL));
    /* The server certificate is not a CA: it cannot anchor itself. */
    assert_int_equal(sx_x509_validate_chain(chain, 2, srv, &err), SX_E_AUTH);

    /* The key file matches the certificate (Ed448). */
    sx_key *k, *cpub;
    assert_ok(sx_x509_read_key_file(tu_data_path("fixtures/server.key"), SX_KEY_SIGN_ALGS, &k));
    assert_int_equal(sx_key_alg_of(k), SX_KEY_ED448);
    assert_true(sx_key_is_private(k));
    assert_ok(sx_x509_public_key(srv, &cpub));
    assert_true(sx_key_public_equal(k, cpub));
    sx_key *wrong = NULL;
    assert_int_equal(
        sx_x509_read_key_file(tu_data_path("fixtures/server.key"), SX_KEY_BIT(SX_KEY_ED25519), &wrong),
        SX_E_PROTOCOL);
    assert_null(wrong);

    /* It can sign a session key that verifies with the certificate's key. */
    sx_key *session = key_seq(SX_KEY_X25519, 0x80), *got;
    uint8_t buf[SX_SIGNED_KEY_MAX];
    size_t n = signed_key_der(k, session, buf, sizeof buf);
    assert_ok(sx_x509_signed_key_verify(sx_slice_of(buf, n), cpub, SX_KEY_DH_ALGS, &got));
    assert_true(sx_key_public_equal(got, session));
    sx_key_free(got);
    sx_key_free(session);
    sx_key_free(k);
    sx_key_free(cpub);
    X509_free(srv);
    X509_free(ca);
}

/* ---- created certificates ---- */

static void check_name(const X509_NAME *name, int nid, const char *want)
{
    char buf[256];
    assert_true(X509_NAME_get_text_by_NID(name, nid, buf, sizeof buf) > 0);
    assert_string_equal(buf, want);
}

/* The authority key identifier holds only the issuer's key id, as in the
 * reference's certificates. */
static void check_akid(X509 *x, const ASN1_OCTET_STRING *want)
{
    AUTHORITY_KEYID *akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
    assert_non_null(akid);
    assert_non_null(akid->keyid);
    assert_null(akid->issuer);
    assert_null(akid->serial);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, want), 0);
    AUTHORITY_KEYID_free(akid);
}

static void check_validity(X509 *x)
{
    int days = 0, secs = 0;
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)));
    assert_int_equal(days, SX_X509_VALIDITY_DAYS);
    assert_int_equal(secs, 0);
    /* notBefore is "now" (allow for a slow machine). */
    assert_true(X509_cmp_time(X509_get0_notBefore(x), NULL) < 0);
}

static void check_created(sx_key_alg alg)
{
    creds c = {0};
    make_creds(&c, alg, "smp.example.com");

    /* CA: v3, self-signed, subject CN=SMP server CA, O=SimpleX. */
    assert_int_equal(X509_get_version(c.ca), X509_VERSION_3);
    check_name(X509_get_subject_name(c.ca), NID_commonName, "SMP server CA");
    check_name(X509_get_subject_name(c.ca), NID_organizationName, "SimpleX");
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(c.ca)), 2);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c.ca), X509_get_issuer_name(c.ca)), 0);
    check_validity(c.ca);
    assert_int_equal(X509_get_ext_count(c.ca), 3);
    int bc = X509_get_ext_by_NID(c.ca, NID_basic_constraints, -1);
    assert_true(bc >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(c.ca, bc)), 1);
    assert_true(X509_get_extension_flags(c.ca) & EXFLAG_CA);
    assert_true(X509_get_extension_flags(c.ca) & EXFLAG_SS);
    const ASN1_OCTET_STRING *ca_skid = X509_get0_subject_key_id(c.ca);
    assert_non_null(ca_skid);
    check_akid(c.ca, ca_skid);
    assert_ok(sx_x509_verify_signed_by(c.ca, c.ca));
    const X509_ALGOR *sigalg;
    X509_get0_signature(NULL, &sigalg, c.ca);
    assert_int_equal(OBJ_obj2nid(sigalg->algorithm),
                     alg == SX_KEY_ED25519 ? NID_ED25519 : NID_ED448);

    /* Server: v3, CN=<host>, issued by the CA, the PROTOCOL-NOTES B11
     * extensions. */
    assert_int_equal(X509_get_version(c.srv), X509_VERSION_3);
    check_name(X509_get_subject_name(c.srv), NID_commonName, "smp.example.com");
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(c.srv)), 1);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(c.srv), X509_get_subject_name(c.ca)), 0);
    check_validity(c.srv);
    assert_int_equal(X509_get_ext_count(c.srv), 5);
    bc = X509_get_ext_by_NID(c.srv, NID_basic_constraints, -1);
    assert_true(bc >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(c.srv, bc)), 0);
    assert_false(X509_get_extension_flags(c.srv) & EXFLAG_CA);
    assert_int_equal(X509_get_key_usage(c.srv),
                     KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_AGREEMENT);
    assert_int_equal(X509_get_extended_key_usage(c.srv), XKU_SSL_SERVER);
    assert_non_null(X509_get0_subject_key_id(c.srv));
    check_akid(c.srv, ca_skid);

    /* Random serials. */
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(c.ca), X509_get0_serialNumber(c.srv)), 0);
    assert_true(ASN1_STRING_length(X509_get0_serialNumber(c.ca)) >= 15);

    /* Keys. */
    sx_key *k;
    assert_ok(sx_x509_public_key(c.srv, &k));
    assert_true(sx_key_public_equal(k, c.srv_key));
    assert_false(sx_key_is_private(k));
    sx_key_free(k);

    /* Signatures and path validation with the CA as the only anchor. */
    assert_ok(sx_x509_verify_signed_by(c.srv, c.ca));
    assert_int_equal(sx_x509_verify_signed_by(c.ca, c.srv), SX_E_AUTH);
    X509 *chain[2] = {c.srv, c.ca};
    int err;
    assert_ok(sx_x509_validate_chain(chain, 2, c.ca, &err));
    assert_ok(sx_x509_validate_chain(chain, 1, c.ca, &err));

    /* Another CA (same subject name!) does not validate this chain. */
    creds o = {0};
    make_creds(&o, alg, "smp.example.com");
    assert_int_equal(sx_x509_verify_signed_by(c.srv, o.ca), SX_E_AUTH);
    assert_int_equal(sx_x509_validate_chain(chain, 2, o.ca, &err), SX_E_AUTH);
    assert_int_not_equal(err, X509_V_OK);
    X509 *mixed[2] = {o.srv, c.ca};
    assert_int_equal(sx_x509_validate_chain(mixed, 2, c.ca, &err), SX_E_AUTH);
    free_creds(&o);
    free_creds(&c);
}

static void test_create_ed25519(void **state)
{
    (void)state;
    check_created(SX_KEY_ED25519);
}

static void test_create_ed448(void **state)
{
    (void)state;
    check_created(SX_KEY_ED448);
}

static void test_create_errors(void **state)
{
    (void)state;
    creds c = {0};
    make_creds(&c, SX_KEY_ED25519, "127.0.0.1");
    sx_key *x, *pub, *other;
    assert_ok(sx_key_generate(SX_KEY_X25519, &x));
    assert_ok(sx_key_public_copy(c.ca_key, &pub));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other));
    X509 *out = (X509 *)&c; /* poison */
    assert_int_equal(sx_x509_create_ca(x, &out), SX_E_USAGE);
    assert_null(out);
    assert_int_equal(sx_x509_create_ca(pub, &out), SX_E_USAGE);
    assert_int_equal(sx_x509_create_server(c.ca_key, c.ca, x, "a", &out), SX_E_USAGE);
    assert_int_equal(sx_x509_create_server(c.ca_key, c.ca, c.srv_key, "", &out), SX_E_USAGE);
    assert_int_equal(sx_x509_create_server(pub, c.ca, c.srv_key, "a", &out), SX_E_USAGE);
    /* CA key that does not match the CA certificate. */
    assert_int_equal(sx_x509_create_server(other, c.ca, c.srv_key, "a", &out), SX_E_USAGE);
    char longcn[100];
    memset(longcn, 'a', sizeof longcn - 1);
    longcn[sizeof longcn - 1] = 0;
    assert_int_equal(sx_x509_create_server(c.ca_key, c.ca, c.srv_key, longcn, &out), SX_E_USAGE);
    assert_null(out);
    /* A public server key is enough for its certificate. */
    sx_key *srv_pub;
    assert_ok(sx_key_public_copy(c.srv_key, &srv_pub));
    assert_ok(sx_x509_create_server(c.ca_key, c.ca, srv_pub, "127.0.0.1", &out));
    check_name(X509_get_subject_name(out), NID_commonName, "127.0.0.1");
    X509_free(out);
    sx_key_free(srv_pub);
    sx_key_free(x);
    sx_key_free(pub);
    sx_key_free(other);
    free_creds(&c);
}

/* ---- PEM files ---- */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_pem_files(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sx_x509_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    creds c = {0};
    make_creds(&c, SX_KEY_ED448, "localhost");

    struct stat st;
    assert_ok(sx_x509_write_key_file(tmp_path("ca.key"), c.ca_key));
    assert_int_equal(stat(tmp_path("ca.key"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    const char *text = read_text(tmp_path("ca.key"));
    assert_memory_equal(text, "-----BEGIN PRIVATE KEY-----\nMEcCAQAwBQYDK2VxBDsEOQ", 49);
    assert_non_null(strstr(text, "\n-----END PRIVATE KEY-----\n"));

    /* An existing file with a looser mode is tightened. */
    FILE *f = fopen(tmp_path("server.key"), "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chmod(tmp_path("server.key"), 0644), 0);
    assert_ok(sx_x509_write_key_file(tmp_path("server.key"), c.srv_key));
    assert_int_equal(stat(tmp_path("server.key"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_ok(sx_x509_write_cert_file(tmp_path("ca.crt"), c.ca));
    assert_ok(sx_x509_write_cert_file(tmp_path("server.crt"), c.srv));
    text = read_text(tmp_path("ca.crt"));
    assert_memory_equal(text, "-----BEGIN CERTIFICATE-----\n", 28);

    /* Read back: the same keys and certificates. */
    sx_key *k;
    assert_ok(sx_x509_read_key_file(tmp_path("ca.key"), SX_KEY_ANY, &k));
    assert_true(sx_key_is_private(k));
    assert_true(sx_key_public_equal(k, c.ca_key));
    sx_key_free(k);
    X509 *x;
    assert_ok(sx_x509_read_cert_file(tmp_path("server.crt"), &x));
    assert_int_equal(X509_cmp(x, c.srv), 0);
    X509_free(x);

    /* OpenSSL reads our key file as it reads its own. */
    FILE *kf = fopen(tmp_path("server.key"), "r");
    EVP_PKEY *p = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    fclose(kf);
    assert_non_null(p);
    assert_int_equal(EVP_PKEY_get_id(p), EVP_PKEY_ED448);
    assert_int_equal(X509_check_private_key(c.srv, p), 1);
    EVP_PKEY_free(p);

    /* Errors: missing file, wrong contents, a certificate is not a key. */
    assert_int_equal(sx_x509_read_key_file(tmp_path("missing"), SX_KEY_ANY, &k), SX_E_IO);
    assert_int_equal(sx_x509_read_cert_file(tmp_path("missing"), &x), SX_E_IO);
    assert_int_equal(sx_x509_read_key_file(tmp_path("ca.crt"), SX_KEY_ANY, &k), SX_E_PROTOCOL);
    assert_int_equal(sx_x509_read_cert_file(tmp_path("ca.key"), &x), SX_E_PROTOCOL);
    assert_null(k);
    assert_null(x);
    sx_key *pub;
    assert_ok(sx_key_public_copy(c.ca_key, &pub));
    assert_int_equal(sx_x509_write_key_file(tmp_path("pub.key"), pub), SX_E_USAGE);
    assert_int_equal(sx_x509_write_key_file("/nonexistent-dir/x.key", c.ca_key), SX_E_IO);
    sx_key_free(pub);

    const char *names[] = {"ca.key", "server.key", "ca.crt", "server.crt"};
    for (size_t i = 0; i < 4; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    free_creds(&c);
}

/* ---- DER ---- */

static void test_from_der_strict(void **state)
{
    (void)state;
    X509 *ca = fixture_cert("fixtures/ca.crt");
    uint8_t *der;
    size_t len;
    assert_ok(sx_x509_to_der(ca, &der, &len));
    uint8_t *buf = malloc(len + 1);
    memcpy(buf, der, len);
    X509 *x = NULL;
    assert_ok(sx_x509_from_der(sx_slice_of(buf, len), &x));
    assert_int_equal(X509_cmp(x, ca), 0);
    X509_free(x);
    buf[len] = 0;
    assert_int_equal(sx_x509_from_der(sx_slice_of(buf, len + 1), &x), SX_E_PROTOCOL);
    assert_null(x);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(sx_x509_from_der(sx_slice_of(buf, cut), &x), SX_E_PROTOCOL);
        assert_null(x);
    }
    free(buf);
    free(der);
    X509_free(ca);
}

/* ---- PROTOCOL-NOTES A20 chain ---- */

static void test_chain_round_trip(void **state)
{
    (void)state;
    X509 *ca = fixture_cert("fixtures/ca.crt");
    X509 *srv = fixture_cert("fixtures/server.crt");
    X509 *certs[2] = {srv, ca};
    sx_writer w;
    sx_writer_init_dynamic(&w, 65536);
    assert_true(sx_x509_write_chain(&w, certs, 2));
    assert_ok(sx_writer_status(&w));
    sx_slice enc = sx_writer_slice(&w);
    assert_int_equal(enc.ptr[0], 2);

    sx_reader r;
    sx_reader_init_slice(&r, enc);
    sx_x509_chain ch;
    assert_true(sx_x509_read_chain(&r, &ch));
    assert_ok(sx_reader_finish(&r));
    assert_int_equal(ch.n, 2);
    assert_int_equal(X509_cmp(ch.certs[0], srv), 0);
    assert_int_equal(X509_cmp(ch.certs[1], ca), 0);
    /* PROTOCOL-NOTES B10: the identity is the fingerprint of the 2nd certificate,
     * as received. */
    uint8_t fp[SX_FINGERPRINT_LEN];
    char text[SX_FINGERPRINT_TEXT_SIZE];
    assert_ok(sx_x509_fingerprint_der(ch.der[1], fp));
    assert_ok(sx_x509_fingerprint_text(fp, text, sizeof text));
    assert_string_equal(text, FIXTURE_FP);
    /* der[] are Large payloads: byte 1-2 of the encoding is the first length. */
    assert_int_equal(ch.der[0].len, (size_t)(enc.ptr[1] << 8 | enc.ptr[2]));
    sx_x509_chain_cleanup(&ch);
    sx_x509_chain_cleanup(&ch); /* idempotent */

    /* Every truncation fails, with nothing left to clean up. */
    for (size_t cut = 0; cut < enc.len; cut++) {
        sx_reader_init(&r, enc.ptr, cut);
        assert_false(sx_x509_read_chain(&r, &ch));
        assert_int_equal(sx_reader_status(&r), SX_E_PROTOCOL);
        assert_int_equal(ch.n, 0);
        assert_null(ch.certs[0]);
    }
    sx_writer_cleanup(&w);
    X509_free(srv);
    X509_free(ca);
}

static void test_chain_bounds(void **state)
{
    (void)state;
    X509 *ca = fixture_cert("fixtures/ca.crt");
    X509 *certs[5] = {ca, ca, ca, ca, ca};
    sx_writer w;
    sx_x509_chain ch;
    sx_reader r;
    for (size_t n = 1; n <= 4; n++) {
        sx_writer_init_dynamic(&w, 65536);
        assert_true(sx_x509_write_chain(&w, certs, n));
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        assert_true(sx_x509_read_chain(&r, &ch));
        assert_ok(sx_reader_finish(&r));
        assert_int_equal(ch.n, n);
        sx_x509_chain_cleanup(&ch);

        /* Claiming one certificate more than present fails. */
        w.buf[0] = (uint8_t)(n + 1);
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        assert_false(sx_x509_read_chain(&r, &ch));
        assert_null(ch.certs[0]);
        sx_writer_cleanup(&w);
    }
    /* Writer refuses 0 and 5. */
    sx_writer_init_dynamic(&w, 65536);
    assert_false(sx_x509_write_chain(&w, certs, 5));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_cleanup(&w);
    sx_writer_init_dynamic(&w, 65536);
    assert_false(sx_x509_write_chain(&w, certs, 0));
    sx_writer_cleanup(&w);

    /* Reader refuses counts 0 and 5 (even with 5 valid certificates). */
    const uint8_t zero[] = {0};
    sx_reader_init(&r, zero, 1);
    assert_false(sx_x509_read_chain(&r, &ch));
    assert_int_equal(sx_reader_status(&r), SX_E_PROTOCOL);
    sx_writer_init_dynamic(&w, 65536);
    assert_true(sx_x509_write_chain(&w, certs, 4));
    uint8_t *der;
    size_t len;
    assert_ok(sx_x509_to_der(ca, &der, &len));
    assert_true(sx_write_large(&w, sx_slice_of(der, len)));
    w.buf[0] = 5;
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    assert_false(sx_x509_read_chain(&r, &ch));
    assert_int_equal(sx_reader_status(&r), SX_E_PROTOCOL);
    sx_writer_cleanup(&w);

    /* A Large item that is not a certificate, or has a trailing byte. */
    const uint8_t junk[] = {1, 0, 3, 0x30, 0x01, 0x00};
    sx_reader_init(&r, junk, sizeof junk);
    assert_false(sx_x509_read_chain(&r, &ch));
    assert_int_equal(sx_reader_status(&r), SX_E_PROTOCOL);
    sx_writer_init_dynamic(&w, 65536);
    sx_write_list_count(&w, 1);
    sx_write_u16(&w, (uint16_t)(len + 1));
    sx_write_bytes(&w, der, len);
    sx_write_u8(&w, 0);
    assert_ok(sx_writer_status(&w));
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    assert_false(sx_x509_read_chain(&r, &ch));
    sx_writer_cleanup(&w);
    free(der);
    X509_free(ca);
}

/* ---- PROTOCOL-NOTES A20 signed key ---- */

static void test_signed_key_vectors(void **state)
{
    (void)state;
    struct {
        sx_key_alg alg;
        const char *signer_pub, *der;
    } v[2] = {{SX_KEY_ED25519, ED25519_SIGNER_PUB, ED25519_SIGNED},
              {SX_KEY_ED448, ED448_SIGNER_PUB, ED448_SIGNED}};
    sx_key *session = key_seq(SX_KEY_X25519, 0x80);
    assert_pub_hex(session, SESSION_PUB);
    for (int i = 0; i < 2; i++) {
        size_t n;
        uint8_t *der = tu_hex(v[i].der, &n);

        /* Decode and verify with the given public key. */
        sx_key *signer_pub = pub_hex(v[i].alg, v[i].signer_pub);
        sx_key *got = NULL;
        assert_ok(sx_x509_signed_key_verify(sx_slice_of(der, n), signer_pub, SX_KEY_DH_ALGS, &got));
        assert_int_equal(sx_key_alg_of(got), SX_KEY_X25519);
        assert_pub_hex(got, SESSION_PUB);
        sx_key_free(got);

        sx_signed_key sk;
        assert_ok(sx_x509_signed_key_parse(sx_slice_of(der, n), &sk));
        assert_int_equal(sk.sig_alg, v[i].alg);
        assert_int_equal(sk.tbs.len, 46);
        assert_int_equal(sk.tbs.ptr[0], 0x30);
        assert_int_equal(sk.tbs.ptr[1], 0x2c);
        assert_int_equal(sk.spki.len, 44);
        assert_int_equal(sk.signature.len, sx_key_sig_len(v[i].alg));

        /* The signer's private key is bytes(n, 0x01): EdDSA is deterministic,
         * so our encoding must be byte-exact. */
        sx_key *signer = key_seq(v[i].alg, 0x01);
        assert_pub_hex(signer, v[i].signer_pub);
        uint8_t buf[SX_SIGNED_KEY_MAX];
        size_t bn = signed_key_der(signer, session, buf, sizeof buf);
        assert_int_equal(bn, n);
        assert_memory_equal(buf, der, n);

        /* Large form. */
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_true(sx_x509_write_signed_key_large(&w, signer, session));
        assert_int_equal(w.len, n + 2);
        assert_int_equal(buf[0] << 8 | buf[1], n);
        assert_memory_equal(buf + 2, der, n);

        /* Typed fields: an Ed25519 key was expected, not X25519. */
        assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(der, n), signer_pub,
                                                   SX_KEY_SIGN_ALGS, &got),
                         SX_E_PROTOCOL);
        assert_null(got);
        sx_key_free(signer);
        sx_key_free(signer_pub);
        free(der);
    }
    /* Each vector fails with the other's signer. */
    size_t n;
    uint8_t *der = tu_hex(ED25519_SIGNED, &n);
    sx_key *p448 = pub_hex(SX_KEY_ED448, ED448_SIGNER_PUB), *got = NULL;
    assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(der, n), p448, SX_KEY_ANY, &got), SX_E_AUTH);
    sx_key *other;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other));
    assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(der, n), other, SX_KEY_ANY, &got), SX_E_AUTH);
    /* An X25519 "signer" can never verify. */
    assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(der, n), session, SX_KEY_ANY, &got),
                     SX_E_AUTH);
    assert_null(got);
    sx_key_free(other);
    sx_key_free(p448);
    free(der);
    sx_key_free(session);
}

static void test_signed_key_every_mutation_fails(void **state)
{
    (void)state;
    const char *vecs[2] = {ED25519_SIGNED, ED448_SIGNED};
    const char *pubs[2] = {ED25519_SIGNER_PUB, ED448_SIGNER_PUB};
    const sx_key_alg algs[2] = {SX_KEY_ED25519, SX_KEY_ED448};
    for (int i = 0; i < 2; i++) {
        size_t n;
        uint8_t *der = tu_hex(vecs[i], &n);
        sx_key *signer = pub_hex(algs[i], pubs[i]), *got = NULL;
        uint8_t *buf = malloc(n + 1);
        memcpy(buf, der, n);

        /* Truncation at every offset, one trailing byte. */
        for (size_t cut = 0; cut < n; cut++)
            assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(buf, cut), signer, SX_KEY_ANY, &got),
                             SX_E_PROTOCOL);
        buf[n] = 0;
        assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(buf, n + 1), signer, SX_KEY_ANY, &got),
                         SX_E_PROTOCOL);

        /* Any single bit flipped anywhere: structure, key or signature. */
        for (size_t off = 0; off < n; off++) {
            for (int bit = 0; bit < 8; bit++) {
                buf[off] ^= (uint8_t)(1u << bit);
                sx_status st = sx_x509_signed_key_verify(sx_slice_of(buf, n), signer, SX_KEY_ANY, &got);
                if (st == SX_OK)
                    fail_msg("mutation at %zu bit %d accepted", off, bit);
                assert_null(got);
                buf[off] ^= (uint8_t)(1u << bit);
            }
        }
        assert_ok(sx_x509_signed_key_verify(sx_slice_of(buf, n), signer, SX_KEY_ANY, &got));
        sx_key_free(got);
        free(buf);
        free(der);
        sx_key_free(signer);
    }
}

/* Hand-built structures the strict parser must refuse. */
static void test_signed_key_malformed(void **state)
{
    (void)state;
    const char *spki_tbs = "302c302a300506032b656e032100" SESSION_PUB;
    const char *sig64 = "00000000000000000000000000000000000000000000000000000000000000000000"
                        "000000000000000000000000000000000000000000000000000000000000";
    char hex[1024];
    sx_signed_key sk;
    size_t n;
    uint8_t *der;
    /* Each case: bytes before the tbs, between the tbs and the signature,
     * and after the signature. */
    struct {
        const char *what, *head, *mid, *tail;
    } cases[] = {
        {"well-formed", "3078", "300506032b6570034100", ""},
        {"NULL parameters", "307a", "300706032b65700500034100", ""},
        {"unknown OID 1.3.101.114", "3078", "300506032b6572034100", ""},
        {"unused bits 1", "3078", "300506032b6570034101", ""},
        {"non-minimal outer length", "308178", "300506032b6570034100", ""},
        {"indefinite outer length", "3080", "300506032b6570034100", "0000"},
        {"3-byte length form", "3083000078", "300506032b6570034100", ""},
        {"OCTET STRING instead of BIT STRING", "3078", "300506032b6570044100", ""},
        {"SET instead of SEQUENCE", "3178", "300506032b6570034100", ""},
        {"Ed448 OID with a 64-byte signature", "3078", "300506032b6571034100", ""},
        {"signature one byte short", "3077", "300506032b6570034000", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(hex, sizeof hex, "%s%s%s%s%s", cases[i].head, spki_tbs, cases[i].mid,
                 i == 10 ? sig64 + 2 : sig64, cases[i].tail);
        der = tu_hex(hex, &n);
        sx_status st = sx_x509_signed_key_parse(sx_slice_of(der, n), &sk);
        if (i == 0)
            assert_ok(st);
        else if (st != SX_E_PROTOCOL)
            fail_msg("%s: got %s", cases[i].what, sx_status_str(st));
        free(der);
    }
    /* tbs with something after the SPKI, or not a SEQUENCE inside. */
    snprintf(hex, sizeof hex, "307a302e302a300506032b656e032100%s0500300506032b6570034100%s",
             SESSION_PUB, sig64);
    der = tu_hex(hex, &n);
    assert_int_equal(sx_x509_signed_key_parse(sx_slice_of(der, n), &sk), SX_E_PROTOCOL);
    free(der);
    /* Signature made with the right key over the bare SPKI (without the
     * extra SEQUENCE) does not verify: the tbs bytes are what is signed. */
    sx_key *signer = key_seq(SX_KEY_ED25519, 0x01), *session = key_seq(SX_KEY_X25519, 0x80);
    uint8_t spki[44], sig[64];
    size_t sl;
    sx_writer w;
    sx_writer_init_fixed(&w, spki, sizeof spki);
    assert_true(sx_key_write_public(&w, session));
    assert_ok(sx_key_sign(signer, sx_slice_of(spki, 44), sig, sizeof sig, &sl));
    char sighex[129];
    snprintf(sighex, sizeof sighex, "%s", tu_to_hex(sig, sl));
    snprintf(hex, sizeof hex, "3078%s300506032b6570034100%s", spki_tbs, sighex);
    der = tu_hex(hex, &n);
    sx_key *got = NULL;
    assert_ok(sx_x509_signed_key_parse(sx_slice_of(der, n), &sk));
    assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(der, n), signer, SX_KEY_ANY, &got), SX_E_AUTH);
    free(der);
    sx_key_free(signer);
    sx_key_free(session);
}

static void test_signed_key_round_trips(void **state)
{
    (void)state;
    const sx_key_alg signers[2] = {SX_KEY_ED25519, SX_KEY_ED448};
    const sx_key_alg keys[4] = {SX_KEY_X25519, SX_KEY_X448, SX_KEY_ED25519, SX_KEY_ED448};
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < 4; k++) {
            sx_key *signer, *key, *spub, *got = NULL;
            assert_ok(sx_key_generate(signers[s], &signer));
            assert_ok(sx_key_generate(keys[k], &key));
            assert_ok(sx_key_public_copy(signer, &spub));
            uint8_t buf[SX_SIGNED_KEY_MAX];
            size_t n = signed_key_der(signer, key, buf, sizeof buf);
            assert_ok(sx_x509_signed_key_verify(sx_slice_of(buf, n), spub, SX_KEY_BIT(keys[k]), &got));
            assert_true(sx_key_public_equal(got, key));
            assert_false(sx_key_is_private(got));
            sx_key_free(got);
            got = NULL;
            assert_int_equal(sx_x509_signed_key_verify(sx_slice_of(buf, n), spub,
                                                       SX_KEY_ANY & ~SX_KEY_BIT(keys[k]), &got),
                             SX_E_PROTOCOL);
            /* Large form through the reader. */
            sx_writer w;
            sx_writer_init_fixed(&w, buf, sizeof buf);
            assert_true(sx_x509_write_signed_key_large(&w, signer, key));
            sx_reader r;
            sx_reader_init(&r, buf, w.len);
            sx_slice d;
            assert_true(sx_read_large(&r, &d));
            assert_ok(sx_reader_finish(&r));
            assert_ok(sx_x509_signed_key_verify(d, spub, SX_KEY_ANY, &got));
            sx_key_free(got);
            sx_key_free(signer);
            sx_key_free(key);
            sx_key_free(spub);
        }
    }
    /* Writer errors: a public or DH signer, a full buffer. */
    sx_key *x, *ed, *edpub;
    assert_ok(sx_key_generate(SX_KEY_X25519, &x));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ed));
    assert_ok(sx_key_public_copy(ed, &edpub));
    uint8_t buf[SX_SIGNED_KEY_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_x509_write_signed_key(&w, x, x));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_x509_write_signed_key(&w, edpub, x));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_init_fixed(&w, buf, 100);
    assert_false(sx_x509_write_signed_key(&w, ed, x));
    assert_int_not_equal(sx_writer_status(&w), SX_OK);
    sx_writer_init_fixed(&w, buf, 100);
    assert_false(sx_x509_write_signed_key_large(&w, ed, x));
    sx_key_free(x);
    sx_key_free(ed);
    sx_key_free(edpub);
}

/* PROTOCOL-NOTES W2 shape: chain then Large(signed key), verified with the
 * leaf's key. */
static void test_cert_chain_pub_key(void **state)
{
    (void)state;
    creds c = {0};
    make_creds(&c, SX_KEY_ED25519, "localhost");
    sx_key *session;
    assert_ok(sx_key_generate(SX_KEY_X25519, &session));
    X509 *certs[2] = {c.srv, c.ca};
    sx_writer w;
    sx_writer_init_dynamic(&w, 16384);
    assert_true(sx_x509_write_chain(&w, certs, 2));
    assert_true(sx_x509_write_signed_key_large(&w, c.srv_key, session));
    assert_ok(sx_writer_status(&w));

    sx_reader r;
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    sx_x509_chain ch;
    sx_slice signed_key;
    assert_true(sx_x509_read_chain(&r, &ch));
    assert_true(sx_read_large(&r, &signed_key));
    assert_ok(sx_reader_finish(&r));
    sx_key *leaf, *got;
    assert_ok(sx_x509_public_key(ch.certs[0], &leaf));
    assert_ok(sx_x509_signed_key_verify(signed_key, leaf, SX_KEY_BIT(SX_KEY_X25519), &got));
    assert_true(sx_key_public_equal(got, session));
    /* Signed by the CA key instead of the leaf: refused. */
    sx_key *ca_pub;
    assert_ok(sx_x509_public_key(ch.certs[1], &ca_pub));
    sx_key *none = NULL;
    assert_int_equal(sx_x509_signed_key_verify(signed_key, ca_pub, SX_KEY_ANY, &none), SX_E_AUTH);
    X509 *chain[2] = {ch.certs[0], ch.certs[1]};
    assert_ok(sx_x509_validate_chain(chain, 2, ch.certs[1], NULL));

    sx_key_free(ca_pub);
    sx_key_free(got);
    sx_key_free(leaf);
    sx_x509_chain_cleanup(&ch);
    sx_writer_cleanup(&w);
    sx_key_free(session);
    free_creds(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_fingerprint),
        cmocka_unit_test(test_fixture_chain),
        cmocka_unit_test(test_create_ed25519),
        cmocka_unit_test(test_create_ed448),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_pem_files),
        cmocka_unit_test(test_from_der_strict),
        cmocka_unit_test(test_chain_round_trip),
        cmocka_unit_test(test_chain_bounds),
        cmocka_unit_test(test_signed_key_vectors),
        cmocka_unit_test(test_signed_key_every_mutation_fails),
        cmocka_unit_test(test_signed_key_malformed),
        cmocka_unit_test(test_signed_key_round_trips),
        cmocka_unit_test(test_cert_chain_pub_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
