//! The ProcessorPolicy CRD (`deploy/processor-policy-crd.yaml`) agrees with the code, with EG's
//! configuration and RBAC, and with the policies the golden cases deliver.
//!
//! No API server runs here, so the schema is checked structurally: names and version against
//! `xds_hook::policy`, every field and enum value against what the hook's reader accepts, and
//! every golden policy object against the schema (types, required fields, enums, bounds, no
//! unknown fields) by a small validator. CEL rules and patterns are the API server's; the
//! hook repeats each of them in `policy::spec`, whose unit tests cover them.

use serde_json::{Value, json};
use xds_hook::policy::{self, Delivered, GROUP, KIND, VERSION};

use crate::support;

fn yaml(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(support::repo().join("deploy").join(file)).unwrap();
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("deploy/{file}: {e}"))
}

fn crd() -> Value {
    yaml("processor-policy-crd.yaml").remove(0)
}

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Checks `value` against a structural schema: types, required fields, enums, bounds, and no
/// fields the schema does not declare (the API server would prune them).
fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    match schema["type"].as_str() {
        Some("object") => {
            let Some(object) = value.as_object() else {
                return errors.push(format!("{path}: not an object"));
            };
            for key in schema["required"].as_array().into_iter().flatten() {
                if !object.contains_key(key.as_str().unwrap()) {
                    errors.push(format!("{path}.{}: required", key.as_str().unwrap()));
                }
            }
            let (properties, additional) = (&schema["properties"], &schema["additionalProperties"]);
            for (key, item) in object {
                let at = format!("{path}.{key}");
                match (properties.get(key), additional.is_object()) {
                    (Some(s), _) => check(s, item, &at, errors),
                    (None, true) => check(additional, item, &at, errors),
                    (None, false) if properties.is_null() => {}
                    (None, false) => errors.push(format!("{at}: not in the schema")),
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                return errors.push(format!("{path}: not an array"));
            };
            if let Some(max) = schema["maxItems"].as_u64()
                && items.len() as u64 > max
            {
                errors.push(format!("{path}: more than {max} items"));
            }
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{path}[{i}]"), errors);
            }
        }
        Some("string") => match value.as_str() {
            None => errors.push(format!("{path}: not a string")),
            Some(text) => {
                if let Some(allowed) = schema["enum"].as_array()
                    && !allowed.iter().any(|a| a == text)
                {
                    errors.push(format!("{path}: {text:?} not in {allowed:?}"));
                }
            }
        },
        Some("integer") => match value.as_i64() {
            None => errors.push(format!("{path}: not an integer")),
            Some(n) => {
                let low = schema["minimum"].as_i64().unwrap_or(i64::MIN);
                let high = schema["maximum"].as_i64().unwrap_or(i64::MAX);
                if n < low || n > high {
                    errors.push(format!("{path}: {n} out of [{low}, {high}]"));
                }
            }
        },
        Some("boolean") if !value.is_boolean() => errors.push(format!("{path}: not a boolean")),
        _ => {}
    }
}

fn errors_of(value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(&schema(), value, "", &mut errors);
    errors
}

#[test]
fn names_and_version_are_the_hooks() {
    let crd = crd();
    assert_eq!(crd["spec"]["group"], GROUP);
    assert_eq!(crd["spec"]["names"]["kind"], KIND);
    assert_eq!(
        crd["metadata"]["name"],
        format!("processorpolicies.{GROUP}")
    );
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    let versions = crd["spec"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["name"], VERSION);
    assert_eq!(versions[0]["storage"], true);
    // EG writes the status through the status subresource.
    assert!(versions[0]["subresources"]["status"].is_object());
}

#[test]
fn envoy_gateway_delivers_the_kind_and_may_read_it() {
    let eg = yaml("envoy-gateway.yaml").remove(0);
    let manager = &eg["extensionManager"];
    assert_eq!(
        manager["policyResources"],
        json!([{"group": GROUP, "version": VERSION, "kind": KIND}])
    );
    let post = manager["hooks"]["xdsTranslator"]["post"]
        .as_array()
        .unwrap();
    assert!(post.contains(&json!("Translation")) && post.contains(&json!("Route")));

    let rbac = yaml("processor-policy-rbac.yaml");
    let role = rbac.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    let binding = rbac
        .iter()
        .find(|d| d["kind"] == "ClusterRoleBinding")
        .unwrap();
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let rules = role["rules"].as_array().unwrap();
    let allows = |resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r["apiGroups"].as_array().unwrap().contains(&json!(GROUP))
                && r["resources"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(resource))
                && r["verbs"].as_array().unwrap().contains(&json!(verb))
        })
    };
    for verb in ["get", "list", "watch"] {
        assert!(allows("processorpolicies", verb), "{verb}");
    }
    assert!(allows("processorpolicies/status", "update"));
    let subject = &binding["subjects"][0];
    assert_eq!(subject["name"], "envoy-gateway");
    let namespace = yaml("deployment.yaml").remove(0)["metadata"]["namespace"].clone();
    assert_eq!(subject["namespace"], namespace);

    let kustomization = yaml("kustomization.yaml").remove(0);
    let resources = kustomization["resources"].as_array().unwrap();
    for file in ["processor-policy-crd.yaml", "processor-policy-rbac.yaml"] {
        assert!(resources.contains(&json!(file)), "{file}");
    }
}

