/* cr-rtp-sink: a test-only RTP receiver standing in for a softphone's media. It counts what
 * reaches it, so a test can tell whether dialerd relays and re-stamps audio.
 *
 *   cr-rtp-sink --listen HOST:PORT [--timeout S] [--mark BYTE] [--reply-sr 1]
 *               [--send HOST:PORT | --send-back 1] [--send-pt PT] [--send-byte BYTE]
 * Prints "listening" then, on SIGUSR1 (and at exit: SIGTERM or --timeout, 60 s), one line:
 * "rtp packets=N audio=N dtmf=N ssrcs=N seq_jumps=N ts_backwards=N pt=PT marked=N rtcp=N rr=N
 * rr_blocks=N rr_lsr=N rr_lost=N rr_jitter=N rr_seq_behind=N" where audio
 * counts payload types 0 and 8, dtmf 101, ssrcs the distinct SSRCs seen, seq_jumps the packets
 * whose sequence number is not the previous one plus one (same SSRC), ts_backwards those whose
 * timestamp went back, pt the last audio payload type, and marked the audio packets whose every
 * payload byte is BYTE (a test sound made of one repeated sample). RTCP (second byte 192-223,
 * RFC 5761 §4) is counted apart: rtcp its packets, rr the receiver reports among them,
 * rr_blocks their report blocks and rr_lsr the blocks whose LSR is not 0 (they echo an SR);
 * rr_lost, rr_jitter: the last block's cumulative loss and jitter, rr_seq_behind how far its
 * highest sequence number was behind the last one this sink had sent (-1: not sending).
 * --reply-sr 1 answers each RTCP packet with a sender report to where it came from (an SR a
 * relay must read and not pass on). --send: from the listening socket, every 20 ms, one RTP
 * packet of 160 samples of BYTE (--send-byte; 0xD5, A-law silence), payload type PT (8), to
 * HOST:PORT, until the exit; --send-back 1: the same, to where the first packet (RTP or RTCP)
 * came from, from then on (symmetric RTP, as a softphone or a trunk behind NAT does). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "carillon/conn.h"

#define MAX_SSRCS 16

static struct {
    uint64_t packets, audio, dtmf, seq_jumps, ts_backwards, marked, rtcp, rr, rr_blocks, rr_lsr;
    uint32_t ssrcs[MAX_SSRCS];
    int nssrcs, last_pt;
    int32_t rr_lost;
    uint32_t rr_jitter;
    int rr_seq_behind;
    uint32_t last_ssrc, last_ts;
    uint16_t last_seq;
    bool have_last;
} st = {.last_pt = -1, .rr_seq_behind = -1};
static int mark = -1;
static bool reply_sr;
static int send_pt = 8;
static struct sockaddr_in send_to;
static bool sending, send_back;
static int send_byte = 0xD5;
static uint32_t send_ssrc = 0x5EED0001, send_ts;
static uint16_t send_seq;

static uv_udp_t sock;
static uv_signal_t sig_report, sig_term;
static uv_timer_t deadline, send_timer;

static void report(void)
{
    printf("rtp packets=%llu audio=%llu dtmf=%llu ssrcs=%d seq_jumps=%llu ts_backwards=%llu "
           "pt=%d marked=%llu rtcp=%llu rr=%llu rr_blocks=%llu rr_lsr=%llu rr_lost=%d "
           "rr_jitter=%u rr_seq_behind=%d\n",
           (unsigned long long)st.packets, (unsigned long long)st.audio,
           (unsigned long long)st.dtmf, st.nssrcs, (unsigned long long)st.seq_jumps,
           (unsigned long long)st.ts_backwards, st.last_pt, (unsigned long long)st.marked,
           (unsigned long long)st.rtcp, (unsigned long long)st.rr, (unsigned long long)st.rr_blocks,
           (unsigned long long)st.rr_lsr, (int)st.rr_lost, (unsigned)st.rr_jitter,
           st.rr_seq_behind);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    static char slab[2048];
    *buf = uv_buf_init(slab, sizeof slab);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A compound RTCP packet: its parts walked by their length fields, within n. */
