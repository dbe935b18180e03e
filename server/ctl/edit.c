/* carillonctl's editing commands for one part of a campaign (questions, screens,
 * qualifications, schedule) and the script preview. Each reads the whole campaign, changes
 * it, and applies it back in one transaction, so the server checks every rule as for a file. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/pbtext.h"
#include "ctl.h"
#include "ctlutil.h"

/* --- owned messages and arrays -------------------------------------------------------------- */

/* A deep copy (pack + unpack) that we may change and free with free_unpacked. */
static ProtobufCMessage *copy_message(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
    free(buf);
    return c;
}

static void arr_remove(void **arr, size_t *n, size_t idx)
{
    memmove(arr + idx, arr + idx + 1, (*n - idx - 1) * sizeof *arr);
    (*n)--;
}

static int arr_insert(void ***arr, size_t *n, size_t idx, void *item)
{
    void **na = realloc(*arr, (*n + 1) * sizeof *na);
    if (!na)
        return -ENOMEM;
    memmove(na + idx + 1, na + idx, (*n - idx) * sizeof *na);
    na[idx] = item;
    *arr = na;
    (*n)++;
    return 0;
}

static int fetch(const char *name, Carillon__V1__Campaign **out)
{
    int rc = ctl_request_campaign(name);
    if (rc)
        return rc;
    *out = (Carillon__V1__Campaign *)copy_message(&ctl_reply()->campaign_reply->campaign->base);
    ctl_drop_reply();
    return *out ? 0 : ctl_report(1, "INTERNAL", NULL, "out of memory");
}

static int store(Carillon__V1__Campaign *c, const char *done)
{
    Carillon__V1__CampaignApply ap = CARILLON__V1__CAMPAIGN_APPLY__INIT;
    ap.campaign = c;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_APPLY;
    env.campaign_apply = &ap;
    int rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_CAMPAIGN_REPLY);
    protobuf_c_message_free_unpacked(&c->base, NULL);
    if (rc)
        return rc;
    ctl_drop_reply();
    return ctl_print_ok(done);
}

/* Finds a question by export name: its screen and index. */
static Carillon__V1__Block *find_question(Carillon__V1__Campaign *c, const char *name,
                                          Carillon__V1__Screen **screen, size_t *index)
{
    for (size_t i = 0; i < c->n_script; i++)
        for (size_t k = 0; k < c->script[i]->n_blocks; k++)
            if (strcmp(c->script[i]->blocks[k]->export_name, name) == 0) {
                *screen = c->script[i];
                *index = k;
                return c->script[i]->blocks[k];
            }
    return NULL;
}

static Carillon__V1__Screen *find_screen(Carillon__V1__Campaign *c, const char *name, size_t *index)
{
    for (size_t i = 0; i < c->n_script; i++)
        if (strcmp(c->script[i]->name, name) == 0) {
            *index = i;
            return c->script[i];
        }
    return NULL;
}

static int not_found(Carillon__V1__Campaign *c, const char *what, const char *name)
{
    protobuf_c_message_free_unpacked(&c->base, NULL);
    return ctl_report(1, "NOT_FOUND", NULL, "no %s '%s' in campaign", what, name);
}

static long position_arg(const char *s, size_t max)
{
    char *end;
    long p = strtol(s, &end, 10);
    return *end || p < 1 || (size_t)p > max ? -1 : p;
}

/* Replaces s with a copy of v (strings of an unpacked message are malloc'd one by one). */
static void set_string(char **s, const char *v)
{
    char *copy = strdup(v);
    if (!copy)
        return;
    if (*s && *s != protobuf_c_empty_string)
        free(*s);
    *s = copy;
}

/* --- questions ------------------------------------------------------------------------------ */

