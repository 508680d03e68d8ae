/* The pure parts of the delivery reads (src/lib/graph/intune.c): Graph's date-times, the
 * platform names of [intune] platforms and of managedDevice operatingSystem, and the argument
 * checks of the listings. */
#include "testutil.h"

#include "graph/intune.h"

#include <string.h>

static void parse_time(void **state)
{
    (void)state;
    assert_int_equal(ssync_graph_parse_time("1970-01-02T00:00:00Z"), 86400);
    assert_int_equal(ssync_graph_parse_time("2026-12-01T00:00:00Z"), 1796083200);
    assert_int_equal(ssync_graph_parse_time("2026-12-01T00:00:00.1234567Z"), 1796083200);
    /* an offset is taken out: 02:00+02:00 is midnight UTC */
    assert_int_equal(ssync_graph_parse_time("2026-12-01T02:00:00+02:00"), 1796083200);
    assert_int_equal(ssync_graph_parse_time("2026-11-30T22:00:00-02:00"), 1796083200);
    assert_int_equal(ssync_graph_parse_time("2026-12-01T00:00:00"), 1796083200);
    /* unreadable: 0 (callers treat it as unknown) */
    assert_int_equal(ssync_graph_parse_time(NULL), 0);
    assert_int_equal(ssync_graph_parse_time(""), 0);
    assert_int_equal(ssync_graph_parse_time("yesterday"), 0);
    assert_int_equal(ssync_graph_parse_time("2026-12-01T00:00:00 junk"), 0);
}

static void platforms(void **state)
{
    (void)state;
    assert_int_equal(ssync_platform_from_os("iOS"), SSYNC_PLATFORM_IOS);
    assert_int_equal(ssync_platform_from_os("iPadOS"), SSYNC_PLATFORM_IOS);
    assert_int_equal(ssync_platform_from_os("macOS"), SSYNC_PLATFORM_MACOS);
    assert_int_equal(ssync_platform_from_os("Windows"), SSYNC_PLATFORM_WINDOWS);
    assert_int_equal(ssync_platform_from_os("Android"), SSYNC_PLATFORM_ANDROID);
    assert_int_equal(ssync_platform_from_os("AndroidForWork"), SSYNC_PLATFORM_ANDROID);
    assert_int_equal(ssync_platform_from_os("Linux"), SSYNC_PLATFORM_OTHER);
    assert_int_equal(ssync_platform_from_os(NULL), SSYNC_PLATFORM_OTHER);
    for (int p = 0; p < SSYNC_PLATFORM_COUNT; p++)
        assert_int_equal(ssync_platform_from_name(ssync_platform_name((ssync_platform)p)), p);
    assert_int_equal(ssync_platform_from_name("IOS"), SSYNC_PLATFORM_IOS);
    assert_int_equal(ssync_platform_from_name("symbian"), SSYNC_PLATFORM_OTHER);
    assert_int_equal(ssync_platform_from_name(NULL), SSYNC_PLATFORM_OTHER);
    assert_string_equal(ssync_platform_name(SSYNC_PLATFORM_OTHER), "other");
    assert_string_equal(ssync_platform_name((ssync_platform)99), "other");
}

static void bad_arguments(void **state)
{
    (void)state;
    ssync_error e = {0};
    size_t n = 0;
    ssync_intune_profile p = {0};
    assert_int_equal(ssync_intune_list_profiles(NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_intune_list_connectors(NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_intune_outlook_smime(NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_intune_list_devices(NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_intune_list_states(NULL, &p, NULL, &e), SSYNC_ERR_ARG);
    /* a handle is required once the output is given */
    assert_int_equal(ssync_intune_outlook_smime(NULL, &n, &e), SSYNC_ERR_ARG);
    /* freeing empty or NULL lists is harmless */
    ssync_intune_profiles_free(NULL);
    ssync_intune_connectors_free(NULL);
    ssync_intune_devices_free(NULL);
    ssync_intune_states_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_time),
        cmocka_unit_test(platforms),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
