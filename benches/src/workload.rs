//! Two replicas' logs, generated from a seed: what they share and what each holds alone.
//!
//! The shared history is generated as keys (timestamp and a random 32-byte id) unless the caller
//! asks for real events: the hash tree, the walk and every baseline's id lists depend only on
//! the keys, and materializing 10 million events of 10 KB would not fit in memory. The
//! differences are always real, sealed events from [`tideline_testkit::generate::create_event`]:
//! their bytes are what every protocol must move, and they are counted.

use std::fmt;

use anyhow::{bail, ensure};
use tideline_protocol::event::{EventId, Hlc, VerifiedEvent};
use tideline_protocol::tree::Key;
use tideline_protocol::wire::Groups;
use tideline_testkit::generate::{create_event, Rng};

/// The newest timestamp any generated event may have: 2026-09-21, in the past, so a server that
/// refuses events from the future accepts all of them.
pub const END_MS: u64 = 1_790_000_000_000;

/// One day in milliseconds.
pub const DAY_MS: u64 = 24 * 3600 * 1000;

/// The history `uniform`, `recent` and `groups` spread their events over.
pub const HISTORY_DAYS: u64 = 30;

/// The longer history of `week`: the last [`OFFLINE_DAYS`] of it are the differences.
pub const WEEK_HISTORY_DAYS: u64 = 90;

/// How long the client of `week` was offline.
pub const OFFLINE_DAYS: u64 = 7;

/// The user every generated event is written by, unless a token names another.
pub const CREATOR_DEFAULT: &str = "bench";

/// Where the differences fall in time, and over how many groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pattern {
    /// Differences scattered uniformly over the whole 30-day history.
    Uniform,
    /// Differences in the newest 1% of the 30-day history; shared events everywhere.
    Recent,
    /// A client offline for a week: the shared history is the first 83 of 90 days, and both
    /// sides' differences are the last 7 days.
    Week,
    /// Many groups of Zipf-distributed sizes, differences scattered uniformly.
    Groups,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pattern::Uniform => "uniform",
            Pattern::Recent => "recent",
            Pattern::Week => "week",
            Pattern::Groups => "groups",
        })
    }
}

/// Which side holds the differences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// Half on each side (the initiator holds `d / 2`, the responder the rest).
    Even,
    /// All on the initiator (the client): it has `d` events the responder lacks.
    Initiator,
    /// All on the responder (the server): the initiator lacks `d` of its events.
    Responder,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Even => "even",
            Split::Initiator => "initiator",
            Split::Responder => "responder",
        })
    }
}

/// Everything that decides two replicas' logs.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Where the differences fall.
    pub pattern: Pattern,
    /// Events on the side that holds the most: `n`.
    pub events_per_side: usize,
    /// Events only one side holds, over both sides: `d`.
    pub differences: usize,
    /// Which side holds them.
    pub split: Split,
    /// Bytes of the text field of each event (the encoded event is about 76 bytes more).
    pub payload_bytes: usize,
    /// Groups of the `groups` pattern; the other patterns use one.
    pub groups: usize,
    /// Exponent of the Zipf law of group sizes (rank `k` has weight `1 / k^s`).
    pub zipf_exponent: f64,
    /// The seed: the same workload and seed give the same events, byte for byte.
    pub seed: u64,
}

impl Workload {
    /// Differences held by the initiator and by the responder.
    pub fn differences_by_side(&self) -> (usize, usize) {
        let d = self.differences;
        match self.split {
            Split::Even => (d / 2, d - d / 2),
            Split::Initiator => (d, 0),
            Split::Responder => (0, d),
        }
    }

    /// Events both sides hold.
    pub fn common_len(&self) -> usize {
        let (initiator, responder) = self.differences_by_side();
        self.events_per_side - initiator.max(responder)
    }

    /// Groups this workload spreads its events over.
    pub fn groups_len(&self) -> usize {
        match self.pattern {
            Pattern::Groups => self.groups,
            _ => 1,
        }
    }

    /// Refuses workloads that make no sense or break a protocol limit.
    pub fn check(&self) -> anyhow::Result<()> {
        let (initiator, responder) = self.differences_by_side();
        ensure!(
            initiator.max(responder) <= self.events_per_side,
            "d = {} puts {} differences on one side, more than its n = {} events; lower d or raise n",
            self.differences,
            initiator.max(responder),
            self.events_per_side
        );
        ensure!(
            (1..=tideline_protocol::limits::GROUPS_PER_SESSION_MAX).contains(&self.groups_len()),
            "groups must be between 1 and {}",
            tideline_protocol::limits::GROUPS_PER_SESSION_MAX
        );
        ensure!(
            self.payload_bytes <= 200 * 1024,
            "payload of {} bytes: an event must stay under the protocol's {} bytes",
            self.payload_bytes,
            tideline_protocol::limits::EVENT_BYTES_MAX
        );
        Ok(())
    }

