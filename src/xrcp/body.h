/* XRCP session payloads (PROTOCOL-NOTES X11): the bodies of the HTTP/2
 * requests (the controller's commands) and responses (the host's), as the
 * reference application writes them.
 *
 *   body       = counter ctLen ct [ssig idsig] [attachment]
 *   counter    = Word32, the sender's message number from 1
 *   ctLen      = Word32, the length of ct
 *   ct         = box(shortString(tls-unique) || JSON), tag at the end
 *   ssig/idsig = shortString(Ed25519 signature): commands only; ssig by the
 *                session key over SHA-512(counter || ctLen || ct), idsig by
 *                the identity key over SHA-512(counter || ctLen || ct || ssig)
 *   attachment = %x01 Word32(n + 16) box(n bytes), tag at the end
 *
 * Each message takes two steps of the sender's chain: the first keys ct,
 * the second the attachment. The receiver takes the keys for a counter:
 * a counter above the last one skips (and keeps) the keys of the numbers
 * between, at most 256 ahead; a repeated counter is refused; an earlier one
 * only with its kept keys, once.
 *
 * An sx_xrcp_crypto is one side's state for one session; not thread-safe. */
#ifndef SX_XRCP_BODY_H
#define SX_XRCP_BODY_H
#include "core/writer.h"
#include "crypto/keys.h"
#include "crypto/sbchain.h"
#include "transport/tls.h"
#include "xrcp/invitation.h"
#include "xrcp/tailbox.h"

#define SX_XRCP_MAX_SKIP 256
#define SX_XRCP_JSON_MAX (8u << 20)    /* a command's or response's JSON */
#define SX_XRCP_ATTACH_MAX (64u << 20) /* an attachment held in memory */
#define SX_XRCP_BODY_MAX (SX_XRCP_JSON_MAX + SX_XRCP_ATTACH_MAX + 1024)
/* an attachment streamed (its Word32 length counts the tag) */
#define SX_XRCP_STREAM_MAX (UINT32_MAX - SX_XRCP_TAILBOX_TAG_LEN)

/* Why a body was refused (the reference application's RemoteProtocolError
 * names in comments). */
typedef enum sx_xrcp_body_err {
    SX_XRCP_BODY_OK = 0,
    SX_XRCP_BODY_INVALID,      /* RPEInvalidBody / RPEInvalidSize: malformed */
    SX_XRCP_BODY_CTRL_AUTH,    /* RCECtrlAuth: a signature does not verify */
    SX_XRCP_BODY_DUPLICATE,    /* PREDuplicateId: the counter was the last one */
    SX_XRCP_BODY_EARLIER,      /* PREEarlierId: an earlier counter without kept keys */
    SX_XRCP_BODY_MANY_SKIPPED, /* RPEManySkippedIds: more than 256 ahead */
    SX_XRCP_BODY_DECRYPT,      /* RCEDecrypt */
    SX_XRCP_BODY_SESSION_CODE, /* PRESessionCode: not this session's tls-unique */
    SX_XRCP_BODY_NO_FILE,      /* RPENoFile */
} sx_xrcp_body_err;

const char *sx_xrcp_body_err_text(sx_xrcp_body_err e);

typedef struct sx_xrcp_kn {
    uint8_t key[SX_SBCHAIN_KEY_LEN];
    uint8_t nonce[SX_CB_NONCE_LEN];
} sx_xrcp_kn;

typedef struct sx_xrcp_crypto {
    uint8_t code[SX_TLS_UNIQUE_MAX]; /* tls-unique of the session */
    size_t code_len;
    sx_sbchain snd, rcv;
    uint32_t snd_counter, rcv_counter;
    /* kept keys of skipped counters */
    struct {
        uint32_t id;
        sx_xrcp_kn body, file;
    } skipped[SX_XRCP_MAX_SKIP];
    size_t n_skipped;
    /* the controller signs its commands (keys borrowed, not owned) ... */
    const sx_key *sess_priv, *id_priv;
    /* ... and the host checks them */
    bool verify;
    uint8_t sess_pub[SX_XRCP_KEY_LEN], id_pub[SX_XRCP_KEY_LEN];
} sx_xrcp_crypto;

/* Sets up c from the session's code and chains (copied: the caller's are
 * wiped). The controller passes its session and identity private keys; the
 * host passes NULL for both and the invitation's public keys to check. */
SX_MUST_CHECK sx_status sx_xrcp_crypto_init(sx_xrcp_crypto *c, sx_slice code, sx_sbchain *snd, sx_sbchain *rcv,
                                            const sx_key *sess_priv, const sx_key *id_priv,
                                            const sx_xrcp_invitation *verify_inv);
void sx_xrcp_crypto_cleanup(sx_xrcp_crypto *c);

/* Appends the next body: json, and when attachment.ptr is not NULL the
 * attachment. Signed when c has private keys. Writer style; SX_E_LIMIT in w
 * over the bounds above. */
bool sx_xrcp_body_write(sx_writer *w, sx_xrcp_crypto *c, sx_slice json, sx_slice attachment);

/* Reads a body (exactly body.len bytes). On success *json points into
 * json_buf (a heap buffer the caller frees, holding the JSON and the
 * attachment), *has_attachment tells whether one came and *attachment
 * points at it. SX_E_AUTH (CTRL_AUTH, DECRYPT, SESSION_CODE), SX_E_PROTOCOL
 * (the others), SX_E_NOMEM; *why says which. */
SX_MUST_CHECK sx_status sx_xrcp_body_read(sx_xrcp_crypto *c, sx_slice body, uint8_t **json_buf, sx_slice *json,
                                          bool *has_attachment, sx_slice *attachment, sx_xrcp_body_err *why);

/* ---- attachments streamed: the body in pieces ---- */

/* Writes the next body up to the attachment's bytes (as sx_xrcp_body_write
 * does), and when has_att the attachment's header for att_len bytes (at
 * most SX_XRCP_STREAM_MAX) with *att set up: the caller then sends the
 * attachment through sx_xrcp_tailbox_seal, piece by piece, and its tag. */
bool sx_xrcp_body_write_head(sx_writer *w, sx_xrcp_crypto *c, sx_slice json, bool has_att, uint64_t att_len,
                             sx_xrcp_tailbox *att);

/* How many bytes the head of a body (counter, ct and, when c verifies, the
 * two signatures; not the attachment) needs, judged from its first
 * prefix.len bytes: a number above prefix.len means "at least that many,
 * then ask again"; the head's length once prefix holds enough; -1 for a
 * length out of bounds. */
long sx_xrcp_body_head_want(const sx_xrcp_crypto *c, sx_slice prefix);

/* Reads a head of exactly head.len bytes: the checks of sx_xrcp_body_read,
 * *json_buf (the caller frees) holding the JSON at *json, and when has_att
 * *att set up to open the attachment that follows (sx_xrcp_tailbox_open,
 * then sx_xrcp_tailbox_verify with its tag). */
SX_MUST_CHECK sx_status sx_xrcp_body_read_head(sx_xrcp_crypto *c, sx_slice head, bool has_att, uint8_t **json_buf,
                                               sx_slice *json, sx_xrcp_tailbox *att, sx_xrcp_body_err *why);

#endif
