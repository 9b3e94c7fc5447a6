//! Pseudonyms for officer identifiers, for the officer-level comparisons
//! of internal benchmarking (issue 6): HMAC-SHA-256 of the identifier under
//! a key only the user holds, so the same officer gets the same pseudonym
//! in every run with that key, nobody without the key can recompute it from
//! a list of identifiers, and a new key unlinks all earlier outputs.
//!
//! The key comes from a file (`pseudonym_key_file` in the configuration,
//! relative to it) or from the environment variable [`KEY_VARIABLE`]; the
//! command resolves it once per run and hands it to the analyses. Without
//! one, officer-level output is refused ([`KeyError::Missing`]) rather than
//! produced with a guessable default.

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Environment variable that may hold the key.
pub const KEY_VARIABLE: &str = "STOPAUDIT_PSEUDONYM_KEY";
/// Shortest key accepted, in bytes (128 bits).
pub const MIN_KEY_BYTES: usize = 16;

/// Why no key is available.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key file is configured and the environment variable is not set.
    #[error(
        "officer-level output needs a pseudonymisation key: put at least {MIN_KEY_BYTES} random bytes in a file named by pseudonym_key_file in the configuration ([analysis.data_quality] or [analysis.benchmarking]) or in the environment variable {KEY_VARIABLE}; without a key no officer is shown"
    )]
    Missing,
    /// The key has fewer than [`MIN_KEY_BYTES`] bytes.
    #[error("{}: the pseudonymisation key has {got} bytes; at least {MIN_KEY_BYTES} are needed", .source_name)]
    TooShort {
        /// Where the key came from: the key file's path or the variable's name.
        source_name: String,
        /// The key's length in bytes.
        got: usize,
    },
    /// The key file could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A key for officer pseudonyms. Its bytes are never printed.
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(…)")
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl PseudonymKey {
    fn checked(bytes: Vec<u8>, source_name: String) -> Result<Self, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort {
                source_name,
                got: bytes.len(),
            });
        }
        Ok(PseudonymKey(bytes))
    }

    /// The key in a file (one trailing line break is not part of it).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let mut bytes = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Self::checked(bytes, path.display().to_string())
    }

    /// The key from `file` if given, else from `variable` (the value of
    /// [`KEY_VARIABLE`], read by the caller), else [`KeyError::Missing`].
    pub fn resolve(
        file: Option<&Path>,
        variable: Option<std::ffi::OsString>,
    ) -> Result<Self, KeyError> {
        match (file, variable) {
            (Some(path), _) => Self::from_file(path),
            (None, Some(v)) => Self::checked(v.into_encoded_bytes(), KEY_VARIABLE.to_owned()),
            (None, None) => Err(KeyError::Missing),
        }
    }

    /// HMAC-SHA-256 of `message` under the key (for other keyed uses, such
    /// as the rounding of the count tables).
    pub(crate) fn mac(&self, message: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, message)
    }

    /// The pseudonym of an identifier: `O-` and the first 64 bits of its
    /// HMAC in hex (collisions need about 4 billion officers).
    pub fn pseudonym(&self, id: &str) -> String {
        let mac = hmac_sha256(&self.0, id.trim().as_bytes());
        let hex: String = mac[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("O-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: key "Jefe".
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block size.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_unlinkable_across_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.key"), dir.path().join("b.key"));
        std::fs::write(&a, "correct horse battery staple\n").unwrap();
        std::fs::write(&b, "another key of enough length").unwrap();
        let (ka, kb) = (
            PseudonymKey::from_file(&a).unwrap(),
            PseudonymKey::from_file(&b).unwrap(),
        );
        let p = ka.pseudonym("NL12345");
        assert_eq!(p, ka.pseudonym(" NL12345 "));
        assert_eq!(p.len(), 2 + 16);
        assert!(!p.contains("12345"));
        assert_ne!(p, ka.pseudonym("NL12346"));
        assert_ne!(p, kb.pseudonym("NL12345"));
        assert_eq!(format!("{ka:?}"), "PseudonymKey(…)");
    }

    #[test]
    fn short_or_missing_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.key");
        std::fs::write(&short, "too short\n").unwrap();
        let err = PseudonymKey::from_file(&short).unwrap_err();
        assert!(matches!(err, KeyError::TooShort { got: 9, .. }), "{err}");
        let missing = PseudonymKey::from_file(&dir.path().join("none.key")).unwrap_err();
        assert!(missing.to_string().contains("none.key"));
        // The message of a missing key says what to do.
        assert!(KeyError::Missing.to_string().contains(KEY_VARIABLE));
    }
}
