/* Secret files are refused as ssh refuses private keys: a password, client secret or KRA key
 * file that group or others may access, or that belongs to another user, is an error
 * (SSYNC_ERR_FILE_PERMS) that names the file and the fix; 0600 files of this user are read. */
#include "testutil.h"

#include "common/fileio.h"
#include "recover/kra.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_mode(const char *path, const void *data, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void password_file_modes(void **state)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/kra.pass", dir);
    static const mode_t refused[] = {0644, 0640, 0604, 0620, 0602, 0660};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        write_mode(path, "pw\n", 3, refused[i]);
        ssync_buf b = {0};
        ssync_error e = {0};
        assert_int_equal(ssync_read_secret_file(path, &b, &e), SSYNC_ERR_FILE_PERMS);
        assert_null(b.data);
        assert_non_null(strstr(e.msg, "kra.pass"));
        assert_non_null(strstr(e.msg, "chmod 600"));
        assert_null(strstr(e.msg, "pw")); /* the content is never quoted */
    }
    write_mode(path, "pw\n", 3, 0600);
    ssync_buf b = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_read_secret_file(path, &b, &e), SSYNC_OK);
    assert_string_equal((char *)b.data, "pw");
    ssync_buf_free_secret(&b);
    write_mode(path, "pw\n", 3, 0400);
    assert_int_equal(ssync_read_secret_file(path, &b, &e), SSYNC_OK);
    ssync_buf_free_secret(&b);
    test_rmtree(dir);
    free(dir);
}

/* The service (not root) reads a root-owned secret in its own group at 0640, never 0660/0644,
 * nor 0640 in another group. A child drops to nobody:nogroup (65534) to be the service. */
static void root_owned_service_group(void **state)
{
    if (geteuid() != 0)
        skip(); /* only root can make a root-owned file and become another user */
    char *dir = test_tmpdir();
    assert_int_equal(chmod(dir, 0755), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/kra.pass", dir);
    static const struct {
        mode_t mode;
        gid_t gid;
        int ok;
    } cases[] = {{0640, 65534, 1}, {0440, 65534, 1}, {0660, 65534, 0},
                 {0644, 65534, 0}, {0640, 0, 0},     {0604, 100, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_mode(path, "pw\n", 3, cases[i].mode);
        assert_int_equal(chown(path, 0, cases[i].gid), 0);
        assert_int_equal(chmod(path, cases[i].mode), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* root's group as a supplementary group: it may read a 0640 file of group 0, but
             * group 0 is not the service's own (effective) group */
            gid_t extra = 0;
            if (setgroups(1, &extra) || setgid(65534) || setuid(65534))
                _exit(2);
            ssync_buf b = {0};
            ssync_error e = {0};
            ssync_code rc = ssync_read_secret_file(path, &b, &e);
            ssync_buf_free_secret(&b);
            _exit(rc == SSYNC_OK ? 0 : rc == SSYNC_ERR_FILE_PERMS ? 1 : 3);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), cases[i].ok ? 0 : 1);
    }
    test_rmtree(dir);
    free(dir);
}

static void file_of_another_user(void **state)
{
    if (geteuid() != 0)
        skip(); /* only root can give a file away */
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/secret", dir);
    write_mode(path, "s", 1, 0600);
    assert_int_equal(chown(path, 4242, 4242), 0);
    ssync_buf b = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_read_secret_file(path, &b, &e), SSYNC_ERR_FILE_PERMS);
    assert_non_null(strstr(e.msg, "uid 4242"));
    test_rmtree(dir);
    free(dir);
}

static void kra_key_file_modes(void **state)
{
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/kra.p12", dir);
    ssync_buf p12 = test_read("adcs-basic/kra.p12");
    ssync_buf pass = test_read("adcs-basic/kra.pass");
    char *pw = strndup((char *)pass.data, strcspn((char *)pass.data, "\r\n"));
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_kra_set_new(&set, &e), SSYNC_OK);
    write_mode(path, p12.data, p12.len, 0644);
    assert_int_equal(ssync_kra_set_add_file(set, path, pw, NULL, &e), SSYNC_ERR_FILE_PERMS);
    assert_non_null(strstr(e.msg, "mode 644"));
    assert_int_equal(ssync_kra_set_count(set), 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ssync_kra_set_add_file(set, path, pw, NULL, &e), SSYNC_OK);
    assert_int_equal(ssync_kra_set_count(set), 1);
    /* a file that is no key at all says so, whatever its mode */
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_mode(path, "hello", 5, 0644);
    assert_int_equal(ssync_kra_set_add_file(set, path, pw, NULL, &e), SSYNC_ERR_KRA_LOAD);
    assert_int_equal(ssync_check_private_file(path, &e), SSYNC_ERR_FILE_PERMS);
    ssync_kra_set_free(set);
    free(pw);
    ssync_buf_free(&p12);
    ssync_buf_free_secret(&pass);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(password_file_modes),
        cmocka_unit_test(file_of_another_user),
        cmocka_unit_test(root_owned_service_group),
        cmocka_unit_test(kra_key_file_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
