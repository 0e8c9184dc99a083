//! Where a string or message of a route configuration lies: a range of that configuration's
//! bytes, read through the entry that holds them ([`Source`]).
//!
//! Kept apart from the route configuration entry so that the parts it holds (names, targets,
//! [`super::owner_metadata::OwnerMetadata`]) need only this, not the entry itself.

use std::ops::Range;

/// What a [`Text`] is read from: the bytes of the route configuration it was indexed in.
pub trait Source {
    /// The bytes at `at`, if they lie within this source.
    fn bytes(&self, at: Text) -> Option<&[u8]>;
}

/// A string or message of a route configuration, where it lies in the entry's source: read
/// it with `RouteConfigEntry::text`. Protobuf messages are under 2 GiB, so 32 bits do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Text {
    start: u32,
    end: u32,
}

impl Text {
    /// The range `range`, if 32 bits hold it.
    pub(super) fn new(range: Range<usize>) -> Option<Self> {
        Some(Self {
            start: u32::try_from(range.start).ok()?,
            end: u32::try_from(range.end).ok()?,
        })
    }

    /// Where `part`, a slice of `whole`, lies in it; an empty `part` may lie anywhere.
    pub(super) fn within(whole: &[u8], part: &[u8]) -> Option<Self> {
        if part.is_empty() {
            return Some(Self::default());
        }
        let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
        let end = start
            .checked_add(part.len())
            .filter(|end| *end <= whole.len())?;
        Self::new(start..end)
    }

    /// `part` appended to `source`, when a route configuration is decoded rather than read
    /// in place. `source` stays under the route configuration's own size, which protobuf
    /// keeps under 2 GiB; beyond 4 GiB the text would read as empty.
    pub(super) fn copied(part: &[u8], source: &mut Vec<u8>) -> Self {
        let start = source.len();
        source.extend_from_slice(part);
        Self::new(start..source.len()).unwrap_or_default()
    }

    /// The range, for reading the route configuration's own bytes; only meaningful for
    /// entries read in place (`RouteConfigEntry::is_in_place`).
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}
