/* carillon-agent: an agent's client. --script speaks JSON lines (events out, commands in),
 * --auto plays the agent by a policy (tests, demo, benchmarks); otherwise the console runs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentclient.h"
#include "ctlutil.h"
#include "carillon/log.h"
#include "script.h"
#include "tui.h"

#define AGENTD_LIST_MAX  16
#define LOGIN_PROMPT_MAX 200
#define CAMPAIGNS_MAX    16

static const char usage_text[] =
    "usage: carillon-agent --agentd HOST:PORT[,HOST:PORT...] --ca FILE --login LOGIN\n"
    "                      [--password-stdin] --softphone URI [--campaign C]...\n"
    "                      [--script] [--auto [--answer NAME=VALUE]... [--qualify CODE]\n"
    "                       [--qualify-if FIELD=VALUE:CODE[:CALLBACK_S]]...\n"
    "                       [--talk-ms N] [--wrapup-ms N] [--callback-in-s N] [--personal]\n"
    "                       [--preview dial|skip|wait] [--calls N] [--duration-s N]]\n"
    "  --agentd         agentd addresses tried in turn (env CARILLON_AGENTD)\n"
    "  --ca             CA that signs the agentds' certificates (env CARILLON_CA)\n"
    "  --password-stdin the password is stdin's first line (else env CARILLON_PASSWORD, else\n"
    "                   asked on the terminal)\n"
    "  --script         JSON lines: every message received and link change on stdout, commands\n"
    "                   on stdin ({\"cmd\":\"ready\"}, pause, dial, skip, hangup, answers, "
    "qualify,\n"
    "                   cancel, suspend, logout, quit)\n"
    "  --auto           play by itself: ready after login; on a call save the --answer values,\n"
    "                   hang up after --talk-ms, qualify with --qualify after --wrapup-ms (a\n"
    "                   callback --callback-in-s from now, --personal), preview --preview (dial),\n"
    "                   log out after --calls qualified calls or --duration-s seconds\n"
    "  --qualify-if     qualify with CODE instead (a callback CALLBACK_S seconds from now when\n"
    "                   given) a contact whose pop-up field FIELD is VALUE and whose last\n"
    "                   qualification is not CODE already; the first of at most 8 that applies\n"
    "  (neither: the console)\n"
    "exit: 0 logout or quit, 1 login refused, 2 usage, 3 session ended otherwise\n";

static int num_arg(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* FIELD=VALUE:CODE[:CALLBACK_S] into r, its strings in buf (512 bytes). VALUE may not hold ':'. */
static int parse_rule(const char *arg, char *buf, struct script_rule *r)
{
    if (strlen(arg) >= 512)
        return -EINVAL;
    snprintf(buf, 512, "%s", arg);
    char *eq = strchr(buf, '=');
    char *colon = eq ? strchr(eq + 1, ':') : NULL;
    if (!eq || eq == buf || !colon)
        return -EINVAL;
    *eq = *colon = '\0';
    r->field = buf;
    r->value = eq + 1;
    r->code = colon + 1;
    r->callback_in_s = -1;
    char *cb = strchr(colon + 1, ':');
    if (cb) {
        *cb = '\0';
        if (num_arg(cb + 1, 0, 366LL * 86400, &r->callback_in_s))
            return -EINVAL;
    }
    return r->code[0] && strlen(r->code) <= 64 ? 0 : -EINVAL;
}

