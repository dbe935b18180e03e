/* The agent console's model: what the screen shows, updated by the envelopes agentd sends and
 * the keys the agent presses, and the screen drawn from it as a grid of cells. Pure: no I/O,
 * no ncurses, no clock of its own (the caller passes the time), so tests drive it directly. */
#ifndef CARILLON_TUI_MODEL_H
#define CARILLON_TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "carillon/v1/envelope.pb-c.h"

#define TUI_MAX_ANSWERS 256 /* questions with an answer kept per call (more: refused, shown) */
#define TUI_MAX_VALUES  32  /* values of one answer (multiple choice) */
#define TUI_VALUE_MAX   512 /* bytes of one value, the edit line included */
#define TUI_NAME_MAX    128 /* export names, codes, logins, reasons */
#define TUI_MSG_MAX     256 /* the message line */
#define TUI_HISTORY_MAX 64  /* screens kept for "previous screen" */
#define TUI_MAX_ROWS    300 /* grid bounds: a larger terminal is drawn in its top-left part */
#define TUI_MAX_COLS    500
#define TUI_FKEYS       12 /* qualifications get F1..F12; more are reached through the list */

/* Keys: printable characters are their code point; the rest use these values (above Unicode). */
enum tui_key {
    TUI_KEY_ENTER = 0x110000,
    TUI_KEY_ESC,
    TUI_KEY_TAB,
    TUI_KEY_BACKSPACE,
    TUI_KEY_UP,
    TUI_KEY_DOWN,
    TUI_KEY_LEFT,
    TUI_KEY_RIGHT,
    TUI_KEY_PGUP,
    TUI_KEY_PGDN,
    TUI_KEY_F1, /* F1..F12 follow */
};
#define TUI_KEY_F(n) (TUI_KEY_F1 + (n)-1)

enum tui_link {
    TUI_LINK_CONNECTING,
    TUI_LINK_UP,     /* TLS up, logging in */
    TUI_LINK_LOGGED, /* session usable */
    TUI_LINK_DOWN,   /* reconnecting */
    TUI_LINK_FAILED, /* final: login refused or session ended */
};

enum tui_view { TUI_VIEW_SCRIPT, TUI_VIEW_HISTORY, TUI_VIEW_NUMBERS, TUI_VIEW_COUNT };

/* A prompt or menu over the normal screen; keys go to it until it is done or cancelled. */
enum tui_prompt {
    TUI_PROMPT_NONE,
    TUI_PROMPT_EDIT,      /* the focused open/predefined question's answer */
    TUI_PROMPT_PAUSE,     /* choose a pause reason (digits or arrows) */
    TUI_PROMPT_SKIP,      /* preview skip: the reason, free text */
    TUI_PROMPT_CALLBACK,  /* callback time for the qualification chosen */
    TUI_PROMPT_QUALIFY,   /* the list of every qualification (more than 12) */
    TUI_PROMPT_INTERVIEW, /* cancel or suspend: the reason */
    TUI_PROMPT_LOGOUT,    /* confirm y/n */
};

/* What a key asks the caller to send (tui_model_key fills it; the caller builds the envelope
 * with tui_request_envelope and reports the answer with tui_model_reply). */
enum tui_op {
    TUI_OP_NONE,
    TUI_OP_READY,
    TUI_OP_PAUSE,
    TUI_OP_DIAL,
    TUI_OP_SKIP,
    TUI_OP_HANGUP,
    TUI_OP_QUALIFY,
    TUI_OP_SAVE_ANSWER,
    TUI_OP_INTERVIEW, /* cancel or suspend (action) */
    TUI_OP_LOGOUT,
    TUI_OP_QUIT, /* leave the console without logging out (the session waits its grace) */
};

struct tui_request {
    enum tui_op op;
    uint64_t attempt_id;
    char code[TUI_NAME_MAX];  /* qualify */
    int64_t callback_unix_ms; /* qualify: 0 none */
    bool personal;            /* qualify */
    char callback_agent[TUI_NAME_MAX];
    char reason[TUI_NAME_MAX];      /* pause, skip, interview */
    char action[16];                /* interview: cancel, suspend */
    char export_name[TUI_NAME_MAX]; /* save answer: the question (its answer is in the model) */
    char matrix_row[TUI_NAME_MAX];
};

/* One question's answer as the agent gave it (values owned here). */
struct tui_answer {
    char export_name[TUI_NAME_MAX];
    char matrix_row[TUI_NAME_MAX]; /* "" except matrix answers: one entry per row */
    size_t n_values;
    char values[TUI_MAX_VALUES][TUI_VALUE_MAX];
    char error[TUI_MSG_MAX]; /* local validation or the server's refusal, shown by the question */
    bool saved;
};

/* The whole console state. Owns deep copies of the messages it keeps (freed by
 * tui_model_free). Zero it, then tui_model_init. */
struct tui_model {
    char login[TUI_NAME_MAX];
    char agentd[TUI_NAME_MAX];
    enum tui_link link;
    char link_reason[TUI_MSG_MAX];
    Carillon__V1__AgentLoginOk *login_ok; /* owned copy, NULL before login */
    Carillon__V1__AgentState state;
    char state_reason[TUI_NAME_MAX];
    int64_t state_since_ms;
    unsigned calls_today; /* calls connected to this console since it started */

