/* XFTP client: send and receive files through SimpleX file routers.
 *
 * Sending encrypts the file with a fresh key, cuts it into chunks, uploads
 * each chunk to a router picked from the list, and writes one description
 * file per recipient (rcv1.xftp, ...) and one for the sender
 * (snd.xftp.private, to delete the file later) into <out_dir>/<name>.xftp/.
 * A recipient description holds the keys to download and decrypt; hand it
 * to the recipient over a secure channel. Receiving downloads every chunk,
 * checks digests and decrypts into a folder; deleting removes the chunks
 * from the routers. The files and texts are those of the reference's
 * `xftp` program, so either side can be the reference's.
 *
 *     const char *servers[] = {"xftp://<fingerprint>@host:443"};
 *     sx_xftp_opts o = {.servers = servers, .server_count = 1, .recipients = 1};
 *     sx_xftp_upload *up;
 *     sx_xftp_send_file("photo.jpg", "out", &o, &up);
 *     ... sx_xftp_upload_recipient(up, 0) is "out/photo.jpg.xftp/rcv1.xftp"
 *     char saved[4096];
 *     sx_xftp_receive_file("out/photo.jpg.xftp/rcv1.xftp", "downloads", &o, saved, sizeof saved);
 *     sx_xftp_delete_file(sx_xftp_upload_sender(up), &o);
 *     sx_xftp_upload_free(up);
 *
 * Calls block until done; chunks of different routers move in parallel on
 * threads of the call's own, which end before it returns. The progress
 * callback may be called from those threads, one call at a time. Errors:
 * the status class, with sx_error_message() saying what failed (the file,
 * the router and its error) and sx_error_code() the XFTP error ("AUTH",
 * "QUOTA", "SIZE", "DIGEST", "CRYPTO", ...) when there is one. Different
 * calls may run on different threads at once. */
#ifndef SIMPLEX_XFTP_H
#define SIMPLEX_XFTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* done / total bytes of the current phase ("Uploaded", "Downloaded"); total
 * is 0 for a phase without a byte count ("Encrypting", "Decrypting"). */
typedef void (*sx_xftp_progress_fn)(void *arg, const char *phase, int64_t done, int64_t total);

/* One line of what a transfer is doing, for a verbose mode (`xftp -v`):
 * the file encrypted, each chunk uploaded, downloaded or deleted and with
 * which router, retries and why. The line has no newline and holds no key
 * or password; it is the caller's to print during the call only. Called
 * from the transfer's threads, one call at a time. */
typedef void (*sx_xftp_log_fn)(void *arg, const char *line);

typedef struct sx_xftp_opts {
    const char *const *servers; /* send: router addresses "xftp://<fingerprint>[:<password>]@<host>[:<port>]" */
    size_t server_count;
    int recipients;               /* send: descriptions to make, 1..255 (0: 1) */
    const char *tmp_dir;          /* temporary files; NULL: $TMPDIR or /tmp */
    int retry;                    /* attempts per network step; 0: 3 */
    int timeout_ms;               /* connect, handshake and each answer; 0: 15000 */
    sx_xftp_progress_fn progress; /* may be NULL */
    void *progress_arg;
    /* May be NULL. The program sets *cancel to non-zero (from a signal
     * handler, say) to stop the call: it stops within a fraction of a
     * second (a name lookup may take longer), removes its temporary files
     * and the partial output (a receive keeps the chunks it downloaded, see
     * sx_xftp_receive_file), and returns SX_E_IO with a message that says
     * it was interrupted. */
    const volatile sig_atomic_t *cancel;
    sx_xftp_log_fn log; /* may be NULL: no lines */
    void *log_arg;
} sx_xftp_opts;

/* The outcome of a send: where its descriptions were written. */
typedef struct sx_xftp_upload sx_xftp_upload;

