/* carillon-dialerd's RTP relay (see media.h). Each leg keeps its own outgoing stream: a fixed
 * SSRC, a sequence number that only goes up by one, and a timestamp that continues across every
 * change of source (bridge, unbridge, silence), so a softphone sees one steady stream. */
#include "media.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "amd.h"
#include "carillon/log.h"

#define RTP_MAX      1500 /* bytes in one packet we relay; larger ones are dropped */
#define SAMPLES_20MS 160
#define LEG_BUCKETS  1024
#define SILENCE_ALAW 0xD5
#define SILENCE_ULAW 0xFF

struct dl_leg {
    struct dl_rtp *rtp;
    uint64_t id;
    uv_udp_t sock;
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
    if (n < 12 || (p[0] >> 6) != 2)
        return;
    l->st.rx++;
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
    l->sock.data = l->silence.data = l->job.data = l;
    l->handles = 3;
    int rc = uv_udp_bind(&l->sock, (const struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_udp_recv_start(&l->sock, on_alloc, on_recv);
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
    uv_close((uv_handle_t *)&l->sock, on_leg_closed);
    uv_close((uv_handle_t *)&l->silence, on_leg_closed);
    uv_close((uv_handle_t *)&l->job, on_leg_closed);
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
