use actix_session::Session;
use actix_web::HttpResponse;

use super::{page_context, render_page};
use crate::auth::CurrentUser;
use crate::session::take_flash;

/// `GET /`: public; signed in, it greets the user and offers sign-out.
pub async fn home(user: Option<CurrentUser>, session: Session) -> HttpResponse {
    let mut ctx = page_context(user.as_ref().map(|u| &u.0.user));
    ctx.insert("flash", &take_flash(&session));
    render_page("index.html", &ctx)
}
