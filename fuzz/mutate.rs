//! Mutation strategies for the bounded fuzz targets (issue 14, "Also"): proptest
//! strategies that take a seed input from a corpus and flip bits, insert, delete,
//! duplicate or splice byte ranges, and truncate — the mutations of a coverage
//! fuzzer, run a fixed number of cases under `cargo test`. Included by path from
//! the test files that use it (`fakes/tests/fuzz_parsers.rs`,
//! `sim/tests/fuzz_parsers.rs`); see `fuzz/README.md`.

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;

/// One edit of a byte string.
#[derive(Debug, Clone)]
pub enum Op {
    /// Flip bit `bit` of the byte at the index.
    Flip(Index, u8),
    /// Set the byte at the index.
    Set(Index, u8),
    /// Insert bytes at the index.
    Insert(Index, Vec<u8>),
    /// Delete up to `n` bytes from the index.
    Delete(Index, usize),
    /// Copy a range (start, length) of the input to another place.
    Duplicate(Index, usize, Index),
    /// Splice in a range of another corpus entry.
    Splice(Index, Index, usize, Index),
    /// Cut the input at the index.
    Truncate(Index),
}

/// Bytes that matter to the parsers: markup, quotes, separators, digits, escapes,
/// a multi-byte character, a NUL and a BOM.
fn interesting() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..4),
        prop::sample::select(vec![
            b"<".to_vec(),
            b">".to_vec(),
            b"</".to_vec(),
            b"/>".to_vec(),
            b"&".to_vec(),
            b"&amp;".to_vec(),
            b"\"".to_vec(),
            b"'".to_vec(),
            b",".to_vec(),
            b"\n".to_vec(),
            b"\r\n".to_vec(),
            b"=".to_vec(),
            b"[".to_vec(),
            b"]".to_vec(),
            b"{".to_vec(),
            b"}".to_vec(),
            b":".to_vec(),
            b"0".to_vec(),
            b"9999999999999999999999".to_vec(),
            b"-1".to_vec(),
            b"\x00".to_vec(),
            b"\xEF\xBB\xBF".to_vec(),
            "資格".as_bytes().to_vec(),
            b"<?xml version=\"1.0\"?>".to_vec(),
            b"<!-- -- -->".to_vec(),
        ]),
    ]
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Op::Flip(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Op::Set(i, b)),
        (any::<Index>(), interesting()).prop_map(|(i, b)| Op::Insert(i, b)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Op::Delete(i, n)),
        (any::<Index>(), 1usize..64, any::<Index>()).prop_map(|(a, n, b)| Op::Duplicate(a, n, b)),
        (any::<Index>(), any::<Index>(), 1usize..128, any::<Index>())
            .prop_map(|(e, a, n, b)| Op::Splice(e, a, n, b)),
        any::<Index>().prop_map(Op::Truncate),
    ]
}

/// A corpus entry (by index) and up to `max_ops` edits.
pub fn case(max_ops: usize) -> impl Strategy<Value = (Index, Vec<Op>)> {
    (any::<Index>(), prop::collection::vec(op(), 0..=max_ops))
}

fn at(i: &Index, len: usize) -> usize {
    i.index(len + 1)
}

/// Apply the edits to `seed` (`corpus` for splices).
pub fn apply(seed: &[u8], ops: &[Op], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for op in ops {
        match op {
            Op::Flip(i, bit) if !b.is_empty() => {
                let k = i.index(b.len());
                b[k] ^= 1 << bit;
            }
            Op::Set(i, v) if !b.is_empty() => {
                let k = i.index(b.len());
                b[k] = *v;
            }
            Op::Insert(i, s) => {
                let k = at(i, b.len());
                b.splice(k..k, s.iter().copied());
            }
            Op::Delete(i, n) => {
                let k = at(i, b.len());
                let end = (k + n).min(b.len());
                b.drain(k..end);
            }
            Op::Duplicate(a, n, to) => {
                let k = at(a, b.len());
                let part: Vec<u8> = b[k..(k + n).min(b.len())].to_vec();
                let t = at(to, b.len());
                b.splice(t..t, part);
            }
            Op::Splice(e, a, n, to) if !corpus.is_empty() => {
                let other = &corpus[e.index(corpus.len())];
                let k = at(a, other.len());
                let part = &other[k..(k + n).min(other.len())];
                let t = at(to, b.len());
                b.splice(t..t, part.iter().copied());
            }
            Op::Truncate(i) => {
                let k = at(i, b.len());
                b.truncate(k);
            }
            _ => {}
        }
    }
    b
}

/// Every file of a corpus directory, sorted by name (deterministic).
pub fn load(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let out: Vec<_> = files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("corpus file"))
        })
        .collect();
    assert!(!out.is_empty(), "empty corpus {}", dir.display());
    out
}