static const char *block_type(const Carillon__V1__Block *b, char *buf, size_t len)
{
    char k[32], t[32];
    cr_pb_enum_word(&carillon__v1__block_kind__descriptor, b->kind, k, sizeof k);
    if (b->select_type)
        cr_pb_enum_word(&carillon__v1__select_type__descriptor, b->select_type, t, sizeof t);
    else if (b->predefined_type)
        cr_pb_enum_word(&carillon__v1__predefined_type__descriptor, b->predefined_type, t,
                        sizeof t);
    else
        t[0] = '\0';
    snprintf(buf, len, "%s%s%s", k, t[0] ? "/" : "", t);
    return buf;
}

int ctl_question(int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage("question list|delete|duplicate|move|choices|import CAMPAIGN ...");
    const char *sub = argv[0], *campaign = argv[1];
    Carillon__V1__Campaign *c = NULL;
    char done[512];
    if (strcmp(sub, "list") == 0 && argc == 2) {
        int rc = fetch(campaign, &c);
        if (rc)
            return rc;
        if (ctl_json()) {
            printf("{\"questions\":[");
            bool first = true;
            for (size_t i = 0; i < c->n_script; i++)
                for (size_t k = 0; k < c->script[i]->n_blocks; k++) {
                    const Carillon__V1__Block *b = c->script[i]->blocks[k];
                    if (!b->export_name[0])
                        continue;
                    printf("%s{\"screen\":", first ? "" : ",");
                    first = false;
                    pbjson_string(stdout, c->script[i]->name);
                    printf(",\"position\":%zu,\"block\":", k + 1);
                    pbjson_inline(stdout, &b->base);
                    printf("}");
                }
            printf("]}\n");
        } else {
            printf("%-16s %-4s %-24s %-20s %-9s %s\n", "SCREEN", "POS", "EXPORT_NAME", "TYPE",
                   "MANDATORY", "QUESTION");
            for (size_t i = 0; i < c->n_script; i++)
                for (size_t k = 0; k < c->script[i]->n_blocks; k++) {
                    const Carillon__V1__Block *b = c->script[i]->blocks[k];
                    if (!b->export_name[0])
                        continue;
                    char t[64];
                    ctl_print_padded(c->script[i]->name, 16);
                    printf(" %-4zu %-24s %-20s %-9s %s\n", k + 1, b->export_name,
                           block_type(b, t, sizeof t), b->mandatory ? "yes" : "no", b->text);
                }
        }
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return 0;
    }
    if (strcmp(sub, "import") == 0 && argc == 4 && strcmp(argv[2], "--from") == 0) {
        Carillon__V1__Campaign *from = NULL;
        int rc = fetch(argv[3], &from);
        if (rc)
            return rc;
        if ((rc = fetch(campaign, &c))) {
            protobuf_c_message_free_unpacked(&from->base, NULL);
            return rc;
        }
        /* The other campaign's questions (not its texts or buttons) on a new screen. */
        Carillon__V1__Screen *sc = calloc(1, sizeof *sc);
        carillon__v1__screen__init(sc);
        char name[300];
        snprintf(name, sizeof name, "Imported from %s", argv[3]);
        set_string(&sc->name, name);
        sc->initial = c->n_script == 0;
        size_t imported = 0;
        for (size_t i = 0; i < from->n_script; i++)
            for (size_t k = 0; k < from->script[i]->n_blocks; k++) {
                const Carillon__V1__Block *b = from->script[i]->blocks[k];
                if (!b->export_name[0])
                    continue;
                arr_insert((void ***)&sc->blocks, &sc->n_blocks, sc->n_blocks,
                           copy_message(&b->base));
                imported++;
            }
        protobuf_c_message_free_unpacked(&from->base, NULL);
        if (imported == 0) {
            /* Nothing to copy: say so and change nothing (no empty screen added). */
            protobuf_c_message_free_unpacked(&sc->base, NULL);
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return ctl_report(CTL_EXIT_REFUSED, "FAILED_PRECONDITION", "from",
                              "campaign '%s' has no questionnaire (no question with an export "
                              "name): nothing imported, '%s' is unchanged",
                              argv[3], campaign);
        }
        arr_insert((void ***)&c->script, &c->n_script, c->n_script, sc);
        char count[64];
        snprintf(done, sizeof done, "%s imported into '%s'",
                 ctl_count(count, sizeof count, imported, "question", "questions"), name);
        return store(c, done);
    }
    if (argc < 3)
        return ctl_usage("question %s CAMPAIGN EXPORT_NAME ...", sub);
    const char *qname = argv[2];
    int rc = fetch(campaign, &c);
    if (rc)
        return rc;
    Carillon__V1__Screen *sc;
    size_t idx;
    Carillon__V1__Block *b = find_question(c, qname, &sc, &idx);
    if (!b)
        return not_found(c, "question", qname);
    if (strcmp(sub, "delete") == 0 && argc == 3) {
        arr_remove((void **)sc->blocks, &sc->n_blocks, idx);
        protobuf_c_message_free_unpacked(&b->base, NULL);
        snprintf(done, sizeof done, "question %s deleted", qname);
    } else if (strcmp(sub, "duplicate") == 0 && argc == 4) {
        Carillon__V1__Block *copy = (Carillon__V1__Block *)copy_message(&b->base);
        set_string(&copy->export_name, argv[3]);
        arr_insert((void ***)&sc->blocks, &sc->n_blocks, idx + 1, copy);
        snprintf(done, sizeof done, "question %s copied to %s", qname, argv[3]);
    } else if (strcmp(sub, "move") == 0 && argc == 4) {
        long pos = position_arg(argv[3], sc->n_blocks);
        if (pos < 0) {
            /* the message is read before c (which holds sc) is freed */
            char msg[400];
            snprintf(msg, sizeof msg, "position must be 1..%zu in screen '%s'", sc->n_blocks,
                     sc->name);
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return ctl_usage("%s", msg);
        }
        arr_remove((void **)sc->blocks, &sc->n_blocks, idx);
        arr_insert((void ***)&sc->blocks, &sc->n_blocks, (size_t)pos - 1, b);
        snprintf(done, sizeof done, "question %s is now block %ld of '%s'", qname, pos, sc->name);
    } else if (strcmp(sub, "choices") == 0 && argc == 5 && strcmp(argv[3], "--bulk") == 0) {
        /* Bulk answers: "a;b;c" or one per line, replacing the choices. */
        for (size_t i = 0; i < b->n_choices; i++)
            free(b->choices[i]);
        b->n_choices = 0;
        char *list = strdup(argv[4]), *save = NULL;
        for (char *t = strtok_r(list, ";\n", &save); t; t = strtok_r(NULL, ";\n", &save)) {
            while (*t == ' ')
                t++;
            size_t n = strlen(t);
            while (n && t[n - 1] == ' ')
                t[--n] = '\0';
            if (n)
                arr_insert((void ***)&b->choices, &b->n_choices, b->n_choices, strdup(t));
        }
        free(list);
        char n[48];
        snprintf(done, sizeof done, "question %s has %s", qname,
                 ctl_count(n, sizeof n, b->n_choices, "choice", "choices"));
    } else {
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return ctl_usage("the arguments do not fit 'question %s'", sub);
    }
    return store(c, done);
}

