/* The sofia-sip thread: one nua on its own su_root (sofia's extra stack thread off, so every nua
 * call and event stays here), customer calls through the trunk, and the two queues to libuv. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dl_sip;
struct dl_call;
#define SU_ROOT_MAGIC_T struct dl_sip
#define NUA_MAGIC_T     struct dl_sip
#define NUA_HMAGIC_T    struct dl_call
#define SU_TIMER_ARG_T  struct dl_call
#define SU_MSG_ARG_T    void

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/soa_tag.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/tport_tag.h>

#include "carillon/daemon.h"
#include "carillon/log.h"
#include "carillon/v1/dialer.pb-c.h"
#include "outcome.h"
#include "sip.h"

/* nta marks the responses it makes itself (timer B 408, transport error 503) with this message
 * flag (NTA_INTERNAL_MSG in sofia-sip's private nta_internal.h); it is how a timeout is told
 * apart from a 408 sent by the trunk. */
#define DL_NTA_INTERNAL_MSG (1 << 15)

#define CMD_QUEUE_MAX  1024
#define CALL_BUCKETS   4096
#define GUARD_MS       8000 /* a CANCEL or BYE unanswered this long: the call is let go */
#define AUTH_TRIES_MAX 2
/* New customer calls may fill the command ring up to here; the rest is kept for cancels,
 * hang-ups, abandons and agent legs, so stopping a call is not refused because many new ones
 * wait. */
#define CMD_CALLS_MAX (CMD_QUEUE_MAX * 3 / 4)

enum cmd_type { CMD_CALL, CMD_CANCEL, CMD_HANGUP, CMD_ABANDON, CMD_STOP };

struct cmd {
    enum cmd_type type;
    bool fast;
    uint64_t attempt_id;
    struct dl_order order; /* CMD_CALL */
};

/* One customer call; owned by the sofia thread, freed by call_finish. */
struct dl_call {
    struct dl_sip *s;
    uint64_t attempt_id;
    nua_handle_t *nh;
    su_timer_t *timer; /* ring timeout, then the CANCEL/BYE guard */
    struct dl_call *hnext, *next, *prev;
    int rtp_port;
    bool agent_leg;
    struct dl_media media;
    long long sent_us, ringing_us, answered_us, ended_us;
    int final_status;
    bool final_local;
    bool remote_responded, answered, bye_sent, ended;
    /* Ring timeout before any response dialerd saw: nta sent the CANCEL at once if a 100 Trying
     * had come (it keeps 100 to itself), else holds it until the first provisional or timer B. */
    bool cancel_held;
    bool cancel_answered; /* a response to our CANCEL came from the trunk: the CANCEL went out */
    long long ring_timeout_us, cancel_released_us; /* the held CANCEL sent with the provisional */
    long long guard_ms;                            /* the guard's length, for its detail */
    enum dl_stop stop;
    int hung_up_by;
    int auth_tries;
    char reason[64];
    char call_id[128];
    char detail[DL_DETAIL_MAX];
    unsigned retry_after_s; /* a 503's Retry-After (0: none) */
    unsigned redirects;     /* 3xx followed so far */
    /* kept to re-send the INVITE to a redirect's target (sofia's own following is off) */
    struct dl_order order;
    char target[DL_URI_MAX]; /* the redirect's request URI, "" before any */
};

struct dl_sip {
    /* set once by dl_sip_start, read by both threads */
    uv_loop_t *loop;
    struct dl_sip_opts opts;
    char *bind_url, *media_address, *outbound_proxy, *username, *password, *tls_dir;
    char *trunk_host, *redirect_domains;
    dl_sip_event_cb on_event;
    dl_sip_stopped_cb on_stopped;
    void *arg;
    pthread_t thread;
    uv_async_t async; /* sofia -> loop: events and the end of the thread */

    pthread_mutex_t mu; /* guards everything down to the next comment */
    pthread_cond_t started_cv;
    int start_state; /* 0 starting, 1 running, <0 failed (-errno) */
    char start_err[256];
    struct cmd *cmds; /* ring of CMD_QUEUE_MAX */
    size_t cmd_head, cmd_len;
    bool wake_pending; /* a su_msg is on its way to the sofia thread */
    int stop_req;      /* 0, 1 graceful, 2 fast: kept out of the ring so it is never refused */
    bool closed;       /* no more commands: nua is shutting down */
    struct dl_event *events; /* ring of event_cap */
    size_t event_cap, event_head, event_len;
    size_t events_dropped;
    bool thread_done;
    size_t live_calls;

    /* sofia thread only */
    su_root_t *root;
    nua_t *nua;
    struct dl_call *buckets[CALL_BUCKETS];
    struct dl_call *calls; /* every live call, for a shutdown */
    size_t ncalls;
    size_t ncustomers; /* of ncalls, those that are not agent legs */
    bool stopping, nua_shutdown_sent, hung_up_all, agents_released;
    su_timer_t *stop_timer;
};

/* --- queues ------------------------------------------------------------------------------ */

static void on_wake(struct dl_sip *s, su_msg_r msg, void *arg);

