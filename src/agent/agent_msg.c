/* Agent messages and the integrity chain (docs/AGENT.md, "Agent
 * messages"). */
#include "agent/agent_msg.h"

#include <string.h>

#include "crypto/hash.h"

/* ---- queue addresses ---- */

static bool write_qaddr(sx_writer *w, const sx_agent_qaddr *a)
{
    return sx_agent_server_write(w, &a->server) && sx_write_short(w, sx_slice_of(a->sender_id, a->sender_id_len));
}

static bool read_qaddr(sx_reader *r, sx_agent_qaddr *a)
{
    sx_slice sid;
    if (!sx_agent_server_read(r, &a->server) || !sx_read_short(r, &sid))
        return false;
    sx_reader sr;
    sx_reader_init_slice(&sr, sid);
    a->sender_id_len = sid.len;
    return sx_read_copy(&sr, a->sender_id, sid.len) || sx_reader_fail(r, SX_E_PROTOCOL);
}

static bool read_count(sx_reader *r, size_t max, size_t *count)
{
    uint8_t n;
    if (!sx_read_nonempty_count(r, &n))
        return false;
    if (n > max)
        return sx_reader_fail(r, SX_E_LIMIT);
    *count = n;
    return true;
}

static bool write_count(sx_writer *w, size_t count, size_t max)
{
    if (count > max)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_nonempty_count(w, count);
}

/* ---- AMessage ---- */

bool sx_amessage_write(sx_writer *w, const sx_amessage *m)
{
    size_t i;
    switch (m->type) {
    case SX_AMSG_HELLO:
        return sx_write_str(w, "H");
    case SX_AMSG_A_MSG:
        return sx_write_str(w, "M") && sx_write_slice(w, m->body);
    case SX_AMSG_A_RCVD:
        if (!sx_write_str(w, "V") || !write_count(w, m->count, SX_AGENT_MSG_RECEIPTS_MAX))
            return false;
        for (i = 0; i < m->count; i++)
            if (!sx_write_i64(w, m->u.rcvd[i].agent_msg_id) || !sx_write_short(w, m->u.rcvd[i].msg_hash) ||
                !sx_write_large(w, m->u.rcvd[i].rcpt_info))
                return false;
        return true;
    case SX_AMSG_A_QCONT:
        return sx_write_str(w, "QC") && write_qaddr(w, &m->u.qcont);
    case SX_AMSG_QADD:
        if (!sx_write_str(w, "QA") || !write_count(w, m->count, SX_AGENT_MSG_QUEUES_MAX))
            return false;
        for (i = 0; i < m->count; i++)
            if (!sx_agent_queue_uri_write(w, &m->u.qadd[i].uri) || !sx_write_maybe(w, m->u.qadd[i].has_replaced) ||
                (m->u.qadd[i].has_replaced && !write_qaddr(w, &m->u.qadd[i].replaced)))
                return false;
        return true;
    case SX_AMSG_QKEY:
        if (!sx_write_str(w, "QK") || !write_count(w, m->count, SX_AGENT_MSG_QUEUES_MAX))
            return false;
        for (i = 0; i < m->count; i++)
            if (!sx_agent_queue_info_write(w, &m->u.qkey[i].info) ||
                !sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &m->u.qkey[i].sender_key))
                return false;
        return true;
    case SX_AMSG_QUSE:
        if (!sx_write_str(w, "QU") || !write_count(w, m->count, SX_AGENT_MSG_QUEUES_MAX))
            return false;
        for (i = 0; i < m->count; i++)
            if (!write_qaddr(w, &m->u.quse[i].addr) || !sx_write_bool(w, m->u.quse[i].primary))
                return false;
        return true;
    case SX_AMSG_QTEST:
        if (!sx_write_str(w, "QT") || !write_count(w, m->count, SX_AGENT_MSG_QUEUES_MAX))
            return false;
        for (i = 0; i < m->count; i++)
            if (!write_qaddr(w, &m->u.qtest[i]))
                return false;
        return true;
    case SX_AMSG_EREADY:
        return sx_write_str(w, "E") && sx_write_i64(w, m->last_snd_id);
    }
    return sx_writer_fail(w, SX_E_USAGE);
}

static bool read_list(sx_reader *r, sx_amessage *m)
{
    size_t i;
    switch (m->type) {
    case SX_AMSG_A_RCVD:
        if (!read_count(r, SX_AGENT_MSG_RECEIPTS_MAX, &m->count))
            return false;
        for (i = 0; i < m->count; i++)
            if (!sx_read_i64(r, &m->u.rcvd[i].agent_msg_id) || !sx_read_short(r, &m->u.rcvd[i].msg_hash) ||
                !sx_read_large(r, &m->u.rcvd[i].rcpt_info))
                return false;
        return true;
    case SX_AMSG_QADD:
        if (!read_count(r, SX_AGENT_MSG_QUEUES_MAX, &m->count))
            return false;
        for (i = 0; i < m->count; i++)
            if (!sx_agent_queue_uri_read(r, &m->u.qadd[i].uri) || !sx_read_maybe(r, &m->u.qadd[i].has_replaced) ||
                (m->u.qadd[i].has_replaced && !read_qaddr(r, &m->u.qadd[i].replaced)))
                return false;
        return true;
    case SX_AMSG_QKEY:
        if (!read_count(r, SX_AGENT_MSG_QUEUES_MAX, &m->count))
            return false;
        for (i = 0; i < m->count; i++)
            if (!sx_agent_queue_info_read(r, &m->u.qkey[i].info) ||
                !sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &m->u.qkey[i].sender_key))
                return false;
        return true;
    case SX_AMSG_QUSE:
        if (!read_count(r, SX_AGENT_MSG_QUEUES_MAX, &m->count))
            return false;
        for (i = 0; i < m->count; i++)
            if (!read_qaddr(r, &m->u.quse[i].addr) || !sx_read_bool(r, &m->u.quse[i].primary))
                return false;
        return true;
    case SX_AMSG_QTEST:
        if (!read_count(r, SX_AGENT_MSG_QUEUES_MAX, &m->count))
            return false;
        for (i = 0; i < m->count; i++)
            if (!read_qaddr(r, &m->u.qtest[i]))
                return false;
        return true;
    default:
        return sx_reader_fail(r, SX_E_INTERNAL);
    }
}

