/* cr-agents: a test-only stand-in for carillon-agentd. It holds one mutual-TLS link to
 * carillon-server (role agentd) and plays many scripted agents on it, one line per event.
 *
 * The usage text below (usage()) is the reference for options, stdin commands and output.
 * Every agent is tagged with its client number (its place on the command line, from 1) and,
 * once logged in, its session (agent.proto). Requests are numbered per link; the answers are
 * matched to their request by number (`pending`), the pushes to their agent by client number.
 * Nothing here sleeps: the talk and wrap-up delays are one uv timer per agent. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"

#define MAX_AGENTS    256
#define MAX_CAMPAIGNS 16 /* the server's bound per login (ENGINE_CAMPAIGNS) */
#define MAX_PENDING   4096
#define STDIN_MAX     8192 /* buffered stdin bytes; also the longest command line */
#define TOKEN_MAX     256
#define CODE_MAX      64
#define MAX_ANSWERS   200 /* --answer, the server's bound per AgentSaveAnswers */
#define ANSWER_VALUES 100

static const char usage_text[] =
    "usage: cr-agents --server HOST:PORT --ca CA --cert CERT --key KEY [--node NAME]\n"
    "                 [--timeout S] [--address IP]\n"
    "                 [--agent LOGIN:PASSWORD:SOFTPHONE_URI[:CAMPAIGN[,CAMPAIGN...]]]...\n"
    "                 [--talk-ms N] [--wrapup-ms N] [--qualify CODE] [--callback-in-s N]\n"
    "                 [--personal] [--callback-agent LOGIN] [--answer NAME=VALUE]...\n"
    "                 [--preview dial|skip|wait] [--calls N] [--duration S]\n"
    "Plays carillon-agentd: one TLS link (an agentd certificate), every --agent logged in on it.\n"
    "  --node NAME        Hello.node_name (default cr-agents)\n"
    "  --timeout S        exit 1 after S seconds (default 120)\n"
    "  --address IP       AgentLogin.address, the agents' own IP (default 127.0.0.1)\n"
    "  --agent ...        repeatable (at most 256); the password holds no ':'; the last ':' part\n"
    "                     is the campaign list unless it is a port or part of the URI (has '@',\n"
    "                     ';', '=' or ']')\n"
    "  --talk-ms N        on call (state on_call), hang up after N ms unless the customer does\n"
    "                     first (default: never, the customer ends the call)\n"
    "  --wrapup-ms N      in wrap-up, qualify after N ms (default 0)\n"
    "  --qualify CODE     the qualification (default none: agents stay in wrap-up)\n"
    "  --callback-in-s N  with --qualify: ask a callback N s from now; --personal: to this agent\n"
    "  --callback-agent L with --callback-in-s: the callback goes to agent L (personal to them)\n"
    "  --answer NAME=VALUE  repeatable (at most 200): in wrap-up, saved (AgentSaveAnswers) before\n"
    "                     qualifying; VALUE is V1|V2... for several choices; NAME@ROW=V answers\n"
    "                     a matrix row\n"
    "  --preview MODE     on CallOffered: dial (default), skip, or wait (do nothing)\n"
    "  --calls N          once N calls are qualified (all agents), log everyone out, exit 0\n"
    "  --duration S       after S seconds, log everyone out, exit 0\n"
    "stdin, one command a line, applied once the link is up and no login is pending:\n"
    "  pause LOGIN REASON | ready LOGIN | logout LOGIN | detach LOGIN | resume LOGIN | drop | "
    "quit\n"
    "  answer LOGIN NAME=VALUE [NAME=VALUE]  (as --answer, for the agent's current call)\n"
    "  qualify LOGIN CODE [CALLBACK_IN_S [AGENT]] | interview LOGIN cancel|suspend [REASON...]\n"
    "  (drop: close the link, reconnect, resume every agent not detached; EOF is not an end)\n"
    "stdout, one line each:\n"
    "  welcome node=N\n"
    "  login agent=L session=S state=ST | login_failed agent=L code=N message=\"...\"\n"
    "  resumed agent=L session=S state=ST attempt=A\n"
    "  state agent=L state=ST reason=R attempt=A        (R: - when empty)\n"
    "  offered agent=L attempt=A number=N\n"
    "  connected agent=L attempt=A ringing=0|1 contact=C number=N campaign=X "
    "fields=\"n=v;n=v\"\n"
    "  ended agent=L attempt=A outcome=O by=P | qualified agent=L attempt=A code=C\n"
    "  after connected and offered, the interview window:\n"
    "    interview agent=L attempt=A state=S at=MS answers=\"n=v|v;n@row=v\" "
    "numbers=\"num/type/state[/current];...\"\n"
    "    screen agent=L name=\"...\" initial=0|1 next=\"...\"\n"
    "    block agent=L screen=\"...\" kind=K export=E mandatory=0|1 text=\"...\" "
    "branches=\"answer>screen;...\"\n"
    "    history agent=L event=E attempt=A outcome=O qualification=Q by=LOGIN detail=\"...\" "
    "answers=\"...\"\n"
    "  answers_saved agent=L attempt=A saved=N missing=a,b (- when none)\n"
    "  ok agent=L request=OP        (pause, ready, logout, dial, skip, hangup)\n"
    "  error agent=L request=OP code=N field=F message=\"...\"   (F: - when empty)\n"
    "  detached agent=L | session_ended agent=L reason=\"...\" | dropped | link_lost error=E\n"
    "  command_failed line=\"...\" reason=\"...\" | timeout | done qualified=N\n"
    "exit: 0 done, 1 timeout, 2 usage, 3 link lost (or never up)\n";

enum op {
    OP_LOGIN,
    OP_RESUME,
    OP_PAUSE,
    OP_READY,
    OP_LOGOUT,
    OP_DIAL,
    OP_SKIP,
    OP_HANGUP,
    OP_QUALIFY,
    OP_DETACH,
    OP_ANSWER,
    OP_INTERVIEW,
};

static const char *const op_names[] = {"login",   "resume", "pause",  "ready",
                                       "logout",  "dial",   "skip",   "hangup",
                                       "qualify", "detach", "answer", "interview"};

enum preview_mode { PREVIEW_DIAL, PREVIEW_SKIP, PREVIEW_WAIT };

/* One scripted agent. Lives in app.agents for the whole run; login, password, softphone and
 * campaigns point into spec (strdup'd from argv, freed at exit). */
