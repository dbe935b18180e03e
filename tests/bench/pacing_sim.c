/* Discrete-event simulation of a customer-first outbound day driving the real pacing module
 * (server/engine/pacing.c), against progressive and a reference after VICIdial's ADAPT.
 *
 * One run: N agents logged in for 8 simulated hours. A person answers with a probability drifting
 * from 0.35 (morning) to 0.15 (evening), after ringing uniform 3-15 s; other calls end after
 * uniform 5-20 s. Talk is log-normal (mean 120 s, CV 0.8), wrap-up gamma (mean 15 s, CV 0.5). A
 * person who finds no agent within 2 s is abandoned. The pacers learn only from what they see:
 * call ends (outcome, ring time) and agents freeing up (talk, wrap-up), never these parameters.
 *
 * Output: one line per seed (agents, pacer, seed, figures), then one line per agents x pacer:
 *   RESULT agents=N pacer=P occupancy=O abandon=A worst_hour_abandon=W
 * occupancy and abandon are means over the seeds; worst_hour_abandon is the worst hour of the
 * worst seed (the target is "every hour of every seed"). Rates are fractions.
 *   pacing_sim [--agents N[,N...]] [--seeds FIRST-LAST] [--hours H] [--pacer NAME]
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pacing.h"

#define SEC              1000LL
#define HOUR             (3600 * SEC)
#define ABANDON_AFTER_MS (2 * SEC)
#define ABANDON_TARGET   0.03
#define MAX_HOURS        24

/* --- random numbers: xoshiro256** seeded by splitmix64, one stream per purpose so that the
 * pacers see the same customers and the same agents (common random numbers) ---------------- */
struct rng {
    uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static double rng_unit(struct rng *r) /* [0, 1) */
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (result >> 11) * 0x1.0p-53;
}

static double rng_uniform(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

static double rng_normal(struct rng *r)
{
    double u = 1.0 - rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(2 * M_PI * v);
}

static double rng_lognormal(struct rng *r, double mean, double cv)
{
    double s2 = log(1 + cv * cv);
    return exp(log(mean) - s2 / 2 + sqrt(s2) * rng_normal(r));
}

/* Gamma with shape 1/cv^2 (4 for CV 0.5): the sum of that many exponentials. */
static double rng_gamma_cv(struct rng *r, double mean, double cv)
{
    int k = (int)lround(1.0 / (cv * cv));
    double sum = 0;
    for (int i = 0; i < k; i++)
        sum += -log(1.0 - rng_unit(r));
    return sum * mean / k;
}

/* --- events: a binary heap on time ------------------------------------------------------- */
enum ev_kind { EV_TICK, EV_CALL_RESOLVE, EV_ABANDON, EV_TALK_END, EV_WRAP_END };

struct event {
    int64_t at;
    enum ev_kind kind;
    unsigned id, gen;
};

struct heap {
    struct event *ev;
    size_t n, cap;
};

static void heap_push(struct heap *h, struct event e)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->ev = realloc(h->ev, h->cap * sizeof(*h->ev));
        if (!h->ev)
            abort();
    }
    size_t i = h->n++;
    while (i > 0 && h->ev[(i - 1) / 2].at > e.at) {
        h->ev[i] = h->ev[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->ev[i] = e;
}

static struct event heap_pop(struct heap *h)
{
    struct event top = h->ev[0], last = h->ev[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->ev[c + 1].at < h->ev[c].at)
            c++;
        if (h->ev[c].at >= last.at)
            break;
        h->ev[i] = h->ev[c];
        i = c;
    }
    if (h->n)
        h->ev[i] = last;
    return top;
}

/* --- the simulated campaign -------------------------------------------------------------- */
enum pacer_kind { PACER_PROGRESSIVE, PACER_PREDICTIVE, PACER_REFERENCE, PACER_COUNT };
static const char *pacer_names[PACER_COUNT] = {"progressive", "predictive", "reference"};

