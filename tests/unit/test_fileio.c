/* Unit tests of the core file helpers (src/core/fileio.c): sx_fs_mkdirs
 * creates missing parents, accepts folders that exist, names the
 * component that could not be made, and refuses an over-long path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "core/fileio.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/sx_fileio_XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rm_rf(root);
    return 0;
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void test_mkdirs(void **state)
{
    (void)state;
    char p[256], failed[256];
    snprintf(p, sizeof p, "%s/a/b/c", root);
    assert_ok(sx_fs_mkdirs(p, 0755, failed, sizeof failed));
    assert_true(is_dir(p));
    assert_ok(sx_fs_mkdirs(p, 0755, NULL, 0)); /* exists: fine */
    snprintf(p, sizeof p, "%s/a/b/c/", root); /* a trailing slash */
    assert_ok(sx_fs_mkdirs(p, 0755, failed, sizeof failed));
    /* a file where a folder should be */
    snprintf(p, sizeof p, "%s/a/file", root);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(p, sizeof p, "%s/a/file/d", root);
    failed[0] = 0;
    assert_int_equal(sx_fs_mkdirs(p, 0755, failed, sizeof failed), SX_E_IO);
    assert_int_equal(errno, ENOTDIR);
    char want[256];
    snprintf(want, sizeof want, "%s/a/file", root);
    assert_string_equal(failed, want);
    /* empty and over-long paths */
    assert_int_equal(sx_fs_mkdirs("", 0755, failed, sizeof failed), SX_E_LIMIT);
    static char longp[5000];
    memset(longp, 'x', sizeof longp - 1);
    longp[0] = '/';
    assert_int_equal(sx_fs_mkdirs(longp, 0755, failed, sizeof failed), SX_E_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
