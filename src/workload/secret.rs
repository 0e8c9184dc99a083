//! Generated TLS secrets, the ones HTTPS chains name through SDS.
//!
//! The certificate is filler shaped and sized like a PEM certificate (EG inlines the
//! Kubernetes Secret's bytes): the hook never reads secrets, so only their count and size
//! matter, and no key material is ever generated.

use envoy_types::pb::envoy::config::core::v3::{DataSource, data_source};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    Secret, TlsCertificate, secret,
};
use prost::Message;

use super::Spec;
use super::names;

/// Bytes of filler per certificate, about a 2048-bit RSA certificate in PEM.
const CERTIFICATE_BYTES: usize = 1_100;

/// The name of secret number `index`.
pub(super) fn name(spec: &Spec, index: usize) -> String {
    format!("{}/tls-{index}", names::namespace(spec, index))
}

/// Secret number `index` of `spec`.
pub(super) fn secret(spec: &Spec, index: usize) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    let mut bits = names::draw(spec.seed, 3, index);
    for i in 0..CERTIFICATE_BYTES {
        if i % 64 == 63 {
            pem.push(b'\n');
            bits = names::draw(bits, 3, i);
            continue;
        }
        let letter = usize::try_from(bits % 64).unwrap_or(0);
        pem.push(alphabet.get(letter).copied().unwrap_or(b'A'));
        bits = bits.rotate_right(6);
    }
    pem.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
    let inline = |bytes: Vec<u8>| DataSource {
        specifier: Some(data_source::Specifier::InlineBytes(bytes)),
        ..Default::default()
    };
    Secret {
        name: name(spec, index),
        r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
            certificate_chain: Some(inline(pem)),
            private_key: Some(inline(b"[redacted]".to_vec())),
            ..Default::default()
        })),
    }
    .encode_to_vec()
}