/* Loop side: queues one command and wakes the sofia thread when it may be asleep. */
static int cmd_push(struct dl_sip *s, const struct cmd *c)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        rc = -ESHUTDOWN;
    } else if (c->type != CMD_STOP && s->cmd_len == CMD_QUEUE_MAX) {
        rc = -ENOBUFS;
    } else if (c->type == CMD_CALL && !c->order.agent_leg && s->cmd_len >= CMD_CALLS_MAX) {
        rc = -EAGAIN;
    } else {
        int old_stop = s->stop_req;
        if (c->type == CMD_STOP) {
            if (s->stop_req < (c->fast ? 2 : 1))
                s->stop_req = c->fast ? 2 : 1;
        } else {
            s->cmds[(s->cmd_head + s->cmd_len) % CMD_QUEUE_MAX] = *c;
            s->cmd_len++;
        }
        if (!s->wake_pending) {
            su_msg_r m = SU_MSG_R_INIT;
            if (su_msg_create(m, su_root_task(s->root), su_task_null, on_wake, 0) != 0 ||
                su_msg_send(m) != 0) {
                if (c->type == CMD_STOP)
                    s->stop_req = old_stop;
                else
                    s->cmd_len--;
                rc = -ENOMEM;
            } else {
                s->wake_pending = true;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Sofia side: hands one event to the loop. The queue holds 3 events per admitted call (the
 * loop admits at most max_calls), so it only fills when the loop is stuck. */
static void event_push(struct dl_sip *s, const struct dl_event *ev)
{
    bool dropped = false;
    pthread_mutex_lock(&s->mu);
    if (s->event_len == s->event_cap) {
        s->events_dropped++;
        dropped = true;
    } else {
        s->events[(s->event_head + s->event_len) % s->event_cap] = *ev;
        s->event_len++;
    }
    s->live_calls = s->ncalls;
    pthread_mutex_unlock(&s->mu);
    if (dropped)
        cr_log_error("event_queue_full", "attempt=%llu state=%d",
                     (unsigned long long)ev->attempt_id, ev->state);
    uv_async_send(&s->async);
}

/* --- calls ---------------------------------------------------------------------------------- */

static struct dl_call **bucket(struct dl_sip *s, uint64_t id)
{
    return &s->buckets[(id * 0x9E3779B97F4A7C15ULL) >> 52 & (CALL_BUCKETS - 1)];
}

static struct dl_call *call_find(struct dl_sip *s, uint64_t id)
{
    for (struct dl_call *c = *bucket(s, id); c; c = c->hnext)
        if (c->attempt_id == id)
            return c;
    return NULL;
}

static void call_unlink(struct dl_call *c)
{
    struct dl_sip *s = c->s;
    for (struct dl_call **p = bucket(s, c->attempt_id); *p; p = &(*p)->hnext) {
        if (*p == c) {
            *p = c->hnext;
            break;
        }
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->ncalls--;
    if (!c->agent_leg)
        s->ncustomers--;
}

static void emit_event(struct dl_call *c, int state, int outcome, bool media_update)
{
    struct dl_event ev;
    memset(&ev, 0, sizeof ev);
    ev.media_update = media_update;
    ev.attempt_id = c->attempt_id;
    ev.state = state;
    ev.outcome = outcome;
    ev.sip_status = c->final_status;
    ev.hung_up_by = c->hung_up_by;
    ev.rtp_port = state == CARILLON__V1__CALL_STATE__CALL_STATE_ENDED ? c->rtp_port : 0;
    ev.sent_us = c->sent_us;
    ev.ringing_us = c->ringing_us;
    ev.answered_us = c->answered_us;
    ev.ended_us = c->ended_us;
    snprintf(ev.sip_reason, sizeof ev.sip_reason, "%s", c->reason);
    snprintf(ev.call_id, sizeof ev.call_id, "%s", c->call_id);
    snprintf(ev.detail, sizeof ev.detail, "%s", c->detail);
    ev.media = c->media;
    ev.retry_after_s = c->retry_after_s;
    event_push(c->s, &ev);
}

static void emit(struct dl_call *c, int state, int outcome)
{
    emit_event(c, state, outcome, false);
}

/* Reads the far end's audio address and payload types from an SDP body (its answer or early
 * media). Leaves m untouched when the body is not a usable SDP. */
static void media_from_sdp(const sip_t *sip, struct dl_media *m)
{
    if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data || !sip->sip_content_type ||
        !sip->sip_content_type->c_type ||
        strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0)
        return;
    sdp_parser_t *p =
        sdp_parse(NULL, sip->sip_payload->pl_data, (issize_t)sip->sip_payload->pl_len, 0);
    sdp_session_t *sess = p ? sdp_session(p) : NULL;
    sdp_media_t *md = sess ? sess->sdp_media : NULL;
    sdp_connection_t *cn = md && md->m_connections ? md->m_connections
                           : sess                  ? sess->sdp_connection
                                                   : NULL;
    if (md && cn && cn->c_address && md->m_port > 0 && md->m_port < 65536) {
        struct dl_media r = {.port = (int)md->m_port, .pt_audio = -1, .pt_dtmf = -1};
        snprintf(r.ip, sizeof r.ip, "%s", cn->c_address);
        for (sdp_rtpmap_t *rm = md->m_rtpmaps; rm; rm = rm->rm_next) {
            if (!rm->rm_encoding)
                continue;
            if (r.pt_audio < 0 &&
                (!strcasecmp(rm->rm_encoding, "PCMA") || !strcasecmp(rm->rm_encoding, "PCMU")))
                r.pt_audio = rm->rm_pt;
            else if (r.pt_dtmf < 0 && !strcasecmp(rm->rm_encoding, "telephone-event"))
                r.pt_dtmf = rm->rm_pt;
        }
        if (md->m_mode == sdp_inactive)
            r.port = 0;
        r.rtcp_mux = sdp_attribute_find(md->m_attributes, "rtcp-mux") != NULL;
        *m = r;
    }
    if (p)
        sdp_parser_free(p);
}

static bool media_same(const struct dl_media *a, const struct dl_media *b)
{
    return !strcmp(a->ip, b->ip) && a->port == b->port && a->pt_audio == b->pt_audio &&
           a->pt_dtmf == b->pt_dtmf && a->rtcp_mux == b->rtcp_mux;
}

/* The id a log line names a leg by: attempt=N for a customer call, agent=N for an agent's. */
static const char *id_key(const struct dl_call *c)
{
    return c->agent_leg ? "agent" : "attempt";
}

static unsigned long long id_val(const struct dl_call *c)
{
    return (unsigned long long)(c->attempt_id & ~DL_AGENT_BIT);
}

/* A re-INVITE from the far end (a trunk's session refresh, a move of its media): nua answers it
 * itself from the handle's soa parameters (SOA_RTP_SELECT_COMMON: telephone-event stays); the
 * relay is told when the offer moves the media (address, port, payload types, rtcp-mux). A
 * re-INVITE without SDP (offer in our 200, answer in the ACK) leaves the media as it was. The
 * answer to a re-INVITE of ours (a session timer refresh) is read the same way. */
static void follow_media(struct dl_call *c, sip_t const *sip)
{
    struct dl_media m = c->media;
    media_from_sdp(sip, &m);
    if (media_same(&m, &c->media)) {
        cr_log_info("call_reinvite", "%s=%llu call_id=%s media=unchanged", id_key(c), id_val(c),
                    cr_log_q(c->call_id));
        return;
    }
    c->media = m;
    cr_log_info("call_media_changed",
                "%s=%llu call_id=%s ip=%s port=%d pt_audio=%d pt_dtmf=%d rtcp_mux=%d", id_key(c),
                id_val(c), cr_log_q(c->call_id), cr_log_q(m.ip), m.port, m.pt_audio, m.pt_dtmf,
                m.rtcp_mux);
    emit_event(c,
               c->answered ? CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED
                           : CARILLON__V1__CALL_STATE__CALL_STATE_RINGING,
               0, true);
}

/* An order that never became a call: one ENDED event, outcome refused. */
static void refuse(struct dl_sip *s, const struct dl_order *o, const char *why)
{
    struct dl_event ev;
    memset(&ev, 0, sizeof ev);
    ev.attempt_id = o->attempt_id;
    ev.state = CARILLON__V1__CALL_STATE__CALL_STATE_ENDED;
    ev.outcome = CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_REFUSED;
    ev.rtp_port = o->rtp_port;
    ev.ended_us = cr_now_us();
    snprintf(ev.detail, sizeof ev.detail, "%s", why);
    cr_log_warn("call_refused", "attempt=%llu reason=%s", (unsigned long long)o->attempt_id,
                cr_log_q(why));
    event_push(s, &ev);
}

static void call_stop(struct dl_call *c, enum dl_stop why);

/* Stopping: once no customer call is left, the agent legs have nothing more to carry and are
 * hung up (before, they stay: a customer may still be talking through one); once no call at all
 * is left, nua shuts down. */
static void maybe_shutdown(struct dl_sip *s)
{
    if (s->stopping && s->ncustomers == 0 && s->ncalls > 0 && !s->agents_released) {
        s->agents_released = true;
        cr_log_info("agent_legs_release", "legs=%zu", s->ncalls);
        struct dl_call *next;
        for (struct dl_call *c = s->calls; c; c = next) {
            next = c->next;
            call_stop(c, DL_STOP_SHUTDOWN);
        }
    }
    if (!s->stopping || s->ncalls > 0 || s->nua_shutdown_sent)
        return;
    s->nua_shutdown_sent = true;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_mutex_unlock(&s->mu);
    cr_log_info("sip_shutdown", "calls=0");
    nua_shutdown(s->nua);
}

static const char *default_detail(const struct dl_call *c, int outcome)
{
    switch (c->stop) {
    case DL_STOP_RING_TIMEOUT:
        if (c->answered)
            return "ring timeout; the 200 OK crossed the CANCEL, BYE sent";
        return c->remote_responded ? "ring timeout" : "ring timeout without any response";
    case DL_STOP_ORDER_CANCEL:
        return c->answered ? "cancelled by order; the 200 OK crossed the CANCEL, BYE sent"
                           : "cancelled by order";
    case DL_STOP_ORDER_HANGUP:
        return "hung up by order";
    case DL_STOP_SHUTDOWN:
        return "dialer shutting down";
    case DL_STOP_ABANDON:
        return "no agent in time: abandon message played, hung up";
    case DL_STOP_NONE:
        break;
    }
    if (c->answered)
        return c->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER ? "customer hung up"
                                                                              : "call ended";
    if (c->final_local && c->final_status == 408)
        return "no response from the trunk";
    if (c->final_local && c->final_status == 503)
        return "transport error towards the trunk";
    if (c->final_local)
        return "local failure";
    return outcome == CARILLON__V1__CALL_OUTCOME__CALL_OUTCOME_LOST ? "call lost" : "";
}

/* The call is over: one ENDED event, the handle destroyed, the call freed. */
static void call_finish(struct dl_call *c)
{
    struct dl_sip *s = c->s;
    if (c->ended)
        return;
    c->ended = true;
    c->ended_us = cr_now_us();
    if (c->cancel_held && !c->remote_responded && !c->detail[0]) {
        /* Not a word from the trunk: the INVITE ended locally (timer B, or a transport error),
         * its CANCEL still held by nta, never sent. No SIP status came from the trunk. */
        if (c->final_local && c->final_status == 408)
            snprintf(c->detail, sizeof c->detail, "%s",
                     "ring timeout: the trunk never responded; INVITE ended by timer B, no CANCEL "
                     "sent (RFC 3261 section 9.1)");
        else
            snprintf(c->detail, sizeof c->detail,
                     "ring timeout: the trunk never responded; INVITE ended locally (%d %.40s), "
                     "no CANCEL sent",
                     c->final_status, c->reason);
        c->final_status = 0;
        c->reason[0] = '\0';
    } else if (c->cancel_released_us && !c->answered && !c->detail[0]) {
        snprintf(c->detail, sizeof c->detail,
                 "ring timeout: CANCEL held until the trunk's first provisional response, sent "
                 "%lld ms after the timeout",
                 (c->cancel_released_us - c->ring_timeout_us) / 1000);
    }
    struct dl_end_facts f = {
        .final_status = c->final_status,
        .final_local = c->final_local,
        .remote_responded = c->remote_responded,
        .answered = c->answered,
        .stop = c->stop,
    };
    int outcome = (int)dl_outcome_map(&f);
    if (!c->detail[0] && c->agent_leg)
        dl_agent_leg_detail(&f, c->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER,
                            c->reason, c->detail, sizeof c->detail);
    else if (!c->detail[0])
        snprintf(c->detail, sizeof c->detail, "%s", default_detail(c, outcome));
    long long ring_end = c->answered_us ? c->answered_us : c->ended_us;
    long long talk = c->answered_us ? (c->ended_us - c->answered_us) / 1000 : 0;
    if (c->agent_leg)
        cr_log_info("agent_leg_ended",
                    "agent=%llu call_id=%s sip_status=%d hung_up_by=%s ring_ms=%lld up_ms=%lld "
                    "detail=%s",
                    id_val(c), cr_log_q(c->call_id), c->final_status,
                    c->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER ? "agent"
                    : c->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_DIALER ? "dialer"
                                                                                   : "none",
                    (ring_end - c->sent_us) / 1000, talk, cr_log_q(c->detail));
    else
        cr_log_info("call_ended",
                    "attempt=%llu call_id=%s outcome=%s sip_status=%d hung_up_by=%s ring_ms=%lld "
                    "talk_ms=%lld detail=%s",
                    (unsigned long long)c->attempt_id, cr_log_q(c->call_id),
                    dl_outcome_name((Carillon__V1__CallOutcome)outcome), c->final_status,
                    c->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER ? "customer"
                    : c->hung_up_by == CARILLON__V1__CALL_PARTY__CALL_PARTY_DIALER ? "dialer"
                                                                                   : "none",
                    (ring_end - c->sent_us) / 1000, talk, cr_log_q(c->detail));
    call_unlink(c);
    emit(c, CARILLON__V1__CALL_STATE__CALL_STATE_ENDED, outcome);
    if (c->timer)
        su_timer_destroy(c->timer);
    nua_handle_bind(c->nh, NULL);
    nua_handle_destroy(c->nh);
    free(c);
    maybe_shutdown(s);
}

static void on_guard(struct dl_sip *s, su_timer_t *t, struct dl_call *c)
{
    (void)s;
    (void)t;
    long long waited = c->guard_ms;
    if (!c->detail[0] && c->answered)
        snprintf(c->detail, sizeof c->detail, "BYE unanswered after %lld ms; call let go", waited);
    else if (!c->detail[0] && c->cancel_answered)
        snprintf(c->detail, sizeof c->detail,
                 "CANCEL answered but no final response to the INVITE after %lld ms; call let go",
                 waited);
    else if (!c->detail[0] && c->cancel_held && !c->cancel_released_us)
        /* nta would have ended a held CANCEL's INVITE at timer B: it went at once (a 100 had
         * come, kept by nta) and the trunk said nothing since */
        snprintf(c->detail, sizeof c->detail,
                 "ring timeout: CANCEL (sent at once: the trunk had sent 100 Trying only) "
                 "unanswered after %lld ms; call let go",
                 waited);
    else if (!c->detail[0] && !c->remote_responded)
        /* a cancel order or a stop before any response dialerd saw: nta may hold the CANCEL */
        snprintf(c->detail, sizeof c->detail,
                 "CANCEL unanswered after %lld ms, or held by nta if the trunk sent no "
                 "provisional (RFC 3261 section 9.1); call let go",
                 waited);
    else if (!c->detail[0])
        snprintf(c->detail, sizeof c->detail, "CANCEL unanswered after %lld ms; call let go",
                 waited);
    cr_log_warn("call_guard_expired", "attempt=%llu call_id=%s", (unsigned long long)c->attempt_id,
                cr_log_q(c->call_id));
    call_finish(c);
}

static void arm_guard_ms(struct dl_call *c, long long ms)
{
    c->guard_ms = ms;
    su_timer_reset(c->timer);
    su_timer_set_interval(c->timer, on_guard, c, (su_duration_t)ms);
}

static void arm_guard(struct dl_call *c)
{
    arm_guard_ms(c, GUARD_MS);
}

/* Ends the call from our side: CANCEL before the answer, BYE after (once). */
static void call_stop(struct dl_call *c, enum dl_stop why)
{
    if (c->ended)
        return;
    if (c->stop == DL_STOP_NONE)
        c->stop = why;
    if (c->cancel_held && !c->cancel_released_us && !c->answered)
        return; /* the CANCEL is nta's already; the INVITE ends by timer B at the latest */
    if (c->answered) {
        if (c->bye_sent)
            return;
        c->bye_sent = true;
        if (!c->hung_up_by)
            c->hung_up_by = CARILLON__V1__CALL_PARTY__CALL_PARTY_DIALER;
        nua_bye(c->nh, TAG_END());
    } else {
        nua_cancel(c->nh, TAG_END());
    }
    arm_guard(c);
}

static void on_ring_timeout(struct dl_sip *s, su_timer_t *t, struct dl_call *c)
{
    (void)s;
    (void)t;
    if (c->answered || c->ended)
        return;
    cr_log_info("call_ring_timeout", "attempt=%llu call_id=%s responded=%d",
                (unsigned long long)c->attempt_id, cr_log_q(c->call_id), c->remote_responded);
    if (!c->remote_responded && c->stop == DL_STOP_NONE) {
        /* No response reached dialerd; nta keeps 100 Trying to itself, so the trunk may have
         * sent one. A plain CANCEL does the right thing in both cases (nta_outgoing_tcancel):
         * after a 100 it goes out now and the 487 ends the call; before any provisional (RFC
         * 3261 9.1) nta holds it, keeps retransmitting the INVITE, and sends it as soon as the
         * first provisional comes (on_invite_response sees it), or ends the INVITE at timer B
         * with a local 408 (call_finish says so). The guard waits for timer B then. */
        c->stop = DL_STOP_RING_TIMEOUT;
        c->cancel_held = true;
        c->ring_timeout_us = cr_now_us();
        nua_cancel(c->nh, TAG_END());
        long long t1x64 = c->s->opts.t1x64_ms ? c->s->opts.t1x64_ms : 32000;
        /* timer B runs from the INVITE: from the first (sent_us), or a redirect's (later) */
        long long left = c->redirects ? t1x64 : t1x64 - (c->ring_timeout_us - c->sent_us) / 1000;
        arm_guard_ms(c, (left > 0 ? left : 0) + GUARD_MS);
        return;
    }
    call_stop(c, DL_STOP_RING_TIMEOUT);
}

static nua_handle_t *call_handle(struct dl_call *c);
static void call_invite(struct dl_call *c, const char *target);

static void cmd_call(struct dl_sip *s, const struct dl_order *o)
{
    if (s->stopping) {
        refuse(s, o, "dialer stopping");
        return;
    }
    if (call_find(s, o->attempt_id)) {
        refuse(s, o, "attempt already in a call");
        return;
    }
    struct dl_call *c = calloc(1, sizeof *c);
    if (!c) {
        refuse(s, o, "out of memory");
        return;
    }
    c->s = s;
    c->attempt_id = o->attempt_id;
    c->rtp_port = o->rtp_port;
    c->agent_leg = o->agent_leg;
    c->order = *o;
    c->timer = su_timer_create(su_root_task(s->root), 0);
    c->nh = call_handle(c);
    if (!c->timer || !c->nh) {
        if (c->timer)
            su_timer_destroy(c->timer);
        if (c->nh)
            nua_handle_destroy(c->nh);
        free(c);
        refuse(s, o, "could not create the SIP handle (bad URI?)");
        return;
    }
    struct dl_call **b = bucket(s, c->attempt_id);
    c->hnext = *b;
    *b = c;
    c->next = s->calls;
    if (s->calls)
        s->calls->prev = c;
    s->calls = c;
    s->ncalls++;
    if (!c->agent_leg)
        s->ncustomers++;
    c->sent_us = cr_now_us();
    call_invite(c, NULL);
    su_timer_set_interval(c->timer, on_ring_timeout, c, o->ring_timeout_ms);
    cr_log_info(c->agent_leg ? "agent_leg_calling" : "call_sent",
                "%s=%llu to=%s rtp_port=%d ring_timeout_ms=%u", id_key(c), id_val(c),
                cr_log_q(o->to_uri), o->rtp_port, o->ring_timeout_ms);
}

/* A new nua handle for the call's To and From (a redirect gets a new one: a new Call-ID). */
static nua_handle_t *call_handle(struct dl_call *c)
{
    /* In angle brackets: bare, a ;transport= (or any URI parameter) would be read as a To header
     * parameter and the request would leave on the default transport. */
    char to[DL_URI_MAX + 3];
    snprintf(to, sizeof to, "<%s>", c->order.to_uri);
    return nua_handle(c->s->nua, c, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(c->order.from), TAG_END());
}

/* Sends the call's INVITE on c->nh: to its To URI, or to target (a redirect's), keeping To. */
static void call_invite(struct dl_call *c, const char *target)
{
    struct dl_sip *s = c->s;
    const struct dl_order *o = &c->order;
    char sdp[512];
    /* soa writes o=, c= (SOATAG_ADDRESS) and t= around this media line. */
    snprintf(sdp, sizeof sdp,
             "v=0\r\n"
             "m=audio %d RTP/AVP 8 0 101\r\n"
             "a=rtpmap:8 PCMA/8000\r\n"
             "a=rtpmap:0 PCMU/8000\r\n"
             "a=rtpmap:101 telephone-event/8000\r\n"
             "a=fmtp:101 0-16\r\n"
             "a=ptime:20\r\n"
             "a=rtcp-mux\r\n"
             "a=sendrecv\r\n",
             o->rtp_port);
    /* Passed as plain header text: P-Asserted-Identity and Privacy are not in nua's default
     * header class, and typed tags for them would fail the request. */
    char extra[2 * DL_URI_MAX + 160];
    if (o->agent_leg) /* the usual auto-answer hints, one per softphone family */
        snprintf(extra, sizeof extra,
                 "Call-Info: <sip:%s>;answer-after=0\r\nAlert-Info: <http://%s>;info=alert-"
                 "autoanswer\r\nP-Auto-Answer: normal%s%s",
                 s->media_address, s->media_address, o->pai[0] ? "\r\nP-Asserted-Identity: " : "",
                 o->pai);
    else
        snprintf(extra, sizeof extra, "%s%s%s%s", o->pai[0] ? "P-Asserted-Identity: " : "", o->pai,
                 o->pai[0] && o->privacy ? "\r\n" : "", o->privacy ? "Privacy: id" : "");
    /* SELECT_COMMON, not SINGLE: soa also answers a re-INVITE from these parameters, and SINGLE
     * keeps one codec only, telephone-event dropped (DTMF stopped after a trunk's session
     * refresh). COMMON answers with every offered codec of ours: PCMA, PCMU, telephone-event,
     * at the offer's payload types; the relay converts per packet. */
    nua_invite(c->nh, TAG_IF(target, NUTAG_URL(target)), SOATAG_USER_SDP_STR(sdp),
               SOATAG_ADDRESS(s->media_address), SOATAG_RTP_SORT(SOA_RTP_SORT_LOCAL),
               SOATAG_RTP_SELECT(SOA_RTP_SELECT_COMMON), TAG_IF(extra[0], SIPTAG_HEADER_STR(extra)),
               TAG_END());
}

static void hangup_all(struct dl_sip *s)
{
    if (s->hung_up_all)
        return;
    s->hung_up_all = true;
    struct dl_call *next;
    for (struct dl_call *c = s->calls; c; c = next) {
        next = c->next;
        call_stop(c, DL_STOP_SHUTDOWN);
    }
}

static void on_stop_timeout(struct dl_sip *s, su_timer_t *t, struct dl_call *unused)
{
    (void)t;
    (void)unused;
    cr_log_warn("shutdown_timeout", "calls=%zu action=hangup", s->ncalls);
    hangup_all(s);
}

static void cmd_stop(struct dl_sip *s, bool fast)
{
    bool first = !s->stopping;
    s->stopping = true;
    if (fast || s->opts.shutdown_timeout_ms == 0) {
        hangup_all(s);
    } else if (first && s->ncalls > 0) {
        s->stop_timer = su_timer_create(su_root_task(s->root), 0);
        if (!s->stop_timer || su_timer_set_interval(s->stop_timer, on_stop_timeout, NULL,
                                                    s->opts.shutdown_timeout_ms) != 0)
            hangup_all(s);
        else
            cr_log_info("draining", "calls=%zu timeout_ms=%u", s->ncalls,
                        s->opts.shutdown_timeout_ms);
    }
    maybe_shutdown(s);
}

static void run_cmd(struct dl_sip *s, const struct cmd *cmd)
{
    struct dl_call *c;
    switch (cmd->type) {
    case CMD_CALL:
        cmd_call(s, &cmd->order);
        break;
    case CMD_CANCEL:
    case CMD_HANGUP:
    case CMD_ABANDON:
        c = call_find(s, cmd->attempt_id);
        if (!c) {
            cr_log_info("call_stop_ignored", "attempt=%llu reason=unknown_or_ended",
                        (unsigned long long)cmd->attempt_id);
            break;
        }
        cr_log_info(cmd->type == CMD_CANCEL    ? "call_cancel"
                    : cmd->type == CMD_ABANDON ? "call_abandon"
                                               : "call_hangup",
                    "attempt=%llu call_id=%s answered=%d", (unsigned long long)c->attempt_id,
                    cr_log_q(c->call_id), c->answered);
        if (cmd->type == CMD_ABANDON)
            call_stop(c, c->answered ? DL_STOP_ABANDON : DL_STOP_ORDER_CANCEL);
        else
            call_stop(c, cmd->type == CMD_HANGUP || c->answered ? DL_STOP_ORDER_HANGUP
                                                                : DL_STOP_ORDER_CANCEL);
        break;
    case CMD_STOP:
        cmd_stop(s, cmd->fast);
        break;
    }
}

/* Sofia side: the loop queued commands. Runs them one at a time without the lock held. */
static void on_wake(struct dl_sip *s, su_msg_r msg, void *arg)
{
    (void)msg;
    (void)arg;
    struct cmd cmd;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->cmd_len == 0) {
            int stop = s->stop_req;
            s->wake_pending = false;
            pthread_mutex_unlock(&s->mu);
            /* after the orders queued before it; a fast stop after a graceful one upgrades */
            if (stop && (!s->stopping || stop == 2)) {
                cmd.type = CMD_STOP;
                cmd.fast = stop == 2;
                run_cmd(s, &cmd);
            }
            return;
        }
        cmd = s->cmds[s->cmd_head];
        s->cmd_head = (s->cmd_head + 1) % CMD_QUEUE_MAX;
        s->cmd_len--;
        pthread_mutex_unlock(&s->mu);
        run_cmd(s, &cmd);
    }
}

/* --- nua events ---------------------------------------------------------------------------- */

static void auth_answer(struct dl_call *c, sip_t const *sip)
{
    struct dl_sip *s = c->s;
    msg_auth_t const *au =
        sip->sip_proxy_authenticate ? sip->sip_proxy_authenticate : sip->sip_www_authenticate;
    char const *realm = au ? msg_params_find(au->au_params, "realm=") : NULL;
    char cred[512];
    snprintf(cred, sizeof cred, "%s:%s:%s:%s", au && au->au_scheme ? au->au_scheme : "Digest",
             realm ? realm : "\"\"", s->username, s->password);
    c->auth_tries++;
    cr_log_info("call_auth", "attempt=%llu call_id=%s realm=%s try=%d",
                (unsigned long long)c->attempt_id, cr_log_q(c->call_id),
                cr_log_q(realm ? realm : ""), c->auth_tries);
    nua_authenticate(c->nh, NUTAG_AUTH(cred), TAG_END());
}

/* Whether host is the trunk's or one of the [trunk] redirect_domains. */
static bool redirect_host_allowed(const struct dl_sip *s, const char *host)
{
    if (!host || !host[0])
        return false;
    if (!strcasecmp(host, s->trunk_host))
        return true;
    size_t n = strlen(host);
    for (const char *p = s->redirect_domains; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, " ,");
        if (len == n && !strncasecmp(p, host, n))
            return true;
        p += len;
    }
    return false;
}