bool sx_amessage_read(sx_reader *r, sx_amessage *out)
{
    memset(out, 0, sizeof *out);
    char c, q;
    if (!sx_read_char(r, &c))
        return false;
    switch (c) {
    case 'H':
        out->type = SX_AMSG_HELLO;
        return true;
    case 'M':
        out->type = SX_AMSG_A_MSG;
        return sx_read_tail(r, &out->body);
    case 'V':
        out->type = SX_AMSG_A_RCVD;
        return read_list(r, out);
    case 'E':
        out->type = SX_AMSG_EREADY;
        return sx_read_i64(r, &out->last_snd_id);
    case 'Q':
        if (!sx_read_char(r, &q))
            return false;
        switch (q) {
        case 'C':
            out->type = SX_AMSG_A_QCONT;
            out->count = 1;
            return read_qaddr(r, &out->u.qcont);
        case 'A':
            out->type = SX_AMSG_QADD;
            return read_list(r, out);
        case 'K':
            out->type = SX_AMSG_QKEY;
            return read_list(r, out);
        case 'U':
            out->type = SX_AMSG_QUSE;
            return read_list(r, out);
        case 'T':
            out->type = SX_AMSG_QTEST;
            return read_list(r, out);
        default:
            return sx_reader_fail(r, SX_E_PROTOCOL);
        }
    default:
        return sx_reader_fail(r, SX_E_PROTOCOL);
    }
}

/* ---- AgentMessage ---- */

bool sx_agent_msg_write(sx_writer *w, const sx_agent_msg *m)
{
    switch (m->kind) {
    case SX_AGENT_MSG_CONN_INFO:
        return sx_write_u8(w, 'I') && sx_write_slice(w, m->info);
    case SX_AGENT_MSG_CONN_INFO_REPLY:
        if (!sx_write_u8(w, 'D') || !write_count(w, m->reply_count, SX_AGENT_MSG_QUEUES_MAX))
            return false;
        for (size_t i = 0; i < m->reply_count; i++)
            if (!sx_agent_queue_info_write(w, &m->reply[i]))
                return false;
        return sx_write_slice(w, m->info);
    case SX_AGENT_MSG_RATCHET_INFO:
        return sx_write_u8(w, 'R') && sx_write_slice(w, m->info);
    case SX_AGENT_MSG_MESSAGE:
        return sx_write_u8(w, 'M') && sx_write_i64(w, m->snd_msg_id) && sx_write_short(w, m->prev_msg_hash) &&
               sx_amessage_write(w, &m->msg);
    }
    return sx_writer_fail(w, SX_E_USAGE);
}

sx_status sx_agent_msg_decode(sx_slice in, sx_agent_msg *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    char k;
    if (sx_read_char(&r, &k)) {
        switch (k) {
        case 'I':
            out->kind = SX_AGENT_MSG_CONN_INFO;
            (void)sx_read_tail(&r, &out->info);
            break;
        case 'D':
            out->kind = SX_AGENT_MSG_CONN_INFO_REPLY;
            if (read_count(&r, SX_AGENT_MSG_QUEUES_MAX, &out->reply_count))
                for (size_t i = 0; i < out->reply_count; i++)
                    if (!sx_agent_queue_info_read(&r, &out->reply[i]))
                        break;
            (void)sx_read_tail(&r, &out->info);
            break;
        case 'R':
            out->kind = SX_AGENT_MSG_RATCHET_INFO;
            (void)sx_read_tail(&r, &out->info);
            break;
        case 'M':
            out->kind = SX_AGENT_MSG_MESSAGE;
            (void)(sx_read_i64(&r, &out->snd_msg_id) && sx_read_short(&r, &out->prev_msg_hash) &&
                   sx_amessage_read(&r, &out->msg));
            break;
        default:
            (void)sx_reader_fail(&r, SX_E_PROTOCOL);
        }
    }
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---- integrity chain ---- */

sx_status sx_agent_msg_hash(sx_slice agent_msg, uint8_t out[SX_AGENT_MSG_HASH_LEN])
{
    return sx_sha256(agent_msg, out);
}

sx_msg_integrity sx_agent_msg_integrity(int64_t prev_id, int64_t id, sx_slice prev_hash, sx_slice their_prev_hash,
                                        int64_t *skipped_from, int64_t *skipped_to)
{
    bool same = sx_slice_eq(prev_hash, their_prev_hash);
    if (skipped_from)
        *skipped_from = 0;
    if (skipped_to)
        *skipped_to = 0;
    /* written without overflow: prev_id + 1 only when prev_id < id */
    if (id > prev_id && id - 1 == prev_id && same)
        return SX_MSG_OK;
    if (id < prev_id)
        return SX_MSG_BAD_ID;
    if (id == prev_id)
        return SX_MSG_DUPLICATE;
    if (id - 1 > prev_id) {
        if (skipped_from)
            *skipped_from = prev_id + 1;
        if (skipped_to)
            *skipped_to = id - 1;
        return SX_MSG_SKIPPED;
    }
    return SX_MSG_BAD_HASH;
}
