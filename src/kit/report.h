/* Router kit: warnings and notes of start-up and persistence (skipped log
 * lines, backups) go to a callback the router chooses, or to stderr. */
#ifndef SX_KIT_REPORT_H
#define SX_KIT_REPORT_H

#include <stdarg.h>

/* Receives one message without its newline. */
typedef void (*sx_kit_warn_cb)(void *arg, const char *msg);

/* Formats the message (cut at 511 bytes) and hands it to cb, or prints it
 * with a newline to stderr when cb is NULL. */
void sx_kit_vreport(sx_kit_warn_cb cb, void *arg, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void sx_kit_report(sx_kit_warn_cb cb, void *arg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
