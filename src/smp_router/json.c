/* The JSON subset of the SMP store log (see json.h). */
#include "smp_router/json.h"

#include <stdint.h>
#include <string.h>

#include "smp_router/sltext.h"

#define JSON_DEPTH_MAX 32

void sx_json_ws(sx_reader *r)
{
    uint8_t c;
    while (sx_slt_peek(r, &c) && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
        sx_read_u8(r, &c);
}

static bool json_digits(sx_reader *r)
{
    sx_slice d;
    return sx_slt_take_while(r, sx_slt_is_digit, &d) && (d.len > 0 || sx_reader_fail(r, SX_E_PROTOCOL));
}

static bool json_string(sx_reader *r)
{
    if (!sx_slt_expect(r, "\""))
        return false;
    for (;;) {
        uint8_t c;
        if (!sx_read_u8(r, &c))
            return false;
        if (c == '"')
            return true;
        if (c < 0x20)
            return sx_reader_fail(r, SX_E_PROTOCOL);
        if (c != '\\')
            continue;
        if (!sx_read_u8(r, &c))
            return false;
        if (c == 'u') {
            for (int i = 0; i < 4; i++) {
                uint8_t h;
                if (!sx_read_u8(r, &h))
                    return false;
                if (!strchr("0123456789abcdefABCDEF", h) || h == 0)
                    return sx_reader_fail(r, SX_E_PROTOCOL);
            }
        } else if (c == 0 || !strchr("\"\\/bfnrt", c)) {
            return sx_reader_fail(r, SX_E_PROTOCOL);
        }
    }
}

static bool json_number(sx_reader *r)
{
    sx_slt_try_lit(r, "-");
    if (!sx_slt_try_lit(r, "0") && !json_digits(r))
        return false;
    if (sx_slt_try_lit(r, ".") && !json_digits(r))
        return false;
    if (sx_slt_try_lit(r, "e") || sx_slt_try_lit(r, "E")) {
        if (!sx_slt_try_lit(r, "+"))
            sx_slt_try_lit(r, "-");
        return json_digits(r);
    }
    return sx_reader_ok(r);
}

static bool json_value(sx_reader *r, int depth);

static bool json_members(sx_reader *r, int depth, bool object)
{
    const char *close = object ? "}" : "]";
    sx_json_ws(r);
    if (sx_slt_try_lit(r, close))
        return true;
    for (;;) {
        sx_json_ws(r);
        if (object) {
            if (!json_string(r))
                return false;
            sx_json_ws(r);
            if (!sx_slt_expect(r, ":"))
                return false;
        }
        if (!json_value(r, depth + 1))
            return false;
        sx_json_ws(r);
        if (sx_slt_try_lit(r, close))
            return true;
        if (!sx_slt_expect(r, ","))
            return false;
    }
}

static bool json_value(sx_reader *r, int depth)
{
    if (depth > JSON_DEPTH_MAX)
        return sx_reader_fail(r, SX_E_LIMIT);
    sx_json_ws(r);
    uint8_t c = 0;
    if (!sx_slt_peek(r, &c))
        return sx_reader_fail(r, SX_E_PROTOCOL);
    if (sx_slt_try_lit(r, "{"))
        return json_members(r, depth, true);
    if (sx_slt_try_lit(r, "["))
        return json_members(r, depth, false);
    if (c == '"')
        return json_string(r);
    if (sx_slt_try_lit(r, "true") || sx_slt_try_lit(r, "false") || sx_slt_try_lit(r, "null"))
        return true;
    if (c == '-' || sx_slt_is_digit(c))
        return json_number(r);
    return sx_reader_fail(r, SX_E_PROTOCOL);
}

bool sx_json_value(sx_reader *r) { return json_value(r, 0); }
