use std::collections::HashMap;

use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
    Settings::from_vars(&vars(pairs)).expect_err("configuration should be refused").problems
}

#[test]
fn defaults_need_nothing() {
    let s = Settings::from_vars(&HashMap::new()).unwrap();
    assert_eq!(s.database_url, DatabaseUrl::Sqlite("data/gatehouse.db".into()));
    assert_eq!(s.bind_addr, "127.0.0.1:8080");
    assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(s.redirect_uri("google"), "http://127.0.0.1:8080/callback/google");
    assert!(s.session_key.ephemeral);
    assert_eq!(s.session_ttl_days, 30);
    assert!(!s.secure_cookies());
    // Only the demo provider, so the first run can sign someone in.
    assert_eq!(s.providers.iter().map(|p| p.preset.kind).collect::<Vec<_>>(), ["demo"]);
}

#[test]
fn presets_fill_their_defaults() {
    let s = Settings::from_vars(&vars(&[
        ("OAUTH_PROVIDERS", "google, github"),
        ("OAUTH_GOOGLE_CLIENT_ID", "g-id"),
        ("OAUTH_GOOGLE_CLIENT_SECRET", "g-secret"),
        ("OAUTH_GITHUB_CLIENT_ID", "h-id"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "h-secret"),
    ]))
    .unwrap();
    let google = &s.providers[0];
    assert_eq!(google.preset.kind, "google");
    assert_eq!(google.issuer.as_deref(), Some("https://accounts.google.com"));
    assert_eq!(google.scopes, ["openid", "email", "profile"]);
    assert_eq!(google.label, "Google");
    assert!(google.trust_email);
    let github = &s.providers[1];
    assert_eq!(github.preset.kind, "github");
    assert_eq!(github.api_base.as_ref().unwrap().as_str(), "https://api.github.com/");
    assert_eq!(github.scopes, ["read:user", "user:email"]);
    assert!(github.trust_email);
}

#[test]
fn oidc_provider_needs_kind_and_issuer_and_defaults_to_untrusted() {
    let p = problems(&[("OAUTH_PROVIDERS", "corp"), ("OAUTH_CORP_CLIENT_ID", "x"), ("OAUTH_CORP_CLIENT_SECRET", "y")]);
    assert!(p.iter().any(|m| m.contains("OAUTH_CORP_KIND")), "{p:?}");

    let p = problems(&[
        ("OAUTH_PROVIDERS", "my-idp"),
        ("OAUTH_MY_IDP_KIND", "oidc"),
        ("OAUTH_MY_IDP_CLIENT_ID", "x"),
        ("OAUTH_MY_IDP_CLIENT_SECRET", "y"),
    ]);
    assert!(p.iter().any(|m| m.contains("OAUTH_MY_IDP_ISSUER")), "{p:?}");

    let s = Settings::from_vars(&vars(&[
        ("OAUTH_PROVIDERS", "my-idp"),
        ("OAUTH_MY_IDP_KIND", "oidc"),
        ("OAUTH_MY_IDP_ISSUER", "http://127.0.0.1:9000"),
        ("OAUTH_MY_IDP_CLIENT_ID", "x"),
        ("OAUTH_MY_IDP_CLIENT_SECRET", "y"),
    ]))
    .unwrap();
    assert_eq!(s.providers[0].label, "My-idp");
    assert!(!s.providers[0].trust_email);
}

#[test]
fn plain_http_is_only_for_loopback() {
    for ok in ["http://127.0.0.1:1", "http://127.8.9.10", "http://localhost:3000", "http://[::1]:4000"] {
        let s = Settings::from_vars(&vars(&[
            ("OAUTH_PROVIDERS", "idp"),
            ("OAUTH_IDP_KIND", "oidc"),
            ("OAUTH_IDP_ISSUER", ok),
            ("OAUTH_IDP_CLIENT_ID", "x"),
            ("OAUTH_IDP_CLIENT_SECRET", "y"),
        ]));
        assert!(s.is_ok(), "{ok} should be accepted");
    }
    for bad in [
        "http://idp.example.com",
        "http://10.0.0.1",
        "http://localhost.evil.example",
        "http://evil.localhost.example",
        "http://.localhost",
        // Browsers resolve *.localhost to this machine; gatehouse's own resolver need not.
        "http://app.gate.localhost:8080",
        "ftp://idp.example",
    ] {
        let p = problems(&[
            ("OAUTH_PROVIDERS", "idp"),
            ("OAUTH_IDP_KIND", "oidc"),
            ("OAUTH_IDP_ISSUER", bad),
            ("OAUTH_IDP_CLIENT_ID", "x"),
            ("OAUTH_IDP_CLIENT_SECRET", "y"),
        ]);
        assert!(p.iter().any(|m| m.contains("OAUTH_IDP_ISSUER")), "{bad}: {p:?}");
    }
}

#[test]
fn session_key_rules() {
    let p = problems(&[("SESSION_KEY", "too-short")]);
    assert!(p[0].contains("SESSION_KEY") && p[0].contains("64"), "{p:?}");
    assert!(!p[0].contains("too-short"), "the key itself must never be printed");

    let p = problems(&[("APP_ENV", "production")]);
    assert!(p[0].contains("SESSION_KEY"), "{p:?}");

    let p = problems(&[("APP_ENV", "production"), ("SESSION_KEY", KEY)]);
    assert!(p[0].contains("PUBLIC_URL must be https"), "{p:?}");

    for placeholder in ["x".repeat(64), "changeme".repeat(8), "ab".repeat(40)] {
        let p = problems(&[("SESSION_KEY", placeholder.as_str())]);
        assert!(p[0].contains("placeholder"), "{placeholder}: {p:?}");
    }

    let s = Settings::from_vars(&vars(&[
        ("APP_ENV", "production"),
        ("SESSION_KEY", KEY),
        ("PUBLIC_URL", "https://auth.example.com"),
    ]))
    .unwrap();
    assert!(!s.session_key.ephemeral);
    assert!(!format!("{s:?}").contains(KEY));
}

#[test]
fn every_problem_is_reported_at_once_without_secrets() {
    let p = problems(&[
        ("DATABASE_URL", "mysql://root:hunter2@db/x"),
        ("SESSION_TTL_DAYS", "forever"),
        ("PUBLIC_URL", "https://auth.example.com/prefix?x=1"),
        ("OAUTH_PROVIDERS", "Bad Name,github"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "s3cret-value"),
    ]);
    let all = p.join("\n");
    for var in ["DATABASE_URL", "SESSION_TTL_DAYS", "PUBLIC_URL", "OAUTH_PROVIDERS", "OAUTH_GITHUB_CLIENT_ID"] {
        assert!(all.contains(var), "{var} missing from:\n{all}");
    }
    assert!(!all.contains("hunter2") && !all.contains("s3cret-value"), "{all}");
}