enum agent_state { AGENT_READY, AGENT_TALK, AGENT_WRAP };
struct agent {
    enum agent_state state;
    int64_t since, talk_ms;
};

enum call_state { CALL_FREE, CALL_RINGING, CALL_WAITING };
struct call {
    enum call_state state;
    unsigned gen;
    int64_t dialed, answered;
    bool will_answer;
};

struct sim {
    unsigned n_agents;
    int64_t end;
    struct rng calls_rng, agents_rng;
    struct heap heap;
    struct agent *agents;
    struct call *calls;
    unsigned n_calls, max_calls, *free_calls, n_free; /* max_calls = max_simultaneous */
    unsigned n_ringing, n_waiting, n_talking;
    unsigned *waiting; /* FIFO of calls answered and waiting for an agent */
    unsigned wait_head;
    /* figures */
    double busy_ms;
    uint64_t answered[MAX_HOURS], abandoned[MAX_HOURS];
    /* the pacer under test */
    enum pacer_kind kind;
    struct pacing_state *pacing;
    struct pacing_busy_agent *busy_buf;
    int64_t *ringing_buf;
    /* the reference (VICIdial ADAPT) */
    double ref_level, ref_diff_sum;
    unsigned ref_samples;
    uint64_t day_answered, day_abandoned;
};

static double answer_probability(const struct sim *s, int64_t t)
{
    return 0.35 - 0.20 * (double)t / (double)s->end;
}

static unsigned call_alloc(struct sim *s)
{
    if (s->n_free)
        return s->free_calls[--s->n_free];
    if (s->n_calls == s->max_calls)
        abort(); /* run_pacer never launches past max_simultaneous */
    unsigned id = s->n_calls++;
    memset(&s->calls[id], 0, sizeof(s->calls[id]));
    return id;
}

static void call_free(struct sim *s, unsigned id)
{
    s->calls[id].state = CALL_FREE;
    s->calls[id].gen++;
    s->free_calls[s->n_free++] = id;
}

static void busy_add(struct sim *s, int64_t from, int64_t to)
{
    if (to > s->end)
        to = s->end;
    if (to > from)
        s->busy_ms += (double)(to - from);
}

static void launch_call(struct sim *s, int64_t now)
{
    unsigned id = call_alloc(s);
    struct call *c = &s->calls[id];
    c->state = CALL_RINGING;
    c->dialed = now;
    c->will_answer = rng_unit(&s->calls_rng) < answer_probability(s, now);
    double ring =
        c->will_answer ? rng_uniform(&s->calls_rng, 3, 15) : rng_uniform(&s->calls_rng, 5, 20);
    s->n_ringing++;
    heap_push(&s->heap, (struct event){now + (int64_t)(ring * SEC), EV_CALL_RESOLVE, id, c->gen});
}

static void record_answer(struct sim *s, const struct call *c, bool abandoned)
{
    unsigned hour = (unsigned)(c->answered / HOUR);
    if (hour >= MAX_HOURS)
        hour = MAX_HOURS - 1;
    s->answered[hour]++;
    s->day_answered++;
    if (abandoned) {
        s->abandoned[hour]++;
        s->day_abandoned++;
    }
    if (s->pacing)
        pacing_observe_call_end(s->pacing, abandoned ? PACING_ABANDONED : PACING_CONNECTED,
                                c->answered - c->dialed);
}

static void connect(struct sim *s, unsigned call, unsigned agent, int64_t now)
{
    struct agent *a = &s->agents[agent];
    record_answer(s, &s->calls[call], false);
    call_free(s, call);
    a->state = AGENT_TALK;
    a->since = now;
    a->talk_ms = (int64_t)(rng_lognormal(&s->agents_rng, 120, 0.8) * SEC);
    s->n_talking++;
    heap_push(&s->heap, (struct event){now + a->talk_ms, EV_TALK_END, agent, 0});
}

static int ready_agent(const struct sim *s)
{
    for (unsigned i = 0; i < s->n_agents; i++)
        if (s->agents[i].state == AGENT_READY)
            return (int)i;
    return -1;
}

