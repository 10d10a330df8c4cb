//! Clock faults as rewrites of the offset file that `faultline-agent clock-launch`
//! reads on each node: bump (a step of ±N ms), strobe (flip back and forth
//! for a while), reset (remove the file). The machine's clock is never
//! touched; only processes started under the launcher see the offset.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, RngCore};
use serde_json::json;

use crate::fault::{Fault, NemesisContext, Started};
use crate::plan::Plan;
use crate::process::{select, Target};
use crate::NemesisError;

/// Where the launcher's offset file lives on a node unless told otherwise.
pub const DEFAULT_OFFSET_FILE: &str = "/opt/faultline/clock-offset";
/// Largest step: an hour (etcd warns about peer skew above 1 s already).
const MAX_DELTA_MS: i64 = 3_600_000;
const MAX_STROBE: Duration = Duration::from_secs(60);
const MAX_FLIPS: u64 = 10_000;

/// Adds `$2` nanoseconds to the offset in `$1` (missing = 0); the file is
/// replaced by rename so that the supervisor never reads half a number.
const BUMP: &str = r#"f="$1"; mkdir -p "$(dirname "$f")" || exit 1
old=$(cat "$f" 2>/dev/null || echo 0)
printf '%s\n' "$((old + $2))" > "$f.tmp" && mv -f "$f.tmp" "$f""#;

/// Flips the offset in `$1` between its value and value + `$2` ns every `$3`
/// seconds, `$4` times, then restores it.
const STROBE: &str = r#"f="$1"; mkdir -p "$(dirname "$f")" || exit 1
old=$(cat "$f" 2>/dev/null || echo 0)
w() { printf '%s\n' "$1" > "$f.tmp" && mv -f "$f.tmp" "$f"; }
i=0
while [ "$i" -lt "$4" ]; do
  w "$((old + $2))" || exit 1; sleep "$3"; w "$old" || exit 1; sleep "$3"; i=$((i+1))
done
w "$old""#;

/// One clock action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockAction {
    /// Step by this many ms (negative: back); `None` = random (Jepsen-like,
    /// ±2^k ms, k in 2..=16: 4 ms to about a minute).
    Bump { delta_ms: Option<i64> },
    /// Flip by `delta_ms` every `period` for `duration`.
    Strobe {
        delta_ms: i64,
        period: Duration,
        duration: Duration,
    },
    /// Back to the real time.
    Reset,
}

/// Clock faults on targeted nodes.
#[derive(Debug, Clone)]
pub struct ClockFault {
    pub action: ClockAction,
    pub target: Target,
    pub offset_file: String,
}

/// The plan that removes the offset file on every node.
pub fn reset_plan(ctx: &NemesisContext, offset_file: &str) -> Plan {
    let mut plan = Plan::new();
    for n in &ctx.nodes {
        plan.exec(&n.name, ["rm", "-f", offset_file]);
    }
    plan
}

fn check_delta(ms: i64) -> Result<(), NemesisError> {
    if ms == 0 || ms.abs() > MAX_DELTA_MS {
        return Err(NemesisError::Invalid(format!(
            "clock delta {ms} ms: must be non-zero and at most {MAX_DELTA_MS} ms either way"
        )));
    }
    Ok(())
}

