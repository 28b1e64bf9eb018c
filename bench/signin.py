#!/usr/bin/env python3
"""Signs in through the local OpenID Provider, as a browser would, and prints the gatehouse
session cookie (name=value) for the load generator.

    bench/signin.py http://127.0.0.1:8080 oidc alice          one sign-in as alice
    bench/signin.py http://127.0.0.1:8080 oidc user 1000      users user-1 .. user-1000, a cookie per line
"""
import concurrent.futures
import html
import http.cookiejar
import re
import sys
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    base, provider, login = sys.argv[1], sys.argv[2], sys.argv[3]
    if len(sys.argv) > 4:
        # Eight browsers at a time: the provider (Node) and this script are the slow parts.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            logins = [f"{login}-{i}" for i in range(1, int(sys.argv[4]) + 1)]
            for cookie in pool.map(lambda name: sign_in(base, provider, name), logins):
                print(cookie, flush=True)
    else:
        print(sign_in(base, provider, login))


def sign_in(base, provider, login):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

    def fetch(url, data=None):
        try:
            res = opener.open(url, data=urllib.parse.urlencode(data).encode() if data else None, timeout=10)
            return res.status, res.headers, res.read().decode()
        except urllib.error.HTTPError as e:  # 3xx arrive here with NoRedirect
            return e.code, e.headers, e.read().decode()

    url = f"{base}/authorize/{provider}"
    for _ in range(20):
        status, headers, body = fetch(url)
        if status in (301, 302, 303, 307):
            url = urllib.parse.urljoin(url, headers["Location"])
            if url.startswith(f"{base}/callback/"):
                fetch(url)
                break
            continue
        prompt = re.search(r'name="prompt" value="(\w+)"', body).group(1)
        action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', body).group(1))
        form = {"prompt": prompt}
        if prompt == "login":
            form.update(login=login, password="bench")
        status, headers, _ = fetch(urllib.parse.urljoin(url, action), form)
        url = urllib.parse.urljoin(url, headers["Location"])
    for cookie in jar:
        if cookie.name == "gatehouse":
            return f"gatehouse={cookie.value}"
    raise SystemExit(f"no session cookie: sign-in as {login} failed")


if __name__ == "__main__":
    main()
