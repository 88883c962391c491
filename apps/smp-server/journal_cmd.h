/* `smp-server journal import|export|delete` (see smp_router/jmigrate.h). */
#ifndef SX_APP_SMP_JOURNAL_CMD_H
#define SX_APP_SMP_JOURNAL_CMD_H

#include "kit/paths.h"

/* argv[0] is "journal". Returns the exit code. */
int smp_cmd_journal(const sx_kit_paths *paths, int argc, char **argv);

#endif
