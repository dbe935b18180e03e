/* carillon-dialerd: reads its INI config, starts the SIP user agent on its sofia-sip thread,
 * keeps a mutual-TLS link to carillon-server on the libuv loop, admits call orders (max calls,
 * calls per second, RTP ports) and reports every call's progress until TERM or INT. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "amd.h"
#include "carillon/cfg.h"
#include "carillon/conn.h"
#include "carillon/daemon.h"
#include "carillon/log.h"
#include "dialerd.h"
#include "media.h"
#include "outbox.h"
#include "outcome.h"
#include "sip.h"
#include "wav.h"

#define PENDING_MAX      1024 /* orders waiting for a calls-per-second token */
#define MESSAGES_MAX     32   /* [messages] entries */
#define MESSAGE_NAME_MAX 32

/* One of [messages]: a G.711 WAV left on answering machines (AMD_MODE_LEAVE_MESSAGE). */
struct message {
    char name[MESSAGE_NAME_MAX + 1];
    uint8_t *samples; /* malloc'd by dl_wav_load, freed at exit */
    size_t n;
    int law;
};

/* Everything main() wires together; lives on main's stack for the process's life. */
struct app {
    uv_loop_t *loop;
    struct dialer_config cfg;
    const char *config_path;
    struct cr_tls_ctx *tls;
    struct cr_client *client;
    struct cr_conn *conn; /* the server link once Welcome came, else NULL */
    struct dl_sip *sip;
    struct dl_rtp *rtp; /* RTP sockets of every leg, relays between bridged legs */
    size_t agent_legs;  /* open agent legs (not counted in active: they are not calls) */
    uint8_t *abandon;   /* the abandon message's G.711 samples, or NULL */
    size_t abandon_n;
    int abandon_law;
    struct message messages[MESSAGES_MAX]; /* [messages], loaded at start */
    size_t nmessages;
    struct amd_params amd; /* [amd] */
    uint8_t *idle;         /* the comfort tone looped on idle agent legs, or NULL: silence */
    size_t idle_n;
    int idle_law;
    bool stopping;
    int exit_code;
    size_t max_calls_cap; /* max_calls at start: sizes the SIP queues; reload cannot exceed */
    size_t active;        /* admitted orders whose ENDED event has not come yet */
    /* Every event goes through the outbox and stays there until the server acknowledges it;
     * after a reconnect the server says what it has (DialerResume) and the rest is replayed. */
    struct dl_outbox *outbox;
    uint64_t boot_id;
    bool resumed; /* DialerResume came on the current link: events may flow */
    /* calls-per-second token bucket, and the orders waiting for a token */
    double tokens;
    uint64_t tokens_at_ms;
    struct dl_order *pending; /* ring of PENDING_MAX */
    size_t pending_head, pending_len;
    uv_timer_t pace;
    uint64_t sip_busy_since_ms; /* the SIP queue has been refusing new calls since then, or 0 */
    /* RTP ports: even ports of [rtp_port_min, rtp_port_max], one per call */
    unsigned char *port_used;
    int port_base, nports, port_next;
    /* the trunk's URI split for building request URIs */
    char trunk_scheme[8];
    char trunk_hostpart[200]; /* host[:port][;params] */
    char trunk_host[128];     /* host alone, for From/PAI */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: carillon-dialerd --config FILE\n"
               "       carillon-dialerd --example-config | --version | --help\n"
               "\n"
               "  --config FILE        INI configuration\n"
               "  --example-config     print a configuration file documenting every key\n");
}

/* --- events to the server ------------------------------------------------------------------ */

static uint32_t ms_between(long long from_us, long long to_us)
{
    return from_us && to_us > from_us ? (uint32_t)((to_us - from_us) / 1000) : 0;
}

/* One buffered event to the server: an AgentLegEvent for an agent leg, else a CallEvent. A
 * failed send leaves it in the outbox: the next link replays it. */
static void send_one(struct app *app, const struct dl_event *ev, uint64_t seq)
{
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    Carillon__V1__AgentLegEvent ae = CARILLON__V1__AGENT_LEG_EVENT__INIT;
    Carillon__V1__CallEvent ce = CARILLON__V1__CALL_EVENT__INIT;
    if (ev->attempt_id & DL_AGENT_BIT) {
        ae.agent_id = ev->attempt_id & ~DL_AGENT_BIT;
        ae.state =
            ev->state == CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED
                ? CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_UP
            : ev->answered_us && ev->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_DIALER
                ? CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_CLOSED
                : CARILLON__V1__AGENT_LEG_STATE__AGENT_LEG_STATE_LOST;
        ae.sip_status = (uint32_t)ev->sip_status;
        ae.detail = (char *)ev->detail;
        ae.sip_call_id = (char *)ev->call_id;
        ae.seq = seq;
        ae.boot_id = app->boot_id;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_AGENT_LEG_EVENT;
        env.agent_leg_event = &ae;
    } else {
        ce.attempt_id = ev->attempt_id;
        ce.state = (Carillon__V1__CallState)ev->state;
        ce.sip_call_id = (char *)ev->call_id;
        ce.sip_status = (uint32_t)ev->sip_status;
        ce.sip_reason = (char *)ev->sip_reason;
        ce.outcome = (Carillon__V1__CallOutcome)ev->outcome;
        ce.sent_at_us = ev->sent_us;
        ce.ringing_at_us = ev->ringing_us;
        ce.answered_at_us = ev->answered_us;
        ce.ended_at_us = ev->ended_us;
        ce.hung_up_by = (Carillon__V1__CallParty)ev->hung_up_by;
        ce.ring_ms = ms_between(ev->sent_us, ev->answered_us ? ev->answered_us : ev->ended_us);
        ce.talk_ms = ms_between(ev->answered_us, ev->ended_us);
        ce.detail = (char *)ev->detail;
        ce.seq = seq;
        ce.boot_id = app->boot_id;
        ce.amd_verdict = (Carillon__V1__AmdVerdict)ev->amd_verdict;
        ce.amd_reason = (char *)ev->amd_reason;
        ce.amd_ms = ev->amd_ms;
        ce.amd_greeting_end_ms = ev->amd_greeting_end_ms;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_EVENT;
        env.call_event = &ce;
    }
    int rc = cr_conn_send(app->conn, &env);
    if (rc)
        cr_log_warn("event_not_sent", "id=%llu agent_leg=%d seq=%llu error=%s",
                    (unsigned long long)(ev->attempt_id & ~DL_AGENT_BIT),
                    (ev->attempt_id & DL_AGENT_BIT) != 0, (unsigned long long)seq,
                    cr_log_q(strerror(-rc)));
}

static void send_event(struct app *app, const struct dl_event *ev)
{
    if ((ev->attempt_id & DL_AGENT_BIT) &&
        ev->state == CARILLON__V1__CALL_STATE__CALL_STATE_RINGING)
        return; /* an agent leg reports up and down only */
    int dropped = 0;
    uint64_t seq = dl_outbox_push(app->outbox, ev, &dropped);
    if (dropped)
        cr_log_warn("event_dropped", "reason=event_buffer_full dropped=%llu buffer=%lld",
                    (unsigned long long)dl_outbox_dropped(app->outbox),
                    (long long)app->cfg.event_buffer);
    if (app->conn && app->resumed)
        send_one(app, ev, seq);
    else
        cr_log_info("event_buffered", "attempt=%llu state=%d seq=%llu buffered=%zu",
                    (unsigned long long)ev->attempt_id, ev->state, (unsigned long long)seq,
                    dl_outbox_len(app->outbox));
}

/* The server has stored every event up to last_seq of this boot: send the others, in order. */
static void on_resume(struct app *app, const Carillon__V1__DialerResume *r)
{
    if (app->resumed)
        return;
    uint64_t last = r->boot_id == app->boot_id ? r->last_seq : 0;
    dl_outbox_ack(app->outbox, last);
    size_t n = dl_outbox_len(app->outbox);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        const struct dl_event *ev = dl_outbox_at(app->outbox, i, &seq);
        send_one(app, ev, seq);
    }
    app->resumed = true;
    cr_log_info("events_resumed", "server_last_seq=%llu replayed=%zu", (unsigned long long)last, n);
}

