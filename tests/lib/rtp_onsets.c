/* cr-rtp-onsets: a test-only RTP receiver for many softphones at once (tests/bench/connect). It
 * binds COUNT UDP ports from FIRST (every STEP-th port) and tells, with the wall-clock time of
 * reception, when a port starts receiving a test sound: an audio packet (payload type 0 or 8)
 * whose every payload byte is BYTE, after a packet that is not one (or as the port's first), or
 * with the RTP marker bit set. Dialerd sends idle agent legs silence, then relays the customer's
 * packets once bridged, marking the first of each new source: the onset is the first customer
 * packet reaching the agent's softphone, even when a customer follows another one so closely
 * that no silence came between them.
 *
 *   cr-rtp-onsets --listen HOST --first PORT --count N [--step S] [--mark BYTE] [--timeout S]
 * --step: 2 (default; RTP ports are even), --mark: 0x2A (default), --timeout: 600 s (at most
 * 86400), --count: 1 to MAX_PORTS.
 * Prints "listening" once every port is bound, then one line per onset:
 * "onset port=P at_us=T" (T: microseconds since the epoch), and at exit (SIGTERM, SIGINT or the
 * timeout) "total packets=N marked=N onsets=N". Exit 0, 2 on usage errors or a port that cannot
 * be bound (named on stderr). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "carillon/daemon.h"

#define MAX_PORTS   1024
#define MAX_TIMEOUT 86400

struct port {
    uv_udp_t sock;
    int port;
    bool last_marked; /* the previous packet on this port was the test sound */
};

static struct port *ports;
static int nports, mark = 0x2A;
static unsigned long long packets, marked, onsets;
static uv_signal_t sig_term, sig_int;
static uv_timer_t deadline;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    static char slab[2048];
    *buf = uv_buf_init(slab, sizeof slab);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    (void)addr, (void)flags;
    long long now = cr_now_us();
    struct port *p = h->data;
    const uint8_t *b = (const uint8_t *)buf->base;
    if (n < 12 || (b[0] >> 6) != 2)
        return;
    packets++;
    int pt = b[1] & 0x7F;
    ssize_t k = 12 + 4 * (b[0] & 0x0F);
    bool is_mark = (pt == 0 || pt == 8) && n > k;
    for (; is_mark && k < n; k++)
        is_mark = b[k] == mark;
    if (is_mark) {
        marked++;
        if (!p->last_marked || (b[1] & 0x80)) {
            onsets++;
            printf("onset port=%d at_us=%lld\n", p->port, now);
        }
    }
    p->last_marked = is_mark;
}

static void stop(void)
{
    printf("total packets=%llu marked=%llu onsets=%llu\n", packets, marked, onsets);
    for (int i = 0; i < nports; i++)
        uv_close((uv_handle_t *)&ports[i].sock, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h, (void)signum;
    stop();
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    stop();
}

static int usage(const char *why)
{
    fprintf(stderr,
            "cr-rtp-onsets: %s\nusage: cr-rtp-onsets --listen HOST --first PORT --count N "
            "[--step S] [--mark BYTE] [--timeout S]\n",
            why);
    return 2;
}

/* A whole decimal number within [lo, hi], or -1. */
static long number(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    return errno || end == s || *end || v < lo || v > hi ? -1 : v;
}

int main(int argc, char **argv)
{
    const char *host = NULL;
    long first = -1, count = -1, step = 2, timeout_s = 600;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage("an option lacks its value");
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--listen"))
            host = v;
        else if (!strcmp(o, "--first") && (first = number(v, 1, 65535)) < 0)
            return usage("--first: a port, 1-65535");
        else if (!strcmp(o, "--count") && (count = number(v, 1, MAX_PORTS)) < 0)
            return usage("--count: 1-1024 ports");
        else if (!strcmp(o, "--step") && (step = number(v, 1, 1000)) < 0)
            return usage("--step: 1-1000");
        else if (!strcmp(o, "--mark") && (mark = (int)number(v, 0, 255)) < 0)
            return usage("--mark: a byte, 0-255 (0x.. accepted)");
        else if (!strcmp(o, "--timeout") && (timeout_s = number(v, 1, MAX_TIMEOUT)) < 0)
            return usage("--timeout: 1-86400 seconds");
        else if (strcmp(o, "--listen") && strcmp(o, "--first") && strcmp(o, "--count") &&
                 strcmp(o, "--step") && strcmp(o, "--mark") && strcmp(o, "--timeout"))
            return usage("unknown option");
    }
    if (!host || first < 0 || count < 0)
        return usage("--listen, --first and --count are required");
    if (first + (count - 1) * step > 65535)
        return usage("the ports go past 65535");
    setvbuf(stdout, NULL, _IOLBF, 0);
    ports = calloc((size_t)count, sizeof *ports);
    if (!ports) {
        fprintf(stderr, "cr-rtp-onsets: out of memory\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    for (nports = 0; nports < count; nports++) {
        struct port *p = &ports[nports];
        struct sockaddr_in sa;
        p->port = (int)(first + nports * step);
        p->sock.data = p;
        uv_udp_init(loop, &p->sock);
        int rc = uv_ip4_addr(host, p->port, &sa);
        if (!rc)
            rc = uv_udp_bind(&p->sock, (const struct sockaddr *)&sa, 0);
        if (!rc)
            rc = uv_udp_recv_start(&p->sock, on_alloc, on_recv);
        if (rc) {
            fprintf(stderr, "cr-rtp-onsets: %s:%d: %s\n", host, p->port, uv_strerror(rc));
            return 2;
        }
    }
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
    printf("listening\n");
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(ports);
    return 0;
}
