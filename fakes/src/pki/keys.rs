//! Key material derived from a seed, so a run is replayable (docs/DESIGN.md, Determinism).
//!
//! RSA-2048 generation takes a noticeable fraction of a second (seconds in debug
//! builds), so keys are memoised per (seed, label): in process always, and on disk
//! when a cache directory is available. The cache is only a memo: the same seed and
//! label always derive the same key, cached or not, so it can never change a result.
//!
//! Key types (our choice): RSA-2048 where JPKI requires it (card keys, the JPKI CA);
//! ECDSA P-256 for the implementing body's CA, terminal client certificates and the
//! fakes' server certificates, because it is fast to generate and every TLS stack
//! accepts it. P-256 keys are derived from the seed too (with the `p256` crate, since
//! ring only generates keys from the system RNG).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

/// The RNG for one named key, derived from the master seed and the key's label.
pub fn derived_rng(seed: u64, label: &str) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"onsim-key\0");
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

type Cache = Mutex<BTreeMap<(u64, String), Arc<RsaPrivateKey>>>;

fn memo() -> &'static Cache {
    static MEMO: OnceLock<Cache> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// Where derived RSA keys are kept between processes: `$ONSIM_KEY_CACHE` if set
/// (empty disables the disk cache), else `onsim-keycache` under the system temp dir.
fn disk_dir() -> Option<PathBuf> {
    match std::env::var_os("ONSIM_KEY_CACHE") {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => Some(std::env::temp_dir().join("onsim-keycache")),
    }
}

fn disk_name(seed: u64, label: &str) -> String {
    let safe: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    // The hash keeps labels that sanitise alike apart.
    let h = Sha256::digest(label.as_bytes());
    format!(
        "rsa2048-{seed:016x}-{safe}-{:02x}{:02x}{:02x}{:02x}.p8",
        h[0], h[1], h[2], h[3]
    )
}

/// Generate an RSA-2048 key from the seed with no caching (for measuring).
pub fn generate_rsa_uncached(seed: u64, label: &str) -> RsaPrivateKey {
    let mut rng = derived_rng(seed, label);
    RsaPrivateKey::new(&mut rng, 2048).expect("RSA-2048 generation cannot fail with a working RNG")
}

/// The RSA-2048 key for (seed, label), from the memo, the disk cache, or freshly made.
pub fn rsa_key(seed: u64, label: &str) -> Arc<RsaPrivateKey> {
    let k = (seed, label.to_string());
    if let Some(key) = memo().lock().expect("key memo poisoned").get(&k) {
        return key.clone();
    }
    let key = Arc::new(load_or_generate(seed, label));
    memo()
        .lock()
        .expect("key memo poisoned")
        .entry(k)
        .or_insert(key)
        .clone()
}

fn load_or_generate(seed: u64, label: &str) -> RsaPrivateKey {
    let path = disk_dir().map(|d| d.join(disk_name(seed, label)));
    if let Some(p) = &path {
        if let Ok(der) = std::fs::read(p) {
            if let Ok(key) = RsaPrivateKey::from_pkcs8_der(&der) {
                return key;
            }
        }
    }
    let key = generate_rsa_uncached(seed, label);
    if let Some(p) = path {
        // Best effort: a read-only or missing temp dir only costs speed.
        if let (Some(dir), Ok(der)) = (p.parent(), key.to_pkcs8_der()) {
            let tmp = p.with_extension(format!("tmp{}", std::process::id()));
            let _ = std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::write(&tmp, der.as_bytes()))
                .and_then(|_| std::fs::rename(&tmp, &p));
        }
    }
    key
}

/// PKCS#8 DER of an RSA key (what rcgen takes).
pub fn rsa_pkcs8(key: &RsaPrivateKey) -> Vec<u8> {
    key.to_pkcs8_der()
        .expect("an RSA key always encodes")
        .as_bytes()
        .to_vec()
}

/// PKCS#8 DER of the ECDSA P-256 key for (seed, label); cheap, so not cached.
pub fn p256_pkcs8(seed: u64, label: &str) -> Vec<u8> {
    use p256::pkcs8::EncodePrivateKey as _;
    let mut rng = derived_rng(seed, label);
    let sk = p256::SecretKey::random(&mut rng);
    sk.to_pkcs8_der()
        .expect("a P-256 key always encodes")
        .as_bytes()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_key_other_label_other_key() {
        assert_eq!(p256_pkcs8(7, "a"), p256_pkcs8(7, "a"));
        assert_ne!(p256_pkcs8(7, "a"), p256_pkcs8(7, "b"));
        assert_ne!(p256_pkcs8(7, "a"), p256_pkcs8(8, "a"));
    }

    #[test]
    fn rsa_is_memoised_and_reproducible() {
        let a = rsa_key(1, "test-rsa");
        let b = rsa_key(1, "test-rsa");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(disk_name(1, "x y"), disk_name(1, "x y"));
        assert_ne!(disk_name(1, "x y"), disk_name(1, "x_y"));
    }

    /// `cargo test -p fakes keygen_timing -- --ignored --nocapture` prints the cost.
    #[test]
    #[ignore]
    fn keygen_timing() {
        let t = std::time::Instant::now();
        let _ = generate_rsa_uncached(99, "timing");
        let uncached = t.elapsed();
        let _ = rsa_key(99, "timing-cached");
        let t = std::time::Instant::now();
        memo().lock().unwrap().clear();
        let _ = rsa_key(99, "timing-cached");
        let disk = t.elapsed();
        let t = std::time::Instant::now();
        let _ = rsa_key(99, "timing-cached");
        let mem = t.elapsed();
        eprintln!(
            "RSA-2048 keygen uncached {uncached:?}, from disk cache {disk:?}, from memo {mem:?}"
        );
    }
}
