#!/usr/bin/env python3
"""Signs in through the local OpenID Provider, as a browser would, and prints the gatehouse
session cookie (name=value) for the load generator.

    bench/signin.py http://127.0.0.1:8080 oidc alice          one sign-in as alice
    bench/signin.py http://127.0.0.1:8080 oidc user 1000      users user-1 .. user-1000, a cookie per line

A steady trickle of new sign-ins (bench/faults.sh), one every INTERVAL seconds until SIGTERM,
each started on its own thread; a JSON line per sign-in on stdout (start, end, outcome, and for a
failure the status and the title of the page shown):

    bench/signin.py --trickle http://127.0.0.1:8080 oidc newcomer 0.5

Another relying party (mod_auth_openidc, for bench/gate.sh): start at a protected URL, finish
at its redirect URI, print the named cookie:

    bench/signin.py --rp http://127.0.0.1:9000/ http://127.0.0.1:9000/redirect_uri mod_auth_openidc_session user 100
"""
import concurrent.futures
import html
import http.cookiejar
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class SignInFailed(Exception):
    def __init__(self, message, status=None, body=""):
        super().__init__(message)
        self.status, self.body = status, body


def main():
    try:
        run(sys.argv[1:])
    except SignInFailed as e:
        raise SystemExit(str(e))


def trickle(base, provider, prefix, interval):
    lock = threading.Lock()

    def one(n):
        t0 = time.time()
        record = {"start": t0}
        try:
            sign_in(f"{base}/authorize/{provider}", f"{base}/callback/", "gatehouse", f"{prefix}-{n}", timeout=60)
            record["ok"] = True
        except SignInFailed as e:
            # What the person reads: the sign-in page's alert, else the error page's heading.
            said = re.search(r'role="alert">(.*?)</p>', e.body or "", re.S) or re.search(r"<h1>(.*?)</h1>", e.body or "", re.S)
            record.update(ok=False, status=e.status, page=html.unescape(said.group(1).strip()) if said else "(no page)")
        except Exception as e:  # a connection refused or reset, a timeout: no page at all
            record.update(ok=False, status=None, page=f"{type(e).__name__}: {e}"[:200])
        record["end"] = time.time()
        with lock:
            print(json.dumps(record), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    n, threads = 0, []
    while not stop.wait(interval):
        n += 1
        t = threading.Thread(target=one, args=(n,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def run(argv):
    if argv[0] == "--trickle":
        trickle(argv[1], argv[2], argv[3], float(argv[4]))
        return
    if argv[0] == "--rp":
        start, back, cookie_name = argv[1], argv[2], argv[3]
        args = argv[4:]
    else:
        base, provider = argv[0], argv[1]
        start, back, cookie_name = f"{base}/authorize/{provider}", f"{base}/callback/", "gatehouse"
        args = argv[2:]
    login = args[0]
    if len(args) > 1:
        # Eight browsers at a time: the provider (Node) and this script are the slow parts.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            logins = [f"{login}-{i}" for i in range(1, int(args[1]) + 1)]
            for cookie in pool.map(lambda name: sign_in(start, back, cookie_name, name), logins):
                print(cookie, flush=True)
    else:
        print(sign_in(start, back, cookie_name, login))


def sign_in(start, back, cookie_name, login, timeout=10):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    # A browser's Accept: mod_auth_openidc answers 401 instead of redirecting to sign in otherwise.
    opener.addheaders = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]

    def fetch(url, data=None):
        try:
            res = opener.open(url, data=urllib.parse.urlencode(data).encode() if data else None, timeout=timeout)
            return res.status, res.headers, res.read().decode()
        except urllib.error.HTTPError as e:  # 3xx arrive here with NoRedirect
            return e.code, e.headers, e.read().decode()

    url, last = start, (0, {}, "")
    for _ in range(20):
        status, headers, body = fetch(url)
        if status in (301, 302, 303, 307):
            url = urllib.parse.urljoin(url, headers["Location"])
            if url.startswith(back):
                last = fetch(url)
                break
            continue
        found = re.search(r'name="prompt" value="(\w+)"', body)
        if not found:
            raise SignInFailed(f"sign-in as {login}: unexpected answer {status} at {url}: {body[:300]}", status, body)
        prompt = found.group(1)
        action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', body).group(1))
        form = {"prompt": prompt}
        if prompt == "login":
            form.update(login=login, password="bench")
        status, headers, _ = fetch(urllib.parse.urljoin(url, action), form)
        url = urllib.parse.urljoin(url, headers["Location"])
    # The relying party's own answer to the callback: a redirect into the app (gatehouse 303,
    # mod_auth_openidc 302); anything else means the sign-in failed, whatever cookie is held.
    if last[0] not in (302, 303):
        raise SignInFailed(f"sign-in as {login} failed at {url}: the callback answered {last[0]}: {last[2][:300]}", last[0], last[2])
    for cookie in jar:
        if cookie.name == cookie_name:
            return f"{cookie_name}={cookie.value}"
    names = [c.name for c in jar]
    raise SignInFailed(f"no session cookie: sign-in as {login} failed at {url} (cookies {names}; last answer {last[0]}: {last[2][:900]})")


if __name__ == "__main__":
    main()
