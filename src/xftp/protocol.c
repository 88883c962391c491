/* XFTP codecs. Each decoder reads like its layout in PROTOCOL-NOTES F.3/F.4: a
 * flat run of reader calls; the request and reply decoders then apply the
 * reference's checks in its order so that the router and the client answer the
 * same error for the same bytes. */
#include "xftp/protocol.h"

#include <string.h>

#include "core/pad.h"
#include "crypto/keys.h"
#include "crypto/x509.h"

bool sx_xftp_chunk_size_allowed(uint32_t size)
{
    return size == SX_XFTP_CHUNK_64K || size == SX_XFTP_CHUNK_256K || size == SX_XFTP_CHUNK_1M ||
           size == SX_XFTP_CHUNK_4M;
}

static bool read_space(sx_reader *r) { return sx_read_expect_str(r, " "); }

/* ---- errors ---- */

static const struct {
    const char *name;
    sx_xftp_err_type type;
} ERRS[] = {
    {"BLOCK", SX_XFTP_ERR_BLOCK},       {"SESSION", SX_XFTP_ERR_SESSION},
    {"HANDSHAKE", SX_XFTP_ERR_HANDSHAKE}, {"CMD", SX_XFTP_ERR_CMD},
    {"AUTH", SX_XFTP_ERR_AUTH},         {"BLOCKED", SX_XFTP_ERR_BLOCKED},
    {"SIZE", SX_XFTP_ERR_SIZE},         {"QUOTA", SX_XFTP_ERR_QUOTA},
    {"DIGEST", SX_XFTP_ERR_DIGEST},     {"CRYPTO", SX_XFTP_ERR_CRYPTO},
    {"NO_FILE", SX_XFTP_ERR_NO_FILE},   {"HAS_FILE", SX_XFTP_ERR_HAS_FILE},
    {"FILE_IO", SX_XFTP_ERR_FILE_IO},   {"TIMEOUT", SX_XFTP_ERR_TIMEOUT},
    {"INTERNAL", SX_XFTP_ERR_INTERNAL}, {"DUPLICATE_", SX_XFTP_ERR_DUPLICATE},
};
#define ERR_COUNT (sizeof ERRS / sizeof ERRS[0])

static const struct {
    const char *name;
    sx_smp_cmd_err e;
} CMD_ERRS[] = {
    {"UNKNOWN", SX_SMP_CMD_UNKNOWN},     {"SYNTAX", SX_SMP_CMD_SYNTAX},
    {"PROHIBITED", SX_SMP_CMD_PROHIBITED}, {"NO_AUTH", SX_SMP_CMD_NO_AUTH},
    {"HAS_AUTH", SX_SMP_CMD_HAS_AUTH},   {"NO_ENTITY", SX_SMP_CMD_NO_ENTITY},
    {"NO_QUEUE", SX_SMP_CMD_NO_ENTITY}, /* legacy spelling, decoded only */
};
#define CMD_ERR_COUNT (sizeof CMD_ERRS / sizeof CMD_ERRS[0])

const char *sx_xftp_err_name(sx_xftp_err_type t)
{
    for (size_t i = 0; i < ERR_COUNT; i++)
        if (ERRS[i].type == t)
            return ERRS[i].name;
    return "?";
}

static const char *cmd_err_name(sx_smp_cmd_err e)
{
    for (size_t i = 0; i < CMD_ERR_COUNT; i++)
        if (CMD_ERRS[i].e == e)
            return CMD_ERRS[i].name;
    return NULL;
}

bool sx_xftp_error_write(sx_writer *w, uint16_t v, const sx_xftp_error *e)
{
    if (!e || !strcmp(sx_xftp_err_name(e->type), "?"))
        return sx_writer_fail(w, SX_E_USAGE);
    if (e->type == SX_XFTP_ERR_BLOCKED && v < SX_XFTP_V_BLOCKED_FILES)
        return sx_write_str(w, "AUTH");
    if (!sx_write_str(w, sx_xftp_err_name(e->type)))
        return false;
    switch (e->type) {
    case SX_XFTP_ERR_CMD: {
        const char *n = cmd_err_name(e->cmd);
        if (!n)
            return sx_writer_fail(w, SX_E_USAGE);
        return sx_write_str(w, " ") && sx_write_str(w, n);
    }
    case SX_XFTP_ERR_BLOCKED:
        return sx_write_str(w, " ") && sx_smp_blocking_info_write(w, &e->blocked);
    default:
        return true;
    }
}

