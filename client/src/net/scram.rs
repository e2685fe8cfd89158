//! The client side of SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677),
//! as Kafka runs it: no channel binding (`n,,`), no authorization id.
//!
//! Sans-io and typestate: [`ScramClient::client_first`] gives the first
//! message, [`ScramClient::handle_server_first`] consumes the client and the
//! server's challenge and returns the final message plus a
//! [`ServerFinalCheck`], which verifies the server's signature, proving the
//! broker knows the password's verifier too.
//!
//! ```text
//!  client-first  n,,n=USER,r=CNONCE              ──▶
//!                r=CNONCE+SNONCE,s=SALT,i=ITER   ◀──  server-first
//!  client-final  c=biws,r=CNONCE+SNONCE,p=PROOF  ──▶
//!                v=SERVER-SIGNATURE              ◀──  server-final
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::core_api::BlockSizeUser;
use hmac::{Mac, SimpleHmac};
use sha2::{Digest, Sha256, Sha512};
use std::fmt;

/// Kafka's smallest iteration count (and RFC 7677's recommendation).
const MIN_ITERATIONS: u32 = 4096;
/// A broker asking for more would make us burn CPU on its say-so; Kafka's
/// own limit is 16384.
const MAX_ITERATIONS: u32 = 100_000;
/// Random bytes in the client nonce.
const NONCE_BYTES: usize = 24;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

/// Why a SCRAM exchange failed on the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScramError(pub(crate) String);

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn error(reason: impl Into<String>) -> ScramError {
    ScramError(reason.into())
}

/// A SCRAM client before the server's first message.
pub(crate) struct ScramClient {
    hash: ScramHash,
    password: String,
    client_nonce: String,
    client_first_bare: String,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("client_first_bare", &self.client_first_bare)
            .field("password", &"***")
            .finish()
    }
}

/// What remains after the client-final message: the server signature we
/// expect. Debug leaves it out (it is derived from the password).
pub(crate) struct ServerFinalCheck {
    server_signature: Vec<u8>,
}

impl ScramClient {
    /// A client with a fresh random nonce.
    pub(crate) fn new(hash: ScramHash, username: &str, password: &str) -> Self {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::Rng::fill(&mut rand::rng(), &mut nonce[..]);
        ScramClient::with_nonce(hash, username, password, &BASE64.encode(nonce))
    }

    /// A client with a chosen nonce (tests use the RFC's).
    pub(crate) fn with_nonce(hash: ScramHash, username: &str, password: &str, nonce: &str) -> Self {
        ScramClient {
            hash,
            password: password.to_owned(),
            client_nonce: nonce.to_owned(),
            client_first_bare: format!("n={},r={nonce}", escape_username(username)),
        }
    }

