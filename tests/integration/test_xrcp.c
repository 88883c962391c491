/* Integration test of the XRCP controller and host objects (src/xrcp
 * ctrl.c, host.c; PROTOCOL-NOTES X7-X10) over real TLS on loopback: a
 * controller on its own thread with its long-term CA and a fresh leaf per
 * session, a host with its own CA, the invitation passed as text, both
 * chains checked against fingerprints, the same session code (tls-unique)
 * on both sides, the HELLO exchange with a real sntrup761 KEM, one command
 * and response through the chain keys, refusals (unknown host, wrong
 * controller, a HELLO naming another CA, expired invitations), and later
 * sessions announced by the controller's announcer over multicast UDP on
 * loopback to a host that keeps its pairing (both pairings saved to files
 * and loaded again between the sessions), and a host whose listener holds a
 * packet of an ended session ahead of the new session's.
 * Commands and responses go over HTTP/2 with the host as the server
 * (PROTOCOL-NOTES X11): a tampered command and a repeated counter refused,
 * a large attachment checked against the digest in its JSON. */
#define _GNU_SOURCE /* memmem */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/util.h"
#include "transport/tls.h"
#include "xrcp/announce.h"
#include "xrcp/ctrl.h"
#include "xrcp/discovery.h"
#include "xrcp/host.h"
#include "xrcp/invitation.h"
#include "xrcp/pairfile.h"
#include "xrcp/session.h"

#define WAIT_MS 10000

/* What the controller does once the session has started. */
typedef enum script {
    SCRIPT_ONE,     /* one command */
    SCRIPT_REFUSED, /* a tampered command, a repeated counter, then a good one */
    SCRIPT_LARGE,   /* a command with a large attachment, echoed back */
    SCRIPT_BROKEN,  /* an attachment whose source fails half way, then a good command */
} script;

#define LARGE_LEN (6u << 20)

/* ---- the controller (TLS server), on its own thread ---------------------- */

typedef struct controller {
    sx_xrcp_ctrl_pairing *pairing;
    sx_xrcp_ctrl *ctrl;
    pthread_t thread;
    /* results */
    sx_status st;
    int step;
    sx_xrcp_err err;
    uint8_t code[SX_TLS_UNIQUE_MAX];
    size_t code_len;
    uint8_t host_fp[32];
    char command[64]; /* the JSON of the last response */
    char *uri;        /* a copy of the invitation */
    script script;
    int refused;         /* responses that were protocol errors */
    bool large_back;     /* the large attachment came back intact */
    sx_status broken_st; /* SCRIPT_BROKEN: the broken command's status */
} controller;

/* One command; the response's JSON goes to c->command. */
static sx_status command(controller *c, const char *json, sx_slice att, sx_slice *back, uint8_t **buf)
{
    sx_slice rjson, ratt;
    bool has = false;
    sx_xrcp_body_err why;
    sx_status st = sx_xrcp_ctrl_command(c->ctrl, sx_slice_str(json), att, WAIT_MS, buf, &rjson, &has, &ratt, &why);
    if (st != SX_OK)
        return st;
    snprintf(c->command, sizeof c->command, "%.*s", (int)rjson.len, (const char *)rjson.ptr);
    if (strstr(c->command, "protocolError") != NULL)
        c->refused++;
    if (back != NULL)
        *back = has ? ratt : sx_slice_of(NULL, 0);
    return SX_OK;
}

/* A source of an attachment that fails after 300000 of its bytes. */
static sx_status broken_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    size_t *off = arg;
    if (*off >= 300000)
        return SX_E_IO;
    size_t n = cap < 4096 ? cap : 4096;
    memset(buf, 0x5a, n);
    *off += n;
    *got = n;
    return SX_OK;
}

