//! The producer: one connection, one session and one sender link.
//!
//! Unsettled mode hands each message to `Sender::send_batchable`, which
//! returns as soon as the transfer is queued and gives a future for the
//! broker's disposition; those futures go back to the runner as pending
//! acks, and the runner keeps the bounded window of them. Awaiting each
//! disposition before the next send would cap throughput at one round trip
//! per message. Only `accepted` counts as acknowledged: `rejected`,
//! `released` and `modified` are failures, named in the point's errors.
//!
//! Stamps: the runner reads a batch's send time just before `send`, and
//! stamps an unsettled message's acknowledgement when its disposition
//! future resolves (fe2o3's connection task wakes it on the broker's
//! disposition); settled messages are acknowledged as `send` returns.

use super::config::Settle;
use super::link::{Conn, CLOSE_TIMEOUT};
use super::Stats;
use crate::adapter::{Ack, OutMessage, Producer};
use anyhow::anyhow;
use async_trait::async_trait;
use fe2o3_amqp::link::delivery::DeliveryFut;
use fe2o3_amqp::link::SendError;
use fe2o3_amqp::types::messaging::{Header, Message, Outcome};
use fe2o3_amqp::types::primitives::Binary;
use fe2o3_amqp::{Sendable, Sender};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Longest a send may wait for link credit before the producer gives up:
/// a broker that stops granting credit for this long is stuck, and the point
/// must fail rather than hang.
pub const CREDIT_WAIT: Duration = Duration::from_secs(30);

pub struct AmqpProducer {
    pub conn: Option<Conn>,
    pub sender: Option<Sender>,
    pub settle: Settle,
    pub durable: bool,
    /// End the link with a non-closing detach (RabbitMQ) rather than close.
    pub detach: bool,
    pub stats: Arc<Stats>,
}

fn outcome(r: Result<Outcome, SendError>, stats: &Stats) -> Result<(), String> {
    match r {
        Ok(Outcome::Accepted(_)) => Ok(()),
        Ok(Outcome::Rejected(r)) => {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            Err(match r.error {
                Some(e) => format!("rejected by the broker: {:?} {}", e.condition, e.description.unwrap_or_default()),
                None => "rejected by the broker".into(),
            })
        }
        Ok(Outcome::Released(_)) => {
            stats.released.fetch_add(1, Ordering::Relaxed);
            Err("released by the broker (not delivered)".into())
        }
        Ok(Outcome::Modified(_)) => {
            stats.modified.fetch_add(1, Ordering::Relaxed);
            Err("modified by the broker (not delivered)".into())
        }
        #[allow(unreachable_patterns)]
        Ok(other) => Err(format!("unexpected outcome {other:?}")),
        Err(e) => Err(format!("no disposition: {e}")),
    }
}

fn pending(fut: DeliveryFut<Result<Outcome, SendError>>, stats: Arc<Stats>) -> Ack {
    Ack::pending(1, async move { outcome(fut.await, &stats) })
}

#[async_trait]
impl Producer for AmqpProducer {
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
        let sender = self.sender.as_mut().ok_or_else(|| anyhow!("the sender link is closed"))?;
        for m in batch {
            let mut message = Message::builder().data(Binary::from(m.payload.to_vec()));
            if self.durable {
                message = message.header(Header { durable: true, ..Default::default() });
            }
            let sendable = Sendable::builder().message(message.build()).build();
            let fut = match tokio::time::timeout(CREDIT_WAIT, sender.send_batchable(sendable)).await {
                Ok(Ok(fut)) => fut,
                Ok(Err(e)) => return Err(anyhow!("sending on the AMQP 1.0 link: {e}")),
                Err(_) => return Err(anyhow!("the broker granted no link credit for {}s", CREDIT_WAIT.as_secs())),
            };
            match self.settle {
                // Pre-settled: there is no disposition to wait for.
                Settle::Settled => drop(fut),
                Settle::Unsettled => acks.push(pending(fut, self.stats.clone())),
            }
        }
        if self.settle == Settle::Settled {
            acks.push(Ack::done(batch.len()));
        }
        Ok(())
    }

    async fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        if let Some(sender) = self.sender.take() {
            if self.detach {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, sender.detach()).await;
            } else {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, sender.close()).await;
            }
        }
        if let Some(conn) = self.conn.take() {
            conn.close().await;
        }
        Ok(())
    }
}
