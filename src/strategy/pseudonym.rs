//! Keyed, deterministic pseudonyms: every fake value is derived from HMAC-SHA256(key, domain || value).
//! With the one-time key of an erasure the result cannot be linked back to the input once the key is gone;
//! with the same key the same input always gives the same output (so copies in several tables agree).

use std::cell::RefCell;

use hmac::{Hmac, Mac};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The generator behind every fake: ChaCha8 (stable across releases, and fast enough to be seeded per row).
pub type FakeRng = ChaCha8Rng;

thread_local! {
    /// The HMAC state after absorbing the last key used: set up once per key, cloned per value (the key
    /// schedule is half the work of a short HMAC).
    static KEYED: RefCell<Option<(Vec<u8>, HmacSha256)>> = const { RefCell::new(None) };
}

fn keyed_mac(key: &[u8]) -> HmacSha256 {
    KEYED.with(|cell| {
        let mut cell = cell.borrow_mut();
        match cell.as_ref() {
            Some((k, mac)) if k.as_slice() == key => mac.clone(),
            _ => {
                let mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
                *cell = Some((key.to_vec(), mac.clone()));
                mac
            }
        }
    })
}

/// HMAC-SHA256 over `domain`, a separator and `value`; the domain keeps strategies from sharing outputs.
pub fn digest(key: &[u8], domain: &str, value: &str) -> [u8; 32] {
    let mut mac = keyed_mac(key);
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A reproducible random generator seeded from the keyed digest.
pub fn rng(key: &[u8], domain: &str, value: &str) -> FakeRng {
    FakeRng::from_seed(digest(key, domain, value))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A 16-hex-digit (64-bit) keyed suffix: appended to fakes for UNIQUE columns so that distinct inputs
/// practically never collide (about 1 in 3·10^7 for ten million erased values).
pub fn unique_suffix(key: &[u8], domain: &str, value: &str) -> String {
    hex(&digest(key, &format!("{domain}/suffix"), value)[..8])
}

/// Cuts `s` to at most `max_chars` characters (PostgreSQL lengths count characters, not bytes).
pub fn fit(mut s: String, max_chars: Option<i32>) -> String {
    if let Some(max) = max_chars {
        let max = max.max(0) as usize;
        if let Some((idx, _)) = s.char_indices().nth(max) {
            s.truncate(idx);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_keyed_and_domain_separated() {
        assert_eq!(digest(b"k", "hash", "x"), digest(b"k", "hash", "x"));
        assert_ne!(digest(b"k", "hash", "x"), digest(b"k2", "hash", "x"));
        assert_ne!(digest(b"k", "hash", "x"), digest(b"k", "email", "x"));
    }

    #[test]
    fn fit_counts_characters() {
        assert_eq!(fit("Příliš".to_string(), Some(3)), "Pří");
        assert_eq!(fit("abc".to_string(), Some(10)), "abc");
        assert_eq!(fit("abc".to_string(), None), "abc");
    }
}
