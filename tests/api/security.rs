//! The adversarial suite: one module per group of `SECURITY-CHECKLIST.md` (cases numbered as
//! there), plus the OpenID RP conformance modules. Outcomes use the checklist's shorthand:
//! FAIL400/502/504 (status and the generic page), NOSESS (no session), NODB (nothing written),
//! NOTOKEN (no token or userinfo request).

mod a_state;
mod b_pkce;
mod c_id_token;
mod d_userinfo;
mod e_accounts;
mod f_next;
mod g_cookie;
mod i_provider_errors;
mod j_config;
mod k_headers;
mod l_guard;
mod m_limits;

use crate::helpers::*;
use crate::scripted_op::{Calls, ScriptedOp};

/// An app with one provider, `op`, served by the scripted (misbehaving on demand) OP.
pub struct Rig {
    pub op: ScriptedOp,
    pub app: TestApp,
}

pub async fn rig(backend: Backend) -> Rig {
    let op = ScriptedOp::start();
    let app = spawn_app(AppOptions::new(backend).provider_env(op.env("op"))).await;
    Rig { op, app }
}

impl Rig {
    /// A full sign-in attempt in a fresh browser; returns the browser and the callback answer.
    pub async fn attempt(&self) -> (Browser, reqwest::Response) {
        let browser = self.app.new_browser();
        let res = sign_in_auto(&browser, "op").await;
        (browser, res)
    }

    /// The attempt is refused with `status`, nobody is signed in and nothing was written.
    pub async fn assert_refused(&self, status: u16, why: &str) -> Calls {
        let before = self.op.calls();
        let (browser, res) = self.attempt().await;
        assert_eq!(res.status(), status, "{why}");
        let page = res.text().await.unwrap();
        assert!(page.contains("/login") || page.contains("/authorize/op"), "{why}: the page offers a way back");
        assert_eq!(browser.me().await, Err(401), "{why}: NOSESS");
        assert_eq!(self.app.db.counts(), (0, 0), "{why}: NODB");
        let after = self.op.calls();
        Calls { token: after.token - before.token, userinfo: after.userinfo - before.userinfo, ..after }
    }
}
