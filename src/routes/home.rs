use actix_web::HttpResponse;

use super::{page_context, render_page};
use crate::auth::CurrentUser;

/// `GET /`: public; signed in, it greets the user and offers sign-out.
pub async fn home(user: Option<CurrentUser>) -> HttpResponse {
    render_page("index.html", &page_context(user.as_ref().map(|u| &u.0)))
}
