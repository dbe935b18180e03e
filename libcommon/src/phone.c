/* Phone normalisation to E.164 (see phone.h): the raw text is cleaned here, the French rules
 * libphonenumber lacks are applied here, and everything else is libphonenumber's verdict
 * (phonenumber_shim.cc). */
#include "carillon/phone.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "phone_zones.h"
#include "phonenumber_shim.h"

/* French overseas: national prefix (after the 0) -> calling code, region, time zone, type. */
struct overseas {
    const char *prefix; /* digits after the trunk 0, e.g. "690" */
    const char *code;
    const char *region;
    const char *tz;
    enum cr_phone_type type;
};

static const struct overseas overseas[] = {
    {"590", "590", "GP", "America/Guadeloupe", CR_PHONE_FIXED},
    {"690", "590", "GP", "America/Guadeloupe", CR_PHONE_MOBILE},
    {"691", "590", "GP", "America/Guadeloupe", CR_PHONE_MOBILE},
    {"596", "596", "MQ", "America/Martinique", CR_PHONE_FIXED},
    {"696", "596", "MQ", "America/Martinique", CR_PHONE_MOBILE},
    {"697", "596", "MQ", "America/Martinique", CR_PHONE_MOBILE},
    {"594", "594", "GF", "America/Cayenne", CR_PHONE_FIXED},
    {"694", "594", "GF", "America/Cayenne", CR_PHONE_MOBILE},
    {"262", "262", "RE", "Indian/Reunion", CR_PHONE_FIXED},
    {"692", "262", "RE", "Indian/Reunion", CR_PHONE_MOBILE},
    {"693", "262", "RE", "Indian/Reunion", CR_PHONE_MOBILE},
    {"269", "262", "YT", "Indian/Mayotte", CR_PHONE_FIXED},
    {"639", "262", "YT", "Indian/Mayotte", CR_PHONE_MOBILE},
    {"508", "508", "PM", "America/Miquelon", CR_PHONE_FIXED},
};

#define NOVERSEAS (sizeof overseas / sizeof overseas[0])

/* The entry for a French national significant number (9 digits, no trunk 0), or NULL. */
static const struct overseas *overseas_of_nsn(const char *nsn, size_t n)
{
    for (size_t i = 0; n == 9 && i < NOVERSEAS; i++)
        if (strncmp(nsn, overseas[i].prefix, 3) == 0)
            return &overseas[i];
    return NULL;
}

/* The entry for international digits (no "+") that are an overseas code and 9 digits with one
 * of its prefixes (+590 690 12 34 56), or NULL. */
static const struct overseas *overseas_of_international(const char *d, size_t n)
{
    for (size_t i = 0; i < NOVERSEAS; i++) {
        size_t cl = strlen(overseas[i].code);
        if (n == cl + 9 && strncmp(d, overseas[i].code, cl) == 0 &&
            strncmp(d + cl, overseas[i].prefix, 3) == 0)
            return &overseas[i];
    }
    return NULL;
}

static int overseas_number(const struct overseas *o, const char *nsn, struct cr_phone *out)
{
    snprintf(out->e164, sizeof out->e164, "+%s%.9s", o->code, nsn);
    snprintf(out->region, sizeof out->region, "%s", o->region);
    out->time_zone = o->tz;
    out->type = o->type;
    return 0;
}

/* An upper-case copy of a two-letter region code, or false. */
static bool region_code(const char *country, char up[3])
{
    if (!country || !isalpha((unsigned char)country[0]) || !isalpha((unsigned char)country[1]) ||
        country[2])
        return false;
    up[0] = (char)toupper((unsigned char)country[0]);
    up[1] = (char)toupper((unsigned char)country[1]);
    up[2] = '\0';
    return true;
}

bool cr_phone_country_known(const char *country)
{
    char up[3];
    return region_code(country, up) && pn_region_supported(up);
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
    case CR_PHONE_FIXED_OR_MOBILE:
        return "fixed_or_mobile";
    case CR_PHONE_TOLL_FREE:
        return "toll_free";
    case CR_PHONE_PREMIUM_RATE:
        return "premium_rate";
    case CR_PHONE_SHARED_COST:
        return "shared_cost";
    case CR_PHONE_VOIP:
        return "voip";
    case CR_PHONE_PERSONAL:
        return "personal";
    case CR_PHONE_PAGER:
        return "pager";
    case CR_PHONE_VOICEMAIL:
        return "voicemail";
    default:
        return "unknown";
    }
}

static enum cr_phone_type type_of(enum pn_type t)
{
    switch (t) {
    case PN_FIXED_LINE:
        return CR_PHONE_FIXED;
    case PN_MOBILE:
        return CR_PHONE_MOBILE;
    case PN_FIXED_LINE_OR_MOBILE:
        return CR_PHONE_FIXED_OR_MOBILE;
    case PN_TOLL_FREE:
        return CR_PHONE_TOLL_FREE;
    case PN_PREMIUM_RATE:
        return CR_PHONE_PREMIUM_RATE;
    case PN_SHARED_COST:
        return CR_PHONE_SHARED_COST;
    case PN_VOIP:
        return CR_PHONE_VOIP;
    case PN_PERSONAL_NUMBER:
        return CR_PHONE_PERSONAL;
    case PN_PAGER:
        return CR_PHONE_PAGER;
    case PN_UAN:
        return CR_PHONE_SPECIAL;
    case PN_VOICEMAIL:
        return CR_PHONE_VOICEMAIL;
    default:
        return CR_PHONE_UNKNOWN;
    }
}

