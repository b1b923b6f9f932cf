//! The audit log: appending to the chain under the head's lock, listing, and walking it.

use async_trait::async_trait;

use super::SqlStore;
use crate::{
    models::{AuditEvent, AuditQuery, NewAuditEvent},
    store::{AuditLink, AuditStore},
    StoreError,
};

const COLUMNS: &str =
    "seq, id, workspace_id, at, actor_type, actor_id, action, account_id, outcome, detail, mac";

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: String,
    workspace_id: String,
    at: i64,
    actor_type: String,
    actor_id: String,
    action: String,
    account_id: Option<String>,
    outcome: String,
    detail: Option<String>,
    mac: Vec<u8>,
}

impl From<Row> for AuditEvent {
    fn from(r: Row) -> Self {
        Self {
            seq: r.seq,
            event: NewAuditEvent {
                id: r.id,
                workspace_id: r.workspace_id,
                at: r.at,
                actor_type: r.actor_type,
                actor_id: r.actor_id,
                action: r.action,
                account_id: r.account_id,
                outcome: r.outcome,
                detail: r.detail,
            },
            mac: r.mac,
        }
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(
        &self,
        events: &[NewAuditEvent],
        link: &AuditLink<'_>,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        // The first statement writes, so it takes the lock at once (SQLite's write lock, the
        // head row's lock on PostgreSQL): appends from every instance form one chain.
        let (last_seq, previous): (i64, Vec<u8>) =
            sqlx::query_as("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, mac")
                .bind(count)
                .fetch_one(&mut *tx)
                .await?;
        let mut mac: [u8; 32] = previous
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Database("the audit head's MAC is not 32 bytes".into()))?;
        let first_seq = last_seq - count + 1;
        // One multi-row INSERT per chunk rather than one statement per event: the head's lock
        // is held for the whole transaction, so its round trips are what every other append
        // waits for.
        let mut macs = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            let seq = first_seq + i64::try_from(i).unwrap_or(0);
            mac = link(&mac, seq, event);
            macs.push((seq, mac));
        }
        const ROWS_PER_STATEMENT: usize = 200; // 11 parameters a row, well under both limits
        for (chunk, chunk_macs) in events
            .chunks(ROWS_PER_STATEMENT)
            .zip(macs.chunks(ROWS_PER_STATEMENT))
        {
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p: Vec<String> = (1..=11).map(|c| format!("${}", r * 11 + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_events ({COLUMNS}) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (event, (seq, row_mac)) in chunk.iter().zip(chunk_macs) {
                query = query
                    .bind(*seq)
                    .bind(&event.id)
                    .bind(&event.workspace_id)
                    .bind(event.at)
                    .bind(&event.actor_type)
                    .bind(&event.actor_id)
                    .bind(&event.action)
                    .bind(event.account_id.as_deref())
                    .bind(&event.outcome)
                    .bind(event.detail.as_deref())
                    .bind(row_mac.to_vec());
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE audit_head SET mac = $1 WHERE id = 1")
            .bind(mac.to_vec())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut filter = String::from("workspace_id = $1");
        let mut params: Vec<String> = vec![q.workspace_id.clone()];
        for (column, value) in [
            ("account_id", &q.account_id),
            ("actor_id", &q.actor_id),
            ("action", &q.action),
        ] {
            if let Some(value) = value {
                params.push(value.clone());
                filter.push_str(&format!(" AND {column} = ${}", params.len()));
            }
        }
        if q.before_seq.is_some() {
            filter.push_str(&format!(" AND seq < ${}", params.len() + 1));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE {filter} ORDER BY seq DESC LIMIT {}",
            q.limit.clamp(1, 1000)
        );
        let mut query = sqlx::query_as::<_, Row>(&sql);
        for p in &params {
            query = query.bind(p.as_str());
        }
        if let Some(before) = q.before_seq {
            query = query.bind(before);
        }
        Ok(query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn audit_chain(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT {}",
            limit.clamp(1, 10_000)
        ))
        .bind(after_seq)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn audit_head(&self) -> Result<(i64, Vec<u8>), StoreError> {
        Ok(
            sqlx::query_as::<_, (i64, Vec<u8>)>("SELECT seq, mac FROM audit_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
