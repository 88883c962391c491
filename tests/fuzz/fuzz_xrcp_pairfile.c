/* Fuzz target: the XRCP pairing files (xrcp/pairfile.h). The input is read
 * as a controller's and as a host's file; whatever is read must be written
 * back to the same bytes. Seeds: the files of unit.xrcp_pairfile
 * (SX_XRCP_SEEDS=<folder>). */
#include "xrcp/pairfile.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"

static void same(const uint8_t *data, size_t size, sx_writer *w)
{
    if (sx_writer_status(w) != SX_OK || w->len != size || memcmp(w->buf, data, size) != 0)
        abort();
    sx_writer_cleanup(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        if (sx_crypto_init() != SX_OK)
            abort();
        ready = true;
    }
    sx_slice in = sx_slice_of(data, size);
    sx_xrcp_ctrl_pairing c;
    if (sx_xrcp_ctrl_pairing_read(in, &c) == SX_OK) {
        sx_writer w;
        sx_writer_init_dynamic(&w, SX_XRCP_PAIRFILE_MAX);
        if (!sx_xrcp_ctrl_pairing_write(&w, &c))
            abort();
        same(data, size, &w);
        sx_xrcp_ctrl_pairing_clear(&c);
    }
    sx_xrcp_host_pairing h;
    if (sx_xrcp_host_pairing_read(in, &h) == SX_OK) {
        sx_writer w;
        sx_writer_init_dynamic(&w, SX_XRCP_PAIRFILE_MAX);
        if (!sx_xrcp_host_pairing_write(&w, &h))
            abort();
        same(data, size, &w);
        sx_xrcp_host_pairing_clear(&h);
    }
    return 0;
}