bool sx_xftp_error_read(sx_reader *r, sx_xftp_error *out)
{
    memset(out, 0, sizeof *out);
    sx_slice word;
    if (!sx_read_word(r, &word))
        return false;
    for (size_t i = 0; i < ERR_COUNT && !out->type; i++)
        if (sx_slice_eq(word, sx_slice_str(ERRS[i].name)))
            out->type = ERRS[i].type;
    if (!out->type)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    switch (out->type) {
    case SX_XFTP_ERR_CMD: {
        sx_slice ce;
        read_space(r);
        sx_read_word(r, &ce);
        for (size_t i = 0; i < CMD_ERR_COUNT && !out->cmd; i++)
            if (sx_slice_eq(ce, sx_slice_str(CMD_ERRS[i].name)))
                out->cmd = CMD_ERRS[i].e;
        if (!out->cmd)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        break;
    }
    case SX_XFTP_ERR_BLOCKED:
        read_space(r);
        sx_smp_blocking_info_read(r, &out->blocked);
        break;
    default:
        break;
    }
    if (sx_reader_ok(r) && sx_reader_remaining(r) != 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_reader_ok(r);
}

/* ---- blocks and transmissions ---- */

sx_status sx_xftp_block_encode(sx_slice transmission, uint8_t block[SX_XFTP_BLOCK_SIZE])
{
    SX_ENSURE(block != NULL, SX_E_USAGE);
    if (transmission.len > SX_XFTP_MAX_TRANSMISSION)
        return SX_E_LIMIT;
    uint8_t content[SX_XFTP_BLOCK_SIZE];
    sx_writer w;
    sx_writer_init_fixed(&w, content, sizeof content);
    sx_write_u8(&w, 1);
    sx_write_large(&w, transmission);
    SX_TRY(sx_writer_status(&w));
    return sx_pad(sx_writer_slice(&w), block, SX_XFTP_BLOCK_SIZE);
}

sx_status sx_xftp_block_decode(sx_slice block, sx_slice *transmission)
{
    SX_ENSURE(transmission != NULL, SX_E_USAGE);
    *transmission = sx_slice_of(NULL, 0);
    if (block.len != SX_XFTP_BLOCK_SIZE)
        return SX_E_PROTOCOL;
    sx_slice content;
    if (sx_unpad(block, &content) != SX_OK)
        return SX_E_PROTOCOL;
    sx_reader r;
    sx_reader_init_slice(&r, content);
    uint8_t count;
    sx_slice t;
    sx_read_u8(&r, &count);
    sx_read_large(&r, &t);
    /* PROTOCOL-NOTES F11: exactly one transmission; any other count is ERR
     * BLOCK. */
    if (sx_reader_finish(&r) != SX_OK || count != 1)
        return SX_E_PROTOCOL;
    *transmission = t;
    return SX_OK;
}

sx_status sx_xftp_transmission_parse(sx_slice bytes, sx_xftp_transmission *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, bytes);
    sx_read_short(&r, &out->auth);
    size_t signed_from = r.off;
    sx_read_short(&r, &out->session_id);
    sx_read_short(&r, &out->corr_id);
    sx_read_short(&r, &out->entity_id);
    sx_read_tail(&r, &out->command);
    if (sx_reader_finish(&r) != SX_OK) {
        memset(out, 0, sizeof *out);
        return SX_E_PROTOCOL;
    }
    out->signed_part = sx_slice_of(bytes.ptr + signed_from, bytes.len - signed_from);
    return SX_OK;
}

bool sx_xftp_write_auth_bytes(sx_writer *w, sx_slice session_id, sx_slice corr_id,
                              sx_slice entity_id, sx_slice command)
{
    return sx_write_short(w, session_id) && sx_write_short(w, corr_id) &&
           sx_write_short(w, entity_id) && sx_write_slice(w, command);
}

bool sx_xftp_transmission_write(sx_writer *w, const sx_xftp_transmission *t)
{
    if (!t)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_short(w, t->auth) &&
           sx_xftp_write_auth_bytes(w, t->session_id, t->corr_id, t->entity_id, t->command);
}

/* ---- commands ---- */

