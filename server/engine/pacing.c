/* Campaign pacing (see pacing.h): the number of calls to launch now for preview, progressive,
 * power and predictive campaigns. Pure: the engine passes the time and the state it sees.
 *
 * Why predictive works the way it does
 * ------------------------------------
 * Customer first: a person who answers must find an agent within a couple of seconds or the
 * call is abandoned, which the law counts against the campaign (3 % of the answered calls in
 * France, the UK and the US). Dialing one call per ready agent (progressive) never abandons but
 * leaves every agent waiting through the unanswered attempts before each conversation: with
 * one answer in four or five dials that is most of a minute per call. Predictive dials ahead so
 * that answers arrive as agents free up.
 *
 * The question at each decision is therefore "if I add n calls, how many people will answer
 * and find nobody?". Answers and free agents are compared at 8 instants spread over the next
 * twice the observed mean ring time (a call launched now is answered within that), not at one
 * horizon: a person answering in 3 s is not served by an agent who frees up in 9 s, and with
 * many agents it is that timing, more than the counts, that abandons.
 *  - demand by each instant: the customers already waiting, plus each call still ringing
 *    weighed by its chance of being answered by then given how long it has rung already
 *    (answered calls ring 3-15 s, calls nobody answers go on longer: a call ringing for 16 s is
 *    almost surely lost), from the learnt answer rate and the two learnt ring-time
 *    distributions; plus, for the n new calls, the answer rate times the chance of an answer
 *    that soon.
 *  - supply by each instant (the look-ahead): the ready agents, plus each agent in wrap-up
 *    weighed by the chance of finishing by then given how long it has been at it, plus each
 *    agent in talk weighed by the chance that the talk AND the wrap-up after it both end by
 *    then. Talk time is long-tailed (an agent 5 minutes into a call is not "about to finish"
 *    because the mean is 2 minutes) and a talking agent needs ~15 s of wrap-up more: counting
 *    talk + wrap-up as one duration conditioned on the elapsed talk overstated the agents
 *    about to free up, pinned the feedback at its floor and still abandoned 4.5 % (15 % in the
 *    first hour) at 100 agents in the simulation.
 * Both are sums of independent yes/no events, so each shortfall (demand - supply) is treated as
 * normal and E[shortfall+] is the expected number of people left without an agent. The pacer
 * launches the most calls for which the worst instant's E[shortfall+] stays under target x
 * risk_scale x the answers expected. The 2 s a customer may wait are NOT counted as supply: they
 * are the margin that absorbs the model's timing error (counting them as capacity promises
 * them twice).
 *
 * The model is only a model, so a feedback loop scales the risk it may take from the abandons
 * actually observed: each answered call moves the scale, down by a step for an abandon and up
 * by the step that balances out at the setpoint for a connected call, so the long-run rate
 * settles at the setpoint instead of wherever a lagged window left it.
 *
 * Safe start: with too little history the distributions mean nothing, so predictive dials as
 * progressive until enough calls and agents have been seen. Small teams: the normal
 * approximation of a handful of agents is poor and conservative, and a team of 2-10 agents can
 * be left with nothing to do; predictive never dials below progressive (one call for each
 * ready agent not covered by a call in flight), which never abandons. Everything is learnt from
 * observations with forgetting, since the answer rate drifts over a day.
 */
#include "engine/pacing.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Observations a learnt figure remembers (the older ones fade). */
#define ANSWER_RATE_MEMORY 400.0
#define RING_MEMORY        2000.0
#define HANDLE_MEMORY      400.0
/* History needed before predictive leaves its safe start. */
#define SAFE_START_CALLS   100
#define SAFE_START_ANSWERS 20
#define SAFE_START_FREES   10
/* The feedback: its setpoint as a fraction of the target (aim under it so that an hour's noise
 * stays under), the step of log(risk_scale) per abandon, where it starts and its range. It
 * starts low because the model is optimistic (it treats answers and frees as independent
 * events and decides again at every event, topping up calls it cannot take back): the scale
 * settles between 0.05 and 0.4 in the simulation. Starting at 1 cost 3.5-5 % of
 * abandons in the first hour of a 10-agent team while the feedback came down; starting low
 * costs a few minutes of caution while it climbs (faster the more calls are answered). */
