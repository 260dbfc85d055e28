//! One module per subcommand.

mod event;
mod key;
mod project;
mod serve;
mod token;
mod user;

use crate::cli::{
    Cli, Command, Config, EventCommand, KeyCommand, ProjectCommand, TokenCommand, UserCommand,
};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { config, command } = cli;
    match command {
        Command::Serve(args) => serve::run(&config, args).await,
        Command::User(UserCommand::Create {
            email,
            password_stdin,
            admin,
            org,
        }) => user::create(&config, &email, password_stdin, admin, &org).await,
        Command::Project(ProjectCommand::Create {
            slug,
            org,
            platform,
        }) => project::create(&config, &slug, &org, platform.as_deref()).await,
        Command::Project(ProjectCommand::List) => project::list(&config).await,
        Command::Token(TokenCommand::Create { email, scopes }) => {
            token::create(&config, &email, &scopes).await
        }
        Command::Event(EventCommand::Group) => event::group(),
        Command::Key(KeyCommand::RateLimit {
            public_key,
            count,
            window,
            clear,
        }) => {
            let limit = if clear { None } else { count.zip(window) };
            key::rate_limit(&config, &public_key, limit).await
        }
    }
}

/// The public URL: the configured one, else `http://<bind>`.
pub fn public_url(config: &Config, bind: &str) -> anyhow::Result<url::Url> {
    let text = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bind}"));
    let url = url::Url::parse(&text)
        .map_err(|err| anyhow::anyhow!("invalid public URL {text:?}: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("public URL must be http or https: {text}");
    }
    Ok(url)
}

/// The bind address used to build a default public URL in commands that do not serve.
pub use crate::cli::DEFAULT_BIND;
