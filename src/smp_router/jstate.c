/* Queue state lines of the journal message store (see jstate.h). */
#include "smp_router/jstate.h"

#include <string.h>

#include "core/reader.h"
#include "smp_router/sltext.h"

static bool read_uint(sx_reader *r, int64_t *v)
{
    uint8_t c;
    if (!sx_slt_peek(r, &c))
        return false;
    if (!sx_slt_is_digit(c)) /* A.decimal: digits only, no sign */
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_slt_read_int(r, v);
}

static bool read_pos(sx_reader *r, sx_jpos *p)
{
    sx_reader probe = *r;
    sx_slice jid;
    if (!sx_slt_take_while(&probe, sx_slt_is_b64, &jid))
        return false;
    if (jid.len == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (jid.len > SX_JID_MAX)
        return sx_reader_fail(r, SX_E_LIMIT);
    if (!sx_read_copy(r, p->jid, jid.len))
        return false;
    p->jid[jid.len] = 0;
    return sx_slt_expect(r, ",") && read_uint(r, &p->msg_pos) && sx_slt_expect(r, ",") &&
           read_uint(r, &p->msg_count) && sx_slt_expect(r, ",") && read_uint(r, &p->byte_pos) &&
           sx_slt_expect(r, ",") && read_uint(r, &p->byte_count);
}

sx_status sx_jstate_parse(sx_slice line, sx_jstate *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, line);
    uint8_t cw = 0;
    bool ok = sx_slt_expect(&r, "write=") && read_pos(&r, &out->write) && sx_slt_expect(&r, " read=") &&
              read_pos(&r, &out->read) && sx_slt_expect(&r, " canWrite=") && sx_slt_read_char_of(&r, "TF", &cw) &&
              sx_slt_expect(&r, " size=") && sx_slt_read_int(&r, &out->size);
    if ((ok && sx_reader_remaining(&r) != 0) || (!ok && sx_reader_ok(&r)))
        sx_reader_fail(&r, SX_E_PROTOCOL);
    sx_status st = sx_reader_ok(&r) ? SX_OK : sx_reader_status(&r);
    if (st != SX_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    out->can_write = cw == 'T';
    return SX_OK;
}

static bool put_pos(sx_writer *w, const sx_jpos *p)
{
    sx_write_str(w, p->jid);
    sx_write_str(w, ",");
    sx_slt_put_int(w, p->msg_pos);
    sx_write_str(w, ",");
    sx_slt_put_int(w, p->msg_count);
    sx_write_str(w, ",");
    sx_slt_put_int(w, p->byte_pos);
    sx_write_str(w, ",");
    return sx_slt_put_int(w, p->byte_count);
}

bool sx_jstate_encode(sx_writer *w, const sx_jstate *st)
{
    sx_write_str(w, "write=");
    put_pos(w, &st->write);
    sx_write_str(w, " read=");
    put_pos(w, &st->read);
    sx_write_str(w, st->can_write ? " canWrite=T size=" : " canWrite=F size=");
    return sx_slt_put_int(w, st->size);
}

bool sx_jstate_valid(const sx_jstate *st)
{
    const sx_jpos *r = &st->read, *w = &st->write;
    bool always = r->msg_pos <= r->msg_count && r->byte_pos <= r->byte_count && w->msg_pos == w->msg_count &&
                  w->byte_pos == w->byte_count && st->size >= 0;
    if (!always)
        return false;
    if (strcmp(r->jid, w->jid) == 0)
        return r->msg_pos <= w->msg_pos && r->msg_count == w->msg_count && r->byte_pos <= w->byte_pos &&
               r->byte_count == w->byte_count && st->size == r->msg_count - r->msg_pos;
    /* two journals: every unread message of the read one plus all of the write one */
    return r->msg_count - r->msg_pos <= INT64_MAX - w->msg_count && st->size == w->msg_count + r->msg_count - r->msg_pos;
}

void sx_jpos_init(sx_jpos *p, const char *jid)
{
    memset(p, 0, sizeof *p);
    size_t n = strlen(jid);
    if (n > SX_JID_MAX)
        n = SX_JID_MAX;
    memcpy(p->jid, jid, n);
}

void sx_jstate_init(sx_jstate *st, const char *jid)
{
    memset(st, 0, sizeof *st);
    sx_jpos_init(&st->write, jid);
    sx_jpos_init(&st->read, jid);
    st->can_write = true;
}
