//! The deployment cannot drift from the code: the StatefulSet as `kubectl kustomize
//! deploy/k8s` renders it, and the Holmes toolset file, are checked against the binary's
//! real flags (`--help`) and against a running binary's routes, started with the
//! manifest's own args and environment.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use common::mcp::{holmes_probe, python, repo_root};
use common::*;
use serde_json::Value;

/// YAML documents as JSON, read by the test venv's PyYAML (no YAML crate needed).
fn yaml_docs(yaml: &[u8]) -> Vec<Value> {
    let mut child = Command::new(python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(yaml).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "YAML did not parse");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rendered() -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize", "deploy/k8s"])
        .current_dir(repo_root())
        .output()
        .expect("kubectl (with its built-in kustomize) must be on PATH");
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/k8s: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_docs(&out.stdout)
}

fn object<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the rendered manifests"))
}

/// `[env: NAME=...]` names and subcommands that `sentry-mcp --help` documents.
fn help() -> (BTreeSet<String>, BTreeSet<String>) {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let envs = text
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split(['=', ']']).next().unwrap().trim().to_owned())
        .collect();
    let commands = text
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    (envs, commands)
}

fn port_of(addr: &str) -> u64 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_statefulset_and_holmes_config_match_the_binary() {
    let docs = rendered();
    let sts = object(&docs, "StatefulSet", "sentry-mcp");
    let namespace = sts["metadata"]["namespace"].as_str().unwrap().to_owned();
    let pod = &sts["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let (known_env, commands) = help();

    // Args: a real subcommand. Env: every name is a flag's variable (or RUST_LOG).
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert!(commands.contains(&args[0]), "{args:?} vs {commands:?}");
    let mut env = BTreeMap::new();
    let mut secret_keys = BTreeSet::new();
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_owned();
        assert!(
            known_env.contains(&name) || name == "RUST_LOG",
            "{name} is not a variable sentry-mcp reads ({known_env:?})"
        );
        match var.get("value") {
            Some(v) => {
                env.insert(name, v.as_str().unwrap().to_owned());
            }
            None => {
                let key = &var["valueFrom"]["secretKeyRef"];
                assert_eq!(key["name"], "sentry-mcp-credentials", "{var}");
                secret_keys.insert(key["key"].as_str().unwrap().to_owned());
            }
        }
    }
    // The Secret template has every key the pod reads, and the seed's.
    let template = yaml_docs(&std::fs::read(repo_root().join("deploy/k8s/secret.yaml")).unwrap());
    let template_keys: BTreeSet<String> = template[0]["stringData"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(secret_keys.is_subset(&template_keys), "{secret_keys:?}");
    for seed_key in ["sentry-auth-token", "sentry-host", "mcp-token"] {
        assert!(template_keys.contains(seed_key), "{seed_key}");
    }

    // Ports: the listeners the env configures are the container ports the Services use.
    let ports: BTreeMap<String, u64> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["containerPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports["mcp"], port_of(&env["SENTRY_MCP_LISTEN"]));
    assert_eq!(ports["webhook"], port_of(&env["SENTRY_MCP_WEBHOOK_LISTEN"]));
    let mcp_service = object(&docs, "Service", "sentry-mcp");
    assert_eq!(mcp_service["spec"]["ports"][0]["port"], 8000);
    assert_eq!(mcp_service["spec"]["ports"][0]["targetPort"], "mcp");
    let webhook_service = object(&docs, "Service", "sentry-mcp-webhook");
    assert_eq!(webhook_service["spec"]["ports"][0]["targetPort"], "webhook");
    let ingress = object(&docs, "Ingress", "sentry-mcp-webhook");
    let paths = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .unwrap();
    assert_eq!(paths.len(), 1, "the Ingress exposes one path: {paths:?}");
    let ingress_path = paths[0]["path"].as_str().unwrap();
    assert_eq!(paths[0]["pathType"], "Exact");
    assert_eq!(paths[0]["backend"]["service"]["name"], "sentry-mcp-webhook");

    // Start the binary as the pod would: the manifest's args and env (secrets filled in),
    // on free loopback ports instead of the pod's fixed ones.
    let dir = tempfile::tempdir().unwrap();
    let mut start: Vec<String> = args.clone();
    start.extend(["--webhook-secret".into(), SECRET.into()]);
    let mut cmd_env = env.clone();
    cmd_env.insert(
        "SENTRY_MCP_DATA_DIR".into(),
        dir.path().display().to_string(),
    );
    cmd_env.insert("SENTRY_MCP_LISTEN".into(), "127.0.0.1:0".into());
    cmd_env.insert("SENTRY_MCP_WEBHOOK_LISTEN".into(), "127.0.0.1:0".into());
    let server = Server::start_env(&start, &cmd_env).await;

    // Probes: each path answers 200 on the port the probe names.
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        let addr = match get["port"].as_str().unwrap() {
            "mcp" => server.mcp,
            "webhook" => server.webhook,
            other => panic!("{probe} names port {other}"),
        };
        let (status, body) = server.get(addr, get["path"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{probe} {get}: {body}");
    }
    // The Ingress path is the webhook route (a signed delivery goes in), and the MCP routes
    // are not served on the webhook port at all.
    assert_eq!(ingress_path, "/webhooks/sentry");
    let body = issue_body("created", "7070", "unresolved", "2026-01-02T00:00:00Z");
    assert_eq!(server.post("issue", &body, SECRET).await.0, 200);
    for path in ["/sse", "/mcp", "/messages"] {
        assert_eq!(server.get(server.webhook, path).await.0, 404, "{path}");
    }
    // The optional ServiceMonitor scrapes /metrics where it says.
    let out = Command::new("kubectl")
        .args(["kustomize", "deploy/ci/with-servicemonitor"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    let with_monitor = yaml_docs(&out.stdout);
    let monitor = object(&with_monitor, "ServiceMonitor", "sentry-mcp");
    let endpoint = &monitor["spec"]["endpoints"][0];
    let selected: Vec<&Value> = with_monitor
        .iter()
        .filter(|d| d["kind"] == "Service")
        .filter(|d| {
            monitor["spec"]["selector"]["matchLabels"]
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &d["metadata"]["labels"][k] == v)
        })
        .collect();
    assert_eq!(selected.len(), 1, "the ServiceMonitor selects one Service");
    assert_eq!(selected[0]["spec"]["ports"][0]["name"], endpoint["port"]);
    let addr = match endpoint["port"].as_str().unwrap() {
        "mcp" => server.mcp,
        _ => server.webhook,
    };
    let (status, metrics) = server.get(addr, endpoint["path"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(metrics.contains("sentry_mcp_"), "{metrics}");

    // Holmes's toolset: the URLs name the Service, its namespace and port, and the paths the
    // transports serve; Holmes's own client code connects and runs its health check.
    let toolset = yaml_docs(
        &std::fs::read(repo_root().join("deploy/holmes-config/sentry-toolset.yaml")).unwrap(),
    );
    let servers = toolset[0]["mcp_servers"].as_object().unwrap();
    let mut modes = BTreeSet::new();
    for (name, entry) in servers {
        let config = &entry["config"];
        let url = config["url"].as_str().unwrap();
        let mode = config["mode"].as_str().unwrap();
        modes.insert(mode.to_owned());
        let expected_host = format!("sentry-mcp.{namespace}.svc.cluster.local:8000");
        let (host, path) = url
            .strip_prefix("http://")
            .and_then(|rest| rest.split_once('/'))
            .unwrap_or_else(|| panic!("{name}: {url}"));
        assert_eq!(host, expected_host, "{name}");
        assert_eq!(config["health_check_tool"], "status", "{name}");
        let local = format!("http://{}/{path}", server.mcp);
        let probe = holmes_probe(&local, mode, &["--tool", "status"]).await;
        let text = probe.to_string();
        assert!(text.contains("sentry-mcp index"), "{name} ({mode}): {text}");
    }
    assert_eq!(
        modes,
        BTreeSet::from(["sse".to_owned(), "streamable-http".to_owned()])
    );
}
