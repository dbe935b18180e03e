/* Phone numbers to E.164 for dialing. Validity, E.164 form and type come from Google's
 * libphonenumber (every country it knows, through a C shim in libcommon); Carillon adds what the
 * library lacks for French lists:
 *  - a number that lost its leading 0 in a spreadsheet (9 digits starting 1-9 in a French list)
 *    is read as French, with `repaired` set;
 *  - the overseas departments' numbers in national form (0590/0690/0691 Guadeloupe, 0596/0696/
 *    0697 Martinique, 0594/0694 Guyane, 0262/0692/0693 La Réunion, 0269/0639 Mayotte, 0508
 *    Saint-Pierre-et-Miquelon), or written +33 6 90..., get their own country code (+590590...,
 *    which is routable, where libphonenumber would give +33590...), zone and type; a 9-digit
 *    number after one of those codes with those prefixes is accepted as such, libphonenumber's
 *    8.12 metadata lacking ARCEP's newer ranges (0691, 0697);
 *  - French 09 numbers (VoIP for libphonenumber) are typed fixed: they are home lines of
 *    internet boxes;
 *  - a leading apostrophe (a spreadsheet's "keep as text") is ignored, separators, no-break
 *    spaces and "(0)" after a country code are dropped.
 * A national number is read with the list's country's rules (its trunk prefix and its
 * international prefix: "00" in France, "011" in the US, so a US list's "0033..." is refused as
 * libphonenumber refuses it).
 *
 * Time zones: the zone of the number's own country, not the list's (a UK number in a French list
 * gets Europe/London). Countries with several zones: the US and Canada by area code (an area code
 * across zones gets the zone of most of its lines); Australia (02 Sydney, 03 Melbourne, 07
 * Brisbane), Brazil (DDD area codes west of Brasília time), Mexico (Baja California, Sonora,
 * Sinaloa/BCS/Nayarit, Ciudad Juárez, Quintana Roo), Spain (Canary fixed lines), Portugal
 * (Madeira, Azores), Chile (Magallanes), Indonesia (geographic area codes) and Russia (Moscow and
 * Saint Petersburg only) by prefix, else the country's principal zone where one covers most of it
 * (Spain Madrid, Portugal Lisbon, Brazil São Paulo, Mexico Mexico City, Germany Berlin, China
 * Shanghai, Kazakhstan Almaty, ...); NULL where the number does not say (mobiles in Australia,
 * Indonesia, Russia, Canada's 867 across three territories, non-geographic numbers).
 * libcommon/src/phone_zones.c has the tables and their sources. */
#ifndef CARILLON_PHONE_H
#define CARILLON_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#define CR_PHONE_MAX   16 /* "+" and up to 15 digits */
#define CR_PHONE_INPUT 64 /* longer raw values are refused */

/* libphonenumber's types; the values are stable (new ones go at the end). */
enum cr_phone_type {
    CR_PHONE_UNKNOWN = 0,
    CR_PHONE_MOBILE,
    CR_PHONE_FIXED,           /* geographic (home or work: the file's column says which) */
    CR_PHONE_SPECIAL,         /* universal access ("company") numbers */
    CR_PHONE_FIXED_OR_MOBILE, /* the country's numbers do not say which (US, Canada, ...) */
    CR_PHONE_TOLL_FREE,       /* free to the caller (FR and DE 0800) */
    CR_PHONE_PREMIUM_RATE,
    CR_PHONE_SHARED_COST,
    CR_PHONE_VOIP,
    CR_PHONE_PERSONAL, /* follows a person to another line */
    CR_PHONE_PAGER,
    CR_PHONE_VOICEMAIL,
};

struct cr_phone {
    char e164[CR_PHONE_MAX + 1];
    enum cr_phone_type type;
    const char *time_zone; /* IANA name implied by the number, or NULL when it says nothing */
    bool repaired;         /* a French number that had lost its leading 0 */
    char region[4];        /* ISO 3166-1 alpha-2 of the number's country ("GB"), "001" for
                              non-geographic numbers */
};

/* Normalises raw with default_country (ISO 3166-1 alpha-2, any case; NULL: "FR") for national
 * formats. Returns 0, or -EINVAL with *why set to a short English reason (static text): "empty",
 * "holds characters that are not digits", "unknown default country", "unknown country code",
 * "too short ...", "too long ...", "wrong length ...", "not a valid ... number (no such range)". */
int cr_phone_normalize(const char *raw, const char *default_country, struct cr_phone *out,
                       const char **why) __attribute__((warn_unused_result));
/* "mobile", "fixed", "special", "fixed_or_mobile", "toll_free", "premium_rate", "shared_cost",
 * "voip", "personal", "pager", "voicemail" or "unknown". */
const char *cr_phone_type_name(enum cr_phone_type t);
/* True when country (any case) is an ISO region libphonenumber has numbering rules for. */
bool cr_phone_country_known(const char *country);

#endif
