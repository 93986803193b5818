#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/<target>/seed-*) from the
project's fixtures. Run from anywhere: `python3 fuzz/seeds.py`. The corpora kept in the
repository were grown from these by the runs described in fuzz/README.md."""

import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "fixtures"))


def write(target, data):
    out = os.path.join(HERE, "corpus", target)
    os.makedirs(out, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def webhooks():
    files = glob.glob(os.path.join(SHARED, "sentry-webhooks", "**", "*.json"), recursive=True)
    files += glob.glob(os.path.join(ROOT, "tests", "fixtures", "sentry-webhooks", "*.json"))
    out = []
    for path in sorted(files):
        resource = os.path.basename(path).split(".")[0]
        with open(path, encoding="utf-8") as f:
            out.append((resource, json.load(f)))
    return out


def normalise():
    bodies = webhooks()
    for resource, body in bodies:
        write("normalise", resource + "\t1760000000\n" + compact(body))
        # The same body under a resource it was not sent as (records, activity_alert).
        write("normalise", "activity_alert\n" + compact(body))
    issues = [b["data"]["issue"] for r, b in bodies if r == "issue" and "issue" in b.get("data", {})]
    for issue in issues[:3]:
        write("normalise", "sentry_api\n" + compact(
            {"action": "fetched", "data": {"organization": "acme", "issue": issue}}))
    write("normalise", "sentry_api\n" + compact(
        {"action": "reconciled", "data": {"organization": "acme", "issues": issues[:3]}}))
    write("normalise", "sentry_api\n" + compact({"action": "fetched", "data": {
        "organization": "acme", "project": "checkout-api", "event": {
            "eventID": "bb78c1407cea4519aa397afc059c793d", "groupID": "4100002",
            "dateCreated": "2025-01-01T12:00:00Z", "title": "TimeoutError: upstream",
            "release": {"version": "checkout@2.4.1"}, "tags": [{"key": "level", "value": "error"}],
            "entries": [{"type": "exception", "data": {"values": [{"type": "TimeoutError",
                "value": "upstream", "stacktrace": {"frames": [{"filename": "app.py",
                "function": "call", "lineNo": 10, "inApp": True}]}}]}}]}}}))
    # Two deliveries in one input: an issue state, then an event of the same issue.
    by = {r: b for r, b in bodies}
    if "issue" in by and "error" in by:
        write("normalise", "issue\n" + compact(by["issue"]) + "\n\0\n" + "error\n" + compact(by["error"]))


def query():
    for path in sorted(glob.glob(os.path.join(SHARED, "search-syntax", "*.json"))):
        with open(path, encoding="utf-8") as f:
            cases = json.load(f)
        for case in cases:
            if isinstance(case, dict) and isinstance(case.get("query"), str):
                write("query", case["query"])
    for q in [
        "is:unresolved level:error project:checkout-api",
        '"connection reset"',
        "timesSeen:>100 lastSeen:-24h",
        "environment:staging browser.name:Firefox",
        "tags[customer]:acme* release:[checkout@2.4.1, web@1.0]",
        "error.type:TimeoutError OR error.type:ConnectionResetError",
        "(level:error OR level:fatal) !environment:staging",
        "count():>10 count_unique(user):>5 epm():>1 last_seen():-1h",
        "release.version:>2.4 release.package:checkout",
        "message://time.?out// kind:alert has:release",
        "firstSeen:>2025-10-01T00:00:00Z age:-7d assigned:me is:assigned",
    ]:
        write("query", q)


def tool_args():
    for args in [
        {"query": "is:unresolved level:error", "project": "checkout-api", "sort": "freq", "limit": 5},
        {"query": "timeout", "period": "6h", "environment": "production", "cursor": "00"},
        {"issue_id": 4100002},
        {"issue_id": "CHECKOUT-API-102", "organization": "acme"},
        {"issueId": "https://acme.sentry.io/issues/77/events/abc/", "org": "acme"},
        {"issue_id": "1", "query": "release:1.2.0", "period": "24h", "limit": "5"},
        {"event_id": "bb78c1407cea4519aa397afc059c793d", "project_slug": "web"},
        {"query": "count():>10", "since": "2024-05-01T12:00:00Z", "until": "-1h"},
        {"period": "1h", "group_by": "error.type", "limit": 10.0},
        {"release": "checkout@2.4.1", "since": "2024-05-01", "query": "level:error"},
        {"period": "1h", "min_count": 3, "limit": 10},
        {"since": "-7d", "interval": "5m", "issue": "PROJ-1"},
        {"state": "active", "period": "7d", "project": "a,b"},
        {"organization_slug": "acme"},
        {"issue_id": "PROJ-12A", "assignee": "#team-slug"},
        {"issue_id": "1", "assignee": ""},
        {"limit": 99999999999, "sort": "sideways", "colour": "red"},
        {"period": "9999999999999999w"},
        {"since": "-106751991167301d"},
    ]:
        write("tool_args", compact(args))
    for v in ['"24h"', "5", "null", "[1,2]", "true"]:
        write("tool_args", v)


def journal():
    # The journal target reads its input as a structure (arbitrary::Unstructured), so its
    # seeds are just varied bytes; libFuzzer grows the rest.
    for i in range(8):
        write("journal", hashlib.sha512(bytes([i])).digest() * (i + 1))


normalise()
query()
tool_args()
journal()


def dictionaries():
    """libFuzzer dictionaries: JSON keys of the fixtures; search keys and syntax."""
    import re
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    keys = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                keys.add(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for _, body in webhooks():
        walk(body)
    words = sorted('"%s"' % k for k in keys if k.isascii() and '"' not in k and "\\" not in k)
    extra = ['"\\x0a\\x00\\x0a"', '"issue\\x0a"', '"error\\x0a"', '"event_alert\\x0a"',
             '"metric_alert\\x0a"', '"comment\\x0a"', '"sentry_api\\x0a"', '"installation\\x0a"',
             '"seer\\x0a"', '"null"', '"true"', '"false"', '"[]"', '"{}"', '"1e999"',
             '"-9223372036854775808"', '"18446744073709551615"', '"2025-01-01T00:00:00Z"',
             '"1760000000.5"', '"\\x09"']
    with open(os.path.join(HERE, "dict", "normalise.dict"), "w") as f:
        for w in extra:
            f.write(w + "\n")
        for k in words:
            f.write('"\\"%s\\":"\n' % k[1:-1])
    with open(os.path.join(ROOT, "index", "src", "query", "keys.rs"), encoding="utf-8") as f:
        names = sorted(set(re.findall(r'"([a-zA-Z_.\[\]]+)"', f.read())))
    syntax = ["AND", "OR", "(", ")", "!", ":", ">", ">=", "<", "<=", "=", "!=", "*", "\\*",
              '"', '\\"', "[", "]", ", ", "//", "-24h", "+7d", "-1w", "2024-05-01",
              "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123+02:00", "5k", "1.5m", "100ms",
              "3hr", "10%", "5kb", "true", "false", "tags[", "count()", "count_unique(user)",
              "epm()", "last_seen()", "has:", "is:", "latest", "1.2.3", "@", "+build", "\\uf00d",
              "Contains", "StartsWith", "EndsWith"]
    with open(os.path.join(HERE, "dict", "query.dict"), "w") as f:
        for s in syntax:
            f.write('"%s"\n' % s.replace("\\", "\\\\").replace('"', '\\"'))
        f.write('"\\xef\\x80\\x8d"\n')  # U+F00D, around Sentry's operator words
        for n in names:
            f.write('"%s:"\n' % n)
    with open(os.path.join(HERE, "dict", "tool_args.dict"), "w") as f:
        for s in ["query", "issue_id", "issueId", "issue_url", "issue", "event_id", "organization",
                  "organization_slug", "org", "project", "project_slug", "environment", "sort",
                  "period", "since", "until", "limit", "cursor", "group_by", "release",
                  "min_count", "interval", "state", "assignee"]:
            f.write('"\\"%s\\":"\n' % s)
        for s in ["24h", "-6h", "7d", "2w", "90s", "30m", "2024-05-01", "2024-05-01T12:00:00Z",
                  "freq", "new", "user", "date", "active", "resolved", "any", "error.type",
                  "://", "/issues/", "PROJ-1", "null", "true", "1e308", "-1", "4.5",
                  "18446744073709551616"]:
            f.write('"%s"\n' % s)


dictionaries()


def long_queries():
    """Queries near the 10 KB input limit: many terms, deep groups, long values."""
    for q in [
        " ".join("level:error" for _ in range(900)),
        " OR ".join("error.type:E%d" % i for i in range(700)),
        "(" * 2000 + "a" + ")" * 2000,
        "(" * 5000,
        '"' + "x" * 10000 + '"',
        "message:" + "*a" * 4000,
        "tags[k]:[" + ", ".join("v%d" % i for i in range(1500)) + "]",
        "!" * 3000 + "a:b",
        " ".join("a%d:>%d" % (i, i) for i in range(1000)),
        "\\" * 9000,
        "lastSeen:-" + "9" * 5000 + "d",
        "timesSeen:>" + "9" * 5000,
        "message://" + "a" * 60 + "//",
    ]:
        write("query", q[:10240])


long_queries()
