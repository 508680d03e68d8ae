/* Answers counted by method and HTTP status (graph/stats.c), the source of
 * smimesync_graph_requests_total. */
#include "testutil.h"

#include "graph/graph.h"

#include <string.h>

static void counts_by_method_and_status(void **state)
{
    (void)state;
    ssync_graph_stats st;
    memset(&st, 0, sizeof st);
    ssync_graph_stats_count_answer(&st, "POST", 201);
    ssync_graph_stats_count_answer(&st, "POST", 201);
    ssync_graph_stats_count_answer(&st, "POST", 429);
    ssync_graph_stats_count_answer(&st, "GET", 200);
    ssync_graph_stats_count_answer(&st, "DELETE", 0); /* no answer */
    ssync_graph_stats_count_answer(NULL, "GET", 200);
    ssync_graph_stats_count_answer(&st, NULL, 200);
    assert_int_equal(st.n_by_status, 4);
    assert_string_equal(st.by_status[0].method, "POST");
    assert_int_equal(st.by_status[0].status, 201);
    assert_int_equal(st.by_status[0].count, 2);
    assert_int_equal(st.by_status[1].status, 429);
    assert_int_equal(st.by_status[3].status, 0);
    assert_int_equal(st.other_answers, 0);
}

static void more_pairs_than_slots_are_counted_apart(void **state)
{
    (void)state;
    ssync_graph_stats st;
    memset(&st, 0, sizeof st);
    for (long s = 0; s < SSYNC_GRAPH_STATUS_SLOTS + 3; s++)
        ssync_graph_stats_count_answer(&st, "GET", 200 + s);
    assert_int_equal(st.n_by_status, SSYNC_GRAPH_STATUS_SLOTS);
    assert_int_equal(st.other_answers, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_by_method_and_status),
        cmocka_unit_test(more_pairs_than_slots_are_counted_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
