//! Which GHL contact a VICIdial lead is.
//!
//! The phone number becomes E.164 with the `phonenumber` crate (the default region comes from
//! the lead's VICIdial `phone_code`). A contact id once found is cached in the store by
//! location and number, so a known contact costs no request. Otherwise GHL's duplicate search
//! runs by phone, then by email; a contact is created only when both find nothing. When the
//! phone and the email point at two different contacts, nothing is written: the caller reports
//! a [`Conflict`] for the agent to resolve instead of guessing. [`look_up`] finds the contact
//! the same way for the agent's screen, without creating one.

use std::str::FromStr;

use crate::store::Store;
use chrono::Utc;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::client::{Call, GhlError};
use super::sync::Counted;
use crate::disposition::Lead;

/// A phone number in E.164 form (`+13125551212`); only [`E164::parse`] makes one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    /// Normalises a VICIdial number. A number that already starts with `+` is read as
    /// international; otherwise `phone_code` (the country calling code, `1` for NANP) picks the
    /// region whose national format it is read in. `None` when it is not a valid number.
    pub fn parse(number: &str, phone_code: &str) -> Option<E164> {
        let number = number.trim();
        if number.is_empty() {
            return None;
        }
        let parsed = if number.starts_with('+') {
            phonenumber::parse(None, number).ok()?
        } else {
            let code: u16 = phone_code.trim().trim_start_matches('+').parse().ok()?;
            let region = phonenumber::metadata::DATABASE
                .region(&code)?
                .first()
                .and_then(|r| phonenumber::country::Id::from_str(r).ok())?;
            phonenumber::parse(Some(region), number).ok()?
        };
        if !phonenumber::is_valid(&parsed) {
            return None;
        }
        Some(E164(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A usable email (trimmed, lower-cased) or `None`.
pub fn normalise_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    (e.len() >= 3 && e.contains('@') && !e.contains(char::is_whitespace)).then_some(e)
}

/// How the contact was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// From dialdeck's cache: no request.
    Cached,
    /// By GHL's duplicate search.
    Found,
    /// Created now.
    Created,
}

/// The lead's GHL contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedContact {
    /// GHL contact id.
    pub id: String,
    /// How it was found.
    pub how: Resolution,
    /// The E.164 number used, if any.
    pub phone: Option<E164>,
}

/// Phone and email of one lead match two different GHL contacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The lead's number (E.164).
    pub phone: String,
    /// The lead's email.
    pub email: String,
    /// The contact the number matches.
    pub phone_contact_id: String,
    /// The contact the email matches.
    pub email_contact_id: String,
}

/// Why no contact could be chosen.
#[derive(Debug)]
pub enum ContactError {
    /// Phone and email match different contacts.
    Conflict(Conflict),
    /// The lead has neither a valid number nor an email.
    NoIdentity,
    /// GHL failed.
    Ghl(GhlError),
    /// The store failed.
    Store(sqlx::Error),
}

impl From<GhlError> for ContactError {
    fn from(e: GhlError) -> Self {
        ContactError::Ghl(e)
    }
}

impl From<sqlx::Error> for ContactError {
    fn from(e: sqlx::Error) -> Self {
        ContactError::Store(e)
    }
}

/// Finds or creates the lead's contact (see the module documentation).
pub async fn resolve(
    ghl: &Counted<'_>,
    store: &Store,
    lead: &Lead,
) -> Result<ResolvedContact, ContactError> {
    let location = ghl.client().location_id().to_string();
    let Identity { phone, email, key } = identity(lead).ok_or(ContactError::NoIdentity)?;
    if let Some(id) = cached(store, &location, &key).await? {
        return Ok(ResolvedContact {
            id,
            how: Resolution::Cached,
            phone,
        });
    }

    let (id, how) = match search(ghl, phone.as_ref().map(E164::as_str), email.as_deref()).await? {
        Some(id) => (id, Resolution::Found),
        None => (
            create(
                ghl,
                lead,
                phone.as_ref().map(E164::as_str),
                email.as_deref(),
            )
            .await?,
            Resolution::Created,
        ),
    };
    remember(store, &location, &key, &id).await?;
    Ok(ResolvedContact { id, how, phone })
}

