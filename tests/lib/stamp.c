/* cr-stamp: prefixes every line read on stdin with the wall-clock time it was read, in
 * microseconds since the epoch, and writes it to stdout at once (tests/bench/connect times when
 * an agent's client reads an event: its stdout is piped through cr-stamp).
 *
 *   PROGRAM | cr-stamp >FILE
 * Output: "T LINE" per line; a line longer than LINE_MAX bytes is cut into pieces, each stamped;
 * a last line without its newline is written at EOF with one. Exit 0 at EOF, 1 on a read or
 * write error (named on stderr), 2 on arguments (there are none). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "carillon/daemon.h"

#define LINE_MAX_BYTES 65536

static char line[LINE_MAX_BYTES];
static size_t len;

static int emit(long long at)
{
    if (printf("%lld %.*s\n", at, (int)len, line) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "cr-stamp: write: %s\n", strerror(errno));
        return -1;
    }
    len = 0;
    return 0;
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: PROGRAM | cr-stamp >FILE\n");
        return 2;
    }
    char buf[8192];
    long long at = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "cr-stamp: read: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0)
            return len && emit(at) ? 1 : 0;
        long long now = cr_now_us();
        for (ssize_t i = 0; i < n; i++) {
            if (len == 0)
                at = now; /* a line is stamped when its first byte is read */
            if (buf[i] == '\n') {
                if (emit(at))
                    return 1;
                continue;
            }
            line[len++] = buf[i];
            if (len == sizeof line && emit(at))
                return 1;
        }
    }
}
