/* What the NTF integration tests share (see ntf_env.h). */
#include "ntf_env.h"

#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "crypto/box.h"

const char *g_standin;


void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

void ntf_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

const char *g_ntf_server;
bool g_ntf_service;
bool g_ntf_control;
const char *g_ntf_db;
const char *g_ntf_db_schema;
int g_standin_delay_ms;
bool g_ntf_stats;
int64_t g_ntf_stats_interval;
const char *g_ntf_own_domains;

/* Runs the ntf-server program with the test's folders (and APNS key) in its
 * environment; out: where its output goes. */
static pid_t run_ntf_server(const env *e, const char *cmd, const char *out)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        char cfg[160], log[160];
        snprintf(cfg, sizeof cfg, "%s/etc", e->dir);
        snprintf(log, sizeof log, "%s/var", e->dir);
        setenv(SX_NTF_CFG_ENV, cfg, 1);
        setenv(SX_NTF_LOG_ENV, log, 1);
        setenv(SX_NTF_APNS_KEY_FILE_ENV, e->key, 1);
        setenv(SX_NTF_APNS_KEY_ID_ENV, KID, 1);
        FILE *f = freopen(out, "a", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execl(g_ntf_server, g_ntf_server, cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* `ntf-server init`, then its INI given a free port and an [APNS] section
 * pointing at the stand-in. */
static void proc_init(env *e)
{
    char out[160], path[160], text[8192];
    snprintf(out, sizeof out, "%s/ntf-server.out", e->dir);
    pid_t pid = run_ntf_server(e, "init", out);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* the fingerprint */
    snprintf(path, sizeof path, "%s/etc/fingerprint", e->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char fp[128] = "";
    assert_non_null(fgets(fp, sizeof fp, f));
    fclose(f);
    size_t n = strcspn(fp, "\r\n"), got = 0;
    assert_ok(sx_b64_decode(fp, n, SX_B64_URL, e->fp, sizeof e->fp, &got));
    assert_int_equal(got, SX_FINGERPRINT_LEN);
    /* the INI: the port, and [APNS] */
    e->ntf_port = tu_free_port();
    snprintf(path, sizeof path, "%s/etc/ntf-server.ini", e->dir);
    f = fopen(path, "r");
    assert_non_null(f);
    size_t len = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "port:", 5) == 0)
            snprintf(line, sizeof line, "port: %u\n", (unsigned)e->ntf_port);
        if (g_ntf_service && strncmp(line, "# use_service_credentials:", 26) == 0)
            snprintf(line, sizeof line, "use_service_credentials: on\n");
        if (g_ntf_stats && strncmp(line, "log_stats:", 10) == 0)
            snprintf(line, sizeof line, "log_stats: on\n");
        if (g_ntf_stats && g_ntf_stats_interval > 0 && strncmp(line, "# prometheus_interval:", 22) == 0)
            snprintf(line, sizeof line, "prometheus_interval: %lld\n", (long long)g_ntf_stats_interval);
        if (g_ntf_own_domains && strncmp(line, "# own_server_domains:", 21) == 0)
            snprintf(line, sizeof line, "own_server_domains: %.900s\n", g_ntf_own_domains);
        if (g_ntf_db && strstr(line, "db_connection:") && strlen(g_ntf_db) < 900)
            snprintf(line, sizeof line, "db_connection: %s\n", g_ntf_db);
        if (g_ntf_db && g_ntf_db_schema && strstr(line, "db_schema:"))
            snprintf(line, sizeof line, "db_schema: %.200s\n", g_ntf_db_schema);
        if (g_ntf_db && strstr(line, "db_pool_size:"))
            snprintf(line, sizeof line, "db_pool_size: 2\n");
        size_t l = strlen(line);
        assert_true(len + l < sizeof text);
        memcpy(text + len, line, l);
        len += l;
    }
    fclose(f);
    text[len] = 0;
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n[APNS]\nhost: localhost\nport: %u\nca_file: %s/ca.crt\n", text, (unsigned)e->apns_port,
            e->sdir);
    if (e->periodic_s)
        fprintf(f, "periodic_interval: %u\n", e->periodic_s);
    assert_int_equal(fclose(f), 0);
}

static void proc_start(env *e)
{
    char out[160];
    snprintf(out, sizeof out, "%s/ntf-server.out", e->dir);
    e->ntf_pid = run_ntf_server(e, "start", out);
    sx_status st = SX_E_IO;
    for (int i = 0; i < WAIT_S * 10 && st != SX_OK; i++) {
        assert_int_equal(waitpid(e->ntf_pid, NULL, WNOHANG), 0); /* still running */
        st = sx_ntf_client_connect("127.0.0.1", e->ntf_port, e->fp, TIMEOUT_MS, &e->c);
        if (st != SX_OK)
            ntf_sleep_ms(100);
    }
    assert_ok(st);
}

