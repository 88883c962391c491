/* `smp-server database import|export|delete` (see smp_router/pgmigrate.h). */
#ifndef SX_APP_SMP_DB_CMD_H
#define SX_APP_SMP_DB_CMD_H

#include "kit/paths.h"

/* argv[0] is "database". Returns the exit code. */
int smp_cmd_database(const sx_kit_paths *paths, int argc, char **argv);

#endif
