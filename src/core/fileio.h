/* Small POSIX file helpers shared by the stores, descriptions and tools:
 * writing a whole buffer to a descriptor and making a rename durable. */
#ifndef SX_CORE_FILEIO_H
#define SX_CORE_FILEIO_H

#include <stddef.h>

#include "simplex/status.h"

/* Writes all n bytes of p to fd, retrying short writes and EINTR.
 * SX_E_IO when write fails or makes no progress. */
SX_MUST_CHECK sx_status sx_fd_write_all(int fd, const void *p, size_t n);

/* Best effort: fsyncs the folder that holds path, so that a rename or a
 * new file in it survives a power loss (some file systems refuse it). */
void sx_fs_sync_parent(const char *path);

#endif
