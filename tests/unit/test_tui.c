/* The agent console's model (agentd/client/tui_model.c) without a terminal: envelopes and keys
 * in, the 80x24 screen and the requests out. Login, a call with pop-up fields and a script,
 * answers with local checks and the server's refusal, navigation by branches, qualification
 * by F-key with a callback, preview dial/skip, pause reasons, logout. */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tui_model.h"

#define NOW 1764950400000LL /* 2025-12-05 16:00:00 UTC */

static struct tui_grid grid; /* large: static */

/* --- fixtures: the messages the server sends --------------------------------------------- */

static Carillon__V1__AgentQualification q_vente, q_rap;
static Carillon__V1__AgentQualification *quals[2];
static Carillon__V1__AgentCampaign camp;
static Carillon__V1__AgentCampaign *camps[1];
static char *reasons[] = {"Déjeuner", "Formation"};
static Carillon__V1__AgentLoginOk login_ok;

static Carillon__V1__AgentField fields[3];
static Carillon__V1__AgentField *field_ptrs[3];
static Carillon__V1__AgentContact ct;
static Carillon__V1__Block b_text, b_yes, b_mail, b_multi, b_quick;
static Carillon__V1__Block *s1_blocks[2], *s2_blocks[2], *s3_blocks[1];
static Carillon__V1__Branch br_yes, br_no;
static Carillon__V1__Branch *branches[2];
static char *multi_choices[] = {"Fibre", "Mobile", "TV"};
static char *quick_quals[] = {"VENTE", "RAP"};
static Carillon__V1__Screen s1, s2, s3;
static Carillon__V1__Screen *screens[3];
static Carillon__V1__AgentHistoryEntry h1;
static Carillon__V1__AgentHistoryEntry *hist[1];
static Carillon__V1__AgentNumber n1, n2;
static Carillon__V1__AgentNumber *nums[2];
static Carillon__V1__Interview iv;
static Carillon__V1__CallConnected connected;
static Carillon__V1__CallOffered offered;

