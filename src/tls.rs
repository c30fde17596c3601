//! TLS client settings, shared by the TCP sender (`tls://`) and the WebSocket input (`wss://`):
//! which servers to trust, which certificate to present, and errors that name the file or the
//! check that failed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// How to speak TLS to a server. The default verifies the server against the bundled web roots
/// (Mozilla's list) under the name in the endpoint, and presents no client certificate.
///
/// ```
/// use telemit::tls::TlsOptions;
///
/// let error = TlsOptions {
///     ca_file: Some("/nonexistent/ca.pem".into()),
///     ..TlsOptions::default()
/// }
/// .client_config()
/// .unwrap_err();
/// assert!(error.to_string().starts_with("CA file /nonexistent/ca.pem: cannot read it"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of CA certificates to trust besides the bundled roots (a private CA, as
    /// Telegraf's `tls_cert` is usually signed by).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for servers that require one (Telegraf's
    /// `tls_allowed_cacerts`). Needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name to verify the server's certificate against and to send as SNI, when it is not
    /// the host in the endpoint (for example when connecting by IP address).
    pub server_name: Option<String>,
}

/// A TLS setting that cannot be used, with the file and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable, or holds no usable PEM item.
    #[error("{what} {path}: {reason}")]
    File {
        /// Which file: "CA file", "client certificate", "client key".
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Settings that do not go together, or a server name that is not one.
    #[error("{0}")]
    Settings(String),
}

impl TlsOptions {
    /// True when any setting is given.
    pub fn is_set(&self) -> bool {
        *self != TlsOptions::default()
    }

    /// The rustls client configuration these options describe, with every file read and
    /// checked now rather than at the first connection.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &self.ca_file {
            add_authorities(&mut roots, path, "CA file")?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Settings(e.to_string()))?
            .with_root_certificates(roots);
        let config = match (&self.cert_file, &self.key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = read_certificates(cert, "client certificate")?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
                    what: "client key",
                    path: key.clone(),
                    reason: pem_reason(&e, "private key"),
                })?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| TlsError::File {
                        what: "client key",
                        path: key.clone(),
                        reason: format!("cannot be used with {}: {e}", cert.display()),
                    })?
            }
            (Some(_), None) => {
                return Err(TlsError::Settings(
                    "a client certificate needs its key: give the key file too".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(TlsError::Settings(
                    "a client key needs its certificate: give the certificate file too".into(),
                ));
            }
        };
        Ok(Arc::new(config))
    }

    /// The name the server's certificate must carry: `server_name` if given, else `host`.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        // An IPv6 literal comes from the endpoint in brackets.
        let name = name.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(name.to_owned())
            .map_err(|_| TlsError::Settings(format!("{name:?} is not a valid TLS server name")))
    }
}

/// The one cryptography provider telemit builds with (ring), for clients and servers alike.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Adds every certificate in the PEM file at `path` to `roots` as a trusted authority.
fn add_authorities(
    roots: &mut rustls::RootCertStore,
    path: &Path,
    what: &'static str,
) -> Result<(), TlsError> {
    for certificate in read_certificates(path, what)? {
        roots.add(certificate).map_err(|e| TlsError::File {
            what,
            path: path.to_owned(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(())
}

fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |reason: String| TlsError::File {
        what,
        path: path.to_owned(),
        reason,
    };
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(pem_reason(&e, "certificate")))?
        .collect::<Result<_, _>>()
        .map_err(|e| error(pem_reason(&e, "certificate")))?;
    if certificates.is_empty() {
        return Err(error(
            "no certificate in it (expected -----BEGIN CERTIFICATE----- blocks)".into(),
        ));
    }
    Ok(certificates)
}

fn pem_reason(error: &rustls::pki_types::pem::Error, item: &str) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::Io(e) => format!("cannot read it: {e}"),
        Error::NoItemsFound => format!("no {item} in it (expected a PEM block)"),
        other => format!("not valid PEM: {other}"),
    }
}

/// A person's reading of a failed handshake or a fatal alert, with what to do about it.
pub(crate) fn explain(error: &rustls::Error, server_name: &str) -> String {
    use rustls::{AlertDescription, CertificateError, Error};
    let hint = match error {
        Error::InvalidCertificate(CertificateError::NotValidForName)
        | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => format!(
            "the server's certificate is not valid for the name {server_name:?}; connect by a \
             name it lists, or set the expected name (--tls-server-name)"
        ),
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by a trusted CA; give its CA certificate \
             (--tls-ca)"
                .to_owned()
        }
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the server's certificate has expired".to_owned(),
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "the server's certificate is not valid yet (check both clocks)".to_owned(),
        Error::AlertReceived(
            AlertDescription::CertificateRequired | AlertDescription::HandshakeFailure,
        ) => {
            "the server requires a client certificate; give one (--tls-cert, --tls-key)".to_owned()
        }
        Error::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown,
        ) => "the server does not accept this client certificate (is it signed by a CA in \
              Telegraf's tls_allowed_cacerts?)"
            .to_owned(),
        _ => return format!("TLS: {error}"),
    };
    format!("TLS: {hint} ({error})")
}

/// How a listener speaks TLS, as Telegraf's `tls_cert`, `tls_key` and `tls_allowed_cacerts`:
/// its certificate and key, and, when `client_ca_file` is given, a client certificate signed
/// by one of those CAs is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerOptions {
    /// PEM certificate chain the listener presents.
    pub cert_file: PathBuf,
    /// PEM private key of `cert_file`.
    pub key_file: PathBuf,
    /// PEM CA certificates that client certificates must chain to.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsServerOptions {
    /// The rustls server configuration, with every file read and checked now.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Settings(e.to_string()))?;
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                add_authorities(&mut roots, path, "client CA file")?;
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| TlsError::Settings(format!("client CA file: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let chain = read_certificates(&self.cert_file, "certificate")?;
        let key = PrivateKeyDer::from_pem_file(&self.key_file).map_err(|e| TlsError::File {
            what: "key",
            path: self.key_file.clone(),
            reason: pem_reason(&e, "private key"),
        })?;
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::File {
                what: "key",
                path: self.key_file.clone(),
                reason: format!("cannot be used with {}: {e}", self.cert_file.display()),
            })?;
        Ok(Arc::new(config))
    }
}