struct agent {
    struct app *app;
    char *spec;
    const char *login, *password, *softphone;
    char *campaigns[MAX_CAMPAIGNS];
    size_t ncampaigns;
    uint64_t client, session;
    char token[TOKEN_MAX];
    int state;
    uint64_t attempt;        /* the current call (from the last state change or call push) */
    uint64_t qualified_at;   /* the attempt already qualified (or asked to be) */
    uint64_t hung_up_at;     /* the attempt already hung up (or asked to be) */
    uint64_t answered_at;    /* the attempt whose --answer were sent */
    char code[CODE_MAX + 1]; /* the code of the last qualification asked */
    bool login_pending;      /* an AgentLogin (password or resume) awaits its answer */
    bool detached;           /* stdin `detach`: no longer acting for it until `resume` */
    bool ended;              /* AgentSessionEnded or logout: no session */
    bool logout_pending;     /* finishing: AgentLogout sent, its answer awaited */
    bool logout_done;        /* finishing: answered (or nothing to log out) */
    uv_timer_t timer;        /* talk (hang up) or wrap-up (qualify) delay */
    uint64_t timer_attempt;
    int timer_state; /* the state the timer was armed in (on_call or wrap_up) */
};

/* A request awaiting its answer, by request_id. */
struct pending {
    uint64_t rid;
    int agent;
    enum op op;
    uint64_t attempt;
};

struct app {
    uv_loop_t *loop;
    struct cr_tls_ctx *tls;
    char host[256];
    int port;
    const char *node, *address;
    struct cr_conn *conn;
    bool welcomed, ever_welcomed, dropping, finishing, finished;
    int exit_code;
    uint64_t rid, hello_rid;
    struct agent agents[MAX_AGENTS];
    int nagents;
    struct pending pending[MAX_PENDING];
    int npending;
    /* the script */
    long long talk_ms; /* < 0: never hang up */
    long long wrapup_ms;
    const char *qualify;
    long long callback_in_s; /* < 0: no callback */
    bool personal;
    const char *callback_agent;
    const char *answers[MAX_ANSWERS]; /* --answer, as given */
    int nanswers;
    enum preview_mode preview;
    unsigned long calls;    /* 0: no target */
    unsigned long duration; /* seconds; 0: none */
    unsigned long qualified;
    uv_timer_t deadline, duration_timer;
    /* stdin */
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } in;
    bool in_open, in_reading, in_discard, in_eof;
    char inbuf[STDIN_MAX];
    size_t inlen;
};

static void connect_link(struct app *app);
static int num_arg(const char *s, long long min, long long max, long long *out);
static void pump_stdin(struct app *app);
static void finish_maybe(struct app *app);

/* --- output --------------------------------------------------------------------------------- */

/* Prints s with '"' and '\' escaped and control bytes as \xNN; UTF-8 goes out as it is. */
static void put_escaped(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
}

static void put_quoted(const char *s)
{
    putchar('"');
    put_escaped(s);
    putchar('"');
}

/* A bare value (no spaces expected): "-" when empty, spaces and controls replaced by '_'. */
static const char *bare(const char *s, char *buf, size_t len)
{
    if (!s || !s[0])
        return "-";
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (unsigned char)s[i] <= ' ' || s[i] == 0x7f ? '_' : s[i];
    buf[i] = '\0';
    return buf;
}

