/* Reading inputs and writing outputs safely: bounded reads, atomic writes (temporary file in the
 * same directory, fsync, rename), 0600 for anything that holds a secret. */
#ifndef SSYNC_FILEIO_H
#define SSYNC_FILEIO_H

#include "errors.h"

#include <stddef.h>
#include <stdio.h>

#define SSYNC_MAX_INPUT_FILE (16u * 1024u * 1024u)

typedef struct ssync_buf {
    unsigned char *data;
    size_t len;
} ssync_buf;

/* Read a whole regular file (at most max bytes). buf->data is NUL-terminated (not counted in len).
 */
ssync_code ssync_read_file(const char *path, size_t max, ssync_buf *buf, ssync_error *err);
/* SSYNC_ERR_FILE_PERMS when group or others may access the file or it belongs to another user
 * (not root), as ssh refuses private keys; for a file found to hold a private key. The message
 * does not repeat the path (the caller prefixes it). */
ssync_code ssync_check_private_file(const char *path, ssync_error *err);
/* Read a file that holds a secret (a password): as ssync_read_file, refused as
 * ssync_check_private_file refuses (checked on the open file), then strips one trailing "\n" or
 * "\r\n". Free with ssync_buf_free_secret. */
ssync_code ssync_read_secret_file(const char *path, ssync_buf *buf, ssync_error *err);
void ssync_buf_free(ssync_buf *buf);
/* Cleanses the bytes before freeing. */
void ssync_buf_free_secret(ssync_buf *buf);

/* Write data to path atomically: a temporary file next to it created with O_EXCL and mode
 * (0600 for secrets), fsync, rename. On any failure nothing is left at path or beside it. */
ssync_code ssync_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                                   ssync_error *err);

/* The same for output written piece by piece: f is the temporary file (mode as above); commit
 * flushes, fsyncs and renames it into place, abort removes it. Either one ends the file. */
typedef struct ssync_atomic_file {
    FILE *f;
    char *tmp, *path;
} ssync_atomic_file;
ssync_code ssync_atomic_open(const char *path, unsigned mode, ssync_atomic_file *out,
                             ssync_error *err);
ssync_code ssync_atomic_commit(ssync_atomic_file *af, ssync_error *err);
void ssync_atomic_abort(ssync_atomic_file *af);

/* The last path component, for messages ("dir/x.der" -> "x.der"); never NULL. */
const char *ssync_basename(const char *path);

#endif
