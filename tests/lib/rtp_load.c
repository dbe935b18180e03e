/* cr-rtp-load: the RTP generator and sink of tests/bench/relay. For each of up to --calls calls
 * it holds two UDP sockets on 127.0.0.1 (kernel-chosen ports): the customer's (C) and the
 * agent's (A). During a step, call i sends G.711 A-law (payload type 8, 160 samples: 20 ms) every
 * 20 ms both ways: from C towards the relay's customer-side port and from A towards its
 * agent-side port, the 2N streams spread evenly over the 20 ms. Each payload carries a magic, the
 * stream, the step, a sequence and the send time (CLOCK_MONOTONIC ns); the rest is A-law silence.
 * A packet sent from C must come back on A and the other way round. The arrival time is the
 * kernel's receive timestamp (SO_TIMESTAMPNS, converted to CLOCK_MONOTONIC), so the time this
 * program takes to read a packet is not counted as the relay's: added latency = arrival - send.
 *
 *   cr-rtp-load --calls M [--ports FILE]
 * Binds 2M sockets, writes "I C_PORT A_PORT" per call to FILE (stdout without --ports), prints
 * "ready calls=M", then runs the commands read on stdin, one per line:
 *   map FILE     FILE: "OWN_PORT DEST_PORT" lines: where each socket sends (127.0.0.1)
 *   step N SECS  calls 0..N-1 send for SECS seconds; then 300 ms for the last packets; prints
 *                "step n=N secs=S sent=X received=Y loss=F pps=P p50_us=A p99_us=B max_us=C
 *                misrouted=K late=L dup=D other=O send_errors=E gen_cpu_pct=U"
 *                (pps: packets of the step received per second; loss: (sent - received) / sent;
 *                misrouted: packets of ours on the wrong socket, late: of an earlier step, dup:
 *                a sequence not above the stream's last, other: not ours, e.g. the relay's
 *                silence; none of these counts as received)
 *   quit         (or end of input) exits 0
 * Exit 1 on a setup error (named on stderr), 2 on arguments. Limits: 1-4000 calls, steps of
 * 1-600 s; a command naming a call without a destination answers "error ..." and runs nothing. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLS    4000
#define MAX_STEP_S   600
#define PAYLOAD      160
#define PKT          (12 + PAYLOAD)
#define PERIOD_NS    20000000LL
#define TICK_NS      1000000LL /* the sender wakes every ms and sends what is due */
#define DRAIN_NS     300000000LL
#define HIST_US      100000      /* latencies histogrammed at 1 us up to 100 ms, then one bucket */
#define MAGIC        0x43524C59u /* "CRLY" */
#define SILENCE_ALAW 0xD5

struct stream { /* stream 2i: customer -> agent of call i; 2i + 1: agent -> customer */
    int fd_from;
    struct sockaddr_in dest;
    bool have_dest;
    uint32_t seq, last_seq_rx;
    bool have_rx;
    uint32_t ssrc;
    uint16_t rtp_seq;
};

static struct stream *streams;
static int *fds;         /* socket 2i: C of call i, 2i + 1: A */
static uint16_t *ports;  /* their ports */
static int ncalls, epfd; /* epoll data: the socket's index */
static uint32_t hist[HIST_US + 1];

static struct {
    uint32_t id;
    uint64_t sent, received, misrouted, late, dup, other, send_errors, max_us;
} cur;

static int64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int find_socket(uint16_t port)
{
    for (int i = 0; i < 2 * ncalls; i++)
        if (ports[i] == port)
            return i;
    return -1;
}

static void load_map(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("error map %s: %s\n", path, strerror(errno));
        return;
    }
    unsigned own, dest;
    int n = 0, bad = 0;
    while (fscanf(f, "%u %u", &own, &dest) == 2) {
        int s = own <= 65535 ? find_socket((uint16_t)own) : -1;
        if (s < 0 || dest == 0 || dest > 65535) {
            bad++;
            continue;
        }
        /* socket s sends stream s (C sends 2i, A sends 2i + 1) */
        struct stream *st = &streams[s];
        st->dest.sin_family = AF_INET;
        st->dest.sin_port = htons((uint16_t)dest);
        st->dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        st->have_dest = true;
        n++;
    }
    fclose(f);
    printf("mapped sockets=%d unknown=%d\n", n, bad);
}

