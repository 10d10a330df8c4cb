//! A model that starts from a state of the caller's choosing, like Knossos'
//! `(cas-register 0)` or `(multi-register {:x 0 :y 0})`.

use super::Model;
use crate::history::Outcome;
use serde_json::Value;

/// `model` with `state` as its initial state; everything else is the model's own.
#[derive(Debug, Clone)]
pub struct StartingAt<M: Model> {
    pub model: M,
    pub state: M::State,
}

impl<M: Model> StartingAt<M> {
    pub fn new(model: M, state: M::State) -> StartingAt<M> {
        StartingAt { model, state }
    }

    /// The model starting from the state `value` describes ([`Model::state_from_json`]).
    pub fn from_json(model: M, value: &Value) -> Result<StartingAt<M>, String> {
        let state = model.state_from_json(value)?;
        Ok(StartingAt { model, state })
    }

    /// The model from its own initial state.
    pub fn from_init(model: M) -> StartingAt<M> {
        let state = model.init();
        StartingAt { model, state }
    }
}

/// Every method but `init` forwards to the model, the search's hints included: they are
/// about operations, or about the state they are given, and hold whatever the start. A
/// method added to `Model` with a default must be forwarded here too, or the default
/// (always safe, maybe slower) replaces the model's own.
impl<M: Model> Model for StartingAt<M>
where
    M::State: Sync,
{
    type State = M::State;
    type Op = M::Op;

    fn name(&self) -> &'static str {
        self.model.name()
    }

    fn init(&self) -> M::State {
        self.state.clone()
    }

    fn parse(
        &self,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<M::Op>, String> {
        self.model
            .parse_from(&self.state, f, invoke, result, outcome)
    }

    fn parse_from(
        &self,
        start: &M::State,
        f: &str,
        invoke: &Value,
        result: Option<&Value>,
        outcome: Outcome,
    ) -> Result<Option<M::Op>, String> {
        self.model.parse_from(start, f, invoke, result, outcome)
    }

    fn step(&self, state: &M::State, op: &M::Op, next: &mut Vec<M::State>) {
        self.model.step(state, op, next)
    }

    fn explain(&self, state: &M::State, op: &M::Op) -> String {
        self.model.explain(state, op)
    }

    fn last_observer(&self, ind: &[M::Op], det: &[M::Op]) -> Vec<Option<usize>> {
        self.model.last_observer(ind, det)
    }

    fn blind(&self, op: &M::Op) -> bool {
        self.model.blind(op)
    }

    fn read_only(&self, op: &M::Op) -> bool {
        self.model.read_only(op)
    }

    fn checks_reachability(&self) -> bool {
        self.model.checks_reachability()
    }

    fn reachable(
        &self,
        state: &M::State,
        read: &M::Op,
        between: &mut dyn Iterator<Item = &M::Op>,
    ) -> bool {
        self.model.reachable(state, read, between)
    }

    fn unobserved(&self, ops: &[M::Op]) -> Vec<bool> {
        self.model.unobserved(ops)
    }

    fn heap_size(&self, state: &M::State) -> usize {
        self.model.heap_size(state)
    }

    fn relevant_indeterminate(&self, ind: &[M::Op], det: &[M::Op]) -> Vec<bool> {
        self.model.relevant_indeterminate(ind, det)
    }

    fn state_from_json(&self, value: &Value) -> Result<M::State, String> {
        self.model.state_from_json(value)
    }
}
