/* Fuzz target: the text form of E2E ratchet parameters in connection links
 * (crypto/x3dh, sx_e2e_params_decode_text). Whatever decodes must encode
 * back to exactly the text read (the decoder takes only canonical text), and
 * the value must survive the binary link form unchanged. With
 * SX_FUZZ_SEED_OUT=<dir> in the environment the first run writes the seed
 * corpus (deterministic keys, and the reference's own example) there. */
#include "crypto/x3dh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sx_e2e_params p, q;

static void check_text(const sx_e2e_params *v, const uint8_t *data, size_t n)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_E2E_PARAMS_TEXT_MAX);
    if (!sx_e2e_params_write_text(&w, v) || w.len != n || memcmp(w.buf, data, n) != 0)
        abort();
    sx_writer_cleanup(&w);
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        abort();
}

static void write_seed(const char *dir, const char *name, sx_e2e_params *v, uint16_t min)
{
    v->range.min = min;
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_E2E_PARAMS_TEXT_MAX);
    if (!sx_e2e_params_write_text(&w, v))
        abort();
    write_file(dir, name, w.buf, w.len);
    sx_writer_cleanup(&w);
}

static void write_seeds(const char *dir)
{
    static sx_e2e_private priv, priv2;
    static sx_e2e_params a, b;
    uint8_t seed[32] = "e2e params text seeds";
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    static const char ref[] =
        "v=1&x3dh="
        "MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U=,"
        "MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U=";
    write_file(dir, "reference_v1", ref, sizeof ref - 1);
    if (sx_e2e_generate(2, SX_USE_KEM_NO, NULL, &rng, &priv, &a) != SX_OK)
        abort();
    write_seed(dir, "v2", &a, 2);
    if (sx_e2e_generate(3, SX_USE_KEM_NO, NULL, &rng, &priv, &a) != SX_OK)
        abort();
    write_seed(dir, "v2_3_none", &a, 2);
    if (sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &rng, &priv, &a) != SX_OK)
        abort();
    write_seed(dir, "v2_3_proposed", &a, 2);
    write_seed(dir, "v3_proposed", &a, 3);
    if (sx_e2e_generate(3, SX_USE_KEM_ACCEPT, a.kem.pk, &rng, &priv2, &b) != SX_OK)
        abort();
    write_seed(dir, "v2_3_accepted", &b, 2);
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
    if (sx_e2e_params_decode_text((const char *)data, size, &p) != SX_OK)
        return 0;
    check_text(&p, data, size);
    /* text -> binary link form -> text */
    sx_writer w;
    sx_writer_init_dynamic(&w, 8192);
    if (!sx_e2e_params_write_uri(&w, &p) || sx_e2e_params_decode_uri(sx_writer_slice(&w), &q) != SX_OK)
        abort();
    sx_writer_cleanup(&w);
    check_text(&q, data, size);
    return 0;
}
