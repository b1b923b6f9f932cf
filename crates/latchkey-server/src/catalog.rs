//! The app catalog: built-in apps (the repository's `apps/` folder, compiled into the binary),
//! operator apps (`<data dir>/apps/*.toml`, loaded at start, available to every workspace) and
//! each workspace's custom apps (created through `POST /v1/apps`, stored in the database).

use std::{collections::HashMap, path::Path, sync::Arc};

use include_dir::{include_dir, Dir};
use latchkey_domain::{app::AppDefinition, ValidationError};
use latchkey_store::{Store, StoreError};

static BUILTIN_APPS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../apps");

/// Where an app comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSource {
    /// Compiled in.
    Builtin,
    /// An operator's file in the data dir.
    Operator,
    /// A workspace's custom app.
    Workspace,
}

/// An app as the rest of the server uses it.
#[derive(Debug, Clone)]
pub struct CatalogApp {
    /// Public id (`app_…`).
    pub id: String,
    /// The definition.
    pub definition: Arc<AppDefinition>,
    /// Origin.
    pub source: AppSource,
    /// Its API representation (the App object), serialised once: it is most of every account
    /// response, and rebuilding it per request dominated the read path's CPU time.
    pub view: Arc<serde_json::value::RawValue>,
}

impl CatalogApp {
    /// Wraps a definition, rendering its App object.
    #[must_use]
    pub fn new(id: String, definition: Arc<AppDefinition>, source: AppSource) -> Self {
        let view = crate::views::render_app(&id, &definition, source);
        Self {
            id,
            definition,
            source,
            view,
        }
    }
}

/// A file of the catalog that failed validation.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {error}")]
pub struct CatalogError {
    /// File name.
    pub file: String,
    /// What is wrong.
    pub error: ValidationError,
}

/// The global part of the catalog (built-in and operator apps), immutable after start, and a
/// short-lived cache of each workspace's custom apps (they are read on every proxied request
/// and credential read of a custom app's account).
#[derive(Debug, Default)]
pub struct Catalog {
    apps: Vec<CatalogApp>,
    by_key: HashMap<String, usize>,
    workspace_cache: Option<moka::sync::Cache<String, Arc<Vec<CatalogApp>>>>,
}

/// Parses and validates one file; `strict` applies the built-in catalog's rules.
///
/// # Errors
/// The file's first problem, with its name.
pub fn parse_app_file(
    file: &str,
    source: &str,
    strict: bool,
) -> Result<AppDefinition, CatalogError> {
    let wrap = |error| CatalogError {
        file: file.to_owned(),
        error,
    };
    let app = AppDefinition::from_toml(source).map_err(wrap)?;
    app.validate(strict).map_err(wrap)?;
    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != app.name_slug {
        return Err(wrap(ValidationError::new(
            "name_slug",
            "must equal the file name",
        )));
    }
    Ok(app)
}

/// Validates every `*.toml` file of a directory; returns how many apps were checked.
///
/// # Errors
/// Every failing file.
pub fn validate_dir(dir: &Path, strict: bool) -> Result<usize, Vec<CatalogError>> {
    let files = toml_files(dir).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    for (name, text) in &files {
        if let Err(e) = parse_app_file(name, text, strict) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(files.len())
    } else {
        Err(errors)
    }
}

fn toml_files(dir: &Path) -> Result<Vec<(String, String)>, CatalogError> {
    let io = |e: std::io::Error| CatalogError {
        file: dir.display().to_string(),
        error: ValidationError::new("directory", e.to_string()),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).map_err(io)?;
            files.push((
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                text,
            ));
        }
    }
    files.sort();
    Ok(files)
}

impl Catalog {
    /// The built-in apps only.
    ///
    /// # Errors
    /// If a compiled-in file is invalid (the test suite prevents this from shipping).
    pub fn builtin() -> Result<Self, CatalogError> {
        let mut catalog = Self::default();
        for file in BUILTIN_APPS.files() {
            let name = file.path().to_string_lossy();
            if !name.ends_with(".toml") {
                continue;
            }
            let text = file.contents_utf8().unwrap_or_default();
            catalog.push(parse_app_file(&name, text, true)?, AppSource::Builtin)?;
        }
        catalog
            .apps
            .sort_by(|a, b| a.definition.name_slug.cmp(&b.definition.name_slug));
        catalog.reindex();
        Ok(catalog)
    }

