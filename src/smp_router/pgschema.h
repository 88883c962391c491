/* The SMP router's PostgreSQL schema: the reference's migrations (names and
 * order as it records them in its migrations table), each as SQL of ours
 * giving the same schema (pgschema.c). */
#ifndef SX_ROUTER_PGSCHEMA_H
#define SX_ROUTER_PGSCHEMA_H

#include <stddef.h>

typedef struct sx_pg_migration {
    const char *name; /* as recorded in the migrations table */
    const char *up;
    const char *down; /* NULL: none (recorded as NULL) */
} sx_pg_migration;

/* The migrations in the order they are applied (ascending by name). */
const sx_pg_migration *sx_pg_migrations(size_t *n);

#endif
