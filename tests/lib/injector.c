/* cr-injector: a test-only stand-in for carillon-server on the dialer link. It listens with TLS,
 * accepts one carillon-dialerd, answers its Hello, sends call orders and prints every event.
 *
 *   cr-injector --listen HOST:PORT --ca CA --cert CERT --key KEY [--timeout S]
 *               [--script FILE] [STEP...]
 * Steps (one per argument or per script line; # starts a comment):
 *   call ID TARGET [caller_id=X] [caller_name=X] [privacy=1] [ring_timeout_ms=N]
 *        [abandon_after_ms=N] [not_after_unix_ms=N] [not_after_in_ms=N]
 *        [amd=off|report|hang_up|leave_message] [amd_message=NAME]
 *        not_after_in_ms: the deadline N ms after the step runs (negative: already past)
 *        TARGET is a sip:/sips: URI or a number dialled through the dialer's trunk
 *   cancel ID | hangup ID | wait ID ringing|answered|detected|ended | sleep MS
 *   agent ID URI [caller_id=X] | agentclose ID | bridge ATTEMPT AGENT | unbridge ATTEMPT
 *   waitagent ID up|lost|closed
 *            agent legs: their events print "agent_event agent=ID state=S sip_status=N
 *            call_id=C detail=D seq=N"
 *   drop     closes the dialer's link; the dialer reconnects and the steps go on
 *   hold     refuses the dialer's connections and stops the steps until SIGUSR1 (prints
 *            "holding", then "released")
 *   load CPS SECONDS [DRAIN_S]   (benchmarks) places CPS calls per second for SECONDS, spread
 *            over 10 ms ticks, numbers in a fixed mix per 20 calls: 12 x 1NNN (the bench trunk
 *            answers), 5 x 2NNN (busy), 3 x 3NNN (rings, no answer); events are counted, not
 *            printed; waits up to DRAIN_S (60) for every call to end, then prints
 *            "load placed=N ended=N failed=N answered=N busy=N no_answer=N other=N
 *            max_live=N rate=R" (failed: an outcome other than the number's, or no end)
 * It plays the server's side of event replay: each DialerCapacity is answered with a
 * DialerResume naming the last event seq received for that boot_id, each event is acknowledged
 * (EventAck), and an event received twice prints "duplicate_event ..." and makes the exit
 * code 4 (a gap in the numbering prints "event_gap ...").
 * Output, one line each: "listening port=P", "hello role=R node=N cert_role=R",
 * "capacity max_calls=N max_cps=N active=N", "event attempt=ID state=S outcome=O
 * sip_status=N hung_up_by=P call_id=C ring_ms=N talk_ms=N sent_at_us=T ringing_at_us=T
 * answered_at_us=T ended_at_us=T detail=D seq=N", followed, when the event carries an AMD
 * verdict or reason, by "amd attempt=ID state=S verdict=human|machine|not_sure|none reason=R
 * ms=N greeting_end_ms=N", "done". Steps start once the dialer has sent its
 * capacity. Exit 0 after the last step, 1 on --timeout (default 60 s), 2 on usage errors,
 * 3 when the dialer disconnects before the end. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"

#define MAX_STEPS  8192
#define MAX_SEEN   4096
#define SCRIPT_MAX (256 * 1024)

struct seen {
    uint64_t id;
    unsigned states; /* bit per CallState */
};

struct inj {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct cr_tls_ctx *tls;
    struct cr_conn *conn;
    char *steps[MAX_STEPS];
    int nsteps, next;
    bool running;  /* steps started */
    bool finished; /* done or failed: closing down */
    int exit_code;
    uv_timer_t step_timer; /* sleep steps and wait polling */
    uv_timer_t deadline;
    struct seen seen[MAX_SEEN];
    int nseen;
    uint64_t rid;
    bool dropping; /* a drop step closed the link: its close is not the end */
    bool hold_started, holding;
    uv_signal_t release; /* SIGUSR1 ends a hold */
    bool duplicates;
    uint64_t boot_id, last_seq; /* the dialer's current boot and the last event seq stored */
    struct load {
        bool active, placing, reported;
        unsigned cps, seconds, drain_s;
        uint64_t started_ms, next_id, first_id;
        uint64_t placed, ended, failed, by_outcome[16], live, max_live;
        uint64_t acked; /* the last seq acknowledged by a tick */
        uv_timer_t tick;
    } load;
};

