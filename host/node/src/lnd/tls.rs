//! TLS to LND by pinning its exact certificate.
//!
//! LND generates a self-signed certificate that is marked as a CA. Trusting
//! it as a root does not work with rustls/webpki: the end-entity check fails
//! with `CaUsedAsEndEntity`. And trusting it "as a root" would be the wrong
//! statement anyway: the operator trusts this one certificate, not whatever
//! it might sign. So the verifier accepts exactly the pinned DER bytes and
//! nothing else (no name or expiry checks: the pin is the trust decision),
//! and still verifies the handshake signature against the certificate's key,
//! which proves the server holds the private key.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

#[derive(Debug, thiserror::Error)]
pub enum CertificateFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} holds no certificate (expected LND's PEM tls.cert)")]
    Empty { path: String },
}

/// Reads the first certificate of a PEM file (LND's `tls.cert`), or the
/// file itself if it is DER.
pub fn load_certificate(path: &Path) -> Result<CertificateDer<'static>, CertificateFileError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| CertificateFileError::Read {
        path: shown.clone(),
        source,
    })?;
    if let Some(Ok(cert)) = CertificateDer::pem_slice_iter(&bytes).next() {
        return Ok(cert);
    }
    // A DER certificate is an ASN.1 SEQUENCE.
    if bytes.first() == Some(&0x30) {
        return Ok(CertificateDer::from(bytes));
    }
    Err(CertificateFileError::Empty { path: shown })
}

/// SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(cert: &[u8]) -> String {
    let digest = Sha256::digest(cert);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// The server presented a certificate other than the pinned one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the node's TLS certificate does not match the pinned tls.cert \
     (pinned sha256 {pinned}, presented sha256 {presented}); if LND regenerated \
     its certificate, copy the new tls.cert"
)]
pub struct PinMismatch {
    pub pinned: String,
    pub presented: String,
}

/// Accepts exactly one certificate, then checks the handshake signature.
pub struct PinnedCertVerifier {
    pinned: Mutex<CertificateDer<'static>>,
    /// The file the pin was read from, read again when the node presents another
    /// certificate: LND rewrites its `tls.cert` when it regenerates the certificate (expiry,
    /// `tlsautorefresh`, a new domain), and the file is what the operator trusts.
    source: PathBuf,
    algorithms: WebPkiSupportedAlgorithms,
    /// The last mismatch seen, so a failed connect can report it as such
    /// instead of as an opaque transport error.
    mismatch: Mutex<Option<PinMismatch>>,
}

impl fmt::Debug for PinnedCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedCertVerifier")
            .field(
                "pinned",
                &fingerprint(&self.pinned.lock().expect("pin lock")),
            )
            .field("source", &self.source)
            .finish()
    }
}

impl PinnedCertVerifier {
    /// Pins `pinned`, read from `source` (read again on a mismatch).
    pub fn new(
        pinned: CertificateDer<'static>,
        source: PathBuf,
        provider: &CryptoProvider,
    ) -> Self {
        PinnedCertVerifier {
            pinned: Mutex::new(pinned),
            source,
            algorithms: provider.signature_verification_algorithms,
            mismatch: Mutex::new(None),
        }
    }

    /// Whether the pin's file now holds `presented`: then it is the new pin.
    fn repinned(&self, presented: &CertificateDer<'_>) -> bool {
        let path = &self.source;
        match load_certificate(path) {
            Ok(cert) if cert.as_ref() == presented.as_ref() => {
                tracing::info!(
                    path = %path.display(),
                    sha256 = %fingerprint(&cert),
                    "LND presented a new certificate, which its tls.cert holds now: pinned it"
                );
                *self.pinned.lock().expect("pin lock") = cert;
                true
            }
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(%error, "reading tls.cert again after a certificate mismatch");
                false
            }
        }
    }

    /// The mismatch behind the most recent failed handshake, if that was why.
    pub fn last_mismatch(&self) -> Option<PinMismatch> {
        self.mismatch.lock().expect("mismatch lock").clone()
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned = self.pinned.lock().expect("pin lock").clone();
        if end_entity.as_ref() == pinned.as_ref() || self.repinned(end_entity) {
            *self.mismatch.lock().expect("mismatch lock") = None;
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = PinMismatch {
            pinned: fingerprint(&pinned),
            presented: fingerprint(end_entity),
        };
        *self.mismatch.lock().expect("mismatch lock") = Some(mismatch.clone());
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(mismatch)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The ring provider, named explicitly so nothing depends on a process-wide
/// default provider being installed.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config that trusts only `verifier`'s certificate and speaks
/// HTTP/2 (gRPC servers, LND's included, require the `h2` ALPN).
pub fn client_config(verifier: Arc<PinnedCertVerifier>) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

/// Connects TCP, then TLS with the pinned config; tonic runs HTTP/2 on top.
/// tonic's channel calls this again whenever it has to reconnect.
#[derive(Clone)]
pub struct PinnedTlsConnector {
    tls: TlsConnector,
}

impl PinnedTlsConnector {
    pub fn new(config: rustls::ClientConfig) -> Self {
        PinnedTlsConnector {
            tls: TlsConnector::from(Arc::new(config)),
        }
    }

    pub async fn connect(&self, uri: Uri) -> io::Result<TokioIo<TlsStream<TcpStream>>> {
        let host = uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "address without host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(10009);
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        // The verifier ignores the name; it only has to be well-formed
        // (an IP address is sent without SNI).
        let name = ServerName::try_from(host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tls = self.tls.connect(name, tcp).await?;
        Ok(TokioIo::new(tls))
    }
}
