/* carillonctl's command table: every command, its synopsis, options and an example, and the
 * function that runs it. The one table drives dispatch (run_command) and help (help_*), so the
 * two cannot drift: a command is known exactly when it has a row here (git's builtin table and
 * psql's help.c work the same way). A test (tests/integration/config_help.sh) walks the help. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctlutil.h"

/* Flags of a row. */
#define WITH_VERB  1u /* the function gets argv from the last word of the name (ctl_contact...) */
#define POSITIONAL 2u /* only the synopsis' words: their count is checked here, by name */
#define NO_SERVER  4u /* needs no --server/--ca (help) */

struct command {
    const char *name;    /* one or two words: "ping", "contact list" */
    const char *args;    /* the synopsis after the name */
    const char *summary; /* one line */
    const char *options; /* "  --flag X   what it does\n" lines, or NULL */
    const char *example; /* one command line, or NULL */
    const char *group;   /* the heading it is listed under */
    int (*run)(int argc, char **argv);
    unsigned flags;
};

static int cmd_help(int argc, char **argv);

#define G_SESSION  "Session and users"
#define G_CAMPAIGN "Campaigns"
#define G_SCRIPT   "Script, qualifications and schedule"
#define G_CONTACTS "Contact lists and contacts"
#define G_WATCH    "Watching and reporting"

