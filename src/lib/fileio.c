#define _POSIX_C_SOURCE 200809L
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files holding secrets are refused as ssh refuses private keys: group or others may read or
 * write it, or it belongs to another user (who could loosen it at any time). Checked on the open
 * descriptor, so the file checked is the file read. */
static ssync_code check_secret_mode(const char *path, const struct stat *st, int name_it,
                                    ssync_error *err)
{
    const char *p = name_it ? path : "", *sep = name_it ? ": " : "";
    if (st->st_mode & 077)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "%s%smode %03o: group or others may access this secret (chmod 600 %s)", p,
                          sep, (unsigned)(st->st_mode & 0777), ssync_basename(path));
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "%s%sowned by uid %u, not by this user or root: refused for a secret", p,
                          sep, (unsigned)st->st_uid);
    return SSYNC_OK;
}

static ssync_code read_file(const char *path, size_t max, int secret, ssync_buf *buf,
                            ssync_error *err);

ssync_code ssync_read_file(const char *path, size_t max, ssync_buf *buf, ssync_error *err)
{
    return read_file(path, max, 0, buf, err);
}

ssync_code ssync_check_private_file(const char *path, ssync_error *err)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path ? path : "(none)",
                          strerror(errno));
    return check_secret_mode(path, &st, 0, err); /* the caller names the file */
}

static ssync_code read_file(const char *path, size_t max, int secret, ssync_buf *buf,
                            ssync_error *err)
{
    if (!path || !buf)
        return ssync_fail(err, SSYNC_ERR_ARG, "no file given");
    buf->data = NULL;
    buf->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: not a regular file", path);
    }
    if (secret) {
        ssync_code rc = check_secret_mode(path, &st, 1, err);
        if (rc != SSYNC_OK) {
            close(fd);
            return rc;
        }
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return ssync_fail(err, SSYNC_ERR_FILE_TOO_LARGE, "%s: %lld bytes (limit %zu)", path,
                          (long long)st.st_size, max);
    }
    size_t cap = (size_t)st.st_size + 1;
    unsigned char *data = malloc(cap);
    if (!data) {
        close(fd);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", path);
    }
    size_t len = 0;
    for (;;) {
        if (len == cap - 1) {
            /* the file grew after fstat: read one more byte to find out whether it exceeds max */
            if (cap - 1 >= max + 1)
                break;
            unsigned char *bigger = realloc(data, cap * 2 > max + 2 ? max + 2 : cap * 2);
            if (!bigger) {
                free(data);
                close(fd);
                return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", path);
            }
            data = bigger;
            cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
        }
        ssize_t n = read(fd, data + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            OPENSSL_clear_free(data, cap);
            close(fd);
            return ssync_fail(err, SSYNC_ERR_FILE_READ, "%s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len > max) {
        OPENSSL_clear_free(data, cap);
        return ssync_fail(err, SSYNC_ERR_FILE_TOO_LARGE, "%s: more than %zu bytes", path, max);
    }
    data[len] = '\0';
    buf->data = data;
    buf->len = len;
    return SSYNC_OK;
}

ssync_code ssync_read_secret_file(const char *path, ssync_buf *buf, ssync_error *err)
{
    ssync_code rc = read_file(path, 64 * 1024, 1, buf, err);
    if (rc != SSYNC_OK)
        return rc;
    if (buf->len > 0 && buf->data[buf->len - 1] == '\n')
        buf->data[--buf->len] = '\0';
    if (buf->len > 0 && buf->data[buf->len - 1] == '\r')
        buf->data[--buf->len] = '\0';
    return SSYNC_OK;
}

void ssync_buf_free(ssync_buf *buf)
{
    if (buf) {
        free(buf->data);
        buf->data = NULL;
        buf->len = 0;
    }
}

void ssync_buf_free_secret(ssync_buf *buf)
{
    if (buf) {
        if (buf->data)
            OPENSSL_clear_free(buf->data, buf->len + 1);
        buf->data = NULL;
        buf->len = 0;
    }
}

/* The temporary file next to path: created with O_EXCL and exactly mode. */
static int temp_open(const char *path, unsigned mode, char **tmp_out)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, plen + 32, "%s.tmp.%ld.%d", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    /* the umask may have narrowed the mode; it may never widen it, so set it exactly */
    if (fchmod(fd, (mode_t)mode) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        errno = e;
        return -1;
    }
    *tmp_out = tmp;
    return fd;
}

/* fsync, close and rename into place; on failure the temporary file is removed. Frees tmp. */
static ssync_code temp_commit(int fd, char *tmp, const char *path, ssync_error *err)
{
    int ok = fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", path, strerror(e));
}

static void temp_abort(int fd, char *tmp)
{
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
}

ssync_code ssync_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                                   ssync_error *err)
{
    if (!path || (!data && len))
        return ssync_fail(err, SSYNC_ERR_ARG, "no output file given");
    char *tmp = NULL;
    int fd = temp_open(path, mode, &tmp);
    if (fd < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", path, strerror(errno));
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            temp_abort(fd, tmp);
            return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", path, strerror(e));
        }
        p += n;
        left -= (size_t)n;
    }
    return temp_commit(fd, tmp, path, err);
}

ssync_code ssync_atomic_open(const char *path, unsigned mode, ssync_atomic_file *out,
                             ssync_error *err)
{
    if (!path || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output file given");
    memset(out, 0, sizeof *out);
    int fd = temp_open(path, mode, &out->tmp);
    if (fd < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", path, strerror(errno));
    out->f = fdopen(fd, "w");
    out->path = strdup(path);
    if (!out->f || !out->path) {
        if (out->f)
            fclose(out->f);
        temp_abort(out->f ? -1 : fd, out->tmp);
        free(out->path);
        memset(out, 0, sizeof *out);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", path);
    }
    return SSYNC_OK;
}

ssync_code ssync_atomic_commit(ssync_atomic_file *af, ssync_error *err)
{
    if (!af || !af->f)
        return ssync_fail(err, SSYNC_ERR_ARG, "no open output file");
    int bad = fflush(af->f) != 0 || ferror(af->f);
    int e = bad ? (errno ? errno : EIO) : 0;
    int fd = dup(fileno(af->f)); /* fclose would close the descriptor temp_commit syncs */
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    af->f = NULL;
    ssync_code rc;
    if (bad || fd < 0) {
        temp_abort(fd, af->tmp);
        rc = ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", af->path, strerror(bad ? e : errno));
    } else {
        rc = temp_commit(fd, af->tmp, af->path, err);
    }
    free(af->path);
    memset(af, 0, sizeof *af);
    return rc;
}

void ssync_atomic_abort(ssync_atomic_file *af)
{
    if (!af || !af->f)
        return;
    fclose(af->f);
    temp_abort(-1, af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

const char *ssync_basename(const char *path)
{
    if (!path)
        return "";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