/* The first line of fd 0, read a byte at a time so that the rest stays for --script. */
static int read_password(char *buf, size_t len)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(0, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || ch == '\n')
            break;
        if (n + 1 >= len)
            return -E2BIG;
        buf[n++] = ch;
    }
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return n ? 0 : -ENODATA;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"agentd", required_argument, NULL, 'a'},
        {"ca", required_argument, NULL, 'C'},
        {"login", required_argument, NULL, 'l'},
        {"password-stdin", no_argument, NULL, 'P'},
        {"softphone", required_argument, NULL, 's'},
        {"campaign", required_argument, NULL, 'c'},
        {"script", no_argument, NULL, 'S'},
        {"auto", no_argument, NULL, 'A'},
        {"answer", required_argument, NULL, 'n'},
        {"qualify", required_argument, NULL, 'q'},
        {"qualify-if", required_argument, NULL, 'Q'},
        {"talk-ms", required_argument, NULL, 'T'},
        {"wrapup-ms", required_argument, NULL, 'W'},
        {"callback-in-s", required_argument, NULL, 'b'},
        {"personal", no_argument, NULL, 'p'},
        {"preview", required_argument, NULL, 'v'},
        {"calls", required_argument, NULL, 'N'},
        {"duration-s", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct script_opts so = {.talk_ms = -1, .callback_in_s = -1};
    static char answer_buf[SCRIPT_ANSWERS_MAX][512];
    static char rule_buf[SCRIPT_RULES_MAX][512];
    const char *agentd = getenv("CARILLON_AGENTD"), *ca = getenv("CARILLON_CA");
    const char *login = NULL, *softphone = NULL;
    const char *campaigns[CAMPAIGNS_MAX];
    size_t ncampaigns = 0;
    bool password_stdin = false;
    const char *bad = NULL;
    long long v;
    int ch;
    while (!bad && (ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            agentd = optarg;
            break;
        case 'C':
            ca = optarg;
            break;
        case 'l':
            login = optarg;
            break;
        case 'P':
            password_stdin = true;
            break;
        case 's':
            softphone = optarg;
            break;
        case 'c':
            if (ncampaigns == CAMPAIGNS_MAX)
                bad = "at most 16 --campaign";
            else
                campaigns[ncampaigns++] = optarg;
            break;
        case 'S':
            so.commands = true;
            break;
        case 'A':
            so.autopilot = true;
            break;
        case 'n': {
            const char *eq = strchr(optarg, '=');
            if (so.n_answers == SCRIPT_ANSWERS_MAX || !eq || eq == optarg ||
                strlen(optarg) >= sizeof answer_buf[0]) {
                bad = "--answer takes NAME=VALUE (at most 32, 511 bytes each)";
                break;
            }
            char *b = answer_buf[so.n_answers];
            snprintf(b, sizeof answer_buf[0], "%s", optarg);
            b[eq - optarg] = '\0';
            so.answer_names[so.n_answers] = b;
            so.answer_values[so.n_answers++] = b + (eq - optarg) + 1;
            break;
        }
        case 'q':
            so.qualify = optarg;
            if (!optarg[0] || strlen(optarg) > 64)
                bad = "--qualify takes a code of 1 to 64 bytes";
            break;
        case 'Q':
            if (so.n_rules == SCRIPT_RULES_MAX ||
                parse_rule(optarg, rule_buf[so.n_rules], &so.rules[so.n_rules])) {
                bad = "--qualify-if takes FIELD=VALUE:CODE[:CALLBACK_S] (at most 8, 511 bytes "
                      "each, CODE 1 to 64 bytes, CALLBACK_S 0 to 31622400)";
                break;
            }
            so.n_rules++;
            break;
        case 'T':
            if (num_arg(optarg, 0, 86400000, &so.talk_ms))
                bad = "--talk-ms takes 0 to 86400000";
            break;
        case 'W':
            if (num_arg(optarg, 0, 86400000, &so.wrapup_ms))
                bad = "--wrapup-ms takes 0 to 86400000";
            break;
        case 'b':
            if (num_arg(optarg, 0, 366LL * 86400, &so.callback_in_s))
                bad = "--callback-in-s takes 0 to 31622400";
            break;
        case 'p':
            so.personal = true;
            break;
        case 'v':
            so.preview = strcmp(optarg, "dial") == 0   ? 0
                         : strcmp(optarg, "skip") == 0 ? 1
                         : strcmp(optarg, "wait") == 0 ? 2
                                                       : -1;
            if (so.preview < 0)
                bad = "--preview takes dial, skip or wait";
            break;
        case 'N':
            if (num_arg(optarg, 1, 100000000, &v))
                bad = "--calls takes 1 to 100000000";
            so.calls = (unsigned long)v;
            break;
        case 'D':
            if (num_arg(optarg, 1, 7 * 86400, &v))
                bad = "--duration-s takes 1 to 604800";
            so.duration_s = (unsigned long)v;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            bad = "unknown option";
            break;
        }
    }
    if (!bad && optind < argc)
        bad = "unexpected argument";
    if (!bad && (!agentd || !agentd[0]))
        bad = "--agentd HOST:PORT (or CARILLON_AGENTD) is required";
    if (!bad && (!ca || !ca[0]))
        bad = "--ca FILE (or CARILLON_CA) is required";
    if (!bad && !login)
        bad = "--login is required";
    if (!bad && !softphone)
        bad = "--softphone URI is required";
    if (!bad && so.callback_in_s >= 0 && !so.qualify)
        bad = "--callback-in-s needs --qualify";
    if (!bad && so.n_rules && !so.qualify)
        bad = "--qualify-if needs --qualify (the code of every other call)";
    if (bad) {
        fprintf(stderr, "carillon-agent: %s\n%s", bad, usage_text);
        return 2;
    }
    static char password[300];
    if (password_stdin) {
        int rc = read_password(password, sizeof password);
        if (rc) {
            fprintf(stderr, "carillon-agent: --password-stdin: %s\n",
                    rc == -E2BIG ? "the first line is longer than 256 bytes"
                                 : "stdin's first line is empty");
            return 2;
        }
    } else if (getenv("CARILLON_PASSWORD")) {
        snprintf(password, sizeof password, "%s", getenv("CARILLON_PASSWORD"));
    } else {
        /* a person at a terminal is asked (no echo); scripts say it with one of the two above */
        char prompt[LOGIN_PROMPT_MAX];
        snprintf(prompt, sizeof prompt, "password for %s: ", login);
        int rc = ctl_prompt_tty(prompt, true, password, sizeof password);
        if (rc || !password[0]) {
            fprintf(stderr,
                    "carillon-agent: no password: %s (--password-stdin or "
                    "CARILLON_PASSWORD)\n",
                    rc == -ENXIO      ? "no terminal to ask it on"
                    : rc == -EMSGSIZE ? "longer than the most taken"
                                      : "none typed");
            return 2;
        }
    }
    static char list[4096];
    if (strlen(agentd) >= sizeof list) {
        fprintf(stderr, "carillon-agent: --agentd is too long\n");
        return 2;
    }
    snprintf(list, sizeof list, "%s", agentd);
    const char *addrs[AGENTD_LIST_MAX];
    size_t naddrs = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (naddrs == AGENTD_LIST_MAX) {
            fprintf(stderr, "carillon-agent: at most 16 agentd addresses\n");
            return 2;
        }
        addrs[naddrs++] = t;
    }
    cr_log_init("carillon-agent", CR_LOG_WARN, false);
    struct agentclient_opts o = {.agentd = addrs,
                                 .n_agentd = naddrs,
                                 .ca_file = ca,
                                 .login = login,
                                 .password = password,
                                 .softphone = softphone,
                                 .campaigns = campaigns,
                                 .n_campaigns = ncampaigns};
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct agentclient *c = NULL;
    char err[512];
    int rc = agentclient_new(&loop, &o, NULL, NULL, &c, err, sizeof err);
    memset(password, 0, sizeof password);
    if (rc) {
        fprintf(stderr, "carillon-agent: %s\n", rc == -EINVAL ? err : strerror(-rc));
        uv_loop_close(&loop);
        return 2;
    }
    int code = so.commands || so.autopilot ? script_run(c, &so) : tui_run(c, &o);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return code;
}
