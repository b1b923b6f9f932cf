//! The storage interface: one [`Store`], composed of a trait per area so each implementation
//! file stays small. Code that holds a `dyn Store` imports `latchkey_store::prelude::*`.

use async_trait::async_trait;
use latchkey_domain::{connect::Environment, role::Role};

use crate::{
    models::{
        AccessToken, Account, AccountQuery, ApiClient, AppOverride, AppRequest, AuditEvent,
        AuditQuery, ConnectToken, CustomApp, DeliveryAttempt, EnvVar, ExternalUser, Invite, Login,
        Member, NewApiKey, NewAuditEvent, NewMember, OAuthClient, OAuthFlow, OAuthUpdate, Page,
        Principal, Project, RefreshFailure, Run, SealedRecord, Session, Sharing, Step,
        WebhookDelivery, WebhookSettings, Workflow, Workspace,
    },
    StoreError,
};

/// Everything Latchkey persists. Every method that takes an id of a workspace-owned row also
/// takes the workspace id and matches both, so an id from another workspace is simply not found.
pub trait Store:
    MetaStore
    + WorkspaceStore
    + AuthStore
    + AppStore
    + AccountStore
    + OAuthStore
    + OAuthClientStore
    + AuditStore
    + WorkflowStore
    + ConnectStore
    + WebhookStore
    + SessionStore
{
}

impl<T> Store for T where
    T: MetaStore
        + WorkspaceStore
        + AuthStore
        + AppStore
        + AccountStore
        + OAuthStore
        + OAuthClientStore
        + AuditStore
        + WorkflowStore
        + ConnectStore
        + WebhookStore
        + SessionStore
{
}

/// Meta values (the key check), data keys, and liveness.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// A value from the meta table.
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores a meta value unless one exists; returns whether it was stored.
    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError>;
    /// All data keys: `(id, wrapped key)`.
    async fn list_data_keys(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError>;
    /// Sets a meta value, replacing any.
    async fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Deletes a meta value.
    async fn delete_meta(&self, key: &str) -> Result<(), StoreError>;
    /// The highest data key id (0 when there is none).
    async fn max_data_key_id(&self) -> Result<i64, StoreError>;
    /// Adds a data key; [`StoreError::Conflict`] if the id is taken (another instance rotated).
    async fn insert_data_key(&self, id: i64, wrapped: &[u8], now: i64) -> Result<(), StoreError>;
    /// Sealed values outside `accounts` (OAuth client secrets, environment variables) that are
    /// not on `key_id` yet.
    async fn sealed_records_not_on_key(&self, key_id: i64)
        -> Result<Vec<SealedRecord>, StoreError>;
    /// Replaces one of them, unless it changed since it was read; returns whether it did.
    async fn reseal_record(
        &self,
        old: &SealedRecord,
        ciphertext: &[u8],
        key_id: i64,
    ) -> Result<bool, StoreError>;
}

/// Workspaces, users and members.
#[async_trait]
pub trait WorkspaceStore: Send + Sync + 'static {
    /// Creates a workspace and its first member (usually the owner) atomically. Returns the
    /// member's user id (an existing user's id when the email is known).
    async fn create_workspace(
        &self,
        workspace: &Workspace,
        owner: &NewMember,
    ) -> Result<String, StoreError>;
    /// A workspace by id or by name.
    async fn find_workspace(&self, id_or_name: &str) -> Result<Option<Workspace>, StoreError>;
    /// Every workspace, by name.
    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError>;
    /// Number of workspaces.
    async fn count_workspaces(&self) -> Result<i64, StoreError>;
    /// Adds a member (creating the user if the email is new); [`StoreError::Conflict`] if
    /// already a member. Returns the user id.
    async fn add_member(
        &self,
        workspace_id: &str,
        member: &NewMember,
    ) -> Result<String, StoreError>;
    /// Members of a workspace.
    async fn list_members(&self, workspace_id: &str) -> Result<Vec<Member>, StoreError>;
    /// A member of a workspace.
    async fn get_member(
        &self,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<Member>, StoreError>;
    /// Adds another API key for a member.
    async fn insert_api_key(
        &self,
        workspace_id: &str,
        user_id: &str,
        key: &NewApiKey,
    ) -> Result<(), StoreError>;
}

