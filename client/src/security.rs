//! Security settings: TLS ([`TlsConfig`]) and SASL ([`SaslConfig`]).
//!
//! Set them on [`ClientConfig`](crate::ClientConfig) with
//! [`tls`](crate::ClientConfig::tls) and [`sasl`](crate::ClientConfig::sasl);
//! both together give Kafka's `SASL_SSL`, SASL alone `SASL_PLAINTEXT`, TLS
//! alone `SSL`.
//!
//! Secrets (passwords, private keys) never show in `Debug` output: they print
//! as `***`.
//!
//! TLS needs the crate's `tls` feature (rustls with the `ring` provider,
//! which needs a C compiler); without it a config that asks for TLS is
//! refused by [`Client::connect`](crate::Client::connect) with
//! [`Error::Config`].
//!
//! # References
//! - KIP-43 (SASL PLAIN), KIP-84 (SCRAM), KIP-152 (SaslAuthenticate),
//!   KIP-368 (re-authentication), KIP-255 (OAUTHBEARER), KIP-342 (SASL
//!   extensions); RFC 4616, RFC 5802, RFC 7677, RFC 7628, RFC 7515.

use crate::error::{Error, Result};
use base64::Engine;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A secret string or byte blob: compared and used as usual, printed as `***`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret<T>(pub(crate) T);

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which certificates the client trusts to sign the brokers' certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRoots {
    /// The Mozilla root program's CAs (the `webpki-roots` crate): for
    /// brokers with publicly trusted certificates.
    WebPki,
    /// The operating system's trust store (on Linux the usual CA bundle
    /// files, `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured), read when the
    /// client connects.
    System,
    /// The CA certificates of a PEM document (one or more
    /// `-----BEGIN CERTIFICATE-----` blocks), e.g. a private CA.
    Pem(Vec<u8>),
}

/// TLS settings (Kafka's `SSL` and `SASL_SSL` security protocols).
///
/// The broker's certificate is always verified: it must chain to one of the
/// [roots](TlsRoots) and name the broker's host (DNS name or IP address, as
/// the client reaches it: the host from the bootstrap list or from
/// Metadata, before any [`broker_address_map`](crate::ClientConfig::broker_address_map)).
/// There is deliberately no switch that turns verification off.
///
/// ```no_run
/// # fn demo() -> kafkacc::Result<()> {
/// use kafkacc::security::{SaslConfig, TlsConfig};
/// let config = kafkacc::ClientConfig::new("broker.example.com:9093")
///     .tls(TlsConfig::ca_file("ca.pem")?.client_cert_files("client.pem", "client.key")?)
///     .sasl(SaslConfig::scram_sha512("alice", "alice-secret"));
/// # let _ = config; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The trusted CAs.
    pub roots: TlsRoots,
    /// A client certificate chain and key for brokers that require one
    /// (`ssl.client.auth=required`, "mTLS").
    pub client_cert: Option<ClientCert>,
    /// Verify (and send as SNI) this name instead of each broker's host:
    /// for brokers whose certificates all carry one name.
    pub server_name: Option<String>,
}

/// A client certificate chain with its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate chain, leaf first (PEM).
    pub chain_pem: Vec<u8>,
    key_pem: Secret<Vec<u8>>,
}

impl ClientCert {
    /// A chain and its private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub fn new(chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        ClientCert {
            chain_pem: chain_pem.into(),
            key_pem: Secret(key_pem.into()),
        }
    }

    /// The private key (PEM).
    pub fn key_pem(&self) -> &[u8] {
        &self.key_pem.0
    }
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCert")
            .field(
                "chain_pem",
                &format_args!("<{} bytes>", self.chain_pem.len()),
            )
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            roots: TlsRoots::WebPki,
            client_cert: None,
            server_name: None,
        }
    }
}

impl TlsConfig {
    /// TLS trusting the Mozilla root program's CAs.
    pub fn webpki_roots() -> Self {
        TlsConfig::default()
    }

    /// TLS trusting the operating system's CAs.
    pub fn system_roots() -> Self {
        TlsConfig {
            roots: TlsRoots::System,
            ..TlsConfig::default()
        }
    }

    /// TLS trusting the CA certificates in `pem`.
    pub fn ca_pem(pem: impl Into<Vec<u8>>) -> Self {
        TlsConfig {
            roots: TlsRoots::Pem(pem.into()),
            ..TlsConfig::default()
        }
    }

    /// TLS trusting the CA certificates in the PEM file at `path`
    /// (Java's `ssl.truststore.location` with `ssl.truststore.type=PEM`).
    pub fn ca_file(path: impl AsRef<Path>) -> Result<Self> {
        Ok(TlsConfig::ca_pem(read_file(path.as_ref(), "CA file")?))
    }

