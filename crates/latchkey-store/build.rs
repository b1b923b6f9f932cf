//! `sqlx::migrate!` embeds the migration files at compile time; without this, adding or
//! editing one would not rebuild the crate and the binary would run stale migrations.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
