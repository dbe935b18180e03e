/* carillonctl: the supervisor CLI. Each command opens one TLS connection to carillon-server,
 * says Hello, authenticates (session token, else CARILLON_USER/CARILLON_PASSWORD), sends one
 * request and prints the answer as text or JSON. Exit: 0 ok, 1 refused, 2 usage, 3 connection. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "pbyaml.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define EXIT_CONN    3
#define LOGIN_MAX    64
#define NAME_MAX_B   512
#define PASSWORD_MAX 256
#define TOKEN_MAX    128

static struct {
    const char *server;
    const char *ca;
    bool json;
    unsigned timeout_s;
    char host[256];
    int port;
} opt = {.timeout_s = 10};

/* --- output ----------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static const char *code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&carillon__v1__code__descriptor, code);
    return v ? v->name + strlen("CODE_") : "UNKNOWN";
}

static const char *role_name(int role)
{
    switch (role) {
    case CARILLON__V1__USER_ROLE__USER_ROLE_ADMIN:
        return "admin";
    case CARILLON__V1__USER_ROLE__USER_ROLE_SUPERVISOR:
        return "supervisor";
    case CARILLON__V1__USER_ROLE__USER_ROLE_AGENT:
        return "agent";
    default:
        return "unknown";
    }
}

/* Prints an error the way the exit code says: JSON on stdout with --json, text on stderr. */
static int report(int exit_code, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int report(int exit_code, const char *code, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (opt.json) {
        printf("{\"error\":{\"code\":");
        json_str(stdout, code);
        printf(",\"message\":");
        json_str(stdout, msg);
        if (field && *field) {
            printf(",\"field\":");
            json_str(stdout, field);
        }
        printf("}}\n");
    } else if (exit_code == EXIT_REFUSED) {
        fprintf(stderr, "error: %s: %s%s%s%s\n", code, msg, field && *field ? " (field: " : "",
                field && *field ? field : "", field && *field ? ")" : "");
    } else {
        fprintf(stderr, "carillonctl: %s\n", msg);
    }
    return exit_code;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: carillonctl [--server HOST:PORT] [--ca FILE] [--json] [--timeout S] COMMAND\n"
        "commands:\n"
        "  ping                         check the server answers (no login needed)\n"
        "  login [LOGIN]                log in and keep a session token\n"
        "  logout                       end the session\n"
        "  whoami                       who the session belongs to\n"
        "  user add LOGIN --role admin|supervisor|agent [--name NAME] [--password-stdin]\n"
        "  user list [--all]            users (--all: disabled ones too)\n"
        "  user passwd [LOGIN] [--password-stdin]\n"
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
        "environment: CARILLON_SERVER, CARILLON_CA, CARILLON_USER, CARILLON_PASSWORD,\n"
        "  CARILLON_CONFIG_DIR (where the session file is kept)\n"
        "exit codes: 0 ok, 1 the server said no, 2 usage, 3 connection or TLS failure\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "carillonctl: %s\n", msg);
    usage(stderr);
    return EXIT_USAGE;
}

/* --- the connection --------------------------------------------------------------------- */

/* One request at a time: send, then run the loop until its reply, a close or the deadline. */
static struct {
    uv_loop_t loop;
    struct cr_tls_ctx *tls;
    struct cr_conn *conn;
    bool open;
    bool closed;
    int close_err;
    bool timed_out;
    uint64_t next_rid;
    uint64_t want_rid;
    Carillon__V1__Envelope *reply;
    uv_timer_t timer;
    char server_node[128];
    bool temp_session; /* logged in with CARILLON_USER/PASSWORD: revoke at exit */
} net;

static void on_open(struct cr_conn *c)
{
    (void)c;
    net.open = true;
}

static void on_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    (void)c;
    if (env->request_id == net.want_rid && !net.reply)
        net.reply = env;
    else
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

static int conn_failure(void)
{
    const char *why =
        net.timed_out ? "timed out"
        : net.close_err
            ? strerror(net.close_err < 0 && net.close_err > -4096 ? -net.close_err : EIO)
            : "the server closed the connection";
    if (net.close_err == -EPROTO)
        why = "TLS handshake failed (is the CA right? is it a Carillon server?)";
    return report(EXIT_CONN, "UNAVAILABLE", NULL, "cannot talk to %s: %s", opt.server, why);
}

/* Sends env and waits for its reply; returns 0 with net.reply set, or an exit code. */
static int call(Carillon__V1__Envelope *env)
{
    env->request_id = ++net.next_rid;
    net.want_rid = env->request_id;
    net.reply = NULL;
    if (!net.conn || cr_conn_send(net.conn, env) != 0)
        return conn_failure();
    while (!net.reply && !net.closed)
        uv_run(&net.loop, UV_RUN_ONCE);
    if (!net.reply)
        return conn_failure();
    return 0;
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
        drop_reply();
        return report(EXIT_CONN, "INTERNAL", NULL, "unexpected reply from %s", opt.server);
    }
    return 0;
}

