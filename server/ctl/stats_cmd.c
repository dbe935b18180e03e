/* carillonctl's supervisor views of the engine: campaign stats (one campaign's dashboard), top
 * (every running campaign, a line each, refreshed each second) and compliance report (the
 * abandon ledger against the campaign's compliance profile). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "carillon/pbtext.h"
#include "ctl.h"
#include "ctlutil.h"

#define TOP_CAMPAIGNS_MAX 256 /* campaigns one top screen shows */
#define REPORT_DAYS_MAX   366 /* the server's STORE_REPORT_DAYS_MAX */

/* "2027-03-02T10:30:00+01:00" as "2027-03-02 10:30:00 +01:00" for people. */
/* A server time (RFC 3339 with its offset) shown by the rule: the viewer's zone, labelled. */
static const char *local_time(const char *rfc3339, char *buf, size_t len)
{
    int64_t t;
    if (ctl_time_parse(rfc3339, &t) == 0)
        ctl_format_time(t, buf, len);
    else
        snprintf(buf, len, "%s", rfc3339);
    return buf;
}

static void line_u(const char *label, unsigned long long v)
{
    printf("  %-24s%10llu\n", label, v);
}

/* A block of labelled counts, one line each. */
struct figure {
    const char *label;
    unsigned long long n;
};
#define PRINT_FIGURES(...)                                                                         \
    do {                                                                                           \
        const struct figure figures_[] = {__VA_ARGS__};                                            \
        for (size_t i_ = 0; i_ < sizeof figures_ / sizeof figures_[0]; i_++)                       \
            line_u(figures_[i_].label, figures_[i_].n);                                            \
    } while (0)

static void line_pct(const char *label, double v)
{
    printf("  %-24s%8.1f %%\n", label, v);
}

static void line_text(const char *label, const char *v)
{
    printf("  %-24s%s\n", label, v);
}

/* One stats request; 0 with the reply in ctl_reply(), or an exit code (already reported). */
static int request_stats(const char *name)
{
    Carillon__V1__CampaignStats q = CARILLON__V1__CAMPAIGN_STATS__INIT;
    q.name = (char *)name;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_STATS;
    env.campaign_stats = &q;
    return ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_STATS_REPLY);
}

static void print_counts(const char *title, Carillon__V1__StatCount *const *items, size_t n)
{
    printf("%s\n", title);
    if (n == 0)
        printf("  (none)\n");
    for (size_t i = 0; i < n; i++)
        line_u(items[i]->key, (unsigned long long)items[i]->count);
}

static void print_rates(const Carillon__V1__RateWindow *d, const Carillon__V1__RateWindow *m,
                        double target)
{
    printf("Rates                          today   30 days\n");
    printf("  %-24s%10llu%10llu\n", "dialled", (unsigned long long)d->dialled,
           (unsigned long long)m->dialled);
    printf("  %-24s%10llu%10llu\n", "answered", (unsigned long long)d->answered,
           (unsigned long long)m->answered);
    printf("  %-24s%8.1f %%%8.1f %%\n", "answer rate", d->answer_rate_pct, m->answer_rate_pct);
    printf("  %-24s%10llu%10llu\n", "answered by a person",
           (unsigned long long)d->answered_by_person, (unsigned long long)m->answered_by_person);
    printf("  %-24s%10llu%10llu\n", "abandoned", (unsigned long long)d->abandoned,
           (unsigned long long)m->abandoned);
    printf("  %-24s%8.1f %%%8.1f %%   (target %.1f %%)\n", "abandon rate", d->abandon_rate_pct,
           m->abandon_rate_pct, target);
}