#define FEEDBACK_SETPOINT 0.8
#define FEEDBACK_STEP     0.08
#define RISK_SCALE_START  0.2
#define RISK_SCALE_MIN    0.01
#define RISK_SCALE_MAX    4.0
/* Predictive never keeps more calls ringing than this many per agent, whatever the model. */
#define MAX_RINGING_PER_AGENT 6

void pacing_settings_default(struct pacing_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->mode = PACING_PREDICTIVE;
    s->power_ratio = 1.0;
    s->abandon_target = PACING_DEFAULT_ABANDON_TARGET;
}

int pacing_settings_check(const struct pacing_settings *s, const char **why)
{
    if (s->mode != PACING_PREVIEW && s->mode != PACING_PROGRESSIVE && s->mode != PACING_POWER &&
        s->mode != PACING_PREDICTIVE) {
        *why = "unknown dialing mode";
        return -EINVAL;
    }
    if (s->mode == PACING_POWER &&
        !(s->power_ratio >= PACING_POWER_RATIO_MIN && s->power_ratio <= PACING_POWER_RATIO_MAX)) {
        *why = "power ratio must be between 1 and 10 calls per ready agent";
        return -EINVAL;
    }
    if (s->mode == PACING_PREDICTIVE && !(s->abandon_target > 0.0 && s->abandon_target < 1.0)) {
        *why = "abandon target must be a fraction between 0 and 1 (exclusive)";
        return -EINVAL;
    }
    return 0;
}

static void hist_init(struct pacing_hist *h, unsigned bin_ms, double memory)
{
    memset(h, 0, sizeof(*h));
    h->bin_ms = bin_ms;
    h->weight = 1.0;
    h->memory = memory;
}

static unsigned hist_bin(const struct pacing_hist *h, int64_t ms)
{
    if (ms <= 0)
        return 0;
    int64_t i = ms / h->bin_ms;
    return i >= PACING_HIST_BINS ? PACING_HIST_BINS - 1 : (unsigned)i;
}

/* Each observation weighs (1 + 1/memory) times the previous one: the same forgetting as
 * multiplying every bin down, at the cost of one rescale now and then. */
static void hist_add(struct pacing_hist *h, int64_t ms)
{
    h->bins[hist_bin(h, ms)] += h->weight;
    h->total += h->weight;
    h->weight *= 1.0 + 1.0 / h->memory;
    h->dirty = true;
    if (h->weight > 1e100) {
        for (unsigned i = 0; i < PACING_HIST_BINS; i++)
            h->bins[i] /= h->weight;
        h->total /= h->weight;
        h->weight = 1.0;
    }
}

static void hist_refresh(struct pacing_hist *h)
{
    if (!h->dirty)
        return;
    double sum = 0;
    for (unsigned i = 0; i < PACING_HIST_BINS; i++) {
        sum += h->bins[i];
        h->cdf[i] = h->total > 0 ? sum / h->total : 0;
    }
    h->dirty = false;
}

/* Fraction of the observations at most ms long (an observation counts in its bin's end). */
static double hist_cdf(const struct pacing_hist *h, int64_t ms)
{
    if (ms < 0)
        return 0;
    return h->cdf[hist_bin(h, ms)];
}

static double hist_mean_ms(const struct pacing_hist *h)
{
    if (h->total <= 0)
        return 0;
    double sum = 0;
    for (unsigned i = 0; i < PACING_HIST_BINS; i++)
        sum += h->bins[i] * (i + 0.5) * h->bin_ms;
    return sum / h->total;
}

