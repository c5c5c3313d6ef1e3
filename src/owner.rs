// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Owner tags: who holds an allocation (`virtio-net0`, `pci 0000:00:03.0`).

use alloc::boxed::Box;
use alloc::string::String;
use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;
use core::str::FromStr;

use triomphe::Arc;

/// The longest name, in bytes, of an owner or of a pool of a
/// [`ResourceSet`](crate::ResourceSet).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{NameError, Owner, MAX_NAME_LEN};
///
/// assert!(Owner::new(&"a".repeat(MAX_NAME_LEN)).is_ok());
/// let err = Owner::new(&"a".repeat(MAX_NAME_LEN + 1)).unwrap_err();
/// assert_eq!(err, NameError::TooLong { len: 65 });
/// assert_eq!(
///     err.to_string(),
///     "the name is 65 bytes long, over the limit of 64"
/// );
/// ```
pub const MAX_NAME_LEN: usize = 64;

/// Why a string is not a valid owner or pool name.
///
/// A name is 1 to [`MAX_NAME_LEN`] bytes of UTF-8 without control
/// characters, so that every listing (`Display` of a diff, `format::dump`)
/// shows one allocation per line.
///
/// ```rust
/// use vm_allocator::{NameError, Owner};
///
/// assert_eq!(Owner::new("").unwrap_err(), NameError::Empty);
/// assert_eq!(
///     Owner::new(&"x".repeat(65)).unwrap_err(),
///     NameError::TooLong { len: 65 }
/// );
/// assert_eq!(
///     Owner::new("net\n0").unwrap_err(),
///     NameError::ControlCharacter { offset: 3 }
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name holds a control character (such as a newline or a tab).
    ControlCharacter {
        /// Byte offset of the character in the name.
        offset: usize,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameError::Empty => f.write_str("the name is empty"),
            NameError::TooLong { len } => {
                write!(
                    f,
                    "the name is {len} bytes long, over the limit of {MAX_NAME_LEN}"
                )
            }
            NameError::ControlCharacter { offset } => {
                write!(f, "the name holds a control character at byte {offset}")
            }
        }
    }
}

impl core::error::Error for NameError {}

/// Checks the rules of [`NameError`] for an owner or pool name.
pub(crate) fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong { len: name.len() });
    }
    if let Some((offset, _)) = name.char_indices().find(|(_, c)| c.is_control()) {
        return Err(NameError::ControlCharacter { offset });
    }
    Ok(())
}

/// The owner of an allocation: a short name such as `virtio-net0` or
/// `pci 0000:00:03.0` (1 to [`MAX_NAME_LEN`] bytes of UTF-8, no control
/// characters).
///
/// An `Owner` is a shared, immutable handle: cloning it copies one pointer,
/// and every allocation tagged with clones of one `Owner` shares one copy of
/// the name (decoders share them the same way). Owners compare, order and
/// hash as their names do.
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
///
/// let net0 = Owner::new("virtio-net0").unwrap();
/// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
/// let bar = mmio
///     .owned_by(&net0)
///     .allocate(0x4000, 0x4000, AllocPolicy::FirstMatch)
///     .unwrap();
/// assert_eq!(mmio.owner_at(bar.start()), Some(&net0));
/// assert_eq!(net0, "virtio-net0");
/// ```
#[derive(Clone)]
pub struct Owner(Arc<Box<str>>);

impl Owner {
    /// Makes an owner named `name`, checking the rules of [`NameError`].
    ///
    /// Time: O(len).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{NameError, Owner};
    ///
    /// let dev = Owner::new("pci 0000:00:03.0")?;
    /// assert_eq!(dev.as_str(), "pci 0000:00:03.0");
    /// let err = Owner::new("net\t0").unwrap_err();
    /// assert_eq!(err, NameError::ControlCharacter { offset: 3 });
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the name holds a control character at byte 3"
    /// );
    /// # Ok::<(), NameError>(())
    /// ```
    pub fn new(name: &str) -> Result<Owner, NameError> {
        check_name(name)?;
        Ok(Owner(Arc::new(Box::from(name))))
    }

