//! Packet faults: loss, rate limit, delay, duplication, reordering,
//! corruption. With `tc netem` when the node's kernel has it; otherwise the
//! fallbacks the kernel does have — random loss with iptables `statistic`,
//! rate with `tbf` — and a clear [`NemesisError::Unavailable`] for the rest.
//! Never silently nothing.

use rand::RngCore;
use serde_json::json;

use crate::fault::{Fault, NemesisContext, Started};
use crate::net::{remove_chain, setup_chain};
use crate::plan::{Executor, Plan};
use crate::process::{select, Target};
use crate::NemesisError;

/// The chain holding random-loss rules (apart from partitions, so that a
/// partition heal does not end a packet fault and vice versa).
pub const CHAIN: &str = "FAULTLINE-PKT";
/// The handle of our root qdiscs: heal deletes only root qdiscs with it.
pub const QDISC_HANDLE: &str = "fa17:";
const PROBE_HANDLE: &str = "fa18:";
/// The NFQUEUE our delay rules feed, and the delayer's pidfile on a node.
pub const NFQUEUE_NUM: &str = "4217";
pub const DELAYER_PIDFILE: &str = "/run/faultline-nfqueue-delay.pid";

/// Stops the delayer by pidfile, if one runs (name-checked, so a recycled
/// PID is never signalled), then removes the pidfile.
const STOP_DELAYER: &str = r#"if [ -f "$1" ]; then
  start-stop-daemon --stop --pidfile "$1" --name faultline-agent --oknodo --retry TERM/5/KILL/2 || exit 1
  rm -f "$1"
fi"#;

/// Sets a root qdisc with our handle on every interface but lo; the qdisc
/// and its parameters are positional arguments.
const APPLY_QDISC: &str = r#"for d in $(ls /sys/class/net); do
  [ "$d" = lo ] && continue
  tc qdisc replace dev "$d" root handle "$0" "$@" || exit 1
done"#;

/// Deletes root qdiscs carrying our handle ($1), and only those.
const REMOVE_QDISC: &str = r#"for d in $(ls /sys/class/net); do
  if tc qdisc show dev "$d" root 2>/dev/null | grep -q " $1 "; then
    tc qdisc del dev "$d" root || exit 1
  fi
done"#;

/// One packet behaviour; percentages are 0..=100.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "behavior", rename_all = "lowercase")]
pub enum Behavior {
    Loss { percent: f64 },
    Rate { kbit: u32 },
    Delay { ms: u32, jitter_ms: u32 },
    Duplicate { percent: f64 },
    Reorder { percent: f64 },
    Corrupt { percent: f64 },
}

impl Behavior {
    fn name(&self) -> &'static str {
        match self {
            Behavior::Loss { .. } => "loss",
            Behavior::Rate { .. } => "rate",
            Behavior::Delay { .. } => "delay",
            Behavior::Duplicate { .. } => "duplicate",
            Behavior::Reorder { .. } => "reorder",
            Behavior::Corrupt { .. } => "corrupt",
        }
    }

    fn validate(&self) -> Result<(), NemesisError> {
        let pct = |p: f64| {
            if (0.0..=100.0).contains(&p) {
                Ok(())
            } else {
                Err(NemesisError::Invalid(format!(
                    "{}: percentage {p} not in 0..=100",
                    self.name()
                )))
            }
        };
        match self {
            Behavior::Loss { percent }
            | Behavior::Duplicate { percent }
            | Behavior::Reorder { percent }
            | Behavior::Corrupt { percent } => pct(*percent),
            Behavior::Rate { kbit } if *kbit == 0 => {
                Err(NemesisError::Invalid("rate: 0 kbit".into()))
            }
            Behavior::Delay { ms, jitter_ms } if *ms > 60_000 || *jitter_ms > *ms => Err(
                NemesisError::Invalid("delay: at most 60000 ms, jitter at most the delay".into()),
            ),
            _ => Ok(()),
        }
    }

    /// Jepsen's defaults.
    pub fn default_for(name: &str) -> Result<Behavior, NemesisError> {
        Ok(match name {
            "loss" => Behavior::Loss { percent: 20.0 },
            "rate" => Behavior::Rate { kbit: 1000 },
            "delay" => Behavior::Delay {
                ms: 50,
                jitter_ms: 10,
            },
            "duplicate" => Behavior::Duplicate { percent: 20.0 },
            "reorder" => Behavior::Reorder { percent: 20.0 },
            "corrupt" => Behavior::Corrupt { percent: 20.0 },
            other => {
                return Err(NemesisError::Invalid(format!(
                    "unknown packet behaviour {other:?} (loss, rate, delay, duplicate, reorder, corrupt)"
                )))
            }
        })
    }
}

