/* Configuration files: every value type, each kind of error with its exact message naming file,
 * line and key, the limits (string length, line length, file size), the all-or-nothing reload
 * and the example file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carillon/cfg.h"
#include "testutil.h"

struct conf {
    char *node; /* before any section */
    char *name;
    char *conninfo;
    int64_t port;
    bool json;
    int64_t max_frame;
    int64_t buffer; /* a size without bounds */
    int64_t timeout_ms;
    int64_t linger_ms; /* a duration with bounds */
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

#define F(field) offsetof(struct conf, field)
static const struct cr_cfg_key keys[] = {
    {"", "node", CR_CFG_STRING, "n1", false, F(node), 0, 0, NULL, NULL, "node name"},
    {"main", "name", CR_CFG_STRING, NULL, false, F(name), 0, 0, NULL, NULL, "required"},
    {"main", "conninfo", CR_CFG_STRING, "host=x", false, F(conninfo), 0, 0, NULL, NULL, ""},
    {"main", "port", CR_CFG_INT, "4433", false, F(port), 1, 65535, NULL, NULL, ""},
    {"log", "json", CR_CFG_BOOL, "false", true, F(json), 0, 0, NULL, NULL, ""},
    {"main", "max_frame", CR_CFG_SIZE, "1M", true, F(max_frame), 1024, 1 << 30, NULL, NULL, ""},
    {"main", "buffer", CR_CFG_SIZE, "0", true, F(buffer), 0, 0, NULL, NULL, ""},
    {"main", "timeout", CR_CFG_DURATION, "5s", true, F(timeout_ms), 0, 0, NULL, NULL, ""},
    {"main", "linger", CR_CFG_DURATION, "1s", true, F(linger_ms), 1000, 3600000, NULL, NULL, ""},
    {"log", "level", CR_CFG_ENUM, "info", true, F(level), 0, 0, levels, NULL, ""},
    {"main", "even", CR_CFG_STRING, "", true, F(even), 0, 0, NULL, even_length, ""},
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

static void assert_all_null(const struct conf *c)
{
    assert_null(c->node);
    assert_null(c->name);
    assert_null(c->conninfo);
    assert_null(c->even);
}

static void test_good_file(void **state)
{
    (void)state;
    const char *p =
        write_file("good.conf", "\xef\xbb\xbf; a comment, after a UTF-8 byte order mark\n"
                                "node = edge-2\n"
                                "[main]\n"
                                "name = Zoé Château ; inline comment\n"
                                "conninfo = \"host=127.0.0.1 password='a ;b' dbname=x\" ; quoted\n"
                                "port = 65535\n"
                                "max_frame = 64K\n"
                                "buffer = 8M\n"
                                "timeout = 250ms\n"
                                "linger = 2m\n"
                                "even = \" a\"\n"
                                "[log]\n"
                                "json = yes\n"
                                "level = WARN\n");
    struct conf c = {0};
    char err[512] = "";
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(c.node, "edge-2");
    assert_string_equal(c.name, "Zoé Château");
    assert_string_equal(c.conninfo, "host=127.0.0.1 password='a ;b' dbname=x");
    assert_int_equal(c.port, 65535);
    assert_int_equal(c.max_frame, 64 * 1024);
    assert_int_equal(c.buffer, 8 << 20);
    assert_int_equal(c.timeout_ms, 250);
    assert_int_equal(c.linger_ms, 120000);
    assert_string_equal(c.even, " a");
    assert_true(c.json);
    assert_int_equal(c.level, 2);
    cr_cfg_free(keys, NKEYS, &c);
    assert_all_null(&c);

    /* Defaults apply to keys the file leaves out; other spellings; the lower int bound. */
    p = write_file("min.conf", "[main]\nname=\"x\"\nport=1\nmax_frame = 8MiB\nbuffer=1G\n"
                               "timeout = 5s\nlinger=1h\n[log]\njson=off\n");
    memset(&c, 0, sizeof c);
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), 0);
    assert_string_equal(c.node, "n1");
    assert_string_equal(c.name, "x");
    assert_string_equal(c.conninfo, "host=x");
    assert_int_equal(c.port, 1);
    assert_int_equal(c.max_frame, 8 << 20);
    assert_int_equal(c.buffer, 1 << 30);
    assert_int_equal(c.timeout_ms, 5000);
    assert_int_equal(c.linger_ms, 3600000);
    assert_string_equal(c.even, "");
    assert_false(c.json);
    assert_int_equal(c.level, 1);
    cr_cfg_free(keys, NKEYS, &c);

    /* Every bool spelling. */
    static const struct {
        const char *text;
        bool value;
    } bools[] = {{"true", true},   {"TRUE", true}, {"yes", true},  {"on", true}, {"1", true},
                 {"false", false}, {"No", false},  {"off", false}, {"0", false}, {"\"yes\"", true}};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[main]\nname=x\n[log]\njson = %s\n", bools[i].text);
        p = write_file("bool.conf", text);
        memset(&c, 0, sizeof c);
        c.json = !bools[i].value;
        assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), 0);
        assert_int_equal(c.json, bools[i].value);
        cr_cfg_free(keys, NKEYS, &c);
    }

    /* A string of exactly the maximum length (4096 bytes), far beyond libinih's line buffer. */
    char *text = malloc(9000);
    char *big = malloc(4097);
    memset(big, 'z', 4096);
    big[4095] = 'a';
    big[4096] = '\0';
    snprintf(text, 9000, "[main]\nname = %s\nconninfo = \"%s\"\n", big, big);
    p = write_file("big.conf", text);
    memset(&c, 0, sizeof c);
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), 0);
    assert_string_equal(c.name, big);
    assert_string_equal(c.conninfo, big);
    cr_cfg_free(keys, NKEYS, &c);
    free(big);
    free(text);
}

