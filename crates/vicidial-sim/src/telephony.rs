//! A stand-in for VICIdial's `AST_update.pl` where Kamailio plays the telephony server (the lab
//! and the demo have no Asterisk).
//!
//! `AST_update.pl` asks Asterisk for its channels about twice a second (`core show channels
//! concise`, then a 0.45 s sleep) and keeps `live_sip_channels` (channels of the server's SIP
//! phones, `phones.protocol = 'SIP'` on that `server_ip`) and `live_channels` (everything else:
//! trunks) equal to that list: one row per channel with `channel`, `server_ip`, `extension`
//! (the conference room for a phone in its session) and `channel_data`, inserting what is new
//! and deleting, one row at a time, what is gone. It owns those rows for its `server_ip`.
//!
//! Here the channels are Kamailio's dialogs to the conference rooms: the lab's `kamailio.cfg`
//! calls `dlg_manage()` on every initial INVITE to a room (MeetMe `86000xx`, ConfBridge
//! `9600xxx`, dialled with VICIdial's `2` prefix or without) and stores the number dialled in
//! the dialog variable `room`; [`Telephony`] polls `dlg.list` over Kamailio's JSON-RPC (HTTP,
//! `POST /RPC`) and applies the same rule. A dialog counts once it is answered (states 3 and 4:
//! the phone is in the room) until it ends. Its channel is named as Asterisk names a SIP
//! channel, `SIP/<phone extension>-<8 hex digits>`, the digits being Kamailio's dialog id
//! (`h_entry`, `h_id`); `extension` is the room (`9600051` for `29600051`), `channel_data` the
//! number dialled.
//!
//! When Kamailio cannot be asked, the tables stay as they are (as `AST_update.pl` keeps them
//! through a bad grab) and the error is reported once per outage.

use std::{collections::BTreeSet, time::Duration};

use serde::Deserialize;
use serde_json::json;
use sqlx::MySqlPool;
use tokio::task::JoinHandle;

/// How the stand-in reaches Kamailio and which VICIdial server it keeps the tables for.
#[derive(Clone, Debug)]
pub struct TelephonyOptions {
    /// Kamailio's JSON-RPC URL, e.g. `http://127.0.0.1:5071/RPC`.
    pub rpc_url: String,
    /// The telephony server (`servers.server_ip`) whose rows this process owns, as
    /// `AST_update.pl`'s `VARserver_ip`.
    pub server_ip: String,
    /// Time between two polls (`AST_update.pl`: 0.45 s).
    pub interval: Duration,
}

impl TelephonyOptions {
    /// Options with `AST_update.pl`'s interval.
    pub fn new(rpc_url: impl Into<String>, server_ip: impl Into<String>) -> TelephonyOptions {
        TelephonyOptions {
            rpc_url: rpc_url.into(),
            server_ip: server_ip.into(),
            interval: Duration::from_millis(450),
        }
    }
}

/// A dialog's state as Kamailio's dialog module numbers it (`dlg.list` field `state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogState {
    /// 1: the INVITE is out, no reply with a To tag yet.
    Unconfirmed,
    /// 2: a provisional reply (ringing).
    Early,
    /// 3: answered, the ACK has not arrived yet.
    ConfirmedNoAck,
    /// 4: answered and acknowledged.
    Confirmed,
    /// 5: ended (Kamailio lists it for a while longer).
    Deleted,
}

impl DialogState {
    /// Kamailio's number for the state; `None` for one it does not define.
    pub fn from_code(code: u8) -> Option<DialogState> {
        Some(match code {
            1 => DialogState::Unconfirmed,
            2 => DialogState::Early,
            3 => DialogState::ConfirmedNoAck,
            4 => DialogState::Confirmed,
            5 => DialogState::Deleted,
            _ => return None,
        })
    }

    /// The caller is in the room: answered and not ended.
    pub fn in_room(self) -> bool {
        matches!(self, DialogState::ConfirmedNoAck | DialogState::Confirmed)
    }
}