static const struct command commands[] = {
    {"help", "[COMMAND]", "list the commands, or show one command's synopsis, options and example",
     NULL, "carillonctl help contact list", G_SESSION, cmd_help, NO_SERVER},
    {"ping", "", "check the server answers (no login needed)", NULL, "carillonctl ping", G_SESSION,
     ctl_ping, POSITIONAL},
    {"login", "[LOGIN]", "log in and keep a session token (asks the password on the terminal)",
     "  LOGIN        else $CARILLON_USER, else asked\n"
     "  the password: $CARILLON_PASSWORD, else asked on the terminal, else the first line of "
     "stdin\n",
     "carillonctl login marie", G_SESSION, ctl_login, POSITIONAL},
    {"logout", "", "end the session and forget its token", NULL, "carillonctl logout", G_SESSION,
     ctl_logout, POSITIONAL},
    {"whoami", "", "who the session belongs to, and when it expires", NULL, "carillonctl whoami",
     G_SESSION, ctl_whoami, POSITIONAL},
    {"user add", "LOGIN --role admin|supervisor|agent [--name NAME] [--password-stdin]",
     "create a user (admin right)",
     "  --role R           admin, supervisor or agent\n"
     "  --name NAME        display name (default: the login)\n"
     "  --password-stdin   read the password from the first line of stdin (else asked twice)\n",
     "printf '%s\\n' \"$PASSWORD\" | carillonctl user add marie --role supervisor --name 'Marie "
     "Curie' --password-stdin",
     G_SESSION, ctl_user_add, 0},
    {"user list", "[--all]", "the users (--all: disabled ones too)", NULL,
     "carillonctl user list --all", G_SESSION, ctl_user_list, 0},
    {"user passwd", "[LOGIN] [--password-stdin]",
     "change a password (your own without LOGIN: the current one is asked too)",
     "  --password-stdin   new password on stdin's first line (for your own, the current one on\n"
     "                     the second line, or $CARILLON_OLD_PASSWORD)\n",
     "carillonctl user passwd marie", G_SESSION, ctl_user_passwd, 0},
    {"user disable", "LOGIN", "disable a user: their sessions end at once", NULL,
     "carillonctl user disable marie", G_SESSION, ctl_user_disable, POSITIONAL},
    {"user enable", "LOGIN", "enable a disabled user again", NULL, "carillonctl user enable marie",
     G_SESSION, ctl_user_enable, POSITIONAL},
    {"user profiles", "LOGIN [PROFILES]",
     "set a user's profiles (comma-separated; none given: clear them)", NULL,
     "carillonctl user profiles marie energie,telecom", G_SESSION, ctl_user_profiles, POSITIONAL},

    {"apply", "-f FILE.yaml",
     "create or replace a whole campaign from YAML (a state: key is refused)",
     "  -f, --file FILE    the campaign in YAML (as 'get campaign' prints it)\n",
     "carillonctl apply -f campaign.yaml", G_CAMPAIGN, ctl_apply, 0},
    {"get campaign", "NAME [-o yaml|json]", "print a whole campaign, as apply reads it",
     "  -o, --output F     yaml (default) or json (--json: json)\n",
     "carillonctl get campaign Énergie-2026 -o yaml > campaign.yaml", G_CAMPAIGN, ctl_get_campaign,
     0},
    {"campaign list", "[--state S] [--year Y] [--contract-type T]",
     "the campaigns you may view, with their state, positives reached against the target and the "
     "contacts still to call",
     "  --state S          draft, ready, running, paused, stopped or finished\n"
     "  --year Y           the campaign's year\n"
     "  --contract-type T  campaigns selling T\n",
     "carillonctl campaign list --state running", G_CAMPAIGN, ctl_campaign_list, 0},
    {"campaign create", "NAME [--time-zone TZ]", "create an empty draft campaign",
     "  --time-zone TZ     IANA zone of its schedule (default Europe/Paris)\n",
     "carillonctl campaign create Énergie-2026 --time-zone Europe/Paris", G_CAMPAIGN,
     ctl_campaign_edit, WITH_VERB},
    {"campaign set", "NAME FIELD VALUE", "set one field of a campaign (a path as in its YAML)",
     NULL, "carillonctl campaign set Énergie-2026 dialing_mode progressive", G_CAMPAIGN,
     ctl_campaign_edit, WITH_VERB | POSITIONAL},
    {"campaign state", "NAME draft|ready|running|paused|stopped|finished",
     "move a campaign to another state (its checks apply)", NULL,
     "carillonctl campaign state Énergie-2026 running", G_CAMPAIGN, ctl_campaign_state, POSITIONAL},
    {"campaign duplicate", "NAME NEW_NAME", "copy a campaign (script, rules, schedule) as a draft",
     NULL, "carillonctl campaign duplicate Énergie-2026 Énergie-2027", G_CAMPAIGN,
     ctl_campaign_duplicate, POSITIONAL},
    {"campaign delete", "NAME --yes",
     "delete a campaign with its lists and contacts (irreversible; without --yes, says how many)",
     "  --yes              confirm: the campaign's lists and contacts are deleted with it\n",
     "carillonctl campaign delete Essai --yes", G_CAMPAIGN, ctl_campaign_delete, 0},
    {"grant", "LOGIN|@PROFILE CAMPAIGN view,edit,export|none", "set rights on a campaign",
     "  RIGHTS             view, edit (implies view), export (implies view), or none\n",
     "carillonctl grant marie Énergie-2026 view,export", G_CAMPAIGN, ctl_grant, POSITIONAL},
    {"grant list", "CAMPAIGN", "who may do what on a campaign, and the agents assigned", NULL,
     "carillonctl grant list Énergie-2026", G_CAMPAIGN, ctl_grant_list, POSITIONAL},

    {"question list", "CAMPAIGN", "the questions of the script, screen by screen", NULL,
     "carillonctl question list Énergie-2026", G_SCRIPT, ctl_question, WITH_VERB | POSITIONAL},
    {"question delete", "CAMPAIGN EXPORT_NAME", "delete a question", NULL,
     "carillonctl question delete Énergie-2026 age", G_SCRIPT, ctl_question,
     WITH_VERB | POSITIONAL},
    {"question duplicate", "CAMPAIGN EXPORT_NAME NEW_EXPORT_NAME",
     "copy a question under a new export name, right after it", NULL,
     "carillonctl question duplicate Énergie-2026 age age_conjoint", G_SCRIPT, ctl_question,
     WITH_VERB | POSITIONAL},
    {"question move", "CAMPAIGN EXPORT_NAME POSITION",
     "move a question within its screen (1 = first)", NULL,
     "carillonctl question move Énergie-2026 age 1", G_SCRIPT, ctl_question,
     WITH_VERB | POSITIONAL},
    {"question choices", "CAMPAIGN EXPORT_NAME --bulk CHOICES", "replace a question's choices",
     "  --bulk CHOICES     the new choices, separated by ';' or by newlines (quote them)\n",
     "carillonctl question choices Énergie-2026 fournisseur --bulk 'EDF;Engie;TotalEnergies'",
     G_SCRIPT, ctl_question, WITH_VERB | POSITIONAL},
    {"question import", "CAMPAIGN --from OTHER_CAMPAIGN",
     "copy another campaign's questionnaire into this one", NULL,
     "carillonctl question import Énergie-2027 --from Énergie-2026", G_SCRIPT, ctl_question,
     WITH_VERB | POSITIONAL},
    {"script screens", "CAMPAIGN", "the script's screens", NULL,
     "carillonctl script screens Énergie-2026", G_SCRIPT, ctl_screen, WITH_VERB | POSITIONAL},
    {"script screen-delete", "CAMPAIGN SCREEN", "delete a screen", NULL,
     "carillonctl script screen-delete Énergie-2026 Accueil", G_SCRIPT, ctl_screen,
     WITH_VERB | POSITIONAL},
    {"script screen-duplicate", "CAMPAIGN SCREEN NEW_SCREEN",
     "copy a screen (its questions get export names NAME_2...)", NULL,
     "carillonctl script screen-duplicate Énergie-2026 Accueil Accueil-bis", G_SCRIPT, ctl_screen,
     WITH_VERB | POSITIONAL},
    {"script screen-move", "CAMPAIGN SCREEN POSITION", "move a screen (1 = first)", NULL,
     "carillonctl script screen-move Énergie-2026 Accueil 1", G_SCRIPT, ctl_screen,
     WITH_VERB | POSITIONAL},
    {"script preview", "CAMPAIGN [--contact 'FIELD=VALUE,...']",
     "print the script as an agent would see it, with a sample contact's values",
     "  --contact L        the sample contact's fields, comma-separated\n",
     "carillonctl script preview Énergie-2026 --contact 'last_name=Dupré,first_name=Hélène'",
     G_SCRIPT, ctl_screen, WITH_VERB},
    {"qualification list", "CAMPAIGN", "the campaign's qualifications", NULL,
     "carillonctl qualification list Énergie-2026", G_SCRIPT, ctl_qualification,
     WITH_VERB | POSITIONAL},
    {"qualification add",
     "CAMPAIGN CODE NAME --type positive|negative|misc [--final] [--argued] [--callback MODE] "
     "[--min-days N] [--max-days N] [--group G] [--color #RRGGBB]",
     "add a qualification",
     "  --type T           positive, negative or misc\n"
     "  --final            the contact is done after it\n"
     "  --argued           counts as an argued call\n"
     "  --callback MODE    none, manual, mandatory or personal\n"
     "  --min-days N, --max-days N   the callback's window\n"
     "  --group G          the group it belongs to\n"
     "  --color #RRGGBB    its colour on the agent's screen\n",
     "carillonctl qualification add Énergie-2026 RAPPEL 'À rappeler' --type misc --callback "
     "manual",
     G_SCRIPT, ctl_qualification, WITH_VERB},
    {"qualification delete", "CAMPAIGN CODE", "delete a qualification", NULL,
     "carillonctl qualification delete Énergie-2026 RAPPEL", G_SCRIPT, ctl_qualification,
     WITH_VERB | POSITIONAL},
    {"schedule list", "CAMPAIGN", "the weekly slots and the dated exceptions", NULL,
     "carillonctl schedule list Énergie-2026", G_SCRIPT, ctl_schedule, WITH_VERB | POSITIONAL},
    {"schedule add", "CAMPAIGN DAY START END", "add a weekly slot (DAY monday..sunday, HH:MM)",
     NULL, "carillonctl schedule add Énergie-2026 monday 09:00 12:30", G_SCRIPT, ctl_schedule,
     WITH_VERB | POSITIONAL},
    {"schedule remove", "CAMPAIGN SLOT", "remove a weekly slot (its number in schedule list)", NULL,
     "carillonctl schedule remove Énergie-2026 2", G_SCRIPT, ctl_schedule, WITH_VERB | POSITIONAL},
    {"schedule close", "CAMPAIGN DATE [NOTE]", "close a date (YYYY-MM-DD), e.g. a bank holiday",
     NULL, "carillonctl schedule close Énergie-2026 2026-12-25 Noël", G_SCRIPT, ctl_schedule,
     WITH_VERB | POSITIONAL},
    {"schedule open", "CAMPAIGN DATE START END [NOTE]", "open a date with its own hours", NULL,
     "carillonctl schedule open Énergie-2026 2026-12-27 10:00 16:00", G_SCRIPT, ctl_schedule,
     WITH_VERB | POSITIONAL},

    {"list import",
     "FILE.csv|FILE.xlsx --campaign C --name LIST [--map 'Column=field,...'] [--country CC] "
     "[--dedup phone|field:NAME|none] [--allow-duplicate-numbers] [--caller-id N] "
     "[--include-no-consent] [--consent-column COLUMN] [--report REJECTS.csv]",
     "import a contact list (without --map: show the file's columns and a proposed mapping)",
     "  --map M            file column = field pairs (last_name, a declared field, phone1..phone8\n"
     "                     with :mobile/:home/:work, phoneN_type, time_zone, consent); without "
     "it:\n"
     "                     the file's columns and a proposed mapping, nothing written\n"
     "  --country CC       country of national numbers: any ISO 3166-1 code (default FR)\n"
     "  --dedup D          phone (default: the first number), field:NAME (a standard or declared\n"
     "                     field), or none\n"
     "  --allow-duplicate-numbers   import rows whose numbers a contact of the campaign (or an\n"
     "                     earlier row) already holds; otherwise they count as duplicates\n"
     "  --caller-id N      number presented for this list's calls\n"
     "  --include-no-consent        import the rows without consent too (not called)\n"
     "  --consent-column COLUMN     that column holds yes/no consent (same as COLUMN=consent)\n"
     "  --report FILE      every rejected cell and duplicate number, CSV line;column;field;value;\n"
     "                     reason\n"
     "  exit 1 when the file is empty, has no rows or every row is rejected: nothing is written\n",
     "carillonctl list import clients.csv --campaign Énergie-2026 --name Octobre --map "
     "'Nom=last_name,Prénom=first_name,Tel1=phone1' --dedup phone",
     G_CONTACTS, ctl_list_import, 0},
    {"list show", "--campaign C", "the campaign's lists: state, contacts, waiting, done", NULL,
     "carillonctl list show --campaign Énergie-2026", G_CONTACTS, ctl_list, WITH_VERB},
    {"list set", "--campaign C LIST [--state active|stopped|suspended] [--caller-id N|-]",
     "stop, suspend or reactivate a list, or set its caller ID ('-' clears it)", NULL,
     "carillonctl list set --campaign Énergie-2026 Octobre --state suspended", G_CONTACTS, ctl_list,
     WITH_VERB},
    {"contact add",
     "--campaign C --phone NUMBER[:TYPE]... [--field NAME=VALUE]... [--list L] [--priority N] "
     "[--top] [--agent LOGIN] [--next-try 'YYYY-MM-DD HH:MM'] [--country CC] [--no-consent] "
     "[--allow-duplicate-numbers]",
     "add one contact by hand (a number already held in the campaign is refused)",
     "  --phone N[:TYPE]   a number, TYPE mobile, home, work or other (up to 4)\n"
     "  --field NAME=VALUE a standard or declared field\n"
     "  --next-try T       first call not before T, in the contact's own time zone\n"
     "  --allow-duplicate-numbers   add it even when a contact of the campaign holds one of the\n"
     "                     numbers (refused otherwise, naming that contact)\n",
     "carillonctl contact add --campaign Énergie-2026 --phone '06 12 34 56 78:mobile' --field "
     "last_name=Dupré --field first_name=Hélène",
     G_CONTACTS, ctl_contact, WITH_VERB},
    {"contact list",
     "--campaign C [--filter EXPR] [--columns a,b,...] [--sort COL,-COL] [--limit N] "
     "[--offset N]",
     "list contacts matching a filter, a page at a time",
     "  --filter EXPR      the filter language, or @NAME for a saved filter\n"
     "  --columns L        which columns (default id,state,last_name,first_name,phone,next_try)\n"
     "  --sort L           sort by these columns, -COL descending\n"
     "  --limit N, --offset N   the page (1..1000, default 100)\n",
     "carillonctl contact list --campaign Énergie-2026 --filter 'callback = true' --sort "
     "next_try,-priority",
     G_CONTACTS, ctl_contact, WITH_VERB},
    {"contact columns", "[--campaign C]",
     "the columns a listing can show, filter on and sort by: name, type, meaning (with C: its "
     "declared fields too)",
     "  --campaign C       add the campaign's declared fields\n",
     "carillonctl contact columns --campaign Énergie-2026", G_CONTACTS, ctl_contact, WITH_VERB},
    {"contact export",
     "--campaign C [--filter EXPR] [--columns a,b,...] -o FILE.csv|FILE.xlsx [--format csv|xlsx]",
     "export contacts with their answers (export right); the file imports back",
     "  --filter EXPR      only the contacts matching it, or @NAME for a saved filter\n"
     "  --columns L        the columns in order (default: the contact columns, phone1,\n"
     "                     phone1_type, phone1_state ... up to the most numbers a contact has,\n"
     "                     the declared fields, then the questions' answers)\n"
     "  --format F         csv or xlsx (default: from the file's extension). CSV is UTF-8 with\n"
     "                     a BOM, ';'-separated; a cell starting = + - @ gets a leading\n"
     "                     apostrophe, except E.164 numbers in number columns. XLSX cells are\n"
     "                     plain strings (never formulas), unprefixed\n"
     "  -o FILE            the output file (written aside, renamed when complete)\n",
     "carillonctl contact export --campaign Énergie-2026 -o export.xlsx", G_CONTACTS, ctl_contact,
     WITH_VERB},
    {"contact modify", "--campaign C --id N --field NAME=VALUE...",
     "change one contact's fields, priority, next_try (its own zone), consent, agent", NULL,
     "carillonctl contact modify --campaign Énergie-2026 --id 42 --field city=Besançon", G_CONTACTS,
     ctl_contact, WITH_VERB},
    {"contact reset", "--campaign C (--id N... | --filter EXPR | --all)",
     "back to waiting, first number scheduled, attempts 0", NULL,
     "carillonctl contact reset --campaign Énergie-2026 --id 42", G_CONTACTS, ctl_contact,
     WITH_VERB},
    {"contact reload", "--campaign C (--id N... | --filter EXPR | --all)",
     "back to list management: waiting, next try cleared", NULL,
     "carillonctl contact reload --campaign Énergie-2026 --filter \"state = 'shelved'\"",
     G_CONTACTS, ctl_contact, WITH_VERB},
    {"contact shelve", "--campaign C (--id N... | --filter EXPR | --all)", "set contacts aside",
     NULL, "carillonctl contact shelve --campaign Énergie-2026 --id 42", G_CONTACTS, ctl_contact,
     WITH_VERB},
    {"contact move", "--campaign C (--id N... | --filter EXPR | --all) --list LIST",
     "move contacts to another list of the campaign", NULL,
     "carillonctl contact move --campaign Énergie-2026 --id 42 --list Relances", G_CONTACTS,
     ctl_contact, WITH_VERB},
    {"contact assign", "--campaign C (--id N... | --filter EXPR | --all) --agent LOGIN",
     "give contacts to an exclusive agent (--agent '': unassign)", NULL,
     "carillonctl contact assign --campaign Énergie-2026 --id 42 --agent paul", G_CONTACTS,
     ctl_contact, WITH_VERB},
    {"contact delete", "--campaign C (--id N... | --filter EXPR | --all) --yes",
     "delete contacts (irreversible: --yes)", NULL,
     "carillonctl contact delete --campaign Essai --all --yes", G_CONTACTS, ctl_contact, WITH_VERB},
    {"blacklist add", "[--campaign C] [--reason R] [--country CC] [--file F] [NUMBER...]",
     "put numbers on the global list or a campaign's (their contacts' numbers are blocked)",
     "  --file F           one number per line\n",
     "carillonctl blacklist add --reason 'asked' 0612345678", G_CONTACTS, ctl_blacklist, WITH_VERB},
    {"blacklist remove", "[--campaign C] [--reason R] [--country CC] [--file F] [NUMBER...]",
     "take numbers off a blacklist (audited with the reason)", NULL,
     "carillonctl blacklist remove --reason 'error' 0612345678", G_CONTACTS, ctl_blacklist,
     WITH_VERB},
    {"blacklist list", "[--campaign C] [--number N] [--country CC] [--limit N] [--offset N]",
     "what is on the global blacklist (admins) or a campaign's: number, reason, who added it and "
     "when",
     "  --campaign C       the campaign's list (default: the global one)\n"
     "  --number N         only this number (national numbers read in --country, default FR)\n"
     "  --limit N, --offset N   the page (0..1000, default 100), by number\n",
     "carillonctl blacklist list --campaign Énergie-2026 --number '06 12 34 56 78'", G_CONTACTS,
     ctl_blacklist, WITH_VERB},
    {"filter save", "NAME EXPRESSION", "save a filter for --filter @NAME (yours only)", NULL,
     "carillonctl filter save rappels \"callback = true\"", G_CONTACTS, ctl_filter,
     WITH_VERB | POSITIONAL},
    {"filter list", "", "your saved filters", NULL, "carillonctl filter list", G_CONTACTS,
     ctl_filter, WITH_VERB | POSITIONAL},
    {"filter delete", "NAME", "delete a saved filter", NULL, "carillonctl filter delete rappels",
     G_CONTACTS, ctl_filter, WITH_VERB | POSITIONAL},

    {"campaign stats", "NAME", "dashboard: contacts, attempts, rates, agents, pacing", NULL,
     "carillonctl campaign stats Énergie-2026", G_WATCH, ctl_campaign_stats, POSITIONAL},
    {"campaign report", "NAME -o FILE.zip [--include-unfinished] [--page-size N]",
     "one PDF per target that answered, zipped (export right)",
     "  --include-unfinished   also targets whose questionnaire is not complete\n"
     "  --page-size N      targets per request\n",
     "carillonctl campaign report Énergie-2026 -o rapports.zip", G_WATCH, ctl_campaign_report, 0},
    {"top", "[--once]",
     "running campaigns you may view, one line each, every second until Ctrl-C (--once or --json: "
     "one snapshot)",
     NULL, "carillonctl top --once", G_WATCH, ctl_top, 0},
    {"compliance report", "NAME [--days N]",
     "the abandon ledger against the campaign's compliance profile",
     "  --days N           how many days back (default 30)\n",
     "carillonctl compliance report Énergie-2026 --days 7", G_WATCH, ctl_compliance, WITH_VERB},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *const groups[] = {G_SESSION, G_CAMPAIGN, G_SCRIPT, G_CONTACTS, G_WATCH};

static const struct command *current; /* the running command, for ctl_usage */

static size_t name_words(const char *name)
{
    return strchr(name, ' ') ? 2 : 1;
}

/* The row for argv's first one or two words; NULL when none. Two words win over one ("grant
 * list X" is grant list, "grant marie ..." is grant). */
static const struct command *lookup(int argc, char **argv)
{
    if (argc >= 2) {
        size_t l0 = strlen(argv[0]);
        for (size_t i = 0; i < NCOMMANDS; i++) {
            const char *nm = commands[i].name;
            if (!strncmp(nm, argv[0], l0) && nm[l0] == ' ' && !strcmp(nm + l0 + 1, argv[1]))
                return &commands[i];
        }
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, argv[0]))
            return &commands[i];
    return NULL;
}

