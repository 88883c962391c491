/* Lines of the NTF store log (ntf-server-store.log), in the reference's
 * text format: the records of Notifications/Server/StoreLog.hs as the
 * reference last had them (it dropped the store log for PostgreSQL in
 * 11ae20ea2, before 152c30ca68) and the NtfTknRec / NtfSubRec text of
 * Notifications/Server/Store/Types.hs, still at 152c30ca68:
 *
 *   TCREATE tknId=<b64> token=<provider> <hex> tokenStatus=<status>
 *           verifyKey=<b64 SPKI> dhKeys=<b64 SPKI> <b64 PKCS#8>
 *           dhSecret=<b64> regCode=<b64> cron=<n> [updatedAt=<seconds>]
 *   TSTATUS <tknId> <status>          TUPDATE <tknId> <provider> <hex> <regCode>
 *   TCRON <tknId> <n>                 TDELETE <tknId>
 *   TTIME <tknId> <seconds>
 *   SCREATE subId=<b64> smpQueue=<smp address>/<b64 notifierId>
 *           notifierKey=<b64 PKCS#8> tknId=<b64> subStatus=<status>
 *           [serviceAssoc=T|F]
 *   SSTATUS <subId> <status>[ service=T]   SDELETE <subId>
 *   SERVICE <smp address> service=off|<b64 service id>
 *
 * (base64url with padding, PROTOCOL-NOTES A23, A24). As in the reference, a
 * subscription status "ERR <text>" takes the rest of the line, so whatever
 * follows it (serviceAssoc=, service=) is read as part of the text; the
 * writer therefore writes nothing after an ERR status.
 * Decoded records own their bytes (fixed buffers); nothing allocates. */
#ifndef SX_NTF_ROUTER_SLREC_H
#define SX_NTF_ROUTER_SLREC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/reader.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "ntf/protocol.h"
#include "smp/address.h"

#define SX_NTF_SL_BYTES_MAX 255 /* ids, tokens, codes: shortStrings on the wire */
#define SX_NTF_SL_DH_SECRET_LEN 32

/* A byte string with its own storage. */
typedef struct sx_ntf_sl_bytes {
    uint8_t b[SX_NTF_SL_BYTES_MAX];
    size_t len;
} sx_ntf_sl_bytes;

static inline sx_slice sx_ntf_sl_slice(const sx_ntf_sl_bytes *b)
{
    return sx_slice_of(b->b, b->len);
}
/* Copies s (at most 255 bytes; SX_E_LIMIT otherwise). */
SX_MUST_CHECK sx_status sx_ntf_sl_bytes_set(sx_ntf_sl_bytes *b, sx_slice s);

/* DeviceToken in text: "<provider text> <lower-case hex>" (the hex may be
 * empty), or the reference's "apns_null test_ntf_token". */
typedef struct sx_ntf_sl_token {
    sx_ntf_provider provider;
    sx_ntf_sl_bytes token; /* the hex text as the device sent it */
} sx_ntf_sl_token;

typedef struct sx_ntf_tkn_rec {
    sx_ntf_sl_bytes id;
    sx_ntf_sl_token token;
    sx_ntf_tkn_state status;
    uint8_t verify_key[SX_KEY_SPKI_MAX]; /* DER, Ed25519 / Ed448 / X25519 */
    size_t verify_key_len;
    uint8_t dh_pub[SX_KEY_SPKI_MAX]; /* X25519 SPKI */
    size_t dh_pub_len;
    uint8_t dh_priv[SX_KEY_PKCS8_MAX]; /* X25519 PKCS#8 */
    size_t dh_priv_len;
    uint8_t dh_secret[SX_NTF_SL_DH_SECRET_LEN];
    sx_ntf_sl_bytes reg_code;
    uint16_t cron;
    bool has_updated_at;
    int64_t updated_at; /* seconds, rounded to the day by the writer */
    /* In memory only (not a store log field): when the last periodic push
     * was delivered, 0 before the first. */
    int64_t cron_sent_at;
} sx_ntf_tkn_rec;

typedef struct sx_ntf_sub_rec {
    sx_ntf_sl_bytes id;
    sx_server_address server; /* smp:// */
    sx_ntf_sl_bytes notifier_id;
    uint8_t notifier_key[SX_KEY_PKCS8_MAX]; /* PKCS#8 */
    size_t notifier_key_len;
    sx_ntf_sl_bytes token_id;
    sx_ntf_sub_status status;
    sx_ntf_sl_bytes status_err; /* ERR text; it may hold what followed it */
    bool service_assoc;
} sx_ntf_sub_rec;

typedef enum sx_ntf_sl_kind {
    SX_NTF_SL_TCREATE = 1,
    SX_NTF_SL_TSTATUS,
    SX_NTF_SL_TUPDATE,
    SX_NTF_SL_TCRON,
    SX_NTF_SL_TDELETE,
    SX_NTF_SL_TTIME,
    SX_NTF_SL_SCREATE,
    SX_NTF_SL_SSTATUS,
    SX_NTF_SL_SDELETE,
    SX_NTF_SL_SERVICE,
} sx_ntf_sl_kind;

typedef struct sx_ntf_sl_rec {
    sx_ntf_sl_kind kind;
    sx_ntf_sl_bytes id; /* the token or subscription id of the short records */
    union {
        sx_ntf_tkn_rec tkn;          /* TCREATE */
        sx_ntf_sub_rec sub;          /* SCREATE */
        sx_ntf_tkn_state tkn_status; /* TSTATUS */
        struct {                     /* TUPDATE */
            sx_ntf_sl_token token;
            sx_ntf_sl_bytes reg_code;
        } update;
        uint16_t cron; /* TCRON */
        int64_t time;  /* TTIME */
        struct {       /* SSTATUS */
            sx_ntf_sub_status status;
            sx_ntf_sl_bytes err;
            bool service_assoc;
        } sub_status;
        struct { /* SERVICE */
            sx_server_address server;
            bool has_service_id;
            sx_ntf_sl_bytes service_id;
        } service;
    };
} sx_ntf_sl_rec;

/* One line without its newline. SX_E_PROTOCOL for anything the reference
 * would not read (it skips such a line with an error message); SX_E_LIMIT
 * for a field over its buffer. */
SX_MUST_CHECK sx_status sx_ntf_sl_parse(sx_slice line, sx_ntf_sl_rec *out);
/* Appends the line for r (no newline). SX_E_USAGE in w for an invalid
 * value. */
bool sx_ntf_sl_write(sx_writer *w, const sx_ntf_sl_rec *r);

/* A line of ntf-server-last-notifications.log, the reference's
 * TokenNtfMessageRecord (TNMRv1, Notifications/Server/Store.hs before it
 * moved to PostgreSQL): "v1 <b64 token id> <PNMessageData>", the message
 * data as in a push payload (PROTOCOL-NOTES G22): "<smp address>/<b64
 * notifier id> <ts> <b64 nonce> <b64 meta>". */
#define SX_NTF_SL_META_MAX 256
typedef struct sx_ntf_sl_last {
    sx_ntf_sl_bytes token_id;
    sx_server_address server;
    sx_ntf_sl_bytes notifier_id;
    int64_t ts;
    uint8_t nonce[24];
    uint8_t meta[SX_NTF_SL_META_MAX];
    size_t meta_len;
} sx_ntf_sl_last;
/* SX_E_PROTOCOL for a line that does not read (a nonce of another length,
 * trailing text), SX_E_LIMIT for a field over its buffer. */
SX_MUST_CHECK sx_status sx_ntf_sl_last_parse(sx_slice line, sx_ntf_sl_last *out);

#endif
