/* Pacing (server/engine/pacing.c): each mode's arithmetic, the bounds (max simultaneous calls,
 * 0 included, and the dialers' capacity), the safe start, the look-ahead, the back-off when
 * abandons exceed the target, and small teams that are never starved. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/pacing.h"

#define NOW 10000000LL /* any instant: the module reads time only from its input */

static struct pacing_state *fresh(enum pacing_mode mode, unsigned max_simultaneous)
{
    static struct pacing_state st; /* ~40 KiB: kept off the test's stack */
    struct pacing_settings s;
    pacing_settings_default(&s);
    s.mode = mode;
    s.max_simultaneous = max_simultaneous;
    pacing_init(&st, &s);
    return &st;
}

static struct pacing_input idle(unsigned ready)
{
    return (struct pacing_input){.now_ms = NOW, .agents_ready = ready, .dialer_free = 1000};
}

/* A steady history: one call in four answered after 8 s, the others given up after 15 s; agents
 * talk 100 s and wrap up 10 s. */
static void learn(struct pacing_state *st, unsigned calls, unsigned abandoned_every)
{
    unsigned answered = 0;
    for (unsigned i = 0; i < calls; i++) {
        if (i % 4 == 0) {
            answered++;
            bool abandoned = abandoned_every && answered % abandoned_every == 0;
            pacing_observe_call_end(st, abandoned ? PACING_ABANDONED : PACING_CONNECTED, 8000);
        } else {
            pacing_observe_call_end(st, PACING_NOT_ANSWERED, 15000);
        }
    }
    for (unsigned i = 0; i < calls / 8; i++)
        pacing_observe_agent_free(st, 100000, 10000);
}

static void test_preview_dials_nothing(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PREVIEW, 100);
    struct pacing_input in = idle(20);
    assert_int_equal(pacing_calls_to_launch(st, &in), 0);
}

static void test_progressive_one_call_per_uncovered_agent(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PROGRESSIVE, 100);
    int64_t ringing[3] = {NOW - 1000, NOW - 2000, NOW - 3000};
    struct pacing_input in = idle(5);
    assert_int_equal(pacing_calls_to_launch(st, &in), 5);
    in.ringing_since_ms = ringing;
    in.n_ringing = 2;
    assert_int_equal(pacing_calls_to_launch(st, &in), 3);
    in.agents_ready = 2;
    assert_int_equal(pacing_calls_to_launch(st, &in), 0);
    in.n_ringing = 3; /* more calls than ready agents: still nothing, never negative */
    assert_int_equal(pacing_calls_to_launch(st, &in), 0);
    in.agents_ready = 0;
    assert_int_equal(pacing_calls_to_launch(st, &in), 0);
}

/* A call waiting for its AMD verdict may be a person who needs an agent within seconds: it
 * covers an agent as a ringing call does, in every mode. */
static void test_detecting_calls_cover_agents(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PROGRESSIVE, 100);
    struct pacing_input in = idle(3);
    in.calls_detecting = 1;
    in.calls_connected = 1;
    assert_int_equal(pacing_calls_to_launch(st, &in), 2);
    in.calls_detecting = in.calls_connected = 3;
    assert_int_equal(pacing_calls_to_launch(st, &in), 0);
    struct pacing_settings s = st->settings;
    s.mode = PACING_POWER;
    s.power_ratio = 2.0;
    pacing_set_settings(st, &s);
    assert_int_equal(pacing_calls_to_launch(st, &in), 3);
    /* predictive: a detecting call is demand now, like a customer waiting */
    st = fresh(PACING_PREDICTIVE, 1000);
    learn(st, 800, 0);
    in = idle(10);
    unsigned none = pacing_calls_to_launch(st, &in);
    in.calls_detecting = in.calls_connected = 8;
    unsigned some = pacing_calls_to_launch(st, &in);
    assert_true(some < none);
    /* and they count against max_simultaneous */
    st = fresh(PACING_POWER, 4);
    in = idle(10);
    in.calls_detecting = in.calls_connected = 3;
    assert_int_equal(pacing_calls_to_launch(st, &in), 1);
}

static void test_power_ratio_times_ready_agents(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_POWER, 100);
    struct pacing_settings s = st->settings;
    s.power_ratio = 2.0;
    pacing_set_settings(st, &s);
    int64_t ringing[3] = {NOW, NOW, NOW};
    struct pacing_input in = idle(4);
    assert_int_equal(pacing_calls_to_launch(st, &in), 8);
    in.ringing_since_ms = ringing;
    in.n_ringing = 3;
    assert_int_equal(pacing_calls_to_launch(st, &in), 5);
    s.power_ratio = 1.5; /* 1.5 x 3 = 4.5 calls: whole calls only, rounded down */
    pacing_set_settings(st, &s);
    in.agents_ready = 3;
    in.n_ringing = 0;
    assert_int_equal(pacing_calls_to_launch(st, &in), 4);
    s.power_ratio = 1.1; /* 1.1 x 10 is 11, though 1.1 is not exact in binary */
    pacing_set_settings(st, &s);
    in.agents_ready = 10;
    assert_int_equal(pacing_calls_to_launch(st, &in), 11);
}