/* --- screens -------------------------------------------------------------------------------- */

int ctl_screen(int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage("script screens|screen-delete|screen-duplicate|screen-move|preview "
                         "CAMPAIGN ...");
    const char *sub = argv[0], *campaign = argv[1];
    Carillon__V1__Campaign *c = NULL;
    char done[512];
    int rc = fetch(campaign, &c);
    if (rc)
        return rc;
    if (strcmp(sub, "screens") == 0 && argc == 2 && ctl_json()) {
        printf("{\"screens\":[");
        for (size_t i = 0; i < c->n_script; i++) {
            printf("%s{\"position\":%zu,\"name\":", i ? "," : "", i + 1);
            pbjson_string(stdout, c->script[i]->name);
            printf(",\"initial\":%s,\"blocks\":%zu}", c->script[i]->initial ? "true" : "false",
                   c->script[i]->n_blocks);
        }
        printf("]}\n");
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return 0;
    }
    if (strcmp(sub, "screens") == 0 && argc == 2) {
        printf("%-4s %-32s %-8s %s\n", "POS", "SCREEN", "INITIAL", "BLOCKS");
        for (size_t i = 0; i < c->n_script; i++) {
            printf("%-4zu ", i + 1);
            ctl_print_padded(c->script[i]->name, 32);
            putchar(' ');
            printf("%-8s %zu\n", c->script[i]->initial ? "yes" : "", c->script[i]->n_blocks);
        }
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return 0;
    }
    if (strcmp(sub, "preview") == 0)
        return ctl_preview(c, argc - 2, argv + 2);
    if (argc < 3) {
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return ctl_usage("script %s CAMPAIGN SCREEN ...", sub);
    }
    size_t idx;
    Carillon__V1__Screen *sc = find_screen(c, argv[2], &idx);
    if (!sc)
        return not_found(c, "screen", argv[2]);
    if (strcmp(sub, "screen-delete") == 0 && argc == 3) {
        arr_remove((void **)c->script, &c->n_script, idx);
        if (sc->initial && c->n_script)
            c->script[0]->initial = 1;
        protobuf_c_message_free_unpacked(&sc->base, NULL);
        snprintf(done, sizeof done, "screen deleted");
    } else if (strcmp(sub, "screen-duplicate") == 0 && argc == 4) {
        /* The copy's questions need export names of their own: NAME_2, NAME_3, ... */
        Carillon__V1__Screen *copy = (Carillon__V1__Screen *)copy_message(&sc->base);
        set_string(&copy->name, argv[3]);
        copy->initial = 0;
        for (size_t k = 0; k < copy->n_blocks; k++) {
            Carillon__V1__Block *b = copy->blocks[k];
            if (!b->export_name[0])
                continue;
            for (int n = 2;; n++) {
                char cand[96];
                Carillon__V1__Screen *s2;
                size_t i2;
                snprintf(cand, sizeof cand, "%.80s_%d", b->export_name, n);
                if (!find_question(c, cand, &s2, &i2)) {
                    set_string(&b->export_name, cand);
                    break;
                }
            }
        }
        arr_insert((void ***)&c->script, &c->n_script, idx + 1, copy);
        snprintf(done, sizeof done, "screen copied to '%s'", argv[3]);
    } else if (strcmp(sub, "screen-move") == 0 && argc == 4) {
        long pos = position_arg(argv[3], c->n_script);
        if (pos < 0) {
            size_t screens = c->n_script; /* read before c is freed */
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return ctl_usage("position must be 1..%zu", screens);
        }
        arr_remove((void **)c->script, &c->n_script, idx);
        arr_insert((void ***)&c->script, &c->n_script, (size_t)pos - 1, sc);
        snprintf(done, sizeof done, "screen '%s' is now screen %ld", argv[2], pos);
    } else {
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return ctl_usage("the arguments do not fit 'script %s'", sub);
    }
    return store(c, done);
}

