//! The command line: one `Config` of global settings (each flag also a `VIGIL_*` variable)
//! and the subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "Self-hosted error tracking that speaks Sentry's protocols"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Command,
}

/// The address `vigil serve` listens on by default, and the host of the default public URL
/// in commands that print DSNs without serving.
pub const DEFAULT_BIND: &str = "127.0.0.1:9000";

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Directory for the embedded SQLite database (`<data-dir>/vigil.sqlite3`).
    #[arg(
        long,
        global = true,
        env = "VIGIL_DATA_DIR",
        default_value = "./vigil-data"
    )]
    pub data_dir: PathBuf,
    /// `postgres://user:password@host:port/db` to use PostgreSQL instead of the embedded
    /// SQLite database (migrated at start; the ingest queue is a table there too).
    #[arg(
        long,
        global = true,
        env = "VIGIL_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The URL SDKs and people reach Vigil at; DSNs and links are built from it (default:
    /// `http://<bind>`).
    #[arg(long, global = true, env = "VIGIL_PUBLIC_URL")]
    pub public_url: Option<String>,
}

// `Serve` holds every server setting and the others a few strings; one value is built per
// process, so boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage DSN keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Work with single events, without a server.
    #[command(subcommand)]
    Event(EventCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VIGIL_BIND", default_value = DEFAULT_BIND)]
    pub bind: String,
    /// Admin e-mail to create at first start when there is no user yet.
    #[arg(long, env = "VIGIL_ADMIN_EMAIL", hide_env_values = true)]
    pub admin_email: Option<String>,
    /// Password of that admin.
    #[arg(long, env = "VIGIL_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Ingest workers processing the queue (default: one per core, up to 4). 0 makes a node
    /// that only accepts, leaving processing to other nodes or a later start.
    #[arg(long, env = "VIGIL_WORKERS")]
    pub workers: Option<usize>,
    /// The server's own settings (retention, email, limits), declared where they are used.
    /// Its public URL is not among them: it comes from `--public-url` or `--bind`.
    #[command(flatten)]
    pub server: vigil_server::ServerConfig,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (the only way: it never appears in `ps`).
        #[arg(long)]
        password_stdin: bool,
        /// Make the user an administrator (reads every organization).
        #[arg(long)]
        admin: bool,
        /// Organization the user joins.
        #[arg(long, default_value = "default")]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its DSN.
    Create {
        slug: String,
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        platform: Option<String>,
    },
    /// List projects with their DSNs.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Limit a DSN key to COUNT events per WINDOW seconds (Sentry's per-key rate limit);
    /// over it, SDKs are answered 429 and back off.
    RateLimit {
        /// The key's public part (the user name in the DSN).
        public_key: String,
        #[arg(long, required_unless_present = "clear")]
        count: Option<i64>,
        #[arg(long, required_unless_present = "clear")]
        window: Option<i64>,
        /// Remove the limit.
        #[arg(long, conflicts_with_all = ["count", "window"])]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it.
    Create {
        #[arg(long)]
        email: String,
        /// Comma-separated scopes.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "org:read,project:read,project:write,project:releases,event:read,event:write,member:read"
        )]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Print the grouping of one event read from standard input.
    Group,
}
