/* SMP error values (PROTOCOL-NOTES C20, D39-D42): the ErrorType tree carried
 * by ERR, with its CMD, PROXY (nested PROTOCOL / BROKER / TRANSPORT /
 * NETWORK) and BLOCKED (BlockingInfo with the v18 client notice) forms,
 * encoded and decoded exactly as the reference's binary encoding does.
 * Decoded values hold views into the caller's buffer. */
#ifndef SX_SMP_ERROR_H
#define SX_SMP_ERROR_H

#include "core/reader.h"
#include "core/writer.h"

typedef enum sx_smp_err_type {
    SX_SMP_ERR_BLOCK = 1,
    SX_SMP_ERR_SESSION,
    SX_SMP_ERR_CMD,
    SX_SMP_ERR_PROXY,
    SX_SMP_ERR_AUTH,
    SX_SMP_ERR_BLOCKED,
    SX_SMP_ERR_SERVICE,
    SX_SMP_ERR_CRYPTO,
    SX_SMP_ERR_QUOTA,
    SX_SMP_ERR_STORE,
    SX_SMP_ERR_NO_MSG,
    SX_SMP_ERR_LARGE_MSG,
    SX_SMP_ERR_EXPIRED,
    SX_SMP_ERR_INTERNAL,
    SX_SMP_ERR_DUPLICATE, /* "DUPLICATE_": in the type, never sent by routers */
} sx_smp_err_type;

typedef enum sx_smp_cmd_err {
    SX_SMP_CMD_UNKNOWN = 1,
    SX_SMP_CMD_SYNTAX,
    SX_SMP_CMD_PROHIBITED,
    SX_SMP_CMD_NO_AUTH,
    SX_SMP_CMD_HAS_AUTH,
    SX_SMP_CMD_NO_ENTITY, /* decoders also accept the legacy "NO_QUEUE" */
} sx_smp_cmd_err;

typedef enum sx_smp_proxy_err {
    SX_SMP_PROXY_PROTOCOL = 1, /* the relay's own ERR, nested */
    SX_SMP_PROXY_BROKER,
    SX_SMP_PROXY_BASIC_AUTH,
    SX_SMP_PROXY_NO_SESSION,
} sx_smp_proxy_err;

typedef enum sx_smp_broker_err {
    SX_SMP_BROKER_RESPONSE = 1, /* with text */
    SX_SMP_BROKER_UNEXPECTED,   /* with text */
    SX_SMP_BROKER_TRANSPORT,
    SX_SMP_BROKER_NETWORK,
    SX_SMP_BROKER_TIMEOUT,
    SX_SMP_BROKER_HOST,
    SX_SMP_BROKER_NO_SERVICE,
} sx_smp_broker_err;

/* PROTOCOL-NOTES C20 TransportError. */
typedef enum sx_smp_transport_err {
    SX_SMP_TE_BLOCK = 1,
    SX_SMP_TE_VERSION,
    SX_SMP_TE_LARGE_MSG,
    SX_SMP_TE_SESSION,
    SX_SMP_TE_NO_AUTH,
    SX_SMP_TE_HANDSHAKE,
} sx_smp_transport_err;

typedef enum sx_smp_handshake_err {
    SX_SMP_HS_PARSE = 1,
    SX_SMP_HS_IDENTITY,
    SX_SMP_HS_BAD_AUTH,
    SX_SMP_HS_BAD_SERVICE,
} sx_smp_handshake_err;

/* Detail of NETWORK: never sent (encoders write a bare NETWORK), but
 * decoders accept it. SX_SMP_NET_FAILED when absent. */
typedef enum sx_smp_network_err {
    SX_SMP_NET_CONNECT = 1, /* with text */
    SX_SMP_NET_TLS,         /* with text */
    SX_SMP_NET_UNKNOWN_CA,
    SX_SMP_NET_FAILED,
    SX_SMP_NET_TIMEOUT,
    SX_SMP_NET_SUBSCRIBE, /* with text */
} sx_smp_network_err;

typedef enum sx_smp_block_reason {
    SX_SMP_BLOCK_SPAM = 1,
    SX_SMP_BLOCK_CONTENT,
} sx_smp_block_reason;

/* BlockingInfo: reason, and (v >= 18) an optional client notice, whose only
 * field is an optional time to live in seconds. */
typedef struct sx_smp_blocking_info {
    sx_smp_block_reason reason;
    bool has_notice;
    bool has_ttl;
    int64_t ttl;
} sx_smp_blocking_info;

typedef struct sx_smp_error {
    sx_smp_err_type type;
    sx_smp_cmd_err cmd; /* CMD */
    struct {
        sx_smp_proxy_err kind;
        /* PROTOCOL: the relay's error in its binary encoding, checked when
         * decoded; decode it again with sx_smp_error_decode. */
        sx_slice inner;
        sx_smp_broker_err broker;
        sx_slice text; /* RESPONSE / UNEXPECTED text, and NETWORK detail text */
        sx_smp_transport_err transport;
        sx_smp_handshake_err handshake;
        sx_smp_network_err network;
    } proxy;
    sx_smp_blocking_info blocked; /* BLOCKED */
    sx_slice store;               /* STORE: UTF-8 text (not checked, as in the reference) */
} sx_smp_error;

/* Convenience constructors. */
static inline sx_smp_error sx_smp_error_of(sx_smp_err_type t)
{
    sx_smp_error e = {0};
    e.type = t;
    return e;
}
static inline sx_smp_error sx_smp_error_cmd(sx_smp_cmd_err c)
{
    sx_smp_error e = {0};
    e.type = SX_SMP_ERR_CMD;
    e.cmd = c;
    return e;
}

/* Appends the encoding of e as a router at version v sends it (PROTOCOL-NOTES
 * D41): BLOCKED becomes AUTH before v12 and loses its notice before v18; the
 * nested error of PROXY PROTOCOL is written as given. SX_E_USAGE in w for an
 * invalid value (unknown enum, text over 255 bytes for shortString fields). */
bool sx_smp_error_write(sx_writer *w, uint16_t v, const sx_smp_error *e);
/* Reads an ErrorType that extends to the end of r's data (ERR's parameter);
 * r is failed with SX_E_PROTOCOL on anything the reference would refuse,
 * including a nested PROXY PROTOCOL error that does not decode. */
bool sx_smp_error_read(sx_reader *r, sx_smp_error *out);
/* The same over a whole slice. SX_E_PROTOCOL on failure. */
SX_MUST_CHECK sx_status sx_smp_error_decode(sx_slice s, sx_smp_error *out);

/* BlockingInfo text form (also the store log and control port form):
 * "reason=spam|content" [",notice=" JSON], JSON = {} or {"ttl":N}.
 * The reader consumes the rest of its data. The decoder accepts JSON
 * whitespace and "ttl":null but, unlike the reference's JSON library, no
 * other keys. */
bool sx_smp_blocking_info_write(sx_writer *w, const sx_smp_blocking_info *b);
bool sx_smp_blocking_info_read(sx_reader *r, sx_smp_blocking_info *out);

/* PROTOCOL-NOTES C20 TransportError text (as inside ERR PROXY BROKER
 * TRANSPORT). */
bool sx_smp_transport_err_write(sx_writer *w, sx_smp_transport_err te, sx_smp_handshake_err hs);
bool sx_smp_transport_err_read(sx_reader *r, sx_smp_transport_err *te, sx_smp_handshake_err *hs);

/* Text name of the top-level type ("AUTH", "CMD", ...), for logs. */
const char *sx_smp_err_name(sx_smp_err_type t);

#endif
