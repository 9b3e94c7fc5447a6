//! Duplicate stop ids in bounded memory.
//!
//! A stop id is a duplicate when an earlier *valid* row had the same id; the
//! first valid occurrence is kept. Ids are compared by their 128-bit XXH3
//! hash (a collision among 10^12 ids has a probability below 10^-14).
//!
//! Up to [`IdLimits::in_memory`] distinct ids are kept in memory, so duplicates
//! are known at once. Past the budget the hashes are **spilled**:
//! appended, in file order, to one of [`PARTITIONS`] temporary files chosen
//! by hash, and memory stays flat. At the end each partition is checked on
//! its own (its ids in a hash set sized for it, or, past [`IdLimits::checked_at_once`]
//! hashes, in shares of the partition read one after another). If that finds duplicates
//! the caller reads the data again, this time knowing which rows are
//! duplicates by their (partition, position) — the same in both passes,
//! because validation and partitioning do not depend on threads. Data with
//! no late duplicates is read once.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use foldhash::{HashMap, HashSet};
use rayon::prelude::*;

use crate::validate::CheckedBatch;
use stopaudit_core::error::{Error, Result};

/// Shards of the in-memory set (smaller tables to grow).
const SHARDS: usize = 16;
/// Spill partitions.
pub(crate) const PARTITIONS: usize = 256;
/// Hashes buffered per partition before writing.
const BUFFERED: usize = 4096;
/// How much of the duplicate check is held in memory. The defaults suit
/// any input; the binary lets tests and tuning set them
/// (`STOPAUDIT_ID_MEMORY`, `STOPAUDIT_CHECK_IDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdLimits {
    /// Distinct ids kept in memory before spilling: 2 million (about 40 MB).
    pub in_memory: usize,
    /// Spilled hashes checked at once: 2^19 (one hash set, about 17 MB); a
    /// larger partition is checked in shares. At least 1.
    pub checked_at_once: u64,
}

impl Default for IdLimits {
    fn default() -> Self {
        IdLimits {
            in_memory: 2_000_000,
            checked_at_once: 1 << 19,
        }
    }
}

/// A batch's valid rows with a stop id, grouped by spill partition (in row
/// order within each): `(hash, row)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdBuckets {
    entries: Vec<(u128, u32)>,
    /// `entries[starts[p]..starts[p + 1]]` is partition `p`.
    starts: Vec<usize>,
}

impl IdBuckets {
    /// Groups the stop ids of a checked batch's valid rows (a counting sort).
    pub fn of(checked: &CheckedBatch) -> Self {
        let ids = || {
            checked
                .stop_id
                .iter()
                .enumerate()
                .filter(|(i, _)| checked.rejections[*i].is_none())
                .filter_map(|(i, id)| id.map(|h| (h, i as u32)))
        };
        let mut starts = vec![0usize; PARTITIONS + 1];
        for (h, _) in ids() {
            starts[partition_of(h) + 1] += 1;
        }
        for p in 0..PARTITIONS {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut entries = vec![(0u128, 0u32); starts[PARTITIONS]];
        for (h, i) in ids() {
            let p = partition_of(h);
            entries[next[p]] = (h, i);
            next[p] += 1;
        }
        IdBuckets { entries, starts }
    }

    fn bucket(&self, p: usize) -> &[(u128, u32)] {
        &self.entries[self.starts[p]..self.starts[p + 1]]
    }
}

/// Rows found to be duplicates only after a first pass: per partition, the
/// positions of the duplicate hashes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LateDuplicates {
    positions: HashMap<usize, HashSet<u64>>,
    pub count: u64,
}

pub(crate) struct StopIds {
    budget: usize,
    /// [`IdLimits::checked_at_once`].
    checked_at_once: u64,
    memory: Vec<HashSet<u128>>,
    in_memory: usize,
    spill: Option<Spill>,
    /// Second pass: the late duplicates found by the first.
    known: Option<LateDuplicates>,
}

struct Spill {
    dir: Option<PathBuf>,
    /// Records per partition so far.
    counts: Vec<u64>,
    /// Hashes not yet written, as little-endian bytes.
    buffers: Vec<Vec<u8>>,
    files: Vec<Option<BufWriter<File>>>,
}

fn partition_of(h: u128) -> usize {
    ((h >> 64) as usize) % PARTITIONS
}

impl Default for StopIds {
    fn default() -> Self {
        Self::new(IdLimits::default())
    }
}

impl StopIds {
    /// A first pass.
    pub fn new(limits: IdLimits) -> Self {
        StopIds {
            budget: limits.in_memory,
            checked_at_once: limits.checked_at_once.max(1),
            memory: (0..SHARDS).map(|_| HashSet::default()).collect(),
            in_memory: 0,
            spill: None,
            known: None,
        }
    }

    /// A second pass that knows the late duplicates.
    pub(crate) fn knowing(late: LateDuplicates, limits: IdLimits) -> Self {
        StopIds {
            known: Some(late),
            ..Self::new(limits)
        }
    }

