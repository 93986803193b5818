"""The one data set both sides serve: N issues and their error events, generated from a seed and
timed relative to `now`.

* `webhooks()` gives the signed-webhook bodies that sentry-mcp ingests (`error.created` for every
  event, then one `issue.*` delivery per issue with its final state and counts), shaped like the
  fixtures in ../shared/fixtures/sentry-webhooks/ and server/src/demo.
* `rest_issue()` / `events` give the same objects as Sentry's REST API returns them, for the mock.
* `expect_*()` say what a right answer contains, so every client can check its own answer.

Every issue title carries one unique made-up word (e.g. `bakomi`), so a client can ask for "its"
issue and check that it got that one and no other. Only the TimeoutError issues contain the word
`timeout` anywhere, so the search-errors query has a known answer.
"""
import json
import random
import re
from datetime import datetime, timedelta, timezone

ORG = "acme"
PROJECTS = [  # id, slug, platform
    (11, "checkout-api", "python"),
    (12, "web-frontend", "javascript"),
    (13, "payments-worker", "go"),
    (14, "mobile-ios", "cocoa"),
]
# (type, value, function, module, file); only the first mentions "timeout".
CATALOGUE = [
    ("TimeoutError", "upstream request timeout after 30s", "call_upstream", "app.client", "app/client.py"),
    ("ConnectionResetError", "connection reset by peer", "send_batch", "app.net", "app/net.py"),
    ("KeyError", "missing key cart_id", "load_cart", "app.cart", "app/cart.py"),
    ("ValueError", "invalid literal for int with base 10", "parse_qty", "app.forms", "app/forms.py"),
    ("TypeError", "cannot read properties of undefined", "render_row", "ui.table", "ui/table.js"),
    ("DatabaseError", "could not serialize access due to concurrent update", "commit_tx", "app.db", "app/db.py"),
    ("PermissionError", "access denied for role reader", "check_acl", "app.acl", "app/acl.py"),
    ("OutOfMemoryError", "allocation of 64 MB failed", "decode_image", "img.decode", "img/decode.go"),
    ("IndexError", "list index out of range", "pick_slot", "app.slots", "app/slots.py"),
    ("RuntimeError", "deadlock detected while locking rows", "lock_rows", "app.locks", "app/locks.py"),
]
USERS = [f"user{n}@example.com" for n in range(25)]


