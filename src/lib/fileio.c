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

ssync_code ssync_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                                   ssync_error *err)
{
    if (!path || (!data && len))
        return ssync_fail(err, SSYNC_ERR_ARG, "no output file given");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", path);
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
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", path, strerror(e));
    }
    /* the umask may have narrowed the mode; it may never widen it, so set it exactly */
    if (fchmod(fd, (mode_t)mode) != 0)
        goto fail;
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return SSYNC_OK;
fail : {
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", path, strerror(e));
}
}

const char *ssync_basename(const char *path)
{
    if (!path)
        return "";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