/* Replaces [Field] placeholders with the values given (--contact 'Nom=Dupont,Prénom=Zoé'). */
static void write_substituted(FILE *f, const char *text, char **keys, char **values, size_t n)
{
    for (const char *s = text; *s;) {
        const char *end = *s == '[' ? strchr(s, ']') : NULL;
        if (end) {
            bool done = false;
            for (size_t i = 0; i < n && !done; i++)
                if (strlen(keys[i]) == (size_t)(end - s - 1) &&
                    strncmp(keys[i], s + 1, (size_t)(end - s - 1)) == 0) {
                    fputs(values[i], f);
                    done = true;
                }
            if (!done)
                fwrite(s, 1, (size_t)(end - s + 1), f);
            s = end + 1;
        } else {
            fputc(*s++, f);
        }
    }
}

static void print_substituted(const char *text, char **keys, char **values, size_t n)
{
    write_substituted(stdout, text, keys, values, n);
}

static void json_strings(char **v, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(',');
        ctl_json_string(stdout, v[i]);
    }
    putchar(']');
}

/* script preview --json: the screens and blocks, texts with the sample contact's values. */
static void preview_json(const Carillon__V1__Campaign *c, char **keys, char **values, size_t n)
{
    printf("{\"campaign\":");
    ctl_json_string(stdout, c->name);
    printf(",\"screens\":[");
    for (size_t i = 0; i < c->n_script; i++) {
        const Carillon__V1__Screen *sc = c->script[i];
        printf("%s{\"name\":", i ? "," : "");
        ctl_json_string(stdout, sc->name);
        printf(",\"initial\":%s,\"blocks\":[", sc->initial ? "true" : "false");
        for (size_t k = 0; k < sc->n_blocks; k++) {
            const Carillon__V1__Block *b = sc->blocks[k];
            char *text = NULL, t[64];
            size_t len = 0;
            FILE *m = open_memstream(&text, &len);
            if (m) {
                write_substituted(m, b->text, keys, values, n);
                fclose(m);
            }
            const char *kind = b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_TEXT ? "text"
                               : b->kind == CARILLON__V1__BLOCK_KIND__BLOCK_KIND_QUICK_QUALIFICATION
                                   ? "quick_qualification"
                                   : "question";
            printf("%s{\"kind\":\"%s\",\"text\":", k ? "," : "", kind);
            ctl_json_string(stdout, text ? text : "");
            free(text);
            if (!strcmp(kind, "question")) {
                printf(",\"type\":");
                ctl_json_string(stdout, block_type(b, t, sizeof t));
                printf(",\"export_name\":");
                ctl_json_string(stdout, b->export_name);
                printf(",\"mandatory\":%s,\"choices\":", b->mandatory ? "true" : "false");
                json_strings(b->choices, b->n_choices);
                printf(",\"matrix_rows\":");
                json_strings(b->matrix_rows, b->n_matrix_rows);
            } else if (!strcmp(kind, "quick_qualification")) {
                printf(",\"qualifications\":");
                json_strings(b->qualifications, b->n_qualifications);
            }
            putchar('}');
        }
        printf("]}");
    }
    printf("]}\n");
}

