/* carillonctl: the supervisor CLI. Each command opens one TLS connection to carillon-server,
 * says Hello, authenticates (session token, else CARILLON_USER/CARILLON_PASSWORD), sends its
 * requests and prints the answers as text or JSON. Exit: 0 ok, 1 refused, 2 usage, 3 connection. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"
#include "carillon/pbtext.h"
#include "ctl.h"
#include "ctlutil.h"
#include "pbyaml.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define EXIT_CONN    3

static struct {
    const char *server;
    const char *ca;
    bool json;
    bool utc;
    unsigned timeout_ms; /* bound on each wait for the server: connect, handshake, a reply */
    char host[256];
    int port;
} opt = {.timeout_ms = 10000};

/* --- output ----------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    ctl_json_string(f, s);
}

static int display_width(const char *s)
{
    return ctl_display_width(s);
}

static void print_padded(const char *s, int width)
{
    ctl_pad(stdout, s, width);
}

static const char *code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&carillon__v1__code__descriptor, code);
    return v ? v->name + strlen("CODE_") : "UNKNOWN";
}

static void json_error(const char *code, const char *field, const char *msg)
{
    printf("{\"error\":{\"code\":");
    json_str(stdout, code);
    printf(",\"message\":");
    json_str(stdout, msg);
    if (field && *field) {
        printf(",\"field\":");
        json_str(stdout, field);
    }
    printf("}}\n");
}

/* Prints an error the way the exit code says: JSON on stdout with --json, text on stderr. */
static int report(int exit_code, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool quiet_errors; /* set while revoking a temporary session at exit */

static int report(int exit_code, const char *code, const char *field, const char *fmt, ...)
{
    if (quiet_errors)
        return exit_code;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (opt.json)
        json_error(code, field, msg);
    else if (exit_code == EXIT_REFUSED)
        fprintf(stderr, "error: %s: %s%s%s%s\n", code, msg, field && *field ? " (field: " : "",
                field && *field ? field : "", field && *field ? ")" : "");
    else
        fprintf(stderr, "carillonctl: %s\n", msg);
    return exit_code;
}

static const char short_usage[] =
    "usage: carillonctl [--server HOST:PORT] [--ca FILE] [--json] [--timeout SECONDS] COMMAND "
    "...\n"
    "       ('carillonctl help' lists the commands)\n";

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: carillonctl [--server HOST:PORT] [--ca FILE] [--json] [--timeout SECONDS] COMMAND\n"
        "commands:\n"
        "  ping                         check the server answers (no login needed)\n"
        "  login [LOGIN]                log in and keep a session token\n"
        "  logout                       end the session\n"
        "  whoami                       who the session belongs to\n"
        "  user add LOGIN --role admin|supervisor|agent [--name NAME] [--password-stdin]\n"
        "  user list [--all]            users (--all: disabled ones too)\n"
        "  user passwd [LOGIN] [--password-stdin]   (your own without LOGIN)\n"
        "  user disable LOGIN | user enable LOGIN\n"
        "  apply -f FILE.yaml           create or replace a whole campaign from YAML\n"
        "  get campaign NAME [-o yaml|json]\n"
        "  campaign list [--state S] [--year Y] [--contract-type T]\n"
        "  campaign state NAME draft|ready|running|paused|stopped|finished\n"
        "  campaign duplicate NAME NEW_NAME | campaign delete NAME\n"
        "  campaign create NAME [--time-zone TZ] | campaign set NAME FIELD VALUE\n"
        "  grant LOGIN|@PROFILE CAMPAIGN view,edit,export|none   rights on a campaign\n"
        "  grant list CAMPAIGN          who may do what, and the agents assigned\n"
        "  user profiles LOGIN [P1,P2,...]   set a user's profiles (none: clear them)\n"
        "  question list|delete|duplicate|move|choices|import CAMPAIGN ...\n"
        "  script screens|screen-delete|screen-duplicate|screen-move|preview CAMPAIGN ...\n"
        "  qualification list|add|delete CAMPAIGN ...\n"
        "  schedule list|add|remove|close|open CAMPAIGN ...\n"
        "  contact add --campaign C --phone NUMBER[:type] [--field name=value]... ...\n"
        "  contact list --campaign C [--filter EXPR] [--columns a,b] [--limit N]\n"
        "  contact export --campaign C [--filter EXPR] -o FILE.csv|FILE.xlsx\n"
        "  contact reset|reload|shelve|move|assign|delete --campaign C (--id N|--filter F|--all)\n"
        "  blacklist add [--campaign C] [--reason R] [--file F] [NUMBER...]\n"
        "  campaign stats NAME          dashboard, contacts, attempts, rates, agents, pacing\n"
        "  campaign report NAME -o FILE.zip [--include-unfinished] [--page-size N]\n"
        "                               one PDF per target that answered, zipped (export right)\n"
        "  top [--once]                 running campaigns you may view, one line each, every\n"
        "                               second until Ctrl-C (--once, --json: one snapshot)\n"
        "  compliance report NAME [--days N]   abandon ledger against the compliance profile\n"
        "options:\n"
        "  --server HOST:PORT   (default $CARILLON_SERVER; HOST a name, an IPv4 or [IPv6])\n"
        "  --ca FILE            CA certificate the server's is checked with ($CARILLON_CA)\n"
        "  --json               print exactly one JSON object on stdout, errors included\n"
        "  --timeout SECONDS    longest wait for the server at each step (default 10)\n"
        "environment: CARILLON_SERVER, CARILLON_CA, CARILLON_USER, CARILLON_PASSWORD,\n"
        "  CARILLON_OLD_PASSWORD (user passwd), CARILLON_CONFIG_DIR (where the session file is\n"
        "  kept; else $XDG_CONFIG_HOME/carillon, else ~/.config/carillon)\n"
        "exit codes: 0 ok, 1 the server said no, 2 usage, 3 connection or TLS failure\n");
}

static int usage_msg(const char *msg)
{
    if (opt.json)
        json_error("INVALID_ARGUMENT", NULL, msg);
    fprintf(stderr, "carillonctl: %s\n%s", msg, short_usage);
    return EXIT_USAGE;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return usage_msg(msg);
}

/* --- the connection --------------------------------------------------------------------- */

/* One request at a time: send, then run the loop until its reply, a close or the deadline.
 * Everything here lives for the whole process; disconnect() closes it. */
static struct {
    uv_loop_t loop;
    bool loop_ready;
    struct cr_tls_ctx *tls;
    struct cr_conn *conn; /* owned by conn.c; NULL once on_close ran */
    bool open;
    bool closed;
    int close_err;
    bool timed_out;
    bool bad_reply; /* a reply to a request we did not send: the stream cannot be trusted */
    uint64_t bad_rid;
    uint64_t next_rid;
    uint64_t want_rid;
    Carillon__V1__Envelope *reply; /* ours until drop_reply() */
    /* Requests sent ahead with ctl_send, oldest first, and the replies that came for them. */
    uint64_t ahead_rid[CTL_MAX_AHEAD];
    Carillon__V1__Envelope *ahead_reply[CTL_MAX_AHEAD];
    int nahead;
    /* A streamed answer (an export): every message carrying stream_rid, oldest first. */
    uint64_t stream_rid;
    Carillon__V1__Envelope *stream_q[CTL_STREAM_QUEUE];
    int nstream;
    uv_timer_t timer;
    char server_node[128];
    bool temp_session;  /* logged in with CARILLON_USER/PASSWORD: revoked at exit */
    bool saved_session; /* logged in with the session file's token */
} net;

