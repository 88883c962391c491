/* One notifier service certificate per SMP router (svccreds.h). */
#include "ntf_router/svccreds.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "kit/paths.h"
#include "kit/say.h"
#include "ntf_router/pgstore.h"
#include "smp/address.h"

#define NAME_MAX_LEN 512

struct sx_ntf_svccreds {
    sx_pgdb *db;
    char *dir;
    pthread_mutex_t mu;
    size_t made;
    /* what the last sx_ntf_svccreds_get gave */
    sx_ntf_pg_creds last;
    char crt[SX_KIT_PATH_MAX], key[SX_KIT_PATH_MAX];
};

sx_status sx_ntf_svccreds_new(sx_pgdb *db, const char *dir, sx_ntf_svccreds **out)
{
    SX_ENSURE(out != NULL && (db != NULL || dir != NULL), SX_E_USAGE);
    *out = NULL;
    sx_ntf_svccreds *x = calloc(1, sizeof *x);
    SX_ENSURE(x != NULL, SX_E_NOMEM);
    x->db = db;
    if (!db && !(x->dir = strdup(dir))) {
        free(x);
        return SX_E_NOMEM;
    }
    pthread_mutex_init(&x->mu, NULL);
    *out = x;
    return SX_OK;
}

void sx_ntf_svccreds_free(sx_ntf_svccreds *x)
{
    if (!x)
        return;
    sx_ntf_pg_creds_free(&x->last);
    pthread_mutex_destroy(&x->mu);
    free(x->dir);
    free(x);
}

size_t sx_ntf_svccreds_made(sx_ntf_svccreds *x)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    size_t n = x->made;
    pthread_mutex_unlock(&x->mu);
    return n;
}

/* A new self-signed Ed25519 certificate: the SMP router knows the service
 * by its fingerprint (the chain's only certificate). */
static sx_status make_cert(sx_key **k, X509 **cert)
{
    *k = NULL;
    *cert = NULL;
    sx_status st = sx_key_generate(SX_KEY_ED25519, k);
    if (st == SX_OK)
        st = sx_x509_create_ca(*k, cert);
    return st;
}

/* The three columns of the reference's smp_servers row (pgstore.h). */
static sx_status make_columns(void *arg, sx_ntf_pg_creds *out)
{
    (void)arg;
    sx_key *k = NULL;
    X509 *cert = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    sx_status st = make_cert(&k, &cert);
    if (st == SX_OK)
        st = sx_x509_to_der(cert, &der, &der_len);
    if (st == SX_OK && der_len > 0xFFFF)
        st = SX_E_LIMIT;
    uint8_t fp[SX_FINGERPRINT_LEN];
    char fp_text[SX_FINGERPRINT_TEXT_SIZE];
    if (st == SX_OK && (st = sx_x509_fingerprint_der(sx_slice_of(der, der_len), fp)) == SX_OK)
        st = sx_x509_fingerprint_text(fp, fp_text, sizeof fp_text);
    sx_writer kw;
    sx_writer_init_dynamic(&kw, 1024);
    if (st == SX_OK && !sx_key_write_private(&kw, k))
        st = SX_E_INTERNAL;
    if (st == SX_OK) {
        size_t hl = strlen(fp_text);
        out->cert = malloc(3 + der_len);
        out->cert_hash = malloc(hl);
        out->key = malloc(kw.len);
        if (!out->cert || !out->cert_hash || !out->key) {
            st = SX_E_NOMEM;
        } else {
            /* the chain of one: its count, then the certificate with a 2-byte length */
            out->cert[0] = 1;
            out->cert[1] = (uint8_t)(der_len >> 8);
            out->cert[2] = (uint8_t)der_len;
            memcpy(out->cert + 3, der, der_len);
            out->cert_len = 3 + der_len;
            memcpy(out->cert_hash, fp_text, hl);
            out->cert_hash_len = hl;
            memcpy(out->key, kw.buf, kw.len);
            out->key_len = kw.len;
        }
    }
    if (kw.buf)
        sx_wipe(kw.buf, kw.len);
    sx_writer_cleanup(&kw);
    free(der);
    X509_free(cert);
    sx_key_free(k);
    return st;
}

