/* carillon-agent --script/--auto: every envelope received goes out as one JSON object
 * ({"event":"call_connected","request_id":N,...the message's fields}, through server/ctl's
 * pbjson writer), link changes as {"event":"link",...}; stdin commands are JSON objects parsed
 * with jansson; --auto plays the agent by itself (ready, answers, hang up, qualify, logout). */
#include "script.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carillon/daemon.h"
#include "pbyaml.h"

#define STDIN_MAX   65536
#define PENDING_MAX 64

enum op { OP_OTHER, OP_QUALIFY, OP_LOGOUT };

struct script {
    struct agentclient *c;
    const struct script_opts *so;
    uv_loop_t *loop;
    int state;
    uint64_t attempt;
    uint64_t hung_up_at, qualified_at, answered_at;
    uint64_t rule_attempt; /* the call whose contact picked rule (-1: none, --qualify) */
    int rule;
    bool finishing, logout_sent, done, ended;
    int exit_code;
    unsigned long qualified;
    struct {
        uint64_t rid;
        enum op op;
        uint64_t attempt;
    } pending[PENDING_MAX];
    int npending;
    uv_timer_t timer, duration;
    uint64_t timer_attempt;
    int timer_state;
    uv_pipe_t in;
    bool in_open;
    char inbuf[STDIN_MAX];
    size_t inlen;
    bool discard;
};

static void event_error(const char *what, const char *line)
{
    printf("{\"event\":\"error\",\"message\":");
    pbjson_string(stdout, what);
    if (line) {
        printf(",\"line\":");
        pbjson_string(stdout, line);
    }
    printf("}\n");
}

static void finish(struct script *s, int code)
{
    if (s->done)
        return;
    s->done = true;
    s->exit_code = code;
    uv_timer_stop(&s->timer);
    uv_timer_stop(&s->duration);
    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->duration))
        uv_close((uv_handle_t *)&s->duration, NULL);
    if (s->in_open && !uv_is_closing((uv_handle_t *)&s->in))
        uv_close((uv_handle_t *)&s->in, NULL);
    agentclient_close(s->c);
}

static int64_t send_env(struct script *s, Carillon__V1__Envelope *env, enum op op, uint64_t attempt,
                        const char *what)
{
    int64_t rid = agentclient_send(s->c, env);
    if (rid < 0) {
        char m[200];
        snprintf(m, sizeof m, "%s not sent: %s", what,
                 rid == -ENOTCONN ? "not logged in right now (the link is down or resuming)"
                                  : strerror((int)-rid));
        event_error(m, NULL);
        return rid;
    }
    if (op != OP_OTHER && s->npending < PENDING_MAX)
        s->pending[s->npending++] = (__typeof__(s->pending[0])){(uint64_t)rid, op, attempt};
    return rid;
}

static void req_state(struct script *s, bool pause, const char *reason)
{
    Carillon__V1__AgentSetState st = CARILLON__V1__AGENT_SET_STATE__INIT;
    st.state = pause ? CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED
                     : CARILLON__V1__AGENT_STATE__AGENT_STATE_READY;
    st.reason = (char *)(reason ? reason : "");
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_SET_STATE;
    env.agent_set_state = &st;
    send_env(s, &env, OP_OTHER, 0, pause ? "pause" : "ready");
}

static void req_call(struct script *s, Carillon__V1__Envelope__BodyCase b, uint64_t attempt,
                     const char *reason)
{
    Carillon__V1__AgentDial d = CARILLON__V1__AGENT_DIAL__INIT;
    Carillon__V1__AgentSkip k = CARILLON__V1__AGENT_SKIP__INIT;
    Carillon__V1__AgentHangup h = CARILLON__V1__AGENT_HANGUP__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = b;
    const char *what = "hangup";
    if (b == CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL) {
        d.attempt_id = attempt;
        env.agent_dial = &d;
        what = "dial";
    } else if (b == CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP) {
        k.attempt_id = attempt;
        k.reason = (char *)(reason ? reason : "");
        env.agent_skip = &k;
        what = "skip";
    } else {
        h.attempt_id = attempt;
        env.agent_hangup = &h;
    }
    send_env(s, &env, OP_OTHER, attempt, what);
}