static unsigned count_ready(const struct sim *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->n_agents; i++)
        n += s->agents[i].state == AGENT_READY;
    return n;
}

/* VICIdial ADAPT, as published: a dial level per active agent, re-set every 15 s from the 15 s
 * average of (calls waiting - agents waiting), clamped to [1, 3], lowered and never raised while
 * the day's abandon rate is over target. Calls to place = level x active agents - calls up
 * (VICIdial counts every live call, ringing or bridged, against the goal). */
static void reference_sample(struct sim *s)
{
    s->ref_diff_sum += (double)s->n_waiting - (double)count_ready(s);
    if (++s->ref_samples < 15)
        return;
    double avg = s->ref_diff_sum / s->ref_samples;
    s->ref_diff_sum = 0;
    s->ref_samples = 0;
    double level = s->ref_level * (1.0 - avg / s->n_agents);
    bool over = s->day_answered && (double)s->day_abandoned / s->day_answered > ABANDON_TARGET;
    if (over && level >= s->ref_level)
        level = s->ref_level * 0.95;
    s->ref_level = level < 1 ? 1 : level > 3 ? 3 : level;
}

static void run_pacer(struct sim *s, int64_t now)
{
    if (now >= s->end)
        return;
    unsigned max_simultaneous = s->max_calls;
    unsigned up = s->n_ringing + s->n_waiting + s->n_talking;
    unsigned n = 0;
    if (s->kind == PACER_REFERENCE) {
        double goal = floor(s->ref_level * s->n_agents);
        n = goal > up ? (unsigned)goal - up : 0;
        if (n + up > max_simultaneous)
            n = max_simultaneous > up ? max_simultaneous - up : 0;
    } else {
        unsigned nb = 0, nr = 0;
        for (unsigned i = 0; i < s->n_agents; i++)
            if (s->agents[i].state != AGENT_READY)
                s->busy_buf[nb++] = (struct pacing_busy_agent){
                    .since_ms = s->agents[i].since, .in_wrapup = s->agents[i].state == AGENT_WRAP};
        for (unsigned i = 0; i < s->n_calls; i++)
            if (s->calls[i].state == CALL_RINGING) {
                s->ringing_buf[nr++] = s->calls[i].dialed;
            }
        struct pacing_input in = {
            .now_ms = now,
            .agents_ready = s->n_agents - nb,
            .busy = s->busy_buf,
            .n_busy = nb,
            .ringing_since_ms = s->ringing_buf,
            .n_ringing = nr,
            .calls_connected = s->n_waiting + s->n_talking,
            .calls_waiting = s->n_waiting,
            .dialer_free = max_simultaneous > up ? max_simultaneous - up : 0,
        };
        n = pacing_calls_to_launch(s->pacing, &in);
    }
    for (unsigned i = 0; i < n; i++)
        launch_call(s, now);
}

