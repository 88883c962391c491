/* Fuzz target: E2E ratchet parameters from a peer (crypto/x3dh), in the
 * plain form (confirmations, ratchet-key messages) and the link form (short
 * link data). Whatever decodes must encode back to exactly the bytes read.
 * With SX_FUZZ_SEED_OUT=<dir> in the environment the first run writes the
 * seed corpus (deterministic keys) into that folder. */
#include "crypto/x3dh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sx_e2e_params p;

static void check_roundtrip(const uint8_t *data, size_t n, bool uri)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 8192);
    bool ok = uri ? sx_e2e_params_write_uri(&w, &p) : sx_e2e_params_write(&w, &p);
    if (!ok || w.len != n || memcmp(w.buf, data, n) != 0)
        abort();
    sx_writer_cleanup(&w);
}

static void write_seed(const char *dir, const char *name, const sx_e2e_params *q, bool uri)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sx_writer w;
    sx_writer_init_dynamic(&w, 8192);
    if (!(uri ? sx_e2e_params_write_uri(&w, q) : sx_e2e_params_write(&w, q)))
        abort();
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(w.buf, 1, w.len, f) != w.len || fclose(f) != 0)
        abort();
    sx_writer_cleanup(&w);
}

static void write_seeds(const char *dir)
{
    static sx_e2e_private priv, priv2;
    static sx_e2e_params q, q2;
    uint8_t seed[32] = "e2e params seeds";
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    if (sx_e2e_generate(2, SX_USE_KEM_NO, NULL, &rng, &priv, &q) != SX_OK)
        abort();
    write_seed(dir, "v2", &q, false);
    q.range.min = 2;
    write_seed(dir, "uri_v2", &q, true);
    if (sx_e2e_generate(3, SX_USE_KEM_NO, NULL, &rng, &priv, &q) != SX_OK)
        abort();
    write_seed(dir, "v3_none", &q, false);
    if (sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &rng, &priv, &q) != SX_OK)
        abort();
    write_seed(dir, "v3_proposed", &q, false);
    q.range.min = 2;
    write_seed(dir, "uri_v3_proposed", &q, true);
    if (sx_e2e_generate(3, SX_USE_KEM_ACCEPT, q.kem.pk, &rng, &priv2, &q2) != SX_OK)
        abort();
    write_seed(dir, "v3_accepted", &q2, false);
    write_seed(dir, "uri_v3_accepted", &q2, true);
    sx_e2e_private_wipe(&priv);
    sx_e2e_private_wipe(&priv2);
    sx_sntrup761_drbg_cleanup(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int started;
    if (!started) {
        started = 1;
        const char *out = getenv("SX_FUZZ_SEED_OUT");
        if (out != NULL)
            write_seeds(out);
    }
    sx_slice in = sx_slice_of(data, size);
    if (sx_e2e_params_decode(in, &p) == SX_OK)
        check_roundtrip(data, size, false);
    if (sx_e2e_params_decode_uri(in, &p) == SX_OK)
        check_roundtrip(data, size, true);
    /* Prefix reads as inside a larger message. */
    sx_reader r;
    sx_reader_init_slice(&r, in);
    if (sx_e2e_params_read(&r, &p))
        check_roundtrip(data, size - sx_reader_remaining(&r), false);
    return 0;
}
