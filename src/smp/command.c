/* Client command codec. Each decoder below reads like its layout in
 * PROTOCOL-NOTES D.1-D.6: the tag word, then " " and the parameters as one flat
 * run of reads; the version gates only choose which fields are present. */
#include "smp/command.h"

#include <string.h>

#include "smp/version.h"

typedef struct cmd_info {
    const char *name;
    sx_smp_cmd_tag tag;
    sx_smp_party party;
} cmd_info;

static const cmd_info CMDS[] = {
    {"NEW", SX_SMP_C_NEW, SX_SMP_PARTY_CREATOR},
    {"SUB", SX_SMP_C_SUB, SX_SMP_PARTY_RECIPIENT},
    {"SUBS", SX_SMP_C_SUBS, SX_SMP_PARTY_RECIPIENT_SERVICE},
    {"KEY", SX_SMP_C_KEY, SX_SMP_PARTY_RECIPIENT},
    {"RKEY", SX_SMP_C_RKEY, SX_SMP_PARTY_RECIPIENT},
    {"LSET", SX_SMP_C_LSET, SX_SMP_PARTY_RECIPIENT},
    {"LDEL", SX_SMP_C_LDEL, SX_SMP_PARTY_RECIPIENT},
    {"NKEY", SX_SMP_C_NKEY, SX_SMP_PARTY_RECIPIENT},
    {"NDEL", SX_SMP_C_NDEL, SX_SMP_PARTY_RECIPIENT},
    {"GET", SX_SMP_C_GET, SX_SMP_PARTY_RECIPIENT},
    {"ACK", SX_SMP_C_ACK, SX_SMP_PARTY_RECIPIENT},
    {"OFF", SX_SMP_C_OFF, SX_SMP_PARTY_RECIPIENT},
    {"DEL", SX_SMP_C_DEL, SX_SMP_PARTY_RECIPIENT},
    {"QUE", SX_SMP_C_QUE, SX_SMP_PARTY_RECIPIENT},
    {"SKEY", SX_SMP_C_SKEY, SX_SMP_PARTY_SENDER},
    {"SEND", SX_SMP_C_SEND, SX_SMP_PARTY_SENDER},
    {"PING", SX_SMP_C_PING, SX_SMP_PARTY_IDLE_CLIENT},
    {"LKEY", SX_SMP_C_LKEY, SX_SMP_PARTY_LINK_CLIENT},
    {"LGET", SX_SMP_C_LGET, SX_SMP_PARTY_LINK_CLIENT},
    {"NSUB", SX_SMP_C_NSUB, SX_SMP_PARTY_NOTIFIER},
    {"NSUBS", SX_SMP_C_NSUBS, SX_SMP_PARTY_NOTIFIER_SERVICE},
    {"PRXY", SX_SMP_C_PRXY, SX_SMP_PARTY_PROXIED_CLIENT},
    {"PFWD", SX_SMP_C_PFWD, SX_SMP_PARTY_PROXIED_CLIENT},
    {"RFWD", SX_SMP_C_RFWD, SX_SMP_PARTY_PROXY_SERVICE},
};

#define CMD_COUNT (sizeof CMDS / sizeof CMDS[0])

/* IdsHash of an empty set, standing in for the parameters before v19. */
static const uint8_t EMPTY_IDS_HASH[SX_SMP_IDS_HASH_LEN];

static const cmd_info *info_of(sx_smp_cmd_tag tag)
{
    for (size_t i = 0; i < CMD_COUNT; i++)
        if (CMDS[i].tag == tag)
            return &CMDS[i];
    return NULL;
}

const char *sx_smp_cmd_name(sx_smp_cmd_tag tag)
{
    const cmd_info *c = info_of(tag);
    return c ? c->name : "?";
}

sx_smp_party sx_smp_cmd_party(sx_smp_cmd_tag tag)
{
    const cmd_info *c = info_of(tag);
    return c ? c->party : 0;
}

bool sx_smp_cmd_uses_service_auth(sx_smp_cmd_tag tag)
{
    return tag == SX_SMP_C_NEW || tag == SX_SMP_C_SUB || tag == SX_SMP_C_NSUB;
}

/* ---- decoding ---- */

static bool read_space(sx_reader *r) { return sx_read_expect_str(r, " "); }

static bool read_queue_req(sx_reader *r, sx_smp_queue_req *q)
{
    char mode;
    if (!sx_read_char(r, &mode))
        return false;
    if (mode != SX_SMP_QUEUE_MESSAGING && mode != SX_SMP_QUEUE_CONTACT)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    q->mode = (sx_smp_queue_mode)mode;
    sx_read_maybe(r, &q->has_link);
    if (q->has_link) {
        if (q->mode == SX_SMP_QUEUE_CONTACT)
            sx_read_short(r, &q->link_id);
        sx_read_short(r, &q->sender_id);
        sx_smp_read_link_data(r, &q->link);
    }
    return sx_reader_ok(r);
}

