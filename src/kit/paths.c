/* Router kit: the paths of a router's files from its two folders and its
 * file names (see paths.h). */
#include "kit/paths.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"

/* dir/name, without doubling a trailing slash; an absent name leaves dst
 * empty. */
static bool join(char *dst, const char *dir, const char *name)
{
    if (!name)
        return true;
    size_t dl = strlen(dir);
    const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";
    int n = snprintf(dst, SX_KIT_PATH_MAX, "%s%s%s", dir, sep, name);
    return n > 0 && (size_t)n < SX_KIT_PATH_MAX;
}

sx_status sx_kit_paths_init(sx_kit_paths *p, const char *cfg_dir, const char *log_dir, const sx_kit_file_names *f)
{
    SX_ENSURE(p && f && cfg_dir && log_dir && cfg_dir[0] && log_dir[0], SX_E_USAGE);
    memset(p, 0, sizeof *p);
    bool ok = sx_str_copy(p->cfg_dir, sizeof p->cfg_dir, cfg_dir) &&
              sx_str_copy(p->log_dir, sizeof p->log_dir, log_dir) && join(p->ini, cfg_dir, f->ini) &&
              join(p->ca_key, cfg_dir, "ca.key") && join(p->ca_crt, cfg_dir, "ca.crt") &&
              join(p->server_key, cfg_dir, "server.key") && join(p->server_crt, cfg_dir, "server.crt") &&
              join(p->fingerprint, cfg_dir, "fingerprint") && join(p->store_log, log_dir, f->store_log) &&
              join(p->messages_log, log_dir, f->messages_log) && join(p->ntfs_log, log_dir, f->ntfs_log) &&
              join(p->messages_dir, log_dir, f->messages_dir) &&
              join(p->stats_daily, log_dir, f->stats_daily) &&
              join(p->stats_backup, log_dir, f->stats_backup) && join(p->metrics, log_dir, f->metrics);
    return ok ? SX_OK : SX_E_LIMIT;
}

char *sx_kit_path_with(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    char *p = malloc(a + b + 1);
    if (p) {
        memcpy(p, path, a);
        memcpy(p + a, suffix, b + 1);
    }
    return p;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

sx_status sx_kit_paths_from_env(sx_kit_paths *p, const char *cfg_env, const char *cfg_default, const char *log_env,
                                const char *log_default, const sx_kit_file_names *names)
{
    return sx_kit_paths_init(p, env_or(cfg_env, cfg_default), env_or(log_env, log_default), names);
}
