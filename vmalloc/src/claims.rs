// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The claims file of `vmalloc reconcile` and `vmalloc adopt`: what the
//! devices say they hold.
//!
//! ```json
//! {"claims": [{"pool": "mmio32", "start": 3489660928, "end": 3489677311, "owner": "virtio-net0"}]}
//! ```
//!
//! `"pool"` is null or absent for a lone allocator, `"owner"` null or
//! absent for "any owner"; keys are never renamed and unknown keys are
//! ignored. Every mistake is reported with the file's line and column:
//! serde_json's own (not JSON, wrong types, numbers over 2^64 - 1) and
//! ours (start above end, an owner that is not a valid name), which are
//! raised while the claim is read, so that the position is the claim's.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use vm_allocator::{escape_name, Claim, Owner};

use crate::{Failure, EXIT_USAGE};

/// A claims file, as it is read and written.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClaimsFile {
    pub claims: Vec<ClaimJson>,
}

/// One claim of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimJson {
    pub pool: Option<String>,
    pub start: u64,
    pub end: u64,
    pub owner: Option<String>,
}

impl ClaimJson {
    /// The claim the library takes. The owner was checked when the file
    /// was read.
    pub fn claim(&self) -> Claim {
        let mut claim = Claim::new(self.start, self.end).expect("start <= end was checked");
        if let Some(pool) = &self.pool {
            claim = claim.in_pool(pool);
        }
        if let Some(owner) = &self.owner {
            claim = claim.with_owner(Owner::new(owner).expect("the owner was checked"));
        }
        claim
    }

    /// The claim as the file holds it.
    pub fn of(claim: &Claim) -> ClaimJson {
        ClaimJson {
            pool: claim.pool().map(str::to_string),
            start: claim.start(),
            end: claim.end(),
            owner: claim.owner().map(|o| o.as_str().to_string()),
        }
    }
}

/// The fields of a claim, before they are checked together.
#[derive(Deserialize)]
struct RawClaim {
    #[serde(default)]
    pool: Option<String>,
    #[serde(deserialize_with = "integer")]
    start: u64,
    #[serde(deserialize_with = "integer")]
    end: u64,
    #[serde(default)]
    owner: Option<String>,
}

/// Reads a claim as a map and checks it before the map is left, so that
/// serde_json places any error at the claim (just after its `}`).
impl<'de> Deserialize<'de> for ClaimJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ClaimJson, D::Error> {
        struct ClaimVisitor;
        impl<'de> Visitor<'de> for ClaimVisitor {
            type Value = ClaimJson;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim {\"pool\", \"start\", \"end\", \"owner\"}")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ClaimJson, A::Error> {
                let raw = RawClaim::deserialize(de::value::MapAccessDeserializer::new(map))?;
                checked(raw)
            }
        }
        d.deserialize_map(ClaimVisitor)
    }
}

/// The claim, if its start is not above its end and its owner is a
/// valid name.
fn checked<E: de::Error>(raw: RawClaim) -> Result<ClaimJson, E> {
    if raw.start > raw.end {
        return Err(E::custom(format!(
            "the claim's start {} is above its end {}",
            raw.start, raw.end
        )));
    }
    if let Some(owner) = &raw.owner {
        if let Err(e) = Owner::new(owner) {
            return Err(E::custom(format!(
                "the owner \"{}\" is not a valid name: {e}",
                escape_name(owner)
            )));
        }
    }
    Ok(ClaimJson {
        pool: raw.pool,
        start: raw.start,
        end: raw.end,
        owner: raw.owner,
    })
}

/// A `u64`, saying so when the number is not one.
fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct U64;
    impl Visitor<'_> for U64 {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer from 0 to 2^64 - 1")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("the number {v} is negative")))
        }
        // serde_json reads a number that is not an integer, or does not
        // fit in a `u64`, as a float.
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            Err(E::custom(if v >= 18_446_744_073_709_551_616.0 {
                "the number is above 2^64 - 1".to_string()
            } else {
                format!("the number {v:?} is not an integer from 0 to 2^64 - 1")
            }))
        }
    }
    d.deserialize_u64(U64)
}

