"""GET / and /web/*: the page and its files, served by the agent with a strict policy."""

from __future__ import annotations

import re
from posixpath import dirname, normpath

import httpx

from tests.helpers import Agent

# `import ... from "x"`, `export ... from "x"` and `import "x"`: what a browser fetches.
IMPORT = re.compile(
    r"""^\s*(?:(?:import|export)\b[^;"'(){}]*(?:\{[^}]*\})?[^;"'(){}]*\bfrom|import)\s*["']([^"']+)["']""",
    re.M,
)


def modules_reached(client: httpx.Client, entry: str) -> dict[str, httpx.Response]:
    """Every module the entry point imports, directly or not, fetched as the browser would."""
    fetched: dict[str, httpx.Response] = {}
    queue = [entry]
    while queue:
        path = queue.pop()
        if path in fetched:
            continue
        fetched[path] = response = client.get(path)
        for specifier in IMPORT.findall(response.text):
            # Relative paths only: no bare name (it needs an import map) and nothing from outside.
            assert specifier.startswith("./") or specifier.startswith("../"), (path, specifier)
            queue.append(normpath(f"{dirname(path)}/{specifier}"))
    return fetched


def test_page_is_served_with_its_policy_and_files(agent: Agent) -> None:
    with agent.client() as client:
        page = client.get("/")
        entry = re.search(r'<script type="module" src="(/web/js/main\.js)\?v=[0-9.]+"', page.text)
        assert entry is not None, page.text
        modules = modules_reached(client, entry.group(1))
        missing = client.get("/web/nothing.js")
        escape = client.get("/web/../http/app.py")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "{{version}}" not in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from outside
    assert {"/web/js/main.js", "/web/js/logic/model.js", "/web/js/dom/grid.js"} <= set(modules)
    for path, script in modules.items():
        assert script.status_code == 200, path
        assert "javascript" in script.headers["content-type"], path  # modules need a JS type
        assert script.headers["cache-control"] == "no-cache", path  # imports carry no version
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not found."}
    assert escape.status_code == 404
