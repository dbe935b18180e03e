/* carillon-dialerd's RTP relay (see media.h). Each leg keeps its own outgoing stream: a fixed
 * SSRC, a sequence number that only goes up by one, and a timestamp that continues across every
 * change of source (bridge, unbridge, silence), so a softphone sees one steady stream. */
#include "media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include "amd.h"
#include "carillon/log.h"

#define RTP_MAX      1500 /* bytes in one packet we relay; larger ones are dropped */
#define SAMPLES_20MS 160
#define LEG_BUCKETS  1024
#define SILENCE_ALAW 0xD5
#define SILENCE_ULAW 0xFF
/* RTCP (rtcp-mux only): the first receiver report 2.5 s after the far end's answer (RFC 3550
 * §6.2's halved minimum for the first one), then one every 5 s (its minimum interval). */
#define RTCP_FIRST_MS    2500
#define RTCP_INTERVAL_MS 5000
#define RTCP_SR          200
#define RTCP_RR          201
#define RTCP_SDES        202
#define RTP_CLOCK_HZ     8000 /* G.711 and telephone-event */

struct dl_leg {
    struct dl_rtp *rtp;
    uint64_t id;
    uv_udp_t sock;
    uv_poll_t readable; /* the socket's readiness: on_readable reads it (see there) */
    bool polling;       /* `readable` initialised (it is closed with the leg) */
    uv_timer_t silence;
    uv_timer_t job; /* dl_leg_after's delay, then dl_leg_play's 20 ms pacing */
    dl_leg_cb job_cb;
    void *job_arg;
    const uint8_t *play;
    size_t play_n, play_off;
    int play_law;
    size_t idle_off; /* where the idle sound goes on next time this leg is idle */
    unsigned user;
    dl_leg_tap_cb tap; /* dl_leg_set_tap's, or NULL */
    void *tap_arg;
    void (*tap_free)(void *);
    bool closing;
    struct dl_leg *peer, *hnext;
    struct sockaddr_storage remote;
    bool have_remote;
    struct dl_media media;
    /* outgoing stream */
    uint32_t out_ssrc, last_out_ts;
    uint16_t out_seq;
    bool out_started;
    uint32_t src_ssrc; /* source of the last relayed packet: a change re-bases the timestamp */
    bool src_known;
    int32_t ts_offset;
    struct dl_leg_stats st;
    /* RTCP receiver reports (RFC 3550 §6.4.2, appendix A.1/A.3/A.8), sent on the RTP socket
     * when the far end's SDP accepted a=rtcp-mux (RFC 5761): about the one source it sends. */
    uv_timer_t rtcp;
    bool rtcp_on;
    struct {
        bool have, transit_known, sr_known;
        uint32_t ssrc, cycles, base_seq, expected_prior, received_prior, received;
        uint16_t max_seq;
        uint32_t transit, jitter; /* jitter in timestamp units, scaled by 16 (A.8) */
        uint32_t lsr;             /* middle 32 bits of the last SR's NTP time */
        uint32_t sr_ssrc;         /* whose SR it was: reported only for that source */
        uint64_t lsr_at_ns;       /* when that SR came (uv_hrtime) */
    } in;
    int handles; /* open libuv handles; the last close frees the leg */
};

struct dl_rtp {
    uv_loop_t *loop;
    char bind_ip[48];
    struct dl_leg *buckets[LEG_BUCKETS];
    bool closing;
    const uint8_t *idle; /* dl_rtp_set_idle's sound, or NULL */
    size_t idle_n;
    int idle_law;
};

/* --- G.711 --------------------------------------------------------------------------------- */

/* The two laws through their 16-bit linear values (ITU-T G.711: segment tables, A-law's even
 * bits inverted, mu-law's bias of 0x84). */
static int seg_of(int v, const int *end)
{
    int seg = 0;
    while (seg < 8 && v > end[seg])
        seg++;
    return seg;
}