#[test]
fn https_public_url_means_secure_cookies() {
    let s = Settings::from_vars(&vars(&[("PUBLIC_URL", "https://auth.example.com/")])).unwrap();
    assert!(s.secure_cookies());
    assert_eq!(s.redirect_uri("github"), "https://auth.example.com/callback/github");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let s = Settings::from_vars(&vars(&[
        ("OAUTH_PROVIDERS", "github"),
        ("OAUTH_GITHUB_CLIENT_ID", "id"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "very-secret-client-secret"),
        ("SESSION_KEY", KEY),
    ]))
    .unwrap();
    let shown = format!("{s:?}");
    assert!(!shown.contains("very-secret-client-secret") && !shown.contains(KEY), "{shown}");
}

#[test]
fn microsoft_tenant_builds_the_issuer_and_is_validated() {
    let base =
        [("OAUTH_PROVIDERS", "microsoft"), ("OAUTH_MICROSOFT_CLIENT_ID", "x"), ("OAUTH_MICROSOFT_CLIENT_SECRET", "y")];
    let s = Settings::from_vars(&vars(&base)).unwrap();
    assert_eq!(s.providers[0].issuer.as_deref().unwrap(), "https://login.microsoftonline.com/common/v2.0");
    assert!(!s.providers[0].trust_email, "Entra emails never link by default");

    let mut with_tenant = base.to_vec();
    with_tenant.push(("OAUTH_MICROSOFT_TENANT", "organizations"));
    let s = Settings::from_vars(&vars(&with_tenant)).unwrap();
    assert_eq!(s.providers[0].issuer.as_deref().unwrap(), "https://login.microsoftonline.com/organizations/v2.0");

    let mut bad = base.to_vec();
    bad.push(("OAUTH_MICROSOFT_TENANT", "../evil"));
    assert!(problems(&bad).iter().any(|m| m.contains("OAUTH_MICROSOFT_TENANT")));
}

#[test]
fn generic_oauth2_needs_its_endpoints_and_pointer_claims() {
    let p = problems(&[
        ("OAUTH_PROVIDERS", "acme"),
        ("OAUTH_ACME_KIND", "oauth2"),
        ("OAUTH_ACME_CLIENT_ID", "x"),
        ("OAUTH_ACME_CLIENT_SECRET", "y"),
        ("OAUTH_ACME_CLAIM_EMAIL", "email"),
    ])
    .join("\n");
    for var in ["OAUTH_ACME_AUTH_URL", "OAUTH_ACME_TOKEN_URL", "OAUTH_ACME_USERINFO_URL", "OAUTH_ACME_CLAIM_EMAIL"] {
        assert!(p.contains(var), "{var} missing from:\n{p}");
    }
}

#[test]
fn every_preset_works_with_only_client_credentials() {
    for kind in ["google", "github", "gitlab", "microsoft", "facebook", "discord"] {
        let up = kind.to_uppercase();
        let s = Settings::from_vars(&vars(&[
            ("OAUTH_PROVIDERS", kind),
            (&format!("OAUTH_{up}_CLIENT_ID"), "x"),
            (&format!("OAUTH_{up}_CLIENT_SECRET"), "y"),
        ]))
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(s.providers[0].preset.kind, kind);
    }
}

#[test]
fn two_providers_may_not_share_an_issuer() {
    let p = problems(&[
        ("OAUTH_PROVIDERS", "a,b"),
        ("OAUTH_A_KIND", "oidc"),
        ("OAUTH_A_ISSUER", "https://idp.example.com"),
        ("OAUTH_A_CLIENT_ID", "x"),
        ("OAUTH_A_CLIENT_SECRET", "y"),
        ("OAUTH_B_KIND", "oidc"),
        ("OAUTH_B_ISSUER", "https://idp.example.com"),
        ("OAUTH_B_CLIENT_ID", "x"),
        ("OAUTH_B_CLIENT_SECRET", "y"),
    ]);
    assert!(p[0].contains("OAUTH_A_ISSUER and OAUTH_B_ISSUER"), "{p:?}");
}

#[test]
fn rate_limit_and_trusted_proxies() {
    let s = Settings::from_vars(&vars(&[("TRUSTED_PROXIES", "10.0.0.0/8, ::1")])).unwrap();
    assert_eq!(s.rate_limit_per_minute, 60);
    assert_eq!(s.trusted_proxies.0.len(), 2);
    let p = problems(&[("TRUSTED_PROXIES", "10.0.0.0/99"), ("RATE_LIMIT_PER_MINUTE", "-1")]).join("\n");
    assert!(p.contains("TRUSTED_PROXIES") && p.contains("RATE_LIMIT_PER_MINUTE"), "{p}");
}

#[test]
fn redis_store_takes_a_key_prefix_and_the_account_cache_its_bounds() {
    let s = Settings::from_vars(&vars(&[("SESSION_STORE", "redis"), ("REDIS_URL", "rediss://cache.internal:6380")]))
        .unwrap();
    assert!(matches!(&s.session_store, SessionStoreKind::Redis { prefix, .. } if prefix == "gatehouse"));
    assert_eq!((s.account_cache_size, s.account_cache_ttl.as_secs()), (10_000, 60));

    let p = problems(&[
        ("SESSION_STORE", "redis"),
        ("REDIS_URL", "redis://127.0.0.1"),
        ("REDIS_KEY_PREFIX", "has spaces"),
        ("ACCOUNT_CACHE_SECONDS", "-1"),
    ]);
    assert!(p.iter().any(|m| m.starts_with("REDIS_KEY_PREFIX=\"has spaces\"")), "{p:?}");
    assert!(p.iter().any(|m| m.starts_with("ACCOUNT_CACHE_SECONDS=\"-1\" must be a whole number")), "{p:?}");
}

#[test]
fn workers_default_to_one_per_core_and_take_a_count() {
    assert_eq!(Settings::from_vars(&vars(&[])).unwrap().workers(), None);
    assert_eq!(Settings::from_vars(&vars(&[("WORKERS", "1")])).unwrap().workers(), Some(1));
    for bad in ["0", "-1", "two", "100000"] {
        let p = problems(&[("WORKERS", bad)]);
        assert!(
            p.iter().any(|m| m.starts_with(&format!("WORKERS={bad:?} must be a whole number from 1 to 1024"))),
            "{p:?}"
        );
    }
}

