#!/usr/bin/env python3
"""bench/login.py: drives real password sign-ins against a dinhdanh on loopback.

One sign-in is the whole browser interaction, each with a fresh cookie jar:
GET /authorize -> 303 to the interaction -> GET the login page (CSRF token, bound to the
browser cookie) -> POST username + password -> (consent page -> POST allow, the first
time a person meets the client) -> 303 to the client's redirect_uri with a `code`.
Only that last redirect counts as a completed login; anything else is counted by status.

  login.py login  --base URL --client ID --redirect URI --users N --password PW
                  [--prefix seed-] [--conc 8] [--duration 10]
      prints `RESULT logins=… secs=… logins_per_s=… p50_ms=… p99_ms=… post_p50_ms=…
      post_p99_ms=… failed=… busy=…` (latencies of the whole sign-in and of its
      password POST alone)
  login.py tokens --base URL --client ID --secret S --redirect URI --users N
                  --password PW [--count 50]
      signs in `count` people spread over 1..N, redeems each code and prints one access
      token per line (for the userinfo runs)
  login.py peer-tokens (same arguments, --base the reference provider)
      the same through the reference provider's (oidc-provider) development login and
      consent pages, which accept any login name: `count` different people, scope
      `openid`, one access token per line

Python 3.11 standard library only; loopback targets only.
"""

import argparse
import base64
import hashlib
import html
import http.client
import json
import random
import re
import sys
import threading
import time
import urllib.parse as up

VERIFIER = "bench-verifier-0123456789abcdefghijklmnopqrstuvwxyz-0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


class Failed(Exception):
    """A sign-in that did not end in a redirect with a code."""

    def __init__(self, why):
        super().__init__(why)
        self.why = why


class Browser:
    """A keep-alive connection with a cookie jar; one per worker, jar reset per login."""

    def __init__(self, base):
        u = up.urlsplit(base)
        if not u.hostname or not (u.hostname.startswith("127.") or u.hostname in ("localhost", "::1")):
            sys.exit(f"login.py: {base} is not a loopback URL")
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "max-age=0" in v.lower() or not value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return r.status, r.getheader("Location"), data


def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    return html.unescape(m.group(1)) if m else None


def form_action(page):
    actions = re.findall(r'<form method="post" action="([^"]*)"', page)
    return html.unescape(actions[-1]) if actions else None


def local_path(location, base):
    if location.startswith("/"):
        return location
    if location.startswith(base):
        return location[len(base):] or "/"
    return None


def authorize(b, args, path, scope):
    """Starts a code flow at `path` with a fresh cookie jar; returns the first answer."""
    b.cookies = {}
    q = up.urlencode({
        "response_type": "code", "client_id": args.client, "redirect_uri": args.redirect,
        "scope": scope, "state": "bench", "nonce": "n",
        "code_challenge": CHALLENGE, "code_challenge_method": "S256",
    })
    return b.request("GET", f"{path}?{q}")


def walk(b, args, answer, steps, fill):
    """Follows redirects inside the provider and fills each page with `fill(page)` (which
    returns the next answer) until the redirect to the client; returns its code."""
    status, loc, data = answer
    for _ in range(steps):
        if status in (302, 303) and loc:
            if loc.startswith(args.redirect):
                params = dict(up.parse_qsl(up.urlsplit(loc).query))
                if "code" in params:
                    return params["code"]
                raise Failed("error:" + params.get("error", "none"))
            path = local_path(loc, args.base)
            if path is None:
                raise Failed("redirect-elsewhere")
            status, loc, data = b.request("GET", path)
            continue
        if status != 200:
            raise Failed(f"http{status}")
        status, loc, data = fill(data.decode("utf-8", "replace"))
    raise Failed("too-many-steps")


