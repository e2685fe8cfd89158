//! TLS for broker connections through rustls (the `tls` feature).
//!
//! The rustls config is built once per client from [`TlsConfig`]; every
//! connection then verifies the broker's certificate against the broker's
//! own host name (or [`TlsConfig::server_name`]), which is also sent as SNI.
//! Without the feature, [`TlsConnector`] has no values and asking for TLS
//! is a configuration error.

use crate::error::{Error, Result};
use crate::security::TlsConfig;

#[cfg(feature = "tls")]
pub(crate) use imp::{TlsConnector, tls_failure};

#[cfg(not(feature = "tls"))]
pub(crate) use stub::{TlsConnector, tls_failure};

/// The connector for `config`, if TLS is asked for.
pub(crate) fn connector(
    config: Option<&TlsConfig>,
) -> Result<Option<std::sync::Arc<TlsConnector>>> {
    config
        .map(|c| TlsConnector::new(c).map(std::sync::Arc::new))
        .transpose()
}

#[cfg(feature = "tls")]
mod imp {
    use super::*;
    use crate::security::TlsRoots;
    use rustls::RootCertStore;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use std::sync::Arc;
    use tokio::net::TcpStream;
    use tokio_rustls::client::TlsStream;

    /// A rustls client config ready to wrap TCP streams.
    pub(crate) struct TlsConnector {
        connector: tokio_rustls::TlsConnector,
        server_name: Option<ServerName<'static>>,
    }

    impl std::fmt::Debug for TlsConnector {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TlsConnector")
                .field("server_name", &self.server_name)
                .finish_non_exhaustive()
        }
    }

    fn config_error(reason: impl std::fmt::Display) -> Error {
        Error::Config(format!("TLS: {reason}"))
    }

    impl TlsConnector {
        pub(crate) fn new(config: &TlsConfig) -> Result<Self> {
            let mut roots = RootCertStore::empty();
            match &config.roots {
                TlsRoots::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                TlsRoots::System => {
                    let found = rustls_native_certs::load_native_certs();
                    // Unparsable entries in a system store are common; the
                    // usable ones are enough.
                    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                    if added == 0 {
                        return Err(config_error(format!(
                            "no usable CA certificate in the system trust store ({} errors)",
                            found.errors.len()
                        )));
                    }
                }
                TlsRoots::Pem(pem) => {
                    for cert in CertificateDer::pem_slice_iter(pem) {
                        let cert =
                            cert.map_err(|e| config_error(format!("CA certificates: {e}")))?;
                        roots
                            .add(cert)
                            .map_err(|e| config_error(format!("CA certificate: {e}")))?;
                    }
                    if roots.is_empty() {
                        return Err(config_error("no CA certificate in the PEM given"));
                    }
                }
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(config_error)?
                .with_root_certificates(roots);
            let client = match &config.client_cert {
                None => builder.with_no_client_auth(),
                Some(cert) => {
                    let chain = CertificateDer::pem_slice_iter(&cert.chain_pem)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| config_error(format!("client certificate: {e}")))?;
                    if chain.is_empty() {
                        return Err(config_error("no certificate in the client certificate PEM"));
                    }
                    // The key's parse error is not printed: it could quote the key.
                    let key = PrivateKeyDer::from_pem_slice(cert.key_pem())
                        .map_err(|_| config_error("the client key is not a PEM private key"))?;
                    builder
                        .with_client_auth_cert(chain, key)
                        .map_err(|e| config_error(format!("client certificate: {e}")))?
                }
            };
            let server_name = config
                .server_name
                .as_deref()
                .map(|name| {
                    ServerName::try_from(name.to_owned())
                        .map_err(|e| config_error(format!("server name {name:?}: {e}")))
                })
                .transpose()?;
            Ok(TlsConnector {
                connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
                server_name,
            })
        }

        /// The TLS handshake over `tcp` with the broker known as `host`.
        pub(crate) async fn connect(
            &self,
            addr: &str,
            host: &str,
            tcp: TcpStream,
        ) -> Result<TlsStream<TcpStream>> {
            let tls_error = |reason: String| Error::Tls {
                addr: addr.to_owned(),
                reason,
            };
            let name = match &self.server_name {
                Some(name) => name.clone(),
                None => ServerName::try_from(host.to_owned())
                    .map_err(|e| tls_error(format!("host {host:?} is no TLS server name: {e}")))?,
            };
            self.connector.connect(name, tcp).await.map_err(|e| {
                tls_error(tls_failure(&e).unwrap_or_else(|| format!("handshake failed: {e}")))
            })
        }
    }

    /// The TLS reason behind an I/O error, if TLS caused it (a bad
    /// certificate, or an alert from the broker such as a refused client
    /// certificate, which TLS 1.3 reports only after the handshake).
    pub(crate) fn tls_failure(e: &std::io::Error) -> Option<String> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(|tls| match tls {
                rustls::Error::InvalidCertificate(why) => {
                    format!("broker certificate rejected: {why:?}")
                }
                rustls::Error::AlertReceived(alert) => format!("broker sent TLS alert {alert:?}"),
                other => other.to_string(),
            })
    }
}

