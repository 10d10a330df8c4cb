//! Serde for the `i128` sums of the counter and bank reports.
//!
//! The sums are kept in `i128` so that adding many `i64` amounts cannot overflow, but
//! serde's buffered deserialization (used by the internally tagged `CheckReport`) has no
//! `i128`. A sum is written as a JSON integer when it fits in an `i64` (always, in
//! practice) and as a decimal string otherwise, and read back from either.

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;
use std::fmt;

pub fn serialize<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
    match i64::try_from(*v) {
        Ok(small) => s.serialize_i64(small),
        Err(_) => s.collect_str(v),
    }
}

struct WideVisitor;

impl Visitor<'_> for WideVisitor {
    type Value = i128;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a decimal string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<i128, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        v.parse().map_err(E::custom)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
    d.deserialize_any(WideVisitor)
}

/// The same for an optional sum.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<i128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i128>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super")] i128);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "t")]
    enum Tagged {
        A {
            #[serde(with = "super")]
            n: i128,
            #[serde(with = "super::option")]
            m: Option<i128>,
        },
    }

    #[test]
    fn small_and_huge_sums_round_trip_through_a_tagged_enum() {
        for n in [0, -5, i64::MAX as i128, i128::MAX, i128::MIN] {
            for m in [None, Some(n)] {
                let v = Tagged::A { n, m };
                let text = serde_json::to_string(&v).unwrap();
                assert_eq!(serde_json::from_str::<Tagged>(&text).unwrap(), v, "{text}");
            }
        }
        assert_eq!(
            serde_json::to_string(&Tagged::A { n: 3, m: None }).unwrap(),
            r#"{"t":"A","n":3,"m":null}"#
        );
    }
}
