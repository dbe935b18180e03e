/* scrypt password hashes, the server's config parsing helpers and the failed-login limiter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/ratelimit.h"
#include "api/server.h"
#include "auth/password.h"

static void test_hash_verify(void **state)
{
    (void)state;
    char h1[CR_PASSWORD_HASH_MAX], h2[CR_PASSWORD_HASH_MAX];
    assert_int_equal(cr_password_hash("Crème brûlée 42", 10, h1), 0);
    assert_int_equal(cr_password_hash("Crème brûlée 42", 10, h2), 0);
    assert_true(strncmp(h1, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_true(cr_password_verify("Crème brûlée 42", h1));
    assert_true(cr_password_verify("Crème brûlée 42", h2));
    assert_false(cr_password_verify("Creme brulee 42", h1));
    assert_false(cr_password_verify("", h1));
    assert_false(cr_password_verify("Crème brûlée 42", "plain"));
    assert_false(cr_password_verify("Crème brûlée 42", "$scrypt$ln=99,r=8,p=1$AAAA$AAAA"));
    assert_false(cr_password_verify("Crème brûlée 42", "$scrypt$ln=10,r=8,p=1$!!$AAAA"));
    assert_int_equal(cr_password_hash("x", 9, h1), -EINVAL);
}

static void test_weakness(void **state)
{
    (void)state;
    assert_non_null(cr_password_weakness("short"));
    assert_null(cr_password_weakness("long enough"));
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_non_null(cr_password_weakness(big));
}

static void test_hostport(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(cr_hostport_parse("127.0.0.1:4433", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 4433);
    assert_int_equal(cr_hostport_parse("[::1]:99", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 99);
    assert_int_equal(cr_hostport_parse("localhost", host, sizeof host, &port), -EINVAL);
    assert_int_equal(cr_hostport_parse("a:0", host, sizeof host, &port), -EINVAL);
    assert_int_equal(cr_hostport_parse("a:70000", host, sizeof host, &port), -EINVAL);
    assert_int_equal(cr_hostport_parse("a:12x", host, sizeof host, &port), -EINVAL);
    assert_int_equal(cr_hostport_parse(":12", host, sizeof host, &port), -EINVAL);
    assert_int_equal(cr_hostport_parse("::1:12", host, sizeof host, &port), -EINVAL);
}

static void test_ratelimit(void **state)
{
    (void)state;
    struct ratelimit rl;
    assert_int_equal(ratelimit_init(&rl, 3, 10000, 60000), 0);
    uint64_t t = 1000000;
    assert_int_equal(ratelimit_check(&rl, "alice", t), 0);
    assert_int_equal(ratelimit_fail(&rl, "alice", t), 0);
    assert_int_equal(ratelimit_fail(&rl, "alice", t + 1), 0);
    assert_int_equal(ratelimit_check(&rl, "alice", t + 2), 0);
    assert_int_equal(ratelimit_fail(&rl, "alice", t + 2), 60000); /* third: locked */
    assert_int_equal(ratelimit_check(&rl, "alice", t + 3), 59999);
    assert_int_equal(ratelimit_check(&rl, "bob", t + 3), 0); /* others unaffected */
    assert_int_equal(ratelimit_check(&rl, "alice", t + 2 + 60000), 0);
    /* Failures spread beyond the window do not add up. */
    assert_int_equal(ratelimit_fail(&rl, "carol", t), 0);
    assert_int_equal(ratelimit_fail(&rl, "carol", t + 1), 0);
    assert_int_equal(ratelimit_fail(&rl, "carol", t + 20000), 0);
    assert_int_equal(ratelimit_check(&rl, "carol", t + 20001), 0);
    /* A success forgets the count. */
    ratelimit_reset(&rl, "carol");
    assert_int_equal(ratelimit_fail(&rl, "carol", t + 20002), 0);
    assert_int_equal(ratelimit_fail(&rl, "carol", t + 20003), 0);
    assert_int_equal(ratelimit_check(&rl, "carol", t + 20004), 0);
    /* The table is bounded: many keys evict old ones without growing or crashing. */
    char key[32];
    for (int i = 0; i < 3 * RATELIMIT_SLOTS; i++) {
        snprintf(key, sizeof key, "user%d", i);
        ratelimit_fail(&rl, key, t + 30000 + (uint64_t)i);
    }
    ratelimit_free(&rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_verify),
        cmocka_unit_test(test_weakness),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_ratelimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
