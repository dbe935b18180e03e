/* carillonctl's campaign commands: apply, get campaign, campaign list|state|duplicate|delete,
 * grant, and user profiles (the profiles rights are granted to). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/pbtext.h"
#include "ctl.h"
#include "ctlutil.h"
#include "pbyaml.h"

int ctl_apply(int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc)
            file = argv[++i];
        else
            return ctl_usage("apply: unexpected argument '%s'", argv[i]);
    }
    if (!file)
        return ctl_usage("apply needs -f FILE.yaml");
    char err[1024];
    struct pbyaml_lines lines = {0};
    Carillon__V1__Campaign *camp = (Carillon__V1__Campaign *)pbyaml_read(
        file, &carillon__v1__campaign__descriptor, &lines, err, sizeof err);
    if (!camp) {
        pbyaml_lines_free(&lines);
        return ctl_report(CTL_EXIT_REFUSED, "INVALID_ARGUMENT", NULL, "%s", err);
    }
    int rc = ctl_connect_and_auth();
    if (rc) {
        protobuf_c_message_free_unpacked(&camp->base, NULL);
        pbyaml_lines_free(&lines);
        return rc;
    }
    Carillon__V1__CampaignApply ap = CARILLON__V1__CAMPAIGN_APPLY__INIT;
    ap.campaign = camp;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_APPLY;
    env.campaign_apply = &ap;
    rc = ctl_call(&env);
    protobuf_c_message_free_unpacked(&camp->base, NULL);
    if (!rc && ctl_reply()->body_case == CARILLON__V1__ENVELOPE__BODY_ERROR && !ctl_json()) {
        /* Point at the file's line for the field the server names. */
        const Carillon__V1__Error *e = ctl_reply()->error;
        int line = e->field[0] ? pbyaml_line_of(&lines, e->field) : 0;
        if (line) {
            bool named = strncmp(e->message, e->field, strlen(e->field)) == 0;
            rc = ctl_report(CTL_EXIT_REFUSED, ctl_code_name(e->code), NULL, "%s:%d: %s%s%s", file,
                            line, named ? "" : e->field, named ? "" : ": ", e->message);
            ctl_drop_reply();
            pbyaml_lines_free(&lines);
            return rc;
        }
    }
    pbyaml_lines_free(&lines);
    if (rc || (rc = ctl_expect(CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPLY)))
        return rc;
    const Carillon__V1__CampaignReply *r = ctl_reply()->campaign_reply;
    if (ctl_json()) {
        printf("{\"name\":");
        ctl_json_string(stdout, r->campaign->name);
        printf(",\"created\":%s}\n", r->created ? "true" : "false");
    } else
        printf("campaign %s %s\n", r->campaign->name, r->created ? "created" : "updated");
    ctl_drop_reply();
    return 0;
}

int ctl_request_campaign(const char *name)
{
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__CampaignGet g = CARILLON__V1__CAMPAIGN_GET__INIT;
    g.name = (char *)name;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_GET;
    env.campaign_get = &g;
    return ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPLY);
}

int ctl_get_campaign(int argc, char **argv)
{
    const char *name = NULL, *format = "yaml";
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
            format = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return ctl_usage("get campaign: unexpected argument '%s'", argv[i]);
    }
    if (!name)
        return ctl_usage("get campaign needs a NAME");
    if (strcmp(format, "yaml") && strcmp(format, "json"))
        return ctl_usage("-o takes yaml or json, not '%s'", format);
    if (ctl_json())
        format = "json";
    int rc = ctl_request_campaign(name);
    if (rc)
        return rc;
    const Carillon__V1__Campaign *c = ctl_reply()->campaign_reply->campaign;
    if (strcmp(format, "json") == 0)
        pbjson_write(stdout, &c->base);
    else if (pbyaml_write(stdout, &c->base) != 0)
        rc = ctl_report(CTL_EXIT_REFUSED, "INTERNAL", NULL, "cannot write YAML");
    ctl_drop_reply();
    return rc;
}

static int parse_state(const char *s, int *out)
{
    if (cr_pb_enum_parse(&carillon__v1__campaign_state__descriptor, s, out) == 0)
        return 0;
    char words[256];
    return ctl_usage(
        "state must be one of: %s",
        cr_pb_enum_words(&carillon__v1__campaign_state__descriptor, words, sizeof words));
}

