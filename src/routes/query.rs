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

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(parse("state=a&state=b"), Err(Repeated("state".into())));
        assert_eq!(single("next=/a&next=/b", "next"), None);
        assert_eq!(single("next=%2Fprofile", "next").as_deref(), Some("/profile"));
        // Invalid UTF-8 is decoded lossily rather than failing.
        assert!(single("next=%ff", "next").is_some());
    }
}