/// A policy that sets every field of the schema, each enum at each of its values in turn.
#[test]
fn every_schema_field_and_enum_value_reads_in_the_hook() {
    let schema = schema();
    let spec = &schema["properties"]["spec"]["properties"];
    let mut declared: Vec<&str> = spec
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    declared.sort_unstable();
    let full = json!({
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ai", "sectionName": "http"}],
        "targetSelectors": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
            "matchLabels": {"tenant": "a"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}],
            "namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"}}}}],
        "processor": {"address": "10.0.0.7:1063", "connectTimeout": "2s"},
        "messageTimeout": "5s",
        "processingMode": {"request": {"headers": "Send", "body": "Buffered", "trailers": "Skip"},
            "response": {"headers": "Skip", "body": "Streamed", "trailers": "Send"}},
        "failureModeAllow": true,
        "routes": "All",
        "upstreamFilters": false
    });
    let mut used: Vec<&str> = full
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    used.sort_unstable();
    assert_eq!(
        declared, used,
        "the sample must set every field of the schema"
    );
    let object = |spec: &Value| {
        json!({"apiVersion": format!("{GROUP}/{VERSION}"), "kind": KIND,
        "metadata": {"name": "p", "namespace": "team-a"}, "spec": spec})
    };
    assert_eq!(errors_of(&object(&full)), Vec::<String>::new());
    assert!(policy::spec::read(full.clone()).is_ok());

    let enums = [
        ("/routes", &spec["routes"]),
        (
            "/processingMode/request/body",
            &spec["processingMode"]["properties"]["request"]["properties"]["body"],
        ),
        (
            "/processingMode/response/headers",
            &spec["processingMode"]["properties"]["response"]["properties"]["headers"],
        ),
    ];
    for (pointer, field) in enums {
        for value in field["enum"].as_array().unwrap() {
            let mut sample = full.clone();
            *sample.pointer_mut(pointer).unwrap() = value.clone();
            let read = policy::spec::read(sample.clone());
            let full_duplex = value == "FullDuplexStreamed";
            assert_eq!(read.is_ok(), !full_duplex, "{pointer} = {value}: {read:?}");
            assert_eq!(errors_of(&object(&sample)), Vec::<String>::new());
        }
    }
    for endpoint in [
        json!({"socketPath": "/run/p.sock"}),
        json!({"service": {"name": "ext-proc", "namespace": "team-a", "port": 1063}}),
    ] {
        let mut sample = full.clone();
        sample["processor"] = endpoint;
        assert!(policy::spec::read(sample.clone()).is_ok());
        assert_eq!(errors_of(&object(&sample)), Vec::<String>::new());
    }
    let mut unknown = full;
    unknown["processor"]["socketPth"] = json!("/x");
    assert!(!errors_of(&object(&unknown)).is_empty());
    assert!(policy::spec::read(unknown).is_err());
}

/// Every ProcessorPolicy a golden case delivers fits the schema, status included, and reads
/// in the hook, except the one that is wrong on purpose (a relative socketPath, which the
/// schema's pattern refuses at `kubectl apply`).
#[test]
fn golden_policies_fit_the_schema() {
    let mut checked = 0;
    for case in support::subdirs(&support::repo().join("testdata/golden")) {
        let path = case.join(policy::fixture::FILE);
        if !path.exists() {
            continue;
        }
        for object in policy::fixture::read(&path).unwrap() {
            if object["kind"] != KIND {
                continue;
            }
            let name = format!("{}: {}", case.display(), object["metadata"]["name"]);
            assert_eq!(errors_of(&object), Vec::<String>::new(), "{name}");
            let json = object.to_string();
            let Delivered::Policy(read) = Delivered::read(json.as_bytes()) else {
                panic!("{name}: not read as a policy");
            };
            let relative = object["spec"]["processor"]["socketPath"]
                .as_str()
                .is_some_and(|p| !p.starts_with('/'));
            assert_eq!(read.spec.is_err(), relative, "{name}: {:?}", read.spec);
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} golden policies");
}
