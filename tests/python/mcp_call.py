#!/usr/bin/env python3
"""Call MCP tools with the official Python `mcp` SDK and print the outcome as JSON, so the
Rust end-to-end tests (and people) can assert on it.

  mcp_call.py --transport sse   --url http://127.0.0.1:8000/sse   --tool status --args '{}'
  mcp_call.py --transport http  --url http://127.0.0.1:8000/mcp   --tool search_errors --args '{"query":"timeout"}'
  mcp_call.py --transport stdio --cmd '["sentry-mcp","stdio","--data-dir","D"]' --tool status

--tool/--args may be repeated (paired in order; a missing --args is {}): every call runs in
the same session, after initialize and tools/list. --header 'Name: value' may be repeated.

Prints one JSON object:
  {"server": {"name", "version"}, "protocol_version", "instructions",
   "tools": [{"name", "required", "properties", "description"}],
   "calls": [{"tool", "args", "is_error", "texts": [...], "text", "structured",
              "error": null | {"code", "message"}}]}
"error" is set when the server answered the call with a JSON-RPC error instead of a result
(unknown tool, arguments that do not fit the schema); "text" then holds its message too,
so a test can check the wording either way. Exit status 0 unless the session itself failed.
"""
import argparse
import asyncio
import json
import sys
from contextlib import asynccontextmanager
from datetime import timedelta

from mcp import ClientSession, McpError, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


@asynccontextmanager
async def open_streams(a, headers):
    if a.transport == "sse":
        async with sse_client(a.url, headers=headers, sse_read_timeout=a.timeout) as streams:
            yield streams[0], streams[1]
    elif a.transport == "http":
        async with streamablehttp_client(a.url, headers=headers, sse_read_timeout=a.timeout) as streams:
            yield streams[0], streams[1]
    else:
        cmd = json.loads(a.cmd)
        params = StdioServerParameters(command=cmd[0], args=cmd[1:])
        async with stdio_client(params, errlog=sys.stderr) as streams:
            yield streams[0], streams[1]


def tool_summary(t):
    schema = t.inputSchema or {}
    return {"name": t.name, "description": t.description,
            "required": schema.get("required", []),
            "properties": sorted((schema.get("properties") or {}).keys())}


async def run(a):
    headers = {}
    for h in a.header or []:
        name, _, value = h.partition(":")
        headers[name.strip()] = value.strip()
    tools = a.tool or []
    args = a.args or []
    calls = [(t, json.loads(args[i]) if i < len(args) else {}) for i, t in enumerate(tools)]
    out = {}
    async with open_streams(a, headers or None) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=a.timeout)) as s:
            init = await s.initialize()
            out["server"] = {"name": init.serverInfo.name, "version": init.serverInfo.version}
            out["protocol_version"] = init.protocolVersion
            out["instructions"] = init.instructions
            out["tools"] = [tool_summary(t) for t in (await s.list_tools()).tools]
            out["calls"] = []
            for name, params in calls:
                call = {"tool": name, "args": params, "error": None}
                try:
                    r = await s.call_tool(name, params)
                    call["texts"] = [getattr(c, "text", None) for c in r.content]
                    call["text"] = "\n".join(t for t in call["texts"] if t)
                    call["is_error"] = bool(r.isError)
                    call["structured"] = r.structuredContent
                except McpError as e:
                    call["error"] = {"code": e.error.code, "message": e.error.message}
                    call["texts"], call["text"] = [e.error.message], e.error.message
                    call["is_error"], call["structured"] = True, None
                out["calls"].append(call)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transport", required=True, choices=["sse", "http", "stdio"])
    ap.add_argument("--url", help="the /sse or /mcp URL (sse, http)")
    ap.add_argument("--cmd", help="JSON array: the server command line (stdio)")
    ap.add_argument("--header", action="append", help="'Name: value', repeatable")
    ap.add_argument("--tool", action="append", help="tool to call, repeatable")
    ap.add_argument("--args", action="append", help="JSON object of arguments for the matching --tool")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for any answer")
    a = ap.parse_args()
    if a.transport == "stdio" and not a.cmd:
        ap.error("--transport stdio needs --cmd")
    if a.transport != "stdio" and not a.url:
        ap.error(f"--transport {a.transport} needs --url")
    out = asyncio.run(asyncio.wait_for(run(a), timeout=a.timeout * 2))
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
