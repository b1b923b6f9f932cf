//! `/workflows` — the workspace's workflows; `/workflows/{id}` — its steps with their account
//! selectors. Only accounts the member may use are offered. A step bound to an account the
//! member may not use is shown read-only with the reason, and can still be tested: the run
//! uses the credentials on the server and shows only redacted exports, logs and errors.

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use latchkey_domain::access::Operation;
use latchkey_store::{Run, Sharing};
use serde::Deserialize;
use serde_json::Value;

use super::{explain, failure, page, problem, WebSession};
use crate::{
    clock,
    service::{
        accounts,
        workflows::{self, run, NewStep, StepPatch},
        ServiceError,
    },
    AppState,
};

/// How many usable accounts a selector offers (newest first).
const SELECTOR_LIMIT: u32 = 200;

/// A workflow, as listed.
pub(crate) struct WorkflowRow {
    id: String,
    name: String,
    builder: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct ListPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    rows: Vec<WorkflowRow>,
    error: Option<String>,
}

/// `GET /workflows`
pub(crate) async fn list(State(state): State<AppState>, session: WebSession) -> Response {
    list_page(&state, &session, StatusCode::OK, None).await
}

async fn list_page(
    state: &AppState,
    session: &WebSession,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let all = match workflows::list(state, &session.caller).await {
        Ok(w) => w,
        Err(e) => return failure(&e),
    };
    let rows = all
        .into_iter()
        .map(|w| WorkflowRow {
            id: w.id,
            name: w.name,
            builder: w.builder,
            updated: clock::iso(w.updated_at),
        })
        .collect();
    page(
        status,
        &ListPage {
            section: "workflows",
            admin: session.caller.is_admin(),
            email: &session.email,
            csrf: &session.csrf,
            rows,
            error,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    builder: String,
}

/// `POST /workflows`
pub(crate) async fn create(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    let builder = Some(form.builder.as_str()).filter(|b| !b.is_empty());
    match workflows::create(&state, &session.caller, &form.name, builder).await {
        Ok((workflow, _secret)) => {
            Redirect::to(&format!("/workflows/{}", workflow.id)).into_response()
        }
        Err(e) => {
            let (status, text) = explain(&e);
            list_page(&state, &session, status, Some(text)).await
        }
    }
}

/// An account a selector offers.
#[derive(Clone)]
pub(crate) struct AccountChoice {
    id: String,
    label: String,
    app_slug: String,
}

/// One app prop of a step and the account bound to it.
pub(crate) struct Binding {
    prop: String,
    account_id: String,
    /// What the member sees of the bound account.
    label: String,
    /// Accounts the member may switch it to (same app).
    choices: Vec<AccountChoice>,
    /// The bound account's app, to connect one of its own.
    app_slug: String,
}

/// The outcome of a step test, as shown.
pub(crate) struct RunView {
    status: String,
    exports: String,
    logs: Vec<String>,
    error: Option<String>,
    at: String,
}

/// One step, as shown.
pub(crate) struct StepRow {
    id: String,
    name: String,
    kind: String,
    props: String,
    editable: bool,
    read_only_reason: Option<String>,
    bindings: Vec<Binding>,
    test: Option<RunView>,
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct WorkflowPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    id: String,
    name: String,
    builder: String,
    steps: Vec<StepRow>,
    choices: Vec<AccountChoice>,
    message: Option<&'a str>,
    error: Option<String>,
}

fn run_view(run: &Run) -> RunView {
    let pretty = |text: &str| {
        serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_owned())
    };
    let logs = serde_json::from_str::<Vec<Value>>(&run.logs)
        .unwrap_or_default()
        .into_iter()
        .map(|line| match line {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect();
    RunView {
        status: run.status.clone(),
        exports: pretty(&run.exports),
        logs,
        error: run.error.clone(),
        at: clock::iso(run.finished_at),
    }
}

/// The accounts the member may add to a step of a workflow with this builder.
async fn usable_accounts(
    state: &AppState,
    session: &WebSession,
    builder: &str,
) -> Result<Vec<AccountChoice>, ServiceError> {
    let page = accounts::list(
        state,
        &session.caller,
        accounts::ListParams {
            app: None,
            search: None,
            after: None,
            limit: SELECTOR_LIMIT,
            with_credentials: false,
        },
    )
    .await?;
    Ok(page
        .items
        .into_iter()
        .filter(|d| session.caller.may(&d.account, Operation::AddToStep))
        .filter(|d| builder != "v1" || d.account.sharing == Sharing::Workspace)
        .map(|d| {
            let app = d
                .app
                .as_ref()
                .map_or_else(|| d.account.app_slug.clone(), |a| a.definition.name.clone());
            AccountChoice {
                label: format!("{app}: {}", d.account.name),
                id: d.account.id,
                app_slug: d.account.app_slug,
            }
        })
        .collect())
}

async fn render(
    state: &AppState,
    session: &WebSession,
    id: &str,
    status: StatusCode,
    tested: Option<(String, Run)>,
    message: Option<&str>,
    error: Option<String>,
) -> Response {
    let caller = &session.caller;
    let view = match workflows::get(state, caller, id).await {
        Ok(v) => v,
        Err(e) => {
            return failure(&e);
        }
    };
    let choices = match usable_accounts(state, session, &view.workflow.builder).await {
        Ok(c) => c,
        Err(e) => return failure(&e),
    };
    // The latest test of each step, so results stay visible after reloading.
    let mut last_tests: BTreeMap<String, Run> = BTreeMap::new();
    if let Ok(runs) = run::list_runs(state, caller, id, 50).await {
        for r in runs {
            if let Some(step_id) = r.step_id.clone() {
                last_tests.entry(step_id).or_insert(r);
            }
        }
    }
    if let Some((step_id, r)) = tested {
        last_tests.insert(step_id, r);
    }
    let mut steps = Vec::new();
    for s in view.steps {
        let mut bindings = Vec::new();
        for (prop, account_id) in &s.step.accounts {
            let bound = state
                .store
                .get_account(caller.workspace_id(), account_id)
                .await
                .ok()
                .flatten();
            let (label, app_slug) = match &bound {
                Some(a) if caller.may(a, Operation::View) => (a.name.clone(), a.app_slug.clone()),
                Some(a) => (
                    format!("an account you may not see ({account_id})"),
                    a.app_slug.clone(),
                ),
                None => (format!("a deleted account ({account_id})"), String::new()),
            };
            bindings.push(Binding {
                prop: prop.clone(),
                account_id: account_id.clone(),
                label,
                choices: choices
                    .iter()
                    .filter(|c| app_slug.is_empty() || c.app_slug == app_slug)
                    .cloned()
                    .collect(),
                app_slug,
            });
        }
        let props = serde_json::from_str::<Value>(&s.step.props)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| s.step.props.clone());
        steps.push(StepRow {
            test: last_tests.get(&s.step.id).map(run_view),
            id: s.step.id,
            name: s.step.name,
            kind: s.step.kind,
            props,
            editable: s.editable,
            read_only_reason: s.read_only_reason,
            bindings,
        });
    }
    page(
        status,
        &WorkflowPage {
            section: "workflows",
            admin: caller.is_admin(),
            email: &session.email,
            csrf: &session.csrf,
            id: view.workflow.id,
            name: view.workflow.name,
            builder: view.workflow.builder,
            steps,
            choices,
            message,
            error,
        },
    )
}

/// `GET /workflows/{id}`
pub(crate) async fn show(
    State(state): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
) -> Response {
    render(&state, &session, &id, StatusCode::OK, None, None, None).await
}

/// The step forms' fields (each action reads its own).
#[derive(Debug, Deserialize)]
pub(crate) struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    props: String,
    #[serde(default)]
    prop: String,
    #[serde(default)]
    account_id: String,
}

fn parse_props(text: &str) -> Result<Value, ServiceError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(text).map_err(|e| {
        latchkey_domain::ValidationError::new("props", format!("is not valid JSON: {e}")).into()
    })
}

