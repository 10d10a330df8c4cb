//! Partition shapes as *grudges*: for each node, the nodes whose traffic it
//! drops (Jepsen's representation). A node absent from the map drops nothing.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::{IndexedRandom, SliceRandom};
use rand::RngCore;

use crate::NemesisError;

pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// The smallest majority of `n` nodes.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Components that cannot talk to each other: each node drops every node
/// outside its own component.
pub fn complete(components: &[Vec<String>]) -> Grudge {
    let all: BTreeSet<&String> = components.iter().flatten().collect();
    let mut g = Grudge::new();
    for comp in components {
        let mine: BTreeSet<&String> = comp.iter().collect();
        let others: BTreeSet<String> = all
            .iter()
            .filter(|n| !mine.contains(*n))
            .map(|n| (*n).clone())
            .collect();
        for n in comp {
            if !others.is_empty() {
                g.insert(n.clone(), others.clone());
            }
        }
    }
    g
}

fn need(nodes: &[String], min: usize, shape: &str) -> Result<(), NemesisError> {
    if nodes.len() < min {
        return Err(NemesisError::Invalid(format!(
            "{shape} needs at least {min} nodes, the cluster has {}",
            nodes.len()
        )));
    }
    Ok(())
}

/// `node` alone on one side, everyone else on the other.
pub fn isolate(nodes: &[String], node: &str) -> Result<Grudge, NemesisError> {
    need(nodes, 2, "isolating a node")?;
    if !nodes.iter().any(|n| n == node) {
        return Err(NemesisError::Invalid(format!("unknown node {node:?}")));
    }
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    Ok(complete(&[vec![node.to_string()], rest]))
}

/// A random node isolated.
pub fn isolate_random(nodes: &[String], rng: &mut dyn RngCore) -> Result<Grudge, NemesisError> {
    need(nodes, 2, "isolating a node")?;
    let node = nodes
        .choose(rng)
        .ok_or_else(|| NemesisError::Invalid("no nodes".into()))?;
    isolate(nodes, node)
}

/// Splits `nodes` (in the given order) into a minority (the first ⌊n/2⌋)
/// and a majority (the rest).
pub fn halves(nodes: &[String]) -> (Vec<String>, Vec<String>) {
    let (a, b) = nodes.split_at(nodes.len() / 2);
    (a.to_vec(), b.to_vec())
}

/// A random minority cut off from the majority.
pub fn random_halves(nodes: &[String], rng: &mut dyn RngCore) -> Result<Grudge, NemesisError> {
    need(nodes, 2, "random halves")?;
    let mut shuffled = nodes.to_vec();
    shuffled.shuffle(rng);
    let (minority, majority) = halves(&shuffled);
    Ok(complete(&[minority, majority]))
}

/// Every node sees a majority, and no two nodes see the same one (Jepsen's
/// `majorities-ring-perfect`, used here for every size): arrange the nodes
/// in a random ring; the node in the middle of each window of `majority(n)`
/// consecutive nodes sees exactly that window.
pub fn majorities_ring(nodes: &[String], rng: &mut dyn RngCore) -> Result<Grudge, NemesisError> {
    need(nodes, 3, "a majorities ring")?;
    let mut ring = nodes.to_vec();
    ring.shuffle(rng);
    let n = ring.len();
    let m = majority(n);
    let mut g = Grudge::new();
    for start in 0..n {
        let window: BTreeSet<&String> = (0..m).map(|k| &ring[(start + k) % n]).collect();
        let center = ring[(start + m / 2) % n].clone();
        let drops: BTreeSet<String> = ring
            .iter()
            .filter(|x| !window.contains(x))
            .cloned()
            .collect();
        g.insert(center, drops);
    }
    Ok(g)
}

/// Two halves that cannot talk, and one bridge node that talks to both
/// (Jepsen's `bridge`): the first ⌊n/2⌋ nodes, then the bridge, then the rest.
pub fn bridge(nodes: &[String]) -> Result<Grudge, NemesisError> {
    need(nodes, 3, "a bridge")?;
    let (bottom, top) = halves(nodes);
    let bridge_node = &top[0];
    let top = top[1..].to_vec();
    let mut g = complete(&[bottom, top]);
    g.remove(bridge_node);
    for drops in g.values_mut() {
        drops.remove(bridge_node);
    }
    Ok(g)
}

/// Each primary isolated alone; every other node together.
pub fn primaries(nodes: &[String], primaries: &[String]) -> Result<Grudge, NemesisError> {
    need(nodes, 2, "isolating primaries")?;
    if primaries.is_empty() {
        return Err(NemesisError::Invalid(
            "no primary known: the DB reported no leader".into(),
        ));
    }
    let mut comps: Vec<Vec<String>> = Vec::new();
    for p in primaries {
        if !nodes.contains(p) {
            return Err(NemesisError::Invalid(format!("unknown primary {p:?}")));
        }
        if !comps.iter().any(|c| c[0] == *p) {
            comps.push(vec![p.clone()]);
        }
    }
    let rest: Vec<String> = nodes
        .iter()
        .filter(|n| !primaries.contains(n))
        .cloned()
        .collect();
    if !rest.is_empty() {
        comps.push(rest);
    }
    Ok(complete(&comps))
}

