//! What the hashing balancers hash (`hash_key = "..."`): a header, cookie or query value,
//! the path, or the client address. A request without the key is balanced at random
//! among available endpoints (Envoy does the same when no hash policy matches).

/// The configured source of the hash key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    /// Header name, lowercase.
    Header(String),
    Cookie(String),
    Query(String),
    Path,
    SourceIp,
}

impl HashKey {
    /// Parses `header:NAME`, `cookie:NAME`, `query:NAME`, `path` or `source_ip`.
    pub fn parse(s: &str) -> Result<HashKey, String> {
        let nonempty = |n: &str, kind: &str| {
            if n.is_empty() {
                Err(format!("`{kind}:` needs a name"))
            } else {
                Ok(n.to_string())
            }
        };
        match s.split_once(':') {
            Some(("header", n)) => nonempty(n, "header").map(|n| HashKey::Header(n.to_ascii_lowercase())),
            Some(("cookie", n)) => nonempty(n, "cookie").map(HashKey::Cookie),
            Some(("query", n)) => nonempty(n, "query").map(HashKey::Query),
            None if s == "path" => Ok(HashKey::Path),
            None if s == "source_ip" => Ok(HashKey::SourceIp),
            _ => Err(format!("unknown hash key `{s}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(HashKey::parse("header:X-User"), Ok(HashKey::Header("x-user".into())));
        assert_eq!(HashKey::parse("cookie:sid"), Ok(HashKey::Cookie("sid".into())));
        assert_eq!(HashKey::parse("query:u"), Ok(HashKey::Query("u".into())));
        assert_eq!(HashKey::parse("path"), Ok(HashKey::Path));
        assert_eq!(HashKey::parse("source_ip"), Ok(HashKey::SourceIp));
        assert!(HashKey::parse("header:").is_err());
        assert!(HashKey::parse("body").is_err());
    }
}