int ctl_preview(Carillon__V1__Campaign *c, int argc, char **argv)
{
    char *keys[64], *values[64];
    size_t n = 0;
    char *contact = NULL;
    if (argc == 2 && strcmp(argv[0], "--contact") == 0) {
        contact = strdup(argv[1]);
        char *save = NULL;
        for (char *t = strtok_r(contact, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            if (!eq)
                continue;
            *eq = '\0';
            keys[n] = t;
            values[n++] = eq + 1;
        }
    } else if (argc) {
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return ctl_usage("script preview CAMPAIGN [--contact 'Nom=Dupont,Prénom=Zoé']");
    }
    if (ctl_json()) {
        preview_json(c, keys, values, n);
        free(contact);
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return 0;
    }
    printf("Campaign: %s\n", c->name);
    for (size_t i = 0; i < c->n_script; i++) {
        const Carillon__V1__Screen *sc = c->script[i];
        printf("\n=== Screen %zu: %s%s ===\n", i + 1, sc->name, sc->initial ? " (initial)" : "");
        int q = 0;
        for (size_t k = 0; k < sc->n_blocks; k++) {
            const Carillon__V1__Block *b = sc->blocks[k];
            char t[64];
            switch (b->kind) {
            case CARILLON__V1__BLOCK_KIND__BLOCK_KIND_TEXT:
                print_substituted(b->text, keys, values, n);
                printf("\n");
                break;
            case CARILLON__V1__BLOCK_KIND__BLOCK_KIND_QUICK_QUALIFICATION:
                printf("Quick qualification:");
                for (size_t x = 0; x < b->n_qualifications; x++)
                    printf(" [%s]", b->qualifications[x]);
                printf("\n");
                break;
            default:
                printf("Q%d%s ", ++q, b->mandatory ? "*" : "");
                print_substituted(b->text, keys, values, n);
                printf("  (%s, %s)\n", block_type(b, t, sizeof t), b->export_name);
                if (b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_YES_NO)
                    printf("    ( ) Oui   ( ) Non\n");
                else if (b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_MATRIX) {
                    printf("    %-16s", "");
                    for (size_t x = 0; x < b->n_choices; x++)
                        printf(" %s", b->choices[x]);
                    printf("\n");
                    for (size_t y = 0; y < b->n_matrix_rows; y++) {
                        printf("    ");
                        ctl_print_padded(b->matrix_rows[y], 16);
                        for (size_t x = 0; x < b->n_choices; x++)
                            printf(" ( )");
                        printf("\n");
                    }
                } else {
                    const char *box =
                        b->select_type == CARILLON__V1__SELECT_TYPE__SELECT_TYPE_MULTIPLE ? "[ ]"
                                                                                          : "( )";
                    for (size_t x = 0; x < b->n_choices; x++)
                        printf("    %s %s\n", box, b->choices[x]);
                    if (!b->n_choices)
                        printf("    ____________________\n");
                }
            }
        }
    }
    printf("\n* mandatory\n");
    free(contact);
    protobuf_c_message_free_unpacked(&c->base, NULL);
    return 0;
}

/* --- qualifications and schedule ---------------------------------------------------------- */

int ctl_qualification(int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage("qualification list|add|delete CAMPAIGN ...");
    const char *sub = argv[0];
    Carillon__V1__Campaign *c = NULL;
    char done[256];
    if (strcmp(sub, "add") == 0) {
        /* qualification add CAMPAIGN CODE NAME --type T [--final] [--argued] [--callback M]
         *   [--min-days N] [--max-days N] [--group G]... [--color #RRGGBB] */
        if (argc < 4)
            return ctl_usage("qualification add CAMPAIGN CODE NAME --type positive|negative|misc "
                             "[--final] [--argued] [--callback none|manual|mandatory|personal] "
                             "[--min-days N] [--max-days N] [--group G] [--color #RRGGBB]");
        Carillon__V1__Qualification *q = calloc(1, sizeof *q);
        carillon__v1__qualification__init(q);
        set_string(&q->code, argv[2]);
        set_string(&q->name, argv[3]);
        for (int i = 4; i < argc; i++) {
            int v;
            if (strcmp(argv[i], "--final") == 0)
                q->final = 1;
            else if (strcmp(argv[i], "--argued") == 0)
                q->argued = 1;
            else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc &&
                     cr_pb_enum_parse(&carillon__v1__qualification_type__descriptor, argv[i + 1],
                                      &v) == 0)
                q->type = v, i++;
            else if (strcmp(argv[i], "--callback") == 0 && i + 1 < argc &&
                     cr_pb_enum_parse(&carillon__v1__callback_mode__descriptor, argv[i + 1], &v) ==
                         0)
                q->callback = v, i++;
            else if (strcmp(argv[i], "--min-days") == 0 && i + 1 < argc)
                q->callback_min_days = atoi(argv[++i]);
            else if (strcmp(argv[i], "--max-days") == 0 && i + 1 < argc)
                q->callback_max_days = atoi(argv[++i]);
            else if (strcmp(argv[i], "--color") == 0 && i + 1 < argc)
                set_string(&q->color, argv[++i]);
            else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc)
                arr_insert((void ***)&q->groups, &q->n_groups, q->n_groups, strdup(argv[++i]));
            else {
                protobuf_c_message_free_unpacked(&q->base, NULL);
                return ctl_usage("qualification add: bad argument '%s'", argv[i]);
            }
        }
        int rc = fetch(argv[1], &c);
        if (rc) {
            protobuf_c_message_free_unpacked(&q->base, NULL);
            return rc;
        }
        arr_insert((void ***)&c->qualifications, &c->n_qualifications, c->n_qualifications, q);
        snprintf(done, sizeof done, "qualification %s added", argv[2]);
        return store(c, done);
    }
    int rc = fetch(argv[1], &c);
    if (rc)
        return rc;
    if (strcmp(sub, "list") == 0 && argc == 2) {
        if (ctl_json()) {
            printf("{\"qualifications\":[");
            for (size_t i = 0; i < c->n_qualifications; i++) {
                printf("%s", i ? "," : "");
                pbjson_inline(stdout, &c->qualifications[i]->base);
            }
            printf("]}\n");
        } else {
            printf("%-8s %-24s %-9s %-6s %-6s %-10s %-8s %s\n", "CODE", "NAME", "TYPE", "FINAL",
                   "ARGUED", "CALLBACK", "BOUNDS", "GROUPS");
            for (size_t i = 0; i < c->n_qualifications; i++) {
                const Carillon__V1__Qualification *q = c->qualifications[i];
                char t[32], cb[32], bounds[32];
                snprintf(bounds, sizeof bounds, "J+%d..%s%d", q->callback_min_days,
                         q->callback_max_days ? "J+" : "", q->callback_max_days);
                printf("%-8s ", q->code);
                ctl_print_padded(q->name, 25);
                printf("%-9s %-6s %-6s %-10s %-8s ",
                       cr_pb_enum_word(&carillon__v1__qualification_type__descriptor, q->type, t,
                                       sizeof t),
                       q->final ? "yes" : "no", q->argued ? "yes" : "no",
                       cr_pb_enum_word(&carillon__v1__callback_mode__descriptor, q->callback, cb,
                                       sizeof cb),
                       q->callback_max_days ? bounds : "-");
                for (size_t k = 0; k < q->n_groups; k++)
                    printf("%s%s", k ? "," : "", q->groups[k]);
                printf("\n");
            }
        }
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return 0;
    }
    if (strcmp(sub, "delete") == 0 && argc == 3) {
        for (size_t i = 0; i < c->n_qualifications; i++)
            if (strcmp(c->qualifications[i]->code, argv[2]) == 0) {
                Carillon__V1__Qualification *q = c->qualifications[i];
                arr_remove((void **)c->qualifications, &c->n_qualifications, i);
                protobuf_c_message_free_unpacked(&q->base, NULL);
                snprintf(done, sizeof done, "qualification %s deleted", argv[2]);
                return store(c, done);
            }
        return not_found(c, "qualification", argv[2]);
    }
    protobuf_c_message_free_unpacked(&c->base, NULL);
    return ctl_usage("the arguments do not fit 'qualification %s'", sub);
}

