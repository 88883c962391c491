/* Unit tests of the words of the clients' failures: the shared table of the
 * routers' errors (sx_error_explain) by the step that got them (every error
 * an SMP or XFTP router sends has a sentence for every step of its protocol,
 * with its name in parentheses; AUTH means a password to an upload or a
 * queue creation and a used or deleted file to a download), the
 * connection failures by the step they stopped at, and addresses shown
 * without their password. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smp/error.h"
#include "xftp_client/transfer_int.h"

static void assert_has(const char *text, const char *part)
{
    if (!text || !strstr(text, part))
        fail_msg("'%s' is not in '%s'", part, text ? text : "(null)");
}

static void test_error_table(void **state)
{
    (void)state;
    static const sx_xftp_err_type sent[] = {
        SX_XFTP_ERR_BLOCK,
        SX_XFTP_ERR_SESSION,
        SX_XFTP_ERR_HANDSHAKE,
        SX_XFTP_ERR_CMD,
        SX_XFTP_ERR_AUTH,
        SX_XFTP_ERR_BLOCKED,
        SX_XFTP_ERR_SIZE,
        SX_XFTP_ERR_QUOTA,
        SX_XFTP_ERR_DIGEST,
        SX_XFTP_ERR_CRYPTO,
        SX_XFTP_ERR_NO_FILE,
        SX_XFTP_ERR_HAS_FILE,
        SX_XFTP_ERR_FILE_IO,
        SX_XFTP_ERR_TIMEOUT,
        SX_XFTP_ERR_INTERNAL,
    };
    static const sx_error_step steps[] = {SX_STEP_XFTP_SEND, SX_STEP_XFTP_RECV, SX_STEP_XFTP_DELETE};
    char out[512];
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            const char *code = sx_xftp_err_name(sent[i]);
            assert_non_null(sx_error_hint_find(steps[k], code));
            char name[40];
            snprintf(name, sizeof name, "(%s)", code);
            assert_has(sx_error_explain(steps[k], code, out, sizeof out), name);
        }
#define HINT(step, code) sx_error_explain(step, code, out, sizeof out)
    /* AUTH depends on the step */
    assert_has(HINT(SX_STEP_XFTP_SEND, "AUTH"), "password");
    assert_has(HINT(SX_STEP_XFTP_SEND, "AUTH"), "xftp://");
    assert_has(HINT(SX_STEP_XFTP_RECV, "AUTH"), "used already");
    assert_has(HINT(SX_STEP_XFTP_RECV, "AUTH"), "deleted");
    assert_has(HINT(SX_STEP_XFTP_DELETE, "AUTH"), "deleted already");
    assert_null(strstr(HINT(SX_STEP_XFTP_DELETE, "AUTH"), "password"));
    assert_has(HINT(SX_STEP_XFTP_SEND, "QUOTA"), "another router");
    assert_has(HINT(SX_STEP_XFTP_SEND, "SIZE"), "chunks of this size");
    assert_has(HINT(SX_STEP_XFTP_RECV, "SIZE"), "description");
    assert_has(HINT(SX_STEP_XFTP_SEND, "HANDSHAKE"), "XFTP router");
    /* cause (CODE): next step */
    assert_string_equal(HINT(SX_STEP_XFTP_RECV, "NO_FILE"),
                        "the file is not on the router yet (NO_FILE): its upload did not finish");
    assert_string_equal(HINT(SX_STEP_XFTP_SEND, "HAS_FILE"), "the router has this chunk already (HAS_FILE)");
    /* unknown codes and no code */
    assert_null(sx_error_hint_find(SX_STEP_XFTP_SEND, "NOT_A_CODE"));
    assert_null(sx_error_hint_find(SX_STEP_XFTP_SEND, ""));
    assert_null(sx_error_hint_find(SX_STEP_XFTP_SEND, NULL));
    assert_string_equal(HINT(SX_STEP_XFTP_SEND, "NOT_A_CODE"), "the router answered NOT_A_CODE");
    /* a short buffer is cut and terminated */
    char tiny[8];
    assert_string_equal(sx_error_explain(SX_STEP_XFTP_SEND, "QUOTA", tiny, sizeof tiny), "the rou");
}

/* The SMP side of the same table: every error an SMP router sends. */
static void test_smp_error_table(void **state)
{
    (void)state;
    char out[512];
    for (int t = SX_SMP_ERR_BLOCK; t < SX_SMP_ERR_DUPLICATE; t++) {
        const char *code = sx_smp_err_name((sx_smp_err_type)t);
        for (sx_error_step s = SX_STEP_SMP_CREATE; s <= SX_STEP_SMP; s++) {
            if (!sx_error_hint_find(s, code))
                fail_msg("no entry for SMP %s in step %d", code, (int)s);
            char name[40];
            snprintf(name, sizeof name, "(%s)", code);
            assert_has(HINT(s, code), name);
        }
    }
    /* "CMD" holds for every CMD error, named in full */
    assert_has(HINT(SX_STEP_SMP, "CMD SYNTAX"), "the router refused the command (CMD SYNTAX)");
    assert_null(sx_error_hint_find(SX_STEP_SMP, "CMDX"));
    /* AUTH: a password to a creation, a missing queue or wrong key after */
    assert_has(HINT(SX_STEP_SMP_CREATE, "AUTH"), "smp://fingerprint:password@host");
    assert_has(HINT(SX_STEP_SMP_CREATE, "AUTH"), "does not allow new queues");
    assert_has(HINT(SX_STEP_SMP, "AUTH"), "the queue does not exist");
    assert_null(strstr(HINT(SX_STEP_SMP, "AUTH"), "password"));
    assert_has(HINT(SX_STEP_SMP, "QUOTA"), "the recipient has to receive messages first");
    /* SMP's QUOTA is not XFTP's, and a step of one protocol finds no entry
     * of the other's only */
    assert_null(strstr(HINT(SX_STEP_SMP, "QUOTA"), "another router"));
    assert_null(sx_error_hint_find(SX_STEP_XFTP_SEND, "NO_MSG"));
    assert_null(sx_error_hint_find(SX_STEP_SMP, "FILE_IO"));
    /* no step: only what holds for every step */
    assert_non_null(sx_error_hint_find(SX_STEP_ANY, "INTERNAL"));
    assert_null(sx_error_hint_find(SX_STEP_ANY, "AUTH"));
#undef HINT
}