    /// Presents `chain_pem` with its private key `key_pem` to brokers that
    /// ask for a client certificate.
    pub fn client_cert_pem(
        mut self,
        chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_cert = Some(ClientCert::new(chain_pem, key_pem));
        self
    }

    /// [`client_cert_pem`](Self::client_cert_pem) with both read from files.
    pub fn client_cert_files(
        self,
        chain_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self> {
        let chain = read_file(chain_path.as_ref(), "client certificate file")?;
        let key = read_file(key_path.as_ref(), "client key file")?;
        Ok(self.client_cert_pem(chain, key))
    }

    /// Verifies (and sends as SNI) `name` for every broker instead of the
    /// broker's own host.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Config(format!("{what} {}: {e}", path.display())))
}

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616): the password travels as is; use it over TLS only.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628): a bearer token from
    /// [`SaslConfig::oauthbearer`]'s provider.
    OAuthBearer,
}

impl SaslMechanism {
    /// The name Kafka knows the mechanism by.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// SASL settings (Kafka's `SASL_PLAINTEXT` and, with TLS, `SASL_SSL`).
///
/// Every new connection authenticates right after the ApiVersions
/// handshake. When the broker limits the session
/// (`connections.max.reauth.ms`, KIP-368), the connection re-authenticates
/// by itself before the session expires.
#[derive(Clone)]
pub struct SaslConfig {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user name (for OAUTHBEARER, the principal, if known).
    pub username: String,
    password: Secret<String>,
    /// OAUTHBEARER's token source.
    token: Option<TokenProvider>,
    /// SASL extensions sent with an OAUTHBEARER token (KIP-342).
    extensions: Vec<(String, String)>,
    stats: Arc<Counters>,
}

/// What an OAUTHBEARER token provider returns: the token, or why there is
/// none.
pub type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<String, String>> + Send>>;

/// Where OAUTHBEARER tokens come from.
#[derive(Clone)]
struct TokenProvider(Arc<dyn Fn() -> TokenFuture + Send + Sync>);

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SaslConfig");
        d.field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password);
        if self.token.is_some() {
            d.field("token", &Secret(()));
        }
        if !self.extensions.is_empty() {
            d.field("extensions", &self.extensions);
        }
        d.finish()
    }
}

impl PartialEq for SaslConfig {
    fn eq(&self, other: &Self) -> bool {
        let same_provider = match (&self.token, &other.token) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.0, &b.0),
            (None, None) => true,
            _ => false,
        };
        self.mechanism == other.mechanism
            && self.username == other.username
            && self.password == other.password
            && self.extensions == other.extensions
            && same_provider
    }
}

#[derive(Debug, Default)]
struct Counters {
    authentications: AtomicU64,
    reauthentications: AtomicU64,
}

/// How often connections using one [`SaslConfig`] (and its clones)
/// authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SaslStats {
    /// Successful authentications of new connections.
    pub authentications: u64,
    /// Successful re-authentications of live connections (KIP-368).
    pub reauthentications: u64,
}

impl SaslConfig {
    /// SASL with `mechanism`, `username` and `password`.
    pub fn new(
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        SaslConfig {
            mechanism,
            username: username.into(),
            password: Secret(password.into()),
            token: None,
            extensions: Vec::new(),
            stats: Arc::default(),
        }
    }

    /// SASL/OAUTHBEARER with tokens from `provider`. It is called for every
    /// authentication, of a new connection and of a live one (KIP-368), so
    /// it can hand out a fresh token when the last one nears its expiry (or
    /// a cached one until then). The broker's session ends no later than
    /// the token does, and the connection re-authenticates before that.
    pub fn oauthbearer<F, Fut>(provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<String, String>> + Send + 'static,
    {
        SaslConfig {
            token: Some(TokenProvider(Arc::new(move || Box::pin(provider())))),
            ..SaslConfig::new(SaslMechanism::OAuthBearer, "", "")
        }
    }

    /// SASL/OAUTHBEARER with unsecured tokens (RFC 7515 `alg: none`) naming
    /// `principal`, each valid for `lifetime`: what a Kafka broker with the
    /// default OAUTHBEARER setup accepts. For development clusters only;
    /// anything real needs tokens from an identity provider
    /// ([`SaslConfig::oauthbearer`]).
    pub fn oauthbearer_unsecured(principal: impl Into<String>, lifetime: Duration) -> Self {
        let principal = principal.into();
        let subject = principal.clone();
        SaslConfig {
            username: principal,
            ..SaslConfig::oauthbearer(move || {
                let token = unsecured_token(&subject, SystemTime::now(), lifetime);
                async move { Ok(token) }
            })
        }
    }

    /// Adds a SASL extension sent with each OAUTHBEARER token (KIP-342),
    /// e.g. a logical cluster or identity pool a managed service asks for.
    /// Keys are letters only and `auth` is reserved; a bad one fails
    /// authentication with a message that says so.
    pub fn extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }

