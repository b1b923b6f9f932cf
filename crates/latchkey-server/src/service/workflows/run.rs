//! Running steps: a step test (one step, with the exports of the workflow's last run) and a
//! workflow run (every step in order). Credentials are opened on the server for the run only;
//! every value used is redacted from the exports, logs and error that are stored and returned.
//! Testing a step needs no permission on its accounts beyond being a member (F5: anyone may
//! test existing steps), because nothing secret comes back.

use std::collections::BTreeMap;

use latchkey_domain::app::AppDefinition;
use latchkey_store::{Run, Step};
use serde_json::{json, Map, Value};

use super::{load, redact::Redactor};
use crate::{
    audit::{Actor, Auditor},
    clock, outbound,
    service::{env_vars, oauth::refresh, Caller, ServiceError},
    vault::Credentials,
    App,
};

/// Largest response body an HTTP step keeps.
const MAX_BODY: usize = 1024 * 1024;

/// What one step produced (before redaction).
struct Outcome {
    exports: Value,
    logs: Vec<String>,
    error: Option<String>,
}

/// An account opened for a run.
struct Opened {
    app: Option<std::sync::Arc<AppDefinition>>,
    credentials: Credentials,
}

/// Opens the step's accounts (fresh tokens), recording each use in the audit log first.
async fn open_accounts(
    ctx: &App,
    actor: &Actor,
    step: &Step,
    redactor: &mut Redactor,
) -> Result<BTreeMap<String, Opened>, String> {
    let mut opened = BTreeMap::new();
    for (prop, account_id) in &step.accounts {
        let account = ctx
            .store
            .get_account(&step.workspace_id, account_id)
            .await
            .map_err(|e| format!("could not load the account of {prop}: {e}"))?
            .ok_or_else(|| format!("the account of {prop} no longer exists"))?;
        let app = ctx
            .catalog
            .resolve(&*ctx.store, &account.workspace_id, &account.app_slug)
            .await
            .ok()
            .flatten();
        let account = refresh::ensure_fresh(ctx, app.as_ref(), account)
            .await
            .map_err(|e| format!("could not refresh the account of {prop}: {e}"))?;
        let event = Auditor::event(
            &step.workspace_id,
            actor,
            "step.run",
            Some(account_id),
            "allowed",
            Some(json!({"workflow_id": step.workflow_id, "step_id": step.id, "prop": prop})),
        );
        ctx.audit
            .record(&[event])
            .await
            .map_err(|_| "the audit log cannot be written, so the step did not run".to_owned())?;
        let credentials = ctx
            .vault
            .open_account(&account)
            .await
            .map_err(|e| format!("could not open the account of {prop}: {e}"))?;
        for name in credentials.field_names() {
            if let Some(value) = credentials.get(name) {
                redactor.add(value);
            }
        }
        opened.insert(
            prop.clone(),
            Opened {
                app: app.map(|a| a.definition),
                credentials,
            },
        );
    }
    Ok(opened)
}