    /* the call or preview in progress: one of them, owned copies */
    Carillon__V1__CallOffered *offered;
    Carillon__V1__CallConnected *call;
    uint64_t attempt_id;
    int64_t offered_at_ms; /* preview: when it came (its countdown) */
    bool call_ended;       /* CallEnded received: wrap-up */
    char end_outcome[TUI_NAME_MAX];
    char end_by[TUI_NAME_MAX];
    bool qualified; /* AgentQualify accepted: waiting for the next call */

    /* the script */
    enum tui_view view;
    size_t screen; /* index into interview->script */
    size_t screen_back[TUI_HISTORY_MAX];
    size_t n_back;
    size_t focus;      /* index of the focused block on the screen (a question), or SIZE_MAX */
    size_t matrix_row; /* focused row of a matrix question */
    size_t scroll;     /* history / numbers view scroll */
    struct tui_answer *answers; /* TUI_MAX_ANSWERS, allocated by init */
    size_t n_answers;
    char missing[TUI_MSG_MAX];  /* mandatory questions without an answer (AgentAnswersSaved) */
    char interview_state[16];   /* cancelled/suspended by this console during the call, else "" */
    int64_t interview_state_ms; /* when */

    /* prompt */
    enum tui_prompt prompt;
    size_t menu_pos;
    char edit[TUI_VALUE_MAX];       /* UTF-8 being typed */
    char prompt_code[TUI_NAME_MAX]; /* callback: the qualification chosen */
    char prompt_action[16];         /* interview: cancel or suspend */

    char message[TUI_MSG_MAX]; /* last error or notice, on the line above the shortcuts */
    bool message_error;
    bool quit; /* the console should end (logout done, session ended, quit) */
};

/* login/agentd: shown in the status bar. Returns 0 or -ENOMEM. */
int tui_model_init(struct tui_model *m, const char *login, const char *agentd)
    __attribute__((warn_unused_result));
void tui_model_free(struct tui_model *m);

/* The client's link state changed (enum agentclient_state values mapped to tui_link). */
void tui_model_link(struct tui_model *m, enum tui_link link, const char *agentd,
                    const char *reason);

/* A received envelope (push or answer). req: the request it answers, NULL for a push or an
 * answer to nothing the console asked. now_ms: the wall clock. */
void tui_model_envelope(struct tui_model *m, const Carillon__V1__Envelope *env,
                        const struct tui_request *req, int64_t now_ms);

/* A key. Returns true and fills *out when the key asks for a request to be sent. now_ms: the
 * wall clock (callback times); tz offsets come from the C library's local time. */
bool tui_model_key(struct tui_model *m, uint32_t key, int64_t now_ms, struct tui_request *out);

/* A request could not be sent (link down): shown on the message line. */
void tui_model_send_failed(struct tui_model *m, const struct tui_request *req, const char *why);

/* Builds the envelope for req into *env, using storage in *scratch (valid while both live).
 * Returns 0 or -EINVAL (op without a message, or a save with no such answer). */
struct tui_scratch {
    union {
        Carillon__V1__AgentSetState set_state;
        Carillon__V1__AgentDial dial;
        Carillon__V1__AgentSkip skip;
        Carillon__V1__AgentHangup hangup;
        Carillon__V1__AgentQualify qualify;
        Carillon__V1__AgentLogout logout;
        Carillon__V1__AgentSaveAnswers save;
        Carillon__V1__AgentInterviewAction interview;
    } u;
    Carillon__V1__AgentAnswer answer;
    Carillon__V1__AgentAnswer *answer_ptr;
    char *values[TUI_MAX_VALUES];
};
int tui_request_envelope(const struct tui_model *m, const struct tui_request *req,
                         Carillon__V1__Envelope *env, struct tui_scratch *scratch)
    __attribute__((warn_unused_result));

/* The screen: rows x cols cells. */
enum tui_attr {
    TUI_A_NORMAL = 0,
    TUI_A_BAR = 1 << 0, /* status and shortcut bars (reverse) */
    TUI_A_BOLD = 1 << 1,
    TUI_A_FOCUS = 1 << 2, /* the focused question, the menu choice (reverse) */
    TUI_A_ERROR = 1 << 3, /* red */
    TUI_A_KEY = 1 << 4,   /* a key name (yellow) */
    TUI_A_DIM = 1 << 5,
};
struct tui_cell {
    wchar_t ch; /* 0: the right half of a wide character */
    uint8_t attr;
};
struct tui_grid {
    int rows, cols;
    struct tui_cell cells[TUI_MAX_ROWS * TUI_MAX_COLS];
};

/* Draws the model into g (rows and cols set by the caller, clamped to the bounds). */
void tui_render(const struct tui_model *m, int64_t now_ms, struct tui_grid *g);

/* Row r of g as UTF-8 (trailing blanks kept), for tests. Returns buf. */
char *tui_grid_row(const struct tui_grid *g, int r, char *buf, size_t len);

/* The state's name as shown ("READY", "ON CALL", ...). */
const char *tui_state_name(Carillon__V1__AgentState s);

#endif
