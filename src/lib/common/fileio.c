#define _POSIX_C_SOURCE 200809L
/* syncfs(2): one sync of the file system for a batch of files */
#define _GNU_SOURCE
#include "common/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files holding secrets are refused as ssh refuses private keys: group or others may read or
 * write it, or it belongs to another user (who could loosen it at any time). One exception, as
 * PostgreSQL allows for its server key: a file root owns may be group-readable (0640) by the
 * service's own group when the service runs as another user (root:smimesync 0640, what the
 * install guide says). Checked on the open descriptor, so the file checked is the file read. */
static ssync_code check_secret_mode(const char *path, const struct stat *st, int name_it,
                                    ssync_error *err)
{
    const char *p = name_it ? path : "", *sep = name_it ? ": " : "";
    int service_group = st->st_uid == 0 && geteuid() != 0 && st->st_gid == getegid();
    mode_t forbidden = service_group ? 037 : 077;
    if (st->st_mode & forbidden)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "%s%smode %03o: group or others may access this secret (chmod 600 %s%s)",
                          p, sep, (unsigned)(st->st_mode & 0777), ssync_basename(path),
                          service_group ? ", or 640 root:<this service's group>" : "");
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "%s%sowned by uid %u, not by this user or root: refused for a secret", p,
                          sep, (unsigned)st->st_uid);
    return SSYNC_OK;
}

/* Files and directories that decide what happens (the journal, its directory, reports, the
 * configuration, trust anchors, records to upload) are refused as ssh's StrictModes refuses them:
 * group or others may write it, or it belongs to another user than this one or root (who could
 * loosen it, or replace its content, at any time). */
static ssync_code check_trusted(const char *path, const char *what, const struct stat *st,
                                ssync_error *err)
{
    if (st->st_mode & 022)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "%s %s: mode %03o: group or others may write it (chmod go-w %s)", what,
                          path, (unsigned)(st->st_mode & 0777), path);
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "%s %s: owned by uid %u, not by this user or root: refused", what, path,
                          (unsigned)st->st_uid);
    return SSYNC_OK;
}

ssync_code ssync_check_trusted_path(const char *path, const char *what, ssync_error *err)
{
    struct stat st;
    if (!what)
        what = "file";
    if (!path || stat(path, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s %s: %s", what, path ? path : "(none)",
                          strerror(errno));
    return check_trusted(path, what, &st, err);
}

ssync_code ssync_check_trusted_fd(int fd, const char *path, const char *what, ssync_error *err)
{
    struct stat st;
    if (!what)
        what = "file";
    if (fstat(fd, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s %s: %s", what, path ? path : "(none)",
                          strerror(errno));
    return check_trusted(path ? path : "(none)", what, &st, err);
}

ssync_code ssync_check_trusted_parent(const char *path, const char *what, ssync_error *err)
{
    if (!path)
        return ssync_fail(err, SSYNC_ERR_ARG, "no path given");
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ssync_check_trusted_path(".", what, err);
    if (slash == path)
        return ssync_check_trusted_path("/", what, err);
    char *dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", path);
    ssync_code rc = ssync_check_trusted_path(dir, what, err);
    free(dir);
    return rc;
}

/* READ_SECRET: the secret-file rule; READ_UNTRUSTED: an entry of a directory others fill (only
 * a regular file, never through a link); what, when not NULL: the trusted-file rule naming it */
enum { READ_SECRET = 1, READ_UNTRUSTED = 2 };

static ssync_code read_file(const char *path, size_t max, int flags, const char *what,
                            ssync_buf *buf, ssync_error *err);

ssync_code ssync_read_file(const char *path, size_t max, ssync_buf *buf, ssync_error *err)
{
    return read_file(path, max, 0, NULL, buf, err);
}

ssync_code ssync_read_trusted_file(const char *path, size_t max, const char *what, ssync_buf *buf,
                                   ssync_error *err)
{
    return read_file(path, max, 0, what ? what : "file", buf, err);
}

const char *ssync_file_kind(unsigned mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    return "not a regular file";
}

ssync_code ssync_read_untrusted_file(const char *path, size_t max, ssync_buf *buf, ssync_error *err)
{
    return read_file(path, max, READ_UNTRUSTED, NULL, buf, err);
}

ssync_code ssync_check_private_file(const char *path, ssync_error *err)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path ? path : "(none)",
                          strerror(errno));
    return check_secret_mode(path, &st, 0, err); /* the caller names the file */
}

static ssync_code read_file(const char *path, size_t max, int flags, const char *what,
                            ssync_buf *buf, ssync_error *err)
{
    if (!path || !buf)
        return ssync_fail(err, SSYNC_ERR_ARG, "no file given");
    buf->data = NULL;
    buf->len = 0;
    struct stat st;
    /* an entry of a directory others fill: what is not a regular file is neither followed nor
     * opened (a FIFO would block the open or the read for ever; a link may point anywhere) */
    if ((flags & READ_UNTRUSTED) && lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s, not a regular file: skipped", path,
                          ssync_file_kind(st.st_mode));
    int oflags = O_RDONLY | O_CLOEXEC | ((flags & READ_UNTRUSTED) ? O_NOFOLLOW | O_NONBLOCK : 0);
    int fd = open(path, oflags);
    if (fd < 0 && (flags & READ_UNTRUSTED) && errno == ELOOP)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN,
                          "%s: a symbolic link, not a regular file: "
                          "skipped",
                          path);
    if (fd < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        if (flags & READ_UNTRUSTED)
            return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s, not a regular file: skipped", path,
                              ssync_file_kind(st.st_mode));
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: not a regular file", path);
    }
    if ((flags & READ_SECRET) || what) {
        ssync_code rc = (flags & READ_SECRET) ? check_secret_mode(path, &st, 1, err)
                                              : check_trusted(path, what, &st, err);
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
    ssync_code rc = read_file(path, 64 * 1024, READ_SECRET, NULL, buf, err);
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
        /* hidden (".name.tmp.PID.N"): what a crash leaves behind is skipped by every reader
         * of a directory (sources, records) */
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int)(slash - path + 1) : 0;
        snprintf(tmp, plen + 32, "%.*s.%s.tmp.%ld.%d", dir_len, path, path + dir_len,
                 (long)getpid(), attempt);
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