/* P(duration <= elapsed + ahead | duration > elapsed); 1 once past everything ever seen. */
static double hist_within(const struct pacing_hist *h, int64_t elapsed, int64_t ahead)
{
    double before = hist_cdf(h, elapsed - 1);
    if (before >= 1.0 - 1e-9)
        return 1.0;
    return (hist_cdf(h, elapsed + ahead) - before) / (1.0 - before);
}

void pacing_set_settings(struct pacing_state *st, const struct pacing_settings *s)
{
    st->settings = *s;
}

void pacing_init(struct pacing_state *st, const struct pacing_settings *s)
{
    memset(st, 0, sizeof(*st));
    st->settings = *s;
    st->answer_rate = 0;
    hist_init(&st->ring_answered, PACING_RING_BIN_MS, RING_MEMORY);
    hist_init(&st->ring_unanswered, PACING_RING_BIN_MS, RING_MEMORY);
    hist_init(&st->talk, PACING_HANDLE_BIN_MS, HANDLE_MEMORY);
    hist_init(&st->wrapup, PACING_HANDLE_BIN_MS, HANDLE_MEMORY);
    st->risk_scale = RISK_SCALE_START;
}

double pacing_window_abandon_rate(const struct pacing_state *st)
{
    return st->window_count ? (double)st->window_abandoned / st->window_count : 0.0;
}

static void window_push(struct pacing_state *st, bool abandoned)
{
    unsigned word = st->window_next / 64, bit = st->window_next % 64;
    uint64_t mask = (uint64_t)1 << bit;
    if (st->window_count == PACING_ABANDON_WINDOW) {
        if (st->window[word] & mask)
            st->window_abandoned--;
    } else {
        st->window_count++;
    }
    if (abandoned) {
        st->window[word] |= mask;
        st->window_abandoned++;
    } else {
        st->window[word] &= ~mask;
    }
    st->window_next = (st->window_next + 1) % PACING_ABANDON_WINDOW;
}

/* One step per answered call, from that call alone: an abandon lowers the risk the model may
 * take by FEEDBACK_STEP, a connected call raises it by the step that balances out exactly at the
 * setpoint (down x rate = up x (1 - rate)). Steering from the window's rate instead kept pushing
 * down for as long as one burst of abandons stayed in the window (an hour of calls for a small
 * team), so the scale collapsed, took hours to creep back, and the rate sat well under target. */
static void feedback_update(struct pacing_state *st, bool abandoned)
{
    double target = st->settings.abandon_target;
    if (!(target > 0 && target < 1))
        target = PACING_DEFAULT_ABANDON_TARGET;
    double setpoint = FEEDBACK_SETPOINT * target;
    double step = abandoned ? -FEEDBACK_STEP : FEEDBACK_STEP * setpoint / (1.0 - setpoint);
    st->risk_scale *= exp(step);
    if (st->risk_scale < RISK_SCALE_MIN)
        st->risk_scale = RISK_SCALE_MIN;
    if (st->risk_scale > RISK_SCALE_MAX)
        st->risk_scale = RISK_SCALE_MAX;
}

void pacing_observe_call_end(struct pacing_state *st, enum pacing_outcome outcome, int64_t ring_ms)
{
    bool answered = outcome == PACING_CONNECTED || outcome == PACING_ABANDONED;
    st->calls_ended++;
    /* The first calls weigh as much as a plain average would, then forgetting takes over. */
    double alpha =
        1.0 / (st->calls_ended < ANSWER_RATE_MEMORY ? (double)st->calls_ended : ANSWER_RATE_MEMORY);
    st->answer_rate += alpha * ((answered ? 1.0 : 0.0) - st->answer_rate);
    hist_add(answered ? &st->ring_answered : &st->ring_unanswered, ring_ms);
    if (!answered)
        return;
    st->answers_ended++;
    st->answered_total++;
    if (outcome == PACING_ABANDONED)
        st->abandoned_total++;
    window_push(st, outcome == PACING_ABANDONED);
    feedback_update(st, outcome == PACING_ABANDONED);
}

