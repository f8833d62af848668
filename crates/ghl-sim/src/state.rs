//! The simulator's view of a GHL account: contacts (with tags, DND, workflow and campaign
//! membership), opportunities, tasks and notes, per location.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A contact as the simulator stores it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// GHL id.
    pub id: String,
    /// The sub-account.
    pub location_id: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email, as given.
    pub email: Option<String>,
    /// Phone, as given (dialdeck sends E.164).
    pub phone: Option<String>,
    /// Tags, lower-cased as GHL stores them.
    pub tags: BTreeSet<String>,
    /// The global DND switch.
    pub dnd: bool,
    /// Per-channel DND (`DndSettingsSchema`), as last written.
    pub dnd_settings: Map<String, Value>,
    /// Workflows the contact is enrolled in.
    pub workflows: BTreeSet<String>,
    /// Campaigns the contact is enrolled in.
    pub campaigns: BTreeSet<String>,
    /// Any other field written by create/update.
    pub other: Map<String, Value>,
}

impl Contact {
    /// The JSON GHL returns for a contact.
    pub fn to_json(&self) -> Value {
        let mut m = self.other.clone();
        m.insert("id".into(), self.id.clone().into());
        m.insert("locationId".into(), self.location_id.clone().into());
        for (k, v) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
            ("email", &self.email),
            ("phone", &self.phone),
        ] {
            m.insert(
                k.into(),
                v.clone().map(Value::String).unwrap_or(Value::Null),
            );
        }
        m.insert(
            "tags".into(),
            self.tags.iter().cloned().map(Value::String).collect(),
        );
        m.insert("dnd".into(), self.dnd.into());
        m.insert(
            "dndSettings".into(),
            Value::Object(self.dnd_settings.clone()),
        );
        Value::Object(m)
    }
}

/// An opportunity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Opportunity {
    /// GHL id.
    pub id: String,
    /// The sub-account.
    pub location_id: String,
    /// Name.
    pub name: String,
    /// Pipeline.
    pub pipeline_id: String,
    /// Stage, if given.
    pub pipeline_stage_id: Option<String>,
    /// `open`, `won`, `lost`, `abandoned`.
    pub status: String,
    /// The contact.
    pub contact_id: String,
    /// Value, if given.
    pub monetary_value: Option<f64>,
    /// Assigned user, if given.
    pub assigned_to: Option<String>,
    /// When it was created, ISO-8601 (`2026-12-01T15:30:00.000Z`), as GHL's `createdAt`.
    #[serde(default)]
    pub created_at: String,
    /// `createdAt` in Unix milliseconds: the search's sort key and `startAfter` cursor.
    #[serde(skip)]
    pub created_ms: i64,
}

/// A task on a contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// GHL id.
    pub id: String,
    /// The contact.
    pub contact_id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// Due date as sent (ISO-8601).
    pub due_date: String,
    /// Completed flag.
    pub completed: bool,
    /// Assigned user.
    pub assigned_to: Option<String>,
}

/// A note on a contact's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// GHL id.
    pub id: String,
    /// The contact.
    pub contact_id: String,
    /// Body.
    pub body: String,
    /// Author user, if given.
    pub user_id: Option<String>,
}

/// Everything the simulated account holds.
#[derive(Debug, Default)]
pub struct Store {
    next_id: u64,
    /// Contacts by id.
    pub contacts: BTreeMap<String, Contact>,
    /// Opportunities by id.
    pub opportunities: BTreeMap<String, Opportunity>,
    /// Tasks by id.
    pub tasks: BTreeMap<String, Task>,
    /// Notes by id.
    pub notes: BTreeMap<String, Note>,
    last_created_ms: i64,
}

impl Store {
    /// A fresh 20-character id with a readable prefix (GHL ids are 20 characters).
    pub fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        let n = self.next_id;
        format!("{prefix}{n:0>width$}", width = 20 - prefix.len())
    }

    /// A creation time for a new object: now, in Unix milliseconds, and never before the last
    /// one handed out, so objects sort in the order they were made.
    pub fn created_now(&mut self) -> (i64, String) {
        let now = chrono::Utc::now()
            .timestamp_millis()
            .max(self.last_created_ms + 1);
        self.last_created_ms = now;
        let text = chrono::DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        (now, text)
    }

    /// Duplicate search the way GHL's `/contacts/search/duplicate` does it: email first, then
    /// phone, within the location.
    pub fn find_duplicate(
        &self,
        location: &str,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> Option<&Contact> {
        let in_loc = || self.contacts.values().filter(|c| c.location_id == location);
        if let Some(email) = email.filter(|e| !e.is_empty()) {
            if let Some(c) = in_loc().find(|c| {
                c.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            }) {
                return Some(c);
            }
        }
        if let Some(phone) = phone.map(normalise_phone).filter(|p| !p.is_empty()) {
            return in_loc()
                .find(|c| c.phone.as_deref().map(normalise_phone) == Some(phone.clone()));
        }
        None
    }
}

/// Digits with a leading `+` kept, for phone comparison.
pub fn normalise_phone(p: &str) -> String {
    let plus = p.trim_start().starts_with('+');
    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
    if plus {
        format!("+{digits}")
    } else {
        digits
    }
}
