/* NTF commands, responses, statuses and their fields (PROTOCOL-NOTES G7-G15). */
#include <string.h>

#include "crypto/keys.h"
#include "transport/smp_version.h"
#include "ntf/protocol.h"

/* ---- fields ---- */

static const struct {
    sx_ntf_provider p;
    const char *code;
    const char *text;
} PROVIDERS[] = {
    {SX_NTF_PP_APNS_DEV, "AD", "apns_dev"},
    {SX_NTF_PP_APNS_PROD, "AP", "apns_prod"},
    {SX_NTF_PP_APNS_TEST, "AT", "apns_test"},
    {SX_NTF_PP_APNS_NULL, "AN", "apns_null"},
};
#define PROVIDER_COUNT (sizeof PROVIDERS / sizeof PROVIDERS[0])

const char *sx_ntf_provider_code(sx_ntf_provider p)
{
    for (size_t i = 0; i < PROVIDER_COUNT; i++)
        if (PROVIDERS[i].p == p)
            return PROVIDERS[i].code;
    return NULL;
}

const char *sx_ntf_provider_text(sx_ntf_provider p)
{
    for (size_t i = 0; i < PROVIDER_COUNT; i++)
        if (PROVIDERS[i].p == p)
            return PROVIDERS[i].text;
    return NULL;
}

sx_ntf_provider sx_ntf_provider_from_text(sx_slice s)
{
    for (size_t i = 0; i < PROVIDER_COUNT; i++)
        if (sx_slice_eq(s, sx_slice_str(PROVIDERS[i].text)))
            return PROVIDERS[i].p;
    return 0;
}

bool sx_ntf_read_device_token(sx_reader *r, sx_ntf_device_token *out)
{
    memset(out, 0, sizeof *out);
    sx_slice code;
    if (!sx_read_bytes(r, 2, &code))
        return false;
    for (size_t i = 0; i < PROVIDER_COUNT; i++)
        if (sx_slice_eq(code, sx_slice_str(PROVIDERS[i].code)))
            out->provider = PROVIDERS[i].p;
    if (!out->provider)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_read_short(r, &out->token);
}

bool sx_ntf_write_device_token(sx_writer *w, const sx_ntf_device_token *t)
{
    const char *code = sx_ntf_provider_code(t->provider);
    if (!code)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, code) && sx_write_short(w, t->token);
}

bool sx_ntf_read_queue(sx_reader *r, sx_ntf_queue *out)
{
    memset(out, 0, sizeof *out);
    return sx_smp_read_server(r, &out->server) && sx_read_short(r, &out->notifier_id);
}

bool sx_ntf_write_queue(sx_writer *w, const sx_ntf_queue *q)
{
    return sx_smp_write_server(w, &q->server) && sx_write_short(w, q->notifier_id);
}

/* ---- statuses ---- */

static const char *const TKN_NAMES[] = {NULL, "NEW", "REGISTERED", "INVALID",
                                        "CONFIRMED", "ACTIVE", "EXPIRED"};
static const char *const REASON_NAMES[] = {NULL, "BAD", "TOPIC", "EXPIRED", "UNREGISTERED"};
static const char *const SUB_NAMES[] = {NULL, "NEW", "PENDING", "ACTIVE", "INACTIVE",
                                        "END", "DELETED", "AUTH", "SERVICE", "ERR"};

static int name_index(const char *const *names, size_t n, sx_slice word)
{
    for (size_t i = 1; i < n; i++)
        if (sx_slice_eq(word, sx_slice_str(names[i])))
            return (int)i;
    return 0;
}

bool sx_ntf_tkn_state_write(sx_writer *w, const sx_ntf_tkn_state *s)
{
    if (s->status < SX_NTF_TKN_NEW || s->status > SX_NTF_TKN_EXPIRED ||
        (unsigned)s->reason > SX_NTF_INVALID_UNREGISTERED ||
        (s->reason && s->status != SX_NTF_TKN_INVALID))
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_str(w, TKN_NAMES[s->status]))
        return false;
    return !s->reason || (sx_write_u8(w, ',') && sx_write_str(w, REASON_NAMES[s->reason]));
}

