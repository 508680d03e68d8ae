#include "testutil.h"

#include "common/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void atomic_write_is_0600_and_leaves_no_temporary(void **state)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/secret.txt", dir);
    ssync_error e = {0};
    assert_int_equal(ssync_write_file_atomic(path, "pw", 2, 0600, &e), SSYNC_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    int entries = 0;
    DIR *d = opendir(dir);
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.')
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);
    ssync_buf b = {0};
    assert_int_equal(ssync_read_secret_file(path, &b, &e), SSYNC_OK);
    assert_int_equal(b.len, 2);
    ssync_buf_free_secret(&b);
    test_rmtree(dir);
    free(dir);
}

static int count_entries(const char *dir)
{
    int entries = 0;
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));)
        if (de->d_name[0] != '.')
            entries++;
    if (d)
        closedir(d);
    return entries;
}

/* Written piece by piece: nothing at the path until commit; abort leaves nothing at all. */
static void atomic_stream_commit_and_abort(void **state)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/report.txt", dir);
    ssync_error e = {0};
    ssync_atomic_file af;
    assert_int_equal(ssync_atomic_open(path, 0640, &af, &e), SSYNC_OK);
    fprintf(af.f, "line %d\n", 1);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0); /* not there before the commit */
    fprintf(af.f, "line %d\n", 2);
    assert_int_equal(ssync_atomic_commit(&af, &e), SSYNC_OK);
    assert_null(af.f);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    ssync_buf b = {0};
    assert_int_equal(ssync_read_file(path, 1024, &b, &e), SSYNC_OK);
    assert_string_equal((char *)b.data, "line 1\nline 2\n");
    ssync_buf_free(&b);
    assert_int_equal(count_entries(dir), 1);

    snprintf(path, sizeof path, "%s/aborted.txt", dir);
    assert_int_equal(ssync_atomic_open(path, 0640, &af, &e), SSYNC_OK);
    fputs("half", af.f);
    ssync_atomic_abort(&af);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(count_entries(dir), 1);

    assert_int_equal(ssync_atomic_open("/nonexistent-dir/x", 0640, &af, &e), SSYNC_ERR_FILE_WRITE);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/x"));
    test_rmtree(dir);
    free(dir);
}

/* Group commit: nothing under a final name before commit; after it every file complete, 0600;
 * abort and a failed rename leave no temporary file, and a rename failure keeps the files
 * placed before it. */