static const char *state_name(int s)
{
    switch (s) {
    case CARILLON__V1__CALL_STATE__CALL_STATE_RINGING:
        return "ringing";
    case CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED:
        return "answered";
    case CARILLON__V1__CALL_STATE__CALL_STATE_ENDED:
        return "ended";
    case CARILLON__V1__CALL_STATE__CALL_STATE_DETECTED:
        return "detected";
    default:
        return "unspecified";
    }
}

static const char *outcome_name(int o)
{
    static const char *const names[] = {
        "none",      "answered",      "busy",      "no_answer", "invalid_number",
        "rejected",  "trunk_failure", "cancelled", "lost",      "refused",
        "abandoned", "expired",       "machine",
    };
    return o >= 0 && o < (int)(sizeof names / sizeof names[0]) ? names[o] : "?";
}

static const char *party_name(int p)
{
    return p == CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER ? "customer"
           : p == CARILLON__V1__CALL_PARTY__CALL_PARTY_DIALER ? "dialer"
                                                              : "none";
}

static void finish(struct inj *in, int code, const char *why)
{
    if (in->finished)
        return;
    in->finished = true;
    in->exit_code = code;
    if (why)
        printf("%s\n", why);
    uv_timer_stop(&in->step_timer);
    uv_timer_stop(&in->deadline);
    uv_close((uv_handle_t *)&in->step_timer, NULL);
    uv_close((uv_handle_t *)&in->deadline, NULL);
    uv_close((uv_handle_t *)&in->release, NULL);
    uv_close((uv_handle_t *)&in->load.tick, NULL);
    if (!uv_is_closing((uv_handle_t *)&in->listener))
        uv_close((uv_handle_t *)&in->listener, NULL);
    if (in->conn)
        cr_conn_close(in->conn);
}

static struct seen *seen_get(struct inj *in, uint64_t id, bool add)
{
    for (int i = 0; i < in->nseen; i++)
        if (in->seen[i].id == id)
            return &in->seen[i];
    if (!add || in->nseen == MAX_SEEN)
        return NULL;
    in->seen[in->nseen].id = id;
    in->seen[in->nseen].states = 0;
    return &in->seen[in->nseen++];
}

static void run_steps(struct inj *in);

static void on_step_timer(uv_timer_t *t)
{
    run_steps(t->data);
}

#define AGENT_KEY (1ULL << 63) /* agent legs' states are kept in `seen` under id | AGENT_KEY */

static const char *agent_state_name(int s)
{
    return s == CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_UP       ? "up"
           : s == CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_LOST   ? "lost"
           : s == CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_CLOSED ? "closed"
                                                                        : "unspecified";
}

static int state_value(const char *s)
{
    if (strcmp(s, "up") == 0)
        return CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_UP;
    if (strcmp(s, "lost") == 0)
        return CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_LOST;
    if (strcmp(s, "closed") == 0)
        return CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_CLOSED;
    if (strcmp(s, "ringing") == 0)
        return CARILLON__V1__CALL_STATE__CALL_STATE_RINGING;
    if (strcmp(s, "answered") == 0)
        return CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED;
    if (strcmp(s, "ended") == 0)
        return CARILLON__V1__CALL_STATE__CALL_STATE_ENDED;
    if (strcmp(s, "detected") == 0)
        return CARILLON__V1__CALL_STATE__CALL_STATE_DETECTED;
    return -1;
}