/* A 3xx from the trunk: sofia's own following is off (NUTAG_AUTO302/305), so dialerd decides.
 * Follows the first Contact that is a sip:/sips: URI of an allowed host when follow_redirects
 * allows one more hop (true: a new INVITE is on its way); else writes why into the detail and
 * the call ends trunk_failure with this status. */
static bool redirect(struct dl_call *c, int status, sip_t const *sip)
{
    struct dl_sip *s = c->s;
    char contacts[80] = ""; /* the start of the list: the detail has room for it */
    size_t len = 0;
    const sip_contact_t *pick = NULL;
    const char *why = NULL;
    for (const sip_contact_t *m = sip->sip_contact; m; m = m->m_next) {
        char u[DL_URI_MAX];
        if (url_e(u, sizeof u, m->m_url) < 0 || memchr(u, '\0', sizeof u) == NULL)
            snprintf(u, sizeof u, "(unreadable)");
        int n = snprintf(contacts + len, sizeof contacts - len, "%s<%s>", len ? ", " : "", u);
        if (n > 0)
            len = (size_t)n < sizeof contacts - len ? len + (size_t)n : sizeof contacts - 1;
        bool sipuri = m->m_url->url_type == url_sip || m->m_url->url_type == url_sips;
        if (pick)
            continue;
        if (!sipuri)
            why = "not a sip: or sips: URI";
        else if (!redirect_host_allowed(s, m->m_url->url_host))
            why = "host not the trunk's nor in redirect_domains";
        else
            pick = m;
    }
    if (!sip->sip_contact)
        why = "no Contact";
    if (pick && c->agent_leg)
        pick = NULL, why = "agent legs are not redirected";
    if (pick && c->redirects >= s->opts.follow_redirects) {
        pick = NULL;
        why = s->opts.follow_redirects ? "follow_redirects hops used" : NULL;
    }
    if (!pick) {
        if (why)
            snprintf(c->detail, sizeof c->detail, "%d redirect refused (%s); Contact: %s", status,
                     why, contacts);
        else
            snprintf(c->detail, sizeof c->detail,
                     "%d redirect not followed (follow_redirects = 0); Contact: %s", status,
                     contacts);
        cr_log_warn("call_redirect_refused", "attempt=%llu call_id=%s status=%d reason=%s",
                    (unsigned long long)c->attempt_id, cr_log_q(c->call_id), status,
                    cr_log_q(why ? why : "follow_redirects = 0"));
        return false;
    }
    /* The carrier says where to dial: the Contact's user part when it has one, else the number
     * we dialled (sofia's own following dropped it). To stays the dialled number. */
    url_t target = *pick->m_url;
    char user[DL_URI_MAX] = "";
    const char *colon = strchr(c->order.to_uri, ':'), *at = strchr(c->order.to_uri, '@');
    if (!target.url_user && colon && at && at > colon) {
        snprintf(user, sizeof user, "%.*s", (int)(at - colon - 1), colon + 1);
        target.url_user = user;
    }
    target.url_headers = NULL;
    char to[DL_URI_MAX];
    if (url_e(to, sizeof to, &target) < 0 || memchr(to, '\0', sizeof to) == NULL) {
        snprintf(c->detail, sizeof c->detail, "%d redirect refused (Contact too long)", status);
        return false;
    }
    c->redirects++;
    cr_log_info("call_redirected", "attempt=%llu call_id=%s status=%d hop=%u from=%s to=%s",
                (unsigned long long)c->attempt_id, cr_log_q(c->call_id), status, c->redirects,
                cr_log_q(c->target[0] ? c->target : c->order.to_uri), cr_log_q(to));
    snprintf(c->target, sizeof c->target, "%s", to);
    /* a new transaction and dialog: a new handle (the old one ends unbound, unseen) */
    nua_handle_t *nh = call_handle(c);
    if (!nh) {
        snprintf(c->detail, sizeof c->detail, "%d redirect: could not create the SIP handle",
                 status);
        return false;
    }
    nua_handle_bind(c->nh, NULL);
    nua_handle_destroy(c->nh);
    c->nh = nh;
    c->call_id[0] = '\0';
    c->remote_responded = false; /* the new target has said nothing yet (ring timeout, outcome) */
    call_invite(c, to);
    return true;
}

