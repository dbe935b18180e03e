/* Campaign pacing: how many calls a campaign should launch now, from its dialing mode, its
 * limits and what it has observed of its calls and agents. Pure: no I/O, no clock, no malloc. */
#ifndef CARILLON_PACING_H
#define CARILLON_PACING_H

#include <stdbool.h>
#include <stdint.h>

enum pacing_mode {
    PACING_PREVIEW,     /* the agent sees the contact and dials: no automatic call */
    PACING_PROGRESSIVE, /* one call per ready agent not already covered by a call in flight */
    PACING_POWER,       /* power_ratio calls per ready agent */
    PACING_PREDICTIVE,  /* calls in flight adapt to keep the abandon rate under its target */
};

/* How a call that was dialed ended, as far as pacing cares. */
enum pacing_outcome {
    PACING_NOT_ANSWERED, /* no answer, busy, rejected, failure, machine: no agent was needed */
    PACING_CONNECTED,    /* answered by a person and bridged to an agent */
    PACING_ABANDONED,    /* answered by a person who found no agent in time */
};

#define PACING_DEFAULT_ABANDON_TARGET 0.03
/* Bounds of power_ratio: below 1 power dials less than progressive, above 10 it is a typo. */
#define PACING_POWER_RATIO_MIN 1.0
#define PACING_POWER_RATIO_MAX 10.0
/* Answered calls over which the observed abandon rate is measured (the sliding window). */
#define PACING_ABANDON_WINDOW 256
/* Histograms of observed durations: fixed bins, so learning never allocates. */
#define PACING_HIST_BINS     600
#define PACING_RING_BIN_MS   100  /* 0-60 s of ringing */
#define PACING_HANDLE_BIN_MS 1000 /* 0-10 min of talk or of wrap-up */

/* A campaign's pacing settings (from its row in campaigns; validated by pacing_settings_check). */
struct pacing_settings {
    enum pacing_mode mode;
    unsigned max_simultaneous; /* most calls up at once (ringing + connected); 0 dials nothing */
    double power_ratio;        /* PACING_POWER: calls per ready agent, in [1, 10] */
    double abandon_target;     /* PACING_PREDICTIVE: abandoned / answered by a person, (0, 1) */
};

/* An agent in talk or in wrap-up, as the engine sees it when it asks for a decision. */
struct pacing_busy_agent {
    int64_t since_ms; /* when the current state (talk or wrap-up) began */
    bool in_wrapup;
};

/* What the engine knows at the instant of a decision. The arrays are the caller's, read only. */
struct pacing_input {
    int64_t now_ms;
    unsigned agents_ready; /* logged in, ready, not bridged nor reserved */
    const struct pacing_busy_agent *busy;
    unsigned n_busy;
    const int64_t *ringing_since_ms; /* one per call dialed and not answered yet: when dialed */
    unsigned n_ringing;
    unsigned calls_connected; /* answered calls still up (bridged, waiting for an agent, or
                                 waiting for an AMD verdict) */
    unsigned calls_waiting;   /* of those, answered and waiting for an agent (customer first) */
    /* of those, answered and waiting for the dialer's AMD verdict: each may need an agent
     * within seconds (a person, or not sure), so it is counted as a call that will need one,
     * like a waiting call, until its verdict says otherwise */
    unsigned calls_detecting;
    unsigned dialer_free; /* free call slots over all the dialers serving the campaign */
};

/* A histogram of durations that forgets: each observation weighs a little more than the one
 * before, so the oldest fade out and a drifting day is followed without touching every bin. */
struct pacing_hist {
    double bins[PACING_HIST_BINS];
    double cdf[PACING_HIST_BINS]; /* cumulative fraction, rebuilt lazily when dirty */
    double total, weight, memory;
    unsigned bin_ms;
    bool dirty;
};

/* Everything one campaign's pacer has learnt. Owned by the caller (the engine embeds one per
 * running campaign, about 40 KiB); pacing_init fills it, nothing inside needs freeing, and it
 * holds no pointer, so it may be copied. */
struct pacing_state {
    struct pacing_settings settings;
    /* learnt from call ends */
    double answer_rate; /* answered by a person / dialed, exponentially weighted */
    uint64_t calls_ended;
    uint64_t agents_freed;
    struct pacing_hist ring_answered;   /* dial to answer, calls answered by a person */
    struct pacing_hist ring_unanswered; /* dial to end, calls nobody answered */
    struct pacing_hist talk;            /* conversation, answer to hang-up */
    struct pacing_hist wrapup;          /* wrap-up alone */
    uint64_t answers_ended;
    /* the observed abandon rate: one bit per answered call, newest at window_next */
    uint64_t window[PACING_ABANDON_WINDOW / 64];
    unsigned window_next, window_count, window_abandoned;
    /* feedback: scales the abandon risk the model may take; down on each abandon, up on each
     * connected call, balanced at 0.8 x the target */
    double risk_scale;
    uint64_t answered_total, abandoned_total;
};

/* Fills in settings' defaults for a predictive campaign (target 3 %, ratio 1). */
void pacing_settings_default(struct pacing_settings *s);
/* 0, or -EINVAL with *why saying which setting is out of range. */
__attribute__((warn_unused_result)) int pacing_settings_check(const struct pacing_settings *s,
                                                              const char **why);
/* Starts a campaign's pacer with no history (safe start: predictive behaves as progressive). */
void pacing_init(struct pacing_state *st, const struct pacing_settings *s);
/* New settings on a running campaign: what has been learnt is kept. */
void pacing_set_settings(struct pacing_state *st, const struct pacing_settings *s);

/* A dialed call ended its ringing: answered (connected or abandoned) after ring_ms, or not
 * answered after ring_ms of trying. */
void pacing_observe_call_end(struct pacing_state *st, enum pacing_outcome outcome, int64_t ring_ms);
/* An agent became ready again after a call: talk_ms of conversation, wrapup_ms of wrap-up. */
void pacing_observe_agent_free(struct pacing_state *st, int64_t talk_ms, int64_t wrapup_ms);

/* How many calls to launch now (never more than max_simultaneous allows, nor dialer_free). */
unsigned pacing_calls_to_launch(struct pacing_state *st, const struct pacing_input *in);

/* Whether the predictive pacer has seen enough to leave its progressive safe start. */
bool pacing_has_history(const struct pacing_state *st);
/* Abandoned / answered over the sliding window (0 with nothing answered yet). */
double pacing_window_abandon_rate(const struct pacing_state *st);

#endif
