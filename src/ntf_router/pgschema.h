/* The NTF router's PostgreSQL schema: the reference's NTF migrations (names
 * and order as its migrations table records them), each as SQL of ours
 * giving the same schema (pgschema.c); the default settings are setup.h's. */
#ifndef SX_NTF_ROUTER_PGSCHEMA_H
#define SX_NTF_ROUTER_PGSCHEMA_H

#include <stddef.h>

#include "kit/pgdb.h"

/* The migrations in the order they are applied (ascending by name). */
const sx_pg_migration *sx_ntf_pg_migrations(size_t *n);
/* Sets c's migrations and the NTF schema's notes. */
void sx_ntf_pg_cfg(sx_pgdb_cfg *c);

#endif
