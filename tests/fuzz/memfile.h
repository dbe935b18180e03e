/* For fuzz targets whose code under test opens a path: the input as an in-memory file
 * (memfd, named /proc/self/fd/N), so no temporary file touches the disk. */
#ifndef CARILLON_FUZZ_MEMFILE_H
#define CARILLON_FUZZ_MEMFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data to a new memfd and its path to path; returns the fd (the caller closes it). */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char path[32])
{
    int fd = memfd_create("fuzz-input", 0);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) {
            perror("write");
            abort();
        }
        off += (size_t)n;
    }
    snprintf(path, 32, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
