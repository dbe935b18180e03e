/* Frame encoding and incremental decoding: whole frames, every split of a stream, several frames
 * per read, oversized headers, malformed payloads and unknown message types. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carillon/frame.h"

/* Collects decoded frames' payloads. */
struct sink {
    int frames;
    size_t lens[64];
    uint64_t request_ids[64];
    int stop_after; /* callback returns -ECANCELED after this many frames (0 = never) */
};

static int collect(void *arg, const uint8_t *payload, size_t len)
{
    struct sink *s = arg;
    Carillon__V1__Envelope *env = cr_frame_unpack(payload, len);
    assert_non_null(env);
    s->lens[s->frames] = len;
    s->request_ids[s->frames] = env->request_id;
    s->frames++;
    carillon__v1__envelope__free_unpacked(env, NULL);
    if (s->stop_after && s->frames == s->stop_after)
        return -ECANCELED;
    return 0;
}

static uint8_t *pack_ping(uint64_t rid, size_t pad, size_t *len)
{
    Carillon__V1__Ping ping = CARILLON__V1__PING__INIT;
    ping.sent_at_us = 1234567;
    Carillon__V1__Hello hello = CARILLON__V1__HELLO__INIT;
    char *name = NULL;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.request_id = rid;
    if (pad) {
        name = malloc(pad + 1);
        memset(name, 'x', pad);
        name[pad] = '\0';
        hello.node_name = name;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
        env.hello = &hello;
    } else {
        env.body_case = CARILLON__V1__ENVELOPE__BODY_PING;
        env.ping = &ping;
    }
    uint8_t *out = NULL;
    assert_int_equal(cr_frame_pack(&env, 0, &out, len), 0);
    free(name);
    return out;
}

static void test_roundtrip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_ping(42, 0, &len);
    assert_true(len > CR_FRAME_HEADER);
    uint32_t announced = (uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3];
    assert_int_equal(announced, len - CR_FRAME_HEADER);

    struct cr_frame_decoder d;
    cr_frame_decoder_init(&d, 0);
    assert_int_equal(d.max_frame, CR_FRAME_DEFAULT_MAX);
    struct sink s = {0};
    assert_int_equal(cr_frame_decoder_feed(&d, buf, len, collect, &s), 0);
    assert_int_equal(s.frames, 1);
    assert_int_equal(s.request_ids[0], 42);
    cr_frame_decoder_free(&d);
    free(buf);
}

/* Three frames (one large) concatenated, fed in every chunk size from 1 to 257 bytes. */
static void test_every_split(void **state)
{
    (void)state;
    size_t l1, l2, l3;
    uint8_t *f1 = pack_ping(1, 0, &l1);
    uint8_t *f2 = pack_ping(2, 5000, &l2);
    uint8_t *f3 = pack_ping(3, 0, &l3);
    size_t total = l1 + l2 + l3;
    uint8_t *stream = malloc(total);
    memcpy(stream, f1, l1);
    memcpy(stream + l1, f2, l2);
    memcpy(stream + l1 + l2, f3, l3);
    for (size_t chunk = 1; chunk <= 257; chunk++) {
        struct cr_frame_decoder d;
        cr_frame_decoder_init(&d, 64 * 1024);
        struct sink s = {0};
        for (size_t off = 0; off < total; off += chunk) {
            size_t n = total - off < chunk ? total - off : chunk;
            assert_int_equal(cr_frame_decoder_feed(&d, stream + off, n, collect, &s), 0);
        }
        assert_int_equal(s.frames, 3);
        assert_int_equal(s.request_ids[0], 1);
        assert_int_equal(s.request_ids[1], 2);
        assert_int_equal(s.request_ids[2], 3);
        assert_int_equal(s.lens[1], l2 - CR_FRAME_HEADER);
        assert_int_equal(d.len, 0);
        cr_frame_decoder_free(&d);
    }
    free(stream);
    free(f1);
    free(f2);
    free(f3);
}

static void test_oversized_header_rejected_before_buffering(void **state)
{
    (void)state;
    struct cr_frame_decoder d;
    cr_frame_decoder_init(&d, 1024);
    struct sink s = {0};
    /* 1025 bytes announced: refused as soon as the 4-byte header is complete, even split. */
    uint8_t hdr[4] = {0, 0, 0x04, 0x01};
    assert_int_equal(cr_frame_decoder_feed(&d, hdr, 2, collect, &s), 0);
    assert_int_equal(cr_frame_decoder_feed(&d, hdr + 2, 2, collect, &s), -EMSGSIZE);
    assert_true(d.cap <= 1024 + CR_FRAME_HEADER);
    /* Sticky: the stream is unusable afterwards. */
    size_t len;
    uint8_t *ok = pack_ping(9, 0, &len);
    assert_int_equal(cr_frame_decoder_feed(&d, ok, len, collect, &s), -EMSGSIZE);
    assert_int_equal(s.frames, 0);
    cr_frame_decoder_free(&d);

    /* A 4 GiB announcement in one read is refused too. */
    cr_frame_decoder_init(&d, 0);
    uint8_t huge[8] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
    assert_int_equal(cr_frame_decoder_feed(&d, huge, sizeof huge, collect, &s), -EMSGSIZE);
    cr_frame_decoder_free(&d);
    free(ok);
}