static int connect_server(void)
{
    char err[512];
    struct cr_tls_config tc = {.ca_file = opt.ca};
    if (cr_tls_ctx_new_client(&tc, &net.tls, err, sizeof err) != 0)
        return report(EXIT_CONN, "UNAVAILABLE", NULL, "TLS set-up: %s", err);
    uv_loop_init(&net.loop);
    uv_timer_init(&net.loop, &net.timer);
    uv_timer_start(&net.timer, on_timeout, (uint64_t)opt.timeout_s * 1000, 0);
    uv_unref((uv_handle_t *)&net.timer);
    static const struct cr_conn_cbs cbs = {on_open, on_message, on_close};
    struct cr_conn_opts copts = {.handshake_ms = opt.timeout_s * 1000};
    if (cr_conn_connect(&net.loop, opt.host, opt.port, net.tls, &copts, &cbs, NULL, &net.conn))
        return report(EXIT_CONN, "UNAVAILABLE", NULL, "cannot connect to %s", opt.server);
    while (!net.open && !net.closed)
        uv_run(&net.loop, UV_RUN_ONCE);
    if (!net.open)
        return conn_failure();

    char hostname[64] = "carillonctl";
    gethostname(hostname, sizeof hostname - 1);
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_SUPERVISOR;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = hostname;
    h.software = "carillonctl " CARILLON_VERSION;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    int rc = call(&env);
    if (rc)
        return rc;
    if ((rc = expect(CARILLON__V1__ENVELOPE__BODY_WELCOME)))
        return rc;
    snprintf(net.server_node, sizeof net.server_node, "%s", net.reply->welcome->node_name);
    drop_reply();
    return 0;
}

static void disconnect(void)
{
    if (net.conn)
        cr_conn_close(net.conn);
    if (net.tls) {
        cr_loop_close_all(&net.loop);
        cr_tls_ctx_free(net.tls);
        net.tls = NULL;
    }
}

/* --- secrets and the session file ------------------------------------------------------- */

static int session_path(char *out, size_t len, bool create_dir)
{
    const char *dir = getenv("CARILLON_CONFIG_DIR");
    char buf[4096];
    if (!dir || !*dir) {
        const char *xdg = getenv("XDG_CONFIG_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(buf, sizeof buf, "%s/carillon", xdg);
        else if (home && *home)
            snprintf(buf, sizeof buf, "%s/.config/carillon", home);
        else
            return -ENOENT;
        dir = buf;
    }
    if (create_dir) {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", dir);
        for (char *p = parent + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                mkdir(parent, 0700);
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

struct session {
    char server[256];
    char login[LOGIN_MAX + 1];
    char token[TOKEN_MAX + 1];
};

/* Reads the session for this server; 0, -ENOENT (none or another server's), -EPERM (unsafe). */
static int session_load(struct session *s)
{
    char path[4200];
    if (session_path(path, sizeof path, false))
        return -ENOENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
        close(fd);
        fprintf(stderr,
                "carillonctl: ignoring %s: it is readable by others (chmod 600 it or log in "
                "again)\n",
                path);
        return -EPERM;
    }
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -ENOENT;
    buf[n] = '\0';
    memset(s, 0, sizeof *s);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "server=", 7) == 0)
            snprintf(s->server, sizeof s->server, "%s", line + 7);
        else if (strncmp(line, "login=", 6) == 0)
            snprintf(s->login, sizeof s->login, "%s", line + 6);
        else if (strncmp(line, "token=", 6) == 0)
            snprintf(s->token, sizeof s->token, "%s", line + 6);
    }
    if (strcmp(s->server, opt.server) != 0 || !s->token[0])
        return -ENOENT;
    return 0;
}