def sign_in(b, args, username):
    """One full sign-in; returns (code, seconds of the password POST)."""
    post_secs = 0.0

    def fill(page):
        nonlocal post_secs
        action, csrf = form_action(page), field(page, "csrf")
        if not action or not csrf:
            raise Failed("no-form")
        if 'name="password"' in page:
            form = {"csrf": csrf, "username": username, "password": args.password, "action": "login"}
            t0 = time.perf_counter()
            answer = b.request("POST", action, up.urlencode(form))
            post_secs = time.perf_counter() - t0
            return answer
        if 'name="decision"' in page:
            return b.request("POST", action, up.urlencode({"csrf": csrf, "decision": "allow"}))
        raise Failed("unexpected-page")

    code = walk(b, args, authorize(b, args, "/authorize", "openid profile"), 8, fill)
    return code, post_secs


def sign_in_peer(b, args, username):
    """One sign-in through oidc-provider's devInteractions pages; returns the code."""

    def fill(page):
        m = re.search(r'<form[^>]*action="([^"]*)"[^>]*method="post"', page)
        path = local_path(html.unescape(m.group(1)), args.base) if m else None
        if not path:
            raise Failed("no-form")
        if 'name="prompt" value="login"' in page:
            form = {"prompt": "login", "login": username, "password": args.password}
        elif 'name="prompt" value="consent"' in page:
            form = {"prompt": "consent"}
        else:
            raise Failed("unexpected-page")
        return b.request("POST", path, up.urlencode(form))

    return walk(b, args, authorize(b, args, "/auth", "openid"), 10, fill)


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


def run_login(args):
    stop = time.perf_counter() + args.duration
    lock = threading.Lock()
    totals, posts, failures = [], [], {}

    def worker(seed):
        rnd = random.Random(seed)
        b = Browser(args.base)
        while time.perf_counter() < stop:
            user = f"{args.prefix}{rnd.randint(1, args.users):06d}"
            t0 = time.perf_counter()
            try:
                _, post = sign_in(b, args, user)
                with lock:
                    totals.append(time.perf_counter() - t0)
                    posts.append(post)
            except Failed as e:
                with lock:
                    failures[e.why] = failures.get(e.why, 0) + 1
            except OSError:
                with lock:
                    failures["socket"] = failures.get("socket", 0) + 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - start
    busy = failures.get("http503", 0) + failures.get("http429", 0)
    failed = sum(failures.values())
    print(f"RESULT logins={len(totals)} secs={secs:.3f} logins_per_s={len(totals) / secs:.2f} "
          f"p50_ms={pct(totals, 50):.1f} p99_ms={pct(totals, 99):.1f} "
          f"post_p50_ms={pct(posts, 50):.1f} post_p99_ms={pct(posts, 99):.1f} failed={failed} busy={busy}")
    if failures:
        print("# failures: " + " ".join(f"{k}={v}" for k, v in sorted(failures.items())), file=sys.stderr)


def run_tokens(args, peer=False):
    b = Browser(args.base)
    basic = base64.b64encode(f"{up.quote(args.client, safe='')}:{up.quote(args.secret, safe='')}".encode()).decode()
    rnd = random.Random(7)
    for i in range(args.count):
        if peer:
            code = sign_in_peer(b, args, f"{args.prefix}{i + 1:06d}")
        else:
            code, _ = sign_in(b, args, f"{args.prefix}{rnd.randint(1, args.users):06d}")
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": args.redirect,
                "code_verifier": VERIFIER}
        status, _, data = b.request("POST", "/token", up.urlencode(form), {"Authorization": "Basic " + basic})
        if status != 200:
            sys.exit(f"login.py: token request failed: {status} {data[:200]!r}")
        print(json.loads(data)["access_token"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["login", "tokens", "peer-tokens"])
    ap.add_argument("--base", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--secret", default="")
    ap.add_argument("--redirect", required=True)
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--prefix", default="seed-")
    ap.add_argument("--conc", type=int, default=8)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--count", type=int, default=50)
    args = ap.parse_args()
    args.base = args.base.rstrip("/")
    if args.mode == "login":
        run_login(args)
    else:
        run_tokens(args, peer=args.mode == "peer-tokens")


if __name__ == "__main__":
    main()
