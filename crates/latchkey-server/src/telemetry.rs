//! Log setup: `tracing` with an `EnvFilter` (`LATCHKEY_LOG`, default `info`), as text or JSON.
//!
//! Rule for every log line: never log tokens, secrets, keys, cookies, request bodies or provider
//! responses. Identify things by id.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber; later calls are no-ops (tests build many apps).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
