//! Which outbox records the dispatcher looks at, and from when. A pass reads only these
//! instead of walking the outbox: under a backlog (a handler down, or slow during a bulk
//! upload) the walk cost every commit and every finished delivery a read of up to a thousand
//! records. Commits, failed attempts and re-drives say what to look at; a periodic full pass
//! over the outbox adds whatever else is there (what a restart left, or anything missed).

use std::collections::BTreeMap;

/// Records tracked at most; past that, a record waits for a full pass with room to spare.
const MAX_TRACKED: usize = 65_536;

#[derive(Default)]
pub(super) struct Candidates {
    /// seq → the time (ms since the epoch) from which the record is worth reading; 0: now.
    due: BTreeMap<u64, i64>,
    /// None until the first full pass (at start-up).
    last_full_pass_ms: Option<i64>,
    /// Where the next full pass starts: an outbox longer than one batch is walked in turns.
    full_pass_from: u64,
}

impl Candidates {
    /// Look at `seq` from `due_ms` on (0: at once), whatever was known of it before.
    pub(super) fn look_at(&mut self, seq: u64, due_ms: i64) {
        if self.due.len() < MAX_TRACKED || self.due.contains_key(&seq) {
            self.due.insert(seq, due_ms);
        }
    }

    /// Records a full pass found in the outbox (none of them in flight): the new ones are
    /// looked at once; a known retry time is kept.
    pub(super) fn found(&mut self, seqs: &[u64]) {
        for &seq in seqs {
            if self.due.len() < MAX_TRACKED {
                self.due.entry(seq).or_insert(0);
            }
        }
    }

    /// A full pass ended at `now_ms`; the next one starts after `stopped_after` (the last
    /// record read when the batch ended before the outbox did), or from the start.
    pub(super) fn full_pass_done(&mut self, now_ms: i64, stopped_after: Option<u64>) {
        self.last_full_pass_ms = Some(now_ms);
        self.full_pass_from = stopped_after.map_or(0, |seq| seq + 1);
    }

    /// Where a full pass should start, if one is due (every `every_ms`, and at start-up).
    pub(super) fn full_pass_from(&self, now_ms: i64, every_ms: i64) -> Option<u64> {
        let due = self
            .last_full_pass_ms
            .is_none_or(|last| now_ms - last >= every_ms);
        due.then_some(self.full_pass_from)
    }

    /// The records worth reading now, oldest first.
    pub(super) fn due_now(&self, now_ms: i64) -> Vec<u64> {
        self.due
            .iter()
            .filter(|(_, &due)| due <= now_ms)
            .map(|(&seq, _)| seq)
            .collect()
    }

    /// The earliest time after `now_ms` at which a record becomes worth reading.
    pub(super) fn next_due_after(&self, now_ms: i64) -> Option<i64> {
        self.due.values().copied().filter(|&due| due > now_ms).min()
    }

    /// Stop tracking `seq` (started, delivered, or gone from the outbox).
    pub(super) fn forget(&mut self, seq: u64) {
        self.due.remove(&seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_due_from_their_time_and_a_full_pass_keeps_known_retry_times() {
        let mut c = Candidates::default();
        c.look_at(7, 0);
        c.look_at(3, 5_000);
        assert_eq!(c.due_now(1_000), vec![7]);
        assert_eq!(c.next_due_after(1_000), Some(5_000));
        c.found(&[3, 7, 9]);
        assert_eq!(c.due_now(1_000), vec![7, 9], "3 keeps its retry time");
        assert_eq!(c.due_now(5_000), vec![3, 7, 9]);
        c.look_at(3, 0);
        c.forget(7);
        assert_eq!(c.due_now(1_000), vec![3, 9]);
        assert_eq!(c.next_due_after(1_000), None);
    }

    #[test]
    fn full_passes_run_periodically_and_walk_a_long_outbox_in_turns() {
        let mut c = Candidates::default();
        assert_eq!(c.full_pass_from(10, 1_000), Some(0), "at start-up");
        c.found(&[1, 2, 3]);
        c.full_pass_done(10, Some(3));
        assert_eq!(c.full_pass_from(500, 1_000), None);
        assert_eq!(c.full_pass_from(1_010, 1_000), Some(4), "resumes after 3");
        c.found(&[4]);
        c.full_pass_done(1_010, None);
        assert_eq!(c.full_pass_from(2_010, 1_000), Some(0), "starts over");
    }

    #[test]
    fn tracking_is_bounded() {
        let mut c = Candidates::default();
        let seqs: Vec<u64> = (0..MAX_TRACKED as u64 + 10).collect();
        c.found(&seqs);
        assert_eq!(c.due.len(), MAX_TRACKED);
        c.look_at(u64::MAX, 0);
        assert_eq!(c.due.len(), MAX_TRACKED, "no room: left for a later pass");
        c.look_at(0, 42);
        assert_eq!(
            c.due.get(&0),
            Some(&42),
            "a tracked record can still be updated"
        );
    }
}