static void on_rtcp(const uint8_t *p, size_t n, const struct sockaddr *from)
{
    st.rtcp++;
    for (size_t off = 0; off + 8 <= n && (p[off] >> 6) == 2;) {
        size_t len = 4 * ((size_t)(p[off + 2] << 8 | p[off + 3]) + 1);
        if (len > n - off)
            break;
        if (p[off + 1] == 201) {
            st.rr++;
            int rc = p[off] & 0x1F;
            for (int i = 0; i < rc && 8 + 24 * (size_t)(i + 1) <= len; i++) {
                st.rr_blocks++;
                const uint8_t *b = p + off + 8 + 24 * (size_t)i;
                st.rr_lsr += rd32(b + 16) != 0;
                uint32_t lost = rd32(b + 4) & 0xFFFFFF;
                st.rr_lost = (int32_t)(lost & 0x800000 ? lost | 0xFF000000u : lost);
                st.rr_jitter = rd32(b + 12);
                if (sending)
                    st.rr_seq_behind = (uint16_t)(send_seq - 1 - (uint16_t)rd32(b + 8));
            }
        }
        off += len;
    }
    if (reply_sr && from && from->sa_family == AF_INET) {
        /* an SR without report blocks: NTP time (any non-zero value), RTP time, counts */
        static uint8_t sr[28];
        sr[0] = 0x80, sr[1] = 200, sr[2] = 0, sr[3] = 6;
        wr32(sr + 4, send_ssrc);
        wr32(sr + 8, 0xE0000000u + (uint32_t)st.rtcp);
        wr32(sr + 12, 0x12345678);
        wr32(sr + 16, send_ts);
        wr32(sr + 20, send_seq);
        wr32(sr + 24, send_seq * 160u);
        uv_buf_t b = uv_buf_init((char *)sr, sizeof sr);
        (void)uv_udp_try_send(&sock, &b, 1, from);
    }
}

static void on_send_tick(uv_timer_t *t)
{
    (void)t;
    uint8_t p[12 + 160];
    p[0] = 0x80;
    p[1] = (uint8_t)send_pt;
    p[2] = (uint8_t)(send_seq >> 8), p[3] = (uint8_t)send_seq;
    wr32(p + 4, send_ts);
    wr32(p + 8, send_ssrc);
    memset(p + 12, send_byte, 160);
    send_seq++;
    send_ts += 160;
    uv_buf_t b = uv_buf_init((char *)p, sizeof p);
    (void)uv_udp_try_send(&sock, &b, 1, (const struct sockaddr *)&send_to);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    (void)h, (void)flags;
    const uint8_t *p = (const uint8_t *)buf->base;
    if (n < 8 || (p[0] >> 6) != 2)
        return;
    if (send_back && !sending && addr && addr->sa_family == AF_INET) {
        memcpy(&send_to, addr, sizeof send_to);
        sending = true;
        uv_timer_start(&send_timer, on_send_tick, 0, 20);
    }
    if (p[1] >= 192 && p[1] <= 223) {
        on_rtcp(p, (size_t)n, addr);
        return;
    }
    if (n < 12)
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
    uv_close((uv_handle_t *)&send_timer, NULL);
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
    const char *listen = NULL, *send = NULL;
    unsigned timeout_s = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen"))
            listen = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout"))
            timeout_s = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mark"))
            mark = (int)strtol(argv[i + 1], NULL, 0) & 0xFF;
        else if (!strcmp(argv[i], "--reply-sr"))
            reply_sr = atoi(argv[i + 1]) != 0;
        else if (!strcmp(argv[i], "--send"))
            send = argv[i + 1];
        else if (!strcmp(argv[i], "--send-back"))
            send_back = atoi(argv[i + 1]) != 0;
        else if (!strcmp(argv[i], "--send-byte"))
            send_byte = (int)strtol(argv[i + 1], NULL, 0) & 0xFF;
        else if (!strcmp(argv[i], "--send-pt"))
            send_pt = atoi(argv[i + 1]) & 0x7F;
    }
    char shost[128];
    int sport;
    if (send) {
        if (cr_hostport_parse(send, shost, sizeof shost, &sport) != 0 ||
            uv_ip4_addr(shost, sport, &send_to) != 0) {
            fprintf(stderr, "cr-rtp-sink: --send %s: not an IPv4 HOST:PORT\n", send);
            return 2;
        }
        sending = true;
    }
    char host[128];
    int port;
    if (!listen || cr_hostport_parse(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "usage: cr-rtp-sink --listen HOST:PORT [--timeout S] [--mark BYTE] "
                        "[--reply-sr 1] [--send HOST:PORT | --send-back 1] [--send-pt PT] "
                        "[--send-byte BYTE]\n");
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
    uv_timer_init(loop, &send_timer);
    if (sending)
        uv_timer_start(&send_timer, on_send_tick, 20, 20);
    printf("listening\n");
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
