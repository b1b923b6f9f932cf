#![doc = include_str!("../README.md")]

mod backend;
mod error;
mod models;
mod sql;
mod store;

pub use backend::{Backend, DatabaseUrl};
pub use error::StoreError;
pub use models::*;
pub use sql::SqlStore;

/// Whether `cursor` is a pagination cursor this store produced (for a 400 on anything else).
#[must_use]
pub fn is_valid_cursor(cursor: &str) -> bool {
    sql::cursor::decode(cursor).is_some()
}
pub use store::{
    AccountStore, AppStore, AuditLink, AuditStore, AuthStore, ConnectStore, MetaStore,
    OAuthClientStore, OAuthStore, SessionStore, Store, WebhookStore, WorkflowStore, WorkspaceStore,
};

/// The storage traits, for code that calls methods on a `dyn Store`.
pub mod prelude {
    pub use crate::store::{
        AccountStore, AppStore, AuditStore, AuthStore, ConnectStore, MetaStore, OAuthClientStore,
        OAuthStore, SessionStore, Store, WebhookStore, WorkflowStore, WorkspaceStore,
    };
}
