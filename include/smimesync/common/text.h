/* Small text files an administrator edits by hand: lines and CSV fields, split in place. */
#ifndef SSYNC_TEXT_H
#define SSYNC_TEXT_H

#include <stddef.h>

/* Strips leading and trailing blanks (space, tab, CR) in place; returns the first kept byte. */
char *ssync_text_trim(char *s);

/* The next meaningful line of a text buffer: *pos advances past it, *lineno counts every line.
 * Leading/trailing blanks and a CR are stripped, blank lines and '#' comments skipped, a UTF-8
 * BOM at the very start ignored. Writes NULs into text. NULL at the end. */
char *ssync_text_next_line(char *text, size_t len, size_t *pos, size_t *lineno);

/* Splits one CSV line in place (RFC 4180: "..." quoting with "" for a quote, no line breaks
 * inside a field, no quote inside an unquoted field). Returns the field count, or -1 on bad
 * quoting or more than max fields. */
int ssync_csv_split(char *line, char **fields, int max);

#endif