static void req_qualify(struct script *s, uint64_t attempt, const char *code, int64_t cb_ms,
                        bool personal, const char *cb_agent)
{
    Carillon__V1__AgentQualify q = CARILLON__V1__AGENT_QUALIFY__INIT;
    q.attempt_id = attempt;
    q.code = (char *)code;
    q.callback_unix_ms = cb_ms;
    q.personal = personal;
    q.callback_agent = (char *)(cb_agent ? cb_agent : "");
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_QUALIFY;
    env.agent_qualify = &q;
    if (send_env(s, &env, OP_QUALIFY, attempt, "qualify") > 0)
        s->qualified_at = attempt;
}

static void req_logout(struct script *s)
{
    Carillon__V1__AgentLogout lo = CARILLON__V1__AGENT_LOGOUT__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LOGOUT;
    env.agent_logout = &lo;
    if (send_env(s, &env, OP_LOGOUT, 0, "logout") > 0)
        s->logout_sent = true;
}

static void req_answers(struct script *s, uint64_t attempt, Carillon__V1__AgentAnswer **a, size_t n)
{
    Carillon__V1__AgentSaveAnswers sa = CARILLON__V1__AGENT_SAVE_ANSWERS__INIT;
    sa.attempt_id = attempt;
    sa.answers = a;
    sa.n_answers = n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_SAVE_ANSWERS;
    env.agent_save_answers = &sa;
    send_env(s, &env, OP_OTHER, attempt, "answers");
}

/* --- the --auto policy ------------------------------------------------------------------------ */

static bool busy(const struct script *s)
{
    return s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL ||
           s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_DIALING ||
           (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP && s->so->qualify);
}

static void on_timer(uv_timer_t *t)
{
    struct script *s = t->data;
    if (s->done || s->attempt != s->timer_attempt)
        return;
    if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL && s->hung_up_at != s->attempt) {
        s->hung_up_at = s->attempt;
        req_call(s, CARILLON__V1__ENVELOPE__BODY_AGENT_HANGUP, s->attempt, NULL);
    } else if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP && s->so->qualify &&
               s->qualified_at != s->attempt) {
        const char *code = s->so->qualify;
        long long in_s = s->so->callback_in_s;
        if (s->rule_attempt == s->attempt && s->rule >= 0) {
            code = s->so->rules[s->rule].code;
            in_s = s->so->rules[s->rule].callback_in_s;
        }
        int64_t cb = 0;
        if (in_s >= 0)
            cb = cr_now_us() / 1000 + in_s * 1000;
        req_qualify(s, s->attempt, code, cb, s->so->personal, NULL);
    }
}

/* --auto: the --answer values, once per call, when it is answered (an agent-first call connects
 * while it rings, and the server takes answers only on call or in wrap-up; a dialled preview
 * gets no CallConnected at all). */
static void auto_answers(struct script *s)
{
    if (!s->so->n_answers || s->state != CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL ||
        !s->attempt || s->answered_at == s->attempt)
        return;
    s->answered_at = s->attempt;
    Carillon__V1__AgentAnswer ans[SCRIPT_ANSWERS_MAX], *ap[SCRIPT_ANSWERS_MAX];
    char *vals[SCRIPT_ANSWERS_MAX];
    for (int i = 0; i < s->so->n_answers; i++) {
        carillon__v1__agent_answer__init(&ans[i]);
        ans[i].export_name = (char *)s->so->answer_names[i];
        vals[i] = (char *)s->so->answer_values[i];
        ans[i].values = &vals[i];
        ans[i].n_values = 1;
        ap[i] = &ans[i];
    }
    req_answers(s, s->attempt, ap, (size_t)s->so->n_answers);
}

static void react(struct script *s)
{
    const struct script_opts *so = s->so;
    if (!so->autopilot || s->done || agentclient_state(s->c) != AGENTCLIENT_LOGGED_IN)
        return;
    auto_answers(s);
    bool timed = false;
    long long delay = -1;
    if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL && so->talk_ms >= 0 &&
        s->attempt && s->hung_up_at != s->attempt)
        delay = so->talk_ms;
    else if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP && so->qualify &&
             s->attempt && s->qualified_at != s->attempt)
        delay = so->wrapup_ms;
    if (delay >= 0) {
        timed = true;
        if (!uv_is_active((uv_handle_t *)&s->timer) || s->timer_attempt != s->attempt ||
            s->timer_state != s->state) {
            s->timer_attempt = s->attempt;
            s->timer_state = s->state;
            uv_timer_start(&s->timer, on_timer, (uint64_t)delay, 0);
        }
    }
    if (!timed)
        uv_timer_stop(&s->timer);
    if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED && !s->finishing)
        req_state(s, false, NULL);
    if (s->finishing && !s->logout_sent && !busy(s))
        req_logout(s);
}

