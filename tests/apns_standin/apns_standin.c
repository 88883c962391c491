/* apns-standin: a local stand-in for Apple's push notification provider API,
 * for the NTF router's tests (see docs/NTF.md, "Running with the APNS
 * stand-in"). HTTP/2 (nghttp2) over TLS (OpenSSL) with a certificate it makes
 * at start under its own test CA, written to <dir>/ca.crt for the router to
 * trust. It implements what the router uses of the API:
 *
 *   POST /3/device/<hex token>
 *   authorization: bearer <JWT>   ES256 by the key given (--key-file), kid
 *                                 (--kid), iss = team (--team), iat no older
 *                                 than --max-age seconds
 *   apns-topic (--topic), apns-push-type, apns-priority (5 for background),
 *   apns-expiration (digits, when sent)
 *
 * and answers 200 with an apns-id, or Apple's status codes with a JSON body
 * {"reason":"..."} ({"reason":"Unregistered","timestamp":<ms>} with 410).
 * Failures for tests: <dir>/failures, read at each request, one rule a line,
 * "<hex token>|* <status> <reason>" (the first rule that matches answers), or
 * "<hex token>|* goaway" (answer, then GOAWAY and close the connection).
 * Each request is appended to <dir>/requests.jsonl as one JSON line:
 * {"path":..,"token":..,"headers":{..},"body":"<the body as a JSON
 * string>","status":..,"reason":..,"open":<streams of its connection begun
 * and not closed when it was answered>}; a stream that comes after a GOAWAY
 * was decided is refused (RST_STREAM REFUSED_STREAM) and not recorded.
 * --delay-ms N holds each answer back N ms (a far provider's round trip),
 * the connection's other streams going on meanwhile; a request is then
 * recorded when it is answered. The listening port goes to
 * <dir>/port when ready. Runs until SIGTERM or SIGINT. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ntf_router/apns_wire.h"

/* Apple documents 4096 bytes for a regular push and 5120 for VoIP; the
 * reference's pushes are ~4.2 KB (a 3072-byte padded payload sealed and in
 * base64), and Apple takes them: the stand-in allows 5120. */
#define BODY_MAX 5120
#define BODY_KEEP 8192  /* what a stream buffers before answering 413 */
#define HEADER_MAX 1100 /* longest header value kept (a JWT is ~250) */
#define N_HEADERS 12

typedef struct opts {
    const char *dir, *key_file, *kid, *team, *topic, *host;
    int port;
    long max_age;
    long delay_ms;
} opts;

static opts g_o;
static sx_ntf_apns_key *g_key;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t g_stop;
static SSL_CTX *g_ssl;

typedef struct header {
    char name[32];
    char value[HEADER_MAX];
    bool present;
} header;

static const char *const kept[N_HEADERS] = {":method", ":path", ":scheme", ":authority", "authorization",
                                            "apns-topic", "apns-push-type", "apns-priority",
                                            "apns-expiration", "apns-id", "apns-collapse-id", "content-type"};

typedef struct stream {
    int32_t id;
    header h[N_HEADERS];
    uint8_t body[BODY_KEEP];
    size_t body_len;
    bool body_over;
    /* the answer */
    char resp[160];
    size_t resp_len, resp_off;
    /* waiting for --delay-ms (in its connection's list, oldest first) */
    bool pending;
    int64_t due_ms;
    struct stream *next;
} stream;

typedef struct conn {
    SSL *ssl;
    nghttp2_session *h2;
    bool goaway;
    int32_t goaway_last;           /* the last stream the GOAWAY lets through */
    int32_t answered;              /* the highest stream answered */
    size_t open;                   /* streams begun and not closed */
    stream *wait_head, *wait_tail; /* answers held back by --delay-ms */
} conn;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    fprintf(stderr, "apns-standin: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* ---- the certificate ------------------------------------------------------ */

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e || !X509_add_ext(x, e, -1))
        die("certificate extension");
    X509_EXTENSION_free(e);
}

