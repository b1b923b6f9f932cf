#![doc = include_str!("../README.md")]

mod commands;
mod output;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Latchkey: a self-hosted connected-accounts server.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about)]
struct Cli {
    /// Data directory (SQLite database, generated master key, operator apps).
    #[arg(long, global = true, env = "LATCHKEY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "LATCHKEY_LISTEN")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Bring the database schema up to date.
    Migrate,
    /// Create the first workspace and its owner; prints the owner's API key.
    Init(commands::provision::InitArgs),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspaces(commands::provision::WorkspacesCommand),
    /// Manage members.
    #[command(subcommand)]
    Members(commands::provision::MembersCommand),
    /// Manage workspace API clients (OAuth client credentials).
    #[command(subcommand, name = "api-clients")]
    ApiClients(commands::provision::ApiClientsCommand),
    /// Manage Connect projects.
    #[command(subcommand)]
    Projects(commands::projects::ProjectsCommand),
    /// Inspect accounts (never prints credentials).
    #[command(subcommand)]
    Accounts(commands::accounts::AccountsCommand),
    /// Work with app definitions.
    #[command(subcommand)]
    Apps(commands::apps::AppsCommand),
    /// Manage encryption keys.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Run a command with an account's credentials in its environment (LATCHKEY_<FIELD>).
    Exec(commands::exec::ExecArgs),
}

/// Settings shared by every command.
#[derive(Debug)]
pub(crate) struct Global {
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) json: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let global = Global {
        data_dir: cli.data_dir,
        config: cli.config,
        json: cli.json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { listen } => commands::serve::run(&global, listen).await,
            Command::Migrate => commands::migrate::run(&global).await,
            Command::Init(args) => commands::provision::init(&global, args).await,
            Command::Workspaces(cmd) => commands::provision::workspaces(&global, cmd).await,
            Command::Members(cmd) => commands::provision::members(&global, cmd).await,
            Command::ApiClients(cmd) => commands::provision::api_clients(&global, cmd).await,
            Command::Projects(cmd) => commands::projects::run(&global, cmd).await,
            Command::Accounts(cmd) => commands::accounts::run(&global, cmd).await,
            Command::Apps(cmd) => commands::apps::run(&global, cmd).await,
            Command::Keys(cmd) => commands::keys::run(&global, cmd).await,
            Command::Audit(cmd) => commands::audit::run(&global, cmd).await,
            Command::Exec(args) => commands::exec::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.is::<output::AlreadyReported>() => std::process::ExitCode::FAILURE,
        Err(e) => {
            if global_json_requested() {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            }
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn global_json_requested() -> bool {
    std::env::args().any(|a| a == "--json")
}