static void begin_finish(struct script *s)
{
    if (s->finishing)
        return;
    s->finishing = true;
    react(s);
}

static void on_duration(uv_timer_t *t)
{
    begin_finish(t->data);
}

static void preview_act(struct script *s, uint64_t attempt)
{
    if (!s->so->autopilot || s->so->preview == 2)
        return;
    bool skip = s->finishing || s->so->preview == 1;
    req_call(
        s, skip ? CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP : CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL,
        attempt, skip ? "skipped by carillon-agent --auto" : NULL);
}

/* The --qualify-if rule that applies to this call's contact, or -1. */
static int pick_rule(const struct script_opts *so, const Carillon__V1__AgentContact *ct)
{
    if (!ct)
        return -1;
    for (int i = 0; i < so->n_rules; i++) {
        const struct script_rule *r = &so->rules[i];
        if (ct->last_qualification && strcmp(ct->last_qualification, r->code) == 0)
            continue;
        for (size_t k = 0; k < ct->n_fields; k++)
            if (ct->fields[k]->name && strcmp(ct->fields[k]->name, r->field) == 0 &&
                ct->fields[k]->value && strcmp(ct->fields[k]->value, r->value) == 0)
                return i;
    }
    return -1;
}

/* --- events out ------------------------------------------------------------------------------- */

static void print_envelope(uint64_t rid, const Carillon__V1__Envelope *env)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(
        &carillon__v1__envelope__descriptor, (unsigned)env->body_case);
    if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE)
        return;
    const ProtobufCMessage *m = *(ProtobufCMessage *const *)((const char *)env + fd->offset);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    pbjson_inline(f, m);
    fclose(f);
    printf("{\"event\":\"%s\",\"request_id\":%" PRIu64 "%s%s\n", fd->name, rid, len > 2 ? "," : "",
           len > 2 ? buf + 1 : "}");
    free(buf);
}

static void on_envelope(struct agentclient *c, uint64_t rid, const Carillon__V1__Envelope *env,
                        void *data)
{
    (void)c;
    struct script *s = data;
    print_envelope(rid, env);
    enum op op = OP_OTHER;
    uint64_t attempt = 0;
    for (int i = 0; rid && i < s->npending; i++)
        if (s->pending[i].rid == rid) {
            op = s->pending[i].op;
            attempt = s->pending[i].attempt;
            s->pending[i] = s->pending[--s->npending];
            break;
        }
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK:
        s->state = env->agent_login_ok->state;
        if (env->agent_login_ok->attempt_id)
            s->attempt = env->agent_login_ok->attempt_id;
        if (s->state == CARILLON__V1__AGENT_STATE__AGENT_STATE_PREVIEW && s->attempt)
            preview_act(s, s->attempt);
        break;
    case CARILLON__V1__ENVELOPE__BODY_AGENT_STATE_CHANGED:
        s->state = env->agent_state_changed->state;
        if (env->agent_state_changed->attempt_id)
            s->attempt = env->agent_state_changed->attempt_id;
        break;
    case CARILLON__V1__ENVELOPE__BODY_CALL_OFFERED:
        s->attempt = env->call_offered->attempt_id;
        s->rule_attempt = s->attempt;
        s->rule = pick_rule(s->so, env->call_offered->contact);
        preview_act(s, s->attempt);
        break;
    case CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED:
        s->attempt = env->call_connected->attempt_id;
        s->rule_attempt = s->attempt;
        s->rule = pick_rule(s->so, env->call_connected->contact);
        break;
    case CARILLON__V1__ENVELOPE__BODY_OK:
        if (op == OP_QUALIFY) {
            s->qualified++;
            if (s->so->autopilot && s->so->calls && s->qualified >= s->so->calls)
                begin_finish(s);
        }
        break;
    case CARILLON__V1__ENVELOPE__BODY_ERROR:
        if (op == OP_QUALIFY && s->qualified_at == attempt)
            s->qualified_at = 0;
        if (op == OP_LOGOUT)
            s->logout_sent = false;
        break;
    default:
        break;
    }
    react(s);
}

