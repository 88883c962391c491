/* XRCP identities and pairings (pairing.h). */
#include "xrcp/pairing.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "crypto/util.h"
#include "crypto/x509.h"

const char *sx_xrcp_err_text(sx_xrcp_err e)
{
    switch (e) {
    case SX_XRCP_ERR_NONE: return "OK";
    case SX_XRCP_ERR_INTERNAL: return "INTERNAL";
    case SX_XRCP_ERR_IDENTITY: return "IDENTITY";
    case SX_XRCP_ERR_NEW_CONTROLLER: return "NEW_CONTROLLER";
    case SX_XRCP_ERR_NOT_DISCOVERED: return "NOT_DISCOVERED";
    case SX_XRCP_ERR_TLS_START: return "CTRL_TLS_START";
    case SX_XRCP_ERR_EXCEPTION: return "EXCEPTION";
    case SX_XRCP_ERR_CTRL_AUTH: return "CTRL_AUTH";
    case SX_XRCP_ERR_CTRL_NOT_FOUND: return "CTRL_NOT_FOUND";
    case SX_XRCP_ERR_CTRL_ERROR: return "CTRL_ERROR";
    case SX_XRCP_ERR_INVITATION: return "INVITATION";
    case SX_XRCP_ERR_VERSION: return "VERSION";
    case SX_XRCP_ERR_ENCRYPT: return "ENCRYPT";
    case SX_XRCP_ERR_DECRYPT: return "DECRYPT";
    case SX_XRCP_ERR_BLOCK_SIZE: return "BLOCK_SIZE";
    case SX_XRCP_ERR_SYNTAX: return "SYNTAX";
    }
    return "INTERNAL";
}

sx_status sx_xrcp_ca_new(sx_xrcp_ca *ca)
{
    if (ca == NULL)
        return SX_E_USAGE;
    memset(ca, 0, sizeof *ca);
    X509 *cert = NULL;
    sx_status st = sx_key_generate(SX_KEY_ED25519, &ca->key);
    if (st == SX_OK)
        st = sx_x509_create_ca(ca->key, &cert);
    if (st == SX_OK)
        st = sx_x509_to_der(cert, &ca->der, &ca->der_len);
    if (st == SX_OK)
        st = sx_x509_fingerprint(cert, ca->fp);
    X509_free(cert);
    if (st != SX_OK)
        sx_xrcp_ca_clear(ca);
    return st;
}

sx_status sx_xrcp_ca_from(const sx_key *key, sx_slice der, sx_xrcp_ca *ca)
{
    if (key == NULL || ca == NULL || der.len == 0)
        return SX_E_USAGE;
    memset(ca, 0, sizeof *ca);
    X509 *cert = NULL;
    sx_key *pub = NULL;
    sx_status st = sx_x509_from_der(der, &cert);
    if (st == SX_OK)
        st = sx_x509_public_key(cert, &pub);
    if (st == SX_OK && (sx_key_alg_of(key) != SX_KEY_ED25519 || !sx_key_is_private(key) ||
                        !sx_key_public_equal(pub, key)))
        st = SX_E_AUTH;
    if (st == SX_OK)
        st = sx_x509_fingerprint_der(der, ca->fp);
    if (st == SX_OK && (ca->der = malloc(der.len)) == NULL)
        st = SX_E_NOMEM;
    if (st == SX_OK) {
        memcpy(ca->der, der.ptr, der.len);
        ca->der_len = der.len;
        size_t n = 0;
        uint8_t raw[32];
        st = sx_key_raw_private(key, raw, sizeof raw, &n);
        if (st == SX_OK)
            st = sx_key_from_raw_private(SX_KEY_ED25519, sx_slice_of(raw, n), &ca->key);
        sx_wipe(raw, sizeof raw);
    }
    sx_key_free(pub);
    X509_free(cert);
    if (st != SX_OK)
        sx_xrcp_ca_clear(ca);
    return st;
}

void sx_xrcp_ca_clear(sx_xrcp_ca *ca)
{
    if (ca == NULL)
        return;
    sx_key_free(ca->key);
    free(ca->der);
    memset(ca, 0, sizeof *ca);
}

sx_status sx_xrcp_tls_ctx(const sx_xrcp_ca *ca, bool server, sx_tls_ctx **out)
{
    if (ca == NULL || ca->key == NULL || ca->der == NULL || out == NULL)
        return SX_E_USAGE;
    *out = NULL;
    X509 *ca_cert = NULL, *leaf = NULL;
    sx_key *leaf_key = NULL;
    uint8_t *leaf_der = NULL;
    size_t leaf_len = 0;
    sx_status st = sx_x509_from_der(sx_slice_of(ca->der, ca->der_len), &ca_cert);
    if (st == SX_OK)
        st = sx_key_generate(SX_KEY_ED25519, &leaf_key);
    if (st == SX_OK)
        st = sx_x509_create_server(ca->key, ca_cert, leaf_key, "localhost", &leaf);
    if (st == SX_OK)
        st = sx_x509_to_der(leaf, &leaf_der, &leaf_len);
    if (st == SX_OK) {
        sx_slice chain[2] = {sx_slice_of(leaf_der, leaf_len), sx_slice_of(ca->der, ca->der_len)};
        sx_tls_credentials creds = {.der_chain = chain, .der_chain_len = 2, .key = leaf_key};
        if (server) {
            sx_tls_server_config cfg = {.creds = creds};
            st = sx_tls_server_ctx_new(&cfg, out);
        } else {
            sx_tls_client_config cfg = {.creds = &creds};
            st = sx_tls_client_ctx_new(&cfg, out);
        }
    }
    free(leaf_der);
    sx_key_free(leaf_key);
    X509_free(leaf);
    X509_free(ca_cert);
    return st;
}

sx_status sx_xrcp_ctrl_pairing_new(sx_xrcp_ctrl_pairing *p)
{
    if (p == NULL)
        return SX_E_USAGE;
    memset(p, 0, sizeof *p);
    sx_status st = sx_xrcp_ca_new(&p->ca);
    if (st == SX_OK)
        st = sx_key_generate(SX_KEY_ED25519, &p->id_key);
    if (st != SX_OK)
        sx_xrcp_ctrl_pairing_clear(p);
    return st;
}

void sx_xrcp_ctrl_pairing_clear(sx_xrcp_ctrl_pairing *p)
{
    if (p == NULL)
        return;
    sx_xrcp_ca_clear(&p->ca);
    sx_key_free(p->id_key);
    memset(p, 0, sizeof *p);
}

sx_status sx_xrcp_host_pairing_new(sx_xrcp_host_pairing *p)
{
    if (p == NULL)
        return SX_E_USAGE;
    memset(p, 0, sizeof *p);
    return sx_xrcp_ca_new(&p->ca);
}

void sx_xrcp_host_pairing_clear(sx_xrcp_host_pairing *p)
{
    if (p == NULL)
        return;
    sx_xrcp_ca_clear(&p->ca);
    sx_key_free(p->dh);
    sx_key_free(p->prev_dh);
    memset(p, 0, sizeof *p);
}
