/* Phone numbers to E.164 for dialing: French national formats first (including a number that
 * lost its leading 0 in a spreadsheet and the overseas departments), a few neighbours' national
 * formats, and any +CC number. Also the number's type and the time zone it implies. */
#ifndef CARILLON_PHONE_H
#define CARILLON_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#define CR_PHONE_MAX   16 /* "+" and up to 15 digits */
#define CR_PHONE_INPUT 64 /* longer raw values are refused */

enum cr_phone_type {
    CR_PHONE_UNKNOWN = 0,
    CR_PHONE_MOBILE,
    CR_PHONE_FIXED,   /* geographic (home or work: the file's column says which) */
    CR_PHONE_SPECIAL, /* non-geographic service numbers (FR 08) */
};

struct cr_phone {
    char e164[CR_PHONE_MAX + 1];
    enum cr_phone_type type;
    const char *time_zone; /* IANA name implied by the number, or NULL when it says nothing */
    bool repaired;         /* a French number that had lost its leading 0 */
};

/* Normalises raw with default_country ("FR", "BE", "CH", "GB", "DE", "ES", "IT", "US") for
 * national formats. Returns 0, or -EINVAL with *why set to a short English reason. */
int cr_phone_normalize(const char *raw, const char *default_country, struct cr_phone *out,
                       const char **why) __attribute__((warn_unused_result));
const char *cr_phone_type_name(enum cr_phone_type t);
/* True when the country code is one cr_phone_normalize knows national formats for. */
bool cr_phone_country_known(const char *country);

#endif