static int session_save(const char *login, const char *token)
{
    char path[4200], tmp[4300];
    int rc = session_path(path, sizeof path, true);
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    fchmod(fd, 0600);
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "server=%s\nlogin=%s\ntoken=%s\n", opt.server, login, token);
    bool ok = write(fd, buf, (size_t)n) == n;
    ok = fsync(fd) == 0 && ok;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

static void session_remove(void)
{
    char path[4200];
    if (session_path(path, sizeof path, false) == 0)
        unlink(path);
}

/* Reads one line of stdin into buf (newline dropped); false at EOF or when too long. */
static bool read_line(char *buf, size_t len)
{
    if (!fgets(buf, (int)len, stdin))
        return false;
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n == len - 1)
        return false;
    buf[n] = '\0';
    return true;
}

/* Prompts on the terminal without echo. */
static bool prompt_secret(const char *prompt, char *buf, size_t len)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return false;
    struct termios old, quiet;
    int fd = fileno(tty);
    fprintf(tty, "%s", prompt);
    fflush(tty);
    bool restored = tcgetattr(fd, &old) == 0;
    if (restored) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)len, tty) != NULL;
    if (restored)
        tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    if (ok)
        buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

/* --- authentication --------------------------------------------------------------------- */

static int login_with(const char *login, const char *password, const char *token,
                      Carillon__V1__LoginOk **ok_out)
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
    if (net.reply->body_case == CARILLON__V1__ENVELOPE__BODY_LOGIN_OK) {
        if (ok_out)
            *ok_out = net.reply->login_ok;
        return 0;
    }
    return -1; /* caller inspects net.reply (an Error) */
}

/* Logs in for a command: saved token first, then the environment's credentials. */
static int authenticate(void)
{
    struct session s;
    if (session_load(&s) == 0) {
        int rc = login_with(s.login, NULL, s.token, NULL);
        if (rc > 0)
            return rc;
        if (rc == 0) {
            drop_reply();
            return 0;
        }
        bool stale =
            net.reply->error && net.reply->error->code == CARILLON__V1__CODE__CODE_UNAUTHENTICATED;
        if (!stale)
            return expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
        drop_reply();
        session_remove();
        if (!getenv("CARILLON_USER") || !getenv("CARILLON_PASSWORD"))
            return report(EXIT_REFUSED, "UNAUTHENTICATED", NULL,
                          "your session has expired: run 'carillonctl login'");
    }
    const char *user = getenv("CARILLON_USER"), *password = getenv("CARILLON_PASSWORD");
    if (!user || !*user || !password)
        return report(EXIT_REFUSED, "UNAUTHENTICATED", NULL,
                      "not logged in: run 'carillonctl login' (or set CARILLON_USER and "
                      "CARILLON_PASSWORD)");
    int rc = login_with(user, password, NULL, NULL);
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
    if (call(&env) == 0)
        drop_reply();
}

/* --- commands --------------------------------------------------------------------------- */

static void print_user_json(const Carillon__V1__UserInfo *u)
{
    printf("{\"id\":%lld,\"login\":", (long long)u->id);
    json_str(stdout, u->login);
    printf(",\"display_name\":");
    json_str(stdout, u->display_name);
    printf(",\"role\":\"%s\",\"disabled\":%s,\"created_at\":%lld,\"profiles\":[",
           role_name(u->role), u->disabled ? "true" : "false", (long long)u->created_at);
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
    localtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
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
    double rtt_ms = (double)(cr_now_us() - net.reply->pong->sent_at_us) / 1000.0;
    if (opt.json) {
        printf("{\"node\":");
        json_str(stdout, net.server_node);
        printf(",\"server_version\":");
        json_str(stdout, net.reply->pong->server_version);
        printf(",\"rtt_ms\":%.3f}\n", rtt_ms);
    } else {
        printf("pong from %s (%s) in %.1f ms\n", net.server_node, net.reply->pong->server_version,
               rtt_ms);
    }
    drop_reply();
    return 0;
}