static void test_max_simultaneous_bounds_every_mode(void **state)
{
    (void)state;
    enum pacing_mode modes[] = {PACING_PROGRESSIVE, PACING_POWER, PACING_PREDICTIVE};
    for (unsigned m = 0; m < 3; m++) {
        struct pacing_state *st = fresh(modes[m], 0);
        struct pacing_settings s = st->settings;
        s.power_ratio = 3.0;
        pacing_set_settings(st, &s);
        learn(st, 400, 0);
        struct pacing_input in = idle(10);
        assert_int_equal(pacing_calls_to_launch(st, &in), 0); /* 0: nothing dialed */

        s.max_simultaneous = 6; /* 2 ringing + 3 connected leave room for 1 */
        pacing_set_settings(st, &s);
        int64_t ringing[2] = {NOW - 500, NOW - 500};
        in.ringing_since_ms = ringing;
        in.n_ringing = 2;
        in.calls_connected = 3;
        assert_int_equal(pacing_calls_to_launch(st, &in), 1);
        in.calls_connected = 4;
        assert_int_equal(pacing_calls_to_launch(st, &in), 0);
        in.calls_connected = 9; /* over the limit (lowered while running): nothing, no wrap */
        assert_int_equal(pacing_calls_to_launch(st, &in), 0);
    }
}

static void test_dialer_capacity_bounds(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PROGRESSIVE, 100);
    struct pacing_input in = idle(10);
    in.dialer_free = 3;
    assert_int_equal(pacing_calls_to_launch(st, &in), 3);
    in.dialer_free = 0;
    assert_int_equal(pacing_calls_to_launch(st, &in), 0);
}

static void test_settings_check(void **state)
{
    (void)state;
    struct pacing_settings s;
    const char *why = NULL;
    pacing_settings_default(&s);
    assert_int_equal(s.mode, PACING_PREDICTIVE);
    assert_true(s.abandon_target == PACING_DEFAULT_ABANDON_TARGET);
    assert_int_equal(pacing_settings_check(&s, &why), 0);
    s.abandon_target = 0;
    assert_int_equal(pacing_settings_check(&s, &why), -EINVAL);
    assert_non_null(strstr(why, "abandon target"));
    s.abandon_target = 1.0;
    assert_int_equal(pacing_settings_check(&s, &why), -EINVAL);
    pacing_settings_default(&s);
    s.mode = PACING_POWER;
    s.power_ratio = 0.5;
    assert_int_equal(pacing_settings_check(&s, &why), -EINVAL);
    assert_non_null(strstr(why, "power ratio"));
    s.power_ratio = 2.5;
    assert_int_equal(pacing_settings_check(&s, &why), 0);
    s.mode = (enum pacing_mode)42;
    assert_int_equal(pacing_settings_check(&s, &why), -EINVAL);
}

/* Without history predictive knows neither the answer rate nor the handle times: it dials as
 * progressive, which never abandons, until it has seen enough. */
static void test_predictive_safe_start(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PREDICTIVE, 1000);
    int64_t ringing[1] = {NOW - 1000};
    struct pacing_input in = idle(5);
    in.ringing_since_ms = ringing;
    in.n_ringing = 1;
    assert_false(pacing_has_history(st));
    assert_int_equal(pacing_calls_to_launch(st, &in), 4);
    learn(st, 40, 0); /* a few calls are not enough */
    assert_false(pacing_has_history(st));
    assert_int_equal(pacing_calls_to_launch(st, &in), 4);
    learn(st, 400, 0);
    assert_true(pacing_has_history(st));
    /* one answer in four: with history it dials ahead of the ready agents, cautiously at
     * first (the feedback starts low and rises with each answer that found its agent) */
    unsigned first = pacing_calls_to_launch(st, &in);
    assert_true(first > 6);
    learn(st, 3200, 0);
    assert_true(pacing_calls_to_launch(st, &in) > first);
}

/* Agents about to finish their wrap-up are capacity within the ring time; agents who have
 * just started talking are not. */
static void test_predictive_looks_ahead_at_agents_freeing_up(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PREDICTIVE, 1000);
    learn(st, 800, 0);
    struct pacing_busy_agent busy[20];
    for (unsigned i = 0; i < 20; i++)
        busy[i] = (struct pacing_busy_agent){.since_ms = NOW - 1000, .in_wrapup = false};
    struct pacing_input in = idle(0);
    in.busy = busy;
    in.n_busy = 20;
    unsigned talking = pacing_calls_to_launch(st, &in);
    for (unsigned i = 0; i < 20; i++)
        busy[i] = (struct pacing_busy_agent){.since_ms = NOW - 9000, .in_wrapup = true};
    unsigned wrapping_up = pacing_calls_to_launch(st, &in);
    assert_true(wrapping_up > talking + 20);
    /* calls already ringing cover those agents: fewer new ones */
    int64_t ringing[40];
    for (unsigned i = 0; i < 40; i++)
        ringing[i] = NOW - 2000;
    in.ringing_since_ms = ringing;
    in.n_ringing = 40;
    assert_true(pacing_calls_to_launch(st, &in) < wrapping_up - 5);
}

