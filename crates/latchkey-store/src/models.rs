//! Rows as the rest of Latchkey sees them. Times are Unix milliseconds.

use latchkey_domain::{connect::Environment, role::Role};

/// A workspace (team).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// `o_…`
    pub id: String,
    /// Unique display name.
    pub name: String,
    /// Creation time.
    pub created_at: i64,
}

/// A member to add to a workspace, with the hash of their first API key.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// User id to use if no user has this email yet.
    pub user_id: String,
    /// Lower-cased email; identifies the user across workspaces.
    pub email: String,
    /// Argon2id PHC string, if a password was set.
    pub password_hash: Option<String>,
    /// Role in the workspace.
    pub role: Role,
    /// The member's first API key.
    pub api_key: NewApiKey,
}

/// An API key record (the key itself is never stored).
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// `key_…`
    pub id: String,
    /// SHA-256 hex of the key.
    pub token_hash: String,
    /// Creation time.
    pub created_at: i64,
}

/// A member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Workspace.
    pub workspace_id: String,
    /// `u_…`
    pub user_id: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When they joined.
    pub created_at: i64,
}

/// Who an API key or access token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A member, through their API key.
    Member {
        /// Workspace.
        workspace_id: String,
        /// The member.
        user_id: String,
        /// Their role.
        role: Role,
    },
    /// A workspace API client, through an access token from `/v1/oauth/token`.
    Client {
        /// Workspace.
        workspace_id: String,
        /// `lkc_…`
        client_id: String,
        /// Granted scopes.
        scopes: Vec<String>,
        /// When the access token expires (Unix ms); caches must not outlive it.
        expires_at: i64,
    },
}

/// A workspace API client (OAuth client credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// The client id (`lkc_…`).
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 hex of the client secret.
    pub secret_hash: String,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: i64,
    /// Set once revoked.
    pub revoked_at: Option<i64>,
}

/// An access token issued to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Issue time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// A workspace's custom app (definition kept as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomApp {
    /// `app_…`
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Slug (unique in the workspace).
    pub name_slug: String,
    /// The definition, as JSON.
    pub definition_json: String,
    /// Creation time.
    pub created_at: i64,
}

/// A member's request for a missing app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRequest {
    /// `areq_…`
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Requesting member.
    pub requested_by: String,
    /// The app's name.
    pub name: String,
    /// Its website or API docs.
    pub url: Option<String>,
    /// Why it is needed.
    pub note: Option<String>,
    /// Creation time.
    pub created_at: i64,
}

/// Who an account is shared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Only its owner.
    Private,
    /// The whole workspace.
    Workspace,
    /// Chosen members.
    Members,
}

impl Sharing {
    /// Stored form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Private => "private",
            Sharing::Workspace => "workspace",
            Sharing::Members => "members",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "workspace" => Sharing::Workspace,
            "members" => Sharing::Members,
            _ => Sharing::Private,
        }
    }
}

/// A connected account. `credentials_ciphertext` is an envelope sealed for
/// (`accounts`, workspace id, account id, `credentials`); the store never sees plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// `apn_…`
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// The app's slug.
    pub app_slug: String,
    /// Nickname.
    pub name: String,
    /// The member who connected it; `None` for legacy accounts.
    pub owner_id: Option<String>,
    /// Sharing mode.
    pub sharing: Sharing,
    /// Sealed credential fields (JSON object inside).
    pub credentials_ciphertext: Vec<u8>,
    /// Data key that sealed them.
    pub key_id: i64,
    /// Last check or refresh succeeded.
    pub healthy: bool,
    /// Permanently broken; must be reconnected.
    pub dead: bool,
    /// Why it is unhealthy.
    pub error: Option<String>,
    /// Granted OAuth scopes.
    pub authorized_scopes: Vec<String>,
    /// Expiry of the current credentials, if they expire.
    pub expires_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Bumped on every credential change (optimistic concurrency).
    pub version: i64,
    /// OAuth accounts: the client used, `default` (the operator's) or an `oa_…` id.
    pub oauth_client: Option<String>,
    /// Last successful refresh.
    pub last_refreshed_at: Option<i64>,
    /// When the scheduler should refresh next.
    pub next_refresh_at: Option<i64>,
    /// Consecutive failed refreshes.
    pub refresh_failures: i64,
    /// With `Sharing::Members`: the user ids it is shared with (loaded by `get_account` and
    /// `list_accounts`; empty otherwise).
    pub shared_with: Vec<String>,
    /// Connect accounts: the project end user it belongs to. `None` for workspace accounts.
    pub connect: Option<ConnectOwner>,
}