static void on_open(struct cr_conn *c)
{
    (void)c;
    net.open = true;
}

static void on_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    if (net.stream_rid &&
        (env->request_id == net.stream_rid ||
         (env->request_id == 0 && env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR))) {
        if (net.nstream == CTL_STREAM_QUEUE) { /* more ahead than the server may send */
            net.bad_reply = true;
            net.bad_rid = env->request_id;
            carillon__v1__envelope__free_unpacked(env, NULL);
            cr_conn_abort(c);
            return;
        }
        net.stream_q[net.nstream++] = env;
        return;
    }
    /* A reply to a request sent ahead; an error that names no request stops the oldest. */
    for (int i = 0; i < net.nahead; i++)
        if (!net.ahead_reply[i] &&
            (env->request_id == net.ahead_rid[i] ||
             (env->request_id == 0 && env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR))) {
            net.ahead_reply[i] = env;
            return;
        }
    int m = net.want_rid && !net.reply
                ? ctl_reply_match(net.want_rid, env->request_id,
                                  env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR)
                : 0;
    if (m == 1) {
        net.reply = env;
        return;
    }
    if (m < 0 && !net.bad_reply) {
        net.bad_reply = true;
        net.bad_rid = env->request_id;
        cr_conn_abort(c);
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_close(struct cr_conn *c, int err)
{
    (void)c;
    net.closed = true;
    net.close_err = err;
    net.conn = NULL;
}

static void on_timeout(uv_timer_t *t)
{
    (void)t;
    net.timed_out = true;
    if (net.conn)
        cr_conn_abort(net.conn);
}

static bool is_open(void)
{
    return net.open;
}

static bool have_reply(void)
{
    return net.reply != NULL;
}

/* Runs the loop until done(), a close, or opt.timeout_ms without either. The deadline is per
 * wait, not per command, so time spent at a password prompt does not count. */
static void wait_until(bool (*done)(void))
{
    uv_timer_start(&net.timer, on_timeout, opt.timeout_ms, 0);
    while (!done() && !net.closed)
        uv_run(&net.loop, UV_RUN_ONCE);
    uv_timer_stop(&net.timer);
}

static int conn_failure(void)
{
    char why[512];
    if (net.bad_reply)
        snprintf(why, sizeof why, "it answered request %llu while request %llu was awaited",
                 (unsigned long long)net.bad_rid, (unsigned long long)net.want_rid);
    else if (net.timed_out)
        snprintf(why, sizeof why, "no answer within %.3g s (--timeout)", opt.timeout_ms / 1000.0);
    else if (net.close_err == 0)
        snprintf(why, sizeof why, "the server closed the connection");
    else if (net.close_err == -EPROTO && !net.open)
        snprintf(why, sizeof why,
                 "TLS handshake failed: its certificate is not signed by the CA in %s or does "
                 "not name %s, or it is not a Carillon server",
                 opt.ca, opt.host);
    else if (net.close_err == -EPROTO)
        snprintf(why, sizeof why, "TLS or framing error");
    else if (net.close_err == -ETIMEDOUT)
        snprintf(why, sizeof why, "TLS handshake timed out");
    else
        snprintf(why, sizeof why, "%s", uv_strerror(net.close_err));
    return report(EXIT_CONN, net.bad_reply ? "INTERNAL" : "UNAVAILABLE", NULL,
                  "cannot talk to %s: %s", opt.server, why);
}

/* Sends env with a fresh request_id; 0 or an exit code (already reported). */
static int send_request(Carillon__V1__Envelope *env)
{
    env->request_id = ++net.next_rid;
    if (!net.conn)
        return conn_failure();
    int rc = cr_conn_send(net.conn, env);
    if (rc == -EMSGSIZE)
        return report(EXIT_REFUSED, "RESOURCE_EXHAUSTED", NULL,
                      "the request is larger than the largest frame (%zu bytes)",
                      cr_conn_max_frame(net.conn));
    return rc ? conn_failure() : 0;
}

/* Sends env and waits for its reply; 0 with net.reply set, or an exit code (already
 * reported). */
static int call(Carillon__V1__Envelope *env)
{
    net.reply = NULL;
    net.want_rid = net.next_rid + 1;
    int rc = send_request(env);
    if (rc)
        return rc;
    wait_until(have_reply);
    return net.reply ? 0 : conn_failure();
}

static void drop_reply(void);
static int expect(int want);

static bool have_oldest_ahead(void)
{
    return net.nahead > 0 && net.ahead_reply[0] != NULL;
}

int ctl_send(Carillon__V1__Envelope *env)
{
    if (net.nahead == CTL_MAX_AHEAD)
        return report(EXIT_CONN, "INTERNAL", NULL, "too many requests in flight");
    int rc = send_request(env);
    if (rc)
        return rc;
    net.ahead_rid[net.nahead] = env->request_id;
    net.ahead_reply[net.nahead] = NULL;
    net.nahead++;
    return 0;
}

int ctl_collect(int want)
{
    if (net.nahead == 0)
        return report(EXIT_CONN, "INTERNAL", NULL, "no request in flight");
    wait_until(have_oldest_ahead);
    if (!net.ahead_reply[0])
        return conn_failure();
    drop_reply();
    net.reply = net.ahead_reply[0];
    net.nahead--;
    memmove(net.ahead_rid, net.ahead_rid + 1, (size_t)net.nahead * sizeof net.ahead_rid[0]);
    memmove(net.ahead_reply, net.ahead_reply + 1, (size_t)net.nahead * sizeof net.ahead_reply[0]);
    return expect(want);
}

int ctl_in_flight(void)
{
    return net.nahead;
}

static bool have_stream(void)
{
    return net.nstream > 0;
}

int ctl_stream_begin(Carillon__V1__Envelope *env)
{
    drop_reply();
    int rc = send_request(env);
    if (!rc)
        net.stream_rid = env->request_id;
    return rc;
}

int ctl_stream_recv(void)
{
    drop_reply();
    wait_until(have_stream);
    if (!net.nstream)
        return conn_failure();
    net.reply = net.stream_q[0];
    net.nstream--;
    memmove(net.stream_q, net.stream_q + 1, (size_t)net.nstream * sizeof net.stream_q[0]);
    if (net.reply->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR)
        return expect(CARILLON__V1__ENVELOPE__BODY_ERROR);
    return 0;
}

int ctl_send_only(Carillon__V1__Envelope *env)
{
    return send_request(env);
}

void ctl_stream_end(void)
{
    net.stream_rid = 0;
    for (int i = 0; i < net.nstream; i++)
        carillon__v1__envelope__free_unpacked(net.stream_q[i], NULL);
    net.nstream = 0;
}

static void drop_reply(void)
{
    if (net.reply)
        carillon__v1__envelope__free_unpacked(net.reply, NULL);
    net.reply = NULL;
}

/* An Error reply becomes exit 1 with its message; anything but `want` is a protocol error. */
static int expect(int want)
{
    Carillon__V1__Envelope *r = net.reply;
    if (r->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR) {
        int rc = report(EXIT_REFUSED, code_name(r->error->code), r->error->field, "%s",
                        r->error->message);
        drop_reply();
        return rc;
    }
    if ((int)r->body_case != want) {
        int got = (int)r->body_case;
        drop_reply();
        return report(EXIT_CONN, "INTERNAL", NULL,
                      "unexpected reply from %s (message %d where %d was expected)", opt.server,
                      got, want);
    }
    return 0;
}

static int connect_server(void)
{
    if (net.loop_ready) /* once per process; a second call reports how the first ended */
        return net.conn && net.open ? 0 : conn_failure();
    char err[512];
    struct cr_tls_config tc = {.ca_file = opt.ca, .peer_role = CR_TLS_ROLE_SERVER};
    if (cr_tls_ctx_new_client(&tc, &net.tls, err, sizeof err) != 0)
        return report(EXIT_CONN, "UNAVAILABLE", NULL, "cannot talk to %s: TLS set-up: %s",
                      opt.server, err);
    uv_loop_init(&net.loop);
    net.loop_ready = true;
    uv_timer_init(&net.loop, &net.timer);
    static const struct cr_conn_cbs cbs = {on_open, on_message, on_close};
    struct cr_conn_opts copts = {.handshake_ms = opt.timeout_ms};
    int rc = cr_conn_connect(&net.loop, opt.host, opt.port, net.tls, &copts, &cbs, NULL, &net.conn);
    if (rc) {
        net.conn = NULL;
        return report(EXIT_CONN, "UNAVAILABLE", NULL, "cannot connect to %s: %s", opt.server,
                      uv_strerror(rc));
    }
    wait_until(is_open);
    if (!net.open)
        return conn_failure();

    char hostname[256] = "";
    if (gethostname(hostname, sizeof hostname - 1) != 0 || !hostname[0])
        snprintf(hostname, sizeof hostname, "carillonctl");
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_SUPERVISOR;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = hostname;
    h.software = "carillonctl " CARILLON_VERSION;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_WELCOME)))
        return rc;
    const Carillon__V1__Welcome *w = net.reply->welcome;
    if (w->protocol_version != CR_PROTOCOL_VERSION) {
        unsigned v = w->protocol_version;
        drop_reply();
        return report(EXIT_CONN, "FAILED_PRECONDITION", NULL,
                      "cannot talk to %s: it speaks protocol version %u, carillonctl %u",
                      opt.server, v, CR_PROTOCOL_VERSION);
    }
    snprintf(net.server_node, sizeof net.server_node, "%s", w->node_name);
    drop_reply();
    return 0;
}

