/* ErrorType codec. The reference writes errors as space-separated words;
 * a word is read up to the next space, and every error form runs to the end
 * of the ERR parameter, so the nested PROXY PROTOCOL error is simply the
 * rest of the bytes. Nesting is checked iteratively, never recursively. */
#include "smp/error.h"

#include "transport/smp_handshake.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "smp/version.h"

typedef struct name_map {
    const char *name;
    int value;
} name_map;

static const name_map ERR_NAMES[] = {
    {"BLOCK", SX_SMP_ERR_BLOCK},         {"SESSION", SX_SMP_ERR_SESSION},
    {"CMD", SX_SMP_ERR_CMD},             {"PROXY", SX_SMP_ERR_PROXY},
    {"AUTH", SX_SMP_ERR_AUTH},           {"BLOCKED", SX_SMP_ERR_BLOCKED},
    {"SERVICE", SX_SMP_ERR_SERVICE},     {"CRYPTO", SX_SMP_ERR_CRYPTO},
    {"QUOTA", SX_SMP_ERR_QUOTA},         {"STORE", SX_SMP_ERR_STORE},
    {"NO_MSG", SX_SMP_ERR_NO_MSG},       {"LARGE_MSG", SX_SMP_ERR_LARGE_MSG},
    {"EXPIRED", SX_SMP_ERR_EXPIRED},     {"INTERNAL", SX_SMP_ERR_INTERNAL},
    {"DUPLICATE_", SX_SMP_ERR_DUPLICATE}, {NULL, 0},
};

static const name_map CMD_NAMES[] = {
    {"UNKNOWN", SX_SMP_CMD_UNKNOWN},       {"SYNTAX", SX_SMP_CMD_SYNTAX},
    {"PROHIBITED", SX_SMP_CMD_PROHIBITED}, {"NO_AUTH", SX_SMP_CMD_NO_AUTH},
    {"HAS_AUTH", SX_SMP_CMD_HAS_AUTH},     {"NO_ENTITY", SX_SMP_CMD_NO_ENTITY},
    {"NO_QUEUE", SX_SMP_CMD_NO_ENTITY}, /* legacy spelling, decode only */
    {NULL, 0},
};

static const name_map PROXY_NAMES[] = {
    {"PROTOCOL", SX_SMP_PROXY_PROTOCOL},     {"BROKER", SX_SMP_PROXY_BROKER},
    {"BASIC_AUTH", SX_SMP_PROXY_BASIC_AUTH}, {"NO_SESSION", SX_SMP_PROXY_NO_SESSION},
    {NULL, 0},
};

static const name_map BROKER_NAMES[] = {
    {"RESPONSE", SX_SMP_BROKER_RESPONSE},   {"UNEXPECTED", SX_SMP_BROKER_UNEXPECTED},
    {"TRANSPORT", SX_SMP_BROKER_TRANSPORT}, {"NETWORK", SX_SMP_BROKER_NETWORK},
    {"TIMEOUT", SX_SMP_BROKER_TIMEOUT},     {"HOST", SX_SMP_BROKER_HOST},
    {"NO_SERVICE", SX_SMP_BROKER_NO_SERVICE}, {NULL, 0},
};

static const name_map NET_NAMES[] = {
    {"CONNECT", SX_SMP_NET_CONNECT},      {"TLS", SX_SMP_NET_TLS},
    {"UNKNOWNCA", SX_SMP_NET_UNKNOWN_CA}, {"FAILED", SX_SMP_NET_FAILED},
    {"TIMEOUT", SX_SMP_NET_TIMEOUT},      {"SUBSCRIBE", SX_SMP_NET_SUBSCRIBE},
    {NULL, 0},
};

static const char *name_of(const name_map *m, int value)
{
    for (; m->name; m++)
        if (m->value == value)
            return m->name;
    return NULL;
}

/* Reads a word and maps it; fails r for an unknown word. */
static bool read_name(sx_reader *r, const name_map *m, int *out)
{
    sx_slice word;
    if (!sx_read_word(r, &word))
        return false;
    for (; m->name; m++) {
        if (sx_slice_eq(word, sx_slice_str(m->name))) {
            *out = m->value;
            return true;
        }
    }
    return sx_reader_fail(r, SX_E_PROTOCOL);
}

static bool write_name(sx_writer *w, const name_map *m, int value)
{
    const char *n = name_of(m, value);
    return n ? sx_write_str(w, n) : sx_writer_fail(w, SX_E_USAGE);
}

const char *sx_smp_err_name(sx_smp_err_type t)
{
    const char *n = name_of(ERR_NAMES, (int)t);
    return n ? n : "?";
}

