/* Fuzz target: everything parsed from Graph and Entra ID responses. The first byte picks the
 * parser, the rest is the body: userPfxCertificate pages, group member pages, Graph error bodies,
 * Entra error bodies, token responses. */
#include "graph/auth.h"
#include "graph/failure.h"
#include "graph/model.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t n = len - 1;
    ssync_error err;
    ssync_graph_failure f;
    ssync_graph_failure_clear(&f);
    char line[1024];
    char *next = NULL;
    switch (data[0] % 5) {
    case 0: {
        ssync_pfx_list l = {0};
        if (ssync_pfx_page_parse(body, n, &l, &next, &err) == SSYNC_OK) {
            ssync_pfx_list_sort(&l);
            if (l.count)
                ssync_pfx_list_find(&l, l.items[0].user_principal_name, l.items[0].thumbprint);
        }
        ssync_pfx_list_free(&l);
        break;
    }
    case 1: {
        char **upns = NULL;
        size_t count = 0, cap = 0;
        ssync_member_page_parse(body, n, &upns, &count, &cap, &next, &err);
        for (size_t i = 0; i < count; i++)
            free(upns[i]);
        free(upns);
        break;
    }
    case 2:
        ssync_graph_error_parse(body, n, &f);
        ssync_graph_failure_format(&f, line, sizeof(line));
        break;
    case 3:
        ssync_entra_error_parse(body, n, &f);
        ssync_graph_failure_format(&f, line, sizeof(line));
        break;
    default: {
        ssync_token t = {0};
        if (ssync_token_parse(body, n, &t, &err) == SSYNC_OK)
            ssync_token_clear(&t);
        break;
    }
    }
    free(next);
    return 0;
}