static void send_one(int s, int64_t t)
{
    struct stream *st = &streams[s];
    uint8_t p[PKT];
    p[0] = 0x80;
    p[1] = 8;
    p[2] = (uint8_t)(st->rtp_seq >> 8), p[3] = (uint8_t)st->rtp_seq;
    put32(p + 4, st->seq * PAYLOAD);
    put32(p + 8, st->ssrc);
    st->rtp_seq++;
    memset(p + 12, SILENCE_ALAW, PAYLOAD);
    uint8_t *q = p + 12;
    put32(q, MAGIC);
    put32(q + 4, (uint32_t)s);
    put32(q + 8, cur.id);
    put32(q + 12, st->seq++);
    put32(q + 16, (uint32_t)((uint64_t)t >> 32));
    put32(q + 20, (uint32_t)t);
    if (sendto(st->fd_from, p, sizeof p, MSG_DONTWAIT, (struct sockaddr *)&st->dest,
               sizeof st->dest) != (ssize_t)sizeof p)
        cur.send_errors++;
    else
        cur.sent++;
}

/* Reads one datagram from socket s and accounts for it; false when there was none. */
static bool receive_one(int s, int64_t real_to_mono)
{
    uint8_t p[2048];
    char ctl[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = {p, sizeof p};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t n = recvmsg(fds[s], &mh, MSG_DONTWAIT);
    if (n < 0)
        return false;
    int64_t at = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            at = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - real_to_mono;
        }
    if (at < 0)
        at = now_ns(CLOCK_MONOTONIC);
    /* the relay may change the RTP header (sequence, timestamp, SSRC, CSRCs): find the payload */
    size_t hl = n >= 12 ? 12 + 4 * (size_t)(p[0] & 0x0F) : 0;
    if (n < 12 || (size_t)n < hl + 24 || get32(p + hl) != MAGIC) {
        cur.other++;
        return true;
    }
    const uint8_t *q = p + hl;
    uint32_t stream = get32(q + 4), step = get32(q + 8), seq = get32(q + 12);
    int64_t sent_at = (int64_t)((uint64_t)get32(q + 16) << 32 | get32(q + 20));
    if (stream >= (uint32_t)(2 * ncalls) || (int)(stream ^ 1) != s) {
        cur.misrouted++;
        return true;
    }
    if (step != cur.id) {
        cur.late++;
        return true;
    }
    struct stream *st = &streams[stream];
    if (st->have_rx && seq <= st->last_seq_rx) {
        cur.dup++;
        return true;
    }
    st->have_rx = true;
    st->last_seq_rx = seq;
    cur.received++;
    int64_t us = (at - sent_at) / 1000;
    if (us < 0)
        us = 0;
    if ((uint64_t)us > cur.max_us)
        cur.max_us = (uint64_t)us;
    hist[us > HIST_US ? HIST_US : us]++;
    return true;
}

static uint64_t pct_us(double p)
{
    uint64_t want = (uint64_t)((double)cur.received * p + 0.999999), acc = 0;
    if (want == 0)
        want = 1;
    for (int i = 0; i <= HIST_US; i++) {
        acc += hist[i];
        if (acc >= want)
            return (uint64_t)i;
    }
    return HIST_US;
}

static void run_step(int n, int secs)
{
    for (int s = 0; s < 2 * n; s++)
        if (!streams[s].have_dest) {
            printf("error step n=%d: socket %d (port %u) has no destination\n", n, s, ports[s]);
            return;
        }
    uint32_t id = cur.id + 1;
    memset(&cur, 0, sizeof cur);
    memset(hist, 0, sizeof hist);
    cur.id = id;
    for (int s = 0; s < 2 * ncalls; s++)
        streams[s].have_rx = false;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) != 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) != 0) {
        printf("error step: timer: %s\n", strerror(errno));
        if (tfd >= 0)
            close(tfd);
        return;
    }
    double cpu0 = cpu_s();
    int64_t real_to_mono = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
    int64_t t0 = now_ns(CLOCK_MONOTONIC), end = t0 + (int64_t)secs * 1000000000LL;
    int64_t stop = end + DRAIN_NS;
    int nstreams = 2 * n;
    /* stream s sends at t0 + s * PERIOD / nstreams + k * PERIOD; next_k[s] counts them */
    int64_t sends_done = 0;
    const int64_t per_round = nstreams;
    struct epoll_event evs[256];
    for (;;) {
        int64_t t = now_ns(CLOCK_MONOTONIC);
        if (t >= stop)
            break;
        /* every send due by t (at most one round late: a stalled sender does not burst) */
        if (t < end) {
            int64_t due = ((t - t0) * per_round) / PERIOD_NS + 1;
            if (due - sends_done > per_round)
                sends_done = due - per_round;
            for (; sends_done < due; sends_done++)
                send_one((int)(sends_done % per_round), now_ns(CLOCK_MONOTONIC));
        }
        int k = epoll_wait(epfd, evs, 256, 5);
        for (int i = 0; i < k; i++) {
            if (evs[i].data.u32 == UINT32_MAX) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN)
                    break;
                continue;
            }
            receive_one((int)evs[i].data.u32, real_to_mono);
        }
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, tfd, NULL);
    close(tfd);
    double cpu = cpu_s() - cpu0;
    double loss = cur.sent
                      ? (double)(cur.sent - (cur.received < cur.sent ? cur.received : cur.sent)) /
                            (double)cur.sent
                      : 1.0;
    printf("step n=%d secs=%d sent=%llu received=%llu loss=%.6f pps=%.0f p50_us=%llu p99_us=%llu "
           "max_us=%llu misrouted=%llu late=%llu dup=%llu other=%llu send_errors=%llu "
           "gen_cpu_pct=%.0f\n",
           n, secs, (unsigned long long)cur.sent, (unsigned long long)cur.received, loss,
           (double)cur.received / secs, (unsigned long long)(cur.received ? pct_us(0.50) : 0),
           (unsigned long long)(cur.received ? pct_us(0.99) : 0), (unsigned long long)cur.max_us,
           (unsigned long long)cur.misrouted, (unsigned long long)cur.late,
           (unsigned long long)cur.dup, (unsigned long long)cur.other,
           (unsigned long long)cur.send_errors, 100.0 * cpu / ((double)secs + DRAIN_NS / 1e9));
}