static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn)
{
    X509 *x = X509_new();
    uint8_t serial[8];
    if (!x || RAND_bytes(serial, sizeof serial) != 1)
        die("certificate");
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509 *iss = issuer ? issuer : x;
    add_ext(x, iss, NID_subject_key_identifier, "hash");
    add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
    if (issuer) {
        add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, iss, NID_key_usage, "critical,digitalSignature");
        add_ext(x, iss, NID_ext_key_usage, "serverAuth");
        add_ext(x, iss, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    } else {
        add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    if (!X509_sign(x, signer, EVP_sha256()))
        die("signing a certificate");
    return x;
}

static void write_file_atomic(const char *name, const char *text, X509 *cert)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof path, "%s/%s", g_o.dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die(tmp);
    if (cert)
        PEM_write_X509(f, cert);
    else
        fputs(text, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        die(path);
}

static void make_tls(void)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
    if (!ca_key || !key)
        die("key generation");
    X509 *ca = make_cert(ca_key, ca_key, NULL, "APNS stand-in test CA");
    X509 *leaf = make_cert(key, ca_key, ca, "localhost");
    g_ssl = SSL_CTX_new(TLS_server_method());
    if (!g_ssl || SSL_CTX_set_min_proto_version(g_ssl, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(g_ssl, leaf) != 1 || SSL_CTX_use_PrivateKey(g_ssl, key) != 1 ||
        SSL_CTX_add1_chain_cert(g_ssl, ca) != 1)
        die("TLS context");
    write_file_atomic("ca.crt", NULL, ca);
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned i = 0; i < inlen; i += 1u + in[i])
        if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ---- requests ------------------------------------------------------------- */

static const char *hv(const stream *s, const char *name)
{
    for (int i = 0; i < N_HEADERS; i++)
        if (s->h[i].present && strcmp(s->h[i].name, name) == 0)
            return s->h[i].value;
    return NULL;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool hex_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200 || n % 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    return true;
}

/* The configured rule for the token: 0 none, -1 goaway, else the status. */
static int rule_for(const char *token, char *reason, size_t cap)
{
    char path[1024], line[256];
    snprintf(path, sizeof path, "%s/failures", g_o.dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char tok[210], what[64] = "", why[64] = "";
        if (sscanf(line, "%209s %63s %63s", tok, what, why) < 2)
            continue;
        if (strcmp(tok, "*") != 0 && strcmp(tok, token) != 0)
            continue;
        if (strcmp(what, "goaway") == 0) {
            found = -1;
        } else if (all_digits(what)) {
            found = atoi(what);
            snprintf(reason, cap, "%s", why);
        }
    }
    fclose(f);
    return found;
}

/* Decides the answer to a complete request: status and reason. */
static int judge(const stream *s, const char **token_out, char *reason, size_t cap, bool *goaway)
{
    static const char prefix[] = "/3/device/";
    const char *method = hv(s, ":method"), *path = hv(s, ":path");
    *token_out = "";
    if (!method || strcmp(method, "POST") != 0)
        return snprintf(reason, cap, "MethodNotAllowed"), 405;
    if (!path || strncmp(path, prefix, sizeof prefix - 1) != 0)
        return snprintf(reason, cap, "BadPath"), 404;
    const char *token = path + sizeof prefix - 1;
    *token_out = token;
    if (!hex_token(token))
        return snprintf(reason, cap, "BadDeviceToken"), 400;
    const char *auth = hv(s, "authorization");
    if (!auth)
        return snprintf(reason, cap, "MissingProviderToken"), 403;
    if (strncmp(auth, "bearer ", 7) != 0)
        return snprintf(reason, cap, "InvalidProviderToken"), 403;
    sx_ntf_apns_jwt_parts p;
    if (sx_ntf_apns_jwt_parse(sx_slice_str(auth + 7), &p) != SX_OK || !sx_ntf_apns_jwt_verify(&p, g_key) ||
        strcmp(p.kid, g_o.kid) != 0 || strcmp(p.iss, g_o.team) != 0)
        return snprintf(reason, cap, "InvalidProviderToken"), 403;
    int64_t now = (int64_t)time(NULL);
    if (p.iat > now + 60)
        return snprintf(reason, cap, "InvalidProviderToken"), 403;
    if (now - p.iat > g_o.max_age)
        return snprintf(reason, cap, "ExpiredProviderToken"), 403;
    const char *topic = hv(s, "apns-topic"), *type = hv(s, "apns-push-type");
    const char *prio = hv(s, "apns-priority"), *exp = hv(s, "apns-expiration");
    if (!topic)
        return snprintf(reason, cap, "MissingTopic"), 400;
    if (strcmp(topic, g_o.topic) != 0)
        return snprintf(reason, cap, "BadTopic"), 400;
    if (!type || (strcmp(type, "alert") != 0 && strcmp(type, "background") != 0 &&
                  strcmp(type, "voip") != 0 && strcmp(type, "complication") != 0 &&
                  strcmp(type, "fileprovider") != 0 && strcmp(type, "mdm") != 0))
        return snprintf(reason, cap, "InvalidPushType"), 400;
    if (prio && strcmp(prio, "5") != 0 && strcmp(prio, "10") != 0 && strcmp(prio, "1") != 0)
        return snprintf(reason, cap, "BadPriority"), 400;
    if (strcmp(type, "background") == 0 && (!prio || strcmp(prio, "10") == 0))
        return snprintf(reason, cap, "BadPriority"), 400; /* background pushes must be priority 5 */
    if (exp && !all_digits(exp))
        return snprintf(reason, cap, "BadExpirationDate"), 400;
    if (s->body_len == 0)
        return snprintf(reason, cap, "PayloadEmpty"), 400;
    if (s->body_over || s->body_len > BODY_MAX)
        return snprintf(reason, cap, "PayloadTooLarge"), 413;
    int rule = rule_for(token, reason, cap);
    if (rule == -1)
        *goaway = true;
    else if (rule > 0)
        return rule;
    reason[0] = 0;
    return 200;
}

static void json_str(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void record(const stream *s, const char *token, int status, const char *reason, size_t open)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/requests.jsonl", g_o.dir);
    pthread_mutex_lock(&g_mu);
    FILE *f = fopen(path, "a");
    if (f) {
        fputs("{\"path\":", f);
        const char *p = hv(s, ":path");
        json_str(f, p ? p : "", p ? strlen(p) : 0);
        fputs(",\"token\":", f);
        json_str(f, token, strlen(token));
        fputs(",\"headers\":{", f);
        bool first = true;
        for (int i = 0; i < N_HEADERS; i++) {
            if (!s->h[i].present || s->h[i].name[0] == ':')
                continue;
            fputs(first ? "" : ",", f);
            first = false;
            json_str(f, s->h[i].name, strlen(s->h[i].name));
            fputc(':', f);
            json_str(f, s->h[i].value, strlen(s->h[i].value));
        }
        fputs("},\"body\":", f);
        json_str(f, (const char *)s->body, s->body_len);
        fprintf(f, ",\"status\":%d,\"reason\":", status);
        json_str(f, reason, strlen(reason));
        fprintf(f, ",\"open\":%zu}\n", open);
        fclose(f);
    }
    pthread_mutex_unlock(&g_mu);
}

static ssize_t resp_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)ud;
    stream *s = src->ptr;
    size_t n = s->resp_len - s->resp_off;
    if (n > len)
        n = len;
    memcpy(buf, s->resp + s->resp_off, n);
    s->resp_off += n;
    if (s->resp_off == s->resp_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Judges, records and answers stream s. */
static int respond(conn *c, stream *s)
{
    if (c->goaway && s->id > c->goaway_last) /* after the GOAWAY: refused, not recorded */
        return nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM) == 0
                   ? 0
                   : NGHTTP2_ERR_CALLBACK_FAILURE;
    const char *token = "";
    char reason[64] = "";
    bool goaway = false;
    int status = judge(s, &token, reason, sizeof reason, &goaway);
    record(s, token, status, reason, c->open);
    if (s->id > c->answered)
        c->answered = s->id;
    char st[16], apns_id[40];
    uint8_t r[16];
    RAND_bytes(r, sizeof r);
    snprintf(st, sizeof st, "%d", status);
    snprintf(apns_id, sizeof apns_id, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"apns-id", (uint8_t *)apns_id, 7, strlen(apns_id), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/json", 12, 16, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prov = {.source.ptr = s, .read_callback = resp_read};
    if (status == 200) {
        nv[2].valuelen = 0;
        if (nghttp2_submit_response(c->h2, s->id, nv, 2, NULL) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    } else {
        if (status == 410)
            s->resp_len = (size_t)snprintf(s->resp, sizeof s->resp, "{\"reason\":\"%s\",\"timestamp\":%" PRId64 "}",
                                           reason, (int64_t)time(NULL) * 1000);
        else
            s->resp_len = (size_t)snprintf(s->resp, sizeof s->resp, "{\"reason\":\"%s\"}", reason);
        if (nghttp2_submit_response(c->h2, s->id, nv, 3, &prov) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (goaway && !c->goaway) {
        c->goaway = true;
        c->goaway_last = c->answered; /* every stream answered so far keeps its answer */
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, c->goaway_last, NGHTTP2_NO_ERROR, NULL, 0);
    }
    return 0;
}

/* A request is complete: answered now, or after --delay-ms (as a far
 * provider's round trip would take), the other streams going on meanwhile. */
static int answer(conn *c, stream *s)
{
    if (g_o.delay_ms <= 0)
        return respond(c, s);
    s->pending = true;
    s->due_ms = mono_ms() + g_o.delay_ms;
    s->next = NULL;
    if (c->wait_tail)
        c->wait_tail->next = s;
    else
        c->wait_head = s;
    c->wait_tail = s;
    return 0;
}

/* The held-back answers that are due; false on a session error. */
static bool answer_due(conn *c)
{
    int64_t now = mono_ms();
    while (c->wait_head && c->wait_head->due_ms <= now) {
        stream *s = c->wait_head;
        c->wait_head = s->next;
        if (!c->wait_head)
            c->wait_tail = NULL;
        s->pending = false;
        if (respond(c, s) != 0)
            return false;
    }
    return true;
}

static void unwait(conn *c, stream *s)
{
    stream **p = &c->wait_head, *prev = NULL;
    while (*p && *p != s) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p)
        return;
    *p = s->next;
    if (c->wait_tail == s)
        c->wait_tail = prev;
}

/* ---- HTTP/2 callbacks ----------------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    stream *s = calloc(1, sizeof *s);
    if (!s)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    c->open++;
    s->id = f->hd.stream_id;
    nghttp2_session_set_stream_user_data(h2, f->hd.stream_id, s);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    stream *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!s)
        return 0;
    for (int i = 0; i < N_HEADERS; i++) {
        if (strlen(kept[i]) != nlen || memcmp(kept[i], name, nlen) != 0)
            continue;
        header *h = &s->h[i];
        snprintf(h->name, sizeof h->name, "%s", kept[i]);
        size_t n = vlen < sizeof h->value - 1 ? vlen : sizeof h->value - 1;
        memcpy(h->value, value, n);
        h->value[n] = 0;
        h->present = true;
    }
    return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    stream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (!s)
        return 0;
    if (len > sizeof s->body - s->body_len) {
        s->body_over = true;
        len = sizeof s->body - s->body_len;
    }
    memcpy(s->body + s->body_len, data, len);
    s->body_len += len;
    return 0;
}

static int on_frame(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    stream *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    return s ? answer(ud, s) : 0;
}

static int on_close(nghttp2_session *h2, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    conn *c = ud;
    stream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (s) {
        c->open--;
        if (s->pending)
            unwait(c, s);
    }
    free(s);
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    return 0;
}

/* ---- connections ---------------------------------------------------------- */

static bool flush(conn *c)
{
    for (;;) {
        const uint8_t *p = NULL;
        ssize_t n = nghttp2_session_mem_send(c->h2, &p);
        if (n < 0)
            return false;
        if (n == 0)
            return true;
        if (SSL_write(c->ssl, p, (int)n) != (int)n)
            return false;
    }
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    conn c = {0};
    c.ssl = SSL_new(g_ssl);
    nghttp2_session_callbacks *cb = NULL;
    if (!c.ssl || SSL_set_fd(c.ssl, fd) != 1 || SSL_accept(c.ssl) != 1 || nghttp2_session_callbacks_new(&cb) != 0)
        goto out;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int rv = nghttp2_session_server_new(&c.h2, cb, &c);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0)
        goto out;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
    if (nghttp2_submit_settings(c.h2, NGHTTP2_FLAG_NONE, iv, 1) != 0)
        goto out;
    uint8_t buf[16384];
    while (!g_stop) {
        if (!flush(&c))
            break;
        if (c.goaway || (!nghttp2_session_want_read(c.h2) && !nghttp2_session_want_write(c.h2)))
            break;
        if (c.wait_head && SSL_pending(c.ssl) == 0) {
            int64_t wait = c.wait_head->due_ms - mono_ms();
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = wait > 0 ? poll(&p, 1, (int)wait) : 0;
            if (r < 0 && errno != EINTR)
                break;
            if (r <= 0) {
                if (!answer_due(&c))
                    break;
                continue;
            }
        }
        int n = SSL_read(c.ssl, buf, sizeof buf);
        if (n <= 0)
            break;
        if (nghttp2_session_mem_recv(c.h2, buf, (size_t)n) != n)
            break;
    }
    (void)flush(&c);
    if (c.goaway) {
        /* close gently: the client still reads the answers and the GOAWAY
         * (closing with its requests unread would reset the connection and
         * could lose them); what it still sends is read and dropped, for up
         * to 30 s (a client starved by a loaded machine must still get them) */
        SSL_shutdown(c.ssl);
        shutdown(fd, SHUT_WR);
        for (int i = 0; i < 300; i++) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 100) < 0 || (p.revents && SSL_read(c.ssl, buf, sizeof buf) <= 0))
                break;
        }
    }
