//! lambucket-bench: one load generator for Lambucket and its peers, so each runs the same
//! workloads in the same run. Prints one JSON line of figures per workload (ops/s, MiB/s,
//! latency p50/p99/max, errors); every GET body is verified byte for byte.

mod client;
mod stats;
mod triggers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http::Method;
use lambucket::md5::Md5;
use sha2::{Digest, Sha256};

use client::{Payload, S3};
use stats::{figures, Figures};

#[derive(Parser, Clone)]
#[command(about = "S3 load generator: the same workloads against any S3 server")]
struct Args {
    #[arg(long)]
    endpoint: String,
    #[arg(long, default_value = "lambucket")]
    access_key: String,
    #[arg(long, default_value = "lambucket-dev-secret")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Name of the server in the output.
    #[arg(long, default_value = "server")]
    label: String,
    /// Smaller counts, for CI.
    #[arg(long)]
    quick: bool,
    /// Comma-separated workloads: small, list, mixed, checksum, 1m, 64m, big, triggers, md5
    /// (default: small through 64m).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Size of the single PUT of the `big` workload (memory while streaming), in MiB.
    #[arg(long, default_value_t = 2048)]
    big_mib: usize,
    /// For the trigger workload: where to receive webhook deliveries.
    #[arg(long, default_value = "127.0.0.1:9911")]
    webhook_listen: String,
    /// For the trigger workload: the function name the server has registered for the webhook.
    #[arg(long, default_value = "bench-hook")]
    webhook_function: String,
}

const SMALL: usize = 4 * 1024;
const MIB: usize = 1024 * 1024;

fn pattern(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Bytes::from(
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>(),
    )
}

/// Runs `count` operations with `concurrency` workers; `op(i)` returns bytes moved or an error.
async fn run<F, Fut>(
    concurrency: usize,
    count: usize,
    op: F,
) -> (Vec<Duration>, usize, Duration, u64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<u64, String>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut bytes) = (Vec::new(), 0usize, 0u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let t = Instant::now();
                match op(i).await {
                    Ok(b) => {
                        lat.push(t.elapsed());
                        bytes += b;
                    }
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("error: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            (lat, errors, bytes)
        }));
    }
    let (mut all, mut errors, mut bytes) = (Vec::new(), 0, 0);
    for t in tasks {
        let (l, e, b) = t.await.expect("worker");
        all.extend(l);
        errors += e;
        bytes += b;
    }
    (all, errors, started.elapsed(), bytes)
}

fn expect(status: u16, want: u16, what: &str) -> Result<(), String> {
    if status == want {
        Ok(())
    } else {
        Err(format!("{what}: status {status}"))
    }
}

/// Sends a body-less request and checks its status; 0 bytes moved.
async fn status_only(s3: &S3, method: Method, path: &str, want: u16) -> Result<u64, String> {
    let what = method.to_string();
    let reply = s3.send(method, path, &[], Bytes::new()).await?;
    expect(reply.status, want, &what).map(|_| 0)
}

fn crc32_b64(data: &[u8]) -> String {
    use base64::Engine;
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc);
    d.update(data);
    base64::engine::general_purpose::STANDARD.encode((d.finalize() as u32).to_be_bytes())
}

struct Bench {
    args: Args,
    s3: Arc<S3>,
    bucket: String,
}

impl Bench {
    fn n(&self, full: usize, quick: usize) -> usize {
        if self.args.quick {
            quick
        } else {
            full
        }
    }

    fn emit(&self, f: Figures) {
        println!("{}", serde_json::to_string(&f).expect("figures serialize"));
    }

    /// Prints the figures of what [`run`] measured.
    fn emit_run(&self, workload: &str, measured: (Vec<Duration>, usize, Duration, u64)) {
        let (latencies, errors, elapsed, bytes) = measured;
        self.emit(figures(
            &self.args.label,
            workload,
            latencies,
            errors,
            elapsed,
            bytes,
        ));
    }