void env_init(env *e, unsigned periodic_s)
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
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* not left running when the test dies */
        char delay[24];
        snprintf(delay, sizeof delay, "%d", g_standin_delay_ms);
        execl(g_standin, g_standin, "--dir", e->sdir, "--key-file", e->key, "--kid", KID, "--delay-ms", delay,
              (char *)NULL);
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
        ntf_sleep_ms(50);
    }
    assert_true(e->apns_port != 0);
    /* the NTF router */
    char cfg[128], log[128], host[64], err[256];
    snprintf(cfg, sizeof cfg, "%s/etc", e->dir);
    snprintf(log, sizeof log, "%s/var", e->dir);
    assert_ok(sx_ntf_paths_init(&e->paths, cfg, log));
    e->periodic_s = periodic_s;
    if (g_ntf_server) {
        proc_init(e);
    } else {
        sx_ntf_init_options io;
        sx_ntf_init_options_default(&io);
        assert_ok(sx_ntf_setup_init(&e->paths, &io, e->fp, host, sizeof host, err, sizeof err));
    }
    env_router_start(e);
}

void env_router_start(env *e)
{
    if (g_ntf_server) {
        proc_start(e);
        return;
    }
    char ca[160];
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
    o.db_connection = g_ntf_db;
    o.db_pool_size = g_ntf_db ? 2 : 0;
    o.apns = &ao;
    o.periodic_s = e->periodic_s;
    o.control = g_ntf_control;
    o.control_user_password = "ntf-user";
    o.control_admin_password = "ntf-admin";
    o.stats_backup_path = g_ntf_stats ? e->paths.stats_backup : NULL;
    o.stats_daily_path = g_ntf_stats && g_ntf_stats_interval > 0 ? e->paths.stats_daily : NULL;
    o.stats_interval = g_ntf_stats_interval;
    o.metrics_path = g_ntf_stats && g_ntf_stats_interval > 0 ? e->paths.metrics : NULL;
    o.metrics_interval = g_ntf_stats_interval;
    o.own_server_domains = g_ntf_own_domains;
    assert_ok(sx_ntf_server_start(&o, &e->srv));
    assert_ok(sx_ntf_client_connect("127.0.0.1", sx_ntf_server_port(e->srv), e->fp, TIMEOUT_MS, &e->c));
    assert_int_equal(sx_ntf_client_version(e->c), 3);
}

void env_router_kill(env *e)
{
    assert_true(e->ntf_pid > 0);
    sx_ntf_client_close(e->c);
    e->c = NULL;
    kill(e->ntf_pid, SIGKILL);
    int ws = 0;
    assert_int_equal(waitpid(e->ntf_pid, &ws, 0), e->ntf_pid);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    e->ntf_pid = 0;
}

void env_router_stop(env *e)
{
    sx_ntf_client_close(e->c);
    e->c = NULL;
    if (e->ntf_pid > 0) {
        kill(e->ntf_pid, SIGTERM);
        int ws = 0;
        assert_int_equal(waitpid(e->ntf_pid, &ws, 0), e->ntf_pid);
        assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
        e->ntf_pid = 0;
    }
    sx_ntf_server_stop(e->srv);
    e->srv = NULL;
}

void env_free(env *e)
{
    env_router_stop(e);
    kill(e->standin, SIGTERM);
    int ws = 0;
    assert_int_equal(waitpid(e->standin, &ws, 0), e->standin);
    tu_rm_rf(e->dir);
}

/* The recorded lines for token hex (with "what" in them, if given), newest
 * last; returns how many, the last one copied to line. */
int find_lines(env *e, const char *hex, const char *what, char *line, size_t cap)
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
void wait_lines(env *e, const char *hex, const char *what, int n, char *line, size_t cap)
{
    for (int i = 0; i < WAIT_S * 20; i++) {
        if (find_lines(e, hex, what, line, cap) >= n)
            return;
        ntf_sleep_ms(50);
    }
    fail_msg("no push recorded for %s (%s)", hex, what ? what : "");
}

void wait_status(env *e, sx_slice id, const sx_key *verify, sx_ntf_tkn_status want,
                 sx_ntf_invalid_reason reason)
{
    sx_ntf_tkn_state s = {0};
    for (int i = 0; i < WAIT_S * 20; i++) {
        assert_ok(sx_ntf_token_check(e->c, id, verify, &s, NULL));
        if (s.status == want && s.reason == reason)
            return;
        ntf_sleep_ms(50);
    }
    fail_msg("token status %d,%d, expected %d,%d", s.status, s.reason, want, reason);
}

/* A string value inside the recorded (escaped) body: \"key\":\"value\" */
size_t body_value(const char *line, const char *key, uint8_t *out, size_t cap)
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
size_t open_sealed(const char *line, const char *key, const uint8_t secret[32], uint8_t *out, size_t cap)
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


void device_register(env *e, device *d, const char *hex)
{
    snprintf(d->hex, sizeof d->hex, "%s", hex);
    assert_ok(sx_key_generate(SX_KEY_ED25519, &d->verify));
    assert_ok(sx_key_generate(SX_KEY_X25519, &d->dh));
    assert_ok(sx_ntf_token_register(e->c, SX_NTF_PP_APNS_TEST, hex, d->verify, d->dh, &d->reg, NULL));
}

sx_slice dev_id(const device *d)
{
    return sx_slice_of(d->reg.id, d->reg.id_len);
}

void device_free(device *d)
{
    sx_key_free(d->verify);
    sx_key_free(d->dh);
}

/* Registers, receives the code, verifies: an ACTIVE token. */
void device_activate(env *e, device *d, const char *hex)
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