static void disconnect(void)
{
    if (net.conn)
        cr_conn_close(net.conn);
    if (net.loop_ready) {
        cr_loop_close_all(&net.loop);
        net.loop_ready = false;
    }
    if (net.tls) {
        cr_tls_ctx_free(net.tls);
        net.tls = NULL;
    }
    for (int i = 0; i < net.nahead; i++)
        if (net.ahead_reply[i])
            carillon__v1__envelope__free_unpacked(net.ahead_reply[i], NULL);
    net.nahead = 0;
    ctl_stream_end();
}

/* --- secrets and the session file ------------------------------------------------------- */

static int session_path(char *out, size_t len, bool create_dir)
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
static int session_load(struct ctl_session *s)
{
    char path[4200];
    if (session_path(path, sizeof path, false))
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
    return strcmp(s->server, opt.server) == 0 ? 0 : -ENOENT;
}

static int session_save(const char *login, const char *token)
{
    struct ctl_session s = {0};
    char path[4200], tmp[4300], buf[CTL_SESSION_FILE_MAX];
    snprintf(s.server, sizeof s.server, "%s", opt.server);
    snprintf(s.login, sizeof s.login, "%s", login);
    snprintf(s.token, sizeof s.token, "%s", token);
    int n = ctl_session_format(&s, buf, sizeof buf);
    if (n < 0 || strlen(token) > CTL_TOKEN_MAX)
        return -EINVAL;
    int rc = session_path(path, sizeof path, true);
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

static void session_remove(void)
{
    char path[4200];
    if (session_path(path, sizeof path, false) == 0)
        unlink(path);
}

/* Turns a failed secret read into a usage error naming what was wanted. */
static int secret_error(int rc, const char *what, const char *where)
{
    if (rc == -EMSGSIZE)
        return usage_error("the %s is longer than %d bytes", what, CTL_PASSWORD_MAX);
    if (rc == -ENXIO)
        return usage_error("no terminal to ask the %s on", what);
    return usage_error("no %s given (%s)", what, where);
}

/* --- authentication --------------------------------------------------------------------- */

/* Sends Login; 0 with the LoginOk in net.reply, -1 with another reply (an Error) in net.reply,
 * or a positive exit code (connection failure, reported). */
static int login_with(const char *login, const char *password, const char *token)
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
    int rc = call(&env);
    if (rc)
        return rc;
    return net.reply->body_case == CARILLON__V1__ENVELOPE__BODY_LOGIN_OK ? 0 : -1;
}

/* Logs in for a command: the saved token first, then the environment's credentials. */
static int authenticate(void)
{
    struct ctl_session s;
    if (session_load(&s) == 0) {
        int rc = login_with(s.login, NULL, s.token);
        if (rc > 0)
            return rc;
        if (rc == 0) {
            drop_reply();
            net.saved_session = true;
            return 0;
        }
        const Carillon__V1__Error *e =
            net.reply->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR ? net.reply->error : NULL;
        if (!e || e->code != CARILLON__V1__CODE__CODE_UNAUTHENTICATED)
            return expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
        /* The token is dead (expired, revoked, or the user was disabled): forget it. */
        char why[512];
        snprintf(why, sizeof why, "%s", e->message);
        drop_reply();
        session_remove();
        if (!getenv("CARILLON_USER") || !getenv("CARILLON_PASSWORD"))
            return report(EXIT_REFUSED, "UNAUTHENTICATED", NULL,
                          "%s: the saved session was removed; run 'carillonctl login'", why);
    }
    const char *user = getenv("CARILLON_USER"), *password = getenv("CARILLON_PASSWORD");
    if (!user || !*user || !password)
        return report(EXIT_REFUSED, "UNAUTHENTICATED", NULL,
                      "not logged in: run 'carillonctl login' (or set CARILLON_USER and "
                      "CARILLON_PASSWORD)");
    char err[128];
    if (ctl_check_login(user, err, sizeof err) || ctl_check_password(password, err, sizeof err))
        return usage_error("CARILLON_USER/CARILLON_PASSWORD: %s", err);
    int rc = login_with(user, password, NULL);
    if (rc > 0)
        return rc;
    if (rc < 0)
        return expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
    drop_reply();
    net.temp_session = true;
    return 0;
}

/* Revokes the session a command opened with the environment's credentials, so one-shot
 * commands do not leave sessions behind. */
static void end_temp_session(void)
{
    if (!net.temp_session || !net.conn)
        return;
    net.temp_session = false;
    Carillon__V1__Logout lo = CARILLON__V1__LOGOUT__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_LOGOUT;
    env.logout = &lo;
    /* Best effort and silent: the command's own output (one JSON object) is already out. */
    quiet_errors = true;
    if (call(&env) == 0)
        drop_reply();
    quiet_errors = false;
}

/* --- commands --------------------------------------------------------------------------- */

