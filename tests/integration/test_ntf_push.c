/* The NTF router's pushes end to end (PROTOCOL-NOTES G7-G12, G19-G24): the
 * APNS stand-in as a separate process (tests/apns_standin, its own test CA
 * trusted by the router), the NTF router in process with its APNS client
 * pointed at it, and the NTF client library (src/ntf_client):
 *  - TNEW of an apns_test token: the verification push arrives with the
 *    reference's headers and a JWT the stand-in accepted; its payload opens
 *    with the DH secret to the registration code; the token becomes
 *    CONFIRMED, and ACTIVE after TVFY with that code;
 *  - TCRN: a periodic "checkMessages" push arrives;
 *  - the stand-in answering 400 BadDeviceToken and 410 Unregistered to a
 *    replaced token's verification push: INVALID,BAD / INVALID,UNREGISTERED;
 *  - GOAWAY after a push: the next push goes over a new connection;
 *  - a batch of commands with an answer per item (one ERR AUTH among them);
 *  - TDEL. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "crypto/box.h"
#include "ntf_client/client.h"
#include "ntf_router/apns_wire.h"
#include "ntf_router/server.h"
#include "ntf_router/setup.h"

#define TIMEOUT_MS 20000
#define WAIT_S 60
#define KID "KEY1234567"

static const char *g_standin;

typedef struct env {
    char dir[64], sdir[96], key[96], reqs[128], failures[128];
    sx_kit_paths paths;
    uint8_t fp[SX_FINGERPRINT_LEN];
    pid_t standin;
    uint16_t apns_port;
    sx_ntf_server *srv;
    sx_ntf_client *c;
} env;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void env_init(env *e, unsigned periodic_s)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/sx_ntf_push.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->sdir, sizeof e->sdir, "%s/apns", e->dir);
    snprintf(e->key, sizeof e->key, "%s/AuthKey.p8", e->dir);
    snprintf(e->reqs, sizeof e->reqs, "%s/requests.jsonl", e->sdir);
    snprintf(e->failures, sizeof e->failures, "%s/failures", e->sdir);
    assert_int_equal(mkdir(e->sdir, 0700), 0);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    assert_non_null(pk);
    FILE *f = fopen(e->key, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(pk);
    /* the stand-in, a process of its own */
    e->standin = fork();
    assert_true(e->standin >= 0);
    if (e->standin == 0) {
        execl(g_standin, g_standin, "--dir", e->sdir, "--key-file", e->key, "--kid", KID, (char *)NULL);
        _exit(127);
    }
    char port_path[160];
    snprintf(port_path, sizeof port_path, "%s/port", e->sdir);
    for (int i = 0; i < WAIT_S * 20; i++) {
        FILE *pf = fopen(port_path, "r");
        unsigned p = 0;
        if (pf) {
            if (fscanf(pf, "%u", &p) != 1)
                p = 0;
            fclose(pf);
        }
        if (p) {
            e->apns_port = (uint16_t)p;
            break;
        }
        assert_int_equal(waitpid(e->standin, NULL, WNOHANG), 0); /* still running */
        sleep_ms(50);
    }
    assert_true(e->apns_port != 0);
    /* the NTF router */
    char cfg[128], log[128], host[64], err[256], ca[160];
    snprintf(cfg, sizeof cfg, "%s/etc", e->dir);
    snprintf(log, sizeof log, "%s/var", e->dir);
    assert_ok(sx_ntf_paths_init(&e->paths, cfg, log));
    sx_ntf_init_options io;
    sx_ntf_init_options_default(&io);
    assert_ok(sx_ntf_setup_init(&e->paths, &io, e->fp, host, sizeof host, err, sizeof err));
    snprintf(ca, sizeof ca, "%s/ca.crt", e->sdir);
    sx_ntf_apns_client_opts ao = {0};
    ao.key_file = e->key;
    ao.key_id = KID;
    ao.host = "localhost";
    ao.port = e->apns_port;
    ao.ca_file = ca;
    sx_ntf_server_opts o = {0};
    o.host = "127.0.0.1";
    o.workers = 2;
    o.cert_file = e->paths.server_crt;
    o.ca_file = e->paths.ca_crt;
    o.key_file = e->paths.server_key;
    memcpy(o.key_hash, e->fp, sizeof o.key_hash);
    o.store_log_path = e->paths.store_log;
    o.apns = &ao;
    o.periodic_s = periodic_s;
    assert_ok(sx_ntf_server_start(&o, &e->srv));
    assert_ok(sx_ntf_client_connect("127.0.0.1", sx_ntf_server_port(e->srv), e->fp, TIMEOUT_MS, &e->c));
    assert_int_equal(sx_ntf_client_version(e->c), 3);
}