static void on_state(struct agentclient *c, enum agentclient_state st, const char *reason,
                     void *data)
{
    struct script *s = data;
    printf("{\"event\":\"link\",\"state\":\"%s\",\"agentd\":", agentclient_state_name(st));
    pbjson_string(stdout, agentclient_agentd(c));
    printf(",\"reason\":");
    pbjson_string(stdout, reason);
    printf("}\n");
    if (st == AGENTCLIENT_LOGIN_FAILED)
        finish(s, 1);
    else if (st == AGENTCLIENT_SESSION_ENDED)
        finish(s, s->logout_sent || s->finishing ? 0 : 3);
}

/* --- commands in ------------------------------------------------------------------------------ */

static uint64_t attempt_of(struct script *s, json_t *o)
{
    json_t *a = json_object_get(o, "attempt_id");
    return json_is_integer(a) && json_integer_value(a) > 0 ? (uint64_t)json_integer_value(a)
                                                           : s->attempt;
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void cmd_answers(struct script *s, json_t *o, const char *line)
{
    json_t *arr = json_object_get(o, "answers");
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > SCRIPT_ANSWERS_MAX) {
        event_error("answers needs \"answers\": an array of 1 to 32 {export_name, values}", line);
        return;
    }
    Carillon__V1__AgentAnswer ans[SCRIPT_ANSWERS_MAX], *ap[SCRIPT_ANSWERS_MAX];
    char *vals[SCRIPT_ANSWERS_MAX][SCRIPT_ANSWERS_MAX];
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(arr, i);
        json_t *v = json_object_get(a, "values");
        const char *name = str_of(a, "export_name");
        if (!name || !json_is_array(v) || json_array_size(v) > SCRIPT_ANSWERS_MAX) {
            event_error("each answer needs \"export_name\" (a string) and \"values\" (an array "
                        "of at most 32 strings)",
                        line);
            return;
        }
        carillon__v1__agent_answer__init(&ans[i]);
        ans[i].export_name = (char *)name;
        ans[i].matrix_row = (char *)(str_of(a, "matrix_row") ? str_of(a, "matrix_row") : "");
        for (size_t k = 0; k < json_array_size(v); k++) {
            if (!json_is_string(json_array_get(v, k))) {
                event_error("answer values are strings", line);
                return;
            }
            vals[i][k] = (char *)json_string_value(json_array_get(v, k));
        }
        ans[i].values = vals[i];
        ans[i].n_values = json_array_size(v);
        ap[i] = &ans[i];
    }
    req_answers(s, attempt_of(s, o), ap, n);
}