    /// A token from the OAUTHBEARER provider.
    pub(crate) async fn oauthbearer_token(&self) -> std::result::Result<String, String> {
        match &self.token {
            Some(provider) => (provider.0)().await,
            None => Err("no token provider (use SaslConfig::oauthbearer)".into()),
        }
    }

    /// The SASL extensions, in the order they were added.
    pub(crate) fn extensions(&self) -> &[(String, String)] {
        &self.extensions
    }

    /// SASL/PLAIN.
    pub fn plain(username: impl Into<String>, password: impl Into<String>) -> Self {
        SaslConfig::new(SaslMechanism::Plain, username, password)
    }

    /// SASL/SCRAM-SHA-256.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<String>) -> Self {
        SaslConfig::new(SaslMechanism::ScramSha256, username, password)
    }

    /// SASL/SCRAM-SHA-512.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<String>) -> Self {
        SaslConfig::new(SaslMechanism::ScramSha512, username, password)
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password.0
    }

    /// Authentication counts of every connection that used this config or
    /// a clone of it (clones share the counters).
    pub fn stats(&self) -> SaslStats {
        SaslStats {
            authentications: self.stats.authentications.load(Ordering::Relaxed),
            reauthentications: self.stats.reauthentications.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_authentication(&self, reauthentication: bool) {
        let counter = if reauthentication {
            &self.stats.reauthentications
        } else {
            &self.stats.authentications
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// An unsecured JSON Web Token (RFC 7515 `alg: none`, no signature) for
/// `principal` (the `sub` claim), issued at `issued_at` and expiring
/// `lifetime` later: the token [`SaslConfig::oauthbearer_unsecured`] sends.
pub fn unsecured_token(principal: &str, issued_at: SystemTime, lifetime: Duration) -> String {
    let iat = issued_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let exp = iat.saturating_add(lifetime.as_secs().max(1));
    let header = r#"{"alg":"none"}"#;
    let claims = format!(
        r#"{{"sub":{},"iat":{iat},"exp":{exp}}}"#,
        json_string(principal)
    );
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}.", b64.encode(header), b64.encode(claims))
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsecured_tokens_are_alg_none_jwts_with_sub_iat_and_exp() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = unsecured_token("ali\"ce", at, Duration::from_secs(3600));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token}");
        assert_eq!(parts[2], "", "no signature");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let decode =
            |part: &str| String::from_utf8(b64.decode(part).expect("base64url")).expect("utf-8");
        assert_eq!(decode(parts[0]), r#"{"alg":"none"}"#);
        assert_eq!(
            decode(parts[1]),
            r#"{"sub":"ali\"ce","iat":1700000000,"exp":1700003600}"#
        );
    }

    #[test]
    fn oauthbearer_configs_hide_the_token_and_call_the_provider() {
        let sasl = SaslConfig::oauthbearer(|| async { Ok("TOKEN-SECRET".to_owned()) })
            .extension("logicalCluster", "lkc-1");
        let text = format!("{sasl:?}");
        assert!(!text.contains("TOKEN-SECRET"), "{text}");
        assert!(text.contains("lkc-1"), "{text}");
        let token = futures::executor::block_on(sasl.oauthbearer_token());
        assert_eq!(token.as_deref(), Ok("TOKEN-SECRET"));
        assert_eq!(sasl, sasl.clone(), "clones share the provider");
        let other = SaslConfig::oauthbearer(|| async { Ok("TOKEN-SECRET".to_owned()) });
        assert_ne!(sasl, other);
        let none = futures::executor::block_on(SaslConfig::plain("a", "b").oauthbearer_token());
        assert!(none.is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let sasl = SaslConfig::scram_sha256("alice", "alice-secret");
        let tls = TlsConfig::ca_pem("CA").client_cert_pem("CHAIN", "PRIVATE-KEY-BYTES");
        let config = crate::ClientConfig::new("127.0.0.1:9092")
            .sasl(sasl.clone())
            .tls(tls.clone());
        for text in [
            format!("{sasl:?}"),
            format!("{sasl:#?}"),
            format!("{tls:?}"),
            format!("{config:?}"),
            format!("{config:#?}"),
        ] {
            assert!(!text.contains("alice-secret"), "{text}");
            assert!(!text.contains("PRIVATE-KEY-BYTES"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
        assert!(format!("{sasl:?}").contains("alice"));
        assert_eq!(sasl.password(), "alice-secret");
    }
}
