/* Helpers shared by the unit tests: hex, test data files, cmocka includes. */
#ifndef SX_TESTUTIL_H
#define SX_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>

/* Decodes a hex string (whitespace ignored) into a new heap buffer; fails
 * the test on bad hex. Free with free(). */
uint8_t *tu_hex(const char *hex, size_t *len);
/* Decodes hex into out, which must be exactly the decoded length. */
void tu_hex_to(const char *hex, uint8_t *out, size_t len);
/* Lower-case hex of bytes, in a static buffer overwritten by the next call. */
const char *tu_to_hex(const uint8_t *p, size_t n);
/* Full path of a file of the test data (tests/data, see its README), in a
 * static buffer overwritten by the next call. Fails the test, naming the
 * path, if the file cannot be read. */
const char *tu_data_path(const char *rel);
/* Reads a test data file into a new heap buffer (NUL-terminated, *len
 * without the NUL); fails the test, naming the path, if it cannot. */
uint8_t *tu_read_data(const char *rel, size_t *len);
/* bytes(n, s) of vectors/smp-crypto.md: s, s+1, ... mod 256. */
void tu_bytes_seq(uint8_t *out, size_t n, uint8_t start);
/* Removes a folder and everything in it (symbolic links are not followed);
 * a missing folder is fine. */
void tu_rm_rf(const char *dir);
/* A TCP port that was free on every address a moment ago (bind port 0 on
 * INADDR_ANY, read it back, close): for a server the test starts, or as a
 * port where nothing listens. */
uint16_t tu_free_port(void);

#define assert_bytes_equal(a, b, n) assert_memory_equal((a), (b), (n))
#define assert_ok(expr) assert_int_equal((expr), SX_OK)

#endif
