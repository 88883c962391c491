/* Unit tests of the agent's full links (docs/AGENT.md): SMP queue URIs,
 * queue info, invitation and contact links, text and binary. The strings are
 * the reference's known answers (tests/AgentTests/ConnectionRequestTests.hs
 * at 152c30ca68), with the URL escaping written out. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/connreq.h"
#include "agent/link_text.h"
#include "agent/queue_uri.h"

#define ONION "jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"
#define DH_B64 "MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o="
#define E2E_TEXT                                                                                     \
    "v=1&x3dh=MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U=," \
    "MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U="
#define E2E_URL                                                                                      \
    "v%3D1%26x3dh%3DMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D%" \
    "2CMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D"
#define QUEUE_STR "smp://1234-w==@smp.simplex.im:5223/3456-w==#/?v=1-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&q=m&k=s&srv=jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"
#define QUEUE_STR_NOQM "smp://1234-w==@smp.simplex.im:5223/3456-w==#/?v=1-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&srv=jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"
#define QUEUE1_STR "smp://1234-w==@smp.simplex.im:5223/3456-w==#/?v=1-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&q=m&k=s"
#define QUEUE_NEW_STR "smp://1234-w==@smp.simplex.im,jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion:5223/3456-w==#/?v=2-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&q=m&k=s"
#define QUEUE_NEW1_STR "smp://1234-w==@smp.simplex.im:5223/3456-w==#/?v=2-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&q=m&k=s"
#define URL_QUEUE_STR "smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D1-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds%26srv%3Djjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"
#define URL_QUEUE_STR_NOQM "smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D1-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26srv%3Djjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"
#define URL_QUEUE1_STR "smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D1-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds"
#define URL_QUEUE_STR_2 "smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D1-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds%26srv%3Djjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion%3Bsmp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D1-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds%26srv%3Djjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"
#define URL_QUEUE_NEW_STR "smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%2Cjjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D2-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds"
#define URL_QUEUE_NEW1_STR "smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D2-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds"
#define URL_QUEUE_NEW_STR_2 "smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%2Cjjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D2-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds%3Bsmp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%2Cjjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D2-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds"
#define URL_DATA_EMPTY "%7B%7D"
#define URL_DATA_GROUP "%7B%22type%22%3A%22group_link%22%2C%20%22group_link_id%22%3A%22abc%22%7D"

/* ---- values of the reference's test ---- */

static void make_queue(sx_agent_queue_uri *u, uint16_t vmin, uint16_t vmax, bool onion, bool port,
                       sx_queue_mode mode)
{
    memset(u, 0, sizeof *u);
    u->vr = (sx_version_range){vmin, vmax};
    assert_ok(sx_agent_server_add_host(&u->q.server, sx_slice_str("smp.simplex.im")));
    if (onion)
        assert_ok(sx_agent_server_add_host(&u->q.server, sx_slice_str(ONION)));
    if (port)
        strcpy(u->q.server.port, "5223");
    const uint8_t kh[4] = {215, 'm', 248, 251}, sid[4] = {223, 142, 'z', 251};
    memcpy(u->q.server.key_hash, kh, 4);
    u->q.server.key_hash_len = 4;
    memcpy(u->q.sender_id, sid, 4);
    u->q.sender_id_len = 4;
    size_t n = 0;
    assert_ok(sx_b64url_decode_slice(sx_slice_str(DH_B64), u->q.dh, sizeof u->q.dh, &n));
    assert_int_equal(n, SX_X25519_SPKI_LEN);
    u->q.mode = mode;
}

static void assert_queue_equal(const sx_agent_queue_uri *a, const sx_agent_queue_uri *b)
{
    assert_int_equal(a->vr.min, b->vr.min);
    assert_int_equal(a->vr.max, b->vr.max);
    assert_true(sx_agent_server_equal(&a->q.server, &b->q.server));
    assert_int_equal(a->q.sender_id_len, b->q.sender_id_len);
    assert_memory_equal(a->q.sender_id, b->q.sender_id, a->q.sender_id_len);
    assert_memory_equal(a->q.dh, b->q.dh, SX_X25519_SPKI_LEN);
    assert_int_equal(a->q.mode, b->q.mode);
}

