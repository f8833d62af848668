//! A realistic VICIdial dataset for tests and local development.
//!
//! Agents (`vicidial_users`): `1001` (plain password, manual dial allowed, phone `cc1001`),
//! `1002` (bcrypt password per VICIdial's `pass_hash`, phone `cc1002`), `1003` (inactive),
//! `1004` (locked out: 10 failed logins a minute ago), `1005` (not allowed to place manual
//! calls: `agentcall_manual='0'`, phone `cc1005`), `admin` (level 9, no API access),
//! `apiuser`/`apipass` (level 8, API-only, Agent and Non-Agent API rights; its
//! `last_login_date` is the seed time, so ten bad API passwords lock it for 15 minutes).
//! The Agent API is on (`vdc_agent_api_active='1'`).
//!
//! Campaigns: `TESTCAMP` (manual dial, `api_manual_dial='STANDARD'`, logins without hopper
//! leads, manual leads in list 998, no DNC lists) with a campaign status `CB` (scheduled
//! callback) and its own `SALE` override; `DNCCAMP` (the same, with `use_internal_dnc='Y'`,
//! `use_campaign_dnc='Y'` and `manual_dial_filter='DNC_ONLY'`). System statuses come from the
//! schema's own seed block. Leads 1..=5 in list 101 (a list of TESTCAMP); leads 6 and 7 hold scheduled callbacks.
//! User groups, allowed campaigns, pause codes and hotkeys: see [`DESK_SEED`].

use sqlx::{Executor, MySqlConnection};

/// Plain password of agent `1001`.
pub const PLAIN_PASSWORD: &str = "agentpass1";
/// Password of agent `1002`, stored only as VICIdial's bcrypt `pass_hash`.
pub const BCRYPT_PASSWORD: &str = "agentpass1";
/// `system_settings.pass_key` the bcrypt hashes are made with.
pub const PASS_KEY: &str = "k3yK3yk3yK3yk3yZ";
/// VICIdial's `pass_hash` of [`BCRYPT_PASSWORD`] with [`PASS_KEY`] at cost 2 (reference §7).
pub const BCRYPT_PASS_HASH: &str = "NTVhc2Bi1gBb.lMgFsuJS8fyQTf/xPq";
/// The API user (level 8, `api_only_user='1'`).
pub const API_USER: &str = "apiuser";
/// Password of [`API_USER`].
pub const API_PASS: &str = "apipass";
/// Plain password of agent `1005` (no manual dial).
pub const NO_MANUAL_PASSWORD: &str = "agentpass5";
/// `phones.pass` of every seeded phone.
pub const PHONE_PASS: &str = "phonepass";

/// `servers.web_socket_url` of the telephony server.
pub const WEB_SOCKET_URL: &str = "wss://dialer.example:8089/ws";

