//! Reading query strings strictly: a parameter given twice is refused, never guessed at.

use std::collections::HashMap;

#[derive(Debug, PartialEq, Eq)]
pub struct Repeated(pub String);

/// Decodes the query into a map, refusing repeated names.
pub fn parse(query: &str) -> Result<HashMap<String, String>, Repeated> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(Repeated(k.into_owned()));
        }
    }
    Ok(out)
}

/// One parameter, or `None` when absent or repeated.
pub fn single(query: &str, name: &str) -> Option<String> {
    parse(query).ok()?.remove(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The callback query parser takes any bytes without panicking, and never returns a
        /// map when a name repeats.
        #[test]
        fn fuzz_callback_query(raw in "([a-z]{1,5}=[^&]{0,20}&?){0,8}|\\PC{0,200}") {
            if let Ok(map) = parse(&raw) {
                let names: Vec<_> = url::form_urlencoded::parse(raw.as_bytes()).map(|(k, _)| k.into_owned()).collect();
                prop_assert_eq!(map.len(), names.len());
            }
        }
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(parse("state=a&state=b"), Err(Repeated("state".into())));
        assert_eq!(single("next=/a&next=/b", "next"), None);
        assert_eq!(single("next=%2Fprofile", "next").as_deref(), Some("/profile"));
        // Invalid UTF-8 is decoded lossily rather than failing.
        assert!(single("next=%ff", "next").is_some());
    }
}