int ctl_schedule(int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage("schedule list|add|remove|close|open CAMPAIGN ...");
    const char *sub = argv[0];
    Carillon__V1__Campaign *c = NULL;
    char done[256];
    int rc = fetch(argv[1], &c);
    if (rc)
        return rc;
    if (strcmp(sub, "list") == 0 && argc == 2 && ctl_json()) {
        printf("{\"schedule\":[");
        for (size_t i = 0; i < c->n_schedule; i++) {
            printf("%s", i ? "," : "");
            pbjson_inline(stdout, &c->schedule[i]->base);
        }
        printf("],\"schedule_dates\":[");
        for (size_t i = 0; i < c->n_schedule_dates; i++) {
            printf("%s", i ? "," : "");
            pbjson_inline(stdout, &c->schedule_dates[i]->base);
        }
        printf("]}\n");
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return 0;
    }
    if (strcmp(sub, "list") == 0 && argc == 2) {
        char d[16];
        printf("%-4s %-10s %-6s %s\n", "#", "DAY", "START", "END");
        for (size_t i = 0; i < c->n_schedule; i++)
            printf("%-4zu %-10s %-6s %s\n", i + 1,
                   cr_pb_enum_word(&carillon__v1__weekday__descriptor, c->schedule[i]->day, d,
                                   sizeof d),
                   c->schedule[i]->start, c->schedule[i]->end);
        for (size_t i = 0; i < c->n_schedule_dates; i++) {
            const Carillon__V1__ScheduleDate *x = c->schedule_dates[i];
            printf("%-15s %-6s %s%s%s %s\n", x->date, x->open ? "open" : "closed", x->start,
                   x->open ? "-" : "", x->end, x->note);
        }
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return 0;
    }
    if (strcmp(sub, "add") == 0 && argc == 5) {
        int day;
        if (cr_pb_enum_parse(&carillon__v1__weekday__descriptor, argv[2], &day) != 0) {
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return ctl_usage("day must be monday..sunday, not '%s'", argv[2]);
        }
        Carillon__V1__ScheduleSlot *s = calloc(1, sizeof *s);
        carillon__v1__schedule_slot__init(s);
        s->day = day;
        set_string(&s->start, argv[3]);
        set_string(&s->end, argv[4]);
        arr_insert((void ***)&c->schedule, &c->n_schedule, c->n_schedule, s);
        snprintf(done, sizeof done, "slot %s %s-%s added", argv[2], argv[3], argv[4]);
        return store(c, done);
    }
    if (strcmp(sub, "remove") == 0 && argc == 3) {
        long pos = position_arg(argv[2], c->n_schedule);
        if (pos < 0) {
            size_t slots = c->n_schedule; /* read before c is freed */
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return slots ? ctl_usage("slot number must be 1..%zu (see schedule list)", slots)
                         : ctl_usage("the campaign has no weekly slot to remove");
        }
        Carillon__V1__ScheduleSlot *s = c->schedule[pos - 1];
        arr_remove((void **)c->schedule, &c->n_schedule, (size_t)pos - 1);
        protobuf_c_message_free_unpacked(&s->base, NULL);
        return store(c, "slot removed");
    }
    if ((strcmp(sub, "close") == 0 && (argc == 3 || argc == 4)) ||
        (strcmp(sub, "open") == 0 && (argc == 5 || argc == 6))) {
        bool open = strcmp(sub, "open") == 0;
        Carillon__V1__ScheduleDate *x = calloc(1, sizeof *x);
        carillon__v1__schedule_date__init(x);
        set_string(&x->date, argv[2]);
        x->open = open;
        if (open) {
            set_string(&x->start, argv[3]);
            set_string(&x->end, argv[4]);
        }
        if (argc == (open ? 6 : 4))
            set_string(&x->note, argv[argc - 1]);
        arr_insert((void ***)&c->schedule_dates, &c->n_schedule_dates, c->n_schedule_dates, x);
        snprintf(done, sizeof done, "%s %s", argv[2], open ? "opened" : "closed");
        return store(c, done);
    }
    protobuf_c_message_free_unpacked(&c->base, NULL);
    return ctl_usage("schedule list|add CAMPAIGN DAY START END|remove CAMPAIGN N|close CAMPAIGN "
                     "DATE [NOTE]|open CAMPAIGN DATE START END [NOTE]");
}