static int16_t alaw_linear(uint8_t a)
{
    a ^= 0x55;
    int t = (a & 0x0F) << 4;
    int seg = (a & 0x70) >> 4;
    if (seg == 0)
        t += 8;
    else
        t = (t + 0x108) << (seg - 1);
    return (int16_t)((a & 0x80) ? t : -t);
}

static int16_t ulaw_linear(uint8_t u)
{
    u = (uint8_t)~u;
    int t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    return (int16_t)((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

static uint8_t linear_alaw(int16_t pcm)
{
    static const int end[8] = {0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF};
    int v = pcm >> 3, mask = 0xD5;
    if (v < 0) {
        mask = 0x55;
        v = -v - 1;
    }
    int seg = seg_of(v, end);
    if (seg >= 8)
        return (uint8_t)(0x7F ^ mask);
    int aval = (seg << 4) | ((seg < 2 ? v >> 1 : v >> seg) & 0x0F);
    return (uint8_t)(aval ^ mask);
}

static uint8_t linear_ulaw(int16_t pcm)
{
    static const int end[8] = {0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF};
    int v = pcm >> 2, mask = 0xFF;
    if (v < 0) {
        v = -v;
        mask = 0x7F;
    }
    if (v > 8159)
        v = 8159;
    v += 0x84 >> 2;
    int seg = seg_of(v, end);
    if (seg >= 8)
        return (uint8_t)(0x7F ^ mask);
    int uval = (seg << 4) | ((v >> (seg + 1)) & 0x0F);
    return (uint8_t)(uval ^ mask);
}

uint8_t dl_alaw_to_ulaw(uint8_t a)
{
    return linear_ulaw(alaw_linear(a));
}

uint8_t dl_ulaw_to_alaw(uint8_t u)
{
    return linear_alaw(ulaw_linear(u));
}

/* --- legs ---------------------------------------------------------------------------------- */

static struct dl_leg **bucket(struct dl_rtp *rtp, uint64_t id)
{
    return &rtp->buckets[(id * 0x9E3779B97F4A7C15ULL) >> 54 & (LEG_BUCKETS - 1)];
}

struct dl_leg *dl_leg_find(struct dl_rtp *rtp, uint64_t id)
{
    for (struct dl_leg *l = *bucket(rtp, id); l; l = l->hnext)
        if (l->id == id && !l->closing)
            return l;
    return NULL;
}

static void send_packet(struct dl_leg *to, const uint8_t *hdr_payload, size_t len)
{
    if (!to->have_remote)
        return;
    uv_buf_t b = uv_buf_init((char *)hdr_payload, (unsigned)len);
    /* try_send: RTP is sent now or not at all (a late packet is worth nothing). */
    if (uv_udp_try_send(&to->sock, &b, 1, (const struct sockaddr *)&to->remote) < 0)
        to->st.dropped++;
    else
        to->st.tx++;
}

static bool is_alaw(int pt)
{
    return pt == 8;
}

/* Writes bytes 1-11 of an RTP header: marker and payload type, sequence, timestamp, SSRC. */
static void stamp(uint8_t *p, bool marker, int pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    p[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
    p[2] = (uint8_t)(seq >> 8), p[3] = (uint8_t)seq;
    p[4] = (uint8_t)(ts >> 24), p[5] = (uint8_t)(ts >> 16), p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    p[8] = (uint8_t)(ssrc >> 24), p[9] = (uint8_t)(ssrc >> 16), p[10] = (uint8_t)(ssrc >> 8);
    p[11] = (uint8_t)ssrc;
}

/* Sends p (a 12-byte header to fill, then 20 ms of samples) as the next packet of l's own stream
 * (silence, a message); the next relayed source is re-based after it. True when it left. */
static bool send_own_frame(struct dl_leg *l, uint8_t *p, size_t len, int pt, bool marker)
{
    uint32_t ts = l->out_started ? l->last_out_ts + SAMPLES_20MS : 0;
    p[0] = 0x80;
    stamp(p, marker, pt, l->out_seq++, ts, l->out_ssrc);
    l->last_out_ts = ts;
    l->out_started = true;
    l->src_known = false;
    uint64_t before = l->st.tx;
    send_packet(l, p, len);
    return l->st.tx > before;
}

/* Re-stamps one packet from `from` for `to`'s stream and sends it. */
static void relay(struct dl_leg *from, struct dl_leg *to, uint8_t *p, size_t len)
{
    size_t hl = 12 + 4 * (size_t)(p[0] & 0x0F);
    if (p[0] & 0x10) { /* header extension */
        if (len < hl + 4)
            return;
        hl += 4 + 4 * (size_t)((p[hl + 2] << 8) | p[hl + 3]);
    }
    if (len < hl)
        return;
    int pt = p[1] & 0x7F;
    int out_pt;
    bool dtmf = from->media.pt_dtmf >= 0 && pt == from->media.pt_dtmf;
    if (dtmf) {
        from->st.rx_dtmf++;
        if (to->media.pt_dtmf < 0)
            return; /* the other side did not accept telephone-event */
        out_pt = to->media.pt_dtmf;
    } else if (pt == 0 || pt == 8) {
        out_pt = to->media.pt_audio >= 0 ? to->media.pt_audio : pt;
        if (is_alaw(pt) != is_alaw(out_pt))
            for (size_t i = hl; i < len; i++)
                p[i] = is_alaw(pt) ? dl_alaw_to_ulaw(p[i]) : dl_ulaw_to_alaw(p[i]);
    } else {
        return; /* neither G.711 nor telephone-event: nothing we offered */
    }
    uint32_t in_ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint32_t in_ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    bool marker = (p[1] & 0x80) != 0;
    if (!to->src_known || to->src_ssrc != in_ssrc) {
        /* a new source: its timestamps continue ours, one packet later */
        uint32_t next = to->out_started ? to->last_out_ts + SAMPLES_20MS : 0;
        to->ts_offset = (int32_t)(next - in_ts);
        to->src_ssrc = in_ssrc;
        to->src_known = true;
        marker = true;
    }
    uint32_t ts = in_ts + (uint32_t)to->ts_offset;
    p[0] &= 0xF0; /* no CSRCs: they named the other side's sources */
    if (hl > 12 && !(p[0] & 0x10)) {
        memmove(p + 12, p + hl, len - hl);
        len -= hl - 12;
    }
    stamp(p, marker, out_pt, to->out_seq++, ts, to->out_ssrc);
    if (!dtmf || ts != to->last_out_ts) /* an RFC 4733 event repeats its timestamp */
        to->last_out_ts = ts;
    to->out_started = true;
    send_packet(to, p, len);
}

/* --- RTCP (RFC 3550 receiver reports over rtcp-mux, RFC 5761) -------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The reception statistics of one received RTP packet (appendix A.1 without probation: a new
 * SSRC or a jump of the sequence restarts them; A.8's jitter on audio packets, telephone-event
 * repeats its timestamps). */
static void rtp_rx_stats(struct dl_leg *l, const uint8_t *p)
{
    uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
    uint32_t ssrc = rd32(p + 8);
    int pt = p[1] & 0x7F;
    if (!l->in.have || l->in.ssrc != ssrc) {
        /* a new source (its SR may have come first: that is kept, by its SSRC) */
        bool sr_known = l->in.sr_known;
        uint32_t lsr = l->in.lsr, sr_ssrc = l->in.sr_ssrc;
        uint64_t lsr_at = l->in.lsr_at_ns;
        memset(&l->in, 0, sizeof l->in);
        l->in.sr_known = sr_known;
        l->in.lsr = lsr;
        l->in.sr_ssrc = sr_ssrc;
        l->in.lsr_at_ns = lsr_at;
        l->in.have = true;
        l->in.ssrc = ssrc;
        l->in.base_seq = l->in.max_seq = seq;
    } else {
        uint16_t delta = (uint16_t)(seq - l->in.max_seq);
        if (delta < 3000) { /* in order, maybe with a gap */
            if (seq < l->in.max_seq)
                l->in.cycles += 65536;
            l->in.max_seq = seq;
        } else if (delta <= 65536 - 100) { /* a jump: the source restarted */
            l->in.cycles = l->in.received = l->in.expected_prior = l->in.received_prior = 0;
            l->in.base_seq = l->in.max_seq = seq;
            l->in.transit_known = false;
        } /* else a duplicate or a late packet */
    }
    l->in.received++;
    if (pt == 0 || pt == 8) {
        uint32_t arrival = (uint32_t)(uv_hrtime() / (1000000000ULL / RTP_CLOCK_HZ));
        uint32_t transit = arrival - rd32(p + 4);
        if (l->in.transit_known) {
            int32_t d = (int32_t)(transit - l->in.transit);
            uint32_t ad = d < 0 ? (uint32_t) - (int64_t)d : (uint32_t)d;
            l->in.jitter += ad - ((l->in.jitter + 8) >> 4);
        }
        l->in.transit = transit;
        l->in.transit_known = true;
    }
}

/* True when p is RTCP (RFC 5761 §4: a second byte of 192-223, which no RTP payload type we
 * offer takes); an SR's time is kept for the LSR/DLSR of our next report. */
static bool rtcp_demux(struct dl_leg *l, const uint8_t *p, size_t n)
{
    if (p[1] < 192 || p[1] > 223)
        return false;
    l->st.rx_rtcp++;
    /* a compound packet: each part's length field, in 32-bit words minus one, bounded by n */
    for (size_t off = 0; off + 8 <= n && (p[off] >> 6) == 2;) {
        size_t len = 4 * ((size_t)(p[off + 2] << 8 | p[off + 3]) + 1);
        if (len > n - off)
            break;
        if (p[off + 1] == RTCP_SR && len >= 28) {
            /* NTP seconds and fraction at +8 and +12: their middle 32 bits */
            l->in.lsr = rd32(p + off + 8) << 16 | rd32(p + off + 12) >> 16;
            l->in.lsr_at_ns = uv_hrtime();
            l->in.sr_ssrc = rd32(p + off + 4);
            l->in.sr_known = true;
        }
        off += len;
    }
    return true;
}

/* One compound RTCP packet: a receiver report (a block about the source we receive, if any)
 * and an SDES CNAME (RFC 3550 §6.1: every compound packet carries one). */
static void on_rtcp(uv_timer_t *t)
{
    struct dl_leg *l = t->data;
    if (!l->have_remote || !l->rtcp_on)
        return;
    uint8_t p[8 + 24 + 32];
    size_t n = 8;
    int rc = 0;
    if (l->in.have) {
        uint8_t *b = p + 8;
        uint32_t ext_max = l->in.cycles + l->in.max_seq;
        uint32_t expected = ext_max - l->in.base_seq + 1;
        int64_t lost = (int64_t)expected - (int64_t)l->in.received;
        lost = lost > 0x7FFFFF ? 0x7FFFFF : lost < -0x800000 ? -0x800000 : lost;
        uint32_t exp_int = expected - l->in.expected_prior;
        uint32_t rec_int = l->in.received - l->in.received_prior;
        l->in.expected_prior = expected;
        l->in.received_prior = l->in.received;
        int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
        uint32_t fraction =
            exp_int == 0 || lost_int <= 0 ? 0 : (uint32_t)((lost_int << 8) / exp_int);
        wr32(b, l->in.ssrc);
        wr32(b + 4, (fraction > 255 ? 255 : fraction) << 24 | ((uint32_t)lost & 0xFFFFFF));
        wr32(b + 8, ext_max);
        wr32(b + 12, l->in.jitter >> 4);
        uint32_t dlsr = 0;
        bool sr = l->in.sr_known && l->in.sr_ssrc == l->in.ssrc;
        if (sr) /* in units of 1/65536 s */
            dlsr = (uint32_t)((uv_hrtime() - l->in.lsr_at_ns) * 65536 / 1000000000ULL);
        wr32(b + 16, sr ? l->in.lsr : 0);
        wr32(b + 20, dlsr);
        n += 24;
        rc = 1;
    }
    p[0] = (uint8_t)(0x80 | rc);
    p[1] = RTCP_RR;
    p[2] = 0, p[3] = (uint8_t)(n / 4 - 1);
    wr32(p + 4, l->out_ssrc);
    /* SDES: one chunk, CNAME "carillon-SSRC" (17 bytes), the end item, padding to 32 bits */
    uint8_t *sd = p + n;
    char cname[18];
    snprintf(cname, sizeof cname, "carillon-%08x", (unsigned)l->out_ssrc);
    size_t clen = strlen(cname);
    size_t chunk = 4 + 2 + clen + 1;
    chunk = (chunk + 3) & ~(size_t)3;
    memset(sd, 0, 4 + chunk);
    sd[0] = 0x81;
    sd[1] = RTCP_SDES;
    sd[3] = (uint8_t)((4 + chunk) / 4 - 1);
    wr32(sd + 4, l->out_ssrc);
    sd[8] = 1; /* CNAME */
    sd[9] = (uint8_t)clen;
    memcpy(sd + 10, cname, clen);
    n += 4 + chunk;
    uv_buf_t buf = uv_buf_init((char *)p, (unsigned)n);
    if (uv_udp_try_send(&l->sock, &buf, 1, (const struct sockaddr *)&l->remote) >= 0)
        l->st.tx_rtcp++;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    static __thread char slab[RTP_MAX];
    *buf = uv_buf_init(slab, sizeof slab);
}

/* Decodes a G.711 packet's payload for the leg's tap. */
static void tap_audio(struct dl_leg *l, const uint8_t *p, size_t len)
{
    size_t hl = 12 + 4 * (size_t)(p[0] & 0x0F);
    if ((p[0] & 0x10) && len >= hl + 4)
        hl += 4 + 4 * (size_t)((p[hl + 2] << 8) | p[hl + 3]);
    else if (p[0] & 0x10)
        return;
    int pt = p[1] & 0x7F;
    if (len <= hl || (pt != 0 && pt != 8))
        return;
    if (p[0] & 0x20) { /* padding: its count is the last byte */
        size_t pad = p[len - 1];
        if (pad > len - hl)
            return;
        len -= pad;
    }
    int16_t pcm[RTP_MAX];
    size_t n = len - hl;
    for (size_t i = 0; i < n; i++)
        pcm[i] = amd_g711_linear(p[hl + i], pt);
    l->tap(l, pcm, n, l->tap_arg);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    struct dl_leg *l = h->data;
    if (n <= 0 || !addr || (flags & UV_UDP_PARTIAL))
        return;
    uint8_t *p = (uint8_t *)buf->base;
    if (n < 8 || (p[0] >> 6) != 2)
        return;
    if (rtcp_demux(l, p, (size_t)n)) /* RTCP on the RTP port: read, never relayed */
        return;
    if (n < 12)
        return;
    l->st.rx++;
    if (l->rtcp_on) /* reception statistics only feed RTCP: the relay's path stays as it was */
        rtp_rx_stats(l, p);
    if (!l->have_remote) { /* no SDP address yet: answer where it comes from (symmetric RTP) */
        memcpy(&l->remote, addr,
               addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
        l->have_remote = true;
    }
    if (l->tap)
        tap_audio(l, p, (size_t)n);
    if (l->peer && !l->closing)
        relay(l, l->peer, p, (size_t)n);
}

/* One datagram per readiness of the socket, handed to on_recv; epoll is level-triggered, so a
 * socket with more waiting is reported again at once. Not uv_udp_recv_start: libuv reads a UDP
 * socket until EAGAIN, and a leg gets one packet every 20 ms, so that was a second, empty
 * recvmsg for nearly every packet relayed: 2.9 system calls per packet, 2.15 now (measured with
 * tests/bench/relay; the kernel and the system calls are ~90 % of the relay's CPU). The UDP
 * handle still sends (uv_udp_try_send never queues, so it never watches the descriptor). */
static void on_readable(uv_poll_t *p, int status, int events)
{
    struct dl_leg *l = p->data;
    uv_os_fd_t fd;
    if (status < 0 || !(events & UV_READABLE) || uv_fileno((uv_handle_t *)&l->sock, &fd) != 0)
        return;
    uv_buf_t buf;
    on_alloc(NULL, 0, &buf);
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n =
        recvfrom(fd, buf.base, buf.len, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fl);
    if (n < 0)
        return;
    on_recv(&l->sock, n, &buf, (const struct sockaddr *)&from,
            (size_t)n > buf.len ? UV_UDP_PARTIAL : 0);
}

/* Fills out[SAMPLES_20MS] with n samples of law `law` converted to law `pt`, then silence. */
static void g711_frame(uint8_t *out, const uint8_t *in, size_t n, int law, int pt)
{
    for (size_t i = 0; i < SAMPLES_20MS; i++) {
        uint8_t v = i < n ? in[i] : (is_alaw(law) ? SILENCE_ALAW : SILENCE_ULAW);
        out[i] = is_alaw(law) == is_alaw(pt) ? v
                 : is_alaw(law)              ? dl_alaw_to_ulaw(v)
                                             : dl_ulaw_to_alaw(v);
    }
}

/* 20 ms of silence or of the idle sound, in this leg's own stream, while nothing is relayed to
 * it. */
static void on_silence(uv_timer_t *t)
{
    struct dl_leg *l = t->data;
    if (l->peer || !l->have_remote || l->play)
        return;
    uint8_t p[12 + SAMPLES_20MS];
    int pt = l->media.pt_audio >= 0 ? l->media.pt_audio : 8;
    const struct dl_rtp *rtp = l->rtp;
    if (rtp->idle && rtp->idle_n) { /* looped without a gap: the frame wraps to the start */
        uint8_t in[SAMPLES_20MS];
        for (size_t i = 0; i < SAMPLES_20MS; i++) {
            in[i] = rtp->idle[l->idle_off];
            l->idle_off = (l->idle_off + 1) % rtp->idle_n;
        }
        g711_frame(p + 12, in, SAMPLES_20MS, rtp->idle_law, pt);
    } else {
        memset(p + 12, is_alaw(pt) ? SILENCE_ALAW : SILENCE_ULAW, SAMPLES_20MS);
    }
    if (send_own_frame(l, p, sizeof p, pt, false))
        l->st.tx_silence++;
}

struct dl_leg *dl_leg_open(struct dl_rtp *rtp, uint64_t id, int port, bool silence)
{
    if (rtp->closing || dl_leg_find(rtp, id) || port <= 0 || port > 65535)
        return NULL;
    struct dl_leg *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->rtp = rtp;
    l->id = id;
    l->media.pt_audio = l->media.pt_dtmf = -1;
    if (RAND_bytes((unsigned char *)&l->out_ssrc, sizeof l->out_ssrc) != 1 ||
        RAND_bytes((unsigned char *)&l->out_seq, sizeof l->out_seq) != 1) {
        free(l);
        return NULL;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(rtp->bind_ip, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(rtp->bind_ip, port, (struct sockaddr_in6 *)&ss) != 0) {
        free(l);
        return NULL;
    }
    uv_udp_init(rtp->loop, &l->sock);
    uv_timer_init(rtp->loop, &l->silence);
    uv_timer_init(rtp->loop, &l->job);
    uv_timer_init(rtp->loop, &l->rtcp);
    l->sock.data = l->silence.data = l->job.data = l->rtcp.data = l;
    l->handles = 4;
    int rc = uv_udp_bind(&l->sock, (const struct sockaddr *)&ss, 0);
    uv_os_fd_t fd;
    if (!rc)
        rc = uv_fileno((uv_handle_t *)&l->sock, &fd);
    if (!rc)
        rc = uv_poll_init_socket(rtp->loop, &l->readable, fd);
    if (!rc) {
        l->readable.data = l;
        l->polling = true;
        l->handles++;
        rc = uv_poll_start(&l->readable, UV_READABLE, on_readable);
    }
    if (rc) {
        cr_log_warn("rtp_bind_failed", "port=%d error=%s", port, uv_strerror(rc));
        dl_leg_close(l); /* not linked yet: only its handles are closed */
        return NULL;
    }
    if (silence)
        uv_timer_start(&l->silence, on_silence, 20, 20);
    struct dl_leg **b = bucket(rtp, id);
    l->hnext = *b;
    *b = l;
    return l;
}

void dl_leg_remote(struct dl_leg *l, const struct dl_media *m)
{
    if (!m || m->port <= 0)
        return;
    l->media = *m;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(m->ip, m->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(m->ip, m->port, (struct sockaddr_in6 *)&ss) == 0) {
        l->remote = ss;
        l->have_remote = true;
    }
    /* RTCP only where the far end accepted rtcp-mux: without it RTCP would need a second
     * socket per leg (RTP port + 1), and the file limit is the dialer's ceiling */
    if (m->rtcp_mux && !l->rtcp_on)
        uv_timer_start(&l->rtcp, on_rtcp, RTCP_FIRST_MS, RTCP_INTERVAL_MS);
    else if (!m->rtcp_mux && l->rtcp_on)
        uv_timer_stop(&l->rtcp);
    l->rtcp_on = m->rtcp_mux;
}

static void job_stop(struct dl_leg *l)
{
    uv_timer_stop(&l->job);
    l->job_cb = NULL;
    l->play = NULL;
}

uint64_t dl_leg_id(const struct dl_leg *l)
{
    return l->id;
}

void dl_leg_set_user(struct dl_leg *l, unsigned v)
{
    l->user = v;
}

unsigned dl_leg_user(const struct dl_leg *l)
{
    return l->user;
}

static void job_done(struct dl_leg *l)
{
    dl_leg_cb cb = l->job_cb;
    void *arg = l->job_arg;
    job_stop(l);
    if (cb)
        cb(l, arg);
}

static void on_after(uv_timer_t *t)
{
    job_done(t->data);
}

void dl_leg_after(struct dl_leg *l, unsigned ms, dl_leg_cb cb, void *arg)
{
    job_stop(l);
    l->job_cb = cb;
    l->job_arg = arg;
    uv_timer_start(&l->job, on_after, ms, 0);
}

/* One 20 ms frame of the message, in this leg's own stream. */
static void on_play_tick(uv_timer_t *t)
{
    struct dl_leg *l = t->data;
    if (!l->play || l->play_off >= l->play_n) {
        job_done(l);
        return;
    }
    uint8_t p[12 + SAMPLES_20MS];
    size_t n = l->play_n - l->play_off < SAMPLES_20MS ? l->play_n - l->play_off : SAMPLES_20MS;
    int pt = l->media.pt_audio >= 0 ? l->media.pt_audio : l->play_law;
    g711_frame(p + 12, l->play + l->play_off, n, l->play_law, pt);
    bool first = l->play_off == 0;
    l->play_off += n;
    send_own_frame(l, p, sizeof p, pt, first); /* marker: the message starts */
}

void dl_leg_play(struct dl_leg *l, const uint8_t *samples, size_t n, int law, dl_leg_cb cb,
                 void *arg)
{
    job_stop(l);
    l->job_cb = cb;
    l->job_arg = arg;
    l->play = samples;
    l->play_n = n;
    l->play_off = 0;
    l->play_law = law;
    uv_timer_start(&l->job, on_play_tick, 0, 20);
}

int dl_leg_bridge(struct dl_leg *a, struct dl_leg *b)
{
    if (a == b)
        return -EINVAL;
    job_stop(a); /* an agent came: no abandon, no message */
    job_stop(b);
    dl_leg_unbridge(a);
    dl_leg_unbridge(b);
    a->peer = b;
    b->peer = a;
    a->src_known = b->src_known = false;
    return 0;
}

void dl_leg_unbridge(struct dl_leg *l)
{
    if (l->peer) {
        l->peer->peer = NULL;
        l->peer->src_known = false;
        l->peer = NULL;
        l->src_known = false;
    }
}

bool dl_leg_bridged(const struct dl_leg *l)
{
    return l->peer != NULL;
}

struct dl_leg_stats dl_leg_stats(const struct dl_leg *l)
{
    return l->st;
}

void dl_leg_set_tap(struct dl_leg *l, dl_leg_tap_cb cb, void *arg, void (*free_arg)(void *))
{
    if (l->tap_free && l->tap_arg && l->tap_arg != arg)
        l->tap_free(l->tap_arg);
    l->tap = cb;
    l->tap_arg = arg;
    l->tap_free = free_arg;
}

void *dl_leg_tap_arg(const struct dl_leg *l)
{
    return l->tap_arg;
}

void dl_leg_stop_tap(struct dl_leg *l)
{
    l->tap = NULL;
}

static void on_leg_closed(uv_handle_t *h)
{
    struct dl_leg *l = h->data;
    if (--l->handles == 0)
        free(l);
}

void dl_leg_close(struct dl_leg *l)
{
    if (l->closing)
        return;
    l->closing = true;
    dl_leg_unbridge(l);
    l->tap = NULL;
    if (l->tap_free && l->tap_arg)
        l->tap_free(l->tap_arg);
    l->tap_arg = NULL;
    for (struct dl_leg **p = bucket(l->rtp, l->id); *p; p = &(*p)->hnext)
        if (*p == l) {
            *p = l->hnext;
            break;
        }
    uv_timer_stop(&l->silence);
    uv_timer_stop(&l->rtcp);
    if (l->polling) /* before the socket, whose close closes the descriptor it watches */
        uv_close((uv_handle_t *)&l->readable, on_leg_closed);
    uv_close((uv_handle_t *)&l->sock, on_leg_closed);
    uv_close((uv_handle_t *)&l->silence, on_leg_closed);
    uv_close((uv_handle_t *)&l->job, on_leg_closed);
    uv_close((uv_handle_t *)&l->rtcp, on_leg_closed);
}

int dl_rtp_new(uv_loop_t *loop, const char *bind_ip, struct dl_rtp **out)
{
    struct dl_rtp *rtp = calloc(1, sizeof *rtp);
    if (!rtp)
        return -ENOMEM;
    rtp->loop = loop;
    snprintf(rtp->bind_ip, sizeof rtp->bind_ip, "%s", bind_ip);
    *out = rtp;
    return 0;
}

void dl_rtp_set_idle(struct dl_rtp *rtp, const uint8_t *samples, size_t n, int law)
{
    rtp->idle = samples;
    rtp->idle_n = n;
    rtp->idle_law = law;
}

void dl_rtp_close(struct dl_rtp *rtp)
{
    if (!rtp)
        return;
    rtp->closing = true;
    for (size_t i = 0; i < LEG_BUCKETS; i++)
        while (rtp->buckets[i])
            dl_leg_close(rtp->buckets[i]);
    free(rtp); /* legs keep no pointer to rtp once their close callbacks only free them */
}