    /// The client-first message: no channel binding, no authzid.
    pub(crate) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Takes the server-first message; returns the client-final message and
    /// the check for the server-final one.
    pub(crate) fn handle_server_first(
        self,
        server_first: &[u8],
    ) -> Result<(String, ServerFinalCheck), ScramError> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| error("server-first message is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for (i, attribute) in server_first.split(',').enumerate() {
            match attribute.split_once('=') {
                Some(("m", _)) if i == 0 => {
                    return Err(error("server requires an unsupported SCRAM extension"));
                }
                Some(("e", message)) => {
                    return Err(error(format!("server error: {message}")));
                }
                Some(("r", value)) => nonce = Some(value),
                Some(("s", value)) => salt = Some(value),
                Some(("i", value)) => iterations = Some(value),
                // Extensions (Kafka's `tokenauth=true`) are not ours to read.
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| error("server-first message has no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(error("server nonce does not extend the client nonce"));
        }
        let salt = BASE64
            .decode(salt.ok_or_else(|| error("server-first message has no salt"))?)
            .map_err(|_| error("salt is not base64"))?;
        let iterations: u32 = iterations
            .ok_or_else(|| error("server-first message has no iteration count"))?
            .parse()
            .map_err(|_| error("iteration count is not a number"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(error(format!(
                "iteration count {iterations} outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            )));
        }
        // "biws" is base64("n,,"): the GS2 header, no channel binding.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let keys = match self.hash {
            ScramHash::Sha256 => {
                derive::<Sha256>(self.password.as_bytes(), &salt, iterations, &auth_message)
            }
            ScramHash::Sha512 => {
                derive::<Sha512>(self.password.as_bytes(), &salt, iterations, &auth_message)
            }
        }?;
        let client_final = format!("{without_proof},p={}", BASE64.encode(keys.client_proof));
        Ok((
            client_final,
            ServerFinalCheck {
                server_signature: keys.server_signature,
            },
        ))
    }
}

impl ServerFinalCheck {
    /// Checks the server-final message: `v=` with the expected signature.
    pub(crate) fn verify(self, server_final: &[u8]) -> Result<(), ScramError> {
        let server_final = std::str::from_utf8(server_final)
            .map_err(|_| error("server-final message is not UTF-8"))?;
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(message) = first.strip_prefix("e=") {
            return Err(error(format!("server error: {message}")));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or_else(|| error("server-final message has no signature"))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| error("server signature is not base64"))?;
        if !constant_time_eq(&signature, &self.server_signature) {
            return Err(error(
                "server signature does not match: the broker does not know the credentials",
            ));
        }
        Ok(())
    }
}

struct Keys {
    client_proof: Vec<u8>,
    server_signature: Vec<u8>,
}

/// RFC 5802 section 3 for hash `D`.
fn derive<D: Digest + BlockSizeUser + Clone + Sync>(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    auth_message: &str,
) -> Result<Keys, ScramError> {
    let mut salted_password = vec![0u8; <D as Digest>::output_size()];
    pbkdf2::pbkdf2::<SimpleHmac<D>>(password, salt, iterations, &mut salted_password)
        .map_err(|_| error("PBKDF2 failed"))?;
    let client_key = hmac::<D>(&salted_password, b"Client Key")?;
    let stored_key = D::digest(&client_key).to_vec();
    let client_signature = hmac::<D>(&stored_key, auth_message.as_bytes())?;
    let client_proof = client_key
        .iter()
        .zip(&client_signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let server_key = hmac::<D>(&salted_password, b"Server Key")?;
    let server_signature = hmac::<D>(&server_key, auth_message.as_bytes())?;
    Ok(Keys {
        client_proof,
        server_signature,
    })
}

fn hmac<D: Digest + BlockSizeUser + Clone + Sync>(
    key: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, ScramError> {
    let mut mac = <SimpleHmac<D> as Mac>::new_from_slice(key).map_err(|_| error("HMAC key"))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// `=` and `,` are escaped in SCRAM user names (RFC 5802 section 5.1).
fn escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// RFC 7677 section 3: the SCRAM-SHA-256 example exchange.
    #[test]
    fn rfc7677_sha256_test_vector() {
        let client =
            ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (client_final, check) = client.handle_server_first(server_first).unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        check
            .verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    #[test]
    fn a_wrong_server_signature_is_refused() {
        let client =
            ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (_, check) = client.handle_server_first(server_first).unwrap();
        let err = check
            .verify(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(err.0.contains("does not match"), "{err}");
    }

    #[test]
    fn hostile_server_first_messages_are_refused() {
        let first = |msg: &[u8]| {
            ScramClient::with_nonce(ScramHash::Sha512, "u", "p", "abc")
                .handle_server_first(msg)
                .map(|_| ())
                .unwrap_err()
                .0
        };
        assert!(first(b"r=xyz123,s=QSXCR+Q6sek8bf92,i=4096").contains("nonce"));
        assert!(first(b"r=abc,s=QSXCR+Q6sek8bf92,i=4096").contains("nonce"));
        assert!(first(b"r=abcd,s=QSXCR+Q6sek8bf92,i=999999999").contains("iteration"));
        assert!(first(b"r=abcd,s=QSXCR+Q6sek8bf92,i=10").contains("iteration"));
        assert!(first(b"r=abcd,s=!!,i=4096").contains("salt"));
        assert!(first(b"r=abcd,i=4096").contains("salt"));
        assert!(first(b"e=invalid-proof").contains("invalid-proof"));
        assert!(first(b"m=ext,r=abcd,s=QSXCR+Q6sek8bf92,i=4096").contains("extension"));
        assert!(first(&[0xff, 0xfe]).contains("UTF-8"));
    }

    #[test]
    fn user_names_are_escaped() {
        let client = ScramClient::with_nonce(ScramHash::Sha256, "a=b,c", "p", "n");
        assert_eq!(client.client_first(), "n,,n=a=3Db=2Cc,r=n");
        let random = ScramClient::new(ScramHash::Sha256, "u", "p");
        assert!(random.client_first().len() > "n,,n=u,r=".len() + 24);
        assert!(!format!("{random:?}").contains("\"p\""));
    }

    /// The server's side of the exchange, for scripted brokers in tests:
    /// returns (server-first, expected client-final, server-final).
    pub(crate) fn server_side(
        hash: ScramHash,
        password: &str,
        client_first: &str,
        server_nonce: &str,
        salt: &[u8],
    ) -> (String, String, String) {
        let bare = client_first.strip_prefix("n,,").unwrap();
        let client_nonce = bare.split_once(",r=").unwrap().1;
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i=4096", BASE64.encode(salt));
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let keys = match hash {
            ScramHash::Sha256 => derive::<Sha256>(password.as_bytes(), salt, 4096, &auth_message),
            ScramHash::Sha512 => derive::<Sha512>(password.as_bytes(), salt, 4096, &auth_message),
        }
        .unwrap();
        (
            server_first,
            format!("{without_proof},p={}", BASE64.encode(keys.client_proof)),
            format!("v={}", BASE64.encode(keys.server_signature)),
        )
    }
}
