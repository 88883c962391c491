/* Benchmark: our base64 encoder (core/base64.h, sx_b64_encode: constant
 * time, eight characters a step) against libsodium's sodium_bin2base64
 * (sx_b64_encode_sodium) on the same random bytes in the same process: the
 * body of a 16 KB message, as the SMP router's message journal writes it
 * (about 21 KB of text per SEND), and a 32-byte key. Each row alternates the
 * two in 5 rounds and keeps the fastest round of each (CPU time), so that
 * other load on the machine distorts the ratio less. Usage: bench_base64
 * [encodes] (default 20000 per round for the 16 KB row). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef sx_status (*encoder)(sx_slice in, sx_b64_variant v, char *out, size_t cap);

/* CPU microseconds per encode of in, n times; -1 when one fails. */
static double time_encode(encoder enc, sx_slice in, char *out, size_t cap, long n)
{
    double t0 = cpu_now();
    for (long i = 0; i < n; i++)
        if (enc(in, SX_B64_URL, out, cap) != SX_OK)
            return -1;
    return (cpu_now() - t0) / (double)n * 1e6;
}

static int row(const char *name, size_t len, long n)
{
    uint8_t *in = malloc(len);
    size_t cap = sx_b64_encoded_size(len, SX_B64_URL);
    char *a = malloc(cap), *b = malloc(cap);
    if (!in || !a || !b)
        return 1;
    randombytes_buf(in, len);
    double best_ours = 1e30, best_sodium = 1e30;
    for (int round = 0; round < 5; round++) {
        double s = time_encode(sx_b64_encode_sodium, sx_slice_of(in, len), b, cap, n);
        double o = time_encode(sx_b64_encode, sx_slice_of(in, len), a, cap, n);
        if (s < 0 || o < 0 || strcmp(a, b) != 0) {
            fprintf(stderr, "%s: the encoders disagree or failed\n", name);
            return 1;
        }
        best_sodium = s < best_sodium ? s : best_sodium;
        best_ours = o < best_ours ? o : best_ours;
    }
    printf("%-24s %12.3f %12.3f %10.1f %8.2fx\n", name, best_sodium, best_ours,
           (double)len / best_ours / 1.048576, best_sodium / best_ours);
    free(in);
    free(a);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    if (n <= 0 || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_base64 [encodes]\n");
        return 1;
    }
    printf("base64url encode, CPU us per encode (fastest of 5 rounds), libsodium as the baseline\n");
    printf("%-24s %12s %12s %10s %9s\n", "input", "libsodium", "ours", "ours MiB/s", "speed-up");
    if (row("16048 B (message body)", 16048, n) || row("32 B (a key)", 32, n * 100))
        return 1;
    return 0;
}
