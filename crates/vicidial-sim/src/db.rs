//! Small helpers over `sqlx` rows and the clock. Queries select strings through `COALESCE`
//! and numbers through `CAST(.. AS SIGNED)`, so every column reads as `String` or `i64`.

use chrono::{DateTime, Local, Utc};
use sqlx::{mysql::MySqlRow, Row};

/// A string column (NULL reads as `""`).
pub fn s(row: &MySqlRow, col: &str) -> String {
    match row.try_get::<Option<String>, _>(col) {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => row
            .try_get::<Option<Vec<u8>>, _>(col)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
    }
}

/// A numeric column (NULL reads as 0).
pub fn n(row: &MySqlRow, col: &str) -> i64 {
    if let Ok(v) = row.try_get::<Option<i64>, _>(col) {
        return v.unwrap_or(0);
    }
    if let Ok(v) = row.try_get::<Option<u64>, _>(col) {
        return v.unwrap_or(0) as i64;
    }
    s(row, col).trim().parse().unwrap_or(0)
}

/// The server clock as VICIdial's PHP sees it.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub local: DateTime<Local>,
    pub utc: DateTime<Utc>,
}

impl Now {
    pub fn get() -> Now {
        let utc = Utc::now();
        Now {
            local: utc.with_timezone(&Local),
            utc,
        }
    }

    /// `date("U")`.
    pub fn epoch(&self) -> i64 {
        self.utc.timestamp()
    }

    /// `date("Y-m-d H:i:s")`, local time.
    pub fn datetime(&self) -> String {
        self.local.format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// `date("mdHis")`, local time (the date part of call IDs).
    pub fn cid_date(&self) -> String {
        self.local.format("%m%d%H%M%S").to_string()
    }
}
