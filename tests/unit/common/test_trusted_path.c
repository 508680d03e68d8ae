/* What decides what the program does (journal, state and report directories, configuration,
 * trust anchors, records) is refused as ssh's StrictModes refuses a home directory: group or
 * others may write it, or another user than this one or root owns it (issue 18 #3, #5, #11).
 * Readable by others is fine: these are not secrets. */
#include "testutil.h"

#include "common/fileio.h"
#include "journal/journal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void modes_of_a_file_and_a_directory(void **state)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    static const mode_t refused[] = {0666, 0664, 0646, 0620, 0602, 0622};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(chmod(path, refused[i]), 0);
        ssync_error e = {0};
        assert_int_equal(ssync_check_trusted_path(path, "configuration", &e), SSYNC_ERR_FILE_PERMS);
        assert_non_null(strstr(e.msg, "configuration"));
        assert_non_null(strstr(e.msg, "group or others may write"));
        assert_non_null(strstr(e.msg, "chmod go-w"));
    }
    static const mode_t accepted[] = {0644, 0600, 0444, 0640, 0755};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        assert_int_equal(chmod(path, accepted[i]), 0);
        ssync_error e = {0};
        assert_int_equal(ssync_check_trusted_path(path, "configuration", &e), SSYNC_OK);
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(ssync_check_trusted_fd(fd, path, "configuration", &e), SSYNC_OK);
        close(fd);
    }
    /* the directory that holds it */
    assert_int_equal(chmod(dir, 0770), 0);
    ssync_error e = {0};
    assert_int_equal(ssync_check_trusted_parent(path, "journal directory", &e),
                     SSYNC_ERR_FILE_PERMS);
    assert_non_null(strstr(e.msg, "journal directory"));
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(ssync_check_trusted_parent(path, "journal directory", &e), SSYNC_OK);
    /* a missing path: not a permission verdict */
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(ssync_check_trusted_path(path, "file", &e), SSYNC_ERR_FILE_OPEN);
    test_rmtree(dir);
    free(dir);
}

static void owned_by_another_user(void **state)
{
    if (geteuid() != 0)
        skip(); /* only root can give a file away */
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/records", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(chown(path, 65534, 65534), 0);
    ssync_error e = {0};
    assert_int_equal(ssync_check_trusted_path(path, "record directory", &e), SSYNC_ERR_FILE_PERMS);
    assert_non_null(strstr(e.msg, "owned by uid 65534"));
    assert_int_equal(chown(path, 0, 0), 0); /* root's: accepted */
    assert_int_equal(ssync_check_trusted_path(path, "record directory", &e), SSYNC_OK);
    test_rmtree(dir);
    free(dir);
}

static void journal_refuses_untrusted_places(void **state)
{
    char *dir = test_tmpdir();
    char path[512], target[512];
    snprintf(path, sizeof path, "%s/state.db", dir);
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(chmod(dir, 0775), 0);
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_ERR_FILE_PERMS);
    assert_null(j);
    assert_int_equal(access(path, F_OK), -1); /* nothing created there */
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    ssync_journal_close(j);
    j = NULL;
    assert_int_equal(chmod(path, 0660), 0);
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_ERR_FILE_PERMS);
    assert_non_null(strstr(e.msg, "journal"));
    assert_int_equal(unlink(path), 0);
    /* a symbolic link is never followed */
    snprintf(target, sizeof target, "%s/elsewhere.db", dir);
    assert_int_equal(symlink(target, path), 0);
    assert_int_not_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    assert_null(j);
    assert_int_equal(access(target, F_OK), -1);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modes_of_a_file_and_a_directory),
        cmocka_unit_test(owned_by_another_user),
        cmocka_unit_test(journal_refuses_untrusted_places),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