/// Reads and checks the claims file at `path`; any problem is an error
/// (exit status 2) naming the file, and the line and column where
/// serde_json can tell.
pub fn read(path: &Path) -> Result<Vec<Claim>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::new(format!("{}: cannot read: {e}", path.display())).with_code(EXIT_USAGE)
    })?;
    parse(&text)
        .map(|file| file.claims.iter().map(ClaimJson::claim).collect())
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())).with_code(EXIT_USAGE))
}

/// The claims of `text`, or what is wrong and where:
/// `line 3, column 41: the claim's start 5 is above its end 4`.
pub fn parse(text: &str) -> Result<ClaimsFile, String> {
    serde_json::from_str(text).map_err(|e| {
        let whole = e.to_string();
        let at = format!(" at line {} column {}", e.line(), e.column());
        let what = whole.strip_suffix(&at).unwrap_or(&whole);
        format!("line {}, column {}: {what}", e.line(), e.column())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_with_defaults_and_ignores_unknown_keys() {
        let file = parse(
            r#"{"claims": [
                {"pool": "mmio32", "start": 3489660928, "end": 3489677311, "owner": "virtio-net0", "bar": 0},
                {"start": 5, "end": 5, "pool": null, "owner": null}
            ], "version": 7}"#,
        )
        .unwrap();
        assert_eq!(file.claims.len(), 2);
        let bar = file.claims[0].claim();
        assert_eq!(
            (bar.pool(), bar.start(), bar.end()),
            (Some("mmio32"), 0xd000_0000, 0xd000_3fff)
        );
        assert_eq!(bar.owner().map(|o| o.as_str()), Some("virtio-net0"));
        assert_eq!(file.claims[1].claim(), Claim::new(5, 5).unwrap());
        let max = parse(r#"{"claims": [{"start": 0, "end": 18446744073709551615}]}"#).unwrap();
        assert_eq!(max.claims[0].end, u64::MAX);
    }

    #[test]
    fn every_mistake_says_where() {
        let cases = [
            ("", "line 1, column 0: EOF while parsing a value"),
            ("{\"claims\": [}", "line 1, column 13: expected value"),
            ("{}", "line 1, column 2: missing field `claims`"),
            (
                "{\"claims\": [\n  {\"start\": 5, \"end\": 4}\n]}",
                "line 2, column 24: the claim's start 5 is above its end 4",
            ),
            (
                "{\"claims\": [{\"start\": 18446744073709551616, \"end\": 0}]}",
                "line 1, column 42: the number is above 2^64 - 1",
            ),
            (
                "{\"claims\": [{\"start\": -1, \"end\": 0}]}",
                "line 1, column 24: the number -1 is negative",
            ),
            (
                "{\"claims\": [{\"start\": 1.5, \"end\": 2}]}",
                "line 1, column 25: the number 1.5 is not an integer from 0 to 2^64 - 1",
            ),
            (
                "{\"claims\": [{\"start\": \"5\", \"end\": 5}]}",
                "line 1, column 25: invalid type: string \"5\", expected an integer from 0 to 2^64 - 1",
            ),
            (
                "{\"claims\": [{\"start\": 1, \"end\": 2, \"owner\": \"\"}]}",
                "line 1, column 47: the owner \"\" is not a valid name: the name is empty",
            ),
            (
                "{\"claims\": [{\"start\": 1, \"end\": 2, \"owner\": \"a\\u2028b\\u0007\"}]}",
                "line 1, column 61: the owner \"a\\u{2028}b\\u{7}\" is not a valid name: \
                 the name holds a control character at byte 5",
            ),
            (
                "{\"claims\": [{\"start\": 1, \"end\": 2, \"pool\": 3}]}",
                "line 1, column 44: invalid type: integer `3`, expected a string",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap_err(), expected, "{text}");
        }
    }
}