/* Loads text and expects rc with exactly "PATH" + suffix as the message. */
static void expect_error_rc(const char *text, int rc, const char *suffix)
{
    const char *p = write_file("bad.conf", text);
    struct conf c = {0};
    char err[1024] = "", want[1024];
    snprintf(want, sizeof want, "%s%s", p, suffix);
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), rc);
    assert_string_equal(err, want);
    /* Nothing left allocated (ASan checks), nothing half-loaded. */
    assert_all_null(&c);
}

static void expect_error(const char *text, const char *suffix)
{
    expect_error_rc(text, -EINVAL, suffix);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("[main]\nname=x\nnmae = y\n", ":3: [main] nmae: unknown key");
    expect_error("nmae = y\n[main]\nname=x\n", ":1: nmae: unknown key");
    expect_error("[main]\nname=x\n[mian]\nport=1\n",
                 ":4: [mian] port: unknown key (there is no section [mian])");
    expect_error("[main]\nname=x\nport = abc\n",
                 ":3: [main] port: expected an integer between 1 and 65535, got 'abc'");
    expect_error("[main]\nname=x\nport = 70000\n",
                 ":3: [main] port: expected an integer between 1 and 65535, got '70000'");
    expect_error("[main]\nname=x\nport = 0\n",
                 ":3: [main] port: expected an integer between 1 and 65535, got '0'");
    expect_error("[main]\nname=x\nport = 99999999999999999999\n",
                 ":3: [main] port: expected an integer between 1 and 65535, got "
                 "'99999999999999999999'");
    expect_error("[main]\nname=x\nport = 12.5\n",
                 ":3: [main] port: expected an integer between 1 and 65535, got '12.5'");
    expect_error("[main]\nname=x\nmax_frame = 12Q\n",
                 ":3: [main] max_frame: expected a size like 64K or 8M (1K to 1G), got '12Q'");
    expect_error("[main]\nname=x\nmax_frame = 2G\n",
                 ":3: [main] max_frame: expected a size between 1K and 1G, got '2G'");
    expect_error("[main]\nname=x\nbuffer = -1\n",
                 ":3: [main] buffer: expected a size like 64K or 8M, got '-1'");
    expect_error("[main]\nname=x\nbuffer = 9999999999G\n",
                 ":3: [main] buffer: value too large, got '9999999999G'");
    expect_error("[main]\nname=x\ntimeout = soon\n",
                 ":3: [main] timeout: expected a duration like 250ms, 5s, 2m or 1h, got 'soon'");
    expect_error("[main]\nname=x\ntimeout = 5S\n",
                 ":3: [main] timeout: expected a duration like 250ms, 5s, 2m or 1h, got '5S'");
    expect_error("[main]\nname=x\ntimeout = 999999999999999999h\n",
                 ":3: [main] timeout: value too large, got '999999999999999999h'");
    expect_error("[main]\nname=x\nlinger = 500ms\n",
                 ":3: [main] linger: expected a duration between 1s and 1h, got '500ms'");
    expect_error("[main]\nname=x\nlinger = later\n",
                 ":3: [main] linger: expected a duration like 250ms, 5s, 2m or 1h (1s to 1h), "
                 "got 'later'");
    expect_error("[main]\nname=x\n[log]\nlevel = loud\n",
                 ":4: [log] level: expected one of: debug, info, warn, error; got 'loud'");
    expect_error("[main]\nname=x\n[log]\njson = maybe\n",
                 ":4: [log] json: expected true or false (yes/no, on/off, 1/0), got 'maybe'");
    expect_error("[main]\nname=x\nport=1\n\nport=2\n",
                 ":5: [main] port: set twice (first on line 3)");
    expect_error("[main]\nport=1\n", ": [main] name: required key missing");
    expect_error("[main]\nname=x\neven = abc\n",
                 ":3: [main] even: needs an even number of characters");
    expect_error("[main]\nname=x\nthis line has no equals sign\n",
                 ":3: syntax error (expected 'key = value' or '[section]')");
    expect_error("[main]\nname=x\nconninfo = \"host=x ;y\n",
                 ":3: [main] conninfo: unterminated double quote (a value in quotes must end "
                 "with '\"')");

    /* Limits: a string over 4096 bytes, a line over 5120, a file over 1 MiB, a NUL byte. */
    char *text = malloc(8000);
    int n = snprintf(text, 8000, "[main]\nname = ");
    memset(text + n, 'z', 4097);
    snprintf(text + n + 4097, 100, "\n");
    expect_error(text, ":2: [main] name: value longer than 4096 bytes (4097)");
    memset(text + n, 'z', 5200);
    snprintf(text + n + 5200, 100, "\n");
    expect_error(text, ":2: line longer than 5120 bytes");
    free(text);

    size_t huge = (1 << 20) + 10 - (1 << 20) % 10; /* whole 10-byte lines */
    text = malloc(huge + 1);
    for (size_t i = 0; i < huge; i += 10)
        memcpy(text + i, ";........\n", 10);
    text[huge] = '\0';
    expect_error_rc(text, -EFBIG, ": file larger than 1048576 bytes");
    free(text);

    const char *p = write_file("nul.conf", "");
    FILE *f = fopen(p, "w");
    fwrite("[main]\nname=a\0b\n", 1, 16, f);
    fclose(f);
    struct conf c = {0};
    char err[512], want[800];
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &c, err, sizeof err), -EINVAL);
    snprintf(want, sizeof want, "%s:2: NUL byte in the file", p);
    assert_string_equal(err, want);
    assert_all_null(&c);

    /* A file that does not exist, a directory. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.conf", dir);
    assert_int_equal(cr_cfg_load(keys, NKEYS, missing, &c, err, sizeof err), -ENOENT);
    snprintf(want, sizeof want, "%s: cannot open: %s", missing, strerror(ENOENT));
    assert_string_equal(err, want);
    assert_all_null(&c);
    assert_int_equal(cr_cfg_load(keys, NKEYS, dir, &c, err, sizeof err), -EISDIR);
    assert_non_null(strstr(err, "is a directory"));
    assert_all_null(&c);
}

/* A bad built-in default is the programmer's error, named as such, whatever the file holds. */
static void test_bad_default(void **state)
{
    (void)state;
    static const struct cr_cfg_key bad[] = {
        {"main", "name", CR_CFG_STRING, "ok", false, F(name), 0, 0, NULL, NULL, ""},
        {"main", "port", CR_CFG_INT, "http", false, F(port), 1, 65535, NULL, NULL, ""},
    };
    const char *p = write_file("fine.conf", "[main]\nport = 80\n");
    struct conf c = {0};
    char err[512];
    assert_int_equal(cr_cfg_load(bad, 2, p, &c, err, sizeof err), -EINVAL);
    assert_string_equal(
        err,
        "built-in default of [main] port: expected an integer between 1 and 65535, got 'http'");
    assert_null(c.name);
}

