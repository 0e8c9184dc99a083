//! Request and response files for the offline CLI and the tests.
//!
//! Three encodings, chosen by file extension: `.pb` (the gRPC message bytes, lossless), and
//! `.json` / `.yaml` in canonical proto3 JSON with `Any` as `@type` (the shape `egctl` and EG's
//! translator test outputs use). JSON needs every Envoy type that can sit in an `Any`, so it
//! goes through a descriptor pool of the whole Envoy API (built into the binary at compile
//! time) with `prost-reflect`. Errors carry the JSON path of the offending value.
//!
//! What a JSON or YAML file holds is told from its content, not its name ([`read_input`]): a
//! request, or one of the dumps users capture with `egctl` or Envoy's admin interface
//! ([`dump`]).
//!
//! JSON cannot carry protobuf fields unknown to our compiled API; `.pb` keeps them.

pub mod dump;
mod empty_any;
pub mod gateway_api;
pub mod node;
pub mod section;

use std::path::Path;
use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

use crate::contract::{
    FILE_DESCRIPTOR_SET, PostTranslateModifyRequest, PostTranslateModifyResponse,
};
pub use dump::{Dump, DumpGateway, DumpKind};
pub use node::{KeyPath, Node};

/// Full name of the request message.
pub const REQUEST_MESSAGE: &str = "envoygateway.extension.PostTranslateModifyRequest";
/// Full name of the response message.
pub const RESPONSE_MESSAGE: &str = "envoygateway.extension.PostTranslateModifyResponse";

/// A problem reading or writing a request or response file.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The extension names no known encoding.
    #[error("{0}: unknown file type (use .pb, .json, .yaml or .yml)")]
    UnknownExtension(String),
    /// Binary protobuf that does not decode.
    #[error("not a valid {message}: {source}")]
    Protobuf {
        /// Expected message.
        message: &'static str,
        /// Decoder error.
        source: prost::DecodeError,
    },
    /// JSON or YAML that does not parse or does not fit the message.
    #[error("{what}: {message}")]
    Text {
        /// What was being read (`request`, `listeners.yaml`).
        what: String,
        /// Error with its path.
        message: String,
    },
    /// The embedded descriptors are unusable (a build problem, not an input problem).
    #[error("descriptor pool: {0}")]
    Descriptors(String),
}

/// A file encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Protobuf binary.
    Protobuf,
    /// Canonical proto3 JSON.
    Json,
    /// Canonical proto3 JSON, written as YAML.
    Yaml,
}

impl Format {
    /// The format named by a path's extension.
    pub fn from_path(path: &Path) -> Result<Self, FormatError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("pb" | "bin") => Ok(Format::Protobuf),
            Some("json") => Ok(Format::Json),
            Some("yaml" | "yml") => Ok(Format::Yaml),
            _ => Err(FormatError::UnknownExtension(path.display().to_string())),
        }
    }
}

/// How a JSON document spells protobuf field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStyle {
    /// lowerCamelCase, the proto3 JSON mapping (`egctl`, EG's test data, this crate's output).
    Camel,
    /// The field names of the `.proto` files (Envoy's admin `/config_dump`).
    Snake,
}

/// A captured input: a request, or a dump holding one request per Gateway.
#[derive(Debug, Clone)]
pub enum Input {
    /// A `PostTranslateModifyRequest` (`.pb`, `.json`, `.yaml`, or a directory of resource lists).
    Request(PostTranslateModifyRequest),
    /// An `egctl` or Envoy admin dump.
    Dump(Dump),
}

/// Reads any input: a directory of resource lists, a `.pb` request, or a `.json`/`.yaml`
/// document whose shape is told from its keys (a request or a dump).
pub fn read_input(path: &Path) -> Result<Input, FormatError> {
    let format = if path.is_dir() {
        None
    } else {
        Some(Format::from_path(path)?)
    };
    match format {
        None | Some(Format::Protobuf) => read_request(path).map(Input::Request),
        Some(format) => decode_input(&read(path)?, format),
    }
}

/// Decodes a `.json`/`.yaml` document of any shape (a `.pb` is always a request).
pub fn decode_input(bytes: &[u8], format: Format) -> Result<Input, FormatError> {
    let doc: Node = match format {
        Format::Protobuf => return decode_request(bytes, format).map(Input::Request),
        Format::Json => parse_json(bytes, "input")?,
        Format::Yaml => parse_yaml(bytes, "input")?,
    };
    match dump::detect(doc)? {
        dump::Detected::Dump(dump) => Ok(Input::Dump(dump)),
        dump::Detected::Request(doc) => {
            let binary = text_to_binary(&doc.to_value(), REQUEST_MESSAGE, "request")?;
            decode_binary(&binary, REQUEST_MESSAGE).map(Input::Request)
        }
    }
}