/// Forgets a cached contact (e.g. after GHL says it no longer exists).
pub async fn forget(store: &Store, location: &str, contact_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM ghl_contacts WHERE location_id = ? AND contact_id = ?")
        .bind(location)
        .bind(contact_id)
        .execute(store)
        .await
        .map(|_| ())
}

/// GHL's duplicate search by `number` or `email`: the contact it finds, as GHL returns it.
async fn duplicate_contact(
    ghl: &Counted<'_>,
    key: &'static str,
    value: &str,
) -> Result<Option<Value>, GhlError> {
    let body = ghl
        .send(
            Call::new(Method::GET, "/contacts/search/duplicate")
                .query("locationId", ghl.client().location_id())
                .query(key, value),
        )
        .await?;
    Ok(body
        .get("contact")
        .filter(|c| c.get("id").and_then(Value::as_str).is_some())
        .cloned())
}

async fn duplicate(
    ghl: &Counted<'_>,
    key: &'static str,
    value: &str,
) -> Result<Option<String>, GhlError> {
    Ok(duplicate_contact(ghl, key, value)
        .await?
        .as_ref()
        .and_then(contact_id)
        .map(str::to_string))
}

fn contact_id(contact: &Value) -> Option<&str> {
    contact.get("id").and_then(Value::as_str)
}

