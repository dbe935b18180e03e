/* Placeholder for the agent console: the console's own tui.c replaces this file. */
#include "tui.h"

#include <stdio.h>

int tui_run(struct agentclient *c, const struct agentclient_opts *opts)
{
    (void)opts;
    fprintf(stderr, "carillon-agent: the console is not built yet: use --script or --auto\n");
    agentclient_close(c);
    uv_run(agentclient_loop(c), UV_RUN_DEFAULT);
    return 1;
}
