/* Reading inputs and writing outputs safely: bounded reads, atomic writes (temporary file in the
 * same directory, fsync, rename), 0600 for anything that holds a secret. */
#ifndef SSYNC_FILEIO_H
#define SSYNC_FILEIO_H

#include "common/errors.h"

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define SSYNC_MAX_INPUT_FILE (16u * 1024u * 1024u)

typedef struct ssync_buf {
    unsigned char *data;
    size_t len;
} ssync_buf;

/* Read a whole regular file (at most max bytes). buf->data is NUL-terminated (not counted in len).
 */
ssync_code ssync_read_file(const char *path, size_t max, ssync_buf *buf, ssync_error *err);
/* The same for an entry of a directory others may fill (a blob directory): a symbolic link is not
 * followed and nothing but a regular file is opened (O_NOFOLLOW|O_NONBLOCK, checked before and
 * after the open), so a FIFO cannot block the caller; the error names the path and what it is
 * ("DIR/x.rsp: a FIFO, not a regular file: skipped"). */
ssync_code ssync_read_untrusted_file(const char *path, size_t max, ssync_buf *buf,
                                     ssync_error *err);
/* What a file of this st_mode is, in words: "a regular file", "a symbolic link", "a FIFO", ... */
const char *ssync_file_kind(unsigned mode);
/* SSYNC_ERR_FILE_PERMS when group or others may access the file or it belongs to another user
 * (not root), as ssh refuses private keys; for a file found to hold a private key. The message
 * does not repeat the path (the caller prefixes it). */
ssync_code ssync_check_private_file(const char *path, ssync_error *err);
/* SSYNC_ERR_FILE_PERMS when group or others may write path (file or directory) or it belongs
 * to another user than this one or root: the rule of ssh's StrictModes, for whatever decides
 * what the program does (journal, state and report directories, configuration, trust anchors,
 * records). path is followed (the file read is checked); what names it in the message ("journal
 * directory"). SSYNC_ERR_FILE_OPEN when it cannot be found. */
ssync_code ssync_check_trusted_path(const char *path, const char *what, ssync_error *err);
/* The same on an open descriptor (path and what for the message): the file checked is the file
 * read. */
ssync_code ssync_check_trusted_fd(int fd, const char *path, const char *what, ssync_error *err);
/* ssync_read_file for a file that decides what the program does (connector key, CRL): refused
 * as ssync_check_trusted_path refuses it, checked on the open file. */
ssync_code ssync_read_trusted_file(const char *path, size_t max, const char *what, ssync_buf *buf,
                                   ssync_error *err);
/* The same for the directory that holds path ("." when path has no '/'). */
ssync_code ssync_check_trusted_parent(const char *path, const char *what, ssync_error *err);
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

/* Many files into one directory, made durable together (group commit): each add writes a
 * temporary file next to its final name (O_EXCL, mode) without syncing it; commit syncs the file
 * system once (syncfs), renames every file into place and syncs the directory. A final name
 * never holds a partial file; one sync serves the whole batch instead of one fsync per file.
 * commit sets *committed (may be NULL) to the number of files, in the order added, that are in
 * place: all of them on success; on failure the rest of the batch is removed (a failed sync
 * places none, a failed rename the ones before it). abort removes every pending file. */
typedef struct ssync_file_batch {
    int dirfd;
    char *dir;
    size_t n, cap;
    struct ssync_batch_file {
        char *tmp, *path;
    } * files;
} ssync_file_batch;
ssync_code ssync_file_batch_init(ssync_file_batch *b, const char *dir, ssync_error *err);
/* name: a file name inside the directory (no '/'). */
ssync_code ssync_file_batch_add(ssync_file_batch *b, const char *name, const void *data, size_t len,
                                unsigned mode, ssync_error *err);
ssync_code ssync_file_batch_commit(ssync_file_batch *b, size_t *committed, ssync_error *err);
void ssync_file_batch_abort(ssync_file_batch *b);
/* Aborts what is pending and releases the batch. */
void ssync_file_batch_free(ssync_file_batch *b);

/* Removes the temporary files a killed writer left in dir (ssync_write_file_atomic,
 * ssync_atomic_open and batches name them ".NAME.tmp.PID.N"): only names of that pattern, regular
 * files (not followed) owned by this user, last modified before `before`, whose PID is no longer
 * running. Returns how many were removed, -1 when dir cannot be read. */
int ssync_clean_stale_temps(const char *dir, time_t before);

/* The last path component, for messages ("dir/x.der" -> "x.der"); never NULL. */
const char *ssync_basename(const char *path);

#endif
