/* Fuzz target: the binary forms of the agent's full links (agent/queue_uri,
 * agent/connreq): the connection request of short-link data, the queue URI
 * and the one-version queue info. The first byte picks the decoder ('u'
 * queue URI, 'i' queue info, anything else a connection request). Whatever
 * decodes must encode, and its encoding must decode and encode to the same
 * bytes (the first encoding may differ from the input: the decoders fill in
 * queue modes as the reference does). With SX_FUZZ_SEED_OUT=<dir> in the
 * environment the first run writes the seed corpus there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/connreq.h"

static sx_agent_connreq ca, cb;
static sx_agent_queue_uri ua, ub;
static sx_agent_queue_info ia, ib;

static const char inv_text[] = "simplex:/invitation#/?v=2-7&smp=smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%2Cjjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D2-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds%3Bsmp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D1-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds%26srv%3Djjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion&e2e=v%3D1%26x3dh%3DMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D%2CMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D&data=%7B%7D";
static const char con_text[] = "simplex:/contact#/?v=2-7&smp=smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%3A5223%2F3456-w%3D%3D%23%2F%3Fv%3D1-4%26dh%3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm%26k%3Ds%26srv%3Djjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion";

static void same(sx_writer *w1, sx_writer *w2)
{
    if (sx_writer_status(w1) != SX_OK || sx_writer_status(w2) != SX_OK || w1->len != w2->len ||
        memcmp(w1->buf, w2->buf, w1->len) != 0)
        abort();
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
    const char *texts[2] = {inv_text, con_text};
    const char *names[2] = {"invitation", "contact"};
    for (int i = 0; i < 2; i++) {
        if (sx_agent_connreq_parse(texts[i], strlen(texts[i]), &ca) != SX_OK)
            abort();
        sx_writer w;
        sx_writer_init_dynamic(&w, 1 << 20);
        if (!sx_agent_connreq_write(&w, &ca))
            abort();
        write_file(dir, names[i], 'c', sx_writer_slice(&w));
        sx_writer_cleanup(&w);
        sx_writer_init_dynamic(&w, 1 << 20);
        if (!sx_agent_queue_uri_write(&w, &ca.queues[0]))
            abort();
        char name[64];
        snprintf(name, sizeof name, "queue_uri_%s", names[i]);
        write_file(dir, name, 'u', sx_writer_slice(&w));
        sx_writer_cleanup(&w);
        for (uint16_t v = 1; v <= 4; v++) {
            sx_agent_queue_info qi = {.version = v, .q = ca.queues[0].q};
            sx_writer_init_dynamic(&w, 1 << 20);
            if (!sx_agent_queue_info_write(&w, &qi))
                abort();
            snprintf(name, sizeof name, "queue_info_v%u_%s", (unsigned)v, names[i]);
            write_file(dir, name, 'i', sx_writer_slice(&w));
            sx_writer_cleanup(&w);
        }
        sx_agent_connreq_free(&ca);
    }
}

static void connreq_case(sx_slice in)
{
    if (sx_agent_connreq_decode(in, &ca) == SX_OK) {
        sx_writer w1, w2;
        sx_writer_init_dynamic(&w1, 1 << 20);
        sx_writer_init_dynamic(&w2, 1 << 20);
        if (!sx_agent_connreq_write(&w1, &ca) || sx_agent_connreq_decode(sx_writer_slice(&w1), &cb) != SX_OK ||
            !sx_agent_connreq_write(&w2, &cb))
            abort();
        same(&w1, &w2);
        sx_agent_connreq_free(&cb);
        sx_writer_cleanup(&w1);
        sx_writer_cleanup(&w2);
    }
    sx_agent_connreq_free(&ca);
}

static void queue_uri_case(sx_slice in)
{
    if (sx_agent_queue_uri_decode(in, &ua) != SX_OK)
        return;
    sx_writer w1, w2;
    sx_writer_init_dynamic(&w1, 1 << 16);
    sx_writer_init_dynamic(&w2, 1 << 16);
    if (!sx_agent_queue_uri_write(&w1, &ua) || sx_agent_queue_uri_decode(sx_writer_slice(&w1), &ub) != SX_OK ||
        !sx_agent_queue_uri_write(&w2, &ub))
        abort();
    same(&w1, &w2);
    sx_writer_cleanup(&w1);
    sx_writer_cleanup(&w2);
}

static void queue_info_case(sx_slice in)
{
    if (sx_agent_queue_info_decode(in, &ia) != SX_OK)
        return;
    sx_writer w1, w2;
    sx_writer_init_dynamic(&w1, 1 << 16);
    sx_writer_init_dynamic(&w2, 1 << 16);
    if (!sx_agent_queue_info_write(&w1, &ia) || sx_agent_queue_info_decode(sx_writer_slice(&w1), &ib) != SX_OK ||
        !sx_agent_queue_info_write(&w2, &ib))
        abort();
    same(&w1, &w2);
    sx_writer_cleanup(&w1);
    sx_writer_cleanup(&w2);
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
    if (data[0] == 'u')
        queue_uri_case(in);
    else if (data[0] == 'i')
        queue_info_case(in);
    else
        connreq_case(in);
    return 0;
}