static const char *state_word(int s)
{
    static const char *const names[] = {"unspecified", "logged_out", "ready",      "paused",
                                        "on_call",     "wrap_up",    "connecting", "phone_lost",
                                        "preview",     "dialing"};
    return s >= 0 && (size_t)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

/* --- the link ------------------------------------------------------------------------------- */

static void finish(struct app *app, int code, const char *line)
{
    if (app->finished)
        return;
    app->finished = true;
    app->exit_code = code;
    if (line)
        printf("%s\n", line);
    uv_timer_stop(&app->deadline);
    uv_timer_stop(&app->duration_timer);
    for (int i = 0; i < app->nagents; i++)
        uv_timer_stop(&app->agents[i].timer);
    if (app->in_open && !uv_is_closing((uv_handle_t *)&app->in))
        uv_close((uv_handle_t *)&app->in, NULL);
    if (app->conn)
        cr_conn_close(app->conn);
    /* cr_loop_close_all in main closes the timers once the link's close has run */
}

static struct pending *pending_take(struct app *app, uint64_t rid, struct pending *out)
{
    for (int i = 0; i < app->npending; i++) {
        if (app->pending[i].rid != rid)
            continue;
        *out = app->pending[i];
        app->pending[i] = app->pending[--app->npending];
        return out;
    }
    return NULL;
}

/* Sends env for agent a with a fresh request_id (request) or 0 (rid_zero), tagged with its
 * client and, except for a login, its session. Returns 0 or a negative errno. */
static int agent_send(struct agent *a, Carillon__V1__Envelope *env, enum op op, uint64_t attempt,
                      bool rid_zero)
{
    struct app *app = a->app;
    if (!app->conn || !app->welcomed)
        return -ENOTCONN;
    if (!rid_zero && app->npending == MAX_PENDING)
        return -ENOBUFS;
    Carillon__V1__AgentTag tag = CARILLON__V1__AGENT_TAG__INIT;
    tag.client = a->client;
    tag.session = op == OP_LOGIN || op == OP_RESUME ? 0 : a->session;
    env->agent = &tag;
    env->request_id = rid_zero ? 0 : ++app->rid;
    int rc = cr_conn_send(app->conn, env);
    env->agent = NULL;
    if (rc == 0 && !rid_zero)
        app->pending[app->npending++] = (struct pending){
            .rid = env->request_id, .agent = (int)(a - app->agents), .op = op, .attempt = attempt};
    return rc;
}

static void report_send_failure(struct agent *a, enum op op, int rc)
{
    printf("error agent=%s request=%s code=-1 field=- message=", a->login, op_names[op]);
    put_quoted(rc == -ENOTCONN ? "not sent: the link is down"
               : rc == -ENOBUFS && a->app->npending == MAX_PENDING
                   ? "not sent: 4096 requests already await their answer"
                   : strerror(-rc));
    putchar('\n');
}

static void agent_login(struct agent *a, bool resume)
{
    Carillon__V1__AgentLogin l = CARILLON__V1__AGENT_LOGIN__INIT;
    l.login = (char *)a->login;
    if (resume) {
        l.resume_token = a->token;
    } else {
        l.password = (char *)a->password;
        l.softphone = (char *)a->softphone;
        l.campaigns = a->campaigns;
        l.n_campaigns = a->ncampaigns;
    }
    l.address = (char *)a->app->address;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN;
    env.agent_login = &l;
    int rc = agent_send(a, &env, resume ? OP_RESUME : OP_LOGIN, 0, false);
    if (rc)
        report_send_failure(a, resume ? OP_RESUME : OP_LOGIN, rc);
    else
        a->login_pending = true;
}

static void agent_set_state_req(struct agent *a, bool pause, const char *reason)
{
    Carillon__V1__AgentSetState s = CARILLON__V1__AGENT_SET_STATE__INIT;
    s.state = pause ? CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED
                    : CARILLON__V1__AGENT_STATE__AGENT_STATE_READY;
    s.reason = (char *)(reason ? reason : "");
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_SET_STATE;
    env.agent_set_state = &s;
    int rc = agent_send(a, &env, pause ? OP_PAUSE : OP_READY, 0, false);
    if (rc)
        report_send_failure(a, pause ? OP_PAUSE : OP_READY, rc);
}

static void agent_logout(struct agent *a)
{
    Carillon__V1__AgentLogout lo = CARILLON__V1__AGENT_LOGOUT__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LOGOUT;
    env.agent_logout = &lo;
    int rc = agent_send(a, &env, OP_LOGOUT, 0, false);
    if (rc) {
        report_send_failure(a, OP_LOGOUT, rc);
        a->logout_done = true;
    } else {
        a->logout_pending = true;
    }
}

/* AgentDial, AgentSkip or AgentHangup for attempt. */
static void agent_call_action(struct agent *a, enum op op, uint64_t attempt)
{
    Carillon__V1__AgentDial d = CARILLON__V1__AGENT_DIAL__INIT;
    Carillon__V1__AgentSkip s = CARILLON__V1__AGENT_SKIP__INIT;
    Carillon__V1__AgentHangup h = CARILLON__V1__AGENT_HANGUP__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    if (op == OP_DIAL) {
        d.attempt_id = attempt;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL;
        env.agent_dial = &d;
    } else if (op == OP_SKIP) {
        s.attempt_id = attempt;
        s.reason = "skipped by cr-agents";
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP;
        env.agent_skip = &s;
    } else {
        h.attempt_id = attempt;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_HANGUP;
        env.agent_hangup = &h;
    }
    int rc = agent_send(a, &env, op, attempt, false);
    if (rc)
        report_send_failure(a, op, rc);
}

static void agent_qualify_as(struct agent *a, uint64_t attempt, const char *code,
                             long long callback_in_s, const char *callback_agent)
{
    struct app *app = a->app;
    Carillon__V1__AgentQualify q = CARILLON__V1__AGENT_QUALIFY__INIT;
    q.attempt_id = attempt;
    q.code = (char *)code;
    snprintf(a->code, sizeof a->code, "%s", code);
    if (callback_in_s >= 0) {
        q.callback_unix_ms = cr_now_us() / 1000 + callback_in_s * 1000;
        q.personal = app->personal;
        q.callback_agent = (char *)(callback_agent ? callback_agent : "");
    }
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_QUALIFY;
    env.agent_qualify = &q;
    int rc = agent_send(a, &env, OP_QUALIFY, attempt, false);
    if (rc)
        report_send_failure(a, OP_QUALIFY, rc);
    else
        a->qualified_at = attempt;
}

static void agent_qualify(struct agent *a, uint64_t attempt)
{
    agent_qualify_as(a, attempt, a->app->qualify, a->app->callback_in_s, a->app->callback_agent);
}

/* Sends AgentSaveAnswers for attempt: each spec NAME=V1|V2 or NAME@ROW=V. 0, or -EINVAL for a
 * spec without '=' (nothing sent). */
static int agent_answer(struct agent *a, uint64_t attempt, const char *const *specs, int n)
{
    static char buf[MAX_ANSWERS][STDIN_MAX];
    static Carillon__V1__AgentAnswer ans[MAX_ANSWERS];
    static Carillon__V1__AgentAnswer *ap[MAX_ANSWERS];
    static char *vals[MAX_ANSWERS][ANSWER_VALUES];
    if (n < 1 || n > MAX_ANSWERS)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        snprintf(buf[i], sizeof buf[i], "%s", specs[i]);
        char *eq = strchr(buf[i], '=');
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        carillon__v1__agent_answer__init(&ans[i]);
        char *at = strchr(buf[i], '@');
        if (at) {
            *at = '\0';
            ans[i].matrix_row = at + 1;
        }
        ans[i].export_name = buf[i];
        char *v = eq + 1;
        size_t nv = 0;
        for (char *tok; nv < ANSWER_VALUES && (tok = strsep(&v, "|")) != NULL;)
            vals[i][nv++] = tok;
        ans[i].values = vals[i];
        ans[i].n_values = nv;
        ap[i] = &ans[i];
    }
    Carillon__V1__AgentSaveAnswers sa = CARILLON__V1__AGENT_SAVE_ANSWERS__INIT;
    sa.attempt_id = attempt;
    sa.answers = ap;
    sa.n_answers = (size_t)n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_SAVE_ANSWERS;
    env.agent_save_answers = &sa;
    int rc = agent_send(a, &env, OP_ANSWER, attempt, false);
    if (rc)
        report_send_failure(a, OP_ANSWER, rc);
    return 0;
}

static void agent_interview_action(struct agent *a, uint64_t attempt, const char *action,
                                   const char *reason)
{
    Carillon__V1__AgentInterviewAction ia = CARILLON__V1__AGENT_INTERVIEW_ACTION__INIT;
    ia.attempt_id = attempt;
    ia.action = (char *)action;
    ia.reason = (char *)(reason ? reason : "");
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_INTERVIEW_ACTION;
    env.agent_interview_action = &ia;
    int rc = agent_send(a, &env, OP_INTERVIEW, attempt, false);
    if (rc)
        report_send_failure(a, OP_INTERVIEW, rc);
}

/* In wrap-up: the --answer first (the qualification follows their answer), then --qualify. */
static void agent_wrap_up(struct agent *a)
{
    if (a->app->nanswers && a->answered_at != a->attempt) {
        a->answered_at = a->attempt;
        a->qualified_at = a->attempt; /* sent once the answers are answered */
        (void)agent_answer(a, a->attempt, a->app->answers, a->app->nanswers);
        return;
    }
    agent_qualify(a, a->attempt);
}

/* --- the agents' script ---------------------------------------------------------------------- */

static bool agent_active(const struct agent *a)
{
    return a->session && !a->ended && !a->detached;
}

/* A state in which a logout would be refused or cut a call short: wait for it to pass. */
static bool agent_busy(const struct agent *a)
{
    switch (a->state) {
    case CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL:
    case CARILLON__V1__AGENT_STATE__AGENT_STATE_DIALING:
        return true;
    case CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP:
        return a->app->qualify != NULL; /* without --qualify it never ends: log out anyway */
    default:
        return false;
    }
}

