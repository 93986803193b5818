#!/usr/bin/env python3
"""A lean streamable-HTTP MCP client on raw http.client, one new session per call like
Holmes (initialize, notifications/initialized, tools/call, DELETE), the /mcp counterpart of
shared/clients/lean_sse.py: it adds well under a millisecond, so it measures what the server
costs per session. Usage: lean_http.py BASE_URL TOOL JSON_ARGS N  -> prints JSON stats.
BASE_URL is http://host:port (the path /mcp is added when missing)."""
import http.client
import json
import sys
import time
import urllib.parse

VERSION = "2025-06-18"


def post(conn, path, body, session=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if session:
        headers["Mcp-Session-Id"] = session
        headers["MCP-Protocol-Version"] = VERSION
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode()
    assert resp.status in (200, 202), (resp.status, data)
    message = None
    for line in data.splitlines():  # an SSE body: the answer is the last data line
        if line.startswith("data:") and line[5:].strip():
            message = json.loads(line[5:])
    if message is None and data.strip().startswith("{"):
        message = json.loads(data)
    return resp, message


def session(host, port, path, tool, args):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    resp, _ = post(conn, path, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "lean", "version": "0"}}})
    sid = resp.getheader("mcp-session-id")
    post(conn, path, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    _, message = post(conn, path, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                   "params": {"name": tool, "arguments": args}}, sid)
    conn.request("DELETE", path, headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": VERSION})
    conn.getresponse().read()
    conn.close()
    return message


def main():
    base, tool, args, n = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    u = urllib.parse.urlparse(base)
    path = u.path if u.path.endswith("/mcp") else u.path.rstrip("/") + "/mcp"
    lat, last = [], None
    for _ in range(n):
        t = time.perf_counter()
        last = session(u.hostname, u.port, path, tool, args)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    text = json.dumps(last.get("result", last))
    print(json.dumps({"n": n, "p50_ms": round(lat[n // 2], 2), "p99_ms": round(lat[min(n - 1, int(n * 0.99))], 2),
                      "answer_chars": len(text), "is_error": bool(last.get("result", {}).get("isError")) or "error" in last}))


if __name__ == "__main__":
    main()
