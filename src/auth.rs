//! Who is signed in, for your handlers: [`CurrentUser`] (a required user, with their
//! identities), [`OptionalUser`], [`SignedIn`] (the id only, checked by the middleware), the
//! [`require_login`] middleware for whole scopes, and [`require_same_origin`] for your own
//! form posts. [`wants_json`] is the rule that picks a `401` over a redirect.

pub(crate) mod guard;
pub(crate) mod middleware;
pub(crate) mod next;
pub(crate) mod origin;

pub use guard::{CurrentUser, OptionalUser, SignedIn, require_login, wants_json};
pub(crate) use middleware::attach_identity;
pub use origin::require_same_origin;