/// The end user a Connect account belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOwner {
    /// `proj_…`
    pub project_id: String,
    /// The project environment.
    pub environment: Environment,
    /// `exu_…`
    pub external_user_id: String,
    /// The product's own id for the end user.
    pub external_id: String,
}

/// Which Connect accounts to list.
#[derive(Debug, Clone)]
pub struct ConnectFilter {
    /// `proj_…`
    pub project_id: String,
    /// Environment.
    pub environment: Environment,
    /// Only this end user (`exu_…`).
    pub external_user_id: Option<String>,
    /// Only accounts connected with this OAuth client (`oa_…`).
    pub oauth_client: Option<String>,
}

/// A Connect project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// `proj_…`
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Display name (unique in the workspace).
    pub name: String,
    /// Shown to end users on the connect page.
    pub support_email: Option<String>,
    /// Creation time.
    pub created_at: i64,
}

/// An end user of a project environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUser {
    /// `exu_…`
    pub id: String,
    /// `proj_…`
    pub project_id: String,
    /// Environment.
    pub environment: Environment,
    /// The product's id for the user.
    pub external_id: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A connect token record (the token itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectToken {
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// `proj_…`
    pub project_id: String,
    /// Environment.
    pub environment: Environment,
    /// The end user it is for.
    pub external_id: String,
    /// JSON of the creation options (origins, redirects, webhook, scopes, app limits).
    pub settings_json: String,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When an account was connected with it (single use).
    pub used_at: Option<i64>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("app_slug", &self.app_slug)
            .field("owner_id", &self.owner_id)
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Which accounts to list.
#[derive(Debug, Clone, Default)]
pub struct AccountQuery {
    /// Workspace (always required).
    pub workspace_id: String,
    /// Only accounts this member may view as a non-admin (owned or shared); `None` lists all,
    /// for admins.
    pub visible_to: Option<String>,
    /// Only accounts of this app slug.
    pub app_slug: Option<String>,
    /// Case-insensitive substring of the name, the app slug or the owner's email.
    pub search: Option<String>,
    /// Continue after this cursor.
    pub after: Option<String>,
    /// Page size (1..=100).
    pub limit: u32,
    /// Connect accounts of a project environment; `None` lists the workspace's own accounts.
    pub connect: Option<ConnectFilter>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Matching items in total, across pages.
    pub total_count: i64,
    /// Cursor of the first item.
    pub start_cursor: Option<String>,
    /// Cursor to continue from; `None` on the last page.
    pub end_cursor: Option<String>,
}

impl<T> Page<T> {
    /// No items (past the end, or an unreadable cursor).
    #[must_use]
    pub fn empty(total_count: i64) -> Self {
        Self {
            items: Vec::new(),
            total_count,
            start_cursor: None,
            end_cursor: None,
        }
    }
}

/// New OAuth credentials for an account, after a code exchange or a refresh.
#[derive(Clone)]
pub struct OAuthUpdate {
    /// The sealed credentials.
    pub credentials_ciphertext: Vec<u8>,
    /// Data key used.
    pub key_id: i64,
    /// Granted scopes.
    pub authorized_scopes: Vec<String>,
    /// Expiry of the access token.
    pub expires_at: Option<i64>,
    /// Next scheduled refresh.
    pub next_refresh_at: Option<i64>,
    /// Now.
    pub now: i64,
}

/// A failed refresh's effect on the account.
#[derive(Debug, Clone)]
pub struct RefreshFailure {
    /// Still usable?
    pub healthy: bool,
    /// Gone for good (must be reconnected)?
    pub dead: bool,
    /// Why, for people.
    pub error: String,
    /// When to try again (`None`: not automatically).
    pub next_refresh_at: Option<i64>,
}

/// A started OAuth connect flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFlow {
    /// Row id.
    pub id: String,
    /// SHA-256 of the start link's handle.
    pub handle_hash: String,
    /// SHA-256 of `state`.
    pub state_hash: String,
    /// Workspace.
    pub workspace_id: String,
    /// Member who started it.
    pub user_id: String,
    /// App.
    pub app_slug: String,
    /// The account to reconnect in place, if any.
    pub account_id: Option<String>,
    /// `default` or `oa_…`.
    pub oauth_client: String,
    /// Redirect URI sent to the provider (the token request repeats it exactly).
    pub redirect_uri: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Sealed PKCE verifier.
    pub verifier_ciphertext: Vec<u8>,
    /// SHA-256 of the browser binding cookie, once the start link was opened.
    pub browser_hash: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When the callback consumed it.
    pub used_at: Option<i64>,
    /// Connect flows: the hash of the connect token the connection spends (`user_id` is empty).
    pub connect_token_hash: Option<String>,
}

/// A workspace's own OAuth client ("bring your own app"), `oa_…`.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// `oa_…`
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// The app it is registered for.
    pub app_slug: String,
    /// Display name.
    pub name: String,
    /// Client id at the provider.
    pub client_id: String,
    /// The secret, sealed for (`oauth_clients`, workspace, id, `client_secret`).
    pub client_secret_ciphertext: Vec<u8>,
    /// Data key used.
    pub key_id: i64,
    /// Scopes requested instead of the app's defaults (applied on the next connect).
    pub scopes: Option<Vec<String>>,
    /// When the provider last rejected the client (`invalid_client`); cleared when an admin
    /// changes it or it works again.
    pub rejected_at: Option<i64>,
    /// The provider's error code with that rejection.
    pub rejected_error: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("app_slug", &self.app_slug)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// An audit event to append (never holds a credential value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// `aud_…`
    pub id: String,
    /// Workspace the event is about.
    pub workspace_id: String,
    /// When (ms since the epoch).
    pub at: i64,
    /// `member`, `client` or `system`.
    pub actor_type: String,
    /// User id, API client id, or the system component.
    pub actor_id: String,
    /// What happened, e.g. `credentials.read`, `access.change`, `account.delete`.
    pub action: String,
    /// The account concerned, if any.
    pub account_id: Option<String>,
    /// `allowed`, `denied` or `error`.
    pub outcome: String,
    /// Extra facts as JSON (modes, counts, reasons; never values).
    pub detail: Option<String>,
}

