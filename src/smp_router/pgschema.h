/* The SMP router's PostgreSQL schema: the reference's migrations (names and
 * order as it records them in its migrations table), each as SQL of ours
 * giving the same schema (pgschema.c). */
#ifndef SX_ROUTER_PGSCHEMA_H
#define SX_ROUTER_PGSCHEMA_H

#include <stddef.h>

#include "kit/pgdb.h"

#define SX_PGDB_DEFAULT_CONNECTION "postgresql://smp@/smp_server_store"
#define SX_PGDB_DEFAULT_SCHEMA "smp_server"
#define SX_PGDB_DEFAULT_POOL 10

/* The SMP router's prepared statements (sx_pgstmt ids). */
enum {
    SX_PGS_Q_INSERT,
    SX_PGS_Q_LINK,
    SX_PGS_Q_LDELETE,
    SX_PGS_Q_SECURE,
    SX_PGS_Q_KEYS,
    SX_PGS_Q_NOTIFIER,
    SX_PGS_Q_STATUS,
    SX_PGS_Q_DELETE,
    SX_PGS_Q_NDELETE,
    SX_PGS_Q_TIME,
    SX_PGS_Q_RSERVICE,
    SX_PGS_Q_NSERVICE,
    SX_PGS_S_INSERT,
    SX_PGS_M_WRITE,
    SX_PGS_M_PEEK,
    SX_PGS_M_DEL,
    SX_PGS_M_EXPIRE,
    SX_PGS_M_DROP,
    SX_PGS_M_SIZE,
    SX_PGS_M_INSERT,
    SX_PGS_L_BY_RID,
    SX_PGS_L_BY_SID,
    SX_PGS_L_BY_NID,
    SX_PGS_L_BY_LID,
    SX_PGS_L_SERVICES,
    SX_PGS_L_PAGE,
    SX_PGS_L_PAGE_MSGS,
    SX_PGS_L_COUNTS,
    SX_PGS_COUNT
};

/* The migrations in the order they are applied (ascending by name). */
const sx_pg_migration *sx_pg_migrations(size_t *n);
/* Sets c's migrations and the SMP router's schema notes. */
void sx_pg_smp_cfg(sx_pgdb_cfg *c);

#endif
