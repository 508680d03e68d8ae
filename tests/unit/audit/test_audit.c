/* The audit trail: lines appended and chained; the chain verified, then broken by an edit, a
 * deleted line, a swapped pair and a truncation (each found at its line); a trail that is
 * missing, truncated, not 0600 or unwritable refused for appending; a rotation continues the
 * chain; bad arguments. */
#include "testutil.h"

#include "audit/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char *dir;
    char path[512];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/audit.jsonl", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* start + n lines */
static void write_trail(const char *path, int n)
{
    ssync_error e = {0};
    assert_int_equal(ssync_audit_create(path, NULL, &e), SSYNC_OK);
    ssync_audit *a = NULL;
    assert_int_equal(ssync_audit_open(path, "app-1", &a, &e), SSYNC_OK);
    for (int i = 0; i < n; i++) {
        char tp[41];
        snprintf(tp, sizeof tp, "%040d", i);
        ssync_audit_event ev = {.action = i % 2 ? "delete" : "create",
                                .result = i % 2 ? "removed" : "created",
                                .user = "alice@example.com",
                                .thumbprint = tp,
                                .serial = "1A2B",
                                .request_id = "req-1",
                                .http_status = 201,
                                .verified = i % 2};
        assert_int_equal(ssync_audit_append(a, &ev, &e), SSYNC_OK);
    }
    assert_int_equal(ssync_audit_sync(a, &e), SSYNC_OK);
    ssync_audit_close(a);
}

/* The file's lines, rewritten by fn(lines, n) */
static void rewrite(const char *path, void (*fn)(char **lines, size_t *n))
{
    ssync_buf b = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_read_file(path, 1 << 20, &b, &e), SSYNC_OK);
    char *lines[64];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r((char *)b.data, "\n", &save); l && n < 64;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    fn(lines, &n);
    FILE *out = fopen(path, "w");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s\n", lines[i]);
    fclose(out);
    chmod(path, 0600);
    ssync_buf_free(&b);
}

static size_t verify_bad_line(const char *path)
{
    ssync_audit_check c;
    ssync_error e = {0};
    ssync_code rc = ssync_audit_verify(path, NULL, &c, &e);
    if (rc == SSYNC_OK)
        return 0;
    assert_int_equal(rc, SSYNC_ERR_AUDIT);
    char where[600];
    snprintf(where, sizeof where, "%s:%zu: chain broken", path, c.bad_line);
    assert_non_null(strstr(e.msg, where));
    return c.bad_line;
}

static void lines_chain_and_verify(void **state)
{
    struct fx *f = *state;
    write_trail(f->path, 5);
    ssync_audit_check c;
    ssync_error e = {0};
    assert_int_equal(ssync_audit_verify(f->path, NULL, &c, &e), SSYNC_OK);
    assert_int_equal(c.lines, 6);
    assert_int_equal(c.last_seq, 6);
    assert_int_equal(c.bad_line, 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* appending goes on from the head */
    ssync_audit *a = NULL;
    assert_int_equal(ssync_audit_open(f->path, NULL, &a, &e), SSYNC_OK);
    assert_int_equal(strlen(ssync_audit_run_id(a)), 36);
    ssync_audit_event ev = {.action = "recover", .result = "recovered"};
    assert_int_equal(ssync_audit_append(a, &ev, &e), SSYNC_OK);
    ssync_audit_close(a);
    assert_int_equal(ssync_audit_verify(f->path, NULL, &c, &e), SSYNC_OK);
    assert_int_equal(c.last_seq, 7);
    assert_int_equal(verify_bad_line(f->path), 0);
}

static void edit_line_3(char **l, size_t *n)
{
    (void)n;
    char *p = strstr(l[2], "alice");
    p[0] = 'A'; /* alice -> Alice */
}

static void delete_line_3(char **l, size_t *n)
{
    memmove(&l[2], &l[3], (*n - 3) * sizeof *l);
    (*n)--;
}

static void swap_lines_3_4(char **l, size_t *n)
{
    (void)n;
    char *t = l[2];
    l[2] = l[3];
    l[3] = t;
}

static void delete_line_1(char **l, size_t *n)
{
    memmove(&l[0], &l[1], (*n - 1) * sizeof *l);
    (*n)--;
}

static void edit_is_found_at_its_line(void **state)
{
    struct fx *f = *state;
    write_trail(f->path, 5);
    rewrite(f->path, edit_line_3);
    assert_int_equal(verify_bad_line(f->path), 3);
}

static void deleted_line_is_found(void **state)
{
    struct fx *f = *state;
    write_trail(f->path, 5);
    rewrite(f->path, delete_line_3);
    assert_int_equal(verify_bad_line(f->path), 3);
    unlink(f->path);
    write_trail(f->path, 5);
    rewrite(f->path, delete_line_1);
    assert_int_equal(verify_bad_line(f->path), 1);
}

static void swapped_pair_is_found(void **state)
{
    struct fx *f = *state;
    write_trail(f->path, 5);
    rewrite(f->path, swap_lines_3_4);
    assert_int_equal(verify_bad_line(f->path), 3);
}

static void truncated_trail_is_found_and_refused(void **state)
{
    struct fx *f = *state;
    write_trail(f->path, 3);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(truncate(f->path, st.st_size - 10), 0);
    assert_int_equal(verify_bad_line(f->path), 4);
    ssync_audit *a = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_audit_open(f->path, NULL, &a, &e), SSYNC_ERR_AUDIT);
    assert_null(a);
    assert_non_null(strstr(e.msg, "truncated mid-line"));
}

