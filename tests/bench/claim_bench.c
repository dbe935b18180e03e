/* Claim benchmark driver: claim + attempt + outcome cycles through the server's own store code
 * (store_claim, store_call_events in server/store/attempts.c) on one libuv loop.
 *
 * Each of --connections cr_pg connections loops: store_claim a batch of --batch contacts of the
 * campaign (profile none, no windows), then store_call_events with every claimed attempt ended
 * "no_answer" (sent_at set, so the try counts) as one transaction, then claims again. Only
 * batches that complete inside the measured window (after --warmup s, for --duration s) count;
 * a contact counts once its outcome is committed. tests/bench/claim prepares the database and
 * runs this. Output, one line (times in ms, nearest-rank percentiles):
 *   BENCH contacts=N seconds=S claims_per_s=R claim_p50_ms= claim_p99_ms= outcome_p50_ms=
 *         outcome_p99_ms= cycle_p50_ms= cycle_p99_ms= cycles=N short_claims=N unexpected=N
 *   claim_bench --conninfo STR --campaign ID [--connections 8] [--batch 50] [--duration 30]
 *               [--warmup 3] [--boot ID]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "carillon/log.h"
#include "carillon/pg.h"
#include "store/attempts_store.h"

#define MAX_CONNECTIONS 64
#define MAX_SAMPLES     (1 << 20) /* per kind: 30 s at 8 connections is far below */
#define CALL_ID_MAX     32

/* Latencies of one kind of batch, in ms; samples beyond MAX_SAMPLES are counted, not kept. */
struct samples {
    double *v;
    size_t n, dropped;
};

/* One connection's cycle. Owned by main's workers[] array; pg is freed by cr_pg_close. */
struct worker {
    int index;
    struct cr_pg *pg;
    bool up, busy;
    uint64_t cycle_start_ns, step_start_ns;
    int nclaimed;
    struct store_call_event ev[STORE_EVENTS_MAX];
    char call_id[STORE_EVENTS_MAX][CALL_ID_MAX];
};

struct bench {
    uv_loop_t loop;
    uv_timer_t timer;
    struct worker workers[MAX_CONNECTIONS];
    int nworkers, nup, batch;
    int64_t campaign_id;
    uint64_t boot_id, next_seq;
    uint64_t window_start_ns, window_end_ns, started_ns;
    double warmup_s, duration_s;
    bool measuring, stopping, failed;
    uint64_t contacts, cycles, short_claims, unexpected;
    struct samples claim, outcome, cycle;
};

static struct bench B;

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool in_window(uint64_t t_ns)
{
    return B.measuring && t_ns >= B.window_start_ns && t_ns <= B.window_end_ns;
}

static void sample_add(struct samples *s, uint64_t ns)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = (double)ns / 1e6;
    else
        s->dropped++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0-100) of sorted samples; 0 when there are none. */
