/* cr-rtp-sink: a test-only RTP receiver standing in for a softphone's media. It counts what
 * reaches it, so a test can tell whether dialerd relays and re-stamps audio.
 *
 *   cr-rtp-sink --listen HOST:PORT [--timeout S] [--mark BYTE]
 * Prints "listening" then, on SIGUSR1 (and at exit: SIGTERM or --timeout, 60 s), one line:
 * "rtp packets=N audio=N dtmf=N ssrcs=N seq_jumps=N ts_backwards=N pt=PT marked=N" where audio
 * counts payload types 0 and 8, dtmf 101, ssrcs the distinct SSRCs seen, seq_jumps the packets
 * whose sequence number is not the previous one plus one (same SSRC), ts_backwards those whose
 * timestamp went back, pt the last audio payload type, and marked the audio packets whose every
 * payload byte is BYTE (a test sound made of one repeated sample). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "carillon/conn.h"

#define MAX_SSRCS 16

static struct {
    uint64_t packets, audio, dtmf, seq_jumps, ts_backwards, marked;
    uint32_t ssrcs[MAX_SSRCS];
    int nssrcs, last_pt;
    uint32_t last_ssrc, last_ts;
    uint16_t last_seq;
    bool have_last;
} st = {.last_pt = -1};
static int mark = -1;

static uv_udp_t sock;
static uv_signal_t sig_report, sig_term;
static uv_timer_t deadline;

static void report(void)
{
    printf("rtp packets=%llu audio=%llu dtmf=%llu ssrcs=%d seq_jumps=%llu ts_backwards=%llu "
           "pt=%d marked=%llu\n",
           (unsigned long long)st.packets, (unsigned long long)st.audio,
           (unsigned long long)st.dtmf, st.nssrcs, (unsigned long long)st.seq_jumps,
           (unsigned long long)st.ts_backwards, st.last_pt, (unsigned long long)st.marked);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    static char slab[2048];
    *buf = uv_buf_init(slab, sizeof slab);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    (void)h, (void)addr, (void)flags;
    const uint8_t *p = (const uint8_t *)buf->base;
    if (n < 12 || (p[0] >> 6) != 2)
        return;
    st.packets++;
    int pt = p[1] & 0x7F;
    uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
    uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    if (pt == 0 || pt == 8) {
        st.audio++;
        st.last_pt = pt;
        ssize_t k = 12 + 4 * (p[0] & 0x0F);
        bool all = mark >= 0 && n > k;
        for (; all && k < n; k++)
            all = p[k] == mark;
        st.marked += all;
    } else if (pt == 101) {
        st.dtmf++;
    }
    bool known = false;
    for (int i = 0; i < st.nssrcs; i++)
        known = known || st.ssrcs[i] == ssrc;
    if (!known && st.nssrcs < MAX_SSRCS)
        st.ssrcs[st.nssrcs++] = ssrc;
    if (st.have_last && ssrc == st.last_ssrc) {
        if (seq != (uint16_t)(st.last_seq + 1))
            st.seq_jumps++;
        if ((int32_t)(ts - st.last_ts) < 0)
            st.ts_backwards++;
    }
    st.last_ssrc = ssrc;
    st.last_seq = seq;
    st.last_ts = ts;
    st.have_last = true;
}

static void stop(void)
{
    report();
    uv_close((uv_handle_t *)&sock, NULL);
    uv_close((uv_handle_t *)&sig_report, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGUSR1)
        report();
    else
        stop();
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    stop();
}

int main(int argc, char **argv)
{
    const char *listen = NULL;
    unsigned timeout_s = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen"))
            listen = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout"))
            timeout_s = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mark"))
            mark = (int)strtol(argv[i + 1], NULL, 0) & 0xFF;
    }
    char host[128];
    int port;
    if (!listen || cr_hostport_parse(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "usage: cr-rtp-sink --listen HOST:PORT [--timeout S] [--mark BYTE]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in sa;
    uv_udp_init(loop, &sock);
    int rc = uv_ip4_addr(host, port, &sa);
    if (!rc)
        rc = uv_udp_bind(&sock, (const struct sockaddr *)&sa, 0);
    if (!rc)
        rc = uv_udp_recv_start(&sock, on_alloc, on_recv);
    if (rc) {
        fprintf(stderr, "cr-rtp-sink: %s: %s\n", listen, uv_strerror(rc));
        return 2;
    }
    uv_signal_init(loop, &sig_report);
    uv_signal_start(&sig_report, on_signal, SIGUSR1);
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
    printf("listening\n");
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