static int amd_mode_value(const char *s)
{
    static const char *const names[] = {"off", "report", "hang_up", "leave_message"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i; /* AMD_MODE_OFF .. AMD_MODE_LEAVE_MESSAGE */
    return -1;
}

static const char *amd_verdict_name(int v)
{
    return v == CARILLON__V1__AMD_VERDICT__AMD_VERDICT_HUMAN      ? "human"
           : v == CARILLON__V1__AMD_VERDICT__AMD_VERDICT_MACHINE  ? "machine"
           : v == CARILLON__V1__AMD_VERDICT__AMD_VERDICT_NOT_SURE ? "not_sure"
                                                                  : "none";
}

static void send_env(struct inj *in, Carillon__V1__Envelope *env)
{
    env->request_id = ++in->rid;
    int rc = cr_conn_send(in->conn, env);
    if (rc)
        printf("send_failed error=%s\n", strerror(-rc));
}

/* Tells the dialer the last event seq stored: DialerResume after its capacity, else EventAck. */
static void send_seq(struct inj *in, bool resume)
{
    Carillon__V1__DialerResume dr = CARILLON__V1__DIALER_RESUME__INIT;
    Carillon__V1__EventAck ack = CARILLON__V1__EVENT_ACK__INIT;
    Carillon__V1__Envelope r = CARILLON__V1__ENVELOPE__INIT;
    if (resume) {
        dr.boot_id = in->boot_id;
        dr.last_seq = in->last_seq;
        r.body_case = CARILLON__V1__ENVELOPE__BODY_DIALER_RESUME;
        r.dialer_resume = &dr;
    } else {
        ack.boot_id = in->boot_id;
        ack.up_to_seq = in->last_seq;
        r.body_case = CARILLON__V1__ENVELOPE__BODY_EVENT_ACK;
        r.event_ack = &ack;
    }
    send_env(in, &r);
}

/* --- load (benchmarks) ------------------------------------------------------------------- */

#define LOAD_FIRST_ID 1000000000ULL

/* The mix: of every 20 attempts, 12 are answered, 5 busy, 3 not answered. */
static int load_kind(uint64_t attempt)
{
    unsigned k = (unsigned)(attempt % 20);
    return k < 12   ? CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED
           : k < 17 ? CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_BUSY
                    : CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_NO_ANSWER;
}

static void load_report(struct inj *in)
{
    struct load *l = &in->load;
    if (l->reported)
        return;
    l->reported = true;
    uv_timer_stop(&l->tick);
    uint64_t unended = l->placed - l->ended;
    uint64_t *o = l->by_outcome;
    printf("load placed=%llu ended=%llu failed=%llu answered=%llu busy=%llu no_answer=%llu "
           "other=%llu max_live=%llu rate=%u trunk_failure=%llu lost=%llu refused=%llu "
           "cancelled=%llu\n",
           (unsigned long long)l->placed, (unsigned long long)l->ended,
           (unsigned long long)(l->failed + unended),
           (unsigned long long)o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED],
           (unsigned long long)o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_BUSY],
           (unsigned long long)o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_NO_ANSWER],
           (unsigned long long)(l->ended - o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED] -
                                o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_BUSY] -
                                o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_NO_ANSWER]),
           (unsigned long long)l->max_live, l->cps,
           (unsigned long long)o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_TRUNK_FAILURE],
           (unsigned long long)o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_LOST],
           (unsigned long long)o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED],
           (unsigned long long)o[CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_CANCELLED]);
    l->active = false;
}

static void on_load_tick(uv_timer_t *t)
{
    struct inj *in = t->data;
    struct load *l = &in->load;
    uint64_t elapsed = uv_now(in->loop) - l->started_ms;
    if (in->conn && in->last_seq != l->acked) {
        l->acked = in->last_seq;
        send_seq(in, false);
    }
    if (l->placing) {
        uint64_t span =
            elapsed < (uint64_t)l->seconds * 1000 ? elapsed : (uint64_t)l->seconds * 1000;
        uint64_t due = span * l->cps / 1000;
        while (l->placed < due && in->conn) {
            char number[24];
            uint64_t id = l->next_id++;
            int kind = load_kind(id);
            snprintf(number, sizeof number, "%d%09llu",
                     kind == CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ANSWERED ? 1
                     : kind == CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_BUSY   ? 2
                                                                               : 3,
                     (unsigned long long)(id % 1000000000ULL));
            Carillon__V1__PlaceCall pc = CARILLON__V1__PLACE_CALL__INIT;
            pc.attempt_id = id;
            pc.number = number;
            Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
            env.body_case = CARILLON__V1__ENVELOPE__BODY_PLACE_CALL;
            env.place_call = &pc;
            send_env(in, &env);
            l->placed++;
            l->live++;
            if (l->live > l->max_live)
                l->max_live = l->live;
        }
        if (elapsed >= (uint64_t)l->seconds * 1000)
            l->placing = false;
    }
    if (!l->placing &&
        (l->ended == l->placed || elapsed >= ((uint64_t)l->seconds + l->drain_s) * 1000)) {
        load_report(in);
        run_steps(in);
    }
}