static void print_user_json(const Carillon__V1__UserInfo *u)
{
    printf("{\"id\":%lld,\"login\":", (long long)u->id);
    json_str(stdout, u->login);
    printf(",\"display_name\":");
    json_str(stdout, u->display_name);
    printf(",\"role\":\"%s\",\"disabled\":%s,\"created_at\":%lld,\"profiles\":[",
           ctl_role_name(u->role), u->disabled ? "true" : "false", (long long)u->created_at);
    for (size_t i = 0; i < u->n_profiles; i++) {
        if (i)
            putchar(',');
        json_str(stdout, u->profiles[i]);
    }
    printf("]}");
}

static void format_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
}

static int print_ok(const char *text)
{
    if (opt.json)
        printf("{\"ok\":true}\n");
    else
        printf("%s\n", text);
    return 0;
}

static int cmd_ping(void)
{
    Carillon__V1__Ping p = CARILLON__V1__PING__INIT;
    p.sent_at_us = cr_now_us();
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_PING;
    env.ping = &p;
    int rc = call(&env);
    if (rc || (rc = expect(CARILLON__V1__ENVELOPE__BODY_PONG)))
        return rc;
    const Carillon__V1__Pong *pong = net.reply->pong;
    double rtt_ms = (double)(cr_now_us() - pong->sent_at_us) / 1000.0;
    if (opt.json) {
        printf("{\"node\":");
        json_str(stdout, net.server_node);
        printf(",\"server_version\":");
        json_str(stdout, pong->server_version);
        printf(",\"server_time_us\":%lld,\"rtt_ms\":%.3f}\n", (long long)pong->server_time_us,
               rtt_ms);
    } else {
        /* "carillon-server 0.1.0" reads "server 0.1.0" here. */
        const char *v = pong->server_version;
        if (strncmp(v, "carillon-server ", 16) == 0)
            v += 16;
        printf("pong from ");
        ctl_pad(stdout, net.server_node, 0);
        printf(" (server ");
        ctl_pad(stdout, v, 0);
        printf(") in %.1f ms\n", rtt_ms);
    }
    drop_reply();
    return 0;
}

static int cmd_login(int argc, char **argv)
{
    if (argc > 1)
        return usage_error("login takes at most one LOGIN");
    char login[CTL_LOGIN_MAX + 2] = "", password[CTL_PASSWORD_MAX + 2] = "", err[128];
    int rc;
    if (argc == 1)
        snprintf(login, sizeof login, "%s", argv[0]);
    else if (getenv("CARILLON_USER") && *getenv("CARILLON_USER"))
        snprintf(login, sizeof login, "%s", getenv("CARILLON_USER"));
    else if (!isatty(STDIN_FILENO))
        return usage_error("login: give LOGIN or set CARILLON_USER (stdin is not a terminal)");
    else if ((rc = ctl_prompt_tty("login: ", false, login, sizeof login)))
        return rc == -EMSGSIZE ? usage_error("the login is longer than %d bytes", CTL_LOGIN_MAX)
                               : usage_error("no login given");
    if (ctl_check_login(login, err, sizeof err))
        return usage_error("%s", err);
    const char *envpw = getenv("CARILLON_PASSWORD");
    if (envpw) {
        if (strlen(envpw) > CTL_PASSWORD_MAX)
            return usage_error("CARILLON_PASSWORD is longer than %d bytes", CTL_PASSWORD_MAX);
        snprintf(password, sizeof password, "%s", envpw);
    } else if (isatty(STDIN_FILENO)) {
        if ((rc = ctl_prompt_tty("password: ", true, password, sizeof password)))
            return secret_error(rc, "password", "at the prompt");
    } else if ((rc = ctl_read_line(stdin, password, sizeof password))) {
        return secret_error(rc, "password", "first line of stdin");
    }
    if (ctl_check_password(password, err, sizeof err))
        return usage_error("%s", err);

    if ((rc = connect_server()))
        return rc;
    rc = login_with(login, password, NULL);
    memset(password, 0, sizeof password);
    if (rc > 0)
        return rc;
    if (rc < 0)
        return expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
    const Carillon__V1__LoginOk *ok = net.reply->login_ok;
    if ((rc = session_save(ok->user->login, ok->token))) {
        drop_reply();
        char path[4200] = "the session file";
        if (session_path(path, sizeof path, false))
            snprintf(path, sizeof path, "the session file (set CARILLON_CONFIG_DIR or HOME)");
        return report(EXIT_REFUSED, "INTERNAL", NULL, "logged in, but cannot save %s: %s", path,
                      strerror(-rc));
    }
    if (opt.json) {
        printf("{\"user\":");
        print_user_json(ok->user);
        printf(",\"expires_at\":%lld}\n", (long long)ok->expires_at);
    } else {
        char when[64];
        format_time(ok->expires_at, when, sizeof when);
        printf("logged in as ");
        ctl_pad(stdout, ok->user->login, 0);
        printf(" (%s) until %s\n", ctl_role_name(ok->user->role), when);
    }
    drop_reply();
    return 0;
}

static int cmd_logout(void)
{
    struct ctl_session s;
    if (session_load(&s) != 0) {
        session_remove();
        return print_ok("not logged in");
    }
    int rc = connect_server();
    if (rc)
        return rc; /* the file is kept: the token may still be alive on the server */
    rc = login_with(s.login, NULL, s.token);
    if (rc > 0)
        return rc;
    drop_reply();
    if (rc == 0) {
        Carillon__V1__Logout lo = CARILLON__V1__LOGOUT__INIT;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_LOGOUT;
        env.logout = &lo;
        if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_OK)))
            return rc;
        drop_reply();
    }
    session_remove();
    return print_ok("logged out");
}

static int cmd_whoami(void)
{
    int rc = authenticate();
    if (rc)
        return rc;
    Carillon__V1__WhoAmI w = CARILLON__V1__WHO_AM_I__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_WHOAMI;
    env.whoami = &w;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_WHOAMI_REPLY)))
        return rc;
    const Carillon__V1__WhoAmIReply *r = net.reply->whoami_reply;
    if (opt.json) {
        printf("{\"user\":");
        print_user_json(r->user);
        printf(",\"session_expires_at\":%lld}\n", (long long)r->session_expires_at);
    } else {
        printf("login: ");
        ctl_pad(stdout, r->user->login, 0);
        printf("\nname: ");
        ctl_pad(stdout, r->user->display_name, 0);
        printf("\nrole: %s\n", ctl_role_name(r->user->role));
        /* Only a saved session outlives this command; the one opened with CARILLON_USER and
         * CARILLON_PASSWORD is revoked at exit, so its expiry means nothing. */
        if (net.saved_session) {
            char when[64];
            format_time(r->session_expires_at, when, sizeof when);
            printf("session expires: %s\n", when);
        }
    }
    drop_reply();
    return 0;
}

