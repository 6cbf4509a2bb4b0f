"""axe-core in the browser tests: every page of Tally a test shows is checked against
WCAG 2.1 A and AA, and a serious or critical violation fails the test.

axe-core (vendored in ``vendor/axe-core/``) runs in an isolated world of the page,
loaded through the DevTools protocol into every document the page opens: the page's
own scripts cannot see it, the page's Content-Security-Policy does not apply to it,
and it works with JavaScript off too (the page may then run no timer, so during a
check axe's timers are replaced by microtasks).

When a page is checked, without the test doing anything:

- after ``goto``, ``reload``, ``go_back``, ``go_forward`` and ``set_viewport_size``
  (a new width is a new layout), and before them if the page shows anything unchecked;
- before each action and auto-waiting assertion on a locator (a Playwright locator
  handler) when the page shows an element that was not visible at the last check: a
  page reached by a click or a form, a dialog, swapped-in results or tab, a field
  error, a message;
- at the end of a test that passed, for whatever the pages show then (a test that
  failed has its own failure to show).

A new document is checked whole; in a document checked before, only what appeared
since. Checked elements carry ``data-axe-checked``. A state identical to one checked
before in the same process (the same HTML, or new parts with the same HTML inside the
same elements, but for CSRF tokens; the same viewport, focus, JavaScript on or off) is
not checked again: it had the same result. A change
inside elements already checked (a text, a class) is not checked again. Frames (an
email's body) are checked too, each in its own document; pages not of Tally (a test's
own page, a browser error page) are not.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Error, Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
MARK = "data-axe-checked"
WORLD = "tally-axe-check"
# The blocking violations of each state checked in this process, by its key (CHECK).
CHECKED: dict[str, list[dict]] = {}
# The check of each page.
CHECKS: weakref.WeakKeyDictionary[Page, PageCheck] = weakref.WeakKeyDictionary()

# Runs in the document (as ``(CHECK)(arguments)``). null for a document not of Tally
# (not under ``origin``: a test's own page, an error page); "no axe" when axe is not
# loaded in this world; null when everything shown was checked already (unless ``force``).
# Otherwise, first the state a person sees is awaited: htmx done swapping and settling,
# transitions at their end. A new document (or a new layout: ``force``) is checked
# whole; in a document checked before, only what appeared since (a dialog, swapped-in
# results, a message). What is checked has a key: its HTML (the new parts' with the
# elements around them; without CSRF tokens and marks), the viewport, the focus and
# whether scripts run.
# With ``run`` false, the answer is {whole, key}. With ``run``, axe-core checks (unless
# ``known`` is the key: a state checked before), the checked elements are marked, and
# the answer is {url, key, known, violations}, the serious and critical ones.
CHECK = """
async ({tags, blocking, mark, origin, force, run, known}) => {
  if (!location.protocol.startsWith("http")) return null;  // about:blank, error pages
  if (origin !== null && !location.href.startsWith(origin + "/")) return null;
  if (typeof axe === "undefined") return "no axe";
  const root = document.documentElement;
  if (!root || !document.body) return null;
  const shown = (el) =>
    el.checkVisibility({visibilityProperty: true}) ||
    getComputedStyle(el).display === "contents" || el.closest("select") !== null;
  const unchecked = () =>
    [...document.body.querySelectorAll(`:not([${mark}])`)].filter(shown);
  if (!force && root.hasAttribute(mark) && unchecked().length === 0) return null;

  const busy = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added";
  for (let i = 0; i < 100 && document.querySelector(busy); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const animation of document.getAnimations()) {
    if (animation.effect && animation.effect.getComputedTiming().endTime !== Infinity) {
      animation.finish();
    }
  }
  const fresh = unchecked();
  const whole = force || !root.hasAttribute(mark);
  const freshSet = new Set(fresh);
  const roots = fresh.filter((el) => !freshSet.has(el.parentElement));
  if (!whole && roots.length === 0) return null;
  // The key of what is checked: the whole HTML, or the new parts' HTML with the
  // elements around them (their look depends on those); without CSRF tokens and marks.
  const around = (el) => {
    const path = [];
    for (let up = el.parentElement; up; up = up.parentElement) {
      path.push(`${up.tagName}#${up.id}.${up.className}`);
    }
    return path.join("<");
  };
  const html = (whole ? root.outerHTML : roots.map((el) => around(el) + el.outerHTML).join())
    .replaceAll(` ${mark}=""`, "")
    .replace(/[A-Za-z0-9_.-]{40,}/g, "~");
  let a = 2166136261, b = 5381;
  for (let i = 0; i < html.length; i++) {
    const c = html.charCodeAt(i);
    a = Math.imul(a ^ c, 16777619);
    b = (Math.imul(b, 33) + c) | 0;
  }
  const focus = document.activeElement;
  const focused = focus ? `${focus.tagName}#${focus.id}.${focus.name || ""}` : "";
  const scripting = matchMedia("(scripting: enabled)").matches;
  const key = [whole ? "whole" : "part", html.length, (a >>> 0).toString(16),
               (b >>> 0).toString(16), innerWidth, innerHeight, focused, scripting].join(" ");
  if (!run) return {whole, key};

  let violations = [];
  if (key !== known) {
    const timers = [window.setTimeout, window.clearTimeout];
    window.setTimeout = (callback, delay, ...args) => {
      Promise.resolve().then(() => callback(...args));
      return 0;
    };
    window.clearTimeout = () => {};
    let results;
    try {
      results = await axe.run(whole ? document : {include: roots}, {
        iframes: false,
        runOnly: {type: "tag", values: tags},
        resultTypes: ["violations"],
        // Stylesheets are read as the page has them, not fetched again (only
        // css-orientation-lock needs that, and Tally's CSS never locks the orientation).
        preload: false,
      });
    } finally {
      [window.setTimeout, window.clearTimeout] = timers;
    }
    violations = results.violations
      .filter((v) => blocking.includes(v.impact))
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html})),
      }));
  }
  root.setAttribute(mark, "");
  for (const el of fresh) el.setAttribute(mark, "");
  return {url: location.href, key, known: key === known, violations};
}
"""

# Errors of a check that met a navigation or a closed page: the next check sees the
# new document (or there is nothing left to check).
GONE = (
    "Execution context was destroyed",
    "Cannot find context with specified id",
    "Inspected target navigated or closed",
    "No frame with given id",
    "Frame was detached",
    "has been closed",
    "Target closed",
)


@dataclass(frozen=True)
class Violation:
    url: str
    rule: str
    impact: str
    help: str
    help_url: str
    targets: tuple[str, ...]
    html: str

    def __str__(self) -> str:
        where = ", ".join(self.targets)
        snippet = self.html if len(self.html) <= 160 else self.html[:157] + "..."
        return (
            f"{self.rule} ({self.impact}) at {where}: {self.help}\n"
            f"      {snippet}\n      {self.help_url}"
        )


def describe(violations: list[Violation]) -> str:
    """A readable list, by page: rule id, impact, target selectors, help."""
    lines = [f"{len(violations)} serious or critical accessibility violation(s) (axe-core):"]
    for url in dict.fromkeys(v.url for v in violations):
        lines.append(f"  on {url}")
        lines += [f"    - {v}" for v in violations if v.url == url]
    return "\n".join(lines)


def _violations(result: dict[str, Any]) -> list[Violation]:
    return [
        Violation(
            url=result["url"],
            rule=found["id"],
            impact=found["impact"],
            help=found["help"],
            help_url=found["helpUrl"],
            targets=tuple(node["target"] for node in found["nodes"]),
            html=found["nodes"][0]["html"] if found["nodes"] else "",
        )
        for found in result["violations"]
    ]


def _gone(error: Exception) -> bool:
    return any(text in str(error) for text in GONE)


class PageCheck:
    """axe-core for one page: loaded in an isolated world of every document it opens."""

    def __init__(self, page: Page, origin: str | None = None) -> None:
        CHECKS[page] = self
        self.page = page
        self.origin = origin
        self.watched = False
        self.violations: list[Violation] = []
        self.runs = 0  # axe-core runs
        self.known = 0  # states checked before, not run again
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Page.enable")
        self.cdp.send(
            "Page.addScriptToEvaluateOnNewDocument", {"source": AXE_SOURCE, "worldName": WORLD}
        )

    def _main_world(self) -> Callable[[str], Any]:
        """Evaluation in the isolated world of the main frame's document."""
        frame_id = self.cdp.send("Page.getFrameTree")["frameTree"]["frame"]["id"]
        context_id = self.cdp.send(
            "Page.createIsolatedWorld", {"frameId": frame_id, "worldName": WORLD}
        )["executionContextId"]

        def evaluate(expression: str) -> Any:
            answer = self.cdp.send(
                "Runtime.evaluate",
                {
                    "expression": expression,
                    "contextId": context_id,
                    "awaitPromise": True,
                    "returnByValue": True,
                },
            )
            if "exceptionDetails" in answer:
                raise Error(json.dumps(answer["exceptionDetails"])[:2000])
            return answer["result"].get("value")

        return evaluate

    def _check_document(self, evaluate: Callable[[str], Any], force: bool) -> dict | None:
        """CHECK in one document: the result of a check, or None if nothing was due. A
        whole document in a state checked before (by any test) is not checked again."""
        arguments = {
            "tags": WCAG_TAGS,
            "blocking": list(BLOCKING),
            "mark": MARK,
            "origin": self.origin,
        }

        def call(**more) -> Any:
            return evaluate(f"({CHECK})({json.dumps({**arguments, 'force': force, **more})})")

        state = call(run=False)
        if state == "no axe":  # a document opened before the page was watched
            evaluate(AXE_SOURCE)
            state = call(run=False)
        if not isinstance(state, dict):
            return None
        known = state["key"] if state["key"] in CHECKED else None
        result = call(run=True, known=known)
        if not isinstance(result, dict):
            return None
        if result["known"]:
            result["violations"] = CHECKED[result["key"]]
            self.known += 1
        else:
            self.runs += 1
            CHECKED[result["key"]] = result["violations"]
        return result

    def check(self, force: bool = False) -> list[Violation]:
        """Check what the page shows now (unless all of it was checked and not
        ``force``), and its frames; the violations not seen before on this page."""
        if self.page.is_closed():
            return []
        results = []
        try:
            self.page.wait_for_load_state("load")
            results.append(self._check_document(self._main_world(), force))
            for frame in self.page.frames[1:]:
                try:
                    results.append(self._check_document(frame.evaluate, force))
                except Error as error:  # a frame gone meanwhile
                    if not _gone(error):
                        raise
        except Error as error:
            if not _gone(error):
                raise
        found = [v for result in results if result for v in _violations(result)]
        new = [v for v in found if v not in self.violations]
        self.violations += new
        return new


