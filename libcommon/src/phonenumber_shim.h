/* Private to libcommon: a C view of the parts of Google's libphonenumber (C++) that phone.c
 * uses. The library's PhoneNumberUtil is a process-wide singleton, safe from several threads. */
#ifndef CARILLON_PHONENUMBER_SHIM_H
#define CARILLON_PHONENUMBER_SHIM_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pn_status {
    PN_OK = 0,
    PN_UNKNOWN_COUNTRY_CODE, /* no country has that calling code */
    PN_NOT_A_NUMBER,         /* what is left is not a phone number at all */
    PN_TOO_SHORT_AFTER_IDD,  /* an international prefix with (almost) nothing after it */
    PN_TOO_SHORT,            /* shorter than any number of its country */
    PN_TOO_LONG,             /* longer than any number of its country */
    PN_INVALID_LENGTH,       /* between the shortest and longest, but no number has that length */
    PN_INVALID_FOR_REGION,   /* the right length, but in no range its country has allocated */
    PN_INTERNAL,             /* the library failed (out of memory) */
};

/* libphonenumber's PhoneNumberType, in its order. */
enum pn_type {
    PN_FIXED_LINE,
    PN_MOBILE,
    PN_FIXED_LINE_OR_MOBILE,
    PN_TOLL_FREE,
    PN_PREMIUM_RATE,
    PN_SHARED_COST,
    PN_VOIP,
    PN_PERSONAL_NUMBER,
    PN_PAGER,
    PN_UAN,
    PN_VOICEMAIL,
    PN_UNKNOWN,
};

struct pn_number {
    char e164[24];  /* "+" and the digits */
    char region[4]; /* ISO 3166-1 alpha-2 the number belongs to, "001" for non-geographic ones */
    int country_code;
    enum pn_type type;
};

/* Parses text (digits, with a leading "+" for the international form) as dialled from region
 * (ISO 3166-1 alpha-2, upper case) and checks it against the library's metadata. Returns PN_OK
 * with *out filled for a valid number, otherwise why it is not one. */
enum pn_status pn_parse(const char *text, const char *region, struct pn_number *out);
/* As pn_parse for a number already split: country_code and its national significant number
 * nsn (digits, not starting with 0), which is what Parse gives for "+33" and 9 digits or a French
 * national "0" and 9 digits, without Parse's regular expressions (two thirds of the time). */
enum pn_status pn_check(int country_code, const char *nsn, struct pn_number *out);
/* True when libphonenumber has numbering metadata for the region (upper case). */
bool pn_region_supported(const char *region);

#ifdef __cplusplus
}
#endif

#endif