/// The descriptor pool of the Envoy API and our contract.
pub fn pool() -> Result<&'static DescriptorPool, FormatError> {
    static POOL: OnceLock<Result<DescriptorPool, prost_reflect::DescriptorError>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(FILE_DESCRIPTOR_SET))
        .as_ref()
        .map_err(|e| FormatError::Descriptors(e.to_string()))
}

/// The descriptor of a message by full name.
pub fn descriptor(full_name: &str) -> Result<MessageDescriptor, FormatError> {
    pool()?
        .get_message_by_name(full_name)
        .ok_or_else(|| FormatError::Descriptors(format!("{full_name} is not in the pool")))
}

/// Reads a request from a file (by extension) or from a directory of resource lists.
pub fn read_request(path: &Path) -> Result<PostTranslateModifyRequest, FormatError> {
    if path.is_dir() {
        return read_resource_dir(path);
    }
    let bytes = read(path)?;
    let format = Format::from_path(path)?;
    if format == Format::Protobuf {
        // From `Bytes`, every resource is a slice of the file's buffer instead of a copy.
        return PostTranslateModifyRequest::decode(bytes::Bytes::from(bytes)).map_err(|source| {
            FormatError::Protobuf {
                message: REQUEST_MESSAGE,
                source,
            }
        });
    }
    decode_request(&bytes, format)
}

/// Decodes request bytes in the given format.
pub fn decode_request(
    bytes: &[u8],
    format: Format,
) -> Result<PostTranslateModifyRequest, FormatError> {
    let binary = match format {
        Format::Protobuf => return decode_binary(bytes, REQUEST_MESSAGE),
        Format::Json => text_to_binary(&parse_json(bytes, "request")?, REQUEST_MESSAGE, "request")?,
        Format::Yaml => text_to_binary(&parse_yaml(bytes, "request")?, REQUEST_MESSAGE, "request")?,
    };
    decode_binary(&binary, REQUEST_MESSAGE)
}

/// Encodes a response in the given format.
pub(crate) fn encode_response(
    response: &PostTranslateModifyResponse,
    format: Format,
) -> Result<Vec<u8>, FormatError> {
    if format == Format::Protobuf {
        return Ok(response.encode_to_vec()); // no second copy of a fleet-sized buffer
    }
    encode_message(&response.encode_to_vec(), RESPONSE_MESSAGE, format)
}

/// Encodes a request in the given format (for tools and tests).
pub fn encode_request(
    request: &PostTranslateModifyRequest,
    format: Format,
) -> Result<Vec<u8>, FormatError> {
    encode_message(&request.encode_to_vec(), REQUEST_MESSAGE, format)
}

/// Writes bytes to a file.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), FormatError> {
    std::fs::write(path, bytes).map_err(|source| FormatError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Renders an encoded message of type `full_name` as canonical proto3 JSON.
pub fn to_json(binary: &[u8], full_name: &str) -> Result<serde_json::Value, FormatError> {
    to_json_styled(binary, full_name, KeyStyle::Camel)
}

/// Renders an encoded message of type `full_name` as proto3 JSON with field names in `style`.
pub fn to_json_styled(
    binary: &[u8],
    full_name: &str,
    style: KeyStyle,
) -> Result<serde_json::Value, FormatError> {
    let descriptor = descriptor(full_name)?;
    let marked = empty_any::mark_untyped(binary, &descriptor).map_err(|e| FormatError::Text {
        what: full_name.to_owned(),
        message: e.to_string(),
    })?;
    let binary = marked.as_deref().unwrap_or(binary);
    let message =
        DynamicMessage::decode(descriptor, binary).map_err(|source| FormatError::Text {
            what: full_name.to_owned(),
            message: source.to_string(),
        })?;
    let options = SerializeOptions::new()
        .skip_default_fields(true)
        .use_proto_field_name(style == KeyStyle::Snake);
    let mut value = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| FormatError::Text {
            what: full_name.to_owned(),
            message: e.to_string(),
        })?;
    if marked.is_some() {
        empty_any::unmark_json(&mut value);
    }
    Ok(value)
}

/// Encodes canonical proto3 JSON as a message of type `full_name`.
pub fn text_to_binary(
    value: &serde_json::Value,
    full_name: &str,
    what: &str,
) -> Result<Vec<u8>, FormatError> {
    let descriptor = descriptor(full_name)?;
    let mut value = value.clone();
    let marked = empty_any::mark_json(&mut value, &descriptor);
    let binary = deserialize_with_path(&descriptor, &value, what)?.encode_to_vec();
    if marked == 0 {
        return Ok(binary);
    }
    let blanked =
        empty_any::blank_sentinels(&binary, &descriptor).map_err(|e| FormatError::Text {
            what: what.to_owned(),
            message: e.to_string(),
        })?;
    Ok(blanked.unwrap_or(binary))
}

