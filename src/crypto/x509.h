/* X.509 for server identity (PROTOCOL-NOTES A19-A20, A40, B9-B11, B16-B18,
 * H4-H6): the offline CA and online server certificates a router creates,
 * their PEM files, fingerprints, chain checks, the certificate-chain wire
 * encoding and the "signed key" (a public key signed by a certificate key). */
#ifndef SX_CRYPTO_X509_H
#define SX_CRYPTO_X509_H

#include <openssl/types.h>

#include "core/bytes.h"
#include "core/reader.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "simplex/status.h"

#define SX_X509_VALIDITY_DAYS 999999 /* PROTOCOL-NOTES B11 / H5 */
#define SX_X509_CHAIN_MAX 4          /* PROTOCOL-NOTES B6, B10 */
#define SX_FINGERPRINT_LEN 32        /* SHA-256, PROTOCOL-NOTES A40 */
/* base64url (padded) of a fingerprint plus the NUL: 44 + 1 (PROTOCOL-NOTES
 * A29). */
#define SX_FINGERPRINT_TEXT_SIZE 45
/* Longest signed key DER: X448 key signed with Ed448 is 197 bytes. */
#define SX_SIGNED_KEY_MAX 256

/* ---- Certificates -------------------------------------------------------- */

/* PROTOCOL-NOTES B11/H5: self-signed v3 CA certificate for ca_key (Ed25519 or
 * Ed448, private): subject = issuer = CN=SMP server CA, O=SimpleX; random
 * serial; valid from now for SX_X509_VALIDITY_DAYS; extensions
 * subjectKeyIdentifier=hash, authorityKeyIdentifier=keyid:always,
 * basicConstraints=critical,CA:true. *out is a new X509 the caller frees with
 * X509_free. Errors: SX_E_USAGE for a public or DH key, SX_E_INTERNAL for
 * OpenSSL failures. */
SX_MUST_CHECK sx_status sx_x509_create_ca(const sx_key *ca_key, X509 **out);
/* PROTOCOL-NOTES B11/H5: v3 server certificate for server_key (public or
 * private Ed25519/ Ed448) with subject CN=<cn>, issued and signed by ca_key /
 * ca_cert; random serial; same validity; extensions basicConstraints=CA:FALSE,
 * keyUsage=digitalSignature,nonRepudiation,keyAgreement,
 * extendedKeyUsage=serverAuth, subjectKeyIdentifier=hash,
 * authorityKeyIdentifier=keyid:always. ca_key must match ca_cert (SX_E_USAGE). */
SX_MUST_CHECK sx_status sx_x509_create_server(const sx_key *ca_key, const X509 *ca_cert,
                                              const sx_key *server_key, const char *cn,
                                              X509 **out);

/* Files in the formats `openssl` writes: a "CERTIFICATE" PEM (mode 0644) and
 * a PKCS#8 "PRIVATE KEY" PEM (mode 0600, the file is created or truncated and
 * its mode forced to 0600). Errors: SX_E_IO, SX_E_USAGE (public key). */
SX_MUST_CHECK sx_status sx_x509_write_cert_file(const char *path, const X509 *cert);
SX_MUST_CHECK sx_status sx_x509_write_key_file(const char *path, const sx_key *key);
/* Reads the first certificate of a PEM file. SX_E_IO if the file cannot be
 * opened, SX_E_PROTOCOL if it holds no certificate. */
SX_MUST_CHECK sx_status sx_x509_read_cert_file(const char *path, X509 **out);
/* Reads a "PRIVATE KEY" PEM file and decodes its PKCS#8 DER strictly
 * (PROTOCOL-NOTES A17) with an algorithm in `allowed`. SX_E_IO /
 * SX_E_PROTOCOL. */
SX_MUST_CHECK sx_status sx_x509_read_key_file(const char *path, unsigned allowed, sx_key **out);

/* Parses exactly one DER certificate occupying all of der (SX_E_PROTOCOL
 * otherwise). *out is freed with X509_free. */
SX_MUST_CHECK sx_status sx_x509_from_der(sx_slice der, X509 **out);
/* DER of cert into a new heap buffer the caller frees with free(). */
SX_MUST_CHECK sx_status sx_x509_to_der(const X509 *cert, uint8_t **der, size_t *len);
/* The certificate's public key, if it is one of the four algorithms
 * (SX_E_PROTOCOL otherwise). */
SX_MUST_CHECK sx_status sx_x509_public_key(const X509 *cert, sx_key **out);

/* PROTOCOL-NOTES A40: SHA-256 of the whole DER certificate. The _der form
 * hashes the bytes as received (what the reference does for a peer's chain). */