/* The ENDED event of an order that was never dialled. */
static void send_unplaced(struct app *app, uint64_t attempt_id, int outcome, const char *why)
{
    struct dl_event ev;
    memset(&ev, 0, sizeof ev);
    ev.attempt_id = attempt_id;
    ev.state = CARILLON__V1__CALL_STATE__CALL_STATE_ENDED;
    ev.outcome = outcome;
    ev.ended_us = cr_now_us();
    snprintf(ev.detail, sizeof ev.detail, "%s", why);
    send_event(app, &ev);
}

/* An order the dialer will not place: one ENDED event with outcome refused (or cancelled). */
static void end_unplaced(struct app *app, uint64_t attempt_id, int outcome, const char *why)
{
    cr_log_info("order_not_placed", "attempt=%llu outcome=%s reason=%s",
                (unsigned long long)attempt_id, dl_outcome_name((Carillon__V1__CallOutcome)outcome),
                cr_log_q(why));
    send_unplaced(app, attempt_id, outcome, why);
}

/* The law restricts starting calls: an order past its deadline (PlaceCall.not_after_unix_ms) is
 * not dialled and ends expired. Checked on arrival and when it leaves the CPS queue, where it
 * may have waited; a call already sent is never cut by its deadline. True when o expired (its
 * ENDED event is sent; the caller gives back what o holds). */
static bool order_expired(struct app *app, const struct dl_order *o, const char *where)
{
    char detail[96];
    uint64_t now_ms = (uint64_t)(cr_now_us() / 1000);
    if (!dl_deadline_passed(o->not_after_ms, now_ms, detail, sizeof detail))
        return false;
    cr_log_info("order_expired",
                "attempt=%llu campaign=%llu contact=%llu not_after_unix_ms=%llu missed_ms=%llu "
                "at=%s",
                (unsigned long long)o->attempt_id, (unsigned long long)o->campaign_id,
                (unsigned long long)o->contact_id, (unsigned long long)o->not_after_ms,
                (unsigned long long)(now_ms - o->not_after_ms), where);
    send_unplaced(app, o->attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_EXPIRED, detail);
    return true;
}

/* --- RTP ports ----------------------------------------------------------------------------- */

static int port_take(struct app *app)
{
    for (int i = 0; i < app->nports; i++) {
        int k = (app->port_next + i) % app->nports;
        if (!app->port_used[k]) {
            app->port_used[k] = 1;
            app->port_next = (k + 1) % app->nports;
            return app->port_base + 2 * k;
        }
    }
    return 0;
}

static void port_give(struct app *app, int port)
{
    int k = (port - app->port_base) / 2;
    if (port > 0 && k >= 0 && k < app->nports)
        app->port_used[k] = 0;
}

#define LEG_BIND_TRIES 8

/* Opens leg id's RTP socket on a port of the pool. A port another program holds is given back
 * and the next one tried, LEG_BIND_TRIES times. NULL with *why set when none could be had. */
static struct dl_leg *leg_take(struct app *app, uint64_t id, bool silence, int *port,
                               const char **why)
{
    *why = "no free RTP port";
    for (int i = 0; i < LEG_BIND_TRIES; i++) {
        if (!(*port = port_take(app)))
            return NULL;
        struct dl_leg *leg = dl_leg_open(app->rtp, id, *port, silence);
        if (leg)
            return leg;
        port_give(app, *port); /* logged by rtp_bind_failed; free again later, maybe */
        *why = "no RTP port of the range could be bound";
    }
    *port = 0;
    return NULL;
}

/* Closes leg id's socket (if open) and gives its port back. */
static void leg_give(struct app *app, uint64_t id, int port)
{
    struct dl_leg *leg = dl_leg_find(app->rtp, id);
    if (leg)
        dl_leg_close(leg);
    port_give(app, port);
}

/* --- SIP events ---------------------------------------------------------------------------- */

/* Customer-first: nobody was bridged in time. The message plays, then the call is hung up. */
static void on_abandon_played(struct dl_leg *leg, void *arg)
{
    struct app *app = arg;
    if (app->sip && dl_sip_abandon(app->sip, dl_leg_id(leg)) != 0)
        cr_log_warn("abandon_not_queued", "attempt=%llu", (unsigned long long)dl_leg_id(leg));
}

static void on_abandon_due(struct dl_leg *leg, void *arg)
{
    struct app *app = arg;
    cr_log_info("call_abandoning", "attempt=%llu after_ms=%u message_ms=%zu",
                (unsigned long long)dl_leg_id(leg), dl_leg_user(leg), app->abandon_n / 8);
    if (app->abandon)
        dl_leg_play(leg, app->abandon, app->abandon_n, app->abandon_law, on_abandon_played, app);
    else
        on_abandon_played(leg, app);
}

/* --- answering-machine detection ---------------------------------------------------------- */

/* A customer call placed with amd != OFF: owned by its leg (the tap's arg, freed when the leg
 * closes). The detector runs on the leg's received audio from the answer to the verdict; in
 * LEAVE_MESSAGE mode the beep detector then runs until the message starts. */
struct call_amd {
    struct app *app;
    int mode;    /* carillon.v1.AmdMode */
    int message; /* LEAVE_MESSAGE: index in app->messages */
    enum { CA_WAIT_ANSWER, CA_DETECTING, CA_DECIDED, CA_WAIT_BEEP, CA_PLAYING } phase;
    struct dl_event answered; /* the ANSWERED event: the ids and times DETECTED repeats */
    long long first_audio_us; /* first audio after the answer (0: none yet) */
    struct amd det;
    struct amd_beep beep;
    int16_t frame[AMD_FRAME]; /* beep detection's frame being filled */
    size_t nframe;
    unsigned verdict_ms, greeting_end_ms; /* from the answer, wall clock */
    bool machine_hangup;                  /* dl_sip_machine ordered: ENDED says MACHINE */
    char machine_detail[96];
};

static unsigned ms_since_answer(const struct call_amd *ca, long long now_us)
{
    return ms_between(ca->answered.answered_us, now_us);
}

static void amd_event_fields(const struct call_amd *ca, struct dl_event *ev)
{
    ev->amd_verdict = (int)ca->det.verdict;
    snprintf(ev->amd_reason, sizeof ev->amd_reason, "%s", ca->det.reason);
    ev->amd_ms = ca->verdict_ms;
    ev->amd_greeting_end_ms = ca->greeting_end_ms;
}

static void on_machine_message_played(struct dl_leg *leg, void *arg)
{
    struct call_amd *ca = arg;
    ca->machine_hangup = true;
    if (ca->app->sip && dl_sip_machine(ca->app->sip, dl_leg_id(leg)) != 0)
        cr_log_warn("machine_hangup_not_queued", "attempt=%llu",
                    (unsigned long long)dl_leg_id(leg));
}

/* LEAVE_MESSAGE: the greeting is over (how) or the wait for it is: the message plays, then the
 * call is hung up. */
static void leave_message(struct call_amd *ca, struct dl_leg *leg, const char *how)
{
    if (ca->phase != CA_WAIT_BEEP)
        return;
    ca->phase = CA_PLAYING;
    dl_leg_stop_tap(leg);
    const struct message *m = &ca->app->messages[ca->message];
    unsigned at = ms_since_answer(ca, cr_now_us());
    snprintf(ca->machine_detail, sizeof ca->machine_detail, "message %s left at %u ms, %.40s",
             m->name, at, how);
    cr_log_info("amd_message_started", "attempt=%llu message=%s at_ms=%u after=%s",
                (unsigned long long)dl_leg_id(leg), cr_log_q(m->name), at, cr_log_q(how));
    dl_leg_play(leg, m->samples, m->n, m->law, on_machine_message_played, ca);
}

