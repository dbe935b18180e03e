/* agent-load: many agent desktops in one libuv process, for tests/bench/agents. It opens N TLS
 * connections to carillon-agentd (or to the benchmark's reference server), says Hello as an
 * agent, logs each in as its own user, holds them, and measures how long the server's
 * CallConnected pushes take to arrive (the server's bench_push_rate generator writes its send
 * time, CLOCK_REALTIME in microseconds, in CallConnected.campaign_number).
 *
 * The usage text below is the reference for options and output. Handshakes and logins are
 * bounded (--concurrency): the next connection opens when one in flight is logged in or has
 * failed. A login refused with RESOURCE_EXHAUSTED or UNAVAILABLE ("try again") is sent again
 * after 200 ms. Nothing sleeps: timers on the loop. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"

#define MAX_SESSIONS   200000
#define MAX_SAMPLES    2000000 /* latencies kept; more are counted, not kept */
#define MAX_FAIL_LINES 10      /* failures printed one by one; the rest only counted */
#define RETRY_MS       200
#define MAX_RETRIES    100
#define LOGIN_MAX      64
#define PASSWORD_MAX   256

static const char usage_text[] =
    "usage: agent-load --connect HOST:PORT --ca CA [--sessions N] [--prefix P] [--password PW]\n"
    "                  [--campaign NAME] [--concurrency C] [--hello-only] [--measure S]\n"
    "                  [--timeout S]\n"
    "Opens N agent connections (TLS 1.3) in one process, logs them in, holds them.\n"
    "  --connect HOST:PORT  carillon-agentd's agent listener (its certificate: OU agentd)\n"
    "  --ca CA              CA that signed the listener's certificate\n"
    "  --sessions N         connections (default 100, at most 200000)\n"
    "  --prefix P           user logins are P00001, P00002, ... (default bench)\n"
    "  --password PW        every user's password (default bench-password)\n"
    "  --campaign NAME      AgentLogin.campaigns (default: none, all those assigned)\n"
    "  --concurrency C      handshakes + logins in flight at once (default 16)\n"
    "  --hello-only         stop after Hello/Welcome (the reference server knows no login)\n"
    "  --measure S          once all are up, record push latencies for S s (default 0: none)\n"
    "  --timeout S          exit 1 if the sessions are not all up after S s (default 300)\n"
    "stdout, one line each:\n"
    "  progress up=U failed=F in_flight=I t_s=T        (each second until ready)\n"
    "  failed session=K stage=connect|hello|login code=C message=\"...\"  (the first 10)\n"
    "  ready sessions=U failed=F t_s=T pushes_before=P\n"
    "  latency events=E kept=K rate=R p50_ms=X p90_ms=X p99_ms=X max_ms=X receivers=D late=L\n"
    "     (receivers: distinct sessions that got an event; late: pushes whose send time was\n"
    "     unreadable)\n"
    "  lost sessions=L        (connections closed after ready, printed at the end)\n"
    "Then it holds the sessions until SIGTERM or SIGINT, and exits 0 (1: timeout or a failure,\n"
    "2: usage). RLIMIT_NOFILE is raised to its hard limit; N beyond it is refused.\n";

enum stage { ST_IDLE, ST_CONNECTING, ST_HELLO, ST_LOGIN, ST_UP, ST_FAILED, ST_CLOSED };

struct sess {
    struct cr_conn *c; /* owned by conn.c; NULL once closed */
    unsigned idx;      /* 1-based: the user number */
    enum stage stage;
    unsigned retries;
    bool waiting_retry;
    bool got_push;
};

static struct {
    uv_loop_t *loop;
    struct cr_tls_ctx *tls;
    char host[256];
    int port;
    unsigned n, concurrency, next, in_flight, up, failed, fail_lines, lost, receivers;
    const char *prefix, *password, *campaign;
    bool hello_only, ready, measuring, stopping;
    double measure_s, timeout_s;
    struct sess *s;
    uint64_t t0_ms, measure_start_us;
    uint64_t pushes_before, events, late;
    int64_t *samples;
    size_t nsamples;
    uv_timer_t progress, retry, measure;
    uv_signal_t sigterm, sigint;
    int exit_code;
    uint64_t rid;
} g;

