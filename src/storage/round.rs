//! Durability rounds (group commit), for stores that sync their writes. One round at a time
//! (`flush_gate`) takes every commit of a small body queued meanwhile: it appends their
//! bodies and the commits in one frame to the body log and syncs it, then makes the commits,
//! alone among object commits, and stores where the frame ends (see `frames`). The frame
//! is what makes them durable; sled is flushed only when something else needs it: a
//! `make_durable` caller, a conditional commit, events of other commits, a commit that failed.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use tokio::sync::oneshot::error::TryRecvError;

use super::body_log::{crc32, LOG_MIN};
use super::frames::{self, FrameBuilder, LogPosition, LoggedCommit, PlacedFrame, Unapplied};
use super::records::{BodyRef, ObjectRecord};
use super::{
    blocking, CommitCondition, Durability, NewBody, ObjectCommit, OutboxEntry, StorageError,
    StorageResult, Store,
};

/// Commits per round at most: bounds a frame (≤ 4 KiB body, a record and its events each)
/// well below a log segment, which replay would not read past.
const ROUND_MAX: usize = 512;

/// A commit waiting for the next round; its record's body is still inline.
pub(crate) struct QueuedCommit {
    bucket: String,
    key: String,
    record: ObjectRecord,
    condition: CommitCondition,
    events: Vec<OutboxEntry>,
    reply: tokio::sync::oneshot::Sender<StorageResult<ObjectCommit>>,
}

type Reply = (
    tokio::sync::oneshot::Sender<StorageResult<ObjectCommit>>,
    StorageResult<ObjectCommit>,
);

/// What a round's commits leave to do: the answers to send, once durable.
struct RoundCommits {
    replies: Vec<Reply>,
    /// Whether sled must be flushed before the answers (else the frame's sync did it all).
    needs_flush: bool,
    /// The `make_durable` writes, and the held events, that finished before the commits ended.
    covers: u64,
    events: Vec<u64>,
}

impl Store {
    /// Whether `record`'s body goes to the body log through [`Store::commit_logged`]: an
    /// inline body big enough to be worth it, in a store that syncs its writes.
    pub fn logs_body(&self, record: &ObjectRecord, body: &NewBody) -> bool {
        matches!(body, NewBody::Inline)
            && matches!(&record.body, BodyRef::Inline(data) if data.len() >= LOG_MIN)
            && self.durability() == Durability::Sync
    }

    /// Commits `record` (its inline body goes to the body log) and its events, durably, in
    /// the next round. (A sync of each writer's body before the commit cost a second group
    /// wait and, in small groups, ~20 µs of CPU per 4 KiB PUT.)
    pub async fn commit_logged(
        &self,
        bucket: &str,
        key: &str,
        record: ObjectRecord,
        condition: CommitCondition,
        events: Vec<OutboxEntry>,
    ) -> StorageResult<ObjectCommit> {
        let (reply, mut outcome) = tokio::sync::oneshot::channel();
        self.inner
            .logged_commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(QueuedCommit {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                record,
                condition,
                events,
                reply,
            });
        loop {
            // Waits for the answer beside the gate: a writer whose commit a round took leaves
            // the gate's queue as soon as it is answered, rather than taking the gate in its
            // turn only to find its commit done (under load, a chain of such hand-offs idled
            // the rounds).
            let _one_round = tokio::select! {
                biased;
                done = &mut outcome => return done.unwrap_or_else(|_| Err(lost_commit())),
                gate = self.inner.flush_gate.lock() => gate,
            };
            if let Ok(done) = outcome.try_recv() {
                return done; // answered as the gate came
            }
            let round = self.durability_round().await;
            match outcome.try_recv() {
                Ok(done) => return done,
                Err(TryRecvError::Closed) => return Err(round.err().unwrap_or_else(lost_commit)),
                Err(TryRecvError::Empty) => {} // left for the next round (a full frame)
            }
        }
    }

