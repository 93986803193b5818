//! Webhook signatures: `Sentry-Hook-Signature` is the lowercase hex HMAC-SHA256 of the raw
//! body, keyed by the integration's client secret. Several secrets may be configured at
//! once so a secret can be rotated without rejecting webhooks in flight.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no webhook secret configured")]
    NoSecretConfigured,
    #[error("missing Sentry-Hook-Signature header")]
    Missing,
    #[error("malformed signature (expected 64 hex characters)")]
    Malformed,
    #[error("signature does not match any configured secret")]
    Mismatch,
}

/// The configured client secrets. Deliberately not `Debug`/`Display`: secrets must never
/// reach a log line.
#[derive(Clone, Default)]
pub struct Secrets {
    keys: Vec<Vec<u8>>,
}

impl Secrets {
    /// Parse a comma-separated list; surrounding whitespace and empty items are ignored.
    pub fn parse(list: &str) -> Self {
        let keys = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect();
        Secrets { keys }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Check `signature` (hex, as sent) against `body` with every secret. Each comparison
    /// is constant time; all secrets are tried so timing does not tell which one matched.
    pub fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<(), SignatureError> {
        if self.keys.is_empty() {
            return Err(SignatureError::NoSecretConfigured);
        }
        let signature = signature.ok_or(SignatureError::Missing)?.trim();
        let expected = hex::decode(signature).map_err(|_| SignatureError::Malformed)?;
        if expected.len() != 32 {
            return Err(SignatureError::Malformed);
        }
        let mut matched = false;
        for key in &self.keys {
            matched |= mac(key, body).verify_slice(&expected).is_ok();
        }
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Sign `body` with `secret` the way Sentry does (used by tests and tooling).
pub fn sign(secret: &str, body: &[u8]) -> String {
    hex::encode(mac(secret.as_bytes(), body).finalize().into_bytes())
}

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_signature_from_any_configured_secret() {
        let secrets = Secrets::parse("old-secret, new-secret");
        let body = br#"{"action":"created"}"#;
        assert_eq!(
            secrets.verify(body, Some(&sign("old-secret", body))),
            Ok(())
        );
        assert_eq!(
            secrets.verify(body, Some(&sign("new-secret", body))),
            Ok(())
        );
        assert_eq!(
            secrets.verify(body, Some(&sign("other", body))),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn known_vector_matches_python_hmac() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'secret',b'{}',hashlib.sha256).hexdigest())"
        assert_eq!(
            sign("secret", b"{}"),
            "77325902caca812dc259733aacd046b73817372c777b8d95b402647474516e13"
        );
    }

    #[test]
    fn rejects_missing_malformed_and_unconfigured() {
        let secrets = Secrets::parse("s");
        assert_eq!(secrets.verify(b"x", None), Err(SignatureError::Missing));
        assert_eq!(
            secrets.verify(b"x", Some("zz")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            secrets.verify(b"x", Some("abcd")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            Secrets::parse(" , ").verify(b"x", Some("ab")),
            Err(SignatureError::NoSecretConfigured)
        );
    }

    #[test]
    fn a_changed_body_breaks_the_signature() {
        let secrets = Secrets::parse("s");
        let sig = sign("s", b"{\"a\":1}");
        assert_eq!(
            secrets.verify(b"{\"a\": 1}", Some(&sig)),
            Err(SignatureError::Mismatch)
        );
    }
}