static int cmd_login(int argc, char **argv)
{
    if (argc > 1)
        return usage_error("login takes at most one LOGIN");
    char login[LOGIN_MAX + 2] = "", password[PASSWORD_MAX + 2] = "";
    if (argc == 1)
        snprintf(login, sizeof login, "%s", argv[0]);
    else if (getenv("CARILLON_USER"))
        snprintf(login, sizeof login, "%s", getenv("CARILLON_USER"));
    else if (isatty(STDIN_FILENO)) {
        printf("login: ");
        fflush(stdout);
        if (!read_line(login, sizeof login))
            return usage_error("no login given");
    } else {
        return usage_error("login: give LOGIN or set CARILLON_USER");
    }
    if (strlen(login) > LOGIN_MAX)
        return usage_error("login is longer than %d bytes", LOGIN_MAX);
    if (getenv("CARILLON_PASSWORD"))
        snprintf(password, sizeof password, "%s", getenv("CARILLON_PASSWORD"));
    else if (isatty(STDIN_FILENO) ? !prompt_secret("password: ", password, sizeof password)
                                  : !read_line(password, sizeof password))
        return usage_error("no password given");
    if (strlen(password) > PASSWORD_MAX)
        return usage_error("password is longer than %d bytes", PASSWORD_MAX);

    Carillon__V1__LoginOk *ok = NULL;
    int rc = login_with(login, password, NULL, &ok);
    memset(password, 0, sizeof password);
    if (rc > 0)
        return rc;
    if (rc < 0)
        return expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
    if ((rc = session_save(ok->user->login, ok->token))) {
        drop_reply();
        return report(EXIT_REFUSED, "INTERNAL", NULL, "cannot save the session: %s", strerror(-rc));
    }
    if (opt.json) {
        printf("{\"user\":");
        print_user_json(ok->user);
        printf(",\"expires_at\":%lld}\n", (long long)ok->expires_at);
    } else {
        char when[64];
        format_time(ok->expires_at, when, sizeof when);
        printf("logged in as %s (%s) until %s\n", ok->user->login, role_name(ok->user->role), when);
    }
    drop_reply();
    return 0;
}

static int cmd_logout(void)
{
    struct session s;
    if (session_load(&s) != 0) {
        session_remove();
        return print_ok("not logged in");
    }
    int rc = login_with(s.login, NULL, s.token, NULL);
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
        char when[64];
        format_time(r->session_expires_at, when, sizeof when);
        printf("login: %s\nname: %s\nrole: %s\nsession expires: %s\n", r->user->login,
               r->user->display_name, role_name(r->user->role), when);
    }
    drop_reply();
    return 0;
}

/* Display width of UTF-8 text (code points; enough for Latin scripts). */
static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80)
            w++;
    return w;
}

static void print_padded(const char *s, int width)
{
    printf("%s", s);
    for (int i = display_width(s); i < width; i++)
        putchar(' ');
}

static int cmd_user_list(int argc, char **argv)
{
    bool all = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            all = true;
        else
            return usage_error("user list: unknown argument '%s'", argv[i]);
    }
    int rc = authenticate();
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
    } else {
        int wl = 5, wn = 4;
        for (size_t i = 0; i < r->n_users; i++) {
            if (display_width(r->users[i]->login) > wl)
                wl = display_width(r->users[i]->login);
            if (display_width(r->users[i]->display_name) > wn)
                wn = display_width(r->users[i]->display_name);
        }
        print_padded("LOGIN", wl + 2);
        print_padded("NAME", wn + 2);
        printf("ROLE        STATE     CREATED           PROFILES\n");
        for (size_t i = 0; i < r->n_users; i++) {
            char when[64];
            format_time(r->users[i]->created_at, when, sizeof when);
            print_padded(r->users[i]->login, wl + 2);
            print_padded(r->users[i]->display_name, wn + 2);
            print_padded(role_name(r->users[i]->role), 12);
            print_padded(r->users[i]->disabled ? "disabled" : "active", 10);
            print_padded(when, 18);
            for (size_t k = 0; k < r->users[i]->n_profiles; k++)
                printf("%s%s", k ? "," : "", r->users[i]->profiles[k]);
            printf("\n");
        }
    }
    drop_reply();
    return 0;
}

/* A new password: the first stdin line with --password-stdin, else asked twice on a tty. */
static int new_password(bool from_stdin, char *buf, size_t len)
{
    if (from_stdin) {
        if (!read_line(buf, len))
            return usage_error("--password-stdin: no password line on stdin");
        return 0;
    }
    if (!isatty(STDIN_FILENO))
        return usage_error("give the password with --password-stdin (stdin is not a terminal)");
    char again[PASSWORD_MAX + 2];
    if (!prompt_secret("new password: ", buf, len) ||
        !prompt_secret("new password again: ", again, sizeof again))
        return usage_error("no password given");
    if (strcmp(buf, again) != 0)
        return usage_error("the two passwords differ");
    return 0;
}

