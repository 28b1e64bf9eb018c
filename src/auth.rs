//! Who is signed in: middleware that attaches the identity to every request, the guards that
//! protect handlers, and the `next` sanitiser that keeps redirects on this site.

pub(crate) mod guard;
pub(crate) mod middleware;
pub(crate) mod next;
pub(crate) mod origin;

pub(crate) use guard::SignedIn;
pub use guard::{CurrentUser, OptionalUser, require_login, wants_json};
pub(crate) use middleware::attach_identity;
pub(crate) use origin::require_same_origin;