/// Fills `conn` (a database with the schema loaded). `pass_hash_enabled` chooses whether
/// VICIdial checks `pass_hash` (bcrypt) instead of `pass`.
pub async fn seed(conn: &mut MySqlConnection, pass_hash_enabled: bool) -> anyhow::Result<()> {
    let enabled = if pass_hash_enabled { "1" } else { "0" };
    let statements = [
        format!(
            "UPDATE system_settings SET pass_hash_enabled = '{enabled}', pass_key = '{PASS_KEY}', pass_cost = 2, \
             vdc_agent_api_active = '1'"
        ),
        format!(
            "INSERT INTO servers (server_id, server_description, server_ip, active, asterisk_version, \
             active_asterisk_server, web_socket_url, external_server_ip) VALUES \
             ('dialer1', 'Telephony 1', '10.10.0.5', 'Y', '18.20.0', 'Y', '{WEB_SOCKET_URL}', 'dialer.example')"
        ),
        "INSERT INTO phones (extension, dialplan_number, voicemail_id, server_ip, login, pass, status, active, \
         protocol, conf_secret, is_webphone, webphone_auto_answer, fullname) VALUES \
         ('cc1001', '1001', '1001', '10.10.0.5', 'cc1001', 'phonepass', 'ACTIVE', 'Y', 'SIP', 'sip-secret-1001', 'Y', 'Y', 'Ada Agent'), \
         ('cc1002', '1002', '1002', '10.10.0.5', 'cc1002', 'phonepass', 'ACTIVE', 'Y', 'SIP', 'sip-secret-1002', 'Y', 'Y', 'Bea Agent'), \
         ('cc1005', '1005', '1005', '10.10.0.5', 'cc1005', 'phonepass', 'ACTIVE', 'Y', 'SIP', 'sip-secret-1005', 'Y', 'Y', 'Flo Nomanual')"
            .to_string(),
        format!(
            "INSERT INTO vicidial_users (user, pass, full_name, user_level, user_group, phone_login, phone_pass, \
             agentcall_manual, active, failed_login_count, last_login_date, pass_hash, api_only_user) VALUES \
             ('1001', '{PLAIN_PASSWORD}', 'Ada Agent', 1, 'AGENTS', 'cc1001', 'phonepass', '1', 'Y', 0, '2026-01-01 00:00:00', '', '0'), \
             ('1002', '', 'Bea Agent', 1, 'AGENTS', 'cc1002', 'phonepass', '1', 'Y', 0, '2026-01-01 00:00:00', '{BCRYPT_PASS_HASH}', '0'), \
             ('1003', 'gone', 'Cy Former', 1, 'AGENTS', '', '', '1', 'N', 0, '2026-01-01 00:00:00', '', '0'), \
             ('1004', 'locked1', 'Di Locked', 1, 'AGENTS', '', '', '1', 'Y', 10, NOW() - INTERVAL 1 MINUTE, '', '0'), \
             ('1005', '{NO_MANUAL_PASSWORD}', 'Flo Nomanual', 1, 'AGENTS', 'cc1005', 'phonepass', '0', 'Y', 0, '2026-01-01 00:00:00', '', '0'), \
             ('admin', 'adminpass', 'Ed Admin', 9, 'ADMIN', '', '', '1', 'Y', 0, '2026-01-01 00:00:00', '', '0'), \
             ('apiuser', 'apipass', 'API account', 8, 'ADMIN', '', '', '0', 'Y', 0, NOW(), '', '1')"
        ),
        "UPDATE vicidial_users SET vdc_agent_api_access = '1', modify_leads = '1', view_reports = '1', modify_lists = '1' \
         WHERE user = 'apiuser'"
            .to_string(),
        "INSERT INTO vicidial_campaigns (campaign_id, campaign_name, active, dial_method, auto_dial_level, api_manual_dial, \
         no_hopper_leads_logins, manual_dial_list_id, campaign_cid, use_internal_dnc, use_campaign_dnc, manual_dial_filter) VALUES \
         ('TESTCAMP', 'Test campaign', 'Y', 'MANUAL', '0', 'STANDARD', 'Y', 998, '3125550000', 'N', 'N', 'NONE'), \
         ('DNCCAMP', 'DNC campaign', 'Y', 'MANUAL', '0', 'STANDARD', 'Y', 998, '3125550000', 'Y', 'Y', 'DNC_ONLY')"
            .to_string(),
        "INSERT INTO vicidial_campaign_statuses (status, status_name, selectable, campaign_id, human_answered, sale, \
         dnc, customer_contact, not_interested, unworkable, scheduled_callback, completed) VALUES \
         ('CB', 'Call Back Later', 'Y', 'TESTCAMP', 'Y', 'N', 'N', 'Y', 'N', 'N', 'Y', 'N'), \
         ('SALE', 'Sale - Campaign', 'Y', 'TESTCAMP', 'Y', 'Y', 'N', 'Y', 'N', 'N', 'N', 'Y'), \
         ('XFERX', 'Hidden campaign status', 'N', 'TESTCAMP', 'N', 'N', 'N', 'N', 'N', 'N', 'N', 'N')"
            .to_string(),
        "INSERT INTO vicidial_list (lead_id, entry_date, status, list_id, phone_code, phone_number, first_name, \
         last_name, address1, city, state, postal_code, email, comments, called_count) VALUES \
         (1, NOW(), 'NEW', 101, '1', '3125551001', 'Grace', 'Hopper', '1 Navy Way', 'Arlington', 'VA', '22201', 'grace@example.com', 'Prefers mornings', 0), \
         (2, NOW(), 'NA', 101, '1', '3125551002', 'Alan', 'Turing', '2 Bletchley Rd', 'Chicago', 'IL', '60601', '', '', 3), \
         (3, NOW(), 'CALLBK', 101, '44', '2079460000', 'Ada', 'Lovelace', '3 St James Sq', 'London', '', 'SW1Y', 'ada@example.co.uk', 'Call after 5pm', 1), \
         (4, NOW(), 'NEW', 101, '1', '3125551004', 'Edsger', 'Dijkstra', '', 'Austin', 'TX', '78701', '', '', 0), \
         (5, NOW(), 'NEW', 101, '1', '3125551005', 'Barbara', 'Liskov', '', 'Boston', 'MA', '02108', '', '', 0)"
            .to_string(),
    ];
    // VICIdial's own schema has these tables; the schema file leaves them out.
    for ddl in crate::tables::DDL {
        conn.execute(*ddl).await?;
    }
    for sql in &statements {
        conn.execute(sql.as_str()).await?;
    }
    for sql in DESK_SEED {
        conn.execute(*sql).await?;
    }
    Ok(())
}