/// API keys, API clients and access tokens.
#[async_trait]
pub trait AuthStore: Send + Sync + 'static {
    /// The principal behind a member API key (by hash), if it is valid and not revoked.
    async fn find_api_key(&self, token_hash: &str) -> Result<Option<Principal>, StoreError>;
    /// Registers an API client.
    async fn insert_api_client(&self, client: &ApiClient) -> Result<(), StoreError>;
    /// An API client by its client id.
    async fn find_api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError>;
    /// API clients of a workspace.
    async fn list_api_clients(&self, workspace_id: &str) -> Result<Vec<ApiClient>, StoreError>;
    /// Revokes an API client and every token issued to it.
    async fn revoke_api_client(
        &self,
        workspace_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Records an issued access token.
    async fn insert_access_token(&self, token: &AccessToken) -> Result<(), StoreError>;
    /// The principal behind an access token (by hash) if unexpired at `now` and its client is
    /// not revoked.
    async fn find_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Principal>, StoreError>;
    /// Deletes tokens that expired before `now`; returns how many.
    async fn purge_expired_tokens(&self, now: i64) -> Result<u64, StoreError>;
}

/// Custom apps and app requests.
#[async_trait]
pub trait AppStore: Send + Sync + 'static {
    /// Adds a custom app; [`StoreError::Conflict`] if the slug is taken in the workspace.
    async fn insert_custom_app(&self, app: &CustomApp) -> Result<(), StoreError>;
    /// Custom apps of one workspace.
    async fn list_custom_apps(&self, workspace_id: &str) -> Result<Vec<CustomApp>, StoreError>;
    /// Stores an app request.
    async fn insert_app_request(&self, request: &AppRequest) -> Result<(), StoreError>;
    /// App requests of a workspace, newest first.
    async fn list_app_requests(&self, workspace_id: &str) -> Result<Vec<AppRequest>, StoreError>;
}