static void cmd_qualify(struct script *s, json_t *o, const char *line)
{
    const char *code = str_of(o, "code");
    if (!code || !code[0]) {
        event_error("qualify needs \"code\"", line);
        return;
    }
    int64_t cb_ms = 0;
    const char *cb = str_of(o, "callback");
    if (cb && cb[0]) {
        struct tm tm = {0};
        const char *end = strptime(cb, "%Y-%m-%dT%H:%M:%S", &tm);
        long off = 0;
        if (end && (*end == 'Z' || *end == 'z') && end[1] == '\0') {
            off = 0;
        } else if (end && (end[0] == '+' || end[0] == '-') && strlen(end) == 6 && end[3] == ':') {
            int hh = 0, mm = 0;
            if (sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2)
                end = NULL;
            else
                off = (end[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
        } else {
            end = NULL;
        }
        if (!end) {
            event_error("callback is an RFC 3339 time such as 2030-01-31T14:00:00Z", line);
            return;
        }
        cb_ms = ((int64_t)timegm(&tm) - off) * 1000;
    }
    json_t *p = json_object_get(o, "personal");
    if (p && !json_is_boolean(p)) {
        event_error("personal is true or false", line);
        return;
    }
    req_qualify(s, attempt_of(s, o), code, cb_ms, json_is_true(p), str_of(o, "callback_agent"));
}

static void run_command(struct script *s, const char *line)
{
    if (!line[0] || strspn(line, " \t\r") == strlen(line))
        return;
    json_error_t je;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        char m[300];
        snprintf(m, sizeof m, "not a JSON object: %s", o ? "another JSON value" : je.text);
        event_error(m, line);
        json_decref(o);
        return;
    }
    const char *cmd = str_of(o, "cmd");
    const char *reason = str_of(o, "reason");
    if (!cmd) {
        event_error("a command needs \"cmd\" (a string)", line);
    } else if (strcmp(cmd, "ready") == 0) {
        req_state(s, false, NULL);
    } else if (strcmp(cmd, "pause") == 0) {
        if (!reason)
            event_error("pause needs \"reason\"", line);
        else
            req_state(s, true, reason);
    } else if (strcmp(cmd, "dial") == 0) {
        req_call(s, CARILLON__V1__ENVELOPE__BODY_AGENT_DIAL, attempt_of(s, o), NULL);
    } else if (strcmp(cmd, "skip") == 0) {
        req_call(s, CARILLON__V1__ENVELOPE__BODY_AGENT_SKIP, attempt_of(s, o), reason);
    } else if (strcmp(cmd, "hangup") == 0) {
        req_call(s, CARILLON__V1__ENVELOPE__BODY_AGENT_HANGUP, attempt_of(s, o), NULL);
    } else if (strcmp(cmd, "answers") == 0) {
        cmd_answers(s, o, line);
    } else if (strcmp(cmd, "qualify") == 0) {
        cmd_qualify(s, o, line);
    } else if (strcmp(cmd, "cancel") == 0 || strcmp(cmd, "suspend") == 0) {
        Carillon__V1__AgentInterviewAction ia = CARILLON__V1__AGENT_INTERVIEW_ACTION__INIT;
        ia.attempt_id = attempt_of(s, o);
        ia.action = (char *)cmd;
        ia.reason = (char *)(reason ? reason : "");
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_INTERVIEW_ACTION;
        env.agent_interview_action = &ia;
        send_env(s, &env, OP_OTHER, ia.attempt_id, cmd);
    } else if (strcmp(cmd, "logout") == 0) {
        req_logout(s);
    } else if (strcmp(cmd, "quit") == 0) {
        finish(s, 0);
    } else {
        event_error("unknown cmd (ready, pause, dial, skip, hangup, answers, qualify, cancel, "
                    "suspend, logout, quit)",
                    line);
    }
    json_decref(o);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct script *s = h->data;
    buf->base = s->inbuf + s->inlen;
    buf->len = sizeof s->inbuf - s->inlen;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct script *s = st->data;
    if (n < 0) {
        /* EOF: no more commands; the session goes on until it ends or quit */
        uv_close((uv_handle_t *)st, NULL);
        s->in_open = false;
        return;
    }
    s->inlen += (size_t)n;
    char *nl;
    while (!s->done && (nl = memchr(s->inbuf, '\n', s->inlen))) {
        *nl = '\0';
        if (!s->discard)
            run_command(s, s->inbuf);
        s->discard = false;
        size_t used = (size_t)(nl + 1 - s->inbuf);
        memmove(s->inbuf, nl + 1, s->inlen - used);
        s->inlen -= used;
    }
    if (s->inlen == sizeof s->inbuf) {
        event_error("a command line longer than 65535 bytes (dropped)", NULL);
        s->inlen = 0;
        s->discard = true;
    }
}

int script_run(struct agentclient *c, const struct script_opts *so)
{
    static struct script s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.so = so;
    s.loop = agentclient_loop(c);
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_timer_init(s.loop, &s.timer);
    s.timer.data = &s;
    uv_timer_init(s.loop, &s.duration);
    s.duration.data = &s;
    if (so->autopilot && so->duration_s)
        uv_timer_start(&s.duration, on_duration, so->duration_s * 1000, 0);
    if (so->commands && uv_guess_handle(0) == UV_NAMED_PIPE &&
        uv_pipe_init(s.loop, &s.in, 0) == 0) {
        s.in.data = &s;
        if (uv_pipe_open(&s.in, 0) == 0 &&
            uv_read_start((uv_stream_t *)&s.in, on_alloc, on_read) == 0)
            s.in_open = true;
        else
            uv_close((uv_handle_t *)&s.in, NULL);
    } else if (so->commands && uv_guess_handle(0) == UV_TTY) {
        fprintf(stderr, "carillon-agent: --script reads commands from a pipe\n");
    }
    static const struct agentclient_cbs cbs = {.on_envelope = on_envelope, .on_state = on_state};
    agentclient_set_callbacks(c, &cbs, &s);
    uv_run(s.loop, UV_RUN_DEFAULT);
    if (!s.done)
        finish(&s, 0);
    uv_run(s.loop, UV_RUN_DEFAULT);
    return s.exit_code;
}