static void fixtures(void)
{
    carillon__v1__agent_qualification__init(&q_vente);
    q_vente.code = "VENTE";
    q_vente.name = "Vente conclue";
    q_vente.final = true;
    q_vente.callback = "none";
    carillon__v1__agent_qualification__init(&q_rap);
    q_rap.code = "RAP";
    q_rap.name = "Rappel";
    q_rap.callback = "manual";
    q_rap.callback_max_days = 30;
    quals[0] = &q_vente;
    quals[1] = &q_rap;
    carillon__v1__agent_campaign__init(&camp);
    camp.name = "Relance fibre";
    camp.dialing_mode = "progressive";
    camp.wrapup_max_s = 90;
    camp.n_qualifications = 2;
    camp.qualifications = quals;
    camps[0] = &camp;
    carillon__v1__agent_login_ok__init(&login_ok);
    login_ok.session = 7;
    login_ok.agent_id = 3;
    login_ok.display_name = "Agent n°1";
    login_ok.state = CARILLON__V1__AGENT_STATE__AGENT_STATE_CONNECTING;
    login_ok.n_campaigns = 1;
    login_ok.campaigns = camps;
    login_ok.n_pause_reasons = 2;
    login_ok.pause_reasons = reasons;

    static const char *const names[3][3] = {{"last_name", "Nom", "Lefèvre"},
                                            {"first_name", "Prénom", "Hélène"},
                                            {"city", "Ville", "Créteil"}};
    for (int i = 0; i < 3; i++) {
        carillon__v1__agent_field__init(&fields[i]);
        fields[i].name = (char *)names[i][0];
        fields[i].label = (char *)names[i][1];
        fields[i].value = (char *)names[i][2];
        field_ptrs[i] = &fields[i];
    }
    carillon__v1__agent_contact__init(&ct);
    ct.id = 42;
    ct.number = "+33612345670";
    ct.n_fields = 3;
    ct.fields = field_ptrs;
    ct.attempts = 1;

    carillon__v1__block__init(&b_text);
    b_text.kind = CARILLON__V1__BLOCK_KIND__BLOCK_KIND_TEXT;
    b_text.text = "Bonjour Hélène Lefèvre, je vous appelle au sujet de la fibre.";
    carillon__v1__branch__init(&br_yes);
    br_yes.answer = "yes";
    br_yes.screen = "Offre";
    carillon__v1__branch__init(&br_no);
    br_no.answer = "no";
    br_no.screen = "Fin";
    branches[0] = &br_yes;
    branches[1] = &br_no;
    carillon__v1__block__init(&b_yes);
    b_yes.kind = CARILLON__V1__BLOCK_KIND__BLOCK_KIND_SELECT;
    b_yes.select_type = CARILLON__V1__SELECT_TYPE__SELECT_TYPE_YES_NO;
    b_yes.text = "Êtes-vous intéressée ?";
    b_yes.export_name = "interesse";
    b_yes.mandatory = true;
    b_yes.n_branches = 2;
    b_yes.branches = branches;
    s1_blocks[0] = &b_text;
    s1_blocks[1] = &b_yes;
    carillon__v1__screen__init(&s1);
    s1.name = "Accueil";
    s1.initial = true;
    s1.n_blocks = 2;
    s1.blocks = s1_blocks;

    carillon__v1__block__init(&b_mail);
    b_mail.kind = CARILLON__V1__BLOCK_KIND__BLOCK_KIND_PREDEFINED;
    b_mail.predefined_type = CARILLON__V1__PREDEFINED_TYPE__PREDEFINED_TYPE_EMAIL;
    b_mail.text = "Votre e-mail ?";
    b_mail.export_name = "email";
    carillon__v1__block__init(&b_multi);
    b_multi.kind = CARILLON__V1__BLOCK_KIND__BLOCK_KIND_SELECT;
    b_multi.select_type = CARILLON__V1__SELECT_TYPE__SELECT_TYPE_MULTIPLE;
    b_multi.text = "Services souhaités";
    b_multi.export_name = "services";
    b_multi.n_choices = 3;
    b_multi.choices = multi_choices;
    s2_blocks[0] = &b_mail;
    s2_blocks[1] = &b_multi;
    carillon__v1__screen__init(&s2);
    s2.name = "Offre";
    s2.n_blocks = 2;
    s2.blocks = s2_blocks;

    carillon__v1__block__init(&b_quick);
    b_quick.kind = CARILLON__V1__BLOCK_KIND__BLOCK_KIND_QUICK_QUALIFICATION;
    b_quick.n_qualifications = 2;
    b_quick.qualifications = quick_quals;
    s3_blocks[0] = &b_quick;
    carillon__v1__screen__init(&s3);
    s3.name = "Fin";
    s3.n_blocks = 1;
    s3.blocks = s3_blocks;
    screens[0] = &s1;
    screens[1] = &s2;
    screens[2] = &s3;

    carillon__v1__agent_history_entry__init(&h1);
    h1.at_unix_ms = NOW - 86400000;
    h1.event = "call";
    h1.outcome = "no_answer";
    hist[0] = &h1;
    carillon__v1__agent_number__init(&n1);
    n1.number = "+33612345670";
    n1.type = "mobile";
    n1.state = "valid";
    n1.current = true;
    carillon__v1__agent_number__init(&n2);
    n2.number = "+33140000001";
    n2.type = "landline";
    n2.state = "valid";
    nums[0] = &n1;
    nums[1] = &n2;
    carillon__v1__interview__init(&iv);
    iv.state = "to_call";
    iv.n_script = 3;
    iv.script = screens;
    iv.n_history = 1;
    iv.history = hist;
    iv.n_numbers = 2;
    iv.numbers = nums;

    carillon__v1__call_connected__init(&connected);
    connected.attempt_id = 900;
    connected.campaign = "Relance fibre";
    connected.campaign_number = "+33140000000";
    connected.contact = &ct;
    connected.interview = &iv;
    carillon__v1__call_offered__init(&offered);
    offered.attempt_id = 901;
    offered.campaign = "Relance fibre";
    offered.contact = &ct;
    offered.timeout_s = 30;
    offered.timeout_action = "skip";
    offered.interview = &iv;
}

