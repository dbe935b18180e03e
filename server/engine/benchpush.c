/* The agents benchmark's event source (CARILLON_TESTING builds only): with [testing]
 * bench_push_rate = R, a CallConnected leaves the server R times a second, to the logged-in agent
 * sessions in turn, through agent_push like every other push (tests/bench/agents). */
#ifdef CARILLON_TESTING

#include <inttypes.h>
#include <stdio.h>
#include <uv.h>

#include "api/server.h"
#include "carillon/daemon.h"
#include "carillon/log.h"
#include "engine/engine.h"

/* One server, one engine: the generator's state is the file's own. The timer is closed when the
 * engine stops (checked on each turn) or by the loop's final close_all; it owns no memory. */
static uv_timer_t bench_timer;
static bool bench_started;
static uint64_t bench_seq; /* CallConnected.attempt_id: 1, 2, 3, ... */
/* the next agent in the engine's list to push to (NULL: its head); agent_free moves it on
 * (benchpush_forget) so that it never points at a freed agent */
static struct agent *bench_next;
static long long bench_t0_us; /* when the pacing started */
static long long bench_paced; /* pushes sent since bench_t0_us */

/* The next logged-in (linked) session in the list, wrapping round once; NULL if none. */
static struct agent *next_agent(struct engine *e)
{
    bool from_head = !bench_next;
    for (int pass = 0; pass < 2; pass++) {
        for (struct agent *a = bench_next ? bench_next : e->agents; a; a = a->next)
            if (a->link && !a->ending) {
                bench_next = a->next;
                return a;
            }
        bench_next = NULL;
        if (from_head)
            break;
        from_head = true;
    }
    return NULL;
}

void benchpush_forget(struct agent *a)
{
    if (bench_next == a)
        bench_next = a->next;
}

static void push_one(struct engine *e)
{
    struct agent *a = next_agent(e);
    if (!a)
        return;
    char sent[24];
    Carillon__V1__CallConnected cc = CARILLON__V1__CALL_CONNECTED__INIT;
    cc.attempt_id = ++bench_seq;
    cc.campaign = "bench";
    /* campaign_number carries the send time: CLOCK_REALTIME in microseconds, as text */
    snprintf(sent, sizeof sent, "%lld", cr_now_us());
    cc.campaign_number = sent;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED;
    env.call_connected = &cc;
    agent_push(a, &env);
}

static void on_bench_tick(uv_timer_t *t)
{
    struct engine *e = t->data;
    if (!e->ticking) {
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, NULL);
        return;
    }
    /* as many pushes as are due since the start: a late turn catches up, never bursts past it */
    long long rate = e->srv->cfg.test_bench_push_rate;
    long long due = (cr_now_us() - bench_t0_us) * rate / 1000000 + 1;
    for (int n = 0; bench_paced < due && n < 10000; n++) {
        uint64_t before = bench_seq;
        push_one(e);
        if (bench_seq == before) { /* nobody logged in: the pacing starts again */
            bench_t0_us = cr_now_us();
            bench_paced = 0;
            break;
        }
        bench_paced++;
    }
}

void benchpush_kick(struct engine *e)
{
    long long rate = e->srv->cfg.test_bench_push_rate;
    if (bench_started || rate <= 0 || !e->ticking)
        return;
    bench_started = true;
    bench_t0_us = cr_now_us();
    uv_timer_init(e->srv->loop, &bench_timer);
    bench_timer.data = e;
    uint64_t every_ms = rate >= 1000 ? 1 : (uint64_t)(1000 / rate);
    uv_timer_start(&bench_timer, on_bench_tick, 0, every_ms);
    cr_log_warn("bench_push_started",
                "rate=%lld every_ms=%" PRIu64
                " (test build: CallConnected to the logged-in agents in turn)",
                rate, every_ms);
}

#else
typedef int benchpush_unused; /* ISO C wants a translation unit to hold something */
#endif
