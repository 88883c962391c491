/* Router kit: the checksums of a store log, kept beside it in "<log>.sum".
 *
 * The reference reads its store logs with strDecode, that is parseAll: a
 * line with anything after its last field does not parse and is dropped
 * (reference Server/StoreLog/ReadWrite.hs at 152c30ca68, readQueueStore;
 * reference FileTransfer/Server/StoreLog.hs at 152c30ca68, readFileStore),
 * and so is a line of any other form, with an error printed for each. No
 * checksum fits inside the log the reference reads, so it lives in a file of
 * its own that the reference never opens (nor its backup pruning, which
 * takes only "<log>.<time>" names), and the log stays byte for byte what the
 * reference writes.
 *
 * The file is text. Its first line names the log it belongs to,
 *     sxlogsum 1 ino=<hex> born=<hex seconds>.<hex nanoseconds> from=<hex>
 * (the log's inode and birth time, 0.0 where the file system keeps none,
 * and the offset of the first line it covers: 0 for a log created or
 * rewritten at start), then one line per log line written,
 *     <offset: 16 hex> <length with the '\n': 8 hex> <CRC-32C of the line without its '\n': 8 hex>
 * appended before the log line itself is written, both under the log's
 * mutex (kit/logfile.c). At the next start each log line is checked against
 * the entry at its offset: a line whose length or checksum differs, or that
 * starts inside the range of an earlier entry (a '\n' written into a
 * record), is damaged: reported with its line number and skipped. A line
 * with no entry (after the last one: entries lost with the page cache in a
 * power cut, the log synced and the sum file not; or a sum file damaged
 * itself) is restored unchecked and counted in a report. A sum file of
 * another log (another inode or birth time: the log was rewritten by the
 * reference, restored from .start, copied or replaced) is not used, and
 * said so. On a file system without birth times only the inode tells, and
 * an inode number can be reused once its file is deleted: the start-up
 * sequence removes the sum file itself when it restores the log from
 * .start (kit/logstart.c). */
#ifndef SX_KIT_LOGSUM_H
#define SX_KIT_LOGSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kit/report.h"
#include "simplex/status.h"

#define SX_KIT_LOGSUM_ENTRY_LEN 35 /* "%016x %08x %08x\n" */

/* CRC-32C (Castagnoli) of p, continuing from crc (0 to start): with the
 * CPU's crc32 instruction where it has one (SSE 4.2). */
uint32_t sx_kit_crc32c(uint32_t crc, const uint8_t *p, size_t n);
/* The same, a byte at a time from a table, whatever the CPU (for tests). */
uint32_t sx_kit_crc32c_bytewise(uint32_t crc, const uint8_t *p, size_t n);

/* ---- writing ---- */

/* Creates (or truncates) "<log_path>.sum", mode 0600, with the header for
 * the log open on log_fd whose lines from offset from on it will cover.
 * *fd receives its descriptor (O_APPEND). SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_logsum_create(const char *log_path, int log_fd, uint64_t from, int *fd);
/* The number of entries buf[0..len) gives: its '\n's. */
size_t sx_kit_logsum_lines(const uint8_t *buf, size_t len);
/* Appends with one write the entries of the whole lines in buf[0..len),
 * which start at offset off of the log. SX_E_IO. */
SX_MUST_CHECK sx_status sx_kit_logsum_append(int fd, uint64_t off, const uint8_t *buf, size_t len);

/* Opens the existing "<log_path>.sum" for appending, for a log of log_size
 * bytes that was just read with it (every line checked good): *fd only when
 * its last entry ends exactly at log_size, so that new entries follow on.
 * SX_E_IO otherwise (no sum file, an entry past the end of the log: one
 * written before a crash cut its line), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_kit_logsum_reopen(const char *log_path, uint64_t log_size, int *fd);

/* ---- checking ---- */

typedef enum sx_kit_logsum_verdict {
    SX_KIT_LOGSUM_GOOD,      /* the entry at its offset matches */
    SX_KIT_LOGSUM_DAMAGED,   /* its entry differs, or it starts inside an earlier record */
    SX_KIT_LOGSUM_UNCHECKED, /* no entry for it */
} sx_kit_logsum_verdict;

typedef struct sx_kit_logsum_check sx_kit_logsum_check;

/* Loads "<log_path>.sum" for the log open on log_fd. *out is NULL when
 * there is none, or it is not this log's (both reported through warn with
 * the log's name), or it has no header. Entry lines that do not parse are
 * counted and left out (reported). SX_E_NOMEM, SX_E_IO (unreadable). */
SX_MUST_CHECK sx_status sx_kit_logsum_load(const char *log_path, int log_fd, sx_kit_warn_cb warn, void *warn_arg,
                                           sx_kit_logsum_check **out);
/* The verdict for the line at offset off, of length len without its '\n'
 * (has_nl: it had one), with CRC-32C crc. Lines must be given in the
 * order of the file. */
sx_kit_logsum_verdict sx_kit_logsum_verify(sx_kit_logsum_check *c, uint64_t off, size_t len, bool has_nl,
                                           uint32_t crc);
void sx_kit_logsum_free(sx_kit_logsum_check *c);

#endif