    /// Runs `op` once per key `<prefix>000000…` of the bench bucket, `conc` at a time, and
    /// prints what it measured as `name`; `op` gets the client and the key's path.
    async fn per_key<F, Fut>(&self, name: &str, prefix: &str, count: usize, conc: usize, op: F)
    where
        F: Fn(Arc<S3>, String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<u64, String>> + Send,
    {
        let (s3, bucket, prefix) = (self.s3.clone(), self.bucket.clone(), prefix.to_owned());
        let measured = run(conc, count, move |i| {
            op(s3.clone(), format!("/{bucket}/{prefix}{i:06}"))
        })
        .await;
        self.emit_run(name, measured);
    }

    async fn put_objects(
        &self,
        name: &str,
        prefix: &str,
        size: usize,
        count: usize,
        conc: usize,
        checksum: bool,
    ) {
        let body = pattern(size, size as u64);
        let crc = crc32_b64(&body);
        let sha256: Arc<str> = hex::encode(Sha256::digest(&body)).into();
        self.per_key(name, prefix, count, conc, move |s3, path| {
            let (body, crc, sha256) = (body.clone(), crc.clone(), sha256.clone());
            async move {
                let headers: Vec<(&str, &str)> = if checksum {
                    vec![("x-amz-checksum-crc32", crc.as_str())]
                } else {
                    vec![]
                };
                let len = body.len() as u64;
                let payload = Payload::Hashed(&sha256);
                let r = s3
                    .send_signed(Method::PUT, &path, &headers, body, payload)
                    .await?;
                expect(r.status, 200, "PUT").map(|_| len)
            }
        })
        .await;
    }

    async fn get_objects(
        &self,
        name: &str,
        prefix: &str,
        size: usize,
        count: usize,
        conc: usize,
        method: Method,
    ) {
        let body = pattern(size, size as u64);
        self.per_key(name, prefix, count, conc, move |s3, path| {
            let (body, method) = (body.clone(), method.clone());
            async move {
                if method == Method::HEAD {
                    return status_only(&s3, method, &path, 200).await;
                }
                let (status, len) = s3.get_verified(&path, &body).await?;
                expect(status, 200, "GET").map(|_| len)
            }
        })
        .await;
    }

    async fn delete_objects(&self, prefix: &str, count: usize, conc: usize) {
        self.per_key("delete_4k", prefix, count, conc, |s3, path| async move {
            status_only(&s3, Method::DELETE, &path, 204).await
        })
        .await;
    }

    /// Full ListObjectsV2 passes over `prefix` in pages of 1000; one op = one page.
    async fn list(&self, prefix: &str, passes: usize, expected: usize) {
        let (s3, bucket, prefix) = (self.s3.clone(), self.bucket.clone(), prefix.to_owned());
        let mut lat = Vec::new();
        let mut errors = 0;
        let started = Instant::now();
        for _ in 0..passes {
            let mut token: Option<String> = None;
            let mut seen = 0;
            loop {
                let mut q = format!("/{bucket}?list-type=2&max-keys=1000&prefix={prefix}");
                if let Some(t) = &token {
                    q.push_str(&format!(
                        "&continuation-token={}",
                        lambucket::urlenc::uri_encode(t, false)
                    ));
                }
                let t = Instant::now();
                let r = match s3.send(Method::GET, &q, &[], Bytes::new()).await {
                    Ok(r) if r.status == 200 => r,
                    _ => {
                        errors += 1;
                        break;
                    }
                };
                lat.push(t.elapsed());
                let text = String::from_utf8_lossy(&r.body);
                seen += text.matches("<Key>").count();
                token = text
                    .split("<NextContinuationToken>")
                    .nth(1)
                    .and_then(|s| s.split('<').next())
                    .map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
            if seen != expected {
                errors += 1;
                eprintln!("list pass saw {seen} keys, expected {expected}");
            }
        }
        self.emit(figures(
            &self.args.label,
            "list_pages",
            lat,
            errors,
            started.elapsed(),
            0,
        ));
    }

    /// 60% GET, 25% PUT overwrite, 10% HEAD, 5% LIST over the 4 KiB keys.
    async fn mixed(&self, prefix: &str, keys: usize, count: usize, conc: usize) {
        let (s3, bucket, prefix) = (self.s3.clone(), self.bucket.clone(), prefix.to_owned());
        let body = pattern(SMALL, SMALL as u64);
        let measured = run(conc, count, move |i| {
            let (s3, body, bucket, prefix) =
                (s3.clone(), body.clone(), bucket.clone(), prefix.clone());
            async move {
                let roll = (i.wrapping_mul(2_654_435_761) >> 7) % 100;
                let key = (i.wrapping_mul(40_503)) % keys;
                let path = format!("/{bucket}/{prefix}{key:06}");
                match roll {
                    0..=59 => {
                        let (status, len) = s3.get_verified(&path, &body).await?;
                        expect(status, 200, "GET").map(|_| len)
                    }
                    60..=84 => expect(
                        s3.send(Method::PUT, &path, &[], body).await?.status,
                        200,
                        "PUT",
                    )
                    .map(|_| SMALL as u64),
                    85..=94 => status_only(&s3, Method::HEAD, &path, 200).await,
                    _ => {
                        let q = format!("/{bucket}?list-type=2&max-keys=100&prefix={prefix}");
                        status_only(&s3, Method::GET, &q, 200).await
                    }
                }
            }
        })
        .await;
        self.emit_run("mixed", measured);
    }
}

impl Bench {
    /// One PUT of `--big-mib` MiB (UNSIGNED-PAYLOAD), then a HEAD that checks its size: what
    /// the server's memory does while a huge body streams through it.
    async fn big_upload(&self) {
        let size = self.args.big_mib * MIB;
        let block = pattern(MIB, 7);
        let mut body = Vec::with_capacity(size);
        while body.len() < size {
            body.extend_from_slice(&block);
        }
        let body = Bytes::from(body);
        let path = format!("/{}/big", self.bucket);
        let started = Instant::now();
        let put = self
            .s3
            .send_signed(Method::PUT, &path, &[], body, Payload::Unsigned)
            .await;
        let elapsed = started.elapsed();
        let mut errors = 0;
        match put {
            Ok(r) if r.status == 200 => {}
            Ok(r) => {
                errors += 1;
                eprintln!("big PUT: status {}", r.status);
            }
            Err(e) => {
                errors += 1;
                eprintln!("big PUT: {e}");
            }
        }
        match self.s3.send(Method::HEAD, &path, &[], Bytes::new()).await {
            Ok(r) if r.status == 200 && r.content_length == Some(size as u64) => {}
            other => {
                errors += 1;
                eprintln!(
                    "big HEAD: {:?}",
                    other.map(|r| (r.status, r.content_length))
                );
            }
        }
        let latencies = if errors == 0 { vec![elapsed] } else { vec![] };
        self.emit(figures(
            &self.args.label,
            "put_big",
            latencies,
            errors,
            elapsed,
            size as u64,
        ));
    }
}

/// This machine's single-core MD5 rate, the ceiling of a single PUT stream: the fastest of
/// several 64 MiB digests over about a second, since a busy spell only makes a digest slower.
fn md5_rate_mib_s() -> f64 {
    let data = pattern(64 * MIB, 1);
    let started = Instant::now();
    let mut fastest = Duration::MAX;
    while started.elapsed() < Duration::from_secs(1) {
        let one = Instant::now();
        std::hint::black_box(Md5::digest(&data));
        fastest = fastest.min(one.elapsed());
    }
    64.0 / fastest.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let all = ["small", "list", "mixed", "checksum", "1m", "64m"];
    let chosen: Vec<String> = if args.workloads.is_empty() {
        all.iter().map(|s| s.to_string()).collect()
    } else {
        args.workloads.clone()
    };
    let has = |w: &str| chosen.iter().any(|c| c == w);
    if has("md5") {
        println!(
            "{}",
            serde_json::json!({ "server": args.label, "workload": "md5_single_core", "mib_per_s": md5_rate_mib_s() })
        );
        if chosen.len() == 1 {
            return; // no server needed
        }
    }
    let s3 = Arc::new(S3::new(
        &args.endpoint,
        &args.access_key,
        &args.secret_key,
        &args.region,
    ));
    let bucket = format!("bench-{:08x}", rand::random::<u32>());
    let r = s3
        .send(Method::PUT, &format!("/{bucket}"), &[], Bytes::new())
        .await
        .expect("create bucket");
    assert_eq!(
        r.status,
        200,
        "create bucket: {}",
        String::from_utf8_lossy(&r.body)
    );
    let bench = Bench {
        args: args.clone(),
        s3,
        bucket,
    };

    let small = bench.n(5000, 1000);
    if has("small") || has("list") || has("mixed") {
        bench
            .put_objects("put_4k", "small/", SMALL, small, 32, false)
            .await;
    }
    if has("small") {
        bench
            .get_objects("get_4k", "small/", SMALL, small, 32, Method::GET)
            .await;
        bench
            .get_objects("head_4k", "small/", SMALL, small, 32, Method::HEAD)
            .await;
    }
    if has("list") {
        bench.list("small%2F", bench.n(20, 4), small).await;
    }
    if has("mixed") {
        bench.mixed("small/", small, bench.n(5000, 1000), 32).await;
    }
    if has("small") {
        bench.delete_objects("small/", small, 32).await;
    }
    if has("checksum") {
        bench
            .put_objects("put_4k_crc32", "crc/", SMALL, bench.n(2000, 500), 32, true)
            .await;
    }
    if has("1m") {
        let n = bench.n(500, 100);
        bench.put_objects("put_1m", "1m/", MIB, n, 8, false).await;
        bench
            .get_objects("get_1m", "1m/", MIB, n, 8, Method::GET)
            .await;
    }
    if has("64m") {
        for conc in [2usize, 1] {
            let n = bench.n(8, 2);
            let prefix = format!("64m-c{conc}/");
            bench
                .put_objects(
                    &format!("put_64m_c{conc}"),
                    &prefix,
                    64 * MIB,
                    n,
                    conc,
                    false,
                )
                .await;
            bench
                .get_objects(
                    &format!("get_64m_c{conc}"),
                    &prefix,
                    64 * MIB,
                    n,
                    conc,
                    Method::GET,
                )
                .await;
        }
    }
    if has("big") {
        bench.big_upload().await;
    }
    if has("triggers") {
        triggers::run(&bench, bench.n(2000, 300)).await;
    }
}