/// One dialog from `dlg.list`, the fields the stand-in reads.
#[derive(Clone, Debug, Deserialize)]
pub struct Dialog {
    /// Hash table entry (first half of Kamailio's dialog id).
    pub h_entry: u32,
    /// Id within the entry (second half).
    pub h_id: u32,
    /// [`DialogState`] as a number.
    pub state: u8,
    /// The caller's From URI, e.g. `sip:cc1001@siplab.test`.
    pub from_uri: String,
    /// The To URI.
    pub to_uri: String,
    /// Dialog variables: the lab's config sets `room` to the number dialled.
    #[serde(default)]
    pub variables: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl Dialog {
    /// The number dialled: the `room` variable, else the To URI's user part.
    pub fn dialled(&self) -> String {
        self.variables
            .iter()
            .find_map(|v| v.get("room").and_then(|r| r.as_str()))
            .map(str::to_string)
            .unwrap_or_else(|| uri_user(&self.to_uri).to_string())
    }

    /// The caller's user part (for a phone: `phones.extension`).
    pub fn caller(&self) -> &str {
        uri_user(&self.from_uri)
    }

    /// The channel name, as Asterisk names a SIP channel of `caller`.
    pub fn channel(&self) -> String {
        // 4 hex digits each: Kamailio's hash size is at most 2^14 entries and h_id wraps per
        // entry, so the pair stays unique among the dialogs alive at once.
        format!(
            "SIP/{}-{:04x}{:04x}",
            self.caller(),
            self.h_entry & 0xffff,
            self.h_id & 0xffff
        )
    }
}

/// `sip:user@host;params` → `user` (empty when there is none).
fn uri_user(uri: &str) -> &str {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    rest.split_once('@').map(|(u, _)| u).unwrap_or("")
}

/// The conference room a dialled number reaches, as VICIdial's dialplan maps it: MeetMe
/// `86000xx` as is, ConfBridge `9600xxx` as is or behind the `2` prefix (`29600xxx`).
/// `None` for anything else.
pub fn room_of(dialled: &str) -> Option<&str> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if dialled.starts_with("86000") && digits(dialled, 7) {
        return Some(dialled);
    }
    let confbridge = dialled.strip_prefix('2').unwrap_or(dialled);
    (confbridge.starts_with("9600") && digits(confbridge, 7)).then_some(confbridge)
}

/// Which table a channel belongs in, by `AST_update.pl`'s rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChannelTable {
    /// `live_sip_channels`: a SIP phone of this server.
    SipClient,
    /// `live_channels`: anything else (a trunk).
    Trunk,
}

impl ChannelTable {
    fn name(self) -> &'static str {
        match self {
            ChannelTable::SipClient => "live_sip_channels",
            ChannelTable::Trunk => "live_channels",
        }
    }
}

/// One channel row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChannelRow {
    /// The table it goes in.
    pub table: ChannelTable,
    /// `channel`.
    pub channel: String,
    /// `extension`: the room.
    pub extension: String,
    /// `channel_data`: the number dialled.
    pub channel_data: String,
}

/// What one poll changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Rows inserted.
    pub inserted: Vec<ChannelRow>,
    /// Rows deleted (`channel_data` empty: only `channel` and `extension` are compared).
    pub deleted: Vec<ChannelRow>,
}

