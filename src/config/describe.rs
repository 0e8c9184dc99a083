//! The effective configuration, written back as the YAML the file takes (`xds-hook config`).
//!
//! Written through serde, mirroring the file's schema key for key, so that what it prints
//! reads back as the same configuration (a test holds it to that) and no value is ever
//! formatted by hand into YAML.

use serde::Serialize;

use super::{Config, EndpointPickerTls, ListenAddr};

/// `Config`, in the file's shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    selection: Selection,
    ext_proc: ExtProc,
    inference: Inference,
    server: Server,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inference {
    message_timeout: String,
    endpoint_picker_tls: EndpointPickerTlsShown,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointPickerTlsShown {
    /// `null`: the picker's certificate is not verified.
    ca_file: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selection {
    route_annotation: String,
    gateway_namespaces: Option<Vec<String>>,
    gateway_annotation: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtProc {
    filter_name: String,
    cluster_name: String,
    socket_path: String,
    message_timeout: String,
    metadata_namespace: String,
    placement: Placement,
}

#[derive(Serialize)]
struct Placement {
    after: Vec<String>,
    before: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Server {
    listen: Vec<String>,
    admin_listen: Option<String>,
    max_message_bytes: usize,
    max_concurrent_calls: usize,
    max_queued_calls: usize,
    queue_timeout: String,
    max_call_time: String,
    config_reload_interval: String,
    shutdown_grace: String,
    tls: Option<Tls>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tls {
    cert_file: String,
    key_file: String,
    client_ca_file: Option<String>,
    reload_interval: String,
}

fn duration(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Why the configuration could not be written (serialisation of plain data; not expected).
#[derive(Debug, thiserror::Error)]
#[error("writing the configuration as YAML: {0}")]
pub struct DescribeError(String);

impl Config {
    /// The configuration as the YAML file that would give it.
    pub fn to_yaml(&self) -> Result<String, DescribeError> {
        let Config {
            selection,
            ext_proc,
            inference,
            server,
        } = self;
        let shown = Shown {
            selection: Selection {
                route_annotation: selection.route_annotation.clone(),
                gateway_namespaces: selection
                    .gateway_namespaces
                    .as_ref()
                    .map(|set| set.iter().cloned().collect()),
                gateway_annotation: selection.gateway_annotation.clone(),
            },
            ext_proc: ExtProc {
                filter_name: ext_proc.filter_name.clone(),
                cluster_name: ext_proc.cluster_name.clone(),
                socket_path: ext_proc.socket_path.clone(),
                message_timeout: duration(ext_proc.message_timeout),
                metadata_namespace: ext_proc.metadata_namespace.clone(),
                placement: Placement {
                    after: ext_proc.placement.after.clone(),
                    before: ext_proc.placement.before.clone(),
                },
            },
            inference: Inference {
                message_timeout: duration(inference.message_timeout),
                endpoint_picker_tls: EndpointPickerTlsShown {
                    ca_file: match &inference.endpoint_picker_tls {
                        EndpointPickerTls::Unverified => None,
                        EndpointPickerTls::Verified { ca_file } => Some(ca_file.clone()),
                    },
                },
            },
            server: Server {
                listen: server.listen.iter().map(ListenAddr::to_string).collect(),
                admin_listen: server.admin_listen.map(|a| a.to_string()),
                max_message_bytes: server.max_message_bytes,
                max_concurrent_calls: server.max_concurrent_calls,
                max_queued_calls: server.max_queued_calls,
                queue_timeout: duration(server.queue_timeout),
                max_call_time: duration(server.max_call_time),
                config_reload_interval: duration(server.config_reload_interval),
                shutdown_grace: duration(server.shutdown_grace),
                tls: server.tls.as_ref().map(|t| Tls {
                    cert_file: t.cert_file.display().to_string(),
                    key_file: t.key_file.display().to_string(),
                    client_ca_file: t.client_ca_file.as_ref().map(|p| p.display().to_string()),
                    reload_interval: duration(t.reload_interval),
                }),
            },
        };
        serde_saphyr::to_string(&shown).map_err(|e| DescribeError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_it_prints_reads_back_as_the_same_configuration() {
        let configs = [
            Config::default(),
            Config::from_yaml(
                "selection:\n  gatewayNamespaces: [team-a, envoy-gateway]\n  gatewayAnnotation: managed\n\
                 extProc:\n  messageTimeout: 2500ms\n  placement:\n    after: [jwt_authn, lua]\n\
                 inference:\n  messageTimeout: 1m\n  endpointPickerTls:\n    caFile: /etc/epp/ca.crt\n\
                 server:\n  listen: [127.0.0.1:9000, unix:///run/h.sock]\n  adminListen: null\n  \
                 queueTimeout: 1m 30s\n  tls:\n    certFile: /t/tls.crt\n    keyFile: /t/tls.key\n    clientCaFile: /t/ca.crt\n",
            )
            .unwrap(),
        ];
        for config in configs {
            let yaml = config.to_yaml().unwrap();
            assert_eq!(Config::from_yaml(&yaml).unwrap(), config, "{yaml}");
        }
    }
}