/// The lead's GHL contact as GHL has it, found the way the sync finds it (its cache, then the
/// duplicate search by phone in E.164, then by email) but never created: `None` when GHL has
/// none. When the phone and the email match two contacts the phone's is shown and nothing is
/// cached, so the sync still reports the conflict.
pub async fn look_up(
    ghl: &Counted<'_>,
    store: &Store,
    lead: &Lead,
) -> Result<Option<Value>, ContactError> {
    let location = ghl.client().location_id().to_string();
    let Some(Identity { phone, email, key }) = identity(lead) else {
        return Ok(None);
    };
    if let Some(id) = cached(store, &location, &key).await? {
        let path = format!("/contacts/{}", super::client::seg(&id));
        match ghl.send(Call::new(Method::GET, path)).await {
            Ok(body) => {
                if let Some(c) = body.get("contact").filter(|c| contact_id(c).is_some()) {
                    return Ok(Some(c.clone()));
                }
            }
            // Deleted or merged away in GHL since: look it up again.
            Err(GhlError::Invalid {
                status: 400 | 404, ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
        forget(store, &location, &id).await?;
    }
    let by_phone = match &phone {
        Some(p) => duplicate_contact(ghl, "number", p.as_str()).await?,
        None => None,
    };
    let by_email = match &email {
        Some(e) => duplicate_contact(ghl, "email", e).await?,
        None => None,
    };
    let conflict =
        matches!((&by_phone, &by_email), (Some(a), Some(b)) if contact_id(a) != contact_id(b));
    let Some(found) = by_phone.or(by_email) else {
        return Ok(None);
    };
    if !conflict {
        if let Some(id) = contact_id(&found) {
            remember(store, &location, &key, id).await?;
        }
    }
    Ok(Some(found))
}

/// What a lead is found by in GHL, and the key its contact is cached under (the number when
/// it has a valid one, else the email).
struct Identity {
    phone: Option<E164>,
    email: Option<String>,
    key: String,
}

fn identity(lead: &Lead) -> Option<Identity> {
    let phone = E164::parse(&lead.phone_number, &lead.phone_code);
    let email = normalise_email(&lead.email);
    let key = match (&phone, &email) {
        (Some(p), _) => format!("phone:{p}"),
        (None, Some(e)) => format!("email:{e}"),
        (None, None) => return None,
    };
    Some(Identity { phone, email, key })
}

/// The contact cached for `key` in `location`.
async fn cached(store: &Store, location: &str, key: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT contact_id FROM ghl_contacts WHERE location_id = ? AND lookup_key = ?",
    )
    .bind(location)
    .bind(key)
    .fetch_optional(store)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Caches `id` as the contact of `key` in `location`.
async fn remember(store: &Store, location: &str, key: &str, id: &str) -> sqlx::Result<()> {
    let sql = format!(
        "INSERT INTO ghl_contacts (location_id, lookup_key, contact_id, updated_at)
         VALUES (?, ?, ?, ?) {}",
        crate::store::dialect(store)
            .upsert("location_id, lookup_key", &["contact_id", "updated_at"])
    );
    sqlx::query(&sql)
        .bind(location)
        .bind(key)
        .bind(id)
        .bind(Utc::now().timestamp())
        .execute(store)
        .await
        .map(|_| ())
}

/// Duplicate search by phone, then by email; a conflict when they disagree.
async fn search(
    ghl: &Counted<'_>,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<Option<String>, ContactError> {
    let by_phone = match phone {
        Some(p) => duplicate(ghl, "number", p).await?,
        None => None,
    };
    let by_email = match email {
        Some(e) => duplicate(ghl, "email", e).await?,
        None => None,
    };
    match (by_phone, by_email) {
        (Some(a), Some(b)) if a != b => Err(ContactError::Conflict(Conflict {
            phone: phone.unwrap_or_default().to_string(),
            email: email.unwrap_or_default().to_string(),
            phone_contact_id: a,
            email_contact_id: b,
        })),
        (a, b) => Ok(a.or(b)),
    }
}

/// `POST /contacts/`. A duplicate refusal names the existing contact; a 422 or a lost answer
/// may still have created it (a known GHL quirk), so search again before giving up.
async fn create(
    ghl: &Counted<'_>,
    lead: &Lead,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<String, ContactError> {
    let mut body = Map::new();
    body.insert("locationId".into(), ghl.client().location_id().into());
    let mut put = |k: &str, v: &str| {
        if !v.trim().is_empty() {
            body.insert(k.to_string(), Value::String(v.trim().to_string()));
        }
    };
    put("firstName", &lead.first_name);
    put("lastName", &lead.last_name);
    put("phone", phone.unwrap_or_default());
    put("email", email.unwrap_or_default());
    put("address1", &lead.address1);
    put("city", &lead.city);
    put("state", &lead.state);
    put("postalCode", &lead.postal_code);
    body.insert("source".into(), json!("dialdeck"));
    match ghl
        .send(Call::new(Method::POST, "/contacts/").json(Value::Object(body)))
        .await
    {
        Ok(resp) => resp
            .pointer("/contact/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ContactError::Ghl(GhlError::Unexpected {
                    reason: "create contact answered without contact.id".into(),
                })
            }),
        Err(GhlError::Invalid { body, .. })
            if body
                .pointer("/meta/contactId")
                .and_then(Value::as_str)
                .is_some() =>
        {
            Ok(body
                .pointer("/meta/contactId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string())
        }
        Err(
            e @ (GhlError::Invalid { .. }
            | GhlError::Ambiguous { .. }
            | GhlError::Upstream { .. }
            | GhlError::Timeout),
        ) => match search(ghl, phone, email).await? {
            Some(id) => Ok(id),
            None => Err(ContactError::Ghl(e)),
        },
        Err(e) => Err(ContactError::Ghl(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanp_numbers_get_plus_one() {
        assert_eq!(
            E164::parse("3125551212", "1").as_ref().map(E164::as_str),
            Some("+13125551212")
        );
        assert_eq!(
            E164::parse("(312) 555-1212", "1")
                .as_ref()
                .map(E164::as_str),
            Some("+13125551212")
        );
        assert_eq!(
            E164::parse("+13125551212", "44").as_ref().map(E164::as_str),
            Some("+13125551212")
        );
    }

    #[test]
    fn region_comes_from_phone_code() {
        assert_eq!(
            E164::parse("07911123456", "44").as_ref().map(E164::as_str),
            Some("+447911123456")
        );
        assert_eq!(
            E164::parse("7911123456", "44").as_ref().map(E164::as_str),
            Some("+447911123456")
        );
        assert_eq!(
            E164::parse("030 1234567", "49").as_ref().map(E164::as_str),
            Some("+49301234567")
        );
    }

    #[test]
    fn junk_is_not_a_number() {
        assert_eq!(E164::parse("", "1"), None);
        assert_eq!(E164::parse("12", "1"), None);
        assert_eq!(E164::parse("3125551212", "x"), None);
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(normalise_email(" A@B.com ").as_deref(), Some("a@b.com"));
        assert_eq!(normalise_email("nope"), None);
        assert_eq!(normalise_email(""), None);
    }
}
