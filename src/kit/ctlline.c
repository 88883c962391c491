/* Router kit: control-port command grammar pieces (see ctlline.h). */
#include "kit/ctlline.h"

#include <string.h>

#include "core/base64.h"

void sx_kit_line_init(sx_kit_line *l, const char *s, size_t len)
{
    l->s = s;
    l->len = len;
    l->pos = 0;
}

sx_slice sx_kit_line_word(sx_kit_line *l)
{
    size_t start = l->pos;
    while (l->pos < l->len && l->s[l->pos] != ' ')
        l->pos++;
    return sx_slice_of(l->s + start, l->pos - start);
}

bool sx_kit_line_word_is(sx_slice w, const char *s)
{
    size_t n = strlen(s);
    return w.len == n && (n == 0 || memcmp(w.ptr, s, n) == 0);
}

bool sx_kit_line_at_end(const sx_kit_line *l)
{
    return l->pos == l->len;
}

/* The bytes the reference's parser counts as white space. */
static bool is_space(unsigned char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

bool sx_kit_line_space(sx_kit_line *l)
{
    if (l->pos < l->len && is_space((unsigned char)l->s[l->pos])) {
        l->pos++;
        return true;
    }
    return false;
}

static bool b64url_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

const char *sx_kit_line_b64url_arg(sx_kit_line *l, uint8_t *out, size_t cap, size_t *n)
{
    *n = 0;
    if (!sx_kit_line_space(l))
        return "space";
    size_t start = l->pos;
    while (l->pos < l->len && b64url_char(l->s[l->pos]))
        l->pos++;
    if (l->pos == start)
        return "Failed reading: takeWhile1";
    while (l->pos < l->len && l->s[l->pos] == '=')
        l->pos++;
    if (sx_b64_decode(l->s + start, l->pos - start, SX_B64_URL, out, cap, n) != SX_OK) {
        *n = 0;
        return "Failed reading: invalid base64url";
    }
    return NULL;
}

/* Printable, not white space, and not one of the bytes the address
 * grammar gives a meaning (the reference reads the bytes as Latin-1
 * characters: 0xA0 is a space there and 0xAD is not printable). */
static bool auth_char(unsigned char ch)
{
    if (ch == '@' || ch == ':' || ch == '/')
        return false;
    if (ch > ' ' && ch < 0x7f)
        return true;
    return ch > 0xa0 && ch != 0xad;
}

const char *sx_kit_line_auth_arg(sx_kit_line *l, sx_slice *password)
{
    *password = sx_slice_of(NULL, 0);
    if (!sx_kit_line_space(l))
        return "space";
    size_t start = l->pos;
    while (l->pos < l->len && l->s[l->pos] != '@')
        l->pos++;
    if (l->pos == start)
        return "Failed reading: takeWhile1";
    for (size_t i = start; i < l->pos; i++)
        if (!auth_char((unsigned char)l->s[i]))
            return "Failed reading: invalid character in BasicAuth";
    *password = sx_slice_of(l->s + start, l->pos - start);
    return NULL;
}
