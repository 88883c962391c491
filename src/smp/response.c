/* Router message codec: one flat decoder per message, the version gates
 * choosing only which fields exist, and an encoder that applies the same
 * gates plus the reference's downgrades for older sessions. */
#include "smp/response.h"

#include <string.h>

#include "smp/version.h"

typedef struct resp_info {
    const char *name;
    sx_smp_resp_tag tag;
} resp_info;

static const resp_info RESPS[] = {
    {"IDS", SX_SMP_R_IDS},   {"LNK", SX_SMP_R_LNK},   {"SOK", SX_SMP_R_SOK},
    {"SOKS", SX_SMP_R_SOKS}, {"MSG", SX_SMP_R_MSG},   {"ALLS", SX_SMP_R_ALLS},
    {"NID", SX_SMP_R_NID},   {"NMSG", SX_SMP_R_NMSG}, {"PKEY", SX_SMP_R_PKEY},
    {"RRES", SX_SMP_R_RRES}, {"PRES", SX_SMP_R_PRES}, {"END", SX_SMP_R_END},
    {"ENDS", SX_SMP_R_ENDS}, {"DELD", SX_SMP_R_DELD}, {"INFO", SX_SMP_R_INFO},
    {"OK", SX_SMP_R_OK},     {"ERR", SX_SMP_R_ERR},   {"PONG", SX_SMP_R_PONG},
};

#define RESP_COUNT (sizeof RESPS / sizeof RESPS[0])

static const uint8_t EMPTY_IDS_HASH[SX_SMP_IDS_HASH_LEN];

#define X25519_ONLY SX_KEY_BIT(SX_KEY_X25519)

const char *sx_smp_resp_name(sx_smp_resp_tag tag)
{
    for (size_t i = 0; i < RESP_COUNT; i++)
        if (RESPS[i].tag == tag)
            return RESPS[i].name;
    return "?";
}

/* ---- decoding ---- */

static bool read_space(sx_reader *r) { return sx_read_expect_str(r, " "); }

static bool read_queue_mode(sx_reader *r, sx_smp_queue_mode *out)
{
    char c;
    if (!sx_read_char(r, &c))
        return false;
    if (c != SX_SMP_QUEUE_MESSAGING && c != SX_SMP_QUEUE_CONTACT)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    *out = (sx_smp_queue_mode)c;
    return true;
}

/* PROTOCOL-NOTES D5: the five layouts of IDS. */
static bool read_ids(sx_reader *r, uint16_t v, sx_smp_ids *ids)
{
    read_space(r);
    sx_read_short(r, &ids->rcv_id);
    sx_read_short(r, &ids->snd_id);
    sx_smp_read_pubkey(r, X25519_ONLY, &ids->srv_dh_key);
    if (v < SX_SMP_V_SND_AUTH_KEY)
        return sx_reader_ok(r);
    if (v < SX_SMP_V_SHORT_LINKS) {
        bool sender_can_secure;
        if (!sx_read_bool(r, &sender_can_secure))
            return false;
        ids->has_queue_mode = true;
        ids->queue_mode = sender_can_secure ? SX_SMP_QUEUE_MESSAGING : SX_SMP_QUEUE_CONTACT;
        return true;
    }
    sx_read_maybe(r, &ids->has_queue_mode);
    if (ids->has_queue_mode)
        read_queue_mode(r, &ids->queue_mode);
    sx_smp_read_maybe_short(r, &ids->has_link_id, &ids->link_id);
    if (v >= SX_SMP_V_SERVICE_CERTS)
        sx_smp_read_maybe_short(r, &ids->has_service_id, &ids->service_id);
    if (v >= SX_SMP_V_NEW_NTF_CREDS) {
        sx_read_maybe(r, &ids->has_ntf);
        if (ids->has_ntf) {
            sx_read_short(r, &ids->ntf_id);
            sx_smp_read_pubkey(r, X25519_ONLY, &ids->srv_ntf_dh_key);
        }
    }
    return sx_reader_ok(r);
}

static bool read_service_subs(sx_reader *r, uint16_t v, sx_smp_resp *m)
{
    read_space(r);
    sx_read_i64(r, &m->subs.count);
    if (v >= SX_SMP_V_RCV_SERVICE)
        return sx_read_short(r, &m->subs.ids_hash);
    m->subs.ids_hash = sx_slice_of(EMPTY_IDS_HASH, sizeof EMPTY_IDS_HASH);
    return sx_reader_ok(r);
}