static void unsafe_trails_are_refused(void **state)
{
    struct fx *f = *state;
    ssync_audit *a = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_audit_open(f->path, NULL, &a, &e), SSYNC_ERR_AUDIT);
    assert_non_null(strstr(e.msg, "missing"));
    write_trail(f->path, 1);
    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(ssync_audit_open(f->path, NULL, &a, &e), SSYNC_ERR_AUDIT);
    assert_non_null(strstr(e.msg, "mode 0640, not 0600"));
    assert_int_equal(chmod(f->path, 0600), 0);
    FILE *empty = fopen(f->path, "w");
    fclose(empty);
    assert_int_equal(ssync_audit_open(f->path, NULL, &a, &e), SSYNC_ERR_AUDIT);
    assert_non_null(strstr(e.msg, "empty"));
    unlink(f->path);
    assert_int_equal(mkdir(f->path, 0700), 0);
    assert_int_equal(ssync_audit_open(f->path, NULL, &a, &e), SSYNC_ERR_AUDIT);
    rmdir(f->path);
    /* create never overwrites */
    write_trail(f->path, 1);
    assert_int_equal(ssync_audit_create(f->path, NULL, &e), SSYNC_ERR_AUDIT);
    assert_non_null(strstr(e.msg, "cannot create"));
}

static void rotation_continues_the_chain(void **state)
{
    struct fx *f = *state;
    write_trail(f->path, 4);
    char next[600];
    snprintf(next, sizeof next, "%s.2", f->path);
    ssync_error e = {0};
    assert_int_equal(ssync_audit_create(next, f->path, &e), SSYNC_OK);
    ssync_audit_check c1, c2;
    assert_int_equal(ssync_audit_verify(f->path, NULL, &c1, &e), SSYNC_OK);
    assert_int_equal(ssync_audit_verify(next, &c1, &c2, &e), SSYNC_OK);
    assert_string_equal(c2.first_prev, c1.head);
    assert_int_equal(c2.last_seq, c1.last_seq + 1);
    /* a new file that does not continue the old one */
    char other[600];
    snprintf(other, sizeof other, "%s.3", f->path);
    assert_int_equal(ssync_audit_create(other, NULL, &e), SSYNC_OK);
    assert_int_equal(ssync_audit_verify(other, &c1, &c2, &e), SSYNC_ERR_AUDIT);
    assert_int_equal(c2.bad_line, 1);
    /* no rotation from a broken trail */
    rewrite(f->path, edit_line_3);
    char broken[600];
    snprintf(broken, sizeof broken, "%s.4", f->path);
    assert_int_equal(ssync_audit_create(broken, f->path, &e), SSYNC_ERR_AUDIT);
    assert_int_equal(access(broken, F_OK), -1);
}

static int count_line(void *ctx, size_t line, const json_t *entry)
{
    (void)line;
    size_t *n = ctx;
    *n += json_object_get(entry, "action") != NULL;
    return 0;
}

static void foreach_and_bad_arguments(void **state)
{
    struct fx *f = *state;
    write_trail(f->path, 2);
    size_t n = 0;
    ssync_error e = {0};
    assert_int_equal(ssync_audit_foreach(f->path, count_line, &n, &e), SSYNC_OK);
    assert_int_equal(n, 3);
    ssync_audit *a = NULL;
    ssync_audit_check c;
    assert_int_equal(ssync_audit_open(NULL, NULL, &a, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_audit_create(NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_audit_append(NULL, &(ssync_audit_event){.action = "x"}, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_audit_verify(NULL, NULL, &c, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_audit_foreach(f->path, NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_audit_sync(NULL, &e), SSYNC_OK);
    ssync_audit_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lines_chain_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(edit_is_found_at_its_line, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_line_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(swapped_pair_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_trail_is_found_and_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(unsafe_trails_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(rotation_continues_the_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(foreach_and_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
