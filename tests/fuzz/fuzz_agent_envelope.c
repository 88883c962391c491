/* Fuzz target: the per-queue and agent envelopes (agent/envelope). The first
 * byte picks the decoder: 'e' the client message envelope, 'c' the client
 * message, 'i' the agent envelope keeping a contact request's invitation
 * (which must then be a parsed invitation), anything else the agent
 * envelope. These encodings are canonical: whatever decodes must encode
 * back to exactly the input. With
 * SX_FUZZ_SEED_OUT=<dir> in the environment the first run writes the seed
 * corpus there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/envelope.h"

static sx_agent_env env;

static void check_same(sx_writer *w, sx_slice in)
{
    if (sx_writer_status(w) != SX_OK || w->len != in.len || memcmp(w->buf, in.ptr, in.len) != 0)
        abort();
    sx_writer_cleanup(w);
}

static void write_file(const char *dir, const char *name, char tag, sx_slice s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputc(tag, f) == EOF || fwrite(s.ptr, 1, s.len, f) != s.len || fclose(f) != 0)
        abort();
}

static void write_seeds(const char *dir)
{
    static const char e2e_text[] =
        "v=2-3&x3dh=MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U=,"
        "MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U=";
    static const char link[] =
        "simplex:/invitation#/?v=2-7&smp=smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%2F3456-w%3D%3D%23%2F%3Fv%3D4%26dh%"
        "3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm&e2e=v%3D2-3%26x3dh%"
        "3DMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D%"
        "2CMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D";
    sx_agent_env e;
    memset(&e, 0, sizeof e);
    if (sx_e2e_params_decode_text(e2e_text, strlen(e2e_text), &e.e2e) != SX_OK)
        abort();
    e.agent_version = 7;
    const struct {
        const char *name;
        sx_agent_env_type type;
        bool e2e;
    } kinds[] = {{"env_conf", SX_AGENT_ENV_CONFIRMATION, true},
                 {"env_conf_none", SX_AGENT_ENV_CONFIRMATION, false},
                 {"env_msg", SX_AGENT_ENV_MESSAGE, false},
                 {"env_inv", SX_AGENT_ENV_INVITATION, false},
                 {"env_ratchet", SX_AGENT_ENV_RATCHET_KEY, true}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        e.type = kinds[i].type;
        e.has_e2e = kinds[i].e2e;
        e.e2e.version = 3;
        e.conn_req = sx_slice_str(link);
        e.body = sx_slice_str("body");
        sx_writer w;
        sx_writer_init_dynamic(&w, 1 << 16);
        if (!sx_agent_env_write(&w, &e))
            abort();
        write_file(dir, kinds[i].name, 'a', sx_writer_slice(&w));
        if (kinds[i].type == SX_AGENT_ENV_INVITATION)
            write_file(dir, "env_inv_kept", 'i', sx_writer_slice(&w));
        if (i == 2) { /* the message envelope inside client messages and an envelope */
            uint8_t secret[32] = {1};
            sx_writer cw, ew;
            sx_writer_init_dynamic(&cw, 1 << 16);
            sx_client_msg cm = {.confirmation = false, .body = sx_writer_slice(&w)};
            if (!sx_client_msg_write(&cw, &cm))
                abort();
            write_file(dir, "client_msg_empty", 'c', sx_writer_slice(&cw));
            sx_writer_init_dynamic(&ew, SX_AGENT_ENVELOPE_MAX);
            if (!sx_agent_cb_encrypt(&ew, secret, 4, NULL, NULL, sx_writer_slice(&cw)))
                abort();
            write_file(dir, "client_env", 'e', sx_writer_slice(&ew));
            sx_writer_cleanup(&cw);
            sx_writer_cleanup(&ew);
        }
        sx_writer_cleanup(&w);
    }
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
    if (size == 0)
        return 0;
    sx_slice in = sx_slice_of(data + 1, size - 1);
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 17);
    if (data[0] == 'e') {
        sx_client_env e;
        if (sx_client_env_decode(in, &e) == SX_OK) {
            if (!sx_client_env_write(&w, &e))
                abort();
            check_same(&w, in);
        }
    } else if (data[0] == 'c') {
        sx_client_msg m;
        if (sx_client_msg_decode(in, &m) == SX_OK) {
            if (!sx_client_msg_write(&w, &m))
                abort();
            check_same(&w, in);
        }
    } else if (data[0] == 'i') {
        /* A contact request as the address's owner reads it: the
         * invitation kept (and freed after any outcome). */
        sx_agent_connreq inv;
        memset(&inv, 0, sizeof inv);
        if (sx_agent_env_decode(in, &env, &inv) == SX_OK && env.type == SX_AGENT_ENV_INVITATION &&
            (inv.mode != SX_CONN_INVITATION || inv.queue_count == 0))
            abort();
        sx_agent_connreq_free(&inv);
    } else if (sx_agent_env_decode(in, &env, NULL) == SX_OK) {
        if (!sx_agent_env_write(&w, &env))
            abort();
        check_same(&w, in);
    }
    sx_writer_cleanup(&w);
    return 0;
}
