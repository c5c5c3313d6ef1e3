// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The validating builder of [`ResourceSet`].

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::owner::check_name;
use crate::set::Entry;
use crate::{Owner, Pool, ResourceSet};

use super::StateError;

/// Builds a [`ResourceSet`] from its pools, pushed in order, checking each
/// name as it comes. The pools themselves are allocators, valid by
/// construction.
///
/// ```rust
/// use vm_allocator::{AddressAllocator, IdAllocator, ResourceSetBuilder, StateError};
///
/// let mut builder = ResourceSetBuilder::new().generation(3);
/// builder
///     .push("gsi", IdAllocator::new(5, 23).unwrap())
///     .unwrap();
/// builder
///     .push("mmio", AddressAllocator::new(0xd000_0000, 0x1000).unwrap())
///     .unwrap();
/// assert_eq!(
///     builder
///         .push("gsi", IdAllocator::new(0, 1).unwrap())
///         .unwrap_err(),
///     StateError::DuplicatePool {
///         index: 2,
///         previous: 0
///     }
/// );
/// ```
#[derive(Debug, Default)]
pub struct ResourceSetBuilder {
    pools: Vec<Entry>,
    /// Names seen so far and their positions, for duplicates in O(log p).
    names: BTreeMap<Owner, u64>,
    generation: u64,
    error: Option<StateError>,
}

impl ResourceSetBuilder {
    /// Starts an empty set at generation 0.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{ResourceSet, ResourceSetBuilder};
    ///
    /// assert_eq!(ResourceSetBuilder::new().finish()?, ResourceSet::new());
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn new() -> Self {
        ResourceSetBuilder::default()
    }

    /// Sets the generation the set starts at.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSetBuilder;
    ///
    /// let set = ResourceSetBuilder::new().generation(5).finish()?;
    /// assert_eq!(set.generation(), 5);
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }

    /// Adds the next pool under `name`, which must be a valid name used by
    /// no earlier pool.
    ///
    /// Time: O(log p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, NameError, ResourceSetBuilder, StateError};
    ///
    /// let mut builder = ResourceSetBuilder::new();
    /// builder.push("gsi", IdAllocator::new(5, 23).unwrap())?;
    /// let err = builder
    ///     .push("", IdAllocator::new(0, 1).unwrap())
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     StateError::PoolName {
    ///         index: 1,
    ///         error: NameError::Empty
    ///     }
    /// );
    /// assert_eq!(
    ///     err.to_string(),
    ///     "pool #1 has an invalid name: the name is empty"
    /// );
    /// # Ok::<(), StateError>(())
    /// ```
    pub fn push(&mut self, name: &str, pool: impl Into<Pool>) -> Result<(), StateError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let index = self.pools.len() as u64;
        let checked = match check_name(name) {
            Err(error) => Err(StateError::PoolName { index, error }),
            Ok(()) => match self.names.get(name) {
                Some(&previous) => Err(StateError::DuplicatePool { index, previous }),
                None => Ok(Owner::new(name).expect("the name was checked")),
            },
        };
        let name = checked.inspect_err(|&e| self.error = Some(e))?;
        self.names.insert(name.clone(), index);
        self.pools.push(Entry {
            name,
            pool: pool.into(),
        });
        Ok(())
    }

    /// The set, or the first error met.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, IdAllocator, ResourceSetBuilder};
    ///
    /// let mut builder = ResourceSetBuilder::new();
    /// builder.push(
    ///     "gsi",
    ///     IdAllocator::from_allocations(5, 23, [5..=6]).unwrap(),
    /// )?;
    /// builder.push("pio", AddressAllocator::new(0, 0x10000).unwrap())?;
    /// let mut vm = builder.finish()?;
    /// assert_eq!(vm.len(), 2);
    /// assert_eq!(vm.allocate_id("gsi").unwrap(), 7);
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn finish(self) -> Result<ResourceSet, StateError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(ResourceSet::from_parts(self.pools, self.generation)),
        }
    }
}