static double percentile(const struct samples *s, double p)
{
    if (s->n == 0)
        return 0;
    size_t rank = (size_t)((p / 100.0) * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

static void fail(const char *what, int err)
{
    fprintf(stderr, "claim_bench: %s failed: %s\n", what, strerror(-err));
    B.failed = true;
    B.stopping = true;
}

static void worker_claim(struct worker *w);

/* Once stopping and every connection is idle: close them all, so the loop ends. */
static void maybe_finish(void)
{
    for (int i = 0; i < B.nworkers; i++)
        if (B.workers[i].busy)
            return;
    if (!B.stopping || uv_is_closing((uv_handle_t *)&B.timer))
        return;
    for (int i = 0; i < B.nworkers; i++)
        if (B.workers[i].pg) {
            cr_pg_close(B.workers[i].pg, NULL, NULL);
            B.workers[i].pg = NULL;
        }
    uv_close((uv_handle_t *)&B.timer, NULL);
}

static void worker_idle(struct worker *w)
{
    w->busy = false;
    maybe_finish();
}

static void on_events(void *arg, int err, const char *const *results, int n)
{
    struct worker *w = arg;
    uint64_t now = uv_hrtime();
    if (err) {
        fail("store_call_events", err);
        worker_idle(w);
        return;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(results[i], "waiting") != 0) {
            if (B.unexpected++ == 0)
                fprintf(stderr, "claim_bench: attempt %" PRId64 " ended as '%s', not 'waiting'\n",
                        w->ev[i].attempt_id, results[i]);
        }
    if (in_window(now)) {
        sample_add(&B.outcome, now - w->step_start_ns);
        if (w->cycle_start_ns >= B.window_start_ns)
            sample_add(&B.cycle, now - w->cycle_start_ns);
        B.contacts += (uint64_t)n;
        B.cycles++;
    }
    if (B.stopping || (B.measuring && now > B.window_end_ns)) {
        worker_idle(w);
        return;
    }
    worker_claim(w);
}

static void on_claimed(void *arg, int err, const struct store_claimed *rows, int n)
{
    struct worker *w = arg;
    uint64_t now = uv_hrtime();
    if (err) {
        fail("store_claim", err);
        worker_idle(w);
        return;
    }
    if (in_window(now))
        sample_add(&B.claim, now - w->step_start_ns);
    if (n < B.batch)
        B.short_claims++;
    if (n == 0) {
        fprintf(stderr, "claim_bench: the campaign has no contact left to claim\n");
        B.stopping = true;
        worker_idle(w);
        return;
    }
    int64_t us = wall_us();
    for (int i = 0; i < n; i++) {
        struct store_call_event *e = &w->ev[i];
        snprintf(w->call_id[i], CALL_ID_MAX, "bench-%" PRId64, rows[i].attempt_id);
        *e = (struct store_call_event){
            .boot_id = B.boot_id,
            .seq = ++B.next_seq, /* one loop: unique per (boot_id, seq) */
            .node = "bench",
            .attempt_id = rows[i].attempt_id,
            .state = "ended",
            .outcome = "no_answer",
            .now_ms = us / 1000,
            .call_id = w->call_id[i],
            .sip_status = 480,
            .hung_up_by = "dialer",
            .sent_at_us = us - 30000000, /* the INVITE went out 30 s ago: the try counts */
            .ended_at_us = us,
            .ring_ms = -1,
            .talk_ms = -1,
            .detail = "",
        };
    }
    w->nclaimed = n;
    w->step_start_ns = uv_hrtime();
    int rc = store_call_events(w->pg, w->ev, n, on_events, w);
    if (rc) {
        fail("store_call_events (send)", rc);
        worker_idle(w);
    }
}

static void worker_claim(struct worker *w)
{
    struct store_claim_req q = {
        .campaign_id = B.campaign_id,
        .n = B.batch,
        .now_ms = wall_us() / 1000,
        .profile = COMPLIANCE_NONE,
        .node = "bench",
    };
    w->busy = true;
    w->cycle_start_ns = w->step_start_ns = uv_hrtime();
    int rc = store_claim(w->pg, &q, on_claimed, w);
    if (rc) {
        fail("store_claim (send)", rc);
        worker_idle(w);
    }
}

/* Opens the window once the warm-up is over, and stops starting cycles at its end. */
static void on_timer(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_hrtime();
    if (!B.measuring && now >= B.started_ns + (uint64_t)(B.warmup_s * 1e9)) {
        B.measuring = true;
        B.window_start_ns = now;
        B.window_end_ns = now + (uint64_t)(B.duration_s * 1e9);
    }
    if (B.measuring && now > B.window_end_ns) {
        B.stopping = true;
        uv_timer_stop(&B.timer);
        maybe_finish();
    }
}

static void on_state(void *arg, bool up)
{
    struct worker *w = arg;
    if (!up) {
        if (w->up) {
            fprintf(stderr, "claim_bench: connection %d lost\n", w->index);
            B.failed = true;
        }
        return;
    }
    if (w->up)
        return;
    w->up = true;
    if (++B.nup < B.nworkers)
        return;
    /* Every connection is up: connection set-up is outside what is measured. */
    B.started_ns = uv_hrtime();
    if (uv_timer_start(&B.timer, on_timer, 0, 5) != 0) {
        B.failed = true;
        return;
    }
    for (int i = 0; i < B.nworkers; i++)
        worker_claim(&B.workers[i]);
}

static void usage(void)
{
    fprintf(stderr, "usage: claim_bench --conninfo STR --campaign ID [--connections N]"
                    " [--batch N] [--duration S] [--warmup S] [--boot ID]\n");
    exit(2);
}

static double number_arg(const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "claim_bench: '%s' is not a number in [%g, %g]\n", s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL;
    B.nworkers = 8;
    B.batch = 50;
    B.duration_s = 30;
    B.warmup_s = 3;
    B.boot_id = (uint64_t)wall_us();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--conninfo") == 0)
            conninfo = v;
        else if (strcmp(a, "--campaign") == 0)
            B.campaign_id = (int64_t)number_arg(v, 1, 9e15);
        else if (strcmp(a, "--connections") == 0)
            B.nworkers = (int)number_arg(v, 1, MAX_CONNECTIONS);
        else if (strcmp(a, "--batch") == 0)
            B.batch = (int)number_arg(v, 1, STORE_EVENTS_MAX);
        else if (strcmp(a, "--duration") == 0)
            B.duration_s = number_arg(v, 0.1, 3600);
        else if (strcmp(a, "--warmup") == 0)
            B.warmup_s = number_arg(v, 0, 600);
        else if (strcmp(a, "--boot") == 0)
            B.boot_id = (uint64_t)number_arg(v, 1, 9e15);
        else
            usage();
    }
    if (!conninfo || !B.campaign_id)
        usage();
    cr_log_init("claim_bench", CR_LOG_WARN, false);
    B.claim.v = malloc(MAX_SAMPLES * sizeof(double));
    B.outcome.v = malloc(MAX_SAMPLES * sizeof(double));
    B.cycle.v = malloc(MAX_SAMPLES * sizeof(double));
    if (!B.claim.v || !B.outcome.v || !B.cycle.v || uv_loop_init(&B.loop) != 0 ||
        uv_timer_init(&B.loop, &B.timer) != 0) {
        fprintf(stderr, "claim_bench: out of memory\n");
        return 1;
    }
    struct cr_pg_opts o = {.conninfo = conninfo, .down_wait_ms = 10000};
    for (int i = 0; i < B.nworkers; i++) {
        struct worker *w = &B.workers[i];
        w->index = i;
        int rc = cr_pg_new(&B.loop, &o, &w->pg);
        if (rc) {
            fprintf(stderr, "claim_bench: cr_pg_new: %s\n", strerror(-rc));
            return 1;
        }
        cr_pg_on_state(w->pg, on_state, w);
    }
    uv_run(&B.loop, UV_RUN_DEFAULT);
    uv_loop_close(&B.loop);
    if (B.failed)
        return 1;

    qsort(B.claim.v, B.claim.n, sizeof(double), cmp_double);
    qsort(B.outcome.v, B.outcome.n, sizeof(double), cmp_double);
    qsort(B.cycle.v, B.cycle.n, sizeof(double), cmp_double);
    printf("BENCH contacts=%" PRIu64 " seconds=%.1f claims_per_s=%.0f claim_p50_ms=%.2f "
           "claim_p99_ms=%.2f outcome_p50_ms=%.2f outcome_p99_ms=%.2f cycle_p50_ms=%.2f "
           "cycle_p99_ms=%.2f cycles=%" PRIu64 " short_claims=%" PRIu64 " unexpected=%" PRIu64
           " dropped_samples=%zu\n",
           B.contacts, B.duration_s, (double)B.contacts / B.duration_s, percentile(&B.claim, 50),
           percentile(&B.claim, 99), percentile(&B.outcome, 50), percentile(&B.outcome, 99),
           percentile(&B.cycle, 50), percentile(&B.cycle, 99), B.cycles, B.short_claims,
           B.unexpected, B.claim.dropped + B.outcome.dropped + B.cycle.dropped);
    free(B.claim.v);
    free(B.outcome.v);
    free(B.cycle.v);
    return B.unexpected ? 1 : 0;
}