#[test]
fn debug_output_never_shows_a_database_password() {
    for url in [
        "postgres://gatehouse:hunter2-secret@db.internal:5432/gatehouse",
        "postgresql://db.internal/gatehouse?user=g&password=hunter2-secret&sslmode=require",
    ] {
        let s = Settings::from_vars(&vars(&[("DATABASE_URL", url)])).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("db.internal"), "the rest stays readable: {shown}");
    }
}

#[test]
fn network_list_errors_name_their_own_variable() {
    let p = problems(&[("METRICS_ALLOW", "10.0.0.0/8, nonsense")]);
    assert!(p.iter().any(|p| p.starts_with("METRICS_ALLOW: \"nonsense\"")), "{p:?}");
    assert!(!p.iter().any(|p| p.contains("TRUSTED_PROXIES")), "{p:?}");
    let p = problems(&[("TRUSTED_PROXIES", "256.0.0.1")]);
    assert!(p.iter().any(|p| p.starts_with("TRUSTED_PROXIES: \"256.0.0.1\"")), "{p:?}");
    let p = problems(&[("METRICS_BIND_ADDR", "localhost")]);
    assert!(p.iter().any(|p| p.starts_with("METRICS_BIND_ADDR=")), "{p:?}");
}

#[test]
fn the_demo_provider_turns_itself_on_only_where_it_is_safe() {
    // Nothing configured, loopback, not production: on.
    let s = Settings::from_vars(&HashMap::new()).unwrap();
    let demo = s.demo().expect("the demo provider is on");
    assert_eq!(demo.issuer.as_deref(), Some("http://127.0.0.1:8080/demo-idp"));
    assert!(!demo.trust_email);
    // Turned off, or a real provider configured: off.
    assert!(Settings::from_vars(&vars(&[("DEMO_SIGN_IN", "off")])).unwrap().demo().is_none());
    let s = Settings::from_vars(&vars(&[
        ("OAUTH_PROVIDERS", "github"),
        ("OAUTH_GITHUB_CLIENT_ID", "id"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "secret"),
    ]))
    .unwrap();
    assert!(s.demo().is_none());
    // A public host: silently off when not asked for...
    let s = Settings::from_vars(&vars(&[("PUBLIC_URL", "https://auth.example.com"), ("SESSION_KEY", KEY)])).unwrap();
    assert!(s.demo().is_none());
}

#[test]
fn the_demo_provider_is_refused_in_production_and_on_public_hosts() {
    let p = problems(&[("OAUTH_PROVIDERS", "demo"), ("PUBLIC_URL", "https://auth.example.com"), ("SESSION_KEY", KEY)]);
    assert!(p.iter().any(|p| p.contains("PUBLIC_URL") && p.contains("OAUTH_PROVIDERS")), "{p:?}");
    let p = problems(&[
        ("OAUTH_PROVIDERS", "demo"),
        ("APP_ENV", "production"),
        ("PUBLIC_URL", "https://localhost"),
        ("SESSION_KEY", KEY),
    ]);
    assert!(p.iter().any(|p| p.contains("APP_ENV=production") && p.contains("OAUTH_PROVIDERS")), "{p:?}");
    let p = problems(&[("OAUTH_PROVIDERS", "demo"), ("OAUTH_DEMO_TRUST_EMAIL", "true")]);
    assert!(p.iter().any(|p| p.starts_with("OAUTH_DEMO_TRUST_EMAIL")), "{p:?}");
    let p = problems(&[("DEMO_SIGN_IN", "yes")]);
    assert!(p.iter().any(|p| p.starts_with("DEMO_SIGN_IN")), "{p:?}");
}

#[test]
fn the_demo_provider_needs_a_loopback_listener_and_no_off_switch() {
    // Reachable from other machines (Docker's 0.0.0.0): not by itself, and refused when named.
    let s =
        Settings::from_vars(&vars(&[("BIND_ADDR", "0.0.0.0:8080"), ("PUBLIC_URL", "http://127.0.0.1:8080")])).unwrap();
    assert!(s.demo().is_none());
    let p = problems(&[
        ("BIND_ADDR", "0.0.0.0:8080"),
        ("PUBLIC_URL", "http://127.0.0.1:8080"),
        ("OAUTH_PROVIDERS", "demo"),
    ]);
    assert!(p.iter().any(|p| p.contains("BIND_ADDR=\"0.0.0.0:8080\"")), "{p:?}");
    // DEMO_SIGN_IN=off means never, even when named.
    let p = problems(&[("DEMO_SIGN_IN", "off"), ("OAUTH_PROVIDERS", "demo")]);
    assert!(p.iter().any(|p| p.contains("DEMO_SIGN_IN=off")), "{p:?}");
    let p = problems(&[("OAUTH_PROVIDERS", "demo,other"), ("OAUTH_OTHER_KIND", "demo")]);
    assert!(p.iter().any(|p| p.contains("more than one demo provider")), "{p:?}");
}

#[test]
fn cookie_domain_must_cover_the_public_url_and_every_return_host() {
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        [("PUBLIC_URL", "https://auth.example.com/"), ("SESSION_KEY", KEY)].iter().chain(extra).copied().collect()
    };
    let ok =
        with(&[("COOKIE_DOMAIN", ".Example.com"), ("ALLOWED_REDIRECT_HOSTS", "*.example.com, app.example.com:8443")]);
    let s = Settings::from_vars(&vars(&ok)).unwrap();
    assert_eq!(s.cookie_domain.as_deref(), Some("example.com"));
    assert_eq!(s.return_hosts.others().count(), 2);

    let refused = [
        ("evil.com", "does not cover PUBLIC_URL"),
        ("com", "with a dot"),
        ("127.0.0.1", "with a dot"),
        ("https://example.com", "with a dot"),
        ("example.com:443", "with a dot"),
        ("co.uk", "public suffix"),
    ];
    for (value, says) in refused {
        let found = problems(&with(&[("COOKIE_DOMAIN", value)]));
        assert!(found.iter().any(|p| p.starts_with("COOKIE_DOMAIN") && p.contains(says)), "{value}: {found:?}");
    }
    let found = problems(&with(&[("COOKIE_DOMAIN", "example.com"), ("ALLOWED_REDIRECT_HOSTS", "app.example.org")]));
    assert!(found.iter().any(|p| p.contains("app.example.org is outside COOKIE_DOMAIN")), "{found:?}");
    let found = problems(&with(&[("ALLOWED_REDIRECT_HOSTS", "https://app.example.com")]));
    assert!(found.iter().any(|p| p.starts_with("ALLOWED_REDIRECT_HOSTS")), "{found:?}");
}