/* Sends the file at path; its descriptions go under out_dir (NULL: ".").
 * Before anything is encrypted or uploaded the call checks that the file
 * can be read, that out_dir and the temporary folder are folders it can
 * write to, and that the temporary folder has room for the encrypted copy.
 * Errors: SX_E_USAGE (no servers, a bad address, a folder that is missing
 * or not writable), SX_E_IO (files, network, no room), SX_E_LIMIT (a file
 * over 1 GB, router quota), SX_E_AUTH (a router refused), SX_E_PROTOCOL,
 * SX_E_NOMEM. A send that stops after it created chunks (cancel, a network
 * failure) keeps what it did in "<out_dir>/<name>.xftp.part" (0600): the
 * same call again goes on from there (nothing uploaded twice), and refuses
 * (SX_E_USAGE) when the file changed meanwhile; sx_xftp_delete_file of that
 * folder deletes what it uploaded instead. One run at a time: while a send
 * holds that folder (a lock in it), the same send again, and
 * sx_xftp_delete_file of the folder, fail at once with SX_E_USAGE. */
SX_API SX_MUST_CHECK sx_status sx_xftp_send_file(const char *path, const char *out_dir, const sx_xftp_opts *o,
                                                 sx_xftp_upload **out);
/* The sender description's path (to delete the file). */
SX_API const char *sx_xftp_upload_sender(const sx_xftp_upload *u);
SX_API size_t sx_xftp_upload_recipients(const sx_xftp_upload *u);
/* Recipient description i (0-based); NULL when out of range. */
SX_API const char *sx_xftp_upload_recipient(const sx_xftp_upload *u, size_t i);
/* The web link of the first recipient's description, or NULL. */
SX_API const char *sx_xftp_upload_link(const sx_xftp_upload *u);
SX_API void sx_xftp_upload_free(sx_xftp_upload *u);

/* The room sx_xftp_receive_file needs in out_path. */
#define SX_XFTP_OUT_PATH_MAX 4096

/* Receives the file of a recipient description (a description file's path,
 * or a web link "https://host/#...") into the folder dest, under the file's
 * own name (made unique: "name_1.ext", ...). Before anything is downloaded
 * the call checks that dest and the temporary folder exist, can be written
 * to and have room for the file, less the chunks an earlier receive of it
 * kept (SX_E_USAGE, SX_E_IO). The path written
 * goes to out_path (NULL, or cap of at least SX_XFTP_OUT_PATH_MAX bytes).
 * SX_E_AUTH when a digest or the encryption does not check out (nothing is
 * left behind). The description's chunks are acknowledged: it cannot be used
 * again. A receive that stops early (cancelled, a router down, no room)
 * keeps the chunks downloaded so far in the temporary folder, in
 * "xftp_recv_<user id>_<hash of the description>" (0700); a later receive of
 * the same description in the same temporary folder takes those whose size
 * and digest check out and downloads the rest. The folder goes once the file
 * is received, or when the routers refuse the description or send a damaged
 * file. Such folders of this user last used 7 days ago or more are removed
 * when a receive starts, except its own and any a receive is using. Two
 * receives of one description at once: the second is SX_E_USAGE. */
SX_API SX_MUST_CHECK sx_status sx_xftp_receive_file(const char *description, const char *dest,
                                                    const sx_xftp_opts *o, char *out_path, size_t cap);

/* Deletes the file's chunks from the routers with the sender description,
 * or, given the folder "<out_dir>/<name>.xftp.part" of a send that did not
 * finish, the chunks it created so far, and then removes that folder. */
SX_API SX_MUST_CHECK sx_status sx_xftp_delete_file(const char *sender_description, const sx_xftp_opts *o);

/* The summary of a description as `xftp info` prints it, as a new string
 * (release with sx_free). */
SX_API SX_MUST_CHECK sx_status sx_xftp_describe(const char *description, char **text);

/* Frees memory the library returned as a plain buffer. Accepts NULL. */
SX_API void sx_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
