//! Delivers outbox records to handlers: at least once, a bounded number at a time, each
//! attempt timed out and traced; failures are retried with Lambda's asynchronous-invocation
//! semantics (MaximumRetryAttempts, backoff of 1 then 2 minutes, MaximumEventAgeInSeconds),
//! then moved to the dead letters. Records are removed only after a successful delivery, so
//! a crash at any point means a redelivery, never a loss.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

use super::candidates::Candidates;
use super::handlers::{Invocation, Registry};
use super::EventsConfig;
use crate::storage::{OutboxEntry, StorageResult, Store};

/// Upper bound on the wait between scans when nothing wakes the dispatcher.
const IDLE_SCAN: Duration = Duration::from_secs(1);
/// Outbox sequence numbers read per full pass.
const SCAN_BATCH: usize = 1024;
/// How often a full pass looks for outbox records nothing told the dispatcher about.
const FULL_PASS_EVERY: Duration = Duration::from_secs(1);
/// Delivery attempts remembered for inspection.
const HISTORY: usize = 1000;

/// What the outbox stores for one event and one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// Destination ARN (or handler name).
    pub target: String,
    pub event_name: String,
    pub request_id: String,
    /// The event exactly as handlers receive it.
    pub json: String,
    pub created_ms: i64,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
}

impl OutboxRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("outbox records serialize")
    }

    pub fn decode(bytes: &[u8]) -> Option<OutboxRecord> {
        serde_json::from_slice(bytes).ok()
    }
}

/// One delivery attempt, for inspection.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub seq: u64,
    pub handler: String,
    pub event_name: String,
    pub request_id: String,
    pub attempt: u32,
    pub latency_ms: f64,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub at_ms: i64,
}

pub struct Dispatcher {
    store: Store,
    registry: Arc<Registry>,
    config: EventsConfig,
    wake: Arc<Notify>,
    in_flight: Mutex<HashSet<u64>>,
    /// The outbox records worth reading, and from when.
    candidates: Mutex<Candidates>,
    permits: Arc<Semaphore>,
    history: Mutex<VecDeque<Attempt>>,
    /// Recently delivered records, so they can be replayed.
    delivered: Mutex<VecDeque<(u64, OutboxRecord)>>,
}

fn until(now_ms: i64, due_ms: i64) -> Duration {
    Duration::from_millis((due_ms - now_ms).max(0) as u64)
}

fn now_ms() -> i64 {
    crate::time_fmt::now_ms()
}

fn decoded(entries: Vec<OutboxEntry>) -> Vec<(u64, OutboxRecord)> {
    entries
        .into_iter()
        .filter_map(|e| OutboxRecord::decode(&e.value).map(|r| (e.seq, r)))
        .collect()
}

impl Dispatcher {
    pub fn new(store: Store, registry: Arc<Registry>, config: EventsConfig) -> Arc<Dispatcher> {
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Arc::new(Dispatcher {
            store,
            registry,
            config,
            wake: Arc::new(Notify::new()),
            in_flight: Mutex::new(HashSet::new()),
            candidates: Mutex::new(Candidates::default()),
            permits,
            history: Mutex::new(VecDeque::new()),
            delivered: Mutex::new(VecDeque::new()),
        })
    }

