//! The hook against its two baselines, per workload preset, in one run.
//!
//! For each preset (`small`, `fleet`, `huge`, and `huge` at `fleet`'s shape, see [`cases`]) the
//! same encoded request goes through (the last only `floor` and `hook`):
//! - `floor`: decode the request into raw byte fields and re-encode it, which is what an echo
//!   that understands nothing costs (`contract::PostTranslateModifyRequest` keeps every
//!   resource as bytes);
//! - `naive`: the same, plus a full typed decode of every resource with envoy-types and its
//!   re-encoding, which is what a hook written against the typed API costs before it does
//!   anything (HCMs stay packed in their `Any`: a generous baseline);
//! - `naive_hcm`: `naive`, plus unpacking and repacking every HCM `Any`, which a typed hook
//!   must open to insert a filter;
//! - `hook`: decode, `Hook::post_translate_modify` with the default configuration, encode.
//!
//! Each measures from request bytes to response bytes. Per-iteration times are recorded from
//! criterion's own samples, and a table of medians and ratios is printed at the end.
//! `cargo bench --bench hook -- fleet` runs one preset; see bench/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput};
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::{Listener, filter};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;
use prost::Message;
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::workload::{self, Preset, Spec};
use xds_hook::{Config, Hook};

thread_local! {
    /// Per (preset, variant): seconds per iteration, one entry per criterion sample.
    static SAMPLES: RefCell<BTreeMap<(usize, &'static str), Vec<f64>>> = RefCell::default();
}

const VARIANTS: [&str; 4] = ["floor", "naive", "naive_hcm", "hook"];

/// The allocator the `xds-hook` binary uses (src/main.rs), so that this measures what it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One workload the suite runs: a preset, or `huge` at `fleet`'s shape.
struct Case {
    name: &'static str,
    spec: Spec,
    variants: &'static [&'static str],
}

/// The presets, then `huge` with `fleet`'s routes per route configuration: `huge` has twice
/// `fleet`'s routes per listener (the 200,000 routes for 10,000 listeners), so its
/// per-route work grows x10 for x7.5 the bytes; at `fleet`'s shape every count is x5, and the
/// time ratio against `fleet` measures size alone. The floor's own scaling is printed next
/// to the hook's: on a machine whose cache holds `fleet` but not `huge`, merely moving the
/// bytes grows faster than they do.
fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Preset::ALL
        .into_iter()
        .map(|preset| Case {
            name: preset.name(),
            spec: preset.spec(),
            variants: &VARIANTS,
        })
        .collect();
    let mut huge_as_fleet = Preset::Huge.spec();
    let fleet_shape = format!(
        "routes_per_route_config={}",
        Preset::Fleet.spec().routes_per_route_config
    );
    huge_as_fleet.set(&fleet_shape).unwrap();
    cases.push(Case {
        name: HUGE_AS_FLEET,
        spec: huge_as_fleet,
        variants: &["floor", "hook"],
    });
    cases
}

const HUGE_AS_FLEET: &str = "huge@fleet-shape";

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut sizes = Vec::new();
    for (position, case) in cases().into_iter().enumerate() {
        let request = Bytes::from(workload::generate(&case.spec).encode_to_vec());
        sizes.push((case.name, request.len()));
        bench_case(&mut criterion, position, &case, &request);
    }
    criterion.final_summary();
    print_summary(&sizes);
}

fn bench_case(criterion: &mut Criterion, position: usize, case: &Case, request: &Bytes) {
    let hook = Hook::new(Config::default());
    let mut group = criterion.benchmark_group(case.name);
    group.throughput(Throughput::Bytes(request.len() as u64));
    match case.name {
        "small" => {}
        // Flat sampling: the same iteration count per sample, so that slow variants (naive
        // on huge takes about a second) finish in a predictable time.
        "fleet" => {
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(20);
            group.measurement_time(Duration::from_secs(5));
        }
        _ => {
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(10);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(10));
        }
    }
    for &variant in case.variants {
        group.bench_function(variant, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let response = match variant {
                        "floor" => floor(request),
                        "naive" => naive(request, false),
                        "naive_hcm" => naive(request, true),
                        _ => with_hook(&hook, request),
                    };
                    black_box(response);
                }
                let elapsed = start.elapsed();
                let per_iter = elapsed.as_secs_f64() / iters.max(1) as f64;
                SAMPLES.with(|s| {
                    s.borrow_mut()
                        .entry((position, variant))
                        .or_default()
                        .push(per_iter)
                });
                elapsed
            });
        });
    }
    group.finish();
}

fn decode(request: &Bytes) -> PostTranslateModifyRequest {
    PostTranslateModifyRequest::decode(request.clone()).unwrap()
}

fn respond(request: PostTranslateModifyRequest) -> Vec<u8> {
    PostTranslateModifyResponse {
        clusters: request.clusters,
        secrets: request.secrets,
        listeners: request.listeners,
        routes: request.routes,
    }
    .encode_to_vec()
}

