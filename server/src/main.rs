//! The `tideline-server` binary: parses arguments, sets up logging, binds the address and calls
//! [`tideline_server::run`]; or, with `token`, prints a development token.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tideline_server::config::Settings;
use tideline_server::{auth, SECRET_FILE_NAME};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "tideline-server",
    version,
    about = "The Tideline reference server: Merkle-tree sync of event logs over HTTP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve sync, live and conflicts over HTTP until SIGTERM or ctrl-c.
    Serve(ServeArgs),
    /// Print a development token (HS256, signed with the data directory's secret).
    Token(TokenArgs),
}

/// Settings both subcommands read.
#[derive(Args)]
struct CommonArgs {
    /// A TOML file of settings (keys: the long flag names with underscores); flags and
    /// environment variables override it.
    #[arg(long, env = "TIDELINE_CONFIG")]
    config: Option<PathBuf>,
    /// Where the store and the token secret live [default: ./tideline-data].
    #[arg(long, env = "TIDELINE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Accept only EdDSA tokens, verified with this Ed25519 public key (a PEM file's path, or
    /// the PEM text).
    // PEM text starts with dashes (`-----BEGIN PUBLIC KEY-----`), which clap would otherwise
    // take for a flag and refuse.
    #[arg(
        long,
        env = "TIDELINE_JWT_EDDSA_PUBLIC_KEY",
        allow_hyphen_values = true
    )]
    jwt_eddsa_public_key: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The address to listen on [default: 127.0.0.1:7700].
    #[arg(long, env = "TIDELINE_LISTEN")]
    listen: Option<String>,
    /// How far an event's timestamp may be ahead of the server's clock, in milliseconds
    /// [default: 300000].
    #[arg(long, env = "TIDELINE_MAX_SKEW_MS")]
    max_skew_ms: Option<u64>,
    /// Largest request body, in bytes [default: 33554432, the protocol's maximum].
    #[arg(long, env = "TIDELINE_FRAME_BYTES_MAX")]
    frame_bytes_max: Option<usize>,
    /// Most connections open at once [default: 1024].
    #[arg(long, env = "TIDELINE_CONNECTIONS_MAX")]
    connections_max: Option<usize>,
    /// How long a client may take to send a request's headers, in milliseconds
    /// [default: 10000].
    #[arg(long, env = "TIDELINE_HEADER_READ_TIMEOUT_MS")]
    header_read_timeout_ms: Option<u64>,
    /// How long a client may take to send a request's body, in milliseconds [default: 60000].
    #[arg(long, env = "TIDELINE_BODY_READ_TIMEOUT_MS")]
    body_read_timeout_ms: Option<u64>,
    /// How long a write to a client may stay blocked because the client reads nothing, in
    /// milliseconds, before its connection is closed [default: 30000].
    #[arg(long, env = "TIDELINE_WRITE_TIMEOUT_MS")]
    write_timeout_ms: Option<u64>,
    /// Log lines as text or as JSON objects; `RUST_LOG` sets the level [default: info].
    #[arg(long, env = "TIDELINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The user the token speaks for: the `creator` of the events they write.
    #[arg(long)]
    user: String,
    /// The groups the user may read and write, separated by commas.
    #[arg(long, value_delimiter = ',', required = true)]
    groups: Vec<String>,
    /// How long the token stays valid, like 30m, 24h or 7d.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    ttl: Duration,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl CommonArgs {
    /// These flags over the config file's settings.
    fn settings(&self, flags: Settings) -> anyhow::Result<Settings> {
        let flags = Settings {
            data_dir: self.data_dir.clone(),
            jwt_eddsa_public_key: self.jwt_eddsa_public_key.clone(),
            ..flags
        };
        let file = match &self.config {
            Some(path) => Settings::load(path)?,
            None => Settings::default(),
        };
        Ok(flags.or(file))
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::Token(args) => token(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    logging_init(args.log_format);
    let settings = args.common.settings(Settings {
        listen: args.listen,
        max_skew_ms: args.max_skew_ms,
        frame_bytes_max: args.frame_bytes_max,
        connections_max: args.connections_max,
        header_read_timeout_ms: args.header_read_timeout_ms,
        body_read_timeout_ms: args.body_read_timeout_ms,
        write_timeout_ms: args.write_timeout_ms,
        ..Settings::default()
    })?;
    let listen = settings.listen()?;
    let config = settings.server_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("could not listen on {listen}; is another server there?"))?;
        let shutdown = CancellationToken::new();
        let signalled = shutdown.clone();
        tokio::spawn(async move {
            signal_wait().await;
            // Cancel first: shutdown must never depend on a log line being written (stderr may
            // be a closed pipe).
            signalled.cancel();
            tracing::info!("signal received; shutting down");
        });
        tideline_server::run(listener, config, shutdown).await?;
        Ok(())
    })
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let settings = args.common.settings(Settings::default())?;
    if settings.jwt_eddsa_public_key.is_some() {
        bail!(
            "this server accepts only EdDSA tokens (an EdDSA public key is configured), and \
             `token` cannot mint them because the server holds only the public key; sign tokens \
             with your Ed25519 private key (claims: sub, groups, exp, aud = \"{}\")",
            auth::AUDIENCE
        );
    }
    let secret = auth::secret_load(&settings.data_dir().join(SECRET_FILE_NAME))?;
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let token = auth::mint_hs256(&secret, &args.user, &args.groups, args.ttl, now_s)?;
    println!("{token}");
    Ok(())
}

fn logging_init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A log line that cannot be written (stderr closed, for example a `| tee` that exited) is
    // dropped. By default the subscriber reports such a failure with `eprintln!`, which panics
    // on the same closed stderr, inside whatever task was logging: a log line must never take
    // down the signal handler or a request.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Waits for ctrl-c or, on Unix, SIGTERM.
async fn signal_wait() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "could not listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "could not listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
