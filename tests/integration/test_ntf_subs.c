/* Subscriptions end to end (PROTOCOL-NOTES G13, G14, G16, G17, G22, T6,
 * T10): the smp-server, ntf-server (init, start with the APNS key in its
 * environment and an [APNS] section, SIGTERM) and APNS stand-in programs as
 * processes, our SMP client (NKEY, SEND with the notification
 * flag) and NTF client (tokens and subscriptions):
 *  - a verified token; a queue given a notifier (NKEY); SNEW -> IDSUB, the
 *    same SNEW again -> the same id, with another key -> ERR AUTH; SCHK
 *    reaches ACTIVE once the router's NSUB is answered;
 *  - a message sent with the notification flag: a message push arrives at
 *    the stand-in; its sealed payload opens with the token's DH secret to
 *    "<queue> <ts> <nonce> <meta>", and the metadata opens with the
 *    notifier DH secret to the id and timestamp of the message the
 *    recipient receives;
 *  - the SMP router killed and started again: the subscription is ACTIVE
 *    again and a second message is pushed;
 *  - the NTF router restarted on its store log: the subscription is there,
 *    subscribed again, and a third message is pushed; the last
 *    notification went to ntf-server-last-notifications.log at stop and
 *    was read back at start (renamed .bak);
 *  - the stand-in answering 400 BadDeviceToken: the token INVALID,BAD;
 *  - SDEL, then SCHK -> ERR AUTH; an SNEW for a notifier id the SMP router
 *    does not know -> SCHK AUTH. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base64.h"
#include "ntf_env.h"
#include "pool_router.h"
#include "simplex/smp.h"
#include "smp/msgcrypt.h"

static void wait_sub(env *e, sx_slice sub_id, const sx_key *verify, sx_ntf_sub_status want)
{
    sx_ntf_sub_status st = 0;
    char text[128];
    for (int i = 0; i < WAIT_S * 20; i++) {
        assert_ok(sx_ntf_sub_check(e->c, sub_id, verify, &st, text, sizeof text, NULL));
        if (st == want)
            return;
        ntf_sleep_ms(50);
    }
    fail_msg("subscription status %d (%s), expected %d", st, text, want);
}

/* Sends a message with the notification flag, waits for the n-th message
 * push to the device and checks its payload against what the recipient
 * receives. */
static void send_and_check(env *e, device *d, sx_smp_conn *sc, sx_smp_queue *snd, sx_smp_conn *rc,
                           const sx_smp_ntf_creds *nc, int n)
{
    char body[32];
    snprintf(body, sizeof body, "hello %d", n);
    assert_ok(sx_smp_send_notify(sc, snd, body, strlen(body)));
    static char line[16384];
    wait_lines(e, d->hex, "\"apns-push-type\":\"alert\"", n, line, sizeof line);
    assert_non_null(strstr(line, "\"status\":200"));
    assert_non_null(strstr(line, "NTF_CAT_CHECK_MESSAGE"));
    static uint8_t plain[4096];
    size_t len = open_sealed(line, "message", d->reg.dh_secret, plain, sizeof plain - 1);
    plain[len] = 0;
    /* the newest item (the only subscription: one item) */
    char *item = strrchr((char *)plain, ';');
    item = item ? item + 1 : (char *)plain;
    char queue[512], nonce_t[64], meta_t[512];
    long long ts = 0;
    assert_int_equal(sscanf(item, "%511s %lld %63s %511s", queue, &ts, nonce_t, meta_t), 4);
    assert_non_null(strstr(queue, "smp://"));
    assert_non_null(strstr(queue, "@127.0.0.1:"));
    uint8_t nonce[64], meta[512], buf[512];
    size_t nl = 0, ml = 0;
    assert_ok(sx_b64_decode(nonce_t, strlen(nonce_t), SX_B64_URL, nonce, sizeof nonce, &nl));
    assert_int_equal(nl, 24);
    assert_ok(sx_b64_decode(meta_t, strlen(meta_t), SX_B64_URL, meta, sizeof meta, &ml));
    sx_slice msg_id;
    int64_t msg_ts = 0;
    assert_ok(sx_smp_nmsg_decrypt(nc->dh_secret, nonce, sx_slice_of(meta, ml), buf, sizeof buf, &msg_id, &msg_ts));
    /* the same message as the recipient gets */
    sx_smp_event ev;
    memset(&ev, 0, sizeof ev);
    assert_ok(sx_smp_receive(rc, TIMEOUT_MS, &ev));
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_true(ev.notification);
    assert_int_equal(ev.msg_id_len, msg_id.len);
    assert_memory_equal(ev.msg_id, msg_id.ptr, msg_id.len);
    assert_int_equal(ev.timestamp, msg_ts);
    assert_int_equal(ev.body_len, strlen(body));
    assert_ok(sx_smp_ack(rc, ev.queue, &ev));
    sx_smp_event_clear(&ev);
    assert_true(ts >= msg_ts);
}