static void start_more(void);
static void on_measured(uv_timer_t *t);

static double secs_since_start(void)
{
    return (double)(uv_now(g.loop) - g.t0_ms) / 1000.0;
}

static void fail(struct sess *s, const char *stage, int code, const char *msg)
{
    if (s->stage == ST_FAILED)
        return;
    bool counted = s->stage == ST_CONNECTING || s->stage == ST_HELLO || s->stage == ST_LOGIN;
    s->stage = ST_FAILED;
    g.failed++;
    if (counted && g.in_flight > 0)
        g.in_flight--;
    if (g.fail_lines < MAX_FAIL_LINES) {
        g.fail_lines++;
        printf("failed session=%u stage=%s code=%d message=\"%s\"\n", s->idx, stage, code,
               msg ? msg : "");
        fflush(stdout);
    }
    if (s->c)
        cr_conn_close(s->c);
    start_more();
}

static int send_env(struct sess *s, Carillon__V1__Envelope *env)
{
    env->request_id = ++g.rid;
    return cr_conn_send(s->c, env);
}

static void send_login(struct sess *s)
{
    char login[LOGIN_MAX + 1], softphone[128];
    snprintf(login, sizeof login, "%s%05u", g.prefix, s->idx);
    snprintf(softphone, sizeof softphone, "sip:%s@127.0.0.1", login);
    Carillon__V1__AgentLogin al = CARILLON__V1__AGENT_LOGIN__INIT;
    al.login = login;
    al.password = (char *)g.password;
    al.softphone = softphone;
    char *camps[1] = {(char *)g.campaign};
    if (g.campaign && g.campaign[0]) {
        al.campaigns = camps;
        al.n_campaigns = 1;
    }
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN;
    env.agent_login = &al;
    s->stage = ST_LOGIN;
    if (send_env(s, &env) != 0)
        fail(s, "login", 0, "could not queue AgentLogin");
}

static void check_ready(void)
{
    if (g.ready || g.up + g.failed < g.n)
        return;
    g.ready = true;
    uv_timer_stop(&g.progress);
    printf("ready sessions=%u failed=%u t_s=%.1f pushes_before=%" PRIu64 "\n", g.up, g.failed,
           secs_since_start(), g.pushes_before);
    fflush(stdout);
    if (g.failed)
        g.exit_code = 1;
    if (g.measure_s > 0) {
        g.measuring = true;
        g.measure_start_us = (uint64_t)cr_now_us();
        uv_timer_start(&g.measure, on_measured, (uint64_t)(g.measure_s * 1000), 0);
    }
}

static void on_push(struct sess *s, const Carillon__V1__CallConnected *cc)
{
    long long now = cr_now_us();
    if (!g.measuring) {
        g.pushes_before++;
        return;
    }
    char *end = NULL;
    long long sent = cc->campaign_number ? strtoll(cc->campaign_number, &end, 10) : 0;
    if (!end || *end || sent <= 0 || sent > now + 60000000LL) {
        g.late++;
        return;
    }
    g.events++;
    if (!s->got_push) {
        s->got_push = true;
        g.receivers++;
    }
    if (g.nsamples < MAX_SAMPLES)
        g.samples[g.nsamples++] = now - sent;
}

static void on_open(struct cr_conn *c)
{
    struct sess *s = cr_conn_data(c);
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_AGENT;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = "agent-load";
    h.software = "agent-load";
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    s->stage = ST_HELLO;
    if (send_env(s, &env) != 0)
        fail(s, "hello", 0, "could not queue Hello");
}

static void became_up(struct sess *s)
{
    s->stage = ST_UP;
    g.up++;
    g.in_flight--;
    start_more();
    check_ready();
}