out:
    if (c.h2)
        nghttp2_session_del(c.h2);
    if (c.ssl) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    close(fd);
    ERR_clear_error();
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: apns-standin --dir DIR --key-file KEY.p8|PUB.pem --kid KEY_ID [--team ID]\n"
                    "       [--topic TOPIC] [--host 127.0.0.1] [--port 0] [--max-age 3600] [--delay-ms 0]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    g_o = (opts){.team = SX_NTF_APNS_TEAM_ID, .topic = SX_NTF_APNS_TOPIC, .host = "127.0.0.1", .max_age = 3600};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(a, "--dir") == 0)
            g_o.dir = v;
        else if (strcmp(a, "--key-file") == 0)
            g_o.key_file = v;
        else if (strcmp(a, "--kid") == 0)
            g_o.kid = v;
        else if (strcmp(a, "--team") == 0)
            g_o.team = v;
        else if (strcmp(a, "--topic") == 0)
            g_o.topic = v;
        else if (strcmp(a, "--host") == 0)
            g_o.host = v;
        else if (strcmp(a, "--port") == 0)
            g_o.port = atoi(v);
        else if (strcmp(a, "--max-age") == 0)
            g_o.max_age = atol(v);
        else if (strcmp(a, "--delay-ms") == 0)
            g_o.delay_ms = atol(v);
        else
            usage();
    }
    if (!g_o.dir || !g_o.key_file || !g_o.kid)
        usage();
    if (sx_ntf_apns_key_load_public(g_o.key_file, &g_key) != SX_OK)
        die("cannot read the P-256 key of --key-file");
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    make_tls();
    SSL_CTX_set_alpn_select_cb(g_ssl, alpn_select, NULL);

    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)g_o.port);
    if (inet_pton(AF_INET, g_o.host, &sin.sin_addr) != 1)
        die("--host must be a numeric IPv4 address");
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 64) != 0)
        die("cannot listen");
    socklen_t sl = sizeof sin;
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    char port[16];
    snprintf(port, sizeof port, "%u\n", ntohs(sin.sin_port));
    write_file_atomic("port", port, NULL);
    fprintf(stderr, "apns-standin: listening on %s:%u\n", g_o.host, ntohs(sin.sin_port));
    while (!g_stop) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        /* answers go out at once, as Apple's would (no Nagle delay behind
         * the client's delayed ACK) */
        int nodelay = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            pthread_detach(t);
    }
    close(lfd);
    sx_ntf_apns_key_free(g_key);
    return 0;
}
