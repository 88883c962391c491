/* Strict JSON syntax check and member lookup (json.h). A cursor walks the
 * text; every step checks the bound first. */
#include "xrcp/json.h"

#include <string.h>

typedef struct jcur {
    const uint8_t *p;
    size_t n;
    size_t i;
} jcur;

static void skip_ws(jcur *c)
{
    while (c->i < c->n && (c->p[c->i] == ' ' || c->p[c->i] == '\t' || c->p[c->i] == '\n' || c->p[c->i] == '\r'))
        c->i++;
}

static bool is_hex(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

/* One UTF-8 sequence starting at c->i (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF). */
static bool utf8_char(jcur *c)
{
    uint8_t b = c->p[c->i];
    size_t extra;
    uint32_t cp;
    if (b < 0x80) {
        c->i++;
        return true;
    } else if (b >= 0xc2 && b <= 0xdf) {
        extra = 1;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        extra = 2;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        extra = 3;
        cp = b & 0x07;
    } else {
        return false;
    }
    if (c->n - c->i <= extra)
        return false;
    for (size_t k = 1; k <= extra; k++) {
        uint8_t t = c->p[c->i + k];
        if ((t & 0xc0) != 0x80)
            return false;
        cp = (cp << 6) | (t & 0x3f);
    }
    bool overlong_or_surrogate = extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff));
    if (overlong_or_surrogate || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
        return false;
    c->i += extra + 1;
    return true;
}

static bool scan_string(jcur *c)
{
    if (c->i >= c->n || c->p[c->i] != '"')
        return false;
    c->i++;
    while (c->i < c->n) {
        uint8_t b = c->p[c->i];
        if (b == '"') {
            c->i++;
            return true;
        }
        if (b < 0x20)
            return false;
        if (b == '\\') {
            if (c->i + 1 >= c->n)
                return false;
            uint8_t e = c->p[c->i + 1];
            if (e == 'u') {
                if (c->n - c->i < 6)
                    return false;
                for (size_t k = 2; k < 6; k++)
                    if (!is_hex(c->p[c->i + k]))
                        return false;
                c->i += 6;
            } else if (strchr("\"\\/bfnrt", e) != NULL && e != 0) {
                c->i += 2;
            } else {
                return false;
            }
            continue;
        }
        if (!utf8_char(c))
            return false;
    }
    return false;
}

static bool digits(jcur *c)
{
    size_t start = c->i;
    while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9')
        c->i++;
    return c->i > start;
}

static bool scan_number(jcur *c)
{
    if (c->i < c->n && c->p[c->i] == '-')
        c->i++;
    if (c->i >= c->n)
        return false;
    if (c->p[c->i] == '0')
        c->i++;
    else if (!digits(c))
        return false;
    if (c->i < c->n && c->p[c->i] == '.') {
        c->i++;
        if (!digits(c))
            return false;
    }
    if (c->i < c->n && (c->p[c->i] == 'e' || c->p[c->i] == 'E')) {
        c->i++;
        if (c->i < c->n && (c->p[c->i] == '+' || c->p[c->i] == '-'))
            c->i++;
        if (!digits(c))
            return false;
    }
    return true;
}

static bool scan_lit(jcur *c, const char *lit)
{
    size_t l = strlen(lit);
    if (c->n - c->i < l || memcmp(c->p + c->i, lit, l) != 0)
        return false;
    c->i += l;
    return true;
}

static bool scan_value(jcur *c, int depth);

/* Object or array body after its opening bracket. */
static bool scan_container(jcur *c, int depth, bool object)
{
    uint8_t close = object ? '}' : ']';
    skip_ws(c);
    if (c->i < c->n && c->p[c->i] == close) {
        c->i++;
        return true;
    }
    for (;;) {
        skip_ws(c);
        if (object) {
            if (!scan_string(c))
                return false;
            skip_ws(c);
            if (c->i >= c->n || c->p[c->i] != ':')
                return false;
            c->i++;
        }
        if (!scan_value(c, depth + 1))
            return false;
        skip_ws(c);
        if (c->i >= c->n)
            return false;
        if (c->p[c->i] == close) {
            c->i++;
            return true;
        }
        if (c->p[c->i] != ',')
            return false;
        c->i++;
    }
}

static bool scan_value(jcur *c, int depth)
{
    if (depth > SX_XRCP_JSON_DEPTH)
        return false;
    skip_ws(c);
    if (c->i >= c->n)
        return false;
    switch (c->p[c->i]) {
    case '{':
        c->i++;
        return scan_container(c, depth, true);
    case '[':
        c->i++;
        return scan_container(c, depth, false);
    case '"':
        return scan_string(c);
    case 't':
        return scan_lit(c, "true");
    case 'f':
        return scan_lit(c, "false");
    case 'n':
        return scan_lit(c, "null");
    default:
        return scan_number(c);
    }
}

bool sx_xrcp_json_valid(sx_slice text)
{
    if (text.ptr == NULL && text.len != 0)
        return false;
    jcur c = {text.ptr, text.len, 0};
    if (!scan_value(&c, 0))
        return false;
    skip_ws(&c);
    return c.i == c.n;
}

bool sx_xrcp_json_is_object(sx_slice text)
{
    if (!sx_xrcp_json_valid(text))
        return false;
    jcur c = {text.ptr, text.len, 0};
    skip_ws(&c);
    return c.p[c.i] == '{';
}

bool sx_xrcp_json_member(sx_slice text, const char *key, sx_slice *value)
{
    if (!sx_xrcp_json_valid(text))
        return false;
    jcur c = {text.ptr, text.len, 0};
    skip_ws(&c);
    if (c.p[c.i] != '{')
        return false;
    c.i++;
    size_t klen = strlen(key);
    for (;;) {
        skip_ws(&c);
        if (c.p[c.i] == '}')
            return false;
        size_t name = c.i;
        if (!scan_string(&c))
            return false;
        bool match = c.i - name == klen + 2 && memcmp(c.p + name + 1, key, klen) == 0;
        skip_ws(&c);
        c.i++; /* ':' (the text is valid) */
        skip_ws(&c);
        size_t start = c.i;
        if (!scan_value(&c, 1))
            return false;
        if (match) {
            *value = sx_slice_of(c.p + start, c.i - start);
            return true;
        }
        skip_ws(&c);
        if (c.p[c.i] == '}')
            return false;
        c.i++; /* ',' */
    }
}

bool sx_xrcp_json_plain_string(sx_slice value, sx_slice *contents)
{
    if (value.len < 2 || value.ptr[0] != '"' || value.ptr[value.len - 1] != '"')
        return false;
    for (size_t k = 1; k + 1 < value.len; k++)
        if (value.ptr[k] == '"' || value.ptr[k] == '\\' || value.ptr[k] < 0x20)
            return false;
    *contents = sx_slice_of(value.ptr + 1, value.len - 2);
    return true;
}