/// Moving the bytes: the cost of any hook, however little it understands.
fn floor(request: &Bytes) -> Vec<u8> {
    respond(decode(request))
}

/// Typed decode and re-encode of every resource (and, with `hcm`, of every HCM inside its
/// `Any`), then the same response.
fn naive(request: &Bytes, hcm: bool) -> Vec<u8> {
    fn typed<M: Message + Default>(list: Vec<Bytes>, edit: impl Fn(&mut M)) -> Vec<Bytes> {
        list.into_iter()
            .map(|bytes| {
                let mut message = M::decode(bytes).unwrap();
                edit(&mut message);
                Bytes::from(message.encode_to_vec())
            })
            .collect()
    }
    let request = decode(request);
    respond(PostTranslateModifyRequest {
        post_translate_context: None,
        clusters: typed::<Cluster>(request.clusters, |_| {}),
        secrets: typed::<Secret>(request.secrets, |_| {}),
        listeners: typed::<Listener>(request.listeners, |listener| {
            if hcm {
                repack_hcms(listener);
            }
        }),
        routes: typed::<RouteConfiguration>(request.routes, |_| {}),
    })
}

/// The HCM's type, as a typed hook would know it.
const HCM_TYPE: &str =
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/// Unpacks every HCM of a typed listener and packs it again, as a typed hook that edits
/// `http_filters` must.
fn repack_hcms(listener: &mut Listener) {
    let chains = listener
        .filter_chains
        .iter_mut()
        .chain(listener.default_filter_chain.as_mut());
    for filter in chains.flat_map(|chain| chain.filters.iter_mut()) {
        if let Some(filter::ConfigType::TypedConfig(any)) = &mut filter.config_type
            && any.type_url.ends_with(HCM_TYPE)
        {
            let hcm = HttpConnectionManager::decode(any.value.as_slice()).unwrap();
            any.value = hcm.encode_to_vec();
        }
    }
}

fn with_hook(hook: &Hook, request: &Bytes) -> Vec<u8> {
    hook.post_translate_modify(decode(request))
        .response
        .encode_to_vec()
}

fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

fn print_summary(sizes: &[(&'static str, usize)]) {
    let medians: BTreeMap<(usize, &str), f64> = SAMPLES.with(|s| {
        s.borrow()
            .iter()
            .filter_map(|(key, samples)| Some((*key, median(samples)?)))
            .collect()
    });
    println!("\nxds-hook bench summary (medians of criterion samples, one run)");
    println!(
        "{:<16} {:>8} {:>9} {:>9} {:>13} {:>9} {:>10} {:>10} {:>14}",
        "preset",
        "MiB",
        "floor ms",
        "naive ms",
        "naive_hcm ms",
        "hook ms",
        "hook/floor",
        "hook/naive",
        "hook/naive_hcm"
    );
    let mut hook_times = BTreeMap::new();
    for (position, (name, size)) in sizes.iter().enumerate() {
        let get = |variant| medians.get(&(position, variant)).copied();
        let (Some(floor), Some(hook)) = (get("floor"), get("hook")) else {
            continue;
        };
        hook_times.insert(*name, (hook, floor, *size));
        let ms = |t: Option<f64>| t.map_or_else(|| "-".to_owned(), |t| format!("{:.3}", t * 1e3));
        let ratio =
            |t: Option<f64>| t.map_or_else(|| "-".to_owned(), |t| format!("{:.3}", hook / t));
        println!(
            "{:<16} {:>8.2} {:>9.3} {:>9} {:>13} {:>9.3} {:>10.1} {:>10} {:>14}",
            name,
            *size as f64 / (1 << 20) as f64,
            floor * 1e3,
            ms(get("naive")),
            ms(get("naive_hcm")),
            hook * 1e3,
            hook / floor,
            ratio(get("naive")),
            ratio(get("naive_hcm"))
        );
    }
    let Some(&(fleet, fleet_floor, fleet_size)) = hook_times.get("fleet") else {
        return;
    };
    for larger in ["huge", HUGE_AS_FLEET] {
        let Some(&(hook, floor, size)) = hook_times.get(larger) else {
            continue;
        };
        let size_ratio = size as f64 / fleet_size as f64;
        let (hook_scaling, floor_scaling) = (hook / fleet, floor / fleet_floor);
        println!(
            "scaling {larger}/fleet: input size x{size_ratio:.2}; hook time x{hook_scaling:.2}, \
             time/size {:.3} (target <= 1.1); floor time x{floor_scaling:.2}, time/size {:.3}; \
             hook scaling / floor scaling {:.3}",
            hook_scaling / size_ratio,
            floor_scaling / size_ratio,
            hook_scaling / floor_scaling
        );
    }
}