    /// A short label: `uniform n=1000000 d=1000 even 50B`.
    pub fn label(&self) -> String {
        let mut label = format!(
            "{} n={} d={} {} {}B",
            self.pattern, self.events_per_side, self.differences, self.split, self.payload_bytes
        );
        if self.pattern == Pattern::Groups {
            label.push_str(&format!(" G={}", self.groups));
        }
        label
    }
}

/// The two logs.
pub struct Generated {
    /// The session's groups.
    pub groups: Groups,
    /// Keys of the events both hold, with their group's index.
    pub common: Vec<(u32, Key)>,
    /// The events both hold, when they were asked for as real events (same order as `common`).
    pub common_events: Option<Vec<VerifiedEvent>>,
    /// Events only the initiator holds.
    pub only_initiator: Vec<VerifiedEvent>,
    /// Events only the responder holds.
    pub only_responder: Vec<VerifiedEvent>,
}

impl Generated {
    /// Bytes of the events that must move, both ways, as encoded events.
    pub fn missing_event_bytes(&self) -> u64 {
        self.only_initiator
            .iter()
            .chain(&self.only_responder)
            .map(|event| event.bytes().len() as u64)
            .sum()
    }

    /// How many events must move.
    pub fn differences(&self) -> usize {
        self.only_initiator.len() + self.only_responder.len()
    }
}

/// Samples ranks `0..len` with probability proportional to `1 / (rank + 1)^exponent`.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// The law over `len` ranks.
    pub fn new(len: usize, exponent: f64) -> Zipf {
        assert!(len > 0);
        let mut total = 0.0;
        let cumulative = (1..=len)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(exponent);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().expect("at least one rank");
        let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let target = unit * total;
        self.cumulative
            .partition_point(|&cumulative| cumulative <= target)
            .min(self.cumulative.len() - 1)
    }
}

/// Draws timestamps and groups for one pattern.
struct Placer<'a> {
    pattern: Pattern,
    zipf: Option<&'a Zipf>,
}

impl Placer<'_> {
    fn wall_ms(&self, rng: &mut Rng, difference: bool) -> u64 {
        let uniform =
            |rng: &mut Rng, from_ms: u64, to_ms: u64| from_ms + rng.below(to_ms - from_ms);
        let history_start = END_MS - HISTORY_DAYS * DAY_MS;
        match (self.pattern, difference) {
            (Pattern::Uniform | Pattern::Groups, _) | (Pattern::Recent, false) => {
                uniform(rng, history_start, END_MS)
            }
            (Pattern::Recent, true) => uniform(rng, END_MS - HISTORY_DAYS * DAY_MS / 100, END_MS),
            (Pattern::Week, false) => uniform(
                rng,
                END_MS - WEEK_HISTORY_DAYS * DAY_MS,
                END_MS - OFFLINE_DAYS * DAY_MS,
            ),
            (Pattern::Week, true) => uniform(rng, END_MS - OFFLINE_DAYS * DAY_MS, END_MS),
        }
    }

    fn group(&self, rng: &mut Rng) -> u32 {
        self.zipf.map_or(0, |zipf| zipf.sample(rng) as u32)
    }
}

/// Group names: `g` alone, or `g00000` … for many, so their sorted order is their rank order.
pub fn group_names(len: usize) -> Vec<String> {
    if len == 1 {
        return vec!["g".to_owned()];
    }
    let width = (len - 1).to_string().len();
    (0..len).map(|index| format!("g{index:0width$}")).collect()
}

