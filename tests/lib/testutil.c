/* Helpers shared by the cmocka unit tests (see testutil.h). */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tu_source_dir(void)
{
    const char *s = getenv("CARILLON_SOURCE_DIR");
    return s ? s : ".";
}

char *tu_mkdtemp(void)
{
    char tmpl[] = "/tmp/carillon-test-XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

void tu_rmrf(const char *path)
{
    if (path && path[0] == '/' && strncmp(path, "/tmp/", 5) == 0)
        tu_sh(NULL, 0, "rm -rf '%s'", path);
}

char *tu_group_dir;

int tu_group_dir_setup(void **state)
{
    (void)state;
    tu_group_dir = tu_mkdtemp();
    return tu_group_dir ? 0 : -1;
}

int tu_group_dir_teardown(void **state)
{
    (void)state;
    tu_rmrf(tu_group_dir);
    free(tu_group_dir);
    tu_group_dir = NULL;
    return 0;
}

int tu_sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t used = 0;
    char buf[1024];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && used + 1 < outlen) {
            size_t take = got < outlen - 1 - used ? got : outlen - 1 - used;
            memcpy(out + used, buf, take);
            used += take;
        }
    }
    if (out && outlen)
        out[used] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void tu_timer_cb(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool tu_run_until(uv_loop_t *loop, const volatile bool *flag, unsigned timeout_ms)
{
    uv_timer_t timer;
    bool expired = false;
    uv_timer_init(loop, &timer);
    timer.data = &expired;
    uv_timer_start(&timer, tu_timer_cb, timeout_ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

int tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int tu_pg_cluster_start(const char *dir, char *conninfo, size_t len)
{
    char out[512];
    if (tu_sh(out, sizeof out, "'%s/tests/lib/pg.sh' start '%s'", tu_source_dir(), dir) != 0)
        return -1;
    const char *port = strstr(out, "PGPORT=");
    if (!port)
        return -1;
    int n = snprintf(conninfo, len, "host=127.0.0.1 port=%d user=carillon dbname=carillon",
                     atoi(port + 7));
    return n > 0 && (size_t)n < len ? 0 : -1;
}

void tu_pg_cluster_stop(const char *dir)
{
    tu_sh(NULL, 0, "'%s/tests/lib/pg.sh' stop '%s'", tu_source_dir(), dir);
}
