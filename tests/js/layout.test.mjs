import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";

const LOGIC = new URL("../../src/pgwarden/web/js/logic/", import.meta.url);
const BROWSER_ONLY = /\b(document|window|localStorage|sessionStorage|EventSource|requestAnimationFrame|fetch)\b/;

test("the pure modules touch no DOM and no browser API: those are passed in", () => {
  const files = readdirSync(LOGIC).filter((name) => name.endsWith(".js"));
  assert.ok(files.length >= 5, files.join(", "));
  for (const name of files) {
    const code = readFileSync(new URL(name, LOGIC), "utf8")
      .split("\n")
      .filter((line) => !line.trimStart().startsWith("//"))
      .join("\n");
    assert.doesNotMatch(code, BROWSER_ONLY, name);
  }
});
