/* Fuzz target: the INI configuration parser and its value checks. */
#include "sync/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    ssync_config cfg;
    ssync_error err;
    ssync_config_parse_string(text, "fuzz.ini", &cfg, &err);
    ssync_config_free(&cfg);
    free(text);
    return 0;
}
