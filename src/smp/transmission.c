/* Transmission layout and authorized bytes (PROTOCOL-NOTES C.1, C.2). The
 * parser is a flat sequence of reads whose only branches are the two version
 * gates; the authorized bytes are rebuilt from what was received so that a
 * signature is checked over exactly the sender's bytes. */
#include "smp/transmission.h"

#include <string.h>

#include "smp/encoding.h"
#include "smp/version.h"

sx_status sx_smp_auth_kind_of(sx_slice auth, sx_smp_auth_kind *out)
{
    switch (auth.len) {
    case 0:
        *out = SX_SMP_AUTH_NONE;
        return SX_OK;
    case 80:
        *out = SX_SMP_AUTH_AUTHENTICATOR;
        return SX_OK;
    case 64:
        *out = SX_SMP_AUTH_ED25519;
        return SX_OK;
    case 114:
        *out = SX_SMP_AUTH_ED448;
        return SX_OK;
    default:
        return SX_E_PROTOCOL;
    }
}

static bool has_service_slot(uint16_t v, sx_slice auth)
{
    return v >= SX_SMP_V_SERVICE_CERTS && auth.len > 0;
}

sx_status sx_smp_transmission_parse(sx_slice bytes, uint16_t v, sx_smp_transmission *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, bytes);
    sx_read_short(&r, &out->auth);
    if (sx_reader_ok(&r) && has_service_slot(v, out->auth)) {
        sx_read_maybe(&r, &out->has_service_sig);
        if (out->has_service_sig)
            sx_read_short_len(&r, SX_SMP_SERVICE_SIG_LEN, SX_SMP_SERVICE_SIG_LEN, &out->service_sig);
    }
    /* Everything from here on is what the sender authorized. */
    sx_reader rest = r;
    sx_read_tail(&rest, &out->signed_part);
    if (v < SX_SMP_V_AUTH_CMDS)
        sx_read_short(&r, &out->session_id);
    sx_read_short(&r, &out->corr_id);
    sx_read_short(&r, &out->entity_id);
    sx_read_tail(&r, &out->command);
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

bool sx_smp_transmission_write(sx_writer *w, uint16_t v, const sx_smp_transmission *t)
{
    if (!t)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_short(w, t->auth))
        return false;
    if (has_service_slot(v, t->auth)) {
        if (t->has_service_sig && t->service_sig.len != SX_SMP_SERVICE_SIG_LEN)
            return sx_writer_fail(w, SX_E_USAGE);
        if (!sx_smp_write_maybe_short(w, t->has_service_sig, t->service_sig))
            return false;
    } else if (t->has_service_sig) {
        return sx_writer_fail(w, SX_E_USAGE);
    }
    if (v < SX_SMP_V_AUTH_CMDS && !sx_write_short(w, t->session_id))
        return false;
    return sx_write_short(w, t->corr_id) && sx_write_short(w, t->entity_id) &&
           sx_write_slice(w, t->command);
}

bool sx_smp_write_auth_bytes(sx_writer *w, sx_slice cert_fp, sx_slice session_id,
                             sx_slice corr_id, sx_slice entity_id, sx_slice command)
{
    if (cert_fp.len != 0 && cert_fp.len != SX_SMP_CERT_FP_LEN)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_slice(w, cert_fp) && sx_write_short(w, session_id) &&
           sx_write_short(w, corr_id) && sx_write_short(w, entity_id) &&
           sx_write_slice(w, command);
}

bool sx_smp_transmission_auth_bytes(sx_writer *w, const sx_smp_transmission *t, uint16_t v,
                                    sx_slice session_id, sx_slice cert_fp)
{
    if (!t || (cert_fp.len != 0 && cert_fp.len != SX_SMP_CERT_FP_LEN))
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_slice(w, cert_fp))
        return false;
    if (v >= SX_SMP_V_AUTH_CMDS && !sx_write_short(w, session_id))
        return false;
    return sx_write_slice(w, t->signed_part);
}