#[cfg(not(feature = "tls"))]
mod stub {
    use super::*;
    use tokio::net::TcpStream;

    /// Without the `tls` feature there is no connector.
    #[derive(Debug)]
    pub(crate) enum TlsConnector {}

    impl TlsConnector {
        pub(crate) fn new(_: &TlsConfig) -> Result<Self> {
            Err(Error::Config(
                "TLS needs kafkacc built with the `tls` feature".into(),
            ))
        }

        pub(crate) async fn connect(&self, _: &str, _: &str, _: TcpStream) -> Result<TcpStream> {
            match *self {}
        }
    }

    pub(crate) fn tls_failure(_: &std::io::Error) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(config: &TlsConfig) -> String {
        match connector(Some(config)) {
            Err(Error::Config(reason)) => reason,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn no_tls_asked_no_connector() {
        assert!(connector(None).unwrap().is_none());
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn tls_without_the_feature_is_a_config_error() {
        assert!(config_error(&TlsConfig::webpki_roots()).contains("`tls` feature"));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn unusable_pem_is_a_config_error_that_never_quotes_the_key() {
        assert!(config_error(&TlsConfig::ca_pem("no certificate here")).contains("no CA"));
        let with_key = TlsConfig::webpki_roots().client_cert_pem(
            "no certificate",
            "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n",
        );
        let reason = config_error(&with_key);
        assert!(!reason.contains("SECRET-KEY-MATERIAL"), "{reason}");
        assert!(
            connector(Some(&TlsConfig::webpki_roots()))
                .unwrap()
                .is_some()
        );
        assert!(
            config_error(&TlsConfig::webpki_roots().server_name("not a name!"))
                .contains("server name")
        );
    }

    /// The SNI a client sends, as a TLS server on 127.0.0.1 sees it.
    #[cfg(feature = "tls")]
    mod sni {
        use super::*;
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::sync::Arc;
        use tokio::net::{TcpListener, TcpStream};

        /// A self-signed certificate for `localhost` and `127.0.0.1`:
        /// (certificate PEM, key PEM).
        fn certificate() -> (String, String) {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let rcgen::CertifiedKey { cert, signing_key } =
                rcgen::generate_simple_self_signed(names).expect("generate a certificate");
            (cert.pem(), signing_key.serialize_pem())
        }

        /// A TLS server on 127.0.0.1 presenting `cert`, and what it
        /// reports after one handshake: the SNI the client sent, if any.
        async fn server(
            (cert, key): &(String, String),
        ) -> (String, tokio::task::JoinHandle<Option<String>>) {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("certificate PEM");
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key PEM");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("server config");
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local addr").to_string();
            let handshake = tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.expect("accept");
                let tls = acceptor.accept(tcp).await.expect("server handshake");
                tls.get_ref().1.server_name().map(str::to_owned)
            });
            (addr, handshake)
        }

        /// The SNI the server saw when the client connected to the broker
        /// known as `host` (dialing 127.0.0.1) with `config`.
        async fn sni_sent(
            config: TlsConfig,
            cert: &(String, String),
            host: &str,
        ) -> Option<String> {
            let (addr, handshake) = server(cert).await;
            let connector = TlsConnector::new(&config).expect("connector");
            let tcp = TcpStream::connect(&addr).await.expect("dial");
            let stream = connector
                .connect(&addr, host, tcp)
                .await
                .expect("the client verifies the certificate");
            let sni = tokio::time::timeout(std::time::Duration::from_secs(10), handshake)
                .await
                .expect("the server finishes its handshake")
                .expect("server task");
            drop(stream);
            sni
        }

        #[tokio::test]
        async fn the_configured_server_name_is_sent_as_sni() {
            let cert = certificate();
            let config = TlsConfig::ca_pem(cert.0.clone()).server_name("localhost");
            assert_eq!(
                sni_sent(config, &cert, "127.0.0.1").await.as_deref(),
                Some("localhost")
            );
        }

        #[tokio::test]
        async fn the_brokers_host_name_is_sent_as_sni() {
            let cert = certificate();
            let config = TlsConfig::ca_pem(cert.0.clone());
            assert_eq!(
                sni_sent(config, &cert, "localhost").await.as_deref(),
                Some("localhost")
            );
        }

        /// rustls sends no SNI for an IP address (RFC 6066 forbids it);
        /// the certificate is still verified against the address.
        #[tokio::test]
        async fn no_sni_is_sent_to_an_ip_address() {
            let cert = certificate();
            let config = TlsConfig::ca_pem(cert.0.clone());
            assert_eq!(sni_sent(config, &cert, "127.0.0.1").await, None);
        }
    }
}