static void on_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct sess *s = cr_conn_data(c);
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_WELCOME:
        if (s->stage != ST_HELLO)
            break;
        if (g.hello_only)
            became_up(s);
        else
            send_login(s);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK:
        if (s->stage == ST_LOGIN)
            became_up(s);
        break;
    case CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED:
        on_push(s, env->call_connected);
        break;
    case CARILLON__V1__ENVELOPE__BODY_ERROR: {
        const Carillon__V1__Error *e = env->error;
        if (s->stage == ST_UP || s->stage == ST_FAILED)
            break; /* an answer to nothing we asked once up: not ours to judge */
        if (s->stage == ST_LOGIN && s->retries < MAX_RETRIES &&
            (e->code == CARILLON__V1__CODE__CODE_RESOURCE_EXHAUSTED ||
             e->code == CARILLON__V1__CODE__CODE_UNAVAILABLE)) {
            s->retries++;
            s->waiting_retry = true; /* the retry timer sends the login again */
            break;
        }
        fail(s, s->stage == ST_LOGIN ? "login" : "hello", (int)e->code, e->message);
        break;
    }
    default:
        break; /* state changes and other pushes: not measured */
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_close(struct cr_conn *c, int err)
{
    struct sess *s = cr_conn_data(c);
    s->c = NULL;
    if (s->stage == ST_UP) {
        s->stage = ST_CLOSED;
        if (!g.stopping)
            g.lost++;
    } else if (s->stage != ST_FAILED && s->stage != ST_CLOSED) {
        fail(s,
             s->stage == ST_CONNECTING ? "connect"
             : s->stage == ST_HELLO    ? "hello"
                                       : "login",
             err, err ? strerror(-err) : "closed by the peer");
    }
    if (!g.ready)
        check_ready();
}

static const struct cr_conn_cbs conn_cbs = {on_open, on_message, on_close};

static void start_one(struct sess *s)
{
    s->stage = ST_CONNECTING;
    g.in_flight++;
    /* a loaded machine stalls a handshake for many seconds: 120 s before calling it failed */
    struct cr_conn_opts o = {.handshake_ms = 120000};
    int rc = cr_conn_connect(g.loop, g.host, g.port, g.tls, &o, &conn_cbs, s, &s->c);
    if (rc != 0) {
        s->c = NULL;
        fail(s, "connect", rc, strerror(-rc));
    }
}

/* Opens connections while fewer than --concurrency are in flight. Re-entrant calls (a failure
 * inside start_one) only continue the same walk. */
static void start_more(void)
{
    static bool running;
    if (running || g.stopping)
        return;
    running = true;
    while (g.in_flight < g.concurrency && g.next < g.n)
        start_one(&g.s[g.next++]);
    running = false;
}

static void on_progress(uv_timer_t *t)
{
    (void)t;
    printf("progress up=%u failed=%u in_flight=%u t_s=%.0f\n", g.up, g.failed, g.in_flight,
           secs_since_start());
    fflush(stdout);
    if (g.timeout_s > 0 && secs_since_start() > g.timeout_s) {
        printf("timeout up=%u failed=%u\n", g.up, g.failed);
        fflush(stdout);
        exit(1);
    }
}