static void print_live(const Carillon__V1__EngineLive *l)
{
    if (!l->loaded) {
        printf("Engine\n  not running on this server\n");
    } else {
        printf("Engine\n");
        line_text("mode", l->mode);
        line_text("in schedule", l->in_schedule ? "yes" : "no");
        line_text("idle", l->idle_reason[0] ? l->idle_reason : "-");
        PRINT_FIGURES({"calls up", l->calls_up}, {"ringing", l->ringing},
                      {"waiting for an agent", l->waiting_for_agent},
                      {"talked, not qualified", l->talked_unqualified});
        line_pct("pacing answer rate", l->answer_rate_pct);
        line_pct("window abandon rate", l->window_abandon_rate_pct);
        printf("  %-24s%10.2f%s\n", "risk scale", l->risk_scale,
               l->pacing_history ? "" : "   (no history yet)");
        PRINT_FIGURES({"placed since start", l->placed}, {"answered since start", l->answered},
                      {"abandoned since start", l->abandoned},
                      {"connected since start", l->connected});
    }
    const Carillon__V1__AgentStateCounts *a = l->agents;
    if (!a)
        return;
    printf("Agents                  %12u\n", a->total);
    PRINT_FIGURES({"ready", a->ready}, {"on call", a->on_call}, {"wrap-up", a->wrap_up},
                  {"paused", a->paused}, {"preview", a->preview}, {"dialing", a->dialing},
                  {"connecting", a->connecting}, {"phone lost", a->phone_lost});
}

static void print_stats(const Carillon__V1__CampaignStatsReply *s)
{
    char st[32], mode[32], at[64];
    printf("Campaign %s: %s, %s\n", s->name,
           cr_pb_enum_word(&carillon__v1__campaign_state__descriptor, s->state, st, sizeof st),
           cr_pb_enum_word(&carillon__v1__dialing_mode__descriptor, s->mode, mode, sizeof mode));
    printf("  at %s (the campaign's days: %s)\n", local_time(s->at, at, sizeof at), s->time_zone);
    const Carillon__V1__InterviewCounts *iv = s->interview;
    printf("Dashboard\n");
    PRINT_FIGURES({"to call", iv->to_call}, {"to call back", iv->to_call_back},
                  {"started", iv->started}, {"finished", iv->finished},
                  {"cancelled", iv->cancelled}, {"suspended", iv->suspended});
    const Carillon__V1__ContactStateCounts *c = s->contacts;
    printf("Contacts                %12llu\n", (unsigned long long)c->total);
    PRINT_FIGURES({"waiting", c->waiting}, {"running (in progress)", c->running}, {"done", c->done},
                  {"failed", c->failed}, {"shelved", c->shelved});
    /* the rarer states only when some contact is in them */
    const struct {
        const char *label;
        uint64_t n;
    } rare[] = {{"paused", c->paused},
                {"list stopped", c->list_stopped},
                {"list suspended", c->list_suspended},
                {"deleted", c->deleted}};
    for (size_t i = 0; i < sizeof rare / sizeof rare[0]; i++)
        if (rare[i].n)
            line_u(rare[i].label, (unsigned long long)rare[i].n);
    printf("Callbacks\n");
    line_u("due now", (unsigned long long)s->callbacks_due);
    line_u("open", (unsigned long long)s->callbacks_open);
    line_text("next",
              s->next_callback_at[0] ? local_time(s->next_callback_at, at, sizeof at) : "-");
    print_counts("Attempts by outcome", s->attempts_by_outcome, s->n_attempts_by_outcome);
    print_counts("Attempts by qualification", s->attempts_by_qualification,
                 s->n_attempts_by_qualification);
    print_rates(s->today, s->last_30_days, s->abandon_target_pct);
    print_live(s->live);
}

/* The body of a reply (the message its oneof holds). */
static const ProtobufCMessage *reply_body(const Carillon__V1__Envelope *env)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &carillon__v1__envelope__descriptor, (unsigned)env->body_case);
    return *(const ProtobufCMessage *const *)((const char *)env + f->offset);
}

/* Sends env and prints its reply of body `want`: as JSON, or with print for people. */
static int request_and_show(Carillon__V1__Envelope *env, int want,
                            void (*print)(const ProtobufCMessage *body))
{
    int rc = ctl_connect_and_auth();
    if (rc || (rc = ctl_request(env, want)))
        return rc;
    const ProtobufCMessage *body = reply_body(ctl_reply());
    if (ctl_json())
        pbjson_write(stdout, body);
    else
        print(body);
    ctl_drop_reply();
    return 0;
}

static void show_stats(const ProtobufCMessage *body)
{
    print_stats((const Carillon__V1__CampaignStatsReply *)body);
}

