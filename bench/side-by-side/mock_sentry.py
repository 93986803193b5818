"""A small mock of Sentry's REST API (Python stdlib only) serving the data set of dataset.py, with
just the endpoints the official @sentry/mcp-server calls for the tools compared here:

  GET /api/0/organizations/                         find_organizations
  GET /api/0/organizations/{org}/                   organization details
  GET /api/0/organizations/{org}/projects/          find_projects
  GET /api/0/organizations/{org}/issues/            search_issues (is:, level:, project:,
                                                    environment:, release:, error.type:, free text;
                                                    statsPeriod; sort date/new/freq/user; limit)
  GET /api/0/organizations/{org}/issues/{id}/       one issue (numeric or short id)
  GET /api/0/organizations/{org}/events/validate/   search_events' validation step
  GET /api/0/organizations/{org}/events/            search_events (Discover, dataset=errors):
                                                    fields, aggregates count()/count_unique(user)/
                                                    last_seen(), sort, per_page
  GET /api/0/auth/                                  whoami
  GET /__stats                                      requests served and the time spent in this mock

Free text matches whole words (and camel-case parts: TimeoutError -> timeout), like sentry-mcp's
index. Usage: mock_sentry.py --port P --data dataset.json
"""
import argparse
import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from dataset import ORG, prose, tokens

STATS = {"requests": 0, "seconds": 0.0, "paths": {}, "unknown": []}
LOCK = threading.Lock()


def parse_time(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def period(s):
    if not s:
        return None
    m = re.fullmatch(r"(\d+)([smhdw])", s)
    if not m:
        return None
    n, u = int(m.group(1)), m.group(2)
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[u]: n})


TERM = re.compile(r'(!?)([\w.\[\]]+):("[^"]*"|\S+)|"([^"]*)"|(\S+)')


def parse_query(q):
    filters, words = [], []
    for m in TERM.finditer(q or ""):
        if m.group(2):
            filters.append((m.group(1) == "!", m.group(2), m.group(3).strip('"')))
        else:
            words.append(m.group(4) if m.group(4) is not None else m.group(5))
    return filters, [w.lower() for t in words for w in re.findall(r"[A-Za-z0-9]+", t)]


class Data:
    def __init__(self, path):
        d = json.load(open(path))
        self.projects = d["projects"]
        self.issues = d["issues"]
        for x in self.issues:
            x["_first"], x["_last"] = parse_time(x["firstSeen"]), parse_time(x["lastSeen"])
            x["_tokens"] = tokens(prose(x))
            x["_envs"] = set()
        self.by_id = {x["id"]: x for x in self.issues}
        self.by_short = {x["shortId"]: x for x in self.issues}
        self.events = d["events"]
        for e in self.events:
            e["_at"] = parse_time(e["at"])
            e["_issue"] = self.by_id[e["issue"]]
            e["_issue"]["_envs"].add(e["environment"])

    def issue_json(self, x, base):
        from dataset import Dataset  # the one shape, shared with the webhooks
        fake = dict(x, firstSeen=x["_first"], lastSeen=x["_last"])
        return Dataset.issue_json(None, fake, f"{base}/organizations/{ORG}/issues/{x['id']}/")


