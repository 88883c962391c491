/* Router kit: reports to a callback or stderr (see report.h). */
#include "kit/report.h"

#include <stdio.h>

void sx_kit_vreport(sx_kit_warn_cb cb, void *arg, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (cb)
        cb(arg, msg);
    else
        fprintf(stderr, "%s\n", msg);
}

void sx_kit_report(sx_kit_warn_cb cb, void *arg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sx_kit_vreport(cb, arg, fmt, ap);
    va_end(ap);
}