static void queue_text(const sx_agent_queue_uri *u, char *out, size_t cap)
{
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)out, cap - 1);
    assert_true(sx_agent_queue_uri_write_text(&w, u));
    out[w.len] = '\0';
}

/* a #==# s: writes s and reads back as a; a #== s: reads as a. */
static void queue_vector(const sx_agent_queue_uri *a, const char *s, bool both)
{
    char buf[SX_AGENT_QUEUE_URI_TEXT_MAX + 1];
    if (both) {
        queue_text(a, buf, sizeof buf);
        assert_string_equal(buf, s);
    }
    sx_agent_queue_uri got;
    assert_ok(sx_agent_queue_uri_parse(s, strlen(s), &got));
    assert_queue_equal(&got, a);
}

/* smpEncodingTest: binary encode then decode gives the same value. */
static void queue_binary_round_trip(const sx_agent_queue_uri *a)
{
    uint8_t buf[2048];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_agent_queue_uri_write(&w, a));
    sx_agent_queue_uri got;
    assert_ok(sx_agent_queue_uri_decode(sx_writer_slice(&w), &got));
    assert_queue_equal(&got, a);
}

static void test_queue_uri_vectors(void **state)
{
    (void)state;
    sx_agent_queue_uri q, q_noqm, q_contact, q1, q_new, q_new1, q_new_np, q_new1_np, q_v1, q_v1_np;
    make_queue(&q, 1, 4, true, true, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_noqm, 1, 4, true, true, SX_QUEUE_MODE_NONE);
    make_queue(&q_contact, 1, 4, true, true, SX_QUEUE_MODE_CONTACT);
    make_queue(&q1, 1, 4, false, true, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_new, 2, 4, true, true, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_new1, 2, 4, false, true, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_new_np, 2, 4, true, false, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_new1_np, 2, 4, false, false, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_v1, 1, 1, true, true, SX_QUEUE_MODE_NONE);
    make_queue(&q_v1_np, 1, 1, true, false, SX_QUEUE_MODE_NONE);

    queue_vector(&q, QUEUE_STR, true);
    queue_vector(&q, "smp://1234-w==@smp.simplex.im:5223/3456-w==#" DH_B64 "/?v=1-4&extra_param=abc&srv=" ONION "&q=m&k=s",
                 false);
    queue_vector(&q_noqm, QUEUE_STR_NOQM, true);
    queue_vector(&q_contact,
                 "smp://1234-w==@smp.simplex.im:5223/3456-w==#/?v=1-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&q=c&srv=" ONION,
                 true);
    queue_vector(&q1, QUEUE1_STR, true);
    queue_vector(&q_new, QUEUE_NEW_STR, true);
    queue_vector(&q_new, "smp://1234-w==@smp.simplex.im," ONION ":5223/3456-w==#/?v=2-4&dh=" DH_B64 "&q=m&k=s", false);
    queue_vector(&q_new1, QUEUE_NEW1_STR, true);
    queue_vector(&q_new_np,
                 "smp://1234-w==@smp.simplex.im," ONION "/3456-w==#/?v=2-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&q=m&k=s",
                 true);
    queue_vector(&q_new1_np,
                 "smp://1234-w==@smp.simplex.im/3456-w==#/?v=2-4&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&q=m&k=s",
                 true);
    queue_vector(&q_v1,
                 "smp://1234-w==@smp.simplex.im:5223/3456-w==#/?v=1&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&srv=" ONION,
                 true);
    queue_vector(&q_v1, "smp://1234-w==@smp.simplex.im," ONION ":5223/3456-w==#" DH_B64, false);
    queue_vector(&q_v1, "smp://1234-w==@smp.simplex.im:5223/3456-w==#/?extra_param=abc&v=1&dh=" DH_B64 "&srv=" ONION, false);
    queue_vector(&q_v1, "smp://1234-w==@smp.simplex.im:5223/3456-w==#" DH_B64 "/?v=1&extra_param=abc&srv=" ONION, false);
    queue_vector(&q_v1_np,
                 "smp://1234-w==@smp.simplex.im/3456-w==#/?v=1&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&srv=" ONION,
                 true);
    queue_vector(&q_v1_np,
                 "smp://1234-w==@smp.simplex.im/3456-w==#/?v=1-1&dh=MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%3D&srv=" ONION,
                 false);
    queue_vector(&q_v1_np, "smp://1234-w==@smp.simplex.im," ONION "/3456-w==#" DH_B64, false);

    /* binary (smpEncodingTest) */
    const sx_agent_queue_uri *all[] = {&q, &q_noqm, &q1, &q_new, &q_new1, &q_new_np, &q_new1_np, &q_v1, &q_v1_np};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        queue_binary_round_trip(all[i]);
}

