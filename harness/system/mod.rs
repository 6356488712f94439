//! What the operating system offers every layer above it: CPU and memory
//! of process trees (`resources`) and of containers (`cgroup`) and the signals that stop a run
//! (`stop_signal`). Provisioning (broker processes) and the runner (the
//! measurement window) both use it; it imports nothing else of the crate.

pub mod cgroup;
pub mod resources;
pub mod secrets;
pub mod stop_signal;
