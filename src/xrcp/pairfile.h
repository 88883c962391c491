/* XRCP pairing files (PROTOCOL-NOTES X10): what a controller or a host keeps
 * between sessions (pairing.h), in our own binary format. A file is read as
 * untrusted input: every length is bounded, the CA key must be the CA
 * certificate's, keys must decode, nothing may follow the record.
 *
 *   file       = "XRCP" version kind record          ; version 1
 *   kind       = "C" (controller) / "H" (host)
 *   controller = caKey caCert idKey paired [hostFp hostDh]
 *   host       = caKey caCert paired [ctrlFp ctrlIdKey] dh prevDh
 *   caKey, idKey = 32 bytes (Ed25519 private seed)
 *   caCert     = Large(DER certificate)              ; 2-byte length
 *   paired     = %x00 / %x01
 *   hostFp, ctrlFp = 32 bytes (SHA-256 of a CA certificate)
 *   hostDh, ctrlIdKey = 32 bytes (raw public keys)
 *   dh, prevDh = %x00 / %x01 32 bytes (X25519 private key)
 *
 * The file holds private keys: written with mode 0600 through a temporary
 * file and a rename. */
#ifndef SX_XRCP_PAIRFILE_H
#define SX_XRCP_PAIRFILE_H
#include "core/reader.h"
#include "core/writer.h"
#include "xrcp/pairing.h"

#define SX_XRCP_PAIRFILE_VERSION 1
#define SX_XRCP_PAIRFILE_MAX 4096 /* a file larger than this is refused */

/* Writer style. */
bool sx_xrcp_ctrl_pairing_write(sx_writer *w, const sx_xrcp_ctrl_pairing *p);
bool sx_xrcp_host_pairing_write(sx_writer *w, const sx_xrcp_host_pairing *p);

/* Reads exactly in.len bytes into *out (cleared on failure). SX_E_PROTOCOL
 * for anything malformed (SX_E_LIMIT: a length over its bound), SX_E_AUTH
 * for a CA key that is not the certificate's, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_pairing_read(sx_slice in, sx_xrcp_ctrl_pairing *out);
SX_MUST_CHECK sx_status sx_xrcp_host_pairing_read(sx_slice in, sx_xrcp_host_pairing *out);

/* Files: save replaces path (mode 0600); load reads it (SX_E_IO when
 * missing or unreadable, SX_E_LIMIT when larger than the bound). */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_pairing_save(const char *path, const sx_xrcp_ctrl_pairing *p);
SX_MUST_CHECK sx_status sx_xrcp_ctrl_pairing_load(const char *path, sx_xrcp_ctrl_pairing *out);
SX_MUST_CHECK sx_status sx_xrcp_host_pairing_save(const char *path, const sx_xrcp_host_pairing *p);
SX_MUST_CHECK sx_status sx_xrcp_host_pairing_load(const char *path, sx_xrcp_host_pairing *out);

#endif
