/* carillon-agent --script / --auto: JSON lines on stdin and stdout over an agentclient. */
#ifndef CARILLON_AGENT_SCRIPT_H
#define CARILLON_AGENT_SCRIPT_H

#include <stdbool.h>

#include "agentclient.h"

#define SCRIPT_ANSWERS_MAX 32

struct script_opts {
    bool commands;  /* --script: read commands on stdin */
    bool autopilot; /* --auto: the policy below */
    const char *answer_names[SCRIPT_ANSWERS_MAX];
    const char *answer_values[SCRIPT_ANSWERS_MAX];
    int n_answers;
    const char *qualify;     /* NULL: stay in wrap-up */
    long long talk_ms;       /* < 0: never hang up */
    long long wrapup_ms;     /* delay before qualifying in wrap-up */
    long long callback_in_s; /* < 0: no callback */
    bool personal;
    int preview;              /* 0 dial, 1 skip, 2 wait */
    unsigned long calls;      /* 0: no target */
    unsigned long duration_s; /* 0: none */
};

/* Runs the loop until the end; returns the exit status (0 logout/quit, 1 login failed, 3 the
 * session ended otherwise). Closes c. */
int script_run(struct agentclient *c, const struct script_opts *so);

#endif
