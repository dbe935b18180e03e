/* Protobuf <-> YAML/JSON through protobuf-c descriptors (see pbyaml.h). libyaml parses the
 * file into a document (nodes carry their line); the walk fills the message field by field. */
#include "pbyaml.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "carillon/pbtext.h"
#include "ctlutil.h"

struct reader {
    const char *path;
    yaml_document_t doc;
    struct pbyaml_lines *lines;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(struct reader *r, const yaml_node_t *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct reader *r, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s:%zu: %s%s%s", r->path, n ? n->start_mark.line + 1 : 0,
             field && *field ? field : "", field && *field ? ": " : "", msg);
}

static void note_line(struct reader *r, const char *path, const yaml_node_t *n)
{
    struct pbyaml_lines *l = r->lines;
    if (!l)
        return;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char(*np)[128] = realloc(l->paths, (size_t)cap * sizeof *np);
        int *nl = realloc(l->lines, (size_t)cap * sizeof *nl);
        if (!np || !nl) {
            free(np ? np : l->paths);
            free(nl ? nl : l->lines);
            l->paths = NULL;
            l->lines = NULL;
            l->n = l->cap = 0;
            return;
        }
        l->paths = np;
        l->lines = nl;
        l->cap = cap;
    }
    snprintf(l->paths[l->n], 128, "%s", path);
    l->lines[l->n] = (int)n->start_mark.line + 1;
    l->n++;
}

void pbyaml_lines_free(struct pbyaml_lines *l)
{
    free(l->paths);
    free(l->lines);
    memset(l, 0, sizeof *l);
}

int pbyaml_line_of(const struct pbyaml_lines *l, const char *path)
{
    char p[128];
    snprintf(p, sizeof p, "%s", path);
    while (p[0]) {
        for (int i = 0; i < l->n; i++)
            if (strcmp(l->paths[i], p) == 0)
                return l->lines[i];
        char *cut = strrchr(p, '.');
        char *br = strrchr(p, '[');
        if (br && (!cut || br > cut))
            *br = '\0';
        else if (cut)
            *cut = '\0';
        else
            break;
    }
    return 0;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static void read_message(struct reader *r, yaml_node_t *n, ProtobufCMessage *m, const char *path);

/* Parses one scalar of field f into the storage at dst (a single value, not the array). */
static void read_value(struct reader *r, yaml_node_t *n, const ProtobufCFieldDescriptor *f,
                       void *dst, const char *path)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (n->type != YAML_MAPPING_NODE) {
            fail(r, n, path, "expected a mapping of fields");
            return;
        }
        const ProtobufCMessageDescriptor *d = f->descriptor;
        ProtobufCMessage *sub = calloc(1, d->sizeof_message);
        if (!sub) {
            fail(r, n, path, "out of memory");
            return;
        }
        d->message_init(sub);
        *(ProtobufCMessage **)dst = sub;
        read_message(r, n, sub, path);
        return;
    }
    if (n->type != YAML_SCALAR_NODE) {
        fail(r, n, path, "expected a single value");
        return;
    }
    const char *s = scalar(n);
    char *end = NULL;
    errno = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char *copy = strdup(s);
        if (!copy)
            fail(r, n, path, "out of memory");
        *(char **)dst = copy;
        return;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
            *(protobuf_c_boolean *)dst = 1;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !s[0])
            *(protobuf_c_boolean *)dst = 0;
        else
            fail(r, n, path, "expected true or false, got '%s'", s);
        return;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = 0;
        if (s[0] && cr_pb_enum_parse(f->descriptor, s, &v) != 0) {
            char words[512];
            fail(r, n, path, "expected one of: %s; got '%s'",
                 cr_pb_enum_words(f->descriptor, words, sizeof words), s);
            return;
        }
        *(int *)dst = v;
        return;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_FLOAT: {
        double v = strtod(s, &end);
        if (!s[0] || *end || errno || !isfinite(v)) {
            fail(r, n, path, "expected a number, got '%s'", s);
            return;
        }
        if (f->type == PROTOBUF_C_TYPE_DOUBLE)
            *(double *)dst = v;
        else
            *(float *)dst = (float)v;
        return;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_UINT64: {
        if (s[0] == '-') {
            fail(r, n, path, "expected a whole number >= 0, got '%s'", s);
            return;
        }
        unsigned long long v = strtoull(s, &end, 10);
        if (!s[0] || *end || errno || (f->type == PROTOBUF_C_TYPE_UINT32 && v > UINT32_MAX)) {
            fail(r, n, path, "expected a whole number >= 0, got '%s'", s);
            return;
        }
        if (f->type == PROTOBUF_C_TYPE_UINT32)
            *(uint32_t *)dst = (uint32_t)v;
        else
            *(uint64_t *)dst = v;
        return;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_INT64: {
        long long v = strtoll(s, &end, 10);
        if (!s[0] || *end || errno ||
            (f->type == PROTOBUF_C_TYPE_INT32 && (v < INT32_MIN || v > INT32_MAX))) {
            fail(r, n, path, "expected a whole number, got '%s'", s);
            return;
        }
        if (f->type == PROTOBUF_C_TYPE_INT32)
            *(int32_t *)dst = (int32_t)v;
        else
            *(int64_t *)dst = v;
        return;
    }
    default:
        fail(r, n, path, "this field type is not supported in YAML");
    }
}