int ctl_campaign_stats(int argc, char **argv)
{
    if (argc != 1)
        return ctl_usage("campaign stats takes one campaign name");
    Carillon__V1__CampaignStats q = CARILLON__V1__CAMPAIGN_STATS__INIT;
    q.name = argv[0];
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_STATS;
    env.campaign_stats = &q;
    return request_and_show(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_STATS_REPLY, show_stats);
}

/* --- top -------------------------------------------------------------------------------- */

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig)
{
    (void)sig;
    top_stop = 1;
}

static void top_print_lines(Carillon__V1__Envelope *const *replies, size_t n)
{
    int wn = 8;
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(replies[i]->campaign_stats_reply->name);
        if (w > wn)
            wn = w > 40 ? 40 : w;
    }
    ctl_print_padded("CAMPAIGN", wn + 2);
    printf("%-12s %5s %5s %5s %5s %5s %8s %8s %6s %6s  %s\n", "MODE", "READY", "CALL", "WRAP",
           "PAUSE", "UP", "TO_CALL", "DONE", "ANS%", "ABN%", "IDLE");
    for (size_t i = 0; i < n; i++) {
        const Carillon__V1__CampaignStatsReply *s = replies[i]->campaign_stats_reply;
        const Carillon__V1__EngineLive *l = s->live;
        const Carillon__V1__AgentStateCounts *a = l->agents;
        char mode[32];
        ctl_print_padded(s->name, wn + 2);
        printf("%-12s %5u %5u %5u %5u %5u %8llu %8llu %6.1f %6.1f  %s\n",
               l->loaded ? l->mode
                         : cr_pb_enum_word(&carillon__v1__dialing_mode__descriptor, s->mode, mode,
                                           sizeof mode),
               a->ready, a->on_call, a->wrap_up, a->paused, l->calls_up,
               (unsigned long long)s->interview->to_call, (unsigned long long)s->contacts->done,
               s->today->answer_rate_pct, s->today->abandon_rate_pct,
               l->loaded ? (l->idle_reason[0] ? l->idle_reason : "-") : "(not loaded here)");
    }
    if (n == 0)
        printf("(no running campaign you may view)\n");
}

/* One snapshot: the running campaigns the user may view, then each one's stats. */
static int top_once(bool clear)
{
    Carillon__V1__CampaignList q = CARILLON__V1__CAMPAIGN_LIST__INIT;
    q.state = CARILLON__V1__CAMPAIGN_STATE__CAMPAIGN_STATE_RUNNING;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST;
    env.campaign_list = &q;
    int rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST_REPLY);
    if (rc)
        return rc;
    Carillon__V1__Envelope *list = ctl_take_reply();
    const Carillon__V1__CampaignListReply *lr = list->campaign_list_reply;
    size_t n = lr->n_campaigns < TOP_CAMPAIGNS_MAX ? lr->n_campaigns : TOP_CAMPAIGNS_MAX;
    Carillon__V1__Envelope **replies = calloc(n ? n : 1, sizeof *replies);
    size_t got = 0;
    if (!replies)
        rc = ctl_report(1, "RESOURCE_EXHAUSTED", NULL, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = request_stats(lr->campaigns[i]->name);
        if (!rc)
            replies[got++] = ctl_take_reply();
    }
    if (!rc && ctl_json()) {
        printf("{\"campaigns\":[");
        for (size_t i = 0; i < got; i++) {
            if (i)
                putchar(',');
            pbjson_inline(stdout, &replies[i]->campaign_stats_reply->base);
        }
        printf("]}\n");
    } else if (!rc) {
        if (clear)
            printf("\033[H\033[2J");
        if (lr->n_campaigns > n)
            printf("(the first %zu of %zu running campaigns)\n", n, lr->n_campaigns);
        top_print_lines(replies, got);
    }
    fflush(stdout);
    for (size_t i = 0; i < got; i++)
        carillon__v1__envelope__free_unpacked(replies[i], NULL);
    free(replies);
    carillon__v1__envelope__free_unpacked(list, NULL);
    return rc;
}

