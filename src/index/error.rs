//! What is wrong with the input, and where: the errors the index reports for resources (or
//! parts of them) it cannot read.
//!
//! Each error carries the path of the field that is wrong inside its resource, the way the
//! Envoy API names it (`filter_chains[1].filters[0].typed_config`,
//! `metadata.filter_metadata["envoy-gateway"].resources[0].name`), in the style of
//! junction-api's field-indexed errors. The resource's kind and name are the caller's: a
//! report line is `listener "x" filter_chains[1].filters[0].typed_config: does not decode: …`.
//! `explain`, the logs and the metrics' WARN lines all print these values, so the text lives
//! here once.

use std::borrow::Cow;
use std::fmt;

/// A path to a field inside one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `.name`
    Field(&'static str),
    /// `[3]`
    Index(usize),
    /// `["key"]`, for map entries.
    Key(Cow<'static, str>),
}

impl FieldPath {
    /// The resource itself.
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// This path, then the field `name`.
    pub(crate) fn field(mut self, name: &'static str) -> Self {
        self.0.push(Segment::Field(name));
        self
    }

    /// This path, then element `i` of the repeated field it names.
    pub(crate) fn index(mut self, i: usize) -> Self {
        self.0.push(Segment::Index(i));
        self
    }

    /// This path, then the entry `key` of the map it names.
    pub(crate) fn key(mut self, key: impl Into<Cow<'static, str>>) -> Self {
        self.0.push(Segment::Key(key.into()));
        self
    }

    /// `self` followed by `rest`: a path found inside a part, placed in its resource.
    pub(crate) fn join(mut self, rest: &FieldPath) -> Self {
        self.0.extend(rest.0.iter().cloned());
        self
    }

    /// Whether this is the resource itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Where EG's owner struct sits in a resource's `Metadata`.
    pub(crate) fn eg_metadata() -> Self {
        Self::root()
            .field("metadata")
            .field("filter_metadata")
            .key(crate::xds::names::EG_METADATA)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Field(name) if n == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// A field of a resource that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidField {
    /// Where, inside the resource.
    pub path: FieldPath,
    /// What is wrong there.
    pub problem: Problem,
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            self.problem.fmt(f)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl InvalidField {
    /// `problem` at `path`.
    pub(crate) fn new(path: FieldPath, problem: Problem) -> Self {
        Self { path, problem }
    }

    /// The same error, found in a part of the resource that sits at `prefix`.
    pub(crate) fn within(self, prefix: FieldPath) -> Self {
        Self {
            path: prefix.join(&self.path),
            problem: self.problem,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The bytes are not the message they should be.
    #[error("does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A required field is absent.
    #[error("is missing")]
    Missing,
    /// A `google.protobuf.Value` of the wrong JSON kind.
    #[error("is {found}, not {expected}")]
    WrongJsonKind {
        /// What EG writes there (`a list`, `a string`, ...).
        expected: &'static str,
        /// What is there (`a number`, `null`, ...).
        found: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_as_the_envoy_api_names_fields() {
        let path = FieldPath::root()
            .field("filter_chains")
            .index(1)
            .field("filters")
            .index(0)
            .field("typed_config");
        assert_eq!(path.to_string(), "filter_chains[1].filters[0].typed_config");
        let owner = FieldPath::eg_metadata().field("resources").index(0);
        assert_eq!(
            owner.to_string(),
            "metadata.filter_metadata[\"envoy-gateway\"].resources[0]"
        );
        let e = InvalidField::new(
            FieldPath::root().field("name"),
            Problem::WrongJsonKind {
                expected: "a string",
                found: "a number",
            },
        )
        .within(owner);
        assert_eq!(
            e.to_string(),
            "metadata.filter_metadata[\"envoy-gateway\"].resources[0].name: is a number, not a \
             string"
        );
        assert_eq!(
            InvalidField::new(FieldPath::root(), Problem::Missing).to_string(),
            "is missing"
        );
    }
}
