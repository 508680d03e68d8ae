#include "journal/journal.h"

#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Statements are prepared once per journal and reset after each use: a sync runs the same
 * few statements once or twice per record, and preparing one costs more than running it. */
#define STMT_CACHE 24

struct ssync_journal {
    sqlite3 *db;
    int in_tx;
    struct {
        const char *sql; /* the statement's text, a string literal: the key is its address */
        sqlite3_stmt *st;
    } stmts[STMT_CACHE];
};

static const char *const schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;" /* with WAL: durable against a process crash (kill -9) */
    /* checkpoint every 1 MiB of WAL (default 4 MiB): the journal's disk use stays small */
    "PRAGMA wal_autocheckpoint=256;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS runs("
    "  id INTEGER PRIMARY KEY, command TEXT NOT NULL, started REAL NOT NULL,"
    "  finished REAL, summary TEXT);"
    "CREATE TABLE IF NOT EXISTS ops("
    "  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  action TEXT NOT NULL CHECK(action IN ('upload','remove')),"
    "  outcome TEXT NOT NULL CHECK(outcome IN ('pending','done','failed','ambiguous')),"
    "  upn TEXT NOT NULL, thumbprint TEXT NOT NULL, record_id TEXT,"
    "  client_request_id TEXT, request_id TEXT, http_status INTEGER, error TEXT,"
    "  created REAL NOT NULL, updated REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ops_unsettled ON ops(outcome) WHERE outcome IN "
    "  ('pending','ambiguous');"
    "CREATE INDEX IF NOT EXISTS ops_item ON ops(upn, thumbprint);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS user_cache(kind TEXT NOT NULL, key TEXT NOT NULL,"
    "  id TEXT NOT NULL, upn TEXT NOT NULL, mail TEXT, via TEXT, stored REAL NOT NULL,"
    "  PRIMARY KEY(kind, key));"
    "CREATE TABLE IF NOT EXISTS scan_cache(path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL, kras TEXT NOT NULL, facts TEXT NOT NULL);"
    "PRAGMA user_version=1;";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static ssync_code db_fail(ssync_journal *j, ssync_error *err, const char *what)
{
    return ssync_fail(err, SSYNC_ERR_STATE, "%s: %s", what,
                      j && j->db ? sqlite3_errmsg(j->db) : "no database");
}

const char *ssync_op_action_name(ssync_op_action a)
{
    return a == SSYNC_OP_REMOVE ? "remove" : "upload";
}

const char *ssync_op_outcome_name(ssync_op_outcome o)
{
    static const char *const names[] = {"pending", "done", "failed", "ambiguous"};
    return (unsigned)o < 4 ? names[o] : "pending";
}

static ssync_op_outcome outcome_from(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, ssync_op_outcome_name((ssync_op_outcome)i)))
            return (ssync_op_outcome)i;
    return SSYNC_OUTCOME_PENDING;
}