static sx_status run_script(controller *c)
{
    uint8_t *buf = NULL;
    sx_status st = SX_OK;
    if (c->script == SCRIPT_REFUSED) {
        sx_xrcp_ctrl_test_tamper(c->ctrl);
        st = command(c, "/_get chats 1", sx_slice_of(NULL, 0), NULL, &buf);
        free(buf);
        if (st == SX_OK)
            st = command(c, "/_get chats 2", sx_slice_of(NULL, 0), NULL, &buf);
        free(buf);
        if (st == SX_OK) {
            sx_xrcp_ctrl_test_repeat_counter(c->ctrl);
            st = command(c, "/_get chats 3", sx_slice_of(NULL, 0), NULL, &buf);
            free(buf);
        }
        return st;
    }
    if (c->script == SCRIPT_BROKEN) {
        size_t off = 0;
        sx_slice rjson;
        bool has = false;
        uint64_t alen = 0;
        c->broken_st = sx_xrcp_ctrl_command_stream(c->ctrl, sx_slice_str("{\"type\":\"storeFile\"}"), true,
                                                   1000000, broken_read, &off, NULL, NULL, WAIT_MS, &buf, &rjson,
                                                   &has, &alen, NULL);
        free(buf);
        buf = NULL;
        st = command(c, "/_get chats 2", sx_slice_of(NULL, 0), NULL, &buf);
        free(buf);
        return st;
    }
    if (c->script == SCRIPT_LARGE) {
        uint8_t *att = malloc(LARGE_LEN), digest[SX_SHA512_LEN];
        if (att == NULL)
            return SX_E_NOMEM;
        for (size_t i = 0; i < LARGE_LEN; i++)
            att[i] = (uint8_t)(i * 31 + (i >> 11));
        char json[200];
        st = sx_sha512(sx_slice_of(att, LARGE_LEN), digest);
        snprintf(json, sizeof json, "{\"type\":\"storeFile\",\"digest\":\"%.64s\"}", tu_to_hex(digest, 32));
        sx_slice back;
        if (st == SX_OK)
            st = command(c, json, sx_slice_of(att, LARGE_LEN), &back, &buf);
        if (st == SX_OK)
            c->large_back = back.len == LARGE_LEN && memcmp(back.ptr, att, LARGE_LEN) == 0;
        free(buf);
        free(att);
        return st;
    }
    st = command(c, "/_get chats 1", sx_slice_of(NULL, 0), NULL, &buf);
    free(buf);
    return st;
}

static void *controller_main(void *arg)
{
    controller *c = arg;
    c->step = 2;
    c->st = sx_xrcp_ctrl_accept(c->ctrl, WAIT_MS);
    if (c->st != SX_OK)
        goto done;
    sx_slice code = sx_xrcp_ctrl_code(c->ctrl);
    memcpy(c->code, code.ptr, code.len);
    c->code_len = code.len;
    memcpy(c->host_fp, sx_xrcp_ctrl_host_fp(c->ctrl), 32);
    c->step = 3;
    c->st = sx_xrcp_ctrl_answer_hello(c->ctrl, WAIT_MS);
    if (c->st != SX_OK)
        goto done;
    c->step = 5;
    c->st = run_script(c);
done:
    c->err = sx_xrcp_ctrl_error(c->ctrl);
    sx_xrcp_ctrl_free(c->ctrl); /* closes the session: the host sees the end */
    c->ctrl = NULL;
    return NULL;
}

/* Starts a controller session for pairing and returns its invitation text
 * (a copy that controller_join frees). */
static const char *controller_start(controller *c, sx_xrcp_ctrl_pairing *pairing)
{
    memset(c, 0, sizeof *c);
    c->pairing = pairing;
    sx_xrcp_ctrl_config cfg = {.address = "127.0.0.1", .app = "{\"device\":\"desktop\"}"};
    assert_ok(sx_xrcp_ctrl_new(pairing, &cfg, &c->ctrl));
    c->uri = strdup(sx_xrcp_ctrl_invitation(c->ctrl));
    assert_non_null(c->uri);
    return c->uri;
}

/* Runs the controller's side; the announcer, when the test wants one, is
 * started before. */
static void controller_run(controller *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, controller_main, c), 0);
}

static void controller_join(controller *c)
{
    assert_int_equal(pthread_join(c->thread, NULL), 0);
    free(c->uri);
    c->uri = NULL;
}

/* ---- the host (TLS client), in the test's thread ------------------------ */

typedef struct host_result {
    sx_status st;
    sx_xrcp_err err;
    uint8_t code[SX_TLS_UNIQUE_MAX];
    size_t code_len;
    char command[64]; /* the first command's JSON */
    int commands;     /* commands served */
    int refused;      /* commands refused */
    sx_xrcp_body_err why[4];
    size_t att_len;
    bool att_ok; /* the attachment matched the digest in its JSON */
} host_result;

