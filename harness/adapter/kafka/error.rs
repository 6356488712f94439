//! Turning librdkafka's errors into messages a user can act on.
//!
//! librdkafka reports connection trouble asynchronously (the client's error
//! callback), while the call that fails only says "timed out". [`LastError`]
//! keeps the last asynchronous error so a timeout can say why.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use std::sync::{Arc, Mutex};

/// `KafkaError`'s Display plus its code, without the Debug noise.
pub fn describe(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => format!("{e} ({code:?})"),
        None => e.to_string(),
    }
}

/// The last error librdkafka reported through the error callback.
#[derive(Clone, Default)]
pub struct LastError(Arc<Mutex<Option<String>>>);

impl LastError {
    pub fn set(&self, why: String) {
        *self.0.lock().unwrap() = Some(why);
    }
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }
    /// `what` failed: adds the last asynchronous error when there is one.
    pub fn explain(&self, what: &str, e: &KafkaError) -> String {
        match self.get() {
            Some(last) => format!("{what}: {} (librdkafka last reported: {last})", describe(e)),
            None => format!("{what}: {}", describe(e)),
        }
    }
}

/// A client context that records errors instead of only logging them.
#[derive(Clone, Default)]
pub struct RecordingContext {
    pub last_error: LastError,
}

impl ClientContext for RecordingContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("librdkafka: {error}: {reason}");
        self.last_error.set(reason.to_string());
    }

    /// librdkafka's log lines go to mqbench's log; warnings and errors
    /// also count as the last error, because some failures (a TLS
    /// handshake, SASL authentication) are only logged.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let text = crate::system::secrets::scrub(message);
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::warn!("librdkafka {fac}: {text}");
                self.last_error.set(text);
            }
            RDKafkaLogLevel::Warning => {
                tracing::debug!("librdkafka {fac}: {text}");
                self.last_error.set(text);
            }
            _ => tracing::debug!("librdkafka {fac}: {text}"),
        }
    }
}

impl ConsumerContext for RecordingContext {}

/// The connection check runs on a producer client (whose poll serves the
/// callbacks); it sends nothing, so delivery reports are never looked at.
impl rdkafka::producer::ProducerContext for RecordingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}