/* Whether name is a subcommand of word ("contact list" of "contact"). */
static bool in_group(const char *name, const char *word)
{
    size_t wl = strlen(word);
    return !strncmp(name, word, wl) && name[wl] == ' ';
}

/* The subcommands of a first word ("contact": "add, list, ..."); 0 when it is no group. */
static size_t subcommands(const char *word, char *out, size_t len)
{
    size_t n = 0, wl = strlen(word), used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *nm = commands[i].name;
        if (!in_group(nm, word))
            continue;
        int k = snprintf(out + used, len - used, "%s%s", n ? ", " : "", nm + wl + 1);
        if (k > 0 && (size_t)k < len - used)
            used += (size_t)k;
        n++;
    }
    return n;
}

/* --- help ------------------------------------------------------------------------------------- */

static void print_synopsis(FILE *f, const struct command *c)
{
    fprintf(f, "usage: carillonctl %s%s%s\n", c->name, c->args[0] ? " " : "", c->args);
}

static void print_command_help(FILE *f, const struct command *c)
{
    print_synopsis(f, c);
    fprintf(f, "\n%s\n", c->summary);
    if (c->options)
        fprintf(f, "\noptions:\n%s", c->options);
    if (c->example)
        fprintf(f, "\nexample:\n  %s\n", c->example);
}