static void host_serve(sx_xrcp_host *h, bool lie_ca, host_result *r);

/* Joins the session of the (already checked) invitation s with pairing p.
 * wrong_ctrl: the host expects another controller fingerprint; lie_ca: its
 * HELLO names a CA that is not its TLS chain's. */
static void host_join(const sx_xrcp_signed_invitation *s, sx_xrcp_host_pairing *p, bool wrong_ctrl, bool lie_ca,
                      host_result *r)
{
    memset(r, 0, sizeof *r);
    sx_xrcp_signed_invitation copy = *s;
    if (wrong_ctrl)
        memset(copy.inv.ca, 7, sizeof copy.inv.ca);
    sx_xrcp_host *h = NULL;
    r->st = sx_xrcp_host_connect(p, &copy, "{\"device\":\"phone\"}", WAIT_MS, &h, &r->err);
    if (r->st != SX_OK)
        return;
    host_serve(h, lie_ca, r);
}

/* The session of a connected host h: the HELLO, then commands served until
 * the controller ends the session; frees h. */
static void host_serve(sx_xrcp_host *h, bool lie_ca, host_result *r)
{
    sx_slice code = sx_xrcp_host_code(h);
    memcpy(r->code, code.ptr, code.len);
    r->code_len = code.len;
    /* the user compares the codes and confirms; then the HELLO */
    if (lie_ca)
        sx_xrcp_host_test_lie_ca(h);
    r->st = sx_xrcp_host_send_hello(h, WAIT_MS);
    r->err = sx_xrcp_host_error(h);
    /* serve commands until the controller closes the session */
    while (r->st == SX_OK) {
        int32_t stream = 0;
        uint8_t *buf = NULL;
        sx_slice json, att;
        bool has = false;
        sx_xrcp_body_err why = SX_XRCP_BODY_OK;
        sx_status st = sx_xrcp_host_next_command(h, WAIT_MS, &stream, &buf, &json, &has, &att, &why);
        if (st == SX_E_CLOSED)
            break;
        if (st == SX_E_AUTH || st == SX_E_PROTOCOL) {
            r->why[r->refused < 4 ? r->refused : 3] = why;
            r->refused++;
            continue;
        }
        r->st = st;
        if (st != SX_OK)
            break;
        r->commands++;
        if (r->commands == 1)
            snprintf(r->command, sizeof r->command, "%.*s", (int)json.len, (const char *)json.ptr);
        if (has) {
            /* the digest in the JSON names the attachment */
            uint8_t d[SX_SHA512_LEN];
            char hex[65];
            r->att_len = att.len;
            snprintf(hex, sizeof hex, "%s", sx_sha512(att, d) == SX_OK ? tu_to_hex(d, 32) : "");
            r->att_ok = json.len > 64 && memmem(json.ptr, json.len, hex, 64) != NULL;
        }
        r->st = sx_xrcp_host_reply(h, stream, sx_slice_str("{\"chats\":[]}"), has ? att : sx_slice_of(NULL, 0),
                                   WAIT_MS);
        free(buf);
    }
    sx_xrcp_host_free(h);
}

/* The host's side of a first session: the invitation text as scanned. */
static void host_run(const char *uri, sx_xrcp_host_pairing *p, bool wrong_ctrl, bool lie_ca, host_result *r)
{
    sx_xrcp_signed_invitation s;
    memset(r, 0, sizeof *r);
    r->st = sx_xrcp_invitation_decode(sx_slice_str(uri), &s);
    if (r->st == SX_OK)
        r->st = sx_xrcp_host_check(&s, p, (int64_t)time(NULL), SX_XRCP_MAX_AGE, &r->err);
    if (r->st == SX_OK)
        host_join(&s, p, wrong_ctrl, lie_ca, r);
    sx_xrcp_signed_invitation_clear(&s);
}