/* A CallEvent while a load runs: counted against the number's expected outcome. */
static void load_event(struct inj *in, const Carillon__V1__CallEvent *e)
{
    struct load *l = &in->load;
    if (e->state != CARILLON__V1__CALL_STATE__CALL_STATE_ENDED)
        return;
    l->ended++;
    l->live--;
    if (e->outcome >= 0 && e->outcome < 16)
        l->by_outcome[e->outcome]++;
    if ((int)e->outcome != load_kind(e->attempt_id))
        l->failed++;
}

static int load_start(struct inj *in, char **argv, int argc)
{
    struct load *l = &in->load;
    if (l->reported) { /* the step ran: go on */
        l->reported = false;
        return 1;
    }
    if (l->active)
        return 0;
    unsigned cps = (unsigned)strtoul(argv[1], NULL, 10);
    unsigned secs = (unsigned)strtoul(argv[2], NULL, 10);
    if (!cps || cps > 100000 || !secs || secs > 3600)
        return -1;
    uint64_t first = l->next_id ? l->next_id : LOAD_FIRST_ID;
    memset(l->by_outcome, 0, sizeof l->by_outcome);
    l->active = l->placing = true;
    l->cps = cps;
    l->seconds = secs;
    l->drain_s = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 60;
    l->started_ms = uv_now(in->loop);
    l->next_id = l->first_id = first;
    l->placed = l->ended = l->failed = l->live = l->max_live = 0;
    uv_timer_start(&l->tick, on_load_tick, 10, 10);
    return 0;
}

/* An event's number: false for one already received (printed as a duplicate); a gap is printed;
 * the event is acknowledged. */
static bool take_seq(struct inj *in, uint64_t boot_id, uint64_t seq, uint64_t id, const char *what)
{
    if (!seq || boot_id != in->boot_id)
        return true;
    if (seq <= in->last_seq) {
        printf("duplicate_event %s=%llu seq=%llu\n", what, (unsigned long long)id,
               (unsigned long long)seq);
        in->duplicates = true;
        return false;
    }
    if (seq != in->last_seq + 1)
        printf("event_gap after=%llu got=%llu\n", (unsigned long long)in->last_seq,
               (unsigned long long)seq);
    in->last_seq = seq;
    /* Under load the acknowledgements go once per 10 ms tick, as a server batches them. */
    if (!in->load.active)
        send_seq(in, false);
    return true;
}

/* Runs one step; returns 1 to go on, 0 when it waits (a timer or an event resumes it), -1 on a
 * bad step. */
