//! The password checker (a component the state holds): argon2id, bounded.

use crate::error::AppError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Password hashing and checking (argon2id, 19 MiB and tens of milliseconds each)
/// with a bound on how many run at once, so a flood of sign-ins cannot take every
/// core and gigabytes of memory: past the bound a check waits up to `wait`, then
/// is refused with 429.
pub struct Passwords {
    slots: tokio::sync::Semaphore,
    wait: std::time::Duration,
}

impl Passwords {
    pub fn new(concurrent: usize, wait: std::time::Duration) -> Passwords {
        Passwords { slots: tokio::sync::Semaphore::new(concurrent.max(1)), wait }
    }

    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AppError> {
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(AppError::internal(e)),
            Err(_) => Err(AppError::rate_limited(1)),
        }
    }

    /// Hashes a password with argon2id on a blocking thread.
    pub async fn hash(&self, pw: String) -> Result<String, AppError> {
        let _slot = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default().hash_password(pw.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
    }

    /// Verifies a password against a PHC string on a blocking thread.
    pub async fn verify(&self, hash: String, pw: String) -> Result<bool, AppError> {
        let _slot = self.slot().await?;
        Ok(tokio::task::spawn_blocking(move || PasswordHash::new(&hash).map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok()).unwrap_or(false))
            .await
            .unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn regression_password_checks_are_bounded() {
        let p = std::sync::Arc::new(Passwords::new(1, std::time::Duration::from_millis(200)));
        let held = p.slot().await.expect("first slot");
        let refused = p.verify("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(), "pw".into()).await;
        assert_eq!(refused.expect_err("no free slot").code, kinora_core::ErrorCode::RateLimited);
        drop(held);
        assert!(!p.verify("not a hash".into(), "pw".into()).await.expect("a slot is free again"));
    }
}