/* A field in a oneof (campaign settings use one-field oneofs for presence: absent means the
 * server's default) is present when its oneof's case is its number. NULL for other fields. */
static uint32_t *oneof_case(const ProtobufCFieldDescriptor *f, const void *message)
{
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return NULL;
    return (uint32_t *)((char *)message + f->quantifier_offset);
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_INT64:
        return 8;
    default:
        return 4;
    }
}

static void read_message(struct reader *r, yaml_node_t *n, ProtobufCMessage *m, const char *path)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top && !r->failed; p++) {
        yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        if (k->type != YAML_SCALAR_NODE) {
            fail(r, k, path, "keys must be field names");
            return;
        }
        char fpath[128];
        snprintf(fpath, sizeof fpath, "%s%s%s", path, path[0] ? "." : "", scalar(k));
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, scalar(k));
        if (!f) {
            fail(r, k, fpath, "unknown field (in %s)", path[0] ? path : d->short_name);
            return;
        }
        note_line(r, fpath, v);
        char *base = (char *)m;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void **)(base + f->offset)) {
                fail(r, k, fpath, "set twice");
                return;
            }
            read_value(r, v, f, base + f->offset, fpath);
            uint32_t *which = oneof_case(f, m);
            if (which && *which && *which != f->id) {
                fail(r, k, fpath, "only one of a oneof's fields may be set");
                return;
            }
            if (which)
                *which = f->id;
            continue;
        }
        size_t *count = (size_t *)(base + f->quantifier_offset);
        if (*count) {
            fail(r, k, fpath, "set twice");
            return;
        }
        if (v->type == YAML_SCALAR_NODE && !scalar(v)[0])
            continue; /* "key:" with nothing: an empty list */
        if (v->type != YAML_SEQUENCE_NODE) {
            fail(r, v, fpath, "expected a list");
            return;
        }
        size_t n_items = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (n_items > 10000) {
            fail(r, v, fpath, "more than 10000 entries");
            return;
        }
        void *arr = calloc(n_items ? n_items : 1, value_size(f));
        if (!arr) {
            fail(r, v, fpath, "out of memory");
            return;
        }
        *(void **)(base + f->offset) = arr;
        for (size_t i = 0; i < n_items && !r->failed; i++) {
            yaml_node_t *item = yaml_document_get_node(&r->doc, v->data.sequence.items.start[i]);
            char ipath[160];
            snprintf(ipath, sizeof ipath, "%s[%zu]", fpath, i);
            note_line(r, ipath, item);
            read_value(r, item, f, (char *)arr + i * value_size(f), ipath);
            *count = i + 1;
        }
    }
}

ProtobufCMessage *pbyaml_read(const char *path, const ProtobufCMessageDescriptor *d,
                              struct pbyaml_lines *lines, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > PBYAML_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, PBYAML_FILE_MAX);
        fclose(f);
        return NULL;
    }
    struct reader r = {.path = path, .lines = lines, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &r.doc)) {
        snprintf(err, errlen, "%s:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML syntax error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return NULL;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    yaml_node_t *root = yaml_document_get_root_node(&r.doc);
    ProtobufCMessage *m = NULL;
    if (!root) {
        snprintf(err, errlen, "%s: the file is empty", path);
    } else if (root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "%s:%zu: expected a mapping of %s fields", path,
                 root->start_mark.line + 1, d->short_name);
    } else {
        m = calloc(1, d->sizeof_message);
        if (m) {
            d->message_init(m);
            read_message(&r, root, m, "");
            if (r.failed) {
                protobuf_c_message_free_unpacked(m, NULL);
                m = NULL;
            }
        }
    }
    yaml_document_delete(&r.doc);
    return m;
}

/* --- writing ---------------------------------------------------------------------------- */

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
    return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool quoted)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 quoted ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return emit(e, &ev);
}