static void env_free(env *e)
{
    sx_ntf_client_close(e->c);
    sx_ntf_server_stop(e->srv);
    kill(e->standin, SIGTERM);
    int ws = 0;
    assert_int_equal(waitpid(e->standin, &ws, 0), e->standin);
    tu_rm_rf(e->dir);
}

/* The recorded lines for token hex (with "what" in them, if given), newest
 * last; returns how many, the last one copied to line. */
static int find_lines(env *e, const char *hex, const char *what, char *line, size_t cap)
{
    FILE *f = fopen(e->reqs, "r");
    if (!f)
        return 0;
    char buf[16384], tok[300];
    snprintf(tok, sizeof tok, "\"token\":\"%s\"", hex);
    int n = 0;
    while (fgets(buf, sizeof buf, f))
        if (strstr(buf, tok) && (!what || strstr(buf, what))) {
            n++;
            snprintf(line, cap, "%s", buf);
        }
    fclose(f);
    return n;
}

/* Waits until at least n such lines were recorded. */
static void wait_lines(env *e, const char *hex, const char *what, int n, char *line, size_t cap)
{
    for (int i = 0; i < WAIT_S * 20; i++) {
        if (find_lines(e, hex, what, line, cap) >= n)
            return;
        sleep_ms(50);
    }
    fail_msg("no push recorded for %s (%s)", hex, what ? what : "");
}

static void wait_status(env *e, sx_slice id, const sx_key *verify, sx_ntf_tkn_status want,
                        sx_ntf_invalid_reason reason)
{
    sx_ntf_tkn_state s = {0};
    for (int i = 0; i < WAIT_S * 20; i++) {
        assert_ok(sx_ntf_token_check(e->c, id, verify, &s, NULL));
        if (s.status == want && s.reason == reason)
            return;
        sleep_ms(50);
    }
    fail_msg("token status %d,%d, expected %d,%d", s.status, s.reason, want, reason);
}

/* A string value inside the recorded (escaped) body: \"key\":\"value\" */
static size_t body_value(const char *line, const char *key, uint8_t *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\\\"%s\\\":\\\"", key);
    const char *p = strstr(line, pat);
    assert_non_null(p);
    p += strlen(pat);
    const char *end = strstr(p, "\\\"");
    assert_non_null(end);
    size_t n = 0;
    assert_ok(sx_b64_decode(p, (size_t)(end - p), SX_B64_URL, out, cap, &n));
    return n;
}

/* Opens the sealed "key" of a recorded push with the token's DH secret. */
static size_t open_sealed(const char *line, const char *key, const uint8_t secret[32], uint8_t *out, size_t cap)
{
    uint8_t nonce[64], box[4096], plain[4096];
    assert_int_equal(body_value(line, "nonce", nonce, sizeof nonce), 24);
    size_t n = body_value(line, key, box, sizeof box);
    assert_int_equal(n, 3072 + 16);
    sx_slice msg;
    assert_ok(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(box, n), plain, sizeof plain, &msg));
    assert_true(msg.len <= cap);
    memcpy(out, msg.ptr, msg.len);
    return msg.len;
}

typedef struct device {
    char hex[80];
    sx_key *verify, *dh;
    sx_ntf_token_reg reg;
} device;

