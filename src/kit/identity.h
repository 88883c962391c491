/* Router kit: a router's identity on disk and the folders that hold it. The
 * part of `init` every router shares (empty and create both folders, the CA
 * and server keys and certificates, the fingerprint file; PROTOCOL-NOTES H3,
 * H5, H6), `cert` (PROTOCOL-NOTES H13), `delete` (PROTOCOL-NOTES H14), and the
 * stored-fingerprint check of `start`. */
#ifndef SX_KIT_IDENTITY_H
#define SX_KIT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/x509.h"
#include "kit/paths.h"
#include "kit/report.h"
#include "simplex/status.h"

/* Empties and creates both folders of paths, creates ca.key/ca.crt/
 * server.key/server.crt (keys mode 0600) with algorithm alg and server
 * certificate CN cn, and the fingerprint file (base64url + "\n"); only the
 * cfg_dir, log_dir, ca_*, server_* and fingerprint paths are used. fp
 * receives the CA fingerprint. Errors: SX_E_IO (files), SX_E_LIMIT,
 * SX_E_INTERNAL / SX_E_NOMEM; err names what failed. */
SX_MUST_CHECK sx_status sx_kit_setup_identity(const sx_kit_paths *paths, sx_key_alg alg, const char *cn,
                                              uint8_t fp[SX_FINGERPRINT_LEN], char *err, size_t errlen);

/* Writes text to path (mode 0666 less the umask, synced), as `init` writes
 * the fingerprint file. SX_E_IO with the path in err. */
SX_MUST_CHECK sx_status sx_kit_write_text(const char *path, const char *text, char *err, size_t errlen);
/* The same for a file that holds secrets (the INI file, with the control
 * port's passwords and the create password): mode 0600 whatever the umask,
 * also when path existed with a wider mode. The reference writes its INI
 * files 0666 less the umask. */
SX_MUST_CHECK sx_status sx_kit_write_secret_text(const char *path, const char *text, char *err, size_t errlen);

/* At start: the files of paths that hold secrets (the INI file, ca.key and
 * server.key, the store, messages and notifications logs and every file
 * named after one of them with a '.' suffix: backups, .bak, .start, .tmp,
 * .sum) lose their group and other permission bits when they have any, as
 * files written by an older version or by the reference may. Each change,
 * or a failure to make it, is reported through warn (NULL: stderr).
 * Returns the number of files changed. */
size_t sx_kit_secure_files(const sx_kit_paths *paths, sx_kit_warn_cb warn, void *warn_arg);

/* PROTOCOL-NOTES H14: removes both folders with everything in them (absent ones
 * are fine). SX_E_IO with the failing path in err. */
SX_MUST_CHECK sx_status sx_kit_setup_delete(const sx_kit_paths *paths, char *err, size_t errlen);

/* PROTOCOL-NOTES H13 `cert`: a new online key and certificate (server.key,
 * server.crt) signed with the existing CA key, so the fingerprint does not
 * change. alg (SX_KEY_ED25519 / SX_KEY_ED448) and cn default, when has_alg is
 * false or cn is NULL, to those of the current server.crt. Errors name the
 * file: SX_E_IO (missing or unwritable), SX_E_PROTOCOL (unreadable),
 * SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_kit_setup_cert(const sx_kit_paths *paths, bool has_alg, sx_key_alg alg, const char *cn,
                                          char *err, size_t errlen);

/* PROTOCOL-NOTES H6: reads the first line of the fingerprint file and compares
 * it with the fingerprint of ca.crt. SX_E_IO if either file cannot be read,
 * SX_E_AUTH with "Stored fingerprint is invalid." on a mismatch. fp receives
 * the computed fingerprint. */
SX_MUST_CHECK sx_status sx_kit_check_fingerprint(const sx_kit_paths *paths, uint8_t fp[SX_FINGERPRINT_LEN],
                                                 char *err, size_t errlen);

#endif