/* Text of one value; strings are returned as is (quoted by the caller when needed). */
static const char *value_text(const ProtobufCFieldDescriptor *f, const void *v, char *buf,
                              size_t len)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)v ? *(char *const *)v : "";
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)v ? "true" : "false";
    case PROTOBUF_C_TYPE_ENUM:
        return cr_pb_enum_word(f->descriptor, *(const int *)v, buf, len);
    case PROTOBUF_C_TYPE_DOUBLE:
        snprintf(buf, len, "%.15g", *(const double *)v);
        return buf;
    case PROTOBUF_C_TYPE_FLOAT:
        snprintf(buf, len, "%.7g", (double)*(const float *)v);
        return buf;
    case PROTOBUF_C_TYPE_UINT32:
        snprintf(buf, len, "%" PRIu32, *(const uint32_t *)v);
        return buf;
    case PROTOBUF_C_TYPE_INT32:
        snprintf(buf, len, "%" PRId32, *(const int32_t *)v);
        return buf;
    case PROTOBUF_C_TYPE_UINT64:
        snprintf(buf, len, "%" PRIu64, *(const uint64_t *)v);
        return buf;
    case PROTOBUF_C_TYPE_INT64:
        snprintf(buf, len, "%" PRId64, *(const int64_t *)v);
        return buf;
    default:
        return "";
    }
}

static int emit_message(yaml_emitter_t *e, const ProtobufCMessage *m,
                        const ProtobufCMessageDescriptor *d);

static int emit_value(yaml_emitter_t *e, const ProtobufCFieldDescriptor *f, const void *v)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return emit_message(e, *(ProtobufCMessage *const *)v, f->descriptor);
    char buf[64];
    const char *s = value_text(f, v, buf, sizeof buf);
    /* Strings that YAML would read as something else, or empty, are quoted for readers other
     * than carillonctl; carillonctl itself reads by field type. */
    return emit_scalar(e, s, f->type == PROTOBUF_C_TYPE_STRING || !s[0]);
}

static int emit_message(yaml_emitter_t *e, const ProtobufCMessage *m,
                        const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *tmp = NULL;
    if (!m) { /* absent sub-message: written with its defaults, so files are complete */
        tmp = calloc(1, d->sizeof_message);
        if (!tmp)
            return -ENOMEM;
        d->message_init(tmp);
        m = tmp;
    }
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    int rc = emit(e, &ev);
    const char *base = (const char *)m;
    for (unsigned i = 0; !rc && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const uint32_t *which = oneof_case(f, m);
        if (which && *which != f->id)
            continue; /* absent: the server's default applies */
        rc = emit_scalar(e, f->name, false);
        if (rc)
            break;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            rc = emit_value(e, f, base + f->offset);
            continue;
        }
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        const char *arr = *(char *const *)(base + f->offset);
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                             n == 0 || f->type != PROTOBUF_C_TYPE_MESSAGE
                                                 ? YAML_FLOW_SEQUENCE_STYLE
                                                 : YAML_BLOCK_SEQUENCE_STYLE);
        rc = emit(e, &ev);
        for (size_t k = 0; !rc && k < n; k++)
            rc = emit_value(e, f, arr + k * value_size(f));
        if (!rc) {
            yaml_sequence_end_event_initialize(&ev);
            rc = emit(e, &ev);
        }
    }
    if (!rc) {
        yaml_mapping_end_event_initialize(&ev);
        rc = emit(e, &ev);
    }
    free(tmp);
    return rc;
}

int pbyaml_write(FILE *f, const ProtobufCMessage *m)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    yaml_emitter_initialize(&e);
    yaml_emitter_set_output_file(&e, f);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    int rc = emit(&e, &ev);
    if (!rc) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        rc = emit(&e, &ev);
    }
    if (!rc)
        rc = emit_message(&e, m, m->descriptor);
    if (!rc) {
        yaml_document_end_event_initialize(&ev, 1);
        rc = emit(&e, &ev);
    }
    if (!rc) {
        yaml_stream_end_event_initialize(&ev);
        rc = emit(&e, &ev);
    }
    yaml_emitter_delete(&e);
    return rc;
}

void pbjson_string(FILE *f, const char *s)
{
    ctl_json_string(f, s); /* one escaper for all of carillonctl's JSON */
}

static void json_message(FILE *f, const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d);

/* Times in JSON follow carillonctl's one rule (ctlutil.h): RFC 3339 with the viewer's offset
 * (or Z under --utc). A time field is one named at, *_at or next_try: unix seconds (int64; 0 is
 * null) or a server text time with its offset; "" is null; a text that is no time stays. */