static void on_beep_wait_over(struct dl_leg *leg, void *arg)
{
    struct call_amd *ca = arg;
    char how[64];
    snprintf(how, sizeof how, "no beep nor greeting end in %lld ms",
             (long long)ca->app->cfg.amd_beep_wait_ms);
    cr_log_warn("amd_beep_not_heard", "attempt=%llu waited_ms=%lld",
                (unsigned long long)dl_leg_id(leg), (long long)ca->app->cfg.amd_beep_wait_ms);
    leave_message(ca, leg, how);
}

/* The verdict: DETECTED goes out, then the mode's behaviour. */
static void amd_decided(struct call_amd *ca, struct dl_leg *leg)
{
    struct app *app = ca->app;
    long long now = cr_now_us();
    ca->phase = CA_DECIDED;
    ca->verdict_ms = ms_since_answer(ca, now);
    ca->greeting_end_ms = ca->det.greeting_end_ms && ca->first_audio_us
                              ? ms_since_answer(ca, ca->first_audio_us) + ca->det.greeting_end_ms
                              : 0;
    struct dl_event ev = ca->answered;
    ev.state = CARILLON__V1__CALL_STATE__CALL_STATE_DETECTED;
    ev.detail[0] = '\0';
    memset(&ev.media, 0, sizeof ev.media);
    amd_event_fields(ca, &ev);
    bool machine = ca->det.verdict == AMD_MACHINE;
    cr_log_info("amd_verdict",
                "attempt=%llu call_id=%s verdict=%s reason=%s ms=%u greeting_end_ms=%u "
                "audio_ms=%u words=%u mode=%d",
                (unsigned long long)dl_leg_id(leg), cr_log_q(ev.call_id),
                machine                        ? "machine"
                : ca->det.verdict == AMD_HUMAN ? "human"
                                               : "not_sure",
                cr_log_q(ca->det.reason), ca->verdict_ms, ca->greeting_end_ms, ca->det.now_ms,
                ca->det.words, ca->mode);
    send_event(app, &ev);
    if (machine && ca->mode == CARILLON__V1__AMD_MODE__AMD_MODE_HANG_UP) {
        dl_leg_stop_tap(leg);
        ca->machine_hangup = true;
        snprintf(ca->machine_detail, sizeof ca->machine_detail,
                 "machine (%s) at %u ms: hung up, no message", ca->det.reason, ca->verdict_ms);
        if (app->sip && dl_sip_machine(app->sip, dl_leg_id(leg)) != 0)
            cr_log_warn("machine_hangup_not_queued", "attempt=%llu",
                        (unsigned long long)dl_leg_id(leg));
        return;
    }
    if (machine && ca->mode == CARILLON__V1__AMD_MODE__AMD_MODE_LEAVE_MESSAGE) {
        ca->phase = CA_WAIT_BEEP;
        ca->nframe = 0;
        amd_beep_init(&ca->beep, &app->amd, (unsigned)app->cfg.amd_greeting_end_silence_ms);
        dl_leg_after(leg, (unsigned)app->cfg.amd_beep_wait_ms, on_beep_wait_over, ca);
        return;
    }
    /* a human, not sure, or REPORT whatever it is: the server bridges it; the abandon clock
     * starts now */
    dl_leg_stop_tap(leg);
    if (!dl_leg_bridged(leg) && dl_leg_user(leg) > 0)
        dl_leg_after(leg, dl_leg_user(leg), on_abandon_due, app);
}

static void on_amd_audio(struct dl_leg *leg, const int16_t *pcm, size_t n, void *arg)
{
    struct call_amd *ca = arg;
    if (!ca->first_audio_us)
        ca->first_audio_us = cr_now_us();
    if (ca->phase == CA_DETECTING) {
        if (amd_feed(&ca->det, pcm, n) != AMD_UNDECIDED)
            amd_decided(ca, leg);
        return;
    }
    while (ca->phase == CA_WAIT_BEEP && n > 0) {
        size_t take = AMD_FRAME - ca->nframe < n ? AMD_FRAME - ca->nframe : n;
        memcpy(ca->frame + ca->nframe, pcm, take * sizeof *pcm);
        ca->nframe += take;
        pcm += take;
        n -= take;
        if (ca->nframe < AMD_FRAME)
            break;
        ca->nframe = 0;
        enum amd_beep_result r = amd_beep_frame(&ca->beep, ca->frame);
        char how[64];
        if (r == AMD_BEEP_HEARD)
            snprintf(how, sizeof how, "after a beep (%u Hz)", ca->beep.tone_hz);
        else if (r == AMD_BEEP_SILENCE)
            snprintf(how, sizeof how, "after the greeting (no beep)");
        if (r != AMD_BEEP_WAIT)
            leave_message(ca, leg, how);
    }
}

/* No audio came in time for a verdict (RTP silent or lost): not sure. */
static void on_amd_no_audio(struct dl_leg *leg, void *arg)
{
    struct call_amd *ca = arg;
    if (ca->phase != CA_DETECTING)
        return;
    amd_give_up(&ca->det, ca->first_audio_us ? "max_time" : "no_audio");
    amd_decided(ca, leg);
}

static void call_amd_free(void *arg)
{
    free(arg);
}

static void on_sip_event(void *arg, const struct dl_event *ev_in)
{
    struct app *app = arg;
    struct dl_event evc = *ev_in; /* AMD may add its verdict and rewrite an ENDED */
    const struct dl_event *ev = &evc;
    bool agent = (ev->attempt_id & DL_AGENT_BIT) != 0;
    struct dl_leg *leg = app->rtp ? dl_leg_find(app->rtp, ev->attempt_id) : NULL;
    struct call_amd *ca = leg && !agent ? dl_leg_tap_arg(leg) : NULL;
    if (leg && ev->media.port > 0)
        dl_leg_remote(leg, &ev->media);
    if (ca && ev->state == CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED &&
        ca->phase == CA_WAIT_ANSWER) {
        /* no abandon clock yet: it starts at the verdict */
        ca->phase = CA_DETECTING;
        ca->answered = *ev;
        dl_leg_set_tap(leg, on_amd_audio, ca, call_amd_free);
        dl_leg_after(leg, app->amd.total_ms + 1000, on_amd_no_audio, ca);
    } else if (leg && !agent && ev->state == CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED &&
               !dl_leg_bridged(leg) && dl_leg_user(leg) > 0) {
        dl_leg_after(leg, dl_leg_user(leg), on_abandon_due, app);
    }
    if (ca && ev->state == CARILLON__V1__CALL_STATE__CALL_STATE_ENDED) {
        if (ca->phase == CA_DETECTING) { /* ended before the verdict */
            snprintf(evc.amd_reason, sizeof evc.amd_reason, "call_ended");
            evc.amd_ms = ms_since_answer(ca, ev->ended_us);
        } else if (ca->phase != CA_WAIT_ANSWER) {
            amd_event_fields(ca, &evc);
        }
        if (ca->machine_hangup &&
            ev->outcome == CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_ABANDONED) {
            evc.outcome = CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_MACHINE;
            snprintf(evc.detail, sizeof evc.detail, "%s", ca->machine_detail);
        } else if (ca->phase == CA_WAIT_BEEP || ca->phase == CA_PLAYING) {
            cr_log_info("amd_message_interrupted", "attempt=%llu phase=%s",
                        (unsigned long long)ev->attempt_id,
                        ca->phase == CA_PLAYING ? "playing" : "waiting_beep");
        }
    }
    if (ev->state == CARILLON__V1__CALL_STATE__CALL_STATE_ENDED) {
        if (leg) {
            struct dl_leg_stats st = dl_leg_stats(leg);
            cr_log_info("rtp_leg_closed",
                        "id=%llu rx=%llu tx=%llu tx_silence=%llu rx_dtmf=%llu dropped=%llu",
                        (unsigned long long)(ev->attempt_id & ~DL_AGENT_BIT),
                        (unsigned long long)st.rx, (unsigned long long)st.tx,
                        (unsigned long long)st.tx_silence, (unsigned long long)st.rx_dtmf,
                        (unsigned long long)st.dropped);
            dl_leg_close(leg); /* unbridges: an agent leg stays up when its customer goes */
        }
        if (agent && app->agent_legs > 0)
            app->agent_legs--;
        else if (!agent && app->active > 0)
            app->active--;
        port_give(app, ev->rtp_port);
    }
    send_event(app, ev);
}