static int cmd_user_list(int argc, char **argv)
{
    bool all;
    char err[256];
    if (ctl_parse_user_list(argc, argv, &all, err, sizeof err))
        return usage_error("%s", err);
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    if (rc)
        return rc;
    Carillon__V1__UserList ul = CARILLON__V1__USER_LIST__INIT;
    ul.include_disabled = all;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_LIST;
    env.user_list = &ul;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_USER_LIST_REPLY)))
        return rc;
    const Carillon__V1__UserListReply *r = net.reply->user_list_reply;
    if (opt.json) {
        printf("{\"users\":[");
        for (size_t i = 0; i < r->n_users; i++) {
            if (i)
                putchar(',');
            print_user_json(r->users[i]);
        }
        printf("]}\n");
        drop_reply();
        return 0;
    }
    /* Columns sized by display width, so "Hélène Dupré" and "李小龙" line up; the last column
     * is not padded (no trailing blanks). PROFILES shows only when someone has one. */
    int wl = display_width("LOGIN"), wn = display_width("NAME"), wr = display_width("ROLE");
    bool profiles = false;
    for (size_t i = 0; i < r->n_users; i++) {
        const Carillon__V1__UserInfo *u = r->users[i];
        if (display_width(u->login) > wl)
            wl = display_width(u->login);
        if (display_width(u->display_name) > wn)
            wn = display_width(u->display_name);
        if (display_width(ctl_role_name(u->role)) > wr)
            wr = display_width(ctl_role_name(u->role));
        profiles = profiles || u->n_profiles > 0;
    }
    print_padded("LOGIN", wl + 2);
    print_padded("NAME", wn + 2);
    print_padded("ROLE", wr + 2);
    print_padded("STATE", 10);
    printf(profiles ? "CREATED           PROFILES\n" : "CREATED\n");
    for (size_t i = 0; i < r->n_users; i++) {
        const Carillon__V1__UserInfo *u = r->users[i];
        char when[64];
        format_time(u->created_at, when, sizeof when);
        print_padded(u->login, wl + 2);
        print_padded(u->display_name, wn + 2);
        print_padded(ctl_role_name(u->role), wr + 2);
        print_padded(u->disabled ? "disabled" : "active", 10);
        print_padded(when, u->n_profiles ? 18 : 0);
        for (size_t k = 0; k < u->n_profiles; k++) {
            if (k)
                putchar(',');
            print_padded(u->profiles[k], 0);
        }
        putchar('\n');
    }
    drop_reply();
    return 0;
}

/* A new password: the first stdin line with --password-stdin, else asked twice on the tty. */
static int new_password(bool from_stdin, char *buf, size_t len)
{
    int rc;
    char err[128];
    if (from_stdin) {
        if ((rc = ctl_read_line(stdin, buf, len)))
            return secret_error(rc, "password", "--password-stdin reads the first line of stdin");
    } else {
        if (!isatty(STDIN_FILENO))
            return usage_error("stdin is not a terminal: give the password with "
                               "--password-stdin");
        char again[CTL_PASSWORD_MAX + 2];
        if ((rc = ctl_prompt_tty("new password: ", true, buf, len)) ||
            (rc = ctl_prompt_tty("new password again: ", true, again, sizeof again)))
            return secret_error(rc, "password", "at the prompt");
        bool same = strcmp(buf, again) == 0;
        memset(again, 0, sizeof again);
        if (!same)
            return usage_error("the two passwords differ");
    }
    if (ctl_check_password(buf, err, sizeof err))
        return usage_error("%s", err);
    return 0;
}

/* The current password, needed to change one's own: CARILLON_OLD_PASSWORD, the second stdin
 * line with --password-stdin, else asked on the tty. */
static int old_password(bool from_stdin, char *buf, size_t len)
{
    int rc;
    const char *env = getenv("CARILLON_OLD_PASSWORD");
    if (env) {
        if (strlen(env) > CTL_PASSWORD_MAX)
            return usage_error("CARILLON_OLD_PASSWORD is longer than %d bytes", CTL_PASSWORD_MAX);
        snprintf(buf, len, "%s", env);
    } else if (from_stdin) {
        if ((rc = ctl_read_line(stdin, buf, len)))
            return secret_error(rc, "current password",
                                "the second line of stdin, or CARILLON_OLD_PASSWORD");
    } else if (!isatty(STDIN_FILENO)) {
        return usage_error("changing your own password needs the current one "
                           "(CARILLON_OLD_PASSWORD, or a second line with --password-stdin)");
    } else if ((rc = ctl_prompt_tty("current password: ", true, buf, len))) {
        return secret_error(rc, "current password", "at the prompt");
    }
    return 0;
}

static int cmd_user_add(int argc, char **argv)
{
    struct ctl_user_add_args a;
    char err[256];
    if (ctl_parse_user_add(argc, argv, &a, err, sizeof err))
        return usage_error("%s", err);
    char password[CTL_PASSWORD_MAX + 2];
    int rc = new_password(a.password_stdin, password, sizeof password);
    if (rc)
        return rc;
    if ((rc = connect_server()) || (rc = authenticate())) {
        memset(password, 0, sizeof password);
        return rc;
    }
    Carillon__V1__UserAdd ua = CARILLON__V1__USER_ADD__INIT;
    ua.login = (char *)a.login;
    ua.display_name = (char *)a.name;
    ua.role = a.role;
    ua.password = password;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_ADD;
    env.user_add = &ua;
    rc = call(&env);
    memset(password, 0, sizeof password);
    if (rc || (rc = expect(CARILLON__V1__ENVELOPE__BODY_USER_ADD_REPLY)))
        return rc;
    const Carillon__V1__UserInfo *u = net.reply->user_add_reply->user;
    if (opt.json) {
        printf("{\"user\":");
        print_user_json(u);
        printf("}\n");
    } else {
        printf("user ");
        ctl_pad(stdout, u->login, 0);
        printf(" added (%s, ", ctl_role_name(u->role));
        ctl_pad(stdout, u->display_name, 0);
        printf(")\n");
    }
    drop_reply();
    return 0;
}

static int cmd_user_passwd(int argc, char **argv)
{
    struct ctl_user_passwd_args a;
    char err[256];
    if (ctl_parse_user_passwd(argc, argv, &a, err, sizeof err))
        return usage_error("%s", err);
    char password[CTL_PASSWORD_MAX + 2], old[CTL_PASSWORD_MAX + 2] = "";
    bool self = !a.login[0];
    int rc = new_password(a.password_stdin, password, sizeof password);
    if (!rc && self)
        rc = old_password(a.password_stdin, old, sizeof old);
    if (!rc && !(rc = connect_server()) && !(rc = authenticate()) && !self) {
        /* LOGIN may be one's own, and then the server wants the current password too. */
        Carillon__V1__WhoAmI w = CARILLON__V1__WHO_AM_I__INIT;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_WHOAMI;
        env.whoami = &w;
        if (!(rc = call(&env)) && !(rc = expect(CARILLON__V1__ENVELOPE__BODY_WHOAMI_REPLY))) {
            self = strcmp(a.login, net.reply->whoami_reply->user->login) == 0;
            drop_reply();
            if (self)
                rc = old_password(a.password_stdin, old, sizeof old);
        }
    }
    if (!rc) {
        Carillon__V1__UserPasswd up = CARILLON__V1__USER_PASSWD__INIT;
        up.login = (char *)a.login;
        up.new_password = password;
        up.old_password = old;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_PASSWD;
        env.user_passwd = &up;
        if (!(rc = call(&env)))
            rc = expect(CARILLON__V1__ENVELOPE__BODY_OK);
    }
    memset(password, 0, sizeof password);
    memset(old, 0, sizeof old);
    if (rc)
        return rc;
    drop_reply();
    return print_ok(self ? "your password was changed" : "password changed");
}