    /// Starts the delivery loop. It holds the dispatcher weakly and ends when it is dropped.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Dispatcher> = Arc::downgrade(self);
        let wake = self.wake.clone();
        tokio::spawn(async move {
            loop {
                let Some(dispatcher) = weak.upgrade() else {
                    return;
                };
                let wait = match dispatcher.dispatch_due() {
                    Ok(wait) => wait,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox scan failed");
                        IDLE_SCAN
                    }
                };
                drop(dispatcher);
                let _ = tokio::time::timeout(wait, wake.notified()).await;
            }
        })
    }

    /// Events were recorded in the outbox: deliver them once they are durable, from the
    /// next pass on ([`Dispatcher::wake`]).
    pub fn recorded(&self, seqs: &[u64]) {
        if seqs.is_empty() {
            return; // most commits: no rule matched
        }
        let mut candidates = self.lock_candidates();
        for &seq in seqs {
            candidates.look_at(seq, 0);
        }
    }

    /// Something changed (a flush made events durable, a delivery finished): look again.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits until every event has been delivered or dead-lettered (tests, sync mode).
    pub async fn drain(&self) {
        loop {
            self.wake();
            let idle = self.lock_in_flight().is_empty();
            if idle && self.store.outbox_is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The most recent delivery attempts, newest last.
    pub fn recent_attempts(&self) -> Vec<Attempt> {
        self.history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.config.time_scale.max(0.0))
    }

    /// Lambda waits 1 minute after the first failure and 2 after the second.
    fn backoff(&self, failed_attempts: u32) -> Duration {
        self.scaled(Duration::from_secs(
            60 * u64::from(failed_attempts.clamp(1, 2)),
        ))
    }

    /// Starts deliveries for every due record; returns how long until the next one is due.
    /// Reads only the records [`Candidates`] names (plus, once a second, a batch of the
    /// outbox's sequence numbers), so a backlog does not make each pass longer.
    fn dispatch_due(self: &Arc<Self>) -> StorageResult<Duration> {
        let now = now_ms();
        let full_pass_from = self
            .lock_candidates()
            .full_pass_from(now, FULL_PASS_EVERY.as_millis() as i64);
        if let Some(from) = full_pass_from {
            let mut seqs = self.store.outbox_seqs(from, SCAN_BATCH)?;
            let stopped_after = seqs.last().copied().filter(|_| seqs.len() == SCAN_BATCH);
            seqs.retain(|seq| !self.lock_in_flight().contains(seq));
            let mut candidates = self.lock_candidates();
            candidates.found(&seqs);
            candidates.full_pass_done(now, stopped_after);
        }
        let due = self.lock_candidates().due_now(now);
        for seq in due {
            if self.lock_in_flight().contains(&seq) {
                continue; // its failed attempt just named its retry time; looked at once it ends
            }
            if !self.store.event_is_durable(seq) {
                continue; // the request that made it wakes us after its flush
            }
            if self.permits.available_permits() == 0 {
                break; // all delivery slots busy: a finishing delivery wakes us
            }
            let Some(value) = self.store.outbox_get(seq)? else {
                self.lock_candidates().forget(seq); // delivered or dead meanwhile
                continue;
            };
            let Some(record) = OutboxRecord::decode(&value) else {
                tracing::error!(
                    seq,
                    "undecodable outbox record; moving it to the dead letters"
                );
                self.store
                    .outbox_to_dead_letters(&OutboxEntry { seq, value })?;
                self.lock_candidates().forget(seq);
                continue;
            };
            if record.next_attempt_ms > now {
                self.lock_candidates().look_at(seq, record.next_attempt_ms);
                continue;
            }
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break;
            };
            self.lock_candidates().forget(seq);
            self.lock_in_flight().insert(seq);
            let me = self.clone();
            let span = tracing::info_span!("deliver", seq, request_id = %record.request_id, target = %record.target, attempt = record.attempts + 1);
            tokio::spawn(
                async move {
                    me.deliver(seq, record).await;
                    drop(permit);
                    me.lock_in_flight().remove(&seq);
                    me.wake();
                }
                .instrument(span),
            );
        }
        let next = self.lock_candidates().next_due_after(now);
        Ok(next.map_or(IDLE_SCAN, |due| until(now, due).min(IDLE_SCAN)))
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_candidates(&self) -> std::sync::MutexGuard<'_, Candidates> {
        self.candidates.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn deliver(&self, seq: u64, mut record: OutboxRecord) {
        let attempt = record.attempts + 1;
        let started = Instant::now();
        let (handler_name, result) = match self.registry.resolve(&record.target) {
            None => (
                record.target.clone(),
                Err(format!("no handler is registered for {}", record.target)),
            ),
            Some((name, handler)) => {
                let invocation = Invocation {
                    function: name.clone(),
                    json: record.json.clone(),
                    attempt,
                };
                let result = match tokio::time::timeout(
                    self.config.handler_timeout,
                    handler.invoke(invocation),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => Err(format!("timed out after {:?}", self.config.handler_timeout)),
                };
                (name, result)
            }
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let outcome = match &result {
            Ok(()) => "delivered",
            Err(_) => "failed",
        };
        match &result {
            Ok(()) => tracing::info!(handler = %handler_name, latency_ms, "event delivered"),
            Err(e) => {
                tracing::warn!(handler = %handler_name, latency_ms, error = %e, "event delivery failed")
            }
        }
        self.remember(Attempt {
            seq,
            handler: handler_name,
            event_name: record.event_name.clone(),
            request_id: record.request_id.clone(),
            attempt,
            latency_ms,
            outcome,
            error: result.clone().err(),
            at_ms: now_ms(),
        });
        let stored = match result {
            Ok(()) => {
                self.remember_delivered(seq, &record);
                self.store.outbox_remove(seq)
            }
            Err(error) => {
                record.attempts = attempt;
                record.last_error = Some(error);
                let age = Duration::from_millis((now_ms() - record.created_ms).max(0) as u64);
                let entry_for = |r: &OutboxRecord| OutboxEntry {
                    seq,
                    value: r.encode(),
                };
                if attempt > self.config.max_retry_attempts
                    || age > self.scaled(self.config.max_event_age)
                {
                    tracing::error!(seq, attempts = attempt, "event moved to the dead letters");
                    self.store.outbox_to_dead_letters(&entry_for(&record))
                } else {
                    record.next_attempt_ms = now_ms() + self.backoff(attempt).as_millis() as i64;
                    let updated = self.store.outbox_update(&entry_for(&record));
                    self.lock_candidates().look_at(seq, record.next_attempt_ms);
                    updated
                }
            }
        };
        if let Err(e) = stored {
            tracing::error!(seq, error = %e, "could not record the delivery outcome; the event will be delivered again");
        }
    }

    fn remember_delivered(&self, seq: u64, record: &OutboxRecord) {
        let mut delivered = self.delivered.lock().unwrap_or_else(|e| e.into_inner());
        if delivered.len() == HISTORY {
            delivered.pop_front();
        }
        delivered.push_back((seq, record.clone()));
    }

    /// Undelivered records (waiting or being retried), oldest first.
    pub fn pending(&self, limit: usize) -> StorageResult<Vec<(u64, OutboxRecord)>> {
        Ok(decoded(self.store.outbox_after(None, limit)?))
    }

    pub fn dead_letters(&self, limit: usize) -> StorageResult<Vec<(u64, OutboxRecord)>> {
        Ok(decoded(self.store.dead_letters(limit)?))
    }

    /// Puts dead letters back for delivery (all of them, or one), with fresh attempt counts.
    pub fn redrive(&self, only: Option<u64>) -> StorageResult<usize> {
        let mut count = 0;
        for (seq, mut record) in self.dead_letters(usize::MAX)? {
            if only.is_some_and(|s| s != seq) {
                continue;
            }
            record.attempts = 0;
            record.next_attempt_ms = now_ms();
            record.created_ms = now_ms();
            if self.store.redrive(seq, &record.encode())? {
                self.lock_candidates().look_at(seq, 0);
                count += 1;
            }
        }
        self.wake();
        Ok(count)
    }

    /// Delivers an event again: a recently delivered, pending or dead one, found by sequence.
    pub fn replay(&self, seq: u64) -> StorageResult<Option<u64>> {
        let recent = self
            .delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(s, _)| *s == seq)
            .cloned();
        let found = match recent {
            Some(found) => Some(found),
            None => self
                .dead_letters(usize::MAX)?
                .into_iter()
                .chain(self.pending(usize::MAX)?)
                .find(|(s, _)| *s == seq),
        };
        let Some((_, mut record)) = found else {
            return Ok(None);
        };
        record.attempts = 0;
        record.last_error = None;
        record.created_ms = now_ms();
        record.next_attempt_ms = now_ms();
        let new_seq = self.store.next_sequence()?;
        self.store.outbox_insert(&[OutboxEntry {
            seq: new_seq,
            value: record.encode(),
        }])?;
        self.recorded(&[new_seq]);
        self.wake();
        Ok(Some(new_seq))
    }

    fn remember(&self, attempt: Attempt) {
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(attempt);
    }
}