int ctl_campaign_list(int argc, char **argv)
{
    /* Columns: POSITIVES/TARGET is the contacts with a call qualified positive against the
     * campaign's positive target ("-": none); TO CALL the contacts waiting to be called (never
     * called yet or due again) on a number neither blacklisted nor failed, CALLBACKS the
     * scheduled callbacks among them. */
    Carillon__V1__CampaignList l = CARILLON__V1__CAMPAIGN_LIST__INIT;
    for (int i = 0; i < argc; i++) {
        int st;
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            if (parse_state(argv[++i], &st))
                return CTL_EXIT_USAGE;
            l.state = st;
        } else if (strcmp(argv[i], "--year") == 0 && i + 1 < argc) {
            char *end = NULL;
            unsigned long y = strtoul(argv[++i], &end, 10);
            if (!argv[i][0] || *end || y > 9999)
                return ctl_usage("campaign list: --year takes a year such as 2027, not '%s'",
                                 argv[i]);
            l.year = (uint32_t)y;
        } else if (strcmp(argv[i], "--contract-type") == 0 && i + 1 < argc) {
            l.contract_type = argv[++i];
        } else {
            return ctl_usage("campaign list: unexpected argument '%s'", argv[i]);
        }
    }
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST;
    env.campaign_list = &l;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_LIST_REPLY)))
        return rc;
    const Carillon__V1__CampaignListReply *r = ctl_reply()->campaign_list_reply;
    char st[32], cell[64];
    if (ctl_json()) {
        printf("{\"campaigns\":[");
        for (size_t i = 0; i < r->n_campaigns; i++) {
            const Carillon__V1__CampaignSummary *s = r->campaigns[i];
            printf("%s{\"name\":", i ? "," : "");
            ctl_json_string(stdout, s->name);
            printf(",\"state\":");
            ctl_json_string(stdout, cr_pb_enum_word(&carillon__v1__campaign_state__descriptor,
                                                    s->state, st, sizeof st));
            printf(",\"year\":");
            if (s->year)
                printf("%u", s->year);
            else
                printf("null");
            printf(",\"contract_types\":[");
            for (size_t k = 0; k < s->n_contract_types; k++) {
                if (k)
                    putchar(',');
                ctl_json_string(stdout, s->contract_types[k]);
            }
            printf("],\"agents\":%u,\"positives\":%u,\"positive_target\":", s->agents,
                   s->positive_count);
            if (s->positive_target)
                printf("%u", s->positive_target);
            else
                printf("null");
            printf(",\"to_call\":%llu,\"callbacks\":%llu}", (unsigned long long)s->to_call,
                   (unsigned long long)s->callbacks);
        }
        printf("],\"total\":%zu}\n", r->n_campaigns);
        ctl_drop_reply();
        return 0;
    }
    int wn = 4;
    for (size_t i = 0; i < r->n_campaigns; i++)
        if (ctl_display_width(r->campaigns[i]->name) > wn)
            wn = ctl_display_width(r->campaigns[i]->name);
    ctl_print_padded("NAME", wn + 2);
    printf("STATE     YEAR  AGENTS  POSITIVES/TARGET  TO CALL  CALLBACKS  CONTRACT TYPES\n");
    for (size_t i = 0; i < r->n_campaigns; i++) {
        const Carillon__V1__CampaignSummary *s = r->campaigns[i];
        ctl_print_padded(s->name, wn + 2);
        ctl_print_padded(
            cr_pb_enum_word(&carillon__v1__campaign_state__descriptor, s->state, st, sizeof st),
            10);
        if (s->year)
            printf("%-6u", s->year);
        else
            printf("%-6s", "-");
        printf("%-8u", s->agents);
        if (s->positive_target)
            snprintf(cell, sizeof cell, "%u/%u", s->positive_count, s->positive_target);
        else
            snprintf(cell, sizeof cell, "%u/-", s->positive_count);
        ctl_print_padded(cell, 18);
        snprintf(cell, sizeof cell, "%llu", (unsigned long long)s->to_call);
        ctl_print_padded(cell, 9);
        snprintf(cell, sizeof cell, "%llu", (unsigned long long)s->callbacks);
        ctl_print_padded(cell, 11);
        for (size_t k = 0; k < s->n_contract_types; k++)
            printf("%s%s", k ? ", " : "", s->contract_types[k]);
        printf("\n");
    }
    printf("(%s)\n", ctl_count(cell, sizeof cell, r->n_campaigns, "campaign", "campaigns"));
    ctl_drop_reply();
    return 0;
}