/// A stored audit event: its place in the chain and its MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the install's chain (1, 2, …).
    pub seq: i64,
    /// The event.
    pub event: NewAuditEvent,
    /// HMAC over the previous MAC and this event.
    pub mac: Vec<u8>,
}

/// Which audit events to list (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Workspace (always required).
    pub workspace_id: String,
    /// Only events about this account.
    pub account_id: Option<String>,
    /// Only events by this actor.
    pub actor_id: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only events older than this sequence number (the cursor).
    pub before_seq: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// A workflow: named, ordered steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    /// `wf_…`
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Name.
    pub name: String,
    /// `v2` (current builder) or `v1` (legacy: only accounts shared with the whole workspace).
    pub builder: String,
    /// Who created it.
    pub created_by: String,
    /// SHA-256 (hex) of the HTTP trigger's secret.
    pub hook_secret_hash: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A step of a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `st_…`
    pub id: String,
    /// Its workflow.
    pub workflow_id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Order in the workflow (0, 1, …).
    pub position: i64,
    /// Name, unique in the workflow (`steps.<name>` in code).
    pub name: String,
    /// `http` or `code`.
    pub kind: String,
    /// The step's props as a JSON object.
    pub props: String,
    /// App props bound to accounts: prop name → `apn_…`.
    pub accounts: std::collections::BTreeMap<String, String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A run of a workflow, or the test of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// `run_…`
    pub id: String,
    /// Its workflow.
    pub workflow_id: String,
    /// Workspace.
    pub workspace_id: String,
    /// The step tested, for a step test.
    pub step_id: Option<String>,
    /// Who started it.
    pub started_by: String,
    /// `success` or `error`.
    pub status: String,
    /// Exports by step name, as JSON (credential values redacted).
    pub exports: String,
    /// Log lines as a JSON array (redacted).
    pub logs: String,
    /// The error, if any (redacted).
    pub error: Option<String>,
    /// Start.
    pub started_at: i64,
    /// End.
    pub finished_at: i64,
}

