//! A consumer member's own fetch queue, taken from in batches and handed on
//! without copying.
//!
//! Why: the crate's `BaseConsumer::poll` returns one message per call, and
//! each call costs a queue pop, an event set-up and several clock reads;
//! its messages borrow the consumer, so their bodies had to be copied out.
//! At 1 KB and ~500k msg/s that was about a third of the consumer thread,
//! on a 2-core host where every cycle the harness spends is one the broker
//! under test does not get.
//!
//! How: every partition the member is assigned forwards its fetch queue to
//! a queue of the member's own ([`MemberQueue`]), read with
//! `rd_kafka_consume_batch_queue`. The consumer queue then carries only
//! events (rebalances, errors, offset commits), still served by the crate's
//! `poll`. A batch read on the consumer queue itself is not an option: it
//! serves a rebalance op on the spot, and with the crate's event API (no
//! rebalance callback) librdkafka answers it with `rd_kafka_assign(NULL)`.
//!
//! An application forward survives a fetch start, but a fetch stop (a
//! revoke) clears it. So partitions are forwarded when they are assigned,
//! before the crate calls `rd_kafka_assign` (then no message of theirs
//! reaches the consumer queue first, which would break their order), and
//! again now and then as a safety net ([`ForwardSlot::forward`] is
//! idempotent, and moves whatever waits in the partition's queue, in
//! order).
//!
//! Each message becomes a [`Bytes`] that owns it ([`Fetched`]) and destroys
//! it when the runner drops the body. Every message holds its batch's
//! [`Lease`] on the [`Member`] (client and queue), so librdkafka is never
//! destroyed under a message.

use crate::adapter::Delivery;
use bytes::Bytes;
use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::RDKafkaErrorCode;
use std::ffi::CString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a member's partitions are forwarded: its queue and topic, shared
/// with the consumer's context (which forwards on every assignment) and
/// emptied before the queue is destroyed.
#[derive(Default)]
pub struct ForwardSlot(Mutex<Option<Target>>);

struct Target {
    queue: *mut rdsys::rd_kafka_queue_t,
    topic: CString,
}

// SAFETY: librdkafka's queues are thread-safe, and the slot's lock keeps
// the queue from being destroyed while a forward uses it.
unsafe impl Send for Target {}

impl ForwardSlot {
    /// Routes the fetched messages of `partitions` (of the member's topic)
    /// to the member's queue; nothing once the queue is gone. Idempotent.
    pub fn forward<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>, partitions: impl IntoIterator<Item = i32>) {
        let target = self.0.lock().unwrap();
        let Some(t) = target.as_ref() else { return };
        for p in partitions {
            // SAFETY: a live client, a live queue (the lock is held) and a
            // NUL-terminated topic; the returned handle (a reference on the
            // partition's queue) is released right after the forward, which
            // lives on in the partition's queue.
            unsafe {
                let pq = rdsys::rd_kafka_queue_get_partition(consumer.client().native_ptr(), t.topic.as_ptr(), p);
                if pq.is_null() {
                    // Unknown partition: its messages stay on the consumer
                    // queue, where `poll` still takes them.
                    continue;
                }
                rdsys::rd_kafka_queue_forward(pq, t.queue);
                rdsys::rd_kafka_queue_destroy(pq);
            }
        }
    }
}

/// The member's queue (`rd_kafka_queue_new`).
pub struct MemberQueue {
    queue: *mut rdsys::rd_kafka_queue_t,
    slot: Arc<ForwardSlot>,
}

// SAFETY: librdkafka's queues are thread-safe; the handle is destroyed
// once, in `Drop`.
unsafe impl Send for MemberQueue {}
unsafe impl Sync for MemberQueue {}

impl MemberQueue {
    /// Makes the queue and points `slot` at it.
    pub fn new<C: ConsumerContext>(
        consumer: &BaseConsumer<C>,
        topic: &str,
        slot: Arc<ForwardSlot>,
    ) -> anyhow::Result<MemberQueue> {
        let topic = CString::new(topic).map_err(|_| anyhow::anyhow!("topic `{topic}` contains a NUL byte"))?;
        // SAFETY: a live client.
        let queue = unsafe { rdsys::rd_kafka_queue_new(consumer.client().native_ptr()) };
        anyhow::ensure!(!queue.is_null(), "librdkafka could not make a queue for the consumer");
        *slot.0.lock().unwrap() = Some(Target { queue, topic });
        Ok(MemberQueue { queue, slot })
    }