static void on_agent_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    if (!agent_active(a) || a->app->finished || a->attempt != a->timer_attempt)
        return;
    if (a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL && a->hung_up_at != a->attempt) {
        a->hung_up_at = a->attempt;
        agent_call_action(a, OP_HANGUP, a->attempt);
    } else if (a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP && a->app->qualify &&
               a->qualified_at != a->attempt) {
        agent_wrap_up(a);
    }
}

/* Acts on the agent's current state: arms the talk or wrap-up timer, or sends the finishing
 * logout once the agent is between calls. */
static void agent_react(struct agent *a)
{
    struct app *app = a->app;
    if (!agent_active(a) || app->finished)
        return;
    int s = a->state;
    bool timed = false;
    if (s == CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL && app->talk_ms >= 0 && a->attempt &&
        a->hung_up_at != a->attempt) {
        timed = true;
        if (!uv_is_active((uv_handle_t *)&a->timer) || a->timer_attempt != a->attempt ||
            a->timer_state != s) {
            a->timer_attempt = a->attempt;
            a->timer_state = s;
            uv_timer_start(&a->timer, on_agent_timer, (uint64_t)app->talk_ms, 0);
        }
    } else if (s == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP && app->qualify && a->attempt &&
               a->qualified_at != a->attempt) {
        timed = true;
        if (!uv_is_active((uv_handle_t *)&a->timer) || a->timer_attempt != a->attempt ||
            a->timer_state != s) {
            a->timer_attempt = a->attempt;
            a->timer_state = s;
            uv_timer_start(&a->timer, on_agent_timer, (uint64_t)app->wrapup_ms, 0);
        }
    }
    if (!timed)
        uv_timer_stop(&a->timer);
    if (app->finishing && !a->logout_pending && !a->logout_done && !a->login_pending &&
        !agent_busy(a))
        agent_logout(a);
}

/* Starts the end: every agent logs out (once between calls), then "done". */
static void begin_finish(struct app *app)
{
    if (app->finishing || app->finished)
        return;
    app->finishing = true;
    uv_timer_stop(&app->duration_timer);
    for (int i = 0; i < app->nagents; i++) {
        struct agent *a = &app->agents[i];
        if (!agent_active(a) && !a->login_pending)
            a->logout_done = true;
        else
            agent_react(a);
    }
    finish_maybe(app);
}

static void finish_maybe(struct app *app)
{
    if (!app->finishing || app->finished)
        return;
    for (int i = 0; i < app->nagents; i++) {
        struct agent *a = &app->agents[i];
        if (!a->logout_done && (agent_active(a) || a->login_pending))
            return;
    }
    char line[64];
    snprintf(line, sizeof line, "done qualified=%lu", app->qualified);
    finish(app, 0, line);
}

static struct agent *agent_by_login(struct app *app, const char *login)
{
    for (int i = 0; i < app->nagents; i++)
        if (strcmp(app->agents[i].login, login) == 0)
            return &app->agents[i];
    return NULL;
}

static struct agent *agent_by_client(struct app *app, const Carillon__V1__AgentTag *tag)
{
    if (!tag || !tag->client || tag->client > (uint64_t)app->nagents)
        return NULL;
    return &app->agents[tag->client - 1];
}

/* --- answers and pushes ------------------------------------------------------------------- */

/* A contact offered (or found in preview on resume): dial, skip or leave it, per --preview. */
static void preview_act(struct agent *a, uint64_t attempt)
{
    struct app *app = a->app;
    if (!agent_active(a) || app->finished)
        return;
    if (app->finishing || app->preview == PREVIEW_SKIP)
        agent_call_action(a, OP_SKIP, attempt);
    else if (app->preview == PREVIEW_DIAL)
        agent_call_action(a, OP_DIAL, attempt);
}

static void on_login_ok(struct agent *a, enum op op, const Carillon__V1__AgentLoginOk *ok)
{
    a->login_pending = false;
    a->session = ok->session;
    a->ended = false;
    a->detached = false;
    if (ok->token && ok->token[0])
        snprintf(a->token, sizeof a->token, "%s", ok->token);
    a->state = ok->state;
    if (ok->attempt_id)
        a->attempt = ok->attempt_id;
    if (op == OP_RESUME || ok->resumed)
        printf("resumed agent=%s session=%" PRIu64 " state=%s attempt=%" PRIu64 "\n", a->login,
               a->session, state_word(a->state), ok->attempt_id);
    else
        printf("login agent=%s session=%" PRIu64 " state=%s\n", a->login, a->session,
               state_word(a->state));
    /* a resumed preview is not offered again: act on it now */
    if (a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_PREVIEW && ok->attempt_id)
        preview_act(a, ok->attempt_id);
    agent_react(a);
}

static void on_answer(struct app *app, const Carillon__V1__Envelope *env)
{
    struct pending p;
    if (!env->request_id || !pending_take(app, env->request_id, &p)) {
        /* an Error to no request of ours (Hello refused, a bad tag): show it as it is */
        if (env->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR) {
            struct agent *a = agent_by_client(app, env->agent);
            char f[128];
            printf("error agent=%s request=%s code=%d field=%s message=", a ? a->login : "-",
                   !env->request_id                    ? "none"
                   : env->request_id == app->hello_rid ? "hello"
                                                       : "unknown",
                   env->error->code, bare(env->error->field, f, sizeof f));
            put_quoted(env->error->message);
            putchar('\n');
        }
        return;
    }
    struct agent *a = &app->agents[p.agent];
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK:
        on_login_ok(a, p.op, env->agent_login_ok);
        break;
    case CARILLON__V1__ENVELOPE__BODY_OK:
        if (p.op == OP_QUALIFY) {
            app->qualified++;
            printf("qualified agent=%s attempt=%" PRIu64 " code=%s\n", a->login, p.attempt,
                   a->code);
            if (app->calls && app->qualified >= app->calls)
                begin_finish(app);
        } else {
            printf("ok agent=%s request=%s\n", a->login, op_names[p.op]);
        }
        if (p.op == OP_LOGOUT) {
            a->logout_pending = false;
            a->logout_done = true;
            a->ended = true;
            uv_timer_stop(&a->timer);
        }
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_ANSWERS_SAVED: {
        const Carillon__V1__AgentAnswersSaved *as = env->agent_answers_saved;
        printf("answers_saved agent=%s attempt=%" PRIu64 " saved=%u missing=", a->login,
               as->attempt_id, as->saved);
        for (size_t i = 0; i < as->n_missing; i++)
            printf("%s%s", i ? "," : "", as->missing[i]);
        printf("%s\n", as->n_missing ? "" : "-");
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_ERROR: {
        const Carillon__V1__Error *er = env->error;
        if (p.op == OP_LOGIN || p.op == OP_RESUME) {
            a->login_pending = false;
            printf("login_failed agent=%s code=%d message=", a->login, er->code);
        } else {
            char f[128];
            printf("error agent=%s request=%s code=%d field=%s message=", a->login, op_names[p.op],
                   er->code, bare(er->field, f, sizeof f));
        }
        put_quoted(er->message);
        putchar('\n');
        if (p.op == OP_LOGOUT) {
            a->logout_pending = false;
            a->logout_done = true; /* refused: nothing more to try */
        }
        if (p.op == OP_QUALIFY && a->qualified_at == p.attempt)
            a->qualified_at = 0; /* not qualified: a later wrap-up state may try again */
        break;
    }
    default:
        printf("error agent=%s request=%s code=-1 field=- message=\"unexpected answer body %d\"\n",
               a->login, op_names[p.op], (int)env->body_case);
        break;
    }
    /* --answer answered (saved or refused): the --qualify they were waiting for */
    if (p.op == OP_ANSWER && app->qualify && a->answered_at == p.attempt &&
        a->attempt == p.attempt && agent_active(a) &&
        a->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP)
        agent_qualify(a, p.attempt);
    pump_stdin(app);
    finish_maybe(app);
}

