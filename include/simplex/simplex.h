/* The whole public API of the SimpleX C library: SMP queues (simplex/smp.h,
 * blocking and on the event loop of simplex/loop.h), XFTP files
 * (simplex/xftp.h), XRCP remote control (simplex/xrcp.h), the agent's duplex
 * encrypted connections (simplex/agent.h), status codes and
 * error detail (simplex/status.h), and the version (simplex/version.h). Link with
 * `pkg-config --cflags --libs simplex`. See docs/API.md. */
#ifndef SIMPLEX_SIMPLEX_H
#define SIMPLEX_SIMPLEX_H

#include "simplex/agent.h"
#include "simplex/loop.h"
#include "simplex/smp.h"
#include "simplex/status.h"
#include "simplex/version.h"
#include "simplex/xftp.h"
#include "simplex/xrcp.h"

#endif
