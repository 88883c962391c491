/* Pending notifications of the SMP router (PROTOCOL-NOTES E28),
 * smp-server-ntfs.log: written at shutdown, read back at the next start.
 * Lines are "v1 <nId> <msgId> <ts> <nonce> <encMeta>". */
#ifndef SX_ROUTER_NTFLOG_H
#define SX_ROUTER_NTFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/writer.h"
#include "smp_router/msglog.h"
#include "smp_router/store.h"
#include "simplex/status.h"

#define SX_NTFLOG_FILE "smp-server-ntfs.log" /* PROTOCOL-NOTES E28 */
#define SX_NTF_NONCE_LEN 24
#define SX_NTF_META_MAX 4096 /* encrypted notification metadata (144 in practice) */

typedef struct sx_ntfrec {
    uint8_t nid[SX_ID_LEN];
    uint8_t msg_id[SX_ID_LEN];
    int64_t ts;
    uint8_t nonce[SX_NTF_NONCE_LEN];
    sx_slice meta;  /* encrypted metadata, 1..SX_NTF_META_MAX bytes */
    uint8_t *arena; /* parsed records and list entries: what meta points into */
} sx_ntfrec;

/* Parses a notification line. The nonce is padded with zeros or cut to 24
 * bytes, as the reference does. Release with sx_ntfrec_cleanup on success.
 * SX_E_PROTOCOL, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntfrec_parse(sx_slice line, sx_ntfrec *out);
void sx_ntfrec_cleanup(sx_ntfrec *n);
bool sx_ntfrec_encode(sx_writer *w, const sx_ntfrec *n);

/* A plain list of pending notifications in chronological order (the router
 * will own a proper store later). Not thread-safe. */
typedef struct sx_ntf_list {
    sx_ntfrec *items;
    size_t n, cap;
} sx_ntf_list;

void sx_ntf_list_init(sx_ntf_list *l);
void sx_ntf_list_cleanup(sx_ntf_list *l);
/* Appends a copy of n (its meta is copied into memory the list owns).
 * SX_E_LIMIT (meta empty or too long), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_list_add(sx_ntf_list *l, const sx_ntfrec *n);

/* Writes the list in its order (through "<path>.tmp", synced, renamed). */
SX_MUST_CHECK sx_status sx_ntflog_save(const char *path, const sx_ntf_list *l);
/* Appends the notifications of path to l, dropping those older than
 * opts->expire_before when opts->expire, then renames path to "<path>.bak".
 * Any parse error stops with SX_E_PROTOCOL and the file is kept (PROTOCOL-NOTES
 * E28). A missing file is SX_OK. stats (stored, expired) may be NULL. */
SX_MUST_CHECK sx_status sx_ntflog_restore(const char *path, const sx_msglog_opts *opts, sx_ntf_list *l,
                                          sx_msglog_stats *stats);

#endif
