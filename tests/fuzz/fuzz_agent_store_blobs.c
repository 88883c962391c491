/* Fuzz target: the blobs the agent store reads back from its file, which
 * it treats as untrusted bytes. The first byte picks the decoder: 0 the
 * ratchet state (sx_ratchet_read, formats 1 and 2), 1 the X3DH private keys
 * (sx_e2e_private_read), 2 a message encryption key
 * (sx_ratchet_msg_key_decode). What decodes must encode back to the same
 * bytes; a decoded ratchet must also take a message without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/reader.h"
#include "core/writer.h"
#include "crypto/ratchet.h"
#include "crypto/util.h"
#include "crypto/x3dh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const sx_writer *w, sx_slice in)
{
    if (sx_writer_status(w) != SX_OK || w->len != in.len || memcmp(w->buf, in.ptr, in.len) != 0)
        abort();
}

static void ratchet_state(sx_slice in)
{
    sx_ratchet r;
    if (sx_ratchet_read(in, &r) != SX_OK) {
        sx_ratchet_cleanup(&r);
        return;
    }
    sx_writer w;
    sx_writer_init_dynamic(&w, 1u << 20);
    sx_ratchet_write(&w, &r);
    if (in.ptr[0] != 1) /* format 1 is written back as format 2 */
        same(&w, in);
    sx_writer_cleanup(&w);
    /* A message of junk: any outcome but a crash, and the state keeps. */
    static const uint8_t junk[200] = {0x00, 0x60, 0x00, 0x03};
    uint8_t out[sizeof junk];
    sx_slice plain;
    if (sx_ratchet_decrypt(&r, sx_slice_of(junk, sizeof junk), out, sizeof out, &plain, NULL) ==
        SX_OK)
        abort(); /* junk cannot authenticate */
    sx_ratchet_cleanup(&r);
}

static void x3dh_private(sx_slice in)
{
    sx_e2e_private p;
    sx_reader r;
    sx_reader_init_slice(&r, in);
    sx_e2e_private_read(&r, &p);
    if (sx_reader_finish(&r) == SX_OK) {
        sx_writer w;
        sx_writer_init_dynamic(&w, 1u << 16);
        sx_e2e_private_write(&w, &p);
        same(&w, in);
        sx_writer_cleanup(&w);
    }
    sx_e2e_private_wipe(&p);
}

static void msg_key(sx_slice in)
{
    sx_ratchet_msg_key k;
    if (sx_ratchet_msg_key_decode(in, &k) != SX_OK)
        return;
    sx_writer w;
    sx_writer_init_dynamic(&w, 1u << 16);
    sx_ratchet_msg_key_write(&w, &k);
    same(&w, in);
    sx_writer_cleanup(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        if (sx_crypto_init() != SX_OK)
            abort();
        ready = true;
    }
    if (size == 0)
        return 0;
    sx_slice in = sx_slice_of(data + 1, size - 1);
    switch (data[0]) {
    case 0:
        ratchet_state(in);
        break;
    case 1:
        x3dh_private(in);
        break;
    case 2:
        msg_key(in);
        break;
    default:
        break;
    }
    return 0;
}
