//! Key material derived from a seed, so a run is replayable (docs/DESIGN.md, Determinism).
//!
//! RSA-2048 generation takes a noticeable fraction of a second (seconds in debug
//! builds), so keys are memoised per (seed, label): in process always, and in a
//! [`KeyStore`] when the driver installed one (`sim` installs a disk cache, see
//! `sim/src/keystore.rs`; this crate does no file-system or environment access). The
//! store is only a memo: the same seed and label always derive the same key, stored or
//! not, so it can never change a result.
//!
//! Key types (our choice): RSA-2048 where JPKI requires it (card keys, the JPKI CA);
//! ECDSA P-256 for the implementing body's CA, terminal client certificates and the
//! fakes' server certificates, because it is fast to generate and every TLS stack
//! accepts it. P-256 keys are derived from the seed too (with the `p256` crate, since
//! ring only generates keys from the system RNG).

use std::collections::BTreeMap;
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

/// Somewhere derived keys (PKCS#8 DER) can be kept between processes.
///
/// Implementations must be best effort: a failed `store` only costs speed, and
/// `load` returning bytes that do not decode is treated as a miss.
pub trait KeyStore: Send + Sync {
    /// The bytes stored under `name`, if any.
    fn load(&self, name: &str) -> Option<Vec<u8>>;
    /// Keep `der` under `name`.
    fn store(&self, name: &str, der: &[u8]);
}

static STORE: OnceLock<Box<dyn KeyStore>> = OnceLock::new();

/// Install the process-wide key store (once; later calls are ignored and return false).
pub fn set_key_store(store: Box<dyn KeyStore>) -> bool {
    STORE.set(store).is_ok()
}

/// The name a key is stored under: seed, a readable form of the label, and a hash
/// that keeps labels which sanitise alike apart.
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

/// The RSA-2048 key for (seed, label), from the memo, the key store, or freshly made.
pub fn rsa_key(seed: u64, label: &str) -> Arc<RsaPrivateKey> {
    let k = (seed, label.to_string());
    if let Some(key) = memo().lock().expect("key memo poisoned").get(&k) {
        return key.clone();
    }
    #[cfg(test)]
    test_store::install();
    let key = Arc::new(load_or_generate(
        STORE.get().map(|b| b.as_ref()),
        seed,
        label,
    ));
    memo()
        .lock()
        .expect("key memo poisoned")
        .entry(k)
        .or_insert(key)
        .clone()
}

fn load_or_generate(store: Option<&dyn KeyStore>, seed: u64, label: &str) -> RsaPrivateKey {
    let name = disk_name(seed, label);
    if let Some(der) = store.and_then(|s| s.load(&name)) {
        if let Ok(key) = RsaPrivateKey::from_pkcs8_der(&der) {
            return key;
        }
    }
    let key = generate_rsa_uncached(seed, label);
    if let (Some(store), Ok(der)) = (store, key.to_pkcs8_der()) {
        store.store(&name, der.as_bytes());
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

/// This crate's own tests keep keys on disk (the only file access in `fakes`, and
/// only under `cfg(test)`) so debug-build test runs do not regenerate RSA keys.
#[cfg(test)]
mod test_store {
    use super::{set_key_store, KeyStore, STORE};
    use std::path::PathBuf;

    struct TempDirStore(PathBuf);
    impl KeyStore for TempDirStore {
        fn load(&self, name: &str) -> Option<Vec<u8>> {
            std::fs::read(self.0.join(name)).ok()
        }
        fn store(&self, name: &str, der: &[u8]) {
            let tmp = self.0.join(format!("{name}.tmp{}", std::process::id()));
            let _ = std::fs::create_dir_all(&self.0)
                .and_then(|_| std::fs::write(&tmp, der))
                .and_then(|_| std::fs::rename(&tmp, self.0.join(name)));
        }
    }

    pub fn install() {
        if STORE.get().is_none() {
            let _ = set_key_store(Box::new(TempDirStore(
                std::env::temp_dir().join("onsim-keycache"),
            )));
        }
    }
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

    /// A store that a corrupted entry cannot fool: bad bytes are a miss, and the
    /// regenerated key is the same as the one derived without any store.
    #[test]
    fn bad_stored_bytes_are_a_miss() {
        struct Junk;
        impl KeyStore for Junk {
            fn load(&self, _: &str) -> Option<Vec<u8>> {
                Some(b"not a key".to_vec())
            }
            fn store(&self, _: &str, _: &[u8]) {}
        }
        let k = load_or_generate(Some(&Junk), 3, "junk-store");
        let fresh = generate_rsa_uncached(3, "junk-store");
        assert_eq!(rsa_pkcs8(&k), rsa_pkcs8(&fresh));
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