static void on_invite_response(struct dl_call *c, int status, char const *phrase, sip_t const *sip)
{
    bool local = !sip || (sip->sip_flags & DL_NTA_INTERNAL_MSG);
    if (c->answered) {
        /* the answer to a re-INVITE of ours (a session timer refresh): the call was answered
         * once and stays so; a refresh that fails is nua's to handle (it ends the session) */
        if (status >= 200)
            cr_log_info("call_refreshed", "%s=%llu call_id=%s status=%d", id_key(c), id_val(c),
                        cr_log_q(c->call_id), status);
        if (status >= 200 && status < 300)
            follow_media(c, sip);
        return;
    }
    if (!local && c->cancel_held && !c->remote_responded && !c->cancel_answered && status < 200) {
        /* the trunk's first provisional, after the ring timeout: nta has just sent the CANCEL it
         * held (RFC 3261 9.1); the 487 ends the call, the usual guard meanwhile. (After a 100,
         * the CANCEL went at once: a 180 that crossed it is after the CANCEL's 200, mostly.) */
        c->cancel_released_us = cr_now_us();
        cr_log_info("call_cancel_released",
                    "attempt=%llu call_id=%s status=%d after_timeout_ms=%lld",
                    (unsigned long long)c->attempt_id,
                    cr_log_q(sip && sip->sip_call_id ? sip->sip_call_id->i_id : c->call_id), status,
                    (c->cancel_released_us - c->ring_timeout_us) / 1000);
        arm_guard(c);
    }
    if (!local)
        c->remote_responded = true;
    if (sip && sip->sip_call_id && !c->call_id[0])
        snprintf(c->call_id, sizeof c->call_id, "%s", sip->sip_call_id->i_id);
    if (status < 300)
        media_from_sdp(sip, &c->media);
    if (status < 200) {
        if ((status == 180 || status == 183) && !c->ringing_us) {
            c->ringing_us = cr_now_us();
            cr_log_info("call_ringing", "%s=%llu call_id=%s status=%d", id_key(c), id_val(c),
                        cr_log_q(c->call_id), status);
            /* after a ring timeout the call is being cancelled: no RINGING for the server (the
             * ENDED event still carries ringing_at) */
            if (!c->cancel_held)
                emit(c, CARILLON__V1__CALL_STATE__CALL_STATE_RINGING, 0);
        }
        return;
    }
    /* The trunk's credentials answer the trunk's challenges only: never a softphone's. */
    if ((status == 401 || status == 407) && !local && sip && c->stop == DL_STOP_NONE &&
        !c->agent_leg && c->s->username[0] && c->auth_tries < AUTH_TRIES_MAX) {
        auth_answer(c, sip);
        return;
    }
    if (status >= 300 && status < 400 && !local && sip && c->stop == DL_STOP_NONE &&
        redirect(c, status, sip))
        return;
    if (status == 503 && !local && sip && sip->sip_retry_after && !c->agent_leg) {
        /* sofia would wait and re-send the INVITE itself (NUTAG_MAX_RETRY_AFTER is 0): the call
         * ends now, and the loop holds new calls for the period */
        c->retry_after_s = (unsigned)sip->sip_retry_after->af_delta;
        snprintf(c->detail, sizeof c->detail, "trunk 503 Retry-After: %u s", c->retry_after_s);
    }
    c->final_status = status;
    c->final_local = local;
    snprintf(c->reason, sizeof c->reason, "%s", phrase ? phrase : "");
    if (status < 300) {
        c->answered = true;
        c->answered_us = cr_now_us();
        if (c->cancel_held && !c->cancel_released_us && !c->cancel_answered && !c->detail[0])
            /* a 100 Trying may have come and the CANCEL crossed this 200, or the trunk's very
             * first response was this 200 and nta dropped the held CANCEL (481) */
            snprintf(c->detail, sizeof c->detail, "%s",
                     "ring timeout; a 200 OK came before any other response dialerd saw, BYE sent");
        su_timer_reset(c->timer);
        cr_log_info(c->agent_leg ? "agent_leg_answered" : "call_answered",
                    "%s=%llu call_id=%s crossed_cancel=%d", id_key(c), id_val(c),
                    cr_log_q(c->call_id), c->stop != DL_STOP_NONE);
        /* A 200 that crossed our CANCEL is hung up at once: the server never sees it as a
         * call to connect, only answered_at in the ENDED event. */
        if (c->stop == DL_STOP_NONE)
            emit(c, CARILLON__V1__CALL_STATE__CALL_STATE_ANSWERED, 0);
        return;
    }
    if (status == 401 || status == 407) {
        /* nua waits for credentials we will not give: end the call here. */
        snprintf(c->detail, sizeof c->detail, "%s",
                 c->agent_leg        ? "the softphone asks for credentials; none are sent"
                 : c->s->username[0] ? "the trunk refused our credentials"
                                     : "the trunk asks for credentials; none configured");
        call_finish(c);
    }
}

