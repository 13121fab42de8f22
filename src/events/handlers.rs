//! Handlers by function name: Rust async functions registered through the library API, and
//! the built-ins usable from the CLI or config (`command`, `webhook`, `jsonl`). Destination ARNs
//! of any kind (Lambda function, SQS queue, SNS topic) resolve to a handler by their name.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, RwLock};

use aws_lambda_events::event::s3::S3Event;
use tokio::io::AsyncWriteExt;

use super::config::target_name;

/// One delivery of one event to one handler.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The registered name the event was routed to.
    pub function: String,
    /// The event exactly as sent (`{"Records":[…]}` or an `s3:TestEvent`).
    pub json: String,
    /// 1 for the first attempt.
    pub attempt: u32,
}

impl Invocation {
    /// The typed event, as a lambda_runtime handler would get it (None for test events).
    pub fn s3_event(&self) -> Option<S3Event> {
        serde_json::from_str(&self.json).ok()
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Something that consumes events. Errors are retried as Lambda retries async invocations.
pub trait Handler: Send + Sync {
    fn invoke(&self, invocation: Invocation) -> HandlerFuture;
}

/// A Rust closure taking the typed S3 event; S3's test events are acknowledged without calling it.
struct FnHandler<F>(F);

impl<F, Fut, E> Handler for FnHandler<F>
where
    F: Fn(S3Event) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    fn invoke(&self, invocation: Invocation) -> HandlerFuture {
        let Some(event) = invocation.s3_event() else {
            return Box::pin(async { Ok(()) });
        };
        let fut = (self.0)(event);
        Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
    }
}

/// Handlers by name (a function, queue or topic name, or a full ARN).
#[derive(Default)]
pub struct Registry {
    handlers: RwLock<HashMap<String, Arc<dyn Handler>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn register(&self, name: &str, handler: Arc<dyn Handler>) {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), handler);
    }

    /// Registers an async Rust function receiving the typed event, like a lambda_runtime handler.
    pub fn register_fn<F, Fut, E>(&self, name: &str, f: F)
    where
        F: Fn(S3Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        self.register(name, Arc::new(FnHandler(f)));
    }

    /// The handler for a destination: by full ARN first, then by the name in the ARN.
    pub fn resolve(&self, arn_or_name: &str) -> Option<(String, Arc<dyn Handler>)> {
        let handlers = self.handlers.read().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = handlers.get(arn_or_name) {
            return Some((arn_or_name.to_owned(), h.clone()));
        }
        let name = target_name(arn_or_name)?;
        handlers.get(&name).map(|h| (name, h.clone()))
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }
}

/// What a `command` handler's process is told about the server, so it can call back into it.
#[derive(Debug, Clone, Default)]
pub struct CallbackEnv {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

/// A built-in handler as declared by `--function NAME=KIND:SPEC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltinSpec {
    /// Run a shell command with the event JSON on stdin; non-zero exit is a failure.
    Command(String),
    /// POST the event JSON to a URL; a non-2xx answer is a failure.
    Webhook(String),
    /// Append the event JSON as one line to a file.
    Jsonl(PathBuf),
}

/// Parses `NAME=KIND:SPEC` (KIND is command, webhook or jsonl).
pub fn parse_function(decl: &str) -> Result<(String, BuiltinSpec), String> {
    let (name, rest) = decl
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=KIND:SPEC, got {decl:?}"))?;
    let (kind, spec) = rest
        .split_once(':')
        .ok_or_else(|| format!("expected KIND:SPEC after '=', got {rest:?}"))?;
    if name.is_empty() || spec.is_empty() {
        return Err(format!("empty name or spec in {decl:?}"));
    }
    let spec = match kind {
        "command" => BuiltinSpec::Command(spec.to_owned()),
        "webhook" => BuiltinSpec::Webhook(spec.to_owned()),
        "jsonl" => BuiltinSpec::Jsonl(PathBuf::from(spec)),
        other => {
            return Err(format!(
                "unknown handler kind {other:?} (command, webhook or jsonl)"
            ))
        }
    };
    Ok((name.to_owned(), spec))
}

pub fn builtin(spec: &BuiltinSpec, env: &CallbackEnv) -> Arc<dyn Handler> {
    match spec {
        BuiltinSpec::Command(cmd) => Arc::new(CommandHandler {
            command: cmd.clone(),
            env: env.clone(),
        }),
        BuiltinSpec::Webhook(url) => Arc::new(WebhookHandler::new(url)),
        BuiltinSpec::Jsonl(path) => Arc::new(JsonlHandler {
            path: path.clone(),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }),
    }
}

struct CommandHandler {
    command: String,
    env: CallbackEnv,
}

