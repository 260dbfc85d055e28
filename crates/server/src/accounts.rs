//! Secrets of people: argon2id password hashes and API tokens (kept only as SHA-256 hashes).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("password must be at least 8 characters")]
    PasswordTooShort,
    #[error("could not hash password: {0}")]
    Hash(String),
}

/// An argon2id PHC string for the password.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < 8 {
        return Err(AccountError::PasswordTooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| AccountError::Hash(err.to_string()))
}

/// Whether the password matches the stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new user API token in the form sentry-cli recognizes (`sntryu_` + 64 hex chars).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("sntryu_{}", hex::encode(bytes))
}

/// What the store keeps of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse!", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn short_password_is_refused() {
        assert!(matches!(
            hash_password("short"),
            Err(AccountError::PasswordTooShort)
        ));
    }

    #[test]
    fn tokens_look_like_sentry_user_tokens() {
        let token = new_token();
        assert_eq!(token.len(), 7 + 64);
        assert!(token.starts_with("sntryu_"));
        assert_ne!(hash_token(&token), hash_token(&new_token()));
    }
}
