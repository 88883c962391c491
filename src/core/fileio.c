/* Small POSIX file helpers (see fileio.h). */
#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

sx_status sx_fd_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    SX_ENSURE(b != NULL || n == 0, SX_E_USAGE);
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return SX_E_IO;
        b += k;
        n -= (size_t)k;
    }
    return SX_OK;
}

void sx_fs_sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fsync(fd) != 0) {
        /* refused by some file systems: nothing more to do */
    }
    close(fd);
}
