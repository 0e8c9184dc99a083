//! The real binary over TLS: server TLS, mTLS refusing clients without a certificate, and
//! certificate rotation on disk picked up without a restart. Certificates are made here.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use xds_hook::contract::PostTranslateModifyRequest;

use crate::daemon::harness::{Daemon, RawH2, client};
use crate::daemon::late_frames_after_sigterm;

/// A CA that signs server and client certificates.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap().pem();
        Leaf {
            cert,
            key: key.serialize_pem(),
        }
    }

    fn server(&self) -> Leaf {
        self.leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn client(&self) -> Leaf {
        self.leaf(&["envoy-gateway"], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// Writes a file the way kubelet updates a Secret volume: a new file renamed into place.
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn tls_config(dir: &Path, server: &Leaf, client_ca: Option<&Ca>) -> String {
    replace(&dir.join("tls.crt"), &server.cert);
    replace(&dir.join("tls.key"), &server.key);
    let mut config = format!(
        "server:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  tls:\n    certFile: {}\n    keyFile: {}\n    reloadInterval: 100ms\n",
        dir.join("tls.crt").display(),
        dir.join("tls.key").display()
    );
    if let Some(ca) = client_ca {
        replace(&dir.join("ca.crt"), &ca.pem);
        config.push_str(&format!(
            "    clientCaFile: {}\n",
            dir.join("ca.crt").display()
        ));
    }
    config
}

/// Connects over TLS trusting `ca`, optionally with a client certificate, and makes one call.
async fn call(daemon: &Daemon, ca: &Ca, identity: Option<&Leaf>) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost");
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(&leaf.cert, &leaf.key));
    }
    let endpoint = Endpoint::from_shared(format!("https://{}", daemon.tcp()))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    client(channel)
        .post_translate_modify(PostTranslateModifyRequest::default())
        .await
        .map(|_| ())
        .map_err(|e| format!("call: {e:?}"))
}

#[tokio::test]
async fn tls_serves_and_mtls_refuses_a_client_without_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let config = tls_config(dir.path(), &server_ca.server(), Some(&client_ca));
    let daemon = Daemon::start(dir.path(), &config);

    let good = client_ca.client();
    call(&daemon, &server_ca, Some(&good)).await.unwrap();
    let refused = call(&daemon, &server_ca, None).await;
    assert!(
        refused.is_err(),
        "a client without a certificate got through"
    );
    let stranger = Ca::new("other CA").client();
    let refused = call(&daemon, &server_ca, Some(&stranger)).await;
    assert!(
        refused.is_err(),
        "a certificate from another CA got through"
    );

    // Plaintext against a TLS listener gets nowhere either.
    let plain = Endpoint::from_shared(format!("http://{}", daemon.tcp()))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5));
    let plaintext = match plain.connect().await {
        Ok(channel) => client(channel)
            .post_translate_modify(PostTranslateModifyRequest::default())
            .await
            .is_err(),
        Err(_) => true,
    };
    assert!(plaintext, "plaintext got an answer from a TLS listener");
}

/// The lingering close over TLS: after the server's close_notify and FIN, frames from the
/// client are read, not answered with a reset (see the same test in `daemon` for TCP and Unix).
#[tokio::test]
async fn frames_a_client_sends_after_the_servers_close_notify_are_read_not_reset() {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject as _};
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("server CA");
    let daemon = Daemon::start(dir.path(), &tls_config(dir.path(), &ca.server(), None));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(daemon.tcp()).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    late_frames_after_sigterm(daemon, RawH2::handshake(tls).await).await;
}

#[tokio::test]
async fn rotated_certificates_are_used_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = Ca::new("old CA");
    let new_ca = Ca::new("new CA");
    let daemon = Daemon::start(dir.path(), &tls_config(dir.path(), &old_ca.server(), None));
    call(&daemon, &old_ca, None).await.unwrap();
    let open = Endpoint::from_shared(format!("https://{}", daemon.tcp()))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&old_ca.pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();

    let rotated = new_ca.server();
    replace(&dir.path().join("tls.key"), &rotated.key);
    replace(&dir.path().join("tls.crt"), &rotated.cert);
    let deadline = Instant::now() + Duration::from_secs(15);
    while call(&daemon, &new_ca, None).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "rotation not picked up; log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        call(&daemon, &old_ca, None).await.is_err(),
        "old certificate still served"
    );
    // The connection made before the rotation is still served.
    client(open)
        .post_translate_modify(PostTranslateModifyRequest::default())
        .await
        .unwrap();
    let (_, metrics) = daemon.admin_get("/metrics");
    assert!(
        metrics.contains("xds_hook_tls_reloads_total{result=\"success\"}"),
        "{metrics}"
    );
}
