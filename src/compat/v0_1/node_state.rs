// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! 0.1.x's `NodeState` enum, `Free | Allocated`, as unit variants.

use core::fmt;

use serde::de::{Deserialize, Deserializer, EnumAccess, VariantAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::serde_impl::VariantSeed;

const VARIANTS: &[&str] = &["Free", "Allocated"];

/// The state of one 0.1.x tree node: `true` when it is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Allocated(pub(super) bool);

impl Allocated {
    pub(super) fn name(self) -> &'static str {
        VARIANTS[usize::from(self.0)]
    }
}

impl Serialize for Allocated {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit_variant("NodeState", u32::from(self.0), self.name())
    }
}

impl<'de> Deserialize<'de> for Allocated {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_enum("NodeState", VARIANTS, StateVisitor)
    }
}

struct StateVisitor;

impl<'de> Visitor<'de> for StateVisitor {
    type Value = Allocated;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NodeState, Free or Allocated")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Allocated, A::Error> {
        let (index, variant) = data.variant_seed(VariantSeed(VARIANTS))?;
        variant.unit_variant()?;
        Ok(Allocated(index == 1))
    }
}

impl fmt::Display for Allocated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