static int run_step(struct inj *in, char *line)
{
    char *argv[16];
    int argc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t", &save); tok && argc < 16;
         tok = strtok_r(NULL, " \t", &save))
        argv[argc++] = tok;
    if (argc == 0 || argv[0][0] == '#')
        return 1;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    if (strcmp(argv[0], "call") == 0 && argc >= 3) {
        Carillon__V1__PlaceCall pc = CARILLON__V1__PLACE_CALL__INIT;
        pc.attempt_id = strtoull(argv[1], NULL, 10);
        if (strncmp(argv[2], "sip:", 4) == 0 || strncmp(argv[2], "sips:", 5) == 0)
            pc.uri = argv[2];
        else
            pc.number = argv[2];
        for (int i = 3; i < argc; i++) {
            char *eq = strchr(argv[i], '=');
            if (!eq)
                return -1;
            *eq++ = '\0';
            if (strcmp(argv[i], "caller_id") == 0)
                pc.caller_id = eq;
            else if (strcmp(argv[i], "caller_name") == 0)
                pc.caller_name = eq;
            else if (strcmp(argv[i], "privacy") == 0)
                pc.privacy = atoi(eq) != 0;
            else if (strcmp(argv[i], "ring_timeout_ms") == 0)
                pc.ring_timeout_ms = (uint32_t)strtoul(eq, NULL, 10);
            else if (strcmp(argv[i], "abandon_after_ms") == 0)
                pc.abandon_after_ms = (uint32_t)strtoul(eq, NULL, 10);
            else if (strcmp(argv[i], "not_after_unix_ms") == 0)
                pc.not_after_unix_ms = strtoull(eq, NULL, 10);
            else if (strcmp(argv[i], "not_after_in_ms") == 0)
                pc.not_after_unix_ms = (uint64_t)(cr_now_us() / 1000 + strtoll(eq, NULL, 10));
            else if (strcmp(argv[i], "amd") == 0 && amd_mode_value(eq) >= 0)
                pc.amd = (Carillon__V1__AmdMode)amd_mode_value(eq);
            else if (strcmp(argv[i], "amd_message") == 0)
                pc.amd_message = eq;
            else
                return -1;
        }
        env.body_case = CARILLON__V1__ENVELOPE__BODY_PLACE_CALL;
        env.place_call = &pc;
        send_env(in, &env);
        return 1;
    }
    if ((strcmp(argv[0], "cancel") == 0 || strcmp(argv[0], "hangup") == 0) && argc == 2) {
        Carillon__V1__CancelCall cc = CARILLON__V1__CANCEL_CALL__INIT;
        Carillon__V1__HangupCall hc = CARILLON__V1__HANGUP_CALL__INIT;
        if (argv[0][0] == 'c') {
            cc.attempt_id = strtoull(argv[1], NULL, 10);
            env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_CANCEL;
            env.call_cancel = &cc;
        } else {
            hc.attempt_id = strtoull(argv[1], NULL, 10);
            env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_HANGUP;
            env.call_hangup = &hc;
        }
        send_env(in, &env);
        return 1;
    }
    if (strcmp(argv[0], "wait") == 0 && argc == 3) {
        int st = state_value(argv[2]);
        if (st < 0)
            return -1;
        struct seen *s = seen_get(in, strtoull(argv[1], NULL, 10), false);
        return s && (s->states & (1u << st)) ? 1 : 0;
    }
    if (strcmp(argv[0], "drop") == 0 && argc == 1) {
        if (in->conn) {
            printf("drop\n");
            in->dropping = true;
            cr_conn_close(in->conn);
        }
        return 1;
    }
    if (strcmp(argv[0], "agent") == 0 && (argc == 3 || argc == 4)) {
        Carillon__V1__OpenAgentLeg oa = CARILLON__V1__OPEN_AGENT_LEG__INIT;
        oa.agent_id = strtoull(argv[1], NULL, 10);
        oa.uri = argv[2];
        if (argc == 4) {
            if (strncmp(argv[3], "caller_id=", 10) != 0)
                return -1;
            oa.caller_id = argv[3] + 10;
        }
        env.body_case = CARILLON__V1__ENVELOPE__BODY_OPEN_AGENT_LEG;
        env.open_agent_leg = &oa;
        send_env(in, &env);
        return 1;
    }
    if (strcmp(argv[0], "agentclose") == 0 && argc == 2) {
        Carillon__V1__CloseAgentLeg ca = CARILLON__V1__CLOSE_AGENT_LEG__INIT;
        ca.agent_id = strtoull(argv[1], NULL, 10);
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CLOSE_AGENT_LEG;
        env.close_agent_leg = &ca;
        send_env(in, &env);
        return 1;
    }
    if (strcmp(argv[0], "bridge") == 0 && argc == 3) {
        Carillon__V1__Bridge br = CARILLON__V1__BRIDGE__INIT;
        br.attempt_id = strtoull(argv[1], NULL, 10);
        br.agent_id = strtoull(argv[2], NULL, 10);
        env.body_case = CARILLON__V1__ENVELOPE__BODY_BRIDGE;
        env.bridge = &br;
        send_env(in, &env);
        return 1;
    }
    if (strcmp(argv[0], "unbridge") == 0 && argc == 2) {
        Carillon__V1__Unbridge ub = CARILLON__V1__UNBRIDGE__INIT;
        ub.attempt_id = strtoull(argv[1], NULL, 10);
        env.body_case = CARILLON__V1__ENVELOPE__BODY_UNBRIDGE;
        env.unbridge = &ub;
        send_env(in, &env);
        return 1;
    }
    if (strcmp(argv[0], "waitagent") == 0 && argc == 3) {
        int st = state_value(argv[2]);
        if (st < 0)
            return -1;
        struct seen *s = seen_get(in, strtoull(argv[1], NULL, 10) | AGENT_KEY, false);
        return s && (s->states & (1u << st)) ? 1 : 0;
    }
    if (strcmp(argv[0], "load") == 0 && (argc == 3 || argc == 4))
        return load_start(in, argv, argc);
    if (strcmp(argv[0], "hold") == 0 && argc == 1) {
        if (!in->hold_started) {
            in->hold_started = in->holding = true;
            printf("holding\n");
        }
        if (in->holding)
            return 0;
        in->hold_started = false;
        return 1;
    }
    if (strcmp(argv[0], "sleep") == 0 && argc == 2) {
        uv_timer_start(&in->step_timer, on_step_timer, strtoull(argv[1], NULL, 10), 0);
        return 0;
    }
    return -1;
}