impl Fault for ClockFault {
    fn start_f(&self) -> &'static str {
        match self.action {
            ClockAction::Bump { .. } => "bump-clock",
            ClockAction::Strobe { .. } => "strobe-clock",
            ClockAction::Reset => "reset-clock",
        }
    }
    fn stop_f(&self) -> &'static str {
        "reset-clock"
    }
    fn start(&self, ctx: &NemesisContext, rng: &mut dyn RngCore) -> Result<Started, NemesisError> {
        if !self.offset_file.starts_with('/') {
            return Err(NemesisError::Invalid(format!(
                "offset file {:?} must be an absolute path",
                self.offset_file
            )));
        }
        let nodes = select(&self.target, ctx, rng)?;
        let mut plan = Plan::new();
        let mut deltas = BTreeMap::new();
        let value = match &self.action {
            ClockAction::Bump { delta_ms } => {
                for n in &nodes {
                    let d = match delta_ms {
                        Some(d) => *d,
                        None => {
                            let sign = if rng.random_bool(0.5) { 1 } else { -1 };
                            sign * (1i64 << rng.random_range(2..=16))
                        }
                    };
                    check_delta(d)?;
                    let ns = (d * 1_000_000).to_string();
                    plan.exec(n, ["sh", "-c", BUMP, "sh", &self.offset_file, &ns]);
                    deltas.insert(n.clone(), d);
                }
                json!({ "bump-ms": deltas })
            }
            ClockAction::Strobe {
                delta_ms,
                period,
                duration,
            } => {
                check_delta(*delta_ms)?;
                if period.is_zero() || *duration > MAX_STROBE || period > duration {
                    return Err(NemesisError::Invalid(format!(
                        "strobe: period must be positive and at most the duration, duration at most {MAX_STROBE:?}"
                    )));
                }
                let flips = (duration.as_millis() / (2 * period.as_millis()).max(1)) as u64;
                let flips = flips.clamp(1, MAX_FLIPS).to_string();
                let ns = (delta_ms * 1_000_000).to_string();
                let secs = format!("{:.3}", period.as_secs_f64());
                for n in &nodes {
                    plan.exec(
                        n,
                        [
                            "sh",
                            "-c",
                            STROBE,
                            "sh",
                            &self.offset_file,
                            &ns,
                            &secs,
                            &flips,
                        ],
                    );
                }
                json!({ "strobe": { "nodes": nodes, "delta-ms": delta_ms,
                        "period-ms": period.as_millis() as u64,
                        "duration-ms": duration.as_millis() as u64 } })
            }
            ClockAction::Reset => {
                for n in &nodes {
                    plan.exec(n, ["rm", "-f", &self.offset_file]);
                }
                json!({ "reset": nodes })
            }
        };
        Ok(Started { plan, value, nodes })
    }
    fn heal(&self, ctx: &NemesisContext, _started: Option<&Started>) -> Plan {
        reset_plan(ctx, &self.offset_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::NodeInfo;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ctx() -> NemesisContext {
        NemesisContext {
            nodes: (1..=3)
                .map(|i| NodeInfo::new(format!("n{i}"), format!("10.0.0.{i}")))
                .collect(),
            ..NemesisContext::default()
        }
    }

    fn fault(action: ClockAction) -> ClockFault {
        ClockFault {
            action,
            target: Target::All,
            offset_file: DEFAULT_OFFSET_FILE.into(),
        }
    }

    #[test]
    fn bump_writes_nanoseconds_and_records_offsets() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = fault(ClockAction::Bump {
            delta_ms: Some(-1500),
        })
        .start(&ctx(), &mut rng)
        .unwrap();
        let c = s.plan.commands_for("n2");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last().unwrap(), "-1500000000");
        assert_eq!(s.value["bump-ms"]["n2"], json!(-1500));
        for _ in 0..50 {
            let s = fault(ClockAction::Bump { delta_ms: None })
                .start(&ctx(), &mut rng)
                .unwrap();
            for d in s.value["bump-ms"].as_object().unwrap().values() {
                let d = d.as_i64().unwrap();
                assert!((4..=65536).contains(&d.abs()), "{d}");
            }
        }
    }

    #[test]
    fn bad_clock_requests_are_refused() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(fault(ClockAction::Bump { delta_ms: Some(0) })
            .start(&ctx(), &mut rng)
            .is_err());
        let strobe = |p, d| ClockAction::Strobe {
            delta_ms: 100,
            period: Duration::from_millis(p),
            duration: Duration::from_secs(d),
        };
        assert!(fault(strobe(0, 1)).start(&ctx(), &mut rng).is_err());
        assert!(fault(strobe(10, 3600)).start(&ctx(), &mut rng).is_err());
        let s = fault(strobe(100, 2)).start(&ctx(), &mut rng).unwrap();
        assert_eq!(s.plan.commands_for("n1")[0].last().unwrap(), "10");
        let mut f = fault(ClockAction::Reset);
        f.offset_file = "relative".into();
        assert!(f.start(&ctx(), &mut rng).is_err());
    }

    #[test]
    fn heal_removes_the_offset_file_everywhere() {
        let h = fault(ClockAction::Reset).heal(&ctx(), None);
        assert_eq!(h.steps.len(), 3);
        assert_eq!(
            h.commands_for("n3")[0].join(" "),
            format!("rm -f {DEFAULT_OFFSET_FILE}")
        );
    }
}
