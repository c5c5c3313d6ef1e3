// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A diff that names the state it applies to: the file a migration sends at
//! its final pause.

use core::fmt;

use super::{Diff, DiffError, Versioned};
use crate::format::FileKind;

/// A [`Diff`] that names the state it applies to by generation and
/// checksum, and the state it gives: the small file a live migration sends
/// at its final pause, after the full state went across earlier.
///
/// The checksums are those of the states' files in the current format
/// version (their CRC-32C trailers). [`apply`](Self::apply) refuses any
/// state but the one the delta was made from, and checks that the result
/// is exactly the newer state.
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Delta, Owner, ResourceSet};
///
/// let mut source = ResourceSet::x86_64();
/// let early = source.clone(); // sent in full while the VM runs
/// let early_bytes = early.to_bytes();
///
/// let nvme = Owner::new("nvme0").unwrap();
/// source
///     .owned_by(&nvme)
///     .allocate("mmio64", 1 << 20, 1 << 20, AllocPolicy::FirstMatch)
///     .unwrap();
/// let delta = Delta::between(&early, &source).unwrap();
/// let delta_bytes = delta.to_bytes(); // sent at the pause: a few dozen bytes
///
/// // The destination.
/// let base = ResourceSet::from_bytes(&early_bytes).unwrap();
/// let delta = Delta::from_bytes(&delta_bytes).unwrap();
/// assert_eq!(delta.apply(&base).unwrap(), source);
/// // Any other state is refused.
/// assert!(delta.apply(&source).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Delta {
    diff: Diff,
    base_checksum: u32,
    target_checksum: u32,
}

