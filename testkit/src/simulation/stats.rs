//! The figures of a run: how much happened, and how many faults, refusals and attacks, so that
//! a test can tell a run that exercised something from one where nothing went wrong.

use std::fmt;

/// Figures of one or more runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Runs added together.
    pub runs: u64,
    /// Replicas simulated.
    pub replicas: u64,
    /// Events written by replicas, misbehaving ones' legitimate events included.
    pub events_written: u64,
    /// Distinct events the server acknowledged.
    pub events_acknowledged: u64,
    /// Sessions started.
    pub sessions: u64,
    /// Sessions that ran to the end.
    pub sessions_completed: u64,
    /// Sessions that failed (error frame, timeout, refused response) or were cut off.
    pub sessions_failed: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests sent again after a timeout.
    pub retries: u64,
    /// Responses a replica ignored because they answered a request it had moved past.
    pub responses_stale: u64,
    /// Messages the network dropped.
    pub dropped: u64,
    /// Messages it delivered twice.
    pub duplicated: u64,
    /// Messages it held back, reordering them.
    pub delayed: u64,
    /// Messages lost to a partition, an offline replica or a server that was down.
    pub lost_to_faults: u64,
    /// Partitions.
    pub partitions: u64,
    /// Offline stretches.
    pub offline_periods: u64,
    /// Server restarts.
    pub restarts: u64,
    /// Requests a restart dropped while the server was handling them or syncing their events.
    pub requests_lost_to_restart: u64,
    /// Written events a restart lost before they were synced (and so before any response
    /// acknowledged them).
    pub writes_lost_to_restart: u64,
    /// Replicas with a clock more than [`MAX_SKEW_MS`](tideline_protocol::sync::MAX_SKEW_MS) ahead.
    pub clocks_fast: u64,
    /// Requests the server refused with `timestamp_in_future`.
    pub refused_timestamp: u64,
    /// Requests refused with `forged_creator`.
    pub refused_creator: u64,
    /// Requests refused with `group_forbidden`.
    pub refused_group: u64,
    /// Requests refused with another code.
    pub refused_other: u64,
    /// Forged-creator events a misbehaving replica sent.
    pub attacks_creator: u64,
    /// Events of a group outside its token a misbehaving replica sent.
    pub attacks_group: u64,
    /// Full sync rounds in the heal phase.
    pub heal_rounds: u64,
    /// Simulated milliseconds.
    pub simulated_ms: u64,
}

impl Stats {
    /// Adds another run's figures to these.
    pub fn add(&mut self, other: &Stats) {
        let Stats {
            runs,
            replicas,
            events_written,
            events_acknowledged,
            sessions,
            sessions_completed,
            sessions_failed,
            requests,
            retries,
            responses_stale,
            dropped,
            duplicated,
            delayed,
            lost_to_faults,
            partitions,
            offline_periods,
            restarts,
            requests_lost_to_restart,
            writes_lost_to_restart,
            clocks_fast,
            refused_timestamp,
            refused_creator,
            refused_group,
            refused_other,
            attacks_creator,
            attacks_group,
            heal_rounds,
            simulated_ms,
        } = other;
        self.runs += runs;
        self.replicas += replicas;
        self.events_written += events_written;
        self.events_acknowledged += events_acknowledged;
        self.sessions += sessions;
        self.sessions_completed += sessions_completed;
        self.sessions_failed += sessions_failed;
        self.requests += requests;
        self.retries += retries;
        self.responses_stale += responses_stale;
        self.dropped += dropped;
        self.duplicated += duplicated;
        self.delayed += delayed;
        self.lost_to_faults += lost_to_faults;
        self.partitions += partitions;
        self.offline_periods += offline_periods;
        self.restarts += restarts;
        self.requests_lost_to_restart += requests_lost_to_restart;
        self.writes_lost_to_restart += writes_lost_to_restart;
        self.clocks_fast += clocks_fast;
        self.refused_timestamp += refused_timestamp;
        self.refused_creator += refused_creator;
        self.refused_group += refused_group;
        self.refused_other += refused_other;
        self.attacks_creator += attacks_creator;
        self.attacks_group += attacks_group;
        self.heal_rounds += heal_rounds;
        self.simulated_ms += simulated_ms;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "runs={} replicas={} events_written={} events_acknowledged={} sessions={} \
             (completed={} failed={}) requests={} retries={} responses_stale={} | faults: \
             dropped={} duplicated={} delayed={} lost_to_faults={} partitions={} \
             offline_periods={} restarts={} requests_lost_to_restart={} writes_lost_to_restart={} \
             clocks_fast={} | \
             refused: timestamp_in_future={} forged_creator={} group_forbidden={} other={} | \
             attacks: creator={} group={} | heal_rounds={} simulated_hours={}",
            self.runs,
            self.replicas,
            self.events_written,
            self.events_acknowledged,
            self.sessions,
            self.sessions_completed,
            self.sessions_failed,
            self.requests,
            self.retries,
            self.responses_stale,
            self.dropped,
            self.duplicated,
            self.delayed,
            self.lost_to_faults,
            self.partitions,
            self.offline_periods,
            self.restarts,
            self.requests_lost_to_restart,
            self.writes_lost_to_restart,
            self.clocks_fast,
            self.refused_timestamp,
            self.refused_creator,
            self.refused_group,
            self.refused_other,
            self.attacks_creator,
            self.attacks_group,
            self.heal_rounds,
            self.simulated_ms / 3_600_000,
        )
    }
}