static void run_steps(struct inj *in)
{
    while (!in->finished && in->running && in->next < in->nsteps) {
        char line[1024];
        snprintf(line, sizeof line, "%s", in->steps[in->next]);
        int rc = run_step(in, line);
        if (rc < 0) {
            fprintf(stderr, "cr-injector: bad step '%s'\n", in->steps[in->next]);
            finish(in, 2, NULL);
            return;
        }
        if (rc == 0) {
            bool sleeping = uv_is_active((uv_handle_t *)&in->step_timer);
            if (sleeping) /* the timer's expiry means the sleep is over */
                in->next++;
            return;
        }
        in->next++;
    }
    if (!in->finished && in->running && in->next >= in->nsteps)
        finish(in, in->duplicates ? 4 : 0, "done");
}

static void on_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct inj *in = cr_conn_data(c);
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_HELLO: {
        const char *role = cr_conn_peer_role(c);
        printf("hello role=%d node=%s cert_role=%s\n", env->hello->role,
               cr_log_q(env->hello->node_name), role ? role : "none");
        Carillon__V1__Welcome w = CARILLON__V1__WELCOME__INIT;
        w.protocol_version = CR_PROTOCOL_VERSION;
        w.node_name = "cr-injector";
        w.software = "cr-injector";
        w.max_frame = (uint32_t)cr_conn_max_frame(c);
        Carillon__V1__Envelope r = CARILLON__V1__ENVELOPE__INIT;
        r.request_id = env->request_id;
        r.body_case = CARILLON__V1__ENVELOPE__BODY_WELCOME;
        r.welcome = &w;
        if (cr_conn_send(c, &r) != 0)
            finish(in, 3, "closed error=send");
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_DIALER_CAPACITY: {
        printf("capacity max_calls=%u max_cps=%u active=%u\n", env->dialer_capacity->max_calls,
               env->dialer_capacity->max_calls_per_second, env->dialer_capacity->active_calls);
        if (env->dialer_capacity->boot_id != in->boot_id) { /* a restarted dialer */
            in->boot_id = env->dialer_capacity->boot_id;
            in->last_seq = 0;
        }
        printf("resume last_seq=%llu\n", (unsigned long long)in->last_seq);
        send_seq(in, true);
        if (!in->running) {
            in->running = true;
            run_steps(in);
        }
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_AGENT_LEG_EVENT: {
        Carillon__V1__AgentLegEvent *a = env->agent_leg_event;
        if (!take_seq(in, a->boot_id, a->seq, a->agent_id, "agent"))
            break;
        printf("agent_event agent=%llu state=%s sip_status=%u call_id=%s detail=%s seq=%llu\n",
               (unsigned long long)a->agent_id, agent_state_name(a->state), a->sip_status,
               a->sip_call_id && a->sip_call_id[0] ? cr_log_q(a->sip_call_id) : "-",
               cr_log_q(a->detail ? a->detail : ""), (unsigned long long)a->seq);
        struct seen *s = seen_get(in, a->agent_id | AGENT_KEY, true);
        if (s && a->state >= 0 && a->state < 32)
            s->states |= 1u << a->state;
        if (!uv_is_active((uv_handle_t *)&in->step_timer))
            run_steps(in);
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_CALL_EVENT: {
        Carillon__V1__CallEvent *e = env->call_event;
        if (!take_seq(in, e->boot_id, e->seq, e->attempt_id, "attempt"))
            break;
        if (e->attempt_id >= LOAD_FIRST_ID) {
            if (in->load.active)
                load_event(in, e);
            break;
        }
        printf("event attempt=%llu state=%s outcome=%s sip_status=%u hung_up_by=%s call_id=%s "
               "ring_ms=%u talk_ms=%u sent_at_us=%lld ringing_at_us=%lld answered_at_us=%lld "
               "ended_at_us=%lld detail=%s seq=%llu\n",
               (unsigned long long)e->attempt_id, state_name(e->state), outcome_name(e->outcome),
               e->sip_status, party_name(e->hung_up_by),
               e->sip_call_id && e->sip_call_id[0] ? cr_log_q(e->sip_call_id) : "-", e->ring_ms,
               e->talk_ms, (long long)e->sent_at_us, (long long)e->ringing_at_us,
               (long long)e->answered_at_us, (long long)e->ended_at_us,
               cr_log_q(e->detail ? e->detail : ""), (unsigned long long)e->seq);
        if (e->amd_verdict || (e->amd_reason && e->amd_reason[0]))
            printf("amd attempt=%llu state=%s verdict=%s reason=%s ms=%u greeting_end_ms=%u\n",
                   (unsigned long long)e->attempt_id, state_name(e->state),
                   amd_verdict_name(e->amd_verdict), cr_log_q(e->amd_reason ? e->amd_reason : ""),
                   e->amd_ms, e->amd_greeting_end_ms);
        struct seen *s = seen_get(in, e->attempt_id, true);
        if (s && e->state >= 0 && e->state < 32)
            s->states |= 1u << e->state;
        if (!uv_is_active((uv_handle_t *)&in->step_timer))
            run_steps(in);
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_OK:
        printf("ok request_id=%llu\n", (unsigned long long)env->request_id);
        break;
    case CARILLON__V1__ENVELOPE__BODY_ERROR:
        printf("error code=%d message=%s\n", env->error->code,
               cr_log_q(env->error->message ? env->error->message : ""));
        break;
    default:
        printf("message body=%d\n", (int)env->body_case);
        break;
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_close(struct cr_conn *c, int err)
{
    struct inj *in = cr_conn_data(c);
    if (in->conn != c)
        return;
    in->conn = NULL;
    if (in->dropping) { /* the dialer reconnects: a new connection takes its place */
        in->dropping = false;
        printf("dropped\n");
        return;
    }
    if (!in->finished) {
        char why[128];
        snprintf(why, sizeof why, "closed error=%s", err ? strerror(-err) : "none");
        finish(in, 3, why);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct inj *in = server->data;
    if (status < 0)
        return;
    static const struct cr_conn_cbs cbs = {.on_message = on_message, .on_close = on_close};
    struct cr_conn *c;
    if (cr_conn_accept(server, in->tls, NULL, &cbs, in, &c) != 0)
        return;
    if (in->conn || in->finished || in->holding) {
        cr_conn_close(c); /* one dialer at a time, and none during a hold */
        return;
    }
    in->conn = c;
}

static void on_release(uv_signal_t *h, int signum)
{
    (void)signum;
    struct inj *in = h->data;
    if (!in->holding)
        return;
    in->holding = false;
    printf("released\n");
    run_steps(in);
}

static void on_deadline(uv_timer_t *t)
{
    struct inj *in = t->data;
    finish(in, 1, "timeout");
}

static int load_script(struct inj *in, const char *path, char **buf)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    *buf = malloc(SCRIPT_MAX + 1);
    if (!*buf) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(*buf, 1, SCRIPT_MAX + 1, f);
    fclose(f);
    if (n > SCRIPT_MAX)
        return -EFBIG;
    (*buf)[n] = '\0';
    char *save = NULL;
    for (char *l = strtok_r(*buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (in->nsteps == MAX_STEPS)
            return -E2BIG;
        in->steps[in->nsteps++] = l;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'},
        {"script", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    static struct inj in;
    const char *listen = NULL, *script = NULL;
    struct cr_tls_config tc = {0};
    unsigned timeout_s = 60;
    int ch;
    while ((ch = getopt_long(argc, argv, "l:a:c:k:t:s:", opts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            listen = optarg;
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
        case 't':
            timeout_s = (unsigned)atoi(optarg);
            break;
        case 's':
            script = optarg;
            break;
        default:
            fprintf(stderr, "usage: cr-injector --listen HOST:PORT --ca CA --cert C --key K "
                            "[--timeout S] [--script FILE] [STEP...]\n");
            return 2;
        }
    }
    char host[256];
    int port;
    /* port 0: the kernel picks one, printed on the "listening" line */
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    bool any_port = colon && strcmp(colon, ":0") == 0 && (size_t)(colon - listen) < sizeof host;
    if (any_port) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        port = 0;
    }
    if (!listen || !tc.ca_file || !tc.cert_file || !tc.key_file ||
        (!any_port && cr_hostport_parse(listen, host, sizeof host, &port) != 0)) {
        fprintf(stderr, "cr-injector: --listen HOST:PORT, --ca, --cert and --key are required\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    cr_log_init("cr-injector", CR_LOG_WARN, false);
    char *script_buf = NULL;
    if (script) {
        int rc = load_script(&in, script, &script_buf);
        if (rc) {
            fprintf(stderr, "cr-injector: %s: %s\n", script,
                    rc == -E2BIG ? "more steps than the injector takes (8192)" : strerror(-rc));
            free(script_buf);
            return 2;
        }
    }
    for (int i = optind; i < argc && in.nsteps < MAX_STEPS; i++)
        in.steps[in.nsteps++] = argv[i];

    char err[512];
    if (cr_tls_ctx_new_server(&tc, &in.tls, err, sizeof err) != 0) {
        fprintf(stderr, "cr-injector: TLS: %s\n", err);
        free(script_buf);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    in.loop = &loop;
    uv_tcp_init(&loop, &in.listener);
    in.listener.data = &in;
    uv_timer_init(&loop, &in.step_timer);
    in.step_timer.data = &in;
    uv_timer_init(&loop, &in.deadline);
    in.deadline.data = &in;
    uv_timer_init(&loop, &in.load.tick);
    in.load.tick.data = &in;
    uv_signal_init(&loop, &in.release);
    in.release.data = &in;
    uv_signal_start(&in.release, on_release, SIGUSR1);
    struct sockaddr_storage ss;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (!rc)
        rc = uv_tcp_bind(&in.listener, (struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&in.listener, 8, on_connection);
    if (rc) {
        fprintf(stderr, "cr-injector: listen %s: %s\n", listen, uv_strerror(rc));
        in.exit_code = 2;
        goto done;
    }
    int namelen = sizeof ss;
    uv_tcp_getsockname(&in.listener, (struct sockaddr *)&ss, &namelen);
    printf("listening port=%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    uv_timer_start(&in.deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
done:
    cr_loop_close_all(&loop);
    cr_tls_ctx_free(in.tls);
    free(script_buf);
    return in.exit_code;
}
