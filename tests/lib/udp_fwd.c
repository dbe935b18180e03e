/* cr-udp-fwd: the minimal UDP forwarder tests/bench/relay measures as the ceiling of an RTP
 * relay on this machine: per call a pair of UDP sockets on 127.0.0.1 (kernel-chosen ports), one
 * towards the customer, one towards the agent; a datagram read on one is sent, unchanged, from
 * the other to that side's address. One thread, level-triggered epoll, one recvfrom and one
 * sendto per datagram, no other work: what any relay has to do at the least.
 *
 *   cr-udp-fwd --pairs FILE --map FILE [--timeout S]
 * --pairs: "I CUSTOMER_PORT AGENT_PORT" per call (cr-rtp-load's --ports): where each side's
 * audio goes (127.0.0.1). --map: written with "CUSTOMER_PORT OWN_CUSTOMER_SIDE_PORT" and
 * "AGENT_PORT OWN_AGENT_SIDE_PORT" per call (cr-rtp-load's map). Prints "ready pairs=N", then
 * forwards until SIGTERM/SIGINT or --timeout (600 s) and prints "forwarded packets=N
 * send_errors=N". Exit 1 on a setup error (named), 2 on arguments. At most 4000 pairs. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 4000

struct side {
    int fd;
    int out_fd;              /* the other side's socket, which sends what this one reads */
    struct sockaddr_in dest; /* where what this one reads goes: the other side's party */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int open_socket(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static struct sockaddr_in loopback(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

int main(int argc, char **argv)
{
    const char *pairs_path = NULL, *map_path = NULL;
    int timeout_s = 600;
    static const struct option opts[] = {{"pairs", required_argument, NULL, 'p'},
                                         {"map", required_argument, NULL, 'm'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'p')
            pairs_path = optarg;
        else if (o == 'm')
            map_path = optarg;
        else if (o == 't')
            timeout_s = atoi(optarg);
        else
            return 2;
    }
    if (!pairs_path || !map_path || timeout_s < 1 || timeout_s > 86400 || optind != argc) {
        fprintf(stderr, "usage: cr-udp-fwd --pairs FILE --map FILE [--timeout S (1-86400)]\n");
        return 2;
    }
    FILE *pf = fopen(pairs_path, "r");
    if (!pf) {
        fprintf(stderr, "cr-udp-fwd: %s: %s\n", pairs_path, strerror(errno));
        return 1;
    }
    static struct side sides[2 * MAX_PAIRS];
    int n = 0, epfd = epoll_create1(EPOLL_CLOEXEC);
    FILE *mf = fopen(map_path, "w");
    if (epfd < 0 || !mf) {
        fprintf(stderr, "cr-udp-fwd: %s: %s\n", map_path, strerror(errno));
        return 1;
    }
    unsigned idx, cport, aport;
    while (fscanf(pf, "%u %u %u", &idx, &cport, &aport) == 3) {
        if (n == MAX_PAIRS || cport == 0 || cport > 65535 || aport == 0 || aport > 65535) {
            fprintf(stderr,
                    "cr-udp-fwd: %s: pair %u: more than %d pairs or a port out of 1-65535\n",
                    pairs_path, idx, MAX_PAIRS);
            return 1;
        }
        struct side *c = &sides[2 * n], *a = &sides[2 * n + 1];
        uint16_t cp, ap;
        c->fd = open_socket(&cp);
        a->fd = c->fd >= 0 ? open_socket(&ap) : -1;
        if (c->fd < 0 || a->fd < 0) {
            fprintf(stderr, "cr-udp-fwd: socket for pair %d: %s (ulimit -n?)\n", n + 1,
                    strerror(errno));
            return 1;
        }
        c->out_fd = a->fd, c->dest = loopback(aport); /* from the customer: to the agent */
        a->out_fd = c->fd, a->dest = loopback(cport);
        for (int k = 0; k < 2; k++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sides[2 * n + k]};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, sides[2 * n + k].fd, &ev) != 0) {
                fprintf(stderr, "cr-udp-fwd: epoll: %s\n", strerror(errno));
                return 1;
            }
        }
        fprintf(mf, "%u %u\n%u %u\n", cport, cp, aport, ap);
        n++;
    }
    fclose(pf);
    if (fclose(mf) != 0) {
        fprintf(stderr, "cr-udp-fwd: %s: %s\n", map_path, strerror(errno));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ready pairs=%d\n", n);
    fflush(stdout);
    uint64_t forwarded = 0, send_errors = 0;
    time_t deadline = time(NULL) + timeout_s;
    struct epoll_event evs[256];
    while (!stopping && time(NULL) < deadline) {
        int k = epoll_wait(epfd, evs, 256, 500);
        for (int i = 0; i < k; i++) {
            struct side *s = evs[i].data.ptr;
            uint8_t buf[2048];
            ssize_t len = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (len < 0)
                continue;
            if (sendto(s->out_fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&s->dest,
                       sizeof s->dest) == len)
                forwarded++;
            else
                send_errors++;
        }
    }
    printf("forwarded packets=%llu send_errors=%llu\n", (unsigned long long)forwarded,
           (unsigned long long)send_errors);
    return 0;
}