/* The abandon rate observed over the window is over target: the pacer backs off. */
static void test_predictive_backs_off_over_target(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PREDICTIVE, 1000);
    learn(st, 800, 0);
    struct pacing_busy_agent busy[30];
    for (unsigned i = 0; i < 30; i++)
        busy[i] = (struct pacing_busy_agent){.since_ms = NOW - 60000, .in_wrapup = false};
    struct pacing_input in = idle(10);
    in.busy = busy;
    in.n_busy = 30;
    unsigned before = pacing_calls_to_launch(st, &in);
    double scale = st->risk_scale;
    assert_true(pacing_window_abandon_rate(st) < 0.001);

    learn(st, 1200, 10); /* one answered call in ten abandoned: 10 %, the target is 3 % */
    assert_true(pacing_window_abandon_rate(st) > 0.09);
    assert_true(st->risk_scale < scale / 4);
    unsigned after = pacing_calls_to_launch(st, &in);
    assert_true(after < before);
    assert_true(after >= 10); /* never below progressive */

    learn(st, 4000, 0); /* back under target: it creeps back up */
    assert_true(pacing_calls_to_launch(st, &in) > after);
}

/* The feedback steps on each answered call, not on the window's rate: once a burst of abandons
 * is over, calls that find their agent raise the risk again at once. Steering from the window
 * kept pushing down for as long as the burst stayed in it (256 answers, an hour of a small
 * team), which sank the scale and left the rate far under target. */
static void test_predictive_feedback_recovers_after_a_burst(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PREDICTIVE, 1000);
    learn(st, 800, 0);
    for (unsigned i = 0; i < 12; i++)
        pacing_observe_call_end(st, PACING_ABANDONED, 8000);
    double after_burst = st->risk_scale;
    assert_true(pacing_window_abandon_rate(st) > 0.03); /* the window still remembers it */
    for (unsigned i = 0; i < 40; i++)
        pacing_observe_call_end(st, PACING_CONNECTED, 8000);
    assert_true(st->risk_scale > after_burst);
}

/* At the setpoint (0.8 x target) the steps balance: the scale neither sinks nor climbs. */
static void test_predictive_feedback_balances_at_setpoint(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PREDICTIVE, 1000);
    learn(st, 800, 0);
    double before = st->risk_scale;
    /* 0.8 x 3 % = 2.4 %: 3 abandons in every 125 answers, spread out */
    for (unsigned i = 0; i < 5000; i++)
        pacing_observe_call_end(st, i % 125 % 42 == 0 ? PACING_ABANDONED : PACING_CONNECTED, 8000);
    assert_true(st->risk_scale > before / 1.25 && st->risk_scale < before * 1.25);
}

/* A team of 3: even after the worst history the pacer keeps one call per ready agent. */
static void test_predictive_small_team_not_starved(void **state)
{
    (void)state;
    struct pacing_state *st = fresh(PACING_PREDICTIVE, 1000);
    learn(st, 2000, 3); /* a third of the answers abandoned */
    struct pacing_busy_agent busy[1] = {{.since_ms = NOW - 5000, .in_wrapup = false}};
    struct pacing_input in = idle(2);
    in.busy = busy;
    in.n_busy = 1;
    assert_true(pacing_calls_to_launch(st, &in) >= 2);

    /* with a clean history (long enough for the cautious start to wear off), the same team
     * dials ahead of its ready agents */
    st = fresh(PACING_PREDICTIVE, 1000);
    learn(st, 4000, 0);
    assert_true(pacing_calls_to_launch(st, &in) > 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preview_dials_nothing),
        cmocka_unit_test(test_progressive_one_call_per_uncovered_agent),
        cmocka_unit_test(test_detecting_calls_cover_agents),
        cmocka_unit_test(test_power_ratio_times_ready_agents),
        cmocka_unit_test(test_max_simultaneous_bounds_every_mode),
        cmocka_unit_test(test_dialer_capacity_bounds),
        cmocka_unit_test(test_settings_check),
        cmocka_unit_test(test_predictive_safe_start),
        cmocka_unit_test(test_predictive_looks_ahead_at_agents_freeing_up),
        cmocka_unit_test(test_predictive_backs_off_over_target),
        cmocka_unit_test(test_predictive_feedback_recovers_after_a_burst),
        cmocka_unit_test(test_predictive_feedback_balances_at_setpoint),
        cmocka_unit_test(test_predictive_small_team_not_starved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