static void on_call_state(struct dl_sip *s, nua_handle_t *nh, struct dl_call *c, int status,
                          char const *phrase, tagi_t tags[])
{
    (void)s;
    int state = -1;
    tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
    if (!c) {
        if (state == nua_callstate_terminated)
            nua_handle_destroy(nh); /* an incoming call we refused */
        return;
    }
    if (state == nua_callstate_ready && c->stop != DL_STOP_NONE && !c->bye_sent) {
        /* the 200 crossed our CANCEL (or a stop came while it was on its way) */
        c->answered = true;
        call_stop(c, c->stop);
    }
    if (state == nua_callstate_terminated) {
        if (!c->final_status && status >= 300) {
            c->final_status = status;
            snprintf(c->reason, sizeof c->reason, "%s", phrase ? phrase : "");
        }
        call_finish(c);
    }
}

static void on_nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
                         struct dl_sip *s, nua_handle_t *nh, struct dl_call *c, sip_t const *sip,
                         tagi_t tags[])
{
    (void)nua;
    switch (event) {
    case nua_r_invite:
        if (c)
            on_invite_response(c, status, phrase, sip);
        break;
    case nua_r_cancel:
        /* the trunk answered our CANCEL: it went out (at once after a 100 kept by nta, or with
         * the first provisional); nta's own answers (481 to a held CANCEL the INVITE's final
         * made void, 408 at timer B) say nothing of the wire */
        if (c && sip && !(sip->sip_flags & DL_NTA_INTERNAL_MSG))
            c->cancel_answered = true;
        cr_log_debug("sip_event", "event=%s status=%d phrase=%s attempt=%llu",
                     nua_event_name(event), status, cr_log_q(phrase ? phrase : ""),
                     c ? (unsigned long long)c->attempt_id : 0ULL);
        break;
    case nua_i_state:
        on_call_state(s, nh, c, status, phrase, tags);
        break;
    case nua_i_bye:
        if (c && !c->hung_up_by)
            c->hung_up_by = CARILLON__V1__CALL_PARTY__CALL_PARTY_CUSTOMER;
        if (c && c->agent_leg)
            cr_log_info("agent_hung_up", "agent=%llu call_id=%s", id_val(c), cr_log_q(c->call_id));
        else if (c)
            cr_log_info("call_remote_bye", "attempt=%llu call_id=%s",
                        (unsigned long long)c->attempt_id, cr_log_q(c->call_id));
        break;
    case nua_i_invite:
        if (c) {
            follow_media(c, sip);
        } else {
            cr_log_warn("incoming_call_refused", "from=%s",
                        cr_log_q(sip && sip->sip_from && sip->sip_from->a_url->url_user
                                     ? sip->sip_from->a_url->url_user
                                     : ""));
            nua_respond(nh, SIP_403_FORBIDDEN, TAG_END());
        }
        break;
    case nua_i_options:
    case nua_i_message:
    case nua_i_info:
    case nua_i_notify:
    case nua_i_subscribe:
    case nua_i_refer:
    case nua_i_publish:
    case nua_i_register:
        if (!c)
            nua_handle_destroy(nh); /* nua answered it; we keep nothing */
        break;
    case nua_r_shutdown:
        if (status >= 200) {
            cr_log_info("sip_stopped", "status=%d", status);
            su_root_break(s->root);
        }
        break;
    case nua_i_error:
        cr_log_warn("sip_error", "status=%d phrase=%s attempt=%llu", status,
                    cr_log_q(phrase ? phrase : ""), c ? (unsigned long long)c->attempt_id : 0ULL);
        break;
    default:
        cr_log_debug("sip_event", "event=%s status=%d phrase=%s attempt=%llu",
                     nua_event_name(event), status, cr_log_q(phrase ? phrase : ""),
                     c ? (unsigned long long)c->attempt_id : 0ULL);
        break;
    }
}

