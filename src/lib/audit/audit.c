/* The audit trail's writer (see audit.h): open with its checks, one write(2) per line, the hash
 * chain carried from line to line, fdatasync on request. */
#include "audit/audit.h"

#include "audit_int.h"
#include "common/fileio.h"
#include "common/uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TAIL_MAX 65536 /* the longest line a trail may end with */

struct ssync_audit {
    int fd;
    char *path;
    char *app_id;
    char run_id[SSYNC_UUID_LEN + 1];
    char prev[SSYNC_AUDIT_HASH_HEX + 1]; /* hash of the last line */
    uint64_t seq;                        /* seq of the last line */
};

static void now_iso(char out[64])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[40];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 64, "%s.%03ldZ", base, (long)(ts.tv_nsec / 1000000) % 1000);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* Writes one line chained to a->prev, then advances the chain. */
static ssync_code write_line(ssync_audit *a, json_t *o, ssync_error *err)
{
    char when[64];
    now_iso(when);
    json_t *line = json_pack("{s:I, s:s, s:o}", "seq", (json_int_t)(a->seq + 1), "time", when,
                             "run", str_or_null(a->run_id[0] ? a->run_id : NULL));
    if (!line) {
        json_decref(o);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s: audit line", a->path);
    }
    json_object_update(line, o);
    json_decref(o);
    json_object_set_new(line, "prev", json_string(a->prev));
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s: audit line", a->path);
    size_t len = strlen(text);
    char hash[SSYNC_AUDIT_HASH_HEX + 1];
    ssync_audit_hash(text, len, hash);
    text[len] = '\n'; /* the NUL becomes the line's end: one write, whole or not at all */
    ssize_t w = write(a->fd, text, len + 1);
    int e = errno;
    free(text);
    if (w != (ssize_t)(len + 1))
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: cannot append: %s", a->path,
                          w < 0 ? strerror(e) : "short write");
    memcpy(a->prev, hash, sizeof a->prev);
    a->seq++;
    return SSYNC_OK;
}

ssync_code ssync_audit_append(ssync_audit *a, const ssync_audit_event *ev, ssync_error *err)
{
    if (!a || !ev || !ev->action)
        return ssync_fail(err, SSYNC_ERR_ARG, "audit: no trail or event");
    json_t *o =
        json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "action",
                  ev->action, "result", str_or_null(ev->result), "user", str_or_null(ev->user),
                  "thumbprint", str_or_null(ev->thumbprint), "serial", str_or_null(ev->serial),
                  "source", str_or_null(ev->source), "kra", str_or_null(ev->kra), "requestId",
                  str_or_null(ev->request_id), "httpStatus",
                  ev->http_status ? json_integer(ev->http_status) : json_null(), "recordId",
                  str_or_null(ev->record_id), "appId", str_or_null(a->app_id), "verified",
                  ev->verified, "error", str_or_null(ev->error));
    if (!o)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s: audit line", a->path);
    return write_line(a, o, err);
}

ssync_code ssync_audit_sync(ssync_audit *a, ssync_error *err)
{
    if (!a)
        return SSYNC_OK;
    if (fdatasync(a->fd) != 0)
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: cannot make durable: %s", a->path,
                          strerror(errno));
    return SSYNC_OK;
}

const char *ssync_audit_run_id(const ssync_audit *a)
{
    return a ? a->run_id : "";
}

void ssync_audit_close(ssync_audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    free(a->path);
    free(a->app_id);
    free(a);
}

/* The file's checks: a regular file of mode 0600, ours, in a directory others cannot write. */
static ssync_code check_file(int fd, const char *path, ssync_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: %s, not a regular file", path,
                          ssync_file_kind(st.st_mode));
    if ((st.st_mode & 07777) != 0600)
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: mode %04o, not 0600", path,
                          (unsigned)(st.st_mode & 07777));
    if (st.st_uid != geteuid())
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: owned by uid %ld, not by this user", path,
                          (long)st.st_uid);
    ssync_error pe = {0};
    if (ssync_check_trusted_parent(path, "audit trail directory", &pe) != SSYNC_OK)
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s", pe.msg);
    return SSYNC_OK;
}