#[test]
fn group_rules_need_a_source_of_groups() {
    let oidc = [
        ("OAUTH_PROVIDERS", "corp"),
        ("OAUTH_CORP_KIND", "oidc"),
        ("OAUTH_CORP_ISSUER", "https://idp.example.com"),
        ("OAUTH_CORP_CLIENT_ID", "x"),
        ("OAUTH_CORP_CLIENT_SECRET", "y"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        oidc.iter().chain(extra).copied().collect()
    };
    let found = problems(&with(&[("OAUTH_CORP_ALLOWED_GROUPS", "admins")]));
    assert!(found.iter().any(|p| p.contains("OAUTH_CORP_ALLOWED_GROUPS needs OAUTH_CORP_CLAIM_GROUPS")), "{found:?}");
    let found = problems(&with(&[("OAUTH_CORP_CLAIM_GROUPS", "/groups"), ("OAUTH_CORP_ALLOWED_GROUPS", "")]));
    assert!(found.iter().any(|p| p.contains("OAUTH_CORP_ALLOWED_GROUPS is set but names nothing")), "{found:?}");
    let found = problems(&with(&[("OAUTH_CORP_ALLOWED_ORGS", "acme")]));
    assert!(found.iter().any(|p| p.contains("apply to GitHub only")), "{found:?}");
    let s = Settings::from_vars(&vars(&with(&[
        ("OAUTH_CORP_CLAIM_GROUPS", "/groups"),
        ("OAUTH_CORP_ALLOWED_GROUPS", "Admins, ops"),
    ])))
    .unwrap();
    assert_eq!(s.providers[0].allowed_groups, ["Admins", "ops"], "group names keep their case");

    let github = [("OAUTH_PROVIDERS", "github"), ("OAUTH_GITHUB_CLIENT_ID", "x"), ("OAUTH_GITHUB_CLIENT_SECRET", "y")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        github.iter().chain(extra).copied().collect()
    };
    let s = Settings::from_vars(&vars(&with(&[]))).unwrap();
    assert!(!s.providers[0].scopes.contains(&"read:org".to_string()), "no rule, no read:org");
    let s = Settings::from_vars(&vars(&with(&[
        ("OAUTH_GITHUB_ALLOWED_ORGS", "Acme"),
        ("OAUTH_GITHUB_ALLOWED_TEAMS", "acme/web"),
    ])))
    .unwrap();
    assert_eq!(s.providers[0].allowed_groups, ["acme", "acme/web"]);
    assert!(s.providers[0].scopes.contains(&"read:org".to_string()));
    let found = problems(&with(&[("OAUTH_GITHUB_ALLOWED_TEAMS", "web")]));
    assert!(found.iter().any(|p| p.contains("must be org/team-slug")), "{found:?}");
    let found = problems(&with(&[("OAUTH_GITHUB_ALLOWED_GROUPS", "acme")]));
    assert!(found.iter().any(|p| p.contains("on GitHub, use")), "{found:?}");

    // GitLab reads its groups_direct claim without being told.
    let gitlab = [("OAUTH_PROVIDERS", "gitlab"), ("OAUTH_GITLAB_CLIENT_ID", "x"), ("OAUTH_GITLAB_CLIENT_SECRET", "y")];
    let s = Settings::from_vars(&vars(&gitlab)).unwrap();
    assert_eq!(s.providers[0].claims.groups.as_deref(), Some("/groups_direct"));
}

#[test]
fn logout_is_local_unless_an_openid_provider_says_provider() {
    let google = [("OAUTH_PROVIDERS", "google"), ("OAUTH_GOOGLE_CLIENT_ID", "g"), ("OAUTH_GOOGLE_CLIENT_SECRET", "s")];
    let s = Settings::from_vars(&vars(&google)).unwrap();
    assert_eq!(s.providers[0].logout, LogoutMode::Local);
    let s = Settings::from_vars(&vars(&[google.as_slice(), &[("OAUTH_GOOGLE_LOGOUT", "provider")]].concat())).unwrap();
    assert_eq!(s.providers[0].logout, LogoutMode::Provider);

    let p = problems(&[google.as_slice(), &[("OAUTH_GOOGLE_LOGOUT", "everywhere")]].concat());
    assert!(p.iter().any(|m| m.contains("OAUTH_GOOGLE_LOGOUT must be local or provider")), "{p:?}");
    let github = [
        ("OAUTH_PROVIDERS", "github"),
        ("OAUTH_GITHUB_CLIENT_ID", "g"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "s"),
        ("OAUTH_GITHUB_LOGOUT", "provider"),
    ];
    let p = problems(&github);
    assert!(p.iter().any(|m| m.contains("OAUTH_GITHUB_LOGOUT=provider needs an OpenID Connect provider")), "{p:?}");
}

#[test]
fn kept_tokens_need_a_token_key_in_production() {
    let keeping = [
        ("OAUTH_PROVIDERS", "google"),
        ("OAUTH_GOOGLE_CLIENT_ID", "g"),
        ("OAUTH_GOOGLE_CLIENT_SECRET", "s"),
        ("OAUTH_GOOGLE_STORE_TOKENS", "true"),
    ];
    let s = Settings::from_vars(&vars(&keeping)).unwrap();
    assert!(s.providers[0].store_tokens);
    assert!(s.token_keys.as_ref().is_some_and(|k| k.ephemeral), "outside production a key is made up");

    let production = [("APP_ENV", "production"), ("SESSION_KEY", KEY), ("PUBLIC_URL", "https://auth.example.com")];
    let p = problems(&[keeping.as_slice(), &production].concat());
    assert!(p.iter().any(|m| m.contains("TOKEN_KEY is required")), "{p:?}");

    let p = problems(&[keeping.as_slice(), &[("TOKEN_KEY", "short")], &[("TOKEN_KEYS_OLD", "also-short")]].concat());
    assert!(p.iter().any(|m| m.starts_with("TOKEN_KEY must be")), "{p:?}");
    assert!(p.iter().any(|m| m.starts_with("TOKEN_KEYS_OLD must be")), "{p:?}");
    assert!(!p.join(" ").contains("also-short"), "a key is printed: {p:?}");

    let s = Settings::from_vars(&vars(&[
        ("OAUTH_PROVIDERS", "google"),
        ("OAUTH_GOOGLE_CLIENT_ID", "g"),
        ("OAUTH_GOOGLE_CLIENT_SECRET", "s"),
    ]))
    .unwrap();
    assert!(s.token_keys.is_none(), "no provider keeps tokens: no key");
}

/// Apple: the client secret is minted from the `.p8` key, so the key and its ids are required
/// (each problem naming its variable and where to find the value) and a CLIENT_SECRET is a
/// mistake; the ids belong to the apple kind only.
#[test]
fn apple_needs_its_key_and_ids_and_no_client_secret() {
    let p = problems(&[("OAUTH_PROVIDERS", "apple"), ("OAUTH_APPLE_CLIENT_ID", "com.example.web")]);
    for var in ["OAUTH_APPLE_TEAM_ID", "OAUTH_APPLE_KEY_ID", "OAUTH_APPLE_PRIVATE_KEY_FILE"] {
        assert!(p.iter().any(|m| m.starts_with(var) && m.contains("required")), "{var}: {p:?}");
    }
    assert!(!p.iter().any(|m| m.contains("CLIENT_SECRET")), "{p:?}");

    let p = problems(&[
        ("OAUTH_PROVIDERS", "apple"),
        ("OAUTH_APPLE_CLIENT_ID", "com.example.web"),
        ("OAUTH_APPLE_CLIENT_SECRET", "pasted-jwt"),
        ("OAUTH_APPLE_TEAM_ID", "team"),
        ("OAUTH_APPLE_KEY_ID", "ABCDE12345"),
        ("OAUTH_APPLE_PRIVATE_KEY_FILE", "/nonexistent/AuthKey_ABCDE12345.p8"),
    ]);
    assert!(p.iter().any(|m| m.starts_with("OAUTH_APPLE_CLIENT_SECRET is not used")), "{p:?}");
    assert!(p.iter().any(|m| m.starts_with("OAUTH_APPLE_TEAM_ID=\"team\" is not")), "{p:?}");
    assert!(p.iter().any(|m| m.starts_with("OAUTH_APPLE_PRIVATE_KEY_FILE=")), "the key file too, at once: {p:?}");

    // Apple has no end_session_endpoint, and knows three scopes.
    let p = problems(&[
        ("OAUTH_PROVIDERS", "apple"),
        ("OAUTH_APPLE_CLIENT_ID", "com.example.web"),
        ("OAUTH_APPLE_LOGOUT", "provider"),
        ("OAUTH_APPLE_SCOPES", "openid email profile"),
    ]);
    assert!(p.iter().any(|m| m.starts_with("OAUTH_APPLE_LOGOUT=provider: Apple has no end_session_endpoint")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("Apple knows only openid, name and email, not \"profile\"")), "{p:?}");

    let p = problems(&[
        ("OAUTH_PROVIDERS", "apple"),
        ("OAUTH_APPLE_CLIENT_ID", "com.example.web"),
        ("OAUTH_APPLE_TEAM_ID", "ABCDE12345"),
        ("OAUTH_APPLE_KEY_ID", "ABCDE12345"),
        ("OAUTH_APPLE_PRIVATE_KEY_FILE", "/nonexistent/AuthKey_ABCDE12345.p8"),
    ]);
    assert!(
        p.iter().any(
            |m| m.starts_with("OAUTH_APPLE_PRIVATE_KEY_FILE=\"/nonexistent/AuthKey_ABCDE12345.p8\" cannot be read")
        ),
        "{p:?}"
    );

    let p = problems(&[
        ("OAUTH_PROVIDERS", "google"),
        ("OAUTH_GOOGLE_CLIENT_ID", "g"),
        ("OAUTH_GOOGLE_CLIENT_SECRET", "s"),
        ("OAUTH_GOOGLE_TEAM_ID", "ABCDE12345"),
    ]);
    assert!(p.iter().any(|m| m == "OAUTH_GOOGLE_TEAM_ID applies only to the apple kind"), "{p:?}");
}

#[test]
fn trusted_audiences_are_for_openid_connect_and_name_real_audiences() {
    let corp = [
        ("OAUTH_PROVIDERS", "corp"),
        ("OAUTH_CORP_KIND", "oidc"),
        ("OAUTH_CORP_ISSUER", "https://id.example.com"),
        ("OAUTH_CORP_CLIENT_ID", "c"),
        ("OAUTH_CORP_CLIENT_SECRET", "s"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        corp.iter().chain(extra).copied().collect()
    };
    let s = Settings::from_vars(&vars(&with(&[("OAUTH_CORP_TRUSTED_AUDIENCES", "project-1, api")]))).unwrap();
    assert_eq!(s.providers[0].trusted_audiences, ["project-1", "api"]);
    assert!(Settings::from_vars(&vars(&with(&[]))).unwrap().providers[0].trusted_audiences.is_empty());
    let found = problems(&with(&[("OAUTH_CORP_TRUSTED_AUDIENCES", ",")]));
    assert!(found.iter().any(|p| p.contains("OAUTH_CORP_TRUSTED_AUDIENCES is set but names nothing")), "{found:?}");
    let found = problems(&with(&[("OAUTH_CORP_TRUSTED_AUDIENCES", "project 1")]));
    assert!(found.iter().any(|p| p.contains("\"project 1\" is not an audience")), "{found:?}");
    let found = problems(&[
        ("OAUTH_PROVIDERS", "github"),
        ("OAUTH_GITHUB_CLIENT_ID", "g"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "s"),
        ("OAUTH_GITHUB_TRUSTED_AUDIENCES", "api"),
    ]);
    assert!(
        found.iter().any(|p| p == "OAUTH_GITHUB_TRUSTED_AUDIENCES applies only to OpenID Connect providers"),
        "{found:?}"
    );
}

#[test]
fn auth0_takes_its_domain_and_keeps_the_trailing_slash_of_its_issuer() {
    let auth0 = [("OAUTH_PROVIDERS", "auth0"), ("OAUTH_AUTH0_CLIENT_ID", "c"), ("OAUTH_AUTH0_CLIENT_SECRET", "s")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        auth0.iter().chain(extra).copied().collect()
    };
    let s = Settings::from_vars(&vars(&with(&[("OAUTH_AUTH0_DOMAIN", "Acme.EU.auth0.com")]))).unwrap();
    assert_eq!(s.providers[0].issuer.as_deref(), Some("https://acme.eu.auth0.com/"));
    assert_eq!(s.providers[0].label, "Auth0");
    let s = Settings::from_vars(&vars(&with(&[("OAUTH_AUTH0_ISSUER", "https://login.acme.com/")]))).unwrap();
    assert_eq!(s.providers[0].issuer.as_deref(), Some("https://login.acme.com/"), "a custom domain as the issuer");

    let found = problems(&with(&[]));
    assert_eq!(found.len(), 1, "one problem, not DOMAIN and ISSUER both: {found:?}");
    assert!(found[0].starts_with("OAUTH_AUTH0_DOMAIN is required for an auth0 provider"), "{found:?}");
    for bad in ["https://acme.auth0.com", "acme.auth0.com/", "acme", "acme..auth0.com", "-acme.auth0.com"] {
        let found = problems(&with(&[("OAUTH_AUTH0_DOMAIN", bad)]));
        assert!(found.iter().any(|p| p.contains("must be a host name")), "{bad}: {found:?}");
    }
    let found =
        problems(&with(&[("OAUTH_AUTH0_DOMAIN", "acme.auth0.com"), ("OAUTH_AUTH0_ISSUER", "https://x.example/")]));
    assert_eq!(found, ["OAUTH_AUTH0_DOMAIN and OAUTH_AUTH0_ISSUER are both set; set one or the other"]);
    let found = problems(&[
        ("OAUTH_PROVIDERS", "corp"),
        ("OAUTH_CORP_KIND", "oidc"),
        ("OAUTH_CORP_ISSUER", "https://id.example.com"),
        ("OAUTH_CORP_CLIENT_ID", "c"),
        ("OAUTH_CORP_CLIENT_SECRET", "s"),
        ("OAUTH_CORP_DOMAIN", "id.example.com"),
    ]);
    assert!(found.iter().any(|p| p.starts_with("OAUTH_CORP_DOMAIN applies only to")), "{found:?}");
}

#[test]
fn keycloak_needs_its_realms_issuer_and_reads_groups() {
    let found = problems(&[
        ("OAUTH_PROVIDERS", "keycloak"),
        ("OAUTH_KEYCLOAK_CLIENT_ID", "c"),
        ("OAUTH_KEYCLOAK_CLIENT_SECRET", "s"),
    ]);
    assert!(found.iter().any(|p| p.starts_with("OAUTH_KEYCLOAK_ISSUER is required")), "{found:?}");
    let s = Settings::from_vars(&vars(&[
        ("OAUTH_PROVIDERS", "keycloak"),
        ("OAUTH_KEYCLOAK_ISSUER", "https://sso.example.com/realms/acme"),
        ("OAUTH_KEYCLOAK_CLIENT_ID", "c"),
        ("OAUTH_KEYCLOAK_CLIENT_SECRET", "s"),
        ("OAUTH_KEYCLOAK_ALLOWED_GROUPS", "/staff"),
    ]))
    .unwrap();
    assert_eq!(s.providers[0].claims.groups.as_deref(), Some("/groups"));
    assert_eq!(s.providers[0].allowed_groups, ["/staff"]);
    assert!(!s.providers[0].trust_email, "the realm decides what verified means");
}

#[test]
fn okta_takes_its_domain_and_an_optional_authorization_server() {
    let okta = [("OAUTH_PROVIDERS", "okta"), ("OAUTH_OKTA_CLIENT_ID", "c"), ("OAUTH_OKTA_CLIENT_SECRET", "s")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        okta.iter().chain(extra).copied().collect()
    };
    let issuer = |extra: &[(&'static str, &'static str)]| {
        Settings::from_vars(&vars(&with(extra))).unwrap().providers[0].issuer.clone().unwrap()
    };
    assert_eq!(issuer(&[("OAUTH_OKTA_DOMAIN", "acme.okta.com")]), "https://acme.okta.com");
    assert_eq!(
        issuer(&[("OAUTH_OKTA_DOMAIN", "acme.okta.com"), ("OAUTH_OKTA_AUTH_SERVER", "default")]),
        "https://acme.okta.com/oauth2/default"
    );
    for bad in ["../x", "default/", "aus 1"] {
        let found = problems(&with(&[("OAUTH_OKTA_DOMAIN", "acme.okta.com"), ("OAUTH_OKTA_AUTH_SERVER", bad)]));
        assert!(found.iter().any(|p| p.contains("must be an authorization server id")), "{bad:?}: {found:?}");
    }
    let found = problems(&with(&[("OAUTH_OKTA_ISSUER", "https://id.acme.com"), ("OAUTH_OKTA_AUTH_SERVER", "default")]));
    assert!(found.iter().any(|p| p.contains("is part of the issuer")), "{found:?}");
    let found = problems(&[
        ("OAUTH_PROVIDERS", "auth0"),
        ("OAUTH_AUTH0_DOMAIN", "acme.auth0.com"),
        ("OAUTH_AUTH0_CLIENT_ID", "c"),
        ("OAUTH_AUTH0_CLIENT_SECRET", "s"),
        ("OAUTH_AUTH0_AUTH_SERVER", "default"),
    ]);
    assert!(found.iter().any(|p| p == "OAUTH_AUTH0_AUTH_SERVER applies only to the okta kind"), "{found:?}");
}

#[test]
fn issuer_parameters_are_checked_and_belong_to_their_kinds() {
    let auth0 = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        [("OAUTH_PROVIDERS", "auth0"), ("OAUTH_AUTH0_CLIENT_ID", "c"), ("OAUTH_AUTH0_CLIENT_SECRET", "s")]
            .iter()
            .chain(extra)
            .copied()
            .collect()
    };
    // An empty ISSUER (compose's `${X}` with X unset) is no issuer: DOMAIN builds it.
    let s = Settings::from_vars(&vars(&auth0(&[("OAUTH_AUTH0_ISSUER", ""), ("OAUTH_AUTH0_DOMAIN", "acme.auth0.com")])))
        .unwrap();
    assert_eq!(s.providers[0].issuer.as_deref(), Some("https://acme.auth0.com/"));
    assert!(!s.providers[0].trust_email);
    let found = problems(&auth0(&[("OAUTH_AUTH0_ISSUER", "")]));
    assert_eq!(found.len(), 1, "{found:?}");
    let found = problems(&auth0(&[("OAUTH_AUTH0_ISSUER", "https://login.acme.com")]));
    assert!(found.iter().any(|p| p.contains("must end in /")), "{found:?}");
    for bad in ["127.0.0.1", "acme.123", "user@acme.auth0.com", "acme.auth0.com:443", "acme.auth0.com."] {
        let found = problems(&auth0(&[("OAUTH_AUTH0_DOMAIN", bad)]));
        assert!(found.iter().any(|p| p.contains("must be a host name")), "{bad}: {found:?}");
    }

    let cognito = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        [("OAUTH_PROVIDERS", "cognito"), ("OAUTH_COGNITO_CLIENT_ID", "c"), ("OAUTH_COGNITO_CLIENT_SECRET", "s")]
            .iter()
            .chain(extra)
            .copied()
            .collect()
    };
    let s = Settings::from_vars(&vars(&cognito(&[
        ("OAUTH_COGNITO_REGION", "eu-west-1"),
        ("OAUTH_COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf123"),
    ])))
    .unwrap();
    assert_eq!(
        s.providers[0].issuer.as_deref(),
        Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123")
    );
    assert_eq!(s.providers[0].claims.groups.as_deref(), Some("/cognito:groups"));
    let found = problems(&cognito(&[]));
    assert!(found.iter().any(|p| p.starts_with("OAUTH_COGNITO_REGION is required")), "{found:?}");
    assert!(found.iter().any(|p| p.starts_with("OAUTH_COGNITO_USER_POOL_ID is required")), "{found:?}");
    for region in ["eu-west-1/x", "EU-WEST-1", "eu.west"] {
        let found = problems(&cognito(&[("OAUTH_COGNITO_REGION", region), ("OAUTH_COGNITO_USER_POOL_ID", "p")]));
        assert!(found.iter().any(|p| p.contains("must be lower-case letters, digits and -")), "{region}: {found:?}");
    }
    let found = problems(&cognito(&[
        ("OAUTH_COGNITO_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/p"),
        ("OAUTH_COGNITO_REGION", "eu-west-1"),
        ("OAUTH_COGNITO_USER_POOL_ID", "p"),
    ]));
    assert_eq!(
        found,
        [
            "OAUTH_COGNITO_REGION and OAUTH_COGNITO_USER_POOL_ID and OAUTH_COGNITO_ISSUER are both set; set one or the other"
        ]
    );

    let found = problems(&[
        ("OAUTH_PROVIDERS", "github"),
        ("OAUTH_GITHUB_CLIENT_ID", "c"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "s"),
        ("OAUTH_GITHUB_DOMAIN", "acme.okta.com"),
        ("OAUTH_GITHUB_REGION", "eu-west-1"),
        ("OAUTH_GITHUB_AUTH_SERVER", "default"),
    ]);
    for expected in [
        "OAUTH_GITHUB_DOMAIN applies only to the auth0, okta, zitadel kinds",
        "OAUTH_GITHUB_REGION applies only to the cognito kind",
        "OAUTH_GITHUB_AUTH_SERVER applies only to the okta kind",
    ] {
        assert!(found.iter().any(|p| p == expected), "{expected}: {found:?}");
    }
}

