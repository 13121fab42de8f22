//! Lambucket only: PUTs into a bucket whose notification rule targets a webhook handler served
//! here; measures the time from each PUT's 2xx to the handler receiving its event, the
//! sustained events/s, and the backlog left when the PUTs end.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::{figures, pattern, Bench};

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn serve_webhook(listen: &str, arrivals: Arrivals) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .expect("bind webhook listener");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let arrivals = arrivals.clone();
                    async move {
                        let now = Instant::now();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let json: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        if let Some(key) = json["Records"][0]["s3"]["object"]["key"].as_str() {
                            arrivals
                                .lock()
                                .unwrap()
                                .entry(key.to_owned())
                                .or_insert(now);
                        }
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

pub async fn run(bench: &Bench, count: usize) {
    let arrivals: Arrivals = Arc::default();
    let server = serve_webhook(&bench.args.webhook_listen, arrivals.clone()).await;
    let arn = format!(
        "arn:aws:lambda:{}:000000000000:function:{}",
        bench.args.region, bench.args.webhook_function
    );
    let config = format!(
        "<NotificationConfiguration><CloudFunctionConfiguration><Id>bench</Id><CloudFunction>{arn}</CloudFunction>\
         <Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>trig/</Value></FilterRule>\
         </S3Key></Filter></CloudFunctionConfiguration></NotificationConfiguration>"
    );
    let r = bench
        .s3
        .send(
            Method::PUT,
            &format!("/{}?notification", bench.bucket),
            &[],
            Bytes::from(config),
        )
        .await;
    match r {
        Ok(r) if r.status == 200 => {}
        Ok(r) => {
            eprintln!(
                "trigger workload skipped: notification configuration answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            return;
        }
        Err(e) => {
            eprintln!("trigger workload skipped: {e}");
            return;
        }
    }
    let acked: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let body = pattern(1024, 3);
    let started = Instant::now();
    let (s3, bucket, acked_w) = (bench.s3.clone(), bench.bucket.clone(), acked.clone());
    let (_, errors, _, _) = super::run(8, count, move |i| {
        let (s3, body, bucket, acked) = (s3.clone(), body.clone(), bucket.clone(), acked_w.clone());
        async move {
            let key = format!("trig/{i:06}");
            let r = s3
                .send(Method::PUT, &format!("/{bucket}/{key}"), &[], body)
                .await?;
            acked.lock().unwrap().insert(key, Instant::now());
            super::expect(r.status, 200, "PUT").map(|_| 0)
        }
    })
    .await;
    let backlog_at_end = count - arrivals.lock().unwrap().len().min(count);
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().unwrap().len() < count - errors && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let acked = acked.lock().unwrap().clone();
    let latencies: Vec<Duration> = acked
        .iter()
        .filter_map(|(k, t)| arrivals.get(k).map(|a| a.saturating_duration_since(*t)))
        .collect();
    let last = arrivals.values().max().copied().unwrap_or(started);
    let lost = acked.keys().filter(|k| !arrivals.contains_key(*k)).count();
    let elapsed = last.saturating_duration_since(started);
    bench.emit(figures(
        &bench.args.label,
        "trigger_2xx_to_handler",
        latencies,
        errors + lost,
        elapsed,
        0,
    ));
    println!(
        "{}",
        serde_json::json!({
            "server": bench.args.label, "workload": "trigger_throughput",
            "events": arrivals.len(), "events_per_s": arrivals.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            "backlog_at_end_of_puts": backlog_at_end, "undelivered": lost,
        })
    );
    server.abort();
}