static void test_first_session(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    controller c;
    const char *uri = controller_start(&c, &cp);
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, false, false, &r);
    controller_join(&c);
    assert_ok(r.st);
    assert_ok(c.st);
    assert_int_equal(c.step, 5);
    /* both sides show the same session code */
    assert_true(r.code_len >= 32);
    assert_int_equal(r.code_len, c.code_len);
    assert_memory_equal(r.code, c.code, r.code_len);
    /* each side now knows the other's long-term identity */
    assert_memory_equal(c.host_fp, hp.ca.fp, 32);
    assert_true(cp.paired);
    assert_memory_equal(cp.host_fp, hp.ca.fp, 32);
    assert_true(hp.paired);
    assert_memory_equal(hp.ctrl_fp, cp.ca.fp, 32);
    assert_non_null(hp.dh);
    assert_null(hp.prev_dh);
    assert_string_equal(r.command, "/_get chats 1");
    assert_string_equal(c.command, "{\"chats\":[]}");
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* A command with one byte flipped under the signatures, and one whose
 * counter repeats the previous one: the host refuses both and answers each
 * with a protocol error; the good command between them is served. */
static void test_refused_commands(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    controller c;
    const char *uri = controller_start(&c, &cp);
    c.script = SCRIPT_REFUSED;
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, false, false, &r);
    controller_join(&c);
    assert_ok(c.st);
    assert_ok(r.st);
    assert_int_equal(r.commands, 1);
    assert_string_equal(r.command, "/_get chats 2");
    assert_int_equal(r.refused, 2);
    assert_int_equal(r.why[0], SX_XRCP_BODY_CTRL_AUTH);
    assert_int_equal(r.why[1], SX_XRCP_BODY_DUPLICATE);
    assert_int_equal(c.refused, 2);
    assert_non_null(strstr(c.command, "duplicate counter"));
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* A command with a 6 MB attachment over HTTP/2: the host checks it against
 * the digest in the command's JSON and sends it back with its response. */
static void test_large_attachment(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    controller c;
    const char *uri = controller_start(&c, &cp);
    c.script = SCRIPT_LARGE;
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, false, false, &r);
    controller_join(&c);
    assert_ok(c.st);
    assert_ok(r.st);
    assert_int_equal(r.commands, 1);
    assert_int_equal(r.att_len, LARGE_LEN);
    assert_true(r.att_ok);
    assert_true(c.large_back);
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* The controller's attachment source fails after 300 kB of 1 MB: its
 * stream is reset, the command fails with the source's status, the host
 * reports the half-received command as failed (its writer's bytes to be
 * discarded) and serves the next command, which comes right after the
 * reset, as usual. */
static void test_broken_source(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    controller c;
    const char *uri = controller_start(&c, &cp);
    c.script = SCRIPT_BROKEN;
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, false, false, &r);
    controller_join(&c);
    assert_int_equal(c.broken_st, SX_E_IO);
    assert_ok(c.st);
    assert_ok(r.st);
    assert_int_equal(r.refused, 1);
    assert_int_equal(r.commands, 1);
    assert_string_equal(r.command, "/_get chats 2");
    assert_string_equal(c.command, "{\"chats\":[]}");
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* A paired controller refuses a host with another CA after the handshake,
 * before any HELLO. */
static void test_unknown_host(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp, other;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    assert_ok(sx_xrcp_host_pairing_new(&other));
    memcpy(cp.host_fp, other.ca.fp, 32);
    cp.paired = true;
    controller c;
    const char *uri = controller_start(&c, &cp);
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, false, false, &r);
    controller_join(&c);
    assert_int_equal(c.st, SX_E_AUTH);
    assert_int_equal(c.err, SX_XRCP_ERR_IDENTITY);
    assert_int_equal(c.step, 2);
    assert_int_not_equal(r.st, SX_OK);
    assert_false(hp.paired);
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
    sx_xrcp_host_pairing_clear(&other);
}

/* The host expects another controller fingerprint: its TLS client refuses
 * the server chain (IDENTITY). */
static void test_wrong_controller(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    controller c;
    const char *uri = controller_start(&c, &cp);
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, true, false, &r);
    controller_join(&c);
    assert_int_not_equal(r.st, SX_OK);
    assert_int_equal(r.err, SX_XRCP_ERR_IDENTITY);
    assert_int_not_equal(c.st, SX_OK);
    assert_int_equal(c.step, 2);
    assert_false(cp.paired);
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* The HELLO names a host CA that is not the one of the TLS chain: the
 * controller refuses it (IDENTITY) and says so in an ERROR block. */
