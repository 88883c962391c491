/* APNS error bodies and provider tokens read back (see apns_wire.h). */
#include "ntf_router/apns_wire.h"

#include <string.h>

#include "core/base64.h"
#include "core/reader.h"

/* ---- a flat JSON object -------------------------------------------------- */

typedef enum jkind { J_STRING,
                     J_NUMBER,
                     J_LITERAL } jkind;

/* One member: its key and value as views into the input (strings without
 * their quotes, escapes left as they are, flagged). */
typedef struct jmember {
    sx_slice key;
    jkind kind;
    sx_slice value;
    bool escaped;
} jmember;

typedef sx_status (*member_fn)(void *arg, const jmember *m);

static void skip_ws(sx_reader *r)
{
    while (sx_read_accept(r, " ") || sx_read_accept(r, "\t") || sx_read_accept(r, "\n") || sx_read_accept(r, "\r"))
        ;
}

static bool is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A JSON string after its opening quote, up to and including the closing
 * one. */
static bool read_string(sx_reader *r, sx_slice *out, bool *escaped)
{
    sx_slice rest = sx_reader_rest(r);
    *escaped = false;
    size_t i = 0;
    while (i < rest.len) {
        uint8_t c = rest.ptr[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        if (c == '\\') {
            *escaped = true;
            if (i + 1 >= rest.len)
                return sx_reader_fail(r, SX_E_PROTOCOL);
            uint8_t e = rest.ptr[i + 1];
            if (e == 'u') {
                if (i + 6 > rest.len)
                    return sx_reader_fail(r, SX_E_PROTOCOL);
                for (size_t k = 2; k < 6; k++)
                    if (!is_hex(rest.ptr[i + k]))
                        return sx_reader_fail(r, SX_E_PROTOCOL);
                i += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return sx_reader_fail(r, SX_E_PROTOCOL);
            i += 2;
            continue;
        }
        i++;
    }
    if (i >= rest.len)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return sx_read_bytes(r, i, out) && sx_read_expect_str(r, "\"");
}

/* A JSON number: -? digits (. digits)? ([eE] [+-]? digits)? */
static bool read_number(sx_reader *r, sx_slice *out)
{
    sx_slice rest = sx_reader_rest(r);
    size_t i = 0;
    if (i < rest.len && rest.ptr[i] == '-')
        i++;
    size_t d = i;
    while (i < rest.len && rest.ptr[i] >= '0' && rest.ptr[i] <= '9')
        i++;
    if (i == d)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (i < rest.len && rest.ptr[i] == '.') {
        d = ++i;
        while (i < rest.len && rest.ptr[i] >= '0' && rest.ptr[i] <= '9')
            i++;
        if (i == d)
            return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    if (i < rest.len && (rest.ptr[i] == 'e' || rest.ptr[i] == 'E')) {
        i++;
        if (i < rest.len && (rest.ptr[i] == '+' || rest.ptr[i] == '-'))
            i++;
        d = i;
        while (i < rest.len && rest.ptr[i] >= '0' && rest.ptr[i] <= '9')
            i++;
        if (i == d)
            return sx_reader_fail(r, SX_E_PROTOCOL);
    }
    return sx_read_bytes(r, i, out);
}

static bool read_value(sx_reader *r, jmember *m)
{
    sx_slice rest = sx_reader_rest(r);
    if (rest.len == 0)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (rest.ptr[0] == '"') {
        m->kind = J_STRING;
        return sx_read_expect_str(r, "\"") && read_string(r, &m->value, &m->escaped);
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++)
        if (sx_read_accept(r, lits[i])) {
            m->kind = J_LITERAL;
            m->value = sx_slice_str(lits[i]);
            return true;
        }
    m->kind = J_NUMBER;
    return read_number(r, &m->value); /* '{' and '[' fail here: no nesting */
}

/* {"k":v, ...} with optional whitespace, nothing after it but whitespace. */
static sx_status json_flat(sx_slice s, member_fn fn, void *arg)
{
    sx_reader r;
    sx_reader_init_slice(&r, s);
    skip_ws(&r);
    if (!sx_read_expect_str(&r, "{"))
        return SX_E_PROTOCOL;
    skip_ws(&r);
    if (!sx_read_accept(&r, "}")) {
        for (;;) {
            jmember m = {0};
            bool key_escaped = false;
            skip_ws(&r);
            if (!sx_read_expect_str(&r, "\"") || !read_string(&r, &m.key, &key_escaped))
                return SX_E_PROTOCOL;
            skip_ws(&r);
            if (!sx_read_expect_str(&r, ":"))
                return SX_E_PROTOCOL;
            skip_ws(&r);
            if (!read_value(&r, &m))
                return SX_E_PROTOCOL;
            if (!key_escaped)
                SX_TRY(fn(arg, &m));
            skip_ws(&r);
            if (sx_read_accept(&r, "}"))
                break;
            if (!sx_read_expect_str(&r, ","))
                return SX_E_PROTOCOL;
        }
    }
    skip_ws(&r);
    return sx_reader_finish(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

static bool key_is(const jmember *m, const char *k)
{
    return sx_slice_eq(m->key, sx_slice_str(k));
}

/* A string member without escapes, printable, into buf (cap bytes). */
static sx_status copy_text(const jmember *m, char *buf, size_t cap)
{
    SX_ENSURE(m->kind == J_STRING && !m->escaped, SX_E_PROTOCOL);
    for (size_t i = 0; i < m->value.len; i++)
        SX_ENSURE(m->value.ptr[i] >= 0x20 && m->value.ptr[i] < 0x7f, SX_E_PROTOCOL);
    SX_ENSURE(m->value.len < cap, SX_E_LIMIT);
    if (m->value.len)
        memcpy(buf, m->value.ptr, m->value.len);
    buf[m->value.len] = 0;
    return SX_OK;
}

/* ---- error bodies ------------------------------------------------------- */

typedef struct reason_arg {
    char *buf;
    size_t cap;
} reason_arg;

static sx_status reason_member(void *arg, const jmember *m)
{
    reason_arg *a = arg;
    return key_is(m, "reason") ? copy_text(m, a->buf, a->cap) : SX_OK;
}

sx_status sx_ntf_apns_reason_parse(sx_slice body, char *reason, size_t cap)
{
    SX_ENSURE(reason != NULL && cap > 0 && (body.len == 0 || body.ptr != NULL), SX_E_USAGE);
    reason[0] = 0;
    if (body.len == 0)
        return SX_OK;
    reason_arg a = {reason, cap < SX_NTF_APNS_REASON_MAX ? cap : SX_NTF_APNS_REASON_MAX};
    sx_status st = json_flat(body, reason_member, &a);
    if (st != SX_OK)
        reason[0] = 0;
    return st;
}

sx_ntf_apns_outcome sx_ntf_apns_outcome_of(int status, const char *reason, sx_ntf_invalid_reason *inv)
{
    const char *r = reason ? reason : "";
    *inv = SX_NTF_INVALID_NONE;
    switch (status) {
    case 200:
        return SX_NTF_APNS_DELIVERED;
    case 400:
        if (strcmp(r, "BadDeviceToken") == 0)
            *inv = SX_NTF_INVALID_BAD;
        else if (strcmp(r, "DeviceTokenNotForTopic") == 0)
            *inv = SX_NTF_INVALID_TOPIC;
        else if (strcmp(r, "TopicDisallowed") == 0)
            return SX_NTF_APNS_PERMANENT;
        else
            return SX_NTF_APNS_FAILED;
        return SX_NTF_APNS_TOKEN_INVALID;
    case 403:
        if (strcmp(r, "ExpiredProviderToken") == 0 || strcmp(r, "InvalidProviderToken") == 0)
            return SX_NTF_APNS_PERMANENT;
        return SX_NTF_APNS_FAILED;
    case 410:
        if (strcmp(r, "ExpiredToken") == 0)
            *inv = SX_NTF_INVALID_EXPIRED;
        else if (strcmp(r, "Unregistered") == 0)
            *inv = SX_NTF_INVALID_UNREGISTERED;
        else
            return SX_NTF_APNS_RETRY;
        return SX_NTF_APNS_TOKEN_INVALID;
    case 503:
        return SX_NTF_APNS_RETRY;
    default:
        return SX_NTF_APNS_FAILED;
    }
}

/* ---- provider tokens ---------------------------------------------------- */

typedef struct jwt_arg {
    sx_ntf_apns_jwt_parts *p;
    unsigned seen; /* bits: alg, kid, iss, iat */
} jwt_arg;

static sx_status header_member(void *arg, const jmember *m)
{
    jwt_arg *a = arg;
    if (key_is(m, "alg")) {
        a->seen |= 1;
        return copy_text(m, a->p->alg, sizeof a->p->alg);
    }
    if (key_is(m, "kid")) {
        a->seen |= 2;
        return copy_text(m, a->p->kid, sizeof a->p->kid);
    }
    return SX_OK;
}

static sx_status claims_member(void *arg, const jmember *m)
{
    jwt_arg *a = arg;
    if (key_is(m, "iss")) {
        a->seen |= 4;
        return copy_text(m, a->p->iss, sizeof a->p->iss);
    }
    if (key_is(m, "iat")) {
        a->seen |= 8;
        SX_ENSURE(m->kind == J_NUMBER && m->value.len > 0 && m->value.len <= 15, SX_E_PROTOCOL);
        int64_t v = 0;
        for (size_t i = 0; i < m->value.len; i++) {
            uint8_t c = m->value.ptr[i];
            SX_ENSURE(c >= '0' && c <= '9', SX_E_PROTOCOL);
            v = v * 10 + (c - '0');
        }
        a->p->iat = v;
    }
    return SX_OK;
}

/* Decodes one unpadded base64url part into out. */
static sx_status part_decode(sx_slice part, uint8_t *out, size_t cap, size_t *len)
{
    SX_ENSURE(part.len > 0, SX_E_PROTOCOL);
    for (size_t i = 0; i < part.len; i++)
        SX_ENSURE(part.ptr[i] != '=', SX_E_PROTOCOL);
    sx_status st = sx_b64_decode((const char *)part.ptr, part.len, SX_B64_URL_NOPAD, out, cap, len);
    return st == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

sx_status sx_ntf_apns_jwt_parse(sx_slice jwt, sx_ntf_apns_jwt_parts *out)
{
    SX_ENSURE(out != NULL && (jwt.len == 0 || jwt.ptr != NULL), SX_E_USAGE);
    memset(out, 0, sizeof *out);
    SX_ENSURE(jwt.len <= SX_NTF_APNS_JWT_MAX, SX_E_LIMIT);
    sx_reader r;
    sx_reader_init_slice(&r, jwt);
    sx_slice h, c, s;
    if (!sx_read_until(&r, ".", &h) || !sx_read_expect_str(&r, ".") || !sx_read_until(&r, ".", &c) ||
        !sx_read_expect_str(&r, ".") || !sx_read_tail(&r, &s))
        return SX_E_PROTOCOL;
    uint8_t buf[SX_NTF_APNS_JWT_MAX];
    size_t n = 0;
    jwt_arg a = {out, 0};
    SX_TRY(part_decode(h, buf, sizeof buf, &n));
    SX_TRY(json_flat(sx_slice_of(buf, n), header_member, &a));
    SX_TRY(part_decode(c, buf, sizeof buf, &n));
    SX_TRY(json_flat(sx_slice_of(buf, n), claims_member, &a));
    SX_ENSURE(a.seen == 15, SX_E_PROTOCOL);
    sx_status st = part_decode(s, out->sig, sizeof out->sig, &out->sig_len);
    SX_ENSURE(st == SX_OK, SX_E_PROTOCOL);
    out->signed_part = sx_slice_of(jwt.ptr, h.len + 1 + c.len);
    return SX_OK;
}

bool sx_ntf_apns_jwt_verify(const sx_ntf_apns_jwt_parts *p, const sx_ntf_apns_key *k)
{
    return p && k && strcmp(p->alg, "ES256") == 0 &&
           sx_ntf_apns_es256_verify(k, p->signed_part, sx_slice_of(p->sig, p->sig_len));
}
