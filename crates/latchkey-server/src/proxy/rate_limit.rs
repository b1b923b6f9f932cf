//! The proxy's rate limit: a fixed 5-minute window per project (or workspace), per instance.
//! Answers carry `X-RateLimit-Limit`, `-Remaining` and `-Reset`; refusals add `Retry-After`
//! (API.md §4.10, §9).

use std::{collections::HashMap, sync::Mutex};

/// Window length.
pub const WINDOW_SECONDS: i64 = 300;

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether it may go ahead.
    pub allowed: bool,
    /// Requests per window.
    pub limit: u32,
    /// Left in this window after this request.
    pub remaining: u32,
    /// When the window ends (Unix seconds).
    pub reset_at: i64,
}

/// Counters per key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts a request for `key` at `now` (Unix seconds) against `limit` (0: unlimited).
    pub fn check(&self, key: &str, limit: u32, now: i64) -> Option<Decision> {
        if limit == 0 {
            return None;
        }
        let window = now - now.rem_euclid(WINDOW_SECONDS);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| *start == window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        Some(Decision {
            allowed,
            limit,
            remaining: limit - entry.1,
            reset_at: window + WINDOW_SECONDS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_resets_with_the_window() {
        let limiter = RateLimiter::default();
        let t = 1_000_200; // inside the window starting at 1_000_200 - 1_000_200 % 300
        assert_eq!(limiter.check("p", 0, t), None, "0 means unlimited");
        let first = limiter.check("p", 2, t).unwrap();
        assert!(first.allowed && first.remaining == 1);
        assert!(limiter.check("p", 2, t).unwrap().allowed);
        let third = limiter.check("p", 2, t).unwrap();
        assert!(!third.allowed && third.remaining == 0);
        assert!(third.reset_at > t && third.reset_at - t <= WINDOW_SECONDS);
        assert!(limiter.check("other", 2, t).unwrap().allowed, "per key");
        assert!(
            limiter.check("p", 2, third.reset_at).unwrap().allowed,
            "new window"
        );
    }
}