static void test_reload(void **state)
{
    (void)state;
    const char *p = write_file("live.conf", "[main]\nname = a\nport = 10\ntimeout = 1s\n");
    struct conf live = {0};
    char err[512], warn[512];
    assert_int_equal(cr_cfg_load(keys, NKEYS, p, &live, err, sizeof err), 0);

    /* Nothing changed: nothing to warn about. */
    assert_int_equal(cr_cfg_reload(keys, NKEYS, p, &live, err, sizeof err, warn, sizeof warn), 0);
    assert_string_equal(warn, "");

    /* Reloadable keys change; non-reloadable changes are reported and keep their old value. */
    write_file("live.conf", "node = n2\n[main]\nname = b\nport = 11\ntimeout = 3s\neven = xy\n"
                            "[log]\nlevel=debug\n");
    assert_int_equal(cr_cfg_reload(keys, NKEYS, p, &live, err, sizeof err, warn, sizeof warn), 0);
    assert_string_equal(err, "");
    assert_string_equal(warn, "node, [main] name, [main] port");
    assert_int_equal(live.timeout_ms, 3000);
    assert_int_equal(live.level, 0);
    assert_string_equal(live.even, "xy");
    assert_string_equal(live.node, "n1");
    assert_string_equal(live.name, "a");
    assert_int_equal(live.port, 10);

    /* A bad file changes nothing at all, not even the keys before the bad line. */
    struct conf before = live;
    write_file("live.conf", "[main]\nname = a\ntimeout = 9s\neven = zz\nport = zero\n");
    assert_int_equal(cr_cfg_reload(keys, NKEYS, p, &live, err, sizeof err, warn, sizeof warn),
                     -EINVAL);
    char want[600];
    snprintf(want, sizeof want,
             "%s:5: [main] port: expected an integer between 1 and 65535, got 'zero'", p);
    assert_string_equal(err, want);
    assert_memory_equal(&before, &live, sizeof live);
    assert_int_equal(live.timeout_ms, 3000);
    assert_string_equal(live.even, "xy");

    /* A file gone since the start: the error names it, live is untouched. */
    char gone[600];
    snprintf(gone, sizeof gone, "%s/gone.conf", dir);
    assert_int_equal(cr_cfg_reload(keys, NKEYS, gone, &live, err, sizeof err, warn, sizeof warn),
                     -ENOENT);
    assert_non_null(strstr(err, gone));
    assert_memory_equal(&before, &live, sizeof live);
    cr_cfg_free(keys, NKEYS, &live);
}

