//! Where the JVM brokers are installed: the user's own install named by an
//! environment variable (`KAFKA_HOME`, `ARTEMIS_HOME`, `ACTIVEMQ_HOME`),
//! else the folder that `docker/install-brokers.sh` fills from Maven
//! Central (`$MQBENCH_BROKERS/kafka`, `.../artemis`, `.../activemq`;
//! `MQBENCH_BROKERS` defaults to `/opt/mqbench`). No variable needs to be
//! set after the install script has run.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// The folder `docker/install-brokers.sh` installs into.
pub fn brokers_dir() -> PathBuf {
    std::env::var_os("MQBENCH_BROKERS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/opt/mqbench"))
}

/// The install command every "not installed" error names.
pub const INSTALL_HINT: &str =
    "run `bash docker/install-brokers.sh` (as root; it fetches the broker from Maven Central)";

/// The home of a broker: `$env_var` when set (it must contain `check`),
/// else `brokers_dir()/link` when that contains `check`, else an error that
/// says what was looked for and how to install it.
pub fn broker_home(what: &str, env_var: &str, link: &str, check: &str) -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os(env_var) {
        let home = PathBuf::from(home);
        if !home.join(check).exists() {
            bail!("{env_var} is set to {} but {} does not exist there", home.display(), check);
        }
        return Ok(home);
    }
    let default = brokers_dir().join(link);
    if default.join(check).exists() {
        return Ok(default);
    }
    bail!(
        "{what} is not installed: {} does not exist and {env_var} is not set; {INSTALL_HINT}, \
         or set {env_var} to your own installation",
        default.join(check).display()
    )
}

/// The `java` to run JVM brokers with: `$JAVA_HOME/bin/java`, else `java`
/// on PATH.
pub fn java() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let java = Path::new(&home).join("bin/java");
        if java.is_file() {
            return Ok(java);
        }
    }
    super::process::find_program(
        "java",
        &[],
        "the JVM brokers (Kafka, Artemis, ActiveMQ) need Java 17 or newer: \
         `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME",
    )
    .context("looking for a JVM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_install_names_the_path_and_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        // Only this test reads the variable it sets.
        std::env::set_var("MQBENCH_TEST_HOME_UNSET", dir.path());
        let err = broker_home("Nothing", "MQBENCH_TEST_HOME_UNSET", "nothing", "bin/nothing").unwrap_err();
        assert!(err.to_string().contains("MQBENCH_TEST_HOME_UNSET is set to"), "{err}");
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/nothing"), "").unwrap();
        assert_eq!(broker_home("Nothing", "MQBENCH_TEST_HOME_UNSET", "nothing", "bin/nothing").unwrap(), dir.path());
        let err = broker_home("Nothing", "MQBENCH_TEST_HOME_NEVER_SET", "no-such-link", "bin/nothing").unwrap_err();
        assert!(err.to_string().contains("install-brokers.sh"), "{err}");
        assert!(err.to_string().contains("no-such-link/bin/nothing"), "{err}");
    }
}