impl std::str::FromStr for Behavior {
    type Err = NemesisError;
    /// A behaviour by name, with Jepsen's defaults.
    fn from_str(s: &str) -> Result<Self, NemesisError> {
        Behavior::default_for(s.trim())
    }
}

impl std::fmt::Display for Behavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `tc netem` works on `node`: adds a netem qdisc to its loopback
/// under a probe handle and removes it again.
pub fn probe_netem(ex: &dyn Executor, node: &str) -> Result<bool, NemesisError> {
    let add: Vec<String> = [
        "tc",
        "qdisc",
        "add",
        "dev",
        "lo",
        "root",
        "handle",
        PROBE_HANDLE,
        "netem",
        "delay",
        "0ms",
    ]
    .map(String::from)
    .to_vec();
    let out = ex.exec(node, &add).map_err(|e| NemesisError::Plan {
        what: "netem probe".into(),
        count: 1,
        failures: format!("  {node}: {e}"),
    })?;
    if !out.success {
        tracing::info!(node, stderr = %out.stderr.trim(), "tc netem unavailable");
        return Ok(false);
    }
    let del: Vec<String> = ["tc", "qdisc", "del", "dev", "lo", "root"]
        .map(String::from)
        .to_vec();
    // Best effort: an undeleted probe on lo holds no traffic back (0 ms).
    let _ = ex.exec(node, &del);
    Ok(true)
}

/// Packet faults on targeted nodes: all their traffic (tc) or all traffic
/// they receive from other nodes (iptables loss).
#[derive(Debug, Clone)]
pub struct PacketFault {
    pub target: Target,
    pub behaviors: Vec<Behavior>,
    /// The faultline binary on the nodes (`db setup --clock` installs it at
    /// /opt/faultline/faultline-agent): without netem, delay runs through its
    /// `nfqueue-delay`. None: delay is unavailable without netem.
    pub delayer: Option<String>,
}

impl PacketFault {
    /// The plan for `nodes`, given whether netem is available.
    pub fn plan(&self, ctx: &NemesisContext, nodes: &[String]) -> Result<Plan, NemesisError> {
        if self.behaviors.is_empty() {
            return Err(NemesisError::Invalid("no packet behaviour given".into()));
        }
        for b in &self.behaviors {
            b.validate()?;
        }
        let mut plan = self.heal(ctx, None);
        if ctx.netem {
            let args = self.netem_args();
            for n in nodes {
                let mut argv = vec!["sh".to_string(), "-c".into(), APPLY_QDISC.into()];
                argv.push(QDISC_HANDLE.into());
                argv.extend(args.iter().cloned());
                plan.exec(n, argv);
            }
            return Ok(plan);
        }
        self.refuse_without_netem()?;
        for n in nodes {
            for b in &self.behaviors {
                match b {
                    Behavior::Loss { percent } => drop_from_peers(&mut plan, ctx, n, *percent),
                    Behavior::Delay { ms, jitter_ms } => {
                        let Some(delayer) = &self.delayer else {
                            continue; // refused above
                        };
                        delay_from_peers(&mut plan, ctx, n, delayer, *ms, *jitter_ms);
                    }
                    Behavior::Rate { kbit } => {
                        let rate = format!("{kbit}kbit");
                        plan.exec(
                            n,
                            [
                                "sh",
                                "-c",
                                APPLY_QDISC,
                                QDISC_HANDLE,
                                "tbf",
                                "rate",
                                &rate,
                                "burst",
                                "32kbit",
                                "latency",
                                "400ms",
                            ],
                        );
                    }
                    _ => {}
                }
            }
        }
        Ok(plan)
    }