static const char global_help[] =
    "global options (before the command):\n"
    "  --server HOST:PORT   the server ($CARILLON_SERVER; HOST a name, an IPv4 or [IPv6])\n"
    "  --ca FILE            CA certificate the server's is checked with ($CARILLON_CA)\n"
    "  --json               print exactly one JSON object on stdout, errors included; numbers\n"
    "                       and booleans have their JSON types, times are RFC 3339 strings\n"
    "  --utc                show times in UTC instead of your local zone\n"
    "  --timeout SECONDS    longest wait for the server at each step ($CARILLON_TIMEOUT,\n"
    "                       else 10)\n"
    "  --version, --help\n"
    "times: shown in your local zone (TZ, else the system's), the zone written after each time;\n"
    "  with --utc, in UTC. A contact's own zone is its time_zone column; --next-try and\n"
    "  contact modify's next_try are read in the contact's zone.\n"
    "environment: CARILLON_SERVER, CARILLON_CA, CARILLON_TIMEOUT, CARILLON_USER,\n"
    "  CARILLON_PASSWORD, CARILLON_OLD_PASSWORD (user passwd), CARILLON_CONFIG_DIR (where the\n"
    "  session file is kept; else $XDG_CONFIG_HOME/carillon, else ~/.config/carillon)\n"
    "exit codes: 0 ok, 1 the server said no, 2 usage, 3 connection or TLS failure\n";