static void test_hello_identity(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    controller c;
    const char *uri = controller_start(&c, &cp);
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, false, true, &r);
    controller_join(&c);
    assert_int_equal(c.st, SX_E_AUTH);
    assert_int_equal(c.err, SX_XRCP_ERR_IDENTITY);
    assert_int_equal(c.step, 3);
    assert_int_equal(r.st, SX_E_AUTH);
    assert_int_equal(r.err, SX_XRCP_ERR_CTRL_ERROR);
    assert_false(cp.paired);
    assert_false(hp.paired);
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* An invitation older than the host accepts, and one from the future. */
static void test_expired_invitation(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    int64_t now = (int64_t)time(NULL);
    const int64_t when[2] = {now - SX_XRCP_MAX_AGE - 10, now + SX_XRCP_CLOCK_SKEW + 10};
    for (int i = 0; i < 2; i++) {
        sx_xrcp_ctrl_config cfg = {.address = "127.0.0.1", .ts = when[i]};
        sx_xrcp_ctrl *ctrl = NULL;
        assert_ok(sx_xrcp_ctrl_new(&cp, &cfg, &ctrl));
        sx_xrcp_signed_invitation s;
        assert_ok(sx_xrcp_invitation_decode(sx_slice_str(sx_xrcp_ctrl_invitation(ctrl)), &s));
        sx_xrcp_err err = SX_XRCP_ERR_NONE;
        assert_int_equal(sx_xrcp_host_check(&s, &hp, now, SX_XRCP_MAX_AGE, &err), SX_E_AUTH);
        assert_int_equal(err, SX_XRCP_ERR_INVITATION);
        /* the same invitation read at its own time passes */
        assert_ok(sx_xrcp_host_check(&s, &hp, when[i], SX_XRCP_MAX_AGE, &err));
        sx_xrcp_signed_invitation_clear(&s);
        sx_xrcp_ctrl_free(ctrl);
    }
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* The host's side of a later session: listen on the group, take the first
 * announcement a pairing opens and that passes the checks, join. */
static void host_by_announcement(int lfd, sx_xrcp_host_pairing *p, size_t *which, host_result *r)
{
    sx_xrcp_host_pairing *ps[1] = {p};
    sx_xrcp_signed_invitation s;
    memset(r, 0, sizeof *r);
    r->st = sx_xrcp_host_discover(lfd, ps, 1, SX_XRCP_MAX_AGE, WAIT_MS, &s, which, &r->err);
    if (r->st == SX_OK) {
        host_join(&s, p, false, false, r);
        sx_xrcp_signed_invitation_clear(&s);
    }
}

/* First session by invitation, the next two by announcement over multicast
 * UDP on loopback (the controller's announcer thread): the second boxed to
 * the host's last HELLO key, the third to the key before it (a controller
 * that failed to store the newest), which the host still opens with its
 * previous key. An announcement from another identity that the host can
 * open is refused (IDENTITY). */
static void test_later_sessions(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    /* session 1: invitation shown out of band */
    controller c;
    const char *uri = controller_start(&c, &cp);
    controller_run(&c);
    host_result r;
    host_run(uri, &hp, false, false, &r);
    controller_join(&c);
    assert_ok(r.st);
    assert_ok(c.st);
    /* both sides keep their pairing in a file and start again from it */
    char dir[] = "/tmp/sx-xrcp-it-XXXXXX", cpath[64], hpath[64];
    assert_non_null(mkdtemp(dir));
    snprintf(cpath, sizeof cpath, "%s/ctrl", dir);
    snprintf(hpath, sizeof hpath, "%s/host", dir);
    assert_ok(sx_xrcp_ctrl_pairing_save(cpath, &cp));
    assert_ok(sx_xrcp_host_pairing_save(hpath, &hp));
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
    assert_ok(sx_xrcp_ctrl_pairing_load(cpath, &cp));
    assert_ok(sx_xrcp_host_pairing_load(hpath, &hp));
    tu_rm_rf(dir);
    uint8_t dh1[32];
    memcpy(dh1, cp.host_dh, 32);
    int lfd = -1;
    uint16_t mport = 0;
    assert_ok(sx_xrcp_mcast_listen(SX_XRCP_MCAST_GROUP, 0, "127.0.0.1", &lfd, &mport));
    /* session 2 */
    size_t which = 9;
    controller_start(&c, &cp);
    assert_ok(sx_xrcp_ctrl_announce_start(c.ctrl, SX_XRCP_MCAST_GROUP, mport, "127.0.0.1", SX_XRCP_ANNOUNCE_COUNT,
                                          200));
    controller_run(&c);
    host_by_announcement(lfd, &hp, &which, &r);
    controller_join(&c);
    assert_ok(r.st);
    assert_ok(c.st);
    assert_int_equal(which, 0);
    assert_string_equal(r.command, "/_get chats 1");
    assert_memory_not_equal(dh1, cp.host_dh, 32);
    assert_non_null(hp.prev_dh);
    /* session 3, announced to the older key; a fresh listener, so that no
     * packet of session 2's announcer (its session is over) is still queued */
    sx_xrcp_mcast_close(lfd);
    uint16_t again = 0;
    assert_ok(sx_xrcp_mcast_listen(SX_XRCP_MCAST_GROUP, mport, "127.0.0.1", &lfd, &again));
    memcpy(cp.host_dh, dh1, 32);
    controller_start(&c, &cp);
    assert_ok(sx_xrcp_ctrl_announce_start(c.ctrl, SX_XRCP_MCAST_GROUP, mport, "127.0.0.1", SX_XRCP_ANNOUNCE_COUNT,
                                          200));
    controller_run(&c);
    host_by_announcement(lfd, &hp, &which, &r);
    controller_join(&c);
    assert_ok(r.st);
    assert_ok(c.st);
    /* another controller identity that knows the host's key: its packet
     * opens, but the host refuses it and so discovers nothing; the
     * announcer sends a few packets */
    sx_xrcp_ctrl_pairing other;
    assert_ok(sx_xrcp_ctrl_pairing_new(&other));
    other.paired = true;
    memcpy(other.host_fp, hp.ca.fp, 32);
    memcpy(other.host_dh, cp.host_dh, 32);
    sx_xrcp_ctrl_config cfg = {.address = "127.0.0.1"};
    sx_xrcp_ctrl *octrl = NULL;
    assert_ok(sx_xrcp_ctrl_new(&other, &cfg, &octrl));
    uint8_t packet[SX_XRCP_ANNOUNCE_LEN];
    assert_ok(sx_xrcp_ctrl_announcement(octrl, packet));
    const sx_key *keys[1] = {hp.dh};
    sx_xrcp_signed_invitation s;
    assert_ok(sx_xrcp_announce_decode(sx_slice_of(packet, sizeof packet), keys, 1, &s, NULL));
    sx_xrcp_err err = SX_XRCP_ERR_NONE;
    assert_int_equal(sx_xrcp_host_check(&s, &hp, (int64_t)time(NULL), SX_XRCP_MAX_AGE, &err), SX_E_AUTH);
    assert_int_equal(err, SX_XRCP_ERR_IDENTITY);
    sx_xrcp_signed_invitation_clear(&s);
    assert_ok(sx_xrcp_ctrl_announce_start(octrl, SX_XRCP_MCAST_GROUP, mport, "127.0.0.1", 3, 100));
    sx_xrcp_host_pairing *ps[1] = {&hp};
    assert_int_equal(sx_xrcp_host_discover(lfd, ps, 1, SX_XRCP_MAX_AGE, 1500, &s, &which, &err), SX_E_IO);
    assert_int_equal(err, SX_XRCP_ERR_NOT_DISCOVERED);
    sx_xrcp_ctrl_free(octrl);
    sx_xrcp_ctrl_pairing_clear(&other);
    sx_xrcp_mcast_close(lfd);
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

/* A listener kept open across sessions holds a packet of a session that has
 * ended (its controller no longer listens) ahead of the new session's:
 * discovery alone takes the stale one and the connection fails; discovery
 * with connection passes over it and joins the new session. */
static void test_stale_announcement(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing cp;
    sx_xrcp_host_pairing hp;
    assert_ok(sx_xrcp_ctrl_pairing_new(&cp));
    assert_ok(sx_xrcp_host_pairing_new(&hp));
    controller c;
    host_result r;
    const char *uri = controller_start(&c, &cp);
    controller_run(&c);
    host_run(uri, &hp, false, false, &r);
    controller_join(&c);
    assert_ok(r.st);
    assert_ok(c.st);
    int lfd = -1, sfd = -1;
    uint16_t mport = 0;
    assert_ok(sx_xrcp_mcast_listen(SX_XRCP_MCAST_GROUP, 0, "127.0.0.1", &lfd, &mport));
    assert_ok(sx_xrcp_mcast_sender("127.0.0.1", &sfd));
    /* a session that ended: its announcement stays queued */
    sx_xrcp_ctrl_config cfg = {.address = "127.0.0.1"};
    sx_xrcp_ctrl *old = NULL;
    assert_ok(sx_xrcp_ctrl_new(&cp, &cfg, &old));
    uint8_t packet[SX_XRCP_ANNOUNCE_LEN];
    assert_ok(sx_xrcp_ctrl_announcement(old, packet));
    sx_xrcp_signed_invitation stale;
    assert_ok(sx_xrcp_invitation_decode(sx_slice_str(sx_xrcp_ctrl_invitation(old)), &stale));
    sx_xrcp_ctrl_free(old);
    /* the failure without the fix: the stale packet is found, and cannot be
     * joined */
    assert_ok(sx_xrcp_mcast_send(sfd, SX_XRCP_MCAST_GROUP, mport, sx_slice_of(packet, sizeof packet)));
    sx_xrcp_host_pairing *ps[1] = {&hp};
    sx_xrcp_signed_invitation s;
    size_t which = 9;
    sx_xrcp_err err = SX_XRCP_ERR_NONE;
    assert_ok(sx_xrcp_host_discover(lfd, ps, 1, SX_XRCP_MAX_AGE, WAIT_MS, &s, &which, &err));
    assert_memory_equal(s.inv.dh, stale.inv.dh, 32);
    sx_xrcp_host *h = NULL;
    assert_int_not_equal(sx_xrcp_host_connect(&hp, &s, NULL, WAIT_MS, &h, &err), SX_OK);
    assert_int_equal(err, SX_XRCP_ERR_EXCEPTION);
    sx_xrcp_signed_invitation_clear(&s);
    /* the stale packet queued twice, then the new session's announcer */
    for (int i = 0; i < 2; i++)
        assert_ok(sx_xrcp_mcast_send(sfd, SX_XRCP_MCAST_GROUP, mport, sx_slice_of(packet, sizeof packet)));
    controller_start(&c, &cp);
    sx_xrcp_signed_invitation fresh;
    assert_ok(sx_xrcp_invitation_decode(sx_slice_str(c.uri), &fresh));
    assert_memory_not_equal(fresh.inv.dh, stale.inv.dh, 32);
    assert_ok(sx_xrcp_ctrl_announce_start(c.ctrl, SX_XRCP_MCAST_GROUP, mport, "127.0.0.1", SX_XRCP_ANNOUNCE_COUNT,
                                          200));
    controller_run(&c);
    memset(&r, 0, sizeof r);
    r.st = sx_xrcp_host_discover_connect(lfd, ps, 1, SX_XRCP_MAX_AGE, "{}", WAIT_MS, &h, &which, &r.err);
    if (r.st == SX_OK) {
        assert_memory_equal(sx_xrcp_host_signed(h)->inv.dh, fresh.inv.dh, 32);
        host_serve(h, false, &r);
    }
    controller_join(&c);
    assert_ok(r.st);
    assert_ok(c.st);
    assert_int_equal(which, 0);
    assert_int_equal(r.commands, 1);
    assert_string_equal(r.command, "/_get chats 1");
    sx_xrcp_signed_invitation_clear(&stale);
    sx_xrcp_signed_invitation_clear(&fresh);
    sx_xrcp_mcast_close(sfd);
    sx_xrcp_mcast_close(lfd);
    sx_xrcp_ctrl_pairing_clear(&cp);
    sx_xrcp_host_pairing_clear(&hp);
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_session),
        cmocka_unit_test(test_refused_commands),
        cmocka_unit_test(test_large_attachment),
        cmocka_unit_test(test_broken_source),
        cmocka_unit_test(test_unknown_host),
        cmocka_unit_test(test_wrong_controller),
        cmocka_unit_test(test_hello_identity),
        cmocka_unit_test(test_expired_invitation),
        cmocka_unit_test(test_later_sessions),
        cmocka_unit_test(test_stale_announcement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
