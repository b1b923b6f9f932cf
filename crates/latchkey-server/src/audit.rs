//! The audit log (PRODUCT.md F15, SECURITY.md T-08): every credential read, access change,
//! connect, reconnect, rename and delete, with who, which account, what, when and the outcome
//! — never a value.
//!
//! Events are chained with an HMAC keyed from the master key (`latchkey_crypto::ChainKey`), so
//! `latchkey audit verify` detects an edited, deleted or reordered event. A credential read is
//! recorded *before* the credentials leave, and when the record cannot be written they do not
//! leave at all (fail closed).

use latchkey_crypto::{ChainKey, AUDIT_GENESIS};
use latchkey_domain::ids;
use latchkey_store::{NewAuditEvent, Principal, Store, StoreError};

use crate::clock;

/// Writes and verifies the chain.
///
/// Appends are group-committed: every append takes the chain head's lock (one chain for the
/// whole install), so concurrent callers queue their events and whichever of them holds the
/// writer's turn writes everything queued in one transaction, then tells each caller. Each
/// caller still returns only once its own events are durable.
pub struct Auditor {
    key: std::sync::Arc<ChainKey>,
    store: std::sync::Arc<dyn Store>,
    pending: std::sync::Mutex<Vec<Pending>>,
    writing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").finish_non_exhaustive()
    }
}

/// Events waiting for the writer, and where to report the outcome.
struct Pending {
    events: Vec<NewAuditEvent>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Who did it, for an event.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `member`, `client` or `system`.
    pub kind: &'static str,
    /// User id, API client id, or component.
    pub id: String,
}

impl Actor {
    /// The actor behind an authenticated principal.
    #[must_use]
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::Member { user_id, .. } => Self {
                kind: "member",
                id: user_id.clone(),
            },
            Principal::Client { client_id, .. } => Self {
                kind: "client",
                id: client_id.clone(),
            },
        }
    }

    /// Latchkey itself (the scheduler, the CLI).
    #[must_use]
    pub fn system(component: &str) -> Self {
        Self {
            kind: "system",
            id: component.to_owned(),
        }
    }
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Events checked.
    pub events: i64,
    /// The first event that does not verify, and why; `None` when the chain is intact.
    pub broken: Option<(i64, String)>,
}

/// The bytes an event's MAC covers: its sequence number and every field, each length-prefixed
/// so no two different events encode alike.
fn canonical(seq: i64, e: &NewAuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&e.at.to_be_bytes());
    for field in [
        Some(e.id.as_str()),
        Some(e.workspace_id.as_str()),
        Some(e.actor_type.as_str()),
        Some(e.actor_id.as_str()),
        Some(e.action.as_str()),
        e.account_id.as_deref(),
        Some(e.outcome.as_str()),
        e.detail.as_deref(),
    ] {
        match field {
            Some(text) => {
                out.push(1);
                out.extend_from_slice(&(text.len() as u64).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            None => out.push(0),
        }
    }
    out
}

impl Auditor {
    /// An auditor writing the chain keyed by `key` into `store`.
    #[must_use]
    pub fn new(key: ChainKey, store: std::sync::Arc<dyn Store>) -> Self {
        Self {
            key: std::sync::Arc::new(key),
            store,
            pending: std::sync::Mutex::new(Vec::new()),
            writing: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Builds an event.
    #[must_use]
    pub fn event(
        workspace_id: &str,
        actor: &Actor,
        action: &str,
        account_id: Option<&str>,
        outcome: &str,
        detail: Option<serde_json::Value>,
    ) -> NewAuditEvent {
        NewAuditEvent {
            id: ids::generate("aud_"),
            workspace_id: workspace_id.to_owned(),
            at: clock::now_ms(),
            actor_type: actor.kind.to_owned(),
            actor_id: actor.id.clone(),
            action: action.to_owned(),
            account_id: account_id.map(str::to_owned),
            outcome: outcome.to_owned(),
            detail: detail.map(|d| d.to_string()),
        }
    }

    /// Appends events to the chain and returns once they are durable.
    ///
    /// The write itself runs as its own task holding the writer's turn: a caller that goes away
    /// (a client disconnecting) never cuts a transaction on the chain head in half.
    ///
    /// # Errors
    /// When they could not be written: a caller about to hand out a secret must then refuse.
    pub async fn record(&self, events: &[NewAuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let (done, mut outcome) = tokio::sync::oneshot::channel();
        self.queue().push(Pending {
            events: events.to_vec(),
            done,
        });
        loop {
            tokio::select! {
                biased;
                result = &mut outcome => {
                    return match result {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(message)) => Err(StoreError::Database(message.into())),
                        Err(_) => Err(StoreError::Database("the audit writer stopped".into())),
                    };
                }
                turn = self.writing.clone().lock_owned() => {
                    let batch = std::mem::take(&mut *self.queue());
                    if batch.is_empty() {
                        // Written by the turn before this one; the outcome is waiting.
                        drop(turn);
                        continue;
                    }
                    let store = self.store.clone();
                    let key = self.key.clone();
                    let writer = tokio::spawn(async move {
                        let all: Vec<NewAuditEvent> =
                            batch.iter().flat_map(|p| p.events.iter().cloned()).collect();
                        let link = |previous: &[u8; 32], seq: i64, event: &NewAuditEvent| {
                            key.link(previous, &canonical(seq, event))
                        };
                        let written = store.append_audit(&all, &link).await.map_err(|e| e.to_string());
                        for pending in batch {
                            let _ = pending.done.send(written.clone());
                        }
                        drop(turn);
                    });
                    // The task reports to every caller of the batch, this one included.
                    let _ = writer.await;
                }
            }
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records an event whose loss must not stop the operation (it already happened); a
    /// failure is logged.
    pub async fn record_best_effort(&self, event: NewAuditEvent) {
        if let Err(e) = self.record(std::slice::from_ref(&event)).await {
            tracing::error!(error = %e, action = %event.action, "could not write an audit event");
        }
    }

    /// Walks the whole chain from the start and checks every MAC, the numbering, and that the
    /// head points at the last event (a deleted tail is caught too).
    ///
    /// # Errors
    /// Database failure.
    pub async fn verify(&self, store: &dyn Store) -> Result<Verification, StoreError> {
        let mut previous = AUDIT_GENESIS;
        let mut last_seq = 0_i64;
        let mut events = 0_i64;
        loop {
            let batch = store.audit_chain(last_seq, 5_000).await?;
            if batch.is_empty() {
                break;
            }
            for stored in batch {
                events += 1;
                if stored.seq != last_seq + 1 {
                    return Ok(Verification {
                        events,
                        broken: Some((last_seq + 1, format!("event {} is missing", last_seq + 1))),
                    });
                }
                let expected = self
                    .key
                    .link(&previous, &canonical(stored.seq, &stored.event));
                if stored.mac.as_slice() != expected.as_slice() {
                    return Ok(Verification {
                        events,
                        broken: Some((stored.seq, format!("event {} was altered", stored.seq))),
                    });
                }
                previous = expected;
                last_seq = stored.seq;
            }
        }
        let (head_seq, head_mac) = store.audit_head().await?;
        if head_seq != last_seq || head_mac.as_slice() != previous.as_slice() {
            return Ok(Verification {
                events,
                broken: Some((
                    last_seq + 1,
                    format!(
                        "the chain ends at event {last_seq} but {head_seq} were written: events were removed from the end"
                    ),
                )),
            });
        }
        Ok(Verification {
            events,
            broken: None,
        })
    }
}
