/* Fuzz target: the message journal (smp_router/msgjournal.h), read back at
 * every start. The input is split into lines; what parses must re-encode
 * to a line that parses to the same encoding. The whole input is then
 * replayed as a journal into a store with two queues, which must keep its
 * invariants (a message count that matches the list, the quota marker last). */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smp_router/msgjournal.h"

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void check_stable(const sx_writer *enc)
{
    sx_mjrec again;
    if (sx_mjrec_parse(sx_writer_slice(enc), &again) != SX_OK)
        __builtin_trap();
    sx_writer w2;
    sx_writer_init_dynamic(&w2, 4 * SX_KIT_LINE_MAX);
    if (!sx_mjrec_encode(&w2, &again) || !sx_slice_eq(sx_writer_slice(&w2), sx_writer_slice(enc)))
        __builtin_trap();
    sx_writer_cleanup(&w2);
    sx_mjrec_cleanup(&again);
}

static void check_queue(sx_queue *q, void *arg)
{
    (void)arg;
    sx_queue_lock(q);
    size_t n = 0;
    for (const sx_msg *m = q->head; m; m = m->next) {
        n++;
        if (m->quota && m->next)
            __builtin_trap();
        if (!m->next && m != q->tail)
            __builtin_trap();
    }
    if (n != q->n_msgs || n > SX_QUEUE_QUOTA + 1)
        __builtin_trap();
    sx_queue_unlock(q);
}

/* A queue whose recipient id is 24 bytes of b (base64url "AAAA..." for 0). */
static void add_queue(sx_store *st, uint8_t b)
{
    sx_queue *q = calloc(1, sizeof *q);
    if (!q)
        __builtin_trap();
    memset(q->rid, b, SX_ID_LEN);
    memset(q->sid, b ^ 0x55, SX_ID_LEN);
    q->n_rkeys = 1;
    q->rkey.len = 32;
    if (sx_store_insert(st, q) != SX_OK)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t start = 0;
    while (start <= size) {
        const uint8_t *nl = start < size ? memchr(data + start, '\n', size - start) : NULL;
        size_t len = nl ? (size_t)(nl - (data + start)) : size - start;
        /* Exact-size copy so that ASan sees any read past the line. */
        uint8_t *line = malloc(len ? len : 1);
        if (!line)
            __builtin_trap();
        if (len)
            memcpy(line, data + start, len);
        sx_mjrec r;
        if (sx_mjrec_parse(sx_slice_of(line, len), &r) == SX_OK) {
            sx_writer w;
            sx_writer_init_dynamic(&w, 4 * SX_KIT_LINE_MAX);
            if (!sx_mjrec_encode(&w, &r))
                __builtin_trap();
            check_stable(&w);
            sx_writer_cleanup(&w);
            sx_mjrec_cleanup(&r);
        }
        free(line);
        if (!nl)
            break;
        start += len + 1;
    }

    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/fuzz_msgjournal.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    sx_store *st;
    if (sx_store_new(&st) != SX_OK)
        __builtin_trap();
    add_queue(st, 0x00);
    add_queue(st, 0x01);
    sx_msglog_opts o = {.warn = quiet, .skip_warnings = true};
    sx_msgjournal_stats s;
    sx_status res = sx_msgjournal_replay(path, st, &o, &s);
    if (res != SX_OK && res != SX_E_NOMEM)
        __builtin_trap();
    if (sx_store_each(st, check_queue, NULL) != SX_OK)
        __builtin_trap();
    sx_store_free(st);
    unlink(path);
    return 0;
}