/// What a step action did: the message, and the run when it was a test (with its step id).
type Done = (&'static str, Option<(String, Run)>);

/// `POST /workflows/{id}/steps`: adds a step.
pub(crate) async fn add_step(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> Response {
    perform(&state, &session, &headers, &id, "", &form).await
}

/// `POST /workflows/{id}/steps/{step_id}/{action}` with `save`, `account` or `test`.
pub(crate) async fn step_action(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Path((id, rest)): Path<(String, String)>,
    Form(form): Form<StepForm>,
) -> Response {
    perform(&state, &session, &headers, &id, &rest, &form).await
}

async fn perform(
    state: &AppState,
    session: &WebSession,
    headers: &HeaderMap,
    id: &str,
    rest: &str,
    form: &StepForm,
) -> Response {
    if let Err(refused) = session.verify_form(state, headers, &form.csrf) {
        return refused.into_response();
    }
    let caller = &session.caller;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let binding = || {
        let mut map = BTreeMap::new();
        if !form.prop.trim().is_empty() && !form.account_id.is_empty() {
            map.insert(form.prop.trim().to_owned(), form.account_id.clone());
        }
        map
    };
    let outcome: Result<Done, ServiceError> = match parts.as_slice() {
        [] => match parse_props(&form.props) {
            Ok(props) => {
                let input = NewStep {
                    name: form.name.trim().to_owned(),
                    kind: form.kind.clone(),
                    props,
                    accounts: binding(),
                };
                workflows::add_step(state, caller, id, input)
                    .await
                    .map(|_| ("Step added.", None))
            }
            Err(e) => Err(e),
        },
        [step_id, "save"] => match parse_props(&form.props) {
            Ok(props) => {
                let patch = StepPatch {
                    name: Some(form.name.trim().to_owned()),
                    props: Some(props),
                    accounts: None,
                };
                workflows::patch_step(state, caller, id, step_id, patch)
                    .await
                    .map(|_| ("Step saved.", None))
            }
            Err(e) => Err(e),
        },
        [step_id, "account"] => {
            let patch = StepPatch {
                accounts: Some(binding()),
                ..StepPatch::default()
            };
            workflows::patch_step(state, caller, id, step_id, patch)
                .await
                .map(|_| {
                    (
                        "Account switched; the props that depended on the old one were cleared.",
                        None,
                    )
                })
        }
        [step_id, "test"] => run::test_step(state, caller, id, step_id)
            .await
            .map(|r| ("Step tested.", Some(((*step_id).to_owned(), r)))),
        _ => return problem(StatusCode::NOT_FOUND, "Unknown action."),
    };
    match outcome {
        Ok((message, tested)) => {
            render(
                state,
                session,
                id,
                StatusCode::OK,
                tested,
                Some(message),
                None,
            )
            .await
        }
        Err(e) => {
            let (status, text) = explain(&e);
            render(state, session, id, status, None, None, Some(text)).await
        }
    }
}
