/* carillonctl's session: the session-token file (private, written aside then renamed), logging
 * in with it or with CARILLON_USER/CARILLON_PASSWORD, and revoking a temporary session at exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "ctlutil.h"

static struct {
    bool temp_session;  /* logged in with CARILLON_USER/PASSWORD: revoked at exit */
    bool saved_session; /* logged in with the session file's token */
} state;

static int authenticate(void);

bool ctl_saved_session(void)
{
    return state.saved_session;
}

int ctl_connect_and_auth(void)
{
    static bool done;
    if (done)
        return 0; /* one connection and login per command, however many requests */
    int rc = ctl_connect();
    if (!rc)
        rc = authenticate();
    done = rc == 0;
    return rc;
}

/* --- secrets and the session file ------------------------------------------------------- */

int ctl_session_path(char *out, size_t len, bool create_dir)
{
    char dir[4096];
    int rc = ctl_session_dir(getenv("CARILLON_CONFIG_DIR"), getenv("XDG_CONFIG_HOME"),
                             getenv("HOME"), dir, sizeof dir);
    if (rc)
        return rc;
    if (create_dir) {
        /* mkdir -p, every level private: the last one holds a credential. */
        for (char *p = dir + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                    *p = '/';
                    return -errno;
                }
                *p = '/';
            }
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -errno;
    }
    if ((size_t)snprintf(out, len, "%s/session", dir) >= len)
        return -ENAMETOOLONG;
    return 0;
}

/* Reads the session saved for this server: 0; -ENOENT none (or another server's); -EPERM a
 * file that is not safe to use (the reason is printed on stderr). */
int ctl_session_load(struct ctl_session *s)
{
    char path[4200];
    if (ctl_session_path(path, sizeof path, false))
        return -ENOENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        fprintf(stderr, "carillonctl: ignoring the session file %s: %s\n", path,
                errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return -EPERM;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0)
        bad = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        bad = "not a regular file";
    else if (st.st_uid != geteuid())
        bad = "it belongs to another user";
    else if (st.st_mode & 077)
        bad = "other users may read it (chmod 600 it, or log in again)";
    else if (st.st_size >= CTL_SESSION_FILE_MAX)
        bad = "too large to be a session file";
    char buf[CTL_SESSION_FILE_MAX];
    ssize_t n = bad ? 0 : read(fd, buf, sizeof buf - 1);
    close(fd);
    if (!bad && n < 0)
        bad = strerror(errno);
    if (!bad) {
        buf[n] = '\0';
        if (ctl_session_parse(buf, s) != 0)
            bad = "not a carillonctl session file";
    }
    if (bad) {
        fprintf(stderr, "carillonctl: ignoring the session file %s: %s\n", path, bad);
        return -EPERM;
    }
    return strcmp(s->server, ctl_opt.server) == 0 ? 0 : -ENOENT;
}

int ctl_session_save(const char *login, const char *token)
{
    struct ctl_session s = {0};
    char path[4200], tmp[4300], buf[CTL_SESSION_FILE_MAX];
    snprintf(s.server, sizeof s.server, "%s", ctl_opt.server);
    snprintf(s.login, sizeof s.login, "%s", login);
    snprintf(s.token, sizeof s.token, "%s", token);
    int n = ctl_session_format(&s, buf, sizeof buf);
    if (n < 0 || strlen(token) > CTL_TOKEN_MAX)
        return -EINVAL;
    int rc = ctl_session_path(path, sizeof path, true);
    if (rc)
        return rc;
    /* Written aside then renamed: a crash never leaves half a file, and the mode is 0600
     * from the first byte (open's mode, then fchmod in case the umask or an old file got in). */
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    bool ok = fchmod(fd, 0600) == 0;
    ok = ok && write(fd, buf, (size_t)n) == n;
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        rc = errno ? -errno : -EIO;
        unlink(tmp);
        return rc;
    }
    return 0;
}

