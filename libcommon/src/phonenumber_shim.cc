/* The C shim over libphonenumber (see phonenumber_shim.h). Nothing is allocated here beyond the
 * strings and the PhoneNumber the library's interface takes; no exception leaves this file. */
#include "phonenumber_shim.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <list>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

static_assert(PN_FIXED_LINE == static_cast<int>(PhoneNumberUtil::FIXED_LINE) &&
                  PN_FIXED_LINE_OR_MOBILE ==
                      static_cast<int>(PhoneNumberUtil::FIXED_LINE_OR_MOBILE) &&
                  PN_VOIP == static_cast<int>(PhoneNumberUtil::VOIP) &&
                  PN_VOICEMAIL == static_cast<int>(PhoneNumberUtil::VOICEMAIL) &&
                  PN_UNKNOWN == static_cast<int>(PhoneNumberUtil::UNKNOWN),
              "enum pn_type follows PhoneNumberUtil::PhoneNumberType");

namespace
{

/* The library's singleton, created on first use (GetInstance is thread-safe). */
const PhoneNumberUtil &util()
{
    static const PhoneNumberUtil *const u = PhoneNumberUtil::GetInstance();
    return *u;
}

/* The region of each calling code that has exactly one (33: "FR"), empty for the others (1, 44,
 * 262, ...), built once: GetRegionCodeForNumber walks the region list with regular expressions
 * even when there is one region. */
struct single_regions {
    std::array<std::array<char, 4>, 1000> region{};
    single_regions()
    {
        for (int cc = 1; cc < 1000; cc++) {
            std::list<std::string> l;
            util().GetRegionCodesForCountryCallingCode(cc, &l);
            if (l.size() == 1 && l.front().size() < 4)
                std::memcpy(region[cc].data(), l.front().c_str(), l.front().size() + 1);
        }
    }
};

const char *single_region(int cc)
{
    static const single_regions s;
    return cc > 0 && cc < 1000 && s.region[cc][0] ? s.region[cc].data() : nullptr;
}

enum pn_status parse_error(PhoneNumberUtil::ErrorType e)
{
    switch (e) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
        return PN_UNKNOWN_COUNTRY_CODE;
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
        return PN_TOO_SHORT_AFTER_IDD;
    case PhoneNumberUtil::TOO_SHORT_NSN:
        return PN_TOO_SHORT;
    case PhoneNumberUtil::TOO_LONG_NSN:
        return PN_TOO_LONG;
    default:
        return PN_NOT_A_NUMBER;
    }
}

/* Why a parsed number is not valid: its length first, then its range. */
enum pn_status invalid_reason(const PhoneNumber &n)
{
    switch (util().IsPossibleNumberWithReason(n)) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE:
        return PN_UNKNOWN_COUNTRY_CODE;
    case PhoneNumberUtil::TOO_SHORT:
        return PN_TOO_SHORT;
    case PhoneNumberUtil::TOO_LONG:
        return PN_TOO_LONG;
    case PhoneNumberUtil::INVALID_LENGTH:
        return PN_INVALID_LENGTH;
    default:
        return PN_INVALID_FOR_REGION;
    }
}

/* Checks a parsed number and fills *out. */
enum pn_status check(const PhoneNumber &n, struct pn_number *out)
{
    /* GetNumberType is UNKNOWN exactly when the number matches none of its region's ranges,
     * which is what IsValidNumber checks (one metadata walk instead of two). */
    PhoneNumberUtil::PhoneNumberType t = util().GetNumberType(n);
    if (t == PhoneNumberUtil::UNKNOWN)
        return invalid_reason(n);
    std::string s;
    util().Format(n, PhoneNumberUtil::E164, &s);
    if (s.size() >= sizeof out->e164)
        return PN_TOO_LONG;
    std::memcpy(out->e164, s.c_str(), s.size() + 1);
    if (const char *r = single_region(n.country_code())) {
        std::snprintf(out->region, sizeof out->region, "%s", r);
    } else {
        std::string r2;
        util().GetRegionCodeForNumber(n, &r2);
        std::snprintf(out->region, sizeof out->region, "%s", r2.c_str());
    }
    out->country_code = n.country_code();
    out->type = static_cast<enum pn_type>(t);
    return PN_OK;
}

} // namespace

extern "C" enum pn_status pn_parse(const char *text, const char *region, struct pn_number *out)
{
    try {
        std::memset(out, 0, sizeof *out);
        out->type = PN_UNKNOWN;
        PhoneNumber n;
        PhoneNumberUtil::ErrorType e = util().Parse(text, region ? region : "ZZ", &n);
        if (e != PhoneNumberUtil::NO_PARSING_ERROR)
            return parse_error(e);
        return check(n, out);
    } catch (...) {
        return PN_INTERNAL;
    }
}

extern "C" enum pn_status pn_check(int country_code, const char *nsn, struct pn_number *out)
{
    try {
        std::memset(out, 0, sizeof *out);
        out->type = PN_UNKNOWN;
        unsigned long long v = 0;
        size_t len = std::strlen(nsn);
        if (len == 0 || len > 17 || nsn[0] == '0')
            return PN_NOT_A_NUMBER;
        for (size_t i = 0; i < len; i++) {
            if (nsn[i] < '0' || nsn[i] > '9')
                return PN_NOT_A_NUMBER;
            v = v * 10 + static_cast<unsigned>(nsn[i] - '0');
        }
        PhoneNumber n;
        n.set_country_code(country_code);
        n.set_national_number(v);
        return check(n, out);
    } catch (...) {
        return PN_INTERNAL;
    }
}
extern "C" bool pn_region_supported(const char *region)
{
    try {
        return region && util().GetCountryCodeForRegion(region) != 0;
    } catch (...) {
        return false;
    }
}
