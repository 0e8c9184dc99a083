//! A route's own choice: opted in or out by a policy that targets its HTTPRoute (or rule).
//!
//! EG (v1.9+) hands such policies only to `PostRouteModify`, one xDS route at a time
//! ([`super::route`]); the Gateway's `PostTranslateModify` that decides comes later and never
//! sees them. So `PostRouteModify` records the choice in the route's own metadata, and
//! selection reads it back from there: EG keeps the route's metadata through translation, and
//! a route rebuilt by the next translation is recorded afresh.
//!
//! The record, `filter_metadata["policy.xds-hook.dev"]`, is `{policy: "<ns>/<name>", routes:
//! "All" | "None"}`, or `{policy, invalid: "<what is wrong>"}` for a policy whose spec is wrong
//! (the route then stays unprocessed, and `explain` shows the error). This module is the one
//! home of that format: it writes it, and it reads it back.

use std::collections::BTreeMap;

use memchr::memmem::Finder;
use prost::Message;
use prost_types::{Struct, value::Kind};

use super::GROUP;
use crate::index::{FieldPath, Index, InvalidField, Problem};
use crate::mutate::metadata::{self, Entries};
use crate::wire::WireError;
use crate::xds::{MetadataView, RouteView};

/// Route metadata namespace of the record: the API group.
pub(crate) const METADATA_NAMESPACE: &str = GROUP;
/// Key of the deciding policy, `namespace/name`.
const POLICY_KEY: &str = "policy";
/// Key of the choice: `All` (in) or `None` (out), as the policy's `spec.routes` says.
const ROUTES_KEY: &str = "routes";
/// Key of the error of an invalid policy.
const INVALID_KEY: &str = "invalid";

/// A route's own choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteChoice {
    /// Opted in: processed without the annotation.
    In {
        /// The policy, `namespace/name`.
        policy: String,
    },
    /// Opted out: not processed, annotation or not.
    Out {
        /// The policy, `namespace/name`.
        policy: String,
    },
    /// The policy is invalid: not processed.
    Invalid {
        /// The policy, `namespace/name`.
        policy: String,
        /// What is wrong with it.
        error: String,
    },
    /// The record is there but not in this shape.
    Unreadable(InvalidField),
}

impl RouteChoice {
    /// The policy that made the choice, if the record names one.
    pub fn policy(&self) -> Option<&str> {
        match self {
            RouteChoice::In { policy }
            | RouteChoice::Out { policy }
            | RouteChoice::Invalid { policy, .. } => Some(policy),
            RouteChoice::Unreadable(_) => None,
        }
    }

    /// Records the choice in an encoded route; `None` when it is already there.
    pub fn record(&self, route: &[u8]) -> Result<Option<Vec<u8>>, WireError> {
        let values: Vec<(&str, &str)> = match self {
            RouteChoice::In { policy } => vec![(POLICY_KEY, policy), (ROUTES_KEY, "All")],
            RouteChoice::Out { policy } => vec![(POLICY_KEY, policy), (ROUTES_KEY, "None")],
            RouteChoice::Invalid { policy, error } => {
                vec![(POLICY_KEY, policy), (INVALID_KEY, error)]
            }
            RouteChoice::Unreadable(_) => return Ok(None),
        };
        let entries = Entries {
            namespace: METADATA_NAMESPACE,
            values: &values,
        };
        metadata::set_in(route, RouteView::METADATA, entries)
    }
}

/// The choices recorded on the routes of a request, by (route configuration, virtual host,
/// route) position in the index; most requests have none.
pub(crate) type RouteChoices = BTreeMap<(usize, usize, usize), RouteChoice>;

/// Finds every recorded choice ([`Index::routes_mentioning`]).
pub(crate) fn route_choices(index: &Index) -> RouteChoices {
    let needle = Finder::new(METADATA_NAMESPACE);
    index
        .routes_mentioning(&needle)
        .filter_map(|(at, metadata)| Some((at, read_choice(metadata)?)))
        .collect()
}

/// The choice in an encoded `Metadata`, if it holds a record.
fn read_choice(metadata: &[u8]) -> Option<RouteChoice> {
    match MetadataView::decode(metadata) {
        Ok(view) => view
            .filter_metadata
            .get(METADATA_NAMESPACE)
            .map(|record| parse(record).unwrap_or_else(RouteChoice::Unreadable)),
        Err(e) => Some(RouteChoice::Unreadable(InvalidField::new(
            FieldPath::root().field("metadata"),
            Problem::Decode(e),
        ))),
    }
}

/// Reads a record.
fn parse(record: &Struct) -> Result<RouteChoice, InvalidField> {
    let at = |key: &'static str, problem| {
        let path = FieldPath::root()
            .field("metadata")
            .field("filter_metadata")
            .key(METADATA_NAMESPACE)
            .field(key);
        InvalidField::new(path, problem)
    };
    let text = |key: &'static str| match record.fields.get(key).and_then(|v| v.kind.as_ref()) {
        None => Ok(None),
        Some(Kind::StringValue(s)) => Ok(Some(s.clone())),
        Some(_) => Err(at(
            key,
            Problem::WrongJsonKind {
                expected: "a string",
                found: "another kind",
            },
        )),
    };
    let policy = text(POLICY_KEY)?.ok_or_else(|| at(POLICY_KEY, Problem::Missing))?;
    if let Some(error) = text(INVALID_KEY)? {
        return Ok(RouteChoice::Invalid { policy, error });
    }
    match text(ROUTES_KEY)?.as_deref() {
        Some("All") => Ok(RouteChoice::In { policy }),
        Some("None") => Ok(RouteChoice::Out { policy }),
        _ => Err(at(ROUTES_KEY, Problem::Missing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_with(choice: &RouteChoice) -> Vec<u8> {
        let mut route = Vec::new();
        crate::wire::put_len(&mut route, RouteView::NAME, b"r");
        choice.record(&route).unwrap().unwrap()
    }

    fn read_back(route: &[u8]) -> Option<RouteChoice> {
        let metadata = crate::wire::single_len(route, RouteView::METADATA).unwrap()?;
        read_choice(metadata)
    }

    #[test]
    fn choices_read_back_as_recorded_and_record_once() {
        let choices = [
            RouteChoice::In {
                policy: "team-a/in".to_owned(),
            },
            RouteChoice::Out {
                policy: "team-a/out".to_owned(),
            },
            RouteChoice::Invalid {
                policy: "team-a/bad".to_owned(),
                error: "spec.routes: unknown variant `Some`".to_owned(),
            },
        ];
        for choice in choices {
            let route = route_with(&choice);
            assert_eq!(read_back(&route), Some(choice.clone()));
            assert_eq!(choice.record(&route).unwrap(), None, "recorded twice");
        }
    }

    #[test]
    fn a_record_of_another_shape_is_unreadable_with_its_path() {
        let text = |s: &str| prost_types::Value {
            kind: Some(Kind::StringValue(s.to_owned())),
        };
        let mut record = Struct::default();
        record.fields.insert(POLICY_KEY.to_owned(), text("p"));
        assert_eq!(
            parse(&record).unwrap_err().to_string(),
            "metadata.filter_metadata[\"policy.xds-hook.dev\"].routes: is missing"
        );
        record
            .fields
            .insert(ROUTES_KEY.to_owned(), text("Sometimes"));
        assert!(parse(&record).is_err());
        record.fields.insert(ROUTES_KEY.to_owned(), text("All"));
        assert_eq!(
            parse(&record),
            Ok(RouteChoice::In {
                policy: "p".to_owned()
            })
        );
    }
}
