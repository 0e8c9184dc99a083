//! Turns reports into a [`Graph`]: which nodes, in which state, joined how. The words on
//! nodes and edges are the report's (`chain_verdict`, `route_verdict`, the cluster outcomes).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::{Edge, Graph, Group, Node, State, short};
use crate::index::{ChainKind, Ownership, RouteConfigEntry};
use crate::mutate::cluster::ProcessorCluster;
use crate::report::route::{RouteQuery, built_from};
use crate::report::{
    Change, ClusterOutcome, ClusterVerdict, Report, Section, chain_place, route_verdict,
};
use crate::select::{ChainDecision, ChainSkip, NotSelected, RouteDecision};

/// The graph of every section; with `only`, just that HTTPRoute's routes and what leads to
/// them.
pub fn build(sections: &[Section<'_>], only: Option<&RouteQuery>) -> Graph {
    let mut graph = Graph::default();
    for (gi, section) in sections.iter().enumerate() {
        let prefix = format!("g{gi}");
        let mut parts = Parts::default();
        match section.report {
            Some(report) => parts.add(report, &prefix, only),
            None => parts.nodes.push(Node {
                id: format!("{prefix}_none"),
                label: "nothing sent to the hook".to_owned(),
                state: State::Unchanged,
            }),
        }
        if only.is_some() && parts.nodes.is_empty() && parts.groups.is_empty() {
            continue;
        }
        graph.edges.append(&mut parts.edges);
        match section.origin {
            None => {
                graph.nodes.append(&mut parts.nodes);
                graph.groups.append(&mut parts.groups);
            }
            Some(origin) => graph.groups.push(Group {
                id: prefix,
                label: origin.heading(),
                nodes: parts.nodes,
                groups: parts.groups,
            }),
        }
    }
    graph
}

/// One report's share of the graph.
#[derive(Default)]
struct Parts {
    nodes: Vec<Node>,
    groups: Vec<Group>,
    edges: Vec<Edge>,
    /// Names of the clusters routes target that the input lacks, one node each.
    missing: Vec<String>,
    /// The ids in `nodes`, so that each is added once.
    ids: HashSet<String>,
}

impl Parts {
    fn node(&mut self, id: String, label: String, state: State) {
        if self.ids.insert(id.clone()) {
            self.nodes.push(Node { id, label, state });
        }
    }

    fn edge(&mut self, from: &str, to: &str, label: Option<String>, dashed: bool) {
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            label: label.map(|l| short(&l)),
            dashed,
        });
    }

    fn add(&mut self, report: &Report, prefix: &str, only: Option<&RouteQuery>) {
        let shown_configs = self.route_configs(report, prefix, only);
        let mut processor_callers = Vec::new();
        for listener in report.listeners() {
            let li = listener.position;
            let listener_id = format!("{prefix}_l{li}");
            let label = format!("listener\n{}", listener.entry.name);
            if only.is_none() {
                let state = match &listener.entry.chains {
                    Ok(chains) if !chains.is_empty() => State::Unchanged,
                    _ => State::Skipped,
                };
                self.node(listener_id.clone(), label.clone(), state);
            }
            let chains = match listener.chains() {
                Ok(chains) => chains,
                Err(e) => {
                    if only.is_none() {
                        self.left_as_is(&listener_id, format!("malformed: {e}"));
                    }
                    continue;
                }
            };
            for (ci, found) in chains.enumerate() {
                let (chain, decision) = (found.entry, found.decision);
                let targets: Vec<usize> = match &chain.kind {
                    ChainKind::Http(http) => report
                        .index
                        .route_configs_named(&http.route_config)
                        .filter(|t| shown_configs.contains(t))
                        .collect(),
                    _ => Vec::new(),
                };
                if only.is_some() && targets.is_empty() {
                    continue;
                }
                let state = chain_state(decision, found.failure);
                self.node(listener_id.clone(), label.clone(), State::Unchanged);
                let chain_id = format!("{prefix}_l{li}_c{ci}");
                let text = format!("chain\n{}", chain_place(chain));
                self.node(chain_id.clone(), text, state);
                let reason = (state == State::Skipped).then(|| found.verdict().1);
                self.edge(&listener_id, &chain_id, reason, state == State::Skipped);
                for target in &targets {
                    self.edge(&chain_id, &format!("{prefix}_rc{target}"), None, false);
                }
                if let (
                    ChainKind::Http(http),
                    ChainDecision::Skip(ChainSkip::MissingRouteConfig(_)),
                ) = (&chain.kind, decision)
                {
                    let id = format!("{chain_id}_missing");
                    let text = format!("route config\n{}\n(not in the input)", http.route_config);
                    self.node(id.clone(), text, State::Skipped);
                    self.edge(&chain_id, &id, Some("not sent".to_owned()), true);
                }
                if matches!(state, State::Patched | State::Selected) {
                    processor_callers.push(chain_id);
                }
            }
        }
        let state = match report.processor_cluster {
            Some(ProcessorCluster::Added) => Some((State::Patched, "added")),
            Some(ProcessorCluster::Present(_)) => Some((State::Selected, "already present")),
            None => None,
        };
        let Some((state, how)) = state else { return };
        if only.is_some() && processor_callers.is_empty() {
            return;
        }
        let processor = format!("{prefix}_processor");
        self.node(
            processor.clone(),
            format!("processor cluster\n({how})"),
            state,
        );
        for caller in processor_callers {
            self.edge(&caller, &processor, Some("ext_proc".to_owned()), true);
        }
    }

    /// A "left as is" node after `from`, the reason on the edge.
    fn left_as_is(&mut self, from: &str, reason: String) {
        let id = format!("{from}_bad");
        self.node(id.clone(), "left as is".to_owned(), State::Skipped);
        self.edge(from, &id, Some(reason), true);
    }

    /// Route configuration groups with their routes and the routes' clusters; returns the
    /// positions of the route configurations drawn.
    fn route_configs(
        &mut self,
        report: &Report,
        prefix: &str,
        only: Option<&RouteQuery>,
    ) -> Vec<usize> {
        let outcomes = report.upstream.by_name();
        let mut shown = Vec::new();
        for config in report.route_configs() {
            let (ri, rc, change) = (config.position, config.entry, config.change);
            let id = format!("{prefix}_rc{ri}");
            let mut group = Group {
                id: format!("{id}_group"),
                label: format!("route config {}", rc.name),
                ..Group::default()
            };
            let (mut state, mut reason) = match change {
                Change::Changed => (State::Patched, None),
                Change::Unchanged => (State::Selected, None),
                Change::NotSelected => (State::Unchanged, None),
                Change::Failed(e) => (State::Skipped, Some(format!("cannot edit: {e}"))),
            };
            let mut collapsed = 0;
            let mut routes = Vec::new();
            match config.routes() {
                Err(e) => (state, reason) = (State::Skipped, Some(format!("malformed: {e}"))),
                Ok(found) => {
                    for found in found {
                        let ((vi, vhost), r, route) =
                            (found.virtual_host, found.position, found.entry);
                        let route_decision = found.decision;
                        if only.is_some_and(|q| !built_from(rc, route, q)) {
                            continue;
                        }
                        let route_state = route_state(route_decision, change);
                        if only.is_none() && route_state == State::Unchanged {
                            collapsed += 1;
                            continue;
                        }
                        let route_id = format!("{id}_v{vi}_r{r}");
                        let mut label = format!(
                            "route {}\nvhost {}",
                            rc.text(route.name),
                            rc.text(vhost.name)
                        );
                        if let Ownership::Owned(owner) = route.owner.ownership(rc) {
                            let _ = write!(label, "\n{} {}", owner.kind, owner.qualified_name());
                        }
                        group.nodes.push(Node {
                            id: route_id.clone(),
                            label,
                            state: route_state,
                        });
                        let why = (route_state == State::Skipped)
                            .then(|| route_verdict(route_decision, change).1);
                        self.edge(&id, &route_id, why, route_state == State::Skipped);
                        if matches!(route_state, State::Patched | State::Selected) {
                            routes.push((route_id, route, (ri, vi, r)));
                        }
                    }
                }
            }
            if only.is_some() && group.nodes.is_empty() {
                continue;
            }
            shown.push(ri);
            group.nodes.insert(
                0,
                Node {
                    id: id.clone(),
                    label: format!("route config\n{}", rc.name),
                    state,
                },
            );
            if let Some(reason) = reason {
                self.left_as_is(&id, reason);
            }
            if collapsed > 0 {
                let rest = format!("{id}_rest");
                let text = format!(
                    "{collapsed} unchanged route{}",
                    if collapsed == 1 { "" } else { "s" }
                );
                group.nodes.push(Node {
                    id: rest.clone(),
                    label: text,
                    state: State::Unchanged,
                });
                self.edge(&id, &rest, None, false);
            }
            self.groups.push(group);
            for (route_id, route, at) in routes {
                self.clusters(report, &outcomes, (rc, route, at), &route_id, prefix);
            }
        }
        shown
    }

    /// The clusters a processed route sends traffic to.
    fn clusters(
        &mut self,
        report: &Report,
        outcomes: &HashMap<&str, &ClusterOutcome>,
        (rc, route, at): (
            &RouteConfigEntry,
            &crate::index::RouteEntry,
            (usize, usize, usize),
        ),
        route_id: &str,
        prefix: &str,
    ) {
        let Some((names, _)) = route.targets.clusters() else {
            for (n, u) in report
                .upstream
                .unresolved
                .iter()
                .filter(|u| (u.route_config, u.virtual_host, u.route) == at)
                .enumerate()
            {
                let id = format!("{route_id}_unresolved{n}");
                self.node(
                    id.clone(),
                    "cluster chosen per request".to_owned(),
                    State::Skipped,
                );
                self.edge(route_id, &id, Some(u.reason.to_string()), true);
            }
            return;
        };
        for name in names {
            let name = rc.text(*name);
            match (outcomes.get(name), report.index.clusters.position(name)) {
                (Some(c), _) => {
                    let state = match c.outcome() {
                        ClusterVerdict::Patched => State::Patched,
                        ClusterVerdict::Skipped => State::Skipped,
                        ClusterVerdict::Unchanged => State::Selected,
                    };
                    let id = format!("{prefix}_k{}", c.position);
                    self.node(id.clone(), format!("cluster\n{name}"), state);
                    let why = (state == State::Skipped).then(|| c.reason());
                    self.edge(route_id, &id, why, state == State::Skipped);
                }
                (None, Some(position)) => {
                    let id = format!("{prefix}_k{position}");
                    self.node(id.clone(), format!("cluster\n{name}"), State::Unchanged);
                    self.edge(route_id, &id, None, false);
                }
                (None, None) => {
                    let n = match self.missing.iter().position(|m| m == name) {
                        Some(n) => n,
                        None => {
                            self.missing.push(name.to_owned());
                            self.missing.len() - 1
                        }
                    };
                    let id = format!("{prefix}_missing{n}");
                    let text = format!("cluster\n{name}\n(not in the input)");
                    self.node(id.clone(), text, State::Skipped);
                    self.edge(route_id, &id, Some("missing".to_owned()), true);
                }
            }
        }
    }
}

fn chain_state(decision: &ChainDecision, failure: Option<&str>) -> State {
    match decision {
        ChainDecision::Patch(_) if failure.is_some() => State::Skipped,
        ChainDecision::Patch(_) => State::Patched,
        ChainDecision::AlreadyPatched => State::Selected,
        ChainDecision::Skip(ChainSkip::NoSelectedRoutes(_)) => State::Unchanged,
        ChainDecision::Skip(_) => State::Skipped,
    }
}

/// Unannotated routes are not concerned; routes held back by anything else were skipped.
fn route_state(decision: &RouteDecision, change: &Change) -> State {
    match (decision, change) {
        (RouteDecision::Selected(_), Change::Changed) => State::Patched,
        (RouteDecision::Selected(_), Change::Failed(_)) => State::Skipped,
        (RouteDecision::Selected(_), _) => State::Selected,
        (RouteDecision::NotSelected(NotSelected::NotAnnotated | NotSelected::NoOwner), _) => {
            State::Unchanged
        }
        (RouteDecision::NotSelected(_), _) => State::Skipped,
    }
}
