//! Row structs as the database returns them, and their conversion to models.

use latchkey_domain::{connect::Environment, role::Role};

use crate::models::{
    Account, ApiClient, AppOverride, AppRequest, ConnectOwner, ConnectToken, CustomApp,
    ExternalUser, Member, Project, Sharing, Workspace,
};

pub(crate) const ACCOUNT_COLUMNS: &str = "id, workspace_id, app_slug, name, owner_id, sharing, \
    credentials_ciphertext, key_id, healthy, dead, error, authorized_scopes, expires_at, \
    created_at, updated_at, version, oauth_client, last_refreshed_at, next_refresh_at, \
    refresh_failures, project_id, environment, external_user_id, external_id";

pub(crate) fn split_scopes(joined: &str) -> Vec<String> {
    joined.split_whitespace().map(str::to_owned).collect()
}

fn role(stored: &str) -> Role {
    // The column has a CHECK constraint; an unknown value would be a corrupted row, and the
    // least-privileged reading is the safe one.
    Role::parse(stored).unwrap_or(Role::Member)
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    id: String,
    name: String,
    created_at: i64,
}

impl From<WorkspaceRow> for Workspace {
    fn from(r: WorkspaceRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    workspace_id: String,
    user_id: String,
    email: String,
    role: String,
    created_at: i64,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Self {
            workspace_id: r.workspace_id,
            user_id: r.user_id,
            email: r.email,
            role: role(&r.role),
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiClientRow {
    id: String,
    workspace_id: String,
    name: String,
    secret_hash: String,
    scopes: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<ApiClientRow> for ApiClient {
    fn from(r: ApiClientRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            secret_hash: r.secret_hash,
            scopes: split_scopes(&r.scopes),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CustomAppRow {
    id: String,
    workspace_id: String,
    name_slug: String,
    definition: String,
    created_at: i64,
}

impl From<CustomAppRow> for CustomApp {
    fn from(r: CustomAppRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            name_slug: r.name_slug,
            definition_json: r.definition,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AppRequestRow {
    id: String,
    workspace_id: String,
    requested_by: String,
    name: String,
    url: Option<String>,
    note: Option<String>,
    created_at: i64,
}

impl From<AppRequestRow> for AppRequest {
    fn from(r: AppRequestRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            requested_by: r.requested_by,
            name: r.name,
            url: r.url,
            note: r.note,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    workspace_id: String,
    app_slug: String,
    name: String,
    owner_id: Option<String>,
    sharing: String,
    credentials_ciphertext: Vec<u8>,
    key_id: i64,
    healthy: i64,
    dead: i64,
    error: Option<String>,
    authorized_scopes: String,
    expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    version: i64,
    oauth_client: Option<String>,
    last_refreshed_at: Option<i64>,
    next_refresh_at: Option<i64>,
    refresh_failures: i64,
    project_id: Option<String>,
    environment: Option<String>,
    external_user_id: Option<String>,
    external_id: Option<String>,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            app_slug: r.app_slug,
            name: r.name,
            owner_id: r.owner_id,
            sharing: Sharing::parse(&r.sharing),
            credentials_ciphertext: r.credentials_ciphertext,
            key_id: r.key_id,
            healthy: r.healthy != 0,
            dead: r.dead != 0,
            error: r.error,
            authorized_scopes: split_scopes(&r.authorized_scopes),
            expires_at: r.expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            oauth_client: r.oauth_client,
            last_refreshed_at: r.last_refreshed_at,
            next_refresh_at: r.next_refresh_at,
            refresh_failures: r.refresh_failures,
            shared_with: Vec::new(),
            connect: match (
                r.project_id,
                r.environment,
                r.external_user_id,
                r.external_id,
            ) {
                (
                    Some(project_id),
                    Some(environment),
                    Some(external_user_id),
                    Some(external_id),
                ) => {
                    Some(ConnectOwner {
                        project_id,
                        // The column is only ever written from `Environment::as_str`.
                        environment: Environment::parse(&environment)
                            .unwrap_or(Environment::Development),
                        external_user_id,
                        external_id,
                    })
                }
                _ => None,
            },
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProjectRow {
    id: String,
    workspace_id: String,
    name: String,
    support_email: Option<String>,
    created_at: i64,
}

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            support_email: r.support_email,
            created_at: r.created_at,
        }
    }
}

fn environment(stored: &str) -> Environment {
    // CHECK constraint on the column; development is the less exposed reading of a bad value.
    Environment::parse(stored).unwrap_or(Environment::Development)
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExternalUserRow {
    id: String,
    project_id: String,
    environment: String,
    external_id: String,
    created_at: i64,
    updated_at: i64,
}

impl From<ExternalUserRow> for ExternalUser {
    fn from(r: ExternalUserRow) -> Self {
        Self {
            id: r.id,
            project_id: r.project_id,
            environment: environment(&r.environment),
            external_id: r.external_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConnectTokenRow {
    token_hash: String,
    project_id: String,
    environment: String,
    external_id: String,
    settings: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<ConnectTokenRow> for ConnectToken {
    fn from(r: ConnectTokenRow) -> Self {
        Self {
            token_hash: r.token_hash,
            project_id: r.project_id,
            environment: environment(&r.environment),
            external_id: r.external_id,
            settings_json: r.settings,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OverrideRow {
    id: String,
    project_id: String,
    name: String,
    app_slug: String,
    oauth_app_id: Option<String>,
    cfmap: String,
    created_at: i64,
    updated_at: i64,
}

impl From<OverrideRow> for AppOverride {
    fn from(r: OverrideRow) -> Self {
        Self {
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            app_slug: r.app_slug,
            oauth_app_id: r.oauth_app_id,
            cfmap_json: r.cfmap,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
