//! dialdeck's browser app. `shell/` is the only code that touches web-sys; `ui/` holds the
//! Leptos components, which read signals and send commands.

mod phone;
mod shell;
mod ui;

fn main() {
    leptos::mount::mount_to_body(ui::App);
}
