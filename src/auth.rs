//! Who is signed in: middleware that attaches the identity to every request, the guards that
//! protect handlers, and the `next` sanitiser that keeps redirects on this site.

pub mod guard;
pub mod middleware;
pub mod next;
pub mod origin;

pub use guard::{CurrentUser, OptionalUser, SignedIn, require_login, wants_json};
pub use middleware::attach_identity;
pub use origin::require_same_origin;
