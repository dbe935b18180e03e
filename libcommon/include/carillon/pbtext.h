/* Protobuf enums as the lowercase words people and SQL use: CALL_ORDER_AGENT_FIRST <->
 * "agent_first" (the prefix is the one of the enum's value 0, "..._UNSPECIFIED"). */
#ifndef CARILLON_PBTEXT_H
#define CARILLON_PBTEXT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Writes the word for value into buf; "" for value 0 or an unknown value. Returns buf. */
const char *cr_pb_enum_word(const ProtobufCEnumDescriptor *d, int value, char *buf, size_t len);
/* Parses a word (case-insensitive); 0 and *out set, or -EINVAL. "unspecified" is refused. */
int cr_pb_enum_parse(const ProtobufCEnumDescriptor *d, const char *word, int *out)
    __attribute__((warn_unused_result));
/* The accepted words, ", "-separated, into buf (for error messages). Returns buf. */
const char *cr_pb_enum_words(const ProtobufCEnumDescriptor *d, char *buf, size_t len);

#endif