static int cmd_user_enable(int argc, char **argv, bool enable)
{
    const char *login;
    char err[256];
    if (ctl_parse_user_login(enable ? "enable" : "disable", argc, argv, &login, err, sizeof err))
        return usage_error("%s", err);
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    if (rc)
        return rc;
    Carillon__V1__UserDisable ud = CARILLON__V1__USER_DISABLE__INIT;
    ud.login = (char *)login;
    ud.enable = enable;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_DISABLE;
    env.user_disable = &ud;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    drop_reply();
    char text[128];
    snprintf(text, sizeof text, "user %s %s", login, enable ? "enabled" : "disabled");
    return print_ok(text);
}

/* --- campaigns -------------------------------------------------------------------------- */

static int cmd_apply(int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc)
            file = argv[++i];
        else
            return usage_error("apply: unexpected argument '%s'", argv[i]);
    }
    if (!file)
        return usage_error("apply needs -f FILE.yaml");
    char err[1024];
    struct pbyaml_lines lines = {0};
    Carillon__V1__Campaign *camp = (Carillon__V1__Campaign *)pbyaml_read(
        file, &carillon__v1__campaign__descriptor, &lines, err, sizeof err);
    if (!camp) {
        pbyaml_lines_free(&lines);
        return report(EXIT_REFUSED, "INVALID_ARGUMENT", NULL, "%s", err);
    }
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    if (rc) {
        protobuf_c_message_free_unpacked(&camp->base, NULL);
        pbyaml_lines_free(&lines);
        return rc;
    }
    Carillon__V1__CampaignApply ap = CARILLON__V1__CAMPAIGN_APPLY__INIT;
    ap.campaign = camp;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_APPLY;
    env.campaign_apply = &ap;
    rc = call(&env);
    protobuf_c_message_free_unpacked(&camp->base, NULL);
    if (!rc && net.reply->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR && !opt.json) {
        /* Point at the file's line for the field the server names. */
        const Carillon__V1__Error *e = net.reply->error;
        int line = e->field[0] ? pbyaml_line_of(&lines, e->field) : 0;
        if (line) {
            bool named = strncmp(e->message, e->field, strlen(e->field)) == 0;
            rc = report(EXIT_REFUSED, code_name(e->code), NULL, "%s:%d: %s%s%s", file, line,
                        named ? "" : e->field, named ? "" : ": ", e->message);
            drop_reply();
            pbyaml_lines_free(&lines);
            return rc;
        }
    }
    pbyaml_lines_free(&lines);
    if (rc || (rc = expect(CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPLY)))
        return rc;
    const Carillon__V1__CampaignReply *r = net.reply->campaign_reply;
    if (opt.json) {
        printf("{\"name\":");
        json_str(stdout, r->campaign->name);
        printf(",\"created\":%s}\n", r->created ? "true" : "false");
    } else
        printf("campaign %s %s\n", r->campaign->name, r->created ? "created" : "updated");
    drop_reply();
    return 0;
}

static int cmd_get(int argc, char **argv)
{
    const char *name = NULL, *format = "yaml";
    if (argc < 1 || strcmp(argv[0], "campaign") != 0)
        return usage_error("get: what? (get campaign NAME)");
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
            format = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return usage_error("get campaign: unexpected argument '%s'", argv[i]);
    }
    if (!name)
        return usage_error("get campaign needs a NAME");
    if (strcmp(format, "yaml") && strcmp(format, "json"))
        return usage_error("-o takes yaml or json, not '%s'", format);
    if (opt.json)
        format = "json";
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    if (rc)
        return rc;
    Carillon__V1__CampaignGet g = CARILLON__V1__CAMPAIGN_GET__INIT;
    g.name = (char *)name;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_GET;
    env.campaign_get = &g;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPLY)))
        return rc;
    const Carillon__V1__Campaign *c = net.reply->campaign_reply->campaign;
    if (strcmp(format, "json") == 0)
        pbjson_write(stdout, &c->base);
    else if (pbyaml_write(stdout, &c->base) != 0)
        rc = report(EXIT_REFUSED, "INTERNAL", NULL, "cannot write YAML");
    drop_reply();
    return rc;
}

static int parse_state(const char *s, int *out)
{
    if (cr_pb_enum_parse(&carillon__v1__campaign_state__descriptor, s, out) == 0)
        return 0;
    char words[256];
    return usage_error(
        "state must be one of: %s",
        cr_pb_enum_words(&carillon__v1__campaign_state__descriptor, words, sizeof words));
}

static int cmd_campaign_list(int argc, char **argv)
{
    /* Columns: POSITIVES/TARGET is the contacts with a call qualified positive against the
     * campaign's positive target ("-": none); TO CALL the contacts waiting to be called (never
     * called yet or due again), CALLBACKS the scheduled callbacks among them. */
    Carillon__V1__CampaignList l = CARILLON__V1__CAMPAIGN_LIST__INIT;
    for (int i = 0; i < argc; i++) {
        int st;
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            if (parse_state(argv[++i], &st))
                return EXIT_USAGE;
            l.state = st;
        } else if (strcmp(argv[i], "--year") == 0 && i + 1 < argc) {
            char *end = NULL;
            unsigned long y = strtoul(argv[++i], &end, 10);
            if (!argv[i][0] || *end || y > 9999)
                return usage_error("campaign list: --year takes a year such as 2027, not '%s'",
                                   argv[i]);
            l.year = (uint32_t)y;
        } else if (strcmp(argv[i], "--contract-type") == 0 && i + 1 < argc) {
            l.contract_type = argv[++i];
        } else {
            return usage_error("campaign list: unexpected argument '%s' (campaign list [--state "
                               "S] [--year Y] [--contract-type T])",
                               argv[i]);
        }
    }
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST;
    env.campaign_list = &l;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST_REPLY)))
        return rc;
    const Carillon__V1__CampaignListReply *r = ctl_reply()->campaign_list_reply;
    char st[32], cell[64];
    if (ctl_json()) {
        printf("{\"campaigns\":[");
        for (size_t i = 0; i < r->n_campaigns; i++) {
            const Carillon__V1__CampaignSummary *s = r->campaigns[i];
            printf("%s{\"name\":", i ? "," : "");
            ctl_json_string(stdout, s->name);
            printf(",\"state\":");
            ctl_json_string(stdout, cr_pb_enum_word(&carillon__v1__campaign_state__descriptor,
                                                    s->state, st, sizeof st));
            printf(",\"year\":");
            if (s->year)
                printf("%u", s->year);
            else
                printf("null");
            printf(",\"contract_types\":[");
            for (size_t k = 0; k < s->n_contract_types; k++) {
                if (k)
                    putchar(',');
                ctl_json_string(stdout, s->contract_types[k]);
            }
            printf("],\"agents\":%u,\"positives\":%u,\"positive_target\":", s->agents,
                   s->positive_count);
            if (s->positive_target)
                printf("%u", s->positive_target);
            else
                printf("null");
            printf(",\"to_call\":%llu,\"callbacks\":%llu}", (unsigned long long)s->to_call,
                   (unsigned long long)s->callbacks);
        }
        printf("],\"total\":%zu}\n", r->n_campaigns);
        ctl_drop_reply();
        return 0;
    }
    int wn = 4;
    for (size_t i = 0; i < r->n_campaigns; i++)
        if (ctl_display_width(r->campaigns[i]->name) > wn)
            wn = ctl_display_width(r->campaigns[i]->name);
    ctl_print_padded("NAME", wn + 2);
    printf("STATE     YEAR  AGENTS  POSITIVES/TARGET  TO CALL  CALLBACKS  CONTRACT TYPES\n");
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const Carillon__V1__CampaignSummary *s = r->campaigns[i];
        ctl_print_padded(s->name, wn + 2);
        ctl_print_padded(
            cr_pb_enum_word(&carillon__v1__campaign_state__descriptor, s->state, st, sizeof st),
            10);
        if (s->year)
            printf("%-6u", s->year);
        else
            printf("%-6s", "-");
        printf("%-8u", s->agents);
        if (s->positive_target)
            snprintf(cell, sizeof cell, "%u/%u", s->positive_count, s->positive_target);
        else
            snprintf(cell, sizeof cell, "%u/-", s->positive_count);
        ctl_print_padded(cell, 18);
        snprintf(cell, sizeof cell, "%llu", (unsigned long long)s->to_call);
        ctl_print_padded(cell, 9);
        snprintf(cell, sizeof cell, "%llu", (unsigned long long)s->callbacks);
        ctl_print_padded(cell, 11);
        for (size_t k = 0; k < s->n_contract_types; k++)
            printf("%s%s", k ? ", " : "", s->contract_types[k]);
        printf("\n");
    }
    printf("(%s)\n", ctl_count(cell, sizeof cell, r->n_campaigns, "campaign", "campaigns"));
    ctl_drop_reply();
    return 0;
}

