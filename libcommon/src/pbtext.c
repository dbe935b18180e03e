/* Protobuf enum values as lowercase words (see pbtext.h). */
#include "carillon/pbtext.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Length of the prefix shared by the enum's names: value 0's name minus "UNSPECIFIED". */
static size_t prefix_len(const ProtobufCEnumDescriptor *d)
{
    const ProtobufCEnumValue *zero = protobuf_c_enum_descriptor_get_value(d, 0);
    if (!zero)
        return 0;
    const char *u = strstr(zero->name, "UNSPECIFIED");
    return u ? (size_t)(u - zero->name) : 0;
}

const char *cr_pb_enum_word(const ProtobufCEnumDescriptor *d, int value, char *buf, size_t len)
{
    buf[0] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    if (!v || value == 0)
        return buf;
    const char *s = v->name + prefix_len(d);
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)s[i]);
    buf[i] = '\0';
    return buf;
}

int cr_pb_enum_parse(const ProtobufCEnumDescriptor *d, const char *word, int *out)
{
    size_t p = prefix_len(d);
    for (unsigned i = 0; i < d->n_values; i++) {
        const ProtobufCEnumValue *v = &d->values[i];
        if (v->value == 0)
            continue;
        if (strcasecmp(v->name + p, word) == 0) {
            *out = v->value;
            return 0;
        }
    }
    return -EINVAL;
}

const char *cr_pb_enum_words(const ProtobufCEnumDescriptor *d, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    char w[64];
    for (unsigned i = 0; i < d->n_values && o < len; i++) {
        if (d->values[i].value == 0)
            continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
                              cr_pb_enum_word(d, d->values[i].value, w, sizeof w));
    }
    return buf;
}