/// Connected accounts.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Stores a new account.
    async fn insert_account(&self, account: &Account) -> Result<(), StoreError>;
    /// An account of a workspace.
    async fn get_account(
        &self,
        workspace_id: &str,
        account_id: &str,
    ) -> Result<Option<Account>, StoreError>;
    /// A page of accounts, newest first.
    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<Account>, StoreError>;
    /// Renames an account; [`StoreError::NotFound`] if it is not in the workspace.
    /// Sets who an account is shared with: the mode, and for `Sharing::Members` the chosen
    /// members (replacing the previous ones), atomically. [`StoreError::NotFound`] when the
    /// account is not in the workspace; every user must be a member (the caller checks; the
    /// database refuses others).
    async fn set_account_access(
        &self,
        workspace_id: &str,
        account_id: &str,
        sharing: Sharing,
        member_ids: &[String],
        now: i64,
    ) -> Result<(), StoreError>;
    async fn rename_account(
        &self,
        workspace_id: &str,
        account_id: &str,
        name: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Deletes an account; [`StoreError::NotFound`] if it is not in the workspace.
    async fn delete_account(&self, workspace_id: &str, account_id: &str) -> Result<(), StoreError>;
    /// Accounts whose credentials are sealed with a key other than `key_id`, for re-encryption,
    /// in id order after `after_id` (`""` to start).
    async fn accounts_not_on_key(
        &self,
        key_id: i64,
        after_id: &str,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError>;
    /// How many accounts are sealed with a key other than `key_id`.
    async fn count_accounts_not_on_key(&self, key_id: i64) -> Result<i64, StoreError>;
    /// Replaces the sealed credentials if the row is still at `expected_version` (so a
    /// concurrent change is never overwritten). Returns whether the row was updated.
    async fn reseal_account(
        &self,
        workspace_id: &str,
        account_id: &str,
        expected_version: i64,
        ciphertext: &[u8],
        key_id: i64,
    ) -> Result<bool, StoreError>;
}

/// OAuth connect flows, credential replacement, and the refresh lease.
#[async_trait]
pub trait OAuthStore: Send + Sync + 'static {
    /// Stores a started flow.
    async fn insert_flow(&self, flow: &OAuthFlow) -> Result<(), StoreError>;
    /// A flow by the hash of its start handle, if unexpired and unused.
    async fn find_flow_by_handle(
        &self,
        handle_hash: &str,
        now: i64,
    ) -> Result<Option<OAuthFlow>, StoreError>;
    /// Binds a flow to the browser that opened its start link and sets the `state` sent to the
    /// provider; false if another browser did first.
    async fn bind_flow_browser(
        &self,
        flow_id: &str,
        browser_hash: &str,
        state_hash: &str,
    ) -> Result<bool, StoreError>;
    /// Marks the flow with this state hash used and returns it, exactly once, if unexpired.
    async fn consume_flow(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<OAuthFlow>, StoreError>;
    /// Deletes flows that expired before `now`.
    async fn purge_flows(&self, now: i64) -> Result<u64, StoreError>;
    /// Replaces an account's credentials after a reconnect and resets its health. The
    /// owner stays; a legacy account (no owner) gets `owner_id` as its owner. An empty
    /// `oauth_client` stores none (key-based accounts).
    /// [`StoreError::NotFound`] if gone.
    async fn reconnect_account(
        &self,
        workspace_id: &str,
        account_id: &str,
        owner_id: &str,
        oauth_client: &str,
        update: &OAuthUpdate,
    ) -> Result<(), StoreError>;
    /// Takes the refresh lease of an account until `until` unless another holder's lease is
    /// still valid at `now`. Returns the row as of taking it (read in the same statement, so
    /// it is the state the holder must work from), or `None` when someone else holds it.
    async fn acquire_refresh_lease(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Account>, StoreError>;
    /// Stores refreshed credentials and releases the lease, only while `lease` is still held.
    async fn complete_refresh(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
        update: &OAuthUpdate,
    ) -> Result<bool, StoreError>;
    /// Records a failed refresh and releases the lease.
    async fn fail_refresh(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
        failure: &RefreshFailure,
    ) -> Result<bool, StoreError>;
    /// Releases a lease without changing anything else.
    async fn release_refresh_lease(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
    ) -> Result<(), StoreError>;
    /// Takes the refresh lease (`lease` until `until`) of up to `limit` accounts whose
    /// scheduled refresh is due at `now` and that nobody is refreshing, earliest first, in one
    /// statement; returns them as of the claim. Instances claiming together get disjoint sets.
    async fn claim_due_for_refresh(
        &self,
        now: i64,
        until: i64,
        lease: &str,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError>;
    /// Records a health change of an account.
    async fn insert_account_event(
        &self,
        workspace_id: &str,
        account_id: &str,
        kind: &str,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// An account's events, oldest first: `(kind, detail)`.
    async fn list_account_events(
        &self,
        workspace_id: &str,
        account_id: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError>;
}

/// Workspaces' own OAuth clients.
#[async_trait]
pub trait OAuthClientStore: Send + Sync + 'static {
    /// Stores a client.
    async fn insert_oauth_client(&self, client: &OAuthClient) -> Result<(), StoreError>;
    /// A client of a workspace.
    async fn get_oauth_client(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<OAuthClient>, StoreError>;
    /// A workspace's clients, optionally of one app.
    async fn list_oauth_clients(
        &self,
        workspace_id: &str,
        app_slug: Option<&str>,
    ) -> Result<Vec<OAuthClient>, StoreError>;
    /// Replaces a client's settings; [`StoreError::NotFound`] if it is not in the workspace.
    async fn update_oauth_client(&self, client: &OAuthClient) -> Result<(), StoreError>;
    /// Records that the provider rejected a client (`Some((error code, when))`), or clears
    /// that (`None`); [`StoreError::NotFound`] if it is not in the workspace.
    async fn set_oauth_client_rejection(
        &self,
        workspace_id: &str,
        id: &str,
        rejection: Option<(&str, i64)>,
    ) -> Result<(), StoreError>;
    /// Deletes a client; [`StoreError::NotFound`] if it is not in the workspace.
    async fn delete_oauth_client(&self, workspace_id: &str, id: &str) -> Result<(), StoreError>;
}

/// Computes an audit event's MAC from the previous MAC, its sequence number and the event.
pub type AuditLink<'a> = dyn Fn(&[u8; 32], i64, &NewAuditEvent) -> [u8; 32] + Send + Sync + 'a;

/// The audit log (one chain per install).
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends `events` in one transaction holding the chain's head: numbers them after the
    /// last event and stores the MAC `link` computes for each.
    async fn append_audit(
        &self,
        events: &[NewAuditEvent],
        link: &AuditLink<'_>,
    ) -> Result<(), StoreError>;
    /// A workspace's events, newest first.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
    /// Events of every workspace after `after_seq`, oldest first (for verification).
    async fn audit_chain(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;
    /// The chain's end: last sequence number and MAC.
    async fn audit_head(&self) -> Result<(i64, Vec<u8>), StoreError>;
}

/// Workflows, steps and runs.
#[async_trait]
pub trait WorkflowStore: Send + Sync + 'static {
    /// Stores a workflow.
    async fn insert_workflow(&self, workflow: &Workflow) -> Result<(), StoreError>;
    /// A workflow of a workspace.
    async fn get_workflow(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Workflow>, StoreError>;
    /// A workflow by id alone (the HTTP trigger, which authenticates with the workflow's own
    /// secret rather than as a member of a workspace).
    async fn find_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError>;
    /// Replaces the hash of a workflow's hook secret.
    async fn set_hook_secret(
        &self,
        workspace_id: &str,
        id: &str,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// A workspace's workflows, oldest first.
    async fn list_workflows(&self, workspace_id: &str) -> Result<Vec<Workflow>, StoreError>;
    /// A workflow's steps in order, with their account bindings.
    async fn list_steps(
        &self,
        workspace_id: &str,
        workflow_id: &str,
    ) -> Result<Vec<Step>, StoreError>;
    /// Stores a step and its bindings; [`StoreError::Conflict`] when the name is taken.
    async fn insert_step(&self, step: &Step) -> Result<(), StoreError>;
    /// Replaces a step's name, props and bindings.
    async fn update_step(&self, step: &Step) -> Result<(), StoreError>;
    /// Stores a finished run.
    async fn insert_run(&self, run: &Run) -> Result<(), StoreError>;
    /// A workflow's latest runs, newest first.
    async fn latest_runs(
        &self,
        workspace_id: &str,
        workflow_id: &str,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError>;
    /// Creates or replaces a workspace environment variable (keeping its creation time).
    async fn put_env_var(&self, var: &EnvVar) -> Result<(), StoreError>;
    /// A workspace's environment variables, by name.
    async fn list_env_vars(&self, workspace_id: &str) -> Result<Vec<EnvVar>, StoreError>;
    /// Deletes one; [`StoreError::NotFound`] if there is none.
    async fn delete_env_var(&self, workspace_id: &str, name: &str) -> Result<(), StoreError>;
    /// `(account_id, workflow_id, workflow name)` for each workflow using one of the accounts.
    async fn workflows_using(
        &self,
        workspace_id: &str,
        account_ids: &[String],
    ) -> Result<Vec<(String, String, String)>, StoreError>;
}

/// Connect: projects, their end users, connect tokens, and accounts bound to a token.
#[async_trait]
pub trait ConnectStore: Send + Sync + 'static {
    /// Adds a project; [`StoreError::Conflict`] when the workspace has one with that name.
    async fn insert_project(&self, project: &Project) -> Result<(), StoreError>;
    /// A project of the workspace.
    async fn get_project(
        &self,
        workspace_id: &str,
        project_id: &str,
    ) -> Result<Option<Project>, StoreError>;
    /// A project by id alone (for a connect token, which names no workspace).
    async fn get_project_by_id(&self, project_id: &str) -> Result<Option<Project>, StoreError>;
    /// The workspace's projects, oldest first.
    async fn list_projects(&self, workspace_id: &str) -> Result<Vec<Project>, StoreError>;
    /// The end user `external_id` of a project environment, created on first sight (with
    /// `new_id`).
    async fn upsert_external_user(
        &self,
        project_id: &str,
        environment: Environment,
        external_id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<ExternalUser, StoreError>;
    /// The end user `external_id`, if known.
    async fn find_external_user(
        &self,
        project_id: &str,
        environment: Environment,
        external_id: &str,
    ) -> Result<Option<ExternalUser>, StoreError>;
    /// End users of a project environment, newest first, optionally filtered by a substring.
    async fn list_external_users(
        &self,
        project_id: &str,
        environment: Environment,
        search: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ExternalUser>, StoreError>;
    /// Deletes an end user and (by cascade) their accounts.
    async fn delete_external_user(&self, external_user_id: &str) -> Result<(), StoreError>;
    /// Stores a connect token.
    async fn insert_connect_token(&self, token: &ConnectToken) -> Result<(), StoreError>;
    /// A connect token by the hash of the token.
    async fn get_connect_token(&self, token_hash: &str)
        -> Result<Option<ConnectToken>, StoreError>;
    /// Inserts a Connect account and spends the token it was connected with, atomically: a
    /// token already spent or expired at `now` is [`StoreError::Conflict`] and nothing is saved.
    async fn insert_account_with_token(
        &self,
        account: &Account,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Spends a token without inserting (a reconnect updates the account in place);
    /// [`StoreError::Conflict`] when it was already spent or has expired.
    async fn spend_connect_token(&self, token_hash: &str, now: i64) -> Result<(), StoreError>;
    /// Deletes expired tokens; returns how many.
    async fn purge_connect_tokens(&self, now: i64) -> Result<u64, StoreError>;
    /// Adds an app override; [`StoreError::Conflict`] when the project has one with that name.
    async fn insert_app_override(&self, o: &AppOverride) -> Result<(), StoreError>;
    /// An app override of the project.
    async fn get_app_override(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Option<AppOverride>, StoreError>;
    /// The project's app overrides (of one app, if given), oldest first.
    async fn list_app_overrides(
        &self,
        project_id: &str,
        app_slug: Option<&str>,
    ) -> Result<Vec<AppOverride>, StoreError>;
    /// Replaces an app override.
    async fn update_app_override(&self, o: &AppOverride) -> Result<(), StoreError>;
    /// Deletes an app override.
    async fn delete_app_override(&self, project_id: &str, id: &str) -> Result<(), StoreError>;
}

/// Outgoing webhooks: settings per workspace and the delivery queue (which is the log too).
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// The workspace's settings, if any.
    async fn get_webhook_settings(
        &self,
        workspace_id: &str,
    ) -> Result<Option<WebhookSettings>, StoreError>;
    /// Stores `settings` unless the workspace has some (the first writer's secret wins);
    /// returns what is stored.
    async fn ensure_webhook_settings(
        &self,
        settings: &WebhookSettings,
    ) -> Result<WebhookSettings, StoreError>;
    /// Replaces the settings of a workspace that has some.
    async fn update_webhook_settings(&self, settings: &WebhookSettings) -> Result<(), StoreError>;
    /// Queues a delivery.
    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError>;
    /// Takes up to `limit` due deliveries for this process until `until` (other instances skip
    /// them meanwhile).
    async fn claim_due_webhooks(
        &self,
        now: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
    /// Records an attempt and releases the claim.
    async fn finish_webhook_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
    ) -> Result<(), StoreError>;
    /// The workspace's deliveries, newest first.
    async fn list_webhook_deliveries(
        &self,
        workspace_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
}

/// Web UI sign-in and sessions.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The user with this (lower-cased) email, with their password hash and workspaces.
    async fn find_login(&self, email: &str) -> Result<Option<Login>, StoreError>;
    /// Stores a session.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    /// A session by the hash of its cookie, if unexpired at `now`.
    async fn get_session(&self, id_hash: &str, now: i64) -> Result<Option<Session>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Deletes expired sessions and invitations; returns how many.
    async fn purge_sessions(&self, now: i64) -> Result<u64, StoreError>;
    /// Stores an invitation (replacing the member's earlier ones: only the newest link works).
    async fn insert_invite(&self, invite: &Invite) -> Result<(), StoreError>;
    /// Takes an unexpired invitation by its token's hash: at most one caller ever gets it.
    async fn take_invite(&self, token_hash: &str, now: i64) -> Result<Option<Invite>, StoreError>;
    /// Sets a user's password (Argon2id PHC string).
    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<(), StoreError>;
    /// Changes a member's role; [`StoreError::NotFound`] when not a member.
    async fn set_member_role(
        &self,
        workspace_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<(), StoreError>;
}
