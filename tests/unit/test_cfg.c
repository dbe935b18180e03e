/* Configuration files: every value type, each kind of error naming file, line and key, and the
 * all-or-nothing reload. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carillon/cfg.h"
#include "testutil.h"

struct conf {
    char *name;
    char *conninfo;
    int64_t port;
    bool json;
    int64_t max_frame;
    int64_t timeout_ms;
    int level;
    char *even; /* validated: even length */
};

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

static int even_length(const void *value, char *err, size_t errlen)
{
    const char *s = *(char *const *)value;
    if (strlen(s) % 2) {
        snprintf(err, errlen, "needs an even number of characters");
        return -EINVAL;
    }
    return 0;
}

static const struct cr_cfg_key keys[] = {
    {"main", "name", CR_CFG_STRING, NULL, false, offsetof(struct conf, name), 0, 0, NULL, NULL,
     "required"},
    {"main", "conninfo", CR_CFG_STRING, "host=x", false, offsetof(struct conf, conninfo), 0, 0,
     NULL, NULL, ""},
    {"main", "port", CR_CFG_INT, "4433", false, offsetof(struct conf, port), 1, 65535, NULL, NULL,
     ""},
    {"log", "json", CR_CFG_BOOL, "false", true, offsetof(struct conf, json), 0, 0, NULL, NULL, ""},
    {"main", "max_frame", CR_CFG_SIZE, "1M", true, offsetof(struct conf, max_frame), 1024, 1 << 30,
     NULL, NULL, ""},
    {"main", "timeout", CR_CFG_DURATION, "5s", true, offsetof(struct conf, timeout_ms), 0, 0, NULL,
     NULL, ""},
    {"log", "level", CR_CFG_ENUM, "info", true, offsetof(struct conf, level), 0, 0, levels, NULL,
     ""},
    {"main", "even", CR_CFG_STRING, "", true, offsetof(struct conf, even), 0, 0, NULL, even_length,
     ""},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static char *dir;

static const char *write_file(const char *name, const char *text)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int setup(void **state)
{
    (void)state;
    dir = tu_mkdtemp();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(dir);
    free(dir);
    return 0;
}

static void test_good_file(void **state)
{
    (void)state;
    const char *p = write_file("good.conf", "; a comment\n"
                                            "[main]\n"
                                            "name = Zoé Château\n"
                                            "conninfo = \"host=127.0.0.1 port=5432 dbname=x\"\n"
                                            "port = 65535\n"
                                            "max_frame = 64K\n"
                                            "timeout = 250ms\n"
                                            "even = ab\n"
                                            "[log]\n"
                                            "json = yes\n"
                                            "level = WARN\n");
    struct conf c = {0};
    char err[512];
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), 0);
    assert_string_equal(c.name, "Zoé Château");
    assert_string_equal(c.conninfo, "host=127.0.0.1 port=5432 dbname=x");
    assert_int_equal(c.port, 65535);
    assert_int_equal(c.max_frame, 64 * 1024);
    assert_int_equal(c.timeout_ms, 250);
    assert_true(c.json);
    assert_int_equal(c.level, 2);
    cr_cfg_free(keys, NKEYS, &c);

    /* Defaults apply to keys the file leaves out; other spellings of sizes and durations. */
    p = write_file("min.conf", "[main]\nname=x\nmax_frame = 8MiB\ntimeout = 2m\n[log]\njson=off\n");
    memset(&c, 0, sizeof c);
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), 0);
    assert_string_equal(c.conninfo, "host=x");
    assert_int_equal(c.port, 4433);
    assert_int_equal(c.max_frame, 8 << 20);
    assert_int_equal(c.timeout_ms, 120000);
    assert_false(c.json);
    assert_int_equal(c.level, 1);
    cr_cfg_free(keys, NKEYS, &c);
}

/* Loads text and expects failure with every fragment in the message. */
static void expect_error(const char *text, const char *frag1, const char *frag2)
{
    const char *p = write_file("bad.conf", text);
    struct conf c = {0};
    char err[512] = "";
    assert_int_not_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), 0);
    if (!strstr(err, frag1) || (frag2 && !strstr(err, frag2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err, frag1, frag2 ? frag2 : "");
    /* Nothing left allocated (ASan checks), nothing half-loaded. */
    assert_null(c.name);
    assert_null(c.conninfo);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("[main]\nname=x\nnmae = y\n", "bad.conf:3: [main] nmae: unknown key", NULL);
    expect_error("[main]\nname=x\n[mian]\nport=1\n", "bad.conf:4: [mian] port: unknown section",
                 NULL);
    expect_error("[main]\nname=x\nport = abc\n", "bad.conf:3: [main] port:", "expected an integer");
    expect_error("[main]\nname=x\nport = 70000\n",
                 "bad.conf:3: [main] port:", "between 1 and 65535");
    expect_error("[main]\nname=x\nmax_frame = 12Q\n",
                 "bad.conf:3: [main] max_frame:", "expected a size");
    expect_error("[main]\nname=x\ntimeout = soon\n",
                 "bad.conf:3: [main] timeout:", "expected a duration");
    expect_error("[main]\nname=x\n[log]\nlevel = loud\n",
                 "bad.conf:4: [log] level:", "expected one of: debug, info, warn, error");
    expect_error("[main]\nname=x\n[log]\njson = maybe\n",
                 "bad.conf:4: [log] json:", "expected true or false");
    expect_error("[main]\nname=x\nport=1\nport=2\n", "bad.conf:4: [main] port: set twice",
                 "line 3");
    expect_error("[main]\nport=1\n", "[main] name: required key missing", NULL);
    expect_error("[main]\nname=x\neven = abc\n", "bad.conf:3: [main] even:", "even number");
    expect_error("[main]\nname=x\nthis line has no equals sign\n", "bad.conf:3:", "syntax error");

    char err[512];
    struct conf c = {0};
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.conf", dir);
    assert_int_equal(cr_cfg_load(keys, NKEYS, missing, &c, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "nope.conf"));
}

static void test_reload(void **state)
{
    (void)state;
    const char *p = write_file("live.conf", "[main]\nname = a\nport = 10\ntimeout = 1s\n");
    struct conf live = {0};
    char err[512], warn[512];
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &live, err, sizeof err), 0);

    /* Reloadable keys change; a non-reloadable change is reported and kept at its old value. */
    write_file("live.conf", "[main]\nname = b\nport = 10\ntimeout = 3s\n[log]\nlevel=debug\n");
    assert_int_equal(cr_cfg_reload(keys, NKEYS, p, &live, err, sizeof err, warn, sizeof warn), 0);
    assert_int_equal(live.timeout_ms, 3000);
    assert_int_equal(live.level, 0);
    assert_string_equal(live.name, "a");
    assert_non_null(strstr(warn, "[main] name"));

    /* A bad file changes nothing at all. */
    struct conf before = live;
    write_file("live.conf", "[main]\nname = a\ntimeout = 9s\nport = zero\n");
    assert_int_not_equal(cr_cfg_reload(keys, NKEYS, p, &live, err, sizeof err, warn, sizeof warn),
                         0);
    assert_non_null(strstr(err, "[main] port"));
    assert_memory_equal(&before, &live, sizeof live);
    assert_int_equal(live.timeout_ms, 3000);
    cr_cfg_free(keys, NKEYS, &live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