static void test_queue_uri_rules(void **state)
{
    (void)state;
    sx_agent_queue_uri u;
    char buf[SX_AGENT_QUEUE_URI_TEXT_MAX + 1];
    /* q= wins over k=; k=s alone means messaging; an unknown q is no mode */
    const char *base = "smp://1234-w==@smp.simplex.im/3456-w==#/?v=4&dh=" DH_B64;
    snprintf(buf, sizeof buf, "%s&q=c&k=s", base);
    assert_ok(sx_agent_queue_uri_parse(buf, strlen(buf), &u));
    assert_int_equal(u.q.mode, SX_QUEUE_MODE_CONTACT);
    snprintf(buf, sizeof buf, "%s&k=s", base);
    assert_ok(sx_agent_queue_uri_parse(buf, strlen(buf), &u));
    assert_int_equal(u.q.mode, SX_QUEUE_MODE_MESSAGING);
    snprintf(buf, sizeof buf, "%s&q=x", base);
    assert_ok(sx_agent_queue_uri_parse(buf, strlen(buf), &u));
    assert_int_equal(u.q.mode, SX_QUEUE_MODE_NONE);
    /* from version 4 k=s is not written */
    make_queue(&u, 4, 4, false, false, SX_QUEUE_MODE_MESSAGING);
    queue_text(&u, buf, sizeof buf);
    assert_non_null(strstr(buf, "&q=m"));
    assert_null(strstr(buf, "k=s"));
    /* old preset routers get their onion host when the range is below 2 */
    const char *old = "smp://1234-w==@smp5.simplex.im/3456-w==#" DH_B64;
    assert_ok(sx_agent_queue_uri_parse(old, strlen(old), &u));
    assert_int_equal(u.q.server.host_count, 2);
    assert_string_equal(u.q.server.host[1], ONION);
    const char *newer = "smp://1234-w==@smp5.simplex.im/3456-w==#/?v=1-2&dh=" DH_B64;
    assert_ok(sx_agent_queue_uri_parse(newer, strlen(newer), &u));
    assert_int_equal(u.q.server.host_count, 1);
    /* refused: missing v or dh, bad range, bad key, X448 key, trailing
     * text after the key, basic auth, a space, empty sender ID */
    const char *bad[] = {
        "smp://1234-w==@smp.simplex.im/3456-w==#/?dh=" DH_B64,
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=2",
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=3-2&dh=" DH_B64,
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=70000&dh=" DH_B64,
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=2&dh=AAAA",
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=2&dh=MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U=",
        "smp://1234-w==@smp.simplex.im/3456-w==#" DH_B64 "x",
        "smp://1234-w==@smp.simplex.im/3456-w==#" DH_B64 "/",
        "smp://1234-w==:pass@smp.simplex.im/3456-w==#" DH_B64,
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=2&dh=" DH_B64 " ",
        "smp://1234-w==@smp.simplex.im/#" DH_B64,
        "xftp://1234-w==@smp.simplex.im/3456-w==#" DH_B64,
        "smp://1234-w==@smp.simplex.im/3456-w==",
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=1&dh=" DH_B64 "&srv=a.b,,c.d", /* an empty host */
        "smp://1234-w==@smp.simplex.im/3456-w==#/?v=1&dh=" DH_B64 "&srv=a.b,",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(sx_agent_queue_uri_parse(bad[i], strlen(bad[i]), &u), SX_OK);
    /* truncated: every cut up to the query fails (a cut inside the query
     * can still be a valid URI, e.g. without its srv= value) */
    size_t cut = (size_t)(strchr(QUEUE_STR, '?') - QUEUE_STR) + 1;
    for (size_t i = 0; i <= cut; i++)
        assert_int_not_equal(sx_agent_queue_uri_parse(QUEUE_STR, i, &u), SX_OK);
    assert_int_not_equal(sx_agent_queue_uri_parse(QUEUE_STR, strlen("smp://1234-w==@smp.simplex.im:5223/3456-w==#/?v=1-4&d"), &u), SX_OK);
    /* oversized: too long, too many hosts */
    char *big = malloc(SX_AGENT_QUEUE_URI_TEXT_MAX + 2);
    memset(big, 'a', SX_AGENT_QUEUE_URI_TEXT_MAX + 1);
    assert_int_equal(sx_agent_queue_uri_parse(big, SX_AGENT_QUEUE_URI_TEXT_MAX + 1, &u), SX_E_LIMIT);
    free(big);
    const char *many = "smp://1234-w==@smp.simplex.im/3456-w==#/?v=1&dh=" DH_B64 "&srv=a.b,c.d,e.f,g.h,i.j,k.l,m.n,o.p";
    assert_int_equal(sx_agent_queue_uri_parse(many, strlen(many), &u), SX_E_LIMIT);
}

static void test_queue_binary(void **state)
{
    (void)state;
    sx_agent_queue_uri u, got;
    uint8_t buf[2048];
    sx_writer w;
    /* mode bytes by version range */
    struct {
        uint16_t vmin, vmax;
        sx_queue_mode mode;
        int last; /* expected last byte, -1 for none (ends with the key) */
        sx_queue_mode back;
    } cases[] = {
        {4, 4, SX_QUEUE_MODE_MESSAGING, 'M', SX_QUEUE_MODE_MESSAGING},
        {4, 4, SX_QUEUE_MODE_CONTACT, 'C', SX_QUEUE_MODE_CONTACT},
        {4, 4, SX_QUEUE_MODE_NONE, -1, SX_QUEUE_MODE_NONE},
        {3, 4, SX_QUEUE_MODE_MESSAGING, 'T', SX_QUEUE_MODE_MESSAGING},
        {3, 4, SX_QUEUE_MODE_CONTACT, 'F', SX_QUEUE_MODE_CONTACT},
        {3, 4, SX_QUEUE_MODE_NONE, 'F', SX_QUEUE_MODE_CONTACT},
        {1, 4, SX_QUEUE_MODE_MESSAGING, 'T', SX_QUEUE_MODE_MESSAGING},
        {1, 4, SX_QUEUE_MODE_CONTACT, -1, SX_QUEUE_MODE_NONE},
        {1, 2, SX_QUEUE_MODE_MESSAGING, -1, SX_QUEUE_MODE_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_queue(&u, cases[i].vmin, cases[i].vmax, true, true, cases[i].mode);
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_true(sx_agent_queue_uri_write(&w, &u));
        if (cases[i].last >= 0)
            assert_int_equal(buf[w.len - 1], cases[i].last);
        else
            assert_memory_equal(buf + w.len - SX_X25519_SPKI_LEN, u.q.dh, SX_X25519_SPKI_LEN);
        assert_ok(sx_agent_queue_uri_decode(sx_writer_slice(&w), &got));
        assert_int_equal(got.q.mode, cases[i].back);
        /* every truncation fails; a trailing byte other than a mode fails */
        for (size_t n = 0; n + (cases[i].last >= 0 ? 1 : 0) < w.len; n++)
            assert_int_not_equal(sx_agent_queue_uri_decode(sx_slice_of(buf, n), &got), SX_OK);
        buf[w.len] = 'x';
        assert_int_equal(sx_agent_queue_uri_decode(sx_slice_of(buf, w.len + 1), &got), SX_E_PROTOCOL);
    }
    /* queue info per version */
    sx_agent_queue_info qi, qgot;
    for (uint16_t v = 1; v <= 4; v++) {
        for (int m = 0; m < 3; m++) {
            memset(&qi, 0, sizeof qi);
            make_queue(&u, 1, 1, v > 1, true, (sx_queue_mode)m);
            qi.version = v;
            qi.q = u.q;
            sx_writer_init_fixed(&w, buf, sizeof buf);
            assert_true(sx_agent_queue_info_write(&w, &qi));
            assert_ok(sx_agent_queue_info_decode(sx_writer_slice(&w), &qgot));
            assert_int_equal(qgot.version, v);
            assert_true(sx_agent_server_equal(&qgot.q.server, &qi.q.server));
            sx_queue_mode want = v >= 4 ? (sx_queue_mode)m
                                 : (v == 3 && m == SX_QUEUE_MODE_MESSAGING) ? SX_QUEUE_MODE_MESSAGING
                                                                            : SX_QUEUE_MODE_NONE;
            assert_int_equal(qgot.q.mode, want);
            for (size_t n = 0; n < w.len; n++)
                if (!(want != SX_QUEUE_MODE_NONE && n == w.len - 1))
                    assert_int_not_equal(sx_agent_queue_info_decode(sx_slice_of(buf, n), &qgot), SX_OK);
        }
    }
    /* version 1: one host, the old preset onion added on reading */
    memset(&qi, 0, sizeof qi);
    qi.version = 1;
    assert_ok(sx_agent_server_add_host(&qi.q.server, sx_slice_str("smp5.simplex.im")));
    qi.q.dh[0] = 0;
    make_queue(&u, 1, 1, false, false, SX_QUEUE_MODE_NONE);
    memcpy(qi.q.dh, u.q.dh, SX_X25519_SPKI_LEN);
    qi.q.sender_id_len = 1;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_agent_queue_info_write(&w, &qi));
    assert_int_equal(buf[2], strlen("smp5.simplex.im")); /* a shortString host, no count */
    assert_ok(sx_agent_queue_info_decode(sx_writer_slice(&w), &qgot));
    assert_int_equal(qgot.q.server.host_count, 2);
    /* too many hosts on the wire */
    uint8_t many[64] = {9};
    for (int i = 0; i < 9; i++) {
        many[1 + 2 * i] = 1;
        many[2 + 2 * i] = 'a';
    }
    sx_reader r;
    sx_reader_init(&r, many, 1 + 18 + 2); /* and an empty port and key hash */
    sx_agent_server s;
    assert_false(sx_agent_server_read(&r, &s));
    assert_int_not_equal(r.err, SX_OK);
    /* a host with a NUL byte */
    uint8_t nul[] = {1, 3, 'a', 0, 'b', 0, 0};
    sx_reader_init(&r, nul, sizeof nul);
    assert_false(sx_agent_server_read(&r, &s));
    many[0] = 8;
    sx_reader_init(&r, many, 1 + 16 + 3); /* the 9th host is now the port "a" */
    assert_true(sx_agent_server_read(&r, &s));
    assert_int_equal(s.host_count, 8);
}

/* ---- connection links ---- */

static void make_connreq(sx_agent_connreq *c, sx_conn_mode mode, uint16_t amin, uint16_t amax,
                         const sx_agent_queue_uri *q, size_t nq, const char *data)
{
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->agent_vr = (sx_version_range){amin, amax};
    for (size_t i = 0; i < nq; i++)
        c->queues[i] = *q;
    c->queue_count = nq;
    if (data)
        assert_ok(sx_agent_connreq_set_data(c, sx_slice_str(data)));
    if (mode == SX_CONN_INVITATION)
        assert_ok(sx_e2e_params_decode_text(E2E_TEXT, strlen(E2E_TEXT), &c->e2e));
}

static void assert_connreq_equal(const sx_agent_connreq *a, const sx_agent_connreq *b)
{
    assert_int_equal(a->mode, b->mode);
    assert_int_equal(a->agent_vr.min, b->agent_vr.min);
    assert_int_equal(a->agent_vr.max, b->agent_vr.max);
    assert_int_equal(a->queue_count, b->queue_count);
    for (size_t i = 0; i < a->queue_count; i++)
        assert_queue_equal(&a->queues[i], &b->queues[i]);
    assert_int_equal(a->has_data, b->has_data);
    assert_int_equal(a->data_len, b->data_len);
    if (a->data_len)
        assert_memory_equal(a->data, b->data, a->data_len);
    if (a->mode == SX_CONN_INVITATION) {
        assert_int_equal(a->e2e.range.min, b->e2e.range.min);
        assert_int_equal(a->e2e.range.max, b->e2e.range.max);
        assert_memory_equal(a->e2e.k1, b->e2e.k1, SX_X448_LEN);
        assert_memory_equal(a->e2e.k2, b->e2e.k2, SX_X448_LEN);
        assert_int_equal(a->e2e.kem.state, b->e2e.kem.state);
    }
}

static void connreq_vector(const sx_agent_connreq *a, const char *s, bool both)
{
    if (both) {
        sx_writer w;
        sx_writer_init_dynamic(&w, SX_AGENT_LINK_TEXT_MAX);
        assert_true(sx_agent_connreq_write_text(&w, a));
        assert_int_equal(w.len, strlen(s));
        assert_memory_equal(w.buf, s, w.len);
        sx_writer_cleanup(&w);
    }
    sx_agent_connreq got;
    assert_ok(sx_agent_connreq_parse(s, strlen(s), &got));
    assert_connreq_equal(&got, a);
    sx_agent_connreq_free(&got);
}

static void connreq_binary_round_trip(const sx_agent_connreq *a)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 20);
    assert_true(sx_agent_connreq_write(&w, a));
    sx_agent_connreq got;
    assert_ok(sx_agent_connreq_decode(sx_writer_slice(&w), &got));
    assert_connreq_equal(&got, a);
    sx_agent_connreq_free(&got);
    /* truncated and trailing input */
    for (size_t n = 0; n < w.len; n += 7) {
        assert_int_not_equal(sx_agent_connreq_decode(sx_slice_of(w.buf, n), &got), SX_OK);
        sx_agent_connreq_free(&got);
    }
    assert_int_not_equal(sx_agent_connreq_decode(sx_slice_of(w.buf, w.len - 1), &got), SX_OK);
    sx_agent_connreq_free(&got);
    uint8_t *more = malloc(w.len + 1);
    memcpy(more, w.buf, w.len);
    more[w.len] = '0';
    assert_int_equal(sx_agent_connreq_decode(sx_slice_of(more, w.len + 1), &got), SX_E_PROTOCOL);
    sx_agent_connreq_free(&got);
    free(more);
    sx_writer_cleanup(&w);
}

