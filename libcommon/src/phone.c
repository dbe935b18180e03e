/* Phone normalisation to E.164 (see phone.h). French rules: 10 digits starting with 0, or +33
 * and 9 digits; 9 digits alone are a French number whose 0 a spreadsheet dropped. Overseas
 * departments have their own country codes and time zones. */
#include "carillon/phone.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* National formats of the default countries: the calling code, whether national numbers start
 * with a trunk 0 that E.164 drops, and the national significant number's lengths. */
struct country {
    const char *iso;
    const char *code;
    bool trunk_zero;
    int min_len, max_len;
};

static const struct country countries[] = {
    {"FR", "33", true, 9, 9},   {"BE", "32", true, 8, 9},   {"CH", "41", true, 9, 9},
    {"GB", "44", true, 9, 10},  {"DE", "49", true, 6, 11},  {"ES", "34", false, 9, 9},
    {"IT", "39", false, 6, 11}, {"US", "1", false, 10, 10},
};

/* French overseas: national prefix (after the 0) -> calling code, time zone, type. */
struct overseas {
    const char *prefix; /* digits after the trunk 0, e.g. "690" */
    const char *code;
    const char *tz;
    enum cr_phone_type type;
};

static const struct overseas overseas[] = {
    {"590", "590", "America/Guadeloupe", CR_PHONE_FIXED},
    {"690", "590", "America/Guadeloupe", CR_PHONE_MOBILE},
    {"691", "590", "America/Guadeloupe", CR_PHONE_MOBILE},
    {"596", "596", "America/Martinique", CR_PHONE_FIXED},
    {"696", "596", "America/Martinique", CR_PHONE_MOBILE},
    {"697", "596", "America/Martinique", CR_PHONE_MOBILE},
    {"594", "594", "America/Cayenne", CR_PHONE_FIXED},
    {"694", "594", "America/Cayenne", CR_PHONE_MOBILE},
    {"262", "262", "Indian/Reunion", CR_PHONE_FIXED},
    {"692", "262", "Indian/Reunion", CR_PHONE_MOBILE},
    {"693", "262", "Indian/Reunion", CR_PHONE_MOBILE},
    {"269", "262", "Indian/Mayotte", CR_PHONE_FIXED},
    {"639", "262", "Indian/Mayotte", CR_PHONE_MOBILE},
    {"508", "508", "America/Miquelon", CR_PHONE_FIXED},
};

static const struct country *country_of(const char *iso)
{
    for (size_t i = 0; iso && i < sizeof countries / sizeof countries[0]; i++)
        if (strcasecmp(countries[i].iso, iso) == 0)
            return &countries[i];
    return NULL;
}

bool cr_phone_country_known(const char *country)
{
    return country_of(country) != NULL;
}

const char *cr_phone_type_name(enum cr_phone_type t)
{
    switch (t) {
    case CR_PHONE_MOBILE:
        return "mobile";
    case CR_PHONE_FIXED:
        return "fixed";
    case CR_PHONE_SPECIAL:
        return "special";
    default:
        return "unknown";
    }
}

/* A French national significant number (9 digits, no 0) -> out. */
static int french(const char *nsn, struct cr_phone *out, const char **why)
{
    if (nsn[0] == '0') {
        *why = "a French number has 10 digits starting with a single 0";
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof overseas / sizeof overseas[0]; i++) {
        if (strncmp(nsn, overseas[i].prefix, 3) == 0) {
            snprintf(out->e164, sizeof out->e164, "+%s%s", overseas[i].code, nsn);
            out->time_zone = overseas[i].tz;
            out->type = overseas[i].type;
            return 0;
        }
    }
    snprintf(out->e164, sizeof out->e164, "+33%s", nsn);
    out->time_zone = "Europe/Paris";
    switch (nsn[0]) {
    case '6':
    case '7':
        out->type = CR_PHONE_MOBILE;
        break;
    case '8':
        out->type = CR_PHONE_SPECIAL;
        break;
    default:
        out->type = CR_PHONE_FIXED; /* 1-5 geographic, 9 box lines */
    }
    return 0;
}