static sx_status from_db(sx_ntf_svccreds *x, const sx_server_address *a, sx_smp_service_creds *out)
{
    sx_ntf_pg_creds *c = &x->last;
    sx_ntf_pg_creds_free(c); /* the previous call's (out of use by now) */
    SX_TRY(sx_ntf_pg_service_creds(x->db, a, make_columns, x, c));
    if (c->made)
        x->made++;
    /* one certificate, as the reference makes them */
    if (c->cert_len < 3 || c->cert[0] != 1 || (size_t)((c->cert[1] << 8) | c->cert[2]) != c->cert_len - 3)
        return sx_error_set(SX_E_PROTOCOL, NULL, "database: the service certificate of %s does not decode",
                            a->text);
    out->cert_der = c->cert + 3;
    out->cert_der_len = c->cert_len - 3;
    out->key_der = c->key;
    out->key_der_len = c->key_len;
    return SX_OK;
}

/* ntf-service-<key hash>@<hosts>_<port>: what a file name cannot hold
 * becomes '_'. */
static void file_name(const sx_server_address *a, char *out, size_t cap)
{
    char kh[64] = "";
    if (sx_b64_encode(sx_slice_of(a->key_hash, a->key_hash_len), SX_B64_URL, kh, sizeof kh) != SX_OK)
        kh[0] = 0;
    size_t last = a->host_count ? a->host_count - 1 : 0;
    size_t from = a->host_count ? a->host_off[0] : 0;
    size_t to = a->host_count ? a->host_off[last] + a->host_len[last] : 0;
    int n = snprintf(out, cap, "ntf-service-%s@%.*s_%.*s", kh, (int)(to - from), a->text + from, (int)a->port_len,
                     a->text + a->port_off);
    if (n < 0)
        out[0] = 0;
    for (char *p = out + strlen("ntf-service-"); *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '-' || ch == '_' || ch == '=' || ch == '@' || ch == ',';
        if (!ok)
            *p = '_';
    }
}

static sx_status from_files(sx_ntf_svccreds *x, const sx_server_address *a, sx_smp_service_creds *out)
{
    char name[NAME_MAX_LEN];
    file_name(a, name, sizeof name);
    int n1 = snprintf(x->crt, sizeof x->crt, "%s/%s.crt", x->dir, name);
    int n2 = snprintf(x->key, sizeof x->key, "%s/%s.key", x->dir, name);
    if (n1 < 0 || (size_t)n1 >= sizeof x->crt || n2 < 0 || (size_t)n2 >= sizeof x->key)
        return sx_error_set(SX_E_LIMIT, NULL, "%s: path too long", x->dir);
    if (access(x->crt, F_OK) != 0 || access(x->key, F_OK) != 0) {
        sx_key *k = NULL;
        X509 *cert = NULL;
        sx_status st = make_cert(&k, &cert);
        if (st == SX_OK)
            st = sx_x509_write_key_file(x->key, k);
        if (st == SX_OK)
            st = sx_x509_write_cert_file(x->crt, cert);
        X509_free(cert);
        sx_key_free(k);
        if (st != SX_OK)
            return sx_error_set(st, NULL, "%s: cannot make the service certificate", x->crt);
        x->made++;
        SX_SAY(SX_SAY_NOTE, "SMP router %s: new service certificate %s", a->text, x->crt);
    }
    out->cert_file = x->crt;
    out->key_file = x->key;
    return SX_OK;
}

sx_status sx_ntf_svccreds_get(void *arg, const char *server, sx_smp_service_creds *out)
{
    sx_ntf_svccreds *x = arg;
    SX_ENSURE(x != NULL && server != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_server_address *a = malloc(sizeof *a);
    SX_ENSURE(a != NULL, SX_E_NOMEM);
    sx_status st = sx_server_address_parse(server, strlen(server), a);
    if (st == SX_OK) {
        pthread_mutex_lock(&x->mu);
        st = x->db ? from_db(x, a, out) : from_files(x, a, out);
        pthread_mutex_unlock(&x->mu);
    }
    free(a);
    if (st != SX_OK)
        SX_SAY(SX_SAY_ERROR, "SMP router %s: no service credentials (%s)", server, sx_status_str(st));
    return st;
}

void sx_ntf_svccreds_service_id(sx_ntf_svccreds *x, const char *server, sx_slice id)
{
    if (!x || !x->db || !server)
        return;
    sx_server_address *a = malloc(sizeof *a);
    if (!a)
        return;
    bool changed = false;
    if (sx_server_address_parse(server, strlen(server), a) == SX_OK) {
        if (sx_ntf_pg_service_id(x->db, a, id, &changed) != SX_OK)
            SX_SAY(SX_SAY_ERROR, "SMP router %s: the service id was not recorded", server);
        else if (changed)
            SX_SAY(SX_SAY_WARN, "SMP router %s: service id %s, associations of the old one removed", server,
                   id.len ? "changed" : "removed");
    }
    free(a);
}