/* Reads the last line: its seq and hash continue the chain. */
static ssync_code read_tail(ssync_audit *a, ssync_error *err)
{
    struct stat st;
    if (fstat(a->fd, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: %s", a->path, strerror(errno));
    if (st.st_size == 0)
        return ssync_fail(err, SSYNC_ERR_AUDIT,
                          "%s: empty, not a trail (smimesync audit init makes one)", a->path);
    size_t n = st.st_size > TAIL_MAX ? TAIL_MAX : (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", a->path);
    ssize_t r = pread(a->fd, buf, n, st.st_size - (off_t)n);
    ssync_code rc = SSYNC_OK;
    if (r != (ssize_t)n) {
        rc = ssync_fail(err, SSYNC_ERR_AUDIT, "%s: cannot read: %s", a->path,
                        r < 0 ? strerror(errno) : "short read");
    } else if (buf[n - 1] != '\n') {
        rc = ssync_fail(err, SSYNC_ERR_AUDIT,
                        "%s: truncated mid-line (the last line has no end): the chain cannot be "
                        "continued (smimesync audit verify shows where)",
                        a->path);
    } else {
        buf[n - 1] = '\0';
        char *start = strrchr(buf, '\n');
        start = start ? start + 1 : buf;
        if (start == buf && (size_t)st.st_size > n) {
            rc = ssync_fail(err, SSYNC_ERR_AUDIT, "%s: last line longer than %d bytes", a->path,
                            TAIL_MAX);
        } else {
            json_t *o = json_loads(start, 0, NULL);
            json_t *seq = json_object_get(o, "seq");
            if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
                !ssync_audit_hash_valid(json_string_value(json_object_get(o, "prev"))))
                rc = ssync_fail(err, SSYNC_ERR_AUDIT,
                                "%s: the last line is not an audit trail line", a->path);
            else {
                a->seq = (uint64_t)json_integer_value(seq);
                ssync_audit_hash(start, strlen(start), a->prev);
            }
            json_decref(o);
        }
    }
    free(buf);
    return rc;
}

static ssync_code new_handle(const char *path, const char *app_id, ssync_audit **out,
                             ssync_error *err)
{
    ssync_audit *a = calloc(1, sizeof *a);
    if (!a)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "audit");
    a->fd = -1;
    a->path = strdup(path);
    a->app_id = app_id ? strdup(app_id) : NULL;
    if (!a->path || (app_id && !a->app_id) || ssync_uuid4(a->run_id, err) != SSYNC_OK) {
        ssync_audit_close(a);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "audit");
    }
    *out = a;
    return SSYNC_OK;
}

ssync_code ssync_audit_open(const char *path, const char *app_id, ssync_audit **out,
                            ssync_error *err)
{
    *out = NULL;
    if (!path)
        return ssync_fail(err, SSYNC_ERR_ARG, "audit: no path");
    ssync_audit *a = NULL;
    ssync_code rc = new_handle(path, app_id, &a, err);
    if (rc != SSYNC_OK)
        return rc;
    a->fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (a->fd < 0) {
        int e = errno;
        rc = e == ENOENT ? ssync_fail(err, SSYNC_ERR_AUDIT,
                                      "%s: missing (a trail is never started silently: "
                                      "smimesync audit init makes one)",
                                      path)
                         : ssync_fail(err, SSYNC_ERR_AUDIT, "%s: cannot open for appending: %s",
                                      path, strerror(e));
    } else if ((rc = check_file(a->fd, path, err)) == SSYNC_OK) {
        rc = read_tail(a, err);
    }
    if (rc != SSYNC_OK) {
        ssync_audit_close(a);
        return rc;
    }
    *out = a;
    return SSYNC_OK;
}

ssync_code ssync_audit_create(const char *path, const char *continues, ssync_error *err)
{
    if (!path)
        return ssync_fail(err, SSYNC_ERR_ARG, "audit: no path");
    ssync_audit_check prev = {0};
    if (continues && ssync_audit_verify(continues, NULL, &prev, err) != SSYNC_OK)
        return err ? err->code : SSYNC_ERR_AUDIT;
    ssync_error pe = {0};
    if (ssync_check_trusted_parent(path, "audit trail directory", &pe) != SSYNC_OK)
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s", pe.msg);
    ssync_audit *a = NULL;
    ssync_code rc = new_handle(path, NULL, &a, err);
    if (rc != SSYNC_OK)
        return rc;
    a->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        rc = ssync_fail(err, SSYNC_ERR_AUDIT, "%s: cannot create: %s", path, strerror(errno));
        ssync_audit_close(a);
        return rc;
    }
    a->run_id[0] = '\0';
    memcpy(a->prev, continues ? prev.head : SSYNC_AUDIT_ZERO_HASH, sizeof a->prev);
    a->seq = continues ? prev.last_seq : 0;
    json_t *o = continues ? json_pack("{s:s, s:s}", "action", "rotate", "previous", continues)
                          : json_pack("{s:s}", "action", "start");
    if (fchmod(a->fd, 0600) != 0) { /* exactly 0600, whatever the umask */
        rc =
            ssync_fail(err, SSYNC_ERR_AUDIT, "%s: cannot set mode 0600: %s", path, strerror(errno));
        json_decref(o);
    } else {
        rc = o ? write_line(a, o, err) : ssync_fail(err, SSYNC_ERR_NOMEM, "audit"); /* takes o */
    }
    if (rc == SSYNC_OK)
        rc = ssync_audit_sync(a, err);
    ssync_audit_close(a);
    if (rc != SSYNC_OK)
        unlink(path);
    return rc;
}
