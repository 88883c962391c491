/* Test helper: a checker of the Prometheus text exposition format (HELP
 * and TYPE lines, samples with labels, values and timestamps, metric
 * families kept together, histogram series), and a lookup of one
 * sample's value. Used by the SMP router's metrics tests. */
#ifndef SX_TEST_PROM_CHECK_H
#define SX_TEST_PROM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True when text parses; otherwise false with the reason and the line in
 * err. *samples (may be NULL) is the number of samples. */
bool prom_check(const char *text, size_t *samples, char *err, size_t errlen);
/* The value of the sample written exactly as series (name and labels as
 * in the file, e.g. `x_total{type="a"}`). False when absent. */
bool prom_value(const char *text, const char *series, double *v);

#endif
