/* The agent console: ncurses (wide characters) on the client library's libuv loop. Keys come
 * from a uv_poll on stdin, envelopes from agentclient; both go to the model (tui_model.c) and
 * the screen is drawn again from it. Nothing here decides anything the model does not. */
#include "tui.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define NCURSES_WIDECHAR 1
#include <ncurses.h>

#include "tui_model.h"

#define TUI_PENDING_MAX 64 /* requests awaiting an answer; more are refused (shown) */

enum { PAIR_ERROR = 1, PAIR_KEY = 2 };

struct pending {
    int64_t id;
    struct tui_request req;
};

/* One console: owned by tui_run (on its stack), the handles closed before it returns. */
struct tui {
    struct agentclient *c;
    uv_loop_t *loop;
    struct tui_model m;
    struct tui_grid *grid; /* heap: large */
    uv_poll_t input;
    uv_signal_t winch, sigint, sigterm;
    uv_timer_t tick;
    struct pending pending[TUI_PENDING_MAX];
    bool logout_sent;
    bool finished;
    bool curses;
    int status;
    char failure[512]; /* printed on stderr once the screen is restored */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static attr_t curses_attr(uint8_t a, short *pair)
{
    attr_t out = A_NORMAL;
    *pair = 0;
    if (a & (TUI_A_BAR | TUI_A_FOCUS))
        out |= A_REVERSE;
    if (a & TUI_A_BOLD)
        out |= A_BOLD;
    if (a & TUI_A_DIM)
        out |= A_DIM;
    if (a & TUI_A_ERROR)
        *pair = PAIR_ERROR;
    else if (a & TUI_A_KEY)
        *pair = PAIR_KEY;
    return out;
}

static void redraw(struct tui *t)
{
    if (!t->curses)
        return;
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    t->grid->rows = rows;
    t->grid->cols = cols;
    tui_render(&t->m, wall_ms(), t->grid);
    for (int r = 0; r < t->grid->rows; r++)
        for (int c = 0; c < t->grid->cols; c++) {
            const struct tui_cell *cl = &t->grid->cells[(size_t)r * TUI_MAX_COLS + (size_t)c];
            if (cl->ch == 0)
                continue; /* the right half of a wide character */
            wchar_t wc[2] = {cl->ch, 0};
            short pair;
            attr_t a = curses_attr(cl->attr, &pair);
            cchar_t cc;
            if (setcchar(&cc, wc, a, pair, NULL) == OK)
                mvadd_wch(r, c, &cc); /* the bottom-right cell reports ERR: drawn anyway */
        }
    move(rows - 1, cols - 1);
    refresh();
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Ends the console: the handles close, the client closes, uv_run returns. */
static void finish(struct tui *t, int status)
{
    if (t->finished)
        return;
    t->finished = true;
    t->status = status;
    uv_poll_stop(&t->input);
    close_handle((uv_handle_t *)&t->input);
    close_handle((uv_handle_t *)&t->winch);
    close_handle((uv_handle_t *)&t->sigint);
    close_handle((uv_handle_t *)&t->sigterm);
    close_handle((uv_handle_t *)&t->tick);
    agentclient_close(t->c);
}

static void send_request(struct tui *t, const struct tui_request *req)
{
    if (req->op == TUI_OP_QUIT) {
        finish(t, 0);
        return;
    }
    size_t slot;
    for (slot = 0; slot < TUI_PENDING_MAX; slot++)
        if (t->pending[slot].id == 0)
            break;
    if (slot == TUI_PENDING_MAX) {
        tui_model_send_failed(&t->m, req, "too many requests waiting for an answer");
        return;
    }
    Carillon__V1__Envelope env;
    struct tui_scratch sc;
    if (tui_request_envelope(&t->m, req, &env, &sc) < 0) {
        tui_model_send_failed(&t->m, req, "nothing to send");
        return;
    }
    int64_t id = agentclient_send(t->c, &env);
    if (id < 0) {
        tui_model_send_failed(&t->m, req,
                              id == -ENOTCONN   ? "not connected (reconnecting)"
                              : id == -EMSGSIZE ? "too large"
                                                : strerror((int)-id));
        return;
    }
    t->pending[slot].id = id;
    t->pending[slot].req = *req;
    if (req->op == TUI_OP_LOGOUT)
        t->logout_sent = true;
}

static void after_event(struct tui *t)
{
    if (t->m.quit) {
        finish(t, 0);
        return;
    }
    redraw(t);
}

static void on_envelope(struct agentclient *c, uint64_t request_id,
                        const Carillon__V1__Envelope *env, void *data)
{
    (void)c;
    struct tui *t = data;
    struct tui_request req = {.op = TUI_OP_NONE};
    if (request_id)
        for (size_t i = 0; i < TUI_PENDING_MAX; i++)
            if (t->pending[i].id == (int64_t)request_id) {
                req = t->pending[i].req;
                t->pending[i].id = 0;
                break;
            }
    tui_model_envelope(&t->m, env, &req, wall_ms());
    after_event(t);
}

static void on_state(struct agentclient *c, enum agentclient_state state, const char *reason,
                     void *data)
{
    struct tui *t = data;
    enum tui_link link = TUI_LINK_CONNECTING;
    switch (state) {
    case AGENTCLIENT_CONNECTING:
        link = TUI_LINK_CONNECTING;
        break;
    case AGENTCLIENT_LINK_UP:
        link = TUI_LINK_UP;
        break;
    case AGENTCLIENT_LOGGED_IN:
        link = TUI_LINK_LOGGED;
        break;
    case AGENTCLIENT_LINK_DOWN:
        link = TUI_LINK_DOWN;
        /* requests in flight are lost with the link: their answers never come */
        for (size_t i = 0; i < TUI_PENDING_MAX; i++)
            t->pending[i].id = 0;
        break;
    case AGENTCLIENT_LOGIN_FAILED:
    case AGENTCLIENT_SESSION_ENDED:
        link = TUI_LINK_FAILED;
        break;
    }
    tui_model_link(&t->m, link, agentclient_agentd(c), reason);
    if (state == AGENTCLIENT_LOGIN_FAILED) {
        snprintf(t->failure, sizeof t->failure, "carillon-agent: login refused: %s", reason);
        finish(t, 1);
        return;
    }
    if (state == AGENTCLIENT_SESSION_ENDED) {
        if (!t->logout_sent)
            snprintf(t->failure, sizeof t->failure, "carillon-agent: session ended: %s", reason);
        finish(t, t->logout_sent ? 0 : 3); /* main.c: 3, the session ended otherwise */
        return;
    }
    redraw(t);
}

static uint32_t map_key(int kind, wint_t wc)
{
    if (kind == KEY_CODE_YES) {
        if (wc >= KEY_F(1) && wc <= KEY_F(TUI_FKEYS))
            return TUI_KEY_F1 + (uint32_t)(wc - KEY_F(1));
        switch (wc) {
        case KEY_UP:
            return TUI_KEY_UP;
        case KEY_DOWN:
            return TUI_KEY_DOWN;
        case KEY_LEFT:
            return TUI_KEY_LEFT;
        case KEY_RIGHT:
            return TUI_KEY_RIGHT;
        case KEY_PPAGE:
            return TUI_KEY_PGUP;
        case KEY_NPAGE:
            return TUI_KEY_PGDN;
        case KEY_ENTER:
            return TUI_KEY_ENTER;
        case KEY_BACKSPACE:
        case KEY_DC:
            return TUI_KEY_BACKSPACE;
        case KEY_BTAB:
            return TUI_KEY_TAB;
        default:
            return 0;
        }
    }
    switch (wc) {
    case '\n':
    case '\r':
        return TUI_KEY_ENTER;
    case 27:
        return TUI_KEY_ESC;
    case '\t':
        return TUI_KEY_TAB;
    case 8:
    case 127:
        return TUI_KEY_BACKSPACE;
    default:
        return wc < 0x20 ? 0 : (uint32_t)wc;
    }
}

static void on_input(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct tui *t = h->data;
    if (status < 0) {
        snprintf(t->failure, sizeof t->failure, "carillon-agent: terminal input: %s",
                 uv_strerror(status));
        finish(t, 1);
        return;
    }
    /* ncurses may buffer several keys from one read: take them all */
    for (int n = 0; n < 256 && !t->finished; n++) {
        wint_t wc;
        int kind = get_wch(&wc);
        if (kind == ERR)
            break;
        if (kind == KEY_CODE_YES && wc == KEY_RESIZE)
            continue;
        uint32_t key = map_key(kind, wc);
        if (key == 0)
            continue;
        struct tui_request req;
        if (tui_model_key(&t->m, key, wall_ms(), &req))
            send_request(t, &req);
    }
    if (!t->finished)
        after_event(t);
}

static void on_winch(uv_signal_t *h, int signum)
{
    (void)signum;
    struct tui *t = h->data;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
    clear();
    redraw(t);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    /* leaves without logging out: the session waits its grace for a reconnect */
    finish(h->data, 0);
}

static void on_tick(uv_timer_t *h)
{
    redraw(h->data);
}

int tui_run(struct agentclient *c, const struct agentclient_opts *opts)
{
    struct tui *t = calloc(1, sizeof *t);
    if (!t) {
        fprintf(stderr, "carillon-agent: out of memory\n");
        agentclient_close(c);
        uv_run(agentclient_loop(c), UV_RUN_DEFAULT);
        return 1;
    }
    t->c = c;
    t->loop = agentclient_loop(c);
    t->grid = malloc(sizeof *t->grid);
    if (!t->grid || tui_model_init(&t->m, opts->login, opts->n_agentd ? opts->agentd[0] : "") < 0) {
        fprintf(stderr, "carillon-agent: out of memory\n");
        free(t->grid);
        free(t);
        agentclient_close(c);
        uv_run(agentclient_loop(c), UV_RUN_DEFAULT);
        return 1;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "carillon-agent: the console needs a terminal (or use --script)\n");
        tui_model_free(&t->m);
        free(t->grid);
        free(t);
        agentclient_close(c);
        uv_run(agentclient_loop(c), UV_RUN_DEFAULT);
        return 1;
    }

    setlocale(LC_ALL, ""); /* wide characters: accents and box drawing */
    set_escdelay(25);
    initscr();
    t->curses = true;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(PAIR_ERROR, COLOR_RED, -1);
        init_pair(PAIR_KEY, COLOR_YELLOW, -1);
    }

