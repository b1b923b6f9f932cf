//! Projects: created by workspace admins (UI, API, CLI).

use latchkey_domain::{connect::validate_project_name, ids, ValidationError};
use latchkey_store::{Project, Store};

use crate::{clock, service::ServiceError, App};

/// A project of the workspace.
///
/// # Errors
/// 404 when unknown or in another workspace.
pub async fn find(
    ctx: &App,
    workspace_id: &str,
    project_id: &str,
) -> Result<Project, ServiceError> {
    if !ids::is_valid(ids::PROJECT, project_id) {
        return Err(ServiceError::NotFound("project"));
    }
    ctx.store
        .get_project(workspace_id, project_id)
        .await?
        .ok_or(ServiceError::NotFound("project"))
}

/// Creates a project.
///
/// # Errors
/// Bad name (400), name taken (409).
pub async fn create(
    store: &dyn Store,
    workspace_id: &str,
    name: &str,
    support_email: Option<&str>,
) -> Result<Project, ServiceError> {
    let name = validate_project_name(name)?;
    let support_email = match support_email.map(str::trim).filter(|s| !s.is_empty()) {
        Some(email) if email.contains('@') && email.len() <= 254 => Some(email.to_owned()),
        Some(_) => {
            return Err(ValidationError::new("support_email", "is not an email address").into())
        }
        None => None,
    };
    let project = Project {
        id: ids::generate(ids::PROJECT),
        workspace_id: workspace_id.to_owned(),
        name,
        support_email,
        created_at: clock::now_ms(),
    };
    store.insert_project(&project).await?;
    Ok(project)
}