static void push(struct tui_model *m, Carillon__V1__Envelope__BodyCase bc, void *body)
{
    Carillon__V1__Envelope env;
    carillon__v1__envelope__init(&env);
    env.body_case = bc;
    env.agent_login_ok = body; /* the oneof shares one pointer */
    tui_model_envelope(m, &env, NULL, NOW);
}

static void state(struct tui_model *m, Carillon__V1__AgentState s, const char *reason)
{
    Carillon__V1__AgentStateChanged sc;
    carillon__v1__agent_state_changed__init(&sc);
    sc.state = s;
    sc.reason = (char *)reason;
    sc.since_unix_ms = NOW - 65000;
    push(m, CARILLON__V1__ENVELOPE__BODY_AGENT_STATE_CHANGED, &sc);
}

static void reply_ok(struct tui_model *m, const struct tui_request *req)
{
    Carillon__V1__Envelope env;
    Carillon__V1__Ok ok;
    carillon__v1__envelope__init(&env);
    carillon__v1__ok__init(&ok);
    env.body_case = CARILLON__V1__ENVELOPE__BODY_OK;
    env.ok = &ok;
    tui_model_envelope(m, &env, req, NOW);
}

static void reply_error(struct tui_model *m, const struct tui_request *req, const char *msg,
                        const char *field)
{
    Carillon__V1__Envelope env;
    Carillon__V1__Error e;
    carillon__v1__envelope__init(&env);
    carillon__v1__error__init(&e);
    e.code = CARILLON__V1__CODE__CODE_INVALID_ARGUMENT;
    e.message = (char *)msg;
    e.field = (char *)field;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_ERROR;
    env.error = &e;
    tui_model_envelope(m, &env, req, NOW);
}

/* The whole 80x24 screen as one string (rows joined by '\n'). */
static const char *screen_text(const struct tui_model *m)
{
    static char out[24 * 81 * 4 + 64];
    char row[81 * 4 + 8];
    grid.rows = 24;
    grid.cols = 80;
    tui_render(m, NOW, &grid);
    out[0] = '\0';
    for (int r = 0; r < 24; r++) {
        strcat(out, tui_grid_row(&grid, r, row, sizeof row));
        strcat(out, "\n");
    }
    return out;
}

static const char *row_text(const struct tui_model *m, int r)
{
    static char row[81 * 4 + 8];
    grid.rows = 24;
    grid.cols = 80;
    tui_render(m, NOW, &grid);
    return tui_grid_row(&grid, r, row, sizeof row);
}

static void contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        fprintf(stderr, "%s", hay);
        fail_msg("'%s' not on the screen (above)", needle);
    }
}

static void type(struct tui_model *m, const char *utf8)
{
    struct tui_request req;
    /* ASCII and 2-byte UTF-8 are enough here */
    for (const unsigned char *p = (const unsigned char *)utf8; *p;) {
        uint32_t cp = *p++;
        if (cp >= 0xC0) {
            cp = ((cp & 0x1F) << 6) | (*p++ & 0x3F);
        }
        assert_false(tui_model_key(m, cp, NOW, &req));
    }
}

static struct tui_model *logged_in(void)
{
    static struct tui_model m;
    fixtures();
    assert_int_equal(tui_model_init(&m, "agent1", "127.0.0.1:7000"), 0);
    tui_model_link(&m, TUI_LINK_LOGGED, "127.0.0.1:7000", "logged in");
    push(&m, CARILLON__V1__ENVELOPE__BODY_AGENT_LOGIN_OK, &login_ok);
    state(&m, CARILLON__V1__AGENT_STATE__AGENT_STATE_READY, "");
    return &m;
}

/* --- tests ------------------------------------------------------------------------------ */

static void test_status_bar_after_login(void **st)
{
    (void)st;
    struct tui_model *m = logged_in();
    const char *bar = row_text(m, 0);
    contains(bar, "Agent n°1");
    contains(bar, "READY 01:05");
    contains(bar, "calls 0");
    contains(bar, "link up 127.0.0.1:7000");
    contains(row_text(m, 23), "r ready");
    contains(row_text(m, 23), "q logout");
    tui_model_free(m);
}