static void on_client_stopped(void *arg)
{
    struct app *app = arg;
    cr_log_info("server_link_closed", "node=%s", cr_log_q(app->cfg.node_name));
}

static void on_sip_stopped(void *arg)
{
    struct app *app = arg;
    app->sip = NULL;
    cr_log_info("sip_thread_ended", "active=%zu", app->active);
    app->conn = NULL;
    if (app->client) {
        cr_client_stop(app->client, on_client_stopped, app);
        app->client = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&app->pace))
        uv_close((uv_handle_t *)&app->pace, NULL);
    dl_rtp_close(app->rtp);
    app->rtp = NULL;
    cr_daemon_shutdown();
}

/* --- admission ----------------------------------------------------------------------------- */

static size_t max_calls(const struct app *app)
{
    size_t m = (size_t)app->cfg.max_calls;
    return m < app->max_calls_cap ? m : app->max_calls_cap;
}

static void tokens_refill(struct app *app)
{
    uint64_t now = uv_now(app->loop);
    double rate = (double)app->cfg.max_cps;
    /* a tenth of a second's worth at most: bursts stay small, under the SIP stack's knee */
    double cap = rate / 10 < 1 ? 1 : rate / 10;
    app->tokens += (double)(now - app->tokens_at_ms) * rate / 1000.0;
    if (app->tokens > cap)
        app->tokens = cap;
    app->tokens_at_ms = now;
}

/* Hands o (its RTP leg open) to the SIP thread. -EAGAIN: its queue is busy, o is still ours and
 * waits. */
static int dial(struct app *app, const struct dl_order *o)
{
    int rc = dl_sip_call(app->sip, o);
    if (rc == -EAGAIN)
        return rc;
    if (rc) {
        app->active--;
        leg_give(app, o->attempt_id, o->rtp_port);
        end_unplaced(app, o->attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED,
                     rc == -ENOBUFS ? "SIP queue full" : "dialer stopping");
    }
    return 0;
}

/* The SIP thread fell behind (a burst, a stall): orders wait in the CPS queue, in order, rather
 * than being refused; the queue's bound (PENDING_MAX) is what refuses in a real overload. */
static void sip_busy(struct app *app)
{
    if (!app->sip_busy_since_ms)
        app->sip_busy_since_ms = uv_now(app->loop);
}

static void sip_caught_up(struct app *app)
{
    if (!app->sip_busy_since_ms)
        return;
    cr_log_info("sip_queue_caught_up", "delayed_ms=%llu orders_waiting=%zu",
                (unsigned long long)(uv_now(app->loop) - app->sip_busy_since_ms), app->pending_len);
    app->sip_busy_since_ms = 0;
}

static void on_pace(uv_timer_t *t)
{
    struct app *app = t->data;
    tokens_refill(app);
    while (app->pending_len > 0 && app->tokens >= 1.0) {
        struct dl_order *o = &app->pending[app->pending_head];
        if (order_expired(app, o, "queue")) { /* not dialled: its token stays for the next */
            app->pending_head = (app->pending_head + 1) % PENDING_MAX;
            app->pending_len--;
            app->active--;
            leg_give(app, o->attempt_id, o->rtp_port);
            continue;
        }
        if (dial(app, o) == -EAGAIN) {
            sip_busy(app);
            break;
        }
        sip_caught_up(app);
        app->pending_head = (app->pending_head + 1) % PENDING_MAX;
        app->pending_len--;
        app->tokens -= 1.0;
    }
    if (app->pending_len == 0)
        uv_timer_stop(&app->pace);
}

static void pace_start(struct app *app)
{
    if (uv_is_active((uv_handle_t *)&app->pace))
        return;
    uint64_t every = (uint64_t)(1000 / app->cfg.max_cps);
    uv_timer_start(&app->pace, on_pace, every ? every : 1, every ? every : 1);
}

/* Cancels an order still waiting for a token; true when it was there. */
static bool pending_cancel(struct app *app, uint64_t attempt_id)
{
    for (size_t i = 0; i < app->pending_len; i++) {
        size_t k = (app->pending_head + i) % PENDING_MAX;
        if (app->pending[k].attempt_id != attempt_id)
            continue;
        int port = app->pending[k].rtp_port;
        for (size_t j = i; j + 1 < app->pending_len; j++)
            app->pending[(app->pending_head + j) % PENDING_MAX] =
                app->pending[(app->pending_head + j + 1) % PENDING_MAX];
        app->pending_len--;
        app->active--;
        leg_give(app, attempt_id, port);
        end_unplaced(app, attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_CANCELLED,
                     "cancelled by order before dialling");
        return true;
    }
    return false;
}

static void refuse_pending(struct app *app, const char *why)
{
    while (app->pending_len > 0) {
        struct dl_order *o = &app->pending[app->pending_head];
        app->pending_head = (app->pending_head + 1) % PENDING_MAX;
        app->pending_len--;
        app->active--;
        leg_give(app, o->attempt_id, o->rtp_port);
        end_unplaced(app, o->attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED, why);
    }
}

static bool id_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max &&
           s[strspn(s, "+0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-")] ==
               '\0';
}

static bool number_ok(const char *s)
{
    const char *d = s[0] == '+' ? s + 1 : s;
    size_t n = strlen(d);
    return n >= 1 && n <= 32 && d[strspn(d, "0123456789")] == '\0';
}

static bool uri_ok(const char *s)
{
    return (strncmp(s, "sip:", 4) == 0 || strncmp(s, "sips:", 5) == 0) &&
           strlen(s) < DL_URI_MAX - 20 && !strpbrk(s, " \t\r\n<>\"");
}

