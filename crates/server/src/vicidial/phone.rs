//! Phone numbers as the agent types them, read with libphonenumber's rules (the
//! `phonenumber` crate) in a region, into what VICIdial dials: its `phone_code` (the country
//! calling code) and the national number with the digits VICIdial must keep (Italy's
//! leading 0 stays: `+39 06 1234 5678` is `phone_code` 39, `phone_number` 0612345678).
//! `POST /api/phone/check` lets the dial box show how a number reads before it is dialled.

use axum::{extract::State, Json};
use dialdeck_shared::{Country, PhoneCheck, PhoneCheckRequest};
use phonenumber::{country, metadata::DATABASE, Mode};

use super::routes::vicidial;
use crate::{
    http::{ApiError, ApiJson},
    session::CurrentAgent,
    AppState,
};

/// English names of the regions libphonenumber has metadata for (ISO 3166 alpha-2, plus
/// `AC`, `TA` and `XK`, which it knows too). The browser gets them from `GET /api/campaign`.
const NAMES: &[(&str, &str)] = &[
    ("AC", "Ascension Island"),
    ("AD", "Andorra"),
    ("AE", "United Arab Emirates"),
    ("AF", "Afghanistan"),
    ("AG", "Antigua and Barbuda"),
    ("AI", "Anguilla"),
    ("AL", "Albania"),
    ("AM", "Armenia"),
    ("AO", "Angola"),
    ("AR", "Argentina"),
    ("AS", "American Samoa"),
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("AW", "Aruba"),
    ("AX", "Åland Islands"),
    ("AZ", "Azerbaijan"),
    ("BA", "Bosnia and Herzegovina"),
    ("BB", "Barbados"),
    ("BD", "Bangladesh"),
    ("BE", "Belgium"),
    ("BF", "Burkina Faso"),
    ("BG", "Bulgaria"),
    ("BH", "Bahrain"),
    ("BI", "Burundi"),
    ("BJ", "Benin"),
    ("BL", "Saint Barthélemy"),
    ("BM", "Bermuda"),
    ("BN", "Brunei"),
    ("BO", "Bolivia"),
    ("BQ", "Caribbean Netherlands"),
    ("BR", "Brazil"),
    ("BS", "Bahamas"),
    ("BT", "Bhutan"),
    ("BW", "Botswana"),
    ("BY", "Belarus"),
    ("BZ", "Belize"),
    ("CA", "Canada"),
    ("CC", "Cocos (Keeling) Islands"),
    ("CD", "Congo (DRC)"),
    ("CF", "Central African Republic"),
    ("CG", "Congo (Republic)"),
    ("CH", "Switzerland"),
    ("CI", "Côte d’Ivoire"),
    ("CK", "Cook Islands"),
    ("CL", "Chile"),
    ("CM", "Cameroon"),
    ("CN", "China"),
    ("CO", "Colombia"),
    ("CR", "Costa Rica"),
    ("CU", "Cuba"),
    ("CV", "Cape Verde"),
    ("CW", "Curaçao"),
    ("CX", "Christmas Island"),
    ("CY", "Cyprus"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DJ", "Djibouti"),
    ("DK", "Denmark"),
    ("DM", "Dominica"),
    ("DO", "Dominican Republic"),
    ("DZ", "Algeria"),
    ("EC", "Ecuador"),
    ("EE", "Estonia"),
    ("EG", "Egypt"),
    ("EH", "Western Sahara"),
    ("ER", "Eritrea"),
    ("ES", "Spain"),
    ("ET", "Ethiopia"),
    ("FI", "Finland"),
    ("FJ", "Fiji"),
    ("FK", "Falkland Islands"),
    ("FM", "Micronesia"),
    ("FO", "Faroe Islands"),
    ("FR", "France"),
    ("GA", "Gabon"),
    ("GB", "United Kingdom"),
    ("GD", "Grenada"),
    ("GE", "Georgia"),
    ("GF", "French Guiana"),
    ("GG", "Guernsey"),
    ("GH", "Ghana"),
    ("GI", "Gibraltar"),
    ("GL", "Greenland"),
    ("GM", "Gambia"),
    ("GN", "Guinea"),
    ("GP", "Guadeloupe"),
    ("GQ", "Equatorial Guinea"),
    ("GR", "Greece"),
    ("GT", "Guatemala"),
    ("GU", "Guam"),
    ("GW", "Guinea-Bissau"),
    ("GY", "Guyana"),
    ("HK", "Hong Kong"),
    ("HN", "Honduras"),
    ("HR", "Croatia"),
    ("HT", "Haiti"),
    ("HU", "Hungary"),
    ("ID", "Indonesia"),
    ("IE", "Ireland"),
    ("IL", "Israel"),
    ("IM", "Isle of Man"),
    ("IN", "India"),
    ("IO", "British Indian Ocean Territory"),
    ("IQ", "Iraq"),
    ("IR", "Iran"),
    ("IS", "Iceland"),
    ("IT", "Italy"),
    ("JE", "Jersey"),
    ("JM", "Jamaica"),
    ("JO", "Jordan"),
    ("JP", "Japan"),
    ("KE", "Kenya"),
    ("KG", "Kyrgyzstan"),
    ("KH", "Cambodia"),
    ("KI", "Kiribati"),
    ("KM", "Comoros"),
    ("KN", "Saint Kitts and Nevis"),
    ("KP", "North Korea"),
    ("KR", "South Korea"),
    ("KW", "Kuwait"),
    ("KY", "Cayman Islands"),
    ("KZ", "Kazakhstan"),
    ("LA", "Laos"),
    ("LB", "Lebanon"),
    ("LC", "Saint Lucia"),
    ("LI", "Liechtenstein"),
    ("LK", "Sri Lanka"),
    ("LR", "Liberia"),
    ("LS", "Lesotho"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("LV", "Latvia"),
    ("LY", "Libya"),
    ("MA", "Morocco"),
    ("MC", "Monaco"),
    ("MD", "Moldova"),
    ("ME", "Montenegro"),
    ("MF", "Saint Martin"),
    ("MG", "Madagascar"),
    ("MH", "Marshall Islands"),
    ("MK", "North Macedonia"),
    ("ML", "Mali"),
    ("MM", "Myanmar"),
    ("MN", "Mongolia"),
    ("MO", "Macao"),
    ("MP", "Northern Mariana Islands"),
    ("MQ", "Martinique"),
    ("MR", "Mauritania"),
    ("MS", "Montserrat"),
    ("MT", "Malta"),
    ("MU", "Mauritius"),
    ("MV", "Maldives"),
    ("MW", "Malawi"),
    ("MX", "Mexico"),
    ("MY", "Malaysia"),
    ("MZ", "Mozambique"),
    ("NA", "Namibia"),
    ("NC", "New Caledonia"),
    ("NE", "Niger"),
    ("NF", "Norfolk Island"),
    ("NG", "Nigeria"),
    ("NI", "Nicaragua"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("NP", "Nepal"),
    ("NR", "Nauru"),
    ("NU", "Niue"),
    ("NZ", "New Zealand"),
    ("OM", "Oman"),
    ("PA", "Panama"),
    ("PE", "Peru"),
    ("PF", "French Polynesia"),
    ("PG", "Papua New Guinea"),
    ("PH", "Philippines"),
    ("PK", "Pakistan"),
    ("PL", "Poland"),
    ("PM", "Saint Pierre and Miquelon"),
    ("PR", "Puerto Rico"),
    ("PS", "Palestine"),
    ("PT", "Portugal"),
    ("PW", "Palau"),
    ("PY", "Paraguay"),
    ("QA", "Qatar"),
    ("RE", "Réunion"),
    ("RO", "Romania"),
    ("RS", "Serbia"),
    ("RU", "Russia"),
    ("RW", "Rwanda"),
    ("SA", "Saudi Arabia"),
    ("SB", "Solomon Islands"),
    ("SC", "Seychelles"),
    ("SD", "Sudan"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("SH", "Saint Helena"),
    ("SI", "Slovenia"),
    ("SJ", "Svalbard and Jan Mayen"),
    ("SK", "Slovakia"),
    ("SL", "Sierra Leone"),
    ("SM", "San Marino"),
    ("SN", "Senegal"),
    ("SO", "Somalia"),
    ("SR", "Suriname"),
    ("SS", "South Sudan"),
    ("ST", "São Tomé and Príncipe"),
    ("SV", "El Salvador"),
    ("SX", "Sint Maarten"),
    ("SY", "Syria"),
    ("SZ", "Eswatini"),
    ("TA", "Tristan da Cunha"),
    ("TC", "Turks and Caicos Islands"),
    ("TD", "Chad"),
    ("TG", "Togo"),
    ("TH", "Thailand"),
    ("TJ", "Tajikistan"),
    ("TK", "Tokelau"),
    ("TL", "Timor-Leste"),
    ("TM", "Turkmenistan"),
    ("TN", "Tunisia"),
    ("TO", "Tonga"),
    ("TR", "Türkiye"),
    ("TT", "Trinidad and Tobago"),
    ("TV", "Tuvalu"),
    ("TW", "Taiwan"),
    ("TZ", "Tanzania"),
    ("UA", "Ukraine"),
    ("UG", "Uganda"),
    ("US", "United States"),
    ("UY", "Uruguay"),
    ("UZ", "Uzbekistan"),
    ("VA", "Vatican City"),
    ("VC", "Saint Vincent and the Grenadines"),
    ("VE", "Venezuela"),
    ("VG", "British Virgin Islands"),
    ("VI", "U.S. Virgin Islands"),
    ("VN", "Vietnam"),
    ("VU", "Vanuatu"),
    ("WF", "Wallis and Futuna"),
    ("WS", "Samoa"),
    ("XK", "Kosovo"),
    ("YE", "Yemen"),
    ("YT", "Mayotte"),
    ("ZA", "South Africa"),
    ("ZM", "Zambia"),
    ("ZW", "Zimbabwe"),
];

/// The region `code` (case-insensitive ISO 3166 alpha-2), when libphonenumber knows it.
pub fn region(code: &str) -> Option<country::Id> {
    let code = code.trim().to_ascii_uppercase();
    let id: country::Id = code.parse().ok()?;
    DATABASE.by_id(code.as_str())?;
    Some(id)
}

/// Every region libphonenumber knows, with its calling code and English name, by name.
pub fn countries() -> Vec<Country> {
    let mut out: Vec<Country> = NAMES
        .iter()
        .filter_map(|(code, name)| {
            let meta = DATABASE.by_id(*code)?;
            Some(Country {
                region: (*code).to_string(),
                calling_code: meta.country_code(),
                name: (*name).to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn country_name(code: &str) -> &str {
    NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
        .unwrap_or(code)
}

/// Reads `input` as a phone number of `region` (a number with `+` keeps its own country).
/// Only numbers libphonenumber holds valid are accepted; the error is a sentence for the
/// agent.
pub fn check(input: &str, region_code: &str) -> Result<PhoneCheck, String> {
    let Some(id) = region(region_code) else {
        return Err(format!("{region_code:?} is not a country dialdeck knows."));
    };
    let typed = input.trim();
    if typed.is_empty() {
        return Err("Type a phone number first.".to_string());
    }
    if typed
        .chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '+' | '/')))
    {
        return Err(format!(
            "{typed:?} is not a phone number: use digits and + ( ) - . / only."
        ));
    }
    let number = phonenumber::parse(Some(id), typed)
        .map_err(|_| format!("{typed:?} cannot be read as a phone number."))?;
    if !phonenumber::is_valid(&number) {
        let code = region_code.trim().to_ascii_uppercase();
        return Err(format!(
            "{typed:?} is not a valid phone number in {} (+{}); check the digits or choose the number's country.",
            country_name(&code),
            number.code().value()
        ));
    }
    let national = number.national();
    let national_number = format!(
        "{}{}",
        "0".repeat(usize::from(national.zeros())),
        national.value()
    );
    let region = region_of(number.code().value(), &national_number);
    Ok(PhoneCheck {
        e164: number.format().mode(Mode::E164).to_string(),
        formatted: number.format().mode(Mode::International).to_string(),
        phone_code: number.code().value().to_string(),
        national_number,
        region,
    })
}

/// The region of a valid number. Where regions share a calling code (+1, +39 Italy and the
/// Vatican, ...) the one whose numbering plan holds the number, by leading digits first. The
/// crate's own lookup drops the national number's leading zeros, which Italian numbers need.
fn region_of(code: u16, national: &str) -> Option<String> {
    let ids = DATABASE.region(&code)?;
    let fits: Vec<&phonenumber::Metadata> = ids
        .iter()
        .filter(|id| **id != "001")
        .filter_map(|id| DATABASE.by_id(*id))
        .filter(|m| m.descriptors().general().is_match(national))
        .collect();
    let leading = |m: &&&phonenumber::Metadata| {
        m.leading_digits()
            .is_some_and(|re| re.find(national).is_some_and(|f| f.start() == 0))
    };
    fits.iter()
        .find(leading)
        .or_else(|| fits.iter().find(|m| m.is_main_country_for_code()))
        .or(fits.first())
        .map(|m| m.id().to_string())
}

/// `POST /api/phone/check`: how a number reads in the agent's (or the default) region, or
/// `400 invalid_phone_number` with a sentence.
pub(super) async fn phone_check(
    State(state): State<AppState>,
    CurrentAgent(_agent): CurrentAgent,
    ApiJson(req): ApiJson<PhoneCheckRequest>,
) -> Result<Json<PhoneCheck>, ApiError> {
    let v = vicidial(&state)?;
    let region = req
        .country
        .as_deref()
        .unwrap_or(&v.args.default_country)
        .to_string();
    if self::region(&region).is_none() {
        return Err(ApiError::bad_request(
            "invalid_country",
            format!("{region:?} is not a country dialdeck knows."),
        ));
    }
    check(&req.phone_number, &region)
        .map(Json)
        .map_err(|m| ApiError::bad_request("invalid_phone_number", m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_vicidial_dials_them() {
        // No US exchange starts with 1.
        let us = check("(312) 155-1212", "US").unwrap_err();
        assert!(
            us.contains("not a valid phone number in United States"),
            "{us}"
        );
        let us = check("(312) 555-1212", "us").unwrap();
        assert_eq!(
            (
                us.e164.as_str(),
                us.phone_code.as_str(),
                us.national_number.as_str()
            ),
            ("+13125551212", "1", "3125551212")
        );
        assert_eq!(us.formatted, "+1 312-555-1212");
        assert_eq!(us.region.as_deref(), Some("US"));
        // Italy keeps its leading zero in the national number VICIdial dials.
        let it = check("02 1234 5678", "IT").unwrap();
        assert_eq!(
            (
                it.e164.as_str(),
                it.phone_code.as_str(),
                it.national_number.as_str()
            ),
            ("+390212345678", "39", "0212345678")
        );
        assert_eq!(it.region.as_deref(), Some("IT"));
        // +39 06 698 is the Vatican's range of Rome's numbers.
        assert_eq!(
            check("06 6982 1234", "IT").unwrap().region.as_deref(),
            Some("VA")
        );
        // A number with + keeps its own country whatever the region.
        let gb = check("+44 20 7946 0018", "US").unwrap();
        assert_eq!(
            (gb.phone_code.as_str(), gb.national_number.as_str()),
            ("44", "2079460018")
        );
        assert_eq!(gb.region.as_deref(), Some("GB"));
        assert!(check("12345", "US").is_err());
        assert!(check("312555121x", "US")
            .unwrap_err()
            .contains("use digits"));
        assert!(check("", "US").is_err());
        assert!(check("4155552671", "ZZ")
            .unwrap_err()
            .contains("not a country"));
    }

    #[test]
    fn every_region_libphonenumber_knows_has_a_name() {
        let all = countries();
        assert_eq!(
            all.len(),
            DATABASE.iter().filter(|m| m.id().len() == 2).count()
        );
        let us = all.iter().find(|c| c.region == "US").unwrap();
        assert_eq!((us.calling_code, us.name.as_str()), (1, "United States"));
        assert_eq!(
            all.iter().find(|c| c.region == "IT").unwrap().calling_code,
            39
        );
        assert!(region("xk").is_some() && region("ZZ").is_none());
    }
}
