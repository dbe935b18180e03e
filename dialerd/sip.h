/* The SIP side of carillon-dialerd: one sofia-sip nua on its own thread and su_root, placing
 * customer calls through the trunk. The libuv thread talks to it through two bounded queues. */
#ifndef DIALERD_SIP_H
#define DIALERD_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Fixed-size text fields: an order or event is copied whole through the queues. */
#define DL_URI_MAX 256
/* Agent legs share the calls' id space: an agent's leg is agent_id | DL_AGENT_BIT. */
#define DL_AGENT_BIT (1ULL << 63)

struct dl_sip_opts {
    const char *bind_url;       /* where nua listens, e.g. "sip:127.0.0.1:5070" (sips: for TLS) */
    const char *tls_dir;        /* TLS: agent.pem + cafile.pem (TPTAG_CERTIFICATE); else NULL */
    bool tls_verify;            /* TLS: the trunk's certificate must chain to cafile.pem */
    const char *media_address;  /* address written in the SDP */
    const char *outbound_proxy; /* "" or NULL: none */
    const char *username;       /* "" or NULL: 401/407 end the call as a trunk failure */
    const char *password;
    unsigned session_timer_s;     /* 0: off */
    unsigned shutdown_timeout_ms; /* graceful stop: how long live calls may go on */
    size_t max_calls;             /* calls and agent legs at once: sizes the event queue */
    unsigned t1x64_ms;            /* SIP transaction lifetime (NTATAG_SIP_T1X64); 0: 32 s */
};

/* One call to place (copied by dl_sip_call). */
struct dl_order {
    uint64_t attempt_id;
    char to_uri[DL_URI_MAX]; /* request URI and To */
    char from[DL_URI_MAX];   /* From header value: "Name" <sip:id@host> */
    char pai[DL_URI_MAX];    /* P-Asserted-Identity value, or "" (agent legs too) */
    bool privacy;            /* Privacy: id */
    unsigned ring_timeout_ms;
    int rtp_port;   /* offered in the SDP; given back in the ENDED event */
    bool agent_leg; /* a softphone: asked to answer at once (Call-Info: answer-after=0) */
    unsigned abandon_after_ms; /* kept by the loop (0: never abandon); sip.c ignores it */
    uint64_t not_after_ms;     /* kept by the loop: the deadline to dial by, unix ms (0: none) */
    uint64_t campaign_id, contact_id; /* kept by the loop, for its logs */
    int amd_mode;                     /* kept by the loop: carillon.v1.AmdMode */
    int amd_message;                  /* kept by the loop: LEAVE_MESSAGE's index in [messages] */
};

/* Where the far end wants its audio, from the SDP of its 183 or 200 (port 0: not known). */
struct dl_media {
    char ip[48];
    int port;
    int pt_audio; /* 8 PCMA or 0 PCMU, as the far end chose; -1 when neither */
    int pt_dtmf;  /* its telephone-event payload type, or -1 */
};

/* A call's progress, delivered on the libuv loop. state and outcome are the values of the
 * carillon.v1 CallState / CallOutcome enums, hung_up_by of CallParty. */
struct dl_event {
    uint64_t attempt_id;
    int state;
    int outcome;
    int sip_status;
    int hung_up_by;
    int rtp_port;
    long long sent_us, ringing_us, answered_us, ended_us;
    char sip_reason[64];
    char call_id[128];
    char detail[96];
    struct dl_media media; /* RINGING (183 with SDP) and ANSWERED events */
    /* AMD, set by the loop (DETECTED, and ENDED after it): carillon.v1.AmdVerdict, its reason
     * in one word, times from the answer */
    int amd_verdict;
    char amd_reason[32];
    unsigned amd_ms, amd_greeting_end_ms;
};

struct dl_sip; /* made by dl_sip_start, freed by dl_sip.c right after on_stopped returns */

typedef void (*dl_sip_event_cb)(void *arg, const struct dl_event *ev);
typedef void (*dl_sip_stopped_cb)(void *arg);

/* Starts the sofia thread and waits until its SIP stack is bound (or failed: -EADDRINUSE,
 * -EINVAL ..., with err set). Call before uv_run. on_event and on_stopped run on loop. */
int dl_sip_start(uv_loop_t *loop, const struct dl_sip_opts *opts, dl_sip_event_cb on_event,
                 dl_sip_stopped_cb on_stopped, void *arg, struct dl_sip **out, char *err,
                 size_t errlen) __attribute__((warn_unused_result));
/* Queues a call. 0, -EAGAIN (the queue holds as many new calls as it takes: try again once the
 * sofia thread has caught up), -ENOBUFS (queue full), -ESHUTDOWN (stopping). A queued call
 * always ends with one ENDED event (REFUSED when the sofia thread cannot place it). */
int dl_sip_call(struct dl_sip *s, const struct dl_order *o) __attribute__((warn_unused_result));
/* Cancel before the answer (outcome cancelled), hang up after. Unknown ids are ignored. */
int dl_sip_cancel(struct dl_sip *s, uint64_t attempt_id) __attribute__((warn_unused_result));
/* BYE when answered, CANCEL before (outcome cancelled). */
int dl_sip_hangup(struct dl_sip *s, uint64_t attempt_id) __attribute__((warn_unused_result));
/* BYE with outcome abandoned (the loop played the abandon message). */
int dl_sip_abandon(struct dl_sip *s, uint64_t attempt_id) __attribute__((warn_unused_result));
/* BYE after an AMD machine verdict (the loop reports the outcome as MACHINE). */
int dl_sip_machine(struct dl_sip *s, uint64_t attempt_id) __attribute__((warn_unused_result));
/* Stops taking calls; graceful: live calls go on up to shutdown_timeout_ms, fast: they are hung
 * up now. Then nua shuts down, the thread ends and on_stopped runs. A second call may turn a
 * graceful stop into a fast one. */
void dl_sip_stop(struct dl_sip *s, bool fast);
/* Live calls as the sofia thread last counted them. */
size_t dl_sip_live_calls(struct dl_sip *s);

#endif