    /// Built-in apps plus the operator's files in `dir` (if it exists). An operator app may not
    /// reuse a built-in slug.
    ///
    /// # Errors
    /// The first invalid operator file.
    pub fn load(dir: Option<&Path>) -> Result<Self, CatalogError> {
        let mut catalog = Self::builtin()?;
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            for (name, text) in toml_files(dir)? {
                let app = parse_app_file(&name, &text, false)?;
                catalog.push(app, AppSource::Operator)?;
            }
            catalog.reindex();
        }
        Ok(catalog)
    }

    fn push(&mut self, app: AppDefinition, source: AppSource) -> Result<(), CatalogError> {
        if self
            .apps
            .iter()
            .any(|a| a.definition.name_slug == app.name_slug)
        {
            return Err(CatalogError {
                file: format!("{}.toml", app.name_slug),
                error: ValidationError::new("name_slug", "is already used by another app"),
            });
        }
        self.apps
            .push(CatalogApp::new(app.id(None), Arc::new(app), source));
        Ok(())
    }

    fn reindex(&mut self) {
        self.by_key = self
            .apps
            .iter()
            .enumerate()
            .flat_map(|(i, a)| [(a.id.clone(), i), (a.definition.name_slug.clone(), i)])
            .collect();
    }

    /// Every global app, sorted by slug.
    #[must_use]
    pub fn global_apps(&self) -> &[CatalogApp] {
        &self.apps
    }

    /// A global app by slug or id.
    #[must_use]
    pub fn get_global(&self, slug_or_id: &str) -> Option<&CatalogApp> {
        self.by_key.get(slug_or_id).map(|i| &self.apps[*i])
    }

    /// An app visible in a workspace, by slug or id: global apps first, then the workspace's
    /// custom apps.
    ///
    /// # Errors
    /// On database failure.
    pub async fn resolve(
        &self,
        store: &dyn Store,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> Result<Option<CatalogApp>, StoreError> {
        if let Some(app) = self.get_global(slug_or_id) {
            return Ok(Some(app.clone()));
        }
        Ok(self
            .workspace_apps(store, workspace_id)
            .await?
            .into_iter()
            .find(|a| a.id == slug_or_id || a.definition.name_slug == slug_or_id))
    }

    /// Keeps each workspace's custom apps for `ttl` (the read caches' TTL: another instance's
    /// new custom app is seen here within it; this process's own at once).
    pub fn cache_workspace_apps(&mut self, ttl: std::time::Duration) {
        self.workspace_cache = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build()
        });
    }

    /// Forgets the cached custom apps of a workspace (after a change).
    pub fn forget_workspace(&self, workspace_id: &str) {
        if let Some(cache) = &self.workspace_cache {
            cache.invalidate(workspace_id);
        }
    }

    /// A workspace's custom apps.
    ///
    /// # Errors
    /// On database failure.
    pub async fn workspace_apps(
        &self,
        store: &dyn Store,
        workspace_id: &str,
    ) -> Result<Vec<CatalogApp>, StoreError> {
        if let Some(hit) = self
            .workspace_cache
            .as_ref()
            .and_then(|c| c.get(workspace_id))
        {
            return Ok(hit.as_ref().clone());
        }
        let apps = self.load_workspace_apps(store, workspace_id).await?;
        if let Some(cache) = &self.workspace_cache {
            cache.insert(workspace_id.to_owned(), Arc::new(apps.clone()));
        }
        Ok(apps)
    }

    async fn load_workspace_apps(
        &self,
        store: &dyn Store,
        workspace_id: &str,
    ) -> Result<Vec<CatalogApp>, StoreError> {
        let stored = store.list_custom_apps(workspace_id).await?;
        Ok(stored
            .into_iter()
            .filter_map(|row| {
                // Rows were validated on the way in; one that no longer parses (after a format
                // change) is skipped with a warning rather than breaking every listing.
                match serde_json::from_str::<AppDefinition>(&row.definition_json) {
                    Ok(def) => Some(CatalogApp::new(row.id, Arc::new(def), AppSource::Workspace)),
                    Err(e) => {
                        tracing::warn!(app.id = %row.id, error = %e, "custom app definition no longer parses");
                        None
                    }
                }
            })
            .collect())
    }

    /// Every app visible in a workspace, sorted by featured weight (descending) then name.
    ///
    /// # Errors
    /// On database failure.
    pub async fn list(
        &self,
        store: &dyn Store,
        workspace_id: &str,
    ) -> Result<Vec<CatalogApp>, StoreError> {
        let mut apps = self.apps.clone();
        apps.extend(self.workspace_apps(store, workspace_id).await?);
        apps.sort_by(|a, b| {
            let wa = a.definition.featured_weight.unwrap_or(0.0);
            let wb = b.definition.featured_weight.unwrap_or(0.0);
            wb.total_cmp(&wa)
                .then_with(|| a.definition.name.cmp(&b.definition.name))
        });
        Ok(apps)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use latchkey_domain::app::{AuthType, OAuthGrant};

    use super::*;

    #[test]
    fn builtin_catalog_is_valid_and_covers_every_auth_type() {
        let catalog = Catalog::builtin().expect("every built-in app validates");
        let apps = catalog.global_apps();
        assert!(apps.len() >= 40, "at least 40 apps, found {}", apps.len());
        let grants: BTreeSet<_> = apps
            .iter()
            .filter_map(|a| {
                a.definition
                    .oauth
                    .as_ref()
                    .map(|o| format!("{:?}", o.grant))
            })
            .collect();
        for grant in [
            OAuthGrant::AuthorizationCode,
            OAuthGrant::ClientCredentials,
            OAuthGrant::Oauth1,
        ] {
            assert!(grants.contains(&format!("{grant:?}")), "missing {grant:?}");
        }
        let keys = apps
            .iter()
            .filter(|a| a.definition.auth_type == AuthType::Keys);
        let (mut header, mut query, mut basic) = (0, 0, 0);
        for app in keys {
            let request = app
                .definition
                .request
                .as_ref()
                .expect("keys apps have a request template");
            header += usize::from(!request.headers.is_empty());
            query += usize::from(!request.query.is_empty());
            basic += usize::from(request.basic_auth.is_some());
        }
        assert!(
            header >= 5 && query >= 2 && basic >= 2,
            "header {header}, query {query}, basic {basic}"
        );
        let ids: BTreeSet<_> = apps.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids.len(), apps.len(), "app ids are unique");
        assert!(catalog.get_global("github").is_some());
        assert!(catalog
            .get_global(&catalog.get_global("github").unwrap().id)
            .is_some());
    }

    #[test]
    fn operator_apps_load_and_may_not_shadow_builtins() {
        let dir = tempfile::tempdir().unwrap();
        let file = |slug: &str| {
            format!("name_slug = \"{slug}\"\nname = \"X\"\nauth_type = \"keys\"\n[[custom_fields]]\nname = \"token\"\nlabel = \"Token\"\ntype = \"password\"\n[request]\nbase_url = \"http://10.0.0.1\"\nallowed_domains = [\"10.0.0.1\"]\nheaders = {{ X-Token = \"{{{{token}}}}\" }}\n")
        };
        std::fs::write(dir.path().join("internal_api.toml"), file("internal_api")).unwrap();
        let catalog = Catalog::load(Some(dir.path())).unwrap();
        assert_eq!(
            catalog.get_global("internal_api").unwrap().source,
            AppSource::Operator
        );
        std::fs::write(dir.path().join("github.toml"), file("github")).unwrap();
        assert!(Catalog::load(Some(dir.path())).is_err());
    }
}
