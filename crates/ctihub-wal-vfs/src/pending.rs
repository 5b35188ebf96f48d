//! The log's appends gathered until they must reach the file: when a commit frame is complete,
//! before anything else is done with the log, and when they grow large.
//!
//! Safe code, apart from the file it writes to: the rules of when to write live here and are
//! tested against a plain byte vector.

/// A log frame's header: page number, commit size (0 except in a transaction's last frame),
/// the log's two salts and the two checksums, eight bytes each pair. SQLite writes it with one
/// call and the page after it with another.
pub(crate) const FRAME_HEADER: usize = 24;

/// Gathered bytes are written at the latest once this many are waiting. A ledger batch writes
/// about 60 frames (250 KB); bigger transactions are written in several pieces, in order.
const LIMIT: usize = 4 << 20;

/// Where gathered bytes go: the log file underneath. `Err` holds SQLite's result code.
pub(crate) trait Sink {
    fn write_at(&mut self, bytes: &[u8], offset: i64) -> Result<(), i32>;
}

/// Appends to the log not yet written to its file, all contiguous from `start`.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    bytes: Vec<u8>,
    start: i64,
    /// The last append was a commit frame's header: its page ends the transaction.
    commit_page_next: bool,
}

impl Pending {
    fn end(&self) -> i64 {
        self.start + self.bytes.len() as i64
    }

    /// SQLite writes `bytes` at `offset`. Appends are gathered; anything else writes what was
    /// gathered first, so the file sees every write in SQLite's order. A transaction's commit
    /// frame is written before this returns, so a failure to write it fails the commit.
    pub(crate) fn write(&mut self, sink: &mut impl Sink, bytes: &[u8], offset: i64) -> Result<(), i32> {
        if !self.bytes.is_empty() && offset != self.end() {
            self.flush(sink)?;
        }
        if self.bytes.is_empty() {
            self.start = offset;
        }
        self.bytes.extend_from_slice(bytes);
        let commit_header = bytes.len() == FRAME_HEADER && bytes[4..8] != [0; 4];
        let commit_complete = self.commit_page_next && !commit_header;
        self.commit_page_next = commit_header;
        if commit_complete || self.bytes.len() >= LIMIT {
            return self.flush(sink);
        }
        Ok(())
    }

    /// Write everything gathered. On failure it is dropped, as after a failed `pwrite`: SQLite
    /// rolls the transaction back and writes its frames again in the next one.
    pub(crate) fn flush(&mut self, sink: &mut impl Sink) -> Result<(), i32> {
        self.commit_page_next = false;
        if self.bytes.is_empty() {
            return Ok(());
        }
        let written = sink.write_at(&self.bytes, self.start);
        self.bytes.clear();
        written
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in memory that counts its writes.
    #[derive(Default)]
    struct Memory {
        bytes: Vec<u8>,
        writes: usize,
        fail: bool,
    }

    impl Sink for Memory {
        fn write_at(&mut self, bytes: &[u8], offset: i64) -> Result<(), i32> {
            if self.fail {
                return Err(778);
            }
            let offset = offset as usize;
            if self.bytes.len() < offset + bytes.len() {
                self.bytes.resize(offset + bytes.len(), 0);
            }
            self.bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
            self.writes += 1;
            Ok(())
        }
    }

    fn header(commit: bool) -> [u8; FRAME_HEADER] {
        let mut h = [7u8; FRAME_HEADER];
        h[4..8].copy_from_slice(if commit { &[0, 0, 0, 9] } else { &[0; 4] });
        h
    }

    const PAGE: usize = 512;

    /// Frames of a transaction from `offset`, the last one its commit frame.
    fn transaction(pending: &mut Pending, file: &mut Memory, offset: i64, frames: usize, fill: u8) -> i64 {
        let mut at = offset;
        for n in 0..frames {
            pending.write(file, &header(n + 1 == frames), at).unwrap();
            pending.write(file, &[fill; PAGE], at + FRAME_HEADER as i64).unwrap();
            at += (FRAME_HEADER + PAGE) as i64;
        }
        at
    }

    #[test]
    fn a_transaction_reaches_the_file_in_one_write_when_its_commit_frame_is_complete() {
        let (mut pending, mut file) = (Pending::default(), Memory::default());
        pending.write(&mut file, &[1; 32], 0).unwrap();
        let end = transaction(&mut pending, &mut file, 32, 5, 3);
        assert!(pending.is_empty());
        assert_eq!(file.writes, 1);
        assert_eq!(file.bytes.len() as i64, end);
        assert_eq!(&file.bytes[..32], &[1; 32]);
        assert_eq!(&file.bytes[32 + FRAME_HEADER..32 + FRAME_HEADER + PAGE], &[3; PAGE]);

        transaction(&mut pending, &mut file, end, 3, 4);
        assert_eq!(file.writes, 2);
    }

    #[test]
    fn frames_before_the_commit_wait_and_a_write_elsewhere_writes_them_first() {
        let (mut pending, mut file) = (Pending::default(), Memory::default());
        pending.write(&mut file, &header(false), 0).unwrap();
        pending.write(&mut file, &[5; PAGE], FRAME_HEADER as i64).unwrap();
        assert_eq!(file.writes, 0, "an unfinished transaction waits");
        // A page of this transaction written again in place (SQLite does so after a cache spill).
        pending.write(&mut file, &[6; PAGE], FRAME_HEADER as i64).unwrap();
        assert_eq!(file.writes, 1, "what was gathered went first");
        pending.flush(&mut file).unwrap();
        assert_eq!(file.writes, 2);
        assert_eq!(&file.bytes[FRAME_HEADER..], &[6; PAGE], "in SQLite's order");
    }

    #[test]
    fn a_large_transaction_is_written_in_pieces_in_order() {
        let (mut pending, mut file) = (Pending::default(), Memory::default());
        let frames = LIMIT / (FRAME_HEADER + PAGE) * 2 + 3;
        let end = transaction(&mut pending, &mut file, 0, frames, 8);
        assert_eq!(file.writes, 3);
        assert_eq!(file.bytes.len() as i64, end);
        assert!(file.bytes.chunks(FRAME_HEADER + PAGE).all(|f| f[FRAME_HEADER..] == [8; PAGE]));
    }

    #[test]
    fn a_failed_write_is_reported_by_the_commit_and_leaves_nothing_behind() {
        let (mut pending, mut file) = (Pending::default(), Memory::default());
        pending.write(&mut file, &header(true), 0).unwrap();
        file.fail = true;
        assert_eq!(pending.write(&mut file, &[1; PAGE], FRAME_HEADER as i64), Err(778));
        assert!(pending.is_empty());
        file.fail = false;
        transaction(&mut pending, &mut file, 0, 1, 2);
        assert_eq!(file.writes, 1);
        assert_eq!(file.bytes.len(), FRAME_HEADER + PAGE);
    }
}