/* Reads what arrived between steps (the relay's silence, stragglers) so no buffer fills. */
static void drain_idle(void)
{
    struct epoll_event evs[256];
    int k;
    while ((k = epoll_wait(epfd, evs, 256, 0)) > 0)
        for (int i = 0; i < k; i++)
            while (receive_one((int)evs[i].data.u32, 0)) {
            }
}

int main(int argc, char **argv)
{
    const char *ports_path = NULL;
    static const struct option opts[] = {
        {"calls", required_argument, NULL, 'c'}, {"ports", required_argument, NULL, 'p'}, {0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'c')
            ncalls = atoi(optarg);
        else if (o == 'p')
            ports_path = optarg;
        else
            return 2;
    }
    if (ncalls < 1 || ncalls > MAX_CALLS || optind != argc) {
        fprintf(stderr, "usage: cr-rtp-load --calls M (1-%d) [--ports FILE]\n", MAX_CALLS);
        return 2;
    }
    streams = calloc(2 * (size_t)ncalls, sizeof *streams);
    fds = calloc(2 * (size_t)ncalls, sizeof *fds);
    ports = calloc(2 * (size_t)ncalls, sizeof *ports);
    epfd = epoll_create1(0);
    if (!streams || !fds || !ports || epfd < 0) {
        fprintf(stderr, "cr-rtp-load: out of memory or epoll: %s\n", strerror(errno));
        return 1;
    }
    unsigned seed = (unsigned)now_ns(CLOCK_MONOTONIC);
    for (int s = 0; s < 2 * ncalls; s++) {
        int one = 1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        fds[s] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fds[s] < 0 || setsockopt(fds[s], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0 ||
            bind(fds[s], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[s], (struct sockaddr *)&a, &al) != 0) {
            fprintf(stderr, "cr-rtp-load: socket %d of %d: %s (ulimit -n?)\n", s + 1, 2 * ncalls,
                    strerror(errno));
            return 1;
        }
        ports[s] = ntohs(a.sin_port);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)s};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[s], &ev) != 0) {
            fprintf(stderr, "cr-rtp-load: epoll: %s\n", strerror(errno));
            return 1;
        }
        streams[s].fd_from = fds[s];
        streams[s].ssrc = (uint32_t)rand_r(&seed) * 2654435761u;
        streams[s].rtp_seq = (uint16_t)rand_r(&seed);
    }
    FILE *pf = ports_path ? fopen(ports_path, "w") : stdout;
    if (!pf) {
        fprintf(stderr, "cr-rtp-load: %s: %s\n", ports_path, strerror(errno));
        return 1;
    }
    for (int i = 0; i < ncalls; i++)
        fprintf(pf, "%d %u %u\n", i, ports[2 * i], ports[2 * i + 1]);
    if (pf != stdout && fclose(pf) != 0) {
        fprintf(stderr, "cr-rtp-load: %s: %s\n", ports_path, strerror(errno));
        return 1;
    }
    printf("ready calls=%d\n", ncalls);
    fflush(stdout);
    char line[4200];
    while (fgets(line, sizeof line, stdin)) {
        char path[4096];
        int n, secs;
        drain_idle();
        if (sscanf(line, "map %4095s", path) == 1)
            load_map(path);
        else if (sscanf(line, "step %d %d", &n, &secs) == 2 && n >= 1 && n <= ncalls && secs >= 1 &&
                 secs <= MAX_STEP_S)
            run_step(n, secs);
        else if (strncmp(line, "quit", 4) == 0)
            break;
        else
            printf("error unknown command (map FILE | step N(1-%d) SECS(1-%d) | quit): %s", ncalls,
                   MAX_STEP_S, line);
        fflush(stdout);
    }
    return 0;
}