bool sx_ntf_tkn_state_read(sx_reader *r, sx_ntf_tkn_state *out)
{
    memset(out, 0, sizeof *out);
    sx_slice word;
    if (!sx_read_until(r, " ,", &word))
        return false;
    out->status = (sx_ntf_tkn_status)name_index(TKN_NAMES, 7, word);
    if (!out->status)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (out->status == SX_NTF_TKN_INVALID && sx_read_accept(r, ",")) {
        if (!sx_read_until(r, " ", &word))
            return false;
        out->reason = (sx_ntf_invalid_reason)name_index(REASON_NAMES, 5, word);
        if (!out->reason)
            return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return sx_reader_remaining(r) == 0 || sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_ntf_tkn_allows_verify(sx_ntf_tkn_status s)
{
    return s == SX_NTF_TKN_REGISTERED || s == SX_NTF_TKN_CONFIRMED || s == SX_NTF_TKN_ACTIVE;
}

bool sx_ntf_tkn_allows_subs(sx_ntf_tkn_status s)
{
    return s == SX_NTF_TKN_INVALID || s == SX_NTF_TKN_ACTIVE || s == SX_NTF_TKN_EXPIRED;
}

bool sx_ntf_sub_state_write(sx_writer *w, const sx_ntf_sub_state *s)
{
    if (s->status < SX_NTF_SUB_NEW || s->status > SX_NTF_SUB_ERR)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_str(w, SUB_NAMES[s->status]))
        return false;
    return s->status != SX_NTF_SUB_ERR || (sx_write_u8(w, ' ') && sx_write_slice(w, s->err));
}

bool sx_ntf_sub_state_read(sx_reader *r, sx_ntf_sub_state *out)
{
    memset(out, 0, sizeof *out);
    sx_slice word;
    if (!sx_read_until(r, " ", &word))
        return false;
    out->status = (sx_ntf_sub_status)name_index(SUB_NAMES, 10, word);
    if (!out->status)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (out->status == SX_NTF_SUB_ERR)
        return sx_read_expect_str(r, " ") && sx_read_tail(r, &out->err);
    return sx_reader_remaining(r) == 0 || sx_reader_fail(r, SX_E_PROTOCOL);
}

/* ---- commands ---- */

static const struct {
    sx_ntf_cmd_tag tag;
    const char *name;
} CMDS[] = {
    {SX_NTF_C_TNEW, "TNEW"},
    {SX_NTF_C_TVFY, "TVFY"},
    {SX_NTF_C_TCHK, "TCHK"},
    {SX_NTF_C_TRPL, "TRPL"},
    {SX_NTF_C_TDEL, "TDEL"},
    {SX_NTF_C_TCRN, "TCRN"},
    {SX_NTF_C_SNEW, "SNEW"},
    {SX_NTF_C_SCHK, "SCHK"},
    {SX_NTF_C_SDEL, "SDEL"},
    {SX_NTF_C_PING, "PING"},
};
#define CMD_COUNT (sizeof CMDS / sizeof CMDS[0])

const char *sx_ntf_cmd_name(sx_ntf_cmd_tag tag)
{
    for (size_t i = 0; i < CMD_COUNT; i++)
        if (CMDS[i].tag == tag)
            return CMDS[i].name;
    return "?";
}

bool sx_ntf_cmd_is_token(sx_ntf_cmd_tag tag)
{
    return tag >= SX_NTF_C_TNEW && tag <= SX_NTF_C_TCRN;
}

/* A private auth key field: shortString(PKCS#8), decoded once to check it. */
static bool read_private_key(sx_reader *r, sx_slice *out)
{
    if (!sx_read_short(r, out))
        return false;
    sx_key *k = NULL;
    sx_status st = sx_key_decode_private(*out, SX_KEY_AUTH_ALGS, &k);
    sx_key_free(k);
    if (st == SX_E_NOMEM)
        return sx_reader_fail(r, SX_E_NOMEM);
    return st == SX_OK || sx_reader_fail(r, SX_E_PROTOCOL);
}

static void read_params(sx_reader *r, sx_ntf_cmd *c)
{
    switch (c->tag) {
    case SX_NTF_C_TNEW:
        sx_read_expect_str(r, " T");
        sx_ntf_read_device_token(r, &c->tnew.token);
        sx_smp_read_pubkey(r, SX_KEY_AUTH_ALGS, &c->tnew.verify_key);
        sx_smp_read_pubkey(r, SX_KEY_BIT(SX_KEY_X25519), &c->tnew.dh_key);
        break;
    case SX_NTF_C_TVFY:
        sx_read_expect_str(r, " ");
        sx_read_short(r, &c->reg_code);
        break;
    case SX_NTF_C_TRPL:
        sx_read_expect_str(r, " ");
        sx_ntf_read_device_token(r, &c->token);
        break;
    case SX_NTF_C_TCRN:
        sx_read_expect_str(r, " ");
        sx_read_u16(r, &c->cron_minutes);
        break;
    case SX_NTF_C_SNEW:
        sx_read_expect_str(r, " S");
        sx_read_short(r, &c->snew.token_id);
        sx_ntf_read_queue(r, &c->snew.queue);
        if (sx_reader_ok(r))
            read_private_key(r, &c->snew.notifier_key);
        break;
    default:
        break;
    }
}

sx_status sx_ntf_cmd_decode(sx_slice bytes, uint16_t v, sx_ntf_cmd *out, sx_smp_cmd_err *err)
{
    (void)v;
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
    read_params(&r, out);
    if (sx_reader_finish(&r) != SX_OK) {
        sx_status st = r.err == SX_E_NOMEM ? SX_E_NOMEM : SX_E_PROTOCOL;
        memset(out, 0, sizeof *out);
        *err = SX_SMP_CMD_SYNTAX;
        return st;
    }
    return SX_OK;
}

bool sx_ntf_cmd_write(sx_writer *w, uint16_t v, const sx_ntf_cmd *c)
{
    (void)v;
    if (!c || !strcmp(sx_ntf_cmd_name(c->tag), "?"))
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_str(w, sx_ntf_cmd_name(c->tag)))
        return false;
    switch (c->tag) {
    case SX_NTF_C_TNEW:
        return sx_write_str(w, " T") && sx_ntf_write_device_token(w, &c->tnew.token) &&
               sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &c->tnew.verify_key) &&
               sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &c->tnew.dh_key);
    case SX_NTF_C_TVFY:
        return sx_write_str(w, " ") && sx_write_short(w, c->reg_code);
    case SX_NTF_C_TRPL:
        return sx_write_str(w, " ") && sx_ntf_write_device_token(w, &c->token);
    case SX_NTF_C_TCRN:
        return sx_write_str(w, " ") && sx_write_u16(w, c->cron_minutes);
    case SX_NTF_C_SNEW:
        return sx_write_str(w, " S") && sx_write_short(w, c->snew.token_id) &&
               sx_ntf_write_queue(w, &c->snew.queue) && sx_write_short(w, c->snew.notifier_key);
    default:
        return true;
    }
}

