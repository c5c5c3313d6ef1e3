// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! One pool of a resource set: an id allocator or an address allocator.

use core::fmt;

use crate::{AddressAllocator, IdAllocator};

/// What a pool hands out.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{PoolKind, ResourceSet, SetError};
///
/// let mut vm = ResourceSet::x86_64();
/// assert_eq!(vm.pool("pio").unwrap().kind(), PoolKind::Addresses);
/// let err = vm.allocate_id("pio").unwrap_err();
/// assert_eq!(
///     err,
///     SetError::WrongKind {
///         pool: "pio".into(),
///         expected: PoolKind::Ids
///     }
/// );
/// assert_eq!(PoolKind::Ids.to_string(), "id");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    /// Integer ids ([`IdAllocator`]).
    Ids,
    /// Ranges of an address space ([`AddressAllocator`]).
    Addresses,
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolKind::Ids => "id",
            PoolKind::Addresses => "address",
        })
    }
}

/// The allocator of one pool of a [`ResourceSet`](crate::ResourceSet).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{IdAllocator, Pool, ResourceSet};
///
/// let mut set = ResourceSet::new();
/// set.add_pool("slots", IdAllocator::new(0, 31).unwrap())?;
/// match set.pool("slots") {
///     Some(Pool::Ids(slots)) => assert_eq!(slots.range_end(), 31),
///     other => panic!("not an id pool: {other:?}"),
/// }
/// assert_eq!(Pool::from(IdAllocator::new(0, 1).unwrap()).generation(), 0);
/// # Ok::<(), vm_allocator::SetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Pool {
    /// A pool of ids.
    Ids(IdAllocator),
    /// A pool of address space.
    Addresses(AddressAllocator),
}

impl Pool {
    /// What the pool hands out.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{PoolKind, ResourceSet};
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(vm.pool("msi_gsi").unwrap().kind(), PoolKind::Ids);
    /// assert_eq!(vm.pool("mmio32").unwrap().kind(), PoolKind::Addresses);
    /// ```
    pub fn kind(&self) -> PoolKind {
        match self {
            Pool::Ids(_) => PoolKind::Ids,
            Pool::Addresses(_) => PoolKind::Addresses,
        }
    }

    /// The id allocator, if this is an id pool.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(
    ///     vm.pool("msi_gsi").unwrap().as_ids().unwrap().range_base(),
    ///     24
    /// );
    /// assert!(vm.pool("pio").unwrap().as_ids().is_none());
    /// ```
    pub fn as_ids(&self) -> Option<&IdAllocator> {
        match self {
            Pool::Ids(ids) => Some(ids),
            Pool::Addresses(_) => None,
        }
    }

    /// The address allocator, if this is an address pool.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(
    ///     vm.pool("pio").unwrap().as_addresses().unwrap().end(),
    ///     0xffff
    /// );
    /// assert!(vm.pool("msi_gsi").unwrap().as_addresses().is_none());
    /// ```
    pub fn as_addresses(&self) -> Option<&AddressAllocator> {
        match self {
            Pool::Addresses(a) => Some(a),
            Pool::Ids(_) => None,
        }
    }

    /// The allocator's generation.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi")?;
    /// vm.allocate_id("legacy_gsi")?;
    /// assert_eq!(vm.pool("legacy_gsi").unwrap().generation(), 2);
    /// assert_eq!(vm.pool("msi_gsi").unwrap().generation(), 0);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn generation(&self) -> u64 {
        match self {
            Pool::Ids(ids) => ids.generation(),
            Pool::Addresses(a) => a.generation(),
        }
    }

    /// True if any allocation has an owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.owned_by(&Owner::new("rtc").unwrap())
    ///     .allocate_id("legacy_gsi")?;
    /// assert!(vm.pool("legacy_gsi").unwrap().has_owners());
    /// assert!(!vm.pool("msi_gsi").unwrap().has_owners());
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn has_owners(&self) -> bool {
        match self {
            Pool::Ids(ids) => ids.has_owners(),
            Pool::Addresses(a) => a.has_owners(),
        }
    }

    /// The same pool without owners.
    pub(crate) fn without_owners(&self) -> Pool {
        match self {
            Pool::Ids(ids) => Pool::Ids(ids.without_owners()),
            Pool::Addresses(a) => Pool::Addresses(a.without_owners()),
        }
    }

    /// True if both pools hand out the same kind of thing from the same
    /// range or space (whatever they hold).
    pub(crate) fn same_shape(&self, other: &Pool) -> bool {
        match (self, other) {
            (Pool::Ids(a), Pool::Ids(b)) => {
                a.range_base() == b.range_base() && a.range_end() == b.range_end()
            }
            (Pool::Addresses(a), Pool::Addresses(b)) => a.space() == b.space(),
            _ => false,
        }
    }

    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn check_invariants(&self) -> Result<(), alloc::string::String> {
        match self {
            Pool::Ids(ids) => ids.check_invariants(),
            Pool::Addresses(a) => a.check_invariants(),
        }
    }
}

impl From<IdAllocator> for Pool {
    fn from(ids: IdAllocator) -> Pool {
        Pool::Ids(ids)
    }
}

impl From<AddressAllocator> for Pool {
    fn from(addresses: AddressAllocator) -> Pool {
        Pool::Addresses(addresses)
    }
}