/// A workspace environment variable (F17). `Debug` omits the value.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// Workspace.
    pub workspace_id: String,
    /// `NAME` (upper-case identifier).
    pub name: String,
    /// The value, sealed for (`env_vars`, workspace, name, `value`).
    pub value_ciphertext: Vec<u8>,
    /// Data key used.
    pub key_id: i64,
    /// Write-only once set.
    pub secret: bool,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// A sealed value outside `accounts` (an OAuth client's secret, an environment variable), for
/// key rotation.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRecord {
    /// `oauth_clients` or `env_vars`.
    pub table: &'static str,
    /// Workspace.
    pub workspace_id: String,
    /// The row (client id `oa_…`, or the variable's name).
    pub row_id: String,
    /// The sealed field (`client_secret`, `value`).
    pub field: &'static str,
    /// The envelope.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRecord")
            .field("table", &self.table)
            .field("row_id", &self.row_id)
            .finish_non_exhaustive()
    }
}

/// A workspace's webhook settings.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Workspace.
    pub workspace_id: String,
    /// The sealed signing secret.
    pub secret_ciphertext: Vec<u8>,
    /// Data key that sealed it.
    pub key_id: i64,
    /// Where account health changes are sent (`None`: not subscribed).
    pub health_url: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("workspace_id", &self.workspace_id)
            .field("health_url", &self.health_url)
            .finish_non_exhaustive()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryStatus {
    /// Stored form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// A webhook event to deliver, and its delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// `whd_…`
    pub id: String,
    /// Workspace.
    pub workspace_id: String,
    /// Receiver.
    pub url: String,
    /// `CONNECTION_SUCCESS`, `ACCOUNT_DEAD`, …
    pub event: String,
    /// The JSON body (never credentials).
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    /// The last failure, for people.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The new status.
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<i64>,
    /// What went wrong.
    pub error: Option<String>,
    /// When to try again (for `Pending`).
    pub next_attempt_at: i64,
    /// Now.
    pub now: i64,
}

/// A project's preset for connecting an app (API.md §4.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOverride {
    /// `ao_…`
    pub id: String,
    /// `proj_…`
    pub project_id: String,
    /// Unique in the project.
    pub name: String,
    /// The app.
    pub app_slug: String,
    /// The OAuth client to use (`oa_…`).
    pub oauth_app_id: Option<String>,
    /// JSON object of preset (non-sensitive) field values.
    pub cfmap_json: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A web UI session (only hashes are stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 hex of the cookie value.
    pub id_hash: String,
    /// The workspace signed in to.
    pub workspace_id: String,
    /// The member.
    pub user_id: String,
    /// SHA-256 hex of the session's CSRF token.
    pub csrf_hash: String,
    /// Sign-in time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// A pending invitation: a one-time link for a member to choose a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// SHA-256 hex of the link's token.
    pub token_hash: String,
    /// The workspace invited to.
    pub workspace_id: String,
    /// The invited member.
    pub user_id: String,
    /// When it was made.
    pub created_at: i64,
    /// When the link stops working.
    pub expires_at: i64,
}

/// What signing in needs to know about an email address.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// `u_…`
    pub user_id: String,
    /// Argon2id PHC string, if a password was set.
    pub password_hash: Option<String>,
    /// The workspaces the user is a member of, oldest membership first.
    pub workspace_ids: Vec<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user_id", &self.user_id)
            .field("workspace_ids", &self.workspace_ids)
            .finish_non_exhaustive()
    }
}