/// Checks an explicit grudge: known nodes only, nobody drops itself.
pub fn validate(nodes: &[String], grudge: &Grudge) -> Result<(), NemesisError> {
    let known = |n: &String| nodes.contains(n);
    for (node, drops) in grudge {
        if !known(node) {
            return Err(NemesisError::Invalid(format!(
                "grudge: unknown node {node:?}"
            )));
        }
        if let Some(d) = drops.iter().find(|d| !known(d)) {
            return Err(NemesisError::Invalid(format!("grudge: unknown node {d:?}")));
        }
        if drops.contains(node) {
            return Err(NemesisError::Invalid(format!(
                "grudge: {node} cannot drop its own traffic"
            )));
        }
    }
    Ok(())
}

/// Who `node` can still exchange packets with (both directions pass): itself
/// and every node neither drops the other.
pub fn view(nodes: &[String], grudge: &Grudge, node: &str) -> BTreeSet<String> {
    let drops = |a: &str, b: &str| grudge.get(a).is_some_and(|d| d.contains(b));
    nodes
        .iter()
        .filter(|o| !drops(node, o) && !drops(o, node))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn isolate_one() {
        let nodes = names(5);
        let g = isolate(&nodes, "n3").unwrap();
        assert_eq!(view(&nodes, &g, "n3"), BTreeSet::from(["n3".to_string()]));
        assert_eq!(view(&nodes, &g, "n1").len(), 4);
        assert!(isolate(&nodes, "n9").is_err());
        assert!(isolate(&names(1), "n1").is_err());
    }

    #[test]
    fn random_halves_are_disjoint_covering_minority_majority() {
        for n in 2..=9 {
            let nodes = names(n);
            for seed in 0..20 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let g = random_halves(&nodes, &mut rng).unwrap();
                let views: BTreeSet<BTreeSet<String>> =
                    nodes.iter().map(|x| view(&nodes, &g, x)).collect();
                assert_eq!(views.len(), 2, "two sides");
                let sides: Vec<_> = views.into_iter().collect();
                assert!(sides[0].is_disjoint(&sides[1]));
                assert_eq!(sides[0].len() + sides[1].len(), n, "cover");
                let big = sides.iter().map(BTreeSet::len).max().unwrap();
                assert_eq!(big, n - n / 2, "the larger side");
                if n % 2 == 1 {
                    assert_eq!(big, majority(n));
                }
            }
        }
    }

    #[test]
    fn majorities_ring_every_node_sees_a_distinct_majority() {
        for n in 3..=11 {
            let nodes = names(n);
            for seed in 0..10 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let g = majorities_ring(&nodes, &mut rng).unwrap();
                assert_eq!(g.len(), n, "every node has a grudge");
                let mut seen = BTreeSet::new();
                for x in &nodes {
                    let sees: BTreeSet<String> = nodes
                        .iter()
                        .filter(|o| !g[x].contains(*o))
                        .cloned()
                        .collect();
                    assert!(sees.contains(x));
                    assert_eq!(sees.len(), majority(n), "n={n} {x} sees {sees:?}");
                    assert!(seen.insert(sees), "two nodes see the same majority");
                }
            }
        }
        assert!(majorities_ring(&names(2), &mut ChaCha8Rng::seed_from_u64(0)).is_err());
    }

    #[test]
    fn bridge_node_sees_everyone_halves_do_not() {
        let nodes = names(5);
        let g = bridge(&nodes).unwrap();
        assert_eq!(view(&nodes, &g, "n3").len(), 5, "n3 is the bridge");
        assert_eq!(
            view(&nodes, &g, "n1"),
            BTreeSet::from(["n1", "n2", "n3"].map(String::from))
        );
        assert_eq!(
            view(&nodes, &g, "n5"),
            BTreeSet::from(["n3", "n4", "n5"].map(String::from))
        );
    }

    #[test]
    fn primaries_alone() {
        let nodes = names(5);
        let g = primaries(&nodes, &["n2".to_string()]).unwrap();
        assert_eq!(view(&nodes, &g, "n2").len(), 1);
        assert_eq!(view(&nodes, &g, "n1").len(), 4);
        assert!(primaries(&nodes, &[]).is_err());
        assert!(primaries(&nodes, &["x".to_string()]).is_err());
    }

    #[test]
    fn explicit_grudges_are_validated() {
        let nodes = names(3);
        let mut g = Grudge::new();
        g.insert("n1".into(), BTreeSet::from(["n2".to_string()]));
        assert!(validate(&nodes, &g).is_ok());
        g.insert("n2".into(), BTreeSet::from(["n2".to_string()]));
        assert!(validate(&nodes, &g).is_err());
        let mut g = Grudge::new();
        g.insert("n7".into(), BTreeSet::new());
        assert!(validate(&nodes, &g).is_err());
    }
}
