//! Clusters: add the processor cluster when the request does not already have one by that name.
//!
//! Only cluster names are read, straight off the wire (field 1), and the scan stops at the
//! name: the rest of every cluster is never parsed.

use bytes::Bytes;

use crate::wire;

/// What happened to the processor cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorCluster {
    /// Appended at the end of the cluster list.
    Added,
    /// A cluster with that name was already at this position; it is left as is.
    Present(usize),
}

/// Ensures `clusters` contains the processor cluster.
pub fn ensure_processor(
    clusters: &mut Vec<Bytes>,
    name: &str,
    cluster: &Bytes,
) -> ProcessorCluster {
    match clusters
        .iter()
        .position(|c| cluster_name(c) == Some(name.as_bytes()))
    {
        Some(position) => ProcessorCluster::Present(position),
        None => {
            clusters.push(cluster.clone());
            ProcessorCluster::Added
        }
    }
}

/// The raw name of an encoded cluster (its first field-1 record).
pub fn cluster_name(cluster: &[u8]) -> Option<&[u8]> {
    wire::first_len(cluster, 1)
}
