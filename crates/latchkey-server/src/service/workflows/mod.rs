//! Workflows and their steps (PRODUCT.md F6), and who may change which step.
//!
//! Every member of a workspace sees its workflows. A step bound to an account the member may
//! not use is read-only to them — props, exports, logs and errors stay visible and the step
//! can be tested (the run uses the credentials server-side) — but it cannot be edited, except
//! to switch it to an account the member can use, which clears the props that depended on
//! the old one (`props.dynamic.<app prop>`, values picked with that account's data).

mod code;
pub mod hooks;
mod redact;
pub mod run;

use std::collections::BTreeMap;

use latchkey_domain::{access::Operation, ids, ValidationError};
use latchkey_store::{Account, Sharing, Step, Workflow};
use serde_json::Value;

use super::{accounts, Caller, ServiceError};
use crate::{clock, App};

/// Step types.
pub const STEP_TYPES: &[&str] = &["http", "code"];

/// A step as a given caller sees it.
#[derive(Debug)]
pub struct StepView {
    /// The step.
    pub step: Step,
    /// Whether the caller may edit it.
    pub editable: bool,
    /// Why not, and what they can do instead.
    pub read_only_reason: Option<String>,
}

/// A workflow with its steps, as a given caller sees it.
#[derive(Debug)]
pub struct WorkflowView {
    /// The workflow.
    pub workflow: Workflow,
    /// Its steps in order.
    pub steps: Vec<StepView>,
}

fn check_name(field: &str, name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

fn check_step_name(name: &str) -> Result<String, ValidationError> {
    // Steps are addressed as `steps.<name>` in code: an identifier.
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(ValidationError::new(
            "name",
            "must be an identifier (letters, digits, _; up to 64) so code can use steps.<name>",
        ));
    }
    Ok(name.to_owned())
}

fn check_props(props: &Value) -> Result<String, ValidationError> {
    if !props.is_object() {
        return Err(ValidationError::new("props", "must be a JSON object"));
    }
    let text = props.to_string();
    if text.len() > 256 * 1024 {
        return Err(ValidationError::new("props", "must be at most 256 KiB"));
    }
    Ok(text)
}

