//! Schedules: `--nemesis partition,kill,...` and an interval become an
//! endless, seeded sequence of start/stop pairs (Jepsen's flip-flops): wait,
//! start a fault, wait, stop it, and so on. A runner stops taking steps when
//! its time is up and then heals everything.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::NemesisError;

/// The fault families `--nemesis` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    Partition,
    Kill,
    Pause,
    Clock,
    Packet,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Packet => "packet",
        }
    }

    /// The history `f` of this fault's start and stop events (Jepsen's).
    pub fn f(self, phase: Phase) -> &'static str {
        match (self, phase) {
            (FaultKind::Partition, Phase::Start) => "start-partition",
            (FaultKind::Partition, Phase::Stop) => "stop-partition",
            (FaultKind::Kill, Phase::Start) => "kill",
            (FaultKind::Kill, Phase::Stop) => "start",
            (FaultKind::Pause, Phase::Start) => "pause",
            (FaultKind::Pause, Phase::Stop) => "resume",
            (FaultKind::Clock, Phase::Start) => "bump-clock",
            (FaultKind::Clock, Phase::Stop) => "reset-clock",
            (FaultKind::Packet, Phase::Start) => "start-packet",
            (FaultKind::Packet, Phase::Stop) => "stop-packet",
        }
    }

    /// Parses `partition,kill,pause,clock,packet` (any combination, no repeats).
    pub fn parse_list(s: &str) -> Result<Vec<FaultKind>, NemesisError> {
        let list: FaultList = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        Ok(list.0)
    }
}

impl std::str::FromStr for FaultKind {
    type Err = NemesisError;
    fn from_str(s: &str) -> Result<Self, NemesisError> {
        Ok(match s.trim() {
            "partition" => FaultKind::Partition,
            "kill" => FaultKind::Kill,
            "pause" => FaultKind::Pause,
            "packet" => FaultKind::Packet,
            "clock" => FaultKind::Clock,
            other => {
                return Err(NemesisError::Invalid(format!(
                    "unknown nemesis {other:?} (partition, kill, pause, clock, packet)"
                )))
            }
        })
    }
}

/// A list of faults as the command line gives it, `kill,partition`: each at most once,
/// in the order given; empty for none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultList(pub Vec<FaultKind>);

impl std::str::FromStr for FaultList {
    type Err = NemesisError;
    fn from_str(s: &str) -> Result<Self, NemesisError> {
        FaultKind::parse_list(s).map(FaultList)
    }
}

/// Each fault once, where it first came.
impl FromIterator<FaultKind> for FaultList {
    fn from_iter<I: IntoIterator<Item = FaultKind>>(kinds: I) -> Self {
        let mut out = Vec::new();
        for k in kinds {
            if !out.contains(&k) {
                out.push(k);
            }
        }
        FaultList(out)
    }
}

impl std::fmt::Display for FaultList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|k| k.name()).collect();
        f.write_str(&names.join(","))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Start,
    Stop,
}

/// One step: after `wait`, start or stop `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleStep {
    pub wait: Duration,
    pub kind: FaultKind,
    pub phase: Phase,
}

/// An endless, deterministic (by seed) sequence of start/stop pairs; one
/// fault at a time, so every start is healed before the next fault begins.
#[derive(Debug, Clone)]
pub struct Schedule {
    kinds: Vec<FaultKind>,
    interval: Duration,
    rng: ChaCha8Rng,
    active: Option<FaultKind>,
}

impl Schedule {
    pub fn new(kinds: Vec<FaultKind>, interval: Duration, seed: u64) -> Result<Self, NemesisError> {
        if interval.is_zero() || interval > Duration::from_secs(24 * 3600) {
            return Err(NemesisError::Invalid(
                "nemesis interval must be between 0 and 86400 seconds".into(),
            ));
        }
        Ok(Schedule {
            kinds,
            interval,
            rng: ChaCha8Rng::seed_from_u64(seed),
            active: None,
        })
    }

    /// The fault started last and not yet stopped.
    pub fn active(&self) -> Option<FaultKind> {
        self.active
    }
}

impl Iterator for Schedule {
    type Item = ScheduleStep;

    /// `None` only when no fault is enabled.
    fn next(&mut self) -> Option<ScheduleStep> {
        if let Some(kind) = self.active.take() {
            return Some(ScheduleStep {
                wait: self.interval,
                kind,
                phase: Phase::Stop,
            });
        }
        if self.kinds.is_empty() {
            return None;
        }
        let kind = self.kinds[self.rng.random_range(0..self.kinds.len())];
        self.active = Some(kind);
        Some(ScheduleStep {
            wait: self.interval,
            kind,
            phase: Phase::Start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        assert_eq!(
            FaultKind::parse_list("partition, kill,partition").unwrap(),
            [FaultKind::Partition, FaultKind::Kill]
        );
        assert!(FaultKind::parse_list("partition,bogus").is_err());
        assert_eq!(FaultKind::parse_list("clock").unwrap(), [FaultKind::Clock]);
        assert!(FaultKind::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn pairs_alternate_and_use_every_kind() {
        let kinds = FaultKind::parse_list("partition,kill,pause,clock,packet").unwrap();
        let s = Schedule::new(kinds.clone(), Duration::from_secs(5), 7).unwrap();
        let steps: Vec<_> = s.take(200).collect();
        for pair in steps.chunks(2) {
            assert_eq!(pair[0].phase, Phase::Start);
            assert_eq!(pair[1].phase, Phase::Stop);
            assert_eq!(pair[0].kind, pair[1].kind);
            assert_eq!(pair[0].wait, Duration::from_secs(5));
        }
        for k in kinds {
            assert!(steps.iter().any(|s| s.kind == k), "{k:?} used");
        }
        let again: Vec<_> = Schedule::new(
            FaultKind::parse_list("partition,kill,pause,clock,packet").unwrap(),
            Duration::from_secs(5),
            7,
        )
        .unwrap()
        .take(200)
        .collect();
        assert_eq!(steps, again, "deterministic by seed");
        assert!(Schedule::new(vec![], Duration::ZERO, 0).is_err());
        assert!(Schedule::new(vec![], Duration::from_secs(1), 0)
            .unwrap()
            .next()
            .is_none());
    }
}
