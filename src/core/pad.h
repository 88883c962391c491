/* Fixed-size padding (PROTOCOL-NOTES A.3): Word16 length || msg || '#' fill. */
#ifndef SX_CORE_PAD_H
#define SX_CORE_PAD_H

#include "core/bytes.h"
#include "simplex/status.h"

#define SX_PAD_CHAR 0x23 /* '#' */

/* PROTOCOL-NOTES A30: writes exactly n bytes into out (n >= 2). SX_E_LIMIT when
 * msg.len > n - 2 or msg.len > 65533. */
SX_MUST_CHECK sx_status sx_pad(sx_slice msg, uint8_t *out, size_t n);
/* PROTOCOL-NOTES A30 unPad: the message inside padded (a slice of it).
 * SX_E_PROTOCOL when the declared length exceeds what follows. Fill bytes are
 * not checked. */
SX_MUST_CHECK sx_status sx_unpad(sx_slice padded, sx_slice *msg);
/* PROTOCOL-NOTES A32: Int64 length || data || '#' fill to n bytes (file padding
 * header). */
SX_MUST_CHECK sx_status sx_pad_lazy(sx_slice msg, uint8_t *out, size_t n);
SX_MUST_CHECK sx_status sx_unpad_lazy(sx_slice padded, sx_slice *msg);

#endif