bool pbjson_utc;

static bool is_time_field(const ProtobufCFieldDescriptor *fd)
{
    size_t n = strlen(fd->name);
    return (n > 3 && strcmp(fd->name + n - 3, "_at") == 0) || strcmp(fd->name, "next_try") == 0 ||
           strcmp(fd->name, "at") == 0;
}

static bool json_time_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *v)
{
    int64_t t;
    if (fd->type == PROTOBUF_C_TYPE_INT64)
        t = *(const int64_t *)v;
    else if (fd->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)v;
        if (!s || !*s)
            t = 0;
        else if (ctl_time_parse(s, &t) != 0)
            return false;
    } else
        return false;
    char b[CTL_TIME_MAX];
    if (t == 0 || ctl_time_rfc3339(t, pbjson_utc, b, sizeof b) != 0)
        fputs("null", f);
    else
        fprintf(f, "\"%s\"", b);
    return true;
}

static void json_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *v)
{
    char buf[64];
    if (is_time_field(fd) && json_time_value(f, fd, v))
        return;
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
        json_message(f, *(ProtobufCMessage *const *)v, fd->descriptor);
    else if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_ENUM)
        pbjson_string(f, value_text(fd, v, buf, sizeof buf));
    else
        fputs(value_text(fd, v, buf, sizeof buf), f);
}

static void json_message(FILE *f, const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
    if (!m) {
        fputs("null", f);
        return;
    }
    fputc('{', f);
    const char *base = (const char *)m;
    bool first = true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const uint32_t *which = oneof_case(fd, m);
        if (which && *which != fd->id)
            continue; /* absent: the server's default applies */
        if (!first)
            fputc(',', f);
        first = false;
        pbjson_string(f, fd->name);
        fputc(':', f);
        if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
            json_value(f, fd, base + fd->offset);
            continue;
        }
        size_t n = *(const size_t *)(base + fd->quantifier_offset);
        const char *arr = *(char *const *)(base + fd->offset);
        fputc('[', f);
        for (size_t k = 0; k < n; k++) {
            if (k)
                fputc(',', f);
            json_value(f, fd, arr + k * value_size(fd));
        }
        fputc(']', f);
    }
    fputc('}', f);
}

void pbjson_write(FILE *f, const ProtobufCMessage *m)
{
    json_message(f, m, m->descriptor);
    fputc('\n', f);
}

void pbjson_inline(FILE *f, const ProtobufCMessage *m)
{
    json_message(f, m, m->descriptor);
}

int pbyaml_set(ProtobufCMessage *m, const char *path, const char *value, char *err, size_t errlen)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    char *part = strtok_r(buf, ".", &save);
    while (part) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor, part);
        char *next = strtok_r(NULL, ".", &save);
        if (!f) {
            snprintf(err, errlen, "%s: no field '%s' in %s", path, part, m->descriptor->short_name);
            return -EINVAL;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            snprintf(err, errlen, "%s: lists are edited with apply or their own commands", path);
            return -EINVAL;
        }
        void *dst = (char *)m + f->offset;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (!next) {
                snprintf(err, errlen, "%s: name a field inside it", path);
                return -EINVAL;
            }
            ProtobufCMessage **sub = dst;
            if (!*sub) {
                const ProtobufCMessageDescriptor *d = f->descriptor;
                *sub = calloc(1, d->sizeof_message);
                if (!*sub)
                    return -ENOMEM;
                d->message_init(*sub);
            }
            m = *sub;
            part = next;
            continue;
        }
        if (next) {
            snprintf(err, errlen, "%s: '%s' has no fields", path, part);
            return -EINVAL;
        }
        /* Parse through the YAML reader's value rules, on a one-scalar document. */
        yaml_document_t doc;
        yaml_document_initialize(&doc, NULL, NULL, NULL, 1, 1);
        int id = yaml_document_add_scalar(&doc, NULL, (yaml_char_t *)value, (int)strlen(value),
                                          YAML_ANY_SCALAR_STYLE);
        struct reader r = {.path = "argument", .err = err, .errlen = errlen};
        if (f->type == PROTOBUF_C_TYPE_STRING && *(char **)dst &&
            *(char **)dst != (char *)f->default_value)
            free(*(char **)dst);
        read_value(&r, yaml_document_get_node(&doc, id), f, dst, path);
        yaml_document_delete(&doc);
        uint32_t *which = oneof_case(f, m);
        if (which && !r.failed)
            *which = f->id;
        return r.failed ? -EINVAL : 0;
    }
    snprintf(err, errlen, "empty field path");
    return -EINVAL;
}
