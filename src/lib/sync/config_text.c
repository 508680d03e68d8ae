/* The configuration file's text before inih reads it (lines, section headers), names of
 * environment variables, and the sources of a configuration (see config.h). */
#include "sync/config_text.h"

#include <ini.h>
#include <stdio.h>
#include <string.h>

/* [A-Za-z_][A-Za-z0-9_]*, 1 to 64 characters */
int ssync_config_env_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!(s[n] == '_' || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
              (n > 0 && s[n] >= '0' && s[n] <= '9')))
            return 0;
    return n > 0 && n <= 64;
}

const char *ssync_env_name_shown(const char *name)
{
    if (!name || !ssync_config_env_name_ok(name))
        return "(name not shown)";
    for (const char *p = name; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            return "(name not shown: not in capitals, it might be the secret itself)";
    return name;
}

/* inih reads a line into a buffer of INI_MAX_LINE bytes and parses what does not fit as one
 * more line: the tail of a long comment became a live setting, a long pkcs11: URI was cut. Every
 * line (comments too) must fit, and a NUL byte (which would end a value early) is refused. */
#define MAX_LINE (INI_MAX_LINE - 2) /* bytes before the '\n' */

ssync_code ssync_config_check_lines(const char *name, const char *text, size_t len,
                                    ssync_error *err)
{
    size_t line = 1, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] == '\0')
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: a NUL byte in the line: refused (a value would end early)",
                              name, line);
        if (i < len && text[i] != '\n')
            continue;
        if (i - start > MAX_LINE)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: the line is longer than %d bytes: refused (shorten it; a "
                              "longer line would be split)",
                              name, line, MAX_LINE);
        line++;
        start = i + 1;
    }
    return SSYNC_OK;
}

/* [source "NAME"]: 1 to SSYNC_SOURCE_NAME_MAX of these (inih keeps 49 bytes of a section
 * header), so a name is safe in a report, a log line, a file name
 * and a journal key */
static int source_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* What a section header holds (inih passes the text between the brackets as it is, quotes
 * included): name receives NAME of [source "NAME"]. */
section_kind ssync_config_section_kind(const char *section, char *name, size_t size)
{
    if (strcmp(section, "source") == 0)
        return SEC_SOURCE;
    if (strncmp(section, "source", 6) != 0 || (section[6] != ' ' && section[6] != '\t'))
        return SEC_OTHER;
    const char *p = section + 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t len = strlen(p);
    if (len < 3 || p[0] != '"' || p[len - 1] != '"' || len - 2 > SSYNC_SOURCE_NAME_MAX ||
        len - 2 >= size)
        return SEC_BAD_NAME;
    for (size_t i = 1; i + 1 < len; i++)
        if (!source_name_char(p[i]))
            return SEC_BAD_NAME;
    memcpy(name, p + 1, len - 2);
    name[len - 2] = '\0';
    return SEC_NAMED;
}

size_t ssync_config_source_count(const ssync_config *cfg)
{
    if (!cfg)
        return 0;
    return cfg->n_named + (cfg->source_given || cfg->n_named == 0);
}

const ssync_source_cfg *ssync_config_source_at(const ssync_config *cfg, size_t i)
{
    if (!cfg || i >= ssync_config_source_count(cfg))
        return NULL;
    int with_default = cfg->source_given || cfg->n_named == 0;
    if (with_default && i == 0)
        return &cfg->source;
    return &cfg->named[i - (size_t)with_default];
}

/* The section headers before any key: a [source "NAME"] with a bad or repeated name is refused
 * with its line (inih does not say where a section starts, and an empty section has no key). */
ssync_code ssync_config_check_sections(const char *name, const char *text, size_t len,
                                       ssync_error *err)
{
    char seen[SSYNC_CFG_MAX_SOURCES + 1][80];
    size_t n = 0, line = 0;
    int plain = 0, after_key = 0;
    for (size_t i = 0; i < len; line++) {
        const char *start = text + i, *nl = memchr(start, '\n', len - i);
        size_t l = nl ? (size_t)(nl - start) : len - i;
        i += l + 1;
        int indented = l && (*start == ' ' || *start == '\t');
        while (l && (*start == ' ' || *start == '\t'))
            start++, l--;
        while (l && start[l - 1] == '\r')
            l--;
        /* as inih reads it: comments, and an indented line after a key (a continuation) */
        if (!l || *start == ';' || *start == '#' || (after_key && indented))
            continue;
        after_key = *start != '[';
        const char *close = *start == '[' ? memchr(start, ']', l) : NULL;
        if (!close || close - start - 1 >= 200)
            continue;
        char section[200], src[80];
        memcpy(section, start + 1, (size_t)(close - start - 1));
        section[close - start - 1] = '\0';
        section_kind kind = ssync_config_section_kind(section, src, sizeof src);
        if (kind == SEC_SOURCE)
            plain = 1;
        for (char *c = section; *c; c++) /* shown in a message: printable ASCII only */
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                *c = '?';
        if (kind == SEC_BAD_NAME)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: [%s]: not a source name: write [source \"NAME\"] with "
                              "1 to 32 letters, digits, '.', '_' or '-'",
                              name, line + 1, section);
        if (kind != SEC_NAMED)
            continue;
        for (size_t k = 0; k < n; k++)
            if (strcmp(seen[k], src) == 0)
                return ssync_fail(err, SSYNC_ERR_CONFIG,
                                  "%s:%zu: [source \"%s\"]: a source of that name is already "
                                  "defined (each source section once, each name once)",
                                  name, line + 1, src);
        if (n == SSYNC_CFG_MAX_SOURCES)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: more than %d [source \"NAME\"] sections", name, line + 1,
                              SSYNC_CFG_MAX_SOURCES);
        snprintf(seen[n++], sizeof seen[0], "%s", src);
    }
    for (size_t k = 0; plain && k < n; k++)
        if (strcmp(seen[k], SSYNC_SOURCE_DEFAULT_NAME) == 0)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s: [source \"%s\"] and [source] are the same source (the single "
                              "[source] is named \"%s\"): rename one",
                              name, SSYNC_SOURCE_DEFAULT_NAME, SSYNC_SOURCE_DEFAULT_NAME);
    return SSYNC_OK;
}
