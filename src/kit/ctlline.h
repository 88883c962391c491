/* Router kit: the grammar pieces shared by every router's control-port
 * commands (PROTOCOL-NOTES E32, F29a). A command line is a first word up to
 * the first ' ', then arguments each introduced by one whitespace byte, as
 * the reference's string parsers read them. The functions here move a cursor
 * over one line (without its "\n" or "\r\n") and report failures with the
 * reference's own error texts, so a router answers "error: <text>" exactly
 * as the reference does. Pure: no I/O, no allocation. */
#ifndef SX_KIT_CTLLINE_H
#define SX_KIT_CTLLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"

typedef struct sx_kit_line {
    const char *s;
    size_t len, pos;
} sx_kit_line;

void sx_kit_line_init(sx_kit_line *l, const char *s, size_t len);

/* The first word: everything up to the first ' ' (possibly empty); the
 * cursor stops on that ' ' or at the end. */
sx_slice sx_kit_line_word(sx_kit_line *l);

/* True when w is exactly the text s. */
bool sx_kit_line_word_is(sx_slice w, const char *s);

bool sx_kit_line_at_end(const sx_kit_line *l);

/* Takes one whitespace byte (' ', '\t', '\n', '\v', '\f' or '\r').
 * Error text "space". */
bool sx_kit_line_space(sx_kit_line *l);

/* A whitespace byte, then an unpadded or padded base64url word, decoded
 * into out (at most cap bytes, *n of them). NULL on success, else the
 * error text: "space", "Failed reading: takeWhile1" (no base64url
 * character), "Failed reading: invalid base64url" (bad length or padding,
 * or more than cap bytes). The cursor stops after the word. */
const char *sx_kit_line_b64url_arg(sx_kit_line *l, uint8_t *out, size_t cap, size_t *n);

/* A whitespace byte, then a BasicAuth password: one or more bytes up to the
 * first '@', each printable and none of space, ':' or '/'. *password borrows
 * from the line. NULL on success, else "space", "Failed reading:
 * takeWhile1" or "Failed reading: invalid character in BasicAuth". */
const char *sx_kit_line_auth_arg(sx_kit_line *l, sx_slice *password);

#endif
