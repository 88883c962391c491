/* The text grammar of the SMP router's log files (PROTOCOL-NOTES A23-A27):
 * the primitives the store-log, message-log and notification-log parsers
 * and encoders share, over the bounds-checked reader and writer. Parsers
 * backtrack by copying the reader; decoded data goes into an arena as large
 * as the line. Internal to src/router. */
#ifndef SX_ROUTER_SLTEXT_H
#define SX_ROUTER_SLTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/reader.h"
#include "core/writer.h"
#include "simplex/status.h"

#define SX_SLT_ID_TEXT_SIZE 128 /* base64url of an id up to 64 bytes, for reports */

/* A line being parsed. */
typedef struct sx_slt_parser {
    sx_reader r;
    uint8_t *arena; /* decoded data; never larger than the line */
    size_t used, cap;
} sx_slt_parser;

/* Starts parsing line (allocates the arena). SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_slt_init(sx_slt_parser *p, sx_slice line);
/* Checks that the whole line was consumed (when ok); frees the arena on
 * failure. SX_E_PROTOCOL, or the reader's error. */
SX_MUST_CHECK sx_status sx_slt_finish(sx_slt_parser *p, bool ok);

/* Fills the record rec (rec_size bytes) from one whole line with parse:
 * rec is zeroed first, and again on failure (SX_E_PROTOCOL, the reader's
 * error, SX_E_NOMEM); on success *arena (a field of rec) owns the decoded
 * bytes that rec's slices point into. The one driver of the store-log
 * records (slrec), message lines (msglog) and notification lines (ntflog). */
typedef bool (*sx_slt_record_fn)(sx_slt_parser *p, void *rec);
SX_MUST_CHECK sx_status sx_slt_parse_line(sx_slice line, sx_slt_record_fn parse, void *rec, size_t rec_size,
                                          uint8_t **arena);

/* ---- characters ---- */
static inline bool sx_slt_is_b64(uint8_t c)
{
    /* A..Z a..z 0..9 - _ as a 256-bit set: 32 bytes, one cache line, so the
     * test costs the same for every byte. */
    static const uint64_t set[4] __attribute__((aligned(32))) = {
        0x03ff200000000000ull, /* '-' (45), '0'..'9' (48..57) */
        0x07fffffe87fffffeull, /* 'A'..'Z' (65..90), '_' (95), 'a'..'z' (97..122) */
        0, 0};
    return (set[c >> 6] >> (c & 63)) & 1;
}
static inline bool sx_slt_is_pad(uint8_t c) { return c == '='; }
static inline bool sx_slt_is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
/* A list item runs to the next ',', ' ' or end of line (the reference's listItem). */
static inline bool sx_slt_is_item(uint8_t c) { return c != ',' && c != ' ' && c != '\n'; }
static inline bool sx_slt_is_not_space(uint8_t c) { return c != ' '; }

/* ---- reading (reader style: false with the reader failed) ----
 * The small ones are inline: the parsers call them for every field. */
/* The next byte without consuming it. */
static inline bool sx_slt_peek(const sx_reader *r, uint8_t *c)
{
    sx_reader probe = *r;
    return sx_read_u8(&probe, c);
}
static inline bool sx_slt_at_end(const sx_reader *r) { return sx_reader_ok(r) && sx_reader_remaining(r) == 0; }
/* The longest run (possibly empty) of bytes satisfying pred. */
static inline bool sx_slt_take_while(sx_reader *r, bool (*pred)(uint8_t), sx_slice *out)
{
    /* Scans the buffer directly (a store log of a million queues passes
     * some 200 million bytes through here at start). */
    size_t n = 0;
    if (sx_reader_ok(r)) {
        const uint8_t *p = r->buf + r->off;
        size_t left = r->len - r->off;
        while (n < left && pred(p[n]))
            n++;
    }
    return sx_read_bytes(r, n, out);
}
/* Consumes lit if it is next; otherwise nothing happens (no error). */
static inline bool sx_slt_try_lit(sx_reader *r, const char *lit)
{
    sx_reader probe = *r;
    if (!sx_read_expect_str(&probe, lit))
        return false;
    *r = probe;
    return true;
}
static inline bool sx_slt_expect(sx_reader *r, const char *lit) { return sx_read_expect_str(r, lit); }
/* base64urlP: one or more of the alphabet, then any '=' padding. */
bool sx_slt_b64_token(sx_reader *r, sx_slice *tok);
/* Decodes tok (base64url) into out (cap bytes); *n its length. */
bool sx_slt_decode_to(sx_reader *r, sx_slice tok, uint8_t *out, size_t cap, size_t *n);
/* A base64url token of exactly len bytes (ids, DH secrets). */
bool sx_slt_read_fixed(sx_reader *r, uint8_t *out, size_t len);
/* Decodes tok into the arena: 1..max bytes. */
bool sx_slt_decode_arena(sx_slt_parser *p, sx_slice tok, size_t max, sx_slice *out);
/* A base64url token decoded into the arena (1..max bytes). */
bool sx_slt_read_data(sx_slt_parser *p, size_t max, sx_slice *out);
/* A copy of already-consumed text in the arena. */
bool sx_slt_copy_arena(sx_slt_parser *p, sx_slice text, sx_slice *out);
/* Int64 / SystemTime text: optional sign, then decimal digits (PROTOCOL-NOTES
 * A25). */
bool sx_slt_read_int(sx_reader *r, int64_t *v);
/* One byte of set. */
bool sx_slt_read_char_of(sx_reader *r, const char *set, uint8_t *out);

/* ---- writing (writer style) ---- */
/* Padded base64url. */
bool sx_slt_put_b64(sx_writer *w, sx_slice s);
/* An SX_ID_LEN-byte id in base64url. */
bool sx_slt_put_id(sx_writer *w, const uint8_t *id);
/* Decimal. */
bool sx_slt_put_int(sx_writer *w, int64_t v);

/* base64url text of an id for reports ("?" when it does not fit). */
const char *sx_slt_id_text(const uint8_t *id, size_t len, char out[SX_SLT_ID_TEXT_SIZE]);

#endif
