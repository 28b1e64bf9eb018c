//! Runs the real OpenID Provider (npm `oidc-provider`, tests/oidc-provider/server.mjs) on
//! loopback and drives its login and consent pages over HTTP, as a browser would.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use reqwest::header::LOCATION;

pub struct OidcServer {
    pub issuer: String,
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl OidcServer {
    /// Starts a provider; `port` 0 picks a free one. `clients` are registered up front.
    pub fn start(port: u16, clients: &[serde_json::Value]) -> OidcServer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID Provider is not installed: run `npm ci --prefix tests/oidc-provider` \
             (the README's test command does this)"
        );
        let mut cmd = Command::new("node");
        cmd.arg("server.mjs").arg("--port").arg(port.to_string());
        for c in clients {
            cmd.arg("--client").arg(c.to_string());
        }
        let mut child = cmd
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node must be installed to run the test OpenID Provider");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("reading the provider's first line");
        // Keep draining: the provider writes notices later, and a closed pipe would kill it.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let port: u16 = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the test OpenID Provider did not start: {line:?}"));
        let stdin = child.stdin.take();
        OidcServer { issuer: format!("http://127.0.0.1:{port}"), child, _stdin: stdin }
    }

    /// One provider shared by every test in this binary; clients are registered per test.
    pub fn shared() -> &'static OidcServer {
        static SHARED: OnceLock<OidcServer> = OnceLock::new();
        SHARED.get_or_init(|| OidcServer::start(0, &[]))
    }

    /// Dynamic client registration (RFC 7591): a fresh client id and secret for one test.
    /// Signing out there (RP-Initiated Logout) may send the browser back to the app's home,
    /// `{PUBLIC_URL}/`; the provider tells the app of every ended session (Back-Channel
    /// Logout) at `{PUBLIC_URL}/backchannel-logout/{name}`, with `sid` in every token.
    pub async fn register_client(&self, redirect_uri: &str) -> (String, String) {
        let (public, name) = redirect_uri.split_once("/callback/").expect("a /callback/ URI");
        let home = format!("{public}/");
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/reg", self.issuer))
            .json(&serde_json::json!({
                "redirect_uris": [redirect_uri],
                "post_logout_redirect_uris": [home],
                "backchannel_logout_uri": format!("{public}/backchannel-logout/{name}"),
                "backchannel_logout_session_required": true,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .send()
            .await
            .expect("registration request")
            .json()
            .await
            .expect("registration answer");
        (
            answer["client_id"].as_str().expect("client_id").to_string(),
            answer["client_secret"].as_str().expect("client_secret").to_string(),
        )
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the person does on the provider's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AtProvider<'a> {
    /// Log in as this account and consent.
    LogIn(&'a str),
    /// Cancel at the login page.
    Cancel,
}

/// Follows the provider's redirects from `authorize_url`, filling the dev login and consent
/// forms, until the provider sends the browser back to `back_to`. Returns that URL (the
/// callback with `code` and `state`), unvisited.
pub async fn complete_at_provider(
    browser: &reqwest::Client,
    authorize_url: &str,
    back_to: &str,
    action: AtProvider<'_>,
) -> String {
    let mut url = authorize_url.to_string();
    for _ in 0..20 {
        if url.starts_with(back_to) {
            return url;
        }
        let res = browser.get(&url).send().await.expect("request to the provider");
        if res.status().is_redirection() {
            url = absolute(&url, res.headers()[LOCATION].to_str().unwrap());
            continue;
        }
        let page = res.text().await.unwrap();
        let prompt = if page.contains(r#"name="prompt" value="login""#) {
            "login"
        } else if page.contains(r#"name="prompt" value="consent""#) {
            "consent"
        } else {
            panic!("unexpected provider page at {url}: {page}");
        };
        let form: Vec<(&str, &str)> = match (prompt, action) {
            ("login", AtProvider::Cancel) => {
                url = format!("{url}/abort");
                continue;
            }
            ("login", AtProvider::LogIn(login)) => vec![("prompt", "login"), ("login", login), ("password", "any")],
            _ => vec![("prompt", "consent")],
        };
        let res = browser.post(&url).form(&form).send().await.expect("form post to the provider");
        assert!(res.status().is_redirection(), "provider form answered {}", res.status());
        url = absolute(&url, res.headers()[LOCATION].to_str().unwrap());
    }
    panic!("the provider never redirected back to {back_to}");
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base).unwrap().join(location).unwrap().to_string()
}

/// Confirms sign-out on the provider's RP-Initiated Logout page at `end_session_url` (its
/// "Yes, sign me out" form). Returns where the provider then sends the browser.
pub async fn confirm_logout_at_provider(browser: &reqwest::Client, end_session_url: &str) -> String {
    let res = browser.get(end_session_url).send().await.expect("request to the provider");
    assert_eq!(res.status(), 200, "the provider's logout page: {}", res.status());
    let page = res.text().await.unwrap();
    let after = |marker: &str| page.split(marker).nth(1).and_then(|rest| rest.split('"').next());
    let action = after(r#"method="post" action=""#).expect("a logout form").to_string();
    let xsrf = after(r#"name="xsrf" value=""#).expect("an xsrf field").to_string();
    let res = browser
        .post(absolute(end_session_url, &action))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .expect("logout form post");
    assert!(res.status().is_redirection(), "the provider's logout form answered {}", res.status());
    let mut url = absolute(end_session_url, res.headers()[LOCATION].to_str().unwrap());
    // oidc-provider may pass through its own success step before the post-logout redirect.
    for _ in 0..5 {
        if !url.starts_with(end_session_url.split("/session/").next().unwrap()) {
            break;
        }
        let res = browser.get(&url).send().await.expect("request to the provider");
        if !res.status().is_redirection() {
            break;
        }
        url = absolute(&url, res.headers()[LOCATION].to_str().unwrap());
    }
    url
}
