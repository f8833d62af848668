//! Tables VICIdial has that `vicidial-schema.sql` leaves out but the simulator writes, with
//! VICIdial's DDL (`extras/MySQL_AST_CREATE_tables.sql`). `vicidial_auto_calls` keeps only
//! the columns the simulator fills, `vicidial_user_groups` the ones dialdeck and the simulator
//! read; `vicidial_lists` says which campaign a list of leads belongs to.
//! `live_sip_channels` / `live_channels` are what VICIdial's `AST_update.pl` keeps filled
//! from Asterisk: the channels of each conference (`extension` = `conf_exten`).

use sqlx::MySqlPool;

pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS vicidial_call_notes (
notesid INT(9) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
lead_id INT(9) UNSIGNED NOT NULL,
vicidial_id VARCHAR(20),
call_date DATETIME,
order_id VARCHAR(20),
appointment_date DATE,
appointment_time TIME,
call_notes TEXT,
index (lead_id)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_dnc_log (
phone_number VARCHAR(18) NOT NULL,
campaign_id VARCHAR(8) NOT NULL,
action ENUM('add','delete') default 'add',
action_date DATETIME NOT NULL,
user VARCHAR(20) default '',
index (phone_number),
index (action_date)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS web_client_sessions (
extension VARCHAR(100) NOT NULL,
server_ip VARCHAR(15) NOT NULL,
program ENUM('agc','vicidial','monitor','other') default 'agc',
start_time DATETIME NOT NULL,
session_name VARCHAR(40) UNIQUE NOT NULL
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_session_data (
session_name VARCHAR(40) UNIQUE NOT NULL,
user VARCHAR(20),
campaign_id VARCHAR(8),
server_ip VARCHAR(15) NOT NULL,
conf_exten VARCHAR(20),
extension VARCHAR(100) NOT NULL,
login_time DATETIME NOT NULL,
webphone_url TEXT,
agent_login_call TEXT,
index (user)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_conferences (
conf_exten INT(7) UNSIGNED NOT NULL,
server_ip VARCHAR(15) NOT NULL,
extension VARCHAR(100),
leave_3way ENUM('0','1') default '0',
leave_3way_datetime DATETIME,
unique index extenserver (conf_exten, server_ip)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_manager (
man_id INT(9) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
uniqueid VARCHAR(20),
entry_date DATETIME,
status ENUM('NEW','QUEUE','SENT','UPDATED','DEAD'),
response ENUM('Y','N'),
server_ip VARCHAR(15) NOT NULL,
channel VARCHAR(100),
action VARCHAR(20),
callerid VARCHAR(20),
cmd_line_b VARCHAR(100),
cmd_line_c VARCHAR(100),
cmd_line_d VARCHAR(100),
cmd_line_e VARCHAR(100),
cmd_line_f VARCHAR(100),
cmd_line_g VARCHAR(100),
cmd_line_h VARCHAR(100),
cmd_line_i VARCHAR(100),
cmd_line_j VARCHAR(100),
cmd_line_k VARCHAR(100),
index (callerid),
index (uniqueid),
index serverstat(server_ip,status)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_api_log (
api_id INT(9) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
user VARCHAR(20) NOT NULL,
api_date DATETIME,
api_script VARCHAR(10),
function VARCHAR(20) NOT NULL,
agent_user VARCHAR(20),
value VARCHAR(255),
result VARCHAR(10),
result_reason VARCHAR(255),
source VARCHAR(20),
data TEXT,
run_time VARCHAR(20) default '0',
webserver SMALLINT(5) UNSIGNED default '0',
api_url INT(9) UNSIGNED default '0',
index(api_date)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_user_log (
user_log_id INT(9) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
user VARCHAR(20),
event VARCHAR(50),
campaign_id VARCHAR(8),
event_date DATETIME,
event_epoch INT(10) UNSIGNED,
user_group VARCHAR(20),
session_id VARCHAR(20),
server_ip VARCHAR(15),
extension VARCHAR(50),
computer_ip VARCHAR(100),
browser VARCHAR(255),
data VARCHAR(255),
phone_login VARCHAR(15) default '',
server_phone VARCHAR(15) default '',
phone_ip VARCHAR(15) default '',
webserver SMALLINT(5) UNSIGNED default '0',
login_url INT(9) UNSIGNED default '0',
browser_width SMALLINT(5) UNSIGNED default '0',
browser_height SMALLINT(5) UNSIGNED default '0',
index (user)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_auto_calls (
auto_call_id INT(9) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
server_ip VARCHAR(15) NOT NULL,
campaign_id VARCHAR(20),
status ENUM('SENT','RINGING','LIVE','XFER','PAUSED','CLOSER','BUSY','DISCONNECT','IVR'),
lead_id INT(9) UNSIGNED NOT NULL,
uniqueid VARCHAR(20),
callerid VARCHAR(20),
channel VARCHAR(100),
phone_code VARCHAR(10),
phone_number VARCHAR(18),
call_time DATETIME,
call_type ENUM('IN','OUT','OUTBALANCE') default 'OUT',
stage VARCHAR(20) default 'START',
last_update_time TIMESTAMP,
alt_dial VARCHAR(6) default 'NONE',
agent_only VARCHAR(20) default '',
index (uniqueid),
index (callerid),
index (call_time),
index (last_update_time)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_user_groups (
user_group VARCHAR(20) NOT NULL,
group_name VARCHAR(40) NOT NULL,
allowed_campaigns TEXT,
webphone_url_override VARCHAR(255) default ''
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_pause_codes (
pause_code VARCHAR(6) NOT NULL,
pause_code_name VARCHAR(30),
billable ENUM('NO','YES','HALF') default 'NO',
campaign_id VARCHAR(8),
time_limit SMALLINT(5) UNSIGNED default '65000',
require_mgr_approval ENUM('NO','YES') default 'NO',
index (campaign_id)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_campaign_hotkeys (
status VARCHAR(6) NOT NULL,
hotkey VARCHAR(1) NOT NULL,
status_name VARCHAR(30),
selectable ENUM('Y','N'),
campaign_id VARCHAR(8),
index (campaign_id)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS vicidial_lists (
list_id BIGINT(14) UNSIGNED PRIMARY KEY NOT NULL,
list_name VARCHAR(30),
campaign_id VARCHAR(8),
active ENUM('Y','N'),
list_description VARCHAR(255),
list_changedate DATETIME,
list_lastcalldate DATETIME,
index (campaign_id)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS live_channels (
channel VARCHAR(100) NOT NULL,
server_ip VARCHAR(15) NOT NULL,
channel_group VARCHAR(30),
extension VARCHAR(100),
channel_data VARCHAR(100)
) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS live_sip_channels (
channel VARCHAR(100) NOT NULL,
server_ip VARCHAR(15) NOT NULL,
channel_group VARCHAR(30),
extension VARCHAR(100),
channel_data VARCHAR(100)
) ENGINE=MyISAM",
];

/// Creates the extra tables if they do not exist yet (idempotent) and gives every active
/// telephony server MeetMe rooms `8600051`..=`8600099`, as a VICIdial install has them.
pub async fn install_extra_tables(pool: &MySqlPool) -> anyhow::Result<()> {
    for ddl in DDL {
        sqlx::query(ddl).execute(pool).await?;
    }
    for room in 8_600_051u32..=8_600_099 {
        sqlx::query(
            "INSERT IGNORE INTO vicidial_conferences (conf_exten, server_ip, extension) \
             SELECT ?, server_ip, '' FROM servers WHERE active = 'Y'",
        )
        .bind(room)
        .execute(pool)
        .await?;
    }
    Ok(())
}
