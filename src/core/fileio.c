/* Small POSIX file helpers (see fileio.h). */
#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

sx_status sx_fs_mkdirs(const char *path, mode_t mode, char *failed, size_t cap)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return SX_E_LIMIT;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        struct stat sb;
        if (mkdir(tmp, mode) != 0 && !(errno == EEXIST && stat(tmp, &sb) == 0 && S_ISDIR(sb.st_mode))) {
            int e = errno == EEXIST ? ENOTDIR : errno;
            if (failed && cap)
                snprintf(failed, cap, "%s", tmp);
            errno = e;
            return SX_E_IO;
        }
        tmp[i] = c;
    }
    return SX_OK;
}