static int cmd_user_add(int argc, char **argv)
{
    const char *login = NULL, *name = "", *role = NULL;
    bool from_stdin = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--password-stdin") == 0)
            from_stdin = true;
        else if (argv[i][0] != '-' && !login)
            login = argv[i];
        else
            return usage_error("user add: unexpected argument '%s'", argv[i]);
    }
    if (!login || !role)
        return usage_error("user add needs LOGIN and --role admin|supervisor|agent");
    int r = strcmp(role, "admin") == 0        ? CARILLON__V1__USER_ROLE__USER_ROLE_ADMIN
            : strcmp(role, "supervisor") == 0 ? CARILLON__V1__USER_ROLE__USER_ROLE_SUPERVISOR
            : strcmp(role, "agent") == 0      ? CARILLON__V1__USER_ROLE__USER_ROLE_AGENT
                                              : 0;
    if (!r)
        return usage_error("--role must be admin, supervisor or agent, not '%s'", role);
    if (strlen(login) > LOGIN_MAX || strlen(name) > NAME_MAX_B)
        return usage_error("login (64 bytes) or name (128 characters) too long");
    char password[PASSWORD_MAX + 2];
    int rc = new_password(from_stdin, password, sizeof password);
    if (rc)
        return rc;
    if ((rc = connect_server()) || (rc = authenticate()))
        return rc;
    Carillon__V1__UserAdd ua = CARILLON__V1__USER_ADD__INIT;
    ua.login = (char *)login;
    ua.display_name = (char *)name;
    ua.role = r;
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
        printf("user %s added (%s, %s)\n", u->login, role_name(u->role), u->display_name);
    }
    drop_reply();
    return 0;
}