static void device_register(env *e, device *d, const char *hex)
{
    snprintf(d->hex, sizeof d->hex, "%s", hex);
    assert_ok(sx_key_generate(SX_KEY_ED25519, &d->verify));
    assert_ok(sx_key_generate(SX_KEY_X25519, &d->dh));
    assert_ok(sx_ntf_token_register(e->c, SX_NTF_PP_APNS_TEST, hex, d->verify, d->dh, &d->reg, NULL));
}

static sx_slice dev_id(const device *d)
{
    return sx_slice_of(d->reg.id, d->reg.id_len);
}

static void device_free(device *d)
{
    sx_key_free(d->verify);
    sx_key_free(d->dh);
}

/* Registers, receives the code, verifies: an ACTIVE token. */
static void device_activate(env *e, device *d, const char *hex)
{
    device_register(e, d, hex);
    static char line[16384];
    wait_lines(e, hex, "verification", 1, line, sizeof line);
    wait_status(e, dev_id(d), d->verify, SX_NTF_TKN_CONFIRMED, SX_NTF_INVALID_NONE);
    uint8_t code[64];
    size_t n = open_sealed(line, "verification", d->reg.dh_secret, code, sizeof code);
    assert_int_equal(n, 32);
    assert_ok(sx_ntf_token_verify(e->c, dev_id(d), d->verify, sx_slice_of(code, n), NULL));
    wait_status(e, dev_id(d), d->verify, SX_NTF_TKN_ACTIVE, SX_NTF_INVALID_NONE);
}

static void test_verification(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    device d;
    static char line[16384];
    device_register(&e, &d, "0123456789abcdef0123456789abcdef");
    wait_lines(&e, d.hex, "verification", 1, line, sizeof line);
    /* what the reference sends: a background push, priority 5, the topic,
     * a JWT the stand-in took, answered 200 */
    assert_non_null(strstr(line, "\"path\":\"/3/device/0123456789abcdef0123456789abcdef\""));
    assert_non_null(strstr(line, "\"apns-push-type\":\"background\""));
    assert_non_null(strstr(line, "\"apns-priority\":\"5\""));
    assert_non_null(strstr(line, "\"apns-topic\":\"chat.simplex.app\""));
    assert_non_null(strstr(line, "\"status\":200"));
    assert_non_null(strstr(line, "\"content-available\\\":1"));
    const char *auth = strstr(line, "\"authorization\":\"bearer ");
    assert_non_null(auth);
    auth += strlen("\"authorization\":\"bearer ");
    const char *end = strchr(auth, '"');
    assert_non_null(end);
    sx_ntf_apns_jwt_parts p;
    assert_ok(sx_ntf_apns_jwt_parse(sx_slice_of((const uint8_t *)auth, (size_t)(end - auth)), &p));
    assert_string_equal(p.kid, KID);
    assert_string_equal(p.iss, SX_NTF_APNS_TEAM_ID);
    sx_ntf_apns_key *k = NULL;
    assert_ok(sx_ntf_apns_key_load(e.key, &k));
    assert_true(sx_ntf_apns_jwt_verify(&p, k));
    sx_ntf_apns_key_free(k);
    /* the verification push was delivered: CONFIRMED; a wrong code is refused */
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_CONFIRMED, SX_NTF_INVALID_NONE);
    uint8_t code[64];
    size_t n = open_sealed(line, "verification", d.reg.dh_secret, code, sizeof code);
    assert_int_equal(n, 32);
    uint8_t wrong[32];
    memcpy(wrong, code, 32);
    wrong[0] ^= 1;
    sx_smp_error err;
    assert_int_equal(sx_ntf_token_verify(e.c, dev_id(&d), d.verify, sx_slice_of(wrong, 32), &err), SX_E_AUTH);
    assert_int_equal(err.type, SX_SMP_ERR_AUTH);
    assert_ok(sx_ntf_token_verify(e.c, dev_id(&d), d.verify, sx_slice_of(code, n), NULL));
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_ACTIVE, SX_NTF_INVALID_NONE);
    /* TDEL: the token is gone */
    assert_ok(sx_ntf_token_delete(e.c, dev_id(&d), d.verify, NULL));
    sx_ntf_tkn_state s;
    assert_int_equal(sx_ntf_token_check(e.c, dev_id(&d), d.verify, &s, &err), SX_E_AUTH);
    sx_ntf_push_stats ps;
    sx_ntf_server_push_stats(e.srv, &ps);
    assert_true(ps.delivered >= 1);
    device_free(&d);
    env_free(&e);
}

