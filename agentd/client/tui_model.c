/* The agent console's model, its keys and its drawing (tui_model.h): everything the console
 * shows and does, without a terminal, so tests run it on envelopes and keys alone. */
#include "tui_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK(k)  CARILLON__V1__BLOCK_KIND__BLOCK_KIND_##k
#define SELECT(k) CARILLON__V1__SELECT_TYPE__SELECT_TYPE_##k
#define PREDEF(k) CARILLON__V1__PREDEFINED_TYPE__PREDEFINED_TYPE_##k
#define STATE(k)  CARILLON__V1__AGENT_STATE__AGENT_STATE_##k
#define BODY(k)   CARILLON__V1__ENVELOPE__BODY_##k

#define TEXT_WCHARS_MAX 16384 /* characters of one text block drawn; more end with "…" */

/* ---------------------------------------------------------------------------------------- */
/* small helpers */

/* Copies src into dst (len bytes), cut at len - 1: callers check lengths that matter first. */
static void copy_str(char *dst, size_t len, const char *src)
{
    size_t n = src ? strnlen(src, len - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A deep copy of a protobuf-c message through its wire form (the messages are small). */
static void *dup_message(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    protobuf_c_message_pack(msg, buf);
    void *copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
    free(buf);
    return copy;
}

static void free_message(void *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

static void set_message(struct tui_model *m, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_message(struct tui_model *m, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->message, sizeof m->message, fmt, ap);
    va_end(ap);
    m->message_error = error;
}

/* Appends the UTF-8 of code point cp to s (of size len) unless it would not fit. */
static void utf8_append(char *s, size_t len, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return;
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else if (cp < 0x110000) {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    } else {
        return;
    }
    size_t used = strlen(s);
    if (used + n + 1 > len)
        return;
    memcpy(s + used, b, n);
    s[used + n] = '\0';
}

/* Removes the last UTF-8 character of s. */
static void utf8_pop(char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        n--;
        if (((unsigned char)s[n] & 0xC0) != 0x80)
            break;
    }
    s[n] = '\0';
}

/* Decodes one UTF-8 character at s (n bytes left); invalid bytes give U+FFFD, one byte each. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        need = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4;
        v = c & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (need > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[need] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        v = 0xFFFD;
    *cp = v;
    return need;
}

/* Columns a character takes: control characters are drawn as one blank. */
static int char_width(wchar_t ch)
{
    if (ch < 0x20 || (ch >= 0x7F && ch < 0xA0))
        return 1;
    int w = wcwidth(ch);
    return w < 0 ? 1 : w;
}

/* ---------------------------------------------------------------------------------------- */
/* the model */

int tui_model_init(struct tui_model *m, const char *login, const char *agentd)
{
    memset(m, 0, sizeof *m);
    m->answers = calloc(TUI_MAX_ANSWERS, sizeof *m->answers);
    if (!m->answers)
        return -ENOMEM;
    copy_str(m->login, sizeof m->login, login);
    copy_str(m->agentd, sizeof m->agentd, agentd);
    m->link = TUI_LINK_CONNECTING;
    m->focus = SIZE_MAX;
    return 0;
}

static void clear_call(struct tui_model *m)
{
    free_message(m->call);
    free_message(m->offered);
    m->call = NULL;
    m->offered = NULL;
    m->attempt_id = 0;
    m->call_ended = false;
    m->qualified = false;
    m->end_outcome[0] = m->end_by[0] = '\0';
    m->n_answers = 0;
    m->missing[0] = '\0';
    m->interview_state[0] = '\0';
    m->screen = 0;
    m->n_back = 0;
    m->focus = SIZE_MAX;
    m->matrix_row = 0;
    m->scroll = 0;
    if (m->prompt != TUI_PROMPT_PAUSE && m->prompt != TUI_PROMPT_LOGOUT)
        m->prompt = TUI_PROMPT_NONE;
}

void tui_model_free(struct tui_model *m)
{
    clear_call(m);
    free_message(m->login_ok);
    m->login_ok = NULL;
    free(m->answers);
    m->answers = NULL;
}

static const Carillon__V1__Interview *interview(const struct tui_model *m)
{
    if (m->call)
        return m->call->interview;
    if (m->offered)
        return m->offered->interview;
    return NULL;
}

static const Carillon__V1__AgentContact *contact(const struct tui_model *m)
{
    if (m->call)
        return m->call->contact;
    if (m->offered)
        return m->offered->contact;
    return NULL;
}

static const char *campaign_name(const struct tui_model *m)
{
    if (m->call)
        return m->call->campaign;
    if (m->offered)
        return m->offered->campaign;
    return "";
}

/* The campaign of the call (else the first one): its qualifications. */
static const Carillon__V1__AgentCampaign *campaign(const struct tui_model *m)
{
    if (!m->login_ok || m->login_ok->n_campaigns == 0)
        return NULL;
    const char *name = campaign_name(m);
    for (size_t i = 0; i < m->login_ok->n_campaigns; i++)
        if (strcmp(m->login_ok->campaigns[i]->name, name) == 0)
            return m->login_ok->campaigns[i];
    return m->login_ok->campaigns[0];
}

static size_t n_quals(const struct tui_model *m)
{
    const Carillon__V1__AgentCampaign *c = campaign(m);
    return c ? c->n_qualifications : 0;
}

static const Carillon__V1__AgentQualification *qual(const struct tui_model *m, size_t i)
{
    const Carillon__V1__AgentCampaign *c = campaign(m);
    return c && i < c->n_qualifications ? c->qualifications[i] : NULL;
}

static const Carillon__V1__Screen *screen(const struct tui_model *m)
{
    const Carillon__V1__Interview *iv = interview(m);
    if (!iv || m->screen >= iv->n_script)
        return NULL;
    return iv->script[m->screen];
}

static bool is_question(const Carillon__V1__Block *b)
{
    return b->kind == BLOCK(INPUT) || b->kind == BLOCK(SELECT) || b->kind == BLOCK(PREDEFINED);
}

static struct tui_answer *find_answer(const struct tui_model *m, const char *export_name,
                                      const char *row)
{
    for (size_t i = 0; i < m->n_answers; i++)
        if (strcmp(m->answers[i].export_name, export_name) == 0 &&
            strcmp(m->answers[i].matrix_row, row ? row : "") == 0)
            return &m->answers[i];
    return NULL;
}

static struct tui_answer *get_answer(struct tui_model *m, const char *export_name, const char *row)
{
    struct tui_answer *a = find_answer(m, export_name, row);
    if (a)
        return a;
    if (strlen(export_name) >= TUI_NAME_MAX || strlen(row ? row : "") >= TUI_NAME_MAX) {
        set_message(m, true, "question name longer than %d bytes: not answerable here",
                    TUI_NAME_MAX - 1);
        return NULL;
    }
    if (m->n_answers >= TUI_MAX_ANSWERS) {
        set_message(m, true, "more than %d answers in one interview: not kept", TUI_MAX_ANSWERS);
        return NULL;
    }
    a = &m->answers[m->n_answers++];
    memset(a, 0, sizeof *a);
    copy_str(a->export_name, sizeof a->export_name, export_name);
    copy_str(a->matrix_row, sizeof a->matrix_row, row);
    return a;
}

static bool answer_has(const struct tui_answer *a, const char *value)
{
    if (!a)
        return false;
    for (size_t i = 0; i < a->n_values; i++)
        if (strcmp(a->values[i], value) == 0)
            return true;
    return false;
}

static void focus_first(struct tui_model *m)
{
    m->focus = SIZE_MAX;
    m->matrix_row = 0;
    const Carillon__V1__Screen *s = screen(m);
    for (size_t i = 0; s && i < s->n_blocks; i++)
        if (is_question(s->blocks[i])) {
            m->focus = i;
            return;
        }
}

/* A new call or preview: the initial screen and the answers of an interview in progress. */
static void start_interview(struct tui_model *m)
{
    const Carillon__V1__Interview *iv = interview(m);
    m->n_answers = 0;
    m->interview_state[0] = '\0';
    m->screen = 0;
    m->n_back = 0;
    m->view = TUI_VIEW_SCRIPT;
    m->scroll = 0;
    if (!iv)
        return;
    for (size_t i = 0; i < iv->n_script; i++)
        if (iv->script[i]->initial) {
            m->screen = i;
            break;
        }
    for (size_t i = 0; i < iv->n_answers; i++) {
        const Carillon__V1__AgentAnswer *in = iv->answers[i];
        struct tui_answer *a = get_answer(m, in->export_name, in->matrix_row);
        if (!a)
            break;
        a->n_values = 0;
        for (size_t v = 0; v < in->n_values && v < TUI_MAX_VALUES; v++)
            copy_str(a->values[a->n_values++], TUI_VALUE_MAX, in->values[v]);
        a->saved = true;
    }
    focus_first(m);
}

void tui_model_link(struct tui_model *m, enum tui_link link, const char *agentd, const char *reason)
{
    m->link = link;
    if (agentd)
        copy_str(m->agentd, sizeof m->agentd, agentd);
    copy_str(m->link_reason, sizeof m->link_reason, reason);
    if (link == TUI_LINK_DOWN)
        set_message(m, true, "link to agentd lost (%s): reconnecting", reason ? reason : "");
    else if (link == TUI_LINK_FAILED)
        set_message(m, true, "%s", reason ? reason : "session over");
    else if (link == TUI_LINK_LOGGED && m->message_error && strncmp(m->message, "link", 4) == 0)
        set_message(m, false, "link back: session resumed");
}

const char *tui_state_name(Carillon__V1__AgentState s)
{
    switch (s) {
    case STATE(LOGGED_OUT):
        return "LOGGED OUT";
    case STATE(READY):
        return "READY";
    case STATE(PAUSED):
        return "PAUSED";
    case STATE(ON_CALL):
        return "ON CALL";
    case STATE(WRAP_UP):
        return "WRAP-UP";
    case STATE(CONNECTING):
        return "CONNECTING";
    case STATE(PHONE_LOST):
        return "PHONE LOST";
    case STATE(PREVIEW):
        return "PREVIEW";
    case STATE(DIALING):
        return "DIALING";
    default:
        return "-";
    }
}

static const char *op_name(enum tui_op op)
{
    static const char *const names[] = {"none",    "ready",       "pause",
                                        "dial",    "skip",        "hang up",
                                        "qualify", "save answer", "interview action",
                                        "logout",  "quit"};
    return (size_t)op < sizeof names / sizeof names[0] ? names[op] : "request";
}

/* The screen and block of the question named export_name; false when the script has none. */
static bool find_question(const struct tui_model *m, const char *export_name, size_t *screen_i,
                          size_t *block_i)
{
    const Carillon__V1__Interview *iv = interview(m);
    for (size_t si = 0; iv && si < iv->n_script; si++)
        for (size_t bi = 0; bi < iv->script[si]->n_blocks; bi++) {
            const Carillon__V1__Block *b = iv->script[si]->blocks[bi];
            if (is_question(b) && strcmp(b->export_name, export_name) == 0) {
                *screen_i = si;
                *block_i = bi;
                return true;
            }
        }
    return false;
}

/* Shows msg by the question export_name (its first row for a matrix) and brings it up. */
static void show_question_error(struct tui_model *m, const char *export_name, const char *msg)
{
    size_t si, bi;
    if (!find_question(m, export_name, &si, &bi))
        return;
    const Carillon__V1__Block *b = interview(m)->script[si]->blocks[bi];
    const char *row = b->select_type == SELECT(MATRIX) && b->n_matrix_rows ? b->matrix_rows[0] : "";
    struct tui_answer *a = get_answer(m, export_name, row);
    if (a)
        copy_str(a->error, sizeof a->error, msg);
    if (si != m->screen) {
        if (m->n_back < TUI_HISTORY_MAX)
            m->screen_back[m->n_back++] = m->screen;
        m->screen = si;
    }
    m->view = TUI_VIEW_SCRIPT;
    m->focus = bi;
    m->matrix_row = 0;
}

static void on_reply(struct tui_model *m, const Carillon__V1__Envelope *env,
                     const struct tui_request *req, int64_t now_ms)
{
    if (env->body_case == BODY(ERROR)) {
        const Carillon__V1__Error *e = env->error;
        const char *msg = e && e->message ? e->message : "refused";
        if (req->op == TUI_OP_SAVE_ANSWER) {
            /* the server names the question refused (Error.field); it is the one sent */
            struct tui_answer *a = find_answer(m, req->export_name, req->matrix_row);
            if (a) {
                copy_str(a->error, sizeof a->error, msg);
                a->saved = false;
            }
            set_message(m, true, "answer refused: %s", msg);
        } else {
            set_message(m, true, "%s refused: %s", op_name(req->op), msg);
            /* a qualification refused for a question (a mandatory one unanswered): the
               refusal is shown by it, its screen brought up and the question focused */
            if (req->op == TUI_OP_QUALIFY && e && e->field && e->field[0])
                show_question_error(m, e->field, msg);
        }
        return;
    }
    switch (req->op) {
    case TUI_OP_SAVE_ANSWER: {
        struct tui_answer *a = find_answer(m, req->export_name, req->matrix_row);
        if (a) {
            a->error[0] = '\0';
            a->saved = true;
        }
        m->missing[0] = '\0';
        if (env->body_case == BODY(AGENT_ANSWERS_SAVED)) {
            const Carillon__V1__AgentAnswersSaved *s = env->agent_answers_saved;
            for (size_t i = 0; i < s->n_missing; i++) {
                size_t used = strlen(m->missing);
                snprintf(m->missing + used, sizeof m->missing - used, "%s%s", i ? ", " : "",
                         s->missing[i]);
            }
        }
        set_message(m, false, "answer saved");
        break;
    }
    case TUI_OP_QUALIFY:
        set_message(m, false, "call qualified %s", req->code);
        m->qualified = true;
        clear_call(m);
        break;
    case TUI_OP_SKIP:
        set_message(m, false, "contact skipped");
        clear_call(m);
        break;
    case TUI_OP_DIAL:
        set_message(m, false, "dialing");
        break;
    case TUI_OP_HANGUP:
        set_message(m, false, "hung up");
        break;
    case TUI_OP_INTERVIEW: {
        bool cancel = strcmp(req->action, "cancel") == 0;
        set_message(m, false, "interview %s", cancel ? "cancelled" : "suspended");
        /* the window's state was the one at the call's start: the History tab shows this */
        copy_str(m->interview_state, sizeof m->interview_state, cancel ? "cancelled" : "suspended");
        m->interview_state_ms = now_ms;
        break;
    }
    case TUI_OP_PAUSE:
        set_message(m, false, "paused: %s", req->reason);
        break;
    case TUI_OP_READY:
        set_message(m, false, "ready");
        break;
    case TUI_OP_LOGOUT:
        set_message(m, false, "logged out");
        m->quit = true;
        break;
    default:
        break;
    }
}

void tui_model_envelope(struct tui_model *m, const Carillon__V1__Envelope *env,
                        const struct tui_request *req, int64_t now_ms)
{
    if (req && req->op != TUI_OP_NONE) {
        on_reply(m, env, req, now_ms);
        return;
    }
    switch (env->body_case) {
    case BODY(AGENT_LOGIN_OK): {
        Carillon__V1__AgentLoginOk *copy = dup_message(&env->agent_login_ok->base);
        if (!copy) {
            set_message(m, true, "out of memory");
            return;
        }
        free_message(m->login_ok);
        m->login_ok = copy;
        m->state = copy->state;
        m->state_since_ms = now_ms;
        if (copy->resumed)
            set_message(m, false, "session resumed");
        break;
    }
    case BODY(AGENT_STATE_CHANGED): {
        const Carillon__V1__AgentStateChanged *s = env->agent_state_changed;
        if (s->state != m->state || strcmp(s->reason, m->state_reason) != 0)
            m->state_since_ms = s->since_unix_ms ? s->since_unix_ms : now_ms;
        m->state = s->state;
        copy_str(m->state_reason, sizeof m->state_reason, s->reason);
        /* a ready or paused agent has no call: the server moved on (wrap-up over) */
        if ((s->state == STATE(READY) || s->state == STATE(PAUSED) ||
             s->state == STATE(LOGGED_OUT) || s->state == STATE(PHONE_LOST)) &&
            (m->call || m->offered))
            clear_call(m);
        break;
    }
    case BODY(CALL_OFFERED): {
        Carillon__V1__CallOffered *copy = dup_message(&env->call_offered->base);
        if (!copy) {
            set_message(m, true, "out of memory");
            return;
        }
        clear_call(m);
        m->offered = copy;
        m->attempt_id = copy->attempt_id;
        m->offered_at_ms = now_ms;
        start_interview(m);
        set_message(m, false, "contact offered: d dials, x skips");
        break;
    }
    case BODY(CALL_CONNECTED): {
        Carillon__V1__CallConnected *copy = dup_message(&env->call_connected->base);
        if (!copy) {
            set_message(m, true, "out of memory");
            return;
        }
        bool same = m->call && m->attempt_id == copy->attempt_id;
        if (!same) {
            uint64_t offered = m->offered ? m->offered->attempt_id : 0;
            free_message(m->call);
            m->call = NULL;
            if (offered != copy->attempt_id)
                clear_call(m);
            free_message(m->offered);
            m->offered = NULL;
            m->calls_today++;
        } else {
            free_message(m->call);
        }
        m->call = copy;
        m->attempt_id = copy->attempt_id;
        m->call_ended = false;
        m->qualified = false;
        if (!same)
            start_interview(m);
        set_message(m, false, copy->ringing ? "call ringing" : "call connected");
        break;
    }
    case BODY(CALL_ENDED): {
        const Carillon__V1__CallEnded *e = env->call_ended;
        if (e->attempt_id != m->attempt_id)
            break;
        m->call_ended = true;
        copy_str(m->end_outcome, sizeof m->end_outcome, e->outcome);
        copy_str(m->end_by, sizeof m->end_by, e->hung_up_by);
        if (m->call)
            set_message(m, false, "call ended (%s, by %s): qualify it", e->outcome, e->hung_up_by);
        else
            set_message(m, false, "call ended: %s", e->outcome);
        break;
    }
    case BODY(AGENT_SESSION_ENDED):
        set_message(m, true, "session ended: %s", env->agent_session_ended->reason);
        m->link = TUI_LINK_FAILED;
        break;
    case BODY(ERROR):
        set_message(m, true, "%s", env->error->message);
        break;
    default:
        break;
    }
}

void tui_model_send_failed(struct tui_model *m, const struct tui_request *req, const char *why)
{
    set_message(m, true, "%s not sent: %s", op_name(req->op), why);
}

/* ---------------------------------------------------------------------------------------- */
/* keys */

static void request(struct tui_model *m, struct tui_request *out, enum tui_op op)
{
    memset(out, 0, sizeof *out);
    out->op = op;
    out->attempt_id = m->attempt_id;
}

static const Carillon__V1__Block *focused(const struct tui_model *m)
{
    const Carillon__V1__Screen *s = screen(m);
    if (!s || m->focus >= s->n_blocks)
        return NULL;
    return s->blocks[m->focus];
}

static void move_focus(struct tui_model *m, int dir)
{
    const Carillon__V1__Screen *s = screen(m);
    if (!s)
        return;
    size_t i = m->focus;
    for (;;) {
        if (dir > 0) {
            i = i == SIZE_MAX ? 0 : i + 1;
            if (i >= s->n_blocks)
                return;
        } else {
            if (i == 0 || i == SIZE_MAX)
                return;
            i--;
        }
        if (is_question(s->blocks[i])) {
            m->focus = i;
            m->matrix_row = 0;
            return;
        }
    }
}

static size_t screen_by_name(const Carillon__V1__Interview *iv, const char *name)
{
    for (size_t i = 0; i < iv->n_script; i++)
        if (strcmp(iv->script[i]->name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* The screen after this one: the first branch whose answer was given, else Screen.next, else
 * the next in order. SIZE_MAX: none (the last screen). */
static size_t next_screen(const struct tui_model *m)
{
    const Carillon__V1__Interview *iv = interview(m);
    const Carillon__V1__Screen *s = screen(m);
    if (!iv || !s)
        return SIZE_MAX;
    for (size_t b = 0; b < s->n_blocks; b++) {
        const Carillon__V1__Block *blk = s->blocks[b];
        if (!is_question(blk))
            continue;
        const struct tui_answer *a = find_answer(m, blk->export_name, "");
        for (size_t r = 0; a && r < blk->n_branches; r++)
            if (answer_has(a, blk->branches[r]->answer)) {
                size_t i = screen_by_name(iv, blk->branches[r]->screen);
                if (i != SIZE_MAX)
                    return i;
            }
    }
    if (s->next[0]) {
        size_t i = screen_by_name(iv, s->next);
        if (i != SIZE_MAX)
            return i;
    }
    return m->screen + 1 < iv->n_script ? m->screen + 1 : SIZE_MAX;
}

static bool call_open(const struct tui_model *m)
{
    return m->call != NULL && !m->qualified;
}

/* Qualification i chosen: a callback prompt when it takes one, else the request. */
static bool choose_qual(struct tui_model *m, size_t i, struct tui_request *out)
{
    const Carillon__V1__AgentQualification *q = qual(m, i);
    if (!q) {
        set_message(m, true, "no qualification on that key");
        return false;
    }
    if (!call_open(m)) {
        set_message(m, true, "no call to qualify");
        return false;
    }
    if (q->callback[0] && strcmp(q->callback, "none") != 0) {
        m->prompt = TUI_PROMPT_CALLBACK;
        copy_str(m->prompt_code, sizeof m->prompt_code, q->code);
        m->edit[0] = '\0';
        return false;
    }
    request(m, out, TUI_OP_QUALIFY);
    copy_str(out->code, sizeof out->code, q->code);
    return true;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* Checks a predefined answer's form; "" when it is fine, else why. */
static const char *check_predefined(Carillon__V1__PredefinedType t, const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return "";
    switch (t) {
    case PREDEF(DATE): {
        int y, mo, d;
        char end;
        if (n != 10 || sscanf(v, "%4d-%2d-%2d%c", &y, &mo, &d, &end) != 3 || mo < 1 || mo > 12 ||
            d < 1 || d > 31 || v[4] != '-' || v[7] != '-')
            return "a date is written YYYY-MM-DD";
        return "";
    }
    case PREDEF(TIME): {
        if (n != 5 || v[2] != ':' || !all_digits(v, 2) || !all_digits(v + 3, 2) || atoi(v) > 23 ||
            atoi(v + 3) > 59)
            return "a time is written HH:MM (24 h)";
        return "";
    }
    case PREDEF(EMAIL): {
        const char *at = strchr(v, '@');
        if (!at || at == v || strchr(at + 1, '@') || !strchr(at + 1, '.') || v[n - 1] == '.' ||
            strchr(v, ' '))
            return "an e-mail address looks like name@example.fr";
        return "";
    }
    case PREDEF(AGE):
        if (!all_digits(v, n) || n > 3 || atoi(v) > 130)
            return "an age is a whole number from 0 to 130";
        return "";
    case PREDEF(RATING):
        if (!all_digits(v, n) || n > 2 || atoi(v) > 10)
            return "a rating is a whole number from 0 to 10";
        return "";
    default:
        return "";
    }
}

static const char *predefined_hint(Carillon__V1__PredefinedType t)
{
    switch (t) {
    case PREDEF(DATE):
        return "YYYY-MM-DD";
    case PREDEF(TIME):
        return "HH:MM";
    case PREDEF(EMAIL):
        return "e-mail";
    case PREDEF(AGE):
        return "age";
    case PREDEF(RATING):
        return "0-10";
    case PREDEF(PARAGRAPH):
        return "text";
    default:
        return "text";
    }
}

/* The choices a select block offers ("yes"/"no" for yes/no without choices). */
static size_t block_choices(const Carillon__V1__Block *b, const char *const **out)
{
    static const char *const yes_no[] = {"yes", "no"};
    if (b->select_type == SELECT(YES_NO) && b->n_choices == 0) {
        *out = yes_no;
        return 2;
    }
    *out = (const char *const *)b->choices;
    return b->n_choices;
}

/* Digit d (1..9) on the focused select question. */
static bool choose_choice(struct tui_model *m, const Carillon__V1__Block *b, size_t d,
                          struct tui_request *out)
{
    if (!m->call) {
        set_message(m, true, "answers are taken once the call is connected");
        return false;
    }
    const char *const *choices;
    size_t n = block_choices(b, &choices);
    if (d == 0 || d > n) {
        set_message(m, true, "choose 1 to %zu", n);
        return false;
    }
    const char *row = "";
    if (b->select_type == SELECT(MATRIX)) {
        if (b->n_matrix_rows == 0)
            return false;
        row = b->matrix_rows[m->matrix_row < b->n_matrix_rows ? m->matrix_row : 0];
    }
    struct tui_answer *a = get_answer(m, b->export_name, row);
    if (!a)
        return false;
    const char *v = choices[d - 1];
    if (b->select_type == SELECT(MULTIPLE)) {
        size_t i;
        for (i = 0; i < a->n_values; i++)
            if (strcmp(a->values[i], v) == 0)
                break;
        if (i < a->n_values) {
            memmove(a->values[i], a->values[i + 1], (a->n_values - i - 1) * TUI_VALUE_MAX);
            a->n_values--;
        } else if (a->n_values < TUI_MAX_VALUES) {
            copy_str(a->values[a->n_values++], TUI_VALUE_MAX, v);
        } else {
            set_message(m, true, "at most %d choices", TUI_MAX_VALUES);
            return false;
        }
    } else {
        a->n_values = 1;
        copy_str(a->values[0], TUI_VALUE_MAX, v);
    }
    a->error[0] = '\0';
    a->saved = false;
    request(m, out, TUI_OP_SAVE_ANSWER);
    copy_str(out->export_name, sizeof out->export_name, b->export_name);
    copy_str(out->matrix_row, sizeof out->matrix_row, row);
    return true;
}

/* Parses "YYYY-MM-DD HH:MM" (local time) with an optional " @login"; checks the bounds. */
static int parse_callback(struct tui_model *m, const Carillon__V1__AgentQualification *q,
                          int64_t now_ms, struct tui_request *out)
{
    char buf[TUI_VALUE_MAX];
    copy_str(buf, sizeof buf, m->edit);
    char *at = strchr(buf, '@');
    if (at) {
        copy_str(out->callback_agent, sizeof out->callback_agent, at + 1);
        *at = '\0';
        if (!out->callback_agent[0]) {
            set_message(m, true, "after @, the login of the agent who calls back");
            return -EINVAL;
        }
    }
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    if (n == 0) {
        if (strcmp(q->callback, "mandatory") == 0 || at) {
            set_message(m, true, "%s needs a callback time: YYYY-MM-DD HH:MM", q->code);
            return -EINVAL;
        }
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h, mi;
    char end;
    if (sscanf(buf, "%4d-%2d-%2d %2d:%2d%c", &y, &mo, &d, &h, &mi, &end) != 5 || mo < 1 ||
        mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || h < 0 || mi < 0) {
        set_message(m, true, "callback time: YYYY-MM-DD HH:MM (e.g. 2026-03-14 09:30)");
        return -EINVAL;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) {
        set_message(m, true, "callback time: no such date");
        return -EINVAL;
    }
    int64_t ms = (int64_t)t * 1000;
    if (ms <= now_ms) {
        set_message(m, true, "the callback time is in the past");
        return -EINVAL;
    }
    /* bounds in calendar days from today (J+min .. J+max; max 0: none) */
    time_t now = (time_t)(now_ms / 1000);
    struct tm today;
    localtime_r(&now, &today);
    today.tm_hour = today.tm_min = today.tm_sec = 0;
    today.tm_isdst = -1;
    struct tm day = tm;
    day.tm_hour = day.tm_min = day.tm_sec = 0;
    day.tm_isdst = -1;
    /* rounded: a day across a DST change is 23 or 25 hours */
    long days = (long)((difftime(mktime(&day), mktime(&today)) + 43200.0) / 86400.0);
    if (days < (long)q->callback_min_days ||
        (q->callback_max_days > 0 && days > (long)q->callback_max_days)) {
        if (q->callback_max_days > 0)
            set_message(m, true, "%s: callback between J+%u and J+%u", q->code,
                        q->callback_min_days, q->callback_max_days);
        else
            set_message(m, true, "%s: callback from J+%u", q->code, q->callback_min_days);
        return -EINVAL;
    }
    out->callback_unix_ms = ms;
    return 0;
}

static bool key_prompt(struct tui_model *m, uint32_t key, int64_t now_ms, struct tui_request *out)
{
    bool text = m->prompt == TUI_PROMPT_EDIT || m->prompt == TUI_PROMPT_SKIP ||
                m->prompt == TUI_PROMPT_CALLBACK || m->prompt == TUI_PROMPT_INTERVIEW;
    if (key == TUI_KEY_ESC) {
        m->prompt = TUI_PROMPT_NONE;
        set_message(m, false, "cancelled");
        return false;
    }
    if (text) {
        if (key == TUI_KEY_BACKSPACE) {
            utf8_pop(m->edit);
            return false;
        }
        if (key >= 0x20 && key < 0x110000 && key != 0x7F) {
            size_t before = strlen(m->edit);
            utf8_append(m->edit, sizeof m->edit, key);
            if (strlen(m->edit) == before)
                set_message(m, true, "at most %d bytes", TUI_VALUE_MAX - 1);
            return false;
        }
        if (key != TUI_KEY_ENTER)
            return false;
        if (m->prompt != TUI_PROMPT_EDIT && strlen(m->edit) >= TUI_NAME_MAX) {
            set_message(m, true, "at most %d bytes here", TUI_NAME_MAX - 1);
            return false;
        }
    }
    switch (m->prompt) {
    case TUI_PROMPT_EDIT: {
        const Carillon__V1__Block *b = focused(m);
        if (!b) {
            m->prompt = TUI_PROMPT_NONE;
            return false;
        }
        struct tui_answer *a = get_answer(m, b->export_name, "");
        if (!a)
            return false;
        /* the server takes one value (an empty answer is refused): nothing typed, nothing sent */
        const char *why = !m->edit[0] ? "type an answer (Esc leaves the question as it was)"
                          : b->kind == BLOCK(PREDEFINED)
                              ? check_predefined(b->predefined_type, m->edit)
                              : "";
        if (why[0]) {
            copy_str(a->error, sizeof a->error, why);
            set_message(m, true, "%s", why);
            return false; /* stays in the prompt */
        }
        a->n_values = m->edit[0] ? 1 : 0;
        copy_str(a->values[0], TUI_VALUE_MAX, m->edit);
        a->error[0] = '\0';
        a->saved = false;
        m->prompt = TUI_PROMPT_NONE;
        request(m, out, TUI_OP_SAVE_ANSWER);
        copy_str(out->export_name, sizeof out->export_name, b->export_name);
        return true;
    }
    case TUI_PROMPT_SKIP:
        if (!m->edit[0]) {
            set_message(m, true, "a reason is needed to skip a contact");
            return false;
        }
        m->prompt = TUI_PROMPT_NONE;
        request(m, out, TUI_OP_SKIP);
        copy_str(out->reason, sizeof out->reason, m->edit);
        return true;
    case TUI_PROMPT_INTERVIEW:
        m->prompt = TUI_PROMPT_NONE;
        request(m, out, TUI_OP_INTERVIEW);
        copy_str(out->reason, sizeof out->reason, m->edit);
        copy_str(out->action, sizeof out->action, m->prompt_action);
        return true;
    case TUI_PROMPT_CALLBACK: {
        const Carillon__V1__AgentQualification *q = NULL;
        for (size_t i = 0; i < n_quals(m); i++)
            if (strcmp(qual(m, i)->code, m->prompt_code) == 0)
                q = qual(m, i);
        if (!q || !call_open(m)) {
            m->prompt = TUI_PROMPT_NONE;
            return false;
        }
        request(m, out, TUI_OP_QUALIFY);
        copy_str(out->code, sizeof out->code, q->code);
        if (parse_callback(m, q, now_ms, out) < 0)
            return false;
        out->personal = strcmp(q->callback, "personal") == 0;
        m->prompt = TUI_PROMPT_NONE;
        return true;
    }
    case TUI_PROMPT_PAUSE:
    case TUI_PROMPT_QUALIFY: {
        size_t n = m->prompt == TUI_PROMPT_PAUSE ? (m->login_ok ? m->login_ok->n_pause_reasons : 0)
                                                 : n_quals(m);
        size_t pick = SIZE_MAX;
        if (key == TUI_KEY_UP && m->menu_pos > 0)
            m->menu_pos--;
        else if (key == TUI_KEY_DOWN && m->menu_pos + 1 < n)
            m->menu_pos++;
        else if (key == TUI_KEY_ENTER && n > 0)
            pick = m->menu_pos;
        else if (key >= '1' && key <= '9' && (size_t)(key - '0') <= n)
            pick = key - '1';
        if (pick == SIZE_MAX)
            return false;
        enum tui_prompt was = m->prompt;
        m->prompt = TUI_PROMPT_NONE;
        if (was == TUI_PROMPT_QUALIFY)
            return choose_qual(m, pick, out);
        request(m, out, TUI_OP_PAUSE);
        copy_str(out->reason, sizeof out->reason, m->login_ok->pause_reasons[pick]);
        return true;
    }
    case TUI_PROMPT_LOGOUT:
        if (key == 'y' || key == 'Y') {
            m->prompt = TUI_PROMPT_NONE;
            request(m, out, TUI_OP_LOGOUT);
            return true;
        }
        if (key == 'n' || key == 'N') {
            m->prompt = TUI_PROMPT_NONE;
            set_message(m, false, "still logged in");
        }
        return false;
    default:
        m->prompt = TUI_PROMPT_NONE;
        return false;
    }
}

bool tui_model_key(struct tui_model *m, uint32_t key, int64_t now_ms, struct tui_request *out)
{
    memset(out, 0, sizeof *out);
    if (m->prompt != TUI_PROMPT_NONE)
        return key_prompt(m, key, now_ms, out);
    if (key >= TUI_KEY_F(1) && key <= TUI_KEY_F(TUI_FKEYS))
        return choose_qual(m, key - TUI_KEY_F(1), out);
    const Carillon__V1__Block *b = focused(m);
    switch (key) {
    case TUI_KEY_TAB:
        m->view = (m->view + 1) % TUI_VIEW_COUNT;
        m->scroll = 0;
        return false;
    case TUI_KEY_UP:
        if (m->view == TUI_VIEW_SCRIPT)
            move_focus(m, -1);
        else if (m->scroll > 0)
            m->scroll--;
        return false;
    case TUI_KEY_DOWN:
        if (m->view == TUI_VIEW_SCRIPT)
            move_focus(m, 1);
        else
            m->scroll++;
        return false;
    case TUI_KEY_LEFT:
        if (b && b->select_type == SELECT(MATRIX) && m->matrix_row > 0)
            m->matrix_row--;
        return false;
    case TUI_KEY_RIGHT:
        if (b && b->select_type == SELECT(MATRIX) && m->matrix_row + 1 < b->n_matrix_rows)
            m->matrix_row++;
        return false;
    case TUI_KEY_PGDN: {
        size_t next = next_screen(m);
        if (next == SIZE_MAX) {
            set_message(m, false, "last screen");
            return false;
        }
        if (m->n_back < TUI_HISTORY_MAX)
            m->screen_back[m->n_back++] = m->screen;
        m->screen = next;
        focus_first(m);
        return false;
    }
    case TUI_KEY_PGUP:
        if (m->n_back > 0) {
            m->screen = m->screen_back[--m->n_back];
            focus_first(m);
        }
        return false;
    case TUI_KEY_ENTER:
        if (b && (b->kind == BLOCK(INPUT) || b->kind == BLOCK(PREDEFINED)) && !m->call) {
            set_message(m, true, "answers are taken once the call is connected");
        } else if (b && (b->kind == BLOCK(INPUT) || b->kind == BLOCK(PREDEFINED))) {
            const struct tui_answer *a = find_answer(m, b->export_name, "");
            copy_str(m->edit, sizeof m->edit, a && a->n_values ? a->values[0] : "");
            m->prompt = TUI_PROMPT_EDIT;
        }
        return false;
    case TUI_KEY_ESC:
        m->message[0] = '\0';
        return false;
    case 'y':
    case 'n':
        if (b && b->kind == BLOCK(SELECT) && b->select_type == SELECT(YES_NO) && b->n_choices == 0)
            return choose_choice(m, b, key == 'y' ? 1 : 2, out);
        return false;
    case 'd':
        if (!m->offered) {
            set_message(m, true, "no contact offered to dial");
            return false;
        }
        request(m, out, TUI_OP_DIAL);
        return true;
    case 'x':
        if (!m->offered) {
            set_message(m, true, "no contact offered to skip");
            return false;
        }
        m->prompt = TUI_PROMPT_SKIP;
        m->edit[0] = '\0';
        return false;
    case 'h':
        if (!m->call || m->call_ended) {
            set_message(m, true, "no call to hang up");
            return false;
        }
        request(m, out, TUI_OP_HANGUP);
        return true;
    case 'p':
        if (!m->login_ok) {
            set_message(m, true, "not logged in yet");
            return false;
        }
        if (m->login_ok->n_pause_reasons == 0) {
            request(m, out, TUI_OP_PAUSE);
            return true;
        }
        m->prompt = TUI_PROMPT_PAUSE;
        m->menu_pos = 0;
        return false;
    case 'r':
        request(m, out, TUI_OP_READY);
        return true;
    case 's':
    case 'c':
        if (!m->call) {
            set_message(m, true, "no interview in progress");
            return false;
        }
        m->prompt = TUI_PROMPT_INTERVIEW;
        copy_str(m->prompt_action, sizeof m->prompt_action, key == 's' ? "suspend" : "cancel");
        m->edit[0] = '\0';
        return false;
    case 'Q':
        if (n_quals(m) == 0) {
            set_message(m, true, "no qualification for this campaign");
            return false;
        }
        m->prompt = TUI_PROMPT_QUALIFY;
        m->menu_pos = 0;
        return false;
    case 'q':
        m->prompt = TUI_PROMPT_LOGOUT;
        return false;
    default:
        if (key >= '1' && key <= '9' && b && b->kind == BLOCK(SELECT))
            return choose_choice(m, b, key - '0', out);
        return false;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* requests */

int tui_request_envelope(const struct tui_model *m, const struct tui_request *req,
                         Carillon__V1__Envelope *env, struct tui_scratch *sc)
{
    carillon__v1__envelope__init(env);
    memset(sc, 0, sizeof *sc);
    switch (req->op) {
    case TUI_OP_READY:
    case TUI_OP_PAUSE:
        carillon__v1__agent_set_state__init(&sc->u.set_state);
        sc->u.set_state.state = req->op == TUI_OP_READY ? STATE(READY) : STATE(PAUSED);
        sc->u.set_state.reason = (char *)req->reason;
        env->body_case = BODY(AGENT_SET_STATE);
        env->agent_set_state = &sc->u.set_state;
        return 0;
    case TUI_OP_DIAL:
        carillon__v1__agent_dial__init(&sc->u.dial);
        sc->u.dial.attempt_id = req->attempt_id;
        env->body_case = BODY(AGENT_DIAL);
        env->agent_dial = &sc->u.dial;
        return 0;
    case TUI_OP_SKIP:
        carillon__v1__agent_skip__init(&sc->u.skip);
        sc->u.skip.attempt_id = req->attempt_id;
        sc->u.skip.reason = (char *)req->reason;
        env->body_case = BODY(AGENT_SKIP);
        env->agent_skip = &sc->u.skip;
        return 0;
    case TUI_OP_HANGUP:
        carillon__v1__agent_hangup__init(&sc->u.hangup);
        sc->u.hangup.attempt_id = req->attempt_id;
        env->body_case = BODY(AGENT_HANGUP);
        env->agent_hangup = &sc->u.hangup;
        return 0;
    case TUI_OP_QUALIFY:
        carillon__v1__agent_qualify__init(&sc->u.qualify);
        sc->u.qualify.attempt_id = req->attempt_id;
        sc->u.qualify.code = (char *)req->code;
        sc->u.qualify.callback_unix_ms = req->callback_unix_ms;
        sc->u.qualify.personal = req->personal;
        sc->u.qualify.callback_agent = (char *)req->callback_agent;
        env->body_case = BODY(AGENT_QUALIFY);
        env->agent_qualify = &sc->u.qualify;
        return 0;
    case TUI_OP_LOGOUT:
        carillon__v1__agent_logout__init(&sc->u.logout);
        env->body_case = BODY(AGENT_LOGOUT);
        env->agent_logout = &sc->u.logout;
        return 0;
    case TUI_OP_INTERVIEW:
        carillon__v1__agent_interview_action__init(&sc->u.interview);
        sc->u.interview.attempt_id = req->attempt_id;
        sc->u.interview.action = (char *)req->action;
        sc->u.interview.reason = (char *)req->reason;
        env->body_case = BODY(AGENT_INTERVIEW_ACTION);
        env->agent_interview_action = &sc->u.interview;
        return 0;
    case TUI_OP_SAVE_ANSWER: {
        const struct tui_answer *a = find_answer(m, req->export_name, req->matrix_row);
        if (!a)
            return -EINVAL;
        carillon__v1__agent_answer__init(&sc->answer);
        sc->answer.export_name = (char *)a->export_name;
        sc->answer.matrix_row = (char *)a->matrix_row;
        for (size_t i = 0; i < a->n_values; i++)
            sc->values[i] = (char *)a->values[i];
        sc->answer.n_values = a->n_values;
        sc->answer.values = sc->values;
        sc->answer_ptr = &sc->answer;
        carillon__v1__agent_save_answers__init(&sc->u.save);
        sc->u.save.attempt_id = req->attempt_id;
        sc->u.save.n_answers = 1;
        sc->u.save.answers = &sc->answer_ptr;
        env->body_case = BODY(AGENT_SAVE_ANSWERS);
        env->agent_save_answers = &sc->u.save;
        return 0;
    }
    default:
        return -EINVAL;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* drawing */

/* A writer into a band of the grid [top, top + height) that counts virtual lines: line
 * `first` is drawn at row top. With draw false it only counts (to measure). */
struct pen {
    struct tui_grid *g;
    int top, height;
    size_t first; /* first virtual line shown */
    size_t line;  /* current virtual line */
    int col;
    int indent; /* where wrapped lines start */
    bool draw;
};

static struct tui_cell *cell(struct tui_grid *g, int r, int c)
{
    return &g->cells[(size_t)r * TUI_MAX_COLS + (size_t)c];
}

static void pen_newline(struct pen *p)
{
    p->line++;
    p->col = p->indent;
}

static void pen_putc(struct pen *p, wchar_t ch, uint8_t attr)
{
    int w = char_width(ch);
    if (ch < 0x20 || (ch >= 0x7F && ch < 0xA0))
        ch = L' ';
    if (p->col + w > p->g->cols) {
        pen_newline(p);
        if (w > p->g->cols)
            return;
    }
    if (p->draw && p->line >= p->first && p->line - p->first < (size_t)p->height) {
        int r = p->top + (int)(p->line - p->first);
        struct tui_cell *c = cell(p->g, r, p->col);
        c->ch = ch;
        c->attr = attr;
        if (w == 2 && p->col + 1 < p->g->cols) {
            cell(p->g, r, p->col + 1)->ch = 0;
            cell(p->g, r, p->col + 1)->attr = attr;
        }
    }
    p->col += w;
}

/* Writes UTF-8 text with word wrapping ('\n' breaks the line). */
static void pen_text(struct pen *p, const char *s, uint8_t attr)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)u);
    size_t i = 0;
    size_t drawn = 0;
    while (i < n) {
        if (drawn >= TEXT_WCHARS_MAX) {
            pen_putc(p, L'…', attr);
            return;
        }
        if (u[i] == '\n') {
            pen_newline(p);
            i++;
            continue;
        }
        /* the next word (up to a blank) goes to a new line when it does not fit here but
           would on a fresh one */
        size_t j = i;
        int wordw = 0;
        while (j < n && u[j] != ' ' && u[j] != '\n') {
            uint32_t cp;
            j += utf8_next(u + j, n - j, &cp);
            wordw += char_width((wchar_t)cp);
        }
        if (p->col > p->indent && p->col + wordw > p->g->cols && wordw <= p->g->cols - p->indent)
            pen_newline(p);
        while (i < j) {
            uint32_t cp;
            i += utf8_next(u + i, n - i, &cp);
            pen_putc(p, (wchar_t)cp, attr);
            drawn++;
        }
        if (i < n && u[i] == ' ') {
            if (p->col < p->g->cols)
                pen_putc(p, L' ', attr);
            i++;
        }
    }
}

static void pen_printf(struct pen *p, uint8_t attr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pen_printf(struct pen *p, uint8_t attr, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pen_text(p, buf, attr);
}

static void pen_end_line(struct pen *p)
{
    if (p->col > p->indent || p->col == 0)
        pen_newline(p);
}

/* One row: text clipped at the right edge (no wrapping). Returns the column after it. */
static int row_text(struct tui_grid *g, int r, int c, const char *s, uint8_t attr)
{
    if (r < 0 || r >= g->rows || c < 0)
        return c;
    struct pen p = {.g = g, .top = r, .height = 1, .first = 0, .col = c, .draw = true};
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n && p.line == 0) {
        uint32_t cp;
        i += utf8_next(u + i, n - i, &cp);
        if (p.col + char_width((wchar_t)cp) > g->cols)
            break;
        pen_putc(&p, (wchar_t)cp, attr);
    }
    return p.col;
}

static void row_fill(struct tui_grid *g, int r, uint8_t attr)
{
    if (r < 0 || r >= g->rows)
        return;
    for (int c = 0; c < g->cols; c++) {
        cell(g, r, c)->ch = L' ';
        cell(g, r, c)->attr = attr;
    }
}

static void fmt_duration(char *buf, size_t len, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000;
    if (s >= 3600)
        snprintf(buf, len, "%" PRId64 ":%02d:%02d", s / 3600, (int)(s / 60 % 60), (int)(s % 60));
    else
        snprintf(buf, len, "%02d:%02d", (int)(s / 60), (int)(s % 60));
}

static const char *link_name(enum tui_link l)
{
    switch (l) {
    case TUI_LINK_CONNECTING:
        return "connecting";
    case TUI_LINK_UP:
        return "logging in";
    case TUI_LINK_LOGGED:
        return "up";
    case TUI_LINK_DOWN:
        return "DOWN";
    default:
        return "closed";
    }
}

static void draw_status(const struct tui_model *m, int64_t now_ms, struct tui_grid *g)
{
    char dur[32], buf[512];
    fmt_duration(dur, sizeof dur, now_ms - m->state_since_ms);
    const char *who =
        m->login_ok && m->login_ok->display_name[0] ? m->login_ok->display_name : m->login;
    char reason[TUI_NAME_MAX + 4] = "";
    if (m->state == STATE(PAUSED) && m->state_reason[0])
        snprintf(reason, sizeof reason, " (%s)", m->state_reason);
    snprintf(buf, sizeof buf, " %s │ %s%s %s │ calls %u │ link %s %s", who,
             tui_state_name(m->state), reason, m->login_ok ? dur : "", m->calls_today,
             link_name(m->link), m->agentd);
    row_fill(g, 0, TUI_A_BAR);
    row_text(g, 0, 0, buf, TUI_A_BAR | TUI_A_BOLD);
}

/* Columns UTF-8 text s takes. */
static int text_width(const char *s)
{
    int w = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_next((const unsigned char *)s + i, n - i, &cp);
        w += char_width((wchar_t)cp);
    }
    return w;
}

/* Appends extra to buf (len bytes) when the whole still takes at most cols columns. */
static void append_if_fits(char *buf, size_t len, const char *extra, int cols)
{
    size_t used = strlen(buf);
    if (used + strlen(extra) + 1 > len || text_width(buf) + text_width(extra) > cols)
        return;
    memcpy(buf + used, extra, strlen(extra) + 1);
}

static void draw_call_line(const struct tui_model *m, int64_t now_ms, struct tui_grid *g, int r)
{
    char buf[512];
    const Carillon__V1__AgentContact *ct = contact(m);
    if (m->call) {
        char what[TUI_NAME_MAX * 2 + 96];
        const Carillon__V1__AgentCampaign *c = campaign(m);
        if (m->call_ended && m->state == STATE(WRAP_UP) && c && c->wrapup_max_s) {
            char d[32];
            fmt_duration(d, sizeof d,
                         (int64_t)c->wrapup_max_s * 1000 - (now_ms - m->state_since_ms));
            snprintf(what, sizeof what, "ENDED %s by %s: qualify within %s", m->end_outcome,
                     m->end_by, d);
        } else if (m->call_ended) {
            snprintf(what, sizeof what, "ENDED %s by %s: qualify", m->end_outcome, m->end_by);
        } else
            snprintf(what, sizeof what, "%s", m->call->ringing ? "RINGING" : "TALKING");
        snprintf(buf, sizeof buf, "%s · %s · %s", m->call->campaign, ct ? ct->number : "", what);
        /* the extras go in whole or not at all: a number cut at the edge would be wrong */
        char extra[TUI_NAME_MAX + 32];
        if (m->call->campaign_number[0]) {
            snprintf(extra, sizeof extra, " · from %s", m->call->campaign_number);
            append_if_fits(buf, sizeof buf, extra, g->cols - 2);
        }
        snprintf(extra, sizeof extra, " · call %" PRIu64, m->attempt_id);
        append_if_fits(buf, sizeof buf, extra, g->cols - 2);
        row_text(g, r, 1, buf, TUI_A_BOLD);
    } else if (m->offered) {
        char left[64] = "";
        if (m->offered->timeout_s) {
            int64_t rest = (int64_t)m->offered->timeout_s * 1000 - (now_ms - m->offered_at_ms);
            char d[32];
            fmt_duration(d, sizeof d, rest);
            snprintf(left, sizeof left, " · %s in %s",
                     m->offered->timeout_action[0] ? m->offered->timeout_action : "dial", d);
        }
        snprintf(buf, sizeof buf, "PREVIEW %s · %s%s", m->offered->campaign, ct ? ct->number : "",
                 left);
        row_text(g, r, 1, buf, TUI_A_BOLD);
    } else {
        const char *hint = m->link != TUI_LINK_LOGGED  ? "not logged in"
                           : m->state == STATE(READY)  ? "waiting for a call"
                           : m->state == STATE(PAUSED) ? "paused: r makes you ready"
                                                       : "no call";
        row_text(g, r, 1, hint, TUI_A_DIM);
    }
}

/* The label of a standard contact field (campaign.proto ContactField) when the server gives
 * none of its own. */
static const char *field_label(const Carillon__V1__AgentField *f)
{
    static const char *const std[][2] = {
        {"last_name", "Nom"},   {"first_name", "Prénom"},     {"civility", "Civilité"},
        {"company", "Société"}, {"address", "Adresse"},       {"zip", "Code postal"},
        {"city", "Ville"},      {"country", "Pays"},          {"email", "E-mail"},
        {"phone1", "Tél 1"},    {"phone2", "Tél 2"},          {"phone3", "Tél 3"},
        {"phone4", "Tél 4"},    {"customer_id", "N° client"},
    };
    if (f->label[0] && strcmp(f->label, f->name) != 0)
        return f->label;
    for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
        if (strcmp(f->name, std[i][0]) == 0)
            return std[i][1];
    return f->label[0] ? f->label : f->name;
}

/* The pop-up fields, two per row; returns the rows used. */
static int draw_fields(const struct tui_model *m, struct tui_grid *g, int r, int max_rows)
{
    const Carillon__V1__AgentContact *ct = contact(m);
    if (!ct || max_rows <= 0)
        return 0;
    size_t n = ct->n_fields;
    int per_row = g->cols >= 60 ? 2 : 1;
    int rows = (int)((n + per_row - 1) / per_row);
    if (rows > max_rows)
        rows = max_rows;
    int colw = g->cols / per_row;
    for (size_t i = 0; i < n && (int)(i / per_row) < rows; i++) {
        const Carillon__V1__AgentField *f = ct->fields[i];
        int rr = r + (int)(i / per_row), c = (int)(i % per_row) * colw + 1;
        char label[TUI_NAME_MAX + 2];
        snprintf(label, sizeof label, "%s:", field_label(f));
        /* clip to the column: draw into a band as wide as it */
        struct tui_grid *gg = g;
        int save = gg->cols;
        gg->cols = c - 1 + colw < save ? c - 1 + colw : save;
        int vc = row_text(gg, rr, c, label, TUI_A_DIM) + 1;
        if (vc > c + colw / 2)
            vc = c + colw / 2;
        row_text(gg, rr, vc, f->value, TUI_A_BOLD);
        gg->cols = save;
    }
    if ((size_t)rows * per_row < n) {
        char more[32];
        snprintf(more, sizeof more, "+%zu", n - (size_t)rows * per_row);
        row_text(g, r + rows - 1, g->cols - (int)strlen(more) - 1, more, TUI_A_DIM);
    }
    return rows;
}

static void draw_tabs(const struct tui_model *m, struct tui_grid *g, int r)
{
    static const char *const names[TUI_VIEW_COUNT] = {"Script", "History", "Numbers"};
    for (int c = 0; c < g->cols; c++) {
        cell(g, r, c)->ch = L'─';
        cell(g, r, c)->attr = TUI_A_DIM;
    }
    int c = 1;
    row_text(g, r, c, "Tab:", TUI_A_KEY);
    c += 5;
    for (int i = 0; i < TUI_VIEW_COUNT; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, " %s ", names[i]);
        row_text(g, r, c, buf, i == (int)m->view ? TUI_A_FOCUS | TUI_A_BOLD : TUI_A_NORMAL);
        c += (int)strlen(buf) + 1;
    }
    const Carillon__V1__Interview *iv = interview(m);
    const Carillon__V1__Screen *s = screen(m);
    if (m->view == TUI_VIEW_SCRIPT && iv && s) {
        char buf[TUI_NAME_MAX + 64];
        snprintf(buf, sizeof buf, " screen %zu/%zu %s ", m->screen + 1, iv->n_script, s->name);
        int w = (int)strlen(buf);
        if (c + w < g->cols)
            row_text(g, r, g->cols - w - 1, buf, TUI_A_NORMAL);
    }
}

/* The F-key (1-based) of a qualification code, 0 when it has none. */
static size_t qual_fkey(const struct tui_model *m, const char *code)
{
    for (size_t i = 0; i < n_quals(m) && i < TUI_FKEYS; i++)
        if (strcmp(qual(m, i)->code, code) == 0)
            return i + 1;
    return 0;
}

static void draw_question(const struct tui_model *m, const Carillon__V1__Block *b, bool foc,
                          struct pen *p)
{
    uint8_t qa = foc ? TUI_A_FOCUS | TUI_A_BOLD : TUI_A_BOLD;
    p->indent = 0;
    p->col = 0;
    pen_text(p, foc ? "▶ " : "  ", qa);
    p->indent = 2;
    if (b->mandatory)
        pen_text(p, "* ", qa | TUI_A_ERROR);
    pen_text(p, b->text, qa);
    pen_end_line(p);
    p->indent = 4;
    p->col = 4;
    const struct tui_answer *err = NULL;
    if (b->kind == BLOCK(SELECT)) {
        const char *const *choices;
        size_t n = block_choices(b, &choices);
        bool multi = b->select_type == SELECT(MULTIPLE);
        if (b->select_type == SELECT(MATRIX)) {
            for (size_t r = 0; r < b->n_matrix_rows; r++) {
                const struct tui_answer *a = find_answer(m, b->export_name, b->matrix_rows[r]);
                if (a && a->error[0])
                    err = a;
                bool rf = foc && r == m->matrix_row;
                p->col = 4;
                pen_printf(p, rf ? TUI_A_FOCUS : TUI_A_NORMAL, "%s%s:", rf ? "›" : " ",
                           b->matrix_rows[r]);
                for (size_t i = 0; i < n; i++)
                    pen_printf(p, TUI_A_NORMAL, " %zu(%s)%s", i + 1,
                               answer_has(a, choices[i]) ? "x" : " ", choices[i]);
                pen_end_line(p);
            }
        } else {
            const struct tui_answer *a = find_answer(m, b->export_name, "");
            if (a && a->error[0])
                err = a;
            for (size_t i = 0; i < n; i++) {
                bool on = answer_has(a, choices[i]);
                pen_printf(p, on ? TUI_A_BOLD : TUI_A_NORMAL, "%zu %s%s%s %s  ", i + 1,
                           multi ? "[" : "(", on ? "x" : " ", multi ? "]" : ")", choices[i]);
            }
            pen_end_line(p);
        }
    } else {
        const struct tui_answer *a = find_answer(m, b->export_name, "");
        if (a && a->error[0])
            err = a;
        if (foc && m->prompt == TUI_PROMPT_EDIT) {
            pen_text(p, "> ", TUI_A_KEY);
            pen_text(p, m->edit, TUI_A_FOCUS);
            pen_text(p, "_", TUI_A_FOCUS);
        } else if (a && a->n_values) {
            pen_text(p, "> ", TUI_A_KEY);
            pen_text(p, a->values[0], TUI_A_NORMAL);
            if (!a->saved)
                pen_text(p, " (not saved)", TUI_A_DIM);
        } else {
            pen_printf(p, TUI_A_DIM, "> (%s)",
                       b->kind == BLOCK(PREDEFINED) ? predefined_hint(b->predefined_type) : "text");
        }
        pen_end_line(p);
    }
    if (err) {
        p->col = 4;
        pen_text(p, "! ", TUI_A_ERROR | TUI_A_BOLD);
        pen_text(p, err->error, TUI_A_ERROR);
        pen_end_line(p);
    }
}

/* The script screen; *fs and *fe: the focused question's first and last virtual lines. */
static void draw_script(const struct tui_model *m, struct pen *p, size_t *fs, size_t *fe)
{
    const Carillon__V1__Screen *s = screen(m);
    *fs = *fe = 0;
    if (!s) {
        p->col = 1;
        pen_text(p, m->call || m->offered ? "no script for this campaign" : "", TUI_A_DIM);
        pen_end_line(p);
        return;
    }
    for (size_t i = 0; i < s->n_blocks; i++) {
        const Carillon__V1__Block *b = s->blocks[i];
        p->indent = 0;
        p->col = 0;
        if (i == m->focus)
            *fs = p->line;
        if (b->kind == BLOCK(TEXT)) {
            p->indent = 1;
            p->col = 1;
            pen_text(p, b->text, TUI_A_NORMAL);
            pen_end_line(p);
        } else if (b->kind == BLOCK(QUICK_QUALIFICATION)) {
            p->col = 1;
            p->indent = 1;
            for (size_t q = 0; q < b->n_qualifications; q++) {
                size_t k = qual_fkey(m, b->qualifications[q]);
                char key[32] = "";
                if (k)
                    snprintf(key, sizeof key, "F%zu ", k);
                pen_printf(p, TUI_A_KEY, "[%s%s]", key, b->qualifications[q]);
                pen_text(p, " ", TUI_A_NORMAL);
            }
            pen_end_line(p);
        } else if (is_question(b)) {
            draw_question(m, b, i == m->focus, p);
        }
        if (i == m->focus)
            *fe = p->line ? p->line - 1 : 0;
    }
    if (m->missing[0]) {
        p->col = 1;
        p->indent = 1;
        pen_printf(p, TUI_A_ERROR, "mandatory, still unanswered: %s", m->missing);
        pen_end_line(p);
    }
}

static void draw_history(const struct tui_model *m, struct pen *p)
{
    const Carillon__V1__Interview *iv = interview(m);
    p->indent = 1;
    p->col = 1;
    const char *ist = m->interview_state[0] ? m->interview_state : iv ? iv->state : "";
    int64_t ist_ms = m->interview_state[0] ? m->interview_state_ms : iv ? iv->state_at_unix_ms : 0;
    if (ist[0]) {
        char since[32] = "";
        time_t t = (time_t)(ist_ms / 1000);
        struct tm tm;
        if (ist_ms > 0 && localtime_r(&t, &tm))
            strftime(since, sizeof since, " since %Y-%m-%d %H:%M", &tm);
        pen_printf(p, TUI_A_BOLD, "interview: %s%s", ist, since);
        pen_end_line(p);
    }
    if (!iv || iv->n_history == 0) {
        p->col = 1;
        pen_text(p, "no history for this contact", TUI_A_DIM);
        pen_end_line(p);
        return;
    }
    for (size_t i = 0; i < iv->n_history; i++) {
        const Carillon__V1__AgentHistoryEntry *h = iv->history[i];
        char when[32] = "-";
        time_t t = (time_t)(h->at_unix_ms / 1000);
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        p->col = 1;
        pen_printf(p, TUI_A_NORMAL, "%s %s", when, h->event);
        if (h->outcome[0])
            pen_printf(p, TUI_A_NORMAL, " %s", h->outcome);
        if (h->qualification[0])
            pen_printf(p, TUI_A_BOLD, " %s", h->qualification);
        if (h->agent[0])
            pen_printf(p, TUI_A_DIM, " by %s", h->agent);
        if (h->detail[0])
            pen_printf(p, TUI_A_NORMAL, " %s", h->detail);
        pen_end_line(p);
        for (size_t a = 0; a < h->n_answers; a++) {
            const Carillon__V1__AgentAnswer *an = h->answers[a];
            p->col = 4;
            p->indent = 4;
            pen_printf(p, TUI_A_DIM, "%s%s%s =", an->export_name, an->matrix_row[0] ? "/" : "",
                       an->matrix_row);
            for (size_t v = 0; v < an->n_values; v++)
                pen_printf(p, TUI_A_NORMAL, "%s%s", v ? ", " : " ", an->values[v]);
            pen_end_line(p);
            p->indent = 1;
        }
    }
}

static void draw_numbers(const struct tui_model *m, struct pen *p)
{
    const Carillon__V1__Interview *iv = interview(m);
    p->indent = 1;
    p->col = 1;
    if (!iv || iv->n_numbers == 0) {
        pen_text(p, "no other number for this contact", TUI_A_DIM);
        pen_end_line(p);
        return;
    }
    for (size_t i = 0; i < iv->n_numbers; i++) {
        const Carillon__V1__AgentNumber *n = iv->numbers[i];
        p->col = 1;
        pen_printf(p, n->current ? TUI_A_BOLD : TUI_A_NORMAL, "%s %-16s %-10s %s%s",
                   n->current ? "☎" : " ", n->number, n->type, n->state,
                   n->current ? "  (this call)" : "");
        pen_end_line(p);
    }
}

static void draw_preview_card(const struct tui_model *m, struct pen *p)
{
    const Carillon__V1__AgentContact *ct = m->offered->contact;
    p->indent = 1;
    p->col = 1;
    pen_printf(p, TUI_A_BOLD, "Contact to call: %s", ct ? ct->number : "?");
    if (ct)
        pen_printf(p, TUI_A_NORMAL, " · %u attempt%s", ct->attempts, ct->attempts == 1 ? "" : "s");
    if (ct && ct->last_qualification[0])
        pen_printf(p, TUI_A_NORMAL, " · last %s", ct->last_qualification);
    pen_end_line(p);
    p->col = 1;
    pen_text(p, "d", TUI_A_KEY);
    pen_text(p, " dial   ", TUI_A_NORMAL);
    pen_text(p, "x", TUI_A_KEY);
    pen_text(p, " skip (asks a reason)", TUI_A_NORMAL);
    pen_end_line(p);
}

/* The body band: the view chosen, scrolled to keep the focused question visible. */
static void draw_body(const struct tui_model *m, struct tui_grid *g, int top, int height)
{
    if (height <= 0)
        return;
    struct pen p = {.g = g, .top = top, .height = height, .draw = false};
    size_t fs = 0, fe = 0;
    if (m->offered && !m->call) {
        struct pen card = p;
        card.draw = true;
        draw_preview_card(m, &card);
        int used = (int)card.line;
        p.top += used;
        p.height -= used;
        if (p.height <= 0)
            return;
    }
    if (m->view == TUI_VIEW_SCRIPT) {
        draw_script(m, &p, &fs, &fe);
        size_t first = 0;
        if (m->focus != SIZE_MAX) {
            if (fe >= first + (size_t)p.height)
                first = fe - (size_t)p.height + 1;
            if (fs < first)
                first = fs;
        }
        p.first = first;
        p.line = 0;
        p.col = 0;
        p.draw = true;
        draw_script(m, &p, &fs, &fe);
        if (first > 0)
            row_text(g, p.top, g->cols - 2, "↑", TUI_A_DIM);
        if (p.line > first + (size_t)p.height)
            row_text(g, p.top + p.height - 1, g->cols - 2, "↓", TUI_A_DIM);
    } else {
        size_t total;
        if (m->view == TUI_VIEW_HISTORY)
            draw_history(m, &p);
        else
            draw_numbers(m, &p);
        total = p.line;
        size_t first = m->scroll;
        if (total > (size_t)p.height && first > total - (size_t)p.height)
            first = total - (size_t)p.height;
        if (total <= (size_t)p.height)
            first = 0;
        p.first = first;
        p.line = 0;
        p.draw = true;
        if (m->view == TUI_VIEW_HISTORY)
            draw_history(m, &p);
        else
            draw_numbers(m, &p);
    }
}

/* The qualification keys: "F1 CODE Name" for each; returns rows used (at most max_rows). */
static int draw_quals(const struct tui_model *m, struct tui_grid *g, int r, int max_rows, bool draw)
{
    size_t n = n_quals(m);
    if (n == 0 || max_rows <= 0)
        return 0;
    struct pen p = {.g = g, .top = r, .height = max_rows, .draw = draw, .col = 1, .indent = 1};
    bool open = call_open(m);
    for (size_t i = 0; i < n && i < TUI_FKEYS; i++) {
        const Carillon__V1__AgentQualification *q = qual(m, i);
        char item[TUI_NAME_MAX * 2 + 32];
        snprintf(item, sizeof item, "%s%s%s", q->name,
                 q->callback[0] && strcmp(q->callback, "none") != 0 ? " ⏲" : "", "  ");
        char key[16];
        snprintf(key, sizeof key, "F%zu", i + 1);
        int w = (int)strlen(key) + 1 + (int)strlen(q->code) + 1 + 10;
        if (p.col > 1 && p.col + w > g->cols)
            pen_newline(&p);
        pen_text(&p, key, open ? TUI_A_KEY | TUI_A_BOLD : TUI_A_DIM);
        pen_text(&p, " ", TUI_A_NORMAL);
        pen_text(&p, q->code, open ? TUI_A_BOLD : TUI_A_DIM);
        pen_text(&p, " ", TUI_A_NORMAL);
        pen_text(&p, item, open ? TUI_A_NORMAL : TUI_A_DIM);
    }
    if (n > TUI_FKEYS)
        pen_printf(&p, TUI_A_KEY, "Q: all %zu", n);
    int used = (int)p.line + (p.col > 1 ? 1 : 0);
    return used > max_rows ? max_rows : used;
}

/* A menu (pause reasons, qualifications) drawn as a box over the body. */
static void draw_menu(const struct tui_model *m, struct tui_grid *g, int top, int height)
{
    const char *title;
    size_t n;
    if (m->prompt == TUI_PROMPT_PAUSE) {
        title = "Pause: choose a reason";
        n = m->login_ok ? m->login_ok->n_pause_reasons : 0;
    } else {
        title = "Qualify the call";
        n = n_quals(m);
    }
    int w = g->cols - 8 < 60 ? g->cols - 8 : 60, left = (g->cols - w) / 2;
    int h = (int)n + 2 < height ? (int)n + 2 : height;
    if (w < 10 || h < 3)
        return;
    size_t first = m->menu_pos + 2 >= (size_t)h ? m->menu_pos + 3 - (size_t)h : 0;
    for (int r = 0; r < h; r++) {
        int rr = top + r;
        for (int c = left; c < left + w; c++) {
            cell(g, rr, c)->ch = L' ';
            cell(g, rr, c)->attr = TUI_A_NORMAL;
        }
        cell(g, rr, left)->ch = r == 0 ? L'┌' : r == h - 1 ? L'└' : L'│';
        cell(g, rr, left + w - 1)->ch = r == 0 ? L'┐' : r == h - 1 ? L'┘' : L'│';
        if (r == 0 || r == h - 1)
            for (int c = left + 1; c < left + w - 1; c++)
                cell(g, rr, c)->ch = L'─';
    }
    int save = g->cols;
    g->cols = left + w - 1;
    row_text(g, top, left + 2, title, TUI_A_BOLD);
    for (int r = 1; r < h - 1; r++) {
        size_t i = first + (size_t)(r - 1);
        if (i >= n)
            break;
        char buf[TUI_NAME_MAX * 2 + 32], key[8] = "  ";
        if (i < 9)
            snprintf(key, sizeof key, "%zu", i + 1);
        if (m->prompt == TUI_PROMPT_PAUSE) {
            snprintf(buf, sizeof buf, "%s %s", key, m->login_ok->pause_reasons[i]);
        } else {
            const Carillon__V1__AgentQualification *q = qual(m, i);
            snprintf(buf, sizeof buf, "%s %s %s", key, q->code, q->name);
        }
        row_text(g, top + r, left + 2, buf, i == m->menu_pos ? TUI_A_FOCUS : TUI_A_NORMAL);
    }
    g->cols = save;
}

/* The keys that work now, '|' between items (an item is never split across rows). */
static const char *shortcuts(const struct tui_model *m)
{
    switch (m->prompt) {
    case TUI_PROMPT_EDIT:
        return "type the answer|Enter save|Backspace erase|Esc cancel";
    case TUI_PROMPT_PAUSE:
    case TUI_PROMPT_QUALIFY:
        return "1-9 choose|↑↓ move|Enter choose|Esc cancel";
    case TUI_PROMPT_SKIP:
    case TUI_PROMPT_INTERVIEW:
        return "type the reason|Enter send|Esc cancel";
    case TUI_PROMPT_CALLBACK:
        return "YYYY-MM-DD HH:MM [@login]|Enter qualify|Esc cancel";
    case TUI_PROMPT_LOGOUT:
        return "y log out|n stay";
    default:
        break;
    }
    if (m->offered && !m->call)
        return "d dial|x skip|Tab history/numbers|p pause|r ready|q logout";
    if (m->call)
        return "F1-F12 qualify|Q list|↑↓ question|1-9 y n Enter answer|PgDn/PgUp screen|"
               "Tab view|h hang up|s suspend|c cancel|q logout";
    return "r ready|p pause|Tab view|q logout";
}

/* The shortcut bar from row top (draw) or only its height (returned). */
static int draw_shortcuts(const struct tui_model *m, struct tui_grid *g, int top, bool draw)
{
    const char *s = shortcuts(m);
    int row = 0, col = 1;
    if (draw)
        row_fill(g, top, TUI_A_BAR);
    while (*s) {
        const char *end = strchr(s, '|');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        char item[128];
        snprintf(item, sizeof item, "%.*s", (int)n, s);
        int w = 0;
        for (size_t i = 0; item[i];) {
            uint32_t cp;
            i += utf8_next((const unsigned char *)item + i, strlen(item + i), &cp);
            w += char_width((wchar_t)cp);
        }
        if (col > 1 && col + w > g->cols) {
            row++;
            col = 1;
            if (draw)
                row_fill(g, top + row, TUI_A_BAR);
        }
        if (draw)
            row_text(g, top + row, col, item, TUI_A_BAR);
        col += w + 2;
        s += n + (end ? 1 : 0);
    }
    return row + 1;
}

static void prompt_line(const struct tui_model *m, char *buf, size_t len)
{
    switch (m->prompt) {
    case TUI_PROMPT_SKIP:
        snprintf(buf, len, "Skip reason: %s_", m->edit);
        return;
    case TUI_PROMPT_INTERVIEW:
        snprintf(buf, len, "%s the interview, reason: %s_",
                 strcmp(m->prompt_action, "cancel") == 0 ? "Cancel" : "Suspend", m->edit);
        return;
    case TUI_PROMPT_CALLBACK:
        snprintf(buf, len, "%s callback (YYYY-MM-DD HH:MM [@login]): %s_", m->prompt_code, m->edit);
        return;
    case TUI_PROMPT_LOGOUT:
        snprintf(buf, len, "Log out? y/n");
        return;
    default:
        buf[0] = '\0';
    }
}

void tui_render(const struct tui_model *m, int64_t now_ms, struct tui_grid *g)
{
    if (g->rows > TUI_MAX_ROWS)
        g->rows = TUI_MAX_ROWS;
    if (g->cols > TUI_MAX_COLS)
        g->cols = TUI_MAX_COLS;
    if (g->rows < 1 || g->cols < 1)
        return;
    for (int r = 0; r < g->rows; r++)
        row_fill(g, r, TUI_A_NORMAL);
    if (g->rows < 8 || g->cols < 30) {
        row_text(g, 0, 0, "terminal too small (at least 30x8)", TUI_A_ERROR);
        return;
    }
    int R = g->rows;
    draw_status(m, now_ms, g);
    draw_call_line(m, now_ms, g, 1);
    /* bottom up: shortcuts, message, qualification keys */
    int keys = draw_shortcuts(m, g, 0, false);
    if (keys > 2)
        keys = 2; /* narrow terminals: the rest is cut */
    draw_shortcuts(m, g, R - keys, true);
    /* above the shortcuts: the prompt being typed, the message, the qualification keys */
    int bottom = R - keys - 1;
    char line[TUI_VALUE_MAX + TUI_NAME_MAX + 128];
    prompt_line(m, line, sizeof line);
    if (line[0])
        row_text(g, bottom--, 1, line, TUI_A_KEY | TUI_A_BOLD);
    if (m->message[0] || !line[0])
        row_text(g, bottom--, 1, m->message,
                 m->message_error ? TUI_A_ERROR | TUI_A_BOLD : TUI_A_NORMAL);
    int qrows = 0;
    if (m->call || m->offered) {
        int maxq = R >= 20 ? 2 : 1;
        qrows = draw_quals(m, g, 0, maxq, false); /* measured, then drawn */
        draw_quals(m, g, bottom + 1 - qrows, qrows, true);
    }
    int top = 2;
    int fields_max = R >= 20 ? 4 : 2;
    top += draw_fields(m, g, top, fields_max);
    draw_tabs(m, g, top);
    top++;
    int body_h = bottom + 1 - qrows - top;
    draw_body(m, g, top, body_h);
    if (m->prompt == TUI_PROMPT_PAUSE || m->prompt == TUI_PROMPT_QUALIFY)
        draw_menu(m, g, top, body_h);
}

char *tui_grid_row(const struct tui_grid *g, int r, char *buf, size_t len)
{
    buf[0] = '\0';
    if (r < 0 || r >= g->rows)
        return buf;
    for (int c = 0; c < g->cols; c++) {
        wchar_t ch = g->cells[(size_t)r * TUI_MAX_COLS + (size_t)c].ch;
        if (ch)
            utf8_append(buf, len, (uint32_t)ch);
    }
    return buf;
}
