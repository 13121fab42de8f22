//! Latency and throughput figures of one workload.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub server: String,
    pub workload: String,
    pub ops: usize,
    pub errors: usize,
    pub seconds: f64,
    pub ops_per_s: f64,
    pub mib_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn figures(
    server: &str,
    workload: &str,
    mut latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
    bytes: u64,
) -> Figures {
    latencies.sort();
    let pick = |q: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies[i].as_secs_f64() * 1000.0
        }
    };
    let seconds = elapsed.as_secs_f64().max(1e-9);
    Figures {
        server: server.to_owned(),
        workload: workload.to_owned(),
        ops: latencies.len(),
        errors,
        seconds,
        ops_per_s: latencies.len() as f64 / seconds,
        mib_per_s: bytes as f64 / (1024.0 * 1024.0) / seconds,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    }
}