void pacing_observe_agent_free(struct pacing_state *st, int64_t talk_ms, int64_t wrapup_ms)
{
    st->agents_freed++;
    hist_add(&st->talk, talk_ms);
    hist_add(&st->wrapup, wrapup_ms);
}

bool pacing_has_history(const struct pacing_state *st)
{
    return st->calls_ended >= SAFE_START_CALLS && st->answers_ended >= SAFE_START_ANSWERS &&
           st->agents_freed >= SAFE_START_FREES;
}

static unsigned sub_floor0(unsigned a, unsigned b)
{
    return a > b ? a - b : 0;
}

/* E[max(D, 0)] for D normal with mean m and standard deviation s. */
static double expected_excess(double m, double s)
{
    if (s < 1e-9)
        return m > 0 ? m : 0;
    double z = m / s;
    double cdf = 0.5 * erfc(-z / M_SQRT2);
    double pdf = exp(-0.5 * z * z) / sqrt(2 * M_PI);
    return m * cdf + s * pdf;
}

/* Chance that a call ringing for elapsed ms is answered by a person within the next ahead ms
 * (ahead < 0: whenever). */
static double ringing_answer_chance(const struct pacing_state *st, int64_t elapsed, int64_t ahead)
{
    double p = st->answer_rate;
    double before = hist_cdf(&st->ring_answered, elapsed - 1);
    double alive_answered = p * (1.0 - before);
    double alive_unanswered = (1.0 - p) * (1.0 - hist_cdf(&st->ring_unanswered, elapsed - 1));
    double alive = alive_answered + alive_unanswered;
    if (alive <= 1e-12)
        return 0.0;
    if (ahead < 0)
        return alive_answered / alive;
    return p * (hist_cdf(&st->ring_answered, elapsed + ahead) - before) / alive;
}

/* Answers and free agents are compared at several instants ahead, not at one horizon: a person
 * answering in 3 s is not served by an agent who frees up in 9 s, and with many agents that
 * timing, not the count, is what abandons. */
#define CHECKPOINTS 8

struct balance {
    double answers[CHECKPOINTS], answers_var[CHECKPOINTS];
    double frees[CHECKPOINTS], frees_var[CHECKPOINTS];
    double new_call[CHECKPOINTS]; /* chance that a call launched now is answered by then */
    double demand;                /* answers expected from the calls ringing, whenever */
};

static void balance_build(struct pacing_state *st, const struct pacing_input *in, struct balance *b)
{
    memset(b, 0, sizeof(*b));
    /* Checkpoints spread over twice the mean ring time: past that, nearly all answers are in. */
    int64_t step = (int64_t)(2 * hist_mean_ms(&st->ring_answered)) / CHECKPOINTS;
    if (step < 250)
        step = 250;
    for (unsigned i = 0; i < in->n_ringing; i++) {
        int64_t elapsed = in->now_ms - in->ringing_since_ms[i];
        b->demand += ringing_answer_chance(st, elapsed, -1);
        for (unsigned j = 0; j < CHECKPOINTS; j++) {
            double q = ringing_answer_chance(st, elapsed, step * (j + 1));
            b->answers[j] += q;
            b->answers_var[j] += q * (1 - q);
        }
    }
    /* A talking agent is free only after the talk AND the wrap-up: the chance of the talk
     * ending in each step ahead, convolved with the wrap-up fitting in what is left. */
    double wrap_fits[CHECKPOINTS + 1];
    for (unsigned k = 0; k <= CHECKPOINTS; k++)
        wrap_fits[k] = hist_cdf(&st->wrapup, step * k);
    for (unsigned i = 0; i < in->n_busy; i++) {
        const struct pacing_busy_agent *a = &in->busy[i];
        int64_t elapsed = in->now_ms - a->since_ms;
        double by[CHECKPOINTS], ends[CHECKPOINTS];
        for (unsigned j = 0; j < CHECKPOINTS; j++) {
            by[j] = hist_within(a->in_wrapup ? &st->wrapup : &st->talk, elapsed, step * (j + 1));
            ends[j] = by[j] - (j ? by[j - 1] : 0);
        }
        for (unsigned j = 0; j < CHECKPOINTS; j++) {
            double r = a->in_wrapup ? by[j] : 0;
            for (unsigned k = 0; !a->in_wrapup && k <= j; k++)
                r += ends[k] * wrap_fits[j - k];
            b->frees[j] += r;
            b->frees_var[j] += r * (1 - r);
        }
    }
    b->demand += in->calls_detecting;
    for (unsigned j = 0; j < CHECKPOINTS; j++) {
        b->answers[j] += in->calls_waiting + in->calls_detecting;
        b->frees[j] += in->agents_ready;
        b->new_call[j] = st->answer_rate * hist_cdf(&st->ring_answered, step * (j + 1));
    }
}

