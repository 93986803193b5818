"""The Python `mcp` SDK as a client (run with the test venv's python), two modes:

  sdk_client.py open URL TOOL JSON_ARGS N
      one SSE session (sse_client + ClientSession, as holmes_mcp_probe.py --impl sdk builds it),
      then N tools/call on it; prints {"lat_ms": [...], "texts": [...], "errors": [...]}
  sdk_client.py concurrent URL CALLS_JSON_FILE TIMEOUT_S
      every entry {"tool", "args"} of the file is one client: all open their own session at once
      (asyncio.gather) and make one call, Holmes-style; prints one {"ms", "text", "error"} per client

The Holmes-style (new session per call) SDK numbers come from ../shared/clients/holmes_mcp_probe.py
--impl holmes, which drives Holmes's own toolset code.
"""
import asyncio
import json
import sys
import time
from datetime import timedelta

from mcp import ClientSession
from mcp.client.sse import sse_client


def text_of(result):
    return " ".join(getattr(c, "text", "") or "" for c in result.content)


async def open_session(url, tool, args, n):
    out = {"lat_ms": [], "texts": [], "errors": []}
    async with sse_client(url, None, sse_read_timeout=120) as (r, w):
        async with ClientSession(r, w, read_timeout_seconds=timedelta(seconds=120)) as s:
            await s.initialize()
            for _ in range(n):
                t = time.perf_counter()
                res = await s.call_tool(tool, args)
                out["lat_ms"].append((time.perf_counter() - t) * 1000)
                out["texts"].append(text_of(res))
                out["errors"].append(bool(getattr(res, "isError", False)))
    return out


async def one_client(url, call, start, timeout):
    await start.wait()
    t = time.perf_counter()
    try:
        async def go():
            async with sse_client(url, None, sse_read_timeout=120) as (r, w):
                async with ClientSession(r, w, read_timeout_seconds=timedelta(seconds=timeout)) as s:
                    await s.initialize()
                    return await s.call_tool(call["tool"], call["args"])
        res = await asyncio.wait_for(go(), timeout)
        return {"ms": (time.perf_counter() - t) * 1000, "text": text_of(res),
                "error": "tool error" if getattr(res, "isError", False) else None}
    except BaseException as err:  # noqa: BLE001 - every failure is a result here
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        while isinstance(err, BaseExceptionGroup) and err.exceptions:
            err = err.exceptions[0]
        return {"ms": (time.perf_counter() - t) * 1000, "text": "", "error": f"{type(err).__name__}: {err}"[:200]}


async def concurrent(url, calls, timeout):
    # One session first, so the burst does not also pay this process's lazy imports and first
    # HTTP client set-up.
    async with sse_client(url, None, sse_read_timeout=120) as (r, w):
        async with ClientSession(r, w, read_timeout_seconds=timedelta(seconds=timeout)) as s:
            await s.initialize()
            await s.list_tools()
    start = asyncio.Event()
    tasks = [asyncio.create_task(one_client(url, c, start, timeout)) for c in calls]
    await asyncio.sleep(0.05)
    start.set()
    return await asyncio.gather(*tasks)


def main():
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "open":
        out = asyncio.run(open_session(url, sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5])))
    else:
        calls = json.load(open(sys.argv[3]))
        out = asyncio.run(concurrent(url, calls, float(sys.argv[4])))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
