/* Fuzz target: store-log, message-log and notification-log lines
 * (PROTOCOL-NOTES E25-E28). The input is split into lines; each is parsed by
 * all three parsers. What parses must re-encode to a line that parses to the
 * same encoding, and the store-log records are replayed into a fresh store,
 * whose queues must then encode as CREATE records that parse again. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "smp_router/msglog.h"
#include "smp_router/ntflog.h"
#include "smp_router/storelog.h"

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* enc must parse, and re-encode to exactly enc. */
#define CHECK_STABLE(type, parse, encode, cleanup, enc)                               \
    do {                                                                              \
        type again_;                                                                  \
        if (parse(sx_writer_slice(enc), &again_) != SX_OK)                           \
            __builtin_trap();                                                         \
        sx_writer w2_;                                                                \
        sx_writer_init_dynamic(&w2_, 4 * SX_KIT_LINE_MAX);                             \
        if (!encode(&w2_, &again_) || !sx_slice_eq(sx_writer_slice(&w2_), sx_writer_slice(enc))) \
            __builtin_trap();                                                         \
        sx_writer_cleanup(&w2_);                                                      \
        cleanup(&again_);                                                             \
    } while (0)

static void check_queue(sx_queue *q, void *arg)
{
    (void)arg;
    sx_queue_lock(q);
    sx_slrec r;
    sx_slrec_from_queue(q, NULL, &r);
    sx_writer w;
    sx_writer_init_dynamic(&w, 4 * SX_KIT_LINE_MAX);
    if (!sx_slrec_encode(&w, &r))
        __builtin_trap();
    sx_queue_unlock(q);
    CHECK_STABLE(sx_slrec, sx_slrec_parse, sx_slrec_encode, sx_slrec_cleanup, &w);
    sx_writer_cleanup(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_store *st;
    sx_slservices *svc;
    if (sx_store_new(&st) != SX_OK || sx_slservices_new(&svc) != SX_OK)
        __builtin_trap();
    sx_kit_log_opts o = {0};
    o.warn = quiet;

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
        sx_slice s = sx_slice_of(line, len);

        sx_slrec r;
        if (sx_slrec_parse(s, &r) == SX_OK) {
            sx_writer w;
            sx_writer_init_dynamic(&w, 4 * SX_KIT_LINE_MAX);
            if (!sx_slrec_encode(&w, &r))
                __builtin_trap();
            CHECK_STABLE(sx_slrec, sx_slrec_parse, sx_slrec_encode, sx_slrec_cleanup, &w);
            sx_writer_cleanup(&w);
            sx_status st_apply = sx_slrec_apply(st, svc, &r, &o);
            if (st_apply == SX_E_INTERNAL)
                __builtin_trap();
            sx_slrec_cleanup(&r);
        }
        sx_slmsg m;
        if (sx_slmsg_parse(s, &m) == SX_OK) {
            sx_writer w;
            sx_writer_init_dynamic(&w, 4 * SX_KIT_LINE_MAX);
            if (!sx_slmsg_encode(&w, &m))
                __builtin_trap();
            CHECK_STABLE(sx_slmsg, sx_slmsg_parse, sx_slmsg_encode, sx_slmsg_cleanup, &w);
            sx_writer_cleanup(&w);
            sx_slmsg_cleanup(&m);
        }
        sx_ntfrec n;
        if (sx_ntfrec_parse(s, &n) == SX_OK) {
            sx_writer w;
            sx_writer_init_dynamic(&w, 4 * SX_KIT_LINE_MAX);
            if (!sx_ntfrec_encode(&w, &n))
                __builtin_trap();
            CHECK_STABLE(sx_ntfrec, sx_ntfrec_parse, sx_ntfrec_encode, sx_ntfrec_cleanup, &w);
            sx_writer_cleanup(&w);
            sx_ntfrec_cleanup(&n);
        }
        free(line);
        if (!nl)
            break;
        start += len + 1;
    }
    /* Whatever the replay built can be written back by compaction. */
    if (sx_store_each(st, check_queue, NULL) != SX_OK)
        return 0;
    sx_slservices_free(svc);
    sx_store_free(st);
    return 0;
}