static void test_subscriptions(void **state)
{
    (void)state;
    pool_router rp;
    assert_int_equal(pool_router_init(&rp, NULL), 0);
    pool_router_start(&rp);
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "5555aaaa5555aaaa");

    /* a queue with a notifier */
    sx_smp_conn *rc = NULL, *sc = NULL;
    sx_smp_queue *rcv = NULL, *snd = NULL;
    assert_ok(sx_smp_connect(rp.addr, NULL, &rc));
    assert_ok(sx_smp_connect(rp.addr, NULL, &sc));
    assert_ok(sx_smp_queue_create(rc, &rcv));
    assert_ok(sx_smp_queue_sender(rcv, &snd));
    sx_smp_ntf_creds nc;
    assert_ok(sx_smp_queue_notify_on(rc, rcv, &nc));
    /* the notifier's key as SNEW carries it: PKCS#8 DER */
    uint8_t nkey[128];
    size_t nkey_len = 0;
    assert_ok(sx_b64_decode(nc.notifier_key, strlen(nc.notifier_key), SX_B64_URL, nkey, sizeof nkey, &nkey_len));
    assert_ok(sx_smp_subscribe(rc, rcv));

    /* SNEW, again, and with another key */
    uint8_t qbuf[600];
    sx_ntf_queue q;
    assert_ok(sx_ntf_queue_of(rp.addr, sx_slice_of(nc.notifier_id, sizeof nc.notifier_id), qbuf, sizeof qbuf, &q));
    uint8_t sid[SX_NTF_CLIENT_ID_MAX], sid2[SX_NTF_CLIENT_ID_MAX];
    size_t sid_len = 0, sid2_len = 0;
    assert_ok(sx_ntf_sub_create(e.c, dev_id(&d), d.verify, &q, sx_slice_of(nkey, nkey_len), sid, &sid_len, NULL));
    assert_ok(sx_ntf_sub_create(e.c, dev_id(&d), d.verify, &q, sx_slice_of(nkey, nkey_len), sid2, &sid2_len,
                                NULL));
    assert_int_equal(sid_len, sid2_len);
    assert_memory_equal(sid, sid2, sid_len);
    sx_key *other = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other));
    uint8_t okey[128];
    sx_writer w;
    sx_writer_init_fixed(&w, okey, sizeof okey);
    assert_true(sx_key_write_private(&w, other));
    sx_smp_error err;
    assert_int_equal(sx_ntf_sub_create(e.c, dev_id(&d), d.verify, &q, sx_writer_slice(&w), sid2, &sid2_len, &err),
                     SX_E_AUTH);
    sx_slice sub = sx_slice_of(sid, sid_len);
    wait_sub(&e, sub, d.verify, SX_NTF_SUB_ACTIVE);

    /* a message: the push, its payload, the metadata */
    send_and_check(&e, &d, sc, snd, rc, &nc, 1);

    /* The router answers ACK before its removal reaches the message log;
     * one answered SEND after it (to another queue) makes the ACK durable,
     * so the kill below does not deliver "hello 1" again. */
    sx_smp_queue *bq = NULL, *bs = NULL;
    assert_ok(sx_smp_queue_create(rc, &bq));
    assert_ok(sx_smp_queue_sender(bq, &bs));
    assert_ok(sx_smp_send(sc, bs, "barrier", 7));
    sx_smp_queue_free(bs);
    sx_smp_queue_free(bq);

    /* the SMP router restarts: the subscription comes back */
    sx_smp_close(sc);
    sx_smp_close(rc);
    pool_router_kill9(&rp);
    wait_sub(&e, sub, d.verify, SX_NTF_SUB_INACTIVE);
    pool_router_start(&rp);
    wait_sub(&e, sub, d.verify, SX_NTF_SUB_ACTIVE);
    assert_ok(sx_smp_connect(rp.addr, NULL, &rc));
    assert_ok(sx_smp_connect(rp.addr, NULL, &sc));
    assert_ok(sx_smp_subscribe(rc, rcv));
    send_and_check(&e, &d, sc, snd, rc, &nc, 2);

    /* the NTF router restarts on its store log; the subscription's last
     * notification is saved at stop and read back at start (.bak after) */
    env_router_stop(&e);
    char last_path[256], last_line[2048] = "";
    snprintf(last_path, sizeof last_path, "%s/var/ntf-server-last-notifications.log", e.dir);
    FILE *lf = fopen(last_path, "r");
    assert_non_null(lf);
    assert_non_null(fgets(last_line, sizeof last_line, lf));
    fclose(lf);
    assert_memory_equal(last_line, "v1 ", 3);
    assert_non_null(strstr(last_line, "@127.0.0.1:"));
    env_router_start(&e);
    strncat(last_path, ".bak", sizeof last_path - strlen(last_path) - 1);
    assert_int_equal(access(last_path, R_OK), 0);
    wait_sub(&e, sub, d.verify, SX_NTF_SUB_ACTIVE);
    send_and_check(&e, &d, sc, snd, rc, &nc, 3);

    /* the stand-in answers 400 BadDeviceToken: the token becomes INVALID,BAD */
    char rule[128];
    snprintf(rule, sizeof rule, "%s 400 BadDeviceToken\n", d.hex);
    write_text(e.failures, rule);
    assert_ok(sx_smp_send_notify(sc, snd, "hello 4", 7));
    static char line[16384];
    wait_lines(&e, d.hex, "\"status\":400", 1, line, sizeof line);
    assert_non_null(strstr(line, "\"apns-push-type\":\"alert\""));
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_INVALID, SX_NTF_INVALID_BAD);
    sx_smp_event ev;
    memset(&ev, 0, sizeof ev);
    assert_ok(sx_smp_receive(rc, TIMEOUT_MS, &ev));
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_ok(sx_smp_ack(rc, ev.queue, &ev));
    sx_smp_event_clear(&ev);

    /* SDEL (allowed for an INVALID token); a notifier the SMP router does
     * not know */
    assert_ok(sx_ntf_sub_delete(e.c, sub, d.verify, NULL));
    sx_ntf_sub_status st;
    assert_int_equal(sx_ntf_sub_check(e.c, sub, d.verify, &st, NULL, 0, &err), SX_E_AUTH);
    uint8_t fake_id[24];
    memset(fake_id, 7, sizeof fake_id);
    assert_ok(sx_ntf_queue_of(rp.addr, sx_slice_of(fake_id, sizeof fake_id), qbuf, sizeof qbuf, &q));
    assert_ok(sx_ntf_sub_create(e.c, dev_id(&d), d.verify, &q, sx_writer_slice(&w), sid, &sid_len, NULL));
    wait_sub(&e, sx_slice_of(sid, sid_len), d.verify, SX_NTF_SUB_AUTH);

    sx_key_free(other);
    sx_smp_close(sc);
    sx_smp_close(rc);
    sx_smp_queue_free(snd);
    sx_smp_queue_free(rcv);
    device_free(&d);
    env_free(&e);
    pool_router_free(&rp);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <apns-standin> <ntf-server>\n", argv[0]);
        return 2;
    }
    g_standin = argv[1];
    g_ntf_server = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscriptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
