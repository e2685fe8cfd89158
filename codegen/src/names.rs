//! Rust names for spec names: snake_case modules and fields, raw identifiers
//! for keywords.

/// Converts `ProduceRequest`, `timeoutMs`, `KRaftVersionRecord` to
/// `produce_request`, `timeout_ms`, `kraft_version_record`.
///
/// A word starts at an upper-case letter that follows a lower-case letter or
/// digit, or that ends a run of capitals (`ISRNodes` -> `isr_nodes`).
/// `KRaft` is one word.
pub fn snake_case(name: &str) -> String {
    let name = name.replace("KRaft", "Kraft");
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Rust keywords (strict and reserved, 2024 edition) that need `r#`.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// Identifiers that cannot be raw (`r#self` is not allowed).
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// The field identifier for a spec field name (`Type` -> `r#type`).
pub fn field_ident(name: &str) -> String {
    let snake = snake_case(name);
    if NOT_RAW.contains(&snake.as_str()) {
        format!("{snake}_")
    } else if KEYWORDS.contains(&snake.as_str()) {
        format!("r#{snake}")
    } else {
        snake
    }
}

/// The snake_case name without a raw prefix, for building other identifiers.
pub fn bare(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// Module (and file stem) for a spec name.
pub fn module_name(spec_name: &str) -> String {
    snake_case(spec_name)
}

/// `ApiKey` variant for a request spec name (`ProduceRequest` -> `Produce`).
pub fn api_variant(request_name: &str) -> String {
    request_name
        .strip_suffix("Request")
        .unwrap_or(request_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases() {
        assert_eq!(snake_case("ProduceRequest"), "produce_request");
        assert_eq!(snake_case("timeoutMs"), "timeout_ms");
        assert_eq!(snake_case("KRaftVersionRecord"), "kraft_version_record");
        assert_eq!(snake_case("KRaftVersion"), "kraft_version");
        assert_eq!(snake_case("ISRNodes"), "isr_nodes");
        assert_eq!(snake_case("TopicId"), "topic_id");
        assert_eq!(snake_case("Base64Data"), "base64_data");
        assert_eq!(snake_case("Sha256"), "sha256");
        assert_eq!(snake_case("ApiVersionsResponse"), "api_versions_response");
    }

    #[test]
    fn keywords_become_raw() {
        assert_eq!(field_ident("Type"), "r#type");
        assert_eq!(field_ident("Match"), "r#match");
        assert_eq!(field_ident("Name"), "name");
        assert_eq!(field_ident("Self"), "self_");
        assert_eq!(bare("r#type"), "type");
    }

    #[test]
    fn api_variants() {
        assert_eq!(api_variant("ProduceRequest"), "Produce");
        assert_eq!(api_variant("ApiVersionsRequest"), "ApiVersions");
    }
}
