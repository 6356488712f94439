//! What validating a scenario asks of the broker adapters. The scenario
//! model names adapters but does not know them: the command that loads a
//! scenario (`mqbench validate`, `run`, `brokers up --scenario`) passes
//! the adapters of its build (`adapter::Rules`), and each answer is turned
//! into a `file:line:col` error here.

/// An adapter option map, as points carry it.
pub type Options = serde_json::Map<String, serde_json::Value>;

pub trait AdapterRules {
    /// Every adapter a scenario may name (`adapter:` or `name:`).
    fn names(&self) -> &[&'static str];
    /// Whether `adapter` accepts these options; the error names the
    /// offending option in backquotes (`unknown field \`x\``), which is
    /// where the error points.
    fn check_options(&self, adapter: &str, options: &Options) -> Result<(), String>;
    /// Whether `adapter` with these options keeps messages for consumers
    /// that attach after publishing (`backlog: true`); the error says why not.
    fn check_backlog(&self, adapter: &str, options: &Options) -> Result<(), String>;
    /// Whether `adapter` serves `partitions` partitions; the error says
    /// its bound and what a partition is there.
    fn check_partitions(&self, adapter: &str, partitions: u32) -> Result<(), String>;
    /// Whether `adapter` can connect with this TLS and SASL profile; the
    /// error says why not.
    fn check_security(&self, adapter: &str, security: &super::security::Security) -> Result<(), String>;
}
