/* Router kit: where a router's files live. Each router program keeps its
 * configuration and its logs in two folders that environment variables may
 * move (PROTOCOL-NOTES H1, H16); the paths are built from them and the
 * program's own file names. */
#ifndef SX_KIT_PATHS_H
#define SX_KIT_PATHS_H

#include "simplex/status.h"

#define SX_KIT_PATH_MAX 1024 /* longest accepted path, including the NUL */

/* Every file a router reads or writes, derived from the two folders. Entries
 * a router has no file for stay empty. */
typedef struct sx_kit_paths {
    char cfg_dir[SX_KIT_PATH_MAX];
    char log_dir[SX_KIT_PATH_MAX];
    char ini[SX_KIT_PATH_MAX];          /* <cfg>/<ini name> */
    char ca_key[SX_KIT_PATH_MAX];       /* <cfg>/ca.key (offline identity key) */
    char ca_crt[SX_KIT_PATH_MAX];       /* <cfg>/ca.crt (identity, fingerprinted) */
    char server_key[SX_KIT_PATH_MAX];   /* <cfg>/server.key */
    char server_crt[SX_KIT_PATH_MAX];   /* <cfg>/server.crt */
    char fingerprint[SX_KIT_PATH_MAX];  /* <cfg>/fingerprint */
    char store_log[SX_KIT_PATH_MAX];    /* <log>/<store log name> */
    char messages_log[SX_KIT_PATH_MAX]; /* <log>/<messages log name> */
    char ntfs_log[SX_KIT_PATH_MAX];     /* <log>/<notifications log name> */
    char messages_dir[SX_KIT_PATH_MAX]; /* <log>/<journal folder name> */
    char stats_daily[SX_KIT_PATH_MAX];  /* <log>/<daily statistics name> */
    char stats_backup[SX_KIT_PATH_MAX]; /* <log>/<statistics backup name> */
    char metrics[SX_KIT_PATH_MAX];      /* <log>/<metrics name> */
} sx_kit_paths;

/* The file names of one kind of router (smp-server, xftp-server); the
 * certificates and fingerprint are named alike for all. NULL: no such file
 * (its path stays empty). */
typedef struct sx_kit_file_names {
    const char *ini, *store_log, *messages_log, *ntfs_log, *messages_dir;
    const char *stats_daily, *stats_backup, *metrics;
} sx_kit_file_names;

/* Fills p from the two folders with names' files. SX_E_LIMIT when a path
 * would not fit, SX_E_USAGE for an empty folder. */
SX_MUST_CHECK sx_status sx_kit_paths_init(sx_kit_paths *p, const char *cfg_dir, const char *log_dir,
                                          const sx_kit_file_names *names);
/* "<path><suffix>" in new memory (free() it); NULL when out of memory. */
char *sx_kit_path_with(const char *path, const char *suffix);

/* The folders from the environment variables when set and not empty,
 * otherwise the defaults. */
SX_MUST_CHECK sx_status sx_kit_paths_from_env(sx_kit_paths *p, const char *cfg_env, const char *cfg_default,
                                              const char *log_env, const char *log_default,
                                              const sx_kit_file_names *names);

#endif