/* ---- TransportError (PROTOCOL-NOTES C20) ---- */

/* The text lives in the transport layer (the handshake's 'E' block uses it
 * too); here it is only mapped between that flat enum and ours, which keeps
 * the HANDSHAKE detail apart as the reference's type does. */
static sx_transport_error to_flat(sx_smp_transport_err te, sx_smp_handshake_err hs)
{
    switch (te) {
    case SX_SMP_TE_BLOCK: return SX_TE_BLOCK;
    case SX_SMP_TE_VERSION: return SX_TE_VERSION;
    case SX_SMP_TE_LARGE_MSG: return SX_TE_LARGE_MSG;
    case SX_SMP_TE_SESSION: return SX_TE_SESSION;
    case SX_SMP_TE_NO_AUTH: return SX_TE_NO_AUTH;
    case SX_SMP_TE_HANDSHAKE:
        switch (hs) {
        case SX_SMP_HS_PARSE: return SX_TE_HANDSHAKE_PARSE;
        case SX_SMP_HS_IDENTITY: return SX_TE_HANDSHAKE_IDENTITY;
        case SX_SMP_HS_BAD_AUTH: return SX_TE_HANDSHAKE_BAD_AUTH;
        case SX_SMP_HS_BAD_SERVICE: return SX_TE_HANDSHAKE_BAD_SERVICE;
        default: return SX_TE_NONE;
        }
    default: return SX_TE_NONE;
    }
}

bool sx_smp_transport_err_write(sx_writer *w, sx_smp_transport_err te, sx_smp_handshake_err hs)
{
    return sx_transport_error_write(w, to_flat(te, hs));
}

bool sx_smp_transport_err_read(sx_reader *r, sx_smp_transport_err *te, sx_smp_handshake_err *hs)
{
    sx_transport_error e;
    *te = 0;
    *hs = 0;
    if (!sx_transport_error_read(r, &e))
        return false;
    switch (e) {
    case SX_TE_BLOCK: *te = SX_SMP_TE_BLOCK; break;
    case SX_TE_VERSION: *te = SX_SMP_TE_VERSION; break;
    case SX_TE_LARGE_MSG: *te = SX_SMP_TE_LARGE_MSG; break;
    case SX_TE_SESSION: *te = SX_SMP_TE_SESSION; break;
    case SX_TE_NO_AUTH: *te = SX_SMP_TE_NO_AUTH; break;
    case SX_TE_HANDSHAKE_PARSE: *te = SX_SMP_TE_HANDSHAKE; *hs = SX_SMP_HS_PARSE; break;
    case SX_TE_HANDSHAKE_IDENTITY: *te = SX_SMP_TE_HANDSHAKE; *hs = SX_SMP_HS_IDENTITY; break;
    case SX_TE_HANDSHAKE_BAD_AUTH: *te = SX_SMP_TE_HANDSHAKE; *hs = SX_SMP_HS_BAD_AUTH; break;
    case SX_TE_HANDSHAKE_BAD_SERVICE: *te = SX_SMP_TE_HANDSHAKE; *hs = SX_SMP_HS_BAD_SERVICE; break;
    default: return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return true;
}

/* ---- BlockingInfo ---- */

static bool write_i64_text(sx_writer *w, int64_t n)
{
    char buf[24];
    int len = snprintf(buf, sizeof buf, "%" PRId64, n);
    return len > 0 && (size_t)len < sizeof buf ? sx_write_bytes(w, buf, (size_t)len)
                                               : sx_writer_fail(w, SX_E_INTERNAL);
}

bool sx_smp_blocking_info_write(sx_writer *w, const sx_smp_blocking_info *b)
{
    const char *reason = b->reason == SX_SMP_BLOCK_SPAM      ? "spam"
                         : b->reason == SX_SMP_BLOCK_CONTENT ? "content"
                                                             : NULL;
    if (!reason)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_str(w, "reason=") || !sx_write_str(w, reason))
        return false;
    if (!b->has_notice)
        return true;
    /* The reference's JSON encoder omits an absent ttl. */
    if (!b->has_ttl)
        return sx_write_str(w, ",notice={}");
    return sx_write_str(w, ",notice={\"ttl\":") && write_i64_text(w, b->ttl) &&
           sx_write_str(w, "}");
}

static bool peek(const sx_reader *r, uint8_t *c)
{
    sx_reader copy = *r;
    return sx_read_u8(&copy, c);
}