/* Writes all of data to fd; 0 or an errno value. */
static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
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
    int e = write_all(fd, data, len);
    if (e) {
        temp_abort(fd, tmp);
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", path, strerror(e));
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

ssync_code ssync_file_batch_init(ssync_file_batch *b, const char *dir, ssync_error *err)
{
    if (!b || !dir)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output directory given");
    memset(b, 0, sizeof *b);
    b->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->dirfd < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", dir, strerror(errno));
    if (!(b->dir = strdup(dir))) {
        close(b->dirfd);
        b->dirfd = -1;
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", dir);
    }
    return SSYNC_OK;
}

ssync_code ssync_file_batch_add(ssync_file_batch *b, const char *name, const void *data, size_t len,
                                unsigned mode, ssync_error *err)
{
    if (!b || !b->dir || !name || !*name || strchr(name, '/') || (!data && len))
        return ssync_fail(err, SSYNC_ERR_ARG, "bad file for the batch");
    if (b->n == b->cap) {
        size_t ncap = b->cap ? 2 * b->cap : 64;
        struct ssync_batch_file *f = realloc(b->files, ncap * sizeof *f);
        if (!f)
            return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", name);
        b->files = f;
        b->cap = ncap;
    }
    size_t plen = strlen(b->dir) + strlen(name) + 2;
    char *path = malloc(plen), *tmp = NULL;
    if (!path)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", name);
    snprintf(path, plen, "%s/%s", b->dir, name);
    int fd = temp_open(path, mode, &tmp);
    if (fd < 0) {
        int e = errno;
        free(path);
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s/%s: %s", b->dir, name, strerror(e));
    }
    int e = write_all(fd, data, len);
    if (!e && close(fd) != 0)
        e = errno;
    else if (e)
        close(fd);
    if (e) {
        temp_abort(-1, tmp);
        free(path);
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s/%s: %s", b->dir, name, strerror(e));
    }
    b->files[b->n++] = (struct ssync_batch_file){tmp, path};
    return SSYNC_OK;
}

/* Removes the pending files from index `from` on (their temporary files); those before it are
 * in place and only forgotten. The batch is empty afterwards. */
static void batch_drop(ssync_file_batch *b, size_t from)
{
    for (size_t i = 0; i < from && i < b->n; i++) {
        free(b->files[i].tmp);
        free(b->files[i].path);
    }
    for (size_t i = from; i < b->n; i++) {
        unlink(b->files[i].tmp);
        free(b->files[i].tmp);
        free(b->files[i].path);
    }
    b->n = 0;
}

ssync_code ssync_file_batch_commit(ssync_file_batch *b, size_t *committed, ssync_error *err)
{
    size_t dummy;
    if (!committed)
        committed = &dummy;
    *committed = 0;
    if (!b || b->dirfd < 0)
        return ssync_fail(err, SSYNC_ERR_ARG, "no batch");
    if (!b->n)
        return SSYNC_OK;
    if (syncfs(b->dirfd) != 0) {
        int e = errno;
        batch_drop(b, 0);
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", b->dir, strerror(e));
    }
    size_t placed = 0;
    while (placed < b->n && rename(b->files[placed].tmp, b->files[placed].path) == 0)
        placed++;
    *committed = placed;
    if (placed < b->n) {
        /* the renamed ones are complete and synced: they stay; the rest is removed */
        ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", b->files[placed].path, strerror(errno));
        batch_drop(b, placed);
        return SSYNC_ERR_FILE_WRITE;
    }
    batch_drop(b, placed);
    if (fsync(b->dirfd) != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_WRITE, "%s: %s", b->dir, strerror(errno));
    return SSYNC_OK;
}

void ssync_file_batch_abort(ssync_file_batch *b)
{
    if (b)
        batch_drop(b, 0);
}

void ssync_file_batch_free(ssync_file_batch *b)
{
    if (!b)
        return;
    batch_drop(b, 0);
    free(b->files);
    free(b->dir);
    if (b->dirfd >= 0)
        close(b->dirfd);
    memset(b, 0, sizeof *b);
    b->dirfd = -1;
}

/* The PID of one of our temporary names (".NAME.tmp.PID.N", see temp_open), else 0. */
static long temp_name_pid(const char *name)
{
    size_t len = strlen(name);
    if (len < 10 || name[0] != '.')
        return 0;
    size_t i = len;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
        i--;
    if (i == len || i == 0 || name[i - 1] != '.')
        return 0;
    size_t end = --i; /* the '.' before N */
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
        i--;
    if (i == end || i < 6 || strncmp(name + i - 5, ".tmp.", 5) != 0 || i - 5 < 2)
        return 0;
    return strtol(name + i, NULL, 10);
}

int ssync_clean_stale_temps(const char *dir, time_t before)
{
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    int removed = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        long pid = temp_name_pid(ent->d_name);
        struct stat st;
        if (pid <= 0 || pid == (long)getpid() ||
            fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || st.st_mtime >= before)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its writer may still be running */
        if (unlinkat(dfd, ent->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

const char *ssync_basename(const char *path)
{
    if (!path)
        return "";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
