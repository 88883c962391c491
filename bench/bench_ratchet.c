/* Benchmark: sntrup761 and the double ratchet (crypto/ratchet) against the
 * X448-only ratchet as the baseline. Prints sntrup761 key pairs, encapsulations
 * and decapsulations per second, then encrypt+decrypt of 16 KB messages per
 * second in two patterns: one way (chain steps only) and ping-pong (a DH
 * ratchet step, and with PQ a KEM step, on every message), for the ratchet
 * without KEM (baseline) and with KEM, side by side.
 * Usage: bench_ratchet [messages] (default 2000; ping-pong uses a tenth). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/ratchet.h"
#include "crypto/util.h"

#define PADDED 16384
#define MSG_LEN 16000
#define CAP (3 + SX_RATCHET_ENC_HEADER_MAX + 16 + PADDED)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void must(sx_status st, const char *what)
{
    if (st != SX_OK) {
        fprintf(stderr, "%s failed: %d\n", what, (int)st);
        exit(1);
    }
}

/* alice created the invitation, bob joined; with pq the KEM is accepted in
 * the X3DH so both chains carry KEM secrets from the start. */
static void init_pair(bool pq, sx_ratchet *alice, sx_ratchet *bob)
{
    static sx_e2e_private ap, bp;
    static sx_e2e_params au, bu;
    static sx_x3dh_result ar, br;
    must(sx_e2e_generate(3, pq ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO, NULL, NULL, &ap, &au),
         "params");
    must(sx_e2e_generate(3, pq ? SX_USE_KEM_ACCEPT : SX_USE_KEM_NO, au.kem.pk, NULL, &bp, &bu),
         "params");
    must(sx_x3dh_snd(&bp, &au, &br), "x3dh");
    must(sx_x3dh_rcv(&ap, &bu, &ar), "x3dh");
    must(sx_ratchet_init_snd(bob, 3, 3, au.k2, NULL, &br, NULL), "init");
    must(sx_ratchet_init_rcv(alice, 3, 3, ap.k2, &ar, pq, NULL), "init");
    sx_e2e_private_wipe(&ap);
    sx_e2e_private_wipe(&bp);
    sx_x3dh_result_wipe(&ar);
    sx_x3dh_result_wipe(&br);
}

static void one(sx_ratchet *s, sx_ratchet *r, const uint8_t *msg, uint8_t *wire, uint8_t *plain)
{
    size_t len;
    sx_slice out;
    must(sx_ratchet_encrypt(s, SX_PQ_KEEP, 3, PADDED, sx_slice_of(msg, MSG_LEN), wire, CAP, &len),
         "encrypt");
    must(sx_ratchet_decrypt(r, sx_slice_of(wire, len), plain, CAP, &out, NULL), "decrypt");
    if (out.len != MSG_LEN || memcmp(out.ptr, msg, MSG_LEN) != 0) {
        fprintf(stderr, "wrong plaintext\n");
        exit(1);
    }
}

/* Seconds for n messages; ping_pong alternates the direction. */
static double run(bool pq, bool ping_pong, int n, const uint8_t *msg, uint8_t *wire,
                  uint8_t *plain, bool *kem_used)
{
    static sx_ratchet a, b;
    init_pair(pq, &a, &b);
    one(&b, &a, msg, wire, plain); /* alice can send after the first message */
    double t0 = now();
    for (int i = 0; i < n; i++) {
        if (ping_pong && i % 2 == 0)
            one(&a, &b, msg, wire, plain);
        else
            one(&b, &a, msg, wire, plain);
    }
    double t = now() - t0;
    *kem_used = a.rcv_kem && b.snd_kem; /* bob -> alice carries a KEM secret */
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
    return t;
}

static void report(const char *name, int n, double secs, double base_secs)
{
    printf("%-44s %7d %8.3f s %10.1f /s", name, n, secs, n / secs);
    if (base_secs > 0)
        printf("  x%.2f of baseline time", secs / base_secs);
    printf("\n");
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    if (n < 10 || sx_crypto_init() != SX_OK)
        return 2;
    int kem_n = n / 10 > 20 ? n / 10 : 20;
    static uint8_t pk[SX_SNTRUP761_PK_LEN], sk[SX_SNTRUP761_SK_LEN];
    static uint8_t ct[SX_SNTRUP761_CT_LEN], ss[SX_SNTRUP761_SS_LEN], ss2[SX_SNTRUP761_SS_LEN];

    double t0 = now();
    for (int i = 0; i < kem_n; i++)
        must(sx_sntrup761_keypair(pk, sk, NULL), "keypair");
    report("sntrup761 key pair", kem_n, now() - t0, 0);
    t0 = now();
    for (int i = 0; i < kem_n; i++)
        must(sx_sntrup761_enc(ct, ss, pk, NULL), "enc");
    report("sntrup761 encapsulate", kem_n, now() - t0, 0);
    t0 = now();
    for (int i = 0; i < kem_n; i++)
        must(sx_sntrup761_dec(ss2, ct, sk), "dec");
    report("sntrup761 decapsulate", kem_n, now() - t0, 0);
    if (memcmp(ss, ss2, sizeof ss) != 0)
        return 1;

    uint8_t *msg = malloc(MSG_LEN), *wire = malloc(CAP), *plain = malloc(CAP);
    if (msg == NULL || wire == NULL || plain == NULL)
        return 2;
    sx_random_bytes(msg, MSG_LEN);
    bool k0, k1, k2, k3;
    int pp = n / 10 > 20 ? n / 10 : 20;
    double base_one = run(false, false, n, msg, wire, plain, &k0);
    double pq_one = run(true, false, n, msg, wire, plain, &k1);
    double base_pp = run(false, true, pp, msg, wire, plain, &k2);
    double pq_pp = run(true, true, pp, msg, wire, plain, &k3);
    if (k0 || !k1 || k2 || !k3) {
        fprintf(stderr, "KEM state not as expected\n");
        return 1;
    }
    printf("16 KB messages, encrypt + decrypt:\n");
    report("  X448 ratchet, one way (baseline)", n, base_one, 0);
    report("  X448 + sntrup761 ratchet, one way", n, pq_one, base_one);
    report("  X448 ratchet, ping-pong (baseline)", pp, base_pp, 0);
    report("  X448 + sntrup761 ratchet, ping-pong", pp, pq_pp, base_pp);
    free(msg);
    free(wire);
    free(plain);
    return 0;
}