static void print_overview(FILE *f)
{
    fprintf(f, "usage: carillonctl [GLOBAL OPTIONS] COMMAND [ARGUMENTS]\n");
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        fprintf(f, "\n%s:\n", groups[g]);
        for (size_t i = 0; i < NCOMMANDS; i++) {
            const struct command *c = &commands[i];
            if (strcmp(c->group, groups[g]))
                continue;
            char line[512];
            snprintf(line, sizeof line, "%s%s%s", c->name, c->args[0] ? " " : "", c->args);
            if (strlen(line) <= 34)
                fprintf(f, "  %-34s %s\n", line, c->summary);
            else
                fprintf(f, "  %s\n  %-34s %s\n", line, "", c->summary);
        }
    }
    fprintf(f,
            "\n%s\n'carillonctl help COMMAND' or 'carillonctl COMMAND --help' shows a "
            "command's options and an example.\n",
            global_help);
}

static void json_command(const struct command *c)
{
    printf("{\"name\":");
    ctl_json_string(stdout, c->name);
    printf(",\"synopsis\":");
    char syn[1024];
    snprintf(syn, sizeof syn, "carillonctl %s%s%s", c->name, c->args[0] ? " " : "", c->args);
    ctl_json_string(stdout, syn);
    printf(",\"summary\":");
    ctl_json_string(stdout, c->summary);
    printf(",\"group\":");
    ctl_json_string(stdout, c->group);
    printf(",\"options\":");
    if (c->options)
        ctl_json_string(stdout, c->options);
    else
        printf("null");
    printf(",\"example\":");
    if (c->example)
        ctl_json_string(stdout, c->example);
    else
        printf("null");
    printf("}");
}