static void skip_json_ws(sx_reader *r)
{
    uint8_t c;
    while (peek(r, &c) && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
        (void)sx_read_u8(r, &c);
}

/* A JSON integer (-?(0|[1-9][0-9]*)) that fits Int64. */
static bool read_json_i64(sx_reader *r, int64_t *out)
{
    uint8_t c;
    bool neg = peek(r, &c) && c == '-';
    if (neg)
        (void)sx_read_u8(r, &c);
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    size_t digits = 0;
    bool leading_zero = false;
    while (peek(r, &c) && c >= '0' && c <= '9') {
        if (digits == 1 && leading_zero)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        if (digits == 0 && c == '0')
            leading_zero = true;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (limit - d) / 10)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        v = v * 10 + d;
        digits++;
        (void)sx_read_u8(r, &c);
    }
    if (digits == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* ClientNotice JSON: {} | {"ttl":N} | {"ttl":null}, with JSON whitespace. */
static bool read_notice_json(sx_reader *r, sx_smp_blocking_info *b)
{
    skip_json_ws(r);
    if (!sx_read_expect_str(r, "{"))
        return false;
    skip_json_ws(r);
    uint8_t c;
    if (peek(r, &c) && c == '"') {
        if (!sx_read_expect_str(r, "\"ttl\""))
            return false;
        skip_json_ws(r);
        if (!sx_read_expect_str(r, ":"))
            return false;
        skip_json_ws(r);
        if (peek(r, &c) && c == 'n') {
            if (!sx_read_expect_str(r, "null"))
                return false;
        } else {
            if (!read_json_i64(r, &b->ttl))
                return false;
            b->has_ttl = true;
        }
        skip_json_ws(r);
    }
    if (!sx_read_expect_str(r, "}"))
        return false;
    skip_json_ws(r);
    return sx_reader_ok(r);
}

bool sx_smp_blocking_info_read(sx_reader *r, sx_smp_blocking_info *out)
{
    memset(out, 0, sizeof *out);
    if (!sx_read_expect_str(r, "reason="))
        return false;
    uint8_t c;
    if (peek(r, &c) && c == 's') {
        if (!sx_read_expect_str(r, "spam"))
            return false;
        out->reason = SX_SMP_BLOCK_SPAM;
    } else {
        if (!sx_read_expect_str(r, "content"))
            return false;
        out->reason = SX_SMP_BLOCK_CONTENT;
    }
    if (sx_reader_remaining(r) == 0)
        return true;
    if (!sx_read_expect_str(r, ",notice="))
        return false;
    out->has_notice = true;
    if (!read_notice_json(r, out))
        return false;
    return sx_reader_remaining(r) == 0 ? true : sx_reader_fail(r, SX_E_PROTOCOL);
}

/* ---- ErrorType ---- */

static bool write_broker(sx_writer *w, const sx_smp_error *e)
{
    if (!write_name(w, BROKER_NAMES, (int)e->proxy.broker))
        return false;
    switch (e->proxy.broker) {
    case SX_SMP_BROKER_RESPONSE:
    case SX_SMP_BROKER_UNEXPECTED:
        return sx_write_str(w, " ") && sx_write_short(w, e->proxy.text);
    case SX_SMP_BROKER_TRANSPORT:
        return sx_write_str(w, " ") &&
               sx_smp_transport_err_write(w, e->proxy.transport, e->proxy.handshake);
    default:
        /* NETWORK is sent without its detail, as the reference does. */
        return true;
    }
}

static bool write_proxy(sx_writer *w, const sx_smp_error *e)
{
    if (!write_name(w, PROXY_NAMES, (int)e->proxy.kind))
        return false;
    switch (e->proxy.kind) {
    case SX_SMP_PROXY_PROTOCOL: {
        sx_smp_error inner;
        if (sx_smp_error_decode(e->proxy.inner, &inner) != SX_OK)
            return sx_writer_fail(w, SX_E_USAGE);
        return sx_write_str(w, " ") && sx_write_slice(w, e->proxy.inner);
    }
    case SX_SMP_PROXY_BROKER:
        return sx_write_str(w, " ") && write_broker(w, e);
    default:
        return true;
    }
}

bool sx_smp_error_write(sx_writer *w, uint16_t v, const sx_smp_error *e)
{
    if (!e)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_smp_err_type t = e->type;
    /* PROTOCOL-NOTES D41: BLOCKED did not exist before v12. */
    if (t == SX_SMP_ERR_BLOCKED && v < SX_SMP_V_BLOCKED_ENTITY)
        t = SX_SMP_ERR_AUTH;
    if (!write_name(w, ERR_NAMES, (int)t))
        return false;
    switch (t) {
    case SX_SMP_ERR_CMD:
        /* The table lists NO_ENTITY before its legacy spelling. */
        return sx_write_str(w, " ") && write_name(w, CMD_NAMES, (int)e->cmd);
    case SX_SMP_ERR_PROXY:
        return sx_write_str(w, " ") && write_proxy(w, e);
    case SX_SMP_ERR_BLOCKED: {
        sx_smp_blocking_info b = e->blocked;
        if (v < SX_SMP_V_CLIENT_NOTICES)
            b.has_notice = false;
        return sx_write_str(w, " ") && sx_smp_blocking_info_write(w, &b);
    }
    case SX_SMP_ERR_STORE:
        return sx_write_str(w, " ") && sx_write_slice(w, e->store);
    default:
        return true;
    }
}

static bool read_network(sx_reader *r, sx_smp_error *e)
{
    e->proxy.network = SX_SMP_NET_FAILED;
    if (sx_reader_remaining(r) == 0)
        return true;
    int n = 0;
    if (!sx_read_expect_str(r, " ") || !read_name(r, NET_NAMES, &n))
        return false;
    e->proxy.network = (sx_smp_network_err)n;
    switch (n) {
    case SX_SMP_NET_CONNECT:
    case SX_SMP_NET_TLS:
    case SX_SMP_NET_SUBSCRIBE:
        return sx_read_expect_str(r, " ") && sx_read_short(r, &e->proxy.text);
    default:
        return true;
    }
}

static bool read_broker(sx_reader *r, sx_smp_error *e)
{
    int b = 0;
    if (!read_name(r, BROKER_NAMES, &b))
        return false;
    e->proxy.broker = (sx_smp_broker_err)b;
    switch (b) {
    case SX_SMP_BROKER_RESPONSE:
    case SX_SMP_BROKER_UNEXPECTED:
        return sx_read_expect_str(r, " ") && sx_read_short(r, &e->proxy.text);
    case SX_SMP_BROKER_TRANSPORT:
        return sx_read_expect_str(r, " ") &&
               sx_smp_transport_err_read(r, &e->proxy.transport, &e->proxy.handshake);
    case SX_SMP_BROKER_NETWORK:
        return read_network(r, e);
    default:
        return true;
    }
}

/* One level: a PROXY PROTOCOL error keeps its nested error as a view of
 * the remaining bytes without looking into it. */
static bool read_shallow(sx_reader *r, sx_smp_error *e)
{
    memset(e, 0, sizeof *e);
    int t = 0, x = 0;
    if (!read_name(r, ERR_NAMES, &t))
        return false;
    e->type = (sx_smp_err_type)t;
    switch (t) {
    case SX_SMP_ERR_CMD:
        if (!sx_read_expect_str(r, " ") || !read_name(r, CMD_NAMES, &x))
            return false;
        e->cmd = (sx_smp_cmd_err)x;
        break;
    case SX_SMP_ERR_PROXY:
        if (!sx_read_expect_str(r, " ") || !read_name(r, PROXY_NAMES, &x))
            return false;
        e->proxy.kind = (sx_smp_proxy_err)x;
        if (x == SX_SMP_PROXY_PROTOCOL) {
            if (!sx_read_expect_str(r, " ") || !sx_read_tail(r, &e->proxy.inner))
                return false;
        } else if (x == SX_SMP_PROXY_BROKER) {
            if (!sx_read_expect_str(r, " ") || !read_broker(r, e))
                return false;
        }
        break;
    case SX_SMP_ERR_BLOCKED:
        if (!sx_read_expect_str(r, " ") || !sx_smp_blocking_info_read(r, &e->blocked))
            return false;
        break;
    case SX_SMP_ERR_STORE:
        if (!sx_read_expect_str(r, " ") || !sx_read_tail(r, &e->store))
            return false;
        break;
    default:
        break;
    }
    return sx_reader_remaining(r) == 0 ? true : sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_smp_error_read(sx_reader *r, sx_smp_error *out)
{
    if (!read_shallow(r, out))
        return false;
    /* Check the chain of nested PROXY PROTOCOL errors down to its end. */
    sx_smp_error cur = *out;
    while (cur.type == SX_SMP_ERR_PROXY && cur.proxy.kind == SX_SMP_PROXY_PROTOCOL) {
        sx_reader inner;
        sx_reader_init_slice(&inner, cur.proxy.inner);
        if (!read_shallow(&inner, &cur))
            return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return true;
}

sx_status sx_smp_error_decode(sx_slice s, sx_smp_error *out)
{
    sx_reader r;
    sx_reader_init_slice(&r, s);
    sx_smp_error_read(&r, out);
    return sx_reader_finish(&r);
}