/// The rows Kamailio's `dialogs` call for: one per dialog to a room that is answered and not
/// ended; `sip_phones` are the `phones.extension` values of the server's SIP phones.
pub fn rows_for(dialogs: &[Dialog], sip_phones: &BTreeSet<String>) -> BTreeSet<ChannelRow> {
    dialogs
        .iter()
        .filter(|d| DialogState::from_code(d.state).is_some_and(DialogState::in_room))
        .filter_map(|d| {
            let dialled = d.dialled();
            let room = room_of(&dialled)?.to_string();
            let table = if sip_phones.contains(d.caller()) {
                ChannelTable::SipClient
            } else {
                ChannelTable::Trunk
            };
            Some(ChannelRow {
                table,
                channel: d.channel(),
                extension: room,
                channel_data: dialled,
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct RpcAnswer {
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Asks Kamailio for its dialogs (`dlg.list`).
pub async fn list_dialogs(http: &reqwest::Client, rpc_url: &str) -> anyhow::Result<Vec<Dialog>> {
    let res = http
        .post(rpc_url)
        .json(&json!({"jsonrpc": "2.0", "method": "dlg.list", "id": 1}))
        .send()
        .await?;
    let status = res.status();
    anyhow::ensure!(
        status.is_success(),
        "Kamailio's JSON-RPC answered HTTP {status}"
    );
    let answer: RpcAnswer = res.json().await?;
    if let Some(err) = answer.error {
        anyhow::bail!("Kamailio's dlg.list failed: {err}");
    }
    match answer.result {
        // No dialogs at all: Kamailio answers without a result array.
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(v) => Ok(serde_json::from_value(v)?),
    }
}

/// One poll: reads Kamailio's dialogs and makes `live_sip_channels` / `live_channels` of
/// `server_ip` match them. On any error nothing is changed.
pub async fn sync_once(
    pool: &MySqlPool,
    http: &reqwest::Client,
    opts: &TelephonyOptions,
) -> anyhow::Result<SyncReport> {
    let dialogs = list_dialogs(http, &opts.rpc_url).await?;
    let phones: Vec<String> =
        sqlx::query_scalar("SELECT extension FROM phones WHERE protocol = 'SIP' AND server_ip = ?")
            .bind(&opts.server_ip)
            .fetch_all(pool)
            .await?;
    let want = rows_for(&dialogs, &phones.into_iter().collect());

    let mut report = SyncReport::default();
    for table in [ChannelTable::SipClient, ChannelTable::Trunk] {
        let have: Vec<(String, Option<String>)> = sqlx::query_as(&format!(
            "SELECT channel, extension FROM {} WHERE server_ip = ?",
            table.name()
        ))
        .bind(&opts.server_ip)
        .fetch_all(pool)
        .await?;
        let mut have: Vec<(String, String)> = have
            .into_iter()
            .map(|(c, e)| (c, e.unwrap_or_default()))
            .collect();
        for row in want.iter().filter(|r| r.table == table) {
            let key = (row.channel.clone(), row.extension.clone());
            if let Some(i) = have.iter().position(|h| *h == key) {
                have.swap_remove(i);
                continue;
            }
            sqlx::query(&format!(
                "INSERT INTO {} (channel, server_ip, extension, channel_data) VALUES (?, ?, ?, ?)",
                table.name()
            ))
            .bind(&row.channel)
            .bind(&opts.server_ip)
            .bind(&row.extension)
            .bind(&row.channel_data)
            .execute(pool)
            .await?;
            report.inserted.push(row.clone());
        }
        for (channel, extension) in have {
            sqlx::query(&format!(
                "DELETE FROM {} WHERE server_ip = ? AND channel = ? AND extension = ? LIMIT 1",
                table.name()
            ))
            .bind(&opts.server_ip)
            .bind(&channel)
            .bind(&extension)
            .execute(pool)
            .await?;
            report.deleted.push(ChannelRow {
                table,
                channel,
                extension,
                channel_data: String::new(),
            });
        }
    }
    Ok(report)
}

/// The running stand-in: polls until dropped.
pub struct Telephony {
    task: JoinHandle<()>,
}

impl Drop for Telephony {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Telephony {
    /// Starts polling Kamailio every [`TelephonyOptions::interval`] (needs a Tokio runtime).
    pub fn start(pool: MySqlPool, opts: TelephonyOptions) -> Telephony {
        let task = tokio::spawn(async move {
            // Kamailio's xhttp closes every connection after its reply (set_reply_close), so a
            // pooled connection would be dead the next time.
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .pool_max_idle_per_host(0)
                .build()
                .expect("an HTTP client without TLS");
            let mut interval = tokio::time::interval(opts.interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                interval.tick().await;
                match sync_once(&pool, &http, &opts).await {
                    Ok(_) if failing => {
                        failing = false;
                        eprintln!("vicidial-sim telephony: Kamailio answers again");
                    }
                    Ok(_) => {}
                    Err(e) if !failing => {
                        failing = true;
                        eprintln!(
                            "vicidial-sim telephony: cannot read Kamailio's dialogs at {} ({e:#}); \
                             live_sip_channels stays as it is until it answers",
                            opts.rpc_url
                        );
                    }
                    Err(_) => {}
                }
            }
        });
        Telephony { task }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::{http::StatusCode, routing::post, Router};
    use sqlx::ConnectOptions;

    use super::*;
    use crate::{mariadb::MariaDb, seed};

    /// A `dlg.list` answer as Kamailio 5.6 printed it in the lab (one dialog of phone cc1001 in
    /// room 8600051, answered), trimmed to one dialog per state that matters.
    fn answer(dialogs: &[(u32, u32, u8, &str, &str)]) -> String {
        let list: Vec<serde_json::Value> = dialogs
            .iter()
            .map(|&(h_entry, h_id, state, from, room)| {
                json!({
                    "h_entry": h_entry, "h_id": h_id, "ref": 2,
                    "call-id": format!("{h_id}-22040@127.0.0.1"),
                    "from_uri": format!("sip:{from}@siplab.test"),
                    "to_uri": format!("sip:{room}@siplab.test"),
                    "state": state, "start_ts": 1796218260, "init_ts": 1796218260,
                    "end_ts": 0, "duration": 2, "timeout": 1796261460, "lifetime": 43200,
                    "dflags": 515, "sflags": 0, "iflags": 0,
                    "caller": {"tag": "22040SIPpTag001", "contact": "sip:cc1001@127.0.0.1:15070",
                               "cseq": "2", "route_set": "", "socket": "udp:127.0.0.1:15060"},
                    "callee": {"tag": "21987SIPpRoom1", "contact": "sip:room@127.0.0.1:15092",
                               "cseq": "0", "route_set": "", "socket": "udp:127.0.0.1:15060"},
                    "profiles": [],
                    "variables": [{"room": room}]
                })
            })
            .collect();
        if list.is_empty() {
            // Kamailio's answer without dialogs.
            return json!({"jsonrpc": "2.0", "id": 1}).to_string();
        }
        json!({"jsonrpc": "2.0", "result": list, "id": 1}).to_string()
    }

    /// A JSON-RPC endpoint answering whatever `body` holds (HTTP 500 when `None`).
    async fn fake_kamailio(body: Arc<Mutex<Option<String>>>) -> String {
        let app = Router::new().route(
            "/RPC",
            post(move || {
                let body = body.lock().unwrap().clone();
                async move {
                    match body {
                        Some(b) => (StatusCode::OK, b),
                        None => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/RPC")
    }

    async fn rows(pool: &MySqlPool, table: &str) -> Vec<(String, String, String, String)> {
        sqlx::query_as(&format!(
            "SELECT channel, server_ip, extension, channel_data FROM {table} ORDER BY channel"
        ))
        .fetch_all(pool)
        .await
        .unwrap()
    }

    #[test]
    fn rooms_are_the_numbers_vicidials_dialplan_sends_to_a_conference() {
        assert_eq!(room_of("8600051"), Some("8600051"));
        assert_eq!(room_of("9600051"), Some("9600051"));
        assert_eq!(room_of("29600051"), Some("9600051"));
        for not_a_room in [
            "9001", "sipp", "860005", "86000511", "2860005", "cc1002", "",
        ] {
            assert_eq!(room_of(not_a_room), None, "{not_a_room}");
        }
    }

    #[tokio::test]
    async fn live_sip_channels_follow_kamailios_dialogs_to_the_rooms() {
        let db = MariaDb::shared();
        let name = db.fresh_database().await.unwrap();
        let mut conn = db.options(&name).connect().await.unwrap();
        seed::seed(&mut conn, false).await.unwrap();
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .connect_with(db.options(&name))
            .await
            .unwrap();
        crate::tables::install_extra_tables(&pool).await.unwrap();
        // Another server's row is not this process's to touch.
        sqlx::query(
            "INSERT INTO live_sip_channels (channel, server_ip, extension, channel_data) \
             VALUES ('SIP/cc9-0001', '10.10.0.9', '8600060', '8600060')",
        )
        .execute(&pool)
        .await
        .unwrap();

        let body = Arc::new(Mutex::new(Some(answer(&[
            (2032, 5373, 4, "cc1001", "8600051"), // phone in its MeetMe room
            (17, 2, 3, "cc1002", "29600052"),     // answered, ACK on its way; ConfBridge
            (40, 9, 2, "cc1005", "8600053"),      // still ringing: not in the room
            (41, 1, 5, "cc1005", "8600054"),      // ended
            (42, 3, 4, "cc1001", "9001"),         // not a room
            (43, 4, 4, "gateway", "8600055"),     // no phone of this server: a trunk
        ]))));
        let opts = TelephonyOptions::new(fake_kamailio(body.clone()).await, "10.10.0.5");
        let http = reqwest::Client::new();

        let report = sync_once(&pool, &http, &opts).await.unwrap();
        assert_eq!(report.inserted.len(), 3, "{report:?}");
        let sip = |c: &str, e: &str, d: &str| {
            (
                c.to_string(),
                "10.10.0.5".to_string(),
                e.to_string(),
                d.to_string(),
            )
        };
        let other = (
            "SIP/cc9-0001".to_string(),
            "10.10.0.9".to_string(),
            "8600060".to_string(),
            "8600060".to_string(),
        );
        assert_eq!(
            rows(&pool, "live_sip_channels").await,
            vec![
                sip("SIP/cc1001-07f014fd", "8600051", "8600051"),
                sip("SIP/cc1002-00110002", "9600052", "29600052"),
                other.clone(),
            ]
        );
        assert_eq!(
            rows(&pool, "live_channels").await,
            vec![sip("SIP/gateway-002b0004", "8600055", "8600055")]
        );

        // Nothing changed: nothing written.
        let again = sync_once(&pool, &http, &opts).await.unwrap();
        assert_eq!(again, SyncReport::default());

        // Kamailio unreachable: the rows stay (a bad grab changes nothing).
        *body.lock().unwrap() = None;
        assert!(sync_once(&pool, &http, &opts).await.is_err());
        assert_eq!(rows(&pool, "live_sip_channels").await.len(), 3);

        // cc1002 hung up and the trunk left; cc1001 is still in its room.
        *body.lock().unwrap() = Some(answer(&[(2032, 5373, 4, "cc1001", "8600051")]));
        let report = sync_once(&pool, &http, &opts).await.unwrap();
        assert!(report.inserted.is_empty());
        assert_eq!(report.deleted.len(), 2, "{report:?}");
        assert_eq!(
            rows(&pool, "live_sip_channels").await,
            vec![
                sip("SIP/cc1001-07f014fd", "8600051", "8600051"),
                other.clone()
            ]
        );
        assert!(rows(&pool, "live_channels").await.is_empty());

        // No dialogs at all (Kamailio's answer has no result).
        *body.lock().unwrap() = Some(answer(&[]));
        sync_once(&pool, &http, &opts).await.unwrap();
        assert_eq!(rows(&pool, "live_sip_channels").await, vec![other]);
    }

    #[tokio::test]
    async fn the_poller_fills_the_table_by_itself() {
        let db = MariaDb::shared();
        let name = db.fresh_database().await.unwrap();
        let mut conn = db.options(&name).connect().await.unwrap();
        seed::seed(&mut conn, false).await.unwrap();
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .connect_with(db.options(&name))
            .await
            .unwrap();
        let body = Arc::new(Mutex::new(Some(answer(&[(1, 1, 4, "cc1001", "8600051")]))));
        let mut opts = TelephonyOptions::new(fake_kamailio(body.clone()).await, "10.10.0.5");
        opts.interval = Duration::from_millis(50);
        let _telephony = Telephony::start(pool.clone(), opts);
        let mut found = Vec::new();
        for _ in 0..100 {
            found = rows(&pool, "live_sip_channels").await;
            if !found.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(found.len(), 1, "the poller inserted the phone's channel");
        assert_eq!(found[0].2, "8600051");
        *body.lock().unwrap() = Some(answer(&[]));
        for _ in 0..100 {
            found = rows(&pool, "live_sip_channels").await;
            if found.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(found.is_empty(), "the row went when the dialog ended");
    }
}