/* Fills o from a PlaceCall; returns NULL or the reason it cannot be dialled. */
static const char *order_build(struct app *app, const Carillon__V1__PlaceCall *co,
                               struct dl_order *o)
{
    memset(o, 0, sizeof *o);
    o->attempt_id = co->attempt_id;
    o->campaign_id = co->campaign_id;
    o->contact_id = co->contact_id;
    o->not_after_ms = co->not_after_unix_ms;
    if (co->attempt_id == 0)
        return "attempt_id is 0";
    /* udp needs no parameter; tcp and tls are asked for unless the URI says otherwise (a sips:
     * trunk URI already means TLS) */
    const char *tp = app->cfg.transport == DL_TRANSPORT_TCP   ? ";transport=tcp"
                     : app->cfg.transport == DL_TRANSPORT_TLS ? ";transport=tls"
                                                              : "";
    if (co->uri && co->uri[0]) {
        if (!uri_ok(co->uri))
            return "uri is not a sip: or sips: URI";
        if (snprintf(o->to_uri, sizeof o->to_uri, "%s%s", co->uri,
                     strstr(co->uri, "transport=") || !strncmp(co->uri, "sips:", 5) ? "" : tp) >=
            (int)sizeof o->to_uri)
            return "uri too long";
    } else if (co->number && co->number[0]) {
        if (!number_ok(co->number))
            return "number is not 1 to 32 digits with an optional leading +";
        if (snprintf(o->to_uri, sizeof o->to_uri, "%s:%s@%s%s", app->trunk_scheme, co->number,
                     app->trunk_hostpart,
                     strstr(app->trunk_hostpart, "transport=") || !strcmp(app->trunk_scheme, "sips")
                         ? ""
                         : tp) >= (int)sizeof o->to_uri)
            return "number too long for the trunk URI";
    } else {
        return "neither number nor uri";
    }
    const char *caller = co->caller_id && co->caller_id[0] ? co->caller_id
                         : app->cfg.caller_id[0]           ? app->cfg.caller_id
                         : app->cfg.username[0]            ? app->cfg.username
                                                           : "anonymous";
    if (!id_ok(caller, 32))
        return "caller_id is not at most 32 of + digits letters . _ -";
    char name[72] = "";
    size_t n = 0;
    for (const char *p = co->caller_name ? co->caller_name : ""; *p && n < 64; p++)
        if ((unsigned char)*p >= 0x20 && *p != '"' && *p != '\\' && *p != 0x7f)
            name[n++] = *p;
    name[n] = '\0';
    int n1 = 0, n2 = 0;
    if (co->privacy) {
        /* RFC 3323/3325: an anonymous From, the real identity in P-Asserted-Identity only */
        snprintf(o->from, sizeof o->from, "\"Anonymous\" <sip:anonymous@anonymous.invalid>");
        o->privacy = true;
    } else if (name[0]) {
        n1 = snprintf(o->from, sizeof o->from, "\"%s\" <sip:%s@%s>", name, caller, app->trunk_host);
    } else {
        n1 = snprintf(o->from, sizeof o->from, "<sip:%s@%s>", caller, app->trunk_host);
    }
    if (strcmp(caller, "anonymous") != 0)
        n2 = snprintf(o->pai, sizeof o->pai, "<sip:%s@%s>", caller, app->trunk_host);
    if (n1 >= (int)sizeof o->from || n2 >= (int)sizeof o->pai)
        return "caller identity too long";
    o->abandon_after_ms =
        co->abandon_after_ms ? co->abandon_after_ms : (unsigned)app->cfg.abandon_after_ms;
    uint64_t ring = co->ring_timeout_ms ? co->ring_timeout_ms : (uint64_t)app->cfg.ring_timeout_ms;
    o->ring_timeout_ms = (unsigned)(ring > 300000 ? 300000 : ring < 100 ? 100 : ring);
    o->amd_mode = co->amd;
    o->amd_message = -1;
    if (co->amd < CARILLON__V1__AMD_MODE__AMD_MODE_OFF ||
        co->amd > CARILLON__V1__AMD_MODE__AMD_MODE_LEAVE_MESSAGE)
        return "amd is not a known AmdMode";
    if (co->amd == CARILLON__V1__AMD_MODE__AMD_MODE_LEAVE_MESSAGE) {
        const char *mname = co->amd_message ? co->amd_message : "";
        for (size_t i = 0; i < app->nmessages; i++)
            if (!strcmp(app->messages[i].name, mname))
                o->amd_message = (int)i;
        if (o->amd_message < 0) {
            static __thread char why[96];
            char shown[40];
            size_t k = 0;
            for (const char *p = mname; *p && k < 32; p++) /* the name as sent, printable */
                shown[k++] = (unsigned char)*p >= 0x20 && *p != 0x7f && *p != '"' ? *p : '?';
            shown[k] = '\0';
            snprintf(why, sizeof why,
                     mname[0] ? "amd_message \"%s%s\" is not one of this dialer's [messages]"
                              : "amd leave_message without an amd_message%s%s",
                     shown, strlen(mname) > 32 ? "..." : "");
            return why;
        }
    }
    return NULL;
}

static void on_order(struct app *app, const Carillon__V1__PlaceCall *co)
{
    struct dl_order o;
    cr_log_info("order_received", "attempt=%llu campaign=%llu contact=%llu not_after_unix_ms=%llu",
                (unsigned long long)co->attempt_id, (unsigned long long)co->campaign_id,
                (unsigned long long)co->contact_id, (unsigned long long)co->not_after_unix_ms);
    const char *bad = order_build(app, co, &o);
    if (bad) {
        end_unplaced(app, co->attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED, bad);
        return;
    }
    if (order_expired(app, &o, "arrival"))
        return;
    if (app->stopping || !app->sip) {
        end_unplaced(app, o.attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED,
                     "dialer stopping");
        return;
    }
    if (app->active >= max_calls(app)) {
        end_unplaced(app, o.attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED,
                     "max_calls reached");
        return;
    }
    if (app->pending_len == PENDING_MAX) {
        end_unplaced(app, o.attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED,
                     "too many orders waiting for the calls-per-second limit");
        return;
    }
    const char *why;
    struct dl_leg *leg = leg_take(app, o.attempt_id, false, &o.rtp_port, &why);
    if (!leg) {
        end_unplaced(app, o.attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED, why);
        return;
    }
    dl_leg_set_user(leg, o.abandon_after_ms);
    if (o.amd_mode != CARILLON__V1__AMD_MODE__AMD_MODE_OFF) {
        struct call_amd *ca = calloc(1, sizeof *ca);
        if (!ca) {
            leg_give(app, o.attempt_id, o.rtp_port);
            end_unplaced(app, o.attempt_id, CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED,
                         "out of memory for answering-machine detection");
            return;
        }
        ca->app = app;
        ca->mode = o.amd_mode;
        ca->message = o.amd_message;
        amd_init(&ca->det, &app->amd);
        dl_leg_set_tap(leg, NULL, ca, call_amd_free); /* the tap starts at the answer */
    }
    app->active++;
    tokens_refill(app);
    if (app->pending_len == 0 && app->tokens >= 1.0) {
        if (dial(app, &o) == 0) {
            app->tokens -= 1.0;
            return;
        }
        sip_busy(app); /* waits in the queue below */
    }
    app->pending[(app->pending_head + app->pending_len) % PENDING_MAX] = o;
    app->pending_len++;
    pace_start(app);
}

/* --- agent legs and bridges ---------------------------------------------------------------- */

/* An agent leg that cannot be opened: one LOST event says why. */
static void agent_refused(struct app *app, uint64_t agent_id, const char *why)
{
    struct dl_event ev;
    memset(&ev, 0, sizeof ev);
    ev.attempt_id = agent_id | DL_AGENT_BIT;
    ev.state = CARILLON__V1__CALL_STATE__CALL_STATE_ENDED;
    ev.ended_us = cr_now_us();
    snprintf(ev.detail, sizeof ev.detail, "%s", why);
    cr_log_warn("agent_leg_refused", "agent=%llu reason=%s", (unsigned long long)agent_id,
                cr_log_q(why));
    send_event(app, &ev);
}

static void on_open_agent(struct app *app, const Carillon__V1__OpenAgentLeg *a)
{
    uint64_t id = a->agent_id | DL_AGENT_BIT;
    if (a->agent_id == 0 || (a->agent_id & DL_AGENT_BIT))
        return agent_refused(app, a->agent_id, "agent_id is 0 or too large");
    if (!a->uri || !uri_ok(a->uri))
        return agent_refused(app, a->agent_id, "uri is not a sip: or sips: URI");
    if (app->stopping || !app->sip)
        return agent_refused(app, a->agent_id, "dialer stopping");
    if (dl_leg_find(app->rtp, id))
        return agent_refused(app, a->agent_id, "this agent already has a leg");
    if (app->agent_legs >= max_calls(app))
        return agent_refused(app, a->agent_id, "max_calls agent legs are open");
    struct dl_order o;
    memset(&o, 0, sizeof o);
    o.attempt_id = id;
    o.agent_leg = true;
    o.ring_timeout_ms = 30000;
    if (snprintf(o.to_uri, sizeof o.to_uri, "%s", a->uri) >= (int)sizeof o.to_uri)
        return agent_refused(app, a->agent_id, "uri too long");
    if (a->caller_id && a->caller_id[0]) {
        /* the campaign's number for agents, shown by the softphone as for a customer's call */
        if (!id_ok(a->caller_id, 32))
            return agent_refused(app, a->agent_id,
                                 "caller_id is not at most 32 of + digits letters . _ -");
        snprintf(o.from, sizeof o.from, "<sip:%s@%s>", a->caller_id, app->cfg.sip_address);
        snprintf(o.pai, sizeof o.pai, "<sip:%s@%s>", a->caller_id, app->cfg.sip_address);
    } else {
        snprintf(o.from, sizeof o.from, "\"Carillon\" <sip:carillon@%s>", app->cfg.sip_address);
    }
    const char *why;
    if (!leg_take(app, id, true, &o.rtp_port, &why))
        return agent_refused(app, a->agent_id, why);
    int rc = dl_sip_call(app->sip, &o);
    if (rc) {
        leg_give(app, id, o.rtp_port);
        return agent_refused(app, a->agent_id,
                             rc == -ESHUTDOWN ? "dialer stopping" : "SIP queue full");
    }
    app->agent_legs++;
    cr_log_info("agent_leg_opening", "agent=%llu uri=%s rtp_port=%d from=%s",
                (unsigned long long)a->agent_id, cr_log_q(a->uri), o.rtp_port, cr_log_q(o.from));
}