    /// Appends what is waiting (at most `max` messages) to `out` as raw
    /// messages; waits up to `wait` for the first one only, so that a
    /// message is never held back to fill a batch (librdkafka's batch call
    /// waits for a full batch or its timeout).
    fn take(&self, wait: Duration, max: usize, out: &mut Vec<*mut rdsys::rd_kafka_message_t>) {
        let start = out.len();
        out.reserve(max);
        let spare = out.spare_capacity_mut().as_mut_ptr() as *mut *mut rdsys::rd_kafka_message_t;
        // SAFETY: `spare` has room for `max` pointers; librdkafka writes
        // `n` of them and hands their ownership to us.
        unsafe {
            let n = rdsys::rd_kafka_consume_batch_queue(self.queue, wait.as_millis() as i32, spare, 1);
            let mut got = n.max(0) as usize;
            if got == 1 && max > 1 {
                let more = rdsys::rd_kafka_consume_batch_queue(self.queue, 0, spare.add(1), max - 1);
                got += more.max(0) as usize;
            }
            out.set_len(start + got);
        }
    }
}

impl Drop for MemberQueue {
    fn drop(&mut self) {
        self.slot.0.lock().unwrap().take();
        // SAFETY: made by `rd_kafka_queue_new`, destroyed only here and
        // before the client (see `Member`).
        unsafe { rdsys::rd_kafka_queue_destroy(self.queue) }
    }
}

/// A member's client and its queue; fields drop in this order, so the
/// queue goes before the client.
pub struct Member<C: ConsumerContext> {
    pub queue: MemberQueue,
    pub consumer: BaseConsumer<C>,
}

/// One batch's hold on the member. Per batch rather than per message: the
/// poll thread counts a new batch's references up while the runner counts
/// the last one's down, and one shared counter would bounce between them
/// (the alignment keeps two leases off one cache line).
#[repr(align(64))]
struct Lease<C: ConsumerContext> {
    _member: Arc<Member<C>>,
}

/// One fetched message, owned; destroyed with the last `Bytes` of it.
struct Fetched<C: ConsumerContext + 'static> {
    message: *mut rdsys::rd_kafka_message_t,
    _lease: Arc<Lease<C>>,
}

// SAFETY: a fetched message may be read and destroyed on any thread; the
// member (and so the client) outlives it.
unsafe impl<C: ConsumerContext + 'static> Send for Fetched<C> {}

impl<C: ConsumerContext + 'static> AsRef<[u8]> for Fetched<C> {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the message is live until `drop`; librdkafka keeps its
        // payload unchanged for as long.
        unsafe {
            let m = &*self.message;
            if m.payload.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(m.payload as *const u8, m.len)
            }
        }
    }
}

impl<C: ConsumerContext + 'static> Drop for Fetched<C> {
    fn drop(&mut self) {
        // SAFETY: ours since `rd_kafka_consume_batch_queue`, destroyed once.
        unsafe { rdsys::rd_kafka_message_destroy(self.message) }
    }
}

/// Takes up to `max` messages from `member`'s queue (see
/// [`MemberQueue::take`]) into `out`, each body owning its message so that
/// it lives as long as the body; a message that carries an error instead
/// is destroyed and its error handed to `on_error`.
pub fn take<C: ConsumerContext + 'static>(
    member: &Arc<Member<C>>,
    wait: Duration,
    max: usize,
    raw: &mut Vec<*mut rdsys::rd_kafka_message_t>,
    out: &mut Vec<Delivery>,
    mut on_error: impl FnMut(String),
) {
    raw.clear();
    member.queue.take(wait, max, raw);
    if raw.is_empty() {
        return;
    }
    let lease = Arc::new(Lease { _member: member.clone() });
    for &message in raw.iter() {
        // SAFETY: a message just handed to us by librdkafka.
        let (err, partition) = unsafe { ((*message).err, (*message).partition) };
        if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let code: RDKafkaErrorCode = err.into();
            // SAFETY: as above; destroyed once, here.
            unsafe { rdsys::rd_kafka_message_destroy(message) };
            on_error(format!("fetch error on partition {partition}: {code}"));
            continue;
        }
        let payload = Bytes::from_owner(Fetched { message, _lease: lease.clone() });
        out.push(Delivery { payload, partition: partition as u32 });
    }
}