static int cmd_user_passwd(int argc, char **argv)
{
    const char *login = "";
    bool from_stdin = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0)
            from_stdin = true;
        else if (argv[i][0] != '-' && !login[0])
            login = argv[i];
        else
            return usage_error("user passwd: unexpected argument '%s'", argv[i]);
    }
    char password[PASSWORD_MAX + 2], old[PASSWORD_MAX + 2] = "";
    int rc = new_password(from_stdin, password, sizeof password);
    if (rc)
        return rc;
    if ((rc = connect_server()) || (rc = authenticate()))
        return rc;
    /* Changing one's own password needs the current one. */
    Carillon__V1__WhoAmI w = CARILLON__V1__WHO_AM_I__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_WHOAMI;
    env.whoami = &w;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_WHOAMI_REPLY)))
        return rc;
    bool self = !login[0] || strcmp(login, net.reply->whoami_reply->user->login) == 0;
    drop_reply();
    if (self) {
        if (getenv("CARILLON_OLD_PASSWORD"))
            snprintf(old, sizeof old, "%s", getenv("CARILLON_OLD_PASSWORD"));
        else if (from_stdin ? !read_line(old, sizeof old)
                            : !prompt_secret("current password: ", old, sizeof old))
            return usage_error("changing your own password needs the current one "
                               "(CARILLON_OLD_PASSWORD, or a second stdin line)");
    }
    Carillon__V1__UserPasswd up = CARILLON__V1__USER_PASSWD__INIT;
    up.login = (char *)login;
    up.new_password = password;
    up.old_password = old;
    Carillon__V1__Envelope env2 = CARILLON__V1__ENVELOPE__INIT;
    env2.body_case = CARILLON__V1__ENVELOPE__BODY_USER_PASSWD;
    env2.user_passwd = &up;
    rc = call(&env2);
    memset(password, 0, sizeof password);
    memset(old, 0, sizeof old);
    if (rc || (rc = expect(CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    drop_reply();
    return print_ok("password changed");
}

static int cmd_user_enable(int argc, char **argv, bool enable)
{
    if (argc != 1)
        return usage_error("user %s needs exactly one LOGIN", enable ? "enable" : "disable");
    int rc = authenticate();
    if (rc)
        return rc;
    Carillon__V1__UserDisable ud = CARILLON__V1__USER_DISABLE__INIT;
    ud.login = argv[0];
    ud.enable = enable;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_DISABLE;
    env.user_disable = &ud;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    drop_reply();
    char text[128];
    snprintf(text, sizeof text, "user %s %s", argv[0], enable ? "enabled" : "disabled");
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
    if (opt.json)
        printf("{\"name\":\"%s\",\"created\":%s}\n", r->campaign->name,
               r->created ? "true" : "false");
    else
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
    Carillon__V1__CampaignList l = CARILLON__V1__CAMPAIGN_LIST__INIT;
    for (int i = 0; i < argc; i++) {
        int st;
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            if (parse_state(argv[++i], &st))
                return EXIT_USAGE;
            l.state = st;
        } else if (strcmp(argv[i], "--year") == 0 && i + 1 < argc) {
            l.year = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--contract-type") == 0 && i + 1 < argc) {
            l.contract_type = argv[++i];
        } else {
            return usage_error("campaign list: unexpected argument '%s'", argv[i]);
        }
    }
    int rc = connect_server();
    if (!rc)
        rc = authenticate();
    if (rc)
        return rc;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST;
    env.campaign_list = &l;
    if ((rc = call(&env)) || (rc = expect(CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST_REPLY)))
        return rc;
    const Carillon__V1__CampaignListReply *r = net.reply->campaign_list_reply;
    if (opt.json) {
        pbjson_write(stdout, &r->base);
    } else {
        int wn = 4;
        for (size_t i = 0; i < r->n_campaigns; i++)
            if (display_width(r->campaigns[i]->name) > wn)
                wn = display_width(r->campaigns[i]->name);
        print_padded("NAME", wn + 2);
        printf("STATE     YEAR  AGENTS  TARGETS  CONTRACT TYPES\n");
        for (size_t i = 0; i < r->n_campaigns; i++) {
            const Carillon__V1__CampaignSummary *s = r->campaigns[i];
            char st[32], targets[32];
            print_padded(s->name, wn + 2);
            print_padded(
                cr_pb_enum_word(&carillon__v1__campaign_state__descriptor, s->state, st, sizeof st),
                10);
            printf("%-6u%-8u", s->year, s->agents);
            if (s->positive_target)
                snprintf(targets, sizeof targets, "%u/%u", s->positive_count, s->positive_target);
            else
                snprintf(targets, sizeof targets, "%u", s->positive_count);
            print_padded(targets, 9);
            for (size_t k = 0; k < s->n_contract_types; k++)
                printf("%s%s", k ? ", " : "", s->contract_types[k]);
            printf("\n");
        }
    }
    drop_reply();
    return 0;
}

static int cmd_campaign(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("campaign needs a subcommand: list, state, duplicate or delete");
    const char *sub = argv[0];
    if (strcmp(sub, "list") == 0)
        return cmd_campaign_list(argc - 1, argv + 1);
    if (strcmp(sub, "create") == 0 || strcmp(sub, "set") == 0)
        return ctl_campaign_edit(argc, argv);
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
    int rc = authenticate();
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
    fprintf(stderr, "carillonctl: %s (see carillonctl help)\n", msg);
    return EXIT_USAGE;
}

int ctl_print_ok(const char *text)
{
    return print_ok(text);
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

static int run(int argc, char **argv)
{
    const char *cmd = argv[0];
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "apply") == 0 || strcmp(cmd, "get") == 0 || strcmp(cmd, "campaign") == 0 ||
        strcmp(cmd, "grant") == 0 || strcmp(cmd, "question") == 0 || strcmp(cmd, "script") == 0 ||
        strcmp(cmd, "qualification") == 0 || strcmp(cmd, "schedule") == 0 ||
        strcmp(cmd, "contact") == 0 || strcmp(cmd, "blacklist") == 0) {
        if (!opt.server || !*opt.server)
            return usage_error("no server: use --server HOST:PORT or set CARILLON_SERVER");
        if (!opt.ca || !*opt.ca)
            return usage_error("no CA certificate: use --ca FILE or set CARILLON_CA");
        if (parse_server() != 0)
            return usage_error("bad server address '%s' (HOST:PORT or [IPv6]:PORT)", opt.server);
        if (strcmp(cmd, "apply") == 0)
            return cmd_apply(argc - 1, argv + 1);
        if (strcmp(cmd, "get") == 0)
            return cmd_get(argc - 1, argv + 1);
        if (strcmp(cmd, "grant") == 0)
            return cmd_grant(argc - 1, argv + 1);
        if (strcmp(cmd, "question") == 0)
            return ctl_question(argc - 1, argv + 1);
        if (strcmp(cmd, "script") == 0)
            return ctl_screen(argc - 1, argv + 1);
        if (strcmp(cmd, "qualification") == 0)
            return ctl_qualification(argc - 1, argv + 1);
        if (strcmp(cmd, "schedule") == 0)
            return ctl_schedule(argc - 1, argv + 1);
        if (strcmp(cmd, "contact") == 0)
            return ctl_contact(argc - 1, argv + 1);
        if (strcmp(cmd, "blacklist") == 0)
            return ctl_blacklist(argc - 1, argv + 1);
        return cmd_campaign(argc - 1, argv + 1);
    }
    bool is_user = strcmp(cmd, "user") == 0;
    const char *sub = is_user && argc > 1 ? argv[1] : NULL;
    if (!is_user && strcmp(cmd, "ping") && strcmp(cmd, "login") && strcmp(cmd, "logout") &&
        strcmp(cmd, "whoami"))
        return usage_error("unknown command '%s'", cmd);
    if (is_user &&
        (!sub || (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "passwd") &&
                  strcmp(sub, "disable") && strcmp(sub, "enable") && strcmp(sub, "profiles"))))
        return usage_error("user needs a subcommand: add, list, passwd, disable or enable");
    if (!is_user && argc > 1 && strcmp(cmd, "login") != 0)
        return usage_error("%s takes no arguments", cmd);
    if (!opt.server || !*opt.server)
        return usage_error("no server: use --server HOST:PORT or set CARILLON_SERVER");
    if (!opt.ca || !*opt.ca)
        return usage_error("no CA certificate: use --ca FILE or set CARILLON_CA");
    if (parse_server() != 0)
        return usage_error("bad server address '%s' (HOST:PORT or [IPv6]:PORT)", opt.server);

    /* Commands that read secrets from stdin do it before connecting. */
    if (is_user && (strcmp(sub, "add") == 0))
        return cmd_user_add(argc - 2, argv + 2);
    if (is_user && strcmp(sub, "passwd") == 0)
        return cmd_user_passwd(argc - 2, argv + 2);
    if (strcmp(cmd, "login") == 0 && !getenv("CARILLON_PASSWORD") && !isatty(STDIN_FILENO)) {
        /* password from stdin: read it in cmd_login after connecting is fine too */
    }
    int rc = connect_server();
    if (rc)
        return rc;
    if (strcmp(cmd, "ping") == 0)
        return cmd_ping();
    if (strcmp(cmd, "login") == 0)
        return cmd_login(argc - 1, argv + 1);
    if (strcmp(cmd, "logout") == 0)
        return cmd_logout();
    if (strcmp(cmd, "whoami") == 0)
        return cmd_whoami();
    if (strcmp(sub, "list") == 0)
        return cmd_user_list(argc - 2, argv + 2);
    if (strcmp(sub, "profiles") == 0)
        return cmd_user_profiles(argc - 2, argv + 2);
    return cmd_user_enable(argc - 2, argv + 2, strcmp(sub, "enable") == 0);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opt.server = getenv("CARILLON_SERVER");
    opt.ca = getenv("CARILLON_CA");
    cr_log_init("carillonctl", CR_LOG_ERROR, false);
    int ch;
    /* '+': stop at the command, so its own flags (--role, --all) are left to it. */
    while ((ch = getopt_long(argc, argv, "+s:c:jt:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            opt.server = optarg;
            break;
        case 'c':
            opt.ca = optarg;
            break;
        case 'j':
            opt.json = true;
            break;
        case 't': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || t < 1 || t > 3600)
                return usage_error("--timeout needs seconds between 1 and 3600");
            opt.timeout_s = (unsigned)t;
            break;
        }
        case 'V':
            printf("carillonctl %s\n", CARILLON_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return usage_error("no command given");
    /* --json is accepted after the command too ("carillonctl user list --json"). */
    int kept = optind;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            opt.json = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    int rc = run(argc - optind, argv + optind);
    drop_reply();
    end_temp_session();
    disconnect();
    fflush(stdout);
    return rc;
}
