//! The `inference` section: how the endpoint picker (EPP) of an InferencePool is reached.
//!
//! Everything else about a pool comes from the pool object itself (its EPP Service, port,
//! failure mode and body mode); what is configured here is what the pool cannot say: how long
//! Envoy waits for the picker, and whether Envoy checks the picker's certificate. GIE's EPP
//! serves TLS with a self-signed certificate by default, so the default, like the Envoy AI
//! Gateway's and GIE's own reference configuration, is not to verify it.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, invalid, positive_duration};

/// Default ext_proc `message_timeout` of an endpoint picker filter. GIE's EPP may hold a
/// request's headers while its flow control queues the request for capacity, so the picker
/// answering late is normal; the AI Gateway uses the same 300 s.
pub const DEFAULT_EPP_MESSAGE_TIMEOUT: Duration = Duration::from_secs(300);

/// How the hook wires InferencePool endpoint pickers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferenceConfig {
    /// ext_proc `message_timeout` of every endpoint picker filter.
    pub message_timeout: Duration,
    /// How Envoy checks the picker's certificate.
    pub endpoint_picker_tls: EndpointPickerTls,
}

/// Whether Envoy verifies the endpoint picker's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointPickerTls {
    /// TLS without verification: GIE's EPP serves a self-signed certificate.
    Unverified,
    /// The chain must lead to a CA in `ca_file` (a path in the Envoy proxy's file system) and
    /// name the picker's Service host, `<name>.<namespace>.svc`.
    Verified {
        /// PEM CA bundle, as Envoy's `trusted_ca.filename`.
        ca_file: String,
    },
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            message_timeout: DEFAULT_EPP_MESSAGE_TIMEOUT,
            endpoint_picker_tls: EndpointPickerTls::Unverified,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawInference {
    message_timeout: Option<String>,
    #[serde(default)]
    endpoint_picker_tls: RawEndpointPickerTls,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEndpointPickerTls {
    ca_file: Option<String>,
}

impl RawInference {
    pub(super) fn validate(self) -> Result<InferenceConfig, ConfigError> {
        let RawInference {
            message_timeout,
            endpoint_picker_tls: RawEndpointPickerTls { ca_file },
        } = self;
        let message_timeout = positive_duration(
            "inference.messageTimeout",
            message_timeout,
            DEFAULT_EPP_MESSAGE_TIMEOUT,
        )?;
        let endpoint_picker_tls = match ca_file {
            None => EndpointPickerTls::Unverified,
            Some(path) if !path.starts_with('/') => {
                return Err(invalid(
                    "inference.endpointPickerTls.caFile",
                    format!("{path:?} must be an absolute path in the Envoy proxy's file system"),
                ));
            }
            Some(ca_file) => EndpointPickerTls::Verified { ca_file },
        };
        Ok(InferenceConfig {
            message_timeout,
            endpoint_picker_tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Config::default().inference, InferenceConfig::default());
        let c = Config::from_yaml(
            "inference:\n  messageTimeout: 30s\n  endpointPickerTls:\n    caFile: /etc/epp/ca.pem\n",
        )
        .unwrap();
        assert_eq!(c.inference.message_timeout, Duration::from_secs(30));
        assert_eq!(
            c.inference.endpoint_picker_tls,
            EndpointPickerTls::Verified {
                ca_file: "/etc/epp/ca.pem".to_owned()
            }
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (yaml, key) in [
            (
                "inference:\n  messageTimeout: 0s\n",
                "inference.messageTimeout",
            ),
            (
                "inference:\n  messageTimeout: soon\n",
                "inference.messageTimeout",
            ),
            (
                "inference:\n  endpointPickerTls:\n    caFile: ca.pem\n",
                "inference.endpointPickerTls.caFile",
            ),
        ] {
            let e = Config::from_yaml(yaml).unwrap_err().to_string();
            assert!(e.starts_with(key), "{yaml:?} gave {e}");
        }
        let e = Config::from_yaml("inference:\n  caFile: /x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("caFile"), "{e}");
    }
}
