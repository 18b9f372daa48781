//! What the store records about itself, and the judgement made at open.
//!
//! Two copies of the same facts:
//! - the **manifest**, under `meta/manifest` inside the database: the generation (store
//!   writes committed so far) and the record count of every tree, written right before
//!   every flush and, marked clean, when the store is closed;
//! - the **witness**, a small text file *outside* the database directory, rewritten
//!   after every flush that advanced the generation.
//!
//! Why both: sled recovers a damaged log by cutting it at the first bad message, so a
//! flipped byte or a truncated file yields an *older but self-consistent* database
//! whose manifest was cut with it. Only a copy outside the log can tell that
//! acknowledged writes went missing, and only a copy inside can tell a deleted or
//! replaced database directory from a fresh one.
//!
//! The witness is written after the flush it describes, so it never claims more than
//! is durable: a crash between the two leaves an older witness, which is safe.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Record counts of the trees whose size the store tracks on every write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Driver registrations (never deleted).
    pub drivers: u64,
    /// Orders (never deleted).
    pub orders: u64,
    /// Entries of the open-order index.
    pub open_orders: u64,
    /// Routes (never deleted).
    pub routes: u64,
    /// Events (trimmed to a bounded journal).
    pub events: u64,
}

impl Counts {
    fn fields(&self) -> [(&'static str, u64); 5] {
        [
            ("drivers", self.drivers),
            ("orders", self.orders),
            ("open_orders", self.open_orders),
            ("routes", self.routes),
            ("events", self.events),
        ]
    }

    /// Trees that only grow: a count below a recorded one means records were lost.
    fn growing(&self) -> [(&'static str, u64); 3] {
        [
            ("drivers", self.drivers),
            ("orders", self.orders),
            ("routes", self.routes),
        ]
    }
}

/// The manifest kept under `meta/manifest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manifest {
    /// Store writes committed (each `put_driver`, `apply`, event append or trim is one).
    pub generation: u64,
    /// Written at close, with no writer left: the counts are exact. Otherwise they are
    /// a lower bound (writes may have become durable after the manifest).
    pub clean: bool,
    /// Record counts when the manifest was written.
    pub counts: Counts,
}

const MANIFEST_VERSION: u8 = 1;
const MANIFEST_LEN: usize = 2 + 8 * 6;

impl Manifest {
    /// `[version][clean][generation][5 counts]`, integers big-endian.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MANIFEST_LEN);
        out.push(MANIFEST_VERSION);
        out.push(u8::from(self.clean));
        out.extend_from_slice(&self.generation.to_be_bytes());
        for (_, n) in self.counts.fields() {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out
    }

    /// Decodes [`Manifest::to_bytes`]; `Err` says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != MANIFEST_LEN || bytes[0] != MANIFEST_VERSION || bytes[1] > 1 {
            return Err(format!("unreadable manifest ({} bytes)", bytes.len()));
        }
        let mut words = bytes[2..]
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8])));
        let mut next = || words.next().unwrap_or(0);
        Ok(Self {
            clean: bytes[1] == 1,
            generation: next(),
            counts: Counts {
                drivers: next(),
                orders: next(),
                open_orders: next(),
                routes: next(),
                events: next(),
            },
        })
    }
}

/// The witness file: the generation and counts of the last completed flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Witness {
    /// Generation the flush made durable.
    pub generation: u64,
    /// Counts the flush made durable (lower bounds).
    pub counts: Counts,
}

const WITNESS_HEADER: &str = "dispatch store witness 1";

impl Witness {
    /// Human-readable lines, the last one a checksum of the others, so a torn or
    /// edited file is noticed.
    pub fn to_text(self) -> String {
        let mut text = format!("{WITNESS_HEADER}\ngeneration {}\n", self.generation);
        for (name, n) in self.counts.fields() {
            text.push_str(&format!("{name} {n}\n"));
        }
        let sum = fnv1a(text.as_bytes());
        text.push_str(&format!("check {sum:016x}\n"));
        text
    }