/* The answer to an order that took effect at once (Bridge, Unbridge), so the server knows when. */
static void send_ok(struct cr_conn *c, uint64_t rid)
{
    if (cr_conn_send_ok(c, rid) != 0)
        cr_log_warn("reply_not_sent", "request_id=%llu", (unsigned long long)rid);
}

static void on_bridge(struct app *app, struct cr_conn *c, uint64_t rid,
                      const Carillon__V1__Bridge *b)
{
    struct dl_leg *cust = dl_leg_find(app->rtp, b->attempt_id);
    struct dl_leg *agent = dl_leg_find(app->rtp, b->agent_id | DL_AGENT_BIT);
    if (!cust || !agent || (b->attempt_id & DL_AGENT_BIT)) {
        cr_conn_send_error(c, rid, CARILLON__V1__CODE__CODE_NOT_FOUND, NULL,
                           "bridge %llu to agent %llu: %s", (unsigned long long)b->attempt_id,
                           (unsigned long long)b->agent_id,
                           !cust ? "no such call" : "no leg for this agent");
        return;
    }
    (void)dl_leg_bridge(cust, agent);
    cr_log_info("bridged", "attempt=%llu agent=%llu", (unsigned long long)b->attempt_id,
                (unsigned long long)b->agent_id);
    send_ok(c, rid);
}

/* Unbridge: Ok once the call's audio no longer goes to an agent (also when it did not), an
 * Error NOT_FOUND for a call dialerd does not have. */
static void on_unbridge(struct app *app, struct cr_conn *c, uint64_t rid, uint64_t attempt_id)
{
    struct dl_leg *l = (attempt_id & DL_AGENT_BIT) ? NULL : dl_leg_find(app->rtp, attempt_id);
    if (!l) {
        cr_conn_send_error(c, rid, CARILLON__V1__CODE__CODE_NOT_FOUND, NULL,
                           "unbridge %llu: no such call", (unsigned long long)attempt_id);
        return;
    }
    if (dl_leg_bridged(l)) {
        struct dl_leg_stats st = dl_leg_stats(l);
        dl_leg_unbridge(l);
        cr_log_info("unbridged", "attempt=%llu rx=%llu tx=%llu", (unsigned long long)attempt_id,
                    (unsigned long long)st.rx, (unsigned long long)st.tx);
    }
    send_ok(c, rid);
}

/* --- server link --------------------------------------------------------------------------- */

static void on_link_open(struct cr_conn *c)
{
    struct app *app = cr_conn_data(c);
    Carillon__V1__Hello h = CARILLON__V1__HELLO__INIT;
    h.role = CARILLON__V1__ROLE__ROLE_DIALER;
    h.protocol_version = CR_PROTOCOL_VERSION;
    h.node_name = app->cfg.node_name;
    h.software = "carillon-dialerd " CARILLON_VERSION;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = 1;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (cr_conn_send(c, &env) != 0)
        cr_conn_close(c);
}

static void send_capacity(struct app *app)
{
    Carillon__V1__DialerCapacity cap = CARILLON__V1__DIALER_CAPACITY__INIT;
    cap.max_calls = (uint32_t)max_calls(app);
    cap.max_calls_per_second = (uint32_t)app->cfg.max_cps;
    cap.active_calls = (uint32_t)app->active;
    cap.boot_id = app->boot_id;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_DIALER_CAPACITY;
    env.dialer_capacity = &cap;
    if (app->conn && cr_conn_send(app->conn, &env) != 0)
        cr_log_warn("capacity_not_sent", "node=%s", cr_log_q(app->cfg.node_name));
}

