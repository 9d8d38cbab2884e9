//! Bounded fuzz targets for the parsers of `sim` (issue 14, "Also"), run by
//! `cargo test`: proptest mutates corpus seeds (`fuzz/mutate.rs`) and checks that
//! no input panics and that every refusal names where.
//!
//! - Scenario TOML (`sim::scenario::parse`): the corpus is the repo's own
//!   `scenarios/` tree; an error names the file, a line ≥ 1 and a message.
//! - Sweep shards for `onsim merge` (`fuzz/corpus/merge`, JSON written by
//!   `onsim sweep --shard`): read as the command reads them (`serde_json` into
//!   `SweepReport`, then `sweep::merge`); a refusal is a message, never a panic.
//! - The HTTP JSON bodies of the live services are parsed inside the private
//!   handlers of `sim/src/live/http.rs` (no pure function to call): not covered
//!   here; see `fuzz/README.md`.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn toml_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

fn scenarios() -> &'static (Vec<String>, Vec<Vec<u8>>) {
    static C: OnceLock<(Vec<String>, Vec<Vec<u8>>)> = OnceLock::new();
    C.get_or_init(|| {
        let mut v = Vec::new();
        toml_files(&repo().join("scenarios"), &mut v);
        assert!(v.len() > 10, "scenario corpus");
        v.into_iter().unzip()
    })
}

fn shards() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| {
        mutate::load(&repo().join("fuzz/corpus/merge"))
            .into_iter()
            .map(|(_, b)| b)
            .collect()
    })
}

#[test]
fn the_corpus_seeds_parse() {
    let (names, texts) = scenarios();
    let ok = names
        .iter()
        .zip(texts)
        .filter(|(n, t)| sim::scenario::parse(n, std::str::from_utf8(t).unwrap()).is_ok())
        .count();
    assert!(
        ok * 10 >= names.len() * 9,
        "{ok} of {} scenarios parse",
        names.len()
    );
    let files: Vec<(String, sim::sweep::SweepReport)> = shards()
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("shard{i}"), serde_json::from_slice(b).unwrap()))
        .collect();
    sim::sweep::merge(&files).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scenario_toml_never_panics_and_errors_name_file_and_line((seed, ops) in mutate::case(6)) {
        let (names, texts) = scenarios();
        let i = seed.index(texts.len());
        let input = mutate::apply(&texts[i], &ops, texts);
        let text = String::from_utf8_lossy(&input);
        if let Err(e) = sim::scenario::parse(&names[i], &text) {
            prop_assert_eq!(&e.file, &names[i]);
            prop_assert!(e.line >= 1 && e.column >= 1);
            prop_assert!(e.to_string().contains(&names[i]));
            prop_assert!(!e.message.is_empty(), "{e}");
        }
    }
}

/// Found by the target above (fixed): for some syntax errors the toml crate's
/// `message()` is empty, and `sim::scenario::parse` passed the empty message on,
/// so the error read `f:2:7: ` with no reason. Inputs: a value cut off at the end
/// (`[scenario]\nname =`), a control character in a comment (`#\0`).
#[test]
fn toml_syntax_errors_say_what() {
    for text in ["[scenario]\nname =", "#\0"] {
        let e = sim::scenario::parse("f", text).unwrap_err();
        assert!(!e.message.is_empty(), "{text:?}: {e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn merge_json_never_panics_and_refusals_say_why(
        cases in proptest::collection::vec(mutate::case(4), 1..4),
    ) {
        let corpus = shards();
        let mut files = Vec::new();
        for (k, (seed, ops)) in cases.into_iter().enumerate() {
            let input = mutate::apply(&corpus[seed.index(corpus.len())], &ops, corpus);
            match serde_json::from_slice::<sim::sweep::SweepReport>(&input) {
                Ok(r) => files.push((format!("shard{k}.json"), r)),
                Err(e) => prop_assert!(e.line() >= 1 && !e.to_string().is_empty()),
            }
        }
        if !files.is_empty() {
            if let Err(m) = sim::sweep::merge(&files) {
                prop_assert!(!m.is_empty());
            }
        }
    }
}