/* One command's help: synopsis, options and example (or its row as JSON). */
static int show_command(const struct command *c)
{
    if (ctl_json()) {
        printf("{\"command\":");
        json_command(c);
        printf("}\n");
    } else {
        print_command_help(stdout, c);
    }
    return 0;
}

/* help [WORD [WORD]]: everything; one command; or a group's commands. */
static int cmd_help(int argc, char **argv)
{
    if (argc == 0) {
        if (!ctl_json()) {
            print_overview(stdout);
            return 0;
        }
        printf("{\"commands\":[");
        for (size_t i = 0; i < NCOMMANDS; i++) {
            if (i)
                putchar(',');
            json_command(&commands[i]);
        }
        printf("],\"global\":");
        ctl_json_string(stdout, global_help);
        printf("}\n");
        return 0;
    }
    const struct command *c = lookup(argc, argv);
    if (c && (int)name_words(c->name) < argc)
        c = NULL; /* "help contact nonsense" */
    char subs[512];
    if (!c && argc == 1 && subcommands(argv[0], subs, sizeof subs)) {
        if (ctl_json()) {
            printf("{\"commands\":[");
            bool first = true;
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (in_group(commands[i].name, argv[0])) {
                    if (!first)
                        putchar(',');
                    first = false;
                    json_command(&commands[i]);
                }
            printf("]}\n");
            return 0;
        }
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (in_group(commands[i].name, argv[0]))
                printf("  carillonctl %s %s\n      %s\n", commands[i].name, commands[i].args,
                       commands[i].summary);
        return 0;
    }
    if (!c) {
        current = NULL;
        return ctl_usage("help: no command '%s%s%s' (carillonctl help lists them)", argv[0],
                         argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    }
    return show_command(c);
}

/* --- usage errors ------------------------------------------------------------------------------
 */

int ctl_usage(const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char full[1024];
    size_t nl = current ? strlen(current->name) : 0;
    if (current && !(strncmp(msg, current->name, nl) == 0 && (msg[nl] == ':' || msg[nl] == ' ')))
        snprintf(full, sizeof full, "%s: %s", current->name, msg);
    else
        snprintf(full, sizeof full, "%s", msg);
    if (ctl_json()) {
        ctl_json_error("INVALID_ARGUMENT", NULL, full);
        return CTL_EXIT_USAGE;
    }
    fprintf(stderr, "carillonctl: %s\n", full);
    if (current) {
        print_synopsis(stderr, current);
        fprintf(stderr, "(carillonctl help %s: options and an example)\n", current->name);
    } else {
        fprintf(stderr, "(carillonctl help: the commands)\n");
    }
    return CTL_EXIT_USAGE;
}

/* The synopsis' required words, in order: those outside [...] and (...) ("CAMPAIGN",
 * "--bulk", "FILE"), and how many it may take at most (optional words too). */
static size_t required_words(const char *args, char words[][48], size_t max, size_t *most)
{
    size_t n = 0, all = 0;
    int depth = 0;
    const char *p = args;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *s = p;
        bool opt = depth > 0 || *p == '[' || *p == '(';
        while (*p && *p != ' ') {
            if (*p == '[' || *p == '(')
                depth++;
            else if (*p == ']' || *p == ')')
                depth--;
            p++;
        }
        all++;
        if (!opt && n < max) {
            snprintf(words[n], sizeof words[n], "%.*s", (int)(p - s), s);
            n++;
        }
    }
    *most = all;
    return n;
}