    /// Rows of a batch (indices) that are duplicates, as far as known now.
    /// `ids` are the batch's valid rows grouped by partition
    /// ([`IdBuckets::of`], made off the ordered path).
    pub fn check(&mut self, ids: &IdBuckets) -> Result<HashSet<u32>> {
        let mut found = HashSet::default();
        if self.spill.is_none() {
            // Each id's repeats are in its own bucket, in row order.
            for &(h, row) in &ids.entries {
                if !self.memory[(h as usize) % SHARDS].insert(h) {
                    found.insert(row);
                }
            }
            self.in_memory = self.memory.iter().map(HashSet::len).sum();
            if self.in_memory > self.budget {
                self.start_spilling()?;
            }
            return Ok(found);
        }
        let spill = self.spill.as_mut().expect("spilling");
        for p in 0..PARTITIONS {
            let bucket = ids.bucket(p);
            if bucket.is_empty() {
                continue;
            }
            let first = spill.counts[p];
            spill.counts[p] += bucket.len() as u64;
            match &self.known {
                Some(known) => {
                    if let Some(positions) = known.positions.get(&p) {
                        for (k, &(_, row)) in bucket.iter().enumerate() {
                            if positions.contains(&(first + k as u64)) {
                                found.insert(row);
                            }
                        }
                    }
                }
                None => {
                    spill.buffers[p].extend(bucket.iter().flat_map(|(h, _)| h.to_le_bytes()));
                    if spill.buffers[p].len() >= BUFFERED * 16 {
                        spill.flush(p)?;
                    }
                }
            }
        }
        Ok(found)
    }

    /// Moves the in-memory ids to the partitions (their order among
    /// themselves does not matter: they are distinct and all earlier than
    /// what follows).
    fn start_spilling(&mut self) -> Result<()> {
        let mut spill = Spill {
            dir: None,
            counts: vec![0; PARTITIONS],
            buffers: vec![Vec::new(); PARTITIONS],
            files: (0..PARTITIONS).map(|_| None).collect(),
        };
        if self.known.is_none() {
            let dir = std::env::temp_dir().join(format!(
                "stopaudit-ids-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            spill.dir = Some(dir);
        }
        self.in_memory = 0;
        for shard in &mut self.memory {
            for h in std::mem::take(shard) {
                let p = partition_of(h);
                spill.counts[p] += 1;
                if self.known.is_none() {
                    spill.buffers[p].extend(h.to_le_bytes());
                    if spill.buffers[p].len() >= BUFFERED * 16 {
                        spill.flush(p)?;
                    }
                }
            }
        }
        self.spill = Some(spill);
        Ok(())
    }

    /// Checks the spilled partitions (first pass only): the late duplicates,
    /// or `None` when there are none (or nothing was spilled).
    pub fn finish(&mut self) -> Result<Option<LateDuplicates>> {
        if self.known.is_some() {
            return Ok(None);
        }
        let Some(spill) = self.spill.as_mut() else {
            return Ok(None);
        };
        for p in 0..PARTITIONS {
            spill.flush(p)?;
        }
        for file in spill.files.iter_mut().flatten() {
            file.flush().map_err(|e| Error::io("<stop id spill>", e))?;
        }
        spill.files.iter_mut().for_each(|f| *f = None);
        let dir = spill
            .dir
            .clone()
            .expect("a first pass has a spill directory");
        let counts = spill.counts.clone();
        let limit = self.checked_at_once;
        let found: Vec<(usize, HashSet<u64>)> = (0..PARTITIONS)
            .into_par_iter()
            .map(|p| -> Result<(usize, HashSet<u64>)> {
                let mut repeated = HashSet::default();
                if counts[p] == 0 {
                    return Ok((p, repeated));
                }
                let path = dir.join(format!("{p}.bin"));
                // A large partition is read once per share of its hashes
                // (by bits the partition does not use), so the set stays
                // within `checked_at_once` however many rows there are; every copy
                // of an id falls in the same share, read in file order.
                let shares = counts[p].div_ceil(limit);
                for share in 0..shares {
                    let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
                    let mut reader = BufReader::with_capacity(1 << 20, file);
                    let mut seen: HashSet<u128> = HashSet::default();
                    seen.reserve(counts[p].div_ceil(shares) as usize);
                    let mut record = [0u8; 16];
                    for position in 0..counts[p] {
                        reader
                            .read_exact(&mut record)
                            .map_err(|e| Error::io(&path, e))?;
                        let hash = u128::from_le_bytes(record);
                        if (hash as u64) % shares == share && !seen.insert(hash) {
                            repeated.insert(position);
                        }
                    }
                }
                Ok((p, repeated))
            })
            .collect::<Result<_>>()?;
        let mut late = LateDuplicates::default();
        for (p, positions) in found {
            if !positions.is_empty() {
                late.count += positions.len() as u64;
                late.positions.insert(p, positions);
            }
        }
        Ok((late.count > 0).then_some(late))
    }
}

impl Spill {
    fn flush(&mut self, p: usize) -> Result<()> {
        if self.buffers[p].is_empty() {
            return Ok(());
        }
        let dir = self
            .dir
            .as_ref()
            .expect("a first pass has a spill directory");
        if self.files[p].is_none() {
            let path = dir.join(format!("{p}.bin"));
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.files[p] = Some(BufWriter::with_capacity(1 << 16, file));
        }
        let w = self.files[p].as_mut().expect("just opened");
        w.write_all(&self.buffers[p])
            .map_err(|e| Error::io(dir, e))?;
        self.buffers[p].clear();
        Ok(())
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        self.files.clear();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
