/* A service session's own count and ids hash (src/smp_router/commands_svc.c
 * session_count through sx_svc_session_remove; PROTOCOL-NOTES D27, D29d):
 * taking a queue out goes as the reference's subtractServiceSubs, so a DELD
 * or END that reaches the session after ENDS zeroed its figures leaves them
 * at zero instead of -1 with a stray hash. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "smp_router/commands_int.h"
#include "smp_router/server_int.h"

static void md5_of(const uint8_t id[SX_ID_LEN], uint8_t out[SX_MD5_LEN])
{
    assert_ok(sx_md5(sx_slice_of(id, SX_ID_LEN), out));
}

static sx_conn *service_conn(void)
{
    sx_conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->sess.has_service = true;
    return c;
}

/* Two queues held: one out leaves the other's count and hash. */
static void test_remove_one(void **state)
{
    (void)state;
    sx_conn *c = service_conn();
    uint8_t a[SX_ID_LEN], b[SX_ID_LEN], ha[SX_MD5_LEN], hb[SX_MD5_LEN];
    memset(a, 0xa1, sizeof a);
    memset(b, 0xb2, sizeof b);
    md5_of(a, ha);
    md5_of(b, hb);
    c->svc_subs_n = 2;
    for (size_t i = 0; i < SX_MD5_LEN; i++)
        c->svc_subs_hash[i] = (uint8_t)(ha[i] ^ hb[i]);
    sx_svc_session_remove(c, a);
    assert_int_equal(c->svc_subs_n, 1);
    assert_memory_equal(c->svc_subs_hash, hb, SX_MD5_LEN);
    sx_svc_session_remove(c, b);
    assert_int_equal(c->svc_subs_n, 0);
    uint8_t zero[SX_MD5_LEN] = {0};
    assert_memory_equal(c->svc_subs_hash, zero, SX_MD5_LEN);
    free(c);
}

/* ENDS zeroed the figures; the DELD queued before it comes after: still
 * zero, with the zero hash (the reference: (0, mempty) when the count
 * taken is not below the count held). */
static void test_late_deld_after_ends(void **state)
{
    (void)state;
    sx_conn *c = service_conn();
    uint8_t a[SX_ID_LEN], zero[SX_MD5_LEN] = {0};
    memset(a, 0xa1, sizeof a);
    c->svc_subs_n = 0;
    sx_svc_session_remove(c, a);
    assert_int_equal(c->svc_subs_n, 0);
    assert_memory_equal(c->svc_subs_hash, zero, SX_MD5_LEN);
    sx_svc_session_remove(c, a);
    assert_int_equal(c->svc_subs_n, 0);
    assert_memory_equal(c->svc_subs_hash, zero, SX_MD5_LEN);
    free(c);
}

/* One held but its hash is not the id taken out (the session's hash came
 * from the store): the figures become zero, as the reference's. */
static void test_last_one_zeroes_hash(void **state)
{
    (void)state;
    sx_conn *c = service_conn();
    uint8_t a[SX_ID_LEN], zero[SX_MD5_LEN] = {0};
    memset(a, 0xa1, sizeof a);
    c->svc_subs_n = 1;
    memset(c->svc_subs_hash, 0x5c, sizeof c->svc_subs_hash);
    sx_svc_session_remove(c, a);
    assert_int_equal(c->svc_subs_n, 0);
    assert_memory_equal(c->svc_subs_hash, zero, SX_MD5_LEN);
    free(c);
}

/* An ordinary session keeps no figures. */
static void test_not_a_service(void **state)
{
    (void)state;
    sx_conn *c = service_conn();
    c->sess.has_service = false;
    uint8_t a[SX_ID_LEN];
    memset(a, 0xa1, sizeof a);
    c->svc_subs_n = 3;
    sx_svc_session_remove(c, a);
    assert_int_equal(c->svc_subs_n, 3);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remove_one),
        cmocka_unit_test(test_late_deld_after_ends),
        cmocka_unit_test(test_last_one_zeroes_hash),
        cmocka_unit_test(test_not_a_service),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