static const struct {
    const char *name;
    sx_xftp_cmd_tag tag;
    sx_xftp_party party;
} CMDS[] = {
    {"FNEW", SX_XFTP_C_FNEW, SX_XFTP_PARTY_SENDER},
    {"FADD", SX_XFTP_C_FADD, SX_XFTP_PARTY_SENDER},
    {"FPUT", SX_XFTP_C_FPUT, SX_XFTP_PARTY_SENDER},
    {"FDEL", SX_XFTP_C_FDEL, SX_XFTP_PARTY_SENDER},
    {"FGET", SX_XFTP_C_FGET, SX_XFTP_PARTY_RECIPIENT},
    {"FACK", SX_XFTP_C_FACK, SX_XFTP_PARTY_RECIPIENT},
    {"PING", SX_XFTP_C_PING, SX_XFTP_PARTY_RECIPIENT},
};
#define CMD_COUNT (sizeof CMDS / sizeof CMDS[0])

const char *sx_xftp_cmd_name(sx_xftp_cmd_tag tag)
{
    for (size_t i = 0; i < CMD_COUNT; i++)
        if (CMDS[i].tag == tag)
            return CMDS[i].name;
    return "?";
}

sx_xftp_party sx_xftp_cmd_party(sx_xftp_cmd_tag tag)
{
    for (size_t i = 0; i < CMD_COUNT; i++)
        if (CMDS[i].tag == tag)
            return CMDS[i].party;
    return 0;
}

static bool read_file_info(sx_reader *r, sx_xftp_file_info *f)
{
    sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &f->snd_key);
    sx_read_u32(r, &f->size);
    return sx_read_short(r, &f->digest);
}

static bool read_cmd_params(sx_reader *r, sx_xftp_cmd *c)
{
    switch (c->tag) {
    case SX_XFTP_C_FNEW:
        read_space(r);
        read_file_info(r, &c->fnew.file);
        sx_smp_read_list(r, SX_SMP_ITEM_AUTH_KEY, 255, &c->fnew.rcv_keys);
        sx_read_maybe(r, &c->fnew.has_basic_auth);
        if (c->fnew.has_basic_auth)
            sx_smp_read_basic_auth(r, &c->fnew.basic_auth);
        return sx_reader_ok(r);
    case SX_XFTP_C_FADD:
        return read_space(r) && sx_smp_read_list(r, SX_SMP_ITEM_AUTH_KEY, 255, &c->rcv_keys);
    case SX_XFTP_C_FGET:
        return read_space(r) && sx_smp_read_pubkey(r, SX_KEY_BIT(SX_KEY_X25519), &c->dh_key);
    default:
        /* No parameters: anything after the tag is trailing. */
        return true;
    }
}

sx_status sx_xftp_cmd_decode(sx_slice bytes, uint16_t v, sx_xftp_cmd *out, sx_smp_cmd_err *err)
{
    (void)v; /* the command layouts are the same in v1..v3 */
    SX_ENSURE(out != NULL && err != NULL, SX_E_USAGE);
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
    read_cmd_params(&r, out);
    if (sx_reader_finish(&r) != SX_OK) {
        memset(out, 0, sizeof *out);
        *err = SX_SMP_CMD_SYNTAX;
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

static bool write_cmd_tag(sx_writer *w, sx_xftp_cmd_tag tag, bool params)
{
    const char *n = sx_xftp_cmd_name(tag);
    if (!strcmp(n, "?"))
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, n) && (!params || sx_write_str(w, " "));
}

bool sx_xftp_cmd_write(sx_writer *w, uint16_t v, const sx_xftp_cmd *c)
{
    (void)v;
    if (!c)
        return sx_writer_fail(w, SX_E_USAGE);
    switch (c->tag) {
    case SX_XFTP_C_FNEW:
        return write_cmd_tag(w, c->tag, true) &&
               sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &c->fnew.file.snd_key) &&
               sx_write_u32(w, c->fnew.file.size) && sx_write_short(w, c->fnew.file.digest) &&
               sx_smp_write_list(w, SX_SMP_ITEM_AUTH_KEY, &c->fnew.rcv_keys) &&
               sx_write_maybe(w, c->fnew.has_basic_auth) &&
               (!c->fnew.has_basic_auth || sx_smp_write_basic_auth(w, c->fnew.basic_auth));
    case SX_XFTP_C_FADD:
        return write_cmd_tag(w, c->tag, true) &&
               sx_smp_write_list(w, SX_SMP_ITEM_AUTH_KEY, &c->rcv_keys);
    case SX_XFTP_C_FGET:
        return write_cmd_tag(w, c->tag, true) &&
               sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &c->dh_key);
    default:
        return write_cmd_tag(w, c->tag, false);
    }
}