static void put_answers(Carillon__V1__AgentAnswer *const *ans, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        put_escaped(ans[i]->export_name);
        if (ans[i]->matrix_row && ans[i]->matrix_row[0]) {
            putchar('@');
            put_escaped(ans[i]->matrix_row);
        }
        putchar('=');
        for (size_t k = 0; k < ans[i]->n_values; k++) {
            if (k)
                putchar('|');
            put_escaped(ans[i]->values[k]);
        }
        if (i + 1 < n)
            putchar(';');
    }
    putchar('"');
}

/* The interview window, one line per part (usage: interview, screen, block, history). */
static void print_interview(const struct agent *a, uint64_t attempt,
                            const Carillon__V1__Interview *iv)
{
    char b1[128], b2[128], b3[128], b4[128];
    if (!iv) {
        printf("interview agent=%s attempt=%" PRIu64 " state=- at=0 answers=\"\" numbers=\"\"\n",
               a->login, attempt);
        return;
    }
    printf("interview agent=%s attempt=%" PRIu64 " state=%s at=%" PRId64 " answers=", a->login,
           attempt, bare(iv->state, b1, sizeof b1), iv->state_at_unix_ms);
    put_answers(iv->answers, iv->n_answers);
    printf(" numbers=\"");
    for (size_t i = 0; i < iv->n_numbers; i++)
        printf("%s%s/%s/%s%s", i ? ";" : "", bare(iv->numbers[i]->number, b1, sizeof b1),
               bare(iv->numbers[i]->type, b2, sizeof b2),
               bare(iv->numbers[i]->state, b3, sizeof b3),
               iv->numbers[i]->current ? "/current" : "");
    printf("\"\n");
    for (size_t s = 0; s < iv->n_script; s++) {
        const Carillon__V1__Screen *sc = iv->script[s];
        printf("screen agent=%s name=", a->login);
        put_quoted(sc->name);
        printf(" initial=%d next=", sc->initial ? 1 : 0);
        put_quoted(sc->next);
        putchar('\n');
        for (size_t k = 0; k < sc->n_blocks; k++) {
            const Carillon__V1__Block *bl = sc->blocks[k];
            printf("block agent=%s screen=", a->login);
            put_quoted(sc->name);
            printf(" kind=%d export=%s mandatory=%d text=", (int)bl->kind,
                   bare(bl->export_name, b1, sizeof b1), bl->mandatory ? 1 : 0);
            put_quoted(bl->text);
            printf(" branches=\"");
            for (size_t i = 0; i < bl->n_branches; i++) {
                printf("%s", i ? ";" : "");
                put_escaped(bl->branches[i]->answer);
                putchar('>');
                put_escaped(bl->branches[i]->screen);
            }
            printf("\"\n");
        }
    }
    for (size_t i = 0; i < iv->n_history; i++) {
        const Carillon__V1__AgentHistoryEntry *h = iv->history[i];
        printf("history agent=%s event=%s attempt=%" PRIu64 " outcome=%s qualification=%s by=%s "
               "detail=",
               a->login, bare(h->event, b1, sizeof b1), h->attempt_id,
               bare(h->outcome, b2, sizeof b2), bare(h->qualification, b3, sizeof b3),
               bare(h->agent, b4, sizeof b4));
        put_quoted(h->detail);
        printf(" answers=");
        put_answers(h->answers, h->n_answers);
        putchar('\n');
    }
}

static void print_fields(const Carillon__V1__AgentContact *ct)
{
    putchar('"');
    for (size_t i = 0; ct && i < ct->n_fields; i++) {
        put_escaped(ct->fields[i]->name);
        putchar('=');
        put_escaped(ct->fields[i]->value);
        if (i + 1 < ct->n_fields)
            putchar(';');
    }
    putchar('"');
}

