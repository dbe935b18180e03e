/* Fuzz target: raw phone numbers through the E.164 normalisation. The first byte picks the
 * default country (a known one, an unknown one or none). A result must be "+" and 1 to 15
 * digits, and normalising it again must give it back, with the same type and zone. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/phone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const countries[] = {"FR", "BE", "CH", "GB", "DE", "ES",  "IT",
                                        "US", "BR", "jp", "GP", "ZZ", "FRA", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4 * CR_PHONE_INPUT)
        return 0;
    const char *country = countries[data[0] % (sizeof countries / sizeof countries[0])];
    char raw[4 * CR_PHONE_INPUT + 1];
    memcpy(raw, data + 1, size - 1);
    raw[size - 1] = '\0';
    struct cr_phone p;
    const char *why = NULL;
    if (cr_phone_normalize(raw, country, &p, &why) != 0) {
        if (!why || !why[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    size_t n = strlen(p.e164);
    if (p.e164[0] != '+' || n < 2 || n > CR_PHONE_MAX)
        abort();
    for (size_t i = 1; i < n; i++)
        if (!isdigit((unsigned char)p.e164[i]))
            abort();
    if (!cr_phone_type_name(p.type))
        abort();
    struct cr_phone again;
    if (cr_phone_normalize(p.e164, country, &again, &why) != 0 || strcmp(again.e164, p.e164) ||
        again.type != p.type || (again.time_zone == NULL) != (p.time_zone == NULL) ||
        (p.time_zone && strcmp(again.time_zone, p.time_zone)))
        abort();
    return 0;
}