/* Overseas numbers written internationally (+590 690 ...) get their zone and type too. */
static void overseas_info(struct cr_phone *out)
{
    for (size_t i = 0; i < sizeof overseas / sizeof overseas[0]; i++) {
        size_t cl = strlen(overseas[i].code);
        if (strncmp(out->e164 + 1, overseas[i].code, cl) == 0 &&
            strncmp(out->e164 + 1 + cl, overseas[i].prefix, 3) == 0) {
            out->time_zone = overseas[i].tz;
            out->type = overseas[i].type;
            return;
        }
    }
}

int cr_phone_normalize(const char *raw, const char *default_country, struct cr_phone *out,
                       const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (!raw || strlen(raw) > CR_PHONE_INPUT) {
        *why = raw ? "longer than 64 characters" : "empty";
        return -EINVAL;
    }
    /* Keep digits and a leading +; drop separators; "(0)" after a country code is dropped. */
    char digits[CR_PHONE_INPUT + 1];
    size_t n = 0;
    bool plus = false, seen_digit = false;
    for (const char *p = raw; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isdigit(c)) {
            digits[n++] = (char)c;
            seen_digit = true;
        } else if (c == '\'' && p == raw) {
            /* a leading apostrophe: Excel's mark for "keep as text" (e.g. '0612345678) */
        } else if (c == '+' && !seen_digit && !plus) {
            plus = true;
        } else if (c == '(' && p[1] == '0' && p[2] == ')' && (plus || n > 0)) {
            p += 2;
        } else if (c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' || c == '/' ||
                   c == '\t' || c == 0xa0 || (c == 0xc2 && (unsigned char)p[1] == 0xa0)) {
            if (c == 0xc2)
                p++;
        } else {
            *why = "holds characters that are not digits";
            return -EINVAL;
        }
    }
    digits[n] = '\0';
    if (n == 0) {
        *why = "empty";
        return -EINVAL;
    }
    /* 00 international prefix = + */
    const char *d = digits;
    if (!plus && n > 2 && d[0] == '0' && d[1] == '0') {
        plus = true;
        d += 2;
        n -= 2;
    }
    if (plus) {
        if (n < 8 || n > 15) {
            *why = n < 8 ? "too short for an international number"
                         : "longer than 15 digits (E.164's maximum)";
            return -EINVAL;
        }
        if (d[0] == '0') {
            *why = "no country code starts with 0";
            return -EINVAL;
        }
        if (strncmp(d, "33", 2) == 0) { /* French: check its shape */
            if (n != 11) {
                *why = "+33 is followed by 9 digits";
                return -EINVAL;
            }
            return french(d + 2, out, why);
        }
        snprintf(out->e164, sizeof out->e164, "+%.15s", d);
        overseas_info(out);
        return 0;
    }
    const struct country *c = country_of(default_country ? default_country : "FR");
    if (!c) {
        *why = "unknown default country";
        return -EINVAL;
    }
    if (strcmp(c->iso, "FR") == 0) {
        if (n == 10 && d[0] == '0')
            return french(d + 1, out, why);
        if (n == 9 && d[0] != '0') { /* Excel dropped the 0 */
            int rc = french(d, out, why);
            out->repaired = rc == 0;
            return rc;
        }
        *why = n < 9 || (n == 9 && d[0] == '0') ? "too short for a French number"
                                                : "too long for a French number";
        return -EINVAL;
    }
    if (c->trunk_zero) {
        if (d[0] != '0') {
            *why = "a national number starts with 0 in this country";
            return -EINVAL;
        }
        d++;
        n--;
    }
    if ((int)n < c->min_len || (int)n > c->max_len) {
        *why = "wrong length for a national number of this country";
        return -EINVAL;
    }
    if (strlen(c->code) + n > 15) {
        *why = "longer than 15 digits (E.164's maximum)";
        return -EINVAL;
    }
    size_t cl = strlen(c->code);
    out->e164[0] = '+';
    memcpy(out->e164 + 1, c->code, cl);
    memcpy(out->e164 + 1 + cl, d, n);
    out->e164[1 + cl + n] = '\0';
    return 0;
}
