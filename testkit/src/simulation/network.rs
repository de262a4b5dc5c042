//! The network between replicas and the server: HTTP-like (a response travels back on its
//! request's connection), and faulty in the faulty phase: it drops, duplicates and holds back
//! messages, and loses those to or from a partitioned or offline replica or a server that is
//! down.

use super::world::{Action, World};

/// A frame on its way between a replica and the server, with what it answers or asks.
#[derive(Clone)]
pub(super) struct Message {
    pub(super) replica: usize,
    /// 0 for a misbehaving replica's one-off requests.
    pub(super) session: u64,
    pub(super) round: u32,
    pub(super) to_server: bool,
    pub(super) bytes: Vec<u8>,
}

impl World {
    /// Sends a message over the faulty network: it may be dropped, duplicated or held back.
    pub(super) fn transmit(&mut self, message: Message) {
        let faulty = self.faulty_phase;
        if faulty && self.rng.below(1000) < self.params.drop_per_mille {
            self.stats.dropped += 1;
            return;
        }
        let copies = if faulty && self.rng.below(1000) < self.params.duplicate_per_mille {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut latency_ms = 1 + self.rng.below(100);
            if faulty && self.rng.below(1000) < self.params.delay_per_mille {
                self.stats.delayed += 1;
                latency_ms += self.rng.below(20_000);
            }
            self.schedule(latency_ms, Action::Deliver(message.clone()));
        }
    }

    pub(super) fn deliver(&mut self, message: Message) {
        let replica = &self.replicas[message.replica];
        if replica.partitioned || !replica.online {
            self.stats.lost_to_faults += 1;
            return;
        }
        if message.to_server {
            if !self.server.up {
                self.stats.lost_to_faults += 1;
                return;
            }
            // The server takes a little while over each request; a restart meanwhile loses it.
            let processing_ms = 1 + self.rng.below(100);
            let epoch = self.server.epoch;
            self.schedule(processing_ms, Action::ServerProcess { epoch, message });
        } else if message.session != 0 {
            self.replica_receive(message);
        }
    }
}
