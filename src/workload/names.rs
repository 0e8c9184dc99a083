//! Names and draws: who owns what in a generated fleet, and how EG would name it.
//!
//! Every choice is a pure function of the spec's seed and an index, so a resource can be
//! generated on its own and the same spec always yields the same bytes (no RNG state, no
//! clock). Names follow EG's two schemes; the hook must never care which one it sees.

use super::Spec;

/// The namespaces Gateways and HTTPRoutes live in: EG's own first (a Gateway in them must be
/// handled like any other), then teams.
pub(super) fn namespace(spec: &Spec, index: usize) -> String {
    match index % spec.namespaces.max(1) {
        0 => "default".to_owned(),
        1 => "envoy-gateway".to_owned(),
        2 => "envoy-gateway-system".to_owned(),
        n => format!("team-{n}"),
    }
}

/// splitmix64 over (seed, stream, index): independent, reproducible draws.
pub(super) fn draw(seed: u64, stream: u64, index: usize) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether a draw falls under `fraction` (0.0 never, 1.0 always).
pub(super) fn chance(seed: u64, stream: u64, index: usize, fraction: f64) -> bool {
    // 53 random bits give an exact f64 in [0, 1).
    let unit = (draw(seed, stream, index) >> 11) as f64 / (1u64 << 53) as f64;
    unit < fraction
}

/// Draw streams, so that knobs do not perturb each other's choices.
pub(super) mod stream {
    /// Whether an HTTPRoute is annotated.
    pub(crate) const ANNOTATED: u64 = 1;
    /// Whether a listener uses `XDSNameSchemeV2`.
    pub(crate) const NAMING: u64 = 2;
}

/// The HTTPRoute behind cluster `index`: every route and cluster of one HTTPRoute agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HttpRoute {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Position, which picks its cluster.
    pub index: usize,
}

impl HttpRoute {
    /// HTTPRoute number `index`.
    pub(crate) fn new(spec: &Spec, index: usize) -> Self {
        Self {
            namespace: namespace(spec, index / 3),
            name: format!("app-{index}"),
            index,
        }
    }

    /// The cluster EG builds for the HTTPRoute's first rule.
    pub(crate) fn cluster(&self) -> String {
        format!("httproute/{}/{}/rule/0", self.namespace, self.name)
    }
}

/// The Gateway and Gateway listener ("section") that produced a listener or virtual host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Gateway {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Gateway listener name.
    pub section: String,
}

impl Gateway {
    /// `<namespace>/<gateway>/<section>`, EG's legacy resource name.
    pub(crate) fn legacy_name(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.name, self.section)
    }
}

/// A hostname as EG writes it into virtual host and route names (dots become underscores).
pub(super) fn underscored(host: &str) -> String {
    host.replace('.', "_")
}