    /// `tc qdisc ... netem` arguments for every behaviour at once.
    fn netem_args(&self) -> Vec<String> {
        let mut args = vec!["netem".to_string()];
        let mut has_delay = false;
        for b in &self.behaviors {
            match b {
                Behavior::Delay { ms, jitter_ms } => {
                    has_delay = true;
                    args.extend(["delay".into(), format!("{ms}ms"), format!("{jitter_ms}ms")]);
                }
                Behavior::Loss { percent } => args.extend(["loss".into(), format!("{percent}%")]),
                Behavior::Duplicate { percent } => {
                    args.extend(["duplicate".into(), format!("{percent}%")])
                }
                Behavior::Reorder { percent } => {
                    args.extend(["reorder".into(), format!("{percent}%")])
                }
                Behavior::Corrupt { percent } => {
                    args.extend(["corrupt".into(), format!("{percent}%")])
                }
                Behavior::Rate { kbit } => args.extend(["rate".into(), format!("{kbit}kbit")]),
            }
        }
        // netem reorders only delayed packets: add Jepsen's default delay.
        if !has_delay && self.behaviors.iter().any(|b| b.name() == "reorder") {
            args.extend(["delay".into(), "50ms".into(), "10ms".into()]);
        }
        args
    }

    /// Without netem only loss, rate and (with the agent on the nodes) delay work: any
    /// other behaviour asked for is refused, naming it, rather than silently skipped.
    fn refuse_without_netem(&self) -> Result<(), NemesisError> {
        let missing: Vec<&str> = self
            .behaviors
            .iter()
            .filter(|b| match b {
                Behavior::Loss { .. } | Behavior::Rate { .. } => false,
                Behavior::Delay { .. } => self.delayer.is_none(),
                _ => true,
            })
            .map(Behavior::name)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(NemesisError::Unavailable {
            fault: format!("packet {}", missing.join(", ")),
            reason: "tc netem is not available in this kernel (no sch_netem); without it \
                     only loss (iptables statistic), rate (tbf) and, given the faultline-agent \
                     binary on the nodes, delay (NFQUEUE) work here"
                .into(),
        })
    }
}

/// Drops `percent` of the packets from every other node (iptables statistic).
fn drop_from_peers(plan: &mut Plan, ctx: &NemesisContext, n: &str, percent: f64) {
    setup_chain(plan, n, CHAIN);
    let p = format!("{:.6}", percent / 100.0);
    for peer in ctx.nodes.iter().filter(|p| p.name != n) {
        plan.exec(
            n,
            [
                "iptables",
                "-w",
                "-A",
                CHAIN,
                "-s",
                &peer.addr,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &p,
                "-j",
                "DROP",
            ],
        );
    }
}

/// Sends the packets from every other node through the agent's NFQUEUE delayer, and
/// starts it.
fn delay_from_peers(
    plan: &mut Plan,
    ctx: &NemesisContext,
    n: &str,
    delayer: &str,
    ms: u32,
    jitter_ms: u32,
) {
    setup_chain(plan, n, CHAIN);
    for peer in ctx.nodes.iter().filter(|p| p.name != n) {
        // --queue-bypass: without a delayer, packets pass.
        plan.exec(
            n,
            [
                "iptables",
                "-w",
                "-A",
                CHAIN,
                "-s",
                &peer.addr,
                "-j",
                "NFQUEUE",
                "--queue-num",
                NFQUEUE_NUM,
                "--queue-bypass",
            ],
        );
    }
    let (ms, jitter) = (ms.to_string(), jitter_ms.to_string());
    // --background closes the delayer's stdio, so the SSH channel does not wait for it.
    plan.exec(
        n,
        [
            "start-stop-daemon",
            "--start",
            "--background",
            "--oknodo",
            "--make-pidfile",
            "--pidfile",
            DELAYER_PIDFILE,
            "--exec",
            delayer,
            "--",
            "nfqueue-delay",
            "--queue",
            NFQUEUE_NUM,
            "--delay-ms",
            &ms,
            "--jitter-ms",
            &jitter,
        ],
    );
}

impl Fault for PacketFault {
    fn start_f(&self) -> &'static str {
        "start-packet"
    }
    fn stop_f(&self) -> &'static str {
        "stop-packet"
    }
    fn start(&self, ctx: &NemesisContext, rng: &mut dyn RngCore) -> Result<Started, NemesisError> {
        let nodes = select(&self.target, ctx, rng)?;
        let plan = self.plan(ctx, &nodes)?;
        Ok(Started {
            plan,
            value: json!({ "nodes": nodes, "behaviors": self.behaviors, "netem": ctx.netem }),
            nodes,
        })
    }
    fn heal(&self, ctx: &NemesisContext, _started: Option<&Started>) -> Plan {
        heal_plan(ctx)
    }
}