static int cmd_campaign(int argc, char **argv)
{
    if (argc < 1)
        return usage_error(
            "campaign needs a subcommand: list, stats, report, state, duplicate, delete, create or "
            "set");
    const char *sub = argv[0];
    if (strcmp(sub, "list") == 0)
        return cmd_campaign_list(argc - 1, argv + 1);
    if (strcmp(sub, "create") == 0 || strcmp(sub, "set") == 0)
        return ctl_campaign_edit(argc, argv);
    if (strcmp(sub, "stats") == 0)
        return ctl_campaign_stats(argc - 1, argv + 1);
    if (strcmp(sub, "report") == 0)
        return ctl_campaign_report(argc - 1, argv + 1);
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    Carillon__V1__CampaignSetState ss = CARILLON__V1__CAMPAIGN_SET_STATE__INIT;
    Carillon__V1__CampaignDuplicate du = CARILLON__V1__CAMPAIGN_DUPLICATE__INIT;
    Carillon__V1__CampaignDelete de = CARILLON__V1__CAMPAIGN_DELETE__INIT;
    char text[600];
    if (strcmp(sub, "state") == 0 && argc == 3) {
        int st;
        if (parse_state(argv[2], &st))
            return EXIT_USAGE;
        ss.name = argv[1];
        ss.state = st;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_SET_STATE;
        env.campaign_set_state = &ss;
        snprintf(text, sizeof text, "campaign %s is %s", argv[1], argv[2]);
    } else if (strcmp(sub, "duplicate") == 0 && argc == 3) {
        du.name = argv[1];
        du.new_name = argv[2];
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_DUPLICATE;
        env.campaign_duplicate = &du;
        snprintf(text, sizeof text, "campaign %s copied to %s (draft)", argv[1], argv[2]);
    } else if (strcmp(sub, "delete") == 0 && argc == 2) {
        de.name = argv[1];
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_DELETE;
        env.campaign_delete = &de;
        snprintf(text, sizeof text, "campaign %s deleted", argv[1]);
    } else {
        return usage_error("campaign %s: wrong arguments", sub);
    }
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    if (rc || (rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    drop_reply();
    return print_ok(text);
}

/* Splits "a,b,c" in place into up to max items. */
static size_t split_commas(char *s, char **items, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    return n;
}

static int cmd_grant(int argc, char **argv)
{
    int rc;
    if (argc == 2 && strcmp(argv[0], "list") == 0) {
        if ((rc = connect_server()) || (rc = authenticate()))
            return rc;
        Carillon__V1__CampaignRightsGet g = CARILLON__V1__CAMPAIGN_RIGHTS_GET__INIT;
        g.campaign = argv[1];
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_RIGHTS_GET;
        env.campaign_rights_get = &g;
        if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_RIGHTS)))
            return rc;
        const Carillon__V1__CampaignRights *r = net.reply->campaign_rights;
        if (opt.json) {
            pbjson_write(stdout, &r->base);
        } else {
            printf("LOGIN               ROLE        VIEW  EDIT  EXPORT  ASSIGNED\n");
            for (size_t i = 0; i < r->n_rights; i++) {
                const Carillon__V1__CampaignRight *x = r->rights[i];
                print_padded(x->login, 20);
                print_padded(x->role, 12);
                printf("%-6s%-6s%-8s%s\n", x->view ? "yes" : "-", x->edit ? "yes" : "-",
                       x->export ? "yes" : "-", x->assigned_by[0] ? x->assigned_by : "-");
            }
        }
        drop_reply();
        return 0;
    }
    if (argc != 3)
        return usage_error("grant LOGIN CAMPAIGN view,edit,export|none  (or: grant list CAMPAIGN)");
    Carillon__V1__CampaignGrant g = CARILLON__V1__CAMPAIGN_GRANT__INIT;
    g.login = argv[0];
    g.campaign = argv[1];
    char rights[64];
    snprintf(rights, sizeof rights, "%s", argv[2]);
    char *items[8];
    size_t n = split_commas(rights, items, 8);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i], "view") == 0)
            g.view = 1;
        else if (strcmp(items[i], "edit") == 0)
            g.edit = g.view = 1;
        else if (strcmp(items[i], "export") == 0)
            g.export = g.view = 1;
        else if (strcmp(items[i], "none") != 0)
            return usage_error("unknown right '%s' (view, edit, export or none)", items[i]);
    }
    if ((rc = connect_server()) || (rc = authenticate()))
        return rc;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_GRANT;
    env.campaign_grant = &g;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    drop_reply();
    char text[512];
    snprintf(text, sizeof text, "%s on %s: view=%s edit=%s export=%s", g.login, g.campaign,
             g.view ? "yes" : "no", g.edit ? "yes" : "no", g.export ? "yes" : "no");
    return print_ok(text);
}

static int cmd_user_profiles(int argc, char **argv)
{
    if (argc < 1 || argc > 2)
        return usage_error("user profiles LOGIN [P1,P2,...]");
    char list[1024] = "";
    if (argc == 2)
        snprintf(list, sizeof list, "%s", argv[1]);
    char *items[32];
    size_t n = split_commas(list, items, 32);
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    if (rc)
        return rc;
    Carillon__V1__UserSetProfiles up = CARILLON__V1__USER_SET_PROFILES__INIT;
    up.login = argv[0];
    up.profiles = items;
    up.n_profiles = n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_SET_PROFILES;
    env.user_set_profiles = &up;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    drop_reply();
    return print_ok("profiles set");
}

/* --- shared with the other command files (ctl.h) ---------------------------------------- */

int ctl_connect_and_auth(void)
{
    static bool done;
    if (done)
        return 0; /* one connection and login per command, however many requests */
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    done = rc == 0;
    return rc;
}

int ctl_request(Carillon__V1__Envelope *env, int want)
{
    int rc = call(env);
    return rc ? rc : expect(want);
}