    /// Parses [`Witness::to_text`]; `Err` says what is wrong.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let body_end = text.rfind("check ").ok_or("no checksum line")?;
        let (body, check) = text.split_at(body_end);
        let want = format!("check {:016x}", fnv1a(body.as_bytes()));
        if check.trim_end() != want || !body.starts_with(WITNESS_HEADER) {
            return Err("checksum mismatch".to_owned());
        }
        let value = |name: &str| -> Result<u64, String> {
            body.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("no `{name}` line"))
        };
        Ok(Self {
            generation: value("generation")?,
            counts: Counts {
                drivers: value("drivers")?,
                orders: value("orders")?,
                open_orders: value("open_orders")?,
                routes: value("routes")?,
                events: value("events")?,
            },
        })
    }

    /// Reads the witness at `path`: `Ok(None)` when there is none. An unreadable one is
    /// reported as `Err(reason)`; the caller decides (a torn write after a power loss
    /// is the likely cause, since the file is replaced without fsync).
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_text(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Overwrites `file` in place at offset 0 with the text padded to
    /// [`WITNESS_LEN`] bytes (trailing spaces, which parsing ignores), so the file never
    /// shrinks and one `pwrite` replaces it. A process killed mid-call cannot leave
    /// half a witness (the write is one page-cache copy of less than a page), and the
    /// text fits one 512-byte sector, which disks write whole; a torn file is still
    /// caught by the checksum. No create and rename per flush: those allocated and
    /// freed an inode every group commit, about 5 % of the engine's CPU under load.
    /// `sync` also fsyncs it (at close; after every flush it would double the cost of
    /// a group commit).
    pub fn overwrite(&self, file: &std::fs::File, sync: bool) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut text = self.to_text().into_bytes();
        if text.len() < WITNESS_LEN {
            text.resize(WITNESS_LEN, b' ');
        }
        file.write_all_at(&text, 0)?;
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Opens (creating it if need be) the witness file at `path` for
    /// [`Witness::overwrite`].
    pub fn open_for_overwrite(path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    }
}

/// Size the witness file is padded to: its text is at most about 250 bytes.
pub const WITNESS_LEN: usize = 512;

/// 64-bit FNV-1a: enough to notice a torn or hand-edited witness; no security claim.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Record counts of the trees whose size the store tracks on every write, and the
/// generation; atomics, so writers on many threads only add.
#[derive(Debug, Default)]
pub struct Tracker {
    generation: AtomicU64,
    drivers: AtomicU64,
    orders: AtomicU64,
    open_orders: AtomicU64,
    routes: AtomicU64,
    events: AtomicU64,
}

/// Records one write added and removed (only `open_orders` and `events` shrink).
#[derive(Debug, Default, Clone, Copy)]
pub struct Delta {
    /// Records that did not exist before the write.
    pub added: Counts,
    /// Records the write removed.
    pub removed: Counts,
}

impl Tracker {
    /// Starts from what an open found.
    pub fn new(generation: u64, counts: Counts) -> Self {
        let t = Self::default();
        t.generation.store(generation, Ordering::Relaxed);
        t.commit(&Delta {
            added: counts,
            removed: Counts::default(),
        });
        t.generation.store(generation, Ordering::Relaxed);
        t
    }

    /// Counts one committed write. Called after the write returned, so a manifest
    /// built from [`Tracker::snapshot`] never counts a write logged after it.
    pub fn commit(&self, d: &Delta) {
        let cells = [
            (&self.drivers, d.added.drivers, d.removed.drivers),
            (&self.orders, d.added.orders, d.removed.orders),
            (
                &self.open_orders,
                d.added.open_orders,
                d.removed.open_orders,
            ),
            (&self.routes, d.added.routes, d.removed.routes),
            (&self.events, d.added.events, d.removed.events),
        ];
        for (cell, add, sub) in cells {
            if add > 0 {
                cell.fetch_add(add, Ordering::Relaxed);
            }
            if sub > 0 {
                cell.fetch_sub(sub, Ordering::Relaxed);
            }
        }
        // Release: a reader that sees this generation sees the counts above.
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The generation and counts now (each a lower bound while writers run).
    pub fn snapshot(&self) -> (u64, Counts) {
        let generation = self.generation.load(Ordering::Acquire);
        let c = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        let counts = Counts {
            drivers: c(&self.drivers),
            orders: c(&self.orders),
            open_orders: c(&self.open_orders),
            routes: c(&self.routes),
            events: c(&self.events),
        };
        (generation, counts)
    }
}

/// What a verification found, for logs and `dispatch store check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Records found per tracked tree.
    pub counts: Counts,
    /// Stored driver states (positions; not tracked by the manifest).
    pub driver_states: u64,
    /// Stored trail points (position history; not tracked by the manifest, which
    /// could not tell a trim from a loss).
    pub trail_points: u64,
    /// Stored proof-of-delivery images (not tracked by the manifest).
    pub proofs: u64,
    /// The store's generation.
    pub generation: u64,
    /// Things worth telling an operator that do not make the store unusable.
    pub notes: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, n) in self.counts.fields() {
            writeln!(f, "{name:<13} {n}")?;
        }
        writeln!(f, "{:<13} {}", "driver_state", self.driver_states)?;
        writeln!(f, "{:<13} {}", "trails", self.trail_points)?;
        writeln!(f, "{:<13} {}", "proofs", self.proofs)?;
        writeln!(f, "{:<13} {}", "generation", self.generation)?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// Judges the records found (`found`) against the manifest in the database and the
