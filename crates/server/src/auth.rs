//! Secrets: password hashes (argon2id), bearer tokens (random, stored only as a SHA-256
//! hash), and identity tokens signed by a website with its asset's secret.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Argon2 is slow on purpose and takes memory (19 MiB a hash). It runs on two threads of its
/// own, not on the runtime nor on the blocking pool: a burst of sign-ins then neither stalls
/// the runtime nor leaves a malloc arena full of freed hash memory on every pool thread.
const HASHING_THREADS: usize = 2;

type HashJob = Box<dyn FnOnce() + Send>;

fn hashing_pool() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<HashJob>> {
    static POOL: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<HashJob>>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..HASHING_THREADS {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock().unwrap().recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    job();
                })
                .expect("a hashing thread starts");
        }
        std::sync::Mutex::new(tx)
    })
}

/// Runs `work` on a hashing thread and waits for it without blocking the runtime.
async fn on_hashing_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _ = tx.send(work());
    });
    hashing_pool()
        .lock()
        .unwrap()
        .send(job)
        .expect("the hashing threads run for the whole process");
    rx.await.expect("hashing does not panic")
}

/// [`hash_password`] off the async runtime.
pub async fn hash_password_async(password: String) -> String {
    on_hashing_thread(move || hash_password(&password)).await
}

/// [`verify_password`] off the async runtime.
pub async fn verify_password_async(password: String, hash: String) -> bool {
    on_hashing_thread(move || verify_password(&password, &hash)).await
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with a fresh salt cannot fail")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new bearer token with a prefix that says what it opens (`sbs_` an agent's session,
/// `sbc_` a customer's conversation).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// SHA-256 in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// `sha256_hex` of a value's compact JSON, hashed as it is written: no string of it is made.
pub fn sha256_hex_of_json(value: &impl serde::Serialize) -> String {
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(Sha256::new());
    serde_json::to_writer(&mut hashing, value).expect("hashing cannot fail to write");
    hex(&hashing.0.finalize())
}

/// Lower-case hex, written into one string (every command's fingerprint passes here: a
/// `format!` per byte cost 32 allocations a hash).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// The claims of an identity token: `base64url(claims JSON) + "." + base64url(HMAC-SHA256(
/// asset secret, the first part))`. `sub` is the website's own id for its customer.
#[derive(Debug, Deserialize)]
pub struct IdentityClaims {
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum IdentityError {
    Malformed,
    BadSignature,
    Expired,
}

/// Verifies an identity token against the asset's secret at `now_secs`.
pub fn verify_identity(
    token: &str,
    secret: &str,
    now_secs: i64,
) -> Result<IdentityClaims, IdentityError> {
    let (payload, signature) = token.split_once('.').ok_or(IdentityError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| IdentityError::Malformed)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| IdentityError::Malformed)?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| IdentityError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| IdentityError::Malformed)?;
    let claims: IdentityClaims =
        serde_json::from_slice(&json).map_err(|_| IdentityError::Malformed)?;
    if claims.sub.is_empty() || claims.sub.len() > 200 {
        return Err(IdentityError::Malformed);
    }
    if claims.exp <= now_secs {
        return Err(IdentityError::Expired);
    }
    Ok(claims)
}

/// Signs claims as a website would (used by tests and documented in docs/protocol.md).
pub fn sign_identity(claims_json: &str, secret: &str) -> String {
    let payload = URL_SAFE_NO_PAD.encode(claims_json.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(payload.as_bytes());
    format!(
        "{payload}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify() {
        let h = hash_password("s3cret");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("other", &h));
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn identity_tokens() {
        let t = sign_identity(r#"{"sub":"cust-42","exp":2000}"#, "a-long-asset-secret");
        assert_eq!(
            verify_identity(&t, "a-long-asset-secret", 1000)
                .unwrap()
                .sub,
            "cust-42"
        );
        assert_eq!(
            verify_identity(&t, "another-secret-xx", 1000).unwrap_err(),
            IdentityError::BadSignature
        );
        assert_eq!(
            verify_identity(&t, "a-long-asset-secret", 3000).unwrap_err(),
            IdentityError::Expired
        );
        assert_eq!(
            verify_identity("nonsense", "k", 0).unwrap_err(),
            IdentityError::Malformed
        );
    }
}