class AccessibilityWatch:
    """The pages of one test, checked as the test goes; ``finish`` fails the test with
    every serious or critical violation seen."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.checks: list[PageCheck] = []

    def watch_context(self, context: BrowserContext) -> None:
        """Check every page opened in ``context`` from now on: ``new_page`` returns a
        watched page; a page opened otherwise (a popup) is watched from its event."""
        new_page = context.new_page
        opening = []

        def watched_new_page(*args, **kwargs) -> Page:
            opening.append(True)
            try:
                page = new_page(*args, **kwargs)
            finally:
                opening.pop()
            self.watch_page(page)
            return page

        def opened(page: Page) -> None:
            # The event of a page from new_page comes while new_page runs; that page is
            # watched when new_page returns, before the test can use it.
            if not opening:
                self.watch_page(page)

        watched_new_page.__doc__ = new_page.__doc__
        context.new_page = watched_new_page
        context.on("page", opened)

    def watch_page(self, page: Page) -> None:
        """Check ``page`` after each navigation, before each locator action or assertion
        when something new is shown, and at the end of the test."""
        check = CHECKS.get(page) or PageCheck(page, self.origin)
        if check.watched:
            return
        check.watched = True
        self.checks.append(check)

        def new_content_shown() -> None:
            check.check()

        unchecked = page.locator(f"body :not([{MARK}])").filter(visible=True).first
        page.add_locator_handler(unchecked, new_content_shown, no_wait_after=True)
        for name in ("goto", "reload", "go_back", "go_forward"):
            _check_around(page, name, check, force_after=False)
        _check_around(page, "set_viewport_size", check, force_after=True)

    def finish(self) -> None:
        """Check what each page shows now; fail with every violation the test's pages
        showed."""
        for check in self.checks:
            check.check()
        violations = [v for check in self.checks for v in check.violations]
        if violations:
            raise AssertionError(describe(violations))


def _check_around(page: Page, name: str, check: PageCheck, force_after: bool) -> None:
    """Wrap ``page.<name>``: check what is still unchecked before, and the result after."""
    method = getattr(page, name)

    def wrapped(*args, **kwargs):
        check.check()
        result = method(*args, **kwargs)
        check.check(force=force_after)
        return result

    wrapped.__doc__ = method.__doc__
    setattr(page, name, wrapped)


def assert_accessible(page: Page) -> None:
    """Fail with a readable list (rule id, impact, target selectors, help) if the page,
    as it is now or as it was shown before in this test, has a serious or critical
    WCAG 2.1 A/AA violation."""
    check = CHECKS.get(page) or PageCheck(page)
    check.check()
    if check.violations:
        raise AssertionError(describe(check.violations))