fn deserialize_with_path(
    descriptor: &MessageDescriptor,
    value: &serde_json::Value,
    what: &str,
) -> Result<DynamicMessage, FormatError> {
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(value, &mut track);
    DynamicMessage::deserialize(descriptor.clone(), deserializer).map_err(|e| FormatError::Text {
        what: what.to_owned(),
        message: format!("{}: {e}", track.path()),
    })
}

fn encode_message(binary: &[u8], full_name: &str, format: Format) -> Result<Vec<u8>, FormatError> {
    match format {
        Format::Protobuf => Ok(binary.to_vec()),
        Format::Json | Format::Yaml => encode_text(&to_json(binary, full_name)?, format, full_name),
    }
}

/// Writes a value as pretty JSON (ending in a newline) or YAML, the two text forms every file
/// of this crate uses. `.pb` has no text form: an error naming `what`.
pub fn encode_text<T: serde::Serialize>(
    value: &T,
    format: Format,
    what: &str,
) -> Result<Vec<u8>, FormatError> {
    let failed = |message: String| FormatError::Text {
        what: what.to_owned(),
        message,
    };
    match format {
        Format::Json => {
            let mut text = serde_json::to_vec_pretty(value).map_err(|e| failed(e.to_string()))?;
            text.push(b'\n');
            Ok(text)
        }
        Format::Yaml => {
            // Plain scalars only: type URLs are long, and folded ones are hard to grep.
            let mut options = serde_saphyr::SerializerOptions::default();
            options.prefer_block_scalars = false;
            serde_saphyr::to_string_with_options(value, options)
                .map(String::into_bytes)
                .map_err(|e| failed(e.to_string()))
        }
        Format::Protobuf => Err(failed(
            "has no protobuf form: write .json or .yaml".to_owned(),
        )),
    }
}

fn decode_binary<M: Message + Default>(
    bytes: &[u8],
    message: &'static str,
) -> Result<M, FormatError> {
    M::decode(bytes).map_err(|source| FormatError::Protobuf { message, source })
}

fn read(path: &Path) -> Result<Vec<u8>, FormatError> {
    std::fs::read(path).map_err(|source| FormatError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, FormatError> {
    serde_json::from_slice(bytes).map_err(|e| FormatError::Text {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

/// YAML as the YAML 1.2 core schema reads it: only `true` and `false` are booleans (`y`, `on`,
/// `no` stay strings, as in JSON and as `egctl` means them).
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, FormatError> {
    let text = std::str::from_utf8(bytes).map_err(|e| FormatError::Text {
        what: what.to_owned(),
        message: e.to_string(),
    })?;
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    serde_saphyr::from_str_with_options(text, options).map_err(|e| FormatError::Text {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

/// The resource list files of a captured translation, as EG's translator tests lay them out,
/// with the message type of each.
const RESOURCE_FILES: [(&str, &str); 4] = [
    ("clusters.yaml", "envoy.config.cluster.v3.Cluster"),
    (
        "secrets.yaml",
        "envoy.extensions.transport_sockets.tls.v3.Secret",
    ),
    ("listeners.yaml", "envoy.config.listener.v3.Listener"),
    ("routes.yaml", "envoy.config.route.v3.RouteConfiguration"),
];

/// Builds a request from a directory holding `listeners.yaml`, `routes.yaml`, `clusters.yaml`
/// and `secrets.yaml` (each a YAML list of resources; a missing file is an empty list).
pub fn read_resource_dir(dir: &Path) -> Result<PostTranslateModifyRequest, FormatError> {
    let mut lists: [Vec<bytes::Bytes>; 4] = Default::default();
    for ((file, message), list) in RESOURCE_FILES.iter().zip(lists.iter_mut()) {
        let path = dir.join(file);
        if !path.exists() {
            continue;
        }
        let what = path.display().to_string();
        let value = parse_yaml(&read(&path)?, &what)?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            serde_json::Value::Null => Vec::new(),
            _ => {
                return Err(FormatError::Text {
                    what,
                    message: "expected a list of resources".to_owned(),
                });
            }
        };
        for (i, item) in items.iter().enumerate() {
            let binary = text_to_binary(item, message, &format!("{what}[{i}]"))?;
            list.push(binary.into());
        }
    }
    let [clusters, secrets, listeners, routes] = lists;
    Ok(PostTranslateModifyRequest {
        post_translate_context: None,
        clusters,
        secrets,
        listeners,
        routes,
    })
}
