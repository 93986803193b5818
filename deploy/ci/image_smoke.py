#!/usr/bin/env python3
"""Run the container image the way the StatefulSet runs it, and check it works.

  image_smoke.py IMAGE     (DOCKER_HOST must point at a running dockerd)

The container gets the StatefulSet's own args, env, ports, user and security settings,
read from `kubectl kustomize deploy/k8s` (never copied here), a read-only root filesystem
and a named volume for the data dir. Then: a signed webhook in, the probe paths, a
Holmes-style MCP call (Holmes's own client code) over /sse and /mcp through the published
port, `docker stop` (SIGTERM) with a clean exit, and a new container on the same volume
that still finds the webhook. Prints what it checked; exits non-zero on the first failure.
"""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROBE = os.path.join(ROOT, "..", "shared", "clients", "holmes_mcp_probe.py")
SECRET = "smoke-test-webhook-secret"


def sh(*args, check=True):
    out = subprocess.run(args, capture_output=True, text=True)
    if check and out.returncode != 0:
        sys.exit(f"FAILED: {' '.join(args)}\n{out.stdout}{out.stderr}")
    return out.stdout.strip()


def the_statefulset():
    rendered = sh("kubectl", "kustomize", os.path.join(ROOT, "deploy", "k8s"))
    for doc in yaml.safe_load_all(rendered):
        if doc and doc["kind"] == "StatefulSet":
            return doc
    sys.exit("FAILED: no StatefulSet in the rendered manifests")


def docker_run_args(sts, image, name, volume):
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    sec = container["securityContext"]
    args = ["docker", "run", "-d", "--name", name]
    user = pod["securityContext"]["runAsUser"]
    group = pod["securityContext"].get("runAsGroup", user)
    args += ["--user", f"{user}:{group}"]
    if sec.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if "ALL" in sec.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", "ALL"]
    if sec.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    limit = container["resources"]["limits"].get("memory", "")
    if limit.endswith("Mi"):
        args += ["--memory", limit[:-2] + "m"]
    for mount in container["volumeMounts"]:
        args += ["-v", f"{volume}:{mount['mountPath']}"]
    for port in container["ports"]:
        args += ["-p", f"127.0.0.1::{port['containerPort']}"]
    for var in container["env"]:
        if "value" in var:
            args += ["-e", f"{var['name']}={var['value']}"]
        elif var["valueFrom"]["secretKeyRef"]["key"] == "sentry-webhook-secret":
            args += ["-e", f"{var['name']}={SECRET}"]
        # Optional secrets (token, host, org, MCP token) stay unset, as when not created.
    args.append(image)
    args += container.get("args", [])
    return args, container


def logs(name):
    out = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
    return out.stdout + out.stderr


def published(name, container_port):
    line = sh("docker", "port", name, f"{container_port}/tcp").splitlines()[0]
    return int(line.rsplit(":", 1)[1])


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_ready(name, port, path):
    deadline = time.time() + 30
    while time.time() < deadline:
        if get(port, path)[0] == 200:
            return
        time.sleep(0.2)
    sys.exit(f"FAILED: {path} never 200\n{logs(name)}")


def post_webhook(port, issue_id):
    body = json.dumps({
        "action": "created",
        "installation": {"uuid": "smoke"},
        "data": {"issue": {
            "id": issue_id, "shortId": f"SMOKE-{issue_id}", "title": f"Smoke test {issue_id}",
            "status": "unresolved", "level": "error", "count": "1", "userCount": 1,
            "project": {"id": "1", "slug": "smoke", "name": "smoke"},
            "firstSeen": "2026-12-01T00:00:00Z", "lastSeen": "2026-12-01T00:00:00Z",
        }},
    }).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/sentry", data=body, method="POST",
        headers={
            "Content-Type": "application/json",
            "Sentry-Hook-Resource": "issue",
            "Sentry-Hook-Timestamp": str(int(time.time())),
            "Sentry-Hook-Signature": signature,
            "Request-ID": str(uuid.uuid4()),
        })
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.status


