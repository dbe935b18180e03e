/* Fuzz target: arbitrary bytes as carillon-server's configuration file through the INI loader
 * (libinih, quoted values, sizes, durations, enums, the listen address's validator). A file
 * that loads must reload onto itself with nothing to warn about. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server.h"
#include "carillon/cfg.h"
#include "memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[32];
    int fd = fuzz_memfile(data, size, path);
    struct server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[1024], warn[1024];
    int rc = cr_cfg_load(server_config_keys, server_config_nkeys, path, &cfg, err, sizeof err);
    if (rc == 0) {
        if (cr_cfg_reload(server_config_keys, server_config_nkeys, path, &cfg, err, sizeof err,
                          warn, sizeof warn) != 0 ||
            warn[0])
            abort();
        cr_cfg_free(server_config_keys, server_config_nkeys, &cfg);
    } else if (!err[0]) {
        abort(); /* a refused file always says why */
    }
    close(fd);
    return 0;
}