#[test]
fn entra_b2c_finds_its_discovery_document_under_the_policy() {
    let b2c = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        [("OAUTH_PROVIDERS", "entra-b2c"), ("OAUTH_ENTRA_B2C_CLIENT_ID", "c"), ("OAUTH_ENTRA_B2C_CLIENT_SECRET", "s")]
            .iter()
            .chain(extra)
            .copied()
            .collect()
    };
    let s = Settings::from_vars(&vars(&b2c(&[
        ("OAUTH_ENTRA_B2C_TENANT", "Contoso"),
        ("OAUTH_ENTRA_B2C_TENANT_ID", "775527FF-9a37-4307-8b3d-cc311f58d925"),
        ("OAUTH_ENTRA_B2C_POLICY", "B2C_1_signupsignin1"),
    ])))
    .unwrap();
    let p = &s.providers[0];
    assert_eq!(p.issuer.as_deref(), Some("https://contoso.b2clogin.com/775527ff-9a37-4307-8b3d-cc311f58d925/v2.0/"));
    assert_eq!(
        p.discovery_url.as_ref().map(|u| u.as_str()),
        Some(
            "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signupsignin1/v2.0/.well-known/openid-configuration"
        )
    );
    assert!(!p.trust_email);
    assert_eq!(p.scopes, ["openid", "c"], "the client id: B2C sends an access token only for a scope besides openid");

    let found = problems(&b2c(&[]));
    for var in ["TENANT", "TENANT_ID", "POLICY"] {
        let expected = format!("OAUTH_ENTRA_B2C_{var} is required for an entra-b2c provider");
        assert!(found.iter().any(|p| p.starts_with(&expected)), "{var}: {found:?}");
    }
    assert!(found[0].ends_with("(or set OAUTH_ENTRA_B2C_ISSUER and OAUTH_ENTRA_B2C_DISCOVERY_URL)"), "{found:?}");
    let found = problems(&b2c(&[
        ("OAUTH_ENTRA_B2C_TENANT", "contoso.onmicrosoft.com"),
        ("OAUTH_ENTRA_B2C_TENANT_ID", "contoso"),
        ("OAUTH_ENTRA_B2C_POLICY", "B2C_1/x"),
    ]));
    assert_eq!(
        found,
        [
            "OAUTH_ENTRA_B2C_TENANT=\"contoso.onmicrosoft.com\" must be one name of letters, digits and - (no dots), such as contoso",
            "OAUTH_ENTRA_B2C_TENANT_ID=\"contoso\" must be a GUID (8-4-4-4-12 hex digits), such as 775527ff-9a37-4307-8b3d-cc311f58d925",
            "OAUTH_ENTRA_B2C_POLICY=\"B2C_1/x\" must be letters, digits, - and _, such as B2C_1_signupsignin1",
        ]
    );

    // A custom domain: the whole issuer, and the document's address beside it.
    let issuer = ("OAUTH_ENTRA_B2C_ISSUER", "https://login.contoso.com/775527ff-9a37-4307-8b3d-cc311f58d925/v2.0/");
    let found = problems(&b2c(&[issuer]));
    assert_eq!(
        found,
        [
            "OAUTH_ENTRA_B2C_DISCOVERY_URL is required with OAUTH_ENTRA_B2C_ISSUER for an entra-b2c provider: its discovery document is not under the issuer"
        ]
    );
    let discovery =
        "https://login.contoso.com/contoso.onmicrosoft.com/B2C_1A_signup_signin/v2.0/.well-known/openid-configuration";
    let s = Settings::from_vars(&vars(&b2c(&[issuer, ("OAUTH_ENTRA_B2C_DISCOVERY_URL", discovery)]))).unwrap();
    assert_eq!(s.providers[0].issuer.as_deref(), Some(issuer.1));
    assert_eq!(s.providers[0].discovery_url.as_ref().map(|u| u.as_str()), Some(discovery));
}