static bool read_sub_mode(sx_reader *r, bool *subscribe)
{
    char c;
    if (!sx_read_char(r, &c))
        return false;
    if (c != 'S' && c != 'C')
        return sx_reader_fail(r, SX_E_PROTOCOL);
    *subscribe = c == 'S';
    return true;
}

static bool peek_char(const sx_reader *r, char want)
{
    sx_reader copy = *r;
    char c;
    return sx_read_char(&copy, &c) && c == want;
}

/* PROTOCOL-NOTES D1: the four layouts of NEW. */
static bool read_new(sx_reader *r, uint16_t v, sx_smp_new *n)
{
    read_space(r);
    sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &n->rcv_auth_key);
    sx_smp_read_pubkey(r, SX_KEY_BIT(SX_KEY_X25519), &n->rcv_dh_key);
    if (v < SX_SMP_V_SND_AUTH_KEY) {
        /* v6-8: optional basic auth introduced by 'A', not a Maybe tag. */
        n->has_basic_auth = peek_char(r, 'A');
        if (n->has_basic_auth && sx_read_expect_str(r, "A"))
            sx_smp_read_basic_auth(r, &n->basic_auth);
        return read_sub_mode(r, &n->subscribe);
    }
    sx_read_maybe(r, &n->has_basic_auth);
    if (n->has_basic_auth)
        sx_smp_read_basic_auth(r, &n->basic_auth);
    read_sub_mode(r, &n->subscribe);
    if (v < SX_SMP_V_SHORT_LINKS) {
        /* v9-14: senderCanSecure; T = messaging queue, F = contact queue. */
        bool sender_can_secure;
        if (!sx_read_bool(r, &sender_can_secure))
            return false;
        n->has_queue_req = true;
        n->queue_req.mode = sender_can_secure ? SX_SMP_QUEUE_MESSAGING : SX_SMP_QUEUE_CONTACT;
        return true;
    }
    sx_read_maybe(r, &n->has_queue_req);
    if (n->has_queue_req)
        read_queue_req(r, &n->queue_req);
    if (v >= SX_SMP_V_NEW_NTF_CREDS) {
        sx_read_maybe(r, &n->has_ntf_creds);
        if (n->has_ntf_creds) {
            sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &n->ntf_auth_key);
            sx_smp_read_pubkey(r, SX_KEY_BIT(SX_KEY_X25519), &n->ntf_dh_key);
        }
    }
    return sx_reader_ok(r);
}

static bool read_subs(sx_reader *r, uint16_t v, sx_smp_cmd *c)
{
    if (v < SX_SMP_V_RCV_SERVICE) {
        c->subs.count = -1;
        c->subs.ids_hash = sx_slice_of(EMPTY_IDS_HASH, sizeof EMPTY_IDS_HASH);
        return true;
    }
    read_space(r);
    sx_read_i64(r, &c->subs.count);
    return sx_read_short(r, &c->subs.ids_hash);
}

/* PROTOCOL-NOTES D21: flags = Bool, then any further flag characters up to the
 * space. */
static bool read_send(sx_reader *r, sx_smp_cmd *c)
{
    read_space(r);
    sx_read_bool(r, &c->send.notification);
    sx_slice ignored_flags;
    sx_read_word(r, &ignored_flags);
    read_space(r);
    return sx_read_tail(r, &c->send.body);
}

static bool read_params(sx_reader *r, uint16_t v, sx_smp_cmd *c)
{
    switch (c->tag) {
    case SX_SMP_C_NEW:
        return read_new(r, v, &c->new_queue);
    case SX_SMP_C_SUBS:
    case SX_SMP_C_NSUBS:
        return read_subs(r, v, c);
    case SX_SMP_C_KEY:
    case SX_SMP_C_SKEY:
    case SX_SMP_C_LKEY:
        return read_space(r) && sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &c->key);
    case SX_SMP_C_RKEY:
        return read_space(r) && sx_smp_read_list(r, SX_SMP_ITEM_AUTH_KEY, 255, &c->keys);
    case SX_SMP_C_LSET:
        read_space(r);
        sx_read_short(r, &c->lset.link_id);
        return sx_smp_read_link_data(r, &c->lset.data);
    case SX_SMP_C_NKEY:
        read_space(r);
        sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &c->nkey.auth_key);
        return sx_smp_read_pubkey(r, SX_KEY_BIT(SX_KEY_X25519), &c->nkey.dh_key);
    case SX_SMP_C_ACK:
        return read_space(r) && sx_read_short(r, &c->msg_id);
    case SX_SMP_C_SEND:
        return read_send(r, c);
    case SX_SMP_C_PRXY:
        read_space(r);
        sx_smp_read_server(r, &c->prxy.server);
        sx_read_maybe(r, &c->prxy.has_basic_auth);
        if (c->prxy.has_basic_auth)
            sx_smp_read_basic_auth(r, &c->prxy.basic_auth);
        return sx_reader_ok(r);
    case SX_SMP_C_PFWD:
        read_space(r);
        sx_read_version(r, &c->pfwd.version);
        sx_smp_read_pubkey(r, SX_KEY_BIT(SX_KEY_X25519), &c->pfwd.dh_key);
        return sx_read_tail(r, &c->pfwd.enc);
    case SX_SMP_C_RFWD:
        return read_space(r) && sx_read_tail(r, &c->enc);
    default:
        /* Commands without parameters: anything after the tag is trailing. */
        return true;
    }
}

