//! `explain --format dot|mermaid`: the report as a picture.
//!
//! Listener → filter chain → route configuration → route (with its virtual host) → cluster,
//! plus the processor cluster the patched chains call. Each node is in one of four states,
//! drawn in its own colour and style:
//!
//! - **patched**: changed by this run;
//! - **selected**: processed, and already in the state the hook wants (a patched proxy's dump);
//! - **skipped**: could have been processed and was not; the reason labels the edge into it;
//! - **unchanged**: not concerned (unannotated routes, chains without AI routes).
//!
//! To stay readable for a Gateway of ~50 routes, each route configuration is a group, and its
//! unchanged routes collapse into one node ("N unchanged routes"); only the clusters of the
//! routes the hook processes are drawn. With `--route`, only that HTTPRoute's routes and what
//! leads to them are drawn. The states and labels are the report's; nothing is decided here.
//! [`dot`] and [`mermaid`] write the same [`Graph`].

mod build;
mod dot;
mod mermaid;

pub use build::build;
pub use dot::dot;
pub use mermaid::mermaid;

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Changed by this run.
    Patched,
    /// Processed, already as the hook wants it.
    Selected,
    /// Left alone for a reason.
    Skipped,
    /// Not concerned.
    Unchanged,
}

impl State {
    /// Every state, for the legend.
    pub const ALL: [State; 4] = [
        State::Patched,
        State::Selected,
        State::Skipped,
        State::Unchanged,
    ];

    /// Its name, as the legend and class names say it.
    pub fn name(self) -> &'static str {
        match self {
            State::Patched => "patched",
            State::Selected => "selected",
            State::Skipped => "skipped",
            State::Unchanged => "unchanged",
        }
    }

    /// (border and text colour, fill colour).
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            State::Patched => ("#1a7f37", "#dafbe1"),
            State::Selected => ("#0969da", "#ddf4ff"),
            State::Skipped => ("#bc4c00", "#fff1e5"),
            State::Unchanged => ("#6e7781", "#f6f8fa"),
        }
    }
}

/// One box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Identifier: ASCII letters, digits and `_` only.
    pub id: String,
    /// Text, lines separated by `\n`.
    pub label: String,
    /// How it is drawn.
    pub state: State,
}

/// One arrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Node it leaves.
    pub from: String,
    /// Node it enters.
    pub to: String,
    /// Text on it (skip reasons).
    pub label: Option<String>,
    /// Drawn dashed (into a skipped node, or to the processor).
    pub dashed: bool,
}

/// A box around nodes: a Gateway, or a route configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Identifier, as for nodes.
    pub id: String,
    /// Title.
    pub label: String,
    /// Its own nodes.
    pub nodes: Vec<Node>,
    /// Groups inside it.
    pub groups: Vec<Group>,
}

/// A whole picture: nodes outside any group, groups, and every edge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// Nodes outside any group (a lone request's).
    pub nodes: Vec<Node>,
    /// Gateways (or, for a lone request, route configurations).
    pub groups: Vec<Group>,
    /// Arrows.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Every node, in groups or not.
    pub fn all_nodes(&self) -> Vec<&Node> {
        fn walk<'a>(group: &'a Group, out: &mut Vec<&'a Node>) {
            out.extend(&group.nodes);
            for inner in &group.groups {
                walk(inner, out);
            }
        }
        let mut out: Vec<&Node> = self.nodes.iter().collect();
        for group in &self.groups {
            walk(group, &mut out);
        }
        out
    }
}

/// One node per state, to explain the colours.
fn legend() -> Vec<Node> {
    State::ALL
        .into_iter()
        .map(|state| Node {
            id: format!("legend_{}", state.name()),
            label: state.name().to_owned(),
            state,
        })
        .collect()
}

/// Labels longer than this are cut, with `…`: a picture is read at a glance; `explain` has
/// the whole reason.
const LABEL_WIDTH: usize = 72;

/// `text`, cut to [`LABEL_WIDTH`] characters.
fn short(text: &str) -> String {
    if text.chars().count() <= LABEL_WIDTH {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(LABEL_WIDTH - 1).collect();
    cut.push('…');
    cut
}