int ctl_top(int argc, char **argv)
{
    bool once = ctl_json();
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--once"))
            once = true;
        else
            return ctl_usage("top: unexpected argument '%s'", argv[i]);
    }
    int rc = ctl_connect_and_auth();
    if (rc || once)
        return rc ? rc : top_once(false);
    /* Ctrl-C ends the loop, so that a temporary session is still revoked on the way out. */
    struct sigaction sa = {0};
    sa.sa_handler = top_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(STDOUT_FILENO);
    while (!top_stop && !(rc = top_once(tty))) {
        struct timespec second = {1, 0};
        while (!top_stop && nanosleep(&second, &second) != 0 && errno == EINTR)
            ;
    }
    return rc;
}

/* --- compliance report ------------------------------------------------------------------ */

static void print_window(const char *label, const Carillon__V1__ComplianceWindow *w)
{
    printf("  %-14s %s..%s %10llu %10llu %8.1f %%", label, w->from_day, w->to_day,
           (unsigned long long)w->answered, (unsigned long long)w->abandoned, w->abandon_rate_pct);
    if (w->limited)
        printf("   limit %.0f %%: %s\n", w->limit_pct,
               w->within_limit ? "within" : "OVER THE LIMIT");
    else
        printf("   no legal limit\n");
}

static void print_report(const Carillon__V1__ComplianceReportReply *r)
{
    char prof[16], at[64];
    cr_pb_enum_word(&carillon__v1__compliance_profile__descriptor, r->profile, prof, sizeof prof);
    printf("Compliance of %s: profile %s, pacing target %.1f %%\n", r->name, prof,
           r->abandon_target_pct);
    printf("  at %s (the campaign's days: %s)\n", local_time(r->at, at, sizeof at), r->time_zone);
    printf("Windows                                      answered  abandoned      rate\n");
    print_window("last day", r->last_day);
    print_window("last 30 days", r->last_30_days);
    if (r->profile == CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_FR) {
        printf("Numbers (FR)\n");
        printf("  %-52s%10llu\n", "at the cap of attempts",
               (unsigned long long)r->fr_numbers_at_attempt_cap);
        char a[48], d[48];
        printf("    (%s in %s, every campaign counted)\n",
               ctl_count(a, sizeof a, r->fr_max_attempts, "attempt", "attempts"),
               ctl_count(d, sizeof d, r->fr_attempts_period_days, "day", "days"));
        printf("  %-52s%10llu\n", "in the quiet period after a refusal",
               (unsigned long long)r->fr_numbers_in_refusal_quiet);
        printf("    (%s)\n", ctl_count(d, sizeof d, r->fr_refusal_quiet_days, "day", "days"));
    } else if (r->profile == CARILLON__V1__COMPLIANCE_PROFILE__COMPLIANCE_PROFILE_UK) {
        printf("Numbers (UK)\n");
        printf("  %-52s%10llu\n", "in the 72-hour quiet period after an abandon",
               (unsigned long long)r->uk_numbers_in_abandon_quiet);
    }
    printf("Days         answered  abandoned      rate\n");
    for (size_t i = 0; i < r->n_days; i++)
        printf("  %s %10llu %10llu %8.1f %%\n", r->days[i]->day,
               (unsigned long long)r->days[i]->answered, (unsigned long long)r->days[i]->abandoned,
               r->days[i]->abandon_rate_pct);
}

static void show_report(const ProtobufCMessage *body)
{
    print_report((const Carillon__V1__ComplianceReportReply *)body);
}

int ctl_compliance(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[0], "report") != 0)
        return ctl_usage("compliance needs: report CAMPAIGN [--days N]");
    Carillon__V1__ComplianceReport q = CARILLON__V1__COMPLIANCE_REPORT__INIT;
    q.name = argv[1];
    for (int i = 2; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--days") && i + 1 < argc) {
            long d = strtol(argv[++i], &end, 10);
            if (*end || d < 1 || d > REPORT_DAYS_MAX)
                return ctl_usage("--days takes 1 to %d, not '%s'", REPORT_DAYS_MAX, argv[i]);
            q.days = (uint32_t)d;
        } else {
            return ctl_usage("compliance report: unexpected argument '%s'", argv[i]);
        }
    }
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_COMPLIANCE_REPORT;
    env.compliance_report = &q;
    return request_and_show(&env, CARILLON__V1__ENVELOPE__BODY_COMPLIANCE_REPORT_REPLY,
                            show_report);
}