static bool read_params(sx_reader *r, uint16_t v, sx_smp_resp *m)
{
    switch (m->tag) {
    case SX_SMP_R_IDS:
        return read_ids(r, v, &m->ids);
    case SX_SMP_R_LNK:
        read_space(r);
        sx_read_short(r, &m->lnk.sender_id);
        return sx_smp_read_link_data(r, &m->lnk.data);
    case SX_SMP_R_SOK:
        return read_space(r) &&
               sx_smp_read_maybe_short(r, &m->sok.has_service_id, &m->sok.service_id);
    case SX_SMP_R_SOKS:
    case SX_SMP_R_ENDS:
        return read_service_subs(r, v, m);
    case SX_SMP_R_MSG:
        read_space(r);
        sx_read_short(r, &m->msg.msg_id);
        return sx_read_tail(r, &m->msg.body);
    case SX_SMP_R_NID:
        read_space(r);
        sx_read_short(r, &m->nid.notifier_id);
        return sx_smp_read_pubkey(r, X25519_ONLY, &m->nid.srv_dh_key);
    case SX_SMP_R_NMSG:
        read_space(r);
        sx_read_bytes(r, SX_SMP_NONCE_LEN, &m->nmsg.nonce);
        return sx_read_short(r, &m->nmsg.enc_meta);
    case SX_SMP_R_PKEY:
        read_space(r);
        sx_read_short(r, &m->pkey.session_id);
        sx_read_version_range(r, &m->pkey.vrange);
        sx_smp_read_list(r, SX_SMP_ITEM_LARGE, SX_SMP_CHAIN_MAX, &m->pkey.chain);
        return sx_read_large(r, &m->pkey.signed_key);
    case SX_SMP_R_RRES:
    case SX_SMP_R_PRES:
        return read_space(r) && sx_read_tail(r, &m->enc);
    case SX_SMP_R_INFO:
        return read_space(r) && sx_read_tail(r, &m->info);
    case SX_SMP_R_ERR:
        return read_space(r) && sx_smp_error_read(r, &m->err);
    default:
        /* ALLS, END, DELD, OK, PONG: anything after the tag is trailing. */
        return true;
    }
}

sx_status sx_smp_resp_decode(sx_slice bytes, uint16_t v, sx_smp_resp *out, sx_smp_cmd_err *err)
{
    memset(out, 0, sizeof *out);
    *err = 0;
    sx_reader r;
    sx_reader_init_slice(&r, bytes);
    sx_slice word;
    sx_read_word(&r, &word);
    for (size_t i = 0; i < RESP_COUNT && !out->tag; i++)
        if (sx_slice_eq(word, sx_slice_str(RESPS[i].name)))
            out->tag = RESPS[i].tag;
    if (!out->tag) {
        *err = SX_SMP_CMD_UNKNOWN;
        return SX_E_PROTOCOL;
    }
    read_params(&r, v, out);
    if (sx_reader_finish(&r) != SX_OK) {
        memset(out, 0, sizeof *out);
        *err = SX_SMP_CMD_SYNTAX;
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

/* ---- encoding ---- */

static bool write_tag(sx_writer *w, sx_smp_resp_tag tag, bool params)
{
    const char *name = sx_smp_resp_name(tag);
    if (name[0] == '?')
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, name) && (!params || sx_write_str(w, " "));
}

static bool write_ids(sx_writer *w, uint16_t v, const sx_smp_ids *ids)
{
    if (!sx_write_short(w, ids->rcv_id) || !sx_write_short(w, ids->snd_id) ||
        !sx_smp_write_pubkey(w, X25519_ONLY, &ids->srv_dh_key))
        return false;
    if (v < SX_SMP_V_SND_AUTH_KEY)
        return true;
    if (v < SX_SMP_V_SHORT_LINKS)
        return sx_write_bool(w, ids->has_queue_mode && ids->queue_mode == SX_SMP_QUEUE_MESSAGING);
    if (ids->has_queue_mode && ids->queue_mode != SX_SMP_QUEUE_MESSAGING &&
        ids->queue_mode != SX_SMP_QUEUE_CONTACT)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_maybe(w, ids->has_queue_mode) ||
        (ids->has_queue_mode && !sx_write_u8(w, (uint8_t)ids->queue_mode)) ||
        !sx_smp_write_maybe_short(w, ids->has_link_id, ids->link_id))
        return false;
    if (v < SX_SMP_V_SERVICE_CERTS)
        return true;
    if (!sx_smp_write_maybe_short(w, ids->has_service_id, ids->service_id))
        return false;
    if (v < SX_SMP_V_NEW_NTF_CREDS)
        return true;
    if (!sx_write_maybe(w, ids->has_ntf))
        return false;
    return !ids->has_ntf ||
           (sx_write_short(w, ids->ntf_id) && sx_smp_write_pubkey(w, X25519_ONLY, &ids->srv_ntf_dh_key));
}