def match(filters, words, issue, event=None):
    for neg, key, val in filters:
        if key == "is":
            ok = {"unresolved": issue["status"] == "unresolved", "resolved": issue["status"] == "resolved",
                  "ignored": issue["status"] == "ignored", "archived": issue["status"] == "ignored",
                  "unassigned": True, "assigned": False}.get(val, False)
        elif key == "level":
            ok = issue["level"] == val
        elif key == "project":
            ok = issue["project"]["slug"] == val
        elif key == "environment":
            ok = event["environment"] == val if event else val in issue["_envs"]
        elif key == "release":
            ok = event is not None and event["release"] == val
        elif key in ("error.type", "exception.type"):
            ok = issue["etype"] == val
        elif key in ("issue", "issue.id"):
            ok = val in (issue["shortId"], issue["id"])
        else:
            ok = False  # an unknown key is a tag; none is set here
        if ok == neg:
            return False
    return all(w in issue["_tokens"] for w in words)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    data: Data = None

    def log_message(self, *a):
        pass

    def send_json(self, obj, status=200):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        t0 = time.perf_counter()
        u = urlparse(self.path)
        q = parse_qs(u.query, keep_blank_values=True)
        one = lambda k, d=None: q.get(k, [d])[0]
        route = "unknown"
        try:
            route, obj, status = self.route(u.path, q, one)
        except Exception as err:  # a mock bug must show, not hang the client
            obj, status = {"detail": f"mock error: {err!r}"}, 500
        self.send_json(obj, status)
        with LOCK:
            if route != "__stats":
                STATS["requests"] += 1
                STATS["seconds"] += time.perf_counter() - t0
                STATS["paths"][route] = STATS["paths"].get(route, 0) + 1
                if route == "unknown" and len(STATS["unknown"]) < 20:
                    STATS["unknown"].append(self.path)

    def route(self, path, q, one):
        d, base = self.data, f"http://{self.headers.get('Host', '127.0.0.1')}"
        if path == "/__stats":
            with LOCK:
                return "__stats", json.loads(json.dumps(STATS)), 200
        if path == "/api/0/auth/":
            return "auth", {"id": "1", "name": "Bench User", "email": "bench@example.com"}, 200
        if path == "/api/0/organizations/":
            org = {"id": "1", "slug": ORG, "name": "Acme", "status": {"id": "active", "name": "active"},
                   "links": {"organizationUrl": f"{base}/organizations/{ORG}/", "regionUrl": ""}}
            return "organizations", [org], 200
        m = re.fullmatch(r"/api/0/organizations/([^/]+)/(.*)", path)
        if not m or m.group(1) != ORG:
            return "unknown", {"detail": "The requested resource does not exist"}, 404
        rest = m.group(2)
        if rest == "":
            return "organization", {"id": "1", "slug": ORG, "name": "Acme",
                                    "links": {"organizationUrl": f"{base}/organizations/{ORG}/", "regionUrl": ""}}, 200
        if rest == "projects/":
            return "projects", [{"id": str(p[0]), "slug": p[1], "name": p[1], "platform": p[2]} for p in d.projects], 200
        if rest == "issues/":
            return "issues", self.issues(q, one, base), 200
        m = re.fullmatch(r"issues/([^/]+)/", rest)
        if m:
            x = d.by_id.get(unquote(m.group(1))) or d.by_short.get(unquote(m.group(1)))
            if not x:
                return "issue", {"detail": "Issue not found"}, 404
            return "issue", d.issue_json(x, base), 200
        if rest == "events/validate/":
            fields = q.get("field", [])
            col = lambda n: {"name": n, "valid": True, "attrType": None, "error": None}
            return "events_validate", {
                "valid": True, "projects": [], "dataset": [{"name": one("dataset", "errors"), "valid": True, "error": None}],
                "environment": [], "field": [col(f) for f in fields],
                "query": {"valid": True, "error": None, "fields": []},
                "orderby": [col(o.lstrip("-")) for o in q.get("orderby", [])]}, 200
        if rest == "events/":
            if one("dataset", "errors") != "errors":
                return "events", {"detail": "only dataset=errors is mocked"}, 400
            return "events", self.events(q, one), 200
        return "unknown", {"detail": "The requested resource does not exist"}, 404

    def issues(self, q, one, base):
        d = self.data
        filters, words = parse_query(one("query", ""))
        now = datetime.now(timezone.utc)
        win = period(one("statsPeriod"))
        projects = set(q.get("project", []))
        xs = [x for x in d.issues if match(filters, words, x)
              and (win is None or x["_last"] >= now - win)
              and (not projects or x["project"]["id"] in projects)]
        key = {"date": lambda x: x["_last"], "new": lambda x: x["_first"], "freq": lambda x: x["count"],
               "user": lambda x: x["userCount"]}.get(one("sort", "date"), lambda x: x["_last"])
        xs.sort(key=key, reverse=True)
        return [d.issue_json(x, base) for x in xs[: int(one("limit", "25"))]]

    def events(self, q, one):
        d = self.data
        filters, words = parse_query(one("query", ""))
        now = datetime.now(timezone.utc)
        win = period(one("statsPeriod")) or timedelta(days=14)
        fields = q.get("field", [])
        evs = [e for e in d.events if e["_at"] >= now - win and match(filters, words, e["_issue"], e)]

        def value(e, f):
            x = e["_issue"]
            return {"issue": x["shortId"], "issue.id": int(x["id"]), "title": x["title"], "project": x["project"]["slug"],
                    "timestamp": e["at"], "level": x["level"], "message": x["title"], "error.type": [x["etype"]],
                    "error.value": [x["value"]], "culprit": x["culprit"], "user.email": e["user"],
                    "user.id": e["user"].split("@")[0], "id": e["event_id"], "environment": e["environment"],
                    "release": e["release"]}.get(f)
        aggs = [f for f in fields if "(" in f]
        if aggs:
            keys = [f for f in fields if "(" not in f]
            groups = {}
            for e in evs:
                groups.setdefault(tuple(json.dumps(value(e, k)) for k in keys), []).append(e)
            rows = []
            for g in groups.values():
                row = {k: value(g[0], k) for k in keys}
                for a in aggs:
                    row[a] = {"count()": len(g), "count_unique(user)": len({e["user"] for e in g}),
                              "last_seen()": max(e["at"] for e in g)}.get(a)
                rows.append(row)
        else:
            rows = [dict({f: value(e, f) for f in fields}, id=e["event_id"]) for e in evs]
        sort = one("sort", "-timestamp") or "-timestamp"
        rows.sort(key=lambda r: (r.get(sort.lstrip("-")) is None, r.get(sort.lstrip("-")) or 0),
                  reverse=sort.startswith("-"))
        types = {f: ("integer" if f.startswith("count") else "date" if f in ("timestamp", "last_seen()") else "string")
                 for f in fields}
        return {"data": rows[: int(one("per_page", "10"))], "meta": {"fields": types, "units": {}}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data", required=True)
    a = ap.parse_args()
    Handler.data = Data(a.data)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    print(f"mock Sentry API on 127.0.0.1:{a.port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
