/* systemd readiness notification: the datagram reaches $NOTIFY_SOCKET; unset means no-op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "carillon/notify.h"

static void test_ready_datagram(void **state)
{
    (void)state;
    char path[] = "/tmp/carillon-notify-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);

    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(cr_notify("READY=1"), 0);
    char buf[64] = {0};
    assert_int_equal(recv(fd, buf, sizeof buf - 1, 0), 7);
    assert_string_equal(buf, "READY=1");

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_true(cr_notify("READY=1") < 0);
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(cr_notify("READY=1"), 0);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ready_datagram)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