sx_status sx_ntf_check_credentials(sx_ntf_cmd_tag tag, bool has_auth, bool entity_empty,
                                   sx_smp_cmd_err *err)
{
    SX_ENSURE(err != NULL, SX_E_USAGE);
    *err = 0;
    if (tag == SX_NTF_C_TNEW || tag == SX_NTF_C_SNEW) {
        if (!has_auth)
            *err = SX_SMP_CMD_NO_AUTH;
        else if (!entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
    } else if (tag == SX_NTF_C_PING) {
        if (has_auth || !entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
    } else if (!has_auth || entity_empty) {
        *err = SX_SMP_CMD_NO_AUTH;
    }
    return *err ? SX_E_PROTOCOL : SX_OK;
}

static sx_status request_error(sx_ntf_request *out, sx_smp_error e, sx_slice corr_id,
                               sx_slice entity_id)
{
    out->err = e;
    out->reply_corr_id = corr_id;
    out->reply_entity_id = entity_id;
    return SX_E_PROTOCOL;
}

sx_status sx_ntf_request_decode(sx_slice transmission, uint16_t v, sx_slice session_id,
                                sx_ntf_request *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_slice none = sx_slice_of(NULL, 0);
    if (sx_ntf_transmission_parse(transmission, v, &out->t) != SX_OK)
        return request_error(out, sx_smp_error_of(SX_SMP_ERR_BLOCK), none, none);
    sx_slice corr = out->t.corr_id, entity = out->t.entity_id;
    if (v < SX_NTF_V_AUTH_BATCH && !sx_slice_eq(out->t.session_id, session_id))
        return request_error(out, sx_smp_error_of(SX_SMP_ERR_SESSION), corr, none);
    if (sx_smp_auth_kind_of(out->t.auth, &out->auth_kind) != SX_OK)
        return request_error(out, sx_smp_error_of(SX_SMP_ERR_BLOCK), corr, none);
    sx_smp_cmd_err ce;
    sx_status st = sx_ntf_cmd_decode(out->t.command, v, &out->cmd, &ce);
    if (st == SX_E_NOMEM)
        return st;
    if (st != SX_OK)
        return request_error(out, sx_smp_error_cmd(ce), corr, entity);
    if (sx_ntf_check_credentials(out->cmd.tag, out->t.auth.len > 0, entity.len == 0, &ce) != SX_OK)
        return request_error(out, sx_smp_error_cmd(ce), corr, entity);
    return SX_OK;
}

/* ---- responses ---- */

static const struct {
    sx_ntf_resp_tag tag;
    const char *name;
} RESPS[] = {
    {SX_NTF_R_IDTKN, "IDTKN"},
    {SX_NTF_R_IDSUB, "IDSUB"},
    {SX_NTF_R_OK, "OK"},
    {SX_NTF_R_ERR, "ERR"},
    {SX_NTF_R_TKN, "TKN"},
    {SX_NTF_R_SUB, "SUB"},
    {SX_NTF_R_PONG, "PONG"},
};
#define RESP_COUNT (sizeof RESPS / sizeof RESPS[0])

const char *sx_ntf_resp_name(sx_ntf_resp_tag tag)
{
    for (size_t i = 0; i < RESP_COUNT; i++)
        if (RESPS[i].tag == tag)
            return RESPS[i].name;
    return "?";
}

sx_status sx_ntf_resp_decode(sx_slice bytes, uint16_t v, sx_ntf_resp *out, sx_smp_cmd_err *err)
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
    bool params = out->tag != SX_NTF_R_OK && out->tag != SX_NTF_R_PONG;
    if (params)
        sx_read_expect_str(&r, " ");
    switch (out->tag) {
    case SX_NTF_R_IDTKN:
        sx_read_short(&r, &out->idtkn.id);
        sx_smp_read_pubkey(&r, SX_KEY_BIT(SX_KEY_X25519), &out->idtkn.dh_key);
        break;
    case SX_NTF_R_IDSUB:
        sx_read_short(&r, &out->sub_id);
        break;
    case SX_NTF_R_ERR:
        if (sx_reader_ok(&r))
            sx_smp_error_read(&r, &out->err);
        break;
    case SX_NTF_R_TKN:
        if (sx_reader_ok(&r))
            sx_ntf_tkn_state_read(&r, &out->tkn);
        break;
    case SX_NTF_R_SUB:
        if (sx_reader_ok(&r))
            sx_ntf_sub_state_read(&r, &out->sub);
        break;
    default:
        break;
    }
    if (sx_reader_finish(&r) != SX_OK) {
        memset(out, 0, sizeof *out);
        *err = SX_SMP_CMD_SYNTAX;
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

bool sx_ntf_resp_write(sx_writer *w, uint16_t v, const sx_ntf_resp *r)
{
    if (!r || !strcmp(sx_ntf_resp_name(r->tag), "?"))
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_str(w, sx_ntf_resp_name(r->tag)))
        return false;
    switch (r->tag) {
    case SX_NTF_R_IDTKN:
        return sx_write_str(w, " ") && sx_write_short(w, r->idtkn.id) &&
               sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &r->idtkn.dh_key);
    case SX_NTF_R_IDSUB:
        return sx_write_str(w, " ") && sx_write_short(w, r->sub_id);
    case SX_NTF_R_ERR:
        /* NTF errors are the SMP ErrorType as the latest SMP version writes
         * it: the NTF protocol never downgrades them. */
        return sx_write_str(w, " ") && sx_smp_error_write(w, SX_SMP_VERSION_CURRENT, &r->err);
    case SX_NTF_R_TKN: {
        sx_ntf_tkn_state s = r->tkn;
        if (v < SX_NTF_V_INVALID_REASON)
            s.reason = SX_NTF_INVALID_NONE;
        return sx_write_str(w, " ") && sx_ntf_tkn_state_write(w, &s);
    }
    case SX_NTF_R_SUB:
        return sx_write_str(w, " ") && sx_ntf_sub_state_write(w, &r->sub);
    default:
        return true;
    }
}

sx_status sx_ntf_resp_check_entity(sx_ntf_resp_tag tag, bool entity_empty, sx_smp_cmd_err *err)
{
    SX_ENSURE(err != NULL, SX_E_USAGE);
    *err = 0;
    if (tag == SX_NTF_R_IDTKN || tag == SX_NTF_R_IDSUB || tag == SX_NTF_R_PONG) {
        if (!entity_empty)
            *err = SX_SMP_CMD_HAS_AUTH;
    } else if (tag != SX_NTF_R_ERR && entity_empty) {
        *err = SX_SMP_CMD_NO_ENTITY;
    }
    return *err ? SX_E_PROTOCOL : SX_OK;
}

sx_status sx_ntf_reply_decode(sx_slice transmission, uint16_t v, sx_slice session_id,
                              sx_ntf_reply *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    if (sx_ntf_transmission_parse(transmission, v, &out->t) != SX_OK) {
        out->err = sx_smp_error_of(SX_SMP_ERR_BLOCK);
        return SX_E_PROTOCOL;
    }
    if (v < SX_NTF_V_AUTH_BATCH && !sx_slice_eq(out->t.session_id, session_id)) {
        out->err = sx_smp_error_of(SX_SMP_ERR_SESSION);
        return SX_E_PROTOCOL;
    }
    sx_smp_cmd_err ce;
    if (sx_ntf_resp_decode(out->t.command, v, &out->resp, &ce) != SX_OK ||
        sx_ntf_resp_check_entity(out->resp.tag, out->t.entity_id.len == 0, &ce) != SX_OK) {
        out->err = sx_smp_error_cmd(ce);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}