fn substitute_env(value: &Value, env: &[(String, String)]) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(env_vars::substitute(s, env)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_env(v, env))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_env(v, env)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn as_pairs(value: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let Some(value) = value else {
        return Ok(vec![]);
    };
    let map = value
        .as_object()
        .ok_or_else(|| format!("props.{what} must be an object"))?;
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// The HTTP request step (F7).
async fn http_step(
    ctx: &App,
    props: &Value,
    opened: &BTreeMap<String, Opened>,
    env: &[(String, String)],
) -> Outcome {
    let mut logs = Vec::new();
    // `{{env.NAME}}` anywhere in the props' strings.
    let props = match substitute_env(props, env) {
        Ok(props) => props,
        Err(error) => {
            return Outcome {
                exports: json!({}),
                logs,
                error: Some(error),
            }
        }
    };
    match http_request(ctx, &props, opened, &mut logs).await {
        Ok((exports, error)) => Outcome {
            exports,
            logs,
            error,
        },
        Err(error) => Outcome {
            exports: json!({}),
            logs,
            error: Some(error),
        },
    }
}

async fn http_request(
    ctx: &App,
    props: &Value,
    opened: &BTreeMap<String, Opened>,
    logs: &mut Vec<String>,
) -> Result<(Value, Option<String>), String> {
    let method = props
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| "props.method is not an HTTP method".to_owned())?;
    let url = props
        .get("url")
        .and_then(Value::as_str)
        .ok_or("props.url is required")?;
    let auth_prop = props
        .get("auth")
        .filter(|a| a.get("type").and_then(Value::as_str) == Some("app"))
        .map(|a| a.get("prop").and_then(Value::as_str).unwrap_or("app"));
    let (mut builder, injected): (reqwest::RequestBuilder, Vec<String>) = match auth_prop {
        Some(prop) => {
            // "Authorization type: app": the app's base URL and auth template, with the
            // account bound to `prop`; the URL is a path under the base.
            let account = opened
                .get(prop)
                .ok_or_else(|| format!("props.auth.prop names {prop}, which has no account"))?;
            let app = account
                .app
                .as_ref()
                .ok_or("the account's app is no longer in the catalog")?;
            if !url.starts_with('/') || url.starts_with("//") {
                return Err("with app authorization, props.url is a path under the app's base URL (starting with /)".into());
            }
            let injected = app
                .request
                .as_ref()
                .map(|r| r.headers.keys().map(|k| k.to_ascii_lowercase()).collect())
                .unwrap_or_default();
            let builder = outbound::authenticated_request(
                &ctx.outbound,
                app,
                &account.credentials,
                method.clone(),
                url,
            )?;
            (builder, injected)
        }
        None => {
            let parsed = url::Url::parse(url).map_err(|_| "props.url is not an absolute URL")?;
            let builder = ctx
                .outbound
                .request(method.clone(), parsed)
                .map_err(|e| format!("the request was refused: {e}"))?;
            (builder, vec!["authorization".into()])
        }
    };
    for (name, value) in as_pairs(props.get("headers"), "headers")? {
        // The injected credential cannot be overridden by the step (T-27).
        if injected.contains(&name.to_ascii_lowercase()) && auth_prop.is_some() {
            continue;
        }
        builder = builder.header(name, value);
    }
    let query = as_pairs(props.get("query"), "query")?;
    if !query.is_empty() {
        builder = builder.query(&query);
    }
    match props.get("body") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => builder = builder.body(text.clone()),
        Some(json) => builder = builder.json(json),
    }
    let response = builder
        .send()
        .await
        .map_err(|e| format!("the request failed: {}", crate::error::error_chain(&e)))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    logs.push(format!("{method} {url} → {status}"));
    let body = outbound::read_capped(response, MAX_BODY).await?;
    let data = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let exports = json!({
        "$return_value": {"status": status, "content_type": content_type, "data": data}
    });
    let error = (status >= 400).then(|| format!("the request answered HTTP {status}"));
    Ok((exports, error))
}

/// Runs one step with `steps` (earlier exports) available.
async fn execute(
    ctx: &App,
    actor: &Actor,
    step: &Step,
    steps: &Map<String, Value>,
    env: &[(String, String)],
    redactor: &mut Redactor,
) -> Outcome {
    let opened = match open_accounts(ctx, actor, step, redactor).await {
        Ok(mut opened) => {
            // "Use external authentication": fields mapped from the trigger or earlier steps,
            // for this run only.
            if let Err(error) = external_auth(ctx, step, steps, &mut opened, redactor).await {
                return Outcome {
                    exports: json!({}),
                    logs: vec![],
                    error: Some(error),
                };
            }
            opened
        }
        Err(error) => {
            return Outcome {
                exports: json!({}),
                logs: vec![],
                error: Some(error),
            }
        }
    };
    let props: Value = serde_json::from_str(&step.props).unwrap_or_else(|_| json!({}));
    match step.kind.as_str() {
        "http" => http_step(ctx, &props, &opened, env).await,
        _ => {
            // Code sees its inputs and, for each app prop, the credentials as `$auth`.
            let mut inputs = props
                .get("inputs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (prop, account) in &opened {
                let fields: Map<String, Value> = account
                    .credentials
                    .field_names()
                    .filter_map(|name| {
                        account
                            .credentials
                            .get(name)
                            .map(|v| (name.to_owned(), Value::String(v.to_owned())))
                    })
                    .collect();
                inputs.insert(prop.clone(), json!({"$auth": fields}));
            }
            let input = json!({"props": inputs, "steps": steps});
            let outcome = super::code::run(&props, &input, env).await;
            Outcome {
                exports: outcome.exports,
                logs: outcome.logs,
                error: outcome.error,
            }
        }
    }
}

/// A finished run before redaction.
struct Finished<'a> {
    workspace_id: &'a str,
    workflow_id: &'a str,
    step_id: Option<&'a str>,
    started_at: i64,
    exports: Value,
    logs: Vec<String>,
    error: Option<String>,
}

