//! The report's resources with everything known of each, walked in request order: what the
//! index read, what selection decided, and what the edit did, together.
//!
//! The index, the decisions and the edits' outcomes are separate values (data flows one way:
//! index → select → mutate → report), kept in vectors that run parallel to each other. This
//! is the one place they are put side by side, so every view of the report (`explain`, the
//! JSON report, the graphs, `--route`, the metrics) walks the same bundles instead of zipping
//! the vectors itself. Selection builds its decisions by mapping over the index's entries, so
//! the lengths agree by construction; a debug build checks it here, where a mismatch would
//! otherwise drop entries silently.

use super::{Change, Report};
use crate::index::{
    ChainEntry, InvalidField, ListenerEntry, RouteConfigEntry, RouteEntry, VirtualHostEntry,
};
use crate::select::{ChainDecision, RouteConfigDecision, RouteDecision};

/// One listener.
#[derive(Debug, Clone, Copy)]
pub struct Listener<'a> {
    /// Its position in the request.
    pub position: usize,
    /// What the index read.
    pub entry: &'a ListenerEntry,
    decisions: &'a [ChainDecision],
    report: &'a Report,
}

/// One filter chain of a listener.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a> {
    /// Its position among the listener's chains.
    pub position: usize,
    /// What the index read.
    pub entry: &'a ChainEntry,
    /// What selection decided.
    pub decision: &'a ChainDecision,
    /// Why the decided patch could not be made, if it could not.
    pub failure: Option<&'a str>,
}

/// One route configuration.
#[derive(Debug, Clone, Copy)]
pub struct RouteConfig<'a> {
    /// Its position in the request.
    pub position: usize,
    /// What the index read.
    pub entry: &'a RouteConfigEntry,
    /// What selection decided for its routes.
    pub decision: &'a RouteConfigDecision,
    /// What the edit did.
    pub change: &'a Change,
}

/// One route of a route configuration (shown through its route configuration, which holds
/// its texts, so it has no `Debug` of its own).
#[derive(Clone, Copy)]
pub struct Route<'a> {
    /// Its virtual host's position, and the virtual host.
    pub virtual_host: (usize, &'a VirtualHostEntry),
    /// Its position in the virtual host.
    pub position: usize,
    /// What the index read.
    pub entry: &'a RouteEntry,
    /// What selection decided.
    pub decision: &'a RouteDecision,
}

impl Report {
    /// Every listener, in request order.
    pub fn listeners(&self) -> impl Iterator<Item = Listener<'_>> {
        debug_assert_eq!(self.index.listeners.len(), self.decisions.listeners.len());
        self.index
            .listeners
            .iter()
            .zip(&self.decisions.listeners)
            .enumerate()
            .map(move |(position, (entry, decisions))| Listener {
                position,
                entry,
                decisions,
                report: self,
            })
    }

    /// Every route configuration, in request order.
    pub fn route_configs(&self) -> impl Iterator<Item = RouteConfig<'_>> {
        debug_assert_eq!(
            self.index.route_configs.len(),
            self.decisions.route_configs.len()
        );
        debug_assert_eq!(self.index.route_configs.len(), self.route_changes.len());
        self.index
            .route_configs
            .iter()
            .zip(&self.decisions.route_configs)
            .zip(&self.route_changes)
            .enumerate()
            .map(|(position, ((entry, decision), change))| RouteConfig {
                position,
                entry,
                decision,
                change,
            })
    }
}

impl<'a> Listener<'a> {
    /// Its chains, or why the listener could not be read.
    pub fn chains(&self) -> Result<impl Iterator<Item = Chain<'a>> + 'a, &'a InvalidField> {
        let chains = self.entry.chains.as_ref()?;
        debug_assert_eq!(chains.len(), self.decisions.len());
        let (report, listener) = (self.report, self.position);
        Ok(chains.iter().zip(self.decisions).enumerate().map(
            move |(position, (entry, decision))| Chain {
                position,
                entry,
                decision,
                failure: report.chain_failure(listener, entry.locator),
            },
        ))
    }
}

impl Chain<'_> {
    /// The chain's verdict in words (`patched`, `unchanged` or `skipped`) and why.
    pub fn verdict(&self) -> (&'static str, String) {
        super::chain_verdict(self.entry, self.decision, self.failure)
    }
}

impl<'a> RouteConfig<'a> {
    /// Its routes with their decisions, or why it could not be read.
    pub fn routes(&self) -> Result<impl Iterator<Item = Route<'a>> + 'a, &'a InvalidField> {
        let vhosts = self.entry.virtual_hosts.as_ref()?;
        debug_assert_eq!(vhosts.len(), self.decision.virtual_hosts.len());
        Ok(vhosts
            .iter()
            .zip(&self.decision.virtual_hosts)
            .enumerate()
            .flat_map(|(vh, (vhost, decisions))| {
                debug_assert_eq!(vhost.routes.len(), decisions.len());
                vhost.routes.iter().zip(decisions).enumerate().map(
                    move |(position, (entry, decision))| Route {
                        virtual_host: (vh, vhost),
                        position,
                        entry,
                        decision,
                    },
                )
            }))
    }
}
