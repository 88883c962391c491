/* Bounds-checked writer for wire encodings (PROTOCOL-NOTES A.1).
 *
 * A writer appends into either a caller's fixed buffer or a heap buffer that
 * grows up to a limit. Errors are sticky like the reader's: a write that does
 * not fit, or a short string / list over 255 (PROTOCOL-NOTES P14), fails and
 * marks the writer, and nothing after it is written. Check once with
 * sx_writer_status(). */
#ifndef SX_CORE_WRITER_H
#define SX_CORE_WRITER_H

#include "core/bytes.h"
#include "core/reader.h" /* sx_version_range */
#include "simplex/status.h"

typedef struct sx_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t limit;   /* growable writers: never grow past this */
    bool growable;  /* buf is heap memory owned by the writer */
    sx_status err;
} sx_writer;

/* Writes into caller's memory; never allocates. */
void sx_writer_init_fixed(sx_writer *w, uint8_t *buf, size_t cap);
/* Heap buffer grown as needed up to limit bytes (SX_E_LIMIT beyond it). */
void sx_writer_init_dynamic(sx_writer *w, size_t limit);
/* Releases a dynamic writer's buffer (wiped first); no-op for fixed writers. */
void sx_writer_cleanup(sx_writer *w);
/* Takes the dynamic buffer out of the writer; caller frees it with free(). */
uint8_t *sx_writer_take(sx_writer *w, size_t *len);

SX_MUST_CHECK sx_status sx_writer_status(const sx_writer *w);
static inline sx_slice sx_writer_slice(const sx_writer *w) { return sx_slice_of(w->buf, w->len); }
bool sx_writer_fail(sx_writer *w, sx_status st);

bool sx_write_u8(sx_writer *w, uint8_t v);
bool sx_write_u16(sx_writer *w, uint16_t v);
bool sx_write_u32(sx_writer *w, uint32_t v);
bool sx_write_i64(sx_writer *w, int64_t v);
bool sx_write_bytes(sx_writer *w, const void *p, size_t n); /* raw, no prefix */
bool sx_write_slice(sx_writer *w, sx_slice s);              /* raw, no prefix */
bool sx_write_str(sx_writer *w, const char *s);             /* raw ASCII, no prefix */
bool sx_write_short(sx_writer *w, sx_slice s);              /* PROTOCOL-NOTES A4, refuses > 255 */
bool sx_write_large(sx_writer *w, sx_slice s);              /* PROTOCOL-NOTES A5, refuses > 65535 */
bool sx_write_maybe(sx_writer *w, bool present);            /* PROTOCOL-NOTES A7 tag only */
bool sx_write_bool(sx_writer *w, bool v);                   /* PROTOCOL-NOTES A8 */
bool sx_write_list_count(sx_writer *w, size_t count);       /* PROTOCOL-NOTES A11, refuses > 255 */
bool sx_write_nonempty_count(sx_writer *w, size_t count);   /* PROTOCOL-NOTES A11, refuses 0 and > 255 */
bool sx_write_version(sx_writer *w, uint16_t v);
bool sx_write_version_range(sx_writer *w, sx_version_range vr); /* refuses min > max */
bool sx_write_system_time(sx_writer *w, int64_t seconds);
/* Reserves n bytes and returns where they start (NULL on failure), for
 * fields filled in later, such as a length prefix. The pointer is valid
 * until the next write to a growable writer. */
uint8_t *sx_write_reserve(sx_writer *w, size_t n);
/* Makes room for n more bytes now, so that writes adding up to n do not
 * grow (and copy) a growable writer step by step; false (sticky error) when
 * impossible. Writes nothing. */
bool sx_writer_presize(sx_writer *w, size_t n);

#endif