sx_status sx_smp_cmd_decode(sx_slice bytes, uint16_t v, sx_smp_cmd *out, sx_smp_cmd_err *err)
{
    memset(out, 0, sizeof *out);
    *err = 0;
    sx_reader r;
    sx_reader_init_slice(&r, bytes);
    sx_slice word;
    sx_read_word(&r, &word);
    for (size_t i = 0; i < CMD_COUNT && !out->tag; i++)
        if (sx_slice_eq(word, sx_slice_str(CMDS[i].name)))
            out->tag = CMDS[i].tag;
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

static bool write_tag(sx_writer *w, sx_smp_cmd_tag tag, bool params)
{
    const cmd_info *c = info_of(tag);
    if (!c)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, c->name) && (!params || sx_write_str(w, " "));
}

static bool write_maybe_basic_auth(sx_writer *w, bool present, sx_slice auth)
{
    return sx_write_maybe(w, present) && (!present || sx_smp_write_basic_auth(w, auth));
}

static bool write_queue_req(sx_writer *w, const sx_smp_queue_req *q)
{
    if (q->mode != SX_SMP_QUEUE_MESSAGING && q->mode != SX_SMP_QUEUE_CONTACT)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_u8(w, (uint8_t)q->mode) || !sx_write_maybe(w, q->has_link))
        return false;
    if (!q->has_link)
        return true;
    if (q->mode == SX_SMP_QUEUE_CONTACT && !sx_write_short(w, q->link_id))
        return false;
    return sx_write_short(w, q->sender_id) && sx_smp_write_link_data(w, &q->link);
}

static bool write_new(sx_writer *w, uint16_t v, const sx_smp_new *n)
{
    if (!sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &n->rcv_auth_key) ||
        !sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &n->rcv_dh_key))
        return false;
    const char *sub_mode = n->subscribe ? "S" : "C";
    if (v < SX_SMP_V_SND_AUTH_KEY) {
        if (n->has_basic_auth && !(sx_write_str(w, "A") && sx_smp_write_basic_auth(w, n->basic_auth)))
            return false;
        return sx_write_str(w, sub_mode);
    }
    if (!write_maybe_basic_auth(w, n->has_basic_auth, n->basic_auth) || !sx_write_str(w, sub_mode))
        return false;
    if (v < SX_SMP_V_SHORT_LINKS)
        return sx_write_bool(w, n->has_queue_req && n->queue_req.mode == SX_SMP_QUEUE_MESSAGING);
    if (!sx_write_maybe(w, n->has_queue_req) ||
        (n->has_queue_req && !write_queue_req(w, &n->queue_req)))
        return false;
    if (v < SX_SMP_V_NEW_NTF_CREDS)
        return true;
    if (!sx_write_maybe(w, n->has_ntf_creds))
        return false;
    return !n->has_ntf_creds ||
           (sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &n->ntf_auth_key) &&
            sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &n->ntf_dh_key));
}