static void test_periodic(void **state)
{
    (void)state;
    env e;
    env_init(&e, 1);
    device d;
    device_activate(&e, &d, "aa00aa00aa00aa00");
    sx_smp_error err;
    assert_int_equal(sx_ntf_token_cron(e.c, dev_id(&d), d.verify, 5, &err), SX_E_LIMIT); /* under 20 min */
    assert_int_equal(err.type, SX_SMP_ERR_QUOTA);
    assert_ok(sx_ntf_token_cron(e.c, dev_id(&d), d.verify, 20, NULL));
    static char line[16384];
    wait_lines(&e, d.hex, "checkMessages", 1, line, sizeof line);
    assert_non_null(strstr(line, "\"apns-push-type\":\"background\""));
    assert_non_null(strstr(line, "{\\\"aps\\\":{\\\"content-available\\\":1},\\\"notificationData\\\":{"
                                 "\\\"checkMessages\\\":true}}"));
    assert_non_null(strstr(line, "\"status\":200"));
    device_free(&d);
    env_free(&e);
}

static void test_apns_errors(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    device d;
    static char line[16384];
    device_activate(&e, &d, "bb11bb11bb11bb11");
    /* the replaced token's verification push: 400 BadDeviceToken */
    write_text(e.failures, "cc22cc22 400 BadDeviceToken\ndd33dd33 410 Unregistered\n");
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "cc22cc22", NULL));
    wait_lines(&e, "cc22cc22", "\"status\":400", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_INVALID, SX_NTF_INVALID_BAD);
    /* 410 Unregistered */
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "dd33dd33", NULL));
    wait_lines(&e, "dd33dd33", "\"status\":410", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_INVALID, SX_NTF_INVALID_UNREGISTERED);
    /* GOAWAY after the answer: the next push connects again */
    write_text(e.failures, "ee44ee44 goaway\n");
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "ee44ee44", NULL));
    wait_lines(&e, "ee44ee44", "\"status\":200", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_CONFIRMED, SX_NTF_INVALID_NONE);
    write_text(e.failures, "");
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "ff55ff55", NULL));
    wait_lines(&e, "ff55ff55", "\"status\":200", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_CONFIRMED, SX_NTF_INVALID_NONE);
    device_free(&d);
    env_free(&e);
}

static void test_batch(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    device d;
    device_register(&e, &d, "1234");
    sx_key *other = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other));
    sx_ntf_call calls[3];
    memset(calls, 0, sizeof calls);
    calls[0].entity = dev_id(&d);
    calls[0].key = d.verify;
    calls[0].cmd.tag = SX_NTF_C_TCHK;
    calls[1].entity = dev_id(&d);
    calls[1].key = other; /* not the token's key */
    calls[1].cmd.tag = SX_NTF_C_TCHK;
    calls[2].cmd.tag = SX_NTF_C_PING;
    assert_ok(sx_ntf_client_batch(e.c, calls, 3));
    for (int i = 0; i < 3; i++)
        assert_ok(calls[i].status);
    assert_int_equal(calls[0].resp.tag, SX_NTF_R_TKN);
    assert_int_equal(calls[1].resp.tag, SX_NTF_R_ERR);
    assert_int_equal(calls[1].resp.err.type, SX_SMP_ERR_AUTH);
    assert_int_equal(calls[2].resp.tag, SX_NTF_R_PONG);
    assert_ok(sx_ntf_ping(e.c));
    sx_key_free(other);
    device_free(&d);
    env_free(&e);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <apns-standin>\n", argv[0]);
        return 2;
    }
    g_standin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verification),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_apns_errors),
        cmocka_unit_test(test_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
