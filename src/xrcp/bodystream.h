/* An XRCP body received piece by piece (PROTOCOL-NOTES X11), for an
 * attachment of any size that goes to the application's writer as it comes
 * instead of being held in memory.
 *
 * The head (counter, ct, signatures) and the attachment's header are
 * gathered first (bounded by the JSON's limit) and checked as
 * sx_xrcp_body_read_head checks them, before any attachment byte is passed
 * on; then the attachment is opened piece by piece into the writer; its tag
 * is checked at the end (sx_xrcp_body_rx_end). Bytes passed to the writer
 * before that are not yet authentic: when end (or a feed) fails, the caller
 * discards what its writer received.
 *
 * One receiver per body; not thread-safe. */
#ifndef SX_XRCP_BODYSTREAM_H
#define SX_XRCP_BODYSTREAM_H
#include "core/writer.h"
#include "xrcp/body.h"

/* Takes the next piece of the attachment's plaintext; anything but SX_OK
 * ends the body with that status. */
typedef sx_status (*sx_xrcp_att_writer)(void *arg, sx_slice plain);

typedef struct sx_xrcp_body_rx {
    sx_xrcp_crypto *c;
    sx_xrcp_att_writer write;
    void *arg;
    int state; /* 0 head, 1 attachment, 2 tag, 3 failed, 4 ended */
    sx_writer head;
    size_t head_len; /* 0 until known */
    uint64_t att_len, att_left;
    uint8_t tag[SX_XRCP_TAILBOX_TAG_LEN];
    size_t tag_have;
    sx_xrcp_tailbox box;
    uint8_t *json_buf;
    sx_slice json;
    sx_status st;
    sx_xrcp_body_err why;
    uint8_t piece[16384];
} sx_xrcp_body_rx;

/* write may be NULL for a body that must not carry an attachment (one that
 * does is refused, NO_FILE aside: INVALID). */
void sx_xrcp_body_rx_init(sx_xrcp_body_rx *rx, sx_xrcp_crypto *c, sx_xrcp_att_writer write, void *arg);
/* The next bytes of the body, in any pieces. SX_E_PROTOCOL / SX_E_AUTH /
 * SX_E_NOMEM or the writer's status once the body fails (later calls
 * return the same). */
SX_MUST_CHECK sx_status sx_xrcp_body_rx_feed(sx_xrcp_body_rx *rx, sx_slice data);
/* The body has ended: on success *json_buf (the caller frees) holds the
 * JSON at *json, *has_att and *att_len tell of the attachment written. On
 * failure *why says why (an attachment whose tag fails: DECRYPT). */
SX_MUST_CHECK sx_status sx_xrcp_body_rx_end(sx_xrcp_body_rx *rx, uint8_t **json_buf, sx_slice *json, bool *has_att,
                                            uint64_t *att_len, sx_xrcp_body_err *why);
void sx_xrcp_body_rx_cleanup(sx_xrcp_body_rx *rx);

/* ---- sending: a body produced piece by piece ---- */

/* Fills buf with up to cap next bytes of the attachment's plaintext (*got;
 * 0 only at its end); anything but SX_OK ends the body with that status. */
typedef sx_status (*sx_xrcp_att_reader)(void *arg, uint8_t *buf, size_t cap, size_t *got);

typedef struct sx_xrcp_body_tx {
    sx_writer head; /* the head and the attachment's header, sealed */
    size_t head_off;
    uint64_t att_left;
    bool has_att;
    int state; /* 0 head, 1 attachment, 2 tag, 3 ended */
    sx_xrcp_tailbox box;
    uint8_t tag[SX_XRCP_TAILBOX_TAG_LEN];
    size_t tag_off;
    sx_xrcp_att_reader read;
    void *arg;
} sx_xrcp_body_tx;

/* Seals the next body's head (json; when has_att the header of an att_len
 * byte attachment that read supplies). The sender's chain advances here.
 * SX_E_LIMIT for a JSON or attachment over the bounds (body.h). */
SX_MUST_CHECK sx_status sx_xrcp_body_tx_init(sx_xrcp_body_tx *tx, sx_xrcp_crypto *c, sx_slice json, bool has_att,
                                             uint64_t att_len, sx_xrcp_att_reader read, void *arg);
/* The next up to cap bytes of the body into buf (*got), *eof after the last
 * one. SX_E_PROTOCOL when the reader ends before att_len bytes, or the
 * reader's status. */
SX_MUST_CHECK sx_status sx_xrcp_body_tx_take(sx_xrcp_body_tx *tx, uint8_t *buf, size_t cap, size_t *got, bool *eof);
void sx_xrcp_body_tx_cleanup(sx_xrcp_body_tx *tx);
/* sx_xrcp_body_tx_take for an sx_xrcp_body_tx passed as arg (the shape of
 * h2.h's sources). */
sx_status sx_xrcp_body_tx_source(void *arg, uint8_t *buf, size_t cap, size_t *got, bool *eof);

/* ---- attachments held in memory, through the streaming calls ---- */

/* A reader of the bytes of src. */
typedef struct sx_xrcp_mem_src {
    sx_slice s;
    size_t off;
} sx_xrcp_mem_src;
sx_status sx_xrcp_mem_read(void *arg, uint8_t *buf, size_t cap, size_t *got);

/* A writer into a heap buffer of at most SX_XRCP_ATTACH_MAX bytes (arg: an
 * sx_writer set up with sx_writer_init_dynamic). */
sx_status sx_xrcp_mem_write(void *arg, sx_slice plain);

/* Moves the JSON of *json_buf and the attachment in att into one heap
 * buffer (*json_buf, replaced; *json and *att_out point into it), as
 * sx_xrcp_body_read returns them. */
SX_MUST_CHECK sx_status sx_xrcp_mem_join(uint8_t **json_buf, sx_slice *json, sx_writer *att, sx_slice *att_out);

#endif