bool sx_smp_cmd_write(sx_writer *w, uint16_t v, const sx_smp_cmd *c)
{
    if (!c)
        return sx_writer_fail(w, SX_E_USAGE);
    switch (c->tag) {
    case SX_SMP_C_NEW:
        return write_tag(w, c->tag, true) && write_new(w, v, &c->new_queue);
    case SX_SMP_C_SUBS:
    case SX_SMP_C_NSUBS:
        if (v < SX_SMP_V_RCV_SERVICE)
            return write_tag(w, c->tag, false);
        return write_tag(w, c->tag, true) && sx_write_i64(w, c->subs.count) &&
               sx_write_short(w, c->subs.ids_hash);
    case SX_SMP_C_KEY:
    case SX_SMP_C_SKEY:
    case SX_SMP_C_LKEY:
        return write_tag(w, c->tag, true) && sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &c->key);
    case SX_SMP_C_RKEY:
        return write_tag(w, c->tag, true) && sx_smp_write_list(w, SX_SMP_ITEM_AUTH_KEY, &c->keys);
    case SX_SMP_C_LSET:
        return write_tag(w, c->tag, true) && sx_write_short(w, c->lset.link_id) &&
               sx_smp_write_link_data(w, &c->lset.data);
    case SX_SMP_C_NKEY:
        return write_tag(w, c->tag, true) &&
               sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &c->nkey.auth_key) &&
               sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &c->nkey.dh_key);
    case SX_SMP_C_ACK:
        return write_tag(w, c->tag, true) && sx_write_short(w, c->msg_id);
    case SX_SMP_C_SEND:
        /* PROTOCOL-NOTES D21: exactly one flag character. */
        return write_tag(w, c->tag, true) && sx_write_bool(w, c->send.notification) &&
               sx_write_str(w, " ") && sx_write_slice(w, c->send.body);
    case SX_SMP_C_PRXY:
        return write_tag(w, c->tag, true) && sx_smp_write_server(w, &c->prxy.server) &&
               write_maybe_basic_auth(w, c->prxy.has_basic_auth, c->prxy.basic_auth);
    case SX_SMP_C_PFWD:
        return write_tag(w, c->tag, true) && sx_write_version(w, c->pfwd.version) &&
               sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &c->pfwd.dh_key) &&
               sx_write_slice(w, c->pfwd.enc);
    case SX_SMP_C_RFWD:
        return write_tag(w, c->tag, true) && sx_write_slice(w, c->enc);
    default:
        return write_tag(w, c->tag, false);
    }
}

/* ---- credentials (PROTOCOL-NOTES C.3) ---- */

sx_status sx_smp_check_credentials(sx_smp_cmd_tag tag, bool has_auth, bool entity_empty,
                                   sx_smp_cmd_err *err)
{
    *err = 0;
    switch (tag) {
    case SX_SMP_C_NEW: /* PROTOCOL-NOTES C13 */
        if (!has_auth)
            *err = SX_SMP_CMD_NO_AUTH;
        else if (!entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
        break;
    case SX_SMP_C_SEND: /* PROTOCOL-NOTES C14 */
        if (entity_empty)
            *err = SX_SMP_CMD_NO_ENTITY;
        break;
    case SX_SMP_C_PING: /* PROTOCOL-NOTES C15 */
    case SX_SMP_C_PRXY:
    case SX_SMP_C_RFWD:
        if (has_auth || !entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
        break;
    case SX_SMP_C_LGET: /* PROTOCOL-NOTES C16 */
    case SX_SMP_C_PFWD:
        if (entity_empty)
            *err = SX_SMP_CMD_NO_ENTITY;
        else if (has_auth)
            *err = SX_SMP_CMD_HAS_AUTH;
        break;
    default: /* PROTOCOL-NOTES C17, C18 */
        if (!info_of(tag))
            return SX_E_USAGE;
        if (!has_auth || entity_empty)
            *err = SX_SMP_CMD_NO_AUTH;
        break;
    }
    return *err ? SX_E_PROTOCOL : SX_OK;
}

/* ---- a received request ---- */

static sx_status request_error(sx_smp_request *out, sx_smp_error e, sx_slice corr_id,
                               sx_slice entity_id)
{
    out->err = e;
    out->reply_corr_id = corr_id;
    out->reply_entity_id = entity_id;
    return SX_E_PROTOCOL;
}

sx_status sx_smp_request_decode(sx_slice bytes, uint16_t v, sx_slice session_id,
                                sx_smp_request *out)
{
    memset(out, 0, sizeof *out);
    sx_slice none = sx_slice_of(NULL, 0);
    if (sx_smp_transmission_parse(bytes, v, &out->t) != SX_OK)
        return request_error(out, sx_smp_error_of(SX_SMP_ERR_BLOCK), none, none);
    sx_slice corr = out->t.corr_id, entity = out->t.entity_id;
    if (v < SX_SMP_V_AUTH_CMDS && !sx_slice_eq(out->t.session_id, session_id))
        return request_error(out, sx_smp_error_of(SX_SMP_ERR_SESSION), corr, none);
    if (sx_smp_auth_kind_of(out->t.auth, &out->auth_kind) != SX_OK)
        return request_error(out, sx_smp_error_of(SX_SMP_ERR_BLOCK), corr, none);
    sx_smp_cmd_err ce;
    if (sx_smp_cmd_decode(out->t.command, v, &out->cmd, &ce) != SX_OK)
        return request_error(out, sx_smp_error_cmd(ce), corr, entity);
    if (sx_smp_check_credentials(out->cmd.tag, out->t.auth.len > 0, entity.len == 0, &ce) != SX_OK)
        return request_error(out, sx_smp_error_cmd(ce), corr, entity);
    return SX_OK;
}