/* campaign create NAME [--time-zone TZ] | campaign set NAME FIELD VALUE */
int ctl_campaign_edit(int argc, char **argv)
{
    char err[512], done[512];
    if (strcmp(argv[0], "create") == 0 && (argc == 2 || argc == 4)) {
        Carillon__V1__Campaign *c = calloc(1, sizeof *c);
        carillon__v1__campaign__init(c);
        set_string(&c->name, argv[1]);
        set_string(&c->time_zone,
                   argc == 4 && strcmp(argv[2], "--time-zone") == 0 ? argv[3] : "Europe/Paris");
        int rc = ctl_connect_and_auth();
        if (rc) {
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return rc;
        }
        snprintf(done, sizeof done, "campaign %s created (draft)", argv[1]);
        return store(c, done);
    }
    if (strcmp(argv[0], "set") == 0 && argc == 4) {
        Carillon__V1__Campaign *c = NULL;
        int rc = fetch(argv[1], &c);
        if (rc)
            return rc;
        if (pbyaml_set(&c->base, argv[2], argv[3], err, sizeof err) != 0) {
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return ctl_usage("%s", err);
        }
        snprintf(done, sizeof done, "%s set", argv[2]);
        return store(c, done);
    }
    return ctl_usage("campaign create NAME [--time-zone TZ] | campaign set NAME FIELD VALUE");
}