sx_status sx_xftp_check_credentials(sx_xftp_cmd_tag tag, bool has_auth, bool entity_empty,
                                    sx_smp_cmd_err *err)
{
    SX_ENSURE(err != NULL, SX_E_USAGE);
    *err = 0;
    switch (tag) {
    case SX_XFTP_C_FNEW:
        if (!has_auth)
            *err = SX_SMP_CMD_NO_AUTH;
        else if (!entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
        break;
    case SX_XFTP_C_PING:
        if (has_auth || !entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
        break;
    default:
        if (!sx_xftp_cmd_party(tag))
            return SX_E_USAGE;
        if (!has_auth || entity_empty)
            *err = SX_SMP_CMD_NO_AUTH;
        break;
    }
    return *err ? SX_E_PROTOCOL : SX_OK;
}

static sx_status request_error(sx_xftp_request *out, sx_xftp_error e, sx_slice corr_id,
                               sx_slice entity_id)
{
    out->err = e;
    out->reply_corr_id = corr_id;
    out->reply_entity_id = entity_id;
    return SX_E_PROTOCOL;
}

sx_status sx_xftp_request_decode(sx_slice transmission, uint16_t v, sx_slice session_id,
                                 sx_xftp_request *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_slice none = sx_slice_of(NULL, 0);
    if (sx_xftp_transmission_parse(transmission, &out->t) != SX_OK)
        return request_error(out, sx_xftp_error_of(SX_XFTP_ERR_BLOCK), none, none);
    sx_slice corr = out->t.corr_id, entity = out->t.entity_id;
    /* PROTOCOL-NOTES F12: the session id travels in every transmission. */
    if (!sx_slice_eq(out->t.session_id, session_id))
        return request_error(out, sx_xftp_error_of(SX_XFTP_ERR_SESSION), corr, none);
    if (sx_smp_auth_kind_of(out->t.auth, &out->auth_kind) != SX_OK)
        return request_error(out, sx_xftp_error_of(SX_XFTP_ERR_BLOCK), corr, none);
    sx_smp_cmd_err ce;
    if (sx_xftp_cmd_decode(out->t.command, v, &out->cmd, &ce) != SX_OK)
        return request_error(out, sx_xftp_error_cmd(ce), corr, entity);
    if (sx_xftp_check_credentials(out->cmd.tag, out->t.auth.len > 0, entity.len == 0, &ce) !=
        SX_OK)
        return request_error(out, sx_xftp_error_cmd(ce), corr, entity);
    return SX_OK;
}

/* ---- responses ---- */

static const struct {
    const char *name;
    sx_xftp_resp_tag tag;
} RESPS[] = {
    {"SIDS", SX_XFTP_R_SIDS}, {"RIDS", SX_XFTP_R_RIDS}, {"FILE", SX_XFTP_R_FILE},
    {"OK", SX_XFTP_R_OK},     {"ERR", SX_XFTP_R_ERR},   {"PONG", SX_XFTP_R_PONG},
};
#define RESP_COUNT (sizeof RESPS / sizeof RESPS[0])

const char *sx_xftp_resp_name(sx_xftp_resp_tag tag)
{
    for (size_t i = 0; i < RESP_COUNT; i++)
        if (RESPS[i].tag == tag)
            return RESPS[i].name;
    return "?";
}

/* NonEmpty(shortString): count 1..255, then the ids back to back. */
static bool read_ids(sx_reader *r, sx_xftp_ids *out)
{
    uint8_t n;
    if (!sx_read_nonempty_count(r, &n))
        return false;
    size_t start = r->off;
    for (uint8_t i = 0; i < n; i++) {
        sx_slice id;
        if (!sx_read_short(r, &id))
            return false;
    }
    out->count = n;
    out->items = sx_slice_of(r->buf + start, r->off - start);
    return true;
}

static bool write_ids(sx_writer *w, const sx_xftp_ids *ids)
{
    /* Check the items hold exactly count ids before writing them. */
    for (size_t i = 0; i < ids->count; i++) {
        sx_slice id;
        if (sx_xftp_ids_get(ids, i, &id) != SX_OK)
            return sx_writer_fail(w, SX_E_USAGE);
    }
    sx_reader r;
    sx_reader_init_slice(&r, ids->items);
    for (size_t i = 0; i < ids->count; i++) {
        sx_slice id;
        sx_read_short(&r, &id);
    }
    if (sx_reader_finish(&r) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_nonempty_count(w, ids->count) && sx_write_slice(w, ids->items);
}

sx_status sx_xftp_ids_get(const sx_xftp_ids *ids, size_t i, sx_slice *out)
{
    SX_ENSURE(ids != NULL && out != NULL, SX_E_USAGE);
    *out = sx_slice_of(NULL, 0);
    if (i >= ids->count)
        return SX_E_USAGE;
    sx_reader r;
    sx_reader_init_slice(&r, ids->items);
    sx_slice id = {0};
    for (size_t k = 0; k <= i; k++)
        sx_read_short(&r, &id);
    SX_TRY(sx_reader_status(&r));
    *out = id;
    return SX_OK;
}

static bool read_resp_params(sx_reader *r, sx_xftp_resp *p)
{
    switch (p->tag) {
    case SX_XFTP_R_SIDS:
        read_space(r);
        sx_read_short(r, &p->sids.sender_id);
        return read_ids(r, &p->sids.rcv_ids);
    case SX_XFTP_R_RIDS:
        return read_space(r) && read_ids(r, &p->rcv_ids);
    case SX_XFTP_R_FILE:
        read_space(r);
        sx_smp_read_pubkey(r, SX_KEY_BIT(SX_KEY_X25519), &p->file.dh_key);
        return sx_read_bytes(r, SX_XFTP_NONCE_LEN, &p->file.nonce);
    case SX_XFTP_R_ERR:
        return read_space(r) && sx_xftp_error_read(r, &p->err);
    default:
        return true;
    }
}

sx_status sx_xftp_resp_decode(sx_slice bytes, uint16_t v, sx_xftp_resp *out, sx_smp_cmd_err *err)
{
    (void)v;
    SX_ENSURE(out != NULL && err != NULL, SX_E_USAGE);
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
    read_resp_params(&r, out);
    if (sx_reader_finish(&r) != SX_OK) {
        memset(out, 0, sizeof *out);
        *err = SX_SMP_CMD_SYNTAX;
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

static bool write_resp_tag(sx_writer *w, sx_xftp_resp_tag tag, bool params)
{
    const char *n = sx_xftp_resp_name(tag);
    if (!strcmp(n, "?"))
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, n) && (!params || sx_write_str(w, " "));
}

bool sx_xftp_resp_write(sx_writer *w, uint16_t v, const sx_xftp_resp *p)
{
    if (!p)
        return sx_writer_fail(w, SX_E_USAGE);
    switch (p->tag) {
    case SX_XFTP_R_SIDS:
        return write_resp_tag(w, p->tag, true) && sx_write_short(w, p->sids.sender_id) &&
               write_ids(w, &p->sids.rcv_ids);
    case SX_XFTP_R_RIDS:
        return write_resp_tag(w, p->tag, true) && write_ids(w, &p->rcv_ids);
    case SX_XFTP_R_FILE:
        if (p->file.nonce.len != SX_XFTP_NONCE_LEN)
            return sx_writer_fail(w, SX_E_USAGE);
        return write_resp_tag(w, p->tag, true) &&
               sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &p->file.dh_key) &&
               sx_write_slice(w, p->file.nonce);
    case SX_XFTP_R_ERR:
        return write_resp_tag(w, p->tag, true) && sx_xftp_error_write(w, v, &p->err);
    default:
        return write_resp_tag(w, p->tag, false);
    }
}

sx_status sx_xftp_resp_check_entity(sx_xftp_resp_tag tag, bool entity_empty, sx_smp_cmd_err *err)
{
    SX_ENSURE(err != NULL, SX_E_USAGE);
    *err = 0;
    switch (tag) {
    case SX_XFTP_R_SIDS:
    case SX_XFTP_R_PONG:
        if (!entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
        break;
    case SX_XFTP_R_ERR:
        break;
    default:
        if (!strcmp(sx_xftp_resp_name(tag), "?"))
            return SX_E_USAGE;
        if (entity_empty)
            *err = SX_SMP_CMD_NO_ENTITY;
        break;
    }
    return *err ? SX_E_PROTOCOL : SX_OK;
}

sx_status sx_xftp_reply_decode(sx_slice transmission, uint16_t v, sx_slice session_id,
                               sx_xftp_reply *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    if (sx_xftp_transmission_parse(transmission, &out->t) != SX_OK) {
        out->err = sx_xftp_error_of(SX_XFTP_ERR_BLOCK);
        return SX_E_PROTOCOL;
    }
    if (!sx_slice_eq(out->t.session_id, session_id)) {
        out->err = sx_xftp_error_of(SX_XFTP_ERR_SESSION);
        return SX_E_PROTOCOL;
    }
    sx_smp_cmd_err ce;
    if (sx_xftp_resp_decode(out->t.command, v, &out->resp, &ce) != SX_OK ||
        sx_xftp_resp_check_entity(out->resp.tag, out->t.entity_id.len == 0, &ce) != SX_OK) {
        memset(&out->resp, 0, sizeof out->resp);
        out->err = sx_xftp_error_cmd(ce);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

/* ---- handshake ---- */

/* PROTOCOL-NOTES A20 CertChainPubKey: every certificate must parse and the
 * signed key must have the signed-object shape; the DER slices are kept. */
static bool read_cert_key(sx_reader *r, sx_smp_cert_key *out)
{
    memset(out, 0, sizeof *out);
    sx_x509_chain ch;
    if (!sx_x509_read_chain(r, &ch))
        return false;
    out->chain_len = ch.n;
    for (size_t i = 0; i < ch.n; i++)
        out->chain[i] = ch.der[i];
    sx_x509_chain_cleanup(&ch);
    sx_slice der;
    if (!sx_read_large(r, &der))
        return false;
    sx_signed_key parsed;
    sx_status st = sx_x509_signed_key_parse(der, &parsed);
    if (st != SX_OK)
        return sx_reader_fail(r, st);
    out->signed_key = der;
    return true;
}

static bool write_cert_key(sx_writer *w, const sx_smp_cert_key *ck)
{
    if (ck->chain_len == 0 || ck->chain_len > SX_X509_CHAIN_MAX)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_list_count(w, ck->chain_len))
        return false;
    for (size_t i = 0; i < ck->chain_len; i++)
        if (!sx_write_large(w, ck->chain[i]))
            return false;
    return sx_write_large(w, ck->signed_key);
}

static bool signature_len_ok(size_t n) { return n == SX_SIG_ED25519_LEN || n == SX_SIG_ED448_LEN; }

bool sx_xftp_server_hello_write(sx_writer *w, const sx_xftp_server_hello *h)
{
    if (!h || (h->has_web_proof && !signature_len_ok(h->web_proof.len)))
        return sx_writer_fail(w, SX_E_USAGE);
    sx_slice proof = h->has_web_proof ? h->web_proof : sx_slice_of(NULL, 0);
    return sx_write_version_range(w, h->range) && sx_write_short(w, h->session_id) &&
           write_cert_key(w, &h->cert_key) && sx_write_short(w, proof);
}

sx_status sx_xftp_server_hello_decode(sx_slice content, sx_xftp_server_hello *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_version_range(&r, &out->range);
    sx_read_short(&r, &out->session_id);
    read_cert_key(&r, &out->cert_key);
    if (!sx_reader_ok(&r)) {
        sx_status st = r.err == SX_E_NOMEM ? SX_E_NOMEM : SX_E_PROTOCOL;
        memset(out, 0, sizeof *out);
        return st;
    }
    /* Optional: a signature of a known length, else absent (and ignored
     * along with the rest). */
    sx_slice proof;
    if (sx_read_short(&r, &proof) && signature_len_ok(proof.len)) {
        out->has_web_proof = true;
        out->web_proof = proof;
    }
    return SX_OK;
}

bool sx_xftp_client_hello_write(sx_writer *w, const sx_xftp_client_hello *h)
{
    if (!h || (h->has_web_challenge && h->web_challenge.len != SX_XFTP_WEB_CHALLENGE_LEN))
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_maybe(w, h->has_web_challenge) &&
           (!h->has_web_challenge || sx_write_short(w, h->web_challenge));
}

sx_status sx_xftp_client_hello_decode(sx_slice content, sx_xftp_client_hello *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_maybe(&r, &out->has_web_challenge);
    if (out->has_web_challenge)
        sx_read_short_len(&r, SX_XFTP_WEB_CHALLENGE_LEN, SX_XFTP_WEB_CHALLENGE_LEN,
                          &out->web_challenge);
    if (!sx_reader_ok(&r)) {
        memset(out, 0, sizeof *out);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

bool sx_xftp_client_handshake_write(sx_writer *w, const sx_xftp_client_handshake *h)
{
    if (!h)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_version(w, h->version) && sx_write_short(w, h->key_hash);
}

sx_status sx_xftp_client_handshake_decode(sx_slice content, sx_xftp_client_handshake *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_version(&r, &out->version);
    sx_read_short(&r, &out->key_hash);
    if (!sx_reader_ok(&r)) {
        memset(out, 0, sizeof *out);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}
