/* Small POSIX file helpers shared by the stores, descriptions and tools:
 * writing a whole buffer to a descriptor, making a rename durable, and
 * creating a folder with its parents. */
#ifndef SX_CORE_FILEIO_H
#define SX_CORE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "simplex/status.h"

/* Writes all n bytes of p to fd, retrying short writes and EINTR.
 * SX_E_IO when write fails or makes no progress. */
SX_MUST_CHECK sx_status sx_fd_write_all(int fd, const void *p, size_t n);

/* Best effort: fsyncs the folder that holds path, so that a rename or a
 * new file in it survives a power loss (some file systems refuse it). */
void sx_fs_sync_parent(const char *path);

/* mkdir -p: creates path and every missing parent with mode (less the
 * umask); folders that exist are fine. On failure (SX_E_IO, errno set;
 * SX_E_LIMIT when path is longer than 4095 bytes) the folder that could not
 * be made is copied into failed (cap bytes, may be NULL). */
SX_MUST_CHECK sx_status sx_fs_mkdirs(const char *path, mode_t mode, char *failed, size_t cap);

#endif