static int simple_request(Carillon__V1__Envelope *env, const char *text)
{
    int rc = ctl_connect_and_auth();
    if (rc || (rc = ctl_request(env, CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    ctl_drop_reply();
    return ctl_print_ok(text);
}

int ctl_campaign_state(int argc, char **argv)
{
    (void)argc;
    int st;
    if (parse_state(argv[1], &st))
        return CTL_EXIT_USAGE;
    Carillon__V1__CampaignSetState ss = CARILLON__V1__CAMPAIGN_SET_STATE__INIT;
    ss.name = argv[0];
    ss.state = st;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_SET_STATE;
    env.campaign_set_state = &ss;
    char text[600];
    snprintf(text, sizeof text, "campaign %s is %s", argv[0], argv[1]);
    return simple_request(&env, text);
}

int ctl_campaign_duplicate(int argc, char **argv)
{
    (void)argc;
    Carillon__V1__CampaignDuplicate du = CARILLON__V1__CAMPAIGN_DUPLICATE__INIT;
    du.name = argv[0];
    du.new_name = argv[1];
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_DUPLICATE;
    env.campaign_duplicate = &du;
    char text[600];
    snprintf(text, sizeof text, "campaign %s copied to %s (draft)", argv[0], argv[1]);
    return simple_request(&env, text);
}

/* campaign delete NAME --yes: without --yes the server refuses and says how many lists and
 * contacts would go with it (the same rule as contact delete). */
int ctl_campaign_delete(int argc, char **argv)
{
    Carillon__V1__CampaignDelete de = CARILLON__V1__CAMPAIGN_DELETE__INIT;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--yes") == 0)
            de.confirm = true;
        else if (argv[i][0] != '-' && !de.name[0])
            de.name = argv[i];
        else
            return ctl_usage("unexpected argument '%s'", argv[i]);
    }
    if (!de.name[0])
        return ctl_usage("missing NAME");
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_DELETE;
    env.campaign_delete = &de;
    char text[600];
    snprintf(text, sizeof text, "campaign %s deleted", de.name);
    return simple_request(&env, text);
}

/* Splits "a,b,c" in place into up to max items. */
static size_t split_commas(char *s, char **items, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    return n;
}

int ctl_grant_list(int argc, char **argv)
{
    (void)argc;
    int rc;
    {
        if ((rc = ctl_connect_and_auth()))
            return rc;
        Carillon__V1__CampaignRightsGet g = CARILLON__V1__CAMPAIGN_RIGHTS_GET__INIT;
        g.campaign = argv[0];
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_RIGHTS_GET;
        env.campaign_rights_get = &g;
        if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_RIGHTS)))
            return rc;
        const Carillon__V1__CampaignRights *r = ctl_reply()->campaign_rights;
        if (ctl_json()) {
            pbjson_write(stdout, &r->base);
        } else {
            printf("LOGIN               ROLE        VIEW  EDIT  EXPORT  ASSIGNED\n");
            for (size_t i = 0; i < r->n_rights; i++) {
                const Carillon__V1__CampaignRight *x = r->rights[i];
                ctl_print_padded(x->login, 20);
                ctl_print_padded(x->role, 12);
                printf("%-6s%-6s%-8s%s\n", x->view ? "yes" : "-", x->edit ? "yes" : "-",
                       x->export ? "yes" : "-", x->assigned_by[0] ? x->assigned_by : "-");
            }
        }
        ctl_drop_reply();
        return 0;
    }
}

int ctl_grant(int argc, char **argv)
{
    (void)argc;
    int rc;
    Carillon__V1__CampaignGrant g = CARILLON__V1__CAMPAIGN_GRANT__INIT;
    g.login = argv[0];
    g.campaign = argv[1];
    char rights[64];
    snprintf(rights, sizeof rights, "%s", argv[2]);
    char *items[8];
    size_t n = split_commas(rights, items, 8);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i], "view") == 0)
            g.view = 1;
        else if (strcmp(items[i], "edit") == 0)
            g.edit = g.view = 1;
        else if (strcmp(items[i], "export") == 0)
            g.export = g.view = 1;
        else if (strcmp(items[i], "none") != 0)
            return ctl_usage("unknown right '%s' (view, edit, export or none)", items[i]);
    }
    if ((rc = ctl_connect_and_auth()))
        return rc;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_GRANT;
    env.campaign_grant = &g;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    ctl_drop_reply();
    char text[512];
    snprintf(text, sizeof text, "%s on %s: view=%s edit=%s export=%s", g.login, g.campaign,
             g.view ? "yes" : "no", g.edit ? "yes" : "no", g.export ? "yes" : "no");
    return ctl_print_ok(text);
}

int ctl_user_profiles(int argc, char **argv)
{
    char list[1024] = "";
    if (argc == 2)
        snprintf(list, sizeof list, "%s", argv[1]);
    char *items[32];
    size_t n = split_commas(list, items, 32);
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__UserSetProfiles up = CARILLON__V1__USER_SET_PROFILES__INIT;
    up.login = argv[0];
    up.profiles = items;
    up.n_profiles = n;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_SET_PROFILES;
    env.user_set_profiles = &up;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    ctl_drop_reply();
    return ctl_print_ok("profiles set");
}
