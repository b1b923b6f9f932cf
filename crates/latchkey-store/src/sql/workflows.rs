//! Workflows, steps with their account bindings, and runs.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{affected, SqlStore};
use crate::{
    models::{EnvVar, Run, Step, Workflow},
    store::WorkflowStore,
    StoreError,
};

const WORKFLOW_COLUMNS: &str =
    "id, workspace_id, name, builder, created_by, hook_secret_hash, created_at, updated_at";
const STEP_COLUMNS: &str =
    "id, workflow_id, workspace_id, position, name, kind, props, created_at, updated_at";
const RUN_COLUMNS: &str = "id, workflow_id, workspace_id, step_id, started_by, status, exports, logs, error, started_at, finished_at";

#[derive(sqlx::FromRow)]
struct WorkflowRow {
    id: String,
    workspace_id: String,
    name: String,
    builder: String,
    created_by: String,
    hook_secret_hash: String,
    created_at: i64,
    updated_at: i64,
}

impl From<WorkflowRow> for Workflow {
    fn from(r: WorkflowRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            builder: r.builder,
            created_by: r.created_by,
            hook_secret_hash: r.hook_secret_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct StepRow {
    id: String,
    workflow_id: String,
    workspace_id: String,
    position: i64,
    name: String,
    kind: String,
    props: String,
    created_at: i64,
    updated_at: i64,
}

impl From<StepRow> for Step {
    fn from(r: StepRow) -> Self {
        Self {
            id: r.id,
            workflow_id: r.workflow_id,
            workspace_id: r.workspace_id,
            position: r.position,
            name: r.name,
            kind: r.kind,
            props: r.props,
            accounts: BTreeMap::new(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    workflow_id: String,
    workspace_id: String,
    step_id: Option<String>,
    started_by: String,
    status: String,
    exports: String,
    logs: String,
    error: Option<String>,
    started_at: i64,
    finished_at: i64,
}

impl From<RunRow> for Run {
    fn from(r: RunRow) -> Self {
        Self {
            id: r.id,
            workflow_id: r.workflow_id,
            workspace_id: r.workspace_id,
            step_id: r.step_id,
            started_by: r.started_by,
            status: r.status,
            exports: r.exports,
            logs: r.logs,
            error: r.error,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

impl SqlStore {
    async fn bind_accounts(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        step: &Step,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM step_accounts WHERE step_id = $1")
            .bind(&step.id)
            .execute(&mut **tx)
            .await?;
        for (prop, account_id) in &step.accounts {
            sqlx::query(
                "INSERT INTO step_accounts (step_id, prop, workflow_id, workspace_id, account_id) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&step.id)
            .bind(prop)
            .bind(&step.workflow_id)
            .bind(&step.workspace_id)
            .bind(account_id)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl WorkflowStore for SqlStore {
    async fn insert_workflow(&self, w: &Workflow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO workflows ({WORKFLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&w.id)
        .bind(&w.workspace_id)
        .bind(&w.name)
        .bind(&w.builder)
        .bind(&w.created_by)
        .bind(&w.hook_secret_hash)
        .bind(w.created_at)
        .bind(w.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_workflow(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Workflow>, StoreError> {
        Ok(sqlx::query_as::<_, WorkflowRow>(&format!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn find_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        Ok(sqlx::query_as::<_, WorkflowRow>(&format!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn set_hook_secret(
        &self,
        workspace_id: &str,
        id: &str,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE workflows SET hook_secret_hash = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        affected(&result)
    }

    async fn list_workflows(&self, workspace_id: &str) -> Result<Vec<Workflow>, StoreError> {
        Ok(sqlx::query_as::<_, WorkflowRow>(&format!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn list_steps(
        &self,
        workspace_id: &str,
        workflow_id: &str,
    ) -> Result<Vec<Step>, StoreError> {
        let mut steps: Vec<Step> = sqlx::query_as::<_, StepRow>(&format!(
            "SELECT {STEP_COLUMNS} FROM steps WHERE workspace_id = $1 AND workflow_id = $2 ORDER BY position"
        ))
        .bind(workspace_id)
        .bind(workflow_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
        let bindings: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT step_id, prop, account_id FROM step_accounts WHERE workspace_id = $1 AND workflow_id = $2",
        )
        .bind(workspace_id)
        .bind(workflow_id)
        .fetch_all(&self.pool)
        .await?;
        for (step_id, prop, account_id) in bindings {
            if let Some(step) = steps.iter_mut().find(|s| s.id == step_id) {
                step.accounts.insert(prop, account_id);
            }
        }
        Ok(steps)
    }

    async fn insert_step(&self, s: &Step) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO steps ({STEP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&s.id)
        .bind(&s.workflow_id)
        .bind(&s.workspace_id)
        .bind(s.position)
        .bind(&s.name)
        .bind(&s.kind)
        .bind(&s.props)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "step name"))?;
        Self::bind_accounts(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_step(&self, s: &Step) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "UPDATE steps SET name = $3, props = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(&s.workspace_id)
        .bind(&s.id)
        .bind(&s.name)
        .bind(&s.props)
        .bind(s.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "step name"))?;
        affected(&result)?;
        Self::bind_accounts(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_run(&self, r: &Run) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&r.id)
        .bind(&r.workflow_id)
        .bind(&r.workspace_id)
        .bind(r.step_id.as_deref())
        .bind(&r.started_by)
        .bind(&r.status)
        .bind(&r.exports)
        .bind(&r.logs)
        .bind(r.error.as_deref())
        .bind(r.started_at)
        .bind(r.finished_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn latest_runs(
        &self,
        workspace_id: &str,
        workflow_id: &str,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        Ok(sqlx::query_as::<_, RunRow>(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = $1 AND workflow_id = $2 \
             ORDER BY started_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 100)
        ))
        .bind(workspace_id)
        .bind(workflow_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn put_env_var(&self, v: &EnvVar) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO env_vars (workspace_id, name, value_ciphertext, key_id, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, name) DO UPDATE SET \
             value_ciphertext = excluded.value_ciphertext, key_id = excluded.key_id, secret = excluded.secret, \
             updated_at = excluded.updated_at",
        )
        .bind(&v.workspace_id)
        .bind(&v.name)
        .bind(v.value_ciphertext.clone())
        .bind(v.key_id)
        .bind(i64::from(v.secret))
        .bind(v.created_at)
        .bind(v.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_env_vars(&self, workspace_id: &str) -> Result<Vec<EnvVar>, StoreError> {
        let rows: Vec<(String, String, Vec<u8>, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT workspace_id, name, value_ciphertext, key_id, secret, created_at, updated_at \
             FROM env_vars WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(workspace_id, name, value_ciphertext, key_id, secret, created_at, updated_at)| {
                    EnvVar {
                        workspace_id,
                        name,
                        value_ciphertext,
                        key_id,
                        secret: secret != 0,
                        created_at,
                        updated_at,
                    }
                },
            )
            .collect())
    }

    async fn delete_env_var(&self, workspace_id: &str, name: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM env_vars WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        affected(&result)
    }

    async fn workflows_using(
        &self,
        workspace_id: &str,
        account_ids: &[String],
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        if account_ids.is_empty() {
            return Ok(vec![]);
        }
        let placeholders: Vec<String> = (2..=account_ids.len() + 1)
            .map(|i| format!("${i}"))
            .collect();
        let sql = format!(
            "SELECT DISTINCT sa.account_id, w.id, w.name FROM step_accounts sa JOIN workflows w ON w.id = sa.workflow_id \
             WHERE sa.workspace_id = $1 AND sa.account_id IN ({}) ORDER BY w.name, w.id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, String, String)>(&sql).bind(workspace_id);
        for id in account_ids {
            query = query.bind(id.as_str());
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}