Carillon__V1__Envelope *ctl_reply(void)
{
    return net.reply;
}

void ctl_drop_reply(void)
{
    drop_reply();
}

Carillon__V1__Envelope *ctl_take_reply(void)
{
    Carillon__V1__Envelope *r = net.reply;
    net.reply = NULL;
    return r;
}

int ctl_report(int exit_code, const char *code, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return report(exit_code, code, field, "%s", msg);
}

int ctl_usage(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (opt.json)
        json_error("INVALID_ARGUMENT", NULL, msg);
    fprintf(stderr, "carillonctl: %s (see carillonctl help)\n", msg);
    return EXIT_USAGE;
}

void ctl_set_timeout_ms(unsigned ms)
{
    opt.timeout_ms = ms;
}

int ctl_print_ok(const char *text)
{
    return print_ok(text);
}

bool ctl_utc(void)
{
    return opt.utc;
}

bool ctl_json(void)
{
    return opt.json;
}

void ctl_print_padded(const char *s, int width)
{
    print_padded(s, width);
}

/* --- main ------------------------------------------------------------------------------- */

static int parse_server(void)
{
    return cr_hostport_parse(opt.server, opt.host, sizeof opt.host, &opt.port);
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The server and CA every command but help needs: flags win over the environment. */
static int check_target(void)
{
    if (!opt.server || !*opt.server)
        return usage_error("no server: use --server HOST:PORT or set CARILLON_SERVER");
    if (!opt.ca || !*opt.ca)
        return usage_error("no CA certificate: use --ca FILE or set CARILLON_CA");
    if (strlen(opt.server) > CTL_SERVER_MAX || parse_server() != 0)
        return usage_error("bad server address '%s' (HOST:PORT, IPV4:PORT or [IPV6]:PORT)",
                           opt.server);
    return 0;
}

static int print_help(void)
{
    if (!opt.json) {
        usage(stdout);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return report(EXIT_REFUSED, "INTERNAL", NULL, "out of memory");
    usage(f);
    fclose(f);
    printf("{\"usage\":");
    json_str(stdout, text);
    printf("}\n");
    free(text);
    return 0;
}

static int run(int argc, char **argv)
{
    const char *cmd = argv[0];
    int rc;
    if (is(cmd, "help"))
        return print_help();
    if (is(cmd, "apply") || is(cmd, "get") || is(cmd, "campaign") || is(cmd, "grant") ||
        is(cmd, "question") || is(cmd, "script") || is(cmd, "qualification") ||
        is(cmd, "schedule") || is(cmd, "contact") || is(cmd, "blacklist") || is(cmd, "list") ||
        is(cmd, "filter") || is(cmd, "top") || is(cmd, "compliance")) {
        if ((rc = check_target()))
            return rc;
        if (is(cmd, "apply"))
            return cmd_apply(argc - 1, argv + 1);
        if (is(cmd, "get"))
            return cmd_get(argc - 1, argv + 1);
        if (is(cmd, "grant"))
            return cmd_grant(argc - 1, argv + 1);
        if (is(cmd, "question"))
            return ctl_question(argc - 1, argv + 1);
        if (is(cmd, "script"))
            return ctl_screen(argc - 1, argv + 1);
        if (is(cmd, "qualification"))
            return ctl_qualification(argc - 1, argv + 1);
        if (is(cmd, "schedule"))
            return ctl_schedule(argc - 1, argv + 1);
        if (is(cmd, "contact"))
            return ctl_contact(argc - 1, argv + 1);
        if (is(cmd, "blacklist"))
            return ctl_blacklist(argc - 1, argv + 1);
        if (is(cmd, "filter"))
            return ctl_filter(argc - 1, argv + 1);
        if (is(cmd, "list"))
            return ctl_list(argc - 1, argv + 1);
        if (is(cmd, "top"))
            return ctl_top(argc - 1, argv + 1);
        if (is(cmd, "compliance"))
            return ctl_compliance(argc - 1, argv + 1);
        return cmd_campaign(argc - 1, argv + 1);
    }
    if (is(cmd, "user")) {
        const char *sub = argc > 1 ? argv[1] : "";
        if (!is(sub, "add") && !is(sub, "list") && !is(sub, "passwd") && !is(sub, "disable") &&
            !is(sub, "enable") && !is(sub, "profiles"))
            return usage_error(*sub ? "unknown user subcommand '%s' (add, list, passwd, "
                                      "disable, enable, profiles)"
                                    : "user needs a subcommand: add, list, passwd, disable, "
                                      "enable or profiles%s",
                               sub);
        if ((rc = check_target()))
            return rc;
        if (is(sub, "add"))
            return cmd_user_add(argc - 2, argv + 2);
        if (is(sub, "passwd"))
            return cmd_user_passwd(argc - 2, argv + 2);
        if (is(sub, "list"))
            return cmd_user_list(argc - 2, argv + 2);
        if (is(sub, "profiles"))
            return cmd_user_profiles(argc - 2, argv + 2);
        return cmd_user_enable(argc - 2, argv + 2, is(sub, "enable"));
    }
    if (!is(cmd, "ping") && !is(cmd, "login") && !is(cmd, "logout") && !is(cmd, "whoami"))
        return usage_error("unknown command '%s'", cmd);
    if (!is(cmd, "login") && argc > 1)
        return usage_error("%s takes no arguments", cmd);
    if ((rc = check_target()))
        return rc;
    if (is(cmd, "login"))
        return cmd_login(argc - 1, argv + 1);
    if (is(cmd, "logout"))
        return cmd_logout();
    if ((rc = connect_server()))
        return rc;
    return is(cmd, "ping") ? cmd_ping() : cmd_whoami();
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"utc", no_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    /* --json is taken anywhere ("carillonctl user list --json"), and first, so that even an
     * error in the other options comes out as JSON. */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (is(argv[i], "--json"))
            opt.json = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = NULL;
    opt.server = getenv("CARILLON_SERVER");
    opt.ca = getenv("CARILLON_CA");
    /* Warnings show: libcommon says there why a TLS handshake failed (the certificate check). */
    cr_log_init("carillonctl", CR_LOG_WARN, false);
    opterr = 0;
    int ch;
    /* '+': stop at the command, so its own flags (--role, --all) are left to it. */
    while ((ch = getopt_long(argc, argv, "+:s:c:t:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            opt.server = optarg;
            break;
        case 'c':
            opt.ca = optarg;
            break;
        case 't':
            if (ctl_parse_timeout(optarg, &opt.timeout_ms))
                return usage_error("--timeout takes seconds above 0 and at most 3600, not '%s'",
                                   optarg);
            break;
        case 'u':
            opt.utc = true;
            break;
        case 'V':
            if (opt.json)
                printf("{\"software\":\"carillonctl\",\"version\":\"%s\"}\n", CARILLON_VERSION);
            else
                printf("carillonctl %s\n", CARILLON_VERSION);
            return 0;
        case 'h':
            return print_help();
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            if (optopt && optopt != '?')
                return usage_error("unknown option '-%c'", optopt);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("no command given");
    int rc = run(argc - optind, argv + optind);
    drop_reply();
    end_temp_session();
    disconnect();
    if (fflush(stdout) != 0 && rc == 0)
        rc = EXIT_REFUSED;
    return rc;
}
