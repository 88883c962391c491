/* Bounds-checked reader over untrusted bytes (PROTOCOL-NOTES A.1).
 *
 * Every read either succeeds completely or sets a sticky error; after the
 * first error every further read fails and returns zeroed outputs, so a
 * decoder can be written as a flat sequence of reads that is checked once
 * with sx_reader_finish(). No read ever touches memory outside [buf, buf+len).
 * Slices returned by the reader point into the reader's buffer. */
#ifndef SX_CORE_READER_H
#define SX_CORE_READER_H

#include "core/bytes.h"
#include "simplex/status.h"

typedef struct sx_reader {
    const uint8_t *buf;
    size_t len;
    size_t off;
    sx_status err; /* first error, SX_OK while none */
} sx_reader;

typedef struct sx_version_range {
    uint16_t min;
    uint16_t max;
} sx_version_range;

void sx_reader_init(sx_reader *r, const uint8_t *buf, size_t len);
static inline void sx_reader_init_slice(sx_reader *r, sx_slice s) { sx_reader_init(r, s.ptr, s.len); }

/* Bytes not yet consumed (0 after an error). */
size_t sx_reader_remaining(const sx_reader *r);
static inline bool sx_reader_ok(const sx_reader *r) { return r->err == SX_OK; }

/* Marks the reader failed with st (if it has not failed already); returns false.
 * Lets a decoder reject a well-formed but invalid value in the same style. */
bool sx_reader_fail(sx_reader *r, sx_status st);

/* SX_OK if no read failed and every byte was consumed; the first error, or
 * SX_E_PROTOCOL for trailing bytes, otherwise. */
SX_MUST_CHECK sx_status sx_reader_finish(const sx_reader *r);
/* SX_OK if no read failed; trailing bytes allowed (forward-compatible hellos,
 * PROTOCOL-NOTES B22). */
SX_MUST_CHECK sx_status sx_reader_status(const sx_reader *r);

/* Primitive reads; each returns true on success. */
bool sx_read_u8(sx_reader *r, uint8_t *out);
bool sx_read_u16(sx_reader *r, uint16_t *out);             /* PROTOCOL-NOTES A1 big-endian */
bool sx_read_u32(sx_reader *r, uint32_t *out);             /* PROTOCOL-NOTES A2 */
bool sx_read_i64(sx_reader *r, int64_t *out);              /* PROTOCOL-NOTES A3 */
bool sx_read_bytes(sx_reader *r, size_t n, sx_slice *out); /* exactly n raw bytes (PROTOCOL-NOTES A15) */
bool sx_read_copy(sx_reader *r, void *dst, size_t n);      /* exactly n raw bytes, copied */
bool sx_read_short(sx_reader *r, sx_slice *out);           /* PROTOCOL-NOTES A4: 1-byte length + bytes */
bool sx_read_large(sx_reader *r, sx_slice *out);           /* PROTOCOL-NOTES A5: 2-byte length + bytes */
bool sx_read_tail(sx_reader *r, sx_slice *out);            /* PROTOCOL-NOTES A6: all remaining bytes */
/* Short string whose length must lie in [min, max]; else SX_E_PROTOCOL. */
bool sx_read_short_len(sx_reader *r, size_t min, size_t max, sx_slice *out);
/* PROTOCOL-NOTES A7: Maybe tag '0' / '1'; *present tells which. The value follows
 * if present. */
bool sx_read_maybe(sx_reader *r, bool *present);
bool sx_read_bool(sx_reader *r, bool *out);                /* PROTOCOL-NOTES A8: 'T' / 'F' */
bool sx_read_char(sx_reader *r, char *out);                /* PROTOCOL-NOTES A9 */
/* PROTOCOL-NOTES A11: list count byte (0..255). */
bool sx_read_list_count(sx_reader *r, uint8_t *count);
/* PROTOCOL-NOTES A11: NonEmpty count byte; 0 is an error. */
bool sx_read_nonempty_count(sx_reader *r, uint8_t *count);
bool sx_read_version(sx_reader *r, uint16_t *out);                 /* PROTOCOL-NOTES A14 */
bool sx_read_version_range(sx_reader *r, sx_version_range *out);  /* PROTOCOL-NOTES A14: min <= max */
bool sx_read_system_time(sx_reader *r, int64_t *seconds);         /* PROTOCOL-NOTES A13 */
/* Consumes exactly the bytes of lit, or fails without consuming. */
bool sx_read_expect(sx_reader *r, sx_slice lit);
bool sx_read_expect_str(sx_reader *r, const char *lit);
/* Bytes up to (not including) the next space or the end; used for command
 * tags (PROTOCOL-NOTES C5). The space itself is not consumed. */
bool sx_read_word(sx_reader *r, sx_slice *out);

/* Text primitives (server addresses, PROTOCOL-NOTES A29). */
/* The unread bytes as a view, without consuming them (empty after an error);
 * lets a matcher over a slice decide how many bytes sx_read_bytes takes. */
sx_slice sx_reader_rest(const sx_reader *r);
/* Consumes lit if the unread bytes start with it and returns true; otherwise
 * consumes nothing, returns false and does not fail the reader. */
bool sx_read_accept(sx_reader *r, const char *lit);
/* Bytes up to (not including) the first one that occurs in stops (a
 * NUL-terminated set), or to the end; may be empty. The stop byte is not
 * consumed. */
bool sx_read_until(sx_reader *r, const char *stops, sx_slice *out);
/* One or more decimal digits (all that follow) whose value is at most max;
 * fails with SX_E_PROTOCOL if there is no digit or the value exceeds max. */
bool sx_read_decimal(sx_reader *r, uint32_t max, uint32_t *out);

#endif
