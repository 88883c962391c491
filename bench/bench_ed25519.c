/* Benchmark: Ed25519 batch verification (crypto/ed25519_batch.h) against
 * libsodium's crypto_sign_verify_detached one signature at a time, on the
 * same signatures in the same process. Signatures are over ~150-byte
 * messages (the size of a signed SUB's authorized bytes), each with its own
 * key, as the SUBs of one block are. For batch sizes 1, 8, 32, 64, 136 and
 * 256: CPU microseconds per signature both ways and the ratio; then the same
 * with one bad signature in each batch (the batch fails and every signature
 * is checked again one by one). Each row alternates the two ways in 5
 * rounds and keeps the fastest round of each, so that other load on the
 * machine distorts the ratio less. Usage: bench_ed25519 [signatures]
 * (default 20000 per row). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/ed25519_batch.h"

#define MSG_LEN 150

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct sig_set {
    size_t n;
    uint8_t (*msg)[MSG_LEN];
    uint8_t (*sig)[64];
    uint8_t (*pk)[32];
    sx_ed25519_item *items;
} sig_set;

static int make_set(sig_set *s, size_t n)
{
    s->n = n;
    s->msg = malloc(n * MSG_LEN);
    s->sig = malloc(n * 64);
    s->pk = malloc(n * 32);
    s->items = malloc(n * sizeof *s->items);
    if (!s->msg || !s->sig || !s->pk || !s->items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t sk[64];
        crypto_sign_keypair(s->pk[i], sk);
        randombytes_buf(s->msg[i], MSG_LEN);
        crypto_sign_detached(s->sig[i], NULL, s->msg[i], MSG_LEN, sk);
        s->items[i] = (sx_ed25519_item){s->msg[i], MSG_LEN, s->sig[i], s->pk[i]};
    }
    return 0;
}

/* CPU us per signature, one by one with libsodium; -1 if an answer is wrong. */
static double run_single(const sig_set *s, size_t total, size_t bad_every)
{
    size_t wrong = 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < total; i++) {
        size_t k = i % s->n;
        int ok = crypto_sign_verify_detached(s->sig[k], s->msg[k], MSG_LEN, s->pk[k]) == 0;
        wrong += (size_t)(ok != (bad_every == 0 || k % bad_every != 0));
    }
    double t = cpu_now() - t0;
    return wrong ? -1 : t * 1e6 / (double)total;
}

static double run_batch(const sig_set *s, size_t total, size_t batch, size_t bad_every)
{
    uint8_t *ok = malloc(batch);
    size_t wrong = 0, done = 0;
    double t0 = cpu_now();
    while (done < total) {
        size_t off = done % s->n;
        if (off + batch > s->n)
            off = 0;
        sx_ed25519_verify_batch(s->items + off, batch, ok);
        for (size_t i = 0; i < batch; i++) {
            size_t k = off + i;
            wrong += (size_t)(ok[i] != (bad_every == 0 || k % bad_every != 0));
        }
        done += batch;
    }
    double t = cpu_now() - t0;
    free(ok);
    return wrong ? -1 : t * 1e6 / (double)done;
}

/* One row: ROUNDS alternating rounds of each way over total/ROUNDS
 * signatures, the fastest round of each kept (the machine may be shared). */
#define ROUNDS 5

static int row(const sig_set *s, size_t total, size_t batch, size_t bad_every, double *one, double *b)
{
    *one = *b = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double x = run_single(s, total / ROUNDS, bad_every);
        double y = run_batch(s, total / ROUNDS, batch, bad_every);
        if (x < 0 || y < 0)
            return -1;
        *one = x < *one ? x : *one;
        *b = y < *b ? y : *b;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t total = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    if (total < 256 * ROUNDS || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_ed25519 [signatures >= 1280]\n");
        return 2;
    }
    sig_set good, bad;
    if (make_set(&good, 4096) != 0 || make_set(&bad, 4096) != 0)
        return 1;
    /* in `bad`, every 136th signature (k % 136 == 0) has a wrong S */
    for (size_t k = 0; k < bad.n; k += 136)
        bad.sig[k][40] ^= 1;
    static const size_t sizes[] = {1, 8, 32, 64, 136, 256};
    printf("Ed25519 verification, CPU us per signature (%zu signatures per row in %d alternating rounds, "
           "the fastest kept; %d-byte messages)\n",
           total, ROUNDS, MSG_LEN);
    printf("%-34s %10s %12s %8s\n", "batch size", "one by one", "batch", "ratio");
    int failed = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double one, b;
        failed |= row(&good, total, sizes[i], 0, &one, &b) != 0;
        printf("%-34zu %10.2f %12.2f %7.2fx\n", sizes[i], one, b, one / b);
    }
    for (size_t i = 2; i < sizeof sizes / sizeof sizes[0]; i++) {
        double one, b;
        failed |= row(&bad, total, sizes[i], 136, &one, &b) != 0;
        char label[64];
        snprintf(label, sizeof label, "%zu, 1 bad per 136 (fallback)", sizes[i]);
        printf("%-34s %10.2f %12.2f %7.2fx\n", label, one, b, one / b);
    }
    if (failed) {
        printf("WRONG ANSWERS: a verification disagreed with the expected result\n");
        return 1;
    }
    return 0;
}
