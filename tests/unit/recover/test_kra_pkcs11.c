/* PKCS#11 URIs for KRA keys: recognised by their scheme, shown with any PIN masked, refused when
 * they carry a PIN, and a clear error when the module cannot be loaded. The token itself is
 * exercised by tests/integration/test_pkcs11.sh (SoftHSM2). */
#include "testutil.h"

#include "recover/kra.h"
#include "recover/kra_pkcs11.h"

#include <string.h>

/* Under ASan: full stacks, so tests/lsan.supp can match the pkcs11 engine's leaks at exit. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

static void scheme(void **state)
{
    assert_true(ssync_is_pkcs11_uri("pkcs11:token=kra;object=kra"));
    assert_false(ssync_is_pkcs11_uri("/etc/smimesync/kra.p12"));
    assert_false(ssync_is_pkcs11_uri("PKCS11-not"));
    assert_false(ssync_is_pkcs11_uri(NULL));
}

static void display_masks_the_pin(void **state)
{
    char out[256];
    ssync_pkcs11_uri_display("pkcs11:token=a;pin-value=1234;object=b?module-path=/m.so", out,
                             sizeof(out));
    assert_string_equal(out, "pkcs11:token=a;pin-value=***;object=b?module-path=/m.so");
    ssync_pkcs11_uri_display("pkcs11:object=b?pin-value=9999", out, sizeof(out));
    assert_string_equal(out, "pkcs11:object=b?pin-value=***");
    ssync_pkcs11_uri_display("/etc/kra.p12", out, sizeof(out));
    assert_string_equal(out, "/etc/kra.p12");
}

static void pin_in_uri_refused(void **state)
{
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_kra_set_new(&set, &e), SSYNC_OK);
    assert_int_equal(
        ssync_kra_set_add_file(set, "pkcs11:token=k;object=k;pin-value=s3cret", NULL, NULL, &e),
        SSYNC_ERR_KRA_LOAD);
    assert_non_null(strstr(e.msg, "password_file"));
    assert_null(strstr(e.msg, "s3cret"));
    assert_non_null(strstr(e.msg, "pin-value=***"));
    ssync_kra_set_free(set);
}

static void missing_module(void **state)
{
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_kra_set_new(&set, &e), SSYNC_OK);
    ssync_code rc = ssync_kra_set_add_file(
        set, "pkcs11:token=k;object=k?module-path=/nonexistent/libnothing.so", "1234", NULL, &e);
    assert_int_equal(rc, SSYNC_ERR_KRA_LOAD);
    /* either the engine is not installed or the module cannot be initialised: both say so */
    assert_true(strstr(e.msg, "/nonexistent/libnothing.so") || strstr(e.msg, "engine"));
    assert_null(strstr(e.msg, "1234"));
    assert_int_equal(ssync_kra_set_count(set), 0);
    ssync_kra_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scheme),
        cmocka_unit_test(display_masks_the_pin),
        cmocka_unit_test(pin_in_uri_refused),
        cmocka_unit_test(missing_module),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