/// Redacts and stores a run.
async fn finish(
    ctx: &App,
    actor: &Actor,
    finished: Finished<'_>,
    redactor: &Redactor,
) -> Result<Run, ServiceError> {
    let run = Run {
        id: latchkey_domain::ids::generate("run_"),
        workflow_id: finished.workflow_id.to_owned(),
        workspace_id: finished.workspace_id.to_owned(),
        step_id: finished.step_id.map(str::to_owned),
        started_by: actor.id.clone(),
        status: if finished.error.is_some() {
            "error"
        } else {
            "success"
        }
        .to_owned(),
        exports: redactor.json(&finished.exports).to_string(),
        logs: redactor.json(&json!(finished.logs)).to_string(),
        error: finished.error.map(|e| redactor.text(&e)),
        started_at: finished.started_at,
        finished_at: clock::now_ms(),
    };
    ctx.store.insert_run(&run).await?;
    Ok(run)
}

/// The workspace's environment variables, every value registered for redaction.
async fn env_for_run(
    ctx: &App,
    workspace_id: &str,
    redactor: &mut Redactor,
) -> Result<Vec<(String, String)>, ServiceError> {
    let env = env_vars::for_run(ctx, workspace_id).await?;
    for (_, value) in &env {
        redactor.add(value);
    }
    Ok(env)
}

/// Tests one step, with the exports of the workflow's last run as `steps`.
///
/// # Errors
/// 404 for unknown workflows or steps; a failing step is a run with status `error`, not an
/// error of this call.
pub async fn test_step(
    ctx: &App,
    caller: &Caller,
    workflow_id: &str,
    step_id: &str,
) -> Result<Run, ServiceError> {
    let workflow = load(ctx, caller, workflow_id).await?;
    let step = ctx
        .store
        .list_steps(caller.workspace_id(), &workflow.id)
        .await?
        .into_iter()
        .find(|s| s.id == step_id)
        .ok_or(ServiceError::NotFound("step"))?;
    let previous: Map<String, Value> = ctx
        .store
        .latest_runs(caller.workspace_id(), &workflow.id, 1)
        .await?
        .first()
        .and_then(|r| serde_json::from_str(&r.exports).ok())
        .unwrap_or_default();
    let started_at = clock::now_ms();
    let mut redactor = Redactor::default();
    let env = env_for_run(ctx, &workflow.workspace_id, &mut redactor).await?;
    let actor = caller.actor();
    let outcome = execute(ctx, &actor, &step, &previous, &env, &mut redactor).await;
    let mut exports = previous;
    exports.insert(step.name.clone(), outcome.exports);
    let finished = Finished {
        workspace_id: &workflow.workspace_id,
        workflow_id: &workflow.id,
        step_id: Some(&step.id),
        started_at,
        exports: Value::Object(exports),
        logs: outcome.logs,
        error: outcome.error,
    };
    finish(ctx, &actor, finished, &redactor).await
}

/// A workflow's latest runs and step tests, newest first (any member: exports, logs and
/// errors are redacted, so members who may not use its accounts can still read them).
///
/// # Errors
/// 404 for unknown workflows.
pub async fn list_runs(
    ctx: &App,
    caller: &Caller,
    workflow_id: &str,
    limit: u32,
) -> Result<Vec<Run>, ServiceError> {
    let workflow = load(ctx, caller, workflow_id).await?;
    Ok(ctx
        .store
        .latest_runs(&workflow.workspace_id, &workflow.id, limit)
        .await?)
}

/// Runs every step in order with `event` as `steps.trigger.event`; stops at the first error.
///
/// # Errors
/// 404 for unknown workflows.
pub async fn run_workflow(
    ctx: &App,
    caller: &Caller,
    workflow_id: &str,
    event: Value,
) -> Result<Run, ServiceError> {
    let workflow = load(ctx, caller, workflow_id).await?;
    run_as(ctx, &workflow, &caller.actor(), event, false).await
}

