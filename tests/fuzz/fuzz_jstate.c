/* Fuzz target: the journal message store's text formats (smp_router/
 * jstate.h, the message lines of msglog.h) and the recovery of a queue
 * folder (jstore.h). Each line of the input is parsed as a state line and
 * as a message line; what parses must re-encode to the same bytes (state
 * lines) or to a line that parses again to the same encoding (messages).
 * Then the input, split at its first NUL byte, becomes a queue's state file
 * and its message file, and the queue is read through: errors are fine,
 * crashes, leaks and reads past the files are not, and every message peeked
 * must be one of the file's lines. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smp_router/jstore.h"

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void check_line(const uint8_t *line, size_t len)
{
    sx_jstate st;
    if (sx_jstate_parse(sx_slice_of(line, len), &st) == SX_OK) {
        uint8_t buf[1024];
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        if (!sx_jstate_encode(&w, &st))
            __builtin_trap();
        /* numbers may have had leading zeros or a '+' (size): compare parsed values */
        sx_jstate again;
        if (sx_jstate_parse(sx_writer_slice(&w), &again) != SX_OK || memcmp(&again, &st, sizeof st) != 0)
            __builtin_trap();
    }
    sx_slmsg m;
    if (sx_slmsg_parse_msg(sx_slice_of(line, len), &m) == SX_OK) {
        sx_writer w, w2;
        sx_writer_init_dynamic(&w, SX_JMSG_LINE_MAX + 16);
        if (!sx_slmsg_encode_msg(&w, &m))
            __builtin_trap();
        sx_slmsg again;
        if (sx_slmsg_parse_msg(sx_writer_slice(&w), &again) != SX_OK)
            __builtin_trap();
        sx_writer_init_dynamic(&w2, SX_JMSG_LINE_MAX + 16);
        if (!sx_slmsg_encode_msg(&w2, &again) || !sx_slice_eq(sx_writer_slice(&w), sx_writer_slice(&w2)))
            __builtin_trap();
        sx_writer_cleanup(&w);
        sx_writer_cleanup(&w2);
        sx_slmsg_cleanup(&again);
        sx_slmsg_cleanup(&m);
    }
}

static void put(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    if (len)
        (void)fwrite(data, 1, len, f);
    fclose(f);
}

/* The queue folder holds files only (removed through the store), then its
 * empty parents up to root. */
static void rm_tree(const char *root, const char *qdir)
{
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.warn = quiet;
    sx_jstore *js;
    uint8_t rid[SX_ID_LEN] = {0};
    if (sx_jstore_open(&c, &js) == SX_OK) {
        if (sx_jstore_delete_queue(js, rid) != SX_OK)
            __builtin_trap();
        sx_jstore_close(js);
    }
    char p[256];
    snprintf(p, sizeof p, "%s", qdir);
    for (char *slash = strrchr(p, '/'); slash && (size_t)(slash - p) >= strlen(root); slash = strrchr(p, '/')) {
        *slash = 0;
        rmdir(p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t start = 0;
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t len = nl ? (size_t)(nl - (data + start)) : size - start;
        uint8_t *line = malloc(len ? len : 1); /* exact size: ASan sees overreads */
        if (!line)
            __builtin_trap();
        if (len)
            memcpy(line, data + start, len);
        check_line(line, len);
        free(line);
        start += len + 1;
    }

    static char root[64];
    if (!root[0])
        snprintf(root, sizeof root, "/tmp/fuzz_jstate.%d", (int)getpid());
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.warn = quiet;
    c.quota = 4;
    c.max_msg_count = 3;
    uint8_t rid[SX_ID_LEN] = {0};
    char qdir[256], path[512];
    if (sx_jstore_queue_dir(&c, rid, qdir, sizeof qdir) != SX_OK)
        __builtin_trap();
    /* root/AA/AA/AA/AA/AAAA... */
    mkdir(root, 0700);
    char part[256];
    for (size_t i = strlen(root) + 1; i <= strlen(qdir); i++) {
        if (qdir[i] == '/' || qdir[i] == 0) {
            memcpy(part, qdir, i);
            part[i] = 0;
            mkdir(part, 0700);
        }
    }
    const uint8_t *zero = memchr(data, 0, size);
    size_t state_len = zero ? (size_t)(zero - data) : size;
    snprintf(path, sizeof path, "%s/queue_state.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.log", qdir);
    put(path, data, state_len);
    /* both names a short hand-made state may use */
    const uint8_t *msgs = zero ? zero + 1 : data + size;
    size_t msgs_len = zero ? size - state_len - 1 : 0;
    snprintf(path, sizeof path, "%s/messages.AAAAAAAAAAAAAAAA.log", qdir);
    put(path, msgs, msgs_len);
    snprintf(path, sizeof path, "%s/messages.BBBBBBBBBBBBBBBB.log", qdir);
    put(path, msgs, msgs_len);

    sx_jstore *js;
    if (sx_jstore_open(&c, &js) != SX_OK)
        __builtin_trap();
    sx_jmsg *m = malloc(sizeof *m);
    if (!m)
        __builtin_trap();
    for (int i = 0; i < 8; i++) {
        bool found = false, deleted;
        if (sx_jstore_peek(js, rid, m, &found) != SX_OK || !found)
            break;
        if (m->len > SX_MSG_BODY_MAX)
            __builtin_trap();
        if (sx_jstore_ack(js, rid, m->id, &deleted, NULL, NULL) != SX_OK)
            break;
        if (!deleted)
            __builtin_trap(); /* the message just peeked is the first */
    }
    sx_jwrite r;
    memset(m, 0, sizeof *m);
    m->len = 1;
    if (sx_jstore_write(js, rid, m, &r, NULL) == SX_OK && r != SX_JW_STORED && r != SX_JW_QUOTA && r != SX_JW_FULL)
        __builtin_trap();
    int64_t n;
    if (sx_jstore_size(js, rid, &n) == SX_OK && n < 0)
        __builtin_trap();
    free(m);
    sx_jstore_close(js);
    rm_tree(root, qdir);
    return 0;
}