ssync_code ssync_journal_open(const char *path, ssync_journal **out, ssync_error *err)
{
    if (!path || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no journal path");
    *out = NULL;
    /* The journal decides who receives a key: it, and the directory that holds it (SQLite
     * writes its -wal and -shm files there), are refused as ssh refuses a writable home
     * (group or others may write, another user owns it); never through a symbolic link. */
    ssync_code trc = ssync_check_trusted_parent(path, "journal directory", err);
    if (trc == SSYNC_ERR_FILE_PERMS)
        return trc; /* a missing directory: said by the open below */
    /* create the file 0600 ourselves: SQLite would use the umask */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return ssync_fail(err, SSYNC_ERR_STATE, "%s: cannot open the journal: %s", path,
                          errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
    trc = ssync_check_trusted_fd(fd, path, "journal", err);
    close(fd);
    if (trc != SSYNC_OK)
        return trc;
    ssync_journal *j = calloc(1, sizeof *j);
    if (!j)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "journal");
    if (sqlite3_open_v2(path, &j->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
                        NULL) != SQLITE_OK) {
        ssync_code rc = ssync_fail(err, SSYNC_ERR_STATE, "%s: %s", path,
                                   j->db ? sqlite3_errmsg(j->db) : "cannot open");
        ssync_journal_close(j);
        return rc;
    }
    sqlite3_busy_timeout(j->db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(j->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        ssync_code rc = ssync_fail(err, SSYNC_ERR_STATE, "%s: %s", path, msg ? msg : "schema");
        sqlite3_free(msg);
        ssync_journal_close(j);
        return rc;
    }
    *out = j;
    return SSYNC_OK;
}

void ssync_journal_close(ssync_journal *j)
{
    if (!j)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(j->stmts[i].st);
    sqlite3_close_v2(j->db);
    free(j);
}

/* The prepared statement for sql (a string literal), reset and without bindings; NULL on error.
 * Give it back with done(). */
static sqlite3_stmt *stmt(ssync_journal *j, const char *sql)
{
    int i = 0;
    for (; i < STMT_CACHE && j->stmts[i].sql; i++)
        if (j->stmts[i].sql == sql)
            return j->stmts[i].st;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (i < STMT_CACHE) {
        j->stmts[i].sql = sql;
        j->stmts[i].st = st;
    }
    return st;
}

/* Ends a use of a statement from stmt(): reset for the next (finalized when the cache was full). */
static void done(ssync_journal *j, sqlite3_stmt *st)
{
    for (int i = 0; i < STMT_CACHE && j->stmts[i].sql; i++)
        if (j->stmts[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    sqlite3_finalize(st);
}

int ssync_journal_prepared(ssync_journal *j)
{
    int n = 0;
    for (sqlite3_stmt *st = j ? sqlite3_next_stmt(j->db, NULL) : NULL; st;
         st = sqlite3_next_stmt(j->db, st))
        n++;
    return n;
}

/* Prepares sql, binds the text/int arguments described by types ('t' text, 'i' int64, 'd'
 * double), steps once. Returns SQLITE_DONE or SQLITE_ROW state through *stmt_out when wanted. */
static ssync_code run(ssync_journal *j, ssync_error *err, const char *what, const char *sql,
                      const char *types, ...)
{
    sqlite3_stmt *st = stmt(j, sql);
    if (!st)
        return db_fail(j, err, what);
    va_list ap;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        int rc = SQLITE_OK;
        if (types[i] == 't') {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
        } else if (types[i] == 'i') {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            rc = sqlite3_bind_double(st, i + 1, va_arg(ap, double));
        }
        if (rc != SQLITE_OK) {
            va_end(ap);
            ssync_code code = db_fail(j, err, what);
            done(j, st);
            return code;
        }
    }
    va_end(ap);
    int rc = sqlite3_step(st);
    ssync_code code = rc != SQLITE_DONE && rc != SQLITE_ROW ? db_fail(j, err, what) : SSYNC_OK;
    done(j, st);
    return code;
}

ssync_code ssync_journal_run_begin(ssync_journal *j, const char *command, int64_t *run_id,
                                   ssync_error *err)
{
    if (!j || !command || !run_id)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal run");
    ssync_code rc = run(j, err, "start run", "INSERT INTO runs(command, started) VALUES(?,?)", "td",
                        command, now());
    if (rc == SSYNC_OK)
        *run_id = sqlite3_last_insert_rowid(j->db);
    return rc;
}

ssync_code ssync_journal_run_end(ssync_journal *j, int64_t run_id, const char *summary,
                                 ssync_error *err)
{
    if (!j)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal run");
    return run(j, err, "end run", "UPDATE runs SET finished=?, summary=? WHERE id=?", "dti", now(),
               summary, run_id);
}

ssync_code ssync_journal_intent(ssync_journal *j, int64_t run_id, ssync_op_action action,
                                const char *upn, const char *thumbprint, const char *record_id,
                                const char *client_request_id, int64_t *op_id, ssync_error *err)
{
    if (!j || !upn || !thumbprint || !op_id)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal intent");
    double t = now();
    ssync_code rc = run(j, err, "record intent",
                        "INSERT INTO ops(run_id, action, outcome, upn, thumbprint, record_id, "
                        "client_request_id, created, updated) VALUES(?,?,'pending',?,?,?,?,?,?)",
                        "itttttdd", run_id, ssync_op_action_name(action), upn, thumbprint,
                        record_id, client_request_id, t, t);
    if (rc == SSYNC_OK)
        *op_id = sqlite3_last_insert_rowid(j->db);
    return rc;
}

ssync_code ssync_journal_outcome(ssync_journal *j, int64_t op_id, ssync_op_outcome outcome,
                                 int http_status, const char *request_id, const char *error,
                                 ssync_error *err)
{
    if (!j)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal outcome");
    return run(j, err, "record outcome",
               "UPDATE ops SET outcome=?, http_status=?, request_id=?, error=?, updated=? "
               "WHERE id=?",
               "tittdi", ssync_op_outcome_name(outcome), (int64_t)http_status, request_id, error,
               now(), op_id);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

ssync_code ssync_journal_unsettled(ssync_journal *j, int (*fn)(void *ctx, const ssync_op *op),
                                   void *ctx, ssync_error *err)
{
    if (!j || !fn)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal query");
    sqlite3_stmt *st = stmt(j, "SELECT id, run_id, action, outcome, upn, thumbprint, record_id, "
                               "client_request_id, request_id, http_status, error FROM ops "
                               "WHERE outcome IN ('pending','ambiguous') ORDER BY id");
    if (!st)
        return db_fail(j, err, "list unsettled operations");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ssync_op op;
        memset(&op, 0, sizeof op);
        op.id = sqlite3_column_int64(st, 0);
        op.run_id = sqlite3_column_int64(st, 1);
        const char *action = (const char *)sqlite3_column_text(st, 2);
        op.action = action && !strcmp(action, "remove") ? SSYNC_OP_REMOVE : SSYNC_OP_UPLOAD;
        op.outcome = outcome_from((const char *)sqlite3_column_text(st, 3));
        copy_col(op.upn, sizeof op.upn, st, 4);
        copy_col(op.thumbprint, sizeof op.thumbprint, st, 5);
        copy_col(op.record_id, sizeof op.record_id, st, 6);
        copy_col(op.client_request_id, sizeof op.client_request_id, st, 7);
        copy_col(op.request_id, sizeof op.request_id, st, 8);
        op.http_status = sqlite3_column_int(st, 9);
        copy_col(op.error, sizeof op.error, st, 10);
        if (!fn(ctx, &op))
            break;
    }
    ssync_code code = rc != SQLITE_ROW && rc != SQLITE_DONE
                          ? db_fail(j, err, "list unsettled operations")
                          : SSYNC_OK;
    done(j, st);
    return code;
}

ssync_code ssync_journal_settle(ssync_journal *j, ssync_op_action action, const char *upn,
                                const char *thumbprint, ssync_op_outcome outcome, const char *note,
                                ssync_error *err)
{
    if (!j || !upn || !thumbprint)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal settle");
    return run(j, err, "settle operation",
               "UPDATE ops SET outcome=?, error=coalesce(?, error), updated=? WHERE action=? AND "
               "upn=? AND thumbprint=? AND outcome IN ('pending','ambiguous')",
               "ttdttt", ssync_op_outcome_name(outcome), note, now(), ssync_op_action_name(action),
               upn, thumbprint);
}

ssync_code ssync_journal_tx_begin(ssync_journal *j, ssync_error *err)
{
    if (!j || j->in_tx)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal transaction already open");
    ssync_code rc = run(j, err, "begin transaction", "BEGIN IMMEDIATE", "");
    if (rc == SSYNC_OK)
        j->in_tx = 1;
    return rc;
}

ssync_code ssync_journal_tx_commit(ssync_journal *j, ssync_error *err)
{
    if (!j || !j->in_tx)
        return ssync_fail(err, SSYNC_ERR_ARG, "no journal transaction open");
    j->in_tx = 0;
    return run(j, err, "commit", "COMMIT", "");
}

ssync_code ssync_journal_meta_get(ssync_journal *j, const char *key, char **value, ssync_error *err)
{
    if (!j || !key || !value)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal meta");
    *value = NULL;
    sqlite3_stmt *st = stmt(j, "SELECT value FROM meta WHERE key=?");
    if (!st)
        return db_fail(j, err, "read meta");
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        *value = strdup(v ? (const char *)v : "");
    }
    ssync_code code =
        rc != SQLITE_ROW && rc != SQLITE_DONE ? db_fail(j, err, "read meta") : SSYNC_OK;
    done(j, st);
    if (code != SSYNC_OK)
        return code;
    if (rc == SQLITE_ROW && !*value)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "meta");
    return SSYNC_OK;
}

ssync_code ssync_journal_meta_set(ssync_journal *j, const char *key, const char *value,
                                  ssync_error *err)
{
    if (!j || !key || !value)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal meta");
    return run(j, err, "write meta",
               "INSERT INTO meta(key, value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET "
               "value=excluded.value",
               "tt", key, value);
}

/* The cache key: ASCII lowercase (UPNs and addresses compare that way in Entra ID). */
static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

ssync_code ssync_journal_user_get(ssync_journal *j, const char *kind, const char *key,
                                  double not_before, ssync_cached_user *out, int *found,
                                  ssync_error *err)
{
    if (!j || !kind || !key || !out || !found)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal user cache");
    *found = 0;
    memset(out, 0, sizeof *out);
    char *k = lower_dup(key);
    if (!k)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user cache");
    sqlite3_stmt *st =
        stmt(j, "SELECT id, upn, mail, via FROM user_cache WHERE kind=? AND key=? AND stored>=?");
    int rc = st ? SQLITE_OK : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, k, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(st, 3, not_before);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_col(out->id, sizeof out->id, st, 0);
        copy_col(out->upn, sizeof out->upn, st, 1);
        copy_col(out->mail, sizeof out->mail, st, 2);
        copy_col(out->via, sizeof out->via, st, 3);
        *found = 1;
    }
    free(k);
    ssync_code code =
        rc != SQLITE_ROW && rc != SQLITE_DONE ? db_fail(j, err, "read user cache") : SSYNC_OK;
    if (st)
        done(j, st);
    return code;
}

