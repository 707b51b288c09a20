"""GET / and /web/*: the page and its files, served by the agent with a strict policy."""

from __future__ import annotations

import re

from tests.helpers import Agent


def test_page_is_served_with_its_policy_and_files(agent: Agent) -> None:
    with agent.client() as client:
        page = client.get("/")
        script = client.get("/web/app.js")
        missing = client.get("/web/nothing.js")
        escape = client.get("/web/../http/app.py")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "{{version}}" not in page.text
    assert re.search(r'src="/web/app\.js\?v=[0-9.]+', page.text)
    assert "http://" not in page.text and "https://" not in page.text  # nothing from outside
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not found."}
    assert escape.status_code == 404