    /// The name.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Owner;
    ///
    /// let net0 = Owner::new("virtio-net0")?;
    /// assert_eq!(net0.as_str(), "virtio-net0");
    /// assert!(net0.as_str().starts_with("virtio-"));
    /// # Ok::<(), vm_allocator::NameError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as human-readable output shows it: by the rule of
    /// [`escape_name`](crate::escape_name), which escapes characters that
    /// could fake a line, reorder text or hide. `Display` of an `Owner`
    /// is the name itself; listings, diffs, reports and errors use this.
    ///
    /// Time: O(len) when shown.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Owner;
    ///
    /// let fake = Owner::new("net0\u{2028}+ mmio32 0x0..=0xfff").unwrap();
    /// assert_eq!(
    ///     fake.escaped().to_string(),
    ///     r"net0\u{2028}+ mmio32 0x0..=0xfff"
    /// );
    /// assert_eq!(Owner::new("net0").unwrap().escaped().to_string(), "net0");
    /// ```
    pub fn escaped(&self) -> crate::EscapedName<'_> {
        crate::escape_name(self.as_str())
    }

    /// True if both handles share one copy of the name. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Owner;
    ///
    /// let a = Owner::new("virtio-net0")?;
    /// let b = Owner::new("virtio-net0")?;
    /// assert_eq!(a, b); // same name
    /// assert!(!a.ptr_eq(&b)); // two copies of it
    /// assert!(a.ptr_eq(&a.clone()));
    /// # Ok::<(), vm_allocator::NameError>(())
    /// ```
    pub fn ptr_eq(&self, other: &Owner) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The heap block of the shared name: the `Arc` and the string it
    /// points to, counted as one (a history's byte count).
    pub(crate) fn heap_block(&self) -> crate::engine::Block {
        crate::engine::Block::of_arc(&self.0, self.0.len())
    }
}

impl Deref for Owner {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Owner {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Owner {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Owner {
    fn eq(&self, other: &Owner) -> bool {
        self.ptr_eq(other) || self.as_str() == other.as_str()
    }
}

impl Eq for Owner {}

impl PartialEq<str> for Owner {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Owner {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Owner {
    fn partial_cmp(&self, other: &Owner) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders by the bytes of the name.
impl Ord for Owner {
    fn cmp(&self, other: &Owner) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Owner {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Owner {
    type Err = NameError;

    fn from_str(name: &str) -> Result<Owner, NameError> {
        Owner::new(name)
    }
}

impl TryFrom<&str> for Owner {
    type Error = NameError;

    fn try_from(name: &str) -> Result<Owner, NameError> {
        Owner::new(name)
    }
}

impl TryFrom<String> for Owner {
    type Error = NameError;

    fn try_from(name: String) -> Result<Owner, NameError> {
        check_name(&name)?;
        Ok(Owner(Arc::new(name.into_boxed_str())))
    }
}

/// A view of an allocator (or a resource set, or a transaction) whose
/// allocations all carry one owner; made by their `owned_by` methods. It
/// offers the same allocation methods as what it views.
///
/// ```rust
/// use vm_allocator::{IdAllocator, Owner};
///
/// let mut msi = IdAllocator::new(24, 4095).unwrap();
/// let net0 = Owner::new("virtio-net0").unwrap();
/// let vectors = msi.owned_by(&net0).allocate_ids(4, 4).unwrap();
/// assert_eq!(msi.owner_at(*vectors.start()), Some(&net0));
/// ```
#[derive(Debug)]
pub struct OwnedBy<'a, T> {
    target: &'a mut T,
    owner: &'a Owner,
}

impl<'a, T> OwnedBy<'a, T> {
    pub(crate) fn new(target: &'a mut T, owner: &'a Owner) -> Self {
        OwnedBy { target, owner }
    }

    /// The owner given to every allocation made through this view.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let rtc = Owner::new("rtc")?;
    /// let view = gsi.owned_by(&rtc);
    /// assert!(view.owner().ptr_eq(&rtc));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner(&self) -> &'a Owner {
        self.owner
    }

    /// What this view allocates from.
    pub(crate) fn target(&mut self) -> &mut T {
        self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names_are_checked() {
        assert!(Owner::new("virtio-net0").is_ok());
        assert!(Owner::new("pci 0000:00:03.0").is_ok());
        assert!(Owner::new(&"é".repeat(32)).is_ok()); // 64 bytes
        assert_eq!(
            Owner::new(&"é".repeat(33)).unwrap_err(),
            NameError::TooLong { len: 66 }
        );
        assert_eq!(
            Owner::new("a\tb").unwrap_err(),
            NameError::ControlCharacter { offset: 1 }
        );
        assert_eq!(
            Owner::try_from(String::from("\u{7f}")).unwrap_err(),
            NameError::ControlCharacter { offset: 0 }
        );
    }

    #[test]
    fn owners_compare_by_name() {
        let a = Owner::new("a").unwrap();
        let a2 = Owner::new("a").unwrap();
        let b = Owner::new("b").unwrap();
        assert_eq!(a, a2);
        assert!(!a.ptr_eq(&a2) && a.ptr_eq(&a.clone()));
        assert!(a < b);
        assert_eq!(a.to_string(), "a");
        assert_eq!(alloc::format!("{b:?}"), "\"b\"");
        assert_eq!(core::mem::size_of::<Option<Owner>>(), 8);
    }
}