/* POSITIONAL rows: the count of words, and the literal flags ("--bulk") where they belong. */
static int check_positional(const struct command *c, int argc, char **argv)
{
    char words[12][48];
    size_t most, need = required_words(c->args, words, 12, &most);
    for (size_t i = 0; i < need && i < (size_t)argc; i++)
        if (words[i][0] == '-' && strcmp(argv[i], words[i]))
            return ctl_usage("expected %s where '%s' is", words[i], argv[i]);
    if ((size_t)argc < need)
        return ctl_usage("missing %s", words[argc]);
    if ((size_t)argc > most)
        return ctl_usage("unexpected argument '%s'", argv[most]);
    return 0;
}

/* --- dispatch ----------------------------------------------------------------------------------
 */

static bool asks_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

int ctl_run_command(int argc, char **argv)
{
    const struct command *c = lookup(argc, argv);
    char subs[512];
    if (!c) {
        if (subcommands(argv[0], subs, sizeof subs)) {
            if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
                return cmd_help(1, argv);
            return ctl_usage(argc < 2 ? "%s needs a subcommand: %s"
                                      : "%s has no subcommand '%s' (it has: %s)",
                             argv[0], argc < 2 ? subs : argv[1], subs);
        }
        return ctl_usage("unknown command '%s' (carillonctl help lists them)", argv[0]);
    }
    current = c;
    int skip = (int)name_words(c->name);
    int rest = argc - skip;
    char **args = argv + skip;
    if (asks_help(rest, args)) {
        return show_command(c);
    }
    int rc;
    if ((c->flags & POSITIONAL) && (rc = check_positional(c, rest, args)))
        return rc;
    /* The server's address is checked when the command connects (ctl_connect), so a wrong
     * argument is reported first whatever the environment. */
    if (c->flags & WITH_VERB)
        return c->run(rest + 1, args - 1);
    return c->run(rest, args);
}