/// Generates both logs. `names` overrides the group names (their count must be the workload's);
/// `materialize_common` makes the shared history real events too (needed to push it to a
/// server); `creator` is the user who writes every event.
pub fn generate(
    workload: &Workload,
    names: Option<&[String]>,
    materialize_common: bool,
    creator: &str,
) -> anyhow::Result<Generated> {
    workload.check()?;
    let names: Vec<String> = match names {
        Some(names) => names.to_vec(),
        None => group_names(workload.groups_len()),
    };
    if names.len() != workload.groups_len() {
        bail!(
            "{} group names for a workload of {} groups",
            names.len(),
            workload.groups_len()
        );
    }
    let groups = Groups::new(names.iter().cloned())?;
    // Rank order is the order given; map each rank to its index in the sorted session list.
    let index_of_rank: Vec<u32> = names
        .iter()
        .map(|name| groups.index_of(name).expect("every name is in the list"))
        .collect();
    let zipf = (workload.groups_len() > 1)
        .then(|| Zipf::new(workload.groups_len(), workload.zipf_exponent));
    let placer = Placer {
        pattern: workload.pattern,
        zipf: zipf.as_ref(),
    };

    // Separate streams, so that the shared history does not change with d.
    let mut rng_common = Rng::new(workload.seed ^ 0x636F_6D6D_6F6E_0001);
    let mut rng_differences = Rng::new(workload.seed ^ 0x6469_6666_0000_0002);

    let common_len = workload.common_len();
    let mut common = Vec::with_capacity(common_len);
    let mut common_events = materialize_common.then(|| Vec::with_capacity(common_len));
    for _ in 0..common_len {
        let wall_ms = placer.wall_ms(&mut rng_common, false);
        let group = index_of_rank[placer.group(&mut rng_common) as usize];
        match common_events.as_mut() {
            Some(events) => {
                let name = groups.name(group).expect("index from the list");
                let event = create_event(
                    &mut rng_common,
                    name,
                    wall_ms,
                    creator,
                    workload.payload_bytes,
                );
                common.push((group, Key::of(&event)));
                events.push(event);
            }
            None => {
                let timestamp = Hlc {
                    wall_ms,
                    counter: rng_common.below(4) as u32,
                };
                common.push((group, Key::new(timestamp, EventId(rng_common.bytes()))));
            }
        }
    }

    let (initiator_len, responder_len) = workload.differences_by_side();
    let mut differences = |len: usize| -> Vec<VerifiedEvent> {
        (0..len)
            .map(|_| {
                let wall_ms = placer.wall_ms(&mut rng_differences, true);
                let group = index_of_rank[placer.group(&mut rng_differences) as usize];
                let name = groups.name(group).expect("index from the list");
                create_event(
                    &mut rng_differences,
                    name,
                    wall_ms,
                    creator,
                    workload.payload_bytes,
                )
            })
            .collect()
    };
    let only_initiator = differences(initiator_len);
    let only_responder = differences(responder_len);

    Ok(Generated {
        groups,
        common,
        common_events,
        only_initiator,
        only_responder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(pattern: Pattern, split: Split) -> Workload {
        Workload {
            pattern,
            events_per_side: 2_000,
            differences: 101,
            split,
            payload_bytes: 50,
            groups: 20,
            zipf_exponent: 1.0,
            seed: 9,
        }
    }

    /// Guards the sizes every figure is computed from: each side holds what the workload says,
    /// and the same seed gives the same events.
    #[test]
    fn sides_have_the_sizes_asked_for_and_repeat() {
        for split in [Split::Even, Split::Initiator, Split::Responder] {
            let workload = workload(Pattern::Uniform, split);
            let generated = generate(&workload, None, false, CREATOR_DEFAULT).unwrap();
            let (initiator, responder) = workload.differences_by_side();
            assert_eq!(generated.only_initiator.len(), initiator);
            assert_eq!(generated.only_responder.len(), responder);
            assert_eq!(
                generated.common.len() + initiator.max(responder),
                workload.events_per_side
            );
            let again = generate(&workload, None, false, CREATOR_DEFAULT).unwrap();
            assert_eq!(again.common, generated.common);
            assert_eq!(again.only_responder, generated.only_responder);
        }
    }

    /// Guards the patterns' meaning: `week` differences are all newer than the shared history,
    /// `recent` differences lie in the newest 1%.
    #[test]
    fn differences_fall_where_the_pattern_says() {
        let week = generate(
            &workload(Pattern::Week, Split::Even),
            None,
            false,
            CREATOR_DEFAULT,
        )
        .unwrap();
        let newest_common = week.common.iter().map(|(_, key)| *key).max().unwrap();
        assert!(week
            .only_initiator
            .iter()
            .chain(&week.only_responder)
            .all(|event| Key::of(event) > newest_common));
        let recent = generate(
            &workload(Pattern::Recent, Split::Even),
            None,
            false,
            CREATOR_DEFAULT,
        )
        .unwrap();
        let window_start = END_MS - HISTORY_DAYS * DAY_MS / 100;
        assert!(recent
            .only_initiator
            .iter()
            .chain(&recent.only_responder)
            .all(|event| event.event().timestamp.wall_ms >= window_start));
    }

    /// Guards the `groups` pattern: sizes are skewed, the first rank the largest.
    #[test]
    fn zipf_groups_are_skewed() {
        let generated = generate(
            &workload(Pattern::Groups, Split::Even),
            None,
            false,
            CREATOR_DEFAULT,
        )
        .unwrap();
        let mut sizes = vec![0usize; 20];
        for (group, _) in &generated.common {
            sizes[*group as usize] += 1;
        }
        // Zipf with s = 1 over 20 ranks gives rank 1 about 28% and rank 20 about 1.4%.
        assert!(sizes[0] > 400, "{sizes:?}");
        assert!(sizes[19] < 100, "{sizes:?}");
    }
}