impl Handler for CommandHandler {
    fn invoke(&self, invocation: Invocation) -> HandlerFuture {
        let command = self.command.clone();
        let env = self.env.clone();
        Box::pin(async move {
            let mut child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .env("AWS_ENDPOINT_URL", &env.endpoint)
                .env("AWS_ENDPOINT_URL_S3", &env.endpoint)
                .env("LAMBUCKET_ENDPOINT", &env.endpoint)
                .env("AWS_ACCESS_KEY_ID", &env.access_key)
                .env("AWS_SECRET_ACCESS_KEY", &env.secret_key)
                .env("AWS_DEFAULT_REGION", &env.region)
                .env("AWS_REGION", &env.region)
                .env("LAMBUCKET_FUNCTION", &invocation.function)
                .env("LAMBUCKET_ATTEMPT", invocation.attempt.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("could not start {command:?}: {e}"))?;
            if let Some(mut stdin) = child.stdin.take() {
                // A command that ignores its input is fine.
                let _ = stdin.write_all(invocation.json.as_bytes()).await;
            }
            let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: String = stderr
                    .chars()
                    .rev()
                    .take(500)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                Err(format!(
                    "{command:?} exited with {}: {}",
                    out.status,
                    tail.trim()
                ))
            }
        })
    }
}

struct JsonlHandler {
    path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Handler for JsonlHandler {
    fn invoke(&self, invocation: Invocation) -> HandlerFuture {
        let path = self.path.clone();
        let lock = self.lock.clone();
        Box::pin(async move {
            let _one_writer = lock.lock().await;
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let mut line = invocation.json.into_bytes();
            line.push(b'\n');
            file.write_all(&line).await.map_err(|e| e.to_string())?;
            file.flush().await.map_err(|e| e.to_string())
        })
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

struct WebhookHandler {
    url: String,
    /// Kept across deliveries: a connection per event would cost a handshake each time.
    client: HttpClient,
}

impl WebhookHandler {
    fn new(url: &str) -> WebhookHandler {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        WebhookHandler {
            url: url.to_owned(),
            client,
        }
    }
}

impl Handler for WebhookHandler {
    fn invoke(&self, invocation: Invocation) -> HandlerFuture {
        let url = self.url.clone();
        let client = self.client.clone();
        Box::pin(async move {
            use http_body_util::{BodyExt, Full};
            let req = http::Request::post(&url)
                .header("content-type", "application/json")
                .header("x-lambucket-function", &invocation.function)
                .body(Full::new(bytes::Bytes::from(invocation.json)))
                .map_err(|e| format!("bad webhook URL {url:?}: {e}"))?;
            let resp = client
                .request(req)
                .await
                .map_err(|e| format!("POST {url}: {e}"))?;
            let status = resp.status();
            let _ = resp.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("POST {url} answered {status}"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_declarations() {
        assert_eq!(
            parse_function("update-prefs=command:python3 prefs.py --x=1").unwrap(),
            (
                "update-prefs".into(),
                BuiltinSpec::Command("python3 prefs.py --x=1".into())
            )
        );
        assert_eq!(
            parse_function("hook=webhook:http://127.0.0.1:8080/e")
                .unwrap()
                .1,
            BuiltinSpec::Webhook("http://127.0.0.1:8080/e".into())
        );
        assert_eq!(
            parse_function("audit=jsonl:/tmp/e.jsonl").unwrap().1,
            BuiltinSpec::Jsonl("/tmp/e.jsonl".into())
        );
        assert!(parse_function("nokind").is_err());
        assert!(parse_function("x=ftp:somewhere").is_err());
    }

    #[test]
    fn resolves_by_arn_or_name() {
        let registry = Registry::new();
        registry.register_fn("update-prefs", |_e: S3Event| async { Ok::<(), String>(()) });
        assert!(registry.resolve("update-prefs").is_some());
        assert!(registry
            .resolve("arn:aws:lambda:us-east-1:000000000000:function:update-prefs")
            .is_some());
        assert!(registry
            .resolve("arn:aws:sqs:us-east-1:000000000000:update-prefs")
            .is_some());
        assert!(registry
            .resolve("arn:aws:lambda:us-east-1:000000000000:function:other")
            .is_none());
    }

    #[tokio::test]
    async fn command_and_jsonl_builtins() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("events.jsonl");
        let jsonl = builtin(&BuiltinSpec::Jsonl(out.clone()), &CallbackEnv::default());
        let inv = |json: &str| Invocation {
            function: "f".into(),
            json: json.into(),
            attempt: 1,
        };
        jsonl.invoke(inv("{\"a\":1}")).await.unwrap();
        jsonl.invoke(inv("{\"a\":2}")).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );

        let copy = dir.path().join("stdin.json");
        let cmd = builtin(
            &BuiltinSpec::Command(format!("cat > {}", copy.display())),
            &CallbackEnv::default(),
        );
        cmd.invoke(inv("{\"b\":3}")).await.unwrap();
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "{\"b\":3}");
        let failing = builtin(
            &BuiltinSpec::Command("echo boom >&2; exit 3".into()),
            &CallbackEnv::default(),
        );
        let err = failing.invoke(inv("{}")).await.unwrap_err();
        assert!(err.contains("boom"), "{err}");
    }
}