/* --- thread -------------------------------------------------------------------------------- */

/* sofia-sip prints its diagnostics in pieces; they are gathered into whole lines and logged at
 * debug level (our own call_ended line already says what went wrong, once). */
static void sofia_logger(void *stream, char const *fmt, va_list ap)
{
    (void)stream;
    static __thread char line[512];
    static __thread size_t len;
    if (len < sizeof line - 1) {
        int n = vsnprintf(line + len, sizeof line - len, fmt, ap);
        if (n > 0)
            len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - 1 - len;
    }
    if (len > 0 && (line[len - 1] == '\n' || len >= sizeof line - 1)) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\t'))
            len--;
        line[len] = '\0';
        if (len > 0)
            cr_log_debug("sofia", "msg=%s", cr_log_q(line));
        len = 0;
    }
}

static void start_done(struct dl_sip *s, int state, const char *err)
{
    pthread_mutex_lock(&s->mu);
    s->start_state = state;
    if (err)
        snprintf(s->start_err, sizeof s->start_err, "%s", err);
    pthread_cond_signal(&s->started_cv);
    pthread_mutex_unlock(&s->mu);
}

static void *sip_thread(void *arg)
{
    struct dl_sip *s = arg;
    su_init();
    su_log_redirect(NULL, sofia_logger, NULL);
    s->root = su_root_create(s);
    if (!s->root) {
        su_deinit();
        start_done(s, -ENOMEM, "su_root_create failed");
        return NULL;
    }
    /* nua's stack runs in this very thread: every nua call and event stays here. */
    su_root_threading(s->root, 0);
    s->nua = nua_create(
        s->root, on_nua_event, s, NUTAG_URL(s->bind_url),
        NUTAG_USER_AGENT("carillon-dialerd/" CARILLON_VERSION), TPTAG_UDP_RMEM(4 << 20),
        NUTAG_AUTOACK(1), NUTAG_MEDIA_ENABLE(1),
        /* sofia's automatic retries that take decisions belonging to dialerd (README: "SIP
         * retries"): no redirect following (dialerd follows 3xx itself, bounded), no waiting
         * out a 5xx's Retry-After to re-send the INVITE (the call ends, the loop holds the
         * trunk), and at most AUTH_TRIES_MAX restarts of a request (auth, 422). */
        NUTAG_AUTO302(0), NUTAG_AUTO305(0), NUTAG_MAX_RETRY_AFTER(0),
        NUTAG_RETRY_COUNT(AUTH_TRIES_MAX), NUTAG_SESSION_TIMER(s->opts.session_timer_s),
        TAG_IF(s->opts.session_timer_s, NUTAG_MIN_SE(90)),
        TAG_IF(s->opts.t1x64_ms, NTATAG_SIP_T1X64(s->opts.t1x64_ms)), NUTAG_M_USERNAME("carillon"),
        SOATAG_ADDRESS(s->media_address),
        TAG_IF(s->outbound_proxy[0], NUTAG_PROXY(s->outbound_proxy)),
        TAG_IF(s->tls_dir[0], TPTAG_CERTIFICATE(s->tls_dir)),
        TAG_IF(s->tls_dir[0],
               TPTAG_TLS_VERIFY_POLICY(s->opts.tls_verify ? TPTLS_VERIFY_OUT : TPTLS_VERIFY_NONE)),
        TAG_END());
    if (!s->nua) {
        int e = errno ? errno : EADDRINUSE;
        char msg[256];
        snprintf(msg, sizeof msg, "cannot bind SIP on %s: %s", s->bind_url, strerror(e));
        su_root_destroy(s->root);
        s->root = NULL;
        su_deinit();
        start_done(s, -e, msg);
        return NULL;
    }
    start_done(s, 1, NULL);
    su_root_run(s->root);
    if (s->stop_timer)
        su_timer_destroy(s->stop_timer);
    nua_destroy(s->nua);
    s->nua = NULL;
    su_root_destroy(s->root);
    s->root = NULL;
    su_deinit();
    pthread_mutex_lock(&s->mu);
    s->thread_done = true;
    pthread_mutex_unlock(&s->mu);
    uv_async_send(&s->async);
    return NULL;
}

