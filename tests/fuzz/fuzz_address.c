/* Fuzz target: a server address in text form (PROTOCOL-NOTES A28, A29),
 * smp/address.h. The whole input is the address. A refusal must be
 * SX_E_PROTOCOL or SX_E_LIMIT and leave a zeroed struct; a parse must keep
 * every offset inside the text, print back to exactly the input, compare
 * equal to itself, and its public form (no basic auth) must parse to an
 * address that compares equal. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "smp/address.h"

static sx_server_address a, b; /* static: large */
static char buf[SX_SERVER_ADDRESS_MAX + 1];

static void check_part(size_t off, size_t len, size_t size)
{
    if (off > size || len > size - off)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_status st = sx_server_address_parse((const char *)data, size, &a);
    if (st != SX_OK) {
        if (st != SX_E_PROTOCOL && st != SX_E_LIMIT)
            __builtin_trap();
        if (a.text_len != 0 || a.host_count != 0 || a.has_auth || a.key_hash_len != 0)
            __builtin_trap();
        return 0;
    }
    if (size > SX_SERVER_ADDRESS_MAX || a.text_len != size || memcmp(a.text, data, size) != 0 ||
        a.text[size] != '\0' || memchr(data, 0, size) != NULL)
        __builtin_trap();
    if (a.scheme < SX_SERVER_SMP || a.scheme > SX_SERVER_NTF || a.port == 0)
        __builtin_trap();
    if (a.key_hash_len == 0 || a.key_hash_len > SX_SERVER_KEY_HASH_MAX)
        __builtin_trap();
    check_part(a.key_hash_off, a.key_hash_text_len, size);
    if (a.host_count == 0 || a.host_count > SX_SERVER_HOSTS_MAX)
        __builtin_trap();
    for (size_t i = 0; i < a.host_count; i++) {
        check_part(a.host_off[i], a.host_len[i], size);
        /* each host on its own is a valid host of the same kind */
        sx_smp_host_kind kind;
        sx_slice h = sx_slice_of(data + a.host_off[i], a.host_len[i]);
        if (!sx_smp_host_valid(h) || sx_smp_host_match(h, &kind) != h.len ||
            kind != a.host_kind[i])
            __builtin_trap();
        if (sx_server_address_host(&a, i, buf, sizeof buf) != SX_OK || strlen(buf) > h.len)
            __builtin_trap();
    }
    check_part(a.port_off, a.port_len, size);
    if (a.has_auth) {
        check_part(a.auth_off, a.auth_len, size);
        if (a.auth_len == 0 || a.auth_len > SX_SERVER_AUTH_MAX ||
            !sx_smp_basic_auth_valid(sx_slice_of(data + a.auth_off, a.auth_len)))
            __builtin_trap();
    }
    if (sx_server_address_auth(&a, buf, sizeof buf) != SX_OK || strlen(buf) != (a.has_auth ? a.auth_len : 0))
        __builtin_trap();

    /* the text as written, byte for byte */
    size_t n = 0;
    if (sx_server_address_format(&a, true, buf, sizeof buf, &n) != SX_OK || n != size ||
        memcmp(buf, data, size) != 0)
        __builtin_trap();
    if (sx_server_address_compare(&a, &a) != 0)
        __builtin_trap();

    /* the public form parses to the same server */
    if (sx_server_address_format(&a, false, buf, sizeof buf, &n) != SX_OK ||
        sx_server_address_parse(buf, n, &b) != SX_OK)
        __builtin_trap();
    if (b.has_auth || b.scheme != a.scheme || b.port != a.port || b.host_count != a.host_count ||
        b.key_hash_len != a.key_hash_len || memcmp(b.key_hash, a.key_hash, a.key_hash_len) != 0 ||
        memcmp(b.host_kind, a.host_kind, sizeof a.host_kind) != 0 ||
        memcmp(b.host_addr, a.host_addr, sizeof a.host_addr) != 0)
        __builtin_trap();
    if (sx_server_address_compare(&a, &b) != 0 || sx_server_address_compare(&b, &a) != 0)
        __builtin_trap();
    return 0;
}