    /// Makes every change committed so far durable when the store runs with
    /// `Durability::Sync`. Group commit: one round runs at a time and its flush covers every
    /// write that finished before it started, so concurrent writers share flushes. (Many
    /// concurrent `flush_async` calls also fill sled's IO thread pool with flushes waiting on
    /// its global lock while a transaction waits for them: a deadlock seen under 32
    /// concurrent PUTs.)
    pub async fn make_durable(&self) -> StorageResult<()> {
        if self.durability() != Durability::Sync {
            return Ok(());
        }
        let ticket = self.inner.writes_done.fetch_add(1, Ordering::SeqCst) + 1;
        let _one_round = self.inner.flush_gate.lock().await;
        if self.inner.flushed_upto.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        self.durability_round().await
    }

    /// One round, run by a caller holding `flush_gate`.
    async fn durability_round(&self) -> StorageResult<()> {
        let queued = {
            let mut waiting = self
                .inner
                .logged_commits
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let taken = waiting.len().min(ROUND_MAX);
            let rest = waiting.split_off(taken);
            std::mem::replace(&mut *waiting, rest)
        };
        let store = self.clone();
        blocking(move || {
            let round = store.commit_round(queued);
            let durable = if round.needs_flush {
                store.flush_for_round(round.covers)
            } else {
                Ok(())
            };
            if durable.is_ok() {
                // Before the replies: a writer told its commit is durable may hand its
                // events to the dispatcher at once, and must find them durable.
                store.inner.unflushed_events.flushed(&round.events);
            }
            for (reply, outcome) in round.replies {
                let outcome = match (outcome, &durable) {
                    (Ok(ObjectCommit::Done(_)), Err(e)) => Err(round_failed(e)),
                    (outcome, _) => outcome,
                };
                let _ = reply.send(outcome); // the writer may be gone (client disconnected)
            }
            durable
        })
        .await
    }

    fn flush_for_round(&self, covers: u64) -> StorageResult<()> {
        self.inner.db.flush()?;
        self.inner.flushed_upto.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }

