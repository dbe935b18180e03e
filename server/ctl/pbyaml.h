/* Protobuf messages to and from YAML (libyaml) and JSON, driven by protobuf-c's descriptors,
 * so every field of a message round-trips without code of its own. Field names are the YAML
 * keys; enums are lowercase words; every field is written, defaults included. */
#ifndef CARILLON_PBYAML_H
#define CARILLON_PBYAML_H

#include <stdbool.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>

#define PBYAML_FILE_MAX (4 << 20)

/* Where each field path of the parsed file was ("schedule[2].end" -> line 31). */
struct pbyaml_lines {
    char (*paths)[128];
    int *lines;
    int n, cap;
};

/* Parses the YAML file into a new message of type d. On error returns NULL with err holding
 * "FILE:LINE: FIELD: reason". Free the message with protobuf_c_message_free_unpacked(m, NULL)
 * and lines with pbyaml_lines_free. */
ProtobufCMessage *pbyaml_read(const char *path, const ProtobufCMessageDescriptor *d,
                              struct pbyaml_lines *lines, char *err, size_t errlen);
void pbyaml_lines_free(struct pbyaml_lines *l);
/* The line of a field path, or of its closest parent; 0 when unknown. */
int pbyaml_line_of(const struct pbyaml_lines *l, const char *path);

/* Writes m as a YAML document / a JSON object (one line) to f. Returns 0 or -EIO. */
int pbyaml_write(FILE *f, const ProtobufCMessage *m);
void pbjson_write(FILE *f, const ProtobufCMessage *m);
/* The same without the newline, to embed in a larger object. */
void pbjson_inline(FILE *f, const ProtobufCMessage *m);
void pbjson_string(FILE *f, const char *s);

/* Sets one scalar field by its path ("dialing.max_simultaneous_calls", "objective"), creating
 * absent sub-messages. Lists are not set this way. Returns 0 or -EINVAL with err filled. */
int pbyaml_set(ProtobufCMessage *m, const char *path, const char *value, char *err, size_t errlen);

/* JSON times in UTC (--utc) rather than the local zone. */
extern bool pbjson_utc;

#endif
