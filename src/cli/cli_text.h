/* The one output filter of the CLI: every text that reaches a terminal, a text report or a log
 * line goes through it. A certificate's SAN UPN or e-mail and a blob's file name are chosen by
 * whoever made the certificate or the file: their C0/C1 controls, DEL and Unicode bidi
 * overrides could erase lines, set the window title, write the clipboard (OSC 52) or forge a
 * line. They are shown as visible escapes instead: \x1b (C0, DEL, and any byte that is not
 * UTF-8), \u0085 (C1), \u202e (U+202A-U+202E, U+2066-U+2069). */
#ifndef SSYNC_CLI_TEXT_H
#define SSYNC_CLI_TEXT_H

#include <stddef.h>

/* in, filtered, into out (NUL-terminated when size > 0; an escape is never cut in half).
 * Returns the length the whole result needs (as snprintf), so >= size means truncated. NULL in
 * is "". */
size_t cli_text_safe(char *out, size_t size, const char *in);
/* The same into a new string (free it); NULL when out of memory. */
char *cli_text_safe_dup(const char *in);
/* 1 when in needs no escape. */
int cli_text_is_safe(const char *in);

#endif
