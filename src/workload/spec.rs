//! What to generate: the knobs of a synthetic fleet, and the named presets.
//!
//! A [`Spec`] is plain data so that benches, the `gen` subcommand and property tests share
//! one description of a workload. Knobs are set by name (`--knob routes_per_route_config=20`)
//! so the command line and the docs use the same words as the code.

use std::fmt;
use std::str::FromStr;

/// The knobs of a generated request. Every count is exact; fractions are per HTTPRoute or
/// per listener, drawn from the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Seed of every draw (annotations, naming scheme); same seed, same bytes.
    pub seed: u64,
    /// Listeners. They cycle through four shapes: HTTPS with SNI chains, TLS passthrough
    /// (TCP proxy chains), plain HTTP (`default_filter_chain`), HTTP next to TCP proxy chains.
    pub listeners: usize,
    /// Filter chains on HTTPS, TLS passthrough and mixed listeners (plain HTTP has one).
    pub chains_per_listener: usize,
    /// Routes in each route configuration (one configuration per HCM chain).
    pub routes_per_route_config: usize,
    /// Fraction of HTTPRoutes carrying the `ai-gateway-generated` annotation, 0.0–1.0.
    pub annotated_fraction: f64,
    /// Clusters; routes and TCP proxies point at them round-robin.
    pub clusters: usize,
    /// Endpoints in each cluster's `load_assignment`.
    pub endpoints_per_cluster: usize,
    /// TLS secrets; HTTPS chains reference them round-robin through SDS.
    pub secrets: usize,
    /// Namespaces Gateways and HTTPRoutes are spread over (the first ones are EG's own).
    pub namespaces: usize,
    /// Fraction of listeners named with `XDSNameSchemeV2` (`tcp-<port>` / `http-<port>`),
    /// the rest with the legacy `<namespace>/<gateway>/<section>` names, 0.0–1.0.
    pub v2_naming_fraction: f64,
}

/// A named workload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// 10 listeners, 100 routes: tests and quick looks.
    Small,
    /// 2,000 listeners, 20,000 routes, 10,000 clusters (about 11 MiB): a large production fleet.
    Fleet,
    /// 10,000 listeners, 200,000 routes, 50,000 clusters (about 85 MiB): the scaling check.
    Huge,
}

impl Preset {
    /// Every preset, smallest first.
    pub const ALL: [Preset; 3] = [Preset::Small, Preset::Fleet, Preset::Huge];

    /// The preset's name, as accepted by `--preset`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Small => "small",
            Preset::Fleet => "fleet",
            Preset::Huge => "huge",
        }
    }

    /// The preset's knobs.
    pub fn spec(self) -> Spec {
        let base = Spec {
            seed: 0x6e76_6f79_2d67_7721,
            listeners: 10,
            chains_per_listener: 2,
            routes_per_route_config: 10,
            annotated_fraction: 0.1,
            clusters: 50,
            endpoints_per_cluster: 2,
            secrets: 5,
            namespaces: 4,
            v2_naming_fraction: 0.5,
        };
        match self {
            Preset::Small => Spec {
                annotated_fraction: 0.25,
                ..base
            },
            Preset::Fleet => Spec {
                listeners: 2_000,
                clusters: 10_000,
                secrets: 500,
                namespaces: 20,
                ..base
            },
            Preset::Huge => Spec {
                listeners: 10_000,
                routes_per_route_config: 20,
                clusters: 50_000,
                secrets: 2_500,
                namespaces: 50,
                ..base
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| SpecError::UnknownPreset(s.to_owned()))
    }
}

impl Default for Spec {
    fn default() -> Self {
        Preset::Small.spec()
    }
}

/// What is wrong with a preset name or a knob setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// No preset has this name.
    #[error("unknown preset {0:?} (use small, fleet or huge)")]
    UnknownPreset(String),
    /// A knob setting is not `name=value`.
    #[error("knob {0:?} is not name=value")]
    NotAssignment(String),
    /// No knob has this name.
    #[error("unknown knob {0:?} (knobs: {KNOBS})")]
    UnknownKnob(String),
    /// The value does not parse, or is out of range.
    #[error("knob {knob}: {value:?} is not {expected}")]
    BadValue {
        /// The knob.
        knob: String,
        /// The value given.
        value: String,
        /// What the knob takes.
        expected: &'static str,
    },
}

/// Knob names, for messages and docs.
pub const KNOBS: &str = "seed, listeners, chains_per_listener, routes_per_route_config, \
     annotated_fraction, clusters, endpoints_per_cluster, secrets, namespaces, v2_naming_fraction";

impl Spec {
    /// Applies one `name=value` setting.
    pub fn set(&mut self, setting: &str) -> Result<(), SpecError> {
        let (knob, value) = setting
            .split_once('=')
            .ok_or_else(|| SpecError::NotAssignment(setting.to_owned()))?;
        let (knob, value) = (knob.trim(), value.trim());
        match knob {
            "seed" => self.seed = count(knob, value)?,
            "listeners" => self.listeners = count(knob, value)?,
            "chains_per_listener" => self.chains_per_listener = count(knob, value)?,
            "routes_per_route_config" => self.routes_per_route_config = count(knob, value)?,
            "annotated_fraction" => self.annotated_fraction = fraction(knob, value)?,
            "clusters" => self.clusters = count(knob, value)?,
            "endpoints_per_cluster" => self.endpoints_per_cluster = count(knob, value)?,
            "secrets" => self.secrets = count(knob, value)?,
            "namespaces" => self.namespaces = count(knob, value)?,
            "v2_naming_fraction" => self.v2_naming_fraction = fraction(knob, value)?,
            _ => return Err(SpecError::UnknownKnob(knob.to_owned())),
        }
        Ok(())
    }
}

fn count<T: FromStr>(knob: &str, value: &str) -> Result<T, SpecError> {
    value.parse().map_err(|_| SpecError::BadValue {
        knob: knob.to_owned(),
        value: value.to_owned(),
        expected: "a non-negative integer",
    })
}

fn fraction(knob: &str, value: &str) -> Result<f64, SpecError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|f| (0.0..=1.0).contains(f))
        .ok_or_else(|| SpecError::BadValue {
            knob: knob.to_owned(),
            value: value.to_owned(),
            expected: "a fraction between 0 and 1",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_parse_and_reject_with_the_knob_named() {
        let mut spec = Preset::Fleet.spec();
        spec.set("routes_per_route_config=3").unwrap();
        spec.set(" annotated_fraction = 0.5 ").unwrap();
        assert_eq!(spec.routes_per_route_config, 3);
        assert_eq!(spec.annotated_fraction, 0.5);
        assert_eq!(
            spec.set("annotated_fraction=2").unwrap_err().to_string(),
            "knob annotated_fraction: \"2\" is not a fraction between 0 and 1"
        );
        assert!(matches!(spec.set("nope=1"), Err(SpecError::UnknownKnob(_))));
        assert!(matches!(
            spec.set("listeners"),
            Err(SpecError::NotAssignment(_))
        ));
        assert_eq!("huge".parse::<Preset>(), Ok(Preset::Huge));
        assert!("tiny".parse::<Preset>().is_err());
    }
}
