//! The `lambucket` command: `lambucket serve` runs the S3 server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use lambucket::auth::Credential;
use lambucket::config::{self, Config};
use lambucket::events::handlers::BuiltinSpec;
use lambucket::storage::Durability;

#[derive(Parser)]
#[command(
    name = "lambucket",
    version,
    about = "S3-compatible object store with Lambda-style triggers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the S3 server.
    Serve(ServeArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// Flush to disk before acknowledging every write.
    Sync,
    /// Let the background flusher write within ~500 ms (tests, throwaway data).
    Relaxed,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LAMBUCKET_LISTEN", default_value = config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Directory for the database.
    #[arg(long, env = "LAMBUCKET_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Access key(s); repeat the flag or separate with commas, paired in order with --secret-key.
    #[arg(long, env = "LAMBUCKET_ACCESS_KEY", value_delimiter = ',', default_value = config::DEV_ACCESS_KEY)]
    access_key: Vec<String>,
    /// Secret key(s), one per access key.
    #[arg(long, env = "LAMBUCKET_SECRET_KEY", value_delimiter = ',', default_value = config::DEV_SECRET_KEY)]
    secret_key: Vec<String>,
    /// Region reported for buckets and expected in nothing else.
    #[arg(long, env = "LAMBUCKET_REGION", default_value = config::DEFAULT_REGION)]
    region: String,
    /// When writes are acknowledged.
    #[arg(long, env = "LAMBUCKET_DURABILITY", value_enum, default_value = "sync")]
    durability: DurabilityArg,
    /// Base domain for virtual-hosted-style requests (bucket.<domain>).
    #[arg(long, env = "LAMBUCKET_DOMAIN", default_value = "localhost")]
    domain: String,
    /// A trigger handler, NAME=KIND:SPEC with KIND command, webhook or jsonl
    /// (e.g. `update-prefs=command:python3 prefs.py`); repeatable.
    #[arg(long = "function", env = "LAMBUCKET_FUNCTION", value_parser = parse_function)]
    functions: Vec<(String, BuiltinSpec)>,
    /// Account id in function ARNs (arn:aws:lambda:REGION:ACCOUNT:function:NAME).
    #[arg(long, env = "LAMBUCKET_ACCOUNT", default_value = "000000000000")]
    account: String,
    /// Retries after a failed delivery, 0 to 2 (Lambda's MaximumRetryAttempts).
    #[arg(long, env = "LAMBUCKET_MAX_RETRY_ATTEMPTS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=2))]
    max_retry_attempts: u32,
    /// Multiplies trigger retry waits (1 = Lambda's 1 and 2 minutes); small values for tests.
    #[arg(long, env = "LAMBUCKET_EVENT_TIME_SCALE", default_value_t = 1.0)]
    event_time_scale: f64,
    /// Answer a write only after the triggers it fired have run (deterministic tests).
    #[arg(long, env = "LAMBUCKET_SYNC_DELIVERY")]
    sync_delivery: bool,
}

fn parse_function(decl: &str) -> Result<(String, BuiltinSpec), String> {
    lambucket::events::handlers::parse_function(decl)
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LAMBUCKET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let Command::Serve(args) = cli.command;
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambucket: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.access_key.len() != args.secret_key.len() {
        return Err("give as many --secret-key values as --access-key values".into());
    }
    let credentials: Vec<Credential> = args
        .access_key
        .iter()
        .zip(&args.secret_key)
        .map(|(a, s)| Credential {
            access_key: a.clone(),
            secret_key: s.clone(),
        })
        .collect();
    let durability = match args.durability {
        DurabilityArg::Sync => Durability::Sync,
        DurabilityArg::Relaxed => Durability::Relaxed,
    };
    let config = Config {
        listen: args.listen,
        data_dir: args.data_dir,
        region: args.region,
        credentials,
        base_domain: args.domain,
        functions: args.functions,
        deliver_before_response: args.sync_delivery,
        ..Config::default()
    }
    .durability(durability);
    let mut config = config;
    config.events.account = args.account;
    config.events.max_retry_attempts = args.max_retry_attempts;
    config.events.time_scale = args.event_time_scale;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut config = config;
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        config.listen = addr;
        let state = lambucket::open(config)?;
        print_banner(&state.config, addr);
        lambucket::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn print_banner(config: &Config, addr: SocketAddr) {
    let cred = &config.credentials[0];
    println!("Lambucket listening on http://{addr}");
    println!("  data dir:   {}", config.data_dir.display());
    println!("  region:     {}", config.region);
    println!("  access key: {}", cred.access_key);
    println!("  secret key: {}", cred.secret_key);
    for (name, spec) in &config.functions {
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            config.region, config.events.account
        );
        println!("  function:   {arn} ({spec:?})");
    }
    println!("Try:");
    println!(
        "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} aws --endpoint-url http://{addr} --region {} s3 mb s3://my-bucket",
        cred.access_key, cred.secret_key, config.region
    );
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
