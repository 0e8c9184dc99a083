//! Runs the hook (or a baseline) on a generated preset a few times, for profilers (see
//! bench/README.md).
//!
//! `cargo build --release --example hook_once`, then e.g.
//! `valgrind --tool=callgrind --toggle-collect='*run_once*' target/release/examples/hook_once fleet 1 hook`
//! counts only the work from request bytes to response bytes, not the generator. The third
//! argument is `hook` (default), `naive` or `floor`, as in the criterion bench; further
//! arguments are knobs (`routes_per_route_config=10`). Prints the request size and the median
//! wall time of the runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;
use prost::Message;
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::workload::{self, Preset};
use xds_hook::{Config, Hook};

/// The allocator the `xds-hook` binary uses (src/main.rs), so that this measures what it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let preset: Preset = args.next().as_deref().unwrap_or("fleet").parse().unwrap();
    let runs: usize = args.next().map_or(1, |n| n.parse().unwrap());
    let variant = args.next().unwrap_or_else(|| "hook".to_owned());
    let mut spec = preset.spec();
    for knob in args {
        spec.set(&knob).unwrap();
    }
    let request = Bytes::from(workload::generate(&spec).encode_to_vec());
    let hook = Hook::new(Config::default());
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = std::time::Instant::now();
        black_box(run_once(&hook, &request, &variant));
        times.push(start.elapsed());
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!(
        "{preset} {variant}: {} bytes, median {:.3} ms of {runs} runs",
        request.len(),
        median.as_secs_f64() * 1e3
    );
}

#[inline(never)]
fn run_once(hook: &Hook, request: &Bytes, variant: &str) -> usize {
    let decoded = PostTranslateModifyRequest::decode(request.clone()).unwrap();
    let response = match variant {
        "floor" => echo(decoded),
        "naive" => echo(PostTranslateModifyRequest {
            post_translate_context: None,
            clusters: typed::<Cluster>(decoded.clusters),
            secrets: typed::<Secret>(decoded.secrets),
            listeners: typed::<Listener>(decoded.listeners),
            routes: typed::<RouteConfiguration>(decoded.routes),
        }),
        _ => hook.post_translate_modify(decoded).response,
    };
    response.encode_to_vec().len()
}

fn echo(request: PostTranslateModifyRequest) -> PostTranslateModifyResponse {
    PostTranslateModifyResponse {
        clusters: request.clusters,
        secrets: request.secrets,
        listeners: request.listeners,
        routes: request.routes,
    }
}

fn typed<M: Message + Default>(list: Vec<Bytes>) -> Vec<Bytes> {
    list.into_iter()
        .map(|bytes| Bytes::from(M::decode(bytes).unwrap().encode_to_vec()))
        .collect()
}