static void test_connreq_vectors(void **state)
{
    (void)state;
    static sx_agent_queue_uri q, q_noqm, q_contact, q1, q_new, q_new1;
    make_queue(&q, 1, 4, true, true, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_noqm, 1, 4, true, true, SX_QUEUE_MODE_NONE);
    make_queue(&q_contact, 1, 4, true, true, SX_QUEUE_MODE_CONTACT);
    make_queue(&q1, 1, 4, false, true, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_new, 2, 4, true, true, SX_QUEUE_MODE_MESSAGING);
    make_queue(&q_new1, 2, 4, false, true, SX_QUEUE_MODE_MESSAGING);
    static sx_agent_connreq c;
    const char *group = "{\"type\":\"group_link\", \"group_link_id\":\"abc\"}";

    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q, 1, NULL);
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_STR "&e2e=" E2E_URL, true);
    connreq_vector(&c, "https://simplex.chat/invitation#/?v=2-7&smp=" URL_QUEUE_STR "&e2e=" E2E_URL, false);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q_noqm, 1, NULL);
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_STR_NOQM "&e2e=" E2E_URL, true);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q1, 1, NULL);
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE1_STR "&e2e=" E2E_URL, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q, 2, NULL);
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_STR_2 "&e2e=" E2E_URL, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q_new, 1, NULL);
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_NEW_STR "&e2e=" E2E_URL, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q_new1, 1, NULL);
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_NEW1_STR "&e2e=" E2E_URL, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q_new, 2, NULL);
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_NEW_STR_2 "&e2e=" E2E_URL, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 1, 1, &q, 1, NULL);
    connreq_vector(&c, "https://simplex.chat/invitation#/?v=1&smp=" URL_QUEUE_STR "&e2e=" E2E_URL, false);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_INVITATION, 2, 7, &q, 1, "{}");
    connreq_vector(&c, "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_STR "&e2e=" E2E_URL "&data=" URL_DATA_EMPTY, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);

    make_connreq(&c, SX_CONN_CONTACT, 2, 7, &q, 1, NULL);
    connreq_vector(&c, "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_STR, true);
    connreq_vector(&c, "https://simplex.chat/contact#/?v=2-7&smp=" URL_QUEUE_STR, false);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_CONTACT, 2, 7, &q, 2, NULL);
    connreq_vector(&c, "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_STR_2, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_CONTACT, 2, 7, &q_new, 1, NULL);
    connreq_vector(&c, "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_NEW_STR, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_CONTACT, 2, 7, &q_new, 2, NULL);
    connreq_vector(&c, "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_NEW_STR_2, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_CONTACT, 2, 2, &q, 1, NULL);
    connreq_vector(&c, "simplex:/contact#/?v=2&smp=" URL_QUEUE_STR, true);
    connreq_vector(&c, "https://simplex.chat/contact#/?v=1&smp=" URL_QUEUE_STR, false);
    connreq_vector(&c, "https://simplex.chat/contact#/?v=1-2&smp=" URL_QUEUE_STR, false);
    connreq_vector(&c, "https://simplex.chat/contact#/?v=2-2&smp=" URL_QUEUE_STR, false);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    make_connreq(&c, SX_CONN_CONTACT, 2, 7, &q, 1, group);
    connreq_vector(&c, "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_STR "&data=" URL_DATA_GROUP, true);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
    /* the binary contact link: a queue without a mode reads back as contact */
    make_connreq(&c, SX_CONN_CONTACT, 2, 7, &q_contact, 1, NULL);
    connreq_binary_round_trip(&c);
    sx_agent_connreq_free(&c);
}

static void test_connreq_refused(void **state)
{
    (void)state;
    static sx_agent_connreq c;
    const char *bad[] = {
        "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_STR,                       /* no e2e */
        "simplex:/invitation#/?v=2-7&e2e=" E2E_URL,                              /* no smp */
        "simplex:/invitation#/?smp=" URL_QUEUE_STR "&e2e=" E2E_URL,              /* no v */
        "simplex:/group#/?v=2-7&smp=" URL_QUEUE_STR,                             /* mode */
        "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_STR "%3B",                     /* empty queue */
        "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_STR " ",                       /* a space */
        "simplex:/contact?v=2-7&smp=" URL_QUEUE_STR,                             /* no #/ */
        "ftp://simplex.chat/contact#/?v=2-7&smp=" URL_QUEUE_STR,                 /* scheme */
        "simplex:/invitation#/?v=2-7&smp=" URL_QUEUE_STR "&e2e=v%3D1",           /* bad e2e */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(sx_agent_connreq_parse(bad[i], strlen(bad[i]), &c), SX_OK);
        sx_agent_connreq_free(&c);
    }
    /* extra slash after the mode, unknown parameters, a port on the web host */
    const char *ok = "https://simplex.chat:443/contact/#/?x=1&v=2-7&smp=" URL_QUEUE_STR "&v=9";
    assert_ok(sx_agent_connreq_parse(ok, strlen(ok), &c));
    assert_int_equal(c.agent_vr.max, 7);
    sx_agent_connreq_free(&c);
    /* too many queues */
    char *nine = malloc(16384);
    strcpy(nine, "simplex:/contact#/?v=2-7&smp=" URL_QUEUE_STR);
    for (int i = 0; i < 8; i++)
        strcat(nine, "%3B" URL_QUEUE_STR);
    assert_int_equal(sx_agent_connreq_parse(nine, strlen(nine), &c), SX_E_LIMIT);
    sx_agent_connreq_free(&c);
    free(nine);
    /* oversized text */
    char *big = calloc(1, SX_AGENT_LINK_TEXT_MAX + 2);
    memset(big, 'a', SX_AGENT_LINK_TEXT_MAX + 1);
    assert_int_equal(sx_agent_connreq_parse(big, SX_AGENT_LINK_TEXT_MAX + 1, &c), SX_E_LIMIT);
    free(big);
    /* binary: bad mode byte, zero queues */
    const uint8_t b1[] = {'X', 0, 2, 0, 7, 1};
    assert_int_equal(sx_agent_connreq_decode(sx_slice_of(b1, sizeof b1), &c), SX_E_PROTOCOL);
    const uint8_t b2[] = {'C', 0, 2, 0, 7, 0, '0'};
    assert_int_equal(sx_agent_connreq_decode(sx_slice_of(b2, sizeof b2), &c), SX_E_PROTOCOL);
}

static void test_query_text(void **state)
{
    (void)state;
    sx_query q;
    uint8_t buf[64];
    sx_slice v;
    assert_ok(sx_query_parse(sx_slice_str("?a=1;b=x%2by+z&a=2&c&%64=%zz%4"), &q));
    assert_int_equal(q.count, 5);
    assert_true(sx_query_get(&q, "a", buf, sizeof buf, &v, NULL));
    assert_true(sx_slice_eq(v, sx_slice_str("1")));
    assert_true(sx_query_get(&q, "b", buf, sizeof buf, &v, NULL));
    assert_true(sx_slice_eq(v, sx_slice_str("x+y z")));
    assert_true(sx_query_get(&q, "c", buf, sizeof buf, &v, NULL));
    assert_int_equal(v.len, 0);
    assert_true(sx_query_get(&q, "d", buf, sizeof buf, &v, NULL));
    assert_true(sx_slice_eq(v, sx_slice_str("%zz%4")));
    assert_false(sx_query_get(&q, "e", buf, sizeof buf, &v, NULL));
    sx_version_range vr;
    assert_true(sx_vrange_from_text(sx_slice_str("2-7"), &vr));
    assert_false(sx_vrange_from_text(sx_slice_str("7-2"), &vr));
    assert_false(sx_vrange_from_text(sx_slice_str("2-"), &vr));
    assert_false(sx_vrange_from_text(sx_slice_str("65536"), &vr));
    char many[200] = "";
    for (int i = 0; i < SX_QUERY_PARAMS_MAX + 1; i++)
        strcat(many, "a&");
    assert_int_equal(sx_query_parse(sx_slice_str(many), &q), SX_E_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_text),
        cmocka_unit_test(test_queue_uri_vectors),
        cmocka_unit_test(test_queue_uri_rules),
        cmocka_unit_test(test_queue_binary),
        cmocka_unit_test(test_connreq_vectors),
        cmocka_unit_test(test_connreq_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
