/* The agent console (ncurses), started by carillon-agent without --script/--auto. tui.c is
 * the console's own; main.c only calls tui_run. */
#ifndef CARILLON_AGENT_TUI_H
#define CARILLON_AGENT_TUI_H

#include "agentclient.h"

/* Runs the console on c (made by main.c, not connected yet: the first connection starts when
 * the loop runs). tui_run takes the callbacks over (agentclient_set_callbacks), runs
 * agentclient_loop(c) until the agent quits or the session ends, closes c and lets the loop
 * finish. opts: what main.c made c with (login, softphone, campaigns, agentd list), for
 * display. Returns the process exit status: 0 after a logout or quit, 1 on a failure (the
 * console prints it). */
int tui_run(struct agentclient *c, const struct agentclient_opts *opts);

#endif