static char *example_of(const struct cr_cfg_key *k, size_t n, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    cr_cfg_write_example(k, n, fd);
    close(fd);
    return strdup(path);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The example documents every key, and loads back to the defaults. */
static void test_example(void **state)
{
    (void)state;
    char *path = example_of(keys, NKEYS, "example.conf");
    char *text = slurp(path);
    assert_non_null(strstr(text, "; required\n; (text; required; restart needed to change)\n"
                                 ";name =\n"));
    assert_non_null(strstr(text, "; (integer, 1 to 65535; optional; restart needed to change)\n"
                                 "port = 4433\n"));
    assert_non_null(strstr(text, "; (size like 64K or 8M, 1K to 1G; optional; reloads on "
                                 "SIGHUP)\nmax_frame = 1M\n"));
    assert_non_null(strstr(text, "; (duration like 250ms, 5s, 2m or 1h, 1s to 1h; optional; "
                                 "reloads on SIGHUP)\nlinger = 1s\n"));
    assert_non_null(strstr(text, "; (one of: debug, info, warn, error; optional; reloads on "
                                 "SIGHUP)\nlevel = info\n"));
    assert_non_null(strstr(text, "; node name\n"));
    assert_null(strstr(text, "[]"));
    free(text);

    /* As written, the required key is missing; once set, everything else is the default. */
    struct conf c = {0};
    char err[512], want[700];
    assert_int_equal(cr_cfg_load(keys, NKEYS, path, &c, err, sizeof err), -EINVAL);
    snprintf(want, sizeof want, "%s: [main] name: required key missing", path);
    assert_string_equal(err, want);
    free(path);

    static const struct cr_cfg_key opt[] = {
        {"", "node", CR_CFG_STRING, " spaced ; semi ", false, F(node), 0, 0, NULL, NULL, "x"},
        {"main", "conninfo", CR_CFG_STRING, "host=x", false, F(conninfo), 0, 0, NULL, NULL, ""},
        {"main", "timeout", CR_CFG_DURATION, "90s", true, F(timeout_ms), 0, 0, NULL, NULL, ""},
        {"log", "level", CR_CFG_ENUM, "warn", true, F(level), 0, 0, levels, NULL, ""},
        {"main", "even", CR_CFG_STRING, "", true, F(even), 0, 0, NULL, even_length, ""},
    };
    path = example_of(opt, 5, "opt.conf");
    memset(&c, 0, sizeof c);
    assert_int_equal(cr_cfg_load(opt, 5, path, &c, err, sizeof err), 0);
    assert_string_equal(c.node, " spaced ; semi ");
    assert_string_equal(c.conninfo, "host=x");
    assert_int_equal(c.timeout_ms, 90000);
    assert_int_equal(c.level, 2);
    assert_string_equal(c.even, "");
    cr_cfg_free(opt, 5, &c);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_default), cmocka_unit_test(test_reload),
        cmocka_unit_test(test_example),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