static void on_retry(uv_timer_t *t)
{
    (void)t;
    for (unsigned i = 0; i < g.next; i++) {
        struct sess *s = &g.s[i];
        if (s->waiting_retry && s->stage == ST_LOGIN && s->c) {
            s->waiting_retry = false;
            send_login(s);
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(double p)
{
    if (!g.nsamples)
        return 0;
    size_t k = (size_t)(p * (double)(g.nsamples - 1) + 0.5);
    return (double)g.samples[k] / 1000.0;
}

static void on_measured(uv_timer_t *t)
{
    (void)t;
    g.measuring = false;
    double secs = (double)((uint64_t)cr_now_us() - g.measure_start_us) / 1e6;
    qsort(g.samples, g.nsamples, sizeof g.samples[0], cmp_i64);
    printf("latency events=%" PRIu64 " kept=%zu rate=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f "
           "max_ms=%.2f receivers=%u late=%" PRIu64 "\n",
           g.events, g.nsamples, secs > 0 ? (double)g.events / secs : 0.0, pct_ms(0.50),
           pct_ms(0.90), pct_ms(0.99), g.nsamples ? (double)g.samples[g.nsamples - 1] / 1000.0 : 0,
           g.receivers, g.late);
    fflush(stdout);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (g.stopping)
        return;
    g.stopping = true;
    printf("lost sessions=%u\n", g.lost);
    fflush(stdout);
    for (unsigned i = 0; i < g.n; i++)
        if (g.s[i].c)
            cr_conn_abort(g.s[i].c);
    uv_stop(g.loop);
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *connect = NULL, *ca = NULL;
    unsigned measure = 0, timeout = 300;
    g.n = 100;
    g.concurrency = 16;
    g.prefix = "bench";
    g.password = "bench-password";
    static const struct option opts[] = {{"connect", required_argument, NULL, 'C'},
                                         {"ca", required_argument, NULL, 'a'},
                                         {"sessions", required_argument, NULL, 'n'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"password", required_argument, NULL, 'w'},
                                         {"campaign", required_argument, NULL, 'k'},
                                         {"concurrency", required_argument, NULL, 'c'},
                                         {"hello-only", no_argument, NULL, 'H'},
                                         {"measure", required_argument, NULL, 'm'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (o) {
        case 'C':
            connect = optarg;
            break;
        case 'a':
            ca = optarg;
            break;
        case 'n':
            bad = parse_uint(optarg, MAX_SESSIONS, &g.n) || g.n == 0;
            break;
        case 'p':
            g.prefix = optarg;
            bad = strlen(optarg) > LOGIN_MAX - 10;
            break;
        case 'w':
            g.password = optarg;
            bad = strlen(optarg) > PASSWORD_MAX;
            break;
        case 'k':
            g.campaign = optarg;
            break;
        case 'c':
            bad = parse_uint(optarg, 100000, &g.concurrency) || g.concurrency == 0;
            break;
        case 'H':
            g.hello_only = true;
            break;
        case 'm':
            bad = parse_uint(optarg, 86400, &measure);
            break;
        case 't':
            bad = parse_uint(optarg, 86400, &timeout);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            bad = 1;
            break;
        }
        if (bad) {
            fprintf(stderr, "agent-load: bad option or value (%s)\n%s", argv[optind - 1],
                    usage_text);
            return 2;
        }
    }
    if (!connect || !ca || optind != argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (cr_hostport_parse(connect, g.host, sizeof g.host, &g.port) != 0) {
        fprintf(stderr, "agent-load: --connect %s is not HOST:PORT\n", connect);
        return 2;
    }
    g.measure_s = measure;
    g.timeout_s = timeout;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)g.n + 64) {
            fprintf(stderr,
                    "agent-load: %u sessions need %u file descriptors; RLIMIT_NOFILE allows %llu "
                    "(raise the hard limit)\n",
                    g.n, g.n + 64, (unsigned long long)rl.rlim_cur);
            return 2;
        }
    }
    cr_log_init("agent-load", CR_LOG_WARN, false);

    char err[256];
    struct cr_tls_config tc = {.ca_file = ca, .peer_role = CR_TLS_ROLE_AGENTD};
    if (cr_tls_ctx_new_client(&tc, &g.tls, err, sizeof err) != 0) {
        fprintf(stderr, "agent-load: TLS: %s\n", err);
        return 2;
    }
    g.s = calloc(g.n, sizeof *g.s);
    g.samples = measure ? malloc(MAX_SAMPLES * sizeof *g.samples) : NULL;
    if (!g.s || (measure && !g.samples)) {
        fprintf(stderr, "agent-load: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < g.n; i++)
        g.s[i].idx = i + 1;

    uv_loop_t loop;
    uv_loop_init(&loop);
    g.loop = &loop;
    g.t0_ms = uv_now(&loop);
    uv_timer_init(&loop, &g.progress);
    uv_timer_start(&g.progress, on_progress, 1000, 1000);
    uv_timer_init(&loop, &g.retry);
    uv_timer_start(&g.retry, on_retry, RETRY_MS, RETRY_MS);
    uv_timer_init(&loop, &g.measure);
    uv_signal_init(&loop, &g.sigterm);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uv_signal_init(&loop, &g.sigint);
    uv_signal_start(&g.sigint, on_signal, SIGINT);
    start_more();
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_loop_close_all(&loop);
    cr_tls_ctx_free(g.tls);
    free(g.s);
    free(g.samples);
    return g.exit_code;
}
