//! Replays the committed corpus through the fuzz targets' checks, on stable and without
//! libFuzzer: `cd fuzz && cargo test`. Catches a seed that no longer means what its name
//! says (a protocol change) and any regression a saved input once found.
//!
//! Seed names (examples/gen_corpus.rs): `bad_*` must be rejected, `x_*` may go either
//! way, every other name must be accepted. Files with other names (inputs saved from a
//! fuzz run) only have to pass the checks.

use dispatch_fuzz::Target;
use std::path::Path;

#[test]
fn corpus_replays_without_a_failed_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in Target::ALL {
        let dir = root.join(target.name());
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            let data = std::fs::read(&path).expect("read seed");
            let accepted = std::panic::catch_unwind(|| target.check(&data))
                .unwrap_or_else(|_| panic!("{} failed its checks", path.display()));
            let name = path.file_name().unwrap().to_string_lossy();
            let generated = name.ends_with(".json") || name.ends_with(".bin");
            if generated && name.starts_with("bad_") {
                assert!(!accepted, "{} was accepted", path.display());
            } else if generated && !name.starts_with("x_") {
                assert!(accepted, "{} was rejected", path.display());
            }
            n += 1;
        }
        assert!(n >= 5, "{}: only {n} seeds", target.name());
    }
}