ssync_code ssync_journal_user_put(ssync_journal *j, const char *kind, const char *key,
                                  const ssync_cached_user *u, double when, ssync_error *err)
{
    if (!j || !kind || !key || !u)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal user cache");
    char *k = lower_dup(key);
    if (!k)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user cache");
    ssync_code rc = run(j, err, "write user cache",
                        "INSERT INTO user_cache(kind, key, id, upn, mail, via, stored) "
                        "VALUES(?,?,?,?,?,?,?) ON CONFLICT(kind, key) DO UPDATE SET "
                        "id=excluded.id, upn=excluded.upn, mail=excluded.mail, "
                        "via=excluded.via, stored=excluded.stored",
                        "ttttttd", kind, k, u->id, u->upn, u->mail, u->via, when);
    free(k);
    return rc;
}

ssync_code ssync_journal_user_prune(ssync_journal *j, double before, ssync_error *err)
{
    if (!j)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal user cache");
    return run(j, err, "prune user cache", "DELETE FROM user_cache WHERE stored<?", "d", before);
}

ssync_code ssync_journal_scan_get(ssync_journal *j, const char *path, long long size,
                                  long long mtime_ns, const char *kras, char **facts,
                                  ssync_error *err)
{
    if (!j || !path || !kras || !facts)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal scan cache");
    *facts = NULL;
    sqlite3_stmt *st = stmt(j, "SELECT facts FROM scan_cache WHERE path=? AND size=? AND "
                               "mtime_ns=? AND kras=?");
    if (!st)
        return db_fail(j, err, "read scan cache");
    ssync_code code = SSYNC_OK;
    int rc = SQLITE_ERROR;
    if (sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, size) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, mtime_ns) != SQLITE_OK ||
        sqlite3_bind_text(st, 4, kras, -1, SQLITE_STATIC) != SQLITE_OK ||
        ((rc = sqlite3_step(st)) != SQLITE_ROW && rc != SQLITE_DONE))
        code = db_fail(j, err, "read scan cache");
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        if (v && !(*facts = strdup((const char *)v)))
            code = ssync_fail(err, SSYNC_ERR_NOMEM, "scan cache");
    }
    done(j, st);
    return code;
}

ssync_code ssync_journal_scan_put(ssync_journal *j, const char *path, long long size,
                                  long long mtime_ns, const char *kras, const char *facts,
                                  ssync_error *err)
{
    if (!j || !path || !kras || !facts)
        return ssync_fail(err, SSYNC_ERR_ARG, "journal scan cache");
    return run(j, err, "write scan cache",
               "INSERT INTO scan_cache(path, size, mtime_ns, kras, facts) VALUES(?,?,?,?,?) "
               "ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns, "
               "kras=excluded.kras, facts=excluded.facts",
               "tiitt", path, (int64_t)size, (int64_t)mtime_ns, kras, facts);
}