static void handle(struct sim *s, struct event e)
{
    switch (e.kind) {
    case EV_TICK:
        if (s->kind == PACER_REFERENCE)
            reference_sample(s);
        if (e.at + SEC < s->end)
            heap_push(&s->heap, (struct event){e.at + SEC, EV_TICK, 0, 0});
        break;
    case EV_CALL_RESOLVE: {
        struct call *c = &s->calls[e.id];
        s->n_ringing--;
        if (!c->will_answer) {
            if (s->pacing)
                pacing_observe_call_end(s->pacing, PACING_NOT_ANSWERED, e.at - c->dialed);
            call_free(s, e.id);
            break;
        }
        c->answered = e.at;
        int agent = ready_agent(s);
        if (agent >= 0) {
            connect(s, e.id, (unsigned)agent, e.at);
            break;
        }
        c->state = CALL_WAITING;
        s->waiting[(s->wait_head + s->n_waiting++) % s->max_calls] = e.id;
        heap_push(&s->heap, (struct event){e.at + ABANDON_AFTER_MS, EV_ABANDON, e.id, c->gen});
        break;
    }
    case EV_ABANDON: {
        struct call *c = &s->calls[e.id];
        if (c->gen != e.gen || c->state != CALL_WAITING)
            break;
        /* Waiting calls abandon in the order they were answered, so this one is the head,
         * unless two were answered in the same millisecond: then it is a little further. */
        unsigned k = 0;
        while (s->waiting[(s->wait_head + k) % s->max_calls] != e.id)
            k++;
        for (; k > 0; k--)
            s->waiting[(s->wait_head + k) % s->max_calls] =
                s->waiting[(s->wait_head + k - 1) % s->max_calls];
        s->wait_head = (s->wait_head + 1) % s->max_calls;
        s->n_waiting--;
        record_answer(s, c, true);
        call_free(s, e.id);
        break;
    }
    case EV_TALK_END: {
        struct agent *a = &s->agents[e.id];
        a->state = AGENT_WRAP;
        a->since = e.at;
        s->n_talking--;
        heap_push(&s->heap,
                  (struct event){e.at + (int64_t)(rng_gamma_cv(&s->agents_rng, 15, 0.5) * SEC),
                                 EV_WRAP_END, e.id, 0});
        break;
    }
    case EV_WRAP_END: {
        struct agent *a = &s->agents[e.id];
        int64_t talk_start = a->since - a->talk_ms;
        busy_add(s, talk_start, e.at);
        if (s->pacing)
            pacing_observe_agent_free(s->pacing, a->talk_ms, e.at - a->since);
        a->state = AGENT_READY;
        a->since = e.at;
        if (s->n_waiting) {
            unsigned call = s->waiting[s->wait_head];
            s->wait_head = (s->wait_head + 1) % s->max_calls;
            s->n_waiting--;
            connect(s, call, e.id, e.at);
        }
        break;
    }
    }
}

struct figures {
    double occupancy, abandon, worst_hour;
};

