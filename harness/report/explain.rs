//! Prose that every report with published figures carries: why mqbench's
//! numbers and the published ones differ. Kept in one place so the HTML and
//! Markdown reports say the same thing.

/// Paragraphs (plain text; both writers escape and wrap them).
pub const WHY_THEY_DIFFER: [&str; 5] = [
    "The published tables were produced with the OpenMessaging Benchmark (OMB). mqbench measures \
     differently on purpose, so the two sets of numbers are not expected to agree even on the same machine.",
    "Clock resolution: OMB computes end-to-end latency as the consumer's wall clock in milliseconds minus a \
     timestamp carried in the message, and drops samples of 0 ms. For Redis the timestamp is the stream \
     entry id's milliseconds, so any delivery under a millisecond reads as 1 ms: hence 1.0 ms at every rate. \
     mqbench timestamps in microseconds and keeps sub-millisecond samples, zero included.",
    "Whole-second timestamps: OMB's RabbitMQ driver uses the AMQP `timestamp` property, which the Java client \
     encodes in whole seconds. The true send time is lost by 0 to 1 s, uniformly, which averages about 500 ms \
     at every rate, whatever the broker does. mqbench carries its own microsecond timestamp in the body.",
    "Coordinated omission: OMB's publish latency runs from the moment a message was actually sent. When the \
     broker stalls, the sender stalls with it and the messages that should have gone out during the stall \
     are never timed. mqbench sends on an open-loop schedule (message k at t0 + k/rate) and measures from the \
     intended send time, so a stall shows up in every message it delayed; it also records the time from the \
     actual send (\"service\" latency) for comparison with closed-loop tools.",
    "Hardware and counting: the published numbers come from one laptop with all four brokers on it; ours come \
     from the host named in the environment table. mqbench counts every message (lost, duplicated and out of \
     order are exact) and reports delivered throughput during a fixed window after a discarded warm-up. A \
     throughput beyond what one host can carry (the published Kafka figure at 100 KB is about 25.5 GB/s) is \
     flagged rather than reproduced.",
];