/// Creates a workflow; returns it with its HTTP trigger's secret (shown this once).
///
/// # Errors
/// 400 for a bad name or builder; 403 for API clients.
pub async fn create(
    ctx: &App,
    caller: &Caller,
    name: &str,
    builder: Option<&str>,
) -> Result<(Workflow, secrecy::SecretString), ServiceError> {
    let user = caller.require_member()?.to_owned();
    let name = check_name("name", name)?;
    let builder = match builder.unwrap_or("v2") {
        b @ ("v1" | "v2") => b.to_owned(),
        _ => return Err(ValidationError::new("builder", "must be v2 or v1").into()),
    };
    let now = clock::now_ms();
    let (secret, hook_secret_hash) = hooks::new_secret();
    let workflow = Workflow {
        id: ids::generate("wf_"),
        workspace_id: caller.workspace_id().to_owned(),
        name,
        builder,
        created_by: user,
        hook_secret_hash,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_workflow(&workflow).await?;
    Ok((workflow, secret))
}

pub(crate) async fn load(ctx: &App, caller: &Caller, id: &str) -> Result<Workflow, ServiceError> {
    caller.require_member()?;
    if !ids::is_valid("wf_", id) {
        return Err(ServiceError::NotFound("workflow"));
    }
    ctx.store
        .get_workflow(caller.workspace_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("workflow"))
}

/// Whether the caller may modify steps using each account, asked of the store once per
/// account however many steps use it.
#[derive(Default)]
struct Usable(BTreeMap<String, bool>);

impl Usable {
    async fn check(
        &mut self,
        ctx: &App,
        caller: &Caller,
        account_id: &str,
    ) -> Result<bool, ServiceError> {
        if let Some(known) = self.0.get(account_id) {
            return Ok(*known);
        }
        let account = ctx
            .store
            .get_account(caller.workspace_id(), account_id)
            .await?;
        let usable = account.is_some_and(|a| caller.may(&a, Operation::ModifyStep));
        self.0.insert(account_id.to_owned(), usable);
        Ok(usable)
    }
}

/// The caller's verdict on a step: editable, or why not.
async fn step_view(
    ctx: &App,
    caller: &Caller,
    step: Step,
    usable: &mut Usable,
) -> Result<StepView, ServiceError> {
    let mut blocked = Vec::new();
    for (prop, account_id) in &step.accounts {
        if !usable.check(ctx, caller, account_id).await? {
            blocked.push(prop.clone());
        }
    }
    let read_only_reason = (!blocked.is_empty()).then(|| {
        format!(
            "it uses an account you may not use ({}): you can view its props, exports, logs and errors, test it, or switch it to an account you can use",
            blocked.join(", ")
        )
    });
    Ok(StepView {
        editable: read_only_reason.is_none(),
        read_only_reason,
        step,
    })
}

/// A workflow with its steps.
///
/// # Errors
/// 404 for unknown ids (and ids of other workspaces); 403 for API clients.
pub async fn get(ctx: &App, caller: &Caller, id: &str) -> Result<WorkflowView, ServiceError> {
    let workflow = load(ctx, caller, id).await?;
    let mut steps = Vec::new();
    for step in ctx
        .store
        .list_steps(caller.workspace_id(), &workflow.id)
        .await?
    {
        steps.push(step_view(ctx, caller, step, &mut Usable::default()).await?);
    }
    Ok(WorkflowView { workflow, steps })
}

/// The workspace's workflows.
///
/// # Errors
/// 403 for API clients.
pub async fn list(ctx: &App, caller: &Caller) -> Result<Vec<Workflow>, ServiceError> {
    caller.require_member()?;
    Ok(ctx.store.list_workflows(caller.workspace_id()).await?)
}

/// Checks that the caller may bind each account to a step of `workflow` (F5 "add to a new
/// step"; legacy builders only take accounts shared with the entire workspace).
async fn check_bindable(
    ctx: &App,
    caller: &Caller,
    workflow: &Workflow,
    bindings: &BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    for (prop, account_id) in bindings {
        let field = format!("accounts.{prop}");
        if !ids::is_valid(ids::ACCOUNT, account_id) {
            return Err(ValidationError::new(field, "is not an account id").into());
        }
        let account: Account = accounts::load_fresh(ctx, caller, account_id).await?;
        caller.authorize(&account, Operation::AddToStep)?;
        if workflow.builder == "v1" && account.sharing != Sharing::Workspace {
            return Err(ValidationError::new(
                field,
                "workflows of the legacy builder can only use accounts shared with the entire workspace",
            )
            .into());
        }
    }
    Ok(())
}

/// Input of a new step.
#[derive(Debug)]
pub struct NewStep {
    /// Identifier, unique in the workflow.
    pub name: String,
    /// `http` or `code`.
    pub kind: String,
    /// Props (a JSON object).
    pub props: Value,
    /// App props bound to accounts.
    pub accounts: BTreeMap<String, String>,
}

/// Appends a step.
///
/// # Errors
/// 400 for bad input; 403/404 when an account may not be used; 409 for a taken name.
pub async fn add_step(
    ctx: &App,
    caller: &Caller,
    workflow_id: &str,
    input: NewStep,
) -> Result<StepView, ServiceError> {
    let workflow = load(ctx, caller, workflow_id).await?;
    let name = check_step_name(&input.name)?;
    if !STEP_TYPES.contains(&input.kind.as_str()) {
        return Err(ValidationError::new("type", "must be http or code").into());
    }
    let props = check_props(&input.props)?;
    check_bindable(ctx, caller, &workflow, &input.accounts).await?;
    let existing = ctx
        .store
        .list_steps(caller.workspace_id(), &workflow.id)
        .await?;
    let now = clock::now_ms();
    let step = Step {
        id: ids::generate("st_"),
        workflow_id: workflow.id.clone(),
        workspace_id: workflow.workspace_id.clone(),
        position: existing.iter().map(|s| s.position + 1).max().unwrap_or(0),
        name,
        kind: input.kind,
        props,
        accounts: input.accounts,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_step(&step).await?;
    step_view(ctx, caller, step, &mut Usable::default()).await
}

/// Changes to a step (absent fields stay).
#[derive(Debug, Default)]
pub struct StepPatch {
    /// New name.
    pub name: Option<String>,
    /// New props (replacing them).
    pub props: Option<Value>,
    /// New bindings for the given app props.
    pub accounts: Option<BTreeMap<String, String>>,
}

/// Edits a step. A caller who may not modify it (it uses an account they may not use) may only
/// switch its accounts to ones they can use; that clears `props.dynamic.<prop>` of each
/// switched prop.
///
/// # Errors
/// 403 with the reason when the step is read-only to the caller; 400, 404, 409 as for adding.
pub async fn patch_step(
    ctx: &App,
    caller: &Caller,
    workflow_id: &str,
    step_id: &str,
    patch: StepPatch,
) -> Result<StepView, ServiceError> {
    let workflow = load(ctx, caller, workflow_id).await?;
    let mut step = ctx
        .store
        .list_steps(caller.workspace_id(), &workflow.id)
        .await?
        .into_iter()
        .find(|s| s.id == step_id)
        .ok_or(ServiceError::NotFound("step"))?;
    let current = step_view(ctx, caller, step.clone(), &mut Usable::default()).await?;
    let only_switching = patch.name.is_none() && patch.props.is_none() && patch.accounts.is_some();
    if !current.editable && !only_switching {
        return Err(ServiceError::Forbidden(format!(
            "this step is read-only to you: {}",
            current.read_only_reason.unwrap_or_default()
        )));
    }
    if let Some(name) = patch.name {
        step.name = check_step_name(&name)?;
    }
    if let Some(props) = &patch.props {
        step.props = check_props(props)?;
    }
    if let Some(bindings) = patch.accounts {
        // Only new bindings need "use" permission; repeating the current one changes nothing.
        let changed: BTreeMap<String, String> = bindings
            .into_iter()
            .filter(|(prop, id)| step.accounts.get(prop) != Some(id))
            .collect();
        check_bindable(ctx, caller, &workflow, &changed).await?;
        let mut props: Value = serde_json::from_str(&step.props).unwrap_or(Value::Null);
        for (prop, account_id) in changed {
            {
                // Values chosen with the old account's data mean nothing with the new one.
                if let Some(dynamic) = props.get_mut("dynamic").and_then(Value::as_object_mut) {
                    dynamic.remove(&prop);
                }
                step.accounts.insert(prop, account_id);
            }
        }
        step.props = props.to_string();
    }
    step.updated_at = clock::now_ms();
    ctx.store.update_step(&step).await?;
    step_view(ctx, caller, step, &mut Usable::default()).await
}
