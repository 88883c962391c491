/* Lines of the XFTP router's store log (PROTOCOL-NOTES F27; reference
 * FileTransfer/Server/StoreLog.hs at 152c30ca68): parsing and encoding of
 * FNEW / FPUT / FADD / FDEL / FBLK / FACK in the reference's text form, so
 * that file-server-store.log moves between the reference and us. Used by
 * fstore.c; separate so that tests and the fuzzer reach the parser.
 *
 * Text forms: ids, keys (DER SubjectPublicKeyInfo) and digests are base64url
 * (padded on output, padding optional on input); numbers are decimal; the
 * FPUT path is the base64url of the path's bytes; FADD items are
 * "<rId>:<key>" joined by ','; the FNEW status is "active", "off" or
 * "blocked,<BlockingInfo>" (optional on input, "active" when absent). */
#ifndef SX_XFTP_FLOG_H
#define SX_XFTP_FLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "xftp/protocol.h"

/* What the records carry, shared with the file store (fstore.h). */
#define SX_XFTP_DIGEST_MAX 255       /* FNEW digest (shortString, length not checked) */
#define SX_XFTP_MAX_RECIPIENTS 1024  /* recipient ids of one file we accept */

typedef enum sx_xftp_fstatus {
    SX_XFTP_FILE_ACTIVE = 0,
    SX_XFTP_FILE_BLOCKED, /* FBLK: data deleted, requests get ERR BLOCKED */
    SX_XFTP_FILE_OFF,     /* "off" in a reference log (never written by its router): requests get ERR AUTH */
} sx_xftp_fstatus;

/* A recipient's auth key, as found with its recipient id. */
typedef struct sx_xftp_rkey {
    uint8_t key[SX_KEY_SPKI_MAX];
    size_t key_len;
    sx_key_alg alg;
} sx_xftp_rkey;

#define SX_XFTP_FLOG_PATH_MAX 4096   /* FPUT path bytes we accept (no NUL inside) */
#define SX_XFTP_FLOG_LINE_MAX (1u << 20)

typedef enum sx_xftp_flog_type {
    SX_XFTP_FLOG_FNEW = 1, /* FNEW <sId> <sndKey> <size> <digest> <createdAt>[ <status>] */
    SX_XFTP_FLOG_FPUT,     /* FPUT <sId> <base64url(path)> */
    SX_XFTP_FLOG_FADD,     /* FADD <sId> <rId>:<rKey>[,<rId>:<rKey>...] */
    SX_XFTP_FLOG_FDEL,     /* FDEL <sId> */
    SX_XFTP_FLOG_FBLK,     /* FBLK <sId> <BlockingInfo> */
    SX_XFTP_FLOG_FACK,     /* FACK <rId> */
} sx_xftp_flog_type;

typedef struct sx_xftp_flog_rcp {
    uint8_t id[SX_XFTP_FILE_ID_LEN];
    sx_xftp_rkey key;
} sx_xftp_flog_rcp;

/* One record. id is the sender id (the recipient id for FACK). FNEW uses
 * snd_key..status/blocked; FPUT path (NUL-terminated); FADD rcps; FBLK
 * blocked. */
typedef struct sx_xftp_flog_rec {
    sx_xftp_flog_type type;
    uint8_t id[SX_XFTP_FILE_ID_LEN];
    uint8_t snd_key[SX_KEY_SPKI_MAX];
    size_t snd_key_len;
    sx_key_alg snd_alg;
    uint32_t size;
    uint8_t digest[SX_XFTP_DIGEST_MAX];
    size_t digest_len;
    int64_t created_at;
    sx_xftp_fstatus status;
    sx_smp_blocking_info blocked;
    char *path;             /* FPUT; heap (parsed) or borrowed (encode) */
    sx_xftp_flog_rcp *rcps; /* FADD; heap (parsed) or borrowed (encode) */
    size_t n_rcps;
    bool owned;             /* parsed: path and rcps are freed by cleanup */
} sx_xftp_flog_rec;

/* Parses one line (no '\n') by the grammar of the reference's parser. Ids
 * must be SX_XFTP_FILE_ID_LEN bytes, keys Ed25519/Ed448/X25519 SPKI, the
 * digest 1..SX_XFTP_DIGEST_MAX bytes, at most SX_XFTP_MAX_RECIPIENTS items
 * in FADD. On success release out with sx_xftp_flog_cleanup. Errors:
 * SX_E_PROTOCOL (malformed), SX_E_LIMIT (over one of our bounds),
 * SX_E_NOMEM. Never reads outside line. */
SX_MUST_CHECK sx_status sx_xftp_flog_parse(sx_slice line, sx_xftp_flog_rec *out);
void sx_xftp_flog_cleanup(sx_xftp_flog_rec *r);
/* Appends the text the reference writes for r (no '\n'). Writer style:
 * false with w failed (SX_E_USAGE for a record that cannot be encoded, such
 * as FADD without recipients or an empty digest). */
bool sx_xftp_flog_encode(sx_writer *w, const sx_xftp_flog_rec *r);

#endif