static void on_push(struct app *app, const Carillon__V1__Envelope *env)
{
    struct agent *a = agent_by_client(app, env->agent);
    if (!a) {
        printf("error agent=- request=none code=-1 field=agent message=\"push body %d for an "
               "unknown client\"\n",
               (int)env->body_case);
        return;
    }
    char b1[128], b2[128], b3[128];
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_AGENT_STATE_CHANGED: {
        const Carillon__V1__AgentStateChanged *sc = env->agent_state_changed;
        a->state = sc->state;
        if (sc->attempt_id)
            a->attempt = sc->attempt_id;
        printf("state agent=%s state=%s reason=%s attempt=%" PRIu64 "\n", a->login,
               state_word(sc->state), bare(sc->reason, b1, sizeof b1), sc->attempt_id);
        agent_react(a);
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_CALL_OFFERED: {
        const Carillon__V1__CallOffered *co = env->call_offered;
        a->attempt = co->attempt_id;
        printf("offered agent=%s attempt=%" PRIu64 " number=%s\n", a->login, co->attempt_id,
               bare(co->contact ? co->contact->number : "", b1, sizeof b1));
        print_interview(a, co->attempt_id, co->interview);
        preview_act(a, co->attempt_id);
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED: {
        const Carillon__V1__CallConnected *cc = env->call_connected;
        a->attempt = cc->attempt_id;
        printf("connected agent=%s attempt=%" PRIu64 " ringing=%d contact=%" PRId64
               " number=%s campaign=%s fields=",
               a->login, cc->attempt_id, cc->ringing ? 1 : 0, cc->contact ? cc->contact->id : 0,
               bare(cc->contact ? cc->contact->number : "", b1, sizeof b1),
               bare(cc->campaign, b2, sizeof b2));
        print_fields(cc->contact);
        putchar('\n');
        print_interview(a, cc->attempt_id, cc->interview);
        agent_react(a); /* the state may have said on_call before the attempt was known */
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_CALL_ENDED: {
        const Carillon__V1__CallEnded *ce = env->call_ended;
        printf("ended agent=%s attempt=%" PRIu64 " outcome=%s by=%s\n", a->login, ce->attempt_id,
               bare(ce->outcome, b1, sizeof b1), bare(ce->hung_up_by, b3, sizeof b3));
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_AGENT_SESSION_ENDED:
        printf("session_ended agent=%s reason=", a->login);
        put_quoted(env->agent_session_ended->reason);
        putchar('\n');
        a->ended = true;
        a->session = 0;
        uv_timer_stop(&a->timer);
        if (app->finishing && !a->logout_pending)
            a->logout_done = true;
        finish_maybe(app);
        break;
    default:
        printf("error agent=%s request=none code=-1 field=- message=\"unexpected push body %d\"\n",
               a->login, (int)env->body_case);
        break;
    }
}

static void on_link_open(struct cr_conn *c)
{
    struct app *app = cr_conn_data(c);
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_AGENTD;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = (char *)app->node;
    h.software = "cr-agents";
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = app->hello_rid = ++app->rid;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (cr_conn_send(c, &env) != 0)
        cr_conn_close(c);
}

static void on_welcome(struct app *app, const Carillon__V1__Welcome *w)
{
    char b[128];
    bool again = app->ever_welcomed;
    app->welcomed = app->ever_welcomed = true;
    printf("welcome node=%s\n", bare(w->node_name, b, sizeof b));
    /* after a drop: the agents with a session resume it (a detached one only when its resume
     * was under way); a first login whose answer went with the old link is sent again */
    for (int i = 0; i < app->nagents; i++) {
        struct agent *a = &app->agents[i];
        bool was_pending = a->login_pending;
        a->login_pending = false;
        if (!again)
            agent_login(a, false);
        else if (a->session && !a->ended && (!a->detached || was_pending) && a->token[0])
            agent_login(a, true);
        else if (!a->session && !a->ended && was_pending)
            agent_login(a, false);
    }
    pump_stdin(app);
}

static void on_link_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct app *app = cr_conn_data(c);
    if (app->conn != c || app->finished) {
        carillon__v1__envelope__free_unpacked(env, NULL);
        return;
    }
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_WELCOME:
        on_welcome(app, env->welcome);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK:
    case CARILLON__V1__ENVELOPE__BODY_AGENT_ANSWERS_SAVED:
    case CARILLON__V1__ENVELOPE__BODY_OK:
    case CARILLON__V1__ENVELOPE__BODY_ERROR:
        on_answer(app, env);
        break;
    default:
        on_push(app, env);
        break;
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_link_close(struct cr_conn *c, int err)
{
    struct app *app = cr_conn_data(c);
    if (app->conn != c)
        return;
    app->conn = NULL;
    app->welcomed = false;
    app->npending = 0; /* their answers went with the link */
    if (app->finished)
        return;
    if (app->dropping) {
        app->dropping = false;
        printf("dropped\n");
        for (int i = 0; i < app->nagents; i++)
            uv_timer_stop(&app->agents[i].timer);
        connect_link(app);
        return;
    }
    char line[128];
    snprintf(line, sizeof line, "link_lost error=%s", err ? strerror(-err) : "closed");
    finish(app, 3, line);
}

static void connect_link(struct app *app)
{
    static const struct cr_conn_cbs cbs = {
        .on_open = on_link_open, .on_message = on_link_message, .on_close = on_link_close};
    struct cr_conn *c = NULL;
    int rc = cr_conn_connect(app->loop, app->host, app->port, app->tls, NULL, &cbs, app, &c);
    if (rc) {
        char line[128];
        snprintf(line, sizeof line, "link_lost error=%s", strerror(-rc));
        finish(app, 3, line);
        return;
    }
    app->conn = c;
}

/* --- stdin commands ----------------------------------------------------------------------------
 */

static void command_failed(const char *line, const char *why)
{
    printf("command_failed line=");
    put_quoted(line);
    printf(" reason=");
    put_quoted(why);
    putchar('\n');
}

static void run_command(struct app *app, char *line)
{
    char copy[STDIN_MAX];
    size_t len = strnlen(line, sizeof copy - 1);
    memcpy(copy, line, len);
    copy[len] = '\0';
    char *argv[MAX_ANSWERS + 2] = {0};
    int argc = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r", &save); t && argc < MAX_ANSWERS + 2;
         t = strtok_r(NULL, " \t\r", &save))
        argv[argc++] = t;
    if (argc == 0 || argv[0][0] == '#')
        return;
    if (strcmp(argv[0], "drop") == 0 && argc == 1) {
        app->dropping = true;
        app->welcomed = false; /* commands wait for the new link */
        cr_conn_close(app->conn);
        return;
    }
    if (strcmp(argv[0], "quit") == 0 && argc == 1) {
        begin_finish(app);
        return;
    }
    bool two = strcmp(argv[0], "ready") == 0 || strcmp(argv[0], "logout") == 0 ||
               strcmp(argv[0], "detach") == 0 || strcmp(argv[0], "resume") == 0;
    bool pause = strcmp(argv[0], "pause") == 0;
    bool answer = strcmp(argv[0], "answer") == 0 && argc >= 3;
    bool qualify = strcmp(argv[0], "qualify") == 0 && argc >= 3 && argc <= 5;
    bool interview = strcmp(argv[0], "interview") == 0 && argc >= 3;
    if (!(two && argc == 2) && !(pause && argc == 3) && !answer && !qualify && !interview) {
        command_failed(copy, "unknown command or wrong arguments");
        return;
    }
    struct agent *a = agent_by_login(app, argv[1]);
    if (!a) {
        command_failed(copy, "no such --agent");
        return;
    }
    if (strcmp(argv[0], "resume") == 0) {
        if (!a->token[0])
            command_failed(copy, "the agent has no session token to resume");
        else
            agent_login(a, true);
        return;
    }
    if (!agent_active(a)) {
        command_failed(copy, "the agent has no session (not logged in, ended or detached)");
        return;
    }
    if ((answer || qualify || interview) && !a->attempt) {
        command_failed(copy, "the agent has no call");
        return;
    }
    if (answer) {
        if (agent_answer(a, a->attempt, (const char *const *)argv + 2, argc - 2))
            command_failed(copy, "an answer is NAME=VALUE");
    } else if (qualify) {
        long long in_s = -1;
        if (strlen(argv[2]) > CODE_MAX || (argc >= 4 && num_arg(argv[3], 0, 366LL * 86400, &in_s)))
            command_failed(copy, "qualify LOGIN CODE [CALLBACK_IN_S [AGENT]]");
        else
            agent_qualify_as(a, a->attempt, argv[2], in_s, argc == 5 ? argv[4] : NULL);
    } else if (interview) {
        char reason[STDIN_MAX] = ""; /* the rest of the line, its words joined by one space */
        for (int i = 3, at = 0; i < argc && at < (int)sizeof reason; i++)
            at += snprintf(reason + at, sizeof reason - (size_t)at, "%s%s", i > 3 ? " " : "",
                           argv[i]);
        agent_interview_action(a, a->attempt, argv[2], reason);
    } else if (pause) {
        agent_set_state_req(a, true, argv[2]);
    } else if (strcmp(argv[0], "ready") == 0) {
        agent_set_state_req(a, false, NULL);
    } else if (strcmp(argv[0], "logout") == 0) {
        agent_logout(a);
    } else { /* detach */
        Carillon__V1__AgentDetached d = CARILLON__V1__AGENT_DETACHED__INIT;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_DETACHED;
        env.agent_detached = &d;
        int rc = agent_send(a, &env, OP_DETACH, 0, true);
        if (rc) {
            command_failed(copy, strerror(-rc));
            return;
        }
        a->detached = true;
        uv_timer_stop(&a->timer);
        printf("detached agent=%s\n", a->login);
    }
}

static void on_stdin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_stdin_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Commands wait while the link is down or a login awaits its answer: a command must find the
 * session it names. */
static bool commands_open(const struct app *app)
{
    if (!app->welcomed || app->finishing || app->finished || app->dropping)
        return false;
    for (int i = 0; i < app->nagents; i++)
        if (app->agents[i].login_pending)
            return false;
    return true;
}

static void pump_stdin(struct app *app)
{
    while (commands_open(app)) {
        char *nl = memchr(app->inbuf, '\n', app->inlen);
        size_t len;
        if (nl)
            len = (size_t)(nl - app->inbuf);
        else if (app->in_eof && app->inlen)
            len = app->inlen; /* the last line, without its newline */
        else
            break;
        char line[STDIN_MAX + 1];
        memcpy(line, app->inbuf, len);
        line[len] = '\0';
        size_t used = nl ? len + 1 : len;
        memmove(app->inbuf, app->inbuf + used, app->inlen - used);
        app->inlen -= used;
        run_command(app, line);
    }
    /* room again: read on */
    if (app->in_open && !app->in_eof && !app->in_reading && app->inlen < sizeof app->inbuf &&
        !app->finished) {
        if (uv_read_start((uv_stream_t *)&app->in, on_stdin_alloc, on_stdin_read) == 0)
            app->in_reading = true;
    }
}

/* Reads straight into the free tail of inbuf: a full buffer stops reading until commands run. */
static void on_stdin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct app *app = h->data;
    buf->base = app->inbuf + app->inlen;
    buf->len = sizeof app->inbuf - app->inlen;
}

static void on_stdin_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct app *app = s->data;
    if (n == UV_EOF || (n < 0 && n != UV_ENOBUFS)) {
        uv_read_stop(s);
        app->in_reading = false;
        app->in_eof = true;
        if (n != UV_EOF)
            fprintf(stderr, "cr-agents: stdin: %s (commands stop)\n", uv_strerror((int)n));
        pump_stdin(app);
        return;
    }
    if (n > 0) {
        size_t from = app->inlen;
        app->inlen += (size_t)n;
        if (app->in_discard) { /* the rest of an over-long line */
            char *nl = memchr(app->inbuf + from, '\n', app->inlen - from);
            if (!nl) {
                app->inlen = from;
                return;
            }
            size_t keep = app->inlen - (size_t)(nl + 1 - app->inbuf);
            memmove(app->inbuf + from, nl + 1, keep);
            app->inlen = from + keep;
            app->in_discard = false;
        }
    }
    if (app->inlen == sizeof app->inbuf && !memchr(app->inbuf, '\n', app->inlen)) {
        command_failed("", "a command line longer than 8191 bytes (dropped)");
        app->inlen = 0;
        app->in_discard = true;
        return;
    }
    if (app->inlen == sizeof app->inbuf) { /* full of waiting commands */
        uv_read_stop(s);
        app->in_reading = false;
    }
    pump_stdin(app);
}

