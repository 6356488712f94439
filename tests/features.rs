//! Broker test files (`tests/redis.rs`, `tests/kafka.rs`,
//! `tests/rabbitmq.rs`, `tests/amqp1.rs`, and the redis tests of
//! `tests/provision.rs`) compile to nothing without their adapter's cargo
//! feature. A build without one would then pass with those tests silently
//! missing; this test fails instead and names what did not run.
//!
//! To run a subset on purpose, name the test files:
//! `cargo test --no-default-features --features loopback,redis --test redis`
//! builds and runs only those (this file is not among them).

#[test]
fn every_broker_adapter_is_built_so_that_its_tests_run() {
    let features = [
        (
            "redis",
            cfg!(feature = "redis"),
            "tests/redis.rs, tests/omb.rs, the redis test of tests/capacity.rs and the redis tests of tests/provision.rs",
        ),
        ("kafka", cfg!(feature = "kafka"), "tests/kafka.rs, tests/omb.rs and tests/security.rs"),
        ("rabbitmq", cfg!(feature = "rabbitmq"), "tests/rabbitmq.rs"),
        ("amqp1", cfg!(feature = "amqp1"), "tests/amqp1.rs"),
        ("container", cfg!(feature = "container"), "tests/container.rs"),
        ("loopback", cfg!(feature = "loopback"), "every loopback test (tests/runner.rs, tests/merge.rs, ...)"),
    ];
    let off: Vec<String> = features
        .iter()
        .filter(|(_, on, _)| !on)
        .map(|(name, _, files)| format!("feature `{name}` is off: {files} compiled to zero tests"))
        .collect();
    assert!(off.is_empty(), "{}; build with the default features, or name the test files to run", off.join("; "));
}