#[test]
fn discovery_url_is_a_plain_https_url_for_openid_connect_providers() {
    let oidc = |url: &'static str| {
        [
            ("OAUTH_PROVIDERS", "idp"),
            ("OAUTH_IDP_KIND", "oidc"),
            ("OAUTH_IDP_ISSUER", "https://idp.example.com"),
            ("OAUTH_IDP_CLIENT_ID", "c"),
            ("OAUTH_IDP_CLIENT_SECRET", "s"),
            ("OAUTH_IDP_DISCOVERY_URL", url),
        ]
    };
    let s = Settings::from_vars(&vars(&oidc("https://meta.example.com/idp/openid-configuration?p=x"))).unwrap();
    assert_eq!(
        s.providers[0].discovery_url.as_ref().map(|u| u.as_str()),
        Some("https://meta.example.com/idp/openid-configuration?p=x")
    );
    let unset = Settings::from_vars(&vars(&oidc("https://x.example")[..5])).unwrap();
    assert_eq!(unset.providers[0].discovery_url, None, "the usual place under the issuer");
    for (bad, why) in [
        ("http://idp.example.com/.well-known/openid-configuration", "uses plain http on a non-loopback host"),
        ("idp.example.com/.well-known/openid-configuration", "is not an absolute URL"),
        ("https://user:pw@idp.example.com/.well-known/openid-configuration", "without credentials or #fragment"),
        ("https://idp.example.com/.well-known/openid-configuration#x", "without credentials or #fragment"),
    ] {
        let found = problems(&oidc(bad));
        assert!(found.iter().any(|p| p.starts_with("OAUTH_IDP_DISCOVERY_URL=") && p.contains(why)), "{bad}: {found:?}");
    }
    let found = problems(&[
        ("OAUTH_PROVIDERS", "github"),
        ("OAUTH_GITHUB_CLIENT_ID", "c"),
        ("OAUTH_GITHUB_CLIENT_SECRET", "s"),
        ("OAUTH_GITHUB_DISCOVERY_URL", "https://github.com/.well-known/openid-configuration"),
        ("OAUTH_GITHUB_TENANT", "contoso"),
    ]);
    for expected in [
        "OAUTH_GITHUB_DISCOVERY_URL applies only to OpenID Connect providers",
        "OAUTH_GITHUB_TENANT applies only to the microsoft, entra-b2c kinds",
    ] {
        assert!(found.iter().any(|p| p == expected), "{expected}: {found:?}");
    }
    // Microsoft's TENANT is its own, and B2C's POLICY is not Microsoft's.
    let found = problems(&[
        ("OAUTH_PROVIDERS", "microsoft"),
        ("OAUTH_MICROSOFT_CLIENT_ID", "c"),
        ("OAUTH_MICROSOFT_CLIENT_SECRET", "s"),
        ("OAUTH_MICROSOFT_TENANT", "contoso.onmicrosoft.com"),
        ("OAUTH_MICROSOFT_POLICY", "B2C_1_x"),
    ]);
    assert_eq!(found, ["OAUTH_MICROSOFT_POLICY applies only to the entra-b2c kind"]);
}

