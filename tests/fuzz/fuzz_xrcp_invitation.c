/* Fuzz target: the XRCP invitation URI (xrcp/invitation.h). Whatever decodes
 * must write back to a URI that decodes to the same fields (the text itself
 * may differ: parameter order, escapes, padding), and the signature check
 * must give the same answer for both. */
#include "xrcp/invitation.h"

#include <stdlib.h>
#include <string.h>

static void same_fields(const sx_xrcp_signed_invitation *a, const sx_xrcp_signed_invitation *b)
{
    if (memcmp(a->inv.ca, b->inv.ca, sizeof a->inv.ca) != 0 || strcmp(a->inv.host, b->inv.host) != 0 ||
        a->inv.port != b->inv.port || a->inv.v.min != b->inv.v.min || a->inv.v.max != b->inv.v.max ||
        a->inv.ts != b->inv.ts || memcmp(a->inv.skey, b->inv.skey, 32) != 0 ||
        memcmp(a->inv.idkey, b->inv.idkey, 32) != 0 || memcmp(a->inv.dh, b->inv.dh, 32) != 0 ||
        memcmp(a->ssig, b->ssig, 64) != 0 || memcmp(a->idsig, b->idsig, 64) != 0 || a->inv.app_len != b->inv.app_len ||
        memcmp(a->inv.app, b->inv.app, a->inv.app_len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_xrcp_signed_invitation s, t;
    if (sx_xrcp_invitation_decode(sx_slice_of(data, size), &s) != SX_OK)
        return 0;
    sx_status v1 = sx_xrcp_invitation_verify(&s);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    if (sx_xrcp_signed_invitation_write(&w, &s)) {
        /* the decoder read it, so the writer's own checks can only refuse
         * an app text with '+' or '%' (the reader's second unescaping
         * leaves those) or a host with characters the writer refuses */
        if (sx_xrcp_invitation_decode(sx_writer_slice(&w), &t) != SX_OK)
            abort();
        same_fields(&s, &t);
        if (sx_xrcp_invitation_verify(&t) != v1)
            abort();
        sx_xrcp_signed_invitation_clear(&t);
    }
    sx_writer_cleanup(&w);
    sx_xrcp_signed_invitation_clear(&s);
    return 0;
}
