/* The configuration file's text before inih reads it: line lengths and NUL bytes, the section
 * headers (source names well formed, each once); which section a header names; environment
 * variable names. Private to sync/. */
#ifndef SSYNC_CONFIG_TEXT_H
#define SSYNC_CONFIG_TEXT_H

#include "sync/config.h"

#include <stddef.h>

/* [A-Za-z_][A-Za-z0-9_]*, 1 to 64 characters */
int ssync_config_env_name_ok(const char *s);

/* Every line (comments too) fits inih's buffer, no NUL byte: else "FILE:LINE: reason". */
ssync_code ssync_config_check_lines(const char *name, const char *text, size_t len,
                                    ssync_error *err);

typedef enum { SEC_OTHER, SEC_SOURCE, SEC_NAMED, SEC_BAD_NAME } section_kind;

/* What a section header holds (inih passes the text between the brackets as it is, quotes
 * included): name receives NAME of [source "NAME"] (size: at least 65). */
section_kind ssync_config_section_kind(const char *section, char *name, size_t size);

/* Refuses, with "FILE:LINE: ...", a [source "NAME"] whose name is malformed or given twice, more
 * than SSYNC_CFG_MAX_SOURCES of them, and [source "default"] beside [source]. */
ssync_code ssync_config_check_sections(const char *name, const char *text, size_t len,
                                       ssync_error *err);

#endif
