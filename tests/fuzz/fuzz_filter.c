/* Fuzz target: arbitrary text through the contact filter language's lexer, parser and SQL
 * compiler, with a campaign's custom fields of each type. A compiled filter must be
 * well-formed: placeholders in range, every parameter present. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contacts/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cr_filter_field custom[] = {
    {"ville", CR_FT_TEXT, NULL},
    {"age", CR_FT_NUMBER, NULL},
    {"rdv", CR_FT_TIMESTAMP, NULL},
    {"vip", CR_FT_BOOL, NULL},
};

/* Every $N in where is first..first+n-1, and where's parentheses balance outside quotes. */
static void check_sql(const struct cr_filter_sql *s, int first)
{
    if (!s->where || s->nparams < 0 || s->nparams > CR_FILTER_MAX_PARAMS)
        abort();
    for (int i = 0; i < s->nparams; i++)
        if (!s->params[i])
            abort();
    int depth = 0;
    for (const char *p = s->where; *p; p++) {
        if (*p == '\'') { /* SQL literals of the compiler's own ('true', column names) */
            const char *q = strchr(p + 1, '\'');
            if (!q)
                abort();
            p = q;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth < 0) {
            abort();
        } else if (*p == '$') {
            long n = strtol(p + 1, NULL, 10);
            if (n < first || n >= first + s->nparams)
                abort();
        }
    }
    if (depth != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CR_FILTER_MAX_TEXT + 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct cr_filter_sql sql;
    char err[512];
    int first = 3;
    if (cr_filter_compile(text, custom, sizeof custom / sizeof custom[0], first, &sql, err,
                          sizeof err) == 0) {
        check_sql(&sql, first);
        cr_filter_sql_free(&sql);
    } else if (!err[0]) {
        abort(); /* a refused filter always says why */
    }
    free(text);
    return 0;
}