static struct figures simulate(unsigned n_agents, enum pacer_kind kind, unsigned seed, double hours)
{
    struct sim s = {.n_agents = n_agents, .end = (int64_t)(hours * HOUR), .kind = kind};
    rng_seed(&s.calls_rng, seed * 1000003ULL + n_agents);
    rng_seed(&s.agents_rng, seed * 7919ULL + n_agents * 31ULL + 17);
    s.max_calls = 3 * n_agents + 10;
    s.agents = calloc(n_agents, sizeof(*s.agents));
    s.busy_buf = calloc(n_agents, sizeof(*s.busy_buf));
    s.ringing_buf = calloc(s.max_calls, sizeof(*s.ringing_buf));
    s.calls = calloc(s.max_calls, sizeof(*s.calls));
    s.free_calls = calloc(s.max_calls, sizeof(*s.free_calls));
    s.waiting = calloc(s.max_calls, sizeof(*s.waiting));
    if (!s.agents || !s.busy_buf || !s.ringing_buf || !s.calls || !s.free_calls || !s.waiting)
        abort();
    struct pacing_state *ps = NULL;
    if (kind != PACER_REFERENCE) {
        struct pacing_settings set;
        pacing_settings_default(&set);
        set.mode = kind == PACER_PROGRESSIVE ? PACING_PROGRESSIVE : PACING_PREDICTIVE;
        set.max_simultaneous = s.max_calls;
        set.abandon_target = ABANDON_TARGET;
        ps = malloc(sizeof(*ps));
        if (!ps)
            abort();
        pacing_init(ps, &set);
    }
    s.pacing = ps;
    s.ref_level = 1.0;
    heap_push(&s.heap, (struct event){0, EV_TICK, 0, 0});
    while (s.heap.n) {
        struct event e = heap_pop(&s.heap);
        if (e.at >= s.end)
            break;
        handle(&s, e);
        run_pacer(&s, e.at);
    }
    for (unsigned i = 0; i < n_agents; i++) {
        const struct agent *a = &s.agents[i];
        if (a->state == AGENT_TALK)
            busy_add(&s, a->since, s.end);
        else if (a->state == AGENT_WRAP)
            busy_add(&s, a->since - a->talk_ms, s.end);
    }
    struct figures f = {.occupancy = s.busy_ms / ((double)n_agents * (double)s.end)};
    uint64_t ans = 0, ab = 0;
    for (unsigned h = 0; h < MAX_HOURS; h++) {
        ans += s.answered[h];
        ab += s.abandoned[h];
        if (s.answered[h]) {
            double r = (double)s.abandoned[h] / s.answered[h];
            if (r > f.worst_hour)
                f.worst_hour = r;
        }
    }
    f.abandon = ans ? (double)ab / ans : 0;
    if (getenv("PACING_SIM_HOURLY")) { /* tuning aid: each hour's answers and abandon rate */
        for (unsigned h = 0; h < MAX_HOURS && s.answered[h]; h++)
            fprintf(stderr, " h%u:%llu/%.3f", h, (unsigned long long)s.answered[h],
                    (double)s.abandoned[h] / s.answered[h]);
        fprintf(stderr, " risk_scale=%.3f\n", ps ? ps->risk_scale : 0);
    }
    free(s.heap.ev);
    free(s.agents);
    free(s.calls);
    free(s.free_calls);
    free(s.waiting);
    free(s.busy_buf);
    free(s.ringing_buf);
    free(ps);
    return f;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pacing_sim [--agents N[,N...]] [--seeds FIRST-LAST] [--hours H] [--pacer P]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned agents[16] = {10, 50, 100}, n_sizes = 3, seed_lo = 1, seed_hi = 5;
    double hours = 8;
    int only = -1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--agents")) {
            n_sizes = 0;
            for (char *end; *v && n_sizes < 16; v = *end ? end + 1 : end) {
                agents[n_sizes] = (unsigned)strtoul(v, &end, 10);
                if (agents[n_sizes++] == 0)
                    usage();
            }
        } else if (!strcmp(argv[i - 1], "--seeds")) {
            if (sscanf(v, "%u-%u", &seed_lo, &seed_hi) != 2 || seed_lo > seed_hi)
                usage();
        } else if (!strcmp(argv[i - 1], "--hours")) {
            hours = atof(v);
            if (!(hours > 0 && hours <= MAX_HOURS))
                usage();
        } else if (!strcmp(argv[i - 1], "--pacer")) {
            for (int p = 0; p < PACER_COUNT; p++)
                if (!strcmp(v, pacer_names[p]))
                    only = p;
            if (only < 0)
                usage();
        } else {
            usage();
        }
    }
    printf("pacing simulation: %.0f h, customer-first (abandon after 2 s), seeds %u-%u, abandon "
           "target %.2f\n",
           hours, seed_lo, seed_hi, ABANDON_TARGET);
    for (unsigned a = 0; a < n_sizes; a++) {
        for (int p = 0; p < PACER_COUNT; p++) {
            if (only >= 0 && p != only)
                continue;
            double occ = 0, ab = 0, worst = 0;
            for (unsigned seed = seed_lo; seed <= seed_hi; seed++) {
                struct figures f = simulate(agents[a], (enum pacer_kind)p, seed, hours);
                printf("agents=%u pacer=%s seed=%u occupancy=%.3f abandon=%.3f "
                       "worst_hour_abandon=%.3f\n",
                       agents[a], pacer_names[p], seed, f.occupancy, f.abandon, f.worst_hour);
                fflush(stdout);
                occ += f.occupancy;
                ab += f.abandon;
                if (f.worst_hour > worst)
                    worst = f.worst_hour;
            }
            unsigned n = seed_hi - seed_lo + 1;
            printf(
                "RESULT agents=%u pacer=%s occupancy=%.3f abandon=%.3f worst_hour_abandon=%.3f\n",
                agents[a], pacer_names[p], occ / n, ab / n, worst);
            fflush(stdout);
        }
    }
    return 0;
}