    /// Writes and syncs the frame of `queued`, then makes their commits.
    fn commit_round(&self, mut queued: Vec<QueuedCommit>) -> RoundCommits {
        if queued.is_empty() {
            // A `make_durable` round: sled's flush is all it is for.
            return RoundCommits {
                replies: Vec::new(),
                needs_flush: true,
                covers: self.inner.writes_done.load(Ordering::SeqCst),
                events: self.inner.unflushed_events.finished(),
            };
        }
        let mut frame = FrameBuilder::default();
        for q in &mut queued {
            if let BodyRef::Inline(data) = &q.record.body {
                let relative = frame.add_body(data, crc32(data));
                q.record.body = BodyRef::Logged(relative);
            }
            // A condition may hold on a change sled has not flushed, which a replay after a
            // crash would not find: such commits are flushed instead of replayed.
            if replayable(&q.condition) {
                frame.add_entry(LoggedCommit::new(&q.bucket, &q.key, &q.record, &q.events));
            }
        }
        let appended = self.append_frame(&frame);
        let unsynced = match &appended {
            Ok(_) => self.inner.body_log.sync_now().err(),
            Err(_) => None,
        };
        let _alone = self.commit_alone();
        let mut replies = Vec::with_capacity(queued.len());
        // A frame not synced, or a replayable commit that did not happen, must never be
        // replayed; a conditional commit that happened must be durable without a replay.
        let mut needs_flush = unsynced.is_some();
        for mut q in queued {
            let outcome = match (&appended, &unsynced) {
                (Ok((placed, _)), None) => {
                    placed.place_record(&mut q.record);
                    self.commit_object(
                        &q.bucket,
                        &q.key,
                        &q.record,
                        NewBody::Inline,
                        &q.condition,
                        &q.events,
                    )
                }
                (Err(e), _) | (_, Some(e)) => Err(round_failed(e)),
            };
            needs_flush |= match &outcome {
                Ok(ObjectCommit::Done(_)) => !replayable(&q.condition),
                _ => replayable(&q.condition) && appended.is_ok(),
            };
            replies.push((q.reply, outcome));
        }
        if let Ok((_, end)) = &appended {
            let stored = end
                .encode()
                .and_then(|v| Ok(self.inner.meta.insert(frames::WATERMARK, v)?));
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not store the log position; flushing sled");
                needs_flush = true;
            }
        }
        let inner = &self.inner;
        let covers = inner.writes_done.load(Ordering::SeqCst);
        let events = inner.unflushed_events.finished();
        let in_frame: HashSet<u64> = frame
            .entries()
            .iter()
            .flat_map(|e| e.events.iter().map(|(seq, _)| *seq))
            .collect();
        needs_flush |= covers > inner.flushed_upto.load(Ordering::SeqCst)
            || events.iter().any(|seq| !in_frame.contains(seq));
        RoundCommits {
            replies,
            needs_flush,
            covers,
            events,
        }
    }

    /// Appends `frame` to the body log (not synced); returns it as placed and where it ends.
    fn append_frame(&self, frame: &FrameBuilder) -> StorageResult<(PlacedFrame, LogPosition)> {
        let built = frame.build()?;
        let pending = self
            .inner
            .body_log
            .append(&built.bytes, || Ok(self.inner.db.generate_id()?))?;
        let at = pending.logged();
        let end = LogPosition {
            segment: at.segment,
            offset: at.offset + u64::from(at.len),
        };
        Ok((built.placed(pending), end))
    }

    /// Start-up: makes again, in order, the commits of the frames sled had not applied
    /// (`unapplied`), then stores where they end (or `fresh`, where a store that stored no
    /// position yet starts its frames) and flushes.
    pub(crate) fn replay_log(
        &self,
        unapplied: Unapplied,
        fresh: Option<LogPosition>,
    ) -> StorageResult<()> {
        let mut replayed = 0;
        for entry in &unapplied.entries {
            let outcome = self.commit_object(
                &entry.bucket,
                &entry.key,
                &entry.record,
                NewBody::Inline,
                &CommitCondition::None,
                &entry.outbox_entries(),
            )?;
            match outcome {
                ObjectCommit::Done(_) => replayed += 1,
                // Only a commit never answered can meet a bucket deleted since.
                other => tracing::warn!(
                    bucket = entry.bucket,
                    key = entry.key,
                    ?other,
                    "a logged commit was not made again"
                ),
            }
        }
        let Some(position) = unapplied.end.or(fresh) else {
            return Ok(());
        };
        self.inner
            .meta
            .insert(frames::WATERMARK, position.encode()?)?;
        self.inner.db.flush()?;
        let held = &self.inner.unflushed_events;
        held.flushed(&held.finished());
        if replayed > 0 {
            tracing::info!(replayed, "commits made again from the body log");
        }
        Ok(())
    }
}

/// Whether a commit may be made again from its frame after a crash (see `commit_round`).
fn replayable(condition: &CommitCondition) -> bool {
    matches!(condition, CommitCondition::None)
}

fn lost_commit() -> StorageError {
    StorageError::Corrupt("a durability round lost a queued commit".into())
}

