#!/usr/bin/env python3
"""Signs in through the local OpenID Provider, as a browser would, and prints the gatehouse
session cookie (name=value) for the load generator.

    bench/signin.py http://127.0.0.1:8080 oidc alice          one sign-in as alice
    bench/signin.py http://127.0.0.1:8080 oidc user 1000      users user-1 .. user-1000, a cookie per line

Another relying party (mod_auth_openidc, for bench/gate.sh): start at a protected URL, finish
at its redirect URI, print the named cookie:

    bench/signin.py --rp http://127.0.0.1:9000/ http://127.0.0.1:9000/redirect_uri mod_auth_openidc_session user 100
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
    if sys.argv[1] == "--rp":
        start, back, cookie_name = sys.argv[2], sys.argv[3], sys.argv[4]
        args = sys.argv[5:]
    else:
        base, provider = sys.argv[1], sys.argv[2]
        start, back, cookie_name = f"{base}/authorize/{provider}", f"{base}/callback/", "gatehouse"
        args = sys.argv[3:]
    login = args[0]
    if len(args) > 1:
        # Eight browsers at a time: the provider (Node) and this script are the slow parts.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            logins = [f"{login}-{i}" for i in range(1, int(args[1]) + 1)]
            for cookie in pool.map(lambda name: sign_in(start, back, cookie_name, name), logins):
                print(cookie, flush=True)
    else:
        print(sign_in(start, back, cookie_name, login))


def sign_in(start, back, cookie_name, login):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    # A browser's Accept: mod_auth_openidc answers 401 instead of redirecting to sign in otherwise.
    opener.addheaders = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]

    def fetch(url, data=None):
        try:
            res = opener.open(url, data=urllib.parse.urlencode(data).encode() if data else None, timeout=10)
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
            raise SystemExit(f"sign-in as {login}: unexpected answer {status} at {url}: {body[:300]}")
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
        raise SystemExit(f"sign-in as {login} failed at {url}: the callback answered {last[0]}: {last[2][:300]}")
    for cookie in jar:
        if cookie.name == cookie_name:
            return f"{cookie_name}={cookie.value}"
    names = [c.name for c in jar]
    raise SystemExit(f"no session cookie: sign-in as {login} failed at {url} (cookies {names}; last answer {last[0]}: {last[2][:900]})")


if __name__ == "__main__":
    main()
