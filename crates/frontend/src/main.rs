//! dialdeck's first load: the login page. It asks the server who is logged in, shows the
//! login form when nobody is, and hands over to the desk (a second wasm module with the phone
//! stack and the desk, `crates/desk`) once somebody is; the desk module is fetched and
//! compiled while the agent types (see [`desk`]).

mod app;
mod desk;
mod login;

fn main() {
    leptos::mount::mount_to_body(app::App);
}
