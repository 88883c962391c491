/* What the store-log tests share (test_storelog.c, test_msglog.c): the
 * fixture values in the reference's text forms, warnings counted instead of
 * printed, record encoding helpers, a temporary folder, and a store dumped
 * as sorted CREATE lines. */
#ifndef SX_TEST_STORELOG_UTIL_H
#define SX_TEST_STORELOG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit/logfile.h"
#include "smp_router/msglog.h"
#include "smp_router/slapply.h"
#include "smp_router/slrec.h"
#include "smp_router/slservices.h"
#include "smp_router/store.h"

/* Text forms of the fixture values below, computed by hand from the
 * reference's encoders (padded base64url of the bytes / of the SPKI DER). */
#define RID "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY"
#define SID "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4"
#define NID "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
#define LID "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4"
#define K1 "MCowBQYDK2VwAyEAoKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
#define K2 "MEMwBQYDK2VxAzoAEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QEFCQ0RFRkdI"
#define SK "MCowBQYDK2VuAyEAsLGys7S1tre4ubq7vL2-v8DBwsPExcbHyMnKy8zNzs8="
#define NK "MCowBQYDK2VuAyEAcHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8="
#define DH "0NHS09TV1tfY2drb3N3e3-Dh4uPk5ebn6Onq6-zt7u8="
#define NDH "4OHi4-Tl5ufo6err7O3u7_Dx8vP09fb3-Pn6-_z9_v8="
#define SVC "kJGSk5SVlpeYmZqbnJ2en6ChoqOkpaan"
#define SVC2 "MDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZH"
#define FIXED "Zml4ZWQgZGF0YQ=="
#define USER "dXNlciBkYXRh"
#define DAY0 1718928000 /* 2024-06-21T00:00:00Z */
#define DAY 86400

/* Warnings of the last operations, counted by count_warn. */
extern int n_warnings;
extern char last_warning[512];
void count_warn(void *arg, const char *msg);
/* Options whose warnings go to count_warn. */
sx_kit_log_opts quiet_opts(void);
sx_msglog_opts quiet_mopts(void);

/* A key of alg with bytes start, start+1, ... */
sx_qkey qkey(sx_key_alg alg, uint8_t start);
/* A CREATE record of a queue with fixed ids, key and secret. */
void fill_queue(sx_slrec *r);
/* r's line (NUL-terminated, free() it). */
char *encode(const sx_slrec *r);
/* encode(parse(line)) must give line back. */
void assert_round_trip(const char *line);
/* r encodes to expected, which round-trips. */
void assert_encodes(const sx_slrec *r, const char *expected);

/* A fresh folder under /tmp for one test, its files, and its removal. */
void make_tmpdir(void);
void remove_tmpdir(void);
const char *tpath(const char *name);
void write_file(const char *path, const char *text);
/* The file's text (free() it), NULL if it cannot be read. */
char *read_file(const char *path);
bool exists(const char *path);
size_t count_lines(const char *text);

/* The state of a store as its sorted CREATE lines, one string (free() it). */
char *dump_store(sx_store *st, const sx_slservices *svc);
/* The queue with recipient id rid_text (base64url), or NULL. */
sx_queue *find_rid(sx_store *st, const char *rid_text);

#endif