/// witness beside it; `Err` is the reason the store must not be used.
pub fn judge(
    found: &Counts,
    manifest: Option<&Manifest>,
    witness: Option<(&Witness, &PathBuf)>,
) -> Result<(), String> {
    if let Some(m) = manifest {
        let recorded = if m.clean {
            m.counts.fields().to_vec()
        } else {
            m.counts.growing().to_vec()
        };
        let found_of = |name| found.fields().into_iter().find(|(n, _)| *n == name);
        for (name, want) in recorded {
            let have = found_of(name).map_or(0, |(_, n)| n);
            let lost = if m.clean { have != want } else { have < want };
            if lost {
                return Err(format!(
                    "`{name}` holds {have} records, its manifest records {want}"
                ));
            }
        }
    }
    let Some((w, path)) = witness else {
        return Ok(());
    };
    let short = found
        .growing()
        .into_iter()
        .zip(w.counts.growing())
        .find(|((_, have), (_, want))| have < want)
        .map(|((name, have), (_, want))| {
            format!("`{name}` holds {have} records, the witness {want}")
        });
    let generation = manifest.map_or(0, |m| m.generation);
    if generation < w.generation || short.is_some() {
        return Err(format!(
            "the database is at generation {generation} but {} recorded generation {} after a completed flush{}: acknowledged writes are missing",
            path.display(),
            w.generation,
            short.map_or_else(String::new, |s| format!(" ({s})"))
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(orders: u64) -> Counts {
        Counts {
            drivers: 2,
            orders,
            open_orders: 1,
            routes: 1,
            events: 7,
        }
    }

    #[test]
    fn manifest_and_witness_round_trip() {
        let m = Manifest {
            generation: 42,
            clean: true,
            counts: counts(9),
        };
        assert_eq!(Manifest::from_bytes(&m.to_bytes()), Ok(m));
        let w = Witness {
            generation: 42,
            counts: counts(9),
        };
        assert_eq!(Witness::from_text(&w.to_text()), Ok(w));
        let edited = w.to_text().replace("orders 9", "orders 8");
        assert!(Witness::from_text(&edited).is_err());
    }

    #[test]
    fn a_witness_overwritten_in_place_reads_back_as_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.witness");
        let file = Witness::open_for_overwrite(&path).unwrap();
        let long = Witness {
            generation: u64::MAX,
            counts: counts(u64::MAX / 2),
        };
        let short = Witness {
            generation: 3,
            counts: counts(1),
        };
        long.overwrite(&file, false).unwrap();
        // Shorter text over longer: the padding, not the old tail, follows it.
        short.overwrite(&file, true).unwrap();
        assert_eq!(Witness::read(&path), Ok(Some(short)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), WITNESS_LEN as u64);
        assert!(long.to_text().len() < WITNESS_LEN);
    }

    #[test]
    fn judgement_follows_manifest_and_witness() {
        let path = PathBuf::from("store.witness");
        let m = |clean, generation| Manifest {
            generation,
            clean,
            counts: counts(10),
        };
        // A crashed store may hold more than its manifest; a cleanly closed one exactly.
        assert!(judge(&counts(11), Some(&m(false, 5)), None).is_ok());
        assert!(judge(&counts(11), Some(&m(true, 5)), None).is_err());
        assert!(judge(&counts(9), Some(&m(false, 5)), None).is_err());
        // The database behind its witness: cut by sled's recovery, or replaced.
        let w = Witness {
            generation: 6,
            counts: counts(10),
        };
        let err = judge(&counts(10), Some(&m(false, 5)), Some((&w, &path))).unwrap_err();
        assert!(err.contains("acknowledged writes are missing"), "{err}");
        assert!(judge(&counts(10), None, Some((&w, &path))).is_err());
        assert!(judge(&counts(10), Some(&m(false, 6)), Some((&w, &path))).is_ok());
    }
}