static void stdin_open(struct app *app)
{
    uv_handle_type t = uv_guess_handle(0);
    int rc;
    if (t == UV_TTY) {
        rc = uv_tty_init(app->loop, &app->in.tty, 0, 1);
    } else if (t == UV_NAMED_PIPE) {
        rc = uv_pipe_init(app->loop, &app->in.pipe, 0);
        if (rc)
            return (void)fprintf(stderr, "cr-agents: stdin: %s (no commands)\n", uv_strerror(rc));
        rc = uv_pipe_open(&app->in.pipe, 0);
    } else {
        return; /* a file or /dev/null: no commands (a file would be read at once, unpaced) */
    }
    if (rc) {
        fprintf(stderr, "cr-agents: stdin: %s (no commands)\n", uv_strerror(rc));
        if (t == UV_NAMED_PIPE)
            uv_close((uv_handle_t *)&app->in, NULL);
        return;
    }
    app->in_open = true;
    app->in.pipe.data = app;
    if (uv_read_start((uv_stream_t *)&app->in, on_stdin_alloc, on_stdin_read) == 0)
        app->in_reading = true;
}

/* --- command line ------------------------------------------------------------------------------
 */

static void on_deadline(uv_timer_t *t)
{
    finish(t->data, 1, "timeout");
}

static void on_duration(uv_timer_t *t)
{
    begin_finish(t->data);
}

/* LOGIN:PASSWORD:SOFTPHONE_URI[:CAMPAIGN[,CAMPAIGN...]]: the URI has colons of its own, so the
 * last part is a campaign list only when it cannot be the URI's (a port, user@host, params). */
