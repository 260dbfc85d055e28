//! `vigil serve`: open the store (migrating it), bootstrap the first admin, serve until
//! SIGTERM or SIGINT, then finish the requests in flight.

use anyhow::Context;
use tokio::net::TcpListener;
use vigil_server::{AppState, ServerConfig};

use crate::cli::{Config, ServeArgs};
use crate::storage::{open_queue, open_store};

/// How long requests in flight may take to finish after SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    let public_url = super::public_url(config, &args.bind)?;
    let store = open_store(config).await?;
    if let (Some(email), Some(password)) = (&args.admin_email, &args.admin_password) {
        if store.count_users().await? == 0 {
            super::user::create_user(store.as_ref(), email, password, true, "default").await?;
            tracing::info!(email, "created the first admin user");
        }
    }
    let listener = TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let queue = open_queue(config).await?;
    let server_config = ServerConfig {
        public_url: public_url.clone(),
        ..args.server
    };
    // A mail setting that cannot work stops the start rather than every email later.
    match vigil_server::jobs::alerts::smtp::Mailer::from_config(&server_config)
        .context("VIGIL_SMTP_URL / VIGIL_MAIL_FROM")?
    {
        Some(mailer) => {
            tracing::info!(server = %mailer.server, from = %server_config.mail_from, "email alerts are sent through SMTP");
        }
        None => tracing::warn!(
            "email is not configured (VIGIL_SMTP_URL): email alerts will be recorded as undeliverable"
        ),
    }
    let state = AppState::new(store, queue, server_config);
    // Workers and the background jobs stop together, after the last request.
    let (stop_background, background_stopped) = tokio::sync::watch::channel(false);
    let worker_count = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4)));
    let jobs = vigil_server::jobs::spawn(
        &state,
        vigil_server::jobs::JobOptions {
            workers: worker_count,
            senders: vigil_server::jobs::alerts::SenderOptions::default(),
        },
        background_stopped,
    );
    tracing::info!(bind = %args.bind, public_url = %public_url, worker_count, "vigil is listening");
    vigil_server::serve(listener, state, shutdown_signal(), SHUTDOWN_GRACE).await?;
    // No request is in flight any more: let the workers finish their batches. What is still
    // queued stays in the queue for the next start.
    let _ = stop_background.send(true);
    jobs.join().await;
    tracing::info!("vigil stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
}