static void sip_free(struct dl_sip *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->started_cv);
    free(s->cmds);
    free(s->events);
    free(s->bind_url);
    free(s->tls_dir);
    free(s->media_address);
    free(s->outbound_proxy);
    free(s->username);
    free(s->password);
    free(s->trunk_host);
    free(s->redirect_domains);
    free(s);
}

static void on_async_closed(uv_handle_t *h)
{
    struct dl_sip *s = h->data;
    dl_sip_stopped_cb cb = s->on_stopped;
    void *arg = s->arg;
    sip_free(s);
    if (cb)
        cb(arg);
}

/* Loop side: delivers queued events; once the thread has ended, joins it and closes. */
static void on_async(uv_async_t *a)
{
    struct dl_sip *s = a->data;
    struct dl_event ev;
    bool done;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->event_len == 0) {
            done = s->thread_done;
            pthread_mutex_unlock(&s->mu);
            break;
        }
        ev = s->events[s->event_head];
        s->event_head = (s->event_head + 1) % s->event_cap;
        s->event_len--;
        pthread_mutex_unlock(&s->mu);
        s->on_event(s->arg, &ev);
    }
    if (done && !uv_is_closing((uv_handle_t *)a)) {
        pthread_join(s->thread, NULL);
        uv_close((uv_handle_t *)a, on_async_closed);
    }
}