/// Removes every packet fault of ours from every node.
pub fn heal_plan(ctx: &NemesisContext) -> Plan {
    let mut plan = Plan::new();
    for n in &ctx.nodes {
        remove_chain(&mut plan, &n.name, CHAIN);
        plan.exec(&n.name, ["sh", "-c", REMOVE_QDISC, "sh", QDISC_HANDLE]);
        plan.exec(&n.name, ["sh", "-c", STOP_DELAYER, "sh", DELAYER_PIDFILE]);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::NodeInfo;
    use crate::plan::tests::Recorder;

    fn ctx(netem: bool) -> NemesisContext {
        NemesisContext {
            nodes: (1..=3)
                .map(|i| NodeInfo::new(format!("n{i}"), format!("10.0.0.{i}")))
                .collect(),
            primaries: vec![],
            netem,
        }
    }

    fn lines(p: &Plan, node: &str) -> Vec<String> {
        p.commands_for(node).iter().map(|a| a.join(" ")).collect()
    }

    #[test]
    fn without_netem_loss_uses_iptables_statistic_and_rate_tbf() {
        let f = PacketFault {
            target: Target::Nodes(vec!["n1".into()]),
            behaviors: vec![
                Behavior::Loss { percent: 20.0 },
                Behavior::Rate { kbit: 500 },
            ],
            delayer: None,
        };
        let p = f.plan(&ctx(false), &["n1".into()]).unwrap();
        let l = lines(&p, "n1");
        assert!(l.iter().any(|c| c.contains(
            "iptables -w -A FAULTLINE-PKT -s 10.0.0.2 -m statistic --mode random --probability 0.200000 -j DROP"
        )));
        assert!(l.iter().any(|c| c.contains("tbf rate 500kbit")));
        assert!(!l.iter().any(|c| c.contains("netem")));
    }

    #[test]
    fn without_netem_delay_is_a_clear_error() {
        for b in ["delay", "duplicate", "reorder", "corrupt"] {
            let f = PacketFault {
                target: Target::All,
                behaviors: vec![Behavior::default_for(b).unwrap()],
                delayer: None,
            };
            let e = f.plan(&ctx(false), &["n1".into()]).unwrap_err();
            assert!(matches!(e, NemesisError::Unavailable { .. }), "{e}");
            assert!(
                e.to_string().contains(b) && e.to_string().contains("netem"),
                "{e}"
            );
        }
    }

    #[test]
    fn with_netem_one_qdisc_with_our_handle() {
        let f = PacketFault {
            target: Target::All,
            behaviors: vec![Behavior::default_for("reorder").unwrap()],
            delayer: None,
        };
        let p = f.plan(&ctx(true), &["n2".into()]).unwrap();
        let l = lines(&p, "n2");
        assert!(
            l.iter()
                .any(|c| c.ends_with("fa17: netem reorder 20% delay 50ms 10ms")),
            "{l:?}"
        );
        assert!(f.plan(&ctx(true), &[]).is_ok());
        let bad = PacketFault {
            target: Target::All,
            behaviors: vec![Behavior::Loss { percent: 120.0 }],
            delayer: None,
        };
        assert!(bad.plan(&ctx(true), &[]).is_err());
    }

    #[test]
    fn without_netem_delay_runs_through_the_nfqueue_delayer_when_given() {
        let f = PacketFault {
            target: Target::All,
            behaviors: vec![Behavior::Delay {
                ms: 200,
                jitter_ms: 0,
            }],
            delayer: Some("/opt/faultline/faultline-agent".into()),
        };
        let p = f.plan(&ctx(false), &["n1".into()]).unwrap();
        let l = lines(&p, "n1");
        assert!(l.iter().any(|c| c
            .contains("-A FAULTLINE-PKT -s 10.0.0.3 -j NFQUEUE --queue-num 4217 --queue-bypass")));
        assert!(l.iter().any(|c| c.contains(
            "--exec /opt/faultline/faultline-agent -- nfqueue-delay --queue 4217 --delay-ms 200"
        )));
        let heal = lines(&heal_plan(&ctx(false)), "n2");
        assert!(heal.iter().any(|c| c.contains(DELAYER_PIDFILE)));
    }

    #[test]
    fn probe_reports_missing_netem() {
        let r = Recorder {
            fail_on: Some("netem".into()),
            ..Recorder::default()
        };
        assert!(!probe_netem(&r, "n1").unwrap());
        let r = Recorder::default();
        assert!(probe_netem(&r, "n1").unwrap());
        assert_eq!(r.log.lock().unwrap().len(), 2, "probe qdisc removed");
    }
}
