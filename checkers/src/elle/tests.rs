//! Hand-written histories for every anomaly class, and property tests over generated ones.
