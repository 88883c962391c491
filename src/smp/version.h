/* SMP relay protocol versions: see transport/smp_version.h, which the
 * handshake shares. */
#ifndef SX_SMP_VERSION_H
#define SX_SMP_VERSION_H

#include "transport/smp_version.h"

#endif