int dl_sip_start(uv_loop_t *loop, const struct dl_sip_opts *opts, dl_sip_event_cb on_event,
                 dl_sip_stopped_cb on_stopped, void *arg, struct dl_sip **out, char *err,
                 size_t errlen)
{
    struct dl_sip *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->opts = *opts;
    s->on_event = on_event;
    s->on_stopped = on_stopped;
    s->arg = arg;
    s->bind_url = strdup(opts->bind_url);
    s->tls_dir = strdup(opts->tls_dir ? opts->tls_dir : "");
    s->media_address = strdup(opts->media_address);
    s->outbound_proxy = strdup(opts->outbound_proxy ? opts->outbound_proxy : "");
    s->username = strdup(opts->username ? opts->username : "");
    s->password = strdup(opts->password ? opts->password : "");
    s->trunk_host = strdup(opts->trunk_host ? opts->trunk_host : "");
    s->redirect_domains = strdup(opts->redirect_domains ? opts->redirect_domains : "");
    s->event_cap = 3 * (opts->max_calls + CMD_QUEUE_MAX) + 64;
    s->cmds = calloc(CMD_QUEUE_MAX, sizeof *s->cmds);
    s->events = calloc(s->event_cap, sizeof *s->events);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->started_cv, NULL);
    if (!s->bind_url || !s->tls_dir || !s->media_address || !s->outbound_proxy || !s->username ||
        !s->password || !s->trunk_host || !s->redirect_domains || !s->cmds || !s->events) {
        sip_free(s);
        return -ENOMEM;
    }
    int rc = uv_async_init(loop, &s->async, on_async);
    if (rc) {
        sip_free(s);
        return rc;
    }
    s->async.data = s;
    rc = -pthread_create(&s->thread, NULL, sip_thread, s);
    if (rc) {
        snprintf(err, errlen, "cannot start the SIP thread: %s", strerror(-rc));
        s->on_stopped = NULL;
        uv_close((uv_handle_t *)&s->async, on_async_closed);
        return rc;
    }
    /* Startup only, before the loop runs: binding the SIP ports takes milliseconds. */
    pthread_mutex_lock(&s->mu);
    while (s->start_state == 0)
        pthread_cond_wait(&s->started_cv, &s->mu);
    rc = s->start_state < 0 ? s->start_state : 0;
    snprintf(err, errlen, "%s", s->start_err);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        pthread_join(s->thread, NULL);
        s->on_stopped = NULL;
        uv_close((uv_handle_t *)&s->async, on_async_closed);
        return rc;
    }
    cr_log_info("sip_listening", "url=%s media_address=%s outbound_proxy=%s", cr_log_q(s->bind_url),
                cr_log_q(s->media_address), cr_log_q(s->outbound_proxy));
    *out = s;
    return 0;
}

int dl_sip_call(struct dl_sip *s, const struct dl_order *o)
{
    struct cmd c = {.type = CMD_CALL, .attempt_id = o->attempt_id, .order = *o};
    return cmd_push(s, &c);
}

int dl_sip_cancel(struct dl_sip *s, uint64_t attempt_id)
{
    struct cmd c = {.type = CMD_CANCEL, .attempt_id = attempt_id};
    return cmd_push(s, &c);
}

int dl_sip_hangup(struct dl_sip *s, uint64_t attempt_id)
{
    struct cmd c = {.type = CMD_HANGUP, .attempt_id = attempt_id};
    return cmd_push(s, &c);
}

int dl_sip_abandon(struct dl_sip *s, uint64_t attempt_id)
{
    struct cmd c = {.type = CMD_ABANDON, .attempt_id = attempt_id};
    return cmd_push(s, &c);
}

int dl_sip_machine(struct dl_sip *s, uint64_t attempt_id)
{
    /* the BYE of an abandon: the loop, which ordered it, rewrites ABANDONED into MACHINE */
    return dl_sip_abandon(s, attempt_id);
}

void dl_sip_stop(struct dl_sip *s, bool fast)
{
    struct cmd c = {.type = CMD_STOP, .fast = fast};
    int rc = cmd_push(s, &c);
    if (rc && rc != -ESHUTDOWN)
        cr_log_error("sip_stop_failed", "error=%s", cr_log_q(strerror(-rc)));
}

size_t dl_sip_live_calls(struct dl_sip *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->live_calls;
    pthread_mutex_unlock(&s->mu);
    return n;
}
