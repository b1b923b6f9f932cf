//! The storage error type: small and matchable; database details stay behind `source()`.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (in this workspace).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the text says which (e.g. "workspace name").
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database failed or is unreachable.
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Maps a sqlx error, turning unique violations into [`StoreError::Conflict`] with `what`.
    pub(crate) fn from_sqlx(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => StoreError::Database(Box::new(err)),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        Self::from_sqlx(err, "record")
    }
}
