/* Lines and CSV fields of hand-edited text files (see text.h). */
#include "common/text.h"

#include <string.h>

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

char *ssync_text_trim(char *s)
{
    while (blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

char *ssync_text_next_line(char *text, size_t len, size_t *pos, size_t *lineno)
{
    if (*pos == 0 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        *pos = 3;
    while (*pos < len) {
        char *start = text + *pos;
        char *nl = memchr(start, '\n', len - *pos);
        size_t n = nl ? (size_t)(nl - start) : len - *pos;
        start[n] = '\0';
        *pos += n + (nl ? 1 : 0);
        (*lineno)++;
        char *line = ssync_text_trim(start);
        if (*line && *line != '#')
            return line;
    }
    return NULL;
}

int ssync_csv_split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return -1;
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;; p++) {
                if (*p == '\0')
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p++;
                } else if (*p == '"') {
                    break;
                } else {
                    *w++ = *p;
                }
            }
            *w = '\0';
            p++;
            if (*p == '\0')
                return n;
            if (*p != ',')
                return -1;
            p++;
            continue;
        }
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            return strchr(p, '"') ? -1 : n;
        *c = '\0';
        if (strchr(p, '"'))
            return -1;
        p = c + 1;
    }
}
