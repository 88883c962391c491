/* The library's version, as the build configured it. */
#include "simplex/version.h"

const char *sx_version(void)
{
    return SX_VERSION_STRING;
}
