#!/usr/bin/env python3
"""Load deploy/holmes-config/sentry-toolset.yaml the way Holmes loads a custom toolset file,
point every server at a test instance (same path, other host:port), and drive each one
through Holmes's own code: prerequisites (connect, list tools, health check tool), then one
tool call on a fresh session. Prints JSON per toolset.

  holmes_toolset_check.py YAML BASE_URL TOKEN [TOOL]     (BASE_URL: http://host:port)
"""
import json
import logging
import os
import sys
import urllib.parse
from types import SimpleNamespace

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HOLMES_DISABLE_TELEMETRY", "1")


def main():
    path, base, token = sys.argv[1], sys.argv[2], sys.argv[3]
    tool_name = sys.argv[4] if len(sys.argv) > 4 else "status"
    os.environ["SENTRY_MCP_TOKEN"] = token
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    import yaml
    from holmes.core.tools import ToolsetType
    from holmes.plugins.toolsets import load_toolsets_from_config

    parsed = yaml.safe_load(open(path))
    servers = parsed["mcp_servers"]
    target = urllib.parse.urlparse(base)
    declared = {}
    for name, server in servers.items():
        url = urllib.parse.urlparse(server["config"]["url"])
        declared[name] = {"url": server["config"]["url"], "mode": server["config"]["mode"],
                          "enabled": server.get("enabled", True)}
        server["config"]["url"] = url._replace(netloc=target.netloc).geturl()
        server["type"] = ToolsetType.MCP.value
    out = {}
    for toolset in load_toolsets_from_config(servers):
        result = dict(declared[toolset.name])
        result["loaded_as"] = type(toolset).__name__
        ok, message = toolset.prerequisites_callable(toolset.config)
        result["prerequisites_ok"], result["prerequisites_msg"] = ok, message
        result["ntools"] = len(getattr(toolset, "tools", []))
        tool = next((t for t in toolset.tools if t.name == tool_name), None)
        if tool is not None:
            ctx = SimpleNamespace(request_context=None, user_approved=False, session_approved_prefixes=[],
                                  tool_call_id="check", tool_name=tool.name, tool_number=None)
            res = tool._invoke({}, ctx)
            result["call_status"] = str(getattr(res.status, "value", res.status))
            result["call_data"] = res.data if isinstance(res.data, str) else json.dumps(res.data, default=str)
        out[toolset.name] = result
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