#[test]
fn zitadel_needs_its_project_which_it_trusts_as_an_audience() {
    let zitadel = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        [
            ("OAUTH_PROVIDERS", "zitadel"),
            ("OAUTH_ZITADEL_DOMAIN", "acme-a1b2c3.zitadel.cloud"),
            ("OAUTH_ZITADEL_CLIENT_ID", "170086824411201793@gatehouse"),
            ("OAUTH_ZITADEL_CLIENT_SECRET", "s"),
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect()
    };
    let s = Settings::from_vars(&vars(&zitadel(&[("OAUTH_ZITADEL_PROJECT_ID", "170086774599581953")]))).unwrap();
    assert_eq!(s.providers[0].issuer.as_deref(), Some("https://acme-a1b2c3.zitadel.cloud"));
    assert_eq!(s.providers[0].trusted_audiences, ["170086774599581953"]);
    let found = problems(&zitadel(&[]));
    assert!(found.iter().any(|p| p.starts_with("OAUTH_ZITADEL_PROJECT_ID is required")), "{found:?}");
    let found = problems(&zitadel(&[("OAUTH_ZITADEL_PROJECT_ID", "gatehouse")]));
    assert!(found.iter().any(|p| p.contains("must be the project's Resource Id")), "{found:?}");
    let found = problems(&[
        ("OAUTH_PROVIDERS", "google"),
        ("OAUTH_GOOGLE_CLIENT_ID", "c"),
        ("OAUTH_GOOGLE_CLIENT_SECRET", "s"),
        ("OAUTH_GOOGLE_PROJECT_ID", "1"),
    ]);
    assert!(found.iter().any(|p| p == "OAUTH_GOOGLE_PROJECT_ID applies only to the zitadel kind"), "{found:?}");
    let found = problems(&[
        ("OAUTH_PROVIDERS", "google"),
        ("OAUTH_GOOGLE_CLIENT_ID", "c"),
        ("OAUTH_GOOGLE_CLIENT_SECRET", "s"),
        ("OAUTH_GOOGLE_PROJECT_ID", ""),
    ]);
    assert!(
        found.iter().any(|p| p == "OAUTH_GOOGLE_PROJECT_ID applies only to the zitadel kind"),
        "set but empty: {found:?}"
    );
    let found = problems(&[
        ("OAUTH_PROVIDERS", "authentik"),
        ("OAUTH_AUTHENTIK_ISSUER", "https://auth.example.com/application/o/gatehouse"),
        ("OAUTH_AUTHENTIK_CLIENT_ID", "c"),
        ("OAUTH_AUTHENTIK_CLIENT_SECRET", "s"),
    ]);
    assert!(found.iter().any(|p| p.contains("must end in / as authentik's issuers do")), "{found:?}");
}
