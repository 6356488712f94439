//! A Redis-protocol server's name and version from its `INFO server`
//! reply. Plain text parsing with no client library, so it is compiled in
//! every build: the redis adapter names the software it measured with it,
//! and provisioning names the local server it started.

/// `redis 7.0.15` (or `valkey 8.0.1`) from INFO server.
pub fn software_from_info(info: &str) -> Option<String> {
    let field = |name: &str| {
        info.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()))
    };
    let version = field("redis_version")?;
    match (field("server_name"), field("valkey_version")) {
        (Some(name), Some(v)) => Some(format!("{name} {v}")),
        (Some(name), None) => Some(format!("{name} {version}")),
        _ => Some(format!("redis {version}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_redis_and_valkey() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        assert_eq!(software_from_info(info).as_deref(), Some("redis 7.0.15"));
        let valkey = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n";
        assert_eq!(software_from_info(valkey).as_deref(), Some("valkey 8.0.1"));
        assert_eq!(software_from_info("# Server\r\nredis_mode:standalone\r\n"), None);
    }
}