def iso(t):
    """Sentry's own format (the official server's zod `datetime()` refuses `+00:00`)."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def words(n, rng):
    cons, vows, out = "bdfgklmnprstvz", "aeiou", []
    seen = set()
    while len(out) < n:
        w = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(3))
        if w not in seen and "timeout" not in w:
            seen.add(w)
            out.append(w)
    return out


class Dataset:
    def __init__(self, n_issues=60, seed=7, now=None):
        self.now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        rng = random.Random(seed)
        self.issues, self.events = [], []
        uniq = words(n_issues, rng)
        for i in range(n_issues):
            pid, slug, platform = PROJECTS[i % len(PROJECTS)]
            etype, value, func, module, fname = CATALOGUE[i % len(CATALOGUE)]
            iid = 5_200_000 + i
            level = "fatal" if i % 11 == 5 else "warning" if i % 7 == 6 else "error"
            status = "resolved" if i % 5 == 3 else "ignored" if i % 9 == 4 else "unresolved"
            n_ev = 3 + (i * 7) % 17
            # Distinct lastSeen per issue (i * 37 min ago), all within the last two days.
            last = self.now - timedelta(minutes=5 + 37 * i, seconds=i)
            step = timedelta(minutes=13 + i % 5)
            title = f"{etype}: {value} in {uniq[i]}"
            issue = {
                "i": i, "id": str(iid), "shortId": f"{slug.upper()}-{100 + i}", "title": title,
                "word": uniq[i], "culprit": f"{module} in {func}", "level": level, "status": status,
                "project": {"id": str(pid), "slug": slug, "name": slug, "platform": platform},
                "platform": platform, "etype": etype, "value": value, "func": func, "module": module,
                "file": fname, "count": n_ev,
            }
            users = set()
            for j in range(n_ev):
                at = last - step * (n_ev - 1 - j)
                env = "production" if (i + j) % 3 else "staging"
                user = USERS[(i * 3 + j) % len(USERS)]
                users.add(user)
                self.events.append({
                    "event_id": f"{0xbe7c0000 + i:016x}{j:016x}", "issue": issue, "at": at,
                    "environment": env, "release": f"{slug}@1.{i % 3}.0", "user": user,
                })
            issue["firstSeen"] = last - step * (n_ev - 1)
            issue["lastSeen"] = last
            issue["userCount"] = len(users)
            self.issues.append(issue)
        self.by_short = {x["shortId"]: x for x in self.issues}

    # ------------------------------------------------------------------ webhooks (sentry-mcp)
    def event_json(self, e):
        x, slug = e["issue"], e["issue"]["project"]["slug"]
        return {
            "event_id": e["event_id"], "issue_id": x["id"], "project": int(x["project"]["id"]),
            "title": x["title"], "culprit": x["culprit"], "level": x["level"], "platform": x["platform"],
            "environment": e["environment"], "release": e["release"], "datetime": iso(e["at"]),
            "timestamp": e["at"].timestamp(), "message": "", "logger": "",
            "tags": [["environment", e["environment"]], ["release", e["release"]], ["level", x["level"]],
                     ["user", "email:" + e["user"]]],
            "user": {"email": e["user"], "id": e["user"].split("@")[0]},
            "exception": {"values": [{"type": x["etype"], "value": x["value"], "stacktrace": {"frames": [
                {"filename": "main", "function": "main", "module": "main", "in_app": False},
                {"filename": x["file"], "function": x["func"], "module": x["module"], "in_app": True, "lineno": 42},
            ]}}]},
            "metadata": {"type": x["etype"], "value": x["value"]},
            "fingerprint": ["{{ default }}"], "type": "error", "version": "7",
            "url": f"https://sentry.io/api/0/projects/{ORG}/{slug}/events/{e['event_id']}/",
            "web_url": f"https://sentry.io/organizations/{ORG}/issues/{x['id']}/events/{e['event_id']}/",
            "issue_url": f"https://sentry.io/api/0/issues/{x['id']}/",
        }

    def issue_json(self, x, permalink):
        return {
            "id": x["id"], "shortId": x["shortId"], "title": x["title"], "culprit": x["culprit"],
            "permalink": permalink, "level": x["level"], "status": x["status"],
            "substatus": {"unresolved": "ongoing", "resolved": None, "ignored": "archived_forever"}[x["status"]],
            "statusDetails": {}, "platform": x["platform"], "project": x["project"], "type": "error",
            "issueType": "error", "issueCategory": "error",
            "metadata": {"type": x["etype"], "value": x["value"], "title": x["title"]},
            "count": str(x["count"]), "userCount": x["userCount"], "firstSeen": iso(x["firstSeen"]),
            "lastSeen": iso(x["lastSeen"]), "assignedTo": None, "numComments": 0, "isBookmarked": False,
            "isPublic": False, "isSubscribed": False, "hasSeen": False, "annotations": [],
            "logger": None, "shareId": None, "subscriptionDetails": None,
        }

    def webhooks(self):
        """(resource, body bytes) in delivery order: every event, then each issue's final state."""
        out = []
        inst, actor = {"uuid": "sbs-installation"}, {"type": "application", "id": "sentry", "name": "Sentry"}
        for e in self.events:
            body = {"action": "created", "installation": inst, "data": {"error": self.event_json(e)}, "actor": actor}
            out.append(("error", json.dumps(body, separators=(",", ":")).encode()))
        for x in self.issues:
            issue = self.issue_json(x, f"https://sentry.io/organizations/{ORG}/issues/{x['id']}/")
            issue["web_url"] = issue["permalink"]
            issue["url"] = f"https://sentry.io/api/0/organizations/{ORG}/issues/{x['id']}/"
            action = {"unresolved": "created", "resolved": "resolved", "ignored": "ignored"}[x["status"]]
            body = {"action": action, "installation": inst, "data": {"issue": issue}, "actor": actor}
            if action == "resolved":
                body["data"]["resolution_type"] = "now"
            out.append(("issue", json.dumps(body, separators=(",", ":")).encode()))
        return out

    # ------------------------------------------------------------------ the answers
    def expect_list(self, query_status="unresolved", level="error", limit=10):
        xs = [x for x in self.issues if x["status"] == query_status and x["level"] == level]
        xs.sort(key=lambda x: x["lastSeen"], reverse=True)
        return [x["shortId"] for x in xs[:limit]]

    def expect_search(self, word="timeout"):
        """Issues whose events match the free-text word, with their event counts."""
        return {x["shortId"]: x["count"] for x in self.issues if word_in(word, prose(x))}

    def to_file(self, path):
        def enc(o):
            if isinstance(o, datetime):
                return iso(o)
            raise TypeError(o)
        with open(path, "w") as f:
            json.dump({"org": ORG, "projects": PROJECTS, "issues": self.issues,
                       "events": [dict(e, issue=e["issue"]["id"]) for e in self.events]}, f, default=enc)


def prose(x):
    """The text free-text search looks at (as sentry-mcp's index does: title, short id, culprit,
    exception type and value, stack files/functions/modules)."""
    return " ".join([x["title"], x["shortId"], x["culprit"], x["etype"], x["value"], x["file"], x["func"],
                     x["module"], "main"])


def tokens(text):
    out = set()
    for w in re.findall(r"[A-Za-z0-9]+", text):
        out.add(w.lower())
        for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", w):  # TimeoutError -> timeout, error
            out.add(part.lower())
    return out


def word_in(query_text, text):
    toks = tokens(text)
    return all(w.lower() in toks for w in re.findall(r"[A-Za-z0-9]+", query_text))


SHORT_ID = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-\d+\b")


def short_ids_in(text, known):
    return {s for s in SHORT_ID.findall(text or "") if s in known}