SX_MUST_CHECK sx_status sx_x509_fingerprint(const X509 *cert, uint8_t out[SX_FINGERPRINT_LEN]);
SX_MUST_CHECK sx_status sx_x509_fingerprint_der(sx_slice der, uint8_t out[SX_FINGERPRINT_LEN]);
/* PROTOCOL-NOTES A23/H6: padded base64url of a fingerprint (44 chars + NUL). */
SX_MUST_CHECK sx_status sx_x509_fingerprint_text(const uint8_t fp[SX_FINGERPRINT_LEN], char *out,
                                                 size_t cap);

/* SX_OK when cert's signature verifies with issuer's public key, else
 * SX_E_AUTH. Only checks the signature. */
SX_MUST_CHECK sx_status sx_x509_verify_signed_by(const X509 *cert, const X509 *issuer);
/* PROTOCOL-NOTES B6/B11: X.509 path validation of chain[0] (leaf) with
 * chain[1..n-1] as untrusted intermediates and `anchor` as the only trust
 * anchor (it may also appear in chain). As in the reference, the anchor need
 * not be self-signed (a 3- or 4-certificate chain may end in an intermediate),
 * but a self-signed anchor must carry a valid signature, and a leaf can be its
 * own anchor only when it is self-issued. Default checks (validity dates,
 * signatures, CA constraints) plus a version 3 leaf; no host-name or purpose
 * check. SX_E_AUTH on failure; if verify_error is not NULL it receives
 * OpenSSL's X509_V_ code. */
SX_MUST_CHECK sx_status sx_x509_validate_chain(X509 *const *chain, size_t n, X509 *anchor,
                                               int *verify_error);

/* ---- PROTOCOL-NOTES A20 certificate chain on the wire -------------------- */

/* A decoded chain; der[i] points into the decoded buffer (borrowed). */
typedef struct sx_x509_chain {
    size_t n;
    X509 *certs[SX_X509_CHAIN_MAX];
    sx_slice der[SX_X509_CHAIN_MAX];
} sx_x509_chain;

/* Appends count byte || Large(DER) per certificate. n must be 1..4
 * (SX_E_USAGE in w otherwise). */
bool sx_x509_write_chain(sx_writer *w, X509 *const *certs, size_t n);
/* Reads a chain of 1..SX_X509_CHAIN_MAX certificates, each of which must
 * parse as exactly one X.509 certificate. On failure r is failed
 * (SX_E_PROTOCOL, or SX_E_NOMEM) and *out holds nothing to clean up. */
bool sx_x509_read_chain(sx_reader *r, sx_x509_chain *out);
/* Frees the certificates; accepts a zeroed or already cleaned chain. */
void sx_x509_chain_cleanup(sx_x509_chain *c);

/* ---- PROTOCOL-NOTES A20 signed key --------------------------------------- */

/* DER: SEQUENCE { tbs = SEQUENCE { SPKI }, AlgorithmIdentifier { OID }, BIT
 * STRING signature }; the signature covers the tbs bytes. */
typedef struct sx_signed_key {
    sx_slice tbs;       /* the inner SEQUENCE as received: what was signed */
    sx_slice spki;      /* the key's SubjectPublicKeyInfo (not yet decoded) */
    sx_key_alg sig_alg; /* SX_KEY_ED25519 or SX_KEY_ED448 */
    sx_slice signature; /* exactly sx_key_sig_len(sig_alg) bytes */
} sx_signed_key;

/* Appends the DER of `key` (public part) signed by `signer` (a private
 * Ed25519/Ed448 key). Without a length prefix; see the _large form. */
bool sx_x509_write_signed_key(sx_writer *w, const sx_key *signer, const sx_key *key);
/* PROTOCOL-NOTES A20 as it appears after the chain: Large(DER). */
bool sx_x509_write_signed_key_large(sx_writer *w, const sx_key *signer, const sx_key *key);
/* Strict structural parse, slices point into der: DER definite lengths in
 * minimal form, the bare Ed25519/Ed448 OID without parameters, a BIT STRING
 * with 0 unused bits and the exact signature length, nothing trailing at
 * any level. SX_E_PROTOCOL otherwise. The SPKI is not decoded here. */
SX_MUST_CHECK sx_status sx_x509_signed_key_parse(sx_slice der, sx_signed_key *out);
/* Parses, checks that the signature algorithm is the signer's and that the
 * signature verifies over the received tbs bytes with signer (SX_E_AUTH
 * otherwise), then decodes the SPKI strictly with an algorithm in `allowed`
 * (SX_E_PROTOCOL). *key_out is the signed public key. */
SX_MUST_CHECK sx_status sx_x509_signed_key_verify(sx_slice der, const sx_key *signer,
                                                  unsigned allowed, sx_key **key_out);

#endif