/// Runs a workflow for `actor`. With `nostore`, the trigger's payload is not persisted: it is
/// left out of the stored run and every string in it is redacted from what is stored.
pub(crate) async fn run_as(
    ctx: &App,
    workflow: &latchkey_store::Workflow,
    actor: &Actor,
    event: Value,
    nostore: bool,
) -> Result<Run, ServiceError> {
    let steps = ctx
        .store
        .list_steps(&workflow.workspace_id, &workflow.id)
        .await?;
    let started_at = clock::now_ms();
    let mut redactor = Redactor::default();
    let env = env_for_run(ctx, &workflow.workspace_id, &mut redactor).await?;
    if nostore {
        redact_payload(&event, &mut redactor);
    }
    let mut exports = Map::new();
    exports.insert("trigger".into(), json!({"event": event}));
    let mut logs = Vec::new();
    let mut error = None;
    for step in &steps {
        let outcome = execute(ctx, actor, step, &exports, &env, &mut redactor).await;
        logs.extend(
            outcome
                .logs
                .into_iter()
                .map(|l| format!("{}: {l}", step.name)),
        );
        exports.insert(step.name.clone(), outcome.exports);
        if let Some(e) = outcome.error {
            error = Some(format!("{}: {e}", step.name));
            break;
        }
    }
    if nostore {
        exports.insert("trigger".into(), json!({"event": null, "stored": false}));
    }
    let finished = Finished {
        workspace_id: &workflow.workspace_id,
        workflow_id: &workflow.id,
        step_id: None,
        started_at,
        exports: Value::Object(exports),
        logs,
        error,
    };
    finish(ctx, actor, finished, &redactor).await
}

fn redact_payload(value: &Value, redactor: &mut Redactor) {
    match value {
        Value::String(s) => redactor.add(s),
        Value::Array(items) => items.iter().for_each(|v| redact_payload(v, redactor)),
        Value::Object(map) => map.values().for_each(|v| redact_payload(v, redactor)),
        _ => {}
    }
}

/// Resolves a dotted path (`steps.trigger.event.token`, `steps.read.secret`) in the run's
/// exports.
fn lookup<'a>(steps: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    if parts.next() != Some("steps") {
        return None;
    }
    let mut current = steps.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// `props.external_auth.<prop> = {"app": "<slug>", "fields": {"<field>": "steps.…"}}`: the
/// credentials of `<prop>` taken from the trigger or an earlier step for this run only (never
/// stored, redacted like any credential).
async fn external_auth(
    ctx: &App,
    step: &Step,
    steps: &Map<String, Value>,
    opened: &mut BTreeMap<String, Opened>,
    redactor: &mut Redactor,
) -> Result<(), String> {
    let props: Value = serde_json::from_str(&step.props).unwrap_or_else(|_| json!({}));
    let Some(external) = props.get("external_auth").and_then(Value::as_object) else {
        return Ok(());
    };
    for (prop, spec) in external {
        if opened.contains_key(prop) {
            return Err(format!(
                "{prop} is bound to an account and to external authentication"
            ));
        }
        let slug = spec
            .get("app")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("props.external_auth.{prop}.app is required"))?;
        let app = ctx
            .catalog
            .resolve(&*ctx.store, &step.workspace_id, slug)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| {
                format!("props.external_auth.{prop}.app is not an app of the catalog")
            })?;
        let fields = spec
            .get("fields")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("props.external_auth.{prop}.fields is required"))?;
        let mut values = BTreeMap::new();
        for (field, path) in fields {
            let path = path.as_str().ok_or_else(|| {
                format!("props.external_auth.{prop}.fields.{field} must be a path")
            })?;
            let value = match lookup(steps, path) {
                Some(Value::String(s)) => s.clone(),
                Some(other) if !other.is_null() => other.to_string(),
                _ => {
                    return Err(format!(
                        "{path} (for {prop}.{field}) has no value in this run"
                    ))
                }
            };
            redactor.add(&value);
            values.insert(field.clone(), value);
        }
        opened.insert(
            prop.clone(),
            Opened {
                app: Some(app.definition),
                credentials: Credentials::from_map(values),
            },
        );
    }
    Ok(())
}

/// Starts a run from the workflow's HTTP trigger (`POST /hooks/{workflow_id}`), authenticated
/// by the workflow's hook secret.
///
/// # Errors
/// 404 for an unknown workflow or a wrong secret (the same answer for both).
pub async fn run_from_hook(
    ctx: &App,
    workflow_id: &str,
    secret: &str,
    event: Value,
    nostore: bool,
) -> Result<Run, ServiceError> {
    let workflow = super::hooks::authenticate(ctx, workflow_id, secret).await?;
    let actor = Actor::system("hook");
    run_as(ctx, &workflow, &actor, event, nostore).await
}