static void test_connect_reasons(void **state)
{
    (void)state;
    char out[XT_REASON_LEN];
    sx_xftp_connect_fail f = {.step = SX_XFTP_STEP_TCP, .sys_errno = ECONNREFUSED};
    xt_connect_reason(&f, "127.0.0.1", 1, out, sizeof out);
    assert_has(out, "cannot connect to 127.0.0.1:1");
    assert_has(out, strerror(ECONNREFUSED));
    assert_has(out, "is the router running");
    f.sys_errno = ETIMEDOUT;
    xt_connect_reason(&f, "files.example", 443, out, sizeof out);
    assert_has(out, "files.example:443: timed out");
    f = (sx_xftp_connect_fail){.step = SX_XFTP_STEP_RESOLVE};
    xt_connect_reason(&f, "nowhere.invalid", 443, out, sizeof out);
    assert_has(out, "cannot find the host nowhere.invalid");
    f.step = SX_XFTP_STEP_IDENTITY;
    xt_connect_reason(&f, "::1", 5223, out, sizeof out);
    assert_has(out, "::1:5223");
    assert_has(out, "fingerprint");
    assert_has(out, "SMP router");
    f.step = SX_XFTP_STEP_TLS;
    xt_connect_reason(&f, "h", 80, out, sizeof out);
    assert_has(out, "TLS with h:80 failed");
    f.step = SX_XFTP_STEP_HANDSHAKE;
    xt_connect_reason(&f, "h", 443, out, sizeof out);
    assert_has(out, "does not answer as an XFTP router");
    f.step = SX_XFTP_STEP_ALPN;
    xt_connect_reason(&f, "h", 5223, out, sizeof out);
    assert_has(out, "h:5223 does not answer as an XFTP router: it refused the protocol xftp/1");
    f.step = SX_XFTP_STEP_ADDRESS;
    xt_connect_reason(&f, "", 0, out, sizeof out);
    assert_has(out, ".onion");
    /* a message cut to the buffer stays a string */
    f.step = SX_XFTP_STEP_IDENTITY;
    char small[16];
    xt_connect_reason(&f, "127.0.0.1", 443, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

/* Through a pool: a failed connection gives its reason, the router's error
 * its sentence and code. */
static void test_fail_reason(void **state)
{
    (void)state;
    const char *text = "xftp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@127.0.0.1:7";
    sx_xftp_fd_server srv;
    assert_int_equal(sx_xftp_fd_server_parse(text, strlen(text), &srv), SX_OK);
    conn_pool pool = {.n = 1, .servers = &srv, .connect_failed = true};
    pool.fail = (sx_xftp_connect_fail){.step = SX_XFTP_STEP_TCP, .sys_errno = ECONNREFUSED};
    char code[32] = "", out[XT_REASON_LEN];
    sx_xftp_transfer_opts o = {.errcode = code, .errcode_len = sizeof code};
    xt_fail_reason(&o, &pool, 0, XT_OP_UPLOAD, NULL, SX_E_IO, out, sizeof out);
    assert_has(out, "cannot connect to 127.0.0.1:7");
    assert_string_equal(code, ""); /* a local failure */
    pool.connect_failed = false;
    xt_fail_reason(&o, &pool, 0, XT_OP_UPLOAD, NULL, SX_E_NOMEM, out, sizeof out);
    assert_string_equal(out, sx_strerror(SX_E_NOMEM));
    xt_fail_reason(&o, NULL, 0, XT_OP_DELETE, NULL, SX_E_IO, out, sizeof out);
    assert_has(out, "failed");
}

static void test_address_shown(void **state)
{
    (void)state;
    char out[256];
    xt_address_shown("xftp://abc=:s3cret@host:443", out, sizeof out);
    assert_string_equal(out, "xftp://abc=:***@host:443");
    xt_address_shown("xftp://abc=@host:443", out, sizeof out);
    assert_string_equal(out, "xftp://abc=@host:443");
    xt_address_shown("xftp://abc=@[::1]:443", out, sizeof out);
    assert_string_equal(out, "xftp://abc=@[::1]:443");
    xt_address_shown("not an address: at all", out, sizeof out);
    assert_string_equal(out, "not an address: at all");
    xt_address_shown("", out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_smp_error_table),
        cmocka_unit_test(test_connect_reasons),
        cmocka_unit_test(test_fail_reason),
        cmocka_unit_test(test_address_shown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