static void on_link_message(struct cr_conn *c, Carillon__V1__Envelope *env)
{
    struct app *app = cr_conn_data(c);
    switch (env->body_case) {
    case CARILLON__V1__ENVELOPE__BODY_WELCOME:
        app->conn = c;
        app->resumed = false; /* events wait for the server's DialerResume */
        cr_log_info("server_connected", "peer=%s server=%s version=%u", cr_conn_peer(c),
                    cr_log_q(env->welcome->node_name), env->welcome->protocol_version);
        send_capacity(app);
        break;
    case CARILLON__V1__ENVELOPE__BODY_PLACE_CALL:
        if (app->conn == c)
            on_order(app, env->place_call);
        else
            cr_conn_send_error(c, env->request_id, CARILLON__V1__CODE__CODE_FAILED_PRECONDITION,
                               NULL, "orders come after Hello/Welcome");
        break;
    case CARILLON__V1__ENVELOPE__BODY_CALL_CANCEL:
    case CARILLON__V1__ENVELOPE__BODY_CALL_HANGUP: {
        bool cancel = env->body_case == CARILLON__V1__ENVELOPE__BODY_CALL_CANCEL;
        uint64_t id = cancel ? env->call_cancel->attempt_id : env->call_hangup->attempt_id;
        if (pending_cancel(app, id) || !app->sip)
            break;
        int rc = cancel ? dl_sip_cancel(app->sip, id) : dl_sip_hangup(app->sip, id);
        if (rc)
            cr_log_warn("call_stop_not_queued", "attempt=%llu error=%s", (unsigned long long)id,
                        cr_log_q(strerror(-rc)));
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_PING: {
        Carillon__V1__Pong pong = CARILLON__V1__PONG__INIT;
        pong.sent_at_us = env->ping->sent_at_us;
        pong.server_time_us = cr_now_us();
        pong.server_version = CARILLON_VERSION;
        Carillon__V1__Envelope r = CARILLON__V1__ENVELOPE__INIT;
        r.request_id = env->request_id;
        r.body_case = CARILLON__V1__ENVELOPE__BODY_PONG;
        r.pong = &pong;
        (void)!cr_conn_send(c, &r);
        break;
    }
    case CARILLON__V1__ENVELOPE__BODY_OPEN_AGENT_LEG:
        if (app->conn == c)
            on_open_agent(app, env->open_agent_leg);
        break;
    case CARILLON__V1__ENVELOPE__BODY_CLOSE_AGENT_LEG:
        if (app->conn == c && app->sip &&
            dl_sip_hangup(app->sip, env->close_agent_leg->agent_id | DL_AGENT_BIT) != 0)
            cr_log_warn("agent_close_not_queued", "agent=%llu",
                        (unsigned long long)env->close_agent_leg->agent_id);
        break;
    case CARILLON__V1__ENVELOPE__BODY_BRIDGE:
        if (app->conn == c)
            on_bridge(app, c, env->request_id, env->bridge);
        break;
    case CARILLON__V1__ENVELOPE__BODY_UNBRIDGE:
        if (app->conn == c)
            on_unbridge(app, c, env->request_id, env->unbridge->attempt_id);
        break;
    case CARILLON__V1__ENVELOPE__BODY_DIALER_RESUME:
        if (app->conn == c)
            on_resume(app, env->dialer_resume);
        break;
    case CARILLON__V1__ENVELOPE__BODY_EVENT_ACK:
        if (app->conn == c && env->event_ack->boot_id == app->boot_id)
            dl_outbox_ack(app->outbox, env->event_ack->up_to_seq);
        break;
    case CARILLON__V1__ENVELOPE__BODY_PONG:
    case CARILLON__V1__ENVELOPE__BODY_OK:
        break;
    case CARILLON__V1__ENVELOPE__BODY_ERROR:
        cr_log_warn("server_error", "code=%d field=%s message=%s", env->error->code,
                    cr_log_q(env->error->field ? env->error->field : ""),
                    cr_log_q(env->error->message ? env->error->message : ""));
        break;
    default:
        cr_conn_send_error(c, env->request_id, CARILLON__V1__CODE__CODE_UNIMPLEMENTED, NULL,
                           "carillon-dialerd does not handle message %d", (int)env->body_case);
        break;
    }
    carillon__v1__envelope__free_unpacked(env, NULL);
}

static void on_link_close(struct cr_conn *c, int err)
{
    struct app *app = cr_conn_data(c);
    if (app->conn == c) {
        app->conn = NULL;
        app->resumed = false;
        cr_log_warn("server_link_down", "error=%s live_calls=%zu unacknowledged_events=%zu",
                    cr_log_q(err ? strerror(-err) : "closed"), app->active,
                    dl_outbox_len(app->outbox));
    } else if (err) {
        cr_log_warn("server_connect_failed", "error=%s", cr_log_q(strerror(-err)));
    }
}

/* --- daemon -------------------------------------------------------------------------------- */

static void on_stop(void *arg, bool fast)
{
    struct app *app = arg;
    cr_log_info("stopping", "mode=%s active=%zu", fast ? "fast" : "graceful", app->active);
    app->stopping = true;
    refuse_pending(app, "dialer stopping");
    if (app->sip)
        dl_sip_stop(app->sip, fast);
}

static void apply_log_config(const struct dialer_config *cfg)
{
    cr_log_set_level((enum cr_log_level)cfg->log_level);
    cr_log_set_json(cfg->log_json);
}

static void on_reload(void *arg)
{
    struct app *app = arg;
    char err[1024], warn[1024];
    if (cr_cfg_reload(dialer_config_keys, dialer_config_nkeys, app->config_path, &app->cfg, err,
                      sizeof err, warn, sizeof warn) != 0) {
        cr_log_error("reload_failed", "error=%s kept=previous", cr_log_q(err));
        return;
    }
    apply_log_config(&app->cfg);
    if ((size_t)app->cfg.max_calls > app->max_calls_cap)
        cr_log_warn("reload_max_calls_capped", "max_calls=%lld cap=%zu (restart to raise it)",
                    (long long)app->cfg.max_calls, app->max_calls_cap);
    if (warn[0])
        cr_log_warn("reloaded", "restart_needed_for=%s", cr_log_q(warn));
    else
        cr_log_info("reloaded", "config=%s", cr_log_q(app->config_path));
    send_capacity(app);
}

/* Splits the trunk URI into scheme, host[:port][;params] and host. */
static int trunk_split(struct app *app)
{
    const char *u = app->cfg.trunk_uri;
    const char *colon = strchr(u, ':');
    if (!colon || (size_t)(colon - u) >= sizeof app->trunk_scheme)
        return -EINVAL;
    snprintf(app->trunk_scheme, sizeof app->trunk_scheme, "%.*s", (int)(colon - u), u);
    const char *rest = colon + 1;
    const char *at = strchr(rest, '@');
    if (at)
        rest = at + 1;
    if (!rest[0] || strlen(rest) >= sizeof app->trunk_hostpart)
        return -EINVAL;
    snprintf(app->trunk_hostpart, sizeof app->trunk_hostpart, "%s", rest);
    size_t hl = rest[0] == '[' ? strcspn(rest, "]") + 1 : strcspn(rest, ":;?");
    if (hl >= sizeof app->trunk_host)
        return -EINVAL;
    snprintf(app->trunk_host, sizeof app->trunk_host, "%.*s", (int)hl, rest);
    return 0;
}

/* [messages] (cr_cfg's "NAME=path\n" lines): each WAV read once, as abandon_message. */
static int messages_load(struct app *app, char *err, size_t errlen)
{
    for (const char *line = app->cfg.messages; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *eq = strchr(line, '=');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (!eq || eq > line + len) {
            snprintf(err, errlen, "[messages]: expected NAME = file.wav");
            return -EINVAL;
        }
        char name[MESSAGE_NAME_MAX + 2], path[1024];
        size_t nlen = (size_t)(eq - line);
        snprintf(name, sizeof name, "%.*s",
                 (int)(nlen > MESSAGE_NAME_MAX ? MESSAGE_NAME_MAX + 1 : nlen), line);
        if (nlen > MESSAGE_NAME_MAX || !id_ok(name, MESSAGE_NAME_MAX) || strchr(name, '+')) {
            snprintf(err, errlen, "[messages] %.40s: a name is 1 to %d letters, digits, . _ -",
                     name, MESSAGE_NAME_MAX);
            return -EINVAL;
        }
        if (app->nmessages == MESSAGES_MAX) {
            snprintf(err, errlen, "[messages] %s: more than %d messages", name, MESSAGES_MAX);
            return -EINVAL;
        }
        for (size_t i = 0; i < app->nmessages; i++)
            if (!strcmp(app->messages[i].name, name)) {
                snprintf(err, errlen, "[messages] %s: set twice", name);
                return -EINVAL;
            }
        snprintf(path, sizeof path, "%.*s", (int)(len - nlen - 1), eq + 1);
        struct message *m = &app->messages[app->nmessages];
        char why[600];
        if (!path[0] || dl_wav_load(path, &m->samples, &m->n, &m->law, why, sizeof why) != 0) {
            snprintf(err, errlen, "[messages] %s: %.*s", name, (int)sizeof why,
                     path[0] ? why : "no file given");
            return -EINVAL;
        }
        memcpy(m->name, name, nlen + 1); /* nlen <= MESSAGE_NAME_MAX: checked above */
        app->nmessages++;
        cr_log_info("message_loaded", "name=%s file=%s ms=%zu", cr_log_q(name), cr_log_q(path),
                    m->n / 8);
        line = nl ? nl + 1 : line + len;
    }
    return 0;
}

static int setup(struct app *app, char *err, size_t errlen)
{
    if (trunk_split(app)) {
        snprintf(err, errlen, "[trunk] uri: cannot read host from '%s'", app->cfg.trunk_uri);
        return -EINVAL;
    }
    app->amd = (struct amd_params){
        .initial_silence_ms = (unsigned)app->cfg.amd_initial_silence_ms,
        .greeting_ms = (unsigned)app->cfg.amd_greeting_ms,
        .after_greeting_silence_ms = (unsigned)app->cfg.amd_after_greeting_silence_ms,
        .total_ms = (unsigned)app->cfg.amd_total_ms,
        .min_word_ms = (unsigned)app->cfg.amd_min_word_ms,
        .between_words_silence_ms = (unsigned)app->cfg.amd_between_words_silence_ms,
        .max_words = (unsigned)app->cfg.amd_max_words,
        .silence_threshold = (unsigned)app->cfg.amd_silence_threshold,
        .floor_ratio_pct = (unsigned)app->cfg.amd_noise_floor_ratio,
    };
    if (amd_params_check(&app->amd, err, errlen) != 0)
        return -EINVAL;
    if (app->cfg.session_timer_ms != 0 && app->cfg.session_timer_ms < 90000) {
        snprintf(err, errlen,
                 "[dialer] session_timer: 0 (off) or at least 90s (RFC 4028's "
                 "minimum), got %lld ms",
                 (long long)app->cfg.session_timer_ms);
        return -EINVAL;
    }
    app->port_base = (int)(app->cfg.rtp_port_min + (app->cfg.rtp_port_min & 1));
    app->nports = (int)((app->cfg.rtp_port_max - app->port_base) / 2 + 1);
    if (app->cfg.rtp_port_max < app->port_base + 1 || app->nports < 1) {
        snprintf(err, errlen, "[dialer] rtp_port_min..rtp_port_max holds no even port");
        return -EINVAL;
    }
    if ((int64_t)app->nports < app->cfg.max_calls)
        cr_log_warn("rtp_ports_short", "ports=%d max_calls=%lld", app->nports,
                    (long long)app->cfg.max_calls);
    /* Each admitted order (queued ones too) and each agent leg, up to max_calls of each, holds a
     * UDP socket: the soft file limit is raised to the hard one. */
    struct rlimit rl = {.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY}; /* unknown */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    rlim_t need = 2 * (rlim_t)app->cfg.max_calls + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        cr_log_warn("file_limit_short",
                    "nofile=%llu needed=%llu (calls and agent legs: max_calls each)",
                    (unsigned long long)rl.rlim_cur, (unsigned long long)need);
    app->port_used = calloc((size_t)app->nports, 1);
    app->pending = calloc(PENDING_MAX, sizeof *app->pending);
    if (!app->port_used || !app->pending ||
        dl_outbox_new((size_t)app->cfg.event_buffer, &app->outbox) != 0)
        return -ENOMEM;
    if (app->cfg.abandon_message[0] &&
        dl_wav_load(app->cfg.abandon_message, &app->abandon, &app->abandon_n, &app->abandon_law,
                    err, errlen) != 0)
        return -EINVAL;
    if (messages_load(app, err, errlen) != 0)
        return -EINVAL;
    if (app->cfg.idle_sound[0] && dl_wav_load(app->cfg.idle_sound, &app->idle, &app->idle_n,
                                              &app->idle_law, err, errlen) != 0)
        return -EINVAL;
    if (dl_rtp_new(app->loop,
                   app->cfg.media_address[0] ? app->cfg.media_address : app->cfg.sip_address,
                   &app->rtp) != 0)
        return -ENOMEM;
    if (app->idle)
        dl_rtp_set_idle(app->rtp, app->idle, app->idle_n, app->idle_law);
    if (RAND_bytes((unsigned char *)&app->boot_id, sizeof app->boot_id) != 1 || !app->boot_id) {
        snprintf(err, errlen, "no random bytes for the boot id");
        return -EIO;
    }
    app->max_calls_cap = (size_t)app->cfg.max_calls;

    char bind_url[128];
    bool tls = app->cfg.transport == DL_TRANSPORT_TLS;
    if (tls && !app->cfg.tls_dir[0]) {
        snprintf(err, errlen, "[dialer] tls_dir: needed with transport = tls");
        return -EINVAL;
    }
    for (int i = 0; tls && i < 2; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", app->cfg.tls_dir, i ? "cafile.pem" : "agent.pem");
        if (access(path, R_OK) != 0) {
            snprintf(err, errlen, "[dialer] tls_dir: cannot read %s (%s)", path, strerror(errno));
            return -EINVAL;
        }
    }
    /* TLS: nua listens on sips: only (its TLS transport), and calls go out over it. */
    snprintf(bind_url, sizeof bind_url, "%s:%s:%lld", tls ? "sips" : "sip", app->cfg.sip_address,
             (long long)app->cfg.sip_port);
    struct dl_sip_opts so = {
        .bind_url = bind_url,
        .tls_dir = tls ? app->cfg.tls_dir : NULL,
        .tls_verify = app->cfg.tls_verify,
        .media_address = app->cfg.media_address[0] ? app->cfg.media_address : app->cfg.sip_address,
        .outbound_proxy = app->cfg.outbound_proxy,
        .username = app->cfg.username,
        .password = app->cfg.password,
        .session_timer_s = (unsigned)(app->cfg.session_timer_ms / 1000),
        .shutdown_timeout_ms = (unsigned)app->cfg.shutdown_timeout_ms,
        .max_calls = 2 * app->max_calls_cap, /* customer calls and as many agent legs */
        .t1x64_ms = (unsigned)app->cfg.transaction_timeout_ms,
    };
    int rc =
        dl_sip_start(app->loop, &so, on_sip_event, on_sip_stopped, app, &app->sip, err, errlen);
    if (rc)
        return rc;

    /* the link's peer must be the server: a dialer's or an agentd's key cannot stand in */
    struct cr_tls_config tcfg = {.ca_file = app->cfg.tls_ca,
                                 .cert_file = app->cfg.tls_cert,
                                 .key_file = app->cfg.tls_key,
                                 .crl_file = app->cfg.tls_crl,
                                 .peer_role = CR_TLS_ROLE_SERVER};
    rc = cr_tls_ctx_new_client(&tcfg, &app->tls, err, errlen);
    if (rc)
        return rc;
    char host[256];
    int port;
    if (cr_hostport_parse(app->cfg.server_address, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "[server] address: expected HOST:PORT");
        return -EINVAL;
    }
    struct cr_client_opts co = {.host = host, .port = port, .tls = app->tls};
    static const struct cr_conn_cbs cbs = {
        .on_open = on_link_open, .on_message = on_link_message, .on_close = on_link_close};
    rc = cr_client_start(app->loop, &co, &cbs, app, &app->client);
    if (rc) {
        snprintf(err, errlen, "cannot start the server link: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"example-config", no_argument, NULL, 'e'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct app app;
    memset(&app, 0, sizeof app);
    const char *config = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:eVh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'e':
            cr_cfg_write_example(dialer_config_keys, dialer_config_nkeys, STDOUT_FILENO);
            return 0;
        case 'V':
            printf("carillon-dialerd %s\n", CARILLON_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        fprintf(stderr, "carillon-dialerd: %s\n",
                config ? "unexpected argument" : "--config FILE is required");
        usage(stderr);
        return 2;
    }
    char err[1024];
    if (cr_cfg_load(dialer_config_keys, dialer_config_nkeys, config, &app.cfg, err, sizeof err) !=
        0) {
        fprintf(stderr, "carillon-dialerd: %s\n", err);
        return 2;
    }
    app.config_path = config;
    cr_log_init("dialerd", (enum cr_log_level)app.cfg.log_level, app.cfg.log_json);

    uv_loop_t loop;
    uv_loop_init(&loop);
    app.loop = &loop;
    uv_timer_init(&loop, &app.pace);
    app.pace.data = &app;
    app.tokens = 1.0;
    app.tokens_at_ms = uv_now(&loop);

    static const struct cr_daemon_cbs dcbs = {.on_stop = on_stop, .on_reload = on_reload};
    int rc = cr_daemon_init(&loop, app.cfg.pid_file[0] ? app.cfg.pid_file : NULL, &dcbs, &app);
    if (rc) {
        fprintf(stderr, "carillon-dialerd: pid file %s: %s\n", app.cfg.pid_file, strerror(-rc));
        app.exit_code = 1;
        goto done;
    }
    err[0] = '\0';
    rc = setup(&app, err, sizeof err);
    if (rc) {
        fprintf(stderr, "carillon-dialerd: %s\n", err[0] ? err : strerror(-rc));
        app.exit_code = rc == -EINVAL ? 2 : 1;
        if (app.client) {
            cr_client_stop(app.client, NULL, NULL);
            app.client = NULL;
        }
        if (app.sip)
            dl_sip_stop(app.sip, true); /* on_sip_stopped shuts the rest down */
        else
            cr_daemon_shutdown();
        uv_run(&loop, UV_RUN_DEFAULT);
        goto done;
    }
    cr_log_info("starting", "version=%s config=%s pid=%d node=%s trunk=%s server=%s",
                CARILLON_VERSION, cr_log_q(config), (int)getpid(), cr_log_q(app.cfg.node_name),
                cr_log_q(app.cfg.trunk_uri), cr_log_q(app.cfg.server_address));
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_log_info("stopped", "exit=%d", app.exit_code);
done:
    dl_rtp_close(app.rtp);
    cr_loop_close_all(&loop);
    if (app.tls)
        cr_tls_ctx_free(app.tls);
    free(app.port_used);
    free(app.pending);
    dl_outbox_free(app.outbox);
    free(app.abandon);
    free(app.idle);
    for (size_t i = 0; i < app.nmessages; i++)
        free(app.messages[i].samples);
    cr_cfg_free(dialer_config_keys, dialer_config_nkeys, &app.cfg);
    return app.exit_code;
}
