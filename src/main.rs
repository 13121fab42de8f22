//! The `lambucket` command: `lambucket serve` runs the S3 server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use lambucket::auth::Credential;
use lambucket::config::{self, Config};
use lambucket::environment::Environment;
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
    /// Undelivered events and the most recent delivery attempts (of a running server).
    Events(AdminArgs),
    /// Events that exhausted their delivery attempts.
    DeadLetters(AdminArgs),
    /// Put dead letters back for delivery (all, or --seq N).
    Redrive {
        #[command(flatten)]
        admin: AdminArgs,
        #[arg(long)]
        seq: Option<u64>,
    },
    /// Deliver an event again (a recent, pending or dead one), by sequence number.
    Replay {
        #[command(flatten)]
        admin: AdminArgs,
        #[arg(long)]
        seq: u64,
    },
    /// Fire ObjectCreated:Put for every existing object under a prefix at one function.
    Backfill {
        #[command(flatten)]
        admin: AdminArgs,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long)]
        function: String,
    },
    /// The registered trigger handlers.
    Functions(AdminArgs),
}

#[derive(clap::Args)]
struct AdminArgs {
    /// The running server.
    #[arg(
        long,
        env = "LAMBUCKET_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint: String,
    #[arg(long, env = "LAMBUCKET_ACCESS_KEY", default_value = config::DEV_ACCESS_KEY)]
    access_key: String,
    #[arg(long, env = "LAMBUCKET_SECRET_KEY", default_value = config::DEV_SECRET_KEY)]
    secret_key: String,
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
    /// Seconds an event may wait for a successful delivery before it becomes a dead letter,
    /// 60 to 21600 (Lambda's MaximumEventAgeInSeconds).
    #[arg(long, env = "LAMBUCKET_MAX_EVENT_AGE", default_value_t = 21600, value_parser = clap::value_parser!(u64).range(60..=21600))]
    max_event_age: u64,
    /// Multiplies trigger retry waits (1 = Lambda's 1 and 2 minutes); small values for tests.
    #[arg(long, env = "LAMBUCKET_EVENT_TIME_SCALE", default_value_t = 1.0)]
    event_time_scale: f64,
    /// Deliveries running at once, across all handlers.
    #[arg(long, env = "LAMBUCKET_TRIGGER_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    trigger_concurrency: u32,
    /// Seconds a handler may run before the attempt counts as failed (Lambda's timeout).
    #[arg(long, env = "LAMBUCKET_HANDLER_TIMEOUT", default_value_t = 30.0)]
    handler_timeout: f64,
    /// A lambucket.toml declaring functions, buckets and notification rules (default:
    /// ./lambucket.toml when it exists).
    #[arg(long, env = "LAMBUCKET_CONFIG")]
    config: Option<PathBuf>,
    /// Answer a write only after the triggers it fired have run (deterministic tests).
    #[arg(long, env = "LAMBUCKET_SYNC_DELIVERY")]
    sync_delivery: bool,
}

const DEFAULT_CONFIG_FILE: &str = "lambucket.toml";

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
    let result = match cli.command {
        Command::Serve(args) => run(args),
        Command::Events(a) => admin(&a, "GET", "events".into()),
        Command::DeadLetters(a) => admin(&a, "GET", "dead-letters".into()),
        Command::Functions(a) => admin(&a, "GET", "functions".into()),
        Command::Redrive { admin: a, seq } => {
            let query = seq.map(|s| format!("?seq={s}")).unwrap_or_default();
            admin(&a, "POST", format!("dead-letters/redrive{query}"))
        }
        Command::Replay { admin: a, seq } => admin(&a, "POST", format!("replay?seq={seq}")),
        Command::Backfill {
            admin: a,
            bucket,
            prefix,
            function,
        } => {
            let enc = |s: &str| lambucket::urlenc::uri_encode(s, false);
            admin(
                &a,
                "POST",
                format!(
                    "backfill?bucket={}&prefix={}&function={}",
                    enc(&bucket),
                    enc(&prefix),
                    enc(&function)
                ),
            )
        }
    };
    match result {
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
    let config_file = args.config.clone().or_else(|| {
        let default = PathBuf::from(DEFAULT_CONFIG_FILE);
        default.exists().then_some(default)
    });
    let environment = match &config_file {
        Some(path) => Environment::load(path)?,
        None => Environment::default(),
    };
    let mut functions = environment.builtins()?;
    functions.extend(args.functions);
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
        functions,
        deliver_before_response: args.sync_delivery,
        ..Config::default()
    }
    .durability(durability);
    let mut config = config;
    config.events.account = args.account;
    config.events.max_retry_attempts = args.max_retry_attempts;
    config.events.time_scale = args.event_time_scale;
    config.events.max_event_age = std::time::Duration::from_secs(args.max_event_age);
    config.events.concurrency = args.trigger_concurrency as usize;
    config.events.handler_timeout = std::time::Duration::try_from_secs_f64(args.handler_timeout)
        .map_err(|_| "--handler-timeout must be a positive number of seconds")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut config = config;
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        config.listen = addr;
        let state = lambucket::open(config)?;
        lambucket::environment::apply(&state, &environment)?;
        let shutdown = shutdown_signal();
        print_banner(&state.config, addr);
        if let Some(path) = &config_file {
            println!(
                "Config: {} ({} buckets declared)",
                path.display(),
                environment.buckets.len()
            );
        }
        lambucket::serve(listener, state, shutdown).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Calls the admin endpoint of a running server and prints its JSON answer.
fn admin(args: &AdminArgs, method: &str, route: String) -> Result<(), Box<dyn std::error::Error>> {
    use base64::Engine;
    use http_body_util::{BodyExt, Full};
    let url = format!("{}/_lambucket/{route}", args.endpoint.trim_end_matches('/'));
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", args.access_key, args.secret_key));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<bytes::Bytes>>();
        let req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Basic {basic}"))
            .body(Full::new(bytes::Bytes::new()))?;
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        println!("{}", String::from_utf8_lossy(&body));
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{url} answered {status}").into())
        }
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

/// Starts listening for SIGINT and SIGTERM now, before the banner says the server is up: a
/// script that signals as soon as it reads the banner must get a clean shutdown, not the
/// default action (killed by the signal, exit status -15).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let listeners = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match listeners {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    }
}