fn round_failed(e: &StorageError) -> StorageError {
    StorageError::Io(std::io::Error::other(format!(
        "durability round failed: {e}"
    )))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::storage::keys::object_key;
    use crate::storage::{reopen, BucketRecord, StoreOptions};

    fn options() -> StoreOptions {
        StoreOptions {
            // What sled holds on disk is then only what a flush put there.
            sled_flush_every_ms: None,
            ..StoreOptions::default()
        }
    }

    fn record(data: &[u8]) -> ObjectRecord {
        ObjectRecord {
            size: data.len() as u64,
            etag: format!("{}", data[0]),
            last_modified_ms: 0,
            content_headers: vec![],
            user_metadata: vec![],
            checksum: None,
            body: BodyRef::Inline(data.to_vec()),
        }
    }

    async fn put(store: &Store, key: &str, fill: u8, events: Vec<OutboxEntry>) {
        let data = vec![fill; 2000];
        let outcome = store
            .commit_logged("b", key, record(&data), CommitCondition::None, events)
            .await
            .unwrap();
        assert!(matches!(outcome, ObjectCommit::Done(_)), "{key}");
    }

    /// The fill byte of `key`'s body, checked whole.
    fn body_of(store: &Store, key: &str) -> Option<u8> {
        let record = store.object("b", key).unwrap()?;
        let BodyRef::Logged(logged) = record.body else {
            panic!("{key}: not logged");
        };
        let data = store.read_logged(&logged).unwrap();
        assert!(
            data.len() == 2000 && data.iter().all(|b| *b == data[0]),
            "{key}"
        );
        Some(data[0])
    }

    /// The files as a process killed now would leave them (the page cache survives it).
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy_dir(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }

    fn bucket() -> BucketRecord {
        BucketRecord {
            created_ms: 0,
            region: "us-east-1".into(),
            notification: None,
        }
    }

    /// A store in `dir` with bucket "b".
    fn store_with_bucket(dir: &Path) -> Store {
        let store = Store::open(dir, options()).unwrap();
        store.create_bucket("b", &bucket()).unwrap();
        store
    }

    #[test]
    fn a_round_committing_alone_looks_a_bucket_up_once_and_forgets_it_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_bucket(dir.path());
        {
            let _alone = store.commit_alone();
            assert!(store.bucket_exists_for_commit("b").unwrap());
            assert!(!store.bucket_exists_for_commit("late").unwrap());
            // Creating a bucket takes no lock: one not found before may exist now.
            store.create_bucket("late", &bucket()).unwrap();
            assert!(store.bucket_exists_for_commit("late").unwrap());
            // Known for the rest of the round without a lookup.
            store.inner.buckets.remove("b").unwrap();
            assert!(store.bucket_exists_for_commit("b").unwrap());
        }
        assert!(
            !store.bucket_exists_for_commit("b").unwrap(),
            "outside the round every commit looks again"
        );
    }

    #[tokio::test]
    async fn answered_commits_sled_did_not_flush_are_made_again_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_bucket(dir.path());
        store.make_durable().await.unwrap();
        put(&store, "a", 1, vec![]).await;
        put(&store, "gone", 2, vec![]).await;
        let event = OutboxEntry {
            seq: store.next_sequence().unwrap(),
            value: b"an event".to_vec(),
        };
        put(&store, "with-event", 3, vec![event.clone()]).await;
        put(&store, "a", 4, vec![]).await;
        // A delete answered after a flush: the replay must not bring "gone" back.
        store.delete_object("b", "gone", &[]).unwrap();
        store.make_durable().await.unwrap();
        put(&store, "late", 5, vec![]).await;
        put(&store, "a", 6, vec![]).await;

        let crashed = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), crashed.path());
        {
            let db = sled::open(crashed.path().join("db")).unwrap();
            let objects = db.open_tree("objects").unwrap();
            assert!(
                objects.get(object_key("b", "late")).unwrap().is_none(),
                "sled alone lost the last commits"
            );
        }
        let reopened = reopen(crashed.path(), options());
        assert_eq!(body_of(&reopened, "a"), Some(6));
        assert_eq!(body_of(&reopened, "late"), Some(5));
        assert_eq!(body_of(&reopened, "with-event"), Some(3));
        assert_eq!(body_of(&reopened, "gone"), None);
        assert_eq!(reopened.outbox_get(event.seq).unwrap(), Some(event.value));
        assert_eq!(
            reopened.body_log_usage().1,
            3 * 2000,
            "live: a, late, with-event"
        );
        drop(reopened);

        // Once replayed and flushed, a second start-up finds nothing more to do.
        let again = reopen(crashed.path(), options());
        assert_eq!(body_of(&again, "a"), Some(6));
        assert_eq!(again.body_log_usage().1, 3 * 2000);
    }
}