/* The people expected to find no agent if n more calls are launched: the worst checkpoint. */
static double balance_shortfall(const struct balance *b, unsigned n)
{
    double worst = 0;
    for (unsigned j = 0; j < CHECKPOINTS; j++) {
        double q = b->new_call[j];
        double m = b->answers[j] + n * q - b->frees[j];
        double var = b->answers_var[j] + n * q * (1 - q) + b->frees_var[j];
        double e = expected_excess(m, sqrt(var));
        if (e > worst)
            worst = e;
    }
    return worst;
}

static unsigned predictive_calls(struct pacing_state *st, const struct pacing_input *in,
                                 unsigned progressive, unsigned room)
{
    if (!pacing_has_history(st))
        return progressive;
    hist_refresh(&st->ring_answered);
    hist_refresh(&st->ring_unanswered);
    hist_refresh(&st->talk);
    hist_refresh(&st->wrapup);

    struct balance b;
    balance_build(st, in, &b);
    double p = st->answer_rate;
    double allowed = st->settings.abandon_target * st->risk_scale;
    unsigned agents = in->agents_ready + in->n_busy;
    unsigned cap = sub_floor0(agents * MAX_RINGING_PER_AGENT, in->n_ringing + in->calls_detecting);
    if (cap > room)
        cap = room;
    unsigned n = 0;
    while (n < cap && balance_shortfall(&b, n + 1) <= allowed * (b.demand + (n + 1) * p))
        n++;
    return n > progressive ? n : progressive;
}

unsigned pacing_calls_to_launch(struct pacing_state *st, const struct pacing_input *in)
{
    const struct pacing_settings *s = &st->settings;
    unsigned up = in->n_ringing + in->calls_connected;
    unsigned room = sub_floor0(s->max_simultaneous, up);
    if (room > in->dialer_free)
        room = in->dialer_free;
    if (room == 0)
        return 0;

    /* a call waiting for its AMD verdict covers an agent as a ringing one does */
    unsigned pending = in->n_ringing + in->calls_detecting;
    unsigned progressive = sub_floor0(in->agents_ready, pending);
    unsigned want = 0;
    switch (s->mode) {
    case PACING_PREVIEW:
        want = 0;
        break;
    case PACING_PROGRESSIVE:
        want = progressive;
        break;
    case PACING_POWER: {
        /* The epsilon keeps 1.1 x 10 agents at 11 despite 1.1 not being exact in binary. */
        double goal = floor(s->power_ratio * in->agents_ready + 1e-9);
        want = sub_floor0((unsigned)goal, pending);
        break;
    }
    case PACING_PREDICTIVE:
        want = predictive_calls(st, in, progressive < room ? progressive : room, room);
        break;
    }
    return want < room ? want : room;
}