    int rc = uv_poll_init(t->loop, &t->input, STDIN_FILENO);
    if (rc < 0) {
        endwin();
        fprintf(stderr, "carillon-agent: cannot watch the terminal: %s\n", uv_strerror(rc));
        tui_model_free(&t->m);
        free(t->grid);
        free(t);
        agentclient_close(c);
        uv_run(agentclient_loop(c), UV_RUN_DEFAULT);
        return 1;
    }
    t->input.data = t;
    uv_poll_start(&t->input, UV_READABLE, on_input);
    uv_signal_init(t->loop, &t->winch);
    t->winch.data = t;
    uv_signal_start(&t->winch, on_winch, SIGWINCH);
    uv_signal_init(t->loop, &t->sigint);
    t->sigint.data = t;
    uv_signal_start(&t->sigint, on_stop_signal, SIGINT);
    uv_signal_init(t->loop, &t->sigterm);
    t->sigterm.data = t;
    uv_signal_start(&t->sigterm, on_stop_signal, SIGTERM);
    uv_timer_init(t->loop, &t->tick);
    t->tick.data = t;
    uv_timer_start(&t->tick, on_tick, 1000, 1000);

    struct agentclient_cbs cbs = {.on_envelope = on_envelope, .on_state = on_state};
    agentclient_set_callbacks(c, &cbs, t);
    redraw(t);
    uv_run(t->loop, UV_RUN_DEFAULT);

    endwin();
    t->curses = false;
    int status = t->status;
    if (t->failure[0])
        fprintf(stderr, "%s\n", t->failure);
    tui_model_free(&t->m);
    free(t->grid);
    free(t);
    return status;
}