bool sx_smp_resp_write(sx_writer *w, uint16_t v, const sx_smp_resp *m)
{
    if (!m)
        return sx_writer_fail(w, SX_E_USAGE);
    switch (m->tag) {
    case SX_SMP_R_IDS:
        return write_tag(w, m->tag, true) && write_ids(w, v, &m->ids);
    case SX_SMP_R_LNK:
        return write_tag(w, m->tag, true) && sx_write_short(w, m->lnk.sender_id) &&
               sx_smp_write_link_data(w, &m->lnk.data);
    case SX_SMP_R_SOK:
        /* An association with a service needs v16; older sessions see OK. */
        if (v < SX_SMP_V_SERVICE_CERTS)
            return write_tag(w, SX_SMP_R_OK, false);
        return write_tag(w, m->tag, true) &&
               sx_smp_write_maybe_short(w, m->sok.has_service_id, m->sok.service_id);
    case SX_SMP_R_SOKS:
    case SX_SMP_R_ENDS:
        if (!write_tag(w, m->tag, true) || !sx_write_i64(w, m->subs.count))
            return false;
        return v < SX_SMP_V_RCV_SERVICE || sx_write_short(w, m->subs.ids_hash);
    case SX_SMP_R_MSG:
        return write_tag(w, m->tag, true) && sx_write_short(w, m->msg.msg_id) &&
               sx_write_slice(w, m->msg.body);
    case SX_SMP_R_NID:
        return write_tag(w, m->tag, true) && sx_write_short(w, m->nid.notifier_id) &&
               sx_smp_write_pubkey(w, X25519_ONLY, &m->nid.srv_dh_key);
    case SX_SMP_R_NMSG:
        if (m->nmsg.nonce.len != SX_SMP_NONCE_LEN)
            return sx_writer_fail(w, SX_E_USAGE);
        return write_tag(w, m->tag, true) && sx_write_slice(w, m->nmsg.nonce) &&
               sx_write_short(w, m->nmsg.enc_meta);
    case SX_SMP_R_PKEY:
        if (m->pkey.chain.count > SX_SMP_CHAIN_MAX)
            return sx_writer_fail(w, SX_E_USAGE);
        return write_tag(w, m->tag, true) && sx_write_short(w, m->pkey.session_id) &&
               sx_write_version_range(w, m->pkey.vrange) &&
               sx_smp_write_list(w, SX_SMP_ITEM_LARGE, &m->pkey.chain) &&
               sx_write_large(w, m->pkey.signed_key);
    case SX_SMP_R_RRES:
    case SX_SMP_R_PRES:
        return write_tag(w, m->tag, true) && sx_write_slice(w, m->enc);
    case SX_SMP_R_INFO:
        return write_tag(w, m->tag, true) && sx_write_slice(w, m->info);
    case SX_SMP_R_DELD:
        /* PROTOCOL-NOTES D41: DELD did not exist before v10. */
        return write_tag(w, v < SX_SMP_V_DELETED_EVENT ? SX_SMP_R_END : SX_SMP_R_DELD, false);
    case SX_SMP_R_ERR:
        return write_tag(w, m->tag, true) && sx_smp_error_write(w, v, &m->err);
    default:
        return write_tag(w, m->tag, false);
    }
}

sx_status sx_smp_resp_check_entity(sx_smp_resp_tag tag, bool entity_empty, sx_smp_cmd_err *err)
{
    *err = 0;
    switch (tag) {
    case SX_SMP_R_IDS:
    case SX_SMP_R_ERR:
        break;
    case SX_SMP_R_PONG:
    case SX_SMP_R_PKEY:
    case SX_SMP_R_RRES:
    case SX_SMP_R_ALLS:
        if (!entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
        break;
    default:
        if (sx_smp_resp_name(tag)[0] == '?')
            return SX_E_USAGE;
        if (entity_empty)
            *err = SX_SMP_CMD_NO_ENTITY;
        break;
    }
    return *err ? SX_E_PROTOCOL : SX_OK;
}

bool sx_smp_resp_transmission_write(sx_writer *w, uint16_t v, sx_slice session_id,
                                    sx_slice corr_id, sx_slice entity_id, const sx_smp_resp *m)
{
    sx_smp_transmission t = {0};
    t.session_id = session_id;
    t.corr_id = corr_id;
    t.entity_id = entity_id;
    /* The command is appended after the header, so write the header with
     * an empty command first. */
    return sx_smp_transmission_write(w, v, &t) && sx_smp_resp_write(w, v, m);
}

sx_status sx_smp_reply_decode(sx_slice bytes, uint16_t v, sx_slice session_id, sx_smp_reply *out)
{
    memset(out, 0, sizeof *out);
    if (sx_smp_transmission_parse(bytes, v, &out->t) != SX_OK) {
        out->err = sx_smp_error_of(SX_SMP_ERR_BLOCK);
        return SX_E_PROTOCOL;
    }
    if (v < SX_SMP_V_AUTH_CMDS && !sx_slice_eq(out->t.session_id, session_id)) {
        out->err = sx_smp_error_of(SX_SMP_ERR_SESSION);
        return SX_E_PROTOCOL;
    }
    sx_smp_cmd_err ce;
    if (sx_smp_resp_decode(out->t.command, v, &out->resp, &ce) != SX_OK ||
        sx_smp_resp_check_entity(out->resp.tag, out->t.entity_id.len == 0, &ce) != SX_OK) {
        out->err = sx_smp_error_cmd(ce);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}
