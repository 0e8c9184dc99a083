//! A JSON or YAML document that keeps its keys in the order they came.
//!
//! `serde_json::Value` sorts object keys (the crate is built without `preserve_order`, and
//! turning that on would reorder every response this crate writes). A captured dump must come
//! back with its keys where the user had them, so that a golden file diffs like with like:
//! [`Node`] keeps every key in input order, duplicates included, and every value as it was
//! written. Only the resources handed to the hook are converted to `serde_json::Value`, to be
//! read through the descriptor pool.
//!
//! [`KeyPath`] names a place in such a document the way users would type it
//! (`xds["default/eg"].configs[3].dynamicListeners[2]`), for error messages.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

/// One value of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null` (or YAML `~`).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json holds it.
    Number(Number),
    /// A string.
    String(String),
    /// A list.
    List(Vec<Node>),
    /// A mapping, in input order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value of `key`, when this is a mapping that has it (the first, if repeated).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value of whichever of `keys` this mapping has first, with the key found.
    pub fn get_any<'a>(&self, keys: &[&'a str]) -> Option<(&'a str, &Node)> {
        keys.iter()
            .find_map(|key| self.get(key).map(|value| (*key, value)))
    }

    /// The mapping's entries, or `None` when this is not a mapping.
    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// The node at `path` below this one, for editing.
    pub(crate) fn at_mut(&mut self, path: &[Step]) -> Option<&mut Node> {
        let Some((step, rest)) = path.split_first() else {
            return Some(self);
        };
        let child = match (self, step) {
            (Node::Map(entries), Step::Key(key)) => {
                entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            (Node::List(items), Step::Index(i)) => items.get_mut(*i),
            _ => None,
        }?;
        child.at_mut(rest)
    }

    /// The value as `serde_json::Value` (keys sorted; the last of repeated keys wins), for the
    /// descriptor pool.
    pub fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::List(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl From<Value> for Node {
    /// Keys come in `serde_json`'s order (sorted), which is the order this crate writes
    /// resources in everywhere else.
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(b),
            Value::Number(n) => Node::Number(n),
            Value::String(s) => Node::String(s),
            Value::Array(items) => Node::List(items.into_iter().map(Node::from).collect()),
            Value::Object(map) => Node::Map(map.into_iter().map(|(k, v)| (k, v.into())).collect()),
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Number(n) => n.serialize(serializer),
            Node::String(s) => serializer.serialize_str(s),
            Node::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom(format!("{v} has no JSON form")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((key, value)) = map.next_entry::<KeyText, Node>()? {
            entries.push((key.0, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A mapping key, read as the text it was written as: YAML allows any scalar as a key
/// (`3000: x`), and a key is a name, never a number or a boolean to be re-spelled (YAML 1.1
/// would read the key `y` as `true`).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = KeyText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
        Ok(KeyText(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<KeyText, E> {
        Ok(KeyText(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
        Ok(KeyText(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
        Ok(KeyText(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
        Ok(KeyText(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
        Ok(KeyText(v.to_string()))
    }
}

/// One step from a node to one of its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A list position.
    Index(usize),
}

/// A place in a document, from its root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Step>);

impl KeyPath {
    /// The document's root.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path, one key further.
    pub fn key(&self, key: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_owned()));
        Self(steps)
    }

    /// This path, one list position further.
    pub fn index(&self, i: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Index(i));
        Self(steps)
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }
}

/// `xds["default/eg"].configs[3].dynamicListeners[2]`: identifiers after dots, other keys
/// quoted in brackets, and `(document)` for the root.
impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(key) if is_identifier(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Step::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '@')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order_and_repeats_through_json_and_yaml() {
        let json = r#"{"z": 1, "a": {"y": [true, null, "3000"], "b": 2.5}, "z": -1}"#;
        let node: Node = serde_json::from_str(json).unwrap();
        let keys: Vec<&str> = node
            .entries()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["z", "a", "z"]);
        assert_eq!(
            serde_json::to_string(&node).unwrap(),
            r#"{"z":1,"a":{"y":[true,null,"3000"],"b":2.5},"z":-1}"#
        );
        let yaml = "z: 1\na:\n  y: [true, ~, '3000']\n  b: 2.5\n'@type': x\n";
        let node: Node = crate::format::parse_yaml(yaml.as_bytes(), "test").unwrap();
        let again: Node = serde_saphyr::from_str(&serde_saphyr::to_string(&node).unwrap()).unwrap();
        assert_eq!(node, again);
        assert_eq!(
            node.get("a").and_then(|a| a.get("y")),
            Some(&Node::List(vec![
                Node::Bool(true),
                Node::Null,
                Node::String("3000".to_owned())
            ]))
        );
    }

    #[test]
    fn yaml_scalars_that_look_like_booleans_stay_as_written() {
        // YAML 1.2: only true and false are booleans; keys are always their text.
        let yaml = "y: n\non: 'off'\nyes: [no, true, False]\n3000: x\n";
        let node: Node = crate::format::parse_yaml(yaml.as_bytes(), "test").unwrap();
        let text = |s: &str| Node::String(s.to_owned());
        assert_eq!(
            node,
            Node::Map(vec![
                ("y".to_owned(), text("n")),
                ("on".to_owned(), text("off")),
                (
                    "yes".to_owned(),
                    Node::List(vec![text("no"), Node::Bool(true), Node::Bool(false)])
                ),
                ("3000".to_owned(), text("x")),
            ])
        );
        // Written back, such strings are quoted, so any YAML reader keeps them strings.
        let written = serde_saphyr::to_string(&node).unwrap();
        assert!(written.contains("\"y\": \"n\""), "{written}");
    }

    #[test]
    fn paths_read_as_users_write_them() {
        let path = KeyPath::root()
            .key("xds")
            .key("default/eg")
            .key("configs")
            .index(3)
            .key("dynamicListeners")
            .index(2)
            .key("activeState")
            .key("listener");
        assert_eq!(
            path.to_string(),
            r#"xds["default/eg"].configs[3].dynamicListeners[2].activeState.listener"#
        );
        assert_eq!(
            KeyPath::root()
                .key("envoy-gateway-system")
                .key("pod")
                .to_string(),
            r#"["envoy-gateway-system"].pod"#
        );
        assert_eq!(KeyPath::root().to_string(), "(document)");
    }

    #[test]
    fn at_mut_follows_keys_and_positions() {
        let mut node: Node = serde_json::from_str(r#"{"a": [{"b": 1}, {"b": 2}]}"#).unwrap();
        let path = KeyPath::root().key("a").index(1).key("b");
        *node.at_mut(path.steps()).unwrap() = Node::Bool(false);
        assert_eq!(
            serde_json::to_string(&node).unwrap(),
            r#"{"a":[{"b":1},{"b":false}]}"#
        );
        assert!(node.at_mut(KeyPath::root().key("x").steps()).is_none());
    }
}
