/* Schema migrations: server/db/migrations/NNN_name.sql applied in order at start-up, each in its
 * own transaction together with its schema_migrations row, so a restart applies nothing twice. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carillon/log.h"

#define MIGRATION_MAX_FILES 999
#define MIGRATION_MAX_BYTES (1 << 20)

struct migration {
    int version;
    char name[128];
    char path[4096];
};

/* Owned by the migration run; freed when the last migration finishes or fails. */
struct migrate_run {
    struct cr_pg *pg;
    struct migration *files;
    int nfiles;
    int next;
    int applied;
    store_done_cb cb;
    void *arg;
};

static int cmp_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Lists dir's NNN_name.sql files sorted by NNN; a malformed or duplicate name is an error. */
static int list_migrations(const char *dir, struct migration **out, int *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        int err = -errno;
        cr_log_error("migrations_unreadable", "dir=%s error=%s", cr_log_q(dir),
                     cr_log_q(strerror(-err)));
        return err;
    }
    struct migration *files = NULL;
    int n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        int version = 0, consumed = 0;
        if (sscanf(e->d_name, "%3d_%n", &version, &consumed) != 1 || consumed != 4 ||
            version <= 0 || len - 4 - 4 == 0 || len - 4 - 4 >= 120) {
            cr_log_error("migration_bad_name", "file=%s expected=NNN_name.sql",
                         cr_log_q(e->d_name));
            rc = -EINVAL;
            break;
        }
        for (size_t i = 4; i < len - 4; i++) {
            char c = e->d_name[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
                cr_log_error("migration_bad_name", "file=%s expected=NNN_name.sql (a-z 0-9 _)",
                             cr_log_q(e->d_name));
                rc = -EINVAL;
                break;
            }
        }
        if (rc)
            break;
        if (n >= MIGRATION_MAX_FILES) {
            rc = -E2BIG;
            break;
        }
        struct migration *nf = realloc(files, (size_t)(n + 1) * sizeof *files);
        if (!nf) {
            rc = -ENOMEM;
            break;
        }
        files = nf;
        files[n].version = version;
        snprintf(files[n].name, sizeof files[n].name, "%.*s", (int)(len - 8), e->d_name + 4);
        snprintf(files[n].path, sizeof files[n].path, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (!rc) {
        qsort(files, (size_t)n, sizeof *files, cmp_version);
        for (int i = 1; i < n; i++) {
            if (files[i].version == files[i - 1].version) {
                cr_log_error("migration_duplicate", "version=%03d", files[i].version);
                rc = -EINVAL;
            }
        }
    }
    if (rc) {
        free(files);
        return rc;
    }
    *out = files;
    *count = n;
    return 0;
}

/* Start-up reads of a few small local files; the loop is not serving anyone yet. */
static char *read_file(const char *path, int *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = -errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size > MIGRATION_MAX_BYTES) {
        fclose(f);
        *err = -EFBIG;
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)st.st_size) {
        free(buf);
        *err = -EIO;
        return NULL;
    }
    buf[got] = '\0';
    return buf;
}

static void run_finish(struct migrate_run *run, int err)
{
    if (!err)
        cr_log_info("migrations_done", "applied=%d total=%d", run->applied, run->nfiles);
    run->cb(run->arg, err);
    free(run->files);
    free(run);
}

static void apply_next(struct migrate_run *run);

static void on_applied(void *arg, const struct cr_pg_result *r)
{
    struct migrate_run *run = arg;
    struct migration *m = &run->files[run->next];
    if (r->status) {
        cr_log_error("migration_failed", "version=%03d name=%s sqlstate=%s message=%s", m->version,
                     m->name, r->sqlstate ? r->sqlstate : "-", cr_log_q(r->message));
        run_finish(run, r->status == -EIO ? -EIO : r->status);
        return;
    }
    /* The script answers the count of rows it inserted into schema_migrations (0 when another
     * server applied this version meanwhile). */
    cr_log_info("migration_applied", "version=%03d name=%s", m->version, m->name);
    run->applied++;
    run->next++;
    apply_next(run);
}

static void apply_next(struct migrate_run *run)
{
    if (run->next >= run->nfiles) {
        run_finish(run, 0);
        return;
    }
    struct migration *m = &run->files[run->next];
    int err = 0;
    char *body = read_file(m->path, &err);
    if (!body) {
        cr_log_error("migration_unreadable", "path=%s error=%s", cr_log_q(m->path),
                     cr_log_q(strerror(-err)));
        run_finish(run, err);
        return;
    }
    /* One transaction: the advisory lock serialises servers starting together, and the
     * schema_migrations primary key makes a second application fail instead of repeating. */
    size_t cap = strlen(body) + 512;
    char *script = malloc(cap);
    if (!script) {
        free(body);
        run_finish(run, -ENOMEM);
        return;
    }
    snprintf(script, cap,
             "BEGIN;\nSELECT pg_advisory_xact_lock(7001);\n%s\n;\n"
             "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s');\nCOMMIT;\n",
             body, m->version, m->name);
    free(body);
    int rc = cr_pg_exec_script(run->pg, script, on_applied, run);
    free(script);
    if (rc)
        run_finish(run, rc);
}

static void on_applied_versions(void *arg, const struct cr_pg_result *r)
{
    struct migrate_run *run = arg;
    if (r->status) {
        cr_log_error("migrations_failed", "sqlstate=%s message=%s", r->sqlstate ? r->sqlstate : "-",
                     cr_log_q(r->message));
        run_finish(run, r->status);
        return;
    }
    /* Drop the files already applied; refuse a database newer than this server. */
    const PGresult *res = r->res[r->nres - 1];
    int keep = 0;
    for (int i = 0; i < run->nfiles; i++) {
        bool done = false;
        for (int row = 0; row < PQntuples(res); row++)
            if (atoi(PQgetvalue(res, row, 0)) == run->files[i].version)
                done = true;
        if (!done)
            run->files[keep++] = run->files[i];
    }
    int known_max = run->nfiles ? run->files[run->nfiles - 1].version : 0;
    for (int row = 0; row < PQntuples(res); row++) {
        if (atoi(PQgetvalue(res, row, 0)) > known_max) {
            cr_log_error("schema_too_new",
                         "db_version=%s server_knows=%03d hint=\"upgrade carillon-server\"",
                         PQgetvalue(res, row, 0), known_max);
            run_finish(run, -EPROTO);
            return;
        }
    }
    run->nfiles = keep;
    apply_next(run);
}

int store_migrate(struct cr_pg *pg, const char *dir, store_done_cb cb, void *arg)
{
    struct migrate_run *run = calloc(1, sizeof *run);
    if (!run)
        return -ENOMEM;
    int rc = list_migrations(dir, &run->files, &run->nfiles);
    if (rc) {
        free(run);
        return rc;
    }
    run->pg = pg;
    run->cb = cb;
    run->arg = arg;
    rc = cr_pg_exec_script(pg,
                           "CREATE TABLE IF NOT EXISTS schema_migrations ("
                           " version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now());"
                           "SELECT version FROM schema_migrations ORDER BY version",
                           on_applied_versions, run);
    if (rc) {
        free(run->files);
        free(run);
    }
    return rc;
}