/* Why libphonenumber refused a number; French numbers (a French list's national numbers, +33)
 * say so. */
static const char *refusal(enum pn_status st, bool french)
{
    switch (st) {
    case PN_UNKNOWN_COUNTRY_CODE:
        return "unknown country code";
    case PN_TOO_SHORT_AFTER_IDD:
        return "too short after the international prefix";
    case PN_TOO_SHORT:
        return french ? "too short for a French number" : "too short for a number of its country";
    case PN_TOO_LONG:
        return french ? "too long for a French number" : "too long for a number of its country";
    case PN_INVALID_LENGTH:
        return french ? "wrong length for a French number"
                      : "wrong length for a number of its country";
    case PN_INVALID_FOR_REGION:
        return french ? "not a valid French number (no such range)"
                      : "not a valid number of its country (no such range)";
    case PN_INTERNAL:
        return "could not be checked (libphonenumber failed)";
    default:
        return "not a phone number";
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
    char country[3];
    bool country_ok = region_code(default_country ? default_country : "FR", country) &&
                      pn_region_supported(country);
    if (!plus && !country_ok) {
        *why = "unknown default country";
        return -EINVAL;
    }
    bool french_list = country_ok && strcmp(country, "FR") == 0;
    const char *d = digits;
    /* France's international prefix 00 (libphonenumber reads it so too; done here so that the
     * overseas rule sees 0033 6 90... and 00590...). */
    if (!plus && french_list && n > 2 && d[0] == '0' && d[1] == '0') {
        plus = true;
        d += 2;
        n -= 2;
    }
    const char *lead = ""; /* what goes before d for libphonenumber */
    if (plus) {
        if (n > 15) {
            *why = "longer than 15 digits (E.164's maximum)";
            return -EINVAL;
        }
        if (d[0] == '0') {
            *why = "no country code starts with 0";
            return -EINVAL;
        }
        const struct overseas *o;
        if (n > 2 && strncmp(d, "33", 2) == 0 && (o = overseas_of_nsn(d + 2, n - 2)))
            return overseas_number(o, d + 2, out); /* +33 6 90...: Guadeloupe's +590 */
        if ((o = overseas_of_international(d, n)))
            return overseas_number(o, d + strlen(o->code), out);
        lead = "+";
    } else if (french_list) {
        if (n == 9 && d[0] != '0') { /* a spreadsheet dropped the 0 */
            out->repaired = true;
            lead = "0";
        }
        const struct overseas *o = out->repaired            ? overseas_of_nsn(d, n)
                                   : n == 10 && d[0] == '0' ? overseas_of_nsn(d + 1, 9)
                                                            : NULL;
        if (o)
            return overseas_number(o, out->repaired ? d : d + 1, out);
    }
    /* French numbers, the bulk of Carillon's lists (+33 and 9 digits, or 0 and 9 digits in a
     * French list), skip the parsing libphonenumber would do to the same effect. */
    const char *nsn = NULL;
    if (plus && n == 11 && strncmp(d, "33", 2) == 0 && d[2] != '0')
        nsn = d + 2;
    else if (!plus && french_list && out->repaired)
        nsn = d;
    else if (!plus && french_list && n == 10 && d[0] == '0' && d[1] != '0')
        nsn = d + 1;
    struct pn_number pn;
    enum pn_status st;
    if (nsn) {
        st = pn_check(33, nsn, &pn);
    } else {
        char text[CR_PHONE_INPUT + 2];
        snprintf(text, sizeof text, "%s%s", lead, d);
        st = pn_parse(text, country_ok ? country : "ZZ", &pn);
    }
    if (st != PN_OK) {
        out->repaired = false;
        *why = refusal(st, plus ? strncmp(d, "33", 2) == 0 : french_list);
        return -EINVAL;
    }
    if (strlen(pn.e164) > CR_PHONE_MAX) {
        out->repaired = false;
        *why = "longer than 15 digits (E.164's maximum)";
        return -EINVAL;
    }
    memcpy(out->e164, pn.e164, strlen(pn.e164) + 1);
    memcpy(out->region, pn.region, sizeof out->region);
    out->type = type_of(pn.type);
    if (strcmp(pn.region, "FR") == 0 && out->type == CR_PHONE_VOIP && out->e164[3] == '9')
        out->type = CR_PHONE_FIXED; /* 09: the home lines of internet boxes */
    const struct overseas *o = overseas_of_international(out->e164 + 1, strlen(out->e164 + 1));
    if (o) { /* +590 590... written so: the same zone and type as in national form */
        out->time_zone = o->tz;
        out->type = o->type;
    } else {
        out->time_zone = cr_phone_zone(pn.region, out->e164 + 1);
    }
    return 0;
}