impl Delta {
    /// The delta from `older` to `newer`, which must have the same shape.
    ///
    /// Time: O(n): both states are encoded for their checksums.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Delta, DiffError, IdAllocator};
    ///
    /// let older = IdAllocator::new(0, 31)?;
    /// let mut newer = older.clone();
    /// newer.allocate_id()?;
    /// let delta = Delta::between(&older, &newer).unwrap();
    /// assert_eq!((delta.base_generation(), delta.target_generation()), (0, 1));
    /// let other = IdAllocator::new(1, 31)?;
    /// assert!(matches!(
    ///     Delta::between(&older, &other),
    ///     Err(DiffError::ShapeMismatch { .. })
    /// ));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn between<S: Versioned>(older: &S, newer: &S) -> Result<Delta, DiffError> {
        let diff = older.diff_to(newer)?;
        Ok(Delta {
            diff,
            base_checksum: older.file_checksum(),
            target_checksum: newer.file_checksum(),
        })
    }

    pub(crate) fn from_parts(diff: Diff, base_checksum: u32, target_checksum: u32) -> Delta {
        Delta {
            diff,
            base_checksum,
            target_checksum,
        }
    }

    /// `state` with the delta applied: exactly the state the delta was
    /// made to.
    ///
    /// Fails, leaving `state` untouched, unless `state` is the one the
    /// delta was made from: of its kind ([`DiffError::WrongKind`]), at its
    /// generation ([`DiffError::GenerationMismatch`]) and with its checksum
    /// ([`DiffError::ChecksumMismatch`]); or when the result is not the
    /// state named ([`DiffError::ResultMismatch`]).
    ///
    /// Time: O(n + k log n): both states are encoded for their checksums.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Delta, DiffError, IdAllocator};
    ///
    /// let base = IdAllocator::new(0, 31)?;
    /// let mut target = base.clone();
    /// target.allocate_id()?;
    /// let delta = Delta::between(&base, &target).unwrap();
    /// assert_eq!(delta.apply(&base).unwrap(), target);
    ///
    /// // The target itself is at another generation.
    /// let err = delta.apply(&target).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the diff applies to generation 0, the state is at generation 1"
    /// );
    /// // A state at generation 0 with other content: refused by its checksum.
    /// let other = IdAllocator::from_allocations(0, 31, [7..=7]).unwrap();
    /// assert!(matches!(
    ///     delta.apply(&other),
    ///     Err(DiffError::ChecksumMismatch { .. })
    /// ));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn apply<S: Versioned>(&self, state: &S) -> Result<S, DiffError> {
        if S::KIND != self.diff.kind {
            return Err(DiffError::WrongKind {
                expected: self.diff.kind,
                found: S::KIND,
            });
        }
        if state.generation() != self.diff.generations.0 {
            return Err(DiffError::GenerationMismatch {
                pool: None,
                expected: self.diff.generations.0,
                found: state.generation(),
            });
        }
        let found = state.file_checksum();
        if found != self.base_checksum {
            return Err(DiffError::ChecksumMismatch {
                expected: self.base_checksum,
                found,
            });
        }
        let result = state.apply_diff(&self.diff)?;
        let found = result.file_checksum();
        if found != self.target_checksum {
            return Err(DiffError::ResultMismatch {
                expected: self.target_checksum,
                found,
            });
        }
        Ok(result)
    }

    /// The changes.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Delta, IdAllocator};
    ///
    /// let base = IdAllocator::new(0, 31)?;
    /// let mut target = base.clone();
    /// target.allocate_ids(4, 4)?;
    /// let delta = Delta::between(&base, &target).unwrap();
    /// assert_eq!(delta.diff().to_string(), "+ 0..=3 (4 ids)\n");
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn diff(&self) -> &Diff {
        &self.diff
    }

    /// The kind of state it applies to.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::FileKind;
    /// use vm_allocator::{Delta, ResourceSet};
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(
    ///     Delta::between(&vm, &vm).unwrap().kind(),
    ///     FileKind::ResourceSet
    /// );
    /// ```
    pub fn kind(&self) -> FileKind {
        self.diff.kind
    }

    /// The generation of the state it applies to.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Delta, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi")?;
    /// let early = vm.clone();
    /// vm.allocate_id("legacy_gsi")?;
    /// assert_eq!(
    ///     Delta::between(&early, &vm).unwrap().base_generation(),
    ///     early.generation()
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn base_generation(&self) -> u64 {
        self.diff.generations.0
    }

    /// The checksum of the state it applies to.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Delta, IdAllocator};
    ///
    /// let base = IdAllocator::new(0, 31)?;
    /// let mut target = base.clone();
    /// target.allocate_id()?;
    /// let delta = Delta::between(&base, &target).unwrap();
    /// // The CRC-32C trailer of the base state's file.
    /// let bytes = base.to_bytes();
    /// let trailer = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    /// assert_eq!(delta.base_checksum(), trailer);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn base_checksum(&self) -> u32 {
        self.base_checksum
    }

    /// The generation of the state it gives.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Delta, IdAllocator};
    ///
    /// let base = IdAllocator::new(0, 31)?;
    /// let mut target = base.clone();
    /// target.allocate_id()?;
    /// target.allocate_id()?;
    /// assert_eq!(
    ///     Delta::between(&base, &target).unwrap().target_generation(),
    ///     2
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn target_generation(&self) -> u64 {
        self.diff.generations.1
    }

    /// The checksum of the state it gives.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Delta, IdAllocator};
    ///
    /// let base = IdAllocator::new(0, 31)?;
    /// let mut target = base.clone();
    /// target.allocate_id()?;
    /// let delta = Delta::between(&base, &target).unwrap();
    /// let bytes = target.to_bytes();
    /// let trailer = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    /// assert_eq!(delta.target_checksum(), trailer);
    /// assert_ne!(delta.target_checksum(), delta.base_checksum());
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn target_checksum(&self) -> u32 {
        self.target_checksum
    }
}

/// The state it applies to and gives, then one line per change.
impl fmt::Display for Delta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "delta of an {}: generation {} (checksum {:#010x}) -> generation {} (checksum {:#010x})",
            self.diff.kind,
            self.diff.generations.0,
            self.base_checksum,
            self.diff.generations.1,
            self.target_checksum
        )?;
        fmt::Display::fmt(&self.diff, f)
    }
}