static int agent_parse(struct agent *a, const char *arg)
{
    a->spec = strdup(arg);
    if (!a->spec)
        return -ENOMEM;
    char *s = a->spec;
    char *c1 = strchr(s, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || c1 == s || c2 == c1 + 1)
        return -EINVAL;
    *c1 = *c2 = '\0';
    a->login = s;
    a->password = c1 + 1;
    a->softphone = c2 + 1;
    if (strncmp(a->softphone, "sip:", 4) != 0 && strncmp(a->softphone, "sips:", 5) != 0)
        return -EINVAL;
    char *last = strrchr(a->softphone, ':');
    size_t scheme = a->softphone[3] == ':' ? 4 : 5;
    if (last && (size_t)(last - a->softphone) > scheme && last[1] &&
        strcspn(last + 1, "@;=]") == strlen(last + 1) &&
        strspn(last + 1, "0123456789") != strlen(last + 1)) {
        *last = '\0';
        char *save = NULL;
        for (char *t = strtok_r(last + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (a->ncampaigns == MAX_CAMPAIGNS)
                return -E2BIG;
            a->campaigns[a->ncampaigns++] = t;
        }
    }
    if (strlen(a->login) > 64 || strlen(a->softphone) <= scheme)
        return -EINVAL;
    return 0;
}

static int num_arg(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"node", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"address", required_argument, NULL, 'A'},
        {"agent", required_argument, NULL, 'g'},
        {"talk-ms", required_argument, NULL, 'T'},
        {"wrapup-ms", required_argument, NULL, 'W'},
        {"qualify", required_argument, NULL, 'q'},
        {"callback-in-s", required_argument, NULL, 'b'},
        {"personal", no_argument, NULL, 'p'},
        {"preview", required_argument, NULL, 'P'},
        {"callback-agent", required_argument, NULL, 'G'},
        {"answer", required_argument, NULL, 'R'},
        {"calls", required_argument, NULL, 'C'},
        {"duration", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct app app = {
        .node = "cr-agents", .address = "127.0.0.1", .talk_ms = -1, .callback_in_s = -1};
    const char *server = NULL;
    struct cr_tls_config tc = {.peer_role = CR_TLS_ROLE_SERVER};
    long long timeout_s = 120, v = 0;
    int ch, code = 0;
    const char *bad = NULL;
    while (!bad && (ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            server = optarg;
            break;
        case 'a':
            tc.ca_file = optarg;
            break;
        case 'c':
            tc.cert_file = optarg;
            break;
        case 'k':
            tc.key_file = optarg;
            break;
        case 'n':
            app.node = optarg;
            break;
        case 'A':
            app.address = optarg;
            break;
        case 't':
            if (num_arg(optarg, 1, 86400, &timeout_s))
                bad = "--timeout takes 1 to 86400 seconds";
            break;
        case 'g':
            if (app.nagents == MAX_AGENTS) {
                bad = "at most 256 --agent";
                break;
            }
            app.agents[app.nagents].client = (uint64_t)app.nagents + 1;
            if (agent_parse(&app.agents[app.nagents++], optarg))
                bad = "--agent takes LOGIN:PASSWORD:sip:URI[:CAMPAIGN[,CAMPAIGN...]] (at most 16 "
                      "campaigns)";
            break;
        case 'T':
            if (num_arg(optarg, 0, 86400000, &app.talk_ms))
                bad = "--talk-ms takes 0 to 86400000";
            break;
        case 'W':
            if (num_arg(optarg, 0, 86400000, &app.wrapup_ms))
                bad = "--wrapup-ms takes 0 to 86400000";
            break;
        case 'q':
            app.qualify = optarg;
            if (!optarg[0] || strlen(optarg) > CODE_MAX)
                bad = "--qualify takes a code of 1 to 64 bytes";
            break;
        case 'b':
            if (num_arg(optarg, 0, 366LL * 86400, &app.callback_in_s))
                bad = "--callback-in-s takes 0 to 31622400";
            break;
        case 'p':
            app.personal = true;
            break;
        case 'G':
            app.callback_agent = optarg;
            if (!optarg[0] || strlen(optarg) > 64)
                bad = "--callback-agent takes a login of 1 to 64 bytes";
            break;
        case 'R':
            if (app.nanswers == MAX_ANSWERS)
                bad = "at most 200 --answer";
            else if (!strchr(optarg, '=') || strlen(optarg) >= STDIN_MAX)
                bad = "--answer takes NAME=VALUE";
            else
                app.answers[app.nanswers++] = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "dial") == 0)
                app.preview = PREVIEW_DIAL;
            else if (strcmp(optarg, "skip") == 0)
                app.preview = PREVIEW_SKIP;
            else if (strcmp(optarg, "wait") == 0)
                app.preview = PREVIEW_WAIT;
            else
                bad = "--preview takes dial, skip or wait";
            break;
        case 'C':
            if (num_arg(optarg, 1, 100000000, &v))
                bad = "--calls takes 1 to 100000000";
            app.calls = (unsigned long)v;
            break;
        case 'D':
            if (num_arg(optarg, 1, 86400, &v))
                bad = "--duration takes 1 to 86400 seconds";
            app.duration = (unsigned long)v;
            break;
        case 'h':
            fputs(usage_text, stdout);
            code = 1;
            bad = "";
            break;
        default:
            bad = "unknown option";
            break;
        }
    }
    if (!bad && (!server || !tc.ca_file || !tc.cert_file || !tc.key_file))
        bad = "--server, --ca, --cert and --key are required";
    if (!bad && optind < argc)
        bad = "unexpected argument";
    if (!bad && cr_hostport_parse(server, app.host, sizeof app.host, &app.port) != 0)
        bad = "--server takes HOST:PORT";
    if (!bad && app.callback_in_s >= 0 && !app.qualify)
        bad = "--callback-in-s needs --qualify";
    for (int i = 0; !bad && i < app.nagents; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(app.agents[i].login, app.agents[j].login) == 0)
                bad = "each --agent needs its own login";
    if (bad) {
        if (bad[0])
            fprintf(stderr, "cr-agents: %s\n%s", bad, usage_text);
        for (int i = 0; i < app.nagents; i++)
            free(app.agents[i].spec);
        return code ? 0 : 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    cr_log_init("cr-agents", CR_LOG_WARN, false);
    char err[512];
    if (cr_tls_ctx_new_client(&tc, &app.tls, err, sizeof err) != 0) {
        fprintf(stderr, "cr-agents: TLS: %s\n", err);
        for (int i = 0; i < app.nagents; i++)
            free(app.agents[i].spec);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    app.loop = &loop;
    uv_timer_init(&loop, &app.deadline);
    app.deadline.data = &app;
    uv_timer_init(&loop, &app.duration_timer);
    app.duration_timer.data = &app;
    for (int i = 0; i < app.nagents; i++) {
        app.agents[i].app = &app;
        uv_timer_init(&loop, &app.agents[i].timer);
        app.agents[i].timer.data = &app.agents[i];
    }
    uv_timer_start(&app.deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
    if (app.duration)
        uv_timer_start(&app.duration_timer, on_duration, (uint64_t)app.duration * 1000, 0);
    stdin_open(&app);
    connect_link(&app);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_loop_close_all(&loop);
    cr_tls_ctx_free(app.tls);
    for (int i = 0; i < app.nagents; i++)
        free(app.agents[i].spec);
    return app.exit_code;
}
