/* Private to libcommon: the time zone a phone number implies (phone_zones.c says where the
 * tables come from). */
#ifndef CARILLON_PHONE_ZONES_H
#define CARILLON_PHONE_ZONES_H

/* The IANA zone of a valid number of region (ISO 3166-1 alpha-2, upper case) whose E.164 digits
 * (without "+") are digits, or NULL when the number does not say. */
const char *cr_phone_zone(const char *region, const char *digits);

#endif