static void test_call_shows_fields_script_and_keys(void **st)
{
    (void)st;
    struct tui_model *m = logged_in();
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    state(m, CARILLON__V1__AGENT_STATE__AGENT_STATE_ON_CALL, "");
    const char *s = screen_text(m);
    contains(s, "ON CALL");
    contains(s, "calls 1");
    contains(s, "Prénom: Hélène");
    contains(s, "Nom: Lefèvre");
    contains(s, "Ville: Créteil");
    contains(s, "Bonjour Hélène Lefèvre");
    contains(s, "* Êtes-vous intéressée ?");
    contains(s, "1 ( ) yes  2 ( ) no");
    contains(s, "F1 VENTE Vente conclue");
    contains(s, "F2 RAP Rappel");
    contains(s, "F1-F12 qualify");
    contains(s, "h hang up");
    contains(s, "q logout"); /* every shortcut fits at 80 columns (two rows) */
    contains(s, "+33612345670");
    if (getenv("TUI_SHOW"))
        fprintf(stderr, "%s", s);
    /* the same call pushed again (answered after ringing) is not a second call */
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    contains(row_text(m, 0), "calls 1");
    tui_model_free(m);
}

static void test_answer_branch_and_refusal(void **st)
{
    (void)st;
    struct tui_model *m = logged_in();
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    struct tui_request req;
    assert_true(tui_model_key(m, 'y', NOW, &req));
    assert_int_equal(req.op, TUI_OP_SAVE_ANSWER);
    assert_string_equal(req.export_name, "interesse");
    assert_int_equal(req.attempt_id, 900);
    Carillon__V1__Envelope env;
    struct tui_scratch sc;
    assert_int_equal(tui_request_envelope(m, &req, &env, &sc), 0);
    assert_int_equal(env.body_case, CARILLON__V1__ENVELOPE__BODY_AGENT_SAVE_ANSWERS);
    assert_int_equal(env.agent_save_answers->n_answers, 1);
    assert_string_equal(env.agent_save_answers->answers[0]->values[0], "yes");
    reply_ok(m, &req);
    contains(screen_text(m), "1 (x) yes  2 ( ) no");

    /* yes leads to "Offre" */
    assert_false(tui_model_key(m, TUI_KEY_PGDN, NOW, &req));
    const char *s = screen_text(m);
    contains(s, "screen 2/3 Offre");
    contains(s, "Votre e-mail ?");
    contains(s, "(e-mail)");

    /* a malformed e-mail is caught here and stays in the prompt */
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    type(m, "hélène-at-example");
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    assert_int_equal(m->prompt, TUI_PROMPT_EDIT);
    contains(screen_text(m), "! an e-mail address looks like");
    for (int i = 0; i < 30; i++)
        assert_false(tui_model_key(m, TUI_KEY_BACKSPACE, NOW, &req));
    type(m, "hélène@example.fr");
    assert_true(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    assert_string_equal(req.export_name, "email");
    /* the server refuses it: its sentence shows by the question */
    reply_error(m, &req, "Votre e-mail ?: domain not accepted", "email");
    s = screen_text(m);
    contains(s, "> hélène@example.fr (not saved)");
    contains(s, "! Votre e-mail ?: domain not accepted");

    /* multiple choice: digits toggle */
    assert_false(tui_model_key(m, TUI_KEY_DOWN, NOW, &req));
    assert_true(tui_model_key(m, '1', NOW, &req));
    reply_ok(m, &req);
    assert_true(tui_model_key(m, '3', NOW, &req));
    assert_int_equal(tui_request_envelope(m, &req, &env, &sc), 0);
    assert_int_equal(env.agent_save_answers->answers[0]->n_values, 2);
    contains(screen_text(m), "1 [x] Fibre  2 [ ] Mobile  3 [x] TV");
    assert_false(tui_model_key(m, '7', NOW, &req));
    contains(screen_text(m), "choose 1 to 3");

    /* back, then "no" leads to "Fin" with its quick qualification buttons */
    assert_false(tui_model_key(m, TUI_KEY_PGUP, NOW, &req));
    assert_true(tui_model_key(m, 'n', NOW, &req));
    assert_false(tui_model_key(m, TUI_KEY_PGDN, NOW, &req));
    s = screen_text(m);
    contains(s, "screen 3/3 Fin");
    contains(s, "[F1 VENTE] [F2 RAP]");
    tui_model_free(m);
}

static void test_qualify_with_callback(void **st)
{
    (void)st;
    struct tui_model *m = logged_in();
    struct tui_request req;
    assert_false(tui_model_key(m, TUI_KEY_F(1), NOW, &req));
    contains(screen_text(m), "no call to qualify");
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    Carillon__V1__CallEnded ended;
    carillon__v1__call_ended__init(&ended);
    ended.attempt_id = 900;
    ended.outcome = "answered";
    ended.hung_up_by = "customer";
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_ENDED, &ended);
    state(m, CARILLON__V1__AGENT_STATE__AGENT_STATE_WRAP_UP, "");
    contains(screen_text(m), "ENDED answered by customer: qualify within 00:25");

    /* RAP takes a callback: a prompt, bounds checked */
    assert_false(tui_model_key(m, TUI_KEY_F(2), NOW, &req));
    assert_int_equal(m->prompt, TUI_PROMPT_CALLBACK);
    contains(screen_text(m), "RAP callback (YYYY-MM-DD HH:MM [@login]):");
    type(m, "2026-06-01 10:00");
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    contains(screen_text(m), "RAP: callback between J+0 and J+30");
    for (int i = 0; i < 16; i++)
        assert_false(tui_model_key(m, TUI_KEY_BACKSPACE, NOW, &req));
    type(m, "2025-12-08 09:30 @agent2");
    assert_true(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    assert_int_equal(req.op, TUI_OP_QUALIFY);
    assert_string_equal(req.code, "RAP");
    assert_string_equal(req.callback_agent, "agent2");
    assert_int_equal(req.callback_unix_ms, 1765186200000LL); /* 2025-12-08 09:30 UTC */
    Carillon__V1__Envelope env;
    struct tui_scratch sc;
    assert_int_equal(tui_request_envelope(m, &req, &env, &sc), 0);
    assert_string_equal(env.agent_qualify->code, "RAP");
    reply_ok(m, &req);
    assert_null(m->call);
    contains(screen_text(m), "call qualified RAP");

    /* F1: VENTE at once */
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    assert_true(tui_model_key(m, TUI_KEY_F(1), NOW, &req));
    assert_string_equal(req.code, "VENTE");
    assert_int_equal(req.callback_unix_ms, 0);
    reply_error(m, &req, "the answer to interesse is mandatory", "interesse");
    contains(screen_text(m), "qualify refused: the answer to interesse is mandatory");
    tui_model_free(m);
}

static void test_preview_pause_views_logout(void **st)
{
    (void)st;
    struct tui_model *m = logged_in();
    struct tui_request req;
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_OFFERED, &offered);
    state(m, CARILLON__V1__AGENT_STATE__AGENT_STATE_PREVIEW, "");
    const char *s = screen_text(m);
    contains(s, "PREVIEW Relance fibre · +33612345670 · skip in 00:30");
    contains(s, "Contact to call: +33612345670");
    contains(s, "d dial");
    contains(s, "Prénom: Hélène");
    assert_false(tui_model_key(m, 'y', NOW, &req)); /* no answer before the call */
    contains(screen_text(m), "answers are taken once the call is connected");
    assert_true(tui_model_key(m, 'd', NOW, &req));
    assert_int_equal(req.op, TUI_OP_DIAL);
    assert_int_equal(req.attempt_id, 901);
    /* skip asks a reason */
    assert_false(tui_model_key(m, 'x', NOW, &req));
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    contains(screen_text(m), "a reason is needed");
    for (int i = 0; i < 200; i++)
        type(m, "a");
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req)); /* too long: said, not cut */
    contains(screen_text(m), "at most 127 bytes here");
    for (int i = 0; i < 200; i++)
        assert_false(tui_model_key(m, TUI_KEY_BACKSPACE, NOW, &req));
    type(m, "déjà client");
    assert_true(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    assert_int_equal(req.op, TUI_OP_SKIP);
    assert_string_equal(req.reason, "déjà client");
    reply_ok(m, &req);
    assert_null(m->offered);

    /* pause: a reason from the list */
    assert_false(tui_model_key(m, 'p', NOW, &req));
    s = screen_text(m);
    contains(s, "Pause: choose a reason");
    contains(s, "1 Déjeuner");
    contains(s, "2 Formation");
    assert_true(tui_model_key(m, '2', NOW, &req));
    assert_int_equal(req.op, TUI_OP_PAUSE);
    Carillon__V1__Envelope env;
    struct tui_scratch sc;
    assert_int_equal(tui_request_envelope(m, &req, &env, &sc), 0);
    assert_int_equal(env.agent_set_state->state, CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED);
    assert_string_equal(env.agent_set_state->reason, "Formation");
    state(m, CARILLON__V1__AGENT_STATE__AGENT_STATE_PAUSED, "Formation");
    contains(row_text(m, 0), "PAUSED (Formation)");
    assert_true(tui_model_key(m, 'r', NOW, &req));
    assert_int_equal(req.op, TUI_OP_READY);

    /* history and numbers of a call */
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    assert_false(tui_model_key(m, TUI_KEY_TAB, NOW, &req));
    contains(screen_text(m), "call no_answer");
    assert_false(tui_model_key(m, TUI_KEY_TAB, NOW, &req));
    s = screen_text(m);
    contains(s, "+33140000001");
    contains(s, "(this call)");
    /* suspend asks a reason too */
    assert_false(tui_model_key(m, 's', NOW, &req));
    type(m, "rappeler");
    assert_true(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    assert_int_equal(req.op, TUI_OP_INTERVIEW);
    assert_string_equal(req.action, "suspend");
    assert_true(tui_model_key(m, 'h', NOW, &req));
    assert_int_equal(req.op, TUI_OP_HANGUP);

    /* logout: confirmed */
    assert_false(tui_model_key(m, 'q', NOW, &req));
    contains(screen_text(m), "Log out? y/n");
    assert_true(tui_model_key(m, 'y', NOW, &req));
    assert_int_equal(req.op, TUI_OP_LOGOUT);
    reply_ok(m, &req);
    assert_true(m->quit);
    tui_model_free(m);
}

/* Hostile input: long and broken UTF-8, many fields, a tiny terminal: no crash, bounded. */
/* What the real stack sends (agents_console): a qualification refused for a mandatory question
 * names it in Error.field; the call line keeps numbers whole; the History tab shows the
 * interview's state with its time. */
static void test_real_window(void **st)
{
    (void)st;
    struct tui_model *m = logged_in();
    iv.state = "started";
    iv.state_at_unix_ms = NOW - 60000;
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    Carillon__V1__CallEnded ended;
    carillon__v1__call_ended__init(&ended);
    ended.attempt_id = 900;
    ended.outcome = "answered";
    ended.hung_up_by = "customer";
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_ENDED, &ended);
    /* the call line: "from +33140000000" does not fit whole at 80 columns: left out, not cut */
    const char *line = row_text(m, 1);
    contains(line, "ENDED answered by customer");
    assert_null(strstr(line, "from +3314"));
    contains(line, "call 900");

    /* on another screen, F1 is refused for the mandatory question: shown by it, brought up */
    struct tui_request req;
    assert_false(tui_model_key(m, TUI_KEY_PGDN, NOW, &req));
    contains(screen_text(m), "screen 2/3 Offre");
    assert_true(tui_model_key(m, TUI_KEY_F(1), NOW, &req));
    reply_error(m, &req,
                "question \"Êtes-vous intéressée ?\" is mandatory: answer it before qualifying",
                "interesse");
    const char *s = screen_text(m);
    contains(s, "screen 1/3 Accueil");
    contains(s, "▶ * Êtes-vous intéressée ?");
    contains(s, "! question \"Êtes-vous intéressée ?\" is mandatory");
    /* answered: the refusal goes; PgUp returns to where the agent was */
    assert_true(tui_model_key(m, 'y', NOW, &req));
    reply_ok(m, &req);
    assert_null(strstr(screen_text(m), "! question"));
    assert_false(tui_model_key(m, TUI_KEY_PGUP, NOW, &req));
    contains(screen_text(m), "screen 2/3 Offre");
    /* a field naming no question of the script changes nothing but the message */
    assert_true(tui_model_key(m, TUI_KEY_F(1), NOW, &req));
    reply_error(m, &req, "refused for another reason", "inconnue");
    s = screen_text(m);
    contains(s, "screen 2/3 Offre");
    contains(s, "qualify refused: refused for another reason");

    /* an empty answer is not sent (the server takes one value): the prompt stays */
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req)); /* e-mail: edit */
    assert_int_equal(m->prompt, TUI_PROMPT_EDIT);
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    assert_int_equal(m->prompt, TUI_PROMPT_EDIT);
    contains(screen_text(m), "! type an answer (Esc leaves the question as it was)");
    assert_false(tui_model_key(m, TUI_KEY_ESC, NOW, &req));

    /* History: the interview's state and since when, then the events */
    assert_false(tui_model_key(m, TUI_KEY_TAB, NOW, &req));
    s = screen_text(m);
    contains(s, "interview: started since 2025-12-05 15:59");
    contains(s, "2025-12-04 16:00 call no_answer");
    /* suspended from here: the History tab says so */
    assert_false(tui_model_key(m, 's', NOW, &req));
    type(m, "pause déjeuner");
    assert_true(tui_model_key(m, TUI_KEY_ENTER, NOW, &req));
    assert_int_equal(req.op, TUI_OP_INTERVIEW);
    assert_string_equal(req.action, "suspend");
    assert_string_equal(req.reason, "pause déjeuner");
    reply_ok(m, &req);
    s = screen_text(m);
    contains(s, "interview: suspended since 2025-12-05 16:00");
    contains(s, "interview suspended");
    /* no history: the state still shows */
    iv.n_history = 0;
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_OFFERED, &offered);
    assert_false(tui_model_key(m, TUI_KEY_TAB, NOW, &req));
    s = screen_text(m);
    contains(s, "interview: started since");
    contains(s, "no history for this contact");
    tui_model_free(m);
}

