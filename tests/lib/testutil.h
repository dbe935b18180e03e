/* Helpers shared by the cmocka unit tests: paths, temp dirs, running a helper script, and
 * running a libuv loop until a condition holds (tests wait on conditions, not sleeps). */
#ifndef CARILLON_TESTUTIL_H
#define CARILLON_TESTUTIL_H

#include <stdbool.h>
#include <uv.h>

/* $CARILLON_SOURCE_DIR (or "." when unset). */
const char *tu_source_dir(void);
/* Makes a fresh temporary directory; returns a malloc'd path. */
char *tu_mkdtemp(void);
/* Removes a directory tree (rm -rf). */
void tu_rmrf(const char *path);
/* cmocka group fixtures: a fresh temporary directory, tu_group_dir, for the group's tests. */
extern char *tu_group_dir;
int tu_group_dir_setup(void **state);
int tu_group_dir_teardown(void **state);
/* Runs a shell command line; returns its exit status (-1 on spawn failure). When out is not
 * NULL, up to outlen-1 bytes of its stdout are stored there, NUL-terminated. */
int tu_sh(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Runs loop (UV_RUN_ONCE steps) until *flag becomes true or timeout_ms passes; returns *flag. */
bool tu_run_until(uv_loop_t *loop, const volatile bool *flag, unsigned timeout_ms);
/* A free TCP port on 127.0.0.1 (bound then released). */
int tu_free_port(void);
/* Starts an ephemeral PostgreSQL under dir (tests/lib/pg.sh) and writes a libpq connection
 * string for it into conninfo; 0 or -1. tu_pg_cluster_stop stops it (dir is left in place). */
int tu_pg_cluster_start(const char *dir, char *conninfo, size_t len);
void tu_pg_cluster_stop(const char *dir);

#endif