void ctl_session_remove(void)
{
    char path[4200];
    if (ctl_session_path(path, sizeof path, false) == 0)
        unlink(path);
}

/* Turns a failed secret read into a usage error naming what was wanted. */
int ctl_secret_error(int rc, const char *what, const char *where)
{
    if (rc == -EMSGSIZE)
        return ctl_usage("the %s is longer than %d bytes", what, CTL_PASSWORD_MAX);
    if (rc == -ENXIO)
        return ctl_usage("no terminal to ask the %s on", what);
    return ctl_usage("no %s given (%s)", what, where);
}

/* --- authentication --------------------------------------------------------------------- */

int ctl_login_with(const char *login, const char *password, const char *token)
{
    Carillon__V1__Login l = CARILLON__V1__LOGIN__INIT;
    l.login = (char *)login;
    if (token) {
        l.secret_case = CARILLON__V1__LOGIN__SECRET_TOKEN;
        l.token = (char *)token;
    } else {
        l.secret_case = CARILLON__V1__LOGIN__SECRET_PASSWORD;
        l.password = (char *)password;
    }
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_LOGIN;
    env.login = &l;
    int rc = ctl_call(&env);
    if (rc)
        return rc;
    return ctl_reply()->body_case == CARILLON__V1__ENVELOPE__BODY_LOGIN_OK ? 0 : -1;
}

/* Logs in for a command: the saved token first, then the environment's credentials. */
static int authenticate(void)
{
    struct ctl_session s;
    if (ctl_session_load(&s) == 0) {
        int rc = ctl_login_with(s.login, NULL, s.token);
        if (rc > 0)
            return rc;
        if (rc == 0) {
            ctl_drop_reply();
            state.saved_session = true;
            return 0;
        }
        const Carillon__V1__Error *e = ctl_reply()->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR
                                           ? ctl_reply()->error
                                           : NULL;
        if (!e || e->code != CARILLON__V1__CODE__CODE_UNAUTHENTICATED)
            return ctl_expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
        /* The token is dead (expired, revoked, or the user was disabled): forget it. */
        char why[512];
        snprintf(why, sizeof why, "%s", e->message);
        ctl_drop_reply();
        ctl_session_remove();
        if (!getenv("CARILLON_USER") || !getenv("CARILLON_PASSWORD"))
            return ctl_report(CTL_EXIT_REFUSED, "UNAUTHENTICATED", NULL,
                              "%s: the saved session was removed; run 'carillonctl login'", why);
    }
    const char *user = getenv("CARILLON_USER"), *password = getenv("CARILLON_PASSWORD");
    if (!user || !*user || !password)
        return ctl_report(CTL_EXIT_REFUSED, "UNAUTHENTICATED", NULL,
                          "not logged in: run 'carillonctl login' (or set CARILLON_USER and "
                          "CARILLON_PASSWORD)");
    char err[128];
    if (ctl_check_login(user, err, sizeof err) || ctl_check_password(password, err, sizeof err))
        return ctl_usage("CARILLON_USER/CARILLON_PASSWORD: %s", err);
    int rc = ctl_login_with(user, password, NULL);
    if (rc > 0)
        return rc;
    if (rc < 0)
        return ctl_expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
    ctl_drop_reply();
    state.temp_session = true;
    return 0;
}

/* Revokes the session a command opened with the environment's credentials, so one-shot
 * commands do not leave sessions behind. */
void ctl_end_temp_session(void)
{
    if (!state.temp_session)
        return;
    state.temp_session = false;
    Carillon__V1__Logout lo = CARILLON__V1__LOGOUT__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_LOGOUT;
    env.logout = &lo;
    /* Best effort and silent: the command's own output (one JSON object) is already out. */
    ctl_quiet_errors(true);
    if (ctl_call(&env) == 0)
        ctl_drop_reply();
    ctl_quiet_errors(false);
}