/// What an agent's desk shows besides calls: user groups and the campaigns they may log
/// into, campaign names, pause codes, status hotkeys, callback settings and scheduled
/// callbacks (one due now for `1001` only, one tomorrow for anyone in `TESTCAMP`).
const DESK_SEED: &[&str] = &[
    "INSERT INTO vicidial_user_groups (user_group, group_name, allowed_campaigns) VALUES \
     ('AGENTS', 'Agents', ' TESTCAMP DNCCAMP -'), \
     ('ADMIN', 'VICIDIAL ADMINISTRATORS', ' -ALL-CAMPAIGNS- - -')",
    "UPDATE vicidial_campaigns SET agent_pause_codes_active = 'Y', scheduled_callbacks = 'Y', \
     my_callback_option = 'CHECKED', callback_days_limit = 30",
    "INSERT INTO vicidial_lists (list_id, list_name, campaign_id, active, list_changedate) VALUES \
     (101, 'Test leads', 'TESTCAMP', 'Y', NOW())",
    "INSERT INTO vicidial_pause_codes (pause_code, pause_code_name, billable, campaign_id) VALUES \
     ('BREAK', 'Short break', 'NO', 'TESTCAMP'), ('LUNCH', 'Lunch', 'NO', 'TESTCAMP'), \
     ('TRAIN', 'Training', 'YES', 'TESTCAMP'), ('BREAK', 'Short break', 'NO', 'DNCCAMP')",
    "INSERT INTO vicidial_campaign_hotkeys (status, hotkey, status_name, selectable, campaign_id) VALUES \
     ('SALE', '1', 'Sale - Campaign', 'Y', 'TESTCAMP'), ('NI', '2', 'Not Interested', 'Y', 'TESTCAMP'), \
     ('CB', '3', 'Call Back Later', 'Y', 'TESTCAMP'), ('N', '4', 'No Answer', 'Y', 'TESTCAMP'), \
     ('B', '5', 'Busy', 'Y', 'TESTCAMP'), ('DNC', '6', 'DO NOT CALL', 'Y', 'TESTCAMP')",
    "UPDATE vicidial_users SET scheduled_callbacks = '1', agentonly_callbacks = '1' WHERE user_level < 8",
    "INSERT INTO vicidial_list (lead_id, entry_date, status, list_id, phone_code, phone_number, first_name, \
     last_name, address1, city, state, postal_code, email, comments, called_count) VALUES \
     (6, NOW(), 'CBHOLD', 101, '1', '3125551006', 'Katherine', 'Johnson', '6 Langley Ct', 'Hampton', 'VA', '23666', 'kj@example.com', 'Asked for a callback', 1), \
     (7, NOW(), 'CBHOLD', 101, '1', '3125551007', 'Margaret', 'Hamilton', '7 Apollo Dr', 'Cambridge', 'MA', '02139', '', '', 2)",
    "INSERT INTO vicidial_callbacks (lead_id, list_id, campaign_id, status, entry_time, callback_time, user, \
     recipient, comments, user_group, lead_status) VALUES \
     (6, 101, 'TESTCAMP', 'LIVE', NOW() - INTERVAL 1 DAY, NOW() - INTERVAL 10 MINUTE, '1001', 'USERONLY', 'Wants the premium plan', 'AGENTS', 'CB'), \
     (7, 101, 'TESTCAMP', 'ACTIVE', NOW() - INTERVAL 1 DAY, NOW() + INTERVAL 1 DAY, '1002', 'ANYONE', 'Call after 10am', 'AGENTS', 'CALLBK')",
];

#[cfg(test)]
mod tests {
    use sqlx::{ConnectOptions, Row};

    use super::*;
    use crate::mariadb::MariaDb;

    #[tokio::test]
    async fn schema_loads_and_seed_is_readable() {
        let db = MariaDb::shared();
        let name = db.fresh_database().await.unwrap();
        let mut conn = db.options(&name).connect().await.unwrap();
        seed(&mut conn, true).await.unwrap();
        let row = sqlx::query("SELECT COUNT(*) AS n FROM vicidial_statuses WHERE selectable = 'Y'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(
            row.get::<i64, _>("n") >= 5,
            "stock statuses from the schema's seed"
        );
        let hash: String =
            sqlx::query_scalar("SELECT pass_hash FROM vicidial_users WHERE user = '1002'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(hash, BCRYPT_PASS_HASH);
        // The classic TIMESTAMP behaviour VICIdial needs is on.
        let ts: Option<String> = sqlx::query_scalar(
            "SELECT CAST(modify_date AS CHAR) FROM vicidial_list WHERE lead_id = 1",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(
            ts.is_some(),
            "vicidial_list.modify_date is filled automatically"
        );
    }
}