static void file_batch_commit_abort_and_failure(void **state)
{
    char *dir = test_tmpdir();
    ssync_error e = {0};
    ssync_file_batch b;
    assert_int_equal(ssync_file_batch_init(&b, dir, &e), SSYNC_OK);
    assert_int_equal(ssync_file_batch_add(&b, "a.json", "A\n", 2, 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_file_batch_add(&b, "b.json", "BB\n", 3, 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_file_batch_add(&b, "x/y", "z", 1, 0600, &e), SSYNC_ERR_ARG);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/a.json", dir);
    assert_int_not_equal(stat(path, &st), 0);
    size_t placed = 99;
    assert_int_equal(ssync_file_batch_commit(&b, &placed, &e), SSYNC_OK);
    assert_int_equal(placed, 2);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    ssync_buf r = {0};
    snprintf(path, sizeof path, "%s/b.json", dir);
    assert_int_equal(ssync_read_file(path, 64, &r, &e), SSYNC_OK);
    assert_string_equal((char *)r.data, "BB\n");
    ssync_buf_free(&r);
    assert_int_equal(count_entries(dir), 2); /* no temporary file */

    assert_int_equal(ssync_file_batch_add(&b, "c.json", "C", 1, 0600, &e), SSYNC_OK);
    ssync_file_batch_abort(&b);
    assert_int_equal(ssync_file_batch_commit(&b, &placed, &e), SSYNC_OK);
    assert_int_equal(placed, 0);
    assert_int_equal(count_entries(dir), 2);

    /* a directory where the second file should go: its rename fails */
    snprintf(path, sizeof path, "%s/e.json", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(ssync_file_batch_add(&b, "d.json", "D", 1, 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_file_batch_add(&b, "e.json", "E", 1, 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_file_batch_add(&b, "f.json", "F", 1, 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_file_batch_commit(&b, &placed, &e), SSYNC_ERR_FILE_WRITE);
    assert_int_equal(placed, 1);
    assert_non_null(strstr(e.msg, "e.json"));
    snprintf(path, sizeof path, "%s/d.json", dir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/f.json", dir);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(count_entries(dir), 4); /* a, b, d and the directory e */
    ssync_file_batch_free(&b);

    assert_int_equal(ssync_file_batch_init(&b, "/nonexistent-dir", &e), SSYNC_ERR_FILE_WRITE);
    test_rmtree(dir);
    free(dir);
}

static void write_into_missing_dir_fails_cleanly(void **state)
{
    ssync_error e = {0};
    assert_int_equal(ssync_write_file_atomic("/nonexistent-dir/x", "a", 1, 0600, &e),
                     SSYNC_ERR_FILE_WRITE);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/x"));
}

static void read_errors_name_the_file(void **state)
{
    ssync_buf b = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_read_file("/nonexistent/file.der", 100, &b, &e), SSYNC_ERR_FILE_OPEN);
    assert_non_null(strstr(e.msg, "/nonexistent/file.der"));
    assert_int_equal(ssync_read_file("/tmp", 100, &b, &e), SSYNC_ERR_FILE_OPEN);
    assert_int_equal(ssync_read_file(test_data_path("adcs-basic/getkey.der"), 10, &b, &e),
                     SSYNC_ERR_FILE_TOO_LARGE);
    assert_null(b.data);
}

static void secret_file_strips_one_newline(void **state)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/p", dir);
    ssync_error e = {0};
    assert_int_equal(ssync_write_file_atomic(path, "abc\r\n", 5, 0600, &e), SSYNC_OK);
    ssync_buf b = {0};
    assert_int_equal(ssync_read_secret_file(path, &b, &e), SSYNC_OK);
    assert_string_equal((char *)b.data, "abc");
    ssync_buf_free_secret(&b);
    test_rmtree(dir);
    free(dir);
}

static void touch_old(const char *dir, const char *name, int is_link)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (is_link) {
        assert_int_equal(symlink("/etc/hostname", path), 0);
    } else {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("partial", f);
        fclose(f);
    }
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, AT_SYMLINK_NOFOLLOW), 0);
}

static int exists_in(const char *dir, const char *name)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* What a killed export left (hidden ".NAME.tmp.PID.N" of a process that is gone, older than the
 * run) is removed; nothing else is: a running writer's, a newer one, other hidden files, a
 * visible name of the same shape, a link. */
static void stale_temporary_files_are_cleaned(void **state)
{
    char *dir = test_tmpdir();
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0); /* its PID is now gone */
    char dead[64], live[64], fresh[64], visible[64], link[64];
    snprintf(dead, sizeof dead, ".u1.json.tmp.%ld.0", (long)child);
    snprintf(live, sizeof live, ".u2.json.tmp.%ld.0", (long)getppid());
    snprintf(fresh, sizeof fresh, ".u3.json.tmp.%ld.1", (long)child);
    snprintf(visible, sizeof visible, "u4.json.tmp.%ld.0", (long)child);
    snprintf(link, sizeof link, ".u5.json.tmp.%ld.0", (long)child);
    touch_old(dir, dead, 0);
    touch_old(dir, live, 0);
    touch_old(dir, visible, 0);
    touch_old(dir, ".notes", 0);
    touch_old(dir, ".u6.json.tmp.x.0", 0);
    touch_old(dir, link, 1);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, fresh);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ssync_clean_stale_temps(dir, time(NULL) - 60), 1);
    assert_false(exists_in(dir, dead));
    assert_true(exists_in(dir, live));
    assert_true(exists_in(dir, fresh));
    assert_true(exists_in(dir, visible));
    assert_true(exists_in(dir, ".notes"));
    assert_true(exists_in(dir, ".u6.json.tmp.x.0"));
    assert_true(exists_in(dir, link));
    assert_int_equal(ssync_clean_stale_temps("/nonexistent/dir", time(NULL)), -1);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atomic_write_is_0600_and_leaves_no_temporary),
        cmocka_unit_test(write_into_missing_dir_fails_cleanly),
        cmocka_unit_test(atomic_stream_commit_and_abort),
        cmocka_unit_test(file_batch_commit_abort_and_failure),
        cmocka_unit_test(read_errors_name_the_file),
        cmocka_unit_test(secret_file_strips_one_newline),
        cmocka_unit_test(stale_temporary_files_are_cleaned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