def holmes_call(url, mode, tool, args):
    out = sh(sys.executable, PROBE, "--impl", "holmes", "--url", url, "--mode", mode,
             "--tool", tool, "--args", json.dumps(args))
    return out


def check(what, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        sys.exit(f"FAILED: {what}\n{detail}")


def main():
    image = sys.argv[1]
    sts = the_statefulset()
    run_id = uuid.uuid4().hex[:8]
    volume = f"sentry-mcp-smoke-{run_id}"
    names = []
    sh("docker", "volume", "create", volume)
    try:
        size = int(sh("docker", "image", "inspect", "-f", "{{.Size}}", image))
        print(f"image {image}: {size} bytes ({size / 1e6:.1f} MB)")
        check("image is under 30 MB", size < 30_000_000, str(size))
        user = sh("docker", "image", "inspect", "-f", "{{.Config.User}}", image)
        check(f"image runs as non-root user {user!r}", user not in ("", "0", "root", "0:0"))

        name = f"sentry-mcp-smoke-{run_id}-1"
        names.append(name)
        args, container = docker_run_args(sts, image, name, volume)
        print("docker run (from the StatefulSet):", " ".join(args[2:]))
        sh(*args)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        mcp = published(name, ports["mcp"])
        webhook = published(name, ports["webhook"])
        probes = {k: container[k]["httpGet"]["path"]
                  for k in ("startupProbe", "readinessProbe", "livenessProbe")}
        wait_ready(name, mcp, probes["readinessProbe"])
        uid = sh("docker", "top", name, "-o", "pid,uid").splitlines()[-1].split()[-1]
        check(f"the process runs as uid {uid}", uid not in ("0", "root"))
        for probe, path in probes.items():
            status, body = get(mcp, path)
            check(f"{probe} {path} answers 200", status == 200, body)
        check("a signed webhook is acknowledged", post_webhook(webhook, "880001") == 200)
        # The Ingress exposes only /webhooks/sentry; the MCP routes are not even on this port.
        for path in ("/sse", "/mcp", "/messages"):
            check(f"{path} is not served on the webhook port", get(webhook, path)[0] == 404)

        deadline = time.time() + 10
        found = ""
        while time.time() < deadline and "880001" not in found:
            found = holmes_call(f"http://127.0.0.1:{mcp}/sse", "sse", "list_issues",
                                {"query": "is:unresolved"})
            time.sleep(0.3)
        check("Holmes over /sse lists the webhook's issue", "880001" in found, found)
        out = holmes_call(f"http://127.0.0.1:{mcp}/mcp", "streamable-http", "get_issue",
                          {"issue_id": "SMOKE-880001"})
        check("Holmes over /mcp gets the issue", "Smoke test 880001" in out, out)

        started = time.time()
        grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        sh("docker", "stop", "-t", str(grace), name)
        took = time.time() - started
        code = sh("docker", "inspect", "-f", "{{.State.ExitCode}}", name)
        text = logs(name)
        check(f"docker stop (SIGTERM) exits 0 in {took:.1f}s", code == "0", text)
        check("the shutdown was clean", "shut down cleanly" in text, text)

        name2 = f"sentry-mcp-smoke-{run_id}-2"
        names.append(name2)
        args, _ = docker_run_args(sts, image, name2, volume)
        sh(*args)
        mcp = published(name2, ports["mcp"])
        wait_ready(name2, mcp, probes["readinessProbe"])
        out = holmes_call(f"http://127.0.0.1:{mcp}/sse", "sse", "list_issues",
                          {"query": "is:unresolved"})
        check("a new container on the same volume still finds the webhook", "880001" in out, out)
        print("image smoke test passed")
    finally:
        for name in names:
            sh("docker", "rm", "-f", name, check=False)
        sh("docker", "volume", "rm", "-f", volume, check=False)


if __name__ == "__main__":
    main()