static void test_hostile_and_small(void **st)
{
    (void)st;
    struct tui_model *m = logged_in();
    static char longtext[70000];
    memset(longtext, 'A', sizeof longtext - 1);
    for (size_t i = 0; i < sizeof longtext - 1; i += 97)
        longtext[i] = (char)0xC3; /* truncated sequences */
    b_text.text = longtext;
    static Carillon__V1__AgentField many[40];
    static Carillon__V1__AgentField *many_ptrs[40];
    for (int i = 0; i < 40; i++) {
        carillon__v1__agent_field__init(&many[i]);
        many[i].name = "f";
        many[i].value = longtext;
        many_ptrs[i] = &many[i];
    }
    ct.n_fields = 40;
    ct.fields = many_ptrs;
    push(m, CARILLON__V1__ENVELOPE__BODY_CALL_CONNECTED, &connected);
    const char *s = screen_text(m);
    contains(s, "Agent n°1");
    for (int rows = 1; rows < 30; rows += 3)
        for (int cols = 1; cols < 100; cols += 7) {
            grid.rows = rows;
            grid.cols = cols;
            tui_render(m, NOW, &grid);
        }
    struct tui_request req;
    assert_false(tui_model_key(m, TUI_KEY_ENTER, NOW, &req)); /* yes/no: no edit */
    for (int i = 0; i < 2000; i++)
        (void)tui_model_key(m, TUI_KEY_DOWN, NOW, &req);
    tui_model_free(m);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    if (!setlocale(LC_ALL, "C.UTF-8"))
        setlocale(LC_ALL, "");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_bar_after_login),
        cmocka_unit_test(test_call_shows_fields_script_and_keys),
        cmocka_unit_test(test_answer_branch_and_refusal),
        cmocka_unit_test(test_qualify_with_callback),
        cmocka_unit_test(test_preview_pause_views_logout),
        cmocka_unit_test(test_real_window),
        cmocka_unit_test(test_hostile_and_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