static void test_exact_max_accepted(void **state)
{
    (void)state;
    size_t len;
    uint8_t *f = pack_ping(7, 900, &len);
    struct cr_frame_decoder d;
    cr_frame_decoder_init(&d, len - CR_FRAME_HEADER);
    struct sink s = {0};
    assert_int_equal(cr_frame_decoder_feed(&d, f, len, collect, &s), 0);
    assert_int_equal(s.frames, 1);
    cr_frame_decoder_free(&d);
    cr_frame_decoder_init(&d, len - CR_FRAME_HEADER - 1);
    assert_int_equal(cr_frame_decoder_feed(&d, f, len, collect, &s), -EMSGSIZE);
    cr_frame_decoder_free(&d);
    free(f);
}

static void test_pack_refuses_oversized(void **state)
{
    (void)state;
    Carillon__V1__Hello hello = CARILLON__V1__HELLO__INIT;
    char name[3000];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    hello.node_name = name;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(cr_frame_pack(&env, 1024, &out, &len), -EMSGSIZE);
    assert_null(out);
}

static void test_callback_stop(void **state)
{
    (void)state;
    size_t l1;
    uint8_t *f = pack_ping(1, 0, &l1);
    uint8_t two[256];
    memcpy(two, f, l1);
    memcpy(two + l1, f, l1);
    struct cr_frame_decoder d;
    cr_frame_decoder_init(&d, 0);
    struct sink s = {.stop_after = 1};
    assert_int_equal(cr_frame_decoder_feed(&d, two, 2 * l1, collect, &s), -ECANCELED);
    assert_int_equal(s.frames, 1);
    cr_frame_decoder_free(&d);
    free(f);
}

static void test_empty_frame_is_empty_envelope(void **state)
{
    (void)state;
    uint8_t zero[4] = {0, 0, 0, 0};
    struct cr_frame_decoder d;
    cr_frame_decoder_init(&d, 0);
    struct sink s = {0};
    assert_int_equal(cr_frame_decoder_feed(&d, zero, 4, collect, &s), 0);
    assert_int_equal(s.frames, 1);
    assert_int_equal(s.lens[0], 0);
    cr_frame_decoder_free(&d);
}

static void test_malformed_payload(void **state)
{
    (void)state;
    /* Field 1 as a varint that never ends, a length-delimited field longer than the buffer, and
     * a wrong wire type for a known field. */
    static const uint8_t bad1[] = {0x08, 0xff, 0xff, 0xff};
    static const uint8_t bad2[] = {0x52, 0x7f, 0x01};
    static const uint8_t bad3[] = {0x0d, 1, 2, 3};
    assert_null(cr_frame_unpack(bad1, sizeof bad1));
    assert_null(cr_frame_unpack(bad2, sizeof bad2));
    assert_null(cr_frame_unpack(bad3, sizeof bad3));
}

/* A body the receiver does not know (field 9999) unpacks with no body: the server answers
 * UNIMPLEMENTED and keeps the connection. */
static void test_unknown_body(void **state)
{
    (void)state;
    /* request_id = 5, then field 9999 (wire type 2) holding 2 bytes. 9999 << 3 | 2 = 79994. */
    static const uint8_t msg[] = {0x08, 0x05, 0xfa, 0xf0, 0x04, 0x02, 0x08, 0x01};
    Carillon__V1__Envelope *env = cr_frame_unpack(msg, sizeof msg);
    assert_non_null(env);
    assert_int_equal(env->request_id, 5);
    assert_int_equal(env->body_case, CARILLON__V1__ENVELOPE__BODY__NOT_SET);
    carillon__v1__envelope__free_unpacked(env, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_oversized_header_rejected_before_buffering),
        cmocka_unit_test(test_exact_max_accepted),
        cmocka_unit_test(test_pack_refuses_oversized),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_empty_frame_is_empty_envelope),
        cmocka_unit_test(test_malformed_payload),
        cmocka_unit_test(test_unknown_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
